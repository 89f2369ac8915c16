//! A Rounds server running inside the test process on a scratch store.

use std::net::SocketAddr;

use anyhow::Context;
use rounds_server::{App, Config};
use rounds_store::testing::{scratch_postgres, scratch_sqlite};
use rounds_store::{Backend, Store};
use tokio::sync::oneshot;

/// A server on `127.0.0.1:<random port>` over its own scratch database; stops when dropped.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base_url: String,
    /// The store the server runs on, for arranging and checking state directly.
    pub store: Store,
    /// A client that keeps cookies (so it stays signed in) and does not follow redirects (so tests
    /// can assert where a response sends the browser).
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server on a fresh database of `backend`.
    ///
    /// `Ok(None)` for PostgreSQL when `ROUNDS_TEST_POSTGRES_URL` is not set outside CI (the caller
    /// skips); in CI that panics instead, so both backends always run there.
    pub async fn start(backend: Backend) -> anyhow::Result<Option<TestServer>> {
        let (dir, store) = match backend {
            Backend::Sqlite => scratch_sqlite().await,
            Backend::Postgres => match scratch_postgres().await {
                Some(scratch) => scratch,
                None => return Ok(None),
            },
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot listen on 127.0.0.1")?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        // The data folder is the scratch folder, so nothing a test does lands in the working tree;
        // the public URL is the real address, so the invitation links the server hands out open.
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            public_url: Some(base_url.clone()),
            ..Config::for_tests()
        };
        let app = App::new(store.clone(), config).context("cannot build the server")?;
        let (shutdown, stopped) = oneshot::channel::<()>();
        // With the peer address, as `rounds serve` does: sessions and the audit log record it.
        let service = app
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            let stop = async {
                let _ = stopped.await;
            };
            if let Err(e) = axum::serve(listener, service)
                .with_graceful_shutdown(stop)
                .await
            {
                eprintln!("test server on {addr} stopped: {e}");
            }
        });
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Some(TestServer {
            base_url,
            store,
            client,
            shutdown: Some(shutdown),
            _dir: dir,
        }))
    }

    /// A server on every backend available here: SQLite always, PostgreSQL when configured.
    pub async fn every_backend() -> anyhow::Result<Vec<TestServer>> {
        let mut servers = Vec::new();
        for backend in [Backend::Sqlite, Backend::Postgres] {
            servers.extend(TestServer::start(backend).await?);
        }
        Ok(servers)
    }

    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_on_every_backend_and_keeps_each_apart() {
        let servers = TestServer::every_backend().await.unwrap();
        assert!(!servers.is_empty());
        for server in &servers {
            let resp = server
                .client
                .get(server.url("/healthz"))
                .send()
                .await
                .unwrap();
            assert!(
                resp.status().is_success(),
                "{}: {}",
                server.base_url,
                resp.status()
            );
            let resp = server.client.get(server.url("/")).send().await.unwrap();
            assert!(
                resp.status().is_redirection(),
                "a fresh server sends visitors elsewhere, got {}",
                resp.status()
            );
        }
        if let [a, b] = servers.as_slice() {
            assert_ne!(a.base_url, b.base_url);
        }
    }
}
