//! Run a number pattern only on the parts of a long text that can hold one of its matches.
//!
//! Every pattern searched this way matches only strings that hold an anchor (a digit, or for
//! IBANs two letters and two digits) with at most `before` and fewer than `after` significant
//! bytes on either side of it; whitespace and non-ASCII bytes are not counted, because `\s+` and
//! Unicode classes have no length bound. Such a match lies inside the window spanned by its
//! anchor, so searching each (merged) window in turn finds exactly the matches that one search
//! over the whole text finds: a search starts at the window start with the text before it still
//! visible to `\b`, and ends at the window end, where no match can end.
//!
//! Short messages are searched whole: windows only pay off when most of the text is words.
//!
//! Every pattern is searched through its [`Twin`]: the ASCII-class copy wherever the span searched
//! is ASCII, the pattern as written elsewhere.

use std::cell::OnceCell;
use std::ops::Range;

use regex::{Captures, Match, Regex};

use super::parse::{Groups, Parser};
use crate::text::Scan;

/// A number pattern compiled twice: as written, and with ASCII classes (`\d` is `[0-9]`, `\s` ASCII
/// whitespace). Unicode `\d` inside counted repeats (`\d{2,8}` up to five times) makes lazy DFAs
/// too large for their cache, and the regex engine then falls back to a far slower NFA search
/// (about 22k instructions per grouped-phone search, against 3k). On a span of ASCII bytes both
/// copies match the same strings: the classes differ only on non-ASCII characters, and the only
/// look-around either has is `(?-u:\b)`, which reads the byte before the span the same way. So
/// a search whose span is ASCII runs on the ASCII copy and finds exactly what the original finds.
///
/// A pattern with a hand-written matcher (see `parse.rs`) runs that instead of the ASCII copy
/// where [`captures_each`] searches ASCII text.
pub(super) struct Twin {
    unicode: Regex,
    ascii: Regex,
    parse: Option<Parser>,
}

impl Twin {
    /// The pair of a pattern as written and the same pattern with Unicode classes off.
    pub(super) fn new(unicode: Regex, ascii: Regex) -> Self {
        Twin {
            unicode,
            ascii,
            parse: None,
        }
    }

    /// The pair, with a matcher that finds what the ASCII copy finds on ASCII text.
    pub(super) fn parsed(unicode: Regex, ascii: Regex, parse: Parser) -> Self {
        Twin {
            unicode,
            ascii,
            parse: Some(parse),
        }
    }

    /// Call `f` on the span of every match in `part` that starts at or after `at`, where
    /// `ascii` (the bytes searched are ASCII) decides which copy runs.
    fn spans_from(&self, ascii: bool, part: &str, at: usize, f: &mut impl FnMut(Range<usize>)) {
        if self.parse.is_some() && ascii {
            self.groups_from(ascii, part, at, &mut |g: Groups| {
                if let Some(m) = g[0].clone() {
                    f(m);
                }
            });
        } else {
            matches_from(self.on(ascii), part, at, &mut |m: Match<'_>| f(m.range()));
        }
    }

    /// Call `f` on every match in `part` that starts at or after `at`, with its groups, where
    /// `ascii` (the bytes searched are ASCII) decides which copy runs.
    fn groups_from(&self, ascii: bool, part: &str, mut at: usize, f: &mut impl FnMut(Groups)) {
        let Some(parse) = self.parse.filter(|_| ascii) else {
            captures_from(self.on(ascii), part, at, f);
            return;
        };
        // Every parsed pattern's matches hold a digit, so the search always moves on.
        while let Some(g) = parse(part.as_bytes(), at) {
            let Some(end) = g[0].as_ref().map(|m| m.end).filter(|&e| e > at) else {
                break;
            };
            at = end;
            f(g);
        }
    }

    /// The copy to search bytes with, ASCII or not.
    fn on(&self, ascii: bool) -> &Regex {
        if ascii { &self.ascii } else { &self.unicode }
    }

    /// The pattern as written, whose matches every search here reproduces.
    #[cfg(test)]
    pub(super) fn unicode(&self) -> &Regex {
        &self.unicode
    }
}

/// Texts up to this length are one window.
const WHOLE: usize = 512;

/// How far a pattern's matches reach around an anchor, in significant bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reach {
    /// What a position must look like to anchor a match.
    pub anchor: Anchor,
    /// The most significant bytes a match holds before its anchor.
    pub before: usize,
    /// One more than the most significant bytes a match holds after its anchor byte; at least 1.
    pub after: usize,
    /// The fewest digit-like bytes (see `maybe_digit`) of anchoring runs a window needs for any
    /// match in it to be kept: a window below this is skipped.
    pub min_digits: usize,
    /// A cheap test that the bytes of every match pass, and so does any text holding one: a
    /// window (or short text) that fails it is not searched.
    pub need: fn(&[u8]) -> bool,
    /// What every match's digit runs show, tested on a window's runs instead of `need` on its
    /// bytes (digit-anchored reaches only).
    pub runs: Option<RunNeed>,
    /// `need` is [`exchange_and_line`], which a short text's runs answer without its bytes.
    pub line: bool,
    /// What `need` says of an ASCII window of a long text, read from the window's digit runs
    /// instead of its bytes (see [`AsciiRuns`]).
    pub ascii_runs: Option<AsciiRuns>,
}

/// A test of an ASCII window `w` of `bytes` from the digit runs that anchor it, which
/// start with the first of `runs` and end before `w.end` (runs further on may follow in
/// `runs`). Every digit of an ASCII window lies in one of these runs, each whole inside it.
pub(super) type AsciiRuns = fn(bytes: &[u8], w: &Range<usize>, runs: &[Range<usize>]) -> bool;

/// What the digit runs of any window holding a match show. Each digit of a match lies in a
/// maximal run of digit-like bytes that holds a digit, so in one of the runs that anchor the
/// window searched (a window ends before the next run and starts after the previous one), and
/// two runs are one byte apart in the text only if they are neighbours in the window too.
#[derive(Debug, Clone, Copy)]
pub(super) struct RunNeed {
    /// Some anchoring run is at least this many bytes long (`\d{n}` takes n digits in a row).
    pub longest: usize,
    /// Unless 0, two anchoring runs are one byte apart and that byte is one of these (a mask of
    /// [`JOIN_SLASH`], [`JOIN_DASH`] and [`JOIN_DOT`]), as in every numeric date.
    pub joined: u8,
}

/// A '/' between two runs.
pub(super) const JOIN_SLASH: u8 = 1;
/// A '-' between two runs.
pub(super) const JOIN_DASH: u8 = 2;
/// A '.' between two runs.
pub(super) const JOIN_DOT: u8 = 4;

/// The join bit of a byte between two runs, or 0.
fn join_of(b: u8) -> u8 {
    match b {
        b'/' => JOIN_SLASH,
        b'-' => JOIN_DASH,
        b'.' => JOIN_DOT,
        _ => 0,
    }
}

impl RunNeed {
    /// A window whose runs have these facts may hold a match.
    fn passes(&self, facts: &Facts) -> bool {
        facts.longest >= self.longest && (self.joined == 0 || facts.joins & self.joined != 0)
    }
}

/// What anchors a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Anchor {
    /// An ASCII digit, or the first byte of a non-ASCII character, which may be a Unicode digit.
    Digit,
    /// The start of an IBAN: two ASCII letters after a word boundary, then a digit.
    Iban,
}

impl Anchor {
    /// The first and last anchor byte a digit run gives, if it gives one.
    fn of_run(self, bytes: &[u8], run: &Range<usize>) -> Option<(usize, usize)> {
        match self {
            Anchor::Digit => Some((run.start, run.end.checked_sub(1)?)),
            // A run starts after a non-digit, so the run's first byte is the code's first digit.
            Anchor::Iban => {
                let i = run.start.checked_sub(2)?;
                let letter = |k: usize| bytes.get(k).is_some_and(u8::is_ascii_lowercase);
                // The byte before the digits first: in prose it is nearly always a space, and
                // the other tests are not worth making.
                if !letter(i + 1) || !letter(i) {
                    return None;
                }
                let bounded = i
                    .checked_sub(1)
                    .and_then(|k| bytes.get(k))
                    .is_none_or(|&b| !(b.is_ascii_alphanumeric() || b == b'_'));
                bounded.then_some((i, i))
            }
        }
    }
}

