//! Crisis language: suicidal ideation, self-harm, threats of violence and medical emergencies.
//!
//! Suicide-related phrases come from the Suicide Risk Lexicon (Low et al.), trimmed to the
//! first-person and multi-word terms that do not also read as idioms or clinical vocabulary; each
//! keeps its construct name so the explanation can say "active suicidal ideation". Threats and
//! emergencies are short patterns that need a speaker and a target ("I'm going to shoot the
//! nurse", "I think I'm having a heart attack"), so "killing it" or "my phone died" never fire.
//!
//! A denial ("I'm not suicidal") is not dropped: it goes to review under `crisis.denial`, because
//! whether a denial is reassuring is a clinician's call, not the engine's.

use regex::Regex;

use crate::ScreenError;
use crate::policy::Policy;
use crate::report::{Action, Category, Severity};
use crate::rules::RuleInfo;
use crate::text::Scan;

use super::{Ctx, Hit, Lexeme, Sink, ascii_regex, find_near};

/// The crisis rules.
pub(crate) const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "crisis.suicidal_ideation",
        category: Category::Crisis,
        severity: Severity::Critical,
        incoming: Some(Action::Escalate),
        outgoing: Some(Action::Review),
        summary: "Passive or active suicidal ideation, a suicide plan or a method (\"I want to die\", \"kill myself\").",
    },
    RuleInfo {
        id: "crisis.self_harm",
        category: Category::Crisis,
        severity: Severity::Critical,
        incoming: Some(Action::Escalate),
        outgoing: Some(Action::Review),
        summary: "Deliberate self-injury, done or intended (\"cut myself\", \"urge to cut\").",
    },
    RuleInfo {
        id: "crisis.risk_language",
        category: Category::Crisis,
        severity: Severity::High,
        incoming: Some(Action::Review),
        outgoing: Some(Action::Flag),
        summary: "Weaker suicide-risk language or exposure to a suicide (\"no way out\", \"killed himself\").",
    },
    RuleInfo {
        id: "crisis.denial",
        category: Category::Crisis,
        severity: Severity::High,
        incoming: Some(Action::Review),
        outgoing: Some(Action::Flag),
        summary: "Negated suicide or self-harm language (\"I'm not suicidal\"), left for a clinician to judge.",
    },
    RuleInfo {
        id: "crisis.violence_threat",
        category: Category::Crisis,
        severity: Severity::Critical,
        incoming: Some(Action::Escalate),
        outgoing: Some(Action::Block),
        summary: "A threat to hurt staff or others (\"I'll shoot the nurse\", \"bring a gun to the hospital\").",
    },
    RuleInfo {
        id: "crisis.medical_emergency",
        category: Category::Crisis,
        severity: Severity::Critical,
        incoming: Some(Action::Escalate),
        outgoing: Some(Action::Review),
        summary: "A medical emergency happening now (\"I think I'm having a heart attack\", \"can't breathe\").",
    },
];

const IDEATION: &RuleInfo = &RULES[0];
const SELF_HARM: &RuleInfo = &RULES[1];
const RISK: &RuleInfo = &RULES[2];
const DENIAL: &RuleInfo = &RULES[3];
const THREAT: &RuleInfo = &RULES[4];
const EMERGENCY: &RuleInfo = &RULES[5];

/// Trimmed Suicide Risk Lexicon: `tier<TAB>construct<TAB>term`.
const LEXICON: &str = include_str!("../../lexicons/en/crisis/suicide_risk_lexicon.tsv");

