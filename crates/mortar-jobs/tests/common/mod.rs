//! The conformance suite every backend passes, and the jobs it runs.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::missing_panics_doc,
    clippy::many_single_char_names,
    clippy::duration_suboptimal_units,
    clippy::await_holding_lock,
    clippy::too_many_lines
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mortar_core::audit::FnRecorder;
use mortar_core::{AuditEvent, ManualClock};
use mortar_jobs::{
    ClaimRequest, EnqueueOptions, Job, JobContext, JobError, JobFilter, JobId, JobState, Jobs,
    Outcome, OutcomeKind, SharedBackend, Unique, Worker,
};
use serde::{Deserialize, Serialize};

/// What the test jobs touch: how many times each key ran.
#[derive(Clone, Default)]
pub struct Counts(pub Arc<Mutex<HashMap<String, u32>>>);

impl Counts {
    pub fn get(&self, key: &str) -> u32 {
        self.0.lock().unwrap().get(key).copied().unwrap_or(0)
    }
    pub fn bump(&self, key: &str) {
        *self.0.lock().unwrap().entry(key.to_owned()).or_insert(0) += 1;
    }
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[derive(Serialize, Deserialize)]
pub struct Count {
    pub key: String,
}

impl Job for Count {
    const NAME: &'static str = "count";
    type State = Counts;
    async fn run(self, ctx: JobContext<Counts>) -> Result<(), JobError> {
        ctx.state().bump(&self.key);
        Ok(())
    }
}

/// Fails until its attempt reaches `succeed_at` (0: always), permanently when `permanent`.
#[derive(Serialize, Deserialize)]
pub struct Flaky {
    pub key: String,
    pub succeed_at: u32,
    pub permanent: bool,
}

impl Job for Flaky {
    const NAME: &'static str = "flaky";
    type State = Counts;
    async fn run(self, ctx: JobContext<Counts>) -> Result<(), JobError> {
        ctx.state().bump(&self.key);
        if self.permanent {
            return Err(JobError::discard("bad input"));
        }
        if self.succeed_at == 0 || ctx.attempt() < self.succeed_at {
            return Err(JobError::retry(format!("boom {}", ctx.attempt())));
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
pub struct Sleepy {
    pub ms: u64,
}

impl Job for Sleepy {
    const NAME: &'static str = "sleepy";
    type State = Counts;
    async fn run(self, ctx: JobContext<Counts>) -> Result<(), JobError> {
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        ctx.state().bump("sleepy");
        Ok(())
    }
}

pub struct Env {
    pub jobs: Jobs,
    pub clock: ManualClock,
    pub counts: Counts,
    pub audit: Arc<Mutex<Vec<AuditEvent>>>,
}

impl Env {
    pub fn new(backend: SharedBackend) -> Self {
        let clock = ManualClock::default();
        Self {
            jobs: Jobs::from_shared(backend).with_clock(clock.clone()),
            clock,
            counts: Counts::default(),
            audit: Arc::default(),
        }
    }

    pub fn worker(&self) -> Worker<Counts> {
        let audit = self.audit.clone();
        Worker::builder(&self.jobs, self.counts.clone())
            .register::<Count>()
            .register::<Flaky>()
            .register::<Sleepy>()
            .queue("default", 8)
            .queue("other", 2)
            .retry_policy(
                mortar_jobs::ExponentialBackoff::new(
                    Duration::from_secs(10),
                    Duration::from_secs(10),
                )
                .jitter(0.0),
            )
            .audit(FnRecorder::new(move |e| audit.lock().unwrap().push(e)))
            .build()
    }

    pub async fn state(&self, id: JobId) -> JobState {
        self.jobs.get(id).await.unwrap().unwrap().state
    }

    pub async fn count(&self, key: &str, opts: EnqueueOptions) -> JobId {
        self.jobs
            .enqueue(&Count { key: key.into() }, opts)
            .await
            .unwrap()
            .id
    }
}

/// Runs every check against a fresh backend made by `make`.
pub async fn suite<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = SharedBackend>,
{
    runs_and_completes(make().await).await;
    never_early(make().await).await;
    priority_then_time(make().await).await;
    retries_then_discards(make().await).await;
    permanent_failure(make().await).await;
    exclusive_claims(make().await).await;
    leases_expire_and_fence(make().await).await;
    heartbeat_extends(make().await).await;
    unique_keys(make().await).await;
    admin(make().await).await;
    queues_and_names(make().await).await;
    timeouts(make().await).await;
    started_worker_drains(make().await).await;
    enqueue_many(make().await).await;
}

pub async fn runs_and_completes(b: SharedBackend) {
    let env = Env::new(b);
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(env.count(&format!("k{i}"), EnqueueOptions::new()).await);
    }
    let ran = env.worker().run_available().await.unwrap();
    assert_eq!(ran, 20);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(env.counts.get(&format!("k{i}")), 1);
        let job = env.jobs.get(*id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Completed);
        assert_eq!(job.attempt, 1);
        assert!(job.finished_at.is_some());
        assert!(job.errors.is_empty());
        assert_eq!(job.name, "count");
        assert_eq!(job.payload, serde_json::json!({"key": format!("k{i}")}));
    }
    assert_eq!(env.worker().run_available().await.unwrap(), 0);
}

pub async fn never_early(b: SharedBackend) {
    let env = Env::new(b);
    let id = env
        .count(
            "later",
            EnqueueOptions::new().delay(Duration::from_secs(60)),
        )
        .await;
    let at = env.clock_now() + Duration::from_secs(120);
    let id2 = env.count("at", EnqueueOptions::new().run_at(at)).await;
    let w = env.worker();
    assert_eq!(w.run_available().await.unwrap(), 0);
    env.clock.advance(Duration::from_secs(59));
    assert_eq!(w.run_available().await.unwrap(), 0);
    env.clock.advance(Duration::from_secs(1));
    assert_eq!(w.run_available().await.unwrap(), 1);
    assert_eq!(env.state(id).await, JobState::Completed);
    assert_eq!(env.state(id2).await, JobState::Pending);
    env.clock.advance(Duration::from_secs(60));
    assert_eq!(w.run_available().await.unwrap(), 1);
    assert_eq!(env.state(id2).await, JobState::Completed);
}

impl Env {
    pub fn clock_now(&self) -> std::time::SystemTime {
        use mortar_core::Clock as _;
        self.clock.now()
    }

