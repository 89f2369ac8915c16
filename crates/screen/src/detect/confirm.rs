//! Patient confirmation: outgoing replies that reveal someone is or was a patient.
//!
//! Under the HIPAA Privacy Rule the fact that a person received care from a covered entity is
//! itself protected health information, so a public reply such as "sorry about your recent visit"
//! or "our records show you were seen on Monday" is a disclosure even when it names nothing else.
//! Generic marketing ("book your appointment online", "if you visit us", "our visiting hours")
//! must stay quiet, so every second-person reference to care is read together with the words
//! around it: what precedes it (a call to action or a condition makes it generic), what qualifies
//! it ("with us", "last week", "went well" make it specific) and whether the sentence answers
//! someone ("sorry", "thank you").

use std::ops::Range;

use crate::ScreenError;
use crate::message::Direction;
use crate::policy::Policy;
use crate::report::{Action, Category, Severity};
use crate::rules::RuleInfo;
use crate::text::Scan;

use super::{Ctx, Hit, Lexeme, Sink};

/// The patient-confirmation rules.
pub(crate) const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "patient_confirmation.your_care",
        category: Category::PatientConfirmation,
        severity: Severity::High,
        incoming: None,
        outgoing: Some(Action::Block),
        summary: "A reply refers to the reader's own care here (\"your recent visit\", \"your surgery went well\").",
    },
    RuleInfo {
        id: "patient_confirmation.records",
        category: Category::PatientConfirmation,
        severity: Severity::High,
        incoming: None,
        outgoing: Some(Action::Block),
        summary: "A reply reveals what the organization's records or schedule say about the reader (\"our records show\").",
    },
];

const YOUR_CARE: &RuleInfo = &RULES[0];
const RECORDS: &RuleInfo = &RULES[1];

/// The reply HIPAA-trained social teams use instead of discussing someone's care in public.
const SAFE_REPLY: &str = "Reply without confirming any care, e.g. \"We're sorry to hear this. Please contact our \
Patient Relations team at [phone or email] so we can help privately.\"";

/// Phrases that state what the organization knows about the reader's care; they need no context.
const RECORD_PHRASES: &[&str] = &[
    "our records show",
    "our records indicate",
    "our records say",
    "our system shows",
    "according to our records",
    "we have you scheduled",
    "we have you down for",
    "we have you booked",
    "you're scheduled for",
    "you are scheduled for",
    "you're booked for",
    "you are booked for",
    "when you were here",
    "while you were here",
    "when you were with us",
    "while you were with us",
    "when you were a patient",
    "while you were a patient",
    "when you were in our",
    "while you were in our",
    "when you were admitted",
    "when you were discharged",
    "since you were discharged",
    "you were seen in our",
    "you were seen at our",
    "you were seen by",
    "you were treated at our",
    "you were treated in our",
    "you were admitted",
    "you were discharged",
    "we treated you",
    "we cared for you",
    "we saw you in",
    "we see that you were",
    "we see you were",
];

/// "your mom's surgery": care of a relative is as identifying as the reader's own.
const RELATIVES: &[&str] = &[
    "mom's",
    "mother's",
    "dad's",
    "father's",
    "son's",
    "daughter's",
    "wife's",
    "husband's",
    "child's",
    "baby's",
    "kid's",
    "brother's",
    "sister's",
    "grandmother's",
    "grandma's",
    "grandfather's",
    "grandpa's",
    "partner's",
    "family's",
    "spouse's",
    "parent's",
    "aunt's",
    "uncle's",
];

/// Modifiers that make the reference about care in general ("your annual checkup is covered").
const GENERIC_MODIFIERS: &[&str] = &[
    "annual",
    "yearly",
    "routine",
    "regular",
    "preventive",
    "free",
];

/// Modifiers that pin the reference to one real episode of care.
const SPECIFIC_MODIFIERS: &[&str] = &[
    "recent",
    "last",
    "previous",
    "latest",
    "yesterday's",
    "today's",
    "tomorrow's",
    "recently",
];

/// Modifiers that say the noun is clinical ("test results", "medical records", "care team").
const CLINICAL_MODIFIERS: &[&str] = &[
    "test",
    "lab",
    "blood",
    "biopsy",
    "pathology",
    "covid",
    "mri",
    "ct",
    "imaging",
    "medical",
    "health",
    "patient",
    "care",
    "surgical",
    "hospital",
    "er",
    "icu",
    "emergency",
    "follow",
    "up",
    "upcoming",
    "next",
    "scheduled",
    "first",
    "outpatient",
    "inpatient",
    "clinic",
    "x",
    "ray",
    "screening",
    "cardiology",
    "oncology",
    "physical",
    "ultrasound",
];

