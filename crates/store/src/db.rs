//! Connections, migrations, write transactions, the audit append and row decoding.

use std::str::FromStr;

use rounds_domain::{AuditAction, AuditRecord, GENESIS_HASH, PostStatus};
use sqlx::AnyConnection;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};

use crate::{
    Actor, ApiToken, Backend, Channel, ChannelStatus, InboxItem, Invitation, Org, Post, Result,
    Session, StoreError, User,
};

/// Opens a pool on `url` and applies pending migrations.
pub(crate) async fn connect(url: &str) -> Result<(AnyPool, Backend)> {
    let (pool, backend) = connect_unmigrated(url).await?;
    migrate(&pool, backend).await?;
    Ok((pool, backend))
}

/// Opens a pool on `url` as it is.
pub(crate) async fn connect_unmigrated(url: &str) -> Result<(AnyPool, Backend)> {
    sqlx::any::install_default_drivers();
    let (backend, connect_url) = if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let file = sqlite_file(path)?;
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Open(format!(
                    "cannot create the data folder {}: {e}",
                    parent.display()
                ))
            })?;
        }
        // Absolute, so that no part of a relative path is taken for a URL host; escaped because the
        // driver percent-decodes the path and ends it at `?` or `#`.
        let absolute = std::path::absolute(&file)
            .map_err(|e| StoreError::Open(format!("cannot resolve {}: {e}", file.display())))?;
        let escaped = absolute
            .display()
            .to_string()
            .replace('%', "%25")
            .replace('?', "%3F")
            .replace('#', "%23");
        (Backend::Sqlite, format!("sqlite://{escaped}?mode=rwc"))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (Backend::Postgres, url.to_owned())
    } else {
        return Err(StoreError::Open(
            "the database URL must start with sqlite:// or postgres://".into(),
        ));
    };
    let options = match backend {
        // One writer at a time anyway; a few readers beside it under WAL.
        Backend::Sqlite => AnyPoolOptions::new()
            .max_connections(8)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // Per connection: foreign keys and the busy wait are not stored in the file.
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 15000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            }),
        Backend::Postgres => AnyPoolOptions::new().max_connections(16),
    };
    let pool = options
        .connect(&connect_url)
        .await
        .map_err(|e| StoreError::Open(e.to_string()))?;
    tracing::debug!(?backend, "database connected");
    Ok((pool, backend))
}

/// The file named by the part of a SQLite URL after the scheme (query string dropped).
pub(crate) fn sqlite_file(rest: &str) -> Result<std::path::PathBuf> {
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::Open(
            "a SQLite URL must name a file, e.g. sqlite://rounds-data/rounds.db".into(),
        ));
    }
    Ok(std::path::PathBuf::from(path))
}

/// Applies the pending migrations of `backend`.
pub(crate) async fn migrate(pool: &AnyPool, backend: Backend) -> Result<()> {
    let run = match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(pool).await,
        Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(pool).await,
    };
    run.map_err(|e| StoreError::Migrate(e.to_string()))
}

/// Begins a transaction that may append to the audit log, holding the append lock from the start so
/// that two writers never read the same chain head (and checks inside it see every earlier commit).
pub(crate) async fn write_tx(
    pool: &AnyPool,
    backend: Backend,
) -> Result<Transaction<'static, Any>> {
    match backend {
        Backend::Sqlite => Ok(pool.begin_with("BEGIN IMMEDIATE").await?),
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            sqlx::query("LOCK TABLE audit_events IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

/// Begins a transaction that writes without appending to the audit log. On SQLite it takes the write
/// lock at once: a deferred transaction that reads and then writes fails with `SQLITE_BUSY` (no wait)
/// when another writer committed in between.
pub(crate) async fn plain_write_tx(
    pool: &AnyPool,
    backend: Backend,
) -> Result<Transaction<'static, Any>> {
    match backend {
        Backend::Sqlite => Ok(pool.begin_with("BEGIN IMMEDIATE").await?),
        Backend::Postgres => Ok(pool.begin().await?),
    }
}

/// Appends one event after the current chain head; the caller's transaction must come from [`write_tx`].
pub(crate) async fn append_audit(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: AuditAction,
    target: &str,
    detail: serde_json::Value,
) -> Result<AuditRecord> {
    let head = sqlx::query("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    let (seq, prev_hash) = match head {
        Some(row) => (
            row.try_get::<i64, _>(0)? + 1,
            hash32(row.try_get::<Vec<u8>, _>(1)?)?,
        ),
        None => (1, GENESIS_HASH),
    };
    let record = AuditRecord {
        seq,
        at_ms: now_ms(),
        org_id: actor.org_id,
        actor_id: actor.user_id,
        actor: actor.label.clone(),
        action: action.as_str().to_owned(),
        target: target.to_owned(),
        detail: detail.to_string(),
        ip: actor.ip.clone(),
        prev_hash,
        hash: [0; 32],
    }
    .seal();
    sqlx::query(
        "INSERT INTO audit_events (seq, at_ms, org_id, actor_id, actor, action, target, detail, ip, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(record.seq)
    .bind(record.at_ms)
    .bind(record.org_id)
    .bind(record.actor_id)
    .bind(record.actor.clone())
    .bind(record.action.clone())
    .bind(record.target.clone())
    .bind(record.detail.clone())
    .bind(record.ip.clone())
    .bind(record.prev_hash.to_vec())
    .bind(record.hash.to_vec())
    .execute(&mut *conn)
    .await?;
    Ok(record)
}

fn hash32(bytes: Vec<u8>) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        decode_error(format!(
            "a stored audit hash has {} bytes, not 32",
            bytes.len()
        ))
    })
}

