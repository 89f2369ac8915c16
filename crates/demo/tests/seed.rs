//! Seeding the sandbox on every available backend: what it creates, that it is idempotent, and that
//! the screening engine finds what the sample inbox is meant to show.

use std::collections::{BTreeMap, BTreeSet};

use rounds_demo::content;
use rounds_domain::Role;
use rounds_domain::secret::verify_password;
use rounds_store::testing::scratch_stores;
use rounds_store::{Page, PostStatus, Store, StoreError};
use screen::{Category, Message, Screener};

const ALL: Page = Page {
    before_id: None,
    limit: 500,
};

async fn counts(store: &Store, org_id: i64) -> Result<(usize, usize, usize, usize), StoreError> {
    Ok((
        store.users(org_id).await?.len(),
        store.channels(org_id).await?.len(),
        store.posts(org_id, None, &ALL).await?.len(),
        store.inbox_items(org_id, &ALL).await?.len(),
    ))
}

#[tokio::test]
async fn seeds_every_role_post_status_and_inbox_item_once() {
    for (backend, _dir, store) in scratch_stores().await {
        let logins = rounds_demo::seed(&store).await.unwrap();
        let org = store.org(logins.org_id).await.unwrap();
        assert!(org.is_demo, "{backend:?}");
        assert_eq!(org.name, content::ORG_NAME);

        let roles: Vec<Role> = logins.users.iter().map(|(r, _)| *r).collect();
        assert_eq!(roles, Role::ALL, "{backend:?}");
        for user in store.users(org.id).await.unwrap() {
            assert!(
                verify_password(&logins.password, &user.password_hash),
                "{backend:?}: {}",
                user.email
            );
            assert!(!user.mfa_enabled);
            assert!(user.email.ends_with("@demo.rounds.test"));
        }
        assert!(logins.to_string().contains("admin@demo.rounds.test"));

        let posts = store.posts(org.id, None, &ALL).await.unwrap();
        let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
        for p in &posts {
            *by_status.entry(p.status.as_str()).or_default() += 1;
        }
        for status in [
            PostStatus::Draft,
            PostStatus::InReview,
            PostStatus::Scheduled,
            PostStatus::Rejected,
        ] {
            assert!(
                by_status.get(status.as_str()).is_some_and(|n| *n >= 1),
                "{backend:?}: no {status:?} post"
            );
        }
        let now = posts.iter().map(|p| p.created_at).max().unwrap();
        // Scheduled through the chain, so each has its publishing jobs, one per channel, at its time.
        for p in posts.iter().filter(|p| p.status == PostStatus::Scheduled) {
            let at = p.scheduled_at.unwrap();
            assert!(at > now, "{backend:?}");
            let jobs = store.jobs_of_post(org.id, p.id).await.unwrap();
            assert_eq!(
                jobs.iter()
                    .map(|j| (j.channel_id, j.run_at))
                    .collect::<Vec<_>>(),
                p.channel_ids.iter().map(|c| (*c, at)).collect::<Vec<_>>()
            );
            assert_eq!(
                store.approval_record(org.id, p.id).await.unwrap().len(),
                content::CHAIN.len()
            );
        }
        // Posts wait at each step of the chain: the privacy officer and the legal reviewer each have work.
        let users = store.users(org.id).await.unwrap();
        for role in content::CHAIN {
            let reviewer = users.iter().find(|u| u.role == *role).unwrap();
            assert!(
                !store
                    .approval_queue(org.id, reviewer.id)
                    .await
                    .unwrap()
                    .is_empty(),
                "{backend:?}: nothing waits for {role:?}"
            );
        }
        let rejected = posts
            .iter()
            .find(|p| p.status == PostStatus::Rejected)
            .unwrap();
        assert!(
            rejected
                .status_note
                .as_deref()
                .is_some_and(|n| n.contains("nurse line")),
            "{backend:?}: {rejected:?}"
        );

        let networks: BTreeSet<String> = store
            .channels(org.id)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.network)
            .collect();
        assert_eq!(
            networks.into_iter().collect::<Vec<_>>(),
            ["bluesky", "facebook", "mastodon"],
            "{backend:?}: only networks Rounds can publish to"
        );
        let inbox = store.inbox_items(org.id, &ALL).await.unwrap();
        assert!(inbox.len() >= 30, "{backend:?}");
        let three_days = 3 * 24 * 3_600_000;
        assert!(
            inbox
                .iter()
                .all(|i| i.received_at <= now && i.received_at > now - three_days)
        );
        assert!(
            inbox
                .windows(2)
                .all(|w| w[0].received_at >= w[1].received_at),
            "the inbox lists newest first"
        );

        let invited = rounds_store::NewUser {
            email: rounds_domain::Email::parse("visitor@example.test").unwrap(),
            display_name: "Visitor".into(),
            role: Role::Viewer,
            password_hash: rounds_domain::secret::hash_password("a password of their own").unwrap(),
        };
        store
            .create_user(org.id, &invited, &rounds_store::Actor::system())
            .await
            .unwrap();
        let before = counts(&store, org.id).await.unwrap();
        let again = rounds_demo::seed(&store).await.unwrap();
        assert_eq!(
            (again.org_id, &again.users),
            (logins.org_id, &logins.users),
            "{backend:?}"
        );
        assert_ne!(
            again.password, logins.password,
            "a later start sets and prints a fresh password"
        );
        for user in store.users(org.id).await.unwrap() {
            let expected = if user.email == "visitor@example.test" {
                "a password of their own"
            } else {
                again.password.as_str()
            };
            assert!(
                verify_password(expected, &user.password_hash),
                "{backend:?}: {}",
                user.email
            );
        }
        assert_eq!(counts(&store, org.id).await.unwrap(), before, "{backend:?}");
        let settings = store.settings(org.id).await.unwrap();
        assert!(
            settings.values().all(|v| !v.contains(&again.password)),
            "no password is stored in clear"
        );
        assert_eq!(store.orgs().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn demo_sits_beside_a_real_organization() {
    for (backend, _dir, store) in scratch_stores().await {
        let real = rounds_store::NewOrg {
            name: "St. Example".into(),
            kind: rounds_domain::OrgKind::Hospital,
            is_demo: false,
        };
        let admin = rounds_store::NewUser {
            email: rounds_domain::Email::parse("it@st-example.test").unwrap(),
            display_name: "IT".into(),
            role: Role::Admin,
            password_hash: rounds_domain::secret::hash_password("correct horse battery").unwrap(),
        };
        let (real, _) = store.complete_setup(&real, &admin, None).await.unwrap();
        let logins = rounds_demo::seed(&store).await.unwrap();
        assert_ne!(logins.org_id, real.id, "{backend:?}");
        assert_eq!(logins.users.len(), Role::ALL.len());
        assert_eq!(
            store.users(real.id).await.unwrap().len(),
            1,
            "{backend:?}: the real organization was touched"
        );
    }
}

fn categories(screener: &Screener, text: &str) -> Result<BTreeSet<Category>, screen::ScreenError> {
    Ok(screener
        .screen(&Message::incoming(text))?
        .findings
        .iter()
        .map(|f| f.category)
        .collect())
}

#[tokio::test]
async fn screening_the_seeded_inbox_shows_the_engine() {
    let screener = Screener::new(rounds_demo::policy()).unwrap();
    for (backend, _dir, store) in scratch_stores().await {
        let logins = rounds_demo::seed(&store).await.unwrap();
        let inbox = store.inbox_items(logins.org_id, &ALL).await.unwrap();
        let found = |needle: &str| {
            let item = inbox
                .iter()
                .find(|i| i.body.contains(needle))
                .unwrap_or_else(|| panic!("{needle:?} not seeded"));
            categories(&screener, &item.body).unwrap()
        };
        let expect = [
            ("Lipitor", Category::AdverseEvent),
            ("amlodipine", Category::AdverseEvent),
            ("MRN 00482913", Category::Phi),
            ("kill myself", Category::Crisis),
            ("bit.ly", Category::Link),
            ("tinyurl.com", Category::Spam),
            ("tinyurl.com", Category::Link),
            ("chest pains", Category::Crisis),
            ("mercyvalley-health.org", Category::Link),
            ("useless idiots", Category::Abuse),
            ("how much should i take", Category::MedicalAdvice),
        ];
        for (needle, category) in expect {
            let got = found(needle);
            assert!(
                got.contains(&category),
                "{backend:?}: {needle:?} gave {got:?}, expected {category:?}"
            );
        }
        let thanks = found("angels to my dad");
        assert!(
            thanks.is_empty(),
            "{backend:?}: praise was flagged: {thanks:?}"
        );
    }
}
