//! Publishing: post versions, approval chains and decisions, the publishing job table, publications,
//! the archive of everything published, and in-app notifications.
//!
//! The rules (which status may follow which, who may decide which step) live in
//! `rounds_domain::publishing`; this module records their outcome, each change with its audit event
//! in one transaction.

use std::collections::HashMap;

use rounds_domain::publishing::{
    self as rules, ApprovalChain, ChainProgress, Decision, DecisionKind, DecisionRefused, PostEvent,
};
use rounds_domain::{AuditAction, PostStatus, Role};
use serde::Serialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{
    self, append_audit, cap, decode_error, json_ids, now_ms, plain_write_tx, write_tx,
};
use crate::{Actor, Backend, Page, Post, Result, Store, StoreError, fetch_user, foreign_key};

/// How late past its slot an approval may complete and still publish at once: a minute covers the
/// time between the last click and the commit; later than that, a person picks a new time.
const SLOT_GRACE_MS: i64 = 60_000;

/// The organization setting that holds a publishing pause (empty when publishing runs).
const PAUSE_KEY: &str = "publishing_paused";

/// Publishing stopped for the whole organization: by whom, since when, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PublishingPause {
    /// The display name of who paused it.
    pub by: String,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Their written reason.
    pub reason: String,
}

/// A new content for a post: every edit makes a new version.
#[derive(Debug, Clone)]
pub struct PostEdit {
    /// The text.
    pub body: String,
    /// The channels it goes to.
    pub channel_ids: Vec<i64>,
    /// Whether it is paid or advocacy content.
    pub paid: bool,
    /// When it should go out, Unix ms.
    pub scheduled_at: Option<i64>,
    /// What kind of content it is.
    pub content_type: String,
    /// The attached media, in order.
    pub media_ids: Vec<i64>,
}

/// One version of a post, as it was written and (once submitted) screened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostVersion {
    /// The post.
    pub post_id: i64,
    /// The version number, from 1.
    pub version: i64,
    /// The text.
    pub body: String,
    /// The channels it went to.
    pub channel_ids: Vec<i64>,
    /// Whether it was paid or advocacy content.
    pub paid: bool,
    /// The time it asked for, Unix ms.
    pub scheduled_at: Option<i64>,
    /// What kind of content it was.
    pub content_type: String,
    /// The attached media.
    pub media_ids: Vec<i64>,
    /// The screening summary recorded at submission.
    pub report: Option<serde_json::Value>,
    /// The written reason a blocking finding was overridden, if one was.
    pub override_reason: Option<String>,
    /// Who overrode it.
    pub override_by: Option<i64>,
    /// The approval chain fixed at submission.
    pub chain: Option<ApprovalChain>,
    /// Who wrote this version.
    pub created_by: Option<i64>,
    /// When, Unix ms.
    pub created_at: i64,
}

/// An approval chain as the organization defined it, with the scope it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredChain {
    /// Row id.
    pub id: i64,
    /// The organization.
    pub org_id: i64,
    /// What people call it ("Pharma brand promotion").
    pub name: String,
    /// Only posts to this channel; `None` for every channel.
    pub channel_id: Option<i64>,
    /// Only posts of this content type; `None` for every type.
    pub content_type: Option<String>,
    /// The steps.
    pub chain: ApprovalChain,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

/// What is needed to define (or replace) the chain of a scope.
#[derive(Debug, Clone)]
pub struct NewChain {
    /// What people call it.
    pub name: String,
    /// Only posts to this channel; `None` for every channel.
    pub channel_id: Option<i64>,
    /// Only posts of this content type; `None` for every type.
    pub content_type: Option<String>,
    /// The steps.
    pub chain: ApprovalChain,
}

/// One decision in a post's approval record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalEntry {
    /// The version decided on.
    pub version: i64,
    /// The chain step (0-based).
    pub step: usize,
    /// Who decided.
    pub user_id: i64,
    /// Their name at the time of reading.
    pub user_name: String,
    /// Their email.
    pub user_email: String,
    /// What they decided.
    pub decision: DecisionKind,
    /// What they wrote.
    pub comment: Option<String>,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// Where a publishing job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its time (or its next retry).
    Queued,
    /// A worker holds it until its lease ends.
    Running,
    /// Published.
    Done,
    /// Given up; the author was told.
    Failed,
    /// The post changed before the job ran.
    Cancelled,
}

impl JobState {
    /// The stored identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<JobState> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Done,
            JobState::Failed,
            JobState::Cancelled,
        ]
        .into_iter()
        .find(|j| j.as_str() == s)
    }
}

/// A publishing job: one version of one post to one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishJob {
    /// Row id.
    pub id: i64,
    /// The post.
    pub post_id: i64,
    /// The channel.
    pub channel_id: i64,
    /// The version it publishes.
    pub version: i64,
    /// Unique per post, channel and version.
    pub idempotency_key: String,
    /// When it is due, Unix ms.
    pub run_at: i64,
    /// Where it is.
    pub state: JobState,
    /// How many times a worker took it.
    pub attempts: i64,
    /// The network's last error, in its own words.
    pub last_error: Option<String>,
    /// When a worker first took it, Unix ms.
    pub first_started_at: Option<i64>,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

/// A job a worker now holds, with everything it needs to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimedJob {
    /// The job.
    pub job_id: i64,
    /// The organization.
    pub org_id: i64,
    /// The post.
    pub post_id: i64,
    /// The version to publish.
    pub version: i64,
    /// The channel to publish to.
    pub channel_id: i64,
    /// The key that makes this publication happen once.
    pub idempotency_key: String,
    /// The text of that version.
    pub body: String,
    /// Its media.
    pub media_ids: Vec<i64>,
    /// How many times a worker took it, this time included.
    pub attempts: i64,
    /// The previous holder's lease ran out while it was publishing: ask the network whether the
    /// post already exists before publishing again.
    pub recovered: bool,
    /// When a worker first took it, Unix ms (where to start looking on the network).
    pub first_started_at: Option<i64>,
    /// The lease end, Unix ms: finish (or fail) before then.
    pub locked_until: i64,
}

/// What the network answered to a successful publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedRecord {
    /// The network's ids (e.g. `uri` and `cid`, or a post id), as JSON.
    pub remote: serde_json::Value,
    /// The public address of the item, when the network has one.
    pub url: Option<String>,
    /// When it was published, Unix ms.
    pub at_ms: i64,
}

/// A post as it exists on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publication {
    /// Row id.
    pub id: i64,
    /// The organization.
    pub org_id: i64,
    /// The post.
    pub post_id: i64,
    /// The channel.
    pub channel_id: i64,
    /// The version published.
    pub version: i64,
    /// The network's ids.
    pub remote: serde_json::Value,
    /// Its public address.
    pub url: Option<String>,
    /// When, Unix ms.
    pub published_at: i64,
    /// When it was deleted from the network, Unix ms.
    pub deleted_at: Option<i64>,
}

/// An archived item: what was published (or deleted), with the proof of who signed it off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchiveItem {
    /// Row id.
    pub id: i64,
    /// The organization.
    pub org_id: i64,
    /// `post`, `deletion` or `edit`.
    pub kind: String,
    /// The post.
    pub post_id: Option<i64>,
    /// The channel.
    pub channel_id: Option<i64>,
    /// The public address.
    pub url: Option<String>,
    /// The text as published.
    pub body: String,
    /// The approval record, the screening report and the network's ids.
    pub record: serde_json::Value,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// A message for one user in Rounds itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// Row id.
    pub id: i64,
    /// The organization.
    pub org_id: i64,
    /// For whom.
    pub user_id: i64,
    /// What it is about (`approval_needed`, `approved_late`, `rejected`, `changes_requested`, `publish_failed`).
    pub kind: String,
    /// The words shown.
    pub message: String,
    /// Where it leads, a path in Rounds.
    pub link: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// When the user read it, Unix ms.
    pub read_at: Option<i64>,
}

