//! Users: list, invite, change roles, disable, reset a lost second factor, sign someone out.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rounds_domain::secret::{random_token, sha256_hex};
use rounds_domain::{Email, Role};
use rounds_store::{NewInvitation, User};
use serde::Deserialize;

use super::NoticeQuery;
use super::account::when;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::session::Viewer;
use crate::views::{Layout, render, render_status};
use crate::{AppState, now_ms};

/// How long an invitation link works.
const INVITATION_DAYS: i64 = 7;

struct UserRow {
    id: i64,
    name: String,
    email: String,
    role: Role,
    mfa: bool,
    disabled: bool,
    last_login: String,
    is_self: bool,
}

struct InvitationRow {
    email: String,
    role: &'static str,
    expires: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    invitations: Vec<InvitationRow>,
    roles: Vec<(&'static str, &'static str)>,
    invite_link: Option<String>,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    notice: Option<&str>,
    invite_link: Option<String>,
    error: Option<String>,
) -> AppResult<UsersPage> {
    let users = state
        .store
        .users(viewer.org.id)
        .await?
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            is_self: u.id == viewer.user.id,
            name: u.display_name,
            email: u.email,
            role: u.role,
            mfa: u.mfa_enabled,
            disabled: u.disabled,
            last_login: u.last_login_at.map(when).unwrap_or_else(|| "never".into()),
        })
        .collect();
    let invitations = state
        .store
        .invitations(viewer.org.id)
        .await?
        .into_iter()
        .map(|i| InvitationRow {
            email: i.email,
            role: i.role.label(),
            expires: when(i.expires_at),
        })
        .collect();
    let roles = Role::ALL
        .iter()
        .filter(|r| **r != Role::Admin || viewer.user.role == Role::Admin)
        .map(|r| (r.as_str(), r.label()))
        .collect();
    Ok(UsersPage {
        layout: Layout::new(viewer, "Users", "/users").with_notice(notice),
        users,
        invitations,
        roles,
        invite_link,
        error,
    })
}

/// The users of the organization and open invitations.
pub(crate) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    Ok(render(
        &page(&state, &viewer, q.notice.as_deref(), None, None).await?,
    ))
}

/// Only administrators hand out or take away the administrator role.
fn may_assign(viewer: &Viewer, role: Role) -> Result<(), AppError> {
    if role == Role::Admin && viewer.user.role != Role::Admin {
        return Err(AppError::with(
            ErrorCode::Forbidden,
            "Only an administrator can grant or remove the Admin role.",
        ));
    }
    Ok(())
}

/// A user of the viewer's organization who is not the viewer.
async fn other_user(state: &AppState, viewer: &Viewer, id: i64) -> AppResult<User> {
    let user = state
        .store
        .user(id)
        .await?
        .filter(|u| u.org_id == viewer.org.id)
        .ok_or_else(|| AppError::with(ErrorCode::NotFound, "No such user."))?;
    if user.id == viewer.user.id {
        return Err(AppError::with(
            ErrorCode::Conflict,
            "You cannot change your own role or access here; ask another administrator.",
        ));
    }
    if user.role == Role::Admin {
        may_assign(viewer, Role::Admin)?;
    }
    Ok(user)
}

/// Invitation form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

/// Creates an invitation and shows its link once (Rounds sends no email; pass the link on securely).
pub(crate) async fn invite(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    let checked = (|| -> Result<(Email, Role), AppError> {
        let email = Email::parse(&form.email)?;
        let role: Role = form
            .role
            .parse()
            .map_err(|e: rounds_domain::access::UnknownRole| {
                AppError::with(ErrorCode::InvalidInput, e.to_string())
            })?;
        may_assign(&viewer, role)?;
        Ok((email, role))
    })();
    let (email, role) = match checked {
        Ok(v) => v,
        Err(e) => {
            return Ok(render_status(
                e.code.status(),
                &page(&state, &viewer, None, None, Some(e.message)).await?,
            ));
        }
    };
    let token = random_token()?;
    let inv = NewInvitation {
        org_id: viewer.org.id,
        email,
        role,
        token_hash: sha256_hex(token.as_bytes()),
        expires_at: now_ms() + INVITATION_DAYS * 86_400_000,
    };
    match state.store.create_invitation(&inv, &viewer.actor()).await {
        Ok(_) => {
            let link = format!("{}/invite/{token}", state.config.public_url());
            Ok(render(
                &page(&state, &viewer, None, Some(link), None).await?,
            ))
        }
        Err(rounds_store::StoreError::Conflict(msg)) => Ok(render_status(
            StatusCode::CONFLICT,
            &page(&state, &viewer, None, None, Some(msg.into())).await?,
        )),
        Err(e) => Err(e.into()),
    }
}

/// Role change form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct RoleForm {
    #[serde(default)]
    role: String,
}

/// Changes a user's role.
pub(crate) async fn set_role(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> AppResult<Response> {
    let user = other_user(&state, &viewer, id).await?;
    let role: Role = form
        .role
        .parse()
        .map_err(|e: rounds_domain::access::UnknownRole| {
            AppError::with(ErrorCode::InvalidInput, e.to_string())
        })?;
    may_assign(&viewer, role)?;
    state.store.set_role(user.id, role, &viewer.actor()).await?;
    Ok(Redirect::to("/users?notice=role_changed").into_response())
}

/// Disables a user and ends their sessions.
pub(crate) async fn disable(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let user = other_user(&state, &viewer, id).await?;
    state
        .store
        .set_disabled(user.id, true, &viewer.actor())
        .await?;
    Ok(Redirect::to("/users?notice=user_disabled").into_response())
}

/// Re-enables a user.
pub(crate) async fn enable(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let user = other_user(&state, &viewer, id).await?;
    state
        .store
        .set_disabled(user.id, false, &viewer.actor())
        .await?;
    Ok(Redirect::to("/users?notice=user_enabled").into_response())
}

/// Removes a user's second factor (lost phone); they enrol again at next sign-in.
pub(crate) async fn reset_mfa(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let user = other_user(&state, &viewer, id).await?;
    state.store.reset_mfa(user.id, &viewer.actor()).await?;
    Ok(Redirect::to("/users?notice=mfa_reset").into_response())
}

/// Signs a user out everywhere.
pub(crate) async fn revoke_sessions(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let user = other_user(&state, &viewer, id).await?;
    state
        .store
        .revoke_sessions(user.id, None, &viewer.actor())
        .await?;
    Ok(Redirect::to("/users?notice=user_sessions_revoked").into_response())
}
