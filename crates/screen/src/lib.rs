//! The Rounds screening engine.
//!
//! A [`Screener`] is compiled once from a [`Policy`] and then screens one [`Message`] at a time,
//! returning a [`Report`]: findings with byte spans into the original text and an explanation each,
//! an overall [`Decision`], PHI entities with their HIPAA Safe Harbor category, and an adverse-event
//! candidate with its four reportable elements.
//!
//! The engine does no I/O and never panics: lexicons are compiled into the binary, and every input
//! is valid (texts over [`MAX_MESSAGE_BYTES`] are refused with an error instead of screened slowly).

mod bits;
mod detect;
mod message;
pub mod model;
mod policy;
mod report;
pub mod rules;
mod text;

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use detect::names::Role;
use detect::{Ctx, Detectors, Exposure, Hit, Sink};

/// Training support for the name model (features, weight encoding); used by `rounds-eval`.
pub use detect::names_model::training as name_model;
pub use message::{Attachments, Direction, Message};
pub use policy::{
    Effective, Links, OrgKind, Organization, Policy, PolicyError, Product, RuleSetting, Terms,
    category_by_name,
};
pub use report::{
    Action, AdverseEventCandidate, Category, Decision, Element, Field, Finding, PhiEntity, Report,
    SafeHarbor, Severity, Span,
};
pub use rules::RuleInfo;

