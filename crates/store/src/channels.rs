//! Connected channels (sealed credentials and their health), uploaded media, and key rotation.

use rounds_domain::AuditAction;
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{self, append_audit, now_ms, write_tx};
use crate::seal;
use crate::{Actor, Channel, Result, Store, StoreError};

/// Largest image stored, in bytes: above every network's own limit for a single image.
pub const MAX_MEDIA_BYTES: usize = 8 * 1024 * 1024;

/// Longest alt text kept, in characters (the most any supported network accepts).
pub const MAX_ALT_CHARS: usize = 2000;

/// Longest network error message kept, in characters; longer ones are cut.
const MAX_ERROR_CHARS: usize = 2000;

/// Whether Rounds can act on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    /// No credentials stored.
    NotConnected,
    /// Credentials stored, and the last call to the network (if any) worked.
    Connected,
    /// The last call to the network failed; its message is in `last_error`.
    Error,
    /// The network says the token expired or was revoked: someone must connect the channel again.
    Expired,
}

impl ChannelStatus {
    /// Every status, in the order a page lists them.
    pub const ALL: [ChannelStatus; 4] = [
        ChannelStatus::NotConnected,
        ChannelStatus::Connected,
        ChannelStatus::Error,
        ChannelStatus::Expired,
    ];

    /// The stored identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelStatus::NotConnected => "not_connected",
            ChannelStatus::Connected => "connected",
            ChannelStatus::Error => "error",
            ChannelStatus::Expired => "expired",
        }
    }

    /// The status stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<ChannelStatus> {
        ChannelStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
    }

    /// How a page shows it.
    pub fn label(self) -> &'static str {
        match self {
            ChannelStatus::NotConnected => "Not connected",
            ChannelStatus::Connected => "Connected",
            ChannelStatus::Error => "Error",
            ChannelStatus::Expired => "Sign-in expired",
        }
    }
}

impl std::fmt::Display for ChannelStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What the network said about the account when it was connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelHealth {
    /// The account's handle as the network reports it.
    pub handle: String,
    /// The account's display name as the network reports it.
    pub display_name: String,
    /// When the access token expires, Unix ms; `None` when it does not.
    pub token_expires_at: Option<i64>,
}

/// An image ready to store: bytes already cleaned by `rounds_domain::media::sanitize_image`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewMedia {
    /// `image/jpeg`, `image/png`, `image/webp` or `image/gif`.
    pub mime: String,
    /// The cleaned image.
    pub bytes: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The description read aloud by screen readers.
    pub alt_text: String,
}

impl NewMedia {
    /// The cleaned image with its alt text.
    pub fn from_clean(image: rounds_domain::media::CleanImage, alt_text: String) -> NewMedia {
        NewMedia {
            mime: image.mime.to_owned(),
            bytes: image.bytes,
            width: image.width,
            height: image.height,
            alt_text,
        }
    }
}

impl std::fmt::Debug for NewMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMedia")
            .field("mime", &self.mime)
            .field("bytes", &self.bytes.len())
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

/// A stored image (without its bytes: [`Store::media_bytes`] reads those).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Media {
    /// Row id.
    pub id: i64,
    /// The organization.
    pub org_id: i64,
    /// Who uploaded it.
    pub uploaded_by: Option<i64>,
    /// The image type.
    pub mime: String,
    /// Size in bytes.
    pub size: i64,
    /// The description read aloud by screen readers.
    pub alt_text: String,
    /// Width in pixels.
    pub width: i64,
    /// Height in pixels.
    pub height: i64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    /// Upload time, Unix ms.
    pub created_at: i64,
}

/// What a key rotation re-sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotateSummary {
    /// Id of the key that sealed the values before.
    pub old_key_id: String,
    /// Id of the key that seals them now.
    pub new_key_id: String,
    /// TOTP secrets re-sealed.
    pub totp_secrets: u64,
    /// Channel credentials re-sealed.
    pub channel_credentials: u64,
    /// Where the previous key was kept; `None` until the key files were swapped.
    pub old_key_file: Option<std::path::PathBuf>,
}

