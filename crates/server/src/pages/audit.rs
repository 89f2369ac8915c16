//! The audit log: filter, page through, verify the chain, export as CSV or JSON Lines.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rounds_domain::{AuditAction, AuditRecord, CSV_HEADER};
use rounds_store::AuditFilter;
use serde::Deserialize;
use serde_json::json;

use super::account::when;
use crate::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::session::Viewer;
use crate::views::{Layout, render};

/// Page size of the audit list.
const PAGE: u32 = 50;
/// The largest export, in events, so one request cannot hold the server for long.
const EXPORT_MAX: usize = 100_000;

/// Filters shared by the page and the exports.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditQuery {
    /// Action prefix, e.g. `auth.`.
    #[serde(default)]
    action: String,
    /// Part of the actor label.
    #[serde(default)]
    actor: String,
    /// `YYYY-MM-DD`: events on or after this day (UTC).
    #[serde(default)]
    since: String,
    /// Cursor: events before this sequence number.
    before: Option<i64>,
    /// Set by the "Verify chain" button.
    verify: Option<String>,
}

impl AuditQuery {
    fn filter(&self, org_id: i64, limit: u32) -> AppResult<AuditFilter> {
        let since_ms = match self.since.trim() {
            "" => None,
            day => Some(
                day.parse::<jiff::civil::Date>()
                    .ok()
                    .and_then(|d| d.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
                    .map(|z| z.timestamp().as_millisecond())
                    .ok_or_else(|| {
                        AppError::with(
                            ErrorCode::InvalidInput,
                            "The date must look like 2026-11-25.",
                        )
                    })?,
            ),
        };
        Ok(AuditFilter {
            org_id: Some(org_id),
            action_prefix: Some(self.action.trim().to_owned()).filter(|s| !s.is_empty()),
            actor: Some(self.actor.trim().to_owned()).filter(|s| !s.is_empty()),
            since_ms,
            until_ms: None,
            before_seq: self.before,
            limit,
        })
    }

    fn query_string(&self) -> String {
        serde_urlencoded::to_string([
            ("action", self.action.as_str()),
            ("actor", self.actor.as_str()),
            ("since", self.since.as_str()),
        ])
        .unwrap_or_default()
    }
}

struct EventRow {
    seq: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
    ip: String,
}

impl From<AuditRecord> for EventRow {
    fn from(r: AuditRecord) -> EventRow {
        EventRow {
            seq: r.seq,
            at: when(r.at_ms),
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail: r.detail,
            ip: r.ip.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    q: AuditQuery,
    rows: AuditRows,
    query: String,
    verification: Option<(bool, String)>,
    prefixes: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "audit_rows.html")]
struct AuditRows {
    events: Vec<EventRow>,
    more: Option<String>,
}

async fn rows(state: &AppState, viewer: &Viewer, q: &AuditQuery) -> AppResult<AuditRows> {
    let events = state
        .store
        .audit_page(&q.filter(viewer.org.id, PAGE)?)
        .await?;
    let more = (events.len() == PAGE as usize)
        .then(|| {
            events
                .last()
                .map(|e| format!("/audit?{}&before={}", q.query_string(), e.seq))
        })
        .flatten();
    Ok(AuditRows {
        events: events.into_iter().map(EventRow::from).collect(),
        more,
    })
}

/// The audit page; with `before`, an htmx request gets only the next rows.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: axum::http::HeaderMap,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let page_rows = rows(&state, &viewer, &q).await?;
    if headers.contains_key("hx-request") && q.before.is_some() {
        return Ok(render(&page_rows));
    }
    let verification = match q.verify {
        Some(_) => Some(match state.store.audit_verify().await? {
            Ok(n) => (true, format!("The chain is intact: {n} events verified.")),
            Err(e) => (false, format!("The chain is broken: {e}.")),
        }),
        None => None,
    };
    let prefixes = vec![
        ("", "All actions"),
        ("auth.", "Sign-in and sessions"),
        ("mfa.", "Two-factor"),
        ("user.", "Users and roles"),
        ("settings.", "Settings"),
        ("api_token.", "API tokens"),
        ("audit.", "Audit exports"),
        ("setup.", "Set-up"),
    ];
    let query = q.query_string();
    Ok(render(&AuditPage {
        layout: Layout::new(&viewer, "Audit log", "/audit"),
        q,
        rows: page_rows,
        query,
        verification,
        prefixes,
    }))
}

async fn export_events(
    state: &AppState,
    viewer: &Viewer,
    q: &AuditQuery,
    format: &str,
) -> AppResult<Vec<AuditRecord>> {
    let mut filter = q.filter(viewer.org.id, 1000)?;
    filter.before_seq = None;
    let mut out = Vec::new();
    loop {
        let page = state.store.audit_page(&filter).await?;
        let last = page.last().map(|e| e.seq);
        let n = page.len();
        out.extend(page);
        match last {
            Some(seq) if n == 1000 && out.len() < EXPORT_MAX => filter.before_seq = Some(seq),
            _ => break,
        }
    }
    out.reverse();
    state.store.audit(&viewer.actor(), AuditAction::AuditExported, "audit", json!({"format": format, "events": out.len(), "action": q.action, "actor": q.actor, "since": q.since})).await?;
    Ok(out)
}

/// The matching events, oldest first, as CSV.
pub(crate) async fn export_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let events = export_events(&state, &viewer, &q, "csv").await?;
    let mut body = String::with_capacity(events.len() * 200 + 100);
    body.push_str(CSV_HEADER);
    body.push_str("\r\n");
    for e in &events {
        body.push_str(&e.csv_row());
        body.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"rounds-audit.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// The matching events, oldest first, as JSON Lines.
pub(crate) async fn export_jsonl(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<AuditQuery>,
) -> AppResult<Response> {
    let events = export_events(&state, &viewer, &q, "jsonl").await?;
    let mut body = String::with_capacity(events.len() * 300);
    for e in &events {
        body.push_str(&serde_json::to_string(e).map_err(AppError::internal)?);
        body.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"rounds-audit.jsonl\"",
            ),
        ],
        body,
    )
        .into_response())
}
