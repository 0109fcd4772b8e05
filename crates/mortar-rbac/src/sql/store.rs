//! [`SeaOrmPolicyStore`]: roles, assignments and parents in SQL tables.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, IsolationLevel, QueryFilter as _, QueryOrder as _, TransactionTrait as _,
};
use sha2::{Digest as _, Sha256};

use super::entity::{assignment, parent, role, version};
use crate::error::Error;
use crate::model::{Assignment, Parent, Policy, ResourceId, Role};
use crate::store::PolicyStore;

/// A policy in `mortar_rbac_*` tables (SQLite, PostgreSQL or MariaDB). Every write runs in one
/// transaction with the bump of `mortar_rbac_version` (writers queue on it), and [`PolicyStore::load_versioned`]
/// reads the tables and the version from one snapshot, so an instance never builds its index
/// from half a change.
#[derive(Clone, Debug)]
pub struct SeaOrmPolicyStore {
    db: DatabaseConnection,
}

impl SeaOrmPolicyStore {
    /// A store on this connection (pool). Run [`super::migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// A transaction reading one snapshot of every table (loads).
    async fn begin_snapshot(&self) -> Result<DatabaseTransaction, Error> {
        // SQLite transactions are serializable already (and it refuses the setting).
        let level = match self.db.get_database_backend() {
            DbBackend::Sqlite => None,
            _ => Some(IsolationLevel::RepeatableRead),
        };
        self.db
            .begin_with_config(level, None)
            .await
            .map_err(store_err)
    }

    /// Runs `write` in a transaction that first bumps the version: the bump takes the version
    /// row's lock (on SQLite, the write lock) before anything is read, so writers queue behind
    /// one another instead of failing, and a change commits together with its bump. A write
    /// that changes nothing rolls back, bump included.
    async fn write<F>(&self, write: F) -> Result<bool, Error>
    where
        F: for<'t> FnOnce(
            &'t DatabaseTransaction,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<bool, DbErr>> + Send + 't>,
        >,
    {
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
        match write(&tx).await {
            Ok(true) => {
                tx.commit().await.map_err(store_err)?;
                Ok(true)
            }
            Ok(false) => {
                tx.rollback().await.map_err(store_err)?;
                Ok(false)
            }
            // The same row exists already (inserted by a writer outside this store, which the
            // version lock does not order): nothing to do; the transaction rolls back on drop.
            Err(err) if is_duplicate(&err) => Ok(false),
            Err(err) => Err(store_err(err)),
        }
    }
}

#[allow(clippy::needless_pass_by_value, reason = "the shape `map_err` takes")]
fn store_err(err: DbErr) -> Error {
    Error::Store(err.to_string())
}

