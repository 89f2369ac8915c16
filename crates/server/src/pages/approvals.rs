//! Approvals: the review queue, the review page (the exact version, its findings, the diff from the
//! version this reviewer last decided on, the chain) with its decision form, and the approval-chain
//! settings.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rounds_domain::publishing::{
    self as rules, ApprovalChain, ChainProgress, ChainStep, Decision, DecisionKind, StepMode,
};
use rounds_domain::{Permission, Role};
use rounds_store::{ApprovalEntry, NewChain, Post, PostStatus, StoreError, User};
use serde::Deserialize;
use similar::{ChangeTag, TextDiff};

use super::NoticeQuery;
use super::calendar::{Clock, approval_due};
use crate::error::{AppError, AppResult, ErrorCode, capitalise};
use crate::screening::{Screened, shape};
use crate::session::Viewer;
use crate::views::{Layout, render, render_status};
use crate::{AppState, now_ms};

/// Longest reviewer comment kept.
const MAX_COMMENT: usize = 4_000;

/// What the reviewer sees when the post changed between opening and deciding.
pub(crate) const STALE: &str = "This post changed since you opened it; review the new version.";

/// Who holds each role now (disabled users decide nothing).
pub(crate) fn role_members(users: &[User]) -> HashMap<Role, Vec<i64>> {
    let mut members: HashMap<Role, Vec<i64>> = HashMap::new();
    for u in users.iter().filter(|u| !u.disabled) {
        members.entry(u.role).or_default().push(u.id);
    }
    members
}

/// A post's chain, the decisions on its current version and where that leaves it.
pub(crate) struct ChainState {
    pub(crate) chain: ApprovalChain,
    pub(crate) progress: ChainProgress,
    /// Every decision on every version, oldest first.
    pub(crate) record: Vec<ApprovalEntry>,
}

/// Loads the chain fixed at submission (or the one that applies now) and computes the progress.
pub(crate) async fn chain_state(
    state: &AppState,
    org_id: i64,
    post: &Post,
    members: &HashMap<Role, Vec<i64>>,
) -> AppResult<ChainState> {
    let versions = state.store.post_versions(org_id, post.id).await?;
    let chain = match versions
        .into_iter()
        .find(|v| v.version == post.version)
        .and_then(|v| v.chain)
    {
        Some(chain) => chain,
        None => state.store.chain_for(org_id, post).await?,
    };
    let record = state.store.approval_record(org_id, post.id).await?;
    let decisions: Vec<Decision> = record
        .iter()
        .filter(|e| e.version == post.version)
        .map(|e| Decision {
            step: e.step,
            user_id: e.user_id,
            kind: e.decision,
        })
        .collect();
    let of_role = |role: Role| members.get(&role).cloned().unwrap_or_default();
    let progress = rules::progress(&chain, &decisions, &of_role, post.author_id);
    Ok(ChainState {
        chain,
        progress,
        record,
    })
}

fn mode_label(mode: StepMode) -> &'static str {
    match mode {
        StepMode::Any => "any one",
        StepMode::All => "all",
    }
}

/// Where the chain stands, in one sentence.
pub(crate) fn progress_summary(chain: &ApprovalChain, progress: &ChainProgress) -> String {
    let total = chain.steps().len();
    let role = |step: usize| chain.steps().get(step).map_or("", |s| s.role.label());
    match progress {
        ChainProgress::AwaitingStep { step, .. } => {
            let mode = chain.steps().get(*step).map_or("", |s| mode_label(s.mode));
            format!(
                "Step {} of {total}: waiting for {} ({mode})",
                step + 1,
                role(*step)
            )
        }
        ChainProgress::Complete => "Every step approved".to_owned(),
        ChainProgress::Rejected { step } => {
            format!("Rejected at step {} ({})", step + 1, role(*step))
        }
        ChainProgress::ChangesRequested { step } => {
            format!("Changes requested at step {} ({})", step + 1, role(*step))
        }
        ChainProgress::Stalled { step, reason } => format!("Stuck at step {}: {reason}", step + 1),
    }
}

