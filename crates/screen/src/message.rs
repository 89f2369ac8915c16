//! The input to the engine: one message and the facts around it.

use serde::{Deserialize, Serialize};

/// Which way a message travels, which decides the rules that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Arrives from the public: comments, mentions, direct messages.
    #[default]
    Incoming,
    /// Leaves the organization: drafts, scheduled posts, replies.
    Outgoing,
}

/// Facts about media attached to a message; the engine never sees the media itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Attachments {
    /// At least one image is attached.
    pub has_image: bool,
    /// Alt text of the attached images, screened like the body.
    pub alt_text: Option<String>,
    /// An attached image still carries EXIF metadata (camera, time, possibly GPS).
    pub exif_present: bool,
}

/// One piece of text to screen, with its direction and context.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The text exactly as written; every finding's span indexes into it.
    pub text: String,
    /// Incoming (from the public) or outgoing (from the organization).
    pub direction: Direction,
    /// The network or surface, e.g. `facebook`, `bluesky`, `email`; informational.
    pub channel: Option<String>,
    /// Facts about attached media.
    pub attachments: Attachments,
    /// The post is paid, sponsored or part of an advocacy programme (needs a disclosure).
    pub paid: bool,
}

impl Message {
    /// An incoming message with no attachments.
    pub fn incoming(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            direction: Direction::Incoming,
            ..Self::default()
        }
    }

    /// An outgoing message with no attachments.
    pub fn outgoing(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            direction: Direction::Outgoing,
            ..Self::default()
        }
    }
}