/// The largest message the engine screens, in bytes (1 MiB).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Why the engine could not be built or could not screen a message.
#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    /// The policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A pattern or lexicon built from the policy could not be compiled.
    #[error("could not compile {what}: {message}")]
    Compile {
        /// Which part of the policy or lexicon.
        what: String,
        /// The underlying error.
        message: String,
    },
    /// The message is larger than [`MAX_MESSAGE_BYTES`].
    #[error("message is {len} bytes; the limit is {max} bytes (1 MiB): split it before screening")]
    TooLarge {
        /// Size of the message in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// A compiled screening engine. Cheap to share between threads.
pub struct Screener {
    policy: Policy,
    detectors: Detectors,
    effective: HashMap<&'static str, Effective, BuildHasherDefault<IdHasher>>,
    allowed: Vec<String>,
}

impl Screener {
    /// Compile an engine for `policy`.
    pub fn new(policy: Policy) -> Result<Self, ScreenError> {
        policy.validate("")?;
        let detectors = Detectors::new(&policy)?;
        text::prepare();
        let effective = rules::all().map(|r| (r.id, policy.effective(r))).collect();
        let allowed = policy
            .terms
            .allowed
            .iter()
            .map(|t| t.trim().to_lowercase())
            .filter(|t| !t.is_empty())
            .collect();
        Ok(Screener {
            policy,
            detectors,
            effective,
            allowed,
        })
    }

    /// The policy this engine was compiled from.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Screen one message.
    pub fn screen(&self, msg: &Message) -> Result<Report, ScreenError> {
        let alt_len = msg.attachments.alt_text.as_ref().map_or(0, String::len);
        let len = msg.text.len() + alt_len;
        if len > MAX_MESSAGE_BYTES {
            return Err(ScreenError::TooLarge {
                len,
                max: MAX_MESSAGE_BYTES,
            });
        }
        // Filled in place: the report is large (its adverse-event candidate is four elements of
        // text), and a field's findings and candidate are written straight into it.
        let mut report = Report {
            decision: Decision::Allow,
            findings: Vec::new(),
            phi: Vec::new(),
            adverse_event: None,
        };
        self.screen_field(
            msg,
            &msg.text,
            Field::Text,
            &mut report.findings,
            &mut report.phi,
            &mut report.adverse_event,
        );
        if let Some(alt) = msg.attachments.alt_text.as_deref() {
            let mut alt_msg_phi = Vec::new();
            let mut alt_ae = None;
            self.screen_field(
                msg,
                alt,
                Field::AltText,
                &mut report.findings,
                &mut alt_msg_phi,
                &mut alt_ae,
            );
            if report.adverse_event.is_none() {
                report.adverse_event = alt_ae;
            }
        }
        report.decision = report
            .findings
            .iter()
            .map(|f| Decision::from_action(f.action))
            .max()
            .unwrap_or(Decision::Allow);
        Ok(report)
    }

    fn screen_field(
        &self,
        msg: &Message,
        text: &str,
        field: Field,
        findings: &mut Vec<Finding>,
        phi: &mut Vec<PhiEntity>,
        adverse_event: &mut Option<AdverseEventCandidate>,
    ) {
        let scan = text::Scan::new(text);
        let cx = Ctx { msg, scan: &scan };
        let Lists {
            hits,
            order: mut admitted,
        } = LISTS.with(Cell::take);
        let mut sink = Sink {
            hits,
            ..Sink::default()
        };
        self.detectors.run(&cx, &mut sink);
        scan.recycle();
        let mut hits = std::mem::take(&mut sink.hits);
        if !hits.is_empty() {
            // The admitted hits with what the policy makes of them, in hit order (see
            // `hit_order`); hits are dropped from the list in place, so that a message costs
            // one list.
            hit_order(&hits, &mut admitted);
            // Hits come sorted by start, so a hit overlaps an earlier one of its rule exactly
            // when it starts before the furthest end seen for that rule; there are few rules,
            // many hits.
            let mut rule_ends = RuleEnds::default();
            let dedup = hits.len() > 1;
            // What the policy makes of each kept hit, in hit order: PHI entities are chosen in
            // this order (the longest at a start first).
            let mut has_ae = false;
            let mut phi_end = phi.iter().map(|p| p.span.end).max().unwrap_or(0);
            let mut kept = 0;
            let mut has_person = None;
            for next in 0..admitted.len() {
                let Some(&(i, ..)) = admitted.get(next) else {
                    break;
                };
                let Some(hit) = hits.get(i as usize) else {
                    continue;
                };
                if hit.span.end > text.len()
                    || hit.span.is_empty()
                    || !text.is_char_boundary(hit.span.start)
                    || !text.is_char_boundary(hit.span.end)
                {
                    continue;
                }
                if dedup && rule_ends.overlaps(hit.rule.id, hit.span.start, hit.span.end) {
                    continue;
                }
                let Some(eff) = self.effective.get(hit.rule.id) else {
                    continue;
                };
                if !eff.enabled {
                    continue;
                }
                let (Some(act), outgoing) = (match msg.direction {
                    Direction::Incoming => (eff.incoming, false),
                    Direction::Outgoing => (eff.outgoing, true),
                }) else {
                    continue;
                };
                // A post is held for a name that may be a patient's, not for staff, an office
                // holder or a venue: holding every one of those buries the posts that matter.
                let act = match hit.exposure {
                    _ if !outgoing || !eff.default_actions => act,
                    Exposure::Rule => act,
                    Exposure::Low if act == Action::Review => Action::Flag,
                    Exposure::Person if act == Action::Review => {
                        match detect::names::role(text, hit.span) {
                            Some(Role::Staff) => Action::Flag,
                            Some(Role::Office) if !sink.health_context => Action::Flag,
                            _ => act,
                        }
                    }
                    Exposure::InContext
                        if act == Action::Flag
                            && (sink.health_context
                                || hit.boost > 0
                                || *has_person.get_or_insert_with(|| {
                                    hits.iter().any(|h| h.phi == Some(SafeHarbor::A))
                                })) =>
                    {
                        Action::Review
                    }
                    Exposure::Low | Exposure::Person | Exposure::InContext => act,
                };
                let matched = &text[hit.span.start..hit.span.end];
                if !self.allowed.is_empty()
                    && self
                        .allowed
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(matched.trim()))
                {
                    continue;
                }
                let context_boost = u8::from(hit.phi.is_some() && sink.health_context);
                let severity = eff.severity.raised(hit.boost.saturating_add(context_boost));
                if let Some(category) = hit.phi
                    && field == Field::Text
                    && hit.span.start >= phi_end
                {
                    phi_end = hit.span.end;
                    phi.push(PhiEntity {
                        category,
                        span: hit.span,
                        text: matched.to_owned(),
                        health_context: sink.health_context,
                    });
                }
                has_ae |= hit.rule.category == Category::AdverseEvent;
                if let Some(slot) = admitted.get_mut(kept) {
                    *slot = (i, act, severity);
                }
                kept += 1;
            }
            admitted.truncate(kept);
            shortest_first(&mut admitted, &hits);
            findings.reserve(admitted.len());
            for &(i, action, severity) in &admitted {
                let Some(hit) = hits.get_mut(i as usize) else {
                    continue;
                };
                findings.push(Finding {
                    rule_id: Cow::Borrowed(hit.rule.id),
                    category: hit.rule.category,
                    severity,
                    action,
                    span: hit.span,
                    matched: text[hit.span.start..hit.span.end].to_owned(),
                    explanation: std::mem::take(&mut hit.explanation),
                    suggestion: hit.suggestion.take(),
                    phi_category: hit.phi,
                    field,
                });
            }
            phi.sort_by_key(|p| p.span.start);
            if has_ae {
                *adverse_event = sink.adverse_event;
            }
        }
        hits.clear();
        admitted.clear();
        if hits.capacity() <= SPARE_HITS && admitted.capacity() <= SPARE_HITS {
            LISTS.with(|lists| {
                lists.set(Lists {
                    hits,
                    order: admitted,
                });
            });
        }
    }
}

