//! Person-name spans on WNUT-17 (real tweets, Reddit, YouTube and StackExchange comments).
//!
//! Each document is rebuilt by joining its CoNLL tokens with single spaces, screened as an incoming
//! comment, and the `phi.name` findings are compared with the gold `person` spans: exactly (same
//! first and last byte) and by overlap. Location spans are scored the same way against
//! `phi.location`, for information: WNUT labels landmarks and venues as locations too.
//!
//! `train_names` trains the name model embedded as `crates/screen/models/names.bin`.

use std::path::Path;

use screen::name_model::{BUCKETS, LABELS, NameFeaturizer, encode};
use screen::{Message, Screener};

use crate::{Counts, EvalError, Row, presidio, read};

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
    let mut doc = Doc {
        text: String::new(),
        spans: Vec::new(),
    };
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
                docs.push(std::mem::replace(
                    &mut doc,
                    Doc {
                        text: String::new(),
                        spans: Vec::new(),
                    },
                ));
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
pub fn count(
    docs: &[Doc],
    screener: &Screener,
    kind: &str,
    rule: &str,
) -> Result<SpanCounts, EvalError> {
    let mut c = SpanCounts::default();
    for doc in docs {
        let report = screener.screen(&Message::incoming(doc.text.clone()))?;
        let pred: Vec<(usize, usize)> = report
            .findings
            .iter()
            .filter(|f| f.rule_id == rule)
            .map(|f| (f.span.start, f.span.end))
            .collect();
        let gold: Vec<(usize, usize)> = doc
            .spans
            .iter()
            .filter(|s| s.2 == kind)
            .map(|s| (s.0, s.1))
            .collect();
        let d = score_spans(&pred, &gold);
        c.exact.add(d.exact);
        c.overlap.add(d.overlap);
    }
    Ok(c)
}

