//! The values that cross the connector boundary.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

use crate::error::{ConnectorError, ErrorKind};

/// The social networks Rounds has a connector for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Bluesky and any AT Protocol PDS.
    Bluesky,
    /// Any Mastodon instance.
    Mastodon,
    /// A Facebook Page.
    Facebook,
}

/// Every network, in the order pages list them.
pub const NETWORKS: [Network; 3] = [Network::Bluesky, Network::Mastodon, Network::Facebook];

/// The name Bluesky's default service goes by.
pub const DEFAULT_BLUESKY_SERVICE: &str = "https://bsky.social";
/// The Graph API version Rounds is written against.
pub const DEFAULT_FACEBOOK_GRAPH: &str = "https://graph.facebook.com/v21.0";

/// What a network accepts in one post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest text, in the unit the network counts.
    pub max_chars: usize,
    /// Whether the network counts grapheme clusters (a family emoji is one) rather than code points.
    pub counts_graphemes: bool,
    /// Most images in one post.
    pub max_images: usize,
    /// Image MIME types the network takes.
    pub image_types: &'static [&'static str],
    /// Largest image file in bytes.
    pub max_image_bytes: usize,
    /// Longest alt text, in characters.
    pub max_alt_chars: usize,
    /// What every `http(s)://` link counts as, where the network counts links at a fixed length.
    pub link_chars: Option<usize>,
}

/// Text over a network's length limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the text is {length} characters long; {network} allows at most {limit}")]
pub struct TextTooLong {
    /// The network whose limit was exceeded.
    pub network: Network,
    /// The text's length as that network counts it.
    pub length: usize,
    /// The network's limit.
    pub limit: usize,
}

