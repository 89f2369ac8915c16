//! Facebook Pages over the Graph API.
//!
//! The Graph API has no idempotency key, so `find_published` looks for the text among the page's
//! recent posts (or the page's comments under the parent, for a reply) created since the attempt.

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Connector;
use crate::error::{ConnectorError, ErrorKind};
use crate::http::{self, Reply, exchange, now_ms, parse_time_ms};
use crate::text::normalize_ws;
use crate::types::{
    AccountHealth, Fetched, Image, ItemKind, Network, Outgoing, Published, RemoteItem, RemoteRef,
};

const N: Network = Network::Facebook;
/// Page posts whose comments `fetch_items` reads.
const RECENT_POSTS: &str = "10";
/// Graph times have whole seconds, and the server clock may differ from the caller's.
const CLOCK_SKEW_MS: i64 = 120_000;

/// The Facebook Page connector. No Debug: it holds the page access token.
pub(crate) struct Facebook {
    http: reqwest::Client,
    graph: String,
    page_id: String,
    token: String,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Deserialize)]
struct Author {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct FeedPost {
    id: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    created_time: String,
    #[serde(default)]
    permalink_url: Option<String>,
}

#[derive(Deserialize)]
struct Comment {
    id: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    created_time: String,
    #[serde(default)]
    from: Option<Author>,
    #[serde(default)]
    parent: Option<FeedPost>,
    #[serde(default)]
    permalink_url: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    id: String,
    #[serde(default)]
    post_id: Option<String>,
}

impl Facebook {
    pub(crate) fn new(
        http: reqwest::Client,
        graph: &str,
        page_id: &str,
        token: &str,
    ) -> Result<Self, ConnectorError> {
        let page_id = page_id.trim();
        if page_id.is_empty()
            || !page_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            return Err(ConnectorError::new(
                N,
                ErrorKind::InvalidCredentials,
                None,
                format!("{page_id:?} is not a Facebook page id"),
            ));
        }
        Ok(Facebook {
            http,
            graph: http::base_url(N, graph)?,
            page_id: page_id.to_owned(),
            token: token.trim().to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.graph)
    }

    /// Sends a request with the page token as a bearer header (never in the URL, which errors may show).
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, ConnectorError> {
        let reply = exchange(N, request.bearer_auth(&self.token)).await?;
        if reply.ok() {
            Ok(reply)
        } else {
            Err(classify(&reply, now_ms()))
        }
    }

    async fn success(&self, request: reqwest::RequestBuilder) -> Result<(), ConnectorError> {
        let reply = self.send(request).await?;
        let v: Value = reply.json(N)?;
        if v.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(ConnectorError::new(
                N,
                ErrorKind::Rejected,
                Some(reply.status),
                "Facebook answered success: false",
            ));
        }
        Ok(())
    }

    fn photo_form(image: &Image) -> Result<reqwest::multipart::Form, ConnectorError> {
        let ext = image.mime.rsplit('/').next().unwrap_or("bin");
        let part = reqwest::multipart::Part::bytes(image.bytes.clone())
            .file_name(format!("photo.{ext}"))
            .mime_str(&image.mime)
            .map_err(|_| {
                ConnectorError::new(
                    N,
                    ErrorKind::Rejected,
                    None,
                    format!("{:?} is not a valid image type", image.mime),
                )
            })?;
        let mut form = reqwest::multipart::Form::new().part("source", part);
        if !image.alt.is_empty() {
            form = form.text("alt_text_custom", image.alt.clone());
        }
        Ok(form)
    }

    fn post_url(&self, post_id: &str) -> String {
        match post_id.split_once('_') {
            Some((page, post)) => format!("https://www.facebook.com/{page}/posts/{post}"),
            None => format!("https://www.facebook.com/{post_id}"),
        }
    }

    async fn publish_comment(
        &self,
        parent: &RemoteRef,
        post: &Outgoing,
    ) -> Result<Published, ConnectorError> {
        let url = self.url(&format!("{}/comments", parent.id));
        let request = match post.images.as_slice() {
            [] => self.http.post(url).form(&[("message", post.text.as_str())]),
            [image] => self
                .http
                .post(url)
                .multipart(Self::photo_form(image)?.text("message", post.text.clone())),
            _ => {
                return Err(ConnectorError::new(
                    N,
                    ErrorKind::Rejected,
                    None,
                    "a Facebook comment can carry one image",
                ));
            }
        };
        let created: Created = self.send(request).await?.json(N)?;
        let url = format!(
            "{}?comment_id={}",
            parent
                .url
                .clone()
                .unwrap_or_else(|| self.post_url(&parent.id)),
            created.id
        );
        Ok(published(created.id, url, now_ms()))
    }
}