    fn req(&self, queue: &str, limit: usize, lease: Duration) -> ClaimRequest {
        ClaimRequest::new(
            queue,
            vec!["count".into(), "flaky".into(), "sleepy".into()],
            limit,
            self.clock_now(),
            lease,
            "test",
        )
    }
}

pub async fn priority_then_time(b: SharedBackend) {
    let env = Env::new(b.clone());
    let low = env.count("low", EnqueueOptions::new().priority(5)).await;
    env.clock.advance(Duration::from_secs(1));
    let first = env.count("first", EnqueueOptions::new()).await;
    env.clock.advance(Duration::from_secs(1));
    let second = env.count("second", EnqueueOptions::new()).await;
    let high = env.count("high", EnqueueOptions::new().priority(-3)).await;
    let mut order = Vec::new();
    for _ in 0..4 {
        let got = b
            .claim(&env.req("default", 1, Duration::from_secs(30)))
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].state, JobState::Running);
        assert_eq!(got[0].attempt, 1);
        order.push(got[0].id);
    }
    assert_eq!(order, vec![high, first, second, low]);
    assert!(
        b.claim(&env.req("default", 10, Duration::from_secs(30)))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn retries_then_discards(b: SharedBackend) {
    let env = Env::new(b);
    let id = env
        .jobs
        .enqueue(
            &Flaky {
                key: "f".into(),
                succeed_at: 0,
                permanent: false,
            },
            EnqueueOptions::new().max_attempts(3),
        )
        .await
        .unwrap()
        .id;
    let ok = env
        .jobs
        .enqueue(
            &Flaky {
                key: "g".into(),
                succeed_at: 2,
                permanent: false,
            },
            EnqueueOptions::new().max_attempts(3),
        )
        .await
        .unwrap()
        .id;
    let w = env.worker();
    assert_eq!(w.run_available().await.unwrap(), 2);
    let job = env.jobs.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.attempt, 1);
    assert_eq!(job.run_at, env.clock_now() + Duration::from_secs(10));
    assert_eq!(job.errors.len(), 1);
    assert_eq!(job.errors[0].error, "boom 1");
    // Back-off: not before its time.
    env.clock.advance(Duration::from_secs(9));
    assert_eq!(w.run_available().await.unwrap(), 0);
    env.clock.advance(Duration::from_secs(1));
    assert_eq!(w.run_available().await.unwrap(), 2);
    assert_eq!(env.state(ok).await, JobState::Completed);
    assert_eq!(env.counts.get("g"), 2);
    env.clock.advance(Duration::from_secs(10));
    assert_eq!(w.run_available().await.unwrap(), 1);
    let job = env.jobs.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Discarded);
    assert_eq!(job.attempt, 3);
    let errors: Vec<_> = job
        .errors
        .iter()
        .map(|e| (e.attempt, e.error.as_str()))
        .collect();
    assert_eq!(errors, vec![(1, "boom 1"), (2, "boom 2"), (3, "boom 3")]);
    assert_eq!(job.last_error().unwrap().error, "boom 3");
    env.clock.advance(Duration::from_secs(1000));
    assert_eq!(w.run_available().await.unwrap(), 0);
    assert_eq!(env.counts.get("f"), 3);
    let audit = env.audit.lock().unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "jobs.job.discarded");
    drop(audit);
    // Manual retry of the dead letter: one more attempt.
    assert!(env.jobs.retry(id).await.unwrap());
    assert_eq!(env.state(id).await, JobState::Pending);
    assert_eq!(w.run_available().await.unwrap(), 1);
    let job = env.jobs.get(id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempt, job.errors.len()),
        (JobState::Discarded, 4, 4)
    );
}

