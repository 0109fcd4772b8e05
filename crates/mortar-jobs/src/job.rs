//! The typed side: [`Job`], its [`JobContext`], what a handler returns ([`JobError`]) and the
//! per-enqueue [`EnqueueOptions`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::record::{NewJob, StoredUnique};

/// The queue a job goes to unless its options say otherwise.
pub const DEFAULT_QUEUE: &str = "default";

/// How many times a job runs at most unless its options say otherwise: the first run and nine
/// retries. With the default [`ExponentialBackoff`](crate::ExponentialBackoff) the retries spread
/// over about 45 minutes before the job is discarded.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// A job's identity: a `UUIDv7` (so ids sort by creation time), made when it is enqueued.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct JobId(uuid::Uuid);

impl JobId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// The UUID.
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<uuid::Uuid> for JobId {
    fn from(id: uuid::Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobId({})", self.0.hyphenated())
    }
}

impl FromStr for JobId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        uuid::Uuid::parse_str(s)
            .map(Self)
            .map_err(|e| Error::invalid("id", e.to_string()))
    }
}

/// A background job: a serde type with a stable [`NAME`](Job::NAME) and an async handler.
///
/// The payload is stored as JSON, so a job's fields should be ids and small values, not large
/// blobs. The handler may run more than once (at-least-once delivery): make it idempotent.
///
/// ```
/// use mortar_jobs::{Job, JobContext, JobError};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct SendWelcome { user_id: u64 }
///
/// #[derive(Clone)]
/// struct App { /* mailer, database… */ }
///
/// impl Job for SendWelcome {
///     const NAME: &'static str = "send_welcome";
///     type State = App;
///
///     async fn run(self, ctx: JobContext<App>) -> Result<(), JobError> {
///         if ctx.attempt() > 3 {
///             return Err(JobError::discard("mail server keeps refusing"));
///         }
///         let _app: &App = ctx.state();
///         Ok(())
///     }
/// }
/// ```
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The job type's stable name, stored with each job and used to find its handler. Renaming
    /// it orphans jobs already enqueued.
    const NAME: &'static str;

    /// The application state handlers receive through [`JobContext::state`] (`()` for none).
    type State: Clone + Send + Sync + 'static;

    /// Runs one attempt. `Err` retries the job (after back-off) until its attempts are used up;
    /// [`JobError::discard`] gives up at once.
    fn run(self, ctx: JobContext<Self::State>)
    -> impl Future<Output = Result<(), JobError>> + Send;

    /// The options this job type enqueues with when the caller's [`EnqueueOptions`] leave them
    /// unset (queue, priority, attempts…). The default sets nothing.
    fn options() -> EnqueueOptions {
        EnqueueOptions::new()
    }
}

/// What a handler knows about the attempt it runs: the job's id, attempt number, limits, and the
/// application's state.
#[derive(Clone)]
pub struct JobContext<S> {
    pub(crate) id: JobId,
    pub(crate) name: String,
    pub(crate) queue: String,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) state: S,
}

impl<S> fmt::Debug for JobContext<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobContext")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("queue", &self.queue)
            .field("attempt", &self.attempt)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl<S> JobContext<S> {
    /// The job's id.
    pub fn id(&self) -> JobId {
        self.id
    }

    /// The job type's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue it was taken from.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// This attempt's number, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// How many attempts the job has in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether this is the last attempt: a failure now discards the job.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// The application's state.
    pub fn state(&self) -> &S {
        &self.state
    }
}

/// Why an attempt failed, and whether to try again.
///
/// Any error type converts with `?` (its `Display` becomes the message, kept in the job's error
/// history), as a retryable failure.
pub struct JobError {
    message: String,
    discard: bool,
}

impl JobError {
    /// A failure worth retrying (the default).
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            discard: false,
        }
    }

    /// A permanent failure: the job is discarded without further attempts.
    pub fn discard(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            discard: true,
        }
    }

    /// The message kept in the error history.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the job should be discarded at once.
    pub fn is_discard(&self) -> bool {
        self.discard
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobError")
            .field("message", &self.message)
            .field("discard", &self.discard)
            .finish()
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for JobError {
    fn from(err: E) -> Self {
        Self::retry(err.to_string())
    }
}

/// How a [unique](EnqueueOptions::unique) job's key keeps duplicates out.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unique {
    /// At most one job with this key is pending or running; once it finishes (completed,
    /// discarded or cancelled) the key is free again.
    WhileActive(String),
    /// At most one job with this key per window of this length, windows aligned to the Unix
    /// epoch (a 1-hour window runs from 10:00 to 11:00), whatever its state, until it is pruned.
    Window(String, Duration),
    /// At most one job with this key until it is pruned (how cron ticks are made unique).
    UntilPruned(String),
}

impl Unique {
    /// [`Unique::WhileActive`].
    pub fn while_active(key: impl Into<String>) -> Self {
        Self::WhileActive(key.into())
    }

    /// [`Unique::Window`].
    pub fn window(key: impl Into<String>, window: Duration) -> Self {
        Self::Window(key.into(), window)
    }

    /// [`Unique::UntilPruned`].
    pub fn until_pruned(key: impl Into<String>) -> Self {
        Self::UntilPruned(key.into())
    }