fn published(id: String, url: String, at_ms: i64) -> Published {
    Published {
        remote: RemoteRef {
            id,
            url: Some(url.clone()),
            cid: None,
            root: None,
        },
        url,
        at_ms,
    }
}

#[async_trait::async_trait]
impl Connector for Facebook {
    fn network(&self) -> Network {
        N
    }

    async fn health(&self) -> Result<AccountHealth, ConnectorError> {
        let request = self
            .http
            .get(self.url(&self.page_id))
            .query(&[("fields", "id,name")]);
        let v: Value = self.send(request).await?.json(N)?;
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(&self.page_id)
            .to_owned();
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        Ok(AccountHealth {
            display_name: if name.is_empty() { id.clone() } else { name },
            handle: id,
            // A page token from a long-lived user token does not expire; an expired one fails with code 190.
            token_expires_at_ms: None,
            checked_at_ms: now_ms(),
        })
    }

    async fn publish(&self, post: &Outgoing) -> Result<Published, ConnectorError> {
        N.check_post(post)?;
        if let Some(parent) = &post.reply_to {
            return self.publish_comment(parent, post).await;
        }
        let photos = self.url(&format!("{}/photos", self.page_id));
        let feed = self.url(&format!("{}/feed", self.page_id));
        let created: Created = match post.images.as_slice() {
            [] => self
                .send(
                    self.http
                        .post(feed)
                        .form(&[("message", post.text.as_str())]),
                )
                .await?
                .json(N)?,
            [image] => {
                let form = Self::photo_form(image)?
                    .text("caption", post.text.clone())
                    .text("published", "true");
                let photo: Created = self
                    .send(self.http.post(photos).multipart(form))
                    .await?
                    .json(N)?;
                Created {
                    id: photo.post_id.unwrap_or(photo.id),
                    post_id: None,
                }
            }
            images => {
                // Several photos: upload each unpublished, then attach them all to one feed post.
                let mut form: Vec<(String, String)> = vec![("message".into(), post.text.clone())];
                for (i, image) in images.iter().enumerate() {
                    let upload = Self::photo_form(image)?.text("published", "false");
                    let photo: Created = self
                        .send(self.http.post(&photos).multipart(upload))
                        .await?
                        .json(N)?;
                    form.push((
                        format!("attached_media[{i}]"),
                        json!({ "media_fbid": photo.id }).to_string(),
                    ));
                }
                self.send(self.http.post(feed).form(&form)).await?.json(N)?
            }
        };
        let url = self.post_url(&created.id);
        Ok(published(created.id, url, now_ms()))
    }

    async fn find_published(
        &self,
        post: &Outgoing,
        since_ms: i64,
    ) -> Result<Option<Published>, ConnectorError> {
        let wanted = normalize_ws(&post.text);
        let recent = |created: &str| {
            parse_time_ms(created).is_some_and(|t| t >= since_ms.saturating_sub(CLOCK_SKEW_MS))
        };
        if let Some(parent) = &post.reply_to {
            let request = self
                .http
                .get(self.url(&format!("{}/comments", parent.id)))
                .query(&[
                    ("fields", "id,message,created_time,from,permalink_url"),
                    ("order", "reverse_chronological"),
                    ("limit", "50"),
                ]);
            let page: Page<Comment> = self.send(request).await?.json(N)?;
            return Ok(page
                .data
                .into_iter()
                .find(|c| {
                    c.from.as_ref().is_some_and(|f| f.id == self.page_id)
                        && recent(&c.created_time)
                        && normalize_ws(&c.message) == wanted
                })
                .map(|c| {
                    let at = parse_time_ms(&c.created_time).unwrap_or_else(now_ms);
                    let url = c.permalink_url.unwrap_or_else(|| {
                        format!("{}?comment_id={}", self.post_url(&parent.id), c.id)
                    });
                    published(c.id, url, at)
                }));
        }
        let request = self
            .http
            .get(self.url(&format!("{}/feed", self.page_id)))
            .query(&[
                ("fields", "id,message,created_time,permalink_url"),
                ("limit", "25"),
            ]);
        let page: Page<FeedPost> = self.send(request).await?.json(N)?;
        Ok(page
            .data
            .into_iter()
            .find(|p| recent(&p.created_time) && normalize_ws(&p.message) == wanted)
            .map(|p| {
                let at = parse_time_ms(&p.created_time).unwrap_or_else(now_ms);
                let url = p
                    .permalink_url
                    .clone()
                    .unwrap_or_else(|| self.post_url(&p.id));
                published(p.id, url, at)
            }))
    }