/// Exact and overlap counts of predicted spans against gold spans of one document.
fn score_spans(pred: &[(usize, usize)], gold: &[(usize, usize)]) -> SpanCounts {
    let mut c = SpanCounts::default();
    let overlaps = |(a, b): (usize, usize), (x, y): (usize, usize)| a < y && x < b;
    for &p in pred {
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
    for &g in gold {
        if !pred.contains(&g) {
            c.exact.fn_ += 1;
        }
        if !pred.iter().any(|&p| overlaps(p, g)) {
            c.overlap.fn_ += 1;
        }
    }
    c
}

/// Read and parse one CoNLL file.
pub fn load(path: &Path) -> Result<Vec<Doc>, EvalError> {
    let docs = parse(&read(path)?);
    if docs.is_empty() {
        return Err(EvalError::Format {
            path: path.to_owned(),
            message: "no documents".to_owned(),
        });
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
        floor: None,
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

/// Passes over the training rows.
const EPOCHS: usize = 8;

/// One training row: hashed features and the class (0 neither, 1 person, 2 place).
type Example = (Vec<u32>, usize);

fn class_of(kind: &str) -> usize {
    match kind {
        "person" | "PERSON" => 1,
        "location" | "LOCATION" | "GPE" => 2,
        _ => 0,
    }
}

fn examples(
    feat: &NameFeaturizer,
    text: &str,
    gold: &[(usize, usize, usize)],
    out: &mut Vec<Example>,
) {
    for c in feat.candidates(text) {
        let class = gold
            .iter()
            .find(|g| g.0 < c.span.end && c.span.start < g.1)
            .map_or(0, |g| g.2);
        out.push((c.features, class));
    }
}

/// Gold spans of a WNUT document with their classes.
fn doc_gold(doc: &Doc) -> Vec<(usize, usize, usize)> {
    doc.spans
        .iter()
        .map(|s| (s.0, s.1, class_of(&s.2)))
        .collect()
}

/// The training rows of the even template ids of presidio-synthetic.
fn presidio_rows(shared: &Path, feat: &NameFeaturizer) -> Result<Vec<Example>, EvalError> {
    let mut rows = Vec::new();
    for s in presidio::load(shared)?
        .iter()
        .filter(|s| s.template_id.is_some_and(|t| t % 2 == 0))
    {
        let byte = |c: usize| {
            s.full_text
                .char_indices()
                .nth(c)
                .map_or(s.full_text.len(), |(b, _)| b)
        };
        let gold: Vec<_> = s
            .spans
            .iter()
            .map(|g| {
                (
                    byte(g.start_position),
                    byte(g.end_position),
                    class_of(&g.entity_type),
                )
            })
            .collect();
        examples(feat, &s.full_text, &gold, &mut rows);
    }
    Ok(rows)
}

/// Train the name model (averaged perceptron over hashed features) on WNUT-17 train and the even
/// template ids of presidio-synthetic; the odd ids and WNUT-17 dev stay unseen for checking.
pub fn train_names(shared: &Path) -> Result<Vec<u8>, EvalError> {
    let feat = NameFeaturizer::new()?;
    let mut rows = Vec::new();
    for doc in load(&shared.join(TRAIN))? {
        examples(&feat, &doc.text, &doc_gold(&doc), &mut rows);
    }
    rows.extend(presidio_rows(shared, &feat)?);
    Ok(encode(&perceptron(&rows, SEED)))
}

/// The shuffle seed of the shipped model.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// Person spans of the names detector alone, by `folds`-fold cross-validation on WNUT-17 train:
/// each fold (documents `i % folds`) is scored by a model trained on the other folds and the even
/// presidio templates, shuffled by `seed` (0: the shipped model's). The misses and false spans go
/// to `errors`, one line each, when given.
pub fn cross_validate_names(
    shared: &Path,
    folds: usize,
    seed: u64,
    mut errors: Option<&mut Vec<String>>,
) -> Result<SpanCounts, EvalError> {
    let feat = NameFeaturizer::new()?;
    let docs = load(&shared.join(TRAIN))?;
    let presidio = presidio_rows(shared, &feat)?;
    let doc_rows: Vec<Vec<Example>> = docs
        .iter()
        .map(|doc| {
            let mut rows = Vec::new();
            examples(&feat, &doc.text, &doc_gold(doc), &mut rows);
            rows
        })
        .collect();
    let mut c = SpanCounts::default();
    for fold in 0..folds {
        let rows: Vec<Example> = doc_rows
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != fold)
            .flat_map(|(_, r)| r.iter().cloned())
            .chain(presidio.iter().cloned())
            .collect();
        let seed = if seed == 0 { SEED } else { seed };
        let scorer = NameFeaturizer::with_model(&encode(&perceptron(&rows, seed)))?;
        for doc in docs.iter().skip(fold).step_by(folds) {
            let pred: Vec<(usize, usize)> = scorer
                .person_spans(&doc.text)
                .iter()
                .map(|s| (s.start, s.end))
                .collect();
            let gold: Vec<(usize, usize)> = doc
                .spans
                .iter()
                .filter(|s| s.2 == "person")
                .map(|s| (s.0, s.1))
                .collect();
            let d = score_spans(&pred, &gold);
            c.exact.add(d.exact);
            c.overlap.add(d.overlap);
            if let Some(errors) = errors.as_deref_mut() {
                let show = |(a, b): (usize, usize)| doc.text.get(a..b).unwrap_or("").to_owned();
                for &p in pred.iter().filter(|p| !gold.contains(p)) {
                    errors.push(format!("FP\t{}\t{}", show(p), doc.text));
                }
                for &g in gold.iter().filter(|g| !pred.contains(g)) {
                    errors.push(format!("FN\t{}\t{}", show(g), doc.text));
                }
            }
        }
    }
    Ok(c)
}

/// Averaged multi-class perceptron; rows are visited in a fixed pseudo-random order per epoch.
fn perceptron(rows: &[Example], mut seed: u64) -> Vec<f32> {
    let mut w = vec![0f32; BUCKETS * LABELS];
    let mut acc = vec![0f32; BUCKETS * LABELS];
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut step = 1f32;
    for _ in 0..EPOCHS {
        for i in (1..order.len()).rev() {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            order.swap(i, (seed >> 33) as usize % (i + 1));
        }
        for &r in &order {
            let (features, gold) = &rows[r];
            let mut scores = [0f32; LABELS];
            for &f in features {
                let base = (f as usize % BUCKETS) * LABELS;
                for (k, s) in scores.iter_mut().enumerate() {
                    *s += w[base + k];
                }
            }
            let guess = (0..LABELS).fold(0, |b, k| if scores[k] > scores[b] { k } else { b });
            if guess != *gold {
                for &f in features {
                    let base = (f as usize % BUCKETS) * LABELS;
                    w[base + gold] += 1.0;
                    acc[base + gold] += step;
                    w[base + guess] -= 1.0;
                    acc[base + guess] -= step;
                }
            }
            step += 1.0;
        }
    }
    w.iter().zip(&acc).map(|(w, a)| w - a / step).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_name_model_is_what_training_produces() {
        let Some(shared) = crate::shared_dir() else {
            eprintln!("skipping: no shared data");
            return;
        };
        let weights = train_names(&shared).unwrap_or_else(|e| panic!("{e}"));
        let committed = include_bytes!("../../screen/models/names.bin");
        assert!(
            weights == committed,
            "models/names.bin is stale: run `rounds train names`"
        );
    }

    use super::*;

    /// Presidio PHI token F1 (all, odd templates) with the names detector's findings made by a
    /// model trained now (as `train_names`), so that a change to the features or the rules is
    /// judged on presidio before the model is retrained and embedded.
    #[test]
    #[ignore = "trains a model"]
    fn presidio_names() {
        let Some(shared) = crate::shared_dir() else {
            return;
        };
        let model = train_names(&shared).unwrap_or_else(|e| panic!("{e}"));
        let det = NameFeaturizer::with_model(&model).unwrap_or_else(|e| panic!("{e}"));
        let screener = Screener::new(screen::Policy::default()).expect("policy");
        let samples = presidio::load(&shared).unwrap_or_else(|e| panic!("{e}"));
        let mut all = crate::Counts::default();
        let mut odd = crate::Counts::default();
        for s in &samples {
            let text = &s.full_text;
            let report = screener
                .screen(&Message::outgoing(text.clone()))
                .expect("screens");
            let mut found: Vec<(usize, usize)> = report
                .findings
                .iter()
                .filter(|f| f.phi_category.is_some() && f.field.is_text())
                .filter(|f| f.rule_id != "phi.name" && f.rule_id != "phi.location")
                .map(|f| (f.span.start, f.span.end))
                .collect();
            found.extend(
                det.spans(text, true)
                    .iter()
                    .map(|(sp, _)| (sp.start, sp.end)),
            );
            let scored = presidio::mark(s, &found);
            let mut c = crate::Counts::default();
            for (g, &p) in scored.gold.iter().zip(&scored.predicted) {
                match (g.is_some(), p) {
                    (true, true) => c.tp += 1,
                    (true, false) => c.fn_ += 1,
                    (false, true) => c.fp += 1,
                    _ => {}
                }
            }
            all.add(c);
            if s.template_id.is_some_and(|t| t % 2 == 1) {
                odd.add(c);
            }
        }
        eprintln!(
            "presidio all P {:.4} R {:.4} F1 {:.4}; odd P {:.4} R {:.4} F1 {:.4}",
            all.precision(),
            all.recall(),
            all.f1(),
            odd.precision(),
            odd.recall(),
            odd.f1()
        );
    }

    /// `cargo test --release -p rounds-eval names_cv -- --ignored --nocapture`: the person-span
    /// cross-validation figures on WNUT-17 train (mean over 20 shuffle seeds);
    /// `NAMES_CV_ERRORS=path` writes the first seed's errors there, and `NAMES_MODEL_OUT=path` the
    /// model `rounds train names` would write.
    #[test]
    #[ignore = "trains five models; run by hand when changing the name model"]
    fn names_cv() {
        let Some(shared) = crate::shared_dir() else {
            eprintln!("skipping: no shared data");
            return;
        };
        let mut errors = Vec::new();
        let mut f1 = [0.0; 2];
        let seeds: Vec<u64> = (0..20).collect();
        for &seed in &seeds {
            let errors = (seed == 0).then_some(&mut errors);
            let c =
                cross_validate_names(&shared, 5, seed, errors).unwrap_or_else(|e| panic!("{e}"));
            for (n, (what, k)) in [("exact", c.exact), ("overlap", c.overlap)]
                .into_iter()
                .enumerate()
            {
                f1[n] += k.f1() / seeds.len() as f64;
                eprintln!(
                    "seed {seed} names CV {what}: P {:.3} R {:.3} F1 {:.4} (tp {} fp {} fn {})",
                    k.precision(),
                    k.recall(),
                    k.f1(),
                    k.tp,
                    k.fp,
                    k.fn_
                );
            }
        }
        eprintln!("mean names CV F1: exact {:.4} overlap {:.4}", f1[0], f1[1]);
        if let Some(path) = std::env::var_os("NAMES_MODEL_OUT") {
            let model = train_names(&shared).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(path, model).unwrap_or_else(|e| panic!("{e}"));
        }
        if let Some(path) = std::env::var_os("NAMES_CV_ERRORS") {
            std::fs::write(path, errors.join("\n")).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn parses_bio_spans_and_documents() {
        let docs =
            parse("Hi\tO\nJudy\tB-person\nSmith\tI-person\n!\tO\n\nin\tO\nParis\tB-location\n");
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
        assert!(
            rows[0].counts.tp + rows[0].counts.fn_ > 0,
            "dev has person spans"
        );
    }
}
