//! The audit event and its hash chain.
//!
//! Each event stores the hash of the one before it, so editing, deleting or reordering any stored event
//! changes every hash after it. [`verify`] recomputes the chain and names the first event that does not
//! match; anyone with a copy of the rows can run it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the very first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// One audit event as stored: what happened, who did it, to what, and the chain link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the chain, starting at 1 and without gaps.
    pub seq: i64,
    /// When, in Unix milliseconds (UTC).
    pub at_ms: i64,
    /// The organization the event belongs to; `None` for installation-wide events.
    pub org_id: Option<i64>,
    /// The user who acted; `None` for the system or an anonymous visitor.
    pub actor_id: Option<i64>,
    /// How the actor is shown (an email, "system", "cli"), kept even if the user is later removed.
    pub actor: String,
    /// The stable action identifier, e.g. `user.login` (see [`AuditAction`]).
    pub action: String,
    /// What was acted on, e.g. `user:7`.
    pub target: String,
    /// Details as a JSON object (never secrets, never message text with PHI).
    pub detail: String,
    /// The client address the request came from, when there was one.
    pub ip: Option<String>,
    /// The hash of the previous event ([`GENESIS_HASH`] for the first).
    #[serde(with = "hex_bytes")]
    pub prev_hash: [u8; 32],
    /// SHA-256 over `prev_hash` and every field above.
    #[serde(with = "hex_bytes")]
    pub hash: [u8; 32],
}

impl AuditRecord {
    /// The hash this record should carry, given its `prev_hash` and fields.
    pub fn compute_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"rounds-audit-v1");
        h.update(self.prev_hash);
        // Every field is length-prefixed so that no two different records serialize alike.
        let mut field = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        field(&self.seq.to_be_bytes());
        field(&self.at_ms.to_be_bytes());
        field(
            self.org_id
                .map(i64::to_be_bytes)
                .as_ref()
                .map_or(&[][..], |b| &b[..]),
        );
        field(
            self.actor_id
                .map(i64::to_be_bytes)
                .as_ref()
                .map_or(&[][..], |b| &b[..]),
        );
        field(self.actor.as_bytes());
        field(self.action.as_bytes());
        field(self.target.as_bytes());
        field(self.detail.as_bytes());
        field(self.ip.as_deref().unwrap_or("").as_bytes());
        h.finalize().into()
    }

    /// Fills `hash` from the other fields; used when appending.
    pub fn seal(mut self) -> Self {
        self.hash = self.compute_hash();
        self
    }
}

/// The header of the CSV export; [`AuditRecord::csv_row`] writes rows in this order.
pub const CSV_HEADER: &str =
    "seq,at_ms,org_id,actor_id,actor,action,target,detail,ip,prev_hash,hash";

impl AuditRecord {
    /// The record as one CSV line (RFC 4180 quoting), without the line break.
    pub fn csv_row(&self) -> String {
        let opt = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        [
            self.seq.to_string(),
            self.at_ms.to_string(),
            opt(self.org_id),
            opt(self.actor_id),
            csv_field(&self.actor),
            csv_field(&self.action),
            csv_field(&self.target),
            csv_field(&self.detail),
            csv_field(self.ip.as_deref().unwrap_or("")),
            hex::encode(self.prev_hash),
            hex::encode(self.hash),
        ]
        .join(",")
    }
}

/// Quotes a CSV field when it holds a comma, quote or line break; a leading `=`, `+`, `-` or `@`
/// is prefixed with `'` so a spreadsheet never runs it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Where and why a chain stopped verifying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// The stored hash does not match the event's own fields: the event was edited.
    #[error("event {seq} was altered: its stored hash does not match its contents")]
    Altered {
        /// The first event that fails.
        seq: i64,
    },
    /// The event does not point at the one before it: an event was removed, inserted or reordered.
    #[error(
        "event {seq} does not follow event {prev_seq}: the chain was cut (an event removed, inserted or reordered)"
    )]
    Unlinked {
        /// The first event that fails.
        seq: i64,
        /// The event before it in storage order.
        prev_seq: i64,
    },
    /// Sequence numbers skip or repeat.
    #[error("event {seq} comes where event {expected} should: events are missing or duplicated")]
    Gap {
        /// The sequence number found.
        seq: i64,
        /// The sequence number expected.
        expected: i64,
    },
}

impl ChainBreak {
    /// The sequence number of the first broken event.
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::Altered { seq }
            | ChainBreak::Unlinked { seq, .. }
            | ChainBreak::Gap { seq, .. } => *seq,
        }
    }
}

/// Checks a chain fed in `seq` order from its first event; returns how many events were checked.
pub fn verify<I>(records: I) -> Result<u64, ChainBreak>
where
    I: IntoIterator<Item = AuditRecord>,
{
    let mut verifier = Verifier::default();
    for r in records {
        verifier.push(&r)?;
    }
    Ok(verifier.checked)
}

