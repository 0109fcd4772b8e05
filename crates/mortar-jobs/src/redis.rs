//! Jobs in Redis (feature `redis`): [`RedisBackend`].
//!
//! Every operation is one Lua script, so each is atomic on the server: a claim cannot hand a
//! job to two workers, an outcome cannot race a rescue. The layout, under the prefix `P`
//! (default `mortar:jobs:`), with `Q` standing for `q:{len}:{queue}:` so no queue name can
//! collide with another's keys:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P job:{id}` | hash | the job's fields |
//! | `P err:{id}` | list | one entry per failed attempt, `attempt\|at\|message` |
//! | `P all` | sorted set (score 0) | every job id, in id (creation) order, for listings |
//! | `P queues`, `P Q names` | sets | the queues, and each queue's job types |
//! | `P Q sched:{name}` | sorted set by `run_at` | pending jobs not yet due (as far as anyone looked) |
//! | `P Q ready:{name}` | sorted set by priority, member `run_at ‖ id` | due pending jobs, in claim order |
//! | `P Q running` | sorted set by lease expiry | running jobs, for the rescuer |
//! | `P Q completed` / `discarded` / `cancelled` | sorted sets by finish time | finished jobs, for retention |
//! | `P unique:{key}` | string | the id of the job holding a unique key |
//!
//! A claim first moves the due jobs of `sched` into `ready` (up to 1000 per type per claim),
//! then takes the lowest `(priority, run_at, id)` across the requested types. Enqueues,
//! retries and rescues that make a job due `PUBLISH` on `P wake`, which wakes idle workers at
//! once; delayed jobs are found by the worker's poll.
//!
//! Redis keeps jobs only as durably as it is configured to: run it with AOF
//! (`appendonly yes`, `appendfsync everysec` or `always`) where losing the last second of
//! enqueues on a crash is not acceptable. Scripts build key names from the prefix, so use one
//! Redis server (or a Sentinel group), not a Cluster, unless the prefix holds a hash tag such
//! as `{jobs}:` that puts every key in one slot.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, OnceLock, Weak};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use deadpool_redis::Pool;
use deadpool_redis::redis::{self as r};
use futures_util::StreamExt as _;

use crate::backend::{JobBackend, WakeSignal};
use crate::error::{Error, Result};
use crate::job::JobId;
use crate::memory::LEASE_EXPIRED;
use crate::record::{
    AttemptError, ClaimRequest, Enqueued, JobFilter, JobRecord, JobState, Lease, NewJob, Outcome,
    OutcomeKind, QueueStats, Rescued, from_micros, micros,
};

/// Jobs kept in Redis, claimed and settled by atomic Lua scripts; idle workers are woken over
/// pub/sub.
///
/// ```no_run
/// use mortar_jobs::Jobs;
/// use mortar_jobs::redis::RedisBackend;
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = RedisBackend::from_url("redis://127.0.0.1:6379")?.prefix("myapp:jobs:");
/// let jobs = Jobs::new(backend);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    pool: Pool,
    client: r::Client,
    prefix: Arc<str>,
    wake: Arc<WakeSignal>,
    listening: Arc<OnceLock<()>>,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client's connection info may hold a password.
        f.debug_struct("RedisBackend")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// Jobs per enqueue script: a batch larger than this is written in several scripts. Kept small
/// enough that one script answers well within the Redis client's response timeout (500 ms by
/// default) on a loaded server: 1000 jobs per script timed out on a busy two-core machine.
const ENQUEUE_CHUNK: usize = 250;
/// Expired leases handled per rescue script.
const RESCUE_CHUNK: usize = 200;
/// Job ids looked at per listing or purge script (bounds how long one script blocks Redis).
const SCAN_CHUNK: usize = 2000;
/// Finished jobs deleted per retention script.
const PRUNE_CHUNK: usize = 1000;

fn redis_err(what: &'static str) -> impl Fn(r::RedisError) -> Error {
    move |e| Error::backend(what, e)
}

