//! Properties that must hold for any input: screening never panics, every finding points at
//! the text it reports, and oversized messages are refused rather than screened.

#![allow(
    clippy::expect_used,
    reason = "the default policy must compile; if it does not, stop loudly"
)]

use std::sync::OnceLock;

use proptest::prelude::*;
use screen::{Direction, Field, MAX_MESSAGE_BYTES, Message, Policy, Report, ScreenError, Screener};

fn screener() -> &'static Screener {
    static S: OnceLock<Screener> = OnceLock::new();
    S.get_or_init(|| Screener::new(Policy::default()).expect("default policy compiles"))
}

/// Every span of the report lies on char boundaries of the field it indexes and matches the text.
fn check(msg: &Message, report: &Report) -> Result<(), TestCaseError> {
    for f in &report.findings {
        let text = match f.field {
            Field::Text => msg.text.as_str(),
            Field::AltText => msg.attachments.alt_text.as_deref().unwrap_or_default(),
        };
        prop_assert!(
            f.span.start < f.span.end,
            "empty span {:?} for {}",
            f.span,
            f.rule_id
        );
        prop_assert!(
            text.is_char_boundary(f.span.start) && text.is_char_boundary(f.span.end),
            "{} {:?} off char boundary",
            f.rule_id,
            f.span
        );
        prop_assert_eq!(
            text.get(f.span.start..f.span.end),
            Some(f.matched.as_str()),
            "{}",
            f.rule_id
        );
        prop_assert!(
            f.rule_id.starts_with(f.category.as_str()),
            "{} not in {}",
            f.rule_id,
            f.category
        );
    }
    for p in &report.phi {
        prop_assert_eq!(
            msg.text.get(p.span.start..p.span.end),
            Some(p.text.as_str())
        );
    }
    let strongest = report
        .findings
        .iter()
        .map(|f| screen::Decision::from_action(f.action))
        .max();
    prop_assert_eq!(
        report.decision,
        strongest.unwrap_or(screen::Decision::Allow)
    );
    let redacted = report.redact(&msg.text);
    for p in &report.phi {
        let label = format!("[{}]", p.category.label());
        prop_assert!(
            redacted.contains(&label),
            "{} missing from {:?}",
            label,
            redacted
        );
    }
    Ok(())
}

fn screen_both_ways(text: &str, alt: Option<String>) -> Result<(), TestCaseError> {
    for direction in [Direction::Incoming, Direction::Outgoing] {
        let mut msg = Message {
            text: text.to_owned(),
            direction,
            ..Message::default()
        };
        msg.attachments.alt_text = alt.clone();
        let report = screener()
            .screen(&msg)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        check(&msg, &report)?;
    }
    Ok(())
}

/// Pieces that stress normalization and tokenization: combining marks, confusables, zero-width
/// and bidi controls, expanding ligatures, digits in many scripts, and real-looking identifiers.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "a", "Z", " ", "\n", "\t", ".", "@", "-", "(", ")", "/", ":", "#", "+1 ", "0", "7", "555", "-0199",
    "\u{301}", "\u{308}\u{323}", "\u{200b}", "\u{200d}", "\u{feff}", "\u{202e}", "\u{2066}", "\u{ad}", "е",
    "о", "а", "ı", "İ", "ß", "ẞ", "ﬁ", "ﬃ", "Ⅻ", "①", "٣", "߁", "𝟗", "０", "１２", "ǅ", "ꭓ", "🙂", "👩‍⚕️", "🇺🇸",
    "\u{10ffff}", "\u{fffd}", "\r\n", "é", "ñ", "한", "日本", "ﷺ", "ヶ", "John", "Smith", "MRN", "SSN", "room 12",
    "bed 4", "DOB", "03/14/1961", "078-05-1120", "(555) 201-3344", "john.smith@example.org", "http://",
    "https://xn--80ak6aa92e.com/", "www.", "192.168.0.1", "4111 1111 1111 1111", "my mother", "Xarelto",
    "rash", "kill myself", "cures", "no side effects", "buy now", "f*ck", "suicide",
];

fn pieces() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..64).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_unicode_string(text in any::<String>()) {
        screen_both_ways(&text, None)?;
    }

    #[test]
    fn tricky_pieces(text in pieces(), alt in prop::option::of(pieces())) {
        screen_both_ways(&text, alt)?;
    }

    #[test]
    fn printable_ascii_and_digits(text in "[ -~]{0,300}") {
        screen_both_ways(&text, None)?;
    }
}

proptest! {
    // Long inputs: fewer cases keep the debug-build test run short.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn huge_digit_runs(n in 1usize..20_000, sep in prop::sample::select(&["", " ", "-", ".", "\u{200b}", "\u{301}"][..])) {
        let text: String = (0..n).map(|i| char::from(b'0' + (i % 10) as u8)).flat_map(|c| [c.to_string(), sep.to_string()]).collect();
        screen_both_ways(&text, None)?;
    }
}

#[test]
fn many_random_strings_from_a_fixed_seed() {
    // A cheap deterministic sweep on top of proptest: a wide mix of code points, many lengths.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2_000 {
        let len = (next() % 200) as usize;
        let text: String = (0..len)
            .map(|_| {
                let r = next();
                let cp = match r % 4 {
                    0 => (r >> 8) % 0x80,
                    1 => (r >> 8) % 0x800,
                    2 => (r >> 8) % 0x1_0000,
                    _ => (r >> 8) % 0x11_0000,
                } as u32;
                char::from_u32(cp).unwrap_or('\u{fffd}')
            })
            .collect();
        if let Err(e) = screen_both_ways(&text, Some(text.chars().rev().collect())) {
            panic!("{e} for {text:?}");
        }
    }
}

#[test]
fn one_mebibyte_limit_is_enforced_on_text_and_alt_text_together() {
    let at_limit = Message::incoming("a".repeat(MAX_MESSAGE_BYTES));
    assert!(screener().screen(&at_limit).is_ok());

    let over = Message::incoming("a".repeat(MAX_MESSAGE_BYTES + 1));
    match screener().screen(&over) {
        Err(ScreenError::TooLarge { len, max }) => {
            assert_eq!((len, max), (MAX_MESSAGE_BYTES + 1, MAX_MESSAGE_BYTES))
        }
        other => panic!("expected TooLarge, got {:?}", other.map(|r| r.decision)),
    }

    let mut split = Message::outgoing("b".repeat(MAX_MESSAGE_BYTES / 2 + 1));
    split.attachments.alt_text = Some("c".repeat(MAX_MESSAGE_BYTES / 2));
    assert!(matches!(
        screener().screen(&split),
        Err(ScreenError::TooLarge { .. })
    ));
}