/// Rounds additions: plans, means, third-person ideation, and going on with life (the lexicon's
/// "don't want to go on" and "can't go on" also match "don't want to go on the trip", so only
/// their forms about living are added).
const ADDITIONS: &[(&str, &str, &str)] = &[
    (
        "ideation",
        "passive suicidal ideation",
        "don't want to go on living",
    ),
    (
        "ideation",
        "passive suicidal ideation",
        "don't want to go on anymore",
    ),
    (
        "ideation",
        "passive suicidal ideation",
        "can't go on living",
    ),
    (
        "ideation",
        "passive suicidal ideation",
        "no point in going on",
    ),
    (
        "ideation",
        "passive suicidal ideation",
        "what's the point of going on",
    ),
    (
        "ideation",
        "passive suicidal ideation",
        "what's the point in going on",
    ),
    (
        "ideation",
        "passive suicidal ideation",
        "don't see the point in going on",
    ),
    (
        "ideation",
        "passive suicidal ideation",
        "don't see the point of going on",
    ),
    (
        "ideation",
        "passive suicidal ideation",
        "don't see the point in living",
    ),
    (
        "ideation",
        "passive suicidal ideation",
        "don't see the point of living",
    ),
    ("risk", "hopelessness", "can't go on like this"),
    ("risk", "hopelessness", "can't go on anymore"),
    ("ideation", "suicide plan or means", "saving up pills"),
    ("ideation", "suicide plan or means", "saving up my pills"),
    ("ideation", "suicide plan or means", "stockpiling pills"),
    ("ideation", "suicide plan or means", "stockpiling my pills"),
    ("ideation", "suicide plan or means", "tied a noose"),
    ("ideation", "suicide plan or means", "tie a noose"),
    (
        "ideation",
        "suicide plan or means",
        "wrote my goodbye letters",
    ),
    ("ideation", "suicide plan or means", "take all my pills"),
    ("ideation", "suicide plan or means", "swallow all my pills"),
    (
        "ideation",
        "suicidal ideation about someone else",
        "kill himself",
    ),
    (
        "ideation",
        "suicidal ideation about someone else",
        "kill herself",
    ),
    (
        "ideation",
        "suicidal ideation about someone else",
        "kill themselves",
    ),
    (
        "ideation",
        "suicidal ideation about someone else",
        "killing himself",
    ),
    (
        "ideation",
        "suicidal ideation about someone else",
        "killing herself",
    ),
    (
        "ideation",
        "suicidal ideation about someone else",
        "end his life",
    ),
    (
        "ideation",
        "suicidal ideation about someone else",
        "end her life",
    ),
    (
        "ideation",
        "suicidal ideation about someone else",
        "take his own life",
    ),
    (
        "ideation",
        "suicidal ideation about someone else",
        "take her own life",
    ),
    ("self_harm", "self-injury", "self-harm"),
    ("self_harm", "self-injury", "self harming"),
    ("self_harm", "self-injury", "self-harming"),
    ("self_harm", "self-injury", "self harmed"),
    ("self_harm", "self-injury", "self-harmed"),
    ("self_harm", "self-injury", "harm himself"),
    ("self_harm", "self-injury", "harm herself"),
];

/// Words that, just before a phrase in the same clause, turn it into a denial.
const NEGATORS: &[&str] = &[
    "not", "never", "don't", "dont", "won't", "wont", "wouldn't", "wouldnt", "isn't", "isnt",
    "ain't", "aint",
];

/// Words near a self-injury phrase that make it an accident ("cut myself shaving").
const ACCIDENT: &[&str] = &[
    "accidentally",
    "accident",
    "shaving",
    "cooking",
    "kitchen",
    "chopping",
    "slicing",
];

