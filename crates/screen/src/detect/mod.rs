//! The detectors. Each module owns one family of rules: its `RULES` table, its compiled
//! lexicons and patterns (built once in `new`), and a `run` that appends hits for one message.

use std::borrow::Cow;

use crate::ScreenError;
use crate::message::{Direction, Message};
use crate::policy::Policy;
use crate::report::{AdverseEventCandidate, SafeHarbor, Span};
use crate::rules::RuleInfo;
use crate::text::Scan;

pub(crate) mod abuse;
pub(crate) mod adverse;
pub(crate) mod advice;
pub(crate) mod confirm;
pub(crate) mod crisis;
pub(crate) mod identified;
pub(crate) mod links;
pub(crate) mod names;
pub(crate) mod names_model;
pub(crate) mod phi;
pub(crate) mod promotion;

/// Every detector's rule table, in the order the docs list them.
pub(crate) const RULE_TABLES: &[&[RuleInfo]] = &[
    phi::RULES,
    names::RULES,
    identified::RULES,
    confirm::RULES,
    adverse::RULES,
    promotion::RULES,
    advice::RULES,
    crisis::RULES,
    abuse::RULES,
    links::RULES,
];

/// Compile a detector pattern meant for `Scan::norm` with ASCII `\b`, `\s` and `\w`.
///
/// Unicode word boundaries stop the regex crate's fast DFA engines and fall back to a slow
/// simulation; detector patterns only describe ASCII words, so ASCII classes lose nothing.
pub(crate) fn ascii_regex(what: &str, pattern: &str) -> Result<regex::Regex, ScreenError> {
    let pattern = pattern
        .replace(r"\b", r"(?-u:\b)")
        .replace(r"\s", r"(?-u:\s)")
        .replace(r"\w", r"(?-u:\w)");
    regex::RegexBuilder::new(&pattern)
        .size_limit(1 << 23)
        .build()
        .map_err(|e| ScreenError::Compile {
            what: what.to_owned(),
            message: e.to_string(),
        })
}

/// How far around a trigger word a pattern is searched; a sentence or two.
pub(crate) const NEAR: usize = 160;

/// Run `re` only over the parts of `norm` within [`NEAR`] bytes of the sorted trigger positions,
/// calling `f` with each match's range in `norm`. Short messages are searched whole; a long text
/// is searched around its triggers instead of end to end once per pattern.
#[inline(always)]
pub(crate) fn find_near(
    re: &regex::Regex,
    norm: &str,
    triggers: &[usize],
    f: impl FnMut(std::ops::Range<usize>),
) {
    // Nearly every message has no trigger for most patterns: it costs a test, not a call.
    if !triggers.is_empty() {
        search_near(re, norm, triggers, f);
    }
}

/// [`find_near`] with some trigger.
#[inline(never)]
fn search_near(
    re: &regex::Regex,
    norm: &str,
    triggers: &[usize],
    mut f: impl FnMut(std::ops::Range<usize>),
) {
    let mut i = 0;
    let mut done = 0;
    while let Some(&t) = triggers.get(i) {
        let mut end = t.saturating_add(NEAR);
        i += 1;
        while let Some(&next) = triggers.get(i).filter(|&&n| n.saturating_sub(NEAR) <= end) {
            end = next.saturating_add(NEAR);
            i += 1;
        }
        let start = word_start(norm, t.saturating_sub(NEAR).max(done));
        let end = word_end(norm, end.min(norm.len()));
        if let Some(hay) = norm.get(start..end) {
            for m in re.find_iter(hay) {
                f(start + m.start()..start + m.end());
            }
        }
        done = end;
    }
}

/// True when `b[at..]` starts with `s`.
pub(crate) fn starts_with_at(b: &[u8], at: usize, s: &str) -> bool {
    b.get(at..)
        .is_some_and(|rest| rest.starts_with(s.as_bytes()))
}

/// Entries in a [`PrefixMasks`] table (64 KiB).
const PREFIX_SLOTS: usize = 1 << 16;

/// Bytes of a word that a [`PrefixMasks`] probe reads.
const PREFIX_LEN: usize = 4;

/// A table answering, with one probe per word, which of up to eight lists may have an entry that
/// starts at that word. A word probes the slot of its first four ASCII letters or digits (fewer
/// when it is shorter); an entry marks, with its list's bit, the slot of every word start it can
/// have: its first four bytes, its first word when that is shorter and the entry goes on with a
/// space or a sign ("dm "), or, when the whole entry is a shorter word that a longer one may start
/// with ("buy"), itself and each way letters or digits can follow it. An entry can start a word
/// only where its bit is set, so a clear bit skips the exact check without missing anything.
pub(crate) struct PrefixMasks {
    masks: Box<[u8; PREFIX_SLOTS]>,
}

impl PrefixMasks {
    /// An empty table.
    pub fn new() -> Self {
        PrefixMasks {
            masks: Box::new([0u8; PREFIX_SLOTS]),
        }
    }

    /// Mark every word start of `entry` with `bit`; `None` when the entry is a word of one letter
    /// or digit that longer words may start with (too many starts to list).
    pub fn add(&mut self, entry: &str, bit: u8) -> Option<()> {
        for k in Self::keys_of(entry)? {
            if let Some(m) = self.masks.get_mut(k) {
                *m |= bit;
            }
        }
        Some(())
    }

