//! Test support for Rounds: an in-process server on a scratch store, a headless Chromium driven
//! over WebDriver, and TOTP codes for signing in with a second factor.
//!
//! Tests that need a tool this machine lacks skip with a message locally and fail in CI (where
//! `CI` is set), so a missing install step cannot turn a CI run green.

mod browser;
mod server;
mod totp;

pub use browser::{Browser, CHROMEDRIVER_VAR, CHROMIUM_VAR};
pub use server::TestServer;
pub use totp::{totp_at, totp_now};

/// Whether this run is CI, where every test must run instead of skipping.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}
