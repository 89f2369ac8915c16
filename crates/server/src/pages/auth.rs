//! First-run set-up, sign-in, the second-factor step, invitations and sign-out.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rounds_domain::input::{check_name, check_password};
use rounds_domain::secret::{hash_password, sha256_hex};
use rounds_domain::{AuditAction, Email, OrgKind, Role};
use rounds_store::{Actor, NewOrg, NewUser};
use serde::Deserialize;
use serde_json::json;

use super::{NoticeQuery, safe_next};
use crate::auth::{self, CodeCheck, SignIn};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::session::{ClientInfo, MaybeViewer, Viewer, clear_cookie, set_cookie};
use crate::views::{Layout, render, render_status};
use crate::{AppState, now_ms};

/// Set-up form fields (also what the page shows again after an error).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SetupForm {
    #[serde(default)]
    org_name: String,
    #[serde(default)]
    org_kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    layout: Layout,
    form: SetupForm,
    kinds: Vec<(&'static str, &'static str)>,
    error: Option<String>,
}

fn kinds() -> Vec<(&'static str, &'static str)> {
    OrgKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label()))
        .collect()
}

async fn setup_closed(state: &AppState) -> AppResult<()> {
    if state.store.is_set_up().await? {
        return Err(AppError::with(
            ErrorCode::NotFound,
            "Set-up is complete. Sign in instead.",
        ));
    }
    Ok(())
}

/// The first-run page: creates the organization and its first admin, then closes for good.
pub(crate) async fn setup_form(State(state): State<AppState>) -> AppResult<Response> {
    setup_closed(&state).await?;
    let form = SetupForm {
        org_kind: "hospital".into(),
        ..SetupForm::default()
    };
    Ok(render(&SetupPage {
        layout: Layout::anonymous("Set up Rounds"),
        form,
        kinds: kinds(),
        error: None,
    }))
}

/// Creates the organization and the first admin, and signs the admin in.
pub(crate) async fn setup_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    Form(form): Form<SetupForm>,
) -> AppResult<Response> {
    setup_closed(&state).await?;
    let checked = (|| -> Result<(NewOrg, NewUser, String), AppError> {
        let org_name = check_name("Organization name", &form.org_name, 120)?;
        let kind: OrgKind = form.org_kind.parse()?;
        let name = check_name("Your name", &form.name, 120)?;
        let email = Email::parse(&form.email)?;
        check_password(&form.password, Some(&email))?;
        if form.password != form.password_again {
            return Err(AppError::with(
                ErrorCode::InvalidInput,
                "The two passwords differ.",
            ));
        }
        Ok((
            NewOrg {
                name: org_name,
                kind,
                is_demo: false,
            },
            NewUser {
                email,
                display_name: name,
                role: Role::Admin,
                password_hash: String::new(),
            },
            form.password.clone(),
        ))
    })();
    let (org, mut admin, password) = match checked {
        Ok(v) => v,
        Err(e) => {
            let page = SetupPage {
                layout: Layout::anonymous("Set up Rounds"),
                form: SetupForm {
                    password: String::new(),
                    password_again: String::new(),
                    ..form
                },
                kinds: kinds(),
                error: Some(e.message),
            };
            return Ok(render_status(StatusCode::BAD_REQUEST, &page));
        }
    };
    admin.password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AppError::internal)??;
    let (_, user) = state
        .store
        .complete_setup(&org, &admin, client.ip.as_deref())
        .await?;
    let id = auth::open_session(&state, &user, true, client.ip.clone(), client.user_agent).await?;
    state
        .store
        .audit(
            &Actor::user(&user, client.ip),
            AuditAction::LoginSucceeded,
            &format!("user:{}", user.id),
            json!({"mfa": false, "via": "setup"}),
        )
        .await?;
    // Admins must enrol a second factor; the access layer sends them to enrolment next.
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(&id, state.config.secure_cookies()),
        )],
        Redirect::to("/account/mfa"),
    )
        .into_response())
}

/// Sign-in form fields.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

/// Sign-in query: where to go afterwards, and a notice.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    next: String,
    error: Option<String>,
}

/// The sign-in page (sends a fresh installation to set-up first).
pub(crate) async fn login_form(
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
) -> AppResult<Response> {
    if !state.store.is_set_up().await? {
        return Ok(Redirect::to("/setup").into_response());
    }
    let layout = Layout::anonymous("Sign in").with_notice(q.notice.as_deref());
    Ok(render(&LoginPage {
        layout,
        email: String::new(),
        next: safe_next(q.next.as_deref()),
        error: None,
    }))
}

/// Checks the password and starts a session (or the second-factor step).
pub(crate) async fn login_submit(
    State(state): State<AppState>,
    MaybeViewer(current): MaybeViewer,
    client: ClientInfo,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let next = safe_next(form.next.as_deref());
    let outcome = auth::sign_in(
        &state,
        &form.email,
        &form.password,
        client.ip,
        client.user_agent,
    )
    .await?;
    let (status, error) = match outcome {
        SignIn::Session { id, pending_code } => {
            if let Some(old) = current.as_ref().and_then(Viewer::session_hash) {
                state.store.delete_session(old).await?;
            }
            let target = if pending_code {
                format!("/login/mfa?next={}", crate::layers::urlencode(&next))
            } else {
                next
            };
            return Ok((
                [(
                    header::SET_COOKIE,
                    set_cookie(&id, state.config.secure_cookies()),
                )],
                Redirect::to(&target),
            )
                .into_response());
        }
        SignIn::Failed => (StatusCode::UNAUTHORIZED, auth::FAILED),
        SignIn::Locked => (StatusCode::TOO_MANY_REQUESTS, auth::LOCKED),
    };
    let page = LoginPage {
        layout: Layout::anonymous("Sign in"),
        email: form.email.chars().take(254).collect(),
        next,
        error: Some(error.to_owned()),
    };
    Ok(render_status(status, &page))
}

