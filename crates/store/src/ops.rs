//! Backup and restore: a consistent copy of the database, and bringing one back with its audit chain checked.

use std::path::Path;

use sqlx::{AnyPool, Row};

use crate::{Backend, Result, StoreError, db};

/// Writes a copy of the live database to `dest`, which must not exist.
pub(crate) async fn backup(pool: &AnyPool, backend: Backend, url: &str, dest: &Path) -> Result<()> {
    refuse_existing(dest)?;
    match backend {
        Backend::Sqlite => {
            let dest_text = dest
                .to_str()
                .ok_or_else(|| StoreError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "the backup path is not valid UTF-8")))?;
            sqlx::query("VACUUM INTO $1").bind(dest_text).execute(pool).await?;
        }
        Backend::Postgres => {
            let args = [std::ffi::OsStr::new("--format=custom"), "--file".as_ref(), dest.as_os_str()];
            run_tool("pg_dump", &args, url).await?;
        }
    }
    Ok(())
}

/// Restores `backup` into the (new or empty) database at `url`, then verifies the audit chain.
pub(crate) async fn restore(backup: &Path, url: &str) -> Result<u64> {
    if !backup.is_file() {
        return Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("the backup {} does not exist", backup.display()),
        )));
    }
    match url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        Some(rest) => restore_sqlite(backup, url, &db::sqlite_file(rest)?).await,
        None => restore_postgres(backup, url).await,
    }
}

async fn restore_sqlite(backup: &Path, url: &str, target: &Path) -> Result<u64> {
    refuse_existing(target)?;
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await?;
    }
    tokio::fs::copy(backup, target).await?;
    let verified = match db::connect(url).await {
        Ok((pool, _)) => {
            let verified = crate::verify_chain(&pool).await;
            pool.close().await;
            verified
        }
        Err(e) => Err(e),
    };
    match verified {
        Ok(Ok(n)) => Ok(n),
        // A copy whose log does not verify must not be left where it could be opened as if sound.
        Ok(Err(broken)) => {
            discard_sqlite(target).await;
            Err(StoreError::AuditChain(broken))
        }
        Err(e) => {
            discard_sqlite(target).await;
            Err(e)
        }
    }
}

async fn restore_postgres(backup: &Path, url: &str) -> Result<u64> {
    let (pool, _) = db::connect_unmigrated(url).await?;
    let tables: i64 = sqlx::query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'")
        .fetch_one(&pool)
        .await?
        .try_get(0)?;
    if tables > 0 {
        pool.close().await;
        return Err(StoreError::Conflict("the target database is not empty: restore into a freshly created database"));
    }
    let args = [std::ffi::OsStr::new("--no-owner"), "--exit-on-error".as_ref(), backup.as_os_str()];
    let restored = match run_tool("pg_restore", &args, url).await {
        Ok(()) => db::migrate(&pool, Backend::Postgres).await,
        Err(e) => Err(e),
    };
    let verified = match restored {
        Ok(()) => crate::verify_chain(&pool).await,
        Err(e) => Err(e),
    };
    pool.close().await;
    verified?.map_err(StoreError::AuditChain)
}

/// Removes a restored SQLite file and its WAL companions.
async fn discard_sqlite(target: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = target.as_os_str().to_owned();
        name.push(suffix);
        if let Err(e) = tokio::fs::remove_file(&name).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = %std::path::Path::new(&name).display(), "cannot remove a rejected restore: {e}");
        }
    }
}

fn refuse_existing(path: &Path) -> Result<()> {
    if path.exists() {
        return Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} already exists; refusing to overwrite it", path.display()),
        )));
    }
    Ok(())
}

/// Runs a PostgreSQL client tool against `url`.
async fn run_tool(tool: &str, args: &[&std::ffi::OsStr], url: &str) -> Result<()> {
    let output = tokio::process::Command::new(tool)
        .args(args)
        .arg(format!("--dbname={url}"))
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                StoreError::Tool(format!("{tool} was not found on PATH: install the PostgreSQL client tools (same major version as the server)"))
            }
            _ => StoreError::Tool(format!("cannot run {tool}: {e}")),
        })?;
    if !output.status.success() {
        return Err(StoreError::Tool(format!("{tool} failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim())));
    }
    Ok(())
}
