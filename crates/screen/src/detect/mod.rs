//! The detectors. Each module owns one family of rules: its `RULES` table, its compiled
//! lexicons and patterns (built once in `new`), and a `run` that appends hits for one message.

use crate::message::Message;
use crate::policy::Policy;
use crate::report::{AdverseEventCandidate, SafeHarbor, Span};
use crate::rules::RuleInfo;
use crate::text::Scan;
use crate::ScreenError;

pub(crate) mod abuse;
pub(crate) mod adverse;
pub(crate) mod advice;
pub(crate) mod confirm;
pub(crate) mod crisis;
pub(crate) mod links;
pub(crate) mod names;
pub(crate) mod names_model;
pub(crate) mod phi;
pub(crate) mod promotion;

/// Every detector's rule table, in the order the docs list them.
pub(crate) const RULE_TABLES: &[&[RuleInfo]] = &[
    phi::RULES,
    names::RULES,
    confirm::RULES,
    adverse::RULES,
    promotion::RULES,
    advice::RULES,
    crisis::RULES,
    abuse::RULES,
    links::RULES,
];

/// One rule firing, before the policy decides its final severity and action.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// The rule that fired.
    pub rule: &'static RuleInfo,
    /// Span in the original text.
    pub span: Span,
    /// One sentence: why this fired here.
    pub explanation: String,
    /// What to do instead, if there is something better than "remove it".
    pub suggestion: Option<String>,
    /// Safe Harbor category for PHI rules.
    pub phi: Option<SafeHarbor>,
    /// Severity levels to add to the rule's base (context made it worse).
    pub boost: u8,
}

impl Hit {
    /// A hit with no suggestion, no PHI category and no boost.
    pub fn new(rule: &'static RuleInfo, span: Span, explanation: impl Into<String>) -> Self {
        Hit { rule, span, explanation: explanation.into(), suggestion: None, phi: None, boost: 0 }
    }

    /// Attach a suggested fix.
    pub fn suggest(mut self, s: impl Into<String>) -> Self {
        self.suggestion = Some(s.into());
        self
    }

    /// Mark as a PHI identifier of this Safe Harbor category.
    pub fn phi(mut self, c: SafeHarbor) -> Self {
        self.phi = Some(c);
        self
    }

    /// Raise severity by `levels`.
    pub fn boost(mut self, levels: u8) -> Self {
        self.boost = self.boost.saturating_add(levels);
        self
    }
}

/// What detectors see of one message.
pub(crate) struct Ctx<'s, 'a> {
    /// The message.
    pub msg: &'a Message,
    /// Its normalized text and tokens.
    pub scan: &'s Scan<'a>,
}

/// Where detectors put what they find.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    /// Rule hits in any order.
    pub hits: Vec<Hit>,
    /// The message talks about health (a condition, procedure, ward, drug…): PHI in it is worse.
    pub health_context: bool,
    /// Set by the adverse-event detector.
    pub adverse_event: Option<AdverseEventCandidate>,
}

/// All detectors, compiled once from a policy.
pub(crate) struct Detectors {
    phi: phi::Detector,
    names: names::Detector,
    confirm: confirm::Detector,
    adverse: adverse::Detector,
    promotion: promotion::Detector,
    advice: advice::Detector,
    crisis: crisis::Detector,
    abuse: abuse::Detector,
    links: links::Detector,
}

impl Detectors {
    /// Compile every detector for `policy`.
    pub fn new(policy: &Policy) -> Result<Self, ScreenError> {
        Ok(Detectors {
            phi: phi::Detector::new(policy)?,
            names: names::Detector::new(policy)?,
            confirm: confirm::Detector::new(policy)?,
            adverse: adverse::Detector::new(policy)?,
            promotion: promotion::Detector::new(policy)?,
            advice: advice::Detector::new(policy)?,
            crisis: crisis::Detector::new(policy)?,
            abuse: abuse::Detector::new(policy)?,
            links: links::Detector::new(policy)?,
        })
    }

    /// Run every detector over one message.
    pub fn run(&self, cx: &Ctx<'_, '_>, sink: &mut Sink) {
        self.phi.run(cx, sink);
        self.names.run(cx, sink);
        self.confirm.run(cx, sink);
        self.adverse.run(cx, sink);
        self.promotion.run(cx, sink);
        self.advice.run(cx, sink);
        self.crisis.run(cx, sink);
        self.abuse.run(cx, sink);
        self.links.run(cx, sink);
    }
}