    async fn delete(&self, remote: &RemoteRef) -> Result<(), ConnectorError> {
        self.success(self.http.delete(self.url(&remote.id))).await
    }

    async fn fetch_items(&self, cursor: Option<&str>) -> Result<Fetched, ConnectorError> {
        let since = match cursor {
            None => None,
            Some(c) => Some(c.parse::<i64>().map_err(|_| {
                ConnectorError::new(
                    N,
                    ErrorKind::Rejected,
                    None,
                    format!("{c:?} is not a Facebook fetch cursor"),
                )
            })?),
        };
        let request = self
            .http
            .get(self.url(&format!("{}/feed", self.page_id)))
            .query(&[
                ("fields", "id,created_time,permalink_url"),
                ("limit", RECENT_POSTS),
            ]);
        let posts: Page<FeedPost> = self.send(request).await?.json(N)?;
        let mut items = Vec::new();
        let mut newest = since;
        for post in posts.data {
            let request = self
                .http
                .get(self.url(&format!("{}/comments", post.id)))
                .query(&[
                    (
                        "fields",
                        "id,message,from,created_time,is_hidden,parent{id},permalink_url",
                    ),
                    ("filter", "stream"),
                    ("order", "reverse_chronological"),
                    ("limit", "50"),
                ]);
            let comments: Page<Comment> = self.send(request).await?.json(N)?;
            let root = RemoteRef {
                id: post.id.clone(),
                url: post.permalink_url.clone(),
                cid: None,
                root: None,
            };
            for c in comments.data {
                let created = parse_time_ms(&c.created_time).unwrap_or(0);
                let from = c.from.unwrap_or(Author {
                    id: String::new(),
                    name: String::new(),
                });
                if since.is_some_and(|s| created < s) || from.id == self.page_id {
                    continue;
                }
                newest = Some(newest.map_or(created, |m: i64| m.max(created)));
                let in_reply_to = match c.parent {
                    Some(parent) => RemoteRef {
                        id: parent.id,
                        url: None,
                        cid: None,
                        root: Some(Box::new(root.clone())),
                    },
                    None => root.clone(),
                };
                items.push(RemoteItem {
                    remote: RemoteRef {
                        id: c.id,
                        url: c.permalink_url,
                        cid: None,
                        root: Some(Box::new(root.clone())),
                    },
                    kind: ItemKind::Comment,
                    author_handle: from.id,
                    author_name: from.name,
                    text: c.message,
                    created_at_ms: created,
                    in_reply_to: Some(in_reply_to),
                });
            }
        }
        items.sort_by_key(|i| std::cmp::Reverse(i.created_at_ms));
        Ok(Fetched {
            items,
            cursor: newest.map(|ms| ms.to_string()),
        })
    }

    async fn set_hidden(&self, item: &RemoteRef, hidden: bool) -> Result<(), ConnectorError> {
        let value = if hidden { "true" } else { "false" };
        self.success(
            self.http
                .post(self.url(&item.id))
                .form(&[("is_hidden", value)]),
        )
        .await
    }
}

/// Reads a Graph API error (`{"error": {"message", "type", "code", "error_subcode", ...}}`).
pub(crate) fn classify(reply: &Reply, now_ms: i64) -> ConnectorError {
    #[derive(Deserialize, Default)]
    struct Body {
        #[serde(default)]
        error: GraphError,
    }
    #[derive(Deserialize, Default)]
    struct GraphError {
        #[serde(default)]
        message: String,
        #[serde(default)]
        code: Option<i64>,
        #[serde(default)]
        error_subcode: Option<i64>,
        #[serde(default)]
        is_transient: bool,
    }
    let e = serde_json::from_str::<Body>(&reply.body)
        .unwrap_or_default()
        .error;
    let kind = match (e.code, e.error_subcode) {
        (Some(190), Some(463)) | (Some(102), _) => ErrorKind::TokenExpired,
        (Some(190), Some(458 | 459 | 460 | 464 | 467 | 492)) => ErrorKind::TokenRevoked,
        (Some(190), _) => ErrorKind::InvalidCredentials,
        (Some(10 | 200..=299), _) => ErrorKind::TokenRevoked,
        (Some(4 | 17 | 32 | 341 | 613 | 80001..=80014), _) => ErrorKind::RateLimited,
        (Some(100), Some(33)) | (Some(803), _) => ErrorKind::NotFound,
        (Some(1 | 2), _) => ErrorKind::Unavailable,
        _ if e.is_transient => ErrorKind::Unavailable,
        (Some(_), _) if (400..500).contains(&reply.status) => ErrorKind::Rejected,
        _ => match reply.status {
            404 => ErrorKind::NotFound,
            429 => ErrorKind::RateLimited,
            400..=499 => ErrorKind::Rejected,
            _ => ErrorKind::Unavailable,
        },
    };
    let message = if e.message.is_empty() {
        reply.short_body()
    } else {
        match (e.code, e.error_subcode) {
            (Some(code), Some(sub)) => format!("{} (code {code}, subcode {sub})", e.message),
            (Some(code), None) => format!("{} (code {code})", e.message),
            _ => e.message,
        }
    };
    let mut err = ConnectorError::new(N, kind, Some(reply.status), message);
    if kind == ErrorKind::RateLimited {
        err.retry_after_ms = http::retry_after_ms(&reply.headers, now_ms)
            .or_else(|| regain_access_ms(&reply.headers));
    }
    err
}

