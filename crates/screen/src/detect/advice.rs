//! Medical advice: questions from the public that need a clinician, and individual advice given in
//! the organization's own posts.
//!
//! A social team must not answer "should I stop taking my meds?" in public, and must not post
//! "take 2 pills" or "you don't need to see a doctor": individual advice without an examination is
//! a clinical and liability risk, and for a drug maker it can also be off-label promotion. Pointing
//! people to their own doctor or pharmacist is the safe answer and never fires.
//!
//! Each direction has one automaton of trigger phrases ("should i", "take", "stop taking"). Only
//! when a trigger is found does its anchored pattern run, on a short window of text after it, so a
//! message with no trigger costs one automaton pass.

use regex::{Regex, RegexBuilder};

use crate::ScreenError;
use crate::message::Direction;
use crate::policy::Policy;
use crate::report::{Action, Category, Severity};
use crate::rules::RuleInfo;
use crate::text::Scan;

use super::{Ctx, Hit, Lexeme, Sink};

/// The medical-advice rules.
pub(crate) const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: "medical_advice.request",
        category: Category::MedicalAdvice,
        severity: Severity::Medium,
        incoming: Some(Action::Review),
        outgoing: None,
        summary: "Someone asks for individual medical advice (\"should I stop taking\", \"what dose\"); route to a clinician.",
    },
    RuleInfo {
        id: "medical_advice.given",
        category: Category::MedicalAdvice,
        severity: Severity::High,
        incoming: None,
        outgoing: Some(Action::Review),
        summary: "The organization gives individual medical advice (\"take 2 pills\", \"stop taking\", \"no need to see a doctor\").",
    },
];

const REQUEST: &RuleInfo = &RULES[0];
const GIVEN: &RuleInfo = &RULES[1];

/// How much text after a trigger its pattern may read; advice is said in one short clause.
const WINDOW: usize = 160;

/// Drug names people mention in questions and that a post should not dose; the organization's own
/// products are added from the policy.
const DRUG_NAMES: &str = "ibuprofen|advil|motrin|tylenol|acetaminophen|paracetamol|aspirin|aleve|naproxen|benadryl|\
diphenhydramine|melatonin|xanax|alprazolam|zoloft|sertraline|prozac|fluoxetine|lexapro|escitalopram|wellbutrin|\
bupropion|adderall|ritalin|metformin|lisinopril|amlodipine|atorvastatin|lipitor|simvastatin|warfarin|coumadin|\
eliquis|apixaban|xarelto|rivaroxaban|ozempic|wegovy|mounjaro|semaglutide|insulin|levothyroxine|synthroid|\
prednisone|amoxicillin|azithromycin|zpack|z-pack|antibiotics?|antidepressants?|antihistamines?|painkillers?|\
pain relievers?|statins?|steroids?|birth control|the pill|zyrtec|claritin|allegra|sudafed|nyquil|dayquil|\
mucinex|imodium|pepto|tums|gabapentin|tramadol|oxycodone|hydrocodone|codeine|morphine|suboxone|methadone|\
plan b|ivermectin|hydroxychloroquine|vitamins?|supplements?|cbd|ketamine";

/// Words for medicine in general.
const MED_WORDS: &str = "meds?|medications?|medicines?|pills?|tablets?|capsules?|doses?|dosage|prescriptions?|drugs?|\\d+ ?mg|mg";

/// Contexts that make "take it" medical even with an unfamiliar drug name.
const TAKING_CONTEXT: &str = "while (?:pregnant|breastfeeding|nursing|on)|\
if (?:i'm|i am|you're|you are|she's|she is) (?:pregnant|breastfeeding|nursing)|with (?:alcohol|food|milk|grapefruit|my|other)|\
together|at the same time|on an empty stomach|before (?:surgery|bed)|after (?:surgery|drinking)";

