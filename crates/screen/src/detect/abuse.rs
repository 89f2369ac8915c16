//! Abuse and spam: profanity, harassment, hate, the policy's blocked terms, scams, fake
//! pharmacies, follower selling and link or character floods.
//!
//! Profanity comes from the npm bad-words and naughty-words lists, de-obfuscated and trimmed of
//! words hospitals use every day ("anal", "breast", "sex", "rectum"). Words match whole (with a
//! few inflection suffixes), so "Scunthorpe", "assessment", "cocktail" and "Dickens" never fire.
//! Obfuscated spellings are rebuilt only for the rare chunks that need it: leetspeak and masks
//! ("sh1t", "@ss", "f*ck"), spaced letters ("f u c k") and stretched letters ("fuuuuck");
//! look-alike Unicode is already folded by `Scan::norm`.
//!
//! Everything that must start a word is found from `Scan`'s word hashes, behind bit gates that
//! stay shut for nearly every message: one-word lexicon terms (with their suffixes), the anchors
//! of the harassment and hate patterns, the spam triggers, and the phrases (several-word terms,
//! harassment and hate phrases), whose overlapping automaton runs only around their gate words.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::ops::{ControlFlow, Range};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;

use crate::bits::Bits;
use crate::model::hash_bytes;
use crate::policy::Policy;
use crate::report::{Action, Category, Severity};
use crate::rules::RuleInfo;
use crate::text::{Scan, WordGate};
use crate::{IdHasher, ScreenError};

use super::ascii_regex as regex;
use super::links::Url;
use super::{Ctx, Hit, NEAR, PREFIX_LEN, PrefixMasks, Sink, find_near, starts_with_at};

/// The abuse and spam rules.
pub(crate) const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "abuse.profanity",
        category: Category::Abuse,
        severity: Severity::Medium,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Block),
        summary: "Profanity or sexually explicit slang, including obfuscated spellings (f*ck, sh1t, f u c k).",
    },
    RuleInfo {
        id: "abuse.harassment",
        category: Category::Abuse,
        severity: Severity::High,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Block),
        summary: "Insults or abuse aimed at a person (\"you're an idiot\", \"go to hell\", \"kill yourself\").",
    },
    RuleInfo {
        id: "abuse.hate",
        category: Category::Abuse,
        severity: Severity::High,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Block),
        summary: "Slurs and dehumanizing or violent statements about a protected group.",
    },
    RuleInfo {
        id: "abuse.blocked_term",
        category: Category::Abuse,
        severity: Severity::Medium,
        incoming: Some(Action::Review),
        outgoing: Some(Action::Block),
        summary: "A word or phrase on the policy's blocked-terms list.",
    },
    RuleInfo {
        id: "spam.scam",
        category: Category::Spam,
        severity: Severity::High,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Block),
        summary: "Crypto, giveaway and easy-money scams (\"DM me to earn $500 a day\", \"send 0.1 BTC\").",
    },
    RuleInfo {
        id: "spam.pharmacy",
        category: Category::Spam,
        severity: Severity::High,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Block),
        summary: "Fake online pharmacy selling drugs without a prescription.",
    },
    RuleInfo {
        id: "spam.followers",
        category: Category::Spam,
        severity: Severity::Medium,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Review),
        summary: "Selling followers, likes or views.",
    },
    RuleInfo {
        id: "spam.repeated_links",
        category: Category::Spam,
        severity: Severity::Medium,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Review),
        summary: "The same link posted more than once, or four or more links in one message.",
    },
    RuleInfo {
        id: "spam.caps_links",
        category: Category::Spam,
        severity: Severity::Medium,
        incoming: Some(Action::Hide),
        outgoing: Some(Action::Review),
        summary: "A message shouted in capitals that also carries several links.",
    },
    RuleInfo {
        id: "spam.flood",
        category: Category::Spam,
        severity: Severity::Low,
        incoming: Some(Action::Flag),
        outgoing: Some(Action::Flag),
        summary: "A flood of one repeated character, emoji or word.",
    },
];

const PROFANITY: &RuleInfo = &RULES[0];
const HARASSMENT: &RuleInfo = &RULES[1];
const HATE: &RuleInfo = &RULES[2];
const BLOCKED_TERM: &RuleInfo = &RULES[3];
const SCAM: &RuleInfo = &RULES[4];
const PHARMACY: &RuleInfo = &RULES[5];
const FOLLOWERS: &RuleInfo = &RULES[6];
const REPEATED_LINKS: &RuleInfo = &RULES[7];
const CAPS_LINKS: &RuleInfo = &RULES[8];
const FLOOD: &RuleInfo = &RULES[9];

/// Trimmed profanity lexicon: `term<TAB>profanity|slur`.
const LEXICON: &str = include_str!("../../lexicons/en/profanity/profanity.tsv");

/// Rounds additions: common compounds the lists lack.
const EXTRA_PROFANITY: &[&str] = &[
    "dumbass",
    "jackass",
    "dipshit",
    "shithead",
    "douchebag",
    "wanker",
    "bellend",
    "fuckface",
    "fuckwit",
    "fucked",
    "motherfucking",
    "bullshitting",
    "shitshow",
    "goddamn",
    "asshat",
];

/// Endings that keep a profane root profane ("bitchy", "fuckers", "shitting").
const SUFFIXES: &[&str] = &[
    "s", "es", "ed", "er", "ers", "ing", "in", "y", "ty", "ier", "iest", "ting", "ted", "head",
    "heads", "face", "hole",
];

/// Whole words that start with a profane root but are ordinary.
const NOT_PROFANE: &[&str] = &[
    "cocky", "cocker", "cockers", "dicky", "dickey", "assy", "shitake", "titty",
];

/// Lexicon words that are also names ("Dick Van Dyke").
const NAME_LIKE: &[&str] = &["dick", "dyke", "cock", "wank"];

/// Profane words common enough to be worth recognizing under a mask ("f*ck", "s**t").
const MASKABLE: &[&str] = &[
    "fuck",
    "fucking",
    "fucker",
    "shit",
    "bitch",
    "cunt",
    "dick",
    "cock",
    "asshole",
    "bastard",
    "pussy",
    "whore",
    "slut",
    "motherfucker",
    "bullshit",
    "nigger",
    "faggot",
    "twat",
    "prick",
];

/// Abuse aimed at the reader, matched as whole phrases.
const HARASS_PHRASES: &[&str] = &[
    "go to hell",
    "rot in hell",
    "burn in hell",
    "go fuck yourself",
    "go f yourself",
    "fuck you",
    "fuck u",
    "fuck off",
    "fuck yourself",
    "fuck ya",
    "screw you",
    "screw u",
    "stfu",
    "gtfo",
    "kys",
    "kill yourself",
    "kill urself",
    "go kill yourself",
    "go die",
    "hope you die",
    "hope u die",
    "hope you all die",
    "hope you rot",
    "hope you burn",
    "hope you suffer",
    "hope you get cancer",
    "you deserve to die",
    "drop dead",
    "die in a fire",
    "die in a hole",
    "nobody likes you",
    "nobody cares about you",
    "you'll regret this",
    "you will regret this",
    "you'll pay for this",
    "you will pay for this",
    "i'll make you pay",
    "i will find you",
    "i'll find you",
    "i'll have your job",
    "i'll have your license",
    "shut up bitch",
    "shut up idiot",
    "eat shit",
    "piss off",
    "get fucked",
];

/// Words after "drop dead" that make it praise.
const DROP_DEAD_PRAISE: &[&str] = &[
    "gorgeous",
    "beautiful",
    "handsome",
    "sexy",
    "funny",
    "stunning",
    "brilliant",
    "cute",
];

/// Hate phrases beyond single slurs.
const HATE_PHRASES: &[&str] = &[
    "white power",
    "heil hitler",
    "sieg heil",
    "1488",
    "white genocide",
    "race traitor",
    "subhuman",
];

const GROUPS: &str = r"(?:immigrants|migrants|muslims|jews|blacks|gays|lesbians|mexicans|arabs|asians|africans|homosexuals|refugees|illegals|foreigners|trans(?:gender)?\s+people|transgenders|hindus|christians|catholics|latinos|hispanics|chinese|indians|whites|women|disabled\s+people)";

const GROUP_WORDS: &[&str] = &[
    "immigrants",
    "migrants",
    "muslims",
    "jews",
    "blacks",
    "gays",
    "lesbians",
    "mexicans",
    "arabs",
    "asians",
    "africans",
    "homosexuals",
    "refugees",
    "illegals",
    "foreigners",
    "trans people",
    "transgender people",
    "transgenders",
    "hindus",
    "christians",
    "catholics",
    "latinos",
    "hispanics",
    "chinese",
    "indians",
    "whites",
    "women",
    "disabled people",
];
const HATE_VERBS: &[&str] = &[
    "kill all",
    "gas the",
    "gas all",
    "exterminate",
    "deport all",
    "lynch",
    "hang all",
    "shoot all",
];

/// The words the "you …" pattern ends on, as whole words (one word of each several-word
/// insult); a message without one of them cannot match it, so the pattern is skipped.
const INSULT_WORDS: &[&str] = &[
    "idiot",
    "idiots",
    "moron",
    "morons",
    "imbecile",
    "imbeciles",
    "dumbass",
    "dumbasses",
    "retard",
    "retards",
    "loser",
    "losers",
    "clown",
    "clowns",
    "scum",
    "quack",
    "quacks",
    "butcher",
    "butchers",
    "jerk",
    "jerks",
    "bitch",
    "bitches",
    "bastard",
    "bastards",
    "asshole",
    "assholes",
    "cunt",
    "cunts",
    "dick",
    "dicks",
    "whore",
    "whores",
    "slut",
    "sluts",
    "prick",
    "pricks",
    "twat",
    "twats",
    "wanker",
    "wankers",
    "douche",
    "douches",
    "douchebag",
    "douchebags",
    "pig",
    "pigs",
    "freak",
    "freaks",
    "creep",
    "creeps",
    "coward",
    "cowards",
    "hack",
    "hacks",
    "liar",
    "liars",
    "fraud",
    "frauds",
    "crook",
    "crooks",
    "trash",
    "garbage",
    "murderer",
    "murderers",
    "criminal",
    "criminals",
    "stupid",
    "dumb",
    "retarded",
    "useless",
    "pathetic",
    "incompetent",
    "worthless",
    "ignorant",
    "disgusting",
    "evil",
    "joke",
    "disgrace",
    "waste",
    "piece",
];

