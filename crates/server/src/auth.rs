//! Sign-in: password check with throttling that cannot reveal which accounts exist, TOTP codes that
//! work once, recovery codes, and new sessions (a fresh id at every sign-in, against fixation).

use rounds_domain::secret::{
    dummy_password_hash, random_bytes, random_token, sha256_hex, verify_password,
};
use rounds_domain::{AuditAction, Email};
use rounds_store::{Actor, NewSession, User};
use serde_json::json;
use totp_rs::Totp;

use crate::error::{AppError, AppResult};
use crate::{AppState, minutes_ms, now_ms};

/// The one message for every failed sign-in, so it never tells whether the account exists.
pub(crate) const FAILED: &str = "That email and password do not match an active account.";
/// The message once the lock-out applies, shown for existing and unknown emails alike.
pub(crate) const LOCKED: &str =
    "Too many failed sign-ins for this email. Wait 15 minutes, then try again.";

/// What a password sign-in led to.
pub(crate) enum SignIn {
    /// A session was created; `pending_code` when the second factor is still to come.
    Session {
        /// The new session id for the cookie.
        id: String,
        /// Whether a TOTP or recovery code must follow.
        pending_code: bool,
    },
    /// Wrong email or password, or a disabled account.
    Failed,
    /// Too many recent failures for this email or address.
    Locked,
}

fn email_key(raw: &str) -> String {
    format!("email:{}", raw.trim().to_lowercase())
}

/// Checks email and password and, when they match, opens a session.
pub(crate) async fn sign_in(
    state: &AppState,
    raw_email: &str,
    password: &str,
    ip: Option<String>,
    user_agent: Option<String>,
) -> AppResult<SignIn> {
    let now = now_ms();
    let window_start = now - minutes_ms(state.config.login_lockout_minutes);
    let key = email_key(raw_email);
    let ip_key = ip.as_ref().map(|ip| format!("ip:{ip}"));
    let max = i64::from(state.config.login_max_failures.max(1));
    let anonymous = Actor {
        org_id: None,
        user_id: None,
        label: "anonymous".into(),
        ip: ip.clone(),
    };
    let mut locked = state.store.login_failures_since(&key, window_start).await? >= max;
    if let Some(ip_key) = &ip_key {
        locked |= state
            .store
            .login_failures_since(ip_key, window_start)
            .await?
            >= max * 10;
    }
    if locked {
        state
            .store
            .audit(
                &anonymous,
                AuditAction::LoginFailed,
                &key,
                json!({"reason": "locked"}),
            )
            .await?;
        return Ok(SignIn::Locked);
    }
    let user = match Email::parse(raw_email) {
        Ok(email) => state.store.user_by_email(&email).await?,
        Err(_) => None,
    };
    // Verify against a dummy hash for unknown emails so both cases take the same time.
    let hash = user.as_ref().map_or_else(
        || dummy_password_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(AppError::internal)?;
    let user = match user {
        Some(u) if matches && !u.disabled => u,
        other => {
            state.store.record_login_failure(&key, now).await?;
            if let Some(ip_key) = &ip_key {
                state.store.record_login_failure(ip_key, now).await?;
            }
            let actor = match &other {
                Some(u) => Actor::user(u, ip.clone()),
                None => anonymous.clone(),
            };
            let reason = match other {
                Some(u) if u.disabled => "disabled",
                _ => "bad_credentials",
            };
            state
                .store
                .audit(
                    &actor,
                    AuditAction::LoginFailed,
                    &key,
                    json!({"reason": reason}),
                )
                .await?;
            if state.store.login_failures_since(&key, window_start).await? >= max {
                state
                    .store
                    .audit(
                        &actor,
                        AuditAction::LoginLocked,
                        &key,
                        json!({"minutes": state.config.login_lockout_minutes}),
                    )
                    .await?;
            }
            return Ok(SignIn::Failed);
        }
    };
    state.store.clear_login_failures(&key).await?;
    let pending_code = user.mfa_enabled;
    let id = open_session(state, &user, !pending_code, ip.clone(), user_agent).await?;
    if !pending_code {
        state
            .store
            .audit(
                &Actor::user(&user, ip),
                AuditAction::LoginSucceeded,
                &format!("user:{}", user.id),
                json!({"mfa": false}),
            )
            .await?;
    }
    Ok(SignIn::Session { id, pending_code })
}

/// Creates a session with a fresh random id and returns the id for the cookie.
pub(crate) async fn open_session(
    state: &AppState,
    user: &User,
    mfa_passed: bool,
    ip: Option<String>,
    user_agent: Option<String>,
) -> AppResult<String> {
    let id = random_token()?;
    state
        .store
        .create_session(&NewSession {
            id_hash: sha256_hex(id.as_bytes()),
            user_id: user.id,
            csrf_token: random_token()?,
            mfa_passed,
            now_ms: now_ms(),
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(200).collect()),
        })
        .await?;
    Ok(id)
}

