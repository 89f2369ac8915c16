//! The demo sandbox: an organization filled with realistic sample users, channels, posts and inbox
//! items, so a newcomer can click through Rounds without connecting a real social account.
//!
//! [`seed`] is what `rounds serve --demo` calls; the sample texts live in [`content`].

pub mod content;

use std::fmt;

use rounds_domain::publishing::{ApprovalChain, ChainStep, DecisionKind, StepMode};
use rounds_domain::secret::{SecretError, hash_password, random_bytes};
use rounds_domain::{Email, InputError, Role};
use rounds_store::{
    Actor, NewChain, NewChannel, NewInboxItem, NewOrg, NewPost, NewUser, Org, PostStatus, Store,
    StoreError, User,
};

use content::{CHAIN, CHANNELS, EMAIL_DOMAIN, INBOX, ORG_NAME, POSTS, STAFF, WEB_DOMAIN};

/// The screening policy of the sandbox: the default rules, with the demo organization's name and web
/// domain so that look-alike links in the sample comments are caught.
pub fn policy() -> screen::Policy {
    let mut policy = screen::Policy::default();
    policy.organization.name = ORG_NAME.to_owned();
    policy.organization.domains = vec![WEB_DOMAIN.to_owned()];
    policy
}

/// Why the sandbox could not be seeded.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The database refused a step.
    #[error("cannot seed the demo sandbox: {0}")]
    Store(#[from] StoreError),
    /// No randomness for the password, or hashing it failed.
    #[error("cannot create the demo password: {0}")]
    Secret(#[from] SecretError),
    /// A built-in sample value does not pass the checks real input passes.
    #[error("a built-in demo value is invalid: {0}")]
    Input(#[from] InputError),
    /// The sample approval chain is not a valid chain.
    #[error("the demo approval chain is invalid: {0}")]
    Chain(String),
    /// A sample post's screening report could not be recorded.
    #[error("cannot record a demo post's screening report: {0}")]
    Report(#[from] serde_json::Error),
    /// The screening engine refused the sandbox policy or a sample post.
    #[error("cannot screen the demo posts: {0}")]
    Screen(#[from] screen::ScreenError),
    /// The staff list has no account with a role the sample content needs.
    #[error("the demo staff has no {0:?} account")]
    NoAccount(Role),
    /// A sample post or inbox item names a network that has no demo channel.
    #[error("demo content names the network {0:?}, which has no demo channel")]
    UnknownNetwork(&'static str),
}

/// How to sign in to the sandbox: one shared password, one account per role.
///
/// The accounts have no second factor enrolled; the server does not enforce MFA in a demo
/// organization, so the password alone signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoLogins {
    /// The sandbox organization.
    pub org_id: i64,
    /// The password of every demo account.
    pub password: String,
    /// Each account's role and sign-in email, in [`Role::ALL`] order.
    pub users: Vec<(Role, String)>,
}

impl fmt::Display for DemoLogins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Demo sandbox: {ORG_NAME}, organization id {}",
            self.org_id
        )?;
        writeln!(f, "Password for every account: {}", self.password)?;
        writeln!(
            f,
            "No second factor: MFA is not enforced in the demo organization."
        )?;
        writeln!(f)?;
        let width = self
            .users
            .iter()
            .map(|(r, _)| r.label().len())
            .max()
            .unwrap_or(0)
            .max("Role".len());
        writeln!(f, "  {:<width$}  Email", "Role")?;
        for (role, email) in &self.users {
            writeln!(f, "  {:<width$}  {email}", role.label())?;
        }
        Ok(())
    }
}

/// Creates the demo sandbox, or gives the built-in accounts of the one that exists a fresh password.
///
/// On an empty database the sandbox becomes the first organization (through the first-run set-up);
/// otherwise it is created beside the real one. Seeding again adds no content. The password is never
/// stored in clear (not even for the sandbox), so a later start sets a new one and prints it.
pub async fn seed(store: &Store) -> Result<DemoLogins, DemoError> {
    if let Some(org) = store.orgs().await?.into_iter().find(|o| o.is_demo) {
        return existing_logins(store, &org).await;
    }
    let password = typeable_password()?;
    // One hash for all accounts: they share the password by design, and Argon2id is slow on purpose.
    let password_hash = hash_password(&password)?;
    let new_org = NewOrg {
        name: ORG_NAME.to_owned(),
        kind: rounds_domain::OrgKind::Hospital,
        is_demo: true,
    };
    let mut users = Vec::with_capacity(STAFF.len());
    let org = if store.is_set_up().await? {
        store.create_org(&new_org, &Actor::system()).await?
    } else {
        let admin = new_user(STAFF[0], &password_hash)?;
        let (org, user) = store.complete_setup(&new_org, &admin, None).await?;
        users.push(user);
        org
    };
    let actor = Actor {
        org_id: Some(org.id),
        ..Actor::system()
    };
    for staff in &STAFF[users.len()..] {
        users.push(
            store
                .create_user(org.id, &new_user(*staff, &password_hash)?, &actor)
                .await?,
        );
    }
    seed_content(store, org.id, &users, &actor).await?;
    tracing::info!(org_id = org.id, "seeded the demo sandbox");
    Ok(DemoLogins {
        org_id: org.id,
        password,
        users: table(&users),
    })
}

async fn existing_logins(store: &Store, org: &Org) -> Result<DemoLogins, DemoError> {
    let password = typeable_password()?;
    let password_hash = hash_password(&password)?;
    let actor = Actor {
        org_id: Some(org.id),
        ..Actor::system()
    };
    // Only the built-in accounts: people invited into the sandbox chose their own passwords.
    let built_in = |u: &User| {
        STAFF
            .iter()
            .any(|(_, local, _)| u.email == format!("{local}@{EMAIL_DOMAIN}"))
    };
    let users: Vec<User> = store
        .users(org.id)
        .await?
        .into_iter()
        .filter(built_in)
        .collect();
    for user in &users {
        store
            .set_password(user.id, &password_hash, None, &actor)
            .await?;
    }
    Ok(DemoLogins {
        org_id: org.id,
        password,
        users: table(&users),
    })
}

fn table(users: &[User]) -> Vec<(Role, String)> {
    let mut rows: Vec<(Role, String)> = users.iter().map(|u| (u.role, u.email.clone())).collect();
    rows.sort();
    rows
}

fn new_user(
    (role, local, name): (Role, &str, &str),
    password_hash: &str,
) -> Result<NewUser, DemoError> {
    Ok(NewUser {
        email: Email::parse(&format!("{local}@{EMAIL_DOMAIN}"))?,
        display_name: rounds_domain::input::check_name("display name", name, 120)?,
        role,
        password_hash: password_hash.to_owned(),
    })
}

async fn seed_content(
    store: &Store,
    org_id: i64,
    users: &[User],
    actor: &Actor,
) -> Result<(), DemoError> {
    let mut channels = Vec::with_capacity(CHANNELS.len());
    for c in CHANNELS {
        let new = NewChannel {
            network: c.network.into(),
            handle: c.handle.into(),
            display_name: c.display_name.into(),
        };
        channels.push(store.create_channel(org_id, &new, actor).await?);
    }
    let channel_id = |network: &'static str| {
        channels
            .iter()
            .find(|c| c.network == network)
            .map(|c| c.id)
            .ok_or(DemoError::UnknownNetwork(network))
    };
    let steps = CHAIN
        .iter()
        .map(|&role| ChainStep {
            role,
            mode: StepMode::Any,
        })
        .collect();
    let chain = ApprovalChain::new(steps).map_err(|e| DemoError::Chain(e.to_string()))?;
    let scope = NewChain {
        name: "Privacy and legal review".into(),
        channel_id: None,
        content_type: None,
        chain,
    };
    store.save_approval_chain(org_id, &scope, actor).await?;
    let screener = screen::Screener::new(policy())?;
    let user = |role: Role| {
        users
            .iter()
            .find(|u| u.role == role)
            .ok_or(DemoError::NoAccount(role))
    };
    let now = now_ms();
    for post in POSTS {
        let author = user(post.author)?;
        let author_actor = Actor::user(author, None);
        let new = NewPost {
            author_id: Some(author.id),
            body: post.body.to_owned(),
            channel_ids: post
                .networks
                .iter()
                .map(|n| channel_id(n))
                .collect::<Result<_, _>>()?,
            status: PostStatus::Draft,
            // On the hour, as people schedule.
            scheduled_at: post
                .hours_ahead
                .map(|h| (now + h * HOUR).div_euclid(HOUR) * HOUR + HOUR),
            paid: post.paid,
            content_type: "general".into(),
            media_ids: Vec::new(),
        };
        let created = store.create_post(org_id, &new, &author_actor).await?;
        if post.status == PostStatus::Draft {
            continue;
        }
        let report = screener.screen(&screen::Message {
            paid: post.paid,
            ..screen::Message::outgoing(post.body)
        })?;
        let report = serde_json::to_value(&report)?;
        store
            .submit_post(
                org_id,
                created.id,
                created.version,
                report,
                post.override_reason,
                &author_actor,
            )
            .await?;
        let approvals = match post.status {
            PostStatus::Scheduled => CHAIN.len(),
            _ => post.approved_steps.min(CHAIN.len()),
        };
        for &role in &CHAIN[..approvals] {
            let reviewer = user(role)?;
            store
                .decide(
                    org_id,
                    created.id,
                    created.version,
                    DecisionKind::Approve,
                    None,
                    reviewer.id,
                    &Actor::user(reviewer, None),
                )
                .await?;
        }
        if let Some(note) = post.review_note {
            let reviewer = user(CHAIN[approvals.min(CHAIN.len() - 1)])?;
            store
                .decide(
                    org_id,
                    created.id,
                    created.version,
                    DecisionKind::Reject,
                    Some(note),
                    reviewer.id,
                    &Actor::user(reviewer, None),
                )
                .await?;
        }
    }
    // Oldest first, as a network delivers them, so the inbox's newest-first order is by time too.
    let mut inbox: Vec<(usize, &content::DemoInboxItem)> = INBOX.iter().enumerate().collect();
    inbox.sort_by_key(|(_, item)| std::cmp::Reverse(item.minutes_ago));
    for (i, item) in inbox {
        let new = NewInboxItem {
            channel_id: channel_id(item.network)?,
            network_id: format!("demo-{}", i + 1),
            kind: item.kind.into(),
            author_handle: item.author_handle.into(),
            author_name: item.author_name.into(),
            body: item.body.into(),
            received_at: now - item.minutes_ago * 60_000,
        };
        store.create_inbox_item(org_id, &new).await?;
    }
    Ok(())
}