/// Common words never chosen as a phrase's gate word when the phrase has a rarer one.
const COMMON: &[&str] = &[
    "a", "all", "an", "are", "be", "for", "get", "go", "have", "i", "in", "is", "it", "ll", "me",
    "my", "no", "not", "of", "off", "on", "or", "out", "so", "that", "the", "this", "to", "u",
    "up", "ur", "will", "you", "your",
];
const SCAM_TRIGGERS: &[&str] = &[
    "dm ",
    "message me",
    "inbox me",
    "text me",
    "whatsapp",
    "telegram",
    "earn",
    "btc",
    "bitcoin",
    "crypto",
    "ethereum",
    "usdt",
    "eth ",
    "giveaway",
    "double your",
    "claim your",
    "you have won",
    "you've won",
    "congratulations",
    "invest",
    "forex",
    "recover",
];
const PHARMACY_TRIGGERS: &[&str] = &[
    "pharmacy",
    "prescription",
    "rx ",
    "pills",
    "buy",
    "order",
    "cheap",
    "sale",
    "selling",
    "purchase",
    "discount",
];
const FOLLOWER_TRIGGERS: &[&str] = &[
    "followers",
    "likes",
    "subscribers",
    "views",
    "retweets",
    "promote your",
];

/// Drugs that fake pharmacies sell: controlled substances, lifestyle and weight-loss drugs.
const SPAM_DRUGS: &str = r"(?:oxycodone|oxycontin|oxy|xanax|alprazolam|adderall|percocet|vicodin|hydrocodone|valium|diazepam|tramadol|fentanyl|codeine|morphine|dilaudid|hydromorphone|klonopin|clonazepam|ambien|zolpidem|modafinil|provigil|ritalin|viagra|cialis|levitra|sildenafil|tadalafil|ozempic|wegovy|semaglutide|mounjaro|tirzepatide|phentermine|suboxone|methadone|ketamine|lorazepam|ativan|soma|carisoprodol|lyrica|pregabalin|steroids|hgh|pills)";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Profanity,
    Slur,
}

/// The spam pattern a trigger says is worth running.
#[derive(Clone, Copy)]
enum Family {
    Scam,
    Pharmacy,
    Followers,
}

/// What a phrase-automaton match means.
enum Entry {
    /// A profane term of several words or a symbol (may take a suffix).
    Word(Kind),
    /// A harassment phrase.
    Harass,
    /// A hate phrase.
    Hate,
}

/// [`Detector::starts`] bit: the word may start "you", "ur " or "u r ", which anchor the
/// harassment pattern.
const YOU: u8 = 1;
/// The word may be a gate word of a phrase, a hate anchor or an insult.
const KEYWORD: u8 = 2;
/// The word may be a one-word lexicon term with its suffix.
const TERM: u8 = 4;
/// A spam trigger may start at the word.
const SPAM: u8 = 8;

/// What the pass over the words of one message collects.
struct Words {
    /// Where the gate words of phrases are: the phrase automaton runs around them.
    phrases: Vec<usize>,
    /// Some insult word is present: run the harassment pattern at the "you" words.
    insult: bool,
    /// Where "you", "ur " and "u r " start, the first eight.
    you: [usize; 8],
    n_you: usize,
    /// Spam trigger positions, by [`Family`].
    near: [Vec<usize>; 3],
    /// The runs of one-letter words typed apart.
    spaced: SpacedRuns,
    /// The first token of the first run of five neighbouring words with the same hash.
    flood_from: Option<usize>,
}

impl Words {
    /// Nothing found yet in `scan`.
    fn new(scan: &Scan<'_>) -> Self {
        Words {
            phrases: Vec::new(),
            // ASCII `\b` ends an insult word at a non-ASCII letter, where no word of `Scan` ends.
            insult: !scan.is_ascii(),
            you: [0; 8],
            n_you: 0,
            near: Default::default(),
            spaced: SpacedRuns::default(),
            flood_from: None,
        }
    }
}

/// How many runs of one-letter words [`SpacedRuns`] holds; a message with more is searched on
/// from the first one left out.
const SPACED_RUNS: usize = 8;

/// The runs of three or more one-letter words, each joined to the one before by one or two
/// spaces or marks ("f u c k", "s.h.i.t"), that the pass over the words finds.
#[derive(Default)]
struct SpacedRuns {
    /// Token ranges of the first runs.
    runs: [(usize, usize); SPACED_RUNS],
    n: usize,
    /// The first token of the first run past [`SPACED_RUNS`].
    rest: Option<usize>,
    /// The run under way, as a token range.
    open: Option<(usize, usize)>,
}

impl SpacedRuns {
    /// Token `k`, a word of one byte, extends the run under way or starts one.
    #[inline(never)]
    fn single(&mut self, scan: &Scan<'_>, k: usize) {
        if !single_letter(scan, k) {
            self.close();
            return;
        }
        match self.open {
            Some((first, _)) if joined(scan, k) => self.open = Some((first, k + 1)),
            _ => {
                self.close();
                self.open = Some((k, k + 1));
            }
        }
    }

    /// The run under way ends.
    #[inline(never)]
    fn close(&mut self) {
        if let Some((first, end)) = self.open.take()
            && end - first >= 3
        {
            match self.runs.get_mut(self.n) {
                Some(slot) => {
                    *slot = (first, end);
                    self.n += 1;
                }
                None => {
                    self.rest.get_or_insert(first);
                }
            }
        }
    }
}

/// Token `j` is one ASCII letter.
fn single_letter(scan: &Scan<'_>, j: usize) -> bool {
    scan.tokens.get(j).is_some_and(|t| {
        t.end - t.start == 1
            && scan
                .norm
                .as_bytes()
                .get(t.start)
                .is_some_and(u8::is_ascii_alphabetic)
    })
}

/// Token `j` follows token `j - 1` after one or two spaces or marks.
fn joined(scan: &Scan<'_>, j: usize) -> bool {
    let (Some(p), Some(t)) = (
        j.checked_sub(1).and_then(|i| scan.tokens.get(i)),
        scan.tokens.get(j),
    ) else {
        return false;
    };
    let gap = scan.norm.as_bytes().get(p.end..t.start).unwrap_or_default();
    !gap.is_empty()
        && gap.len() <= 2
        && gap
            .iter()
            .all(|b| matches!(b, b' ' | b'.' | b'-' | b'_' | b'*'))
}

/// The pairs of bytes that the collapsed table words ([`collapse`]) open with, a bit each.
///
/// Every word of [`Detector::words`] has its collapsed form among the keys of
/// [`Detector::collapsed`], and a stem's collapsed form opens its word's; so a rebuilt
/// spelling whose collapsed form opens with a pair no key opens with is none of the words, none
/// of their inflections and no stretched spelling of one. Nearly every rebuilt chunk is a
/// mention or a hashtag ("@name", "#tag"), which the test turns away before any table lookup.
struct Openings {
    /// One bit per pair of bytes; `None` when some key is shorter than two bytes, which opens
    /// with no pair, so that the test must always pass.
    bits: Option<Box<Bits<{ (1 << 16) / 64 }>>>,
}

impl Openings {
    /// The pairs that `keys`, collapsed words, open with.
    fn new<'k>(keys: impl IntoIterator<Item = &'k String>) -> Self {
        let mut bits = Bits::boxed();
        for key in keys {
            let Some(&[a, b]) = key.as_bytes().first_chunk::<2>() else {
                return Openings { bits: None };
            };
            bits.insert(usize::from(a) << 8 | usize::from(b));
        }
        Openings { bits: Some(bits) }
    }

    /// Some table word may be `word` (never false for one that is), or an inflection or a
    /// stretched spelling of one. Only ASCII words are tested: [`collapse`] merges characters,
    /// not bytes.
    fn may_start(&self, word: &str) -> bool {
        let Some(bits) = &self.bits else { return true };
        let b = word.as_bytes();
        let Some(&first) = b.first() else { return true };
        // The second byte of the collapsed word is the first one that differs from the first.
        let Some(&second) = b.iter().find(|&&x| x != first) else {
            return true;
        };
        if !word.is_ascii() {
            return true;
        }
        bits.contains(usize::from(first) << 8 | usize::from(second))
    }
}

/// A table of lexicon words, looked up once per candidate word: hashed by [`IdHasher`], for which
/// SipHash's keyed hashing would cost more than the rest of a lookup.
type WordMap<V> = HashMap<String, V, BuildHasherDefault<IdHasher>>;

/// The compiled abuse and spam detector.
pub(crate) struct Detector {
    /// Several-word lexicon terms and symbols, then the harassment and hate phrases.
    phrases: AhoCorasick,
    entries: Vec<Entry>,
    /// Holds one whole word of every phrase: shut, the phrase automaton cannot find anything.
    phrase_gate: WordGate,
    /// The longest phrase, in bytes.
    phrase_len: usize,
    /// Finders of the lexicon terms without a letter or digit, which no gate word announces.
    symbols: Vec<memchr::memmem::Finder<'static>>,
    /// First words of the group words and hate verbs that anchor the hate patterns.
    hate_gate: WordGate,
    /// [`INSULT_WORDS`].
    insult_gate: WordGate,
    /// Which of the checks [`YOU`], [`KEYWORD`], [`TERM`] and [`SPAM`] a word may need.
    starts: PrefixMasks,
    /// One-word lexicon terms.
    single: WordMap<Kind>,
    /// Sorted word hashes of the one-word terms, alone and with each suffix in [`SUFFIXES`].
    forms: Vec<u64>,
    /// The group words and hate verbs.
    hate_anchors: Vec<&'static str>,
    /// Spam triggers, which count at the start of a word, each with the pattern it calls for,
    /// under every [`PrefixGate::key`] of a word it can start, sorted by key.
    spam_triggers: Vec<(usize, &'static str, Family)>,
    /// Single words (spaces and hyphens removed) for rebuilt obfuscated chunks.
    words: WordMap<Kind>,
    /// Words with every letter run collapsed to one letter, for stretched spellings.
    collapsed: WordMap<(String, Kind)>,
    /// [`Detector::lookup`]'s first test: the two bytes every key of `collapsed` opens with.
    openings: Openings,
    harass_you: Regex,
    hate_group: Regex,
    hate_verb: Regex,
    scam: Regex,
    pharmacy: Regex,
    pharmacy_context: Regex,
    followers: Regex,
    blocked: Option<AhoCorasick>,
}

fn compile_err(what: &str, e: impl std::fmt::Display) -> ScreenError {
    ScreenError::Compile {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

/// The word of `phrase` that best tells whether it can be in a text: a rare one, as long as
/// possible. A word has to stand whole in every match, so the last one counts only when
/// `last_whole` (lexicon terms may take a suffix).
fn gate_word(phrase: &str, last_whole: bool) -> Option<&str> {
    let words: Vec<&str> = phrase
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let whole = if last_whole || words.len() < 2 {
        &words[..]
    } else {
        &words[..words.len() - 1]
    };
    whole
        .iter()
        .copied()
        .max_by_key(|w| (!COMMON.contains(w), w.len()))
}

fn collapse(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

/// [`collapse`] for an ASCII word of at most 32 bytes, written into `buf`; `None` otherwise.
fn collapse_ascii<'b>(word: &str, buf: &'b mut [u8; 32]) -> Option<&'b str> {
    if !word.is_ascii() || word.len() > buf.len() {
        return None;
    }
    let mut n = 0;
    for b in word.bytes() {
        if n == 0 || buf[n - 1] != b {
            buf[n] = b;
            n += 1;
        }
    }
    std::str::from_utf8(buf.get(..n)?).ok()
}

/// The letter a leetspeak character stands for; `?` marks a mask that stands for any letter.
fn unleet(b: u8) -> Option<u8> {
    Some(match b {
        b'a'..=b'z' => b,
        b'0' => b'o',
        b'1' | b'!' | b'|' => b'i',
        b'3' => b'e',
        b'4' | b'@' => b'a',
        b'5' | b'$' => b's',
        b'7' | b'+' => b't',
        b'8' => b'b',
        b'*' | b'#' => b'?',
        _ => return None,
    })
}

/// Bytes checked at a time by the branch-free obfuscation pre-check.
const BLOCK: usize = 64;

const LETTER: u8 = 1;
const DIGIT: u8 = 2;
const SYMBOL: u8 = 4;

/// Byte classes for the obfuscation pre-check.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_lowercase() {
            LETTER
        } else if matches!(b, b'0' | b'1' | b'3' | b'4' | b'5' | b'7' | b'8') {
            DIGIT
        } else if matches!(b, b'@' | b'$' | b'!' | b'|' | b'+' | b'*' | b'#') {
            SYMBOL
        } else {
            0
        };
        i += 1;
    }
    t
};

