//! Storage in the application's own SQL database through sea-orm (features `sqlite`,
//! `postgres`, `mysql`): migrations, entities and the stores.
//!
//! Add [`migrations`] to your migrator (or run [`Migrator`] when mortar-auth is the only crate
//! with tables), then hand the connection to the stores:
//!
//! ```no_run
//! use mortar_auth::sql::{Migrator, SeaOrmUserStore};
//! use sea_orm_migration::MigratorTrait as _;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = sea_orm::Database::connect("sqlite://app.db?mode=rwc").await?;
//! Migrator::up(&db, None).await?;
//! let users = SeaOrmUserStore::new(db);
//! # Ok(()) }
//! ```
//!
//! Times are stored as milliseconds since the Unix epoch (`BIGINT`), the one representation that
//! behaves identically on SQLite, PostgreSQL and MariaDB.

mod api_key_store;
mod code_store;
pub mod entity;
#[cfg(feature = "totp")]
mod factor_store;
#[cfg(feature = "oauth")]
mod identity_store;
mod migration;
#[cfg(feature = "webauthn")]
mod passkey_store;
mod session_store;
mod user_store;

use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub use api_key_store::SeaOrmApiKeyStore;
pub use code_store::SeaOrmCodeStore;
#[cfg(feature = "totp")]
pub use factor_store::SeaOrmFactorStore;
#[cfg(feature = "oauth")]
pub use identity_store::{SeaOrmIdentityStore, SeaOrmSsoDirectory};
#[cfg(feature = "webauthn")]
pub use passkey_store::SeaOrmPasskeyStore;
pub use session_store::SeaOrmSessionStore;
pub use user_store::SeaOrmUserStore;

/// mortar-auth's migrations, in order, for the application's own migrator.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(migration::CreateUsers),
        Box::new(migration::CreateCodes),
        Box::new(migration::CreateSessions),
        Box::new(migration::CreateApiKeys),
        Box::new(migration::AddSessionKind),
        Box::new(migration::CreateSecondFactors),
        Box::new(migration::CreateIdentities),
        Box::new(migration::CreatePasskeys),
    ]
}

/// A migrator with only mortar-auth's migrations.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }
}

pub(crate) use crate::time::{from_millis, to_millis};

/// Maps a backend error: unique-constraint violations become [`crate::Error::Conflict`] naming
/// the field (found in the constraint or column name), the rest [`crate::Error::Store`].
pub(crate) fn map_err(err: sea_orm::DbErr, fields: &[&'static str]) -> crate::Error {
    if let Some(sea_orm::SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
        let detail = detail.to_lowercase();
        for field in fields {
            if detail.contains(field) {
                return crate::Error::Conflict(field);
            }
        }
        return crate::Error::Conflict(fields.first().copied().unwrap_or("key"));
    }
    crate::Error::store(err)
}
