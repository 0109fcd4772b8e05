//! [`RedisAttemptLimiter`]: mortar-core's [`AttemptLimiter`] shared by every instance.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::Pool;
use deadpool_redis::redis::{self, Script};
use mortar_core::{AttemptError, AttemptKey, AttemptLimiter, AttemptStatus};

/// Counts a failure on Redis's clock. KEYS: the key's hash. ARGV: free failures, base lock (ms),
/// longest lock (ms), window (ms). Returns failures so far and the lock left (ms, 0 for none).
/// A failure more than a window after the last one starts the count afresh (the hash expires).
const FAILURE: &str = r"
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local free = tonumber(ARGV[1]); local base = tonumber(ARGV[2])
local max = tonumber(ARGV[3]); local window = tonumber(ARGV[4])
local failures = redis.call('HINCRBY', KEYS[1], 'f', 1)
local until_ = tonumber(redis.call('HGET', KEYS[1], 'l') or '0')
if failures > free then
  local doublings = math.min(failures - free - 1, 31)
  local lock = math.min(base * (2 ^ doublings), max)
  until_ = now + lock
  redis.call('HSET', KEYS[1], 'l', string.format('%.0f', until_))
end
local left = math.max(until_ - now, 0)
redis.call('PEXPIRE', KEYS[1], math.max(window, left))
return {failures, left}
";

/// Reads a key. KEYS: the key's hash. Returns failures and the lock left (ms).
const CHECK: &str = r"
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000 + math.floor(tonumber(now_t[2]) / 1000)
local f = redis.call('HMGET', KEYS[1], 'f', 'l')
local failures = tonumber(f[1] or '0')
local left = math.max(tonumber(f[2] or '0') - now, 0)
return {failures, left}
";

static FAILURE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(FAILURE));
static CHECK_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CHECK));

/// Login, one-time-code and reset attempts counted in Redis (feature `redis`), so a guesser
/// cannot spread attempts over instances: per key (account, client address), a number of free
/// failures, then locks doubling from `base` up to `max`; a success resets the key; keys expire
/// a window after their last failure. The same semantics as mortar-auth's
/// `MemoryAttemptLimiter` (one conformance suite runs on both), on Redis's clock.
///
/// A Redis failure is an [`AttemptError`]: mortar-auth's login then fails closed.
///
/// ```
/// use mortar_ratelimit::RedisAttemptLimiter;
///
/// // Creating the pool does not connect yet.
/// let pool = deadpool_redis::Config::from_url("redis://127.0.0.1:6379")
///     .create_pool(Some(deadpool_redis::Runtime::Tokio1))
///     .unwrap();
/// let limiter = RedisAttemptLimiter::new(pool).free_failures(5);
/// // Accounts::builder(users, codes).limiter(limiter)
/// # let _ = limiter;
/// ```
#[derive(Clone)]
#[must_use]
pub struct RedisAttemptLimiter {
    pool: Pool,
    prefix: String,
    free_failures: u32,
    base_lockout: Duration,
    max_lockout: Duration,
    window: Duration,
}

impl fmt::Debug for RedisAttemptLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAttemptLimiter")
            .field("prefix", &self.prefix)
            .field("free_failures", &self.free_failures)
            .field("base_lockout", &self.base_lockout)
            .field("max_lockout", &self.max_lockout)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisAttemptLimiter {
    /// 5 free failures per 15 minutes, then 1 s doubling up to 15 minutes, under
    /// `mortar:attempts:`.
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            prefix: "mortar:attempts:".to_owned(),
            free_failures: 5,
            base_lockout: Duration::from_secs(1),
            max_lockout: Duration::from_mins(15),
            window: Duration::from_mins(15),
        }
    }

    /// Sets the key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How many failures are allowed before the first lock.
    pub fn free_failures(mut self, n: u32) -> Self {
        self.free_failures = n;
        self
    }

    /// The first lock's length (then doubled per failure) and the longest lock.
    pub fn lockout(mut self, base: Duration, max: Duration) -> Self {
        self.base_lockout = base;
        self.max_lockout = max.max(base);
        self
    }

    /// How long failures are remembered after the last one.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    fn key(&self, key: &AttemptKey) -> String {
        format!("{}{}:{}", self.prefix, key.scope(), key.value())
    }

    fn status(&self, failures: u64, left_ms: u64) -> AttemptStatus {
        if left_ms > 0 {
            AttemptStatus::Locked {
                retry_after: Duration::from_millis(left_ms),
            }
        } else {
            AttemptStatus::Allowed {
                remaining: Some(
                    self.free_failures
                        .saturating_sub(u32::try_from(failures).unwrap_or(u32::MAX)),
                ),
            }
        }
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, AttemptError> {
        self.pool.get().await.map_err(AttemptError::new)
    }
}

#[async_trait]
impl AttemptLimiter for RedisAttemptLimiter {
    async fn check(&self, key: &AttemptKey) -> Result<AttemptStatus, AttemptError> {
        let mut conn = self.conn().await?;
        let (failures, left): (u64, u64) = CHECK_SCRIPT
            .key(self.key(key))
            .invoke_async(&mut conn)
            .await
            .map_err(AttemptError::new)?;
        Ok(self.status(failures, left))
    }

    async fn record_failure(&self, key: &AttemptKey) -> Result<AttemptStatus, AttemptError> {
        let mut conn = self.conn().await?;
        let (failures, left): (u64, u64) = FAILURE_SCRIPT
            .key(self.key(key))
            .arg(self.free_failures)
            .arg(millis(self.base_lockout))
            .arg(millis(self.max_lockout))
            .arg(millis(self.window))
            .invoke_async(&mut conn)
            .await
            .map_err(AttemptError::new)?;
        Ok(self.status(failures, left))
    }

    async fn reset(&self, key: &AttemptKey) -> Result<(), AttemptError> {
        let mut conn = self.conn().await?;
        redis::cmd("DEL")
            .arg(self.key(key))
            .query_async::<()>(&mut conn)
            .await
            .map_err(AttemptError::new)
    }
}
