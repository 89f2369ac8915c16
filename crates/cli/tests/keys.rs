//! `rounds keys rotate`, end to end: the real binary on a real SQLite file and, when
//! `ROUNDS_TEST_POSTGRES_URL` is set, a freshly created PostgreSQL database.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a scratch folder, process or database that cannot be made should fail the test loudly"
)]

use std::path::PathBuf;
use std::process::{Command, Output};

use rounds_domain::{Email, OrgKind, Role};
use rounds_store::{Actor, ChannelHealth, NewChannel, NewOrg, NewUser, Store};

const TOTP: &[u8] = b"totp-secret-bytes-1234567890";
const CREDENTIALS: &str = r#"{"app_password":"abcd-efgh-ijkl-mnop"}"#;

struct Install {
    dir: tempfile::TempDir,
    /// `None`: the defaults (`sqlite://rounds-data/rounds.db` in the working folder).
    url: Option<String>,
    rt: tokio::runtime::Runtime,
}

impl Install {
    fn database_url(&self) -> String {
        self.url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.dir.path().join("rounds-data/rounds.db").display()
            )
        })
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join("rounds-data/secret.key")
    }

    fn rounds(&self, args: &[&str], url: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rounds"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("ROUNDS_DATABASE_URL")
            .env_remove("ROUNDS_KEY_FILE")
            .env_remove("ROUNDS_DATA_DIR");
        if let Some(url) = url.or(self.url.as_deref()) {
            cmd.env("ROUNDS_DATABASE_URL", url);
        }
        cmd.output().unwrap()
    }

    fn with_store<T>(&self, work: impl AsyncFnOnce(&Store) -> T) -> T {
        self.rt.block_on(async {
            let store = Store::open(&self.database_url(), &self.key_file())
                .await
                .unwrap();
            let result = work(&store).await;
            store.close().await;
            result
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn keys_rotate_on_sqlite() {
    let install = Install {
        dir: tempfile::tempdir().unwrap(),
        url: None,
        rt: runtime(),
    };
    let out = install.rounds(&["keys", "rotate"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no key file at"), "{}", text(&out));
    rotate_flow(&install);
}

#[test]
fn keys_rotate_on_postgres() {
    let rt = runtime();
    let Some(url) = rt.block_on(rounds_store::testing::scratch_postgres_url()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "ROUNDS_TEST_POSTGRES_URL must be set in CI so that PostgreSQL is tested"
        );
        eprintln!("skipped: ROUNDS_TEST_POSTGRES_URL is not set");
        return;
    };
    rotate_flow(&Install {
        dir: tempfile::tempdir().unwrap(),
        url: Some(url),
        rt,
    });
}

fn rotate_flow(install: &Install) {
    let (user_id, org_id, channel_id) = install.with_store(async |store| {
        let org = NewOrg {
            name: "Mercy".into(),
            kind: OrgKind::Hospital,
            is_demo: false,
        };
        let admin = NewUser {
            email: Email::parse("admin@mercy.test").unwrap(),
            display_name: "A".into(),
            role: Role::Admin,
            password_hash: "x".into(),
        };
        let (org, admin) = store.complete_setup(&org, &admin, None).await.unwrap();
        let actor = Actor::user(&admin, None);
        store
            .enable_totp(admin.id, TOTP, &[], &actor)
            .await
            .unwrap();
        let new = NewChannel {
            network: "bluesky".into(),
            handle: "mercy.test".into(),
            display_name: "Mercy".into(),
        };
        let channel = store.create_channel(org.id, &new, &actor).await.unwrap();
        let health = ChannelHealth {
            handle: "mercy.test".into(),
            display_name: "Mercy".into(),
            token_expires_at: None,
        };
        store
            .connect_channel(org.id, channel.id, CREDENTIALS, &health, &actor)
            .await
            .unwrap();
        (admin.id, org.id, channel.id)
    });
    let old_key = std::fs::read(install.key_file()).unwrap();

    // An unreachable database is refused before any key file is touched.
    let out = install.rounds(
        &["keys", "rotate"],
        Some("postgres://rounds@127.0.0.1:1/rounds"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("cannot open the database"),
        "{}",
        text(&out)
    );
    assert_eq!(std::fs::read(install.key_file()).unwrap(), old_key);
    assert!(
        !install
            .dir
            .path()
            .join("rounds-data/secret.key.new")
            .exists()
    );

    let out = install.rounds(&["keys", "rotate"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let printed = text(&out);
    assert!(
        printed.contains("re-sealed 1 TOTP secret(s) and 1 channel credential(s)"),
        "{printed}"
    );
    assert!(
        printed.contains("the previous key is kept as") && printed.contains("secret.key.old-"),
        "{printed}"
    );
    assert!(!printed.contains("abcd-efgh"), "{printed}");
    assert_ne!(std::fs::read(install.key_file()).unwrap(), old_key);

    install.with_store(async |store| {
        assert_eq!(
            store.totp_secret(user_id).await.unwrap().as_deref(),
            Some(TOTP)
        );
        assert_eq!(
            store
                .channel_credentials(org_id, channel_id)
                .await
                .unwrap()
                .as_deref(),
            Some(CREDENTIALS)
        );
        let events = store
            .audit_page(&rounds_store::AuditFilter {
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            (events[0].action.as_str(), events[0].actor.as_str()),
            ("key.rotated", "cli")
        );
    });
}
