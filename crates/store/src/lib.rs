//! All SQL of Rounds: one API over SQLite (the default, embedded) and PostgreSQL.
//!
//! Every method that changes state appends its audit event in the same transaction as the change, so
//! a change without its audit record cannot be committed. The SQL text is shared by both backends
//! (`$1` placeholders, `RETURNING`, `ON CONFLICT`); migrations live in `migrations/{sqlite,postgres}`
//! and are applied on open.

mod types;

pub use types::*;

use rounds_domain::{AuditAction, AuditRecord, ChainBreak, Email, Role};

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
    /// Encrypting or decrypting a secret failed (wrong key file, damaged ciphertext).
    #[error("cannot decrypt a stored secret: {0}")]
    Secret(String),
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
pub struct Store {}

impl Store {
    /// Opens (creating when missing) the database at `url` and applies pending migrations.
    ///
    /// `sqlite://rounds-data/rounds.db` creates the folder and the file, turns on WAL and foreign keys;
    /// `postgres://user@host/db` connects to an existing database. `key_file` holds the 32-byte key
    /// that encrypts TOTP secrets (and later social-account tokens); it is created (mode 0600) when
    /// missing and never stored in the database.
    pub async fn open(url: &str, key_file: &std::path::Path) -> Result<Store> {
        todo!()
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        todo!()
    }

    /// Closes every pooled connection (call before exit so SQLite checkpoints its WAL).
    pub async fn close(&self) {
        todo!()
    }

    // ---- organization and first-run set-up ----

    /// Whether the first-run set-up has been done (an organization exists).
    pub async fn is_set_up(&self) -> Result<bool> {
        todo!()
    }

    /// Creates the organization and its first admin in one transaction; `Conflict` if any organization
    /// already exists, so the set-up page can never run twice.
    pub async fn complete_setup(&self, org: &NewOrg, admin: &NewUser, ip: Option<&str>) -> Result<(Org, User)> {
        todo!()
    }

    /// Creates another organization beside the first (the demo sandbox next to a real one).
    pub async fn create_org(&self, org: &NewOrg, actor: &Actor) -> Result<Org> {
        todo!()
    }

    /// One organization.
    pub async fn org(&self, org_id: i64) -> Result<Org> {
        todo!()
    }

    /// Every organization (one, unless the demo sits beside a real one).
    pub async fn orgs(&self) -> Result<Vec<Org>> {
        todo!()
    }

    /// Renames the organization or changes its kind.
    pub async fn update_org(&self, org_id: i64, name: &str, kind: rounds_domain::OrgKind, actor: &Actor) -> Result<Org> {
        todo!()
    }

    /// The organization's settings as key → value (e.g. `mfa_required_for_all`, `session_idle_minutes`).
    pub async fn settings(&self, org_id: i64) -> Result<std::collections::BTreeMap<String, String>> {
        todo!()
    }

    /// Sets one setting; the audit event records the old and the new value.
    pub async fn set_setting(&self, org_id: i64, key: &str, value: &str, actor: &Actor) -> Result<()> {
        todo!()
    }

    // ---- users ----

    /// Creates a user in `org_id`; `Conflict("a user with this email already exists")` on a duplicate.
    pub async fn create_user(&self, org_id: i64, user: &NewUser, actor: &Actor) -> Result<User> {
        todo!()
    }

    /// A user by id.
    pub async fn user(&self, user_id: i64) -> Result<Option<User>> {
        todo!()
    }

    /// A user by sign-in email (any organization).
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<User>> {
        todo!()
    }

    /// The users of an organization, by email.
    pub async fn users(&self, org_id: i64) -> Result<Vec<User>> {
        todo!()
    }

    /// Changes a user's role.
    pub async fn set_role(&self, user_id: i64, role: Role, actor: &Actor) -> Result<User> {
        todo!()
    }

    /// Disables (and signs out everywhere) or re-enables a user.
    pub async fn set_disabled(&self, user_id: i64, disabled: bool, actor: &Actor) -> Result<User> {
        todo!()
    }

    /// Replaces a user's password hash (PHC string) and signs them out of every other session.
    pub async fn set_password(&self, user_id: i64, password_hash: &str, keep_session: Option<&str>, actor: &Actor) -> Result<()> {
        todo!()
    }

    // ---- second factor ----

    /// Stores a freshly enrolled TOTP secret (sealed with the key) and the hashes of the recovery
    /// codes, replacing any earlier ones.
    pub async fn enable_totp(&self, user_id: i64, secret: &[u8], recovery_code_hashes: &[String], actor: &Actor) -> Result<()> {
        todo!()
    }

    /// The user's TOTP secret, unsealed; `None` when MFA is not enrolled.
    pub async fn totp_secret(&self, user_id: i64) -> Result<Option<Vec<u8>>> {
        todo!()
    }

    /// Claims a TOTP time step for the user: `true` only if it is later than every step used before,
    /// so each code works once (replay protection), atomically even across processes.
    pub async fn claim_totp_step(&self, user_id: i64, step: i64) -> Result<bool> {
        todo!()
    }

    /// Marks the recovery code with this hash used; `true` if it existed and was unused.
    pub async fn use_recovery_code(&self, user_id: i64, code_hash: &str, actor: &Actor) -> Result<bool> {
        todo!()
    }

    /// How many unused recovery codes the user has left.
    pub async fn recovery_codes_left(&self, user_id: i64) -> Result<i64> {
        todo!()
    }

    /// Removes the user's second factor and recovery codes and signs them out everywhere.
    pub async fn reset_mfa(&self, user_id: i64, actor: &Actor) -> Result<()> {
        todo!()
    }

    // ---- sign-in throttling ----