/// A post on the calendar, with where it already appeared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarEntry {
    /// The post (its channel ids and time).
    pub post: Post,
    /// Where it was published, with addresses.
    pub publications: Vec<Publication>,
}

const VERSION_COLS: &str = "post_id, version, body, channel_ids, paid, scheduled_at, content_type, media_ids, report, override_reason, \
     override_by, chain, created_by, created_at";
const CHAIN_COLS: &str =
    "id, org_id, name, channel_id, content_type, steps, created_at, updated_at";
const JOB_COLS: &str = "id, post_id, channel_id, version, idempotency_key, run_at, state, attempts, last_error, first_started_at, updated_at";
const PUBLICATION_COLS: &str =
    "id, org_id, post_id, channel_id, version, remote, url, published_at, deleted_at";
const ARCHIVE_COLS: &str = "id, org_id, kind, post_id, channel_id, url, body, record, at_ms";
const NOTIFICATION_COLS: &str = "id, org_id, user_id, kind, message, link, created_at, read_at";

impl Store {
    /// One post of the organization.
    pub async fn post(&self, org_id: i64, id: i64) -> Result<Post> {
        let mut conn = self.pool.acquire().await?;
        fetch_post(&mut conn, org_id, id).await
    }

    /// Every version of a post, oldest first.
    pub async fn post_versions(&self, org_id: i64, post_id: i64) -> Result<Vec<PostVersion>> {
        let mut conn = self.pool.acquire().await?;
        fetch_post(&mut conn, org_id, post_id).await?;
        let sql =
            format!("SELECT {VERSION_COLS} FROM post_versions WHERE post_id = $1 ORDER BY version");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(post_id)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(post_version).collect()
    }

