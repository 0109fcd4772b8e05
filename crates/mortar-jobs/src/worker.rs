//! [`Worker`]: claims jobs from its queues, runs their handlers, and reports how they ended.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use mortar_core::{AuditEvent, AuditRecorder, Clock as _, SharedClock, SharedRecorder};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::{AbortHandle, JoinHandle};
use tracing::Instrument as _;

use crate::backend::SharedBackend;
use crate::client::Jobs;
use crate::error::Result;
use crate::job::{DEFAULT_QUEUE, Job, JobContext, JobError, JobId};
use crate::record::{ClaimRequest, JobRecord, Lease, Outcome, OutcomeKind, Rescued};
use crate::retry::{ExponentialBackoff, RetryPolicy};

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
type Handler<S> =
    Arc<dyn Fn(serde_json::Value, JobContext<S>) -> Result<BoxFuture, String> + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded maps are updated in single statements; a panic cannot leave them torn.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Builds a [`Worker`]: its handlers, queues, limits and timings.
#[must_use]
pub struct WorkerBuilder<S> {
    backend: SharedBackend,
    clock: SharedClock,
    state: S,
    handlers: HashMap<String, Handler<S>>,
    queues: Vec<(String, usize)>,
    limits: HashMap<String, usize>,
    lease: Duration,
    heartbeat: Option<Duration>,
    poll_interval: Duration,
    rescue_interval: Option<Duration>,
    job_timeout: Duration,
    retry: Arc<dyn RetryPolicy>,
    audit: Option<SharedRecorder>,
    id: Option<String>,
}

impl<S> fmt::Debug for WorkerBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("queues", &self.queues)
            .field("jobs", &self.handlers.keys().collect::<Vec<_>>())
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> WorkerBuilder<S> {
    /// Runs jobs of type `J` (on every queue of this worker).
    pub fn register<J: Job<State = S>>(mut self) -> Self {
        let handler: Handler<S> = Arc::new(|payload, ctx| {
            let job: J = serde_json::from_value(payload).map_err(|e| e.to_string())?;
            Ok(Box::pin(job.run(ctx)) as BoxFuture)
        });
        self.handlers.insert(J::NAME.to_owned(), handler);
        self
    }

    /// Takes jobs from `queue`, running at most `concurrency` at a time (at least 1). Without
    /// any call, the worker runs [`DEFAULT_QUEUE`] with concurrency 10.
    pub fn queue(mut self, queue: impl Into<String>, concurrency: usize) -> Self {
        self.queues.push((queue.into(), concurrency.max(1)));
        self
    }

    /// Runs at most `limit` jobs of type `J` at a time in this worker, across its queues
    /// (1: one at a time). The limit is per worker process, not global.
    pub fn limit<J: Job>(mut self, limit: usize) -> Self {
        self.limits.insert(J::NAME.to_owned(), limit.max(1));
        self
    }

    /// How long a claim holds a job without a heartbeat (default 30 s): a job whose worker died
    /// runs again this long after the worker's last heartbeat.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(10));
        self
    }

    /// How often running jobs' leases are renewed (default a third of the lease).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = Some(every);
        self
    }

    /// How long an idle queue waits before polling again when no notification arrives
    /// (default 1 s).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// How often expired leases are rescued (default half the lease).
    pub fn rescue_interval(mut self, every: Duration) -> Self {
        self.rescue_interval = Some(every);
        self
    }

    /// The timeout of an attempt whose job sets none (default 15 minutes).
    pub fn job_timeout(mut self, timeout: Duration) -> Self {
        self.job_timeout = timeout;
        self
    }

    /// The wait before retries (default [`ExponentialBackoff::default`]).
    pub fn retry_policy(mut self, policy: impl RetryPolicy) -> Self {
        self.retry = Arc::new(policy);
        self
    }

    /// Reports discarded jobs (`jobs.job.discarded`) to this recorder.
    pub fn audit(mut self, recorder: impl AuditRecorder) -> Self {
        self.audit = Some(Arc::new(recorder));
        self
    }

    /// The worker's id, stored with the jobs it claims (default `worker-<pid>-<random>`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The worker, ready to [`start`](Worker::start) or [`run_available`](Worker::run_available).
    pub fn build(self) -> Worker<S> {
        let queues = if self.queues.is_empty() {
            vec![(DEFAULT_QUEUE.to_owned(), 10)]
        } else {
            self.queues
        };
        let id = self.id.unwrap_or_else(|| {
            let rand: u32 = rand::random();
            format!("worker-{}-{rand:08x}", std::process::id())
        });
        Worker {
            shared: Arc::new(Shared {
                backend: self.backend,
                clock: self.clock,
                state: self.state,
                handlers: self.handlers,
                queues,
                limits: self.limits,
                lease: self.lease,
                heartbeat: self.heartbeat.unwrap_or(self.lease / 3),
                poll_interval: self.poll_interval,
                rescue_interval: self.rescue_interval.unwrap_or(self.lease / 2),
                job_timeout: self.job_timeout,
                retry: self.retry,
                audit: self.audit,
                id,
                running: Mutex::new(HashMap::new()),
                per_type: Mutex::new(HashMap::new()),
                tasks: Mutex::new(HashMap::new()),
                active: AtomicUsize::new(0),
                freed: Notify::new(),
                stats: Counters::default(),
            }),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    completed: AtomicU64,
    failed: AtomicU64,
    discarded: AtomicU64,
    rescued: AtomicU64,
}

/// What one worker did since it was built: its throughput and failures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Attempts that succeeded.
    pub completed: u64,
    /// Attempts that failed and will be retried.
    pub failed: u64,
    /// Jobs discarded (last attempt failed, or a permanent failure).
    pub discarded: u64,
    /// Jobs with an expired lease this worker put back (or discarded).
    pub rescued: u64,
    /// Attempts running now.
    pub running: u64,
}