/// Branch-free (vectorizable) pre-check for `next_suspect` over the positions of `b` but its
/// first and last: some digit or symbol touches a letter, or three equal bytes follow each other.
/// `Some` with the first lane (position less one) that may hold one, or an earlier one.
fn may_be_obfuscated(b: &[u8]) -> Option<usize> {
    // A whole block's window (every one but the first and the last) has a known length, which
    // lets the lanes compile to straight vector code without a loop tail.
    match <&[u8; BLOCK + 3]>::try_from(b) {
        Ok(window) => obfuscation_lanes(window).then_some(0),
        Err(_) => obfuscation_pieces(b),
    }
}

/// Lanes the check of a shorter window (a short message, a text's last block) takes at a time.
const LANES: usize = 16;

/// [`may_be_obfuscated`] of a window of any length: [`LANES`] lanes at a time, the last piece
/// overlapping the one before it, so that every piece compiles to straight vector code. A
/// loop over the whole window would leave up to fifteen lanes to a narrower loop and a byte
/// loop, which cost more than one more piece. The answer is the first lane of the first piece
/// that may hold a suspect, so that the byte test starts there.
fn obfuscation_pieces(b: &[u8]) -> Option<usize> {
    let n = b.len().saturating_sub(2);
    let piece = |at: usize| {
        b.get(at..at + LANES + 2)
            .and_then(|w| <&[u8; LANES + 2]>::try_from(w).ok())
            .is_some_and(|w| obfuscation_lanes(w))
    };
    let Some(last) = n.checked_sub(LANES) else {
        return obfuscation_lanes(b).then_some(0);
    };
    let mut at = 0;
    while at < last {
        if piece(at) {
            return Some(at);
        }
        at += LANES;
    }
    piece(last).then_some(last)
}

/// [`may_be_obfuscated`] over the lanes of `b`. Each test of [`next_suspect`] is written with
/// each class computed once: a digit needs a letter after it and a letter or no digit before
/// it, a symbol a letter before it or no digit before and a letter after it; a byte typed
/// three times is a letter when the equal byte before it is.
#[inline(always)]
fn obfuscation_lanes(b: &[u8]) -> bool {
    let n = b.len().saturating_sub(2);
    let (Some(x), Some(y), Some(z)) = (b.get(..n), b.get(1..n + 1), b.get(2..n + 2)) else {
        return false;
    };
    let letter = |c: u8| c.wrapping_sub(b'a') < 26;
    let digit = |c: u8| c.wrapping_sub(b'0') < 10;
    let symbol = |c: u8| matches!(c, b'@' | b'$' | b'!' | b'|' | b'+' | b'*' | b'#');
    let mut acc = false;
    for ((&p, &c), &q) in x.iter().zip(y).zip(z) {
        let (lp, lq, free) = (letter(p), letter(q), !digit(p));
        acc |= (digit(c) & lq & (lp | free))
            | (symbol(c) & (lp | (free & lq)))
            | ((p == c) & (c == q) & lp);
    }
    acc
}

/// Whether `b` opens with a digit or symbol before a letter, the one test of [`next_suspect`]
/// at the first byte, which [`may_be_obfuscated`] leaves out.
fn opens_obfuscated(b: &[u8]) -> bool {
    let (Some(&c), Some(&q)) = (b.first(), b.get(1)) else {
        return false;
    };
    CLASS
        .get(usize::from(c))
        .is_some_and(|k| k & (DIGIT | SYMBOL) != 0)
        && q.is_ascii_lowercase()
}

/// The first position at or after `from` that [`next_suspect`] finds, with the blocks that
/// the branch-free check clears skipped.
fn first_suspect(b: &[u8], mut pos: usize) -> Option<usize> {
    while pos < b.len() {
        let block_end = pos.saturating_add(BLOCK).min(b.len());
        let window = b
            .get(pos.saturating_sub(1)..block_end.saturating_add(2).min(b.len()))
            .unwrap_or_default();
        // Lane `k` of the window is the position after the window's `k`th byte.
        let first = pos.saturating_sub(1) + 1;
        let from = if pos == 0 && opens_obfuscated(b) {
            Some(pos)
        } else {
            may_be_obfuscated(window).map(|lane| (first + lane).max(pos))
        };
        if let Some(from) = from
            && let Some(at) = next_suspect(b, from, block_end)
        {
            return Some(at);
        }
        pos = block_end;
    }
    None
}

/// The next position at or after `from` that may sit inside an obfuscated word: a digit between
/// letters ("sh1t"), a symbol after a letter ("f*ck", "b!tch"), a digit or symbol that starts a
/// word of letters ("@ss", "$hit", "5hit"), or a letter typed three times ("fuuuck"). Numbers
/// with units ("20mg") do not qualify, which keeps the common case to one table lookup a byte.
fn next_suspect(b: &[u8], from: usize, to: usize) -> Option<usize> {
    let class = |i: usize| b.get(i).map_or(0, |x| CLASS[*x as usize]);
    let mut i = from;
    while i < to && i + 1 < b.len() {
        let p = if i == 0 { 0 } else { class(i - 1) };
        let (c, n) = (class(i), class(i + 1));
        let starts_word = p == 0 && n == LETTER && class(i + 2) == LETTER;
        let hit = match c {
            DIGIT => (p == LETTER && n == LETTER) || starts_word,
            SYMBOL => (p == LETTER && n != 0) || starts_word,
            LETTER => i > 0 && b[i - 1] == b[i] && b[i] == b[i + 1],
            _ => false,
        };
        if hit {
            return Some(i);
        }
        i += 1;
    }
    None
}

