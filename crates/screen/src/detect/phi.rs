//! Structured PHI identifiers (HIPAA Safe Harbor B–R): phone and fax numbers, emails, SSNs, record,
//! plan, account and licence numbers, vehicle and device ids, person URLs, IP addresses, dates,
//! ages, ZIP codes, street addresses, rooms and beds, and images in clinical context. Names and
//! places are found by `names.rs`.
//!
//! One Aho-Corasick pass over the normalized text finds health-context terms and the context cues
//! ("DOB", "MRN", "member id", "fax", …) that some identifiers need; every regex below is gated on
//! a cheap byte count (digits, `@`, `:`), so a message without digits costs one automaton pass.

mod address;
mod checks;
mod parse;
mod window;

use std::cell::Cell;
use std::ops::Range;

use regex::Regex;

use crate::ScreenError;
use crate::message::Direction;
use crate::policy::{Policy, phone_digits};
use crate::report::{Action, Category, SafeHarbor, Severity};
use crate::rules::RuleInfo;
use crate::text::Scan;

use super::{Ctx, Hit, Lexeme, Sink};
use parse::Groups;
use window::{Anchor, Reach, RunNeed, Runs, Twin, captures_each, find_each};

/// Where each number pattern's matches can lie, from the pattern's shape (see `window.rs`): the
/// most significant bytes before the first digit (`before`), one more than the most between two
/// digits or after the last one (`after`), the digits the pattern and the checks after it need,
/// and a cheap test every match passes.
const fn reach(before: usize, after: usize, min_digits: usize, need: fn(&[u8]) -> bool) -> Reach {
    Reach {
        anchor: Anchor::Digit,
        before,
        after,
        min_digits,
        need,
        runs: None,
        line: false,
        ascii_runs: None,
    }
}

/// [`reach`] whose windows are told by their runs (see [`RunNeed`]) instead of `need`: some
/// run of `longest` bytes, and unless `joined` is 0, two runs one byte apart with that byte.
const fn run_reach(
    before: usize,
    after: usize,
    min_digits: usize,
    need: fn(&[u8]) -> bool,
    (longest, joined): (usize, u8),
) -> Reach {
    Reach {
        runs: Some(RunNeed { longest, joined }),
        ..reach(before, after, min_digits, need)
    }
}
const REACH_IPV4: Reach = reach(0, 2, 4, |w| at_least(w, b'.', 3));
/// "+1 (555) 201-3344 extension 12".
const REACH_NANP: Reach = Reach {
    line: true,
    ..reach(1, 10, 10, window::exchange_and_line)
};
/// Intl and grouped phones are kept only with 6 to 15 digits.
const PHONE_DIGITS: usize = 6;
const REACH_CARD: Reach = reach(0, 2, 12, window::anything);
const REACH_SSN: Reach = run_reach(0, 2, 9, |w| window::digit_run(w, 4), (4, 0));
/// "1EG4-TE5-MK73": up to three letters and a dash between digits.
const REACH_MBI: Reach = reach(0, 4, 5, window::mbi_start);
const REACH_DEA: Reach = run_reach(2, 1, 7, |w| window::digit_run(w, 7), (7, 0));
const REACH_NPI: Reach = run_reach(0, 1, 10, |w| window::digit_run(w, 10), (10, 0));
const REACH_NUM_DATE: Reach = run_reach(
    0,
    2,
    4,
    |w| window::digit_sep_digit(w, b"/.-"),
    (1, window::JOIN_SLASH | window::JOIN_DASH | window::JOIN_DOT),
);
const REACH_SHORT_DATE: Reach = run_reach(
    0,
    2,
    2,
    |w| window::digit_sep_digit(w, b"/"),
    (1, window::JOIN_SLASH),
);
/// "when they were 45"; "45 - years - of age", "45 y/o", "45yo".
const REACH_AGE: Reach = Reach {
    ascii_runs: Some(window::age_runs),
    ..reach(12, 13, 1, window::age_shape)
};
/// "trauma exam room number 12b".
const REACH_ROOM_BED: Reach = reach(20, 2, 1, window::room_word);
const REACH_STATE_ZIP: Reach = run_reach(3, 2, 5, |w| window::digit_run(w, 5), (5, 0));
/// An IBAN starts with its two-letter country code and holds at most 35 significant bytes.
const REACH_IBAN: Reach = Reach {
    anchor: Anchor::Iban,
    before: 0,
    after: 35,
    min_digits: 1,
    need: window::anything,
    runs: None,
    line: false,
    ascii_runs: None,
};

/// Every reach searched through windows.
#[cfg(test)]
const WINDOWED: &[Reach] = &[
    REACH_IPV4,
    REACH_NANP,
    REACH_CARD,
    REACH_SSN,
    REACH_MBI,
    REACH_DEA,
    REACH_NPI,
    REACH_NUM_DATE,
    REACH_SHORT_DATE,
    REACH_AGE,
    REACH_ROOM_BED,
    REACH_STATE_ZIP,
    REACH_IBAN,
];

/// Rooms that a hospital's posts name for meetings and visitors, not patients: "Conference
/// Room 2" in a support group's invitation is no patient's room, though the post talks of health.
const PUBLIC_ROOMS: &[&str] = &[
    "activity",
    "board",
    "break",
    "class",
    "community",
    "computer",
    "conference",
    "dining",
    "family",
    "hotel",
    "lecture",
    "meeting",
    "motel",
    "multipurpose",
    "prayer",
    "quiet",
    "reading",
    "seminar",
    "training",
    "waiting",
];

/// Whether the word that ends `before` (normalized, lower-case text) names a public room.
fn public_room(before: &str) -> bool {
    let before = before.trim_end();
    let word = before
        .rsplit(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    PUBLIC_ROOMS.contains(&word)
}

/// The rule for an age of `age` years, with its explanation and suggested fix.
pub(crate) fn age_rule(age: u16) -> (&'static RuleInfo, &'static str, &'static str) {
    if age > 89 {
        (
            &AGE_OVER_89,
            "An age over 89: HIPAA Safe Harbor (C) treats ages over 89 as identifiers because so few people are that old.",
            "Write \"90 or older\" instead of the exact age.",
        )
    } else {
        (
            &AGE,
            "An age: ages of 89 and under are not Safe Harbor identifiers alone, but with other details they narrow down who the person is.",
            "Leave the age out if it is not needed.",
        )
    }
}

const fn rule(
    id: &'static str,
    severity: Severity,
    incoming: Option<Action>,
    outgoing: Option<Action>,
    summary: &'static str,
) -> RuleInfo {
    RuleInfo {
        id,
        category: Category::Phi,
        severity,
        incoming,
        outgoing,
        summary,
    }
}

const FLAG: Option<Action> = Some(Action::Flag);
const REVIEW: Option<Action> = Some(Action::Review);
const HIDE: Option<Action> = Some(Action::Hide);
const BLOCK: Option<Action> = Some(Action::Block);

const PHONE: RuleInfo = rule(
    "phi.phone",
    Severity::High,
    HIDE,
    REVIEW,
    "Telephone numbers, US/NANP and international (Safe Harbor D).",
);
const FAX: RuleInfo = rule(
    "phi.fax",
    Severity::High,
    HIDE,
    REVIEW,
    "Fax numbers: a phone-shaped number next to the word fax (Safe Harbor E).",
);
const EMAIL: RuleInfo = rule(
    "phi.email",
    Severity::High,
    HIDE,
    REVIEW,
    "Email addresses outside the organization's own domains (Safe Harbor F).",
);
const SSN: RuleInfo = rule(
    "phi.ssn",
    Severity::Critical,
    HIDE,
    BLOCK,
    "Social Security numbers in valid SSA ranges (Safe Harbor G).",
);
const MRN: RuleInfo = rule(
    "phi.mrn",
    Severity::High,
    HIDE,
    BLOCK,
    "Medical record and chart numbers (Safe Harbor H).",
);
const HEALTH_PLAN: RuleInfo = rule(
    "phi.health_plan",
    Severity::High,
    HIDE,
    BLOCK,
    "Health plan member, policy and Medicare (MBI) numbers (Safe Harbor I).",
);
const ACCOUNT: RuleInfo = rule(
    "phi.account",
    Severity::High,
    HIDE,
    BLOCK,
    "Payment cards (Luhn), IBANs (mod 97) and account numbers (Safe Harbor J).",
);
const LICENSE: RuleInfo = rule(
    "phi.license",
    Severity::High,
    HIDE,
    BLOCK,
    "Driver's licence, DEA and NPI numbers (Safe Harbor K).",
);
const VEHICLE: RuleInfo = rule(
    "phi.vehicle",
    Severity::Medium,
    HIDE,
    BLOCK,
    "VINs with a valid check digit and licence plates (Safe Harbor L).",
);
const DEVICE: RuleInfo = rule(
    "phi.device",
    Severity::Medium,
    HIDE,
    BLOCK,
    "Device serial numbers and ids, e.g. of an implant (Safe Harbor M).",
);
const URL: RuleInfo = rule(
    "phi.url",
    Severity::Medium,
    HIDE,
    REVIEW,
    "URLs that point at a person: social profiles and photo pages (Safe Harbor N).",
);
const IP: RuleInfo = rule(
    "phi.ip",
    Severity::Medium,
    HIDE,
    BLOCK,
    "IPv4 and IPv6 addresses (Safe Harbor O).",
);
const DATE: RuleInfo = rule(
    "phi.date",
    Severity::Low,
    FLAG,
    FLAG,
    "Dates more precise than a year, with no tie to a person in sight (Safe Harbor C).",
);
const PERSONAL_DATE: RuleInfo = rule(
    "phi.personal_date",
    Severity::High,
    HIDE,
    BLOCK,
    "Dates tied to a person: birth, admission, discharge, death, service (Safe Harbor C).",
);
/// Ages of 89 and under (the adverse-event patient reads these hits).
pub(crate) const AGE: RuleInfo = rule(
    "phi.age",
    Severity::Info,
    FLAG,
    FLAG,
    "Ages of 89 and under: a quasi-identifier, not a Safe Harbor identifier.",
);
/// Ages over 89.
pub(crate) const AGE_OVER_89: RuleInfo = rule(
    "phi.age_over_89",
    Severity::High,
    HIDE,
    BLOCK,
    "Ages over 89, which Safe Harbor C treats as identifiers.",
);
const ZIP: RuleInfo = rule(
    "phi.zip",
    Severity::Medium,
    HIDE,
    REVIEW,
    "ZIP and postal codes after a state or a zip/postal cue (Safe Harbor B).",
);
const ADDRESS: RuleInfo = rule(
    "phi.address",
    Severity::Medium,
    HIDE,
    REVIEW,
    "Street addresses and P.O. boxes, US and international (Safe Harbor B).",
);
const ROOM_BED: RuleInfo = rule(
    "phi.room_bed",
    Severity::High,
    HIDE,
    BLOCK,
    "Room, bed and bay numbers in a care setting (Safe Harbor R).",
);
const OTHER_ID: RuleInfo = rule(
    "phi.other_id",
    Severity::Medium,
    HIDE,
    BLOCK,
    "Patient, case, claim and similar numbers named as such (Safe Harbor R).",
);
const IMAGE_CLINICAL: RuleInfo = rule(
    "phi.image_clinical",
    Severity::High,
    REVIEW,
    REVIEW,
    "An image attached to a message about health may show a patient (Safe Harbor Q).",
);
const IMAGE_EXIF: RuleInfo = rule(
    "phi.image_exif",
    Severity::Medium,
    None,
    BLOCK,
    "An outgoing image still carries EXIF metadata: GPS, time, camera serial (Safe Harbor M/R).",
);

/// The structured-identifier PHI rules.
pub(crate) const RULES: &[RuleInfo] = &[
    PHONE,
    FAX,
    EMAIL,
    SSN,
    MRN,
    HEALTH_PLAN,
    ACCOUNT,
    LICENSE,
    VEHICLE,
    DEVICE,
    URL,
    IP,
    DATE,
    PERSONAL_DATE,
    AGE,
    AGE_OVER_89,
    ZIP,
    ADDRESS,
    ROOM_BED,
    OTHER_ID,
    IMAGE_CLINICAL,
    IMAGE_EXIF,
];

/// Clinical terms whose presence puts a message in health context.
const HEALTH_TERMS: &str = include_str!("../../lexicons/en/clinical/health_terms.txt");

/// What a context word announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    /// A phone number follows ("call", "phone:").
    Phone,
    /// A phone number precedes ("… office", "… mobile").
    PhoneAfter,
    /// A fax number follows or precedes.
    Fax,
    /// A payment card number follows.
    Card,
    Ssn,
    Mrn,
    Plan,
    Account,
    License,
    Dea,
    Npi,
    Plate,
    Device,
    OtherId,
    Zip,
    /// A date that follows belongs to a person ("DOB", "admitted on").
    PersonDate,
    /// A street address follows ("lives at", "address:").
    Address,
    /// A month or weekday name: the month-name date pattern is worth running.
    Month,
    /// An age may be near ("years old", "aged", "turned").
    Age,
    /// A room or bed may be named ("bed", "room", "bay").
    Room,
}