    /// The slots of every word `entry` can start, or `None` when there are too many to list.
    pub fn keys_of(entry: &str) -> Option<Vec<usize>> {
        let first = entry.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let start = entry.as_bytes().get(..first.min(PREFIX_LEN))?;
        if first >= PREFIX_LEN || (first > 0 && first < entry.len()) {
            return Some(vec![Self::key(start)]);
        }
        if first < 2 {
            return None;
        }
        let mut starts = vec![start.to_vec()];
        let mut i = 0;
        while let Some(s) = starts.get(i).cloned() {
            i += 1;
            if s.len() < PREFIX_LEN {
                starts.extend(
                    (b'a'..=b'z')
                        .chain(b'0'..=b'9')
                        .map(|c| [&s[..], &[c]].concat()),
                );
            }
        }
        Some(starts.iter().map(|s| Self::key(s)).collect())
    }

    /// The slot of a word (an alphanumeric run of `Scan::norm`, or an entry's start).
    pub fn key(word: &[u8]) -> usize {
        // Inside a run every ASCII byte is a letter or digit: four bytes without a high bit are
        // the whole probe, which is nearly every word.
        let packed = match word
            .first_chunk::<PREFIX_LEN>()
            .map(|c| u32::from_le_bytes(*c))
        {
            Some(k) if k & 0x8080_8080 == 0 => k,
            _ => {
                let mut k = 0u32;
                let mut n = 0;
                while let Some(&b) = word
                    .get(n)
                    .filter(|b| n < PREFIX_LEN && b.is_ascii_alphanumeric())
                {
                    k |= u32::from(b) << (8 * n);
                    n += 1;
                }
                Self::top(k, n)
            }
        };
        Self::slot(packed)
    }

    /// The low `n` (at most [`PREFIX_LEN`]) bytes of `k` moved to its top. No byte of a word is
    /// zero, so the zero bytes left below tell its length: the probe needs no count beside it.
    #[inline(always)]
    fn top(k: u32, n: usize) -> u32 {
        // Shifted as a u64 so that an empty word (a shift by 32) gives 0 without a test.
        (u64::from(k) << (8 * PREFIX_LEN.saturating_sub(n))) as u32
    }

    /// The slot of a word's first bytes (at most [`PREFIX_LEN`]), as [`PrefixMasks::top`] packs them.
    fn slot(packed: u32) -> usize {
        usize::from((u64::from(packed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48) as u16)
    }

    /// The bits of the lists that may have an entry starting at `word`.
    pub fn mask(&self, word: &[u8]) -> u8 {
        self.masks.get(Self::key(word)).copied().unwrap_or(0)
    }

    /// [`PrefixMasks::mask`] of the word `b[start..end]`, an alphanumeric run of `Scan::norm`
    /// without apostrophes. Where four bytes of text follow its start (nearly every word), they
    /// are read with one load and shifted to the word: words shorter than the probe, which are
    /// most words, would otherwise be assembled a byte at a time.
    #[inline(always)]
    pub fn mask_at(&self, b: &[u8], start: usize, end: usize) -> u8 {
        // Against the last start with four bytes after it the slice's own two tests fold away,
        // which they do not against a bound that is only their sum.
        if let Some(last) = b.len().checked_sub(PREFIX_LEN)
            && start <= last
            && let Some(w) = b.get(start..).and_then(<[u8]>::first_chunk::<PREFIX_LEN>)
        {
            let k = Self::top(u32::from_le_bytes(*w), end.wrapping_sub(start));
            if k & 0x8080_8080 == 0 {
                // A slot is 16 bits, so the index is always in range.
                return self.masks.get(Self::slot(k)).copied().unwrap_or(0);
            }
        }
        self.mask(b.get(start..end).unwrap_or_default())
    }
}

/// `pos` moved back (at most 32 bytes) to the start of its word, on a character boundary.
fn word_start(s: &str, mut pos: usize) -> usize {
    let b = s.as_bytes();
    let floor = pos.saturating_sub(32);
    while pos > floor && b.get(pos - 1).is_some_and(|c| !c.is_ascii_whitespace()) {
        pos -= 1;
    }
    while pos > 0 && !s.is_char_boundary(pos) {
        pos -= 1;
    }
    pos
}

/// `pos` moved forward (at most 32 bytes) to the end of its word, on a character boundary.
fn word_end(s: &str, mut pos: usize) -> usize {
    let b = s.as_bytes();
    let ceil = pos.saturating_add(32).min(b.len());
    while pos < ceil && b.get(pos).is_some_and(|c| !c.is_ascii_whitespace()) {
        pos += 1;
    }
    while pos < b.len() && !s.is_char_boundary(pos) {
        pos += 1;
    }
    pos.min(b.len())
}

/// One rule firing, before the policy decides its final severity and action.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// The rule that fired.
    pub rule: &'static RuleInfo,
    /// Span in the original text.
    pub span: Span,
    /// One sentence: why this fired here.
    pub explanation: Cow<'static, str>,
    /// What to do instead, if there is something better than "remove it".
    pub suggestion: Option<Cow<'static, str>>,
    /// Safe Harbor category for PHI rules.
    pub phi: Option<SafeHarbor>,
    /// Severity levels to add to the rule's base (context made it worse).
    pub boost: u8,
    /// How likely the hit is to point to a patient, which moves an outgoing post's action under
    /// a rule left at its default actions.
    pub exposure: Exposure,
}

