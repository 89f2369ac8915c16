//! The engine alone over JSON Lines, for profiling and for checking that a change leaves every
//! report as it was: `rounds screen` also builds the server and the CLI, which makes each
//! measurement of an engine change wait for a full link.
//!
//! `cargo run --release -p rounds-screen --example screen_jsonl -- FILE...` reads each line's
//! `text` and `direction` (default incoming), screens it with the default policy and writes its
//! report as one JSON line. A file named twice is screened twice in one process, so that a profiler
//! can tell the first pass (which builds the regex engines' lazy states) from warm ones.

use std::io::{BufRead, BufReader, BufWriter, Write};

use anyhow::Context;
use screen::{Message, Policy, Screener};

fn main() -> anyhow::Result<()> {
    let screener = Screener::new(Policy::default()).context("the default policy compiles")?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for path in std::env::args().skip(1) {
        let file = std::fs::File::open(&path).with_context(|| format!("open {path}"))?;
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.with_context(|| format!("{path}:{}", n + 1))?;
            let v: serde_json::Value =
                serde_json::from_str(&line).with_context(|| format!("{path}:{}", n + 1))?;
            let text = v["text"].as_str().unwrap_or_default();
            let msg = if v["direction"].as_str() == Some("outgoing") {
                Message::outgoing(text)
            } else {
                Message::incoming(text)
            };
            let report = screener
                .screen(&msg)
                .with_context(|| format!("{path}:{}", n + 1))?;
            serde_json::to_writer(&mut out, &report)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}
