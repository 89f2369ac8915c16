//! Street addresses (Safe Harbor B), found on tokens rather than one big regex because real
//! addresses come in too many shapes: US "2450 Crown St Apt. 5", European "Strickstrasse 61" or
//! "64 Schaarsteinweg 97", "rue du Centre 320", P.O. and military boxes, and multi-line blocks that
//! continue with unit, city, state, country and postal-code lines.
//!
//! A core (house number and street, or a box) must be found first; the span is then extended over
//! what follows as long as it reads like the rest of an address: a unit, a postal code, or
//! capitalized place words up to the end of the line, a comma or a sentence break.

use std::cell::Cell;
use std::ops::Range;

use super::overlaps_after;
use crate::text::Scan;

/// A word list, written once: as a test (`$test`, a compare chain that the compiler turns into a
/// switch on length and a few compares) and as an array (`$all`) for [`Words`], which files its
/// words under `$bit`.
macro_rules! word_list {
    ($(#[$doc:meta])* $test:ident, $all:ident, $bit:ident: $($w:literal)|+) => {
        $(#[$doc])*
        fn $test(w: &[u8]) -> bool {
            matches!(w, $($w)|+)
        }

        const $all: List = ($bit, &[$($w),+]);
    };
}

/// A word list's bit in a [`Words`] slot, and its words.
type List = (u8, &'static [&'static [u8]]);

/// The bit of [`is_suffix`] in a [`Words`] slot.
const SUFFIX: u8 = 1;
/// The bit of [`is_box_word`].
const BOX: u8 = 2;
/// The bit of [`is_prefix_marker`].
const PREFIX: u8 = 4;
/// The bit of [`is_unit_word`].
const UNIT: u8 = 8;
/// The bit of [`is_connector`].
const CONNECTOR: u8 = 16;
/// The bit of [`is_stopword`].
const STOP: u8 = 32;
/// The bit of [`is_calendar`].
const CALENDAR: u8 = 64;

/// Which word lists a word may be in, by ten bits of its hash (the tokenizer gives every token
/// its word's hash): a word whose slot lacks a list's bit is not in that list, which one table
/// read tells for most words instead of the list's compare chain.
pub(super) struct Words([u8; 1024]);

impl Words {
    /// The filter of every word list here.
    pub(super) fn new() -> Self {
        let mut slots = [0; 1024];
        for (bit, words) in [
            SUFFIX_WORDS,
            BOX_WORDS,
            PREFIX_WORDS,
            UNIT_WORDS,
            CONNECTOR_WORDS,
            STOP_WORDS,
            CALENDAR_WORDS,
        ] {
            for w in words {
                if let Some(slot) = slots.get_mut(Self::slot(crate::model::hash_bytes(w))) {
                    *slot |= bit;
                }
            }
        }
        Words(slots)
    }

    fn slot(h: u64) -> usize {
        (h >> 54) as usize
    }

    /// The bits of the lists a word with hash `h` may be in (never short of one it is in).
    fn of(&self, h: u64) -> u8 {
        self.0.get(Self::slot(h)).copied().unwrap_or(u8::MAX)
    }
}

word_list! {
    /// Street-type words that end a US-style street name after a house number.
    is_suffix, SUFFIX_WORDS, SUFFIX:
    b"street" | b"st" | b"avenue" | b"ave" | b"av" | b"road" | b"rd" | b"boulevard" | b"blvd" |
    b"lane" | b"ln" | b"drive" | b"dr" | b"way" | b"court" | b"ct" | b"place" | b"pl" |
    b"terrace" | b"ter" | b"circle" | b"cir" | b"parkway" | b"pkwy" | b"highway" | b"hwy" |
    b"square" | b"sq" | b"trail" | b"trl" | b"crescent" | b"close" | b"row" | b"plaza" | b"alley" |
    b"path" | b"pass" | b"loop" | b"walk" | b"heights" | b"gardens" | b"grove" | b"mews" |
    b"pike" | b"turnpike" | b"route" | b"rte" | b"expressway" | b"freeway" | b"broadway"
}

word_list! {
    /// Words that open a box or ship address ("PO Box 12", "PSC 4 Box 9", "USNS Comfort FPO"),
    /// which `View::core` reads on its own terms.
    is_box_word, BOX_WORDS, BOX:
    b"po" | b"pob" | b"p" | b"psc" | b"cmr" | b"unit" | b"usns" | b"usnv" | b"uss" | b"uscgc"
}

word_list! {
    /// Words that open a street name in many languages ("rue du Centre 320", "ul. Grochowa 80").
    is_prefix_marker, PREFIX_WORDS, PREFIX:
    b"rue" | b"via" | b"viale" | b"vicolo" | b"piazza" | b"piazzetta" | b"calle" | b"avenida" |
    b"rua" | b"travessa" | b"estrada" | b"pra\xc3\xa7a" | b"praca" | b"largo" | b"ul" | b"ulica" |
    b"utca" | b"strada" | b"chaussee" | b"allee" | b"quai" | b"camino" | b"carrera" | b"paseo" |
    b"avinguda" | b"carrer" | b"rambla" | b"corso" | b"avenue" | b"boulevard" | b"paso"
}

/// Endings of street names in Germanic, Nordic and Finnish languages ("Strickstrasse", "Ringvej"),
/// by their last two bytes: a word is compared only with the endings it could have, and most
/// words end in none of them.
fn endings_in(tail: &[u8]) -> &'static [&'static [u8]] {
    match tail {
        b"se" => &[b"strasse", b"gasse"],
        b"\x9fe" => &[b"stra\xc3\x9fe"],
        b"tr" => &[b"str"],
        b"eg" => &[b"weg", b"steeg"],
        b"tz" => &[b"platz"],
        b"ee" => &[b"allee", b"tee"],
        b"mm" => &[b"damm"],
        b"er" => &[b"ufer", b"ter"],
        b"ej" => &[b"vej"],
        b"de" => &[b"gade", b"kade"],
        b"ta" => &[b"gata"],
        b"an" => &[b"gatan", b"laan", b"baan"],
        b"en" => &[b"vagen", b"veien", b"vegen"],
        b"ag" => &[b"vag"],
        b"tu" => &[b"katu"],
        b"ja" => &[b"kuja", b"utja"],
        b"ie" => &[b"tie"],
        b"at" => &[b"straat"],
        b"ht" => &[b"gracht"],
        b"in" => &[b"plein"],
        b"ef" => &[b"dreef"],
        b"et" => &[b"street"],
        b"ue" => &[b"avenue"],
        b"ad" => &[b"road"],
        b"ne" => &[b"lane"],
        b"ak" => &[b"sokak"],
        b"si" => &[b"caddesi"],
        b"ei" => &[b"vei"],
        b"kp" => &[b"rkp"],
        b"oz" => &[b"koz"],
        b"ss" => &[b"bypass"],
        _ => &[],
    }
}

