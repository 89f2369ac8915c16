//! `rounds serve`: opens the store, optionally seeds the demo sandbox, and serves the web app and API.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
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
}

/// Runs the server until Ctrl-C or SIGTERM.
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("ROUNDS_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()))
        .init();
    let mut config = Config::load(args.config.as_deref())?;
    if let Some(bind) = args.bind {
        config.bind = bind;
    }
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    } else if args.demo && config.database_url.is_none() && std::env::var_os("ROUNDS_DATA_DIR").is_none() {
        // Keep the sandbox out of a real installation's database unless asked to share it.
        config.data_dir = PathBuf::from("rounds-demo-data");
    }
    if let Some(url) = args.database_url {
        config.database_url = Some(url);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(serve(config, args.demo))
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let url = config.database_url();
    let store = Store::open(&url, &config.key_file()).await.with_context(|| format!("cannot open the database {url}"))?;
    let logins = if demo { Some(rounds_demo::seed(&store).await.context("cannot seed the demo sandbox")?) } else { None };
    let set_up = store.is_set_up().await?;
    let listener = tokio::net::TcpListener::bind(config.bind).await.with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    let app = if demo && config.policy_file.is_none() { App::with_policy(store.clone(), config, rounds_demo::policy())? } else { App::new(store.clone(), config)? };
    println!("Rounds is running at http://{addr}/  (database: {})", redact_password(&url));
    match logins {
        Some(logins) => println!("\n{logins}"),
        None if !set_up => println!("First start: open http://{addr}/setup to create your organization and its administrator."),
        None => {}
    }
    println!("Press Ctrl-C to stop.");
    app.serve(listener, shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
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
    tracing::info!("shutting down: finishing requests in flight");
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
        assert_eq!(redact_password("postgres://rounds:s3cret@db/rounds"), "postgres://rounds:***@db/rounds");
        assert_eq!(redact_password("sqlite://rounds-data/rounds.db"), "sqlite://rounds-data/rounds.db");
    }
}
