//! A compact hashed-feature linear classifier for adverse drug reactions, and its trainer.
//!
//! Two logistic-regression models share one feature scheme over the tokens of a text segment:
//! a *segment* model ("does this sentence report an adverse reaction?") and a *token* model ("is
//! this word part of the reaction phrase?"). Features are hashes of words, 5-byte prefixes and
//! bigrams (the segment model also 4-byte stems, skip-bigrams and event-cue marks), plus lexicon
//! marks (inside a negation or hypothetical scope, a drug name); each one indexes a table of
//! `2^BITS` weights quantized to `i8`, so inference is a handful of table look-ups per token and
//! allocates nothing.
//!
//! Training is pure computation over examples the caller has read (see `rounds-eval`'s `psytar`
//! module); it is deterministic, so the committed `models/adr.bin` can be rebuilt byte for byte.

use crate::ScreenError;
use crate::bits::Bits;
use crate::detect::adverse::{Detector, Lexicon, MAX_SEG, Segment};
use crate::text::{Scan, Token};

/// log2 of the number of weights in each table.
const BITS: u32 = 16;
const TABLE: usize = 1 << BITS;
const MAGIC: &[u8; 4] = b"RAD1";

/// The token is inside the scope of a negation trigger ("no", "didn't", "free of").
pub(crate) const NEG: u8 = 1;
/// The token is inside the scope of a hypothetical or merely-possible trigger ("if", "worried").
pub(crate) const HYP: u8 = 2;
/// The token is part of a drug or product name.
pub(crate) const DRUG: u8 = 4;
/// The token names an unspecified reaction ("side effects", "withdrawal").
pub(crate) const GENERIC: u8 = 8;
/// The token is part of a phrase that implies a medicine ("this med", "since taking").
pub(crate) const IMPLIED: u8 = 16;
/// Flags that let a segment through the gate whatever its words.
const GATE_FLAGS: u8 = DRUG | GENERIC | IMPLIED;

// Salts keep the feature families apart in the shared hash space.
const S_UNI: u64 = 0x5A17_0001;
const S_BI: u64 = 0x5A17_0002;
const S_PRE: u64 = 0x5A17_0003;
const S_NEG: u64 = 0x5A17_0004;
const S_HYP: u64 = 0x5A17_0005;
const S_DRUGF: u64 = 0x5A17_0006;
const S_SKIP: u64 = 0x5A17_0008;
const S_CUE: u64 = 0x5A17_000D;
const S_STEM: u64 = 0x5A17_000E;
const T_CUR: u64 = 0x7A60_0001;
const T_PREV: u64 = 0x7A60_0002;
const T_NEXT: u64 = 0x7A60_0003;
const T_PREV2: u64 = 0x7A60_0004;
const T_NEXT2: u64 = 0x7A60_0005;
const T_BIL: u64 = 0x7A60_0006;
const T_BIR: u64 = 0x7A60_0007;
const T_PRE: u64 = 0x7A60_0008;
const T_FLAG: u64 = 0x7A60_0009;
const BOS: u64 = 0xB05_B05;
const EOS: u64 = 0xE05_E05;
/// Word hash used for every drug name, so what is learned about "zoloft" carries to any drug.
const DRUG_WORD: u64 = 0xD2D6_D2D6;
/// Bytes of a word's stem feature ([`TokFeat::stem`])…
const STEM: usize = 4;
/// …taken from words of at least this many bytes (a four-byte word is its own stem).
const STEM_MIN: usize = 5;
/// Word hash used for every token with a digit ("20mg", "2", "10lbs").
const NUM_WORD: u64 = 0x4E55_4D00;

/// Combine two hashes; the multiply spreads the bits so the top `BITS` make a good index.
#[inline]
fn mix(a: u64, b: u64) -> u64 {
    (a ^ b.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (a >> 17)
}

#[inline]
fn slot(h: u64) -> usize {
    (h.wrapping_mul(0xD6E8_FEB8_6659_FD93) >> (64 - BITS)) as usize
}

/// Multiplier of the word hash's mixing step.
const WORD_K: u64 = 0x9E37_79B9_7F4A_7C15;

/// The word hash's state before any byte, for a word of `len` bytes.
#[inline]
fn word_seed(len: usize) -> u64 {
    0x243F_6A88_85A3_08D3 ^ (len as u64)
}

/// One step of the word hash over eight bytes read as a little-endian integer (zero-padded).
#[inline]
fn word_step(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(WORD_K).rotate_left(29)
}

/// Hash of a word, eight bytes at a time (words are short, so this is one or two multiplies).
#[inline]
pub(crate) fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = word_seed(b.len());
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        if let Ok(a) = <[u8; 8]>::try_from(c) {
            h = word_step(h, u64::from_le_bytes(a));
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = word_step(h, load_le(rest));
    }
    h ^ (h >> 31)
}

/// The low bytes of a load that a word of each length up to eight covers.
const COVERED: [u64; 9] = {
    let mut m = [0u64; 9];
    let mut n = 1;
    while n < 9 {
        m[n] = u64::MAX >> (64 - 8 * n);
        n += 1;
    }
    m
};

