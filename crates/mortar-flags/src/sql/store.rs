//! [`SeaOrmFlagStore`]: flags in a SQL table.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter as _, TransactionTrait as _,
};
use tokio::sync::Notify;

use super::entity::{assignment, flag, version};
use crate::definition::{FlagDefinition, FlagSet};
use crate::error::Error;
use crate::experiment::AssignmentStore;
use crate::source::{FlagSource, FlagStore};

/// Flags in `mortar_flags` (SQLite, PostgreSQL or MariaDB), one row per flag holding its flagd
/// JSON. Every write runs in one transaction with the bump of `mortar_flags_version` (writers
/// queue on that row), and watchers poll that one row (every second by default), so every
/// instance sees a change within the interval.
#[derive(Clone, Debug)]
pub struct SeaOrmFlagStore {
    db: DatabaseConnection,
    interval: Duration,
}

#[allow(clippy::needless_pass_by_value, reason = "the shape `map_err` takes")]
fn store_err(err: DbErr) -> Error {
    Error::Store(err.to_string())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn parse(key: &str, text: &str) -> Result<FlagDefinition, Error> {
    serde_json::from_str(text).map_err(|e| Error::Parse(format!("stored flag {key:?}: {e}")))
}

async fn read_version(conn: &impl ConnectionTrait) -> Result<i64, Error> {
    Ok(version::Entity::find_by_id(1)
        .one(conn)
        .await
        .map_err(store_err)?
        .ok_or_else(|| Error::Store("mortar_flags_version has no row: run the migration".into()))?
        .version)
}

impl SeaOrmFlagStore {
    /// A store on this connection (pool). Run [`super::migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            interval: Duration::from_secs(1),
        }
    }

    /// How often watchers read the version row (default 1 s, at least 10 ms).
    #[must_use]
    pub fn poll_every(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Writes (or removes, with `None`) a flag in one transaction with the version bump, which
    /// takes the version row's lock first so concurrent writers queue; answers the previous
    /// definition.
    async fn write(
        &self,
        key: &str,
        new: Option<&FlagDefinition>,
    ) -> Result<Option<FlagDefinition>, Error> {
        let json = new
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::Parse(e.to_string()))?;
        let tx = self.db.begin().await.map_err(store_err)?;
        version::Entity::update_many()
            .col_expr(
                version::Column::Version,
                Expr::col(version::Column::Version).add(1),
            )
            .filter(version::Column::Id.eq(1))
            .exec(&tx)
            .await
            .map_err(store_err)?;
        let previous = flag::Entity::find_by_id(key.to_owned())
            .one(&tx)
            .await
            .map_err(store_err)?;
        match (&previous, json) {
            (Some(_), Some(json)) => {
                let row = flag::ActiveModel {
                    key: sea_orm::ActiveValue::Unchanged(key.to_owned()),
                    definition: sea_orm::ActiveValue::Set(json),
                    updated_at: sea_orm::ActiveValue::Set(now_ms()),
                };
                row.update(&tx).await.map_err(store_err)?;
            }
            (None, Some(json)) => {
                let row = flag::ActiveModel {
                    key: sea_orm::ActiveValue::Set(key.to_owned()),
                    definition: sea_orm::ActiveValue::Set(json),
                    updated_at: sea_orm::ActiveValue::Set(now_ms()),
                };
                flag::Entity::insert(row)
                    .exec_without_returning(&tx)
                    .await
                    .map_err(store_err)?;
            }
            (Some(_), None) => {
                flag::Entity::delete_by_id(key.to_owned())
                    .exec(&tx)
                    .await
                    .map_err(store_err)?;
            }
            (None, None) => {
                // Nothing to delete: roll the bump back too.
                tx.rollback().await.map_err(store_err)?;
                return Ok(None);
            }
        }
        tx.commit().await.map_err(store_err)?;
        // The write is done; a previous value that no longer parses is not its failure.
        Ok(previous.and_then(|row| {
            parse(key, &row.definition)
                .inspect_err(|e| tracing::warn!(flag = key, error = %e, "mortar-flags: the replaced flag did not parse"))
                .ok()
        }))
    }
}

#[async_trait]
impl FlagSource for SeaOrmFlagStore {
    async fn load(&self) -> Result<FlagSet, Error> {
        let mut set = FlagSet::new();
        for row in flag::Entity::find()
            .all(&self.db)
            .await
            .map_err(store_err)?
        {
            match parse(&row.key, &row.definition) {
                Ok(definition) => {
                    set.flags.insert(row.key, definition);
                }
                Err(e) => set.mark_broken(row.key, e.to_string()),
            }
        }
        Ok(set)
    }

    async fn watch(&self, changed: Arc<Notify>) -> Result<(), Error> {
        let mut seen = read_version(&self.db).await.ok();
        changed.notify_one();
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match read_version(&self.db).await {
                Ok(now) if Some(now) != seen => {
                    seen = Some(now);
                    changed.notify_one();
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "mortar-flags: reading the flags' version failed");
                }
            }
        }
    }
}

#[async_trait]
impl FlagStore for SeaOrmFlagStore {
    async fn get(&self, key: &str) -> Result<Option<FlagDefinition>, Error> {
        flag::Entity::find_by_id(key.to_owned())
            .one(&self.db)
            .await
            .map_err(store_err)?
            .map(|row| parse(key, &row.definition))
            .transpose()
    }

    async fn put(&self, key: &str, flag: &FlagDefinition) -> Result<Option<FlagDefinition>, Error> {
        crate::definition::validate_key(key)?;
        self.write(key, Some(flag)).await
    }

    async fn delete(&self, key: &str) -> Result<Option<FlagDefinition>, Error> {
        self.write(key, None).await
    }
}

/// Sticky experiment assignments in `mortar_flags_assignments`, shared by every instance
/// ([`crate::FeatureFlagsBuilder::assignments`]); the first assignment of a subject wins, even
/// when two instances assign at once (the primary key decides).
#[derive(Clone, Debug)]
pub struct SeaOrmAssignments {
    db: DatabaseConnection,
}

impl SeaOrmAssignments {
    /// Assignments on this connection (pool). Run [`super::migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl AssignmentStore for SeaOrmAssignments {
    async fn get(&self, flag: &str, subject: &str) -> Result<Option<String>, Error> {
        Ok(
            assignment::Entity::find_by_id((flag.to_owned(), subject.to_owned()))
                .one(&self.db)
                .await
                .map_err(store_err)?
                .map(|row| row.variant),
        )
    }

    async fn put(&self, flag: &str, subject: &str, variant: &str) -> Result<(), Error> {
        let row = assignment::ActiveModel {
            flag: sea_orm::ActiveValue::Set(flag.to_owned()),
            subject: sea_orm::ActiveValue::Set(subject.to_owned()),
            variant: sea_orm::ActiveValue::Set(variant.to_owned()),
            assigned_at: sea_orm::ActiveValue::Set(now_ms()),
        };
        match assignment::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await
        {
            Ok(_) => Ok(()),
            // Assigned already (here or by another instance): the first assignment stays.
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(store_err(e)),
        }
    }
}
