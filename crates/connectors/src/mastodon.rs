//! Mastodon over its client REST API (docs.joinmastodon.org).
//!
//! Publishing sends an `Idempotency-Key` header, which Mastodon honours for an hour: a retried
//! request returns the status the first one created. After a longer outage `find_published` looks
//! for the text among the account's recent statuses.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::Connector;
use crate::error::{ConnectorError, ErrorKind};
use crate::http::{self, Reply, exchange, now_ms, parse_time_ms};
use crate::text::{normalize_ws, strip_html};
use crate::types::{
    AccountHealth, Fetched, ItemKind, Network, Outgoing, Published, RemoteItem, RemoteRef,
};

const N: Network = Network::Mastodon;
/// How often and how long to wait for an uploaded image to finish processing.
const MEDIA_POLL: Duration = Duration::from_millis(500);
const MEDIA_POLLS: usize = 20;
/// A status found by `find_published` may carry a server time this much earlier than the caller's clock.
const CLOCK_SKEW_MS: i64 = 120_000;

/// The Mastodon connector. No Debug: it holds the access token.
pub(crate) struct Mastodon {
    http: reqwest::Client,
    instance: String,
    host: String,
    token: String,
    account_id: Mutex<Option<String>>,
}

#[derive(Deserialize)]
struct Account {
    id: String,
    username: String,
    #[serde(default)]
    acct: String,
    #[serde(default)]
    display_name: String,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    created_at: String,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: String,
    #[serde(default)]
    content: String,
    #[serde(default)]
    media_attachments: Vec<Value>,
    #[serde(default)]
    account: Option<Account>,
}

#[derive(Deserialize)]
struct Notification {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    account: Account,
    #[serde(default)]
    status: Option<Status>,
}

#[derive(Deserialize)]
struct Media {
    id: String,
    #[serde(default)]
    url: Option<String>,
}

impl Mastodon {
    pub(crate) fn new(
        http: reqwest::Client,
        instance: &str,
        token: &str,
    ) -> Result<Self, ConnectorError> {
        let instance = http::base_url(N, instance)?;
        let host = instance
            .split_once("://")
            .map(|(_, h)| h)
            .unwrap_or(&instance)
            .to_owned();
        Ok(Mastodon {
            http,
            instance,
            host,
            token: token.trim().to_owned(),
            account_id: Mutex::new(None),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.instance)
    }

    /// Sends an authenticated request; anything but 2xx becomes the classified error.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, ConnectorError> {
        let reply = exchange(N, request.bearer_auth(&self.token)).await?;
        if reply.ok() {
            Ok(reply)
        } else {
            Err(classify(&reply, now_ms()))
        }
    }

    async fn verify(&self) -> Result<Account, ConnectorError> {
        let reply = self
            .send(
                self.http
                    .get(self.url("/api/v1/accounts/verify_credentials")),
            )
            .await?;
        let account: Account = reply.json(N)?;
        *self.account_id.lock().await = Some(account.id.clone());
        Ok(account)
    }

    async fn account_id(&self) -> Result<String, ConnectorError> {
        if let Some(id) = self.account_id.lock().await.clone() {
            return Ok(id);
        }
        Ok(self.verify().await?.id)
    }

    fn handle(&self, acct: &str) -> String {
        if acct.contains('@') {
            format!("@{acct}")
        } else {
            format!("@{acct}@{}", self.host)
        }
    }

    async fn upload(
        &self,
        n: usize,
        image: &crate::types::Image,
    ) -> Result<String, ConnectorError> {
        let ext = image.mime.rsplit('/').next().unwrap_or("bin");
        let part = reqwest::multipart::Part::bytes(image.bytes.clone())
            .file_name(format!("image{n}.{ext}"))
            .mime_str(&image.mime)
            .map_err(|_| {
                ConnectorError::new(
                    N,
                    ErrorKind::Rejected,
                    None,
                    format!("{:?} is not a valid image type", image.mime),
                )
            })?;
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("description", image.alt.clone());
        let reply = self
            .send(self.http.post(self.url("/api/v2/media")).multipart(form))
            .await?;
        let mut media: Media = reply.json(N)?;
        // 202: accepted, still processing; the attachment can be used once it has a URL.
        let mut polls = 0;
        while media.url.is_none() {
            if polls == MEDIA_POLLS {
                return Err(ConnectorError::new(
                    N,
                    ErrorKind::Unavailable,
                    Some(reply.status),
                    format!(
                        "image {n} was still being processed after {} seconds",
                        MEDIA_POLL.as_secs_f32() * MEDIA_POLLS as f32
                    ),
                ));
            }
            polls += 1;
            tokio::time::sleep(MEDIA_POLL).await;
            let reply = self
                .send(
                    self.http
                        .get(self.url(&format!("/api/v1/media/{}", media.id))),
                )
                .await?;
            // 206 Partial Content: still processing.
            if reply.status == 200 {
                media = reply.json(N)?;
            }
        }
        Ok(media.id)
    }

