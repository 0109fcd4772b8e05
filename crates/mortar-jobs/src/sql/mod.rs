//! Jobs in the application's own SQL database through sea-orm (features `postgres`, `sqlite`,
//! `mysql`): [`SqlBackend`], the migration, and [`SqlBackend::enqueue_in`] to enqueue inside
//! the application's transaction, so a job whose transaction rolls back never runs.
//!
//! PostgreSQL claims batches with `FOR UPDATE SKIP LOCKED` in one `UPDATE … RETURNING`; SQLite
//! claims in one statement under its single writer; MariaDB (10.6+) selects `FOR UPDATE SKIP
//! LOCKED` and updates in a transaction. On PostgreSQL, enqueues `NOTIFY mortar_jobs` (delivered
//! at commit) and idle workers `LISTEN`, so a new job starts without waiting for the next poll.
//!
//! ```no_run
//! use mortar_jobs::sql::{Migrator, SqlBackend};
//! use mortar_jobs::Jobs;
//! use sea_orm_migration::MigratorTrait as _;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = sea_orm::Database::connect("sqlite://app.db?mode=rwc").await?;
//! Migrator::up(&db, None).await?;
//! let jobs = Jobs::new(SqlBackend::new(db));
//! # Ok(()) }
//! ```

mod migration;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mortar_core::{Clock, SharedClock, SystemClock};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, QueryResult, Statement, TransactionTrait, Value,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use crate::backend::{JobBackend, WakeSignal};
use crate::error::{Error, Result};
use crate::job::{EnqueueOptions, Job, JobId, new_job, new_jobs};
use crate::memory::LEASE_EXPIRED;
use crate::record::{
    AttemptError, ClaimRequest, Enqueued, JobFilter, JobRecord, JobState, Lease, NewJob, Outcome,
    OutcomeKind, QueueStats, Rescued, from_micros, micros,
};

/// mortar-jobs' migrations, in order, for the application's own migrator.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(migration::CreateJobs)]
}

/// A migrator with only mortar-jobs' migrations.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }
}

const COLS: &str = "id, name, queue, payload, state, priority, attempt, max_attempts, run_at, \
    created_at, attempted_at, finished_at, lease_until, timeout_ms, unique_key";

/// The PostgreSQL channel enqueues notify.
pub const CHANNEL: &str = "mortar_jobs";

/// Jobs in `mortar_jobs` / `mortar_job_errors` on a sea-orm connection (pool).
#[derive(Clone, Debug)]
pub struct SqlBackend {
    db: DatabaseConnection,
    clock: SharedClock,
    wake: Arc<WakeSignal>,
    #[cfg(feature = "postgres")]
    listening: Arc<std::sync::OnceLock<()>>,
}

/// A statement with `?` placeholders, numbered `$1…` for PostgreSQL.
fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for ch in sql.chars() {
            if ch == '?' {
                n += 1;
                let _ = write!(out, "${n}");
            } else {
                out.push(ch);
            }
        }
        Statement::from_sql_and_values(backend, out, values)
    } else {
        Statement::from_sql_and_values(backend, sql, values)
    }
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn db_err(what: &'static str) -> impl Fn(sea_orm::DbErr) -> Error {
    move |e| Error::backend(what, e)
}

