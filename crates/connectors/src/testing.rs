//! Test support for the real local Bluesky network that `scripts/test` starts (its PDS URL in
//! `ROUNDS_TEST_BSKY_PDS`): fresh `*.test` accounts with app passwords, and what the network shows.
//! Every crate whose tests publish to it uses this one copy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    reason = "test support: a failed step must stop the test loudly"
)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Credentials, Reach, http_client};

/// The variable naming the local network's PDS.
pub const PDS_VAR: &str = "ROUNDS_TEST_BSKY_PDS";

/// The local PDS, or `None` (the test then passes, saying so) when there is none outside CI.
///
/// # Panics
/// Under CI without the variable: CI must run these tests.
pub fn local_pds() -> Option<String> {
    match std::env::var(PDS_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().trim_end_matches('/').to_owned()),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "no local Bluesky network: CI must set {PDS_VAR}"
            );
            eprintln!("skipped: no local Bluesky network (set {PDS_VAR}, or run scripts/test)");
            None
        }
    }
}

/// One XRPC call: POST with `body`, or GET with `query`; the HTTP status and the JSON answer.
pub async fn xrpc(
    pds: &str,
    nsid: &str,
    token: Option<&str>,
    body: Option<Value>,
    query: &[(&str, &str)],
) -> (u16, Value) {
    let url = format!("{pds}/xrpc/{nsid}");
    let http = http_client(Reach::AnyHost);
    let mut request = match body {
        Some(body) => http.post(url).json(&body),
        None => http.get(url).query(query),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Creates an app password named `name` for the account, as channel credentials.
async fn app_password(pds: &str, handle: &str, access: &str, name: &str) -> Credentials {
    let (status, app) = xrpc(
        pds,
        "com.atproto.server.createAppPassword",
        Some(access),
        Some(json!({ "name": name })),
        &[],
    )
    .await;
    assert_eq!(status, 200, "createAppPassword: {app}");
    Credentials::Bluesky {
        service: pds.to_owned(),
        identifier: handle.to_owned(),
        app_password: app["password"].as_str().unwrap().to_owned(),
    }
}

/// A fresh account: its handle, a session of its own (to see what others see), and an app
/// password named `rounds` as channel credentials.
pub struct LocalAccount {
    /// The PDS it lives on.
    pub pds: String,
    /// Its `*.test` handle.
    pub handle: String,
    /// Its own access token.
    pub access: String,
    /// Credentials for a Rounds channel.
    pub creds: Credentials,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl LocalAccount {
    /// Creates an account with a handle no other test process uses.
    pub async fn create(pds: &str) -> LocalAccount {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let handle = format!("t{:x}{n}{nanos:x}.test", std::process::id());
        let body = json!({ "handle": handle, "email": format!("{handle}@example.org"), "password": "account-password-1" });
        let (status, created) = xrpc(
            pds,
            "com.atproto.server.createAccount",
            None,
            Some(body),
            &[],
        )
        .await;
        assert_eq!(status, 200, "createAccount: {created}");
        let access = created["accessJwt"].as_str().unwrap().to_owned();
        let creds = app_password(pds, &handle, &access, "rounds").await;
        LocalAccount {
            pds: pds.to_owned(),
            handle,
            access,
            creds,
        }
    }

    /// A new app password named `name`, as credentials for a channel.
    pub async fn app_password(&self, name: &str) -> Credentials {
        app_password(&self.pds, &self.handle, &self.access, name).await
    }

    /// Revokes the app password named `name` (its sessions stop working).
    pub async fn revoke_app_password(&self, name: &str) {
        let (status, body) = xrpc(
            &self.pds,
            "com.atproto.server.revokeAppPassword",
            Some(&self.access),
            Some(json!({ "name": name })),
            &[],
        )
        .await;
        assert_eq!(status, 200, "revokeAppPassword: {body}");
    }

    /// The texts of every post in the account's repository (the PDS answers at once; no indexing involved).
    pub async fn post_texts(&self) -> Vec<String> {
        let mut texts = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut query = vec![
                ("repo", self.handle.as_str()),
                ("collection", "app.bsky.feed.post"),
                ("limit", "100"),
            ];
            if !cursor.is_empty() {
                query.push(("cursor", cursor.as_str()));
            }
            let (status, page) = xrpc(
                &self.pds,
                "com.atproto.repo.listRecords",
                None,
                None,
                &query,
            )
            .await;
            assert_eq!(status, 200, "listRecords: {page}");
            let records = page["records"].as_array().cloned().unwrap_or_default();
            texts.extend(
                records
                    .iter()
                    .map(|r| r["value"]["text"].as_str().unwrap_or_default().to_owned()),
            );
            match page["cursor"].as_str() {
                Some(next) if !records.is_empty() => cursor = next.to_owned(),
                _ => return texts,
            }
        }
    }

    /// The thread of `uri` to `depth` replies as this account sees it on the AppView, polling up to
    /// 10 s while it indexes; `None` when it never shows.
    pub async fn thread(&self, uri: &str, depth: u32) -> Option<Value> {
        let depth = depth.to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, v) = xrpc(
                &self.pds,
                "app.bsky.feed.getPostThread",
                Some(&self.access),
                None,
                &[("uri", uri), ("depth", depth.as_str())],
            )
            .await;
            if status == 200 {
                return Some(v);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The post at `uri` as the AppView shows it (see [`LocalAccount::thread`]).
    pub async fn seen(&self, uri: &str) -> Option<Value> {
        self.thread(uri, 0)
            .await
            .map(|v| v["thread"]["post"].clone())
    }
}