pub async fn permanent_failure(b: SharedBackend) {
    let env = Env::new(b);
    let id = env
        .jobs
        .enqueue(
            &Flaky {
                key: "p".into(),
                succeed_at: 0,
                permanent: true,
            },
            EnqueueOptions::new(),
        )
        .await
        .unwrap()
        .id;
    assert_eq!(env.worker().run_available().await.unwrap(), 1);
    let job = env.jobs.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Discarded);
    assert_eq!(job.attempt, 1);
    assert_eq!(job.errors[0].error, "bad input");
}

pub async fn exclusive_claims(b: SharedBackend) {
    let env = Env::new(b.clone());
    for i in 0..60 {
        env.count(&format!("x{i}"), EnqueueOptions::new()).await;
    }
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let b = b.clone();
        let req = env.req("default", 7, Duration::from_secs(30));
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = b.claim(&req).await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(n, 60, "every job claimed once");
    assert_eq!(all.len(), 60, "no job claimed twice");
}

pub async fn leases_expire_and_fence(b: SharedBackend) {
    let env = Env::new(b.clone());
    let id = env
        .count("lease", EnqueueOptions::new().max_attempts(2))
        .await;
    let claimed = b
        .claim(&env.req("default", 5, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let old = claimed[0].lease();
    assert_eq!(
        claimed[0].lease_until,
        Some(env.clock_now() + Duration::from_secs(10))
    );
    // Not expired yet.
    env.clock.advance(Duration::from_secs(10));
    let r = b.rescue(env.clock_now()).await.unwrap();
    assert!(r.retried.is_empty() && r.discarded.is_empty());
    env.clock.advance(Duration::from_secs(1));
    let r = b.rescue(env.clock_now()).await.unwrap();
    assert_eq!(r.retried, vec![id]);
    let job = env.jobs.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.errors.len(), 1);
    assert!(job.errors[0].error.contains("lease expired"));
    // Claimed again: attempt 2. The old worker's late outcome is fenced out.
    let again = b
        .claim(&env.req("default", 5, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2);
    b.complete(&[Outcome::new(old, env.clock_now(), OutcomeKind::Completed)])
        .await
        .unwrap();
    assert_eq!(env.state(id).await, JobState::Running);
    b.heartbeat(&[old], env.clock_now() + Duration::from_secs(1000))
        .await
        .unwrap();
    assert_eq!(
        env.jobs.get(id).await.unwrap().unwrap().lease_until,
        Some(env.clock_now() + Duration::from_secs(10))
    );
    // Its last attempt lost too: discarded, reported by a worker's rescue.
    env.clock.advance(Duration::from_secs(11));
    env.worker().run_available().await.unwrap();
    let job = env.jobs.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Discarded);
    assert_eq!(job.errors.len(), 2);
    assert_eq!(env.audit.lock().unwrap().len(), 1);
    // Completing the current attempt twice is harmless.
    let id2 = env.count("twice", EnqueueOptions::new()).await;
    let c = b
        .claim(&env.req("default", 5, Duration::from_secs(10)))
        .await
        .unwrap();
    let o = Outcome::new(c[0].lease(), env.clock_now(), OutcomeKind::Completed);
    b.complete(std::slice::from_ref(&o)).await.unwrap();
    b.complete(&[o]).await.unwrap();
    assert_eq!(env.state(id2).await, JobState::Completed);
}

pub async fn heartbeat_extends(b: SharedBackend) {
    let env = Env::new(b.clone());
    let id = env.count("hb", EnqueueOptions::new()).await;
    let c = b
        .claim(&env.req("default", 5, Duration::from_secs(10)))
        .await
        .unwrap();
    env.clock.advance(Duration::from_secs(8));
    b.heartbeat(&[c[0].lease()], env.clock_now() + Duration::from_secs(10))
        .await
        .unwrap();
    env.clock.advance(Duration::from_secs(8));
    let r = b.rescue(env.clock_now()).await.unwrap();
    assert!(r.retried.is_empty());
    assert_eq!(env.state(id).await, JobState::Running);
}

pub async fn unique_keys(b: SharedBackend) {
    let env = Env::new(b);
    let opts = || EnqueueOptions::new().unique(Unique::while_active("u1"));
    let a = env
        .jobs
        .enqueue(&Count { key: "u".into() }, opts())
        .await
        .unwrap();
    assert!(a.inserted);
    let dup = env
        .jobs
        .enqueue(&Count { key: "u".into() }, opts())
        .await
        .unwrap();
    assert!(!dup.inserted);
    assert_eq!(dup.id, a.id);
    assert_eq!(env.worker().run_available().await.unwrap(), 1);
    // Finished: the key is free again.
    let b2 = env
        .jobs
        .enqueue(&Count { key: "u".into() }, opts())
        .await
        .unwrap();
    assert!(b2.inserted);
    assert_ne!(b2.id, a.id);

    // A window: one per hour bucket, whatever the state.
    let win = || EnqueueOptions::new().unique(Unique::window("w", Duration::from_secs(3600)));
    let w1 = env
        .jobs
        .enqueue(&Count { key: "w".into() }, win())
        .await
        .unwrap();
    env.worker().run_available().await.unwrap();
    let w2 = env
        .jobs
        .enqueue(&Count { key: "w".into() }, win())
        .await
        .unwrap();
    assert!(w1.inserted && !w2.inserted);
    env.clock.advance(Duration::from_secs(3600));
    let w3 = env
        .jobs
        .enqueue(&Count { key: "w".into() }, win())
        .await
        .unwrap();
    assert!(w3.inserted);

    // Until pruned.
    let up = || EnqueueOptions::new().unique(Unique::until_pruned("tick-1"));
    let p1 = env
        .jobs
        .enqueue(&Count { key: "p".into() }, up())
        .await
        .unwrap();
    env.worker().run_available().await.unwrap();
    env.clock.advance(Duration::from_secs(7200));
    assert!(
        !env.jobs
            .enqueue(&Count { key: "p".into() }, up())
            .await
            .unwrap()
            .inserted
    );
    assert!(env.jobs.prune(Duration::from_secs(60)).await.unwrap() >= 1);
    assert!(env.jobs.get(p1.id).await.unwrap().is_none());
    assert!(
        env.jobs
            .enqueue(&Count { key: "p".into() }, up())
            .await
            .unwrap()
            .inserted
    );
    // Keys of different job types never collide.
    let other = env
        .jobs
        .enqueue(
            &Sleepy { ms: 0 },
            EnqueueOptions::new().unique(Unique::until_pruned("tick-1")),
        )
        .await
        .unwrap();
    assert!(other.inserted);
}

pub async fn admin(b: SharedBackend) {
    let env = Env::new(b);
    let a = env.count("a", EnqueueOptions::new()).await;
    let later = env
        .count("b", EnqueueOptions::new().delay(Duration::from_secs(600)))
        .await;
    let o = env.count("o", EnqueueOptions::new().queue("other")).await;
    env.clock.advance(Duration::from_secs(5));

    let stats = env.jobs.stats().await.unwrap();
    let default = stats.iter().find(|s| s.queue == "default").unwrap();
    assert_eq!((default.available, default.scheduled), (1, 1));
    assert_eq!(default.oldest_available, Some(Duration::from_secs(5)));
    let other = stats.iter().find(|s| s.queue == "other").unwrap();
    assert_eq!(other.available, 1);

    let pending = env
        .jobs
        .list(&JobFilter::new().state(JobState::Pending).queue("default"))
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![a, later]
    );
    assert_eq!(
        env.jobs
            .list(&JobFilter::new().limit(2))
            .await
            .unwrap()
            .len(),
        2
    );

    // Cancel a pending job: it never runs; a finished job cannot be cancelled.
    assert!(env.jobs.cancel(later).await.unwrap());
    assert!(!env.jobs.cancel(later).await.unwrap());
    env.clock.advance(Duration::from_secs(600));
    assert_eq!(env.worker().run_available().await.unwrap(), 2);
    assert_eq!(env.counts.get("b"), 0);
    assert_eq!(env.state(later).await, JobState::Cancelled);
    assert_eq!(env.state(o).await, JobState::Completed);
    // Pending jobs cannot be retried; finished ones can.
    assert!(env.jobs.retry(a).await.unwrap());
    assert!(!env.jobs.retry(a).await.unwrap());
    assert_eq!(env.worker().run_available().await.unwrap(), 1);
    assert_eq!(env.counts.get("a"), 2);

    // Cancelling a running job fences its outcome out.
    let r = env.count("r", EnqueueOptions::new()).await;
    let backend = env.jobs.backend().clone();
    let c = backend
        .claim(&env.req("default", 1, Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(c[0].id, r);
    assert!(env.jobs.cancel(r).await.unwrap());
    backend
        .complete(&[Outcome::new(
            c[0].lease(),
            env.clock_now(),
            OutcomeKind::Completed,
        )])
        .await
        .unwrap();
    assert_eq!(env.state(r).await, JobState::Cancelled);

    // Purge by state and queue.
    let purged = env
        .jobs
        .purge(&JobFilter::new().state(JobState::Completed).queue("other"))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert!(env.jobs.get(o).await.unwrap().is_none());
    // Retention: finished before the cut-off only.
    env.clock.advance(Duration::from_secs(100));
    let fresh = env.count("fresh", EnqueueOptions::new()).await;
    env.worker().run_available().await.unwrap();
    let pruned = env.jobs.prune(Duration::from_secs(50)).await.unwrap();
    assert_eq!(pruned, 3, "a, later (cancelled) and r");
    assert_eq!(env.state(fresh).await, JobState::Completed);
    assert_eq!(env.jobs.list(&JobFilter::new()).await.unwrap().len(), 1);
}

pub async fn queues_and_names(b: SharedBackend) {
    let env = Env::new(b.clone());
    env.count("q", EnqueueOptions::new().queue("nobody-polls"))
        .await;
    assert_eq!(env.worker().run_available().await.unwrap(), 0);
    // A worker only claims the types it knows.
    let id = env.count("n", EnqueueOptions::new()).await;
    let req = ClaimRequest::new(
        "default",
        vec!["flaky".into()],
        10,
        env.clock_now(),
        Duration::from_secs(30),
        "t",
    );
    assert!(b.claim(&req).await.unwrap().is_empty());
    assert_eq!(env.state(id).await, JobState::Pending);
}

pub async fn timeouts(b: SharedBackend) {
    let env = Env::new(b);
    let id = env
        .jobs
        .enqueue(
            &Sleepy { ms: 60_000 },
            EnqueueOptions::new()
                .timeout(Duration::from_millis(20))
                .max_attempts(1),
        )
        .await
        .unwrap()
        .id;
    env.worker().run_available().await.unwrap();
    let job = env.jobs.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Discarded);
    assert!(
        job.errors[0].error.contains("timed out"),
        "{:?}",
        job.errors
    );
}

pub async fn started_worker_drains(b: SharedBackend) {
    let env = Env::new(b);
    // The system clock here: jobs are due at once and the worker really runs.
    let jobs = Jobs::from_shared(env.jobs.backend().clone());
    for i in 0..50 {
        jobs.enqueue(
            &Count {
                key: format!("s{i}"),
            },
            EnqueueOptions::new(),
        )
        .await
        .unwrap();
    }
    let worker = Worker::builder(&jobs, env.counts.clone())
        .register::<Count>()
        .register::<Sleepy>()
        .limit::<Sleepy>(1)
        .queue("default", 4)
        .poll_interval(Duration::from_millis(20))
        .build();
    let running = worker.start();
    for _ in 0..3 {
        jobs.enqueue(&Sleepy { ms: 5 }, EnqueueOptions::new())
            .await
            .unwrap();
    }
    wait_until(|| env.counts.len() == 51 && env.counts.get("sleepy") == 3).await;
    let report = running.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.aborted, 0);
    assert_eq!(worker.stats().completed, 53);
    let done = jobs
        .list(&JobFilter::new().state(JobState::Completed))
        .await
        .unwrap();
    assert_eq!(done.len(), 53);
}

