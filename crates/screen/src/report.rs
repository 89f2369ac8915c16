//! The output of the engine: findings, a decision and structured extractions.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The family a rule belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Protected health information (HIPAA Safe Harbor identifiers).
    Phi,
    /// A reply that confirms someone is or was a patient.
    PatientConfirmation,
    /// A possible adverse event report about a medicinal product.
    AdverseEvent,
    /// Promotional claims that break FDA rules (fair balance, off-label, disclosure).
    Promotion,
    /// Medical advice asked for or given.
    MedicalAdvice,
    /// Suicidal ideation, self-harm, threats or a medical emergency.
    Crisis,
    /// Profanity, harassment and hate.
    Abuse,
    /// Spam and scams.
    Spam,
    /// Dangerous or suspicious links.
    Link,
}

impl Category {
    /// The snake_case name used in JSON and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Phi => "phi",
            Category::PatientConfirmation => "patient_confirmation",
            Category::AdverseEvent => "adverse_event",
            Category::Promotion => "promotion",
            Category::MedicalAdvice => "medical_advice",
            Category::Crisis => "crisis",
            Category::Abuse => "abuse",
            Category::Spam => "spam",
            Category::Link => "link",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a finding is; ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, no action needed.
    Info,
    /// Minor; a reviewer may want to look.
    Low,
    /// Should be reviewed before it goes further.
    Medium,
    /// Must be dealt with before publishing.
    High,
    /// Needs action now (patient data in clinical context, crisis).
    Critical,
}

impl Severity {
    /// All severities, least first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The snake_case name used in JSON and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// This severity raised by `levels`, capped at critical.
    pub fn raised(self, levels: u8) -> Severity {
        let idx = Severity::ALL.iter().position(|s| *s == self).unwrap_or(0);
        Severity::ALL[(idx + levels as usize).min(Severity::ALL.len() - 1)]
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding asks the platform to do; ordered from mildest to strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Record the finding only.
    Flag,
    /// Hold the message for a human reviewer.
    Review,
    /// Hide an incoming comment from the public until reviewed.
    Hide,
    /// Refuse to publish an outgoing message as written.
    Block,
    /// Alert the on-call people at once (crisis, adverse event with a deadline).
    Escalate,
}

impl Action {
    /// The snake_case name used in JSON and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Flag => "flag",
            Action::Review => "review",
            Action::Hide => "hide",
            Action::Block => "block",
            Action::Escalate => "escalate",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The overall verdict on a message: the strongest action among its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Nothing stops the message.
    Allow,
    /// A person must review it first.
    HoldForReview,
    /// Hide it (incoming) until reviewed.
    Hide,
    /// It must not be published as written.
    Block,
    /// Someone must act now.
    Escalate,
}

impl Decision {
    /// The decision a single action leads to.
    pub fn from_action(action: Action) -> Decision {
        match action {
            Action::Flag => Decision::Allow,
            Action::Review => Decision::HoldForReview,
            Action::Hide => Decision::Hide,
            Action::Block => Decision::Block,
            Action::Escalate => Decision::Escalate,
        }
    }

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::HoldForReview => "hold_for_review",
            Decision::Hide => "hide",
            Decision::Block => "block",
            Decision::Escalate => "escalate",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A half-open byte range `[start, end)` into the original message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    /// First byte of the match.
    pub start: usize,
    /// One past the last byte of the match.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True for an empty span.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// True when the two spans share at least one byte.
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// The eighteen HIPAA Safe Harbor identifier categories, 45 CFR 164.514(b)(2)(i)(A)–(R).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SafeHarbor {
    /// (A) Names.
    A,
    /// (B) Geographic subdivisions smaller than a state, including street address, city, ZIP.
    B,
    /// (C) Dates (except year) directly related to an individual, and ages over 89.
    C,
    /// (D) Telephone numbers.
    D,
    /// (E) Fax numbers.
    E,
    /// (F) Email addresses.
    F,
    /// (G) Social Security numbers.
    G,
    /// (H) Medical record numbers.
    H,
    /// (I) Health plan beneficiary numbers.
    I,
    /// (J) Account numbers.
    J,
    /// (K) Certificate or licence numbers.
    K,
    /// (L) Vehicle identifiers and serial numbers, including licence plates.
    L,
    /// (M) Device identifiers and serial numbers.
    M,
    /// (N) Web URLs.
    N,
    /// (O) IP addresses.
    O,
    /// (P) Biometric identifiers.
    P,
    /// (Q) Full-face photographs and comparable images.
    Q,
    /// (R) Any other unique identifying number, characteristic or code.
    R,
}

impl SafeHarbor {
    /// A short label used for redaction, e.g. `NAME`.
    pub fn label(self) -> &'static str {
        match self {
            SafeHarbor::A => "NAME",
            SafeHarbor::B => "LOCATION",
            SafeHarbor::C => "DATE",
            SafeHarbor::D => "PHONE",
            SafeHarbor::E => "FAX",
            SafeHarbor::F => "EMAIL",
            SafeHarbor::G => "SSN",
            SafeHarbor::H => "MRN",
            SafeHarbor::I => "HEALTH_PLAN_ID",
            SafeHarbor::J => "ACCOUNT",
            SafeHarbor::K => "LICENSE",
            SafeHarbor::L => "VEHICLE_ID",
            SafeHarbor::M => "DEVICE_ID",
            SafeHarbor::N => "URL",
            SafeHarbor::O => "IP_ADDRESS",
            SafeHarbor::P => "BIOMETRIC",
            SafeHarbor::Q => "PHOTO",
            SafeHarbor::R => "ID",
        }
    }

