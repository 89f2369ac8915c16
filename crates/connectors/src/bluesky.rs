//! Bluesky over plain AT Protocol XRPC calls to the account's PDS.
//!
//! The PDS proxies `app.bsky.*` reads to the AppView, so one base URL serves everything. Sessions
//! come from an app password; the access token is refreshed on `ExpiredToken`, and when the refresh
//! token has expired too the connector signs in again with the app password it holds.

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::Connector;
use crate::error::{ConnectorError, ErrorKind};
use crate::http::{self, Reply, exchange, format_time_ms, now_ms, parse_time_ms};
use crate::text;
use crate::tid::tid_for_key;
use crate::types::{
    AccountHealth, Fetched, ItemKind, Network, Outgoing, Published, RemoteItem, RemoteRef,
};

const N: Network = Network::Bluesky;
const POST: &str = "app.bsky.feed.post";
const THREADGATE: &str = "app.bsky.feed.threadgate";
/// The threadgate lexicon's limit on `hiddenReplies`.
const MAX_HIDDEN_REPLIES: usize = 300;
/// Pages of notifications read per fetch when catching up from a cursor.
const MAX_PAGES: usize = 4;

/// A signed-in session. No Debug: it holds the tokens.
#[derive(Clone, Deserialize)]
struct Session {
    #[serde(rename = "accessJwt")]
    access: String,
    #[serde(rename = "refreshJwt")]
    refresh: String,
    handle: String,
    did: String,
}

/// The Bluesky connector. No Debug: it holds the app password.
pub(crate) struct Bluesky {
    http: reqwest::Client,
    service: String,
    identifier: String,
    app_password: String,
    session: Mutex<Option<Session>>,
}

