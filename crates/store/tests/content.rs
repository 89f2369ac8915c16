//! Channels, posts and inbox items: creation, audit events, organization scoping and cursors.

#![allow(
    clippy::unwrap_used,
    reason = "helpers shared by the tests: a failure must stop the test loudly"
)]

use rounds_domain::{Email, OrgKind, Role};
use rounds_store::testing::scratch_stores;
use rounds_store::{
    Actor, AuditFilter, NewChannel, NewInboxItem, NewOrg, NewPost, NewUser, Page, PostStatus,
    Store, StoreError,
};

async fn last_action(store: &Store) -> String {
    store
        .audit_page(&AuditFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .remove(0)
        .action
}

#[tokio::test]
async fn channels_posts_and_inbox() {
    for (backend, _dir, store) in scratch_stores().await {
        let org = NewOrg {
            name: "Pharma Co".into(),
            kind: OrgKind::Pharma,
            is_demo: false,
        };
        let admin = NewUser {
            email: Email::parse("a@example.org").unwrap(),
            display_name: "A".into(),
            role: Role::Admin,
            password_hash: "x".into(),
        };
        let (org, admin) = store.complete_setup(&org, &admin, None).await.unwrap();
        let actor = Actor::user(&admin, None);
        let other = store
            .create_org(
                &NewOrg {
                    name: "Demo".into(),
                    kind: OrgKind::Other,
                    is_demo: true,
                },
                &Actor::system(),
            )
            .await
            .unwrap();
        assert_eq!(last_action(&store).await, "org.created");

        let new_channel = NewChannel {
            network: "bluesky".into(),
            handle: "@pharma.example".into(),
            display_name: "Pharma Co".into(),
        };
        let channel = store
            .create_channel(org.id, &new_channel, &actor)
            .await
            .unwrap();
        assert_eq!(
            (channel.status.as_str(), channel.org_id),
            ("not_connected", org.id)
        );
        assert_eq!(last_action(&store).await, "channel.created");
        assert_eq!(
            store.channels(org.id).await.unwrap(),
            std::slice::from_ref(&channel)
        );
        assert!(store.channels(other.id).await.unwrap().is_empty());
        let foreign = store
            .create_channel(other.id, &new_channel, &Actor::system())
            .await
            .unwrap();

        let mut ids = Vec::new();
        for i in 0..5 {
            let post = NewPost {
                author_id: Some(admin.id),
                body: format!("post {i}"),
                channel_ids: vec![channel.id],
                status: if i % 2 == 0 {
                    PostStatus::Draft
                } else {
                    PostStatus::InReview
                },
                scheduled_at: (i == 4).then_some(99),
                paid: i == 3,
                content_type: "general".into(),
                media_ids: Vec::new(),
            };
            let created = store.create_post(org.id, &post, &actor).await.unwrap();
            assert_eq!(
                (
                    created.body.as_str(),
                    created.channel_ids.as_slice(),
                    created.paid
                ),
                (post.body.as_str(), &[channel.id][..], i == 3)
            );
            ids.push(created.id);
        }
        assert_eq!(last_action(&store).await, "post.created");
        let cross = NewPost {
            author_id: None,
            body: "x".into(),
            channel_ids: vec![foreign.id],
            status: PostStatus::Draft,
            scheduled_at: None,
            paid: false,
            content_type: "general".into(),
            media_ids: Vec::new(),
        };
        assert!(
            matches!(
                store.create_post(org.id, &cross, &actor).await,
                Err(StoreError::NotFound("channel"))
            ),
            "{backend:?}"
        );

        let first = store
            .posts(
                org.id,
                None,
                &Page {
                    before_id: None,
                    limit: 2,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            first.iter().map(|p| p.id).collect::<Vec<_>>(),
            [ids[4], ids[3]]
        );
        assert_eq!(first[0].scheduled_at, Some(99));
        let next = store
            .posts(
                org.id,
                None,
                &Page {
                    before_id: Some(ids[3]),
                    limit: 2,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            next.iter().map(|p| p.id).collect::<Vec<_>>(),
            [ids[2], ids[1]]
        );
        let in_review = store
            .posts(
                org.id,
                Some(PostStatus::InReview),
                &Page {
                    before_id: None,
                    limit: 100,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            in_review.iter().map(|p| p.id).collect::<Vec<_>>(),
            [ids[3], ids[1]]
        );
        assert!(
            store
                .posts(
                    other.id,
                    None,
                    &Page {
                        before_id: None,
                        limit: 100
                    }
                )
                .await
                .unwrap()
                .is_empty()
        );

        let item = NewInboxItem {
            channel_id: channel.id,
            network_id: "at://1".into(),
            kind: "comment".into(),
            author_handle: "@someone".into(),
            author_name: "Someone".into(),
            body: "Hello".into(),
            received_at: 1_000,
        };
        let stored = store.create_inbox_item(org.id, &item).await.unwrap();
        let again = store
            .create_inbox_item(
                org.id,
                &NewInboxItem {
                    body: "changed".into(),
                    ..item.clone()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            stored, again,
            "{backend:?}: an item is stored once per channel and network id"
        );
        assert_eq!(stored.status, "open");
        let second = store
            .create_inbox_item(
                org.id,
                &NewInboxItem {
                    network_id: "at://2".into(),
                    ..item.clone()
                },
            )
            .await
            .unwrap();
        assert!(matches!(
            store.create_inbox_item(other.id, &item).await,
            Err(StoreError::NotFound("channel"))
        ));
        let page = store
            .inbox_items(
                org.id,
                &Page {
                    before_id: None,
                    limit: 0,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            page.iter().map(|i| i.id).collect::<Vec<_>>(),
            [second.id],
            "limit 0 is raised to one row"
        );
        let rest = store
            .inbox_items(
                org.id,
                &Page {
                    before_id: Some(second.id),
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(rest, [stored]);
        assert_eq!(
            store.audit_verify().await.unwrap(),
            Ok(9),
            "set-up, demo org, two channels, five posts"
        );
    }
}
