//! The life of a post, approval chains and publishing retries, as pure rules.
//!
//! The store records what happened; the rules here decide what may happen next. Keeping them free of
//! I/O lets every transition and chain case be tested exhaustively without a database.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Role;

/// Where a post is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    /// Being written (or edited after an earlier submission).
    Draft,
    /// Submitted, waiting for the approval chain.
    InReview,
    /// A reviewer asked the author for changes.
    ChangesRequested,
    /// A reviewer rejected the post.
    Rejected,
    /// Signed off by every step of its chain, not yet queued.
    Approved,
    /// Approved and queued for a time.
    Scheduled,
    /// On the network.
    Published,
    /// Publishing failed for good (after retries); the author was told why.
    Failed,
    /// Approval completed after the slot had passed: the author must pick a new time.
    NeedsReschedule,
}

impl PostStatus {
    /// Every status, in the order a post usually moves through them.
    pub const ALL: [PostStatus; 9] = [
        PostStatus::Draft,
        PostStatus::InReview,
        PostStatus::ChangesRequested,
        PostStatus::Rejected,
        PostStatus::Approved,
        PostStatus::Scheduled,
        PostStatus::Published,
        PostStatus::Failed,
        PostStatus::NeedsReschedule,
    ];

    /// The stored identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Draft => "draft",
            PostStatus::InReview => "in_review",
            PostStatus::ChangesRequested => "changes_requested",
            PostStatus::Rejected => "rejected",
            PostStatus::Approved => "approved",
            PostStatus::Scheduled => "scheduled",
            PostStatus::Published => "published",
            PostStatus::Failed => "failed",
            PostStatus::NeedsReschedule => "needs_reschedule",
        }
    }

    /// The status stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<PostStatus> {
        PostStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    /// The words a person reads.
    pub fn label(self) -> &'static str {
        match self {
            PostStatus::Draft => "Draft",
            PostStatus::InReview => "In review",
            PostStatus::ChangesRequested => "Changes requested",
            PostStatus::Rejected => "Rejected",
            PostStatus::Approved => "Approved",
            PostStatus::Scheduled => "Scheduled",
            PostStatus::Published => "Published",
            PostStatus::Failed => "Publishing failed",
            PostStatus::NeedsReschedule => "Needs a new time",
        }
    }

    /// Whether the post has not reached a network yet (so it may still be edited).
    pub fn is_pre_publication(self) -> bool {
        self != PostStatus::Published
    }

    /// The status after `event`, or an error naming both states when the move is not allowed.
    pub fn apply(self, event: PostEvent) -> Result<PostStatus, TransitionError> {
        use PostEvent as E;
        use PostStatus as S;
        let next = match (self, event) {
            // An edit voids every approval of the old version, so the post starts over.
            (from, E::Edit) if from.is_pre_publication() => Some(S::Draft),
            (S::Draft, E::Submit) => Some(S::InReview),
            (
                S::InReview,
                E::StepApproved {
                    chain_complete: false,
                },
            ) => Some(S::InReview),
            (
                S::InReview,
                E::StepApproved {
                    chain_complete: true,
                },
            ) => Some(S::Approved),
            (S::InReview, E::Rejected) => Some(S::Rejected),
            (S::InReview, E::ChangesRequested) => Some(S::ChangesRequested),
            (S::Approved, E::Scheduled) => Some(S::Scheduled),
            (S::Approved | S::Scheduled, E::SlotMissed) => Some(S::NeedsReschedule),
            (S::Approved | S::Scheduled | S::NeedsReschedule | S::Failed, E::Rescheduled) => {
                Some(S::Scheduled)
            }
            (S::Scheduled, E::Published) => Some(S::Published),
            (S::Scheduled, E::PublishFailed) => Some(S::Failed),
            (S::Failed, E::Retry) => Some(S::Scheduled),
            _ => None,
        };
        next.ok_or(TransitionError {
            from: self,
            to: event.target(),
            event,
        })
    }
}