fn int(v: u32) -> Value {
    Value::from(i64::from(v))
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

fn read(row: &QueryResult) -> Result<JobRecord> {
    let g = |e: sea_orm::DbErr| Error::Payload(e.to_string());
    let id: String = row.try_get("", "id").map_err(g)?;
    let payload: String = row.try_get("", "payload").map_err(g)?;
    let state: String = row.try_get("", "state").map_err(g)?;
    let opt = |c: &str| row.try_get::<Option<i64>>("", c).map_err(g);
    Ok(JobRecord {
        id: id.parse()?,
        name: row.try_get("", "name").map_err(g)?,
        queue: row.try_get("", "queue").map_err(g)?,
        payload: serde_json::from_str(&payload).map_err(|e| Error::Payload(e.to_string()))?,
        state: state.parse()?,
        priority: i16::try_from(
            row.try_get::<i64>("", "priority")
                .or_else(|_| row.try_get::<i16>("", "priority").map(i64::from))
                .map_err(g)?,
        )
        .unwrap_or(0),
        attempt: to_u32(get_int(row, "attempt")?),
        max_attempts: to_u32(get_int(row, "max_attempts")?),
        run_at: from_micros(row.try_get("", "run_at").map_err(g)?),
        created_at: from_micros(row.try_get("", "created_at").map_err(g)?),
        attempted_at: opt("attempted_at")?.map(from_micros),
        finished_at: opt("finished_at")?.map(from_micros),
        lease_until: opt("lease_until")?.map(from_micros),
        timeout: opt("timeout_ms")?.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
        unique_key: row.try_get("", "unique_key").map_err(g)?,
        errors: Vec::new(),
    })
}

/// Reads an integer column whatever width the driver reports it with.
fn get_int(row: &QueryResult, col: &str) -> Result<i64> {
    row.try_get::<i64>("", col)
        .or_else(|_| row.try_get::<i32>("", col).map(i64::from))
        .map_err(|e| Error::Payload(e.to_string()))
}

/// The table and columns every enqueue writes, then one `INSERT_ROW` per job.
const INSERT_INTO: &str = "mortar_jobs (id, name, queue, payload, state, priority, attempt, \
     max_attempts, run_at, created_at, timeout_ms, unique_key, unique_clears)";
/// One job's placeholders, filled by [`push_row`].
const INSERT_ROW: &str = "(?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?, ?, ?, ?)";

/// Appends `job`'s 11 values for [`INSERT_ROW`].
fn push_row(values: &mut Vec<Value>, job: &NewJob) {
    values.extend([
        job.id.to_string().into(),
        job.name.clone().into(),
        job.queue.clone().into(),
        job.payload.to_string().into(),
        Value::from(job.priority),
        int(job.max_attempts),
        micros(job.run_at).into(),
        micros(job.created_at).into(),
        job.timeout
            .map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX))
            .into(),
        job.unique.as_ref().map(|u| u.key.clone()).into(),
        Value::from(i16::from(
            job.unique.as_ref().is_some_and(|u| u.clears_on_finish),
        )),
    ]);
}

/// Inserts one job on `conn` (a connection or a transaction).
async fn insert(conn: &impl ConnectionTrait, job: NewJob, now: SystemTime) -> Result<Enqueued> {
    let backend = conn.get_database_backend();
    let verb = if backend == DbBackend::MySql {
        "INSERT IGNORE INTO"
    } else {
        "INSERT INTO"
    };
    let tail = if backend == DbBackend::MySql {
        ""
    } else {
        " ON CONFLICT DO NOTHING"
    };
    let sql = format!("{verb} {INSERT_INTO} VALUES {INSERT_ROW}{tail}");
    let unique_key = job.unique.as_ref().map(|u| u.key.clone());
    let due = job.run_at <= now;
    let queue = job.queue.clone();
    let mut values = Vec::with_capacity(11);
    push_row(&mut values, &job);
    let res = conn
        .execute_raw(stmt(backend, &sql, values))
        .await
        .map_err(db_err("enqueueing a job"))?;
    if res.rows_affected() == 0 {
        let Some(key) = unique_key else {
            return Err(Error::Backend("enqueueing a job: nothing inserted".into()));
        };
        let row = conn
            .query_one_raw(stmt(
                backend,
                "SELECT id FROM mortar_jobs WHERE unique_key = ?",
                vec![key.into()],
            ))
            .await
            .map_err(db_err("finding a unique job"))?
            .ok_or_else(|| Error::Backend("a unique key's holder vanished; retry".into()))?;
        let id: String = row.try_get("", "id").map_err(db_err("reading an id"))?;
        return Ok(Enqueued::duplicate(id.parse()?));
    }
    if due {
        notify(conn, backend, queue).await?;
    }
    Ok(Enqueued::inserted(job.id))
}

/// Expired leases rescued per transaction.
const RESCUE_BATCH: usize = 200;

