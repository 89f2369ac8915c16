//! The HTTP plumbing every connector shares: base URLs, sending, reading replies, times.

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use crate::destination::PrivateDestination;
use crate::error::{ConnectorError, ErrorKind};
use crate::types::Network;

/// A complete HTTP answer, read before it is judged.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as a message when the network sent no structured error: trimmed and cut short.
    pub fn short_body(&self) -> String {
        let body = self.body.trim();
        if body.is_empty() || body.starts_with('<') {
            return format!("HTTP status {}", self.status);
        }
        match body.char_indices().nth(300) {
            Some((cut, _)) => format!("{}…", &body[..cut]),
            None => body.to_owned(),
        }
    }

    /// Decodes a successful body; a body of another shape means the network is not behaving.
    pub fn json<T: DeserializeOwned>(&self, network: Network) -> Result<T, ConnectorError> {
        serde_json::from_str(&self.body).map_err(|e| {
            ConnectorError::new(
                network,
                ErrorKind::Unavailable,
                Some(self.status),
                format!("unexpected answer from the server ({e})"),
            )
        })
    }
}

/// Sends a request and reads the whole answer; only transport failures are errors here.
pub(crate) async fn exchange(
    network: Network,
    request: reqwest::RequestBuilder,
) -> Result<Reply, ConnectorError> {
    let response = request.send().await.map_err(|e| transport(network, e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.map_err(|e| transport(network, e))?;
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A connection-level failure, described without the URL (a query string could hold a token).
fn transport(network: Network, e: reqwest::Error) -> ConnectorError {
    let refused = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
        .find_map(|e| e.downcast_ref::<PrivateDestination>());
    let what = if let Some(refused) = refused {
        refused.to_string()
    } else if e.is_timeout() {
        "the request timed out".to_owned()
    } else if e.is_connect() {
        "could not connect to the server".to_owned()
    } else if e.is_builder() {
        "the request could not be built".to_owned()
    } else {
        e.without_url().to_string()
    };
    ConnectorError::new(network, ErrorKind::Unavailable, None, what)
}

/// Checks a base URL the user typed and drops its trailing slash.
pub(crate) fn base_url(network: Network, url: &str) -> Result<String, ConnectorError> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(url.to_owned()),
        _ => Err(ConnectorError::new(
            network,
            ErrorKind::InvalidCredentials,
            None,
            format!("the server address {url:?} must start with https://"),
        )),
    }
}

/// The current time in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Parses the timestamps networks send: RFC 3339 (`2019-12-08T03:48:33.901Z`) and Facebook's
/// `2024-05-01T12:00:00+0000`.
pub(crate) fn parse_time_ms(s: &str) -> Option<i64> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%z", s)
        .and_then(|t| t.to_timestamp())
        .ok()
        .map(|t| t.as_millisecond())
}

/// Formats Unix milliseconds as RFC 3339 with milliseconds, as the AT Protocol wants `createdAt`.
pub(crate) fn format_time_ms(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => format!("{t:.3}"),
        Err(_) => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

/// A header's value as text.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The standard `Retry-After` header (seconds or an HTTP date), as a wait in milliseconds.
pub(crate) fn retry_after_ms(headers: &HeaderMap, now_ms: i64) -> Option<i64> {
    let value = header(headers, "retry-after")?;
    if let Ok(seconds) = value.parse::<i64>() {
        return Some(seconds.max(0).saturating_mul(1000));
    }
    let civil = jiff::fmt::strtime::parse("%a, %d %b %Y %H:%M:%S GMT", value)
        .ok()?
        .to_datetime()
        .ok()?;
    let at = jiff::tz::Offset::UTC
        .to_timestamp(civil)
        .ok()?
        .as_millisecond();
    Some((at - now_ms).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_every_network_format() {
        assert_eq!(
            parse_time_ms("2019-12-08T03:48:33.901Z"),
            Some(1_575_776_913_901)
        );
        assert_eq!(
            parse_time_ms("2019-12-08T03:48:33+0000"),
            Some(1_575_776_913_000)
        );
        assert_eq!(
            parse_time_ms("2019-12-08T04:48:33+01:00"),
            Some(1_575_776_913_000)
        );
        assert_eq!(parse_time_ms("yesterday"), None);
        assert_eq!(
            format_time_ms(1_575_776_913_901),
            "2019-12-08T03:48:33.901Z"
        );
        assert_eq!(
            format_time_ms(1_575_776_913_000),
            "2019-12-08T03:48:33.000Z"
        );
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("120"),
        );
        assert_eq!(retry_after_ms(&h, 0), Some(120_000));
        h.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("Sun, 08 Dec 2019 03:49:33 GMT"),
        );
        assert_eq!(retry_after_ms(&h, 1_575_776_913_000), Some(60_000));
        h.insert(
            "retry-after",
            reqwest::header::HeaderValue::from_static("soon"),
        );
        assert_eq!(retry_after_ms(&h, 0), None);
    }

    #[test]
    fn base_urls_must_be_http() {
        assert_eq!(
            base_url(Network::Mastodon, " https://mastodon.example/ ")
                .ok()
                .as_deref(),
            Some("https://mastodon.example")
        );
        assert!(base_url(Network::Mastodon, "mastodon.example").is_err());
        assert!(base_url(Network::Mastodon, "https://").is_err());
        assert!(base_url(Network::Bluesky, "http://localhost:2583").is_ok());
    }
}
