//! Channels, compose and post pages and their JSON API over real HTTP on every backend: role
//! checks, server-side screening at submission with written overrides, per-network length limits,
//! stale edits that keep the author's text, image upload without metadata, and connecting a
//! channel whose token the network refuses (a local replay of Mastodon's documented 401 body).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use reqwest::StatusCode;
use reqwest::header::COOKIE;
use rounds_domain::secret::{hash_password, random_token, sha256_hex};
use rounds_domain::{Email, OrgKind, Role};
use rounds_store::{
    Actor, AuditFilter, Channel, NewChannel, NewOrg, NewSession, NewUser, Store, User,
};
use rounds_testkit::TestServer;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PASSWORD: &str = "correct horse battery staple";
const PHI: &str =
    "Our patient John Smith in room 12 is recovering well, call his wife at 555-867-5309";
const OVERRIDE: &str = "The family asked us to share this and signed the consent form.";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One signed-in user: cookie and CSRF token for the session.
struct As {
    cookie: String,
    csrf: String,
}

struct Org {
    store: Store,
    org_id: i64,
    bluesky: Channel,
}

async fn set_up(store: &Store) -> Org {
    let hash = hash_password(PASSWORD).unwrap();
    let org = NewOrg {
        name: "Mercy General".into(),
        kind: OrgKind::Hospital,
        is_demo: false,
    };
    let admin = NewUser {
        email: Email::parse("admin@mercy.test").unwrap(),
        display_name: "Ada Admin".into(),
        role: Role::Admin,
        password_hash: hash,
    };
    let admin = store.complete_setup(&org, &admin, None).await.unwrap().1;
    let channel = NewChannel {
        network: "bluesky".into(),
        handle: "mercy.test".into(),
        display_name: "Mercy on Bluesky".into(),
    };
    let bluesky = store
        .create_channel(admin.org_id, &channel, &Actor::system())
        .await
        .unwrap();
    Org {
        store: store.clone(),
        org_id: admin.org_id,
        bluesky,
    }
}

impl Org {
    async fn user(&self, role: Role) -> (User, As) {
        let hash = hash_password(PASSWORD).unwrap();
        let email = format!(
            "{}-{}@mercy.test",
            role.as_str(),
            random_token().unwrap().get(..8).unwrap().to_lowercase()
        );
        let new = NewUser {
            email: Email::parse(&email).unwrap(),
            display_name: format!("{} user", role.label()),
            role,
            password_hash: hash,
        };
        let user = self
            .store
            .create_user(self.org_id, &new, &Actor::system())
            .await
            .unwrap();
        if role.requires_mfa() {
            self.store
                .enable_totp(user.id, &[7u8; 20], &[], &Actor::system())
                .await
                .unwrap();
        }
        let id = random_token().unwrap();
        let csrf = random_token().unwrap();
        let session = NewSession {
            id_hash: sha256_hex(id.as_bytes()),
            user_id: user.id,
            csrf_token: csrf.clone(),
            mfa_passed: true,
            now_ms: now_ms(),
            ip: None,
            user_agent: None,
        };
        self.store.create_session(&session).await.unwrap();
        (
            user,
            As {
                cookie: format!("rounds_session={id}"),
                csrf,
            },
        )
    }