/// [`hash_bytes`] of `b[start..end]`. A word of at most eight bytes with eight bytes of text from
/// its start (nearly every word, as the tokenizer meets them) is read with one load and a mask,
/// where `hash_bytes` assembles the bytes from up to three loads.
#[inline(always)]
pub(crate) fn hash_span(b: &[u8], start: usize, end: usize) -> u64 {
    // Wrapping: an empty or reversed span fails the length test and takes the general path.
    let len = end.wrapping_sub(start);
    match b.get(start..).and_then(<[u8]>::first_chunk::<8>) {
        // `len` is at most eight here, so the mask's index needs no test.
        Some(w) if len.wrapping_sub(1) < 8 => {
            let v = u64::from_le_bytes(*w) & COVERED.get(len).copied().unwrap_or(0);
            let h = word_step(word_seed(len), v);
            h ^ (h >> 31)
        }
        _ => hash_span_general(b, start, end),
    }
}

/// [`hash_span`] of a long word or one near the end of the text: kept out of line so that the
/// common case's loop keeps its values in registers. A word of nine to sixteen bytes with sixteen
/// bytes of text from its start (most long words) is read with two loads and a mask.
#[inline(never)]
fn hash_span_general(b: &[u8], start: usize, end: usize) -> u64 {
    let len = end.wrapping_sub(start);
    if len.wrapping_sub(9) < 8
        && let Some((lo, hi)) = b
            .get(start..)
            .and_then(<[u8]>::first_chunk::<16>)
            .and_then(|w| w.split_first_chunk::<8>())
            .and_then(|(lo, rest)| Some((lo, rest.first_chunk::<8>()?)))
    {
        let h = word_step(word_seed(len), u64::from_le_bytes(*lo));
        let h = word_step(
            h,
            u64::from_le_bytes(*hi) & COVERED.get(len - 8).copied().unwrap_or(0),
        );
        return h ^ (h >> 31);
    }
    hash_bytes(b.get(start..end).unwrap_or_default())
}

/// The bytes of `rest` (fewer than eight) as a little-endian integer, zero-padded: assembled in a
/// register from at most three loads (writing bytes to an array and reading it back as a u64 stalls,
/// and a byte loop costs a shift and an or per byte).
#[inline]
fn load_le(rest: &[u8]) -> u64 {
    let (mut v, mut shift, mut r) = (0u64, 0u32, rest);
    if let Some((a, tail)) = r.split_first_chunk::<4>() {
        v = u64::from(u32::from_le_bytes(*a));
        shift = 32;
        r = tail;
    }
    if let Some((a, tail)) = r.split_first_chunk::<2>() {
        v |= u64::from(u16::from_le_bytes(*a)) << shift;
        shift += 16;
        r = tail;
    }
    if let Some(&b) = r.first() {
        v |= u64::from(b) << shift;
    }
    v
}

/// Per-token inputs of the feature functions: word hash, prefix hash (0 when none), lexicon flags.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokFeat {
    /// Hash of the word (or of its class: drug, number).
    pub word: u64,
    /// Hash of the first five bytes of a long word; 0 for short words.
    pub prefix: u64,
    /// Hash (low half) of the first four bytes of a word of five or more: a crude stem that
    /// "dizzy", "dizziness" and "dizzyness" share; 0 for shorter words, drugs and numbers (and,
    /// in the detector, until the segment passes the gate).
    pub stem: u32,
    /// `NEG | HYP | DRUG` bits.
    pub flags: u8,
    /// The shipped model's event cues hold the word or its prefix ([`AdrModel::is_event_cue`]),
    /// found once per token so that the gate, the segment features and the phrase picking read
    /// a bit instead of probing the cue set again. Training ignores it: each fold has its own cues.
    pub cue: bool,
}

impl TokFeat {
    /// Features of one normalized word (its bytes), given its [`hash_bytes`] hash, with its lexicon
    /// flags.
    pub fn new(b: &[u8], hash: u64, has_digit: bool, flags: u8) -> Self {
        let (word, prefix, stem) = if flags & DRUG != 0 {
            (DRUG_WORD, 0, 0)
        } else if has_digit {
            (NUM_WORD, 0, 0)
        } else {
            let prefix = if b.len() > 6 {
                b.get(..5).map_or(0, hash_bytes)
            } else {
                0
            };
            let stem = if b.len() >= STEM_MIN {
                b.get(..STEM).map_or(0, |s| hash_bytes(s) as u32)
            } else {
                0
            };
            (hash, prefix, stem)
        };
        TokFeat {
            word,
            prefix,
            stem,
            flags,
            cue: false,
        }
    }

    /// [`TokFeat::new`] of token `t` of the normalized text `norm` (no flags) but for the stem,
    /// left 0: only segments that pass the gate need it ([`TokFeat::stem_of`]).
    #[inline(always)]
    pub fn of_token(norm: &[u8], t: &Token) -> Self {
        let (word, prefix) = if t.shape.has_digit() {
            (NUM_WORD, 0)
        } else {
            (t.hash, TokFeat::prefix_of(norm, t))
        };
        TokFeat {
            word,
            prefix,
            stem: 0,
            flags: 0,
            cue: false,
        }
    }

