//! Person names (Safe Harbor A) and places (Safe Harbor B).
//!
//! Names are found from three kinds of evidence, weighed per token: membership in the US Census
//! first-name and surname lists, capitalization (discounted at sentence starts, in all-lower-case
//! text and in Title Case headlines), and cues before the word ("Dr.", "my name is", "thanks",
//! "patient"). Words that are names but usually ordinary words (Will, May, Hope, Long, White) need a
//! cue or a surname after them. The words of an @-handle are never a name. Places come from a
//! hand-written gazetteer, or from a place cue ("lives in", "from", "moved to") before a capitalized
//! word that no lexicon knows.
//!
//! What the rules leave, the small model in `names_model.rs` may still label: capitalized words that
//! are not ordinary words, judged from their shape, suffix and neighbours.
//!
//! A token costs at most one hash lookup in a single table built in `new`, made the first time a rule
//! asks about it; in mixed-case text most lower-case words are never asked about. Nothing is allocated
//! unless a message has more than `STACK_TOKENS` tokens or something is found.

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use crate::ScreenError;
use crate::bits::Bits;
use crate::message::Message;
use crate::model::hash_bytes;
use crate::policy::Policy;
use crate::report::{Action, Category, SafeHarbor, Severity, Span};
use crate::rules::RuleInfo;
use crate::text::{Scan, Token};

use super::names_model::{Label, Model, PACKED_MAX};
use super::{Ctx, Exposure, Hit, Sink};

const FIRST_NAMES: &str = include_str!("../../lexicons/en/names/first.txt");
const SURNAMES: &str = include_str!("../../lexicons/en/names/last.txt");
const COMMON_WORDS: &str = include_str!("../../lexicons/en/names/common.txt");
const PLACES: &str = include_str!("../../lexicons/en/places/places.tsv");
const NAME_MODEL: &[u8] = include_bytes!("../../models/names.bin");

/// How far (in weight units) the model's best class must beat "neither" to report a token.
const MODEL_MARGIN: f32 = 0.0;

/// The names rules.
pub(crate) const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "phi.name",
        category: Category::Phi,
        severity: Severity::Medium,
        incoming: Some(Action::Flag),
        outgoing: Some(Action::Review),
        summary: "A person's name (HIPAA Safe Harbor A), raised when it is tied to a patient or health context; staff (Dr., RN, job titles) are only flagged in posts, office holders (Mayor...) when the post is not about health.",
    },
    RuleInfo {
        id: "phi.location",
        category: Category::Phi,
        severity: Severity::Low,
        incoming: Some(Action::Flag),
        outgoing: Some(Action::Flag),
        summary: "A city, town, neighbourhood or other place (HIPAA Safe Harbor B); a post is held for a town only next to a name or health information.",
    },
];

/// The person-name rule, whose hits other detectors read (the adverse-event patient).
pub(crate) const NAME: &RuleInfo = &RULES[0];
const LOCATION: &RuleInfo = &RULES[1];

const NAME_SUGGESTION: &str = "Remove the name unless it is a staff member or the person gave written permission; never pair a patient's name with their care.";

/// Tokens whose facts live on the stack; longer messages allocate one small vector.
const STACK_TOKENS: usize = 96;

/// Tokens whose facts live in a smaller stack array, which is zeroed with a few stores where the
/// larger one costs a `memset` call: nearly every short message (96% of the short corpus) fits.
const SMALL_TOKENS: usize = 32;

/// First names this common (by Census rank) win over a city of the same name ("Austin", "Charlotte")
/// unless a place cue comes before them.
const POPULAR_FIRST_NAMES: usize = 400;

/// Longest name span, in tokens (first, middle, particles, surname).
const MAX_NAME_TOKENS: usize = 5;

/// Longest multi-word place, in tokens.
const MAX_PLACE_TOKENS: usize = 5;

/// The longest gazetteer phrase, in bytes; phrases are looked up from a buffer of this size.
const MAX_PLACE_BYTES: usize = 64;

// Lexicon flags, one bit per fact about a lower-cased word.
const FIRST: u32 = 1;
const LAST: u32 = 1 << 1;
const COMMON: u32 = 1 << 2;
const PLACE: u32 = 1 << 3;
const PLACE_HEAD: u32 = 1 << 4;
const TITLE: u32 = 1 << 5;
const PARTICLE: u32 = 1 << 6;
const CALENDAR: u32 = 1 << 7;
const GREETING: u32 = 1 << 8;
const SPEECH: u32 = 1 << 9;
const PATIENT: u32 = 1 << 10;
const PLACE_CUE: u32 = 1 << 11;
const RESIDES: u32 = 1 << 12;
const ORG: u32 = 1 << 13;
const POPULAR: u32 = 1 << 14;
const STREET: u32 = 1 << 15;
/// A phrase of two or more words that begins a longer gazetteer phrase ("rio de").
const PLACE_PREFIX: u32 = 1 << 23;
// Per-message flags, read from the text around the token.
const CAP: u32 = 1 << 16;
const SENT_START: u32 = 1 << 17;
const POSSESSIVE: u32 = 1 << 18;
const DIGIT: u32 = 1 << 19;
const SHORT: u32 = 1 << 20;
const UPPER: u32 = 1 << 21;
const COVERED: u32 = 1 << 22;
/// A word that, with the one before it, can introduce a name ("name", "names", "i'm", "is", "me",
/// "am", "was"): see [`name_cue`].
const INTRO: u32 = 1 << 27;
/// A clinical credential (see [`CREDENTIALS`]); it counts only where written as one
/// ([`credential_shape`]).
const CREDENTIAL: u32 = 1 << 28;
/// Part of an @-handle ("@Harry_Styles"): an account name, which names a person no more often
/// than a brand or a fan page, and is never a name span of its own.
const HANDLE: u32 = 1 << 29;
/// Set once a token's lexicon facts alone are in its cell ([`Facts::lexical`]); the rest are
/// filled in when a rule asks.
const LEXED: u32 = 1 << 30;
/// Set once a token's lexicon and shape facts are filled in (see [`Facts`]).
const KNOWN: u32 = 1 << 31;
/// Facts about the token itself that the model sees.
const OWN_MASK: u32 =
    FIRST | LAST | PLACE | PLACE_HEAD | POPULAR | PARTICLE | CAP | UPPER | SENT_START | POSSESSIVE;
/// Facts about a neighbouring token that the model sees.
const CONTEXT_MASK: u32 = OWN_MASK
    | COMMON
    | TITLE
    | CALENDAR
    | GREETING
    | SPEECH
    | PATIENT
    | PLACE_CUE
    | RESIDES
    | DIGIT
    | SHORT
    | COVERED;
/// Neighbours whose own word the model sees: ordinary words and cues, never a possible name.
const CONTEXT_WORD: u32 =
    COMMON | TITLE | CALENDAR | GREETING | SPEECH | PATIENT | PLACE_CUE | RESIDES | PARTICLE;

/// Honorifics and roles written before a name.
const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "doctor",
    "prof",
    "professor",
    "nurse",
    "sister",
    "sr",
    "rev",
    "reverend",
    "father",
    "pastor",
    "rabbi",
    "imam",
    "sir",
    "dame",
    "madam",
    "aunt",
    "auntie",
    "uncle",
    "grandma",
    "grandpa",
    "coach",
    "captain",
    "officer",
    "judge",
    "senator",
    "sen",
    "governor",
    "gov",
    "rep",
    "congressman",
    "congresswoman",
    "mayor",
    "councilman",
    "councilwoman",
    "councilor",
    "councillor",
    "sheriff",
    "president",
    "pope",
    "lord",
    "lady",
    "saint",
    "dj",
];

/// What a title says of the person it names: `Some(true)` for a rank or stage title that belongs
/// to the name and is reported with it ("Pope Francis", "DJ Khaled", "Lady Gaga", "Mayor
/// Johnson"; see [`TITLES`]), `Some(false)` for a clinician's ([`CLINICIAN_TITLES`]) or a job's title written before a
/// staff member's name ("Dr. Lee", "Nurse Manager Tamika Brooks", "our CEO, Jane Smith"), which
/// is no cue that a name follows: it only tells staff from patients once a name is found.
fn title_role(word: &[u8]) -> Option<bool> {
    let mut buf = [0u8; 16];
    let low = buf.get_mut(..word.len())?;
    low.copy_from_slice(word);
    low.make_ascii_lowercase();
    match &*low {
        b"dj" | b"pope" | b"lady" | b"lord" | b"coach" | b"president" | b"senator" | b"sen"
        | b"governor" | b"gov" | b"rep" | b"congressman" | b"congresswoman" | b"mayor"
        | b"councilman" | b"councilwoman" | b"councilor" | b"councillor" | b"sheriff"
        | b"captain" | b"judge" | b"sir" | b"dame" | b"saint" => Some(true),
        _ if CLINICIAN_TITLES.iter().any(|t| t.as_bytes() == &*low) => Some(false),
        b"administrator" | b"ceo" | b"cfo" | b"chair" | b"chaplain" | b"cmo" | b"cno" | b"coo"
        | b"coordinator" | b"dean" | b"director" | b"manager" | b"midwife" | b"paramedic"
        | b"physician" | b"supervisor" | b"surgeon" | b"technician" | b"technologist"
        | b"therapist" => Some(false),
        _ => None,
    }
}

/// Whose name stands at `span` of `text`, where its title or credential says: staff after a
/// clinician's or a job's title or with a credential ("Dr. Lee", "Nurse Manager Tamika Brooks",
/// "Jane Doe, RN"), an office holder after a rank, which the span may hold ("Sen. Warren",
/// "Mayor Johnson"); `None` for anyone else, a patient among them.
pub(crate) fn role(text: &str, span: Span) -> Option<Role> {
    let bytes = text.as_bytes();
    let name = bytes.get(span.start..span.end).unwrap_or_default();
    let first = name
        .iter()
        .position(|b| !b.is_ascii_alphanumeric())
        .map_or(name, |n| name.get(..n).unwrap_or_default());
    let before = bytes.get(..span.start).unwrap_or_default();
    let end = before
        .iter()
        .rposition(|b| !(b.is_ascii_whitespace() || matches!(b, b'.' | b',')))
        .map_or(0, |p| p + 1);
    let before = before.get(..end).unwrap_or_default();
    let title = before
        .iter()
        .rposition(|b| !b.is_ascii_alphanumeric())
        .map_or(before, |p| before.get(p + 1..).unwrap_or_default());
    let after = text
        .get(span.end..)
        .unwrap_or("")
        .trim_start_matches(|c: char| c.is_whitespace() || c == ',');
    let next = after
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("");
    // A credential has a capital after its first letter ("RN", "PhD", "PA-C"): most names' last
    // word has none, and the full test costs about 500 instructions.
    let last = name
        .rsplit(|b| *b == b',' || b.is_ascii_whitespace())
        .next()
        .unwrap_or_default();
    let credential_shaped = last.iter().skip(1).any(u8::is_ascii_uppercase);
    // A job title is only read before the span: "Dean Martin" is a name, "Dean Jane Ross" staff.
    match (title_role(first), title_role(title)) {
        (_, Some(false)) => Some(Role::Staff),
        _ if credential_shaped
            && ends_with_credential(text.get(span.start..span.end).unwrap_or(""))
            || is_credential_word(next) =>
        {
            Some(Role::Staff)
        }
        (Some(true), _) | (_, Some(true)) => Some(Role::Office),
        _ => None,
    }
}

/// Who a name's title or credential says the person is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A clinician or another member of staff ("Dr. Lee", "Jane Doe, RN", "Nurse Manager
    /// Tamika Brooks"): not the patient the post is about.
    Staff,
    /// An office holder or a public figure ("Sen. Warren", "Mayor Johnson"): not a patient in an
    /// ordinary post, but their stay in a hospital is as private as anyone's.
    Office,
}

/// Titles written before a clinician's name ("Dr. Smith", "Nurse Jackie"), shared with the
/// detectors that must tell a clinician from a patient.
pub(crate) const CLINICIAN_TITLES: &[&str] =
    &["dr", "doctor", "nurse", "prof", "professor", "pharmacist"];

/// Whether `word` is a clinical credential as written after a name: one of [`CREDENTIALS`], in
/// a credential's shape (all upper case, or an upper-case letter after the first: "RN", "PhD"),
/// so that the names "Ma" and "Do" stay names.
pub(crate) fn is_credential_word(word: &str) -> bool {
    let listed = word.len() <= 8
        && word.is_ascii()
        && CREDENTIAL_KEYS
            .binary_search(&lower_key(word.as_bytes()))
            .is_ok();
    listed
        && (word.chars().all(|c| !c.is_lowercase()) && word.chars().any(char::is_uppercase)
            || word.chars().skip(1).any(char::is_uppercase))
}

/// The bytes of a word of up to eight bytes, in ASCII lower case, as one integer from its low
/// byte up: such words are equal ignoring ASCII case when their keys are.
const fn lower_key(w: &[u8]) -> u64 {
    let mut key = 0;
    let mut at = 0;
    while at < w.len() && at < 8 {
        key |= (w[at].to_ascii_lowercase() as u64) << (8 * at);
        at += 1;
    }
    key
}

/// The [`lower_key`]s of [`CREDENTIALS`] (all lower case, none over eight bytes), sorted: a word
/// is one of them when its lower-cased key is found by a binary search, where comparing it with
/// each credential in turn cost about 180 instructions a word.
const CREDENTIAL_KEYS: [u64; CREDENTIALS.len()] = {
    let mut keys = [0u64; CREDENTIALS.len()];
    let mut i = 0;
    while i < keys.len() {
        let c = CREDENTIALS[i].as_bytes();
        assert!(c.len() <= 8);
        keys[i] = lower_key(c);
        i += 1;
    }
    // Insertion sort: a few thousand steps, once, when the crate is compiled.
    let mut i = 1;
    while i < keys.len() {
        let mut j = i;
        while j > 0 && keys[j - 1] > keys[j] {
            let t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
            j -= 1;
        }
        i += 1;
    }
    keys
};

/// Whether a name as the names rules report it ends in credentials ("Tomas Lee, PA-C", "Jane
/// Doe, RN"): its last word, or that word's first hyphen-joined part, is a credential.
pub(crate) fn ends_with_credential(name: &str) -> bool {
    let last = name
        .rsplit(|c: char| c == ',' || c.is_whitespace())
        .next()
        .unwrap_or("")
        .trim_end_matches('.');
    is_credential_word(last) || last.split('-').next().is_some_and(is_credential_word)
}

/// Post-nominal credentials of US clinicians ("Sara Diaz, MD, PhD"): licences, degrees,
/// certifications and fellowships as they follow a name on a badge, a byline or a signature.
const CREDENTIALS: &[&str] = &[
    // Physicians, dentists, pharmacists and other doctorates.
    "md", "do", "mbbs", "mbchb", "dds", "dmd", "dpm", "od", "dc", "pharmd", "rph", "aud", "dpt",
    "otd", "psyd", "phd", "edd", "drph", "scd", "dnp", "dnsc",
    // Nursing licences, advanced practice and certifications.
    "rn", "bsn", "msn", "lpn", "lvn", "cna", "aprn", "np", "fnp", "anp", "agnp", "acnp", "pnp",
    "pmhnp", "whnp", "nnp", "cns", "crna", "cnm", "cnl", "ccrn", "cen", "ocn", "rnc", "bc",
    // Physician assistants, therapists, dietitians, technicians, social workers, counsellors.
    "pa", "pt", "ot", "otr", "cota", "slp", "ccc", "rrt", "crt", "rd", "rdn", "ld", "cde", "cdces",
    "ibclc", "emt", "nrp", "atc", "rdh", "lcsw", "lmsw", "lpc", "lmft", "lmhc", "msw",
    // Master's degrees common in clinicians' signatures.
    "mph", "mha", "ms", "msc", "ma", // Fellowships of the specialty colleges.
    "facs", "facp", "facc", "faap", "facog", "faafp", "facep", "fccp", "fasn", "fache", "faan",
    "frcs", "frcp", "frcpc",
];

/// Lower-case surname particles ("van der Voet", "da Silva").
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "da", "di", "del", "della", "dos", "das", "du", "le", "la",
    "ter", "ten", "bin", "ibn", "al", "el",
];

/// Words that address or introduce someone by name.
const GREETINGS: &[&str] = &[
    "dear",
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank",
    "thx",
    "congrats",
    "congratulations",
    "welcome",
    "bye",
    "goodbye",
    "named",
    "called",
    "call",
    "meet",
    "met",
    "love",
    "miss",
    "ask",
    "tell",
    "cc",
    "attn",
    "attention",
];

