//! The Bluesky connector against a real local Bluesky network (PDS, PLC directory and AppView on
//! loopback), whose PDS URL comes from `ROUNDS_TEST_BSKY_PDS`. Each test makes its own `*.test`
//! accounts, so the tests run in parallel and on a network that other tests use too.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::time::{Duration, Instant};

use connectors::testing::{LocalAccount, local_pds, xrpc};
use connectors::{
    Credentials, ErrorKind, Image, ItemKind, Outgoing, Published, Reach, connect, http_client,
};
use serde_json::Value;

/// A valid 1×1 PNG: the PDS sniffs uploaded blobs, so the bytes must be a real image.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82";

fn post(key: &str, text: &str) -> Outgoing {
    Outgoing {
        idempotency_key: key.into(),
        text: text.into(),
        images: vec![],
        reply_to: None,
    }
}

#[tokio::test]
async fn health_publish_with_image_see_it_and_delete_it() {
    let Some(pds) = local_pds() else { return };
    let me = LocalAccount::create(&pds).await;
    let c = connect(&me.creds, &http_client(Reach::AnyHost)).unwrap();
    let health = c.health().await.unwrap();
    assert_eq!(health.handle, me.handle);
    assert_eq!(health.display_name, me.handle);

    let text = "Flu shots Saturday, 9 to 4 ✓ https://example.org/flu";
    let mut outgoing = post(&format!("{}-1", me.handle), text);
    outgoing.images.push(Image {
        bytes: PNG.to_vec(),
        mime: "image/png".into(),
        alt: "A nurse at the clinic door".into(),
    });
    let published = c.publish(&outgoing).await.unwrap();
    assert!(
        published.remote.id.starts_with("at://did:"),
        "{}",
        published.remote.id
    );
    let rkey = connectors::tid_for_key(&outgoing.idempotency_key);
    assert_eq!(
        published.url,
        format!("https://bsky.app/profile/{}/post/{rkey}", me.handle)
    );

    let seen = me
        .thread(&published.remote.id, 1)
        .await
        .expect("the post is visible within 10 s");
    let view = &seen["thread"]["post"];
    assert_eq!(view["record"]["text"], text);
    assert_eq!(view["author"]["handle"], me.handle.as_str());
    assert_eq!(
        view["embed"]["images"][0]["alt"],
        "A nurse at the clinic door"
    );
    let facet = &view["record"]["facets"][0];
    assert_eq!(facet["features"][0]["uri"], "https://example.org/flu");
    // Byte offsets: the check mark before the link takes three bytes.
    let start = text.find("https://").unwrap();
    assert_eq!(facet["index"]["byteStart"], start);
    assert_eq!(facet["index"]["byteEnd"], text.len());

    c.delete(&published.remote).await.unwrap();
    assert_eq!(c.find_published(&outgoing, 0).await.unwrap(), None);
}

#[tokio::test]
async fn the_same_idempotency_key_makes_one_post() {
    let Some(pds) = local_pds() else { return };
    let me = LocalAccount::create(&pds).await;
    let c = connect(&me.creds, &http_client(Reach::AnyHost)).unwrap();
    let outgoing = post("post-42/channel-7", "Visiting hours change on Monday.");
    assert_eq!(c.find_published(&outgoing, 0).await.unwrap(), None);
    let first = c.publish(&outgoing).await.unwrap();
    // As after a crash between the network's answer and recording it: the retry finds the post.
    let found: Published = c
        .find_published(&outgoing, first.at_ms)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.remote.id, first.remote.id);
    assert_eq!(found.url, first.url);
    let second = c.publish(&outgoing).await.unwrap();
    assert_eq!(second.remote.id, first.remote.id);
    let did = first
        .remote
        .id
        .trim_start_matches("at://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let (status, records) = xrpc(
        &pds,
        "com.atproto.repo.listRecords",
        None,
        None,
        &[("repo", &did), ("collection", "app.bsky.feed.post")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        records["records"].as_array().map(Vec::len),
        Some(1),
        "{records}"
    );
}