impl Detector {
    /// Compile for `policy`.
    pub fn new(policy: &Policy) -> Result<Self, ScreenError> {
        let mut patterns: Vec<String> = Vec::new();
        let mut entries = Vec::new();
        let mut gate_words: Vec<&str> = Vec::new();
        let mut symbols = Vec::new();
        let mut single = WordMap::default();
        let mut words = WordMap::default();
        let mut collapsed = WordMap::default();
        let lexicon = LEXICON
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('\t'))
            .map(|(t, k)| {
                (
                    t,
                    if k == "slur" {
                        Kind::Slur
                    } else {
                        Kind::Profanity
                    },
                )
            })
            .chain(EXTRA_PROFANITY.iter().map(|t| (*t, Kind::Profanity)));
        for (term, kind) in lexicon {
            let joined: String = term
                .chars()
                .filter(|c| c.is_alphanumeric() || !c.is_ascii())
                .collect();
            if joined.chars().all(char::is_alphabetic) {
                collapsed
                    .entry(collapse(&joined))
                    .or_insert_with(|| (term.to_owned(), kind));
                words.entry(joined).or_insert(kind);
            }
            if term.bytes().all(|b| b.is_ascii_alphanumeric()) {
                single.entry(term.to_owned()).or_insert(kind);
                continue;
            }
            match gate_word(term, false) {
                Some(w) => gate_words.push(w),
                None => symbols.push(memchr::memmem::Finder::new(term.as_bytes())),
            }
            patterns.push(term.to_owned());
            entries.push(Entry::Word(kind));
        }
        for (list, entry) in [(HARASS_PHRASES, 0), (HATE_PHRASES, 1)] {
            for p in list {
                gate_words.extend(gate_word(p, true));
                patterns.push((*p).to_owned());
                entries.push(if entry == 0 {
                    Entry::Harass
                } else {
                    Entry::Hate
                });
            }
        }
        // Overlapping search: "fuck you" (harassment) must not hide "fuck you" in "go fuck yourself".
        let phrases = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(false)
            .build(&patterns)
            .map_err(|e| compile_err("abuse lexicon", e))?;
        let hate_anchors: Vec<&'static str> =
            GROUP_WORDS.iter().chain(HATE_VERBS).copied().collect();
        let hate_words: Vec<&str> = hate_anchors
            .iter()
            .filter_map(|a| a.split(' ').next())
            .collect();
        let phrase_gate = WordGate::new(gate_words.iter().copied());
        let phrase_len = patterns.iter().map(String::len).max().unwrap_or(0);
        let hate_gate = WordGate::new(hate_words.iter().copied());
        let insult_gate = WordGate::new(INSULT_WORDS.iter().copied());
        let mut starts = PrefixMasks::new();
        let too_short = |e: &str| compile_err("abuse word gate", format!("{e:?} is too short"));
        for e in ["you", "ur ", "u r "] {
            starts.add(e, YOU).ok_or_else(|| too_short(e))?;
        }
        for e in gate_words.iter().chain(&hate_words).chain(INSULT_WORDS) {
            starts.add(e, KEYWORD).ok_or_else(|| too_short(e))?;
        }
        let inflected: Vec<String> = single
            .keys()
            .flat_map(|w| {
                std::iter::once(w.clone()).chain(SUFFIXES.iter().map(move |s| format!("{w}{s}")))
            })
            .collect();
        let mut forms: Vec<u64> = inflected.iter().map(|f| hash_bytes(f.as_bytes())).collect();
        forms.sort_unstable();
        for e in &inflected {
            starts.add(e, TERM).ok_or_else(|| too_short(e))?;
        }
        let spam_list = [
            (Family::Scam, SCAM_TRIGGERS),
            (Family::Pharmacy, PHARMACY_TRIGGERS),
            (Family::Followers, FOLLOWER_TRIGGERS),
        ];
        let mut spam_triggers = Vec::new();
        for (family, triggers) in spam_list {
            for t in triggers {
                let keys = PrefixMasks::keys_of(t).ok_or_else(|| too_short(t))?;
                spam_triggers.extend(keys.into_iter().map(|k| (k, *t, family)));
                starts.add(t, SPAM).ok_or_else(|| too_short(t))?;
            }
        }
        spam_triggers.sort_by_key(|(k, _, _)| *k);
        let insult = r"(?:idiots?|morons?|imbeciles?|dumbass(?:es)?|retards?|losers?|clowns?|scum|quacks?|butchers?|jerks?|bitch(?:es)?|bastards?|assholes?|cunts?|dicks?|whores?|sluts?|pricks?|twats?|wankers?|douche(?:bag)?s?|pigs?|freaks?|creeps?|cowards?|hacks?|liars?|frauds?|crooks?|trash|garbage|murderers?|criminals?)";
        let adjective = r"(?:stupid|dumb|retarded|useless|pathetic|incompetent|worthless|ignorant|disgusting|evil|a\s+joke|a\s+disgrace|a\s+waste\s+of\s+space|a\s+piece\s+of\s+(?:shit|crap|garbage|trash))";
        let filler = r"(?:(?:such|so|a|an|the|just|really|truly|total|complete|fucking|freaking|absolute|bunch\s+of|fat|lazy|little|big|damn|bloody|sorry|pathetic|useless|incompetent|worthless|stupid|dumb|ugly)\s+)";
        // "Your ER staff are useless" insults people as surely as "you are useless".
        let staff = r"(?:staff|nurses?|doctors?|docs?|receptionists?|employees|people|team|surgeons?|physicians?)";
        let harass_you = regex(
            "harassment pattern",
            &format!(
                r"^(?:(?:you(?:'re|re|\s+are|\s+r)|u\s+r|ur|you\s+(?:people|guys|lot|all)\s+are|your\s+(?:\w+\s+)?{staff}\s+(?:are|is))\s+{filler}{{0,3}}(?:{insult}|{adjective})|you\s+{filler}{{0,2}}{insult})\b"
            ),
        )?;
        let hate_group = regex(
            "hate pattern",
            &format!(
                r"^{GROUPS}\s+(?:(?:should|must|need\s+to|deserve\s+to|ought\s+to)\s+(?:all\s+)?(?:die|be\s+(?:killed|shot|gassed|exterminated|eliminated|wiped\s+out|hanged|lynched)|burn|hang|rot)|are\s+(?:all\s+)?(?:animals|vermin|subhuman|parasites|rats|cockroaches|savages|a\s+disease|a\s+plague|filth|scum))\b"
            ),
        )?;
        let hate_verb = regex(
            "hate pattern",
            &format!(
                r"^(?:kill\s+all|gas\s+(?:the|all)|exterminate|deport\s+all|lynch|hang\s+all|shoot\s+all)\s+(?:the\s+|those\s+|these\s+)?{GROUPS}\b"
            ),
        )?;
        let scam = regex(
            "scam pattern",
            r"\b(?:(?:dm|message|inbox|text|whatsapp|telegram)\s+(?:me|us)\b.{0,60}?\b(?:earn|make|profit|income|invest|bitcoin|btc|crypto|forex|\$\s?\d)|(?:earn|make|making)\s+(?:up\s+to\s+)?\$\s?\d[\d,.]*k?\s*(?:/|a|per|every|each)\s*(?:day|week|hour|month|daily|weekly)|send\s+(?:me\s+)?\d*\.?\d+\s*(?:btc|eth|bitcoin|ethereum|usdt|bnb|doge)\b|(?:double|triple|2x|10x)\s+your\s+(?:money|bitcoin|btc|crypto|investment|eth|income)|(?:crypto|bitcoin|btc|eth|nft|usdt)\s+giveaway|(?:recover|recovery\s+of)\s+(?:your\s+)?(?:lost|stolen|scammed)\s+(?:funds|crypto|bitcoin|money)|(?:claim\s+your|you\s+have\s+won|you've\s+won)\s+(?:a\s+|the\s+|your\s+)?(?:free\s+|new\s+|brand[\s-]new\s+)?(?:prize|reward|\$\s?\d|gift\s+card|iphone|ipad|macbook)|(?:contact|message|text|reach)\s+(?:me|him|her|us)\s+(?:on|via)\s+(?:whatsapp|telegram|wickr))",
        )?;
        let pharmacy = regex(
            "pharmacy pattern",
            &format!(
                r"\b(?:(?:buy|order|purchase|cheap|discount(?:ed)?|selling|sell)\s+(?:\w+\s+){{0,2}}?{SPAM_DRUGS}\b|(?:online|canadian|mexican|indian)\s+pharmacy\b|{SPAM_DRUGS}\s+for\s+sale\b)"
            ),
        )?;
        let pharmacy_context = regex(
            "pharmacy context pattern",
            r"\b(?:online|without\s+(?:a\s+)?(?:prescription|rx|script)|no\s+(?:prescription|rx|script)|overnight\s+(?:delivery|shipping)|discreet|in\s+stock|whatsapp|telegram|wickr|best\s+price|cash\s+app|for\s+sale)\b",
        )?;
        let followers = regex(
            "followers pattern",
            r"\b(?:(?:buy|boost|sell(?:ing)?)\s+(?:\d[\d,.]*k?\s+)?(?:(?:real|active|instant|organic|cheap|free|more|targeted)\s+)*(?:followers|likes|subscribers|views|retweets)\b|(?:get|gain|grow)\s+(?:\d[\d,.]*k?\s+)?(?:real|active|instant|organic|cheap|free|targeted)\s+(?:followers|likes|subscribers|views|retweets)\b|(?:\d[\d,.]*k?)\s+(?:real\s+|active\s+|instant\s+)?(?:followers|likes|subscribers)\s+(?:for\s+(?:just\s+|only\s+)?\$\s?\d|in\s+\d+\s+(?:hours?|days?))|promote\s+your\s+(?:page|account|profile|business|channel))",
        )?;
        let blocked_terms: Vec<String> = policy
            .terms
            .blocked
            .iter()
            .map(|t| Scan::new(t.trim()).norm)
            .filter(|t| !t.is_empty())
            .collect();
        let blocked = if blocked_terms.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&blocked_terms)
                    .map_err(|e| compile_err("policy terms.blocked", e))?,
            )
        };
        let openings = Openings::new(collapsed.keys());
        Ok(Detector {
            phrases,
            entries,
            phrase_gate,
            phrase_len,
            symbols,
            hate_gate,
            insult_gate,
            starts,
            single,
            forms,
            hate_anchors,
            spam_triggers,
            words,
            collapsed,
            openings,
            harass_you,
            hate_group,
            hate_verb,
            scam,
            pharmacy,
            pharmacy_context,
            followers,
            blocked,
        })
    }

    /// Append hits for one message. Kept out of line so that its cost shows on its own in a
    /// profile (a call per message costs nothing measurable).
    #[inline(never)]
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink) {
        let scan = cx.scan;
        let norm = scan.norm.as_str();
        let bytes = norm.as_bytes();
        // Read in place: the pass's findings are a few hundred bytes, which a move would copy.
        let mut words = Words::new(scan);
        self.words(scan, &mut words, sink);
        let phrases = &words.phrases;
        if !scan.is_ascii() && self.symbols.iter().any(|t| t.find(bytes).is_some()) {
            // A symbol term ("🖕") has no gate word.
            self.phrases(scan, 0..norm.len(), sink);
        } else {
            // Every phrase match holds one of its gate words, so it lies within `phrase_len`
            // bytes of one: long text is searched only there.
            let mut i = 0;
            while let Some(&at) = phrases.get(i) {
                let mut lo = at.saturating_sub(self.phrase_len);
                let mut hi = at.saturating_add(self.phrase_len);
                i += 1;
                while let Some(&next) = phrases
                    .get(i)
                    .filter(|&&n| n.saturating_sub(self.phrase_len) <= hi)
                {
                    hi = next.saturating_add(self.phrase_len);
                    i += 1;
                }
                hi = hi.min(norm.len());
                while !norm.is_char_boundary(lo) {
                    lo -= 1;
                }
                while !norm.is_char_boundary(hi) {
                    hi += 1;
                }
                self.phrases(scan, lo..hi, sink);
            }
        }
        if words.insult {
            for &at in words.you.get(..words.n_you).unwrap_or_default() {
                self.anchored(scan, at, true, sink);
            }
        }
        self.obfuscated(scan, &words.spaced, sink);
        find_near(
            &self.scam,
            norm,
            &words.near[Family::Scam as usize],
            |range| {
                let found = scan.orig_text(range.clone());
                sink.push(
                Hit::new(SCAM, scan.orig(range), format!("\"{found}\" reads like a money or crypto scam, which preys on followers of the page."))
                    .suggest("Hide the comment and report the account to the platform."),
            );
            },
        );
        find_near(
            &self.pharmacy,
            norm,
            &words.near[Family::Pharmacy as usize],
            |range| {
                let context = self.pharmacy_context.is_match(around(norm, &range));
                if context {
                    let found = scan.orig_text(range.clone());
                    sink.push(
                    Hit::new(
                        PHARMACY,
                        scan.orig(range),
                        format!("\"{found}\" advertises drugs sold without a prescription, typical of illegal online pharmacies and counterfeit medicine."),
                    )
                    .suggest("Hide the comment and report the account; counterfeit medicines can be dangerous."),
                );
                }
            },
        );
        find_near(
            &self.followers,
            norm,
            &words.near[Family::Followers as usize],
            |range| {
                let found = scan.orig_text(range.clone());
                sink.push(Hit::new(
                FOLLOWERS,
                scan.orig(range),
                format!("\"{found}\" sells followers or engagement, a spam pattern that breaks platform rules."),
            ));
            },
        );
        flood(scan, words.flood_from, sink);
        self.blocked_terms(scan, sink);
    }

    /// The pass over the words of one message: one probe per word answers every gate, and the
    /// exact checks run only where it says "maybe". The same pass finds the runs of one-letter
    /// words typed apart, and the first token of the first run of five neighbouring words with
    /// the same hash (where a word flood can start), which nearly no message has. Kept out of
    /// line, with the rare checks out of line too, so that the loop's values stay in registers.
    #[inline(never)]
    fn words(&self, scan: &Scan<'_>, words: &mut Words, sink: &mut Sink) {
        let bytes = scan.norm.as_bytes();
        // A copy of the loop for texts of four bytes or more, where the probe's test of the
        // text's length is known true and folds away.
        if bytes.len() >= PREFIX_LEN {
            self.words_with(scan, words, sink, |start, end| {
                self.starts.mask_at(bytes, start, end)
            });
        } else {
            self.words_with(scan, words, sink, |start, end| {
                self.starts.mask(bytes.get(start..end).unwrap_or_default())
            });
        }
    }

    /// [`Detector::words`] with `probe` giving the mask of the word `norm[start..end]`.
    #[inline(always)]
    fn words_with(
        &self,
        scan: &Scan<'_>,
        words: &mut Words,
        sink: &mut Sink,
        probe: impl Fn(usize, usize) -> u8,
    ) {
        let tokens = &scan.tokens;
        // Unequal to the first word's hash, so that the first word starts a run of one.
        let mut prev = !tokens.first().map_or(0, |t| t.hash);
        let (mut same, mut flood_from) = (0usize, None);
        for (k, t) in tokens.iter().enumerate() {
            // The runs are kept in `words` itself: the pass's own copy would be copied there
            // whole at the end.
            if t.end - t.start == 1 {
                words.spaced.single(scan, k);
            } else if words.spaced.open.is_some() {
                words.spaced.close();
            }
            if t.hash == prev {
                same += 1;
                if same == 4 && flood_from.is_none() {
                    flood_from = Some(k - 4);
                }
            } else {
                same = 0;
            }
            prev = t.hash;
            if t.shape.apostrophe() {
                self.pieces(scan, t.start..t.end, words, sink);
                continue;
            }
            let mask = probe(t.start, t.end);
            if mask != 0 {
                self.word(scan, t.start..t.end, t.hash, mask, words, sink);
            }
        }
        words.spaced.close();
        words.flood_from = flood_from;
    }

    /// [`Detector::words`] at a word with inner apostrophes: each piece on its own.
    #[inline(never)]
    fn pieces(&self, scan: &Scan<'_>, range: Range<usize>, words: &mut Words, sink: &mut Sink) {
        let mut start = range.start;
        for piece in scan
            .norm
            .as_bytes()
            .get(range)
            .unwrap_or_default()
            .split(|&b| b == b'\'')
        {
            let mask = self.starts.mask(piece);
            if mask != 0 {
                self.word(
                    scan,
                    start..start + piece.len(),
                    hash_bytes(piece),
                    mask,
                    words,
                    sink,
                );
            }
            start += piece.len() + 1;
        }
    }

    /// The exact checks at one word (an alphanumeric run of `norm`, `hash` its word hash) whose
    /// probe of [`Detector::starts`] gave `mask`.
    #[inline(never)]
    fn word(
        &self,
        scan: &Scan<'_>,
        range: Range<usize>,
        hash: u64,
        mask: u8,
        words: &mut Words,
        sink: &mut Sink,
    ) {
        let bytes = scan.norm.as_bytes();
        let (start, end) = (range.start, range.end);
        let word = bytes.get(start..end).unwrap_or_default();
        if mask & YOU != 0 && words.n_you < words.you.len() {
            let after = bytes.get(end..).unwrap_or_default();
            if word.starts_with(b"you")
                || (word == b"ur" && after.first() == Some(&b' '))
                || (word == b"u" && after.starts_with(b" r "))
            {
                words.you[words.n_you] = start;
                words.n_you += 1;
            }
        }
        if mask & KEYWORD != 0 {
            if self.phrase_gate.contains(hash) {
                words.phrases.push(start);
            }
            words.insult |= self.insult_gate.contains(hash);
            if self.hate_gate.contains(hash)
                && self
                    .hate_anchors
                    .iter()
                    .any(|a| starts_with_at(bytes, start, a))
            {
                self.anchored(scan, start, false, sink);
            }
        }
        if mask & TERM != 0 {
            self.lexicon_word(scan, start, end, hash, sink);
        }
        if mask & SPAM != 0 {
            let key = PrefixMasks::key(word);
            let from = self.spam_triggers.partition_point(|(k, _, _)| *k < key);
            for (_, t, family) in self
                .spam_triggers
                .get(from..)
                .unwrap_or_default()
                .iter()
                .take_while(|(k, _, _)| *k == key)
            {
                if starts_with_at(bytes, start, t) {
                    words.near[*family as usize].push(start);
                }
            }
        }
    }

    /// A one-word lexicon term, with its suffix, as the whole word at `start..end` (an
    /// alphanumeric run of `norm`).
    fn lexicon_word(&self, scan: &Scan<'_>, start: usize, end: usize, hash: u64, sink: &mut Sink) {
        let Some(run) = scan.norm.get(start..end) else {
            return;
        };
        // A suffix is read as ASCII letters and digits, so a term ends a run at its first other letter.
        let ascii = run.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let Some(word) = run.get(..ascii) else { return };
        let hash = if ascii == run.len() {
            hash
        } else {
            hash_bytes(word.as_bytes())
        };
        if self.forms.binary_search(&hash).is_err() {
            return;
        }
        for suffix in std::iter::once("").chain(SUFFIXES.iter().copied()) {
            let Some(stem) = word.strip_suffix(suffix) else {
                continue;
            };
            let Some(kind) = self.single.get(stem) else {
                continue;
            };
            if let Some(end) = self.word_end(scan, start..start + stem.len()) {
                sink.push(word_hit(scan, start..end, *kind, None));
            }
        }
    }

    /// Several-word lexicon terms, harassment and hate phrases within `within` (on character
    /// boundaries) of `norm`.
    fn phrases(&self, scan: &Scan<'_>, within: Range<usize>, sink: &mut Sink) {
        let Some(hay) = scan.norm.get(within.clone()) else {
            return;
        };
        for m in self.phrases.find_overlapping_iter(hay) {
            let Some(entry) = self.entries.get(m.pattern().as_usize()) else {
                continue;
            };
            let range = within.start + m.start()..within.start + m.end();
            match entry {
                Entry::Word(kind) => {
                    if let Some(end) = self.word_end(scan, range.clone()) {
                        sink.push(word_hit(scan, range.start..end, *kind, None));
                    }
                }
                Entry::Harass => {
                    if scan.at_word_boundaries(range.clone())
                        && !drop_dead_praise(scan, range.clone())
                        && !reported_speech(scan, range.start)
                    {
                        sink.push(harass_hit(scan, range));
                    }
                }
                Entry::Hate => {
                    if scan.at_word_boundaries(range.clone()) {
                        sink.push(hate_hit(scan, range));
                    }
                }
            }
        }
    }

    /// Run the anchored harassment (`harass`) or hate pattern that starts at a trigger word.
    fn anchored(&self, scan: &Scan<'_>, start: usize, harass: bool, sink: &mut Sink) {
        let Some(rest) = scan.norm.get(start..) else {
            return;
        };
        let found = if harass {
            self.harass_you.find(rest).map(|m| (m.end(), true))
        } else {
            self.hate_group
                .find(rest)
                .or_else(|| self.hate_verb.find(rest))
                .map(|m| (m.end(), false))
        };
        if let Some((len, harass)) = found {
            let range = start..start + len;
            sink.push(if harass {
                harass_hit(scan, range)
            } else {
                hate_hit(scan, range)
            });
        }
    }

    /// Where a lexicon word that starts at `range.start` ends, with its suffix, if it is a whole word.
    fn word_end(&self, scan: &Scan<'_>, range: Range<usize>) -> Option<usize> {
        let norm = scan.norm.as_str();
        if !starts_word(norm, range.start) {
            return None;
        }
        let tail = norm.get(range.end..)?;
        let suffix_len = tail.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let suffix = tail.get(..suffix_len)?;
        if !suffix.is_empty() && !SUFFIXES.contains(&suffix) {
            return None;
        }
        let end = range.end + suffix_len;
        let word = norm.get(range.start..end)?;
        if NOT_PROFANE.contains(&word) {
            return None;
        }
        // "Dick Smith", "Dick Van Dyke": a capitalized word next to another one is a name.
        if NAME_LIKE.contains(&word) {
            let i = scan.token_at_or_after(range.start);
            let capitalized = |j: usize| scan.tokens.get(j).is_some_and(|t| t.shape.capitalized());
            let possessive = tail.starts_with('\'')
                || scan
                    .tokens
                    .get(i + 1)
                    .is_some_and(|t| scan.norm.get(t.start..t.end) == Some("s"));
            if capitalized(i) && ((i > 0 && capitalized(i - 1)) || capitalized(i + 1) || possessive)
            {
                return None;
            }
        }
        Some(end)
    }

    /// Leetspeak, masked, spaced and stretched spellings; `spaced` holds the runs of one-letter
    /// words that the pass over the words found.
    fn obfuscated(&self, scan: &Scan<'_>, spaced: &SpacedRuns, sink: &mut Sink) {
        let norm = scan.norm.as_bytes();
        let mut pos = 0;
        while let Some(at) = first_suspect(norm, pos) {
            let start = norm
                .get(..at)
                .and_then(|b| b.iter().rposition(u8::is_ascii_whitespace))
                .map_or(0, |i| i + 1);
            let end = norm
                .get(at..)
                .and_then(|b| b.iter().position(u8::is_ascii_whitespace))
                .map_or(norm.len(), |i| at + i);
            self.chunk(scan, start, end, sink);
            pos = end.max(at + 1);
        }
        self.spaced_runs(scan, spaced, sink);
    }

    /// The words that the runs of one-letter words spell, if they are abuse.
    fn spaced_runs(&self, scan: &Scan<'_>, spaced: &SpacedRuns, sink: &mut Sink) {
        for &(i, j) in spaced.runs.get(..spaced.n).unwrap_or_default() {
            self.spaced_word(scan, i..j, sink);
        }
        if let Some(from) = spaced.rest {
            self.spaced(scan, from, sink);
        }
    }

    /// Rebuild one whitespace-separated chunk that mixes letters with leetspeak or stretches letters.
    fn chunk(&self, scan: &Scan<'_>, start: usize, end: usize, sink: &mut Sink) {
        let norm = scan.norm.as_bytes();
        let (mut s, mut e) = (start, end.min(norm.len()));
        while s < e
            && matches!(
                norm[s],
                b'"' | b'\'' | b'(' | b'[' | b',' | b'.' | b':' | b';'
            )
        {
            s += 1;
        }
        while e > s
            && matches!(
                norm[e - 1],
                b'"' | b'\'' | b')' | b']' | b',' | b'.' | b':' | b';' | b'?' | b'!'
            )
        {
            e -= 1;
        }
        let Some(chunk) = norm.get(s..e) else { return };
        if chunk.len() < 3 || chunk.len() > 24 || chunk.contains(&b'/') {
            return;
        }
        let mut buf = [0u8; 24];
        let mut n = 0;
        let mut letters = 0;
        for &b in chunk {
            match unleet(b) {
                Some(c) => {
                    letters += usize::from(b.is_ascii_alphabetic());
                    buf[n] = c;
                    n += 1;
                }
                None if matches!(b, b'.' | b'-' | b'_') => {}
                None => return,
            }
        }
        let Some(rebuilt) = buf.get(..n).and_then(|b| std::str::from_utf8(b).ok()) else {
            return;
        };
        if letters < 2 {
            return;
        }
        if let Some((word, kind)) = self.lookup(rebuilt) {
            sink.push(word_hit(scan, s..e, kind, Some(word)));
        }
    }

    /// The dictionary word an obfuscated spelling stands for.
    fn lookup(&self, rebuilt: &str) -> Option<(String, Kind)> {
        if rebuilt.contains('?') {
            let first = rebuilt.as_bytes().first()?;
            if *first == b'?' || rebuilt.bytes().filter(u8::is_ascii_alphabetic).count() < 2 {
                return None;
            }
            let word = MASKABLE.iter().find(|w| {
                w.len() == rebuilt.len()
                    && w.bytes()
                        .zip(rebuilt.bytes())
                        .all(|(a, b)| b == b'?' || a == b)
            })?;
            return Some((
                (*word).to_owned(),
                self.words.get(*word).copied().unwrap_or(Kind::Profanity),
            ));
        }
        if !self.openings.may_start(rebuilt) {
            return None;
        }
        self.lookup_tables(rebuilt)
    }

    /// [`Detector::lookup`] of an unmasked spelling, in the word tables.
    fn lookup_tables(&self, rebuilt: &str) -> Option<(String, Kind)> {
        if let Some(kind) = self.words.get(rebuilt) {
            return Some((rebuilt.to_owned(), *kind));
        }
        let stem = SUFFIXES.iter().find_map(|s| {
            rebuilt
                .strip_suffix(s)
                .filter(|st| self.words.contains_key(*st))
        });
        if let Some(stem) = stem {
            return Some((
                rebuilt.to_owned(),
                self.words.get(stem).copied().unwrap_or(Kind::Profanity),
            ));
        }
        // Obfuscated chunks are short ASCII: collapse them on the stack, not in a new String.
        let mut buf = [0u8; 32];
        let collapsed = match collapse_ascii(rebuilt, &mut buf) {
            Some(c) => self.collapsed.get(c),
            None => self.collapsed.get(&collapse(rebuilt)),
        };
        collapsed.map(|(w, k)| (w.clone(), *k))
    }

    /// Letters typed apart ("f u c k", "s.h.i.t") from token `from` on, a token where no run of
    /// them is under way.
    fn spaced(&self, scan: &Scan<'_>, from: usize, sink: &mut Sink) {
        let mut i = from;
        while i < scan.tokens.len() {
            if !single_letter(scan, i) {
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while single_letter(scan, j) && joined(scan, j) {
                j += 1;
            }
            if j - i >= 3 {
                self.spaced_word(scan, i..j, sink);
            }
            i = j;
        }
    }

    /// The word that the one-letter tokens `run` (at least three) spell, if it is abuse.
    fn spaced_word(&self, scan: &Scan<'_>, run: Range<usize>, sink: &mut Sink) {
        let word: String = run.clone().map(|k| scan.tok(k)).collect();
        if let Some((w, kind)) = self.lookup(&word)
            && let (Some(first), Some(last)) =
                (scan.tokens.get(run.start), scan.tokens.get(run.end - 1))
        {
            sink.push(word_hit(scan, first.start..last.end, kind, Some(w)));
        }
    }

    /// The policy's blocked terms, as whole words.
    fn blocked_terms(&self, scan: &Scan<'_>, sink: &mut Sink) {
        let Some(ac) = &self.blocked else { return };
        for m in ac.find_iter(&scan.norm) {
            if scan.at_word_boundaries(m.range()) {
                let found = scan.orig_text(m.range());
                sink.push(Hit::new(
                    BLOCKED_TERM,
                    scan.orig(m.range()),
                    format!("\"{found}\" is on the organization's blocked-terms list."),
                ));
            }
        }
    }
}