/// Verbs of speech that sit next to a speaker's name ("said Felix").
const SPEECH_WORDS: &[&str] = &[
    "said", "says", "asked", "asks", "told", "tells", "replied", "wrote", "writes", "answered",
];

/// Words that mark the named person as a patient.
const PATIENT_WORDS: &[&str] = &["patient", "patients", "pt", "pts"];

/// Prepositions and verbs that put a place after them.
const PLACE_CUES: &[&str] = &[
    "in", "from", "to", "at", "near", "visit", "visiting", "visited", "outside", "around",
    "toward", "towards", "via", "across",
];

/// Words before a place cue that tie the place to a person ("lives in", "moved to", "born in").
const RESIDE_WORDS: &[&str] = &[
    "live",
    "lives",
    "living",
    "lived",
    "moved",
    "move",
    "moving",
    "born",
    "raised",
    "up",
    "based",
    "staying",
    "stay",
    "stayed",
    "arrived",
    "relocated",
    "reside",
    "resides",
    "located",
    "here",
    "home",
    "hometown",
    "i'm",
    "im",
    "am",
    "we're",
    "are",
    "is",
    "was",
    "be",
];

/// Street words that end the street line of a postal address.
const STREET_WORDS: &[&str] = &[
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "place",
    "lane",
    "drive",
    "way",
    "boulevard",
    "blvd",
    "court",
    "square",
];

/// The words before a name that [`name_cue`] reads as introducing it, alone or after another word
/// ("i'm", "name is", "call me"); "name" stands for "name's" too, looked up without its "'s".
const INTRO_WORDS: &[&str] = &["i'm", "im", "name", "names", "is", "me", "am", "was"];

/// Months, weekdays and holidays: capitalized, sometimes names, never people here.
const CALENDAR_WORDS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "christmas",
    "easter",
    "thanksgiving",
    "halloween",
    "xmas",
];

/// Passes pre-computed hashes through unchanged: keys are already hashes of the word (`hash_bytes`).
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// One FNV-1a step: byte `b` into state `h`.
const fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ b as u64).wrapping_mul(FNV_PRIME)
}

/// The low 32 bits of FNV-1a of `bytes` continued from state `h`, which is all a feature id
/// keeps: they depend only on the low 32 bits of the state and of the prime, so the sums are
/// done in 32 bits (the same ids: the model's weights depend on them).
fn fnv32(h: u32, bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u32::from(b)).wrapping_mul(FNV_PRIME as u32))
}

/// Feature kinds, one byte hashed before each feature's value.
const KINDS: usize = 17;

/// The FNV-1a state after each feature kind's byte, so that a feature hashes only its value.
const KIND_SEEDS: [u64; KINDS] = {
    let mut seeds = [0u64; KINDS];
    let mut k = 0;
    while k < KINDS {
        seeds[k] = fnv_step(FNV_OFFSET, k as u8);
        k += 1;
    }
    seeds
};

/// The id of a feature of `kind` whose value is the one byte `b`.
const fn byte_feature(kind: usize, b: u8) -> u32 {
    fnv_step(KIND_SEEDS[kind], b) as u32
}

/// The id of the bias feature (kind 0, no value). This and the tables below hold the ids of the
/// features that take one of a few values, hashed once here instead of once per token.
const BIAS_FEATURE: u32 = KIND_SEEDS[0] as u32;

/// Ids of a feature of `kind` for each one-byte value below `N`.
const fn byte_features<const N: usize>(kind: usize) -> [u32; N] {
    let mut ids = [0u32; N];
    let mut b = 0;
    while b < N {
        ids[b] = byte_feature(kind, b as u8);
        b += 1;
    }
    ids
}

/// Ids of "capitals are weak in this message" (kind 2), by `usize::from(weak_caps)`.
const WEAK_CAPS_FEATURES: [u32; 2] = byte_features(2);

/// Ids of each of the token's own flag bits (kind 3), by bit number.
const OWN_BIT_FEATURES: [u32; 32] = byte_features(3);

/// Ids of the word's length in bytes, capped at 12 (kind 6).
const LENGTH_FEATURES: [u32; 13] = byte_features(6);

/// Ids of a neighbour past either end of the message (kinds 7, 9, 11, 13: the tokens one and two
/// before, one and two after).
const EDGE_FEATURES: [u32; 4] = {
    let mut ids = [0u32; 4];
    let mut k = 0;
    while k < 4 {
        let mut h = KIND_SEEDS[7 + 2 * k];
        let mut at = 0;
        while at < b"edge".len() {
            h = fnv_step(h, b"edge"[at]);
            at += 1;
        }
        ids[k] = h as u32;
        k += 1;
    }
    ids
};

/// Ids of the gap features before and after a token (kinds 15 and 16) when the gap is one space
/// or none, as most are: its class is a space that breaks no line (see [`gap_feature`]).
const SPACE_GAP_FEATURES: [u32; 2] = [
    fnv_step(fnv_step(KIND_SEEDS[15], b' '), 0) as u32,
    fnv_step(fnv_step(KIND_SEEDS[16], b' '), 0) as u32,
];

/// The id of the gap feature of `kind` for `gap`: its first byte that is not a space (a space
/// when there is none), and whether it breaks a line. `space` is the id of an empty or one-space
/// gap's class, hashed once.
#[inline]
fn gap_feature(kind: usize, space: u32, gap: &[u8]) -> u32 {
    if matches!(gap, b"" | b" ") {
        return space;
    }
    #[expect(
        clippy::manual_contains,
        reason = "gaps are a few bytes: a loop, where `contains` would call memchr"
    )]
    let class = [
        gap.iter().copied().find(|&b| b != b' ').unwrap_or(b' '),
        u8::from(gap.iter().any(|&b| b == b'\n')),
    ];
    feature(kind, &class)
}

/// The id of a feature of `kind` with value `value`.
#[inline]
fn feature(kind: usize, value: &[u8]) -> u32 {
    fnv32(
        KIND_SEEDS.get(kind).copied().unwrap_or(FNV_OFFSET) as u32,
        value,
    )
}

/// The most features a token has: the bias, its flags, the weak-capitals feature, one per own
/// flag bit, two suffixes, its length, two per neighbour and two gaps. Fewer than
/// [`PACKED_MAX`], so that its weights sum in one packed `u64`.
const MAX_FEATURES: u32 = 9 + OWN_MASK.count_ones() + 8;
const _: () = assert!(MAX_FEATURES <= PACKED_MAX);

/// Receives the feature ids of one token as they are made.
trait FeatureSink {
    /// Take feature `id`.
    fn put(&mut self, id: u32);
}

/// Training collects the ids.
impl FeatureSink for Vec<u32> {
    fn put(&mut self, id: u32) {
        self.push(id);
    }
}

/// The detector sums the model's packed weight rows of the ids (at most [`MAX_FEATURES`]).
struct ScoreSink<'m> {
    model: &'m Model,
    sum: u64,
}

impl<'m> ScoreSink<'m> {
    fn new(model: &'m Model) -> Self {
        ScoreSink { model, sum: 0 }
    }
}

impl FeatureSink for ScoreSink<'_> {
    #[inline]
    fn put(&mut self, id: u32) {
        self.sum += self.model.row(id);
    }
}

/// The features of neighbour `j` of a token (`edge` when there is none): its flags of kind `kind`
/// and, for an ordinary word, the word itself (`kind + 1`). Written out per neighbour: in a loop the
/// running scores stayed in memory.
#[inline(always)]
fn neighbour<S: FeatureSink>(
    scan: &Scan<'_>,
    toks: &Facts<'_, '_>,
    out: &mut S,
    kind: usize,
    j: Option<usize>,
    edge: u32,
) {
    match j {
        Some(j) => {
            let g = toks.flags(j);
            out.put(feature(kind, &(g & CONTEXT_MASK).to_le_bytes()));
            if g & CONTEXT_WORD != 0 || g & (FIRST | LAST | PLACE) == 0 && g & DIGIT == 0 {
                out.put(feature(kind + 1, stem(scan, j, g)));
            }
        }
        None => out.put(edge),
    }
}

/// The last `n` characters of `w` (all of a shorter word): each starts at a byte that does not
/// continue a UTF-8 sequence. Nearly every word ends in `n` such bytes, which are then the answer.
fn tail(w: &[u8], n: usize) -> &[u8] {
    if let Some(t) = w.len().checked_sub(n).and_then(|s| w.get(s..))
        && t.iter().all(|&b| b & 0xC0 != 0x80)
    {
        return t;
    }
    w.iter()
        .enumerate()
        .rev()
        .filter(|&(_, &b)| b & 0xC0 != 0x80)
        .nth(n.saturating_sub(1))
        .map_or(w, |(b, _)| w.get(b..).unwrap_or_default())
}

/// The ids of the features of the last three and last two characters of `w` (kinds 4 and 5).
/// Nearly every word ends in three bytes that each start a character: both are hashed from
/// them with the lengths known, where the general path hashes each [`tail`] in a loop.
#[inline]
fn suffix_features(w: &[u8]) -> [u32; 2] {
    if let Some(&[a, b, c]) = w.len().checked_sub(3).and_then(|s| w.get(s..))
        && [a, b, c].iter().all(|&x| x & 0xC0 != 0x80)
    {
        return [feature(4, &[a, b, c]), feature(5, &[b, c])];
    }
    [feature(4, tail(w, 3)), feature(5, tail(w, 2))]
}

/// What kind of place a gazetteer entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum PlaceKind {
    Country = 1,
    State,
    City,
    Region,
}

impl PlaceKind {
    /// The kind as a number, 0 for none (see [`Tok::place`]).
    fn code(kind: Option<Self>) -> u32 {
        kind.map_or(0, |k| k as u32)
    }

    /// The kind of a [`PlaceKind::code`].
    fn from_code(code: u32) -> Option<Self> {
        match code {
            1 => Some(PlaceKind::Country),
            2 => Some(PlaceKind::State),
            3 => Some(PlaceKind::City),
            4 => Some(PlaceKind::Region),
            _ => None,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "country" => Some(PlaceKind::Country),
            "state" => Some(PlaceKind::State),
            "city" => Some(PlaceKind::City),
            "region" => Some(PlaceKind::Region),
            _ => None,
        }
    }

    /// Smaller than a state: a Safe Harbor identifier on its own.
    fn is_subdivision(self) -> bool {
        matches!(self, PlaceKind::City)
    }
}

/// One word or phrase of the lexicon.
struct Entry {
    text: Box<str>,
    flags: u32,
    place: Option<PlaceKind>,
}

/// All words and phrases the detector knows, keyed by the `hash_bytes` hash of their lower-case text
/// (phrase words joined by one space), with the text kept to reject hash collisions.
#[derive(Default)]
struct Lexicon {
    /// The entries while the lexicon is built; [`Lexicon::seal`] moves them to `entries`.
    map: HashMap<u64, Entry, BuildHasherDefault<PassThrough>>,
    /// Every entry, once sealed.
    entries: Vec<Entry>,
    /// Open-addressed table of `entries` by hash, probed linearly from the hash's top bits: a
    /// probe is a shift and a load, where the general map's group probe cost about three times
    /// as many instructions, and every token a rule asks about pays one.
    slots: Box<[Slot]>,
    /// `slots` has `2^(64 - slot_shift)` slots: a hash's slot is its spread bits shifted right by
    /// this (at most 63, as the table has at least two slots).
    slot_shift: u32,
    /// One bit per [`LOWER_BITS`]-bit slice of a word hash, set for the words that matter even
    /// when written in lower case in mixed-case text (places, place heads, patient words); a clear
    /// bit spares the lookup of such a word.
    lower: Box<LowerBits>,
    /// The same bits for the words with any of [`CUE_FLAGS`]: a clear bit answers whether a
    /// word before a capitalized one is a cue without looking the word up.
    cues: Box<LowerBits>,
}

/// The bits of [`Lexicon::lower`] and [`Lexicon::cues`], one per [`lower_bit`].
type LowerBits = Bits<{ 1 << (LOWER_BITS - 6) }>;

/// One slot of [`Lexicon::slots`]: what a lookup needs of an entry, so that a word of at most
/// eight bytes (nearly every word) is answered without reading the entry itself.
#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    /// The entry's facts as a token's cell holds them ([`Tok::pack`]).
    facts: u32,
    /// The entry's index in [`Lexicon::entries`] shifted left by eight, over its length in bytes
    /// (255 for 255 or more); `EMPTY` for a free slot.
    tag: u32,
}

/// [`Slot::tag`] of a free slot.
const EMPTY: u32 = u32::MAX;

/// The [`Slot::tag`] of entry `entry`, whose text is `len` bytes long.
fn slot_tag(entry: u32, len: usize) -> u32 {
    entry << 8 | len.min(0xFF) as u32
}

/// Hash bits indexing [`Lexicon::lower`]: 64 Ki bits (8 KiB) for about 2,000 words.
const LOWER_BITS: u32 = 16;

/// Flags that make a lower-case word worth a lookup in mixed-case text (as does
/// [`lower_first_name`]).
const LOWER_FLAGS: u32 = PLACE | PLACE_HEAD | PATIENT;

/// Flags of the few words that cue a place or a name ("in", "street", "Dr", "said"): the rules
/// ask whether the word before a capitalized one has them, and most such words have none.
const CUE_FLAGS: u32 = PLACE_CUE | STREET | RESIDES | TITLE | PATIENT | GREETING | SPEECH | INTRO;

/// The first slot to probe for a word hash in a table of `2^(64 - shift)` slots.
#[inline]
fn slot_of(h: u64, shift: u32) -> usize {
    // The top bits of a word hash depend mostly on its first bytes: a multiply spreads them all
    // there. The shift is one instruction: every lookup pays for it.
    h.wrapping_mul(0xD6E8_FEB8_6659_FD93).wrapping_shr(shift) as usize
}

/// The bit of a word hash in [`Lexicon::lower`]: its low bits, which the word hash's last step
/// mixes from all of its product (where its top bits come mostly from a word's first bytes).
fn lower_bit(h: u64) -> usize {
    (h & ((1 << LOWER_BITS) - 1)) as usize
}

impl Lexicon {
    fn add(&mut self, text: &str, flags: u32, place: Option<PlaceKind>) {
        let e = self
            .map
            .entry(hash_bytes(text.as_bytes()))
            .or_insert_with(|| Entry {
                text: text.into(),
                flags: 0,
                place: None,
            });
        if &*e.text == text {
            e.flags |= flags;
            if place.is_some() && e.place.is_none() {
                e.place = place;
            }
        }
    }

    /// Once every word is added: build the slot table (at most half full) and the
    /// [`Lexicon::lower`] bits.
    fn seal(&mut self) {
        let map = std::mem::take(&mut self.map);
        let bits = (2 * map.len()).max(2).next_power_of_two().trailing_zeros();
        let mut slots = vec![
            Slot {
                hash: 0,
                facts: 0,
                tag: EMPTY,
            };
            1 << bits
        ];
        let mut lower = LowerBits::boxed();
        let mut cues = LowerBits::boxed();
        self.entries = Vec::with_capacity(map.len());
        for (hash, e) in map {
            let b = lower_bit(hash);
            if e.flags & LOWER_FLAGS != 0 || lower_first_name(e.flags) {
                lower.insert(b);
            }
            if e.flags & CUE_FLAGS != 0 {
                cues.insert(b);
            }
            let mut at = slot_of(hash, 64 - bits);
            while slots.get(at).is_some_and(|s| s.tag != EMPTY) {
                at = (at + 1) & (slots.len() - 1);
            }
            // An index that does not fit the tag's 24 bits would need 16 million entries.
            if let (Some(slot), Ok(entry)) = (
                slots.get_mut(at),
                u32::try_from(self.entries.len()).map(|n| n.min(EMPTY >> 8)),
            ) {
                *slot = Slot {
                    hash,
                    facts: Tok {
                        flags: e.flags,
                        place: PlaceKind::code(e.place),
                    }
                    .pack(),
                    tag: slot_tag(entry, e.text.len()),
                };
                self.entries.push(e);
            }
        }
        self.slots = slots.into_boxed_slice();
        self.slot_shift = 64 - bits;
        self.lower = lower;
        self.cues = cues;
    }