/// Contractions and the other ways people type them.
const CONTRACTIONS: &[(&str, &[&str])] = &[
    ("i'm", &["im", "i am"]),
    ("don't", &["dont", "do not"]),
    ("can't", &["cant", "cannot", "can not"]),
    ("won't", &["wont", "will not"]),
    ("wasn't", &["wasnt", "was not"]),
    ("isn't", &["isnt", "is not"]),
    ("what's", &["whats", "what is"]),
    ("wouldn't", &["wouldnt", "would not"]),
    ("i'd", &["i had", "i would"]),
    ("want", &["wanna"]),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tier {
    Ideation,
    SelfHarm,
    Risk,
}

/// What an automaton match means.
enum Entry {
    /// A lexicon phrase: its tier and construct.
    Phrase(Tier, Box<str>),
    /// A cheap trigger that says a pattern family is worth running.
    Trigger(Family),
}

#[derive(Clone, Copy)]
enum Family {
    Threat,
    Emergency,
    SelfHarmIntent,
}

const THREAT_TRIGGERS: &[&str] = &[
    "kill",
    "shoot",
    "stab",
    "murder",
    "strangle",
    "beat",
    "hurt",
    "punch",
    "bomb",
    "blow up",
    "gun",
    "knife",
    "rifle",
    "weapon",
    "where you live",
    "watch your back",
    "burn down",
    "torch",
];
const EMERGENCY_TRIGGERS: &[&str] = &[
    "heart attack",
    "stroke",
    "seizure",
    "anaphyla",
    "allergic",
    "asthma",
    "cardiac",
    "breath",
    "overdos",
    "od'd",
    "too many",
    "bleed",
    "unconscious",
    "unresponsive",
    "collapsed",
    "wake up",
    "chest pain",
    "throat",
    "ambulance",
];

/// The compiled crisis detector.
pub(crate) struct Detector {
    /// Phrases and triggers, searched in the shared lexicon pass ([`super::Lexicons`]).
    pub patterns: Vec<String>,
    /// What each of `patterns` is.
    entries: Vec<Entry>,
    threat: Regex,
    emergency: Regex,
    self_harm_intent: Regex,
}

/// Every spelling of `phrase` with its contractions typed the other common ways.
fn variants(phrase: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    for word in phrase.split(' ') {
        let alts = CONTRACTIONS
            .iter()
            .find(|(c, _)| *c == word)
            .map_or(&[][..], |(_, a)| *a);
        let mut next = Vec::with_capacity(out.len() * (alts.len() + 1));
        for prefix in &out {
            for w in std::iter::once(word).chain(alts.iter().copied()) {
                let mut s = prefix.clone();
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str(w);
                next.push(s);
            }
        }
        out = next;
    }
    // "wanna" already carries its "to".
    out.into_iter()
        .map(|s| s.replace("wanna to ", "wanna "))
        .collect()
}

const PERSON: &str = r"(?:doctors?|docs?|dr\s+\w+|nurses?|surgeons?|staff|receptionists?|physicians?|therapists?|pharmacists?|managers?|ceo|guys?|m[ae]n|wom[ae]n|lady|bitch(?:es)?|bastards?|idiots?|people|ex|wife|husband|boss|neighbou?rs?|family|kids|security|guards?|employees?|hospital|clinic)";

impl Detector {
    /// Compile for `policy`.
    pub fn new(_policy: &Policy) -> Result<Self, ScreenError> {
        let mut patterns: Vec<String> = Vec::new();
        let mut entries = Vec::new();
        let lexicon = LEXICON
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut f = l.split('\t');
                Some((f.next()?, f.next()?, f.next()?))
            })
            .chain(ADDITIONS.iter().copied());
        for (tier, construct, term) in lexicon {
            let tier = match tier {
                "ideation" => Tier::Ideation,
                "self_harm" => Tier::SelfHarm,
                _ => Tier::Risk,
            };
            for v in variants(term) {
                if !patterns.contains(&v) {
                    patterns.push(v);
                    entries.push(Entry::Phrase(tier, construct.into()));
                }
            }
        }
        let families = [
            (Family::Threat, THREAT_TRIGGERS),
            (Family::Emergency, EMERGENCY_TRIGGERS),
            (Family::SelfHarmIntent, &["myself"][..]),
        ];
        for (family, words) in families {
            for w in words {
                if !patterns.iter().any(|p| p == w) {
                    patterns.push((*w).to_owned());
                    entries.push(Entry::Trigger(family));
                }
            }
        }
        let speaker = r"(?:i'?m going to|i am going to|i'?m gonna|im gonna|gonna|i'?ll|ill|i will|i want to|i wanna|imma|ima|i'?m coming to|i'?m about to|going to)";
        let threat = format!(
            r"\b(?:{speaker}\s+(?:fucking\s+|just\s+|really\s+|come\s+(?:and\s+)?|go\s+(?:and\s+)?)?(?:kill|shoot|stab|murder|strangle|beat\s+up|hurt|punch|bomb|blow\s+up|shoot\s+up|burn\s+down|torch)\s+(?:you|u|ya|him|her|them|y'?all|everyone|everybody|someone|somebody|all\s+of\s+you|(?:the|that|this|your|those|these|every|my|his|her|their)\s+(?:\w+\s+)?{PERSON})|(?:bring|bringing|take|taking|carry|carrying)\s+(?:a|my|an|the)\s+(?:gun|rifle|ar-?15|knife|bomb|weapon|shotgun|pistol|machete)\s+(?:to|into|in)\s+(?:the\s+|your\s+|this\s+|that\s+|my\s+)?(?:hospital|clinic|er|office|pharmacy|emergency\s+room|ward|building|school|work|practice|lobby|waiting\s+room)|(?:shoot|shooting|blow|blowing|burn|burning)\s+(?:up|down)\s+(?:the|your|this|that)\s+(?:hospital|clinic|place|office|er|school|building|pharmacy)|i\s+know\s+where\s+you\s+live|watch\s+your\s+back)\b"
        );
        let threat = ascii_regex("crisis threat pattern", &threat)?;
        let emergency = ascii_regex(
            "crisis emergency pattern",
            r"\b(?:(?:i'?m|i am|im|he'?s|she'?s|he is|she is|they'?re|my\s+\w+\s+(?:is|'s))\s+(?:having|in)\s+(?:a\s+|an\s+)?(?:heart\s+attack|stroke|seizure|anaphylactic\s+(?:shock|reaction)|severe\s+allergic\s+reaction|asthma\s+attack|cardiac\s+arrest|diabetic\s+(?:coma|emergency))|(?:i|he|she|they|we|my\s+\w+)\s+(?:can'?t|cannot|can\s+not|couldn'?t)\s+breathe|(?:i'?m|im|he'?s|she'?s|he\s+is|she\s+is|they'?re|is)\s+not\s+breathing|isn'?t\s+breathing|(?:i'?m|im|i\s+am)\s+having\s+(?:trouble|difficulty)\s+breathing|can'?t\s+catch\s+my\s+breath|(?:i'?m|im|i\s+am)\s+having\s+(?:bad\s+|severe\s+)?chest\s+pains?|(?:need|call|send)\s+an\s+ambulance|stopped\s+breathing|(?:i|he|she|they|my\s+\w+)\s+(?:just\s+)?(?:overdosed|od'd)|(?:i|he|she|just)\s+took\s+(?:too\s+many|a\s+bunch\s+of|all\s+(?:of\s+)?(?:my|the|his|her))\s+(?:pills|tablets)|(?:won'?t|can'?t|cannot)\s+stop\s+(?:the\s+)?bleeding|bleeding\s+(?:heavily|out|badly)|(?:is|went|he'?s|she'?s)\s+(?:unconscious|unresponsive)|won'?t\s+wake\s+up|(?:crushing|severe)\s+chest\s+pain|throat\s+is\s+(?:closing|swelling))\b",
        )?;
        let self_harm_intent = ascii_regex(
            "crisis self-harm pattern",
            r"\b(?:want|wanna|going|gonna|urge|urges|tempted|need|needing|planning|plan|thinking\s+about|thought\s+about|keep\s+wanting)\s+(?:to\s+)?(?:hurt|harm|cut|burn|hit|punish)(?:ing)?\s+myself\b",
        )?;
        Ok(Detector {
            patterns,
            entries,
            threat,
            emergency,
            self_harm_intent,
        })
    }

    /// Append hits for one message.
    /// `lexicon` holds the leftmost-longest matches of `patterns`.
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink, lexicon: &[Lexeme]) {
        let scan = cx.scan;
        let mut near: [Vec<usize>; 3] = Default::default();
        for m in lexicon {
            let Some(entry) = self.entries.get(m.pattern) else {
                continue;
            };
            match entry {
                Entry::Trigger(f) => near[*f as usize].push(m.range.start),
                Entry::Phrase(tier, construct) => {
                    if scan.at_word_boundaries(m.range.clone())
                        && !goes_on_to_something(scan, m.range.end)
                    {
                        self.phrase_hit(scan, m.range.clone(), *tier, construct, sink);
                    }
                }
            }
        }
        find_near(
            &self.self_harm_intent,
            &scan.norm,
            &near[Family::SelfHarmIntent as usize],
            |range| {
                if !negated(scan, range.start) && !accidental(scan, range.clone()) {
                    sink.push(self_harm_hit(scan, range, "intent to self-injure"));
                }
            },
        );
        find_near(
            &self.threat,
            &scan.norm,
            &near[Family::Threat as usize],
            |range| {
                if !negated(scan, range.start) {
                    let found = scan.orig_text(range.clone());
                    sink.push(
                    Hit::new(
                        THREAT,
                        scan.orig(range),
                        format!("Threat of violence (\"{found}\"): a threat against staff, patients or others must go to security at once."),
                    )
                    .suggest("Alert security and keep the message as evidence; do not reply publicly."),
                );
                }
            },
        );
        find_near(
            &self.emergency,
            &scan.norm,
            &near[Family::Emergency as usize],
            |range| {
                if !negated(scan, range.start) {
                    let found = scan.orig_text(range.clone());
                    sink.health_context = true;
                    sink.push(
                    Hit::new(
                        EMERGENCY,
                        scan.orig(range),
                        format!("Possible medical emergency happening now (\"{found}\"): the writer may need emergency care, not a social media reply."),
                    )
                    .suggest("Tell the writer to call 911 (or their local emergency number) now, and alert the on-call team."),
                );
                }
            },
        );
    }

    fn phrase_hit(
        &self,
        scan: &Scan<'_>,
        range: std::ops::Range<usize>,
        tier: Tier,
        construct: &str,
        sink: &mut Sink,
    ) {
        // "5 kms" is a distance, not "kill myself".
        if scan.norm.get(range.clone()) == Some("kms")
            && previous_token_is_number(scan, range.start)
        {
            return;
        }
        if tier == Tier::SelfHarm && accidental(scan, range.clone()) {
            return;
        }
        let found = scan.orig_text(range.clone());
        let span = scan.orig(range.clone());
        if tier != Tier::Risk && negated(scan, range.start) {
            sink.push(Hit::new(
                DENIAL,
                span,
                format!("Negated {construct} (\"{found}\"): a denial still raises the topic, so a clinician should read it rather than the engine dismissing it."),
            ));
            return;
        }
        let hit = match tier {
            Tier::Ideation => Hit::new(
                IDEATION,
                span,
                format!("Possible {construct} (\"{found}\"): someone may be at risk of suicide and needs a trained person to respond now."),
            )
            .suggest(CRISIS_SUGGESTION),
            Tier::SelfHarm => self_harm_hit(scan, range, construct),
            Tier::Risk => Hit::new(
                RISK,
                span,
                format!("Suicide-risk language ({construct}: \"{found}\"): not an emergency on its own, but a trained person should read the whole message."),
            ),
        };
        sink.push(hit);
    }
}

