//! The signed-in person's own account: password, second factor, sessions and API tokens.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use rounds_domain::input::check_password;
use rounds_domain::secret::{hash_password, random_token, sha256_hex, verify_password};
use rounds_domain::{Email, Permission};
use serde::Deserialize;

use super::NoticeQuery;
use crate::auth;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::session::{MfaState, Viewer};
use crate::views::{Layout, render, render_status};
use crate::{AppState, now_ms};

/// A session as the account page lists it.
struct SessionRow {
    started: String,
    last_seen: String,
    ip: String,
    browser: String,
    current: bool,
}

/// An API token as the account page lists it.
struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    permissions: Vec<&'static str>,
    mfa_enabled: bool,
    recovery_left: i64,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    new_token: Option<String>,
    error: Option<String>,
}

/// Formats Unix milliseconds as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| "?".into(),
        |t| t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

async fn account_page(
    state: &AppState,
    viewer: &Viewer,
    notice: Option<&str>,
    new_token: Option<String>,
    error: Option<String>,
) -> AppResult<AccountPage> {
    let current = viewer.session_hash().unwrap_or_default();
    let sessions = state
        .store
        .sessions_of(viewer.user.id)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            started: when(s.created_at),
            last_seen: when(s.last_seen_at),
            ip: s.ip.unwrap_or_default(),
            browser: s.user_agent.unwrap_or_default(),
            current: s.id_hash == current,
        })
        .collect();
    let tokens = state
        .store
        .api_tokens(viewer.user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created: when(t.created_at),
            last_used: t.last_used_at.map(when).unwrap_or_else(|| "never".into()),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    Ok(AccountPage {
        layout: Layout::new(viewer, "Your account", "").with_notice(notice),
        permissions: viewer
            .user
            .role
            .permissions()
            .map(Permission::label)
            .collect(),
        mfa_enabled: viewer.user.mfa_enabled,
        recovery_left: if viewer.user.mfa_enabled {
            state.store.recovery_codes_left(viewer.user.id).await?
        } else {
            0
        },
        sessions,
        tokens,
        new_token,
        error,
    })
}

/// The account page.
pub(crate) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    Ok(render(
        &account_page(&state, &viewer, q.notice.as_deref(), None, None).await?,
    ))
}

/// Password change form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// Changes the password after checking the current one; other sessions end.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    let email = Email::parse(&viewer.user.email)?;
    let current = form.current.clone();
    let stored = viewer.user.password_hash.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&current, &stored))
        .await
        .map_err(AppError::internal)?;
    let problem = if !ok {
        Some("The current password is wrong.".to_owned())
    } else if form.password != form.password_again {
        Some("The two new passwords differ.".to_owned())
    } else {
        check_password(&form.password, Some(&email))
            .err()
            .map(|e| e.to_string())
    };
    if let Some(problem) = problem {
        let page = account_page(&state, &viewer, None, None, Some(problem)).await?;
        return Ok(render_status(StatusCode::BAD_REQUEST, &page));
    }
    let password = form.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AppError::internal)??;
    state
        .store
        .set_password(
            viewer.user.id,
            &hash,
            viewer.session_hash(),
            &viewer.actor(),
        )
        .await?;
    Ok(Redirect::to("/account?notice=password_changed").into_response())
}

/// Signs out every other session of this user.
pub(crate) async fn revoke_sessions(
    State(state): State<AppState>,
    viewer: Viewer,
) -> AppResult<Response> {
    state
        .store
        .revoke_sessions(viewer.user.id, viewer.session_hash(), &viewer.actor())
        .await?;
    Ok(Redirect::to("/account?notice=sessions_revoked").into_response())
}

/// New API token form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    name: String,
}

/// Creates a personal API token and shows it once.
pub(crate) async fn create_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<TokenForm>,
) -> AppResult<Response> {
    let name = rounds_domain::input::check_name("Token name", &form.name, 80)?;
    let token = format!("rnd_{}", random_token()?);
    let prefix: String = token.chars().take(12).collect();
    state
        .store
        .create_api_token(
            viewer.user.id,
            &name,
            &sha256_hex(token.as_bytes()),
            &prefix,
            &viewer.actor(),
        )
        .await?;
    Ok(render(
        &account_page(&state, &viewer, None, Some(token), None).await?,
    ))
}

/// Revokes one of this user's API tokens.
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    state
        .store
        .revoke_api_token(viewer.user.id, id, &viewer.actor())
        .await?;
    Ok(Redirect::to("/account?notice=token_revoked").into_response())
}