/// Conditions a post might diagnose ("sounds like you have the flu").
const DIAGNOSES: &str = "infections?|allerg(?:y|ies)|virus|viral|flu|cold|covid|strep|migraines?|sprain|fracture|\
uti|pneumonia|bronchitis|reflux|gerd|anxiety|depression|concussion|conditions?|disorders?|syndrome|disease|\
diabetes|asthma|sinusitis|shingles|sciatica|tendonitis|gout|vertigo|appendicitis|hernia|ulcer";

/// How a trigger's pattern is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// Fires whenever the pattern matches.
    None,
    /// Fires only when the reader is told something: no first- or third-person subject just before
    /// ("I don't need a doctor" is a story, "you don't need a doctor" is advice) and not a question.
    Addressed,
    /// Does not fire next to a referral to the reader's own clinician ("talk to your doctor").
    Deferral,
    /// An instruction: told to the reader as an imperative ("take 2 pills", not "I take 2 pills" or
    /// "should I take 2 pills?"), not negated ("do not take more than 4 tablets" is label text), not deferring to a clinician.
    Instruction,
}

/// Subjects that make a statement narration rather than advice to the reader.
const NARRATORS: &[&str] = &[
    "i", "i'm", "im", "i've", "i'd", "i'll", "me", "my", "we", "we've", "we'd", "we'll", "he",
    "she", "they", "he's", "she's", "they're", "his", "her", "their", "doctor", "dr", "who", "it",
    "to", "when", "if",
];

/// Words that may lead an imperative ("just take", "then increase", "you can stop taking").
const IMPERATIVE_LEAD: &[&str] = &[
    "please",
    "just",
    "simply",
    "then",
    "so",
    "and",
    "now",
    "also",
    "always",
    "only",
    "you",
    "can",
    "could",
    "should",
    "may",
    "might",
    "must",
    "definitely",
    "immediately",
    "gradually",
    "slowly",
    "safely",
    "first",
    "next",
    "instead",
    "or",
    "but",
];

/// One anchored pattern that runs where its triggers are found.
struct Pattern {
    rule: &'static RuleInfo,
    triggers: &'static [&'static str],
    regex: String,
    guard: Guard,
}

/// A compiled pattern.
struct Compiled {
    rule: &'static RuleInfo,
    regex: Regex,
    guard: Guard,
}

/// One direction's triggers and the patterns each one starts.
pub(crate) struct Side {
    /// Trigger words and phrases, searched in the shared lexicon pass ([`super::Lexicons`]).
    pub triggers: Vec<String>,
    /// `patterns[trigger id]` lists indexes into `compiled`.
    patterns: Vec<Vec<usize>>,
    compiled: Vec<Compiled>,
}

/// The compiled medical-advice detector.
pub(crate) struct Detector {
    incoming: Side,
    outgoing: Side,
    deferral: Regex,
}

fn compile(what: &str, pattern: &str) -> Result<Regex, ScreenError> {
    RegexBuilder::new(pattern)
        .size_limit(4 << 20)
        .build()
        .map_err(|e| ScreenError::Compile {
            what: what.to_owned(),
            message: e.to_string(),
        })
}

impl Side {
    /// Compile one direction's patterns and gather their triggers.
    fn new(patterns: Vec<Pattern>) -> Result<Self, ScreenError> {
        let mut trigger_texts: Vec<&'static str> = Vec::new();
        let mut by_trigger: Vec<Vec<usize>> = Vec::new();
        let mut compiled = Vec::with_capacity(patterns.len());
        for (i, p) in patterns.into_iter().enumerate() {
            compiled.push(Compiled {
                rule: p.rule,
                regex: compile("medical advice pattern", &p.regex)?,
                guard: p.guard,
            });
            for t in p.triggers {
                match trigger_texts.iter().position(|x| x == t) {
                    Some(at) => by_trigger[at].push(i),
                    None => {
                        trigger_texts.push(t);
                        by_trigger.push(vec![i]);
                    }
                }
            }
        }
        Ok(Side {
            triggers: trigger_texts.iter().map(|t| (*t).to_owned()).collect(),
            patterns: by_trigger,
            compiled,
        })
    }
}