    async fn audit_actions(&self, prefix: &str) -> Vec<(String, String)> {
        let filter = AuditFilter {
            org_id: Some(self.org_id),
            action_prefix: Some(prefix.into()),
            limit: 1000,
            ..AuditFilter::default()
        };
        self.store
            .audit_page(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.detail))
            .collect()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(server: &TestServer, who: &As, url: &str) -> (StatusCode, String) {
    let res = client()
        .get(server.url(url))
        .header(COOKIE, &who.cookie)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn form(
    server: &TestServer,
    who: &As,
    url: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("csrf_token", &who.csrf));
    let res = client()
        .post(server.url(url))
        .header(COOKIE, &who.cookie)
        .form(&all)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn api(
    server: &TestServer,
    who: &As,
    verb: &str,
    url: &str,
    body: Value,
) -> (StatusCode, Value) {
    let c = client();
    let req = match verb {
        "GET" => c.get(server.url(url)),
        "PUT" => c.put(server.url(url)).json(&body),
        _ => c.post(server.url(url)).json(&body),
    };
    let res = req
        .header(COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn upload(
    server: &TestServer,
    who: &As,
    name: &str,
    bytes: Vec<u8>,
    alt: &str,
) -> (StatusCode, String) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let multipart = reqwest::multipart::Form::new()
        .part("file", part)
        .text("alt", alt.to_owned());
    let res = client()
        .post(server.url("/compose/upload"))
        .header(COOKIE, &who.cookie)
        .header("x-csrf-token", &who.csrf)
        .multipart(multipart)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

#[tokio::test]
async fn roles_guard_channels_compose_and_posts() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, viewer) = org.user(Role::Viewer).await;
        let (_, responder) = org.user(Role::Responder).await;
        assert_eq!(get(&server, &viewer, "/channels").await.0, StatusCode::OK);
        assert_eq!(
            get(&server, &viewer, "/compose").await.0,
            StatusCode::FORBIDDEN
        );
        let bluesky = [
            ("network", "bluesky"),
            ("identifier", "x.test"),
            ("app_password", "aaaa-bbbb-cccc-dddd"),
        ];
        assert_eq!(
            form(&server, &viewer, "/channels", &bluesky).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            form(&server, &responder, "/channels", &bluesky).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            form(
                &server,
                &viewer,
                "/compose",
                &[("text", "Hello"), ("intent", "draft")]
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        let draft = json!({ "body": "Flu shots this week", "channel_ids": [org.bluesky.id] });
        assert_eq!(
            api(&server, &viewer, "POST", "/api/v1/posts", draft.clone())
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            api(
                &server,
                &responder,
                "POST",
                "/api/v1/channels",
                json!({ "network": "mastodon" })
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        let (status, post) = api(&server, &responder, "POST", "/api/v1/posts", draft).await;
        assert_eq!(status, StatusCode::OK, "{post}");
        let id = post["id"].as_i64().unwrap();
        assert_eq!(
            get(&server, &viewer, &format!("/posts/{id}")).await.0,
            StatusCode::OK
        );
        assert_eq!(
            get(&server, &viewer, &format!("/posts/{id}/edit")).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            form(&server, &viewer, &format!("/posts/{id}/submit"), &[])
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            form(
                &server,
                &responder,
                &format!("/posts/{id}/publications/1/delete"),
                &[]
            )
            .await
            .0,
            StatusCode::FORBIDDEN
        );
        let channels = api(&server, &viewer, "GET", "/api/v1/channels", Value::Null).await;
        assert_eq!(channels.1[0]["handle"], "mercy.test");
    }
}

#[tokio::test]
async fn a_blocking_finding_needs_a_written_override_by_someone_who_may_publish() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, responder) = org.user(Role::Responder).await;
        let (manager_user, manager) = org.user(Role::SocialManager).await;

        // The page refuses submission, shows the findings in place and keeps the text.
        let channel = org.bluesky.id.to_string();
        let fields = [
            ("text", PHI),
            ("channel", channel.as_str()),
            ("intent", "submit"),
        ];
        let (status, page) = form(&server, &responder, "/compose", &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.contains("Screening blocks this post"), "{page}");
        assert!(
            page.contains("John Smith</mark>"),
            "the name is marked in the preview"
        );
        assert!(page.contains("Redact as [PHONE]"));
        assert!(
            page.contains("recovering well"),
            "the text stays in the form"
        );
        let phone = PHI.find("555-867-5309").unwrap();
        let (start, end) = (phone.to_string(), (phone + 12).to_string());
        let (status, field) = form(
            &server,
            &responder,
            "/compose/redact",
            &[
                ("text", PHI),
                ("start", start.as_str()),
                ("end", end.as_str()),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            field.contains("call his wife at [PHONE]") && !field.contains("5309"),
            "{field}"
        );

        let (_, post) = api(
            &server,
            &responder,
            "POST",
            "/api/v1/posts",
            json!({ "body": PHI, "channel_ids": [org.bluesky.id] }),
        )
        .await;
        let id = post["id"].as_i64().unwrap();
        assert_eq!(post["decision"], "block");
        let submit = format!("/api/v1/posts/{id}/submit");
        let (status, err) = api(&server, &responder, "POST", &submit, json!({})).await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("screening_blocked"))
        );
        let (status, err) = api(
            &server,
            &responder,
            "POST",
            &submit,
            json!({ "override_reason": OVERRIDE }),
        )
        .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "a responder cannot override"
        );
        let (status, err) = api(
            &server,
            &manager,
            "POST",
            &submit,
            json!({ "override_reason": "ok by me" }),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "too short a reason: {err}"
        );
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("at least 20 characters")
        );
        assert!(
            org.audit_actions("post.screening_overridden")
                .await
                .is_empty()
        );

