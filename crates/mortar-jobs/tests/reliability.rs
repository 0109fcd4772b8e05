//! At-least-once under failure: rolled-back enqueues, a killed worker process, a dropped
//! database connection, and 100 000 jobs drained by several workers.

#![cfg(feature = "sql")]
#![allow(clippy::missing_panics_doc)]

mod common;

use std::time::Duration;

use common::{Count, Counts, wait_until};
use mortar_jobs::sql::{Migrator, SqlBackend};
use mortar_jobs::{EnqueueOptions, Job, JobContext, JobError, JobState, Jobs, Worker};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, TransactionTrait as _};
use sea_orm_migration::MigratorTrait as _;
use serde::{Deserialize, Serialize};

async fn migrated(db: &mortar_testkit::TestDatabase) -> DatabaseConnection {
    let conn = db.connect().await;
    Migrator::up(&conn, None).await.unwrap();
    conn
}

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

/// Inserts `n` Count jobs (`k0`…) in one statement: the enqueue path is tested elsewhere, this
/// is about draining.
#[cfg(feature = "postgres")]
async fn bulk_insert(conn: &DatabaseConnection, n: u32) {
    conn.execute_unprepared(&format!(
        "INSERT INTO mortar_jobs (id, name, queue, payload, state, priority, attempt, max_attempts, \
         run_at, created_at, unique_clears) \
         SELECT gen_random_uuid()::text, 'count', 'default', '{{\"key\":\"k' || g || '\"}}', \
         'pending', 0, 0, 10, 0, 0, 0 FROM generate_series(0, {}) AS g",
        n - 1
    ))
    .await
    .unwrap();
}

#[cfg(feature = "postgres")]
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
    let expected = n as usize;
    wait_until(|| counts.len() == expected).await;
    for r in running {
        assert_eq!(r.shutdown(Duration::from_secs(30)).await.aborted, 0);
    }
    let stats = jobs.stats().await.unwrap();
    assert_eq!(stats[0].completed, u64::from(n), "{stats:?}");
    for i in 0..n {
        assert_eq!(counts.get(&format!("k{i}")), 1, "k{i}");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_100k_jobs_drained_by_several_workers() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    let conn = migrated(&db).await;
    let n = 100_000;
    bulk_insert(&conn, n).await;
    let jobs = Jobs::new(SqlBackend::new(conn));
    drain(&jobs, &Counts::default(), 3, n).await;
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
    let n = 3000;
    bulk_insert(&conn, n).await;
    let jobs = Jobs::new(SqlBackend::new(conn));
    let counts = Counts::default();
    let killer = {
        let counts = counts.clone();
        let url = db.url().to_owned();
        let app = app.clone();
        tokio::spawn(async move {
            wait_until(|| counts.len() > 300).await;
            let admin = sea_orm::Database::connect(url.as_str()).await.unwrap();
            let killed = admin
                .execute_unprepared(&format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid() \
                     AND application_name = '{app}'"
                ))
                .await
                .unwrap();
            killed.rows_affected()
        })
    };
    drain(&jobs, &counts, 2, n).await;
    assert!(killer.await.unwrap() > 0, "no connection was terminated");
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

/// A worker process killed with SIGKILL mid-job: the job runs again after its lease and completes.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_worker_process_job_runs_again() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    let conn = migrated(&db).await;
    let jobs = Jobs::new(SqlBackend::new(conn));
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
        .env("MORTAR_JOBS_DB", db.url())
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

/// With an hour between polls, only PostgreSQL's NOTIFY (sent when the enqueue commits) can
/// start a job enqueued while the worker is idle.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_notify_wakes_an_idle_worker() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    let jobs = Jobs::new(SqlBackend::new(migrated(&db).await));
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
