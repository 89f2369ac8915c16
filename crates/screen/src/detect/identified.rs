//! Identified patient: a person's name, a second identifier and health information in one message.
//!
//! Each of these alone is often harmless in a hospital's post (staff names, the main phone line,
//! a health topic), which is why the single-identifier rules mostly hold for review. Together they
//! single out a patient and say something about their care, the case HIPAA's Privacy Rule exists
//! for, so the combination is a rule of its own whose default stops an outgoing post. A name after
//! a clinician's or a job's title or with a credential ("Dr. Jane Smith", "Jane Smith, RN", "Nurse
//! Manager Tamika Brooks") is staff, not a patient, and does not count; an office holder does.

use crate::report::{Action, Category, SafeHarbor, Severity};
use crate::rules::RuleInfo;

use super::names::{Role, is_credential_word, role};
use super::{Hit, Sink};

/// The identified-patient rule.
pub(crate) const RULES: &[RuleInfo] = &[RuleInfo {
    id: "phi.identified_patient",
    category: Category::Phi,
    severity: Severity::Critical,
    incoming: Some(Action::Hide),
    outgoing: Some(Action::Block),
    summary: "A person's name with a second identifier (phone, address, date, record number…) and health information: an identifiable patient.",
}];

const IDENTIFIED: &RuleInfo = &RULES[0];

/// Add one hit on the first patient name when the other PHI hits and the health context make
/// the person identifiable; runs after every other detector.
#[inline]
pub(crate) fn run(text: &str, sink: &mut Sink) {
    if sink.health_context {
        identify(text, sink);
    }
}

/// [`run`] on a message with health context. Out of line: most messages have none, and with
/// the name and credential tests inlined its frame cost them about 12 instructions each.
#[inline(never)]
fn identify(text: &str, sink: &mut Sink) {
    let mut other: Option<SafeHarbor> = None;
    let mut name = None;
    for hit in &sink.hits {
        match hit.phi {
            Some(SafeHarbor::A)
                if name.is_none()
                    && role(text, hit.span) != Some(Role::Staff)
                    && !is_credential_word(
                        text.get(hit.span.start..hit.span.end).unwrap_or(""),
                    ) =>
            {
                name = Some(hit.span);
            }
            Some(SafeHarbor::A) | None => {}
            Some(c) => other = other.or(Some(c)),
        }
    }
    let (Some(span), Some(category)) = (name, other) else {
        return;
    };
    let explanation = format!(
        "This person's name appears with {} and health information in the same message: together they identify a patient and their care, which HIPAA does not allow to be published without the patient's written authorization.",
        describe(category)
    );
    sink.push(
        Hit::new(IDENTIFIED, span, explanation)
            .suggest("Remove the name or the other identifiers; if this is a staff member, or the patient signed an authorization, a manager can override with that reason."),
    );
}

/// The second identifier in words, for the explanation.
fn describe(c: SafeHarbor) -> &'static str {
    match c {
        SafeHarbor::B => "a location",
        SafeHarbor::C => "a date or age tied to them",
        SafeHarbor::D => "a phone number",
        SafeHarbor::E => "a fax number",
        SafeHarbor::F => "an email address",
        SafeHarbor::G => "a Social Security number",
        SafeHarbor::H => "a medical record number",
        SafeHarbor::I => "a health plan number",
        SafeHarbor::J => "an account number",
        SafeHarbor::K => "a licence number",
        SafeHarbor::L => "a vehicle identifier",
        SafeHarbor::M => "a device identifier",
        SafeHarbor::N => "a web address",
        SafeHarbor::O => "an IP address",
        SafeHarbor::P => "a biometric identifier",
        SafeHarbor::Q => "a photograph",
        SafeHarbor::A | SafeHarbor::R => "another identifier",
    }
}

#[cfg(test)]
mod tests {
    use crate::{Message, Policy, Screener};

    fn rules(text: &str) -> Vec<String> {
        let screener = Screener::new(Policy::default()).unwrap();
        let report = screener.screen(&Message::outgoing(text)).unwrap();
        report
            .findings
            .iter()
            .map(|f| format!("{} {}", f.rule_id, f.matched))
            .collect()
    }

    #[test]
    fn a_named_patient_with_a_phone_number_and_their_surgery_is_blocked() {
        let text = "Great to see Maria Lopez back on her feet after her knee surgery! Call her at 555-201-3344 to say hi.";
        let screener = Screener::new(Policy::default()).unwrap();
        let report = screener.screen(&Message::outgoing(text)).unwrap();
        let f = report
            .findings
            .iter()
            .find(|f| f.rule_id == "phi.identified_patient")
            .expect("fires");
        assert_eq!(f.matched, "Maria Lopez");
        assert!(
            f.explanation.contains("a phone number"),
            "{}",
            f.explanation
        );
        assert_eq!(report.decision, crate::Decision::Block);
        assert_eq!(
            report
                .phi
                .iter()
                .filter(|p| p.text == "Maria Lopez")
                .count(),
            1,
            "one PHI entity per name"
        );
    }

    #[test]
    fn a_surname_written_like_a_credential_is_still_a_patient() {
        // "Do" and "Ma" are credentials only written as one ("DO", "MA").
        for (text, name) in [
            (
                "Prayers for Anh Do after her knee surgery! Call her at 555-201-3344 to say hi.",
                "Anh Do",
            ),
            (
                "Get well soon Wei Ma, recovering from a hip fracture. Cards to 555-201-3344.",
                "Wei Ma",
            ),
        ] {
            let found = rules(text);
            assert!(
                found.contains(&format!("phi.identified_patient {name}")),
                "{text}: {found:?}"
            );
        }
    }

    #[test]
    fn staff_names_health_topics_alone_and_names_without_health_stay_quiet() {
        for text in [
            "Meet Dr. Jane Smith, our new cardiologist. Book a visit at 555-201-3344.",
            "Jane Smith, RN, leads our diabetes class. Call 555-201-3344 to sign up.",
            // Any credential the names rules know marks a clinician, not only the common ones.
            "Jane Smith, FNP, leads our diabetes class. Call 555-201-3344 to sign up.",
            "Omar Haddad, PharmD, answers questions on your diabetes medicines at 555-201-3344.",
            // A credential with a hyphenated suffix: the name's last word is "PA-C", not "C".
            "Tomas Lee, PA-C, sees diabetes patients on Tuesdays. Call 555-201-3344 to book.",
            "Ana Ruiz, FNP-BC, runs our diabetes clinic. Call 555-201-3344 to book.",
            // Other credentials: a chain of them, a certification after a licence, no comma.
            "Li Wei, MD, PhD, answers your diabetes questions at 555-201-3344.",
            "Priya Nair, DNP, APRN-BC, runs our asthma clinic. Call 555-201-3344 to book.",
            "Sam Ortiz CRNA explains anesthesia before your surgery: 555-201-3344.",
            "Flu shots for everyone on Saturday: call 555-201-3344.",
            "Congratulations to Maria Lopez on winning the 5K! Call 555-201-3344 for next year's race.",
        ] {
            let found = rules(text);
            assert!(
                !found
                    .iter()
                    .any(|r| r.starts_with("phi.identified_patient")),
                "{text}: {found:?}"
            );
        }
    }
}
