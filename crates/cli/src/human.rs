//! The human format: each finding under the line it was found in, like a compiler diagnostic.

use std::fmt;
use std::io::{self, Write};

use anstyle::{AnsiColor, Effects, Style};

use screen::{AdverseEventCandidate, Element, Field, Finding, Severity};

use crate::output::{Failed, Output, Screened, Summary};

/// Characters of context shown on each side of a span on long lines.
const CONTEXT_CHARS: usize = 40;
/// Longest stretch of a span that is shown; the rest is elided.
const MAX_SPAN_CHARS: usize = 120;

const BOLD: Style = Style::new().effects(Effects::BOLD);
const GUTTER: Style = AnsiColor::Blue.on_default().effects(Effects::BOLD);
const DIM: Style = Style::new().effects(Effects::DIMMED);

fn severity_style(s: Severity) -> Style {
    match s {
        Severity::Critical => AnsiColor::Red.on_default().effects(Effects::BOLD),
        Severity::High => AnsiColor::Red.on_default(),
        Severity::Medium => AnsiColor::Yellow.on_default(),
        Severity::Low => AnsiColor::Cyan.on_default(),
        Severity::Info => DIM,
    }
}

/// Text in a style, or plain when colour is off.
struct Paint<T: fmt::Display>(Style, T, bool);

impl<T: fmt::Display> fmt::Display for Paint<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.2 {
            write!(f, "{}{}{:#}", self.0, self.1, self.0)
        } else {
            write!(f, "{}", self.1)
        }
    }
}

/// Writes reports for people; clean messages are only counted, so large runs stay readable.
pub(crate) struct Human<'w> {
    w: Box<dyn Write + 'w>,
    r: Renderer,
}

impl<'w> Human<'w> {
    /// A writer that emits ANSI colour only when `color` is true.
    pub fn new(w: Box<dyn Write + 'w>, color: bool) -> Self {
        Human {
            w,
            r: Renderer { color },
        }
    }
}

/// Render one report as the human format would (used by the writer and by tests).
fn render(item: &Screened<'_>, color: bool) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = Renderer { color }.render_into(&mut out, item);
    out
}

/// Formats reports, with or without ANSI colour.
#[derive(Clone, Copy)]
struct Renderer {
    color: bool,
}

impl Renderer {
    fn paint<T: fmt::Display>(&self, style: Style, t: T) -> Paint<T> {
        Paint(style, t, self.color)
    }

    fn render_into(&self, out: &mut String, item: &Screened<'_>) -> fmt::Result {
        use fmt::Write as _;
        let report = item.report;
        let location = if item.per_line {
            format!("{}:{}", item.source, item.line)
        } else {
            item.source.to_owned()
        };
        let id = item.id.map(|id| format!(" (id {id})")).unwrap_or_default();
        let n = report.findings.len();
        writeln!(
            out,
            "{}{id}: decision {}, {n} finding{}",
            self.paint(BOLD, location),
            self.paint(BOLD, report.decision),
            if n == 1 { "" } else { "s" }
        )?;
        let base_line = if item.per_line && item.byte_offset.is_none() {
            1
        } else {
            item.line
        };
        let mut lines = LineCursor::default();
        for f in &report.findings {
            let text = match f.field {
                Field::Text => item.message.text.as_str(),
                Field::AltText => item
                    .message
                    .attachments
                    .alt_text
                    .as_deref()
                    .unwrap_or_default(),
            };
            self.finding(out, f, text, &mut lines, base_line)?;
        }
        if !report.phi.is_empty() {
            writeln!(out, "  {}", self.paint(BOLD, "PHI:"))?;
            for p in &report.phi {
                let ctx = if p.health_context {
                    ", in health context"
                } else {
                    ""
                };
                writeln!(
                    out,
                    "    {:?}  Safe Harbor ({:?}) {}{ctx}",
                    p.text,
                    p.category,
                    p.category.description()
                )?;
            }
        }
        if let Some(ae) = &report.adverse_event {
            self.adverse_event(out, ae)?;
        }
        if let Some(r) = item.redacted {
            writeln!(
                out,
                "  {} {}",
                self.paint(BOLD, "redacted:"),
                r.trim_end_matches(['\n', '\r'])
            )?;
        }
        Ok(())
    }

