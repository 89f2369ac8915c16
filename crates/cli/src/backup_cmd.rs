//! `rounds backup OUT` and `rounds restore BACKUP`: a consistent copy of the live database, and
//! putting one back into an empty database.

use std::path::PathBuf;

use anyhow::Context;
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
    /// The database to restore into; it must be empty (PostgreSQL) or not exist yet (SQLite).
    #[arg(long, env = "ROUNDS_DATABASE_URL", default_value = db::DEFAULT_DATABASE_URL)]
    database_url: String,
}

/// Run `rounds backup`: safe while `rounds serve` runs, since the store copies inside one read
/// transaction.
pub(crate) fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let BackupArgs { db, out } = args;
    db::create_parent(&out)?;
    db::block_on(db::with_store(&db, IfMissing::Refuse, async |store| {
        store.backup(&out, &Actor::cli()).await.with_context(|| format!("backup to {} failed", out.display()))?;
        println!("wrote {}", out.display());
        println!(
            "note: the backup does not hold the key file ({}); keep a copy of it apart from the backups, \
             or MFA secrets cannot be read after a restore",
            db.key_file.display()
        );
        Ok(())
    }))
}

/// Run `rounds restore`.
pub(crate) fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    if !args.backup.is_file() {
        anyhow::bail!("no backup file at {}", args.backup.display());
    }
    if let Some(path) = db::sqlite_path(&args.database_url) {
        db::create_parent(&path)?;
    }
    let events = db::block_on(async {
        Store::restore(&args.backup, &args.database_url).await.with_context(|| {
            format!("cannot restore {} into {}", args.backup.display(), db::redact_url(&args.database_url))
        })
    })?;
    println!(
        "restored {} into {}: audit chain intact, {events} events",
        args.backup.display(),
        db::redact_url(&args.database_url)
    );
    Ok(())
}
