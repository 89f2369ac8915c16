//! Normalization and tokenization shared by every detector.
//!
//! Detectors match against `Scan::norm`, a lower-cased, NFKD-folded, confusable-folded copy of the
//! message, so that "Ⅹarelto", "XARELTO" and "Хarelto" (Cyrillic Х) all read "xarelto". Every
//! normalized byte remembers which original byte it came from, so a match in `norm` always maps back
//! to a span of whole characters in the original text.

use std::cell::Cell;
use std::ops::Range;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::model::{hash_bytes, hash_span};
use crate::report::Span;

/// Token shape facts, read from the original (not lower-cased) text, packed in one byte: the
/// tokenizer writes one per word of every text, and five separate flags cost it a store each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape(u8);

/// [`Shape`] bit: an inner apostrophe joins pieces of the word. The same bit as the tokenizer's
/// apostrophe in [`shape_key`].
const SHAPE_APOSTROPHE: u8 = 1;
/// [`Shape`] bit: some character is not an ASCII digit. In an ASCII word that is a letter, so
/// this is [`CLASS`]'s `ALPHA`.
const SHAPE_NOT_DIGIT: u8 = ALPHA;
/// [`Shape`] bit: the first character is an upper-case letter ([`CLASS`]'s `UPPER`).
const SHAPE_CAPITALIZED: u8 = UPPER;
/// [`Shape`] bit: at least one ASCII digit ([`CLASS`]'s `DIGIT`).
const SHAPE_HAS_DIGIT: u8 = DIGIT;
/// [`Shape`] bit: every letter is upper case and there are at least two. [`CLASS`]'s `LOWER`
/// place, which a shape does not keep.
const SHAPE_ALL_UPPER: u8 = LOWER;

impl Shape {
    /// The first character is an upper-case letter.
    pub fn capitalized(self) -> bool {
        self.0 & SHAPE_CAPITALIZED != 0
    }

    /// Every letter is upper case and there are at least two.
    pub fn all_upper(self) -> bool {
        self.0 & SHAPE_ALL_UPPER != 0
    }

    /// At least one ASCII digit.
    pub fn has_digit(self) -> bool {
        self.0 & SHAPE_HAS_DIGIT != 0
    }

    /// Every character is an ASCII digit.
    pub fn all_digit(self) -> bool {
        self.0 & (SHAPE_NOT_DIGIT | SHAPE_APOSTROPHE) == 0
    }

    /// An inner apostrophe joins pieces of the word ("don't"), which are runs of their own.
    pub fn apostrophe(self) -> bool {
        self.0 & SHAPE_APOSTROPHE != 0
    }

    /// This shape with its apostrophe fact set to `apostrophe`.
    fn with_apostrophe(self, apostrophe: bool) -> Shape {
        Shape(self.0 & !SHAPE_APOSTROPHE | u8::from(apostrophe))
    }

    /// This shape with its all-upper fact set to `all_upper`.
    fn with_all_upper(self, all_upper: bool) -> Shape {
        Shape(self.0 & !SHAPE_ALL_UPPER | if all_upper { SHAPE_ALL_UPPER } else { 0 })
    }
}

/// One word or number: a maximal run of alphanumerics (with inner apostrophes) in `norm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    /// Byte range in `Scan::norm`.
    pub start: usize,
    /// End of the byte range in `Scan::norm`.
    pub end: usize,
    /// Shape of the original text under the token.
    pub shape: Shape,
    /// [`hash_bytes`] of the normalized word, computed once here (after the words are found) for
    /// every detector that looks words up by hash.
    pub hash: u64,
}

/// A message prepared for matching: original text, normalized text, offset map, tokens.
#[derive(Debug)]
pub(crate) struct Scan<'a> {
    /// The original text.
    pub text: &'a str,
    /// Lower-cased, folded text that detectors match on.
    pub norm: String,
    /// `map[i]` is the original byte offset of the character that produced `norm` byte `i`;
    /// empty when `norm` is a byte-for-byte lower-case copy (pure ASCII input).
    map: Vec<u32>,
    /// Words and numbers in text order.
    pub tokens: Vec<Token>,
}

fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}')
}

/// Characters that should read as an ASCII apostrophe, quote or dash when matching.
fn fold_punct(c: char) -> Option<char> {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{2032}' | '\u{02BC}' => Some('\''),
        '\u{201C}' | '\u{201D}' | '\u{201F}' | '\u{2033}' => Some('"'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Some('-'),
        _ => None,
    }
}

/// The buffers of a [`Scan`] that is done with, kept for the next one on the same thread.
#[derive(Default)]
struct Spare {
    norm: String,
    map: Vec<u32>,
    tokens: Vec<Token>,
}

/// The buffers of a text longer than this are not kept: a long paste must not pin memory (the
/// buffers of a text take about 13 bytes per byte).
const SPARE_MAX_BYTES: usize = 1 << 14;

