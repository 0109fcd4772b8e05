//! [`RedisLimiter`]: the same GCRA shared by every instance, one round trip per check.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use deadpool_redis::Pool;
use deadpool_redis::redis::Script;

use crate::error::Error;
use crate::quota::{Check, Decision, Quota};

/// Checks every key of one request atomically, on Redis's own clock (`TIME`), so instances'
/// clocks never matter. Times in microseconds (exact in Lua's doubles until the year 2255).
///
/// KEYS: the keys. ARGV: consume (`1`/`0`), then per key `t`, `tau`, `burst`, `cost`.
/// Returns per key: allowed (0/1), remaining, reset (µs), retry (µs, -1 for none). Nothing is
/// written unless every key allows the request (and `consume`); remaining and reset then describe
/// the keys as they are.
const GCRA: &str = r"
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
local consume = ARGV[1] == '1'
local all = true
local tats, nexts, params, out = {}, {}, {}, {}
local function remaining(tat, t, tau, burst)
  local budget = now + tau + t
  if budget <= tat then return 0 end
  return math.min(math.floor((budget - tat) / t), burst)
end
for i = 1, #KEYS do
  local t = tonumber(ARGV[4 * i - 2]); local tau = tonumber(ARGV[4 * i - 1])
  local burst = tonumber(ARGV[4 * i]); local cost = tonumber(ARGV[4 * i + 1])
  params[i] = {t, tau, burst}
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local weight = t * (cost - 1)
  local earliest = tat + weight - tau
  tats[i] = tat
  if cost > burst or now < earliest then
    all = false
    local retry = -1
    if cost <= burst then retry = earliest - now end
    out[#out + 1] = 0; out[#out + 1] = remaining(tat, t, tau, burst)
    out[#out + 1] = tat - now; out[#out + 1] = retry
    nexts[i] = false
  else
    nexts[i] = tat + weight + t
    out[#out + 1] = 1; out[#out + 1] = remaining(nexts[i], t, tau, burst)
    out[#out + 1] = nexts[i] - now; out[#out + 1] = -1
  end
end
if all and consume then
  for i = 1, #KEYS do
    redis.call('SET', KEYS[i], string.format('%.0f', nexts[i]), 'PX', math.ceil((nexts[i] - now) / 1000) + 1)
  end
else
  -- Nothing taken: report what is left now.
  for i = 1, #KEYS do
    if nexts[i] then
      out[4 * i - 2] = remaining(tats[i], params[i][1], params[i][2], params[i][3])
      out[4 * i - 1] = tats[i] - now
    end
  end
end
for i = 1, #out do out[i] = math.floor(out[i]) end
return out
";

/// Loaded once; each call is an `EVALSHA` (the script is sent again only if Redis lost it).
static GCRA_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(GCRA));

/// Keyed GCRA in Redis (feature `redis`): every instance sharing the Redis shares the limits.
///
/// One `EVALSHA` per check, whatever the number of limits on the request (a burst limit and a
/// daily quota are checked and taken together, atomically); no `MULTI`/`WATCH`. Keys expire
/// when their state becomes indistinguishable from a fresh one. A call that takes longer than
/// the timeout (default 50 ms) fails with [`Error::Timeout`], so a slow Redis never holds
/// requests; what then happens is each policy's declared failure mode.
///
/// With Redis Cluster, give the keys of one request a common hash tag.
#[derive(Clone)]
pub struct RedisLimiter {
    pool: Pool,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Microseconds, at least 1.
fn micros(nanos: u64) -> u64 {
    (nanos / 1_000).max(1)
}

impl RedisLimiter {
    /// Limits on this pool, under keys `mortar:rl:…`.
    pub fn new(pool: Pool) -> Self {
        Self {
            pool,
            prefix: "mortar:rl:".to_owned(),
            timeout: Duration::from_millis(50),
        }
    }

    /// The Lua source run on Redis for every check, for operators who review (or preload, with
    /// `SCRIPT LOAD`) what runs on their server.
    pub fn script() -> &'static str {
        GCRA
    }

    /// Sets the key prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets how long a check may take before it fails with [`Error::Timeout`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Takes every check's cost from its key, or nothing from any (see
    /// [`crate::MemoryLimiter::check_all`]); `consume: false` only looks (`peek`).
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when Redis fails, [`Error::Timeout`] when it is slow.
    pub async fn check_all(
        &self,
        checks: &[Check<'_>],
        consume: bool,
    ) -> Result<Vec<Decision>, Error> {
        let call = async {
            let mut conn = self.pool.get().await.map_err(Error::backend)?;
            let mut invocation = GCRA_SCRIPT.prepare_invoke();
            invocation.arg(u8::from(consume));
            for check in checks {
                let gcra = check.quota.gcra();
                let t = micros(gcra.t);
                invocation
                    .key(format!("{}{}", self.prefix, check.key))
                    .arg(t)
                    .arg(t.saturating_mul(u64::from(gcra.burst - 1)))
                    .arg(gcra.burst)
                    .arg(check.cost);
            }
            let raw: Vec<i64> = invocation
                .invoke_async(&mut conn)
                .await
                .map_err(Error::backend)?;
            Ok::<_, Error>(raw)
        };
        let raw = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| Error::Timeout)??;
        if raw.len() != checks.len() * 4 {
            // Never silently drop a limit: a malformed answer is a backend failure.
            return Err(Error::Backend(
                format!(
                    "expected {} values, Redis answered {}",
                    checks.len() * 4,
                    raw.len()
                )
                .into(),
            ));
        }
        let duration = |us: i64| Duration::from_micros(u64::try_from(us).unwrap_or(0));
        Ok(raw
            .chunks_exact(4)
            .zip(checks)
            .map(|(row, check)| {
                Decision::new(
                    row[0] == 1,
                    check.quota.limit(),
                    u32::try_from(row[1]).unwrap_or(0),
                    duration(row[2]),
                    (row[3] >= 0).then(|| duration(row[3])),
                )
            })
            .collect())
    }

    /// Takes `cost` requests from one key.
    ///
    /// # Errors
    ///
    /// As [`Self::check_all`].
    pub async fn check(&self, key: &str, quota: &Quota, cost: u32) -> Result<Decision, Error> {
        let check = Check {
            key,
            quota: *quota,
            cost,
        };
        Self::only(self.check_all(&[check], true).await?)
    }

    /// The one decision of a one-check call (`check_all` answers one per check or fails).
    fn only(mut decisions: Vec<Decision>) -> Result<Decision, Error> {
        decisions
            .pop()
            .ok_or_else(|| Error::Backend("Redis answered no decision".into()))
    }

    /// What a request on `key` would get now, without taking it.
    ///
    /// # Errors
    ///
    /// As [`Self::check_all`].
    pub async fn peek(&self, key: &str, quota: &Quota) -> Result<Decision, Error> {
        Self::only(self.check_all(&[Check::new(key, *quota)], false).await?)
    }
}
