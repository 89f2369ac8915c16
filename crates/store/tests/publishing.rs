//! Publishing on every backend: versions, approval chains, scheduling, the job queue, publications,
//! the archive and notifications.

#![allow(
    clippy::unwrap_used,
    reason = "helpers shared by the tests: a failure must stop the test loudly"
)]

use std::collections::HashSet;

use rounds_domain::publishing::{ChainStep, StepMode, retry_delay_ms};
use rounds_domain::{
    ApprovalChain, ChainProgress, DecisionKind, DecisionRefused, Email, OrgKind, PostStatus, Role,
};
use rounds_store::testing::scratch_stores;
use rounds_store::{
    Actor, AuditFilter, Backend, Channel, JobState, NewChain, NewChannel, NewOrg, NewPost, NewUser,
    Page, Post, PostEdit, PublishedRecord, Store, StoreError, User,
};
use serde_json::json;

const HOUR: i64 = 3_600_000;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Team {
    org: i64,
    admin: User,
    author: User,
    manager: User,
    medical: User,
    legal: [User; 2],
    channel: Channel,
}

async fn team(store: &Store) -> Team {
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
    let user = async |email: &str, name: &str, role: Role| {
        let new = NewUser {
            email: Email::parse(email).unwrap(),
            display_name: name.into(),
            role,
            password_hash: "x".into(),
        };
        store.create_user(org.id, &new, &actor).await.unwrap()
    };
    let author = user("author@example.org", "Ann Author", Role::SocialManager).await;
    let manager = user("manager@example.org", "Max Manager", Role::SocialManager).await;
    let medical = user("medical@example.org", "Dr Med", Role::MedicalReviewer).await;
    let legal = [
        user("legal1@example.org", "Lee Legal", Role::LegalReviewer).await,
        user("legal2@example.org", "Lou Legal", Role::LegalReviewer).await,
    ];
    let channel = store
        .create_channel(org.id, &channel("@hospital.test"), &actor)
        .await
        .unwrap();
    Team {
        org: org.id,
        admin,
        author,
        manager,
        medical,
        legal,
        channel,
    }
}

fn channel(handle: &str) -> NewChannel {
    NewChannel {
        network: "bluesky".into(),
        handle: handle.into(),
        display_name: format!("Hospital {handle}"),
    }
}

fn new_post(team: &Team, channels: Vec<i64>, scheduled_at: Option<i64>) -> NewPost {
    NewPost {
        author_id: Some(team.author.id),
        body: "Flu shots are free this Saturday at the main entrance.".into(),
        channel_ids: channels,
        status: PostStatus::Draft,
        scheduled_at,
        paid: false,
        content_type: "general".into(),
        media_ids: vec![],
    }
}

fn chain(steps: &[(Role, StepMode)]) -> ApprovalChain {
    ApprovalChain::new(
        steps
            .iter()
            .map(|&(role, mode)| ChainStep { role, mode })
            .collect(),
    )
    .unwrap()
}

fn who(user: &User) -> Actor {
    Actor::user(user, None)
}

async fn decide(
    store: &Store,
    team: &Team,
    post: &Post,
    user: &User,
    kind: DecisionKind,
) -> Result<ChainProgress, StoreError> {
    store
        .decide(
            team.org,
            post.id,
            post.version,
            kind,
            Some("looks fine"),
            user.id,
            &who(user),
        )
        .await
}

