//! All SQL of Rounds: one API over SQLite (the default, embedded) and PostgreSQL.
//!
//! Every method that changes state appends its audit event in the same transaction as the change, so
//! a change without its audit record cannot be committed. The SQL text is shared by both backends
//! (`$1` placeholders, `RETURNING`, `ON CONFLICT`); migrations live in `migrations/{sqlite,postgres}`
//! and are applied on open.

mod channels;
mod db;
mod ops;
mod publishing;
mod seal;
#[cfg(feature = "testing")]
pub mod testing;
mod types;

pub use channels::{
    ChannelHealth, ChannelStatus, MAX_ALT_CHARS, MAX_MEDIA_BYTES, Media, NewMedia, RotateSummary,
};
pub use publishing::*;
pub use rounds_domain::PostStatus;
pub use types::*;

use std::sync::Arc;

use rounds_domain::audit::Verifier;
use rounds_domain::{AuditAction, AuditRecord, ChainBreak, Email, Role};
use serde_json::json;
use sqlx::{AnyPool, Row};

use db::{append_audit, cap, now_ms, unique, write_tx};

/// Anything that can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not `sqlite://…` or `postgres://…`, or the server cannot be reached.
    #[error("cannot open the database: {0}")]
    Open(String),
    /// Applying migrations failed.
    #[error("cannot apply database migrations: {0}")]
    Migrate(String),
    /// The row asked for does not exist (or belongs to another organization).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was violated (e.g. an email already in use) or a one-time step was already taken.
    #[error("{0}")]
    Conflict(&'static str),
    /// The input cannot be stored as given (an image over the size limit, credentials that are not JSON).
    #[error("{0}")]
    Invalid(String),
    /// Encrypting or decrypting a secret failed (wrong key file, damaged ciphertext).
    #[error("cannot decrypt a stored secret: {0}")]
    Secret(String),
    /// A restored database's audit chain does not verify.
    #[error("the audit log does not verify: {0}")]
    AuditChain(ChainBreak),
    /// Running `pg_dump` or `pg_restore` failed.
    #[error("{0}")]
    Tool(String),
    /// A post cannot make this move in its life (e.g. editing a published post).
    #[error("{0}")]
    Transition(#[from] rounds_domain::TransitionError),
    /// The user may not decide on this post now (their own post, another step's role, already decided).
    #[error("{0}")]
    Refused(#[from] rounds_domain::DecisionRefused),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// A file operation (backup, key file, data folder) failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database and the key that seals secrets stored in it.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    key: seal::SecretKey,
    url: Arc<str>,
}

/// Associated data for a user's TOTP secret, so a sealed secret copied to another user fails to open.
fn totp_purpose(user_id: i64) -> Vec<u8> {
    format!("totp:{user_id}").into_bytes()
}

impl Store {
    /// Opens (creating when missing) the database at `url` and applies pending migrations.
    ///
    /// `sqlite://rounds-data/rounds.db` creates the folder and the file, turns on WAL and foreign keys;
    /// `postgres://user@host/db` connects to an existing database. `key_file` holds the 32-byte key
    /// that encrypts TOTP secrets and channel credentials; it is created (mode 0600) when missing and
    /// never stored in the database. A key rotation interrupted by a crash is finished or rolled back
    /// here (see [`Store::rotate_key`]).
    pub async fn open(url: &str, key_file: &std::path::Path) -> Result<Store> {
        let key = seal::SecretKey::load_or_create(key_file)?;
        let (pool, backend) = db::connect(url).await?;
        let store = Store {
            pool,
            backend,
            key,
            url: url.into(),
        };
        store.finish_interrupted_rotation().await?;
        Ok(store)
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every pooled connection (call before exit so SQLite checkpoints its WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The connection pool, for tests that must reach past the API (tampering with the audit log).
    #[cfg(feature = "testing")]
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    // ---- organization and first-run set-up ----

    /// Whether the first-run set-up has been done (an organization exists).
    pub async fn is_set_up(&self) -> Result<bool> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM orgs")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(n > 0)
    }

    /// Creates the organization and its first admin in one transaction; `Conflict` if any organization
    /// already exists, so the set-up page can never run twice.
    pub async fn complete_setup(
        &self,
        org: &NewOrg,
        admin: &NewUser,
        ip: Option<&str>,
    ) -> Result<(Org, User)> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM orgs")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if n > 0 {
            return Err(StoreError::Conflict("Rounds is already set up"));
        }
        let created = insert_org(&mut tx, org).await?;
        let user = insert_user(&mut tx, created.id, admin).await?;
        let actor = Actor {
            org_id: Some(created.id),
            user_id: Some(user.id),
            label: user.email.clone(),
            ip: ip.map(str::to_owned),
        };
        let detail =
            json!({ "org": created.name, "kind": created.kind.as_str(), "admin": user.email });
        append_audit(
            &mut tx,
            &actor,
            AuditAction::SetupCompleted,
            &format!("org:{}", created.id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok((created, user))
    }

    /// Creates another organization beside the first (the demo sandbox next to a real one).
    pub async fn create_org(&self, org: &NewOrg, actor: &Actor) -> Result<Org> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let created = insert_org(&mut tx, org).await?;
        let detail = json!({ "name": created.name, "kind": created.kind.as_str(), "is_demo": created.is_demo });
        append_audit(
            &mut tx,
            actor,
            AuditAction::OrgCreated,
            &format!("org:{}", created.id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// One organization.
    pub async fn org(&self, org_id: i64) -> Result<Org> {
        let sql = format!("SELECT {} FROM orgs WHERE id = $1", db::ORG_COLS);
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .fetch_optional(&self.pool)
            .await?;
        db::org(&row.ok_or(StoreError::NotFound("organization"))?)
    }

    /// Every organization (one, unless the demo sits beside a real one).
    pub async fn orgs(&self) -> Result<Vec<Org>> {
        let sql = format!("SELECT {} FROM orgs ORDER BY id", db::ORG_COLS);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(db::org)
            .collect()
    }

    /// Renames the organization or changes its kind.
    pub async fn update_org(
        &self,
        org_id: i64,
        name: &str,
        kind: rounds_domain::OrgKind,
        actor: &Actor,
    ) -> Result<Org> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let sql = format!("SELECT {} FROM orgs WHERE id = $1", db::ORG_COLS);
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .fetch_optional(&mut *tx)
            .await?;
        let old = db::org(&row.ok_or(StoreError::NotFound("organization"))?)?;
        sqlx::query("UPDATE orgs SET name = $2, kind = $3 WHERE id = $1")
            .bind(org_id)
            .bind(name)
            .bind(kind.as_str())
            .execute(&mut *tx)
            .await?;
        let detail = json!({
            "name": { "old": old.name, "new": name },
            "kind": { "old": old.kind.as_str(), "new": kind.as_str() },
        });
        append_audit(
            &mut tx,
            actor,
            AuditAction::SettingChanged,
            &format!("org:{org_id}"),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(Org {
            name: name.to_owned(),
            kind,
            ..old
        })
    }

    /// The organization's settings as key → value (e.g. `mfa_required_for_all`, `session_idle_minutes`).
    pub async fn settings(
        &self,
        org_id: i64,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        let rows = sqlx::query("SELECT key, value FROM settings WHERE org_id = $1")
            .bind(org_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Sets one setting; the audit event records the old and the new value.
    pub async fn set_setting(
        &self,
        org_id: i64,
        key: &str,
        value: &str,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let old: Option<String> =
            sqlx::query("SELECT value FROM settings WHERE org_id = $1 AND key = $2")
                .bind(org_id)
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
        sqlx::query(
            "INSERT INTO settings (org_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (org_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(org_id)
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await
        .map_err(foreign_key("organization"))?;
        let detail = json!({ "key": key, "old": old, "new": value });
        append_audit(
            &mut tx,
            actor,
            AuditAction::SettingChanged,
            &format!("org:{org_id}"),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- users ----

    /// Creates a user in `org_id`; `Conflict("a user with this email already exists")` on a duplicate.
    pub async fn create_user(&self, org_id: i64, user: &NewUser, actor: &Actor) -> Result<User> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let created = insert_user(&mut tx, org_id, user).await?;
        let detail = json!({ "email": created.email, "role": created.role.as_str() });
        append_audit(
            &mut tx,
            actor,
            AuditAction::UserCreated,
            &format!("user:{}", created.id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// A user by id.
    pub async fn user(&self, user_id: i64) -> Result<Option<User>> {
        let mut conn = self.pool.acquire().await?;
        fetch_user(&mut conn, user_id).await
    }

    /// A user by sign-in email (any organization).
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<User>> {
        let sql = format!("SELECT {} FROM users u WHERE u.email = $1", db::USER_COLS);
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| db::user_at(&r, 0)).transpose()
    }

    /// The users of an organization, by email.
    pub async fn users(&self, org_id: i64) -> Result<Vec<User>> {
        let sql = format!(
            "SELECT {} FROM users u WHERE u.org_id = $1 ORDER BY u.email",
            db::USER_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| db::user_at(r, 0)).collect()
    }

    /// Changes a user's role.
    pub async fn set_role(&self, user_id: i64, role: Role, actor: &Actor) -> Result<User> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let old = fetch_user(&mut tx, user_id)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        sqlx::query("UPDATE users SET role = $2 WHERE id = $1")
            .bind(user_id)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        let detail = json!({ "email": old.email, "old": old.role.as_str(), "new": role.as_str() });
        append_audit(
            &mut tx,
            actor,
            AuditAction::RoleChanged,
            &format!("user:{user_id}"),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(User { role, ..old })
    }

    /// Disables (and signs out everywhere) or re-enables a user.
    pub async fn set_disabled(&self, user_id: i64, disabled: bool, actor: &Actor) -> Result<User> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let old = fetch_user(&mut tx, user_id)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
            .bind(user_id)
            .bind(i64::from(disabled))
            .execute(&mut *tx)
            .await?;
        let (action, ended) = if disabled {
            (
                AuditAction::UserDisabled,
                delete_sessions(&mut tx, user_id, None).await?,
            )
        } else {
            (AuditAction::UserEnabled, 0)
        };
        let detail = json!({ "email": old.email, "sessions_ended": ended });
        append_audit(&mut tx, actor, action, &format!("user:{user_id}"), detail).await?;
        tx.commit().await?;
        Ok(User { disabled, ..old })
    }

    /// Replaces a user's password hash (PHC string) and signs them out of every other session.
    pub async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        keep_session: Option<&str>,
        actor: &Actor,
    ) -> Result<()> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let done = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        let ended = delete_sessions(&mut tx, user_id, keep_session).await?;
        append_audit(
            &mut tx,
            actor,
            AuditAction::PasswordChanged,
            &format!("user:{user_id}"),
            json!({ "sessions_ended": ended }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- second factor ----

    /// Stores a freshly enrolled TOTP secret (sealed with the key) and the hashes of the recovery
    /// codes, replacing any earlier ones.
    pub async fn enable_totp(
        &self,
        user_id: i64,
        secret: &[u8],
        recovery_code_hashes: &[String],
        actor: &Actor,
    ) -> Result<()> {
        let (sealed, key_id) = self.key.seal_stamped(&totp_purpose(user_id), secret)?;
        let mut tx = write_tx(&self.pool, self.backend).await?;
        // A new secret starts a new step history: the old one's last step says nothing about it.
        let done = sqlx::query("UPDATE users SET totp_secret = $2, totp_key_id = $3, totp_last_step = NULL WHERE id = $1")
            .bind(user_id)
            .bind(sealed)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for hash in recovery_code_hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2) ON CONFLICT (user_id, code_hash) DO NOTHING")
                .bind(user_id)
                .bind(hash.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let detail = json!({ "recovery_codes": recovery_code_hashes.len() });
        append_audit(
            &mut tx,
            actor,
            AuditAction::MfaEnrolled,
            &format!("user:{user_id}"),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user's TOTP secret, unsealed; `None` when MFA is not enrolled.
    pub async fn totp_secret(&self, user_id: i64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT totp_secret, totp_key_id FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        let row = row.ok_or(StoreError::NotFound("user"))?;
        let (sealed, stamped): (Option<Vec<u8>>, Option<String>) =
            (row.try_get(0)?, row.try_get(1)?);
        sealed
            .map(|s| {
                self.key.open_stamped(
                    &totp_purpose(user_id),
                    &s,
                    stamped.as_deref(),
                    "TOTP secret",
                )
            })
            .transpose()
    }

    /// Claims a TOTP time step for the user: `true` only if it is later than every step used before,
    /// so each code works once (replay protection), atomically even across processes.
    pub async fn claim_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)")
            .bind(user_id)
            .bind(step)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks the recovery code with this hash used; `true` if it existed and was unused.
    pub async fn use_recovery_code(
        &self,
        user_id: i64,
        code_hash: &str,
        actor: &Actor,
    ) -> Result<bool> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let done = sqlx::query("UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL")
            .bind(user_id)
            .bind(code_hash)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        let left: i64 = sqlx::query(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        append_audit(
            &mut tx,
            actor,
            AuditAction::RecoveryCodeUsed,
            &format!("user:{user_id}"),
            json!({ "codes_left": left }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// How many unused recovery codes the user has left.
    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Removes the user's second factor and recovery codes and signs them out everywhere.
    pub async fn reset_mfa(&self, user_id: i64, actor: &Actor) -> Result<()> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let done =
            sqlx::query("UPDATE users SET totp_secret = NULL, totp_last_step = NULL WHERE id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let ended = delete_sessions(&mut tx, user_id, None).await?;
        append_audit(
            &mut tx,
            actor,
            AuditAction::MfaReset,
            &format!("user:{user_id}"),
            json!({ "sessions_ended": ended }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- sign-in throttling ----

    /// Records a failed sign-in for `key` (the lower-cased email, whether or not such a user exists).
    pub async fn record_login_failure(&self, key: &str, at_ms: i64) -> Result<()> {
        sqlx::query("INSERT INTO login_failures (key, at_ms) VALUES ($1, $2)")
            .bind(key)
            .bind(at_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Failed sign-ins for `key` at or after `since_ms`.
    pub async fn login_failures_since(&self, key: &str, since_ms: i64) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at_ms >= $2")
            .bind(key)
            .bind(since_ms)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Forgets the failures for `key` after a successful sign-in.
    pub async fn clear_login_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- sessions ----

    /// Stores a new session (the id is stored only as its SHA-256 hash).
    pub async fn create_session(&self, session: &NewSession) -> Result<()> {
        let mut tx = db::plain_write_tx(&self.pool, self.backend).await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, mfa_passed, created_at, last_seen_at, ip, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
        )
        .bind(session.id_hash.as_str())
        .bind(session.user_id)
        .bind(session.csrf_token.as_str())
        .bind(i64::from(session.mfa_passed))
        .bind(session.now_ms)
        .bind(session.ip.clone())
        .bind(session.user_agent.clone())
        .execute(&mut *tx)
        .await
        .map_err(|e| match unique("this session id is already in use")(e) {
            StoreError::Db(e) => foreign_key("user")(e),
            other => other,
        })?;
        // A session is only ever created by a successful sign-in, so this is the last sign-in time.
        sqlx::query("UPDATE users SET last_login_at = $2 WHERE id = $1")
            .bind(session.user_id)
            .bind(session.now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session with this id hash and its user, if it exists.
    pub async fn session(&self, id_hash: &str) -> Result<Option<(Session, User)>> {
        let sql = format!(
            "SELECT {}, {} FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
            db::SESSION_COLS,
            db::USER_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((db::session(&r)?, db::user_at(&r, 8)?)))
            .transpose()
    }

    /// Records activity on a session (for the idle timeout).
    pub async fn touch_session(&self, id_hash: &str, now_ms: i64) -> Result<()> {
        // Never move backwards: concurrent requests may finish out of order.
        sqlx::query(
            "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2",
        )
        .bind(id_hash)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a session as having passed the second factor.
    pub async fn mark_session_mfa(&self, id_hash: &str) -> Result<()> {
        let done = sqlx::query("UPDATE sessions SET mfa_passed = 1 WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("session"));
        }
        Ok(())
    }

    /// Ends one session.
    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every session of a user, except `keep` (the one making the request) when given.
    pub async fn revoke_sessions(
        &self,
        user_id: i64,
        keep: Option<&str>,
        actor: &Actor,
    ) -> Result<u64> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let ended = delete_sessions(&mut tx, user_id, keep).await?;
        let detail = json!({ "sessions_ended": ended, "kept_current": keep.is_some() });
        append_audit(
            &mut tx,
            actor,
            AuditAction::SessionsRevoked,
            &format!("user:{user_id}"),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// The user's open sessions, newest first.
    pub async fn sessions_of(&self, user_id: i64) -> Result<Vec<Session>> {
        let sql = format!(
            "SELECT {} FROM sessions s WHERE s.user_id = $1 ORDER BY s.created_at DESC, s.id_hash",
            db::SESSION_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(db::session).collect()
    }

    // ---- invitations ----

    /// Stores an invitation (token stored hashed); `Conflict` if the email already has an account.
    pub async fn create_invitation(
        &self,
        inv: &NewInvitation,
        actor: &Actor,
    ) -> Result<Invitation> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let taken: i64 = sqlx::query("SELECT COUNT(*) FROM users WHERE email = $1")
            .bind(inv.email.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if taken > 0 {
            return Err(StoreError::Conflict(
                "a user with this email already exists",
            ));
        }
        let sql = format!(
            "INSERT INTO invitations (org_id, email, role, token_hash, invited_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {}",
            db::INVITATION_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(inv.org_id)
            .bind(inv.email.as_str())
            .bind(inv.role.as_str())
            .bind(inv.token_hash.as_str())
            .bind(actor.user_id)
            .bind(now_ms())
            .bind(inv.expires_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(
                |e| match unique("this invitation link is already in use")(e) {
                    StoreError::Db(e) => foreign_key("organization")(e),
                    other => other,
                },
            )?;
        let created = db::invitation(&row)?;
        let detail = json!({ "email": created.email, "role": created.role.as_str(), "expires_at": created.expires_at });
        append_audit(
            &mut tx,
            actor,
            AuditAction::UserInvited,
            &format!("invitation:{}", created.id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// An unexpired, unaccepted invitation by token hash.
    pub async fn invitation_by_token(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<Invitation>> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > $2",
            db::INVITATION_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| db::invitation(&r)).transpose()
    }

    /// Open invitations of an organization.
    pub async fn invitations(&self, org_id: i64) -> Result<Vec<Invitation>> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE org_id = $1 AND accepted_at IS NULL AND expires_at > $2 ORDER BY id DESC",
            db::INVITATION_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(now_ms())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(db::invitation).collect()
    }

    /// Creates the invited user and marks the invitation accepted, in one transaction; `Conflict` if it
    /// was accepted meanwhile.
    pub async fn accept_invitation(
        &self,
        invitation_id: i64,
        display_name: &str,
        password_hash: &str,
        ip: Option<&str>,
    ) -> Result<User> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let row = sqlx::query(
            "SELECT org_id, email, role, accepted_at, expires_at FROM invitations WHERE id = $1",
        )
        .bind(invitation_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("invitation"))?;
        let accepted_at: Option<i64> = row.try_get(3)?;
        if accepted_at.is_some() {
            return Err(StoreError::Conflict(
                "this invitation has already been accepted",
            ));
        }
        let now = now_ms();
        if row.try_get::<i64, _>(4)? <= now {
            return Err(StoreError::Conflict("this invitation has expired"));
        }
        let email: String = row.try_get(1)?;
        let role: String = row.try_get(2)?;
        let new_user = NewUser {
            email: Email::parse(&email).map_err(|e| db::decode_error(e.to_string()))?,
            display_name: display_name.to_owned(),
            role: role
                .parse()
                .map_err(|e: rounds_domain::access::UnknownRole| db::decode_error(e.to_string()))?,
            password_hash: password_hash.to_owned(),
        };
        let user = insert_user(&mut tx, row.try_get(0)?, &new_user).await?;
        sqlx::query("UPDATE invitations SET accepted_at = $2 WHERE id = $1")
            .bind(invitation_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let actor = Actor::user(&user, ip.map(str::to_owned));
        let detail =
            json!({ "invitation": invitation_id, "email": user.email, "role": user.role.as_str() });
        append_audit(
            &mut tx,
            &actor,
            AuditAction::InvitationAccepted,
            &format!("user:{}", user.id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    // ---- personal API tokens ----

    /// Stores a new API token (hash only; the prefix is kept to tell tokens apart).
    pub async fn create_api_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
        prefix: &str,
        actor: &Actor,
    ) -> Result<ApiToken> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let row = sqlx::query("INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(user_id)
            .bind(name)
            .bind(token_hash)
            .bind(prefix)
            .bind(now_ms())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| match unique("this API token is already in use")(e) {
                StoreError::Db(e) => foreign_key("user")(e),
                other => other,
            })?;
        let sql = format!(
            "SELECT {} FROM api_tokens t WHERE t.id = $1",
            db::TOKEN_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(row.try_get::<i64, _>(0)?)
            .fetch_one(&mut *tx)
            .await?;
        let token = db::api_token(&row)?;
        append_audit(
            &mut tx,
            actor,
            AuditAction::ApiTokenCreated,
            &format!("api_token:{}", token.id),
            json!({ "user": user_id, "name": name }),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The user's tokens, newest first, revoked ones included.
    pub async fn api_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        let sql = format!(
            "SELECT {} FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.id DESC",
            db::TOKEN_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(db::api_token).collect()
    }

    /// Revokes one of the user's tokens.
    pub async fn revoke_api_token(&self, user_id: i64, token_id: i64, actor: &Actor) -> Result<()> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let row =
            sqlx::query("SELECT name, revoked_at FROM api_tokens WHERE id = $1 AND user_id = $2")
                .bind(token_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("API token"))?;
        if row.try_get::<Option<i64>, _>(1)?.is_some() {
            // Already revoked: nothing changes, so nothing to record.
            return Ok(());
        }
        let name: String = row.try_get(0)?;
        sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1")
            .bind(token_id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            actor,
            AuditAction::ApiTokenRevoked,
            &format!("api_token:{token_id}"),
            json!({ "user": user_id, "name": name }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The unrevoked token with this hash and its (enabled) user; records `last_used_at`.
    pub async fn authenticate_api_token(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<(ApiToken, User)>> {
        let sql = format!(
            "SELECT {}, {} FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0",
            db::TOKEN_COLS,
            db::USER_COLS
        );
        let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let mut token = db::api_token(&row)?;
        let user = db::user_at(&row, 7)?;
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(token.id)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        token.last_used_at = Some(now_ms);
        Ok(Some((token, user)))
    }

    // ---- audit log ----

    /// Appends an event that goes with no other change (a failed sign-in, a sign-out, an export).
    pub async fn audit(
        &self,
        actor: &Actor,
        action: AuditAction,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<AuditRecord> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let record = append_audit(&mut tx, actor, action, target, detail).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// One page of events, newest first, matching `filter`.
    pub async fn audit_page(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut sql = format!("SELECT {} FROM audit_events WHERE 1 = 1", db::AUDIT_COLS);
        let mut ints: Vec<i64> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        // Integers are bound first, then texts; placeholders are numbered to match.
        // Installation-wide events (sign-in attempts for unknown emails, backups) belong to every
        // organization's view: an attacker probing addresses must show up in the audit log.
        let int_conditions = [
            ("(org_id IS NULL OR org_id = ", filter.org_id, ")"),
            ("at_ms >= ", filter.since_ms, ""),
            ("at_ms < ", filter.until_ms, ""),
            ("seq < ", filter.before_seq, ""),
        ];
        for (condition, value, close) in int_conditions {
            if let Some(v) = value {
                ints.push(v);
                sql.push_str(&format!(" AND {condition}${}{close}", ints.len()));
            }
        }
        let mut text_conditions = Vec::new();
        if let Some(prefix) = &filter.action_prefix {
            text_conditions.push(("action LIKE ", format!("{}%", like_escape(prefix))));
        }
        if let Some(actor) = &filter.actor {
            text_conditions.push((
                "lower(actor) LIKE ",
                format!("%{}%", like_escape(&actor.to_lowercase())),
            ));
        }
        for (condition, pattern) in text_conditions {
            texts.push(pattern);
            sql.push_str(&format!(
                " AND {condition}${} ESCAPE '\\'",
                ints.len() + texts.len()
            ));
        }
        sql.push_str(&format!(
            " ORDER BY seq DESC LIMIT {}",
            cap(filter.limit, 1000)
        ));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in ints {
            query = query.bind(v);
        }
        for t in texts {
            query = query.bind(t);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                db::audit_record(r)?
                    .ok_or_else(|| db::decode_error("an audit event has a damaged hash"))
            })
            .collect()
    }

    /// Recomputes the whole chain in `seq` order, reading it in pages: the count of events checked, or
    /// the first break.
    pub async fn audit_verify(&self) -> Result<Result<u64, ChainBreak>> {
        verify_chain(&self.pool).await
    }

    // ---- channels, posts and inbox (filled by publishing and the inbox; the demo seeds them) ----

    /// Adds a social account to the organization (no credentials yet: connecting is publishing's job).
    pub async fn create_channel(
        &self,
        org_id: i64,
        channel: &NewChannel,
        actor: &Actor,
    ) -> Result<Channel> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let created = insert_channel(&mut tx, org_id, channel, actor).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// The organization's channels.
    pub async fn channels(&self, org_id: i64) -> Result<Vec<Channel>> {
        let sql = format!(
            "SELECT {} FROM channels WHERE org_id = $1 ORDER BY id",
            db::CHANNEL_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(db::channel).collect()
    }

    /// Saves a post as its version 1.
    pub async fn create_post(&self, org_id: i64, post: &NewPost, actor: &Actor) -> Result<Post> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        publishing::check_channels(&mut tx, org_id, &post.channel_ids).await?;
        let now = now_ms();
        let sql = format!(
            "INSERT INTO posts (org_id, author_id, body, channel_ids, status, scheduled_at, paid, content_type, media_ids, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {}",
            db::POST_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(post.author_id)
            .bind(post.body.as_str())
            .bind(publishing::ids_json(&post.channel_ids)?)
            .bind(post.status.as_str())
            .bind(post.scheduled_at)
            .bind(i64::from(post.paid))
            .bind(post.content_type.as_str())
            .bind(publishing::ids_json(&post.media_ids)?)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(foreign_key("organization or author"))?;
        let created = db::post(&row)?;
        publishing::insert_version(&mut tx, &created, actor.user_id).await?;
        let detail = json!({ "status": created.status.as_str(), "channels": created.channel_ids, "paid": created.paid });
        append_audit(
            &mut tx,
            actor,
            AuditAction::PostCreated,
            &format!("post:{}", created.id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Posts of the organization, newest first, optionally only in one status.
    pub async fn posts(
        &self,
        org_id: i64,
        status: Option<PostStatus>,
        page: &Page,
    ) -> Result<Vec<Post>> {
        let sql = format!(
            "SELECT {} FROM posts WHERE org_id = $1 AND ($2 = '' OR status = $2) AND id < $3 ORDER BY id DESC LIMIT $4",
            db::POST_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(status.map_or("", PostStatus::as_str))
            .bind(page.before_id.unwrap_or(i64::MAX))
            .bind(cap(page.limit, 500))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(db::post).collect()
    }

    /// Stores an incoming comment, mention or message (idempotent on channel + network id).
    pub async fn create_inbox_item(&self, org_id: i64, item: &NewInboxItem) -> Result<InboxItem> {
        let mut tx = db::plain_write_tx(&self.pool, self.backend).await?;
        let channel_org: i64 = sqlx::query("SELECT org_id FROM channels WHERE id = $1")
            .bind(item.channel_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("channel"))?
            .try_get(0)?;
        if channel_org != org_id {
            return Err(StoreError::NotFound("channel"));
        }
        sqlx::query(
            "INSERT INTO inbox_items (org_id, channel_id, network_id, kind, author_handle, author_name, body, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (channel_id, network_id) DO NOTHING",
        )
        .bind(org_id)
        .bind(item.channel_id)
        .bind(item.network_id.as_str())
        .bind(item.kind.as_str())
        .bind(item.author_handle.as_str())
        .bind(item.author_name.as_str())
        .bind(item.body.as_str())
        .bind(item.received_at)
        .execute(&mut *tx)
        .await?;
        let sql = format!(
            "SELECT {} FROM inbox_items WHERE channel_id = $1 AND network_id = $2",
            db::INBOX_COLS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(item.channel_id)
            .bind(item.network_id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        db::inbox_item(&row)
    }

    /// Inbox items of the organization, newest first.
    pub async fn inbox_items(&self, org_id: i64, page: &Page) -> Result<Vec<InboxItem>> {
        let sql = format!(
            "SELECT {} FROM inbox_items WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            db::INBOX_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(page.before_id.unwrap_or(i64::MAX))
            .bind(cap(page.limit, 500))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(db::inbox_item).collect()
    }

    // ---- operations ----

    /// Writes a consistent copy of the live database to `dest` (SQLite: `VACUUM INTO`; PostgreSQL:
    /// `pg_dump` custom format), refusing to overwrite an existing file.
    pub async fn backup(&self, dest: &std::path::Path, actor: &Actor) -> Result<()> {
        ops::backup(&self.pool, self.backend, &self.url, dest).await?;
        let detail = json!({ "file": dest.display().to_string() });
        self.audit(actor, AuditAction::BackupCreated, "backup", detail)
            .await?;
        Ok(())
    }

    /// Restores a backup made by [`Store::backup`] into the database at `url`, which must be empty
    /// (or, for SQLite, not exist yet); the restored audit chain is verified before returning.
    pub async fn restore(backup: &std::path::Path, url: &str) -> Result<u64> {
        ops::restore(backup, url).await
    }
}

/// Streams the chain in `seq` order through the verifier, a page at a time.
pub(crate) async fn verify_chain(pool: &AnyPool) -> Result<Result<u64, ChainBreak>> {
    const PAGE: i64 = 1000;
    let sql = format!(
        "SELECT {} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
        db::AUDIT_COLS
    );
    let mut verifier = Verifier::default();
    let mut after = 0_i64;
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(after)
            .bind(PAGE)
            .fetch_all(pool)
            .await?;
        for row in &rows {
            let Some(record) = db::audit_record(row)? else {
                return Ok(Err(ChainBreak::Altered {
                    seq: row.try_get(0)?,
                }));
            };
            if let Err(broken) = verifier.push(&record) {
                return Ok(Err(broken));
            }
            after = record.seq;
        }
        if rows.len() < PAGE as usize {
            return Ok(Ok(verifier.checked()));
        }
    }
}

/// Inserts a channel row and its audit event in `tx`.
pub(crate) async fn insert_channel(
    tx: &mut sqlx::AnyConnection,
    org_id: i64,
    channel: &NewChannel,
    actor: &Actor,
) -> Result<Channel> {
    let sql = format!(
        "INSERT INTO channels (org_id, network, handle, display_name, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {}",
        db::CHANNEL_COLS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(channel.network.as_str())
        .bind(channel.handle.as_str())
        .bind(channel.display_name.as_str())
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(foreign_key("organization"))?;
    let created = db::channel(&row)?;
    let detail = json!({ "network": created.network, "handle": created.handle });
    append_audit(
        &mut *tx,
        actor,
        AuditAction::ChannelCreated,
        &format!("channel:{}", created.id),
        detail,
    )
    .await?;
    Ok(created)
}

/// Maps a foreign-key violation (a row pointing at something that does not exist) to `NotFound(what)`.
fn foreign_key(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::NotFound(what),
        _ => StoreError::Db(e),
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

async fn insert_org(conn: &mut sqlx::AnyConnection, org: &NewOrg) -> Result<Org> {
    let sql = format!(
        "INSERT INTO orgs (name, kind, is_demo, created_at) VALUES ($1, $2, $3, $4) RETURNING {}",
        db::ORG_COLS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.name.as_str())
        .bind(org.kind.as_str())
        .bind(i64::from(org.is_demo))
        .bind(now_ms())
        .fetch_one(&mut *conn)
        .await?;
    db::org(&row)
}

async fn insert_user(conn: &mut sqlx::AnyConnection, org_id: i64, user: &NewUser) -> Result<User> {
    let row = sqlx::query(
        "INSERT INTO users (org_id, email, display_name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(org_id)
    .bind(user.email.as_str())
    .bind(user.display_name.as_str())
    .bind(user.role.as_str())
    .bind(user.password_hash.as_str())
    .bind(now_ms())
    .fetch_one(&mut *conn)
    .await
    .map_err(
        |e| match unique("a user with this email already exists")(e) {
            StoreError::Db(e) => foreign_key("organization")(e),
            other => other,
        },
    )?;
    fetch_user(conn, row.try_get(0)?)
        .await?
        .ok_or(StoreError::NotFound("user"))
}

async fn fetch_user(conn: &mut sqlx::AnyConnection, user_id: i64) -> Result<Option<User>> {
    let sql = format!("SELECT {} FROM users u WHERE u.id = $1", db::USER_COLS);
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| db::user_at(&r, 0)).transpose()
}

async fn delete_sessions(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
    keep: Option<&str>,
) -> Result<u64> {
    let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user_id)
        .bind(keep.unwrap_or(""))
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected())
}