    fn published(status: &Status) -> Published {
        let url = status.url.clone().unwrap_or_else(|| status.uri.clone());
        Published {
            remote: RemoteRef {
                id: status.id.clone(),
                url: Some(url.clone()),
                cid: None,
                root: None,
            },
            url,
            at_ms: parse_time_ms(&status.created_at).unwrap_or_else(now_ms),
        }
    }

    fn item(&self, notification: Notification) -> Option<RemoteItem> {
        if notification.kind != "mention" {
            return None;
        }
        let status = notification.status?;
        let acct = if notification.account.acct.is_empty() {
            &notification.account.username
        } else {
            &notification.account.acct
        };
        Some(RemoteItem {
            kind: if status.in_reply_to_id.is_some() {
                ItemKind::Reply
            } else {
                ItemKind::Mention
            },
            author_handle: self.handle(acct),
            author_name: notification.account.display_name.clone(),
            text: strip_html(&status.content),
            created_at_ms: parse_time_ms(&status.created_at).unwrap_or(0),
            in_reply_to: status.in_reply_to_id.clone().map(RemoteRef::new),
            remote: RemoteRef {
                id: status.id,
                url: status.url.or(Some(status.uri)).filter(|u| !u.is_empty()),
                cid: None,
                root: None,
            },
        })
    }
}

#[async_trait::async_trait]
impl Connector for Mastodon {
    fn network(&self) -> Network {
        N
    }

    async fn health(&self) -> Result<AccountHealth, ConnectorError> {
        let account = self.verify().await?;
        let handle = self.handle(&account.username);
        Ok(AccountHealth {
            display_name: if account.display_name.trim().is_empty() {
                handle.clone()
            } else {
                account.display_name
            },
            handle,
            // Mastodon access tokens live until revoked.
            token_expires_at_ms: None,
            checked_at_ms: now_ms(),
        })
    }

    async fn publish(&self, post: &Outgoing) -> Result<Published, ConnectorError> {
        N.check_post(post)?;
        let mut media_ids = Vec::with_capacity(post.images.len());
        for (i, image) in post.images.iter().enumerate() {
            media_ids.push(self.upload(i + 1, image).await?);
        }
        let mut body = json!({ "status": post.text, "visibility": "public" });
        if !media_ids.is_empty() {
            body["media_ids"] = json!(media_ids);
        }
        if let Some(parent) = &post.reply_to {
            body["in_reply_to_id"] = json!(parent.id);
        }
        let request = self
            .http
            .post(self.url("/api/v1/statuses"))
            .header("Idempotency-Key", &post.idempotency_key)
            .json(&body);
        let status: Status = self.send(request).await?.json(N)?;
        Ok(Self::published(&status))
    }

    async fn find_published(
        &self,
        post: &Outgoing,
        since_ms: i64,
    ) -> Result<Option<Published>, ConnectorError> {
        let id = self.account_id().await?;
        let request = self
            .http
            .get(self.url(&format!("/api/v1/accounts/{id}/statuses")))
            .query(&[("limit", "40"), ("exclude_reblogs", "true")]);
        let statuses: Vec<Status> = self.send(request).await?.json(N)?;
        let wanted = normalize_ws(&post.text);
        let parent = post.reply_to.as_ref().map(|r| r.id.as_str());
        Ok(statuses
            .iter()
            .find(|s| {
                parse_time_ms(&s.created_at)
                    .is_some_and(|t| t >= since_ms.saturating_sub(CLOCK_SKEW_MS))
                    && s.in_reply_to_id.as_deref() == parent
                    && s.media_attachments.len() == post.images.len()
                    && s.account.as_ref().is_none_or(|a| a.id == id)
                    && normalize_ws(&strip_html(&s.content)) == wanted
            })
            .map(Self::published))
    }

    async fn delete(&self, remote: &RemoteRef) -> Result<(), ConnectorError> {
        self.send(
            self.http
                .delete(self.url(&format!("/api/v1/statuses/{}", remote.id))),
        )
        .await
        .map(|_| ())
    }

    async fn fetch_items(&self, cursor: Option<&str>) -> Result<Fetched, ConnectorError> {
        let mut query = vec![("types[]", "mention"), ("limit", "40")];
        if let Some(c) = cursor {
            query.push(("min_id", c));
        }
        let reply = self
            .send(
                self.http
                    .get(self.url("/api/v1/notifications"))
                    .query(&query),
            )
            .await?;
        let notifications: Vec<Notification> = reply.json(N)?;
        let newest_id = notifications
            .iter()
            .map(|n| n.id.as_str())
            .max_by_key(|id| (id.len(), *id))
            .map(str::to_owned);
        let next = prev_min_id(&reply.headers)
            .or(newest_id)
            .or_else(|| cursor.map(str::to_owned));
        let items = notifications
            .into_iter()
            .filter_map(|n| self.item(n))
            .collect();
        Ok(Fetched {
            items,
            cursor: next,
        })
    }