/// Lower-case letters and digits without `l`, `o`, `0` and `1`, which are easy to misread; exactly
/// 32 symbols so five random bits pick one without bias.
const PASSWORD_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// Sixteen random symbols in four dash-separated groups (80 bits): long enough for the password
/// policy, short enough to type from the terminal.
fn typeable_password() -> Result<String, SecretError> {
    let bytes = random_bytes::<16>()?;
    let mut out = String::with_capacity(19);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(PASSWORD_ALPHABET[usize::from(b & 31)]));
    }
    Ok(out)
}

/// One hour in milliseconds.
const HOUR: i64 = 3_600_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_typeable_and_passes_the_policy() {
        let a = typeable_password().unwrap();
        assert_eq!(a.len(), 19);
        assert_eq!(a.split('-').count(), 4);
        assert!(
            a.chars()
                .all(|c| c == '-' || PASSWORD_ALPHABET.contains(&(c as u8)))
        );
        assert!(rounds_domain::input::check_password(&a, None).is_ok());
        assert_ne!(a, typeable_password().unwrap());
    }

    #[test]
    fn staff_cover_every_role_once_and_content_names_known_networks() {
        let roles: Vec<Role> = STAFF.iter().map(|s| s.0).collect();
        assert_eq!(roles, Role::ALL);
        let known = |n: &str| CHANNELS.iter().any(|c| c.network == n);
        assert!(POSTS.iter().flat_map(|p| p.networks).all(|n| known(n)));
        assert!(INBOX.iter().all(|i| known(i.network)));
        assert!(INBOX.len() >= 30);
        assert!(
            INBOX
                .iter()
                .all(|i| (0..3 * 24 * 60).contains(&i.minutes_ago))
        );
    }

    #[test]
    fn logins_print_as_a_table() {
        let logins = DemoLogins {
            org_id: 7,
            password: "abcd-efgh-ijkm-npqr".into(),
            users: vec![
                (Role::Admin, "admin@demo.rounds.test".into()),
                (Role::Viewer, "viewer@demo.rounds.test".into()),
            ],
        };
        let text = logins.to_string();
        assert!(text.contains("Password for every account: abcd-efgh-ijkm-npqr"));
        assert!(text.contains("  Admin   admin@demo.rounds.test\n"));
        assert!(text.contains("  Viewer  viewer@demo.rounds.test\n"));
        assert!(text.contains("MFA is not enforced"));
    }
}
