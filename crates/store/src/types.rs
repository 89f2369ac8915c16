//! The rows the store reads and writes.

use rounds_domain::{OrgKind, PostStatus, Role};
use serde::Serialize;

/// Which database engine a [`crate::Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Backend {
    /// Embedded SQLite (the default).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Who is acting, for the audit record of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The organization acted in, when there is one.
    pub org_id: Option<i64>,
    /// The signed-in user; `None` for the system, the CLI or an anonymous visitor.
    pub user_id: Option<i64>,
    /// How the actor is shown: an email, `cli`, `system`, `anonymous`.
    pub label: String,
    /// The client address, for web and API requests.
    pub ip: Option<String>,
}

impl Actor {
    /// An action taken by Rounds itself (migrations, demo seeding, scheduled jobs).
    pub fn system() -> Actor {
        Actor {
            org_id: None,
            user_id: None,
            label: "system".into(),
            ip: None,
        }
    }

    /// An action taken from the `rounds` command line by whoever runs it on the server.
    pub fn cli() -> Actor {
        Actor {
            org_id: None,
            user_id: None,
            label: "cli".into(),
            ip: None,
        }
    }

    /// An action taken by a signed-in user.
    pub fn user(user: &User, ip: Option<String>) -> Actor {
        Actor {
            org_id: Some(user.org_id),
            user_id: Some(user.id),
            label: user.email.clone(),
            ip,
        }
    }
}

/// An organization using Rounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Org {
    /// Row id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// What kind of organization it is.
    pub kind: OrgKind,
    /// Whether this is the demo sandbox (sample data, not a real account).
    pub is_demo: bool,
    /// Creation time, Unix ms.
    pub created_at: i64,
}

/// What is needed to create an organization.
#[derive(Debug, Clone)]
pub struct NewOrg {
    /// Display name (already checked).
    pub name: String,
    /// What kind of organization it is.
    pub kind: OrgKind,
    /// Whether it is the demo sandbox.
    pub is_demo: bool,
}

/// A person who signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// The organization the user belongs to.
    pub org_id: i64,
    /// Sign-in email, lower-case.
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// The user's role.
    pub role: Role,
    /// Argon2id PHC string; never serialized.
    #[serde(skip)]
    pub password_hash: String,
    /// Whether a TOTP second factor is enrolled.
    pub mfa_enabled: bool,
    /// Whether the account is disabled (cannot sign in, tokens refused).
    pub disabled: bool,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last successful sign-in, Unix ms.
    pub last_login_at: Option<i64>,
}

/// What is needed to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Sign-in email (already checked).
    pub email: rounds_domain::Email,
    /// Name shown to colleagues (already checked).
    pub display_name: String,
    /// The user's role.
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// A signed-in browser session. The cookie holds a random id; the database holds only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session id, hex.
    pub id_hash: String,
    /// Whose session.
    pub user_id: i64,
    /// The per-session CSRF token every state-changing form must echo.
    pub csrf_token: String,
    /// Whether the second factor was passed (or the user has none and needs none).
    pub mfa_passed: bool,
    /// Creation time, Unix ms (absolute timeout counts from here).
    pub created_at: i64,
    /// Last request, Unix ms (idle timeout counts from here).
    pub last_seen_at: i64,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// Browser at sign-in.
    pub user_agent: Option<String>,
}

/// What is needed to create a session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// SHA-256 of the session id, hex.
    pub id_hash: String,
    /// Whose session.
    pub user_id: i64,
    /// The CSRF token.
    pub csrf_token: String,
    /// Whether the second factor was already passed.
    pub mfa_passed: bool,
    /// Now, Unix ms.
    pub now_ms: i64,
    /// Client address.
    pub ip: Option<String>,
    /// Browser.
    pub user_agent: Option<String>,
}

/// An invitation to join an organization with a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invitation {
    /// Row id.
    pub id: i64,
    /// The organization to join.
    pub org_id: i64,
    /// Who is invited.
    pub email: String,
    /// The role they will have.
    pub role: Role,
    /// Who invited them.
    pub invited_by: Option<i64>,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// After this, Unix ms, the link no longer works.
    pub expires_at: i64,
}

/// What is needed to create an invitation.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    /// The organization to join.
    pub org_id: i64,
    /// Who is invited (already checked).
    pub email: rounds_domain::Email,
    /// The role they will have.
    pub role: Role,
    /// SHA-256 of the link token, hex.
    pub token_hash: String,
    /// Expiry, Unix ms.
    pub expires_at: i64,
}

/// A personal API token (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Row id.
    pub id: i64,
    /// Whose token.
    pub user_id: i64,
    /// What the user called it.
    pub name: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last use, Unix ms.
    pub last_used_at: Option<i64>,
    /// When revoked, Unix ms.
    pub revoked_at: Option<i64>,
}

