//! Contract tests for the Facebook Pages connector: a local HTTP server replays the bodies documented
//! in Meta's Graph API reference (tests/fixtures/facebook/README.md names the pages), and each test
//! checks both what the connector sent and what it made of the answer.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use connectors::{
    Connector, Credentials, ErrorKind, Image, ItemKind, Outgoing, Reach, RemoteRef, connect,
    http_client,
};
use serde_json::Value;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "EAAGm0PX4ZCpsBAKZCmF9ZBZBqdpbSz9vZBcZAWLfZC1uSq1";
const PAGE: &str = "105687512233355";
const FLU: &str = "Flu shots this Saturday & Sunday, 9 to 4, no appointment needed.";

fn fixture(name: &str) -> Value {
    let file = format!(
        "{}/tests/fixtures/facebook/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

async fn setup() -> (MockServer, Box<dyn Connector>) {
    let server = MockServer::start().await;
    let creds = Credentials::Facebook {
        graph: format!("{}/v21.0", server.uri()),
        page_id: PAGE.into(),
        page_access_token: TOKEN.into(),
    };
    let connector = connect(&creds, &http_client(Reach::AnyHost)).unwrap();
    (server, connector)
}

fn bearer() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {TOKEN}").as_str())
}

fn text_post(key: &str, text: &str) -> Outgoing {
    Outgoing {
        idempotency_key: key.into(),
        text: text.into(),
        images: vec![],
        reply_to: None,
    }
}

fn png(alt: &str) -> Image {
    Image {
        bytes: b"\x89PNG\r\n\x1a\nfake".to_vec(),
        mime: "image/png".into(),
        alt: alt.into(),
    }
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture(name))
}

#[tokio::test]
async fn health_reads_the_page() {
    let (server, c) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{PAGE}")))
        .and(query_param("fields", "id,name"))
        .and(bearer())
        .respond_with(ok("page.json"))
        .expect(1)
        .mount(&server)
        .await;
    let health = c.health().await.unwrap();
    assert_eq!(health.handle, PAGE);
    assert_eq!(health.display_name, "Riverside Community Hospital");
    // The token travels in the header, never in the URL.
    let sent = requests(&server).await;
    assert!(!sent[0].url.as_str().contains(TOKEN));
}

#[tokio::test]
async fn publish_text_posts_to_the_feed() {
    let (server, c) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE}/feed")))
        .and(bearer())
        .respond_with(ok("feed_post.json"))
        .expect(1)
        .mount(&server)
        .await;
    let published = c.publish(&text_post("k", FLU)).await.unwrap();
    assert_eq!(published.remote.id, "105687512233355_108119451990161");
    assert_eq!(
        published.url,
        "https://www.facebook.com/105687512233355/posts/108119451990161"
    );
    let sent = requests(&server).await;
    assert_eq!(
        sent[0].headers.get("content-type").unwrap(),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        url_pairs(&sent[0].body),
        [("message".to_owned(), FLU.to_owned())]
    );
}

#[tokio::test]
async fn publish_one_photo_uses_the_photos_edge() {
    let (server, c) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE}/photos")))
        .and(bearer())
        .respond_with(ok("photo.json"))
        .expect(1)
        .mount(&server)
        .await;
    let post = Outgoing {
        images: vec![png("A nurse holding a flu vaccine syringe")],
        ..text_post("p", FLU)
    };
    let published = c.publish(&post).await.unwrap();
    assert_eq!(published.remote.id, "105687512233355_108119675323472");
    let sent = requests(&server).await;
    let body = String::from_utf8_lossy(&sent[0].body);
    assert!(
        body.contains("name=\"source\"; filename=\"photo.png\""),
        "{body}"
    );
    assert!(
        body.contains(&format!("name=\"caption\"\r\n\r\n{FLU}")),
        "{body}"
    );
    assert!(body.contains("name=\"published\"\r\n\r\ntrue"), "{body}");
    assert!(
        body.contains("name=\"alt_text_custom\"\r\n\r\nA nurse holding a flu vaccine syringe"),
        "{body}"
    );
}

#[tokio::test]
async fn publish_several_photos_attaches_unpublished_uploads() {
    let (server, c) = setup().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE}/photos")))
        .respond_with(ok("photo_unpublished_1.json"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE}/photos")))
        .respond_with(ok("photo_unpublished_2.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE}/feed")))
        .respond_with(ok("feed_post.json"))
        .expect(1)
        .mount(&server)
        .await;
    let post = Outgoing {
        images: vec![png("one"), png("two")],
        ..text_post("p2", FLU)
    };
    let published = c.publish(&post).await.unwrap();
    assert_eq!(published.remote.id, "105687512233355_108119451990161");
    let sent = requests(&server).await;
    for upload in &sent[..2] {
        assert!(String::from_utf8_lossy(&upload.body).contains("name=\"published\"\r\n\r\nfalse"));
    }
    let feed: Vec<(String, String)> = sent[2].url.query_pairs().into_owned().collect();
    assert!(feed.is_empty(), "the form goes in the body");
    let form: Vec<(String, String)> = url_pairs(&sent[2].body);
    assert_eq!(
        form,
        [
            ("message".to_owned(), FLU.to_owned()),
            (
                "attached_media[0]".to_owned(),
                r#"{"media_fbid":"108119645323475"}"#.to_owned()
            ),
            (
                "attached_media[1]".to_owned(),
                r#"{"media_fbid":"108119648656808"}"#.to_owned()
            ),
        ]
    );
}

fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    let url = format!("http://x/?{}", String::from_utf8_lossy(body));
    reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn a_reply_is_a_comment_on_the_post() {
    let (server, c) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v21.0/108119451990161_108120125323427/comments"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"id":"108119451990161_108120158656757"}"#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut post = text_post("c", "Thank you Jane!");
    post.reply_to = Some(RemoteRef::new("108119451990161_108120125323427"));
    let published = c.publish(&post).await.unwrap();
    assert_eq!(published.remote.id, "108119451990161_108120158656757");
    assert_eq!(
        url_pairs(&requests(&server).await[0].body),
        [("message".to_owned(), "Thank you Jane!".to_owned())]
    );
}

#[tokio::test]
async fn find_published_after_a_crash_matches_text_and_time() {
    let (server, c) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{PAGE}/feed")))
        .and(query_param(
            "fields",
            "id,message,created_time,permalink_url",
        ))
        .respond_with(ok("feed.json"))
        .expect(4)
        .mount(&server)
        .await;
    // The attempt began at 12:00:03.500; Graph times have whole seconds.
    let since = 1_714_564_803_500;
    let found = c
        .find_published(&text_post("k", FLU), since)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.remote.id, "105687512233355_108119451990161");
    assert_eq!(
        found.url,
        "https://www.facebook.com/105687512233355/posts/108119451990161"
    );
    assert_eq!(found.at_ms, 1_714_564_805_000);
    let older = text_post("k2", "Visiting hours change on Monday.");
    assert_eq!(c.find_published(&older, since).await.unwrap(), None);
    assert_eq!(
        c.find_published(&text_post("k3", "never posted"), 0)
            .await
            .unwrap(),
        None
    );
    let any_time = c
        .find_published(&text_post("k4", FLU), i64::MIN)
        .await
        .unwrap();
    assert_eq!(
        any_time.map(|p| p.remote.id).as_deref(),
        Some("105687512233355_108119451990161")
    );
}

#[tokio::test]
async fn delete_and_hide() {
    let (server, c) = setup().await;
    Mock::given(method("DELETE"))
        .and(path("/v21.0/105687512233355_108119451990161"))
        .and(bearer())
        .respond_with(ok("success.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v21.0/108119451990161_108120001990106"))
        .and(bearer())
        .respond_with(ok("success.json"))
        .expect(2)
        .mount(&server)
        .await;
    c.delete(&RemoteRef::new("105687512233355_108119451990161"))
        .await
        .unwrap();
    let comment = RemoteRef::new("108119451990161_108120001990106");
    c.set_hidden(&comment, true).await.unwrap();
    c.set_hidden(&comment, false).await.unwrap();
    let sent = requests(&server).await;
    assert_eq!(
        url_pairs(&sent[1].body),
        [("is_hidden".to_owned(), "true".to_owned())]
    );
    assert_eq!(
        url_pairs(&sent[2].body),
        [("is_hidden".to_owned(), "false".to_owned())]
    );
}

#[tokio::test]
async fn hiding_a_missing_comment_is_not_found() {
    let (server, c) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v21.0/108119451990161_999"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(fixture("error_unknown_object.json")),
        )
        .mount(&server)
        .await;
    let err = c
        .set_hidden(&RemoteRef::new("108119451990161_999"), true)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert!(
        err.network_message
            .starts_with("Unsupported post request. Object with ID")
    );
}