/// What the spam link rules need from the links of one message. The link detector's pass over
/// the links fills it, so that one pass serves both detectors.
#[derive(Default)]
pub(crate) struct LinkTally {
    /// The first links (up to 32): comparing against them finds any real repetition without
    /// going quadratic.
    seen: Vec<Range<usize>>,
    count: usize,
    last_end: usize,
    repeated: Option<Range<usize>>,
}

impl LinkTally {
    /// Count `url`, one of the message's links in text order.
    pub fn add(&mut self, scan: &Scan<'_>, url: &Url) {
        if !url.known {
            return;
        }
        self.count += 1;
        let text = scan.norm.get(url.range.clone()).unwrap_or_default();
        if self.repeated.is_none()
            && self
                .seen
                .iter()
                .any(|r| scan.norm.get(r.clone()) == Some(text))
        {
            self.repeated = Some(url.range.clone());
        }
        if self.seen.len() < 32 {
            self.seen.push(url.range.clone());
        }
        self.last_end = url.range.end;
    }

    /// Repeated links, and capitals with several links.
    #[inline(always)]
    pub fn report(&self, scan: &Scan<'_>, sink: &mut Sink) {
        // Every rule here needs two links (a repeated link is a second one): nearly every
        // message has fewer, and costs a test instead of a call.
        if self.count >= 2 {
            self.report_links(scan, sink);
        }
    }