/// How likely a name or place is to point to a patient. Most hits keep their rule's action; a
/// name after a clinician's, a job's or an office holder's title, or a place larger than a state,
/// is flagged rather than held in an outgoing post; a smaller place is held only in context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exposure {
    /// The rule's action stands.
    Rule,
    /// A place larger than a state: review becomes flag.
    Low,
    /// A person's name: review becomes flag when [`names::role`] finds staff, or an office holder
    /// in a message with no health context; read only when the action is at stake (a post).
    Person,
    /// A town or neighbourhood: flag becomes review in a message about health, with a person's
    /// name, or tied to someone (a boost).
    InContext,
}

impl Hit {
    /// A hit with no suggestion, no PHI category and no boost.
    pub fn new(
        rule: &'static RuleInfo,
        span: Span,
        explanation: impl Into<Cow<'static, str>>,
    ) -> Self {
        Hit {
            rule,
            span,
            explanation: explanation.into(),
            suggestion: None,
            phi: None,
            boost: 0,
            exposure: Exposure::Rule,
        }
    }

    /// Attach a suggested fix.
    pub fn suggest(mut self, s: impl Into<Cow<'static, str>>) -> Self {
        self.suggestion = Some(s.into());
        self
    }

    /// Mark as a PHI identifier of this Safe Harbor category.
    pub fn phi(mut self, c: SafeHarbor) -> Self {
        self.phi = Some(c);
        self
    }

    /// Raise severity by `levels`.
    pub fn boost(mut self, levels: u8) -> Self {
        self.boost = self.boost.saturating_add(levels);
        self
    }

    /// Set how likely the hit is to point to a patient; see [`Exposure`].
    pub fn exposure(mut self, exposure: Exposure) -> Self {
        self.exposure = exposure;
        self
    }
}

/// What detectors see of one message.
pub(crate) struct Ctx<'s, 'a> {
    /// The message.
    pub msg: &'a Message,
    /// Its normalized text and tokens.
    pub scan: &'s Scan<'a>,
}

/// Where detectors put what they find.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    /// Rule hits in any order.
    pub hits: Vec<Hit>,
    /// The message talks about health (a condition, procedure, ward, drug…): PHI in it is worse.
    pub health_context: bool,
    /// Set by the adverse-event detector.
    pub adverse_event: Option<AdverseEventCandidate>,
    /// Where medicinal products are named (set by the adverse-event detector).
    pub products: Vec<Span>,
}

/// The most hits one message collects; past this a reviewer learns nothing new, and a flood of
/// repeated words must not make screening slow.
pub(crate) const MAX_HITS: usize = 1000;

impl Sink {
    /// Add a hit unless the message already has [`MAX_HITS`].
    pub fn push(&mut self, hit: Hit) {
        if self.hits.len() < MAX_HITS {
            self.hits.push(hit);
        }
    }
}

/// A match of one lexicon of [`Lexicons`]: the pattern's index in that lexicon and its byte range
/// in `Scan::norm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lexeme {
    /// Index of the pattern in its lexicon's list.
    pub pattern: usize,
    /// Byte range in `Scan::norm`.
    pub range: std::ops::Range<usize>,
}

/// One lexicon's leftmost-longest matches in `norm`, for tests that run a detector alone.
#[cfg(test)]
pub(crate) fn lexemes(patterns: &[String], norm: &str) -> Vec<Lexeme> {
    let [found] = Lexicons::new([patterns])
        .unwrap_or_else(|e| panic!("{e}"))
        .find(norm);
    found
}

/// Several lexicons searched in one automaton pass over the text instead of one pass each: the
/// pass costs a few instructions per byte whatever the number of patterns, and these lexicons
/// (PHI, crisis, advice; the adverse-event cues on incoming messages, confirmation and promotion on
/// outgoing posts) are searched on every message.
///
/// The automaton reports every occurrence of every pattern, overlapping; each lexicon's matches are
/// then chosen as a leftmost-longest search would choose them (by start, the longest first, each
/// after the end of the one before), which is what the detectors were written against.
///
/// The aho-corasick crate builds the automaton; its transitions are then copied into a [`Table`]
/// of our own, which the walk reads without the crate's bounds check on every byte and which
/// marks match states in the entry itself.
pub(crate) struct Lexicons<const N: usize> {
    /// The automaton's transitions.
    table: Table,
    /// Each byte's class: the column of a state's row that the byte's transition is in.
    classes: [u8; 256],
    /// The start state's entry.
    start: u32,
    /// Entries in a state's row (the number of byte classes): an entry without [`MATCH`],
    /// divided by it, is its state's index, which for a match state is its slot in `filed`.
    stride: u32,
    /// For each match state, where its entries in [`Lexicons::files`] start and how many there
    /// are: filing a match then reads one flat list instead of asking the automaton for each
    /// pattern, its length and its owner.
    filed: Box<[(u32, u32)]>,
    /// The patterns each match state ends, as (lexicon, index in that lexicon's list, length).
    files: Box<[(u32, u32, u32)]>,
}