    /// The prefix feature of token `t` (no digit) of the normalized text `norm`: the hash of the
    /// first five bytes of a word longer than six bytes, else 0.
    #[inline(always)]
    pub fn prefix_of(norm: &[u8], t: &Token) -> u64 {
        // Most words are short: their length alone answers.
        if t.end.wrapping_sub(t.start) <= 6 {
            return 0;
        }
        // Hashed from the rest of the text, whose start is fixed: the length is then a constant
        // and the five bytes come from one load.
        match norm.get(t.start..t.end) {
            Some(_) => norm.get(t.start..).map_or(0, |rest| hash_span(rest, 0, 5)),
            None => 0,
        }
    }

    /// The stem feature of token `t` (no digit, not a drug) of the normalized text `norm`: the
    /// low half of the hash of the first four bytes of a word of five or more bytes, else 0.
    #[inline(always)]
    pub fn stem_of(norm: &[u8], t: &Token) -> u32 {
        if t.end.wrapping_sub(t.start) < STEM_MIN {
            return 0;
        }
        // As in `prefix_of`: a fixed start makes the length a constant.
        match norm.get(t.start..t.end) {
            Some(_) => norm
                .get(t.start..)
                .map_or(0, |rest| hash_span(rest, 0, STEM) as u32),
            None => 0,
        }
    }

    /// Make this the token of a drug name: every drug shares one word hash and has no prefix or
    /// stem.
    /// `cue` is [`AdrModel::drug_is_cue`] (false in training, where cues come per fold).
    pub fn make_drug(&mut self, cue: bool) {
        self.word = DRUG_WORD;
        self.prefix = 0;
        self.stem = 0;
        self.cue = cue;
    }
}

/// Call `f` with every segment-model feature of `toks`; `is_cue` says whether a token is an event
/// cue.
///
/// Besides words, prefixes, scope and drug marks and bigrams, three features reach past the words
/// the sentence labels saw: four-byte stems (misspellings and other forms of a reaction word:
/// "dizzyness", "nauseous"), skip-bigrams ("made … dizzy" whatever sits between) and one shared
/// feature per event-cue word (by negation/hypothetical scope), which carries what the phrase
/// annotations know about reaction words to words rare in the sentence labels.
fn segment_features(toks: &[TokFeat], is_cue: impl Fn(&TokFeat) -> bool, mut f: impl FnMut(usize)) {
    let (mut prev, mut prev2) = (BOS, BOS);
    for t in toks {
        f(slot(mix(t.word, S_UNI)));
        if t.prefix != 0 {
            f(slot(mix(t.prefix, S_PRE)));
        }
        if t.stem != 0 {
            f(slot(mix(u64::from(t.stem), S_STEM)));
        }
        // Most tokens have none of these flags: one test passes over all three.
        if t.flags & (NEG | HYP | DRUG) != 0 {
            if t.flags & NEG != 0 {
                f(slot(mix(t.word, S_NEG)));
            }
            if t.flags & HYP != 0 {
                f(slot(mix(t.word, S_HYP)));
            }
            if t.flags & DRUG != 0 {
                f(slot(S_DRUGF));
            } else if is_cue(t) {
                f(slot(mix(u64::from(t.flags & (NEG | HYP)), S_CUE)));
            }
        } else if is_cue(t) {
            f(slot(mix(0, S_CUE)));
        }
        f(slot(mix(mix(prev, t.word), S_BI)));
        f(slot(mix(mix(prev2, t.word), S_SKIP)));
        prev2 = prev;
        prev = t.word;
    }
    f(slot(mix(mix(prev, EOS), S_BI)));
}

/// Call `f` with every token-model feature of token `j` of `toks`.
fn token_features(toks: &[TokFeat], j: usize, mut f: impl FnMut(usize)) {
    let word = |k: Option<usize>, edge: u64| k.and_then(|k| toks.get(k)).map_or(edge, |t| t.word);
    let Some(t) = toks.get(j) else { return };
    let p1 = word(j.checked_sub(1), BOS);
    let p2 = word(j.checked_sub(2), BOS);
    let n1 = word(j.checked_add(1), EOS);
    let n2 = word(j.checked_add(2), EOS);
    f(slot(mix(t.word, T_CUR)));
    if t.prefix != 0 {
        f(slot(mix(t.prefix, T_PRE)));
    }
    f(slot(mix(p1, T_PREV)));
    f(slot(mix(n1, T_NEXT)));
    f(slot(mix(p2, T_PREV2)));
    f(slot(mix(n2, T_NEXT2)));
    f(slot(mix(mix(p1, t.word), T_BIL)));
    f(slot(mix(mix(t.word, n1), T_BIR)));
    if t.flags != 0 {
        f(slot(mix(u64::from(t.flags), T_FLAG)));
        f(slot(mix(mix(t.word, u64::from(t.flags)), T_FLAG)));
    }
}

/// One linear model: quantized weights, their scale, and a bias.
struct Linear {
    /// One weight per feature slot; the fixed size lets a look-up skip the bounds check.
    weights: Box<[i8; TABLE]>,
    scale: f32,
    bias: f32,
}

impl Linear {
    fn dot(&self, feats: impl FnOnce(&mut dyn FnMut(usize))) -> f32 {
        let mut sum: i32 = 0;
        feats(&mut |i| sum += i32::from(self.weights.get(i % TABLE).copied().unwrap_or(0)));
        self.bias + self.scale * sum as f32
    }
}