/// One chain step on the review page.
struct StepView {
    role: &'static str,
    mode: &'static str,
    /// `approved`, `awaiting`, `pending`, `rejected`, `changes` or `stalled`.
    state: &'static str,
    /// "Approved by … at …" lines for the current version.
    decisions: Vec<String>,
}

fn step_views(cs: &ChainState, version: i64, clock: &Clock) -> Vec<StepView> {
    let (current, stop_state) = match &cs.progress {
        ChainProgress::AwaitingStep { step, .. } => (*step, "awaiting"),
        ChainProgress::Complete => (usize::MAX, "approved"),
        ChainProgress::Rejected { step } => (*step, "rejected"),
        ChainProgress::ChangesRequested { step } => (*step, "changes"),
        ChainProgress::Stalled { step, .. } => (*step, "stalled"),
    };
    cs.chain
        .steps()
        .iter()
        .enumerate()
        .map(|(i, s)| StepView {
            role: s.role.label(),
            mode: mode_label(s.mode),
            state: match i.cmp(&current) {
                std::cmp::Ordering::Less => "approved",
                std::cmp::Ordering::Equal => stop_state,
                std::cmp::Ordering::Greater => "pending",
            },
            decisions: cs
                .record
                .iter()
                .filter(|e| e.version == version && e.step == i)
                .map(|e| {
                    format!(
                        "{} by {} at {}",
                        e.decision.label(),
                        e.user_name,
                        clock.format(e.at_ms)
                    )
                })
                .collect(),
        })
        .collect()
}

/// A post in the queue.
struct QueueItem {
    id: i64,
    excerpt: String,
    channels: String,
    when: String,
    summary: String,
    due: bool,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    layout: Layout,
    mine: Vec<QueueItem>,
    others: Vec<QueueItem>,
}

fn excerpt(body: &str) -> String {
    let mut s: String = body.chars().take(140).collect();
    if s.len() < body.len() {
        s.push('…');
    }
    s
}

/// The review queue: posts waiting for my step first, then everything else in review.
pub(crate) async fn queue(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    let org = viewer.org.id;
    let clock = Clock::of(&state, org).await?;
    let names = super::calendar::channel_names(&state.store.channels(org).await?);
    let members = role_members(&state.store.users(org).await?);
    let mine_ids: Vec<i64> = state
        .store
        .approval_queue(org, viewer.user.id)
        .await?
        .iter()
        .map(|p| p.id)
        .collect();
    let in_review = state
        .store
        .posts(
            org,
            Some(PostStatus::InReview),
            &rounds_store::Page {
                before_id: None,
                limit: 500,
            },
        )
        .await?;
    let now = now_ms();
    let (mut mine, mut others) = (Vec::new(), Vec::new());
    for post in in_review {
        let cs = chain_state(&state, org, &post, &members).await?;
        let item = QueueItem {
            id: post.id,
            excerpt: excerpt(&post.body),
            channels: super::calendar::channel_list(&post.channel_ids, &names),
            when: post
                .scheduled_at
                .map_or_else(|| "no time set".to_owned(), |t| clock.format(t)),
            summary: progress_summary(&cs.chain, &cs.progress),
            due: approval_due(&post, now),
        };
        if mine_ids.contains(&post.id) {
            mine.push(item)
        } else {
            others.push(item)
        }
    }
    let layout = Layout::new(&viewer, "Approvals", "/approvals").with_notice(q.notice.as_deref());
    Ok(render(&ApprovalsPage {
        layout,
        mine,
        others,
    }))
}

/// A run of the word diff.
struct DiffSeg {
    text: String,
    /// `ins`, `del` or empty for unchanged text.
    class: &'static str,
}