thread_local! {
    /// The buffers of the last [`Scan::recycle`]d scan on this thread: screening a message then
    /// allocates nothing for its normalized text and tokens, which cost a malloc and a free each.
    static SPARE: Cell<Option<Spare>> = const { Cell::new(None) };
}

impl<'a> Scan<'a> {
    /// Normalize and tokenize `text`.
    pub fn new(text: &'a str) -> Self {
        let Spare {
            mut norm,
            mut map,
            mut tokens,
        } = SPARE.with(Cell::take).unwrap_or_default();
        norm.clear();
        map.clear();
        tokens.clear();
        let runs = if text.is_ascii() {
            norm.push_str(text);
            norm.make_ascii_lowercase();
            Vec::new()
        } else {
            normalize(text, &mut norm, &mut map)
        };
        let mut scan = Scan {
            text,
            norm,
            map,
            tokens,
        };
        scan.tokenize(&runs);
        scan
    }

    /// Hand this scan's buffers to the next [`Scan::new`] on this thread.
    pub fn recycle(self) {
        if self.norm.capacity() <= SPARE_MAX_BYTES {
            let spare = Spare {
                norm: self.norm,
                map: self.map,
                tokens: self.tokens,
            };
            // Through `with`: `LocalKey::set` takes a longer path that also serves a key not
            // yet initialized.
            SPARE.with(|s| s.set(Some(spare)));
        }
    }

    /// Map a byte range of `norm` to the span of whole original characters it came from.
    pub fn orig(&self, r: Range<usize>) -> Span {
        if self.map.is_empty() {
            return Span::new(r.start, r.end);
        }
        let len = self.norm.len();
        let start = if r.start >= len {
            self.text.len()
        } else {
            self.map[r.start] as usize
        };
        let end = if r.end == 0 {
            start
        } else if r.end >= len {
            self.text.len()
        } else {
            let next = self.map[r.end] as usize;
            let last = self.map[r.end - 1] as usize;
            if next == last {
                // The range ends inside one original character's expansion: take the whole character.
                last + self.text[last..].chars().next().map_or(0, char::len_utf8)
            } else {
                next
            }
        };
        Span::new(start, end.max(start))
    }

    /// The text is ASCII, so `norm` is its byte-for-byte lower-case copy.
    pub fn is_ascii(&self) -> bool {
        self.map.is_empty()
    }