/// Context words, matched on whole words in the normalized text.
const CUES: &[(&str, Cue)] = &[
    ("phone", Cue::Phone),
    ("phone number", Cue::Phone),
    ("telephone", Cue::Phone),
    ("call", Cue::Phone),
    ("calling", Cue::Phone),
    ("call me", Cue::Phone),
    ("call me on", Cue::Phone),
    ("cell", Cue::Phone),
    ("text", Cue::Phone),
    ("text me", Cue::Phone),
    ("reach", Cue::Phone),
    ("reach me", Cue::Phone),
    ("contact", Cue::Phone),
    ("whatsapp", Cue::Phone),
    ("my number", Cue::Phone),
    ("number is", Cue::Phone),
    ("answering", Cue::Phone),
    ("answering at", Cue::Phone),
    ("dial", Cue::Phone),
    ("mobile", Cue::PhoneAfter),
    ("office", Cue::PhoneAfter),
    ("home", Cue::PhoneAfter),
    ("work", Cue::PhoneAfter),
    ("fax", Cue::Fax),
    ("facsimile", Cue::Fax),
    ("fax number", Cue::Fax),
    ("card", Cue::Card),
    ("card number", Cue::Card),
    ("card #", Cue::Card),
    ("credit card", Cue::Card),
    ("debit card", Cue::Card),
    ("ssn", Cue::Ssn),
    ("ss#", Cue::Ssn),
    ("social security", Cue::Ssn),
    ("social security number", Cue::Ssn),
    ("soc sec", Cue::Ssn),
    ("mrn", Cue::Mrn),
    ("medical record", Cue::Mrn),
    ("medical record number", Cue::Mrn),
    ("med rec", Cue::Mrn),
    ("chart number", Cue::Mrn),
    ("chart no", Cue::Mrn),
    ("chart", Cue::Mrn),
    ("hospital number", Cue::Mrn),
    ("member id", Cue::Plan),
    ("member number", Cue::Plan),
    ("member", Cue::Plan),
    ("policy number", Cue::Plan),
    ("policy no", Cue::Plan),
    ("policy", Cue::Plan),
    ("subscriber id", Cue::Plan),
    ("subscriber number", Cue::Plan),
    ("subscriber", Cue::Plan),
    ("group number", Cue::Plan),
    ("medicare", Cue::Plan),
    ("medicare number", Cue::Plan),
    ("medicaid", Cue::Plan),
    ("medicaid number", Cue::Plan),
    ("insurance id", Cue::Plan),
    ("insurance number", Cue::Plan),
    ("beneficiary", Cue::Plan),
    ("mbi", Cue::Plan),
    ("account", Cue::Account),
    ("account number", Cue::Account),
    ("acct", Cue::Account),
    ("bank account", Cue::Account),
    ("routing number", Cue::Account),
    ("driver's license", Cue::License),
    ("drivers license", Cue::License),
    ("driver license", Cue::License),
    ("driver's licence", Cue::License),
    ("drivers licence", Cue::License),
    ("driving licence", Cue::License),
    ("license", Cue::License),
    ("licence", Cue::License),
    ("license number", Cue::License),
    ("certificate", Cue::License),
    ("certificate number", Cue::License),
    ("dea", Cue::Dea),
    ("dea number", Cue::Dea),
    ("npi", Cue::Npi),
    ("license plate", Cue::Plate),
    ("licence plate", Cue::Plate),
    ("plate", Cue::Plate),
    ("plate number", Cue::Plate),
    ("registration plate", Cue::Plate),
    ("tag number", Cue::Plate),
    ("serial", Cue::Device),
    ("serial number", Cue::Device),
    ("serial no", Cue::Device),
    ("s/n", Cue::Device),
    ("device id", Cue::Device),
    ("imei", Cue::Device),
    ("udi", Cue::Device),
    ("patient id", Cue::OtherId),
    ("patient number", Cue::OtherId),
    ("patient no", Cue::OtherId),
    ("case", Cue::OtherId),
    ("case number", Cue::OtherId),
    ("case no", Cue::OtherId),
    ("claim", Cue::OtherId),
    ("claim number", Cue::OtherId),
    ("claim no", Cue::OtherId),
    ("claim id", Cue::OtherId),
    ("reference number", Cue::OtherId),
    ("ref no", Cue::OtherId),
    ("ref #", Cue::OtherId),
    ("encounter", Cue::OtherId),
    ("visit number", Cue::OtherId),
    ("accession number", Cue::OtherId),
    ("zip", Cue::Zip),
    ("zip code", Cue::Zip),
    ("zipcode", Cue::Zip),
    ("postal code", Cue::Zip),
    ("postcode", Cue::Zip),
    ("post code", Cue::Zip),
    ("dob", Cue::PersonDate),
    ("d.o.b", Cue::PersonDate),
    ("date of birth", Cue::PersonDate),
    ("birth date", Cue::PersonDate),
    ("birthdate", Cue::PersonDate),
    ("birthday", Cue::PersonDate),
    ("born", Cue::PersonDate),
    ("born on", Cue::PersonDate),
    ("admitted", Cue::PersonDate),
    ("admitted on", Cue::PersonDate),
    ("admission", Cue::PersonDate),
    ("admit date", Cue::PersonDate),
    ("discharged", Cue::PersonDate),
    ("discharged on", Cue::PersonDate),
    ("discharge date", Cue::PersonDate),
    ("died", Cue::PersonDate),
    ("died on", Cue::PersonDate),
    ("passed away", Cue::PersonDate),
    ("passed away on", Cue::PersonDate),
    ("date of death", Cue::PersonDate),
    ("dod", Cue::PersonDate),
    ("date of service", Cue::PersonDate),
    ("dos", Cue::PersonDate),
    ("surgery on", Cue::PersonDate),
    ("seen on", Cue::PersonDate),
    ("address", Cue::Address),
    ("address is", Cue::Address),
    ("lives at", Cue::Address),
    ("lives on", Cue::Address),
    ("live at", Cue::Address),
    ("located at", Cue::Address),
    ("sent to", Cue::Address),
    ("send to", Cue::Address),
    ("ship to", Cue::Address),
    ("deliver to", Cue::Address),
    ("moved to", Cue::Address),
    ("meet me at", Cue::Address),
    ("is at", Cue::Address),
    ("drops you off at", Cue::Address),
    ("return to", Cue::Address),
    ("jan", Cue::Month),
    ("january", Cue::Month),
    ("feb", Cue::Month),
    ("february", Cue::Month),
    ("mar", Cue::Month),
    ("march", Cue::Month),
    ("apr", Cue::Month),
    ("april", Cue::Month),
    ("may", Cue::Month),
    ("jun", Cue::Month),
    ("june", Cue::Month),
    ("jul", Cue::Month),
    ("july", Cue::Month),
    ("aug", Cue::Month),
    ("august", Cue::Month),
    ("sep", Cue::Month),
    ("sept", Cue::Month),
    ("september", Cue::Month),
    ("oct", Cue::Month),
    ("october", Cue::Month),
    ("nov", Cue::Month),
    ("november", Cue::Month),
    ("dec", Cue::Month),
    ("december", Cue::Month),
    ("old", Cue::Age),
    ("age", Cue::Age),
    ("aged", Cue::Age),
    ("turn", Cue::Age),
    ("turns", Cue::Age),
    ("turned", Cue::Age),
    ("turning", Cue::Age),
    ("y/o", Cue::Age),
    ("y.o", Cue::Age),
    ("was", Cue::Age),
    ("were", Cue::Age),
    ("bed", Cue::Room),
    ("room", Cue::Room),
    ("bay", Cue::Room),
    ("cubicle", Cue::Room),
    ("resus", Cue::Room),
];

/// What one automaton pattern means: a cue, a health-context term, or both.
#[derive(Debug, Clone, Copy)]
struct Pattern {
    cue: Option<Cue>,
    health: bool,
}

/// Cue occurrences in one message. The first `CAP` live in a fixed buffer so that a short message
/// allocates nothing; long drafts spill into `more`.
struct Cues {
    /// In text order: one left-most automaton pass yields matches with rising starts and ends,
    /// which lets the window queries below binary-search instead of scanning every cue.
    items: Vec<(Cue, usize, usize)>,
    seen: u64,
}

impl Cues {
    fn new() -> Self {
        Cues {
            items: Vec::new(),
            seen: 0,
        }
    }

    fn push(&mut self, cue: Cue, start: usize, end: usize) {
        self.items.push((cue, start, end));
        self.seen |= 1u64 << (cue as u32);
    }

    /// Some cue of this kind was seen anywhere.
    fn any(&self, kind: Cue) -> bool {
        self.seen & (1u64 << (kind as u32)) != 0
    }

    /// A cue of one of `kinds` ends at most `window` bytes before `pos`.
    fn before(&self, kinds: &[Cue], pos: usize, window: usize) -> bool {
        self.nearest_before(kinds, pos, window).is_some()
    }

    fn nearest_before(&self, kinds: &[Cue], pos: usize, window: usize) -> Option<Cue> {
        let upto = self.items.partition_point(|(_, _, end)| *end <= pos);
        self.items[..upto]
            .iter()
            .rev()
            .take_while(|(_, _, end)| pos - end <= window)
            .find(|(c, _, _)| kinds.contains(c))
            .map(|(c, _, _)| *c)
    }

    /// A cue of one of `kinds` starts at most `window` bytes after `pos`.
    fn after(&self, kinds: &[Cue], pos: usize, window: usize) -> Option<Cue> {
        let from = self.items.partition_point(|(_, start, _)| *start < pos);
        self.items[from..]
            .iter()
            .take_while(|(_, start, _)| start - pos <= window)
            .find(|(c, _, _)| kinds.contains(c))
            .map(|(c, _, _)| *c)
    }
}

/// Normalized byte ranges already reported or ruled out, merged and sorted so that overlap
/// queries are a binary search even on long text with many numbers.
#[derive(Debug, Default)]
pub(super) struct Claims {
    /// Sorted, and merged where they touch or overlap.
    ranges: Vec<Range<usize>>,
    /// The claims recorded since `ranges` was last brought up to date, kept the same way and
    /// at most [`FRESH`] long. Each pattern family claims its matches in text order, so a claim
    /// nearly always lands at the end of this short list, instead of shifting the rest of a
    /// long one at every claim as the families take turns.
    fresh: Vec<Range<usize>>,
}

/// The most claims [`Claims`] keeps apart from the settled ones.
const FRESH: usize = 64;

/// Some range of `ranges` (sorted, disjoint) shares a byte with `r`.
fn overlaps_in(ranges: &[Range<usize>], r: &Range<usize>) -> bool {
    let i = ranges.partition_point(|c| c.end <= r.start);
    ranges.get(i).is_some_and(|c| c.start < r.end)
}

/// Insert `r` into `ranges` (sorted, merged where they touch), merging it with what it touches.
fn insert_merged(ranges: &mut Vec<Range<usize>>, r: Range<usize>) {
    let lo = ranges.partition_point(|c| c.end < r.start);
    let hi = ranges.partition_point(|c| c.start <= r.end);
    match (
        ranges.get(lo),
        hi.checked_sub(1).and_then(|h| ranges.get(h)),
    ) {
        (Some(first), Some(last)) if lo < hi => {
            let merged = r.start.min(first.start)..r.end.max(last.end);
            ranges.splice(lo..hi, [merged]);
        }
        _ => ranges.insert(lo.min(ranges.len()), r),
    }
}

impl Claims {
    /// Record `r`, merging it with any claims it touches. Up to [`FRESH`] claims go straight
    /// into `ranges`, as a short message's few do.
    fn insert(&mut self, r: Range<usize>) {
        if self.fresh.is_empty() && self.ranges.len() < FRESH {
            insert_merged(&mut self.ranges, r);
            return;
        }
        let room = self.fresh.len() < FRESH;
        match self.fresh.last_mut() {
            // The last fresh claim starts at or before `r`, and every other one ends before
            // the last starts, so `r` can touch only the last.
            Some(last) if r.start >= last.start => {
                if r.start > last.end {
                    self.fresh.push(r);
                } else {
                    last.end = last.end.max(r.end);
                }
            }
            Some(_) if room => insert_merged(&mut self.fresh, r),
            Some(_) => {
                self.settle();
                self.fresh.push(r);
            }
            None => self.fresh.push(r),
        }
    }

    /// Merge the fresh claims into `ranges`.
    fn settle(&mut self) {
        if !self.fresh.is_empty() {
            self.merge_fresh();
        }
    }

