//! [`RedisSessionStore`]: sessions in Redis (feature `redis`), shared by every instance.
//!
//! Keys under a prefix (default `mortar:auth:`): `s:<id>` a hash of the session's fields;
//! `t:<hash>` and `p:<hash>` the session id of a current and of a replaced refresh-token hash;
//! `u:<user>` a sorted set of the user's session ids by creation time. Every key expires with the
//! session. Creating, rotating and revoking are Lua scripts, so each is atomic and one round trip:
//! rotation is a compare-and-swap on the current hash.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use deadpool_redis::Pool;
use deadpool_redis::redis::{self, Script};

use super::{Session, SessionId, SessionKind, SessionStore, TokenMatch};
use crate::error::Error;
use crate::time::{from_millis, to_millis};
use crate::user::UserId;

/// Creates the session unless its id or token hash exists. KEYS: s, t, u. ARGV: id, lifetime
/// (ms, expiry minus creation: keys expire by duration, so the caller's clock and Redis's need
/// not agree), created (ms), then field/value pairs.
const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
return 1
";

/// Compare-and-swap of the current token hash. KEYS: s, t:new, p:expected, t:expected.
/// ARGV: id, expected, new, now, ip, ua.
const ROTATE: &str = r"
local f = redis.call('HMGET', KEYS[1], 'token_hash', 'revoked_at', 'expires_at', 'previous_hash')
if f[1] ~= ARGV[2] or (f[2] and f[2] ~= '') then return 0 end
local left = tonumber(f[3]) - tonumber(ARGV[4])
if left < 1 then return 0 end
redis.call('HSET', KEYS[1], 'token_hash', ARGV[3], 'previous_hash', ARGV[2],
  'last_seen_at', ARGV[4], 'ip', ARGV[5], 'user_agent', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'generation', 1)
redis.call('DEL', KEYS[4])
redis.call('SET', KEYS[2], ARGV[1], 'PX', left)
redis.call('SET', KEYS[3], ARGV[1], 'PX', left)
return 1
";

/// Marks the session revoked if it exists and is not. KEYS: s. ARGV: now.
const REVOKE: &str = r"
local revoked = redis.call('HGET', KEYS[1], 'revoked_at')
if revoked == false or revoked ~= '' then return 0 end
redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
return 1
";

/// Sets the last use of a live session. KEYS: s. ARGV: now.
const TOUCH: &str = r"
local revoked = redis.call('HGET', KEYS[1], 'revoked_at')
if revoked == false or revoked ~= '' then return 0 end
redis.call('HSET', KEYS[1], 'last_seen_at', ARGV[1])
return 1
";

/// The scripts, hashed once; invocations use `EVALSHA` (loading a script only if Redis lacks it).
static CREATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CREATE));
static ROTATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ROTATE));
static REVOKE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(REVOKE));
static TOUCH_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(TOUCH));

