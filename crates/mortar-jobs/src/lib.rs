//! Typed background jobs for Rust web services, on PostgreSQL, MariaDB, SQLite, Redis or memory.
//!
//! A [`Job`] is a serde type with a [name](Job::NAME) and an async handler. [`Jobs`] enqueues
//! them (with a queue, priority, delay, attempts, timeout and [unique key](Unique)); a
//! [`Worker`] claims them under a lease, renews it while they run, retries failures with
//! [exponential back-off and jitter](ExponentialBackoff), discards them after their last attempt
//! keeping every attempt's error, and rescues jobs whose worker died: delivery is
//! **at-least-once**, so handlers should be idempotent.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use mortar_jobs::{EnqueueOptions, Job, JobContext, JobError, JobState, Jobs, MemoryBackend, Worker};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct SendInvoice { invoice_id: u64 }
//!
//! impl Job for SendInvoice {
//!     const NAME: &'static str = "send_invoice";
//!     type State = ();
//!     async fn run(self, _ctx: JobContext<()>) -> Result<(), JobError> {
//!         // fetch the invoice, render it, e-mail it…
//!         Ok(())
//!     }
//! }
//!
//! let jobs = Jobs::new(MemoryBackend::new());
//! let id = jobs.enqueue(&SendInvoice { invoice_id: 7 }, EnqueueOptions::new()).await.unwrap().id;
//!
//! let worker = Worker::builder(&jobs, ()).register::<SendInvoice>().build();
//! worker.run_available().await.unwrap(); // or `worker.start()` in a server
//! assert_eq!(jobs.get(id).await.unwrap().unwrap().state, JobState::Completed);
//! # }
//! ```
//!
//! # Backends
//!
//! | feature | backend | notes |
//! | --- | --- | --- |
//! | (always) | [`MemoryBackend`] | one process; lost on restart |
//! | `postgres` | `sql::SqlBackend` | `FOR UPDATE SKIP LOCKED` batch claims, LISTEN/NOTIFY wake-ups, partial indexes, transactional enqueue |
//! | `sqlite` | `sql::SqlBackend` | embedded; one writer at a time |
//! | `mysql` | `sql::SqlBackend` | MariaDB 10.6+ / MySQL 8 (`SKIP LOCKED`) |
//!
//! | `redis` | `redis::RedisBackend` | atomic Lua-script claims, pub/sub wake-ups |
//!
//! Feature `cron` adds `cron::Scheduler`: cron expressions in a time zone, each tick enqueued
//! once however many instances run.
//!
//! # Metrics and tracing
//!
//! Each attempt runs in a `mortar.jobs.attempt` span (`job.id`, `job.name`, `job.queue`,
//! `job.attempt`). Counters through the `metrics` facade: `mortar_jobs_enqueued_total`,
//! `mortar_jobs_completed_total`, `mortar_jobs_failed_total`, `mortar_jobs_discarded_total`,
//! `mortar_jobs_rescued_total`; histograms `mortar_jobs_latency_seconds` (due → started) and
//! `mortar_jobs_attempt_seconds`. [`Jobs::stats`] snapshots queue depth and latency,
//! [`Worker::stats`] a worker's throughput. Payloads never appear in logs or `Debug` output.

mod backend;
mod client;
mod error;
mod job;
mod memory;
mod record;
mod retry;
mod worker;

#[cfg(feature = "cron")]
pub mod cron;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sql")]
pub mod sql;

pub use backend::{JobBackend, SharedBackend, WakeSignal};
pub use client::Jobs;
pub use error::{Error, Result};
pub use job::{
    DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE, EnqueueOptions, Job, JobContext, JobError, JobId, Unique,
    new_job,
};
pub use memory::MemoryBackend;
pub use record::{
    AttemptError, ClaimRequest, Enqueued, JobFilter, JobRecord, JobState, Lease, MAX_LIST, NewJob,
    Outcome, OutcomeKind, QueueStats, Rescued, StoredUnique, from_micros, micros,
};
pub use retry::{ExponentialBackoff, RetryPolicy};
pub use worker::{RunningWorker, Shutdown, Worker, WorkerBuilder, WorkerStats};