/// A byte that may belong to a digit: ASCII digits and, since `\d` takes Unicode digits, every
/// non-ASCII byte.
fn maybe_digit(b: u8) -> bool {
    b.is_ascii_digit() || b >= 0x80
}

/// The high bit of every byte of a word.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of the eight in `x` (little-endian) that is digit-like (see
/// [`maybe_digit`]), and no other bit: exact per byte, so the lowest set bit says where the
/// first digit-like byte is.
fn digit_like_mask(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let ascii = x & !HIGH;
    // Per byte b < 0x80, neither sum carries into the next byte: b + 0x50 sets the high bit
    // when b >= b'0', and b + 0x46 sets it when b > b'9'.
    let at_least_0 = ascii + 0x50 * ONES;
    let above_9 = ascii + 0x46 * ONES;
    (x | (at_least_0 & !above_9)) & HIGH
}

/// The four little-endian words of a 32-byte block, for the scans that skip 32 bytes at a time.
fn words_of(wide: &[u8; 32]) -> [u64; 4] {
    std::array::from_fn(|k| {
        wide.get(8 * k..)
            .and_then(<[u8]>::first_chunk::<8>)
            .map_or(0, |w| u64::from_le_bytes(*w))
    })
}

/// Bytes a pattern's unbounded parts may repeat: `\s` and anything non-ASCII.
fn free(b: u8) -> bool {
    FREE[usize::from(b)]
}

/// [`free`] for every byte: a table, as the window walks read it once per byte.
static FREE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = matches!(b, 0x09..=0x0d | 0x20) || b >= 0x80;
        b += 1;
    }
    t
};

/// The position `n` significant bytes before `from`, or `floor` if that comes first.
fn back(bytes: &[u8], from: usize, n: usize, floor: usize) -> usize {
    let mut i = from;
    let mut seen = 0;
    while i > floor && seen < n {
        i -= 1;
        if !bytes.get(i).copied().is_some_and(free) {
            seen += 1;
        }
    }
    i
}

/// The position just past the `n`-th significant byte after the byte at `from`.
fn forward(bytes: &[u8], from: usize, n: usize) -> usize {
    let mut i = from + 1;
    let mut seen = 0;
    while i < bytes.len() && seen < n {
        if !free(bytes[i]) {
            seen += 1;
        }
        i += 1;
    }
    i.min(bytes.len())
}

/// The widest `before` that [`Bounds`] answers from one walk; every digit-anchored reach fits.
const MAX_BEFORE: usize = 20;
/// The widest `after` that [`Bounds`] answers from one walk.
const MAX_AFTER: usize = 13;

/// Where `back` and `forward` land from one digit run for every reach up to [`MAX_BEFORE`] and
/// [`MAX_AFTER`], found in one walk each way: every pattern's window around the run is read from
/// here instead of walking the same bytes once per pattern. The walks stop at the neighbouring
/// runs, so that text where most bytes are free (non-ASCII words) is walked once, not once per
/// run: a window reaching back to the previous run's end merges with that run's window whatever
/// its start, and one reaching the next run's start merges with the next run's window, whose end
/// lies further on.
struct Bounds {
    /// `starts[n]` is `back(bytes, run.start, n, 0)`, or the previous run's end if that is later.
    starts: [usize; MAX_BEFORE + 1],
    /// `ends[n]` is `forward(bytes, run.end - 1, n)` for `n >= 1`, or the next run's start if
    /// that is earlier.
    ends: [usize; MAX_AFTER + 1],
}

impl Bounds {
    /// Bounds to be filled by [`Bounds::walk`], one run after another.
    fn new() -> Self {
        Bounds {
            starts: [0; MAX_BEFORE + 1],
            ends: [0; MAX_AFTER + 1],
        }
    }

    /// Walk once each way from `run`, back to `floor` and on to `ceiling` at most, as far as
    /// `before` and `after` significant bytes (at most [`MAX_BEFORE`] and [`MAX_AFTER`]).
    fn walk(
        &mut self,
        bytes: &[u8],
        run: &Range<usize>,
        (floor, ceiling): (usize, usize),
        (before, after): (usize, usize),
    ) {
        let (mut i, mut seen) = (run.start, 0);
        self.starts[0] = i;
        while seen < before && i > floor {
            i -= 1;
            if !bytes.get(i).copied().is_some_and(free) {
                seen += 1;
                self.starts[seen] = i;
            }
        }
        if let Some(rest) = self.starts.get_mut(seen + 1..=before) {
            rest.fill(floor);
        }
        let ceiling = ceiling.min(bytes.len());
        let (mut i, mut seen) = (run.end, 0);
        self.ends[0] = i;
        while seen < after && i < ceiling {
            let Some(&b) = bytes.get(i) else { break };
            i += 1;
            if !free(b) {
                seen += 1;
                self.ends[seen] = i;
            }
        }
        if let Some(rest) = self.ends.get_mut(seen + 1..=after) {
            rest.fill(ceiling);
        }
    }
}

/// What decides a reach's windows (its `min_digits` only filters them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    anchor: Anchor,
    before: usize,
    after: usize,
}

impl Reach {
    fn shape(&self) -> Shape {
        Shape {
            anchor: self.anchor,
            before: self.before,
            after: self.after.max(1),
        }
    }
}

/// What a window's anchoring runs show, for the gates that need not read its bytes.
#[derive(Debug, Clone, Copy)]
struct Facts {
    /// Their digit-like bytes.
    digits: usize,
    /// The length of the longest.
    longest: usize,
    /// The join bits of the bytes between neighbouring runs one byte apart.
    joins: u8,
}

impl Facts {
    /// The facts of a window anchored by one run `len` bytes long.
    fn of(len: usize) -> Self {
        Facts {
            digits: len,
            longest: len,
            joins: 0,
        }
    }

    /// Add the next run, `len` bytes long, with the join bit of the byte between it and the
    /// previous run if that is all that lies between them (else 0).
    fn add(&mut self, len: usize, join: u8) {
        self.digits += len;
        self.longest = self.longest.max(len);
        self.joins |= join;
    }
}

/// The end of the run of digit-like bytes that reaches `i`: the first byte at or after `i` that is
/// not digit-like, found eight bytes at a time (byte by byte in the last seven).
fn run_end(bytes: &[u8], mut i: usize) -> usize {
    while let Some(&block) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let other = !digit_like_mask(u64::from_le_bytes(block)) & HIGH;
        if other != 0 {
            return i + (other.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while bytes.get(i).copied().is_some_and(maybe_digit) {
        i += 1;
    }
    i
}

/// Call `f` on each maximal run of digit-like bytes of `bytes` in order until it returns true,
/// and say whether it did: eight bytes at a time where none is digit-like, with each run's end
/// found from the mask that found its start.
fn any_run(bytes: &[u8], mut f: impl FnMut(Range<usize>) -> bool) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        let start;
        if let Some(&block) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            let mask = digit_like_mask(u64::from_le_bytes(block));
            if mask == 0 {
                i += 8;
                continue;
            }
            let skip = mask.trailing_zeros() / 8;
            start = i + skip as usize;
            // The run's end, from the same mask when it ends inside this block.
            let other = (!mask & HIGH) >> (8 * skip);
            if other != 0 {
                i = start + (other.trailing_zeros() / 8) as usize;
            } else {
                i = run_end(bytes, i + 8);
            }
        } else {
            if !bytes.get(i).copied().is_some_and(maybe_digit) {
                i += 1;
                continue;
            }
            start = i;
            while bytes.get(i).copied().is_some_and(maybe_digit) {
                i += 1;
            }
        }
        if f(start..i) {
            return true;
        }
    }
    false
}