/// Rows per multi-row `INSERT` (11 parameters each: well under every driver's limit).
const INSERT_CHUNK: usize = 500;

/// Stores `jobs` on `conn`: those without a unique key in multi-row `INSERT`s, the others one by
/// one (each needs its holder looked up on a conflict); then one `NOTIFY` per queue with a due
/// job. Answers in the order given.
async fn insert_many(
    conn: &impl ConnectionTrait,
    jobs: Vec<NewJob>,
    now: SystemTime,
) -> Result<Vec<Enqueued>> {
    let backend = conn.get_database_backend();
    let mut out = Vec::with_capacity(jobs.len());
    let mut plain: Vec<NewJob> = Vec::with_capacity(jobs.len());
    let mut due_queues: Vec<String> = Vec::new();
    for job in jobs {
        if job.unique.is_some() {
            // `insert` notifies for its own job.
            out.push(insert(conn, job, now).await?);
            continue;
        }
        if job.run_at <= now && !due_queues.contains(&job.queue) {
            due_queues.push(job.queue.clone());
        }
        out.push(Enqueued::inserted(job.id));
        plain.push(job);
    }
    for chunk in plain.chunks(INSERT_CHUNK) {
        let mut sql = format!("INSERT INTO {INSERT_INTO} VALUES ");
        sql.reserve(chunk.len() * (INSERT_ROW.len() + 2));
        let mut values = Vec::with_capacity(chunk.len() * 11);
        for (i, job) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(INSERT_ROW);
            push_row(&mut values, job);
        }
        conn.execute_raw(stmt(backend, &sql, values))
            .await
            .map_err(db_err("enqueueing jobs"))?;
    }
    for queue in due_queues {
        notify(conn, backend, queue).await?;
    }
    Ok(out)
}

/// Wakes PostgreSQL workers listening for `queue` (delivered when the transaction commits);
/// nothing on the other databases.
async fn notify<C: ConnectionTrait>(conn: &C, backend: DbBackend, queue: String) -> Result<()> {
    if backend == DbBackend::Postgres {
        conn.execute_raw(stmt(
            backend,
            "SELECT pg_notify(?, ?)",
            vec![CHANNEL.into(), queue.into()],
        ))
        .await
        .map_err(db_err("notifying workers"))?;
    }
    Ok(())
}