impl Detector {
    /// Compile both directions' patterns; the organization's products count as drug names.
    pub fn new(policy: &Policy) -> Result<Self, ScreenError> {
        let mut names = DRUG_NAMES.to_owned();
        for p in &policy.products {
            for n in std::iter::once(&p.name)
                .chain(std::iter::once(&p.generic))
                .chain(&p.aliases)
            {
                let n = Scan::new(n.trim()).norm;
                if !n.is_empty() {
                    names.push('|');
                    names.push_str(&regex::escape(&n));
                }
            }
        }
        let med = format!("(?:{names}|{MED_WORDS})");
        let subject = "(?:i|we|my \\w+|he|she|they|you)";
        let stop = "(?:stop|quit|keep|continue|start|resume|skip|miss|pause) (?:taking|using)\\b";
        let change = format!(
            "(?:double|increase|decrease|lower|reduce|raise|up|cut|adjust|change|halve|split|crush|chew|skip|stop|miss) \
             (?:up )?(?:on )?(?:my|the|a|this|his|her|our|their|your) (?:\\w+ )?(?:{MED_WORDS}|insulin|{names})\\b"
        );
        let off = format!(
            "(?:come|go|get|wean) off (?:of )?(?:my|the|it|them|this|{names}|{MED_WORDS})\\b|double (?:up|dose)\\b"
        );
        let take = format!(
            "(?:take|use|give|mix|combine|drink)\\b[^.!?\\n]{{0,40}}?\\b(?:{med}|{TAKING_CONTEXT})\\b|\
             (?:have|try)\\b[^.!?\\n]{{0,40}}?\\b{med}\\b|take (?:two|three|another|an extra|a double|double|extra|half)\\b"
        );
        let triage = "(?:go|head|come) (?:in )?to (?:the |an |a )?(?:er|e\\.r|emergency|hospital|urgent care)\\b|\
                      see (?:a |my |the |an )?(?:doctor|dr|specialist|physician|gp)\\b|call 911\\b|be (?:worried|concerned)\\b|\
                      worry\\b|get (?:tested|checked|screened|stitches|an x-?ray|antibiotics)\\b|\
                      get (?:the |a |my )?(?:flu )?(?:booster|vaccine|shot|jab)\\b";
        let act = format!("(?:{stop}|{change}|{off}|{take})");
        let act_or_triage = format!("(?:{stop}|{change}|{off}|{take}|{triage})");
        let adverb = "(?:(?:still|really|just|now|also|safely|maybe|ever) )?";
        let okay = "(?:safe|ok|okay|alright|all right|fine|dangerous|bad|risky|harmful)";
        let who = "(?: for (?:me|my \\w+|him|her|us|kids|children|a \\w+))?";
        // Everyday activities that become medical questions around a treatment ("drive after my colonoscopy").
        let activity = "(?:breastfeed|nurse|get (?:the |a |my )?(?:vaccine|shot|booster|vaccinated)|drive|fly|exercise|\
                        shower|swim|work out|drink alcohol|drink) (?:after|while|on|with|before)\\b";

        let incoming = vec![
            Pattern {
                rule: REQUEST,
                triggers: &["should i", "should we", "should my"],
                regex: format!("^should {subject} {adverb}{act_or_triage}"),
                guard: Guard::None,
            },
            Pattern {
                rule: REQUEST,
                triggers: &["can i", "can we", "can my", "could i", "may i", "can you"],
                regex: format!("^(?:can|could|may) {subject} {adverb}{act}"),
                guard: Guard::None,
            },
            Pattern {
                rule: REQUEST,
                triggers: &[
                    "is it safe", "is it ok", "is it okay", "is it alright", "is it all right", "is it fine",
                    "is it dangerous", "is it bad", "is it risky", "is it harmful",
                ],
                regex: format!("^is it {okay}(?:{who} to | if {subject} ){adverb}(?:{act}|{activity})"),
                guard: Guard::None,
            },
            Pattern {
                rule: REQUEST,
                triggers: &["safe to", "ok to", "okay to", "fine to", "safe for"],
                regex: format!("^{okay}{who} to {act}[^.!\\n]{{0,60}}\\?"),
                guard: Guard::None,
            },
            Pattern {
                rule: REQUEST,
                triggers: &["what dose", "what dosage", "what strength", "which dose", "which dosage", "max dose", "maximum dose", "max dosage", "maximum dosage"],
                regex: "^(?:what|which) (?:dose|dosage|strength)\\b|^max(?:imum)? (?:dose|dosage)\\b".to_owned(),
                guard: Guard::None,
            },
            Pattern {
                rule: REQUEST,
                triggers: &["how much", "how many", "how often", "how long"],
                regex: format!(
                    "^how (?:much|many) (?:mg|milligrams|ml|pills?|tablets?|capsules?|doses?|units?|puffs?|{names})\\b|\
                     ^how (?:much|many) (?:\\w+ ){{0,3}}?(?:should|can|could|do|may) {subject} (?:safely )?(?:take|give|use)\\b|\
                     ^how often (?:should|can|could|do|may) {subject} (?:take|give|use|inject|apply)\\b|\
                     ^how long (?:should|can|do) {subject} (?:keep taking|stay on|take)\\b"
                ),
                guard: Guard::None,
            },
            Pattern {
                rule: REQUEST,
                triggers: &["do i need", "do we need", "does my", "do you think i need", "do i have to"],
                regex: format!(
                    "^(?:do (?:i|we|you think i) (?:need|have)|does my \\w+ need) (?:to )?(?:{stop}|{change}|{take}|{triage}|\
                     antibiotics|stitches|surgery|a doctor)"
                ),
                guard: Guard::None,
            },
            Pattern {
                rule: REQUEST,
                triggers: &["what can i take", "what should i take", "what can i give", "what should i give"],
                regex: "^what (?:can|should) i (?:take|give)(?: (?:my \\w+|him|her|them))? (?:for|to)\\b".to_owned(),
                guard: Guard::None,
            },
            Pattern {
                rule: REQUEST,
                triggers: &["interact", "interacts"],
                regex: "^interacts? (?:badly |negatively )?with\\b[^.!\\n]{1,60}\\?".to_owned(),
                guard: Guard::None,
            },
        ];

        let dose_unit = "(?:pills?|tablets?|tabs|capsules?|caps|mg|milligrams?|mcg|ml|mls|doses?|teaspoons?|tsps?|\
                         tablespoons?|puffs?|drops?|units?|gummies|sprays?|shots?|injections?)";
        let amount = "(?:\\d+(?:\\.\\d+)?|one|two|three|four|five|six|half|a half|an extra|another|extra|a double|double|1/2)";
        let advise = "(?:you (?:should|need to|must|'ll need to|will need to|ought to)|(?:we|i|i'd|we'd) (?:recommend|suggest)(?: that you| you)?)";
        let outgoing = vec![
            Pattern {
                rule: GIVEN,
                triggers: &["take"],
                regex: format!(
                    "^take {amount} ?(?:of )?(?:(?:a|an|your|the|more) )?(?:[\\w-]+ )?{dose_unit}\\b|\
                     ^take (?:it|them|this|one|your (?:\\w+ )?(?:{MED_WORDS})) (?:twice|once|three times|every|at (?:bedtime|night)|\
                     in the (?:morning|evening)|with (?:food|meals|water)|on an empty stomach|before (?:bed|meals))\\b|\
                     ^take (?:some |an? |more |extra |{amount} )?(?:{names})\\b"
                ),
                guard: Guard::Instruction,
            },
            Pattern {
                rule: GIVEN,
                triggers: &[
                    "increase your", "decrease your", "double your", "lower your", "reduce your", "raise your", "cut your",
                    "up your", "adjust your", "halve your", "skip your", "split your", "increase the", "decrease the",
                    "double the", "lower the", "reduce the", "cut the", "halve the", "skip the",
                ],
                regex: format!("^\\w+ (?:your|the) (?:\\w+ )?(?:{MED_WORDS}|insulin|{names})\\b"),
                guard: Guard::Instruction,
            },
            Pattern {
                rule: GIVEN,
                triggers: &[
                    "stop taking", "quit taking", "stop using", "quit using", "discontinue", "stop your", "come off",
                    "go off", "get off", "wean", "try taking",
                ],
                regex: format!(
                    "^(?:stop|quit) (?:taking|using) (?:it|them|this|that|these|those|{med}|(?:your|the|any|all|this|these|those) (?:\\w+ )?{med})\\b|^discontinue (?:your|the|taking|using|it|them)\\b|\
                     ^stop your (?:\\w+ )?(?:{MED_WORDS}|treatment|insulin|{names})\\b|\
                     ^(?:come|go|get) off (?:of )?(?:your|the|it|them|{names})\\b|^wean (?:yourself |him |her |them )?off\\b|^try taking\\b"
                ),
                guard: Guard::Instruction,
            },
            Pattern {
                rule: GIVEN,
                triggers: &[
                    "you should", "you need to", "you must", "you'll need to", "you will need to", "you ought to",
                    "we recommend", "i recommend", "i'd recommend", "we'd recommend", "we suggest", "i suggest",
                ],
                regex: format!(
                    "^{advise} (?:(?:definitely|probably|just|also) )?(?:start|stop|quit|keep|continue|resume|skip|double|\
                     increase|decrease|lower|reduce|halve|cut|starting|stopping|increasing|decreasing|doubling) \
                     (?:taking|using|your|the|on|back on)\\b|\
                     ^{advise} (?:(?:definitely|probably|just|also) )?(?:take|try|use|switch to|be taking|taking|trying)\\b\
                     [^.!?\\n]{{0,30}}?\\b{med}\\b"
                ),
                guard: Guard::Deferral,
            },
            Pattern {
                rule: GIVEN,
                triggers: &[
                    "don't need", "do not need", "won't need", "will not need", "doesn't need", "shouldn't need",
                    "should not need", "no need",
                ],
                regex: "^(?:don't|do not|won't|will not|doesn't|shouldn't|should not) need (?:to )?\
                        (?:(?:see|go to|visit|call|contact|bother(?: with| seeing)?) )?(?:a |an |the |your |any )?\
                        (?:doctor|dr|physician|er|emergency room|emergency|hospital|urgent care|specialist|medical (?:attention|care|help)|\
                        911|antibiotics|stitches)\\b|\
                        ^no need (?:to (?:see|go to|visit|call) |for )(?:a |an |the |your |any )?\
                        (?:doctor|dr|physician|er|emergency room|emergency|hospital|urgent care|specialist|medical (?:attention|care|help))\\b"
                    .to_owned(),
                guard: Guard::Addressed,
            },
            Pattern {
                rule: GIVEN,
                triggers: &[
                    "sounds like you have", "sounds like you've got", "sounds like you had", "you probably have",
                    "you likely have", "you most likely have", "sounds like a", "sounds like an",
                ],
                regex: format!(
                    "^(?:sounds like (?:you (?:have|'ve got|had) )?|you (?:probably|likely|most likely) have )\
                     (?:(?:a|an|the|some|just|mild|bad|minor|viral|bacterial) )*(?:[\\w-]+ )?(?:{DIAGNOSES})\\b"
                ),
                guard: Guard::None,
            },
        ];

        let deferral = compile(
            "medical advice deferral",
            "(?:talk|speak|check|consult|ask|discuss|call|contact|see|talking|speaking|checking|consulting|asking|discussing|\
             calling|contacting|seeing)(?: (?:with|to))? (?:your|a|an|their|his|her|the) (?:own )?(?:doctor|dr|physician|pharmacist|\
             healthcare provider|health care provider|health-care provider|provider|care team|clinician|nurse|prescriber|\
             healthcare professional|health care professional|specialist|medical team|gp|pediatrician)|as (?:prescribed|directed)|\
             unless (?:your|a) (?:doctor|physician|provider|prescriber)|(?:your|a) (?:doctor|physician|provider|prescriber|\
             pharmacist)(?: may| might| will| can| says| tells| recommends| prescribes| prescribed| advises| told| has)|\
             under (?:medical|a doctor's) supervision|without (?:first )?(?:talking|speaking|checking|consulting)",
        )?;
        Ok(Detector {
            incoming: Side::new(incoming)?,
            outgoing: Side::new(outgoing)?,
            deferral,
        })
    }

