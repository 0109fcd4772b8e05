//! A PostgreSQL *server* restart in the middle of a run: the workers' pools and the LISTEN
//! connection reconnect, and every job completes.
//!
//! This restarts the machine's PostgreSQL (`pg_ctlcluster … restart`), which drops every client
//! of the server, so it runs only when `MORTAR_TEST_PG_RESTART=1` (`.ci/run` sets it) and lives
//! in its own test binary: cargo runs test binaries one after another, so no other test is
//! using the server meanwhile.

#![cfg(feature = "postgres")]
#![allow(clippy::missing_panics_doc)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Count, Counts, wait_for_progress, wait_until};
use mortar_jobs::sql::{Migrator, SqlBackend};
use mortar_jobs::{EnqueueOptions, Jobs, Worker};
use sea_orm_migration::MigratorTrait as _;

/// The cluster's version directory under /etc/postgresql (e.g. `15`).
fn cluster_version() -> String {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql lists the clusters")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL cluster")
}

fn pg_ctl(action: &str) {
    let status = Command::new("pg_ctlcluster")
        .args([
            "--skip-systemctl-redirect",
            &cluster_version(),
            "main",
            action,
        ])
        .args(if action == "restart" {
            &["-m", "fast"][..]
        } else {
            &[][..]
        })
        .status()
        .expect("pg_ctlcluster runs");
    assert!(status.success(), "pg_ctlcluster {action} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_server_restart_during_a_run() {
    if std::env::var("MORTAR_TEST_PG_RESTART").as_deref() != Ok("1") {
        eprintln!("skipped: set MORTAR_TEST_PG_RESTART=1 to let this test restart PostgreSQL");
        return;
    }
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    let conn = db.connect().await;
    Migrator::up(&conn, None).await.unwrap();
    let jobs = Jobs::new(SqlBackend::new(conn));
    let n: u32 = 50_000;
    let all: Vec<Count> = (0..n)
        .map(|i| Count {
            key: format!("k{i}"),
        })
        .collect();
    jobs.enqueue_many(&all, EnqueueOptions::new())
        .await
        .unwrap();

    let counts = Counts::default();
    let mut running = Vec::new();
    for i in 0..2 {
        running.push(
            Worker::builder(&jobs, counts.clone())
                .register::<Count>()
                .queue("default", 8)
                // Short leases: a claim whose answer the restart cut off is rescued soon.
                .lease(Duration::from_secs(3))
                .heartbeat(Duration::from_secs(1))
                .rescue_interval(Duration::from_secs(1))
                .poll_interval(Duration::from_millis(100))
                .id(format!("w{i}"))
                .build()
                .start(),
        );
    }
    wait_until(|| counts.len() > 500).await;
    pg_ctl("restart");
    let after_restart = counts.len();
    assert!(
        after_restart < n as usize,
        "the run ended before the restart; give it more jobs"
    );
    // Enqueued after the restart: the listener and the pools are back.
    jobs.enqueue(&Count { key: "late".into() }, EnqueueOptions::new())
        .await
        .unwrap();
    wait_for_progress(|| counts.len(), n as usize + 1).await;
    for r in running {
        assert_eq!(r.shutdown(Duration::from_secs(30)).await.aborted, 0);
    }
    let stats = jobs.stats().await.unwrap();
    assert_eq!(stats[0].completed, u64::from(n) + 1, "{stats:?}");
    assert_eq!(
        stats[0].available + stats[0].scheduled + stats[0].running,
        0,
        "{stats:?}"
    );
    for i in 0..n {
        // At least once: a claim or completion cut off by the restart may run a job again.
        assert!(counts.get(&format!("k{i}")) >= 1, "k{i} never ran");
    }
}
