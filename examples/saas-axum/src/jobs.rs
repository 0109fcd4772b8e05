//! Background jobs: verification, reset and sign-in messages, avatar thumbnails and the
//! hourly clean-up run as mortar-jobs jobs kept in the app's own database (the `mortar_jobs`
//! tables, made by the migrations beside the app's), so they survive a restart and are shared
//! by every instance.
//!
//! - [`QueuedSender`] is the `CodeSender` mortar-auth is given: it seals the code with the
//!   application key (bound to the purpose and the user) and enqueues a [`SendCode`] job; the
//!   job opens it and hands the message to the real mailer. A code is never stored in the clear,
//!   and a slow or failing mailer does not slow or fail registration: the job retries it with
//!   back-off for about two and a half hours, and never sends a code that has expired.
//! - `PUT /me/avatar` keeps the upload in quarantine and answers 202; a
//!   [`MakeThumbnail`] job makes the thumbnail (see
//!   [`crate::avatars`]).
//! - Inviting someone to an organization enqueues a
//!   [`SendInvitation`](crate::invitations::SendInvitation) in the same transaction as the
//!   invitation; the job reads it when it runs and mails the notice through the
//!   [`Mailer`](crate::mail::Mailer).
//! - [`Cleanup`] runs at minute 17 of every hour (once, however many instances run): it prunes
//!   finished jobs after [`FINISHED_JOBS_KEPT`] and removes quarantined uploads that no pending
//!   or running job waits for (a client that hung up, a job given up) after [`QUARANTINE_KEPT`].
//!
//! The [`App`](crate::App) runs the worker and the schedule (`MORTAR_JOBS_CONCURRENCY`, 0 for an
//! instance that only serves requests) and stops them gracefully on shutdown, waiting up to
//! `MORTAR_SHUTDOWN_TIMEOUT` for running jobs (one still running then is aborted: it runs again
//! unless that was its last attempt). Delivery is at-least-once: a worker killed after the
//! mailer accepted a message but before the job was marked done sends it again. Messages are
//! not ordered: while a mailer fails, an older code's retry may arrive after a newer code (the
//! older one no longer works once a newer was issued for the same purpose).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mortar::auth::code::{CodeMessage, CodeSender, Purpose};
use mortar::auth::seal::Sealer;
use mortar::auth::user::{UserId, UserStore};
use mortar::jobs::cron::{Schedule, Scheduler};
use mortar::jobs::{
    EnqueueOptions, Job, JobContext, JobError, JobFilter, JobState, Jobs, RunningWorker, Worker,
};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use crate::avatars::{Avatars, MakeThumbnail, THUMBNAILS_AT_ONCE};

/// The queue of messages (verification, reset, sign-in codes).
pub const MAIL_QUEUE: &str = "mail";
/// The queue of thumbnails.
pub const MEDIA_QUEUE: &str = "media";
/// The queue of the clean-up.
pub const MAINTENANCE_QUEUE: &str = "maintenance";
/// How long finished jobs (completed, discarded, cancelled) are kept for inspection.
pub const FINISHED_JOBS_KEPT: Duration = Duration::from_hours(7 * 24);
/// How long an upload may wait in quarantine before the clean-up removes it.
pub const QUARANTINE_KEPT: Duration = Duration::from_hours(24);
/// When the clean-up runs (cron, UTC).
pub const CLEANUP_SCHEDULE: &str = "17 * * * *";

/// What the jobs' handlers need: the real mailer, the key codes are sealed with, the accounts,
/// the avatar store and the audit trail.
#[derive(Clone)]
pub struct JobDeps {
    /// Delivers codes (your mailer; stderr in development).
    pub sender: Arc<dyn CodeSender>,
    /// Opens the codes [`QueuedSender`] sealed.
    pub sealer: Sealer,
    /// The accounts, read when a message is sent (its address may have changed).
    pub users: Arc<dyn UserStore>,
    /// Where avatars are kept.
    pub avatars: Avatars,
    /// The audit trail.
    pub recorder: mortar::audit::DurableRecorder,
    /// The jobs themselves (the clean-up prunes them).
    pub jobs: Jobs,
    /// Sends other mail (invitations).
    pub mailer: Arc<dyn crate::mail::Mailer>,
    /// The app's database (invitations are read when their notice is sent).
    pub db: sea_orm::DatabaseConnection,
    /// The app's public base URL, for links in mail.
    pub base_url: String,
}

impl fmt::Debug for JobDeps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobDeps")
            .field("sender", &self.sender)
            .field("mailer", &self.mailer)
            .finish_non_exhaustive()
    }
}