    fn finding(
        &self,
        out: &mut String,
        f: &Finding,
        text: &str,
        lines: &mut LineCursor,
        base_line: usize,
    ) -> fmt::Result {
        use fmt::Write as _;
        let sev = severity_style(f.severity);
        let phi = f
            .phi_category
            .map(|c| format!(", Safe Harbor ({c:?}) {}", c.description()))
            .unwrap_or_default();
        writeln!(
            out,
            "  {} {} {} {}",
            self.paint(sev, format_args!("{:<8}", f.severity.as_str())),
            self.paint(BOLD, format_args!("{:<8}", f.action.as_str())),
            self.paint(BOLD, &f.rule_id),
            self.paint(DIM, format_args!("[{}{phi}]", f.category)),
        )?;
        let (line_no, snippet) = lines.locate(text, f.field, f.span.start, f.span.end);
        let label = match f.field {
            Field::Text => (base_line.saturating_add(line_no)).to_string(),
            Field::AltText => format!("alt {}", line_no + 1),
        };
        let pad = " ".repeat(label.len());
        writeln!(
            out,
            "    {} {}{}{}",
            self.paint(GUTTER, format_args!("{label} |")),
            snippet.before,
            self.paint(
                sev.effects(Effects::BOLD | Effects::UNDERLINE),
                &snippet.span
            ),
            snippet.after
        )?;
        writeln!(
            out,
            "    {} {}{}",
            self.paint(GUTTER, format_args!("{pad} |")),
            " ".repeat(snippet.before.chars().count()),
            self.paint(sev, "^".repeat(snippet.span.chars().count().max(1)))
        )?;
        writeln!(
            out,
            "    {} {}",
            self.paint(GUTTER, format_args!("{pad} =")),
            f.explanation
        )?;
        if let Some(s) = &f.suggestion {
            writeln!(
                out,
                "    {} {} {s}",
                self.paint(GUTTER, format_args!("{pad} =")),
                self.paint(BOLD, "suggestion:")
            )?;
        }
        Ok(())
    }

    fn adverse_event(&self, out: &mut String, ae: &AdverseEventCandidate) -> fmt::Result {
        use fmt::Write as _;
        let verdict = if ae.reportable {
            "reportable: all four elements present, the reporting clock runs"
        } else {
            "not yet reportable: elements missing"
        };
        writeln!(out, "  {} {verdict}", self.paint(BOLD, "adverse event:"))?;
        for (name, e) in [
            ("patient", &ae.patient),
            ("reporter", &ae.reporter),
            ("product", &ae.product),
            ("event", &ae.event),
        ] {
            writeln!(out, "    {name:<9}{}", self.element(e))?;
        }
        Ok(())
    }

    fn element(&self, e: &Element) -> String {
        match (e.found, &e.text) {
            (true, Some(t)) => format!("found {t:?}"),
            (true, None) => "found".to_owned(),
            (false, _) => self
                .paint(severity_style(Severity::Medium), "missing")
                .to_string(),
        }
    }
}

impl Output for Human<'_> {
    fn report(&mut self, item: &Screened<'_>) -> io::Result<()> {
        if item.report.findings.is_empty() && item.redacted.is_none() {
            return Ok(());
        }
        let text = render(item, self.r.color);
        self.w.write_all(text.as_bytes())?;
        self.w.write_all(b"\n")
    }

    fn failed(&mut self, _item: &Failed<'_>) -> io::Result<()> {
        // The error already went to stderr with its location; the summary counts it.
        Ok(())
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        let decisions: Vec<String> = s
            .decisions
            .iter()
            .rev()
            .map(|(d, n)| format!("{n} {d}"))
            .collect();
        let plural = if s.messages == 1 { "" } else { "s" };
        let max = s.max_severity.map_or("none".to_owned(), |m| m.to_string());
        writeln!(
            self.w,
            "{} {} message{plural} screened, {} with findings ({}), {} error{}; highest severity: {max}",
            self.r.paint(BOLD, "summary:"),
            s.messages,
            s.with_findings,
            if decisions.is_empty() {
                "none".to_owned()
            } else {
                decisions.join(", ")
            },
            s.errors,
            if s.errors == 1 { "" } else { "s" },
        )?;
        self.w.flush()
    }
}

/// The visible part of a line around a span, with control characters made harmless.
#[derive(Debug, PartialEq, Eq)]
struct Snippet {
    before: String,
    span: String,
    after: String,
}

/// Remembers the last line found so that findings in text order cost O(text) in total, not
/// O(text) each.
#[derive(Default)]
struct LineCursor {
    field: Option<Field>,
    pos: usize,
    line: usize,
}

