//! The audit log: one event per change, an append-only table, a chain that names the first tampered
//! event, serialized appends, and backups that restore with a verified chain.

#![allow(
    clippy::unwrap_used,
    reason = "helpers shared by the tests: a failure must stop the test loudly"
)]

use rounds_domain::{AuditAction, ChainBreak, Email, OrgKind, Role};
use rounds_store::testing::scratch_stores;
use rounds_store::{Actor, AuditFilter, Backend, NewOrg, NewUser, Store, StoreError, User};

async fn set_up(store: &Store) -> User {
    let org = NewOrg {
        name: "General Hospital".into(),
        kind: OrgKind::Hospital,
        is_demo: false,
    };
    let admin = NewUser {
        email: Email::parse("admin@example.org").unwrap(),
        display_name: "Admin".into(),
        role: Role::Admin,
        password_hash: "$argon2id$x".into(),
    };
    store
        .complete_setup(&org, &admin, Some("10.0.0.1"))
        .await
        .unwrap()
        .1
}

fn actions(page: &[rounds_domain::AuditRecord]) -> Vec<&str> {
    page.iter().rev().map(|r| r.action.as_str()).collect()
}

#[tokio::test]
async fn each_change_leaves_its_event_and_the_chain_verifies() {
    for (backend, _dir, store) in scratch_stores().await {
        let admin = set_up(&store).await;
        let actor = Actor::user(&admin, Some("10.0.0.1".into()));
        let new = NewUser {
            email: Email::parse("v@example.org").unwrap(),
            display_name: "V".into(),
            role: Role::Viewer,
            password_hash: "$argon2id$y".into(),
        };
        let user = store.create_user(admin.org_id, &new, &actor).await.unwrap();
        store
            .set_role(user.id, Role::Responder, &actor)
            .await
            .unwrap();
        store
            .set_password(user.id, "$argon2id$secret-hash", None, &actor)
            .await
            .unwrap();
        store
            .enable_totp(user.id, b"totp-secret", &["code-hash".into()], &actor)
            .await
            .unwrap();
        store
            .audit(
                &Actor::system(),
                AuditAction::LoginFailed,
                "user:9",
                serde_json::json!({ "reason": "wrong password" }),
            )
            .await
            .unwrap();

        let page = store
            .audit_page(&AuditFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            actions(&page),
            [
                "setup.completed",
                "user.created",
                "user.role_changed",
                "user.password_changed",
                "mfa.enrolled",
                "auth.login_failed"
            ]
        );
        let role = &page[3];
        assert_eq!(
            (
                role.target.as_str(),
                role.actor.as_str(),
                role.actor_id,
                role.org_id
            ),
            (
                format!("user:{}", user.id).as_str(),
                "admin@example.org",
                Some(admin.id),
                Some(admin.org_id)
            )
        );
        let detail: serde_json::Value = serde_json::from_str(&role.detail).unwrap();
        assert_eq!(
            (detail["old"].as_str(), detail["new"].as_str()),
            (Some("viewer"), Some("responder"))
        );
        for r in &page {
            assert!(
                !r.detail.contains("argon2")
                    && !r.detail.contains("totp-secret")
                    && !r.detail.contains("code-hash"),
                "{backend:?}: {}",
                r.detail
            );
        }
        assert_eq!(store.audit_verify().await.unwrap(), Ok(6), "{backend:?}");

        let mfa = store
            .audit_page(&AuditFilter {
                action_prefix: Some("mfa.".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(actions(&mfa), ["mfa.enrolled"]);
        let by_admin = store
            .audit_page(&AuditFilter {
                actor: Some("ADMIN@".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(by_admin.len(), 5);
        let older = store
            .audit_page(&AuditFilter {
                before_seq: Some(3),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(older.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 1]);
        let org_view = store
            .audit_page(&AuditFilter {
                org_id: Some(admin.org_id),
                limit: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(
            org_view.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [6, 5, 4],
            "installation-wide events show in every organization's view"
        );
        let other_org = store
            .audit_page(&AuditFilter {
                org_id: Some(admin.org_id + 1),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(other_org.iter().map(|r| r.seq).collect::<Vec<_>>(), [6]);
        let underscore = store
            .audit_page(&AuditFilter {
                action_prefix: Some("user_".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            underscore.is_empty(),
            "LIKE wildcards in the filter are literal"
        );
    }
}

#[tokio::test]
async fn audit_events_are_append_only() {
    for (backend, _dir, store) in scratch_stores().await {
        set_up(&store).await;
        let update = sqlx::query("UPDATE audit_events SET detail = '{}' WHERE seq = 1")
            .execute(store.pool())
            .await;
        let delete = sqlx::query("DELETE FROM audit_events WHERE seq = 1")
            .execute(store.pool())
            .await;
        for result in [update, delete] {
            let err = result
                .err()
                .unwrap_or_else(|| panic!("{backend:?}: audit_events accepted a change"));
            assert!(
                err.to_string().contains("audit_events is append-only"),
                "{backend:?}: {err}"
            );
        }
        assert_eq!(store.audit_verify().await.unwrap(), Ok(1));
    }
}

#[tokio::test]
async fn tampering_is_named_by_seq() {
    for (backend, _dir, store) in scratch_stores().await {
        let admin = set_up(&store).await;
        for i in 0..4 {
            store
                .audit(
                    &Actor::user(&admin, None),
                    AuditAction::Logout,
                    "session",
                    serde_json::json!({ "n": i }),
                )
                .await
                .unwrap();
        }
        assert_eq!(store.audit_verify().await.unwrap(), Ok(5));
        let disable = match backend {
            Backend::Sqlite => "DROP TRIGGER audit_events_no_update",
            Backend::Postgres => "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        };
        sqlx::query(disable).execute(store.pool()).await.unwrap();
        sqlx::query(r#"UPDATE audit_events SET detail = '{"n":99}' WHERE seq = 3"#)
            .execute(store.pool())
            .await
            .unwrap();
        let broken = store.audit_verify().await.unwrap();
        assert_eq!(broken, Err(ChainBreak::Altered { seq: 3 }), "{backend:?}");
        assert_eq!(broken.unwrap_err().seq(), 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_never_fork_the_chain() {
    for (backend, _dir, store) in scratch_stores().await {
        let admin = set_up(&store).await;
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store = store.clone();
                let actor = Actor::user(&admin, None);
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        store
                            .audit(
                                &actor,
                                AuditAction::AuditExported,
                                "audit",
                                serde_json::json!({ "n": i }),
                            )
                            .await
                            .map(|_| ())
                    } else {
                        store
                            .set_setting(actor.org_id.unwrap_or(1), &format!("k{i}"), "v", &actor)
                            .await
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(store.audit_verify().await.unwrap(), Ok(51), "{backend:?}");
        assert_eq!(store.settings(admin.org_id).await.unwrap().len(), 25);
    }
}

#[tokio::test]
async fn backup_and_restore_round_trip() {
    for (backend, dir, store) in scratch_stores().await {
        let admin = set_up(&store).await;
        store
            .audit(
                &Actor::user(&admin, None),
                AuditAction::Logout,
                "session",
                serde_json::json!({}),
            )
            .await
            .unwrap();
        let file = dir.path().join("backup.bin");
        if backend == Backend::Postgres && !pg_tools_present() {
            eprintln!("PostgreSQL backup test skipped: pg_dump is not installed");
            continue;
        }
        store.backup(&file, &Actor::cli()).await.unwrap();
        assert!(file.is_file());
        let again = store.backup(&file, &Actor::cli()).await;
        assert!(
            matches!(&again, Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists),
            "{again:?}"
        );
        let last = store
            .audit_page(&AuditFilter {
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .remove(0);
        assert_eq!(last.action, "backup.created");
        assert_eq!(store.audit_verify().await.unwrap(), Ok(3));

        let target = match backend {
            Backend::Sqlite => format!(
                "sqlite://{}",
                dir.path().join("restored/rounds.db").display()
            ),
            Backend::Postgres => rounds_store::testing::scratch_postgres_url().await.unwrap(),
        };
        // The backup was taken before its own event was appended.
        assert_eq!(
            Store::restore(&file, &target).await.unwrap(),
            2,
            "{backend:?}"
        );
        let restored = Store::open(&target, &dir.path().join("rounds.key"))
            .await
            .unwrap();
        assert_eq!(restored.user(admin.id).await.unwrap(), Some(admin.clone()));
        restored.close().await;
        let twice = Store::restore(&file, &target).await;
        assert!(
            twice.is_err(),
            "{backend:?}: restore must refuse a database that is not empty"
        );
    }
}

fn pg_tools_present() -> bool {
    ["pg_dump", "pg_restore"].iter().all(|tool| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn both_backends_have_the_same_migrations() {
    let names = |backend: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
}

/// Writes `n` valid events straight into the table (one transaction), to test verification across pages.
async fn insert_chain(store: &Store, n: i64) {
    let mut tx = store.pool().begin().await.unwrap();
    let mut prev = rounds_domain::GENESIS_HASH;
    for seq in 1..=n {
        let r = rounds_domain::AuditRecord {
            seq,
            at_ms: 1_700_000_000_000 + seq,
            org_id: None,
            actor_id: None,
            actor: "system".into(),
            action: AuditAction::DemoSeeded.as_str().into(),
            target: format!("n:{seq}"),
            detail: "{}".into(),
            ip: None,
            prev_hash: prev,
            hash: [0; 32],
        }
        .seal();
        prev = r.hash;
        sqlx::query(
            "INSERT INTO audit_events (seq, at_ms, org_id, actor_id, actor, action, target, detail, ip, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(r.seq)
        .bind(r.at_ms)
        .bind(r.org_id)
        .bind(r.actor_id)
        .bind(r.actor)
        .bind(r.action)
        .bind(r.target)
        .bind(r.detail)
        .bind(r.ip)
        .bind(r.prev_hash.to_vec())
        .bind(r.hash.to_vec())
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn verification_reads_the_chain_across_pages() {
    for (backend, _dir, store) in scratch_stores().await {
        insert_chain(&store, 2_100).await;
        // The API appends after a long chain too.
        store
            .audit(
                &Actor::cli(),
                AuditAction::AuditExported,
                "audit",
                serde_json::json!({}),
            )
            .await
            .unwrap();
        assert_eq!(
            store.audit_verify().await.unwrap(),
            Ok(2_101),
            "{backend:?}"
        );
        let disable = match backend {
            Backend::Sqlite => "DROP TRIGGER audit_events_no_update",
            Backend::Postgres => "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        };
        sqlx::query(disable).execute(store.pool()).await.unwrap();
        sqlx::query("UPDATE audit_events SET actor = 'someone' WHERE seq = 1500")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(
            store.audit_verify().await.unwrap(),
            Err(ChainBreak::Altered { seq: 1500 }),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn restore_refuses_a_tampered_backup() {
    let (dir, store) = rounds_store::testing::scratch_sqlite().await;
    set_up(&store).await;
    for _ in 0..2 {
        store
            .audit(
                &Actor::cli(),
                AuditAction::AuditExported,
                "audit",
                serde_json::json!({}),
            )
            .await
            .unwrap();
    }
    sqlx::query("DROP TRIGGER audit_events_no_delete")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_events WHERE seq = 2")
        .execute(store.pool())
        .await
        .unwrap();
    let file = dir.path().join("backup.db");
    store.backup(&file, &Actor::cli()).await.unwrap();
    let target = dir.path().join("restored.db");
    let result = Store::restore(&file, &format!("sqlite://{}", target.display())).await;
    assert!(
        matches!(
            result,
            Err(StoreError::AuditChain(ChainBreak::Gap {
                seq: 3,
                expected: 2
            }))
        ),
        "{result:?}"
    );
    assert!(
        !target.exists(),
        "a restore that does not verify leaves no database behind"
    );
}
