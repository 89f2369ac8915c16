//! SQLite URLs with relative paths and characters that mean something in a URL.

#![allow(clippy::unwrap_used, reason = "a failure must stop the test loudly")]

use rounds_store::Store;

// The only test in this binary: it changes the working folder of the whole process.
#[tokio::test]
async fn relative_and_unusual_sqlite_paths_open() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_current_dir(dir.path()).unwrap();
    let key = std::path::Path::new("keys/rounds.key");
    for (url, file) in [
        ("sqlite://rounds-data/rounds.db", "rounds-data/rounds.db"),
        ("sqlite:plain.db", "plain.db"),
        ("sqlite://Rounds Data/100% #1?.db", "Rounds Data/100% #1"),
    ] {
        let store = Store::open(url, key)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(!store.is_set_up().await.unwrap());
        store.close().await;
        assert!(
            dir.path().join(file).is_file(),
            "{url} should create {file}"
        );
    }
}