/// Incremental chain check, for callers that stream events page by page.
#[derive(Debug, Clone)]
pub struct Verifier {
    prev_hash: [u8; 32],
    prev_seq: i64,
    checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            prev_hash: GENESIS_HASH,
            prev_seq: 0,
            checked: 0,
        }
    }
}

impl Verifier {
    /// Checks the next event in `seq` order.
    pub fn push(&mut self, r: &AuditRecord) -> Result<(), ChainBreak> {
        let expected = self.prev_seq.saturating_add(1);
        if r.seq != expected {
            return Err(ChainBreak::Gap {
                seq: r.seq,
                expected,
            });
        }
        if r.compute_hash() != r.hash {
            return Err(ChainBreak::Altered { seq: r.seq });
        }
        if r.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked {
                seq: r.seq,
                prev_seq: self.prev_seq,
            });
        }
        self.prev_hash = r.hash;
        self.prev_seq = r.seq;
        self.checked += 1;
        Ok(())
    }

    /// How many events verified so far.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The hash of the last verified event: publish it to detect a truncated tail later.
    pub fn head(&self) -> [u8; 32] {
        self.prev_hash
    }
}

/// The actions Rounds records; the string form is stable and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    /// The first-run set-up created the organization and its first admin.
    SetupCompleted,
    /// A user signed in (password and, where required, second factor).
    LoginSucceeded,
    /// A sign-in attempt failed (wrong password, unknown user, locked, wrong code).
    LoginFailed,
    /// Too many failures: sign-in is locked for a while.
    LoginLocked,
    /// A user signed out.
    Logout,
    /// Every session of a user was revoked.
    SessionsRevoked,
    /// A user was created directly (CLI or demo).
    UserCreated,
    /// An invitation was sent.
    UserInvited,
    /// An invitation was accepted and the account created.
    InvitationAccepted,
    /// A user's role changed.
    RoleChanged,
    /// A user was disabled.
    UserDisabled,
    /// A user was re-enabled.
    UserEnabled,
    /// A user changed their password.
    PasswordChanged,
    /// A user enrolled a TOTP second factor.
    MfaEnrolled,
    /// An administrator removed a user's second factor.
    MfaReset,
    /// A recovery code was used to sign in.
    RecoveryCodeUsed,
    /// An organization setting changed.
    SettingChanged,
    /// A personal API token was created.
    ApiTokenCreated,
    /// A personal API token was revoked.
    ApiTokenRevoked,
    /// The audit log was exported.
    AuditExported,
    /// A backup of the database was written.
    BackupCreated,
    /// The demo sandbox was seeded.
    DemoSeeded,
    /// An organization was created beside the first (the demo sandbox next to a real one).
    OrgCreated,
    /// A social account was added to an organization.
    ChannelCreated,
    /// A post was saved.
    PostCreated,
    /// A post's content changed: a new version, earlier approvals void.
    PostEdited,
    /// A post version was sent for approval.
    PostSubmitted,
    /// A blocking screening finding was overridden with a written reason.
    ScreeningOverridden,
    /// A reviewer approved a step of a post's chain.
    PostApproved,
    /// A reviewer rejected a post.
    PostRejected,
    /// A reviewer sent a post back for changes.
    ChangesRequested,
    /// A post was given a (new) publishing time.
    PostRescheduled,
    /// A post reached a channel.
    PostPublished,
    /// Publishing to a channel failed and will be tried again later.
    PublishRetried,
    /// Publishing to a channel failed for good.
    PublishFailed,
    /// A published item was deleted from its network.
    PublicationDeleted,
    /// An approval chain was created or changed.
    ApprovalChainSaved,
    /// An approval chain was removed.
    ApprovalChainDeleted,
    /// A channel's network credentials were stored (connected or re-connected).
    ChannelConnected,
    /// A channel's credentials were wiped.
    ChannelDisconnected,
    /// A channel was deleted.
    ChannelDeleted,
    /// A channel became errored or expired (a call to its network failed).
    ChannelStatusChanged,
    /// The key that seals stored secrets was replaced and every sealed value re-sealed.
    KeyRotated,
    /// An image was uploaded.
    MediaUploaded,
    /// An image's alt text changed.
    MediaAltChanged,
    /// Someone stopped all publishing of the organization (a crisis, an incident).
    PublishingPaused,
    /// Publishing was started again.
    PublishingResumed,
    /// A scheduled post's time passed while publishing was paused; it waits for a new time.
    PostSlotMissed,
}

