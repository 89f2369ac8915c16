//! Adverse events: an incoming message that describes a side effect, a reaction or a withdrawal
//! effect, with or without the suspect product named.
//!
//! The text is cut into sentence-like segments. One Aho-Corasick automaton finds drug names (the
//! trimmed drug dictionary plus the organization's products and aliases); the engine's shared
//! lexicon pass finds NegEx / ConText triggers, relation words ("my mother") and words that imply
//! a medicine ("this med"), and each segment's matches are rebuilt from their occurrences.
//! The triggers mark which tokens sit in a negated or hypothetical scope. A hashed-feature linear
//! model (`crate::model`, trained on PsyTAR) scores each segment; in a positive segment a second,
//! token-level model picks the reaction phrase. Phrases wholly inside a negated or hypothetical scope
//! are dropped ("no side effects", "worried it might cause a rash"). The four FDA elements
//! (identifiable patient, reporter, product, event) are then filled in.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::ops::Range;

use aho_corasick::{AhoCorasick, Input, MatchKind};

use super::names::{CLINICIAN_TITLES, ends_with_credential, is_credential_word};
use crate::ScreenError;
use crate::bits::Bits;
use crate::message::Direction;
use crate::model::{
    AdrModel, DRUG, GENERIC, HYP, IMPLIED, NEG, TokFeat, WordFilter, hash_bytes, word_filter_bit,
};
use crate::policy::Policy;
use crate::report::{Action, AdverseEventCandidate, Category, Element, Severity, Span};
use crate::rules::RuleInfo;
use crate::text::{Scan, Token};

use super::{Ctx, Hit, Lexeme, Lexicons, Sink};

/// The adverse-event rules.
pub(crate) const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "adverse_event.own_product",
        category: Category::AdverseEvent,
        severity: Severity::Critical,
        incoming: Some(Action::Escalate),
        outgoing: None,
        summary: "An incoming message reports a side effect of one of the organization's own products (pharmacovigilance clock).",
    },
    RuleInfo {
        id: "adverse_event.report",
        category: Category::AdverseEvent,
        severity: Severity::High,
        incoming: Some(Action::Review),
        outgoing: None,
        summary: "An incoming message reports a side effect together with a named medicine.",
    },
    RuleInfo {
        id: "adverse_event.possible",
        category: Category::AdverseEvent,
        severity: Severity::Low,
        incoming: Some(Action::Flag),
        outgoing: None,
        summary: "An incoming message describes what reads as a side effect, but names no medicine.",
    },
];

const OWN: &RuleInfo = &RULES[0];
const REPORT: &RuleInfo = &RULES[1];
const POSSIBLE: &RuleInfo = &RULES[2];

/// The most tokens one segment holds; longer sentences are cut into pieces of this size.
pub(crate) const MAX_SEG: usize = 64;

/// Blank model inputs, what a thread's [`FEATS`] starts as.
const BLANK: TokFeat = TokFeat {
    word: 0,
    prefix: 0,
    stem: 0,
    flags: 0,
    cue: false,
};

thread_local! {
    /// The model inputs of the segments of the message under way on this thread. The walk reads
    /// only inputs it has written for the same segment, so the buffer is never cleared: a fresh
    /// array cost every message 64 stores (128 past 32 tokens).
    static FEATS: RefCell<[TokFeat; MAX_SEG]> = const { RefCell::new([BLANK; MAX_SEG]) };
}

/// How many tokens a preceding negation trigger reaches (NegEx uses five words).
const NEG_REACH: usize = 5;
/// How many tokens a following negation trigger reaches back.
const POST_REACH: usize = 3;
/// How many tokens a hypothetical trigger reaches.
const HYP_REACH: usize = 8;

/// Size of a drug-key filter in 64-bit words (128 KiB).
const KEY_WORDS: usize = 1 << 14;

/// A drug-key filter: its fixed size lets every probe index it without a bounds check.
type KeyFilter = Box<[u64; KEY_WORDS]>;

/// How many three-bit patterns [`KEY_PATTERNS`] holds (a power of two).
const KEY_PATTERN_COUNT: usize = 1 << 10;

/// Three distinct bits of a 64-bit word per entry, drawn once by a fixed xorshift sequence: a
/// probe reads its bits from this table with one load where shifting three ones into place costs
/// about ten instructions a token.
const KEY_PATTERNS: [u64; KEY_PATTERN_COUNT] = key_patterns();

/// Build [`KEY_PATTERNS`].
const fn key_patterns() -> [u64; KEY_PATTERN_COUNT] {
    let mut out = [0u64; KEY_PATTERN_COUNT];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut i = 0;
    while i < KEY_PATTERN_COUNT {
        let mut bits = 0u64;
        while bits.count_ones() < 3 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bits |= 1 << (x >> 58);
        }
        out[i] = bits;
        i += 1;
    }
    out
}

/// Where a word hash sits in a drug-key filter: one 64-bit word and three bits of it, both from
/// one product (the word from its top 14 bits, the bits' pattern from the 10 below them). The
/// filter is probed for every token, and bits spread over two words cost two cache misses a token
/// where one word costs one. With 36k names about six bits of a word are set, so a word that is
/// no key passes about once in a thousand and ordinary messages rarely pay for the drug automaton.
#[inline(always)]
fn key_slot(h: u64) -> (usize, u64) {
    let b = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let pattern = (b >> 40) as usize % KEY_PATTERN_COUNT;
    (
        (b >> 50) as usize,
        KEY_PATTERNS.get(pattern).copied().unwrap_or(u64::MAX),
    )
}

/// Add word hash `h` to a drug-key filter.
fn key_add(filter: &mut KeyFilter, h: u64) {
    let (w, bits) = key_slot(h);
    if let Some(x) = filter.get_mut(w) {
        *x |= bits;
    }
}

/// Word hash `h` may be in a drug-key filter (false hits are rare, misses impossible).
#[inline(always)]
fn key_maybe(filter: &KeyFilter, h: u64) -> bool {
    let (w, bits) = key_slot(h);
    filter.get(w).is_some_and(|x| x & bits == bits)
}

/// The most tokens [`Lexicon::drug_runs_present`] reads; past this it lets the automaton decide,
/// so that the test stays linear on long text.
const MAX_RUNS: usize = 2 * MAX_SEG;

/// How many candidate longest runs [`Lexicon::drug_runs_present`] keeps from its first pass.
const DRUG_HEADS: usize = 8;

/// Size of a word bit set (the gate words, the person words: 50 to 60 words each; false hits near
/// 1.5% per word).
const GATE_BITS: usize = 1 << 12;

/// A word bit set of [`GATE_BITS`] bits.
type WordBits = Box<Bits<{ GATE_BITS / 64 }>>;

/// The bit of a word hash in a word bit set of [`GATE_BITS`] bits.
#[inline(always)]
fn gate_bit(h: u64) -> usize {
    (h.wrapping_mul(0xA076_1D64_78BD_642F) >> 52) as usize
}

/// Add word hash `h` to a word bit set.
fn bit_add(set: &mut WordBits, h: u64) {
    set.insert(gate_bit(h));
}

/// Word hash `h` may be in a word bit set (one probe; misses impossible).
#[inline(always)]
fn bit_maybe(set: &WordBits, h: u64) -> bool {
    set.contains(gate_bit(h))
}

/// Add word hash `h` to a word filter.
fn filter_add(filter: &mut WordFilter, h: u64) {
    filter.insert(word_filter_bit(h));
}

/// Word hash `h` may be in a word filter (one probe; misses impossible).
#[inline(always)]
fn filter_maybe(filter: &WordFilter, h: u64) -> bool {
    filter.contains(word_filter_bit(h))
}

const DRUGS_TSV: &str = include_str!("../../lexicons/en/drugs/drugs.tsv");
const DRUG_STOPLIST: &str = include_str!("../../lexicons/en/drugs/stoplist.txt");
const TRIGGERS_TSV: &str = include_str!("../../lexicons/en/negation/triggers.tsv");
const MODEL: &[u8] = include_bytes!("../../models/adr.bin");

/// People whose side effects the author may report; "my" marks them as identifiable to the author.
#[rustfmt::skip]
const RELATIONS: &[&str] = &[
    "my mom", "my mum", "my mother", "my dad", "my father", "my son", "my daughter", "my husband",
    "my wife", "my child", "my kid", "my kids", "my baby", "my toddler", "my brother", "my sister",
    "my grandma", "my grandmother", "my grandpa", "my grandfather", "my grandson", "my granddaughter",
    "my aunt", "my uncle", "my nephew", "my niece", "my cousin", "my friend", "my partner",
    "my boyfriend", "my girlfriend", "my fiance", "my fiancee", "my stepson", "my stepdaughter",
    "my patient", "my patients", "my client", "our son", "our daughter", "our baby", "our child",
    "my neighbour", "my neighbor", "my roommate", "my coworker", "my co-worker", "my colleague",
    "my boss", "my grandchild", "my stepmother", "my stepfather", "my mother-in-law",
    "my father-in-law",
];

/// Phrases that imply a medicine without naming it.
#[rustfmt::skip]
const IMPLIED_PHRASES: &[&str] = &[
    "this med", "this meds", "these meds", "this medication", "this medicine", "this drug",
    "the med", "the meds", "the medication", "the medicine", "the drug", "my meds", "my medication",
    "my medicine", "this pill", "these pills", "the pill", "the pills", "the vaccine", "the shot",
    "the jab", "the injection", "antidepressant", "antidepressants", "ssri", "ssris", "snri", "snris",
    "started taking", "since taking", "after taking", "while taking", "stopped taking", "coming off",
    "the dose", "my dose", "the dosage", "his dose", "her dose", "his meds", "her meds",
    "his medication", "her medication",
    // Said to the organization's page, "your" is its own medicine or vaccine.
    "your drug", "your medication", "your medicine", "your meds", "your pill", "your pills",
    "your vaccine", "your shot", "your injection",
];

/// Words for an unspecified reaction: they imply a medicine and can stand for the event itself
/// ("I quit because of the side effects" reports an adverse event without naming it).
#[rustfmt::skip]
const GENERIC_EVENTS: &[&str] = &[
    "side effect", "side effects", "side-effect", "side-effects", "side affects", "adverse reaction",
    "adverse reactions", "allergic reaction", "bad reaction", "withdrawal", "withdrawals",
    "withdrawal symptoms", "discontinuation syndrome",
];

/// The person words of [`RELATIONS`]: never part of an event phrase.
#[rustfmt::skip]
const RELATION_NOUNS: &[&str] = &[
    "mom", "mum", "mother", "dad", "father", "son", "daughter", "husband", "wife", "child", "kid", "kids",
    "baby", "toddler", "brother", "sister", "grandma", "grandmother", "grandpa", "grandfather", "grandson",
    "granddaughter", "aunt", "uncle", "nephew", "niece", "cousin", "friend", "partner", "boyfriend",
    "girlfriend", "fiance", "fiancee", "stepson", "stepdaughter", "patient", "patients", "client",
    "neighbour", "neighbor", "roommate", "coworker", "colleague", "boss", "grandchild", "stepmother",
    "stepfather",
];