    /// The original text of a normalized byte range.
    pub fn orig_text(&self, r: Range<usize>) -> &'a str {
        let s = self.orig(r);
        self.text.get(s.start..s.end).unwrap_or_default()
    }

    /// The normalized text of token `i`.
    pub fn tok(&self, i: usize) -> &str {
        let t = &self.tokens[i];
        &self.norm[t.start..t.end]
    }

    /// True when `norm[r]` starts and ends at word boundaries (no alphanumeric on either side).
    pub fn at_word_boundaries(&self, r: Range<usize>) -> bool {
        let before = self.norm[..r.start].chars().next_back();
        let after = self.norm[r.end..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    }

    /// Index of the first token whose start is at or after normalized byte `pos`.
    pub fn token_at_or_after(&self, pos: usize) -> usize {
        self.tokens.partition_point(|t| t.start < pos)
    }

    /// Find the tokens (appended to `self.tokens`); `runs` are the ASCII runs of non-ASCII text
    /// (see [`normalize`]).
    fn tokenize(&mut self, runs: &[AsciiRun]) {
        let mut tokens = std::mem::take(&mut self.tokens);
        tokens.reserve(token_capacity(self.norm.len()));
        if self.map.is_empty() {
            ascii_words(self.text.as_bytes(), 0, true, &mut tokens);
        } else {
            self.tokenize_general(runs, &mut tokens);
        }
        // Hashed in a pass of their own: in the loops that find the words, the hash's values
        // would compete for registers with the byte scan's (measured: fewer instructions so).
        let norm = self.norm.as_bytes();
        for t in &mut tokens {
            t.hash = hash_span(norm, t.start, t.end);
        }
        self.tokens = tokens;
    }

    /// Tokens of normalized non-ASCII text: the byte-class loop of the ASCII path, with a char
    /// decode only at non-ASCII bytes. Long pasted text often has one curly quote or emoji, which
    /// must not make every one of its words pay for char iteration, nor for mapping its span back
    /// to read its shape: inside an ASCII run of the original (`runs`), words are found by the
    /// ASCII path's loop, reading shapes from the original bytes; a word that is a copy of an
    /// ASCII run of the original reads its shape from there.
    fn tokenize_general(&self, runs: &[AsciiRun], tokens: &mut Vec<Token>) {
        let norm = self.norm.as_bytes();
        let text = self.text.as_bytes();
        let mut runs = runs.iter().peekable();
        let mut i = 0;
        while let Some(&b) = norm.get(i) {
            // A run that ends within two bytes of `i` has no word left that its bytes alone decide.
            while runs.next_if(|r| r.norm + r.len <= i + 2).is_some() {}
            if let Some(r) = runs.peek().filter(|r| r.norm <= i) {
                let from = r.orig + (i - r.norm);
                let orig = text.get(from..r.orig + r.len).unwrap_or_default();
                let closed = r.norm + r.len == norm.len() && r.orig + r.len == text.len();
                let done = ascii_words(orig, i, closed, tokens);
                if done > 0 {
                    i += done;
                    continue;
                }
            }
            if class(b) & ALNUM == 0 {
                let (alnum, len) = if b.is_ascii() {
                    (false, 1)
                } else {
                    alnum_at(&self.norm, i)
                };
                if !alnum {
                    i += len;
                    continue;
                }
            }
            let start = i;
            let mut apostrophe = false;
            // Every byte of the word is ASCII.
            let mut plain = true;
            loop {
                i += alnum_run(norm.get(i..).unwrap_or_default());
                match norm.get(i) {
                    Some(b'\'') if norm.get(i + 1).is_some_and(|&n| class(n) & ALPHA != 0) => {
                        apostrophe = true;
                        i += 1;
                    }
                    Some(b) if !b.is_ascii() => {
                        let (alnum, len) = alnum_at(&self.norm, i);
                        if !alnum {
                            break;
                        }
                        plain = false;
                        i += len;
                    }
                    _ => break,
                }
            }
            let end = i;
            let shape = plain
                .then(|| self.plain_shape(start, end, apostrophe))
                .flatten()
                .unwrap_or_else(|| self.shape_of(start..end).with_apostrophe(apostrophe));
            tokens.push(Token {
                start,
                end,
                shape,
                hash: 0,
            });
        }
    }

    /// The shape of the ASCII word at `norm[start..end]` read straight from the original bytes,
    /// when it is a copy of an ASCII run of the original (`None` otherwise). Each ASCII original
    /// byte makes exactly one normalized byte, so an ASCII original run of the word's length that
    /// starts where the word does made the word; its original span (as [`Scan::orig`] maps it) is
    /// that run when the next normalized byte's character starts right after it, and then
    /// [`Scan::shape_of`] would read these same bytes.
    fn plain_shape(&self, start: usize, end: usize, apostrophe: bool) -> Option<Shape> {
        let from = *self.map.get(start)? as usize;
        let to = from.checked_add(end - start)?;
        let next = self.map.get(end).map_or(self.text.len(), |&m| m as usize);
        let orig = self.text.as_bytes().get(from..to).filter(|_| next == to)?;
        let (raw, any) = word_bits(orig);
        let first = orig.first().map_or(0, |&b| class(b));
        raw.is_ascii()
            .then(|| shape_from_bits(first, any, apostrophe, || orig))
    }

    fn shape_of(&self, r: Range<usize>) -> Shape {
        let orig = self.orig_text(r);
        if orig.is_ascii() {
            return ascii_shape(orig.as_bytes());
        }
        char_shape(orig)
    }
}

/// The shape of a word read from its characters, without `apostrophe` (which the tokenizer
/// knows): what every faster reading of a shape must agree with.
fn char_shape(orig: &str) -> Shape {
    let mut letters = 0usize;
    let mut upper = 0usize;
    let mut digits = 0usize;
    let mut total = 0usize;
    for c in orig.chars() {
        total += 1;
        let k = char_class(c);
        if k & ALPHA != 0 {
            letters += 1;
            if k & UPPER != 0 {
                upper += 1;
            }
        } else if c.is_ascii_digit() {
            digits += 1;
        }
    }
    let flag = |fact: bool, bit: u8| if fact { bit } else { 0 };
    Shape(
        flag(
            orig.chars()
                .next()
                .is_some_and(|c| char_class(c) & UPPER != 0),
            SHAPE_CAPITALIZED,
        ) | flag(letters >= 2 && upper == letters, SHAPE_ALL_UPPER)
            | flag(digits > 0, SHAPE_HAS_DIGIT)
            | flag(digits == 0 || digits != total, SHAPE_NOT_DIGIT),
    )
}

/// How far sentence lookups scan each way, so that text without punctuation stays linear.
const SENTENCE_SCAN_LIMIT: usize = 400;