/// What an XRPC call sends.
enum Body<'a> {
    /// A procedure without input: the PDS refuses a body where none is expected.
    Empty,
    Query(&'a [(&'a str, &'a str)]),
    Json(&'a Value),
    Blob(&'a [u8], &'a str),
}

impl Bluesky {
    pub(crate) fn new(
        http: reqwest::Client,
        service: &str,
        identifier: &str,
        app_password: &str,
    ) -> Result<Self, ConnectorError> {
        Ok(Bluesky {
            http,
            service: http::base_url(N, service)?,
            identifier: identifier.trim().trim_start_matches('@').to_owned(),
            app_password: app_password.to_owned(),
            session: Mutex::new(None),
        })
    }

    fn request(&self, nsid: &str, body: &Body<'_>, token: Option<&str>) -> reqwest::RequestBuilder {
        let url = format!("{}/xrpc/{nsid}", self.service);
        let mut request = match body {
            Body::Empty => self.http.post(url),
            Body::Query(query) => self.http.get(url).query(query),
            Body::Json(value) => self.http.post(url).json(value),
            Body::Blob(bytes, mime) => self
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, *mime)
                .body(bytes.to_vec()),
        };
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
    }

    async fn create_session(&self) -> Result<Session, ConnectorError> {
        let body = json!({ "identifier": self.identifier, "password": self.app_password });
        let reply = exchange(
            N,
            self.request("com.atproto.server.createSession", &Body::Json(&body), None),
        )
        .await?;
        if !reply.ok() {
            let mut err = classify(&reply, now_ms());
            // Whatever the PDS calls it, a refused sign-in means the handle or app password is wrong.
            if matches!(
                err.kind,
                ErrorKind::Rejected | ErrorKind::TokenRevoked | ErrorKind::TokenExpired
            ) {
                err.kind = ErrorKind::InvalidCredentials;
            }
            return Err(err);
        }
        reply.json(N)
    }

    async fn session(&self) -> Result<Session, ConnectorError> {
        let mut guard = self.session.lock().await;
        if let Some(session) = guard.as_ref() {
            return Ok(session.clone());
        }
        let session = self.create_session().await?;
        *guard = Some(session.clone());
        Ok(session)
    }

    /// Replaces an expired access token: refresh, or sign in again when the refresh token is spent.
    async fn renew(&self, stale_access: &str) -> Result<Session, ConnectorError> {
        let mut guard = self.session.lock().await;
        if let Some(current) = guard.as_ref() {
            if current.access != stale_access {
                return Ok(current.clone());
            }
            let reply = exchange(
                N,
                self.request(
                    "com.atproto.server.refreshSession",
                    &Body::Empty,
                    Some(&current.refresh),
                ),
            )
            .await?;
            if reply.ok() {
                let session: Session = reply.json(N)?;
                *guard = Some(session.clone());
                return Ok(session);
            }
            let err = classify(&reply, now_ms());
            if !err.needs_reconnect() {
                return Err(err);
            }
        }
        *guard = None;
        let session = self.create_session().await?;
        *guard = Some(session.clone());
        Ok(session)
    }

    /// One authenticated XRPC call, renewing the session once if the access token has expired.
    async fn call(&self, nsid: &str, body: Body<'_>) -> Result<Value, ConnectorError> {
        let mut session = self.session().await?;
        for attempt in 0..2 {
            let reply = exchange(N, self.request(nsid, &body, Some(&session.access))).await?;
            if reply.ok() {
                return if reply.body.trim().is_empty() {
                    Ok(Value::Null)
                } else {
                    reply.json(N)
                };
            }
            let err = classify(&reply, now_ms());
            if err.kind != ErrorKind::TokenExpired || attempt == 1 {
                return Err(err);
            }
            session = self.renew(&session.access).await?;
        }
        Err(ConnectorError::new(
            N,
            ErrorKind::TokenExpired,
            None,
            "the session could not be renewed",
        ))
    }

    /// The post at `rkey` in the account's repository, if there is one.
    async fn lookup(
        &self,
        session: &Session,
        rkey: &str,
    ) -> Result<Option<Published>, ConnectorError> {
        let query = [
            ("repo", session.did.as_str()),
            ("collection", POST),
            ("rkey", rkey),
        ];
        match self
            .call("com.atproto.repo.getRecord", Body::Query(&query))
            .await
        {
            Ok(v) => {
                let uri = str_at(&v, "/uri");
                let at_ms = parse_time_ms(str_at(&v, "/value/createdAt")).unwrap_or_else(now_ms);
                Ok(Some(Published {
                    remote: RemoteRef {
                        id: uri.to_owned(),
                        url: Some(post_url(&session.handle, rkey)),
                        cid: opt_str(&v, "/cid"),
                        root: None,
                    },
                    url: post_url(&session.handle, rkey),
                    at_ms,
                }))
            }
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `reply.root` and `reply.parent` for a reply to `parent`, looking up what the reference lacks.
    async fn reply_refs(&self, parent: &RemoteRef) -> Result<Value, ConnectorError> {
        let (repo, collection, rkey) =
            split_at_uri(&parent.id).ok_or_else(|| not_a_post(&parent.id))?;
        let known_root = parent
            .root
            .as_deref()
            .and_then(|r| r.cid.as_ref().map(|cid| (r.id.clone(), cid.clone())));
        let (parent_cid, root) = match (&parent.cid, known_root) {
            (Some(cid), Some(root)) => (cid.clone(), root),
            _ => {
                let query = [("repo", repo), ("collection", collection), ("rkey", rkey)];
                let v = self
                    .call("com.atproto.repo.getRecord", Body::Query(&query))
                    .await?;
                let cid = str_at(&v, "/cid").to_owned();
                let root = match (
                    opt_str(&v, "/value/reply/root/uri"),
                    opt_str(&v, "/value/reply/root/cid"),
                ) {
                    (Some(uri), Some(root_cid)) => (uri, root_cid),
                    _ => (parent.id.clone(), cid.clone()),
                };
                (cid, root)
            }
        };
        Ok(json!({
            "root": { "uri": root.0, "cid": root.1 },
            "parent": { "uri": parent.id, "cid": parent_cid },
        }))
    }

    /// Link and mention facets; byte offsets into the UTF-8 text, as the lexicon requires.
    async fn facets(&self, text: &str) -> Vec<Value> {
        let mut facets: Vec<Value> = text::links(text)
            .into_iter()
            .map(|r| {
                json!({
                    "index": { "byteStart": r.start, "byteEnd": r.end },
                    "features": [{ "$type": "app.bsky.richtext.facet#link", "uri": &text[r] }],
                })
            })
            .collect();
        for (range, handle) in text::mentions(text) {
            // A handle that does not resolve stays plain text rather than failing the post.
            let query = [("handle", handle.as_str())];
            if let Ok(v) = self
                .call("com.atproto.identity.resolveHandle", Body::Query(&query))
                .await
            {
                if let Some(did) = opt_str(&v, "/did") {
                    facets.push(json!({
                        "index": { "byteStart": range.start, "byteEnd": range.end },
                        "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": did }],
                    }));
                }
            }
        }
        facets
    }
}