    /// The slot of the entry whose text hashes to `hash`, if any (the map kept one entry per
    /// hash).
    #[inline]
    fn by_hash(&self, hash: u64) -> Option<Slot> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = slot_of(hash, self.slot_shift);
        loop {
            let slot = *self.slots.get(at)?;
            if slot.tag == EMPTY {
                return None;
            }
            if slot.hash == hash {
                return Some(slot);
            }
            at = (at + 1) & mask;
        }
    }

    /// The entry of a slot.
    fn entry(&self, slot: Slot) -> Option<&Entry> {
        self.entries.get((slot.tag >> 8) as usize)
    }

    /// False when no word with this hash is a place, a place head, a patient word or a
    /// [`lower_first_name`].
    fn may_matter_lower(&self, hash: u64) -> bool {
        self.lower.contains(lower_bit(hash))
    }

    /// False when no word with this hash has any of [`CUE_FLAGS`].
    #[inline]
    fn may_be_cue(&self, hash: u64) -> bool {
        self.cues.contains(lower_bit(hash))
    }

    /// What the lexicon knows of `text`, as [`Tok::pack`]ed facts.
    #[cfg(test)]
    fn get(&self, text: &[u8]) -> Option<u32> {
        self.get_hashed(hash_bytes(text), text)
    }

    /// What the lexicon knows of `text`, whose [`hash_bytes`] is `hash`, as [`Tok::pack`]ed
    /// facts. Texts of one length up to eight bytes have distinct hashes (the hash of such a
    /// text is a bijection of its bytes read as one integer), so for those (nearly every word)
    /// an equal hash and length is an equal text, told without reading the entry.
    #[inline]
    fn get_hashed(&self, hash: u64, text: &[u8]) -> Option<u32> {
        let slot = self.by_hash(hash)?;
        let same = if text.len() <= 8 {
            (slot.tag & 0xFF) as usize == text.len()
        } else {
            self.entry(slot).is_some_and(|e| e.text.as_bytes() == text)
        };
        same.then_some(slot.facts)
    }
}

/// Lower-case words of a phrase, split the way `Scan` splits tokens.
fn words(phrase: &str) -> impl Iterator<Item = &str> {
    phrase
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
}

/// The compiled names detector.
pub(crate) struct Detector {
    lex: Lexicon,
    model: Option<Model>,
    /// What a name hit's explanation says after the quoted name, by [`NameWhy`]; a place hit's,
    /// by [`place_tail_index`]. Worded once here, so that each explanation joins three pieces.
    name_tails: [String; NAME_WHYS],
    place_tails: [String; PLACE_TAILS],
}

/// Facts about one token of the message being screened; all zero until filled. A message's cells
/// hold them packed in one `u32` each (see [`Tok::pack`]), so that they start as one small block
/// of zeros: a stack array zeroed at once, or a zeroed allocation for a long message.
#[derive(Clone, Copy, Default)]
struct Tok {
    flags: u32,
    /// Gazetteer kind when the word alone is a place, as a [`PlaceKind::code`].
    place: u32,
}

/// Where a packed [`Tok`] keeps its place code, in bits no flag uses.
const PLACE_SHIFT: u32 = 24;
const PLACE_BITS: u32 = 0b111 << PLACE_SHIFT;
const _: () = assert!(
    (FIRST
        | LAST
        | COMMON
        | PLACE
        | PLACE_HEAD
        | TITLE
        | PARTICLE
        | CALENDAR
        | GREETING
        | SPEECH
        | PATIENT
        | PLACE_CUE
        | RESIDES
        | ORG
        | POPULAR
        | STREET
        | PLACE_PREFIX
        | CAP
        | SENT_START
        | POSSESSIVE
        | DIGIT
        | SHORT
        | UPPER
        | COVERED
        | INTRO
        | CREDENTIAL
        | HANDLE
        | LEXED
        | KNOWN)
        & PLACE_BITS
        == 0
        && PlaceKind::Region as u32 <= PLACE_BITS >> PLACE_SHIFT
);

impl Tok {
    /// The cell value of these facts.
    fn pack(self) -> u32 {
        self.flags | self.place << PLACE_SHIFT
    }

    /// The facts of a [`Tok::pack`] value.
    fn unpack(v: u32) -> Self {
        Tok {
            flags: v & !PLACE_BITS,
            place: (v & PLACE_BITS) >> PLACE_SHIFT,
        }
    }
}

/// Whether token `t` ends in a possessive "'s" after at least one other byte. Only a token with an
/// inner apostrophe can, which spares most tokens the look at their last bytes.
#[inline]
fn is_possessive(norm: &[u8], t: &Token) -> bool {
    t.shape.apostrophe()
        && t.end.saturating_sub(t.start) > 2
        && t.end.checked_sub(2).and_then(|s| norm.get(s..t.end)) == Some(b"'s")
}

/// The facts of each token of one message, filled in the first time a rule asks. In mixed-case
/// text most words are lower case and no rule asks about them (a name or place starts at a
/// capitalized word, and its cues are its close neighbours), so they cost no lookup.
struct Facts<'a, 't> {
    scan: &'a Scan<'t>,
    lex: &'a Lexicon,
    /// One [`Tok::pack`] value per token.
    cells: &'a [Cell<u32>],
}

impl Facts<'_, '_> {
    fn len(&self) -> usize {
        self.cells.len()
    }

    /// The [`Tok::pack`]ed facts of token `i`, `None` past the end.
    #[inline]
    fn packed(&self, i: usize) -> Option<u32> {
        let cell = self.cells.get(i)?;
        let v = cell.get();
        if v & KNOWN != 0 {
            return Some(v);
        }
        let v = self.fill(i, v);
        cell.set(v);
        Some(v)
    }

    /// The facts of token `i`, `None` past the end.
    #[inline]
    fn tok(&self, i: usize) -> Option<Tok> {
        self.packed(i).map(Tok::unpack)
    }

    /// The flags of token `i`, `None` past the end.
    #[inline]
    fn get(&self, i: usize) -> Option<u32> {
        self.packed(i).map(|v| v & !PLACE_BITS)
    }

    /// The flags of token `i` (none past the end, where callers never ask).
    #[inline]
    fn flags(&self, i: usize) -> u32 {
        self.get(i).unwrap_or(0)
    }

    /// Gazetteer kind of token `i` when the word alone is a place.
    fn place(&self, i: usize) -> Option<PlaceKind> {
        self.tok(i).and_then(|t| PlaceKind::from_code(t.place))
    }

    /// The lexicon's facts of token `i` (all of its facts when already filled; none past the
    /// end). Most words a rule starts at need only these to be passed over, so they are
    /// looked up and kept ([`LEXED`]) without reading their shape and surroundings. A
    /// possessive is looked up by its stem, so it is filled.
    #[inline(always)]
    fn lexical(&self, i: usize) -> u32 {
        let (Some(cell), Some(t)) = (self.cells.get(i), self.scan.tokens.get(i)) else {
            return 0;
        };
        let v = cell.get();
        if v & (KNOWN | LEXED) != 0 {
            return v;
        }
        if t.shape.apostrophe() {
            return self.flags(i);
        }
        let word = self.scan.norm.as_bytes().get(t.start..t.end);
        let v = self
            .lex
            .get_hashed(t.hash, word.unwrap_or_default())
            .unwrap_or(0);
        cell.set(v | LEXED);
        v
    }

    /// The facts known of token `i` so far without filling it: its lexicon facts once
    /// [`LEXED`] or [`KNOWN`], else none.
    #[inline]
    fn so_far(&self, i: usize) -> u32 {
        self.cells.get(i).map_or(0, Cell::get)
    }

    /// Whether token `i` has any of the flags `cues` (some of [`CUE_FLAGS`]). A token not yet
    /// filled whose word the lexicon's cue bits rule out has none, and stays unfilled: most
    /// words before a capitalized one are no cue, and a rule that asks about no more of them
    /// spares their lookup. A possessive is looked up by its stem, so it is filled.
    #[inline]
    fn has_cue(&self, i: usize, cues: u32) -> bool {
        if let (Some(cell), Some(t)) = (self.cells.get(i), self.scan.tokens.get(i))
            && cell.get() & KNOWN == 0
            && !t.shape.apostrophe()
            && !self.lex.may_be_cue(t.hash)
        {
            return false;
        }
        self.flags(i) & cues != 0
    }

    /// Add `bits` to the flags of token `i`.
    fn mark(&self, i: usize, bits: u32) {
        if let (Some(v), Some(cell)) = (self.packed(i), self.cells.get(i)) {
            cell.set(v | bits);
        }
    }

    /// End of token `i` in `norm` without a possessive "'s".
    fn word_end(&self, i: usize) -> Option<usize> {
        let t = self.scan.tokens.get(i)?;
        let stem = if self.flags(i) & POSSESSIVE != 0 {
            2
        } else {
            0
        };
        Some(t.end.saturating_sub(stem))
    }

    /// Look token `i` up and read its shape; `marks` is what its cell held before, its lexicon
    /// facts when [`LEXED`]. Returns the [`Tok::pack`]ed facts.
    #[inline(never)]
    fn fill(&self, i: usize, marks: u32) -> u32 {
        let scan = self.scan;
        let Some(t) = scan.tokens.get(i) else {
            return 0;
        };
        let norm = scan.norm.as_bytes();
        let possessive = is_possessive(norm, t);
        let stem_end = t.end.saturating_sub(2 * usize::from(possessive));
        let word = norm.get(t.start..stem_end).unwrap_or_default();
        // The scan hashed every word once; only a possessive's stem needs hashing again.
        let mut flags = if marks & LEXED != 0 {
            marks & !LEXED
        } else {
            let hash = if possessive { hash_bytes(word) } else { t.hash };
            self.lex.get_hashed(hash, word).unwrap_or(0) | marks
        } | KNOWN;
        if possessive {
            flags |= POSSESSIVE;
        }
        if t.shape.capitalized() {
            flags |= CAP;
        }
        if t.shape.all_upper() {
            flags |= UPPER;
            // "ER" and "ED" in capitals after "the", "in", "to", "at", "from" or "our" are the
            // emergency department ("stuck in the ER"), not the name "Ed" ("ED SHEERAN").
            if matches!(word, b"er" | b"ed")
                && i.checked_sub(1).is_some_and(|p| {
                    matches!(
                        scan.tok(p).as_bytes(),
                        b"the" | b"in" | b"to" | b"at" | b"from" | b"our"
                    )
                })
            {
                flags |= COMMON;
            }
        }
        if t.shape.has_digit() {
            flags |= DIGIT;
        }
        // One character: at most four bytes, all but the first continuing its UTF-8 sequence.
        if word.len() <= 1
            || word.len() <= 4
                && word
                    .get(1..)
                    .is_some_and(|rest| rest.iter().all(|&b| b & 0xC0 == 0x80))
        {
            flags |= SHORT;
        }
        let prev_end = i
            .checked_sub(1)
            .and_then(|p| scan.tokens.get(p))
            .map(|p| p.end);
        // Most words follow one space, which neither ends a sentence nor joins a handle.
        if let Some(e) = prev_end
            && e + 1 == t.start
            && norm.get(e) == Some(&b' ')
        {
            return flags;
        }
        if prev_end.is_none_or(|e| norm.get(e..t.start).is_some_and(starts_sentence)) {
            flags |= SENT_START;
        }
        // Only a token right after "@", "_" or another word's end can be in a handle.
        let before = t.start.checked_sub(1).and_then(|b| norm.get(b));
        if matches!(before, Some(b'@' | b'_')) || prev_end == Some(t.start) {
            flags |= in_handle(scan, i);
        }
        flags
    }
}

/// [`HANDLE`] when token `i` is part of an @-handle: the "@" starts it (at the start of the text or
/// after a byte that is no letter or digit, unlike an e-mail address), and its words are joined by
/// "_" or nothing.
#[cold]
#[inline(never)]
fn in_handle(scan: &Scan<'_>, i: usize) -> u32 {
    let norm = scan.norm.as_bytes();
    let mut k = i;
    loop {
        let gap = gap_before(scan, k);
        if gap.is_empty() || gap == b"_" {
            match k.checked_sub(1) {
                Some(p) if i - p < MAX_HANDLE_TOKENS => k = p,
                _ => return 0,
            }
            continue;
        }
        let Some(at) = scan.tokens.get(k).and_then(|t| t.start.checked_sub(1)) else {
            return 0;
        };
        let opens = norm.get(at) == Some(&b'@')
            && at
                .checked_sub(1)
                .and_then(|b| norm.get(b))
                .is_none_or(|b| !b.is_ascii_alphanumeric());
        return if opens { HANDLE } else { 0 };
    }
}

/// The most tokens looked back over for the "@" of a handle.
const MAX_HANDLE_TOKENS: usize = 8;

/// Which evidence made a span a name; worded into the explanation.
#[derive(Clone, Copy)]
#[repr(usize)]
enum NameWhy {
    Title,
    Introduced,
    Addressed,
    Patient,
    Relative,
    FirstName,
    FullName,
    Possessive,
    Listed,
}

/// How many [`NameWhy`] there are.
const NAME_WHYS: usize = NameWhy::Listed as usize + 1;

/// How many place explanations there are: five kinds (none included) and the model's, tied to
/// someone or not.
const PLACE_TAILS: usize = 12;

/// How a place was found.
#[derive(Debug, Clone, Copy)]
enum Found {
    /// In the gazetteer, as a place of this kind.
    Listed(PlaceKind),
    /// Read from its context: after a place cue or on an address's town line.
    Context,
    /// Labelled by the name model.
    Model,
}

/// The index in [`Detector::place_tails`] of a place of `kind` (`None` for one read from its
/// context, or found by the `model`), `tied` to where someone lives.
fn place_tail_index(kind: Option<PlaceKind>, tied: bool, model: bool) -> usize {
    let kind = if model {
        5
    } else {
        PlaceKind::code(kind) as usize
    };
    kind * 2 + usize::from(tied)
}

/// What a name hit's explanation says after the quoted name when the model found it.
const MODEL_NAME_TAIL: &str = "\" looks like a person's name: the name model reads it so from its spelling and the words around it; names are HIPAA Safe Harbor identifiers (A) when they point to a patient.";

/// A hit's explanation: `text` in an opening quote, then `tail` (which closes it). Written into
/// one string of its final size, where `concat` first walks the pieces for their length and
/// copies each through its general loop (about 100 instructions a hit).
fn quoted(text: &str, tail: &str) -> String {
    let mut s = String::with_capacity(1 + text.len() + tail.len());
    s.push('"');
    s.push_str(text);
    s.push_str(tail);
    s
}

/// What a place hit's explanation says after the quoted place.
fn place_tail(kind: Option<PlaceKind>, tied: bool, model: bool) -> String {
    let small = kind.is_none_or(PlaceKind::is_subdivision);
    let what = match kind {
        Some(PlaceKind::Country) => "a country",
        Some(PlaceKind::State) => "a state or province",
        Some(PlaceKind::Region) => "a region",
        Some(PlaceKind::City) => "a city or neighbourhood",
        None if model => {
            "a place name, as the name model reads it from its spelling and the words around it"
        }
        None => {
            "a place name read from its context (after \"in\", \"from\" or \"at\", or on the town line of an address)"
        }
    };
    let why = if small {
        "places smaller than a state are HIPAA Safe Harbor identifiers (B)"
    } else {
        "a place larger than a state is not a Safe Harbor identifier on its own, but next to a name or a condition it narrows down who someone is"
    };
    let person = if tied {
        " and is tied to where someone lives or comes from"
    } else {
        ""
    };
    ["\" is ", what, person, "; ", why, "."].concat()
}

impl NameWhy {
    /// Every reason, in the order of their numbers.
    const ALL: [NameWhy; NAME_WHYS] = [
        NameWhy::Title,
        NameWhy::Introduced,
        NameWhy::Addressed,
        NameWhy::Patient,
        NameWhy::Relative,
        NameWhy::FirstName,
        NameWhy::FullName,
        NameWhy::Possessive,
        NameWhy::Listed,
    ];

    /// What a name hit's explanation says after the quoted name.
    fn tail(self) -> String {
        ["\" looks like a person's name: it ", self.words(), "; names identify people and are HIPAA Safe Harbor identifiers (A) when they point to a patient."].concat()
    }

    fn words(self) -> &'static str {
        match self {
            NameWhy::Title => "follows a title such as Dr. or Mrs.",
            NameWhy::Introduced => "is introduced as a name (\"my name is\", \"I'm\", \"call me\")",
            NameWhy::Addressed => "is someone addressed or quoted by name",
            NameWhy::Patient => "is given as a patient's name",
            NameWhy::Relative => "follows a family word such as \"my son\" or \"her husband\"",
            NameWhy::FirstName => "is a common first name in the US Census lists",
            NameWhy::FullName => "is a first name followed by a surname",
            NameWhy::Possessive => "is a name used in the possessive",
            NameWhy::Listed => "is listed together with another name",
        }
    }
}