    /// Append hits for one message: requests on incoming messages, advice on outgoing ones.
    /// The patterns for messages going `direction`.
    pub fn side(&self, direction: Direction) -> &Side {
        match direction {
            Direction::Incoming => &self.incoming,
            Direction::Outgoing => &self.outgoing,
        }
    }

    /// `triggers` holds the leftmost-longest matches of the message direction's side's triggers.
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink, triggers: &[Lexeme]) {
        let side = self.side(cx.msg.direction);
        let scan = cx.scan;
        let norm = scan.norm.as_str();
        for m in triggers {
            let start = m.range.start;
            if !scan.at_word_boundaries(m.range.clone()) {
                continue;
            }
            let window = norm
                .get(start..floor_boundary(norm, start.saturating_add(WINDOW)))
                .unwrap_or_default();
            let Some(list) = side.patterns.get(m.pattern) else {
                continue;
            };
            for &i in list {
                let Some(p) = side.compiled.get(i) else {
                    continue;
                };
                let Some(found) = p.regex.find(window) else {
                    continue;
                };
                if self.guarded(scan, p.guard, start) {
                    continue;
                }
                let mut end = start + found.end();
                while end > start && norm.as_bytes().get(end - 1) == Some(&b'?') {
                    end -= 1;
                }
                let said = scan.orig_text(start..end);
                let hit = if p.rule.id == REQUEST.id {
                    Hit::new(
                        p.rule,
                        scan.orig(start..end),
                        format!(
                            "\"{said}\" asks for individual medical advice, which a clinician should answer privately, \
                             not the social media team in public."
                        ),
                    )
                    .suggest(
                        "Route it to a clinician and reply only with a general pointer, e.g. \"Please ask your doctor or \
                         pharmacist, or call our nurse line at [number]; in an emergency call 911.\"",
                    )
                } else {
                    Hit::new(
                        p.rule,
                        scan.orig(start..end),
                        format!(
                            "\"{said}\" gives individual medical advice in a public post; without an examination this is a \
                             clinical and liability risk."
                        ),
                    )
                    .suggest("Point the reader to their own clinician instead, e.g. \"Please talk to your doctor or pharmacist about this.\"")
                };
                sink.hits.push(hit);
                break;
            }
        }
    }

    /// True when the context around a trigger at `start` defuses the pattern.
    fn guarded(&self, scan: &Scan<'_>, guard: Guard, start: usize) -> bool {
        if guard == Guard::None {
            return false;
        }
        let sentence = scan.sentence_at(start);
        let mut before = scan.words_before(start, 3, sentence.start);
        if matches!(guard, Guard::Addressed | Guard::Instruction)
            && (before.clone().any(|w| NARRATORS.contains(&w))
                || scan.norm.as_bytes().get(sentence.end) == Some(&b'?'))
        {
            return true;
        }
        if guard == Guard::Addressed {
            return false;
        }
        if guard == Guard::Instruction {
            if before.clone().take(2).any(|w| {
                matches!(
                    w,
                    "not" | "don't" | "never" | "doesn't" | "shouldn't" | "no" | "dont"
                )
            }) {
                return true;
            }
            let lead_ok = before.next().is_none_or(|w| IMPERATIVE_LEAD.contains(&w))
                || clause_start(&scan.norm, start);
            if !lead_ok {
                return true;
            }
        }
        // A referral usually sits in the same sentence or the one right after it.
        let next = scan.sentence_at(sentence.end.saturating_add(1).min(scan.norm.len()));
        let end = if next.start > sentence.end {
            next.end
        } else {
            sentence.end
        };
        scan.norm
            .get(sentence.start..end)
            .is_some_and(|s| self.deferral.is_match(s))
    }
}

