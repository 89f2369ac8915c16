//! Scratch stores for tests, here and in other crates: a real SQLite file, and a fresh PostgreSQL database.

use crate::{Backend, Store};

/// The variable naming an admin URL of a PostgreSQL server tests may create databases on.
pub const POSTGRES_URL_VAR: &str = "ROUNDS_TEST_POSTGRES_URL";

/// A store on a new SQLite file in a temporary folder (the key file lies there too).
///
/// # Panics
/// When the temporary folder or the database cannot be created (tests only).
#[allow(
    clippy::expect_used,
    reason = "test support: a scratch store that cannot be made must stop the test loudly"
)]
pub async fn scratch_sqlite() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("create a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("rounds.db").display());
    let store = Store::open(&url, &dir.path().join("rounds.key"))
        .await
        .expect("open a scratch SQLite store");
    (dir, store)
}

/// A store on a freshly created database `rounds_test_<random hex>` on the server named by
/// `ROUNDS_TEST_POSTGRES_URL`; `None` when that is not set (outside CI).
///
/// # Panics
/// When `CI` is set and the variable is not (CI must run both backends), or the database cannot be created.
#[allow(
    clippy::expect_used,
    reason = "test support: a scratch store that cannot be made must stop the test loudly"
)]
pub async fn scratch_postgres() -> Option<(tempfile::TempDir, Store)> {
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "{POSTGRES_URL_VAR} must be set in CI so that the PostgreSQL tests run"
        );
        eprintln!("PostgreSQL tests skipped: {POSTGRES_URL_VAR} is not set");
        return None;
    };
    let name = format!(
        "rounds_test_{}",
        hex::encode(rounds_domain::secret::random_bytes::<8>().expect("random name"))
    );
    create_database(&admin_url, &name)
        .await
        .expect("create a scratch PostgreSQL database");
    let dir = tempfile::tempdir().expect("create a temporary folder");
    let store = Store::open(
        &with_database(&admin_url, &name),
        &dir.path().join("rounds.key"),
    )
    .await
    .expect("open a scratch PostgreSQL store");
    Some((dir, store))
}

/// A new, empty database on the server named by `ROUNDS_TEST_POSTGRES_URL`, as a URL; `None` when unset.
///
/// # Panics
/// When the database cannot be created.
#[allow(
    clippy::expect_used,
    reason = "test support: a scratch store that cannot be made must stop the test loudly"
)]
pub async fn scratch_postgres_url() -> Option<String> {
    let admin_url = std::env::var(POSTGRES_URL_VAR).ok()?;
    let name = format!(
        "rounds_test_{}",
        hex::encode(rounds_domain::secret::random_bytes::<8>().expect("random name"))
    );
    create_database(&admin_url, &name)
        .await
        .expect("create a scratch PostgreSQL database");
    Some(with_database(&admin_url, &name))
}

/// Every backend available here: SQLite always, PostgreSQL when configured.
pub async fn scratch_stores() -> Vec<(Backend, tempfile::TempDir, Store)> {
    let mut stores = Vec::new();
    let (dir, store) = scratch_sqlite().await;
    stores.push((Backend::Sqlite, dir, store));
    if let Some((dir, store)) = scratch_postgres().await {
        stores.push((Backend::Postgres, dir, store));
    }
    stores
}

async fn create_database(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await?;
    // `name` is generated above from hex digits only, so it is safe to splice in.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// `url` with its database (the path) replaced by `name`, keeping any query string.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