impl Detector {
    /// Compile for `policy`: the Census lists, the common-word list, the gazetteer and the cue words,
    /// plus the organization's and its products' own names, which are never reported.
    pub fn new(policy: &Policy) -> Result<Self, ScreenError> {
        let mut lex = Lexicon::default();
        lex.map.reserve(100_000);
        for (rank, w) in FIRST_NAMES
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .enumerate()
        {
            lex.add(
                w,
                if rank < POPULAR_FIRST_NAMES {
                    FIRST | POPULAR
                } else {
                    FIRST
                },
                None,
            );
        }
        for w in SURNAMES.lines().map(str::trim).filter(|w| !w.is_empty()) {
            lex.add(w, LAST, None);
        }
        for w in COMMON_WORDS
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty())
        {
            lex.add(w, COMMON, None);
        }
        for (n, line) in PLACES.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, kind) = line
                .split_once('\t')
                .and_then(|(n, k)| Some((n, PlaceKind::parse(k.trim())?)))
                .ok_or_else(|| ScreenError::Compile {
                    what: "places gazetteer".to_owned(),
                    message: format!("line {}: expected name<TAB>kind", n + 1),
                })?;
            let parts: Vec<&str> = words(name).collect();
            let phrase = parts.join(" ");
            if parts.len() > MAX_PLACE_TOKENS || parts.len() > 1 && phrase.len() > MAX_PLACE_BYTES {
                continue;
            }
            if let [head, _, ..] = parts.as_slice() {
                lex.add(head, PLACE_HEAD, None);
            }
            for k in 2..parts.len() {
                if let Some(prefix) = parts.get(..k) {
                    lex.add(&prefix.join(" "), PLACE_PREFIX, None);
                }
            }
            lex.add(&phrase, PLACE, Some(kind));
        }
        let small: [(&[&str], u32); 11] = [
            (CREDENTIALS, CREDENTIAL),
            (STREET_WORDS, STREET),
            (TITLES, TITLE),
            (PARTICLES, PARTICLE),
            (GREETINGS, GREETING),
            (SPEECH_WORDS, SPEECH),
            (PATIENT_WORDS, PATIENT),
            (PLACE_CUES, PLACE_CUE),
            (RESIDE_WORDS, RESIDES),
            (CALENDAR_WORDS, CALENDAR),
            (INTRO_WORDS, INTRO),
        ];
        for (list, flag) in small {
            for w in list {
                lex.add(w, flag, None);
            }
        }
        let own = std::iter::once(policy.organization.name.as_str())
            .chain(policy.organization.sites.iter().map(String::as_str))
            .chain(policy.products.iter().flat_map(|p| {
                std::iter::once(p.name.as_str())
                    .chain(std::iter::once(p.generic.as_str()))
                    .chain(p.aliases.iter().map(String::as_str))
            }));
        for phrase in own {
            for w in words(&phrase.to_lowercase()) {
                lex.add(w, ORG, None);
            }
        }
        lex.seal();
        let kinds = [
            None,
            Some(PlaceKind::Country),
            Some(PlaceKind::State),
            Some(PlaceKind::City),
            Some(PlaceKind::Region),
        ];
        let mut place_tails: [String; PLACE_TAILS] = Default::default();
        for (kind, model) in kinds.map(|k| (k, false)).into_iter().chain([(None, true)]) {
            for tied in [false, true] {
                if let Some(t) = place_tails.get_mut(place_tail_index(kind, tied, model)) {
                    *t = place_tail(kind, tied, model);
                }
            }
        }
        Ok(Detector {
            lex,
            model: Model::parse(NAME_MODEL),
            name_tails: NameWhy::ALL.map(NameWhy::tail),
            place_tails,
        })
    }

    /// Append name and place hits for one message.
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink) {
        let n = cx.scan.tokens.len();
        if n == 0 {
            return;
        }
        let mut small = [0u32; SMALL_TOKENS];
        let mut stack;
        let mut heap;
        let zeros: &mut [u32] = if let Some(cells) = small.get_mut(..n) {
            cells
        } else if n <= STACK_TOKENS {
            stack = [0u32; STACK_TOKENS];
            stack.get_mut(..n).unwrap_or_default()
        } else {
            heap = vec![0u32; n];
            &mut heap
        };
        let cells = Cell::from_mut(zeros).as_slice_of_cells();
        let toks = Facts {
            scan: cx.scan,
            lex: &self.lex,
            cells,
        };
        let mut small_left = [0u64; STACK_TOKENS.div_ceil(64)];
        let mut heap_left;
        let left: &mut [u64] = if n <= STACK_TOKENS {
            &mut small_left
        } else {
            heap_left = vec![0u64; n.div_ceil(64)];
            &mut heap_left
        };
        let weak_caps = self.rules(cx, sink, &toks, left);
        if let Some(model) = &self.model {
            self.model_pass(cx, sink, &toks, weak_caps, model, left);
        }
    }

    /// Run the rules over `toks`, and mark the tokens they reported as `COVERED`. Sets the bit of
    /// each token they tried and left in `left` (one bit per token, from the low bit of the first
    /// word up): the only tokens the model may label (see [`Detector::model_pass`]). Returns
    /// whether capitalization is uninformative in this message.
    fn rules(
        &self,
        cx: &Ctx<'_, '_>,
        sink: &mut Sink,
        toks: &Facts<'_, '_>,
        left: &mut [u64],
    ) -> bool {
        let scan = cx.scan;
        let n = toks.len().min(scan.tokens.len());
        let norm = scan.norm.as_bytes();
        // Capitalization says nothing when the message is all lower case or Title Case.
        let weak_caps = weak_caps(norm, scan.tokens.get(..n).unwrap_or_default());
        let mut patient_near = false;
        let mut name_end = usize::MAX;
        let mut i = 0;
        while let Some(t) = scan.tokens.get(i).filter(|_| i < n) {
            // In mixed-case text a lower-case word starts nothing unless it is a place right after a
            // place cue ("moved to boston") or a popular first name ("with george"): `place_at`
            // needs the cue there and `name_at` a capital or such a name. Most words of a message
            // are neither, and the lexicon's `lower` bits rule out nearly all of them (all but
            // places, place heads, patient words and those names) without a lookup.
            if !weak_caps && !t.shape.capitalized() {
                if is_possessive(norm, t) || self.lex.may_matter_lower(t.hash) {
                    let f = toks.lexical(i);
                    patient_near |= f & PATIENT != 0;
                    let cued_place =
                        f & (PLACE | PLACE_HEAD) != 0 && place_cue(scan, toks, i).is_some();
                    if !cued_place && !lower_first_name(f) {
                        i += 1;
                        continue;
                    }
                } else {
                    i += 1;
                    continue;
                }
            } else {
                let f = toks.lexical(i);
                patient_near |= f & PATIENT != 0;
                if inert(f, t) {
                    i += 1;
                    continue;
                }
            }
            let found = match self.place_at(cx, sink, toks, i, weak_caps) {
                Some(next) => Some(next),
                None => self
                    .name_at(cx, sink, toks, i, weak_caps, name_end)
                    .inspect(|&next| name_end = next),
            };
            match found {
                Some(next) => {
                    for k in i..next {
                        toks.mark(k, COVERED);
                    }
                    i = next.max(i + 1);
                }
                None => {
                    if let Some(w) = left.get_mut(i / 64) {
                        *w |= 1 << (i % 64);
                    }
                    i += 1;
                }
            }
        }
        if patient_near {
            sink.health_context = true;
        }
        weak_caps
    }

    /// Tokens the model may label: capitalized (or any, in lower-case text), not ordinary words, not
    /// already reported by a rule.
    fn model_candidate(f: u32, weak_caps: bool) -> bool {
        (f & CAP != 0 || weak_caps)
            && f & (COMMON
                | DIGIT
                | CALENDAR
                | TITLE
                | ORG
                | COVERED
                | GREETING
                | SPEECH
                | PATIENT
                | PLACE_CUE
                | RESIDES
                | SHORT
                | HANDLE)
                == 0
    }

    /// Let the model label what the rules left, merging neighbouring tokens of the same class.
    /// `left` holds the tokens the rules tried and left ([`Detector::rules`]); no other token is
    /// a candidate: the rules pass over no capitalized word (nor, in lower-case or Title Case
    /// text, any word) that the candidate test does not rule out, and mark what they report
    /// `COVERED`.
    fn model_pass(
        &self,
        cx: &Ctx<'_, '_>,
        sink: &mut Sink,
        toks: &Facts<'_, '_>,
        weak_caps: bool,
        model: &Model,
        left: &[u64],
    ) {
        let scan = cx.scan;
        let mut open: Option<(usize, usize, Label)> = None;
        let mut i = 0;
        while i < toks.len() {
            // A word the rules did not leave is no candidate, and with no span open it changes
            // nothing: the pass goes on at the next word they left.
            if open.is_none() {
                match next_left(left, i) {
                    Some(k) => i = k,
                    None => break,
                }
            }
            // The credentials right after a name the model read join it ("Ana Ruiz, RN").
            if let Some((s, e, Label::Person)) = open
                && e == i
            {
                let end = credentials_after(scan, toks, i);
                if end > i {
                    open = Some((s, end, Label::Person));
                    i = end;
                    continue;
                }
            }
            // Only capitalized words are candidates in mixed-case text: the others need no lookup.
            let cap = scan.tokens.get(i).is_some_and(|t| t.shape.capitalized());
            let predicted = if (cap || weak_caps)
                && !ruled_out(toks.so_far(i), scan.tokens.get(i))
                && Self::model_candidate(toks.flags(i), weak_caps)
            {
                let s = self.features(scan, toks, i, weak_caps, ScoreSink::new(model));
                model.decide(s.sum, MODEL_MARGIN)
            } else {
                None
            };
            match (predicted, open) {
                (Some(label), Some((s, e, l)))
                    if l == label
                        && e == i
                        && name_gap(scan, toks, i)
                        && toks.flags(i - 1) & POSSESSIVE == 0 =>
                {
                    open = Some((s, i + 1, l));
                }
                (p, o) => {
                    if let Some(o) = o {
                        self.push_model_hit(cx, sink, toks, o);
                    }
                    open = p.map(|label| (i, i + 1, label));
                }
            }
            i += 1;
        }
        if let Some(o) = open {
            self.push_model_hit(cx, sink, toks, o);
        }
    }

    fn push_model_hit(
        &self,
        cx: &Ctx<'_, '_>,
        sink: &mut Sink,
        toks: &Facts<'_, '_>,
        (s, e, label): (usize, usize, Label),
    ) {
        match label {
            Label::Place => self.push_place(
                cx,
                sink,
                toks,
                s..e,
                Found::Model,
                place_cue(cx.scan, toks, s),
            ),
            Label::Person => {
                let scan = cx.scan;
                let (Some(first), Some(last_end)) =
                    (scan.tokens.get(s), toks.word_end(e.saturating_sub(1)))
                else {
                    return;
                };
                if in_saint_name(scan, s) {
                    return;
                }
                let text = scan.orig_text(first.start..last_end);
                let span = scan.orig(first.start..last_end);
                sink.hits.push(
                    Hit::new(NAME, span, quoted(text, MODEL_NAME_TAIL))
                        .suggest(NAME_SUGGESTION)
                        .phi(SafeHarbor::A)
                        .exposure(Exposure::Person),
                );
                apposition_age(scan, e, sink);
            }
        }
    }

    /// Hashed features of token `i` for the model, each handed to `out` as it is made (the
    /// detector adds its weights at once; training collects them). Kept out of line: few tokens
    /// are candidates, and inlined it bloats the loops over every token. `out` is taken and given
    /// back by value so that the detector's running scores stay in a register.
    #[inline(never)]
    fn features<S: FeatureSink>(
        &self,
        scan: &Scan<'_>,
        toks: &Facts<'_, '_>,
        i: usize,
        weak_caps: bool,
        mut out: S,
    ) -> S {
        let f = toks.flags(i);
        let w = stem(scan, i, f);
        out.put(BIAS_FEATURE);
        out.put(feature(1, &(f & OWN_MASK).to_le_bytes()));
        out.put(WEAK_CAPS_FEATURES[usize::from(weak_caps)]);
        // Set bits in ascending order, as the model was trained.
        let mut own = f & OWN_MASK;
        while own != 0 {
            if let Some(&id) = OWN_BIT_FEATURES.get(own.trailing_zeros() as usize) {
                out.put(id);
            }
            own &= own - 1;
        }
        let [suffix3, suffix2] = suffix_features(w);
        out.put(suffix3);
        out.put(suffix2);
        if let Some(&id) = LENGTH_FEATURES.get(w.len().min(12)) {
            out.put(id);
        }
        let [before, before2, after, after2] = EDGE_FEATURES;
        neighbour(scan, toks, &mut out, 7, i.checked_sub(1), before);
        neighbour(scan, toks, &mut out, 9, i.checked_sub(2), before2);
        neighbour(
            scan,
            toks,
            &mut out,
            11,
            Some(i + 1).filter(|&j| j < toks.len()),
            after,
        );
        neighbour(
            scan,
            toks,
            &mut out,
            13,
            Some(i + 2).filter(|&j| j < toks.len()),
            after2,
        );
        let [space_before, space_after] = SPACE_GAP_FEATURES;
        out.put(gap_feature(15, space_before, gap_before(scan, i)));
        let after = toks.get(i + 1).map_or(&[][..], |_| gap_before(scan, i + 1));
        out.put(gap_feature(16, space_after, after));
        out
    }

    /// A place starting at token `i`: returns the index after it when one was reported.
    fn place_at(
        &self,
        cx: &Ctx<'_, '_>,
        sink: &mut Sink,
        toks: &Facts<'_, '_>,
        i: usize,
        weak_caps: bool,
    ) -> Option<usize> {
        let scan = cx.scan;
        let f = toks.flags(i);
        if f & (PLACE | PLACE_HEAD) == 0
            && (f & (COMMON | DIGIT | SHORT) != 0 || f & CAP == 0 && !weak_caps)
        {
            return None;
        }
        let multi = if f & PLACE_HEAD != 0 {
            self.multi_place(scan, toks, i)
        } else {
            None
        };
        let found = multi.or_else(|| Some((i + 1, toks.place(i)?)));
        if let Some((end, kind)) = found {
            let cue = place_cue(scan, toks, i);
            let ambiguous = end == i + 1 && f & (FIRST | COMMON) != 0;
            let proper = f & CAP != 0 || weak_caps;
            let accept = if !ambiguous {
                proper || cue.is_some()
            } else if f & COMMON != 0 {
                cue.is_some() && f & CAP != 0 && !weak_caps
            } else {
                proper
                    && (cue.is_some()
                        || (kind != PlaceKind::City || f & POPULAR == 0)
                            && !surname_follows(scan, toks, i, weak_caps))
                    && name_cue(scan, toks, i).is_none()
                    // A town has no age: "Tyler, 7, is heading home" names a child.
                    && age_between_commas(scan, i + 1).is_none()
            };
            if accept && f & ORG == 0 {
                self.push_place(cx, sink, toks, i..end, Found::Listed(kind), cue);
                return Some(end);
            }
            return None;
        }
        // A capitalized word no lexicon knows, right after a place cue ("arrived at Bauru") or
        // on the town line of a postal address ("Apt. 297\n Zalakaros").
        if i.checked_sub(1).is_none_or(|p| {
            !scan.tokens.get(p).is_some_and(|t| t.shape.has_digit())
                && !toks.has_cue(p, PLACE_CUE | STREET)
        }) {
            return None;
        }
        let cue = place_cue(scan, toks, i).or_else(|| address_city(scan, toks, i))?;
        let unknown = f & (FIRST | COMMON | CALENDAR | TITLE | ORG | DIGIT | SHORT | GREETING) == 0;
        let acronym = f & UPPER != 0 && word(scan, toks, i).len() <= 4;
        let proper =
            f & CAP != 0 && !weak_caps || weak_caps && cue == Cue::Resides && f & LAST == 0;
        let initial_follows =
            toks.get(i + 1).is_some_and(|g| g & SHORT != 0) && name_gap(scan, toks, i + 1);
        if !unknown || !proper || acronym || initial_follows {
            return None;
        }
        let mut end = i + 1;
        while end < toks.len() && end - i < 3 {
            let g = toks.flags(end);
            if g & CAP == 0
                || g & (COMMON | CALENDAR | DIGIT | SHORT) != 0
                || !name_gap(scan, toks, end)
                || toks.flags(end - 1) & POSSESSIVE != 0
            {
                break;
            }
            end += 1;
        }
        self.push_place(cx, sink, toks, i..end, Found::Context, Some(cue));
        Some(end)
    }

    /// The longest gazetteer phrase of two or more tokens starting at `i`.
    fn multi_place(
        &self,
        scan: &Scan<'_>,
        toks: &Facts<'_, '_>,
        i: usize,
    ) -> Option<(usize, PlaceKind)> {
        let mut best = None;
        // The phrase so far, words joined by one space as the lexicon keys them.
        let mut phrase = [0u8; MAX_PLACE_BYTES];
        let head = scan.tok(i).as_bytes();
        phrase.get_mut(..head.len())?.copy_from_slice(head);
        let mut len = head.len();
        for j in i + 1..toks.len().min(i + MAX_PLACE_TOKENS) {
            if !place_gap(scan, j) {
                break;
            }
            let w = scan.tok(j).as_bytes();
            let Some(slot) = phrase.get_mut(len..len + 1 + w.len()) else {
                break;
            };
            if let Some((space, rest)) = slot.split_first_mut() {
                *space = b' ';
                rest.copy_from_slice(w);
            }
            len += 1 + w.len();
            let h = hash_bytes(phrase.get(..len).unwrap_or_default());
            // No longer phrase can match once the words so far begin none.
            let Some(slot) = self.lex.by_hash(h) else {
                break;
            };
            if let Some(e) = self.lex.entry(slot)
                && let Some(kind) = e.place
                && words(&e.text).eq((i..=j).map(|k| scan.tok(k)))
            {
                best = Some((j + 1, kind));
            }
            if slot.facts & PLACE_PREFIX == 0 {
                break;
            }
        }
        best
    }

    fn push_place(
        &self,
        cx: &Ctx<'_, '_>,
        sink: &mut Sink,
        toks: &Facts<'_, '_>,
        r: Range<usize>,
        found: Found,
        cue: Option<Cue>,
    ) {
        let (kind, model) = match found {
            Found::Listed(kind) => (Some(kind), false),
            Found::Context => (None, false),
            Found::Model => (None, true),
        };
        let scan = cx.scan;
        let (Some(first), Some(last_end)) = (
            scan.tokens.get(r.start),
            toks.word_end(r.end.saturating_sub(1)),
        ) else {
            return;
        };
        // A gazetteer place keeps its saint ("St. Louis"); a place read from context does not.
        if kind.is_none() && in_saint_name(scan, r.start) {
            return;
        }
        let span = scan.orig(first.start..last_end);
        let text = scan.orig_text(first.start..last_end);
        let tied = cue == Some(Cue::Resides);
        let small = kind.is_none_or(PlaceKind::is_subdivision);
        let tail = self
            .place_tails
            .get(place_tail_index(kind, tied, model))
            .map_or("", String::as_str);
        let hit = Hit::new(LOCATION, span, quoted(text, tail))
            .suggest("Leave the place out or make it broader (\"our region\") unless it is the organization's own location.")
            .phi(SafeHarbor::B)
            .boost(u8::from(tied && small))
            .exposure(if small {
                Exposure::InContext
            } else {
                Exposure::Low
            });
        sink.hits.push(hit);
    }

    /// A person's name starting at token `i`: returns the index after it when one was reported.
    fn name_at(
        &self,
        cx: &Ctx<'_, '_>,
        sink: &mut Sink,
        toks: &Facts<'_, '_>,
        i: usize,
        weak_caps: bool,
        name_end: usize,
    ) -> Option<usize> {
        let scan = cx.scan;
        let f = toks.flags(i);
        // A word that introduces a name is not part of it ("I'm Kate", "Hi, I'm Kate Smith").
        if f & (HANDLE | INTRO) != 0 {
            return None;
        }
        let cap = f & CAP != 0;
        // Only lexicon names can start a name in lower-case or Title Case text.
        let ordinary = f & COMMON != 0 && (f & (FIRST | LAST) == 0 || weak_caps)
            || weak_caps && f & (FIRST | LAST) == 0;
        let month_named = f & (CALENDAR | FIRST) == CALENDAR | FIRST && cap && !weak_caps;
        if month_named {
            // "Jan Jílek", "Dr. April Smith": a month that is also a first name, with a surname or title.
            let strong = matches!(
                name_cue(scan, toks, i),
                Some(NameWhy::Title | NameWhy::Introduced | NameWhy::Patient)
            );
            if !strong && !surname_follows(scan, toks, i, weak_caps) {
                return None;
            }
        } else if ordinary
            || f & (CALENDAR | TITLE | ORG | DIGIT | SHORT) != 0
            || !(cap
                || weak_caps
                || lower_first_name(f) && spaced_before(scan, i) && !after_determiner(scan, i))
        {
            return None;
        }
        let cue = name_cue(scan, toks, i);
        // Asked only by the arms below that need it.
        let next_surname = || surname_follows(scan, toks, i, weak_caps);
        let titled = matches!(cue, Some(NameWhy::Title | NameWhy::Patient));
        // An ordinary word is a name after a cue only as a surname after a title ("Dr. White") or as a
        // first name after a greeting or introduction ("Thanks, Grace!"), never "Princess Royal".
        let known = if titled {
            f & LAST != 0
        } else {
            f & FIRST != 0
        };
        let unknown = f & (FIRST | COMMON | PLACE | UPPER | GREETING | SPEECH | PATIENT) == 0;
        let mid = cap && !weak_caps && f & SENT_START == 0;
        let why = match cue {
            Some(why)
                if (f & COMMON == 0 || cap && !weak_caps && known)
                    && (f & PLACE == 0 || f & FIRST != 0)
                    && f & UPPER == 0
                    && (cap && !weak_caps || f & (FIRST | LAST) != 0) =>
            {
                why
            }
            _ if f & FIRST != 0 && f & COMMON == 0 && (cap || word(scan, toks, i).len() >= 3) => {
                if next_surname() {
                    NameWhy::FullName
                } else if f & POSSESSIVE != 0 {
                    NameWhy::Possessive
                } else {
                    NameWhy::FirstName
                }
            }
            // A popular first name that is also a word opens a full name at a sentence start too
            // ("Tom Brady runs"), where its capital says nothing.
            _ if (f & FIRST != 0 && (mid || cap && !weak_caps && f & POPULAR != 0)
                || unknown && cap && !weak_caps)
                && next_surname() =>
            {
                NameWhy::FullName
            }
            _ if mid && f & (COMMON | PLACE | UPPER) == 0 && listed_after(scan, i, name_end) => {
                NameWhy::Listed
            }
            _ if f & POSSESSIVE != 0 && f & LAST != 0 && f & (COMMON | PLACE) == 0 && mid => {
                NameWhy::Possessive
            }
            _ => return None,
        };
        let lower = !cap && !weak_caps;
        let mut end = i + 1;
        if lower && lower_surname_follows(scan, toks, i) {
            end += 1;
        }
        while !lower
            && end < toks.len()
            && end - i < MAX_NAME_TOKENS
            && toks.flags(end - 1) & POSSESSIVE == 0
        {
            if !name_gap(scan, toks, end) {
                break;
            }
            let g = toks.flags(end);
            let initial = is_initial(g, weak_caps);
            let middle = initial && !matches!(word(scan, toks, end), b"i" | b"a");
            let joins_next = end + 1 < toks.len()
                && name_gap(scan, toks, end + 1)
                && (continues_name(toks.flags(end + 1), weak_caps)
                    || middle && surname_after_initial(toks.flags(end + 1), weak_caps));
            if g & PARTICLE != 0 && g & CAP == 0 {
                match particles_then_surname(scan, toks, end) {
                    Some(next) => {
                        end = next;
                        continue;
                    }
                    None => break,
                }
            }
            // A credential ends the name words ("John Smith PharmD"); it joins the span below.
            if g & CREDENTIAL != 0 && credential_shape(scan, end) {
                break;
            }
            // A closing initial after a first name ("Teddy P proud", "Deborah L"), never the
            // words "I" and "A".
            let trailing = initial
                && end == i + 1
                && f & FIRST != 0
                && g & CAP != 0
                && !joins_next
                && !matches!(word(scan, toks, end), b"i" | b"a")
                && scan
                    .tokens
                    .get(end + 1)
                    .is_none_or(|t| !t.shape.capitalized());
            // An ordinary word may be the surname after a first name ("Will"), but a third word
            // that is one ends the name: a headline goes on ("Lindsay Lohan Just Failed").
            // After a middle initial comes the surname, ordinary word or not ("Katie E Miles").
            let after_middle = end > i + 1
                && is_initial(toks.flags(end - 1), weak_caps)
                && !matches!(word(scan, toks, end - 1), b"i" | b"a")
                && surname_after_initial(g, weak_caps);
            let third_word = end > i + 1 && g & COMMON != 0;
            if !(initial && joins_next
                || after_middle
                || trailing
                || continues_name(g, weak_caps)
                    && (g & COMMON == 0 || f & FIRST != 0)
                    && !third_word
                || end == i + 1 && upper_pair(f, g))
            {
                break;
            }
            end += 1;
        }
        let end = credentials_after(scan, toks, end);
        // A rank or stage title is part of how the person is named ("Pope Benedict", "DJ Khaled",
        // "Lady Gaga", "Coach Dantonio"); an honorific ("Dr.", "Mrs.") stays outside the span.
        let opens = i
            .checked_sub(1)
            .filter(|&p| {
                matches!(cue, Some(NameWhy::Title))
                    && gap_before(scan, i) == b" "
                    && toks.flags(p) & CAP != 0
                    && title_role(word(scan, toks, p)) == Some(true)
            })
            .unwrap_or(i);
        let first = scan.tokens.get(opens)?;
        let last_end = toks.word_end(end - 1)?;
        let span = scan.orig(first.start..last_end);
        let text = scan.orig_text(first.start..last_end);
        let patient = matches!(why, NameWhy::Patient);
        let tail = self.name_tails.get(why as usize).map_or("", String::as_str);
        let hit = Hit::new(NAME, span, quoted(text, tail))
            .suggest(NAME_SUGGESTION)
            .phi(SafeHarbor::A)
            .boost(u8::from(patient))
            .exposure(Exposure::Person);
        // Taken (the model does not see these words) but not reported: see `in_saint_name`.
        if !in_saint_name(scan, opens) {
            sink.hits.push(hit);
            apposition_age(scan, end, sink);
        }
        if patient {
            sink.health_context = true;
        }
        Some(end)
    }
}

