//! No row with a target falls below its regression floor on the labelled sets, when they are
//! present. The floor is the target itself except where a row says why it sits lower (the
//! PsyTAR ADR sentence row); whether each target is met is printed by `rounds eval`.

use screen::{Policy, Screener};

#[test]
fn no_row_falls_below_its_floor() {
    let Some(shared) = rounds_eval::shared_dir() else {
        eprintln!(
            "skipping: labelled data not found (set ROUNDS_SHARED or put `shared` beside the checkout)"
        );
        return;
    };
    let screener = Screener::new(Policy::default()).expect("default policy compiles");
    let rows = rounds_eval::evaluate_all(&shared, &screener).expect("labelled sets evaluate");
    let with_floors: Vec<_> = rows.iter().filter(|r| r.above_floor().is_some()).collect();
    assert!(
        with_floors.len() >= 2,
        "expected PHI and adverse-event floors, got {rows:?}"
    );
    for row in with_floors {
        assert_eq!(
            row.above_floor(),
            Some(true),
            "{} / {}: P {:.3} R {:.3} F1 {:.3} falls below {:?}",
            row.dataset,
            row.task,
            row.counts.precision(),
            row.counts.recall(),
            row.counts.f1(),
            row.floor.or(row.target)
        );
    }
}