/// Set in a [`Table`] entry whose state ends some pattern.
const MATCH: u32 = 1 << 31;

/// Entries of a [`Table::Fixed`]: room for twice the default lexicons' automata (about 6,800
/// states of 32 byte classes, 6,000 of 36).
const FIXED: usize = 1 << 19;

/// A shared automaton's transitions, a row of [`Lexicons::stride`] entries per state. A state
/// is named by its entry: its index times the stride (where its row starts), with [`MATCH`] set
/// when it is a match state. The entry at a state's entry plus a byte's class is the entry of
/// the state that the byte leads to.
enum Table {
    /// A table whose length is a power of two: an index masked to it needs no bounds check, and
    /// the mask drops [`MATCH`] too.
    Fixed(Box<[u32; FIXED]>),
    /// An automaton too large for [`Table::Fixed`] (a policy naming thousands of products).
    Any(Box<[u32]>),
}

/// One transition in a kind of [`Table`].
trait Step {
    /// The entry of the state that a byte of `class` leads to from the state of `entry`.
    fn step(&self, entry: u32, class: u8) -> u32;
}

impl Step for [u32; FIXED] {
    #[inline(always)]
    fn step(&self, entry: u32, class: u8) -> u32 {
        // A row's end is below FIXED, so adding the class never reaches MATCH.
        let at = entry.wrapping_add(u32::from(class)) as usize & (FIXED - 1);
        self.get(at).copied().unwrap_or(0)
    }
}

impl Step for [u32] {
    #[inline(always)]
    fn step(&self, entry: u32, class: u8) -> u32 {
        let at = (entry & !MATCH).wrapping_add(u32::from(class)) as usize;
        self.get(at).copied().unwrap_or(0)
    }
}

/// What [`Lexicons::table`] builds: the table, the byte classes, the start entry, the stride,
/// and the crate's ids of the match states in slot order.
type Built = (
    Table,
    [u8; 256],
    u32,
    u32,
    Vec<aho_corasick::automaton::StateID>,
);

/// What [`Lexicons::files`] builds: [`Lexicons::filed`] and [`Lexicons::files`].
type Filing = (Box<[(u32, u32)]>, Box<[(u32, u32, u32)]>);

/// A kept lexeme list's largest capacity: a long paste must not pin its matches' memory.
const SPARE_LEXEMES: usize = 1 << 10;

/// The lexeme lists of both passes, kept from one message to the next on a thread: a short
/// message with a match would otherwise pay a malloc and a free for each lexicon it matches.
struct Lists {
    incoming: [Vec<Lexeme>; 4],
    outgoing: [Vec<Lexeme>; 5],
}

thread_local! {
    static LISTS: std::cell::RefCell<Lists> = const {
        std::cell::RefCell::new(Lists {
            incoming: [const { Vec::new() }; 4],
            outgoing: [const { Vec::new() }; 5],
        })
    };
}

impl<const N: usize> Lexicons<N> {
    /// One automaton over the patterns of every lexicon, in order.
    pub fn new(lexicons: [&[String]; N]) -> Result<Self, ScreenError> {
        Self::build(lexicons, FIXED)
    }

    /// [`Lexicons::new`] with a [`Table::Fixed`] only for an automaton of at most `fixed`
    /// entries (tests pass 0 to try [`Table::Any`]).
    fn build(lexicons: [&[String]; N], fixed: usize) -> Result<Self, ScreenError> {
        let mut owners = Vec::new();
        let mut all: Vec<&str> = Vec::new();
        for (k, lexicon) in (0u32..).zip(lexicons) {
            owners.extend((0u32..).zip(lexicon).map(|(i, _)| (k, i)));
            all.extend(lexicon.iter().map(String::as_str));
        }
        let compile = |message: String| ScreenError::Compile {
            what: "shared lexicon automaton".to_owned(),
            message,
        };
        let dfa = aho_corasick::dfa::DFA::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .start_kind(aho_corasick::StartKind::Unanchored)
            .prefilter(false)
            .build(&all)
            .map_err(|e| compile(e.to_string()))?;
        let (table, classes, start, stride, matches) =
            Self::table(&dfa, fixed).ok_or_else(|| compile("too many states".to_owned()))?;
        let (filed, files) = Self::files(&dfa, &matches, &owners);
        Ok(Lexicons {
            table,
            classes,
            start,
            stride,
            filed,
            files,
        })
    }