/// An age written between commas after a name ends before token `next` ("John Doe, 45, was
/// admitted"; "Tyler , 7 , is home"): how news and posts give a person's age, which `phi.age`
/// reads only after words such as "aged" or "years old".
fn apposition_age(scan: &Scan<'_>, next: usize, sink: &mut Sink) {
    if let Some((r, age)) = age_between_commas(scan, next) {
        let (rule, why, fix) = super::phi::age_rule(age);
        sink.hits.push(
            Hit::new(rule, scan.orig(r), why)
                .suggest(fix)
                .phi(SafeHarbor::C),
        );
    }
}

/// Token `next` as an age between commas (one to three digits, 1 to 125), with its range.
fn age_between_commas(scan: &Scan<'_>, next: usize) -> Option<(Range<usize>, u16)> {
    // Most names are followed by a word: one test of the token's shape turns them away.
    let t = scan.tokens.get(next).filter(|t| t.shape.all_digit())?;
    let after = scan.norm.as_bytes().get(t.end..).unwrap_or_default();
    let closes = after
        .iter()
        .position(|b| *b != b' ')
        .is_some_and(|p| after.get(p) == Some(&b','));
    if !(t.end - t.start <= 3 && gap_before(scan, next).trim_ascii() == b"," && closes) {
        return None;
    }
    let age = scan.norm.get(t.start..t.end)?.parse::<u16>().ok()?;
    (1..=125).contains(&age).then_some((t.start..t.end, age))
}

/// The first token at or after `i` whose bit is set in `left` (see [`Detector::rules`]).
#[inline]
fn next_left(left: &[u64], i: usize) -> Option<usize> {
    let mut w = i / 64;
    let mut bits = left.get(w)? & (u64::MAX << (i % 64));
    loop {
        if bits != 0 {
            return Some(w * 64 + bits.trailing_zeros() as usize);
        }
        w += 1;
        bits = *left.get(w)?;
    }
}

/// Whether no rule can start at token `t`, whose lexicon facts are `f`: an ordinary word, a
/// calendar word, a title or one of the organization's own words, or a number or a single
/// letter, that is no name, place or patient word. Neither `place_at` nor `name_at` reports
/// one, and the model takes none, so it needs no shape facts.
#[inline]
fn inert(f: u32, t: &Token) -> bool {
    f & (FIRST | LAST | PLACE | PLACE_HEAD | PATIENT) == 0 && ruled_out(f, Some(t))
}

/// Whether the model's candidate test is already known to fail for token `t` from the facts
/// known of it so far (`so_far`: its lexicon facts or none) and its shape: a word with a flag
/// that [`Detector::model_candidate`] excludes, a number ([`DIGIT`]) or a single byte
/// ([`SHORT`]).
#[inline]
fn ruled_out(so_far: u32, t: Option<&Token>) -> bool {
    so_far & (COMMON | CALENDAR | TITLE | ORG) != 0
        || t.is_none_or(|t| t.shape.has_digit() || t.end.saturating_sub(t.start) <= 1)
}

/// Whether capitalization says nothing in a message with these tokens: none of its words is
/// capitalized, or (with six words or more) at least 70% are. Words are tokens of two or more bytes
/// without a digit, a possessive counted without its "'s".
fn weak_caps(norm: &[u8], tokens: &[Token]) -> bool {
    /// Tokens counted between two looks at whether the rest can still change the answer.
    const BLOCK: usize = 64;
    let (mut alpha, mut caps) = (0usize, 0usize);
    let mut rest = tokens.len();
    for block in tokens.chunks(BLOCK) {
        for t in block {
            // Of the words, only "x's" is shorter than two bytes without its "'s", so only
            // three-byte tokens need the possessive test. A token ends after it starts: its
            // length needs no clamp.
            let len = t.end.wrapping_sub(t.start);
            if !t.shape.has_digit() && len >= 2 && (len != 3 || !is_possessive(norm, t)) {
                alpha += 1;
                caps += usize::from(t.shape.capitalized());
            }
        }
        rest = rest.saturating_sub(block.len());
        // Even if every later token were a capitalized word, fewer than 70% would be: the
        // answer is known (long mixed-case texts stop about halfway).
        if caps > 0 && caps * 10 + rest * 3 < alpha * 7 {
            return false;
        }
    }
    caps == 0 || (alpha >= 6 && caps * 10 >= alpha * 7)
}

/// Whether a lower-case word with lexicon facts `f` is read as a first name in mixed-case text:
/// one of the popular first names that is no ordinary, calendar, place or cue word ("with
/// george", "justin bieber"), where a casual writer skips the capital. The names that are also
/// words ("will", "mark", "rose") are ordinary words here.
#[inline]
fn lower_first_name(f: u32) -> bool {
    f & (POPULAR
        | COMMON
        | CALENDAR
        | PLACE
        | PLACE_HEAD
        | TITLE
        | ORG
        | PARTICLE
        | GREETING
        | SPEECH
        | PATIENT
        | PLACE_CUE
        | RESIDES
        | STREET
        | INTRO
        | HANDLE)
        == POPULAR
}

/// Whether token `i` opens the text or follows white space: not a word glued to a "#", "@" or
/// "_" ("#margaret", "@__nancy"), which tags a topic or an account.
fn spaced_before(scan: &Scan<'_>, i: usize) -> bool {
    gap_before(scan, i)
        .last()
        .is_none_or(|b| b.is_ascii_whitespace())
}

/// Determiners, which stand before a common noun and not before a bare first name ("the jack of
/// all trades", "a grace period").
const DETERMINERS: [&str; 13] = [
    "the", "a", "an", "this", "that", "these", "those", "every", "each", "any", "some", "no",
    "another",
];

