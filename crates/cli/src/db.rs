//! The database options every admin command shares, and opening the store from them.

use std::future::Future;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use rounds_store::Store;

/// Which database to use, resolved as `rounds serve` resolves it (`Config::database_url`).
#[derive(Args, Debug, Clone)]
pub(crate) struct UrlArgs {
    /// Folder of the embedded database and the key file, when they are not given one by one [default: rounds-data].
    #[arg(long, global = true, env = "ROUNDS_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: `sqlite://PATH` (embedded) or `postgres://USER@HOST/DB` [default: sqlite://<data-dir>/rounds.db].
    #[arg(long, global = true, env = "ROUNDS_DATABASE_URL")]
    database_url: Option<String>,
}

/// The data folder when neither a flag, the environment nor a configuration file names one.
const DEFAULT_DATA_DIR: &str = "rounds-data";

impl UrlArgs {
    /// The database URL in effect.
    pub(crate) fn url(&self) -> String {
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        self.database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&data_dir))
    }
}

fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("rounds.db").display())
}

/// Where the database and the key file are; the same defaults as `rounds serve`.
#[derive(Args, Debug, Clone)]
pub(crate) struct DbArgs {
    #[command(flatten)]
    database: UrlArgs,
    /// File holding the key that seals stored secrets, created when missing [default: <data-dir>/secret.key].
    #[arg(long, global = true, env = "ROUNDS_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// The configuration file `rounds serve --config` reads: its `data_dir`, `database_url` and
    /// `key_file` apply where no flag or environment variable gives them.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

/// What to do when the SQLite file does not exist yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IfMissing {
    /// Create it: the command may be the first one of a new installation (`user add`).
    Create,
    /// Refuse: a command that reads or copies data was most likely run from the wrong folder, and
    /// an empty new database would answer it misleadingly ("0 events, intact").
    Refuse,
}

impl DbArgs {
    /// The settings `rounds serve --config` would run with: the file (when given), then `ROUNDS_*` variables.
    pub(crate) fn config(&self) -> anyhow::Result<rounds_server::Config> {
        let path = self.config.as_deref();
        rounds_server::Config::load(path).with_context(|| {
            format!(
                "reading {}",
                path.map_or("the ROUNDS_* settings".into(), |p| p.display().to_string())
            )
        })
    }

    /// The database URL and key file in effect: flags and environment first, then the
    /// configuration file, then the defaults `rounds serve` uses.
    pub(crate) fn resolve(&self) -> anyhow::Result<(String, PathBuf)> {
        let file = match &self.config {
            Some(_) => Some(self.config()?),
            None => None,
        };
        let data_dir = self
            .database
            .data_dir
            .clone()
            .or_else(|| file.as_ref().map(|c| c.data_dir.clone()))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let url = self
            .database
            .database_url
            .clone()
            .or_else(|| file.as_ref().and_then(|c| c.database_url.clone()))
            .unwrap_or_else(|| sqlite_url(&data_dir));
        let key_file = self
            .key_file
            .clone()
            .or_else(|| file.and_then(|c| c.key_file))
            .unwrap_or_else(|| data_dir.join("secret.key"));
        Ok((url, key_file))
    }

    /// Opens the store, first creating the folders of the SQLite file and of the key file.
    pub(crate) async fn open(&self, if_missing: IfMissing) -> anyhow::Result<Store> {
        let (url, key_file) = self.resolve()?;
        if let Some(path) = sqlite_path(&url) {
            if if_missing == IfMissing::Refuse && !path.exists() {
                bail!(
                    "no database at {} (run from the folder `rounds serve` runs in, or pass --database-url \
                     or set ROUNDS_DATABASE_URL)",
                    path.display()
                );
            }
            create_parent(&path)?;
        }
        create_parent(&key_file)?;
        Store::open(&url, &key_file)
            .await
            .with_context(|| format!("database {}", redact_url(&url)))
    }
}

/// Runs one admin command on a fresh single-threaded runtime: the CLI does one thing at a time.
pub(crate) fn block_on<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(work)
}

/// Opens the store, runs `work` on it, and closes it whether or not `work` succeeded, so SQLite
/// checkpoints its write-ahead log before the process exits.
pub(crate) async fn with_store<T>(
    db: &DbArgs,
    if_missing: IfMissing,
    work: impl AsyncFnOnce(&Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let store = db.open(if_missing).await?;
    let result = work(&store).await;
    store.close().await;
    result
}

/// The file path of a `sqlite:` URL (without its `?options`); `None` for other databases.
pub(crate) fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Creates the folder `path` lives in, readable only by its owner where the system allows it,
/// since it holds the database and the secret key.
pub(crate) fn create_parent(path: &Path) -> anyhow::Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create the folder {}", dir.display()))
}

/// The URL with any password replaced, fit for an error message.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest
        .split_once('/')
        .map_or((rest, None), |(a, t)| (a, Some(t)));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split(':').next().unwrap_or("");
    let masked = if userinfo.contains(':') {
        format!("{user}:***@{host}")
    } else {
        format!("{user}@{host}")
    };
    match tail {
        Some(t) => format!("{scheme}://{masked}/{t}"),
        None => format!("{scheme}://{masked}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite://rounds-data/rounds.db"),
            Some(PathBuf::from("rounds-data/rounds.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///var/lib/rounds/r.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/rounds/r.db"))
        );
        assert_eq!(sqlite_path("sqlite:r.db"), Some(PathBuf::from("r.db")));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://u@h/db"), None);
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://rounds:s3cret@db.local:5432/rounds"),
            "postgres://rounds:***@db.local:5432/rounds"
        );
        assert_eq!(
            redact_url("postgres://rounds@db.local/rounds"),
            "postgres://rounds@db.local/rounds"
        );
        assert_eq!(
            redact_url("sqlite://rounds-data/rounds.db"),
            "sqlite://rounds-data/rounds.db"
        );
    }
}