word_list! {
    /// Unit designators that continue an address ("Apt. 864", "Suite 245").
    is_unit_word, UNIT_WORDS, UNIT:
    b"apt" | b"apartment" | b"suite" | b"ste" | b"unit" | b"floor" | b"fl" | b"bldg" |
    b"building" | b"flat" | b"box"
}

word_list! {
    /// Lower-case words inside street and place names ("rue du Centre", "Saint Kitts and Nevis").
    is_connector, CONNECTOR_WORDS, CONNECTOR:
    b"de" | b"du" | b"del" | b"da" | b"do" | b"das" | b"dos" | b"di" | b"la" | b"le" | b"les" |
    b"van" | b"von" | b"der" | b"den" | b"of" | b"y" | b"e" | b"and" | b"the" | b"san" | b"santa"
}

word_list! {
    /// Words that end an address when the extension reaches them, whatever their case.
    is_stopword, STOP_WORDS, STOP:
    b"for" | b"in" | b"on" | b"at" | b"to" | b"a" | b"an" | b"is" | b"are" | b"was" | b"were" |
    b"be" | b"i" | b"we" | b"you" | b"he" | b"she" | b"it" | b"they" | b"my" | b"your" | b"his" |
    b"her" | b"our" | b"their" | b"this" | b"that" | b"after" | b"before" | b"last" | b"next" |
    b"if" | b"please" | b"thanks" | b"thank" | b"with" | b"from" | b"by" | b"near" | b"since" |
    b"until" | b"when" | b"where" | b"which" | b"who" | b"so" | b"but" | b"or" | b"as" | b"then" |
    b"there" | b"here" | b"today" | b"tomorrow" | b"tonight" | b"yesterday" | b"now" | b"the" |
    b"fax" | b"office" | b"mobile" | b"phone" | b"tel" | b"email" | b"e-mail" | b"call" |
    b"website" | b"name" | b"address" | b"card" | b"it's" | b"i'm" | b"we'll" | b"i'll" | b"can" |
    b"will" | b"would" | b"could"
}

