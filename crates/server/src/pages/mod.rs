//! Handlers of the web pages, one module per area.

pub(crate) mod account;
pub(crate) mod approvals;
pub(crate) mod archive;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod calendar;
pub(crate) mod channels;
pub(crate) mod compose;
pub(crate) mod notifications;
pub(crate) mod posts;
pub(crate) mod sections;
pub(crate) mod settings;
pub(crate) mod users;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::AppState;

/// Liveness and database reachability, for load balancers and `curl`.
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    match state.store.is_set_up().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

/// The `?notice=` parameter pages accept after a redirect.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct NoticeQuery {
    pub(crate) notice: Option<String>,
}

/// A local path to go to after signing in; anything else (another host, `//x`) becomes `/`.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.starts_with("/logout") =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next(Some("/audit?action=auth.")),
            "/audit?action=auth."
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "javascript:alert(1)",
            "/\\\\evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