async fn actions(store: &Store) -> Vec<String> {
    let page = store
        .audit_page(&AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    page.into_iter().rev().map(|r| r.action).collect()
}

/// A post approved by the default chain (one Social Manager), so its jobs are queued.
async fn approved_post(
    store: &Store,
    team: &Team,
    channels: Vec<i64>,
    scheduled_at: Option<i64>,
) -> Post {
    let post = store
        .create_post(
            team.org,
            &new_post(team, channels, scheduled_at),
            &who(&team.author),
        )
        .await
        .unwrap();
    let post = store
        .submit_post(
            team.org,
            post.id,
            1,
            json!({ "decision": "allow" }),
            None,
            &who(&team.author),
        )
        .await
        .unwrap();
    assert_eq!(
        decide(store, team, &post, &team.manager, DecisionKind::Approve)
            .await
            .unwrap(),
        ChainProgress::Complete
    );
    store.post(team.org, post.id).await.unwrap()
}

#[tokio::test]
async fn full_life_through_a_two_step_chain() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let steps = chain(&[
            (Role::MedicalReviewer, StepMode::Any),
            (Role::LegalReviewer, StepMode::All),
        ]);
        let default = NewChain {
            name: "Clinical".into(),
            channel_id: None,
            content_type: None,
            chain: steps.clone(),
        };
        store
            .save_approval_chain(t.org, &default, &who(&t.admin))
            .await
            .unwrap();

        let at = now() + HOUR;
        let post = store
            .create_post(
                t.org,
                &new_post(&t, vec![t.channel.id], Some(at)),
                &who(&t.author),
            )
            .await
            .unwrap();
        assert_eq!(
            (post.version, post.status, post.content_type.as_str()),
            (1, PostStatus::Draft, "general")
        );
        assert_eq!(store.post_versions(t.org, post.id).await.unwrap().len(), 1);
        let report = json!({ "decision": "hold", "findings": 1 });
        let stale = store
            .submit_post(t.org, post.id, 2, report.clone(), None, &who(&t.author))
            .await;
        assert!(
            matches!(stale, Err(StoreError::Conflict(_))),
            "{backend:?}: {stale:?}"
        );
        let post = store
            .submit_post(
                t.org,
                post.id,
                1,
                report.clone(),
                Some("the phone number is our front desk"),
                &who(&t.author),
            )
            .await
            .unwrap();
        assert_eq!(post.status, PostStatus::InReview);
        let version = store.post_versions(t.org, post.id).await.unwrap().remove(0);
        assert_eq!(
            (version.report, version.chain, version.override_by),
            (Some(report), Some(steps), Some(t.author.id))
        );
        assert_eq!(
            store.notifications(t.medical.id, true).await.unwrap()[0].kind,
            "approval_needed"
        );

        // Wrong role, the author, and a stale version are refused; nothing is recorded.
        let wrong = decide(&store, &t, &post, &t.legal[0], DecisionKind::Approve).await;
        assert!(
            matches!(
                wrong,
                Err(StoreError::Refused(DecisionRefused::WrongRole {
                    step: 0,
                    needed: Role::MedicalReviewer
                }))
            ),
            "{wrong:?}"
        );
        let own = decide(&store, &t, &post, &t.author, DecisionKind::Approve).await;
        assert!(
            matches!(own, Err(StoreError::Refused(DecisionRefused::OwnPost))),
            "{own:?}"
        );
        let old = store
            .decide(
                t.org,
                post.id,
                0,
                DecisionKind::Approve,
                None,
                t.medical.id,
                &who(&t.medical),
            )
            .await;
        assert!(matches!(old, Err(StoreError::Conflict(_))), "{old:?}");
        assert_eq!(
            store.approval_queue(t.org, t.medical.id).await.unwrap(),
            std::slice::from_ref(&post)
        );
        assert!(
            store
                .approval_queue(t.org, t.legal[0].id)
                .await
                .unwrap()
                .is_empty()
        );

        let mut ids = vec![t.legal[0].id, t.legal[1].id];
        ids.sort_unstable();
        let progress = decide(&store, &t, &post, &t.medical, DecisionKind::Approve)
            .await
            .unwrap();
        assert_eq!(
            progress,
            ChainProgress::AwaitingStep {
                step: 1,
                waiting_on: ids
            }
        );
        let progress = decide(&store, &t, &post, &t.legal[0], DecisionKind::Approve)
            .await
            .unwrap();
        assert_eq!(
            progress,
            ChainProgress::AwaitingStep {
                step: 1,
                waiting_on: vec![t.legal[1].id]
            }
        );
        let again = decide(&store, &t, &post, &t.legal[0], DecisionKind::Approve).await;
        assert!(
            matches!(
                again,
                Err(StoreError::Refused(DecisionRefused::AlreadyDecided {
                    step: 1
                }))
            ),
            "{again:?}"
        );
        assert_eq!(
            store
                .approval_queue(t.org, t.legal[1].id)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            store
                .approval_queue(t.org, t.legal[0].id)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            decide(&store, &t, &post, &t.legal[1], DecisionKind::Approve)
                .await
                .unwrap(),
            ChainProgress::Complete
        );

        let post = store.post(t.org, post.id).await.unwrap();
        assert_eq!(post.status, PostStatus::Scheduled);
        let jobs = store.jobs_of_post(t.org, post.id).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(
            (jobs[0].state, jobs[0].run_at, jobs[0].version),
            (JobState::Queued, at, 1)
        );
        let record = store.approval_record(t.org, post.id).await.unwrap();
        let names: Vec<&str> = record.iter().map(|e| e.user_name.as_str()).collect();
        assert_eq!(names, ["Dr Med", "Lee Legal", "Lou Legal"]);
        assert!(
            record
                .iter()
                .all(|e| e.version == 1 && e.decision == DecisionKind::Approve)
        );

        assert!(
            store
                .claim_due_jobs("w1", now(), 60_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "not due before its time"
        );
        let claimed = store.claim_due_jobs("w1", at, 60_000, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let job = &claimed[0];
        assert_eq!(
            (
                job.post_id,
                job.channel_id,
                job.version,
                job.attempts,
                job.recovered
            ),
            (post.id, t.channel.id, 1, 1, false)
        );
        assert_eq!(job.body, post.body);
        assert_eq!(
            job.idempotency_key,
            rounds_domain::publishing::idempotency_key(post.id, t.channel.id, 1)
        );
        assert_eq!(
            store.jobs_of_post(t.org, post.id).await.unwrap()[0].state,
            JobState::Running
        );

        let published = PublishedRecord {
            remote: json!({ "uri": "at://did:plc:x/app.bsky.feed.post/1" }),
            url: Some("https://bsky.test/1".into()),
            at_ms: at + 5,
        };
        assert!(
            store
                .complete_job(job.job_id, "w1", &published)
                .await
                .unwrap()
        );
        assert!(
            !store
                .complete_job(job.job_id, "w1", &published)
                .await
                .unwrap(),
            "a second completion changes nothing"
        );
        let post = store.post(t.org, post.id).await.unwrap();
        assert_eq!(post.status, PostStatus::Published, "{backend:?}");
        let publications = store.publications(t.org, post.id).await.unwrap();
        assert_eq!(publications.len(), 1);
        assert_eq!(
            (publications[0].url.as_deref(), publications[0].published_at),
            (Some("https://bsky.test/1"), at + 5)
        );
        let archive = store
            .archive_items(
                t.org,
                &Page {
                    before_id: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(archive.len(), 1);
        assert_eq!(
            (archive[0].kind.as_str(), archive[0].body.as_str()),
            ("post", post.body.as_str())
        );
        assert_eq!(archive[0].record["approvals"].as_array().unwrap().len(), 3);
        assert_eq!(archive[0].record["report"]["decision"], "hold");
        assert_eq!(
            archive[0].record["network"]["uri"],
            "at://did:plc:x/app.bsky.feed.post/1"
        );

        let edit = PostEdit {
            body: "x".into(),
            channel_ids: vec![t.channel.id],
            paid: false,
            scheduled_at: None,
            content_type: "general".into(),
            media_ids: vec![],
        };
        let late_edit = store
            .update_post(t.org, post.id, post.version, &edit, &who(&t.author))
            .await;
        assert!(
            matches!(late_edit, Err(StoreError::Transition(_))),
            "a published post is not edited: {late_edit:?}"
        );

        let deleted = store
            .mark_publication_deleted(t.org, publications[0].id, &who(&t.manager))
            .await
            .unwrap();
        assert!(deleted.deleted_at.is_some());
        store
            .mark_publication_deleted(t.org, publications[0].id, &who(&t.manager))
            .await
            .unwrap();
        let archive = store
            .archive_items(
                t.org,
                &Page {
                    before_id: None,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            archive.iter().map(|a| a.kind.as_str()).collect::<Vec<_>>(),
            ["deletion", "post"],
            "deleting twice archives once"
        );

        let calendar = store.posts_between(t.org, at, at + HOUR).await.unwrap();
        assert_eq!(calendar.len(), 1);
        assert_eq!(
            calendar[0].publications[0].url.as_deref(),
            Some("https://bsky.test/1")
        );
        assert!(
            store
                .posts_between(t.org, at + HOUR, at + 2 * HOUR)
                .await
                .unwrap()
                .is_empty()
        );

        let actions = actions(&store).await;
        for expected in [
            "approval_chain.saved",
            "post.submitted",
            "post.screening_overridden",
            "post.approved",
            "post.published",
            "post.publication_deleted",
        ] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{backend:?}: {expected} missing from {actions:?}"
            );
        }
        assert_eq!(actions.iter().filter(|a| *a == "post.published").count(), 1);
        assert!(
            store.audit_verify().await.unwrap().is_ok(),
            "the audit chain verifies"
        );
    }
}

#[tokio::test]
async fn an_edit_voids_approvals_and_cancels_jobs() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let post = approved_post(&store, &t, vec![t.channel.id], Some(now() + HOUR)).await;
        assert_eq!(post.status, PostStatus::Scheduled);
        let edit = PostEdit {
            body: "Flu shots are free this Sunday.".into(),
            channel_ids: vec![t.channel.id],
            paid: false,
            scheduled_at: Some(now() + 2 * HOUR),
            content_type: "general".into(),
            media_ids: vec![4, 2],
        };
        let edited = store
            .update_post(t.org, post.id, 1, &edit, &who(&t.author))
            .await
            .unwrap();
        assert_eq!(
            (edited.status, edited.version, edited.media_ids.as_slice()),
            (PostStatus::Draft, 2, &[4, 2][..]),
            "{backend:?}"
        );
        let stale = store
            .update_post(t.org, post.id, 1, &edit, &who(&t.manager))
            .await;
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
        assert_eq!(
            store.jobs_of_post(t.org, post.id).await.unwrap()[0].state,
            JobState::Cancelled
        );
        let versions = store.post_versions(t.org, post.id).await.unwrap();
        assert_eq!(
            versions
                .iter()
                .map(|v| (v.version, v.body.as_str()))
                .collect::<Vec<_>>(),
            [(1, post.body.as_str()), (2, edit.body.as_str())]
        );
        assert!(
            store
                .claim_due_jobs("w", now() + 3 * HOUR, 1000, 10)
                .await
                .unwrap()
                .is_empty(),
            "the old version never goes out"
        );

        // Version 2 needs its own approval; version 1's stays in the record.
        let resubmitted = store
            .submit_post(t.org, post.id, 2, json!({}), None, &who(&t.author))
            .await
            .unwrap();
        assert_eq!(
            store.approval_queue(t.org, t.manager.id).await.unwrap(),
            std::slice::from_ref(&resubmitted)
        );
        decide(&store, &t, &resubmitted, &t.manager, DecisionKind::Approve)
            .await
            .unwrap();
        let jobs = store.jobs_of_post(t.org, post.id).await.unwrap();
        assert_eq!(
            jobs.iter()
                .map(|j| (j.version, j.state))
                .collect::<Vec<_>>(),
            [(1, JobState::Cancelled), (2, JobState::Queued)]
        );
        let record = store.approval_record(t.org, post.id).await.unwrap();
        assert_eq!(record.iter().map(|e| e.version).collect::<Vec<_>>(), [1, 2]);
        let claimed = store
            .claim_due_jobs("w", now() + 3 * HOUR, 1000, 10)
            .await
            .unwrap();
        assert_eq!(
            (
                claimed.len(),
                claimed[0].body.as_str(),
                claimed[0].media_ids.as_slice()
            ),
            (1, edit.body.as_str(), &[4, 2][..])
        );
        assert!(actions(&store).await.contains(&"post.edited".to_owned()));
    }
}