#[async_trait::async_trait]
impl Connector for Bluesky {
    fn network(&self) -> Network {
        N
    }

    async fn health(&self) -> Result<AccountHealth, ConnectorError> {
        let v = self
            .call("com.atproto.server.getSession", Body::Query(&[]))
            .await?;
        let handle = str_at(&v, "/handle").to_owned();
        let did = str_at(&v, "/did").to_owned();
        let query = [
            ("repo", did.as_str()),
            ("collection", "app.bsky.actor.profile"),
            ("rkey", "self"),
        ];
        let display_name = match self
            .call("com.atproto.repo.getRecord", Body::Query(&query))
            .await
        {
            Ok(p) => opt_str(&p, "/value/displayName").filter(|n| !n.trim().is_empty()),
            Err(e) if e.kind == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        Ok(AccountHealth {
            display_name: display_name.unwrap_or_else(|| handle.clone()),
            handle,
            // App passwords do not expire; sessions are renewed as needed.
            token_expires_at_ms: None,
            checked_at_ms: now_ms(),
        })
    }

    async fn publish(&self, post: &Outgoing) -> Result<Published, ConnectorError> {
        N.check_post(post)?;
        let session = self.session().await?;
        let rkey = tid_for_key(&post.idempotency_key);
        let mut images = Vec::with_capacity(post.images.len());
        for image in &post.images {
            let v = self
                .call(
                    "com.atproto.repo.uploadBlob",
                    Body::Blob(&image.bytes, &image.mime),
                )
                .await?;
            images.push(
                json!({ "alt": image.alt, "image": v.get("blob").cloned().unwrap_or(Value::Null) }),
            );
        }
        let mut record =
            json!({ "$type": POST, "text": post.text, "createdAt": format_time_ms(now_ms()) });
        let facets = self.facets(&post.text).await;
        if !facets.is_empty() {
            record["facets"] = Value::Array(facets);
        }
        if !images.is_empty() {
            record["embed"] = json!({ "$type": "app.bsky.embed.images", "images": images });
        }
        if let Some(parent) = &post.reply_to {
            record["reply"] = self.reply_refs(parent).await?;
        }
        let body =
            json!({ "repo": session.did, "collection": POST, "rkey": rkey, "record": record });
        match self
            .call("com.atproto.repo.createRecord", Body::Json(&body))
            .await
        {
            Ok(v) => {
                let url = post_url(&session.handle, &rkey);
                Ok(Published {
                    remote: RemoteRef {
                        id: str_at(&v, "/uri").to_owned(),
                        url: Some(url.clone()),
                        cid: opt_str(&v, "/cid"),
                        root: None,
                    },
                    url,
                    at_ms: parse_time_ms(str_at(&record, "/createdAt")).unwrap_or_else(now_ms),
                })
            }
            Err(e) if e.needs_reconnect() || e.kind == ErrorKind::RateLimited => Err(e),
            // The record key is derived from the idempotency key, so a refusal or a lost answer may
            // mean an earlier attempt already wrote it: that post is the result.
            Err(e) => match self.lookup(&session, &rkey).await {
                Ok(Some(published)) => Ok(published),
                _ => Err(e),
            },
        }
    }

    async fn find_published(
        &self,
        post: &Outgoing,
        _since_ms: i64,
    ) -> Result<Option<Published>, ConnectorError> {
        // Only a post with this idempotency key can live at this record key, whenever it was written.
        let session = self.session().await?;
        self.lookup(&session, &tid_for_key(&post.idempotency_key))
            .await
    }

    async fn delete(&self, remote: &RemoteRef) -> Result<(), ConnectorError> {
        let (repo, collection, rkey) =
            split_at_uri(&remote.id).ok_or_else(|| not_a_post(&remote.id))?;
        let body = json!({ "repo": repo, "collection": collection, "rkey": rkey });
        self.call("com.atproto.repo.deleteRecord", Body::Json(&body))
            .await
            .map(|_| ())
    }

    async fn fetch_items(&self, cursor: Option<&str>) -> Result<Fetched, ConnectorError> {
        let since = match cursor {
            None => None,
            Some(c) => Some(c.parse::<i64>().map_err(|_| {
                ConnectorError::new(
                    N,
                    ErrorKind::Rejected,
                    None,
                    format!("{c:?} is not a Bluesky fetch cursor"),
                )
            })?),
        };
        let session = self.session().await?;
        let mut items: Vec<RemoteItem> = Vec::new();
        let mut newest = since;
        let mut page: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("limit", "50")];
            if let Some(p) = &page {
                query.push(("cursor", p.as_str()));
            }
            let v = self
                .call(
                    "app.bsky.notification.listNotifications",
                    Body::Query(&query),
                )
                .await?;
            let mut reached_cursor = false;
            for n in v
                .get("notifications")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let indexed = parse_time_ms(str_at(n, "/indexedAt")).unwrap_or(0);
                if since.is_some_and(|s| indexed < s) {
                    reached_cursor = true;
                    break;
                }
                newest = Some(newest.map_or(indexed, |m: i64| m.max(indexed)));
                // A post that both answers and names the account comes as two notifications.
                if let Some(item) = notification_item(n, &session.did) {
                    if !items.iter().any(|i| i.remote.id == item.remote.id) {
                        items.push(item);
                    }
                }
            }
            page = opt_str(&v, "/cursor");
            if reached_cursor || since.is_none() || page.is_none() {
                break;
            }
        }
        Ok(Fetched {
            items,
            cursor: newest.map(|ms| ms.to_string()),
        })
    }

    /// Hides a reply through the thread root's threadgate (`hiddenReplies`), which only the author
    /// of the root post can write: the AppView then shows the reply behind "hidden replies".
    async fn set_hidden(&self, item: &RemoteRef, hidden: bool) -> Result<(), ConnectorError> {
        let session = self.session().await?;
        let root_uri = match item.root.as_deref() {
            Some(root) => root.id.clone(),
            None => {
                let (repo, collection, rkey) =
                    split_at_uri(&item.id).ok_or_else(|| not_a_post(&item.id))?;
                let query = [("repo", repo), ("collection", collection), ("rkey", rkey)];
                let v = self
                    .call("com.atproto.repo.getRecord", Body::Query(&query))
                    .await?;
                opt_str(&v, "/value/reply/root/uri").ok_or_else(|| {
                    ConnectorError::new(
                        N,
                        ErrorKind::Rejected,
                        None,
                        "only replies can be hidden on Bluesky",
                    )
                })?
            }
        };
        let (root_repo, _, root_rkey) =
            split_at_uri(&root_uri).ok_or_else(|| not_a_post(&root_uri))?;
        if root_repo != session.did {
            return Err(ConnectorError::new(
                N,
                ErrorKind::Rejected,
                None,
                "Bluesky lets only the author of a thread's first post hide its replies",
            ));
        }
        let query = [
            ("repo", session.did.as_str()),
            ("collection", THREADGATE),
            ("rkey", root_rkey),
        ];
        let (mut gate, swap) = match self
            .call("com.atproto.repo.getRecord", Body::Query(&query))
            .await
        {
            Ok(v) => (
                v.get("value").cloned().unwrap_or_else(|| json!({})),
                opt_str(&v, "/cid"),
            ),
            // No threadgate yet: without `allow`, anyone may still reply.
            Err(e) if e.kind == ErrorKind::NotFound => (
                json!({ "$type": THREADGATE, "post": root_uri, "createdAt": format_time_ms(now_ms()) }),
                None,
            ),
            Err(e) => return Err(e),
        };
        let mut replies: Vec<String> = gate
            .get("hiddenReplies")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let present = replies.contains(&item.id);
        match (hidden, present) {
            (true, true) | (false, false) => return Ok(()),
            (true, false) if replies.len() >= MAX_HIDDEN_REPLIES => {
                return Err(ConnectorError::new(
                    N,
                    ErrorKind::Rejected,
                    None,
                    format!("Bluesky hides at most {MAX_HIDDEN_REPLIES} replies in one thread"),
                ));
            }
            (true, false) => replies.push(item.id.clone()),
            (false, true) => replies.retain(|r| r != &item.id),
        }
        gate["hiddenReplies"] = json!(replies);
        let mut body = json!({ "repo": session.did, "collection": THREADGATE, "rkey": root_rkey, "record": gate });
        // Another writer changing the threadgate in between makes this fail instead of losing its change.
        body["swapRecord"] = swap.map_or(Value::Null, Value::String);
        self.call("com.atproto.repo.putRecord", Body::Json(&body))
            .await
            .map(|_| ())
    }
}