/// The trained adverse-reaction models.
pub(crate) struct AdrModel {
    segment: Linear,
    token: Linear,
    /// Log-odds above which a segment reports an adverse reaction (chosen by cross-validation).
    threshold: f32,
    /// Bit set of words (and 5-byte prefixes) typical of reaction phrases in the training spans;
    /// its fixed size lets the probe of every token skip the bounds check.
    cues: Box<[u8; CUE_BYTES]>,
    /// The shared drug-name word is an event cue.
    drug_cue: bool,
}

/// Why a weights file could not be read.
#[derive(Debug)]
pub(crate) struct BadModel(pub &'static str);

impl AdrModel {
    /// Read weights written by [`train`].
    pub fn from_bytes(b: &[u8]) -> Result<Self, BadModel> {
        let mut r = Reader { b, pos: 0 };
        if r.take(4)? != MAGIC {
            return Err(BadModel("not an adverse-reaction model (bad magic)"));
        }
        if r.take(1)? != [BITS as u8] {
            return Err(BadModel("table size does not match this build"));
        }
        let threshold = r.f32()?;
        let segment = r.linear()?;
        let token = r.linear()?;
        let cues: Box<[u8; CUE_BYTES]> = Box::new(
            r.take(CUE_BYTES)?
                .try_into()
                .map_err(|_| BadModel("truncated"))?,
        );
        if r.pos != b.len() {
            return Err(BadModel("trailing bytes"));
        }
        let mut drug = TokFeat::default();
        drug.make_drug(false);
        let drug_cue = is_cue(&cues[..], &drug);
        Ok(AdrModel {
            segment,
            token,
            threshold,
            cues,
            drug_cue,
        })
    }

    /// True when the segment is worth scoring: some token is a drug name, a medicine-implying or
    /// unspecified-reaction phrase, or a word (or shares the prefix of a word) that the training data
    /// shows inside reaction phrases. Reads the tokens' `cue` bits.
    pub fn passes_gate(&self, toks: &[TokFeat]) -> bool {
        toks.iter().any(|t| t.flags & GATE_FLAGS != 0 || t.cue)
    }

    /// True when the token is a word (or shares the prefix of a word) typical of reaction phrases.
    #[inline(always)]
    pub fn is_event_cue(&self, t: &TokFeat) -> bool {
        is_cue(&self.cues[..], t)
    }

    /// True when word (or prefix) hash `h` is in the event-cue set.
    #[inline(always)]
    pub fn is_cue_hash(&self, h: u64) -> bool {
        cue_bit(&self.cues[..], h)
    }

    /// A word filter that passes every word hash the event-cue set holds (and about as many others
    /// as that set's first probe does): each cue bit becomes the eight filter bits under it.
    pub(crate) fn cue_word_filter(&self) -> WordFilter {
        let mut out = Bits::boxed();
        // Filter bit `i` sits under cue bit `i >> 3`, so cue byte `k` is filter word `k`, one byte
        // lane of it per cue bit.
        for (w, &byte) in out.words_mut().iter_mut().zip(self.cues.iter()) {
            for b in 0..8 {
                if byte & (1 << b) != 0 {
                    *w |= 0xFF << (8 * b);
                }
            }
        }
        out
    }

    /// [`AdrModel::is_event_cue`] of every drug-name token.
    pub fn drug_is_cue(&self) -> bool {
        self.drug_cue
    }

    /// Log-odds that the segment reports an adverse reaction, minus the decision threshold:
    /// positive means "yes". Reads the tokens' `cue` bits.
    pub fn segment_margin(&self, toks: &[TokFeat]) -> f32 {
        self.segment.dot(|f| segment_features(toks, |t| t.cue, f)) - self.threshold
    }

    /// Log-odds that token `j` is part of the reaction phrase.
    pub fn token_score(&self, toks: &[TokFeat], j: usize) -> f32 {
        self.token.dot(|f| token_features(toks, j, f))
    }
}

/// log2 of the size of the event-cue bit set; two probes per word keep false hits near 0.1%.
const CUE_BITS: u32 = 18;
/// Size of the event-cue bit set in bytes.
const CUE_BYTES: usize = (1 << CUE_BITS) / 8;
const CUE_SALTS: [u64; 2] = [0xC0E5_0001, 0xC0E5_0002];

/// log2 of the size of a word filter ([`AdrModel::cue_word_filter`]).
const WORD_FILTER_BITS: u32 = CUE_BITS + 3;
/// Size of a word filter in 64-bit words (256 KiB).
const WORD_FILTER_WORDS: usize = 1 << (WORD_FILTER_BITS - 6);

/// A bit set over word hashes at [`word_filter_bit`].
pub(crate) type WordFilter = Box<Bits<WORD_FILTER_WORDS>>;

/// The bit of word hash `h` in a word filter: the event-cue set's first probe with three more bits
/// of the same product, so a filter bit always lies under the cue bit of the same hash.
#[inline(always)]
pub(crate) fn word_filter_bit(h: u64) -> usize {
    let [s0, _] = CUE_SALTS;
    (mix(h, s0).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> (64 - WORD_FILTER_BITS)) as usize
}

fn cue_probes(h: u64) -> impl Iterator<Item = usize> {
    CUE_SALTS.into_iter().map(move |s| cue_probe(h, s))
}

/// The bit of word hash `h` in the event-cue set for one of [`CUE_SALTS`].
#[inline]
fn cue_probe(h: u64, salt: u64) -> usize {
    (mix(h, salt).wrapping_mul(0xD6E8_FEB8_6659_FD93) >> (64 - CUE_BITS)) as usize
}

fn passes_gate(cues: &[u8], toks: &[TokFeat]) -> bool {
    toks.iter()
        .any(|t| t.flags & GATE_FLAGS != 0 || is_cue(cues, t))
}

#[inline(always)]
fn is_cue(cues: &[u8], t: &TokFeat) -> bool {
    cue_bit(cues, t.word) || (t.prefix != 0 && cue_bit(cues, t.prefix))
}

#[inline(always)]
fn cue_bit(bits: &[u8], h: u64) -> bool {
    let on = |i: usize| bits.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0);
    // Probed one after the other: the first probe already fails for most words.
    let [s0, s1] = CUE_SALTS;
    on(cue_probe(h, s0)) && on(cue_probe(h, s1))
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BadModel> {
        let end = self.pos.checked_add(n).ok_or(BadModel("truncated"))?;
        let s = self.b.get(self.pos..end).ok_or(BadModel("truncated"))?;
        self.pos = end;
        Ok(s)
    }

    fn f32(&mut self) -> Result<f32, BadModel> {
        let s = self.take(4)?;
        let arr: [u8; 4] = s.try_into().map_err(|_| BadModel("truncated"))?;
        Ok(f32::from_le_bytes(arr))
    }

    fn linear(&mut self) -> Result<Linear, BadModel> {
        let scale = self.f32()?;
        let bias = self.f32()?;
        let weights: Vec<i8> = self.take(TABLE)?.iter().map(|&x| x as i8).collect();
        let weights = weights
            .into_boxed_slice()
            .try_into()
            .map_err(|_| BadModel("truncated"))?;
        Ok(Linear {
            weights,
            scale,
            bias,
        })
    }
}