#[tokio::test]
async fn rejection_and_change_requests_reach_the_author() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let post = store
            .create_post(
                t.org,
                &new_post(&t, vec![t.channel.id], None),
                &who(&t.author),
            )
            .await
            .unwrap();
        let post = store
            .submit_post(t.org, post.id, 1, json!({}), None, &who(&t.author))
            .await
            .unwrap();
        let progress = store
            .decide(
                t.org,
                post.id,
                1,
                DecisionKind::RequestChanges,
                Some("Add the clinic hours"),
                t.manager.id,
                &who(&t.manager),
            )
            .await;
        assert_eq!(
            progress.unwrap(),
            ChainProgress::ChangesRequested { step: 0 },
            "{backend:?}"
        );
        let post = store.post(t.org, post.id).await.unwrap();
        assert_eq!(
            (post.status, post.status_note.as_deref()),
            (PostStatus::ChangesRequested, Some("Add the clinic hours"))
        );
        let note = store
            .notifications(t.author.id, true)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(note.kind, "changes_requested");
        assert!(
            note.message.contains("Add the clinic hours") && note.message.contains("Max Manager"),
            "{}",
            note.message
        );
        let resubmit = store
            .submit_post(t.org, post.id, 1, json!({}), None, &who(&t.author))
            .await;
        assert!(
            matches!(resubmit, Err(StoreError::Transition(_))),
            "changes mean a new version first: {resubmit:?}"
        );

        let edit = PostEdit {
            body: "New text".into(),
            channel_ids: vec![t.channel.id],
            paid: false,
            scheduled_at: None,
            content_type: "general".into(),
            media_ids: vec![],
        };
        store
            .update_post(t.org, post.id, 1, &edit, &who(&t.author))
            .await
            .unwrap();
        store
            .submit_post(t.org, post.id, 2, json!({}), None, &who(&t.author))
            .await
            .unwrap();
        let post = store.post(t.org, post.id).await.unwrap();
        assert_eq!(
            decide(&store, &t, &post, &t.manager, DecisionKind::Reject)
                .await
                .unwrap(),
            ChainProgress::Rejected { step: 0 }
        );
        assert_eq!(
            store.post(t.org, post.id).await.unwrap().status,
            PostStatus::Rejected
        );
        assert_eq!(
            store.notifications(t.author.id, false).await.unwrap()[0].kind,
            "rejected"
        );
        assert_eq!(store.mark_notifications_read(t.author.id).await.unwrap(), 2);
        assert!(
            store
                .notifications(t.author.id, true)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.notifications(t.author.id, false).await.unwrap().len(),
            2
        );
    }
}