/// The longest `estimated_time_to_regain_access` (minutes) in the usage headers.
fn regain_access_ms(headers: &HeaderMap) -> Option<i64> {
    fn walk(v: &Value, best: &mut Option<i64>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v.as_i64()) {
                        ("estimated_time_to_regain_access", Some(minutes)) => {
                            *best = Some(best.map_or(minutes, |b| b.max(minutes)));
                        }
                        _ => walk(v, best),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, best)),
            _ => {}
        }
    }
    let mut best = None;
    for name in ["x-business-use-case-usage", "x-page-usage", "x-app-usage"] {
        if let Some(v) =
            http::header(headers, name).and_then(|h| serde_json::from_str::<Value>(h).ok())
        {
            walk(&v, &mut best);
        }
    }
    best.filter(|&m| m > 0).map(|m| m.saturating_mul(60_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn reply(status: u16, code: i64, subcode: Option<i64>) -> Reply {
        let mut error =
            json!({ "message": "m", "type": "OAuthException", "code": code, "fbtrace_id": "AbC" });
        if let Some(s) = subcode {
            error["error_subcode"] = json!(s);
        }
        Reply {
            status,
            headers: HeaderMap::new(),
            body: json!({ "error": error }).to_string(),
        }
    }

    #[test]
    fn graph_codes_are_classified() {
        let cases = [
            (400, 190, Some(463), ErrorKind::TokenExpired),
            (400, 190, Some(460), ErrorKind::TokenRevoked),
            (400, 190, Some(467), ErrorKind::TokenRevoked),
            (400, 190, Some(492), ErrorKind::TokenRevoked),
            (400, 190, None, ErrorKind::InvalidCredentials),
            (403, 200, None, ErrorKind::TokenRevoked),
            (400, 4, None, ErrorKind::RateLimited),
            (400, 17, None, ErrorKind::RateLimited),
            (400, 32, None, ErrorKind::RateLimited),
            (400, 613, None, ErrorKind::RateLimited),
            (400, 80001, None, ErrorKind::RateLimited),
            (400, 100, None, ErrorKind::Rejected),
            (400, 100, Some(33), ErrorKind::NotFound),
            (500, 1, None, ErrorKind::Unavailable),
            (503, 2, None, ErrorKind::Unavailable),
            (400, 506, None, ErrorKind::Rejected),
        ];
        for (status, code, sub, kind) in cases {
            assert_eq!(
                classify(&reply(status, code, sub), 0).kind,
                kind,
                "code {code} subcode {sub:?}"
            );
        }
        assert_eq!(
            classify(&reply(400, 190, Some(463)), 0).network_message,
            "m (code 190, subcode 463)"
        );
        let html = Reply {
            status: 502,
            headers: HeaderMap::new(),
            body: "<html></html>".into(),
        };
        assert_eq!(classify(&html, 0).kind, ErrorKind::Unavailable);
    }

    #[test]
    fn usage_headers_give_the_wait() {
        let mut r = reply(400, 80001, None);
        r.headers.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"112233":[{"type":"pages","call_count":100,"total_cputime":25,"total_time":25,"estimated_time_to_regain_access":19}]}"#,
            ),
        );
        assert_eq!(classify(&r, 0).retry_after_ms, Some(19 * 60_000));
        r.headers
            .insert("retry-after", HeaderValue::from_static("30"));
        assert_eq!(classify(&r, 0).retry_after_ms, Some(30_000));
    }
}