/// Credentials are a JSON object and the network named the account: checked before anything is sealed.
fn check_credentials(credentials_json: &str, health: &ChannelHealth) -> Result<()> {
    if serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(credentials_json).is_err()
    {
        // The credentials themselves stay out of the message: they are secret.
        return Err(StoreError::Invalid(
            "channel credentials must be a JSON object".into(),
        ));
    }
    if health.handle.trim().is_empty() {
        return Err(StoreError::Invalid(
            "the network did not report the account's handle".into(),
        ));
    }
    Ok(())
}

/// Associated data for a channel's credentials, so sealed credentials copied to another channel fail to open.
fn credentials_purpose(channel_id: i64) -> Vec<u8> {
    format!("channel:{channel_id}:credentials").into_bytes()
}

/// Columns of [`media_row`].
const MEDIA_COLS: &str = "id, org_id, uploaded_by, mime, CAST(LENGTH(bytes) AS BIGINT), alt_text, width, height, sha256, created_at";

fn media_row(row: &AnyRow) -> Result<Media> {
    Ok(Media {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        uploaded_by: row.try_get(2)?,
        mime: row.try_get(3)?,
        size: row.try_get(4)?,
        alt_text: row.try_get(5)?,
        width: row.try_get(6)?,
        height: row.try_get(7)?,
        sha256: row.try_get(8)?,
        created_at: row.try_get(9)?,
    })
}

/// Notifies everyone in the organization whose role may manage channels.
async fn notify_channel_managers(
    conn: &mut AnyConnection,
    org_id: i64,
    channel_id: i64,
    kind: &str,
    message: &str,
) -> Result<()> {
    let members = crate::publishing::members(&mut *conn, org_id).await?;
    let managers = members
        .iter()
        .filter(|(role, _)| role.can(rounds_domain::Permission::ManageChannels))
        .flat_map(|(_, ids)| ids);
    for user_id in managers {
        crate::publishing::notify(
            &mut *conn,
            org_id,
            *user_id,
            kind,
            message,
            Some(format!("/channels#channel-{channel_id}")),
        )
        .await?;
    }
    Ok(())
}

fn clip(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(i, _)| &s[..i])
}

impl Store {
    // ---- channel credentials and health ----

    /// One channel of the organization.
    pub async fn channel(&self, org_id: i64, channel_id: i64) -> Result<Option<Channel>> {
        let mut conn = self.pool.acquire().await?;
        fetch_channel(&mut conn, org_id, channel_id).await
    }