/// The word-level changes from `old` to `new`.
fn word_diff(old: &str, new: &str) -> Vec<DiffSeg> {
    let diff = TextDiff::from_words(old, new);
    let mut segs: Vec<DiffSeg> = Vec::new();
    for change in diff.iter_all_changes() {
        let class = match change.tag() {
            ChangeTag::Equal => "",
            ChangeTag::Insert => "ins",
            ChangeTag::Delete => "del",
        };
        match segs.last_mut() {
            Some(last) if last.class == class => last.text.push_str(change.value()),
            _ => segs.push(DiffSeg {
                text: change.value().to_owned(),
                class,
            }),
        }
    }
    segs
}

/// One line of the approval record.
struct RecordRow {
    version: i64,
    step: usize,
    who: String,
    decision: &'static str,
    comment: String,
    when: String,
}

#[derive(Template)]
#[template(path = "approval.html")]
struct ReviewPage {
    layout: Layout,
    post_id: i64,
    version: i64,
    status: &'static str,
    status_note: String,
    channels: String,
    when: String,
    due: bool,
    body: String,
    result: Screened,
    diff_note: String,
    diff: Vec<DiffSeg>,
    summary: String,
    steps: Vec<StepView>,
    record: Vec<RecordRow>,
    /// Who overrode blocking findings to submit this version, and why; empty when nobody did.
    overridden: String,
    /// Why this user cannot decide now; `None` when the form is shown.
    refusal: Option<String>,
    error: Option<String>,
    comment: String,
}

async fn review_page(
    state: &AppState,
    viewer: &Viewer,
    post_id: i64,
    notice: Option<&str>,
    error: Option<String>,
    comment: String,
) -> AppResult<ReviewPage> {
    let org = viewer.org.id;
    let post = state.store.post(org, post_id).await?;
    let clock = Clock::of(state, org).await?;
    let names = super::calendar::channel_names(&state.store.channels(org).await?);
    let users = state.store.users(org).await?;
    let members = role_members(&users);
    let cs = chain_state(state, org, &post, &members).await?;
    let versions = state.store.post_versions(org, post_id).await?;
    let overridden = versions
        .iter()
        .find(|v| v.version == post.version)
        .and_then(|v| v.override_reason.as_ref().map(|r| (r, v.override_by)))
        .map(|(reason, by)| {
            let who = by.and_then(|id| users.iter().find(|u| u.id == id)).map_or("Someone", |u| u.display_name.as_str());
            format!("{who} submitted this version over blocking screening findings, writing: \u{201c}{reason}\u{201d}")
        })
        .unwrap_or_default();
    let decided = cs
        .record
        .iter()
        .filter(|e| e.user_id == viewer.user.id)
        .map(|e| e.version)
        .max();
    let opened = state
        .store
        .record_review_view(org, post_id, viewer.user.id, post.version)
        .await?;
    let seen = decided.max(opened);
    let (diff_note, diff) = match seen.and_then(|v| versions.iter().find(|pv| pv.version == v)) {
        None => ("First time you see this post.".to_owned(), Vec::new()),
        Some(old) if old.version == post.version && decided == Some(post.version) => (
            format!(
                "You already decided on this version (version {}).",
                post.version
            ),
            Vec::new(),
        ),
        Some(old) if old.version == post.version => (
            format!(
                "No changes since you last opened it (version {}).",
                post.version
            ),
            Vec::new(),
        ),
        Some(old) => (
            format!(
                "Changes since version {}, the last version you saw:",
                old.version
            ),
            word_diff(&old.body, &post.body),
        ),
    };
    let refusal = if post.status != PostStatus::InReview {
        Some(format!(
            "This post is {}, not waiting for approval.",
            post.status.label().to_lowercase()
        ))
    } else {
        rules::may_decide(
            &cs.chain,
            &cs.progress,
            viewer.user.id,
            viewer.user.role,
            post.author_id,
        )
        .err()
        .map(|e| capitalise(&e.to_string()))
    };
    // As it will go out: with its paid flag and its images' alt text.
    let media = super::compose::media_of_post(state, org, &post).await?;
    let result = shape(
        &post.body,
        &super::compose::screen_post(state, &post.body, post.paid, &media)?,
    );
    Ok(ReviewPage {
        layout: Layout::new(viewer, format!("Review post {post_id}"), "/approvals")
            .with_notice(notice),
        post_id,
        version: post.version,
        status: post.status.label(),
        status_note: post.status_note.clone().unwrap_or_default(),
        channels: super::calendar::channel_list(&post.channel_ids, &names),
        when: post
            .scheduled_at
            .map_or_else(|| "as soon as approved".to_owned(), |t| clock.format(t)),
        due: approval_due(&post, now_ms()),
        body: post.body.clone(),
        result,
        overridden,
        diff_note,
        diff,
        summary: progress_summary(&cs.chain, &cs.progress),
        steps: step_views(&cs, post.version, &clock),
        record: cs
            .record
            .iter()
            .map(|e| RecordRow {
                version: e.version,
                step: e.step + 1,
                who: format!("{} ({})", e.user_name, e.user_email),
                decision: e.decision.label(),
                comment: e.comment.clone().unwrap_or_default(),
                when: clock.format(e.at_ms),
            })
            .collect(),
        refusal,
        error,
        comment,
    })
}

