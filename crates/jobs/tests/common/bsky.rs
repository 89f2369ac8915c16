//! A real local Bluesky network (`ROUNDS_TEST_BSKY_PDS`): fresh accounts and what others can see.
#![allow(clippy::unwrap_used, dead_code, reason = "test helpers fail loudly; each test file uses a subset")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use connectors::{Credentials, http_client};
use serde_json::{Value, json};

/// The local PDS, or `None` (the test then passes, saying so) when there is none outside CI.
pub fn pds() -> Option<String> {
    match std::env::var("ROUNDS_TEST_BSKY_PDS") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().trim_end_matches('/').to_owned()),
        _ if std::env::var_os("CI").is_some() => panic!("no local Bluesky network: CI must set ROUNDS_TEST_BSKY_PDS"),
        _ => {
            eprintln!("skipped: no local Bluesky network (set ROUNDS_TEST_BSKY_PDS, or run scripts/test)");
            None
        }
    }
}

/// A fresh `*.test` account: its handle, a session of its own, and an app password for Rounds.
pub struct Account {
    pub pds: String,
    pub handle: String,
    pub access: String,
    pub creds: Credentials,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

pub async fn xrpc(pds: &str, nsid: &str, token: Option<&str>, body: Option<Value>, query: &[(&str, &str)]) -> (u16, Value) {
    let url = format!("{pds}/xrpc/{nsid}");
    let http = http_client();
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

async fn app_password(pds: &str, handle: &str, access: &str, name: &str) -> Credentials {
    let (status, app) = xrpc(pds, "com.atproto.server.createAppPassword", Some(access), Some(json!({ "name": name })), &[]).await;
    assert_eq!(status, 200, "createAppPassword: {app}");
    Credentials::Bluesky { service: pds.to_owned(), identifier: handle.to_owned(), app_password: app["password"].as_str().unwrap().to_owned() }
}

impl Account {
    pub async fn create(pds: &str) -> Account {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let handle = format!("j{:x}{n}{:x}.test", std::process::id(), nanos);
        let body = json!({ "handle": handle, "email": format!("{handle}@example.org"), "password": "account-password-1" });
        let (status, created) = xrpc(pds, "com.atproto.server.createAccount", None, Some(body), &[]).await;
        assert_eq!(status, 200, "createAccount: {created}");
        let access = created["accessJwt"].as_str().unwrap().to_owned();
        let creds = app_password(pds, &handle, &access, "rounds").await;
        Account { pds: pds.to_owned(), handle, access, creds }
    }

    /// A new app password named `name`, as credentials for a channel.
    pub async fn app_password(&self, name: &str) -> Credentials {
        app_password(&self.pds, &self.handle, &self.access, name).await
    }

    pub async fn revoke_app_password(&self, name: &str) {
        let (status, body) = xrpc(&self.pds, "com.atproto.server.revokeAppPassword", Some(&self.access), Some(json!({ "name": name })), &[]).await;
        assert_eq!(status, 200, "revokeAppPassword: {body}");
    }

    /// The texts of every post in the account's repository (the PDS answers at once; no indexing involved).
    pub async fn post_texts(&self) -> Vec<String> {
        let mut texts = Vec::new();
        let mut cursor = String::new();
        loop {
            let mut query = vec![("repo", self.handle.as_str()), ("collection", "app.bsky.feed.post"), ("limit", "100")];
            if !cursor.is_empty() {
                query.push(("cursor", cursor.as_str()));
            }
            let (status, page) = xrpc(&self.pds, "com.atproto.repo.listRecords", None, None, &query).await;
            assert_eq!(status, 200, "listRecords: {page}");
            let records = page["records"].as_array().cloned().unwrap_or_default();
            texts.extend(records.iter().map(|r| r["value"]["text"].as_str().unwrap_or_default().to_owned()));
            match page["cursor"].as_str() {
                Some(next) if !records.is_empty() => cursor = next.to_owned(),
                _ => return texts,
            }
        }
    }

    /// The post at `uri` as the AppView shows it, polling up to 10 s while it indexes.
    pub async fn seen(&self, uri: &str) -> Option<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, v) = xrpc(&self.pds, "app.bsky.feed.getPostThread", Some(&self.access), None, &[("uri", uri), ("depth", "0")]).await;
            if status == 200 {
                return Some(v["thread"]["post"].clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
