//! Flags in Redis (feature `redis`): [`RedisFlagStore`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::Pool;
use deadpool_redis::redis::{self as r, AsyncCommands as _};
use futures_util::StreamExt as _;
use tokio::sync::Notify;

use crate::definition::{FlagDefinition, FlagSet};
use crate::error::Error;
use crate::experiment::AssignmentStore;
use crate::source::{FlagSource, FlagStore};

/// Flags in a Redis hash (`{prefix}flags`: key → flagd JSON of the flag). Every write also
/// increments `{prefix}flags:version` and publishes the new version on the channel
/// `{prefix}flags:changed`, atomically (one Lua script), so every instance watching the store
/// reloads within milliseconds.
///
/// Pub/sub delivers at most once, so the watcher also reads the version every few seconds
/// (default 5 s) and after each reconnect: a message lost while disconnected delays a change,
/// never loses it.
///
/// ```no_run
/// use mortar_flags::FeatureFlags;
/// use mortar_flags::redis::RedisFlagStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let url = "redis://127.0.0.1:6379";
/// let pool = deadpool_redis::Config::from_url(url).create_pool(Some(deadpool_redis::Runtime::Tokio1))?;
/// let store = RedisFlagStore::new(pool, redis::Client::open(url)?).prefix("myapp:");
/// let flags = FeatureFlags::builder().source(store).build().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisFlagStore {
    pool: Pool,
    client: r::Client,
    prefix: Arc<str>,
    resync: Duration,
}

impl fmt::Debug for RedisFlagStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client's connection info may hold a password.
        f.debug_struct("RedisFlagStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn store_err(err: &impl fmt::Display) -> Error {
    Error::Store(err.to_string())
}

impl RedisFlagStore {
    /// A store on `pool` for reads and writes, and `client` for the pub/sub connection
    /// (pub/sub needs a connection of its own). Keys are prefixed `mortar:` until
    /// [`RedisFlagStore::prefix`].
    pub fn new(pool: Pool, client: r::Client) -> Self {
        Self {
            pool,
            client,
            prefix: Arc::from("mortar:"),
            resync: Duration::from_secs(5),
        }
    }

    /// The key prefix (so several apps can share a Redis).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = Arc::from(prefix);
        self
    }

    /// How often the watcher reads the version besides listening (default 5 s).
    #[must_use]
    pub fn resync_every(mut self, every: Duration) -> Self {
        self.resync = every.max(Duration::from_millis(50));
        self
    }

    fn hash(&self) -> String {
        format!("{}flags", self.prefix)
    }

    fn version_key(&self) -> String {
        format!("{}flags:version", self.prefix)
    }

    fn channel(&self) -> String {
        format!("{}flags:changed", self.prefix)
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, Error> {
        self.pool.get().await.map_err(|e| store_err(&e))
    }

    async fn version(&self) -> Result<u64, Error> {
        let mut conn = self.conn().await?;
        let v: Option<u64> = conn
            .get(self.version_key())
            .await
            .map_err(|e| store_err(&e))?;
        Ok(v.unwrap_or(0))
    }

    /// Writes (or removes, with `None`) a flag, bumps the version and announces it, all in one
    /// script (atomic on the server: no instance sees the flag without the bump, and a write
    /// that returned has been announced); answers the previous definition. Removing a flag
    /// that does not exist changes nothing.
    async fn write(
        &self,
        key: &str,
        flag: Option<&FlagDefinition>,
    ) -> Result<Option<FlagDefinition>, Error> {
        let json = flag
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::Parse(e.to_string()))?;
        let mut conn = self.conn().await?;
        let (existed, previous): (i64, String) = WRITE
            .key(self.hash())
            .key(self.version_key())
            .key(self.channel())
            .arg(key)
            .arg(json.as_deref().unwrap_or(""))
            .arg(if json.is_some() { "put" } else { "del" })
            .invoke_async(&mut *conn)
            .await
            .map_err(|e| store_err(&e))?;
        if existed == 0 {
            return Ok(None);
        }
        // The write is done; a previous value that no longer parses is not its failure.
        Ok(parse(key, &previous)
            .inspect_err(|e| tracing::warn!(flag = key, error = %e, "mortar-flags: the replaced flag did not parse"))
            .ok())
    }

    /// One subscription's life: notifies after subscribing (a change may have been missed
    /// while disconnected), on each message, and when the version moved between messages.
    async fn follow(&self, changed: &Notify, seen: &mut u64) -> Result<(), Error> {
        let mut pubsub = self
            .client
            .get_async_pubsub()
            .await
            .map_err(|e| store_err(&e))?;
        pubsub
            .subscribe(self.channel())
            .await
            .map_err(|e| store_err(&e))?;
        let now = self.version().await?;
        if now != *seen {
            *seen = now;
            changed.notify_one();
        }
        let mut messages = pubsub.on_message();
        let mut tick = tokio::time::interval(self.resync);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else {
                        return Err(Error::Store("pub/sub connection closed".into()));
                    };
                    if let Ok(version) = message.get_payload::<u64>() {
                        *seen = (*seen).max(version);
                    }
                    changed.notify_one();
                }
                _ = tick.tick() => {
                    let now = self.version().await?;
                    if now != *seen {
                        *seen = now;
                        changed.notify_one();
                    }
                }
            }
        }
    }
}