    /// [`LinkTally::report`] of a message with two links or more.
    #[inline(never)]
    fn report_links(&self, scan: &Scan<'_>, sink: &mut Sink) {
        if let Some(r) = &self.repeated {
            let found = scan.orig_text(r.clone());
            sink.push(Hit::new(
                REPEATED_LINKS,
                scan.orig(r.clone()),
                format!("The link \"{found}\" is posted more than once, a typical spam pattern."),
            ));
        } else if let (true, Some(first)) = (self.count >= 4, self.seen.first()) {
            let r = first.start..self.last_end;
            sink.push(Hit::new(
                REPEATED_LINKS,
                scan.orig(r),
                format!(
                    "{} links in one message is a typical spam pattern.",
                    self.count
                ),
            ));
        }
        if self.count >= 2 && shouting(scan.text) {
            sink.push(Hit::new(
                CAPS_LINKS,
                scan.orig(0..scan.norm.len()),
                format!(
                    "The message is written in capitals and carries {} links, a typical spam pattern.",
                    self.count
                ),
            ));
        }
    }
}

fn starts_word(norm: &str, start: usize) -> bool {
    !norm
        .get(..start)
        .and_then(|s| s.chars().next_back())
        .is_some_and(char::is_alphanumeric)
}

fn word_hit(scan: &Scan<'_>, range: Range<usize>, kind: Kind, rebuilt: Option<String>) -> Hit {
    let found = scan.orig_text(range.clone());
    let disguise = rebuilt
        .map(|w| format!(" (a disguised spelling of \"{w}\")"))
        .unwrap_or_default();
    match kind {
        Kind::Profanity => Hit::new(
            PROFANITY,
            scan.orig(range),
            format!(
                "\"{found}\"{disguise} is profanity or explicit slang, which the organization does not publish or show on its pages."
            ),
        ),
        Kind::Slur => Hit::new(
            HATE,
            scan.orig(range),
            format!(
                "\"{found}\"{disguise} is a slur against a group of people, which is hate speech under platform and organization rules."
            ),
        ),
    }
}

fn harass_hit(scan: &Scan<'_>, range: Range<usize>) -> Hit {
    let found = scan.orig_text(range.clone());
    Hit::new(HARASSMENT, scan.orig(range), format!("\"{found}\" is abuse aimed at a person; staff and other commenters should not be exposed to it."))
        .suggest("Hide the comment; if it targets a staff member, let them and their manager know.")
}

fn hate_hit(scan: &Scan<'_>, range: Range<usize>) -> Hit {
    let found = scan.orig_text(range.clone());
    Hit::new(
        HATE,
        scan.orig(range),
        format!(
            "\"{found}\" attacks people for who they are, which is hate speech under platform and organization rules."
        ),
    )
}

/// "trying to kill yourself", "do not kill yourself": the phrase is talked about, not said to
/// someone.
fn reported_speech(scan: &Scan<'_>, start: usize) -> bool {
    let i = scan.token_at_or_after(start);
    i > 0
        && matches!(
            scan.tok(i - 1),
            "to" | "not" | "don't" | "dont" | "never" | "wanna" | "gonna"
        )
}

/// The text within [`NEAR`] bytes of `range`, on character boundaries.
fn around<'t>(norm: &'t str, range: &Range<usize>) -> &'t str {
    let mut lo = range.start.saturating_sub(NEAR);
    while !norm.is_char_boundary(lo) {
        lo -= 1;
    }
    let mut hi = range.end.saturating_add(NEAR).min(norm.len());
    while !norm.is_char_boundary(hi) {
        hi += 1;
    }
    norm.get(lo..hi).unwrap_or_default()
}

/// "drop dead gorgeous" is praise, not a curse.
fn drop_dead_praise(scan: &Scan<'_>, range: Range<usize>) -> bool {
    if scan.norm.get(range.clone()) != Some("drop dead") {
        return false;
    }
    let next = scan.token_at_or_after(range.end);
    next < scan.tokens.len() && DROP_DEAD_PRAISE.contains(&scan.tok(next))
}

/// At least 20 letters, 70% or more of them capitals.
fn shouting(text: &str) -> bool {
    let (mut letters, mut upper) = (0usize, 0usize);
    let bytes = text.as_bytes();
    // Whole blocks are counted as fixed-size arrays, which compile to vector code without a
    // loop tail; the last, shorter piece too, padded with zero bytes (which count as nothing).
    let mut blocks = bytes.chunks_exact(SHOUT_BLOCK);
    let mut at = 0;
    for block in &mut blocks {
        if let Ok(block) = <&[u8; SHOUT_BLOCK]>::try_from(block) {
            let (l, u) = letter_counts(text, at, block);
            letters += l;
            upper += u;
        }
        at += SHOUT_BLOCK;
        // Even if every byte still to come were a capital, the share could not reach 70%: most
        // text is known not to shout after its first third (a long text with several links is
        // asked, so the whole of it must not be counted).
        let rest = bytes.len() - at;
        if upper * 10 + rest * 3 < letters * 7 {
            return false;
        }
    }
    let mut last = [0u8; SHOUT_BLOCK];
    let rest = blocks.remainder();
    if let Some(head) = last.get_mut(..rest.len()) {
        head.copy_from_slice(rest);
    }
    let (l, u) = letter_counts(text, at, &last);
    letters += l;
    upper += u;
    letters >= 20 && upper * 10 >= letters * 7
}

/// Bytes [`shouting`] counts at a time: the counts of a block fit a byte lane, and the sums
/// and the test for an early answer come once a block.
const SHOUT_BLOCK: usize = 128;

/// The letters and the capitals among them in `chunk` (at most [`SHOUT_BLOCK`] bytes of
/// `text`, from byte `at`).
#[inline(always)]
fn letter_counts(text: &str, at: usize, chunk: &[u8]) -> (usize, usize) {
    // Branch-free counts of the lower-case and capital ASCII letters in byte lanes (a block has
    // at most 128 of each), which vectorize sixteen bytes to an instruction; no byte of another
    // character passes either test, so they count a block with other characters too.
    let lower = usize::from(chunk.iter().fold(0u8, |n, &b| {
        n.wrapping_add(u8::from(b.wrapping_sub(b'a') < 26))
    }));
    let mut upper = usize::from(chunk.iter().fold(0u8, |n, &b| {
        n.wrapping_add(u8::from(b.wrapping_sub(b'A') < 26))
    }));
    let mut letters = lower + upper;
    if !chunk.is_ascii() {
        // Other characters are decoded at their lead byte; continuation bytes are skipped. The
        // lead bytes (0xC0 and up: both top bits set) of eight bytes at a time are the top bits
        // of a mask, visited in order, so that a block with a few such characters costs a test
        // per eight bytes and a decode per character instead of a test per byte.
        let mut count = |k: usize| {
            if let Some(c) = text.get(at + k..).and_then(|s| s.chars().next())
                && c.is_alphabetic()
            {
                letters += 1;
                upper += usize::from(c.is_uppercase());
            }
        };
        let mut words = chunk.chunks_exact(8);
        let mut base = 0;
        for w in &mut words {
            if let Ok(w) = <[u8; 8]>::try_from(w) {
                let v = u64::from_le_bytes(w);
                let mut leads = v & (v << 1) & 0x8080_8080_8080_8080;
                while leads != 0 {
                    count(base + (leads.trailing_zeros() / 8) as usize);
                    leads &= leads - 1;
                }
            }
            base += 8;
        }
        for (k, &b) in words.remainder().iter().enumerate() {
            if b >= 0xC0 {
                count(base + k);
            }
        }
    }
    (letters, upper)
}