/// The review page of one post.
pub(crate) async fn review(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(post_id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    Ok(render(
        &review_page(
            &state,
            &viewer,
            post_id,
            q.notice.as_deref(),
            None,
            String::new(),
        )
        .await?,
    ))
}

/// Decision form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct DecisionForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    comment: String,
    expected_version: i64,
}

/// A decision as checked input: its kind and its trimmed comment.
pub(crate) fn check_decision(
    kind: &str,
    comment: Option<&str>,
) -> Result<(DecisionKind, Option<String>), AppError> {
    let kind = DecisionKind::parse(kind).ok_or_else(|| {
        AppError::with(
            ErrorCode::InvalidInput,
            "Choose Approve, Request changes or Reject.",
        )
    })?;
    let comment = comment
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    if kind != DecisionKind::Approve && comment.is_none() {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            "Write a comment: the author needs to know what to change or why the post was rejected.",
        ));
    }
    if comment.as_ref().is_some_and(|c| c.len() > MAX_COMMENT) {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            format!("The comment is longer than {MAX_COMMENT} bytes."),
        ));
    }
    Ok((kind, comment))
}

/// A stale decision gets the reviewer-facing wording; refusals and transitions map as everywhere else.
pub(crate) fn decision_error(e: StoreError) -> AppError {
    match e {
        StoreError::Conflict(m) if m.starts_with("the post changed") => {
            AppError::with(ErrorCode::Conflict, STALE)
        }
        other => other.into(),
    }
}

/// Records Approve, Request changes or Reject on the version the reviewer saw.
pub(crate) async fn decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(post_id): Path<i64>,
    axum::Form(form): axum::Form<DecisionForm>,
) -> AppResult<Response> {
    let again = |error: AppError, comment: String| {
        let state = state.clone();
        let viewer = &viewer;
        async move {
            let page = review_page(
                &state,
                viewer,
                post_id,
                None,
                Some(error.message.clone()),
                comment,
            )
            .await?;
            Ok::<Response, AppError>(render_status(error.code.status(), &page))
        }
    };
    let (kind, comment) = match check_decision(&form.kind, Some(&form.comment)) {
        Ok(v) => v,
        Err(e) => return again(e, form.comment).await,
    };
    let post = state.store.post(viewer.org.id, post_id).await?;
    if post.version != form.expected_version {
        return again(AppError::with(ErrorCode::Conflict, STALE), form.comment).await;
    }
    match state
        .store
        .decide(
            viewer.org.id,
            post_id,
            form.expected_version,
            kind,
            comment.as_deref(),
            viewer.user.id,
            &viewer.actor(),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to("/approvals?notice=decision_recorded").into_response()),
        Err(e) => again(decision_error(e), form.comment).await,
    }
}

