//! Channel credentials and health, media, and key rotation (with interrupted rotations), on every backend.

#![allow(
    clippy::unwrap_used,
    reason = "helpers shared by the tests: a failure must stop the test loudly"
)]

use rounds_domain::{Email, OrgKind, Role};
use rounds_store::testing::scratch_stores;
use rounds_store::{
    Actor, AuditFilter, Channel, ChannelHealth, ChannelStatus, MAX_MEDIA_BYTES, NewChannel,
    NewInboxItem, NewMedia, NewOrg, NewPost, NewUser, PostStatus, Store, StoreError, User,
};
use sqlx::Row;

const CREDENTIALS: &str = r#"{"identifier":"mercy.test","app_password":"abcd-efgh-ijkl-mnop","refresh_jwt":"eyJ.secret.jwt"}"#;
const TOTP: &[u8] = b"JBSWY3DPEHPK3PXP-totp-secret";

async fn set_up(store: &Store) -> (User, Actor) {
    let org = NewOrg {
        name: "Mercy".into(),
        kind: OrgKind::Hospital,
        is_demo: false,
    };
    let admin = NewUser {
        email: Email::parse("admin@mercy.test").unwrap(),
        display_name: "Admin".into(),
        role: Role::Admin,
        password_hash: "x".into(),
    };
    let (_, admin) = store.complete_setup(&org, &admin, None).await.unwrap();
    let actor = Actor::user(&admin, None);
    (admin, actor)
}

async fn channel(store: &Store, org_id: i64, actor: &Actor) -> Channel {
    let new = NewChannel {
        network: "bluesky".into(),
        handle: "@mercy.test".into(),
        display_name: "Mercy".into(),
    };
    store.create_channel(org_id, &new, actor).await.unwrap()
}

fn health() -> ChannelHealth {
    ChannelHealth {
        handle: "mercy.test".into(),
        display_name: "Mercy Hospital".into(),
        token_expires_at: Some(1_900_000_000_000),
    }
}

async fn last_event(store: &Store) -> rounds_domain::AuditRecord {
    store
        .audit_page(&AuditFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .remove(0)
}

/// The URL a scratch store was opened on.
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
            format!("{}/{name}", &admin[..admin.rfind('/').unwrap()])
        }
    }
}

fn key_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("rounds.key")
}

