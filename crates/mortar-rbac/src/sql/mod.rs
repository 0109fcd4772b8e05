//! Policies in the application's own SQL database through sea-orm (features `sqlite`,
//! `postgres`, `mysql`): the migration, entities and [`SeaOrmPolicyStore`].
//!
//! Add [`migrations`] to your migrator (or run [`Migrator`] when mortar-rbac is the only crate
//! with tables), then hand the connection to the store:
//!
//! ```no_run
//! use mortar_rbac::Rbac;
//! use mortar_rbac::sql::{Migrator, SeaOrmPolicyStore};
//! use sea_orm_migration::MigratorTrait as _;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = sea_orm::Database::connect("sqlite://app.db?mode=rwc").await?;
//! Migrator::up(&db, None).await?;
//! let rbac = Rbac::from_store(SeaOrmPolicyStore::new(db)).await?;
//! // Other instances' changes arrive within a second:
//! let _watch = rbac.watch(std::time::Duration::from_secs(1));
//! # Ok(()) }
//! ```

pub mod entity;
mod migration;
mod store;

use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub use store::SeaOrmPolicyStore;

/// mortar-rbac's migrations, in order, for the application's own migrator.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(migration::CreateRbac)]
}

/// A migrator with only mortar-rbac's migrations.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn migration_names_are_prefixed() {
        for m in super::migrations() {
            assert!(m.name().contains("mortar_rbac"), "{}", m.name());
        }
    }
}