impl fmt::Display for PostStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Something that happens to a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostEvent {
    /// The content changed (a new version).
    Edit,
    /// The author sent the current version for approval.
    Submit,
    /// A step of the chain signed off; `chain_complete` when it was the last one needed.
    StepApproved {
        /// Whether every step is now satisfied.
        chain_complete: bool,
    },
    /// A reviewer rejected the post.
    Rejected,
    /// A reviewer asked for changes.
    ChangesRequested,
    /// The approved post was queued for its time.
    Scheduled,
    /// Approval completed after the slot had passed.
    SlotMissed,
    /// Someone picked a (new) time.
    Rescheduled,
    /// Every channel has the post.
    Published,
    /// Publishing failed for good.
    PublishFailed,
    /// A failed post is tried again.
    Retry,
}

impl PostEvent {
    /// The status this event leads to when it is allowed.
    pub fn target(self) -> PostStatus {
        match self {
            PostEvent::Edit => PostStatus::Draft,
            PostEvent::Submit
            | PostEvent::StepApproved {
                chain_complete: false,
            } => PostStatus::InReview,
            PostEvent::StepApproved {
                chain_complete: true,
            } => PostStatus::Approved,
            PostEvent::Rejected => PostStatus::Rejected,
            PostEvent::ChangesRequested => PostStatus::ChangesRequested,
            PostEvent::Scheduled | PostEvent::Rescheduled | PostEvent::Retry => {
                PostStatus::Scheduled
            }
            PostEvent::SlotMissed => PostStatus::NeedsReschedule,
            PostEvent::Published => PostStatus::Published,
            PostEvent::PublishFailed => PostStatus::Failed,
        }
    }
}

/// A move the post's life does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a post that is “{from}” cannot become “{to}”")]
pub struct TransitionError {
    /// Where the post is.
    pub from: PostStatus,
    /// Where the event would have taken it.
    pub to: PostStatus,
    /// What was attempted.
    pub event: PostEvent,
}

/// Whether one member of a step's role suffices or every member must sign off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepMode {
    /// Any one eligible member.
    Any,
    /// Every current eligible member.
    All,
}

/// One step of an approval chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChainStep {
    /// The role whose members decide this step.
    pub role: Role,
    /// Any one of them, or all.
    pub mode: StepMode,
}

/// How long before its slot a post still in review warns its reviewers and its author (and shows
/// "approval due" on the calendar).
pub const APPROVAL_WARNING_MS: i64 = 24 * 3_600_000;

/// The most steps a chain may have: more is a process problem, not a safety gain.
pub const MAX_CHAIN_STEPS: usize = 8;

/// An ordered, non-empty list of at most [`MAX_CHAIN_STEPS`] sign-off steps.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<ChainStep>", into = "Vec<ChainStep>")]
pub struct ApprovalChain {
    steps: Vec<ChainStep>,
}

/// A chain that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No steps: nobody would sign off.
    #[error("an approval chain needs at least one step")]
    Empty,
    /// More than [`MAX_CHAIN_STEPS`] steps.
    #[error("an approval chain has at most {MAX_CHAIN_STEPS} steps, not {0}")]
    TooLong(usize),
}

impl ApprovalChain {
    /// A chain of `steps`, checked.
    pub fn new(steps: Vec<ChainStep>) -> Result<ApprovalChain, ChainError> {
        match steps.len() {
            0 => Err(ChainError::Empty),
            n if n > MAX_CHAIN_STEPS => Err(ChainError::TooLong(n)),
            _ => Ok(ApprovalChain { steps }),
        }
    }