        let (status, post) = api(
            &server,
            &manager,
            "POST",
            &submit,
            json!({ "override_reason": OVERRIDE }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{post}");
        assert_eq!(post["status"], "in_review");
        let overrides = org.audit_actions("post.screening_overridden").await;
        assert_eq!(overrides.len(), 1);
        assert!(overrides[0].1.contains(OVERRIDE));
        let versions = server.store.post_versions(org.org_id, id).await.unwrap();
        assert_eq!(versions[0].override_reason.as_deref(), Some(OVERRIDE));
        assert_eq!(versions[0].override_by, Some(manager_user.id));
        let (_, page) = get(&server, &manager, &format!("/posts/{id}")).await;
        assert!(page.contains("overrode screening"), "{page}");
        assert!(page.contains("In review"));
        // Reviewers see the override and its reason beside the findings.
        let (_, review) = get(&server, &manager, &format!("/approvals/{id}")).await;
        assert!(
            review.contains("submitted this version over blocking screening findings")
                && review.contains(OVERRIDE),
            "{review}"
        );
    }
}

#[tokio::test]
async fn reviewers_see_the_findings_of_the_post_as_it_will_go_out() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, responder) = org.user(Role::Responder).await;
        let (_, manager) = org.user(Role::SocialManager).await;
        let body = "Grab your own StrideBand tracker with code MERCY20 for 20% off and join our step challenge.";
        let (_, post) = api(
            &server,
            &responder,
            "POST",
            "/api/v1/posts",
            json!({ "body": body, "channel_ids": [org.bluesky.id], "paid": true }),
        )
        .await;
        let id = post["id"].as_i64().unwrap();
        let (status, post) = api(
            &server,
            &manager,
            "POST",
            &format!("/api/v1/posts/{id}/submit"),
            json!({ "override_reason": OVERRIDE }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{post}");
        // Paid content without #ad: the reviewer's screening knows the post is paid.
        let (_, review) = get(&server, &manager, &format!("/approvals/{id}")).await;
        assert!(review.contains("promotion.missing_disclosure"), "{review}");
    }
}

#[tokio::test]
async fn the_review_page_shows_the_changes_since_the_version_the_reviewer_last_opened() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, responder) = org.user(Role::Responder).await;
        let (_, manager) = org.user(Role::SocialManager).await;
        let (_, post) = api(
            &server,
            &responder,
            "POST",
            "/api/v1/posts",
            json!({ "body": "Flu shots on Saturday", "channel_ids": [org.bluesky.id] }),
        )
        .await;
        let id = post["id"].as_i64().unwrap();
        let submit = format!("/api/v1/posts/{id}/submit");
        api(&server, &responder, "POST", &submit, json!({})).await;
        let path = format!("/approvals/{id}");
        let (_, review) = get(&server, &manager, &path).await;
        assert!(review.contains("First time you see this post."), "{review}");
        let (_, review) = get(&server, &manager, &path).await;
        assert!(
            review.contains("No changes since you last opened it (version 1)."),
            "{review}"
        );

        // Opened, not decided: the next version is still shown against the one they read.
        let edit = json!({ "expected_version": 1, "body": "Free flu shots on Saturday", "channel_ids": [org.bluesky.id] });
        let (status, edited) = api(
            &server,
            &responder,
            "PUT",
            &format!("/api/v1/posts/{id}"),
            edit,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        api(&server, &responder, "POST", &submit, json!({})).await;
        let (_, review) = get(&server, &manager, &path).await;
        assert!(
            review.contains("Changes since version 1, the last version you saw:")
                && review.contains("<ins>Free flu</ins>"),
            "{review}"
        );
    }
}

