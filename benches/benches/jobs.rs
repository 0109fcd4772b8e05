//! mortar-jobs on PostgreSQL beside apalis-postgres 1.0 and beside the raw claim-and-complete
//! ceiling measured with `pgbench`, on the same server, with the same pool size, in one run.
//!
//! - **drain**: 100 000 no-op jobs are inserted (untimed, then `ANALYZE`d), then a worker with
//!   [`CONCURRENCY`] slots and a pool of [`POOL`] connections runs them all; the time runs from
//!   starting the worker until every job has run *and* its completion is stored (the worker's
//!   graceful shutdown, which flushes the batched completions, returns). apalis gets the same
//!   pool, the same concurrency and its batch size at the same number, and is stopped the same
//!   way (`run_until`, whose close flushes its batched acks). The `pgbench` ceiling runs, on
//!   mortar's own table and indexes, transactions of two statements — claim a batch of
//!   [`CONCURRENCY`] with `FOR UPDATE SKIP LOCKED`, then mark them completed — from [`POOL`]
//!   clients in prepared mode: the work a queue cannot avoid, without any queue around it.
//!   Each is run [`ROUNDS`] times, alternating; lines starting `DRAIN` give each round, `DRAIN
//!   median` the medians.
//! - **enqueue** (criterion): one job per call, and batches of 1000 (`Jobs::enqueue_many`,
//!   apalis's `push_tasks` in one transaction), throughput in jobs per second.
//! - **latency**: with the worker idle (LISTEN/NOTIFY on, an hour between polls, so only the
//!   notification can start the job), 300 jobs enqueued 20 ms apart; each sample is from just
//!   before `enqueue` is called to the handler's first line. Lines starting `LATENCY` give p50,
//!   p90, p99 and max. apalis with its pubsub listener is measured the same way.
//!
//! Needs PostgreSQL (`MORTAR_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`)
//! and `pgbench` on the PATH. `MORTAR_BENCH_JOBS` changes the number drained (default 100 000).
//! Uses its own schemas `mortar_bench_jobs` and `apalis` (dropped and recreated at the start).
//! Run: `cargo bench -p mortar-benches --bench jobs`

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::cast_sign_loss,
    clippy::too_many_lines,
    missing_docs,
    reason = "a benchmark: counts far below the limits"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::{Data, TaskBuilder, TaskSink as _, WorkerBuilder, WorkerBuilderExt as _};