    /// The chain used when an organization defines none: one step, any Social Manager.
    pub fn default_chain() -> ApprovalChain {
        ApprovalChain {
            steps: vec![ChainStep {
                role: Role::SocialManager,
                mode: StepMode::Any,
            }],
        }
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[ChainStep] {
        &self.steps
    }

    /// The steps of several chains one after another, each step kept once (for a post going to
    /// several channels: every channel's sign-off is needed, none twice). `None` when `chains` is empty.
    pub fn union<'a>(chains: impl IntoIterator<Item = &'a ApprovalChain>) -> Option<ApprovalChain> {
        let mut steps: Vec<ChainStep> = Vec::new();
        for step in chains.into_iter().flat_map(|c| c.steps.iter()) {
            if !steps.contains(step) {
                steps.push(*step);
            }
        }
        // Chains of eight distinct steps each can add up to more than one chain may hold; the
        // first steps are kept, as the ordering puts the most specific chain first.
        steps.truncate(MAX_CHAIN_STEPS);
        (!steps.is_empty()).then_some(ApprovalChain { steps })
    }
}

impl TryFrom<Vec<ChainStep>> for ApprovalChain {
    type Error = ChainError;

    fn try_from(steps: Vec<ChainStep>) -> Result<Self, Self::Error> {
        ApprovalChain::new(steps)
    }
}

impl From<ApprovalChain> for Vec<ChainStep> {
    fn from(chain: ApprovalChain) -> Self {
        chain.steps
    }
}

/// What a reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Signed off.
    Approve,
    /// Refused outright.
    Reject,
    /// Sent back to the author for changes.
    RequestChanges,
}

impl DecisionKind {
    /// The stored identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Approve => "approve",
            DecisionKind::Reject => "reject",
            DecisionKind::RequestChanges => "request_changes",
        }
    }

    /// The decision stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<DecisionKind> {
        [
            DecisionKind::Approve,
            DecisionKind::Reject,
            DecisionKind::RequestChanges,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }

    /// The words a person reads.
    pub fn label(self) -> &'static str {
        match self {
            DecisionKind::Approve => "Approved",
            DecisionKind::Reject => "Rejected",
            DecisionKind::RequestChanges => "Changes requested",
        }
    }
}

/// One recorded decision on the current version of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The chain step (0-based) it was made for.
    pub step: usize,
    /// Who decided.
    pub user_id: i64,
    /// What they decided.
    pub kind: DecisionKind,
}

/// Where a post's current version stands in its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ChainProgress {
    /// Step `step` (0-based) waits for the users in `waiting_on` (any one of them, or all, by its mode).
    AwaitingStep {
        /// The step.
        step: usize,
        /// The users who may still decide it.
        waiting_on: Vec<i64>,
    },
    /// Every step signed off.
    Complete,
    /// A reviewer rejected the post at `step`.
    Rejected {
        /// The step.
        step: usize,
    },
    /// A reviewer asked for changes at `step`.
    ChangesRequested {
        /// The step.
        step: usize,
    },
    /// Nobody can decide `step`: no eligible user holds its role.
    Stalled {
        /// The step.
        step: usize,
        /// Why, in words for the author and the admin.
        reason: String,
    },
}

/// Computes where the current version stands, given its decisions and who currently holds each role.
///
/// The author never counts as an approver of their own post (separation of duties). "All" means
/// every current eligible member; approvals from people who have since left the role still count,
/// as they were valid when given.
pub fn progress(
    chain: &ApprovalChain,
    decisions: &[Decision],
    members: &dyn Fn(Role) -> Vec<i64>,
    author_id: Option<i64>,
) -> ChainProgress {
    for (step, rule) in chain.steps.iter().enumerate() {
        let here = || decisions.iter().filter(move |d| d.step == step);
        if here().any(|d| d.kind == DecisionKind::Reject) {
            return ChainProgress::Rejected { step };
        }
        if here().any(|d| d.kind == DecisionKind::RequestChanges) {
            return ChainProgress::ChangesRequested { step };
        }
        let approved: Vec<i64> = here()
            .filter(|d| d.kind == DecisionKind::Approve && Some(d.user_id) != author_id)
            .map(|d| d.user_id)
            .collect();
        let mut eligible = members(rule.role);
        eligible.retain(|u| Some(*u) != author_id);
        eligible.sort_unstable();
        eligible.dedup();
        let waiting_on: Vec<i64> = match rule.mode {
            StepMode::Any if !approved.is_empty() => Vec::new(),
            StepMode::Any => eligible.clone(),
            StepMode::All => eligible
                .iter()
                .copied()
                .filter(|u| !approved.contains(u))
                .collect(),
        };
        if waiting_on.is_empty() {
            if approved.is_empty() {
                let reason = if members(rule.role).is_empty() {
                    format!("nobody holds the role {}", rule.role.label())
                } else {
                    format!(
                        "the only {} is the author, who cannot approve their own post",
                        rule.role.label()
                    )
                };
                return ChainProgress::Stalled { step, reason };
            }
            continue;
        }
        return ChainProgress::AwaitingStep { step, waiting_on };
    }
    ChainProgress::Complete
}