#[tokio::test]
async fn a_late_approval_asks_for_a_new_time() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let slot = now() - 10 * 60_000;
        let post = approved_post(&store, &t, vec![t.channel.id], Some(slot)).await;
        assert_eq!(post.status, PostStatus::NeedsReschedule, "{backend:?}");
        assert!(post.status_note.is_some());
        assert!(
            store.jobs_of_post(t.org, post.id).await.unwrap().is_empty(),
            "nothing goes out at a time nobody chose"
        );
        let note = store
            .notifications(t.author.id, true)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(
            (note.kind.as_str(), note.link),
            ("approved_late", Some(format!("/posts/{}", post.id)))
        );
        let calendar = store
            .posts_between(t.org, slot - 1, slot + 1)
            .await
            .unwrap();
        assert_eq!(
            calendar.iter().map(|e| e.post.id).collect::<Vec<_>>(),
            [post.id],
            "the calendar shows it where it missed"
        );

        let new_time = now() + HOUR;
        let moved = store
            .reschedule(t.org, post.id, new_time, &who(&t.author))
            .await
            .unwrap();
        assert_eq!(
            (moved.status, moved.scheduled_at, moved.version),
            (PostStatus::Scheduled, Some(new_time), 1)
        );
        let jobs = store.jobs_of_post(t.org, post.id).await.unwrap();
        assert_eq!(
            jobs.iter().map(|j| (j.state, j.run_at)).collect::<Vec<_>>(),
            [(JobState::Queued, new_time)]
        );
        let later = store
            .reschedule(t.org, post.id, new_time + HOUR, &who(&t.author))
            .await
            .unwrap();
        assert_eq!(later.scheduled_at, Some(new_time + HOUR));
        assert_eq!(
            store.jobs_of_post(t.org, post.id).await.unwrap()[0].run_at,
            new_time + HOUR,
            "the job moves with the post"
        );

        let draft = store
            .create_post(
                t.org,
                &new_post(&t, vec![t.channel.id], None),
                &who(&t.author),
            )
            .await
            .unwrap();
        let refused = store
            .reschedule(t.org, draft.id, new_time, &who(&t.author))
            .await;
        assert!(
            matches!(refused, Err(StoreError::Transition(_))),
            "a draft is not scheduled: {refused:?}"
        );

        // A slot a few seconds ago (inside the grace minute) publishes at once.
        let just = approved_post(&store, &t, vec![t.channel.id], Some(now() - 5_000)).await;
        assert_eq!(just.status, PostStatus::Scheduled);
        assert!(store.jobs_of_post(t.org, just.id).await.unwrap()[0].run_at >= now() - 60_000);
    }
}