    /// One sweep by start over both sorted lists, joining what touches, gives the list that
    /// inserting each claim in turn gives.
    #[inline(never)]
    fn merge_fresh(&mut self) {
        if self.ranges.is_empty() {
            std::mem::swap(&mut self.ranges, &mut self.fresh);
            return;
        }
        // Claims past every settled one (the first family's, mostly) only join the end.
        if let (Some(last), Some(first)) = (self.ranges.last(), self.fresh.first()) {
            if first.start > last.end {
                self.ranges.append(&mut self.fresh);
                return;
            }
        }
        let mut merged: Vec<Range<usize>> =
            Vec::with_capacity(self.ranges.len() + self.fresh.len());
        let (mut i, mut j) = (0, 0);
        loop {
            let r = match (self.ranges.get(i), self.fresh.get(j)) {
                (Some(x), Some(y)) if y.start < x.start => {
                    j += 1;
                    y
                }
                (Some(x), _) => {
                    i += 1;
                    x
                }
                (None, Some(y)) => {
                    j += 1;
                    y
                }
                (None, None) => break,
            };
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r.clone()),
            }
        }
        self.ranges = merged;
        self.fresh.clear();
    }

    /// Every claim, sorted and merged.
    pub(super) fn settled(&mut self) -> &[Range<usize>] {
        self.settle();
        &self.ranges
    }

    /// Some claim shares a byte with `r`.
    pub(super) fn overlaps(&self, r: &Range<usize>) -> bool {
        overlaps_in(&self.ranges, r)
            || !self.fresh.is_empty() && (overlaps_in(&self.fresh, r) || self.joined_at(r))
    }

    /// `r` is empty and one claim ends at it where one of the other list starts: the settled
    /// list would hold the two as one claim, which such an `r` lies inside.
    #[cold]
    fn joined_at(&self, r: &Range<usize>) -> bool {
        let p = r.start;
        let ends_at = |ranges: &[Range<usize>]| {
            let i = ranges.partition_point(|c| c.end < p);
            ranges.get(i).is_some_and(|c| c.end == p && c.start < p)
        };
        let starts_at = |ranges: &[Range<usize>]| {
            let i = ranges.partition_point(|c| c.start < p);
            ranges.get(i).is_some_and(|c| c.start == p && c.end > p)
        };
        r.is_empty()
            && (ends_at(&self.ranges) && starts_at(&self.fresh)
                || ends_at(&self.fresh) && starts_at(&self.ranges))
    }
}

/// [`Claims::overlaps`] on settled claims (see [`Claims::settled`]) for a caller whose ranges
/// mostly move forward: `hint` keeps, between calls, how many claims end at or before the last
/// range's start, and is walked forward from there instead of searching all claims again (a
/// range behind it searches).
pub(super) fn overlaps_after(
    ranges: &[Range<usize>],
    r: &Range<usize>,
    hint: &Cell<usize>,
) -> bool {
    let mut i = hint.get();
    let behind = i > ranges.len()
        || i.checked_sub(1)
            .and_then(|p| ranges.get(p))
            .is_some_and(|c| c.end > r.start);
    if behind {
        i = ranges.partition_point(|c| c.end <= r.start);
    } else {
        while ranges.get(i).is_some_and(|c| c.end <= r.start) {
            i += 1;
        }
    }
    hint.set(i);
    ranges.get(i).is_some_and(|c| c.start < r.end)
}

/// Collects hits and the normalized ranges already taken, so that one number is reported once
/// under its most specific rule (a card is not also a phone).
struct Out<'s, 'a, 'k> {
    scan: &'s Scan<'a>,
    sink: &'k mut Sink,
    claimed: Claims,
}

impl Out<'_, '_, '_> {
    fn free(&self, r: &Range<usize>) -> bool {
        !self.claimed.overlaps(r)
    }

    fn push(
        &mut self,
        rule: &'static RuleInfo,
        r: Range<usize>,
        harbor: Option<SafeHarbor>,
        why: &'static str,
        fix: &'static str,
    ) {
        let mut hit = Hit::new(rule, self.scan.orig(r.clone()), why).suggest(fix);
        if let Some(h) = harbor {
            hit = hit.phi(h);
        }
        self.sink.hits.push(hit);
        self.claimed.insert(r);
    }
}

/// How far after its cue an announced id can end: it starts within 24 bytes and is at most 49 long.
const ID_REACH: usize = 24 + 49;

/// Cues that may stand before a phone number ("Mobile: 737 219 628").
const PHONE_CUES: &[Cue] = &[Cue::Phone, Cue::PhoneAfter, Cue::Fax];

const FIX_CONTACT: &str = "Remove it and move the conversation to a private, secure channel.";
const FIX_NUMBER: &str = "Remove the number; never post identifiers in public.";

/// The compiled structured-PHI detector.
pub(crate) struct Detector {
    /// Cue words and health terms, searched in the shared lexicon pass ([`super::Lexicons`]).
    pub words: Vec<String>,
    /// What each of `words` is.
    patterns: Vec<Pattern>,
    org_domains: Vec<String>,
    /// The organization's published numbers, as [`phone_digits`].
    org_phones: Vec<String>,
    email: Regex,
    url: Regex,
    ipv4: Twin,
    ipv6: Regex,
    iban: Twin,
    nanp: Twin,
    intl: Twin,
    grouped: Twin,
    card: Twin,
    ssn: Twin,
    mbi: Twin,
    vin: Twin,
    dea: Twin,
    npi: Twin,
    num_date: Twin,
    short_date: Twin,
    month_date: Twin,
    /// The word hashes of month names, for the month-name date search.
    months: window::MonthHashes,
    /// The street-address finder's word-list filter.
    address_words: address::Words,
    time_after: Regex,
    id_after: Regex,
    state_zip: Twin,
    age: Twin,
    room_bed: Twin,
}

fn compile(what: &str, pattern: &str) -> Result<Regex, ScreenError> {
    compile_with(what, pattern, true)
}

fn compile_with(what: &str, pattern: &str, unicode: bool) -> Result<Regex, ScreenError> {
    regex::RegexBuilder::new(pattern)
        .unicode(unicode)
        .size_limit(1 << 22)
        .build()
        .map_err(|e| ScreenError::Compile {
            what: format!("phi {what} pattern"),
            message: e.to_string(),
        })
}

/// A number pattern and its ASCII-class copy, for the windowed searches (see [`Twin`]).
fn compile_twin(what: &str, pattern: &str) -> Result<Twin, ScreenError> {
    Ok(Twin::new(
        compile_with(what, pattern, true)?,
        compile_with(what, pattern, false)?,
    ))
}

/// A number pattern, its ASCII-class copy and the matcher that stands in for the copy.
fn compile_parsed(what: &str, pattern: &str, parse: parse::Parser) -> Result<Twin, ScreenError> {
    Ok(Twin::parsed(
        compile_with(what, pattern, true)?,
        compile_with(what, pattern, false)?,
        parse,
    ))
}

/// A windowed match and its groups, read in the normalized text they were found in.
struct Caps<'n> {
    norm: &'n str,
    groups: Groups,
}

/// One group of a [`Caps`].
struct Group<'n> {
    text: &'n str,
    range: Range<usize>,
}

impl<'n> Caps<'n> {
    /// Group `i` (0 is the whole match), if it took part in the match.
    fn get(&self, i: usize) -> Option<Group<'n>> {
        let range = self.groups.get(i)?.clone()?;
        Some(Group {
            text: self.norm.get(range.clone())?,
            range,
        })
    }
}

impl<'n> Group<'n> {
    /// The match at `range` of `norm`.
    fn of(norm: &'n str, range: Range<usize>) -> Option<Self> {
        Some(Group {
            text: norm.get(range.clone())?,
            range,
        })
    }

    fn as_str(&self) -> &'n str {
        self.text
    }

    fn range(&self) -> Range<usize> {
        self.range.clone()
    }

    fn start(&self) -> usize {
        self.range.start
    }

    fn end(&self) -> usize {
        self.range.end
    }
}

const MONTH: &str = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)";
const WEEKDAY: &str =
    r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)";