/// Episodes of care that identify a patient on their own ("your appointment").
const CARE_EVENTS: &[&str] = &[
    "visit",
    "appointment",
    "appt",
    "stay",
    "surgery",
    "procedure",
    "operation",
    "admission",
    "discharge",
    "biopsy",
    "bloodwork",
    "labs",
    "chart",
    "infusion",
    "checkup",
    "mammogram",
    "colonoscopy",
    "consultation",
    "prescription",
    "hospitalization",
    "chemo",
    "chemotherapy",
];

/// Nouns that identify a patient only with a clinical modifier or a specific qualifier
/// ("your test results" but not "your results may vary").
const CARE_DETAILS: &[&str] = &[
    "results",
    "result",
    "records",
    "record",
    "team",
    "scan",
    "mri",
    "exam",
    "treatment",
    "diagnosis",
    "test",
    "tests",
    "bill",
    "delivery",
    "care",
    "ultrasound",
    "x-ray",
    "xray",
    "recovery",
    "wait",
];

/// Staff: "talk to your doctor" is advice, "your doctor here" is a confirmation.
const STAFF: &[&str] = &[
    "doctor",
    "dr",
    "nurse",
    "surgeon",
    "physician",
    "provider",
    "nurses",
    "doctors",
];

/// Words just before "your" that make the reference generic (calls to action, instructions).
const GENERIC_BEFORE: &[&str] = &[
    "schedule",
    "scheduling",
    "book",
    "booking",
    "make",
    "making",
    "request",
    "requesting",
    "reschedule",
    "rescheduling",
    "cancel",
    "canceling",
    "cancelling",
    "confirm",
    "prepare",
    "preparing",
    "prep",
    "plan",
    "planning",
    "ready",
    "before",
    "ahead",
    "prior",
    "after",
    "during",
    "for",
    "to",
    "at",
    "about",
    "of",
    "with",
    "from",
    "into",
    "view",
    "access",
    "check",
    "see",
    "download",
    "get",
    "getting",
    "receive",
    "find",
    "manage",
    "track",
    "pay",
    "paying",
    "refill",
    "transfer",
    "fill",
    "bring",
    "arrive",
    "understand",
    "understanding",
    "learn",
    "know",
    "when",
    "once",
    "whenever",
    "until",
    "on",
    "in",
];

/// Words anywhere before a cue in its sentence that make the whole statement hypothetical.
const CONDITIONAL: &[&str] = &[
    "if",
    "whether",
    "unless",
    "anyone",
    "whoever",
    "everyone",
    "everybody",
];

/// Words right after the noun that make it generic ("your treatment options").
const GENERIC_AFTER: &[&str] = &[
    "options",
    "choices",
    "needs",
    "rights",
    "questions",
    "guide",
    "checklist",
    "journey",
    "portal",
    "online",
];

/// Words right after the noun that place it in time ("your surgery went well", "your visit last week").
const SPECIFIC_AFTER: &[&str] = &[
    "was",
    "went",
    "were",
    "wasn't",
    "got",
    "came",
    "last",
    "yesterday",
    "earlier",
    "has",
    "have",
    "didn't",
    "had",
];

/// Sentence words that show the post answers one person ("we're sorry about your stay").
const ANSWERING: &[&str] = &[
    "sorry", "apolog", "regret", "glad", "thank", "hope", "to hear", "congrat",
];

/// The compiled patient-confirmation detector.
pub(crate) struct Detector {
    /// Cues searched in the shared lexicon pass ([`super::Lexicons`]): pattern 0 is "your"; the
    /// rest are [`RECORD_PHRASES`].
    pub patterns: Vec<String>,
}

impl Detector {
    /// Gather the cues; the rules do not depend on the policy.
    pub fn new(_policy: &Policy) -> Result<Self, ScreenError> {
        let patterns = std::iter::once("your")
            .chain(RECORD_PHRASES.iter().copied())
            .map(str::to_owned)
            .collect();
        Ok(Detector { patterns })
    }

