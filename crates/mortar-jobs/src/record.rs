//! The stored side: rows as backends see them ([`NewJob`], [`JobRecord`]), the messages between
//! worker and backend ([`ClaimRequest`], [`Lease`], [`Outcome`]) and admin filters.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::job::JobId;

/// Where a job is in its life.
///
/// `Pending` → `Running` → `Completed`; a failed attempt goes back to `Pending` (with a later
/// `run_at`) until its attempts are used up, then `Discarded`. `Cancelled` is set by
/// [`Jobs::cancel`](crate::Jobs::cancel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobState {
    /// Waiting for its `run_at` and a worker (new, or waiting to retry).
    Pending,
    /// Claimed by a worker, under a lease.
    Running,
    /// Ran successfully.
    Completed,
    /// Failed its last attempt, or failed permanently (the dead letters).
    Discarded,
    /// Cancelled by an operator.
    Cancelled,
}

impl JobState {
    /// Every state.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Running,
        Self::Completed,
        Self::Discarded,
        Self::Cancelled,
    ];

    /// The state's stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Discarded => "discarded",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the job is finished (completed, discarded or cancelled).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Discarded | Self::Cancelled)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| Error::Payload(format!("unknown job state {s:?}")))
    }
}

/// A unique key as stored: made from the job's name and [`Unique`](crate::Unique).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredUnique {
    /// The key (with the window's start for [`Unique::Window`](crate::Unique::Window)).
    pub key: String,
    /// Whether finishing the job frees the key ([`Unique::WhileActive`](crate::Unique::WhileActive)).
    pub clears_on_finish: bool,
}

/// A job to store, made by [`new_job`](crate::new_job).
#[derive(Clone)]
#[non_exhaustive]
pub struct NewJob {
    /// Its id.
    pub id: JobId,
    /// The job type's name.
    pub name: String,
    /// The queue.
    pub queue: String,
    /// The serialized job.
    pub payload: serde_json::Value,
    /// Lower runs first.
    pub priority: i16,
    /// Not before.
    pub run_at: SystemTime,
    /// When it was enqueued.
    pub created_at: SystemTime,
    /// Attempts in all.
    pub max_attempts: u32,
    /// Per-attempt timeout, when set.
    pub timeout: Option<Duration>,
    /// The unique key, when set.
    pub unique: Option<StoredUnique>,
}

impl fmt::Debug for NewJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Payloads may hold personal data: never in logs.
        f.debug_struct("NewJob")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("queue", &self.queue)
            .field("run_at", &self.run_at)
            .finish_non_exhaustive()
    }
}

/// What an enqueue did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enqueued {
    /// The job's id: the new one, or the existing job's when a unique key matched.
    pub id: JobId,
    /// Whether a new job was stored (`false`: a unique key matched an existing job).
    pub inserted: bool,
}

impl Enqueued {
    /// A new job was stored.
    pub fn inserted(id: JobId) -> Self {
        Self { id, inserted: true }
    }

    /// A unique key matched the job `id`.
    pub fn duplicate(id: JobId) -> Self {
        Self {
            id,
            inserted: false,
        }
    }
}

/// One failed attempt, kept in the job's error history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    /// The attempt's number, from 1.
    pub attempt: u32,
    /// When it failed.
    pub at: SystemTime,
    /// The error message.
    pub error: String,
}

/// A stored job, as admin functions and workers see it.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct JobRecord {
    /// Its id.
    pub id: JobId,
    /// The job type's name.
    pub name: String,
    /// The queue.
    pub queue: String,
    /// The serialized job (never shown by `Debug`).
    pub payload: serde_json::Value,
    /// Where it is in its life.
    pub state: JobState,
    /// Lower runs first.
    pub priority: i16,
    /// Attempts started so far.
    pub attempt: u32,
    /// Attempts in all.
    pub max_attempts: u32,
    /// Not before (for a pending job: its next run).
    pub run_at: SystemTime,
    /// When it was enqueued.
    pub created_at: SystemTime,
    /// When its last attempt started.
    pub attempted_at: Option<SystemTime>,
    /// When it finished.
    pub finished_at: Option<SystemTime>,
    /// For a running job: when its lease expires unless renewed.
    pub lease_until: Option<SystemTime>,
    /// Per-attempt timeout, when set.
    pub timeout: Option<Duration>,
    /// The stored unique key (cleared when a while-active job finishes).
    pub unique_key: Option<String>,
    /// The error of every failed attempt, oldest first.
    pub errors: Vec<AttemptError>,
}

impl fmt::Debug for JobRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("queue", &self.queue)
            .field("state", &self.state)
            .field("priority", &self.priority)
            .field("attempt", &self.attempt)
            .field("max_attempts", &self.max_attempts)
            .field("run_at", &self.run_at)
            .field("errors", &self.errors.len())
            .finish_non_exhaustive()
    }
}

impl JobRecord {
    /// A pending record for a new job.
    pub fn from_new(job: NewJob) -> Self {
        Self {
            id: job.id,
            name: job.name,
            queue: job.queue,
            payload: job.payload,
            state: JobState::Pending,
            priority: job.priority,
            attempt: 0,
            max_attempts: job.max_attempts,
            run_at: job.run_at,
            created_at: job.created_at,
            attempted_at: None,
            finished_at: None,
            lease_until: None,
            timeout: job.timeout,
            unique_key: job.unique.map(|u| u.key),
            errors: Vec::new(),
        }
    }

    /// The error of the last failed attempt.
    pub fn last_error(&self) -> Option<&AttemptError> {
        self.errors.last()
    }