/// One character, emoji or word repeated far past emphasis; `from` is the first token of the
/// first run of five neighbouring words with the same hash, where a word flood can start.
fn flood(scan: &Scan<'_>, from: Option<usize>, sink: &mut Sink) {
    // The byte test is the character rule's gate (a run of two-byte characters that it does not
    // pass is not reported), but it costs more than the search for a run: it is asked only once
    // a run is found, which is rare.
    // A run of one-byte characters passes the test by itself, so the rest of the text need not.
    let bytes = scan.text.as_bytes();
    if let Some(hit) = char_flood(scan.text)
        && (repeats(bytes.get(hit.span.start..hit.span.end).unwrap_or_default())
            || maybe_char_flood(bytes))
    {
        sink.push(hit);
        return;
    }
    let Some(mut i) = from else { return };
    let tokens = &scan.tokens;
    let norm = scan.norm.as_bytes();
    // Tokens compared by word hash first: neighbours nearly always differ there, where lengths
    // are often equal and then cost a byte comparison.
    let same = |a: &crate::text::Token, b: &crate::text::Token| {
        a.hash == b.hash && norm.get(a.start..a.end) == norm.get(b.start..b.end)
    };
    while i + 4 < tokens.len() {
        let first = &tokens[i];
        let mut j = i + 1;
        while j < tokens.len() && same(first, &tokens[j]) {
            j += 1;
        }
        if j - i < 5 {
            i = j;
            continue;
        }
        let word = scan.tok(i);
        if word.len() >= 2 {
            let range = tokens[i].start..tokens[j - 1].end;
            sink.push(Hit::new(
                FLOOD,
                scan.orig(range),
                format!(
                    "The word \"{word}\" is repeated {} times in a row, a flooding pattern.",
                    j - i
                ),
            ));
            return;
        }
        i = j;
    }
}

/// Cheap byte test: a byte repeated 6 times, or a 4-byte (emoji) sequence repeated 6 times.
fn maybe_char_flood(b: &[u8]) -> bool {
    // Block by block, so that one "------" in a long text does not send the whole text through
    // the exact loop. A run that ends in a block starts at most 24 bytes before it.
    let mut s = 0;
    while s < b.len() {
        let e = s.saturating_add(BLOCK).min(b.len());
        let lo = s.saturating_sub(24);
        let window = b
            .get(lo..e.saturating_add(4).min(b.len()))
            .unwrap_or_default();
        if may_repeat(window) && repeats(b.get(lo..e).unwrap_or_default()) {
            return true;
        }
        s = e;
    }
    false
}

/// Branch-free pre-check: three equal bytes in a row, or a non-ASCII byte equal to the one 4
/// ahead (the same emoji twice).
fn may_repeat(b: &[u8]) -> bool {
    let n = b.len().saturating_sub(4);
    let (Some(x), Some(y), Some(w), Some(z)) = (
        b.get(..n),
        b.get(1..n + 1),
        b.get(2..n + 2),
        b.get(4..n + 4),
    ) else {
        return false;
    };
    let mut acc = false;
    for (((&p, &c), &d), &q) in x.iter().zip(y).zip(w).zip(z) {
        acc |= ((p == c) & (c == d)) | ((p == q) & (p >= 0x80));
    }
    acc
}

/// A byte repeated 6 times, or 20 non-ASCII bytes in a row each equal to the one 4 before.
fn repeats(b: &[u8]) -> bool {
    let (mut same1, mut same4) = (0u32, 0u32);
    for i in 1..b.len() {
        same1 = if b[i] == b[i - 1] { same1 + 1 } else { 0 };
        same4 = if i >= 4 && b[i] == b[i - 4] && b[i] >= 0x80 {
            same4 + 1
        } else {
            0
        };
        if same1 >= 5 || same4 >= 20 {
            return true;
        }
    }
    false
}

/// The hit for the first run of one character long enough to be a flood. Runs are counted exactly
/// only from a little before each word that can lie inside one, so that a long text pays one load
/// and a few operations per eight bytes.
fn char_flood(text: &str) -> Option<Hit> {
    let mut from = 0;
    while let Some(word) = next_periodic_word(text.as_bytes(), from) {
        // A reportable run that starts at or after `from` holds a grid word that is periodic and
        // starts at most 7 bytes after the run does; `word` is the first such word, so no such
        // run starts before `word - 7`, and a shorter count of a run under way there is still
        // too short to report.
        let mut start = word.saturating_sub(7).max(from);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        match count_runs(text, start, word.saturating_add(8)) {
            ControlFlow::Continue(next) => from = next,
            ControlFlow::Break(hit) => return Some(hit),
        }
    }
    None
}

/// The offset of the first eight-byte word of `b` on the grid of multiples of 8, at or after
/// `from`, that repeats with a period of three or four bytes (a period of one or two bytes is
/// also one of four). Every run long enough to report holds one: it repeats a character of one
/// to four bytes at least eight times and is at least 15 bytes long, so a grid word lies wholly
/// inside it.
fn next_periodic_word(b: &[u8], from: usize) -> Option<usize> {
    let at = from.next_multiple_of(8);
    let periodic = |w: u64| ((w ^ (w >> 32)) << 32 == 0) | ((w ^ (w >> 24)) << 24 == 0);
    let found = b
        .get(at..)?
        .chunks_exact(8)
        .position(|c| c.try_into().map(u64::from_le_bytes).is_ok_and(periodic))?;
    Some(at + found * 8)
}

/// The exact run count of [`char_flood`] from `start`, a character boundary where no run that
/// could be reported is under way: breaks with the hit for the first run long enough to be a
/// flood, or stops at the first run start at or after `past`, where counting may start afresh,
/// and continues from it (the end of the text when there is none).
fn count_runs(text: &str, start: usize, past: usize) -> ControlFlow<Hit, usize> {
    let b = text.as_bytes();
    let mut run_start = start;
    let mut run_len = 0usize;
    let mut prev = None;
    let mut i = start;
    while let Some(&x) = b.get(i) {
        // ASCII characters are their byte; only other characters are decoded.
        let c = match x {
            x if x < 0x80 => char::from(x),
            _ => match text.get(i..).and_then(|s| s.chars().next()) {
                Some(c) => c,
                None => break,
            },
        };
        let next = i + c.len_utf8();
        if Some(c) == prev {
            run_len += 1;
            i = next;
            continue;
        }
        if run_len >= 8
            && let Some(hit) = report_run(text, run_start, i, run_len, prev)
        {
            return ControlFlow::Break(hit);
        }
        if i >= past {
            return ControlFlow::Continue(i);
        }
        run_start = i;
        run_len = 1;
        prev = Some(c);
        i = next;
    }
    if run_len >= 8
        && let Some(hit) = report_run(text, run_start, text.len(), run_len, prev)
    {
        return ControlFlow::Break(hit);
    }
    ControlFlow::Continue(text.len())
}