    /// The automaton's [`Table`] and what reads it; `None` when its entries do not fit below
    /// [`MATCH`].
    fn table(dfa: &aho_corasick::dfa::DFA, fixed: usize) -> Option<Built> {
        use aho_corasick::automaton::{Automaton, StateID};
        let anchored = aho_corasick::Anchored::No;
        let next = |s: StateID, b: u8| dfa.next_state(anchored, s, b);
        let start = dfa.start_state(anchored).ok()?;
        // Lists indexed by the crate's state ids, which are multiples of its stride: sparse,
        // but they live only while the table is built, and spare the hashing of every one of
        // the states' 256 transitions.
        let mut seen: Vec<bool> = Vec::new();
        let mut first_sight = |s: StateID| {
            let i = s.as_usize();
            if i >= seen.len() {
                seen.resize(i + 1, false);
            }
            seen.get_mut(i).is_some_and(|x| !std::mem::replace(x, true))
        };
        first_sight(start);
        let mut states = vec![start];
        let mut i = 0;
        while let Some(&s) = states.get(i) {
            i += 1;
            for b in 0..=255 {
                let t = next(s, b);
                if first_sight(t) {
                    states.push(t);
                }
            }
        }
        // Match states first, so that a match state's index is its slot in `filed`.
        states.sort_by_key(|&s| !dfa.is_match(s));
        // Bytes whose transitions agree in every state share a class.
        let mut columns: Vec<Vec<StateID>> = Vec::new();
        let mut classes = [0u8; 256];
        let mut first_byte = Vec::new();
        for (b, class) in (0..=255).zip(classes.iter_mut()) {
            let column: Vec<StateID> = states.iter().map(|&s| next(s, b)).collect();
            let known = columns.iter().position(|c| *c == column);
            *class = u8::try_from(known.unwrap_or(columns.len())).ok()?;
            if known.is_none() {
                columns.push(column);
                first_byte.push(b);
            }
        }
        let stride = first_byte.len();
        let len = states.len().checked_mul(stride)?;
        u32::try_from(len).ok().filter(|&n| n < MATCH)?;
        let mut index = vec![0u32; states.iter().map(|s| s.as_usize() + 1).max().unwrap_or(0)];
        for (k, s) in (0u32..).zip(&states) {
            if let Some(at) = index.get_mut(s.as_usize()) {
                *at = k;
            }
        }
        let entry = |s: StateID| -> u32 {
            let at = index.get(s.as_usize()).map_or(0, |&k| k as usize * stride);
            u32::try_from(at).unwrap_or(0) | if dfa.is_match(s) { MATCH } else { 0 }
        };
        let mut rows = vec![0u32; if len <= fixed { FIXED } else { len }];
        for (row, &s) in rows.chunks_exact_mut(stride).zip(&states) {
            for (slot, &b) in row.iter_mut().zip(&first_byte) {
                *slot = entry(next(s, b));
            }
        }
        let table = match <Box<[u32; FIXED]>>::try_from(rows.into_boxed_slice()) {
            Ok(rows) => Table::Fixed(rows),
            Err(rows) => Table::Any(rows),
        };
        let matches = states
            .into_iter()
            .take_while(|&s| dfa.is_match(s))
            .collect();
        Some((
            table,
            classes,
            entry(start),
            u32::try_from(stride).ok()?,
            matches,
        ))
    }

    /// [`Lexicons::filed`] and [`Lexicons::files`] for the automaton's match states `matches`,
    /// in slot order.
    fn files(
        dfa: &aho_corasick::dfa::DFA,
        matches: &[aho_corasick::automaton::StateID],
        owners: &[(u32, u32)],
    ) -> Filing {
        use aho_corasick::automaton::Automaton;
        let mut filed = Vec::with_capacity(matches.len());
        let mut files = Vec::new();
        for &sid in matches {
            let from = files.len();
            for k in 0..dfa.match_len(sid) {
                let id = dfa.match_pattern(sid, k);
                if let Some(&(lexicon, pattern)) = owners.get(id.as_usize()) {
                    let len = u32::try_from(dfa.pattern_len(id)).unwrap_or(u32::MAX);
                    files.push((lexicon, pattern, len));
                }
            }
            filed.push((
                u32::try_from(from).unwrap_or(u32::MAX),
                u32::try_from(files.len() - from).unwrap_or(0),
            ));
        }
        (filed.into_boxed_slice(), files.into_boxed_slice())
    }

    /// Each lexicon's leftmost-longest matches in `norm`, in text order.
    #[cfg(test)]
    pub fn find(&self, norm: &str) -> [Vec<Lexeme>; N] {
        let mut out = self.occurrences(norm);
        out.iter_mut().for_each(leftmost_longest);
        out
    }

    /// Every occurrence of each lexicon's patterns in `norm`, overlapping, sorted by start and the
    /// longest first: what a lexicon searched piece by piece (the adverse cues, per sentence) needs
    /// to rebuild each piece's leftmost-longest matches.
    pub fn occurrences(&self, norm: &str) -> [Vec<Lexeme>; N] {
        let mut out: [Vec<Lexeme>; N] = std::array::from_fn(|_| Vec::new());
        self.occurrences_into(norm, &mut out);
        out
    }

    /// [`Lexicons::occurrences`] into `out`, whose lists are cleared first.
    #[inline(never)]
    fn occurrences_into(&self, norm: &str, out: &mut [Vec<Lexeme>; N]) {
        out.iter_mut().for_each(Vec::clear);
        match &self.table {
            Table::Fixed(table) => self.walk(&**table, norm.as_bytes(), out),
            Table::Any(table) => self.walk(&**table, norm.as_bytes(), out),
        }
        // Only an empty pattern makes the start a match state: the crate reports it at offset 0
        // too (filed last, the sort puts it in its place).
        if self.start & MATCH != 0 {
            self.push(out, self.start, 0);
        }
        out.iter_mut().for_each(|list| sort_by_start(list));
    }