/// What a short text's runs of digit-like bytes show, read in one pass (see [`whole_facts`]).
struct Whole {
    /// Over all its runs, those without a digit too.
    facts: Facts,
    /// An IBAN anchor opens a run.
    iban: bool,
    /// What [`exchange_and_line`] says of the text.
    line: bool,
}

/// What every run of digit-like bytes of `bytes` shows, those without a digit too, whether an
/// IBAN anchor opens one, and whether a run of three and one of four sit one of ` .-` apart, in
/// one pass. Over all such runs, `longest >= n` says what `digit_run(bytes, n)` says, and a join
/// bit what `digit_sep_digit` says for its separator: a separator between two digit-like bytes
/// is one byte between two runs.
fn whole_facts(bytes: &[u8]) -> Whole {
    let mut whole = Whole {
        facts: Facts {
            digits: usize::MAX,
            longest: 0,
            joins: 0,
        },
        iban: false,
        line: false,
    };
    // Where the previous run ended and how long it was, if one did.
    let mut last: Option<(usize, usize)> = None;
    any_run(bytes, |run| {
        let facts = &mut whole.facts;
        facts.longest = facts.longest.max(run.len());
        if let Some((end, len)) = last.filter(|&(e, _)| e + 1 == run.start) {
            let b = bytes.get(end).copied().unwrap_or_default();
            facts.joins |= join_of(b);
            whole.line |= len >= 3 && run.len() >= 4 && matches!(b, b' ' | b'.' | b'-');
        }
        last = Some((run.end, run.len()));
        whole.iban = whole.iban || Anchor::Iban.of_run(bytes, &run).is_some();
        false
    });
    whole
}

/// A merged window and what its anchoring runs show.
type Window = (Range<usize>, Facts);

/// The (start, end, facts) of the window being grown for one shape, if any.
type Growing = Option<(usize, usize, Facts)>;

/// The runs of digit-like bytes of one text that hold a digit (ASCII or any numeric character,
/// a superset of what Unicode `\d` takes) and the windows around them, found once and shared
/// by all its patterns. A text of at most `WHOLE` bytes has none and is searched whole.
pub(super) struct Runs {
    long: bool,
    runs: Vec<Range<usize>>,
    /// The windows of each shape, in text order, with the fewest digit-like bytes any reach of
    /// that shape needs: no window with fewer is kept.
    windows: Vec<(Shape, usize, Vec<Window>)>,
    /// The whole text as one window.
    whole: [Window; 1],
    /// A short text's facts, read from all its runs of digit-like bytes (those without a digit
    /// too, so that a [`RunNeed`] answers as the `need` of the same reach on its bytes does),
    /// and whether an IBAN may start in it (see [`whole_facts`]): read when a search first
    /// asks, as a message with few digits runs none that does.
    short: OnceCell<Whole>,
    /// A short text is ASCII, so its searches run the ASCII copies: read when one first asks.
    ascii: OnceCell<bool>,
}

impl Runs {
    /// Index `hay` if it is long enough for windows to pay off, with the windows of the reaches
    /// that `reaches` lists (asked only then).
    pub(super) fn new(hay: &str, reaches: impl FnOnce() -> Vec<Reach>) -> Self {
        let bytes = hay.as_bytes();
        let mut runs = Vec::new();
        let long = bytes.len() > WHOLE;
        if long {
            let mut i = 0;
            while i < bytes.len() {
                // Most blocks of prose hold no digit-like byte: skip 32 bytes at a time while
                // none of their four words holds one, and go straight to the first digit-like
                // byte of a block that holds one (eight bytes at a time near the end).
                if let Some(wide) = bytes.get(i..).and_then(<[u8]>::first_chunk::<32>) {
                    let masks = words_of(wide).map(digit_like_mask);
                    match masks.iter().position(|&m| m != 0) {
                        Some(k) => i += 8 * k + (masks[k].trailing_zeros() / 8) as usize,
                        None => {
                            i += 32;
                            continue;
                        }
                    }
                } else if let Some(&block) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
                    let mask = digit_like_mask(u64::from_le_bytes(block));
                    if mask == 0 {
                        i += 8;
                        continue;
                    }
                    i += (mask.trailing_zeros() / 8) as usize;
                }
                if maybe_digit(bytes[i]) {
                    let start = i;
                    i = run_end(bytes, i);
                    // Accented letters and other non-ASCII characters make runs too; one
                    // without a digit anchors no match, and a window around it would be
                    // built and searched for nothing.
                    let digit = bytes[start].is_ascii_digit()
                        || hay.get(start..i).is_some_and(|r| {
                            r.chars().any(|c| c.is_ascii_digit() || c.is_numeric())
                        });
                    if digit {
                        runs.push(start..i);
                    }
                } else {
                    i += 1;
                }
            }
        }
        let windows = if long {
            let mut shapes: Vec<(Shape, usize)> = Vec::new();
            for r in reaches() {
                match shapes.iter_mut().find(|(s, _)| *s == r.shape()) {
                    Some((_, least)) => *least = (*least).min(r.min_digits),
                    None => shapes.push((r.shape(), r.min_digits)),
                }
            }
            windows_of(bytes, &runs, &shapes)
        } else {
            Vec::new()
        };
        Runs {
            long,
            runs,
            windows,
            whole: [(
                0..bytes.len(),
                Facts {
                    digits: usize::MAX,
                    longest: usize::MAX,
                    joins: u8::MAX,
                },
            )],
            short: OnceCell::new(),
            ascii: OnceCell::new(),
        }
    }

    /// `hay`, the short text, is ASCII.
    fn whole_ascii(&self, hay: &str) -> bool {
        *self.ascii.get_or_init(|| hay.is_ascii())
    }

    /// A short text, searched whole, may hold a match of `reach`: read from its runs where the
    /// reach has a [`RunNeed`], an IBAN anchor or the phone gate, else from `need` on its bytes.
    fn whole_may_hold(&self, reach: Reach, bytes: &[u8]) -> bool {
        let short = || self.short.get_or_init(|| whole_facts(bytes));
        match reach.runs {
            Some(n) => n.passes(&short().facts),
            None if reach.anchor == Anchor::Iban => short().iban,
            None if reach.line => short().line,
            None => (reach.need)(bytes),
        }
    }

    /// The merged windows of `reach` with enough digits to matter and runs that pass its
    /// [`RunNeed`], in text order. A reach whose shape was not given to `new`, or given only
    /// with more digits, is searched in one window, the whole text.
    fn windows(&self, reach: Reach) -> impl Iterator<Item = Range<usize>> + '_ {
        let shape = reach.shape();
        self.windows
            .iter()
            .find(|(s, least, _)| *s == shape && *least <= reach.min_digits)
            .map_or(&self.whole[..], |(_, _, ws)| ws)
            .iter()
            .filter(move |(_, facts)| {
                facts.digits >= reach.min_digits && reach.runs.is_none_or(|n| n.passes(facts))
            })
            .map(|(w, _)| w.clone())
    }

    /// Call `f(ascii, part, at)` on every window of `reach` in the long text `hay` that may
    /// hold a match: the text up to the window's end, where it starts, and whether its bytes
    /// are ASCII. A window passes the reach's [`RunNeed`] (see [`Runs::windows`]), else its
    /// [`AsciiRuns`] test where it is ASCII, else `need` on its bytes.
    // Out of line: the searches inline it into the short-text path otherwise, which costs
    // short messages more than the call costs long text.
    #[inline(never)]
    fn each_window(&self, hay: &str, reach: Reach, mut f: impl FnMut(bool, &str, usize)) {
        let bytes = hay.as_bytes();
        // The first run of the windows still to come: windows come in text order.
        let mut next = 0;
        for w in self.windows(reach) {
            let (Some(part), Some(span)) = (hay.get(..w.end), bytes.get(w.clone())) else {
                continue;
            };
            let ascii = match reach.ascii_runs {
                _ if reach.runs.is_some() => span.is_ascii(),
                Some(test) => {
                    // Few runs lie between windows (none between those of most shapes).
                    while self.runs.get(next).is_some_and(|r| r.end <= w.start) {
                        next += 1;
                    }
                    let ascii = span.is_ascii();
                    let pass = if ascii {
                        test(bytes, &w, self.runs.get(next..).unwrap_or_default())
                    } else {
                        (reach.need)(span)
                    };
                    if !pass {
                        continue;
                    }
                    ascii
                }
                None if (reach.need)(span) => span.is_ascii(),
                None => continue,
            };
            f(ascii, part, w.start);
        }
    }
}