    /// Records a failed sign-in for `key` (the lower-cased email, whether or not such a user exists).
    pub async fn record_login_failure(&self, key: &str, at_ms: i64) -> Result<()> {
        todo!()
    }

    /// Failed sign-ins for `key` at or after `since_ms`.
    pub async fn login_failures_since(&self, key: &str, since_ms: i64) -> Result<i64> {
        todo!()
    }

    /// Forgets the failures for `key` after a successful sign-in.
    pub async fn clear_login_failures(&self, key: &str) -> Result<()> {
        todo!()
    }

    // ---- sessions ----

    /// Stores a new session (the id is stored only as its SHA-256 hash).
    pub async fn create_session(&self, session: &NewSession) -> Result<()> {
        todo!()
    }

    /// The session with this id hash and its user, if it exists.
    pub async fn session(&self, id_hash: &str) -> Result<Option<(Session, User)>> {
        todo!()
    }

    /// Records activity on a session (for the idle timeout).
    pub async fn touch_session(&self, id_hash: &str, now_ms: i64) -> Result<()> {
        todo!()
    }

    /// Marks a session as having passed the second factor.
    pub async fn mark_session_mfa(&self, id_hash: &str) -> Result<()> {
        todo!()
    }

    /// Ends one session.
    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        todo!()
    }

    /// Ends every session of a user, except `keep` (the one making the request) when given.
    pub async fn revoke_sessions(&self, user_id: i64, keep: Option<&str>, actor: &Actor) -> Result<u64> {
        todo!()
    }

    /// The user's open sessions, newest first.
    pub async fn sessions_of(&self, user_id: i64) -> Result<Vec<Session>> {
        todo!()
    }

    // ---- invitations ----

    /// Stores an invitation (token stored hashed); `Conflict` if the email already has an account.
    pub async fn create_invitation(&self, inv: &NewInvitation, actor: &Actor) -> Result<Invitation> {
        todo!()
    }

    /// An unexpired, unaccepted invitation by token hash.
    pub async fn invitation_by_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<Invitation>> {
        todo!()
    }

    /// Open invitations of an organization.
    pub async fn invitations(&self, org_id: i64) -> Result<Vec<Invitation>> {
        todo!()
    }

    /// Creates the invited user and marks the invitation accepted, in one transaction; `Conflict` if it
    /// was accepted meanwhile.
    pub async fn accept_invitation(&self, invitation_id: i64, display_name: &str, password_hash: &str, ip: Option<&str>) -> Result<User> {
        todo!()
    }

    // ---- personal API tokens ----

    /// Stores a new API token (hash only; the prefix is kept to tell tokens apart).
    pub async fn create_api_token(&self, user_id: i64, name: &str, token_hash: &str, prefix: &str, actor: &Actor) -> Result<ApiToken> {
        todo!()
    }

    /// The user's tokens, newest first, revoked ones included.
    pub async fn api_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        todo!()
    }

    /// Revokes one of the user's tokens.
    pub async fn revoke_api_token(&self, user_id: i64, token_id: i64, actor: &Actor) -> Result<()> {
        todo!()
    }

    /// The unrevoked token with this hash and its (enabled) user; records `last_used_at`.
    pub async fn authenticate_api_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<(ApiToken, User)>> {
        todo!()
    }

    // ---- audit log ----

    /// Appends an event that goes with no other change (a failed sign-in, a sign-out, an export).
    pub async fn audit(&self, actor: &Actor, action: AuditAction, target: &str, detail: serde_json::Value) -> Result<AuditRecord> {
        todo!()
    }

    /// One page of events, newest first, matching `filter`.
    pub async fn audit_page(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        todo!()
    }

    /// Recomputes the whole chain in `seq` order, reading it in pages: the count of events checked, or
    /// the first break.
    pub async fn audit_verify(&self) -> Result<Result<u64, ChainBreak>> {
        todo!()
    }

    // ---- channels, posts and inbox (filled by publishing and the inbox; the demo seeds them) ----

    /// Adds a social account to the organization (no credentials yet: connecting is publishing's job).
    pub async fn create_channel(&self, org_id: i64, channel: &NewChannel, actor: &Actor) -> Result<Channel> {
        todo!()
    }

    /// The organization's channels.
    pub async fn channels(&self, org_id: i64) -> Result<Vec<Channel>> {
        todo!()
    }

    /// Saves a draft post.
    pub async fn create_post(&self, org_id: i64, post: &NewPost, actor: &Actor) -> Result<Post> {
        todo!()
    }

    /// Posts of the organization, newest first, optionally only in one status.
    pub async fn posts(&self, org_id: i64, status: Option<PostStatus>, page: &Page) -> Result<Vec<Post>> {
        todo!()
    }

    /// Stores an incoming comment, mention or message (idempotent on channel + network id).
    pub async fn create_inbox_item(&self, org_id: i64, item: &NewInboxItem) -> Result<InboxItem> {
        todo!()
    }

    /// Inbox items of the organization, newest first.
    pub async fn inbox_items(&self, org_id: i64, page: &Page) -> Result<Vec<InboxItem>> {
        todo!()
    }

    // ---- operations ----

    /// Writes a consistent copy of the live database to `dest` (SQLite: `VACUUM INTO`; PostgreSQL:
    /// `pg_dump` custom format), refusing to overwrite an existing file.
    pub async fn backup(&self, dest: &std::path::Path, actor: &Actor) -> Result<()> {
        todo!()
    }

    /// Restores a backup made by [`Store::backup`] into the database at `url`, which must be empty
    /// (or, for SQLite, not exist yet); the restored audit chain is verified before returning.
    pub async fn restore(backup: &std::path::Path, url: &str) -> Result<u64> {
        todo!()
    }
}