    /// Replaces a post's content with a new version: the post goes back to Draft (its approvals were
    /// for the old text), and jobs still waiting to publish the old version are cancelled.
    /// `Conflict` when someone else changed the post since `expected_version` was read.
    pub async fn update_post(
        &self,
        org_id: i64,
        post_id: i64,
        expected_version: i64,
        edit: &PostEdit,
        actor: &Actor,
    ) -> Result<Post> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let post = fetch_post(&mut tx, org_id, post_id).await?;
        check_version(&post, expected_version)?;
        let status = post.status.apply(PostEvent::Edit)?;
        check_channels(&mut tx, org_id, &edit.channel_ids).await?;
        let now = now_ms();
        let version = post.version + 1;
        sqlx::query(
            "UPDATE posts SET body = $2, channel_ids = $3, paid = $4, scheduled_at = $5, content_type = $6, media_ids = $7, \
             version = $8, status = $9, status_note = NULL, updated_at = $10 WHERE id = $1",
        )
        .bind(post_id)
        .bind(edit.body.as_str())
        .bind(ids_json(&edit.channel_ids)?)
        .bind(i64::from(edit.paid))
        .bind(edit.scheduled_at)
        .bind(edit.content_type.as_str())
        .bind(ids_json(&edit.media_ids)?)
        .bind(version)
        .bind(status.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let edited = fetch_post(&mut tx, org_id, post_id).await?;
        insert_version(&mut tx, &edited, actor.user_id).await?;
        let cancelled = sqlx::query("UPDATE publish_jobs SET state = 'cancelled', updated_at = $2 WHERE post_id = $1 AND state = 'queued'")
            .bind(post_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let detail = json!({
            "version": version,
            "status": { "old": post.status.as_str(), "new": status.as_str() },
            "channels": edited.channel_ids,
            "jobs_cancelled": cancelled,
        });
        append_audit(
            &mut tx,
            actor,
            AuditAction::PostEdited,
            &format!("post:{post_id}"),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(edited)
    }

    /// Sends the current version for approval with its screening summary. `override_reason` records
    /// that a user overrode a blocking finding (the server decides who may); it is audited on its own.
    /// The approval chain is fixed now, and the first step's reviewers are notified.
    pub async fn submit_post(
        &self,
        org_id: i64,
        post_id: i64,
        expected_version: i64,
        report: serde_json::Value,
        override_reason: Option<&str>,
        actor: &Actor,
    ) -> Result<Post> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let post = fetch_post(&mut tx, org_id, post_id).await?;
        check_version(&post, expected_version)?;
        let status = post.status.apply(PostEvent::Submit)?;
        let chain = chain_for(&mut tx, org_id, &post).await?;
        sqlx::query(
            "UPDATE post_versions SET report = $3, override_reason = $4, override_by = $5, chain = $6 WHERE post_id = $1 AND version = $2",
        )
        .bind(post_id)
        .bind(post.version)
        .bind(report.to_string())
        .bind(override_reason.map(str::to_owned))
        .bind(override_reason.and(actor.user_id))
        .bind(chain_json(&chain)?)
        .execute(&mut *tx)
        .await?;
        set_status(&mut tx, post_id, status, None).await?;
        let target = format!("post:{post_id}");
        let detail = json!({ "version": post.version, "steps": chain.steps().len(), "overridden": override_reason.is_some() });
        append_audit(&mut tx, actor, AuditAction::PostSubmitted, &target, detail).await?;
        if let Some(reason) = override_reason {
            let detail = json!({ "version": post.version, "reason": reason });
            append_audit(
                &mut tx,
                actor,
                AuditAction::ScreeningOverridden,
                &target,
                detail,
            )
            .await?;
        }
        let members = members(&mut tx, org_id).await?;
        let progress = rules::progress(
            &chain,
            &[],
            &|role| members.get(&role).cloned().unwrap_or_default(),
            post.author_id,
        );
        if let ChainProgress::AwaitingStep { waiting_on, .. } = &progress {
            notify_reviewers(&mut tx, org_id, post_id, waiting_on).await?;
        }
        let submitted = fetch_post(&mut tx, org_id, post_id).await?;
        tx.commit().await?;
        Ok(submitted)
    }

    /// The organization's approval chains, most general first.
    pub async fn approval_chains(&self, org_id: i64) -> Result<Vec<StoredChain>> {
        let mut conn = self.pool.acquire().await?;
        load_chains(&mut conn, org_id).await
    }

    /// Defines the chain of a scope (channel and/or content type, or neither for the organization
    /// default), replacing the one it had. Posts already submitted keep the chain they were given.
    pub async fn save_approval_chain(
        &self,
        org_id: i64,
        chain: &NewChain,
        actor: &Actor,
    ) -> Result<StoredChain> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        if let Some(channel_id) = chain.channel_id {
            check_channels(&mut tx, org_id, &[channel_id]).await?;
        }
        let now = now_ms();
        let existing: Option<i64> = sqlx::query(
            "SELECT id FROM approval_chains WHERE org_id = $1 AND COALESCE(channel_id, 0) = $2 AND COALESCE(content_type, '') = $3",
        )
        .bind(org_id)
        .bind(chain.channel_id.unwrap_or(0))
        .bind(chain.content_type.clone().unwrap_or_default())
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        let steps = chain_json(&chain.chain)?;
        let row = if let Some(id) = existing {
            let sql = format!(
                "UPDATE approval_chains SET name = $2, steps = $3, updated_at = $4 WHERE id = $1 RETURNING {CHAIN_COLS}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(chain.name.as_str())
                .bind(steps)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
        } else {
            let sql = format!(
                "INSERT INTO approval_chains (org_id, name, channel_id, content_type, steps, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {CHAIN_COLS}"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org_id)
                .bind(chain.name.as_str())
                .bind(chain.channel_id)
                .bind(chain.content_type.clone())
                .bind(steps)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(foreign_key("organization"))?
        };
        let saved = stored_chain(&row)?;
        let detail = json!({
            "name": saved.name,
            "channel": saved.channel_id,
            "content_type": saved.content_type,
            "steps": saved.chain.steps(),
            "replaced": existing.is_some(),
        });
        append_audit(
            &mut tx,
            actor,
            AuditAction::ApprovalChainSaved,
            &format!("approval_chain:{}", saved.id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(saved)
    }

    /// Removes a chain; posts of its scope fall back to the next most general one.
    pub async fn delete_approval_chain(&self, org_id: i64, id: i64, actor: &Actor) -> Result<()> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let row =
            sqlx::query("DELETE FROM approval_chains WHERE id = $1 AND org_id = $2 RETURNING name")
                .bind(id)
                .bind(org_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound("approval chain"))?;
        let name: String = row.try_get(0)?;
        append_audit(
            &mut tx,
            actor,
            AuditAction::ApprovalChainDeleted,
            &format!("approval_chain:{id}"),
            json!({ "name": name }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The chain a post needs now: for each of its channels the most specific chain (channel and
    /// type, channel, type, organization default, built-in default), joined in channel order with
    /// repeated steps kept once.
    pub async fn chain_for(&self, org_id: i64, post: &Post) -> Result<ApprovalChain> {
        let mut conn = self.pool.acquire().await?;
        chain_for(&mut conn, org_id, post).await
    }

    /// Records a reviewer's decision on the current version and moves the post on: `Refused` when
    /// the chain does not wait for this user, `Conflict` when the post changed since
    /// `expected_version` was read. A completed chain queues the publishing jobs (now, or at the
    /// post's time); a chain that completes after the post's slot sends it back to the author for a
    /// new time instead of dropping it. Returns the progress after the decision.
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per fact of the decision, as the other store methods take them"
    )]
    pub async fn decide(
        &self,
        org_id: i64,
        post_id: i64,
        expected_version: i64,
        kind: DecisionKind,
        comment: Option<&str>,
        actor_user_id: i64,
        actor: &Actor,
    ) -> Result<ChainProgress> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let post = fetch_post(&mut tx, org_id, post_id).await?;
        check_version(&post, expected_version)?;
        if post.status != PostStatus::InReview {
            return Err(StoreError::Refused(DecisionRefused::NotAwaiting));
        }
        let user = fetch_user(&mut tx, actor_user_id)
            .await?
            .filter(|u| u.org_id == org_id && !u.disabled)
            .ok_or(StoreError::NotFound("user"))?;
        let chain = version_chain(&mut tx, org_id, &post).await?;
        let mut decisions = decisions(&mut tx, post_id, post.version).await?;
        let members = members(&mut tx, org_id).await?;
        let of_role = |role: Role| members.get(&role).cloned().unwrap_or_default();
        let before = rules::progress(&chain, &decisions, &of_role, post.author_id);
        let step = rules::may_decide(&chain, &before, user.id, user.role, post.author_id)?;
        let now = now_ms();
        sqlx::query("INSERT INTO approvals (post_id, version, step, user_id, decision, comment, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(post_id)
            .bind(post.version)
            .bind(step_i64(step)?)
            .bind(user.id)
            .bind(kind.as_str())
            .bind(comment.map(str::to_owned))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db::unique("you already decided this step of this version"))?;
        decisions.push(Decision {
            step,
            user_id: user.id,
            kind,
        });
        let after = rules::progress(&chain, &decisions, &of_role, post.author_id);
        let link = Some(format!("/posts/{post_id}"));
        let mut outcome =
            json!({ "version": post.version, "step": step, "decision": kind.as_str() });
        match &after {
            ChainProgress::Complete => {
                let approved = post.status.apply(PostEvent::StepApproved {
                    chain_complete: true,
                })?;
                match post.scheduled_at {
                    Some(at) if at < now - SLOT_GRACE_MS => {
                        let status = approved.apply(PostEvent::SlotMissed)?;
                        let note = "Approval completed after its slot; pick a new time.";
                        set_status(&mut tx, post_id, status, Some(note)).await?;
                        if let Some(author) = post.author_id {
                            notify(
                                &mut tx,
                                org_id,
                                author,
                                "approved_late",
                                "Your post was approved after its slot; pick a new time.",
                                link.clone(),
                            )
                            .await?;
                        }
                        outcome["status"] = json!(status.as_str());
                        outcome["missed_slot"] = json!(at);
                    }
                    at => {
                        let run_at = at.map_or(now, |t| t.max(now));
                        let status = approved.apply(PostEvent::Scheduled)?;
                        set_status(&mut tx, post_id, status, None).await?;
                        let jobs = queue_jobs(&mut tx, &post, run_at, now).await?;
                        outcome["status"] = json!(status.as_str());
                        outcome["run_at"] = json!(run_at);
                        outcome["jobs"] = json!(jobs);
                    }
                }
            }
            ChainProgress::Rejected { .. } | ChainProgress::ChangesRequested { .. } => {
                let (event, notice, what) = if kind == DecisionKind::Reject {
                    (PostEvent::Rejected, "rejected", "Your post was rejected")
                } else {
                    (
                        PostEvent::ChangesRequested,
                        "changes_requested",
                        "Changes were requested on your post",
                    )
                };
                let status = post.status.apply(event)?;
                set_status(&mut tx, post_id, status, comment).await?;
                if let Some(author) = post.author_id {
                    let message = match comment.map(str::trim).filter(|c| !c.is_empty()) {
                        Some(c) => format!("{what} ({}): {c}", user.display_name),
                        None => format!("{what} ({}).", user.display_name),
                    };
                    notify(&mut tx, org_id, author, notice, &message, link.clone()).await?;
                }
                outcome["status"] = json!(status.as_str());
            }
            ChainProgress::AwaitingStep {
                step: next,
                waiting_on,
            } => {
                post.status.apply(PostEvent::StepApproved {
                    chain_complete: false,
                })?;
                if *next != step {
                    notify_reviewers(&mut tx, org_id, post_id, waiting_on).await?;
                }
            }
            ChainProgress::Stalled { reason, .. } => {
                post.status.apply(PostEvent::StepApproved {
                    chain_complete: false,
                })?;
                outcome["stalled"] = json!(reason);
            }
        }
        let action = match kind {
            DecisionKind::Approve => AuditAction::PostApproved,
            DecisionKind::Reject => AuditAction::PostRejected,
            DecisionKind::RequestChanges => AuditAction::ChangesRequested,
        };
        append_audit(&mut tx, actor, action, &format!("post:{post_id}"), outcome).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Records that `user_id` opened version `version` of the post for review, and returns the
    /// version they had opened before (`None` the first time).
    pub async fn record_review_view(
        &self,
        org_id: i64,
        post_id: i64,
        user_id: i64,
        version: i64,
    ) -> Result<Option<i64>> {
        let mut tx = plain_write_tx(&self.pool, self.backend).await?;
        fetch_post(&mut tx, org_id, post_id).await?;
        let before: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM post_views WHERE post_id = $1 AND user_id = $2",
        )
        .bind(post_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO post_views (post_id, user_id, version, at_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (post_id, user_id) DO UPDATE SET version = excluded.version, at_ms = excluded.at_ms",
        )
        .bind(post_id)
        .bind(user_id)
        .bind(version)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    /// Every decision on the post, every version, oldest first, with the reviewers' names.
    pub async fn approval_record(&self, org_id: i64, post_id: i64) -> Result<Vec<ApprovalEntry>> {
        let mut conn = self.pool.acquire().await?;
        fetch_post(&mut conn, org_id, post_id).await?;
        approval_record(&mut conn, post_id).await
    }

    /// Posts in review whose current step waits for this user.
    pub async fn approval_queue(&self, org_id: i64, user_id: i64) -> Result<Vec<Post>> {
        let mut conn = self.pool.acquire().await?;
        let Some(user) = fetch_user(&mut conn, user_id)
            .await?
            .filter(|u| u.org_id == org_id && !u.disabled)
        else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {} FROM posts WHERE org_id = $1 AND status = $2 ORDER BY id",
            db::POST_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(PostStatus::InReview.as_str())
            .fetch_all(&mut *conn)
            .await?;
        let members = members(&mut conn, org_id).await?;
        let of_role = |role: Role| members.get(&role).cloned().unwrap_or_default();
        let mut queue = Vec::new();
        for row in &rows {
            let post = db::post(row)?;
            let chain = version_chain(&mut conn, org_id, &post).await?;
            let decisions = decisions(&mut conn, post.id, post.version).await?;
            let progress = rules::progress(&chain, &decisions, &of_role, post.author_id);
            if rules::may_decide(&chain, &progress, user.id, user.role, post.author_id).is_ok() {
                queue.push(post);
            }
        }
        Ok(queue)
    }

    /// Gives an approved (or scheduled, late, or failed) post a new time and queues its jobs for
    /// it. The content is unchanged, so no new version and no new approvals.
    pub async fn reschedule(
        &self,
        org_id: i64,
        post_id: i64,
        at_ms: i64,
        actor: &Actor,
    ) -> Result<Post> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let post = fetch_post(&mut tx, org_id, post_id).await?;
        let status = post.status.apply(PostEvent::Rescheduled)?;
        let now = now_ms();
        sqlx::query("UPDATE posts SET scheduled_at = $2, status = $3, status_note = NULL, updated_at = $4 WHERE id = $1")
            .bind(post_id)
            .bind(at_ms)
            .bind(status.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let jobs = queue_jobs(&mut tx, &post, at_ms, now).await?;
        let detail = json!({
            "version": post.version,
            "status": { "old": post.status.as_str(), "new": status.as_str() },
            "scheduled_at": { "old": post.scheduled_at, "new": at_ms },
            "jobs": jobs,
        });
        append_audit(
            &mut tx,
            actor,
            AuditAction::PostRescheduled,
            &format!("post:{post_id}"),
            detail,
        )
        .await?;
        let moved = fetch_post(&mut tx, org_id, post_id).await?;
        tx.commit().await?;
        Ok(moved)
    }

    /// Warns about posts still in review whose slot is within `window_ms` of `now_ms` (or already
    /// passed): the reviewers the current step waits for, and the author (told who the post waits
    /// for, or why nobody can approve it). One warning per post and slot, across every process: a
    /// post warns again only after it gets a new time. Returns how many posts were warned about.
    pub async fn warn_due_approvals(&self, now_ms: i64, window_ms: i64) -> Result<u32> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "SELECT {} FROM posts WHERE status = $1 AND scheduled_at IS NOT NULL AND scheduled_at <= $2 \
             AND (approval_warned_for IS NULL OR approval_warned_for <> scheduled_at) ORDER BY scheduled_at, id",
            db::POST_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(PostStatus::InReview.as_str())
            .bind(now_ms.saturating_add(window_ms))
            .fetch_all(&mut *conn)
            .await?;
        drop(conn);
        let mut warned = 0;
        for row in &rows {
            let post = db::post(row)?;
            let Some(at) = post.scheduled_at else {
                continue;
            };
            let mut tx = write_tx(&self.pool, self.backend).await?;
            // Another process may have warned, or the post moved on, since the list was read.
            let claimed = sqlx::query(
                "UPDATE posts SET approval_warned_for = $2 WHERE id = $1 AND status = $3 AND scheduled_at = $2 \
                 AND (approval_warned_for IS NULL OR approval_warned_for <> $2)",
            )
            .bind(post.id)
            .bind(at)
            .bind(PostStatus::InReview.as_str())
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() == 0 {
                continue;
            }
            let chain = version_chain(&mut tx, post.org_id, &post).await?;
            let decisions = decisions(&mut tx, post.id, post.version).await?;
            let members = members(&mut tx, post.org_id).await?;
            let of_role = |role: Role| members.get(&role).cloned().unwrap_or_default();
            let when = due_in_words(at, now_ms);
            let link = Some(format!("/posts/{}", post.id));
            let for_author = match rules::progress(&chain, &decisions, &of_role, post.author_id) {
                ChainProgress::AwaitingStep { step, waiting_on } => {
                    let role = chain
                        .steps()
                        .get(step)
                        .map_or("reviewer", |s| s.role.label());
                    for user in &waiting_on {
                        let message = format!("A post scheduled {when} still needs your approval.");
                        notify(
                            &mut tx,
                            post.org_id,
                            *user,
                            "approval_due",
                            &message,
                            link.clone(),
                        )
                        .await?;
                    }
                    format!(
                        "Your post scheduled {when} is still waiting for approval (step {} of {}: {role}).",
                        step + 1,
                        chain.steps().len()
                    )
                }
                ChainProgress::Stalled { reason, .. } => {
                    format!("Your post scheduled {when} cannot be approved in time: {reason}")
                }
                ChainProgress::Complete
                | ChainProgress::Rejected { .. }
                | ChainProgress::ChangesRequested { .. } => {
                    tx.commit().await?;
                    continue;
                }
            };
            if let Some(author) = post.author_id {
                notify(
                    &mut tx,
                    post.org_id,
                    author,
                    "approval_due",
                    &for_author,
                    link,
                )
                .await?;
            }
            tx.commit().await?;
            warned += 1;
        }
        Ok(warned)
    }

    /// Whether the organization's publishing is paused, by whom, since when and why.
    pub async fn publishing_pause(&self, org_id: i64) -> Result<Option<PublishingPause>> {
        let row = sqlx::query("SELECT value FROM settings WHERE org_id = $1 AND key = $2")
            .bind(org_id)
            .bind(PAUSE_KEY)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let value: String = row.try_get(0)?;
        if value.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&value)
            .map(Some)
            .map_err(|e| decode_error(format!("publishing pause: {e}")))
    }

    /// Stops every publish of the organization (no job of it is claimed) until [`Store::resume_publishing`];
    /// the pause, its author and reason are audited.
    pub async fn pause_publishing(
        &self,
        org_id: i64,
        by: &str,
        reason: &str,
        actor: &Actor,
    ) -> Result<PublishingPause> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::Invalid("say why publishing is paused".into()));
        }
        let pause = PublishingPause {
            by: by.to_owned(),
            at_ms: now_ms(),
            reason: reason.to_owned(),
        };
        let value = serde_json::to_string(&pause).map_err(|e| decode_error(e.to_string()))?;
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let paused = sqlx::query(
            "SELECT value FROM settings WHERE org_id = $1 AND key = $2 AND value <> ''",
        )
        .bind(org_id)
        .bind(PAUSE_KEY)
        .fetch_optional(&mut *tx)
        .await?;
        if paused.is_some() {
            return Err(StoreError::Conflict("publishing is already paused"));
        }
        sqlx::query("INSERT INTO settings (org_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (org_id, key) DO UPDATE SET value = excluded.value")
            .bind(org_id)
            .bind(PAUSE_KEY)
            .bind(&value)
            .execute(&mut *tx)
            .await?;
        append_audit(
            &mut tx,
            actor,
            AuditAction::PublishingPaused,
            &format!("org:{org_id}"),
            json!({ "reason": reason }),
        )
        .await?;
        tx.commit().await?;
        Ok(pause)
    }

