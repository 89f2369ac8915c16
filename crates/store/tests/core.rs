//! Set-up, users, sessions, second factor, throttling, invitations and API tokens, on every backend.

#![allow(
    clippy::unwrap_used,
    reason = "helpers shared by the tests: a failure must stop the test loudly"
)]

use rounds_domain::{AuditAction, Email, OrgKind, Role};
use rounds_store::testing::scratch_stores;
use rounds_store::{Actor, NewInvitation, NewOrg, NewSession, NewUser, Store, StoreError, User};
use sqlx::Row;

fn new_org(name: &str) -> NewOrg {
    NewOrg {
        name: name.into(),
        kind: OrgKind::Hospital,
        is_demo: false,
    }
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: Email::parse(email).unwrap(),
        display_name: "Dana Admin".into(),
        role,
        password_hash: "$argon2id$fake".into(),
    }
}

async fn set_up(store: &Store) -> User {
    store
        .complete_setup(
            &new_org("General Hospital"),
            &new_user("admin@example.org", Role::Admin),
            Some("10.0.0.1"),
        )
        .await
        .unwrap()
        .1
}

fn session(id: &str, user_id: i64, now: i64) -> NewSession {
    NewSession {
        id_hash: id.into(),
        user_id,
        csrf_token: format!("csrf-{id}"),
        mfa_passed: false,
        now_ms: now,
        ip: Some("10.0.0.2".into()),
        user_agent: Some("test".into()),
    }
}