/// Now, Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Maps a unique-constraint violation to `Conflict(msg)`, anything else to `Db`.
pub(crate) fn unique(msg: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(msg),
        _ => StoreError::Db(e),
    }
}

/// A stored value that does not decode (an unknown role, a malformed list).
pub(crate) fn decode_error(msg: impl Into<String>) -> StoreError {
    StoreError::Db(sqlx::Error::Decode(msg.into().into()))
}

fn flag(row: &AnyRow, i: usize) -> Result<bool> {
    Ok(row.try_get::<i64, _>(i)? != 0)
}

/// Columns of [`user_at`], for a `users u` alias.
pub(crate) const USER_COLS: &str = "u.id, u.org_id, u.email, u.display_name, u.role, u.password_hash, \
     CASE WHEN u.totp_secret IS NULL THEN 0 ELSE 1 END, u.disabled, u.created_at, u.last_login_at";

/// A user from [`USER_COLS`] starting at column `o`.
pub(crate) fn user_at(row: &AnyRow, o: usize) -> Result<User> {
    let role: String = row.try_get(o + 4)?;
    Ok(User {
        id: row.try_get(o)?,
        org_id: row.try_get(o + 1)?,
        email: row.try_get(o + 2)?,
        display_name: row.try_get(o + 3)?,
        role: rounds_domain::Role::from_str(&role).map_err(|e| decode_error(e.to_string()))?,
        password_hash: row.try_get(o + 5)?,
        mfa_enabled: flag(row, o + 6)?,
        disabled: flag(row, o + 7)?,
        created_at: row.try_get(o + 8)?,
        last_login_at: row.try_get(o + 9)?,
    })
}

/// Columns of [`session_at`], for a `sessions s` alias.
pub(crate) const SESSION_COLS: &str = "s.id_hash, s.user_id, s.csrf_token, s.mfa_passed, s.created_at, s.last_seen_at, s.ip, s.user_agent";

/// A session from [`SESSION_COLS`] starting at column 0.
pub(crate) fn session(row: &AnyRow) -> Result<Session> {
    Ok(Session {
        id_hash: row.try_get(0)?,
        user_id: row.try_get(1)?,
        csrf_token: row.try_get(2)?,
        mfa_passed: flag(row, 3)?,
        created_at: row.try_get(4)?,
        last_seen_at: row.try_get(5)?,
        ip: row.try_get(6)?,
        user_agent: row.try_get(7)?,
    })
}

/// Columns of [`org`].
pub(crate) const ORG_COLS: &str = "id, name, kind, is_demo, created_at";

/// An organization from [`ORG_COLS`].
pub(crate) fn org(row: &AnyRow) -> Result<Org> {
    let kind: String = row.try_get(2)?;
    Ok(Org {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        kind: rounds_domain::OrgKind::from_str(&kind).map_err(|e| decode_error(e.to_string()))?,
        is_demo: flag(row, 3)?,
        created_at: row.try_get(4)?,
    })
}

/// Columns of [`invitation`].
pub(crate) const INVITATION_COLS: &str =
    "id, org_id, email, role, invited_by, created_at, expires_at";

/// An invitation from [`INVITATION_COLS`].
pub(crate) fn invitation(row: &AnyRow) -> Result<Invitation> {
    let role: String = row.try_get(3)?;
    Ok(Invitation {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        email: row.try_get(2)?,
        role: rounds_domain::Role::from_str(&role).map_err(|e| decode_error(e.to_string()))?,
        invited_by: row.try_get(4)?,
        created_at: row.try_get(5)?,
        expires_at: row.try_get(6)?,
    })
}

/// Columns of [`api_token_at`], for an `api_tokens t` alias.
pub(crate) const TOKEN_COLS: &str =
    "t.id, t.user_id, t.name, t.prefix, t.created_at, t.last_used_at, t.revoked_at";