/// One digit-anchored shape's windows while [`windows_of`] grows them: its reach, the fewest
/// digit-like bytes a window must hold to be kept, the window being grown (start, end, facts)
/// and the windows kept.
struct Lane {
    before: usize,
    after: usize,
    least: usize,
    open: (usize, usize, Facts),
    done: Vec<Window>,
}

impl Lane {
    /// Keep the open window if it holds enough digits, and open `next`.
    fn close(&mut self, next: (usize, usize, Facts)) {
        let (s, e, f) = std::mem::replace(&mut self.open, next);
        if f.digits >= self.least {
            self.done.push((s..e, f));
        }
    }
}

/// The merged windows of every shape around `runs`, each listed with the fewest digits its
/// reaches need, and keeping only windows with that many. Each window spans from `before`
/// significant bytes ahead of an anchor to `after` past it, and windows that touch are merged;
/// the bounds of every digit-anchored shape are read from one [`Bounds`] walk per run, which
/// goes only as far as the widest of them. Those shapes are grown side by side in one array,
/// with the first run opening each one's first window, so the step per run and shape is a
/// compare and a store. Most windows hold one short number ("2", "2019"), too few digits for a
/// phone, card or ZIP search, and are never stored for those.
fn windows_of(
    bytes: &[u8],
    runs: &[Range<usize>],
    shapes: &[(Shape, usize)],
) -> Vec<(Shape, usize, Vec<Window>)> {
    let walked =
        |s: &Shape| s.anchor == Anchor::Digit && s.before <= MAX_BEFORE && s.after <= MAX_AFTER;
    let reach = shapes
        .iter()
        .filter(|(s, _)| walked(s))
        .fold((0, 0), |(b, a), (s, _)| (b.max(s.before), a.max(s.after)));
    // A shape has at most one window per run: sized once, no list is copied as it grows.
    let mut lanes: Vec<Lane> = shapes
        .iter()
        .filter(|(s, _)| walked(s))
        .map(|&(s, least)| Lane {
            before: s.before,
            after: s.after,
            // A window holds at least its anchoring run, so the empty window a lane starts
            // with is never kept.
            least: least.max(1),
            open: (0, 0, Facts::of(0)),
            done: Vec::with_capacity(runs.len()),
        })
        .collect();
    let mut bounds = Bounds::new();
    for (k, run) in runs.iter().enumerate() {
        let floor = k
            .checked_sub(1)
            .and_then(|p| runs.get(p))
            .map_or(0, |r| r.end);
        // The join counts only where the previous run is in the same window, that is when the
        // run merges into the open one, which holds the previous run.
        let join = if k > 0 && floor + 1 == run.start {
            bytes.get(floor).map_or(0, |&b| join_of(b))
        } else {
            0
        };
        let ceiling = runs.get(k + 1).map_or(bytes.len(), |r| r.start);
        bounds.walk(bytes, run, (floor, ceiling), reach);
        let digits = run.len();
        let first = k == 0;
        for lane in &mut lanes {
            // Every lane's reach is within the walk's (see `walked`): the clamps only let the
            // compiler drop the fallbacks.
            let start = bounds
                .starts
                .get(lane.before.min(MAX_BEFORE))
                .copied()
                .unwrap_or(floor);
            let end = bounds
                .ends
                .get(lane.after.min(MAX_AFTER))
                .copied()
                .unwrap_or(ceiling);
            let (_, e, f) = &mut lane.open;
            // A start before the open window's end is where `back` would have stopped at that
            // end (its floor): the window merges either way. The open window ends no later than
            // this run's start, as the previous run's walk stops there, so the merged one ends
            // where this run's reach ends.
            if start <= *e && !first {
                *e = end;
                f.add(digits, join);
            } else {
                lane.close((start, end, Facts::of(digits)));
            }
        }
    }
    let mut lanes = lanes.into_iter();
    shapes
        .iter()
        .filter_map(|&(shape, least)| {
            if walked(&shape) {
                let mut lane = lanes.next()?;
                lane.close((0, 0, Facts::of(0)));
                Some((shape, lane.least, lane.done))
            } else {
                Some((shape, least, anchored_windows(bytes, runs, shape)))
            }
        })
        .collect()
}

/// The merged windows of a shape that the walk does not cover (IBANs), each anchored where
/// [`Anchor::of_run`] says: few runs give such an anchor, so they get a pass of their own. Their
/// joins are not tracked (all set), as only digit-anchored reaches have a [`RunNeed`].
fn anchored_windows(bytes: &[u8], runs: &[Range<usize>], shape: Shape) -> Vec<Window> {
    let mut done = Vec::new();
    let mut open: Growing = None;
    for run in runs {
        let Some((lo, hi)) = shape.anchor.of_run(bytes, run) else {
            continue;
        };
        let floor = open.map_or(0, |(_, end, _)| end);
        let (start, end) = (
            back(bytes, lo, shape.before, floor),
            forward(bytes, hi, shape.after),
        );
        match &mut open {
            Some((_, e, f)) if start <= *e => {
                *e = (*e).max(end);
                f.add(run.len(), u8::MAX);
            }
            _ => {
                let f = Facts {
                    joins: u8::MAX,
                    ..Facts::of(run.len())
                };
                if let Some((s, e, f)) = open.replace((start, end, f)) {
                    done.push((s..e, f));
                }
            }
        }
    }
    if let Some((s, e, f)) = open {
        done.push((s..e, f));
    }
    done
}

/// Call `f` on the span of every match of `re` in `hay`, as `re.find_iter(hay)` with the
/// pattern as written would yield them.
pub(super) fn find_each(
    re: &Twin,
    hay: &str,
    runs: &Runs,
    reach: Reach,
    mut f: impl FnMut(Range<usize>),
) {
    if !runs.long {
        if runs.whole_may_hold(reach, hay.as_bytes()) {
            re.spans_from(runs.whole_ascii(hay), hay, 0, &mut f);
        }
        return;
    }
    runs.each_window(hay, reach, |ascii, part, at| {
        re.spans_from(ascii, part, at, &mut f)
    });
}

/// Call `f` on the span of every match of `re` in `scan.norm`, as `re.find_iter` with the
/// pattern as written would yield them, for a pattern whose matches are runs of exactly `len`
/// ASCII letters and digits between `(?-u:\b)` (the VIN pattern). Every ASCII letter and digit
/// belongs to a token, so such a run lies inside one token at least `len` bytes long: only those
/// tokens are searched, each with the byte after it in view for the closing `\b` (a non-ASCII
/// byte there reads as the end of the text does). Long words are rare, and windows around
/// every number of a long text are not.
pub(super) fn find_in_tokens(
    re: &Twin,
    scan: &Scan<'_>,
    len: usize,
    mut f: impl FnMut(Range<usize>),
) {
    let hay = scan.norm.as_str();
    let bytes = hay.as_bytes();
    for t in scan.tokens.iter().filter(|t| t.end - t.start >= len) {
        let view = if bytes.get(t.end).is_some_and(u8::is_ascii) {
            t.end + 1
        } else {
            t.end
        };
        let (Some(part), Some(span)) = (hay.get(..view), bytes.get(t.start..t.end)) else {
            continue;
        };
        re.spans_from(span.is_ascii(), part, t.start, &mut f);
    }
}