/// Polls `progress` until it reaches `target`, failing only when it stops moving for a minute:
/// a large drain on a loaded machine may take several minutes, a stuck one is still caught.
pub async fn wait_for_progress(progress: impl Fn() -> usize, target: usize) {
    let mut last = progress();
    let mut still = 0;
    while last < target {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = progress();
        if now == last {
            still += 1;
            assert!(still < 6000, "stuck at {now} of {target} for a minute");
        } else {
            (last, still) = (now, 0);
        }
    }
}

/// Polls `f` (the condition a real worker reaches), failing after a generous minute.
pub async fn wait_until(f: impl Fn() -> bool) {
    for _ in 0..6000 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within a minute");
}

/// A batch: more jobs than one multi-row `INSERT` holds, all stored in order and run once; a
/// unique key in a batch stores the first and answers its id for the rest; an invalid option
/// stores nothing.
pub async fn enqueue_many(b: SharedBackend) {
    let env = Env::new(b);
    let batch: Vec<Count> = (0..1200)
        .map(|i| Count {
            key: format!("m{i}"),
        })
        .collect();
    let out = env
        .jobs
        .enqueue_many(&batch, EnqueueOptions::new())
        .await
        .unwrap();
    assert_eq!(out.len(), 1200);
    assert!(out.iter().all(|e| e.inserted));
    let job = env.jobs.get(out[7].id).await.unwrap().unwrap();
    assert_eq!(job.payload, serde_json::json!({"key": "m7"}));
    assert_eq!(job.state, JobState::Pending);
    assert!(
        env.jobs
            .enqueue_many::<Count>(&[], EnqueueOptions::new())
            .await
            .unwrap()
            .is_empty()
    );

    let same: Vec<Count> = (0..3).map(|_| Count { key: "u".into() }).collect();
    let uniq = env
        .jobs
        .enqueue_many(
            &same,
            EnqueueOptions::new().unique(Unique::while_active("batch")),
        )
        .await
        .unwrap();
    assert!(uniq[0].inserted);
    assert!(uniq[1..].iter().all(|e| !e.inserted && e.id == uniq[0].id));

    let bad = env
        .jobs
        .enqueue_many(&batch[..2], EnqueueOptions::new().max_attempts(0))
        .await;
    assert!(bad.is_err());

    let ran = env.worker().run_available().await.unwrap();
    assert_eq!(ran, 1201);
    assert_eq!(env.counts.get("m0"), 1);
    assert_eq!(env.counts.get("m1199"), 1);
    assert_eq!(env.counts.get("u"), 1);
}
