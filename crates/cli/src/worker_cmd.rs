//! `rounds worker`: publishes scheduled posts and nothing else, against the database `rounds serve`
//! uses. Several workers (and servers) can share one PostgreSQL database: each job is taken by one.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use jobs::{Publisher, PublisherOptions};

use crate::db::{DbArgs, IfMissing};

/// Options of `rounds worker`.
#[derive(Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Seconds between looks at an empty queue.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    poll_secs: u64,
    /// Seconds a job is this worker's before another may take it over; keep it the same for every worker.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    lease_secs: u64,
}

/// Publishes due posts until Ctrl-C or SIGTERM; the job in hand is finished first.
pub(crate) fn run(args: WorkerArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROUNDS_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = args.db.open(IfMissing::Refuse).await?;
        let reach =
            connectors::Reach::allowing_private(args.db.config()?.publishing.allow_private_hosts);
        let options = PublisherOptions {
            poll_interval: Duration::from_secs(args.poll_secs),
            lease: Duration::from_secs(args.lease_secs),
            ..PublisherOptions::default()
        };
        let publisher = Publisher::new(
            store.clone(),
            connectors::http_client(reach),
            jobs::worker_id(),
            options,
        );
        println!(
            "Publishing scheduled posts as worker {}. Press Ctrl-C to stop.",
            publisher.worker_id()
        );
        publisher.run(crate::serve::shutdown_signal()).await;
        store.close().await;
        Ok(())
    })
}