#[tokio::test]
async fn a_manager_pauses_all_publishing_from_the_calendar_and_resumes_it() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, viewer) = org.user(Role::Viewer).await;
        let (_, manager) = org.user(Role::SocialManager).await;
        let (_, page) = get(&server, &viewer, "/calendar").await;
        assert!(
            !page.contains("Pause all publishing"),
            "a viewer cannot pause"
        );
        let (status, _) = form(&server, &viewer, "/calendar/pause", &[("reason", "no")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let (status, _) = form(&server, &manager, "/calendar/pause", &[("reason", " ")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a reason is required");
        let (status, _) = form(
            &server,
            &manager,
            "/calendar/pause",
            &[("reason", "Shooting downtown: all promotional posts on hold")],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, page) = get(&server, &manager, "/calendar?notice=publishing_paused").await;
        assert!(
            page.contains("Publishing is paused since")
                && page.contains("Shooting downtown: all promotional posts on hold"),
            "{page}"
        );
        assert!(page.contains("Resume publishing"));
        assert_eq!(org.audit_actions("publishing.paused").await.len(), 1);
        let (_, seen_by_viewer) = get(&server, &viewer, "/calendar").await;
        assert!(
            seen_by_viewer.contains("Publishing is paused since")
                && !seen_by_viewer.contains("Resume publishing"),
            "everyone sees the pause"
        );
        let (_, compose) = get(&server, &manager, "/compose").await;
        assert!(
            compose.contains("Publishing is paused by"),
            "authors see it where they write"
        );

        let (status, _) = form(&server, &manager, "/calendar/resume", &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, page) = get(&server, &manager, "/calendar?notice=publishing_resumed").await;
        assert!(
            page.contains("Publishing resumed.") && page.contains("Pause all publishing"),
            "{page}"
        );
        assert_eq!(org.audit_actions("publishing.resumed").await.len(), 1);
        assert_eq!(
            server.store.publishing_pause(org.org_id).await.unwrap(),
            None
        );

        // The same through the API (an emergency-notification system can pull the switch).
        let (status, _) = api(
            &server,
            &viewer,
            "POST",
            "/api/v1/publishing/pause",
            json!({ "reason": "drill" }),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, paused) = api(
            &server,
            &manager,
            "POST",
            "/api/v1/publishing/pause",
            json!({ "reason": "Code Silver drill" }),
        )
        .await;
        assert_eq!(
            (
                status,
                paused["paused"].as_bool(),
                paused["reason"].as_str()
            ),
            (StatusCode::OK, Some(true), Some("Code Silver drill")),
            "{paused}"
        );
        let (status, _) = api(
            &server,
            &manager,
            "POST",
            "/api/v1/publishing/pause",
            json!({ "reason": "again" }),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (_, state) = api(&server, &viewer, "GET", "/api/v1/publishing", Value::Null).await;
        assert_eq!(state["paused"], true, "{state}");
        let (status, resumed) = api(
            &server,
            &manager,
            "POST",
            "/api/v1/publishing/resume",
            Value::Null,
        )
        .await;
        assert_eq!(
            (status, resumed["paused"].as_bool()),
            (StatusCode::OK, Some(false)),
            "{resumed}"
        );
    }
}

#[tokio::test]
async fn too_long_for_bluesky_is_refused_with_the_count() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, manager) = org.user(Role::SocialManager).await;
        let body = "Flu shots are free this week at every clinic. ".repeat(7);
        let (_, post) = api(
            &server,
            &manager,
            "POST",
            "/api/v1/posts",
            json!({ "body": body, "channel_ids": [org.bluesky.id] }),
        )
        .await;
        let id = post["id"].as_i64().unwrap();
        let (status, err) = api(
            &server,
            &manager,
            "POST",
            &format!("/api/v1/posts/{id}/submit"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let message = err["message"].as_str().unwrap();
        assert!(
            message.contains("Too long for Bluesky") && message.contains("at most 300"),
            "{message}"
        );
        assert_eq!(
            server
                .store
                .post(org.org_id, id)
                .await
                .unwrap()
                .status
                .as_str(),
            "draft"
        );
        // The compose preview marks the part past the limit.
        let channel = org.bluesky.id.to_string();
        let (status, preview) = form(
            &server,
            &manager,
            "/compose/preview",
            &[("text", body.trim()), ("channel", channel.as_str())],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            preview.contains("too long") && preview.contains("class=\"over\""),
            "{preview}"
        );
    }
}

#[tokio::test]
async fn a_stale_edit_is_a_conflict_that_keeps_the_text() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, author) = org.user(Role::Responder).await;
        let (_, post) = api(
            &server,
            &author,
            "POST",
            "/api/v1/posts",
            json!({ "body": "Version one", "channel_ids": [org.bluesky.id] }),
        )
        .await;
        let id = post["id"].as_i64().unwrap();
        let edit = json!({ "expected_version": 1, "body": "Version two", "channel_ids": [org.bluesky.id] });
        let (status, edited) = api(
            &server,
            &author,
            "PUT",
            &format!("/api/v1/posts/{id}"),
            edit.clone(),
        )
        .await;
        assert_eq!(
            (status, edited["version"].as_i64()),
            (StatusCode::OK, Some(2))
        );
        let (status, err) = api(
            &server,
            &author,
            "PUT",
            &format!("/api/v1/posts/{id}"),
            edit,
        )
        .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::CONFLICT, Some("conflict"))
        );

        let channel = org.bluesky.id.to_string();
        let mine = "My careful words that took an hour";
        let fields = [
            ("text", mine),
            ("channel", channel.as_str()),
            ("version", "1"),
            ("intent", "draft"),
        ];
        let (status, page) = form(&server, &author, &format!("/posts/{id}/edit"), &fields).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(page.contains("changed since you opened it"), "{page}");
        assert!(page.contains(mine), "the author's text is kept");
        assert_eq!(
            server.store.post(org.org_id, id).await.unwrap().body,
            "Version two"
        );
    }
}