word_list! {
    /// Month and weekday names: "March 4" and "Friday 13" are dates, not streets.
    is_calendar, CALENDAR_WORDS, CALENDAR:
    b"january" | b"february" | b"march" | b"april" | b"may" | b"june" | b"july" | b"august" |
    b"september" | b"october" | b"november" | b"december" | b"jan" | b"feb" | b"mar" | b"apr" |
    b"jun" | b"jul" | b"aug" | b"sep" | b"sept" | b"oct" | b"nov" | b"dec" | b"monday" |
    b"tuesday" | b"wednesday" | b"thursday" | b"friday" | b"saturday" | b"sunday"
}

/// A word that a street name cannot run over: [`View::core`] stops its name there.
fn ends_name(w: &[u8]) -> bool {
    is_stopword(w) && !is_connector(w) || is_calendar(w) || is_unit_word(w)
}

/// The longest address, in tokens; stops runaway extension over lists of capitalized words.
const MAX_TOKENS: usize = 32;

/// Short endings match inside a longer word only for these ("Schaarsteinweg", "Ringvej"); others
/// ("ter", "tie") would match "Twitter" and "Katie", so they count only as whole words.
const SHORT_ENDINGS: &[&[u8]] = &[b"weg", b"vej", b"vei", b"vag"];

fn has_ending_marker(w: &[u8]) -> bool {
    let tail = w.get(w.len().saturating_sub(2)..).unwrap_or_default();
    endings_in(tail).iter().any(|m| {
        w == *m
            || (m.len() >= 4 || SHORT_ENDINGS.contains(m))
                && w.len() >= m.len() + 2
                && w.ends_with(m)
    })
}

/// Token facts the address finder needs, read once per candidate.
struct View<'s, 'a> {
    scan: &'s Scan<'a>,
    words: &'s Words,
    /// The message has no upper-case letters, so capitalization says nothing.
    lower_text: bool,
    claimed: &'s [Range<usize>],
    /// Where the last claim lookup ended ([`overlaps_after`]): the finder asks about
    /// tokens mostly in text order.
    claim_hint: Cell<usize>,
}

impl View<'_, '_> {
    /// The bits of the word lists token `i`'s word may be in (see [`Words`]); none past the
    /// last token, whose word is empty.
    fn kinds(&self, i: usize) -> u8 {
        self.scan.tokens.get(i).map_or(0, |t| self.words.of(t.hash))
    }

    /// Token `i`'s word ends a street name ([`ends_name`]).
    fn ends_name(&self, i: usize) -> bool {
        self.kinds(i) & (STOP | CALENDAR | UNIT) != 0 && ends_name(self.word(i))
    }

    fn word(&self, i: usize) -> &[u8] {
        self.scan
            .tokens
            .get(i)
            .and_then(|t| self.scan.norm.as_bytes().get(t.start..t.end))
            .unwrap_or_default()
    }

    /// A house number or code of at most `max_len` bytes: it opens with a digit and has at most
    /// one other byte (so no ordinal, which has two).
    fn is_number(&self, i: usize, max_len: usize) -> bool {
        let Some(t) = self.scan.tokens.get(i).filter(|t| t.shape.has_digit()) else {
            return false;
        };
        let w = self.word(i);
        // Most numbers are digits only, which the shape says without reading them.
        w.len() <= max_len
            && (t.shape.all_digit()
                || w.first().is_some_and(u8::is_ascii_digit)
                    && w.iter().filter(|b| !b.is_ascii_digit()).count() <= 1)
    }

    fn is_alpha(&self, i: usize) -> bool {
        self.scan
            .tokens
            .get(i)
            .is_some_and(|t| !t.shape.has_digit())
            || self.is_ordinal(i)
    }

    /// "40th", "1st": a street name word, not a house number.
    fn is_ordinal(&self, i: usize) -> bool {
        let w = self.word(i);
        let digits = w.iter().take_while(|b| b.is_ascii_digit()).count();
        digits > 0 && matches!(w.get(digits..), Some(b"st" | b"nd" | b"rd" | b"th"))
    }