impl AuditAction {
    /// The stable identifier stored in `action`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SetupCompleted => "setup.completed",
            AuditAction::LoginSucceeded => "auth.login",
            AuditAction::LoginFailed => "auth.login_failed",
            AuditAction::LoginLocked => "auth.locked",
            AuditAction::Logout => "auth.logout",
            AuditAction::SessionsRevoked => "auth.sessions_revoked",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserInvited => "user.invited",
            AuditAction::InvitationAccepted => "user.invitation_accepted",
            AuditAction::RoleChanged => "user.role_changed",
            AuditAction::UserDisabled => "user.disabled",
            AuditAction::UserEnabled => "user.enabled",
            AuditAction::PasswordChanged => "user.password_changed",
            AuditAction::MfaEnrolled => "mfa.enrolled",
            AuditAction::MfaReset => "mfa.reset",
            AuditAction::RecoveryCodeUsed => "mfa.recovery_code_used",
            AuditAction::SettingChanged => "settings.changed",
            AuditAction::ApiTokenCreated => "api_token.created",
            AuditAction::ApiTokenRevoked => "api_token.revoked",
            AuditAction::AuditExported => "audit.exported",
            AuditAction::BackupCreated => "backup.created",
            AuditAction::DemoSeeded => "demo.seeded",
            AuditAction::OrgCreated => "org.created",
            AuditAction::ChannelCreated => "channel.created",
            AuditAction::PostCreated => "post.created",
            AuditAction::PostEdited => "post.edited",
            AuditAction::PostSubmitted => "post.submitted",
            AuditAction::ScreeningOverridden => "post.screening_overridden",
            AuditAction::PostApproved => "post.approved",
            AuditAction::PostRejected => "post.rejected",
            AuditAction::ChangesRequested => "post.changes_requested",
            AuditAction::PostRescheduled => "post.rescheduled",
            AuditAction::PostPublished => "post.published",
            AuditAction::PublishRetried => "post.publish_retried",
            AuditAction::PublishFailed => "post.publish_failed",
            AuditAction::PublicationDeleted => "post.publication_deleted",
            AuditAction::ApprovalChainSaved => "approval_chain.saved",
            AuditAction::ApprovalChainDeleted => "approval_chain.deleted",
            AuditAction::ChannelConnected => "channel.connected",
            AuditAction::ChannelDisconnected => "channel.disconnected",
            AuditAction::ChannelDeleted => "channel.deleted",
            AuditAction::ChannelStatusChanged => "channel.status_changed",
            AuditAction::KeyRotated => "key.rotated",
            AuditAction::MediaUploaded => "media.uploaded",
            AuditAction::MediaAltChanged => "media.alt_changed",
            AuditAction::PublishingPaused => "publishing.paused",
            AuditAction::PublishingResumed => "publishing.resumed",
            AuditAction::PostSlotMissed => "post.slot_missed",
        }
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH;
        (1..=n)
            .map(|seq| {
                let r = AuditRecord {
                    seq,
                    at_ms: 1_700_000_000_000 + seq,
                    org_id: Some(1),
                    actor_id: Some(seq % 3),
                    actor: format!("user{seq}@example.org"),
                    action: AuditAction::LoginSucceeded.as_str().into(),
                    target: format!("user:{seq}"),
                    detail: "{}".into(),
                    ip: Some("127.0.0.1".into()),
                    prev_hash: prev,
                    hash: [0; 32],
                }
                .seal();
                prev = r.hash;
                r
            })
            .collect()
    }

    #[test]
    fn csv_rows_quote_and_defuse() {
        let mut r = chain(1).remove(0);
        r.detail = r#"{"a":"b, c"}"#.into();
        r.actor = "=HYPERLINK(1)".into();
        let row = r.csv_row();
        assert!(row.contains(r#""{""a"":""b, c""}""#), "{row}");
        assert!(row.contains("'=HYPERLINK(1)"), "{row}");
        assert_eq!(
            row.matches(',').count(),
            CSV_HEADER.matches(',').count() + 1
        );
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(chain(5)), Ok(5));
        assert_eq!(verify(Vec::new()), Ok(0));
    }

    #[test]
    fn edited_event_is_named() {
        let mut c = chain(5);
        c[2].detail = r#"{"role":"admin"}"#.into();
        assert_eq!(verify(c), Err(ChainBreak::Altered { seq: 3 }));
    }

    #[test]
    fn rehashed_edit_breaks_the_next_link() {
        let mut c = chain(5);
        c[2].actor = "someone-else".into();
        c[2].hash = c[2].compute_hash();
        assert_eq!(
            verify(c),
            Err(ChainBreak::Unlinked {
                seq: 4,
                prev_seq: 3
            })
        );
    }

    #[test]
    fn removed_event_is_a_gap() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify(c),
            Err(ChainBreak::Gap {
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn fields_cannot_be_shifted_between_each_other() {
        let a = chain(1).remove(0);
        let mut b = a.clone();
        b.actor = format!("{}{}", a.actor, "x");
        b.action = a.action.trim_start_matches('a').to_owned();
        assert_ne!(a.compute_hash(), b.compute_hash());
    }
}