impl RedisBackend {
    /// A backend on `pool` for commands and `client` for the pub/sub connection that wakes idle
    /// workers (pub/sub needs a connection of its own). Keys are prefixed `mortar:jobs:` until
    /// [`RedisBackend::prefix`].
    pub fn new(pool: Pool, client: r::Client) -> Self {
        Self {
            pool,
            client,
            prefix: Arc::from("mortar:jobs:"),
            wake: Arc::default(),
            listening: Arc::default(),
        }
    }

    /// A backend with its own pool (deadpool's defaults) on the server at `url`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the URL does not parse.
    pub fn from_url(url: &str) -> Result<Self> {
        let pool = deadpool_redis::Config::from_url(url)
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| Error::invalid("url", e.to_string()))?;
        let client = r::Client::open(url).map_err(|e| Error::invalid("url", e.to_string()))?;
        Ok(Self::new(pool, client))
    }

    /// The key prefix (so several apps can share a Redis).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = Arc::from(prefix);
        self
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection> {
        self.pool
            .get()
            .await
            .map_err(|e| Error::backend("connecting to Redis", e))
    }

    /// Runs `script` with the prefix as its first argument and `args` after it.
    async fn run<T: r::FromRedisValue>(
        &self,
        script: &r::Script,
        what: &'static str,
        args: Vec<String>,
    ) -> Result<T> {
        let mut conn = self.conn().await?;
        let mut call = script.prepare_invoke();
        call.arg(&*self.prefix);
        for a in args {
            call.arg(a);
        }
        call.invoke_async(&mut *conn).await.map_err(redis_err(what))
    }

    /// Subscribes to `P wake` once, in the background, for as long as the backend lives.
    fn listen(&self) {
        if self.listening.set(()).is_err() {
            return;
        }
        let client = self.client.clone();
        let channel = format!("{}wake", self.prefix);
        let wake = Arc::downgrade(&self.wake);
        tokio::spawn(async move {
            loop {
                if let Err(e) = follow(&client, &channel, &wake).await {
                    tracing::warn!(target: "mortar::jobs", error = %e, "Redis wake-up subscription lost; polling until it is back");
                }
                let Some(signal) = wake.upgrade() else { return };
                // Something may have been published while disconnected.
                signal.wake();
                drop(signal);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    async fn enqueue_chunk(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let mut args = Vec::with_capacity(jobs.len() * 11);
        for job in jobs {
            let payload =
                serde_json::to_string(&job.payload).map_err(|e| Error::Payload(e.to_string()))?;
            let (ukey, clears) = job
                .unique
                .map_or((String::new(), false), |u| (u.key, u.clears_on_finish));
            args.extend([
                id_str(job.id),
                job.name,
                job.queue,
                payload,
                job.priority.to_string(),
                micros(job.run_at).to_string(),
                micros(job.created_at).to_string(),
                job.max_attempts.to_string(),
                job.timeout
                    .map(|t| i64::try_from(t.as_micros()).unwrap_or(i64::MAX).to_string())
                    .unwrap_or_default(),
                ukey,
                if clears { "1" } else { "0" }.to_owned(),
            ]);
        }
        let rows: Vec<(i64, String)> = self.run(&ENQUEUE, "enqueueing jobs", args).await?;
        rows.into_iter()
            .map(|(inserted, id)| {
                let id = parse_id(&id)?;
                Ok(if inserted == 1 {
                    Enqueued::inserted(id)
                } else {
                    Enqueued::duplicate(id)
                })
            })
            .collect()
    }

    /// Runs a scan script (listing or purging) over every job id; answers the matches as
    /// `(id, fields, errors)` (fields and errors only when listing).
    async fn scan(&self, mode: &str, filter: &JobFilter, want: usize) -> Result<Vec<Row>> {
        let states = if filter.states.is_empty() {
            String::new()
        } else {
            let mut s = String::from(",");
            for st in &filter.states {
                s.push_str(st.as_str());
                s.push(',');
            }
            s
        };
        let mut cursor = String::new();
        let mut found = Vec::new();
        loop {
            let (last, seen, rows): (String, usize, Vec<Row>) = self
                .run(
                    &SCAN,
                    "listing jobs",
                    vec![
                        mode.to_owned(),
                        cursor,
                        SCAN_CHUNK.to_string(),
                        want.saturating_sub(found.len()).to_string(),
                        states.clone(),
                        filter.queue.clone().unwrap_or_default(),
                        filter.name.clone().unwrap_or_default(),
                    ],
                )
                .await?;
            found.extend(rows);
            if seen < SCAN_CHUNK || found.len() >= want {
                return Ok(found);
            }
            cursor = last;
        }
    }
}

/// A job as scripts answer it: its id, its hash as flat field/value pairs, its error list.
type Row = (String, Vec<String>, Vec<String>);

/// One pub/sub connection's life: a wake-up per message, until it drops or the backend does.
async fn follow(client: &r::Client, channel: &str, wake: &Weak<WakeSignal>) -> Result<()> {
    let mut pubsub = client
        .get_async_pubsub()
        .await
        .map_err(redis_err("subscribing"))?;
    pubsub
        .subscribe(channel)
        .await
        .map_err(redis_err("subscribing"))?;
    // Subscribed: anything published from now on arrives; wake in case something came before.
    match wake.upgrade() {
        Some(signal) => signal.wake(),
        None => return Ok(()),
    }
    let mut messages = pubsub.on_message();
    let mut alive = tokio::time::interval(Duration::from_secs(10));
    loop {
        tokio::select! {
            message = messages.next() => {
                if message.is_none() {
                    return Err(Error::Backend("pub/sub connection closed".into()));
                }
                match wake.upgrade() {
                    Some(signal) => signal.wake(),
                    None => return Ok(()),
                }
            }
            _ = alive.tick() => {
                if wake.strong_count() == 0 {
                    return Ok(());
                }
            }
        }
    }
}

fn id_str(id: JobId) -> String {
    id.as_uuid().hyphenated().to_string()
}

fn parse_id(s: &str) -> Result<JobId> {
    s.parse()
        .map_err(|_| Error::Backend(format!("Redis holds a malformed job id {s:?}")))
}

fn num<T: std::str::FromStr>(fields: &HashMap<String, String>, key: &str) -> Result<T> {
    fields
        .get(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Error::Backend(format!("stored job: field {key} is missing or malformed")))
}

fn time(fields: &HashMap<String, String>, key: &str) -> Result<Option<SystemTime>> {
    match fields.get(key).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(_) => num::<i64>(fields, key).map(|m| Some(from_micros(m))),
    }
}

/// A job from its hash (flat field/value pairs) and its error list.
fn decode(id: &str, flat: Vec<String>, errors: &[String]) -> Result<JobRecord> {
    let mut fields = HashMap::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        fields.insert(k, v);
    }
    let text = |key: &str| fields.get(key).cloned().unwrap_or_default();
    let payload = serde_json::from_str(&text("payload"))
        .map_err(|e| Error::Payload(format!("stored job {id}: {e}")))?;
    let state: JobState = text("state").parse()?;
    let timeout = match fields.get("timeout").map(String::as_str) {
        None | Some("") => None,
        Some(_) => Some(Duration::from_micros(num::<u64>(&fields, "timeout")?)),
    };
    let errors = errors
        .iter()
        .map(|e| {
            let mut parts = e.splitn(3, '|');
            let attempt = parts.next().and_then(|a| a.parse().ok());
            let at = parts.next().and_then(|a| a.parse().ok());
            match (attempt, at, parts.next()) {
                (Some(attempt), Some(at), Some(error)) => Ok(AttemptError {
                    attempt,
                    at: from_micros(at),
                    error: error.to_owned(),
                }),
                _ => Err(Error::Backend(format!(
                    "stored job {id}: malformed error entry"
                ))),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(JobRecord {
        id: parse_id(id)?,
        name: text("name"),
        queue: text("queue"),
        payload,
        state,
        priority: num(&fields, "priority")?,
        attempt: num(&fields, "attempt")?,
        max_attempts: num(&fields, "max")?,
        run_at: from_micros(num(&fields, "run_at")?),
        created_at: from_micros(num(&fields, "created")?),
        attempted_at: time(&fields, "attempted")?,
        finished_at: time(&fields, "finished")?,
        lease_until: time(&fields, "lease")?,
        timeout,
        unique_key: Some(text("ukey")).filter(|k| !k.is_empty()),
        errors,
    })
}

#[async_trait]
impl JobBackend for RedisBackend {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let mut out = self.enqueue_chunk(vec![job]).await?;
        out.pop()
            .ok_or_else(|| Error::Backend("enqueue script answered nothing".into()))
    }

    /// Each run of up to 1000 jobs is written by one script, atomically; a larger batch that
    /// fails part-way keeps the runs before the failure (the error is returned).
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let mut out = Vec::with_capacity(jobs.len());
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let chunk: Vec<NewJob> = jobs.by_ref().take(ENQUEUE_CHUNK).collect();
            out.extend(self.enqueue_chunk(chunk).await?);
        }
        Ok(out)
    }

    async fn claim(&self, req: &ClaimRequest) -> Result<Vec<JobRecord>> {
        if req.names.is_empty() || req.limit == 0 {
            return Ok(Vec::new());
        }
        let mut args = vec![
            req.queue.clone(),
            req.limit.to_string(),
            micros(req.now).to_string(),
            micros(req.lease_until).to_string(),
            req.worker.clone(),
        ];
        args.extend(req.names.iter().cloned());
        let rows: Vec<Row> = self.run(&CLAIM, "claiming jobs", args).await?;
        rows.into_iter()
            .map(|(id, fields, errors)| decode(&id, fields, &errors))
            .collect()
    }

    async fn heartbeat(&self, leases: &[Lease], lease_until: SystemTime) -> Result<()> {
        if leases.is_empty() {
            return Ok(());
        }
        let mut args = vec![micros(lease_until).to_string()];
        for l in leases {
            args.push(id_str(l.id));
            args.push(l.attempt.to_string());
        }
        self.run::<i64>(&HEARTBEAT, "renewing leases", args)
            .await
            .map(drop)
    }

    async fn complete(&self, outcomes: &[Outcome]) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut args = Vec::with_capacity(outcomes.len() * 6);
        for o in outcomes {
            let (kind, run_at, error) = match &o.result {
                OutcomeKind::Completed => ("c", String::new(), String::new()),
                OutcomeKind::Retry { run_at, error } => {
                    ("r", micros(*run_at).to_string(), error.clone())
                }
                OutcomeKind::Discard { error } => ("d", String::new(), error.clone()),
            };
            args.extend([
                id_str(o.lease.id),
                o.lease.attempt.to_string(),
                micros(o.at).to_string(),
                kind.to_owned(),
                run_at,
                error,
            ]);
        }
        self.run::<i64>(&COMPLETE, "recording outcomes", args)
            .await
            .map(drop)
    }

    async fn rescue(&self, now: SystemTime) -> Result<Rescued> {
        let mut out = Rescued::default();
        loop {
            let (retried, discarded): (Vec<String>, Vec<String>) = self
                .run(
                    &RESCUE,
                    "rescuing expired leases",
                    vec![
                        micros(now).to_string(),
                        LEASE_EXPIRED.to_owned(),
                        RESCUE_CHUNK.to_string(),
                    ],
                )
                .await?;
            let n = retried.len() + discarded.len();
            for id in retried {
                out.retried.push(parse_id(&id)?);
            }
            for id in discarded {
                out.discarded.push(parse_id(&id)?);
            }
            if n < RESCUE_CHUNK {
                return Ok(out);
            }
        }
    }

    async fn get(&self, id: JobId) -> Result<Option<JobRecord>> {
        let id = id_str(id);
        let (fields, errors): (Vec<String>, Vec<String>) =
            self.run(&GET, "reading a job", vec![id.clone()]).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode(&id, fields, &errors).map(Some)
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        // The scan script answers each match whole: no read per job afterwards.
        self.scan("list", filter, filter.effective_limit())
            .await?
            .into_iter()
            .map(|(id, fields, errors)| decode(&id, fields, &errors))
            .collect()
    }

    async fn retry(&self, id: JobId, now: SystemTime) -> Result<bool> {
        let n: i64 = self
            .run(
                &RETRY,
                "retrying a job",
                vec![id_str(id), micros(now).to_string()],
            )
            .await?;
        Ok(n == 1)
    }

    async fn cancel(&self, id: JobId, now: SystemTime) -> Result<bool> {
        let n: i64 = self
            .run(
                &CANCEL,
                "cancelling a job",
                vec![id_str(id), micros(now).to_string()],
            )
            .await?;
        Ok(n == 1)
    }

    async fn purge(&self, filter: &JobFilter) -> Result<u64> {
        let ids = self.scan("purge", filter, usize::MAX).await?;
        Ok(ids.len() as u64)
    }

    async fn prune(&self, before: SystemTime) -> Result<u64> {
        let mut total = 0;
        loop {
            let n: u64 = self
                .run(
                    &PRUNE,
                    "pruning finished jobs",
                    vec![micros(before).to_string(), PRUNE_CHUNK.to_string()],
                )
                .await?;
            total += n;
            if n < PRUNE_CHUNK as u64 {
                return Ok(total);
            }
        }
    }

    async fn stats(&self, now: SystemTime) -> Result<Vec<QueueStats>> {
        let rows: Vec<(String, u64, u64, u64, u64, u64, u64, i64)> = self
            .run(&STATS, "reading queue stats", vec![micros(now).to_string()])
            .await?;
        let mut out: Vec<QueueStats> = rows
            .into_iter()
            .map(
                |(
                    queue,
                    available,
                    scheduled,
                    running,
                    completed,
                    discarded,
                    cancelled,
                    waited,
                )| {
                    let mut s = QueueStats::new(queue);
                    s.available = available;
                    s.scheduled = scheduled;
                    s.running = running;
                    s.completed = completed;
                    s.discarded = discarded;
                    s.cancelled = cancelled;
                    s.oldest_available = u64::try_from(waited).ok().map(Duration::from_micros);
                    s
                },
            )
            .collect();
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(out)
    }

    fn wake_epoch(&self) -> u64 {
        self.listen();
        self.wake.epoch()
    }

    async fn wait_for_jobs(&self, _queue: &str, since: u64, timeout: Duration) {
        self.listen();
        self.wake.wait(since, timeout).await;
    }
}