/// Well-known reactions and serious outcomes that the reviews the model learned from name rarely
/// (each in fewer than ten sentences of the PsyTAR train split), so the model can miss them: next to
/// a named or implied medicine in the same sentence, and not negated, hypothetical or asked about,
/// each is an event on its own. "brain zaps" is here although the reviews name it often: they file
/// it under withdrawal, which this engine reports as a reaction (see [`GENERIC_EVENTS`]).
#[rustfmt::skip]
const KNOWN_EVENTS: &[&str] = &[
    "rash", "hives", "itching", "itchy", "swelling", "swollen", "anaphylaxis", "anaphylactic shock",
    "stroke", "heart attack", "seizure", "seizures", "fainted", "passed out", "blacked out",
    "the er", "emergency room", "in the hospital", "to the hospital", "hospitalized",
    "hospitalised", "icu", "died", "bleeding", "blood clot", "blood clots", "chest pain",
    "heart racing", "shortness of breath", "trouble breathing", "couldn't breathe", "nauseous",
    "nauseated", "vomiting", "threw up", "throwing up", "migraine", "couldn't sleep", "can't sleep",
    "hair falling out", "gained weight", "tremor", "shaking", "confused", "confusion",
    "blurry vision", "diarrhoea", "exhausted", "drowsy", "muscle pain", "joint pain", "jaundice",
    "liver damage", "kidney damage", "hallucinations", "hallucinating", "fever", "brain zaps",
    "nosebleed", "nosebleeds", "nose bleeds", "bruising", "bruises easily", "blood in my urine",
    "blood in my stool", "black stools", "coughing up blood", "allergic reaction",
    "injection site reaction", "swollen ankles", "dry cough", "muscle cramps", "stomach pain",
    "abdominal pain", "pancreatitis", "low blood sugar", "kidney failure", "liver failure",
    "irregular heartbeat",
];

/// Well-known reactions the reviews name often (each in at least ten train sentences), as often for
/// the illness treated, for what withdrawal did or for what the medicine cured as for a reaction:
/// the model has learned to tell these apart, so they are events only in a segment it reads as a
/// reaction (in 5-fold cross-validation on the train split, 28 of the 31 sentences that these
/// alone made positive were not reactions).
#[rustfmt::skip]
const COMMON_EVENTS: &[&str] = &[
    "palpitations", "dizzy", "dizziness", "vertigo", "nausea", "headache", "headaches", "migraines",
    "insomnia", "hair loss", "weight gain", "weight loss", "tremors", "memory loss",
    "blurred vision", "diarrhea", "constipation", "fatigue", "drowsiness", "numbness", "tingling",
    "nightmares", "night sweats", "sweating", "suicidal thoughts", "mood swings", "panic attacks",
    "anxiety attacks", "dry mouth",
];

/// Pronouns that point to a third person, who may be the patient a name identifies.
const THIRD_PERSON: &[&str] = &["he", "she", "him", "his", "her", "he's", "she's"];

/// People an age describes ("a 67-year-old man"), so that the age identifies a patient.
const AGE_PERSONS: &[&str] = &[
    "man",
    "woman",
    "male",
    "female",
    "boy",
    "girl",
    "patient",
    "lady",
    "gentleman",
    "guy",
    "baby",
    "child",
    "kid",
    "son",
    "daughter",
    "mother",
    "father",
];

/// Words that make the author the patient.
const FIRST_PERSON: &[&str] = &[
    "i", "me", "my", "myself", "i'm", "im", "i've", "ive", "i'd", "i'll", "mine",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    Pre,
    Post,
    Pseudo,
    Term,
    Hyp,
    Implied,
    Generic,
    Known,
    Common,
    Relation,
}

/// A run of tokens `first..end` read as one sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Index of the first token.
    pub first: usize,
    /// One past the last token.
    pub end: usize,
}

/// Something the lexicons found while marking a segment.
#[derive(Debug, Clone, Copy)]
enum Found {
    /// A drug name: pattern index and normalized byte range.
    Drug(usize, usize, usize),
    /// A phrase implying a medicine: normalized byte range.
    Implied(usize, usize),
    /// A well-known reaction: normalized byte range, and whether it is one of [`COMMON_EVENTS`]
    /// (else [`KNOWN_EVENTS`]).
    Known(usize, usize, bool),
}

/// A product the automaton can match.
#[derive(Debug, Clone)]
struct ProductName {
    /// The canonical (generic) name, or the policy product's name.
    canonical: String,
    /// One of the organization's own products.
    own: bool,
}

/// The compiled lexicons: drug names and context cues.
pub(crate) struct Lexicon {
    drugs: AhoCorasick,
    /// Drug-key filter ([`key_slot`]) over the hashes of the longest (last longest) word of every
    /// drug name ("doz" of "no doz"): the drug automaton only runs on a segment that has such a word.
    drug_keys: KeyFilter,
    /// Every drug name's alphanumeric runs ("st. john's wort": st, john, s, wort) as word hashes,
    /// sorted by the hash of its longest run, which comes first.
    drug_runs: Vec<Box<[u64]>>,
    /// The first hash of each of `drug_runs`, in the same order: the binary search reads this flat
    /// array rather than one heap allocation per probe.
    drug_heads: Vec<u64>,
    /// Drug-key filter over the longest-run hashes of `drug_runs`.
    run_keys: KeyFilter,
    /// Some drug name has no alphanumeric run, so runs cannot rule a match out.
    runless: bool,
    products: Vec<ProductName>,
    /// The context cues (NegEx / ConText triggers, relations, implied medicines, reactions). The
    /// detector reads their occurrences from the engine's shared lexicon pass.
    cue_patterns: Vec<String>,
    /// What each of `cue_patterns` marks.
    cue_kinds: Vec<Cue>,
    /// The cues alone, for training, which has no shared pass.
    cues: Lexicons<1>,
}