    /// File every occurrence in `bytes` under its lexicon, in the order of their ends.
    ///
    /// The walk is a function of its own so that its few live values stay in registers. Matches
    /// are rare (about one in fifty bytes), so it takes four bytes a step and asks once whether
    /// any of the four entries is marked [`MATCH`].
    #[inline(never)]
    fn walk<T: Step + ?Sized>(&self, table: &T, bytes: &[u8], out: &mut [Vec<Lexeme>; N]) {
        let classes = &self.classes;
        let mut sid = self.start;
        let mut quads = bytes.chunks_exact(4);
        let mut end = 0;
        for quad in &mut quads {
            let &[a, b, c, d] = quad else { continue };
            let sa = table.step(sid, classes[usize::from(a)]);
            let sb = table.step(sa, classes[usize::from(b)]);
            let sc = table.step(sb, classes[usize::from(c)]);
            sid = table.step(sc, classes[usize::from(d)]);
            if (sa | sb | sc | sid) & MATCH != 0 {
                for (k, s) in [sa, sb, sc, sid].into_iter().enumerate() {
                    if s & MATCH != 0 {
                        self.push(out, s, end + k + 1);
                    }
                }
            }
            end += 4;
        }
        for &b in quads.remainder() {
            sid = table.step(sid, classes[usize::from(b)]);
            end += 1;
            if sid & MATCH != 0 {
                self.push(out, sid, end);
            }
        }
    }

    /// File each pattern that the match state of `entry` says ends at `end` under its lexicon.
    #[inline(never)]
    fn push(&self, out: &mut [Vec<Lexeme>; N], entry: u32, end: usize) {
        let slot = (entry & !MATCH).checked_div(self.stride).unwrap_or(0) as usize;
        let Some(&(from, n)) = self.filed.get(slot) else {
            return;
        };
        let (from, n) = (from as usize, n as usize);
        for &(lexicon, pattern, len) in self.files.get(from..from + n).unwrap_or_default() {
            if let Some(list) = out.get_mut(lexicon as usize) {
                list.push(Lexeme {
                    pattern: pattern as usize,
                    range: end.saturating_sub(len as usize)..end,
                });
            }
        }
    }
}

/// Sort occurrences by start, the longest first. The automaton reports them by their end, so
/// each is out of place only behind the occurrences that end inside it (a few, at most a pattern's
/// length times the patterns that can end at one byte): an insertion sort moves each past those
/// alone, where a general sort pays a logarithmic factor on every occurrence.
fn sort_by_start(list: &mut [Lexeme]) {
    let key = |l: &Lexeme| (l.range.start, std::cmp::Reverse(l.range.end));
    for i in 1..list.len() {
        let mut j = i;
        while let Some(before) = j.checked_sub(1) {
            match (list.get(before), list.get(j)) {
                (Some(a), Some(b)) if key(a) > key(b) => list.swap(before, j),
                _ => break,
            }
            j = before;
        }
    }
}

/// Reduce [`Lexicons::occurrences`] of one lexicon to the matches a leftmost-longest search
/// finds: by start, the longest first, each after the end of the one before.
pub(crate) fn leftmost_longest(list: &mut Vec<Lexeme>) {
    let mut end = 0;
    list.retain(|l| {
        let keep = l.range.start >= end;
        if keep {
            end = l.range.end;
        }
        keep
    });
}

/// `spans` sorted by start, each one's end made the furthest end of it and the spans before it,
/// for [`overlaps_any`]: a long text names many products and has many name hits, which would
/// otherwise each be compared with every product.
fn reach(spans: &mut [Span]) -> &[Span] {
    spans.sort_unstable_by_key(|p| p.start);
    let mut furthest = 0;
    for p in spans.iter_mut() {
        furthest = furthest.max(p.end);
        p.end = furthest;
    }
    spans
}

/// Whether some span that [`reach`] prepared overlaps `s` ([`Span::overlaps`]): the spans that
/// start before `s` ends are a prefix, and one of them overlaps `s` exactly when the furthest
/// end among them is past its start.
fn overlaps_any(reach: &[Span], s: &Span) -> bool {
    let before = reach.partition_point(|p| p.start < s.end);
    before
        .checked_sub(1)
        .and_then(|last| reach.get(last))
        .is_some_and(|p| p.end > s.start)
}

/// All detectors, compiled once from a policy.
pub(crate) struct Detectors {
    /// The lexicons searched in every incoming message, in one pass: PHI, crisis, advice and the
    /// adverse-event cues.
    incoming: Lexicons<4>,
    /// The same for outgoing messages, with the patient-confirmation and promotion cues.
    outgoing: Lexicons<5>,
    phi: phi::Detector,
    names: names::Detector,
    confirm: confirm::Detector,
    adverse: adverse::Detector,
    promotion: promotion::Detector,
    advice: advice::Detector,
    crisis: crisis::Detector,
    abuse: abuse::Detector,
    links: links::Detector,
}

impl Detectors {
    /// Compile every detector for `policy`.
    pub fn new(policy: &Policy) -> Result<Self, ScreenError> {
        let phi = phi::Detector::new(policy)?;
        let crisis = crisis::Detector::new(policy)?;
        let advice = advice::Detector::new(policy)?;
        let confirm = confirm::Detector::new(policy)?;
        let promotion = promotion::Detector::new(policy)?;
        let adverse = adverse::Detector::new(policy)?;
        let incoming = Lexicons::new([
            &phi.words,
            &crisis.patterns,
            &advice.side(Direction::Incoming).triggers,
            adverse.cue_patterns(),
        ])?;
        let outgoing = Lexicons::new([
            &phi.words,
            &crisis.patterns,
            &advice.side(Direction::Outgoing).triggers,
            &confirm.patterns,
            &promotion.patterns,
        ])?;
        Ok(Detectors {
            incoming,
            outgoing,
            phi,
            names: names::Detector::new(policy)?,
            confirm,
            adverse,
            promotion,
            advice,
            crisis,
            abuse: abuse::Detector::new(policy)?,
            links: links::Detector::new(policy)?,
        })
    }