/// Helpers every script starts with. `ARGV[1]` is always the key prefix. Times are
/// microseconds since the Unix epoch, kept as the strings the client sent (a Lua number prints
/// large values in exponent form, so times are never formatted from numbers except through
/// `%016d`, which is exact below 2^53).
const PRELUDE: &str = r"
local P = ARGV[1]
local function jk(id) return P .. 'job:' .. id end
local function ek(id) return P .. 'err:' .. id end
local function qk(q) return P .. 'q:' .. #q .. ':' .. q .. ':' end
local function ready_member(run_at, id) return string.format('%016d', tonumber(run_at)) .. id end
local function wake(q) redis.call('PUBLISH', P .. 'wake', q) end
-- A pending job into its queue's sets: ready when due at `now`, else scheduled.
local function place(id, q, name, prio, run_at, now)
  if tonumber(run_at) <= tonumber(now) then
    redis.call('ZADD', qk(q) .. 'ready:' .. name, prio, ready_member(run_at, id))
    return true
  end
  redis.call('ZADD', qk(q) .. 'sched:' .. name, run_at, id)
  return false
end
local function unplace(id, q, name, run_at)
  redis.call('ZREM', qk(q) .. 'sched:' .. name, id)
  redis.call('ZREM', qk(q) .. 'ready:' .. name, ready_member(run_at, id))