/// Call `f` on every match of `re` in `part` that starts at or after `at`.
fn matches_from<'h>(re: &Regex, part: &'h str, mut at: usize, f: &mut impl FnMut(Match<'h>)) {
    while let Some(m) = re.find_at(part, at) {
        // Every windowed pattern needs at least one byte, so the search always moves on.
        at = m.end();
        let empty = m.is_empty();
        f(m);
        if empty {
            break;
        }
    }
}

/// Call `f` on every match of `re` in `hay` with its groups, as `re.captures_iter(hay)` with the
/// pattern as written would.
pub(super) fn captures_each(
    re: &Twin,
    hay: &str,
    runs: &Runs,
    reach: Reach,
    mut f: impl FnMut(Groups),
) {
    if !runs.long {
        if runs.whole_may_hold(reach, hay.as_bytes()) {
            re.groups_from(runs.whole_ascii(hay), hay, 0, &mut f);
        }
        return;
    }
    runs.each_window(hay, reach, |ascii, part, at| {
        re.groups_from(ascii, part, at, &mut f)
    });
}

/// The spans of `c`'s match and groups.
fn groups(c: &Captures<'_>) -> Groups {
    std::array::from_fn(|i| c.get(i).map(|m| m.range()))
}

/// Call `f` on every match of `re` in `part` that starts at or after byte `at`, in order.
fn captures_from(re: &Regex, part: &str, mut at: usize, f: &mut impl FnMut(Groups)) {
    while let Some(c) = re.captures_at(part, at) {
        let Some(m) = c.get(0) else { break };
        at = m.end();
        let empty = m.is_empty();
        f(groups(&c));
        if empty {
            break;
        }
    }
}

/// A byte that `(?-u:\b)` counts as part of a word.
fn word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The month names and abbreviations that [`is_month`] accepts.
const MONTH_WORDS: [&str; 24] = [
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
];

/// A 256-slot filter of the word hashes of [`MONTH_WORDS`]: a token whose hash misses it is no
/// month name, which one table read tells for most words instead of comparing their bytes. A
/// byte per slot, not a bit: the filter is read once per token of the text.
pub(super) struct MonthHashes([bool; 256]);

impl MonthHashes {
    /// The filter, built from the same word hash the tokenizer gives every token.
    pub(super) fn new() -> Self {
        let mut slots = [false; 256];
        for m in MONTH_WORDS {
            slots[Self::slot(crate::model::hash_bytes(m.as_bytes()))] = true;
        }
        MonthHashes(slots)
    }

    fn slot(h: u64) -> usize {
        (h >> 56) as usize
    }

    /// A word with hash `h` may be a month name (never false for one that is).
    fn may_hold(&self, h: u64) -> bool {
        self.0.get(Self::slot(h)).copied().unwrap_or(true)
    }
}