/// The lists a field's hits are gathered and ordered in, kept from one field to the next on a
/// thread: a message with a hit would otherwise pay a malloc and a free for each.
#[derive(Default)]
struct Lists {
    /// The detectors' hits.
    hits: Vec<Hit>,
    /// The admitted hits' order, actions and severities (see [`hit_order`]).
    order: Vec<(u32, Action, Severity)>,
}

/// The largest [`Lists`] capacity kept: a long paste's many hits must not pin their memory.
const SPARE_HITS: usize = 64;

thread_local! {
    static LISTS: Cell<Lists> = const {
        Cell::new(Lists {
            hits: Vec::new(),
            order: Vec::new(),
        })
    };
}

/// The order the engine reads a field's hits in: by start, the longest first, then by rule id, then
/// as the detectors pushed them (what a stable sort by the first three gives). Written to `order`
/// (its old entries replaced) as indices into `hits`, so that sorting moves a few bytes per hit
/// instead of a whole hit, each with room for its action and severity (placeholders until the
/// policy is applied); hits that are already in order (a short message's one or two) are not
/// sorted at all.
fn hit_order(hits: &[Hit], order: &mut Vec<(u32, Action, Severity)>) {
    let key = |h: &Hit| order_key(&h.span);
    let before = |a: &Hit, b: &Hit| key(a).cmp(&key(b)).then_with(|| a.rule.id.cmp(b.rule.id));
    let entry = |i: u32| (i, Action::Flag, Severity::Low);
    order.clear();
    if hits.is_sorted_by(|a, b| before(a, b).is_le()) {
        order.extend((0..hits.len()).map(|i| entry(i as u32)));
        return;
    }
    // A stable sort by the span key alone leaves hits of one span in index order; those few
    // runs (hits of one span from different rules) are put in rule order after. Comparing only
    // the integer key costs less than comparing rule ids inside the sort.
    let mut keyed: Vec<(u64, u32)> = hits.iter().zip(0u32..).map(|(h, i)| (key(h), i)).collect();
    keyed.sort_by_key(|k| k.0);
    let rule = |i: u32| hits.get(i as usize).map(|h| h.rule.id);
    for same in keyed.chunk_by_mut(|a, b| a.0 == b.0) {
        if same.len() > 1 {
            same.sort_unstable_by_key(|&(_, i)| (rule(i), i));
        }
    }
    order.extend(keyed.into_iter().map(|(_, i)| entry(i)));
}

/// A span's place in hit order: by start, the longest first. Spans of a message that passed the
/// size check fit in 32 bits; one that does not is dropped later as out of range, wherever it
/// sorts.
fn order_key(span: &Span) -> u64 {
    let start = u64::try_from(span.start)
        .unwrap_or(u64::MAX)
        .min(u64::from(u32::MAX));
    let end = u32::try_from(span.end).unwrap_or(u32::MAX);
    (start << 32) | u64::from(u32::MAX - end)
}

