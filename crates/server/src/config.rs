//! Server settings: built-in defaults, then `rounds.toml`, then `ROUNDS_*` environment variables,
//! then command-line flags (applied by the CLI). Every key is documented in docs/configuration.md.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Everything `rounds serve` can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Folder for the embedded database, the key file and backups.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: `sqlite://<data_dir>/rounds.db`.
    pub database_url: Option<String>,
    /// The 32-byte key that seals secrets at rest; default: `<data_dir>/secret.key`.
    pub key_file: Option<PathBuf>,
    /// The address people use to reach Rounds (for invitation links); `https://…` turns on Secure cookies.
    pub public_url: Option<String>,
    /// Force the Secure cookie flag on or off (default: on when `public_url` is https).
    pub secure_cookies: Option<bool>,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// A session ends this many hours after sign-in, active or not.
    pub session_absolute_hours: u32,
    /// Failed sign-ins allowed per email (and per address, ten times as many) within the lock-out window.
    pub login_max_failures: u32,
    /// How long the lock-out window lasts, in minutes.
    pub login_lockout_minutes: u32,
    /// Largest request body accepted, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
    /// Requests taking longer than this many seconds are cut off with 408.
    pub request_timeout_secs: u64,
    /// A screening policy TOML file; default: the built-in hospital policy.
    pub policy_file: Option<PathBuf>,
    /// Scheduled publishing in this process.
    pub publishing: Publishing,
}

/// The `[publishing]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Publishing {
    /// Whether `rounds serve` publishes due posts itself; `false` when `rounds worker` processes do it.
    pub worker: bool,
    /// How long a worker holds a job before another may take it over (and first checks the network).
    pub lease_secs: u64,
    /// Let channels point at plain `http://` or at loopback, private and link-local addresses (a
    /// network run on this machine for testing); off, a PDS or instance URL must be public https.
    pub allow_private_hosts: bool,
}

impl Default for Publishing {
    fn default() -> Self {
        // Five minutes outlast a publish with four image uploads at the connectors' 30 s timeout.
        Publishing {
            worker: true,
            lease_secs: 300,
            allow_private_hosts: false,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("rounds-data"),
            database_url: None,
            key_file: None,
            public_url: None,
            secure_cookies: None,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            login_max_failures: 5,
            login_lockout_minutes: 15,
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            policy_file: None,
            publishing: Publishing::default(),
        }
    }
}

/// The keys of [`Config`], as read from `ROUNDS_<KEY>` environment variables.
const KEYS: [&str; 14] = [
    "bind",
    "data_dir",
    "database_url",
    "key_file",
    "public_url",
    "secure_cookies",
    "session_idle_minutes",
    "session_absolute_hours",
    "login_max_failures",
    "login_lockout_minutes",
    "max_body_bytes",
    "request_timeout_secs",
    "policy_file",
    "publishing",
];

/// The configuration file or environment could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Config {
    /// Defaults, then the TOML file (when given, it must exist), then `ROUNDS_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment
            // Only our own keys: other ROUNDS_* variables (test settings, data paths) are not config.
            .merge(Env::prefixed("ROUNDS_").only(&KEYS))
            .extract()
            .map_err(|e| ConfigError(e.to_string()))
    }

    /// Settings for tests: a random port and short, but not zero, timeouts.
    pub fn for_tests() -> Config {
        // Test networks (the local Bluesky network, contract-test servers) run on loopback over http.
        let publishing = Publishing {
            allow_private_hosts: true,
            ..Publishing::default()
        };
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            publishing,
            ..Config::default()
        }
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("rounds.db").display()))
    }

    /// The key file in effect.
    pub fn key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }

    /// Whether cookies get the Secure flag.
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies.unwrap_or_else(|| {
            self.public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
        })
    }

    /// The base URL for links Rounds hands out (invitations).
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_owned()
    }
}

#[cfg(test)]
#[allow(
    clippy::result_large_err,
    reason = "figment::Jail's closure type is fixed by figment"
)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "rounds.toml",
                "bind = \"0.0.0.0:9000\"\nsession_idle_minutes = 10\n",
            )?;
            jail.set_env("ROUNDS_SESSION_IDLE_MINUTES", "20");
            let c = Config::load(Some(Path::new("rounds.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.bind.port(), 9000);
            assert_eq!(c.session_idle_minutes, 20);
            assert_eq!(c.database_url(), "sqlite://rounds-data/rounds.db");
            Ok(())
        });
    }

    #[test]
    fn the_publishing_table_turns_the_in_process_publisher_off() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(
                Config::default().publishing,
                Publishing {
                    worker: true,
                    lease_secs: 300,
                    allow_private_hosts: false
                }
            );
            jail.create_file(
                "rounds.toml",
                "[publishing]\nworker = false\nlease_secs = 60\n",
            )?;
            let c = Config::load(Some(Path::new("rounds.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(
                c.publishing,
                Publishing {
                    worker: false,
                    lease_secs: 60,
                    allow_private_hosts: false
                }
            );
            jail.create_file("typo.toml", "[publishing]\nwrker = false\n")?;
            assert!(Config::load(Some(Path::new("typo.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("rounds.toml", "bnid = \"0.0.0.0:9000\"\n")?;
            assert!(Config::load(Some(Path::new("rounds.toml"))).is_err());
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn https_public_url_turns_on_secure_cookies() {
        let c = Config {
            public_url: Some("https://social.mercy.org/".into()),
            ..Config::default()
        };
        assert!(c.secure_cookies());
        assert_eq!(c.public_url(), "https://social.mercy.org");
        assert!(!Config::default().secure_cookies());
    }
}