fn jpeg_with_gps() -> Vec<u8> {
    let mut plain = Vec::new();
    let pixels: Vec<u8> = (0..16 * 8 * 3).map(|i| (i * 7 % 251) as u8).collect();
    jpeg_encoder::Encoder::new(&mut plain, 80)
        .encode(&pixels, 16, 8, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let mut exif = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 42/1 21/1 3600/100 N".to_vec();
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&u16::try_from(exif.len() + 2).unwrap().to_be_bytes());
    segment.append(&mut exif);
    let mut out = plain[..2].to_vec();
    out.extend(segment);
    out.extend_from_slice(&plain[2..]);
    out
}

#[tokio::test]
async fn uploads_lose_their_location_and_odd_types_are_refused_in_words() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, author) = org.user(Role::Responder).await;
        let input = jpeg_with_gps();
        let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        assert!(contains(&input, b"GPSLatitude"));
        let (status, fragment) = upload(&server, &author, "ward.jpg", input, "Our new lobby").await;
        assert_eq!(status, StatusCode::OK, "{fragment}");
        assert!(fragment.contains("removed: EXIF"), "{fragment}");
        let id: i64 = fragment
            .split("name=\"media\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let (mime, bytes) = server
            .store
            .media_bytes(org.org_id, id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(mime, "image/jpeg");
        assert!(!contains(&bytes, b"GPSLatitude") && !contains(&bytes, b"Exif"));

        let svg =
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
        let (status, body) = upload(&server, &author, "logo.svg", svg, "logo").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("SVG drawings are not supported"), "{body}");
        let heic = [&[0, 0, 0, 24][..], b"ftypheic", &[0, 0, 0, 0], b"mif1heic"].concat();
        let (status, body) = upload(&server, &author, "IMG_0001.HEIC", heic, "photo").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("HEIC images are not supported"), "{body}");

        // An image needs alt text before submission.
        let (_, post) = api(&server, &author, "POST", "/api/v1/posts", json!({ "body": "Our new lobby is open", "channel_ids": [org.bluesky.id], "media_ids": [id] })).await;
        let post_id = post["id"].as_i64().unwrap();
        server
            .store
            .set_media_alt(org.org_id, id, "", &Actor::system())
            .await
            .unwrap();
        let (status, err) = api(
            &server,
            &author,
            "POST",
            &format!("/api/v1/posts/{post_id}/submit"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            err["message"].as_str().unwrap().contains("alt text"),
            "{err}"
        );
    }
}

/// A photo the size a phone takes (noise compresses badly: about 3 MB).
fn phone_photo() -> Vec<u8> {
    let (w, h) = (1600u16, 1200u16);
    let mut state = 0x2545_f491_u32;
    let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h) * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90)
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

