//! mortar-audit: the cost of `record()` on the calling task, and sustained throughput into
//! PostgreSQL through the durable recorder (batched, hash-chained) beside writing the same rows
//! one INSERT at a time with sea-orm, in the same run, on the same server and table.
//!
//! Needs PostgreSQL (`MORTAR_TEST_POSTGRES_URL`, e.g. `postgres://postgres@127.0.0.1:5432/test`).
//! Run: `cargo bench -p mortar-benches --bench audit -- --warm-up-time 1 --measurement-time 3`

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::items_after_statements,
    reason = "a benchmark: counts far below the limits, constants next to their use"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group};
use mortar_audit::sql::entity::event;
use mortar_audit::sql::{Migrator, SeaOrmAuditStore};
use mortar_audit::{AuditRecord, AuditSink, ChainHash, DurableRecorder, Error};
use mortar_core::{AuditEvent, AuditRecorder as _, Outcome, Principal};
use sea_orm::{ActiveValue::Set, EntityTrait as _};
use sea_orm_migration::MigratorTrait as _;

/// A sink that takes batches and does nothing, so only the calling task's cost is measured.
#[derive(Debug)]
struct NullSink;

#[async_trait]
impl AuditSink for NullSink {
    fn name(&self) -> &'static str {
        "null"
    }
    async fn write(&self, events: &[AuditEvent]) -> Result<(), Error> {
        black_box(events);
        Ok(())
    }
}

fn principal() -> Principal {
    Principal::user("user-42")
        .tenant("acme")
        .session_id("s-1")
        .build()
}

/// The event a login handler records: actor, target, address, user agent, request id, two
/// metadata entries.
fn login_event(p: &Principal, i: u64) -> AuditEvent {
    AuditEvent::new("auth.login", Outcome::Success)
        .actor(p)
        .target("user", "user-42")
        .ip("203.0.113.9".parse().unwrap())
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
        .request_id("req-0123456789")
        .meta("method", "password")
        .meta("n", i)
}

fn record_cost(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let recorder = rt.block_on(async {
        DurableRecorder::builder()
            .sink(NullSink)
            .capacity(1 << 22)
            .start()
    });
    let p = principal();
    let mut g = c.benchmark_group("audit_record");
    g.bench_function("build the event only", |b| {
        b.iter(|| black_box(login_event(&p, 7)));
    });
    g.bench_function("build + DurableRecorder::record", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                recorder.record(login_event(&p, i));
            }
            let elapsed = start.elapsed();
            // Let the writer drain between samples (not timed), so no sample spills.
            while recorder.stats().queued > 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            elapsed
        });
    });
    g.finish();
    assert_eq!(recorder.stats().spilled, 0, "a sample overflowed the queue");
}

/// Events per second into PostgreSQL: the recorder (default batches, chained, redacted) vs
/// sea-orm inserting the same rows one statement at a time.
fn postgres_throughput() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let Some(db) = mortar_testkit::postgres().await else {
            println!("audit_postgres: skipped (set MORTAR_TEST_POSTGRES_URL)");
            return;
        };
        let conn = db.connect().await;
        Migrator::up(&conn, None).await.unwrap();
        let store = Arc::new(SeaOrmAuditStore::new(conn.clone()));
        let p = principal();

        for run in 1..=2 {
            const N: u64 = 100_000;
            // The writer alone (redaction, batching; then chaining in memory), no database.
            for (name, sink) in [
                ("NullSink", Arc::new(NullSink) as Arc<dyn AuditSink>),
                ("MemoryStore", Arc::new(mortar_audit::MemoryStore::new())),
                ("SeaOrmAuditStore (PostgreSQL)", store.clone()),
            ] {
                let elapsed = drain(sink, N, &p).await;
                println!(
                    "audit_postgres run {run}: DurableRecorder → {name}: {N} events in {:.2} s = {:.0} events/s",
                    elapsed.as_secs_f64(),
                    N as f64 / elapsed.as_secs_f64()
                );
            }

            // The same rows (same columns and values, already chained) one INSERT at a time.
            const M: u64 = 10_000;
            let stream = format!("single-{run}");
            let mut prev = (0, ChainHash::GENESIS);
            let rows: Vec<event::ActiveModel> = (0..M)
                .map(|i| {
                    let r = AuditRecord::chain(&stream, prev, login_event(&p, i));
                    prev = (r.seq, r.hash);
                    row(&r)
                })
                .collect();
            let start = Instant::now();
            for r in rows {
                event::Entity::insert(r).exec(&conn).await.unwrap();
            }
            let elapsed = start.elapsed();
            println!(
                "audit_postgres run {run}: sea-orm one INSERT per row: {M} rows in {:.2} s = {:.0} rows/s",
                elapsed.as_secs_f64(),
                M as f64 / elapsed.as_secs_f64()
            );
        }
    });
}

/// Records `n` events through a recorder writing to `sink` and waits until all are written.
async fn drain(sink: Arc<dyn AuditSink>, n: u64, p: &Principal) -> Duration {
    let recorder = DurableRecorder::builder()
        .shared_sink(sink)
        .capacity(n as usize)
        .start();
    let start = Instant::now();
    for i in 0..n {
        recorder.record(login_event(p, i));
    }
    recorder.shutdown(Duration::from_mins(10)).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(recorder.stats().written, n);
    elapsed
}

fn row(r: &AuditRecord) -> event::ActiveModel {
    let e = &r.event;
    let actor = e.actor.as_ref().unwrap();
    let target = e.target.as_ref().unwrap();
    event::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        stream: Set(r.stream.clone()),
        seq: Set(i64::try_from(r.seq).unwrap()),
        action: Set(e.action.to_string()),
        outcome: Set(e.outcome.as_str().to_owned()),
        actor_subject: Set(Some(actor.subject.clone())),
        actor_kind: Set(Some("user".to_owned())),
        actor_session: Set(actor.session_id.clone()),
        tenant: Set(e.tenant.clone()),
        target_kind: Set(Some(target.kind.clone())),
        target_id: Set(Some(target.id.clone())),
        occurred_at: Set(0),
        ip: Set(e.ip.map(|ip| ip.to_string())),
        user_agent: Set(e.user_agent.clone()),
        request_id: Set(e.request_id.clone()),
        metadata: Set(serde_json::to_string(&e.metadata).unwrap()),
        prev_hash: Set(r.prev_hash.to_hex()),
        hash: Set(r.hash.to_hex()),
    }
}

criterion_group!(benches, record_cost);

fn main() {
    benches();
    postgres_throughput();
    Criterion::default().configure_from_args().final_summary();
}