async fn due_notes(store: &Store, user: &User) -> Vec<String> {
    store
        .notifications(user.id, false)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == "approval_due")
        .map(|n| n.message)
        .collect()
}

#[tokio::test]
async fn a_post_still_in_review_near_its_slot_warns_once_and_says_who_it_waits_for() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let submit = async |slot: i64| {
            let post = store
                .create_post(
                    t.org,
                    &new_post(&t, vec![t.channel.id], Some(slot)),
                    &who(&t.author),
                )
                .await
                .unwrap();
            store
                .submit_post(
                    t.org,
                    post.id,
                    1,
                    json!({ "decision": "allow" }),
                    None,
                    &who(&t.author),
                )
                .await
                .unwrap()
        };
        let soon = submit(now() + 5 * HOUR).await;
        let later = submit(now() + 30 * HOUR).await;
        assert_eq!(
            store.warn_due_approvals(now(), 24 * HOUR).await.unwrap(),
            1,
            "{backend:?}"
        );
        assert_eq!(
            due_notes(&store, &t.manager).await,
            ["A post scheduled in about 5 hours still needs your approval."]
        );
        assert_eq!(
            due_notes(&store, &t.author).await,
            [
                "Your post scheduled in about 5 hours is still waiting for approval (step 1 of 1: Social Manager)."
            ]
        );
        assert!(
            due_notes(&store, &t.medical).await.is_empty(),
            "only the step's reviewers hear of it"
        );
        let note = store
            .notifications(t.manager.id, false)
            .await
            .unwrap()
            .into_iter()
            .find(|n| n.kind == "approval_due")
            .unwrap();
        assert_eq!(note.link, Some(format!("/posts/{}", soon.id)));

        assert_eq!(
            store.warn_due_approvals(now(), 24 * HOUR).await.unwrap(),
            0,
            "one warning per slot"
        );
        assert_eq!(due_notes(&store, &t.author).await.len(), 1);

        // Approved in time: nothing more to say about it; the later one warns when its day comes.
        decide(&store, &t, &soon, &t.manager, DecisionKind::Approve)
            .await
            .unwrap();
        assert_eq!(
            store
                .warn_due_approvals(now() + 7 * HOUR, 24 * HOUR)
                .await
                .unwrap(),
            1
        );
        assert_eq!(due_notes(&store, &t.author).await.len(), 2);
        assert_eq!(
            store.post(t.org, later.id).await.unwrap().status,
            PostStatus::InReview
        );

        // Nobody holds the role a step needs: the author learns why, so they can ask an admin.
        let scope = NewChain {
            name: "Privacy".into(),
            channel_id: Some(t.channel.id),
            content_type: None,
            chain: chain(&[(Role::PrivacyOfficer, StepMode::Any)]),
        };
        store
            .save_approval_chain(t.org, &scope, &who(&t.admin))
            .await
            .unwrap();
        submit(now() + 2 * HOUR).await;
        assert_eq!(store.warn_due_approvals(now(), 24 * HOUR).await.unwrap(), 1);
        let notes = due_notes(&store, &t.author).await;
        assert!(
            notes.iter().any(|n| n
                .starts_with("Your post scheduled in about 2 hours cannot be approved in time:")),
            "{notes:?}"
        );
    }
}