impl Detector {
    /// Compile the lexicon and patterns; organization domains exempt the org's own emails.
    pub fn new(policy: &Policy) -> Result<Self, ScreenError> {
        let mut words: Vec<String> = Vec::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut add = |w: &str, cue: Option<Cue>, health: bool| {
            if let Some(i) = words.iter().position(|x| x == w) {
                let p = &mut patterns[i];
                p.cue = p.cue.or(cue);
                p.health |= health;
            } else {
                words.push(w.to_owned());
                patterns.push(Pattern { cue, health });
            }
        };
        for (w, c) in CUES {
            add(w, Some(*c), false);
        }
        for line in HEALTH_TERMS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            // The automaton keeps the longest match, so "trauma bay" hides the cue "bay" that
            // "trauma bay 2" needs: a term ending in a cue word carries that word's cue.
            let last = line.rsplit(' ').next().unwrap_or(line);
            let cue = CUES.iter().find(|(w, _)| *w == last).map(|(_, c)| *c);
            add(line, cue, true);
        }
        let b = r"(?-u:\b)";
        Ok(Detector {
            words,
            patterns,
            org_domains: policy
                .organization
                .domains
                .iter()
                .map(|d| d.trim().trim_start_matches('@').to_lowercase())
                .collect(),
            org_phones: policy
                .organization
                .phones
                .iter()
                .map(|p| phone_digits(p))
                .collect(),
            email: compile(
                "email",
                r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,24}",
            )?,
            url: compile(
                "url",
                &format!(
                    r#"(?:https?://|www\.)[^\s<>"'()\[\]]+|{b}(?:facebook|fb|instagram|twitter|x|tiktok|linkedin|bsky|threads|reddit|pinterest|flickr|youtube)\.(?:com|app|net)/[^\s<>"'()\[\]]+"#
                ),
            )?,
            ipv4: compile_parsed(
                "ipv4",
                &format!(r"{b}(\d{{1,3}})\.(\d{{1,3}})\.(\d{{1,3}})\.(\d{{1,3}}){b}"),
                parse::ipv4,
            )?,
            ipv6: compile(
                "ipv6",
                &format!(
                    r"{b}(?:(?:[0-9a-f]{{1,4}}:){{7}}[0-9a-f]{{1,4}}|(?:[0-9a-f]{{1,4}}:){{1,6}}:(?:[0-9a-f]{{1,4}}:){{0,5}}[0-9a-f]{{1,4}}){b}"
                ),
            )?,
            iban: compile_twin(
                "iban",
                &format!(
                    r"{b}[a-z]{{2}}\d{{2}}(?: ?[a-z0-9]{{4}}){{2,7}}(?: ?[a-z0-9]{{1,3}})?{b}"
                ),
            )?,
            nanp: compile_twin(
                "phone",
                r"(?:\+?1[ .\-]?|001[ .\-]?)?(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?: ?(?:x|ext\.?|extension) ?\d{1,6})?",
            )?,
            intl: compile_twin(
                "international phone",
                r"\+\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){2,6}",
            )?,
            grouped: compile_parsed(
                "grouped phone",
                r"\(?\d{2,5}\)?(?:[ .\-]?\d{2,8}){0,5}",
                parse::grouped,
            )?,
            card: compile_parsed("card", r"\d(?:[ \-]?\d){11,18}", parse::card)?,
            ssn: compile_parsed("ssn", r"(\d{3})([\- ]?)(\d{2})([\- ]?)(\d{4})", parse::ssn)?,
            mbi: compile_twin(
                "mbi",
                &format!(
                    r"{b}[1-9][ac-hjkmnp-rt-y][ac-hjkmnp-rt-y0-9]\d-?[ac-hjkmnp-rt-y][ac-hjkmnp-rt-y0-9]\d-?[ac-hjkmnp-rt-y]{{2}}\d{{2}}{b}"
                ),
            )?,
            vin: compile_parsed("vin", &format!(r"{b}[a-hj-npr-z0-9]{{17}}{b}"), parse::vin)?,
            dea: compile_twin("dea", &format!(r"{b}[a-z][a-z9]\d{{7}}{b}"))?,
            npi: compile_twin("npi", &format!(r"{b}[12]\d{{9}}{b}"))?,
            num_date: compile_parsed(
                "numeric date",
                r"(\d{1,4})([/.\-])(\d{1,2})([/.\-])(\d{2,4})",
                parse::num_date,
            )?,
            short_date: compile_parsed(
                "month/day date",
                r"(\d{1,2})/(\d{1,2})",
                parse::short_date,
            )?,
            months: window::MonthHashes::new(),
            address_words: address::Words::new(),
            month_date: compile_twin(
                "month date",
                &format!(
                    r"{b}(?:{WEEKDAY}?(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+{MONTH}\.?(?:,?\s+(\d{{4}}))?|{WEEKDAY}?{MONTH}\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?|{MONTH}\.?,?\s+(\d{{4}})){b}"
                ),
            )?,
            time_after: compile(
                "time",
                r"^(?:t|\s+|\s*,\s*|\s+at\s+)\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?",
            )?,
            id_after: compile(
                "identifier",
                r"^[\s:#.\-]*(?:(?:numbers?|num|no|nr|ids?|code|is|was|=|#)[\s:#.\-=]*){0,3}([a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,24})",
            )?,
            state_zip: compile_parsed(
                "state and zip",
                &format!(
                    r"{b}(al|ak|az|ar|ca|co|ct|de|dc|fl|ga|hi|id|il|in|ia|ks|ky|la|me|md|ma|mi|mn|ms|mo|mt|ne|nv|nh|nj|nm|ny|nc|nd|oh|ok|or|pa|ri|sc|sd|tn|tx|ut|vt|va|wa|wv|wi|wy),? +(\d{{5}}(?:-\d{{4}})?){b}"
                ),
                parse::state_zip,
            )?,
            age: compile_parsed(
                "age",
                &format!(
                    r"{b}(\d{{1,3}})(?:\s*-\s*|\s+)(?:years?|yrs?)(?:\s*-\s*|\s+)(?:old|of age){b}|{b}(\d{{1,3}})\s*(?:y/o|y\.o\.|yo){b}|{b}(?:aged?|age of|turned|turning|turns?|when (?:i|he|she|they) (?:was|were))\s+(\d{{1,3}}){b}"
                ),
                parse::age,
            )?,
            room_bed: compile_twin(
                "room or bed",
                &format!(
                    r"{b}(?:(icu|ccu|nicu|picu|pacu|er|ward|trauma|resus|unit|floor)\s+)?(bed|room|rm|bay|cubicle|exam room|resus)\s*(?:#|no\.?|number)?\s*(\d{{1,4}}[a-z]?){b}"
                ),
            )?,
        })
    }

    /// Append hits for one message; `lexicon` holds the leftmost-longest matches of `words`.
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink, lexicon: &[Lexeme]) {
        let scan = cx.scan;
        let norm = scan.norm.as_str();
        let bytes = norm.as_bytes();
        let mut cues = Cues::new();
        let mut first_health: Option<Range<usize>> = None;
        // Cues only serve the number patterns: without a digit the pass is over at the first
        // health term, and nothing is stored on the way.
        let all_digits = count_digits(bytes);
        let numeric = all_digits > 0;
        for m in lexicon {
            let r = m.range.clone();
            if !norm.is_char_boundary(r.start)
                || !norm.is_char_boundary(r.end)
                || !scan.at_word_boundaries(r.clone())
            {
                continue;
            }
            let Some(p) = self.patterns.get(m.pattern) else {
                continue;
            };
            if p.health && first_health.is_none() {
                first_health = Some(r.clone());
                if !numeric {
                    break;
                }
            }
            if let Some(c) = p.cue.filter(|_| numeric) {
                cues.push(c, r.start, r.end);
            }
        }
        sink.health_context |= first_health.is_some();
        let health = sink.health_context;
        let mut out = Out {
            scan,
            sink,
            claimed: Claims::default(),
        };
        if may_hold_email(bytes) {
            self.emails(norm, &mut out);
        }
        if has_link_marker(bytes) {
            self.urls(norm, &mut out);
        }
        // Digits inside links (t.co ids, dated paths) say nothing about identifiers, so they do not
        // count towards the gates that decide which number patterns run.
        let claimed_digits: usize = out
            .claimed
            .settled()
            .iter()
            .map(|r| bytes.get(r.clone()).map_or(0, count_digits))
            .sum();
        let digits = all_digits.saturating_sub(claimed_digits);
        if digits > 0 {
            self.numbers(norm, digits, &cues, health, &mut out);
        }
        self.images(cx, first_health, &mut out);
    }

    fn emails(&self, norm: &str, out: &mut Out<'_, '_, '_>) {
        for m in self.email.find_iter(norm) {
            let domain = m.as_str().rsplit('@').next().unwrap_or_default();
            let own = self.org_domains.iter().any(|d| {
                domain == d
                    || domain
                        .strip_suffix(d.as_str())
                        .is_some_and(|p| p.ends_with('.'))
            });
            if !own {
                out.push(&EMAIL, m.range(), Some(SafeHarbor::F), "An email address: email addresses are HIPAA identifiers (Safe Harbor F) and usually name the person outright.", FIX_CONTACT);
            }
        }
    }

    fn urls(&self, norm: &str, out: &mut Out<'_, '_, '_>) {
        for m in self.url.find_iter(norm) {
            let url = m.as_str().trim_end_matches(['.', ',', '!', '?', ';', ':']);
            if !out.free(&m.range()) {
                continue;
            }
            if !points_at_person(url) {
                // Dates and numbers inside a link's path are not about a person.
                out.claimed.insert(m.range());
                continue;
            }
            let r = m.start()..m.start() + url.len();
            out.push(&URL, r, Some(SafeHarbor::N), "A link to a personal profile or photo: URLs that point at a person are HIPAA identifiers (Safe Harbor N).", "Remove the link to the person's profile or photo.");
        }
    }

    fn numbers(
        &self,
        norm: &str,
        digits: usize,
        cues: &Cues,
        health: bool,
        out: &mut Out<'_, '_, '_>,
    ) {
        let bytes = norm.as_bytes();
        let runs = Runs::new(norm, || self.reaches(bytes, digits, cues));
        if digits >= 4 {
            self.ips(norm, &runs, out);
        }
        if digits >= 7 {
            find_each(&self.nanp, norm, &runs, REACH_NANP, |r| {
                let Some(m) = Group::of(norm, r) else { return };
                if digit_bounded(bytes, m.range()) {
                    self.phone(m.range(), cues, out);
                }
            });
        }
        if digits >= 8 {
            self.ibans(norm, &runs, out);
        }
        if digits >= 12 {
            self.cards(norm, &runs, cues, out);
        }
        if digits >= 9 {
            self.ssns(norm, &runs, cues, out);
        }
        // MBI, VIN and DEA numbers mix letters and digits in one token.
        if digits >= 4
            && out
                .scan
                .tokens
                .iter()
                .any(|t| t.shape.has_digit() && !t.shape.all_digit() && out.free(&(t.start..t.end)))
        {
            self.codes(norm, &runs, cues, out);
        }
        if digits >= 10 && cues.any(Cue::Npi) {
            self.npis(norm, &runs, cues, out);
        }
        self.dates(norm, &runs, digits, cues, out);
        // Named ids first: "MRN 12345678" after "call home." is a record number, not a phone.
        self.ids_after_cues(norm, cues, out);
        if digits >= 6 {
            // Without a phone cue a number is kept only when it opens with "+", "0" or "(": a
            // message with none of those and no cue cannot yield a phone here.
            let cue_or_lead = PHONE_CUES.iter().any(|&c| cues.any(c))
                || memchr::memchr3(b'+', b'0', b'(', bytes).is_some();
            // (pattern, whether its matches start with "+")
            let searches: &[(&Twin, bool)] = &[(&self.intl, true), (&self.grouped, false)];
            if cue_or_lead {
                window::find_in_groups(searches, norm, &runs, PHONE_DIGITS, |_, m| {
                    let r = trim_parens(bytes, m);
                    let n = bytes
                        .get(r.clone())
                        .map_or(0, |s| s.iter().filter(|b| b.is_ascii_digit()).count());
                    if !(6..=15).contains(&n) || !digit_bounded(bytes, r.clone()) || !out.free(&r) {
                        return;
                    }
                    let lead = bytes.get(r.start).copied();
                    let strong =
                        lead == Some(b'+') || (matches!(lead, Some(b'0' | b'(')) && n >= 8);
                    let cued = cues.before(PHONE_CUES, r.start, 40)
                        || cues.after(&[Cue::PhoneAfter, Cue::Fax], r.end, 3).is_some();
                    if (strong && n >= 7) || cued {
                        self.phone(r, cues, out);
                    }
                });
            }
        }
        let mut found = Vec::new();
        address::find(
            out.scan,
            &self.address_words,
            out.claimed.settled(),
            |pos| cues.before(&[Cue::Address], pos, 24),
            &mut found,
        );
        for r in found {
            out.push(&ADDRESS, r, Some(SafeHarbor::B), "A street address: addresses are HIPAA identifiers (Safe Harbor B) and say where the person lives or can be found.", "Remove the street address; a city or state is enough.");
        }
        if digits >= 5 {
            self.state_zips(norm, &runs, out);
        }
        if cues.any(Cue::Age) {
            self.ages(norm, &runs, out);
        }
        if cues.any(Cue::Room) {
            self.rooms(norm, &runs, health, out);
        }
    }

    /// The reaches whose searches the gates in [`Detector::numbers`] may run, each at most
    /// once: their windows are found together, in one walk per run, and a window shape no
    /// search asks for is not built. A reach left out would be searched whole, so each gate
    /// here lets through at least what the search's own gate does.
    fn reaches(&self, bytes: &[u8], digits: usize, cues: &Cues) -> Vec<Reach> {
        let separated = memchr::memchr3(b'/', b'-', b'.', bytes).is_some();
        [
            (REACH_IPV4, digits >= 4 && at_least(bytes, b'.', 3)),
            (REACH_NANP, digits >= 7),
            (REACH_IBAN, digits >= 8),
            (REACH_CARD, digits >= 12),
            (REACH_SSN, digits >= 9),
            (REACH_MBI, digits >= 4),
            (REACH_DEA, digits >= 4),
            (REACH_NPI, digits >= 10 && cues.any(Cue::Npi)),
            (REACH_NUM_DATE, digits >= 3 && separated),
            (REACH_SHORT_DATE, cues.any(Cue::PersonDate)),
            (REACH_STATE_ZIP, digits >= 5),
            (REACH_AGE, cues.any(Cue::Age)),
            (REACH_ROOM_BED, cues.any(Cue::Room)),
        ]
        .into_iter()
        .filter_map(|(r, wanted)| wanted.then_some(r))
        .collect()
    }

    fn phone(&self, r: Range<usize>, cues: &Cues, out: &mut Out<'_, '_, '_>) {
        if !out.free(&r) {
            return;
        }
        if !self.org_phones.is_empty()
            && self
                .org_phones
                .contains(&phone_digits(out.scan.norm.get(r.clone()).unwrap_or("")))
        {
            return;
        }
        let label = cues
            .after(&[Cue::PhoneAfter, Cue::Fax], r.end, 3)
            .or_else(|| cues.nearest_before(PHONE_CUES, r.start, 25));
        if label == Some(Cue::Fax) {
            out.push(&FAX, r, Some(SafeHarbor::E), "A fax number (the word \"fax\" is next to it): fax numbers are HIPAA identifiers (Safe Harbor E).", FIX_CONTACT);
        } else {
            out.push(&PHONE, r, Some(SafeHarbor::D), "A telephone number: phone numbers are HIPAA identifiers (Safe Harbor D) and let anyone call or look up the person.", FIX_CONTACT);
        }
    }

    fn ips(&self, norm: &str, runs: &Runs, out: &mut Out<'_, '_, '_>) {
        let bytes = norm.as_bytes();
        if at_least(bytes, b'.', 3) {
            captures_each(&self.ipv4, norm, runs, REACH_IPV4, |groups| {
                let c = Caps { norm, groups };
                let Some(m) = c.get(0) else { return };
                let octets_ok = (1..=4).all(|i| {
                    c.get(i)
                        .and_then(|g| g.as_str().parse::<u16>().ok())
                        .is_some_and(|v| v <= 255)
                });
                if octets_ok && digit_bounded(bytes, m.range()) {
                    out.push(&IP, m.range(), Some(SafeHarbor::O), "An IPv4 address: IP addresses are HIPAA identifiers (Safe Harbor O) and can locate the person's device.", FIX_NUMBER);
                }
            });
        }
        if at_least(bytes, b':', 2) {
            window::find_in_colon_runs(&self.ipv6, norm, |m| {
                if m.as_str().bytes().filter(u8::is_ascii_digit).count() >= 2
                    && out.free(&m.range())
                {
                    out.push(&IP, m.range(), Some(SafeHarbor::O), "An IPv6 address: IP addresses are HIPAA identifiers (Safe Harbor O) and can locate the person's device.", FIX_NUMBER);
                }
            });
        }
    }

    fn ibans(&self, norm: &str, runs: &Runs, out: &mut Out<'_, '_, '_>) {
        find_each(&self.iban, norm, runs, REACH_IBAN, |r| {
            let Some(m) = Group::of(norm, r) else { return };
            // The optional tail group can swallow a short next word ("… 32 for"): drop trailing
            // chunks until the checksum holds.
            let mut s = m.as_str();
            loop {
                let compact: Vec<u8> = s.bytes().filter(|b| *b != b' ').collect();
                if checks::iban(&compact) {
                    let r = m.start()..m.start() + s.len();
                    if out.free(&r) {
                        out.push(&ACCOUNT, r, Some(SafeHarbor::J), "An IBAN bank account number with a valid mod-97 checksum: account numbers are HIPAA identifiers (Safe Harbor J).", FIX_NUMBER);
                    }
                    break;
                }
                match s.rfind(' ') {
                    Some(i) if i >= 15 => s = &s[..i],
                    _ => break,
                }
            }
        });
    }

    fn cards(&self, norm: &str, runs: &Runs, cues: &Cues, out: &mut Out<'_, '_, '_>) {
        let bytes = norm.as_bytes();
        find_each(&self.card, norm, runs, REACH_CARD, |r| {
            let Some(m) = Group::of(norm, r) else { return };
            // A match holds at most 19 digits, gathered on the stack; more could not pass the
            // length test below.
            let mut held = [0u8; 19];
            let mut n = 0;
            for d in m.as_str().bytes().filter(u8::is_ascii_digit) {
                if let Some(slot) = held.get_mut(n) {
                    *slot = d;
                }
                n += 1;
            }
            let Some(ds) = held.get(..n) else { return };
            let issuer = matches!(ds.first(), Some(b'2'..=b'6')) || ds.starts_with(b"1800");
            let varied = ds.iter().any(|d| Some(d) != ds.first());
            // 12-digit Maestro cards look like any long number: only with "card" just before.
            // IMEIs and other serials use Luhn too: after "IMEI" or "serial" it is a device id.
            if cues.before(&[Cue::Device], m.start(), 12) {
                return;
            }
            let long_enough =
                ds.len() >= 13 || (ds.len() == 12 && cues.before(&[Cue::Card], m.start(), 24));
            if long_enough
                && ds.len() <= 19
                && (issuer || ds.len() == 12)
                && varied
                && checks::luhn(ds)
                && digit_bounded(bytes, m.range())
                && out.free(&m.range())
            {
                out.push(&ACCOUNT, m.range(), Some(SafeHarbor::J), "A payment card number that passes the Luhn check: account numbers are HIPAA identifiers (Safe Harbor J) and a fraud risk.", FIX_NUMBER);
            }
        });
    }

    fn ssns(&self, norm: &str, runs: &Runs, cues: &Cues, out: &mut Out<'_, '_, '_>) {
        let bytes = norm.as_bytes();
        captures_each(&self.ssn, norm, runs, REACH_SSN, |groups| {
            let c = Caps { norm, groups };
            let (Some(m), Some(a), Some(s1), Some(g), Some(s2), Some(s)) =
                (c.get(0), c.get(1), c.get(2), c.get(3), c.get(4), c.get(5))
            else {
                return;
            };
            if s1.as_str() != s2.as_str()
                || !digit_bounded(bytes, m.range())
                || !checks::ssn(
                    a.as_str().as_bytes(),
                    g.as_str().as_bytes(),
                    s.as_str().as_bytes(),
                )
            {
                return;
            }
            let dashed = s1.as_str() == "-";
            if (dashed || cues.before(&[Cue::Ssn], m.start(), 30)) && out.free(&m.range()) {
                out.push(&SSN, m.range(), Some(SafeHarbor::G), "A Social Security number in a valid SSA range: SSNs are HIPAA identifiers (Safe Harbor G) and enable identity theft.", FIX_NUMBER);
            }
        });
    }

    /// Identifiers recognizable by their own shape and check digits: MBI, VIN, DEA.
    fn codes(&self, norm: &str, runs: &Runs, cues: &Cues, out: &mut Out<'_, '_, '_>) {
        find_each(&self.mbi, norm, runs, REACH_MBI, |r| {
            let Some(m) = Group::of(norm, r) else { return };
            if out.free(&m.range()) {
                out.push(&HEALTH_PLAN, m.range(), Some(SafeHarbor::I), "A Medicare Beneficiary Identifier (MBI format): health plan numbers are HIPAA identifiers (Safe Harbor I).", FIX_NUMBER);
            }
        });
        if norm.len() >= 17 {
            let scan = out.scan;
            window::find_in_tokens(&self.vin, scan, 17, |r| {
                let Some(m) = Group::of(norm, r) else { return };
                let s = m.as_str().as_bytes();
                let ds = s.iter().filter(|b| b.is_ascii_digit()).count();
                if (5..17).contains(&ds) && checks::vin(s) && out.free(&m.range()) {
                    out.push(&VEHICLE, m.range(), Some(SafeHarbor::L), "A vehicle identification number with a valid check digit: vehicle identifiers are HIPAA identifiers (Safe Harbor L).", FIX_NUMBER);
                }
            });
        }
        find_each(&self.dea, norm, runs, REACH_DEA, |r| {
            let Some(m) = Group::of(norm, r) else { return };
            let upper = out
                .scan
                .orig_text(m.start()..m.start() + 1)
                .bytes()
                .all(|b| b.is_ascii_uppercase());
            if checks::dea(m.as_str().as_bytes())
                && (upper || cues.before(&[Cue::Dea], m.start(), 20))
                && out.free(&m.range())
            {
                out.push(&LICENSE, m.range(), Some(SafeHarbor::K), "A DEA registration number with a valid checksum: licence numbers are HIPAA identifiers (Safe Harbor K).", FIX_NUMBER);
            }
        });
    }

    /// NPIs are ten plain digits, so they are only looked for after "NPI".
    fn npis(&self, norm: &str, runs: &Runs, cues: &Cues, out: &mut Out<'_, '_, '_>) {
        find_each(&self.npi, norm, runs, REACH_NPI, |r| {
            let Some(m) = Group::of(norm, r) else { return };
            if cues.before(&[Cue::Npi], m.start(), 20)
                && checks::npi(m.as_str().as_bytes())
                && out.free(&m.range())
            {
                out.push(&LICENSE, m.range(), Some(SafeHarbor::K), "A National Provider Identifier with a valid check digit: licence numbers are HIPAA identifiers (Safe Harbor K).", FIX_NUMBER);
            }
        });
    }

    fn dates(
        &self,
        norm: &str,
        runs: &Runs,
        digits: usize,
        cues: &Cues,
        out: &mut Out<'_, '_, '_>,
    ) {
        let bytes = norm.as_bytes();
        let numeric = digits >= 3 && (memchr::memchr3(b'/', b'-', b'.', bytes).is_some());
        if numeric {
            captures_each(&self.num_date, norm, runs, REACH_NUM_DATE, |groups| {
                let c = Caps { norm, groups };
                let (Some(m), Some(a), Some(s1), Some(b), Some(s2), Some(y)) =
                    (c.get(0), c.get(1), c.get(2), c.get(3), c.get(4), c.get(5))
                else {
                    return;
                };
                if s1.as_str() != s2.as_str()
                    || !digit_bounded(bytes, m.range())
                    || !valid_numeric_date(a.as_str(), b.as_str(), y.as_str())
                {
                    return;
                }
                self.date(norm, m.range(), cues, out);
            });
        }
        // "discharged on 5/12": without a year, m/d is a date only right after a person-date cue.
        if numeric && cues.any(Cue::PersonDate) {
            captures_each(&self.short_date, norm, runs, REACH_SHORT_DATE, |groups| {
                let c = Caps { norm, groups };
                let (Some(m), Some(a), Some(b)) = (c.get(0), c.get(1), c.get(2)) else {
                    return;
                };
                let (Ok(mo), Ok(d)) = (a.as_str().parse::<u8>(), b.as_str().parse::<u8>()) else {
                    return;
                };
                if (1..=12).contains(&mo)
                    && (1..=31).contains(&d)
                    && digit_bounded(bytes, m.range())
                    && cues.before(&[Cue::PersonDate], m.start(), 24)
                {
                    self.date(norm, m.range(), cues, out);
                }
            });
        }
        if !cues.any(Cue::Month) {
            return;
        }
        let scan = out.scan;
        window::month_captures_each(&self.month_date, &self.months, scan, |groups| {
            let c = Caps { norm, groups };
            let Some(m) = c.get(0) else { return };
            let day_ok = [1, 3].iter().filter_map(|&i| c.get(i)).all(|d| {
                d.as_str()
                    .parse::<u8>()
                    .is_ok_and(|v| (1..=31).contains(&v))
            });
            let year_ok = [2, 4, 5].iter().filter_map(|&i| c.get(i)).all(|y| {
                y.as_str()
                    .parse::<u16>()
                    .is_ok_and(|v| (1800..=2199).contains(&v))
            });
            if day_ok
                && year_ok
                && bytes
                    .get(m.end())
                    .is_none_or(|b| !b.is_ascii_digit() && *b != b':')
            {
                self.date(norm, m.range(), cues, out);
            }
        });
    }

    fn date(&self, norm: &str, mut r: Range<usize>, cues: &Cues, out: &mut Out<'_, '_, '_>) {
        if let Some(t) = norm
            .get(r.end..)
            .and_then(|rest| self.time_after.find(rest))
        {
            r.end += t.end();
        }
        if !out.free(&r) {
            return;
        }
        if cues.before(&[Cue::PersonDate], r.start, 48) {
            out.push(&PERSONAL_DATE, r, Some(SafeHarbor::C), "A date tied to a person (birth, admission, discharge, death or service): such dates are HIPAA identifiers (Safe Harbor C).", "Remove the date, or keep only the year.");
        } else {
            out.push(&DATE, r, Some(SafeHarbor::C), "A date more precise than a year: dates related to a person are HIPAA identifiers (Safe Harbor C), so check whose date this is.", "If this is a patient's date, remove it or keep only the year.");
        }
    }

    /// Identifiers announced by a cue: "MRN 12345678", "member id: XJH123456", "serial PJN123456".
    fn ids_after_cues(&self, norm: &str, cues: &Cues, out: &mut Out<'_, '_, '_>) {
        for &(cue, _, end) in &cues.items {
            let (rule, harbor, min_digits, why): (&'static RuleInfo, SafeHarbor, usize, &str) =
                match cue {
                    Cue::Mrn => (
                        &MRN,
                        SafeHarbor::H,
                        4,
                        "A medical record number: MRNs are HIPAA identifiers (Safe Harbor H) that lead straight to a patient's chart.",
                    ),
                    Cue::Plan => (
                        &HEALTH_PLAN,
                        SafeHarbor::I,
                        4,
                        "A health plan member or policy number: beneficiary numbers are HIPAA identifiers (Safe Harbor I).",
                    ),
                    Cue::Account => (
                        &ACCOUNT,
                        SafeHarbor::J,
                        4,
                        "An account number: account numbers are HIPAA identifiers (Safe Harbor J).",
                    ),
                    Cue::License => (
                        &LICENSE,
                        SafeHarbor::K,
                        4,
                        "A driver's licence or certificate number: licence numbers are HIPAA identifiers (Safe Harbor K).",
                    ),
                    Cue::Plate => (
                        &VEHICLE,
                        SafeHarbor::L,
                        1,
                        "A licence plate: vehicle identifiers are HIPAA identifiers (Safe Harbor L).",
                    ),
                    Cue::Device => (
                        &DEVICE,
                        SafeHarbor::M,
                        3,
                        "A device serial number or id: device identifiers are HIPAA identifiers (Safe Harbor M) and trace back to the patient who has the device.",
                    ),
                    Cue::OtherId => (
                        &OTHER_ID,
                        SafeHarbor::R,
                        3,
                        "A patient, case or claim number: unique identifying numbers are HIPAA identifiers (Safe Harbor R).",
                    ),
                    Cue::Zip => (
                        &ZIP,
                        SafeHarbor::B,
                        3,
                        "A ZIP or postal code: geographic units smaller than a state are HIPAA identifiers (Safe Harbor B).",
                    ),
                    _ => continue,
                };
            // Every kind of id needs a digit, and it ends within `ID_REACH` bytes of its cue.
            let Some(rest) = norm.get(end..).filter(|rest| {
                rest.as_bytes()
                    .iter()
                    .take(ID_REACH)
                    .any(u8::is_ascii_digit)
            }) else {
                continue;
            };
            let Some(c) = self.id_after.captures(rest) else {
                continue;
            };
            let Some(id) = c.get(1) else { continue };
            let r = end + id.start()..end + id.end();
            let ds = id.as_str().bytes().filter(u8::is_ascii_digit).count();
            // Four bare digits after "chart" or "case" are more often a year or a count than an id.
            let fits = match cue {
                Cue::Plate => (2..=8).contains(&id.len()),
                Cue::Zip => id.len() <= 10,
                Cue::License => true,
                _ => ds < id.len() || id.len() >= 5,
            };
            if ds >= min_digits && fits && id.start() <= 24 && out.free(&r) {
                out.push(rule, r, Some(harbor), why, FIX_NUMBER);
            }
        }
    }

    fn state_zips(&self, norm: &str, runs: &Runs, out: &mut Out<'_, '_, '_>) {
        captures_each(&self.state_zip, norm, runs, REACH_STATE_ZIP, |groups| {
            let c = Caps { norm, groups };
            let (Some(state), Some(zip)) = (c.get(1), c.get(2)) else {
                return;
            };
            let upper = out
                .scan
                .orig_text(state.range())
                .bytes()
                .all(|b| b.is_ascii_uppercase());
            if upper && out.free(&zip.range()) {
                out.push(&ZIP, zip.range(), Some(SafeHarbor::B), "A ZIP code after a state: geographic units smaller than a state are HIPAA identifiers (Safe Harbor B).", "Remove the ZIP code; the state alone is not an identifier.");
            }
        });
    }

    fn ages(&self, norm: &str, runs: &Runs, out: &mut Out<'_, '_, '_>) {
        captures_each(&self.age, norm, runs, REACH_AGE, |groups| {
            let c = Caps { norm, groups };
            let Some(n) = (1..=3).find_map(|i| c.get(i)) else {
                return;
            };
            let Ok(age) = n.as_str().parse::<u16>() else {
                return;
            };
            if !(1..=125).contains(&age) || !out.free(&n.range()) {
                return;
            }
            let (rule, why, fix) = age_rule(age);
            out.push(rule, n.range(), Some(SafeHarbor::C), why, fix);
        });
    }

    fn rooms(&self, norm: &str, runs: &Runs, health: bool, out: &mut Out<'_, '_, '_>) {
        let bytes = norm.as_bytes();
        captures_each(&self.room_bed, norm, runs, REACH_ROOM_BED, |groups| {
            let c = Caps { norm, groups };
            let (Some(m), Some(kind)) = (c.get(0), c.get(2)) else {
                return;
            };
            let unit = c.get(1).is_some();
            // "3 bed 2 bath" is a flat listing, not a hospital bed.
            let listing = norm
                .get(..m.start())
                .and_then(|s| s.trim_end().bytes().next_back())
                .is_some_and(|b| b.is_ascii_digit());
            let clinical = match kind.as_str() {
                // A resuscitation bay is in an emergency department wherever it is named.
                "bed" | "cubicle" | "resus" => true,
                _ => unit || health && !public_room(norm.get(..m.start()).unwrap_or("")),
            };
            if clinical
                && !listing
                && bytes.get(m.end()).is_none_or(|b| *b != b'/' && *b != b':')
                && out.free(&m.range())
            {
                out.push(&ROOM_BED, m.range(), Some(SafeHarbor::R), "A room or bed number in a care setting: it points to one patient (HIPAA identifier, Safe Harbor R).", "Remove the room or bed number.");
            }
        });
    }

    fn images(
        &self,
        cx: &Ctx<'_, '_>,
        first_health: Option<Range<usize>>,
        out: &mut Out<'_, '_, '_>,
    ) {
        let att = &cx.msg.attachments;
        if att.has_image {
            if let Some(r) = first_health {
                let hit = Hit::new(&IMAGE_CLINICAL, out.scan.orig(r), "An image is attached to a message about health: a photo in a clinical setting may show a patient (HIPAA Safe Harbor Q).")
                    .suggest("Check that no patient, chart or screen is recognizable and that you hold written consent.");
                out.sink.hits.push(hit);
            }
        }
        if att.exif_present && cx.msg.direction == Direction::Outgoing {
            if let Some(t) = out.scan.tokens.first() {
                let hit = Hit::new(&IMAGE_EXIF, out.scan.orig(t.start..t.end), "The attached image still carries EXIF metadata, which can hold the GPS location, the time and the camera's serial number.")
                    .suggest("Strip the image metadata before publishing.");
                out.sink.hits.push(hit);
            }
        }
    }
}

