//! Screens arbitrary bytes, read as UTF-8 with invalid sequences replaced, in both directions,
//! with the first line also used as image alt text; checks the report's spans.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use screen::{Direction, Field, Message, Policy, Screener};

fn screener() -> &'static Screener {
    static S: OnceLock<Screener> = OnceLock::new();
    S.get_or_init(|| Screener::new(Policy::default()).expect("default policy compiles"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let alt = text.lines().next().filter(|l| !l.is_empty()).map(str::to_owned);
    for direction in [Direction::Incoming, Direction::Outgoing] {
        let mut msg = Message { text: text.clone(), direction, ..Message::default() };
        msg.attachments.alt_text = alt.clone();
        let Ok(report) = screener().screen(&msg) else { continue };
        for f in &report.findings {
            let field = match f.field {
                Field::Text => msg.text.as_str(),
                Field::AltText => msg.attachments.alt_text.as_deref().unwrap_or_default(),
            };
            assert_eq!(field.get(f.span.start..f.span.end), Some(f.matched.as_str()), "{}", f.rule_id);
        }
        let _ = report.redact(&msg.text);
    }
});