use apalis_postgres::{Config, PostgresStorage};
use criterion::{Criterion, Throughput};
use mortar_jobs::sql::SqlBackend;
use mortar_jobs::{EnqueueOptions, Job, JobContext, JobError, Jobs, Worker};
use sea_orm::{ConnectOptions, ConnectionTrait as _, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait as _;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;
use tokio::runtime::Runtime;

/// Connections in each system's pool, and `pgbench` clients.
const POOL: u32 = 8;
/// Jobs running at once in each worker; also the claim / fetch batch.
const CONCURRENCY: usize = 100;
/// Drains per system.
const ROUNDS: usize = 3;

/// Drains per system: `MORTAR_BENCH_ROUNDS`, default [`ROUNDS`].
fn rounds() -> usize {
    std::env::var("MORTAR_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROUNDS)
}
/// mortar's schema.
const SCHEMA: &str = "mortar_bench_jobs";

fn url() -> String {
    std::env::var("MORTAR_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn jobs_to_drain() -> usize {
    std::env::var("MORTAR_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// The job: does nothing but count.
#[derive(Clone, Serialize, Deserialize)]
struct Noop {
    n: u64,
}

/// What the handlers touch: a counter, and where latency samples go.
#[derive(Clone)]
struct Probe {
    ran: Arc<AtomicUsize>,
    started: tokio::sync::mpsc::UnboundedSender<Instant>,
}

impl Job for Noop {
    const NAME: &'static str = "noop";
    type State = Probe;
    async fn run(self, ctx: JobContext<Probe>) -> Result<(), JobError> {
        let _ = ctx.state().started.send(Instant::now());
        ctx.state().ran.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

async fn apalis_noop(
    _job: Noop,
    probe: Data<Probe>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let _ = probe.started.send(Instant::now());
    probe.ran.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn probe() -> (Probe, tokio::sync::mpsc::UnboundedReceiver<Instant>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    (
        Probe {
            ran: Arc::default(),
            started: tx,
        },
        rx,
    )
}

struct Setup {
    db: DatabaseConnection,
    jobs: Jobs,
    pg: sqlx::PgPool,
}

async fn setup() -> Setup {
    let admin = Database::connect(url()).await.expect("PostgreSQL answers");
    for sql in [
        format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"),
        format!("CREATE SCHEMA {SCHEMA}"),
        "DROP SCHEMA IF EXISTS apalis CASCADE".to_owned(),
    ] {
        admin.execute_unprepared(&sql).await.expect("schema");
    }
    admin.close().await.expect("close");
    let mut opts = ConnectOptions::new(url());
    opts.max_connections(POOL)
        .min_connections(POOL)
        .set_schema_search_path(SCHEMA)
        .sqlx_logging(false);
    let db = Database::connect(opts).await.expect("PostgreSQL answers");
    mortar_jobs::sql::Migrator::up(&db, None)
        .await
        .expect("migrations");
    let pg = PgPoolOptions::new()
        .max_connections(POOL)
        .min_connections(POOL)
        .connect(&url())
        .await
        .expect("PostgreSQL answers");
    PostgresStorage::setup(&pg)
        .await
        .expect("apalis migrations");
    let jobs = Jobs::new(SqlBackend::new(db.clone()));
    Setup { db, jobs, pg }
}

impl Setup {
    async fn fill_mortar(&self, n: usize) {
        self.db
            .execute_unprepared("TRUNCATE mortar_jobs, mortar_job_errors")
            .await
            .expect("truncate");
        let batch: Vec<Noop> = (0..5000).map(|n| Noop { n }).collect();
        for start in (0..n).step_by(batch.len()) {
            let len = batch.len().min(n - start);
            self.jobs
                .enqueue_many(&batch[..len], EnqueueOptions::new())
                .await
                .expect("enqueue");
        }
        self.db
            .execute_unprepared("VACUUM ANALYZE mortar_jobs")
            .await
            .expect("analyze");
    }

    async fn fill_apalis(&self, n: usize) {
        sqlx::query("TRUNCATE apalis.jobs")
            .execute(&self.pg)
            .await
            .expect("truncate");
        for start in (0..n).step_by(5000) {
            let tasks = (start..n.min(start + 5000))
                .map(|n| {
                    TaskBuilder::new(serde_json::to_vec(&Noop { n: n as u64 }).expect("json"))
                        .build()
                })
                .collect();
            let mut tx = self.pg.begin().await.expect("begin");
            apalis_postgres::queries::push_tasks(&mut *tx, "bench", tasks)
                .await
                .expect("push");
            tx.commit().await.expect("commit");
        }
        sqlx::query("VACUUM ANALYZE apalis.jobs")
            .execute(&self.pg)
            .await
            .expect("analyze");
    }

    async fn count(&self, sql: &str) -> i64 {
        // Built from this file's constants only.
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.pg)
            .await
            .expect("count")
    }

    async fn drain_mortar(&self, n: usize) -> Duration {
        self.fill_mortar(n).await;
        let (probe, _rx) = probe();
        let ran = probe.ran.clone();
        let worker = Worker::builder(&self.jobs, probe)
            .register::<Noop>()
            .queue("default", CONCURRENCY)
            .build();
        let started = Instant::now();
        let running = worker.start();
        while ran.load(Ordering::Relaxed) < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        running.shutdown(Duration::from_mins(1)).await;
        let took = started.elapsed();
        let done = self
            .count(&format!(
                "SELECT count(*) FROM {SCHEMA}.mortar_jobs WHERE state = 'completed'"
            ))
            .await;
        assert_eq!(
            done,
            i64::try_from(n).expect("n fits"),
            "every job completed and stored"
        );
        took
    }

    async fn drain_apalis(&self, n: usize) -> Duration {
        self.fill_apalis(n).await;
        let (probe, _rx) = probe();
        let ran = probe.ran.clone();
        let storage = PostgresStorage::<Noop>::new(&self.pg)
            .with_config(Config::default().queue("bench").batch_size(CONCURRENCY));
        // A fresh worker name per drain: in one run a third drain under a reused name fetched
        // nothing for minutes (the earlier registration was still held).
        let name = format!("bench-{}", uuid::Uuid::now_v7().simple());
        let worker = WorkerBuilder::new(name.as_str())
            .backend(storage)
            .data(probe)
            .concurrency(CONCURRENCY)
            .build(apalis_noop);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let started = Instant::now();
        let handle = tokio::spawn(worker.run_until(async move {
            let _ = stop_rx.await;
            Ok::<(), std::io::Error>(())
        }));
        while ran.load(Ordering::Relaxed) < n {
            assert!(
                started.elapsed() < Duration::from_mins(10),
                "apalis-postgres stalled: {} of {n} jobs ran in 10 minutes",
                ran.load(Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let _ = stop_tx.send(());
        handle.await.expect("join").expect("apalis worker");
        let took = started.elapsed();
        let done = self
            .count("SELECT count(*) FROM apalis.jobs WHERE status = 'Done'")
            .await;
        assert_eq!(
            done,
            i64::try_from(n).expect("n fits"),
            "every apalis job completed and stored"
        );
        took
    }

    async fn drain_pgbench(&self, n: usize) -> Duration {
        self.fill_mortar(n).await;
        let script = std::env::temp_dir().join("mortar-jobs-ceiling.sql");
        // Two statements per transaction, as a queue needs them: claim a batch (what mortar's
        // claim does, returning only ids), then complete those ids.
        std::fs::write(
            &script,
            format!(
                "\\set now 4000000000000000\n\
                 \\set lease 4000000030000000\n\
                 BEGIN;\n\
                 WITH claimed AS (UPDATE mortar_jobs SET state = 'running', attempt = attempt + 1, \
                 attempted_at = :now, lease_until = :lease, worker = 'pgbench' \
                 WHERE id IN (SELECT id FROM mortar_jobs WHERE state = 'pending' \
                 AND queue = 'default' AND run_at <= :now AND name IN ('noop') \
                 ORDER BY priority, run_at, id LIMIT {CONCURRENCY} FOR UPDATE SKIP LOCKED) \
                 RETURNING id) SELECT coalesce(array_agg(id), '{{}}') AS ids FROM claimed \\gset\n\
                 UPDATE mortar_jobs SET state = 'completed', finished_at = :now, \
                 lease_until = NULL WHERE state = 'running' AND id = ANY(:ids::varchar[]);\n\
                 COMMIT;\n"
            ),
        )
        .expect("script");
        let per_client = n.div_ceil(CONCURRENCY * POOL as usize);
        let started = Instant::now();
        let out = tokio::process::Command::new("pgbench")
            .env("PGOPTIONS", format!("-c search_path={SCHEMA}"))
            .args(["-n", "-M", "prepared", "-j", "2"])
            .arg("-c")
            .arg(POOL.to_string())
            .arg("-t")
            .arg(per_client.to_string())
            .arg("-f")
            .arg(&script)
            .arg(url())
            .output()
            .await
            .expect("pgbench runs");
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "pgbench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let done = self
            .count(&format!(
                "SELECT count(*) FROM {SCHEMA}.mortar_jobs WHERE state = 'completed'"
            ))
            .await;
        // Near the end a client may find fewer rows than a batch; scale to what it did.
        assert!(done > 0, "pgbench completed nothing");
        took.mul_f64(n as f64 / done as f64)
    }

    async fn latency_mortar(&self, samples: usize) -> Vec<Duration> {
        self.fill_mortar(0).await;
        let (probe, mut rx) = probe();
        let worker = Worker::builder(&self.jobs, probe)
            .register::<Noop>()
            .queue("default", CONCURRENCY)
            .poll_interval(Duration::from_hours(1))
            .build();
        let running = worker.start();
        // The listener connects in the background: one job through first.
        self.jobs
            .enqueue(&Noop { n: 0 }, EnqueueOptions::new())
            .await
            .expect("enqueue");
        let _ = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
        let mut out = Vec::with_capacity(samples);
        for n in 0..samples {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let sent = Instant::now();
            self.jobs
                .enqueue(&Noop { n: n as u64 }, EnqueueOptions::new())
                .await
                .expect("enqueue");
            let started = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("the job starts")
                .expect("probe open");
            out.push(started - sent);
        }
        running.shutdown(Duration::from_secs(10)).await;
        out
    }

    async fn latency_apalis(&self, samples: usize) -> Vec<Duration> {
        self.fill_apalis(0).await;
        let (probe, mut rx) = probe();
        let storage = PostgresStorage::<Noop>::new(&self.pg)
            .with_config(Config::default().queue("bench").batch_size(CONCURRENCY))
            .with_pubsub();
        let mut sink =
            PostgresStorage::<Noop>::new(&self.pg).with_config(Config::default().queue("bench"));
        let worker = WorkerBuilder::new("bench-latency")
            .backend(storage)
            .data(probe)
            .concurrency(CONCURRENCY)
            .build(apalis_noop);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(worker.run_until(async move {
            let _ = stop_rx.await;
            Ok::<(), std::io::Error>(())
        }));
        sink.push(Noop { n: 0 }).await.expect("push");
        let _ = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
        let mut out = Vec::with_capacity(samples);
        for n in 0..samples {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let sent = Instant::now();
            sink.push(Noop { n: n as u64 }).await.expect("push");
            let started = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("the apalis job starts")
                .expect("probe open");
            out.push(started - sent);
        }
        let _ = stop_tx.send(());
        handle.await.expect("join").expect("apalis worker");
        out
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentiles(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
    println!(
        "LATENCY {name}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3,
        v.len()
    );
}

#[allow(clippy::many_single_char_names)]
fn drains(rt: &Runtime, s: &Setup) {
    let n = jobs_to_drain();
    let (mut mortar, mut apalis, mut ceiling) = (Vec::new(), Vec::new(), Vec::new());
    let rounds = rounds();
    for round in 1..=rounds {
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        let m = rate(rt.block_on(s.drain_mortar(n)));
        let a = rate(rt.block_on(s.drain_apalis(n)));
        let c = rate(rt.block_on(s.drain_pgbench(n)));
        println!(
            "DRAIN round {round}: mortar-jobs {m:.0} jobs/s, apalis-postgres {a:.0} jobs/s, \
             pgbench ceiling {c:.0} jobs/s; mortar/apalis {:.2}x, mortar/ceiling {:.2}x",
            m / a,
            m / c
        );
        mortar.push(m);
        apalis.push(a);
        ceiling.push(c);
    }
    let (m, a, c) = (median(mortar), median(apalis), median(ceiling));
    println!(
        "DRAIN median of {rounds} ({n} jobs, pool {POOL}, concurrency {CONCURRENCY}): \
         mortar-jobs {m:.0} jobs/s, apalis-postgres {a:.0} jobs/s, pgbench ceiling {c:.0} jobs/s; \
         mortar/apalis {:.2}x, mortar/ceiling {:.2}x",
        m / a,
        m / c
    );
}

fn enqueue(c: &mut Criterion, rt: &Runtime, s: &Setup) {
    rt.block_on(s.fill_mortar(0));
    rt.block_on(s.fill_apalis(0));
    let mut g = c.benchmark_group("jobs_enqueue");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(1));
    g.bench_function("mortar-jobs/one", |b| {
        b.to_async(rt).iter(|| async {
            s.jobs
                .enqueue(&Noop { n: 1 }, EnqueueOptions::new())
                .await
                .expect("enqueue")
        });
    });
    let sink = PostgresStorage::<Noop>::new(&s.pg).with_config(Config::default().queue("bench"));
    g.bench_function("apalis-postgres/one", |b| {
        b.to_async(rt).iter(|| {
            let mut sink = sink.clone();
            async move {
                use apalis::prelude::TaskSink as _;
                sink.push(Noop { n: 1 }).await.expect("push");
            }
        });
    });
    g.throughput(Throughput::Elements(1000));
    let batch: Vec<Noop> = (0..1000).map(|n| Noop { n }).collect();
    g.bench_function("mortar-jobs/batch_1000", |b| {
        b.to_async(rt).iter(|| async {
            s.jobs
                .enqueue_many(&batch, EnqueueOptions::new())
                .await
                .expect("enqueue")
        });
    });
    g.bench_function("apalis-postgres/batch_1000", |b| {
        b.to_async(rt).iter(|| async {
            let tasks = batch
                .iter()
                .map(|job| TaskBuilder::new(serde_json::to_vec(job).expect("json")).build())
                .collect();
            let mut tx = s.pg.begin().await.expect("begin");
            apalis_postgres::queries::push_tasks(&mut *tx, "bench", tasks)
                .await
                .expect("push");
            tx.commit().await.expect("commit");
        });
    });
    g.finish();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let s = rt.block_on(setup());
    let mut c = Criterion::default().configure_from_args();
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    if wants("jobs_drain") {
        drains(&rt, &s);
    }
    if wants("jobs_latency") {
        percentiles("mortar-jobs", rt.block_on(s.latency_mortar(300)));
        percentiles(
            "apalis-postgres (pubsub)",
            rt.block_on(s.latency_apalis(300)),
        );
    }
    if wants("jobs_enqueue") {
        enqueue(&mut c, &rt, &s);
    }
    c.final_summary();
}