/// The number of ASCII digits in `bytes`, counted branch-free in byte lanes so that it
/// vectorizes: it runs on every message.
fn count_digits(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|c| {
            usize::from(
                c.iter()
                    .fold(0u8, |n, &b| n + u8::from(b.wrapping_sub(b'0') < 10)),
            )
        })
        .sum()
}

/// `bytes` holds "://", "www." or ".com/": a link may be present. Each marker holds a '/' or
/// '.' whose neighbours say which, so one search for those two bytes stands for three
/// substring searches (a short message holds few of either).
fn has_link_marker(bytes: &[u8]) -> bool {
    memchr::memchr2_iter(b'/', b'.', bytes).any(|i| {
        let before = |n: usize| i.checked_sub(n).and_then(|s| bytes.get(s..i));
        if bytes.get(i) == Some(&b'/') {
            before(1) == Some(b":") && bytes.get(i + 1) == Some(&b'/') || before(4) == Some(b".com")
        } else {
            before(3) == Some(b"www")
        }
    })
}

/// Some '@' in `bytes` may be an email address's: a byte of the local part before it, then a
/// domain label, a dot and a byte of the next label or top-level domain after it, as every
/// match of the email pattern holds (its first label runs up to the dot, which no label
/// holds). "@mentions" open no search.
fn may_hold_email(bytes: &[u8]) -> bool {
    let label = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    memchr::memchr_iter(b'@', bytes).any(|p| {
        let local = p
            .checked_sub(1)
            .and_then(|k| bytes.get(k))
            .is_some_and(|&b| label(b) || matches!(b, b'.' | b'_' | b'%' | b'+'));
        let rest = bytes.get(p + 1..).unwrap_or_default();
        let n = rest.iter().take_while(|&&b| label(b)).count();
        local && n > 0 && rest.get(n) == Some(&b'.') && rest.get(n + 1).is_some_and(|&b| label(b))
    })
}