/// Why a user may not decide on a post now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionRefused {
    /// Authors never approve their own posts.
    #[error("you wrote this post, so you cannot decide on it")]
    OwnPost,
    /// The chain is not waiting for a decision (complete, rejected, sent back or stalled).
    #[error("this post is not waiting for a decision")]
    NotAwaiting,
    /// The current step needs another role.
    #[error("step {} needs a {}", .step + 1, .needed.label())]
    WrongRole {
        /// The current step (0-based).
        step: usize,
        /// The role it needs.
        needed: Role,
    },
    /// The user already decided this step of this version.
    #[error("you already decided step {} of this version", .step + 1)]
    AlreadyDecided {
        /// The current step (0-based).
        step: usize,
    },
}

/// The step `user_id` (holding `user_role`) would decide now, or why they may not.
pub fn may_decide(
    chain: &ApprovalChain,
    progress: &ChainProgress,
    user_id: i64,
    user_role: Role,
    author_id: Option<i64>,
) -> Result<usize, DecisionRefused> {
    if author_id == Some(user_id) {
        return Err(DecisionRefused::OwnPost);
    }
    let ChainProgress::AwaitingStep { step, waiting_on } = progress else {
        return Err(DecisionRefused::NotAwaiting);
    };
    let needed = chain
        .steps
        .get(*step)
        .ok_or(DecisionRefused::NotAwaiting)?
        .role;
    if needed != user_role {
        return Err(DecisionRefused::WrongRole {
            step: *step,
            needed,
        });
    }
    if !waiting_on.contains(&user_id) {
        return Err(DecisionRefused::AlreadyDecided { step: *step });
    }
    Ok(*step)
}

/// How long to wait before publishing attempt `attempt + 1`, after attempt `attempt` (1-based)
/// failed: 30 s, 2 min, 10 min, 30 min, 1 h, then `None` (give up and tell the author).
///
/// Six attempts over about 1 h 42 min ride out a network's brief outage or rate-limit window; a
/// failure that outlasts that needs a person (an expired token, a rejected post), and silently
/// retrying for longer would publish hours late, which is worse than not publishing.
pub fn retry_delay_ms(attempt: u32) -> Option<i64> {
    const SECOND: i64 = 1_000;
    match attempt {
        0 | 1 => Some(30 * SECOND),
        2 => Some(120 * SECOND),
        3 => Some(600 * SECOND),
        4 => Some(1_800 * SECOND),
        5 => Some(3_600 * SECOND),
        _ => None,
    }
}