/// Files beside the key file whose names start with `rounds.key.old-`.
fn old_keys(dir: &tempfile::TempDir) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("rounds.key.old-")
        })
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn credentials_are_sealed_and_health_recorded() {
    for (backend, dir, store) in scratch_stores().await {
        let (admin, actor) = set_up(&store).await;
        let ch = channel(&store, admin.org_id, &actor).await;
        assert_eq!(ch.status, ChannelStatus::NotConnected);
        assert_eq!(
            store
                .channel_credentials(admin.org_id, ch.id)
                .await
                .unwrap(),
            None
        );

        let err = store
            .connect_channel(
                admin.org_id,
                ch.id,
                "app-password-not-json",
                &health(),
                &actor,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(m) if !m.contains("app-password")),
            "{err}"
        );

        let connected = store
            .connect_channel(admin.org_id, ch.id, CREDENTIALS, &health(), &actor)
            .await
            .unwrap();
        assert_eq!(connected.status, ChannelStatus::Connected);
        assert_eq!(
            (connected.handle.as_str(), connected.display_name.as_str()),
            ("mercy.test", "Mercy Hospital")
        );
        assert_eq!(connected.token_expires_at, Some(1_900_000_000_000));
        assert_eq!(
            store
                .channel_credentials(admin.org_id, ch.id)
                .await
                .unwrap()
                .as_deref(),
            Some(CREDENTIALS)
        );
        assert_eq!(
            store.channel(admin.org_id, ch.id).await.unwrap(),
            Some(connected.clone())
        );
        assert_eq!(
            store.channel(admin.org_id + 1000, ch.id).await.unwrap(),
            None,
            "another organization's channel is invisible"
        );
        assert!(matches!(
            store.channel_credentials(admin.org_id + 1000, ch.id).await,
            Err(StoreError::NotFound("channel"))
        ));

        let event = last_event(&store).await;
        assert_eq!(event.action, "channel.connected");
        assert!(
            event.detail.contains("mercy.test") && event.detail.contains("bluesky"),
            "{}",
            event.detail
        );
        for secret in ["abcd-efgh", "eyJ", "app_password"] {
            assert!(
                !event.detail.contains(secret),
                "{backend:?}: the audit detail holds a secret"
            );
        }
        let raw: Vec<u8> = sqlx::query("SELECT credentials FROM channels WHERE id = $1")
            .bind(ch.id)
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get(0)
            .unwrap();
        assert!(
            !raw.windows(9).any(|w| w == b"abcd-efgh"),
            "{backend:?}: credentials stored in the clear"
        );

        // Sealed credentials copied onto another channel do not open there.
        let twin = channel(&store, admin.org_id, &actor).await;
        sqlx::query("UPDATE channels SET credentials = $1 WHERE id = $2")
            .bind(raw)
            .bind(twin.id)
            .execute(store.pool())
            .await
            .unwrap();
        assert!(
            matches!(
                store.channel_credentials(admin.org_id, twin.id).await,
                Err(StoreError::Secret(_))
            ),
            "{backend:?}"
        );

        // Another key file: the error names the key file and the key that sealed the value.
        let other_key = dir.path().join("other.key");
        std::fs::write(&other_key, [7u8; 32]).unwrap();
        let wrong = Store::open(&store_url(&store, &dir).await, &other_key)
            .await
            .unwrap();
        let err = wrong
            .channel_credentials(admin.org_id, ch.id)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("other.key") && err.contains("sealed with key"),
            "{backend:?}: {err}"
        );
        assert!(!err.contains("abcd"), "{err}");
        wrong.close().await;

        // Health: failures in the network's own words, status changes audited once.
        store
            .record_channel_error(
                ch.id,
                ChannelStatus::Error,
                "upstream 502: Bad Gateway",
                1_000,
            )
            .await
            .unwrap();
        assert_eq!(last_event(&store).await.action, "channel.status_changed");
        let seq = last_event(&store).await.seq;
        store
            .record_channel_error(ch.id, ChannelStatus::Error, "upstream 503", 2_000)
            .await
            .unwrap();
        assert_eq!(
            last_event(&store).await.seq,
            seq,
            "a repeated failure is not audited again"
        );
        let errored = store.channel(admin.org_id, ch.id).await.unwrap().unwrap();
        assert_eq!(
            (
                errored.status,
                errored.last_error.as_deref(),
                errored.last_error_at
            ),
            (ChannelStatus::Error, Some("upstream 503"), Some(2_000))
        );
        assert!(matches!(
            store
                .record_channel_error(ch.id, ChannelStatus::Connected, "x", 1)
                .await,
            Err(StoreError::Invalid(_))
        ));
        let long = "é".repeat(5_000);
        store
            .record_channel_error(ch.id, ChannelStatus::Expired, &long, 3_000)
            .await
            .unwrap();
        let expired = store.channel(admin.org_id, ch.id).await.unwrap().unwrap();
        assert_eq!(
            (expired.status, expired.status.label()),
            (ChannelStatus::Expired, "Sign-in expired")
        );
        assert_eq!(expired.last_error.unwrap().chars().count(), 2_000);
        store.record_channel_success(ch.id, 4_000).await.unwrap();
        let healthy = store.channel(admin.org_id, ch.id).await.unwrap().unwrap();
        assert_eq!(
            (
                healthy.status,
                healthy.last_success_at,
                healthy.last_checked_at
            ),
            (ChannelStatus::Connected, Some(4_000), Some(4_000))
        );
        store
            .set_sync_cursor(ch.id, Some("cursor-42"))
            .await
            .unwrap();
        assert_eq!(
            store
                .channel(admin.org_id, ch.id)
                .await
                .unwrap()
                .unwrap()
                .sync_cursor
                .as_deref(),
            Some("cursor-42")
        );
        assert!(matches!(
            store.set_sync_cursor(-1, None).await,
            Err(StoreError::NotFound("channel"))
        ));

        let disconnected = store
            .disconnect_channel(admin.org_id, ch.id, &actor)
            .await
            .unwrap();
        assert_eq!(
            (
                disconnected.status,
                disconnected.token_expires_at,
                disconnected.sync_cursor
            ),
            (ChannelStatus::NotConnected, None, None)
        );
        assert_eq!(
            store
                .channel_credentials(admin.org_id, ch.id)
                .await
                .unwrap(),
            None
        );
        assert_eq!(last_event(&store).await.action, "channel.disconnected");
        // A success on a channel without credentials does not make it connected.
        store.record_channel_success(ch.id, 5_000).await.unwrap();
        assert_eq!(
            store
                .channel(admin.org_id, ch.id)
                .await
                .unwrap()
                .unwrap()
                .status,
            ChannelStatus::NotConnected
        );
    }
}

