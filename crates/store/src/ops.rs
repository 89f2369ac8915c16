//! Backup and restore: a consistent copy of the database, and bringing one back with its audit chain checked.

use std::path::Path;

use sqlx::{AnyPool, Row};

use crate::{Backend, Result, StoreError, db};

/// Writes a copy of the live database to `dest`, which must not exist.
pub(crate) async fn backup(pool: &AnyPool, backend: Backend, url: &str, dest: &Path) -> Result<()> {
    refuse_existing(dest)?;
    match backend {
        Backend::Sqlite => {
            let dest_text = dest.to_str().ok_or_else(|| {
                StoreError::Io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the backup path is not valid UTF-8",
                ))
            })?;
            sqlx::query("VACUUM INTO $1")
                .bind(dest_text)
                .execute(pool)
                .await?;
        }
        Backend::Postgres => {
            let args = [
                std::ffi::OsStr::new("--format=custom"),
                "--file".as_ref(),
                dest.as_os_str(),
            ];
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
    match url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
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
    let tables: i64 =
        sqlx::query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'")
            .fetch_one(&pool)
            .await?
            .try_get(0)?;
    if tables > 0 {
        pool.close().await;
        return Err(StoreError::Conflict(
            "the target database is not empty: restore into a freshly created database",
        ));
    }
    let args = [
        std::ffi::OsStr::new("--no-owner"),
        "--exit-on-error".as_ref(),
        backup.as_os_str(),
    ];
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
            format!(
                "{} already exists; refusing to overwrite it",
                path.display()
            ),
        )));
    }
    Ok(())
}

/// Runs a PostgreSQL client tool against `url`. The password travels in `PGPASSWORD`, not on the
/// command line, where every local user could read it in the process list.
async fn run_tool(tool: &str, args: &[&std::ffi::OsStr], url: &str) -> Result<()> {
    let (url, password) = split_password(url);
    let mut command = tokio::process::Command::new(tool);
    command
        .args(args)
        .arg(format!("--dbname={url}"))
        .kill_on_drop(true);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            StoreError::Tool(format!("{tool} was not found on PATH: install the PostgreSQL client tools (same major version as the server)"))
        }
        _ => StoreError::Tool(format!("cannot run {tool}: {e}")),
    })?;
    if !output.status.success() {
        return Err(StoreError::Tool(format!(
            "{tool} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// `postgres://user:secret@host/db` → (`postgres://user@host/db`, `Some("secret")`), the password
/// percent-decoded; a URL without one is returned as is.
fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_owned(), None);
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let Some(at) = authority.rfind('@') else {
        return (url.to_owned(), None);
    };
    let Some((user, password)) = authority[..at].split_once(':') else {
        return (url.to_owned(), None);
    };
    let stripped = format!(
        "{}{user}{}{}",
        &url[..scheme_end],
        &authority[at..],
        &url[authority_end..]
    );
    (stripped, Some(percent_decode(password)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| {
                s.get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .flatten();
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::split_password;

    #[test]
    fn password_is_taken_out_of_the_url() {
        assert_eq!(
            split_password("postgres://rounds:p%40ss:word@db.example:5432/rounds?sslmode=require"),
            (
                "postgres://rounds@db.example:5432/rounds?sslmode=require".to_owned(),
                Some("p@ss:word".to_owned())
            )
        );
        assert_eq!(
            split_password("postgres://rounds@db/rounds"),
            ("postgres://rounds@db/rounds".to_owned(), None)
        );
        assert_eq!(
            split_password("postgres://db/rounds"),
            ("postgres://db/rounds".to_owned(), None)
        );
    }
}