end
local function release_key(ukey, id)
  if ukey and ukey ~= '' then
    local uk = P .. 'unique:' .. ukey
    if redis.call('GET', uk) == id then redis.call('DEL', uk) end
  end
end
-- A job's end: its state, finish time, place in the retention set; a while-active key freed.
local function finish(id, q, state, at)
  redis.call('HSET', jk(id), 'state', state, 'finished', at, 'lease', '')
  redis.call('ZADD', qk(q) .. state, at, id)
  local f = redis.call('HMGET', jk(id), 'ukey', 'uclears')
  if f[2] == '1' and f[1] and f[1] ~= '' then
    release_key(f[1], id)
    redis.call('HSET', jk(id), 'ukey', '')
  end
end
local function add_error(id, attempt, at, msg)
  redis.call('RPUSH', ek(id), attempt .. '|' .. at .. '|' .. msg)
end
local function delete(id)
  local f = redis.call('HMGET', jk(id), 'queue', 'name', 'state', 'run_at', 'ukey')
  redis.call('ZREM', P .. 'all', id)
  if not f[1] then return false end
  local q = f[1]
  unplace(id, q, f[2], f[4])
  redis.call('ZREM', qk(q) .. 'running', id)
  redis.call('ZREM', qk(q) .. f[3], id)
  release_key(f[5], id)
  redis.call('DEL', jk(id), ek(id))
  return true
