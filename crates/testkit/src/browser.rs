//! Headless Chromium driven through chromedriver (WebDriver), one private browser per test.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use fantoccini::ClientBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::process::{Child, Command};

/// The variable naming the chromedriver binary (default `/usr/bin/chromedriver`).
pub const CHROMEDRIVER_VAR: &str = "ROUNDS_TEST_CHROMEDRIVER";
/// The variable naming the Chromium binary chromedriver starts (default: chromedriver's choice).
pub const CHROMIUM_VAR: &str = "ROUNDS_TEST_CHROMIUM";

/// How long chromedriver may take to answer after it starts.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);

/// A headless Chromium session; dereferences to the [`fantoccini::Client`] that drives it.
///
/// Dropping it kills chromedriver and the browser it started; [`Browser::close`] ends the session
/// politely first.
pub struct Browser {
    client: fantoccini::Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a fresh headless browser profile.
    ///
    /// `Ok(None)` when chromedriver is not installed and this is not CI (the caller skips).
    ///
    /// # Panics
    /// When chromedriver is missing in CI: browser tests must run there.
    pub async fn start() -> anyhow::Result<Option<Browser>> {
        let driver_path = std::env::var_os(CHROMEDRIVER_VAR)
            .map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from);
        if !driver_path.is_file() {
            assert!(
                !crate::in_ci(),
                "{} not found: browser tests must run in CI (scripts/test installs chromium-driver)",
                driver_path.display()
            );
            eprintln!(
                "browser test skipped: {} not found (install chromium and chromium-driver, or set {CHROMEDRIVER_VAR})",
                driver_path.display()
            );
            return Ok(None);
        }
        let port = free_port()?;
        let mut command = Command::new(&driver_path);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that Drop can kill the browser processes chromedriver starts too.
            .process_group(0)
            .kill_on_drop(true);
        let driver = command
            .spawn()
            .with_context(|| format!("cannot start {}", driver_path.display()))?;
        let profile = tempfile::tempdir().context("cannot create a browser profile folder")?;
        let url = format!("http://127.0.0.1:{port}");
        // From here on, dropping `browser` cleans up whatever fails below.
        let mut pending = PendingDriver {
            driver: Some(driver),
        };
        wait_until_ready(&url).await?;
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities(&profile)?)
            .connect(&url)
            .await
            .context("chromedriver refused to open a browser session")?;
        let driver = pending.driver.take().context("chromedriver handle lost")?;
        Ok(Some(Browser {
            client,
            driver,
            _profile: profile,
        }))
    }

    /// Ends the browser session (the browser quits); chromedriver stops when `self` drops.
    pub async fn close(self) -> anyhow::Result<()> {
        self.client
            .clone()
            .close()
            .await
            .context("cannot end the browser session")
    }
}

impl std::ops::Deref for Browser {
    type Target = fantoccini::Client;

    fn deref(&self) -> &fantoccini::Client {
        &self.client
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// Owns chromedriver until the session is open, so an error on the way kills it.
struct PendingDriver {
    driver: Option<Child>,
}

impl Drop for PendingDriver {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.as_mut() {
            kill_group(driver);
        }
    }
}

/// Kills chromedriver's process group (chromedriver and the Chromium processes it started).
fn kill_group(driver: &mut Child) {
    if let Some(pid) = driver.id() {
        // `kill` the command, because this crate forbids the unsafe code that calling kill(2) needs.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    }
    let _ = driver.start_kill();
}

/// What chromedriver is asked for: a headless Chromium with nothing running in the background and
/// a profile of its own, so parallel tests never share cookies.
fn capabilities(profile: &tempfile::TempDir) -> anyhow::Result<fantoccini::wd::Capabilities> {
    let mut options = json!({
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            format!("--user-data-dir={}", profile.path().display()),
        ]
    });
    if let Some(binary) = std::env::var_os(CHROMIUM_VAR) {
        options["binary"] = json!(binary.to_string_lossy());
    }
    let caps = json!({ "browserName": "chrome", "goog:chromeOptions": options });
    match caps {
        serde_json::Value::Object(map) => Ok(map),
        _ => bail!("capabilities must be a JSON object"),
    }
}

/// A port nobody listens on right now (the OS picks it; chromedriver binds it a moment later).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Polls chromedriver's `/status` until it reports ready.
async fn wait_until_ready(url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let started = Instant::now();
    loop {
        if let Ok(resp) = http.get(format!("{url}/status")).send().await {
            if resp.status().is_success() {
                let body: serde_json::Value = resp.json().await.unwrap_or_default();
                if body["value"]["ready"].as_bool().unwrap_or(true) {
                    return Ok(());
                }
            }
        }
        if started.elapsed() > DRIVER_START_TIMEOUT {
            bail!("chromedriver did not answer on {url} within {DRIVER_START_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