impl Scan<'_> {
    /// Byte range in `norm` of the sentence around `pos`: bounded by a line break, `!`, `?`, or a `.`
    /// followed by whitespace (so "2.5 mg" and "example.com" stay whole), and never wider than a few
    /// hundred bytes on either side.
    pub fn sentence_at(&self, pos: usize) -> Range<usize> {
        let b = self.norm.as_bytes();
        let pos = pos.min(b.len());
        let is_end = |i: usize| match b.get(i) {
            Some(b'\n' | b'!' | b'?') => true,
            Some(b'.') => b.get(i + 1).is_none_or(u8::is_ascii_whitespace),
            _ => false,
        };
        let lo = pos.saturating_sub(SENTENCE_SCAN_LIMIT);
        let mut start = lo;
        for i in (lo..pos).rev() {
            if is_end(i) {
                start = i + 1;
                break;
            }
        }
        let hi = pos.saturating_add(SENTENCE_SCAN_LIMIT).min(b.len());
        let mut end = hi;
        for i in pos..hi {
            if is_end(i) {
                end = i;
                break;
            }
        }
        while start < end && !self.norm.is_char_boundary(start) {
            start += 1;
        }
        while end > start && !self.norm.is_char_boundary(end) {
            end -= 1;
        }
        start..end
    }

    /// The normalized words of up to `n` tokens that end at or before `pos` and start at or after
    /// `floor`, nearest first.
    pub fn words_before(
        &self,
        pos: usize,
        n: usize,
        floor: usize,
    ) -> impl Iterator<Item = &str> + Clone {
        let idx = self.tokens.partition_point(|t| t.end <= pos);
        let from = idx.saturating_sub(n);
        self.tokens
            .get(from..idx)
            .unwrap_or_default()
            .iter()
            .rev()
            .take_while(move |t| t.start >= floor)
            .map(|t| self.norm.get(t.start..t.end).unwrap_or_default())
    }

    /// The normalized words of up to `n` tokens that start at or after `pos`, in text order.
    pub fn words_after(&self, pos: usize, n: usize) -> impl Iterator<Item = &str> + Clone {
        let idx = self.token_at_or_after(pos);
        self.tokens
            .get(idx..)
            .unwrap_or_default()
            .iter()
            .take(n)
            .map(|t| self.norm.get(t.start..t.end).unwrap_or_default())
    }
}

/// Bits in a [`WordGate`] (8 KiB, so that its probes stay in cache).
const WORD_GATE_BITS: usize = 1 << 16;

/// A test, one probe per word, of whether a phrase automaton can find anything between word
/// boundaries in a text. A phrase matched between word boundaries has each of its alphanumeric
/// runs as a whole run of the text, which is a token or a piece of one between apostrophes; the
/// gate holds the hash of every phrase's longest run. A wrong "maybe" costs one automaton pass
/// and a wrong "no" cannot happen, so a detector that keeps only matches at word boundaries may
/// skip its pass when the gate is shut, and find exactly what the pass would have found.
pub(crate) struct WordGate {
    bits: Box<[u64]>,
}

impl WordGate {
    /// The gate of `phrases`, which are words: a phrase without a letter or digit has no gate
    /// word and adds nothing.
    pub fn new<'p>(phrases: impl IntoIterator<Item = &'p str>) -> Self {
        let mut bits = vec![0u64; WORD_GATE_BITS / 64].into_boxed_slice();
        for p in phrases {
            if let Some(run) = p
                .split(|c: char| !c.is_alphanumeric())
                .filter(|r| !r.is_empty())
                .max_by_key(|r| r.len())
            {
                let i = word_gate_bit(hash_bytes(run.as_bytes()));
                if let Some(w) = bits.get_mut(i / 64) {
                    *w |= 1 << (i % 64);
                }
            }
        }
        WordGate { bits }
    }

    /// Some phrase's gate word may have the word hash `h` (never false for one that does).
    pub fn contains(&self, h: u64) -> bool {
        let i = word_gate_bit(h);
        self.bits
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// The bit of a word hash in a [`WordGate`].
fn word_gate_bit(h: u64) -> usize {
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as usize
}

/// Whether the character at byte `i` of `s` is alphanumeric, and its length in bytes (1 past the end
/// or off a character boundary, so that callers always advance).
fn alnum_at(s: &str, i: usize) -> (bool, usize) {
    match s.as_bytes().get(i) {
        Some(&b) if b.is_ascii() => (class(b) & ALNUM != 0, 1),
        _ => s
            .get(i..)
            .and_then(|rest| rest.chars().next())
            .map_or((false, 1), |c| (char_class(c) & ALNUM != 0, c.len_utf8())),
    }
}

/// The [`CLASS`] bits `ALNUM`, `ALPHA` and `UPPER` of any character, as `char::is_alphanumeric`,
/// `is_alphabetic` and `is_uppercase` answer: a table load below [`FOLD_TABLE_CHARS`], where each
/// of those is a search of Unicode's ranges (about 250 instructions) for every accented or Greek
/// letter of a text.
fn char_class(c: char) -> u8 {
    if let Ok(b) = u8::try_from(c)
        && b.is_ascii()
    {
        return class(b);
    }
    match char_classes().get(c as usize) {
        Some(&k) => k,
        None => unicode_class(c),
    }
}

/// [`char_class`] without the table.
fn unicode_class(c: char) -> u8 {
    // Unicode's upper-case letters are alphabetic, and the alphanumerics are the alphabetic and
    // numeric characters, so most characters take one search of ranges, not three.
    if c.is_alphabetic() {
        ALNUM | ALPHA | if c.is_uppercase() { UPPER } else { 0 }
    } else if c.is_numeric() {
        ALNUM
    } else {
        0
    }
}

/// [`unicode_class`] of every character below [`FOLD_TABLE_CHARS`], indexed by code point.
fn char_classes() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Box<[u8]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..FOLD_TABLE_CHARS)
            .map(|u| char::from_u32(u).map_or(0, unicode_class))
            .collect()
    })
}