fn compile_error(what: &str, e: impl std::fmt::Display) -> ScreenError {
    ScreenError::Compile {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

impl Lexicon {
    /// The built-in lexicons with the organization's products added.
    pub fn new(policy: &Policy) -> Result<Self, ScreenError> {
        Lexicon::with_keys(policy).map(|(lex, _)| lex)
    }

    /// [`Lexicon::new`], and the hash of every drug name's key word (those `drug_keys` holds).
    fn with_keys(policy: &Policy) -> Result<(Self, Vec<u64>), ScreenError> {
        let stop: HashSet<&str> = DRUG_STOPLIST
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let mut patterns: Vec<String> = Vec::with_capacity(36_000);
        let mut products: Vec<ProductName> = Vec::with_capacity(36_000);
        for p in &policy.products {
            for name in std::iter::once(&p.name)
                .chain(std::iter::once(&p.generic))
                .chain(p.aliases.iter())
            {
                let norm = Scan::new(name.trim()).norm;
                if norm.chars().filter(|c| c.is_alphanumeric()).count() < 3 {
                    continue;
                }
                patterns.push(norm);
                products.push(ProductName {
                    canonical: p.name.trim().to_owned(),
                    own: true,
                });
            }
        }
        for line in DRUGS_TSV.lines() {
            let mut cols = line.split('\t');
            let Some(variant) = cols.next().filter(|v| !v.is_empty()) else {
                continue;
            };
            if stop.contains(variant) {
                continue;
            }
            let canonical = cols.next().unwrap_or(variant);
            patterns.push(variant.to_owned());
            products.push(ProductName {
                canonical: canonical.to_owned(),
                own: false,
            });
        }
        let mut drug_keys: KeyFilter = Box::new([0; KEY_WORDS]);
        let mut key_hashes: Vec<u64> = Vec::with_capacity(patterns.len());
        for p in &patterns {
            let scan = Scan::new(p);
            if let Some(t) = scan.tokens.iter().max_by_key(|t| t.end - t.start) {
                let h = hash_bytes(scan.norm.as_bytes().get(t.start..t.end).unwrap_or_default());
                key_add(&mut drug_keys, h);
                key_hashes.push(h);
            }
        }
        let mut drug_runs: Vec<Box<[u64]>> = Vec::with_capacity(patterns.len());
        let mut run_keys: KeyFilter = Box::new([0; KEY_WORDS]);
        let mut runless = false;
        for p in &patterns {
            let mut runs: Vec<&str> = p
                .split(|c: char| !c.is_alphanumeric())
                .filter(|r| !r.is_empty())
                .collect();
            let Some(longest) = runs
                .iter()
                .enumerate()
                .max_by_key(|(_, r)| r.len())
                .map(|(i, _)| i)
            else {
                runless = true;
                continue;
            };
            runs.swap(0, longest);
            let hashes: Box<[u64]> = runs.iter().map(|r| hash_bytes(r.as_bytes())).collect();
            key_add(&mut run_keys, hashes[0]);
            drug_runs.push(hashes);
        }
        drug_runs.sort_unstable();
        drug_runs.dedup();
        let drug_heads = drug_runs
            .iter()
            .map(|d| d.first().copied().unwrap_or_default())
            .collect();
        // States of the first three bytes of a name hold a full transition table (two by
        // default): a search spends most of its bytes there, and a dense state answers in one
        // load where a sparse one is searched. Depth 3 costs 0.35 MiB; depth 4 and 6 gained
        // little more for 1.6 and 6 MiB.
        let drugs = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .dense_depth(3)
            .build(&patterns)
            .map_err(|e| compile_error("drug lexicon", e))?;

        let mut cue_patterns: Vec<String> = Vec::new();
        let mut cue_kinds = Vec::new();
        for line in TRIGGERS_TSV.lines().filter(|l| !l.starts_with('#')) {
            let mut cols = line.split('\t');
            let (Some(kind), Some(phrase)) = (cols.next(), cols.next()) else {
                continue;
            };
            let kind = match kind {
                "pre" => Cue::Pre,
                "post" => Cue::Post,
                "pseudo" => Cue::Pseudo,
                "term" => Cue::Term,
                "hyp" => Cue::Hyp,
                _ => {
                    return Err(compile_error(
                        "negation triggers",
                        format!("unknown kind `{kind}`"),
                    ));
                }
            };
            cue_patterns.push(phrase.to_owned());
            cue_kinds.push(kind);
        }
        let built_in = [
            (RELATIONS, Cue::Relation),
            (IMPLIED_PHRASES, Cue::Implied),
            (GENERIC_EVENTS, Cue::Generic),
            (KNOWN_EVENTS, Cue::Known),
            (COMMON_EVENTS, Cue::Common),
        ];
        for (phrases, kind) in built_in {
            for &r in phrases {
                cue_patterns.push(r.to_owned());
                cue_kinds.push(kind);
            }
        }
        let cues = Lexicons::new([&cue_patterns])?;
        let lex = Lexicon {
            drugs,
            drug_keys,
            drug_runs,
            drug_heads,
            run_keys,
            runless,
            products,
            cue_patterns,
            cue_kinds,
            cues,
        };
        Ok((lex, key_hashes))
    }

    /// The built-in lexicons alone, as used for training.
    pub fn base() -> Result<Self, ScreenError> {
        Lexicon::new(&Policy::default())
    }

    /// Complete the model inputs `out` of `seg`'s tokens (filled by [`TokFeat::new`], flags
    /// empty), marking negated, hypothetical and drug tokens, and report drug names, relations and
    /// implied products to `found`. `cues` are the occurrences of the cue patterns in the text
    /// ([`Lexicons::occurrences`]), `maybe_drug` says whether some word may be a drug's key word
    /// (else the drug automaton is skipped); `drug_cue` is the `cue` bit of a drug token.
    #[allow(clippy::too_many_arguments)]
    fn mark(
        &self,
        scan: &Scan<'_>,
        seg: Segment,
        cues: &[Lexeme],
        maybe_drug: bool,
        drug_cue: bool,
        out: &mut [TokFeat],
        found: &mut dyn FnMut(Found),
    ) {
        let n = seg.end.saturating_sub(seg.first).min(out.len());
        let (Some(first), Some(last)) = (
            scan.tokens.get(seg.first),
            scan.tokens.get(seg.first + n.saturating_sub(1)),
        ) else {
            return;
        };
        let range = first.start..last.end;
        let Some(flags) = out.get_mut(..n) else {
            return;
        };
        let tokens = scan
            .tokens
            .get(seg.first..seg.first + n)
            .unwrap_or_default();
        // The segment's token at or after a byte of it: a search of the segment, not the text.
        let local = |pos: usize| tokens.partition_point(|t| t.start < pos);
        for m in leftmost_longest_within(cues, range.clone()) {
            if !scan.at_word_boundaries(m.range.clone()) {
                continue;
            }
            let (start, end) = (m.range.start, m.range.end);
            let begin = local(start);
            let after = local(end);
            let kind = self
                .cue_kinds
                .get(m.pattern)
                .copied()
                .unwrap_or(Cue::Pseudo);
            match kind {
                Cue::Pre => set(flags, after..(after + NEG_REACH).min(n), NEG),
                Cue::Post => set(flags, begin.saturating_sub(POST_REACH)..begin, NEG),
                Cue::Hyp => set(flags, after..(after + HYP_REACH).min(n), HYP),
                Cue::Term => flags
                    .iter_mut()
                    .skip(begin)
                    .for_each(|f| f.flags &= !(NEG | HYP)),
                Cue::Pseudo => {}
                Cue::Implied => {
                    set(flags, begin..after, IMPLIED);
                    found(Found::Implied(start, end));
                }
                Cue::Generic => {
                    set(flags, begin..after, GENERIC);
                    found(Found::Implied(start, end));
                }
                Cue::Relation => {}
                Cue::Known => found(Found::Known(start, end, false)),
                Cue::Common => found(Found::Known(start, end, true)),
            }
        }
        let drug_matches = (maybe_drug && self.drug_runs_present(scan, tokens))
            .then(|| self.drugs.find_iter(Input::new(&scan.norm).range(range)));
        for m in drug_matches.into_iter().flatten() {
            if !scan.at_word_boundaries(m.range()) {
                continue;
            }
            let begin = local(m.start());
            let after = local(m.end());
            for slot in flags
                .iter_mut()
                .skip(begin)
                .take(after.saturating_sub(begin))
            {
                slot.flags |= DRUG;
                slot.make_drug(drug_cue);
            }
            found(Found::Drug(m.pattern().as_usize(), m.start(), m.end()));
        }
    }

    /// Model inputs for the tokens of `seg` (at most [`MAX_SEG`]), for training (`cue` unset).
    pub fn token_feats(&self, scan: &Scan<'_>, seg: Segment, out: &mut [TokFeat]) {
        let tokens = scan.tokens.get(seg.first..seg.end).unwrap_or_default();
        for (slot, t) in out.iter_mut().zip(tokens) {
            let word = scan.norm.as_bytes().get(t.start..t.end).unwrap_or_default();
            *slot = TokFeat::new(word, t.hash, t.shape.has_digit(), 0);
        }
        let n = tokens.len().min(out.len());
        let tokens = tokens.get(..n).unwrap_or_default();
        let maybe_drug = tokens.iter().any(|t| self.may_be_drug(t.hash));
        let [cues] = self.cues.occurrences(&scan.norm);
        self.mark(scan, seg, &cues, maybe_drug, false, out, &mut |_| {});
    }

    /// The cue patterns, in the order of the pattern indices [`Lexicon::mark`] reads.
    pub(crate) fn cue_patterns(&self) -> &[String] {
        &self.cue_patterns
    }

    /// True when `h` may be the key word of a drug name (false hits are rare, misses impossible).
    fn may_be_drug(&self, h: u64) -> bool {
        key_maybe(&self.drug_keys, h)
    }

    /// The first relation ("my mother") named anywhere in the text, as a leftmost-longest search of
    /// the whole text for the cues finds it, from their occurrences `cues`.
    fn first_relation(&self, scan: &Scan<'_>, cues: &[Lexeme]) -> Option<Range<usize>> {
        leftmost_longest_within(cues, 0..scan.norm.len())
            .find(|m| {
                self.cue_kinds.get(m.pattern) == Some(&Cue::Relation)
                    && scan.at_word_boundaries(m.range.clone())
            })
            .map(|m| m.range.clone())
    }

    /// Record the original spans of the drug names in `scan`; true when there is one. The automaton
    /// only runs, once, when some word may be a drug's key word and some name has all its runs.
    fn drug_spans(&self, scan: &Scan<'_>, out: &mut Vec<Span>) -> bool {
        if !scan.tokens.iter().any(|t| self.may_be_drug(t.hash))
            || !self.drug_runs_present(scan, &scan.tokens)
        {
            return false;
        }
        let before = out.len();
        out.extend(
            self.drugs
                .find_iter(scan.norm.as_str())
                .filter(|m| scan.at_word_boundaries(m.range()))
                .map(|m| scan.orig(m.range())),
        );
        out.len() > before
    }

    /// False when no drug name can match at word boundaries within `tokens`, so the drug automaton
    /// would find nothing there. A match bounded by non-alphanumerics has every alphanumeric run of
    /// its name as a whole run of the text, so some name must have all its runs among the tokens'
    /// runs (the tokens' pieces between apostrophes). Words that are only the key word of a longer
    /// name ("day", "first") then no longer cost an automaton pass. Past [`MAX_RUNS`] tokens it
    /// lets the automaton decide, so that the test stays linear on long text.
    fn drug_runs_present(&self, scan: &Scan<'_>, tokens: &[Token]) -> bool {
        if self.runless || tokens.len() > MAX_RUNS {
            return true;
        }
        // The runs of the tokens as a 256-bit set: a candidate name's other runs are searched for
        // among the tokens only once each is in it, and most names keyed by a common word ("day")
        // fail there without a pass over the tokens. The same pass keeps the runs that may be a
        // name's longest run (few), so that only they are looked up afterwards.
        let mut seen = [0u64; 4];
        let run_bit = |r: u64| ((r >> 62) as usize, 1u64 << (r >> 56 & 63));
        let mut heads = [0u64; DRUG_HEADS];
        let mut n_heads = 0;
        any_run(scan, tokens, |r| {
            let (w, bit) = run_bit(r);
            if let Some(x) = seen.get_mut(w) {
                *x |= bit;
            }
            if key_maybe(&self.run_keys, r) {
                if let Some(h) = heads.get_mut(n_heads) {
                    *h = r;
                }
                n_heads += 1;
            }
            false
        });
        let maybe_seen = |r: u64| {
            let (w, bit) = run_bit(r);
            seen.get(w).is_some_and(|x| x & bit != 0)
        };
        let present = |r: u64| {
            let from = self.drug_heads.partition_point(|&h| h < r);
            let heads = self.drug_heads.get(from..).unwrap_or_default();
            let names = self.drug_runs.get(from..).unwrap_or_default();
            heads
                .iter()
                .zip(names)
                .take_while(|(h, _)| **h == r)
                .any(|(_, d)| {
                    d.get(1..)
                        .unwrap_or_default()
                        .iter()
                        .all(|&h| maybe_seen(h) && any_run(scan, tokens, |x| x == h))
                })
        };
        match heads.get(..n_heads) {
            Some(kept) => kept.iter().any(|&r| present(r)),
            // More candidates than were kept: look them up again in a second pass.
            None => any_run(scan, tokens, |r| key_maybe(&self.run_keys, r) && present(r)),
        }
    }
}

/// The matches a leftmost-longest search of `range` alone finds, from the occurrences `cues`
/// ([`Lexicons::occurrences`]: by start, the longest first): those wholly inside the range, each
/// after the end of the one before.
fn leftmost_longest_within(cues: &[Lexeme], range: Range<usize>) -> impl Iterator<Item = &Lexeme> {
    let Range { start, end } = range;
    let from = cues.partition_point(|l| l.range.start < start);
    let mut taken = start;
    cues.get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(move |l| l.range.start < end)
        .filter(move |l| {
            let next = l.range.start >= taken && l.range.end <= end;
            if next {
                taken = l.range.end;
            }
            next
        })
}

/// True when `f` holds for the hash of some alphanumeric run of `tokens`: a token's own hash, or
/// for a word with apostrophes ("john's") the hash of each piece between them.
fn any_run(scan: &Scan<'_>, tokens: &[Token], mut f: impl FnMut(u64) -> bool) -> bool {
    tokens.iter().any(|t| {
        if !t.shape.apostrophe() {
            return f(t.hash);
        }
        scan.norm
            .as_bytes()
            .get(t.start..t.end)
            .unwrap_or_default()
            .split(|&b| b == b'\'')
            .any(|r| f(hash_bytes(r)))
    })
}

/// Set `bit` on the flags of tokens `r` (clipped to the slice).
fn set(toks: &mut [TokFeat], r: Range<usize>, bit: u8) {
    toks.iter_mut()
        .skip(r.start)
        .take(r.len())
        .for_each(|t| t.flags |= bit);
}

/// True when a segment of `len` tokens ends after its last token `a`, whose successor in the text
/// is `next`: it holds [`MAX_SEG`] tokens, or the gap before the next token ends a sentence, or no
/// token follows. The walk answers the common gap, one space, before it asks.
#[inline(always)]
fn ends_segment(norm: &[u8], a: &Token, next: Option<&Token>, len: usize) -> bool {
    let Some(b) = next else { return true };
    len >= MAX_SEG || ends_sentence(norm.get(a.end..b.start).unwrap_or_default())
}

/// True when the text between two tokens ends a sentence: it holds `!`, `?`, `;` or a line break,
/// or a period and some white space ("2.5 mg" and "e.g." do not end one).
fn ends_sentence(gap: &[u8]) -> bool {
    let class = gap.iter().fold(0, |c, &b| {
        c | GAP_CLASS.get(usize::from(b)).copied().unwrap_or(0)
    });
    class & GAP_END != 0 || class & (GAP_DOT | GAP_SPACE) == GAP_DOT | GAP_SPACE
}

/// [`GAP_CLASS`] bit: the byte ends a sentence on its own (`!`, `?`, `;`, a line break).
const GAP_END: u8 = 1;
/// [`GAP_CLASS`] bit: a period.
const GAP_DOT: u8 = 2;
/// [`GAP_CLASS`] bit: ASCII white space.
const GAP_SPACE: u8 = 4;

/// What each byte of a gap says to [`ends_sentence`]: one load and an or per byte, where tests
/// in turn cost a branch each.
const GAP_CLASS: [u8; 256] = gap_classes();

/// Build [`GAP_CLASS`].
const fn gap_classes() -> [u8; 256] {
    let mut out = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        out[b] = match c {
            b'!' | b'?' | b'\n' | b';' => GAP_END,
            b'.' => GAP_DOT,
            _ if c.is_ascii_whitespace() => GAP_SPACE,
            _ => 0,
        };
        b += 1;
    }
    out
}

/// One reaction phrase found in a positive segment.
#[derive(Debug, Clone)]
struct Event {
    /// Normalized byte range of the phrase.
    norm: Range<usize>,
    /// The segment it was found in.
    seg: Segment,
    /// How sure the segment model is (log-odds over threshold).
    margin: f32,
    /// A listed reaction or serious outcome ([`KNOWN_EVENTS`], [`COMMON_EVENTS`]), not a phrase
    /// the model marked.
    listed: bool,
}

/// The compiled adverse-event detector.
pub(crate) struct Detector {
    lex: Lexicon,
    model: AdrModel,
    /// Sorted word hashes of first-person pronouns and relation nouns: never part of an event.
    persons: Vec<u64>,
    /// Bit set (one probe, 4096 bits) over `persons`, which nearly every word fails: a probe
    /// costs less than the binary search it spares.
    person_words: WordBits,
    /// Bit set (one probe, 4096 bits) over the longest word of each medicine-implying or
    /// unspecified-reaction phrase.
    gate_words: WordBits,
    /// Bit set (one probe, 4096 bits) over [`FIRST_PERSON`] and [`THIRD_PERSON`]: the patient
    /// search compares a word's bytes with those lists only when its hash passes.
    pronoun_words: WordBits,
    /// One probe that every drug key, `gate_words` word and event-cue word passes, and about two
    /// words in a hundred besides: most words then skip the three exact probes.
    words: WordFilter,
    /// The word hash every token with a digit shares is an event cue.
    num_cue: bool,
}

impl Detector {
    /// Compile for `policy`.
    pub fn new(policy: &Policy) -> Result<Self, ScreenError> {
        let model = AdrModel::from_bytes(MODEL)
            .map_err(|e| compile_error("adverse-reaction model", e.0))?;
        Detector::with_model(policy, model)
    }

    /// Compile for `policy` with `model` in place of the shipped one (training cross-validates the
    /// whole detector with each fold's model).
    pub(crate) fn with_model(policy: &Policy, model: AdrModel) -> Result<Self, ScreenError> {
        let mut persons: Vec<u64> = FIRST_PERSON
            .iter()
            .chain(RELATION_NOUNS)
            .map(|w| hash_bytes(w.as_bytes()))
            .collect();
        persons.sort_unstable();
        let mut person_words: WordBits = Bits::boxed();
        for &h in &persons {
            bit_add(&mut person_words, h);
        }
        let mut pronoun_words: WordBits = Bits::boxed();
        for w in FIRST_PERSON.iter().chain(THIRD_PERSON) {
            bit_add(&mut pronoun_words, hash_bytes(w.as_bytes()));
        }
        let (lex, key_hashes) = Lexicon::with_keys(policy)?;
        let mut words = model.cue_word_filter();
        let mut gate_words: WordBits = Bits::boxed();
        for p in IMPLIED_PHRASES.iter().chain(GENERIC_EVENTS) {
            let scan = Scan::new(p);
            if let Some(t) = scan.tokens.iter().max_by_key(|t| t.end - t.start) {
                let h = hash_bytes(scan.norm.as_bytes().get(t.start..t.end).unwrap_or_default());
                bit_add(&mut gate_words, h);
                filter_add(&mut words, h);
            }
        }
        for h in key_hashes {
            filter_add(&mut words, h);
        }
        let num_cue = model.is_event_cue(&TokFeat::new(b"0", 0, true, 0));
        Ok(Detector {
            lex,
            model,
            persons,
            person_words,
            gate_words,
            pronoun_words,
            words,
            num_cue,
        })
    }

    /// The context cue patterns, for the engine's shared lexicon pass over incoming messages.
    pub fn cue_patterns(&self) -> &[String] {
        self.lex.cue_patterns()
    }

    /// Append hits for one message; `cues` are the occurrences of [`Detector::cue_patterns`] in
    /// it ([`Lexicons::occurrences`]).
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink, cues: &[Lexeme]) {
        let scan = cx.scan;
        if cx.msg.direction == Direction::Outgoing {
            if self.lex.drug_spans(scan, &mut sink.products) {
                sink.health_context = true;
            }
            return;
        }
        let mut found: Vec<(Found, Segment)> = Vec::new();
        let mut events: Vec<Event> = Vec::new();
        self.find_events(scan, cues, &mut found, &mut events);
        for (f, _) in &found {
            if let Found::Drug(_, start, end) = f {
                sink.products.push(scan.orig(*start..*end));
                sink.health_context = true;
            }
        }
        if events.is_empty() {
            return;
        }
        sink.health_context = true;
        self.report(scan, cues, &found, &events, sink);
    }

    /// True when the detector finds a reaction in `text` read as an incoming message, for
    /// cross-validating the whole detector in training (which has no shared lexicon pass).
    pub(crate) fn finds_event(&self, text: &str) -> bool {
        let scan = Scan::new(text);
        let [cues] = self.lex.cues.occurrences(&scan.norm);
        let mut found = Vec::new();
        let mut events = Vec::new();
        self.find_events(&scan, &cues, &mut found, &mut events);
        !events.is_empty()
    }

    /// Push what the lexicons find in each segment worth scoring to `found`, and the reaction
    /// phrases (listed ones and those the models mark) to `events`.
    #[inline(always)]
    fn find_events(
        &self,
        scan: &Scan<'_>,
        cues: &[Lexeme],
        found: &mut Vec<(Found, Segment)>,
        events: &mut Vec<Event>,
    ) {
        FEATS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut feats) => self.walk(scan, cues, &mut feats, found, events),
            // Not reached: nothing the walk calls screens another message on this thread.
            Err(_) => self.walk(scan, cues, &mut [BLANK; MAX_SEG], found, events),
        });
    }

    /// [`Detector::find_events`] with the model inputs of a segment in `feats`, which holds every
    /// segment of the scan (none is longer than [`MAX_SEG`]).
    #[inline(always)]
    fn walk(
        &self,
        scan: &Scan<'_>,
        cues: &[Lexeme],
        feats: &mut [TokFeat; MAX_SEG],
        found: &mut Vec<(Found, Segment)>,
        events: &mut Vec<Event>,
    ) {
        let norm = scan.norm.as_bytes();
        // One walk over the words builds each segment's model inputs and finds where it ends; a
        // segment is scored once its last word is in. The segment is `first..first + k`.
        let (mut first, mut k, mut worth, mut maybe_drug) = (0, 0, false, false);
        let mut rest = scan.tokens.as_slice();
        while let Some((t, after)) = rest.split_first() {
            rest = after;
            // Token `k` of the segment: a segment never holds more than `MAX_SEG` tokens, and the
            // remainder only spares a bounds check.
            if let Some(f) = feats.get_mut(k % MAX_SEG) {
                // Most words have no digit and fail the one probe: their inputs are the word hash
                // and, for a long word, its prefix, which alone can make the word an event cue.
                let probe = filter_maybe(&self.words, t.hash);
                if !t.shape.has_digit() && !probe {
                    let prefix = TokFeat::prefix_of(norm, t);
                    let cue = prefix != 0 && self.model.is_cue_hash(prefix);
                    *f = TokFeat {
                        word: t.hash,
                        prefix,
                        stem: 0,
                        flags: 0,
                        cue,
                    };
                    worth |= cue;
                } else {
                    let (drug, pass) = self.word_inputs(norm, t, probe, f);
                    maybe_drug |= drug;
                    worth |= pass;
                }
            }
            k += 1;
            let next = after.first();
            // Most gaps are one space inside a segment with room left: the next token read
            // through the rest of the walk, and one byte.
            if let Some(b) = next
                && k < MAX_SEG
                && b.start.wrapping_sub(t.end) == 1
                && norm.get(t.end) == Some(&b' ')
            {
                continue;
            }
            if ends_segment(norm, t, next, k) {
                if worth {
                    let seg = Segment {
                        first,
                        end: first + k,
                    };
                    self.score_segment(scan, cues, seg, maybe_drug, feats, found, events);
                }
                (first, k, worth, maybe_drug) = (first + k, 0, false, false);
            }
        }
    }

    /// The model inputs of word `t` into `f` (flags empty, event-cue bit set), given whether its
    /// hash passes the word filter (`probe`), and the cheap tests that come before any automaton:
    /// whether it may be a drug's key word, and whether it lets its segment be worth scoring (it
    /// may be a drug name, is the key word of a medicine-implying or unspecified-reaction phrase,
    /// or is an event cue: everything the model's gate accepts passes). A segment with nothing to
    /// score still needs every word's tests, and those build most of its model inputs (the
    /// event-cue bit), so one pass serves both kinds. Out of line: [`Detector::find_events`]
    /// answers the common word itself.
    #[inline(never)]
    fn word_inputs(&self, norm: &[u8], t: &Token, probe: bool, f: &mut TokFeat) -> (bool, bool) {
        *f = TokFeat::of_token(norm, t);
        let (mut drug, mut gate, mut word_cue) = (false, false, false);
        if probe {
            drug = self.lex.may_be_drug(t.hash);
            gate = bit_maybe(&self.gate_words, t.hash);
            word_cue = self.model.is_cue_hash(t.hash);
        }
        // A token with a digit stands for its class in the model, whose cue bit is fixed.
        let word_cue = if t.shape.has_digit() {
            self.num_cue
        } else {
            word_cue
        };
        f.cue = word_cue || (f.prefix != 0 && self.model.is_cue_hash(f.prefix));
        (drug, drug || gate || f.cue)
    }

    /// Mark and score segment `seg`, whose model inputs `feats` holds (at most [`MAX_SEG`]), as
    /// [`Detector::find_events`] does for a segment worth scoring; `maybe_drug` says whether some
    /// word may be a drug's key word.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn score_segment(
        &self,
        scan: &Scan<'_>,
        cues: &[Lexeme],
        seg: Segment,
        maybe_drug: bool,
        feats: &mut [TokFeat],
        found: &mut Vec<(Found, Segment)>,
        events: &mut Vec<Event>,
    ) {
        let n = seg.end.saturating_sub(seg.first).min(MAX_SEG);
        let Some(toks) = feats.get_mut(..n) else {
            return;
        };
        let before = found.len();
        let drug_cue = self.model.drug_is_cue();
        self.lex
            .mark(scan, seg, cues, maybe_drug, drug_cue, toks, &mut |f| {
                found.push((f, seg))
            });
        // The model learned from drug reviews, where every sentence is about a medicine: elsewhere
        // it only gets a say when a reaction word, a drug or an implied medicine is present. A
        // listed reaction counts only next to a medicine, which passes the gate, so a segment that
        // fails it has nothing to find.
        if !self.model.passes_gate(toks) {
            return;
        }
        // Stems are segment features only, so the walk leaves them to the few segments scored.
        let norm = scan.norm.as_bytes();
        let tokens = scan.tokens.get(seg.first..).unwrap_or_default();
        for (f, t) in toks.iter_mut().zip(tokens) {
            if f.flags & DRUG == 0 && !t.shape.has_digit() {
                f.stem = TokFeat::stem_of(norm, t);
            }
        }
        let margin = self.model.segment_margin(toks);
        if let Some(new) = found.get(before..) {
            known_events(scan, seg, toks, new, margin > 0.0, events);
        }
        if margin > 0.0 && !general_question(scan, seg) {
            self.reaction_phrases(scan, seg, toks, margin, events);
        }
    }

    /// Push the reaction phrases of a positive segment: runs of tokens the token model accepts that
    /// hold a word typical of reactions (which rules out bare drug names), else the best such word.
    /// Phrases wholly negated or hypothetical are dropped.
    ///
    /// Only the runs around a reaction word can become phrases, so words are scored as those runs
    /// need them; the whole segment is scored only when none of them gives a phrase.
    fn reaction_phrases(
        &self,
        scan: &Scan<'_>,
        seg: Segment,
        toks: &[TokFeat],
        margin: f32,
        events: &mut Vec<Event>,
    ) {
        let toks = toks.get(..MAX_SEG).unwrap_or(toks);
        let n = toks.len();
        let mut scores = Scores {
            of: [0.0; MAX_SEG],
            known: 0,
        };
        let reaction = |j: usize| toks.get(j).is_some_and(|t| t.cue || t.flags & GENERIC != 0);
        let negated = |run: &Range<usize>| {
            toks.get(run.clone())
                .is_some_and(|r| r.iter().all(|t| t.flags & (NEG | HYP) != 0))
        };
        let mut negated_any = false;
        let mut pushed = false;
        // Each run of accepted tokens that holds a reaction word, in order.
        let mut j = 0;
        while j < n {
            if !reaction(j) || scores.get(self, toks, j) <= 0.0 {
                j += 1;
                continue;
            }
            let mut start = j;
            while start > 0 && scores.get(self, toks, start - 1) > 0.0 {
                start -= 1;
            }
            let mut end = j + 1;
            while end < n && scores.get(self, toks, end) > 0.0 {
                end += 1;
            }
            let run = start..end;
            j = end;
            if negated(&run) {
                negated_any = true;
                continue;
            }
            pushed |= leads_into_listed(scan, seg, events, &run)
                || self.push_event(scan, seg, toks, run, margin, events);
        }
        if pushed || negated_any {
            return;
        }
        // No phrase yet: a wholly negated run without a reaction word still says the segment's
        // reaction is denied, and the anchor below compares every reaction word.
        for j in 0..n {
            scores.get(self, toks, j);
        }
        let scores = scores.of.get(..n).unwrap_or_default();
        let mut j = 0;
        while j < n && !negated_any {
            let start = j;
            while scores.get(j).is_some_and(|&s| s > 0.0) {
                j += 1;
            }
            if j == start {
                j += 1;
                continue;
            }
            negated_any = negated(&(start..j));
        }
        if negated_any {
            return;
        }
        // The segment reads as a reaction but the token model found no phrase with a reaction word:
        // anchor the phrase on the best-scoring reaction word that is not negated.
        if let Some(j) = reaction_anchor(toks, scores) {
            self.push_event(scan, seg, toks, j..j + 1, margin, events);
        }
    }

    /// Log-odds that token `j` of `toks` is part of the reaction phrase; minus infinity for a
    /// person, who is the patient element, never part of the event.
    fn token_score(&self, toks: &[TokFeat], j: usize) -> f32 {
        let person = toks.get(j).is_some_and(|t| {
            bit_maybe(&self.person_words, t.word) && self.persons.binary_search(&t.word).is_ok()
        });
        if person {
            f32::NEG_INFINITY
        } else {
            self.model.token_score(toks, j)
        }
    }

    /// Push tokens `run` of `seg` as an event, widened to whole unspecified-reaction phrases ("side"
    /// becomes "side effects"); false when the tokens are out of range.
    fn push_event(
        &self,
        scan: &Scan<'_>,
        seg: Segment,
        toks: &[TokFeat],
        run: Range<usize>,
        margin: f32,
        events: &mut Vec<Event>,
    ) -> bool {
        let generic = |j: usize| toks.get(j).is_some_and(|t| t.flags & GENERIC != 0);
        let mut run = run;
        while run.start > 0 && generic(run.start) && generic(run.start - 1) {
            run.start -= 1;
        }
        while run.end < toks.len() && generic(run.end - 1) && generic(run.end) {
            run.end += 1;
        }
        let (Some(a), Some(b)) = (
            scan.tokens.get(seg.first + run.start),
            scan.tokens.get(seg.first + run.end.saturating_sub(1)),
        ) else {
            return false;
        };
        events.push(Event {
            norm: a.start..b.end,
            seg,
            margin,
            listed: false,
        });
        true
    }

    /// Build the candidate and one hit per reaction phrase.
    fn report(
        &self,
        scan: &Scan<'_>,
        cues: &[Lexeme],
        found: &[(Found, Segment)],
        events: &[Event],
        sink: &mut Sink,
    ) {
        // `found` is in text order, so these lists are sorted by start.
        let drugs: Vec<DrugMention<'_>> = found
            .iter()
            .filter_map(|(f, seg)| match *f {
                Found::Drug(p, s, e) => self.lex.products.get(p).map(|info| (info, s..e, *seg)),
                _ => None,
            })
            .collect();
        let own: Vec<DrugMention<'_>> = drugs.iter().filter(|d| d.0.own).cloned().collect();
        let implied = found.iter().find_map(|(f, _)| match *f {
            Found::Implied(s, e) => Some(s..e),
            _ => None,
        });
        let patient = self.patient(scan, cues, &sink.hits, &sink.products);
        let reporter = patient.as_ref().map(|_| Element {
            found: true,
            span: None,
            text: None,
        });
        // A string of its own only for a named patient: the author and no one are fixed text.
        let who: Cow<'static, str> = match patient.as_ref().and_then(|p| p.text.as_deref()) {
            Some(t) if is_first_person(t) => "the author is the patient and the reporter".into(),
            Some(t) => ["the patient is \"", t, "\" and the author is the reporter"]
                .concat()
                .into(),
            None => "no identifiable patient or reporter yet".into(),
        };
        let mut best: Option<(AdverseEventCandidate, (bool, bool, f32))> = None;
        for ev in events {
            let product = nearest(&own, ev)
                .or_else(|| nearest(&drugs, ev))
                .map(|(info, r, _)| (*info, r.clone()));
            let event_span = scan.orig(ev.norm.clone());
            let event_text = scan.orig_text(ev.norm.clone());
            let reportable = patient.is_some() && reporter.is_some() && product.is_some();
            let hit = match &product {
                Some((info, r)) => {
                    let named = scan.orig_text(r.clone());
                    let completeness = if reportable {
                        "all four reportable elements are present"
                    } else {
                        "not yet a complete report"
                    };
                    if info.own {
                        Hit::new(OWN, event_span, join(&[
                            "\"", event_text, "\" is described after taking ", named, ", one of your products (", completeness, "; ", &who,
                            "): an adverse-event report that starts the pharmacovigilance reporting clock.",
                        ]))
                        .suggest("Escalate to pharmacovigilance now; reply privately to ask for contact details, and do not discuss the case publicly.")
                    } else {
                        let (open, canonical, close) = if info.canonical.eq_ignore_ascii_case(named)
                        {
                            ("", "", "")
                        } else {
                            (" (", info.canonical.as_str(), ")")
                        };
                        Hit::new(REPORT, event_span, join(&[
                            "\"", event_text, "\" is described with ", named, open, canonical, close, ", a possible adverse drug reaction (", completeness, "; ", &who,
                            ") that should reach the manufacturer or the FDA MedWatch programme.",
                        ]))
                        .suggest("Review it, forward it to pharmacovigilance or point the author to MedWatch, and reply privately rather than in public.")
                    }
                }
                None => {
                    let (open, hint, close) = implied.as_ref().map_or(("", "", ""), |r| {
                        (" (\"", scan.orig_text(r.clone()), "\" implies one)")
                    });
                    let hit = Hit::new(POSSIBLE, event_span, join(&[
                        "\"", event_text, "\" reads as a side effect or reaction but no medicine is named", open, hint, close,
                        ", so it may be an adverse event that needs the product asked for.",
                    ]))
                    .suggest("Ask privately which medicine was involved before treating it as an adverse-event report.");
                    if implied.is_some() { hit.boost(1) } else { hit }
                }
            };
            sink.hits.push(hit);
            // A named product first; then a listed reaction or serious outcome ("the ER"), which is
            // exact, over a phrase the model marked, whose edges are approximate; then the model's
            // certainty.
            let rank = (product.is_some(), ev.listed, ev.margin);
            // The elements are built only for a better candidate: long texts have many events.
            if best.as_ref().is_none_or(|(_, r)| rank > *r) {
                let candidate = AdverseEventCandidate {
                    reportable: reportable && !event_text.is_empty(),
                    patient: patient.clone().unwrap_or_else(Element::missing),
                    reporter: reporter.clone().unwrap_or_else(Element::missing),
                    product: product
                        .as_ref()
                        .map_or_else(Element::missing, |(_, r)| element(scan, r.clone())),
                    event: Element {
                        found: true,
                        span: Some(event_span),
                        text: Some(event_text.to_owned()),
                    },
                };
                best = Some((candidate, rank));
            }
        }
        if let Some((c, _)) = best {
            sink.adverse_event = Some(c);
        }
    }

    /// The patient, identifiable as FDA safety reporting asks (by relation, name or age): a
    /// relation ("my mother"); else a person named in a text that speaks of him or her; else the
    /// author when the text speaks in the first person; else a person named or described by age.
    /// `cues` are the occurrences of the cue patterns; `hits` are the hits of the detectors that
    /// ran before, the name rules among them, which may still hold a medicine's name (`products`)
    /// read as a person's.
    fn patient(
        &self,
        scan: &Scan<'_>,
        cues: &[Lexeme],
        hits: &[Hit],
        products: &[Span],
    ) -> Option<Element> {
        if let Some(r) = self.lex.first_relation(scan, cues) {
            return Some(element(scan, r));
        }
        let has = |words: &[&str]| {
            scan.tokens.iter().find(|t| {
                bit_maybe(&self.pronoun_words, t.hash)
                    && scan
                        .norm
                        .get(t.start..t.end)
                        .is_some_and(|w| words.contains(&w))
            })
        };
        let named = hits
            .iter()
            .find(|h| {
                h.rule.id == super::names::NAME.id
                    && !clinician(scan.text, h.span)
                    && !products.iter().any(|p| p.overlaps(&h.span))
            })
            .map(|h| Element {
                found: true,
                span: Some(h.span),
                text: scan.text.get(h.span.start..h.span.end).map(str::to_owned),
            });
        if named.is_some() && has(THIRD_PERSON).is_some() {
            return named;
        }
        if let Some(t) = has(FIRST_PERSON) {
            return Some(element(scan, t.start..t.end));
        }
        named.or_else(|| aged_person(scan, hits))
    }
}

