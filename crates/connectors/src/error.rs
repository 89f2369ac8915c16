//! What went wrong on the network, in words a social media manager can act on.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::Network;

/// Why a network call failed, grouped by what the user (or the scheduler) should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The network does not accept the credentials (wrong app password, malformed token).
    InvalidCredentials,
    /// The token has expired; the channel must be reconnected.
    TokenExpired,
    /// The token was revoked or the account lost its permission; the channel must be reconnected.
    TokenRevoked,
    /// Too many requests; try again after `retry_after_ms`.
    RateLimited,
    /// A server error, timeout or connection failure; try again later.
    Unavailable,
    /// The network refused the content (too long, bad media, duplicate).
    Rejected,
    /// The item does not exist (any more).
    NotFound,
    /// The network has no such feature.
    Unsupported,
}

/// A failed network call: the kind, the HTTP status, the network's own words and when to retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectorError {
    /// The network that answered (or failed to).
    pub network: Network,
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// The HTTP status, when there was a response.
    pub status: Option<u16>,
    /// The network's own message (or, without a response, what happened to the connection).
    pub network_message: String,
    /// How long to wait before trying again, when the network said.
    pub retry_after_ms: Option<i64>,
}

impl ConnectorError {
    /// An error without retry advice.
    pub fn new(
        network: Network,
        kind: ErrorKind,
        status: Option<u16>,
        network_message: impl Into<String>,
    ) -> Self {
        ConnectorError {
            network,
            kind,
            status,
            network_message: network_message.into(),
            retry_after_ms: None,
        }
    }

    /// Whether the same request may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::RateLimited | ErrorKind::Unavailable)
    }

    /// Whether the channel must be reconnected before anything else can succeed.
    pub fn needs_reconnect(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::InvalidCredentials | ErrorKind::TokenExpired | ErrorKind::TokenRevoked
        )
    }

    /// The sign-in itself expired or was revoked, as opposed to refused, limited or unreachable.
    pub fn token_lost(&self) -> bool {
        matches!(self.kind, ErrorKind::TokenExpired | ErrorKind::TokenRevoked)
    }

    /// The network's own words when it gave any, else this error's description.
    pub fn words(&self) -> String {
        if self.network_message.is_empty() {
            self.to_string()
        } else {
            self.network_message.clone()
        }
    }
}

impl fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.network;
        match self.kind {
            ErrorKind::InvalidCredentials => write!(
                f,
                "{n} did not accept this channel's sign-in details; reconnect the channel"
            )?,
            ErrorKind::TokenExpired => write!(
                f,
                "The {n} access for this channel has expired; reconnect the channel"
            )?,
            ErrorKind::TokenRevoked => write!(
                f,
                "The {n} access for this channel was revoked or lost its permissions; reconnect the channel"
            )?,
            ErrorKind::RateLimited => {
                write!(f, "{n} is limiting how often Rounds may call it")?;
                match self.retry_after_ms {
                    Some(ms) => write!(f, "; it can try again in {}", wait(ms))?,
                    None => write!(f, "; it will try again later")?,
                }
            }
            ErrorKind::Unavailable => write!(
                f,
                "{n} could not be reached or had a server problem; try again later"
            )?,
            ErrorKind::Rejected => write!(f, "{n} refused the post")?,
            ErrorKind::NotFound => {
                write!(f, "{n} could not find the item; it may have been deleted")?
            }
            ErrorKind::Unsupported => write!(f, "{n} does not offer this")?,
        }
        if !self.network_message.is_empty() {
            write!(f, ": {}", self.network_message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConnectorError {}

fn wait(ms: i64) -> String {
    let s = ms.max(0).saturating_add(999) / 1000;
    match s {
        0..=1 => "a second".into(),
        2..=119 => format!("{s} seconds"),
        _ => format!("{} minutes", (s + 59) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_a_sentence_plus_the_networks_words() {
        let e = ConnectorError::new(
            Network::Mastodon,
            ErrorKind::Rejected,
            Some(422),
            "Validation failed: Text character limit of 500 exceeded",
        );
        assert_eq!(
            e.to_string(),
            "Mastodon refused the post: Validation failed: Text character limit of 500 exceeded"
        );
        let mut e = ConnectorError::new(
            Network::Bluesky,
            ErrorKind::RateLimited,
            Some(429),
            "Rate Limit Exceeded",
        );
        e.retry_after_ms = Some(90_500);
        assert_eq!(
            e.to_string(),
            "Bluesky is limiting how often Rounds may call it; it can try again in 91 seconds: Rate Limit Exceeded"
        );
        assert!(e.is_retryable());
        e.retry_after_ms = Some(3_600_000);
        assert!(e.to_string().contains("in 60 minutes"));
        e.retry_after_ms = Some(i64::MAX);
        assert!(e.to_string().contains("minutes"));
        let e = ConnectorError::new(Network::Facebook, ErrorKind::TokenExpired, Some(400), "");
        assert_eq!(
            e.to_string(),
            "The Facebook access for this channel has expired; reconnect the channel"
        );
        assert!(!e.is_retryable());
        assert!(e.needs_reconnect());
    }
}