/// The item a notification announces, for the account `own_did`. A post that answers one of the
/// account's posts is a reply even when it also names the account (the AppView then says "mention").
fn notification_item(n: &Value, own_did: &str) -> Option<RemoteItem> {
    let answers_us = opt_str(n, "/record/reply/parent/uri")
        .is_some_and(|parent| split_at_uri(&parent).is_some_and(|(repo, _, _)| repo == own_did));
    let kind = match str_at(n, "/reason") {
        "reply" => ItemKind::Reply,
        "mention" | "quote" if answers_us => ItemKind::Reply,
        "mention" | "quote" => ItemKind::Mention,
        _ => return None,
    };
    let uri = str_at(n, "/uri");
    let handle = str_at(n, "/author/handle");
    let root = match (
        opt_str(n, "/record/reply/root/uri"),
        opt_str(n, "/record/reply/root/cid"),
    ) {
        (Some(id), Some(cid)) => Some(Box::new(RemoteRef {
            id,
            url: None,
            cid: Some(cid),
            root: None,
        })),
        _ => None,
    };
    let in_reply_to = opt_str(n, "/record/reply/parent/uri").map(|id| RemoteRef {
        id,
        url: None,
        cid: opt_str(n, "/record/reply/parent/cid"),
        root: root.clone(),
    });
    Some(RemoteItem {
        remote: RemoteRef {
            id: uri.to_owned(),
            url: split_at_uri(uri).map(|(_, _, rkey)| post_url(handle, rkey)),
            cid: opt_str(n, "/cid"),
            root,
        },
        kind,
        author_handle: handle.to_owned(),
        author_name: str_at(n, "/author/displayName").to_owned(),
        text: str_at(n, "/record/text").to_owned(),
        created_at_ms: parse_time_ms(str_at(n, "/record/createdAt"))
            .or_else(|| parse_time_ms(str_at(n, "/indexedAt")))
            .unwrap_or(0),
        in_reply_to,
    })
}