#[tokio::test]
async fn a_phone_photo_uploads_and_a_network_that_takes_smaller_images_says_so_before_submission() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, author) = org.user(Role::SocialManager).await;
        let photo = phone_photo();
        assert!(
            (1_500_000..rounds_store::MAX_MEDIA_BYTES).contains(&photo.len()),
            "{}",
            photo.len()
        );
        let (status, fragment) = upload(
            &server,
            &author,
            "IMG_2041.jpg",
            photo,
            "Nurses at the new lobby desk",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{fragment}");
        let id: i64 = fragment
            .split("name=\"media\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();

        // The preview says at once that Bluesky would refuse it, and submission is refused the same way.
        let (channel, media) = (org.bluesky.id.to_string(), id.to_string());
        let fields = [
            ("text", "Our new lobby is open"),
            ("channel", channel.as_str()),
            ("media", media.as_str()),
        ];
        let (status, preview) = form(&server, &author, "/compose/preview", &fields).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            preview.contains("class=\"image-problems")
                && preview.contains("Bluesky takes images up to 1.0 MB"),
            "{preview}"
        );
        let (_, post) = api(&server, &author, "POST", "/api/v1/posts", json!({ "body": "Our new lobby is open", "channel_ids": [org.bluesky.id], "media_ids": [id] })).await;
        let post_id = post["id"].as_i64().unwrap();
        let (status, err) = api(
            &server,
            &author,
            "POST",
            &format!("/api/v1/posts/{post_id}/submit"),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("attach a smaller copy"),
            "{err}"
        );
        assert_eq!(
            server
                .store
                .post(org.org_id, post_id)
                .await
                .unwrap()
                .status
                .as_str(),
            "draft"
        );

        // Forms keep the small limit: a 2 MB preview is refused before it is read.
        let big = "a".repeat(2 * 1024 * 1024);
        let (status, _) = form(
            &server,
            &author,
            "/compose/preview",
            &[("text", big.as_str())],
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }
}

#[tokio::test]
async fn a_token_mastodon_refuses_shows_its_words_and_stores_nothing() {
    let mastodon = MockServer::start().await;
    // Mastodon's documented body for a bad token (GET /api/v1/accounts/verify_credentials).
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({ "error": "The access token is invalid" })),
        )
        .mount(&mastodon)
        .await;
    let secret = "SECRET-token-7f3a9c2e41";
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, manager) = org.user(Role::SocialManager).await;
        let before = server.store.channels(org.org_id).await.unwrap().len();
        let uri = mastodon.uri();
        let fields = [
            ("network", "mastodon"),
            ("instance", uri.as_str()),
            ("access_token", secret),
        ];
        let (status, page) = form(&server, &manager, "/channels", &fields).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("The access token is invalid"), "{page}");
        assert!(!page.contains(secret), "the token is not echoed");
        assert!(page.contains(&mastodon.uri()), "the instance URL is kept");
        assert_eq!(
            server.store.channels(org.org_id).await.unwrap().len(),
            before
        );
        let (status, err) = api(
            &server,
            &manager,
            "POST",
            "/api/v1/channels",
            json!({ "network": "mastodon", "instance": mastodon.uri(), "access_token": secret }),
        )
        .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("network_refused"))
        );
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("The access token is invalid")
        );
        assert!(!err.to_string().contains(secret));
        assert_eq!(
            server.store.channels(org.org_id).await.unwrap().len(),
            before
        );
        let all = org.audit_actions("").await;
        assert!(all.iter().all(|(_, detail)| !detail.contains(secret)));
        assert!(!all.iter().any(|(action, _)| action == "channel.connected"));
    }
}

#[tokio::test]
async fn a_token_mastodon_accepts_connects_the_channel_sealed() {
    let mastodon = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .respond_with(ResponseTemplate::new(200).set_body_string(include_str!(
            "../../connectors/tests/fixtures/mastodon/account.json"
        )))
        .mount(&mastodon)
        .await;
    let secret = "SECRET-token-5b1d0e8f22";
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, manager) = org.user(Role::SocialManager).await;
        let uri = mastodon.uri();
        let fields = [
            ("network", "mastodon"),
            ("instance", uri.as_str()),
            ("access_token", secret),
        ];
        let (status, _) = form(&server, &manager, "/channels", &fields).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let channels = server.store.channels(org.org_id).await.unwrap();
        let added = channels.iter().find(|c| c.network == "mastodon").unwrap();
        assert_eq!(added.status.as_str(), "connected");
        let sealed = server
            .store
            .channel_credentials(org.org_id, added.id)
            .await
            .unwrap()
            .unwrap();
        assert!(sealed.contains(secret));
        let (_, page) = get(&server, &manager, "/channels").await;
        assert!(page.contains(&added.handle) && !page.contains(secret));
        let (status, _) = form(
            &server,
            &manager,
            &format!("/channels/{}/check", added.id),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(
            server
                .store
                .channel(org.org_id, added.id)
                .await
                .unwrap()
                .unwrap()
                .last_success_at
                .is_some()
        );
        assert!(
            org.audit_actions("")
                .await
                .iter()
                .all(|(_, d)| !d.contains(secret))
        );
    }
}