async fn last_action(store: &Store) -> String {
    let page = store
        .audit_page(&rounds_store::AuditFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    page[0].action.clone()
}

#[tokio::test]
async fn setup_runs_once() {
    for (backend, _dir, store) in scratch_stores().await {
        assert!(!store.is_set_up().await.unwrap(), "{backend:?}");
        let (org, admin) = store
            .complete_setup(
                &new_org("General Hospital"),
                &new_user("Admin@Example.org", Role::Admin),
                Some("10.0.0.1"),
            )
            .await
            .unwrap();
        assert_eq!(admin.email, "admin@example.org");
        assert_eq!(admin.org_id, org.id);
        assert!(store.is_set_up().await.unwrap());
        let again = store
            .complete_setup(
                &new_org("Other"),
                &new_user("other@example.org", Role::Admin),
                None,
            )
            .await;
        assert!(
            matches!(again, Err(StoreError::Conflict(_))),
            "{backend:?}: {again:?}"
        );
        assert_eq!(store.orgs().await.unwrap().len(), 1);
        assert_eq!(
            last_action(&store).await,
            AuditAction::SetupCompleted.as_str()
        );
        let demo = store
            .create_org(
                &NewOrg {
                    name: "Demo".into(),
                    kind: OrgKind::Pharma,
                    is_demo: true,
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        assert!(demo.is_demo);
        assert_eq!(store.org(demo.id).await.unwrap(), demo);
        let renamed = store
            .update_org(
                org.id,
                "General Hospital East",
                OrgKind::HealthSystem,
                &Actor::user(&admin, None),
            )
            .await
            .unwrap();
        assert_eq!(store.org(org.id).await.unwrap(), renamed);
        assert!(matches!(
            store.org(9999).await,
            Err(StoreError::NotFound(_))
        ));
        store
            .set_setting(
                org.id,
                "session_idle_minutes",
                "30",
                &Actor::user(&admin, None),
            )
            .await
            .unwrap();
        store
            .set_setting(
                org.id,
                "session_idle_minutes",
                "15",
                &Actor::user(&admin, None),
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .settings(org.id)
                .await
                .unwrap()
                .get("session_idle_minutes")
                .map(String::as_str),
            Some("15")
        );
        let last = store
            .audit_page(&rounds_store::AuditFilter {
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap()
            .remove(0);
        let detail: serde_json::Value = serde_json::from_str(&last.detail).unwrap();
        assert_eq!(
            detail,
            serde_json::json!({ "key": "session_idle_minutes", "old": "30", "new": "15" })
        );
        assert_eq!(store.audit_verify().await.unwrap(), Ok(5));
    }
}

#[tokio::test]
async fn users_crud_and_duplicate_email() {
    for (backend, _dir, store) in scratch_stores().await {
        let admin = set_up(&store).await;
        let actor = Actor::user(&admin, Some("10.0.0.1".into()));
        let viewer = store
            .create_user(
                admin.org_id,
                &new_user("viewer@example.org", Role::Viewer),
                &actor,
            )
            .await
            .unwrap();
        assert_eq!(store.user(viewer.id).await.unwrap(), Some(viewer.clone()));
        assert_eq!(
            store
                .user_by_email(&Email::parse("VIEWER@example.org").unwrap())
                .await
                .unwrap(),
            Some(viewer.clone())
        );
        assert_eq!(
            store
                .users(admin.org_id)
                .await
                .unwrap()
                .iter()
                .map(|u| u.email.as_str())
                .collect::<Vec<_>>(),
            ["admin@example.org", "viewer@example.org"]
        );
        let dup = store
            .create_user(
                admin.org_id,
                &new_user("viewer@example.org", Role::Admin),
                &actor,
            )
            .await;
        assert!(
            matches!(
                dup,
                Err(StoreError::Conflict(
                    "a user with this email already exists"
                ))
            ),
            "{backend:?}: {dup:?}"
        );
        let missing_org = store
            .create_user(9999, &new_user("x@example.org", Role::Viewer), &actor)
            .await;
        assert!(
            matches!(missing_org, Err(StoreError::NotFound(_))),
            "{backend:?}: {missing_org:?}"
        );

        let promoted = store
            .set_role(viewer.id, Role::SocialManager, &actor)
            .await
            .unwrap();
        assert_eq!(promoted.role, Role::SocialManager);
        assert_eq!(
            store.user(viewer.id).await.unwrap().unwrap().role,
            Role::SocialManager
        );
        assert_eq!(last_action(&store).await, "user.role_changed");

        store
            .create_session(&session("s1", viewer.id, 1_000))
            .await
            .unwrap();
        let disabled = store.set_disabled(viewer.id, true, &actor).await.unwrap();
        assert!(disabled.disabled);
        assert!(
            store.sessions_of(viewer.id).await.unwrap().is_empty(),
            "disabling signs out everywhere"
        );
        assert_eq!(last_action(&store).await, "user.disabled");
        assert!(
            !store
                .set_disabled(viewer.id, false, &actor)
                .await
                .unwrap()
                .disabled
        );
        assert_eq!(last_action(&store).await, "user.enabled");

        store
            .create_session(&session("keep", viewer.id, 1_000))
            .await
            .unwrap();
        store
            .create_session(&session("other", viewer.id, 2_000))
            .await
            .unwrap();
        store
            .set_password(viewer.id, "$argon2id$new", Some("keep"), &actor)
            .await
            .unwrap();
        let left: Vec<_> = store
            .sessions_of(viewer.id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id_hash)
            .collect();
        assert_eq!(left, ["keep"]);
        assert_eq!(
            store.user(viewer.id).await.unwrap().unwrap().password_hash,
            "$argon2id$new"
        );
        assert!(matches!(
            store.set_role(9999, Role::Admin, &actor).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(store.user(9999).await.unwrap(), None);
    }
}

#[tokio::test]
async fn sessions_lifecycle() {
    for (backend, _dir, store) in scratch_stores().await {
        let admin = set_up(&store).await;
        store
            .create_session(&session("a", admin.id, 1_000))
            .await
            .unwrap();
        let (s, u) = store.session("a").await.unwrap().unwrap();
        assert_eq!(
            (s.user_id, s.created_at, s.last_seen_at, s.mfa_passed),
            (admin.id, 1_000, 1_000, false)
        );
        assert_eq!(s.csrf_token, "csrf-a");
        assert_eq!(u.id, admin.id);
        assert_eq!(u.last_login_at, Some(1_000), "{backend:?}");
        let dup = store.create_session(&session("a", admin.id, 1_000)).await;
        assert!(
            matches!(dup, Err(StoreError::Conflict(_))),
            "{backend:?}: {dup:?}"
        );

        store.touch_session("a", 5_000).await.unwrap();
        store.touch_session("a", 4_000).await.unwrap();
        store.mark_session_mfa("a").await.unwrap();
        let (s, _) = store.session("a").await.unwrap().unwrap();
        assert_eq!((s.last_seen_at, s.mfa_passed), (5_000, true));
        assert!(matches!(
            store.mark_session_mfa("nope").await,
            Err(StoreError::NotFound(_))
        ));

        store
            .create_session(&session("b", admin.id, 2_000))
            .await
            .unwrap();
        store
            .create_session(&session("c", admin.id, 3_000))
            .await
            .unwrap();
        let order: Vec<_> = store
            .sessions_of(admin.id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id_hash)
            .collect();
        assert_eq!(order, ["c", "b", "a"]);
        store.delete_session("b").await.unwrap();
        assert!(store.session("b").await.unwrap().is_none());
        let ended = store
            .revoke_sessions(admin.id, Some("c"), &Actor::user(&admin, None))
            .await
            .unwrap();
        assert_eq!(ended, 1);
        assert_eq!(last_action(&store).await, "auth.sessions_revoked");
        assert_eq!(
            store
                .revoke_sessions(admin.id, None, &Actor::user(&admin, None))
                .await
                .unwrap(),
            1
        );
        assert!(store.sessions_of(admin.id).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn totp_is_sealed_and_steps_claimed_once() {
    for (backend, dir, store) in scratch_stores().await {
        let admin = set_up(&store).await;
        let actor = Actor::user(&admin, None);
        assert_eq!(store.totp_secret(admin.id).await.unwrap(), None);
        let secret = b"JBSWY3DPEHPK3PXP-totp-secret-bytes".to_vec();
        store
            .enable_totp(admin.id, &secret, &["h1".into(), "h2".into()], &actor)
            .await
            .unwrap();
        assert_eq!(
            store.totp_secret(admin.id).await.unwrap(),
            Some(secret.clone())
        );
        assert!(store.user(admin.id).await.unwrap().unwrap().mfa_enabled);
        assert_eq!(last_action(&store).await, "mfa.enrolled");

        let raw: Vec<u8> = sqlx::query("SELECT totp_secret FROM users WHERE id = $1")
            .bind(admin.id)
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_slice()),
            "{backend:?}: secret stored in the clear"
        );
        assert!(raw.len() >= secret.len() + 24 + 16);

        // The same database opened with another key file must refuse to unseal.
        let other_key = dir.path().join("other.key");
        std::fs::write(&other_key, [7u8; 32]).unwrap();
        let url = store_url(&store, &dir).await;
        let wrong = Store::open(&url, &other_key).await.unwrap();
        assert!(
            matches!(
                wrong.totp_secret(admin.id).await,
                Err(StoreError::Secret(_))
            ),
            "{backend:?}"
        );
        wrong.close().await;

        assert!(store.claim_totp_step(admin.id, 100).await.unwrap());
        assert!(
            !store.claim_totp_step(admin.id, 100).await.unwrap(),
            "a step works once"
        );
        assert!(
            !store.claim_totp_step(admin.id, 99).await.unwrap(),
            "never an earlier step"
        );
        assert!(store.claim_totp_step(admin.id, 101).await.unwrap());

        assert_eq!(store.recovery_codes_left(admin.id).await.unwrap(), 2);
        assert!(
            store
                .use_recovery_code(admin.id, "h1", &actor)
                .await
                .unwrap()
        );
        assert_eq!(last_action(&store).await, "mfa.recovery_code_used");
        assert!(
            !store
                .use_recovery_code(admin.id, "h1", &actor)
                .await
                .unwrap(),
            "a recovery code works once"
        );
        assert!(
            !store
                .use_recovery_code(admin.id, "unknown", &actor)
                .await
                .unwrap()
        );
        assert_eq!(store.recovery_codes_left(admin.id).await.unwrap(), 1);

        store
            .create_session(&session("s", admin.id, 1))
            .await
            .unwrap();
        store.reset_mfa(admin.id, &actor).await.unwrap();
        assert_eq!(store.totp_secret(admin.id).await.unwrap(), None);
        assert_eq!(store.recovery_codes_left(admin.id).await.unwrap(), 0);
        assert!(store.sessions_of(admin.id).await.unwrap().is_empty());
        assert_eq!(last_action(&store).await, "mfa.reset");
    }
}

/// The URL a scratch store was opened on (the SQLite file in its folder, or the PostgreSQL database).
async fn store_url(store: &Store, dir: &tempfile::TempDir) -> String {
    match store.backend() {
        rounds_store::Backend::Sqlite => {
            format!("sqlite://{}", dir.path().join("rounds.db").display())
        }
        rounds_store::Backend::Postgres => {
            let name: String = sqlx::query("SELECT current_database()::text")
                .fetch_one(store.pool())
                .await
                .unwrap()
                .try_get(0)
                .unwrap();
            let admin = std::env::var("ROUNDS_TEST_POSTGRES_URL").unwrap();
            let base = &admin[..admin.rfind('/').unwrap()];
            format!("{base}/{name}")
        }
    }
}

#[tokio::test]
async fn key_file_is_created_private_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("keys/rounds.key");
    let url = format!("sqlite://{}", dir.path().join("data/rounds.db").display());
    let store = Store::open(&url, &key).await.unwrap();
    store.close().await;
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let short = dir.path().join("short.key");
    std::fs::write(&short, [1u8; 16]).unwrap();
    let err = Store::open(&url, &short).await.err().unwrap();
    assert!(
        matches!(err, StoreError::Secret(_)) && err.to_string().contains("exactly 32"),
        "{err}"
    );
    let bad = Store::open("mysql://localhost/rounds", &key)
        .await
        .err()
        .unwrap();
    assert!(matches!(bad, StoreError::Open(_)), "{bad}");
}

#[tokio::test]
async fn login_failures_window() {
    for (_backend, _dir, store) in scratch_stores().await {
        for at in [1_000, 2_000, 3_000] {
            store
                .record_login_failure("a@example.org", at)
                .await
                .unwrap();
        }
        store
            .record_login_failure("b@example.org", 3_000)
            .await
            .unwrap();
        assert_eq!(
            store
                .login_failures_since("a@example.org", 0)
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            store
                .login_failures_since("a@example.org", 2_000)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .login_failures_since("a@example.org", 3_001)
                .await
                .unwrap(),
            0
        );
        store.clear_login_failures("a@example.org").await.unwrap();
        assert_eq!(
            store
                .login_failures_since("a@example.org", 0)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .login_failures_since("b@example.org", 0)
                .await
                .unwrap(),
            1
        );
    }
}

#[tokio::test]
async fn invitations_accept_once() {
    for (backend, _dir, store) in scratch_stores().await {
        let admin = set_up(&store).await;
        let actor = Actor::user(&admin, None);
        let far = i64::MAX / 2;
        let inv = NewInvitation {
            org_id: admin.org_id,
            email: Email::parse("new@example.org").unwrap(),
            role: Role::Responder,
            token_hash: "tok-hash".into(),
            expires_at: far,
        };
        let created = store.create_invitation(&inv, &actor).await.unwrap();
        assert_eq!(
            (created.email.as_str(), created.role, created.invited_by),
            ("new@example.org", Role::Responder, Some(admin.id))
        );
        assert_eq!(last_action(&store).await, "user.invited");
        let taken = NewInvitation {
            email: Email::parse("admin@example.org").unwrap(),
            token_hash: "other".into(),
            ..inv.clone()
        };
        assert!(matches!(
            store.create_invitation(&taken, &actor).await,
            Err(StoreError::Conflict(_))
        ));
        let same_token = NewInvitation {
            email: Email::parse("x@example.org").unwrap(),
            ..inv.clone()
        };
        assert!(
            matches!(
                store.create_invitation(&same_token, &actor).await,
                Err(StoreError::Conflict(_))
            ),
            "{backend:?}"
        );

        assert_eq!(
            store.invitation_by_token("tok-hash", 0).await.unwrap(),
            Some(created.clone())
        );
        assert_eq!(
            store.invitation_by_token("tok-hash", far).await.unwrap(),
            None,
            "expired"
        );
        assert_eq!(
            store.invitations(admin.org_id).await.unwrap(),
            std::slice::from_ref(&created)
        );

        let user = store
            .accept_invitation(created.id, "New Person", "$argon2id$x", Some("10.0.0.9"))
            .await
            .unwrap();
        assert_eq!(
            (user.email.as_str(), user.role, user.org_id),
            ("new@example.org", Role::Responder, admin.org_id)
        );
        assert_eq!(last_action(&store).await, "user.invitation_accepted");
        let again = store
            .accept_invitation(created.id, "New Person", "$argon2id$x", None)
            .await;
        assert!(
            matches!(again, Err(StoreError::Conflict(_))),
            "{backend:?}: {again:?}"
        );
        assert_eq!(
            store.invitation_by_token("tok-hash", 0).await.unwrap(),
            None
        );
        assert!(store.invitations(admin.org_id).await.unwrap().is_empty());
        assert!(matches!(
            store.accept_invitation(9999, "x", "y", None).await,
            Err(StoreError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn api_tokens() {
    for (backend, _dir, store) in scratch_stores().await {
        let admin = set_up(&store).await;
        let actor = Actor::user(&admin, None);
        let t1 = store
            .create_api_token(admin.id, "ci", "hash-1", "rnd_ab", &actor)
            .await
            .unwrap();
        let t2 = store
            .create_api_token(admin.id, "laptop", "hash-2", "rnd_cd", &actor)
            .await
            .unwrap();
        assert_eq!(last_action(&store).await, "api_token.created");
        let dup = store
            .create_api_token(admin.id, "dup", "hash-1", "rnd_ab", &actor)
            .await;
        assert!(
            matches!(dup, Err(StoreError::Conflict(_))),
            "{backend:?}: {dup:?}"
        );
        assert_eq!(
            store
                .api_tokens(admin.id)
                .await
                .unwrap()
                .iter()
                .map(|t| t.id)
                .collect::<Vec<_>>(),
            [t2.id, t1.id]
        );

        let (token, user) = store
            .authenticate_api_token("hash-1", 42)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (token.id, token.last_used_at, user.id),
            (t1.id, Some(42), admin.id)
        );
        assert_eq!(
            store.api_tokens(admin.id).await.unwrap()[1].last_used_at,
            Some(42)
        );
        assert!(
            store
                .authenticate_api_token("nope", 42)
                .await
                .unwrap()
                .is_none()
        );

        store
            .revoke_api_token(admin.id, t1.id, &actor)
            .await
            .unwrap();
        assert_eq!(last_action(&store).await, "api_token.revoked");
        assert!(
            store
                .authenticate_api_token("hash-1", 43)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store.api_tokens(admin.id).await.unwrap()[1]
                .revoked_at
                .is_some()
        );
        assert!(matches!(
            store.revoke_api_token(admin.id + 1, t2.id, &actor).await,
            Err(StoreError::NotFound(_))
        ));

        store
            .set_disabled(admin.id, true, &Actor::cli())
            .await
            .unwrap();
        assert!(
            store
                .authenticate_api_token("hash-2", 44)
                .await
                .unwrap()
                .is_none(),
            "a disabled user's tokens are refused"
        );
    }
}
