//! The `rounds` command.

use clap::{Parser, Subcommand};

/// Rounds: safe social media for healthcare organizations.
#[derive(Parser)]
#[command(name = "rounds", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every screening rule with its category, default severity and actions.
    Rules,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Rules => {
            for r in screen::rules::all() {
                println!("{}\t{}\t{}", r.id, r.severity, r.summary);
            }
        }
    }
    Ok(())
}
