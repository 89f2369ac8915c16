//! The shipped policy templates parse, validate and build a working screener.

use screen::{Action, Message, Policy, Screener};

const HOSPITAL: &str = include_str!("../../../docs/policy-hospital.toml");
const PHARMA: &str = include_str!("../../../docs/policy-pharma.toml");

fn screener(source: &str) -> Screener {
    let policy =
        Policy::from_toml(source).unwrap_or_else(|e| panic!("template does not parse: {e}"));
    Screener::new(policy).unwrap_or_else(|e| panic!("template does not build: {e}"))
}

fn actions(s: &Screener, msg: &Message) -> Vec<(String, Action)> {
    let report = s
        .screen(msg)
        .unwrap_or_else(|e| panic!("screen failed: {e}"));
    report
        .findings
        .into_iter()
        .map(|f| (f.rule_id.into_owned(), f.action))
        .collect()
}

#[test]
fn hospital_template_builds_and_blocks_patient_confirmation_and_advice() {
    let s = screener(HOSPITAL);
    assert!(s.policy().products.is_empty());
    let got = actions(
        &s,
        &Message::outgoing("We're so sorry about your recent visit."),
    );
    assert!(
        got.contains(&("patient_confirmation.your_care".to_owned(), Action::Block)),
        "{got:?}"
    );
    let got = actions(
        &s,
        &Message::outgoing("You don't need to see a doctor for that."),
    );
    assert!(
        got.contains(&("medical_advice.given".to_owned(), Action::Block)),
        "{got:?}"
    );
    let got = actions(
        &s,
        &Message::incoming("Should I stop taking my blood thinner before surgery?"),
    );
    assert!(
        got.contains(&("medical_advice.request".to_owned(), Action::Review)),
        "{got:?}"
    );
    let got = actions(
        &s,
        &Message::outgoing("Our visiting hours are 9 to 5. Book your appointment online!"),
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn pharma_template_builds_and_enforces_promotion_rules() {
    let s = screener(PHARMA);
    assert_eq!(s.policy().products.len(), 2);
    let got = actions(
        &s,
        &Message::outgoing("Zelvora clears skin fast and helps you feel better!"),
    );
    assert!(
        got.contains(&("promotion.fair_balance".to_owned(), Action::Block)),
        "{got:?}"
    );
    assert!(
        got.contains(&("promotion.missing_generic".to_owned(), Action::Block)),
        "{got:?}"
    );
    let got = actions(
        &s,
        &Message::outgoing("Cardiquil (examplatan) can also be used for weight loss."),
    );
    assert!(
        got.contains(&("promotion.off_label".to_owned(), Action::Block)),
        "{got:?}"
    );
    let balanced = "Cardiquil (examplatan) lowers high blood pressure in adults. \
                    See Important Safety Information: https://cardiquil.example/safety";
    assert!(actions(&s, &Message::outgoing(balanced)).is_empty());
}