struct Shared<S> {
    backend: SharedBackend,
    clock: SharedClock,
    state: S,
    handlers: HashMap<String, Handler<S>>,
    queues: Vec<(String, usize)>,
    limits: HashMap<String, usize>,
    lease: Duration,
    heartbeat: Duration,
    poll_interval: Duration,
    rescue_interval: Duration,
    job_timeout: Duration,
    retry: Arc<dyn RetryPolicy>,
    audit: Option<SharedRecorder>,
    id: String,
    /// Claimed jobs whose outcome is not stored yet: their leases are renewed.
    running: Mutex<HashMap<JobId, u32>>,
    per_type: Mutex<HashMap<String, usize>>,
    tasks: Mutex<HashMap<JobId, AbortHandle>>,
    active: AtomicUsize,
    freed: Notify,
    stats: Counters,
}

/// Runs jobs: claims due jobs of its registered types from its queues under a lease, renews the
/// lease while they run, retries failures with back-off, discards jobs after their last attempt
/// (reporting them to the audit recorder), and rescues jobs whose worker died.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use mortar_jobs::{EnqueueOptions, Job, JobContext, JobError, JobState, Jobs, MemoryBackend, Worker};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Hello { name: String }
///
/// impl Job for Hello {
///     const NAME: &'static str = "hello";
///     type State = ();
///     async fn run(self, ctx: JobContext<()>) -> Result<(), JobError> {
///         println!("hello {} (attempt {})", self.name, ctx.attempt());
///         Ok(())
///     }
/// }
///
/// let jobs = Jobs::new(MemoryBackend::new());
/// let id = jobs.enqueue(&Hello { name: "world".into() }, EnqueueOptions::new()).await.unwrap().id;
///
/// let worker = Worker::builder(&jobs, ()).register::<Hello>().queue("default", 4).build();
/// let running = worker.start();
/// // … serve requests …
/// # while jobs.get(id).await.unwrap().unwrap().state != JobState::Completed {
/// #     tokio::time::sleep(Duration::from_millis(5)).await;
/// # }
/// running.shutdown(Duration::from_secs(30)).await;
/// assert_eq!(jobs.get(id).await.unwrap().unwrap().state, JobState::Completed);
/// # }
/// ```
pub struct Worker<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for Worker<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<S> fmt::Debug for Worker<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("id", &self.shared.id)
            .field("queues", &self.shared.queues)
            .finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> Worker<S> {
    /// A builder on the backend and clock of `jobs`, giving handlers `state`.
    pub fn builder(jobs: &Jobs, state: S) -> WorkerBuilder<S> {
        WorkerBuilder {
            backend: jobs.backend().clone(),
            clock: jobs.clock().clone(),
            state,
            handlers: HashMap::new(),
            queues: Vec::new(),
            limits: HashMap::new(),
            lease: Duration::from_secs(30),
            heartbeat: None,
            poll_interval: Duration::from_secs(1),
            rescue_interval: None,
            job_timeout: Duration::from_mins(15),
            retry: Arc::new(ExponentialBackoff::default()),
            audit: None,
            id: None,
        }
    }

    /// The worker's id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// Counters since the worker was built.
    pub fn stats(&self) -> WorkerStats {
        let c = &self.shared.stats;
        WorkerStats {
            completed: c.completed.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            discarded: c.discarded.load(Ordering::Relaxed),
            rescued: c.rescued.load(Ordering::Relaxed),
            running: self.shared.active.load(Ordering::Relaxed) as u64,
        }
    }

    /// Rescues expired leases, then claims and runs due jobs, batch after batch, until none is
    /// due; answers how many attempts ran. Deterministic: for tests with a
    /// [`ManualClock`](mortar_core::ManualClock) and for one-shot runs (a cron-triggered
    /// process draining a queue).
    ///
    /// # Errors
    ///
    /// When the backend fails.
    pub async fn run_available(&self) -> Result<usize> {
        let sh = &self.shared;
        sh.rescue_once().await?;
        let mut total = 0;
        loop {
            let mut batch = Vec::new();
            for (queue, concurrency) in &sh.queues {
                for (names, limit) in sh.groups(*concurrency, false) {
                    let req = sh.claim_request(queue, names, limit);
                    batch.extend(sh.backend.claim(&req).await?);
                }
            }
            if batch.is_empty() {
                return Ok(total);
            }
            total += batch.len();
            let outcomes = futures_util::future::join_all(
                batch.into_iter().map(|job| sh.clone().execute(job)),
            )
            .await;
            sh.backend.complete(&outcomes).await?;
            sh.after_complete(&outcomes);
        }
    }

    /// Starts the worker's tasks on the current Tokio runtime: one fetch loop per queue, the
    /// heartbeat, the rescuer and the batch completer.
    pub fn start(&self) -> RunningWorker {
        let sh = &self.shared;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let mut loops = Vec::new();
        for (queue, concurrency) in &sh.queues {
            loops.push(tokio::spawn(sh.clone().fetch_loop(
                queue.clone(),
                *concurrency,
                stop_rx.clone(),
                done_tx.clone(),
            )));
        }
        drop(done_tx);
        let background = vec![
            tokio::spawn(sh.clone().heartbeat_loop(stop_rx.clone())),
            tokio::spawn(sh.clone().rescue_loop(stop_rx)),
        ];
        let completer = tokio::spawn(sh.clone().complete_loop(done_rx));
        let shared: Arc<dyn Drain> = sh.clone();
        RunningWorker {
            stop: stop_tx,
            loops,
            background,
            completer,
            shared,
        }
    }
}