    /// A unit designator with its number ("Apt. 864") starts at token `i`.
    fn is_unit(&self, i: usize) -> bool {
        self.kinds(i) & UNIT != 0
            && is_unit_word(self.word(i))
            && self
                .scan
                .tokens
                .get(i + 1)
                .is_some_and(|t| t.shape.has_digit())
    }

    /// What follows token `i` confirms an address: a unit, or (with `line_break`) a line break
    /// before more of it.
    fn tail_supports(&self, i: usize, line_break: bool) -> bool {
        let mut k = i + 1;
        while k < i + 4
            && self.is_alpha(k)
            && self.inline(k)
            && self.is_capitalized(k)
            && !self.is_unit(k)
        {
            k += 1;
        }
        self.is_unit(k)
            || (line_break
                && k == i + 1
                && self.gap(k).contains('\n')
                && self.scan.tokens.get(k).is_some())
    }

    fn is_capitalized(&self, i: usize) -> bool {
        self.lower_text
            || self
                .scan
                .tokens
                .get(i)
                .is_some_and(|t| t.shape.capitalized())
            || self.is_ordinal(i)
    }

    fn is_claimed(&self, i: usize) -> bool {
        self.scan
            .tokens
            .get(i)
            .is_some_and(|t| overlaps_after(self.claimed, &(t.start..t.end), &self.claim_hint))
    }

    /// The text between tokens `i - 1` and `i`.
    fn gap(&self, i: usize) -> &str {
        let (Some(a), Some(b)) = (
            i.checked_sub(1).and_then(|p| self.scan.tokens.get(p)),
            self.scan.tokens.get(i),
        ) else {
            return "";
        };
        self.scan.norm.get(a.end..b.start).unwrap_or_default()
    }

    /// Tokens `i - 1` and `i` sit on one line with only spaces (and an abbreviation dot) between.
    fn inline(&self, i: usize) -> bool {
        let (Some(a), Some(b)) = (
            i.checked_sub(1).and_then(|p| self.scan.tokens.get(p)),
            self.scan.tokens.get(i),
        ) else {
            return true;
        };
        let g = self
            .scan
            .norm
            .as_bytes()
            .get(a.end..b.start)
            .unwrap_or_default();
        // Most gaps are one space: the word before matters only for a dot.
        g == b" "
            || g.len() <= 3
                && g.iter().all(|&c| c == b' ' || c == b'\t' || c == b'.')
                && (!g.contains(&b'.') || self.is_alpha(i - 1) && self.word(i - 1).len() <= 4)
    }

    /// Token `i` is part of a bigger number or a time ("3,000", "08:32", "189/5"); `look_back`
    /// also checks what precedes it (not wanted for the second of two house numbers).
    fn in_numeric_context(&self, i: usize, look_back: bool) -> bool {
        let Some(t) = self.scan.tokens.get(i) else {
            return false;
        };
        let bytes = self.scan.norm.as_bytes();
        let before = t.start.checked_sub(1).and_then(|p| bytes.get(p)).copied();
        let after = bytes.get(t.end).copied();
        let after2 = bytes.get(t.end + 1).copied();
        look_back && matches!(before, Some(b':' | b'/' | b'#' | b'$' | b'-' | b'.' | b','))
            || matches!(after, Some(b'%' | b':' | b'/'))
            || (matches!(after, Some(b',' | b'.' | b'-'))
                && after2.is_some_and(|b| b.is_ascii_digit()))
    }

