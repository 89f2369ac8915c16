//! The accuracy targets hold on the labelled sets, when they are present.

use screen::{Policy, Screener};

#[test]
fn every_row_with_a_target_meets_it() {
    let Some(shared) = rounds_eval::shared_dir() else {
        eprintln!(
            "skipping: labelled data not found (set ROUNDS_SHARED or put `shared` beside the checkout)"
        );
        return;
    };
    let screener = Screener::new(Policy::default()).expect("default policy compiles");
    let rows = rounds_eval::evaluate_all(&shared, &screener).expect("labelled sets evaluate");
    let with_targets: Vec<_> = rows.iter().filter(|r| r.target.is_some()).collect();
    assert!(
        with_targets.len() >= 2,
        "expected PHI and adverse-event targets, got {rows:?}"
    );
    for row in with_targets {
        assert_eq!(
            row.meets_target(),
            Some(true),
            "{} / {}: P {:.3} R {:.3} F1 {:.3} misses {:?}",
            row.dataset,
            row.task,
            row.counts.precision(),
            row.counts.recall(),
            row.counts.f1(),
            row.target
        );
    }
}