/// `bytes` holds `b` at least `n` times: a search that stops at the `n`-th, since long text
/// holds many dots and colons and one is enough to need the count.
fn at_least(bytes: &[u8], b: u8, n: usize) -> bool {
    n == 0 || memchr::memchr_iter(b, bytes).nth(n - 1).is_some()
}

/// True when `url` points at one person: a profile on a social network or a photo or user page.
fn points_at_person(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    const MARKERS: &[&str] = &[
        "profile", "user/", "users/", "u/", "people/", "photos/", "photo", "@", "in/", "~",
    ];
    let segment_starts = std::iter::once(path).chain(
        path.match_indices('/')
            .filter_map(|(i, _)| path.get(i + 1..)),
    );
    if segment_starts
        .into_iter()
        .any(|seg| MARKERS.iter().any(|m| seg.starts_with(m)))
    {
        return true;
    }
    const SOCIAL: &[&str] = &[
        "facebook.com",
        "fb.com",
        "instagram.com",
        "twitter.com",
        "x.com",
        "tiktok.com",
        "bsky.app",
        "threads.net",
        "reddit.com",
        "pinterest.com",
        "flickr.com",
    ];
    const NOT_PEOPLE: &[&str] = &[
        "",
        "about",
        "help",
        "events",
        "groups",
        "pages",
        "hashtag",
        "search",
        "watch",
        "share",
        "sharer",
        "sharer.php",
        "intent",
        "explore",
        "policies",
        "legal",
        "privacy",
        "business",
        "ads",
        "login",
        "signup",
        "home",
        "settings",
        "tos",
        "r",
        "p",
        "reel",
        "status",
    ];
    let first = path.split(['/', '?', '#']).next().unwrap_or_default();
    SOCIAL.contains(&host) && !NOT_PEOPLE.contains(&first)
}

/// No digit, letter or digit-continuing separator touches the range: "555-201-3344" inside
/// "1555-201-33445" or a longer dashed run is not a phone.
fn digit_bounded(bytes: &[u8], r: Range<usize>) -> bool {
    let before = r.start.checked_sub(1).and_then(|i| bytes.get(i)).copied();
    let before2 = r.start.checked_sub(2).and_then(|i| bytes.get(i)).copied();
    let after = bytes.get(r.end).copied();
    let after2 = bytes.get(r.end + 1).copied();
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    let digit = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit());
    let joiner = |b: Option<u8>| matches!(b, Some(b'-' | b'.' | b'/'));
    !(alnum(before)
        || alnum(after)
        || joiner(before) && digit(before2)
        || joiner(after) && digit(after2))
}

/// Drop an unbalanced parenthesis the grouped phone pattern picked up.
fn trim_parens(bytes: &[u8], r: Range<usize>) -> Range<usize> {
    let s = bytes.get(r.clone()).unwrap_or_default();
    if s.first() == Some(&b'(') && !s.contains(&b')') {
        return r.start + 1..r.end;
    }
    r
}

/// m/d/y, d/m/y (2- or 4-digit year) or y-m-d with plausible month and day.
fn valid_numeric_date(a: &str, b: &str, y: &str) -> bool {
    let (Ok(x), Ok(m), Ok(z)) = (a.parse::<u16>(), b.parse::<u16>(), y.parse::<u16>()) else {
        return false;
    };
    if a.len() == 4 {
        return (1800..=2199).contains(&x)
            && (1..=12).contains(&m)
            && y.len() == 2
            && (1..=31).contains(&z);
    }
    if a.len() > 2 || y.len() == 3 || (y.len() == 4 && !(1800..=2199).contains(&z)) {
        return false;
    }
    let md = (1..=12).contains(&x) && (1..=31).contains(&m);
    let dm = (1..=31).contains(&x) && (1..=12).contains(&m);
    md || dm
}

#[cfg(test)]
mod tests {
    use crate::{
        Attachments, Decision, Direction, Message, Policy, SafeHarbor, Screener, Severity,
    };

