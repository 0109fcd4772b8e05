//! [`SeaOrmCodeStore`]: code hashes in the application's SQL database.

use std::time::SystemTime;

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, EntityTrait as _, IntoActiveModel as _, QueryFilter as _,
};

use super::entity::code;
use super::{from_millis, map_err, to_millis};
use crate::code::{CodeRecord, CodeStore, Purpose};
use crate::error::Error;
use crate::user::UserId;

/// Code hashes in the `mortar_codes` table (SQLite, PostgreSQL or MariaDB).
#[derive(Clone, Debug)]
pub struct SeaOrmCodeStore {
    db: DatabaseConnection,
}

impl SeaOrmCodeStore {
    /// A store on this connection (pool). Run [`super::migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl CodeStore for SeaOrmCodeStore {
    async fn put(&self, hash: &str, record: CodeRecord) -> Result<(), Error> {
        // Expired codes are garbage: remove them on the way (cheap with few rows per user).
        code::Entity::delete_many()
            .filter(code::Column::ExpiresAt.lte(to_millis(record.created_at)))
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        let model = code::Model {
            hash: hash.to_owned(),
            purpose: record.purpose.as_str().to_owned(),
            user_id: record.user_id.as_uuid(),
            expires_at: to_millis(record.expires_at),
            created_at: to_millis(record.created_at),
        };
        code::Entity::insert(model.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| map_err(e, &["code"]))?;
        Ok(())
    }

    async fn take(
        &self,
        hash: &str,
        purpose: Purpose,
        now: SystemTime,
    ) -> Result<Option<CodeRecord>, Error> {
        let Some(row) = code::Entity::find_by_id(hash.to_owned())
            .filter(code::Column::Purpose.eq(purpose.as_str()))
            .one(&self.db)
            .await
            .map_err(Error::store)?
        else {
            return Ok(None);
        };
        // Whoever deletes the row owns the code: of concurrent takers exactly one sees a
        // deleted row.
        let deleted = code::Entity::delete_many()
            .filter(code::Column::Hash.eq(hash))
            .filter(code::Column::Purpose.eq(purpose.as_str()))
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        if deleted.rows_affected != 1 || row.expires_at <= to_millis(now) {
            return Ok(None);
        }
        Ok(Some(CodeRecord {
            purpose,
            user_id: UserId::from(row.user_id),
            expires_at: from_millis(row.expires_at),
            created_at: from_millis(row.created_at),
        }))
    }

    async fn revoke(&self, user_id: UserId, purpose: Purpose) -> Result<u64, Error> {
        let deleted = code::Entity::delete_many()
            .filter(code::Column::UserId.eq(user_id.as_uuid()))
            .filter(code::Column::Purpose.eq(purpose.as_str()))
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(deleted.rows_affected)
    }
}
