//! The trail in the application's own SQL database through sea-orm (features `sqlite`,
//! `postgres`, `mysql`): the migration, entities, [`SeaOrmAuditStore`] and [`SeaOrmLastSeen`].
//!
//! Add [`migrations`] to your migrator (or run [`Migrator`] when mortar-audit is the only crate
//! with tables), then hand the connection to the store:
//!
//! ```no_run
//! use std::sync::Arc;
//! use mortar_audit::DurableRecorder;
//! use mortar_audit::sql::{Migrator, SeaOrmAuditStore};
//! use sea_orm_migration::MigratorTrait as _;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = sea_orm::Database::connect("sqlite://app.db?mode=rwc").await?;
//! Migrator::up(&db, None).await?;
//! let store = Arc::new(SeaOrmAuditStore::new(db));
//! let recorder = DurableRecorder::builder().shared_sink(store.clone()).start();
//! # Ok(()) }
//! ```

pub mod entity;
mod migration;
#[cfg(feature = "postgres")]
mod pg_copy;
mod store;

use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait as _};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub use store::SeaOrmAuditStore;

use crate::activity::{LastSeen, LastSeenStore};
use crate::error::Error;
use crate::record::{from_micros, micros};

/// mortar-audit's migrations, in order, for the application's own migrator.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(migration::CreateAudit)]
}

/// A migrator with only mortar-audit's migrations.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }
}

/// Last-seen times in `mortar_audit_last_seen`, one upsert per batch.
#[derive(Clone, Debug)]
pub struct SeaOrmLastSeen {
    db: DatabaseConnection,
}

impl SeaOrmLastSeen {
    /// A store on this connection. Run [`migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl LastSeenStore for SeaOrmLastSeen {
    async fn save(&self, batch: &[LastSeen]) -> Result<(), Error> {
        use entity::last_seen;
        for chunk in batch.chunks(1000) {
            let rows = chunk.iter().map(|e| last_seen::ActiveModel {
                subject: Set(e.subject.clone()),
                tenant: Set(e.tenant.clone()),
                seen_at: Set(micros(e.at)),
            });
            last_seen::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(last_seen::Column::Subject)
                        .update_columns([last_seen::Column::Tenant, last_seen::Column::SeenAt])
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await
                .map_err(|e| Error::store("saving last-seen times", e))?;
        }
        Ok(())
    }

    async fn get(&self, subject: &str) -> Result<Option<LastSeen>, Error> {
        let row = entity::last_seen::Entity::find_by_id(subject.to_owned())
            .one(&self.db)
            .await
            .map_err(|e| Error::store("reading a last-seen time", e))?;
        Ok(row.map(|r| LastSeen::new(r.subject, r.tenant, from_micros(r.seen_at))))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migration_names_are_prefixed() {
        for m in super::migrations() {
            assert!(m.name().contains("mortar_audit"), "{}", m.name());
        }
    }
}
