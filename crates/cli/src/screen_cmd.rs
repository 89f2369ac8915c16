//! `rounds screen`: read messages, screen them one at a time and write reports as they come.

use std::io::{self, IsTerminal};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use screen::{Direction, Policy, Screener, Severity};

use crate::exit;
use crate::input::{self, Input, InputKind, ReadOptions};
use crate::output::{self, Failed, Format, Output, Screened, Summary};

/// Inputs smaller than this finish before a progress bar would be worth drawing.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;

/// Options of `rounds screen`.
#[derive(Args, Debug)]
pub(crate) struct ScreenArgs {
    /// Files to screen; `-` or nothing reads stdin. Names ending in `.jsonl` are read as JSON Lines.
    files: Vec<String>,
    /// How to read the inputs (default: jsonl for `*.jsonl`, text otherwise).
    #[arg(long, value_enum)]
    input: Option<InputKind>,
    /// With text input, screen each line as its own message instead of the whole input as one.
    #[arg(long)]
    per_line: bool,
    /// Direction of text messages, and of JSON messages without a `direction` [default: incoming].
    #[arg(long, value_enum)]
    direction: Option<DirectionArg>,
    /// Policy file (TOML); the built-in default policy when absent.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Also print each text with its PHI replaced by labels such as `[PHONE]`.
    #[arg(long)]
    redact: bool,
    /// Exit with 1 when any finding is at or above this severity.
    #[arg(long, value_enum, default_value_t = SeverityArg::High)]
    fail_on: SeverityArg,
    /// Colour in the human format: auto follows the terminal, NO_COLOR and CLICOLOR_FORCE.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

/// `--direction` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum DirectionArg {
    /// From the public: comments, mentions, direct messages.
    Incoming,
    /// From the organization: drafts, posts, replies.
    Outgoing,
}

/// `--fail-on` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum SeverityArg {
    /// Any finding fails.
    Info,
    /// Low and above.
    Low,
    /// Medium and above.
    Medium,
    /// High and above.
    High,
    /// Only critical findings fail.
    Critical,
}

impl From<SeverityArg> for Severity {
    fn from(s: SeverityArg) -> Severity {
        match s {
            SeverityArg::Info => Severity::Info,
            SeverityArg::Low => Severity::Low,
            SeverityArg::Medium => Severity::Medium,
            SeverityArg::High => Severity::High,
            SeverityArg::Critical => Severity::Critical,
        }
    }
}

/// `--color` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ColorArg {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Build the engine from `--policy`, or the default policy.
pub(crate) fn load_screener(policy: Option<&std::path::Path>) -> anyhow::Result<Screener> {
    let policy = match policy {
        None => Policy::default(),
        Some(path) => {
            let src = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read policy {}", path.display()))?;
            Policy::from_toml(&src).with_context(|| format!("policy {}", path.display()))?
        }
    };
    Screener::new(policy).context("cannot build the screening engine")
}

/// Run `rounds screen`; returns the exit code.
pub(crate) fn run(args: &ScreenArgs) -> anyhow::Result<u8> {
    let screener = load_screener(args.policy.as_deref())?;
    let color = match args.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            anstream::AutoStream::choice(&io::stdout()) != anstream::ColorChoice::Never
        }
    };
    let stdout = io::stdout().lock();
    let mut out = output::make(
        args.format,
        Box::new(io::BufWriter::with_capacity(1 << 16, stdout)),
        color,
    );
    let files: Vec<&str> = if args.files.is_empty() {
        vec!["-"]
    } else {
        args.files.iter().map(String::as_str).collect()
    };
    let mut summary = Summary::default();
    let direction = match args.direction {
        Some(DirectionArg::Outgoing) => Direction::Outgoing,
        Some(DirectionArg::Incoming) | None => Direction::Incoming,
    };
    let opts = Options {
        redact: args.redact,
        progress: io::stderr().is_terminal(),
    };
    for file in files {
        let mut input = Input::open(file)?;
        let kind = args.input.unwrap_or_else(|| input.default_kind());
        let read = ReadOptions {
            kind,
            per_line: args.per_line,
            direction,
        };
        screen_input(
            &screener,
            &mut input,
            read,
            opts,
            out.as_mut(),
            &mut summary,
        )?;
    }
    out.finish(&summary)?;
    if summary.errors > 0 {
        eprintln!(
            "error: {} message(s) could not be screened (see above)",
            summary.errors
        );
        return Ok(exit::ERROR);
    }
    let failing = summary
        .max_severity
        .is_some_and(|s| s >= Severity::from(args.fail_on));
    Ok(if failing { exit::FINDINGS } else { exit::CLEAN })
}

/// Settings that apply to every input of a run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options {
    /// Add the redacted text to each report.
    pub redact: bool,
    /// Draw a progress bar for large inputs.
    pub progress: bool,
}

/// Screen every message of one input into `out`, counting into `summary`. A message that cannot
/// be read or screened is reported in its place and counted as an error; reading goes on.
pub(crate) fn screen_input(
    screener: &Screener,
    input: &mut Input,
    read: ReadOptions,
    opts: Options,
    out: &mut dyn Output,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let bar = input
        .len
        .filter(|&n| opts.progress && n >= PROGRESS_MIN_BYTES)
        .map(|n| {
            let bar = ProgressBar::new(n);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        });
    let source = input.name.clone();
    let per_line = read.per_line || read.kind == InputKind::Jsonl;
    let mut redacted = String::new();
    input::read_all(input, read, |item, done| {
        if let Some(bar) = &bar {
            bar.set_position(done);
        }
        let failure = match item {
            Ok(rec) => match screener.screen(&rec.message) {
                Ok(report) => {
                    summary.add(&report);
                    if opts.redact {
                        redacted = report.redact(&rec.message.text);
                    }
                    let item = Screened {
                        source: &source,
                        line: rec.line,
                        per_line,
                        byte_offset: rec.byte_offset,
                        id: rec.id.as_ref(),
                        message: &rec.message,
                        report: &report,
                        redacted: opts.redact.then_some(redacted.as_str()),
                    };
                    out.report(&item)?;
                    return Ok(());
                }
                Err(e) => input::RecordError {
                    line: rec.line,
                    id: rec.id,
                    message: e.to_string(),
                },
            },
            Err(e) => e,
        };
        summary.errors += 1;
        let loc = if per_line {
            format!("{source}:{}", failure.line)
        } else {
            source.clone()
        };
        // In jsonl/json the error also goes in the output, in place, so results stay aligned.
        eprintln!("error: {loc}: {}", failure.message);
        out.failed(&Failed {
            source: &source,
            line: failure.line,
            id: failure.id.as_ref(),
            error: &failure.message,
        })?;
        Ok(())
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(())
}