    /// Append hits for one outgoing message.
    /// `cues` holds the leftmost-longest matches of `patterns`.
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink, cues: &[Lexeme]) {
        if cx.msg.direction != Direction::Outgoing {
            return;
        }
        let scan = cx.scan;
        for m in cues {
            let r = m.range.clone();
            if !scan.at_word_boundaries(r.clone()) {
                continue;
            }
            let is_your = m.pattern == 0;
            // "your" is common; most uses name no care at all, which the next few words show cheaply.
            if is_your
                && !scan.words_after(r.end, 5).any(|w| {
                    CARE_EVENTS.contains(&w) || CARE_DETAILS.contains(&w) || STAFF.contains(&w)
                })
            {
                continue;
            }
            let sentence = scan.sentence_at(r.start);
            if scan
                .words_before(r.start, 8, sentence.start)
                .any(|w| CONDITIONAL.contains(&w))
            {
                continue;
            }
            if is_your {
                let Some(end) = your_care_end(scan, r.clone(), sentence) else {
                    continue;
                };
                let span = scan.orig(r.start..end);
                let said = scan.orig_text(r.start..end);
                sink.hits.push(
                    Hit::new(
                        YOUR_CARE,
                        span,
                        format!(
                            "\"{said}\" refers to this person's own care here, which publicly confirms they are \
                             or were a patient; under HIPAA that relationship is itself protected health information."
                        ),
                    )
                    .suggest(SAFE_REPLY),
                );
            } else {
                let said = scan.orig_text(r.clone());
                sink.hits.push(
                    Hit::new(
                        RECORDS,
                        scan.orig(r),
                        format!(
                            "\"{said}\" tells the public what the organization knows about this person's care, \
                             which confirms a patient relationship (a HIPAA disclosure)."
                        ),
                    )
                    .suggest(SAFE_REPLY),
                );
            }
        }
    }
}