trait Drain: Send + Sync {
    fn active(&self) -> usize;
    fn abort_all(&self);
    fn freed(&self) -> &Notify;
}

impl<S: Send + Sync> Drain for Shared<S> {
    fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    fn abort_all(&self) {
        for (_, task) in lock(&self.tasks).drain() {
            task.abort();
        }
    }

    fn freed(&self) -> &Notify {
        &self.freed
    }
}

/// A started [`Worker`]. Dropping it leaves the tasks running; call
/// [`shutdown`](Self::shutdown) to stop them gracefully.
pub struct RunningWorker {
    stop: watch::Sender<bool>,
    loops: Vec<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
    completer: JoinHandle<()>,
    shared: Arc<dyn Drain>,
}

impl fmt::Debug for RunningWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningWorker")
            .field("running", &self.shared.active())
            .finish_non_exhaustive()
    }
}

/// How a [`RunningWorker::shutdown`] went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Shutdown {
    /// Attempts still running at the deadline, aborted (they are retried: as failures now, or by
    /// lease expiry if their outcome could not be stored).
    pub aborted: usize,
}

impl RunningWorker {
    /// Stops fetching, waits up to `deadline` for running attempts to finish, aborts the rest,
    /// and stores the outcomes (waiting at most a little longer for a failing backend).
    pub async fn shutdown(self, deadline: Duration) -> Shutdown {
        let until = Instant::now() + deadline;
        let _ = self.stop.send(true);
        for l in self.loops {
            let _ = l.await;
        }
        let mut aborted = 0;
        loop {
            let active = self.shared.active();
            if active == 0 {
                break;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                aborted = active;
                self.shared.abort_all();
                break;
            }
            let _ = tokio::time::timeout(
                left.min(Duration::from_millis(50)),
                self.shared.freed().notified(),
            )
            .await;
        }
        // The completer ends when every attempt's sender is gone and its batch is stored.
        let mut completer = self.completer;
        if tokio::time::timeout(deadline.max(Duration::from_secs(1)), &mut completer)
            .await
            .is_err()
        {
            completer.abort();
        }
        for b in self.background {
            b.abort();
        }
        Shutdown { aborted }
    }
}