/// `word` (as written) is one of [`FIRST_PERSON`] in any case. Those words are ASCII without a
/// "k", and no other character lower-cases to an ASCII letter but the Kelvin sign ("k"), so an
/// ASCII comparison ignoring case says what lower-casing the word would, without a new string.
fn is_first_person(word: &str) -> bool {
    FIRST_PERSON.iter().any(|w| w.eq_ignore_ascii_case(word))
}

/// The best-scoring reaction word of a segment that is neither negated nor hypothetical: where a
/// phrase is anchored when the token model found none.
fn reaction_anchor(toks: &[TokFeat], scores: &[f32]) -> Option<usize> {
    toks.iter()
        .zip(scores)
        .enumerate()
        .filter(|(_, (t, s))| {
            s.is_finite() && t.flags & (NEG | HYP) == 0 && (t.cue || t.flags & GENERIC != 0)
        })
        .max_by(|a, b| (a.1).1.total_cmp((b.1).1))
        .map(|(j, _)| j)
}

/// True when the name at `span` of `text` is a clinician's: a title just before or just after it
/// ("Dr. Smith"), a credential ending it (the names rules take one into the name: "Jane Doe, RN"),
/// or a title read as a name on its own.
fn clinician(text: &str, span: Span) -> bool {
    let is_title = |w: &str| {
        CLINICIAN_TITLES.iter().any(|c| c.eq_ignore_ascii_case(w)) || is_credential_word(w)
    };
    // A title is a word away: a few dozen bytes each side keep this constant-time on long text.
    let mut from = span.start.saturating_sub(32);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = span.end.saturating_add(32).min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    let before = text.get(from..span.start).and_then(|b| {
        b.split(|c: char| !c.is_alphanumeric())
            .rfind(|w| !w.is_empty())
    });
    let after = text.get(span.end..to).and_then(|a| {
        a.split(|c: char| !c.is_alphanumeric())
            .find(|w| !w.is_empty())
    });
    let itself = text.get(span.start..span.end);
    let last = itself.and_then(|s| s.rsplit(|c: char| !c.is_alphanumeric()).next());
    itself.is_some_and(ends_with_credential)
        || [before, after, itself, last]
            .into_iter()
            .flatten()
            .any(is_title)
}