#[tokio::test]
async fn a_reply_from_another_account_is_fetched() {
    let Some(pds) = local_pds() else { return };
    let clinic = LocalAccount::create(&pds).await;
    let patient = LocalAccount::create(&pds).await;
    let clinic_c = connect(&clinic.creds, &http_client(Reach::AnyHost)).unwrap();
    let patient_c = connect(&patient.creds, &http_client(Reach::AnyHost)).unwrap();
    let root = clinic_c
        .publish(&post("root", "Our new wing opens today."))
        .await
        .unwrap();
    let before = clinic_c.fetch_items(None).await.unwrap();

    let mut answer = post("reply", &format!("Congratulations @{}!", clinic.handle));
    answer.reply_to = Some(root.remote.clone());
    let reply = patient_c.publish(&answer).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    let item = loop {
        let fetched = clinic_c
            .fetch_items(before.cursor.as_deref())
            .await
            .unwrap();
        if let Some(item) = fetched
            .items
            .into_iter()
            .find(|i| i.remote.id == reply.remote.id)
        {
            break item;
        }
        assert!(
            Instant::now() < deadline,
            "the reply did not arrive within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(item.kind, ItemKind::Reply);
    assert_eq!(item.author_handle, patient.handle);
    assert_eq!(item.text, answer.text);
    assert_eq!(
        item.in_reply_to.as_ref().map(|r| r.id.as_str()),
        Some(root.remote.id.as_str())
    );

    // The clinic answers the reply: the thread root comes from the item, the parent is the reply.
    let mut thanks = post("thanks", "Thank you!");
    thanks.reply_to = Some(item.remote.clone());
    let thanks = clinic_c.publish(&thanks).await.unwrap();
    let seen = clinic
        .thread(&thanks.remote.id, 1)
        .await
        .expect("the answer is visible");
    assert_eq!(
        seen["thread"]["post"]["record"]["reply"]["root"]["uri"],
        root.remote.id.as_str()
    );
    assert_eq!(
        seen["thread"]["post"]["record"]["reply"]["parent"]["uri"],
        reply.remote.id.as_str()
    );
}

#[tokio::test]
async fn a_wrong_app_password_is_invalid_credentials() {
    let Some(pds) = local_pds() else { return };
    let me = LocalAccount::create(&pds).await;
    let creds = Credentials::Bluesky {
        service: pds.clone(),
        identifier: me.handle.clone(),
        app_password: "aaaa-bbbb-cccc-dddd".into(),
    };
    let err = connect(&creds, &http_client(Reach::AnyHost))
        .unwrap()
        .health()
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidCredentials);
    assert_eq!(err.status, Some(401));
    assert!(!err.is_retryable());
    assert!(!format!("{err} {err:?}").contains("aaaa-bbbb-cccc-dddd"));
}

/// The replies the root post's threadgate hides, as the AppView reports them.
async fn hidden_replies(viewer: &LocalAccount, root: &str) -> Vec<String> {
    let seen = viewer.thread(root, 1).await.expect("the thread is visible");
    seen["threadgate"]["record"]["hiddenReplies"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_thread_author_can_hide_and_show_a_reply() {
    let Some(pds) = local_pds() else { return };
    let clinic = LocalAccount::create(&pds).await;
    let troll = LocalAccount::create(&pds).await;
    let clinic_c = connect(&clinic.creds, &http_client(Reach::AnyHost)).unwrap();
    let troll_c = connect(&troll.creds, &http_client(Reach::AnyHost)).unwrap();
    let root = clinic_c
        .publish(&post("root", "Flu clinic this Saturday."))
        .await
        .unwrap();
    let mut spam = post("spam", "Buy followers at example.com");
    spam.reply_to = Some(root.remote.clone());
    let spam = troll_c.publish(&spam).await.unwrap();
    // Known by its id alone, as an item stored without its thread root.
    let item = connectors::RemoteRef::new(spam.remote.id.clone());

    clinic_c.set_hidden(&item, true).await.unwrap();
    clinic_c.set_hidden(&item, true).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while hidden_replies(&clinic, &root.remote.id).await != [spam.remote.id.clone()] {
        assert!(
            Instant::now() < deadline,
            "the threadgate did not reach the AppView within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    clinic_c.set_hidden(&item, false).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hidden_replies(&clinic, &root.remote.id).await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the reply was not shown again within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Only the thread's author may hide its replies.
    let err = troll_c.set_hidden(&item, true).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected);
}