/// Sessions in Redis.
#[derive(Clone)]
pub struct RedisSessionStore {
    pool: Pool,
    prefix: String,
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisSessionStore {
    /// Sessions on this pool under `mortar:auth:`.
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            prefix: "mortar:auth:".to_owned(),
        }
    }

    /// Sets the key prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, Error> {
        self.pool.get().await.map_err(Error::store)
    }

    async fn load(
        &self,
        conn: &mut deadpool_redis::Connection,
        id: &str,
    ) -> Result<Option<Session>, Error> {
        let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key("s", id))
            .query_async(conn)
            .await
            .map_err(Error::store)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
        let time = |name: &str| {
            fields
                .get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .map(from_millis)
        };
        let optional = |name: &str| fields.get(name).filter(|v| !v.is_empty()).cloned();
        let user_id = text("user_id").parse::<UserId>().map_err(Error::store)?;
        Ok(Some(Session {
            id: SessionId::from(id.to_owned()),
            kind: SessionKind::parse(&text("kind")),
            user_id,
            created_at: time("created_at").unwrap_or(UNIX_EPOCH),
            last_seen_at: time("last_seen_at").unwrap_or(UNIX_EPOCH),
            expires_at: time("expires_at").unwrap_or(UNIX_EPOCH),
            ip: optional("ip"),
            user_agent: optional("user_agent"),
            methods: text("methods")
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            revoked_at: optional("revoked_at")
                .and_then(|v| v.parse::<i64>().ok())
                .map(from_millis),
            token_hash: text("token_hash"),
            previous_hash: optional("previous_hash"),
            generation: text("generation").parse().unwrap_or(0),
        }))
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, s: Session) -> Result<(), Error> {
        let mut conn = self.conn().await?;
        let fields: Vec<(&str, String)> = vec![
            ("kind", s.kind.as_str().to_owned()),
            ("user_id", s.user_id.to_string()),
            ("created_at", to_millis(s.created_at).to_string()),
            ("last_seen_at", to_millis(s.last_seen_at).to_string()),
            ("expires_at", to_millis(s.expires_at).to_string()),
            ("ip", s.ip.clone().unwrap_or_default()),
            ("user_agent", s.user_agent.clone().unwrap_or_default()),
            ("methods", s.methods.join(" ")),
            (
                "revoked_at",
                s.revoked_at
                    .map(|t| to_millis(t).to_string())
                    .unwrap_or_default(),
            ),
            ("token_hash", s.token_hash.clone()),
            ("previous_hash", s.previous_hash.clone().unwrap_or_default()),
            ("generation", s.generation.to_string()),
        ];
        let mut invocation = CREATE_SCRIPT.prepare_invoke();
        invocation
            .key(self.key("s", s.id.as_str()))
            .key(self.key("t", &s.token_hash))
            .key(self.key("u", &s.user_id.to_string()))
            .arg(s.id.as_str())
            .arg((to_millis(s.expires_at) - to_millis(s.created_at)).max(1))
            .arg(to_millis(s.created_at));
        for (name, value) in fields {
            invocation.arg(name).arg(value);
        }
        let created: i32 = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(Error::store)?;
        if created == 1 {
            Ok(())
        } else {
            Err(Error::Conflict("session"))
        }
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, Error> {
        let mut conn = self.conn().await?;
        self.load(&mut conn, id.as_str()).await
    }

    async fn find_by_token(&self, hash: &str) -> Result<Option<(Session, TokenMatch)>, Error> {
        let mut conn = self.conn().await?;
        let (current, previous): (Option<String>, Option<String>) = redis::cmd("MGET")
            .arg(self.key("t", hash))
            .arg(self.key("p", hash))
            .query_async(&mut conn)
            .await
            .map_err(Error::store)?;
        let (id, matched) = match (current, previous) {
            (Some(id), _) => (id, TokenMatch::Current),
            (None, Some(id)) => (id, TokenMatch::Previous),
            (None, None) => return Ok(None),
        };
        Ok(self.load(&mut conn, &id).await?.map(|s| (s, matched)))
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
        let mut conn = self.conn().await?;
        let rotated: i32 = ROTATE_SCRIPT
            .key(self.key("s", id.as_str()))
            .key(self.key("t", new_hash))
            .key(self.key("p", expected))
            .key(self.key("t", expected))
            .arg(id.as_str())
            .arg(expected)
            .arg(new_hash)
            .arg(to_millis(now))
            .arg(ip.unwrap_or_default())
            .arg(user_agent.unwrap_or_default())
            .invoke_async(&mut conn)
            .await
            .map_err(Error::store)?;
        Ok(rotated == 1)
    }

    async fn touch(&self, id: &SessionId, now: SystemTime) -> Result<bool, Error> {
        let mut conn = self.conn().await?;
        let touched: i32 = TOUCH_SCRIPT
            .key(self.key("s", id.as_str()))
            .arg(to_millis(now))
            .invoke_async(&mut conn)
            .await
            .map_err(Error::store)?;
        Ok(touched == 1)
    }

    async fn revoke(&self, id: &SessionId, now: SystemTime) -> Result<bool, Error> {
        let mut conn = self.conn().await?;
        let revoked: i32 = REVOKE_SCRIPT
            .key(self.key("s", id.as_str()))
            .arg(to_millis(now))
            .invoke_async(&mut conn)
            .await
            .map_err(Error::store)?;
        Ok(revoked == 1)
    }

    async fn active_for_user(
        &self,
        user_id: UserId,
        now: SystemTime,
    ) -> Result<Vec<Session>, Error> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.key("u", &user_id.to_string()))
            .arg(0)
            .arg(-1)
            .arg("REV")
            .query_async(&mut conn)
            .await
            .map_err(Error::store)?;
        let mut active = Vec::new();
        for id in ids {
            if let Some(s) = self.load(&mut conn, &id).await?
                && s.revoked_at.is_none()
                && s.expires_at > now
            {
                active.push(s);
            }
        }
        active.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(active)
    }
}