/// Reads an XRPC error body (`{"error": "...", "message": "..."}`) into a [`ConnectorError`].
pub(crate) fn classify(reply: &Reply, now_ms: i64) -> ConnectorError {
    #[derive(Deserialize, Default)]
    struct XrpcError {
        #[serde(default)]
        error: String,
        #[serde(default)]
        message: String,
    }
    let body: XrpcError = serde_json::from_str(&reply.body).unwrap_or_default();
    let kind = match (reply.status, body.error.as_str()) {
        (_, "ExpiredToken") => ErrorKind::TokenExpired,
        (_, "InvalidToken" | "AccountTakedown" | "AccountDeactivated" | "AccountSuspended") => {
            ErrorKind::TokenRevoked
        }
        (_, "AuthenticationRequired" | "AuthFactorTokenRequired") | (401, _) => {
            ErrorKind::InvalidCredentials
        }
        (429, _) | (_, "RateLimitExceeded") => ErrorKind::RateLimited,
        (_, "RecordNotFound" | "NotFound" | "BlobNotFound") | (404, "") => ErrorKind::NotFound,
        (501, _) | (_, "MethodNotImplemented") => ErrorKind::Unsupported,
        (status, _) if status >= 500 => ErrorKind::Unavailable,
        (400..=499, _) => ErrorKind::Rejected,
        _ => ErrorKind::Unavailable,
    };
    let message = match (body.message.is_empty(), body.error.is_empty()) {
        (false, false) => format!("{} ({})", body.message, body.error),
        (false, true) => body.message,
        (true, false) => body.error,
        (true, true) => reply.short_body(),
    };
    let mut err = ConnectorError::new(N, kind, Some(reply.status), message);
    if kind == ErrorKind::RateLimited {
        err.retry_after_ms = ratelimit_reset_ms(&reply.headers, now_ms)
            .or_else(|| http::retry_after_ms(&reply.headers, now_ms));
    }
    err
}