/// Why a second-factor code was refused.
pub(crate) enum CodeCheck {
    /// Accepted (a TOTP step claimed for the first time, or an unused recovery code).
    Accepted {
        /// Whether it was a recovery code.
        recovery: bool,
    },
    /// Wrong, expired, or already used.
    Rejected,
    /// Too many wrong codes recently.
    Locked,
}

/// Checks a TOTP code (six digits) or a recovery code for the user; each works once.
pub(crate) async fn check_code(
    state: &AppState,
    user: &User,
    raw: &str,
    ip: Option<String>,
) -> AppResult<CodeCheck> {
    let now = now_ms();
    let key = format!("mfa:{}", user.id);
    let window_start = now - minutes_ms(state.config.login_lockout_minutes);
    let actor = Actor::user(user, ip);
    if state.store.login_failures_since(&key, window_start).await?
        >= i64::from(state.config.login_max_failures.max(1))
    {
        return Ok(CodeCheck::Locked);
    }
    let code: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_lowercase();
    let accepted = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        match state.store.totp_secret(user.id).await? {
            Some(secret) => {
                let totp = totp(&secret, &user.email)?;
                let secs = u64::try_from(now / 1000).unwrap_or(0);
                match totp.check(&code, secs) {
                    Some(step) => {
                        state
                            .store
                            .claim_totp_step(user.id, i64::try_from(step).unwrap_or(i64::MAX))
                            .await?
                    }
                    None => false,
                }
            }
            None => false,
        }
    } else if !code.is_empty() && code.len() <= 64 {
        let used = state
            .store
            .use_recovery_code(user.id, &sha256_hex(code.as_bytes()), &actor)
            .await?;
        if used {
            return Ok(CodeCheck::Accepted { recovery: true });
        }
        false
    } else {
        false
    };
    if accepted {
        state.store.clear_login_failures(&key).await?;
        Ok(CodeCheck::Accepted { recovery: false })
    } else {
        state.store.record_login_failure(&key, now).await?;
        state
            .store
            .audit(
                &actor,
                AuditAction::LoginFailed,
                &format!("user:{}", user.id),
                json!({"reason": "bad_code"}),
            )
            .await?;
        Ok(CodeCheck::Rejected)
    }
}

/// The TOTP generator for a secret: RFC 6238 defaults (SHA-1, 6 digits, 30 s, one step of skew).
pub(crate) fn totp(secret: &[u8], account: &str) -> AppResult<Totp> {
    totp_rs::Builder::new()
        .with_secret(secret.to_vec())
        .with_account_name(account)
        .with_issuer(Some("Rounds"))
        .build()
        .map_err(AppError::internal)
}

/// A new 160-bit TOTP secret.
pub(crate) fn new_totp_secret() -> AppResult<Vec<u8>> {
    Ok(random_bytes::<20>()?.to_vec())
}

/// Ten recovery codes, formatted `xxxxx-xxxxx`, and the hashes to store.
pub(crate) fn recovery_codes() -> AppResult<(Vec<String>, Vec<String>)> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut codes = Vec::with_capacity(10);
    let mut hashes = Vec::with_capacity(10);
    for _ in 0..10 {
        let bytes = random_bytes::<10>()?;
        let plain: String = bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect();
        hashes.push(sha256_hex(plain.as_bytes()));
        codes.push(format!("{}-{}", &plain[..5], &plain[5..]));
    }
    Ok((codes, hashes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_hashes_match_normalized_input() {
        let (codes, hashes) = recovery_codes().unwrap();
        assert_eq!(codes.len(), 10);
        let normalized: String = codes[0].chars().filter(|c| *c != '-').collect();
        assert_eq!(sha256_hex(normalized.as_bytes()), hashes[0]);
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
    }

    #[test]
    fn totp_codes_verify_at_their_time() {
        let secret = new_totp_secret().unwrap();
        let t = totp(&secret, "ana@mercy.org").unwrap();
        let code = t.generate(1_700_000_000).to_string();
        assert!(t.check(&code, 1_700_000_000).is_some());
        assert!(t.check(&code, 1_700_000_000 + 600).is_none());
    }
}