/// The worker running the starter's job types on its queues: `mail` with `concurrency`
/// messages at a time, `media` with [`THUMBNAILS_AT_ONCE`] thumbnails, `maintenance` one at a
/// time. Discarded jobs are reported to the audit trail.
pub fn worker(jobs: &Jobs, deps: JobDeps, concurrency: usize) -> Worker<JobDeps> {
    let recorder = deps.recorder.clone();
    Worker::builder(jobs, deps)
        .register::<SendCode>()
        .register::<crate::invitations::SendInvitation>()
        .register::<MakeThumbnail>()
        .register::<Cleanup>()
        .queue(MAIL_QUEUE, concurrency)
        .queue(MEDIA_QUEUE, THUMBNAILS_AT_ONCE)
        .queue(MAINTENANCE_QUEUE, 1)
        .audit(recorder)
        .build()
}

/// The schedule of recurring jobs: the hourly [`Cleanup`].
///
/// # Errors
///
/// When the cron expression does not parse (it is a constant: never).
pub fn scheduler(jobs: &Jobs) -> Result<Scheduler, mortar::jobs::Error> {
    Ok(Scheduler::new(jobs)
        .schedule(Schedule::new(
            "starter.cleanup",
            CLEANUP_SCHEDULE,
            &Cleanup,
        )?)
        .interval(Duration::from_secs(5)))
}

/// The worker and the schedule while they run.
#[derive(Debug)]
pub struct Running {
    worker: RunningWorker,
    cron: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Starts `worker` and `scheduler` on the current Tokio runtime.
    pub fn start(worker: &Worker<JobDeps>, scheduler: Scheduler) -> Self {
        Self {
            worker: worker.start(),
            cron: scheduler.start(),
        }
    }

    /// Stops the schedule and the worker's fetching, waits up to `deadline` for running jobs
    /// and aborts the rest (each counts as a failed attempt: it runs again unless that was its
    /// last).
    pub async fn stop(self, deadline: Duration) {
        self.cron.abort();
        let done = self.worker.shutdown(deadline).await;
        if done.aborted > 0 {
            tracing::warn!(
                aborted = done.aborted,
                "jobs still running at the shutdown deadline were aborted; they run again unless that was their last attempt"
            );
        } else {
            tracing::info!("job worker stopped");
        }
    }
}

/// The `CodeSender` mortar-auth delivers codes through: seals each and enqueues a [`SendCode`].
#[derive(Clone)]
pub struct QueuedSender {
    jobs: Jobs,
    sealer: Sealer,
}

impl QueuedSender {
    /// Enqueues on `jobs`, sealing with `sealer`.
    pub fn new(jobs: Jobs, sealer: Sealer) -> Self {
        Self { jobs, sealer }
    }
}

impl fmt::Debug for QueuedSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueuedSender")
    }
}

#[async_trait::async_trait]
impl CodeSender for QueuedSender {
    async fn send(&self, message: CodeMessage) -> Result<(), mortar::auth::Error> {
        let job = SendCode::seal(&self.sealer, &message)?;
        self.jobs
            .enqueue(&job, EnqueueOptions::new())
            .await
            .map_err(|e| mortar::auth::Error::Store(Box::new(e)))?;
        Ok(())
    }
}

/// Sends one code: who, for what, and the secret sealed under the application key.
///
/// The payload holds no address and no readable secret: the user is read at send time, and the
/// sealed secret opens only for this purpose and this user (moved onto another job, it does not
/// open).
#[derive(Clone, Serialize, Deserialize)]
pub struct SendCode {
    /// The purpose's stored name (`verify_email`, `reset_password`…).
    pub purpose: String,
    /// The user's id.
    pub user: String,
    /// The secret, sealed (AES-256-GCM under the application key, with its id).
    pub secret: String,
    /// When the code stops working, in milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

impl fmt::Debug for SendCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendCode")
            .field("purpose", &self.purpose)
            .field("user", &self.user)
            .field("secret", &"[SEALED]")
            .finish_non_exhaustive()
    }
}

