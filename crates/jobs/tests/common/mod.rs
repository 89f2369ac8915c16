//! What the publishing tests share: an organization with an author and an approver, connected
//! channels, and posts walked through submission and approval with the store's own API.
#![allow(
    clippy::unwrap_used,
    dead_code,
    reason = "test helpers fail loudly; each test file uses a subset"
)]

use std::time::Duration;

use connectors::Credentials;
use jobs::{Publisher, PublisherOptions};
use rounds_domain::{DecisionKind, Email, OrgKind, PostStatus, Role};
use rounds_store::{
    Actor, Channel, ChannelHealth, NewChannel, NewOrg, NewPost, NewUser, Post, Store, User,
};
use serde_json::json;

/// An organization with an author and a Social Manager (whose approval completes the default chain).
pub struct Team {
    pub org: i64,
    pub admin: User,
    pub author: User,
    pub manager: User,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub async fn team(store: &Store) -> Team {
    let org = NewOrg {
        name: "General Hospital".into(),
        kind: OrgKind::Hospital,
        is_demo: false,
    };
    let admin = NewUser {
        email: Email::parse("admin@example.org").unwrap(),
        display_name: "Admin".into(),
        role: Role::Admin,
        password_hash: "x".into(),
    };
    let (org, admin) = store.complete_setup(&org, &admin, None).await.unwrap();
    let actor = Actor::user(&admin, None);
    let user = async |email: &str, name: &str| {
        let new = NewUser {
            email: Email::parse(email).unwrap(),
            display_name: name.into(),
            role: Role::SocialManager,
            password_hash: "x".into(),
        };
        store.create_user(org.id, &new, &actor).await.unwrap()
    };
    let author = user("author@example.org", "Ann Author").await;
    let manager = user("manager@example.org", "Max Manager").await;
    Team {
        org: org.id,
        admin,
        author,
        manager,
    }
}

/// A channel connected with `credentials`, as the channel page would after checking them.
pub async fn connected_channel(
    store: &Store,
    team: &Team,
    handle: &str,
    credentials: &Credentials,
) -> Channel {
    let actor = Actor::user(&team.admin, None);
    let new = NewChannel {
        network: credentials.network().as_str().into(),
        handle: handle.into(),
        display_name: format!("Hospital {handle}"),
    };
    let channel = store.create_channel(team.org, &new, &actor).await.unwrap();
    reconnect(store, team, channel.id, handle, credentials).await
}

pub async fn reconnect(
    store: &Store,
    team: &Team,
    channel_id: i64,
    handle: &str,
    credentials: &Credentials,
) -> Channel {
    let health = ChannelHealth {
        handle: handle.into(),
        display_name: handle.into(),
        token_expires_at: None,
    };
    let json = serde_json::to_string(credentials).unwrap();
    store
        .connect_channel(
            team.org,
            channel_id,
            &json,
            &health,
            &Actor::user(&team.admin, None),
        )
        .await
        .unwrap()
}

/// A post to `channel_id` due at `at`, submitted by the author and approved by the manager, so its job is queued.
pub async fn approved_post(
    store: &Store,
    team: &Team,
    channel_id: i64,
    body: &str,
    at: i64,
) -> Post {
    let author = Actor::user(&team.author, None);
    let new = NewPost {
        author_id: Some(team.author.id),
        body: body.into(),
        channel_ids: vec![channel_id],
        status: PostStatus::Draft,
        scheduled_at: Some(at),
        paid: false,
        content_type: "general".into(),
        media_ids: vec![],
    };
    let post = store.create_post(team.org, &new, &author).await.unwrap();
    let post = store
        .submit_post(
            team.org,
            post.id,
            1,
            json!({ "decision": "allow" }),
            None,
            &author,
        )
        .await
        .unwrap();
    let manager = Actor::user(&team.manager, None);
    store
        .decide(
            team.org,
            post.id,
            post.version,
            DecisionKind::Approve,
            None,
            team.manager.id,
            &manager,
        )
        .await
        .unwrap();
    let post = store.post(team.org, post.id).await.unwrap();
    assert_eq!(post.status, PostStatus::Scheduled);
    post
}

pub fn publisher(store: &Store, worker: &str) -> Publisher {
    let options = PublisherOptions {
        poll_interval: Duration::from_millis(100),
        ..PublisherOptions::default()
    };
    Publisher::new(
        store.clone(),
        connectors::http_client(connectors::Reach::AnyHost),
        worker.into(),
        options,
    )
}
