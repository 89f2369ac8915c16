//! Contract tests for the Mastodon connector: a local HTTP server replays the bodies documented in
//! Mastodon's API reference (tests/fixtures/mastodon/README.md names the pages), and each test checks
//! both what the connector sent and what it made of the answer.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use connectors::{
    Connector, Credentials, ErrorKind, Image, Outgoing, Reach, RemoteRef, connect, http_client,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0";

fn fixture(name: &str) -> Value {
    let file = format!(
        "{}/tests/fixtures/mastodon/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

async fn setup() -> (MockServer, Box<dyn Connector>) {
    let server = MockServer::start().await;
    let creds = Credentials::Mastodon {
        instance: format!("{}/", server.uri()),
        access_token: TOKEN.into(),
    };
    let connector = connect(&creds, &http_client(Reach::AnyHost)).unwrap();
    (server, connector)
}

fn text_post(key: &str, text: &str) -> Outgoing {
    Outgoing {
        idempotency_key: key.into(),
        text: text.into(),
        images: vec![],
        reply_to: None,
    }
}

const FLU: &str = "Flu shots this Saturday & Sunday, 9 to 4, no appointment needed.";

fn bearer() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {TOKEN}").as_str())
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

#[tokio::test]
async fn health_reads_verify_credentials() {
    let (server, c) = setup().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .and(bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("account.json")))
        .expect(1)
        .mount(&server)
        .await;
    let health = c.health().await.unwrap();
    let host = server.uri().trim_start_matches("http://").to_owned();
    assert_eq!(health.handle, format!("@trwnh@{host}"));
    assert_eq!(health.display_name, "infinite love ⴳ");
    assert_eq!(health.token_expires_at_ms, None);
    let sent = requests(&server).await;
    assert!(
        sent[0]
            .headers
            .get("user-agent")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Rounds/")
    );
}

#[tokio::test]
async fn publish_text_sends_the_idempotency_key() {
    let (server, c) = setup().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(bearer())
        .and(header("idempotency-key", "post-17/channel-3"))
        .and(body_json(json!({ "status": FLU, "visibility": "public" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("status.json")))
        .expect(2)
        .mount(&server)
        .await;
    let post = text_post("post-17/channel-3", FLU);
    let first = c.publish(&post).await.unwrap();
    assert_eq!(first.remote.id, "103254962155278888");
    assert_eq!(
        first.url,
        "https://mastodon.social/@trwnh/103254962155278888"
    );
    assert_eq!(first.at_ms, 1_575_776_913_901);
    // Mastodon answers a repeated key with the status the first request created.
    let again = c.publish(&post).await.unwrap();
    assert_eq!(again, first);
}

#[tokio::test]
async fn publish_a_reply_names_its_parent() {
    let (server, c) = setup().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(body_json(json!({ "status": "@zsc Saturday 9 to 4!", "visibility": "public", "in_reply_to_id": "103186126728896492" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("status.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut post = text_post("r1", "@zsc Saturday 9 to 4!");
    post.reply_to = Some(RemoteRef::new("103186126728896492"));
    c.publish(&post).await.unwrap();
}

#[tokio::test]
async fn publish_with_an_image_waits_until_it_is_processed() {
    let (server, c) = setup().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/media"))
        .and(bearer())
        .respond_with(ResponseTemplate::new(202).set_body_json(fixture("media_processing.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/media/22348641"))
        .respond_with(ResponseTemplate::new(206).set_body_json(fixture("media_processing.json")))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/media/22348641"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("media_ready.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .and(body_json(
            json!({ "status": FLU, "visibility": "public", "media_ids": ["22348641"] }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("status.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut post = text_post("img-1", FLU);
    post.images.push(Image {
        bytes: b"\x89PNG\r\n\x1a\nfake".to_vec(),
        mime: "image/png".into(),
        alt: "A nurse holding a flu vaccine syringe".into(),
    });
    let published = c.publish(&post).await.unwrap();
    assert_eq!(published.remote.id, "103254962155278888");
    let upload = requests(&server)
        .await
        .into_iter()
        .find(|r| r.url.path() == "/api/v2/media")
        .unwrap();
    let content_type = upload
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let body = String::from_utf8_lossy(&upload.body);
    assert!(
        body.contains("name=\"file\"; filename=\"image1.png\""),
        "{body}"
    );
    assert!(body.contains("Content-Type: image/png"), "{body}");
    assert!(
        body.contains("name=\"description\"\r\n\r\nA nurse holding a flu vaccine syringe"),
        "{body}"
    );
}

#[tokio::test]
async fn find_published_after_a_crash_matches_text_and_time() {
    let (server, c) = setup().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("account.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/14715/statuses"))
        .and(query_param("exclude_reblogs", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("account_statuses.json")))
        .expect(4)
        .mount(&server)
        .await;
    let attempt_started = 1_575_776_900_000; // 13.9 s before the status's created_at
    let found = c
        .find_published(&text_post("k", FLU), attempt_started)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.remote.id, "103254962155278888");
    // The HTML (a line break, a shortened link) compares equal to the plain text that was sent.
    let with_link = text_post(
        "k2",
        "Visiting hours change on Monday.\nDetails: https://example.org/visiting-hours",
    );
    let found = c
        .find_published(&with_link, 1_575_765_000_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.remote.id, "103254193998341330");
    // Posted before this attempt began: not the result of it.
    assert_eq!(
        c.find_published(&with_link, attempt_started).await.unwrap(),
        None
    );
    assert_eq!(
        c.find_published(&text_post("k3", "Never posted"), 0)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn delete_removes_the_status() {
    let (server, c) = setup().await;
    Mock::given(method("DELETE"))
        .and(path("/api/v1/statuses/103254962155278888"))
        .and(bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("status.json")))
        .expect(1)
        .mount(&server)
        .await;
    c.delete(&RemoteRef::new("103254962155278888"))
        .await
        .unwrap();
    Mock::given(method("DELETE"))
        .and(path("/api/v1/statuses/1"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({ "error": "Record not found" })),
        )
        .mount(&server)
        .await;
    let err = c.delete(&RemoteRef::new("1")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(err.network_message, "Record not found");
}

#[tokio::test]
async fn fetch_items_reads_mentions_and_pages_with_min_id() {
    let (server, c) = setup().await;
    let link = format!(
        "<{0}/api/v1/notifications?max_id=34975535>; rel=\"next\", <{0}/api/v1/notifications?min_id=34975861>; rel=\"prev\"",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/api/v1/notifications"))
        .and(query_param("types[]", "mention"))
        .and(query_param("min_id", "34975861"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/notifications"))
        .and(query_param("types[]", "mention"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("notifications.json"))
                .insert_header("link", link.as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let fetched = c.fetch_items(None).await.unwrap();
    assert_eq!(fetched.cursor.as_deref(), Some("34975861"));
    assert_eq!(fetched.items.len(), 2);
    let reply = &fetched.items[0];
    assert_eq!(reply.kind, connectors::ItemKind::Reply);
    assert_eq!(reply.remote.id, "103186126728896492");
    assert_eq!(reply.text, "@trwnh sup!");
    assert!(reply.author_handle.starts_with("@zsc@127.0.0.1"));
    assert_eq!(
        reply.in_reply_to.as_ref().map(|r| r.id.as_str()),
        Some("103186038209478945")
    );
    let mention = &fetched.items[1];
    assert_eq!(mention.kind, connectors::ItemKind::Mention);
    assert_eq!(mention.author_handle, "@Gargron@mastodon.example");
    assert_eq!(mention.author_name, "Eugen");
    assert_eq!(
        mention.text,
        "Does anyone know when @trwnh's flu clinic opens?"
    );
    assert_eq!(mention.created_at_ms, 1_574_494_158_758);
    // Nothing new: the cursor stays where it was.
    let next = c.fetch_items(fetched.cursor.as_deref()).await.unwrap();
    assert!(next.items.is_empty());
    assert_eq!(next.cursor.as_deref(), Some("34975861"));
}

#[tokio::test]
async fn hiding_is_unsupported_and_sends_nothing() {
    let (server, c) = setup().await;
    let err = c.set_hidden(&RemoteRef::new("1"), true).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(requests(&server).await.is_empty());
}

async fn publish_error(
    status: u16,
    body: Value,
    extra: &[(&str, String)],
) -> connectors::ConnectorError {
    let (server, c) = setup().await;
    let mut response = ResponseTemplate::new(status).set_body_json(body);
    for (name, value) in extra {
        response = response.insert_header(*name, value.as_str());
    }
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    c.publish(&text_post("e", FLU)).await.unwrap_err()
}

#[tokio::test]
async fn token_errors_ask_for_a_reconnect() {
    let expired = publish_error(401, fixture("error_401_expired.json"), &[]).await;
    assert_eq!(expired.kind, ErrorKind::TokenExpired);
    let revoked = publish_error(401, fixture("error_401_revoked.json"), &[]).await;
    assert_eq!(revoked.kind, ErrorKind::TokenRevoked);
    assert_eq!(
        revoked.to_string(),
        "The Mastodon access for this channel was revoked or lost its permissions; reconnect the channel: The access token was revoked"
    );
    let invalid = publish_error(401, fixture("error_401_invalid.json"), &[]).await;
    assert_eq!(invalid.kind, ErrorKind::InvalidCredentials);
    for e in [&expired, &revoked, &invalid] {
        assert!(!e.is_retryable());
        assert!(!format!("{e} {e:?}").contains(TOKEN));
    }
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retryable() {
    let down = publish_error(503, json!({ "error": "Service Unavailable" }), &[]).await;
    assert_eq!(down.kind, ErrorKind::Unavailable);
    assert_eq!(down.status, Some(503));
    assert!(down.is_retryable());
    let reset = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(300);
    let limited = publish_error(
        429,
        fixture("error_429.json"),
        &[
            ("x-ratelimit-limit", "300".into()),
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", format!("{reset:.3}")),
        ],
    )
    .await;
    assert_eq!(limited.kind, ErrorKind::RateLimited);
    let wait = limited.retry_after_ms.unwrap();
    assert!((295_000..=300_000).contains(&wait), "{wait}");
    assert!(limited.is_retryable());
    assert_eq!(limited.network_message, "Too many requests");
}

#[tokio::test]
async fn over_length_posts_are_refused_with_the_networks_words() {
    let rejected = publish_error(422, fixture("error_422_length.json"), &[]).await;
    assert_eq!(rejected.kind, ErrorKind::Rejected);
    assert_eq!(
        rejected.to_string(),
        "Mastodon refused the post: Validation failed: Text character limit of 500 exceeded"
    );
    // Over the default limit, the post is refused before anything is sent.
    let (server, c) = setup().await;
    let err = c
        .publish(&text_post("long", &"a".repeat(501)))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert!(err.network_message.contains("501"));
    let svg = Outgoing {
        images: vec![Image {
            bytes: b"<svg/>".to_vec(),
            mime: "image/svg+xml".into(),
            alt: String::new(),
        }],
        ..text_post("svg", "logo")
    };
    assert_eq!(c.publish(&svg).await.unwrap_err().kind, ErrorKind::Rejected);
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn a_dead_server_is_unavailable() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let creds = Credentials::Mastodon {
        instance: format!("http://127.0.0.1:{port}"),
        access_token: TOKEN.into(),
    };
    let err = connect(&creds, &http_client(Reach::AnyHost))
        .unwrap()
        .health()
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert_eq!(err.status, None);
    assert!(err.is_retryable());
}
