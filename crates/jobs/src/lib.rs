//! Rounds scheduled publishing: a worker that takes due jobs from the store's job table and publishes
//! them through the connectors, exactly once from the user's point of view.
//!
//! The store owns the queue (leases, `FOR UPDATE SKIP LOCKED`, the publication and archive records);
//! the connectors own the networks. This crate decides, per job, what a network's answer means: done,
//! try again later, or stop and tell the author.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use connectors::{Connector, ConnectorError, Credentials, ErrorKind, Image, Outgoing, Published};
use rounds_domain::publishing::{APPROVAL_WARNING_MS, retry_delay_ms};
use rounds_store::{ChannelStatus, ClaimedJob, PublishedRecord, Store, StoreError};
use tokio::sync::Mutex;

/// A channel no call has reached for this long is checked with the network (6 hours).
pub const CHECK_EVERY_MS: i64 = 6 * 3_600_000;

/// A channel whose token expires within this long warns its managers (7 days).
pub const EXPIRY_WARNING_MS: i64 = 7 * 86_400_000;

/// How often the publisher looks for posts whose approval is running late and channels to check.
const WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// What a failed call makes of its channel: sign-in expired when the token is gone, else in error.
fn channel_status(e: &ConnectorError) -> ChannelStatus {
    if e.token_lost() {
        ChannelStatus::Expired
    } else {
        ChannelStatus::Error
    }
}

/// How a [`Publisher`] polls and holds jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublisherOptions {
    /// How long to wait between looks at an empty queue.
    pub poll_interval: Duration,
    /// How long a claimed job is this worker's alone; after that another worker may take it over
    /// (and first asks the network whether the post is already out).
    pub lease: Duration,
    /// Most jobs taken in one [`Publisher::publish_once`] round.
    pub batch: u32,
}

impl Default for PublisherOptions {
    /// Polls every 2 s; a 5-minute lease outlasts a publish with four image uploads at the
    /// connectors' 30-second request timeout, so a live worker never loses its job.
    fn default() -> Self {
        PublisherOptions {
            poll_interval: Duration::from_secs(2),
            lease: Duration::from_secs(300),
            batch: 10,
        }
    }
}

/// What failed outside any one job.
#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    /// The store could not hand out jobs.
    #[error("cannot take publishing jobs from the database: {0}")]
    Store(#[from] StoreError),
}

/// What became of one job in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The post is now on the network.
    Published {
        /// Its public address.
        url: String,
    },
    /// An earlier attempt (a worker that died, a call that timed out) had already put the post on
    /// the network: recorded, not posted again.
    AlreadyPublished {
        /// Its public address.
        url: String,
    },
    /// The network failed in a way that may pass; the job waits until `retry_at`.
    Retrying {
        /// When it runs again, Unix ms.
        retry_at: i64,
        /// What the author sees meanwhile.
        message: String,
    },
    /// The job failed for good; the post is Failed and the author was told.
    Failed {
        /// What the author sees.
        message: String,
    },
    /// The outcome could not be written (the database failed, or another worker took the job over);
    /// the job's lease brings it back, and the next worker first checks the network.
    Unrecorded {
        /// What went wrong.
        message: String,
    },
}

/// One handled job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    /// The job.
    pub job_id: i64,
    /// Its post.
    pub post_id: i64,
    /// Its channel.
    pub channel_id: i64,
    /// What became of it.
    pub outcome: Outcome,
}

/// A connector kept for as long as its channel's credentials stay the same (Bluesky signs in once
/// per connector, and networks limit sign-ins).
struct Cached {
    fingerprint: String,
    connector: Arc<dyn Connector>,
}

/// A publishing worker: takes due jobs from the store and publishes them.
pub struct Publisher {
    store: Store,
    http: reqwest::Client,
    worker_id: String,
    options: PublisherOptions,
    connectors: Mutex<HashMap<i64, Cached>>,
}

/// Why a job cannot go out, before the network has been asked anything.
enum Prepare {
    Final(String),
    Retry(String),
    Network(ConnectorError),
}

impl Publisher {
    /// A worker named `worker_id` (unique among the processes sharing the database: it marks the jobs it holds).
    pub fn new(
        store: Store,
        http: reqwest::Client,
        worker_id: String,
        options: PublisherOptions,
    ) -> Publisher {
        Publisher {
            store,
            http,
            worker_id,
            options,
            connectors: Mutex::new(HashMap::new()),
        }
    }