    /// Stores the network credentials of a channel (a JSON document, sealed with the key file and bound
    /// to this channel) and what the network said about the account; the channel becomes connected.
    /// The audit event names the network and handle, never the credentials.
    pub async fn connect_channel(
        &self,
        org_id: i64,
        channel_id: i64,
        credentials_json: &str,
        health: &ChannelHealth,
        actor: &Actor,
    ) -> Result<Channel> {
        check_credentials(credentials_json, health)?;
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let updated = self
            .store_credentials(&mut tx, org_id, channel_id, credentials_json, health, actor)
            .await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Adds a channel the network has just accepted, with its credentials, in one transaction: a
    /// failure leaves no half-made, unconnected row behind.
    pub async fn create_connected_channel(
        &self,
        org_id: i64,
        channel: &crate::NewChannel,
        credentials_json: &str,
        health: &ChannelHealth,
        actor: &Actor,
    ) -> Result<Channel> {
        check_credentials(credentials_json, health)?;
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let created = crate::insert_channel(&mut tx, org_id, channel, actor).await?;
        let connected = self
            .store_credentials(&mut tx, org_id, created.id, credentials_json, health, actor)
            .await?;
        tx.commit().await?;
        Ok(connected)
    }

    async fn store_credentials(
        &self,
        tx: &mut AnyConnection,
        org_id: i64,
        channel_id: i64,
        credentials_json: &str,
        health: &ChannelHealth,
        actor: &Actor,
    ) -> Result<Channel> {
        let (sealed, key_id) = self.key.seal_stamped(
            &credentials_purpose(channel_id),
            credentials_json.as_bytes(),
        )?;
        let old = fetch_channel(&mut *tx, org_id, channel_id)
            .await?
            .ok_or(StoreError::NotFound("channel"))?;
        let now = now_ms();
        sqlx::query(
            "UPDATE channels SET credentials = $2, key_id = $3, handle = $4, display_name = $5, token_expires_at = $6, \
             status = 'connected', last_error = NULL, last_error_at = NULL, last_checked_at = $7 WHERE id = $1",
        )
        .bind(channel_id)
        .bind(sealed)
        .bind(key_id)
        .bind(health.handle.as_str())
        .bind(health.display_name.as_str())
        .bind(health.token_expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let detail = json!({
            "network": old.network,
            "handle": health.handle,
            "token_expires_at": health.token_expires_at,
            "reconnected": old.status != crate::ChannelStatus::NotConnected,
        });
        append_audit(
            &mut *tx,
            actor,
            AuditAction::ChannelConnected,
            &format!("channel:{channel_id}"),
            detail,
        )
        .await?;
        fetch_channel(&mut *tx, org_id, channel_id)
            .await?
            .ok_or(StoreError::NotFound("channel"))
    }

    /// The channel's credentials JSON, unsealed; `None` when it is not connected. A key file that does
    /// not open them gives an error naming the key file (and the key that sealed them).
    pub async fn channel_credentials(
        &self,
        org_id: i64,
        channel_id: i64,
    ) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT credentials, key_id FROM channels WHERE id = $1 AND org_id = $2")
                .bind(channel_id)
                .bind(org_id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound("channel"))?;
        let Some(sealed) = row.try_get::<Option<Vec<u8>>, _>(0)? else {
            return Ok(None);
        };
        let stamped: Option<String> = row.try_get(1)?;
        let plain = self.key.open_stamped(
            &credentials_purpose(channel_id),
            &sealed,
            stamped.as_deref(),
            "channel credentials",
        )?;
        String::from_utf8(plain)
            .map(Some)
            .map_err(|_| StoreError::Secret("the channel credentials are damaged".into()))
    }

    /// Forgets the channel's credentials (they are wiped, not kept sealed); the channel stays, not connected.
    pub async fn disconnect_channel(
        &self,
        org_id: i64,
        channel_id: i64,
        actor: &Actor,
    ) -> Result<Channel> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let old = fetch_channel(&mut tx, org_id, channel_id)
            .await?
            .ok_or(StoreError::NotFound("channel"))?;
        sqlx::query(
            "UPDATE channels SET credentials = NULL, key_id = NULL, token_expires_at = NULL, status = 'not_connected', \
             sync_cursor = NULL WHERE id = $1",
        )
        .bind(channel_id)
        .execute(&mut *tx)
        .await?;
        let detail =
            json!({ "network": old.network, "handle": old.handle, "was": old.status.as_str() });
        append_audit(
            &mut tx,
            actor,
            AuditAction::ChannelDisconnected,
            &format!("channel:{channel_id}"),
            detail,
        )
        .await?;
        let updated = fetch_channel(&mut tx, org_id, channel_id)
            .await?
            .ok_or(StoreError::NotFound("channel"))?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Deletes a channel that nothing refers to; `Conflict` while a post, an inbox item or a publishing
    /// record still names it (disconnect it instead, which keeps that history readable).
    pub async fn delete_channel(&self, org_id: i64, channel_id: i64, actor: &Actor) -> Result<()> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let old = fetch_channel(&mut tx, org_id, channel_id)
            .await?
            .ok_or(StoreError::NotFound("channel"))?;
        // Posts list their channels as JSON, which no foreign key guards.
        let lists = sqlx::query("SELECT channel_ids FROM posts WHERE org_id = $1")
            .bind(org_id)
            .fetch_all(&mut *tx)
            .await?;
        for row in &lists {
            let text: String = row.try_get(0)?;
            let ids: Vec<i64> = serde_json::from_str(&text)
                .map_err(|e| db::decode_error(format!("post channel list: {e}")))?;
            if ids.contains(&channel_id) {
                return Err(StoreError::Conflict(
                    "posts use this channel; remove it from them or disconnect the channel instead",
                ));
            }
        }
        let referenced =
            "the channel still has inbox items or publishing records; disconnect it instead";
        sqlx::query("DELETE FROM channels WHERE id = $1")
            .bind(channel_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                    StoreError::Conflict(referenced)
                }
                _ => StoreError::Db(e),
            })?;
        let detail = json!({ "network": old.network, "handle": old.handle });
        append_audit(
            &mut tx,
            actor,
            AuditAction::ChannelDeleted,
            &format!("channel:{channel_id}"),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a call to the network that worked; an errored or expired channel that still has
    /// credentials is connected again.
    pub async fn record_channel_success(&self, channel_id: i64, at_ms: i64) -> Result<()> {
        let done = sqlx::query(
            "UPDATE channels SET last_success_at = $2, last_checked_at = $2, \
             status = CASE WHEN credentials IS NULL THEN status ELSE 'connected' END WHERE id = $1",
        )
        .bind(channel_id)
        .bind(at_ms)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("channel"));
        }
        Ok(())
    }

    /// Records a failed call in the network's own words (shown on the channel page). `status` is
    /// `Error` or `Expired`; a change of status is audited, a repeated failure is not.
    pub async fn record_channel_error(
        &self,
        channel_id: i64,
        status: crate::ChannelStatus,
        network_message: &str,
        at_ms: i64,
    ) -> Result<()> {
        if !matches!(
            status,
            crate::ChannelStatus::Error | crate::ChannelStatus::Expired
        ) {
            return Err(StoreError::Invalid(format!(
                "a failed call cannot leave a channel {}",
                status.label().to_lowercase()
            )));
        }
        let message = clip(network_message, MAX_ERROR_CHARS);
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let row = sqlx::query("SELECT org_id, status FROM channels WHERE id = $1")
            .bind(channel_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("channel"))?;
        let org_id: i64 = row.try_get(0)?;
        let old: String = row.try_get(1)?;
        sqlx::query("UPDATE channels SET status = $2, last_error = $3, last_error_at = $4, last_checked_at = $4 WHERE id = $1")
            .bind(channel_id)
            .bind(status.as_str())
            .bind(message)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?;
        if old != status.as_str() {
            let actor = Actor {
                org_id: Some(org_id),
                ..Actor::system()
            };
            let detail = json!({ "old": old, "new": status.as_str() });
            append_audit(
                &mut tx,
                &actor,
                AuditAction::ChannelStatusChanged,
                &format!("channel:{channel_id}"),
                detail,
            )
            .await?;
            let channel = fetch_channel(&mut tx, org_id, channel_id)
                .await?
                .ok_or(StoreError::NotFound("channel"))?;
            let text = format!(
                "The channel {} ({}) stopped working: {}. Reconnect it on the Channels page; posts due on it fail until then.",
                channel.display_name,
                channel.network,
                message.trim_end_matches('.')
            );
            notify_channel_managers(&mut tx, org_id, channel_id, "channel_problem", &text).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Channels with credentials, connected or failing, that no call has checked since
    /// `checked_before` (Unix ms), across organizations: the publisher asks each network about them.
    pub async fn channels_to_check(&self, checked_before: i64) -> Result<Vec<Channel>> {
        let sql = format!(
            "SELECT {} FROM channels WHERE credentials IS NOT NULL AND status IN ('connected', 'error') \
             AND (last_checked_at IS NULL OR last_checked_at < $1) ORDER BY id",
            db::CHANNEL_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(checked_before)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(db::channel).collect()
    }

    /// Tells the people who manage channels, once per token, that a connected channel's token
    /// expires within `within_ms` of `now_ms`; returns how many channels were warned about.
    pub async fn warn_expiring_tokens(&self, now_ms: i64, within_ms: i64) -> Result<u32> {
        let sql = format!(
            "SELECT {} FROM channels WHERE credentials IS NOT NULL AND status = 'connected' AND token_expires_at IS NOT NULL \
             AND token_expires_at <= $1 AND (expiry_warned_for IS NULL OR expiry_warned_for <> token_expires_at) ORDER BY id",
            db::CHANNEL_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms.saturating_add(within_ms))
            .fetch_all(&self.pool)
            .await?;
        let mut warned = 0;
        for row in &rows {
            let channel = db::channel(row)?;
            let Some(expires) = channel.token_expires_at else {
                continue;
            };
            let mut tx = write_tx(&self.pool, self.backend).await?;
            let claimed = sqlx::query("UPDATE channels SET expiry_warned_for = $2 WHERE id = $1 AND token_expires_at = $2 AND (expiry_warned_for IS NULL OR expiry_warned_for <> $2)")
                .bind(channel.id)
                .bind(expires)
                .execute(&mut *tx)
                .await?;
            if claimed.rows_affected() == 0 {
                continue;
            }
            let days = (expires - now_ms).max(0) / 86_400_000;
            let when = match days {
                0 => "within a day".to_owned(),
                1 => "in 1 day".to_owned(),
                n => format!("in {n} days"),
            };
            let text = format!(
                "The sign-in of the channel {} ({}) expires {when}. Reconnect it on the Channels page before then, or its scheduled posts will fail.",
                channel.display_name, channel.network
            );
            notify_channel_managers(&mut tx, channel.org_id, channel.id, "token_expiring", &text)
                .await?;
            tx.commit().await?;
            warned += 1;
        }
        Ok(warned)
    }

    /// Remembers where reading the channel's replies and mentions got to (the network's own cursor).
    pub async fn set_sync_cursor(&self, channel_id: i64, cursor: Option<&str>) -> Result<()> {
        let done = sqlx::query("UPDATE channels SET sync_cursor = $2 WHERE id = $1")
            .bind(channel_id)
            .bind(cursor)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("channel"));
        }
        Ok(())
    }

    // ---- media ----

    /// Stores an uploaded image (already cleaned of metadata); refuses one over [`MAX_MEDIA_BYTES`].
    pub async fn add_media(&self, org_id: i64, media: &NewMedia, actor: &Actor) -> Result<Media> {
        if media.bytes.len() > MAX_MEDIA_BYTES {
            return Err(StoreError::Invalid(format!(
                "the image is {:.1} MiB; images up to {} MiB can be attached",
                media.bytes.len() as f64 / (1024.0 * 1024.0),
                MAX_MEDIA_BYTES / (1024 * 1024)
            )));
        }
        if media.bytes.is_empty() {
            return Err(StoreError::Invalid("the image is empty".into()));
        }
        check_alt(&media.alt_text)?;
        let sha256 = rounds_domain::secret::sha256_hex(&media.bytes);
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let sql = format!(
            "INSERT INTO media (org_id, uploaded_by, mime, bytes, alt_text, width, height, sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {MEDIA_COLS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(actor.user_id)
            .bind(media.mime.as_str())
            .bind(media.bytes.as_slice())
            .bind(media.alt_text.as_str())
            .bind(i64::from(media.width))
            .bind(i64::from(media.height))
            .bind(sha256.as_str())
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await
            .map_err(crate::foreign_key("organization or uploader"))?;
        let created = media_row(&row)?;
        let detail = json!({ "mime": created.mime, "bytes": created.size, "sha256": created.sha256, "has_alt": !created.alt_text.is_empty() });
        append_audit(
            &mut tx,
            actor,
            AuditAction::MediaUploaded,
            &format!("media:{}", created.id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// One stored image's description.
    pub async fn media(&self, org_id: i64, media_id: i64) -> Result<Option<Media>> {
        let sql = format!("SELECT {MEDIA_COLS} FROM media WHERE id = $1 AND org_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(media_id)
            .bind(org_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(media_row).transpose()
    }

    /// One stored image's type and bytes.
    pub async fn media_bytes(
        &self,
        org_id: i64,
        media_id: i64,
    ) -> Result<Option<(String, Vec<u8>)>> {
        let row = sqlx::query("SELECT mime, bytes FROM media WHERE id = $1 AND org_id = $2")
            .bind(media_id)
            .bind(org_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// Replaces an image's alt text.
    pub async fn set_media_alt(
        &self,
        org_id: i64,
        media_id: i64,
        alt: &str,
        actor: &Actor,
    ) -> Result<Media> {
        check_alt(alt)?;
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let done = sqlx::query("UPDATE media SET alt_text = $3 WHERE id = $1 AND org_id = $2")
            .bind(media_id)
            .bind(org_id)
            .bind(alt)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("image"));
        }
        // The text itself may describe a patient: the log keeps only its length.
        let detail = json!({ "alt_chars": alt.chars().count() });
        append_audit(
            &mut tx,
            actor,
            AuditAction::MediaAltChanged,
            &format!("media:{media_id}"),
            detail,
        )
        .await?;
        let sql = format!("SELECT {MEDIA_COLS} FROM media WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(media_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        media_row(&row)
    }

    // ---- key rotation ----

    /// Replaces the key file's key: every sealed value (TOTP secrets, channel credentials) is re-sealed
    /// with a fresh key in one transaction, then the old key file is kept as `<key>.old-<unix ms>` and
    /// the new one moved into place. Other processes using the same database (a running `rounds serve`)
    /// keep the old key until restarted, so stop them first.
    pub async fn rotate_key(&self, actor: &Actor) -> Result<RotateSummary> {
        let (mut summary, new_key) = self.reseal_with_new_key(actor).await?;
        // The database needs the new key from here on, whatever happens to the files.
        self.key.replace(new_key);
        summary.old_key_file = Some(seal::finish_swap(self.key.path(), now_ms())?);
        Ok(summary)
    }

    /// [`Store::rotate_key`] stopped by a crash after the commit and before the key files were swapped:
    /// the database is sealed with the key in `<key>.new`, the key file still holds the old one.
    #[cfg(feature = "testing")]
    pub async fn rotate_key_interrupted(&self, actor: &Actor) -> Result<RotateSummary> {
        Ok(self.reseal_with_new_key(actor).await?.0)
    }

    async fn reseal_with_new_key(&self, actor: &Actor) -> Result<(RotateSummary, seal::Key)> {
        let path = self.key.path().to_owned();
        let new_key = seal::write_pending(&path)?;
        match self.reseal(&new_key, actor).await {
            Ok(summary) => Ok((summary, new_key)),
            Err(e) => {
                // Nothing committed: the old key still opens everything, so the new one must go.
                seal::abandon_pending(&path)?;
                Err(e)
            }
        }
    }

    async fn reseal(&self, new_key: &seal::Key, actor: &Actor) -> Result<RotateSummary> {
        let old_key = self.key.current();
        let path = self.key.path();
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let users = sqlx::query("SELECT id, totp_secret, totp_key_id FROM users WHERE totp_secret IS NOT NULL ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        for row in &users {
            let id: i64 = row.try_get(0)?;
            let purpose = crate::totp_purpose(id);
            let plain = reopen(
                &old_key,
                path,
                &purpose,
                &row.try_get::<Vec<u8>, _>(1)?,
                row.try_get(2)?,
                &format!("TOTP secret of user {id}"),
            )?;
            sqlx::query("UPDATE users SET totp_secret = $2, totp_key_id = $3 WHERE id = $1")
                .bind(id)
                .bind(new_key.seal(&purpose, &plain)?)
                .bind(new_key.id())
                .execute(&mut *tx)
                .await?;
        }
        let channels = sqlx::query("SELECT id, credentials, key_id FROM channels WHERE credentials IS NOT NULL ORDER BY id")
            .fetch_all(&mut *tx)
            .await?;
        for row in &channels {
            let id: i64 = row.try_get(0)?;
            let purpose = credentials_purpose(id);
            let plain = reopen(
                &old_key,
                path,
                &purpose,
                &row.try_get::<Vec<u8>, _>(1)?,
                row.try_get(2)?,
                &format!("credentials of channel {id}"),
            )?;
            sqlx::query("UPDATE channels SET credentials = $2, key_id = $3 WHERE id = $1")
                .bind(id)
                .bind(new_key.seal(&purpose, &plain)?)
                .bind(new_key.id())
                .execute(&mut *tx)
                .await?;
        }
        let summary = RotateSummary {
            old_key_id: old_key.id().to_owned(),
            new_key_id: new_key.id().to_owned(),
            totp_secrets: users.len() as u64,
            channel_credentials: channels.len() as u64,
            old_key_file: None,
        };
        let detail = json!({
            "old_key_id": summary.old_key_id,
            "new_key_id": summary.new_key_id,
            "totp_secrets": summary.totp_secrets,
            "channel_credentials": summary.channel_credentials,
        });
        append_audit(&mut tx, actor, AuditAction::KeyRotated, "key", detail).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// Settles a rotation that stopped before its key files were swapped (`<key>.new` exists). The
    /// re-sealing is one transaction, so the stored values are all sealed with one of the two keys:
    /// the one that opens a stored value wins. With no sealed value to try, the newest `key.rotated`
    /// event (committed with the re-sealing) decides. Winning, the pending key is moved into place;
    /// losing, it is dropped.
    pub(crate) async fn finish_interrupted_rotation(&self) -> Result<()> {
        let path = self.key.path().to_owned();
        let pending = seal::pending_path(&path);
        if !pending.exists() {
            return Ok(());
        }
        // A pending file that does not even read as a key was cut short before the transaction began.
        let new_key = seal::Key::read(&pending).ok();
        let current = self.key.current();
        let new_key_needed = match (&new_key, self.sealed_sample().await?) {
            (None, _) => false,
            (Some(key), Some((purpose, sealed))) => {
                if key.try_open(&purpose, &sealed).is_some() {
                    true
                } else if current.try_open(&purpose, &sealed).is_some() {
                    false
                } else {
                    return Err(StoreError::Secret(format!(
                        "a key rotation was interrupted, and neither the key file {} nor {} opens the stored secrets: \
                         restore the key file from its backup",
                        path.display(),
                        pending.display()
                    )));
                }
            }
            (Some(key), None) => self.last_rotation_key_id().await?.as_deref() == Some(key.id()),
        };
        match new_key {
            Some(key) if new_key_needed => {
                let old = seal::finish_swap(&path, now_ms())?;
                tracing::warn!(key_file = %path.display(), old = %old.display(), "finished an interrupted key rotation");
                self.key.replace(key);
            }
            _ => {
                seal::abandon_pending(&path)?;
                tracing::warn!(key_file = %path.display(), "rolled back an interrupted key rotation; the key file is unchanged");
            }
        }
        Ok(())
    }

    /// One sealed value and its purpose, to find out which key the stored values need.
    async fn sealed_sample(&self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let user = sqlx::query(
            "SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL ORDER BY id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = user {
            return Ok(Some((
                crate::totp_purpose(row.try_get(0)?),
                row.try_get(1)?,
            )));
        }
        let channel =
            sqlx::query("SELECT id, credentials FROM channels WHERE credentials IS NOT NULL ORDER BY id LIMIT 1").fetch_optional(&self.pool).await?;
        channel
            .map(|row| Ok((credentials_purpose(row.try_get(0)?), row.try_get(1)?)))
            .transpose()
    }

    /// The key id the newest `key.rotated` event names as the new key.
    async fn last_rotation_key_id(&self) -> Result<Option<String>> {
        let detail: Option<String> = sqlx::query(
            "SELECT detail FROM audit_events WHERE action = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(AuditAction::KeyRotated.as_str())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        Ok(detail
            .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
            .and_then(|d| {
                d.get("new_key_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            }))
    }
}

fn reopen(
    key: &seal::Key,
    path: &std::path::Path,
    purpose: &[u8],
    sealed: &[u8],
    stamped: Option<String>,
    what: &str,
) -> Result<Vec<u8>> {
    key.try_open(purpose, sealed)
        .ok_or_else(|| StoreError::Secret(seal::cannot_open(key, path, stamped.as_deref(), what)))
}

fn check_alt(alt: &str) -> Result<()> {
    let n = alt.chars().count();
    if n > MAX_ALT_CHARS {
        return Err(StoreError::Invalid(format!(
            "alt text is {n} characters; at most {MAX_ALT_CHARS} are kept"
        )));
    }
    Ok(())
}

async fn fetch_channel(
    conn: &mut AnyConnection,
    org_id: i64,
    channel_id: i64,
) -> Result<Option<Channel>> {
    let sql = format!(
        "SELECT {} FROM channels WHERE id = $1 AND org_id = $2",
        db::CHANNEL_COLS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(channel_id)
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(db::channel).transpose()
}
