//! Whole-engine behaviour on the messages the product is built around.

use screen::{Decision, Message, Policy, SafeHarbor, Screener};

fn screener() -> Screener {
    Screener::new(Policy::default()).unwrap_or_else(|e| panic!("default policy compiles: {e}"))
}

#[test]
fn er_night_post_is_blocked_with_every_identifier_and_redacted() {
    let text = "Crazy night in the ER — John Miller (DOB 3/4/1961) in bed 4 came in after his Xarelto dose, call his wife at 555-201-3344";
    let report = screener()
        .screen(&Message::outgoing(text))
        .expect("screens");
    assert_eq!(report.decision, Decision::Block);
    let phi: Vec<(SafeHarbor, &str)> = report
        .phi
        .iter()
        .map(|p| (p.category, p.text.as_str()))
        .collect();
    assert_eq!(
        phi,
        vec![
            (SafeHarbor::A, "John Miller"),
            (SafeHarbor::C, "3/4/1961"),
            (SafeHarbor::R, "bed 4"),
            (SafeHarbor::D, "555-201-3344")
        ]
    );
    assert!(
        report.phi.iter().all(|p| p.health_context),
        "the ER is health context"
    );
    assert_eq!(
        report.redact(text),
        "Crazy night in the ER — [NAME] (DOB [DATE]) in [ID] came in after his Xarelto dose, call his wife at [PHONE]"
    );
}

#[test]
fn a_product_is_not_a_name_and_its_reaction_is_an_adverse_event() {
    let text = "My mom took Xarelto and now has terrible nosebleeds";
    let report = screener()
        .screen(&Message::incoming(text))
        .expect("screens");
    assert!(report.phi.is_empty(), "{:?}", report.phi);
    let ae = report.adverse_event.expect("adverse event candidate");
    assert_eq!(ae.product.text.as_deref(), Some("Xarelto"));
    assert_eq!(ae.patient.text.as_deref(), Some("My mom"));
    assert_eq!(ae.event.text.as_deref(), Some("nosebleeds"));
    assert!(ae.reportable);
}

#[test]
fn a_product_named_in_an_outgoing_post_is_not_a_name() {
    let text = "Xarelto patients can now book the anticoagulation clinic online.";
    let report = screener()
        .screen(&Message::outgoing(text))
        .expect("screens");
    assert!(
        report.findings.iter().all(|f| f.rule_id != "phi.name"),
        "{:?}",
        report.findings
    );
}
