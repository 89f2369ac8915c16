//! Crash safety of scheduled publishing, with the real `rounds serve` binary and a real local Bluesky
//! network (`ROUNDS_TEST_BSKY_PDS`): the process is killed (SIGKILL) while it publishes, restarted, and
//! every post ends up on the network exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]
#![cfg(unix)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use connectors::Credentials;
use connectors::testing::{LocalAccount, local_pds};
use rounds_domain::{DecisionKind, Email, OrgKind, PostStatus, Role};
use rounds_store::{Actor, ChannelHealth, NewChannel, NewOrg, NewPost, NewUser, Store};
use serde_json::json;

const POSTS: usize = 10;

/// An organization with a connected Bluesky channel and `POSTS` approved posts due now; returns
/// the organization and the posts' ids and texts.
async fn seed(
    store: &Store,
    handle: &str,
    creds: &Credentials,
    nonce: &str,
) -> (i64, Vec<(i64, String)>) {
    let org = NewOrg {
        name: "General Hospital".into(),
        kind: OrgKind::Hospital,
        is_demo: false,
    };
    let admin = NewUser {
        email: Email::parse("admin@example.org").unwrap(),
        display_name: "Admin".into(),
        role: Role::Admin,
        password_hash: "x".into(),
    };
    let (org, admin) = store.complete_setup(&org, &admin, None).await.unwrap();
    let admin = Actor::user(&admin, None);
    let user = async |email: &str| {
        let new = NewUser {
            email: Email::parse(email).unwrap(),
            display_name: email.into(),
            role: Role::SocialManager,
            password_hash: "x".into(),
        };
        store.create_user(org.id, &new, &admin).await.unwrap()
    };
    let (author, manager) = (
        user("author@example.org").await,
        user("manager@example.org").await,
    );
    let channel = NewChannel {
        network: "bluesky".into(),
        handle: handle.into(),
        display_name: "Hospital".into(),
    };
    let channel = store
        .create_channel(org.id, &channel, &admin)
        .await
        .unwrap();
    let health = ChannelHealth {
        handle: handle.into(),
        display_name: handle.into(),
        token_expires_at: None,
    };
    store
        .connect_channel(
            org.id,
            channel.id,
            &serde_json::to_string(creds).unwrap(),
            &health,
            &admin,
        )
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut posts = Vec::new();
    for n in 1..=POSTS {
        let body = format!("Clinic update {n} of {POSTS} ({nonce}).");
        let new = NewPost {
            author_id: Some(author.id),
            body: body.clone(),
            channel_ids: vec![channel.id],
            status: PostStatus::Draft,
            scheduled_at: Some(now),
            paid: false,
            content_type: "general".into(),
            media_ids: vec![],
        };
        let as_author = Actor::user(&author, None);
        let post = store.create_post(org.id, &new, &as_author).await.unwrap();
        let post = store
            .submit_post(
                org.id,
                post.id,
                1,
                json!({ "decision": "allow" }),
                None,
                &as_author,
            )
            .await
            .unwrap();
        store
            .decide(
                org.id,
                post.id,
                1,
                DecisionKind::Approve,
                None,
                manager.id,
                &Actor::user(&manager, None),
            )
            .await
            .unwrap();
        assert_eq!(
            store.post(org.id, post.id).await.unwrap().status,
            PostStatus::Scheduled
        );
        posts.push((post.id, body));
    }
    (org.id, posts)
}

fn serve(dir: &Path, round: u32) -> Child {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.join(format!("serve-{round}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_rounds"))
        .args(["serve", "--config"])
        .arg(dir.join("rounds.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .env_remove("ROUNDS_DATABASE_URL")
        .env_remove("ROUNDS_KEY_FILE")
        .env_remove("ROUNDS_DATA_DIR")
        .env("ROUNDS_LOG", "info,sqlx=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_server_publishes_every_post_exactly_once_after_restart() {
    let Some(pds) = local_pds() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A short lease, so the job the killed process held comes back within seconds rather than minutes.
    std::fs::write(
        dir.path().join("rounds.toml"),
        "[publishing]\nlease_secs = 3\n",
    )
    .unwrap();
    let url = format!("sqlite://{}", data.join("rounds.db").display());
    let key = data.join("secret.key");

    let account = LocalAccount::create(&pds).await;
    let (handle, creds) = (account.handle.clone(), account.creds.clone());
    let nonce = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let store = Store::open(&url, &key).await.unwrap();
    let (org, posts) = seed(&store, &handle, &creds, &nonce).await;
    store.close().await;

    let mut first = serve(dir.path(), 1);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if !account.post_texts().await.is_empty() {
            break;
        }
        assert!(
            first.try_wait().unwrap().is_none(),
            "rounds serve exited early: {}",
            log(dir.path(), 1)
        );
        assert!(
            Instant::now() < deadline,
            "no post appeared within 60 s: {}",
            log(dir.path(), 1)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let before_restart = account.post_texts().await.len();
    assert!(
        before_restart < POSTS,
        "the kill came before every post was out ({before_restart} were)"
    );
    eprintln!("killed with {before_restart} of {POSTS} posts on the network");

    let mut second = serve(dir.path(), 2);
    let store = Store::open(&url, &key).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    for (id, _) in &posts {
        loop {
            let post = store.post(org, *id).await.unwrap();
            if post.status == PostStatus::Published {
                break;
            }
            assert_ne!(
                post.status,
                PostStatus::Failed,
                "{:?}: {}",
                post.status_note,
                log(dir.path(), 2)
            );
            assert!(
                second.try_wait().unwrap().is_none(),
                "rounds serve exited early: {}",
                log(dir.path(), 2)
            );
            assert!(
                Instant::now() < deadline,
                "post {id} not published within 90 s: {}",
                log(dir.path(), 2)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let mut on_network = account.post_texts().await;
    on_network.sort();
    let mut expected: Vec<String> = posts.iter().map(|(_, body)| body.clone()).collect();
    expected.sort();
    assert_eq!(
        on_network, expected,
        "exactly one record per post (killed with {before_restart} out)"
    );
    for (id, _) in &posts {
        assert_eq!(store.publications(org, *id).await.unwrap().len(), 1);
    }
    store.close().await;

    // SIGTERM stops the server cleanly.
    let status = Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = second.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "rounds serve did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(exit.success(), "{exit:?}: {}", log(dir.path(), 2));
}

fn log(dir: &Path, round: u32) -> String {
    std::fs::read_to_string(dir.join(format!("serve-{round}.log"))).unwrap_or_default()
}