    /// One engine for all tests: compiling it per proptest case would dominate the run.
    fn screener() -> &'static Screener {
        static ENGINE: std::sync::OnceLock<Screener> = std::sync::OnceLock::new();
        ENGINE.get_or_init(|| Screener::new(Policy::default()).expect("default policy compiles"))
    }

    /// (rule id, matched text) of every phi finding, in text order.
    fn found(msg: &Message) -> Vec<(String, String)> {
        let report = screener().screen(msg).expect("screens");
        report
            .findings
            .into_iter()
            .filter(|f| f.rule_id.starts_with("phi."))
            .map(|f| (f.rule_id.into_owned(), f.matched))
            .collect()
    }

    fn incoming(text: &str) -> Vec<(String, String)> {
        found(&Message::incoming(text))
    }

    fn has(text: &str, rule: &str, matched: &str) {
        let got = incoming(text);
        assert!(
            got.iter().any(|(r, m)| r == rule && m == matched),
            "{text:?}: wanted {rule} {matched:?}, got {got:?}"
        );
    }

    fn lacks(text: &str, rule: &str) {
        let got = incoming(text);
        assert!(
            !got.iter().any(|(r, _)| r == rule),
            "{text:?}: {rule} should not fire, got {got:?}"
        );
    }

    #[test]
    fn the_er_example_finds_dob_bed_and_phone_and_blocks() {
        let text = "Crazy night in the ER — John Miller (DOB 3/4/1961) in bed 4 came in after his Xarelto dose, call his wife at 555-201-3344";
        let report = screener()
            .screen(&Message::outgoing(text))
            .expect("screens");
        let got: Vec<(&str, &str)> = report
            .findings
            .iter()
            .map(|f| (&*f.rule_id, f.matched.as_str()))
            .collect();
        assert!(got.contains(&("phi.personal_date", "3/4/1961")), "{got:?}");
        assert!(got.contains(&("phi.room_bed", "bed 4")), "{got:?}");
        assert!(got.contains(&("phi.phone", "555-201-3344")), "{got:?}");
        assert_eq!(report.decision, Decision::Block);
        assert!(report.phi.iter().all(|p| p.health_context));
        let dob = report
            .findings
            .iter()
            .find(|f| f.rule_id == "phi.personal_date")
            .expect("dob finding");
        assert_eq!(
            dob.severity,
            Severity::Critical,
            "health context raises the DOB from high"
        );
        assert_eq!(dob.phi_category, Some(SafeHarbor::C));
    }

    #[test]
    fn phones_in_us_and_international_formats() {
        has("call (555) 201-3344 now", "phi.phone", "(555) 201-3344");
        has("it's 555.201.3344", "phi.phone", "555.201.3344");
        has(
            "reach me on +1 555 201 3344",
            "phi.phone",
            "+1 555 201 3344",
        );
        has(
            "London office +44 20 7946 0958",
            "phi.phone",
            "+44 20 7946 0958",
        );
        has("call me 5552013344 tonight", "phi.phone", "5552013344");
        has("Phone:\n0496 46 46 70", "phi.phone", "0496 46 46 70");
        has("169-825-3303 fax", "phi.fax", "169-825-3303");
        has("Fax: (555) 201-3345", "phi.fax", "(555) 201-3345");
    }

    #[test]
    fn years_prices_counts_and_zips_are_not_phones() {
        for text in [
            "we served 1200 patients in 2019 and 2020",
            "it cost $1,234,567 in total",
            "ZIP 90210-1234",
            "on 12/03/2019 at noon",
            "order 5552013344 shipped",
        ] {
            lacks(text, "phi.phone");
        }
    }

    #[test]
    fn emails_except_the_organizations_own() {
        has(
            "write to jane.doe@gmail.com",
            "phi.email",
            "jane.doe@gmail.com",
        );
        let policy = Policy::from_toml("[organization]\ndomains = [\"examplehealth.org\"]\n")
            .expect("policy");
        let s = Screener::new(policy).expect("compiles");
        let report = s
            .screen(&Message::outgoing("Questions? info@examplehealth.org"))
            .expect("screens");
        assert!(report.findings.iter().all(|f| f.rule_id != "phi.email"));
    }

    #[test]
    fn phones_except_the_organizations_own() {
        let policy = Policy::from_toml("[organization]\nphones = [\"+1 (202) 555-0100\"]\n")
            .expect("policy");
        let s = Screener::new(policy).expect("compiles");
        let phones = |text: &str| -> Vec<String> {
            s.screen(&Message::outgoing(text))
                .expect("screens")
                .findings
                .into_iter()
                .filter(|f| f.rule_id == "phi.phone")
                .map(|f| f.matched)
                .collect()
        };
        assert_eq!(phones("Book a mammogram: call 202-555-0100 today"), [""; 0]);
        assert_eq!(phones("Appointments: 1 202 555 0100"), [""; 0]);
        assert_eq!(
            phones("Call 202-555-0100 or my cell 202-555-0143"),
            ["202-555-0143"]
        );
        let err = Policy::from_toml("[organization]\nphones = [\"ext. 42\"]\n")
            .expect_err("too few digits");
        assert!(err.to_string().contains("organization.phones[0]"), "{err}");
    }

    #[test]
    fn ssns_with_valid_ranges_only() {
        has("Here's my SSN: 161-42-3291", "phi.ssn", "161-42-3291");
        has("ssn 161423291", "phi.ssn", "161423291");
        for text in [
            "000-12-3456",
            "666-12-3456",
            "912-12-3456",
            "161-00-3291",
            "161-42-0000",
            "order 161423291",
        ] {
            lacks(text, "phi.ssn");
        }
    }

    #[test]
    fn record_plan_and_other_numbers_need_their_cue() {
        has("MRN 12345678", "phi.mrn", "12345678");
        has("medical record # 445566", "phi.mrn", "445566");
        has("chart number: A123456", "phi.mrn", "A123456");
        has("member id: XJH123456789", "phi.health_plan", "XJH123456789");
        has(
            "my MBI is 1EG4-TE5-MK73",
            "phi.health_plan",
            "1EG4-TE5-MK73",
        );
        has("patient id 778812", "phi.other_id", "778812");
        has("claim number 99812345", "phi.other_id", "99812345");
        let long = format!("{} MRN 12345678", "it was old work at home. ".repeat(40));
        has(&long, "phi.mrn", "12345678");
        lacks("we opened 12345678 accounts", "phi.mrn");
        lacks("a chart of 2024 results", "phi.mrn");
    }

    #[test]
    fn cards_and_ibans_pass_their_checksums() {
        has(
            "card 4111 1111 1111 1111 please",
            "phi.account",
            "4111 1111 1111 1111",
        );
        has(
            "IBAN GB82 WEST 1234 5698 7654 32 for rent",
            "phi.account",
            "GB82 WEST 1234 5698 7654 32",
        );
        has("account number 12345678", "phi.account", "12345678");
        lacks("card 4111 1111 1111 1112", "phi.account");
        lacks("IBAN GB82 WEST 1234 5698 7654 33", "phi.account");
    }

    #[test]
    fn licences_vehicles_and_devices() {
        has(
            "My driver's license number is F162823540116",
            "phi.license",
            "F162823540116",
        );
        has("DEA AB1234563", "phi.license", "AB1234563");
        has("NPI 1234567893", "phi.license", "1234567893");
        lacks("NPI 1234567890", "phi.license");
        has("VIN 1M8GDM9AXKP042788", "phi.vehicle", "1M8GDM9AXKP042788");
        lacks("code 1M8GDM9A1KP042788", "phi.vehicle");
        has("license plate 7ABC123", "phi.vehicle", "7ABC123");
        has("pacemaker serial PJN123456", "phi.device", "PJN123456");
        has("IMEI 356938035643809", "phi.device", "356938035643809");
    }

    #[test]
    fn urls_only_when_they_point_at_a_person() {
        has(
            "see https://facebook.com/john.miller.77",
            "phi.url",
            "https://facebook.com/john.miller.77",
        );
        has(
            "pics at www.example.com/photos/jm",
            "phi.url",
            "www.example.com/photos/jm",
        );
        lacks("visit https://www.examplehealth.org today", "phi.url");
        lacks("https://facebook.com/events/123", "phi.url");
    }

    #[test]
    fn ip_addresses_with_range_checks() {
        has("address 41.176.181.243 blocked", "phi.ip", "41.176.181.243");
        has(
            "from 3b20:9a3a:1b2f:7ce:9ef1:4787:85fc:261e",
            "phi.ip",
            "3b20:9a3a:1b2f:7ce:9ef1:4787:85fc:261e",
        );
        lacks("999.1.1.1", "phi.ip");
        lacks("version 1.2.3.4.5", "phi.ip");
    }

    #[test]
    fn dates_in_common_formats() {
        has("seen 3/4/1961", "phi.date", "3/4/1961");
        has("seen 03-04-61", "phi.date", "03-04-61");
        has("on 2019-04-03 we met", "phi.date", "2019-04-03");
        has(
            "When: 1997-02-21 14:02:26",
            "phi.date",
            "1997-02-21 14:02:26",
        );
        has("March 4, 1961 was cold", "phi.date", "March 4, 1961");
        has("it was 4 March 1961", "phi.date", "4 March 1961");
        has("see you Mar 4th", "phi.date", "Mar 4th");
        has("on the 4th of March", "phi.date", "the 4th of March");
        has("Tuesday, March 4 works", "phi.date", "Tuesday, March 4");
        has("in September 2019", "phi.date", "September 2019");
        for text in [
            "founded in 1961",
            "add 3/4 cup",
            "version 1.2.3",
            "score 13/45/2",
        ] {
            lacks(text, "phi.date");
        }
    }

    #[test]
    fn dates_tied_to_a_person_are_personal() {
        has(
            "She was born on 2/19/1956.",
            "phi.personal_date",
            "2/19/1956",
        );
        has(
            "Please tell me your date of birth. It's 6/24/1991",
            "phi.personal_date",
            "6/24/1991",
        );
        has(
            "admitted on March 3, 2024 with chest pain",
            "phi.personal_date",
            "March 3, 2024",
        );
        has(
            "Mrs. Jones in room 412 was discharged on 5/12",
            "phi.personal_date",
            "5/12",
        );
        lacks(
            "add 3/4 cup of flour, born bakers know",
            "phi.personal_date",
        );
        lacks("Join us March 3 for the fair", "phi.personal_date");
    }

    #[test]
    fn ages_over_89_are_identifiers_younger_ones_info() {
        has("a 45-year-old man", "phi.age", "45");
        has("she is 52 years old", "phi.age", "52");
        has("aged 34, no history", "phi.age", "34");
        has("Grandma turned 93 today", "phi.age_over_89", "93");
        lacks("5 years ago", "phi.age");
        lacks("10 years of experience", "phi.age");
        let report = screener()
            .screen(&Message::incoming("a 45-year-old man"))
            .expect("screens");
        assert_eq!(
            report.findings.first().map(|f| f.severity),
            Some(Severity::Info)
        );
    }

    #[test]
    fn zip_codes_need_a_state_or_a_cue() {
        has("My zip code is 90010", "phi.zip", "90010");
        has("Springfield, IL 62704", "phi.zip", "62704");
        lacks("we sold 62704 units", "phi.zip");
        lacks("sign in 62704 times", "phi.zip");
    }

    #[test]
    fn street_addresses_us_and_international() {
        has(
            "I live at 100 Main St, Springfield",
            "phi.address",
            "100 Main St, Springfield",
        );
        has(
            "6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677",
            "phi.address",
            "6750 Koskikatu 25 Apt. 864\nArtilleros\n, CO\n Uruguay 64677",
        );
        has("send it to P.O. Box 123", "phi.address", "P.O. Box 123");
        has(
            "Sandra lives on Hansinegata 120 street.",
            "phi.address",
            "Hansinegata 120",
        );
        has(
            "the corner of Hochstrasse 63 and Henriksen Street",
            "phi.address",
            "the corner of Hochstrasse 63 and Henriksen Street",
        );
        for text in [
            "I have 3 kids and 2 dogs",
            "Jan 14 13:30 Temperature 13C",
            "5 Musicians Of The 70s",
            "faster than 3,000 miles",
            "Katie up 6-0 after 1st",
        ] {
            lacks(text, "phi.address");
        }
    }

    #[test]
    fn rooms_and_beds_in_a_care_setting() {
        has("the lady in bed 4 keeps calling", "phi.room_bed", "bed 4");
        has("ICU bed 7 needs a nurse", "phi.room_bed", "ICU bed 7");
        has("the patient in room 12B", "phi.room_bed", "room 12B");
        lacks("our hotel room 12 was lovely", "phi.room_bed");
        lacks(
            "Join the Diabetes Support Group in Conference Room 2",
            "phi.room_bed",
        );
        lacks("cancer survivors meet in the Family Room 3", "phi.room_bed");
        has(
            "the stroke patient in room 3 is asking for you",
            "phi.room_bed",
            "room 3",
        );
        lacks("3 bed 2 bath flat for rent", "phi.room_bed");
        // Health terms that end in a room word still cue the number after them.
        has(
            "Saw a gunshot victim in trauma bay 2 tonight",
            "phi.room_bed",
            "trauma bay 2",
        );
        has("he is in emergency room 4", "phi.room_bed", "room 4");
        has(
            "17 year old overdose in resus 2, we lost him",
            "phi.room_bed",
            "resus 2",
        );
    }

    #[test]
    fn org_event_posts_are_not_blocked() {
        let report = screener()
            .screen(&Message::outgoing(
                "Join us March 3 at 100 Main St for our health fair",
            ))
            .expect("screens");
        let rules: Vec<&str> = report.findings.iter().map(|f| &*f.rule_id).collect();
        assert!(
            rules.contains(&"phi.date") && rules.contains(&"phi.address"),
            "{rules:?}"
        );
        assert!(report.decision < Decision::Block, "{:?}", report.decision);
        assert!(
            report
                .findings
                .iter()
                .all(|f| f.severity <= Severity::Medium)
        );
    }

    #[test]
    fn images_in_clinical_context_and_exif() {
        let mut msg = Message::outgoing("Back home after surgery!");
        msg.attachments = Attachments {
            has_image: true,
            alt_text: None,
            exif_present: true,
        };
        let got = found(&msg);
        assert!(
            got.contains(&("phi.image_clinical".to_owned(), "surgery".to_owned())),
            "{got:?}"
        );
        assert!(got.iter().any(|(r, _)| r == "phi.image_exif"), "{got:?}");
        msg.direction = Direction::Incoming;
        assert!(!found(&msg).iter().any(|(r, _)| r == "phi.image_exif"));
        let plain = Message {
            attachments: Attachments {
                has_image: true,
                ..Attachments::default()
            },
            ..Message::incoming("Happy Friday!")
        };
        assert!(found(&plain).is_empty());
    }

    /// Pieces of numbers, dates and their context words, to be glued into long texts.
    const PIECES: &[&str] = &[
        "555-201-3344",
        "+1 (555) 201-3344 extension 12",
        "+44 20 7946 0958",
        "0496 46 46 70",
        "4111 1111 1111 1111",
        "161-42-3291",
        "161423291",
        "1eg4-te5-mk73",
        "1m8gdm9axkp042788",
        "ab1234563",
        "1234567893",
        "3/4/1961",
        "2019-04-03",
        "5/12",
        "41.176.181.243",
        "wednesday., september. 4th, 1961",
        "the 4th of march",
        "march 2019",
        "when they were 45",
        "45 - years - of age",
        "52 y/o",
        "trauma exam room number 12b",
        "bed 4",
        "springfield, il 62704-1234",
        "gb82 west 1234 5698 7654 32",
        "١٢٣-٤٥٦-٧٨٩٠",
        "é",
        "ß",
        "word",
        "x",
        "-",
        ".",
        "/",
        ":",
        "+",
        "(",
        ")",
        "1",
        "12",
        "2024",
        "90210",
        "aged",
        "\n",
        "\t",
        "the",
        "of",
        "years",
        "45yo",
        "you",
        "yr",
        "turning",
        "form",
        "rm 12",
        "bedroom",
        "cubicle #3",
        "y.o.",
        "2001:db8::ff00:42:8329",
        "fe80::1",
        "cafe",
        "g",
        "_",
        "1m8gdm9axkp04278é",
    ];
    const AGE_PIECES: &[&str] = &[
        "45",
        "1234",
        "7",
        " ",
        "  ",
        "-",
        " - ",
        "years",
        "year",
        "yrs",
        "yr",
        "s",
        "old",
        "of age",
        "older",
        "of",
        " age",
        "y/o",
        "y.o.",
        "yo",
        "you",
        "aged",
        "age",
        "age of",
        "turned",
        "turning",
        "turns",
        "turn",
        "when i was",
        "when they were",
        "when he ",
        "she ",
        "was",
        "x",
        "_",
        "\t",
        "\u{b}",
        ".",
        "d",
    ];
    const GLUE: &[&str] = &["", " ", "  ", "\n", ", ", "-", "\u{3000}"];

    /// The grouped-phone matcher agrees with its pattern on the shapes phone numbers take,
    /// from every start.
    #[test]
    fn grouped_phone_parser_agrees_with_its_pattern() {
        let d = super::Detector::new(&Policy::default()).expect("compiles");
        let texts = [
            "+1 (555) 201-3344 ext. 12",
            "001-555-201-3344x5",
            "15552013344 or 1-555-201-3344 extension 99",
            "(555)201-3344, 555.201.3344 x 1234567",
            "0421 555 123, (02) 9876 5432, 020 7946 0958, 12 34 56 78 90 12 34",
            "(12345) 678-90 1-2-3 123456789012345678 (1",
        ];
        for text in texts {
            for at in 0..text.len() {
                let whole = d
                    .grouped
                    .unicode()
                    .captures_at(text, at)
                    .map(|c| groups(&c));
                assert_eq!(
                    whole,
                    super::parse::grouped(text.as_bytes(), at),
                    "{text:?} from {at}"
                );
            }
        }
    }

    /// Every windowed pattern's groups fit in [`super::Groups`].
    #[test]
    fn windowed_patterns_fit_groups() {
        let d = super::Detector::new(&Policy::default()).expect("compiles");
        for (twin, _) in searches(&d)
            .into_iter()
            .chain([(&d.month_date, super::REACH_AGE)])
        {
            assert!(
                twin.unicode().captures_len() <= 6,
                "{}",
                twin.unicode().as_str()
            );
        }
    }

    /// The spans of a regex match and its groups.
    fn groups(c: &regex::Captures<'_>) -> super::Groups {
        std::array::from_fn(|i| c.get(i).map(|m| m.range()))
    }

    fn searches(d: &super::Detector) -> Vec<(&super::Twin, super::Reach)> {
        use super::*;
        vec![
            (&d.ipv4, REACH_IPV4),
            (&d.nanp, REACH_NANP),
            (&d.card, REACH_CARD),
            (&d.ssn, REACH_SSN),
            (&d.mbi, REACH_MBI),
            (&d.dea, REACH_DEA),
            (&d.npi, REACH_NPI),
            (&d.num_date, REACH_NUM_DATE),
            (&d.short_date, REACH_SHORT_DATE),
            (&d.age, REACH_AGE),
            (&d.room_bed, REACH_ROOM_BED),
            (&d.state_zip, REACH_STATE_ZIP),
            (&d.iban, REACH_IBAN),
        ]
    }

    proptest::proptest! {
        /// The one search for '/' and '.' finds a link marker where a search for each does.
        #[test]
        fn link_marker_test_agrees_with_substring_search(text in "([:/.wcom]|www|://|\\.com/|[a-z ]){0,40}") {
            let bytes = text.as_bytes();
            let want = [b"://".as_slice(), b"www.", b".com/"]
                .iter()
                .any(|m| bytes.windows(m.len()).any(|w| w == *m));
            proptest::prop_assert_eq!(super::has_link_marker(bytes), want, "{:?}", text);
        }

        /// A text where the email pattern finds a match passes the '@' test before it.
        #[test]
        fn email_test_passes_every_email(text in "([a-z0-9]|[._%+@ -]|\\.com|co){0,40}") {
            if detector().email.is_match(&text) {
                proptest::prop_assert!(super::may_hold_email(text.as_bytes()), "{:?}", text);
            }
        }

        /// The hinted lookup the address finder uses answers as the binary search does, for
        /// queries in any order (the finder's mostly move forward, some step back).
        #[test]
        fn claims_hinted_lookup_agrees(
            claims in proptest::collection::vec((0usize..400, 1usize..12), 0..30),
            queries in proptest::collection::vec((0usize..420, 0usize..12), 1..60),
        ) {
            let mut c = super::Claims::default();
            for (start, len) in claims {
                c.insert(start..start + len);
            }
            let hint = std::cell::Cell::new(0);
            for (start, len) in queries {
                let r = start..start + len;
                let after = super::overlaps_after(c.settled(), &r, &hint);
                proptest::prop_assert_eq!(after, c.overlaps(&r), "{:?}", r);
            }
        }

        /// Claims recorded in any order, with overlap queries between them, answer and settle
        /// as one sorted list does that merges each claim where it lands: families of claims in
        /// text order, one after another, enough of them to fill the fresh list many times.
        #[test]
        fn claims_agree_with_one_merged_list(
            mut ops in proptest::collection::vec((0usize..6000, 0usize..12, 0u8..4), 0..700),
            family in 1usize..60,
        ) {
            ops.chunks_mut(family).for_each(|f| f.sort_unstable());
            let mut c = super::Claims::default();
            let mut list: Vec<std::ops::Range<usize>> = Vec::new();
            for (start, len, kind) in ops {
                let r = start..start + len;
                if kind == 0 {
                    let i = list.partition_point(|x| x.end <= r.start);
                    let want = list.get(i).is_some_and(|x| x.start < r.end);
                    proptest::prop_assert_eq!(c.overlaps(&r), want, "{:?}", r);
                    continue;
                }
                c.insert(r.clone());
                let lo = list.partition_point(|x| x.end < r.start);
                let hi = list.partition_point(|x| x.start <= r.end);
                if lo >= hi {
                    list.insert(lo, r);
                } else {
                    let merged = r.start.min(list[lo].start)..r.end.max(list[hi - 1].end);
                    list.splice(lo..hi, [merged]);
                }
            }
            proptest::prop_assert_eq!(c.settled(), &list[..]);
        }
    }

    proptest::proptest! {
        #[test]
        fn windows_find_what_a_whole_text_search_finds(parts in proptest::collection::vec((0..PIECES.len(), 0..GLUE.len()), 60..400)) {
            searches_agree(&parts)?;
        }

        /// A short text is searched whole, behind the gates its runs' facts answer.
        #[test]
        fn short_texts_find_what_a_whole_text_search_finds(parts in proptest::collection::vec((0..PIECES.len(), 0..GLUE.len()), 1..24)) {
            searches_agree(&parts)?;
        }
    }

    /// The default policy's detector, built once for every property test.
    fn detector() -> &'static super::Detector {
        static DETECTOR: std::sync::OnceLock<super::Detector> = std::sync::OnceLock::new();
        DETECTOR.get_or_init(|| super::Detector::new(&Policy::default()).expect("compiles"))
    }

    /// The text made of `parts`: each a piece and the glue after it, by their indices.
    fn joined(parts: &[(usize, usize)], pieces: &[&str], glue: &[&str]) -> String {
        parts
            .iter()
            .flat_map(|&(p, g)| [pieces[p], glue[g]])
            .collect()
    }

    /// Every windowed search over the text made of `parts` finds what one search of the pattern
    /// as written over all of it finds.
    fn searches_agree(
        parts: &[(usize, usize)],
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let d = detector();
        let text = joined(parts, PIECES, GLUE);
        let runs = super::Runs::new(&text, || super::WINDOWED.to_vec());
        for (twin, reach) in searches(d) {
            let re = twin.unicode();
            // Matches with fewer digits than the pattern's checks need may be skipped.
            let kept = |r: &std::ops::Range<usize>| {
                text.get(r.clone())
                    .unwrap_or_default()
                    .bytes()
                    .filter(|b| b.is_ascii_digit() || *b >= 0x80)
                    .count()
                    >= reach.min_digits
            };
            let whole: Vec<_> = re
                .captures_iter(&text)
                .map(|c| groups(&c))
                .filter(|g| g[0].as_ref().is_some_and(kept))
                .collect();
            let mut windowed = Vec::new();
            super::captures_each(twin, &text, &runs, reach, |g| {
                if g[0].as_ref().is_some_and(kept) {
                    windowed.push(g);
                }
            });
            proptest::prop_assert_eq!(&whole, &windowed, "{:?} on {:?}", re.as_str(), text);
            let mut found = Vec::new();
            super::find_each(twin, &text, &runs, reach, |m| {
                if kept(&m) {
                    found.push(Some(m));
                }
            });
            let starts: Vec<_> = whole.iter().map(|g| g[0].clone()).collect();
            proptest::prop_assert_eq!(starts, found);
        }
        let scan = crate::text::Scan::new(&text);
        month_dates_agree(d, &scan)?;
        let whole: Vec<_> = d
            .vin
            .unicode()
            .find_iter(&scan.norm)
            .map(|m| m.range())
            .collect();
        let mut found = Vec::new();
        super::window::find_in_tokens(&d.vin, &scan, 17, |m| found.push(m));
        proptest::prop_assert_eq!(&whole, &found, "vins on {:?}", text);
        let whole: Vec<_> = d.ipv6.find_iter(&text).map(|m| m.range()).collect();
        let mut found = Vec::new();
        super::window::find_in_colon_runs(&d.ipv6, &text, |m| found.push(m.range()));
        proptest::prop_assert_eq!(&whole, &found, "ipv6 on {:?}", text);
        let phones = [(&d.intl, true), (&d.grouped, false)];
        let mut found = vec![Vec::new(); phones.len()];
        // The phone checks count ASCII digits only.
        let kept = |m: &std::ops::Range<usize>| {
            text.get(m.clone())
                .unwrap_or_default()
                .bytes()
                .filter(u8::is_ascii_digit)
                .count()
                >= super::PHONE_DIGITS
        };
        super::window::find_in_groups(&phones, &text, &runs, super::PHONE_DIGITS, |k, m| {
            if let Some(f) = found.get_mut(k).filter(|_| kept(&m)) {
                f.push(m);
            }
        });
        for ((twin, _), found) in phones.iter().zip(&found) {
            let re = twin.unicode();
            let whole: Vec<_> = re
                .find_iter(&text)
                .map(|m| m.range())
                .filter(kept)
                .collect();
            proptest::prop_assert_eq!(&whole, found, "{:?} on {:?}", re.as_str(), text);
        }
        Ok(())
    }

    /// Month words and what may stand around them in a month-name date, and near misses; the
    /// non-ASCII pieces come last, after [`MONTH_ASCII_PIECES`] ASCII ones.
    const MONTH_PIECES: &[&str] = &[
        "may", "mar", "march", "sept", "dec", "jun", "marble", "mayor", "monday ", "wed.", "the ",
        "5", "12", "123", "2024", "th", "st", "nd", "of", "f", " of ", ".", ",", "'", "x", "_",
        "-", ":", "sat, ", "1", "’", "é", "١٢",
    ];
    /// How many of [`MONTH_PIECES`] are ASCII.
    const MONTH_ASCII_PIECES: usize = 30;
    /// Glue between [`MONTH_PIECES`]: ASCII spaces, vertical tab and nothing, then Unicode spaces.
    const MONTH_GLUE: &[&str] = &[
        "", " ", "  ", "\n", "\u{b}", ", ", ". ", "\u{a0}", "\u{3000}",
    ];
    /// How many of [`MONTH_GLUE`] are ASCII.
    const MONTH_ASCII_GLUE: usize = 7;

    proptest::proptest! {
        /// The month-name date search, which passes over month words that have no digit where
        /// a date needs one, finds what one search of its pattern over the whole text finds.
        #[test]
        fn month_dates_are_found_as_a_whole_text_search_finds_them(parts in proptest::collection::vec((0..MONTH_PIECES.len(), 0..MONTH_GLUE.len()), 1..40)) {
            month_searches_agree(&parts)?;
        }

        /// As above on ASCII text, whose groups are read from each match's span.
        #[test]
        fn ascii_month_dates_are_found_as_a_whole_text_search_finds_them(parts in proptest::collection::vec((0..MONTH_ASCII_PIECES, 0..MONTH_ASCII_GLUE), 1..40)) {
            month_searches_agree(&parts)?;
        }
    }

    /// The month-name date search over `scan` finds what one search of its pattern over the whole
    /// normalized text finds, with the same groups.
    fn month_dates_agree(
        d: &super::Detector,
        scan: &crate::text::Scan<'_>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let whole: Vec<_> = d
            .month_date
            .unicode()
            .captures_iter(&scan.norm)
            .map(|c| groups(&c))
            .collect();
        let mut found = Vec::new();
        super::window::month_captures_each(&d.month_date, &d.months, scan, |g| found.push(g));
        proptest::prop_assert_eq!(&whole, &found, "month dates on {:?}", scan.text);
        Ok(())
    }

    /// The month-name date search over the text made of `parts` finds what one search of its
    /// pattern over all of it finds, with the same groups.
    fn month_searches_agree(
        parts: &[(usize, usize)],
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let d = detector();
        let text = joined(parts, MONTH_PIECES, MONTH_GLUE);
        month_dates_agree(d, &crate::text::Scan::new(&text))?;
        Ok(())
    }

    proptest::proptest! {
        /// Each hand-written matcher finds what its pattern finds, with the same groups, on
        /// ASCII text dense with digits and the separators the patterns read.
        #[test]
        fn parsers_find_what_their_patterns_find(text in "[0-9./ _a-]{0,48}|[0-9 .()-]{0,48}|[0-9 iqz_.-]{0,60}|[0-9a-z -]{10,40}|((ny|ca|x|a|,| |-|_|12345|6789|1)){0,12}", at in 0usize..8) {
            let d = detector();
            let parsed: [(&super::Twin, super::parse::Parser); 8] = [
                (&d.grouped, super::parse::grouped),
                (&d.state_zip, super::parse::state_zip),
                (&d.card, super::parse::card),
                (&d.vin, super::parse::vin),
                (&d.ssn, super::parse::ssn),
                (&d.num_date, super::parse::num_date),
                (&d.short_date, super::parse::short_date),
                (&d.ipv4, super::parse::ipv4),
            ];
            let at = at.min(text.len());
            for (twin, parse) in parsed {
                let re = twin.unicode();
                let mut whole = Vec::new();
                let mut from = at;
                while let Some(c) = re.captures_at(&text, from) {
                    let g = groups(&c);
                    from = c.get(0).map_or(text.len(), |m| m.end());
                    whole.push(g);
                }
                let mut found = Vec::new();
                let mut from = at;
                while let Some(g) = parse(text.as_bytes(), from) {
                    from = g[0].as_ref().map_or(text.len(), |m| m.end);
                    found.push(g);
                }
                proptest::prop_assert_eq!(&whole, &found, "{:?} on {:?} from {}", re.as_str(), text, at);
            }
        }

        /// The age matcher finds what the age pattern finds, on text made of its words.
        #[test]
        fn age_parser_finds_what_the_age_pattern_finds(parts in proptest::collection::vec(0..AGE_PIECES.len(), 0..14), at in 0usize..6) {
            let d = detector();
            let text: String = parts.iter().map(|&p| AGE_PIECES[p]).collect();
            let at = (0..=at.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            let re = d.age.unicode();
            let mut whole = Vec::new();
            let mut from = at;
            while let Some(c) = re.captures_at(&text, from) {
                from = c.get(0).map_or(text.len(), |m| m.end());
                whole.push(groups(&c));
            }
            let mut found = Vec::new();
            let mut from = at;
            while let Some(g) = super::parse::age(text.as_bytes(), from) {
                from = g[0].as_ref().map_or(text.len(), |m| m.end);
                found.push(g);
            }
            proptest::prop_assert_eq!(&whole, &found, "on {:?} from {}", text, at);
        }

        #[test]
        fn number_and_address_soup_never_panics(text in "[0-9a-zA-Z .,:/\\-\n@#()+?ßÅ]{0,160}") {
            let s = screener();
            proptest::prop_assert!(s.screen(&Message::incoming(text.clone())).is_ok());
            proptest::prop_assert!(s.screen(&Message::outgoing(text)).is_ok());
        }

        #[test]
        fn any_unicode_never_panics(text in "\\PC{0,120}") {
            proptest::prop_assert!(screener().screen(&Message::incoming(text)).is_ok());
        }
    }

    #[test]
    fn odd_input_never_panics() {
        let s = screener();
        let long_digits = "9".repeat(5000);
        let mixed = "١٢٣ ４５６-７８９０ Ⅻ 𝟓𝟓𝟓-𝟐𝟎𝟏-𝟑𝟑𝟒𝟒 ".repeat(50);
        for text in [
            "",
            "\0",
            "@",
            "://",
            "bed",
            "1",
            "0-0-0",
            "Apt.",
            "corner of and",
            long_digits.as_str(),
            mixed.as_str(),
        ] {
            assert!(s.screen(&Message::incoming(text)).is_ok());
        }
    }
}
