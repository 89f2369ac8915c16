//! Screening results shaped for pages: the text cut into plain and highlighted segments, one row
//! per finding, and the decision in words.

use screen::{Decision, Message, Report};

use crate::AppState;

/// A run of the screened text, highlighted when a finding covers it.
pub(crate) struct Segment {
    pub(crate) text: String,
    /// CSS class of the strongest finding over this run (`sev-high`, …); empty for plain text.
    pub(crate) class: &'static str,
    /// The rule ids over this run, for the tooltip.
    pub(crate) rules: String,
}

/// One finding as a table row.
pub(crate) struct FindingRow {
    pub(crate) rule: String,
    pub(crate) category: &'static str,
    pub(crate) severity: &'static str,
    pub(crate) action: &'static str,
    pub(crate) matched: String,
    pub(crate) explanation: String,
    pub(crate) suggestion: String,
    pub(crate) safe_harbor: String,
}

/// A screening result ready for a template.
pub(crate) struct Screened {
    pub(crate) decision: &'static str,
    /// `ok`, `review`, `block`, `escalate`: the colour of the decision badge.
    pub(crate) tone: &'static str,
    pub(crate) summary: String,
    pub(crate) segments: Vec<Segment>,
    pub(crate) findings: Vec<FindingRow>,
    pub(crate) redacted: String,
    pub(crate) adverse_event: Option<String>,
}

/// Screens `text` in a direction and shapes the report; an over-long text is refused in words.
pub(crate) fn screen(state: &AppState, text: &str, outgoing: bool) -> Result<Screened, String> {
    let msg = if outgoing {
        Message::outgoing(text)
    } else {
        Message::incoming(text)
    };
    let report = state.screener.screen(&msg).map_err(|e| e.to_string())?;
    Ok(shape(text, &report))
}

fn tone(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "ok",
        Decision::Block | Decision::Hide => "block",
        Decision::Escalate => "escalate",
        _ => "review",
    }
}

/// The decision in words people read.
fn decision_label(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "Allow",
        Decision::HoldForReview => "Hold for review",
        Decision::Hide => "Hide",
        Decision::Block => "Block",
        Decision::Escalate => "Escalate",
    }
}

fn severity_class(s: screen::Severity) -> &'static str {
    match s.as_str() {
        "critical" => "sev-critical",
        "high" => "sev-high",
        "medium" => "sev-medium",
        _ => "sev-low",
    }
}

/// Shapes a report over its text.
pub(crate) fn shape(text: &str, report: &Report) -> Screened {
    let findings: Vec<FindingRow> = report
        .findings
        .iter()
        .map(|f| FindingRow {
            rule: f.rule_id.to_string(),
            category: f.category.as_str(),
            severity: f.severity.as_str(),
            action: f.action.as_str(),
            matched: f.matched.clone(),
            explanation: f.explanation.to_string(),
            suggestion: f.suggestion.as_deref().unwrap_or_default().to_owned(),
            safe_harbor: f
                .phi_category
                .map(|c| c.label().to_owned())
                .unwrap_or_default(),
        })
        .collect();
    let mut cuts: Vec<usize> = vec![0, text.len()];
    for f in report.findings.iter().filter(|f| f.field.is_text()) {
        cuts.push(f.span.start.min(text.len()));
        cuts.push(f.span.end.min(text.len()));
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut segments = Vec::new();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let Some(piece) = text.get(a..b) else {
            continue;
        };
        let covering: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.field.is_text() && f.span.start <= a && f.span.end >= b && a < b)
            .collect();
        let class = covering
            .iter()
            .map(|f| f.severity)
            .max()
            .map_or("", severity_class);
        let rules = covering
            .iter()
            .map(|f| &*f.rule_id)
            .collect::<Vec<_>>()
            .join(", ");
        segments.push(Segment {
            text: piece.to_owned(),
            class,
            rules,
        });
    }
    let adverse_event = report.adverse_event.as_ref().map(|ae| {
        let mark = |found: bool| if found { "found" } else { "missing" };
        format!(
            "Adverse-event elements — patient: {}, reporter: {}, product: {}, event: {}{}",
            mark(ae.patient.found),
            mark(ae.reporter.found),
            mark(ae.product.found),
            mark(ae.event.found),
            if ae.reportable {
                ". All four are present: this is reportable."
            } else {
                "."
            }
        )
    });
    let summary = match findings.len() {
        0 => "Nothing found.".to_owned(),
        1 => "1 finding.".to_owned(),
        n => format!("{n} findings."),
    };
    Screened {
        decision: decision_label(report.decision),
        tone: tone(report.decision),
        summary,
        segments,
        findings,
        redacted: report.redact(text),
        adverse_event,
    }
}