/// An age that describes a person ("a 67-year-old man", "my 80 year old mother"): the span from
/// the age to the person word, when one follows within a few words.
fn aged_person(scan: &Scan<'_>, hits: &[Hit]) -> Option<Element> {
    hits.iter()
        .filter(|h| [super::phi::AGE.id, super::phi::AGE_OVER_89.id].contains(&h.rule.id))
        .find_map(|h| {
            // Tokens are in text order, so the first one ending past the age is a binary search.
            let first = scan
                .tokens
                .partition_point(|t| scan.orig(t.start..t.end).end <= h.span.start);
            let person = scan.tokens.get(first..)?.iter().take(6).find(|t| {
                scan.norm
                    .get(t.start..t.end)
                    .is_some_and(|w| AGE_PERSONS.contains(&w))
            })?;
            let end = scan.orig(person.start..person.end).end;
            Some(Element {
                found: true,
                span: Some(Span::new(h.span.start, end)),
                text: scan.text.get(h.span.start..end).map(str::to_owned),
            })
        })
}

/// Push the listed reactions of a segment that names or implies a medicine, unless the segment is
/// a general question or the reaction is negated or hypothetical ("Anyone else get brain
/// zaps coming off Effexor?" still counts: the author implies having them). One of
/// [`COMMON_EVENTS`] counts only in a segment the segment model reads as a reaction (`model_yes`).
fn known_events(
    scan: &Scan<'_>,
    seg: Segment,
    toks: &[TokFeat],
    found: &[(Found, Segment)],
    model_yes: bool,
    events: &mut Vec<Event>,
) {
    let medicine = found
        .iter()
        .any(|(f, _)| matches!(f, Found::Drug(..) | Found::Implied(..)));
    if !medicine || general_question(scan, seg) {
        return;
    }
    for (f, _) in found {
        let Found::Known(s, e, common) = *f else {
            continue;
        };
        if common && !model_yes || names_a_drug_class(scan.norm.as_bytes(), s) {
            continue;
        }
        let first = scan.token_at_or_after(s).saturating_sub(seg.first);
        let last = scan.token_at_or_after(e).saturating_sub(seg.first);
        let free = toks
            .get(first..last)
            .is_some_and(|t| t.iter().any(|t| t.flags & (NEG | HYP) == 0));
        if free {
            events.push(Event {
                norm: s..e,
                seg,
                margin: 0.0,
                listed: true,
            });
        }
    }
}