impl Network {
    /// The stable lower-case name stored in the database and used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Bluesky => "bluesky",
            Network::Mastodon => "mastodon",
            Network::Facebook => "facebook",
        }
    }

    /// The name people know the network by.
    pub fn label(self) -> &'static str {
        match self {
            Network::Bluesky => "Bluesky",
            Network::Mastodon => "Mastodon",
            Network::Facebook => "Facebook",
        }
    }

    /// Parses [`Network::as_str`]'s form; `None` for anything else.
    pub fn parse(name: &str) -> Option<Network> {
        NETWORKS.into_iter().find(|n| n.as_str() == name)
    }

    /// What one post may contain on this network.
    pub fn limits(self) -> Limits {
        match self {
            // app.bsky.feed.post: text maxGraphemes 300; app.bsky.embed.images: 4 images, blobs up to 1,000,000 bytes.
            Network::Bluesky => Limits {
                max_chars: 300,
                counts_graphemes: true,
                max_images: 4,
                image_types: &["image/jpeg", "image/png", "image/webp", "image/gif"],
                max_image_bytes: 1_000_000,
                max_alt_chars: 2000,
                link_chars: None,
            },
            // A default instance: 500 characters (StatusLengthValidator counts grapheme clusters and
            // every link as 23), 4 attachments, 16 MB images, 1500-character descriptions.
            Network::Mastodon => Limits {
                max_chars: 500,
                counts_graphemes: true,
                max_images: 4,
                image_types: &[
                    "image/jpeg",
                    "image/png",
                    "image/gif",
                    "image/webp",
                    "image/heic",
                    "image/avif",
                ],
                max_image_bytes: 16 * 1024 * 1024,
                max_alt_chars: 1500,
                link_chars: Some(23),
            },
            // Page posts: 63,206 characters; photos under 4 MB in JPEG, PNG, GIF, BMP or TIFF.
            Network::Facebook => Limits {
                max_chars: 63_206,
                counts_graphemes: false,
                max_images: 10,
                image_types: &[
                    "image/jpeg",
                    "image/png",
                    "image/gif",
                    "image/bmp",
                    "image/tiff",
                ],
                max_image_bytes: 4 * 1024 * 1024,
                max_alt_chars: 1000,
                link_chars: None,
            },
        }
    }

    /// The text's length as this network counts it.
    pub fn text_length(self, text: &str) -> usize {
        let limits = self.limits();
        let count = |s: &str| {
            if limits.counts_graphemes {
                s.graphemes(true).count()
            } else {
                s.chars().count()
            }
        };
        let Some(link_chars) = limits.link_chars else {
            return count(text);
        };
        let mut length = 0;
        let mut from = 0;
        for link in crate::text::links(text) {
            length += count(&text[from..link.start]) + link_chars;
            from = link.end;
        }
        length + count(&text[from..])
    }

    /// Checks the text against this network's length limit.
    pub fn check_text(self, text: &str) -> Result<(), TextTooLong> {
        let limit = self.limits().max_chars;
        let length = self.text_length(text);
        if length > limit {
            Err(TextTooLong {
                network: self,
                length,
                limit,
            })
        } else {
            Ok(())
        }
    }

    /// Checks a whole post (text, image count, types, sizes and alt text) before anything is sent,
    /// so a post the network would refuse fails with a clear reason and no partial upload.
    pub fn check_post(self, post: &Outgoing) -> Result<(), ConnectorError> {
        let reject = |message: String| {
            Err(ConnectorError::new(
                self,
                ErrorKind::Rejected,
                None,
                message,
            ))
        };
        if post.text.trim().is_empty() && post.images.is_empty() {
            return reject("the post has neither text nor images".into());
        }
        if let Err(e) = self.check_text(&post.text) {
            return reject(e.to_string());
        }
        let limits = self.limits();
        if post.images.len() > limits.max_images {
            return reject(format!(
                "the post has {} images; {self} allows at most {}",
                post.images.len(),
                limits.max_images
            ));
        }
        for (i, image) in post.images.iter().enumerate() {
            let n = i + 1;
            if !limits.image_types.contains(&image.mime.as_str()) {
                return reject(format!(
                    "image {n} is of type {:?}; {self} takes {}",
                    image.mime,
                    limits.image_types.join(", ")
                ));
            }
            if image.bytes.is_empty() {
                return reject(format!("image {n} is empty"));
            }
            if image.bytes.len() > limits.max_image_bytes {
                return reject(format!(
                    "image {n} is {} bytes; {self} takes images up to {} bytes",
                    image.bytes.len(),
                    limits.max_image_bytes
                ));
            }
            let alt = image.alt.chars().count();
            if alt > limits.max_alt_chars {
                return reject(format!(
                    "the alt text of image {n} is {alt} characters; {self} allows at most {}",
                    limits.max_alt_chars
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What the user typed to connect a channel. Debug prints no secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "network", rename_all = "lowercase")]
pub enum Credentials {
    /// An account on an AT Protocol PDS, signed in with an app password.
    Bluesky {
        /// PDS base URL, [`DEFAULT_BLUESKY_SERVICE`] by default.
        #[serde(default = "default_bluesky_service")]
        service: String,
        /// Handle or email address.
        identifier: String,
        /// An app password (Settings → Privacy and security → App passwords), never the account password.
        app_password: String,
    },
    /// A Mastodon account with an OAuth access token.
    Mastodon {
        /// The instance's base URL, e.g. `https://mastodon.example`.
        instance: String,
        /// An access token with the `read` and `write` scopes.
        access_token: String,
    },
    /// A Facebook Page with a page access token.
    Facebook {
        /// The Graph API base URL with its version, [`DEFAULT_FACEBOOK_GRAPH`] by default.
        #[serde(default = "default_facebook_graph")]
        graph: String,
        /// The page's numeric id.
        page_id: String,
        /// A page access token with `pages_manage_posts`, `pages_read_engagement` and `pages_manage_engagement`.
        page_access_token: String,
    },
}

fn default_bluesky_service() -> String {
    DEFAULT_BLUESKY_SERVICE.to_owned()
}

fn default_facebook_graph() -> String {
    DEFAULT_FACEBOOK_GRAPH.to_owned()
}

impl Credentials {
    /// The network these credentials open.
    pub fn network(&self) -> Network {
        match self {
            Credentials::Bluesky { .. } => Network::Bluesky,
            Credentials::Mastodon { .. } => Network::Mastodon,
            Credentials::Facebook { .. } => Network::Facebook,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Bluesky {
                service,
                identifier,
                ..
            } => f
                .debug_struct("Bluesky")
                .field("service", service)
                .field("identifier", identifier)
                .field("app_password", &"<redacted>")
                .finish(),
            Credentials::Mastodon { instance, .. } => f
                .debug_struct("Mastodon")
                .field("instance", instance)
                .field("access_token", &"<redacted>")
                .finish(),
            Credentials::Facebook { graph, page_id, .. } => f
                .debug_struct("Facebook")
                .field("graph", graph)
                .field("page_id", page_id)
                .field("page_access_token", &"<redacted>")
                .finish(),
        }
    }
}

/// One post to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Unique per post and channel, kept by the caller across retries and restarts.
    pub idempotency_key: String,
    /// The text as the user approved it.
    pub text: String,
    /// Images in display order.
    pub images: Vec<Image>,
    /// The post or comment this one answers.
    pub reply_to: Option<RemoteRef>,
}

/// One image attachment.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    /// The encoded file, metadata already stripped.
    pub bytes: Vec<u8>,
    /// Its MIME type, e.g. `image/jpeg`.
    pub mime: String,
    /// The alt text read to people who cannot see it.
    pub alt: String,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("mime", &self.mime)
            .field("alt", &self.alt)
            .finish()
    }
}

