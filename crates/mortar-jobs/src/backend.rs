//! [`JobBackend`]: where jobs are kept, and the contract every backend meets.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

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

    /// Waits until a job may have become available on `queue`, or `timeout` passed. Backends
    /// with push notifications (PostgreSQL's LISTEN/NOTIFY, the memory backend) return early;
    /// the default just sleeps.
    async fn wait_for_jobs(&self, queue: &str, timeout: Duration) {
        let _ = queue;
        tokio::time::sleep(timeout).await;
    }
}
