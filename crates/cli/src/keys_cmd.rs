//! `rounds keys rotate`: replace the key that seals stored secrets, re-sealing every one of them.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rounds_store::Actor;

use crate::db::{self, DbArgs, IfMissing};

/// `rounds keys` and its subcommands.
#[derive(Args, Debug)]
pub(crate) struct KeysArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Re-seal every stored secret (TOTP secrets, channel credentials) with a fresh key and swap the
    /// key file, keeping the previous one beside it. Stop `rounds serve` first.
    Rotate,
}

/// Run `rounds keys …`.
pub(crate) fn run(args: KeysArgs) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::Rotate => rotate(&args.db),
    }
}

fn rotate(db: &DbArgs) -> anyhow::Result<()> {
    let (_, key_file) = db.resolve()?;
    // Opening the store would create a missing key file, and a fresh key has nothing to rotate from.
    if !key_file.is_file() {
        bail!(
            "no key file at {} (pass --key-file or set ROUNDS_KEY_FILE to the one `rounds serve` uses)",
            key_file.display()
        );
    }
    db::block_on(db::with_store(db, IfMissing::Refuse, async |store| {
        let summary = store
            .rotate_key(&Actor::cli())
            .await
            .context("key rotation failed")?;
        println!(
            "re-sealed {} TOTP secret(s) and {} channel credential(s) with the new key",
            summary.totp_secrets, summary.channel_credentials
        );
        println!(
            "key {} replaced by key {} in {}",
            summary.old_key_id,
            summary.new_key_id,
            key_file.display()
        );
        if let Some(old) = &summary.old_key_file {
            println!(
                "the previous key is kept as {}: backups made before now need it; delete it once they are no longer kept",
                old.display()
            );
        }
        println!("restart `rounds serve` so that it uses the new key");
        Ok(())
    }))
}