end
";

fn script(body: &str) -> r::Script {
    r::Script::new(&format!("{PRELUDE}{body}"))
}

/// ARGV: prefix, then 11 per job: id, name, queue, payload, priority, run at, created,
/// max attempts, timeout, unique key, clears-on-finish. Answers `{inserted, id}` per job.
static ENQUEUE: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
local out, woke = {}, {}
for i = 2, #ARGV, 11 do
  local id, name, q, payload, prio, run_at, created, max, timeout, ukey, clears = unpack(ARGV, i, i + 10)
  local holder = false
  if ukey ~= '' then
    holder = redis.call('GET', P .. 'unique:' .. ukey)
    if holder and redis.call('EXISTS', jk(holder)) == 0 then holder = false end
  end
  if holder then
    out[#out + 1] = {0, holder}
  else
    if ukey ~= '' then redis.call('SET', P .. 'unique:' .. ukey, id) end
    redis.call('HSET', jk(id), 'name', name, 'queue', q, 'payload', payload, 'state', 'pending',
      'priority', prio, 'attempt', '0', 'max', max, 'run_at', run_at, 'created', created,
      'attempted', '', 'finished', '', 'lease', '', 'timeout', timeout, 'ukey', ukey,
      'uclears', clears, 'worker', '')
    redis.call('ZADD', P .. 'all', 0, id)
    redis.call('SADD', P .. 'queues', q)
    redis.call('SADD', qk(q) .. 'names', name)
    if place(id, q, name, prio, run_at, created) then woke[q] = true end
    out[#out + 1] = {1, id}
  end
end
for q in pairs(woke) do wake(q) end
return out
",
    )
});

