//! At-least-once under failure: rolled-back enqueues, a killed worker process, a dropped
//! database connection, and 100 000 jobs drained by several workers, on the SQL backends and
//! Redis.

#![cfg(any(feature = "sql", feature = "redis"))]
#![allow(clippy::missing_panics_doc)]
// The helpers serve the backends of several features; with one feature, some go unused.
#![allow(dead_code, unused_imports)]

mod common;

use std::time::Duration;

use common::{Count, Counts, wait_for_progress, wait_until};
#[cfg(feature = "sql")]
use mortar_jobs::sql::{Migrator, SqlBackend};
use mortar_jobs::{EnqueueOptions, Job, JobContext, JobError, JobState, Jobs, Worker};
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sea_orm::ConnectionTrait as _;
#[cfg(feature = "sql")]
use sea_orm::{DatabaseConnection, TransactionTrait as _};
#[cfg(feature = "sql")]
use sea_orm_migration::MigratorTrait as _;
use serde::{Deserialize, Serialize};

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
async fn migrated(db: &mortar_testkit::TestDatabase) -> DatabaseConnection {
    let conn = db.connect().await;
    Migrator::up(&conn, None).await.unwrap();
    conn
}

/// Jobs in a fresh Redis key space, and the URL and prefix a worker process needs.
#[cfg(feature = "redis")]
async fn redis_jobs() -> Option<(Jobs, String, String)> {
    let t = mortar_testkit::redis().await?;
    let backend = mortar_jobs::redis::RedisBackend::from_url(t.url())
        .unwrap()
        .prefix(t.prefix());
    Some((
        Jobs::new(backend),
        t.url().to_owned(),
        t.prefix().to_owned(),
    ))
}