    /// Street core starting at token `i`: (first, last) token of the house number and street name.
    /// `cued` (an address cue just before) is asked only when the shape leaves it open.
    fn core(&self, i: usize, cued: impl Fn() -> bool) -> Option<(usize, usize)> {
        let w = self.word(i);
        if w == b"corner" || (w == b"the" && self.word(i + 1) == b"corner") {
            return self.corner(i);
        }
        // Box and ship cores open with a box word.
        if self.kinds(i) & BOX != 0 {
            if (w == b"po" || w == b"pob") && self.word(i + 1) == b"box" && self.is_number(i + 2, 8)
            {
                return Some((i, i + 2));
            }
            if w == b"p"
                && self.word(i + 1) == b"o"
                && self.word(i + 2) == b"box"
                && self.is_number(i + 3, 8)
            {
                return Some((i, i + 3));
            }
            if matches!(w, b"psc" | b"cmr" | b"unit")
                && self.is_number(i + 1, 6)
                && self.word(i + 2) == b"box"
                && self.is_number(i + 3, 6)
            {
                return Some((i, i + 3));
            }
            if matches!(w, b"usns" | b"usnv" | b"uss" | b"uscgc")
                && self.is_alpha(i + 1)
                && self.inline(i + 1)
            {
                let next = self.word(i + 2);
                if matches!(next, b"apo" | b"fpo" | b"dpo") {
                    return Some((i, i + 1));
                }
            }
        }
        let mut j = i;
        while j < i + 2 && self.is_number(j, 5) && (j == i || self.inline(j)) {
            j += 1;
        }
        let leading = j > i;
        if leading
            && (self.in_numeric_context(i, true)
                || (i + 1 < j && self.in_numeric_context(j - 1, false)))
        {
            return None;
        }
        let first_word = j;
        if !leading && !self.is_capitalized(i) && !self.marker_word(i, true) {
            return None;
        }
        let mut last_suffix = None;
        let mut all_caps = true;
        while j < first_word + 5 && self.is_alpha(j) && (j == i || self.inline(j)) {
            let w = self.word(j);
            let kinds = self.kinds(j);
            if kinds & (STOP | CALENDAR | UNIT) != 0 && ends_name(w) {
                break;
            }
            let connector = kinds & CONNECTOR != 0 && is_connector(w);
            if j == first_word && connector {
                break;
            }
            let connector = j > first_word && connector;
            // Lower-case text gives no capitalization evidence either way.
            let shouted = self.scan.tokens.get(j).is_some_and(|t| t.shape.all_upper());
            if !connector && (self.lower_text || shouted || !self.is_capitalized(j)) {
                all_caps = false;
            }
            if j > first_word && kinds & SUFFIX != 0 && is_suffix(w) {
                last_suffix = Some(j);
            }
            j += 1;
        }
        let words = j - first_word;
        if words == 0 || (first_word..j).any(|k| self.is_claimed(k)) {
            return None;
        }
        let trailing_number = self.is_number(j, 5) && self.inline(j);
        if !trailing_number
            && !(leading
                && (last_suffix.is_some() || self.is_unit(j) || self.is_alpha(j) || cued()))
        {
            return None;
        }
        let marker = (first_word..j).any(|k| self.marker_word(k, k == first_word));
        let first_cap = self.is_capitalized(first_word) || marker;
        if trailing_number
            && !self.is_claimed(j)
            && !self.is_decade(j)
            && !self.in_numeric_context(j, true)
        {
            let after = self
                .scan
                .norm
                .as_bytes()
                .get(self.scan.tokens.get(j).map_or(0, |t| t.end))
                .copied();
            let numeric_tail = matches!(after, Some(b':' | b'/' | b'%'));
            let supported = self.tail_supports(j, true);
            if !numeric_tail
                && first_cap
                && (leading && (all_caps || supported) || marker || cued() || supported && all_caps)
            {
                return Some((i, j));
            }
        }
        if leading && first_cap {
            if let Some(s) = last_suffix {
                return Some((i, s));
            }
            // "The restaurant is at 9816 214 Pavlou Drandaki": a cue and a title-case name are enough.
            if marker
                || self.tail_supports(j - 1, false) && (all_caps || cued())
                || cued() && all_caps
            {
                return Some((i, j - 1));
            }
        }
        None
    }

    /// "the corner of Hochstrasse 63 and Henriksen Street": two street names joined by "and".
    fn corner(&self, i: usize) -> Option<(usize, usize)> {
        let c = if self.word(i) == b"the" { i + 1 } else { i };
        if self.word(c) != b"corner" || self.word(c + 1) != b"of" {
            return None;
        }
        let and = (c + 3..c + 9).find(|&k| self.word(k) == b"and")?;
        let mut last = and;
        let mut k = and + 1;
        while k < and + 6 && self.inline(k) && !self.is_claimed(k) {
            let w = self.word(k);
            if is_stopword(w)
                || !(self.is_capitalized(k)
                    || self.scan.tokens.get(k).is_some_and(|t| t.shape.has_digit()))
            {
                break;
            }
            last = k;
            k += 1;
        }
        let named = (c + 2..=last).any(|k| {
            let w = self.word(k);
            is_suffix(w) || has_ending_marker(w) || is_prefix_marker(w) || self.is_number(k, 5)
        });
        let inline = (c + 1..=last).all(|k| self.inline(k) || self.gap(k).trim() == ",");
        (last > and && named && inline && !(c..=last).any(|k| self.is_claimed(k)))
            .then_some((i, last))
    }

