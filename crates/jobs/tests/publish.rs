//! Scheduled publishing against a real local Bluesky network (`ROUNDS_TEST_BSKY_PDS`), on SQLite and,
//! when configured, PostgreSQL: approved posts go out once, an interrupted publish is not repeated, and
//! a revoked app password fails clearly without losing the post.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use common::{approved_post, connected_channel, now, publisher, reconnect, team};
use connectors::testing::{LocalAccount, local_pds};
use connectors::{Outgoing, Reach, connect, http_client};
use jobs::Outcome;
use rounds_domain::PostStatus;
use rounds_store::testing::scratch_stores;
use rounds_store::{Actor, ChannelStatus, JobState, Page};

#[tokio::test]
async fn an_approved_post_is_published_archived_and_seen_on_the_network() {
    let Some(pds) = local_pds() else { return };
    for (backend, _dir, store) in scratch_stores().await {
        let me = LocalAccount::create(&pds).await;
        let t = team(&store).await;
        let channel = connected_channel(&store, &t, &me.handle, &me.creds).await;
        let text = format!("Flu shots this Saturday, 9 to 4 at the main entrance ({backend:?}).");
        let post = approved_post(&store, &t, channel.id, &text, now()).await;

        let reports = publisher(&store, "w1").publish_once().await.unwrap();
        assert_eq!(reports.len(), 1, "{backend:?}: {reports:?}");
        let Outcome::Published { url } = &reports[0].outcome else {
            panic!("{backend:?}: {reports:?}")
        };
        assert!(
            url.starts_with(&format!("https://bsky.app/profile/{}/post/", me.handle)),
            "{url}"
        );

        let post = store.post(t.org, post.id).await.unwrap();
        assert_eq!(post.status, PostStatus::Published, "{backend:?}");
        let publication = store.publications(t.org, post.id).await.unwrap().remove(0);
        assert_eq!(publication.url.as_deref(), Some(url.as_str()));
        let uri = publication.remote["id"].as_str().unwrap();
        let seen = me
            .seen(uri)
            .await
            .expect("the post is visible on the network within 10 s");
        assert_eq!(seen["record"]["text"], text.as_str());
        assert_eq!(seen["author"]["handle"], me.handle.as_str());

        let archive = store
            .archive_items(
                t.org,
                &Page {
                    before_id: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(archive.len(), 1);
        assert_eq!(
            (
                archive[0].kind.as_str(),
                archive[0].url.as_deref(),
                archive[0].body.as_str()
            ),
            ("post", Some(url.as_str()), text.as_str())
        );
        assert_eq!(archive[0].record["approvals"][0]["user_id"], t.manager.id);
        assert_eq!(
            store.jobs_of_post(t.org, post.id).await.unwrap()[0].state,
            JobState::Done
        );
        assert_eq!(
            store
                .channel(t.org, channel.id)
                .await
                .unwrap()
                .unwrap()
                .status,
            ChannelStatus::Connected
        );
        assert!(
            publisher(&store, "w2")
                .publish_once()
                .await
                .unwrap()
                .is_empty(),
            "nothing left to do"
        );
        assert_eq!(me.post_texts().await, [text]);
    }
}

#[tokio::test]
async fn a_job_whose_worker_died_mid_publish_is_not_posted_twice() {
    let Some(pds) = local_pds() else { return };
    for (backend, _dir, store) in scratch_stores().await {
        let me = LocalAccount::create(&pds).await;
        let t = team(&store).await;
        let channel = connected_channel(&store, &t, &me.handle, &me.creds).await;
        let out = approved_post(&store, &t, channel.id, "Posted before the crash.", now()).await;
        let lost = approved_post(&store, &t, channel.id, "Crashed before posting.", now()).await;

        // A worker takes both jobs with a short lease, posts the first and dies before recording it.
        let start = now();
        let held = store
            .claim_due_jobs("dead", start, 1_000, 10)
            .await
            .unwrap();
        assert_eq!(held.len(), 2);
        let first = held.iter().find(|j| j.post_id == out.id).unwrap();
        let outgoing = Outgoing {
            idempotency_key: first.idempotency_key.clone(),
            text: first.body.clone(),
            images: vec![],
            reply_to: None,
        };
        let published = connect(&me.creds, &http_client(Reach::AnyHost))
            .unwrap()
            .publish(&outgoing)
            .await
            .unwrap();

        let p = publisher(&store, "w2");
        assert!(
            p.publish_due(start + 500).await.unwrap().is_empty(),
            "{backend:?}: the dead worker's lease still holds"
        );
        let mut reports = p.publish_due(start + 2_000).await.unwrap();
        reports.sort_by_key(|r| r.post_id);
        assert_eq!(reports.len(), 2, "{backend:?}: {reports:?}");
        assert_eq!(
            reports[0].outcome,
            Outcome::AlreadyPublished {
                url: published.url.clone()
            },
            "{backend:?}"
        );
        assert!(
            matches!(&reports[1].outcome, Outcome::Published { .. }),
            "{backend:?}: {reports:?}"
        );

        let mut texts = me.post_texts().await;
        texts.sort();
        assert_eq!(
            texts,
            ["Crashed before posting.", "Posted before the crash."],
            "{backend:?}: one record per post"
        );
        for post in [out.id, lost.id] {
            assert_eq!(
                store.post(t.org, post).await.unwrap().status,
                PostStatus::Published,
                "{backend:?}"
            );
        }
        let publication = store.publications(t.org, out.id).await.unwrap().remove(0);
        assert_eq!(publication.url.as_deref(), Some(published.url.as_str()));
    }
}

#[tokio::test]
async fn a_revoked_app_password_fails_clearly_and_a_reconnect_publishes_the_post() {
    let Some(pds) = local_pds() else { return };
    for (backend, _dir, store) in scratch_stores().await {
        let me = LocalAccount::create(&pds).await;
        let t = team(&store).await;
        let channel = connected_channel(&store, &t, &me.handle, &me.creds).await;
        me.revoke_app_password("rounds").await;
        let text = "Our new cardiology wing opens on Monday.";
        let post = approved_post(&store, &t, channel.id, text, now()).await;

        let reports = publisher(&store, "w1").publish_once().await.unwrap();
        let Outcome::Failed { message } = &reports[0].outcome else {
            panic!("{backend:?}: {reports:?}")
        };
        assert!(message.contains("reconnect the channel"), "{message}");
        assert!(message.contains("reschedule this post"), "{message}");
        let connectors::Credentials::Bluesky { app_password, .. } = &me.creds else {
            unreachable!()
        };
        assert!(!message.contains(app_password.as_str()));

        let ch = store.channel(t.org, channel.id).await.unwrap().unwrap();
        assert!(
            matches!(ch.status, ChannelStatus::Expired | ChannelStatus::Error),
            "{backend:?}: {:?}",
            ch.status
        );
        let words = ch.last_error.clone().unwrap_or_default();
        assert!(
            !words.is_empty() && message.contains(&words),
            "the network's own words, {words:?}, reach the author: {message}"
        );
        let failed = store.post(t.org, post.id).await.unwrap();
        assert_eq!(
            (failed.status, failed.status_note.as_deref()),
            (PostStatus::Failed, Some(message.as_str()))
        );
        assert_eq!(
            (failed.body.as_str(), failed.version),
            (text, 1),
            "nothing lost"
        );
        assert_eq!(store.post_versions(t.org, post.id).await.unwrap().len(), 1);
        let notes = store.notifications(t.author.id, true).await.unwrap();
        assert!(
            notes
                .iter()
                .any(|n| n.kind == "publish_failed" && n.message.contains(message.as_str())),
            "{notes:?}"
        );
        assert!(me.post_texts().await.is_empty());

        // The channel page reconnects with a new app password; the author reschedules.
        let fresh = me.app_password("rounds-2").await;
        reconnect(&store, &t, channel.id, &me.handle, &fresh).await;
        store
            .reschedule(t.org, post.id, now(), &Actor::user(&t.author, None))
            .await
            .unwrap();
        let reports = publisher(&store, "w2").publish_once().await.unwrap();
        assert!(
            matches!(&reports[..], [r] if matches!(r.outcome, Outcome::Published { .. })),
            "{backend:?}: {reports:?}"
        );
        assert_eq!(
            store.post(t.org, post.id).await.unwrap().status,
            PostStatus::Published
        );
        assert_eq!(
            store
                .channel(t.org, channel.id)
                .await
                .unwrap()
                .unwrap()
                .status,
            ChannelStatus::Connected
        );
        assert_eq!(me.post_texts().await, [text]);
    }
}

#[tokio::test]
async fn a_publisher_runs_until_shutdown() {
    let Some(pds) = local_pds() else { return };
    let (_backend, _dir, store) = scratch_stores().await.remove(0);
    let me = LocalAccount::create(&pds).await;
    let t = team(&store).await;
    let channel = connected_channel(&store, &t, &me.handle, &me.creds).await;
    let posts = [
        approved_post(&store, &t, channel.id, "First of two.", now()).await,
        approved_post(&store, &t, channel.id, "Second of two.", now()).await,
    ];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(publisher(&store, "runner").run(async {
        let _ = stopped.await;
    }));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    for post in &posts {
        while store.post(t.org, post.id).await.unwrap().status != PostStatus::Published {
            assert!(
                std::time::Instant::now() < deadline,
                "the running publisher publishes due posts"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), worker)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(me.post_texts().await.len(), 2);
}
