//! The starter's migrator: every Mortar crate's migrations, in order, plus the application's own.
//!
//! Each Mortar crate with tables exposes `migrations()`; add them here as you adopt the crate,
//! then your own below them. `App::build` runs pending migrations at start-up.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// The application's migrator.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        // No capability crate with tables is wired into the starter yet; the migrator still runs,
        // so the bookkeeping table exists and adding a migration is a one-line change.
        Vec::new()
    }
}