/// Reorder `admitted`, a field's kept hits in hit order, by span with the shortest at a start
/// first, hits of one span keeping their order: what a stable sort by start and end gives. Hit
/// order already sorts by start, the longest first, so each start's hits only need their
/// order of ends turned round: the run is reversed, and then each group of one span back again.
fn shortest_first(admitted: &mut [(u32, Action, Severity)], hits: &[Hit]) {
    let span =
        |e: &(u32, Action, Severity)| hits.get(e.0 as usize).map_or(Span::new(0, 0), |h| h.span);
    // A short message's few findings are nearly always in order already.
    if admitted.is_sorted_by_key(|e| {
        let s = span(e);
        (s.start, s.end)
    }) {
        return;
    }
    for run in admitted.chunk_by_mut(|a, b| span(a).start == span(b).start) {
        run.reverse();
        for group in run.chunk_by_mut(|a, b| span(a).end == span(b).end) {
            group.reverse();
        }
    }
}

/// How many rules [`RuleEnds`] holds on the stack: a message's hits come from a few rules.
const RULE_ENDS: usize = 16;

/// The furthest end of the kept hits of each rule seen so far in a field.
#[derive(Default)]
struct RuleEnds {
    first: [(&'static str, usize); RULE_ENDS],
    n: usize,
    /// Rules past the first [`RULE_ENDS`].
    more: Vec<(&'static str, usize)>,
}

impl RuleEnds {
    /// A hit of rule `id` over `start..end`, in hit order, overlaps an earlier kept hit of its
    /// rule; if not, it is kept and its end recorded.
    fn overlaps(&mut self, id: &'static str, start: usize, end: usize) -> bool {
        let first = self.first.get_mut(..self.n).unwrap_or_default();
        let seen = match first.iter().position(|(rule, _)| *rule == id) {
            Some(k) => first.get_mut(k),
            None if self.n == RULE_ENDS => self.more.iter_mut().find(|(rule, _)| *rule == id),
            None => None,
        };
        match seen {
            Some((_, furthest)) if start < *furthest => return true,
            Some((_, furthest)) => *furthest = end,
            None => match self.first.get_mut(self.n) {
                Some(slot) => {
                    *slot = (id, end);
                    self.n += 1;
                }
                None => self.more.push((id, end)),
            },
        }
        false
    }
}

/// The hasher of the per-rule settings map, which is read once per finding, and of the abuse
/// detector's word tables: their keys are short, fixed strings that no input chooses (an input
/// only looks them up, and a lookup in a table that does not change probes no further than the
/// table's own entries make it), so a word hash serves where SipHash would cost more than the rest
/// of the lookup.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 =
            (self.0.rotate_left(23) ^ model::hash_bytes(bytes)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    /// The map's keys are all strings, whose hash ends with this one byte: it adds nothing to
    /// tell them apart, so it costs nothing.
    fn write_u8(&mut self, _: u8) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hits over `spans`, each of the rule its number picks, in the given order.
    fn hits(spans: &[(usize, usize, usize)]) -> Vec<Hit> {
        let rules: Vec<&'static rules::RuleInfo> = rules::all().take(4).collect();
        spans
            .iter()
            .filter_map(|&(start, len, r)| {
                let rule = rules.get(r % rules.len())?;
                Some(Hit::new(rule, Span::new(start, start + len), ""))
            })
            .collect()
    }

    proptest! {
        #[test]
        fn findings_come_in_the_order_two_stable_sorts_give(
            spans in proptest::collection::vec((0usize..12, 1usize..4, 0usize..4), 0..40),
            keep in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let hits = hits(&spans);
            let mut expected: Vec<u32> = (0..hits.len() as u32).collect();
            expected.sort_by(|&a, &b| {
                let (x, y) = (&hits[a as usize], &hits[b as usize]);
                order_key(&x.span)
                    .cmp(&order_key(&y.span))
                    .then_with(|| x.rule.id.cmp(y.rule.id))
            });
            let mut order = Vec::new();
            hit_order(&hits, &mut order);
            let order: Vec<u32> = order.iter().map(|e| e.0).collect();
            prop_assert_eq!(&order, &expected);
            let mut all = Vec::new();
            hit_order(&hits, &mut all);
            let mut admitted: Vec<(u32, Action, Severity)> = all
                .into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(e, _)| e)
                .collect();
            let mut sorted = admitted.clone();
            sorted.sort_by_key(|&(i, ..)| (hits[i as usize].span.start, hits[i as usize].span.end));
            shortest_first(&mut admitted, &hits);
            prop_assert_eq!(admitted, sorted);
        }
    }
}