/// An API token from [`TOKEN_COLS`] starting at column 0.
pub(crate) fn api_token(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        name: row.try_get(2)?,
        prefix: row.try_get(3)?,
        created_at: row.try_get(4)?,
        last_used_at: row.try_get(5)?,
        revoked_at: row.try_get(6)?,
    })
}

/// Columns of [`audit_record`].
pub(crate) const AUDIT_COLS: &str =
    "seq, at_ms, org_id, actor_id, actor, action, target, detail, ip, prev_hash, hash";

/// An audit event from [`AUDIT_COLS`]; `None` when a stored hash is not 32 bytes (tampering).
pub(crate) fn audit_record(row: &AnyRow) -> Result<Option<AuditRecord>> {
    let prev: Vec<u8> = row.try_get(9)?;
    let hash: Vec<u8> = row.try_get(10)?;
    let (Ok(prev_hash), Ok(hash)) = (
        <[u8; 32]>::try_from(prev.as_slice()),
        <[u8; 32]>::try_from(hash.as_slice()),
    ) else {
        return Ok(None);
    };
    Ok(Some(AuditRecord {
        seq: row.try_get(0)?,
        at_ms: row.try_get(1)?,
        org_id: row.try_get(2)?,
        actor_id: row.try_get(3)?,
        actor: row.try_get(4)?,
        action: row.try_get(5)?,
        target: row.try_get(6)?,
        detail: row.try_get(7)?,
        ip: row.try_get(8)?,
        prev_hash,
        hash,
    }))
}

/// Columns of [`channel`].
pub(crate) const CHANNEL_COLS: &str = "id, org_id, network, handle, display_name, status, created_at, token_expires_at, \
     last_success_at, last_error, last_error_at, last_checked_at, sync_cursor";

/// A channel from [`CHANNEL_COLS`].
pub(crate) fn channel(row: &AnyRow) -> Result<Channel> {
    let status: String = row.try_get(5)?;
    Ok(Channel {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        network: row.try_get(2)?,
        handle: row.try_get(3)?,
        display_name: row.try_get(4)?,
        status: ChannelStatus::parse(&status)
            .ok_or_else(|| decode_error(format!("unknown channel status {status:?}")))?,
        created_at: row.try_get(6)?,
        token_expires_at: row.try_get(7)?,
        last_success_at: row.try_get(8)?,
        last_error: row.try_get(9)?,
        last_error_at: row.try_get(10)?,
        last_checked_at: row.try_get(11)?,
        sync_cursor: row.try_get(12)?,
    })
}

/// Columns of [`post`].
pub(crate) const POST_COLS: &str = "id, org_id, author_id, body, channel_ids, status, scheduled_at, paid, created_at, updated_at, version, content_type, media_ids, status_note";

/// A post from [`POST_COLS`].
pub(crate) fn post(row: &AnyRow) -> Result<Post> {
    let channel_ids: String = row.try_get(4)?;
    let status: String = row.try_get(5)?;
    Ok(Post {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        author_id: row.try_get(2)?,
        body: row.try_get(3)?,
        channel_ids: json_ids(&channel_ids, "post channel list")?,
        status: PostStatus::parse(&status)
            .ok_or_else(|| decode_error(format!("unknown post status {status:?}")))?,
        scheduled_at: row.try_get(6)?,
        paid: flag(row, 7)?,
        created_at: row.try_get(8)?,
        updated_at: row.try_get(9)?,
        version: row.try_get(10)?,
        content_type: row.try_get(11)?,
        media_ids: json_ids(&row.try_get::<String, _>(12)?, "post media list")?,
        status_note: row.try_get(13)?,
    })
}

/// A stored JSON list of ids.
pub(crate) fn json_ids(text: &str, what: &str) -> Result<Vec<i64>> {
    serde_json::from_str(text).map_err(|e| decode_error(format!("{what}: {e}")))
}

/// Columns of [`inbox_item`].
pub(crate) const INBOX_COLS: &str = "id, org_id, channel_id, network_id, kind, author_handle, author_name, body, received_at, status";

/// An inbox item from [`INBOX_COLS`].
pub(crate) fn inbox_item(row: &AnyRow) -> Result<InboxItem> {
    Ok(InboxItem {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        channel_id: row.try_get(2)?,
        network_id: row.try_get(3)?,
        kind: row.try_get(4)?,
        author_handle: row.try_get(5)?,
        author_name: row.try_get(6)?,
        body: row.try_get(7)?,
        received_at: row.try_get(8)?,
        status: row.try_get(9)?,
    })
}

/// Caps a requested page size to `max` (at least one row).
pub(crate) fn cap(limit: u32, max: u32) -> i64 {
    i64::from(limit.clamp(1, max))
}
