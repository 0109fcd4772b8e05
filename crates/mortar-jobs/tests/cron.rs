//! Cron ticks: once per tick across instances, in a time zone, never before the tick.

#![cfg(feature = "cron")]
#![allow(clippy::missing_panics_doc, clippy::duration_suboptimal_units)]

mod common;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::{Count, Env};
use mortar_jobs::cron::{Schedule, Scheduler};
use mortar_jobs::{JobFilter, MemoryBackend, SharedBackend};

async fn once_per_tick(backend: SharedBackend) {
    let env = Env::new(backend);
    // 2024-01-01T00:00:00Z is 01:00 in Paris.
    env.clock
        .set(UNIX_EPOCH + Duration::from_secs(1_704_067_200 + 10));
    let schedule = || {
        Schedule::new("hourly", "0 * * * *", &Count { key: "tick".into() })
            .unwrap()
            .time_zone("Europe/Paris")
            .unwrap()
    };
    // Two application instances, each with its own scheduler.
    let a = Scheduler::new(&env.jobs).schedule(schedule());
    let b = Scheduler::new(&env.jobs).schedule(schedule());
    assert_eq!(a.tick().await.unwrap() + b.tick().await.unwrap(), 1);
    assert_eq!(a.tick().await.unwrap(), 0);
    env.clock.advance(Duration::from_secs(1800));
    assert_eq!(b.tick().await.unwrap(), 0);
    env.clock.advance(Duration::from_secs(1800));
    assert_eq!(b.tick().await.unwrap() + a.tick().await.unwrap(), 1);
    let all = env.jobs.list(&JobFilter::new()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[1].run_at,
        UNIX_EPOCH + Duration::from_secs(1_704_067_200 + 3600)
    );
    assert_eq!(env.worker().run_available().await.unwrap(), 2);
    assert_eq!(env.counts.get("tick"), 2);
    // Daily at 09:30 Paris = 08:30 UTC in winter.
    let daily = Schedule::new("d", "30 9 * * *", &Count { key: "d".into() })
        .unwrap()
        .time_zone("Europe/Paris")
        .unwrap();
    assert_eq!(
        daily.next_tick(UNIX_EPOCH + Duration::from_secs(1_704_067_200)),
        Some(UNIX_EPOCH + Duration::from_secs(1_704_067_200 + 8 * 3600 + 1800))
    );
    assert!(Schedule::new("bad", "61 * * * *", &Count { key: String::new() }).is_err());
    assert!(daily.clone().time_zone("Mars/Olympus").is_err());
}

#[tokio::test]
async fn memory() {
    once_per_tick(Arc::new(MemoryBackend::new())).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres() {
    use sea_orm_migration::MigratorTrait as _;
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    let conn = db.connect().await;
    mortar_jobs::sql::Migrator::up(&conn, None).await.unwrap();
    once_per_tick(Arc::new(mortar_jobs::sql::SqlBackend::new(conn))).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite() {
    use sea_orm_migration::MigratorTrait as _;
    let conn = mortar_testkit::sqlite().connect().await;
    mortar_jobs::sql::Migrator::up(&conn, None).await.unwrap();
    once_per_tick(Arc::new(mortar_jobs::sql::SqlBackend::new(conn))).await;
}
