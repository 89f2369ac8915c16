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

/// The leftmost match at or after `at` that `at_start` finds, trying one start in each run of
/// digits: `start(d, e)` for the run `d..e`, the leftmost start of the run that can match (each
/// caller says why the others cannot).
fn leftmost(
    hay: &[u8],
    at: usize,
    start: impl Fn(usize, usize) -> usize,
    at_start: impl Fn(usize) -> Option<Groups>,
) -> Option<Groups> {
    let mut p = at;
    while let Some(d) = next_digit(hay, p) {
        let e = d + digits(hay, d, usize::MAX);
        if let Some(g) = at_start(start(d, e)) {
            return Some(g);
        }
        p = e;
    }
    None
}

/// `(\d{3})([\- ]?)(\d{2})([\- ]?)(\d{4})`: an SSN, read run by run. Within a run of digits
/// only three starts can match, in this order: the run's first digit when nine follow in a row;
/// five digits before its end, when a separator and four digits follow; and three before its
/// end, when a separator, two digits and then either four more in a row or a separator and
/// four follow. Every other start reads a non-digit where its pattern wants a digit.
pub(super) fn ssn(hay: &[u8], at: usize) -> Option<Groups> {
    let sep = |i: usize| matches!(hay.get(i), Some(b'-' | b' '));
    // The match from `a`, whose two-digit group starts at `g` and four-digit one at `s`.
    let groups = |a: usize, g: usize, s: usize| {
        Some([
            Some(a..s + 4),
            Some(a..a + 3),
            Some(a + 3..g),
            Some(g..g + 2),
            Some(g + 2..s),
            Some(s..s + 4),
        ])
    };
    let mut p = at;
    while let Some(d) = next_digit(hay, p) {
        let e = d + digits(hay, d, usize::MAX);
        if e - d >= 9 {
            return groups(d, d + 3, d + 5);
        }
        if e - d >= 5 && sep(e) && digits(hay, e + 1, 4) == 4 {
            return groups(e - 5, e - 2, e + 1);
        }
        if e - d >= 3 && sep(e) {
            match digits(hay, e + 1, 6) {
                6 => return groups(e - 3, e + 1, e + 3),
                2 if sep(e + 3) && digits(hay, e + 4, 4) == 4 => {
                    return groups(e - 3, e + 1, e + 4);
                }
                _ => {}
            }
        }
        p = e;
    }
    None
}