#[tokio::test]
async fn a_paused_organization_publishes_nothing_and_posts_whose_time_passed_wait_for_a_new_one() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let soon = approved_post(&store, &t, vec![t.channel.id], Some(now() + 60_000)).await;
        let later = approved_post(&store, &t, vec![t.channel.id], Some(now() + 5 * HOUR)).await;
        assert!(
            store
                .pause_publishing(t.org, "Max Manager", "  ", &who(&t.manager))
                .await
                .is_err(),
            "a reason is required"
        );
        let pause = store
            .pause_publishing(
                t.org,
                "Max Manager",
                "Mass-casualty incident downtown",
                &who(&t.manager),
            )
            .await
            .unwrap();
        assert_eq!(
            store.publishing_pause(t.org).await.unwrap(),
            Some(pause),
            "{backend:?}"
        );
        assert!(matches!(
            store
                .pause_publishing(t.org, "Max Manager", "again", &who(&t.manager))
                .await,
            Err(StoreError::Conflict(_))
        ));

        // While paused, nothing of the organization is claimed, however late.
        assert!(
            store
                .claim_due_jobs("w1", now() + 10 * 60_000, 60_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{backend:?}"
        );

        // Resumed after the first post's time: it waits for a new time, its author is told; the other keeps its slot.
        // (The store takes any time; the pages refuse one in the past. Here it stands for a slot that passed.)
        store
            .reschedule(t.org, soon.id, now() - 10 * 60_000, &who(&t.manager))
            .await
            .unwrap();
        let missed = store
            .resume_publishing(t.org, &who(&t.manager))
            .await
            .unwrap();
        assert_eq!(missed, [soon.id], "{backend:?}");
        let soon = store.post(t.org, soon.id).await.unwrap();
        assert_eq!(soon.status, PostStatus::NeedsReschedule);
        assert!(
            store
                .jobs_of_post(t.org, soon.id)
                .await
                .unwrap()
                .iter()
                .all(|j| j.state == JobState::Cancelled)
        );
        assert!(
            store
                .notifications(t.author.id, true)
                .await
                .unwrap()
                .iter()
                .any(|n| n.kind == "slot_missed")
        );
        assert_eq!(
            store.post(t.org, later.id).await.unwrap().status,
            PostStatus::Scheduled
        );
        assert_eq!(store.publishing_pause(t.org).await.unwrap(), None);
        let claimed = store
            .claim_due_jobs("w1", now() + 6 * HOUR, 60_000, 10)
            .await
            .unwrap();
        assert_eq!(
            claimed.iter().map(|j| j.post_id).collect::<Vec<_>>(),
            [later.id]
        );
        let audit = actions(&store).await;
        assert!(
            [
                "publishing.paused",
                "post.slot_missed",
                "publishing.resumed"
            ]
            .iter()
            .all(|a| audit.iter().any(|x| x == a)),
            "{audit:?}"
        );
        assert!(matches!(
            store.resume_publishing(t.org, &who(&t.manager)).await,
            Err(StoreError::Conflict(_))
        ));
    }
}

#[tokio::test]
async fn leases_retries_and_final_failure() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let post = approved_post(&store, &t, vec![t.channel.id], None).await;
        let start = now() + 1_000;
        let first = store.claim_due_jobs("a", start, 1_000, 10).await.unwrap();
        assert_eq!(first.len(), 1, "{backend:?}");
        assert!(
            store
                .claim_due_jobs("b", start + 500, 1_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "a held lease is not taken"
        );

        // Worker a died: after its lease the job comes back, flagged so the network is asked first.
        let second = store
            .claim_due_jobs("b", start + 2_000, 1_000, 10)
            .await
            .unwrap();
        assert_eq!(second.len(), 1);
        assert_eq!(
            (second[0].job_id, second[0].recovered, second[0].attempts),
            (first[0].job_id, true, 2)
        );
        assert_eq!(second[0].first_started_at, Some(start));
        let stale = store.fail_job(first[0].job_id, "a", "timeout", None).await;
        assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");

        let job = second[0].job_id;
        let mut clock = start + 2_000;
        let mut holder = "b";
        let mut attempt = 2;
        while let Some(delay) = retry_delay_ms(attempt) {
            store
                .fail_job(
                    job,
                    holder,
                    "HTTP 503: service unavailable",
                    Some(clock + delay),
                )
                .await
                .unwrap();
            assert_eq!(
                store.post(t.org, post.id).await.unwrap().status,
                PostStatus::Scheduled,
                "a retry keeps the post scheduled"
            );
            assert!(
                store
                    .claim_due_jobs("c", clock + delay - 1, 1_000, 10)
                    .await
                    .unwrap()
                    .is_empty(),
                "not before the back-off"
            );
            clock += delay;
            holder = if attempt % 2 == 0 { "c" } else { "b" };
            let again = store
                .claim_due_jobs(holder, clock, 1_000, 10)
                .await
                .unwrap();
            assert_eq!((again.len(), again[0].recovered), (1, false));
            attempt += 1;
            assert_eq!(again[0].attempts, i64::from(attempt));
        }
        assert_eq!(attempt, 6, "six attempts in all");
        let jobs = store.jobs_of_post(t.org, post.id).await.unwrap();
        assert_eq!(
            jobs[0].last_error.as_deref(),
            Some("HTTP 503: service unavailable")
        );
        store
            .fail_job(
                job,
                holder,
                "Token expired: sign in to the channel again",
                None,
            )
            .await
            .unwrap();
        let failed = store.post(t.org, post.id).await.unwrap();
        assert_eq!(
            (failed.status, failed.status_note.as_deref()),
            (
                PostStatus::Failed,
                Some("Token expired: sign in to the channel again")
            )
        );
        assert_eq!(
            store.jobs_of_post(t.org, post.id).await.unwrap()[0].state,
            JobState::Failed
        );
        let note = store
            .notifications(t.author.id, true)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(note.kind, "publish_failed");
        assert!(
            note.message.contains("Token expired") && note.message.contains("@hospital.test"),
            "{}",
            note.message
        );
        let actions = actions(&store).await;
        assert_eq!(
            actions
                .iter()
                .filter(|a| *a == "post.publish_retried")
                .count(),
            4,
            "attempts 2 to 5 failed and were retried"
        );
        assert_eq!(
            actions
                .iter()
                .filter(|a| *a == "post.publish_failed")
                .count(),
            1
        );

        // A new time starts the job over.
        let retry_at = now() + HOUR;
        assert_eq!(
            store
                .reschedule(t.org, post.id, retry_at, &who(&t.author))
                .await
                .unwrap()
                .status,
            PostStatus::Scheduled
        );
        let jobs = store.jobs_of_post(t.org, post.id).await.unwrap();
        assert_eq!(
            (jobs.len(), jobs[0].state, jobs[0].attempts, jobs[0].run_at),
            (1, JobState::Queued, 0, retry_at)
        );
        let claimed = store
            .claim_due_jobs("d", retry_at, 1_000, 10)
            .await
            .unwrap();
        let done = PublishedRecord {
            remote: json!({ "id": "1" }),
            url: None,
            at_ms: retry_at,
        };
        assert!(
            store
                .complete_job(claimed[0].job_id, "d", &done)
                .await
                .unwrap()
        );
        assert_eq!(
            store.post(t.org, post.id).await.unwrap().status,
            PostStatus::Published
        );
    }
}

