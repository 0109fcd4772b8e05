//! [`SeaOrmPasskeyStore`]: passkeys in the application's SQL database.

use std::time::SystemTime;

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, EntityTrait as _, IntoActiveModel as _, QueryFilter as _,
    QueryOrder as _,
};
use webauthn_rs::prelude::Passkey;

use super::entity::passkey;
use super::{from_millis, map_err, to_millis};
use crate::code::hash_token;
use crate::error::Error;
use crate::passkey::{PasskeyCredential, PasskeyStore};
use crate::user::UserId;

/// Passkeys in `mortar_passkeys` (SQLite, PostgreSQL or MariaDB), keyed by the SHA-256 of the
/// credential id, so a credential registers once under any concurrency.
#[derive(Clone, Debug)]
pub struct SeaOrmPasskeyStore {
    db: DatabaseConnection,
}

impl SeaOrmPasskeyStore {
    /// A store on this connection (pool). Run [`super::migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_credential(row: passkey::Model) -> Result<PasskeyCredential, Error> {
    let key: Passkey = serde_json::from_str(&row.passkey)
        .map_err(|e| Error::Store(format!("passkey {}: {e}", row.id).into()))?;
    let mut credential = PasskeyCredential::new(
        UserId::from(row.user_id),
        row.name,
        key,
        from_millis(row.created_at),
    );
    credential.last_used_at = row.last_used_at.map(from_millis);
    Ok(credential)
}

fn json(key: &Passkey) -> Result<String, Error> {
    serde_json::to_string(key).map_err(Error::internal)
}

#[async_trait]
impl PasskeyStore for SeaOrmPasskeyStore {
    async fn insert(&self, credential: PasskeyCredential) -> Result<(), Error> {
        let model = passkey::Model {
            id_hash: hash_token(&credential.id),
            passkey: json(&credential.passkey)?,
            id: credential.id,
            user_id: credential.user_id.as_uuid(),
            name: credential.name,
            created_at: to_millis(credential.created_at),
            last_used_at: credential.last_used_at.map(to_millis),
        };
        passkey::Entity::insert(model.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| match map_err(e, &["passkey"]) {
                Error::Conflict(_) => Error::Conflict("passkey"),
                other => other,
            })?;
        Ok(())
    }

    async fn for_user(&self, user_id: UserId) -> Result<Vec<PasskeyCredential>, Error> {
        passkey::Entity::find()
            .filter(passkey::Column::UserId.eq(user_id.as_uuid()))
            .order_by_asc(passkey::Column::CreatedAt)
            .order_by_asc(passkey::Column::Id)
            .all(&self.db)
            .await
            .map_err(Error::store)?
            .into_iter()
            .map(to_credential)
            .collect()
    }

    async fn update(&self, id: &str, key: &Passkey, used_at: SystemTime) -> Result<(), Error> {
        let updated = passkey::Entity::update_many()
            .col_expr(passkey::Column::Passkey, Expr::value(json(key)?))
            .col_expr(
                passkey::Column::LastUsedAt,
                Expr::value(Some(to_millis(used_at))),
            )
            .filter(passkey::Column::IdHash.eq(hash_token(id)))
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        if updated.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    async fn remove(&self, user_id: UserId, id: &str) -> Result<bool, Error> {
        let deleted = passkey::Entity::delete_many()
            .filter(passkey::Column::IdHash.eq(hash_token(id)))
            .filter(passkey::Column::UserId.eq(user_id.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(deleted.rows_affected > 0)
    }
}