    /// Run every detector over one message.
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink) {
        LISTS.with(|lists| match lists.try_borrow_mut() {
            Ok(mut lists) => self.run_with(cx, sink, &mut lists),
            // Only a detector that screened another message on this thread would get here.
            Err(_) => self.run_with(
                cx,
                sink,
                &mut Lists {
                    incoming: Default::default(),
                    outgoing: Default::default(),
                },
            ),
        });
    }

    /// [`Detectors::run`] with the shared pass's lexeme lists in `lists`.
    fn run_with(&self, cx: &Ctx<'_, '_>, sink: &mut Sink, lists: &mut Lists) {
        let norm = &cx.scan.norm;
        let [phi, crisis, advice, confirm, promotion, cues]: [&[Lexeme]; 6] = match cx.msg.direction
        {
            Direction::Incoming => {
                // The adverse cues are searched per sentence: that detector rebuilds each
                // sentence's matches from every occurrence.
                self.incoming.occurrences_into(norm, &mut lists.incoming);
                let [phi, crisis, advice, cues] = &mut lists.incoming;
                for list in [&mut *phi, &mut *crisis, &mut *advice] {
                    leftmost_longest(list);
                }
                [phi, crisis, advice, &[], &[], cues]
            }
            Direction::Outgoing => {
                self.outgoing.occurrences_into(norm, &mut lists.outgoing);
                lists.outgoing.iter_mut().for_each(leftmost_longest);
                let [phi, crisis, advice, confirm, promotion] = &lists.outgoing;
                [phi, crisis, advice, confirm, promotion, &[]]
            }
        };
        self.phi.run(cx, sink, phi);
        self.names.run(cx, sink);
        self.confirm.run(cx, sink, confirm);
        self.adverse.run(cx, sink, cues);
        self.promotion.run(cx, sink, promotion);
        self.advice.run(cx, sink, advice);
        self.crisis.run(cx, sink, crisis);
        self.abuse.run(cx, sink);
        self.links.run(cx, sink);
        // A product is not a person or a place ("my mom took Xarelto"): the name rules read a
        // capitalized word from its context, and only the drug lexicon knows it is a medicine.
        if !sink.products.is_empty() {
            let mut products = std::mem::take(&mut sink.products);
            let products = reach(&mut products);
            sink.hits.retain(|h| {
                !(names::RULES.iter().any(|r| r.id == h.rule.id) && overlaps_any(products, &h.span))
            });
        }
        identified::run(cx.scan.text, sink);
        for list in lists.incoming.iter_mut().chain(&mut lists.outgoing) {
            if list.capacity() > SPARE_LEXEMES {
                *list = Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What one leftmost-longest automaton per lexicon finds, to hold [`Lexicons`] to.
    fn one_pass_each(lexicon: &[String], text: &str) -> Vec<Lexeme> {
        aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(lexicon)
            .map(|ac| {
                ac.find_iter(text)
                    .map(|m| Lexeme {
                        pattern: m.pattern().as_usize(),
                        range: m.range(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every occurrence of each lexicon's patterns as the crate's overlapping iterator finds
    /// them, sorted as [`Lexicons::occurrences`] sorts them.
    fn crate_occurrences(lexicons: &[&[String]], text: &str) -> Vec<Vec<Lexeme>> {
        let all: Vec<&String> = lexicons.iter().copied().flatten().collect();
        let owners: Vec<(usize, usize)> = (0..)
            .zip(lexicons)
            .flat_map(|(k, l)| (0..l.len()).map(move |i| (k, i)))
            .collect();
        let ac = aho_corasick::AhoCorasick::new(&all).unwrap_or_else(|e| panic!("{e}"));
        let mut want = vec![Vec::new(); lexicons.len()];
        for m in ac.find_overlapping_iter(text) {
            let (lexicon, pattern) = owners[m.pattern().as_usize()];
            want[lexicon].push(Lexeme {
                pattern,
                range: m.range(),
            });
        }
        want.iter_mut().for_each(|list| sort_by_start(list));
        want
    }

    /// The default policy's lexicons (PHI, crisis, incoming advice, adverse cues, outgoing
    /// advice, confirmation, promotion) and the two shared automata built from them.
    static DEFAULT: std::sync::LazyLock<([Vec<String>; 7], Lexicons<4>, Lexicons<5>)> =
        std::sync::LazyLock::new(|| {
            fn ok<T>(r: Result<T, ScreenError>) -> T {
                r.unwrap_or_else(|e| panic!("{e}"))
            }
            let policy = Policy::default();
            let advice = ok(advice::Detector::new(&policy));
            let lexicons = [
                ok(phi::Detector::new(&policy)).words,
                ok(crisis::Detector::new(&policy)).patterns,
                advice.side(Direction::Incoming).triggers.clone(),
                ok(adverse::Detector::new(&policy)).cue_patterns().to_vec(),
                advice.side(Direction::Outgoing).triggers.clone(),
                ok(confirm::Detector::new(&policy)).patterns,
                ok(promotion::Detector::new(&policy)).patterns,
            ];
            let [phi, crisis, advice_in, cues, advice_out, confirm, promotion] =
                lexicons.each_ref().map(Vec::as_slice);
            let incoming = ok(Lexicons::new([phi, crisis, advice_in, cues]));
            let outgoing = ok(Lexicons::new([phi, crisis, advice_out, confirm, promotion]));
            (lexicons, incoming, outgoing)
        });

    proptest! {
        #[test]
        fn occurrences_are_the_crates_overlapping_matches(
            a in proptest::collection::hash_set("[ab ]{0,3}", 1..6),
            b in proptest::collection::hash_set("[ab ]{0,3}", 1..6),
            text in "[ab ]{0,30}",
        ) {
            let a: Vec<String> = a.into_iter().collect();
            let b: Vec<String> = b.into_iter().collect();
            let want = crate_occurrences(&[&a, &b], &text);
            for fixed in [FIXED, 0] {
                let shared = Lexicons::build([&a, &b], fixed)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(shared.occurrences(&text).to_vec(), want.clone());
            }
        }

        #[test]
        fn the_default_lexicons_find_what_the_crate_finds(
            pieces in proptest::collection::vec(
                (any::<proptest::sample::Index>(), "[a-z0-9 .,'\n-]{0,4}|\\PC{0,2}"),
                0..24,
            ),
        ) {
            let (lexicons, incoming, outgoing) = &*DEFAULT;
            let [phi, crisis, advice_in, cues, advice_out, confirm, promotion] =
                lexicons.each_ref().map(Vec::as_slice);
            let incoming_lists = [phi, crisis, advice_in, cues];
            let outgoing_lists = [phi, crisis, advice_out, confirm, promotion];
            let every: Vec<&String> = lexicons.iter().flatten().collect();
            let mut text = String::new();
            for (pick, tail) in &pieces {
                if let Some(p) = every.get(pick.index(every.len())) {
                    text.push_str(p);
                }
                text.push_str(tail);
            }
            prop_assert_eq!(
                incoming.occurrences(&text).to_vec(),
                crate_occurrences(&incoming_lists, &text)
            );
            prop_assert_eq!(
                outgoing.occurrences(&text).to_vec(),
                crate_occurrences(&outgoing_lists, &text)
            );
        }

        #[test]
        fn a_probe_at_a_word_answers_what_a_probe_of_the_word_answers(
            entries in proptest::collection::vec("[a-c0-9é]{1,5}( [a-c]{1,2})?", 1..8),
            text in "[a-c0-9é ,']{0,24}",
        ) {
            let mut table = PrefixMasks::new();
            for (i, e) in entries.iter().enumerate() {
                let _ = table.add(e, 1 << (i % 8));
            }
            let b = text.as_bytes();
            let mut start = 0;
            for run in b.split(|c| matches!(c, b' ' | b',' | b'\'')) {
                let end = start + run.len();
                if !run.is_empty() {
                    prop_assert_eq!(table.mask_at(b, start, end), table.mask(run));
                    // Where an ASCII entry can start at this word, the probe keeps its bit.
                    for (i, e) in entries.iter().enumerate() {
                        let first = e.split(' ').next().unwrap_or_default().as_bytes();
                        let starts = if first.len() >= PREFIX_LEN {
                            run.starts_with(first.get(..PREFIX_LEN).unwrap_or_default())
                        } else if first.len() < e.len() {
                            run == first
                        } else {
                            first.len() > 1 && run.starts_with(first)
                        };
                        if e.is_ascii() && starts {
                            prop_assert!(table.mask_at(b, start, end) & 1 << (i % 8) != 0);
                        }
                    }
                }
                start = end + 1;
            }
        }

        #[test]
        fn reach_answers_what_a_comparison_with_every_span_answers(
            spans in proptest::collection::vec((0usize..40, 0usize..8), 0..12),
            probe in (0usize..40, 0usize..8),
        ) {
            let spans: Vec<Span> = spans.into_iter().map(|(s, l)| Span::new(s, s + l)).collect();
            let probe = Span::new(probe.0, probe.0 + probe.1);
            let every = spans.iter().any(|p| p.overlaps(&probe));
            let mut prepared = spans.clone();
            prop_assert_eq!(overlaps_any(reach(&mut prepared), &probe), every);
        }

        #[test]
        fn shared_pass_finds_what_a_pass_per_lexicon_finds(
            a in proptest::collection::hash_set("[abc ]{1,4}", 1..8),
            b in proptest::collection::hash_set("[abc ]{1,4}", 1..8),
            text in "[abc ]{0,40}",
        ) {
            let a: Vec<String> = a.into_iter().collect();
            let b: Vec<String> = b.into_iter().collect();
            let shared = Lexicons::new([&a, &b]).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let [found_a, found_b] = shared.find(&text);
            prop_assert_eq!(found_a, one_pass_each(&a, &text));
            prop_assert_eq!(found_b, one_pass_each(&b, &text));
        }
    }
}