/// The key that makes publishing one version of a post to one channel happen once: networks that
/// take an idempotency key get it, and the job table holds it unique.
pub fn idempotency_key(post_id: i64, channel_id: i64, version: i64) -> String {
    format!("rounds-post-{post_id}-channel-{channel_id}-v{version}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use PostEvent as E;
    use PostStatus as S;

    const ALL_EVENTS: [PostEvent; 12] = [
        E::Edit,
        E::Submit,
        E::StepApproved {
            chain_complete: false,
        },
        E::StepApproved {
            chain_complete: true,
        },
        E::Rejected,
        E::ChangesRequested,
        E::Scheduled,
        E::SlotMissed,
        E::Rescheduled,
        E::Published,
        E::PublishFailed,
        E::Retry,
    ];

    #[test]
    fn status_ids_round_trip_and_read_as_words() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
            assert!(!s.label().contains('_'), "{s:?}");
        }
        assert_eq!(S::parse("archived"), None);
        assert_eq!(S::ChangesRequested.label(), "Changes requested");
        assert_eq!(S::NeedsReschedule.label(), "Needs a new time");
    }

    #[test]
    fn every_allowed_transition() {
        let allowed = [
            (S::Draft, E::Submit, S::InReview),
            (
                S::InReview,
                E::StepApproved {
                    chain_complete: false,
                },
                S::InReview,
            ),
            (
                S::InReview,
                E::StepApproved {
                    chain_complete: true,
                },
                S::Approved,
            ),
            (S::InReview, E::Rejected, S::Rejected),
            (S::InReview, E::ChangesRequested, S::ChangesRequested),
            (S::Approved, E::Scheduled, S::Scheduled),
            (S::Approved, E::SlotMissed, S::NeedsReschedule),
            (S::Scheduled, E::SlotMissed, S::NeedsReschedule),
            (S::Approved, E::Rescheduled, S::Scheduled),
            (S::Scheduled, E::Rescheduled, S::Scheduled),
            (S::NeedsReschedule, E::Rescheduled, S::Scheduled),
            (S::Failed, E::Rescheduled, S::Scheduled),
            (S::Scheduled, E::Published, S::Published),
            (S::Scheduled, E::PublishFailed, S::Failed),
            (S::Failed, E::Retry, S::Scheduled),
        ];
        for from in S::ALL {
            for event in ALL_EVENTS {
                let expected = if event == E::Edit {
                    (from != S::Published).then_some(S::Draft)
                } else {
                    allowed
                        .iter()
                        .find(|(f, e, _)| *f == from && *e == event)
                        .map(|(_, _, to)| *to)
                };
                match (from.apply(event), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from:?} + {event:?}"),
                    (Err(err), None) => {
                        assert_eq!((err.from, err.to, err.event), (from, event.target(), event));
                        let text = err.to_string();
                        assert!(
                            text.contains(from.label()) && text.contains(event.target().label()),
                            "{text}"
                        );
                    }
                    (got, want) => panic!("{from:?} + {event:?}: got {got:?}, expected {want:?}"),
                }
            }
        }
    }

    #[test]
    fn published_posts_cannot_be_edited() {
        let err = S::Published.apply(E::Edit).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a post that is “Published” cannot become “Draft”"
        );
    }

    fn chain(steps: &[(Role, StepMode)]) -> ApprovalChain {
        ApprovalChain::new(
            steps
                .iter()
                .map(|&(role, mode)| ChainStep { role, mode })
                .collect(),
        )
        .unwrap()
    }

    fn approve(step: usize, user_id: i64) -> Decision {
        Decision {
            step,
            user_id,
            kind: DecisionKind::Approve,
        }
    }

    /// Legal: 10 and 11; Medical: 20; Social manager: 1 (the author in most tests).
    fn members(role: Role) -> Vec<i64> {
        match role {
            Role::LegalReviewer => vec![10, 11],
            Role::MedicalReviewer => vec![20],
            Role::SocialManager => vec![1],
            _ => Vec::new(),
        }
    }

    #[test]
    fn chain_size_is_checked() {
        assert_eq!(ApprovalChain::new(Vec::new()), Err(ChainError::Empty));
        let step = ChainStep {
            role: Role::LegalReviewer,
            mode: StepMode::Any,
        };
        assert_eq!(
            ApprovalChain::new(vec![step; 9]),
            Err(ChainError::TooLong(9))
        );
        assert!(ApprovalChain::new(vec![step; 8]).is_ok());
        assert_eq!(
            ApprovalChain::default_chain().steps(),
            [ChainStep {
                role: Role::SocialManager,
                mode: StepMode::Any
            }]
        );
    }

    #[test]
    fn union_keeps_order_and_drops_repeats() {
        let a = chain(&[
            (Role::LegalReviewer, StepMode::Any),
            (Role::MedicalReviewer, StepMode::Any),
        ]);
        let b = chain(&[
            (Role::MedicalReviewer, StepMode::Any),
            (Role::PrivacyOfficer, StepMode::All),
        ]);
        let both = ApprovalChain::union([&a, &b]).unwrap();
        let roles: Vec<Role> = both.steps().iter().map(|s| s.role).collect();
        assert_eq!(
            roles,
            [
                Role::LegalReviewer,
                Role::MedicalReviewer,
                Role::PrivacyOfficer
            ]
        );
        assert_eq!(ApprovalChain::union([]), None);
        let long = chain(&[(Role::Admin, StepMode::Any); 8]);
        let other = chain(&[(Role::Viewer, StepMode::Any)]);
        let distinct: Vec<ChainStep> = Role::ALL
            .iter()
            .map(|&role| ChainStep {
                role,
                mode: StepMode::All,
            })
            .collect();
        let wide = ApprovalChain::new(distinct).unwrap();
        assert_eq!(
            ApprovalChain::union([&long, &other, &wide])
                .unwrap()
                .steps()
                .len(),
            MAX_CHAIN_STEPS
        );
    }

    #[test]
    fn any_step_needs_one_approval_and_all_needs_everyone() {
        let c = chain(&[
            (Role::MedicalReviewer, StepMode::Any),
            (Role::LegalReviewer, StepMode::All),
        ]);
        let author = Some(1);
        assert_eq!(
            progress(&c, &[], &members, author),
            ChainProgress::AwaitingStep {
                step: 0,
                waiting_on: vec![20]
            }
        );
        let after_medical = [approve(0, 20)];
        assert_eq!(
            progress(&c, &after_medical, &members, author),
            ChainProgress::AwaitingStep {
                step: 1,
                waiting_on: vec![10, 11]
            }
        );
        let one_legal = [approve(0, 20), approve(1, 11)];
        assert_eq!(
            progress(&c, &one_legal, &members, author),
            ChainProgress::AwaitingStep {
                step: 1,
                waiting_on: vec![10]
            }
        );
        let both_legal = [approve(0, 20), approve(1, 11), approve(1, 10)];
        assert_eq!(
            progress(&c, &both_legal, &members, author),
            ChainProgress::Complete
        );
    }

    #[test]
    fn the_author_never_approves_their_own_post() {
        let c = chain(&[(Role::LegalReviewer, StepMode::All)]);
        // Legal reviewer 10 wrote the post: only 11 must approve, and 10's own approval does not count.
        assert_eq!(
            progress(&c, &[], &members, Some(10)),
            ChainProgress::AwaitingStep {
                step: 0,
                waiting_on: vec![11]
            }
        );
        assert_eq!(
            progress(&c, &[approve(0, 10)], &members, Some(10)),
            ChainProgress::AwaitingStep {
                step: 0,
                waiting_on: vec![11]
            }
        );
        assert_eq!(
            progress(&c, &[approve(0, 11)], &members, Some(10)),
            ChainProgress::Complete
        );
        let any = chain(&[(Role::LegalReviewer, StepMode::Any)]);
        assert_eq!(
            progress(&any, &[approve(0, 10)], &members, Some(10)),
            ChainProgress::AwaitingStep {
                step: 0,
                waiting_on: vec![11]
            }
        );
    }

    #[test]
    fn rejections_and_change_requests_stop_the_chain_at_their_step() {
        let c = chain(&[
            (Role::MedicalReviewer, StepMode::Any),
            (Role::LegalReviewer, StepMode::All),
        ]);
        let rejected = [
            approve(0, 20),
            Decision {
                step: 1,
                user_id: 10,
                kind: DecisionKind::Reject,
            },
            approve(1, 11),
        ];
        assert_eq!(
            progress(&c, &rejected, &members, Some(1)),
            ChainProgress::Rejected { step: 1 }
        );
        let changes = [Decision {
            step: 0,
            user_id: 20,
            kind: DecisionKind::RequestChanges,
        }];
        assert_eq!(
            progress(&c, &changes, &members, Some(1)),
            ChainProgress::ChangesRequested { step: 0 }
        );
    }

    #[test]
    fn a_step_nobody_can_decide_stalls() {
        let privacy = chain(&[(Role::PrivacyOfficer, StepMode::Any)]);
        let ChainProgress::Stalled { step: 0, reason } = progress(&privacy, &[], &members, Some(1))
        else {
            panic!("not stalled")
        };
        assert!(reason.contains("Privacy Officer"), "{reason}");
        // The only Social Manager is the author.
        let ChainProgress::Stalled { step: 0, reason } =
            progress(&ApprovalChain::default_chain(), &[], &members, Some(1))
        else {
            panic!("not stalled")
        };
        assert!(reason.contains("author"), "{reason}");
        let all = chain(&[(Role::PrivacyOfficer, StepMode::All)]);
        assert!(matches!(
            progress(&all, &[], &members, None),
            ChainProgress::Stalled { step: 0, .. }
        ));
    }

    #[test]
    fn all_counts_current_members_only() {
        let c = chain(&[(Role::LegalReviewer, StepMode::All)]);
        // 12 approved, then left the role; 10 and 11 are the current members.
        let decisions = [approve(0, 12), approve(0, 10)];
        assert_eq!(
            progress(&c, &decisions, &members, None),
            ChainProgress::AwaitingStep {
                step: 0,
                waiting_on: vec![11]
            }
        );
        // Everyone who held the role left after approving: the step stands.
        let gone = |_: Role| Vec::new();
        assert_eq!(
            progress(&c, &[approve(0, 12)], &gone, None),
            ChainProgress::Complete
        );
    }

    #[test]
    fn who_may_decide() {
        let c = chain(&[
            (Role::MedicalReviewer, StepMode::Any),
            (Role::LegalReviewer, StepMode::All),
        ]);
        let author = Some(1);
        let start = progress(&c, &[], &members, author);
        assert_eq!(
            may_decide(&c, &start, 20, Role::MedicalReviewer, author),
            Ok(0)
        );
        assert_eq!(
            may_decide(&c, &start, 10, Role::LegalReviewer, author),
            Err(DecisionRefused::WrongRole {
                step: 0,
                needed: Role::MedicalReviewer
            })
        );
        assert_eq!(
            may_decide(&c, &start, 1, Role::MedicalReviewer, author),
            Err(DecisionRefused::OwnPost)
        );
        let legal = progress(&c, &[approve(0, 20), approve(1, 10)], &members, author);
        assert_eq!(
            may_decide(&c, &legal, 11, Role::LegalReviewer, author),
            Ok(1)
        );
        assert_eq!(
            may_decide(&c, &legal, 10, Role::LegalReviewer, author),
            Err(DecisionRefused::AlreadyDecided { step: 1 })
        );
        let done = progress(
            &c,
            &[approve(0, 20), approve(1, 10), approve(1, 11)],
            &members,
            author,
        );
        assert_eq!(
            may_decide(&c, &done, 11, Role::LegalReviewer, author),
            Err(DecisionRefused::NotAwaiting)
        );
        let refused = DecisionRefused::WrongRole {
            step: 0,
            needed: Role::MedicalReviewer,
        };
        assert_eq!(refused.to_string(), "step 1 needs a Medical reviewer");
    }

    #[test]
    fn back_off_then_give_up() {
        let delays: Vec<Option<i64>> = (1..=7).map(retry_delay_ms).collect();
        assert_eq!(
            delays,
            [
                Some(30_000),
                Some(120_000),
                Some(600_000),
                Some(1_800_000),
                Some(3_600_000),
                None,
                None
            ]
        );
        assert_eq!(retry_delay_ms(0), Some(30_000));
        assert_eq!(retry_delay_ms(u32::MAX), None);
    }

    #[test]
    fn idempotency_keys_differ_by_post_channel_and_version() {
        let k = idempotency_key(7, 3, 2);
        assert_eq!(k, "rounds-post-7-channel-3-v2");
        assert_ne!(k, idempotency_key(7, 3, 3));
        assert_ne!(idempotency_key(7, 31, 2), idempotency_key(73, 1, 2));
    }
}
