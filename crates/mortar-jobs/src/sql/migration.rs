//! The schema: `mortar_jobs` and `mortar_job_errors`, with the indexes claims, rescues and
//! retention use (partial on PostgreSQL and SQLite, so they stay small under churn).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Creates the tables and indexes.
pub(crate) struct CreateJobs;

impl MigrationName for CreateJobs {
    fn name(&self) -> &'static str {
        "m20261203_000301_mortar_jobs_create_tables"
    }
}

fn statements(backend: DbBackend) -> Vec<&'static str> {
    match backend {
        DbBackend::MySql => vec![
            "CREATE TABLE IF NOT EXISTS mortar_jobs (
                id CHAR(36) NOT NULL PRIMARY KEY,
                name VARCHAR(128) COLLATE utf8mb4_bin NOT NULL,
                queue VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
                payload LONGTEXT NOT NULL,
                state VARCHAR(16) NOT NULL,
                priority SMALLINT NOT NULL,
                attempt INT NOT NULL,
                max_attempts INT NOT NULL,
                run_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                attempted_at BIGINT NULL,
                finished_at BIGINT NULL,
                lease_until BIGINT NULL,
                timeout_ms BIGINT NULL,
                unique_key VARCHAR(255) COLLATE utf8mb4_bin NULL,
                unique_clears SMALLINT NOT NULL,
                worker VARCHAR(128) NULL,
                UNIQUE KEY mortar_jobs_unique (unique_key),
                KEY mortar_jobs_due (state, queue, priority, run_at, id),
                KEY mortar_jobs_lease (state, lease_until),
                KEY mortar_jobs_finished (finished_at)
            ) ENGINE=InnoDB",
            "CREATE TABLE IF NOT EXISTS mortar_job_errors (
                job_id CHAR(36) NOT NULL,
                attempt INT NOT NULL,
                at BIGINT NOT NULL,
                error TEXT NOT NULL,
                KEY mortar_job_errors_job (job_id, attempt)
            ) ENGINE=InnoDB",
        ],
        _ => vec![
            "CREATE TABLE IF NOT EXISTS mortar_jobs (
                id VARCHAR(36) NOT NULL PRIMARY KEY,
                name VARCHAR(128) NOT NULL,
                queue VARCHAR(64) NOT NULL,
                payload TEXT NOT NULL,
                state VARCHAR(16) NOT NULL,
                priority SMALLINT NOT NULL,
                attempt INTEGER NOT NULL,
                max_attempts INTEGER NOT NULL,
                run_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                attempted_at BIGINT NULL,
                finished_at BIGINT NULL,
                lease_until BIGINT NULL,
                timeout_ms BIGINT NULL,
                unique_key VARCHAR(255) NULL UNIQUE,
                unique_clears SMALLINT NOT NULL,
                worker VARCHAR(128) NULL
            )",
            "CREATE INDEX IF NOT EXISTS mortar_jobs_due ON mortar_jobs (queue, priority, run_at, id)
                WHERE state = 'pending'",
            "CREATE INDEX IF NOT EXISTS mortar_jobs_lease ON mortar_jobs (lease_until)
                WHERE state = 'running'",
            "CREATE INDEX IF NOT EXISTS mortar_jobs_finished ON mortar_jobs (finished_at)
                WHERE finished_at IS NOT NULL",
            "CREATE TABLE IF NOT EXISTS mortar_job_errors (
                job_id VARCHAR(36) NOT NULL,
                attempt INTEGER NOT NULL,
                at BIGINT NOT NULL,
                error TEXT NOT NULL
            )",
            "CREATE INDEX IF NOT EXISTS mortar_job_errors_job ON mortar_job_errors (job_id, attempt)",
        ],
    }
}

// `async_trait` requires the signature exactly as `MigrationTrait` declares it (no `'_`).
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateJobs {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        for sql in statements(manager.get_database_backend()) {
            conn.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        conn.execute_unprepared("DROP TABLE IF EXISTS mortar_job_errors")
            .await?;
        conn.execute_unprepared("DROP TABLE IF EXISTS mortar_jobs")
            .await?;
        Ok(())
    }
}
