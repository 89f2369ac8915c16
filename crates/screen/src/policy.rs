//! The organization's screening policy, read from TOML.
//!
//! A policy switches rules on and off, changes their severity and action, and tells the engine
//! about the organization: its own domains (for look-alike link checks), its products with their
//! approved indications (for off-label and fair-balance checks), and its blocked and allowed terms.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::report::{Action, Category, Severity};
use crate::rules::{self, RuleInfo};

/// Why a policy could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The TOML did not parse or did not match the policy schema.
    #[error("invalid policy: {0}")]
    Toml(#[from] toml::de::Error),
    /// A key names a rule or category that does not exist.
    #[error(
        "invalid policy at line {line}: unknown {what} `{key}` (run `rounds rules` for the list)"
    )]
    Unknown {
        /// "rule" or "category".
        what: &'static str,
        /// The key as written.
        key: String,
        /// 1-based line of the key in the source, 0 when unknown.
        line: usize,
    },
    /// A value is out of range or contradicts another.
    #[error("invalid policy at line {line}: `{key}`: {message}")]
    Invalid {
        /// The key as written.
        key: String,
        /// What is wrong.
        message: String,
        /// 1-based line of the key in the source, 0 when unknown.
        line: usize,
    },
    /// The policy asks for a language whose lexicons are not built in.
    #[error("language `{0}` is not supported yet (supported: en)")]
    Language(String),
}

/// What kind of organization the policy is for; decides the defaults of a few rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// A hospital or health system.
    #[default]
    Hospital,
    /// A drug, device or biotech company.
    Pharma,
}

/// Facts about the organization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Organization {
    /// Display name.
    pub name: String,
    /// Hospital or pharma.
    pub kind: OrgKind,
    /// The organization's own domains, e.g. `examplehealth.org`; look-alikes of these are flagged.
    pub domains: Vec<String>,
    /// The phone and fax numbers the organization publishes (main line, appointments, press); a
    /// post giving one is not holding a person's number. Compared by their digits.
    pub phones: Vec<String>,
    /// The organization's own campuses, buildings, wings and clinics ("Lakeside Campus", "Harbor
    /// Pavilion"): their words are never reported as a person's name or a place, as the
    /// organization's name is not.
    pub sites: Vec<String>,
}

/// A medicinal product the organization promotes or is responsible for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Product {
    /// Brand name, e.g. `Cardiolex`.
    pub name: String,
    /// Generic (established) name, e.g. `examplimab`.
    pub generic: String,
    /// Approved indications in plain words, e.g. `atrial fibrillation`.
    pub indications: Vec<String>,
    /// Where the full prescribing and risk information lives.
    pub risk_info_url: Option<String>,
    /// Other spellings people use for the product.
    pub aliases: Vec<String>,
}

/// Override of one rule's behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSetting {
    /// Turn the rule off (or back on).
    pub enabled: Option<bool>,
    /// Replace the rule's default severity.
    pub severity: Option<Severity>,
    /// Replace the rule's default action (both directions).
    pub action: Option<Action>,
}

/// Terms the organization wants flagged or never flagged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Terms {
    /// Words or phrases that always produce a finding (e.g. a competitor's slur, an internal codename).
    pub blocked: Vec<String>,
    /// Words or phrases that never produce a finding (e.g. the hospital's own name, a doctor on staff).
    pub allowed: Vec<String>,
}

/// Link settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Links {
    /// Domains that are always flagged.
    pub blocked_domains: Vec<String>,
    /// Domains that are never flagged (besides the organization's own).
    pub allowed_domains: Vec<String>,
}

/// A complete screening policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Language of the lexicons to use; `en` today.
    pub language: String,
    /// The organization.
    pub organization: Organization,
    /// Per-category switches, keyed by category name (`phi`, `crisis`, …).
    pub categories: BTreeMap<String, RuleSetting>,
    /// Per-rule settings, keyed by rule id (`phi.phone`, …).
    pub rules: BTreeMap<String, RuleSetting>,
    /// The organization's products.
    pub products: Vec<Product>,
    /// Blocked and allowed terms.
    pub terms: Terms,
    /// Link settings.
    pub links: Links,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            language: "en".to_owned(),
            organization: Organization::default(),
            categories: BTreeMap::new(),
            rules: BTreeMap::new(),
            products: Vec::new(),
            terms: Terms::default(),
            links: Links::default(),
        }
    }
}

fn line_of(source: &str, key: &str) -> usize {
    source
        .lines()
        .position(|l| l.contains(key))
        .map_or(0, |i| i + 1)
}

