//! [`RedisRevocations`]: revocations every app instance sees (feature `redis`).
//!
//! Keys (under a configurable prefix, default `mortar:auth:`): `rv:jti:<jti>` and
//! `rv:sid:<session>` expire when the token or session would have anyway; `rv:sub:<subject>`
//! holds the cut-off in epoch milliseconds and lives as long as the longest session. A check is a
//! single `MGET` of the three keys: one round trip.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use deadpool_redis::Pool;
use deadpool_redis::redis::{self, AsyncCommands as _};

use super::access::Revocations;
use crate::error::Error;

/// [`Revocations`] in Redis, shared by every instance.
#[derive(Clone)]
pub struct RedisRevocations {
    pool: Pool,
    prefix: String,
    cutoff_ttl: Duration,
}

impl std::fmt::Debug for RedisRevocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRevocations")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the epoch, never negative (Redis expiry arguments).
fn millis(t: SystemTime) -> u64 {
    u64::try_from(crate::time::to_millis(t)).unwrap_or(0)
}

impl RedisRevocations {
    /// Revocations on this pool, under `mortar:auth:`. Subject cut-offs are kept 31 days
    /// (longer than the default 30-day session); set [`RedisRevocations::cutoff_ttl`] to your
    /// longest session.
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            prefix: "mortar:auth:".to_owned(),
            cutoff_ttl: Duration::from_hours(31 * 24),
        }
    }

    /// Sets the key prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets how long subject cut-offs are kept.
    #[must_use]
    pub fn cutoff_ttl(mut self, ttl: Duration) -> Self {
        self.cutoff_ttl = ttl;
        self
    }

    async fn connection(&self) -> Result<deadpool_redis::Connection, Error> {
        self.pool.get().await.map_err(Error::store)
    }

    async fn set_until(&self, key: String, value: u64, until: SystemTime) -> Result<(), Error> {
        let mut conn = self.connection().await?;
        // PXAT in the past would fail; a revocation that has already run its course needs no key.
        let until = millis(until);
        if until <= millis(SystemTime::now()) {
            return Ok(());
        }
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PXAT")
            .arg(until)
            .query_async::<()>(&mut conn)
            .await
            .map_err(Error::store)
    }
}

#[async_trait]
impl Revocations for RedisRevocations {
    async fn is_revoked(
        &self,
        jti: &str,
        subject: &str,
        session: Option<&str>,
        issued_at: SystemTime,
    ) -> Result<bool, Error> {
        let mut conn = self.connection().await?;
        let keys = [
            format!("{}rv:jti:{jti}", self.prefix),
            format!("{}rv:sid:{}", self.prefix, session.unwrap_or("")),
            format!("{}rv:sub:{subject}", self.prefix),
        ];
        let (token, sid, cutoff): (Option<u64>, Option<u64>, Option<u64>) = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .map_err(Error::store)?;
        let session_revoked = session.is_some() && sid.is_some();
        let before_cutoff = cutoff.is_some_and(|cutoff| millis(issued_at) < cutoff);
        Ok(token.is_some() || session_revoked || before_cutoff)
    }

    async fn revoke_token(&self, jti: &str, expires_at: SystemTime) -> Result<(), Error> {
        self.set_until(format!("{}rv:jti:{jti}", self.prefix), 1, expires_at)
            .await
    }

    async fn revoke_session(&self, session: &str, until: SystemTime) -> Result<(), Error> {
        self.set_until(format!("{}rv:sid:{session}", self.prefix), 1, until)
            .await
    }

    async fn revoke_subject_before(&self, subject: &str, before: SystemTime) -> Result<(), Error> {
        let mut conn = self.connection().await?;
        let ttl_ms = u64::try_from(self.cutoff_ttl.as_millis()).unwrap_or(u64::MAX);
        conn.set_ex::<_, _, ()>(
            format!("{}rv:sub:{subject}", self.prefix),
            millis(before),
            ttl_ms.div_ceil(1000),
        )
        .await
        .map_err(Error::store)
    }
}
