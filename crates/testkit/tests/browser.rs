//! The browser harness against a tiny page served here: if this fails, every browser test would.

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use rounds_testkit::Browser;

#[tokio::test]
async fn reads_the_title_of_a_served_page() {
    let Some(browser) = Browser::start().await.unwrap() else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/",
        get(|| async {
            Html("<!doctype html><title>Rounds harness</title><h1 id=greeting>hello</h1>")
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    browser.goto(&format!("http://{addr}/")).await.unwrap();
    assert_eq!(browser.title().await.unwrap(), "Rounds harness");
    let heading = browser
        .find(fantoccini::Locator::Id("greeting"))
        .await
        .unwrap();
    assert_eq!(heading.text().await.unwrap(), "hello");
    browser.close().await.unwrap();
}