const CRISIS_SUGGESTION: &str = "Follow the crisis protocol: reply privately with the 988 Suicide & Crisis Lifeline (call or text 988 in the US) and alert the on-call team.";

fn self_harm_hit(scan: &Scan<'_>, range: std::ops::Range<usize>, construct: &str) -> Hit {
    let found = scan.orig_text(range.clone());
    Hit::new(
        SELF_HARM,
        scan.orig(range),
        format!("Possible {construct} (\"{found}\"): the writer describes hurting themselves and needs a trained person to respond now."),
    )
    .suggest(CRISIS_SUGGESTION)
}

/// True when a negator sits in the same clause within three words before `start`.
fn negated(scan: &Scan<'_>, start: usize) -> bool {
    let first = scan.token_at_or_after(start);
    let mut clause_end = start;
    for i in (first.saturating_sub(3)..first).rev() {
        let Some(t) = scan.tokens.get(i) else { break };
        let gap = scan.norm.get(t.end..clause_end).unwrap_or_default();
        if gap
            .bytes()
            .any(|b| matches!(b, b'.' | b',' | b';' | b'!' | b'?' | b':'))
        {
            return false;
        }
        let word = scan.tok(i);
        if word == "but" {
            return false;
        }
        let no_longer = word == "longer" && i > 0 && scan.tok(i - 1) == "no";
        if NEGATORS.contains(&word) || no_longer {
            // "I don't know why I want to die" negates the knowing, not the wish.
            let next = scan.tokens.get(i + 1).map(|n| &scan.norm[n.start..n.end]);
            return !matches!(next, Some("know" | "care" | "think" | "see"));
        }
        clause_end = t.start;
    }
    false
}

