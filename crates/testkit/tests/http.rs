//! The server over real HTTP on every backend: the route × role matrix, CSRF, session fixation,
//! TOTP replay, lock-out without user enumeration, escaping of user input, and bad input.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed unwrap is a failed test"
)]

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderMap, HeaderValue, LOCATION, ORIGIN};
use rounds_domain::secret::{hash_password, random_token, sha256_hex};
use rounds_domain::{Email, OrgKind, Permission, Role};
use rounds_server::{Access, App, Config};
use rounds_store::{Actor, NewChannel, NewInboxItem, NewOrg, NewSession, NewUser, Store, User};
use rounds_testkit::{TestServer, totp_at};

const PASSWORD: &str = "correct horse battery staple";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An organization with its admin; returns the admin.
async fn set_up(store: &Store) -> User {
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
    store.complete_setup(&org, &admin, None).await.unwrap().1
}

async fn add_user(store: &Store, org_id: i64, email: &str, role: Role) -> User {
    let hash = hash_password(PASSWORD).unwrap();
    let user = NewUser {
        email: Email::parse(email).unwrap(),
        display_name: format!("{role:?} user"),
        role,
        password_hash: hash,
    };
    store
        .create_user(org_id, &user, &Actor::system())
        .await
        .unwrap()
}

/// A fully signed-in session made directly in the store: (cookie header, csrf token).
async fn session_for(store: &Store, user: &User) -> (String, String) {
    let id = random_token().unwrap();
    let csrf = random_token().unwrap();
    let new = NewSession {
        id_hash: sha256_hex(id.as_bytes()),
        user_id: user.id,
        csrf_token: csrf.clone(),
        mfa_passed: true,
        now_ms: now_ms(),
        ip: None,
        user_agent: None,
    };
    store.create_session(&new).await.unwrap();
    (format!("rounds_session={id}"), csrf)
}

