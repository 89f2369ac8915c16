//! The post page: the current version with its findings, its history, the approval chain's
//! progress, the publishing jobs and publications, and the author's actions (edit, submit,
//! reschedule, delete from a network).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use connectors::RemoteRef;
use jiff::tz::TimeZone;
use rounds_domain::Permission;
use rounds_store::{Post, PostStatus};
use serde::Deserialize;

use super::NoticeQuery;
use super::channels::{connector_for, failed_status, network_error};
use super::compose::{
    format_local, media_of_post, org_time_zone, parse_local, screen_post, store_error,
    submit_checked, when_local,
};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::screening::{Screened, shape};
use crate::session::Viewer;
use crate::views::{Layout, render, render_status};
use crate::{AppState, now_ms};

/// One version in the history.
struct VersionRow {
    version: i64,
    by: String,
    when: String,
    overridden: String,
}

/// One step of the chain with who decided it.
struct StepRow {
    number: usize,
    role: &'static str,
    mode: &'static str,
    decisions: Vec<String>,
}

/// One publishing job.
struct JobRow {
    channel: String,
    version: i64,
    state: &'static str,
    attempts: i64,
    next_try: String,
    last_error: String,
}

/// One publication.
struct PublicationRow {
    id: i64,
    channel: String,
    version: i64,
    url: String,
    when: String,
    deleted: String,
}

#[derive(Template)]
#[template(path = "post.html")]
struct PostPage {
    layout: Layout,
    id: i64,
    version: i64,
    status: &'static str,
    status_note: String,
    channels: String,
    content_type: String,
    paid: bool,
    scheduled: String,
    scheduled_value: String,
    tz_name: String,
    screened: Screened,
    versions: Vec<VersionRow>,
    steps: Vec<StepRow>,
    other_decisions: Vec<String>,
    jobs: Vec<JobRow>,
    publications: Vec<PublicationRow>,
    can_edit: bool,
    can_submit: bool,
    can_override: bool,
    can_reschedule: bool,
    can_delete: bool,
    error: Option<String>,
}

/// Whether the viewer may change the post's time: its author, or a role that may publish.
fn may_reschedule(viewer: &Viewer, post: &Post) -> bool {
    viewer.can(Permission::Publish)
        || (viewer.can(Permission::ComposePosts) && post.author_id == Some(viewer.user.id))
}