    /// Extend an address past token `last` over units, postal codes and place lines.
    fn extend(&self, first: usize, mut last: usize) -> usize {
        let n = self.scan.tokens.len();
        let mut newlines_run = 0usize;
        // Capitalized words on the core's line without a comma: a town or country, not a title.
        let mut inline_words = 0usize;
        while last + 1 < n && last + 1 - first < MAX_TOKENS {
            let k = last + 1;
            // One pass over the gap reads its punctuation, line breaks, commas and dots.
            let (mut punct, mut newlines, mut commas, mut dot) = (false, 0usize, 0usize, false);
            for &c in self.gap(k).as_bytes() {
                match c {
                    b'\n' => newlines += 1,
                    b',' => commas += 1,
                    b'.' => dot = true,
                    // Sentence punctuation ends the address, except in a line prefix ("??? Suite 574").
                    b'?' | b'!' | b';' | b':' | b'@' | b'/' | b'|' | b'"' | b'[' | b']' | b'~'
                    | b'*' | b'&' | b'=' => punct |= newlines == 0,
                    _ => {}
                }
            }
            if punct || newlines > 2 || commas > 1 {
                break;
            }
            let dot_break = dot && newlines == 0 && !self.abbreviation(last) && !self.is_unit(k);
            if dot_break || self.is_claimed(k) {
                break;
            }
            newlines_run = if newlines > 0 {
                newlines_run + 1
            } else {
                newlines_run
            };
            if newlines_run > 5 {
                break;
            }
            let w = self.word(k);
            let kinds = self.kinds(k);
            if self.is_unit(k) {
                last = k + 1;
                continue;
            }
            let separated = newlines > 0 || commas > 0;
            inline_words = if separated { 0 } else { inline_words + 1 };
            if inline_words > 4 {
                break;
            }
            let min_len = if separated || !self.is_alpha(last) {
                3
            } else {
                4
            };
            if self.is_number(k, 10)
                && self
                    .scan
                    .tokens
                    .get(k)
                    .is_some_and(|t| t.end - t.start >= min_len)
            {
                last = k;
                continue;
            }
            // Second half of a split postal code ("340 12", "B0J 2H0").
            if self.is_number(k, 3)
                && newlines == 0
                && self.is_number(last, 5)
                && self.word(last).len() >= 3
            {
                last = k;
                continue;
            }
            // State and country codes ("BY", "IN", "OR") are place words even when they spell a stopword.
            let code = self
                .scan
                .tokens
                .get(k)
                .is_some_and(|t| t.shape.all_upper() && t.end - t.start == 2);
            let stopword = kinds & STOP != 0 && is_stopword(w);
            if self.is_alpha(k) && (code || !stopword) && !(kinds & CALENDAR != 0 && is_calendar(w))
            {
                let place = if self.lower_text {
                    separated || self.run_after_unit(first, last)
                } else {
                    self.is_capitalized(k)
                };
                if place {
                    last = k;
                    continue;
                }
                if kinds & CONNECTOR != 0
                    && is_connector(w)
                    && self.is_alpha(k + 1)
                    && self.inline(k + 1)
                    && !self.lower_text
                    && self.is_capitalized(k + 1)
                {
                    last = k + 1;
                    continue;
                }
            }
            // One unrecognized word between address parts ("Oeschenbach, n/a 12282") is bridged
            // when a postal code follows it.
            if self.is_alpha(k)
                && !stopword
                && !self.is_claimed(k + 1)
                && self.is_number(k + 1, 6)
                && self.word(k + 1).len() >= 3
            {
                let g = self.gap(k + 1);
                if !g
                    .bytes()
                    .any(|b| matches!(b, b'?' | b'!' | b';' | b':' | b'.'))
                    && g.len() <= 6
                {
                    last = k + 1;
                    continue;
                }
            }
            break;
        }
        last
    }

    /// In lower-case text, a unit ("apt. 335") is followed by the town on the same line.
    fn run_after_unit(&self, first: usize, last: usize) -> bool {
        (first..=last).any(|k| is_unit_word(self.word(k)))
    }