#[derive(Template)]
#[template(path = "mfa_enrol.html")]
struct EnrolPage {
    layout: Layout,
    required: bool,
    already: bool,
    secret_b32: String,
    qr_svg: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryPage {
    layout: Layout,
    codes: Vec<String>,
}

fn qr_svg(data: &str) -> AppResult<String> {
    let code = qrcode::QrCode::new(data.as_bytes()).map_err(AppError::internal)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // Inline in HTML: drop the XML prolog.
    Ok(svg
        .find("<svg")
        .map_or(svg.clone(), |i| svg[i..].to_owned()))
}

fn enrol_page(viewer: &Viewer, secret: &[u8], error: Option<String>) -> AppResult<EnrolPage> {
    let totp = auth::totp(secret, &viewer.user.email)?;
    let url = totp.to_url().map_err(AppError::internal)?;
    Ok(EnrolPage {
        layout: if viewer.mfa == MfaState::Passed {
            Layout::new(viewer, "Two-factor sign-in", "")
        } else {
            Layout::pending(viewer, "Two-factor sign-in")
        },
        required: viewer.mfa == MfaState::EnrolmentRequired,
        already: false,
        secret_b32: totp.secret().to_base32(),
        qr_svg: qr_svg(&url)?,
        error,
    })
}

/// Enrolment: a new secret as a QR code and as text, and a field for the first code.
pub(crate) async fn mfa_enrol_form(viewer: Viewer) -> AppResult<Response> {
    if viewer.mfa == MfaState::CodePending {
        return Ok(Redirect::to("/login/mfa").into_response());
    }
    if viewer.user.mfa_enabled {
        let mut page = enrol_page(&viewer, &auth::new_totp_secret()?, None)?;
        page.already = true;
        return Ok(render(&page));
    }
    Ok(render(&enrol_page(
        &viewer,
        &auth::new_totp_secret()?,
        None,
    )?))
}

/// Enrolment confirmation form fields.
#[derive(Debug, Deserialize)]
pub(crate) struct EnrolForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    code: String,
}

/// Confirms enrolment with a first code, stores the secret and shows the recovery codes once.
pub(crate) async fn mfa_enrol_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<EnrolForm>,
) -> AppResult<Response> {
    if viewer.mfa == MfaState::CodePending {
        return Err(AppError::with(
            ErrorCode::Forbidden,
            "Finish signing in with your current second factor first.",
        ));
    }
    if viewer.user.mfa_enabled {
        return Err(AppError::with(
            ErrorCode::Conflict,
            "Two-factor sign-in is already on. An administrator can reset it if you lost your device.",
        ));
    }
    let secret = totp_rs::Secret::try_from_base32(form.secret.trim())
        .ok()
        .map(|s| s.as_bytes().to_vec())
        .filter(|b| b.len() >= 16)
        .ok_or_else(|| {
            AppError::with(
                ErrorCode::BadRequest,
                "The enrolment form was damaged. Reload the page to start again.",
            )
        })?;
    let totp = auth::totp(&secret, &viewer.user.email)?;
    let code: String = form.code.chars().filter(char::is_ascii_digit).collect();
    let secs = u64::try_from(now_ms() / 1000).unwrap_or(0);
    let Some(step) = totp.check(&code, secs) else {
        let page = enrol_page(&viewer, &secret, Some("That code does not match. Check the time on your phone and enter the current code.".into()))?;
        return Ok(render_status(StatusCode::BAD_REQUEST, &page));
    };
    let (codes, hashes) = auth::recovery_codes()?;
    state
        .store
        .enable_totp(viewer.user.id, &secret, &hashes, &viewer.actor())
        .await?;
    // The code just used must not work again for sign-in.
    state
        .store
        .claim_totp_step(viewer.user.id, i64::try_from(step).unwrap_or(i64::MAX))
        .await?;
    if let Some(hash) = viewer.session_hash() {
        state.store.mark_session_mfa(hash).await?;
    }
    let mut layout = Layout::new(&viewer, "Recovery codes", "");
    layout.notice = Some("Two-factor sign-in is on.".into());
    Ok(render(&RecoveryPage { layout, codes }))
}

#[cfg(test)]
mod tests {
    use super::when;

    #[test]
    fn formats_utc_times() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_764_072_000_000), "2025-11-25 12:00 UTC");
        assert_eq!(when(951_782_400_000), "2000-02-29 00:00 UTC");
    }
}