    /// This job's lease as claimed (its id and current attempt).
    pub fn lease(&self) -> Lease {
        Lease {
            id: self.id,
            attempt: self.attempt,
        }
    }
}

/// What a worker asks a backend for.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClaimRequest {
    /// The queue.
    pub queue: String,
    /// Only jobs of these types (the ones the worker has handlers and room for).
    pub names: Vec<String>,
    /// At most this many.
    pub limit: usize,
    /// Due when `run_at <= now`.
    pub now: SystemTime,
    /// The lease each claimed job gets.
    pub lease_until: SystemTime,
    /// The worker's id, kept with the job for operators.
    pub worker: String,
}

impl ClaimRequest {
    /// A request for up to `limit` due jobs of `names` from `queue`.
    pub fn new(
        queue: impl Into<String>,
        names: Vec<String>,
        limit: usize,
        now: SystemTime,
        lease: Duration,
        worker: impl Into<String>,
    ) -> Self {
        Self {
            queue: queue.into(),
            names,
            limit,
            now,
            lease_until: now + lease,
            worker: worker.into(),
        }
    }
}

/// A claimed job's fencing token: its id and the attempt it was claimed for. A backend applies
/// heartbeats and outcomes only while the job is still running that attempt, so a worker whose
/// lease expired (and whose job was rescued and claimed again) cannot overwrite the new run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// The job.
    pub id: JobId,
    /// The attempt.
    pub attempt: u32,
}

/// How an attempt ended, as reported to the backend.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Outcome {
    /// The job and attempt.
    pub lease: Lease,
    /// When it ended.
    pub at: SystemTime,
    /// What to do with the job.
    pub result: OutcomeKind,
}

/// What to do with a job after an attempt.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum OutcomeKind {
    /// It succeeded.
    Completed,
    /// It failed; run again at `run_at`.
    Retry {
        /// The next attempt's time.
        run_at: SystemTime,
        /// The error, appended to the history.
        error: String,
    },
    /// It failed for the last time.
    Discard {
        /// The error, appended to the history.
        error: String,
    },
}

impl Outcome {
    /// An outcome.
    pub fn new(lease: Lease, at: SystemTime, result: OutcomeKind) -> Self {
        Self { lease, at, result }
    }

    /// The error, for a failure.
    pub fn error(&self) -> Option<&str> {
        match &self.result {
            OutcomeKind::Completed => None,
            OutcomeKind::Retry { error, .. } | OutcomeKind::Discard { error } => Some(error),
        }
    }
}

/// What [`JobBackend::rescue`](crate::JobBackend::rescue) did with jobs whose lease expired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rescued {
    /// Put back to pending, to run again.
    pub retried: Vec<JobId>,
    /// Discarded: the lost attempt was their last.
    pub discarded: Vec<JobId>,
}

/// Which jobs an admin function looks at. Empty fields match everything.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct JobFilter {
    /// Only these states.
    pub states: Vec<JobState>,
    /// Only this queue.
    pub queue: Option<String>,
    /// Only this job type.
    pub name: Option<String>,
    /// At most this many (listing only; default and maximum 1000).
    pub limit: Option<usize>,
}

/// The most a listing returns.
pub const MAX_LIST: usize = 1000;

impl JobFilter {
    /// Every job.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only this state (may be called again to add states).
    pub fn state(mut self, state: JobState) -> Self {
        self.states.push(state);
        self
    }

    /// Only this queue.
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// Only this job type.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// At most this many.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The effective listing limit.
    pub fn effective_limit(&self) -> usize {
        self.limit.unwrap_or(MAX_LIST).min(MAX_LIST)
    }

    /// Whether `job` matches.
    pub fn matches(&self, job: &JobRecord) -> bool {
        (self.states.is_empty() || self.states.contains(&job.state))
            && self.queue.as_ref().is_none_or(|q| *q == job.queue)
            && self.name.as_ref().is_none_or(|n| *n == job.name)
    }
}

/// One queue's numbers at a moment: depth, latency and totals by state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct QueueStats {
    /// The queue.
    pub queue: String,
    /// Pending and due now.
    pub available: u64,
    /// Pending with a later `run_at` (scheduled or waiting to retry).
    pub scheduled: u64,
    /// Running.
    pub running: u64,
    /// Completed (until pruned).
    pub completed: u64,
    /// Discarded (until pruned).
    pub discarded: u64,
    /// Cancelled (until pruned).
    pub cancelled: u64,
    /// How long the oldest due job has waited past its `run_at`: the queue's latency.
    pub oldest_available: Option<Duration>,
}

impl QueueStats {
    /// Empty numbers for `queue`.
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            ..Self::default()
        }
    }

    /// Counts one job (for backends that count in Rust).
    pub fn count(&mut self, state: JobState, run_at: SystemTime, now: SystemTime) {
        match state {
            JobState::Pending if run_at <= now => {
                self.available += 1;
                let waited = now.duration_since(run_at).unwrap_or_default();
                self.oldest_available =
                    Some(self.oldest_available.map_or(waited, |w| w.max(waited)));
            }
            JobState::Pending => self.scheduled += 1,
            JobState::Running => self.running += 1,
            JobState::Completed => self.completed += 1,
            JobState::Discarded => self.discarded += 1,
            JobState::Cancelled => self.cancelled += 1,
        }
    }
}

/// Whole seconds since the Unix epoch (0 before it).
pub(crate) fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Microseconds since the Unix epoch, as stored (saturating; 0 before the epoch).
pub fn micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The time `micros` microseconds after the Unix epoch (the epoch for negative values).
pub fn from_micros(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}