/// What a sealed code is bound to.
fn seal_context(purpose: &str, user: &str) -> Vec<u8> {
    format!("starter:send-code:v1:{purpose}:{user}").into_bytes()
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SendCode {
    /// The job for `message`, its secret sealed with `sealer`.
    ///
    /// # Errors
    ///
    /// When sealing fails (it does not, with a valid key).
    pub fn seal(sealer: &Sealer, message: &CodeMessage) -> Result<Self, mortar::auth::Error> {
        let purpose = message.purpose.as_str().to_owned();
        let user = message.user.id.to_string();
        let secret = sealer.seal(
            message.secret.expose_secret().as_bytes(),
            &seal_context(&purpose, &user),
        )?;
        Ok(Self {
            purpose,
            user,
            secret,
            expires_at_ms: millis(message.expires_at),
        })
    }
}

impl Job for SendCode {
    const NAME: &'static str = "starter.send_code";
    type State = JobDeps;

    /// On the `mail` queue, ahead of other work; 12 attempts of at most 30 s: the default
    /// back-off (5 s doubling to a 1 h cap) spreads them over about two and a half hours, and a
    /// code that has expired meanwhile is not sent.
    fn options() -> EnqueueOptions {
        EnqueueOptions::new()
            .queue(MAIL_QUEUE)
            .priority(-10)
            .max_attempts(12)
            .timeout(Duration::from_secs(30))
    }

    async fn run(self, ctx: JobContext<JobDeps>) -> Result<(), JobError> {
        let deps = ctx.state();
        let purpose = Purpose::parse(&self.purpose)
            .ok_or_else(|| JobError::discard("unknown code purpose"))?;
        let expires_at = UNIX_EPOCH + Duration::from_millis(self.expires_at_ms);
        if SystemTime::now() >= expires_at {
            return Err(JobError::discard(
                "the code expired before it could be sent",
            ));
        }
        let id: uuid::Uuid = self
            .user
            .parse()
            .map_err(|_| JobError::discard("not a user id"))?;
        let secret = deps
            .sealer
            .open(&self.secret, &seal_context(&self.purpose, &self.user))
            .map_err(|_| {
                JobError::discard(
                    "the sealed code does not open (another key, or moved from another job)",
                )
            })?;
        let secret = String::from_utf8(secret.expose_secret().to_vec())
            .map_err(|_| JobError::discard("the sealed code is not text"))?;
        let user = deps
            .users
            .by_id(UserId::from(id))
            .await
            .map_err(|e| JobError::retry(format!("reading the account failed: {e}")))?
            .ok_or_else(|| JobError::discard("the account no longer exists"))?;
        deps.sender
            .send(CodeMessage::new(
                purpose,
                user,
                SecretString::from(secret),
                expires_at,
            ))
            .await
            .map_err(|e| JobError::retry(format!("delivering the message failed: {e}")))
    }
}

/// The hourly clean-up: prunes finished jobs, empties stale quarantine, removes invitations
/// expired for a week.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Cleanup;

impl Job for Cleanup {
    const NAME: &'static str = "starter.cleanup";
    type State = JobDeps;

    fn options() -> EnqueueOptions {
        EnqueueOptions::new()
            .queue(MAINTENANCE_QUEUE)
            .max_attempts(3)
            .timeout(Duration::from_mins(10))
    }

    async fn run(self, ctx: JobContext<JobDeps>) -> Result<(), JobError> {
        let deps = ctx.state();
        let pruned = deps
            .jobs
            .prune(FINISHED_JOBS_KEPT)
            .await
            .map_err(|e| JobError::retry(format!("pruning finished jobs failed: {e}")))?;
        // Uploads a thumbnail job still waits for stay, however old.
        let waiting = deps
            .jobs
            .list(
                &JobFilter::new()
                    .name(MakeThumbnail::NAME)
                    .state(JobState::Pending)
                    .state(JobState::Running),
            )
            .await
            .map_err(|e| JobError::retry(format!("listing thumbnail jobs failed: {e}")))?
            .into_iter()
            .filter_map(|r| Some(r.payload.get("upload")?.as_str()?.to_owned()))
            .collect::<HashSet<_>>();
        let removed = sweep_quarantine(&deps.avatars, SystemTime::now() - QUARANTINE_KEPT, |key| {
            waiting.contains(key)
        })
        .await
        .map_err(|e| JobError::retry(format!("emptying the quarantine failed: {e}")))?;
        // Expired invitations stay listed (as expired) for a week, then go.
        let expired =
            crate::invitations::entity::Entity::delete_many()
                .filter(crate::invitations::entity::Column::ExpiresAt.lt(
                    crate::invitations::millis(SystemTime::now() - FINISHED_JOBS_KEPT),
                ))
                .exec(&deps.db)
                .await
                .map_err(|e| JobError::retry(format!("removing expired invitations failed: {e}")))?
                .rows_affected;
        tracing::info!(pruned, removed, expired, "clean-up done");
        Ok(())
    }
}

/// Removes quarantined uploads written before `before`, except those `keep` says a job still
/// needs; answers how many.
///
/// # Errors
///
/// When the store fails (what was removed stays removed).
pub async fn sweep_quarantine(
    avatars: &Avatars,
    before: SystemTime,
    keep: impl Fn(&str) -> bool,
) -> Result<u64, mortar::storage::Error> {
    let store = avatars.store();
    let mut after: Option<String> = None;
    let mut removed = 0;
    loop {
        let page = store
            .list(crate::avatars::QUARANTINE, after.as_deref(), 1000)
            .await?;
        for object in &page.objects {
            if object.last_modified < before
                && !keep(object.key.as_str())
                && store.delete(&object.key).await?
            {
                removed += 1;
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(removed),
        }
    }
}
