//! Screens every row of the curated crisis, abuse and link example tables and checks that the
//! expected rule fires, or that no rule of the given id or category prefix fires.

use screen::{Message, Policy, Screener};

fn screener() -> Screener {
    let mut p = Policy::default();
    p.organization.domains = vec!["examplehealth.org".to_owned()];
    p.links.blocked_domains = vec!["badpharma.example".to_owned()];
    p.links.allowed_domains = vec!["cdc.gov".to_owned()];
    p.terms.blocked = vec!["Project Falcon".to_owned()];
    Screener::new(p).unwrap_or_else(|e| panic!("policy: {e}"))
}

fn check(table: &str, name: &str) {
    let s = screener();
    let mut failures = Vec::new();
    let mut rows = 0;
    for (n, line) in table.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut f = line.splitn(3, '\t');
        let (Some(expect), Some(rule), Some(text)) = (f.next(), f.next(), f.next()) else {
            panic!("{name}:{}: expected three tab-separated columns", n + 1);
        };
        rows += 1;
        let report = s
            .screen(&Message::incoming(text))
            .unwrap_or_else(|e| panic!("{name}:{}: {e}", n + 1));
        let fired: Vec<&str> = report.findings.iter().map(|f| &*f.rule_id).collect();
        let ok = match expect {
            "fire" => fired.contains(&rule),
            "none" => !fired
                .iter()
                .any(|id| *id == rule || id.starts_with(&format!("{rule}."))),
            other => panic!("{name}:{}: unknown expectation {other:?}", n + 1),
        };
        if !ok {
            failures.push(format!(
                "{name}:{}: {expect} {rule} on {text:?}, got {fired:?}",
                n + 1
            ));
        }
    }
    assert!(rows > 0, "{name} has no rows");
    assert!(
        failures.is_empty(),
        "{} of {rows} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn crisis_examples() {
    check(include_str!("data/crisis.tsv"), "crisis.tsv");
}

#[test]
fn abuse_and_spam_examples() {
    check(include_str!("data/abuse.tsv"), "abuse.tsv");
}

#[test]
fn link_examples() {
    check(include_str!("data/links.tsv"), "links.tsv");
}

#[test]
fn actions_follow_direction() {
    use screen::{Action, Decision};
    let s = screener();
    let action = |msg: Message, rule: &str| {
        let r = s.screen(&msg).unwrap_or_else(|e| panic!("{e}"));
        r.findings
            .iter()
            .find(|f| f.rule_id == rule)
            .map(|f| f.action)
    };
    assert_eq!(
        action(Message::outgoing("Read more: bit.ly/abc"), "link.shortener"),
        Some(Action::Review)
    );
    assert_eq!(
        action(Message::incoming("Read more: bit.ly/abc"), "link.shortener"),
        Some(Action::Flag)
    );
    assert_eq!(
        action(
            Message::incoming("pay at examp1ehealth.org"),
            "link.lookalike"
        ),
        Some(Action::Hide)
    );
    assert_eq!(
        action(
            Message::outgoing("pay at examp1ehealth.org"),
            "link.lookalike"
        ),
        Some(Action::Block)
    );
    assert_eq!(
        action(
            Message::incoming("I want to kill myself"),
            "crisis.suicidal_ideation"
        ),
        Some(Action::Escalate)
    );
    let r = s
        .screen(&Message::incoming("I want to kill myself"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.decision, Decision::Escalate);
}

#[test]
fn floods_of_findings_are_capped() {
    let text = "sh1t ".repeat(50_000);
    let r = screener()
        .screen(&Message::incoming(text))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !r.findings.is_empty() && r.findings.len() <= 1000,
        "{}",
        r.findings.len()
    );
}

proptest::proptest! {
    /// Arbitrary text, including look-alike letters, leetspeak and URL fragments, never panics
    /// and every finding's span lies on character boundaries of the text it indexes.
    #[test]
    fn arbitrary_text_never_panics(text in r"(?:[a-zA-Z0-9 .:/@$!*#'-]|[а-яё]|😂|ｆ|\u{200B}|xn--|www\.|://|bit\.ly|f u c k|kill myself){0,40}") {
        static SCREENER: std::sync::OnceLock<Screener> = std::sync::OnceLock::new();
        let report = SCREENER.get_or_init(screener).screen(&Message::incoming(text.clone())).unwrap_or_else(|e| panic!("{e}"));
        for f in &report.findings {
            proptest::prop_assert!(text.is_char_boundary(f.span.start) && text.is_char_boundary(f.span.end));
        }
    }
}