    /// This worker's name.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Publishes until `shutdown` completes. A job in hand when it does is finished first; jobs are
    /// taken one at a time here, so none waits out a lease because its worker stopped.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        tracing::info!(worker = %self.worker_id, "publisher started");
        let mut next_warning = std::time::Instant::now();
        loop {
            if std::time::Instant::now() >= next_warning {
                next_warning = std::time::Instant::now() + WARNING_INTERVAL;
                if let Err(e) = self.warn_due_approvals(now_ms()).await {
                    tracing::error!(worker = %self.worker_id, error = %e, "cannot send approval-deadline warnings");
                }
                if let Err(e) = self.check_channels(now_ms()).await {
                    tracing::error!(worker = %self.worker_id, error = %e, "cannot check the channels' sign-ins");
                }
            }
            let busy = match self.round(now_ms(), 1).await {
                Ok(reports) => !reports.is_empty(),
                Err(e) => {
                    tracing::error!(worker = %self.worker_id, error = %e, "publisher cannot reach the job table");
                    false
                }
            };
            if busy {
                // More may be due; look again at once unless asked to stop.
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = std::future::ready(()) => continue,
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.options.poll_interval) => {}
            }
        }
        tracing::info!(worker = %self.worker_id, "publisher stopped");
    }

    /// Warns the reviewers and the author of every post still in review within
    /// [`APPROVAL_WARNING_MS`] of its slot (once per slot); returns how many posts.
    pub async fn warn_due_approvals(&self, now_ms: i64) -> Result<u32, JobsError> {
        Ok(self
            .store
            .warn_due_approvals(now_ms, APPROVAL_WARNING_MS)
            .await?)
    }

    /// Asks each network about the channels no call has checked for [`CHECK_EVERY_MS`], so an expired
    /// or revoked sign-in is found (and the channel's managers told) before a scheduled post fails on
    /// it; then warns about tokens that expire within [`EXPIRY_WARNING_MS`]. A network that is down
    /// or limiting requests says nothing about the sign-in: the channel is left as it was. Returns
    /// how many channels were checked.
    pub async fn check_channels(&self, now_ms: i64) -> Result<u32, JobsError> {
        let mut checked = 0;
        for channel in self
            .store
            .channels_to_check(now_ms.saturating_sub(CHECK_EVERY_MS))
            .await?
        {
            let Some(stored) = self
                .store
                .channel_credentials(channel.org_id, channel.id)
                .await?
            else {
                continue;
            };
            let health = match self.connector(channel.id, &stored).await {
                Ok(connector) => connector.health().await,
                Err(Prepare::Network(e)) => Err(e),
                Err(Prepare::Final(message) | Prepare::Retry(message)) => {
                    tracing::warn!(channel = channel.id, %message, "cannot check the channel");
                    continue;
                }
            };
            checked += 1;
            match health {
                Ok(_) => {
                    self.store
                        .record_channel_success(channel.id, now_ms)
                        .await?
                }
                Err(e) if matches!(e.kind, ErrorKind::Unavailable | ErrorKind::RateLimited) => {
                    tracing::info!(channel = channel.id, error = %e, "network unavailable; the channel's sign-in is checked again later");
                }
                Err(e) => {
                    self.store
                        .record_channel_error(channel.id, channel_status(&e), &e.words(), now_ms)
                        .await?
                }
            }
        }
        self.store
            .warn_expiring_tokens(now_ms, EXPIRY_WARNING_MS)
            .await?;
        Ok(checked)
    }

    /// One round: takes up to `batch` due jobs and handles each.
    pub async fn publish_once(&self) -> Result<Vec<JobReport>, JobsError> {
        self.round(now_ms(), self.options.batch).await
    }

    /// One round as if the time were `now_ms`: what is due then is taken, and retry times count
    /// from it. Lets a test (or an operator's tool) step through back-off without waiting for it.
    pub async fn publish_due(&self, now_ms: i64) -> Result<Vec<JobReport>, JobsError> {
        self.round(now_ms, self.options.batch).await
    }

    async fn round(&self, now: i64, limit: u32) -> Result<Vec<JobReport>, JobsError> {
        let lease_ms = i64::try_from(self.options.lease.as_millis()).unwrap_or(i64::MAX);
        let claimed = self
            .store
            .claim_due_jobs(&self.worker_id, now, lease_ms, limit)
            .await?;
        let mut reports = Vec::with_capacity(claimed.len());
        for job in claimed {
            let outcome = self.handle(&job, now).await;
            trace(&self.worker_id, &job, &outcome);
            reports.push(JobReport {
                job_id: job.job_id,
                post_id: job.post_id,
                channel_id: job.channel_id,
                outcome,
            });
        }
        Ok(reports)
    }

    async fn handle(&self, job: &ClaimedJob, now: i64) -> Outcome {
        let (connector, post) = match self.prepare(job).await {
            Ok(ready) => ready,
            Err(Prepare::Final(message)) => return self.fail(job, message, None).await,
            Err(Prepare::Retry(message)) => {
                let retry_at = retry_delay_ms(attempt(job)).map(|d| now.saturating_add(d));
                return self.fail(job, message, retry_at).await;
            }
            Err(Prepare::Network(e)) => return self.network_failure(job, &e, now).await,
        };
        // A dead worker may have published before it could record it, and a timed-out attempt may
        // have reached the network all the same: either way, look before publishing again.
        if job.recovered || job.attempts > 1 {
            let since = job.first_started_at.unwrap_or(0);
            match connector.find_published(&post, since).await {
                Ok(Some(found)) => return self.complete(job, &found, true).await,
                Ok(None) => tracing::info!(
                    job = job.job_id,
                    attempts = job.attempts,
                    "not on the network yet; publishing"
                ),
                Err(e) => return self.network_failure(job, &e, now).await,
            }
        }
        match connector.publish(&post).await {
            Ok(published) => self.complete(job, &published, false).await,
            Err(e) => self.network_failure(job, &e, now).await,
        }
    }

    /// Opens the channel's credentials and gathers the post with its images.
    async fn prepare(&self, job: &ClaimedJob) -> Result<(Arc<dyn Connector>, Outgoing), Prepare> {
        let stored = match self
            .store
            .channel_credentials(job.org_id, job.channel_id)
            .await
        {
            Ok(Some(json)) => json,
            Ok(None) => {
                return Err(Prepare::Final(
                    "The channel is not connected; connect it, then reschedule this post to publish it".into(),
                ));
            }
            Err(StoreError::NotFound(_)) => {
                return Err(Prepare::Final("The channel no longer exists".into()));
            }
            // A key file that does not open them is the operator's to fix; the job waits for that.
            Err(e) => {
                return Err(Prepare::Retry(format!(
                    "Rounds could not read this channel's credentials: {e}"
                )));
            }
        };
        let connector = self.connector(job.channel_id, &stored).await?;
        let mut images = Vec::with_capacity(job.media_ids.len());
        for (n, &media_id) in job.media_ids.iter().enumerate() {
            let described = self.store.media(job.org_id, media_id).await;
            let bytes = self.store.media_bytes(job.org_id, media_id).await;
            match (described, bytes) {
                (Ok(Some(media)), Ok(Some((mime, bytes)))) => images.push(Image {
                    bytes,
                    mime,
                    alt: media.alt_text,
                }),
                (Ok(None), _) | (_, Ok(None)) => {
                    return Err(Prepare::Final(format!(
                        "Image {} of the post was deleted; attach it again and resubmit",
                        n + 1
                    )));
                }
                (Err(e), _) | (_, Err(e)) => {
                    return Err(Prepare::Retry(format!(
                        "Rounds could not read image {} of the post: {e}",
                        n + 1
                    )));
                }
            }
        }
        let post = Outgoing {
            idempotency_key: job.idempotency_key.clone(),
            text: job.body.clone(),
            images,
            reply_to: None,
        };
        Ok((connector, post))
    }

    /// The channel's connector, built anew when its credentials changed (a reconnect) since last time.
    async fn connector(
        &self,
        channel_id: i64,
        stored: &str,
    ) -> Result<Arc<dyn Connector>, Prepare> {
        let fingerprint = rounds_domain::secret::sha256_hex(stored.as_bytes());
        let mut cache = self.connectors.lock().await;
        if let Some(cached) = cache
            .get(&channel_id)
            .filter(|c| c.fingerprint == fingerprint)
        {
            return Ok(Arc::clone(&cached.connector));
        }
        // The serde error could quote the JSON, which holds the secret: say only that it is unreadable.
        let credentials: Credentials = serde_json::from_str(stored).map_err(|_| {
            Prepare::Final("The channel's stored sign-in details are unreadable; reconnect the channel, then reschedule this post".into())
        })?;
        let connector: Arc<dyn Connector> =
            Arc::from(connectors::connect(&credentials, &self.http).map_err(Prepare::Network)?);
        cache.insert(
            channel_id,
            Cached {
                fingerprint,
                connector: Arc::clone(&connector),
            },
        );
        Ok(connector)
    }

    async fn complete(&self, job: &ClaimedJob, published: &Published, recovered: bool) -> Outcome {
        let record = PublishedRecord {
            remote: serde_json::to_value(&published.remote).unwrap_or(serde_json::Value::Null),
            url: Some(published.url.clone()),
            at_ms: published.at_ms,
        };
        if let Err(e) = self
            .store
            .complete_job(job.job_id, &self.worker_id, &record)
            .await
        {
            return Outcome::Unrecorded {
                message: format!(
                    "published at {}, but recording it failed: {e}",
                    published.url
                ),
            };
        }
        if let Err(e) = self
            .store
            .record_channel_success(job.channel_id, now_ms())
            .await
        {
            tracing::warn!(job = job.job_id, channel = job.channel_id, error = %e, "cannot record the channel's success");
        }
        let url = published.url.clone();
        if recovered {
            Outcome::AlreadyPublished { url }
        } else {
            Outcome::Published { url }
        }
    }

    async fn network_failure(&self, job: &ClaimedJob, e: &ConnectorError, now: i64) -> Outcome {
        if e.needs_reconnect() {
            self.channel_error(job, channel_status(e), e).await;
            let message = format!(
                "{e}. Once the channel is reconnected, reschedule this post to publish it."
            );
            return self.fail(job, message, None).await;
        }
        if e.is_retryable() {
            return match retry_delay_ms(attempt(job)) {
                Some(back_off) => {
                    // The network's own wait, when it gave one, beats the back-off table.
                    let wait = if e.kind == ErrorKind::RateLimited {
                        e.retry_after_ms.unwrap_or(back_off).max(0)
                    } else {
                        back_off
                    };
                    self.fail(job, e.to_string(), Some(now.saturating_add(wait)))
                        .await
                }
                None => {
                    self.channel_error(job, ChannelStatus::Error, e).await;
                    let message = format!(
                        "{e}. Rounds tried {} times and gave up; reschedule the post to try again.",
                        job.attempts
                    );
                    self.fail(job, message, None).await
                }
            };
        }
        self.fail(job, e.to_string(), None).await
    }

    async fn channel_error(&self, job: &ClaimedJob, status: ChannelStatus, e: &ConnectorError) {
        if let Err(err) = self
            .store
            .record_channel_error(job.channel_id, status, &e.words(), now_ms())
            .await
        {
            tracing::warn!(job = job.job_id, channel = job.channel_id, error = %err, "cannot record the channel's error");
        }
    }

    async fn fail(&self, job: &ClaimedJob, message: String, retry_at: Option<i64>) -> Outcome {
        match self
            .store
            .fail_job(job.job_id, &self.worker_id, &message, retry_at)
            .await
        {
            Ok(()) => match retry_at {
                Some(retry_at) => Outcome::Retrying { retry_at, message },
                None => Outcome::Failed { message },
            },
            Err(e) => Outcome::Unrecorded {
                message: format!("{message} (recording the failure failed: {e})"),
            },
        }
    }
}