async fn post_page(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    error: Option<String>,
) -> AppResult<PostPage> {
    let post = state.store.post(viewer.org.id, id).await?;
    let (tz_name, tz) = org_time_zone(state, viewer.org.id).await?;
    let users: HashMap<i64, String> = state
        .store
        .users(viewer.org.id)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect();
    let name = |id: Option<i64>| {
        id.and_then(|i| users.get(&i).cloned())
            .unwrap_or_else(|| "Rounds".to_owned())
    };
    let channel_names: HashMap<i64, String> = state
        .store
        .channels(viewer.org.id)
        .await?
        .into_iter()
        .map(|c| (c.id, format!("{} ({})", c.display_name, c.network)))
        .collect();
    let channel = |id: i64| {
        channel_names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("channel {id}"))
    };
    let versions = state.store.post_versions(viewer.org.id, id).await?;
    let media = media_of_post(state, viewer.org.id, &post).await?;
    let report = screen_post(state, &post.body, post.paid, &media)?;
    let record = state.store.approval_record(viewer.org.id, id).await?;
    let decision_line = |e: &rounds_store::ApprovalEntry| {
        let mut line = format!(
            "{} — {} on version {} at {}",
            e.user_name,
            e.decision.label(),
            e.version,
            when_local(e.at_ms, &tz)
        );
        if let Some(c) = e.comment.as_deref().filter(|c| !c.trim().is_empty()) {
            line.push_str(&format!(": “{c}”"));
        }
        line
    };
    let current = versions.iter().find(|v| v.version == post.version);
    let steps = current
        .and_then(|v| v.chain.as_ref())
        .map(|chain| {
            chain
                .steps()
                .iter()
                .enumerate()
                .map(|(i, s)| StepRow {
                    number: i + 1,
                    role: s.role.label(),
                    mode: match s.mode {
                        rounds_domain::publishing::StepMode::Any => "any one member",
                        rounds_domain::publishing::StepMode::All => "every member",
                    },
                    decisions: record
                        .iter()
                        .filter(|e| e.version == post.version && e.step == i)
                        .map(decision_line)
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    let other_decisions = record
        .iter()
        .filter(|e| e.version != post.version)
        .map(decision_line)
        .collect();
    let jobs = state
        .store
        .jobs_of_post(viewer.org.id, id)
        .await?
        .into_iter()
        .map(|j| JobRow {
            channel: channel(j.channel_id),
            version: j.version,
            state: j.state.as_str(),
            attempts: j.attempts,
            next_try: if matches!(j.state, rounds_store::JobState::Queued) {
                when_local(j.run_at, &tz)
            } else {
                String::new()
            },
            last_error: j.last_error.unwrap_or_default(),
        })
        .collect();
    let publications = state
        .store
        .publications(viewer.org.id, id)
        .await?
        .into_iter()
        .map(|p| PublicationRow {
            id: p.id,
            channel: channel(p.channel_id),
            version: p.version,
            url: p
                .url
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .unwrap_or_default(),
            when: when_local(p.published_at, &tz),
            deleted: p.deleted_at.map(|t| when_local(t, &tz)).unwrap_or_default(),
        })
        .collect();
    let content_type = super::compose::CONTENT_TYPES
        .iter()
        .find(|(v, _)| *v == post.content_type)
        .map_or(post.content_type.clone(), |(_, l)| (*l).to_owned());
    let can_compose = viewer.can(Permission::ComposePosts);
    Ok(PostPage {
        layout: Layout::new(viewer, format!("Post {id}"), ""),
        id,
        version: post.version,
        status: post.status.label(),
        status_note: post.status_note.clone().unwrap_or_default(),
        channels: post
            .channel_ids
            .iter()
            .map(|c| channel(*c))
            .collect::<Vec<_>>()
            .join(", "),
        content_type,
        paid: post.paid,
        scheduled: post
            .scheduled_at
            .map(|t| when_local(t, &tz))
            .unwrap_or_default(),
        scheduled_value: post
            .scheduled_at
            .map(|t| format_local(t, &tz))
            .unwrap_or_default(),
        tz_name,
        screened: shape(&post.body, &report),
        versions: versions
            .iter()
            .rev()
            .map(|v| VersionRow {
                version: v.version,
                by: name(v.created_by),
                when: when_local(v.created_at, &tz),
                overridden: v
                    .override_reason
                    .clone()
                    .map(|r| format!("{} overrode screening: “{r}”", name(v.override_by)))
                    .unwrap_or_default(),
            })
            .collect(),
        steps,
        other_decisions,
        jobs,
        publications,
        can_edit: can_compose && post.status.is_pre_publication(),
        can_submit: can_compose && post.status == PostStatus::Draft,
        can_override: viewer.can(Permission::Publish),
        can_reschedule: may_reschedule(viewer, &post)
            && matches!(
                post.status,
                PostStatus::Approved
                    | PostStatus::Scheduled
                    | PostStatus::NeedsReschedule
                    | PostStatus::Failed
            ),
        can_delete: viewer.can(Permission::Publish),
        error,
    })
}

/// The post page.
pub(crate) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    let mut page = post_page(&state, &viewer, id, None).await?;
    page.layout = page.layout.with_notice(q.notice.as_deref());
    Ok(render(&page))
}

async fn refused(state: &AppState, viewer: &Viewer, id: i64, e: AppError) -> AppResult<Response> {
    if e.code == ErrorCode::NotFound {
        return Err(e);
    }
    let status = e.code.status();
    let page = post_page(state, viewer, id, Some(e.message)).await?;
    Ok(render_status(status, &page))
}

/// Submit form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct SubmitForm {
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    override_reason: String,
}

/// Submits the current version for approval (checked again on the server).
pub(crate) async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<SubmitForm>,
) -> AppResult<Response> {
    let post = state.store.post(viewer.org.id, id).await?;
    if form.version.is_some_and(|v| v != post.version) {
        let e = AppError::with(
            ErrorCode::Conflict,
            "This post changed since you opened it; check the new version before submitting it.",
        );
        return refused(&state, &viewer, id, e).await;
    }
    match submit_checked(&state, &viewer, &post, Some(&form.override_reason)).await {
        Ok(_) => Ok(Redirect::to(&format!("/posts/{id}?notice=submitted")).into_response()),
        Err(e) => refused(&state, &viewer, id, e).await,
    }
}