/// The first byte at or after `from` that is not ASCII, or `bytes.len()`.
fn next_non_ascii(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    // Non-ASCII bytes are rare: skip 32 ASCII bytes at a time, then find the byte in eights.
    while let Some(wide) = bytes.get(i..).and_then(<[u8]>::first_chunk::<32>) {
        if words_of(wide).iter().any(|w| w & HIGH != 0) {
            break;
        }
        i += 32;
    }
    while let Some(&block) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let high = u64::from_le_bytes(block) & HIGH;
        if high != 0 {
            return i + (high.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && bytes[i].is_ascii() {
        i += 1;
    }
    i.min(bytes.len())
}

/// A month name or abbreviation, as the month-name date pattern spells them.
fn is_month(w: &[u8]) -> bool {
    matches!(
        w,
        b"jan"
            | b"january"
            | b"feb"
            | b"february"
            | b"mar"
            | b"march"
            | b"apr"
            | b"april"
            | b"may"
            | b"jun"
            | b"june"
            | b"jul"
            | b"july"
            | b"aug"
            | b"august"
            | b"sep"
            | b"sept"
            | b"september"
            | b"oct"
            | b"october"
            | b"nov"
            | b"november"
            | b"dec"
            | b"december"
    )
}

/// The most significant bytes a month-name date holds before its month: "wednesday.,", "the", a
/// two-digit day, "th" and "of".
const MONTH_BEFORE: usize = 20;
/// One more than the most significant bytes after the month: ".", a two-digit day, "th", "," and
/// a four-digit year.
const MONTH_AFTER: usize = 11;

/// A byte that `\s` may match or belong to: ASCII whitespace as the pattern reads it (with
/// vertical tab), or any non-ASCII byte, which may be part of Unicode whitespace.
fn maybe_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') || b >= 0x80
}

/// Whether the month name at `start..end` may be the month of a month-name date: every such
/// date holds a day before its month (`\d{1,2}(?:st|nd|rd|th)?(?:\s+of)?\s+`) or a day or year
/// after it (`\.?,?\s+\d`). A non-ASCII byte on either path may be a Unicode space or digit,
/// so it lets the month pass. Most month words ("may" above all) are followed by a word and
/// have none before them, and this rejects them without a regex search.
fn month_may_date(bytes: &[u8], start: usize, end: usize) -> bool {
    let mut i = end;
    i += usize::from(bytes.get(i) == Some(&b'.'));
    i += usize::from(bytes.get(i) == Some(&b','));
    let spaces = i;
    while let Some(&b) = bytes.get(i).filter(|&&b| maybe_space(b)) {
        if !b.is_ascii() {
            return true;
        }
        i += 1;
    }
    if i > spaces && bytes.get(i).is_some_and(|&b| maybe_digit(b)) {
        return true;
    }
    // Back over the spaces before the month, then "of" and its spaces, then a day's suffix.
    let spaces_before = |to: usize| -> Option<usize> {
        let mut j = to;
        while let Some(&b) = j.checked_sub(1).and_then(|k| bytes.get(k)) {
            if !maybe_space(b) {
                break;
            }
            if !b.is_ascii() {
                return None;
            }
            j -= 1;
        }
        Some(j)
    };
    let Some(mut j) = spaces_before(start) else {
        return true;
    };
    if j == start {
        return false;
    }
    if let Some(k) = j.checked_sub(2).filter(|&k| bytes.get(k..j) == Some(b"of")) {
        let Some(m) = spaces_before(k) else {
            return true;
        };
        if m < k {
            j = m;
        }
    }
    if let Some(k) = j
        .checked_sub(2)
        .filter(|&k| matches!(bytes.get(k..j), Some(b"st" | b"nd" | b"rd" | b"th")))
    {
        j = k;
    }
    j.checked_sub(1)
        .and_then(|k| bytes.get(k))
        .is_some_and(|&b| maybe_digit(b))
}

/// The groups of a match `m` of the month-name date pattern in ASCII `bytes`, read from its
/// digit runs. Weekday and month words hold no digit, so the first run is the day before the
/// month (group 1) when a month word follows it past its suffix, else the day after the month
/// (group 3) when it has at most two digits, else a lone year (group 5); a second run ends the
/// match as the first's year (group 2 or 4).
fn month_groups(bytes: &[u8], m: Range<usize>) -> Groups {
    let hay = bytes.get(m.clone()).unwrap_or_default();
    let run = |from: usize| -> Option<Range<usize>> {
        let s = from + hay.get(from..)?.iter().position(u8::is_ascii_digit)?;
        let len = hay
            .get(s..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        Some(s..s + len)
    };
    let mut g: Groups = Default::default();
    g[0] = Some(m.clone());
    let Some(first) = run(0) else { return g };
    let second = run(first.end);
    let after = hay.get(first.end..).unwrap_or_default();
    let suffix = after.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let month_after = after
        .get(suffix..)
        .is_some_and(|rest| rest.iter().any(u8::is_ascii_alphabetic));
    let (day, year) = if month_after {
        (1, 2)
    } else if first.len() <= 2 {
        (3, 4)
    } else {
        (5, 5)
    };
    let shift = |r: Range<usize>| m.start + r.start..m.start + r.end;
    if let Some(y) = second {
        g[year] = Some(shift(y));
    }
    g[day] = Some(shift(first));
    g
}

/// Call `f` on every match of the month-name date pattern `re` in `scan.norm` with its groups,
/// as `re.captures_iter` would, searching only around month names. The pattern reads its month
/// between word boundaries, so every match holds a month name as a whole ASCII word, with at most
/// [`MONTH_BEFORE`] significant bytes before it and fewer than [`MONTH_AFTER`] after: the windows
/// argument of this module holds with month names as anchors. A window also ends at a word end,
/// so that the cut cannot make a month name ("mar" of "marble") or end a number early.
pub(super) fn month_captures_each(
    re: &Twin,
    months: &MonthHashes,
    scan: &Scan<'_>,
    mut f: impl FnMut(Groups),
) {
    let hay = scan.norm.as_str();
    let bytes = hay.as_bytes();
    // `last` is where the window's last month name starts.
    let mut search = |w: Range<usize>, last: usize| {
        // Every match holds a day or a year.
        let Some(span) = bytes
            .get(w.clone())
            .filter(|b| b.iter().any(|&c| maybe_digit(c)))
        else {
            return;
        };
        let Some(part) = hay.get(..w.end) else { return };
        let ascii = span.is_ascii();
        let re = re.on(ascii);
        let mut at = w.start;
        // Every match holds a month name that anchored a window, so once a match ends past
        // the window's last month no other can follow, and the failing search is skipped.
        while at <= last {
            // On ASCII bytes a match's span tells its groups, which a plain search finds for
            // less than a search for captures.
            let (m, g) = if ascii {
                let Some(m) = re.find_at(part, at) else { break };
                (m.range(), month_groups(bytes, m.range()))
            } else {
                let Some(c) = re.captures_at(part, at) else {
                    break;
                };
                let Some(m) = c.get(0) else { break };
                (m.range(), groups(&c))
            };
            at = m.end;
            f(g);
            if m.is_empty() {
                break;
            }
        }
    };
    let mut open: Option<(Range<usize>, usize)> = None;
    let mut anchor = |start: usize, end: usize| {
        if !month_may_date(bytes, start, end) {
            return;
        }
        let floor = open.as_ref().map_or(0, |(w, _)| w.end);
        let from = back(bytes, start, MONTH_BEFORE, floor);
        let mut to = forward(bytes, end.saturating_sub(1), MONTH_AFTER);
        while to < bytes.len() && word_byte(bytes[to]) {
            to += 1;
        }
        match &mut open {
            Some((w, last)) if from <= w.end => {
                w.end = w.end.max(to);
                *last = start;
            }
            _ => {
                if let Some((w, last)) = open.replace((from..to, start)) {
                    search(w, last);
                }
            }
        }
    };
    // A whole ASCII word is a whole token, or a piece of one between its apostrophes and
    // non-ASCII letters. A month name is a whole ASCII word and its own token.
    let mut non_ascii = if scan.is_ascii() {
        usize::MAX
    } else {
        next_non_ascii(bytes, 0)
    };
    for t in &scan.tokens {
        if months.may_hold(t.hash)
            && bytes
                .get(t.start..t.end)
                .is_some_and(|w| (3..=9).contains(&w.len()) && is_month(w))
        {
            anchor(t.start, t.end);
            continue;
        }
        // Most tokens are plain ASCII words: the next non-ASCII byte lies past them.
        if non_ascii >= t.end && !t.shape.apostrophe() {
            continue;
        }
        if non_ascii < t.start {
            non_ascii = next_non_ascii(bytes, t.start);
            if !t.shape.apostrophe() && non_ascii >= t.end {
                continue;
            }
        }
        let word = bytes.get(t.start..t.end).unwrap_or_default();
        let mut piece = t.start;
        for (k, &b) in word
            .iter()
            .enumerate()
            .chain(std::iter::once((word.len(), &b' ')))
        {
            if !b.is_ascii_alphanumeric() {
                let at = t.start + k;
                if bytes.get(piece..at).is_some_and(is_month) {
                    anchor(piece, at);
                }
                piece = at + 1;
            }
        }
    }
    if let Some((w, last)) = open {
        search(w, last);
    }
}

/// Bytes that may join two digits inside one phone number: ` .-()`.
fn joiner(b: u8) -> bool {
    matches!(b, b' ' | b'.' | b'-' | b'(' | b')')
}

/// Call `f(k, m)` on every match `m` of the `k`-th of `searches` in `hay` with at least `n` ASCII
/// digits, for patterns without `\b` or other assertions whose matches are digits joined by at
/// most three of ` .-()` at a time, after at most one leading `(` or `+` (the grouped and
/// international phone patterns). Such a match lies inside one group of digit-like bytes and
/// their joiners, so each group with `n` ASCII digits is searched on its own: long text is mostly
/// words, and a search over all of it costs far more than a few short ones. A search whose flag
/// is set (`plus`) looks only at groups led by `+`. `runs` are `hay`'s digit runs when it is long.
///
/// The groups are found once for all the searches, and each group is searched by each of them
/// in turn; one search's matches come in the order `re.find_iter(hay)` yields them. Matches of
/// different groups never overlap, so only their interleaving differs from one whole search
/// after another.
pub(super) fn find_in_groups(
    searches: &[(&Twin, bool)],
    hay: &str,
    runs: &Runs,
    n: usize,
    mut f: impl FnMut(usize, Range<usize>),
) {
    let bytes = hay.as_bytes();
    let ascii_digits = |r: Range<usize>| {
        bytes
            .get(r)
            .map_or(0, |b| b.iter().filter(|c| c.is_ascii_digit()).count())
    };
    let mut search = |first: usize, last_end: usize, digits: usize| {
        if digits < n {
            return;
        }
        let lead = first
            .checked_sub(1)
            .filter(|&p| matches!(bytes.get(p), Some(b'(' | b'+')));
        let plus_led = lead.is_some_and(|p| bytes.get(p) == Some(&b'+'));
        // Up to three joiners after the last digit stay in: a closing parenthesis may end a match.
        let tail = bytes
            .get(last_end..)
            .unwrap_or_default()
            .iter()
            .take(3)
            .take_while(|&&b| joiner(b))
            .count();
        let Some(part) = hay.get(..last_end + tail) else {
            return;
        };
        let at = lead.unwrap_or(first);
        let span = bytes.get(at..part.len()).unwrap_or_default();
        let ascii = span.is_ascii();
        for (k, &(re, plus)) in searches.iter().enumerate() {
            if plus && !plus_led {
                continue;
            }
            re.spans_from(ascii, part, at, &mut |m| f(k, m));
        }
    };
    let joined = |end: usize, next: usize| {
        bytes
            .get(end..next)
            .is_some_and(|gap| gap.len() <= 3 && gap.iter().all(|&b| joiner(b)))
    };
    if runs.long {
        let mut k = 0;
        while let Some(first) = runs.runs.get(k) {
            let (mut last_end, mut digits) = (first.end, ascii_digits(first.clone()));
            k += 1;
            while let Some(next) = runs.runs.get(k).filter(|r| joined(last_end, r.start)) {
                digits += ascii_digits(next.clone());
                last_end = next.end;
                k += 1;
            }
            search(first.start, last_end, digits);
        }
        return;
    }
    // A short text has no runs indexed: its groups are joined from all its runs of digit-like
    // bytes, those without a digit too, as a group takes in every digit-like byte.
    let mut group: Option<(usize, usize, usize)> = None;
    any_run(bytes, |run| {
        let d = ascii_digits(run.clone());
        match &mut group {
            Some((_, last_end, digits)) if joined(*last_end, run.start) => {
                *last_end = run.end;
                *digits += d;
            }
            _ => {
                if let Some((first, last_end, digits)) = group.replace((run.start, run.end, d)) {
                    search(first, last_end, digits);
                }
            }
        }
        false
    });
    if let Some((first, last_end, digits)) = group {
        search(first, last_end, digits);
    }
}

/// Some byte of `seps` sits between two digits ("3/4", "2019-04"), as in every numeric date.
pub(super) fn digit_sep_digit(w: &[u8], seps: &[u8]) -> bool {
    let between_digits = |i: usize| {
        i.checked_sub(1)
            .and_then(|p| w.get(p))
            .copied()
            .is_some_and(maybe_digit)
            && w.get(i + 1).copied().is_some_and(maybe_digit)
    };
    match *seps {
        [a] => memchr::memchr_iter(a, w).any(between_digits),
        [a, b, c] => memchr::memchr3_iter(a, b, c, w).any(between_digits),
        _ => w
            .iter()
            .enumerate()
            .any(|(i, x)| seps.contains(x) && between_digits(i)),
    }
}

/// Some run of at least three digit-like bytes, then one of ` .-`, then a run of at least four:
/// the `\d{3}[ .\-]\d{4}` that ends every US phone number (a Unicode digit is several bytes).
/// Years and counts near a number open no search.
pub(super) fn exchange_and_line(w: &[u8]) -> bool {
    // The separator is the one byte between two runs: three digits end one, four open the next.
    let mut exchange: Option<usize> = None;
    any_run(w, |run| {
        let line = exchange.is_some_and(|end| {
            end + 1 == run.start && run.len() >= 4 && matches!(w.get(end), Some(b' ' | b'.' | b'-'))
        });
        exchange = (run.len() >= 3).then_some(run.end);
        line
    })
}

/// An MBI may start in `w`: a digit 1-9, a lower-case letter, a letter or digit, then a
/// digit-like byte, as every MBI opens ("1eg4"); "2nd", "10am" and "5mg" open no search.
pub(super) fn mbi_start(w: &[u8]) -> bool {
    let opens = |p: &[u8]| match *p {
        [a, b, c, d, ..] => {
            matches!(a, b'1'..=b'9')
                && b.is_ascii_lowercase()
                && (c.is_ascii_lowercase() || c.is_ascii_digit())
                && maybe_digit(d)
        }
        _ => false,
    };
    // Most bytes of a short text are no digit: only the digit-like ones, found eight bytes at a
    // time, are read on. A window holds a few bytes around one run and is read byte by byte.
    let mut i = 0;
    if w.len() >= 32 {
        while let Some(&block) = w.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            let mut mask = digit_like_mask(u64::from_le_bytes(block));
            while mask != 0 {
                if w.get(i + (mask.trailing_zeros() / 8) as usize..)
                    .is_some_and(opens)
                {
                    return true;
                }
                mask &= mask - 1;
            }
            i += 8;
        }
    }
    w.get(i..).unwrap_or_default().windows(4).any(opens)
}

/// No test: any text may hold a match.
pub(super) fn anything(_: &[u8]) -> bool {
    true
}

/// Some run of digit-like bytes is at least `n` long (`\d{n}`; a Unicode digit is several bytes).
pub(super) fn digit_run(w: &[u8], n: usize) -> bool {
    let mut run = 0;
    for &b in w {
        run = if maybe_digit(b) { run + 1 } else { 0 };
        if run >= n {
            return true;
        }
    }
    false
}

/// The word starting at byte `p` of `w` begins with one of `words`, and nothing but a non-word
/// byte stands before it in `w` (at `w`'s start the byte before is unknown, so it counts as one).
fn word_at(w: &[u8], p: usize, words: &[&[u8]]) -> bool {
    let start = p
        .checked_sub(1)
        .and_then(|k| w.get(k))
        .is_none_or(|&b| !word_byte(b));
    start
        && words
            .iter()
            .any(|x| w.get(p..).is_some_and(|rest| rest.starts_with(x)))
}

/// Some age phrase of the age pattern may lie in `w`. Every match holds "year" or "yr" after a
/// space or dash, or "aged", "age of", "turn…" or "when …" after a word boundary, or "y/o",
/// "y.o." or a whole "yo" after a digit or a space: the bytes of "you", "yes" or "yesterday"
/// near a number do not open the search.
pub(super) fn age_word(w: &[u8]) -> bool {
    memchr::memchr3_iter(b'y', b'a', b't', w)
        .chain(memchr::memchr_iter(b'w', w))
        .any(|p| {
            word_at(w, p, &[b"year", b"yr", b"age", b"turn", b"when "])
                || p.checked_sub(1)
                    .and_then(|k| w.get(k))
                    .is_none_or(|&b| !(b.is_ascii_alphabetic() || b == b'_'))
                    && w.get(p..).is_some_and(|rest| {
                        rest.starts_with(b"y/o")
                            || rest.starts_with(b"y.o")
                            || rest.starts_with(b"yo") && rest.get(2).is_none_or(|&b| !word_byte(b))
                    })
        })
}

/// Some age phrase of the age pattern may lie in `w`, read from its numbers: every match holds
/// a number of one to three digits between non-word bytes, followed (after spaces or dashes) by
/// the "y" of "years", "yrs", "y/o" or "yo", or preceded (after spaces) by "age", "aged", "age
/// of", "turn…" or "when … was/were". A window with non-ASCII bytes, where `\s` and `\d` take
/// more, is asked [`age_word`] instead.
pub(super) fn age_shape(w: &[u8]) -> bool {
    if !w.is_ascii() {
        return age_word(w);
    }
    let mut i = 0;
    while i < w.len() {
        // Windows are mostly words: skip eight bytes without a digit at a time (on ASCII bytes
        // the mask marks exactly the digits).
        if let Some(&block) = w.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            let mask = digit_like_mask(u64::from_le_bytes(block));
            if mask == 0 {
                i += 8;
                continue;
            }
            i += (mask.trailing_zeros() / 8) as usize;
        }
        if !w[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < w.len() && w[i].is_ascii_digit() {
            i += 1;
        }
        if i - start <= 3 && age_around(w, 0..w.len(), start..i) {
            return true;
        }
    }
    false
}

/// What [`age_shape`] says of the ASCII window `w` of `bytes`, read from the digit runs that
/// anchor it (see [`AsciiRuns`]) instead of finding them in its bytes: the same tests around
/// each run of one to three digits, bounded by the window as `age_shape` is by its slice.
pub(super) fn age_runs(bytes: &[u8], w: &Range<usize>, runs: &[Range<usize>]) -> bool {
    runs.iter()
        .take_while(|r| r.start < w.end)
        .any(|run| run.len() <= 3 && age_around(bytes, w.clone(), run.clone()))
}

/// Whether the run of one to three digits `run` of `bytes` reads as an age inside the window
/// `w`: "y" ("yo", "years") after it, past spaces and hyphens, or "age", "aged", "of", "turn…",
/// "was" or "were" before it, past spaces.
fn age_around(bytes: &[u8], w: Range<usize>, run: Range<usize>) -> bool {
    let space = |b: u8| b.is_ascii_whitespace() || b == 0x0b;
    let at = |k: usize| bytes.get(k).copied().unwrap_or_default();
    let mut k = run.end;
    while k < w.end && (space(at(k)) || at(k) == b'-') {
        k += 1;
    }
    if k < w.end && at(k) == b'y' {
        return true;
    }
    let mut k = run.start;
    while k > w.start && space(at(k - 1)) {
        k -= 1;
    }
    let mut j = k;
    while j > w.start && word_byte(at(j - 1)) {
        j -= 1;
    }
    k < run.start
        && matches!(
            bytes.get(j..k),
            Some(
                b"age"
                    | b"aged"
                    | b"of"
                    | b"turn"
                    | b"turns"
                    | b"turned"
                    | b"turning"
                    | b"was"
                    | b"were"
            )
        )
}

/// Some room or bed phrase may lie in `w`: every match holds "bed", "room", "rm", "bay",
/// "cubicle" or "resus" at the start of a word, so "form 12" or "harm" near a number opens no
/// search.
pub(super) fn room_word(w: &[u8]) -> bool {
    memchr::memchr3_iter(b'b', b'r', b'c', w).any(|p| {
        word_at(
            w,
            p,
            &[b"bed", b"room", b"rm", b"bay", b"cubicle", b"resus"],
        )
    })
}

/// A byte of an IPv6 address as the pattern spells it.
fn hex_or_colon(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f' | b':')
}

/// Call `f` on every match of `re` in `hay`, as `re.find_iter(hay)` would yield them, for a
/// pattern whose matches hold a colon and only `[0-9a-f:]`, with `(?-u:\b)` as its only
/// assertion (the IPv6 pattern). Each match lies inside one maximal run of those bytes, so only
/// the runs with a colon are searched, in order, each from its start and with the byte after it
/// in view for the closing `\b` (a non-ASCII byte there reads as the end of the text does).
/// Long text is mostly words, and a hex letter starts a search attempt at nearly every word.
pub(super) fn find_in_colon_runs<'h>(re: &Regex, hay: &'h str, mut f: impl FnMut(Match<'h>)) {
    let bytes = hay.as_bytes();
    let mut from = 0;
    while let Some(colon) = bytes
        .get(from..)
        .and_then(|rest| memchr::memchr(b':', rest))
        .map(|k| from + k)
    {
        let mut start = colon;
        while start > from
            && start
                .checked_sub(1)
                .and_then(|k| bytes.get(k))
                .copied()
                .is_some_and(hex_or_colon)
        {
            start -= 1;
        }
        let mut end = colon + 1;
        while bytes.get(end).copied().is_some_and(hex_or_colon) {
            end += 1;
        }
        let view = if bytes.get(end).is_some_and(u8::is_ascii) {
            end + 1
        } else {
            end
        };
        if let Some(part) = hay.get(..view) {
            matches_from(re, part, start, &mut f);
        }
        from = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_words_are_months_and_pass_their_filter() {
        let months = MonthHashes::new();
        for m in MONTH_WORDS {
            assert!(is_month(m.as_bytes()), "{m}");
            assert!(
                months.may_hold(crate::model::hash_bytes(m.as_bytes())),
                "{m}"
            );
        }
        let scan = Scan::new("In May, on 4 June 2019 and dec 3");
        let found: Vec<&str> = scan
            .tokens
            .iter()
            .filter(|t| months.may_hold(t.hash))
            .map(|t| &scan.norm[t.start..t.end])
            .filter(|w| is_month(w.as_bytes()))
            .collect();
        assert_eq!(found, ["may", "june", "dec"]);
    }

    proptest::proptest! {
        /// The walk lands where `back` and `forward` land, on text with spaces, control bytes,
        /// digits and non-ASCII bytes, near both ends of the text and of its neighbours.
        #[test]
        fn walk_lands_where_back_and_forward_do(
            bytes in proptest::collection::vec(proptest::sample::select(
                b" \t\n\x0b\x0c\r\x08\x0e\x1f!09az_\x7f\x80\xa0\xc3\xff".to_vec()), 1..80),
            at in 0usize..80, len in 1usize..6, floor_back in 0usize..30, ceiling_on in 0usize..30,
            before in 0..=MAX_BEFORE, after in 0..=MAX_AFTER,
        ) {
            let start = at % bytes.len();
            let end = (start + len).min(bytes.len()).max(start + 1);
            let floor = start.saturating_sub(floor_back);
            let ceiling = end + ceiling_on;
            let mut bounds = Bounds::new();
            bounds.walk(&bytes, &(start..end), (floor, ceiling), (before, after));
            for n in 0..=before {
                proptest::prop_assert_eq!(bounds.starts[n], back(&bytes, start, n, floor), "start {}", n);
            }
            for n in 1..=after {
                let want = forward(&bytes, end - 1, n).min(ceiling.min(bytes.len()));
                proptest::prop_assert_eq!(bounds.ends[n], want, "end {}", n);
            }
        }
    }

    proptest::proptest! {
        /// A short text's facts answer as the byte tests they stand for: `digit_run`,
        /// `digit_sep_digit` and an IBAN's opening (two lower-case letters after a word
        /// boundary, then a digit-like byte); so does the phone gate read from runs.
        #[test]
        fn run_facts_answer_as_the_byte_tests_do(
            bytes in proptest::collection::vec(proptest::sample::select(
                b" /-.,_09aAzZ\x80\xc3\xa9".to_vec()), 0..90),
        ) {
            let Whole { facts, iban, line } = whole_facts(&bytes);
            for n in 1..12 {
                proptest::prop_assert_eq!(facts.longest >= n, digit_run(&bytes, n), "run {}", n);
            }
            for (sep, bit) in [(b'/', JOIN_SLASH), (b'-', JOIN_DASH), (b'.', JOIN_DOT)] {
                proptest::prop_assert_eq!(facts.joins & bit != 0, digit_sep_digit(&bytes, &[sep]), "{}", sep);
            }
            let opens = (0..bytes.len()).any(|p| {
                let at = |k: usize| bytes.get(k).copied();
                at(p).is_some_and(|b| b.is_ascii_lowercase())
                    && at(p + 1).is_some_and(|b| b.is_ascii_lowercase())
                    && at(p + 2).is_some_and(maybe_digit)
                    && (p == 0 || at(p - 1).is_some_and(|b| !word_byte(b)))
            });
            proptest::prop_assert_eq!(iban, opens);
            // Three digit-like bytes, one of ` .-`, four digit-like bytes.
            let phone = (3..bytes.len()).any(|i| {
                let run = |r: Option<&[u8]>| r.is_some_and(|r| r.iter().all(|&b| maybe_digit(b)));
                matches!(bytes[i], b' ' | b'.' | b'-') && run(bytes.get(i - 3..i)) && run(bytes.get(i + 1..i + 5))
            });
            proptest::prop_assert_eq!(exchange_and_line(&bytes), phone);
            proptest::prop_assert_eq!(line, phone);
        }
    }

    proptest::proptest! {
        /// The MBI opening test finds what a walk over every four bytes finds.
        #[test]
        fn mbi_start_agrees_with_a_walk_over_every_byte(
            bytes in proptest::collection::vec(proptest::sample::select(
                b" -019aez\x80\xc3".to_vec()), 0..80),
        ) {
            let walk = bytes.windows(4).any(|p| {
                matches!(p[0], b'1'..=b'9')
                    && p[1].is_ascii_lowercase()
                    && (p[2].is_ascii_lowercase() || p[2].is_ascii_digit())
                    && maybe_digit(p[3])
            });
            proptest::prop_assert_eq!(mbi_start(&bytes), walk);
        }
    }

    proptest::proptest! {
        /// The age gate read from a window's digit runs says what the byte test says of the
        /// window, for windows that hold their runs whole, as every window does.
        #[test]
        fn age_runs_agree_with_the_byte_test(
            bytes in proptest::collection::vec(proptest::sample::select(
                b" \t\x0b-_.,09yagedofturnswaswre".to_vec()), 0..80),
            from in 0usize..80, len in 0usize..80,
        ) {
            let mut runs = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                let start = i;
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                if i > start {
                    runs.push(start..i);
                } else {
                    i += 1;
                }
            }
            // A window neither starts nor ends inside a run.
            let whole = |mut k: usize, back: bool| {
                k = k.min(bytes.len());
                while k > 0 && k < bytes.len() && bytes[k - 1].is_ascii_digit() && bytes[k].is_ascii_digit() {
                    k = if back { k - 1 } else { k + 1 };
                }
                k
            };
            let start = whole(from, true);
            let end = whole(start + len, false);
            let first = runs.partition_point(|r| r.end <= start);
            proptest::prop_assert_eq!(
                age_runs(&bytes, &(start..end), &runs[first..]),
                age_shape(&bytes[start..end])
            );
        }
    }

    #[test]
    fn next_non_ascii_finds_the_first_high_byte() {
        let text = "plain ascii text, then é and ü";
        let first = text.find('é').unwrap_or(text.len());
        assert_eq!(next_non_ascii(text.as_bytes(), 0), first);
        assert_eq!(
            next_non_ascii(text.as_bytes(), first + 2),
            text.find('ü').unwrap_or(0)
        );
        assert_eq!(next_non_ascii(b"abc", 0), 3);
        assert_eq!(next_non_ascii(b"abc", 7), 3);
    }
}
