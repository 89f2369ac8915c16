//! In-app notifications: the unread count in the page header and the list, which marks them read.

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::calendar::Clock;
use crate::AppState;
use crate::error::AppResult;
use crate::session::Viewer;
use crate::views::{Layout, render};

/// A notification as listed.
struct NoteView {
    message: String,
    link: Option<String>,
    when: String,
    unread: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    notes: Vec<NoteView>,
}

/// The latest notifications, newest first; opening the list marks them read.
pub(crate) async fn list(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    let clock = Clock::of(&state, viewer.org.id).await?;
    let notes = state
        .store
        .notifications(viewer.user.id, false)
        .await?
        .into_iter()
        // Only links inside Rounds are followed, whatever was stored.
        .map(|n| NoteView {
            link: n.link.filter(|l| super::safe_next(Some(l)) == *l),
            when: clock.format(n.created_at),
            unread: n.read_at.is_none(),
            message: n.message,
        })
        .collect();
    state.store.mark_notifications_read(viewer.user.id).await?;
    Ok(render(&NotificationsPage {
        layout: Layout::new(&viewer, "Notifications", ""),
        notes,
    }))
}

#[derive(Template)]
#[template(path = "notifications_count.html")]
struct CountBadge {
    unread: usize,
}

/// The header badge, loaded by the page frame after the page itself.
pub(crate) async fn count(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    let unread = state.store.notifications(viewer.user.id, true).await?.len();
    Ok(render(&CountBadge { unread }))
}