#[tokio::test]
async fn fetch_items_reads_comments_on_recent_posts() {
    let (server, c) = setup().await;
    Mock::given(method("GET"))
        .and(path(format!("/v21.0/{PAGE}/feed")))
        .and(query_param("fields", "id,created_time,permalink_url"))
        .respond_with(ok("feed_ids.json"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v21.0/105687512233355_108119451990161/comments"))
        .and(query_param("filter", "stream"))
        .respond_with(ok("comments.json"))
        .expect(2)
        .mount(&server)
        .await;
    let fetched = c.fetch_items(None).await.unwrap();
    // The page's own answer is not an incoming item.
    assert_eq!(fetched.items.len(), 2);
    let newest = &fetched.items[0];
    assert_eq!(newest.kind, ItemKind::Comment);
    assert_eq!(newest.remote.id, "108119451990161_108120125323427");
    assert_eq!(newest.author_name, "Jane Doe");
    assert_eq!(newest.author_handle, "7283920145234711");
    assert_eq!(newest.created_at_ms, 1_714_569_342_000);
    assert_eq!(
        newest.in_reply_to.as_ref().map(|r| r.id.as_str()),
        Some("105687512233355_108119451990161")
    );
    let nested = &fetched.items[1];
    assert_eq!(nested.text, "Is it free with Medicare?");
    assert_eq!(
        nested.in_reply_to.as_ref().map(|r| r.id.as_str()),
        Some("108119451990161_108120125323427")
    );
    assert_eq!(fetched.cursor.as_deref(), Some("1714569342000"));
    // From the cursor on, only the newest comment is at or after it.
    let again = c.fetch_items(fetched.cursor.as_deref()).await.unwrap();
    assert_eq!(again.items.len(), 1);
    assert_eq!(again.cursor, fetched.cursor);
    let err = c.fetch_items(Some("yesterday")).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected);
}

async fn publish_error(
    status: u16,
    body: Value,
    extra: &[(&str, &str)],
) -> connectors::ConnectorError {
    let (server, c) = setup().await;
    let mut response = ResponseTemplate::new(status).set_body_json(body);
    for (name, value) in extra {
        response = response.insert_header(*name, *value);
    }
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PAGE}/feed")))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    c.publish(&text_post("e", FLU)).await.unwrap_err()
}

#[tokio::test]
async fn token_errors_ask_for_a_reconnect() {
    let expired = publish_error(400, fixture("error_expired.json"), &[]).await;
    assert_eq!(expired.kind, ErrorKind::TokenExpired);
    assert!(expired.to_string().starts_with(
        "The Facebook access for this channel has expired; reconnect the channel: Error validating access token: Session has expired"
    ));
    assert!(expired.to_string().ends_with("(code 190, subcode 463)"));
    let revoked = publish_error(400, fixture("error_revoked.json"), &[]).await;
    assert_eq!(revoked.kind, ErrorKind::TokenRevoked);
    for e in [&expired, &revoked] {
        assert!(!e.is_retryable());
        assert!(!format!("{e} {e:?}").contains(TOKEN));
    }
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retryable() {
    let transient = publish_error(500, fixture("error_transient.json"), &[]).await;
    assert_eq!(transient.kind, ErrorKind::Unavailable);
    assert!(transient.is_retryable());
    let gateway = {
        let (server, c) = setup().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(502)
                    .set_body_string("<html><body>502 Bad Gateway</body></html>"),
            )
            .mount(&server)
            .await;
        c.publish(&text_post("g", FLU)).await.unwrap_err()
    };
    assert_eq!(gateway.kind, ErrorKind::Unavailable);
    assert_eq!(gateway.network_message, "HTTP status 502");
    let usage = r#"{"105687512233355":[{"type":"pages","call_count":100,"total_cputime":12,"total_time":14,"estimated_time_to_regain_access":7}]}"#;
    let limited = publish_error(
        400,
        fixture("error_rate_limit.json"),
        &[("x-business-use-case-usage", usage)],
    )
    .await;
    assert_eq!(limited.kind, ErrorKind::RateLimited);
    assert_eq!(limited.retry_after_ms, Some(7 * 60_000));
    assert!(limited.is_retryable());
    let page_limit = publish_error(
        400,
        fixture("error_page_request_limit.json"),
        &[
            (
                "x-page-usage",
                r#"{"call_count":100,"total_cputime":20,"total_time":25}"#,
            ),
            ("retry-after", "60"),
        ],
    )
    .await;
    assert_eq!(page_limit.kind, ErrorKind::RateLimited);
    assert_eq!(page_limit.retry_after_ms, Some(60_000));
}

#[tokio::test]
async fn bad_content_is_rejected() {
    let bad = publish_error(400, fixture("error_invalid_parameter.json"), &[]).await;
    assert_eq!(bad.kind, ErrorKind::Rejected);
    assert_eq!(
        bad.to_string(),
        "Facebook refused the post: (#100) Invalid parameter (code 100)"
    );
    let (server, c) = setup().await;
    let long = text_post("long", &"é".repeat(63_207));
    assert_eq!(
        c.publish(&long).await.unwrap_err().kind,
        ErrorKind::Rejected
    );
    let webp = Outgoing {
        images: vec![Image {
            bytes: b"RIFF....WEBP".to_vec(),
            mime: "image/webp".into(),
            alt: String::new(),
        }],
        ..text_post("webp", FLU)
    };
    let err = c.publish(&webp).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert!(
        err.network_message.contains("image/jpeg"),
        "{}",
        err.network_message
    );
    assert!(requests(&server).await.is_empty());
}