    /// Starts publishing again. A scheduled post whose time passed during the pause is not sent late
    /// without anyone choosing to: its jobs are cancelled, it waits for a new time and its author is
    /// told. Returns the posts sent back.
    pub async fn resume_publishing(&self, org_id: i64, actor: &Actor) -> Result<Vec<i64>> {
        let now = now_ms();
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let updated = sqlx::query(
            "UPDATE settings SET value = '' WHERE org_id = $1 AND key = $2 AND value <> ''",
        )
        .bind(org_id)
        .bind(PAUSE_KEY)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict("publishing is not paused"));
        }
        let sql = format!(
            "SELECT {} FROM posts WHERE org_id = $1 AND status = $2 AND id IN \
             (SELECT post_id FROM publish_jobs WHERE org_id = $1 AND state = 'queued' AND run_at < $3) ORDER BY id",
            db::POST_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(PostStatus::Scheduled.as_str())
            .bind(now - SLOT_GRACE_MS)
            .fetch_all(&mut *tx)
            .await?;
        let mut missed = Vec::with_capacity(rows.len());
        for row in &rows {
            let post = db::post(row)?;
            let status = post.status.apply(PostEvent::SlotMissed)?;
            sqlx::query("UPDATE publish_jobs SET state = 'cancelled', updated_at = $2 WHERE post_id = $1 AND state = 'queued'").bind(post.id).bind(now).execute(&mut *tx).await?;
            let note = "Publishing was paused over this post's time; pick a new time.";
            set_status(&mut tx, post.id, status, Some(note)).await?;
            if let Some(author) = post.author_id {
                notify(
                    &mut tx,
                    org_id,
                    author,
                    "slot_missed",
                    "Publishing was paused over your post's time; pick a new time for it.",
                    Some(format!("/posts/{}", post.id)),
                )
                .await?;
            }
            append_audit(
                &mut tx,
                actor,
                AuditAction::PostSlotMissed,
                &format!("post:{}", post.id),
                json!({ "scheduled_at": post.scheduled_at }),
            )
            .await?;
            missed.push(post.id);
        }
        append_audit(
            &mut tx,
            actor,
            AuditAction::PublishingResumed,
            &format!("org:{org_id}"),
            json!({ "sent_back_for_a_new_time": missed }),
        )
        .await?;
        tx.commit().await?;
        Ok(missed)
    }

    /// The calendar from `from_ms` (inclusive) to `to_ms` (exclusive): posts due in the range
    /// (scheduled, waiting for a new time, or failed) and posts published in it, by time.
    pub async fn posts_between(
        &self,
        org_id: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<CalendarEntry>> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "SELECT {} FROM posts WHERE org_id = $1 AND ( \
                 (status IN ('scheduled', 'needs_reschedule', 'failed') AND scheduled_at >= $2 AND scheduled_at < $3) \
                 OR id IN (SELECT post_id FROM publications WHERE org_id = $1 AND published_at >= $2 AND published_at < $3)) \
             ORDER BY id",
            db::POST_COLS
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&mut *conn)
            .await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let post = db::post(row)?;
            let publications = publications_of(&mut conn, post.id).await?;
            entries.push(CalendarEntry { post, publications });
        }
        let when = |e: &CalendarEntry| {
            e.publications
                .iter()
                .map(|p| p.published_at)
                .min()
                .or(e.post.scheduled_at)
                .unwrap_or(e.post.created_at)
        };
        entries.sort_by_key(|e| (when(e), e.post.id));
        Ok(entries)
    }

    /// Takes up to `limit` due jobs for `worker` until `now_ms + lease_ms`: queued jobs whose time
    /// came, and running jobs whose lease ran out (their worker died; they come back `recovered`).
    /// On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so several processes share the
    /// queue without ever taking the same job; on SQLite the write lock does the same.
    pub async fn claim_due_jobs(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // SET expressions see the row as it was, so `recovered` tells a lapsed lease from a due job.
        let sql = format!(
            "UPDATE publish_jobs SET recovered = CASE WHEN state = 'running' THEN 1 ELSE 0 END, state = 'running', \
                 locked_by = $1, locked_until = $3, attempts = attempts + 1, first_started_at = COALESCE(first_started_at, $2), updated_at = $2 \
             WHERE id IN (SELECT id FROM publish_jobs \
                 WHERE ((state = 'queued' AND run_at <= $2) OR (state = 'running' AND locked_until < $2)) \
                 AND org_id NOT IN (SELECT org_id FROM settings WHERE key = '{PAUSE_KEY}' AND value <> '') \
                 ORDER BY run_at, id LIMIT $4{lock}) \
             RETURNING id"
        );
        let mut tx = plain_write_tx(&self.pool, self.backend).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(worker)
            .bind(now_ms)
            .bind(now_ms.saturating_add(lease_ms))
            .bind(cap(limit, 100))
            .fetch_all(&mut *tx)
            .await?;
        let mut ids: Vec<i64> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        ids.sort_unstable();
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let row = sqlx::query(
                "SELECT j.id, j.org_id, j.post_id, j.version, j.channel_id, j.idempotency_key, v.body, v.media_ids, j.attempts, \
                     j.recovered, j.first_started_at, j.locked_until \
                 FROM publish_jobs j JOIN post_versions v ON v.post_id = j.post_id AND v.version = j.version WHERE j.id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let media: String = row.try_get(7)?;
            claimed.push(ClaimedJob {
                job_id: row.try_get(0)?,
                org_id: row.try_get(1)?,
                post_id: row.try_get(2)?,
                version: row.try_get(3)?,
                channel_id: row.try_get(4)?,
                idempotency_key: row.try_get(5)?,
                body: row.try_get(6)?,
                media_ids: json_ids(&media, "post media list")?,
                attempts: row.try_get(8)?,
                recovered: row.try_get::<i64, _>(9)? != 0,
                first_started_at: row.try_get(10)?,
                locked_until: row.try_get(11)?,
            });
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records that a job's post is on its network: the publication, its archive item (with the
    /// approval record and the version's screening report) and the audit event, in one transaction;
    /// the post becomes Published when every channel has it. A repeated completion changes nothing
    /// and returns `false`.
    ///
    /// The job is closed even when `worker` no longer holds it (its lease lapsed and another worker
    /// took it): the publication proves the post is out, and leaving the job open would publish it
    /// twice.
    pub async fn complete_job(
        &self,
        job_id: i64,
        worker: &str,
        published: &PublishedRecord,
    ) -> Result<bool> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let job = fetch_job(&mut tx, job_id).await?;
        let now = now_ms();
        sqlx::query(
            "UPDATE publish_jobs SET state = 'done', locked_by = NULL, locked_until = NULL, updated_at = $2 \
             WHERE id = $1 AND state IN ('queued', 'running', 'failed')",
        )
        .bind(job_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO publications (org_id, post_id, channel_id, version, remote, url, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (post_id, channel_id) DO NOTHING",
        )
        .bind(job.org_id)
        .bind(job.post_id)
        .bind(job.channel_id)
        .bind(job.version)
        .bind(published.remote.to_string())
        .bind(published.url.clone())
        .bind(published.at_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            let version = fetch_version(&mut tx, job.post_id, job.version).await?;
            let approvals = approval_record(&mut tx, job.post_id).await?;
            let record = json!({
                "version": job.version,
                "approvals": approvals,
                "report": version.report,
                "override_reason": version.override_reason,
                "network": published.remote,
                "idempotency_key": job.idempotency_key,
            });
            insert_archive(
                &mut tx,
                job.org_id,
                "post",
                job.post_id,
                job.channel_id,
                published.url.as_deref(),
                &version.body,
                &record,
                published.at_ms,
            )
            .await?;
            let detail = json!({
                "channel": job.channel_id,
                "version": job.version,
                "url": published.url,
                "job": job_id,
                "worker": worker,
                "lease_held": job.state == JobState::Running && job.locked_by.as_deref() == Some(worker),
            });
            append_audit(
                &mut tx,
                &system_actor(job.org_id),
                AuditAction::PostPublished,
                &format!("post:{}", job.post_id),
                detail,
            )
            .await?;
        }
        let post = fetch_post(&mut tx, job.org_id, job.post_id).await?;
        let open: i64 = sqlx::query("SELECT COUNT(*) FROM publish_jobs WHERE post_id = $1 AND version = $2 AND state <> 'done'")
            .bind(post.id)
            .bind(post.version)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if open == 0 {
            if let Ok(status) = post.status.apply(PostEvent::Published) {
                set_status(&mut tx, post.id, status, None).await?;
            }
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Records a failed publish. With `retry_at` the job waits until then (the error kept for the
    /// post page); without, the job fails for good, the post is marked Failed with the network's
    /// message, and the author is told. `Conflict` when `worker` no longer holds the job.
    pub async fn fail_job(
        &self,
        job_id: i64,
        worker: &str,
        error_message: &str,
        retry_at: Option<i64>,
    ) -> Result<()> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let job = fetch_job(&mut tx, job_id).await?;
        if job.state != JobState::Running || job.locked_by.as_deref() != Some(worker) {
            return Err(StoreError::Conflict(
                "this publishing job is no longer held by this worker",
            ));
        }
        let now = now_ms();
        let actor = system_actor(job.org_id);
        let target = format!("post:{}", job.post_id);
        let mut detail = json!({
            "channel": job.channel_id,
            "version": job.version,
            "job": job_id,
            "attempts": job.attempts,
            "worker": worker,
            "error": error_message,
        });
        if let Some(at) = retry_at {
            sqlx::query(
                "UPDATE publish_jobs SET state = 'queued', run_at = $2, last_error = $3, locked_by = NULL, locked_until = NULL, updated_at = $4 \
                 WHERE id = $1",
            )
            .bind(job_id)
            .bind(at)
            .bind(error_message)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            detail["retry_at"] = json!(at);
            append_audit(
                &mut tx,
                &actor,
                AuditAction::PublishRetried,
                &target,
                detail,
            )
            .await?;
        } else {
            sqlx::query(
                "UPDATE publish_jobs SET state = 'failed', last_error = $2, locked_by = NULL, locked_until = NULL, updated_at = $3 WHERE id = $1",
            )
            .bind(job_id)
            .bind(error_message)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let post = fetch_post(&mut tx, job.org_id, job.post_id).await?;
            // An edit since the job was queued already moved the post on; its status speaks of the new version.
            if post.version == job.version {
                if let Ok(status) = post.status.apply(PostEvent::PublishFailed) {
                    set_status(&mut tx, post.id, status, Some(error_message)).await?;
                }
            }
            if let Some(author) = post.author_id {
                let channel: String =
                    sqlx::query("SELECT display_name FROM channels WHERE id = $1")
                        .bind(job.channel_id)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                let message = format!("Publishing to {channel} failed: {error_message}");
                notify(
                    &mut tx,
                    job.org_id,
                    author,
                    "publish_failed",
                    &message,
                    Some(format!("/posts/{}", post.id)),
                )
                .await?;
            }
            append_audit(&mut tx, &actor, AuditAction::PublishFailed, &target, detail).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every publishing job of a post, all versions, oldest first.
    pub async fn jobs_of_post(&self, org_id: i64, post_id: i64) -> Result<Vec<PublishJob>> {
        let mut conn = self.pool.acquire().await?;
        fetch_post(&mut conn, org_id, post_id).await?;
        let sql = format!("SELECT {JOB_COLS} FROM publish_jobs WHERE post_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(post_id)
            .fetch_all(&mut *conn)
            .await?;
        rows.iter().map(publish_job).collect()
    }

    /// Where a post appeared, one row per channel.
    pub async fn publications(&self, org_id: i64, post_id: i64) -> Result<Vec<Publication>> {
        let mut conn = self.pool.acquire().await?;
        fetch_post(&mut conn, org_id, post_id).await?;
        publications_of(&mut conn, post_id).await
    }

    /// Records that a published item was deleted from its network (archived as a `deletion`,
    /// audited). Deleting twice changes nothing.
    pub async fn mark_publication_deleted(
        &self,
        org_id: i64,
        publication_id: i64,
        actor: &Actor,
    ) -> Result<Publication> {
        let mut tx = write_tx(&self.pool, self.backend).await?;
        let sql =
            format!("SELECT {PUBLICATION_COLS} FROM publications WHERE id = $1 AND org_id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(publication_id)
            .bind(org_id)
            .fetch_optional(&mut *tx)
            .await?;
        let found = publication(&row.ok_or(StoreError::NotFound("publication"))?)?;
        if found.deleted_at.is_some() {
            return Ok(found);
        }
        let now = now_ms();
        sqlx::query("UPDATE publications SET deleted_at = $2 WHERE id = $1")
            .bind(publication_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let version = fetch_version(&mut tx, found.post_id, found.version).await?;
        let record = json!({ "publication": found.id, "version": found.version, "network": found.remote, "deleted_by": actor.label });
        insert_archive(
            &mut tx,
            org_id,
            "deletion",
            found.post_id,
            found.channel_id,
            found.url.as_deref(),
            &version.body,
            &record,
            now,
        )
        .await?;
        let detail =
            json!({ "publication": found.id, "channel": found.channel_id, "url": found.url });
        append_audit(
            &mut tx,
            actor,
            AuditAction::PublicationDeleted,
            &format!("post:{}", found.post_id),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(Publication {
            deleted_at: Some(now),
            ..found
        })
    }

    /// Archived items of the organization, newest first.
    pub async fn archive_items(&self, org_id: i64, page: &Page) -> Result<Vec<ArchiveItem>> {
        let sql = format!(
            "SELECT {ARCHIVE_COLS} FROM archive_items WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(page.before_id.unwrap_or(i64::MAX))
            .bind(cap(page.limit, 500))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(archive_item).collect()
    }

    /// A user's notifications, newest first (the latest 200).
    pub async fn notifications(
        &self,
        user_id: i64,
        unread_only: bool,
    ) -> Result<Vec<Notification>> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLS} FROM notifications WHERE user_id = $1 AND ($2 = 0 OR read_at IS NULL) ORDER BY id DESC LIMIT 200"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_id)
            .bind(i64::from(unread_only))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(notification).collect()
    }

    /// Marks every unread notification of the user read; returns how many there were.
    pub async fn mark_notifications_read(&self, user_id: i64) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL",
        )
        .bind(user_id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

/// Writes the current content of `post` as its version row (creation and every edit).
pub(crate) async fn insert_version(
    conn: &mut AnyConnection,
    post: &Post,
    created_by: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO post_versions (post_id, version, body, channel_ids, paid, scheduled_at, content_type, media_ids, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(post.id)
    .bind(post.version)
    .bind(post.body.as_str())
    .bind(ids_json(&post.channel_ids)?)
    .bind(i64::from(post.paid))
    .bind(post.scheduled_at)
    .bind(post.content_type.as_str())
    .bind(ids_json(&post.media_ids)?)
    .bind(created_by)
    .bind(post.updated_at)
    .execute(&mut *conn)
    .await
    .map_err(foreign_key("author"))?;
    Ok(())
}

/// `NotFound("channel")` unless every id is a channel of the organization (the lists are JSON, so
/// no foreign key guards them).
pub(crate) async fn check_channels(
    conn: &mut AnyConnection,
    org_id: i64,
    channel_ids: &[i64],
) -> Result<()> {
    for channel_id in channel_ids {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM channels WHERE id = $1 AND org_id = $2")
            .bind(*channel_id)
            .bind(org_id)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        if n == 0 {
            return Err(StoreError::NotFound("channel"));
        }
    }
    Ok(())
}

/// A list of ids as stored.
pub(crate) fn ids_json(ids: &[i64]) -> Result<String> {
    serde_json::to_string(ids).map_err(|e| decode_error(e.to_string()))
}

fn chain_json(chain: &ApprovalChain) -> Result<String> {
    serde_json::to_string(chain).map_err(|e| decode_error(e.to_string()))
}

fn parse_chain(text: &str) -> Result<ApprovalChain> {
    serde_json::from_str(text).map_err(|e| decode_error(format!("approval chain steps: {e}")))
}

fn step_i64(step: usize) -> Result<i64> {
    i64::try_from(step).map_err(|e| decode_error(e.to_string()))
}

fn check_version(post: &Post, expected: i64) -> Result<()> {
    if post.version == expected {
        Ok(())
    } else {
        Err(StoreError::Conflict(
            "the post changed since you opened it; reload it to see the latest version",
        ))
    }
}

/// Events the publishing worker causes are the system's, in the post's organization.
fn system_actor(org_id: i64) -> Actor {
    Actor {
        org_id: Some(org_id),
        ..Actor::system()
    }
}

async fn fetch_post(conn: &mut AnyConnection, org_id: i64, post_id: i64) -> Result<Post> {
    let sql = format!(
        "SELECT {} FROM posts WHERE id = $1 AND org_id = $2",
        db::POST_COLS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(post_id)
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?;
    db::post(&row.ok_or(StoreError::NotFound("post"))?)
}

async fn fetch_version(
    conn: &mut AnyConnection,
    post_id: i64,
    version: i64,
) -> Result<PostVersion> {
    let sql =
        format!("SELECT {VERSION_COLS} FROM post_versions WHERE post_id = $1 AND version = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(post_id)
        .bind(version)
        .fetch_optional(&mut *conn)
        .await?;
    post_version(&row.ok_or(StoreError::NotFound("post version"))?)
}

async fn set_status(
    conn: &mut AnyConnection,
    post_id: i64,
    status: PostStatus,
    note: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE posts SET status = $2, status_note = $3, updated_at = $4 WHERE id = $1")
        .bind(post_id)
        .bind(status.as_str())
        .bind(note.map(str::to_owned))
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Enabled users of the organization by role: who can decide a step now.
pub(crate) async fn members(
    conn: &mut AnyConnection,
    org_id: i64,
) -> Result<HashMap<Role, Vec<i64>>> {
    let rows =
        sqlx::query("SELECT id, role FROM users WHERE org_id = $1 AND disabled = 0 ORDER BY id")
            .bind(org_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut by_role: HashMap<Role, Vec<i64>> = HashMap::new();
    for row in &rows {
        let role: String = row.try_get(1)?;
        let role: Role = role
            .parse()
            .map_err(|e: rounds_domain::access::UnknownRole| decode_error(e.to_string()))?;
        by_role.entry(role).or_default().push(row.try_get(0)?);
    }
    Ok(by_role)
}

async fn decisions(conn: &mut AnyConnection, post_id: i64, version: i64) -> Result<Vec<Decision>> {
    let rows = sqlx::query("SELECT step, user_id, decision FROM approvals WHERE post_id = $1 AND version = $2 ORDER BY id")
        .bind(post_id)
        .bind(version)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            let step: i64 = r.try_get(0)?;
            let kind: String = r.try_get(2)?;
            Ok(Decision {
                step: usize::try_from(step).map_err(|e| decode_error(e.to_string()))?,
                user_id: r.try_get(1)?,
                kind: DecisionKind::parse(&kind)
                    .ok_or_else(|| decode_error(format!("unknown decision {kind:?}")))?,
            })
        })
        .collect()
}

async fn approval_record(conn: &mut AnyConnection, post_id: i64) -> Result<Vec<ApprovalEntry>> {
    let rows = sqlx::query(
        "SELECT a.version, a.step, a.user_id, u.display_name, u.email, a.decision, a.comment, a.at_ms \
         FROM approvals a JOIN users u ON u.id = a.user_id WHERE a.post_id = $1 ORDER BY a.id",
    )
    .bind(post_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let step: i64 = r.try_get(1)?;
            let decision: String = r.try_get(5)?;
            Ok(ApprovalEntry {
                version: r.try_get(0)?,
                step: usize::try_from(step).map_err(|e| decode_error(e.to_string()))?,
                user_id: r.try_get(2)?,
                user_name: r.try_get(3)?,
                user_email: r.try_get(4)?,
                decision: DecisionKind::parse(&decision)
                    .ok_or_else(|| decode_error(format!("unknown decision {decision:?}")))?,
                comment: r.try_get(6)?,
                at_ms: r.try_get(7)?,
            })
        })
        .collect()
}

async fn load_chains(conn: &mut AnyConnection, org_id: i64) -> Result<Vec<StoredChain>> {
    let sql = format!("SELECT {CHAIN_COLS} FROM approval_chains WHERE org_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut chains: Vec<StoredChain> = rows.iter().map(stored_chain).collect::<Result<_>>()?;
    chains.sort_by_key(|c| (c.channel_id.is_some(), c.content_type.is_some(), c.id));
    Ok(chains)
}

/// The chain for the post's current content, chosen from the organization's chains.
async fn chain_for(conn: &mut AnyConnection, org_id: i64, post: &Post) -> Result<ApprovalChain> {
    let chains = load_chains(conn, org_id).await?;
    let content_type = Some(post.content_type.as_str());
    let pick = |channel: Option<i64>| -> ApprovalChain {
        let mut scopes = Vec::with_capacity(4);
        if channel.is_some() {
            scopes.extend([(channel, content_type), (channel, None)]);
        }
        scopes.extend([(None, content_type), (None, None)]);
        scopes
            .iter()
            .find_map(|(c, t)| {
                chains
                    .iter()
                    .find(|s| s.channel_id == *c && s.content_type.as_deref() == *t)
            })
            .map_or_else(ApprovalChain::default_chain, |s| s.chain.clone())
    };
    let per_channel: Vec<ApprovalChain> = if post.channel_ids.is_empty() {
        vec![pick(None)]
    } else {
        post.channel_ids.iter().map(|c| pick(Some(*c))).collect()
    };
    Ok(ApprovalChain::union(&per_channel).unwrap_or_else(ApprovalChain::default_chain))
}

/// The chain fixed when the current version was submitted (or, for a post submitted before chains
/// were recorded, the one that applies now).
async fn version_chain(
    conn: &mut AnyConnection,
    org_id: i64,
    post: &Post,
) -> Result<ApprovalChain> {
    match fetch_version(conn, post.id, post.version).await?.chain {
        Some(chain) => Ok(chain),
        None => chain_for(conn, org_id, post).await,
    }
}

/// Queues (or moves) one job per channel for the post's current version; failed or cancelled jobs
/// of that version start over. Returns how many jobs now wait.
async fn queue_jobs(conn: &mut AnyConnection, post: &Post, run_at: i64, now: i64) -> Result<u64> {
    let mut queued = 0;
    for channel_id in &post.channel_ids {
        let done = sqlx::query(
            "INSERT INTO publish_jobs (org_id, post_id, channel_id, version, idempotency_key, run_at, state, attempts, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7) \
             ON CONFLICT (idempotency_key) DO UPDATE SET run_at = excluded.run_at, state = 'queued', attempts = 0, \
                 locked_by = NULL, locked_until = NULL, updated_at = excluded.updated_at \
             WHERE publish_jobs.state IN ('queued', 'failed', 'cancelled')",
        )
        .bind(post.org_id)
        .bind(post.id)
        .bind(*channel_id)
        .bind(post.version)
        .bind(rules::idempotency_key(post.id, *channel_id, post.version))
        .bind(run_at)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        queued += done.rows_affected();
    }
    Ok(queued)
}

pub(crate) async fn notify(
    conn: &mut AnyConnection,
    org_id: i64,
    user_id: i64,
    kind: &str,
    message: &str,
    link: Option<String>,
) -> Result<()> {
    sqlx::query("INSERT INTO notifications (org_id, user_id, kind, message, link, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(org_id)
        .bind(user_id)
        .bind(kind)
        .bind(message)
        .bind(link)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// "in about 5 hours", "in 40 minutes", or "for a time that has passed".
fn due_in_words(at_ms: i64, now_ms: i64) -> String {
    let minutes = (at_ms - now_ms) / 60_000;
    match minutes {
        ..=0 => "for a time that has passed".to_owned(),
        1 => "in 1 minute".to_owned(),
        2..=89 => format!("in {minutes} minutes"),
        _ => format!("in about {} hours", (minutes + 30) / 60),
    }
}

async fn notify_reviewers(
    conn: &mut AnyConnection,
    org_id: i64,
    post_id: i64,
    users: &[i64],
) -> Result<()> {
    for user_id in users {
        notify(
            conn,
            org_id,
            *user_id,
            "approval_needed",
            "A post is waiting for your approval.",
            Some(format!("/posts/{post_id}")),
        )
        .await?;
    }
    Ok(())
}

struct JobRow {
    org_id: i64,
    post_id: i64,
    channel_id: i64,
    version: i64,
    idempotency_key: String,
    state: JobState,
    locked_by: Option<String>,
    attempts: i64,
}

async fn fetch_job(conn: &mut AnyConnection, job_id: i64) -> Result<JobRow> {
    let row = sqlx::query("SELECT org_id, post_id, channel_id, version, idempotency_key, state, locked_by, attempts FROM publish_jobs WHERE id = $1")
        .bind(job_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("publishing job"))?;
    let state: String = row.try_get(5)?;
    Ok(JobRow {
        org_id: row.try_get(0)?,
        post_id: row.try_get(1)?,
        channel_id: row.try_get(2)?,
        version: row.try_get(3)?,
        idempotency_key: row.try_get(4)?,
        state: JobState::parse(&state)
            .ok_or_else(|| decode_error(format!("unknown job state {state:?}")))?,
        locked_by: row.try_get(6)?,
        attempts: row.try_get(7)?,
    })
}

async fn publications_of(conn: &mut AnyConnection, post_id: i64) -> Result<Vec<Publication>> {
    let sql = format!("SELECT {PUBLICATION_COLS} FROM publications WHERE post_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(post_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(publication).collect()
}

#[allow(
    clippy::too_many_arguments,
    reason = "one column each; a struct would only restate the table"
)]
async fn insert_archive(
    conn: &mut AnyConnection,
    org_id: i64,
    kind: &str,
    post_id: i64,
    channel_id: i64,
    url: Option<&str>,
    body: &str,
    record: &serde_json::Value,
    at_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO archive_items (org_id, kind, post_id, channel_id, url, body, record, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(org_id)
    .bind(kind)
    .bind(post_id)
    .bind(channel_id)
    .bind(url.map(str::to_owned))
    .bind(body)
    .bind(record.to_string())
    .bind(at_ms)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn json_value(text: &str, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| decode_error(format!("{what}: {e}")))
}

fn post_version(row: &AnyRow) -> Result<PostVersion> {
    let channel_ids: String = row.try_get(3)?;
    let media_ids: String = row.try_get(7)?;
    let report: Option<String> = row.try_get(8)?;
    let chain: Option<String> = row.try_get(11)?;
    Ok(PostVersion {
        post_id: row.try_get(0)?,
        version: row.try_get(1)?,
        body: row.try_get(2)?,
        channel_ids: json_ids(&channel_ids, "version channel list")?,
        paid: row.try_get::<i64, _>(4)? != 0,
        scheduled_at: row.try_get(5)?,
        content_type: row.try_get(6)?,
        media_ids: json_ids(&media_ids, "version media list")?,
        report: report
            .map(|r| json_value(&r, "screening report"))
            .transpose()?,
        override_reason: row.try_get(9)?,
        override_by: row.try_get(10)?,
        chain: chain.map(|c| parse_chain(&c)).transpose()?,
        created_by: row.try_get(12)?,
        created_at: row.try_get(13)?,
    })
}

fn stored_chain(row: &AnyRow) -> Result<StoredChain> {
    let steps: String = row.try_get(5)?;
    Ok(StoredChain {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        name: row.try_get(2)?,
        channel_id: row.try_get(3)?,
        content_type: row.try_get(4)?,
        chain: parse_chain(&steps)?,
        created_at: row.try_get(6)?,
        updated_at: row.try_get(7)?,
    })
}

fn publish_job(row: &AnyRow) -> Result<PublishJob> {
    let state: String = row.try_get(6)?;
    Ok(PublishJob {
        id: row.try_get(0)?,
        post_id: row.try_get(1)?,
        channel_id: row.try_get(2)?,
        version: row.try_get(3)?,
        idempotency_key: row.try_get(4)?,
        run_at: row.try_get(5)?,
        state: JobState::parse(&state)
            .ok_or_else(|| decode_error(format!("unknown job state {state:?}")))?,
        attempts: row.try_get(7)?,
        last_error: row.try_get(8)?,
        first_started_at: row.try_get(9)?,
        updated_at: row.try_get(10)?,
    })
}

fn publication(row: &AnyRow) -> Result<Publication> {
    let remote: String = row.try_get(5)?;
    Ok(Publication {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        post_id: row.try_get(2)?,
        channel_id: row.try_get(3)?,
        version: row.try_get(4)?,
        remote: json_value(&remote, "publication ids")?,
        url: row.try_get(6)?,
        published_at: row.try_get(7)?,
        deleted_at: row.try_get(8)?,
    })
}

fn archive_item(row: &AnyRow) -> Result<ArchiveItem> {
    let record: String = row.try_get(7)?;
    Ok(ArchiveItem {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        kind: row.try_get(2)?,
        post_id: row.try_get(3)?,
        channel_id: row.try_get(4)?,
        url: row.try_get(5)?,
        body: row.try_get(6)?,
        record: json_value(&record, "archive record")?,
        at_ms: row.try_get(8)?,
    })
}

fn notification(row: &AnyRow) -> Result<Notification> {
    Ok(Notification {
        id: row.try_get(0)?,
        org_id: row.try_get(1)?,
        user_id: row.try_get(2)?,
        kind: row.try_get(3)?,
        message: row.try_get(4)?,
        link: row.try_get(5)?,
        created_at: row.try_get(6)?,
        read_at: row.try_get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_states_round_trip() {
        for s in [
            JobState::Queued,
            JobState::Running,
            JobState::Done,
            JobState::Failed,
            JobState::Cancelled,
        ] {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobState::parse("paused"), None);
    }

    #[test]
    fn steps_are_stored_as_json_and_checked_on_read() {
        let chain = ApprovalChain::new(vec![rules::ChainStep {
            role: Role::LegalReviewer,
            mode: rules::StepMode::All,
        }])
        .unwrap();
        let text = chain_json(&chain).unwrap();
        assert_eq!(text, r#"[{"role":"legal_reviewer","mode":"all"}]"#);
        assert_eq!(parse_chain(&text).unwrap(), chain);
        assert!(
            parse_chain("[]").is_err(),
            "an empty chain in the database is refused, not used"
        );
    }
}