/// A chain as the settings page lists it.
struct ChainRow {
    id: i64,
    name: String,
    scope: String,
    steps: String,
}

#[derive(Template)]
#[template(path = "approval_chains.html")]
struct ChainsPage {
    layout: Layout,
    chains: Vec<ChainRow>,
    channels: Vec<(i64, String)>,
    roles: Vec<(&'static str, &'static str)>,
    slots: Vec<usize>,
    error: Option<String>,
}

/// How many step rows the form offers (the most a chain may have).
const STEP_SLOTS: usize = rules::MAX_CHAIN_STEPS;

fn chain_steps_text(chain: &ApprovalChain) -> String {
    chain
        .steps()
        .iter()
        .map(|s| format!("{} ({})", s.role.label(), mode_label(s.mode)))
        .collect::<Vec<_>>()
        .join(" → ")
}

async fn chains_page(
    state: &AppState,
    viewer: &Viewer,
    notice: Option<&str>,
    error: Option<String>,
) -> AppResult<ChainsPage> {
    let org = viewer.org.id;
    let channels = state.store.channels(org).await?;
    let names = super::calendar::channel_names(&channels);
    let chains = state
        .store
        .approval_chains(org)
        .await?
        .into_iter()
        .map(|c| {
            let channel = c.channel_id.map_or_else(
                || "every channel".to_owned(),
                |id| {
                    names
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| format!("channel {id}"))
                },
            );
            let kind = c.content_type.clone().map_or_else(
                || "every content type".to_owned(),
                |t| format!("content type {t}"),
            );
            ChainRow {
                id: c.id,
                name: c.name,
                scope: format!("{channel}, {kind}"),
                steps: chain_steps_text(&c.chain),
            }
        })
        .collect();
    Ok(ChainsPage {
        layout: Layout::new(viewer, "Approval chains", "/settings").with_notice(notice),
        chains,
        channels: channels
            .iter()
            .map(|c| (c.id, format!("{} ({})", c.display_name, c.network)))
            .collect(),
        roles: Role::ALL
            .iter()
            .filter(|r| r.can(Permission::ViewPosts))
            .map(|r| (r.as_str(), r.label()))
            .collect(),
        slots: (1..=STEP_SLOTS).collect(),
        error,
    })
}

/// The approval-chain settings.
pub(crate) async fn chains(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    Ok(render(
        &chains_page(&state, &viewer, q.notice.as_deref(), None).await?,
    ))
}

/// A chain from the settings form: `role_N` and `mode_N` per step, blank roles skipped.
fn parse_chain_form(pairs: &[(String, String)], channel_ids: &[i64]) -> Result<NewChain, AppError> {
    let field = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let name = rounds_domain::input::check_name("Chain name", &field("name"), 120)?;
    let channel_id = match field("channel").as_str() {
        "" => None,
        raw => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|id| channel_ids.contains(id))
                .ok_or_else(|| {
                    AppError::with(ErrorCode::InvalidInput, "Choose one of the channels.")
                })?,
        ),
    };
    let content_type = Some(field("content_type")).filter(|t| !t.is_empty());
    if content_type.as_ref().is_some_and(|t| {
        t.len() > 60
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }) {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            "A content type is a short identifier such as brand_promotion (letters, digits, _ and -).",
        ));
    }
    let mut steps = Vec::new();
    for n in 1..=STEP_SLOTS {
        let role = field(&format!("role_{n}"));
        if role.is_empty() {
            continue;
        }
        let role: Role = role.parse().map_err(|_| {
            AppError::with(ErrorCode::InvalidInput, format!("Step {n}: choose a role."))
        })?;
        let mode = match field(&format!("mode_{n}")).as_str() {
            "all" => StepMode::All,
            _ => StepMode::Any,
        };
        steps.push(ChainStep { role, mode });
    }
    let chain = ApprovalChain::new(steps)
        .map_err(|e| AppError::with(ErrorCode::InvalidInput, capitalise(&e.to_string())))?;
    Ok(NewChain {
        name,
        channel_id,
        content_type,
        chain,
    })
}

