//! The `rounds` command: screen messages, list rules, evaluate accuracy, measure speed, and administer
//! the platform (users, audit log, backups, key rotation).

mod audit_cmd;
mod backup_cmd;
mod bench;
mod corpus;
mod db;
mod eval;
mod human;
mod input;
mod keys_cmd;
mod output;
mod rules;
mod sarif;
mod screen_cmd;
mod serve;
mod train;
mod user_cmd;
mod worker_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Rounds: safe social media for healthcare organizations.
#[derive(Parser)]
#[command(name = "rounds", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web app and the JSON API (embedded SQLite by default).
    Serve(serve::ServeArgs),
    /// Publish scheduled posts only, against the same database as `rounds serve` (run several to share the work).
    Worker(worker_cmd::WorkerArgs),
    /// Screen messages from files or stdin and report what the engine finds.
    Screen(screen_cmd::ScreenArgs),
    /// List every screening rule with its category, default severity and actions.
    Rules {
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Score the engine on the labelled sets in the shared data folder.
    Eval {
        /// The shared data folder (default: $ROUNDS_SHARED, or ../shared).
        #[arg(long)]
        shared: Option<PathBuf>,
        /// Also write the table as markdown to this file (e.g. docs/accuracy.md).
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Measure screening speed and memory on the shared corpora.
    Bench(bench::BenchArgs),
    /// Re-train a model from the shared data.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Add, list, disable and change users of the platform.
    User(user_cmd::UserArgs),
    /// Verify the audit log's hash chain or export it.
    Audit(audit_cmd::AuditArgs),
    /// Write a consistent copy of the database (safe while `rounds serve` runs).
    Backup(backup_cmd::BackupArgs),
    /// Restore a backup into an empty database and verify its audit chain.
    Restore(backup_cmd::RestoreArgs),
    /// Replace the key that seals stored secrets (`rounds keys rotate`).
    Keys(keys_cmd::KeysArgs),
}

/// The models `rounds train` can rebuild.
#[derive(Subcommand)]
enum TrainCommand {
    /// The adverse-event (ADR) model, from the PsyTAR train split.
    Adr {
        /// The shared data folder (default: $ROUNDS_SHARED, or ../shared).
        #[arg(long)]
        shared: Option<PathBuf>,
        /// Where to write the weights.
        #[arg(long, default_value = "crates/screen/models/adr.bin")]
        out: PathBuf,
    },
    /// The person-name token model, from WNUT-17 train and the even presidio templates.
    Names {
        /// The shared data folder (default: $ROUNDS_SHARED, or ../shared).
        #[arg(long)]
        shared: Option<PathBuf>,
        /// Where to write the weights.
        #[arg(long, default_value = "crates/screen/models/names.bin")]
        out: PathBuf,
    },
}

/// How `rounds rules` prints.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TableFormat {
    /// Aligned columns for people.
    Table,
    /// A JSON array for scripts.
    Json,
}

/// Process exit codes shared by every subcommand.
pub(crate) mod exit {
    /// Nothing at or above the `--fail-on` severity.
    pub const CLEAN: u8 = 0;
    /// At least one finding at or above the `--fail-on` severity; for `audit verify`, a broken chain.
    pub const FINDINGS: u8 = 1;
    /// Bad input, bad policy, unreadable file or any other error.
    pub const ERROR: u8 = 2;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).map(|()| exit::CLEAN),
        Command::Worker(args) => worker_cmd::run(args).map(|()| exit::CLEAN),
        Command::Screen(args) => screen_cmd::run(&args),
        Command::Rules { format } => rules::run(format == TableFormat::Json).map(|()| exit::CLEAN),
        Command::Eval { shared, write } => {
            eval::run(shared, write.as_deref()).map(|()| exit::CLEAN)
        }
        Command::Bench(args) => bench::run(&args).map(|()| exit::CLEAN),
        Command::Train(TrainCommand::Adr { shared, out }) => {
            train::adr(shared, &out).map(|()| exit::CLEAN)
        }
        Command::Train(TrainCommand::Names { shared, out }) => {
            train::names(shared, &out).map(|()| exit::CLEAN)
        }
        Command::User(args) => user_cmd::run(args),
        Command::Audit(args) => audit_cmd::run(args),
        Command::Backup(args) => backup_cmd::backup(args).map(|()| exit::CLEAN),
        Command::Restore(args) => backup_cmd::restore(args).map(|()| exit::CLEAN),
        Command::Keys(args) => keys_cmd::run(args).map(|()| exit::CLEAN),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                // The reader went away (`rounds screen … | head`): nothing left to tell anyone.
                return ExitCode::from(exit::CLEAN);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
