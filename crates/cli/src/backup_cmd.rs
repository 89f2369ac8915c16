//! `rounds backup OUT` and `rounds restore BACKUP`: a consistent copy of the live database, and
//! putting one back into an empty database.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use rounds_store::{Actor, Store};

use crate::db::{self, DbArgs, IfMissing};

/// Options of `rounds backup`.
#[derive(Args, Debug)]
pub(crate) struct BackupArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The backup file to write (must not exist yet).
    out: PathBuf,
}

/// Options of `rounds restore`.
#[derive(Args, Debug)]
pub(crate) struct RestoreArgs {
    /// A file written by `rounds backup`.
    backup: PathBuf,
    /// Where to restore: a database that must be empty (PostgreSQL) or not exist yet (SQLite).
    #[command(flatten)]
    target: db::UrlArgs,
}

/// Run `rounds backup`: safe while `rounds serve` runs, since the store copies inside one read
/// transaction.
pub(crate) fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let BackupArgs { db, out } = args;
    db::create_parent(&out)?;
    let (_, key_file) = db.resolve()?;
    db::block_on(db::with_store(&db, IfMissing::Refuse, async |store| {
        store
            .backup(&out, &Actor::cli())
            .await
            .with_context(|| format!("backup to {} failed", out.display()))?;
        println!("wrote {}", out.display());
        println!(
            "note: the backup does not hold the key file ({}); keep a copy of it apart from the backups, \
             or MFA secrets cannot be read after a restore",
            key_file.display()
        );
        Ok(())
    }))
}

/// Run `rounds restore`.
pub(crate) fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    if !args.backup.is_file() {
        bail!("no backup file at {}", args.backup.display());
    }
    let url = args.target.url();
    let sqlite_target = db::sqlite_path(&url);
    check_kind(&args.backup, sqlite_target.is_some())?;
    if let Some(path) = &sqlite_target {
        db::create_parent(path)?;
    }
    let events = db::block_on(async {
        Store::restore(&args.backup, &url).await.with_context(|| {
            format!(
                "cannot restore {} into {}",
                args.backup.display(),
                db::redact_url(&url)
            )
        })
    })?;
    println!(
        "restored {} into {}: audit chain intact, {events} events",
        args.backup.display(),
        db::redact_url(&url)
    );
    Ok(())
}

/// The first bytes of a SQLite database file.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";
/// The first bytes of a `pg_dump --format=custom` archive.
const PG_DUMP_MAGIC: &[u8] = b"PGDMP";

/// Refuses a backup of the other database kind (or no backup at all) before anything is written,
/// so a wrong file never leaves a half-made target behind.
fn check_kind(backup: &Path, into_sqlite: bool) -> anyhow::Result<()> {
    let mut head = [0u8; 16];
    let mut file =
        std::fs::File::open(backup).with_context(|| format!("cannot open {}", backup.display()))?;
    let n = file
        .read(&mut head)
        .with_context(|| format!("cannot read {}", backup.display()))?;
    let head = &head[..n];
    let (wanted, other) = if into_sqlite {
        (SQLITE_MAGIC, PG_DUMP_MAGIC)
    } else {
        (PG_DUMP_MAGIC, SQLITE_MAGIC)
    };
    if head.starts_with(wanted) {
        return Ok(());
    }
    let kind = |sqlite: bool| if sqlite { "SQLite" } else { "PostgreSQL" };
    if head.starts_with(other) {
        bail!(
            "{} is a {} backup and cannot be restored into a {} database",
            backup.display(),
            kind(!into_sqlite),
            kind(into_sqlite)
        );
    }
    bail!(
        "{} is not a backup written by `rounds backup`",
        backup.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_are_recognised_by_their_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let sqlite = write("s.db", b"SQLite format 3\0rest of the page");
        let pg = write("p.dump", b"PGDMP\x01\x0e\x00");
        let text = write("t.txt", b"hello");
        let empty = write("e", b"");
        assert!(check_kind(&sqlite, true).is_ok());
        assert!(check_kind(&pg, false).is_ok());
        let e = check_kind(&pg, true).unwrap_err().to_string();
        assert!(
            e.contains("is a PostgreSQL backup and cannot be restored into a SQLite database"),
            "{e}"
        );
        let e = check_kind(&sqlite, false).unwrap_err().to_string();
        assert!(e.contains("is a SQLite backup"), "{e}");
        for path in [&text, &empty] {
            let e = check_kind(path, true).unwrap_err().to_string();
            assert!(
                e.contains("is not a backup written by `rounds backup`"),
                "{e}"
            );
        }
    }
}
