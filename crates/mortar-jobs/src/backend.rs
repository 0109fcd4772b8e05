//! [`JobBackend`]: where jobs are kept, and the contract every backend meets.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::error::Result;
use crate::job::JobId;
use crate::record::{
    ClaimRequest, Enqueued, JobFilter, JobRecord, Lease, NewJob, Outcome, QueueStats, Rescued,
};

/// A shared backend: `Arc<dyn JobBackend>`.
pub type SharedBackend = Arc<dyn JobBackend>;

/// Stores jobs and hands them to workers. Implemented by [`MemoryBackend`](crate::MemoryBackend),
/// `sql::SqlBackend` (PostgreSQL, MariaDB, SQLite) and `redis::RedisBackend`.
///
/// The contract (checked by the conformance suite in `tests/conformance.rs` on every backend):
///
/// - **Claims are exclusive**: a pending job whose `run_at <= now` is handed to at most one
///   claimer, which gets it with `attempt` increased by one and a lease until `lease_until`.
///   Due jobs are claimed by ascending priority, then `run_at`, then id. A job is never
///   claimed before its `run_at`.
/// - **Fencing**: [`heartbeat`](Self::heartbeat) and [`complete`](Self::complete) apply only to
///   a job still running the attempt in the [`Lease`]; anything else is silently ignored.
/// - **At-least-once**: [`rescue`](Self::rescue) puts running jobs whose lease expired back to
///   pending (recording a "lease expired" error), or discards them when that was their last
///   attempt.
/// - **Unique keys**: an enqueue whose unique key is held by a stored job stores nothing and
///   answers that job's id; a while-active key is freed when its job finishes.
/// - Times are the caller's (`now` arguments), never the server's, so a
///   [`ManualClock`](mortar_core::ManualClock) drives every backend alike.
#[async_trait]
pub trait JobBackend: Send + Sync + fmt::Debug + 'static {
    /// Stores a new job (or finds the holder of its unique key).
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued>;

    /// Stores many jobs at once, all or nothing where the backend has transactions; answers in
    /// the order given. The default enqueues them one by one.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            out.push(self.enqueue(job).await?);
        }
        Ok(out)
    }

    /// Claims up to `req.limit` due jobs, exclusively, under a lease.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn claim(&self, req: &ClaimRequest) -> Result<Vec<JobRecord>>;

    /// Extends the leases of jobs still running the given attempts.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn heartbeat(&self, leases: &[Lease], lease_until: SystemTime) -> Result<()>;

    /// Records how attempts ended, in one batch.
    ///
    /// # Errors
    ///
    /// When the backend fails; then none or some of the outcomes were applied, and applying the
    /// batch again is safe (fencing ignores the ones already applied).
    async fn complete(&self, outcomes: &[Outcome]) -> Result<()>;

    /// Rescues running jobs whose lease expired before `now`.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn rescue(&self, now: SystemTime) -> Result<Rescued>;

    /// One job, with its error history.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn get(&self, id: JobId) -> Result<Option<JobRecord>>;

    /// Jobs matching `filter`, oldest first, at most [`JobFilter::effective_limit`].
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>>;

    /// Makes a finished (discarded, cancelled or completed) job pending again, due at `now`,
    /// with one more attempt allowed if it had used them all; answers whether it did.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn retry(&self, id: JobId, now: SystemTime) -> Result<bool>;

    /// Cancels a pending or running job (a running attempt's outcome is then ignored); answers
    /// whether it did.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn cancel(&self, id: JobId, now: SystemTime) -> Result<bool>;

    /// Deletes jobs matching `filter` that are not running (its limit is ignored); answers how
    /// many.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn purge(&self, filter: &JobFilter) -> Result<u64>;

    /// Retention: deletes finished jobs that finished before `before`; answers how many.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn prune(&self, before: SystemTime) -> Result<u64>;

    /// Numbers per queue (only queues holding jobs).
    ///
    /// # Errors
    ///
    /// When the backend fails.
    async fn stats(&self, now: SystemTime) -> Result<Vec<QueueStats>>;

    /// A counter of wake-ups: it changes whenever a job may have become available. A worker reads
    /// it *before* claiming, and hands it to [`wait_for_jobs`](Self::wait_for_jobs) after a
    /// short claim, so a job that arrives in between is never slept through. Backends without
    /// push notifications keep the default, 0.
    fn wake_epoch(&self) -> u64 {
        0
    }

    /// Waits until a job may have become available on `queue` since the wake-up counter read
    /// `since` (see [`wake_epoch`](Self::wake_epoch)), or `timeout` passed. Backends with push
    /// notifications (PostgreSQL's LISTEN/NOTIFY, Redis pub/sub, the memory backend) return
    /// early, at once when the counter already moved; the default just sleeps.
    async fn wait_for_jobs(&self, queue: &str, since: u64, timeout: Duration) {
        let _ = (queue, since);
        tokio::time::sleep(timeout).await;
    }
}

/// The wake-up signal push-notified backends share with their workers: a counter and a
/// [`Notify`], so a wake-up that lands between a worker's claim and its wait is not lost (a bare
/// `Notify::notify_waiters` forgets wake-ups nobody was waiting for yet).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use mortar_jobs::WakeSignal;
///
/// let signal = WakeSignal::new();
/// let seen = signal.epoch();   // read before claiming…
/// signal.wake();               // …a job arrives before the worker waits…
/// // …so the wait returns at once instead of sleeping for the poll interval.
/// assert!(signal.wait(seen, Duration::from_secs(3600)).await);
/// # }
/// ```
#[derive(Debug, Default)]
pub struct WakeSignal {
    epoch: AtomicU64,
    notify: Notify,
}

impl WakeSignal {
    /// A signal nobody has raised.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter's current value.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Raises the signal: wakes every waiter and moves the counter.
    pub fn wake(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_waiters();
    }

    /// Waits until the counter differs from `since` or `timeout` passes; answers whether it
    /// was woken.
    pub async fn wait(&self, since: u64, timeout: Duration) -> bool {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        // Registered before the counter is read: a `wake` after the read reaches this waiter.
        notified.as_mut().enable();
        if self.epoch() != since {
            return true;
        }
        tokio::time::timeout(timeout, notified).await.is_ok()
    }
}
