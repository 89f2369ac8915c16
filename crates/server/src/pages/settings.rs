//! Organization settings, the role × permission table and the connected channels.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rounds_domain::input::check_name;
use rounds_domain::{OrgKind, Permission, Role};
use rounds_store::Channel;
use serde::Deserialize;

use super::NoticeQuery;
use super::compose::time_zone;
use crate::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::session::Viewer;
use crate::views::{Layout, render, render_status};

/// The zones most organizations pick, offered ahead of the full alphabetical list.
const COMMON_ZONES: [&str; 6] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "UTC",
];

struct MatrixRow {
    label: &'static str,
    cells: Vec<bool>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    org_name: String,
    org_kind: &'static str,
    kinds: Vec<(&'static str, &'static str)>,
    mfa_for_all: bool,
    time_zone: String,
    common_zones: Vec<&'static str>,
    other_zones: Vec<String>,
    roles: Vec<&'static str>,
    matrix: Vec<MatrixRow>,
    channels: Vec<Channel>,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    notice: Option<&str>,
    error: Option<String>,
) -> AppResult<SettingsPage> {
    let settings = state.store.settings(viewer.org.id).await?;
    let current = settings
        .get("time_zone")
        .map_or("UTC", String::as_str)
        .to_owned();
    let mut other_zones: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_owned())
        .filter(|n| !COMMON_ZONES.contains(&n.as_str()))
        .collect();
    // A stored zone the database no longer lists must still show as the selected one.
    if !COMMON_ZONES.contains(&current.as_str()) && !other_zones.contains(&current) {
        other_zones.push(current.clone());
    }
    other_zones.sort();
    Ok(SettingsPage {
        layout: Layout::new(viewer, "Settings", "/settings").with_notice(notice),
        org_name: viewer.org.name.clone(),
        org_kind: viewer.org.kind.as_str(),
        kinds: OrgKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label()))
            .collect(),
        mfa_for_all: settings
            .get("mfa_required_for_all")
            .is_some_and(|v| v == "true"),
        time_zone: current,
        common_zones: COMMON_ZONES.to_vec(),
        other_zones,
        roles: Role::ALL.iter().map(|r| r.label()).collect(),
        matrix: Permission::ALL
            .iter()
            .map(|p| MatrixRow {
                label: p.label(),
                cells: Role::ALL.iter().map(|r| r.can(*p)).collect(),
            })
            .collect(),
        channels: state.store.channels(viewer.org.id).await?,
        error,
    })
}

/// The settings page.
pub(crate) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    Ok(render(
        &page(&state, &viewer, q.notice.as_deref(), None).await?,
    ))
}

/// Settings form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct SettingsForm {
    #[serde(default)]
    org_name: String,
    #[serde(default)]
    org_kind: String,
    /// A checkbox: present when ticked.
    mfa_required_for_all: Option<String>,
    /// An IANA name; absent leaves the stored zone as it is.
    time_zone: Option<String>,
}

/// Saves the organization's name, kind, sign-in policy and time zone; each change is audited with old and new value.
pub(crate) async fn save(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    let checked = (|| -> Result<(String, OrgKind, Option<String>), AppError> {
        let zone = form.time_zone.as_deref().map(str::trim);
        if let Some(z) = zone {
            time_zone(z).map_err(|m| AppError::with(ErrorCode::InvalidInput, m))?;
        }
        Ok((
            check_name("Organization name", &form.org_name, 120)?,
            form.org_kind.parse()?,
            zone.map(str::to_owned),
        ))
    })();
    let (name, kind, zone) = match checked {
        Ok(v) => v,
        Err(e) => {
            return Ok(render_status(
                StatusCode::BAD_REQUEST,
                &page(&state, &viewer, None, Some(e.message)).await?,
            ));
        }
    };
    if name != viewer.org.name || kind != viewer.org.kind {
        state
            .store
            .update_org(viewer.org.id, &name, kind, &viewer.actor())
            .await?;
    }
    let mfa_for_all = if form.mfa_required_for_all.is_some() {
        "true"
    } else {
        "false"
    };
    let current = state.store.settings(viewer.org.id).await?;
    if current
        .get("mfa_required_for_all")
        .map_or("false", String::as_str)
        != mfa_for_all
    {
        state
            .store
            .set_setting(
                viewer.org.id,
                "mfa_required_for_all",
                mfa_for_all,
                &viewer.actor(),
            )
            .await?;
    }
    if let Some(zone) = zone
        && current.get("time_zone").map_or("UTC", String::as_str) != zone
    {
        state
            .store
            .set_setting(viewer.org.id, "time_zone", &zone, &viewer.actor())
            .await?;
    }
    Ok(Redirect::to("/settings?notice=settings_saved").into_response())
}
