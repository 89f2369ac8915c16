//! The catalogue of every rule the engine knows, gathered from the detectors.

use crate::report::{Action, Category, Severity};

/// Static facts about one rule; detectors declare theirs in a `RULES` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    /// Stable identifier, `<category>.<name>`, used in policies, reports and docs.
    pub id: &'static str,
    /// The family it belongs to.
    pub category: Category,
    /// Default severity.
    pub severity: Severity,
    /// Default action on incoming messages; `None` when the rule does not look at them.
    pub incoming: Option<Action>,
    /// Default action on outgoing messages; `None` when the rule does not look at them.
    pub outgoing: Option<Action>,
    /// One line saying what the rule catches.
    pub summary: &'static str,
}

/// Every rule, grouped by detector.
pub fn all() -> impl Iterator<Item = &'static RuleInfo> {
    crate::detect::RULE_TABLES.iter().flat_map(|t| t.iter())
}

/// The rule with this id.
pub fn find(id: &str) -> Option<&'static RuleInfo> {
    all().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_prefixed_by_category() {
        let mut seen = std::collections::HashSet::new();
        for r in all() {
            assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
            assert!(
                r.id.starts_with(r.category.as_str()),
                "{} not under {}",
                r.id,
                r.category
            );
            assert!(
                r.incoming.is_some() || r.outgoing.is_some(),
                "{} applies nowhere",
                r.id
            );
        }
    }
}