impl LineCursor {
    /// The 0-based line of `start` within `text` and the snippet of that line around the span.
    fn locate(&mut self, text: &str, field: Field, start: usize, end: usize) -> (usize, Snippet) {
        let start = floor_boundary(text, start.min(text.len()));
        let end = floor_boundary(text, end.clamp(start, text.len()));
        if self.field != Some(field) || self.pos > start {
            *self = LineCursor {
                field: Some(field),
                pos: 0,
                line: 0,
            };
        }
        let skipped = text.as_bytes().get(self.pos..start).unwrap_or_default();
        self.line += memchr::memchr_iter(b'\n', skipped).count();
        self.pos = start;
        let line_start = memchr::memrchr(b'\n', text.as_bytes().get(..start).unwrap_or_default())
            .map_or(0, |i| i + 1);
        let line_end = memchr::memchr(b'\n', text.as_bytes().get(start..).unwrap_or_default())
            .map_or(text.len(), |i| start + i);
        let span_end = end.min(line_end);
        let before = text.get(line_start..start).unwrap_or_default();
        let span = text.get(start..span_end).unwrap_or_default();
        let after = text.get(span_end..line_end).unwrap_or_default();
        let multi_line = end > line_end;
        let snippet = Snippet {
            before: clip_left(before),
            span: clip_span(span, multi_line),
            after: clip_right(after),
        };
        (self.line, snippet)
    }
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn visible(c: char) -> char {
    // Tabs and other controls would shift or garble the caret line; one space keeps columns.
    if c.is_control() { ' ' } else { c }
}

fn clip_left(s: &str) -> String {
    let n = s.chars().count();
    if n <= CONTEXT_CHARS {
        return s.chars().map(visible).collect();
    }
    std::iter::once('…')
        .chain(s.chars().skip(n - CONTEXT_CHARS + 1).map(visible))
        .collect()
}

fn clip_right(s: &str) -> String {
    if s.chars().count() <= CONTEXT_CHARS {
        return s.chars().map(visible).collect();
    }
    s.chars()
        .take(CONTEXT_CHARS - 1)
        .map(visible)
        .chain(std::iter::once('…'))
        .collect()
}

fn clip_span(s: &str, continues: bool) -> String {
    let mut out: String = s.chars().take(MAX_SPAN_CHARS).map(visible).collect();
    if continues || s.chars().nth(MAX_SPAN_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use screen::{
        Action, AdverseEventCandidate, Category, Decision, Message, PhiEntity, Report, SafeHarbor,
        Span,
    };

    fn finding(
        rule: &str,
        category: Category,
        severity: Severity,
        action: Action,
        text: &str,
        needle: &str,
    ) -> Finding {
        let start = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not in {text}"));
        Finding {
            rule_id: rule.to_owned().into(),
            category,
            severity,
            action,
            span: Span::new(start, start + needle.len()),
            matched: needle.to_owned(),
            explanation: format!("Explanation of {rule}.").into(),
            suggestion: None,
            phi_category: None,
            field: Field::Text,
        }
    }

    fn screened<'a>(
        message: &'a Message,
        report: &'a Report,
        redacted: Option<&'a str>,
    ) -> Screened<'a> {
        Screened {
            source: "notes.txt",
            line: 3,
            per_line: true,
            byte_offset: Some(40),
            id: None,
            message,
            report,
            redacted,
        }
    }

    #[test]
    fn phi_finding_with_suggestion_and_redaction() {
        let text = "Room 12B: call Jane at 555-201-3344 about her chemo";
        let message = Message::outgoing(text);
        let mut phone = finding(
            "phi.phone",
            Category::Phi,
            Severity::Critical,
            Action::Block,
            text,
            "555-201-3344",
        );
        phone.phi_category = Some(SafeHarbor::D);
        phone.suggestion = Some("Move the conversation to a private, secure channel.".into());
        let mut name = finding(
            "phi.name",
            Category::Phi,
            Severity::High,
            Action::Block,
            text,
            "Jane",
        );
        name.phi_category = Some(SafeHarbor::A);
        let report = Report {
            decision: Decision::Block,
            findings: vec![name.clone(), phone.clone()],
            phi: vec![
                PhiEntity {
                    category: SafeHarbor::A,
                    span: name.span,
                    text: "Jane".to_owned(),
                    health_context: true,
                },
                PhiEntity {
                    category: SafeHarbor::D,
                    span: phone.span,
                    text: phone.matched.clone(),
                    health_context: true,
                },
            ],
            adverse_event: None,
        };
        let redacted = report.redact(text);
        insta::assert_snapshot!(render(&screened(&message, &report, Some(&redacted)), false));
    }

