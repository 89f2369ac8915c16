//! The working sections: home, inbox, cases, reports and the screening page. Inbox and cases
//! screen their items as they are shown.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rounds_domain::Permission;
use rounds_store::{Channel, Page, PostStatus};
use serde::Deserialize;

use super::NoticeQuery;
use super::account::when;
use super::compose::MAX_TEXT;
use crate::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::screening::{Screened, screen};
use crate::session::Viewer;
use crate::views::{Layout, render};

fn page(limit: u32) -> Page {
    Page {
        before_id: None,
        limit,
    }
}

fn channel_names(channels: &[Channel]) -> HashMap<i64, String> {
    channels
        .iter()
        .map(|c| (c.id, format!("{} ({})", c.display_name, c.network)))
        .collect()
}

/// An inbox item with its screening.
struct ItemView {
    id: i64,
    channel: String,
    author: String,
    kind: String,
    when: String,
    status: String,
    screened: Screened,
}

async fn inbox_views(state: &AppState, viewer: &Viewer, limit: u32) -> AppResult<Vec<ItemView>> {
    let names = channel_names(&state.store.channels(viewer.org.id).await?);
    let items = state.store.inbox_items(viewer.org.id, &page(limit)).await?;
    Ok(items
        .into_iter()
        .filter_map(|i| {
            let screened = screen(state, &i.body, false).ok()?;
            Some(ItemView {
                id: i.id,
                channel: names.get(&i.channel_id).cloned().unwrap_or_default(),
                author: format!("{} ({})", i.author_name, i.author_handle),
                kind: i.kind,
                when: when(i.received_at),
                status: i.status,
                screened,
            })
        })
        .collect())
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    layout: Layout,
    can_inbox: bool,
    can_posts: bool,
    can_compose: bool,
    needs_attention: usize,
    escalations: usize,
    inbox_total: usize,
    in_review: usize,
    scheduled: usize,
}

/// Home: what needs attention now.
pub(crate) async fn dashboard(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    let (mut needs_attention, mut escalations, mut inbox_total) = (0, 0, 0);
    if viewer.can(Permission::ViewInbox) {
        let items = inbox_views(&state, &viewer, 200).await?;
        inbox_total = items.len();
        needs_attention = items.iter().filter(|i| i.screened.tone != "ok").count();
        escalations = items
            .iter()
            .filter(|i| i.screened.tone == "escalate")
            .count();
    }
    let (mut in_review, mut scheduled) = (0, 0);
    if viewer.can(Permission::ViewPosts) {
        in_review = state
            .store
            .posts(viewer.org.id, Some(PostStatus::InReview), &page(500))
            .await?
            .len();
        scheduled = state
            .store
            .posts(viewer.org.id, Some(PostStatus::Scheduled), &page(500))
            .await?
            .len();
    }
    let page = Dashboard {
        layout: Layout::new(&viewer, "Home", "/").with_notice(q.notice.as_deref()),
        can_inbox: viewer.can(Permission::ViewInbox),
        can_posts: viewer.can(Permission::ViewPosts),
        can_compose: viewer.can(Permission::ComposePosts),
        needs_attention,
        escalations,
        inbox_total,
        in_review,
        scheduled,
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    layout: Layout,
    items: Vec<ItemView>,
}

/// Every channel's comments, mentions and messages, newest first, each screened.
pub(crate) async fn inbox(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    let items = inbox_views(&state, &viewer, 100).await?;
    Ok(render(&InboxPage {
        layout: Layout::new(&viewer, "Inbox", "/inbox"),
        items,
    }))
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    layout: Layout,
    items: Vec<ItemView>,
}

/// Inbox items that will open adverse-event or crisis cases.
pub(crate) async fn cases(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    let items = inbox_views(&state, &viewer, 500)
        .await?
        .into_iter()
        .filter(|i| {
            i.screened.adverse_event.is_some()
                || i.screened
                    .findings
                    .iter()
                    .any(|f| f.category == "crisis" || f.category == "adverse_event")
        })
        .collect();
    Ok(render(&CasesPage {
        layout: Layout::new(&viewer, "Cases", "/cases"),
        items,
    }))
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    layout: Layout,
    decisions: Vec<(String, usize)>,
    categories: Vec<(String, usize)>,
    statuses: Vec<(&'static str, usize)>,
    total: usize,
}

/// Counts: inbox decisions and finding categories, posts by status.
pub(crate) async fn reports(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    let items = inbox_views(&state, &viewer, 500).await?;
    let mut decisions: BTreeMap<String, usize> = BTreeMap::new();
    let mut categories: BTreeMap<String, usize> = BTreeMap::new();
    for i in &items {
        *decisions.entry(i.screened.decision.to_owned()).or_default() += 1;
        let mut seen: Vec<&str> = i.screened.findings.iter().map(|f| f.category).collect();
        seen.sort_unstable();
        seen.dedup();
        for c in seen {
            *categories.entry(c.to_owned()).or_default() += 1;
        }
    }
    let posts = state.store.posts(viewer.org.id, None, &page(500)).await?;
    let statuses = [
        PostStatus::Draft,
        PostStatus::InReview,
        PostStatus::Approved,
        PostStatus::Scheduled,
        PostStatus::Published,
        PostStatus::Rejected,
    ]
    .iter()
    .map(|s| (s.label(), posts.iter().filter(|p| p.status == *s).count()))
    .collect();
    let page = ReportsPage {
        layout: Layout::new(&viewer, "Reports", "/reports"),
        total: items.len(),
        decisions: decisions.into_iter().collect(),
        categories: categories.into_iter().collect(),
        statuses,
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "screen.html")]
struct ScreenPage {
    layout: Layout,
    text: String,
    outgoing: bool,
    result: Option<Screened>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "screen_result.html")]
struct ScreenResult {
    result: Screened,
}

/// The screening page: paste any text and see what the engine finds and why.
pub(crate) async fn screen_form(viewer: Viewer) -> Response {
    render(&ScreenPage {
        layout: Layout::new(&viewer, "Screen text", "/screen"),
        text: String::new(),
        outgoing: true,
        result: None,
        error: None,
    })
}

/// Screening form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct ScreenForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    direction: String,
}

/// Screens the text; htmx requests get only the result fragment.
pub(crate) async fn screen_check(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(form): Form<ScreenForm>,
) -> AppResult<Response> {
    let outgoing = form.direction != "incoming";
    if form.text.len() > MAX_TEXT {
        return Err(AppError::with(
            ErrorCode::InvalidInput,
            format!("The text is longer than {MAX_TEXT} bytes."),
        ));
    }
    let result = screen(&state, &form.text, outgoing)
        .map_err(|e| AppError::with(ErrorCode::InvalidInput, e))?;
    if headers.contains_key("hx-request") {
        return Ok(render(&ScreenResult { result }));
    }
    let layout = Layout::new(&viewer, "Screen text", "/screen");
    Ok(render(&ScreenPage {
        layout,
        text: form.text,
        outgoing,
        result: Some(result),
        error: None,
    }))
}
