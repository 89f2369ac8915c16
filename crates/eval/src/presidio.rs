//! PHI accuracy on the presidio-research synthetic sentences: token-level and type-blind.
//!
//! A token is a maximal run of alphanumeric characters. A gold token is one inside a gold span of a
//! counted entity type; a predicted token is one inside any finding that carries a Safe Harbor
//! category. Tokens inside spans of uncounted types (organization, title, nationality, domain) are
//! ordinary negatives: flagging them is a false positive.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use screen::{Message, Screener};

use crate::{Counts, EvalError, Row, Target, read};

/// The presidio entity types that count as PHI for this score.
pub const COUNTED: &[&str] = &[
    "PERSON",
    "ADDRESS",
    "STREET_ADDRESS",
    "LOCATION",
    "GPE",
    "DATE_TIME",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "US_DRIVER_LICENSE",
    "AGE",
    "ZIP_CODE",
];

/// The files of the set, relative to the shared folder.
pub const FILES: &[&str] = &[
    "data/phi/presidio-synthetic/synth_dataset_v2.json",
    "data/phi/presidio-synthetic/generated_large.json",
];

/// One labelled sentence.
#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    /// The sentence.
    pub full_text: String,
    /// Gold entity spans (character offsets).
    pub spans: Vec<GoldSpan>,
    /// The template the sentence was generated from.
    #[serde(default)]
    pub template_id: Option<u64>,
}

/// One gold entity.
#[derive(Debug, Clone, Deserialize)]
pub struct GoldSpan {
    /// Presidio entity type, e.g. `PERSON`.
    pub entity_type: String,
    /// First character.
    pub start_position: usize,
    /// One past the last character.
    pub end_position: usize,
}

/// Read every sample of the set.
pub fn load(shared: &Path) -> Result<Vec<Sample>, EvalError> {
    let mut all = Vec::new();
    for f in FILES {
        let path = shared.join(f);
        let text = read(&path)?;
        let samples: Vec<Sample> = serde_json::from_str(&text).map_err(|e| EvalError::Format {
            path: path.clone(),
            message: e.to_string(),
        })?;
        all.extend(samples);
    }
    Ok(all)
}

/// Byte ranges of the alphanumeric tokens of `text`.
pub fn tokens(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

fn char_to_byte(text: &str, char_idx: usize) -> usize {
    text.char_indices()
        .nth(char_idx)
        .map_or(text.len(), |(b, _)| b)
}

/// Per-sample result: gold and predicted flags per token, and the gold type of each token.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Token byte ranges.
    pub tokens: Vec<(usize, usize)>,
    /// Gold entity type of each token when it is counted.
    pub gold: Vec<Option<String>>,
    /// The engine flagged the token as PHI.
    pub predicted: Vec<bool>,
}

/// Screen one sample (as an outgoing draft) and mark its tokens.
pub fn score(sample: &Sample, screener: &Screener) -> Result<Scored, EvalError> {
    let report = screener.screen(&Message::outgoing(sample.full_text.clone()))?;
    let found: Vec<(usize, usize)> = report
        .findings
        .iter()
        .filter(|f| f.phi_category.is_some() && f.field.is_text())
        .map(|f| (f.span.start, f.span.end))
        .collect();
    Ok(mark(sample, &found))
}

/// Mark the tokens of `sample` with their counted gold type and as predicted where one of the
/// `found` byte spans overlaps them.
pub fn mark(sample: &Sample, found: &[(usize, usize)]) -> Scored {
    let text = &sample.full_text;
    let toks = tokens(text);
    let gold_spans: Vec<(usize, usize, &str)> = sample
        .spans
        .iter()
        .filter(|s| COUNTED.contains(&s.entity_type.as_str()))
        .map(|s| {
            (
                char_to_byte(text, s.start_position),
                char_to_byte(text, s.end_position),
                s.entity_type.as_str(),
            )
        })
        .collect();
    let overlaps = |(a, b): (usize, usize), (c, d): (usize, usize)| a < d && c < b;
    let gold = toks
        .iter()
        .map(|&t| {
            gold_spans
                .iter()
                .find(|g| overlaps(t, (g.0, g.1)))
                .map(|g| g.2.to_owned())
        })
        .collect();
    let predicted = toks
        .iter()
        .map(|&t| found.iter().any(|&f| overlaps(t, f)))
        .collect();
    Scored {
        tokens: toks,
        gold,
        predicted,
    }
}

/// Token counts overall and recall counts per entity type.
pub fn count(
    samples: &[Sample],
    screener: &Screener,
) -> Result<(Counts, BTreeMap<String, Counts>), EvalError> {
    let mut overall = Counts::default();
    let mut per_type: BTreeMap<String, Counts> = BTreeMap::new();
    for s in samples {
        let scored = score(s, screener)?;
        for (gold, &pred) in scored.gold.iter().zip(&scored.predicted) {
            match (gold, pred) {
                (Some(_), true) => overall.tp += 1,
                (Some(_), false) => overall.fn_ += 1,
                (None, true) => overall.fp += 1,
                (None, false) => {}
            }
            if let Some(t) = gold {
                let c = per_type.entry(t.clone()).or_default();
                if pred { c.tp += 1 } else { c.fn_ += 1 }
            }
        }
    }
    Ok((overall, per_type))
}

/// The accuracy rows for this set: overall, then recall per entity type.
pub fn evaluate(shared: &Path, screener: &Screener) -> Result<Vec<Row>, EvalError> {
    let samples = load(shared)?;
    let (overall, per_type) = count(&samples, screener)?;
    let mut rows = vec![Row {
        dataset: "presidio-synthetic".to_owned(),
        task: "PHI tokens, type-blind".to_owned(),
        counts: overall,
        target: Some(Target {
            f1: 0.85,
            recall: Some(0.90),
        }),
        floor: None,
        recall_only: false,
    }];
    // The name model learned from the even templates; the odd ones are the honest held-out check.
    let unseen: Vec<Sample> = samples
        .iter()
        .filter(|s| s.template_id.is_some_and(|t| t % 2 == 1))
        .cloned()
        .collect();
    let (unseen_counts, _) = count(&unseen, screener)?;
    rows.push(Row {
        dataset: "presidio-synthetic, odd templates".to_owned(),
        task: "PHI tokens, type-blind (templates no model saw)".to_owned(),
        counts: unseen_counts,
        target: Some(Target {
            f1: 0.85,
            recall: Some(0.90),
        }),
        floor: None,
        recall_only: false,
    });
    rows.extend(per_type.into_iter().map(|(t, counts)| Row {
        dataset: "presidio-synthetic".to_owned(),
        task: format!("{t} tokens"),
        counts,
        target: None,
        floor: None,
        recall_only: true,
    }));
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_alphanumeric_runs() {
        assert_eq!(
            tokens("Hi, Jo-Ann 42!"),
            vec![(0, 2), (4, 6), (7, 10), (11, 13)]
        );
    }

    #[test]
    fn char_offsets_become_byte_offsets() {
        assert_eq!(char_to_byte("é a", 2), 3);
    }

    #[test]
    fn scores_the_shared_set_when_present() {
        let Some(shared) = crate::shared_dir() else {
            eprintln!("skipping: shared data folder not found (set ROUNDS_SHARED)");
            return;
        };
        let samples = load(&shared).expect("presidio set loads");
        assert!(
            samples.len() > 3000,
            "expected the full set, got {}",
            samples.len()
        );
        assert!(
            samples
                .iter()
                .all(|s| s.spans.iter().all(|g| g.start_position <= g.end_position))
        );
    }
}