impl<S: Clone + Send + Sync + 'static> Shared<S> {
    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn claim_request(&self, queue: &str, names: Vec<String>, limit: usize) -> ClaimRequest {
        ClaimRequest::new(queue, names, limit, self.now(), self.lease, self.id.clone())
    }

    /// The claims to make with `free` slots: one for the types without a limit, one per
    /// limited type with room. Also answers whether some type is at its limit.
    fn groups(&self, free: usize, count_running: bool) -> Vec<(Vec<String>, usize)> {
        let per_type = lock(&self.per_type);
        let mut open = Vec::new();
        let mut groups = Vec::new();
        for name in self.handlers.keys() {
            match self.limits.get(name) {
                None => open.push(name.clone()),
                Some(limit) => {
                    let used = if count_running {
                        per_type.get(name).copied().unwrap_or(0)
                    } else {
                        0
                    };
                    let room = limit.saturating_sub(used).min(free);
                    if room > 0 {
                        groups.push((vec![name.clone()], room));
                    }
                }
            }
        }
        if !open.is_empty() {
            open.sort();
            groups.insert(0, (open, free));
        }
        groups
    }

    fn is_capped(&self) -> bool {
        let per_type = lock(&self.per_type);
        self.limits
            .iter()
            .any(|(name, limit)| per_type.get(name).copied().unwrap_or(0) >= *limit)
    }

    async fn fetch_loop(
        self: Arc<Self>,
        queue: String,
        concurrency: usize,
        mut stop: watch::Receiver<bool>,
        done: mpsc::UnboundedSender<Outcome>,
    ) {
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut error_wait = Duration::from_millis(100);
        loop {
            if *stop.borrow() {
                return;
            }
            // Read before claiming: a job that arrives after this ends the wait below at once.
            let epoch = self.backend.wake_epoch();
            let mut free = slots.available_permits();
            let mut short = true;
            let mut failed = false;
            if free > 0 {
                short = false;
                for (names, limit) in self.groups(free, true) {
                    let limit = limit.min(free);
                    if limit == 0 {
                        break;
                    }
                    let req = self.claim_request(&queue, names, limit);
                    match self.backend.claim(&req).await {
                        Ok(jobs) => {
                            if jobs.len() < limit {
                                short = true;
                            }
                            free -= jobs.len().min(free);
                            for job in jobs {
                                self.spawn_attempt(job, &slots, &done);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(target: "mortar::jobs", queue = %queue, error = %e, "claiming jobs failed");
                            failed = true;
                            break;
                        }
                    }
                }
            }
            if failed {
                tokio::select! {
                    () = tokio::time::sleep(error_wait) => {}
                    _ = stop.changed() => {}
                }
                error_wait = (error_wait * 2).min(Duration::from_secs(5));
                continue;
            }
            error_wait = Duration::from_millis(100);
            if slots.available_permits() == 0 || self.is_capped() {
                tokio::select! {
                    () = self.freed.notified() => {}
                    () = tokio::time::sleep(self.poll_interval) => {}
                    _ = stop.changed() => {}
                }
            } else if short {
                tokio::select! {
                    () = self.backend.wait_for_jobs(&queue, epoch, self.poll_interval) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    fn spawn_attempt(
        self: &Arc<Self>,
        job: JobRecord,
        slots: &Arc<Semaphore>,
        done: &mpsc::UnboundedSender<Outcome>,
    ) {
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            // Cannot happen: claims never ask for more than the free slots. Should it, the job
            // is not started and its lease expires, so it runs later.
            return;
        };
        lock(&self.running).insert(job.id, job.attempt);
        *lock(&self.per_type).entry(job.name.clone()).or_insert(0) += 1;
        self.active.fetch_add(1, Ordering::SeqCst);
        let sh = self.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let name = job.name.clone();
            let outcome = sh.clone().execute(job).await;
            if let Some(n) = lock(&sh.per_type).get_mut(&name) {
                *n = n.saturating_sub(1);
            }
            drop(permit);
            let _ = done.send(outcome);
            sh.active.fetch_sub(1, Ordering::SeqCst);
            sh.freed.notify_waiters();
        });
    }

    /// Runs one attempt and decides its outcome.
    async fn execute(self: Arc<Self>, job: JobRecord) -> Outcome {
        let lease = job.lease();
        let span = tracing::info_span!(
            target: "mortar::jobs",
            "mortar.jobs.attempt",
            job.id = %job.id,
            job.name = %job.name,
            job.queue = %job.queue,
            job.attempt = job.attempt,
            job.max_attempts = job.max_attempts,
        );
        let started = Instant::now();
        let latency = job
            .attempted_at
            .and_then(|at| at.duration_since(job.run_at).ok())
            .unwrap_or_default();
        metrics::histogram!("mortar_jobs_latency_seconds", "queue" => job.queue.clone())
            .record(latency.as_secs_f64());
        let result = match self.handlers.get(&job.name) {
            None => Err(JobError::retry(format!(
                "no handler for job type {:?}",
                job.name
            ))),
            Some(handler) => {
                let ctx = JobContext {
                    id: job.id,
                    name: job.name.clone(),
                    queue: job.queue.clone(),
                    attempt: job.attempt,
                    max_attempts: job.max_attempts,
                    state: self.state.clone(),
                };
                match handler(job.payload.clone(), ctx) {
                    Err(e) => Err(JobError::discard(format!(
                        "the payload does not deserialize: {e}"
                    ))),
                    Ok(fut) => {
                        let timeout = job.timeout.unwrap_or(self.job_timeout);
                        let task = tokio::spawn(
                            async move { tokio::time::timeout(timeout, fut).await }
                                .instrument(span.clone()),
                        );
                        lock(&self.tasks).insert(job.id, task.abort_handle());
                        let joined = task.await;
                        lock(&self.tasks).remove(&job.id);
                        match joined {
                            Ok(Ok(r)) => r,
                            Ok(Err(_)) => Err(JobError::retry(format!(
                                "timed out after {} ms",
                                timeout.as_millis()
                            ))),
                            Err(e) if e.is_panic() => Err(JobError::retry("the handler panicked")),
                            Err(_) => Err(JobError::retry(
                                "aborted: the worker shut down before the attempt finished",
                            )),
                        }
                    }
                }
            }
        };
        let now = self.now();
        let labels = [("queue", job.queue.clone()), ("job", job.name.clone())];
        metrics::histogram!("mortar_jobs_attempt_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        let kind = match result {
            Ok(()) => {
                span.in_scope(|| tracing::debug!(target: "mortar::jobs", "job completed"));
                OutcomeKind::Completed
            }
            Err(e) if e.is_discard() || job.attempt >= job.max_attempts => {
                span.in_scope(
                    || tracing::warn!(target: "mortar::jobs", error = %e, "job discarded"),
                );
                OutcomeKind::Discard {
                    error: e.message().to_owned(),
                }
            }
            Err(e) => {
                let wait = self.retry.backoff(job.attempt);
                span.in_scope(|| {
                    tracing::info!(target: "mortar::jobs", error = %e, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "job failed, will retry");
                });
                OutcomeKind::Retry {
                    run_at: now + wait,
                    error: e.message().to_owned(),
                }
            }
        };
        Outcome::new(lease, now, kind)
    }

    /// Counts, reports and forgets outcomes once stored.
    fn after_complete(&self, outcomes: &[Outcome]) {
        let mut running = lock(&self.running);
        for o in outcomes {
            running.remove(&o.lease.id);
        }
        drop(running);
        for o in outcomes {
            match &o.result {
                OutcomeKind::Completed => {
                    self.stats.completed.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("mortar_jobs_completed_total").increment(1);
                }
                OutcomeKind::Retry { .. } => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("mortar_jobs_failed_total").increment(1);
                }
                OutcomeKind::Discard { error } => {
                    self.stats.discarded.fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("mortar_jobs_discarded_total").increment(1);
                    self.report_discard(o.lease, error);
                }
            }
        }
    }

    fn report_discard(&self, lease: Lease, error: &str) {
        if let Some(audit) = &self.audit {
            let mut error = error.to_owned();
            if error.len() > 500 {
                let mut cut = 500;
                while !error.is_char_boundary(cut) {
                    cut -= 1;
                }
                error.truncate(cut);
            }
            audit.record(
                AuditEvent::new("jobs.job.discarded", mortar_core::Outcome::Error)
                    .target("job", lease.id.to_string())
                    .meta("attempt", lease.attempt)
                    .meta("error", error)
                    .meta("worker", self.id.clone()),
            );
        }
    }

    async fn rescue_once(&self) -> Result<Rescued> {
        let rescued = self.backend.rescue(self.now()).await?;
        let n = (rescued.retried.len() + rescued.discarded.len()) as u64;
        if n > 0 {
            self.stats.rescued.fetch_add(n, Ordering::Relaxed);
            metrics::counter!("mortar_jobs_rescued_total").increment(n);
            tracing::warn!(target: "mortar::jobs", retried = rescued.retried.len(), discarded = rescued.discarded.len(), "rescued jobs whose lease expired");
        }
        for id in &rescued.discarded {
            self.stats.discarded.fetch_add(1, Ordering::Relaxed);
            self.report_discard(
                Lease {
                    id: *id,
                    attempt: 0,
                },
                crate::memory::LEASE_EXPIRED,
            );
        }
        Ok(rescued)
    }

    async fn heartbeat_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.heartbeat) => {}
                _ = stop.changed() => {}
            }
            // Leases are renewed after the stop too, until the outcomes are stored; the task is
            // aborted at the end of the shutdown.
            let leases: Vec<Lease> = lock(&self.running)
                .iter()
                .map(|(id, attempt)| Lease {
                    id: *id,
                    attempt: *attempt,
                })
                .collect();
            if leases.is_empty() {
                continue;
            }
            if let Err(e) = self
                .backend
                .heartbeat(&leases, self.now() + self.lease)
                .await
            {
                tracing::warn!(target: "mortar::jobs", error = %e, "renewing leases failed");
            }
        }
    }

    async fn rescue_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = self.rescue_once().await {
                tracing::warn!(target: "mortar::jobs", error = %e, "rescuing expired leases failed");
            }
            tokio::select! {
                () = tokio::time::sleep(self.rescue_interval) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn complete_loop(self: Arc<Self>, mut done: mpsc::UnboundedReceiver<Outcome>) {
        let mut batch = Vec::new();
        while done.recv_many(&mut batch, 256).await > 0 {
            let mut wait = Duration::from_millis(50);
            loop {
                match self.backend.complete(&batch).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(target: "mortar::jobs", error = %e, jobs = batch.len(), "storing job outcomes failed; retrying");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                }
            }
            self.after_complete(&batch);
            batch.clear();
        }
    }
}