/// True when the reaction word at byte `s` of `norm` follows "anti-" or "anti " ("an
/// anti-seizure drug", "anti nausea meds"): it names what a medicine is for, not what it did.
fn names_a_drug_class(norm: &[u8], s: usize) -> bool {
    let Some(before) = s.checked_sub(5).and_then(|a| norm.get(a..s)) else {
        return false;
    };
    let opens = s
        .checked_sub(6)
        .and_then(|a| norm.get(a))
        .is_none_or(|b| !b.is_ascii_alphanumeric());
    opens && matches!(before, b"anti-" | b"anti ")
}

/// True when the tokens `run` of `seg` end where a listed event of the segment begins (`events`
/// holds them: [`known_events`] put them there just before): a listed event ("the ER") is exact,
/// and a phrase the model marked that runs into it ("Crazy night in" before "the ER") is the same
/// event seen through the model's approximate edges, not another one. A phrase that overlaps a
/// listed event ("constant nausea") or comes right after one ("in the hospital with seizures")
/// stays.
fn leads_into_listed(scan: &Scan<'_>, seg: Segment, events: &[Event], run: &Range<usize>) -> bool {
    events
        .iter()
        .rev()
        .take_while(|e| e.seg == seg)
        .filter(|e| e.listed)
        .any(|e| {
            scan.token_at_or_after(e.norm.start)
                .saturating_sub(seg.first)
                == run.end
        })
}

/// True when the segment ends with a question mark.
fn ends_with_question_mark(scan: &Scan<'_>, seg: Segment) -> bool {
    scan.tokens.get(seg.end.saturating_sub(1)).is_some_and(|t| {
        scan.norm
            .as_bytes()
            .get(t.end..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| !c.is_ascii_alphanumeric())
            .any(|c| *c == b'?')
    })
}

/// Auxiliaries that open a yes/no question.
const QUESTION_OPENERS: &[&str] = &[
    "does", "do", "can", "could", "will", "would", "should", "is", "are", "may", "might",
];

/// True for a general question about a medicine ("Does Cardiolex cause hair loss?"): it opens with
/// an auxiliary, ends with a question mark and has no first person in it, so it asks rather than
/// reports ("Do I have to stop if I get a rash?" reports nothing either way, but "Is it normal that I
/// can't sleep?" does, and keeps its "I").
fn general_question(scan: &Scan<'_>, seg: Segment) -> bool {
    let word = |i: usize| {
        scan.tokens
            .get(i)
            .and_then(|t| scan.norm.get(t.start..t.end))
            .unwrap_or_default()
    };
    QUESTION_OPENERS.contains(&word(seg.first))
        && ends_with_question_mark(scan, seg)
        && !(seg.first..seg.end).any(|i| FIRST_PERSON.contains(&word(i)))
}

/// The token scores of a segment, each computed when first asked for.
struct Scores {
    /// Score of each token, where `known` has its bit.
    of: [f32; MAX_SEG],
    /// Bit `j` is set once token `j` is scored.
    known: u64,
}

impl Scores {
    /// [`Detector::token_score`] of token `j` (at most [`MAX_SEG`] tokens), computed once.
    fn get(&mut self, det: &Detector, toks: &[TokFeat], j: usize) -> f32 {
        let bit = 1u64 << (j % MAX_SEG);
        if self.known & bit == 0 {
            if let Some(s) = self.of.get_mut(j) {
                *s = det.token_score(toks, j);
            }
            self.known |= bit;
        }
        self.of.get(j).copied().unwrap_or(0.0)
    }
}

/// The pieces of an explanation in one string, allocated once at its full length.
fn join(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// A product mention: what it is, its normalized byte range, its segment.
type DrugMention<'a> = (&'a ProductName, Range<usize>, Segment);

/// The mention closest to the event (one of the two around it), preferring its own segment.
fn nearest<'l, 'a>(mentions: &'l [DrugMention<'a>], ev: &Event) -> Option<&'l DrugMention<'a>> {
    let i = mentions.partition_point(|d| d.1.start < ev.norm.start);
    let before = i.checked_sub(1).and_then(|j| mentions.get(j));
    before
        .into_iter()
        .chain(mentions.get(i))
        .min_by_key(|d| (d.2 != ev.seg, d.1.start.abs_diff(ev.norm.start)))
}