/// ARGV: prefix, queue, limit, now, lease until, worker, names… Answers `{id, fields, errors}`
/// per claimed job.
static CLAIM: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
local q, limit, now, lease, worker = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local base, n_now = qk(q), tonumber(ARGV[4])
local cands = {}
for i = 7, #ARGV do
  local name = ARGV[i]
  local sched, ready = base .. 'sched:' .. name, base .. 'ready:' .. name
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', sched, '-inf', now, 'LIMIT', 0, 1000)) do
    local f = redis.call('HMGET', jk(id), 'priority', 'run_at', 'state')
    redis.call('ZREM', sched, id)
    if f[3] == 'pending' then redis.call('ZADD', ready, f[1], ready_member(f[2], id)) end
  end
  local top = redis.call('ZRANGE', ready, 0, limit - 1, 'WITHSCORES')
  for j = 1, #top, 2 do cands[#cands + 1] = {tonumber(top[j + 1]), top[j], ready} end
end
table.sort(cands, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
local out = {}
for _, c in ipairs(cands) do
  if #out >= limit then break end
  local member, id = c[2], string.sub(c[2], 17)
  -- Placed as due by another clock, but not yet due by this claimer's: leave it.
  if tonumber(string.sub(member, 1, 16)) <= n_now then
    redis.call('ZREM', c[3], member)
    local key = jk(id)
    if redis.call('HGET', key, 'state') == 'pending' then
      redis.call('HINCRBY', key, 'attempt', 1)
      redis.call('HSET', key, 'state', 'running', 'attempted', now, 'lease', lease, 'worker', worker)
      redis.call('ZADD', base .. 'running', lease, id)
      out[#out + 1] = {id, redis.call('HGETALL', key), redis.call('LRANGE', ek(id), 0, -1)}
    end
  end
end
return out
",
    )
});