/// `(\d{1,4})([/.\-])(\d{1,2})([/.\-])(\d{2,4})`: a numeric date.
/// A start with five digits after it in its run fails; the last four starts of a run read the
/// same separator and what follows it, so the first of them matches if any does.
pub(super) fn num_date(hay: &[u8], at: usize) -> Option<Groups> {
    let sep = |i: usize| matches!(hay.get(i), Some(b'/' | b'.' | b'-'));
    let start = |d: usize, e: usize| d.max(e.saturating_sub(4));
    leftmost(hay, at, start, |p| {
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

/// `(\d{1,2})/(\d{1,2})`: a month/day date. As for [`num_date`], only the first of the last two
/// starts of a run can be the leftmost match.
pub(super) fn short_date(hay: &[u8], at: usize) -> Option<Groups> {
    let start = |d: usize, e: usize| d.max(e.saturating_sub(2));
    leftmost(hay, at, start, |p| {
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

/// `\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b`: an IPv4 address. Only a run's first digit
/// can have `\b` before it.
pub(super) fn ipv4(hay: &[u8], at: usize) -> Option<Groups> {
    leftmost(
        hay,
        at,
        |d, _| d,
        |p| {
            let bounded = p
                .checked_sub(1)
                .and_then(|k| hay.get(k))
                .is_none_or(|&b| !word_byte(b));
            bounded.then_some(())?;
            let mut g: Groups = Default::default();
            let mut i = p;
            for (octet, group) in g.iter_mut().enumerate().take(5).skip(1) {
                let n = digits(hay, i, 4);
                (1..=3).contains(&n).then_some(())?;
                *group = Some(i..i + n);
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
        },
    )
}

/// `\d(?:[ \-]?\d){11,18}`: a payment card number. Each repeat takes a separator only when a
/// digit follows it, so the greedy repeat runs to the 18th digit after the first or to the
/// group's end, and a start with fewer than 11 digits after it fails. A later start in the same
/// run stops where the run's first digit stops, with fewer repeats, so only that one is tried.
pub(super) fn card(hay: &[u8], at: usize) -> Option<Groups> {
    leftmost(
        hay,
        at,
        |d, _| d,
        |p| {
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
            (repeats >= 11).then_some([Some(p..end), None, None, None, None, None])
        },
    )
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

/// `\s` of a pattern with Unicode classes off: ASCII whitespace and the vertical tab.
fn space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// The number of `\s` bytes in a row from `i`.
fn spaces(hay: &[u8], i: usize) -> usize {
    hay.get(i..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&b| space(b))
        .count()
}

/// The byte at `i` is a word byte.
fn word_at(hay: &[u8], i: usize) -> bool {
    hay.get(i).copied().is_some_and(word_byte)
}

/// `(?-u:\b)` holds at `i`.
fn boundary(hay: &[u8], i: usize) -> bool {
    i.checked_sub(1).is_some_and(|k| word_at(hay, k)) != word_at(hay, i)
}

/// `hay` holds `lit` at `i`.
fn lit(hay: &[u8], i: usize, lit: &[u8]) -> bool {
    hay.get(i..).is_some_and(|rest| rest.starts_with(lit))
}

/// Where `\s*-\s*|\s+` ends when it starts at `i`. The next byte the age pattern reads after it
/// is a letter, so neither repeat gives anything back and the first branch that matches is the
/// only one that can lead on.
fn dash_or_space(hay: &[u8], i: usize) -> Option<usize> {
    let a = i + spaces(hay, i);
    if hay.get(a) == Some(&b'-') {
        return Some(a + 1 + spaces(hay, a + 1));
    }
    (a > i).then_some(a)
}

/// `\s+(\d{1,3})\b` from `i`: the span of the number.
fn spaced_number(hay: &[u8], i: usize) -> Option<Range<usize>> {
    let s = spaces(hay, i);
    let d = i + s;
    let n = digits(hay, d, 4);
    (s > 0 && (1..=3).contains(&n) && !word_at(hay, d + n)).then_some(d..d + n)
}

/// The age pattern:
/// `\b(\d{1,3})(?:\s*-\s*|\s+)(?:years?|yrs?)(?:\s*-\s*|\s+)(?:old|of age)\b`
/// `|\b(\d{1,3})\s*(?:y/o|y\.o\.|yo)\b`
/// `|\b(?:aged?|age of|turned|turning|turns?|when (?:i|he|she|they) (?:was|were))\s+(\d{1,3})\b`.
/// Every branch starts at a word start; the number branches read all the digits of a run of at
/// most three, and each optional `s` or `d` is followed by something it cannot be, so the only
/// branch points that can matter are the alternatives, tried in the pattern's order.
pub(super) fn age(hay: &[u8], at: usize) -> Option<Groups> {
    let number_first = |p: usize| -> Option<Groups> {
        let n = digits(hay, p, 4);
        (1..=3).contains(&n).then_some(())?;
        let digits_end = p + n;
        let years = dash_or_space(hay, digits_end).and_then(|i| {
            let i = if lit(hay, i, b"year") {
                i + 4
            } else if lit(hay, i, b"yr") {
                i + 2
            } else {
                return None;
            };
            let i = i + usize::from(hay.get(i) == Some(&b's'));
            let i = dash_or_space(hay, i)?;
            let end = if lit(hay, i, b"old") {
                i + 3
            } else if lit(hay, i, b"of age") {
                i + 6
            } else {
                return None;
            };
            boundary(hay, end).then_some(end)
        });
        if let Some(end) = years {
            return Some([Some(p..end), Some(p..digits_end), None, None, None, None]);
        }
        let i = digits_end + spaces(hay, digits_end);
        let end = [&b"y/o"[..], b"y.o.", b"yo"]
            .iter()
            .find(|m| lit(hay, i, m))
            .map(|m| i + m.len())
            .filter(|&e| boundary(hay, e))?;
        Some([Some(p..end), None, Some(p..digits_end), None, None, None])
    };
    let word_first = |p: usize| -> Option<Groups> {
        let mut tails: [Option<usize>; 2] = [None, None];
        if lit(hay, p, b"age") {
            tails[0] = Some(p + 3 + usize::from(hay.get(p + 3) == Some(&b'd')));
            tails[1] = lit(hay, p, b"age of").then_some(p + 6);
        } else if lit(hay, p, b"turn") {
            tails[0] = if lit(hay, p, b"turned") {
                Some(p + 6)
            } else if lit(hay, p, b"turning") {
                Some(p + 7)
            } else {
                Some(p + 4 + usize::from(hay.get(p + 4) == Some(&b's')))
            };
        } else if lit(hay, p, b"when ") {
            let i = p + 5;
            let who = [&b"i "[..], b"he ", b"she ", b"they "]
                .iter()
                .find(|w| lit(hay, i, w))
                .map(|w| i + w.len());
            tails[0] = who.and_then(|i| {
                [&b"was"[..], b"were"]
                    .iter()
                    .find(|v| lit(hay, i, v))
                    .map(|v| i + v.len())
            });
        }
        let n = tails
            .iter()
            .flatten()
            .find_map(|&t| spaced_number(hay, t))?;
        Some([Some(p..n.end), None, None, Some(n), None, None])
    };
    let from = hay.get(at..)?;
    from.iter().enumerate().find_map(|(k, &b)| {
        let p = at + k;
        if !word_byte(b) || p.checked_sub(1).is_some_and(|q| word_at(hay, q)) {
            return None;
        }
        if b.is_ascii_digit() {
            number_first(p)
        } else if matches!(b, b'a' | b't' | b'w') {
            word_first(p)
        } else {
            None
        }
    })
}

/// One of the two-letter state codes of the state-and-ZIP pattern.
fn is_state(code: &[u8]) -> bool {
    matches!(
        code,
        b"al"
            | b"ak"
            | b"az"
            | b"ar"
            | b"ca"
            | b"co"
            | b"ct"
            | b"de"
            | b"dc"
            | b"fl"
            | b"ga"
            | b"hi"
            | b"id"
            | b"il"
            | b"in"
            | b"ia"
            | b"ks"
            | b"ky"
            | b"la"
            | b"me"
            | b"md"
            | b"ma"
            | b"mi"
            | b"mn"
            | b"ms"
            | b"mo"
            | b"mt"
            | b"ne"
            | b"nv"
            | b"nh"
            | b"nj"
            | b"nm"
            | b"ny"
            | b"nc"
            | b"nd"
            | b"oh"
            | b"ok"
            | b"or"
            | b"pa"
            | b"ri"
            | b"sc"
            | b"sd"
            | b"tn"
            | b"tx"
            | b"ut"
            | b"vt"
            | b"va"
            | b"wa"
            | b"wv"
            | b"wi"
            | b"wy"
    )
}

/// The first ASCII digit at or after `from`, found eight bytes at a time.
fn next_digit(hay: &[u8], from: usize) -> Option<usize> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut i = from;
    while let Some(&block) = hay.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(block);
        let ascii = x & !HIGH;
        // Per byte b < 0x80: b + 0x50 sets the high bit when b >= b'0', b + 0x46 when b > b'9';
        // neither carries, and bytes with the high bit set are masked out.
        let digits = (ascii + 0x50 * ONES) & !(ascii + 0x46 * ONES) & !x & HIGH;
        if digits != 0 {
            return Some(i + (digits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay.get(i..)?
        .iter()
        .position(u8::is_ascii_digit)
        .map(|k| i + k)
}

/// `\b(al|ak|…|wy),? +(\d{5}(?:-\d{4})?)\b`: a state code and a ZIP code. The spaces before
/// the ZIP code tie each match to the digit run it ends with, so the runs are found first (most
/// text has few) and the code read back from each. The code is a whole two-letter word (a
/// comma or space follows it); the ZIP+4 tail is kept only where `\b` holds after it, else the
/// five digits stand alone when `\b` holds after them.
pub(super) fn state_zip(hay: &[u8], at: usize) -> Option<Groups> {
    let mut d = at;
    while let Some(i) = next_digit(hay, d) {
        d = i + digits(hay, i, usize::MAX);
        if d - i < 5 {
            continue;
        }
        let Some(c) = i.checked_sub(1).filter(|&c| hay.get(c) == Some(&b' ')) else {
            continue;
        };
        let mut code_end = c;
        while code_end > 0 && hay.get(code_end - 1) == Some(&b' ') {
            code_end -= 1;
        }
        if code_end > 0 && hay.get(code_end - 1) == Some(&b',') {
            code_end -= 1;
        }
        let Some(p) = code_end.checked_sub(2).filter(|&p| p >= at) else {
            continue;
        };
        let bounded = p.checked_sub(1).is_none_or(|q| !word_at(hay, q));
        let code = hay.get(p..code_end).unwrap_or_default();
        if !bounded || !is_state(code) {
            continue;
        }
        let five = i + 5;
        let plus4 = five + 5;
        let end = if hay.get(five) == Some(&b'-')
            && digits(hay, five + 1, 4) == 4
            && boundary(hay, plus4)
        {
            plus4
        } else if boundary(hay, five) {
            five
        } else {
            continue;
        };
        return Some([Some(p..end), Some(p..p + 2), Some(i..end), None, None, None]);
    }
    None
}

/// `\(?\d{2,5}\)?(?:[ .\-]?\d{2,8}){0,5}`: a phone number in digit groups. Nothing after a part
/// is required, so every greedy part keeps what it takes: the number reads its first group of
/// two to five digits (after an optional parenthesis), then up to five more groups of two to
/// eight, each after at most one joiner.
pub(super) fn grouped(hay: &[u8], at: usize) -> Option<Groups> {
    let from = hay.get(at..)?;
    from.iter().enumerate().find_map(|(k, &b)| {
        let p = at + k;
        let mut i = p + usize::from(b == b'(');
        let n = digits(hay, i, 5);
        if n < 2 {
            return None;
        }
        i += n;
        i += usize::from(hay.get(i) == Some(&b')'));
        for _ in 0..5 {
            let j = i + usize::from(matches!(hay.get(i), Some(b' ' | b'.' | b'-')));
            let m = digits(hay, j, 8);
            if m < 2 {
                break;
            }
            i = j + m;
        }
        Some([Some(p..i), None, None, None, None, None])
    })
}