/// [`CLASS`] bit: an ASCII letter or digit.
const ALNUM: u8 = 1;
/// [`CLASS`] bit: an ASCII letter.
const ALPHA: u8 = 2;
/// [`CLASS`] bit: an upper-case ASCII letter.
const UPPER: u8 = 4;
/// [`CLASS`] bit: an ASCII digit.
const DIGIT: u8 = 8;
/// [`CLASS`] bit: a lower-case ASCII letter.
const LOWER: u8 = 16;

/// What the tokenizer needs to know about each byte, one table load per byte where the range
/// tests would take several: every text pays this per byte. Non-ASCII bytes have no bits.
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_uppercase() {
            ALNUM | ALPHA | UPPER
        } else if c.is_ascii_lowercase() {
            ALNUM | ALPHA | LOWER
        } else if c.is_ascii_digit() {
            ALNUM | DIGIT
        } else {
            0
        };
        b += 1;
    }
    t
};

/// The [`CLASS`] bits of byte `b`.
fn class(b: u8) -> u8 {
    CLASS[usize::from(b)]
}

/// Vector capacity for the tokens of `len` bytes: enough for nearly every text (words and their
/// separators average more than four bytes), so that pushing seldom reallocates.
fn token_capacity(len: usize) -> usize {
    len / 4 + 2
}

/// The shape of an ASCII word from its first byte's [`CLASS`] bits (`first`), its bytes' bits
/// or-ed (`any`) and whether an apostrophe joins its pieces, as [`Scan::shape_of`] reads it from
/// characters. `word` gives the word's bytes; it is read only for words without a lower-case
/// letter, which are rare.
fn shape_from_bits<'w>(
    first: u8,
    any: u8,
    apostrophe: bool,
    word: impl FnOnce() -> &'w [u8],
) -> Shape {
    let shape = shape_key(first, any, apostrophe);
    if may_be_all_upper(any) {
        return shape.with_all_upper(two_letters(word()));
    }
    shape
}

/// An ASCII word's shape but for `all_upper`, from its bytes' [`CLASS`] bits: each fact's bit is
/// the class bit that tells it (a word without a letter is all digits, as its other bytes are
/// digits and apostrophes only come before a letter), so the shape is two masks and an or.
#[inline]
fn shape_key(first: u8, any: u8, apostrophe: bool) -> Shape {
    Shape(any & (ALPHA | DIGIT) | first & UPPER | u8::from(apostrophe))
}

/// A word with these [`CLASS`] bits or-ed has letters, none lower case: it is all upper case if
/// it has two letters ([`two_letters`]).
#[inline]
fn may_be_all_upper(any: u8) -> bool {
    any & (LOWER | ALPHA) == ALPHA
}

/// At least two bytes of `word` are ASCII letters.
#[cold]
fn two_letters(word: &[u8]) -> bool {
    word.iter()
        .filter(|&&b| class(b) & ALPHA != 0)
        .nth(1)
        .is_some()
}

/// The shape of an ASCII word, as [`Scan::shape_of`] reads it from characters.
fn ascii_shape(word: &[u8]) -> Shape {
    let (_, any) = word_bits(word);
    let first = word.first().map_or(0, |&b| class(b));
    shape_from_bits(first, any, word.contains(&b'\''), || word)
}

/// The bytes of `word` or-ed, and their [`CLASS`] bits or-ed: what [`shape_from_bits`] needs, in
/// a loop without branches.
fn word_bits(word: &[u8]) -> (u8, u8) {
    let (mut raw, mut any) = (0u8, 0u8);
    for &b in word {
        raw |= b;
        any |= class(b);
    }
    (raw, any)
}

/// The length of the run of ASCII letters and digits that `b` starts with.
fn alnum_run(b: &[u8]) -> usize {
    b.iter()
        .position(|&x| class(x) & ALNUM == 0)
        .unwrap_or(b.len())
}