/// True when only spaces separate `pos` from clause punctuation or the start of the text.
fn clause_start(norm: &str, pos: usize) -> bool {
    let head = norm.get(..pos).unwrap_or_default().trim_end();
    head.is_empty() || head.ends_with([',', ':', ';', '-', '(', '"', '.', '!', '?', '\n'])
}

/// The largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::policy::Product;

    fn hits(msg: Message) -> Vec<(&'static str, String)> {
        static DETECTOR: std::sync::OnceLock<Detector> = std::sync::OnceLock::new();
        let det = DETECTOR.get_or_init(|| {
            let policy = Policy {
                products: vec![Product {
                    name: "Zelvora".into(),
                    generic: "zelvumab".into(),
                    ..Product::default()
                }],
                ..Policy::default()
            };
            Detector::new(&policy).unwrap_or_else(|e| panic!("{e}"))
        });
        let scan = Scan::new(&msg.text);
        let mut sink = Sink::default();
        let triggers = super::super::lexemes(&det.side(msg.direction).triggers, &scan.norm);
        det.run(
            &Ctx {
                msg: &msg,
                scan: &scan,
            },
            &mut sink,
            &triggers,
        );
        sink.hits
            .iter()
            .map(|h| (h.rule.id, msg.text[h.span.start..h.span.end].to_owned()))
            .collect()
    }

    fn check(cases: &[(&str, &str)], make: fn(String) -> Message, rule: &str) {
        for (text, matched) in cases {
            let got = hits(make((*text).to_owned()));
            assert!(
                got.iter().any(|(r, m)| *r == rule && m == matched),
                "{text}: {got:?}"
            );
        }
    }

    #[test]
    fn requests_fire_on_incoming_questions() {
        check(
            &[
                (
                    "Should I stop taking it because of the rash?",
                    "Should I stop taking",
                ),
                (
                    "is it safe to take Zelvora with ibuprofen?",
                    "is it safe to take Zelvora",
                ),
                ("What dose is right for a 6 year old?", "What dose"),
                (
                    "Can I double my dose if I missed one",
                    "Can I double my dose",
                ),
                (
                    "Do I need to go to the ER for this",
                    "Do I need to go to the ER",
                ),
                ("how many mg can i give my son", "how many mg"),
                (
                    "Can I drink alcohol while on Zelvora?",
                    "Can I drink alcohol while on",
                ),
                (
                    "Does it interact with birth control?",
                    "interact with birth control",
                ),
                (
                    "Should my daughter see a doctor about this cough",
                    "Should my daughter see a doctor",
                ),
                ("What can I take for a headache?", "What can I take for"),
                (
                    "I missed my dose yesterday, should I take two today?",
                    "should I take two",
                ),
                (
                    "Can you take Zelvora if you're pregnant?",
                    "Can you take Zelvora",
                ),
                ("what's the max dose of tylenol per day", "max dose"),
                (
                    "Should I get the booster if I already had covid?",
                    "Should I get the booster",
                ),
                (
                    "Is it okay to take zyrtec while pregnant??",
                    "Is it okay to take zyrtec",
                ),
                (
                    "Is it safe to breastfeed after getting the covid vaccine?",
                    "Is it safe to breastfeed after",
                ),
            ],
            Message::incoming,
            "medical_advice.request",
        );
    }

    #[test]
    fn ordinary_questions_do_not_fire() {
        for text in [
            "Can I take the bus to the main campus?",
            "Should I bring my insurance card?",
            "Is it safe to visit during flu season?",
            "How many visitors can I bring?",
            "Can I park in the garage overnight?",
            "Should I call to book or use the app?",
            "Do I need to bring my ID?",
            "How long is the wait today?",
            "Can I have visitors after surgery?",
            "Can I take my mom to the cafeteria?",
            "Do I need to take my shoes off for the MRI?",
            "Can you stop by the front desk?",
        ] {
            let got = hits(Message::incoming(text));
            assert!(got.is_empty(), "{text}: {got:?}");
        }
    }

    #[test]
    fn advice_fires_on_outgoing_posts() {
        check(
            &[
                ("Just take 2 pills every 4 hours.", "take 2 pills"),
                ("Take 400mg of ibuprofen with food", "Take 400mg"),
                ("You can increase your dose to 20 mg.", "increase your dose"),
                ("Please stop taking it right away.", "stop taking it"),
                (
                    "You should start taking Zelvora daily.",
                    "You should start taking",
                ),
                (
                    "You don't need to see a doctor for this.",
                    "don't need to see a doctor",
                ),
                (
                    "No need for a doctor, it will pass.",
                    "No need for a doctor",
                ),
                (
                    "Sounds like you have a sinus infection.",
                    "Sounds like you have a sinus infection",
                ),
                (
                    "We recommend taking ibuprofen for the swelling.",
                    "We recommend taking ibuprofen",
                ),
                ("For pain, take 2 tablets every 6 hours.", "take 2 tablets"),
                (
                    "For a mild headache, take two ibuprofen and rest.",
                    "take two ibuprofen",
                ),
                (
                    "If it stops working, then increase your dose.",
                    "increase your dose",
                ),
                ("Try taking it with food.", "Try taking"),
            ],
            Message::outgoing,
            "medical_advice.given",
        );
    }

    #[test]
    fn referrals_and_warnings_do_not_fire() {
        for text in [
            "Talk to your doctor about whether to stop taking it.",
            "Please don't stop taking your medication without talking to your doctor.",
            "Do not take more than 8 tablets in 24 hours.",
            "Take your medication as prescribed.",
            "You should see a doctor if the pain continues.",
            "Stop by our booth and take a free tote bag!",
            "Take a moment to lower your stress today.",
            "We recommend getting your flu shot this month.",
            "Sounds like a great day at the 5K!",
            "You should take a break and hydrate.",
            "It is safe to take two steps at a time.",
            "Stop taking risks with your heart: get screened.",
            "I take 10mg per day and feel great.",
            "I had to stop taking it last year.",
            "We decided to come off it slowly.",
            "I don't need a doctor to tell me that.",
            "Don't need a doctor? Try our virtual urgent care!",
            "It is very hard to stop taking it.",
            "Should I up the dose or go off it?",
            "My doctor suggested I try taking it at night.",
        ] {
            let got = hits(Message::outgoing(text));
            assert!(got.is_empty(), "{text}: {got:?}");
        }
    }

    #[test]
    fn each_rule_only_in_its_direction() {
        assert!(
            hits(Message::outgoing(
                "What dose should I use? Is it safe to mix them?"
            ))
            .is_empty()
        );
        assert!(hits(Message::incoming("take 2 pills twice a day")).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}", cue in "(should i |take 2 |stop taking |is it safe to |you don't need to see )?", outgoing: bool) {
            let text = format!("{cue}{text}");
            let msg = if outgoing { Message::outgoing(text) } else { Message::incoming(text) };
            let _ = hits(msg);
        }
    }
}