fn attempt(job: &ClaimedJob) -> u32 {
    u32::try_from(job.attempts).unwrap_or(u32::MAX)
}

fn trace(worker: &str, job: &ClaimedJob, outcome: &Outcome) {
    let (id, post, channel, attempts) = (job.job_id, job.post_id, job.channel_id, job.attempts);
    match outcome {
        Outcome::Published { url } => {
            tracing::info!(worker, job = id, post, channel, attempts, %url, "published")
        }
        Outcome::AlreadyPublished { url } => {
            tracing::info!(worker, job = id, post, channel, attempts, %url, "already on the network after an interrupted attempt; recorded without posting again")
        }
        Outcome::Retrying { retry_at, message } => {
            tracing::warn!(worker, job = id, post, channel, attempts, retry_at, %message, "publish failed; will retry")
        }
        Outcome::Failed { message } => {
            tracing::warn!(worker, job = id, post, channel, attempts, %message, "publish failed; author notified")
        }
        Outcome::Unrecorded { message } => {
            tracing::error!(worker, job = id, post, channel, attempts, %message, "outcome not recorded; the lease will bring the job back")
        }
    }
}

/// A worker id unique across machines and restarts: `<hostname>-<pid>-<random>`.
pub fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "rounds".to_owned());
    let random = rounds_domain::secret::random_bytes::<4>()
        .map(hex4)
        .unwrap_or_else(|_| format!("{:08x}", now_ms() & 0xffff_ffff));
    format!("{host}-{}-{random}", std::process::id())
}

fn hex4(bytes: [u8; 4]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ids_differ_per_call_and_name_the_process() {
        let (a, b) = (worker_id(), worker_id());
        assert_ne!(a, b);
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }
}