impl SqlBackend {
    /// A backend on this connection, with the system clock. Run [`migrations`] first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            clock: SystemClock::shared(),
            wake: Arc::new(WakeSignal::new()),
            #[cfg(feature = "postgres")]
            listening: Arc::default(),
        }
    }

    /// Reads the time for [`enqueue_in`](Self::enqueue_in) from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Enqueues `job` on `conn`, typically the application's own `DatabaseTransaction`: the job
    /// exists (and, on PostgreSQL, workers are notified) only if that transaction commits.
    ///
    /// ```no_run
    /// # use mortar_jobs::{EnqueueOptions, Job, JobContext, JobError};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Serialize, Deserialize)] struct Welcome { user: i64 }
    /// # impl Job for Welcome { const NAME: &'static str = "welcome"; type State = ();
    /// #     async fn run(self, _: JobContext<()>) -> Result<(), JobError> { Ok(()) } }
    /// use sea_orm::TransactionTrait as _;
    /// # async fn run(db: sea_orm::DatabaseConnection) -> Result<(), Box<dyn std::error::Error>> {
    /// let backend = mortar_jobs::sql::SqlBackend::new(db.clone());
    /// let txn = db.begin().await?;
    /// // … insert the user with `txn` …
    /// backend.enqueue_in(&txn, &Welcome { user: 1 }, EnqueueOptions::new()).await?;
    /// txn.commit().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// An invalid option or payload, or a failing statement (the caller's transaction is then
    /// best rolled back).
    pub async fn enqueue_in<J: Job>(
        &self,
        conn: &impl ConnectionTrait,
        job: &J,
        opts: EnqueueOptions,
    ) -> Result<Enqueued> {
        let now = self.clock.now();
        insert(conn, new_job(job, opts, now)?, now).await
    }

    /// Enqueues many jobs of one type on `conn` (typically the application's transaction) in
    /// multi-row `INSERT`s; like [`enqueue_in`](Self::enqueue_in), they exist only if that
    /// transaction commits. Answers in the order given.
    ///
    /// # Errors
    ///
    /// An invalid option or payload (before anything is written), or a failing statement (the
    /// caller's transaction is then best rolled back).
    pub async fn enqueue_many_in<J: Job>(
        &self,
        conn: &impl ConnectionTrait,
        jobs: &[J],
        opts: EnqueueOptions,
    ) -> Result<Vec<Enqueued>> {
        let now = self.clock.now();
        let rows = new_jobs(jobs, &opts, now)?;
        insert_many(conn, rows, now).await
    }

    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Rescues up to [`RESCUE_BATCH`] expired leases in one transaction; answers how many it
    /// found. PostgreSQL and MariaDB lock the rows it finds (`FOR UPDATE SKIP LOCKED`: a
    /// concurrent rescuer takes others), so the updates by id apply to all of them; SQLite runs
    /// one writer at a time and refuses the commit if another wrote in between (then the next
    /// round retries).
    async fn rescue_batch(&self, now: SystemTime, out: &mut Rescued) -> Result<usize> {
        let backend = self.backend();
        let lock = if backend == DbBackend::Sqlite {
            ""
        } else {
            " FOR UPDATE SKIP LOCKED"
        };
        let txn = self.db.begin().await.map_err(db_err("rescuing"))?;
        let rows = txn
            .query_all_raw(stmt(
                backend,
                &format!(
                    "SELECT id, attempt, max_attempts FROM mortar_jobs \
                     WHERE state = 'running' AND lease_until < ? LIMIT {RESCUE_BATCH}{lock}"
                ),
                vec![micros(now).into()],
            ))
            .await
            .map_err(db_err("finding expired leases"))?;
        let found = rows.len();
        if found == 0 {
            txn.commit().await.map_err(db_err("rescuing"))?;
            return Ok(0);
        }
        let mut retry: Vec<(String, i64)> = Vec::new();
        let mut discard: Vec<(String, i64)> = Vec::new();
        for row in &rows {
            let id: String = row.try_get("", "id").map_err(db_err("rescuing"))?;
            let attempt = get_int(row, "attempt")?;
            if attempt >= get_int(row, "max_attempts")? {
                discard.push((id, attempt));
            } else {
                retry.push((id, attempt));
            }
        }
        let fenced = |set: &str, ids: &[(String, i64)]| {
            let mut values: Vec<Value> = vec![micros(now).into(), micros(now).into()];
            for (id, attempt) in ids {
                values.push(id.clone().into());
                values.push((*attempt).into());
            }
            let conds = vec!["(id = ? AND attempt = ?)"; ids.len()].join(" OR ");
            stmt(
                backend,
                &format!(
                    "UPDATE mortar_jobs SET {set}, lease_until = NULL \
                     WHERE state = 'running' AND lease_until < ? AND ({conds})"
                ),
                values,
            )
        };
        if !discard.is_empty() {
            txn.execute_raw(fenced(
                "state = 'discarded', finished_at = ?, \
                 unique_key = CASE WHEN unique_clears = 1 THEN NULL ELSE unique_key END",
                &discard,
            ))
            .await
            .map_err(db_err("rescuing"))?;
        }
        if !retry.is_empty() {
            txn.execute_raw(fenced("state = 'pending', run_at = ?", &retry))
                .await
                .map_err(db_err("rescuing"))?;
        }
        let mut values: Vec<Value> = Vec::with_capacity(found * 4);
        for (id, attempt) in discard.iter().chain(&retry) {
            values.extend([
                id.clone().into(),
                (*attempt).into(),
                micros(now).into(),
                LEASE_EXPIRED.into(),
            ]);
        }
        txn.execute_raw(stmt(
            backend,
            &format!(
                "INSERT INTO mortar_job_errors (job_id, attempt, at, error) VALUES {}",
                vec!["(?, ?, ?, ?)"; found].join(", ")
            ),
            values,
        ))
        .await
        .map_err(db_err("rescuing"))?;
        txn.commit().await.map_err(db_err("rescuing"))?;
        for (id, _) in discard {
            out.discarded.push(id.parse()?);
        }
        for (id, _) in retry {
            out.retried.push(id.parse()?);
        }
        Ok(found)
    }

    async fn errors_for(&self, jobs: &mut [JobRecord]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let ids: Vec<Value> = jobs.iter().map(|j| j.id.to_string().into()).collect();
        let sql = format!(
            "SELECT job_id, attempt, at, error FROM mortar_job_errors WHERE job_id IN ({}) \
             ORDER BY attempt, at",
            marks(ids.len())
        );
        let rows = self
            .db
            .query_all_raw(stmt(self.backend(), &sql, ids))
            .await
            .map_err(db_err("reading error histories"))?;
        let mut by_id: HashMap<String, Vec<AttemptError>> = HashMap::new();
        for row in rows {
            let id: String = row
                .try_get("", "job_id")
                .map_err(db_err("reading errors"))?;
            by_id.entry(id).or_default().push(AttemptError {
                attempt: to_u32(get_int(&row, "attempt")?),
                at: from_micros(row.try_get("", "at").map_err(db_err("reading errors"))?),
                error: row.try_get("", "error").map_err(db_err("reading errors"))?,
            });
        }
        for job in jobs {
            job.errors = by_id.remove(&job.id.to_string()).unwrap_or_default();
        }
        Ok(())
    }

    fn filter_sql(filter: &JobFilter, values: &mut Vec<Value>) -> String {
        let mut conds = vec!["1 = 1".to_owned()];
        if !filter.states.is_empty() {
            conds.push(format!("state IN ({})", marks(filter.states.len())));
            values.extend(filter.states.iter().map(|s| Value::from(s.as_str())));
        }
        if let Some(q) = &filter.queue {
            conds.push("queue = ?".into());
            values.push(q.clone().into());
        }
        if let Some(n) = &filter.name {
            conds.push("name = ?".into());
            values.push(n.clone().into());
        }
        conds.join(" AND ")
    }

    async fn delete_where(&self, cond: &str, values: Vec<Value>) -> Result<u64> {
        let backend = self.backend();
        let txn = self
            .db
            .begin()
            .await
            .map_err(db_err("starting a transaction"))?;
        txn.execute_raw(stmt(
            backend,
            &format!("DELETE FROM mortar_job_errors WHERE job_id IN (SELECT id FROM mortar_jobs WHERE {cond})"),
            values.clone(),
        ))
        .await
        .map_err(db_err("deleting error histories"))?;
        let n = txn
            .execute_raw(stmt(
                backend,
                &format!("DELETE FROM mortar_jobs WHERE {cond}"),
                values,
            ))
            .await
            .map_err(db_err("deleting jobs"))?
            .rows_affected();
        txn.commit().await.map_err(db_err("committing"))?;
        Ok(n)
    }

    #[cfg(feature = "postgres")]
    fn listen(&self) {
        if self.backend() != DbBackend::Postgres || self.listening.set(()).is_err() {
            return;
        }
        let pool = self.db.get_postgres_connection_pool().clone();
        let wake = self.wake.clone();
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(mut listener) => {
                        if listener.listen(CHANNEL).await.is_ok() {
                            // `recv` reconnects by itself after a dropped connection.
                            while listener.recv().await.is_ok() {
                                wake.wake();
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(target: "mortar::jobs", error = %e, "LISTEN failed; polling");
                    }
                }
                wake.wake();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}

#[async_trait]
impl JobBackend for SqlBackend {
    async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let now = job.created_at;
        insert(&self.db, job, now).await
    }

    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Enqueued>> {
        let Some(now) = jobs.iter().map(|j| j.created_at).max() else {
            return Ok(Vec::new());
        };
        // All or nothing: one transaction.
        let txn = self.db.begin().await.map_err(db_err("enqueueing jobs"))?;
        let out = insert_many(&txn, jobs, now).await?;
        txn.commit().await.map_err(db_err("enqueueing jobs"))?;
        Ok(out)
    }

    async fn claim(&self, req: &ClaimRequest) -> Result<Vec<JobRecord>> {
        if req.names.is_empty() || req.limit == 0 {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        let limit = i64::try_from(req.limit).unwrap_or(i64::MAX);
        let mut pick_values: Vec<Value> = vec![req.queue.clone().into(), micros(req.now).into()];
        pick_values.extend(req.names.iter().map(|n| Value::from(n.clone())));
        pick_values.push(limit.into());
        let lock = if backend == DbBackend::Sqlite {
            ""
        } else {
            " FOR UPDATE SKIP LOCKED"
        };
        let pick = format!(
            "SELECT id FROM mortar_jobs WHERE state = 'pending' AND queue = ? AND run_at <= ? \
             AND name IN ({}) ORDER BY priority, run_at, id LIMIT ?{lock}",
            marks(req.names.len())
        );
        let set_values: Vec<Value> = vec![
            micros(req.now).into(),
            micros(req.lease_until).into(),
            req.worker.clone().into(),
        ];
        let set = "UPDATE mortar_jobs SET state = 'running', attempt = attempt + 1, \
                   attempted_at = ?, lease_until = ?, worker = ?";
        let rows = if backend == DbBackend::MySql {
            let txn = self.db.begin().await.map_err(db_err("starting a claim"))?;
            let ids: Vec<Value> = txn
                .query_all_raw(stmt(backend, &pick, pick_values))
                .await
                .map_err(db_err("claiming jobs"))?
                .iter()
                .map(|r| r.try_get::<String>("", "id").map(Value::from))
                .collect::<Result<_, _>>()
                .map_err(db_err("claiming jobs"))?;
            if ids.is_empty() {
                txn.commit().await.map_err(db_err("claiming jobs"))?;
                return Ok(Vec::new());
            }
            let mut values = set_values;
            values.extend(ids.iter().cloned());
            txn.execute_raw(stmt(
                backend,
                &format!("{set} WHERE id IN ({})", marks(ids.len())),
                values,
            ))
            .await
            .map_err(db_err("claiming jobs"))?;
            let rows = txn
                .query_all_raw(stmt(
                    backend,
                    &format!(
                        "SELECT {COLS} FROM mortar_jobs WHERE id IN ({})",
                        marks(ids.len())
                    ),
                    ids,
                ))
                .await
                .map_err(db_err("claiming jobs"))?;
            txn.commit().await.map_err(db_err("claiming jobs"))?;
            rows
        } else {
            let mut values = set_values;
            values.extend(pick_values);
            self.db
                .query_all_raw(stmt(
                    backend,
                    &format!("{set} WHERE id IN ({pick}) RETURNING {COLS}"),
                    values,
                ))
                .await
                .map_err(db_err("claiming jobs"))?
        };
        let mut jobs = rows.iter().map(read).collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| (j.priority, j.run_at, j.id));
        Ok(jobs)
    }

    async fn heartbeat(&self, leases: &[Lease], lease_until: SystemTime) -> Result<()> {
        for chunk in leases.chunks(200) {
            let mut values: Vec<Value> = vec![micros(lease_until).into()];
            let conds: Vec<&str> = chunk.iter().map(|_| "(id = ? AND attempt = ?)").collect();
            for l in chunk {
                values.push(l.id.to_string().into());
                values.push(int(l.attempt));
            }
            let sql = format!(
                "UPDATE mortar_jobs SET lease_until = ? WHERE state = 'running' AND ({})",
                conds.join(" OR ")
            );
            self.db
                .execute_raw(stmt(self.backend(), &sql, values))
                .await
                .map_err(db_err("renewing leases"))?;
        }
        Ok(())
    }

    async fn complete(&self, outcomes: &[Outcome]) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let backend = self.backend();
        let txn = self.db.begin().await.map_err(db_err("storing outcomes"))?;
        let finish_unique =
            "unique_key = CASE WHEN unique_clears = 1 THEN NULL ELSE unique_key END";
        // Successes in one statement per chunk.
        let done: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| matches!(o.result, OutcomeKind::Completed))
            .collect();
        for chunk in done.chunks(200) {
            let at = chunk
                .iter()
                .map(|o| o.at)
                .max()
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let mut values: Vec<Value> = vec![micros(at).into()];
            let conds: Vec<&str> = chunk.iter().map(|_| "(id = ? AND attempt = ?)").collect();
            for o in chunk {
                values.push(o.lease.id.to_string().into());
                values.push(int(o.lease.attempt));
            }
            let sql = format!(
                "UPDATE mortar_jobs SET state = 'completed', finished_at = ?, lease_until = NULL, \
                 {finish_unique} WHERE state = 'running' AND ({})",
                conds.join(" OR ")
            );
            txn.execute_raw(stmt(backend, &sql, values))
                .await
                .map_err(db_err("completing jobs"))?;
        }
        for o in outcomes {
            let (sql, mut values): (String, Vec<Value>) = match &o.result {
                OutcomeKind::Completed => continue,
                OutcomeKind::Retry { run_at, .. } => (
                    "UPDATE mortar_jobs SET state = 'pending', run_at = ?, lease_until = NULL \
                     WHERE id = ? AND attempt = ? AND state = 'running'"
                        .into(),
                    vec![micros(*run_at).into()],
                ),
                OutcomeKind::Discard { .. } => (
                    format!(
                        "UPDATE mortar_jobs SET state = 'discarded', finished_at = ?, \
                         lease_until = NULL, {finish_unique} \
                         WHERE id = ? AND attempt = ? AND state = 'running'"
                    ),
                    vec![micros(o.at).into()],
                ),
            };
            values.push(o.lease.id.to_string().into());
            values.push(int(o.lease.attempt));
            let applied = txn
                .execute_raw(stmt(backend, &sql, values))
                .await
                .map_err(db_err("storing a failure"))?
                .rows_affected();
            if applied > 0 {
                txn.execute_raw(stmt(
                    backend,
                    "INSERT INTO mortar_job_errors (job_id, attempt, at, error) VALUES (?, ?, ?, ?)",
                    vec![
                        o.lease.id.to_string().into(),
                        int(o.lease.attempt),
                        micros(o.at).into(),
                        o.error().unwrap_or_default().to_owned().into(),
                    ],
                ))
                .await
                .map_err(db_err("storing an error"))?;
            }
        }
        txn.commit().await.map_err(db_err("storing outcomes"))?;
        Ok(())
    }

    async fn rescue(&self, now: SystemTime) -> Result<Rescued> {
        let mut out = Rescued::default();
        // A few statements per batch of expired leases, each batch in one transaction.
        while self.rescue_batch(now, &mut out).await? == RESCUE_BATCH {}
        if !out.retried.is_empty() {
            self.wake.wake();
        }
        Ok(out)
    }

    async fn get(&self, id: JobId) -> Result<Option<JobRecord>> {
        let row = self
            .db
            .query_one_raw(stmt(
                self.backend(),
                &format!("SELECT {COLS} FROM mortar_jobs WHERE id = ?"),
                vec![id.to_string().into()],
            ))
            .await
            .map_err(db_err("reading a job"))?;
        let Some(row) = row else { return Ok(None) };
        let mut jobs = vec![read(&row)?];
        self.errors_for(&mut jobs).await?;
        Ok(jobs.pop())
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobRecord>> {
        let mut values = Vec::new();
        let cond = Self::filter_sql(filter, &mut values);
        values.push(
            i64::try_from(filter.effective_limit())
                .unwrap_or(1000)
                .into(),
        );
        let rows = self
            .db
            .query_all_raw(stmt(
                self.backend(),
                &format!("SELECT {COLS} FROM mortar_jobs WHERE {cond} ORDER BY id LIMIT ?"),
                values,
            ))
            .await
            .map_err(db_err("listing jobs"))?;
        let mut jobs = rows.iter().map(read).collect::<Result<Vec<_>>>()?;
        self.errors_for(&mut jobs).await?;
        Ok(jobs)
    }

    async fn retry(&self, id: JobId, now: SystemTime) -> Result<bool> {
        let n = self
            .db
            .execute_raw(stmt(
                self.backend(),
                "UPDATE mortar_jobs SET state = 'pending', run_at = ?, finished_at = NULL, \
                 max_attempts = CASE WHEN max_attempts < attempt + 1 THEN attempt + 1 ELSE max_attempts END \
                 WHERE id = ? AND state IN ('completed', 'discarded', 'cancelled')",
                vec![micros(now).into(), id.to_string().into()],
            ))
            .await
            .map_err(db_err("retrying a job"))?
            .rows_affected();
        if n > 0 {
            self.wake.wake();
        }
        Ok(n > 0)
    }

    async fn cancel(&self, id: JobId, now: SystemTime) -> Result<bool> {
        let n = self
            .db
            .execute_raw(stmt(
                self.backend(),
                "UPDATE mortar_jobs SET state = 'cancelled', finished_at = ?, lease_until = NULL, \
                 unique_key = CASE WHEN unique_clears = 1 THEN NULL ELSE unique_key END \
                 WHERE id = ? AND state IN ('pending', 'running')",
                vec![micros(now).into(), id.to_string().into()],
            ))
            .await
            .map_err(db_err("cancelling a job"))?
            .rows_affected();
        Ok(n > 0)
    }

    async fn purge(&self, filter: &JobFilter) -> Result<u64> {
        let mut values = Vec::new();
        let cond = Self::filter_sql(filter, &mut values);
        self.delete_where(&format!("{cond} AND state <> 'running'"), values)
            .await
    }

    async fn prune(&self, before: SystemTime) -> Result<u64> {
        self.delete_where(
            "state IN ('completed', 'discarded', 'cancelled') AND finished_at IS NOT NULL \
             AND finished_at < ?",
            vec![micros(before).into()],
        )
        .await
    }

    async fn stats(&self, now: SystemTime) -> Result<Vec<QueueStats>> {
        let rows = self
            .db
            .query_all_raw(stmt(
                self.backend(),
                "SELECT queue, state, CASE WHEN run_at <= ? THEN 1 ELSE 0 END AS due, \
                 COUNT(*) AS n, MIN(run_at) AS oldest FROM mortar_jobs GROUP BY queue, state, due",
                vec![micros(now).into()],
            ))
            .await
            .map_err(db_err("counting jobs"))?;
        let mut by_queue: HashMap<String, QueueStats> = HashMap::new();
        for row in rows {
            let queue: String = row.try_get("", "queue").map_err(db_err("counting jobs"))?;
            let state: JobState = row
                .try_get::<String>("", "state")
                .map_err(db_err("counting jobs"))?
                .parse()?;
            let due = get_int(&row, "due")? == 1;
            let n = u64::try_from(get_int(&row, "n")?).unwrap_or(0);
            let oldest = from_micros(get_int(&row, "oldest")?);
            let s = by_queue
                .entry(queue.clone())
                .or_insert_with(|| QueueStats::new(queue));
            match state {
                JobState::Pending if due => {
                    s.available += n;
                    s.oldest_available = Some(now.duration_since(oldest).unwrap_or_default());
                }
                JobState::Pending => s.scheduled += n,
                JobState::Running => s.running += n,
                JobState::Completed => s.completed += n,
                JobState::Discarded => s.discarded += n,
                JobState::Cancelled => s.cancelled += n,
            }
        }
        let mut out: Vec<QueueStats> = by_queue.into_values().collect();
        out.sort_by(|a, b| a.queue.cmp(&b.queue));
        Ok(out)
    }

    fn wake_epoch(&self) -> u64 {
        #[cfg(feature = "postgres")]
        self.listen();
        self.wake.epoch()
    }

    async fn wait_for_jobs(&self, _queue: &str, since: u64, timeout: Duration) {
        #[cfg(feature = "postgres")]
        self.listen();
        self.wake.wait(since, timeout).await;
    }
}