fn report_run(text: &str, start: usize, end: usize, len: usize, c: Option<char>) -> Option<Hit> {
    let c = c?;
    // Stretched letters ("soooo") are emphasis long before they are a flood.
    let limit = if c.is_alphabetic() {
        20
    } else if c.is_ascii() {
        15
    } else {
        8
    };
    if len < limit || c.is_whitespace() || c.is_ascii_digit() || matches!(c, '-' | '=' | '_' | '.')
    {
        return None;
    }
    Some(Hit::new(
        FLOOD,
        crate::report::Span::new(start, end),
        format!(
            "\"{}\" is repeated {len} times in a row, a flooding pattern.",
            text.get(start..start + c.len_utf8()).unwrap_or_default()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use crate::text::Scan;
    use crate::{Message, Policy, Screener};

    fn screener() -> Screener {
        let mut p = Policy::default();
        p.terms.blocked = vec!["Project Falcon".to_owned()];
        Screener::new(p).unwrap_or_else(|e| panic!("{e}"))
    }

    fn hits(text: &str) -> Vec<(String, String)> {
        let r = screener()
            .screen(&Message::incoming(text))
            .unwrap_or_else(|e| panic!("{e}"));
        r.findings
            .into_iter()
            .filter(|f| f.rule_id.starts_with("abuse.") || f.rule_id.starts_with("spam."))
            .map(|f| (f.rule_id.into_owned(), f.matched))
            .collect()
    }

    fn fires(text: &str, rule: &str, matched: &str) {
        let got = hits(text);
        assert!(
            got.iter().any(|(r, m)| r == rule && m == matched),
            "{text:?}: want {rule} on {matched:?}, got {got:?}"
        );
    }

    #[test]
    fn profanity_plain_and_obfuscated() {
        fires("this place is shit", "abuse.profanity", "shit");
        fires("What a bitchy reply", "abuse.profanity", "bitchy");
        fires("f*ck this wait", "abuse.profanity", "f*ck");
        fires("total sh1t service", "abuse.profanity", "sh1t");
        fires("kiss my @ss", "abuse.profanity", "@ss");
        fires("you b!tch.", "abuse.profanity", "b!tch");
        fires("f u c k this", "abuse.profanity", "f u c k");
        fires("fuuuuck that", "abuse.profanity", "fuuuuck");
        fires("ＳＨＩＴ", "abuse.profanity", "ＳＨＩＴ");
    }

    #[test]
    fn scunthorpe_and_medical_words_do_not_fire() {
        for text in [
            "Scunthorpe United won",
            "Your assessment is booked for class on Monday",
            "cocktail party for Dickens fans",
            "shitake mushrooms are good for you",
            "Breast cancer screening and anal fistula surgery",
            "Talk to your doctor about sex after a heart attack",
            "urine and bowel samples go to the lab",
            "Dick Van Dyke visited the ward",
            "We passed 100 followers today, thank you!",
            "Summa cum laude graduate",
            "I was so cocky",
            "drop-dead gorgeous flowers",
            "drop dead gorgeous nurses",
            "Dick's Sporting Goods sale",
            "prices are up",
            "Please do not kill yourself trying to finish it all today",
        ] {
            assert!(hits(text).is_empty(), "{text:?}: {:?}", hits(text));
        }
    }

    #[test]
    fn harassment_and_hate() {
        fires("you're an idiot", "abuse.harassment", "you're an idiot");
        fires(
            "You are such a useless quack",
            "abuse.harassment",
            "You are such a useless quack",
        );
        fires("go to hell", "abuse.harassment", "go to hell");
        fires("fuck you doctor", "abuse.harassment", "fuck you");
        fires(
            "immigrants should be exterminated",
            "abuse.hate",
            "immigrants should be exterminated",
        );
        fires("those jews are vermin", "abuse.hate", "jews are vermin");
        fires("gas the jews", "abuse.hate", "gas the jews");
        assert!(hits("Immigrants should be welcomed at every clinic").is_empty());
        assert!(hits("You are so kind, thank you!").is_empty());
        fires(
            "This hospital is a joke, you people are idiots",
            "abuse.harassment",
            "you people are idiots",
        );
        fires(
            "Your ER staff are useless",
            "abuse.harassment",
            "Your ER staff are useless",
        );
        assert!(hits("Your nurses are angels, thank you").is_empty());
        assert!(hits("you guys are the best").is_empty());
    }

    #[test]
    fn spam_patterns() {
        fires(
            "DM me to earn $500 a day from home",
            "spam.scam",
            "DM me to earn",
        );
        fires("send 0.1 BTC to get 1 back", "spam.scam", "send 0.1 BTC");
        fires(
            "Click here to claim your free iPhone!!! bit.ly/3xYz12",
            "spam.scam",
            "claim your free iPhone",
        );
        assert!(hits("Claim your free flu shot at any of our clinics").is_empty());
        fires(
            "buy oxycodone without prescription, fast shipping",
            "spam.pharmacy",
            "buy oxycodone",
        );
        fires(
            "Buy 1000 real followers now",
            "spam.followers",
            "Buy 1000 real followers",
        );
        fires(
            "see bit.ly/a and bit.ly/a",
            "spam.repeated_links",
            "bit.ly/a",
        );
        fires(
            "CLICK NOW FOR FREE MONEY AT WWW.WIN.XYZ AND WWW.CASH.XYZ",
            "spam.caps_links",
            "CLICK NOW FOR FREE MONEY AT WWW.WIN.XYZ AND WWW.CASH.XYZ",
        );
        fires("wow!!!!!!!!!!!!!!!!", "spam.flood", "!!!!!!!!!!!!!!!!");
        fires("😂😂😂😂😂😂😂😂", "spam.flood", "😂😂😂😂😂😂😂😂");
        assert!(hits("sooooooooooooo excited!!! 😂😂😂").is_empty());
        assert!(hits("if I get 100 likes I'll dye my hair").is_empty());
        assert!(hits("Naloxone is available without a prescription at our pharmacy").is_empty());
        assert!(hits("Order your prescriptions online through the patient portal").is_empty());
    }

    #[test]
    fn spam_fires_deep_in_long_text() {
        let filler = "Thanks for the great care at the clinic. ".repeat(200);
        fires(
            &format!("{filler}DM me to earn $500 a day {filler}"),
            "spam.scam",
            "DM me to earn",
        );
        fires(
            &format!("{filler}buy oxycodone online {filler}"),
            "spam.pharmacy",
            "buy oxycodone",
        );
    }

    /// The run count [`super::char_flood`] skips ahead in, over the whole text.
    fn char_flood_by_every_char(text: &str) -> Option<(usize, usize, String)> {
        let (mut run_start, mut run_len, mut prev) = (0, 0usize, None);
        let mut hit = None;
        for (i, c) in text.char_indices() {
            if Some(c) == prev {
                run_len += 1;
                continue;
            }
            if run_len >= 8 {
                hit = super::report_run(text, run_start, i, run_len, prev);
                if hit.is_some() {
                    break;
                }
            }
            (run_start, run_len, prev) = (i, 1, Some(c));
        }
        if hit.is_none() && run_len >= 8 {
            hit = super::report_run(text, run_start, text.len(), run_len, prev);
        }
        hit.map(|h| (h.span.start, h.span.end, h.explanation.into_owned()))
    }

    /// Texts of repeated pieces from a fixed pseudo-random walk, so that runs start and end at
    /// every offset from the grids and blocks the flood tests skip along.
    fn repeated_pieces() -> Vec<String> {
        let pieces = [
            "a",
            "b",
            " ",
            "-",
            "!",
            "\u{e9}",
            "\u{2605}",
            "\u{1f602}",
            "\u{2019}",
            "ab",
            "xyz",
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        (0..3000)
            .map(|_| {
                let mut text = String::new();
                for _ in 0..next(6) + 1 {
                    let piece = pieces[next(pieces.len())];
                    let times = [1, 2, 3, 5, 6, 7, 8, 9, 14, 15, 16, 19, 20, 21, 40][next(15)];
                    text.push_str(&piece.repeat(times));
                }
                text
            })
            .collect()
    }

    #[test]
    fn char_flood_finds_the_run_a_count_of_every_char_finds() {
        let mut found = 0;
        for text in repeated_pieces() {
            let got = super::char_flood(&text)
                .map(|h| (h.span.start, h.span.end, h.explanation.into_owned()));
            found += usize::from(got.is_some());
            assert_eq!(got, char_flood_by_every_char(&text), "{text:?}");
        }
        assert!(found > 500, "{found}");
    }

    #[test]
    fn flood_gate_is_the_test_of_the_whole_text() {
        let mut open = 0;
        for text in repeated_pieces() {
            let want = super::repeats(text.as_bytes());
            open += usize::from(want);
            assert_eq!(super::maybe_char_flood(text.as_bytes()), want, "{text:?}");
        }
        assert!(open > 500 && open < 2900, "{open}");
    }

    fn detector() -> super::Detector {
        super::Detector::new(&Policy::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn found(sink: &crate::detect::Sink) -> Vec<(&'static str, usize, usize, String)> {
        sink.hits
            .iter()
            .map(|h| {
                (
                    h.rule.id,
                    h.span.start,
                    h.span.end,
                    h.explanation.to_string(),
                )
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// The runs found in the pass over the words, and the search on from the first one past
        /// those it holds, find what one search over every word finds.
        #[test]
        fn spaced_runs_find_what_the_whole_search_finds(pieces in proptest::collection::vec(
            "(f|u|c|k|s|h|i|t|a| |\\.|-|  |\\*|5|ab|fuck| \\. |\n)", 0..200)) {
            let d = detector();
            let text = pieces.concat();
            let scan = Scan::new(&text);
            let mut whole = crate::detect::Sink::default();
            d.spaced(&scan, 0, &mut whole);
            let mut runs = crate::detect::Sink::default();
            let mut words = super::Words::new(&scan);
            d.words(&scan, &mut words, &mut crate::detect::Sink::default());
            d.spaced_runs(&scan, &words.spaced, &mut runs);
            proptest::prop_assert_eq!(found(&runs), found(&whole));
        }

        /// The word flood found from the first run of equal hashes is the one a search from the
        /// first word finds.
        #[test]
        fn word_flood_from_the_first_run_of_equal_hashes(pieces in proptest::collection::vec(
            "(la |la|ha |spam |x |a |  |\\.|lala )", 0..60)) {
            let text = pieces.concat();
            let scan = Scan::new(&text);
            let mut whole = crate::detect::Sink::default();
            super::flood(&scan, Some(0), &mut whole);
            let mut words = super::Words::new(&scan);
            detector().words(&scan, &mut words, &mut crate::detect::Sink::default());
            let mut from_run = crate::detect::Sink::default();
            super::flood(&scan, words.flood_from, &mut from_run);
            proptest::prop_assert_eq!(found(&from_run), found(&whole));
        }

        /// The blocks the branch-free check clears hold nothing the byte test finds. Text with
        /// a 2, 6 or 9 is left out: the check reads those as digits where the byte test does
        /// not, and a chunk holding one is never a word (`unleet` turns it away).
        #[test]
        fn cleared_blocks_hold_no_suspect(pieces in proptest::collection::vec(
            "(a|b|s|h|i|t|aaa|sss| |  |\\.|,|'|0|1|3|5|8|@|\\$|!|\\||\\+|\\*|#|-|é)", 0..200),
            from in 0usize..400) {
            let text = pieces.concat();
            let b = text.as_bytes();
            proptest::prop_assert_eq!(super::first_suspect(b, from), super::next_suspect(b, from, b.len()));
        }

        /// A spelling turned away by its opening pair is none that the word tables find.
        #[test]
        fn openings_turn_away_only_what_the_tables_miss(pieces in proptest::collection::vec(
            "(f|u|c|k|s|h|i|t|a|b|e|d|n|r|o|g|y|ing|er|head|fuck|shit|ass|bitch|tw|at|@|#)", 1..8)) {
            let d = detector();
            let word = pieces.concat();
            if !d.openings.may_start(&word) {
                proptest::prop_assert!(d.lookup_tables(&word).is_none());
            }
        }

        /// A chunk's counts, whatever its length and wherever it starts in the text, are those
        /// of its characters (each counted at its lead byte).
        #[test]
        fn letter_counts_are_those_of_the_chunks_characters(pieces in proptest::collection::vec(
            "(A|b|É|é|中|ß|Ǆ| |ABC DEF |hello |1|\\.|🙂)", 0..60), from in 0usize..64, len in 0usize..80) {
            let text = pieces.concat();
            let mut at = from.min(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let chunk = text.get(at..end).unwrap_or_default();
            let want = chunk.chars().filter(|c| c.is_alphabetic()).fold(
                (0usize, 0usize),
                |(l, u), c| (l + 1, u + usize::from(c.is_uppercase())),
            );
            proptest::prop_assert_eq!(super::letter_counts(&text, at, chunk.as_bytes()), want);
        }

        /// Stopping once capitals can no longer reach their share gives the count's answer.
        #[test]
        fn shouting_stops_early_with_the_counts_answer(pieces in proptest::collection::vec(
            "(A|b|É|é|中|ß| |ABC DEF |hello |1|\\.)", 0..400)) {
            let text = pieces.concat();
            let (letters, upper) = text.chars().filter(|c| c.is_alphabetic()).fold(
                (0usize, 0usize),
                |(l, u), c| (l + 1, u + usize::from(c.is_uppercase())),
            );
            proptest::prop_assert_eq!(
                super::shouting(&text),
                letters >= 20 && upper * 10 >= letters * 7
            );
        }
    }

    #[test]
    fn spaced_letters_past_the_runs_held() {
        let got = hits(&"f u c k, ".repeat(12));
        let n = got
            .iter()
            .filter(|(r, m)| r == "abuse.profanity" && m == "f u c k")
            .count();
        assert_eq!(n, 12, "{got:?}");
    }

    #[test]
    fn openings_let_every_table_word_through() {
        let d = detector();
        for w in d.words.keys().chain(d.collapsed.keys()) {
            assert!(d.openings.may_start(w), "{w}");
            for s in super::SUFFIXES {
                assert!(d.openings.may_start(&format!("{w}{s}")), "{w}{s}");
            }
        }
    }

    #[test]
    fn blocked_terms_from_policy() {
        fires(
            "leak: project falcon launches",
            "abuse.blocked_term",
            "project falcon",
        );
    }
}