#[tokio::test]
async fn a_completion_after_a_lapsed_lease_still_closes_the_job() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let other = store
            .create_channel(t.org, &channel("@clinic.test"), &who(&t.admin))
            .await
            .unwrap();
        let post = approved_post(&store, &t, vec![t.channel.id, other.id], None).await;
        let start = now() + 1_000;
        let claimed = store.claim_due_jobs("slow", start, 1_000, 1).await.unwrap();
        assert_eq!(claimed.len(), 1, "{backend:?}: the limit is kept");
        let taken = store
            .claim_due_jobs("fast", start + 5_000, 1_000, 10)
            .await
            .unwrap();
        assert_eq!(taken.len(), 2, "the lapsed job and the other channel's");
        let published = PublishedRecord {
            remote: json!({ "id": "9" }),
            url: Some("https://bsky.test/9".into()),
            at_ms: start,
        };
        assert!(
            store
                .complete_job(claimed[0].job_id, "slow", &published)
                .await
                .unwrap()
        );
        assert_eq!(
            store.post(t.org, post.id).await.unwrap().status,
            PostStatus::Scheduled,
            "one channel still to go"
        );
        assert!(
            !store
                .complete_job(claimed[0].job_id, "fast", &published)
                .await
                .unwrap()
        );
        let rest = taken
            .iter()
            .find(|j| j.job_id != claimed[0].job_id)
            .unwrap();
        assert!(
            store
                .complete_job(rest.job_id, "fast", &published)
                .await
                .unwrap()
        );
        assert_eq!(
            store.post(t.org, post.id).await.unwrap().status,
            PostStatus::Published
        );
        assert_eq!(store.publications(t.org, post.id).await.unwrap().len(), 2);
        assert_eq!(
            store
                .archive_items(
                    t.org,
                    &Page {
                        before_id: None,
                        limit: 10
                    }
                )
                .await
                .unwrap()
                .len(),
            2
        );
        assert!(
            store
                .claim_due_jobs("late", start + HOUR, 1_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn chains_are_chosen_by_scope() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let actor = who(&t.admin);
        let other = store
            .create_channel(t.org, &channel("@clinic.test"), &actor)
            .await
            .unwrap();
        let draft = |channels: Vec<i64>, content_type: &str| Post {
            channel_ids: channels,
            content_type: content_type.into(),
            ..blank_post(&t)
        };
        let post = draft(vec![t.channel.id], "brand_promotion");
        assert_eq!(
            store.chain_for(t.org, &post).await.unwrap(),
            ApprovalChain::default_chain(),
            "{backend:?}"
        );

        let save = async |channel_id: Option<i64>, content_type: Option<&str>, role: Role| {
            let new = NewChain {
                name: format!("{role:?}"),
                channel_id,
                content_type: content_type.map(str::to_owned),
                chain: chain(&[(role, StepMode::Any)]),
            };
            store
                .save_approval_chain(t.org, &new, &actor)
                .await
                .unwrap()
        };
        save(None, None, Role::PrivacyOfficer).await;
        assert_eq!(
            store.chain_for(t.org, &post).await.unwrap(),
            chain(&[(Role::PrivacyOfficer, StepMode::Any)])
        );
        save(None, Some("brand_promotion"), Role::LegalReviewer).await;
        assert_eq!(
            store.chain_for(t.org, &post).await.unwrap(),
            chain(&[(Role::LegalReviewer, StepMode::Any)])
        );
        let by_channel = save(Some(t.channel.id), None, Role::MedicalReviewer).await;
        assert_eq!(
            store.chain_for(t.org, &post).await.unwrap(),
            chain(&[(Role::MedicalReviewer, StepMode::Any)])
        );
        save(Some(t.channel.id), Some("brand_promotion"), Role::Admin).await;
        assert_eq!(
            store.chain_for(t.org, &post).await.unwrap(),
            chain(&[(Role::Admin, StepMode::Any)])
        );
        assert_eq!(
            store
                .chain_for(t.org, &draft(vec![t.channel.id], "general"))
                .await
                .unwrap(),
            chain(&[(Role::MedicalReviewer, StepMode::Any)])
        );

        // Two channels: both chains, in channel order, a shared step once.
        let both = draft(vec![t.channel.id, other.id], "brand_promotion");
        assert_eq!(
            store.chain_for(t.org, &both).await.unwrap(),
            chain(&[
                (Role::Admin, StepMode::Any),
                (Role::LegalReviewer, StepMode::Any)
            ])
        );

        // Saving the same scope replaces its chain; deleting falls back to the next most general.
        let replaced = save(Some(t.channel.id), None, Role::SocialManager).await;
        assert_eq!(replaced.id, by_channel.id);
        assert_eq!(store.approval_chains(t.org).await.unwrap().len(), 4);
        store
            .delete_approval_chain(t.org, replaced.id, &actor)
            .await
            .unwrap();
        assert_eq!(
            store
                .chain_for(t.org, &draft(vec![t.channel.id], "general"))
                .await
                .unwrap(),
            chain(&[(Role::PrivacyOfficer, StepMode::Any)])
        );
        assert!(matches!(
            store
                .delete_approval_chain(t.org, replaced.id, &actor)
                .await,
            Err(StoreError::NotFound(_))
        ));
        let foreign = NewChain {
            name: "x".into(),
            channel_id: Some(999_999),
            content_type: None,
            chain: ApprovalChain::default_chain(),
        };
        assert!(matches!(
            store.save_approval_chain(t.org, &foreign, &actor).await,
            Err(StoreError::NotFound("channel"))
        ));

        // Nobody is a Privacy Officer: the chain stalls and says why; nobody can decide.
        let stuck = store
            .create_post(t.org, &new_post(&t, vec![other.id], None), &who(&t.author))
            .await
            .unwrap();
        let stuck = store
            .submit_post(t.org, stuck.id, 1, json!({}), None, &who(&t.author))
            .await
            .unwrap();
        let refused = decide(&store, &t, &stuck, &t.manager, DecisionKind::Approve).await;
        assert!(
            matches!(
                refused,
                Err(StoreError::Refused(DecisionRefused::NotAwaiting))
            ),
            "{refused:?}"
        );
        assert!(
            actions(&store)
                .await
                .contains(&"approval_chain.deleted".to_owned())
        );
    }
}

