//! The backend contract, checked on every backend the enabled features bring.

mod common;

use std::sync::Arc;

use mortar_jobs::{MemoryBackend, SharedBackend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory() {
    common::suite(|| async { Arc::new(MemoryBackend::new()) as SharedBackend }).await;
}

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
async fn migrated(db: mortar_testkit::TestDatabase) -> SharedBackend {
    use sea_orm_migration::MigratorTrait as _;
    let conn = db.connect().await;
    mortar_jobs::sql::Migrator::up(&conn, None).await.unwrap();
    mortar_jobs::sql::Migrator::up(&conn, None).await.unwrap();
    Arc::new(mortar_jobs::sql::SqlBackend::new(conn))
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    common::suite(|| migrated(mortar_testkit::sqlite())).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if mortar_testkit::postgres().await.is_none() {
        return;
    }
    common::suite(|| async { migrated(mortar_testkit::postgres().await.unwrap()).await }).await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb() {
    if mortar_testkit::mysql().await.is_none() {
        return;
    }
    common::suite(|| async { migrated(mortar_testkit::mysql().await.unwrap()).await }).await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis() {
    if mortar_testkit::redis().await.is_none() {
        return;
    }
    common::suite(|| async {
        let t = mortar_testkit::redis().await.unwrap();
        let backend = mortar_jobs::redis::RedisBackend::from_url(t.url())
            .unwrap()
            .prefix(t.prefix());
        Arc::new(backend) as SharedBackend
    })
    .await;
}