/// Reschedule form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct RescheduleForm {
    #[serde(default)]
    at: String,
}

/// Gives an approved, scheduled, late or failed post a new time (in the organization's time zone).
pub(crate) async fn reschedule(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<RescheduleForm>,
) -> AppResult<Response> {
    let post = state.store.post(viewer.org.id, id).await?;
    let (_, tz) = org_time_zone(&state, viewer.org.id).await?;
    match reschedule_to(&state, &viewer, &post, &form.at, &tz).await {
        Ok(()) => Ok(Redirect::to(&format!("/posts/{id}?notice=rescheduled")).into_response()),
        Err(e) => refused(&state, &viewer, id, e).await,
    }
}

async fn reschedule_to(
    state: &AppState,
    viewer: &Viewer,
    post: &Post,
    at: &str,
    tz: &TimeZone,
) -> AppResult<()> {
    let at_ms = parse_local(at, tz).map_err(|m| AppError::with(ErrorCode::InvalidInput, m))?;
    schedule_post(state, viewer, post, at_ms).await.map(|_| ())
}

/// Moves a post to `at_ms`, for its author or a role that may publish; the time must lie ahead.
pub(crate) async fn schedule_post(
    state: &AppState,
    viewer: &Viewer,
    post: &Post,
    at_ms: i64,
) -> AppResult<Post> {
    if !may_reschedule(viewer, post) {
        return Err(AppError::with(
            ErrorCode::Forbidden,
            "Only the post's author or someone who may publish can change its time.",
        ));
    }
    if at_ms < now_ms() {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            "Pick a time in the future.",
        ));
    }
    state
        .store
        .reschedule(viewer.org.id, post.id, at_ms, &viewer.actor())
        .await
        .map_err(store_error)
}

/// Deletes a publication from its network, then records that it is gone (and archives the deletion).
pub(crate) async fn delete_publication(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, publication)): Path<(i64, i64)>,
) -> AppResult<Response> {
    let found = state
        .store
        .publications(viewer.org.id, id)
        .await?
        .into_iter()
        .find(|p| p.id == publication)
        .ok_or(AppError::with(
            ErrorCode::NotFound,
            "publication not found.",
        ))?;
    if found.deleted_at.is_none() {
        let remote: RemoteRef = match serde_json::from_value(found.remote.clone()) {
            Ok(r) => r,
            Err(_) => match found.remote.as_str() {
                Some(s) => RemoteRef::new(s),
                None => return Err(AppError::internal("publication has no network id")),
            },
        };
        let connector = match connector_for(&state, viewer.org.id, found.channel_id).await {
            Ok(c) => c,
            Err(e) => return refused(&state, &viewer, id, e).await,
        };
        if let Err(e) = connector.delete(&remote).await {
            // Already gone from the network: record it as deleted all the same.
            if e.kind != connectors::ErrorKind::NotFound {
                if e.needs_reconnect() {
                    state
                        .store
                        .record_channel_error(
                            found.channel_id,
                            failed_status(&e),
                            &e.to_string(),
                            now_ms(),
                        )
                        .await?;
                }
                return refused(&state, &viewer, id, network_error(&e)).await;
            }
        }
        state
            .store
            .mark_publication_deleted(viewer.org.id, publication, &viewer.actor())
            .await?;
    }
    Ok(Redirect::to(&format!("/posts/{id}?notice=publication_deleted")).into_response())
}