/// True when a phrase ending at `end` in "going on" goes on to an object in the same clause
/// ("the point of going on a diet"): going on with life is the phrase alone or followed by
/// "anymore", "any longer", "like this" or "living".
fn goes_on_to_something(scan: &Scan<'_>, end: usize) -> bool {
    if !scan
        .norm
        .get(..end)
        .is_some_and(|s| s.ends_with("going on"))
    {
        return false;
    }
    let i = scan.token_at_or_after(end);
    let Some(next) = scan.tokens.get(i) else {
        return false;
    };
    let gap = scan.norm.get(end..next.start).unwrap_or_default();
    if gap
        .bytes()
        .any(|b| matches!(b, b'.' | b',' | b';' | b'!' | b'?' | b':'))
    {
        return false;
    }
    !matches!(scan.tok(i), "anymore" | "any" | "like" | "living")
}

/// True when words around a self-injury phrase describe an accident.
fn accidental(scan: &Scan<'_>, range: std::ops::Range<usize>) -> bool {
    let first = scan.token_at_or_after(range.start);
    let last = scan.token_at_or_after(range.end);
    let lo = first.saturating_sub(3);
    let hi = last.saturating_add(4).min(scan.tokens.len());
    (lo..hi).any(|i| ACCIDENT.contains(&scan.tok(i)))
}