    /// The key as stored, and whether finishing the job frees it.
    pub(crate) fn stored(&self, name: &str, now: SystemTime) -> Result<StoredUnique> {
        let (key, clears) = match self {
            Self::WhileActive(k) => (format!("{name}:{k}"), true),
            Self::UntilPruned(k) => (format!("{name}:{k}"), false),
            Self::Window(k, window) => {
                let w = window.as_secs();
                if w == 0 {
                    return Err(Error::invalid(
                        "unique",
                        "the window must be at least 1 second",
                    ));
                }
                let bucket = crate::record::unix_secs(now) / w * w;
                (format!("{name}:{k}@{bucket}"), false)
            }
        };
        if key.len() > 255 {
            return Err(Error::invalid("unique", "the key is longer than 255 bytes"));
        }
        Ok(StoredUnique {
            key,
            clears_on_finish: clears,
        })
    }
}

/// Options for one enqueue; unset ones come from [`Job::options`], then the defaults.
///
/// ```
/// use std::time::Duration;
/// use mortar_jobs::{EnqueueOptions, Unique};
///
/// let opts = EnqueueOptions::new()
///     .queue("mail")
///     .priority(-1)
///     .delay(Duration::from_secs(60))
///     .max_attempts(5)
///     .timeout(Duration::from_secs(30))
///     .unique(Unique::while_active("user-42"));
/// # let _ = opts;
/// ```
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct EnqueueOptions {
    queue: Option<Cow<'static, str>>,
    priority: Option<i16>,
    run_at: Option<SystemTime>,
    delay: Option<Duration>,
    max_attempts: Option<u32>,
    timeout: Option<Duration>,
    unique: Option<Unique>,
}

impl EnqueueOptions {
    /// No options set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The queue (default [`DEFAULT_QUEUE`]); at most 64 bytes.
    pub fn queue(mut self, queue: impl Into<Cow<'static, str>>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// The priority: lower runs first among due jobs of a queue (default 0).
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = Some(priority);
        self
    }

    /// Not before this time (it is never started earlier).
    pub fn run_at(mut self, at: SystemTime) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Not before this long from now. When both are set, the later of `run_at` and the delay wins.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// How many attempts in all, at least 1 (default [`DEFAULT_MAX_ATTEMPTS`]).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// How long one attempt may run before it fails as timed out (default: the worker's
    /// [`job_timeout`](crate::WorkerBuilder::job_timeout)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Keeps duplicates out: see [`Unique`].
    pub fn unique(mut self, unique: Unique) -> Self {
        self.unique = Some(unique);
        self
    }

    /// These options, with unset ones taken from `defaults`.
    fn or(self, defaults: Self) -> Self {
        Self {
            queue: self.queue.or(defaults.queue),
            priority: self.priority.or(defaults.priority),
            run_at: self.run_at.or(defaults.run_at),
            delay: self.delay.or(defaults.delay),
            max_attempts: self.max_attempts.or(defaults.max_attempts),
            timeout: self.timeout.or(defaults.timeout),
            unique: self.unique.or(defaults.unique),
        }
    }
}

/// Builds the row a backend stores for `job`, enqueued at `now` with `opts`.
///
/// Backends' transactional enqueue functions use it; most code calls
/// [`Jobs::enqueue`](crate::Jobs::enqueue) instead.
///
/// # Errors
///
/// [`Error::Payload`] when the job does not serialize, [`Error::Invalid`] for an invalid option.
pub fn new_job<J: Job>(job: &J, opts: EnqueueOptions, now: SystemTime) -> Result<NewJob> {
    new_job_raw(
        J::NAME,
        serde_json::to_value(job).map_err(|e| Error::Payload(e.to_string()))?,
        opts.or(J::options()),
        now,
    )
}

/// [`new_job`] for each of `jobs`, all with `opts`: every row, or the first error.
pub(crate) fn new_jobs<J: Job>(
    jobs: &[J],
    opts: &EnqueueOptions,
    now: SystemTime,
) -> Result<Vec<NewJob>> {
    jobs.iter()
        .map(|job| new_job(job, opts.clone(), now))
        .collect()
}

pub(crate) fn new_job_raw(
    name: &str,
    payload: serde_json::Value,
    opts: EnqueueOptions,
    now: SystemTime,
) -> Result<NewJob> {
    let queue = opts.queue.unwrap_or(Cow::Borrowed(DEFAULT_QUEUE));
    if queue.is_empty() || queue.len() > 64 {
        return Err(Error::invalid("queue", "must be 1 to 64 bytes"));
    }
    if name.is_empty() || name.len() > 128 {
        return Err(Error::invalid("name", "must be 1 to 128 bytes"));
    }
    let max_attempts = opts.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
    if max_attempts == 0 || max_attempts > 1000 {
        return Err(Error::invalid("max_attempts", "must be 1 to 1000"));
    }
    let mut run_at = opts.run_at.unwrap_or(now);
    if let Some(delay) = opts.delay {
        run_at = run_at.max(now + delay);
    }
    let unique = opts.unique.map(|u| u.stored(name, now)).transpose()?;
    Ok(NewJob {
        id: JobId::new(),
        name: name.to_owned(),
        queue: queue.into_owned(),
        payload,
        priority: opts.priority.unwrap_or(0),
        run_at,
        created_at: now,
        max_attempts,
        timeout: opts.timeout,
        unique,
    })
}
