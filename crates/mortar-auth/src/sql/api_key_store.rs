//! [`SeaOrmApiKeyStore`]: API keys in the application's SQL database.

use std::time::SystemTime;

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, Condition, DatabaseConnection, EntityTrait as _, IntoActiveModel as _,
    QueryFilter as _, QueryOrder as _, TransactionTrait as _,
};

use super::entity::api_key;
use super::{from_millis, map_err, to_millis};
use crate::api_key::{ApiKey, ApiKeyStore};
use crate::error::Error;

/// API keys in the `mortar_api_keys` table (SQLite, PostgreSQL or MariaDB).
#[derive(Clone, Debug)]
pub struct SeaOrmApiKeyStore {
    db: DatabaseConnection,
}

impl SeaOrmApiKeyStore {
    /// A store on this connection (pool). Run [`super::migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn from_model(m: api_key::Model) -> ApiKey {
    ApiKey {
        id: m.id,
        owner: m.owner,
        tenant: m.tenant,
        name: m.name,
        secret_hash: m.secret_hash,
        scopes: m.scopes.split_whitespace().map(str::to_owned).collect(),
        created_at: from_millis(m.created_at),
        expires_at: m.expires_at.map(from_millis),
        revoked_at: m.revoked_at.map(from_millis),
        last_used_at: m.last_used_at.map(from_millis),
    }
}

#[async_trait]
impl ApiKeyStore for SeaOrmApiKeyStore {
    async fn create(&self, key: ApiKey) -> Result<(), Error> {
        let model = api_key::Model {
            id: key.id,
            owner: key.owner,
            tenant: key.tenant,
            name: key.name,
            secret_hash: key.secret_hash,
            scopes: key.scopes.join(" "),
            created_at: to_millis(key.created_at),
            expires_at: key.expires_at.map(to_millis),
            revoked_at: key.revoked_at.map(to_millis),
            last_used_at: key.last_used_at.map(to_millis),
        };
        api_key::Entity::insert(model.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| map_err(e, &["api_key"]))?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<ApiKey>, Error> {
        api_key::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await
            .map(|m| m.map(from_model))
            .map_err(Error::store)
    }

    async fn list_for_owner(&self, owner: &str) -> Result<Vec<ApiKey>, Error> {
        let rows = api_key::Entity::find()
            .filter(api_key::Column::Owner.eq(owner))
            .order_by_desc(api_key::Column::CreatedAt)
            .order_by_desc(api_key::Column::Id)
            .all(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(rows.into_iter().map(from_model).collect())
    }

    async fn revoke(&self, id: &str, now: SystemTime) -> Result<bool, Error> {
        let result = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(to_millis(now)))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(result.rows_affected == 1)
    }

    async fn record_usage(&self, usage: &[(String, SystemTime)]) -> Result<(), Error> {
        // One transaction per batch: the flush interval, not the request rate, sets the writes.
        let txn = self.db.begin().await.map_err(Error::store)?;
        for (id, at) in usage {
            let at = to_millis(*at);
            api_key::Entity::update_many()
                .col_expr(api_key::Column::LastUsedAt, Expr::value(at))
                .filter(api_key::Column::Id.eq(id.as_str()))
                .filter(
                    Condition::any()
                        .add(api_key::Column::LastUsedAt.is_null())
                        .add(api_key::Column::LastUsedAt.lt(at)),
                )
                .exec(&txn)
                .await
                .map_err(Error::store)?;
        }
        txn.commit().await.map_err(Error::store)
    }
}
