//! TOTP codes, as an authenticator app would show them, for tests that sign in with MFA.

use anyhow::Context;
use totp_rs::{Builder, Secret};

/// The code for `secret_base32` (as shown on the MFA enrolment page) at Unix time `unix_secs`:
/// SHA-1, six digits, 30-second steps, the parameters every authenticator app supports.
pub fn totp_at(secret_base32: &str, unix_secs: u64) -> anyhow::Result<String> {
    let secret =
        Secret::try_from_base32(secret_base32.trim()).context("the TOTP secret is not base32")?;
    let totp = Builder::new()
        .with_secret(secret)
        .build()
        .context("the TOTP secret is not usable")?;
    Ok(totp.generate(unix_secs).to_string())
}

/// The code for `secret_base32` now.
pub fn totp_now(secret_base32: &str) -> anyhow::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the clock is before 1970")?;
    totp_at(secret_base32, now.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 secret "12345678901234567890", truncated to six digits.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn matches_the_rfc_6238_vectors() {
        assert_eq!(totp_at(RFC_SECRET, 59).unwrap(), "287082");
        assert_eq!(totp_at(RFC_SECRET, 1_111_111_109).unwrap(), "081804");
        assert_eq!(totp_at(RFC_SECRET, 1_234_567_890).unwrap(), "005924");
    }

    #[test]
    fn now_is_six_digits_and_bad_secrets_are_errors() {
        let code = totp_now(RFC_SECRET).unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        assert!(totp_now("not base32!").is_err());
        assert!(totp_now("GEZDGNBV").is_err(), "40-bit secrets are refused");
    }
}
