//! `rounds serve`: opens the store, optionally seeds the demo sandbox, and serves the web app and API,
//! publishing scheduled posts in the same process unless told not to.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use jobs::{Publisher, PublisherOptions};
use rounds_server::{App, Config};
use rounds_store::Store;

/// Options of `rounds serve`; each overrides the configuration file and `ROUNDS_*` variables.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// A TOML configuration file (keys in docs/configuration.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Folder for the embedded database and the key file [default: rounds-data, or rounds-demo-data with --demo].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://user:password@host/db` [default: sqlite://<data-dir>/rounds.db].
    #[arg(long)]
    database_url: Option<String>,
    /// Start with a sandbox organization full of sample content and print its sign-in details.
    #[arg(long)]
    demo: bool,
    /// Do not publish scheduled posts in this process (run `rounds worker` processes instead).
    #[arg(long)]
    no_publisher: bool,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROUNDS_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    } else if args.demo
        && config.database_url.is_none()
        && std::env::var_os("ROUNDS_DATA_DIR").is_none()
    {
        // Keep the sandbox out of a real installation's database unless asked to share it.
        config.data_dir = PathBuf::from("rounds-demo-data");
    }
    if let Some(url) = args.database_url {
        config.database_url = Some(url);
    }
    if args.no_publisher {
        config.publishing.worker = false;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, args.demo))
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let reach = connectors::Reach::allowing_private(config.publishing.allow_private_hosts);
    let publishing = config.publishing.worker.then(|| PublisherOptions {
        lease: std::time::Duration::from_secs(config.publishing.lease_secs.max(1)),
        ..PublisherOptions::default()
    });
    let url = config.database_url();
    let store = Store::open(&url, &config.key_file())
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    let logins = if demo {
        Some(
            rounds_demo::seed(&store)
                .await
                .context("cannot seed the demo sandbox")?,
        )
    } else {
        None
    };
    let set_up = store.is_set_up().await?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    let app = if demo && config.policy_file.is_none() {
        App::with_policy(store.clone(), config, rounds_demo::policy())?
    } else {
        App::new(store.clone(), config)?
    };
    println!(
        "Rounds is running at http://{addr}/  (database: {})",
        redact_password(&url)
    );
    match logins {
        Some(logins) => println!("\n{logins}"),
        None if !set_up => println!(
            "First start: open http://{addr}/setup to create your organization and its administrator."
        ),
        None => {}
    }
    // One signal stops both the web app and the publisher.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop = std::sync::Arc::new(stop);
    let publisher = publishing.map(|options| {
        let publisher = Publisher::new(
            store.clone(),
            connectors::http_client(reach),
            jobs::worker_id(),
            options,
        );
        println!(
            "Publishing scheduled posts as worker {}.",
            publisher.worker_id()
        );
        tokio::spawn(publisher.run(stopped_signal(stopped.clone())))
    });
    println!("Press Ctrl-C to stop.");
    let on_signal = std::sync::Arc::clone(&stop);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = on_signal.send(true);
    });
    let served = app.serve(listener, stopped_signal(stopped)).await;
    // Also when the web app stopped on an error: the publisher must not outlive it.
    let _ = stop.send(true);
    if let Some(publisher) = publisher {
        // The publisher finishes the job in hand: a post half-sent is worse than a slower exit.
        if let Err(e) = publisher.await {
            tracing::error!(error = %e, "the publisher stopped abnormally");
        }
    }
    store.close().await;
    served?;
    Ok(())
}

/// Completes once `stopped` turns true (or its sender is gone).
async fn stopped_signal(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|&stop| stop).await;
}

/// Completes on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests and the publishing job in flight");
}

/// A database URL fit for the console: the password replaced by `***`.
fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_password;

    #[test]
    fn passwords_never_reach_the_console() {
        assert_eq!(
            redact_password("postgres://rounds:s3cret@db/rounds"),
            "postgres://rounds:***@db/rounds"
        );
        assert_eq!(
            redact_password("sqlite://rounds-data/rounds.db"),
            "sqlite://rounds-data/rounds.db"
        );
    }
}