    #[test]
    fn adverse_event_on_second_line_of_a_whole_file() {
        let text = "Loved the nurses.\nAfter two weeks on Cardiolex my mother got a terrible rash.";
        let message = Message::incoming(text);
        let ae = finding(
            "adverse_event.report",
            Category::AdverseEvent,
            Severity::High,
            Action::Escalate,
            text,
            "terrible rash",
        );
        let el = |t: &str| {
            let s = text.find(t).unwrap_or(0);
            Element {
                found: true,
                span: Some(Span::new(s, s + t.len())),
                text: Some(t.to_owned()),
            }
        };
        let report = Report {
            decision: Decision::Escalate,
            findings: vec![ae],
            phi: vec![],
            adverse_event: Some(AdverseEventCandidate {
                patient: el("my mother"),
                reporter: Element {
                    found: true,
                    span: None,
                    text: None,
                },
                product: el("Cardiolex"),
                event: el("terrible rash"),
                reportable: true,
            }),
        };
        let item = Screened {
            source: "review.txt",
            line: 1,
            per_line: false,
            byte_offset: Some(0),
            id: None,
            message: &message,
            report: &report,
            redacted: None,
        };
        insta::assert_snapshot!(render(&item, false));
    }

    #[test]
    fn jsonl_item_with_id_long_line_tab_and_alt_text() {
        let filler = "very long preamble ".repeat(5);
        let text = format!(
            "{filler}\tbuy cheap meds now at http://rx-deals.example {}",
            "and more text ".repeat(6)
        );
        let mut message = Message::incoming(text.as_str());
        message.attachments.alt_text = Some("photo of a wristband\nMRN 00123456".to_owned());
        let spam = finding(
            "spam.pharmacy",
            Category::Spam,
            Severity::Medium,
            Action::Hide,
            &text,
            "buy cheap meds now",
        );
        let link = finding(
            "link.suspicious",
            Category::Link,
            Severity::Low,
            Action::Review,
            &text,
            "http://rx-deals.example",
        );
        let alt = message.attachments.alt_text.clone().unwrap_or_default();
        let mut mrn = finding(
            "phi.mrn",
            Category::Phi,
            Severity::High,
            Action::Hide,
            &alt,
            "MRN 00123456",
        );
        mrn.field = Field::AltText;
        mrn.phi_category = Some(SafeHarbor::H);
        let report = Report {
            decision: Decision::Hide,
            findings: vec![spam, link, mrn],
            phi: vec![],
            adverse_event: None,
        };
        let id = serde_json::Value::from("c-17");
        let item = Screened {
            source: "in.jsonl",
            line: 12,
            per_line: true,
            byte_offset: None,
            id: Some(&id),
            message: &message,
            report: &report,
            redacted: None,
        };
        insta::assert_snapshot!(render(&item, false));
    }

    #[test]
    fn colour_marks_the_span_and_severity() {
        let text = "I want to end it all";
        let message = Message::incoming(text);
        let f = finding(
            "crisis.ideation",
            Category::Crisis,
            Severity::Critical,
            Action::Escalate,
            text,
            "end it all",
        );
        let report = Report {
            decision: Decision::Escalate,
            findings: vec![f],
            phi: vec![],
            adverse_event: None,
        };
        let out = render(&screened(&message, &report, None), true);
        let red_bold_underline = AnsiColor::Red
            .on_default()
            .effects(Effects::BOLD | Effects::UNDERLINE);
        assert!(
            out.contains(&format!(
                "{red_bold_underline}end it all{red_bold_underline:#}"
            )),
            "{out:?}"
        );
        assert!(!render(&screened(&message, &report, None), false).contains('\x1b'));
    }

    #[test]
    fn cursor_counts_lines_incrementally_and_survives_bad_offsets() {
        let text = "a\nb\nc é d";
        let mut c = LineCursor::default();
        assert_eq!(c.locate(text, Field::Text, 2, 3).0, 1);
        let (line, snip) = c.locate(text, Field::Text, 7, 99);
        assert_eq!(line, 2);
        assert_eq!(
            snip,
            Snippet {
                before: "c ".to_owned(),
                span: "é d".to_owned(),
                after: String::new()
            }
        );
        assert_eq!(c.locate(text, Field::Text, 0, 1).0, 0);
    }
}