/// Where the care reference starting with the "your" at `your` ends in `norm`, if the reference
/// identifies the reader as a patient.
fn your_care_end(scan: &Scan<'_>, your: Range<usize>, sentence: Range<usize>) -> Option<usize> {
    let first = scan.token_at_or_after(your.end);
    let word = |i: usize| -> Option<&str> {
        let t = scan.tokens.get(first.checked_add(i)?)?;
        if t.end > sentence.end {
            return None;
        }
        scan.norm.get(t.start..t.end)
    };
    let end_of = |i: usize| {
        first
            .checked_add(i)
            .and_then(|j| scan.tokens.get(j))
            .map(|t| t.end)
    };

    let mut i = 0;
    let mut specific = false;
    let mut clinical = false;
    if word(0) == Some("loved") && word(1) == Some("one's") {
        specific = true;
        i = 2;
    } else if word(0).is_some_and(|w| RELATIVES.contains(&w)) {
        specific = true;
        i = 1;
    }
    let mut general = false;
    for _ in 0..3 {
        match word(i) {
            Some(w) if SPECIFIC_MODIFIERS.contains(&w) => specific = true,
            Some(w) if GENERIC_MODIFIERS.contains(&w) => general = true,
            Some(w) if CLINICAL_MODIFIERS.contains(&w) => clinical = true,
            _ => break,
        }
        i += 1;
    }
    let noun = word(i)?;
    let mut end = end_of(i)?;
    let next = word(i + 1);
    let next2 = word(i + 2);
    if next.is_some_and(|w| GENERIC_AFTER.contains(&w)) {
        return None;
    }
    let located = match (next, next2) {
        (Some("here"), _) => {
            end = end_of(i + 1)?;
            true
        }
        (Some("with" | "at" | "in"), Some("us" | "our")) => {
            end = end_of(i + 2)?;
            true
        }
        _ => false,
    };
    let timed = next.is_some_and(|w| SPECIFIC_AFTER.contains(&w))
        || (next == Some("is")
            && next2.is_some_and(|w| {
                matches!(w, "ready" | "scheduled" | "confirmed" | "booked" | "set")
            }));
    let sentence_text = scan.norm.get(sentence.clone()).unwrap_or_default();
    let answering = ANSWERING.iter().any(|a| sentence_text.contains(a));
    let specific = specific || located || timed || answering;
    if general && !specific {
        return None;
    }
    let generic = || {
        scan.words_before(your.start, 3, sentence.start)
            .any(|w| GENERIC_BEFORE.contains(&w))
    };
    let fires = if STAFF.contains(&noun) {
        located
    } else if CARE_EVENTS.contains(&noun) {
        specific || !generic()
    } else if CARE_DETAILS.contains(&noun) {
        specific || (clinical && !generic())
    } else {
        false
    };
    fires.then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn detector() -> &'static Detector {
        static DETECTOR: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
        DETECTOR.get_or_init(|| Detector::new(&Policy::default()).unwrap_or_else(|e| panic!("{e}")))
    }

    fn hits(text: &str) -> Vec<(&'static str, String)> {
        let det = detector();
        let msg = Message::outgoing(text);
        let scan = Scan::new(text);
        let cx = Ctx {
            msg: &msg,
            scan: &scan,
        };
        let mut sink = Sink::default();
        det.run(
            &cx,
            &mut sink,
            &super::super::lexemes(&det.patterns, &scan.norm),
        );
        sink.hits
            .iter()
            .map(|h| (h.rule.id, text[h.span.start..h.span.end].to_owned()))
            .collect()
    }

    #[test]
    fn fires_on_references_to_the_readers_care() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "We're so sorry about your visit.",
                "patient_confirmation.your_care",
                "your visit",
            ),
            (
                "Glad your procedure went smoothly!",
                "patient_confirmation.your_care",
                "your procedure",
            ),
            (
                "We apologize for the wait during your ER visit on Tuesday.",
                "patient_confirmation.your_care",
                "your ER visit",
            ),
            (
                "Your prescription is ready for pickup.",
                "patient_confirmation.your_care",
                "Your prescription",
            ),
            (
                "Your appointment has been moved to 3pm.",
                "patient_confirmation.your_care",
                "Your appointment",
            ),
            (
                "Thank you for sharing your stay with us.",
                "patient_confirmation.your_care",
                "your stay with us",
            ),
            (
                "We're so sorry about your wait in our ER yesterday.",
                "patient_confirmation.your_care",
                "your wait in our",
            ),
            (
                "We hope your recovery after surgery is going well, John!",
                "patient_confirmation.your_care",
                "your recovery",
            ),
            (
                "Hope your surgery last week went well",
                "patient_confirmation.your_care",
                "your surgery",
            ),
            (
                "We reviewed your test results and will call.",
                "patient_confirmation.your_care",
                "your test results",
            ),
            (
                "I passed this to your doctor here.",
                "patient_confirmation.your_care",
                "your doctor here",
            ),
            (
                "Sorry about your mom's recent stay.",
                "patient_confirmation.your_care",
                "your mom's recent stay",
            ),
            (
                "We hope your loved one's stay was comfortable.",
                "patient_confirmation.your_care",
                "your loved one's stay",
            ),
            (
                "Your care team has been notified.",
                "patient_confirmation.your_care",
                "Your care team",
            ),
            (
                "Our records show you missed a dose.",
                "patient_confirmation.records",
                "Our records show",
            ),
            (
                "We have you scheduled for Friday.",
                "patient_confirmation.records",
                "We have you scheduled",
            ),
            (
                "Things were busy when you were here.",
                "patient_confirmation.records",
                "when you were here",
            ),
            (
                "Y\u{2019}know, you\u{2019}re scheduled for 9am.",
                "patient_confirmation.records",
                "you\u{2019}re scheduled for",
            ),
        ];
        for (text, rule, matched) in cases {
            let got = hits(text);
            assert!(
                got.iter().any(|(r, m)| r == rule && m == matched),
                "{text}: {got:?}"
            );
        }
    }

    #[test]
    fn generic_posts_do_not_fire() {
        for text in [
            "If you visit us this weekend, parking is free.",
            "Our visiting hours are 9 to 5.",
            "Book your appointment online today!",
            "Preparing for your surgery? Here are five tips.",
            "What to bring to your appointment: ID and insurance card.",
            "Talk to your doctor about the flu shot.",
            "You can view your test results in the patient portal.",
            "If your appointment was cancelled by the storm, we will call you.",
            "Learn about your treatment options at our cancer center.",
            "Your results may vary.",
            "Ask your surgeon about the risks.",
            "If you were seen in our ER on May 3, call us.",
            "Pay your bill online in minutes.",
            "Everyone who was admitted last year gets a survey.",
            "Did you know? Your annual checkup is covered by most insurance plans.",
            "Schedule your mammogram today: October is Breast Cancer Awareness Month.",
            "Five tips for your recovery after knee surgery.",
            "Your wait is over: our new urgent care opens Monday.",
        ] {
            assert!(hits(text).is_empty(), "{text}: {:?}", hits(text));
        }
    }

    #[test]
    fn incoming_messages_are_ignored() {
        let det = detector();
        let msg = Message::incoming("our records show nothing; your visit was awful");
        let scan = Scan::new(&msg.text);
        let mut sink = Sink::default();
        det.run(
            &Ctx {
                msg: &msg,
                scan: &scan,
            },
            &mut sink,
            &super::super::lexemes(&det.patterns, &scan.norm),
        );
        assert!(sink.hits.is_empty());
    }

    #[test]
    fn folded_text_maps_back_to_the_original() {
        assert_eq!(
            hits("Ｓｏｒｒｙ about ｙｏｕｒ ｒｅｃｅｎｔ ｖｉｓｉｔ"),
            vec![(
                "patient_confirmation.your_care",
                "ｙｏｕｒ ｒｅｃｅｎｔ ｖｉｓｉｔ".to_owned()
            )]
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}", tail in "(your (recent )?visit|our records show|when you were here)?") {
            let text = format!("{text} {tail}");
            for h in hits(&text) {
                proptest::prop_assert!(!h.1.is_empty());
            }
        }
    }
}