/// Where something lives on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteRef {
    /// The network's id: a Bluesky `at://` URI, a Mastodon status id, a Facebook object id.
    pub id: String,
    /// Where people can see it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The Bluesky record's content hash, which replies must name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    /// The first post of the thread, where it differs from this item (Bluesky replies name both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<Box<RemoteRef>>,
}

impl RemoteRef {
    /// A reference known only by its id.
    pub fn new(id: impl Into<String>) -> RemoteRef {
        RemoteRef {
            id: id.into(),
            url: None,
            cid: None,
            root: None,
        }
    }
}

/// A post now on the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The network's reference to it.
    pub remote: RemoteRef,
    /// Its public web address.
    pub url: String,
    /// When the network says it was created (Unix ms, UTC).
    pub at_ms: i64,
}

/// What an incoming item is, from the account's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    /// A reply to one of the account's posts.
    Reply,
    /// A post naming or quoting the account.
    Mention,
    /// A comment on one of the page's posts.
    Comment,
}

/// A reply, mention or comment addressed to the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteItem {
    /// The network's reference to it.
    pub remote: RemoteRef,
    /// Reply, mention or comment.
    pub kind: ItemKind,
    /// The author's handle (`@user@instance`, `name.bsky.social`, a Facebook user id).
    pub author_handle: String,
    /// The author's display name, possibly empty.
    pub author_name: String,
    /// The text, tags stripped.
    pub text: String,
    /// When it was written (Unix ms, UTC).
    pub created_at_ms: i64,
    /// What it answers, when it answers something.
    pub in_reply_to: Option<RemoteRef>,
}

/// One page of incoming items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fetched {
    /// The items, newest first.
    pub items: Vec<RemoteItem>,
    /// What to pass to the next call to get only newer items.
    pub cursor: Option<String>,
}