/// A labelled sentence for the segment model.
#[derive(Debug, Clone)]
pub struct SentenceExample {
    /// The sentence.
    pub text: String,
    /// It reports an adverse reaction.
    pub adr: bool,
}

/// A sentence with the byte ranges of its adverse-reaction phrases, for the token model.
#[derive(Debug, Clone)]
pub struct SpanExample {
    /// The sentence.
    pub text: String,
    /// Byte ranges of the reaction phrases in `text`.
    pub spans: Vec<std::ops::Range<usize>>,
}

/// Feature rows of one example: the token features of its (first, capped) segment.
fn featurize<'a>(lex: &Lexicon, text: &'a str) -> (Scan<'a>, Vec<TokFeat>) {
    let scan = Scan::new(text);
    let n = scan.tokens.len().min(MAX_SEG);
    let mut toks = [TokFeat::default(); MAX_SEG];
    lex.token_feats(&scan, Segment { first: 0, end: n }, &mut toks);
    let v = toks.get(..n).unwrap_or_default().to_vec();
    (scan, v)
}

/// Deterministic pseudo-random numbers (xorshift64*), so training order is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

const EPOCHS: usize = 12;
const SEED: u64 = 0x0AD2_2026;

/// L2 penalty of the segment model, applied to a weight each time its feature occurs (so it also
/// pulls harder on frequent features). Strong on purpose: 4,200 sentences and hundreds of
/// thousands of sparse features overfit without it (1e-7 to 1e-3 give the same CV as none); 0.2
/// maximized 5-fold CV F1 on train (0.1-0.3 all gain, whatever the shuffle seed).
const SEGMENT_L2: f32 = 0.2;
/// L2 penalty of the token model (its choice is not measured by the segment CV, so unchanged).
const TOKEN_L2: f32 = 1e-6;
/// The segment model: one SGD run over `rows`, its shuffle seed picked by `run` (0 for the
/// shipped model; others only to measure how much a CV figure owes to the shuffle order). The mean
/// of five runs with other seeds gained nothing on the whole detector's CV.
fn fit_segment(rows: &[(Vec<u32>, bool)], run: u64) -> (Vec<f32>, f32) {
    // The odd multiplier keeps every seed non-zero and apart.
    fit(rows, SEGMENT_L2, SEED ^ run.wrapping_mul(0x9E37_79B9))
}

/// Logistic regression by SGD over sparse hashed rows with L2 penalty `l2` per feature
/// occurrence, examples shuffled by a generator seeded with `seed`; returns full-precision
/// weights and bias.
fn fit(rows: &[(Vec<u32>, bool)], l2: f32, seed: u64) -> (Vec<f32>, f32) {
    let mut w = vec![0f32; TABLE];
    let mut bias = 0f32;
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = Rng(seed);
    for epoch in 0..EPOCHS {
        rng.shuffle(&mut order);
        let lr = 0.05 / (1.0 + epoch as f32 * 0.5);
        for &i in &order {
            let Some((feats, y)) = rows.get(i) else {
                continue;
            };
            let z = bias + feats.iter().map(|&k| w[k as usize]).sum::<f32>();
            let p = 1.0 / (1.0 + (-z).exp());
            let target = if *y { 1.0 } else { 0.0 };
            let g = p - target;
            bias -= lr * g;
            for &k in feats {
                let wk = &mut w[k as usize];
                *wk -= lr * (g + l2 * *wk);
            }
        }
    }
    (w, bias)
}