/// Turns a route pattern into a concrete path.
fn concrete(path: &str, other_user: i64) -> String {
    path.replace("{file}", "app.css")
        .replace("{token}", "no-such-invitation")
        .replace("{id}", &other_user.to_string())
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn request(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    cookie: Option<&str>,
    csrf: Option<&str>,
) -> reqwest::Response {
    let mut headers = HeaderMap::new();
    if let Some(c) = cookie {
        headers.insert(COOKIE, HeaderValue::from_str(c).unwrap());
    }
    let builder = if method == "GET" {
        client.get(url)
    } else {
        if let Some(t) = csrf {
            headers.insert("x-csrf-token", HeaderValue::from_str(t).unwrap());
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        client
            .request(method, url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("")
    };
    builder.headers(headers).send().await.unwrap()
}

#[tokio::test]
async fn every_route_allows_and_denies_by_the_role_table() {
    for server in TestServer::every_backend().await.unwrap() {
        let store = &server.store;
        let admin = set_up(store).await;
        let target = add_user(store, admin.org_id, "target@mercy.test", Role::Viewer).await;
        let rules = App::new(store.clone(), Config::for_tests())
            .unwrap()
            .routes()
            .to_vec();
        assert!(rules.len() > 40, "the route table looks truncated");
        let client = plain_client();
        let mut users: HashMap<Role, User> = HashMap::new();
        for role in Role::ALL {
            let user = add_user(
                store,
                admin.org_id,
                &format!("role-{}@mercy.test", role.as_str()),
                role,
            )
            .await;
            if role.requires_mfa() {
                store
                    .enable_totp(user.id, &[7u8; 20], &[], &Actor::system())
                    .await
                    .unwrap();
            }
            users.insert(role, store.user(user.id).await.unwrap().unwrap());
        }
        for rule in &rules {
            let url = server.url(&concrete(rule.path, target.id));
            let anonymous = request(&client, rule.method, &url, None, None).await;
            let status = anonymous.status();
            match rule.access {
                // A public route may still answer 401 on its own terms (a wrong password), never 403.
                Access::Public => assert!(
                    status != StatusCode::FORBIDDEN && !status.is_server_error(),
                    "anonymous {} {}: {status}",
                    rule.method,
                    rule.path
                ),
                _ => {
                    let to_login = anonymous
                        .headers()
                        .get(LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .is_some_and(|l| l.starts_with("/login"));
                    assert!(
                        to_login || status == StatusCode::UNAUTHORIZED,
                        "anonymous {} {} must be refused, got {status}",
                        rule.method,
                        rule.path
                    );
                }
            }
            for role in Role::ALL {
                let user = &users[&role];
                let (cookie, csrf) = session_for(store, user).await;
                let res = request(&client, rule.method, &url, Some(&cookie), Some(&csrf)).await;
                let status = res.status();
                let allowed = match rule.access {
                    Access::Public | Access::PasswordOnly | Access::SignedIn => true,
                    Access::Permission(p) => role.can(p),
                };
                if allowed {
                    let unauthenticated =
                        status == StatusCode::UNAUTHORIZED && rule.access != Access::Public;
                    assert!(
                        status != StatusCode::FORBIDDEN
                            && !unauthenticated
                            && !status.is_server_error(),
                        "{role:?} must be allowed {} {}, got {status}",
                        rule.method,
                        rule.path
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{role:?} must be denied {} {}",
                        rule.method,
                        rule.path
                    );
                }
            }
        }
        assert!(store.audit_verify().await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn state_changes_need_the_csrf_token_and_the_same_origin() {
    for server in TestServer::every_backend().await.unwrap() {
        let admin = set_up(&server.store).await;
        server
            .store
            .enable_totp(admin.id, &[9u8; 20], &[], &Actor::system())
            .await
            .unwrap();
        let (cookie, csrf) = session_for(&server.store, &admin).await;
        let client = plain_client();
        let url = server.url("/account/sessions/revoke");
        let no_token = request(&client, "POST", &url, Some(&cookie), None).await;
        assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
        assert!(no_token.text().await.unwrap().contains("csrf_failed"));
        let wrong = request(&client, "POST", &url, Some(&cookie), Some("not-the-token")).await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
        let form_token = client
            .post(&url)
            .header(COOKIE, &cookie)
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(form_token.status(), StatusCode::SEE_OTHER);
        let cross_site = client
            .post(&url)
            .header(COOKIE, &cookie)
            .header(ORIGIN, "https://evil.example")
            .form(&[("csrf_token", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    }
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("rounds_session="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
}

#[tokio::test]
async fn sign_in_issues_a_new_session_id_and_totp_codes_work_once() {
    for server in TestServer::every_backend().await.unwrap() {
        let admin = set_up(&server.store).await;
        let secret = [3u8; 20];
        server
            .store
            .enable_totp(admin.id, &secret, &[], &Actor::system())
            .await
            .unwrap();
        let client = plain_client();
        let planted = "rounds_session=attacker-chosen-id";
        let login = client
            .post(server.url("/login"))
            .header(COOKIE, planted)
            .form(&[("email", "admin@mercy.test"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::SEE_OTHER);
        assert!(
            login.headers()[LOCATION]
                .to_str()
                .unwrap()
                .starts_with("/login/mfa")
        );
        let id = session_cookie(&login).expect("a session cookie");
        assert_ne!(id, "attacker-chosen-id");
        assert!(
            server
                .store
                .session(&sha256_hex(b"attacker-chosen-id"))
                .await
                .unwrap()
                .is_none()
        );
        let cookie = format!("rounds_session={id}");
        // Password alone does not open the app.
        let home = request(&client, "GET", &server.url("/"), Some(&cookie), None).await;
        assert_eq!(home.headers()[LOCATION], "/login/mfa");
        let (s, _) = server
            .store
            .session(&sha256_hex(id.as_bytes()))
            .await
            .unwrap()
            .unwrap();
        let b32 = totp_rs::Secret::from(secret.to_vec()).to_base32();
        let code = totp_at(&b32, (now_ms() / 1000) as u64).unwrap();
        let ok = client
            .post(server.url("/login/mfa"))
            .header(COOKIE, &cookie)
            .form(&[
                ("csrf_token", s.csrf_token.as_str()),
                ("code", code.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            ok.status(),
            StatusCode::SEE_OTHER,
            "{}",
            ok.text().await.unwrap_or_default()
        );
        assert_eq!(
            request(&client, "GET", &server.url("/"), Some(&cookie), None)
                .await
                .status(),
            StatusCode::OK
        );
        // The same code again, on a new sign-in: refused.
        let again = client
            .post(server.url("/login"))
            .form(&[("email", "admin@mercy.test"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        let id2 = session_cookie(&again).unwrap();
        assert_ne!(id2, id);
        let cookie2 = format!("rounds_session={id2}");
        let (s2, _) = server
            .store
            .session(&sha256_hex(id2.as_bytes()))
            .await
            .unwrap()
            .unwrap();
        let replay = client
            .post(server.url("/login/mfa"))
            .header(COOKIE, &cookie2)
            .form(&[
                ("csrf_token", s2.csrf_token.as_str()),
                ("code", code.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
        let actions: Vec<String> = server
            .store
            .audit_page(&rounds_store::AuditFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(actions.iter().any(|a| a == "auth.login"));
        assert!(actions.iter().any(|a| a == "auth.login_failed"));
    }
}

#[tokio::test]
async fn lock_out_looks_the_same_for_real_and_unknown_accounts() {
    for server in TestServer::every_backend().await.unwrap() {
        let admin = set_up(&server.store).await;
        let viewer = add_user(
            &server.store,
            admin.org_id,
            "viewer@mercy.test",
            Role::Viewer,
        )
        .await;
        let client = plain_client();
        let mut outcomes = Vec::new();
        for email in [viewer.email.as_str(), "nobody@mercy.test"] {
            let mut statuses = Vec::new();
            for _ in 0..5 {
                let r = client
                    .post(server.url("/login"))
                    .form(&[("email", email), ("password", "wrong password here")])
                    .send()
                    .await
                    .unwrap();
                statuses.push(r.status());
                let body = r.text().await.unwrap();
                assert!(body.contains("do not match an active account"), "{body}");
            }
            // Now even the right password is refused, with the lock-out message.
            let r = client
                .post(server.url("/login"))
                .form(&[("email", email), ("password", PASSWORD)])
                .send()
                .await
                .unwrap();
            statuses.push(r.status());
            let body = r.text().await.unwrap();
            assert!(body.contains("Too many failed sign-ins"), "{body}");
            outcomes.push(statuses);
        }
        assert_eq!(
            outcomes[0], outcomes[1],
            "real and unknown accounts must be indistinguishable"
        );
        assert_eq!(outcomes[0].last(), Some(&StatusCode::TOO_MANY_REQUESTS));
        assert!(server.store.audit_verify().await.unwrap().is_ok());
    }
}

const XSS: &str = r#"<script>alert("x")</script><img src=x onerror=alert(1)>"#;

#[tokio::test]
async fn user_input_is_escaped_on_every_page() {
    for server in TestServer::every_backend().await.unwrap() {
        // The organization name comes through the set-up form itself.
        let client = plain_client();
        let setup = client
            .post(server.url("/setup"))
            .form(&[
                ("org_name", XSS),
                ("org_kind", "hospital"),
                ("name", XSS),
                ("email", "admin@mercy.test"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(setup.status(), StatusCode::SEE_OTHER);
        let admin = server
            .store
            .user_by_email(&Email::parse("admin@mercy.test").unwrap())
            .await
            .unwrap()
            .unwrap();
        server
            .store
            .enable_totp(admin.id, &[5u8; 20], &[], &Actor::system())
            .await
            .unwrap();
        let channel = server
            .store
            .create_channel(
                admin.org_id,
                &NewChannel {
                    network: "bluesky".into(),
                    handle: XSS.into(),
                    display_name: XSS.into(),
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        let item = NewInboxItem {
            channel_id: channel.id,
            network_id: "1".into(),
            kind: "comment".into(),
            author_handle: XSS.into(),
            author_name: XSS.into(),
            body: format!("{XSS} call me at 555-201-3344"),
            received_at: now_ms(),
        };
        server
            .store
            .create_inbox_item(admin.org_id, &item)
            .await
            .unwrap();
        add_user(
            &server.store,
            admin.org_id,
            "viewer@mercy.test",
            Role::Viewer,
        )
        .await;
        let (cookie, csrf) = session_for(&server.store, &admin).await;
        let made = client
            .post(server.url("/account/tokens"))
            .header(COOKIE, &cookie)
            .form(&[("csrf_token", csrf.as_str()), ("name", XSS)])
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), StatusCode::OK);
        let compose = client
            .post(server.url("/compose"))
            .header(COOKIE, &cookie)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("text", XSS),
                ("intent", "draft"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(compose.status(), StatusCode::SEE_OTHER);
        for path in [
            "/",
            "/inbox",
            "/cases",
            "/compose",
            "/approvals",
            "/calendar",
            "/reports",
            "/users",
            "/settings",
            "/account",
            "/audit",
        ] {
            let body = request(&client, "GET", &server.url(path), Some(&cookie), None)
                .await
                .text()
                .await
                .unwrap();
            assert!(
                !body.contains("<script>alert"),
                "{path} has a raw script tag"
            );
            assert!(!body.contains("<img src=x"), "{path} has a raw img tag");
        }
        let inbox = request(&client, "GET", &server.url("/inbox"), Some(&cookie), None)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            inbox.contains("&lt;script&gt;") || inbox.contains("&#60;script&#62;"),
            "the payload should be shown, escaped"
        );
        let screened = client
            .post(server.url("/screen"))
            .header(COOKIE, &cookie)
            .header("hx-request", "true")
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("text", XSS),
                ("direction", "incoming"),
            ])
            .send()
            .await
            .unwrap();
        assert!(!screened.text().await.unwrap().contains("<script>alert"));
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    for server in TestServer::every_backend().await.unwrap() {
        let admin = set_up(&server.store).await;
        server
            .store
            .enable_totp(admin.id, &[6u8; 20], &[], &Actor::system())
            .await
            .unwrap();
        let (cookie, csrf) = session_for(&server.store, &admin).await;
        let client = plain_client();
        let before = server
            .store
            .audit_page(&rounds_store::AuditFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .len();
        let post_json = |path: &str, body: Vec<u8>| {
            client
                .post(server.url(path))
                .header(COOKIE, &cookie)
                .header("x-csrf-token", &csrf)
                .header(CONTENT_TYPE, "application/json")
                .body(body)
                .send()
        };
        let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
            (
                "/api/v1/screen",
                b"{\"text\": ".to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_json",
            ),
            (
                "/api/v1/screen",
                b"{\"text\": \"\xff\xfe\"}".to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_json",
            ),
            (
                "/api/v1/screen",
                b"{\"txt\": \"hello\"}".to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_json",
            ),
            (
                "/api/v1/screen",
                b"{\"text\": \"hi\", \"direction\": \"sideways\"}".to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_input",
            ),
            (
                "/api/v1/invitations",
                b"{\"email\": \"not-an-email\", \"role\": \"viewer\"}".to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_input",
            ),
            (
                "/api/v1/invitations",
                b"{\"email\": \"a@b.test\", \"role\": \"root\"}".to_vec(),
                StatusCode::BAD_REQUEST,
                "invalid_input",
            ),
            (
                "/api/v1/screen",
                vec![b'a'; 2 * 1024 * 1024],
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
        ];
        for (path, body, status, code) in cases {
            let res = post_json(path, body).await.unwrap();
            assert_eq!(res.status(), status, "{path}");
            let json: serde_json::Value = res.json().await.unwrap();
            assert_eq!(json["error"], code, "{json}");
            assert!(
                json["operation_id"].as_str().is_some_and(|s| !s.is_empty()),
                "{json}"
            );
        }
        let form_too_big = client
            .post(server.url("/compose"))
            .header(COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
            .form(&[("text", "x".repeat(2 * 1024 * 1024))])
            .send()
            .await
            .unwrap();
        assert_eq!(form_too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let missing = request(
            &client,
            "GET",
            &server.url("/no/such/page"),
            Some(&cookie),
            None,
        )
        .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let page = missing.text().await.unwrap();
        assert!(page.contains("operation id"), "{page}");
        assert!(
            page.contains("Sign out"),
            "an unknown address keeps the signed-in frame: {page}"
        );
        let missing_api = request(
            &client,
            "GET",
            &server.url("/api/v1/nothing"),
            Some(&cookie),
            None,
        )
        .await;
        assert_eq!(missing_api.status(), StatusCode::NOT_FOUND);
        let weak = client
            .post(server.url("/account/password"))
            .header(COOKIE, &cookie)
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("current", PASSWORD),
                ("password", "short"),
                ("password_again", "short"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
        let after = server
            .store
            .audit_page(&rounds_store::AuditFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .len();
        assert_eq!(before, after, "refused requests must not change anything");
        assert_eq!(server.store.users(admin.org_id).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn api_tokens_authenticate_until_revoked() {
    for server in TestServer::every_backend().await.unwrap() {
        let admin = set_up(&server.store).await;
        let viewer = add_user(
            &server.store,
            admin.org_id,
            "viewer@mercy.test",
            Role::Viewer,
        )
        .await;
        let (cookie, csrf) = session_for(&server.store, &viewer).await;
        let client = plain_client();
        let page = client
            .post(server.url("/account/tokens"))
            .header(COOKIE, &cookie)
            .form(&[("csrf_token", csrf.as_str()), ("name", "reports")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = page
            .split("<code class=\"token\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .expect("the new token is shown once")
            .to_owned();
        let me = client
            .get(server.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);
        let me: serde_json::Value = me.json().await.unwrap();
        assert_eq!(me["role"], "viewer");
        assert!(!Role::Viewer.can(Permission::ViewAudit));
        let denied = client
            .get(server.url("/api/v1/audit"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        let json: serde_json::Value = denied.json().await.unwrap();
        assert_eq!(json["error"], "forbidden");
        let listed = server.store.api_tokens(viewer.id).await.unwrap();
        server
            .store
            .revoke_api_token(viewer.id, listed[0].id, &Actor::user(&viewer, None))
            .await
            .unwrap();
        let revoked = client
            .get(server.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
        let bogus = client
            .get(server.url("/api/v1/me"))
            .bearer_auth("rnd_nothing")
            .send()
            .await
            .unwrap();
        assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn pages_carry_security_headers_and_the_openapi_document_is_served() {
    let Some(server) = TestServer::start(rounds_store::Backend::Sqlite)
        .await
        .unwrap()
    else {
        return;
    };
    let res = plain_client()
        .get(server.url("/login"))
        .send()
        .await
        .unwrap();
    let h = res.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    assert!(h.contains_key("x-operation-id"));
    let doc: serde_json::Value = plain_client()
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/screen"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["token"].is_object());
}

#[tokio::test]
async fn set_up_works_once_then_closes_for_good() {
    for server in TestServer::every_backend().await.unwrap() {
        let client = plain_client();
        assert_eq!(
            request(&client, "GET", &server.url("/login"), None, None)
                .await
                .headers()[LOCATION],
            "/setup"
        );
        let form = [
            ("org_name", "Mercy General"),
            ("org_kind", "hospital"),
            ("name", "Ada"),
            ("email", "ada@mercy.test"),
            ("password", PASSWORD),
            ("password_again", PASSWORD),
        ];
        let weak = [
            ("org_name", "Mercy General"),
            ("org_kind", "hospital"),
            ("name", "Ada"),
            ("email", "ada@mercy.test"),
            ("password", "short"),
            ("password_again", "short"),
        ];
        let refused = client
            .post(server.url("/setup"))
            .form(&weak)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(
            !server.store.is_set_up().await.unwrap(),
            "a refused set-up writes nothing"
        );
        let done = client
            .post(server.url("/setup"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            done.headers()[LOCATION],
            "/account/mfa",
            "an admin goes straight to two-factor enrolment"
        );
        assert!(session_cookie(&done).is_some());
        assert_eq!(
            request(&client, "GET", &server.url("/setup"), None, None)
                .await
                .status(),
            StatusCode::NOT_FOUND
        );
        let second = client
            .post(server.url("/setup"))
            .form(&[
                ("org_name", "Evil Org"),
                ("org_kind", "other"),
                ("name", "Eve"),
                ("email", "eve@evil.test"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(second.status(), StatusCode::NOT_FOUND);
        assert_eq!(server.store.orgs().await.unwrap().len(), 1);
        assert!(
            server
                .store
                .user_by_email(&Email::parse("eve@evil.test").unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn audit_exports_are_complete_and_themselves_audited() {
    for server in TestServer::every_backend().await.unwrap() {
        let admin = set_up(&server.store).await;
        server
            .store
            .enable_totp(admin.id, &[8u8; 20], &[], &Actor::system())
            .await
            .unwrap();
        let viewer = add_user(
            &server.store,
            admin.org_id,
            "viewer@mercy.test",
            Role::Viewer,
        )
        .await;
        server
            .store
            .set_role(viewer.id, Role::Responder, &Actor::user(&admin, None))
            .await
            .unwrap();
        let (cookie, _) = session_for(&server.store, &admin).await;
        let client = plain_client();
        let jsonl = request(
            &client,
            "GET",
            &server.url("/audit/export.jsonl"),
            Some(&cookie),
            None,
        )
        .await;
        assert_eq!(jsonl.status(), StatusCode::OK);
        let body = jsonl.text().await.unwrap();
        let records: Vec<rounds_domain::AuditRecord> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            rounds_domain::audit::verify(records.clone()),
            Ok(records.len() as u64),
            "an export of the whole log verifies on its own"
        );
        assert!(records.iter().any(|r| r.action == "user.role_changed"));
        let csv = request(
            &client,
            "GET",
            &server.url("/audit/export.csv?action=user."),
            Some(&cookie),
            None,
        )
        .await;
        assert!(
            csv.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let text = csv.text().await.unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(rounds_domain::CSV_HEADER));
        assert!(lines.all(|l| l.contains(",user.")), "{text}");
        let exports = server
            .store
            .audit_page(&rounds_store::AuditFilter {
                action_prefix: Some("audit.exported".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(exports.len(), 2);
        let page = request(
            &client,
            "GET",
            &server.url("/audit?verify=1"),
            Some(&cookie),
            None,
        )
        .await
        .text()
        .await
        .unwrap();
        assert!(page.contains("The chain is intact"), "{page}");
    }
}

#[tokio::test]
async fn a_denied_page_keeps_the_signed_in_frame() {
    let Some(server) = TestServer::start(rounds_store::Backend::Sqlite)
        .await
        .unwrap()
    else {
        return;
    };
    let admin = set_up(&server.store).await;
    let viewer = add_user(
        &server.store,
        admin.org_id,
        "viewer@mercy.test",
        Role::Viewer,
    )
    .await;
    let (cookie, _) = session_for(&server.store, &viewer).await;
    let res = request(
        &plain_client(),
        "GET",
        &server.url("/users"),
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Sign out") && body.contains("href=\"/inbox\""),
        "navigation and sign-out stay on the error page"
    );
    assert!(
        !body.contains("href=\"/users\""),
        "the denied section is not offered"
    );
    assert!(body.contains("class=\"opid\""));
}
