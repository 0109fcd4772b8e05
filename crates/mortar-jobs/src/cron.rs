//! Cron schedules (feature `cron`): a [`Schedule`] enqueues a job at each tick of a standard
//! cron expression in an IANA time zone; a [`Scheduler`] checks its schedules and enqueues each
//! tick **once however many application instances run one**, by making the tick a
//! [`Unique::UntilPruned`] key (`cron:<schedule>:<tick unix seconds>`).
//!
//! Only the latest tick is enqueued, and only within the catch-up window (default 1 hour):
//! after downtime a schedule fires once, not once per missed tick. Keep the
//! [retention](crate::Jobs::prune) longer than the catch-up window, or a pruned tick could be
//! enqueued again.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use mortar_jobs::cron::{Schedule, Scheduler};
//! use mortar_jobs::{Job, JobContext, JobError, Jobs, MemoryBackend};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct NightlyReport;
//! impl Job for NightlyReport {
//!     const NAME: &'static str = "nightly_report";
//!     type State = ();
//!     async fn run(self, _: JobContext<()>) -> Result<(), JobError> { Ok(()) }
//! }
//!
//! let jobs = Jobs::new(MemoryBackend::new());
//! let nightly = Schedule::new("nightly-report", "30 2 * * *", &NightlyReport)
//!     .unwrap()
//!     .time_zone("Europe/Paris")
//!     .unwrap();
//! let scheduler = Scheduler::new(&jobs).schedule(nightly);
//! scheduler.tick().await.unwrap(); // or `scheduler.start()`
//! # }
//! ```

use std::fmt;
use std::str::FromStr as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use mortar_core::Clock as _;
use tokio::task::JoinHandle;

use crate::client::Jobs;
use crate::error::{Error, Result};
use crate::job::{EnqueueOptions, Job, Unique, new_job_raw};
use crate::record::unix_secs;

/// A job enqueued at each tick of a cron expression.
#[derive(Clone)]
pub struct Schedule {
    name: String,
    expr: String,
    cron: croner::Cron,
    tz: chrono_tz::Tz,
    job: &'static str,
    payload: serde_json::Value,
    opts: EnqueueOptions,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("name", &self.name)
            .field("expr", &self.expr)
            .field("tz", &self.tz)
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

impl Schedule {
    /// A schedule named `name` (unique among the application's schedules) enqueueing `job` at
    /// each tick of `expr` (standard 5-field cron: minute hour day-of-month month day-of-week),
    /// in UTC.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an unparsable expression or a job that does not serialize.
    pub fn new<J: Job>(name: impl Into<String>, expr: &str, job: &J) -> Result<Self> {
        let cron = croner::Cron::from_str(expr)
            .map_err(|e| Error::invalid("cron", format!("{expr:?}: {e}")))?;
        Ok(Self {
            name: name.into(),
            expr: expr.to_owned(),
            cron,
            tz: chrono_tz::UTC,
            job: J::NAME,
            payload: serde_json::to_value(job).map_err(|e| Error::Payload(e.to_string()))?,
            opts: J::options(),
        })
    }

    /// Reads the expression in this IANA time zone (`Europe/Paris`), daylight saving included.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an unknown zone.
    pub fn time_zone(mut self, tz: &str) -> Result<Self> {
        self.tz = tz
            .parse()
            .map_err(|_| Error::invalid("time_zone", format!("unknown time zone {tz:?}")))?;
        Ok(self)
    }

    /// Options for the enqueued jobs (queue, priority…); the unique key and run time are the
    /// schedule's.
    #[must_use]
    pub fn options(mut self, opts: EnqueueOptions) -> Self {
        self.opts = opts;
        self
    }

    /// The latest tick at or before `now`.
    pub fn latest_tick(&self, now: SystemTime) -> Option<SystemTime> {
        let utc: DateTime<Utc> = now.into();
        let local = utc.with_timezone(&self.tz);
        let tick = self.cron.find_previous_occurrence(&local, true).ok()?;
        let secs = u64::try_from(tick.timestamp()).ok()?;
        Some(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// The first tick after `now`.
    pub fn next_tick(&self, now: SystemTime) -> Option<SystemTime> {
        let utc: DateTime<Utc> = now.into();
        let tick = self
            .cron
            .find_next_occurrence(&utc.with_timezone(&self.tz), false)
            .ok()?;
        Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(tick.timestamp()).ok()?))
    }
}

/// Enqueues the ticks of its schedules. Run one in every instance: ticks are unique.
#[derive(Debug)]
#[must_use]
pub struct Scheduler {
    jobs: Jobs,
    schedules: Vec<Schedule>,
    catch_up: Duration,
    interval: Duration,
}

impl Scheduler {
    /// A scheduler enqueueing through `jobs` (and reading its clock).
    pub fn new(jobs: &Jobs) -> Self {
        Self {
            jobs: jobs.clone(),
            schedules: Vec::new(),
            catch_up: Duration::from_hours(1),
            interval: Duration::from_secs(1),
        }
    }

    /// Adds a schedule.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedules.push(schedule);
        self
    }

    /// How old a tick may be and still be enqueued (default 1 hour).
    pub fn catch_up(mut self, window: Duration) -> Self {
        self.catch_up = window;
        self
    }

    /// How often [`start`](Self::start) checks (default 1 s).
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every;
        self
    }

    /// Enqueues every schedule's latest tick, unless it is older than the catch-up window or
    /// already enqueued (by this or another instance); answers how many it enqueued.
    ///
    /// # Errors
    ///
    /// When the backend fails (the other schedules are still tried).
    pub async fn tick(&self) -> Result<usize> {
        let now = self.jobs.clock().now();
        let mut enqueued = 0;
        let mut failure = None;
        for s in &self.schedules {
            let Some(tick) = s.latest_tick(now) else {
                continue;
            };
            if now.duration_since(tick).unwrap_or_default() > self.catch_up {
                continue;
            }
            let key = format!("cron:{}:{}", s.name, unix_secs(tick));
            let opts = s
                .opts
                .clone()
                .run_at(tick)
                .unique(Unique::until_pruned(key));
            let row = new_job_raw(s.job, s.payload.clone(), opts, now)?;
            match self.jobs.backend().enqueue(row).await {
                Ok(e) if e.inserted => enqueued += 1,
                Ok(_) => {}
                Err(e) => failure = Some(e),
            }
        }
        failure.map_or(Ok(enqueued), Err)
    }

    /// Ticks every [`interval`](Self::interval) on the current Tokio runtime until the handle is
    /// aborted.
    pub fn start(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.tick().await {
                    tracing::warn!(target: "mortar::jobs", error = %e, "enqueueing cron ticks failed");
                }
                tokio::time::sleep(self.interval).await;
            }
        })
    }
}