/// Push the tokens (hash not yet set) of the ASCII bytes `orig`, whose lower-case copy starts at
/// `norm[at]`, in one pass over the bytes: the same tokens and shapes as the general path, which
/// short social messages (nearly all ASCII) would otherwise pay for per character. Return how far
/// they are done: `orig.len()`, or, unless `closed` (`orig` ends where the text does), the start
/// of a word that reaches the last two bytes, where the bytes after `orig` decide where it ends.
/// `orig` must not start inside a word.
fn ascii_words(orig: &[u8], at: usize, closed: bool, tokens: &mut Vec<Token>) -> usize {
    let class_at = |i: usize| orig.get(i).map_or(0, |&b| class(b));
    let mut i = 0;
    while i < orig.len() {
        let first = class_at(i);
        if first & ALNUM == 0 {
            i += 1;
            continue;
        }
        let start = i;
        let mut any = first;
        i += 1;
        loop {
            // The byte that ends the word adds no bits: it has none of the letter or digit
            // classes that are or-ed here.
            let c = class_at(i);
            any |= c;
            if c & ALNUM == 0 {
                break;
            }
            i += 1;
        }
        // A word ends at its last letter or digit: an apostrophe is taken only before a letter.
        let apostrophe = orig.get(i) == Some(&b'\'') && class_at(i + 1) & ALPHA != 0;
        if apostrophe {
            (i, any) = past_apostrophes(orig, i, any);
        }
        if !closed && i + 2 > orig.len() {
            return start;
        }
        let shape = shape_from_bits(first, any, apostrophe, || {
            orig.get(start..i).unwrap_or_default()
        });
        tokens.push(Token {
            start: at + start,
            end: at + i,
            shape,
            hash: 0,
        });
        // The byte that ended the word cannot start one.
        i += 1;
    }
    orig.len()
}

/// The end of the word that goes on with an apostrophe and a letter at `orig[i]`, and `any` with
/// the [`CLASS`] bits of the bytes added: [`ascii_words`]' rare case, kept out of its loop.
#[cold]
fn past_apostrophes(orig: &[u8], mut i: usize, mut any: u8) -> (usize, u8) {
    let class_at = |i: usize| orig.get(i).map_or(0, |&b| class(b));
    loop {
        let c = class_at(i);
        if c & ALNUM != 0 {
            any |= c;
        } else if orig.get(i) != Some(&b'\'') || class_at(i + 1) & ALPHA == 0 {
            return (i, any);
        }
        i += 1;
    }
}

/// The length of the ASCII prefix of `b`, 32 bytes at a time and then eight: mostly-ASCII text
/// has long runs (about 200 bytes between non-ASCII characters in pasted text).
fn ascii_prefix(b: &[u8]) -> usize {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = |c: &[u8]| c.try_into().map_or(u64::MAX, u64::from_ne_bytes);
    let mut n = 0;
    for block in b.chunks_exact(32) {
        // The high bits of four words or-ed: one test per block.
        if block.chunks_exact(8).fold(0, |w, c| w | word(c)) & HIGH != 0 {
            break;
        }
        n += 32;
    }
    for c in b.get(n..).unwrap_or_default().chunks_exact(8) {
        if word(c) & HIGH != 0 {
            break;
        }
        n += 8;
    }
    n + b
        .get(n..)
        .unwrap_or_default()
        .iter()
        .position(|b| !b.is_ascii())
        .unwrap_or(b.len() - n)
}

/// A run of ASCII bytes of the original that normalization copied, lower-cased, into `norm`.
#[derive(Debug, Clone, Copy)]
struct AsciiRun {
    /// Where the copy starts in `norm`.
    norm: usize,
    /// Where the run starts in the original text.
    orig: usize,
    /// Its length in bytes.
    len: usize,
}

/// Append what normalization makes of the character `c` to `out`: nothing for a zero-width
/// character, else its punctuation fold, or its compatibility decomposition without combining
/// marks, each non-ASCII part replaced by its confusable skeleton; lower-cased.
fn fold_char(c: char, out: &mut String) {
    let mut push = |c: char| out.extend(c.to_lowercase());
    if is_zero_width(c) {
        return;
    }
    if let Some(p) = fold_punct(c) {
        push(p);
        return;
    }
    let mut buf = [0u8; 4];
    for d in std::iter::once(c).nfkd() {
        if is_combining_mark(d) {
            continue;
        }
        if d.is_ascii() {
            push(d);
            continue;
        }
        // A skeleton may turn a letter into a symbol (ð → ∂); a word must not split there.
        let mut folded = [' '; 4];
        let mut n = 0;
        for s in unicode_security::confusable_detection::skeleton(d.encode_utf8(&mut buf)) {
            if !is_combining_mark(s) && n < folded.len() {
                folded[n] = s;
                n += 1;
            }
        }
        let folded = &folded[..n];
        if d.is_alphanumeric() && folded.iter().any(|s| !s.is_alphanumeric()) {
            push(d);
        } else {
            for &s in folded {
                push(s);
            }
        }
    }
}

/// Characters below this (the two-byte UTF-8 range: Latin, Greek, Cyrillic, Hebrew, Arabic) are
/// folded once, into [`folded_table`]: decomposing and skeletonizing a character costs hundreds of
/// instructions, and the same few accented letters recur in every text that has any.
const FOLD_TABLE_CHARS: u32 = 0x800;

/// Build the table of folded characters now: [`crate::Screener::new`] calls this so that the first
/// accented draft a user types is not the one that waits for it (about a millisecond).
pub(crate) fn prepare() {
    folded_table();
    char_classes();
}