/// ARGV: prefix, lease until, then id, attempt per lease.
static HEARTBEAT: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
local lease = ARGV[2]
for i = 3, #ARGV, 2 do
  local id, att = ARGV[i], ARGV[i + 1]
  local f = redis.call('HMGET', jk(id), 'state', 'attempt', 'queue')
  if f[1] == 'running' and f[2] == att then
    redis.call('HSET', jk(id), 'lease', lease)
    redis.call('ZADD', qk(f[3]) .. 'running', lease, id)
  end
end
return 0
",
    )
});

/// ARGV: prefix, then 6 per outcome: id, attempt, at, kind (`c` completed, `r` retry,
/// `d` discard), next run (retry), error.
static COMPLETE: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
local woke = {}
for i = 2, #ARGV, 6 do
  local id, att, at, kind, run_at, err = unpack(ARGV, i, i + 5)
  local key = jk(id)
  local f = redis.call('HMGET', key, 'state', 'attempt', 'queue', 'name', 'priority')
  if f[1] == 'running' and f[2] == att then
    local q = f[3]
    redis.call('ZREM', qk(q) .. 'running', id)
    redis.call('HSET', key, 'lease', '')
    if kind ~= 'c' then add_error(id, att, at, err) end
    if kind == 'r' then
      redis.call('HSET', key, 'state', 'pending', 'run_at', run_at)
      if place(id, q, f[4], f[5], run_at, at) then woke[q] = true end
    elseif kind == 'c' then
      finish(id, q, 'completed', at)
    else
      finish(id, q, 'discarded', at)
    end
  end
end
for q in pairs(woke) do wake(q) end
return 0
",
    )
});

/// ARGV: prefix, now, error message, limit. Answers `{retried ids, discarded ids}`.
static RESCUE: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
local now, msg, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local retried, discarded = {}, {}
for _, q in ipairs(redis.call('SMEMBERS', P .. 'queues')) do
  local left = limit - #retried - #discarded
  if left <= 0 then break end
  local running, woke = qk(q) .. 'running', false
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', running, '-inf', '(' .. now, 'LIMIT', 0, left)) do
    local key = jk(id)
    redis.call('ZREM', running, id)
    local f = redis.call('HMGET', key, 'state', 'attempt', 'max', 'name', 'priority')
    if f[1] == 'running' then
      add_error(id, f[2], now, msg)
      redis.call('HSET', key, 'lease', '')
      if tonumber(f[2]) >= tonumber(f[3]) then
        finish(id, q, 'discarded', now)
        discarded[#discarded + 1] = id
      else
        redis.call('HSET', key, 'state', 'pending', 'run_at', now)
        place(id, q, f[4], f[5], now, now)
        retried[#retried + 1] = id
        woke = true
      end
    end
  end
  if woke then wake(q) end
end
return {retried, discarded}
",
    )
});

/// ARGV: prefix, id. Answers `{fields, errors}` (empty fields: no such job).
static GET: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
return {redis.call('HGETALL', jk(ARGV[2])), redis.call('LRANGE', ek(ARGV[2]), 0, -1)}
",
    )
});

/// ARGV: prefix, mode (`list` | `purge`), cursor (last id seen, or empty), ids to look at,
/// matches wanted (list), states (`,a,b,` or empty), queue (or empty), name (or empty).
/// Answers `{last id seen, ids looked at, matches}`, a match being `{id, fields, errors}` when
/// listing and `{id, {}, {}}` when purging, which deletes the matches that are not running.
static SCAN: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
local mode, cursor, budget, want = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local states, q, name = ARGV[6], ARGV[7], ARGV[8]
local from = '-'
if cursor ~= '' then from = '(' .. cursor end
local ids = redis.call('ZRANGEBYLEX', P .. 'all', from, '+', 'LIMIT', 0, budget)
local found, last = {}, cursor
for _, id in ipairs(ids) do
  if mode == 'list' and #found >= want then break end
  last = id
  local f = redis.call('HMGET', jk(id), 'state', 'queue', 'name')
  if f[1] and (states == '' or string.find(states, ',' .. f[1] .. ',', 1, true))
      and (q == '' or f[2] == q) and (name == '' or f[3] == name) then
    if mode == 'list' then
      found[#found + 1] = {id, redis.call('HGETALL', jk(id)), redis.call('LRANGE', ek(id), 0, -1)}
    elseif f[1] ~= 'running' then
      delete(id)
      found[#found + 1] = {id, {}, {}}
    end
  end
end
return {last, #ids, found}
",
    )
});