#[cfg(feature = "sql")]
async fn rolled_back_never_runs(conn: DatabaseConnection) {
    let backend = SqlBackend::new(conn.clone());
    let txn = conn.begin().await.unwrap();
    let lost = backend
        .enqueue_in(
            &txn,
            &Count {
                key: "rolled-back".into(),
            },
            EnqueueOptions::new(),
        )
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    let txn = conn.begin().await.unwrap();
    backend
        .enqueue_in(
            &txn,
            &Count {
                key: "committed".into(),
            },
            EnqueueOptions::new(),
        )
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let jobs = Jobs::new(backend);
    assert!(jobs.get(lost.id).await.unwrap().is_none());
    let counts = Counts::default();
    let worker = Worker::builder(&jobs, counts.clone())
        .register::<Count>()
        .build();
    assert_eq!(worker.run_available().await.unwrap(), 1);
    assert_eq!(counts.get("committed"), 1);
    assert_eq!(counts.get("rolled-back"), 0);
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_rolled_back_enqueue_never_runs() {
    rolled_back_never_runs(migrated(&mortar_testkit::sqlite()).await).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_rolled_back_enqueue_never_runs() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    rolled_back_never_runs(migrated(&db).await).await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mariadb_rolled_back_enqueue_never_runs() {
    let Some(db) = mortar_testkit::mysql().await else {
        return;
    };
    rolled_back_never_runs(migrated(&db).await).await;
}

/// Enqueues `n` Count jobs (`k0`…) in batches.
async fn bulk_insert(jobs: &Jobs, n: u32) {
    let all: Vec<Count> = (0..n)
        .map(|i| Count {
            key: format!("k{i}"),
        })
        .collect();
    for chunk in all.chunks(5000) {
        jobs.enqueue_many(chunk, EnqueueOptions::new())
            .await
            .unwrap();
    }
}

/// Runs `workers` workers of 16 slots until all `n` jobs ran, then checks each ran exactly once
/// and is stored as completed.
async fn drain(jobs: &Jobs, counts: &Counts, workers: usize, n: u32) {
    let mut running = Vec::new();
    for i in 0..workers {
        let w = Worker::builder(jobs, counts.clone())
            .register::<Count>()
            .queue("default", 16)
            .poll_interval(Duration::from_millis(100))
            .id(format!("w{i}"))
            .build();
        running.push(w.start());
    }
    wait_for_progress(|| counts.len(), n as usize).await;
    for r in running {
        assert_eq!(r.shutdown(Duration::from_secs(30)).await.aborted, 0);
    }
    let stats = jobs.stats().await.unwrap();
    assert_eq!(stats[0].completed, u64::from(n), "{stats:?}");
    for i in 0..n {
        assert_eq!(counts.get(&format!("k{i}")), 1, "k{i}");
    }
}

async fn hundred_thousand(jobs: Jobs) {
    let n = 100_000;
    bulk_insert(&jobs, n).await;
    drain(&jobs, &Counts::default(), 3, n).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_100k_jobs_drained_by_several_workers() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    hundred_thousand(Jobs::new(SqlBackend::new(migrated(&db).await))).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_100k_jobs_drained_by_several_workers() {
    let Some(db) = mortar_testkit::mysql().await else {
        return;
    };
    hundred_thousand(Jobs::new(SqlBackend::new(migrated(&db).await))).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_100k_jobs_drained_by_several_workers() {
    let Some((jobs, _, _)) = redis_jobs().await else {
        return;
    };
    hundred_thousand(jobs).await;
}

#[cfg(feature = "sql")]
/// Drains 3000 jobs with two workers while `kill` (given the counts, once 300 ran) drops the
/// workers' database connections; every job still runs exactly once.
async fn connection_drop<F, Fut>(conn: DatabaseConnection, kill: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = u64> + Send,
{
    let n = 3000;
    let jobs = Jobs::new(SqlBackend::new(conn));
    bulk_insert(&jobs, n).await;
    let counts = Counts::default();
    let killer = {
        let counts = counts.clone();
        tokio::spawn(async move {
            wait_until(|| counts.len() > 300).await;
            kill().await
        })
    };
    drain(&jobs, &counts, 2, n).await;
    assert!(killer.await.unwrap() > 0, "no connection was terminated");
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_drop_then_reconnect() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    // Only this test's connections carry this name, so only they are terminated (other tests
    // share the server).
    let app = db.name().to_owned();
    let url = format!("{}&application_name={app}", db.url());
    let conn = sea_orm::Database::connect(url.as_str()).await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    let admin_url = db.url().to_owned();
    connection_drop(conn, move || async move {
        let admin = sea_orm::Database::connect(admin_url.as_str())
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() \
                 AND application_name = '{app}'"
            ))
            .await
            .unwrap()
            .rows_affected()
    })
    .await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_connection_drop_then_reconnect() {
    let Some(db) = mortar_testkit::mysql().await else {
        return;
    };
    let conn = migrated(&db).await;
    // Each test has its own database: its connections are the ones using it.
    let name = db.name().to_owned();
    let admin_url = db.url().to_owned();
    connection_drop(conn, move || async move {
        let admin = sea_orm::Database::connect(admin_url.as_str())
            .await
            .unwrap();
        let rows = admin
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::MySql,
                format!(
                    "SELECT id FROM information_schema.processlist \
                     WHERE db = '{name}' AND id <> CONNECTION_ID()"
                ),
            ))
            .await
            .unwrap();
        let mut killed = 0;
        for row in rows {
            let id: i64 = row.try_get("", "id").unwrap();
            // A connection may have ended by itself in between.
            if admin
                .execute_unprepared(&format!("KILL CONNECTION {id}"))
                .await
                .is_ok()
            {
                killed += 1;
            }
        }
        killed
    })
    .await;
}

#[derive(Serialize, Deserialize)]
struct Hang;

impl Job for Hang {
    const NAME: &'static str = "hang";
    type State = Counts;
    async fn run(self, ctx: JobContext<Counts>) -> Result<(), JobError> {
        ctx.state().bump(&format!("attempt-{}", ctx.attempt()));
        Ok(())
    }
}

/// A worker process killed with SIGKILL mid-job: the job runs again after its lease and
/// completes.
async fn killed_worker_process(jobs: Jobs, url: &str, prefix: &str) {
    let id = jobs.enqueue(&Hang, EnqueueOptions::new()).await.unwrap().id;

    // The example binary, built by cargo next to this test's executable.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let bin = dir.join(format!("jobs_worker{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} missing: cargo test builds examples",
        bin.display()
    );
    let mut child = std::process::Command::new(&bin)
        .env("MORTAR_JOBS_DB", url)
        .env("MORTAR_JOBS_PREFIX", prefix)
        .spawn()
        .unwrap();

    // Wait until the child has claimed it, then kill it without a chance to clean up.
    let mut claimed = false;
    for _ in 0..3000 {
        if jobs.get(id).await.unwrap().unwrap().state == JobState::Running {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(claimed, "the worker process never claimed the job");
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let counts = Counts::default();
    let worker = Worker::builder(&jobs, counts.clone())
        .register::<Hang>()
        .lease(Duration::from_secs(1))
        .poll_interval(Duration::from_millis(50))
        .build();
    let running = worker.start();
    wait_until(|| counts.get("attempt-2") == 1).await;
    running.shutdown(Duration::from_secs(10)).await;
    let job = jobs.get(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.attempt, 2);
    assert!(job.errors[0].error.contains("lease expired"));
    assert_eq!(counts.get("attempt-1"), 0);
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_worker_process_job_runs_again() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    let jobs = Jobs::new(SqlBackend::new(migrated(&db).await));
    killed_worker_process(jobs, db.url(), "").await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_killed_worker_process_job_runs_again() {
    let Some(db) = mortar_testkit::mysql().await else {
        return;
    };
    let jobs = Jobs::new(SqlBackend::new(migrated(&db).await));
    killed_worker_process(jobs, db.url(), "").await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_worker_process_job_runs_again() {
    let Some((jobs, url, prefix)) = redis_jobs().await else {
        return;
    };
    killed_worker_process(jobs, &url, &prefix).await;
}

/// With an hour between polls, only a push notification (PostgreSQL's NOTIFY when the enqueue
/// commits, Redis's PUBLISH) can start a job enqueued while the worker is idle.
async fn push_wakes_an_idle_worker(jobs: Jobs) {
    let counts = Counts::default();
    let running = Worker::builder(&jobs, counts.clone())
        .register::<Count>()
        .poll_interval(Duration::from_hours(1))
        .build()
        .start();
    // The listener connects in the background: enqueue until one wake-up gets through.
    let mut enqueued = 0;
    for n in 0..120 {
        jobs.enqueue(
            &Count {
                key: format!("warm-{n}"),
            },
            EnqueueOptions::new(),
        )
        .await
        .unwrap();
        enqueued += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if counts.len() > 0 {
            break;
        }
    }
    assert!(counts.len() > 0, "no enqueue woke the idle worker");
    // Listening now: once the warm-up jobs are done, an enqueue while the worker is idle starts
    // at once, not in an hour.
    wait_until(|| counts.len() == enqueued).await;
    jobs.enqueue(&Count { key: "late".into() }, EnqueueOptions::new())
        .await
        .unwrap();
    wait_until(|| counts.get("late") == 1).await;
    assert_eq!(running.shutdown(Duration::from_secs(10)).await.aborted, 0);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_notify_wakes_an_idle_worker() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    push_wakes_an_idle_worker(Jobs::new(SqlBackend::new(migrated(&db).await))).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_publish_wakes_an_idle_worker() {
    let Some((jobs, _, _)) = redis_jobs().await else {
        return;
    };
    push_wakes_an_idle_worker(jobs).await;
}