/// Creates (or replaces, for the same channel and content type) an approval chain.
pub(crate) async fn save_chain(
    State(state): State<AppState>,
    viewer: Viewer,
    body: axum::body::Bytes,
) -> AppResult<Response> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| AppError::new(ErrorCode::BadRequest))?;
    let channel_ids: Vec<i64> = state
        .store
        .channels(viewer.org.id)
        .await?
        .iter()
        .map(|c| c.id)
        .collect();
    let chain = match parse_chain_form(&pairs, &channel_ids) {
        Ok(c) => c,
        Err(e) => {
            return Ok(render_status(
                StatusCode::BAD_REQUEST,
                &chains_page(&state, &viewer, None, Some(e.message)).await?,
            ));
        }
    };
    state
        .store
        .save_approval_chain(viewer.org.id, &chain, &viewer.actor())
        .await?;
    Ok(Redirect::to("/settings/approvals?notice=chain_saved").into_response())
}

/// Deletes an approval chain; its scope falls back to the next more general chain.
pub(crate) async fn delete_chain(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    state
        .store
        .delete_approval_chain(viewer.org.id, id, &viewer.actor())
        .await?;
    Ok(Redirect::to("/settings/approvals?notice=chain_deleted").into_response())
}

#[cfg(test)]
mod tests {
    use super::{check_decision, parse_chain_form, word_diff};
    use rounds_domain::Role;
    use rounds_domain::publishing::{DecisionKind, StepMode};

    #[test]
    fn diff_marks_changed_words() {
        let segs = word_diff("Call 555-0100 today", "Call us today");
        let shown: Vec<(&str, &str)> = segs.iter().map(|s| (s.class, s.text.as_str())).collect();
        assert_eq!(
            shown,
            vec![
                ("", "Call "),
                ("del", "555-0100"),
                ("ins", "us"),
                ("", " today")
            ]
        );
    }

    #[test]
    fn reject_and_request_changes_need_a_comment() {
        assert!(check_decision("reject", Some("  ")).is_err());
        assert!(check_decision("request_changes", None).is_err());
        assert!(check_decision("maybe", Some("x")).is_err());
        assert_eq!(
            check_decision("approve", Some(" ")).ok(),
            Some((DecisionKind::Approve, None))
        );
        assert_eq!(
            check_decision("reject", Some(" off-label ")).ok(),
            Some((DecisionKind::Reject, Some("off-label".to_owned())))
        );
    }

    #[test]
    fn chain_form_keeps_filled_steps_in_order() {
        let pairs: Vec<(String, String)> = [
            ("name", "Pharma"),
            ("channel", ""),
            ("content_type", "brand_promotion"),
            ("role_1", "medical_reviewer"),
            ("mode_1", "any"),
            ("role_2", ""),
            ("role_3", "legal_reviewer"),
            ("mode_3", "all"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let chain = parse_chain_form(&pairs, &[]).unwrap_or_else(|e| panic!("{}", e.message));
        let steps: Vec<(Role, StepMode)> = chain
            .chain
            .steps()
            .iter()
            .map(|s| (s.role, s.mode))
            .collect();
        assert_eq!(
            steps,
            vec![
                (Role::MedicalReviewer, StepMode::Any),
                (Role::LegalReviewer, StepMode::All)
            ]
        );
        assert_eq!(chain.content_type.as_deref(), Some("brand_promotion"));
        let empty: Vec<(String, String)> = vec![("name".into(), "X".into())];
        assert!(
            parse_chain_form(&empty, &[]).is_err(),
            "a chain needs a step"
        );
        let bad_channel: Vec<(String, String)> = vec![
            ("name".into(), "X".into()),
            ("channel".into(), "9".into()),
            ("role_1".into(), "admin".into()),
        ];
        assert!(parse_chain_form(&bad_channel, &[1]).is_err());
    }
}
