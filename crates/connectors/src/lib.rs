//! Rounds connectors: one trait over the social networks Rounds publishes to and listens on.
//!
//! The crate speaks HTTP to Bluesky (AT Protocol XRPC), Mastodon (client REST API) and Facebook Pages
//! (Graph API) and knows nothing of the database or the web app: the caller hands it credentials and
//! an outgoing post, and gets back the network's id and URL or a [`ConnectorError`] that says, in the
//! network's own words, what went wrong and whether trying again can help.

mod bluesky;
mod destination;
mod error;
mod facebook;
mod http;
mod mastodon;
#[cfg(feature = "testing")]
pub mod testing;
mod text;
mod tid;
mod types;

pub use destination::{Reach, check_destination, is_public};
pub use error::{ConnectorError, ErrorKind};
pub use tid::tid_for_key;
pub use types::*;

use std::time::Duration;

/// One account on one network, ready to publish, read and moderate.
///
/// Object-safe so the scheduler and the inbox hold a `Box<dyn Connector>` per channel without knowing
/// the network. Every method is one user-visible action; retrying is the caller's decision, guided by
/// [`ConnectorError::is_retryable`].
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// The network this connector talks to.
    fn network(&self) -> Network;
    /// Verifies the credentials and says whose account they open.
    async fn health(&self) -> Result<AccountHealth, ConnectorError>;
    /// Publishes one post (a reply when `reply_to` is set) and returns where it now lives.
    async fn publish(&self, post: &Outgoing) -> Result<Published, ConnectorError>;
    /// After a crash mid-publish: is a post with this idempotency key (published at/after `since_ms`) already there?
    async fn find_published(
        &self,
        post: &Outgoing,
        since_ms: i64,
    ) -> Result<Option<Published>, ConnectorError>;
    /// Deletes a published post or comment.
    async fn delete(&self, remote: &RemoteRef) -> Result<(), ConnectorError>;
    /// Replies, mentions and comments addressed to the account, newest first.
    ///
    /// `cursor` is the one a previous call returned (or `None` for the latest page); the returned
    /// cursor makes the next call return only items at or after the newest one seen here, so an item
    /// at the boundary may come back again: callers de-duplicate by [`RemoteRef::id`].
    async fn fetch_items(&self, cursor: Option<&str>) -> Result<Fetched, ConnectorError>;
    /// Hides or shows a comment on the account's own post; `Unsupported` where the network lacks it.
    async fn set_hidden(&self, item: &RemoteRef, hidden: bool) -> Result<(), ConnectorError>;
}

/// Builds the connector for a channel's credentials; nothing is sent until the first call.
///
/// Keep one connector per channel for as long as its credentials stand: a Bluesky connector signs in
/// on first use and reuses the session, and bsky.social allows only 30 sign-ins per five minutes and
/// 300 a day per account.
pub fn connect(
    credentials: &Credentials,
    http: &reqwest::Client,
) -> Result<Box<dyn Connector>, ConnectorError> {
    Ok(match credentials {
        Credentials::Bluesky {
            service,
            identifier,
            app_password,
        } => Box::new(bluesky::Bluesky::new(
            http.clone(),
            service,
            identifier,
            app_password,
        )?),
        Credentials::Mastodon {
            instance,
            access_token,
        } => Box::new(mastodon::Mastodon::new(
            http.clone(),
            instance,
            access_token,
        )?),
        Credentials::Facebook {
            graph,
            page_id,
            page_access_token,
        } => Box::new(facebook::Facebook::new(
            http.clone(),
            graph,
            page_id,
            page_access_token,
        )?),
    })
}

/// The HTTP client every connector should share: connect timeout 10 s, whole request 30 s, user agent
/// `Rounds/<version>`, TLS by rustls, and only the hosts `reach` allows (checked on every connection
/// and redirect, not only when a channel is connected).
pub fn http_client(reach: Reach) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("Rounds/", env!("CARGO_PKG_VERSION")));
    destination::restrict(builder, reach)
        .build()
        // The builder fails only when the TLS backend cannot start; rustls with its built-in provider does.
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_refuses_a_service_url_that_is_not_http() {
        let creds = Credentials::Mastodon {
            instance: "ftp://example.org".into(),
            access_token: "secret-token".into(),
        };
        let err = connect(&creds, &http_client(Reach::AnyHost))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("https://"), "{err}");
        assert!(!err.contains("secret-token"));
    }
}