/// Whether token `i` follows a [`DETERMINERS`] word.
fn after_determiner(scan: &Scan<'_>, i: usize) -> bool {
    i.checked_sub(1)
        .and_then(|p| scan.tokens.get(p))
        .and_then(|t| scan.norm.get(t.start..t.end))
        .is_some_and(|w| DETERMINERS.iter().any(|d| w.eq_ignore_ascii_case(d)))
}

/// Whether the word after a lower-case first name at `i` is a lower-case surname that is no
/// ordinary or place word ("justin bieber"), in the same run of words.
fn lower_surname_follows(scan: &Scan<'_>, toks: &Facts<'_, '_>, i: usize) -> bool {
    scan.tokens
        .get(i + 1)
        .is_some_and(|t| !t.shape.capitalized() && !t.shape.has_digit())
        && toks.flags(i) & POSSESSIVE == 0
        && name_gap(scan, toks, i + 1)
        && toks.get(i + 1).is_some_and(|g| {
            g & LAST != 0
                && g & (COMMON
                    | CALENDAR
                    | PLACE
                    | TITLE
                    | ORG
                    | SHORT
                    | HANDLE
                    | GREETING
                    | SPEECH
                    | PATIENT
                    | PLACE_CUE
                    | RESIDES
                    | INTRO)
                    == 0
        })
}

/// After lower-case particles starting at `i` ("van der"), the index past the capitalized surname
/// that completes them, if there is one.
fn particles_then_surname(scan: &Scan<'_>, toks: &Facts<'_, '_>, i: usize) -> Option<usize> {
    let mut k = i;
    while toks
        .get(k)
        .is_some_and(|g| g & PARTICLE != 0 && g & CAP == 0)
        && k - i < 3
    {
        k += 1;
        if !name_gap(scan, toks, k) {
            return None;
        }
    }
    let g = toks.get(k)?;
    (g & CAP != 0 && g & (COMMON | DIGIT | CALENDAR | UPPER) == 0).then_some(k + 1)
}

/// True when the token after `i` can be a surname (a capitalized name word, or an initial and one).
fn surname_follows(scan: &Scan<'_>, toks: &Facts<'_, '_>, i: usize, weak_caps: bool) -> bool {
    // In mixed-case text a surname and an initial are capitalized: a lower-case word after `i`
    // is neither, and needs no lookup.
    if !weak_caps
        && !scan
            .tokens
            .get(i + 1)
            .is_some_and(|t| t.shape.capitalized())
    {
        return false;
    }
    let Some(g) = toks.get(i + 1) else {
        return false;
    };
    if toks.flags(i) & POSSESSIVE != 0 || !name_gap(scan, toks, i + 1) {
        return false;
    }
    if is_initial(g, weak_caps) {
        return toks
            .get(i + 2)
            .is_some_and(|h| h & CAP != 0 && continues_name(h, weak_caps))
            && name_gap(scan, toks, i + 2);
    }
    (continues_name(g, weak_caps) || upper_pair(toks.flags(i), g))
        && g & LAST != 0
        && g & COMMON == 0
}

/// Whether `g` continues an all-capitals name whose first word has flags `f` ("KRISTEN BELL").
fn upper_pair(f: u32, g: u32) -> bool {
    f & g & UPPER != 0
        && f & FIRST != 0
        && g & (FIRST | LAST) != 0
        && g & (COMMON | CALENDAR | TITLE | ORG | DIGIT | SHORT | HANDLE | PLACE) == 0
}

/// A single letter that can be a middle initial: capitalized, or any letter in lower-case text.
fn is_initial(g: u32, weak_caps: bool) -> bool {
    g & SHORT != 0 && g & DIGIT == 0 && (g & CAP != 0 || weak_caps)
}

/// Whether a token with flags `g` can be the surname after a first name and a middle initial:
/// in mixed-case text, any capitalized word that is no calendar, title or organization word
/// ("Jildau S Bouts", "Katie E Miles"), ordinary words included.
fn surname_after_initial(g: u32, weak_caps: bool) -> bool {
    !weak_caps
        && g & CAP != 0
        && g & (CALENDAR
            | TITLE
            | ORG
            | DIGIT
            | GREETING
            | SPEECH
            | PATIENT
            | SHORT
            | HANDLE
            | UPPER)
            == 0
        && (g & PLACE == 0 || g & (FIRST | LAST) != 0)
}

/// Whether a token with flags `g` can continue a name already started.
fn continues_name(g: u32, weak_caps: bool) -> bool {
    if g & (CALENDAR | TITLE | ORG | DIGIT | GREETING | SPEECH | PATIENT | SHORT | HANDLE) != 0
        || g & PLACE != 0 && g & (FIRST | LAST) == 0
    {
        return false;
    }
    if weak_caps {
        return g & (FIRST | LAST) != 0 && g & COMMON == 0;
    }
    g & CAP != 0 && g & UPPER == 0 && (g & COMMON == 0 || g & LAST != 0 && g & SENT_START == 0)
}

/// Whether token `i` is written as a credential: all upper case ("RN") or with an upper-case
/// letter after its first ("PhD", "PharmD"), unlike the names "Ma" and "Do".
#[cold]
#[inline(never)]
fn credential_shape(scan: &Scan<'_>, i: usize) -> bool {
    scan.tokens.get(i).is_some_and(|t| {
        t.shape.all_upper()
            || scan
                .orig_text(t.start..t.end)
                .chars()
                .skip(1)
                .any(char::is_uppercase)
    })
}

/// The index past the credentials that follow a name ending before token `end` ("Jane Doe, RN",
/// "Sara Diaz, MD, PhD", "Tomas Lee, PA-C"); `end` when there are none. The first comes after a
/// space or a comma, the next after one of those or a hyphen (where a capital letter, as in
/// "PA-C", counts too).
fn credentials_after(scan: &Scan<'_>, toks: &Facts<'_, '_>, end: usize) -> usize {
    let mut k = end;
    // Every credential starts with a capital: a lower-case word after a name needs no lookup.
    while scan.tokens.get(k).is_some_and(|t| t.shape.capitalized()) {
        let Some(p) = k.checked_sub(1) else {
            break;
        };
        let g = toks.flags(k);
        let gap = gap_before(scan, k);
        let spaced = gap == b" " || trims_to(gap, ",");
        let suffix = k > end && gap == b"-";
        // A word a rule already reported (a place the model's name runs into) stays its own.
        if g & COVERED != 0 || !(spaced || suffix) || toks.flags(p) & POSSESSIVE != 0 {
            break;
        }
        let credential = if g & CREDENTIAL != 0 {
            credential_shape(scan, k)
        } else {
            suffix && g & SHORT != 0
        };
        if !credential {
            break;
        }
        k += 1;
    }
    k
}

/// Builds the name model's training rows: the tokens the rules leave to the model, with features.
pub struct NameFeaturizer {
    det: Detector,
}

/// One token the model would label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCandidate {
    /// Byte range of the token in the original text.
    pub span: Span,
    /// Hashed feature ids (reduce modulo `BUCKETS`).
    pub features: Vec<u32>,
}

impl NameFeaturizer {
    /// Compile the lexicons with the default policy.
    pub fn new() -> Result<Self, ScreenError> {
        Ok(NameFeaturizer {
            det: Detector::new(&Policy::default())?,
        })
    }

    /// The same, scoring with the model in `bytes` (the embedded format) instead of the shipped
    /// one, so that a model trained on part of the data can be judged on the rest.
    pub fn with_model(bytes: &[u8]) -> Result<Self, ScreenError> {
        let mut det = Detector::new(&Policy::default())?;
        det.model = Some(Model::parse(bytes).ok_or_else(|| ScreenError::Compile {
            what: "name model".to_owned(),
            message: "not a name model".to_owned(),
        })?);
        Ok(NameFeaturizer { det })
    }

    /// The person-name spans the names detector alone reports in `text` (as an incoming message).
    pub fn person_spans(&self, text: &str) -> Vec<Span> {
        self.spans(text, false)
            .into_iter()
            .filter_map(|(s, person)| person.then_some(s))
            .collect()
    }

    /// The name (`true`) and place (`false`) spans the names detector alone reports in `text`.
    pub fn spans(&self, text: &str, outgoing: bool) -> Vec<(Span, bool)> {
        let msg = if outgoing {
            Message::outgoing(text)
        } else {
            Message::incoming(text)
        };
        let scan = Scan::new(text);
        let cx = Ctx {
            msg: &msg,
            scan: &scan,
        };
        let mut sink = Sink::default();
        self.det.run(&cx, &mut sink);
        sink.hits
            .iter()
            .filter(|h| RULES.iter().any(|r| r.id == h.rule.id))
            .map(|h| (h.span, h.rule.id == NAME.id))
            .collect()
    }

    /// The candidate tokens of `text` and their features, as the detector sees them.
    pub fn candidates(&self, text: &str) -> Vec<NameCandidate> {
        let msg = Message::incoming(text);
        let scan = Scan::new(text);
        let cx = Ctx {
            msg: &msg,
            scan: &scan,
        };
        let mut sink = Sink::default();
        let cells = vec![Cell::new(0u32); scan.tokens.len()];
        let toks = Facts {
            scan: &scan,
            lex: &self.det.lex,
            cells: &cells,
        };
        let mut left = vec![0u64; scan.tokens.len().div_ceil(64)];
        let weak_caps = self.det.rules(&cx, &mut sink, &toks, &mut left);
        let mut out = Vec::new();
        for (i, t) in scan.tokens.iter().enumerate() {
            if Detector::model_candidate(toks.flags(i), weak_caps) {
                let features = self.det.features(&scan, &toks, i, weak_caps, Vec::new());
                out.push(NameCandidate {
                    span: scan.orig(t.start..t.end),
                    features,
                });
            }
        }
        out
    }
}

/// Cue before a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    /// A preposition: "in", "at", "to".
    Plain,
    /// Ties the place to a person: "lives in", "moved to", "from".
    Resides,
}

/// The place cue right before token `i`, if any.
fn place_cue(scan: &Scan<'_>, toks: &Facts<'_, '_>, i: usize) -> Option<Cue> {
    let p = i.checked_sub(1)?;
    if !toks.has_cue(p, PLACE_CUE) || !plain_gap(scan, i) {
        return None;
    }
    let tied = scan.tok(p) == "from"
        || p.checked_sub(1)
            .is_some_and(|q| toks.has_cue(q, RESIDES) && plain_gap(scan, p));
    Some(if tied { Cue::Resides } else { Cue::Plain })
}

/// Token `i` opens the town line of a postal address: it follows a line or a comma that ends in a
/// number or a street word ("Apt. 297\n Zalakaros", "Farnell Street, LOOMBAH").
fn address_city(scan: &Scan<'_>, toks: &Facts<'_, '_>, i: usize) -> Option<Cue> {
    let p = i.checked_sub(1)?;
    let gap = gap_before(scan, i);
    let breaks = gap.contains(&b'\n') || gap.contains(&b',') && trims_to(gap, ",");
    let street = toks.flags(p) & STREET != 0;
    let label = scan
        .tokens
        .get(i + 1)
        .is_some_and(|t| scan.norm.get(t.end..).is_some_and(|r| r.starts_with(':')))
        || scan
            .norm
            .get(scan.tokens.get(i)?.end..)
            .is_some_and(|r| r.starts_with(':'));
    (breaks && !label && (toks.flags(p) & DIGIT != 0 || street)).then_some(Cue::Plain)
}

/// The name cue right before token `i` ("Dr.", "my name is", "thanks,", "said"), if any.
fn name_cue(scan: &Scan<'_>, toks: &Facts<'_, '_>, i: usize) -> Option<NameWhy> {
    let p = i.checked_sub(1)?;
    // Every cue below starts at a word with one of these flags; most words have none.
    if !toks.has_cue(p, TITLE | PATIENT | GREETING | SPEECH | INTRO) {
        return relative_cue(scan, p, i);
    }
    let pf = toks.flags(p);
    let gap = gap_before(scan, i);
    // One look at each byte of the gap (a few bytes; `contains` would call memchr per question):
    // which of ":?,." it holds, and whether it holds anything but those and spaces.
    let (mut colon, mut question, mut comma, mut dot, mut other) =
        (false, false, false, false, false);
    for &b in gap {
        match b {
            b':' => colon = true,
            b'?' => question = true,
            b',' => comma = true,
            b'.' => dot = true,
            b' ' => {}
            _ => other = true,
        }
    }
    if (colon && trims_to(gap, ":")) || (question && trims_to(gap, "?")) {
        return matches!(scan.tok(p), "name" | "names" | "name's").then_some(NameWhy::Introduced);
    }
    let tight = gap.len() <= 3 && !other && !question;
    if !tight {
        return None;
    }
    if pf & TITLE != 0 && !comma {
        let patient = p
            .checked_sub(1)
            .is_some_and(|q| toks.flags(q) & PATIENT != 0);
        return Some(if patient {
            NameWhy::Patient
        } else {
            NameWhy::Title
        });
    }
    if pf & PATIENT != 0 && !dot {
        return Some(NameWhy::Patient);
    }
    if pf & (GREETING | SPEECH) != 0 && !dot {
        return Some(NameWhy::Addressed);
    }
    if pf & INTRO == 0 || dot {
        return None;
    }
    let prev = scan.tok(p);
    let before = p.checked_sub(1).map(|q| scan.tok(q));
    let introduced = matches!(prev, "i'm" | "im" | "name's" | "names")
        || matches!(
            (before, prev),
            (Some("name"), "is")
                | (Some("call"), "me")
                | (Some("i"), "am")
                | (Some("this"), "is")
                | (Some("named"), "is")
                | (Some("name"), "was")
        );
    introduced.then_some(NameWhy::Introduced)
}

/// Family words and close relations, which name the person after them when they are someone's
/// ("my son Jayden", "our daughter, Ava"): the names parents give today are often missing from
/// the Census lists, and a relative's name next to their care identifies a patient as surely as
/// the patient's own.
const RELATIVES: &[&str] = &[
    "son",
    "sons",
    "daughter",
    "daughters",
    "husband",
    "wife",
    "hubby",
    "mom",
    "mum",
    "mommy",
    "mother",
    "dad",
    "daddy",
    "father",
    "brother",
    "sister",
    "grandson",
    "granddaughter",
    "grandmother",
    "grandfather",
    "grandma",
    "grandpa",
    "granny",
    "grandchild",
    "grandbaby",
    "aunt",
    "auntie",
    "uncle",
    "niece",
    "nephew",
    "cousin",
    "baby",
    "twin",
    "stepson",
    "stepdaughter",
    "stepmom",
    "stepdad",
    "stepmother",
    "stepfather",
    "boyfriend",
    "girlfriend",
    "fiance",
    "fiancé",
    "fiancee",
    "fiancée",
    "partner",
    "friend",
    "bestie",
    "neighbor",
    "neighbour",
    "roommate",
];

/// A name cue read from the words before token `i`: a family word `p` that is someone's, right
/// before it or after one modifier ("my youngest son Jayden", "her late husband, Robert"); not
/// "Mother Teresa" or "a friend Tom made", which belong to no one in the text.
fn relative_cue(scan: &Scan<'_>, p: usize, i: usize) -> Option<NameWhy> {
    // A family word is read in lower case ("my Mom Linda" is left to the name lists) and is 3 to
    // 13 bytes long: one look at the token turns most words away.
    let t = scan.tokens.get(p)?;
    if t.shape.capitalized() || !(3..=13).contains(&t.end.saturating_sub(t.start)) {
        return None;
    }
    let gap = gap_before(scan, i);
    if gap.is_empty() || gap.len() > 3 || gap.iter().any(|&b| b != b' ' && b != b',') {
        return None;
    }
    // The owner is tested first: few words before a name follow "my" or "her", and the owner
    // list is short where the family list is long.
    let spaced = |k: usize| gap_before(scan, k).iter().all(|&b| b == b' ');
    let owner = |k: usize| {
        matches!(scan.tok(k), "my" | "our" | "his" | "her" | "your" | "their") && spaced(k + 1)
    };
    let q = p.checked_sub(1)?;
    let owned = owner(q)
        || q.checked_sub(1).is_some_and(|o| {
            owner(o)
                && spaced(p)
                && scan
                    .tokens
                    .get(q)
                    .is_some_and(|t| !t.shape.capitalized() && !t.shape.has_digit())
        });
    (owned && RELATIVES.contains(&scan.tok(p))).then_some(NameWhy::Relative)
}

/// Token `i` without a possessive "'s", as looked up in the lexicon.
fn word<'s>(scan: &'s Scan<'_>, toks: &Facts<'_, '_>, i: usize) -> &'s [u8] {
    stem(scan, i, toks.flags(i))
}