/// [`fold_char`] of every character below [`FOLD_TABLE_CHARS`], indexed by code point.
fn folded_table() -> &'static [Box<str>] {
    static TABLE: std::sync::OnceLock<Box<[Box<str>]>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..FOLD_TABLE_CHARS)
            .map(|u| {
                let mut folded = String::new();
                if let Some(c) = char::from_u32(u) {
                    fold_char(c, &mut folded);
                }
                folded.into_boxed_str()
            })
            .collect()
    })
}

/// Full normalization for non-ASCII text into the empty `norm`, with the byte map back to the
/// original in the empty `map`; returns the ASCII runs that were copied.
fn normalize(text: &str, norm: &mut String, map: &mut Vec<u32>) -> Vec<AsciiRun> {
    norm.reserve(text.len() + 8);
    map.reserve(text.len() + 8);
    let mut runs = Vec::new();
    let bytes = text.as_bytes();
    let mut next = 0;
    while next < bytes.len() {
        // Mostly-ASCII text pays for the general path only at its few non-ASCII characters: a run
        // of ASCII bytes is copied, lower-cased and mapped in bulk.
        let run = ascii_prefix(bytes.get(next..).unwrap_or_default());
        if run > 0 {
            let from = norm.len();
            runs.push(AsciiRun {
                norm: from,
                orig: next,
                len: run,
            });
            norm.push_str(text.get(next..next + run).unwrap_or_default());
            if let Some(added) = norm.get_mut(from..) {
                added.make_ascii_lowercase();
            }
            map.extend((next..next + run).map(|i| i as u32));
            next += run;
        }
        let at = next;
        let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        next += c.len_utf8();
        let before = norm.len();
        match folded_table().get(c as usize) {
            Some(folded) => norm.push_str(folded),
            None => fold_char(c, norm),
        }
        map.extend(std::iter::repeat_n(at as u32, norm.len() - before));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_lowercased_in_place() {
        let s = Scan::new("Call John at 555");
        assert_eq!(s.norm, "call john at 555");
        assert_eq!(s.tokens.len(), 4);
        assert!(s.tokens[1].shape.capitalized());
        assert!(s.tokens[3].shape.all_digit());
        assert_eq!(s.orig_text(5..9), "John");
    }

    #[test]
    fn confusables_and_accents_fold_and_map_back() {
        let text = "Хarelto for José";
        let s = Scan::new(text);
        assert_eq!(s.norm, "xarelto for jose");
        assert_eq!(s.orig_text(0..7), "Хarelto");
        assert_eq!(s.orig_text(12..16), "José");
    }

    #[test]
    fn fullwidth_and_zero_width_fold() {
        let s = Scan::new("ｋｉｌｌ my\u{200B}self");
        assert_eq!(s.norm, "kill myself");
        assert_eq!(s.orig_text(5..11), "my\u{200B}self");
    }

    #[test]
    fn word_gate_opens_only_for_whole_words_and_apostrophe_pieces() {
        let gate = WordGate::new(["phone number", "ss#", "crohn's disease", "o'brien"]);
        let open = |text: &str| {
            let s = Scan::new(text);
            s.tokens.iter().any(|t| {
                gate.contains(t.hash)
                    || s.norm
                        .get(t.start..t.end)
                        .unwrap_or_default()
                        .split('\'')
                        .any(|p| gate.contains(hash_bytes(p.as_bytes())))
            })
        };
        for text in [
            "my Number is",
            "SS# 12",
            "DISEASE!",
            "Mr O'Brien's",
            "brien",
            "Dr. O\u{2019}Brien",
        ] {
            assert!(open(text), "{text}");
        }
        for text in ["", "phones", "numbers", "diseases", "brienne"] {
            assert!(!open(text), "{text}");
        }
    }

    #[test]
    fn ascii_fast_path_matches_general_tokenizer() {
        for text in [
            "Dr. O'Brien's MRN-12345 isn't 42x",
            "  'tis A1c HbA1c  ",
            "x",
            "",
            "''a'b'",
        ] {
            let fast = Scan::new(text);
            let map = (0..text.len() as u32).collect();
            let mut slow = Scan {
                text,
                norm: text.to_ascii_lowercase(),
                map,
                tokens: Vec::new(),
            };
            slow.tokenize(&[]);
            assert_eq!(fast.tokens, slow.tokens, "{text}");
        }
    }

    #[test]
    fn hash_span_is_hash_bytes() {
        let text = b"a ab abcdefgh abcdefghi x0123456789abcdefghijklmnop q";
        for start in 0..text.len() {
            for end in start..=text.len() {
                assert_eq!(
                    hash_span(text, start, end),
                    hash_bytes(&text[start..end]),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn shapes_read_from_ascii_runs_match_char_shapes() {
        for text in [
            "Don\u{2019}t STOP, O\u{2019}Brien\u{2019}s 42 MRI\u{200B}s",
            "caf\u{e9} CAF\u{c9} A\u{e9}B ab\u{200B} 12\u{200B}",
            "\u{ff2b}ILL me NOW 1\u{fe0f}\u{20e3} x\u{ad}Y \u{1f600}Ab12 \u{2018}tis\u{2019}",
            "Gar\u{f0}ar \u{fb00}IX \u{133}B OK\u{301}AY end\u{200B}",
        ] {
            let scan = Scan::new(text);
            assert!(!scan.is_ascii(), "{text}");
            for t in &scan.tokens {
                let want = scan
                    .shape_of(t.start..t.end)
                    .with_apostrophe(t.shape.apostrophe());
                assert_eq!(
                    t.shape,
                    want,
                    "{:?} in {text:?}",
                    scan.orig_text(t.start..t.end)
                );
            }
        }
    }

    #[test]
    fn char_classes_answer_as_unicode() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let bit = |fact: bool, bit: u8| if fact { bit } else { 0 };
            let want = bit(c.is_alphanumeric(), ALNUM)
                | bit(c.is_alphabetic(), ALPHA)
                | bit(c.is_uppercase(), UPPER);
            assert_eq!(char_class(c) & (ALNUM | ALPHA | UPPER), want, "{c:?}");
        }
    }

    #[test]
    fn ascii_prefix_stops_at_the_first_non_ascii_byte() {
        for text in [
            "",
            "a",
            "abcdefgh",
            "abcdefghé",
            "abcdefg\u{e9}xyz",
            "é",
            "0123456789abcdef\u{2019}",
            "x\u{2019}abcdefghijk",
            "0123456789abcdef0123456789abcdef0123456789\u{e9}",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefxy",
            "0123456789abcdef0123456789a\u{e9}0123456789abcdef0123456789abcdef",
        ] {
            let want = text
                .bytes()
                .position(|b| !b.is_ascii())
                .unwrap_or(text.len());
            assert_eq!(ascii_prefix(text.as_bytes()), want, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn ascii_words_tokenize_as_the_char_loop(
            text in "([A-Z]{1,3}|[a-z]{1,3}|[0-9]{1,3}|[Aa0]'[a-zA-Z0-9]|'|[ .,-]){0,24}",
        ) {
            // The byte loop on ASCII text against the char loop, and its shapes against the
            // shapes read from chars.
            let fast = Scan::new(&text);
            let mut slow = Scan {
                text: &text,
                norm: text.to_ascii_lowercase(),
                map: (0..text.len() as u32).collect(),
                tokens: Vec::new(),
            };
            slow.tokenize(&[]);
            proptest::prop_assert_eq!(&fast.tokens, &slow.tokens);
            for t in &fast.tokens {
                let word = &text[t.start..t.end];
                let want = char_shape(word).with_apostrophe(word.contains('\''));
                proptest::prop_assert_eq!(t.shape, want, "{}", word);
            }
        }

        #[test]
        fn ascii_runs_tokenize_as_the_general_loop(
            text in "[a-zA-Z0-9' .\u{e9}\u{c4}\u{3a3}\u{2019}\u{200b}\u{1f602}-]{0,60}",
        ) {
            let (mut norm, mut map) = (String::new(), Vec::new());
            let runs = normalize(&text, &mut norm, &mut map);
            let scan = Scan {
                text: &text,
                norm,
                map,
                tokens: Vec::new(),
            };
            let (mut by_runs, mut by_chars) = (Vec::new(), Vec::new());
            scan.tokenize_general(&runs, &mut by_runs);
            scan.tokenize_general(&[], &mut by_chars);
            proptest::prop_assert_eq!(by_runs, by_chars);
        }

        #[test]
        fn hash_span_is_hash_bytes_of_any_span(
            text in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            start in 0usize..44,
            end in 0usize..44,
        ) {
            // Reversed and out-of-range spans included: they hash as the empty word.
            let want = hash_bytes(text.get(start..end).unwrap_or_default());
            proptest::prop_assert_eq!(hash_span(&text, start, end), want);
        }
    }

    #[test]
    fn table_and_uncached_characters_fold_alike() {
        let text = "\u{c9}\u{391}\u{ff2b}\u{1d400}\u{f0}\u{2019}\u{200b}\u{fb01}\u{130}";
        let mut want = String::new();
        for c in text.chars() {
            fold_char(c, &mut want);
        }
        assert_eq!(Scan::new(text).norm, want);
        assert_eq!(want, "eaka\u{f0}'fii");
    }

    #[test]
    fn letters_never_fold_to_symbols() {
        let s = Scan::new("Garðar");
        assert_eq!(s.tokens.len(), 1, "{:?}", s.norm);
    }

    #[test]
    fn apostrophes_stay_inside_words() {
        let s = Scan::new("don’t stop");
        assert_eq!(s.tok(0), "don't");
    }
}
