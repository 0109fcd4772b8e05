//! [`Jobs`]: the application's handle to enqueue and administer jobs.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mortar_core::{Clock, SharedClock, SystemClock};

use crate::backend::{JobBackend, SharedBackend};
use crate::error::Result;
use crate::job::{EnqueueOptions, Job, JobId, new_job, new_jobs};
use crate::record::{Enqueued, JobFilter, JobRecord, QueueStats};

/// Enqueues jobs and administers them (list, inspect, retry, cancel, purge, prune, stats).
/// Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use mortar_jobs::{EnqueueOptions, Job, JobContext, JobError, JobFilter, JobState, Jobs, MemoryBackend};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Resize { image: String }
///
/// impl Job for Resize {
///     const NAME: &'static str = "resize";
///     type State = ();
///     async fn run(self, _: JobContext<()>) -> Result<(), JobError> { Ok(()) }
/// }
///
/// let jobs = Jobs::new(MemoryBackend::new());
/// let enqueued = jobs.enqueue(&Resize { image: "a.png".into() }, EnqueueOptions::new().queue("media")).await.unwrap();
/// let pending = jobs.list(&JobFilter::new().state(JobState::Pending).queue("media")).await.unwrap();
/// assert_eq!(pending[0].id, enqueued.id);
/// assert!(jobs.cancel(enqueued.id).await.unwrap());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Jobs {
    backend: SharedBackend,
    clock: SharedClock,
}

impl Jobs {
    /// A handle on `backend`, with the system clock.
    pub fn new(backend: impl JobBackend) -> Self {
        Self::from_shared(Arc::new(backend))
    }

    /// A handle on a shared backend (the one the workers use).
    pub fn from_shared(backend: SharedBackend) -> Self {
        Self {
            backend,
            clock: SystemClock::shared(),
        }
    }

    /// Reads the time from `clock` (a [`ManualClock`](mortar_core::ManualClock) in tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Reads the time from a shared clock.
    #[must_use]
    pub fn with_shared_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The backend.
    pub fn backend(&self) -> &SharedBackend {
        &self.backend
    }

    /// The clock.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// Enqueues `job`. With a [unique](crate::Unique) key already held, stores nothing and
    /// answers the holder's id with `inserted: false`.
    ///
    /// # Errors
    ///
    /// An invalid option or payload, or a failing backend.
    pub async fn enqueue<J: Job>(&self, job: &J, opts: EnqueueOptions) -> Result<Enqueued> {
        let row = new_job(job, opts, self.now())?;
        let enqueued = self.backend.enqueue(row).await?;
        if enqueued.inserted {
            metrics::counter!("mortar_jobs_enqueued_total", "job" => J::NAME).increment(1);
        }
        Ok(enqueued)
    }

    /// Enqueues many jobs of one type with the same options, in one round trip per few hundred
    /// jobs on the SQL backends (one transaction: all or nothing). Answers in the order given.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # use mortar_jobs::{EnqueueOptions, Job, JobContext, JobError, Jobs, MemoryBackend};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize)] struct Resize { image: u32 }
    /// # impl Job for Resize { const NAME: &'static str = "resize"; type State = ();
    /// #     async fn run(self, _: JobContext<()>) -> Result<(), JobError> { Ok(()) } }
    /// let jobs = Jobs::new(MemoryBackend::new());
    /// let batch: Vec<Resize> = (0..100).map(|image| Resize { image }).collect();
    /// let ids = jobs.enqueue_many(&batch, EnqueueOptions::new().queue("images")).await.unwrap();
    /// assert_eq!(ids.len(), 100);
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// An invalid option or payload (then nothing is stored), or a failing backend.
    pub async fn enqueue_many<J: Job>(
        &self,
        jobs: &[J],
        opts: EnqueueOptions,
    ) -> Result<Vec<Enqueued>> {
        let now = self.now();
        let rows = new_jobs(jobs, &opts, now)?;
        let enqueued = self.backend.enqueue_many(rows).await?;
        let inserted = enqueued.iter().filter(|e| e.inserted).count();
        metrics::counter!("mortar_jobs_enqueued_total", "job" => J::NAME)
            .increment(inserted as u64);
        Ok(enqueued)
    }

    /// One job with its error history.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    pub async fn get(&self, id: JobId) -> Result<Option<JobRecord>> {
        self.backend.get(id).await
    }

    /// Jobs by state, queue and type, oldest first.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        self.backend.list(filter).await
    }

    /// Runs a finished (discarded, cancelled, completed) job again, now; answers whether it did.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    pub async fn retry(&self, id: JobId) -> Result<bool> {
        self.backend.retry(id, self.now()).await
    }

    /// Cancels a pending or running job; answers whether it did. A running attempt is not
    /// interrupted, but its outcome is ignored.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    pub async fn cancel(&self, id: JobId) -> Result<bool> {
        self.backend.cancel(id, self.now()).await
    }

    /// Deletes the jobs matching `filter` that are not running; answers how many.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    pub async fn purge(&self, filter: &JobFilter) -> Result<u64> {
        self.backend.purge(filter).await
    }

    /// Retention: deletes jobs that finished more than `older_than` ago; answers how many.
    /// Unique keys of pruned jobs ([`Unique::UntilPruned`](crate::Unique::UntilPruned), cron
    /// ticks) become free, so keep this longer than any schedule's catch-up window.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    pub async fn prune(&self, older_than: Duration) -> Result<u64> {
        let before = self
            .now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        self.backend.prune(before).await
    }

    /// Queue depth, latency and totals per queue.
    ///
    /// # Errors
    ///
    /// When the backend fails.
    pub async fn stats(&self) -> Result<Vec<QueueStats>> {
        self.backend.stats(self.now()).await
    }
}
