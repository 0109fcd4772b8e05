//! Flags in the application's own SQL database through sea-orm (features `sqlite`,
//! `postgres`, `mysql`): the migrations, entities, [`SeaOrmFlagStore`] and the sticky experiment
//! assignments [`SeaOrmAssignments`].
//!
//! Add [`migrations`] to your migrator (or run [`Migrator`] when mortar-flags is the only
//! crate with tables), then hand the connection to the store:
//!
//! ```no_run
//! use mortar_flags::FeatureFlags;
//! use mortar_flags::sql::{Migrator, SeaOrmFlagStore};
//! use sea_orm_migration::MigratorTrait as _;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = sea_orm::Database::connect("sqlite://app.db?mode=rwc").await?;
//! Migrator::up(&db, None).await?;
//! // Other instances' changes are seen within a second (the version row is polled).
//! let flags = FeatureFlags::builder().source(SeaOrmFlagStore::new(db)).build().await?;
//! # Ok(()) }
//! ```

pub mod entity;
mod migration;
mod store;

use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub use store::{SeaOrmAssignments, SeaOrmFlagStore};

/// mortar-flags' migrations, in order, for the application's own migrator.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(migration::CreateFlags),
        Box::new(migration::CreateAssignments),
    ]
}

/// A migrator with only mortar-flags' migrations.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }
}