/// Token `i` without a possessive "'s", read from its flags `g` when the caller has them.
#[inline]
fn stem<'s>(scan: &'s Scan<'_>, i: usize, g: u32) -> &'s [u8] {
    let Some(t) = scan.tokens.get(i) else {
        return &[];
    };
    let end = t
        .end
        .saturating_sub(if g & POSSESSIVE != 0 { 2 } else { 0 });
    scan.norm.as_bytes().get(t.start..end).unwrap_or_default()
}

/// Token `i` continues a list that a name ended just before ("Felix and Linda", "Kónya, Becker").
fn listed_after(scan: &Scan<'_>, i: usize, name_end: usize) -> bool {
    if name_end == i {
        return matches!(gap_before(scan, i), b", " | b" & " | b" / ");
    }
    name_end.checked_add(1) == Some(i)
        && matches!(scan.tok(name_end), "and" | "or")
        && gap_before(scan, i) == b" "
}

/// The bytes of the normalized text between token `i - 1` and token `i` (whole characters, as
/// tokens start and end on character boundaries).
fn gap_before<'s>(scan: &'s Scan<'_>, i: usize) -> &'s [u8] {
    let start = i
        .checked_sub(1)
        .and_then(|p| scan.tokens.get(p))
        .map_or(0, |t| t.end);
    let end = scan.tokens.get(i).map_or(start, |t| t.start);
    scan.norm.as_bytes().get(start..end).unwrap_or_default()
}

/// Whether token `i` is "St", "St." or "Saint" before a capitalized word: a saint's name, which
/// names a hospital, a church, a school or a holiday ("St. Jude", "St Mary's", "St. Patrick's
/// Day"), not a person or a town.
fn saint_pair(scan: &Scan<'_>, i: usize) -> bool {
    let (Some(t), Some(next)) = (scan.tokens.get(i), scan.tokens.get(i + 1)) else {
        return false;
    };
    t.shape.capitalized()
        && next.shape.capitalized()
        && matches!(scan.tok(i).as_bytes(), b"st" | b"saint")
        && matches!(gap_before(scan, i + 1), b" " | b". " | b".")
}

/// Whether a name or a place read from context that starts at token `first` is part of a saint's
/// name ([`saint_pair`]): the rules and the model still take its words, so that what they see
/// does not change, but it is not reported.
fn in_saint_name(scan: &Scan<'_>, first: usize) -> bool {
    saint_pair(scan, first) || first.checked_sub(1).is_some_and(|p| saint_pair(scan, p))
}

/// Whether `gap` with its (Unicode) white space trimmed is `s`.
fn trims_to(gap: &[u8], s: &str) -> bool {
    std::str::from_utf8(gap).is_ok_and(|g| g.trim() == s)
}

/// Words of one name are separated by a space or a hyphen, or by ". " after an initial.
fn name_gap(scan: &Scan<'_>, toks: &Facts<'_, '_>, i: usize) -> bool {
    let gap = gap_before(scan, i);
    match gap {
        b" " | b"-" | b"  " => true,
        b". " | b"." => i.checked_sub(1).is_some_and(|p| toks.flags(p) & SHORT != 0),
        _ => false,
    }
}

/// Words of one place name are separated by spaces, a hyphen or an abbreviation point ("St. Louis").
fn place_gap(scan: &Scan<'_>, i: usize) -> bool {
    matches!(gap_before(scan, i), b" " | b"-" | b". " | b"." | b"  ")
}

/// A cue and the word after it are separated by plain spaces.
fn plain_gap(scan: &Scan<'_>, i: usize) -> bool {
    let gap = gap_before(scan, i);
    !gap.is_empty() && gap.len() <= 2 && gap.iter().all(|&b| b == b' ')
}

