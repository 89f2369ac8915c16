//! `rounds bench`: throughput, latency and memory of the screening path on one thread, each
//! compared with a floor (the cheapest pass that still touches every message).

use std::cell::Cell;
use std::hint::black_box;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Args;

use screen::{Direction, Message, Screener};

use crate::corpus::{self, Corpus};
use crate::input::{Input, InputKind, ReadOptions};
use crate::output::{self, Format, Summary};
use crate::screen_cmd::{self, Options};

/// Size of each long-text chunk.
const CHUNK_BYTES: usize = 100 * 1024;
/// Length of the draft used for latency.
const DRAFT_CHARS: usize = 2_000;
/// Bytes of generated JSON Lines streamed per second of `--seconds` for the memory check.
const STREAM_BYTES_PER_SECOND: f64 = 16.0 * 1024.0 * 1024.0;

/// Options of `rounds bench`.
#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// The shared data folder (default: $ROUNDS_SHARED, or ../shared); without it a built-in
    /// synthetic corpus is used.
    #[arg(long)]
    shared: Option<PathBuf>,
    /// Seconds to spend on each measurement.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Policy file (TOML); the built-in default policy when absent.
    #[arg(long)]
    policy: Option<PathBuf>,
}

/// Run `rounds bench`.
pub(crate) fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let budget = Duration::from_secs_f64(args.seconds.clamp(0.05, 600.0));
    let screener = screen_cmd::load_screener(args.policy.as_deref())?;
    let corpus = match crate::eval::shared_folder(args.shared.clone()) {
        Ok(dir) => corpus::shared(&dir)?,
        Err(e) => {
            println!("note: {e:#}; using the built-in synthetic corpus instead");
            corpus::synthetic()
        }
    };
    let bytes: usize = corpus.messages.iter().map(String::len).sum();
    let count = corpus.messages.len().max(1);
    println!(
        "corpus ({} messages, {} bytes on average):",
        corpus.messages.len(),
        bytes / count
    );
    for s in &corpus.sources {
        println!("  {s}");
    }
    println!(
        "one thread, every detector on, default policy unless --policy; {:.1} s per figure\n",
        budget.as_secs_f64()
    );

    let rss_start = peak_rss_kib();
    let floor = measure(budget, || floor_pass(&corpus.messages));
    println!(
        "{:<32}{:>14.0} msg/s {:>10.1} MB/s",
        "floor (read and split)",
        floor.per_sec(count),
        floor.mb_per_sec(bytes)
    );

    for direction in [Direction::Incoming, Direction::Outgoing] {
        let msgs: Vec<Message> = corpus
            .messages
            .iter()
            .map(|t| Message {
                text: t.clone(),
                direction,
                ..Message::default()
            })
            .collect();
        let t = measure(budget, || screen_all(&screener, &msgs));
        println!(
            "{:<32}{:>14.0} msg/s {:>10.1} MB/s {:>9.1}× floor   (target ≥ 200,000 msg/s: {})",
            format!(
                "short messages, {}",
                if direction == Direction::Incoming {
                    "incoming"
                } else {
                    "outgoing"
                }
            ),
            t.per_sec(count),
            t.mb_per_sec(bytes),
            t.ratio(&floor),
            met(t.per_sec(count) >= 200_000.0),
        );
    }

    let chunks = long_chunks(&corpus);
    let chunk_bytes: usize = chunks.iter().map(|m| m.text.len()).sum();
    let chunk_texts: Vec<String> = chunks.iter().map(|m| m.text.clone()).collect();
    let long_floor = measure(budget, || floor_pass(&chunk_texts));
    let long = measure(budget, || screen_all(&screener, &chunks));
    println!(
        "{:<32}{:>20} {:>10.1} MB/s {:>9.1}× floor   (target ≥ 50 MB/s: {})",
        format!("long text ({} × ~100 KB)", chunks.len()),
        "",
        long.mb_per_sec(chunk_bytes),
        long.ratio(&long_floor),
        met(long.mb_per_sec(chunk_bytes) >= 50.0),
    );

    let draft = Message {
        text: draft(&corpus),
        direction: Direction::Outgoing,
        ..Message::default()
    };
    let draft_floor = measure(budget / 4, || floor_pass(std::slice::from_ref(&draft.text)));
    let (median, p99) = latency(&screener, &draft, budget);
    let floor_each = draft_floor.elapsed.as_secs_f64() / draft_floor.passes.max(1) as f64;
    println!(
        "{:<32}median {:>8.1} µs, p99 {:>8.1} µs {:>9.1}× floor   (target < 1 ms: {})",
        format!("{DRAFT_CHARS}-char draft latency"),
        median.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        if floor_each > 0.0 {
            median.as_secs_f64() / floor_each
        } else {
            0.0
        },
        met(p99 < Duration::from_millis(1)),
    );

    let before = peak_rss_kib();
    let stream_bytes = (budget.as_secs_f64() * STREAM_BYTES_PER_SECOND)
        .clamp(1024.0 * 1024.0, 1024.0 * 1024.0 * 1024.0) as u64;
    let started = Instant::now();
    let (streamed, stream_bytes) =
        stream_jsonl(&screener, &corpus, stream_bytes, started + budget * 4)?;
    let took = started.elapsed().as_secs_f64().max(1e-9);
    let after = peak_rss_kib();
    println!(
        "{:<32}{:>14.0} msg/s {:>10.1} MB/s   (JSON parsing and report serialization included)",
        "JSON Lines stream, end to end",
        streamed as f64 / took,
        stream_bytes as f64 / took / 1e6,
    );
    println!(
        "\nmemory: peak RSS {} at start, {} before and {} after streaming {:.1} MiB of JSON Lines ({} messages) through `screen --format jsonl`",
        fmt_kib(rss_start),
        fmt_kib(before),
        fmt_kib(after),
        stream_bytes as f64 / f64::from(1 << 20),
        streamed,
    );
    if let (Some(b), Some(a)) = (before, after) {
        let grew = a.saturating_sub(b);
        println!(
            "        peak grew by {grew} KiB while streaming: {}",
            if grew < 16 * 1024 { "flat" } else { "NOT flat" }
        );
    }
    Ok(())
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// Work done in a measured loop.
struct Timing {
    passes: u64,
    elapsed: Duration,
}