/// Second-factor form fields.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct MfaForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage {
    layout: Layout,
    next: String,
    error: Option<String>,
}

/// Asks for the TOTP or a recovery code after the password.
pub(crate) async fn mfa_form(viewer: Viewer, Query(q): Query<LoginQuery>) -> Response {
    if viewer.mfa != crate::session::MfaState::CodePending {
        return Redirect::to(&safe_next(q.next.as_deref())).into_response();
    }
    render(&MfaPage {
        layout: Layout::pending(&viewer, "Two-factor sign-in"),
        next: safe_next(q.next.as_deref()),
        error: None,
    })
}

/// Checks the code; on success the session counts as fully signed in.
pub(crate) async fn mfa_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<MfaForm>,
) -> AppResult<Response> {
    let next = safe_next(form.next.as_deref());
    let Some(hash) = viewer.session_hash() else {
        return Err(AppError::new(ErrorCode::Unauthenticated));
    };
    if viewer.mfa != crate::session::MfaState::CodePending {
        return Ok(Redirect::to(&next).into_response());
    }
    let (status, error) = match auth::check_code(
        &state,
        &viewer.user,
        &form.code,
        viewer.ip.clone(),
    )
    .await?
    {
        CodeCheck::Accepted { recovery } => {
            state.store.mark_session_mfa(hash).await?;
            state
                .store
                .audit(
                    &viewer.actor(),
                    AuditAction::LoginSucceeded,
                    &format!("user:{}", viewer.user.id),
                    json!({"mfa": true, "recovery_code": recovery}),
                )
                .await?;
            return Ok(Redirect::to(&next).into_response());
        }
        CodeCheck::Rejected => (
            StatusCode::UNAUTHORIZED,
            "That code is wrong, expired or already used. Codes work once; wait for the next one.",
        ),
        CodeCheck::Locked => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong codes. Wait 15 minutes, then try again.",
        ),
    };
    Ok(render_status(
        status,
        &MfaPage {
            layout: Layout::pending(&viewer, "Two-factor sign-in"),
            next,
            error: Some(error.to_owned()),
        },
    ))
}

/// Ends this session.
pub(crate) async fn logout(State(state): State<AppState>, viewer: Viewer) -> AppResult<Response> {
    if let Some(hash) = viewer.session_hash() {
        state.store.delete_session(hash).await?;
    }
    state
        .store
        .audit(
            &viewer.actor(),
            AuditAction::Logout,
            &format!("user:{}", viewer.user.id),
            json!({}),
        )
        .await?;
    Ok((
        [(header::SET_COOKIE, clear_cookie())],
        Redirect::to("/login?notice=signed_out"),
    )
        .into_response())
}

/// Invitation acceptance form fields.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct InviteForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

#[derive(Template)]
#[template(path = "invite.html")]
struct InvitePage {
    layout: Layout,
    token: String,
    email: String,
    role: &'static str,
    org_name: String,
    name: String,
    error: Option<String>,
}

fn invalid_invitation() -> AppError {
    AppError::with(
        ErrorCode::NotFound,
        "This invitation link is invalid, has expired or was already used. Ask your administrator for a new one.",
    )
}

/// Shows an invitation: the email, the role, and a form to choose a name and password.
pub(crate) async fn invite_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(_): Query<NoticeQuery>,
) -> AppResult<Response> {
    let inv = state
        .store
        .invitation_by_token(&sha256_hex(token.as_bytes()), now_ms())
        .await?
        .ok_or_else(invalid_invitation)?;
    let org = state.store.org(inv.org_id).await?;
    let page = InvitePage {
        layout: Layout::anonymous("Join Rounds"),
        token,
        email: inv.email,
        role: inv.role.label(),
        org_name: org.name,
        name: String::new(),
        error: None,
    };
    Ok(render(&page))
}

/// Creates the invited account.
pub(crate) async fn invite_submit(
    State(state): State<AppState>,
    Path(token): Path<String>,
    client: ClientInfo,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    let inv = state
        .store
        .invitation_by_token(&sha256_hex(token.as_bytes()), now_ms())
        .await?
        .ok_or_else(invalid_invitation)?;
    let email = Email::parse(&inv.email)?;
    let checked = (|| -> Result<String, AppError> {
        let name = check_name("Your name", &form.name, 120)?;
        check_password(&form.password, Some(&email))?;
        if form.password != form.password_again {
            return Err(AppError::with(
                ErrorCode::InvalidInput,
                "The two passwords differ.",
            ));
        }
        Ok(name)
    })();
    let name = match checked {
        Ok(n) => n,
        Err(e) => {
            let org = state.store.org(inv.org_id).await?;
            let page = InvitePage {
                layout: Layout::anonymous("Join Rounds"),
                token,
                email: inv.email,
                role: inv.role.label(),
                org_name: org.name,
                name: form.name,
                error: Some(e.message),
            };
            return Ok(render_status(StatusCode::BAD_REQUEST, &page));
        }
    };
    let password = form.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AppError::internal)??;
    state
        .store
        .accept_invitation(inv.id, &name, &hash, client.ip.as_deref())
        .await?;
    Ok(Redirect::to("/login?notice=invitation_accepted").into_response())
}