    /// The regulation's wording for the category.
    pub fn description(self) -> &'static str {
        match self {
            SafeHarbor::A => "names",
            SafeHarbor::B => "geographic subdivisions smaller than a state",
            SafeHarbor::C => "dates related to an individual, and ages over 89",
            SafeHarbor::D => "telephone numbers",
            SafeHarbor::E => "fax numbers",
            SafeHarbor::F => "email addresses",
            SafeHarbor::G => "Social Security numbers",
            SafeHarbor::H => "medical record numbers",
            SafeHarbor::I => "health plan beneficiary numbers",
            SafeHarbor::J => "account numbers",
            SafeHarbor::K => "certificate or licence numbers",
            SafeHarbor::L => "vehicle identifiers and licence plates",
            SafeHarbor::M => "device identifiers and serial numbers",
            SafeHarbor::N => "web URLs",
            SafeHarbor::O => "IP addresses",
            SafeHarbor::P => "biometric identifiers",
            SafeHarbor::Q => "full-face photographs and comparable images",
            SafeHarbor::R => "other unique identifying numbers or codes",
        }
    }
}

/// One rule that fired on one stretch of text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule identifier, e.g. `phi.phone` (borrowed from the rule catalogue, so a finding
    /// costs no allocation for it).
    pub rule_id: Cow<'static, str>,
    /// The family the rule belongs to.
    pub category: Category,
    /// How serious this occurrence is (context may raise the rule's default).
    pub severity: Severity,
    /// What the policy says to do about it.
    pub action: Action,
    /// Byte span in the original text.
    pub span: Span,
    /// The original text under the span.
    pub matched: String,
    /// One sentence saying why this fired (fixed text is borrowed rather than copied).
    pub explanation: Cow<'static, str>,
    /// What the author could do instead (most are fixed text, borrowed rather than copied).
    pub suggestion: Option<Cow<'static, str>>,
    /// For PHI findings, the Safe Harbor category.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phi_category: Option<SafeHarbor>,
    /// Which part of the message the span indexes: the text or the image alt text.
    #[serde(default, skip_serializing_if = "Field::is_text")]
    pub field: Field,
}

/// The part of a message a finding was made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The message text.
    #[default]
    Text,
    /// The alt text of an attached image.
    AltText,
}

impl Field {
    /// True for the message text.
    pub fn is_text(&self) -> bool {
        *self == Field::Text
    }
}

/// A PHI identifier pulled out of the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhiEntity {
    /// Safe Harbor category (A–R).
    pub category: SafeHarbor,
    /// Byte span in the original text.
    pub span: Span,
    /// The identifier as written.
    pub text: String,
    /// True when health context (condition, procedure, ward…) is present in the same message.
    pub health_context: bool,
}

/// Whether one of the four reportable elements of an adverse event was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Element {
    /// The element is present.
    pub found: bool,
    /// Where it was found, if it was.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub span: Option<Span>,
    /// The text that showed it (e.g. "my mother", "Xarelto").
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub text: Option<String>,
}

impl Element {
    /// An element that was not found.
    pub fn missing() -> Self {
        Element {
            found: false,
            span: None,
            text: None,
        }
    }
}

/// An adverse-event candidate: the four elements FDA requires for a valid report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdverseEventCandidate {
    /// Someone who experienced the event can be identified (I, my mother, a named person).
    pub patient: Element,
    /// The person reporting can be contacted (the account that wrote the message).
    pub reporter: Element,
    /// The suspect medicinal product.
    pub product: Element,
    /// The adverse event itself.
    pub event: Element,
    /// All four elements are present, so the report is valid and the reporting clock runs.
    pub reportable: bool,
}

/// The full result of screening one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The strongest action among the findings.
    pub decision: Decision,
    /// Every rule that fired, ordered by span start.
    pub findings: Vec<Finding>,
    /// PHI identifiers, in text order.
    pub phi: Vec<PhiEntity>,
    /// The adverse-event candidate, if the message looks like one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub adverse_event: Option<AdverseEventCandidate>,
}

impl Report {
    /// The highest severity among the findings, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    /// The text with every PHI identifier replaced by its category label, e.g. `[PHONE]`.
    pub fn redact(&self, text: &str) -> String {
        let mut spans: Vec<(Span, &'static str)> = self
            .phi
            .iter()
            .map(|p| (p.span, p.category.label()))
            .collect();
        spans.sort_by_key(|(s, _)| (s.start, std::cmp::Reverse(s.end)));
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        for (span, label) in spans {
            if span.start < pos {
                // Overlaps the previous identifier: extend its redaction instead of leaking the tail.
                pos = pos.max(span.end.min(text.len()));
                continue;
            }
            if span.end > text.len() {
                continue;
            }
            out.push_str(text.get(pos..span.start).unwrap_or_default());
            out.push('[');
            out.push_str(label);
            out.push(']');
            pos = span.end;
        }
        out.push_str(text.get(pos..).unwrap_or_default());
        out
    }
}