fn is_duplicate(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The identity of an assignment: SHA-256 over its fields, each length-prefixed (so no two
/// different assignments share it), absent fields marked apart from empty ones.
fn assignment_key(a: &Assignment) -> String {
    let resource = a.resource.as_ref().map(ToString::to_string);
    key_of(&[
        Some(a.subject.as_str()),
        Some(a.role.as_str()),
        a.tenant.as_deref(),
        resource.as_deref(),
        a.when.as_deref(),
    ])
}

fn parent_key(p: &Parent) -> String {
    key_of(&[Some(&p.child.to_string()), Some(&p.parent.to_string())])
}

fn key_of(fields: &[Option<&str>]) -> String {
    let mut hash = Sha256::new();
    for field in fields {
        match field {
            None => hash.update([0]),
            Some(text) => {
                hash.update([1]);
                hash.update((text.len() as u64).to_be_bytes());
                hash.update(text.as_bytes());
            }
        }
    }
    hex::encode(hash.finalize())
}

fn resource_of(text: &str) -> Result<ResourceId, Error> {
    text.parse()
}

async fn read_version(conn: &impl ConnectionTrait) -> Result<u64, Error> {
    let row = version::Entity::find_by_id(1)
        .one(conn)
        .await
        .map_err(store_err)?
        .ok_or_else(|| Error::Store("mortar_rbac_version has no row: run the migration".into()))?;
    Ok(u64::try_from(row.version).unwrap_or(0))
}

#[async_trait]
impl PolicyStore for SeaOrmPolicyStore {
    async fn load(&self) -> Result<Policy, Error> {
        Ok(self.load_versioned().await?.0)
    }

    async fn load_versioned(&self) -> Result<(Policy, u64), Error> {
        let tx = self.begin_snapshot().await?;
        let version = read_version(&tx).await?;
        let mut policy = Policy::new();
        for row in role::Entity::find().all(&tx).await.map_err(store_err)? {
            let role: Role = serde_json::from_str(&row.definition).map_err(|e| {
                Error::Store(format!("role {:?}: stored definition: {e}", row.name))
            })?;
            policy.roles.insert(row.name, role);
        }
        for row in assignment::Entity::find()
            .order_by_asc(assignment::Column::Seq)
            .all(&tx)
            .await
            .map_err(store_err)?
        {
            let mut a = Assignment::new(row.subject, row.role);
            a.tenant = row.tenant;
            a.resource = row.resource.as_deref().map(resource_of).transpose()?;
            a.when = row.condition;
            policy.assignments.push(a);
        }
        for row in parent::Entity::find()
            .order_by_asc(parent::Column::Seq)
            .all(&tx)
            .await
            .map_err(store_err)?
        {
            policy.parents.push(Parent {
                child: resource_of(&row.child)?,
                parent: resource_of(&row.parent)?,
            });
        }
        tx.commit().await.map_err(store_err)?;
        Ok((policy, version))
    }

    async fn version(&self) -> Result<u64, Error> {
        read_version(&self.db).await
    }

    async fn put_role(&self, name: &str, role: &Role) -> Result<(), Error> {
        let definition =
            serde_json::to_string(role).map_err(|e| Error::Store(format!("role {name:?}: {e}")))?;
        let model = role::Model {
            name: name.to_owned(),
            description: role.description.clone(),
            definition,
            updated_at: now_ms(),
        };
        // An upsert by hand (read, then update or insert): portable, and race-free because
        // `write` holds the version row's lock before reading.
        self.write(move |tx| {
            Box::pin(async move {
                let exists = role::Entity::find_by_id(model.name.clone())
                    .one(tx)
                    .await?
                    .is_some();
                let row: role::ActiveModel = model.into();
                if exists {
                    role::Entity::update(sea_orm::ActiveModelTrait::reset_all(row))
                        .exec(tx)
                        .await?;
                } else {
                    role::Entity::insert(row).exec_without_returning(tx).await?;
                }
                Ok(true)
            })
        })
        .await
        .map(drop)
    }

    async fn delete_role(&self, name: &str) -> Result<bool, Error> {
        let name = name.to_owned();
        self.write(move |tx| {
            Box::pin(async move {
                assignment::Entity::delete_many()
                    .filter(assignment::Column::Role.eq(&name))
                    .exec(tx)
                    .await?;
                let deleted = role::Entity::delete_by_id(name).exec(tx).await?;
                Ok(deleted.rows_affected > 0)
            })
        })
        .await
    }

    async fn assign(&self, a: &Assignment) -> Result<bool, Error> {
        let key = assignment_key(a);
        let row = assignment::ActiveModel {
            seq: sea_orm::ActiveValue::NotSet,
            key: sea_orm::ActiveValue::Set(key.clone()),
            subject: sea_orm::ActiveValue::Set(a.subject.clone()),
            role: sea_orm::ActiveValue::Set(a.role.clone()),
            tenant: sea_orm::ActiveValue::Set(a.tenant.clone()),
            resource: sea_orm::ActiveValue::Set(a.resource.as_ref().map(ToString::to_string)),
            condition: sea_orm::ActiveValue::Set(a.when.clone()),
            created_at: sea_orm::ActiveValue::Set(now_ms()),
        };
        self.write(move |tx| Box::pin(insert_new(tx, assignment::Column::Key, key, row)))
            .await
    }

    async fn unassign(&self, a: &Assignment) -> Result<bool, Error> {
        let key = assignment_key(a);
        self.write(move |tx| {
            Box::pin(delete_by_key::<assignment::Entity>(
                tx,
                assignment::Column::Key,
                key,
            ))
        })
        .await
    }

    async fn add_parent(&self, p: &Parent) -> Result<bool, Error> {
        let key = parent_key(p);
        let row = parent::ActiveModel {
            seq: sea_orm::ActiveValue::NotSet,
            key: sea_orm::ActiveValue::Set(key.clone()),
            child: sea_orm::ActiveValue::Set(p.child.to_string()),
            parent: sea_orm::ActiveValue::Set(p.parent.to_string()),
        };
        self.write(move |tx| Box::pin(insert_new(tx, parent::Column::Key, key, row)))
            .await
    }

    async fn remove_parent(&self, p: &Parent) -> Result<bool, Error> {
        let key = parent_key(p);
        self.write(move |tx| {
            Box::pin(delete_by_key::<parent::Entity>(
                tx,
                parent::Column::Key,
                key,
            ))
        })
        .await
    }
}

/// Inserts `row` unless a row with this identity `key` exists; `false` when one does. Run
/// inside `write`, which holds the version lock, so no other writer can insert in between.
async fn insert_new<A>(
    tx: &DatabaseTransaction,
    key_column: <A::Entity as EntityTrait>::Column,
    key: String,
    row: A,
) -> Result<bool, DbErr>
where
    A: sea_orm::ActiveModelTrait + Send,
{
    let exists = A::Entity::find()
        .filter(key_column.eq(key))
        .one(tx)
        .await?
        .is_some();
    if !exists {
        A::Entity::insert(row).exec_without_returning(tx).await?;
    }
    Ok(!exists)
}

/// Deletes the row with this identity `key`; `false` when there was none.
async fn delete_by_key<E: EntityTrait>(
    tx: &DatabaseTransaction,
    key_column: E::Column,
    key: String,
) -> Result<bool, DbErr> {
    let deleted = E::delete_many().filter(key_column.eq(key)).exec(tx).await?;
    Ok(deleted.rows_affected > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_absent_from_empty_and_split_fields_apart() {
        let a = Assignment::new("ab", "c");
        let b = Assignment::new("a", "bc");
        assert_ne!(assignment_key(&a), assignment_key(&b));
        assert_ne!(
            assignment_key(&Assignment::new("a", "b")),
            assignment_key(&Assignment::new("a", "b").in_tenant(""))
        );
        assert_eq!(assignment_key(&a), assignment_key(&a.clone()));
        assert_eq!(assignment_key(&a).len(), 64);
    }
}
