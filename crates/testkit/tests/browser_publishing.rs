//! Publishing review over HTTP on every backend: an approval chain set up on the settings page, a
//! two-step sign-off by two reviewers (one on the review page, one through the API), a decision on a
//! stale version refused, the word diff since the version a reviewer decided on, the calendar with
//! its re-scheduling form, the archive with the network link and the approval record, the JSON
//! Lines export, and notifications; then two reviewers signing off in their own headless Chromium
//! sessions, the real publisher putting the post on the local Bluesky network, and the calendar and
//! the archive showing it with its network link.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use rounds_domain::secret::{hash_password, sha256_hex};
use rounds_domain::{Email, OrgKind, Role};
use rounds_store::{
    Actor, NewChannel, NewOrg, NewPost, NewUser, PostEdit, PostStatus, PublishedRecord, Store, User,
};
use rounds_testkit::TestServer;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `YYYY-MM-DDTHH:MM` in UTC (the organization's default time zone) of a Unix-ms instant.
fn utc_minute(ms: i64) -> String {
    let (days, secs) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// A signed-in browser session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

/// Signs in with the form, as a browser would (the sandbox organization needs no second factor).
async fn sign_in(server: &TestServer, email: &str) -> Session {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .post(server.url("/login"))
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in of {email}");
    let id = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("rounds_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .unwrap();
    let (session, _) = server
        .store
        .session(&sha256_hex(id.as_bytes()))
        .await
        .unwrap()
        .unwrap();
    Session {
        cookie: format!("rounds_session={id}"),
        csrf: session.csrf_token,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(server: &TestServer, s: &Session, path: &str) -> (StatusCode, String) {
    let res = client()
        .get(server.url(path))
        .header(COOKIE, &s.cookie)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// Posts a form with the session's CSRF token; returns the status, the redirect target and the body.
async fn post_form(
    server: &TestServer,
    s: &Session,
    path: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", s.csrf.as_str())];
    form.extend_from_slice(fields);
    let res = client()
        .post(server.url(path))
        .header(COOKIE, &s.cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (res.status(), location, res.text().await.unwrap())
}

async fn add_user(store: &Store, org_id: i64, email: &str, name: &str, role: Role) -> User {
    let user = NewUser {
        email: Email::parse(email).unwrap(),
        display_name: name.into(),
        role,
        password_hash: hash_password(PASSWORD).unwrap(),
    };
    store
        .create_user(org_id, &user, &Actor::system())
        .await
        .unwrap()
}

#[test]
fn utc_minutes_are_civil_times() {
    assert_eq!(utc_minute(0), "1970-01-01T00:00");
    assert_eq!(utc_minute(1_782_907_500_000), "2026-07-01T12:05");
    assert_eq!(utc_minute(951_782_400_000), "2000-02-29T00:00");
}

#[tokio::test]
async fn two_step_review_then_calendar_archive_and_notifications() {
    for server in TestServer::every_backend().await.unwrap() {
        let store = &server.store;
        let (org, admin) = sandbox(store).await;
        let author = add_user(
            store,
            org.id,
            "sam@mercy.test",
            "Sam Social",
            Role::SocialManager,
        )
        .await;
        add_user(
            store,
            org.id,
            "lee@mercy.test",
            "Lee Legal",
            Role::LegalReviewer,
        )
        .await;
        let medical = add_user(
            store,
            org.id,
            "mo@mercy.test",
            "Mo Medical",
            Role::MedicalReviewer,
        )
        .await;
        let actor = |u: &User| Actor::user(u, None);
        let channel = store
            .create_channel(
                org.id,
                &NewChannel {
                    network: "bluesky".into(),
                    handle: "mercy.test".into(),
                    display_name: "Mercy".into(),
                },
                &actor(&admin),
            )
            .await
            .unwrap();

        // The chain, on the settings page: Legal, then Medical.
        let admin_s = sign_in(&server, "admin@mercy.test").await;
        let (status, _, body) = post_form(
            &server,
            &admin_s,
            "/settings/approvals",
            &[
                ("name", "Clinical"),
                ("channel", ""),
                ("content_type", ""),
                ("role_1", ""),
            ],
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "a chain without steps is refused"
        );
        assert!(body.contains("at least one step"), "{body}");
        let steps = [
            ("name", "Clinical"),
            ("channel", ""),
            ("content_type", ""),
            ("role_1", "legal_reviewer"),
            ("mode_1", "any"),
            ("role_2", "medical_reviewer"),
            ("mode_2", "any"),
        ];
        let (status, location, _) =
            post_form(&server, &admin_s, "/settings/approvals", &steps).await;
        assert_eq!(
            (status, location.as_str()),
            (
                StatusCode::SEE_OTHER,
                "/settings/approvals?notice=chain_saved"
            )
        );
        let (_, page) = get(&server, &admin_s, "/settings/approvals").await;
        assert!(
            page.contains("Legal/Regulatory reviewer (any one) → Medical reviewer (any one)"),
            "{page}"
        );

        // A post due in two hours, submitted by its author.
        let slot = now_ms() + 2 * 3_600_000;
        let new = NewPost {
            author_id: Some(author.id),
            body: "Join our flu shot clinic on Saturday".into(),
            channel_ids: vec![channel.id],
            status: PostStatus::Draft,
            scheduled_at: Some(slot),
            paid: false,
            content_type: "general".into(),
            media_ids: Vec::new(),
        };
        let post = store
            .create_post(org.id, &new, &actor(&author))
            .await
            .unwrap();
        store
            .submit_post(
                org.id,
                post.id,
                1,
                json!({"decision": "allow", "findings": []}),
                None,
                &actor(&author),
            )
            .await
            .unwrap();

        // Legal sees it first in their queue, for the first time, with the deadline flagged.
        let legal_s = sign_in(&server, "lee@mercy.test").await;
        let (_, count) = get(&server, &legal_s, "/notifications/count").await;
        assert!(count.contains("id=\"unread-count\">1<"), "{count}");
        let (_, notes) = get(&server, &legal_s, "/notifications").await;
        assert!(
            notes.contains("A post is waiting for your approval."),
            "{notes}"
        );
        let (_, count) = get(&server, &legal_s, "/notifications/count").await;
        assert!(
            !count.contains("unread-count"),
            "opening the list marks them read: {count}"
        );
        let (_, queue) = get(&server, &legal_s, "/approvals").await;
        let mine = queue.split("Everything else in review").next().unwrap();
        assert!(
            mine.contains(&format!("/approvals/{}", post.id)) && mine.contains("approval due"),
            "{queue}"
        );
        let (_, review) = get(&server, &legal_s, &format!("/approvals/{}", post.id)).await;
        assert!(review.contains("First time you see this post."), "{review}");
        assert!(
            review.contains("Step 1 of 2: waiting for Legal/Regulatory reviewer"),
            "{review}"
        );

        let path = format!("/approvals/{}", post.id);
        let (status, location, _) = post_form(
            &server,
            &legal_s,
            &path,
            &[
                ("kind", "approve"),
                ("comment", ""),
                ("expected_version", "1"),
            ],
        )
        .await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, "/approvals?notice=decision_recorded")
        );

        // The author edits and resubmits: the approval of version 1 is void, and a decision sent
        // from a page still showing version 1 is refused.
        let edit = PostEdit {
            body: "Join our free flu shot clinic on Saturday".into(),
            channel_ids: vec![channel.id],
            paid: false,
            scheduled_at: Some(slot),
            content_type: "general".into(),
            media_ids: Vec::new(),
        };
        store
            .update_post(org.id, post.id, 1, &edit, &actor(&author))
            .await
            .unwrap();
        store
            .submit_post(
                org.id,
                post.id,
                2,
                json!({"decision": "allow", "findings": []}),
                None,
                &actor(&author),
            )
            .await
            .unwrap();
        let (status, _, body) = post_form(
            &server,
            &legal_s,
            &path,
            &[
                ("kind", "approve"),
                ("comment", ""),
                ("expected_version", "1"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(
            body.contains("This post changed since you opened it; review the new version."),
            "{body}"
        );
        // The refusal shows the new version with what changed since the one the reviewer saw.
        assert!(
            body.contains("Changes since version 1, the last version you saw:"),
            "{body}"
        );
        assert!(body.contains("<ins>free </ins>"), "{body}");
        let (_, review) = get(&server, &legal_s, &path).await;
        assert!(
            review.contains("No changes since you last opened it (version 2)."),
            "{review}"
        );
        let (status, _, body) = post_form(
            &server,
            &legal_s,
            &path,
            &[
                ("kind", "reject"),
                ("comment", " "),
                ("expected_version", "2"),
            ],
        )
        .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "a rejection needs a comment"
        );
        assert!(body.contains("Write a comment"), "{body}");
        let (status, location, _) = post_form(
            &server,
            &legal_s,
            &path,
            &[
                ("kind", "approve"),
                ("comment", "Fine"),
                ("expected_version", "2"),
            ],
        )
        .await;
        assert_eq!(
            (status, location.as_str()),
            (StatusCode::SEE_OTHER, "/approvals?notice=decision_recorded")
        );

        // Medical decides through the API; the author may not decide on their own post.
        let token = "rnd_medical_token_for_tests_0123456789";
        store
            .create_api_token(
                medical.id,
                "tests",
                &sha256_hex(token.as_bytes()),
                "rnd_medi",
                &actor(&medical),
            )
            .await
            .unwrap();
        let api = |path: &str| client().get(server.url(path)).bearer_auth(token);
        let queue: Value = api("/api/v1/approvals")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(queue[0]["post_id"], post.id, "{queue}");
        assert_eq!(queue[0]["version"], 2);
        assert_eq!(queue[0]["progress"]["state"], "awaiting_step");
        let decide = |body: Value| {
            client()
                .post(server.url(&format!("/api/v1/posts/{}/decisions", post.id)))
                .bearer_auth(token)
                .json(&body)
                .send()
        };
        let bad = decide(json!({"kind": "request_changes", "expected_version": 2}))
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let stale = decide(json!({"kind": "approve", "expected_version": 1}))
            .await
            .unwrap();
        assert_eq!(stale.status(), StatusCode::CONFLICT);
        let done = decide(json!({"kind": "approve", "expected_version": 2}))
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::OK);
        let done: Value = done.json().await.unwrap();
        assert_eq!(
            (done["status"].as_str(), done["progress"]["state"].as_str()),
            (Some("scheduled"), Some("complete")),
            "{done}"
        );

        // The record lists every decision, the voided one on version 1 included.
        let (_, review) = get(&server, &legal_s, &path).await;
        assert!(
            review.contains("You already decided on this version (version 2)."),
            "{review}"
        );
        assert!(
            review.contains("Approved by Lee Legal") && review.contains("Approved by Mo Medical"),
            "{review}"
        );
        assert!(
            review.contains(
                "<td>1</td><td>1</td><td>Lee Legal (lee@mercy.test)</td><td>Approved</td>"
            ),
            "{review}"
        );

        // The calendar shows it on its day with a re-scheduling form; moving it keeps it scheduled.
        let today = utc_minute(slot)[..10].to_owned();
        let (_, cal) = get(
            &server,
            &admin_s,
            &format!("/calendar?view=week&date={today}"),
        )
        .await;
        assert!(
            cal.contains(&format!("id=\"post-{}\"", post.id)) && cal.contains("Scheduled"),
            "{cal}"
        );
        assert!(
            cal.contains(&format!("action=\"/calendar/{}/reschedule\"", post.id)),
            "{cal}"
        );
        let (status, _, body) = post_form(
            &server,
            &admin_s,
            &format!("/calendar/{}/reschedule", post.id),
            &[("at", "2001-01-01T10:00"), ("view", "week")],
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let at = utc_minute(slot + 3_600_000);
        let (status, location, _) = post_form(
            &server,
            &admin_s,
            &format!("/calendar/{}/reschedule", post.id),
            &[("at", at.as_str()), ("view", "week")],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert!(
            location.starts_with("/calendar?view=week&date=")
                && location.contains("notice=rescheduled"),
            "{location}"
        );
        let moved = store.post(org.id, post.id).await.unwrap();
        assert_eq!(moved.status, PostStatus::Scheduled);
        assert_eq!(
            moved.scheduled_at.map(|t| t / 60_000),
            Some((slot + 3_600_000) / 60_000)
        );

        // The worker publishes it; the archive shows the link and who approved which version.
        let jobs = store
            .claim_due_jobs("test-worker", moved.scheduled_at.unwrap() + 1, 60_000, 10)
            .await
            .unwrap();
        assert_eq!(jobs.len(), 1);
        let url = "https://bsky.app/profile/mercy.test/post/3kabc";
        let record = PublishedRecord {
            remote: json!({"uri": "at://did:plc:x/app.bsky.feed.post/3kabc"}),
            url: Some(url.into()),
            at_ms: now_ms(),
        };
        assert!(
            store
                .complete_job(jobs[0].job_id, "test-worker", &record)
                .await
                .unwrap()
        );
        let (_, archive) = get(&server, &admin_s, "/archive").await;
        assert!(archive.contains(&format!("href=\"{url}\"")), "{archive}");
        assert!(
            archive.contains("Approved by Lee Legal (lee@mercy.test) — version 2, step 1"),
            "{archive}"
        );
        assert!(
            archive.contains("Approved by Mo Medical (mo@mercy.test) — version 2, step 2"),
            "{archive}"
        );
        assert!(archive.contains("allow, 0 findings"), "{archive}");
        let (_, filtered) = get(
            &server,
            &admin_s,
            &format!(
                "/archive?channel={}&from=2001-01-01&to=2001-01-02",
                channel.id
            ),
        )
        .await;
        assert!(filtered.contains("Nothing archived matches."), "{filtered}");
        let (status, jsonl) = get(
            &server,
            &admin_s,
            &format!("/archive/export.jsonl?channel={}", channel.id),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let lines: Vec<Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["url"], url);
        assert_eq!(
            lines[0]["record"]["approvals"].as_array().map(Vec::len),
            Some(3),
            "both versions' decisions"
        );
        let denied = api("/api/v1/archive").send().await.unwrap();
        assert_eq!(
            denied.status(),
            StatusCode::FORBIDDEN,
            "a Medical reviewer has no archive access"
        );
        let admin_token = "rnd_admin_token_for_tests_0123456789";
        store
            .create_api_token(
                admin.id,
                "tests",
                &sha256_hex(admin_token.as_bytes()),
                "rnd_admi",
                &actor(&admin),
            )
            .await
            .unwrap();
        let archived: Value = client()
            .get(server.url("/api/v1/archive"))
            .bearer_auth(admin_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(archived["items"][0]["post_id"], post.id, "{archived}");
        assert_eq!(archived["items"][0]["url"], url);

        // The published post stays on the calendar (API and page) with its address.
        let (from, to) = (
            format!("{}:00Z", utc_minute(now_ms() - 86_400_000)),
            format!("{}:00Z", utc_minute(now_ms() + 86_400_000)),
        );
        let cal: Value = api(&format!("/api/v1/calendar?from={from}&to={to}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(cal[0]["status"], "published", "{cal}");
        assert_eq!(cal[0]["publications"][0]["url"], url);
        let bad = api("/api/v1/calendar?from=yesterday&to=today")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let (_, page) = get(&server, &admin_s, "/calendar").await;
        assert!(
            page.contains("Published") && page.contains(&format!("href=\"{url}\"")),
            "{page}"
        );
    }
}

/// A sandbox organization (no second factor needed) and its administrator, who signs in with [`PASSWORD`].
async fn sandbox(store: &Store) -> (rounds_store::Org, User) {
    let org = NewOrg {
        name: "Mercy Sandbox".into(),
        kind: OrgKind::Hospital,
        is_demo: true,
    };
    let admin = NewUser {
        email: Email::parse("admin@mercy.test").unwrap(),
        display_name: "Ada Admin".into(),
        role: Role::Admin,
        password_hash: hash_password(PASSWORD).unwrap(),
    };
    store.complete_setup(&org, &admin, None).await.unwrap()
}

/// Waits (bounded) for an element matching `css` in a browser.
async fn wait_for(browser: &rounds_testkit::Browser, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(std::time::Duration::from_secs(20))
        .for_element(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css:?}: {e}"))
}

/// Signs in on the sign-in page and waits for the home page.
async fn browser_sign_in(browser: &rounds_testkit::Browser, server: &TestServer, email: &str) {
    browser.goto(&server.url("/login")).await.unwrap();
    wait_for(browser, "input[name=email]")
        .await
        .send_keys(email)
        .await
        .unwrap();
    wait_for(browser, "input[name=password]")
        .await
        .send_keys(PASSWORD)
        .await
        .unwrap();
    wait_for(browser, "form[action='/login'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    wait_for(browser, "nav.sections").await;
}

#[tokio::test]
async fn two_reviewers_sign_off_in_their_own_browsers() {
    let Some(server) = TestServer::start(rounds_store::Backend::Sqlite)
        .await
        .unwrap()
    else {
        return;
    };
    let store = &server.store;
    let (org, admin) = sandbox(store).await;
    let author = add_user(
        store,
        org.id,
        "sam@mercy.test",
        "Sam Social",
        Role::SocialManager,
    )
    .await;
    add_user(
        store,
        org.id,
        "lee@mercy.test",
        "Lee Legal",
        Role::LegalReviewer,
    )
    .await;
    add_user(
        store,
        org.id,
        "mo@mercy.test",
        "Mo Medical",
        Role::MedicalReviewer,
    )
    .await;
    let channel = store
        .create_channel(
            org.id,
            &NewChannel {
                network: "bluesky".into(),
                handle: "mercy.test".into(),
                display_name: "Mercy".into(),
            },
            &Actor::user(&admin, None),
        )
        .await
        .unwrap();
    let steps = vec![
        rounds_domain::publishing::ChainStep {
            role: Role::LegalReviewer,
            mode: rounds_domain::publishing::StepMode::Any,
        },
        rounds_domain::publishing::ChainStep {
            role: Role::MedicalReviewer,
            mode: rounds_domain::publishing::StepMode::Any,
        },
    ];
    let chain = rounds_store::NewChain {
        name: "Clinical".into(),
        channel_id: None,
        content_type: None,
        chain: rounds_domain::publishing::ApprovalChain::new(steps).unwrap(),
    };
    store
        .save_approval_chain(org.id, &chain, &Actor::user(&admin, None))
        .await
        .unwrap();
    // The slot is a whole minute, as the form's date-and-time field holds it.
    let slot = (now_ms() + 3 * 3_600_000) / 60_000 * 60_000;
    let post = compose_blocked_then_redacted(&server, org.id, author.id, channel.id, slot).await;

    for (email, step) in [
        ("lee@mercy.test", "Step 1 of 2"),
        ("mo@mercy.test", "Step 2 of 2"),
    ] {
        let Some(browser) = rounds_testkit::Browser::start().await.unwrap() else {
            return;
        };
        browser_sign_in(&browser, &server, email).await;
        browser.goto(&server.url("/approvals")).await.unwrap();
        wait_for(&browser, &format!("a[href='/approvals/{}']", post.id))
            .await
            .click()
            .await
            .unwrap();
        let summary = wait_for(&browser, "p.chain-summary")
            .await
            .text()
            .await
            .unwrap();
        assert!(summary.starts_with(step), "{email} sees {summary:?}");
        assert_eq!(
            wait_for(&browser, ".diff-note").await.text().await.unwrap(),
            "First time you see this post."
        );
        wait_for(&browser, "button[name=kind][value=approve]")
            .await
            .click()
            .await
            .unwrap();
        let notice = wait_for(&browser, "main .notice")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(notice, "Your decision was recorded.");
        if email.starts_with("mo") {
            let day = &utc_minute(slot)[..10];
            browser
                .goto(&server.url(&format!("/calendar?view=week&date={day}")))
                .await
                .unwrap();
            let status = wait_for(&browser, &format!("#post-{} .badge.status", post.id))
                .await
                .text()
                .await
                .unwrap();
            assert_eq!(status, "Scheduled");
        }
        browser.close().await.unwrap();
    }
    assert_eq!(
        store.post(org.id, post.id).await.unwrap().status,
        PostStatus::Scheduled
    );

    // Publishing, by the real publisher, to an account on the local Bluesky network.
    let Some(pds) = connectors::testing::local_pds() else {
        return;
    };
    let account = connectors::testing::LocalAccount::create(&pds).await;
    let (handle, credentials) = (account.handle.clone(), account.creds.clone());
    let health = rounds_store::ChannelHealth {
        handle: handle.clone(),
        display_name: handle.clone(),
        token_expires_at: None,
    };
    store
        .connect_channel(
            org.id,
            channel.id,
            &serde_json::to_string(&credentials).unwrap(),
            &health,
            &Actor::user(&admin, None),
        )
        .await
        .unwrap();
    let publisher = jobs::Publisher::new(
        store.clone(),
        connectors::http_client(connectors::Reach::AnyHost),
        "browser-test".into(),
        jobs::PublisherOptions::default(),
    );
    let reports = publisher.publish_due(slot + 1_000).await.unwrap();
    let jobs::Outcome::Published { url } = &reports[0].outcome else {
        panic!("{reports:?}")
    };
    assert!(
        url.starts_with(&format!("https://bsky.app/profile/{handle}/post/")),
        "{url}"
    );
    let Some(browser) = rounds_testkit::Browser::start().await.unwrap() else {
        return;
    };
    browser_sign_in(&browser, &server, "admin@mercy.test").await;
    browser.goto(&server.url("/archive")).await.unwrap();
    wait_for(&browser, &format!("a.network-link[href='{url}']")).await;
    let record = wait_for(&browser, "ul.approvals")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        record.contains("Approved by Lee Legal") && record.contains("Approved by Mo Medical"),
        "{record}"
    );
    let day = &utc_minute(slot)[..10];
    browser
        .goto(&server.url(&format!("/calendar?view=week&date={day}")))
        .await
        .unwrap();
    wait_for(
        &browser,
        &format!("#post-{} a.network-link[href='{url}']", post.id),
    )
    .await;
    assert_eq!(
        wait_for(&browser, &format!("#post-{} .badge.status", post.id))
            .await
            .text()
            .await
            .unwrap(),
        "Published"
    );
    browser.close().await.unwrap();
}

#[tokio::test]
async fn a_scheduled_post_is_dragged_to_another_day_of_the_calendar() {
    let Some(server) = TestServer::start(rounds_store::Backend::Sqlite)
        .await
        .unwrap()
    else {
        return;
    };
    let store = &server.store;
    let (org, _) = sandbox(store).await;
    let author = add_user(
        store,
        org.id,
        "sam@mercy.test",
        "Sam Social",
        Role::SocialManager,
    )
    .await;
    let reviewer = add_user(
        store,
        org.id,
        "rae@mercy.test",
        "Rae Review",
        Role::SocialManager,
    )
    .await;
    let channel = store
        .create_channel(
            org.id,
            &NewChannel {
                network: "bluesky".into(),
                handle: "mercy.test".into(),
                display_name: "Mercy".into(),
            },
            &Actor::user(&author, None),
        )
        .await
        .unwrap();
    let slot = (now_ms() + 3 * 86_400_000) / 60_000 * 60_000;
    let new = NewPost {
        author_id: Some(author.id),
        body: "Blood drive in the main lobby".into(),
        channel_ids: vec![channel.id],
        status: PostStatus::Draft,
        scheduled_at: Some(slot),
        paid: false,
        content_type: "general".into(),
        media_ids: Vec::new(),
    };
    let post = store
        .create_post(org.id, &new, &Actor::user(&author, None))
        .await
        .unwrap();
    store
        .submit_post(
            org.id,
            post.id,
            1,
            json!({"decision": "allow", "findings": []}),
            None,
            &Actor::user(&author, None),
        )
        .await
        .unwrap();
    store
        .decide(
            org.id,
            post.id,
            1,
            rounds_domain::DecisionKind::Approve,
            None,
            reviewer.id,
            &Actor::user(&reviewer, None),
        )
        .await
        .unwrap();
    assert_eq!(
        store.post(org.id, post.id).await.unwrap().status,
        PostStatus::Scheduled
    );

    let Some(browser) = rounds_testkit::Browser::start().await.unwrap() else {
        return;
    };
    browser_sign_in(&browser, &server, "sam@mercy.test").await;
    let day = &utc_minute(slot)[..10];
    browser
        .goto(&server.url(&format!("/calendar?view=week&date={day}")))
        .await
        .unwrap();
    wait_for(
        &browser,
        &format!("#post-{}.movable[draggable=true]", post.id),
    )
    .await;
    // The neighbouring day inside the same week: the next one, or the one before on a Sunday.
    let next = &utc_minute(slot + 86_400_000)[..10];
    let target = if browser
        .find(fantoccini::Locator::Css(&format!("#day-{next}")))
        .await
        .is_ok()
    {
        slot + 86_400_000
    } else {
        slot - 86_400_000
    };
    let target_day = &utc_minute(target)[..10];
    // WebDriver cannot drive the browser's native drag and drop; the events are what a mouse sends.
    let script = "const [from, to] = [document.getElementById(arguments[0]), document.getElementById(arguments[1])]; \
        const data = new DataTransfer(); \
        from.dispatchEvent(new DragEvent('dragstart', { bubbles: true, dataTransfer: data })); \
        to.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: data })); \
        to.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: data }));";
    browser
        .execute(
            script,
            vec![
                json!(format!("post-{}", post.id)),
                json!(format!("day-{target_day}")),
            ],
        )
        .await
        .unwrap();
    let notice = wait_for(&browser, "main .notice")
        .await
        .text()
        .await
        .unwrap();
    assert!(!notice.is_empty());
    wait_for(&browser, &format!("#day-{target_day} #post-{}", post.id)).await;
    browser.close().await.unwrap();
    let moved = store.post(org.id, post.id).await.unwrap();
    assert_eq!(
        (moved.status, moved.scheduled_at, moved.version),
        (PostStatus::Scheduled, Some(target), 1),
        "same time of day, no new version"
    );
    let jobs = store.jobs_of_post(org.id, post.id).await.unwrap();
    assert!(
        jobs.iter().any(|j| j.run_at == target),
        "the job moves with it: {jobs:?}"
    );
}

/// Text of a post about a patient: her name and her phone number are PHI, which blocks it.
const PHI_TEXT: &str = "Great to see Maria Lopez back on her feet after her knee surgery! Call her at 555-201-3344 to say hi.";

/// The social manager composes in the browser: live screening marks the PHI in place and the
/// submission is refused (the post stays a draft); one click per finding redacts it, and then the
/// post goes into review. Returns the submitted post.
async fn compose_blocked_then_redacted(
    server: &TestServer,
    org_id: i64,
    author_id: i64,
    channel_id: i64,
    slot: i64,
) -> rounds_store::Post {
    let store = &server.store;
    let Some(browser) = rounds_testkit::Browser::start().await.unwrap() else {
        panic!("no Chromium")
    };
    browser_sign_in(&browser, server, "sam@mercy.test").await;
    browser.goto(&server.url("/compose")).await.unwrap();
    wait_for(
        &browser,
        &format!("input[name=channel][value='{channel_id}']"),
    )
    .await
    .click()
    .await
    .unwrap();
    wait_for(&browser, "#draft-text")
        .await
        .send_keys(PHI_TEXT)
        .await
        .unwrap();
    // A date-and-time field takes typed keys in the browser's locale order; setting its value does not.
    browser
        .execute(
            "document.getElementById('scheduled').value = arguments[0];",
            vec![json!(utc_minute(slot))],
        )
        .await
        .unwrap();

    // Live screening: the findings, and marks in the Bluesky preview, before anything is submitted.
    let marks = wait_for(&browser, ".network-preview .highlighted mark").await;
    assert!(!marks.text().await.unwrap().is_empty());
    let marked = browser
        .find_all(fantoccini::Locator::Css(
            ".network-preview .highlighted mark",
        ))
        .await
        .unwrap();
    let mut marked_text = Vec::new();
    for m in marked {
        marked_text.push(m.text().await.unwrap());
    }
    assert!(
        marked_text.iter().any(|t| t.contains("555-201-3344")),
        "{marked_text:?}"
    );
    assert!(
        marked_text.iter().any(|t| t.contains("Maria Lopez")),
        "{marked_text:?}"
    );
    let decision = wait_for(&browser, "#screen-result-body p.decision")
        .await
        .text()
        .await
        .unwrap();
    assert!(decision.contains("Submission is blocked"), "{decision}");

    // Submitting is refused: the text is kept as a draft, the findings are listed, nothing is in review.
    wait_for(&browser, "button[name=intent][value=submit]")
        .await
        .click()
        .await
        .unwrap();
    let alert = wait_for(&browser, "main p.alert")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        alert.starts_with("Saved as a draft, not submitted: Screening blocks this post"),
        "{alert}"
    );
    let findings = wait_for(&browser, "#screen-result ol.findings")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        findings.contains("555-201-3344") && findings.contains("Maria Lopez"),
        "{findings}"
    );
    let action = wait_for(&browser, "#compose-form")
        .await
        .attr("action")
        .await
        .unwrap()
        .unwrap();
    let post_id: i64 = action
        .strip_prefix("/posts/")
        .and_then(|a| a.strip_suffix("/edit"))
        .unwrap_or_else(|| panic!("{action}"))
        .parse()
        .unwrap();
    let draft = store.post(org_id, post_id).await.unwrap();
    assert_eq!(
        (draft.status, draft.author_id, draft.body.as_str()),
        (PostStatus::Draft, Some(author_id), PHI_TEXT)
    );

    // One click per PHI finding; each swaps the text in and screens it again, until none is left.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut redacted = 0;
    loop {
        let buttons = browser
            .find_all(fantoccini::Locator::Css("ul.redactions button"))
            .await
            .unwrap();
        let Some(button) = buttons.into_iter().next() else {
            break;
        };
        let before = draft_and_preview(&browser).await.0;
        // htmx may swap the list between finding the button and clicking it: find it again.
        if button.click().await.is_err() {
            continue;
        }
        // Wait until the text changed and the preview shows the re-screened text.
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "redaction {redacted} did not re-screen"
            );
            let (text, shown) = draft_and_preview(&browser).await;
            if text != before && shown == text {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        redacted += 1;
        assert!(redacted <= 4, "redactions do not end");
    }
    assert!(
        redacted >= 2,
        "the name and the number each had a redaction"
    );
    let text = wait_for(&browser, "#draft-text")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        !text.contains("555-201-3344") && !text.contains("Maria Lopez"),
        "{text}"
    );
    let decision = wait_for(&browser, "#screen-result-body p.decision")
        .await
        .text()
        .await
        .unwrap();
    assert!(!decision.contains("Submission is blocked"), "{decision}");

    wait_for(&browser, "button[name=intent][value=submit]")
        .await
        .click()
        .await
        .unwrap();
    let notice = wait_for(&browser, "main .notice")
        .await
        .text()
        .await
        .unwrap();
    assert!(!notice.is_empty());
    assert_eq!(
        browser.current_url().await.unwrap().path(),
        format!("/posts/{post_id}")
    );
    browser.close().await.unwrap();
    let post = store.post(org_id, post_id).await.unwrap();
    assert_eq!(post.status, PostStatus::InReview, "{post:?}");
    assert_eq!(
        (post.body.as_str(), post.scheduled_at),
        (text.trim(), Some(slot))
    );
    post
}

/// The draft's text and the text the preview shows, read in one script so that an htmx swap
/// between two reads cannot leave a stale element behind.
async fn draft_and_preview(browser: &rounds_testkit::Browser) -> (String, String) {
    let script = "const d = document.getElementById('draft-text'); const p = document.querySelector('.network-preview .highlighted'); return [d ? d.value : '', p ? p.innerText : ''];";
    let value = browser.execute(script, Vec::new()).await.unwrap();
    let read = |i: usize| {
        value
            .get(i)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (read(0), read(1))
}