/// `ratelimit-reset` holds the Unix time (seconds) when the window resets.
fn ratelimit_reset_ms(headers: &HeaderMap, now_ms: i64) -> Option<i64> {
    let reset: i64 = http::header(headers, "ratelimit-reset")?.parse().ok()?;
    Some(reset.saturating_mul(1000).saturating_sub(now_ms).max(0))
}

fn post_url(handle: &str, rkey: &str) -> String {
    format!("https://bsky.app/profile/{handle}/post/{rkey}")
}

/// `at://<repo>/<collection>/<rkey>` into its parts.
fn split_at_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let mut parts = uri.strip_prefix("at://")?.split('/');
    let (repo, collection, rkey) = (parts.next()?, parts.next()?, parts.next()?);
    let ok =
        parts.next().is_none() && !repo.is_empty() && !collection.is_empty() && !rkey.is_empty();
    ok.then_some((repo, collection, rkey))
}

fn not_a_post(id: &str) -> ConnectorError {
    ConnectorError::new(
        N,
        ErrorKind::Rejected,
        None,
        format!("{id:?} is not the address of a Bluesky post"),
    )
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn opt_str(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// The local Bluesky network's PDS (see tests/bluesky_local.rs), or `None` outside CI.
    fn local_pds() -> Option<String> {
        match std::env::var("ROUNDS_TEST_BSKY_PDS") {
            Ok(url) if !url.trim().is_empty() => Some(url.trim().trim_end_matches('/').to_owned()),
            _ if std::env::var_os("CI").is_some() => {
                panic!("no local Bluesky network: CI must set ROUNDS_TEST_BSKY_PDS")
            }
            _ => {
                eprintln!("skipped: no local Bluesky network (set ROUNDS_TEST_BSKY_PDS)");
                None
            }
        }
    }

    async fn post_json(
        http: &reqwest::Client,
        url: String,
        token: Option<&str>,
        body: Value,
    ) -> Value {
        let mut request = http.post(url).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let reply = request.send().await.unwrap_or_else(|e| panic!("{e}"));
        reply.json().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Access tokens last two hours, so a long-running server meets `ExpiredToken`; the renewal it
    /// triggers is exercised here against the real PDS.
    #[tokio::test]
    async fn sessions_are_renewed_on_the_real_network() {
        let Some(pds) = local_pds() else { return };
        let http = crate::http_client(crate::Reach::AnyHost);
        let handle = format!("renew{}{}.test", std::process::id(), now_ms() % 1_000_000);
        let account = post_json(
            &http,
            format!("{pds}/xrpc/com.atproto.server.createAccount"),
            None,
            json!({ "handle": handle, "email": format!("{handle}@example.org"), "password": "account-password-1" }),
        )
        .await;
        let app = post_json(
            &http,
            format!("{pds}/xrpc/com.atproto.server.createAppPassword"),
            account["accessJwt"].as_str(),
            json!({ "name": "rounds" }),
        )
        .await;
        let c = Bluesky::new(
            http.clone(),
            &pds,
            &handle,
            app["password"].as_str().unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let first = c.session().await.unwrap_or_else(|e| panic!("{e}"));
        // Access tokens differ only by their issue time, in whole seconds.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let renewed = c
            .renew(&first.access)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(renewed.access, first.access);
        assert!(c.health().await.is_ok());
        // A renewal another task already made is not repeated.
        assert_eq!(
            c.renew(&first.access).await.map(|s| s.access).ok(),
            Some(renewed.access.clone())
        );
        // A spent refresh token (the session was signed out) falls back to signing in again.
        let signed_out = http
            .post(format!("{pds}/xrpc/com.atproto.server.deleteSession"))
            .bearer_auth(&renewed.refresh)
            .send()
            .await
            .map(|r| r.status().as_u16());
        assert_eq!(signed_out.ok(), Some(200));
        let again = c
            .renew(&renewed.access)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(again.refresh, renewed.refresh);
        assert!(c.health().await.is_ok());
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: HeaderMap::new(),
            body: body.to_owned(),
        }
    }

    #[test]
    fn xrpc_errors_are_classified() {
        let cases = [
            (
                400,
                r#"{"error":"ExpiredToken","message":"Token has expired"}"#,
                ErrorKind::TokenExpired,
            ),
            (
                401,
                r#"{"error":"InvalidToken","message":"Token could not be verified"}"#,
                ErrorKind::TokenRevoked,
            ),
            (
                401,
                r#"{"error":"AuthenticationRequired","message":"Invalid identifier or password"}"#,
                ErrorKind::InvalidCredentials,
            ),
            (
                400,
                r#"{"error":"AccountTakedown","message":"Account has been taken down"}"#,
                ErrorKind::TokenRevoked,
            ),
            (
                400,
                r#"{"error":"InvalidRequest","message":"Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"}"#,
                ErrorKind::Rejected,
            ),
            (
                400,
                r#"{"error":"RecordNotFound","message":"Could not locate record: at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a"}"#,
                ErrorKind::NotFound,
            ),
            (
                429,
                r#"{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}"#,
                ErrorKind::RateLimited,
            ),
            (
                500,
                r#"{"error":"InternalServerError","message":"Internal Server Error"}"#,
                ErrorKind::Unavailable,
            ),
            (502, "<html>Bad Gateway</html>", ErrorKind::Unavailable),
            (
                501,
                r#"{"error":"MethodNotImplemented","message":"Method Not Implemented"}"#,
                ErrorKind::Unsupported,
            ),
        ];
        for (status, body, kind) in cases {
            let err = classify(&reply(status, body), 0);
            assert_eq!(err.kind, kind, "{body}");
            assert_eq!(err.status, Some(status));
        }
        let err = classify(
            &reply(
                401,
                r#"{"error":"AuthenticationRequired","message":"Invalid identifier or password"}"#,
            ),
            0,
        );
        assert_eq!(
            err.network_message,
            "Invalid identifier or password (AuthenticationRequired)"
        );
        assert_eq!(
            classify(&reply(502, "<html>Bad Gateway</html>"), 0).network_message,
            "HTTP status 502"
        );
    }

    #[test]
    fn rate_limit_reset_is_a_wait() {
        let mut r = reply(
            429,
            r#"{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}"#,
        );
        r.headers
            .insert("ratelimit-reset", HeaderValue::from_static("1700000300"));
        r.headers
            .insert("ratelimit-remaining", HeaderValue::from_static("0"));
        let err = classify(&r, 1_700_000_000_000);
        assert_eq!(err.retry_after_ms, Some(300_000));
        assert!(err.is_retryable());
        // Nonsense from the network is no reason to overflow.
        r.headers.insert(
            "ratelimit-reset",
            HeaderValue::from_static("-9223372036854775808"),
        );
        assert_eq!(classify(&r, 1_700_000_000_000).retry_after_ms, Some(0));
        r.headers.insert(
            "ratelimit-reset",
            HeaderValue::from_static("9223372036854775807"),
        );
        assert!(classify(&r, 0).to_string().contains("minutes"));
    }

    #[test]
    fn at_uris_split_into_repo_collection_and_key() {
        assert_eq!(
            split_at_uri("at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a"),
            Some(("did:plc:abc", "app.bsky.feed.post", "3jzfcijpj2z2a"))
        );
        assert_eq!(split_at_uri("https://bsky.app/x"), None);
        assert_eq!(split_at_uri("at://did:plc:abc/app.bsky.feed.post"), None);
        assert_eq!(
            split_at_uri("at://did:plc:abc/app.bsky.feed.post/a/b"),
            None
        );
        assert_eq!(
            post_url("a.test", "3jzfcijpj2z2a"),
            "https://bsky.app/profile/a.test/post/3jzfcijpj2z2a"
        );
    }

    #[test]
    fn notifications_become_items() {
        let n = json!({
            "uri": "at://did:plc:bob/app.bsky.feed.post/3kabc",
            "cid": "bafyreply",
            "author": { "did": "did:plc:bob", "handle": "bob.test", "displayName": "Bob" },
            "reason": "reply",
            "record": {
                "$type": "app.bsky.feed.post",
                "text": "Thank you!",
                "createdAt": "2024-05-01T12:00:00.000Z",
                "reply": {
                    "root": { "uri": "at://did:plc:clinic/app.bsky.feed.post/3kroot", "cid": "bafyroot" },
                    "parent": { "uri": "at://did:plc:clinic/app.bsky.feed.post/3kroot", "cid": "bafyroot" }
                }
            },
            "isRead": false,
            "indexedAt": "2024-05-01T12:00:00.150Z"
        });
        let item =
            notification_item(&n, "did:plc:clinic").unwrap_or_else(|| panic!("a reply is an item"));
        assert_eq!(item.kind, ItemKind::Reply);
        assert_eq!(item.author_handle, "bob.test");
        assert_eq!(
            item.remote.url.as_deref(),
            Some("https://bsky.app/profile/bob.test/post/3kabc")
        );
        assert_eq!(item.created_at_ms, 1_714_564_800_000);
        let parent = item.in_reply_to.unwrap_or_else(|| RemoteRef::new(""));
        assert_eq!(parent.cid.as_deref(), Some("bafyroot"));
        assert_eq!(
            parent.root.map(|r| r.id).as_deref(),
            Some("at://did:plc:clinic/app.bsky.feed.post/3kroot")
        );
        let like = json!({ "reason": "like", "uri": "at://x/app.bsky.feed.like/1" });
        assert!(notification_item(&like, "did:plc:clinic").is_none());
        let mut mention = n.clone();
        mention["reason"] = json!("mention");
        assert_eq!(
            notification_item(&mention, "did:plc:clinic").map(|i| i.kind),
            Some(ItemKind::Reply)
        );
        assert_eq!(
            notification_item(&mention, "did:plc:other").map(|i| i.kind),
            Some(ItemKind::Mention)
        );
    }
}
