//! [`MemoryBackend`]: jobs in this process, for tests and single-process apps that accept losing
//! pending jobs on restart.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::backend::{JobBackend, WakeSignal};
use crate::error::Result;
use crate::job::JobId;
use crate::record::{
    AttemptError, ClaimRequest, Enqueued, JobFilter, JobRecord, JobState, Lease, NewJob, Outcome,
    OutcomeKind, QueueStats, Rescued,
};
use async_trait::async_trait;

/// The error recorded for an attempt whose worker stopped renewing its lease.
pub(crate) const LEASE_EXPIRED: &str = "lease expired: the worker stopped or lost its connection";

#[derive(Debug, Default)]
struct State {
    jobs: HashMap<JobId, JobRecord>,
    clears: HashMap<JobId, bool>,
    unique: HashMap<String, JobId>,
}

impl State {
    fn finish(&mut self, id: JobId) {
        if self.clears.get(&id).copied().unwrap_or(false)
            && let Some(job) = self.jobs.get_mut(&id)
            && let Some(key) = job.unique_key.take()
        {
            self.unique.remove(&key);
        }
    }

    fn remove(&mut self, id: JobId) {
        if let Some(job) = self.jobs.remove(&id)
            && let Some(key) = job.unique_key
            && self.unique.get(&key) == Some(&id)
        {
            self.unique.remove(&key);
        }
        self.clears.remove(&id);
    }
}