fn quantize(w: &[f32], bias: f32, out: &mut Vec<u8>) {
    let max = w.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend_from_slice(&bias.to_le_bytes());
    out.extend(
        w.iter()
            .map(|x| ((x / scale).round().clamp(-127.0, 127.0) as i8) as u8),
    );
}

/// The segment-model row of one featurized sentence, with the event cues `cues`.
fn segment_row(toks: &[TokFeat], cues: &[u8], adr: bool) -> (Vec<u32>, bool) {
    let mut feats = Vec::new();
    segment_features(toks, |t| is_cue(cues, t), |i| feats.push(i as u32));
    (feats, adr)
}

/// Words (by hash) seen at least this often inside reaction phrases can be event cues…
const CUE_MIN_COUNT: u32 = 2;
/// …if at least this share of all their occurrences is inside a phrase.
const CUE_MIN_SHARE: f32 = 0.4;

/// The event-cue bit set: words and prefixes typical of reaction phrases in `data`.
fn event_cues(lex: &Lexicon, data: &[SpanExample]) -> Vec<u8> {
    let mut counts: std::collections::BTreeMap<u64, (u32, u32)> = std::collections::BTreeMap::new();
    for ex in data {
        let (scan, toks) = featurize(lex, &ex.text);
        for (tok, feat) in scan.tokens.iter().zip(&toks) {
            if feat.word == DRUG_WORD || feat.word == NUM_WORD || tok.end - tok.start < 3 {
                continue;
            }
            let orig = scan.orig(tok.start..tok.end);
            let inside = ex
                .spans
                .iter()
                .any(|s| s.start <= orig.start && orig.end <= s.end);
            for h in [feat.word, feat.prefix].into_iter().filter(|h| *h != 0) {
                let c = counts.entry(h).or_default();
                c.1 += 1;
                if inside {
                    c.0 += 1;
                }
            }
        }
    }
    let mut bits = vec![0u8; (1 << CUE_BITS) / 8];
    for (h, (inside, total)) in counts {
        if inside >= CUE_MIN_COUNT && inside as f32 >= CUE_MIN_SHARE * total as f32 {
            for i in cue_probes(h) {
                if let Some(b) = bits.get_mut(i / 8) {
                    *b |= 1 << (i % 8);
                }
            }
        }
    }
    bits
}

fn token_rows(lex: &Lexicon, data: &[SpanExample]) -> Vec<(Vec<u32>, bool)> {
    let mut rows = Vec::new();
    // The token model only runs inside segments the segment model accepted, so it learns which
    // words of a reaction sentence are the reaction, from sentences that have one.
    for ex in data.iter().filter(|ex| !ex.spans.is_empty()) {
        let (scan, toks) = featurize(lex, &ex.text);
        for (j, tok) in scan.tokens.iter().take(toks.len()).enumerate() {
            let orig = scan.orig(tok.start..tok.end);
            let inside = ex
                .spans
                .iter()
                .any(|s| s.start <= orig.start && orig.end <= s.end);
            let mut feats = Vec::new();
            token_features(&toks, j, |i| feats.push(i as u32));
            rows.push((feats, inside));
        }
    }
    rows
}