#[tokio::test]
async fn api_create_edit_submit_round_trip() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, author) = org.user(Role::Responder).await;
        let (status, post) = api(
            &server,
            &author,
            "POST",
            "/api/v1/posts",
            json!({ "body": "Flu shots this week", "channel_ids": [org.bluesky.id], "content_type": "disease_awareness", "scheduled_at": "2030-01-02T09:30:00Z" }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{post}");
        let id = post["id"].as_i64().unwrap();
        assert_eq!(
            (post["status"].as_str(), post["version"].as_i64()),
            (Some("draft"), Some(1))
        );
        assert_eq!(post["scheduled_at"].as_i64(), Some(1_893_576_600_000));
        let (status, bad) = api(
            &server,
            &author,
            "POST",
            "/api/v1/posts",
            json!({ "body": "x", "content_type": "gossip" }),
        )
        .await;
        assert_eq!(
            (status, bad["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_input"))
        );
        let edit = json!({ "expected_version": 1, "body": "Flu shots this week and next", "channel_ids": [org.bluesky.id], "content_type": "disease_awareness" });
        let (status, edited) = api(
            &server,
            &author,
            "PUT",
            &format!("/api/v1/posts/{id}"),
            edit,
        )
        .await;
        assert_eq!(
            (status, edited["version"].as_i64()),
            (StatusCode::OK, Some(2))
        );
        let (status, submitted) = api(
            &server,
            &author,
            "POST",
            &format!("/api/v1/posts/{id}/submit"),
            json!({ "expected_version": 2 }),
        )
        .await;
        assert_eq!(
            (status, submitted["status"].as_str()),
            (StatusCode::OK, Some("in_review")),
            "{submitted}"
        );
        let (_, read) = api(
            &server,
            &author,
            "GET",
            &format!("/api/v1/posts/{id}"),
            Value::Null,
        )
        .await;
        assert_eq!(read["body"], "Flu shots this week and next");
        assert_eq!(read["decision"], "allow");
        let (status, err) = api(
            &server,
            &author,
            "POST",
            &format!("/api/v1/posts/{id}/schedule"),
            json!({ "at": "2030-01-03T09:30:00Z" }),
        )
        .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::CONFLICT, Some("conflict")),
            "not approved yet: {err}"
        );
        let (status, _) = api(
            &server,
            &author,
            "POST",
            &format!("/api/v1/posts/{id}/schedule"),
            json!({ "at": "tomorrow" }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(org.audit_actions("post.submitted").await.len(), 1);
    }
}

#[tokio::test]
async fn an_admin_sets_the_time_zone_and_a_bogus_one_changes_nothing() {
    for server in TestServer::every_backend().await.unwrap() {
        let org = set_up(&server.store).await;
        let (_, admin) = org.user(Role::Admin).await;
        let (_, viewer) = org.user(Role::Viewer).await;
        let fields = |zone| {
            [
                ("org_name", "Mercy General"),
                ("org_kind", "hospital"),
                ("time_zone", zone),
            ]
        };
        let (status, _) = form(&server, &admin, "/settings", &fields("America/Chicago")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(
            org.store
                .settings(org.org_id)
                .await
                .unwrap()
                .get("time_zone")
                .map(String::as_str),
            Some("America/Chicago")
        );
        let (status, page) = get(&server, &admin, "/settings").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains(r#"<option value="America/Chicago" selected>"#),
            "{page}"
        );
        assert!(!page.contains(r#"<option value="UTC" selected>"#));
        assert!(
            org.audit_actions("")
                .await
                .iter()
                .any(|(_, detail)| detail.contains("America/Chicago")),
            "the change is audited"
        );

        let (status, page) = form(&server, &admin, "/settings", &fields("Mars/Olympus_Mons")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("is not a time zone name"), "{page}");
        assert_eq!(
            org.store
                .settings(org.org_id)
                .await
                .unwrap()
                .get("time_zone")
                .map(String::as_str),
            Some("America/Chicago")
        );

        let (status, _) = form(&server, &viewer, "/settings", &fields("Europe/London")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            org.store
                .settings(org.org_id)
                .await
                .unwrap()
                .get("time_zone")
                .map(String::as_str),
            Some("America/Chicago")
        );
    }
}
