//! Where screening results go: the output formats share one streaming interface.

use std::collections::BTreeMap;
use std::io::{self, Write};

use clap::ValueEnum;
use serde::Serialize;
use serde_json::Value;

use screen::{Decision, Message, Report, Severity};

use crate::human::Human;
use crate::sarif::Sarif;

/// The output formats of `rounds screen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Findings with the text underlined, for people.
    Human,
    /// One JSON array of report objects.
    Json,
    /// One report object per input message, one per line, in input order.
    Jsonl,
    /// A SARIF 2.1.0 log for code-scanning tools.
    Sarif,
}

/// One screened message, with where it came from.
pub(crate) struct Screened<'a> {
    /// Input name (`<stdin>` for stdin).
    pub source: &'a str,
    /// 1-based line of the input where the message is.
    pub line: usize,
    /// True when the input was split into lines (per-line text or JSON Lines).
    pub per_line: bool,
    /// Byte offset of the text in the input, when the input holds it verbatim (text inputs).
    pub byte_offset: Option<u64>,
    /// The caller's identifier.
    pub id: Option<&'a Value>,
    /// The message.
    pub message: &'a Message,
    /// What the engine found.
    pub report: &'a Report,
    /// The text with PHI replaced, when `--redact` was asked for.
    pub redacted: Option<&'a str>,
}

/// A message that could not be screened.
pub(crate) struct Failed<'a> {
    /// Input name.
    pub source: &'a str,
    /// 1-based line of the input.
    pub line: usize,
    /// The caller's identifier, when known.
    pub id: Option<&'a Value>,
    /// What went wrong.
    pub error: &'a str,
}

/// Totals over a whole run.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    /// Messages screened.
    pub messages: u64,
    /// Messages with at least one finding.
    pub with_findings: u64,
    /// Messages that could not be read or screened.
    pub errors: u64,
    /// How many messages got each decision.
    pub decisions: BTreeMap<Decision, u64>,
    /// The highest severity seen.
    pub max_severity: Option<Severity>,
}

impl Summary {
    /// Count one screened report.
    pub fn add(&mut self, report: &Report) {
        self.messages += 1;
        if !report.findings.is_empty() {
            self.with_findings += 1;
        }
        *self.decisions.entry(report.decision).or_default() += 1;
        self.max_severity = self.max_severity.max(report.max_severity());
    }
}

/// A destination for results; every format streams except SARIF, which is one document.
pub(crate) trait Output {
    /// Write one screened message.
    fn report(&mut self, item: &Screened<'_>) -> io::Result<()>;
    /// Write one message that failed.
    fn failed(&mut self, item: &Failed<'_>) -> io::Result<()>;
    /// Write what is left and flush.
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

/// Build the writer for `format` over `w`.
pub(crate) fn make<'w>(
    format: Format,
    w: Box<dyn Write + 'w>,
    color: bool,
) -> Box<dyn Output + 'w> {
    match format {
        Format::Human => Box::new(Human::new(w, color)),
        Format::Json => Box::new(Json { w, first: true }),
        Format::Jsonl => Box::new(Jsonl { w }),
        Format::Sarif => Box::new(Sarif::new(w)),
    }
}

/// The object written for each message in `json` and `jsonl`.
#[derive(Serialize)]
struct Record<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    source: &'a str,
    line: usize,
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    redacted: Option<&'a str>,
}

impl<'a> Record<'a> {
    fn new(item: &Screened<'a>) -> Self {
        Record {
            id: item.id,
            source: item.source,
            line: item.line,
            report: item.report,
            redacted: item.redacted,
        }
    }
}

/// The object written for a message that failed, in its place, so scripts can line results up.
#[derive(Serialize)]
struct ErrorRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Value>,
    source: &'a str,
    line: usize,
    error: &'a str,
}

impl<'a> ErrorRecord<'a> {
    fn new(item: &Failed<'a>) -> Self {
        ErrorRecord {
            id: item.id,
            source: item.source,
            line: item.line,
            error: item.error,
        }
    }
}

struct Jsonl<'w> {
    w: Box<dyn Write + 'w>,
}

impl Output for Jsonl<'_> {
    fn report(&mut self, item: &Screened<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, &Record::new(item))?;
        self.w.write_all(b"\n")
    }

    fn failed(&mut self, item: &Failed<'_>) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, &ErrorRecord::new(item))?;
        self.w.write_all(b"\n")
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.w.flush()
    }
}

struct Json<'w> {
    w: Box<dyn Write + 'w>,
    first: bool,
}

impl Json<'_> {
    fn item(&mut self, value: &impl Serialize) -> io::Result<()> {
        self.w.write_all(if self.first { b"[\n" } else { b",\n" })?;
        self.first = false;
        serde_json::to_writer_pretty(&mut self.w, value)?;
        Ok(())
    }
}

impl Output for Json<'_> {
    fn report(&mut self, item: &Screened<'_>) -> io::Result<()> {
        self.item(&Record::new(item))
    }

    fn failed(&mut self, item: &Failed<'_>) -> io::Result<()> {
        self.item(&ErrorRecord::new(item))
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.w
            .write_all(if self.first { b"[]\n" } else { b"\n]\n" })?;
        self.w.flush()
    }
}
