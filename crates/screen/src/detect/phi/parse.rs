//! Hand-written matchers for the number patterns whose shape is a fixed sequence of digit groups
//! and separators (SSN, numeric dates, month/day dates, IPv4). On ASCII text each finds exactly
//! the leftmost-first match that the pattern's ASCII copy finds from a given position, with the
//! same group spans, for a fraction of a regex call's cost: each regex search pays for its
//! setup and a lazy-DFA walk, and long text asks for thousands of them.
//!
//! Every group of these patterns is a greedy bounded repeat of `\d` or an optional separator,
//! and each is followed by a byte that a digit cannot be (a separator or `\b`), so backtracking
//! into a group can never help: a group matches all the digits of its run or the match fails at
//! that start. That makes each matcher a straight read from its start.

use std::ops::Range;

/// The spans of a match (index 0) and of its capture groups, as `regex::Captures` gives them;
/// the patterns here have at most five groups.
pub(super) type Groups = [Option<Range<usize>>; 6];

/// A matcher: the leftmost match in `hay` that starts at or after `at`, with its groups, as the
/// pattern's ASCII copy would find it on an ASCII `hay` (bytes before `at` are read only for
/// `\b`, as a regex search from `at` reads them).
pub(super) type Parser = fn(hay: &[u8], at: usize) -> Option<Groups>;

/// The number of ASCII digits in a row from `i`, counted up to `cap`.
fn digits(hay: &[u8], i: usize, cap: usize) -> usize {
    hay.get(i..)
        .unwrap_or_default()
        .iter()
        .take(cap)
        .take_while(|b| b.is_ascii_digit())
        .count()
}

/// A byte that `(?-u:\b)` counts as part of a word.
fn word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The leftmost start at or after `at` where `at_start` matches.
fn leftmost(hay: &[u8], at: usize, at_start: impl Fn(usize) -> Option<Groups>) -> Option<Groups> {
    let from = hay.get(at..)?;
    from.iter()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_digit())
        .find_map(|(k, _)| at_start(at + k))
}

/// `(\d{3})([\- ]?)(\d{2})([\- ]?)(\d{4})`: an SSN.
pub(super) fn ssn(hay: &[u8], at: usize) -> Option<Groups> {
    leftmost(hay, at, |p| {
        let sep = |i: usize| i + usize::from(matches!(hay.get(i), Some(b'-' | b' ')));
        (digits(hay, p, 3) == 3).then_some(())?;
        let s1 = sep(p + 3);
        (digits(hay, s1, 2) == 2).then_some(())?;
        let s2 = sep(s1 + 2);
        (digits(hay, s2, 4) == 4).then_some(())?;
        Some([
            Some(p..s2 + 4),
            Some(p..p + 3),
            Some(p + 3..s1),
            Some(s1..s1 + 2),
            Some(s1 + 2..s2),
            Some(s2..s2 + 4),
        ])
    })
}

/// `(\d{1,4})([/.\-])(\d{1,2})([/.\-])(\d{2,4})`: a numeric date.
pub(super) fn num_date(hay: &[u8], at: usize) -> Option<Groups> {
    let sep = |i: usize| matches!(hay.get(i), Some(b'/' | b'.' | b'-'));
    leftmost(hay, at, |p| {
        let a = digits(hay, p, 5);
        ((1..=4).contains(&a) && sep(p + a)).then_some(())?;
        let q = p + a + 1;
        let b = digits(hay, q, 3);
        ((1..=2).contains(&b) && sep(q + b)).then_some(())?;
        let r = q + b + 1;
        let y = digits(hay, r, 4);
        (y >= 2).then_some(())?;
        Some([
            Some(p..r + y),
            Some(p..p + a),
            Some(p + a..q),
            Some(q..q + b),
            Some(q + b..r),
            Some(r..r + y),
        ])
    })
}

/// `(\d{1,2})/(\d{1,2})`: a month/day date.
pub(super) fn short_date(hay: &[u8], at: usize) -> Option<Groups> {
    leftmost(hay, at, |p| {
        let a = digits(hay, p, 3);
        ((1..=2).contains(&a) && hay.get(p + a) == Some(&b'/')).then_some(())?;
        let q = p + a + 1;
        let b = digits(hay, q, 2);
        (b >= 1).then_some(())?;
        Some([
            Some(p..q + b),
            Some(p..p + a),
            Some(q..q + b),
            None,
            None,
            None,
        ])
    })
}

/// `\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b`: an IPv4 address.
pub(super) fn ipv4(hay: &[u8], at: usize) -> Option<Groups> {
    leftmost(hay, at, |p| {
        let bounded = p
            .checked_sub(1)
            .and_then(|k| hay.get(k))
            .is_none_or(|&b| !word_byte(b));
        bounded.then_some(())?;
        let mut g: Groups = Default::default();
        let mut i = p;
        for octet in 1..=4 {
            let n = digits(hay, i, 4);
            (1..=3).contains(&n).then_some(())?;
            g[octet] = Some(i..i + n);
            i += n;
            let next = hay.get(i).copied();
            if octet < 4 {
                (next == Some(b'.')).then_some(())?;
                i += 1;
            } else {
                next.is_none_or(|b| !word_byte(b)).then_some(())?;
            }
        }
        g[0] = Some(p..i);
        Some(g)
    })
}

/// `\d(?:[ \-]?\d){11,18}`: a payment card number. Each repeat takes a separator only when a
/// digit follows it, so the greedy repeat runs to the 18th digit after the first or to the
/// group's end, and a start with fewer than 11 digits after it fails.
pub(super) fn card(hay: &[u8], at: usize) -> Option<Groups> {
    leftmost(hay, at, |p| {
        let digit = |i: usize| hay.get(i).is_some_and(u8::is_ascii_digit);
        let (mut end, mut repeats) = (p + 1, 0);
        while repeats < 18 {
            if digit(end) {
                end += 1;
            } else if matches!(hay.get(end), Some(b' ' | b'-')) && digit(end + 1) {
                end += 2;
            } else {
                break;
            }
            repeats += 1;
        }
        (repeats >= 11).then(|| [Some(p..end), None, None, None, None, None])
    })
}

/// `\b[a-hj-npr-z0-9]{17}\b`: a VIN, which is a whole run of 17 word bytes, each a digit or a
/// lower-case letter other than i, o and q.
pub(super) fn vin(hay: &[u8], at: usize) -> Option<Groups> {
    let class =
        |b: u8| b.is_ascii_digit() || b.is_ascii_lowercase() && !matches!(b, b'i' | b'o' | b'q');
    let mut p = at;
    while p < hay.len() {
        let starts_word = hay.get(p).copied().is_some_and(word_byte)
            && p.checked_sub(1)
                .and_then(|k| hay.get(k))
                .is_none_or(|&b| !word_byte(b));
        if !starts_word {
            p += 1;
            continue;
        }
        let run = hay
            .get(p..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| word_byte(b));
        let (mut len, mut ok) = (0, true);
        for &b in run {
            ok &= class(b);
            len += 1;
        }
        if len == 17 && ok {
            return Some([Some(p..p + 17), None, None, None, None, None]);
        }
        p += len;
    }
    None
}