/// The log-odds threshold that maximizes F1 over out-of-fold scores, and that F1; scores of
/// minus infinity are never accepted.
fn best_threshold(scored: &mut [(f32, bool)]) -> (f32, f64) {
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let total_pos = scored.iter().filter(|s| s.1).count() as f64;
    let (mut tp, mut fp) = (0f64, 0f64);
    let (mut best_f1, mut best_t) = (0f64, 0f32);
    for (i, (score, y)) in scored.iter().enumerate() {
        if *y {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let next = scored.get(i + 1).map_or(f32::NEG_INFINITY, |s| s.0);
        if next == *score || !score.is_finite() {
            continue;
        }
        let f1 = 2.0 * tp / (tp + fp + total_pos);
        if f1 > best_f1 {
            best_f1 = f1;
            best_t = if next.is_finite() {
                (score + next) / 2.0
            } else {
                *score - 1.0
            };
        }
    }
    (best_t, best_f1)
}

const FOLDS: usize = 5;

/// Letters and digits only, lower-cased: the same sentence gets the same key in the sentence and
/// phrase files whatever their tokenization.
pub fn sentence_key(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The training sentences, featurized once, with the event-cue sets learned without some folds.
///
/// The event cues come from the phrase annotations of (mostly) the same sentences, so a sentence's
/// cue features must never be computed from its own annotation: a training row of fold `j` uses the
/// cues learned without fold `j` (and, inside cross-validation for held-out fold `k`, without `k`
/// too), and a held-out row the cues learned without its fold, as the shipped model sees new text.
struct Folds {
    toks: Vec<Vec<TokFeat>>,
    labels: Vec<bool>,
    /// The folds whose sentences each phrase example belongs to, as a bit mask.
    span_folds: Vec<u32>,
    /// Event-cue sets keyed by the bit mask of the folds left out (one or two folds).
    cues: std::collections::BTreeMap<u32, Vec<u8>>,
}

impl Folds {
    fn new(lex: &Lexicon, sentences: &[SentenceExample], spans: &[SpanExample]) -> Self {
        let mut keys: Vec<std::collections::HashSet<String>> = vec![Default::default(); FOLDS];
        for (i, s) in sentences.iter().enumerate() {
            if let Some(k) = keys.get_mut(i % FOLDS) {
                k.insert(sentence_key(&s.text));
            }
        }
        // The folds whose sentences each phrase example belongs to (the files tokenize apart).
        let span_folds: Vec<u32> = spans
            .iter()
            .map(|s| {
                let key = sentence_key(&s.text);
                keys.iter()
                    .enumerate()
                    .filter(|(_, k)| k.contains(&key))
                    .fold(0, |m, (f, _)| m | 1 << f)
            })
            .collect();
        let mut cues = std::collections::BTreeMap::new();
        for a in 0..FOLDS {
            for b in a..FOLDS {
                let out = (1u32 << a) | (1 << b);
                let kept: Vec<SpanExample> = spans
                    .iter()
                    .zip(&span_folds)
                    .filter(|(_, m)| **m & out == 0)
                    .map(|(s, _)| s.clone())
                    .collect();
                cues.insert(out, event_cues(lex, &kept));
            }
        }
        Folds {
            toks: sentences
                .iter()
                .map(|ex| featurize(lex, &ex.text).1)
                .collect(),
            labels: sentences.iter().map(|ex| ex.adr).collect(),
            span_folds,
            cues,
        }
    }

    /// The cues learned without the folds in `out`.
    fn cues(&self, out: u32) -> &[u8] {
        self.cues.get(&out).map_or(&[], Vec::as_slice)
    }

    /// The rows of every sentence not in fold `held_out` (all when `None`), each with the cues
    /// learned without its own fold and `held_out`.
    fn training_rows(&self, held_out: Option<usize>) -> Vec<(Vec<u32>, bool)> {
        let other = held_out.map_or(0, |k| 1u32 << k);
        self.toks
            .iter()
            .zip(&self.labels)
            .enumerate()
            .filter(|(i, _)| Some(i % FOLDS) != held_out)
            .map(|(i, (toks, &y))| segment_row(toks, self.cues(other | 1 << (i % FOLDS)), y))
            .collect()
    }

    /// The segment model's decision threshold (log-odds) that maximizes F1 over 5-fold
    /// out-of-fold predictions, and that cross-validated F1.
    ///
    /// A sentence the detector would not score (see [`AdrModel::passes_gate`]) counts as a "no"
    /// whatever its score, so the threshold fits the sentences the model actually sees; the gate of
    /// a held-out sentence uses the cues learned without its fold. `run` picks the SGD shuffle
    /// seed ([`fit_segment`]).
    fn cross_validate(&self, run: u64) -> (f32, f64) {
        let mut scored = Vec::with_capacity(self.toks.len());
        for k in 0..FOLDS {
            let (w, b) = fit_segment(&self.training_rows(Some(k)), run);
            let cues = self.cues(1 << k);
            for (toks, &y) in self.toks.iter().zip(&self.labels).skip(k).step_by(FOLDS) {
                let z = if passes_gate(cues, toks) {
                    let (feats, _) = segment_row(toks, cues, y);
                    b + feats
                        .iter()
                        .map(|&i| w.get(i as usize).copied().unwrap_or(0.0))
                        .sum::<f32>()
                } else {
                    f32::NEG_INFINITY
                };
                scored.push((z, y));
            }
        }
        best_threshold(&mut scored)
    }
}

impl Folds {
    /// F1 of the whole detector over 5-fold out-of-fold predictions on `sentences`: each fold is
    /// screened by a detector whose segment model, token model and event cues were trained
    /// without it, with the decision threshold `threshold`. Unlike the segment model's CV this
    /// also judges what the detector adds: the listed reactions, the question and negation
    /// checks, and the need for a reaction phrase in a positive segment. `run` picks the segment
    /// model's SGD shuffle seed ([`fit_segment`]).
    fn detector_f1(
        &self,
        lex: &Lexicon,
        sentences: &[SentenceExample],
        spans: &[SpanExample],
        threshold: f32,
        run: u64,
    ) -> Result<f64, ScreenError> {
        let (mut tp, mut fp, mut fn_) = (0u32, 0u32, 0u32);
        for k in 0..FOLDS {
            let (sw, sb) = fit_segment(&self.training_rows(Some(k)), run);
            let kept: Vec<SpanExample> = spans
                .iter()
                .zip(&self.span_folds)
                .filter(|(_, m)| **m & (1 << k) == 0)
                .map(|(s, _)| s.clone())
                .collect();
            let (tw, tb) = fit(&token_rows(lex, &kept), TOKEN_L2, SEED);
            let bytes = model_bytes(threshold, (&sw, sb), (&tw, tb), self.cues(1 << k));
            let model = AdrModel::from_bytes(&bytes).map_err(|e| ScreenError::Compile {
                what: "adverse-reaction model of a fold".to_owned(),
                message: e.0.to_owned(),
            })?;
            let detector = Detector::with_model(&crate::Policy::default(), model)?;
            for ex in sentences.iter().skip(k).step_by(FOLDS) {
                match (detector.finds_event(&ex.text), ex.adr) {
                    (true, true) => tp += 1,
                    (true, false) => fp += 1,
                    (false, true) => fn_ += 1,
                    (false, false) => {}
                }
            }
        }
        let found = 2 * tp + fp + fn_;
        Ok(if found == 0 {
            0.0
        } else {
            f64::from(2 * tp) / f64::from(found)
        })
    }
}

/// The weights file: threshold, segment and token models (weights, bias) and event cues.
fn model_bytes(
    threshold: f32,
    segment: (&[f32], f32),
    token: (&[f32], f32),
    cues: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + 2 * (8 + TABLE) + (1 << CUE_BITS) / 8);
    out.extend_from_slice(MAGIC);
    out.push(BITS as u8);
    out.extend_from_slice(&threshold.to_le_bytes());
    quantize(segment.0, segment.1, &mut out);
    quantize(token.0, token.1, &mut out);
    out.extend_from_slice(cues);
    out
}

/// Cross-validated F1 on the training sentences (for reports and model choices).
#[derive(Debug, Clone, Copy)]
pub struct CrossValidation {
    /// The gated segment model's, at the threshold that maximizes it.
    pub segment_f1: f64,
    /// The whole detector's, at that threshold.
    pub detector_f1: f64,
}

/// 5-fold cross-validation on `sentences` of the gated segment model and of the whole detector,
/// with SGD shuffle seed `run` for the segment model (0 is the shipped model's; one run's figure
/// moves by about 0.002 with the seed, so model choices compare means over a few).
pub fn cross_validate(
    sentences: &[SentenceExample],
    spans: &[SpanExample],
    run: u64,
) -> Result<CrossValidation, ScreenError> {
    let lex = Lexicon::base()?;
    let folds = Folds::new(&lex, sentences, spans);
    let (threshold, segment_f1) = folds.cross_validate(run);
    Ok(CrossValidation {
        segment_f1,
        detector_f1: folds.detector_f1(&lex, sentences, spans, threshold, run)?,
    })
}

/// Train both models and return the weights file (`models/adr.bin`).
///
/// The segment model's decision threshold is the one that maximizes F1 over 5-fold
/// out-of-fold predictions on `sentences`, so no held-out data is looked at.
pub fn train(sentences: &[SentenceExample], spans: &[SpanExample]) -> Result<Vec<u8>, ScreenError> {
    let lex = Lexicon::base()?;
    let cues = event_cues(&lex, spans);
    let folds = Folds::new(&lex, sentences, spans);
    let (threshold, _) = folds.cross_validate(0);
    let (sw, sb) = fit_segment(&folds.training_rows(None), 0);
    let (tw, tb) = fit(&token_rows(&lex, spans), TOKEN_L2, SEED);
    Ok(model_bytes(threshold, (&sw, sb), (&tw, tb), &cues))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_truncated_and_foreign_files() {
        assert!(AdrModel::from_bytes(b"").is_err());
        assert!(AdrModel::from_bytes(b"RAD1\x10\0\0").is_err());
        assert!(AdrModel::from_bytes(b"NOPE").is_err());
    }

    #[test]
    fn training_is_deterministic_and_learns() {
        let s = |t: &str, adr| SentenceExample {
            text: t.to_owned(),
            adr,
        };
        let data: Vec<_> = (0..20)
            .flat_map(|_| {
                [
                    s("it made me so dizzy", true),
                    s("works great for my mood", false),
                ]
            })
            .collect();
        let spans = vec![SpanExample {
            text: "it made me so dizzy".to_owned(),
            spans: std::iter::once(14..19).collect(),
        }];
        let a = train(&data, &spans).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Some(&a), train(&data, &spans).ok().as_ref());
        let m = AdrModel::from_bytes(&a)
            .map_err(|e| e.0)
            .unwrap_or_else(|e| panic!("{e}"));
        let lex = Lexicon::base().unwrap_or_else(|e| panic!("{e}"));
        let feats = |text: &str| {
            let (_, mut toks) = featurize(&lex, text);
            for t in &mut toks {
                t.cue = m.is_event_cue(t);
            }
            toks
        };
        assert!(
            m.segment_margin(&feats("made me dizzy")) > m.segment_margin(&feats("works great"))
        );
    }

    #[test]
    fn a_fold_never_sees_cues_learned_from_its_own_phrases() {
        let s = |t: &str, adr| SentenceExample {
            text: t.to_owned(),
            adr,
        };
        // Sentence 0 and 5 are in fold 0; only they hold the reaction word "zorbly".
        let sentences: Vec<_> = (0..10)
            .map(|i| {
                if i % 5 == 0 {
                    s("it made me zorbly", true)
                } else {
                    s(&format!("works great {i}"), false)
                }
            })
            .collect();
        let phrase = SpanExample {
            text: "it made me zorbly".to_owned(),
            spans: std::iter::once(11..17).collect(),
        };
        let spans = vec![phrase.clone(), phrase];
        let lex = Lexicon::base().unwrap_or_else(|e| panic!("{e}"));
        let folds = Folds::new(&lex, &sentences, &spans);
        let (_, toks) = featurize(&lex, "zorbly");
        let zorbly = toks.first().copied().unwrap_or_default();
        assert!(
            !is_cue(folds.cues(1 << 0), &zorbly),
            "fold 0 learned from its own phrases"
        );
        assert!(is_cue(folds.cues(1 << 1), &zorbly));
        assert!(!is_cue(folds.cues((1 << 0) | (1 << 1)), &zorbly));
    }
}
