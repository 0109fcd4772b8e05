//! [`SeaOrmSessionStore`]: sessions in the application's SQL database.

use std::time::SystemTime;

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait as _, Condition, DatabaseConnection, EntityTrait as _, IntoActiveModel as _,
    QueryFilter as _, QueryOrder as _,
};

use super::entity::session;
use super::{from_millis, map_err, to_millis};
use crate::error::Error;
use crate::session::{Session, SessionId, SessionKind, SessionStore, TokenMatch};
use crate::user::UserId;

/// Sessions in the `mortar_sessions` table (SQLite, PostgreSQL or MariaDB).
#[derive(Clone, Debug)]
pub struct SeaOrmSessionStore {
    db: DatabaseConnection,
}

impl SeaOrmSessionStore {
    /// A store on this connection (pool). Run [`super::migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn from_model(m: session::Model) -> Session {
    Session {
        id: SessionId::from(m.id),
        kind: SessionKind::parse(&m.kind),
        user_id: UserId::from(m.user_id),
        created_at: from_millis(m.created_at),
        last_seen_at: from_millis(m.last_seen_at),
        expires_at: from_millis(m.expires_at),
        ip: m.ip,
        user_agent: m.user_agent,
        methods: m.methods.split_whitespace().map(str::to_owned).collect(),
        revoked_at: m.revoked_at.map(from_millis),
        token_hash: m.token_hash,
        previous_hash: m.previous_hash,
        generation: u32::try_from(m.generation).unwrap_or(0),
    }
}

#[async_trait]
impl SessionStore for SeaOrmSessionStore {
    async fn create(&self, s: Session) -> Result<(), Error> {
        let model = session::Model {
            id: s.id.as_str().to_owned(),
            kind: s.kind.as_str().to_owned(),
            user_id: s.user_id.as_uuid(),
            created_at: to_millis(s.created_at),
            last_seen_at: to_millis(s.last_seen_at),
            expires_at: to_millis(s.expires_at),
            ip: s.ip,
            user_agent: s.user_agent.map(|ua| ua.chars().take(512).collect()),
            methods: s.methods.join(" "),
            revoked_at: s.revoked_at.map(to_millis),
            token_hash: s.token_hash,
            previous_hash: s.previous_hash,
            generation: i32::try_from(s.generation).unwrap_or(i32::MAX),
        };
        session::Entity::insert(model.into_active_model())
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| map_err(e, &["session"]))?;
        Ok(())
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, Error> {
        session::Entity::find_by_id(id.as_str().to_owned())
            .one(&self.db)
            .await
            .map(|m| m.map(from_model))
            .map_err(Error::store)
    }

    async fn find_by_token(&self, hash: &str) -> Result<Option<(Session, TokenMatch)>, Error> {
        let found = session::Entity::find()
            .filter(
                Condition::any()
                    .add(session::Column::TokenHash.eq(hash))
                    .add(session::Column::PreviousHash.eq(hash)),
            )
            .one(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(found.map(|m| {
            let matched = if m.token_hash == hash {
                TokenMatch::Current
            } else {
                TokenMatch::Previous
            };
            (from_model(m), matched)
        }))
    }

    async fn rotate(
        &self,
        id: &SessionId,
        expected: &str,
        new_hash: &str,
        now: SystemTime,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<bool, Error> {
        // A conditional UPDATE is the compare-and-swap: of concurrent rotations one matches.
        let result = session::Entity::update_many()
            .col_expr(session::Column::TokenHash, Expr::value(new_hash))
            .col_expr(session::Column::PreviousHash, Expr::value(expected))
            .col_expr(
                session::Column::Generation,
                Expr::col(session::Column::Generation).add(1),
            )
            .col_expr(session::Column::LastSeenAt, Expr::value(to_millis(now)))
            .col_expr(session::Column::Ip, Expr::value(ip.map(str::to_owned)))
            .col_expr(
                session::Column::UserAgent,
                Expr::value(user_agent.map(|ua| ua.chars().take(512).collect::<String>())),
            )
            .filter(session::Column::Id.eq(id.as_str()))
            .filter(session::Column::TokenHash.eq(expected))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(result.rows_affected == 1)
    }

    async fn touch(&self, id: &SessionId, now: SystemTime) -> Result<bool, Error> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(to_millis(now)))
            .filter(session::Column::Id.eq(id.as_str()))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(result.rows_affected == 1)
    }

    async fn revoke(&self, id: &SessionId, now: SystemTime) -> Result<bool, Error> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::RevokedAt, Expr::value(to_millis(now)))
            .filter(session::Column::Id.eq(id.as_str()))
            .filter(session::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(result.rows_affected == 1)
    }

    async fn active_for_user(
        &self,
        user_id: UserId,
        now: SystemTime,
    ) -> Result<Vec<Session>, Error> {
        let rows = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id.as_uuid()))
            .filter(session::Column::RevokedAt.is_null())
            .filter(session::Column::ExpiresAt.gt(to_millis(now)))
            .order_by_desc(session::Column::CreatedAt)
            .order_by_desc(session::Column::Id)
            .all(&self.db)
            .await
            .map_err(Error::store)?;
        Ok(rows.into_iter().map(from_model).collect())
    }
}
