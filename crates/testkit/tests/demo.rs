//! The demo sandbox end to end: seeded into a test server, signed in to through a real browser
//! with the printed password, its sample inbox on screen.

use fantoccini::Locator;
use rounds_store::Backend;
use rounds_testkit::{Browser, TestServer};

#[tokio::test]
async fn a_newcomer_signs_in_to_the_sandbox_and_sees_the_sample_inbox() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap().unwrap();
    let logins = rounds_demo::seed(&server.store).await.unwrap();
    let Some(browser) = Browser::start().await.unwrap() else {
        return;
    };

    let (_, email) = logins
        .users
        .iter()
        .find(|(r, _)| *r == rounds_domain::Role::SocialManager)
        .unwrap();
    browser.goto(&server.url("/login")).await.unwrap();
    let form = browser
        .form(Locator::Css("form[action='/login']"))
        .await
        .unwrap();
    form.set_by_name("email", email).await.unwrap();
    form.set_by_name("password", &logins.password)
        .await
        .unwrap();
    form.submit().await.unwrap();

    browser
        .wait()
        .for_element(Locator::Css(".badge.demo"))
        .await
        .unwrap();
    assert_eq!(
        browser.current_url().await.unwrap().path(),
        "/",
        "no MFA step in the sandbox"
    );
    let org = browser
        .find(Locator::Css(".org"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(org.contains(rounds_demo::content::ORG_NAME), "{org:?}");

    browser.goto(&server.url("/inbox")).await.unwrap();
    let page = browser.source().await.unwrap();
    assert!(
        page.contains("Lipitor"),
        "the adverse-event comment is in the inbox"
    );
    browser.close().await.unwrap();
}

#[tokio::test]
async fn the_http_client_keeps_the_session_cookie() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap().unwrap();
    let logins = rounds_demo::seed(&server.store).await.unwrap();
    let (_, email) = &logins.users[0];
    let resp = server
        .client
        .get(server.url("/inbox"))
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_redirection(),
        "signed out: {}",
        resp.status()
    );

    let resp = server
        .client
        .post(server.url("/login"))
        .form(&[
            ("email", email.as_str()),
            ("password", logins.password.as_str()),
            ("next", "/inbox"),
        ])
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let resp = server
        .client
        .get(server.url("/inbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("muscle pain"));
}