/// Which audit events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this organization's events and installation-wide ones (which have no organization).
    pub org_id: Option<i64>,
    /// Only actions starting with this (e.g. `auth.`).
    pub action_prefix: Option<String>,
    /// Only events whose actor label contains this.
    pub actor: Option<String>,
    /// Only events at or after this time, Unix ms.
    pub since_ms: Option<i64>,
    /// Only events before this time, Unix ms.
    pub until_ms: Option<i64>,
    /// Cursor: only events with a smaller `seq`.
    pub before_seq: Option<i64>,
    /// Page size (capped at 1000).
    pub limit: u32,
}

/// Cursor pagination for lists ordered newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// Only rows with a smaller id than this.
    pub before_id: Option<i64>,
    /// Page size (capped at 500).
    pub limit: u32,
}

/// A social account the organization publishes to and listens on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    /// Row id.
    pub id: i64,
    /// The organization.
    pub org_id: i64,
    /// The network: `bluesky`, `facebook`, `mastodon`, `instagram`, `x`, `linkedin`.
    pub network: String,
    /// The account's handle on the network.
    pub handle: String,
    /// The name shown in Rounds.
    pub display_name: String,
    /// Whether Rounds can act on it.
    pub status: crate::ChannelStatus,
    /// When the access token expires, Unix ms.
    pub token_expires_at: Option<i64>,
    /// The last call to the network that worked, Unix ms.
    pub last_success_at: Option<i64>,
    /// The last failure in the network's own words.
    pub last_error: Option<String>,
    /// When that failure happened, Unix ms.
    pub last_error_at: Option<i64>,
    /// The last call to the network, Unix ms.
    pub last_checked_at: Option<i64>,
    /// Where reading replies and mentions got to (the network's cursor).
    pub sync_cursor: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: i64,
}

/// What is needed to create a channel.
#[derive(Debug, Clone)]
pub struct NewChannel {
    /// The network.
    pub network: String,
    /// The handle.
    pub handle: String,
    /// The name shown in Rounds.
    pub display_name: String,
}

/// A post: one text for one or more channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Post {
    /// Row id.
    pub id: i64,
    /// The organization.
    pub org_id: i64,
    /// Who wrote it.
    pub author_id: Option<i64>,
    /// The text.
    pub body: String,
    /// The channels it goes to.
    pub channel_ids: Vec<i64>,
    /// Where it is in its life.
    pub status: PostStatus,
    /// When it should go out, Unix ms.
    pub scheduled_at: Option<i64>,
    /// Whether it is paid or advocacy content (needs a disclosure).
    pub paid: bool,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
    /// The current version (1 at creation, one more per edit); decisions belong to a version.
    pub version: i64,
    /// What kind of content it is (e.g. `general`, `brand_promotion`): picks the approval chain.
    pub content_type: String,
    /// The attached media, in order.
    pub media_ids: Vec<i64>,
    /// Why the post is in its status, when that needs saying (the network's error, a missed slot).
    pub status_note: Option<String>,
}

/// What is needed to create a post.
#[derive(Debug, Clone)]
pub struct NewPost {
    /// Who wrote it.
    pub author_id: Option<i64>,
    /// The text.
    pub body: String,
    /// The channels it goes to.
    pub channel_ids: Vec<i64>,
    /// Initial status.
    pub status: PostStatus,
    /// When it should go out, Unix ms.
    pub scheduled_at: Option<i64>,
    /// Whether it is paid or advocacy content.
    pub paid: bool,
    /// What kind of content it is (`general` unless it needs a special chain).
    pub content_type: String,
    /// The attached media, in order.
    pub media_ids: Vec<i64>,
}

/// A comment, mention or direct message received on a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxItem {
    /// Row id.
    pub id: i64,
    /// The organization.
    pub org_id: i64,
    /// The channel it arrived on.
    pub channel_id: i64,
    /// The network's own id for it.
    pub network_id: String,
    /// `comment`, `mention` or `message`.
    pub kind: String,
    /// The sender's handle.
    pub author_handle: String,
    /// The sender's display name.
    pub author_name: String,
    /// The text.
    pub body: String,
    /// When the network says it was sent, Unix ms.
    pub received_at: i64,
    /// `open`, `assigned`, `answered`, `hidden`, `closed`.
    pub status: String,
}

/// What is needed to store an inbox item.
#[derive(Debug, Clone)]
pub struct NewInboxItem {
    /// The channel it arrived on.
    pub channel_id: i64,
    /// The network's own id for it.
    pub network_id: String,
    /// `comment`, `mention` or `message`.
    pub kind: String,
    /// The sender's handle.
    pub author_handle: String,
    /// The sender's display name.
    pub author_name: String,
    /// The text.
    pub body: String,
    /// When the network says it was sent, Unix ms.
    pub received_at: i64,
}
