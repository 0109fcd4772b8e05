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
        // Mortar's crates first (each names its migrations after itself), then the app's own.
        mortar::auth::sql::migrations()
    }
}
