//! All HTTP of Rounds: the server-rendered web app, the JSON API under `/api/v1`, and the layers
//! that guard both (sessions, MFA, CSRF, roles, security headers, operation ids).
//!
//! [`App::new`] compiles the screening policy and builds the route table; [`App::router`] is what
//! `rounds serve` and the test kit run. Every route is registered with its [`routes::Access`] rule,
//! and a request to a route without one is refused, so no page can ship unguarded.

mod api;
mod assets;
mod auth;
pub mod config;
pub mod error;
mod layers;
mod pages;
pub mod routes;
mod screening;
mod session;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rounds_store::Store;
use screen::{Policy, Screener};

pub use config::{Config, Publishing};
pub use error::{AppError, ErrorCode};
pub use routes::{Access, RouteRule};

/// Starting the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The screening policy file cannot be read or is invalid.
    #[error("screening policy {path}: {message}")]
    Policy {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Listening or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Shared state of every request.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) config: Config,
    pub(crate) screener: Screener,
    pub(crate) routes: Vec<RouteRule>,
    /// One HTTP client for every call to a social network, so connections and TLS sessions are shared.
    pub(crate) http: reqwest::Client,
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// A configured Rounds server, ready to serve.
pub struct App {
    state: AppState,
    router: Router,
}

impl App {
    /// Compiles the screening policy (the configured file, or the built-in default) and builds the
    /// routes over an opened store.
    pub fn new(store: Store, config: Config) -> Result<App, ServerError> {
        let policy = match &config.policy_file {
            Some(path) => {
                let err = |message: String| ServerError::Policy {
                    path: path.display().to_string(),
                    message,
                };
                let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
                Policy::from_toml(&text).map_err(|e| err(e.to_string()))?
            }
            None => Policy::default(),
        };
        App::with_policy(store, config, policy)
    }

    /// Like [`App::new`], with a policy built by the caller (the demo sandbox brings its own).
    pub fn with_policy(store: Store, config: Config, policy: Policy) -> Result<App, ServerError> {
        let screener = Screener::new(policy).map_err(|e| ServerError::Policy {
            path: "(built-in)".into(),
            message: e.to_string(),
        })?;
        let (routes, table) = routes::build();
        let http = connectors::http_client(connectors::Reach::allowing_private(
            config.publishing.allow_private_hosts,
        ));
        let state = AppState(Arc::new(Inner {
            store,
            config,
            screener,
            routes: table,
            http,
        }));
        let router = layers::wrap(routes, &state).with_state(state.clone());
        Ok(App { state, router })
    }

    /// The HTTP service.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Every route with its access rule (the route × role test walks this).
    pub fn routes(&self) -> &[RouteRule] {
        &self.state.routes
    }

    /// The store the server runs on.
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Serves on `listener` until `shutdown` resolves, then lets requests in flight finish.
    pub async fn serve<F>(
        self,
        listener: tokio::net::TcpListener,
        shutdown: F,
    ) -> Result<(), ServerError>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let addr = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServerError::Io { addr, source })
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Minutes as a duration in milliseconds.
pub(crate) fn minutes_ms(minutes: u32) -> i64 {
    i64::from(minutes) * 60_000
}

/// How long a request may take before it is cut off.
pub(crate) fn request_timeout(config: &Config) -> Duration {
    Duration::from_secs(config.request_timeout_secs.max(1))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    #[test]
    fn openapi_documents_exactly_the_api_routes() {
        let (_, rules) = crate::routes::build();
        let routed: BTreeSet<String> = rules
            .iter()
            .filter(|r| r.is_api() && r.path != "/api/v1/openapi.json")
            .map(|r| r.path.to_owned())
            .collect();
        let documented: BTreeSet<String> = crate::api::documented_paths().into_iter().collect();
        assert_eq!(routed, documented);
    }

    #[test]
    fn every_route_is_registered_once_per_method() {
        let (_, rules) = crate::routes::build();
        let mut seen = BTreeSet::new();
        for r in &rules {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
        }
    }
}