#[tokio::test]
async fn a_new_connected_channel_is_made_whole_or_not_at_all() {
    for (backend, _dir, store) in scratch_stores().await {
        let (admin, actor) = set_up(&store).await;
        let new = NewChannel {
            network: "bluesky".into(),
            handle: "mercy.test".into(),
            display_name: "Mercy".into(),
        };
        let refused = store
            .create_connected_channel(admin.org_id, &new, "not json", &health(), &actor)
            .await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{backend:?}: {refused:?}"
        );
        let nameless = ChannelHealth {
            handle: " ".into(),
            ..health()
        };
        assert!(
            store
                .create_connected_channel(admin.org_id, &new, CREDENTIALS, &nameless, &actor)
                .await
                .is_err()
        );
        assert!(
            store.channels(admin.org_id).await.unwrap().is_empty(),
            "{backend:?}: no half-made channel"
        );

        let made = store
            .create_connected_channel(admin.org_id, &new, CREDENTIALS, &health(), &actor)
            .await
            .unwrap();
        assert_eq!(
            (made.status, made.handle.as_str()),
            (ChannelStatus::Connected, "mercy.test"),
            "{backend:?}"
        );
        assert_eq!(
            store
                .channel_credentials(admin.org_id, made.id)
                .await
                .unwrap()
                .as_deref(),
            Some(CREDENTIALS)
        );
        let page = store
            .audit_page(&AuditFilter {
                limit: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        let actions: Vec<String> = page.iter().map(|e| e.action.clone()).collect();
        assert_eq!(
            actions,
            ["channel.connected", "channel.created"],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn an_expiring_token_warns_the_channel_managers_once_per_token() {
    for (backend, _dir, store) in scratch_stores().await {
        let (admin, actor) = set_up(&store).await;
        let new = NewUser {
            email: Email::parse("viewer@mercy.test").unwrap(),
            display_name: "Viewer".into(),
            role: Role::Viewer,
            password_hash: "x".into(),
        };
        let viewer = store.create_user(admin.org_id, &new, &actor).await.unwrap();
        let channel = channel(&store, admin.org_id, &actor).await;
        let now = 1_800_000_000_000;
        let day = 86_400_000;
        let soon = ChannelHealth {
            token_expires_at: Some(now + 3 * day + 1_000),
            ..health()
        };
        store
            .connect_channel(admin.org_id, channel.id, CREDENTIALS, &soon, &actor)
            .await
            .unwrap();
        assert_eq!(
            store
                .warn_expiring_tokens(now - 30 * day, 7 * day)
                .await
                .unwrap(),
            0,
            "{backend:?}: not yet"
        );
        assert_eq!(
            store.warn_expiring_tokens(now, 7 * day).await.unwrap(),
            1,
            "{backend:?}"
        );
        assert_eq!(
            store
                .warn_expiring_tokens(now + day, 7 * day)
                .await
                .unwrap(),
            0,
            "once per token"
        );
        let notes = store.notifications(admin.id, true).await.unwrap();
        assert_eq!(notes.len(), 1, "{backend:?}: {notes:?}");
        assert_eq!(notes[0].kind, "token_expiring");
        assert!(
            notes[0].message.contains("expires in 3 days"),
            "{}",
            notes[0].message
        );
        assert_eq!(
            notes[0].link.as_deref(),
            Some(format!("/channels#channel-{}", channel.id).as_str())
        );
        assert!(
            store
                .notifications(viewer.id, true)
                .await
                .unwrap()
                .is_empty(),
            "only those who manage channels"
        );

        // A reconnect brings a new token, which warns again when its time comes.
        let renewed = ChannelHealth {
            token_expires_at: Some(now + 60 * day),
            ..health()
        };
        store
            .connect_channel(admin.org_id, channel.id, CREDENTIALS, &renewed, &actor)
            .await
            .unwrap();
        assert_eq!(
            store
                .warn_expiring_tokens(now + 55 * day, 7 * day)
                .await
                .unwrap(),
            1
        );
    }
}

#[tokio::test]
async fn channels_in_use_are_not_deleted() {
    for (backend, _dir, store) in scratch_stores().await {
        let (admin, actor) = set_up(&store).await;
        let used = channel(&store, admin.org_id, &actor).await;
        let post = NewPost {
            author_id: None,
            body: "hello".into(),
            channel_ids: vec![used.id],
            status: PostStatus::Draft,
            scheduled_at: None,
            paid: false,
            content_type: "general".into(),
            media_ids: Vec::new(),
        };
        store
            .create_post(admin.org_id, &post, &actor)
            .await
            .unwrap();
        let err = store
            .delete_channel(admin.org_id, used.id, &actor)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(m) if m.contains("posts use this channel")),
            "{backend:?}"
        );

        let with_inbox = channel(&store, admin.org_id, &actor).await;
        let item = NewInboxItem {
            channel_id: with_inbox.id,
            network_id: "at://1".into(),
            kind: "comment".into(),
            author_handle: "@a".into(),
            author_name: "A".into(),
            body: "hi".into(),
            received_at: 1,
        };
        store.create_inbox_item(admin.org_id, &item).await.unwrap();
        let err = store
            .delete_channel(admin.org_id, with_inbox.id, &actor)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(m) if m.contains("inbox items")),
            "{backend:?}"
        );

        let unused = channel(&store, admin.org_id, &actor).await;
        assert!(matches!(
            store
                .delete_channel(admin.org_id + 1000, unused.id, &actor)
                .await,
            Err(StoreError::NotFound("channel"))
        ));
        store
            .delete_channel(admin.org_id, unused.id, &actor)
            .await
            .unwrap();
        assert_eq!(store.channel(admin.org_id, unused.id).await.unwrap(), None);
        assert_eq!(last_event(&store).await.action, "channel.deleted");
        assert_eq!(store.channels(admin.org_id).await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn media_is_stored_capped_and_scoped() {
    for (backend, _dir, store) in scratch_stores().await {
        let (admin, actor) = set_up(&store).await;
        let image = NewMedia {
            mime: "image/png".into(),
            bytes: vec![1, 2, 3, 4],
            width: 2,
            height: 1,
            alt_text: "Our new wing".into(),
        };
        let media = store.add_media(admin.org_id, &image, &actor).await.unwrap();
        assert_eq!(
            (media.size, media.width, media.height, media.uploaded_by),
            (4, 2, 1, Some(admin.id))
        );
        assert_eq!(
            media.sha256,
            rounds_domain::secret::sha256_hex(&[1, 2, 3, 4])
        );
        assert_eq!(last_event(&store).await.action, "media.uploaded");
        assert_eq!(
            store.media(admin.org_id, media.id).await.unwrap(),
            Some(media.clone())
        );
        assert_eq!(
            store.media_bytes(admin.org_id, media.id).await.unwrap(),
            Some(("image/png".into(), vec![1, 2, 3, 4]))
        );
        assert_eq!(
            store.media(admin.org_id + 1000, media.id).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .media_bytes(admin.org_id + 1000, media.id)
                .await
                .unwrap(),
            None
        );

        let updated = store
            .set_media_alt(
                admin.org_id,
                media.id,
                "The new cardiology wing at dusk",
                &actor,
            )
            .await
            .unwrap();
        assert_eq!(updated.alt_text, "The new cardiology wing at dusk");
        let event = last_event(&store).await;
        assert_eq!(event.action, "media.alt_changed");
        assert!(
            !event.detail.contains("cardiology"),
            "the alt text stays out of the audit log"
        );
        assert!(matches!(
            store
                .set_media_alt(admin.org_id + 1000, media.id, "x", &actor)
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            store
                .set_media_alt(admin.org_id, media.id, &"a".repeat(2_001), &actor)
                .await,
            Err(StoreError::Invalid(_))
        ));

        let huge = NewMedia {
            bytes: vec![0; MAX_MEDIA_BYTES + 1],
            ..image.clone()
        };
        let err = store
            .add_media(admin.org_id, &huge, &actor)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Invalid(m) if m.contains("8 MiB")),
            "{backend:?}: {err}"
        );
        let largest = NewMedia {
            bytes: vec![9; MAX_MEDIA_BYTES],
            ..image
        };
        let stored = store
            .add_media(admin.org_id, &largest, &actor)
            .await
            .unwrap();
        assert_eq!(
            store
                .media_bytes(admin.org_id, stored.id)
                .await
                .unwrap()
                .unwrap()
                .1
                .len(),
            MAX_MEDIA_BYTES
        );
    }
}

#[tokio::test]
async fn media_from_a_sanitized_upload() {
    let (_dir, store) = rounds_store::testing::scratch_sqlite().await;
    let (admin, actor) = set_up(&store).await;
    let gif = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff!\xfe\x0bward B note\0,\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;";
    let clean = rounds_domain::media::sanitize_image(gif).unwrap();
    let media = store
        .add_media(
            admin.org_id,
            &NewMedia::from_clean(clean, "A dot".into()),
            &actor,
        )
        .await
        .unwrap();
    assert_eq!(
        (media.mime.as_str(), media.width, media.height),
        ("image/gif", 1, 1)
    );
    let (_, bytes) = store
        .media_bytes(admin.org_id, media.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!bytes.windows(6).any(|w| w == b"ward B"));
}

/// A store with one TOTP secret and one connected channel; returns the user and the channel.
async fn sealed_values(store: &Store) -> (User, Channel, Actor) {
    let (admin, actor) = set_up(store).await;
    store
        .enable_totp(admin.id, TOTP, &["h".into()], &actor)
        .await
        .unwrap();
    let ch = channel(store, admin.org_id, &actor).await;
    store
        .connect_channel(admin.org_id, ch.id, CREDENTIALS, &health(), &actor)
        .await
        .unwrap();
    (admin, ch, actor)
}

async fn assert_opens(store: &Store, admin: &User, ch: &Channel) {
    assert_eq!(
        store.totp_secret(admin.id).await.unwrap().as_deref(),
        Some(TOTP)
    );
    assert_eq!(
        store
            .channel_credentials(admin.org_id, ch.id)
            .await
            .unwrap()
            .as_deref(),
        Some(CREDENTIALS)
    );
}

#[tokio::test]
async fn rotation_reseals_everything_with_a_new_key() {
    for (backend, dir, store) in scratch_stores().await {
        let (admin, ch, _) = sealed_values(&store).await;
        let old_key = std::fs::read(key_file(&dir)).unwrap();
        let summary = store.rotate_key(&Actor::cli()).await.unwrap();
        assert_eq!(
            (summary.totp_secrets, summary.channel_credentials),
            (1, 1),
            "{backend:?}"
        );
        assert_ne!(summary.old_key_id, summary.new_key_id);
        let new_key = std::fs::read(key_file(&dir)).unwrap();
        assert_ne!(new_key, old_key);
        assert_eq!(new_key.len(), 32);
        let kept = summary.old_key_file.clone().unwrap();
        assert_eq!(old_keys(&dir), std::slice::from_ref(&kept));
        assert_eq!(
            std::fs::read(&kept).unwrap(),
            old_key,
            "the previous key is kept"
        );
        assert!(!dir.path().join("rounds.key.new").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for file in [key_file(&dir), kept.clone()] {
                assert_eq!(
                    std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                    0o600,
                    "{}",
                    file.display()
                );
            }
        }
        let event = last_event(&store).await;
        assert_eq!(event.action, "key.rotated");
        assert!(
            event.detail.contains(&summary.new_key_id)
                && event.detail.contains(&summary.old_key_id)
        );

        // The running store switched keys; a fresh one reads the new key file.
        assert_opens(&store, &admin, &ch).await;
        let url = store_url(&store, &dir).await;
        let reopened = Store::open(&url, &key_file(&dir)).await.unwrap();
        assert_opens(&reopened, &admin, &ch).await;
        reopened.close().await;

        // The old key opens nothing any more, and says why.
        let stale = Store::open(&url, &kept).await.unwrap();
        let err = stale.totp_secret(admin.id).await.unwrap_err().to_string();
        assert!(
            err.contains(&format!("sealed with key {}", summary.new_key_id)),
            "{backend:?}: {err}"
        );
        assert!(matches!(
            stale.channel_credentials(admin.org_id, ch.id).await,
            Err(StoreError::Secret(_))
        ));
        stale.close().await;
        assert_eq!(
            store.audit_verify().await.unwrap(),
            Ok(store
                .audit_page(&AuditFilter {
                    limit: 1000,
                    ..Default::default()
                })
                .await
                .unwrap()
                .len() as u64)
        );
    }
}

#[tokio::test]
async fn rotation_interrupted_after_commit_is_finished_on_open() {
    for (backend, dir, store) in scratch_stores().await {
        let (admin, ch, _) = sealed_values(&store).await;
        let url = store_url(&store, &dir).await;
        let old_key = std::fs::read(key_file(&dir)).unwrap();
        let summary = store.rotate_key_interrupted(&Actor::cli()).await.unwrap();
        store.close().await;
        let pending = dir.path().join("rounds.key.new");
        let new_key = std::fs::read(&pending).unwrap();
        assert_eq!(
            std::fs::read(key_file(&dir)).unwrap(),
            old_key,
            "the crash came before the swap"
        );

        let recovered = Store::open(&url, &key_file(&dir)).await.unwrap();
        assert_eq!(
            std::fs::read(key_file(&dir)).unwrap(),
            new_key,
            "{backend:?}: the swap was finished"
        );
        assert!(!pending.exists());
        assert_eq!(old_keys(&dir).len(), 1);
        assert_eq!(std::fs::read(&old_keys(&dir)[0]).unwrap(), old_key);
        assert_opens(&recovered, &admin, &ch).await;
        assert_eq!(summary.totp_secrets + summary.channel_credentials, 2);
        recovered.close().await;
    }
}

#[tokio::test]
async fn rotation_interrupted_before_commit_is_rolled_back_on_open() {
    for (backend, dir, store) in scratch_stores().await {
        let (admin, ch, _) = sealed_values(&store).await;
        let url = store_url(&store, &dir).await;
        store.close().await;
        let old_key = std::fs::read(key_file(&dir)).unwrap();
        // A crash after writing the new key and before the re-sealing committed.
        let pending = dir.path().join("rounds.key.new");
        std::fs::write(&pending, [42u8; 32]).unwrap();
        let recovered = Store::open(&url, &key_file(&dir)).await.unwrap();
        assert!(!pending.exists(), "{backend:?}: the unused key is dropped");
        assert_eq!(std::fs::read(key_file(&dir)).unwrap(), old_key);
        assert!(old_keys(&dir).is_empty());
        assert_opens(&recovered, &admin, &ch).await;

        // A half-written pending key (cut short by the crash) is dropped the same way.
        std::fs::write(&pending, [1u8; 7]).unwrap();
        recovered.close().await;
        let again = Store::open(&url, &key_file(&dir)).await.unwrap();
        assert!(!pending.exists());
        assert_opens(&again, &admin, &ch).await;

        // A rotation can run again afterwards, and a second one while the first is pending is refused.
        std::fs::write(&pending, [42u8; 32]).unwrap();
        assert!(matches!(
            again.rotate_key(&Actor::cli()).await,
            Err(StoreError::Conflict(_))
        ));
        std::fs::remove_file(&pending).unwrap();
        again.rotate_key(&Actor::cli()).await.unwrap();
        assert_opens(&again, &admin, &ch).await;
        again.close().await;
    }
}

#[tokio::test]
async fn rotation_interrupted_with_nothing_sealed_follows_the_audit_log() {
    for (backend, dir, store) in scratch_stores().await {
        set_up(&store).await;
        let url = store_url(&store, &dir).await;
        let summary = store.rotate_key_interrupted(&Actor::cli()).await.unwrap();
        assert_eq!(summary.totp_secrets + summary.channel_credentials, 0);
        store.close().await;
        let new_key = std::fs::read(dir.path().join("rounds.key.new")).unwrap();
        let recovered = Store::open(&url, &key_file(&dir)).await.unwrap();
        assert_eq!(
            std::fs::read(key_file(&dir)).unwrap(),
            new_key,
            "{backend:?}: the committed rotation is finished"
        );
        recovered.close().await;
    }
}

#[tokio::test]
async fn rotation_interrupted_with_neither_key_fitting_refuses_to_guess() {
    let (dir, store) = rounds_store::testing::scratch_sqlite().await;
    sealed_values(&store).await;
    let url = store_url(&store, &dir).await;
    store.close().await;
    let old_key = std::fs::read(key_file(&dir)).unwrap();
    std::fs::write(key_file(&dir), [3u8; 32]).unwrap();
    std::fs::write(dir.path().join("rounds.key.new"), [4u8; 32]).unwrap();
    let err = Store::open(&url, &key_file(&dir))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("neither the key file") && err.contains("rounds.key.new"),
        "{err}"
    );
    assert!(
        dir.path().join("rounds.key.new").exists(),
        "nothing is deleted while the right key is unknown"
    );
    std::fs::write(key_file(&dir), old_key).unwrap();
    let recovered = Store::open(&url, &key_file(&dir)).await.unwrap();
    assert!(!dir.path().join("rounds.key.new").exists());
    recovered.close().await;
}

#[tokio::test]
async fn rotation_with_a_value_the_key_cannot_open_changes_nothing() {
    for (backend, dir, store) in scratch_stores().await {
        let (admin, ch, _) = sealed_values(&store).await;
        let old_key = std::fs::read(key_file(&dir)).unwrap();
        sqlx::query("UPDATE channels SET credentials = $1 WHERE id = $2")
            .bind(vec![0u8; 64])
            .bind(ch.id)
            .execute(store.pool())
            .await
            .unwrap();
        let err = store
            .rotate_key(&Actor::cli())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("credentials of channel {}", ch.id)),
            "{backend:?}: {err}"
        );
        assert_eq!(std::fs::read(key_file(&dir)).unwrap(), old_key);
        assert!(!dir.path().join("rounds.key.new").exists());
        assert!(old_keys(&dir).is_empty());
        assert_eq!(
            store.totp_secret(admin.id).await.unwrap().as_deref(),
            Some(TOTP),
            "the TOTP secret kept its old sealing"
        );
        assert_ne!(last_event(&store).await.action, "key.rotated");
    }
}