    /// Include a unit written before the street ("Apt. 630 39 Rincon 9082").
    fn unit_before(&self, first: usize) -> usize {
        match (first.checked_sub(2), first.checked_sub(1)) {
            (Some(u), _)
                if self.is_unit(u)
                    && self.inline(u + 1)
                    && self.inline(first)
                    && !self.is_claimed(u + 1) =>
            {
                u
            }
            // The core took the unit's number as a house number: "Suite 913 0547 Bygget 91".
            (_, Some(u))
                if is_unit_word(self.word(u)) && self.is_number(first, 6) && self.inline(first) =>
            {
                u
            }
            _ => first,
        }
    }

    /// Token `k` marks a street name: an opening word ("rue", when `first`) or a street-name
    /// ending. A bare "Road 2" is not enough, so suffix words alone do not count.
    fn marker_word(&self, k: usize, first: bool) -> bool {
        let w = self.word(k);
        let kinds = self.kinds(k);
        first && kinds & PREFIX != 0 && is_prefix_marker(w)
            || has_ending_marker(w) && !(kinds & SUFFIX != 0 && is_suffix(w))
    }

    /// For the first token `q` with a digit after some candidate start: whether a core that does
    /// not open with a house number or box word can end at or pass it (`q` is a short number or
    /// an ordinal), and the first token from which every gap up to `q` may be inline (at most
    /// three spaces, tabs or dots; [`View::inline`] asks more) and no word up to `q` ends a
    /// street name ([`ends_name`]). A core that opens with a street name needs all three: its
    /// name runs inline up to a number on the same line over no such word, and the first token
    /// with a digit after the name is that number, or an ordinal in the name.
    ///
    /// The first token is looked for no further back than `lowest`, the earliest start still
    /// to be tried, nor at all when `q` cannot be reached: the caller compares it only with
    /// starts from `lowest` on, and only when `q` is reachable.
    fn house(&self, q: usize, lowest: usize) -> (usize, bool, usize) {
        let reachable = self.is_ordinal(q) || self.is_number(q, 5);
        let bytes = self.scan.norm.as_bytes();
        let tokens = &self.scan.tokens;
        let mut from = q;
        let stop = if reachable {
            q.saturating_sub(5).max(lowest)
        } else {
            q
        };
        while from > stop {
            let (Some(a), Some(b)) = (tokens.get(from - 1), tokens.get(from)) else {
                break;
            };
            let gap = bytes.get(a.end..b.start).unwrap_or_default();
            if gap.len() > 3 || !gap.iter().all(|&c| matches!(c, b' ' | b'\t' | b'.')) {
                break;
            }
            if self.ends_name(from - 1) {
                break;
            }
            from -= 1;
        }
        (q, reachable, from)
    }

    /// "the 70s": a decade, not a house number.
    fn is_decade(&self, i: usize) -> bool {
        let w = self.word(i);
        w.len() >= 3 && w.ends_with(b"0s")
    }

    fn abbreviation(&self, i: usize) -> bool {
        let w = self.word(i);
        w.len() <= 4 && (is_suffix(w) || is_unit_word(w) || is_prefix_marker(w) || w == b"str")
    }
}