/// ARGV: prefix, id, now. Answers 1 when the finished job was made pending again.
static RETRY: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
local id, now = ARGV[2], ARGV[3]
local f = redis.call('HMGET', jk(id), 'state', 'queue', 'name', 'priority', 'attempt', 'max')
if f[1] ~= 'completed' and f[1] ~= 'discarded' and f[1] ~= 'cancelled' then return 0 end
redis.call('ZREM', qk(f[2]) .. f[1], id)
local max = math.max(tonumber(f[6]), tonumber(f[5]) + 1)
redis.call('HSET', jk(id), 'state', 'pending', 'run_at', now, 'finished', '', 'max', max)
place(id, f[2], f[3], f[4], now, now)
wake(f[2])
return 1
",
    )
});

/// ARGV: prefix, id, now. Answers 1 when the pending or running job was cancelled.
static CANCEL: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
local id, now = ARGV[2], ARGV[3]
local f = redis.call('HMGET', jk(id), 'state', 'queue', 'name', 'run_at')
if f[1] == 'pending' then
  unplace(id, f[2], f[3], f[4])
elseif f[1] == 'running' then
  redis.call('ZREM', qk(f[2]) .. 'running', id)
else
  return 0
end
finish(id, f[2], 'cancelled', now)
return 1
",
    )
});

/// ARGV: prefix, before, limit. Deletes up to `limit` jobs finished before `before`; answers
/// how many.
static PRUNE: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
local before, limit, n = ARGV[2], tonumber(ARGV[3]), 0
for _, q in ipairs(redis.call('SMEMBERS', P .. 'queues')) do
  for _, st in ipairs({'completed', 'discarded', 'cancelled'}) do
    local set = qk(q) .. st
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', set, '-inf', '(' .. before, 'LIMIT', 0, limit - n)) do
      delete(id)
      redis.call('ZREM', set, id)
      n = n + 1
    end
    if n >= limit then return n end
  end
end
return n
",
    )
});

/// ARGV: prefix, now. Answers per queue holding jobs `{queue, available, scheduled, running,
/// completed, discarded, cancelled, oldest wait in µs or -1}`.
static STATS: LazyLock<r::Script> = LazyLock::new(|| {
    script(
        r"
local now, n_now = ARGV[2], tonumber(ARGV[2])
local out = {}
for _, q in ipairs(redis.call('SMEMBERS', P .. 'queues')) do
  local base = qk(q)
  local avail, sched, oldest = 0, 0, nil
  for _, name in ipairs(redis.call('SMEMBERS', base .. 'names')) do
    local s, r = base .. 'sched:' .. name, base .. 'ready:' .. name
    local due = redis.call('ZCOUNT', s, '-inf', now)
    avail = avail + due + redis.call('ZCARD', r)
    sched = sched + redis.call('ZCOUNT', s, '(' .. now, '+inf')
    if due > 0 then
      local first = redis.call('ZRANGE', s, 0, 0)[1]
      local at = tonumber(redis.call('HGET', jk(first), 'run_at'))
      if at and (not oldest or at < oldest) then oldest = at end
    end
    -- The ready set is ordered by priority: its oldest job is the first of some priority.
    local top = redis.call('ZRANGE', r, 0, 0, 'WITHSCORES')
    while #top > 0 do
      local at = tonumber(string.sub(top[1], 1, 16))
      if not oldest or at < oldest then oldest = at end
      top = redis.call('ZRANGEBYSCORE', r, '(' .. top[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    end
  end
  local counts = {
    redis.call('ZCARD', base .. 'running'), redis.call('ZCARD', base .. 'completed'),
    redis.call('ZCARD', base .. 'discarded'), redis.call('ZCARD', base .. 'cancelled'),
  }
  if avail + sched + counts[1] + counts[2] + counts[3] + counts[4] > 0 then
    local waited = -1
    if oldest then waited = math.max(0, n_now - oldest) end
    out[#out + 1] = {q, avail, sched, counts[1], counts[2], counts[3], counts[4], waited}
  end
end
return out
",
    )
});