impl Policy {
    /// Parse and validate a policy from TOML text.
    pub fn from_toml(source: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = toml::from_str(source)?;
        policy.validate(source)?;
        Ok(policy)
    }

    /// Check rule and category names and values; `source` is used to report line numbers.
    pub fn validate(&self, source: &str) -> Result<(), PolicyError> {
        if self.language != "en" {
            return Err(PolicyError::Language(self.language.clone()));
        }
        for key in self.categories.keys() {
            if category_by_name(key).is_none() {
                return Err(PolicyError::Unknown {
                    what: "category",
                    key: key.clone(),
                    line: line_of(source, key),
                });
            }
        }
        for key in self.rules.keys() {
            if rules::find(key).is_none() {
                return Err(PolicyError::Unknown {
                    what: "rule",
                    key: key.clone(),
                    line: line_of(source, key),
                });
            }
        }
        for (i, phone) in self.organization.phones.iter().enumerate() {
            if !(7..=15).contains(&phone_digits(phone).len()) {
                return Err(PolicyError::Invalid {
                    key: format!("organization.phones[{i}]"),
                    message: format!("{phone:?} is not a phone number (7 to 15 digits)"),
                    line: line_of(source, "phones"),
                });
            }
        }
        for (i, p) in self.products.iter().enumerate() {
            if p.name.trim().is_empty() {
                return Err(PolicyError::Invalid {
                    key: format!("products[{i}].name"),
                    message: "a product needs a name".to_owned(),
                    line: line_of(source, "[[products]]"),
                });
            }
        }
        Ok(())
    }

    /// The effective setting of a rule: enabled, severity, and action for each direction.
    pub fn effective(&self, rule: &RuleInfo) -> Effective {
        let cat = self.categories.get(rule.category.as_str());
        let own = self.rules.get(rule.id);
        let enabled = own
            .and_then(|s| s.enabled)
            .or_else(|| cat.and_then(|s| s.enabled))
            .unwrap_or(true);
        let severity = own
            .and_then(|s| s.severity)
            .or_else(|| cat.and_then(|s| s.severity))
            .unwrap_or(rule.severity);
        let forced = own
            .and_then(|s| s.action)
            .or_else(|| cat.and_then(|s| s.action));
        Effective {
            enabled,
            severity,
            incoming: rule.incoming.map(|a| forced.unwrap_or(a)),
            outgoing: rule.outgoing.map(|a| forced.unwrap_or(a)),
            default_actions: forced.is_none(),
        }
    }
}

/// A rule's behaviour once the policy is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effective {
    /// The rule runs.
    pub enabled: bool,
    /// Base severity before context raises it.
    pub severity: Severity,
    /// Action on incoming messages; `None` when the rule does not apply to them.
    pub incoming: Option<Action>,
    /// Action on outgoing messages; `None` when the rule does not apply to them.
    pub outgoing: Option<Action>,
    /// The policy sets no action for the rule, so its defaults stand, and a name or a place may
    /// move them by what it says of a patient (staff flagged, a town held in context; see
    /// `docs/rules.md`, "Names and places"); an action the policy sets applies to every hit.
    pub default_actions: bool,
}

/// The digits of a phone number as dialled in its own country: a US or Canadian number loses its
/// leading country code 1, so "+1 (555) 201-0000" and "555.201.0000" compare equal.
pub fn phone_digits(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix('1') {
        Some(rest) if rest.len() == 10 => rest.to_owned(),
        _ => digits,
    }
}

/// The category with this snake_case name.
pub fn category_by_name(name: &str) -> Option<Category> {
    [
        Category::Phi,
        Category::PatientConfirmation,
        Category::AdverseEvent,
        Category::Promotion,
        Category::MedicalAdvice,
        Category::Crisis,
        Category::Abuse,
        Category::Spam,
        Category::Link,
    ]
    .into_iter()
    .find(|c| c.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_rule_names_key_and_line() {
        let src = "language = \"en\"\n\n[rules.\"phi.nope\"]\nenabled = false\n";
        let err = Policy::from_toml(src).unwrap_err().to_string();
        assert!(err.contains("phi.nope"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn unknown_field_is_rejected_with_line() {
        let err = Policy::from_toml("[organization]\nnmae = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nmae"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn spanish_is_not_built_in_yet() {
        assert!(matches!(
            Policy::from_toml("language = \"es\""),
            Err(PolicyError::Language(_))
        ));
    }
}