fn previous_token_is_number(scan: &Scan<'_>, start: usize) -> bool {
    let i = scan.token_at_or_after(start);
    i > 0 && scan.tokens.get(i - 1).is_some_and(|t| t.shape.all_digit())
}

#[cfg(test)]
mod tests {
    use crate::{Message, Policy, Screener};

    fn rules(text: &str) -> Vec<(String, String)> {
        let s = Screener::new(Policy::default()).unwrap_or_else(|e| panic!("{e}"));
        let r = s
            .screen(&Message::incoming(text))
            .unwrap_or_else(|e| panic!("{e}"));
        r.findings
            .into_iter()
            .filter(|f| f.rule_id.starts_with("crisis."))
            .map(|f| (f.rule_id.into_owned(), f.matched))
            .collect()
    }

    fn fires(text: &str, rule: &str, matched: &str) {
        let got = rules(text);
        assert!(
            got.iter().any(|(r, m)| r == rule && m == matched),
            "{text:?}: want {rule} on {matched:?}, got {got:?}"
        );
    }

    #[test]
    fn ideation_fires_with_construct() {
        fires(
            "Honestly I want to die",
            "crisis.suicidal_ideation",
            "I want to die",
        );
        fires(
            "i'm going to KILL MYSELF tonight",
            "crisis.suicidal_ideation",
            "KILL MYSELF",
        );
        fires("I wanna die", "crisis.suicidal_ideation", "I wanna die");
        fires(
            "I have nothing to live for anymore",
            "crisis.suicidal_ideation",
            "nothing to live for",
        );
        fires(
            "been stockpiling my pills for a week",
            "crisis.suicidal_ideation",
            "stockpiling my pills",
        );
        fires(
            "my son said he wants to kill himself",
            "crisis.suicidal_ideation",
            "kill himself",
        );
        let s = Screener::new(Policy::default()).unwrap_or_else(|e| panic!("{e}"));
        let r = s
            .screen(&Message::incoming("I keep thinking I'd be better off dead"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            r.findings[0]
                .explanation
                .contains("passive suicidal ideation"),
            "{:?}",
            r.findings
        );
    }

    #[test]
    fn going_on_with_life_and_being_a_burden() {
        fires(
            "Honestly some days I don't see the point in going on anymore.",
            "crisis.suicidal_ideation",
            "don't see the point in going on",
        );
        fires(
            "whats the point of going on",
            "crisis.suicidal_ideation",
            "whats the point of going on",
        );
        fires(
            "I can't go on like this",
            "crisis.risk_language",
            "can't go on like this",
        );
        fires(
            "everyone would be better off without me",
            "crisis.risk_language",
            "better off without me",
        );
        for idiom in [
            "I don't want to go on the trip next week",
            "We can't go on the ride, the kids are too short",
            "What's the point of going on a diet before the holidays?",
            "The team is better off without Jones",
        ] {
            assert!(rules(idiom).is_empty(), "{idiom}: {:?}", rules(idiom));
        }
    }

    #[test]
    fn self_harm_but_not_accidents() {
        fires(
            "I cut myself again last night",
            "crisis.self_harm",
            "cut myself",
        );
        fires(
            "the urge to hurt myself is back",
            "crisis.self_harm",
            "urge to hurt myself",
        );
        assert!(rules("I cut myself shaving this morning").is_empty());
        assert!(rules("I hurt myself at the gym").is_empty());
    }

    #[test]
    fn denial_is_reviewed_not_dropped() {
        fires("I'm not suicidal, just sad", "crisis.denial", "suicidal");
        fires("I would never kill myself", "crisis.denial", "kill myself");
        fires(
            "I don't know why I want to die",
            "crisis.suicidal_ideation",
            "I want to die",
        );
        fires("I no longer am suicidal", "crisis.denial", "suicidal");
    }

    #[test]
    fn threats_and_emergencies() {
        fires(
            "I'm going to bring a gun to the hospital",
            "crisis.violence_threat",
            "bring a gun to the hospital",
        );
        fires(
            "next time I'll shoot that nurse",
            "crisis.violence_threat",
            "I'll shoot that nurse",
        );
        fires(
            "I think I'm having a heart attack",
            "crisis.medical_emergency",
            "I'm having a heart attack",
        );
        fires(
            "help my dad can't breathe",
            "crisis.medical_emergency",
            "my dad can't breathe",
        );
        fires("she overdosed", "crisis.medical_emergency", "she overdosed");
        fires(
            "my baby isn't breathing",
            "crisis.medical_emergency",
            "isn't breathing",
        );
        fires(
            "I'm having chest pains and sweating",
            "crisis.medical_emergency",
            "I'm having chest pains",
        );
        fires(
            "I'm going to hurt someone today",
            "crisis.violence_threat",
            "I'm going to hurt someone",
        );
        assert!(rules("Tips for breathing exercises during labor").is_empty());
        assert!(rules("she is breathing on her own again").is_empty());
    }

    #[test]
    fn patterns_fire_deep_in_long_text() {
        let filler = "We waited a long time in the lobby today. ".repeat(200);
        fires(
            &format!("{filler}I'm going to bring a gun to the hospital. {filler}"),
            "crisis.violence_threat",
            "bring a gun to the hospital",
        );
        fires(
            &format!("{filler}my dad can't breathe. {filler}"),
            "crisis.medical_emergency",
            "my dad can't breathe",
        );
    }

    #[test]
    fn idioms_do_not_fire() {
        for text in [
            "You're killing it!",
            "I'm dying to try the new cafe",
            "this commute is killing me",
            "I'd kill for a coffee",
            "I almost died laughing",
            "that cake is to die for",
            "shoot me a message",
            "drop-dead gorgeous nurses",
            "dead tired after night shift",
            "my phone died",
            "killer workout today",
            "I ran 10 kms today",
            "Know the signs of a stroke: call 911 if you see them.",
            "Suicide prevention month starts today",
            "I'm gonna kill this exam",
        ] {
            assert!(rules(text).is_empty(), "{text:?}: {:?}", rules(text));
        }
    }
}
