//! [`SeaOrmUserStore`]: users in the application's SQL database.

use std::time::SystemTime;

use async_trait::async_trait;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DatabaseConnection,
    EntityTrait as _, IntoActiveModel as _, QueryFilter as _,
};

use super::entity::user;
use super::{from_millis, map_err, to_millis};
use crate::error::Error;
use crate::user::{
    NewUser, User, UserChange, UserId, UserStore, apply, normalize_email, normalize_username,
};

/// Users in the `mortar_users` table (SQLite, PostgreSQL or MariaDB).
#[derive(Clone, Debug)]
pub struct SeaOrmUserStore {
    db: DatabaseConnection,
}

impl SeaOrmUserStore {
    /// A store on this connection (pool). Run [`super::migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn find_one(
        &self,
        condition: sea_orm::sea_query::SimpleExpr,
    ) -> Result<Option<User>, Error> {
        user::Entity::find()
            .filter(condition)
            .one(&self.db)
            .await
            .map(|m| m.map(from_model))
            .map_err(Error::store)
    }
}

fn to_model(user: &User) -> user::Model {
    user::Model {
        id: user.id.as_uuid(),
        email: user.email.clone(),
        email_normalized: normalize_email(&user.email),
        username: user.username.clone(),
        username_normalized: user.username.as_deref().map(normalize_username),
        phone: user.phone.clone(),
        password_hash: user.password_hash.clone(),
        email_verified_at: user.email_verified_at.map(to_millis),
        phone_verified_at: user.phone_verified_at.map(to_millis),
        disabled_at: user.disabled_at.map(to_millis),
        tokens_valid_after: user.tokens_valid_after.map(to_millis),
        created_at: to_millis(user.created_at),
        updated_at: to_millis(user.updated_at),
    }
}

fn from_model(m: user::Model) -> User {
    User {
        id: UserId::from(m.id),
        email: m.email,
        username: m.username,
        phone: m.phone,
        password_hash: m.password_hash,
        email_verified_at: m.email_verified_at.map(from_millis),
        phone_verified_at: m.phone_verified_at.map(from_millis),
        disabled_at: m.disabled_at.map(from_millis),
        tokens_valid_after: m.tokens_valid_after.map(from_millis),
        created_at: from_millis(m.created_at),
        updated_at: from_millis(m.updated_at),
    }
}

const UNIQUE: &[&str] = &["email", "username"];

#[async_trait]
impl UserStore for SeaOrmUserStore {
    async fn create(&self, new: NewUser, now: SystemTime) -> Result<User, Error> {
        let user = new.into_user(now);
        // Times are stored to the millisecond; hand back what a later read returns.
        let model = to_model(&user);
        user::Entity::insert(model.clone().into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| map_err(e, UNIQUE))?;
        Ok(from_model(model))
    }

    async fn by_id(&self, id: UserId) -> Result<Option<User>, Error> {
        user::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map(|m| m.map(from_model))
            .map_err(Error::store)
    }

    async fn by_email(&self, email: &str) -> Result<Option<User>, Error> {
        self.find_one(user::Column::EmailNormalized.eq(normalize_email(email)))
            .await
    }

    async fn by_username(&self, username: &str) -> Result<Option<User>, Error> {
        self.find_one(user::Column::UsernameNormalized.eq(normalize_username(username)))
            .await
    }

    async fn update(&self, id: UserId, change: UserChange, now: SystemTime) -> Result<User, Error> {
        let mut user = self.by_id(id).await?.ok_or(Error::NotFound)?;
        apply(&mut user, change, now);
        let model = to_model(&user);
        // Only the columns a change can touch; the row is matched by id.
        let active = user::ActiveModel {
            id: Set(model.id),
            password_hash: Set(model.password_hash.clone()),
            email_verified_at: Set(model.email_verified_at),
            phone_verified_at: Set(model.phone_verified_at),
            disabled_at: Set(model.disabled_at),
            tokens_valid_after: Set(model.tokens_valid_after),
            updated_at: Set(model.updated_at),
            ..Default::default()
        };
        active.update(&self.db).await.map_err(|e| match e {
            sea_orm::DbErr::RecordNotUpdated => Error::NotFound,
            e => map_err(e, UNIQUE),
        })?;
        Ok(from_model(model))
    }

    async fn delete(&self, id: UserId) -> Result<(), Error> {
        let result = user::Entity::delete_many()
            .filter(user::Column::Id.eq(id.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        if result.rows_affected == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }
}
