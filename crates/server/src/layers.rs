//! The layers around every route, outermost first: operation id, logging and error rendering;
//! security headers; panic, timeout and body-size limits; then, per matched route, who is asking,
//! whether the route's access rule lets them, and the CSRF check on state-changing requests.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::error::{AppError, ErrorCode};
use crate::routes::{Access, lookup};
use crate::session::{MfaState, Viewer, client_ip, resolve};
use crate::{AppState, request_timeout, views};

/// Adds every layer to the routes.
pub(crate) fn wrap(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    let max = state.config.max_body_bytes;
    // The transport cap fits the largest route; `check` holds every other route to its own limit.
    let hard = max.max(crate::routes::MAX_UPLOAD_BYTES);
    routes
        .route_layer(from_fn_with_state(state.clone(), guard))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max))
        .layer(RequestBodyLimitLayer::new(hard))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout(&state.config),
        ))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| AppError::new(ErrorCode::Internal).into_response(),
        ))
        .layer(from_fn_with_state(state.clone(), security_headers))
        .layer(from_fn(operation))
}

/// An unknown address: the error page keeps the signed-in frame, as the guard gives routed errors.
async fn not_found(State(state): State<AppState>, req: Request) -> Response {
    let mut res = AppError::new(ErrorCode::NotFound).into_response();
    if let Ok(Some(v)) = resolve(&state, req.headers(), client_ip(req.extensions())).await
        && v.mfa == MfaState::Passed
    {
        res.extensions_mut().insert(v);
    }
    res
}

/// Gives the request an operation id (in the `x-operation-id` header, the log and every error
/// body), logs it, and turns every error into a page or a JSON body.
async fn operation(req: Request, next: Next) -> Response {
    let id = rounds_domain::secret::random_bytes::<6>()
        .map(hex::encode)
        .unwrap_or_else(|_| "000000000000".into());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let api = path.starts_with("/api/");
    let htmx = req.headers().contains_key("hx-request");
    let span = tracing::info_span!("request", op = %id, %method, %path);
    let started = std::time::Instant::now();
    let mut res = next.run(req).instrument(span.clone()).await;
    let status = res.status();
    let _enter = span.enter();
    let error = res.extensions_mut().remove::<AppError>();
    let viewer = res.extensions_mut().remove::<Viewer>();
    let ours = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("text/html")
                || ct.starts_with("application/json")
                || ct.starts_with("text/csv")
                || ct.starts_with("application/x-ndjson")
        });
    let error = match error {
        Some(e) => Some(e),
        None if status.is_client_error() || status.is_server_error() => {
            (!ours).then(|| AppError::new(ErrorCode::from_status(status)))
        }
        None => None,
    };
    if let Some(err) = error {
        if status.is_server_error() {
            tracing::error!(
                status = status.as_u16(),
                code = err.code.as_str(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request failed"
            );
        } else {
            tracing::info!(
                status = status.as_u16(),
                code = err.code.as_str(),
                "request refused"
            );
        }
        let mut rendered = if api {
            let body = serde_json::json!({"error": err.code.as_str(), "message": err.message, "operation_id": id});
            (status, axum::Json(body)).into_response()
        } else {
            views::error_page(status, &err, &id, htmx, viewer.as_ref())
        };
        // Keep headers a handler or layer set on purpose (Allow, Set-Cookie, Retry-After).
        for name in [header::ALLOW, header::SET_COOKIE, header::RETRY_AFTER] {
            if let Some(v) = res.headers().get(&name) {
                rendered.headers_mut().insert(name, v.clone());
            }
        }
        res = rendered;
    } else {
        tracing::debug!(
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request done"
        );
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-operation-id", v);
    }
    res
}

/// The content security policy: our own scripts, styles and images only; no inline script, no
/// framing, forms post only to us.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/assets/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    if !is_asset {
        // Pages can show patient-adjacent text: never keep them in a shared or back-button cache.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.secure_cookies() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

/// Resolves the viewer, applies the route's access rule and, for state-changing requests, the CSRF
/// and same-origin checks.
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = client_ip(req.extensions());
    let viewer = match resolve(&state, req.headers(), ip).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let mut res = match check(&state, req, viewer.clone()).await {
        Ok(req) => next.run(req).await,
        Err(res) => res,
    };
    // Error pages of a fully signed-in person keep the page frame: header, navigation, sign-out.
    if let Some(v) = viewer.filter(|v| v.mfa == MfaState::Passed)
        && (res.status().is_client_error() || res.status().is_server_error())
    {
        res.extensions_mut().insert(v);
    }
    res
}

async fn check(
    state: &AppState,
    mut req: Request,
    viewer: Option<Viewer>,
) -> Result<Request, Response> {
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let Some(rule) = lookup(&state.routes, req.method(), &matched).copied() else {
        tracing::error!(path = %matched, method = %req.method(), "route has no access rule");
        return Err(AppError::with(
            ErrorCode::Forbidden,
            "This address has no access rule and is refused.",
        )
        .into_response());
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared
        .is_some_and(|n| n > crate::routes::body_limit(rule.path, state.config.max_body_bytes))
    {
        return Err(AppError::new(ErrorCode::PayloadTooLarge).into_response());
    }
    let page = !rule.is_api();
    let next_url = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    match (rule.access, &viewer) {
        (Access::Public, _) => {}
        (_, None) if page && req.method() == Method::GET => {
            let target = format!("/login?next={}", urlencode(&next_url));
            return Err(Redirect::to(&target).into_response());
        }
        (_, None) => return Err(AppError::new(ErrorCode::Unauthenticated).into_response()),
        (Access::PasswordOnly, Some(_)) => {}
        (Access::SignedIn | Access::Permission(_), Some(v)) => {
            match v.mfa {
                MfaState::Passed => {}
                MfaState::CodePending if page => {
                    return Err(Redirect::to("/login/mfa").into_response());
                }
                MfaState::EnrolmentRequired if page => {
                    return Err(Redirect::to("/account/mfa").into_response());
                }
                _ => {
                    return Err(AppError::with(ErrorCode::Forbidden, "Your role requires two-factor authentication: sign in to the web app and enrol first.").into_response());
                }
            }
            if let Access::Permission(p) = rule.access
                && !v.can(p)
            {
                return Err(AppError::new(ErrorCode::Forbidden).into_response());
            }
        }
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        req = csrf(req, viewer.as_ref(), state.config.max_body_bytes).await?;
    }
    if let Some(v) = viewer {
        req.extensions_mut().insert(v);
    }
    Ok(req)
}

/// Same-origin check for every state-changing request, and the session's token for signed-in ones.
/// API-token requests carry no ambient credentials and need neither.
async fn csrf(req: Request, viewer: Option<&Viewer>, max: usize) -> Result<Request, Response> {
    let refuse = || AppError::new(ErrorCode::CsrfFailed).into_response();
    if viewer.is_some_and(|v| v.session.is_none()) {
        return Ok(req);
    }
    let headers = req.headers();
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return Err(refuse());
    }
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        let origin = origin.to_str().unwrap_or("");
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if origin_host != host.to_str().unwrap_or("") {
            return Err(refuse());
        }
    }
    let Some(expected) = viewer.map(Viewer::csrf) else {
        return Ok(req);
    };
    if let Some(sent) = headers.get("x-csrf-token") {
        return if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(req)
        } else {
            Err(refuse())
        };
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refuse());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| AppError::new(ErrorCode::PayloadTooLarge).into_response())?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| AppError::new(ErrorCode::BadRequest).into_response())?;
    let sent = fields
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(refuse());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// Percent-encodes a path for a query parameter.
pub(crate) fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|q| q.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}