fn element(scan: &Scan<'_>, r: Range<usize>) -> Element {
    Element {
        found: true,
        span: Some(scan.orig(r.clone())),
        text: Some(scan.orig_text(r).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Policy, Product, Screener};

    fn screener() -> Screener {
        let policy = Policy {
            products: vec![Product {
                name: "Cardiolex".into(),
                generic: "examplimab".into(),
                aliases: vec!["cardio-lex".into()],
                ..Product::default()
            }],
            ..Policy::default()
        };
        Screener::new(policy).unwrap_or_else(|e| panic!("{e}"))
    }

    fn ae(text: &str) -> Vec<(String, String)> {
        let r = screener()
            .screen(&Message::incoming(text))
            .unwrap_or_else(|e| panic!("{e}"));
        r.findings
            .iter()
            .filter(|f| f.category == Category::AdverseEvent)
            .map(|f| (f.rule_id.to_string(), f.matched.clone()))
            .collect()
    }

    #[test]
    fn key_patterns_hold_three_bits() {
        assert!(KEY_PATTERNS.iter().all(|p| p.count_ones() == 3));
    }

    #[test]
    fn drug_runs_need_every_run_of_a_name() {
        let lex = Lexicon::base().unwrap_or_else(|e| panic!("{e}"));
        let runs = |text: &str| {
            let scan = Scan::new(text);
            lex.drug_runs_present(&scan, &scan.tokens)
        };
        assert!(runs("I had some no doz"));
        assert!(runs("doz, I said, and then no more"));
        assert!(runs("the st. john's wort tea"));
        assert!(runs("wort from st john's"));
        assert!(!runs("a wort from st"));
        assert!(!runs("the doz was there"));
        assert!(runs("took zoloft today"));
        assert!(runs("St. John's Wort helps"));
        assert!(!runs("St. John's birthday"));
        assert!(!runs("a long day at work"));
        assert!(lex.drug_spans(&Scan::new("St. John's Wort helps"), &mut Vec::new()));
    }

    /// The built-in lexicons, compiled once for the property tests.
    fn base_lexicon() -> &'static Lexicon {
        static LEX: std::sync::OnceLock<Lexicon> = std::sync::OnceLock::new();
        LEX.get_or_init(|| Lexicon::base().unwrap_or_else(|e| panic!("{e}")))
    }

    /// The detector for the default policy, compiled once for the property tests.
    fn detector() -> &'static Detector {
        static DET: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
        DET.get_or_init(|| Detector::new(&Policy::default()).unwrap_or_else(|e| panic!("{e}")))
    }

    /// [`Lexicon::drug_runs_present`] as it was before it kept candidates from its first pass:
    /// every run looked up in a second pass.
    fn drug_runs_two_passes(lex: &Lexicon, scan: &Scan<'_>, tokens: &[Token]) -> bool {
        if lex.runless || tokens.len() > MAX_RUNS {
            return true;
        }
        let present = |r: u64| {
            key_maybe(&lex.run_keys, r)
                && lex
                    .drug_heads
                    .iter()
                    .zip(&lex.drug_runs)
                    .filter(|(h, _)| **h == r)
                    .any(|(_, d)| d.iter().skip(1).all(|&h| any_run(scan, tokens, |x| x == h)))
        };
        any_run(scan, tokens, present)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn drug_runs_agree_with_a_lookup_of_every_run(
            words in proptest::collection::vec("(no|doz|st\\.|john's|wort|zoloft|prozac|day|first|aid|vitamin|d|b12|the|and|tea|co-codamol|ibuprofen|sertraline|lexapro|x|of)", 0..40),
        ) {
            let lex = base_lexicon();
            let text = words.join(" ");
            let scan = Scan::new(&text);
            for n in [scan.tokens.len(), scan.tokens.len() / 2] {
                let tokens = scan.tokens.get(..n).unwrap_or_default();
                proptest::prop_assert_eq!(
                    lex.drug_runs_present(&scan, tokens),
                    drug_runs_two_passes(lex, &scan, tokens)
                );
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        #[test]
        fn a_word_answered_in_the_walk_gets_the_inputs_of_the_general_path(
            text in "[a-z0-9' ]{0,200}",
            words in proptest::collection::vec("(zoloft|dizzy|nausea|side|effects|headaches|the|medication|withdrawal|2mg|and|terrible|insomnia|sleepless)", 0..30),
        ) {
            let det = detector();
            let text = [text, words.join(" ")].join(" ");
            let scan = Scan::new(&text);
            let norm = scan.norm.as_bytes();
            for t in &scan.tokens {
                let mut general = TokFeat::default();
                let probe = filter_maybe(&det.words, t.hash);
                let (drug, pass) = det.word_inputs(norm, t, probe, &mut general);
                if t.shape.has_digit() || probe {
                    continue;
                }
                let prefix = TokFeat::prefix_of(norm, t);
                let cue = prefix != 0 && det.model.is_cue_hash(prefix);
                proptest::prop_assert_eq!(
                    (general.word, general.prefix, general.flags, general.cue, drug, pass),
                    (t.hash, prefix, 0, cue, false, cue)
                );
            }
        }
    }

    /// [`Detector::reaction_phrases`] as it was before it scored words as runs need them: every
    /// word scored first.
    fn reaction_phrases_scoring_all(
        det: &Detector,
        scan: &Scan<'_>,
        seg: Segment,
        toks: &[TokFeat],
        margin: f32,
        events: &mut Vec<Event>,
    ) {
        let scores: Vec<f32> = (0..toks.len()).map(|j| det.token_score(toks, j)).collect();
        let (mut negated_any, mut pushed) = (false, false);
        let mut j = 0;
        while j < scores.len() {
            let start = j;
            while j < scores.len() && scores[j] > 0.0 {
                j += 1;
            }
            if j == start {
                j += 1;
                continue;
            }
            let run = start..j;
            let run_toks = &toks[run.clone()];
            if run_toks.iter().all(|t| t.flags & (NEG | HYP) != 0) {
                negated_any = true;
                continue;
            }
            if run_toks.iter().any(|t| t.cue || t.flags & GENERIC != 0) {
                pushed |= leads_into_listed(scan, seg, events, &run)
                    || det.push_event(scan, seg, toks, run, margin, events);
            }
        }
        if pushed || negated_any {
            return;
        }
        if let Some(j) = reaction_anchor(toks, &scores) {
            det.push_event(scan, seg, toks, j..j + 1, margin, events);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        #[test]
        fn reaction_phrases_are_those_of_scoring_every_word(
            words in proptest::collection::vec("(i|felt|dizzy|nausea|and|headache|no|side|effects|terrible|insomnia|weight|gain|my|mom|zoloft|made|me|very|tired|not|sleep|couldn't|the|rash|after|it|was|great|pain|anxiety|worse)", 1..40),
            flags in proptest::collection::vec(0u8..8, 40),
            listed in proptest::option::of(0usize..40),
        ) {
            let det = detector();
            let text = words.join(" ");
            let scan = Scan::new(&text);
            let seg = Segment { first: 0, end: scan.tokens.len().min(MAX_SEG) };
            let mut buf = [TokFeat::default(); MAX_SEG];
            det.lex.token_feats(&scan, seg, &mut buf);
            let toks = &mut buf[..seg.end];
            for (t, f) in toks.iter_mut().zip(&flags) {
                t.cue = det.model.is_event_cue(t);
                // Scope and unspecified-reaction marks the lexicons could have set.
                t.flags |= [0, NEG, HYP, GENERIC, NEG | GENERIC, 0, 0, 0][usize::from(*f)];
            }
            let mut start: Vec<Event> = Vec::new();
            if let Some(t) = listed.and_then(|j| scan.tokens.get(j)) {
                start.push(Event { norm: t.start..t.end, seg, margin: 0.0, listed: true });
            }
            let (mut lazy, mut all) = (start.clone(), start);
            det.reaction_phrases(&scan, seg, toks, 1.5, &mut lazy);
            reaction_phrases_scoring_all(det, &scan, seg, toks, 1.5, &mut all);
            let key = |e: &Event| (e.norm.clone(), e.seg, e.listed, e.margin.to_bits());
            proptest::prop_assert_eq!(
                lazy.iter().map(key).collect::<Vec<_>>(),
                all.iter().map(key).collect::<Vec<_>>()
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn first_person_by_ascii_case_is_first_person_lower_cased(
            word in "(?i)(i|me|my|myself|i'm|im|i've|ive|i'd|i'll|mine|mime|k|\u{212A}|\u{130}|\u{131}|'|’|\\PC){0,3}",
        ) {
            proptest::prop_assert_eq!(
                is_first_person(&word),
                FIRST_PERSON.contains(&word.to_lowercase().as_str())
            );
        }
    }

    #[test]
    fn first_person_words_hold_no_k() {
        assert!(
            FIRST_PERSON
                .iter()
                .all(|w| w.is_ascii() && !w.contains('k'))
        );
    }

    #[test]
    fn word_filter_passes_every_drug_key_gate_word_and_event_cue() {
        let policy = Policy::default();
        let d = Detector::new(&policy).unwrap_or_else(|e| panic!("{e}"));
        let (_, keys) = Lexicon::with_keys(&policy).unwrap_or_else(|e| panic!("{e}"));
        assert!(keys.iter().all(|&h| filter_maybe(&d.words, h)));
        for p in IMPLIED_PHRASES.iter().chain(GENERIC_EVENTS) {
            let scan = Scan::new(p);
            assert!(
                scan.tokens.iter().all(|t| {
                    !bit_maybe(&d.gate_words, t.hash) || filter_maybe(&d.words, t.hash)
                })
            );
        }
        // Cue words are known only by their bits: random hashes that the cue set holds.
        let (mut x, mut cues) = (0x9E37_79B9_7F4A_7C15u64, 0);
        for _ in 0..2_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if d.model.is_cue_hash(x) {
                cues += 1;
                assert!(filter_maybe(&d.words, x), "{x:#x}");
            }
        }
        assert!(cues > 0);
    }

    #[test]
    fn lexicons_compile() {
        assert!(Lexicon::new(&Policy::default()).is_ok());
        assert!(AdrModel::from_bytes(MODEL).is_ok());
    }

    #[test]
    fn named_drug_with_reaction_is_a_report() {
        let text = "Lexapro gave me constant nausea and headaches.";
        let hits = ae(text);
        assert!(
            hits.iter()
                .any(|(id, m)| id == "adverse_event.report" && m == "constant nausea"),
            "{hits:?}"
        );
        let r = screener()
            .screen(&Message::incoming(text))
            .unwrap_or_else(|e| panic!("{e}"));
        let c = r.adverse_event.unwrap_or_else(|| panic!("no candidate"));
        assert_eq!(c.product.text.as_deref(), Some("Lexapro"));
        assert_eq!(c.patient.text.as_deref(), Some("me"));
        assert!(c.reporter.found && c.reporter.span.is_none());
        assert!(c.reportable);
    }

    /// The patient element of the candidate for `text`.
    fn patient_of(text: &str) -> Option<String> {
        let r = screener()
            .screen(&Message::incoming(text))
            .unwrap_or_else(|e| panic!("{e}"));
        r.adverse_event
            .unwrap_or_else(|| panic!("no candidate for {text:?}"))
            .patient
            .text
    }

    #[test]
    fn patient_is_identified_by_relation_name_or_age() {
        assert_eq!(
            patient_of("Crazy night in the ER: John Miller came in after his Xarelto dose")
                .as_deref(),
            Some("John Miller")
        );
        assert_eq!(
            patient_of("My neighbour took Lipitor and now she has terrible muscle pain").as_deref(),
            Some("My neighbour")
        );
        assert_eq!(
            patient_of("A 67-year-old man got a rash after Xarelto").as_deref(),
            Some("67-year-old man")
        );
        // The author speaks of themselves, and the named doctor is not the patient.
        assert_eq!(
            patient_of("Dr. Smith put me on Xarelto and I got a nosebleed").as_deref(),
            Some("me")
        );
        // A clinician's name alone does not identify a patient, nor does a medicine read as a name.
        assert_eq!(patient_of("Dr. Smith said Xarelto gave him a rash"), None);
        assert_eq!(
            patient_of("Jane Doe, RN, says Xarelto gave her patient a rash"),
            None
        );
        assert_eq!(
            patient_of("Tomas Lee, PA-C, says Xarelto gave his patient a rash"),
            None
        );
    }

    #[test]
    fn a_model_phrase_running_into_a_listed_event_is_that_event() {
        assert_eq!(
            ae(
                "Crazy night in the ER — John Miller (DOB 3/4/1961) in bed 4 came in after his Xarelto dose"
            ),
            [("adverse_event.report".to_owned(), "the ER".to_owned())]
        );
        let both = ae("Zoloft gave me terrible headaches and I ended up in the hospital");
        assert!(
            both.iter().any(|(_, t)| t.contains("headaches")),
            "{both:?}"
        );
        assert!(both.iter().any(|(_, t)| t == "in the hospital"), "{both:?}");
    }

    #[test]
    fn a_listed_reaction_is_the_candidates_event_before_a_model_phrase() {
        let r = screener()
            .screen(&Message::incoming(
                "Crazy night in the ER: John Miller came in after his Xarelto dose",
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        let c = r.adverse_event.unwrap_or_else(|| panic!("no candidate"));
        assert_eq!(c.event.text.as_deref(), Some("the ER"));
        assert!(c.reportable);
    }

    #[test]
    fn a_drug_class_named_for_a_reaction_is_no_event() {
        for text in [
            "Lamictal is an anti-seizure drug that I take.",
            "I take Keppra, an anti seizure medication.",
        ] {
            let r = screener()
                .screen(&Message::incoming(text))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(r.adverse_event.is_none(), "{text}");
        }
        // The reaction it caused is still one.
        let text = "Keppra, my anti-seizure drug, gave me a seizure.";
        let r = screener()
            .screen(&Message::incoming(text))
            .unwrap_or_else(|e| panic!("{e}"));
        let c = r.adverse_event.unwrap_or_else(|| panic!("no candidate"));
        let at = text.rfind("seizure");
        assert_eq!(c.event.span.map(|s| s.start), at);
    }

    #[test]
    fn own_product_escalates() {
        let text = "My son has had bad nightmares and night sweats since he started Cardiolex.";
        let r = screener()
            .screen(&Message::incoming(text))
            .unwrap_or_else(|e| panic!("{e}"));
        let f = r
            .findings
            .iter()
            .find(|f| f.rule_id == "adverse_event.own_product" && f.matched == "bad nightmares")
            .unwrap_or_else(|| panic!("{r:?}"));
        assert_eq!(f.action, Action::Escalate);
        let c = r.adverse_event.unwrap_or_else(|| panic!("no candidate"));
        assert_eq!(c.patient.text.as_deref(), Some("My son"));
        assert_eq!(c.product.text.as_deref(), Some("Cardiolex"));
    }

    #[test]
    fn reaction_without_product_is_possible() {
        let hits = ae("I have had terrible headaches and nausea since I started this med.");
        assert!(
            hits.iter().all(|(id, _)| id == "adverse_event.possible"),
            "{hits:?}"
        );
        assert!(
            hits.iter()
                .any(|(_, m)| m.contains("headaches") || m.contains("nausea")),
            "{hits:?}"
        );
    }

    #[test]
    fn a_medicine_said_to_be_the_organizations_is_implied() {
        let r = screener()
            .screen(&Message::incoming(
                "My mom had a terrible rash after her second dose of your vaccine.",
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        let rash = r
            .findings
            .iter()
            .find(|f| f.rule_id == "adverse_event.possible")
            .unwrap_or_else(|| panic!("{:?}", r.findings));
        assert_eq!(rash.severity, crate::Severity::Medium, "{rash:?}");
    }

    #[test]
    fn negated_and_hypothetical_reactions_do_not_fire() {
        for text in [
            "No side effects at all on Lexapro, it has been great.",
            "Zoloft works great for me, my mood is so much better.",
            "Thanks for the update on the new clinic hours!",
        ] {
            assert!(ae(text).is_empty(), "{text}: {:?}", ae(text));
        }
    }

    #[test]
    fn known_reactions_next_to_a_medicine_fire_even_when_the_model_is_unsure() {
        let r = screener()
            .screen(&Message::incoming(
                "Cardiolex gave my patient a terrible rash",
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule_id == "adverse_event.own_product" && f.matched == "rash"),
            "{r:?}"
        );
        assert_eq!(
            r.adverse_event.and_then(|c| c.patient.text).as_deref(),
            Some("my patient")
        );
    }

    #[test]
    fn family_history_is_still_a_report_about_the_relative() {
        let r = screener()
            .screen(&Message::incoming(
                "my dad had a stroke on xarelto years ago",
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            r.findings
                .iter()
                .any(|f| f.rule_id == "adverse_event.report" && f.matched == "stroke"),
            "{r:?}"
        );
        let c = r.adverse_event.unwrap_or_else(|| panic!("no candidate"));
        assert_eq!(c.patient.text.as_deref(), Some("my dad"));
        assert!(c.reportable);
    }

    #[test]
    fn negated_hypothetical_and_asked_reactions_are_not_events() {
        for text in [
            "Zoloft didn't cause any dizziness for me",
            "I'm worried Lexapro might cause weight gain",
            "Does Cardiolex cause hair loss?",
            "If it causes headaches, stop taking it.",
            "Zoloft works great, no more panic attacks!",
        ] {
            assert!(ae(text).is_empty(), "{text}: {:?}", ae(text));
        }
    }

    #[test]
    fn a_question_that_implies_experience_still_reports() {
        let hits = ae("Anyone else get brain zaps coming off Effexor?");
        assert_eq!(
            hits,
            vec![("adverse_event.report".to_owned(), "brain zaps".to_owned())]
        );
    }

    #[test]
    fn unspecified_reaction_is_widened_to_the_whole_phrase() {
        let hits = ae("The side effects of Cardiolex were awful.");
        assert_eq!(
            hits,
            vec![(
                "adverse_event.own_product".to_owned(),
                "side effects".to_owned()
            )]
        );
    }

    #[test]
    fn outgoing_messages_are_not_screened_for_adverse_events() {
        let r = screener()
            .screen(&Message::outgoing("Zoloft made me so dizzy."))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            r.findings
                .iter()
                .all(|f| f.category != Category::AdverseEvent)
        );
    }

    #[test]
    fn drug_names_need_word_boundaries() {
        let lex = Lexicon::base().unwrap_or_else(|e| panic!("{e}"));
        let spans = |text: &str| {
            let mut out = Vec::new();
            let found = lex.drug_spans(&Scan::new(text), &mut out);
            (found, out)
        };
        assert_eq!(spans("the zoloftish vibes"), (false, vec![]));
        assert_eq!(spans("on zoloft"), (true, vec![Span::new(3, 9)]));
    }

    /// The cue lexicon's matches in `range` of `text` as a leftmost-longest search of the range
    /// alone finds them, and as [`leftmost_longest_within`] rebuilds them from every occurrence.
    fn cue_matches_both_ways(lex: &Lexicon, text: &str, range: Range<usize>) -> [Vec<Lexeme>; 2] {
        let searched = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&lex.cue_patterns)
            .map(|ac| {
                ac.find_iter(Input::new(text).range(range.clone()))
                    .map(|m| Lexeme {
                        pattern: m.pattern().as_usize(),
                        range: m.range(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let [all] = lex.cues.occurrences(text);
        let rebuilt = leftmost_longest_within(&all, range).cloned().collect();
        [searched, rebuilt]
    }

    #[test]
    fn sentence_cues_rebuilt_from_occurrences_match_a_search_of_the_sentence() {
        let lex = Lexicon::base().unwrap_or_else(|e| panic!("{e}"));
        // Cut anywhere, as a sentence end may: a cue across the cut ("no more", "side effects")
        // is no match of either side, and what it hid from a search of the whole text may be.
        let text = "i know no more side effects if i'm not worried about my mom";
        for cut in 0..=text.len() {
            for range in [0..cut, cut..text.len()] {
                let [searched, rebuilt] = cue_matches_both_ways(&lex, text, range.clone());
                assert_eq!(searched, rebuilt, "{range:?}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn cue_matches_of_any_range_are_those_of_a_search_of_it(
            words in proptest::collection::vec("(no|not|know|no more|more|side|effects|side effects|if|worried|about|my|mom|my mom|rash|crash|the|er|the er|never had|had|\\.|,| )", 0..24),
            a in 0usize..200,
            b in 0usize..200,
        ) {
            static LEX: std::sync::OnceLock<Lexicon> = std::sync::OnceLock::new();
            let lex = LEX.get_or_init(|| Lexicon::base().unwrap_or_else(|e| panic!("{e}")));
            let text = words.join(" ");
            let (a, b) = (a.min(text.len()), b.min(text.len()));
            let [searched, rebuilt] = cue_matches_both_ways(lex, &text, a.min(b)..a.max(b));
            proptest::prop_assert_eq!(searched, rebuilt);
        }
    }

    /// The segments of a scan as `(first, end)` token ranges, cut where `find_events` cuts them.
    fn segments(scan: &Scan<'_>) -> Vec<(usize, usize)> {
        let norm = scan.norm.as_bytes();
        let mut segs = Vec::new();
        let mut first = 0;
        for (i, t) in scan.tokens.iter().enumerate() {
            if ends_segment(norm, t, scan.tokens.get(i + 1), i - first + 1) {
                segs.push((first, i + 1));
                first = i + 1;
            }
        }
        segs
    }

    /// [`ends_sentence`] as a test of each byte in turn, before the class table.
    fn ends_sentence_bytewise(gap: &[u8]) -> bool {
        let (mut dot, mut space) = (false, false);
        for &c in gap {
            match c {
                b'!' | b'?' | b'\n' | b';' => return true,
                b'.' => dot = true,
                c if c.is_ascii_whitespace() => space = true,
                _ => {}
            }
        }
        dot && space
    }

    proptest::proptest! {
        #[test]
        fn sentence_ends_by_class_table_are_those_byte_by_byte(
            gap in proptest::collection::vec(proptest::prop_oneof![
                proptest::sample::select(b" .!?;,\n\t\r-'\"".to_vec()),
                proptest::num::u8::ANY,
            ], 0..6),
        ) {
            proptest::prop_assert_eq!(ends_sentence(&gap), ends_sentence_bytewise(&gap));
        }
    }

    #[test]
    fn segments_split_on_sentence_punctuation() {
        let scan = Scan::new("Took 2.5 mg. Felt sick! ok");
        let segs = segments(&scan);
        assert_eq!(segs, vec![(0, 4), (4, 6), (6, 7)]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        #[test]
        fn never_panics_and_spans_are_valid(text in "(?s).{0,300}", words in proptest::collection::vec("(zoloft|dizzy|no|if|my son|side effects|rash|\\?|\\.|I|Cardiolex|ｘａｒｅｌｔｏ)", 0..30)) {
            static SCREENER: std::sync::OnceLock<Screener> = std::sync::OnceLock::new();
            let s = SCREENER.get_or_init(screener);
            for t in [text.clone(), words.join(" "), format!("{text} {}", words.join(" "))] {
                let r = s.screen(&Message::incoming(t.as_str())).unwrap_or_else(|e| panic!("{e}"));
                for f in &r.findings {
                    proptest::prop_assert!(t.get(f.span.start..f.span.end).is_some());
                }
            }
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        let s = screener();
        for text in [
            "",
            " ",
            "。",
            "\u{200B}",
            "no",
            "I",
            &"dizzy ".repeat(500),
            "Ⅹarelto made me 𝐝𝐢𝐳𝐳𝐲",
        ] {
            assert!(s.screen(&Message::incoming(text)).is_ok());
        }
    }
}