    async fn set_hidden(&self, _item: &RemoteRef, _hidden: bool) -> Result<(), ConnectorError> {
        Err(ConnectorError::new(
            N,
            ErrorKind::Unsupported,
            None,
            "Mastodon has no way to hide a reply; block, mute or report the account instead",
        ))
    }
}

/// The `min_id` of the `rel="prev"` link: the id to ask for newer items with.
fn prev_min_id(headers: &HeaderMap) -> Option<String> {
    let link = http::header(headers, "link")?;
    link.split(',')
        .find(|l| l.contains("rel=\"prev\""))
        .and_then(|l| {
            let url = l.split(['<', '>']).nth(1)?;
            let query = url.split_once('?')?.1;
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix("min_id="))
                .map(str::to_owned)
        })
}

/// Reads a Mastodon error (`{"error": "..."}`) into a [`ConnectorError`].
pub(crate) fn classify(reply: &Reply, now_ms: i64) -> ConnectorError {
    #[derive(Deserialize, Default)]
    struct Body {
        #[serde(default)]
        error: String,
        #[serde(default)]
        error_description: String,
    }
    let body: Body = serde_json::from_str(&reply.body).unwrap_or_default();
    let message = match (body.error.is_empty(), body.error_description.is_empty()) {
        (true, _) => reply.short_body(),
        (false, true) => body.error,
        (false, false) => format!("{}: {}", body.error, body.error_description),
    };
    let lower = message.to_lowercase();
    let kind = match reply.status {
        401 if lower.contains("expired") => ErrorKind::TokenExpired,
        401 if lower.contains("revoked") => ErrorKind::TokenRevoked,
        401 => ErrorKind::InvalidCredentials,
        403 if lower.contains("login") => ErrorKind::InvalidCredentials,
        404 | 410 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited,
        s if s >= 500 => ErrorKind::Unavailable,
        400..=499 => ErrorKind::Rejected,
        _ => ErrorKind::Unavailable,
    };
    let mut err = ConnectorError::new(N, kind, Some(reply.status), message);
    if kind == ErrorKind::RateLimited {
        err.retry_after_ms = http::header(&reply.headers, "x-ratelimit-reset")
            .and_then(parse_time_ms)
            .map(|at| (at - now_ms).max(0))
            .or_else(|| http::retry_after_ms(&reply.headers, now_ms));
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_prev_link_gives_the_next_cursor() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static(
                "<https://mastodon.example/api/v1/notifications?max_id=34975535>; rel=\"next\", <https://mastodon.example/api/v1/notifications?min_id=34975861>; rel=\"prev\"",
            ),
        );
        assert_eq!(prev_min_id(&h).as_deref(), Some("34975861"));
        assert_eq!(prev_min_id(&HeaderMap::new()), None);
    }

    #[test]
    fn errors_are_classified() {
        let r = |status, body: &str| Reply {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
        };
        let cases = [
            (
                401,
                r#"{"error":"The access token is invalid"}"#,
                ErrorKind::InvalidCredentials,
            ),
            (
                401,
                r#"{"error":"The access token was revoked"}"#,
                ErrorKind::TokenRevoked,
            ),
            (
                401,
                r#"{"error":"The access token expired"}"#,
                ErrorKind::TokenExpired,
            ),
            (
                403,
                r#"{"error":"Your login is currently disabled"}"#,
                ErrorKind::InvalidCredentials,
            ),
            (
                403,
                r#"{"error":"This action is not allowed"}"#,
                ErrorKind::Rejected,
            ),
            (404, r#"{"error":"Record not found"}"#, ErrorKind::NotFound),
            (
                422,
                r#"{"error":"Validation failed: Text character limit of 500 exceeded"}"#,
                ErrorKind::Rejected,
            ),
            (
                429,
                r#"{"error":"Too many requests"}"#,
                ErrorKind::RateLimited,
            ),
            (
                503,
                "<html>Service Unavailable</html>",
                ErrorKind::Unavailable,
            ),
        ];
        for (status, body, kind) in cases {
            assert_eq!(classify(&r(status, body), 0).kind, kind, "{body}");
        }
        let mut limited = r(429, r#"{"error":"Too many requests"}"#);
        limited.headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2019-12-08T04:00:00.000Z"),
        );
        assert_eq!(
            classify(&limited, 1_575_777_540_000).retry_after_ms,
            Some(60_000)
        );
    }
}
