//! Train the adverse-reaction model on the PsyTAR train split and write it to
//! `crates/screen/models/adr.bin`. With `--score`, instead print the PsyTAR rows of the engine as
//! built (so: train, rebuild, then score).

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shared = rounds_eval::shared_dir().ok_or("set ROUNDS_SHARED to the shared data folder")?;
    if std::env::args().any(|a| a == "--score") {
        let screener = screen::Screener::new(screen::Policy::default())?;
        for row in rounds_eval::psytar::evaluate(&shared, &screener)? {
            let c = row.counts;
            println!(
                "{:<12} {:<45} P {:.3} R {:.3} F1 {:.3} (tp {} fp {} fn {})",
                row.dataset,
                row.task,
                c.precision(),
                c.recall(),
                c.f1(),
                c.tp,
                c.fp,
                c.fn_
            );
        }
        return Ok(());
    }
    let (train, spans) = rounds_eval::psytar::training_data(&shared)?;
    println!(
        "segment model, 5-fold cross-validated F1 on train: {:.3}",
        screen::model::cross_validated_f1(&train, &spans)?
    );
    let weights = rounds_eval::psytar::train(&shared)?;
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../screen/models/adr.bin");
    std::fs::write(&out, &weights)?;
    println!("wrote {} ({} bytes)", out.display(), weights.len());
    Ok(())
}
