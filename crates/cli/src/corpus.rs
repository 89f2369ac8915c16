//! Message corpora for the benchmark: the shared labelled sets' raw text, or a built-in
//! synthetic set when the shared folder is not there.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// Messages to measure with, and where they came from.
pub(crate) struct Corpus {
    /// One line per source, e.g. `presidio-synthetic full_text: 3,600 messages`.
    pub sources: Vec<String>,
    /// The messages, in source order.
    pub messages: Vec<String>,
}

/// Only the text of a presidio-synthetic record.
#[derive(Deserialize)]
struct PresidioRecord {
    full_text: String,
}

/// The shared corpora under `shared`: presidio-synthetic `full_text`, PsyTAR sentences and
/// WNUT-17 sentences rebuilt from their tokens.
pub(crate) fn shared(shared: &Path) -> anyhow::Result<Corpus> {
    let mut corpus = Corpus {
        sources: Vec::new(),
        messages: Vec::new(),
    };
    let presidio = shared.join("data/phi/presidio-synthetic");
    let mut n = 0;
    for file in ["synth_dataset_v2.json", "generated_large.json"] {
        let path = presidio.join(file);
        let src = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let records: Vec<PresidioRecord> = serde_json::from_str(&src)
            .with_context(|| format!("cannot parse {}", path.display()))?;
        n += records.len();
        corpus
            .messages
            .extend(records.into_iter().map(|r| r.full_text));
    }
    corpus
        .sources
        .push(format!("presidio-synthetic full_text: {n} messages"));

    let mut n = 0;
    for file in ["train.csv", "dev.csv"] {
        let path = shared.join("data/psytar").join(file);
        let src = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for line in src.lines().skip(1) {
            let sentence = line.split('\t').next().unwrap_or_default().trim();
            if !sentence.is_empty() {
                corpus.messages.push(sentence.to_owned());
                n += 1;
            }
        }
    }
    corpus
        .sources
        .push(format!("PsyTAR sentences: {n} messages"));

    let mut n = 0;
    for file in ["wnut17train.conll", "emerging.dev.conll"] {
        let path = shared.join("data/ner-social/wnut17").join(file);
        let src = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let before = corpus.messages.len();
        corpus.messages.extend(conll_sentences(&src));
        n += corpus.messages.len() - before;
    }
    corpus.sources.push(format!(
        "WNUT-17 sentences rebuilt from tokens: {n} messages"
    ));
    Ok(corpus)
}

/// Sentences of a token-per-line CoNLL file, tokens joined by single spaces.
fn conll_sentences(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in src.lines().chain(std::iter::once("")) {
        let token = line.split('\t').next().unwrap_or_default().trim();
        if token.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(token);
    }
    out
}

/// A deterministic stand-in corpus of social-media-like messages, about 100 bytes each, mixing
/// clean chatter with the kinds of text the engine looks for.
pub(crate) fn synthetic() -> Corpus {
    const OPENERS: &[&str] = &[
        "Thanks so much to the team on 4 West,",
        "Honestly the parking situation is a joke,",
        "My mom started Cardiolex last week and",
        "Does anyone know if the clinic is open Sunday?",
        "Call me at 555-201-3344 because",
        "Great news from the research lab today:",
        "I've been on this med for 3 months and",
        "lol this is the best post all week,",
    ];
    const MIDDLES: &[&str] = &[
        "the nurses were kind and patient with us",
        "now she has a rash and feels dizzy all the time",
        "can I double my dose if the pain comes back",
        "visit https://example-health.org/news for details",
        "the wait in the ER was almost five hours",
        "I feel like nobody is listening to me anymore",
        "buy cheap pills online no prescription needed",
        "our new trial is enrolling adults over 18",
    ];
    const CLOSERS: &[&str] = &[
        "!",
        ".",
        "?",
        " :)",
        " #health",
        " - thoughts?",
        " 🙏",
        "...",
    ];
    let mut messages = Vec::with_capacity(4_096);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..4_096 {
        // xorshift64: a fixed sequence, so runs are comparable without a random-number crate.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let pick = |xs: &[&'static str], shift: u32| xs[(state >> shift) as usize % xs.len()];
        messages.push(format!(
            "{} {}{}",
            pick(OPENERS, 3),
            pick(MIDDLES, 17),
            pick(CLOSERS, 31)
        ));
    }
    Corpus {
        sources: vec!["built-in synthetic messages: 4096 messages".to_owned()],
        messages,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conll_rebuilds_sentences() {
        let src = "Hi\tO\nBob\tB-person\n\n\nbye\tO\n";
        assert_eq!(
            conll_sentences(src),
            vec!["Hi Bob".to_owned(), "bye".to_owned()]
        );
    }

    #[test]
    fn synthetic_is_short_and_fixed() {
        let c = synthetic();
        assert_eq!(c.messages.len(), 4_096);
        assert_eq!(c.messages[..8], synthetic().messages[..8]);
        let avg = c.messages.iter().map(String::len).sum::<usize>() / c.messages.len();
        assert!((60..=140).contains(&avg), "{avg}");
    }
}
