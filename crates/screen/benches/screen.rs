//! Screening speed at the three sizes the project has targets for: a short social message
//! (>= 200,000/s on one core), a 2,000-character draft (< 1 ms) and 100 KB of text (>= 50 MB/s).
//!
//! Run with `cargo bench -p rounds-screen --bench screen`.

#![allow(
    clippy::expect_used,
    reason = "the default policy must compile; if it does not, stop loudly"
)]

use std::hint::black_box;
use std::sync::OnceLock;

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use screen::{Message, Policy, Screener};

fn main() {
    divan::main();
}

fn screener() -> &'static Screener {
    static S: OnceLock<Screener> = OnceLock::new();
    S.get_or_init(|| Screener::new(Policy::default()).expect("default policy compiles"))
}

/// Typical short messages, clean and not, around 100 bytes each.
const SHORT: &[&str] = &[
    "Thank you to the amazing nurses on 4 West for taking such good care of my dad last week!",
    "Started the new med on Monday and now I get headaches every afternoon, is that normal??",
    "Call me at 555-201-3344, my mom John Smith is in room 12 and nobody tells us anything.",
    "Our flu shot clinic is open Saturday 9-1 at the Main St campus. No appointment needed.",
];

/// A mixed paragraph repeated up to `bytes` bytes, cut on a char boundary.
fn text_of(bytes: usize) -> String {
    let para = "Our cardiology team answers questions every Tuesday. My mother took Xarelto and got a \
                terrible nosebleed; she is 91 and lives at 12 Elm Street. Visit https://example.org \
                or email help@example.org. Honestly I don't want to be here anymore. Buy cheap pills \
                online!!! ";
    let mut s = String::with_capacity(bytes + para.len());
    while s.len() < bytes {
        s.push_str(para);
    }
    let mut cut = bytes.min(s.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

#[divan::bench]
fn short_message(bencher: Bencher) {
    let msgs: Vec<Message> = SHORT.iter().map(|t| Message::incoming(*t)).collect();
    let s = screener();
    bencher.counter(ItemsCount::new(msgs.len())).bench(|| {
        for m in &msgs {
            black_box(s.screen(black_box(m)).ok());
        }
    });
}

#[divan::bench]
fn draft_2000_chars(bencher: Bencher) {
    let draft = Message::outgoing(text_of(2_000));
    let s = screener();
    bencher.bench(|| black_box(s.screen(black_box(&draft)).ok()));
}

#[divan::bench]
fn text_100_kb(bencher: Bencher) {
    let msg = Message::incoming(text_of(100 * 1024));
    let s = screener();
    bencher
        .counter(BytesCount::new(msg.text.len()))
        .bench(|| black_box(s.screen(black_box(&msg)).ok()));
}
