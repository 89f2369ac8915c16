//! How the publisher reads a network's failures, against a local HTTP mock of Mastodon that replays
//! the payloads of Mastodon's API reference (contract tests: Mastodon cannot run here). Each test runs
//! on SQLite and, when configured, PostgreSQL.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use common::{Team, approved_post, connected_channel, now, publisher, team};
use connectors::Credentials;
use jobs::Outcome;
use rounds_domain::PostStatus;
use rounds_store::testing::scratch_stores;
use rounds_store::{Channel, ChannelStatus, JobState, Page, Store};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0";
const URL: &str = "https://mastodon.social/@trwnh/103254962155278888";

fn fixture(name: &str) -> Value {
    let file = format!(
        "{}/tests/fixtures/mastodon/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

async fn mastodon(store: &Store) -> (MockServer, Team, Channel) {
    let server = MockServer::start().await;
    let t = team(store).await;
    let creds = Credentials::Mastodon {
        instance: server.uri(),
        access_token: TOKEN.into(),
    };
    let channel = connected_channel(store, &t, "@hospital@mastodon.example", &creds).await;
    // Before a retry the publisher looks for the post among the account's latest statuses.
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("account.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/14715/statuses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&server)
        .await;
    (server, t, channel)
}

/// How many statuses were sent.
async fn posts(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count()
}

fn statuses() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
}

#[tokio::test]
async fn server_errors_are_retried_with_back_off_then_publish() {
    for (backend, _dir, store) in scratch_stores().await {
        let (server, t, channel) = mastodon(&store).await;
        statuses()
            .respond_with(
                ResponseTemplate::new(503)
                    .set_body_json(serde_json::json!({ "error": "Service Unavailable" })),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        statuses()
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("status.json")))
            .mount(&server)
            .await;
        let post = approved_post(
            &store,
            &t,
            channel.id,
            "Flu shots this Saturday, 9 to 4.",
            now(),
        )
        .await;
        let p = publisher(&store, "w1");

        let t0 = now() + 1_000;
        let first = p.publish_due(t0).await.unwrap();
        assert_eq!(first.len(), 1, "{backend:?}");
        let Outcome::Retrying { retry_at, message } = &first[0].outcome else {
            panic!("{backend:?}: {first:?}")
        };
        assert_eq!(*retry_at, t0 + 30_000, "the first back-off step is 30 s");
        assert!(message.contains("Service Unavailable"), "{message}");
        let jobs = store.jobs_of_post(t.org, post.id).await.unwrap();
        assert_eq!((jobs[0].state, jobs[0].attempts), (JobState::Queued, 1));
        assert_eq!(jobs[0].last_error.as_deref(), Some(message.as_str()));
        assert_eq!(
            store.post(t.org, post.id).await.unwrap().status,
            PostStatus::Scheduled,
            "a retry is no failure yet"
        );

        assert!(
            p.publish_due(retry_at - 1).await.unwrap().is_empty(),
            "not before the back-off ends"
        );
        let second = p.publish_due(*retry_at).await.unwrap();
        assert_eq!(
            second[0].outcome,
            Outcome::Published { url: URL.into() },
            "{backend:?}"
        );
        let post = store.post(t.org, post.id).await.unwrap();
        assert_eq!(post.status, PostStatus::Published);
        let publications = store.publications(t.org, post.id).await.unwrap();
        assert_eq!(publications[0].url.as_deref(), Some(URL));
        assert_eq!(publications[0].remote["id"], "103254962155278888");
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
        assert_eq!((archive.len(), archive[0].url.as_deref()), (1, Some(URL)));
        let channel = store.channel(t.org, channel.id).await.unwrap().unwrap();
        assert_eq!(channel.status, ChannelStatus::Connected);
        assert!(channel.last_success_at.is_some());
        assert_eq!(posts(&server).await, 2, "one failed call, one that worked");
    }
}

#[tokio::test]
async fn a_rate_limit_waits_for_the_networks_reset_time() {
    for (backend, _dir, store) in scratch_stores().await {
        let (server, t, channel) = mastodon(&store).await;
        let reset = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(300);
        let limited = ResponseTemplate::new(429)
            .set_body_json(fixture("error_429.json"))
            .insert_header("x-ratelimit-limit", "300")
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", format!("{reset:.3}").as_str());
        statuses()
            .respond_with(limited)
            .expect(1)
            .mount(&server)
            .await;
        let post = approved_post(
            &store,
            &t,
            channel.id,
            "Flu shots this Saturday, 9 to 4.",
            now(),
        )
        .await;

        let reports = publisher(&store, "w1").publish_due(now()).await.unwrap();
        let Outcome::Retrying { retry_at, message } = &reports[0].outcome else {
            panic!("{backend:?}: {reports:?}")
        };
        let reset_ms = reset.as_millisecond();
        assert!(
            (reset_ms - 2_000..=reset_ms + 1_000).contains(retry_at),
            "{backend:?}: retry at {retry_at}, reset {reset_ms}"
        );
        assert!(message.contains("Too many requests"), "{message}");
        let jobs = store.jobs_of_post(t.org, post.id).await.unwrap();
        assert_eq!(
            (jobs[0].state, jobs[0].run_at),
            (JobState::Queued, *retry_at)
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
    }
}

#[tokio::test]
async fn a_refused_post_fails_at_once_with_the_networks_words_and_loses_nothing() {
    for (backend, _dir, store) in scratch_stores().await {
        let (server, t, channel) = mastodon(&store).await;
        statuses()
            .respond_with(
                ResponseTemplate::new(422).set_body_json(fixture("error_422_length.json")),
            )
            .expect(1)
            .mount(&server)
            .await;
        let body = "Flu shots this Saturday, 9 to 4.";
        let post = approved_post(&store, &t, channel.id, body, now()).await;

        let reports = publisher(&store, "w1").publish_due(now()).await.unwrap();
        let words =
            "Mastodon refused the post: Validation failed: Text character limit of 500 exceeded";
        assert_eq!(
            reports[0].outcome,
            Outcome::Failed {
                message: words.into()
            },
            "{backend:?}"
        );
        let post = store.post(t.org, post.id).await.unwrap();
        assert_eq!(
            (post.status, post.status_note.as_deref()),
            (PostStatus::Failed, Some(words))
        );
        assert_eq!(post.body, body);
        assert_eq!(store.post_versions(t.org, post.id).await.unwrap().len(), 1);
        let notes = store.notifications(t.author.id, true).await.unwrap();
        let note = notes.iter().find(|n| n.kind == "publish_failed").unwrap();
        assert!(note.message.contains(words), "{}", note.message);
        assert_eq!(
            store.jobs_of_post(t.org, post.id).await.unwrap()[0].state,
            JobState::Failed
        );
        assert_eq!(
            store
                .channel(t.org, channel.id)
                .await
                .unwrap()
                .unwrap()
                .status,
            ChannelStatus::Connected,
            "the content, not the channel"
        );
        assert!(store.publications(t.org, post.id).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn an_expired_token_marks_the_channel_and_asks_for_a_reconnect() {
    for (backend, _dir, store) in scratch_stores().await {
        let (server, t, channel) = mastodon(&store).await;
        let expired = serde_json::json!({ "error": "The access token expired" });
        statuses()
            .respond_with(ResponseTemplate::new(401).set_body_json(expired))
            .expect(1)
            .mount(&server)
            .await;
        let post = approved_post(
            &store,
            &t,
            channel.id,
            "Flu shots this Saturday, 9 to 4.",
            now(),
        )
        .await;

        let reports = publisher(&store, "w1").publish_due(now()).await.unwrap();
        let Outcome::Failed { message } = &reports[0].outcome else {
            panic!("{backend:?}: {reports:?}")
        };
        assert!(message.contains("reconnect the channel"), "{message}");
        assert!(message.contains("reschedule this post"), "{message}");
        assert!(!message.contains(TOKEN));
        let channel = store.channel(t.org, channel.id).await.unwrap().unwrap();
        assert_eq!(
            (channel.status, channel.last_error.as_deref()),
            (ChannelStatus::Expired, Some("The access token expired"))
        );
        assert_eq!(
            store.post(t.org, post.id).await.unwrap().status,
            PostStatus::Failed
        );
    }
}

#[tokio::test]
async fn a_revoked_token_is_found_by_the_periodic_check_and_its_managers_are_told() {
    for (backend, _dir, store) in scratch_stores().await {
        let server = MockServer::start().await;
        let t = team(&store).await;
        let creds = Credentials::Mastodon {
            instance: server.uri(),
            access_token: TOKEN.into(),
        };
        let channel = connected_channel(&store, &t, "@hospital@mastodon.example", &creds).await;
        let later = now() + jobs::CHECK_EVERY_MS + 60_000;

        // A network that is down says nothing about the sign-in.
        let down = Mock::given(method("GET"))
            .and(path("/api/v1/accounts/verify_credentials"))
            .respond_with(ResponseTemplate::new(503))
            .mount_as_scoped(&server)
            .await;
        assert_eq!(
            publisher(&store, "w1").check_channels(later).await.unwrap(),
            1,
            "{backend:?}"
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
        drop(down);

        // Mastodon's documented answer to a revoked token.
        let revoked = serde_json::json!({ "error": "The access token was revoked" });
        Mock::given(method("GET"))
            .and(path("/api/v1/accounts/verify_credentials"))
            .respond_with(ResponseTemplate::new(401).set_body_json(revoked))
            .mount(&server)
            .await;
        assert_eq!(
            publisher(&store, "w1").check_channels(later).await.unwrap(),
            1
        );
        let checked = store.channel(t.org, channel.id).await.unwrap().unwrap();
        assert_eq!(
            (checked.status, checked.last_error.as_deref()),
            (ChannelStatus::Expired, Some("The access token was revoked")),
            "{backend:?}"
        );
        for user in [&t.admin, &t.manager] {
            let notes = store.notifications(user.id, true).await.unwrap();
            let note = notes
                .iter()
                .find(|n| n.kind == "channel_problem")
                .unwrap_or_else(|| panic!("{backend:?}: {notes:?}"));
            assert!(
                note.message
                    .contains("stopped working: The access token was revoked. Reconnect it"),
                "{}",
                note.message
            );
            assert!(!note.message.contains(TOKEN));
        }
        // Expired stays expired until someone reconnects: no more calls, no more notifications.
        assert_eq!(
            publisher(&store, "w1")
                .check_channels(later + jobs::CHECK_EVERY_MS)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .notifications(t.admin.id, false)
                .await
                .unwrap()
                .iter()
                .filter(|n| n.kind == "channel_problem")
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn an_outage_that_outlasts_every_retry_fails_and_tells_the_author() {
    for (backend, _dir, store) in scratch_stores().await {
        let (server, t, channel) = mastodon(&store).await;
        statuses()
            .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
            .mount(&server)
            .await;
        let post = approved_post(
            &store,
            &t,
            channel.id,
            "Flu shots this Saturday, 9 to 4.",
            now(),
        )
        .await;
        let p = publisher(&store, "w1");
        let mut clock = now();
        let mut retries = 0;
        let message = loop {
            let reports = p.publish_due(clock).await.unwrap();
            match &reports[..] {
                [report] => match &report.outcome {
                    Outcome::Retrying { retry_at, .. } => {
                        retries += 1;
                        clock = *retry_at;
                    }
                    Outcome::Failed { message } => break message.clone(),
                    other => panic!("{backend:?}: {other:?}"),
                },
                other => panic!("{backend:?}: {other:?}"),
            }
        };
        assert_eq!(retries, 5, "{backend:?}");
        assert!(message.contains("tried 6 times"), "{message}");
        assert_eq!(
            store.post(t.org, post.id).await.unwrap().status,
            PostStatus::Failed
        );
        assert_eq!(
            store
                .channel(t.org, channel.id)
                .await
                .unwrap()
                .unwrap()
                .status,
            ChannelStatus::Error
        );
        assert_eq!(posts(&server).await, 6);
    }
}