impl Timing {
    fn per_sec(&self, items_per_pass: usize) -> f64 {
        (self.passes as f64 * items_per_pass as f64) / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn mb_per_sec(&self, bytes_per_pass: usize) -> f64 {
        self.per_sec(bytes_per_pass) / 1e6
    }

    /// How many times slower than `floor` one pass is.
    fn ratio(&self, floor: &Timing) -> f64 {
        let mine = self.elapsed.as_secs_f64() / self.passes.max(1) as f64;
        let base = floor.elapsed.as_secs_f64() / floor.passes.max(1) as f64;
        if base > 0.0 { mine / base } else { 0.0 }
    }
}

/// Repeat `pass` until `budget` has elapsed (at least once).
fn measure(budget: Duration, mut pass: impl FnMut() -> u64) -> Timing {
    let start = Instant::now();
    let mut passes = 0;
    let mut sink = 0u64;
    loop {
        sink = sink.wrapping_add(pass());
        passes += 1;
        if start.elapsed() >= budget {
            break;
        }
    }
    black_box(sink);
    Timing {
        passes,
        elapsed: start.elapsed(),
    }
}

/// The floor: touch every message's bytes (length and line count) and nothing else.
fn floor_pass(messages: &[String]) -> u64 {
    let mut total = 0u64;
    for m in black_box(messages) {
        let m = black_box(m.as_bytes());
        total = total
            .wrapping_add(m.len() as u64)
            .wrapping_add(memchr::memchr_iter(b'\n', m).count() as u64 + 1);
    }
    total
}

fn screen_all(screener: &Screener, messages: &[Message]) -> u64 {
    let mut findings = 0u64;
    for m in messages {
        if let Ok(report) = screener.screen(black_box(m)) {
            findings += black_box(&report).findings.len() as u64;
        }
    }
    findings
}

/// The corpus joined by newlines into chunks of about [`CHUNK_BYTES`].
fn long_chunks(corpus: &Corpus) -> Vec<Message> {
    let mut chunks = Vec::new();
    let mut current = String::with_capacity(CHUNK_BYTES + 1024);
    for m in &corpus.messages {
        current.push_str(m);
        current.push('\n');
        if current.len() >= CHUNK_BYTES {
            chunks.push(Message::incoming(std::mem::take(&mut current)));
        }
    }
    if chunks.is_empty() || current.len() >= CHUNK_BYTES / 2 {
        chunks.push(Message::incoming(current));
    }
    chunks
}

/// A draft of exactly [`DRAFT_CHARS`] characters (or the whole corpus when smaller).
fn draft(corpus: &Corpus) -> String {
    let mut text = String::new();
    for m in corpus
        .messages
        .iter()
        .cycle()
        .take(corpus.messages.len().max(1) * 64)
    {
        if text.chars().count() >= DRAFT_CHARS {
            break;
        }
        text.push_str(m);
        text.push(' ');
    }
    text.chars().take(DRAFT_CHARS).collect()
}

/// Median and 99th percentile of screening one draft, over as many runs as fit in `budget`.
fn latency(screener: &Screener, draft: &Message, budget: Duration) -> (Duration, Duration) {
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 200 || (start.elapsed() < budget && samples.len() < 5_000_000) {
        let t = Instant::now();
        black_box(screener.screen(black_box(draft)).ok());
        samples.push(t.elapsed());
    }
    samples.sort_unstable();
    let at = |q: f64| {
        samples
            .get(((samples.len() - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    (at(0.5), at(0.99))
}

/// Stream up to `bytes` of generated JSON Lines (at least 1 MiB, and no more once `deadline` has
/// passed, so a slow engine does not make the benchmark hang) through the same code as
/// `rounds screen --format jsonl`, writing to nowhere; returns messages screened and bytes read.
fn stream_jsonl(
    screener: &Screener,
    corpus: &Corpus,
    bytes: u64,
    deadline: Instant,
) -> anyhow::Result<(u64, u64)> {
    let produced = Rc::new(Cell::new(0));
    let generator = Generator {
        messages: corpus.messages.clone(),
        next: 0,
        limit: bytes,
        deadline,
        produced: Rc::clone(&produced),
        pending: Vec::new(),
        pos: 0,
    };
    let mut input = Input::from_reader(
        "generated.jsonl",
        Box::new(BufReader::with_capacity(1 << 16, generator)),
    );
    let read = ReadOptions {
        kind: InputKind::Jsonl,
        per_line: false,
        direction: Direction::Incoming,
    };
    let opts = Options {
        redact: false,
        progress: false,
    };
    let mut out = output::make(Format::Jsonl, Box::new(io::sink()), false);
    let mut summary = Summary::default();
    screen_cmd::screen_input(screener, &mut input, read, opts, out.as_mut(), &mut summary)?;
    out.finish(&summary)?;
    Ok((summary.messages, produced.get()))
}

/// Produces JSON Lines records from the corpus, cycling, until `limit` bytes have been produced
/// or, past the first MiB, `deadline` has passed.
struct Generator {
    messages: Vec<String>,
    next: usize,
    limit: u64,
    deadline: Instant,
    produced: Rc<Cell<u64>>,
    pending: Vec<u8>,
    pos: usize,
}

impl Read for Generator {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.pending.len() {
            let done = self.produced.get();
            let late = done >= 1 << 20 && self.next % 256 == 0 && Instant::now() >= self.deadline;
            if done >= self.limit || late || self.messages.is_empty() {
                return Ok(0);
            }
            self.pending.clear();
            self.pos = 0;
            let text = &self.messages[self.next % self.messages.len()];
            let record = serde_json::json!({ "id": self.next, "text": text, "channel": "bench" });
            serde_json::to_writer(&mut self.pending, &record)?;
            self.pending.push(b'\n');
            self.next += 1;
            self.produced
                .set(done.saturating_add(self.pending.len() as u64));
        }
        let rest = self.pending.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Peak resident set size in KiB from `/proc/self/status` (Linux); `None` elsewhere.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let value = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    value.trim().trim_end_matches("kB").trim().parse().ok()
}

fn fmt_kib(k: Option<u64>) -> String {
    k.map_or("unknown".to_owned(), |k| {
        format!("{:.1} MiB", k as f64 / 1024.0)
    })
}