/// The gap before a token ends a sentence or a line.
fn starts_sentence(gap: &[u8]) -> bool {
    gap.iter().any(|&b| {
        matches!(
            b,
            b'.' | b'!' | b'?' | b'\n' | b'"' | b':' | b'(' | b'*' | b'#'
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector() -> &'static Detector {
        static DET: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
        DET.get_or_init(|| Detector::new(&Policy::default()).expect("lexicons compile"))
    }

    /// The text of a property case: each word followed by its gap (a space once the gaps run out).
    fn joined(words: &[String], gaps: &[String]) -> String {
        words
            .iter()
            .zip(
                gaps.iter()
                    .map(String::as_str)
                    .chain(std::iter::repeat(" ")),
            )
            .flat_map(|(w, g)| [w.as_str(), g])
            .collect()
    }

    /// Call `f` with the detector, the context and the (unfilled) facts of `text`.
    fn with_facts(
        text: &str,
        f: impl FnOnce(
            &Detector,
            &Ctx<'_, '_>,
            &Facts<'_, '_>,
        ) -> Result<(), proptest::test_runner::TestCaseError>,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let det = detector();
        let msg = Message::incoming(text);
        let scan = Scan::new(text);
        let cx = Ctx {
            msg: &msg,
            scan: &scan,
        };
        let cells = vec![Cell::new(0u32); scan.tokens.len()];
        let toks = Facts {
            scan: &scan,
            lex: &det.lex,
            cells: &cells,
        };
        f(det, &cx, &toks)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn no_rule_and_no_model_takes_a_word_passed_over(
            words in proptest::collection::vec("(The|the|WHAT|May|may|Dr|dr|Monday|I|a|J|5|2nd|In|From|John|JOHN|Smith|Will|will|Paris|paris|New|York|new|patient|Patient|Thanks|said|is|Name|my|x|Mr|Jan|van|RN|Koskikatu)", 0..30),
            gaps in proptest::collection::vec("( |, |\\. |\n| - |: |'s |@|_)", 0..30),
        ) {
            let text = joined(&words, &gaps);
            with_facts(&text, |det, cx, toks| {
                let scan = cx.scan;
                let weak = weak_caps(scan.norm.as_bytes(), &scan.tokens);
                for (i, t) in scan.tokens.iter().enumerate() {
                    let so_far = toks.so_far(i);
                    let f = toks.flags(i);
                    if ruled_out(so_far, Some(t)) {
                        proptest::prop_assert!(!Detector::model_candidate(f, weak), "{text:?} {i}");
                    }
                    if inert(f, t) {
                        let mut sink = Sink::default();
                        proptest::prop_assert!(f & PATIENT == 0);
                        proptest::prop_assert!(!Detector::model_candidate(f, weak), "{text:?} {i}");
                        proptest::prop_assert!(det.place_at(cx, &mut sink, toks, i, weak).is_none());
                        for name_end in [usize::MAX, i, i.wrapping_sub(1)] {
                            proptest::prop_assert!(
                                det.name_at(cx, &mut sink, toks, i, weak, name_end).is_none(),
                                "{text:?} {i}"
                            );
                        }
                        proptest::prop_assert!(sink.hits.is_empty());
                    }
                }
                Ok(())
            })?;
        }

        #[test]
        fn every_model_candidate_is_a_word_the_rules_left(
            words in proptest::collection::vec("(The|the|WHAT|May|may|Dr|dr|Monday|I|a|J|5|2nd|In|From|John|JOHN|Smith|Will|will|Paris|paris|New|York|new|patient|Patient|Thanks|said|is|Name|my|x|Mr|Jan|van|RN|MD|Koskikatu|Zorblat|zorblat|Ana|george|bieber)", 0..30),
            gaps in proptest::collection::vec("( |, |\\. |\n| - |: |'s |@|_|-)", 0..30),
        ) {
            let text = joined(&words, &gaps);
            with_facts(&text, |det, cx, toks| {
                let scan = cx.scan;
                let mut left = vec![0u64; scan.tokens.len().div_ceil(64)];
                let weak = det.rules(cx, &mut Sink::default(), toks, &mut left);
                for (i, t) in scan.tokens.iter().enumerate() {
                    let candidate = (t.shape.capitalized() || weak)
                        && !ruled_out(toks.so_far(i), Some(t))
                        && Detector::model_candidate(toks.flags(i), weak);
                    if candidate {
                        proptest::prop_assert_eq!(next_left(&left, i), Some(i), "{:?} {}", text, i);
                    }
                }
                Ok(())
            })?;
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
        #[test]
        fn suffix_features_are_the_tails_hashed(w in "(\\PC|[a-z'])*") {
            let w = w.as_bytes();
            proptest::prop_assert_eq!(
                suffix_features(w),
                [feature(4, tail(w, 3)), feature(5, tail(w, 2))]
            );
        }

        #[test]
        fn credential_words_are_the_listed_ones_in_a_credentials_shape(
            w in "(MD|md|Md|mD|PhD|PHD|phd|RN|Rn|PA|FNP|fnp|Ma|MA|Do|DO|CRNA|Pharmd|PharmD|DNP|frcpc|FRCPC)?[a-zA-Zé\\-]{0,3}",
        ) {
            let old = (w.chars().all(|c| !c.is_lowercase()) && w.chars().any(char::is_uppercase)
                || w.chars().skip(1).any(char::is_uppercase))
                && w.len() <= 8
                && CREDENTIALS.iter().any(|c| c.eq_ignore_ascii_case(&w));
            proptest::prop_assert_eq!(is_credential_word(&w), old, "{:?}", w);
        }

        #[test]
        fn gap_features_are_the_gap_classes_hashed(gap in "[ \n,.:\"@_-]{0,4}|\\PC{0,3}") {
            let gap = gap.as_bytes();
            let class = [
                gap.iter().copied().find(|&b| b != b' ').unwrap_or(b' '),
                u8::from(gap.contains(&b'\n')),
            ];
            for (kind, space) in [15, 16].into_iter().zip(SPACE_GAP_FEATURES) {
                proptest::prop_assert_eq!(gap_feature(kind, space, gap), feature(kind, &class));
            }
        }
    }

    #[test]
    fn lower_case_words_in_mixed_case_text() {
        // A lower-case place counts right after a place cue, and only there.
        assert_eq!(places("Then She moved to boston last May"), ["boston"]);
        assert_eq!(
            places("We drove to new york City With Anna"),
            ["new york City"]
        );
        assert!(places("I love Paris and london in May").is_empty());
        // A lower-case patient word, possessive or not, still marks health context.
        assert!(sink_for("Saw the patient today. Great!", &Policy::default()).health_context);
        assert!(sink_for("Read the patient's chart. Great!", &Policy::default()).health_context);
        assert!(!sink_for("Saw the patio today. Great!", &Policy::default()).health_context);
    }

    #[test]
    fn explanation_tails_are_in_their_places() {
        for (k, why) in NameWhy::ALL.into_iter().enumerate() {
            assert_eq!(why as usize, k);
            assert!(detector().name_tails[k].contains(why.words()));
        }
        let det = detector();
        assert!(det.place_tails.iter().all(|t| !t.is_empty()));
        assert!(
            det.place_tails[place_tail_index(Some(PlaceKind::State), true, false)]
                .contains("a state or province and is tied")
        );
    }

    #[test]
    fn place_kinds_survive_their_code() {
        for kind in [
            None,
            Some(PlaceKind::Country),
            Some(PlaceKind::State),
            Some(PlaceKind::City),
            Some(PlaceKind::Region),
        ] {
            assert_eq!(PlaceKind::from_code(PlaceKind::code(kind)), kind);
        }
    }

    #[test]
    fn lexicon_bits_cover_their_words() {
        let lex = &detector().lex;
        assert!(!lex.entries.is_empty() && lex.map.is_empty());
        for e in &lex.entries {
            let h = hash_bytes(e.text.as_bytes());
            let got = lex
                .get_hashed(h, e.text.as_bytes())
                .map(|v| (v & !PLACE_BITS, PlaceKind::from_code(Tok::unpack(v).place)));
            assert_eq!(got, Some((e.flags, e.place)), "{}", e.text);
            if e.flags & LOWER_FLAGS != 0 || lower_first_name(e.flags) {
                assert!(lex.may_matter_lower(h), "{} has no lower bit", e.text);
            }
            if e.flags & CUE_FLAGS != 0 {
                assert!(lex.may_be_cue(h), "{} has no cue bit", e.text);
            }
            let parts: Vec<&str> = words(&e.text).collect();
            if e.place.is_some() && parts.len() > 2 {
                for k in 2..parts.len() {
                    let prefix = parts[..k].join(" ");
                    assert!(
                        lex.get(prefix.as_bytes())
                            .is_some_and(|p| p & PLACE_PREFIX != 0),
                        "{prefix} does not begin {}",
                        e.text
                    );
                }
            }
        }
        let set = lex.lower.len();
        assert!(
            set * 10 < (1 << LOWER_BITS),
            "{set} lower bits set: too many to skip words"
        );
        assert!(lex.get(b"the").is_some_and(|k| k & COMMON != 0));
        assert!(lex.get(b"qzxwv").is_none());
        // Same length and hash: past eight bytes only the full comparison tells them apart.
        let long = lex
            .entries
            .iter()
            .find(|e| e.text.len() > 8)
            .expect("a long entry");
        let mut other = long.text.as_bytes().to_vec();
        if let Some(last) = other.last_mut() {
            *last ^= 1;
        }
        let h = hash_bytes(long.text.as_bytes());
        assert!(lex.get_hashed(h, &other).is_none());
        // Up to eight bytes, the hash and the length are the text: a word of another length
        // with the same hash is not the entry.
        let short = lex
            .entries
            .iter()
            .find(|e| e.text.len() == 5)
            .expect("a five-byte entry");
        let h = hash_bytes(short.text.as_bytes());
        assert!(lex.get_hashed(h, b"abcd").is_none());
        assert!(lex.get_hashed(h, b"abcdef").is_none());
    }

    proptest::proptest! {
        #[test]
        fn words_of_one_length_up_to_eight_bytes_have_distinct_hashes(
            a in proptest::collection::vec(1u8.., 1..=8),
            flip in 0usize..64,
        ) {
            // The word hash of such a word is a bijection of the word read as one integer: it
            // is undone step by step, so changing any bit of the word changes the hash.
            let mut b = a.clone();
            if let Some(byte) = b.get_mut(flip / 8 % a.len()) {
                *byte ^= 1 << (flip % 8);
            }
            proptest::prop_assert_eq!(hash_bytes(&a) == hash_bytes(&b), a == b);
        }
    }

    #[test]
    fn weak_caps_stops_early_only_when_the_answer_is_known() {
        // Every count of capitalized words among 0..=400 words, in runs placed early and late.
        let naive = |scan: &Scan<'_>| {
            let words: Vec<&Token> = scan
                .tokens
                .iter()
                .filter(|t| {
                    let w = &scan.norm[t.start..t.end];
                    let stem = w.strip_suffix("'s").unwrap_or(w);
                    !t.shape.has_digit() && stem.len() >= 2
                })
                .collect();
            let caps = words.iter().filter(|t| t.shape.capitalized()).count();
            caps == 0 || (words.len() >= 6 && caps * 10 >= words.len() * 7)
        };
        for total in [1usize, 5, 6, 63, 64, 65, 130, 400] {
            for caps in (0..=total).step_by(total.div_ceil(23)) {
                for caps_first in [false, true] {
                    let text: Vec<&str> = (0..total)
                        .map(|k| {
                            let cap = if caps_first {
                                k < caps
                            } else {
                                k >= total - caps
                            };
                            match (cap, k % 5) {
                                (true, 0) => "Ann's",
                                (true, _) => "Word",
                                (false, 1) => "x's",
                                (false, 2) => "b2",
                                (false, _) => "word",
                            }
                        })
                        .collect();
                    let text = text.join(" ");
                    let scan = Scan::new(&text);
                    assert_eq!(
                        weak_caps(scan.norm.as_bytes(), &scan.tokens),
                        naive(&scan),
                        "{total} words, {caps} capitalized, first: {caps_first}"
                    );
                }
            }
        }
    }

    /// The names detector's hits on `text` as an incoming message.
    fn run_on(text: &str) -> Vec<Hit> {
        let det = detector();
        let msg = Message::incoming(text);
        let scan = Scan::new(text);
        let cx = Ctx {
            msg: &msg,
            scan: &scan,
        };
        let mut sink = Sink::default();
        det.run(&cx, &mut sink);
        sink.hits
    }

    fn hits(text: &str) -> Vec<(&'static str, String)> {
        run_on(text)
            .iter()
            .map(|h| (h.rule.id, text[h.span.start..h.span.end].to_owned()))
            .collect()
    }

    #[test]
    fn cue_bits_answer_as_the_filled_flags() {
        let det = detector();
        for text in [
            "Dr. Smith said hi to Nurse Jane in Boston",
            "thanks, Grace! my name is Omar, patient of Dr O'Brien's clinic",
            "moved to Dayton from 12 Elm Street\nSpringfield, lives in Ohio",
            "STREET in ON at Ave, PT Mr. said hello",
        ] {
            let scan = Scan::new(text);
            let (cells, filled) = (
                vec![Cell::new(0u32); scan.tokens.len()],
                vec![Cell::new(0u32); scan.tokens.len()],
            );
            // One set of cells asked only through the cue bits, the other filled.
            let cues = Facts {
                scan: &scan,
                lex: &det.lex,
                cells: &cells,
            };
            let full = Facts {
                scan: &scan,
                lex: &det.lex,
                cells: &filled,
            };
            for i in 0..scan.tokens.len() {
                for flag in (0..32).map(|b| 1u32 << b).filter(|f| f & CUE_FLAGS != 0) {
                    assert_eq!(
                        cues.has_cue(i, flag),
                        full.flags(i) & flag != 0,
                        "{} in {text:?}",
                        scan.tok(i)
                    );
                }
            }
        }
    }

    fn names(text: &str) -> Vec<String> {
        hits(text)
            .into_iter()
            .filter(|h| h.0 == "phi.name")
            .map(|h| h.1)
            .collect()
    }

    fn places(text: &str) -> Vec<String> {
        hits(text)
            .into_iter()
            .filter(|h| h.0 == "phi.location")
            .map(|h| h.1)
            .collect()
    }

    fn sink_for(text: &str, policy: &Policy) -> Sink {
        let det = Detector::new(policy).expect("lexicons compile");
        let msg = Message::outgoing(text);
        let scan = Scan::new(text);
        let mut sink = Sink::default();
        det.run(
            &Ctx {
                msg: &msg,
                scan: &scan,
            },
            &mut sink,
        );
        sink
    }

    #[test]
    fn names_after_titles_intros_and_greetings() {
        assert_eq!(names("Mrs. Diana Usamov is in bed 4"), ["Diana Usamov"]);
        assert_eq!(names("My name is Melissa Lombardi."), ["Melissa Lombardi"]);
        assert_eq!(names("Thanks, Judy!"), ["Judy"]);
        assert_eq!(names("Dr. White will see you"), ["White"]);
        assert_eq!(names("Thanks, Grace!"), ["Grace"]);
        assert!(names("The Princess Royal arrived").is_empty());
        assert_eq!(
            names("I'm so jealous! said Felix to Linda"),
            ["Felix", "Linda"]
        );
        assert_eq!(names("Name: Toshimi Arata"), ["Toshimi Arata"]);
    }

    #[test]
    fn names_after_someones_family_word() {
        // Names parents give today that the Census lists lack.
        assert_eq!(
            names("my son Jayden was in the PICU for a week"),
            ["Jayden"]
        );
        assert_eq!(names("Thanks to my grandson Mateo for the ride"), ["Mateo"]);
        assert_eq!(names("My youngest daughter Aaliyah loved it"), ["Aaliyah"]);
        assert_eq!(names("her late husband, Ezekiel, was here"), ["Ezekiel"]);
        // A family word that is no one's in the text, or an ordinary word after it.
        assert!(names("a friend Zayden made at camp").is_empty());
        assert!(names("my son Went to the ER").is_empty());
        assert!(names("My son and I loved the staff").is_empty());
        assert!(names("our son. Jaxon was next").is_empty());
    }

    #[test]
    fn a_first_name_with_an_age_between_commas_is_no_town() {
        assert_eq!(
            names("Tyler, 7, is heading home after three weeks"),
            ["Tyler"]
        );
        assert!(places("Tyler, 7, is heading home after three weeks").is_empty());
        assert_eq!(places("We opened a clinic in Tyler last spring"), ["Tyler"]);
    }

    #[test]
    fn handles_are_no_names_and_rank_titles_join_them() {
        assert!(names("@Harry_Styles hello, followback please").is_empty());
        assert!(names("RT @Louis_Tomlinson: what a day").is_empty());
        assert_eq!(names("Happy birthday Harry from all of us"), ["Harry"]);
        assert_eq!(names("Pope Benedict visited the ward"), ["Pope Benedict"]);
        assert_eq!(names("Mrs. Diana Usamov is in bed 4"), ["Diana Usamov"]);
    }

    #[test]
    fn names_at_a_sentence_start_in_capitals_and_with_a_closing_initial() {
        assert_eq!(names("Tom Brady runs out again"), ["Tom Brady"]);
        assert_eq!(names("we saw KRISTEN BELL today"), ["KRISTEN BELL"]);
        assert_eq!(names("he does Teddy P proud"), ["Teddy P"]);
    }

    #[test]
    fn popular_first_names_written_in_lower_case_in_mixed_case_text() {
        assert_eq!(
            names("Had lunch with george and his dog. So fun!"),
            ["george"]
        );
        // A lower-case surname that is no ordinary word joins it.
        assert_eq!(names("Saw kevin costner at the Airport"), ["kevin costner"]);
        assert_eq!(names("Can I ask brian about it? OK"), ["brian"]);
        // Names that are also words, tags and handles stay quiet.
        assert!(names("I will mark the bill. May be Late").is_empty());
        assert!(names("Loved the #jessica mug. Wow").is_empty());
        assert!(names("Thanks @__kevin for the link. Wow").is_empty());
        // After a determiner such a word is a common noun.
        assert!(names("She is the jack of all trades. Wow").is_empty());
        assert!(names("There is a jack in the Trunk").is_empty());
    }

    #[test]
    fn full_names_with_initials_particles_and_possessives() {
        assert_eq!(names("Donald van der Voet called"), ["Donald van der Voet"]);
        assert_eq!(names("Stephan M Urner"), ["Stephan M Urner"]);
        assert_eq!(names("we asked Péter M. Novák twice"), ["Péter M. Novák"]);
        assert_eq!(names("Tamara's scan came back clear"), ["Tamara"]);
        assert_eq!(names("judy said the pain was worse"), ["judy"]);
        assert_eq!(names("Follow up with Jan Kowalski soon"), ["Jan Kowalski"]);
        assert!(names("See you on Jan 5").is_empty());
        // After a middle initial, a capitalized ordinary word is the surname.
        assert_eq!(names("I met Katie E Miles today"), ["Katie E Miles"]);
        assert_eq!(names("Her name is Jildau S Bouts"), ["Jildau S Bouts"]);
        assert_eq!(names("Katie I Love you"), ["Katie"]);
    }

    #[test]
    fn an_introduction_is_not_part_of_the_name() {
        assert_eq!(names("I'm Kate, from the clinic"), ["Kate"]);
        assert_eq!(names("I'm Katie Miles."), ["Katie Miles"]);
        assert_eq!(names("Hi, I\u{2019}m Kate Smith"), ["Kate Smith"]);
    }

    #[test]
    fn ordinary_words_that_are_names_stay_quiet() {
        assert!(names("Will you be open on May 5?").is_empty());
        assert!(names("Hope you feel better. Grace period ends Monday.").is_empty());
        assert!(names("Bill me later, Mark said no.").is_empty());
        assert!(names("Happy Birthday To Everyone At The Clinic Today").is_empty());
        assert!(names("I'm tired today").is_empty());
        assert!(names("Dear Doctor, thank you").is_empty());
        assert!(hits("Take your pills with food").is_empty());
    }

    #[test]
    fn each_place_explanation_says_how_it_was_found() {
        let explain = |text: &str, place: &str| {
            run_on(text)
                .iter()
                .find(|h| h.rule.id == "phi.location" && &text[h.span.start..h.span.end] == place)
                .map(|h| h.explanation.to_string())
                .unwrap_or_default()
        };
        assert!(explain("She lives in Dayton, Ohio.", "Dayton").contains("a city"));
        assert!(
            explain("We moved here from Zorbland last year", "Zorbland")
                .contains("from its context")
        );
        let address =
            "Satu Elomo\n\n45818 P.O. Box 242\n Suite 787\n Kangerlussuaq\n\n Greenlander 54005";
        assert!(explain(address, "Kangerlussuaq").contains("the name model reads it"));
    }

    #[test]
    fn saints_names_are_neither_people_nor_towns() {
        for text in [
            "Congrats to the team at St. Jude",
            "my son is at St. Luke's for chemo",
            "Happy St. Patrick's Day from all of us",
            "We love St Mary's nurses",
            "A tour of Saint Francis hospital",
        ] {
            assert!(hits(text).is_empty(), "{text}: {:?}", hits(text));
        }
        assert_eq!(places("she lives in St. Louis"), ["St. Louis"]);
        assert_eq!(names("Mary Smith works at St. Jude"), ["Mary Smith"]);
    }

    #[test]
    fn care_settings_are_neither_places_nor_names() {
        for text in [
            "My dad is in ICU",
            "She is in NICU since Monday",
            "back in PICU again",
            "Our team in Cardiology is the best",
            "Grandma is in Hospice now",
            "see you at Labor and Delivery",
            "stuck in the ER for 6 hours",
            "Went to the ED last night",
        ] {
            assert!(hits(text).is_empty(), "{text}: {:?}", hits(text));
        }
        assert_eq!(
            names("ED SHEERAN and KATY PERRY"),
            ["ED SHEERAN", "KATY PERRY"]
        );
        assert_eq!(names("Ed Sheeran played in Boston"), ["Ed Sheeran"]);
    }

    #[test]
    fn places_from_gazetteer_and_cues() {
        assert_eq!(places("She lives in Dayton, Ohio."), ["Dayton", "Ohio"]);
        assert_eq!(places("We moved here from Bauru last year"), ["Bauru"]);
        assert_eq!(
            places("the princess royal arrived at bauru this morning from bahrain."),
            ["bauru", "bahrain"]
        );
        assert_eq!(places("He moved to New Zealand"), ["New Zealand"]);
        assert_eq!(
            places("808 Imre u. 12.\n Apt. 762\n Zalakaros\n Hungary 06554"),
            ["Zalakaros", "Hungary"]
        );
    }

    #[test]
    fn ambiguous_places_need_a_cue() {
        assert!(places("What a nice day for reading").is_empty());
        assert!(places("Withdraw money from the ATM").is_empty());
        assert_eq!(places("We live in Reading now"), ["Reading"]);
    }

    #[test]
    fn tied_towns_and_patients_are_raised() {
        let sink = sink_for("my patient John Smith moved to Dayton", &Policy::default());
        assert!(sink.health_context);
        let boosts: Vec<_> = sink.hits.iter().map(|h| (h.rule.id, h.boost)).collect();
        assert_eq!(boosts, [("phi.name", 1), ("phi.location", 1)]);
        assert!(
            sink.hits
                .iter()
                .all(|h| h.explanation.contains("Safe Harbor"))
        );
    }

    #[test]
    fn organization_and_product_names_are_not_people() {
        let mut policy = Policy::default();
        policy.organization.name = "Mercy Hospital".to_owned();
        policy.products.push(crate::policy::Product {
            name: "Cardiolex".to_owned(),
            ..Default::default()
        });
        let sink = sink_for("Thanks, Mercy! Ask Cardiolex about it", &policy);
        assert!(sink.hits.is_empty(), "{:?}", sink.hits);
    }

    #[test]
    fn cities_named_like_people() {
        assert_eq!(names("Charlotte is a great nurse"), ["Charlotte"]);
        assert_eq!(places("She lives in Charlotte now"), ["Charlotte"]);
        assert_eq!(names("Paris Hilton was there"), ["Paris Hilton"]);
        assert_eq!(places("Austin is hot in June"), ["Austin"]);
    }

    proptest::proptest! {
        #[test]
        fn any_text_gives_spans_on_char_boundaries(text in "\\PC{0,120}", caps in "[A-Z][a-z]{1,8}( [A-Z][a-z]{1,8}){0,3}") {
            for t in [text.clone(), format!("Dr. {caps} from {caps}'s {text}")] {
                let msg = Message::incoming(t.as_str());
                let scan = Scan::new(&t);
                let mut sink = Sink::default();
                detector().run(&Ctx { msg: &msg, scan: &scan }, &mut sink);
                for h in &sink.hits {
                    proptest::prop_assert!(t.get(h.span.start..h.span.end).is_some_and(|m| !m.is_empty()));
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn feature_hash_in_32_bits_is_the_64_bit_hash_cut(
            kind in 0..KINDS,
            value in proptest::collection::vec(proptest::num::u8::ANY, 0..20),
        ) {
            let wide = value.iter().fold(KIND_SEEDS[kind], |h, &b| fnv_step(h, b));
            proptest::prop_assert_eq!(feature(kind, &value), wide as u32);
        }
    }

    #[test]
    fn no_token_has_more_features_than_a_packed_sum_holds() {
        let f = NameFeaturizer::new().expect("lexicons compile");
        for text in [
            "Dr. Mary O'Brien's patient Tomomi moved to Zuoz from Paris, said Felix",
            "thanks maria and jose lopez's kids in paris",
            "Hi Anna! MARY SMITH lives in Rio de Janeiro. Felix's Sao Paulo",
        ] {
            for c in f.candidates(text) {
                assert!(c.features.len() <= MAX_FEATURES as usize, "{text}");
            }
        }
    }

    #[test]
    fn credentials_after_a_name_join_its_span() {
        let text = "Jane Doe, RN, says the dose was fine";
        assert_eq!(hits(text), [("phi.name", "Jane Doe, RN".to_owned())]);
        let text = "Talked with Mark Lee RN and Sara Diaz, MD about bed 4";
        assert_eq!(names(text), ["Mark Lee RN", "Sara Diaz, MD"]);
        assert!(places(text).is_empty());
        // Chains of credentials, hyphenated ones, and mixed-case degrees.
        assert_eq!(
            hits("Please welcome Sara Diaz, MD, PhD to the team"),
            [("phi.name", "Sara Diaz, MD, PhD".to_owned())]
        );
        assert_eq!(
            hits("We thank Tomas Lee, PA-C and Ana Ruiz, FNP-BC"),
            [
                ("phi.name", "Tomas Lee, PA-C".to_owned()),
                ("phi.name", "Ana Ruiz, FNP-BC".to_owned())
            ]
        );
        assert_eq!(
            names("Ask John Smith PharmD about it"),
            ["John Smith PharmD"]
        );
        assert_eq!(
            names("Thanks to Dr. Patel, MD for the visit"),
            ["Patel, MD"]
        );
    }

    #[test]
    fn a_credential_word_needs_a_credential_shape() {
        for w in ["RN", "MD", "PhD", "PharmD", "FNP", "PA"] {
            assert!(super::is_credential_word(w), "{w}");
        }
        // Names and ordinary words that share a credential's letters.
        for w in ["Ma", "Do", "md", "rn", "Ms", "Pt", "CEO", ""] {
            assert!(!super::is_credential_word(w), "{w}");
        }
    }

    #[test]
    fn credential_words_elsewhere_keep_their_reading() {
        // Not after a name: "Anh Do" is a full name, and a credential alone is no name.
        assert_eq!(names("I saw Anh Do yesterday"), ["Anh Do"]);
        assert!(names("The RN on call said the MD was busy").is_empty());
        // Written as an ordinary word, a credential is not one ("Ma" is a name here).
        assert_eq!(names("Thanks, Jack Ma"), ["Jack Ma"]);
        // A possessive or a full stop ends the name before the credential.
        assert!(names("Ask Sara Diaz. MD offices close at 5").contains(&"Sara Diaz".to_owned()));
        assert_eq!(names("It was Sara Diaz's RN who called"), ["Sara Diaz"]);
        // A name that follows a credential is still found, without it.
        assert_eq!(names("Our RN Sara Diaz said hi"), ["Sara Diaz"]);
        // A credential does not swallow the name after it.
        assert_eq!(
            names("We thank Tomas Lee, PA and Cara Diaz"),
            ["Tomas Lee, PA", "Cara Diaz"]
        );
    }

    #[test]
    fn odd_input_never_panics() {
        let long = "Judy Smith went to Paris. ".repeat(200);
        assert_eq!(names(&long).len(), 200);
        for t in [
            "",
            "'s",
            "Dr.",
            "Mr. ",
            "\u{200B}Ｊｕｄｙ",
            "ǅ ß İ",
            "from",
            "van der",
            "Name:",
            "Ⅻ's",
        ] {
            hits(t);
        }
    }
}