/// KEYS: hash, version, channel; ARGV: flag key, JSON, `put` | `del`. Answers {existed, previous}.
static WRITE: std::sync::LazyLock<r::Script> = std::sync::LazyLock::new(|| {
    r::Script::new(
        r"
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[3] == 'del' then
  if not prev then return {0, ''} end
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local version = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', KEYS[3], version)
if prev then return {1, prev} end
return {0, ''}
",
    )
});

fn parse(key: &str, text: &str) -> Result<FlagDefinition, Error> {
    serde_json::from_str(text).map_err(|e| Error::Parse(format!("stored flag {key:?}: {e}")))
}

#[async_trait]
impl FlagSource for RedisFlagStore {
    async fn load(&self) -> Result<FlagSet, Error> {
        let mut conn = self.conn().await?;
        let entries: Vec<(String, String)> =
            conn.hgetall(self.hash()).await.map_err(|e| store_err(&e))?;
        let mut set = FlagSet::new();
        for (key, text) in entries {
            match parse(&key, &text) {
                Ok(flag) => {
                    set.flags.insert(key, flag);
                }
                Err(e) => set.mark_broken(key, e.to_string()),
            }
        }
        Ok(set)
    }

    async fn watch(&self, changed: Arc<Notify>) -> Result<(), Error> {
        let mut seen = self.version().await.unwrap_or(0);
        changed.notify_one();
        let mut backoff = Duration::from_millis(100);
        loop {
            let started = tokio::time::Instant::now();
            if let Err(e) = self.follow(&changed, &mut seen).await {
                tracing::warn!(error = %e, "mortar-flags: Redis subscription lost; reconnecting");
            }
            // A subscription that lived a while was healthy: start backing off afresh.
            if started.elapsed() > Duration::from_secs(30) {
                backoff = Duration::from_millis(100);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

#[async_trait]
impl FlagStore for RedisFlagStore {
    async fn get(&self, key: &str) -> Result<Option<FlagDefinition>, Error> {
        let mut conn = self.conn().await?;
        let text: Option<String> = conn
            .hget(self.hash(), key)
            .await
            .map_err(|e| store_err(&e))?;
        text.map(|t| parse(key, &t)).transpose()
    }

    async fn put(&self, key: &str, flag: &FlagDefinition) -> Result<Option<FlagDefinition>, Error> {
        self.write(key, Some(flag)).await
    }

    async fn delete(&self, key: &str) -> Result<Option<FlagDefinition>, Error> {
        self.write(key, None).await
    }
}

/// Sticky experiment assignments in Redis (`{prefix}flags:assignments:{flag}`: subject →
/// variant), shared by every instance ([`crate::FeatureFlagsBuilder::assignments`]); the first
/// assignment wins (`HSETNX`).
#[derive(Clone)]
pub struct RedisAssignments {
    pool: Pool,
    prefix: Arc<str>,
}

impl fmt::Debug for RedisAssignments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAssignments")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisAssignments {
    /// Assignments on `pool`, keys prefixed `mortar:` until [`RedisAssignments::prefix`].
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            prefix: Arc::from("mortar:"),
        }
    }

    /// The key prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = Arc::from(prefix);
        self
    }

    fn key(&self, flag: &str) -> String {
        format!("{}flags:assignments:{flag}", self.prefix)
    }
}

#[async_trait]
impl AssignmentStore for RedisAssignments {
    async fn get(&self, flag: &str, subject: &str) -> Result<Option<String>, Error> {
        let mut conn = self.pool.get().await.map_err(|e| store_err(&e))?;
        conn.hget(self.key(flag), subject)
            .await
            .map_err(|e| store_err(&e))
    }

    async fn put(&self, flag: &str, subject: &str, variant: &str) -> Result<(), Error> {
        let mut conn = self.pool.get().await.map_err(|e| store_err(&e))?;
        let _: bool = conn
            .hset_nx(self.key(flag), subject, variant)
            .await
            .map_err(|e| store_err(&e))?;
        Ok(())
    }
}