/// What the network says about the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountHealth {
    /// The account's handle.
    pub handle: String,
    /// Its display name (the handle when it has none).
    pub display_name: String,
    /// When the token expires, where the network says.
    pub token_expires_at_ms: Option<i64>,
    /// When this was checked (Unix ms, UTC).
    pub checked_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in NETWORKS {
            assert_eq!(Network::parse(n.as_str()), Some(n));
        }
        assert_eq!(Network::parse("Bluesky"), None);
        assert_eq!(Network::parse("x"), None);
    }

    #[test]
    fn bluesky_counts_an_emoji_family_as_one() {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}";
        assert_eq!(Network::Bluesky.text_length(family), 1);
        assert_eq!(Network::Facebook.text_length(family), 7);
        let at_limit = family.repeat(300);
        assert!(Network::Bluesky.check_text(&at_limit).is_ok());
        let over = format!("{at_limit}a");
        assert_eq!(
            Network::Bluesky.check_text(&over),
            Err(TextTooLong {
                network: Network::Bluesky,
                length: 301,
                limit: 300
            })
        );
    }

    #[test]
    fn mastodon_counts_a_link_as_23() {
        let link = format!("https://example.org/{}", "a".repeat(200));
        let text = format!("Book here: {link} today");
        assert_eq!(Network::Mastodon.text_length(&text), 11 + 23 + 6);
        assert_eq!(Network::Bluesky.text_length(&text), text.chars().count());
        assert!(
            Network::Mastodon
                .check_text(&format!("{} {link}", "a".repeat(476)))
                .is_ok()
        );
        assert!(
            Network::Mastodon
                .check_text(&format!("{} {link}", "a".repeat(477)))
                .is_err()
        );
    }

    #[test]
    fn each_network_has_its_limit() {
        assert!(Network::Mastodon.check_text(&"a".repeat(500)).is_ok());
        assert!(Network::Mastodon.check_text(&"a".repeat(501)).is_err());
        assert!(Network::Facebook.check_text(&"é".repeat(63_206)).is_ok());
        let err = Network::Facebook
            .check_text(&"é".repeat(63_207))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("the text is 63207 characters long; Facebook allows at most 63206")
        );
    }

    fn post(images: Vec<Image>) -> Outgoing {
        Outgoing {
            idempotency_key: "k".into(),
            text: "Flu clinic Saturday".into(),
            images,
            reply_to: None,
        }
    }

    fn image(mime: &str, len: usize) -> Image {
        Image {
            bytes: vec![1; len],
            mime: mime.into(),
            alt: "A nurse".into(),
        }
    }

    #[test]
    fn check_post_names_what_is_wrong() {
        assert!(
            Network::Bluesky
                .check_post(&post(vec![image("image/png", 10)]))
                .is_ok()
        );
        let err = Network::Bluesky
            .check_post(&post(vec![image("image/svg+xml", 10)]))
            .err();
        let err = err
            .map(|e| (e.kind, e.network_message))
            .unwrap_or((ErrorKind::Unsupported, String::new()));
        assert_eq!(err.0, ErrorKind::Rejected);
        assert!(err.1.contains("\"image/svg+xml\""), "{}", err.1);
        let err = Network::Bluesky
            .check_post(&post(vec![image("image/png", 1_000_001)]))
            .err();
        assert!(err.is_some_and(|e| e.network_message.contains("1000001 bytes")));
        let five = (0..5).map(|_| image("image/png", 1)).collect();
        assert!(Network::Mastodon.check_post(&post(five)).is_err());
        let empty = Outgoing {
            text: "  ".into(),
            ..post(vec![])
        };
        assert!(Network::Facebook.check_post(&empty).is_err());
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let all = [
            Credentials::Bluesky {
                service: DEFAULT_BLUESKY_SERVICE.into(),
                identifier: "clinic.bsky.social".into(),
                app_password: "abcd-efgh-ijkl-mnop".into(),
            },
            Credentials::Mastodon {
                instance: "https://mastodon.example".into(),
                access_token: "tok-SECRET-123".into(),
            },
            Credentials::Facebook {
                graph: DEFAULT_FACEBOOK_GRAPH.into(),
                page_id: "1234".into(),
                page_access_token: "EAAB-SECRET".into(),
            },
        ];
        for c in &all {
            let debug = format!("{c:?} {c:#?}");
            for secret in ["abcd-efgh-ijkl-mnop", "SECRET"] {
                assert!(!debug.contains(secret), "{debug}");
            }
            assert!(debug.contains("<redacted>"));
        }
        assert!(format!("{:?}", all[0]).contains("clinic.bsky.social"));
    }

    #[test]
    fn credentials_serialize_with_their_network_and_defaults() {
        let json = r#"{"network":"bluesky","identifier":"a.test","app_password":"p"}"#;
        let c: Credentials = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.network(), Network::Bluesky);
        assert!(
            matches!(&c, Credentials::Bluesky { service, .. } if service == DEFAULT_BLUESKY_SERVICE)
        );
        let back: Credentials =
            serde_json::from_str(&serde_json::to_string(&c).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, c);
    }

    #[test]
    fn image_debug_prints_the_size_not_the_bytes() {
        assert_eq!(
            format!("{:?}", image("image/png", 3)),
            r#"Image { bytes: <3 bytes>, mime: "image/png", alt: "A nurse" }"#
        );
    }
}