/// Jobs in a `Mutex`ed map; claims scan it, so it suits tests and modest volumes.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use mortar_jobs::{EnqueueOptions, Job, JobContext, JobError, Jobs, MemoryBackend};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] struct Ping;
/// # impl Job for Ping { const NAME: &'static str = "ping"; type State = ();
/// #     async fn run(self, _: JobContext<()>) -> Result<(), JobError> { Ok(()) } }
/// let jobs = Jobs::new(MemoryBackend::new());
/// let id = jobs.enqueue(&Ping, EnqueueOptions::new()).await.unwrap().id;
/// assert!(jobs.get(id).await.unwrap().is_some());
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryBackend {
    state: Mutex<State>,
    wake: WakeSignal,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every mutation below completes before the guard drops; a panic cannot leave it torn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn sort_key(j: &JobRecord) -> (i16, SystemTime, JobId) {
    (j.priority, j.run_at, j.id)
}

#[async_trait]
impl JobBackend for MemoryBackend {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let mut st = self.lock();
        let id = job.id;
        let clears = job.unique.as_ref().is_some_and(|u| u.clears_on_finish);
        if let Some(u) = &job.unique {
            if let Some(existing) = st.unique.get(&u.key) {
                return Ok(Enqueued::duplicate(*existing));
            }
            st.unique.insert(u.key.clone(), id);
        }
        st.clears.insert(id, clears);
        st.jobs.insert(id, JobRecord::from_new(job));
        drop(st);
        self.wake.wake();
        Ok(Enqueued::inserted(id))
    }

    async fn claim(&self, req: &ClaimRequest) -> Result<Vec<JobRecord>> {
        let mut st = self.lock();
        let mut due: Vec<&JobRecord> = st
            .jobs
            .values()
            .filter(|j| {
                j.state == JobState::Pending
                    && j.queue == req.queue
                    && j.run_at <= req.now
                    && req.names.contains(&j.name)
            })
            .collect();
        due.sort_by_key(|j| sort_key(j));
        let ids: Vec<JobId> = due.iter().take(req.limit).map(|j| j.id).collect();
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(job) = st.jobs.get_mut(&id) {
                job.state = JobState::Running;
                job.attempt += 1;
                job.attempted_at = Some(req.now);
                job.lease_until = Some(req.lease_until);
                claimed.push(job.clone());
            }
        }
        Ok(claimed)
    }

    async fn heartbeat(&self, leases: &[Lease], lease_until: SystemTime) -> Result<()> {
        let mut st = self.lock();
        for lease in leases {
            if let Some(job) = st.jobs.get_mut(&lease.id)
                && job.state == JobState::Running
                && job.attempt == lease.attempt
            {
                job.lease_until = Some(lease_until);
            }
        }
        Ok(())
    }

    async fn complete(&self, outcomes: &[Outcome]) -> Result<()> {
        let mut st = self.lock();
        let mut woke = false;
        for o in outcomes {
            let Some(job) = st.jobs.get_mut(&o.lease.id) else {
                continue;
            };
            if job.state != JobState::Running || job.attempt != o.lease.attempt {
                continue;
            }
            job.lease_until = None;
            if let Some(error) = o.error() {
                job.errors.push(AttemptError {
                    attempt: o.lease.attempt,
                    at: o.at,
                    error: error.to_owned(),
                });
            }
            match &o.result {
                OutcomeKind::Completed => {
                    job.state = JobState::Completed;
                    job.finished_at = Some(o.at);
                    st.finish(o.lease.id);
                }
                OutcomeKind::Retry { run_at, .. } => {
                    job.state = JobState::Pending;
                    job.run_at = *run_at;
                    woke = true;
                }
                OutcomeKind::Discard { .. } => {
                    job.state = JobState::Discarded;
                    job.finished_at = Some(o.at);
                    st.finish(o.lease.id);
                }
            }
        }
        drop(st);
        if woke {
            self.wake.wake();
        }
        Ok(())
    }

    async fn rescue(&self, now: SystemTime) -> Result<Rescued> {
        let mut st = self.lock();
        let mut out = Rescued::default();
        let expired: Vec<JobId> = st
            .jobs
            .values()
            .filter(|j| j.state == JobState::Running && j.lease_until.is_some_and(|l| l < now))
            .map(|j| j.id)
            .collect();
        for id in expired {
            let Some(job) = st.jobs.get_mut(&id) else {
                continue;
            };
            job.errors.push(AttemptError {
                attempt: job.attempt,
                at: now,
                error: LEASE_EXPIRED.to_owned(),
            });
            job.lease_until = None;
            if job.attempt >= job.max_attempts {
                job.state = JobState::Discarded;
                job.finished_at = Some(now);
                st.finish(id);
                out.discarded.push(id);
            } else {
                job.state = JobState::Pending;
                job.run_at = now;
                out.retried.push(id);
            }
        }
        drop(st);
        if !out.retried.is_empty() {
            self.wake.wake();
        }
        Ok(out)
    }

    async fn get(&self, id: JobId) -> Result<Option<JobRecord>> {
        Ok(self.lock().jobs.get(&id).cloned())
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        let st = self.lock();
        let mut jobs: Vec<JobRecord> = st
            .jobs
            .values()
            .filter(|j| filter.matches(j))
            .cloned()
            .collect();
        jobs.sort_by_key(|j| j.id);
        jobs.truncate(filter.effective_limit());
        Ok(jobs)
    }

    async fn retry(&self, id: JobId, now: SystemTime) -> Result<bool> {
        let mut st = self.lock();
        let Some(job) = st.jobs.get_mut(&id) else {
            return Ok(false);
        };
        if !job.state.is_finished() {
            return Ok(false);
        }
        job.state = JobState::Pending;
        job.run_at = now;
        job.finished_at = None;
        job.max_attempts = job.max_attempts.max(job.attempt + 1);
        drop(st);
        self.wake.wake();
        Ok(true)
    }

    async fn cancel(&self, id: JobId, now: SystemTime) -> Result<bool> {
        let mut st = self.lock();
        let Some(job) = st.jobs.get_mut(&id) else {
            return Ok(false);
        };
        if job.state.is_finished() {
            return Ok(false);
        }
        job.state = JobState::Cancelled;
        job.finished_at = Some(now);
        job.lease_until = None;
        st.finish(id);
        Ok(true)
    }

    async fn purge(&self, filter: &JobFilter) -> Result<u64> {
        let mut st = self.lock();
        let ids: Vec<JobId> = st
            .jobs
            .values()
            .filter(|j| j.state != JobState::Running && filter.matches(j))
            .map(|j| j.id)
            .collect();
        for id in &ids {
            st.remove(*id);
        }
        Ok(ids.len() as u64)
    }

    async fn prune(&self, before: SystemTime) -> Result<u64> {
        let mut st = self.lock();
        let ids: Vec<JobId> = st
            .jobs
            .values()
            .filter(|j| j.state.is_finished() && j.finished_at.is_some_and(|f| f < before))
            .map(|j| j.id)
            .collect();
        for id in &ids {
            st.remove(*id);
        }
        Ok(ids.len() as u64)
    }

    async fn stats(&self, now: SystemTime) -> Result<Vec<QueueStats>> {
        let st = self.lock();
        let mut by_queue: HashMap<&str, QueueStats> = HashMap::new();
        for j in st.jobs.values() {
            by_queue
                .entry(&j.queue)
                .or_insert_with(|| QueueStats::new(j.queue.clone()))
                .count(j.state, j.run_at, now);
        }
        let mut out: Vec<QueueStats> = by_queue.into_values().collect();
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(out)
    }

    fn wake_epoch(&self) -> u64 {
        self.wake.epoch()
    }

    async fn wait_for_jobs(&self, _queue: &str, since: u64, timeout: Duration) {
        self.wake.wait(since, timeout).await;
    }
}