fn blank_post(t: &Team) -> Post {
    Post {
        id: 0,
        org_id: t.org,
        author_id: Some(t.author.id),
        body: String::new(),
        channel_ids: vec![],
        status: PostStatus::Draft,
        scheduled_at: None,
        paid: false,
        created_at: 0,
        updated_at: 0,
        version: 1,
        content_type: "general".into(),
        media_ids: vec![],
        status_note: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_job() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let mut channels = vec![t.channel.id];
        for i in 1..50 {
            channels.push(
                store
                    .create_channel(t.org, &channel(&format!("@site{i}.test")), &who(&t.admin))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let post = approved_post(&store, &t, channels, None).await;
        assert_eq!(store.jobs_of_post(t.org, post.id).await.unwrap().len(), 50);
        let at = now() + 1_000;
        let claimer = |name: &'static str| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_due_jobs(name, at, HOUR, 3).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|j| j.job_id));
                    tokio::task::yield_now().await;
                }
            })
        };
        let (a, b) = (claimer("a"), claimer("b"));
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        let all: Vec<i64> = a.iter().chain(&b).copied().collect();
        let distinct: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(
            (all.len(), distinct.len()),
            (50, 50),
            "{backend:?}: a {} b {}",
            a.len(),
            b.len()
        );
        if backend == Backend::Postgres {
            eprintln!("PostgreSQL claimers took {} and {} jobs", a.len(), b.len());
        }
    }
}

#[tokio::test]
async fn approvals_and_the_archive_are_append_only() {
    for (backend, _dir, store) in scratch_stores().await {
        let t = team(&store).await;
        let post = approved_post(&store, &t, vec![t.channel.id], None).await;
        let claimed = store
            .claim_due_jobs("w", now() + 1_000, 1_000, 10)
            .await
            .unwrap();
        let done = PublishedRecord {
            remote: json!({ "id": "1" }),
            url: None,
            at_ms: now(),
        };
        store
            .complete_job(claimed[0].job_id, "w", &done)
            .await
            .unwrap();
        for sql in [
            "UPDATE approvals SET decision = 'reject'",
            "DELETE FROM approvals",
            "UPDATE archive_items SET body = 'something else'",
            "DELETE FROM archive_items",
        ] {
            let changed = sqlx::query(sql).execute(store.pool()).await;
            assert!(changed.is_err(), "{backend:?}: {sql} must be refused");
        }
        assert_eq!(
            store.approval_record(t.org, post.id).await.unwrap().len(),
            1
        );
        assert_eq!(
            store
                .archive_items(
                    t.org,
                    &Page {
                        before_id: None,
                        limit: 10
                    }
                )
                .await
                .unwrap()[0]
                .body,
            post.body
        );
    }
}
