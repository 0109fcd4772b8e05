//! [`SeaOrmFactorStore`]: second factors in the application's SQL database.

use std::time::SystemTime;

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, Condition, DatabaseConnection, EntityTrait as _, IntoActiveModel as _,
    PaginatorTrait as _, QueryFilter as _, TransactionTrait as _,
};

use super::entity::{recovery_code, totp};
use super::{from_millis, to_millis};
use crate::error::Error;
use crate::mfa::{FactorStore, TotpAlgorithm, TotpFactor};
use crate::user::UserId;

/// Second factors in `mortar_totp` and `mortar_recovery_codes` (SQLite, PostgreSQL or MariaDB).
/// Every check-and-set (a TOTP step accepted, a recovery code used) is one conditional
/// `UPDATE`, so of concurrent attempts on any number of instances exactly one wins.
#[derive(Clone, Debug)]
pub struct SeaOrmFactorStore {
    db: DatabaseConnection,
}

impl SeaOrmFactorStore {
    /// A store on this connection (pool). Run [`super::migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn step_col(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}

#[async_trait]
impl FactorStore for SeaOrmFactorStore {
    async fn totp(&self, user: UserId) -> Result<Option<TotpFactor>, Error> {
        let Some(row) = totp::Entity::find_by_id(user.as_uuid())
            .one(&self.db)
            .await
            .map_err(Error::store)?
        else {
            return Ok(None);
        };
        Ok(Some(TotpFactor {
            algorithm: TotpAlgorithm::parse(&row.algorithm).ok_or_else(|| {
                Error::Store(format!("unknown TOTP algorithm {:?}", row.algorithm).into())
            })?,
            sealed_secret: row.sealed_secret,
            digits: u32::try_from(row.digits).unwrap_or(6),
            step: u64::try_from(row.step).unwrap_or(30),
            active: row.active,
            last_step: row.last_step.and_then(|s| u64::try_from(s).ok()),
            created_at: from_millis(row.created_at),
        }))
    }

    async fn put_pending_totp(&self, user: UserId, factor: TotpFactor) -> Result<bool, Error> {
        let model = totp::Model {
            user_id: user.as_uuid(),
            sealed_secret: factor.sealed_secret.clone(),
            algorithm: factor.algorithm.as_str().to_owned(),
            digits: i32::try_from(factor.digits).unwrap_or(6),
            step: step_col(factor.step),
            active: false,
            last_step: None,
            created_at: to_millis(factor.created_at),
        };
        // A pending factor is replaced; an active one stays (the update matches no row).
        let replaced = totp::Entity::update_many()
            .col_expr(
                totp::Column::SealedSecret,
                Expr::value(model.sealed_secret.clone()),
            )
            .col_expr(
                totp::Column::Algorithm,
                Expr::value(model.algorithm.clone()),
            )
            .col_expr(totp::Column::Digits, Expr::value(model.digits))
            .col_expr(totp::Column::Step, Expr::value(model.step))
            .col_expr(totp::Column::LastStep, Expr::value(Option::<i64>::None))
            .col_expr(totp::Column::CreatedAt, Expr::value(model.created_at))
            .filter(totp::Column::UserId.eq(user.as_uuid()))
            .filter(totp::Column::Active.eq(false))
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        if replaced.rows_affected == 1 {
            return Ok(true);
        }
        match totp::Entity::insert(model.into_active_model())
            .exec_without_returning(&self.db)
            .await
        {
            Ok(_) => Ok(true),
            // A row exists: active (or a concurrent enrollment won).
            Err(e) => match super::map_err(e, &["totp"]) {
                Error::Conflict(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn use_totp_step(&self, user: UserId, step: u64, activate: bool) -> Result<bool, Error> {
        let step = step_col(step);
        let updated = totp::Entity::update_many()
            .col_expr(totp::Column::LastStep, Expr::value(Some(step)))
            .col_expr(totp::Column::Active, Expr::value(true))
            .filter(totp::Column::UserId.eq(user.as_uuid()))
            .filter(totp::Column::Active.eq(!activate))
            .filter(
                Condition::any()
                    .add(totp::Column::LastStep.is_null())
                    .add(totp::Column::LastStep.lt(step)),
            )
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(updated.rows_affected == 1)
    }

    async fn reseal_totp(&self, user: UserId, old: &str, new: String) -> Result<bool, Error> {
        let updated = totp::Entity::update_many()
            .col_expr(totp::Column::SealedSecret, Expr::value(new))
            .filter(totp::Column::UserId.eq(user.as_uuid()))
            .filter(totp::Column::SealedSecret.eq(old))
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(updated.rows_affected == 1)
    }

    async fn delete_totp(&self, user: UserId) -> Result<bool, Error> {
        let deleted = totp::Entity::delete_by_id(user.as_uuid())
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(deleted.rows_affected > 0)
    }

    async fn set_recovery_codes(
        &self,
        user: UserId,
        hashes: Vec<String>,
        now: SystemTime,
    ) -> Result<(), Error> {
        let txn = self.db.begin().await.map_err(Error::store)?;
        recovery_code::Entity::delete_many()
            .filter(recovery_code::Column::UserId.eq(user.as_uuid()))
            .exec(&txn)
            .await
            .map_err(Error::store)?;
        if !hashes.is_empty() {
            let rows = hashes.into_iter().map(|hash| {
                recovery_code::Model {
                    hash,
                    user_id: user.as_uuid(),
                    used_at: None,
                    created_at: to_millis(now),
                }
                .into_active_model()
            });
            recovery_code::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await
                .map_err(Error::store)?;
        }
        txn.commit().await.map_err(Error::store)
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        now: SystemTime,
    ) -> Result<bool, Error> {
        let updated = recovery_code::Entity::update_many()
            .col_expr(
                recovery_code::Column::UsedAt,
                Expr::value(Some(to_millis(now))),
            )
            .filter(recovery_code::Column::Hash.eq(hash))
            .filter(recovery_code::Column::UserId.eq(user.as_uuid()))
            .filter(recovery_code::Column::UsedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(updated.rows_affected == 1)
    }

    async fn recovery_codes_left(&self, user: UserId) -> Result<usize, Error> {
        let n = recovery_code::Entity::find()
            .filter(recovery_code::Column::UserId.eq(user.as_uuid()))
            .filter(recovery_code::Column::UsedAt.is_null())
            .count(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }
}
