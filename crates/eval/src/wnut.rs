//! Person-name spans on WNUT-17 (real tweets, Reddit, YouTube and StackExchange comments).
//!
//! Each document is rebuilt by joining its CoNLL tokens with single spaces, screened as an incoming
//! comment, and the `phi.name` findings are compared with the gold `person` spans: exactly (same
//! first and last byte) and by overlap. Location spans are scored the same way against
//! `phi.location`, for information: WNUT labels landmarks and venues as locations too.

use std::path::Path;

use screen::{Message, Screener};

use crate::{Counts, EvalError, Row, read};

/// The development file, relative to the shared folder; rules are tuned on the train file only.
pub const DEV: &str = "data/ner-social/wnut17/emerging.dev.conll";

/// The training file, relative to the shared folder.
pub const TRAIN: &str = "data/ner-social/wnut17/wnut17train.conll";

/// One document: its rebuilt text and gold spans (byte ranges with their entity type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    /// Tokens joined by single spaces.
    pub text: String,
    /// Gold entities: start byte, end byte, type (`person`, `location`, …).
    pub spans: Vec<(usize, usize, String)>,
}

/// Parse CoNLL text (`token<TAB>tag`, blank line between documents) into documents.
pub fn parse(conll: &str) -> Vec<Doc> {
    let mut docs = Vec::new();
    let mut doc = Doc { text: String::new(), spans: Vec::new() };
    let mut open: Option<(usize, usize, String)> = None;
    let flush = |doc: &mut Doc, open: &mut Option<(usize, usize, String)>| {
        if let Some(s) = open.take() {
            doc.spans.push(s);
        }
    };
    for line in conll.lines() {
        let mut parts = line.split('\t');
        let token = parts.next().unwrap_or_default().trim();
        let tag = parts.next().unwrap_or("O").trim();
        if token.is_empty() {
            flush(&mut doc, &mut open);
            if !doc.text.is_empty() {
                docs.push(std::mem::replace(&mut doc, Doc { text: String::new(), spans: Vec::new() }));
            }
            continue;
        }
        if !doc.text.is_empty() {
            doc.text.push(' ');
        }
        let start = doc.text.len();
        doc.text.push_str(token);
        let end = doc.text.len();
        match tag.split_once('-') {
            Some(("B", kind)) => {
                flush(&mut doc, &mut open);
                open = Some((start, end, kind.to_owned()));
            }
            Some(("I", kind)) if open.as_ref().is_some_and(|o| o.2 == kind) => {
                if let Some(o) = open.as_mut() {
                    o.1 = end;
                }
            }
            Some(("I", kind)) => {
                flush(&mut doc, &mut open);
                open = Some((start, end, kind.to_owned()));
            }
            _ => flush(&mut doc, &mut open),
        }
    }
    flush(&mut doc, &mut open);
    if !doc.text.is_empty() {
        docs.push(doc);
    }
    docs
}

/// Exact and overlap span counts for one entity type against one rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanCounts {
    /// Predicted spans equal to a gold span.
    pub exact: Counts,
    /// Predicted spans overlapping a gold span.
    pub overlap: Counts,
}

/// Score `docs`: gold spans of type `kind` against findings of rule `rule`.
pub fn count(docs: &[Doc], screener: &Screener, kind: &str, rule: &str) -> Result<SpanCounts, EvalError> {
    let mut c = SpanCounts::default();
    for doc in docs {
        let report = screener.screen(&Message::incoming(doc.text.clone()))?;
        let pred: Vec<(usize, usize)> = report.findings.iter().filter(|f| f.rule_id == rule).map(|f| (f.span.start, f.span.end)).collect();
        let gold: Vec<(usize, usize)> = doc.spans.iter().filter(|s| s.2 == kind).map(|s| (s.0, s.1)).collect();
        let overlaps = |(a, b): (usize, usize), (x, y): (usize, usize)| a < y && x < b;
        for &p in &pred {
            if gold.contains(&p) {
                c.exact.tp += 1;
            } else {
                c.exact.fp += 1;
            }
            if gold.iter().any(|&g| overlaps(p, g)) {
                c.overlap.tp += 1;
            } else {
                c.overlap.fp += 1;
            }
        }
        for &g in &gold {
            if !pred.contains(&g) {
                c.exact.fn_ += 1;
            }
            if !pred.iter().any(|&p| overlaps(p, g)) {
                c.overlap.fn_ += 1;
            }
        }
    }
    Ok(c)
}

/// Read and parse one CoNLL file.
pub fn load(path: &Path) -> Result<Vec<Doc>, EvalError> {
    let docs = parse(&read(path)?);
    if docs.is_empty() {
        return Err(EvalError::Format { path: path.to_owned(), message: "no documents".to_owned() });
    }
    Ok(docs)
}

/// The rows for one file: person spans exact and by overlap, location spans by overlap.
pub fn evaluate_file(path: &Path, label: &str, screener: &Screener) -> Result<Vec<Row>, EvalError> {
    let docs = load(path)?;
    let person = count(&docs, screener, "person", "phi.name")?;
    let location = count(&docs, screener, "location", "phi.location")?;
    let row = |task: &str, counts: Counts| Row {
        dataset: label.to_owned(),
        task: task.to_owned(),
        counts,
        target: None,
        recall_only: false,
    };
    Ok(vec![
        row("person spans, exact", person.exact),
        row("person spans, overlap", person.overlap),
        row("location spans, overlap", location.overlap),
    ])
}

/// Person-name (and location) span accuracy on the WNUT-17 development file.
pub fn evaluate(shared: &Path, screener: &Screener) -> Result<Vec<Row>, EvalError> {
    evaluate_file(&shared.join(DEV), "wnut17-dev", screener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bio_spans_and_documents() {
        let docs = parse("Hi\tO\nJudy\tB-person\nSmith\tI-person\n!\tO\n\nin\tO\nParis\tB-location\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].text, "Hi Judy Smith !");
        assert_eq!(docs[0].spans, vec![(3, 13, "person".to_owned())]);
        assert_eq!(&docs[1].text[3..8], "Paris");
    }

    #[test]
    fn stray_inside_tag_opens_a_span() {
        let docs = parse("x\tO\nBob\tI-person\n");
        assert_eq!(docs[0].spans, vec![(2, 5, "person".to_owned())]);
    }

    #[test]
    fn scores_dev_when_present() {
        let Some(shared) = crate::shared_dir() else {
            eprintln!("skipping: shared data folder not found (set ROUNDS_SHARED)");
            return;
        };
        let screener = Screener::new(screen::Policy::default()).expect("default policy compiles");
        let rows = evaluate(&shared, &screener).expect("wnut dev scores");
        assert_eq!(rows.len(), 3);
        assert!(rows[0].counts.tp + rows[0].counts.fn_ > 0, "dev has person spans");
    }
}