/// Normalized byte ranges of the street addresses in `scan`, skipping `claimed` ranges (sorted
/// and merged, see `Claims::settled`).
/// `cued_at` says whether an address cue ("address", "lives at") ends just before a position.
pub(super) fn find(
    scan: &Scan<'_>,
    words: &Words,
    claimed: &[Range<usize>],
    cued_at: impl Fn(usize) -> bool,
    out: &mut Vec<Range<usize>>,
) {
    // The scan's own ASCII flag (no byte map) picks the byte test: both tests agree on ASCII
    // text, and a text with no byte map and some token is ASCII (without tokens nothing is
    // found either way).
    let lower_text = if scan.is_ascii() {
        !scan.text.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        !scan.text.chars().any(char::is_uppercase)
    };
    let view = View {
        scan,
        words,
        lower_text,
        claimed,
        claim_hint: Cell::new(0),
    };
    let n = scan.tokens.len();
    let tokens = &scan.tokens;
    let mut i = 0;
    // Every core holds a number within its first six tokens, so only tokens with a number at
    // most five tokens ahead can start one; `next_num` walks forward with `i`.
    let mut next_num = 0;
    // Every token carries its word's hash: one compare rules out all but "corner" itself.
    let corner = crate::model::hash_bytes(b"corner");
    let is_corner =
        |k: usize| tokens.get(k).is_some_and(|t| t.hash == corner) && view.word(k) == b"corner";
    let the = crate::model::hash_bytes(b"the");
    let is_the = |k: usize| tokens.get(k).is_some_and(|t| t.hash == the) && view.word(k) == b"the";
    // The first "corner" at or after `i`, found by a walk that moves forward with `i` like
    // `next_num`, so that the tokens far from numbers are each read once.
    let mut next_corner = 0;
    // For the number token `q` at `next_num`: (q, whether a core can reach it, the first token
    // from which every gap up to `q` is inline).
    let mut house: Option<(usize, bool, usize)> = None;
    while i < n {
        next_num = next_num.max(i);
        next_num += tokens
            .get(next_num..)
            .unwrap_or_default()
            .iter()
            .position(|t| t.shape.has_digit())
            .unwrap_or(n);
        if next_num >= n {
            break;
        }
        let q = next_num;
        if q > i + 5 {
            // Far from numbers only "corner of" or "the corner of" opens a core: at the first
            // "corner" from `i`, or at a "the" just before it.
            let near = q - 5;
            if next_corner < i {
                next_corner = i;
            }
            while next_corner < near + 1 && !is_corner(next_corner) {
                next_corner += 1;
            }
            let opens = if next_corner > i && is_the(next_corner - 1) {
                next_corner - 1
            } else {
                next_corner
            };
            if opens >= near {
                i = near;
                continue;
            }
            i = opens;
        } else {
            let (_, reachable, from) = match house {
                Some(h) if h.0 == q => h,
                _ => *house.insert(view.house(q, i)),
            };
            // Without a house number at `i` or a box or ship word, a core is a street name
            // that ends at a number on its line (see `View::core`): it must reach `q` over
            // inline gaps. "The" opens only "the corner of".
            let may_open = if reachable && i >= from {
                view.word(i) != b"the" || is_corner(i + 1)
            } else {
                let w = view.word(i);
                view.kinds(i) & BOX != 0 && is_box_word(w)
                    || w == b"corner"
                    || w == b"the" && is_corner(i + 1)
            };
            if !may_open {
                i += 1;
                continue;
            }
        }
        let at = scan.tokens.get(i).map_or(0, |t| t.start);
        if let Some((first, last)) = view.core(i, || cued_at(at)) {
            let first = view.unit_before(first);
            let last = view.extend(first, last);
            let start = scan.tokens.get(first).map_or(at, |t| t.start);
            let end = scan.tokens.get(last).map_or(at, |t| t.end);
            out.push(start..end);
            i = last + 1;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every listed word passes its test and, hashed as the tokenizer hashes a token, its
    /// list's bit in the filter: the filter never turns away a word its list holds.
    #[test]
    fn the_word_filter_passes_every_listed_word() {
        let words = Words::new();
        let lists = [
            (is_suffix as fn(&[u8]) -> bool, SUFFIX_WORDS),
            (is_box_word, BOX_WORDS),
            (is_prefix_marker, PREFIX_WORDS),
            (is_unit_word, UNIT_WORDS),
            (is_connector, CONNECTOR_WORDS),
            (is_stopword, STOP_WORDS),
            (is_calendar, CALENDAR_WORDS),
        ];
        for (test, (bit, list)) in lists {
            for w in list {
                assert!(test(w), "{}", String::from_utf8_lossy(w));
                let h = crate::model::hash_bytes(w);
                assert_ne!(words.of(h) & bit, 0, "{}", String::from_utf8_lossy(w));
            }
        }
        let text = "Call 12 Main Street";
        let scan = crate::text::Scan::new(text);
        for t in &scan.tokens {
            assert_eq!(
                t.hash,
                crate::model::hash_bytes(&scan.norm.as_bytes()[t.start..t.end])
            );
        }
    }

    proptest::proptest! {
        /// A token whose shape says it is all digits is all ASCII digits in the normalized
        /// text, which [`View::is_number`] takes from the shape instead of reading its bytes.
        #[test]
        fn all_digit_tokens_are_ascii_digits(text in "([0-9]|[a-z]|[A-Z]|[ ,./'-]|\u{ff11}|\u{b2}|\u{200b}|\u{e9}|\u{661}){0,40}") {
            let scan = crate::text::Scan::new(&text);
            for t in scan.tokens.iter().filter(|t| t.shape.all_digit()) {
                let w = &scan.norm.as_bytes()[t.start..t.end];
                proptest::prop_assert!(w.iter().all(u8::is_ascii_digit), "{:?} in {:?}", w, text);
            }
        }
    }
}
