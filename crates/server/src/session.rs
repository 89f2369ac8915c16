//! Who is asking: the session cookie or a personal API token, resolved to a [`Viewer`].
//!
//! The cookie holds 256 random bits; the database holds only their SHA-256, so a copy of the
//! database gives no usable session. Idle and absolute timeouts are checked on every request.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, header};
use rounds_domain::Permission;
use rounds_domain::secret::sha256_hex;
use rounds_store::{Actor, Org, Session, User};

use crate::error::{AppError, AppResult};
use crate::{AppState, minutes_ms, now_ms};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "rounds_session";

/// Where the signed-in person stands with their second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MfaState {
    /// Passed, or not needed.
    Passed,
    /// Password accepted; the TOTP or recovery code is still to come.
    CodePending,
    /// The role (or the organization) requires MFA and none is enrolled yet.
    EnrolmentRequired,
}

/// The signed-in person making a request.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub(crate) user: User,
    pub(crate) org: Org,
    /// The browser session; `None` when the request carries an API token.
    pub(crate) session: Option<Session>,
    pub(crate) mfa: MfaState,
    pub(crate) ip: Option<String>,
}

impl Viewer {
    /// Whether the role allows `permission`.
    pub(crate) fn can(&self, permission: Permission) -> bool {
        self.user.role.can(permission)
    }

    /// The audit actor for changes this person makes.
    pub(crate) fn actor(&self) -> Actor {
        Actor::user(&self.user, self.ip.clone())
    }

    /// The CSRF token forms must echo (empty for API-token requests, which need none).
    pub(crate) fn csrf(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.csrf_token.as_str())
    }

    /// The stored hash of this request's session id.
    pub(crate) fn session_hash(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.id_hash.as_str())
    }
}

/// The client address of a request, when the server was started with connection info.
pub(crate) fn client_ip(extensions: &axum::http::Extensions) -> Option<String> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The value of one cookie.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// A `Set-Cookie` value that starts a session.
pub(crate) fn set_cookie(id: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("rounds_session=; Path=/; Max-Age=0"))
}

/// A `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("rounds_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether the organization requires a second factor of this user.
pub(crate) async fn mfa_required(state: &AppState, user: &User, org: &Org) -> AppResult<bool> {
    if org.is_demo {
        // The sandbox is for clicking through every role in minutes; its banner says MFA is off.
        return Ok(false);
    }
    if user.role.requires_mfa() {
        return Ok(true);
    }
    let settings = state.store.settings(org.id).await?;
    Ok(settings
        .get("mfa_required_for_all")
        .is_some_and(|v| v == "true"))
}

/// Resolves the request's credentials to a viewer; `None` for an anonymous request.
pub(crate) async fn resolve(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<String>,
) -> AppResult<Option<Viewer>> {
    if let Some(token) = bearer(headers) {
        let Some((_, user)) = state
            .store
            .authenticate_api_token(&sha256_hex(token.as_bytes()), now_ms())
            .await?
        else {
            return Err(AppError::with(
                crate::ErrorCode::Unauthenticated,
                "The API token is unknown, revoked or belongs to a disabled user.",
            ));
        };
        let org = state.store.org(user.org_id).await?;
        let mfa = if !user.mfa_enabled && mfa_required(state, &user, &org).await? {
            MfaState::EnrolmentRequired
        } else {
            MfaState::Passed
        };
        return Ok(Some(Viewer {
            user,
            org,
            session: None,
            mfa,
            ip,
        }));
    }
    let Some(id) = cookie(headers, COOKIE) else {
        return Ok(None);
    };
    let id_hash = sha256_hex(id.as_bytes());
    let Some((session, user)) = state.store.session(&id_hash).await? else {
        return Ok(None);
    };
    let now = now_ms();
    let idle = minutes_ms(state.config.session_idle_minutes);
    let absolute = minutes_ms(state.config.session_absolute_hours.saturating_mul(60));
    if user.disabled
        || now.saturating_sub(session.last_seen_at) > idle
        || now.saturating_sub(session.created_at) > absolute
    {
        state.store.delete_session(&id_hash).await?;
        return Ok(None);
    }
    if now.saturating_sub(session.last_seen_at) > 60_000 {
        // Once a minute is enough for the idle timeout and keeps reads from turning into writes.
        state.store.touch_session(&id_hash, now).await?;
    }
    let org = state.store.org(user.org_id).await?;
    let mfa = if user.mfa_enabled && !session.mfa_passed {
        MfaState::CodePending
    } else if !user.mfa_enabled && mfa_required(state, &user, &org).await? {
        MfaState::EnrolmentRequired
    } else {
        MfaState::Passed
    };
    Ok(Some(Viewer {
        user,
        org,
        session: Some(session),
        mfa,
        ip,
    }))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Viewer {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Viewer>()
            .cloned()
            .ok_or_else(|| AppError::new(crate::ErrorCode::Unauthenticated))
    }
}

/// The viewer when there is one (public pages that change for signed-in people).
pub(crate) struct MaybeViewer(pub(crate) Option<Viewer>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for MaybeViewer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeViewer(parts.extensions.get::<Viewer>().cloned()))
    }
}

/// The client's address and browser, for sessions and audit records.
pub(crate) struct ClientInfo {
    pub(crate) ip: Option<String>,
    pub(crate) user_agent: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(ClientInfo {
            ip: client_ip(&parts.extensions),
            user_agent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; rounds_session=abc123; x=y"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc123"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn session_cookie_is_locked_down() {
        let v = set_cookie("abc", true);
        let s = v.to_str().unwrap_or("");
        assert!(s.contains("HttpOnly") && s.contains("SameSite=Strict") && s.contains("Secure"));
        assert!(
            !set_cookie("abc", false)
                .to_str()
                .unwrap_or("Secure")
                .contains("Secure")
        );
    }
}
