//! One conformance suite for every store: memory, JSON lines, and SQL on SQLite, PostgreSQL and
//! MariaDB. Each store also gets the same tamper drill (edit, forge, delete, reorder, truncate),
//! done the way an attacker with access to that medium would.

#![allow(
    clippy::too_many_lines,
    reason = "the suite reads top to bottom, one capability after another"
)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mortar_audit::{
    AuditQuery, AuditRecord, AuditSink as _, AuditStore, DurableRecorder, GLOBAL_STREAM,
    JsonLinesStore, MemoryStore, REDACTED, TamperKind, export, purge, verify, verify_all,
};
use mortar_core::{AuditEvent, AuditRecorder as _, Outcome, Principal};
use serde_json::json;

type BoxFut<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What an attacker with raw access to a store's medium can do.
trait Tamperer: Send + Sync {
    /// Changes the action of record `seq` of `stream` (without fixing its hash).
    fn edit<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a>;
    /// Replaces record `seq` with a re-hashed forgery (its own hash is right again).
    fn forge<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a>;
    /// Removes record `seq`.
    fn delete<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a>;
    /// Swaps the storage positions of records `seq` and `seq + 1`.
    fn swap<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a>;
}

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn alice() -> Principal {
    Principal::user("alice")
        .tenant("acme")
        .session_id("s-1")
        .build()
}

fn sample_events() -> Vec<AuditEvent> {
    let mut out = Vec::new();
    for i in 0..30u64 {
        let tenant = if i % 3 == 0 { "acme" } else { "globex" };
        let outcome = if i % 5 == 0 {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        let action = if i % 2 == 0 {
            "auth.login"
        } else {
            "rbac.role.granted"
        };
        out.push(
            AuditEvent::new(action, outcome)
                .actor_subject(format!("user-{}", i % 4), mortar_core::PrincipalKind::User)
                .tenant(tenant)
                .target("user", format!("target-{}", i % 7))
                .at(t(i))
                .meta("i", i),
        );
    }
    // One event without a tenant, and one with every field set.
    out.push(AuditEvent::new("system.started", Outcome::Success).at(t(40)));
    out.push(
        AuditEvent::new("auth.api_key.revoked", Outcome::Denied)
            .actor(&alice())
            .target("api_key", "k-1")
            .at(t(41) + Duration::from_nanos(123_456_789))
            .ip("2001:db8::7".parse().unwrap())
            .user_agent("Mozilla/5.0 ünïcødé")
            .request_id("req-9")
            .meta("nested", json!({"z": [1, 2.5, null], "a": {"b": true}}))
            .meta("reason", "user asked")
            // Written to the store directly (no redactor): every medium must keep these as is.
            .meta("raw", "tab\there\nline\\slash\r\\N"),
    );
    out
}

/// The whole suite against one store.
async fn conformance<S: AuditStore>(store: Arc<S>, tamper: &dyn Tamperer) {
    let events = sample_events();
    // Two batches, as the recorder would write them.
    store.write(&events[..10]).await.unwrap();
    store.write(&events[10..]).await.unwrap();

    // Streams: one per tenant plus the global one; seqs contiguous from 1.
    let streams = store.streams().await.unwrap();
    assert_eq!(
        streams,
        vec![GLOBAL_STREAM.to_owned(), "acme".into(), "globex".into()]
    );
    let acme = store.read_stream("acme", 1, None, 1000).await.unwrap();
    assert_eq!(acme.len(), 11);
    assert!(
        acme.iter()
            .enumerate()
            .all(|(i, r)| r.seq == i as u64 + 1 && r.is_intact())
    );
    assert!(
        acme.windows(2)
            .all(|w| w[1].prev_hash == w[0].hash && w[0].id < w[1].id)
    );

    // Round trip: the richest event reads back equal (time truncated to microseconds).
    let page = store
        .query(&AuditQuery::new().action("auth.api_key.revoked"))
        .await
        .unwrap();
    let got = &page.records[0].event;
    let mut want = events[31].clone();
    want.occurred_at = t(41) + Duration::from_micros(123_456);
    assert_eq!(got, &want);

    // Filters.
    let count = |q: AuditQuery| {
        let store = store.clone();
        async move { store.query(&q.limit(1000)).await.unwrap().records.len() }
    };
    assert_eq!(count(AuditQuery::new()).await, 32);
    assert_eq!(count(AuditQuery::new().tenant("acme")).await, 11);
    assert_eq!(count(AuditQuery::new().actor("user-1")).await, 8);
    assert_eq!(count(AuditQuery::new().action("auth.*")).await, 16);
    assert_eq!(count(AuditQuery::new().action("auth.login")).await, 15);
    assert_eq!(
        count(AuditQuery::new().action("auth%")).await,
        0,
        "LIKE wildcards are literal"
    );
    assert_eq!(
        count(AuditQuery::new().action("auth_*")).await,
        0,
        "no LIKE wildcards"
    );
    assert_eq!(
        count(AuditQuery::new().action("AUTH.*")).await,
        0,
        "case-sensitive prefixes"
    );
    assert_eq!(
        count(AuditQuery::new().tenant("ACME")).await,
        0,
        "case-sensitive tenants"
    );
    assert_eq!(count(AuditQuery::new().outcome(Outcome::Failure)).await, 6);
    assert_eq!(count(AuditQuery::new().target("user", "target-3")).await, 4);
    assert_eq!(
        count(AuditQuery::new().between(Some(t(10)), Some(t(20)))).await,
        10
    );
    assert_eq!(
        count(
            AuditQuery::new()
                .tenant("globex")
                .outcome(Outcome::Failure)
                .action("auth.*")
        )
        .await,
        2
    );

    // Keyset pagination: newest first, no overlap, no gap, stable while new events arrive.
    let mut seen = Vec::new();
    let mut query = AuditQuery::new().limit(7);
    loop {
        let page = store.query(&query).await.unwrap();
        assert!(page.records.len() <= 7);
        seen.extend(page.records.iter().map(|r| r.id));
        if seen.len() == 7 {
            store
                .write(&[AuditEvent::new("late.arrival", Outcome::Success)])
                .await
                .unwrap();
        }
        match page.next {
            Some(next) => query = query.after(next),
            None => break,
        }
    }
    assert_eq!(
        seen.len(),
        32,
        "the late arrival is newer than the first page"
    );
    assert!(seen.windows(2).all(|w| w[0] > w[1]));

    // Export: every record, one JSON line each, each intact.
    let mut out = Vec::new();
    let n = export(store.as_ref(), &AuditQuery::new().limit(5), &mut out)
        .await
        .unwrap();
    assert_eq!(n, 33);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 33);
    for line in text.lines() {
        let r: AuditRecord = serde_json::from_str(line).unwrap();
        assert!(r.is_intact());
    }

    // Verification: everything intact, also for a range.
    for report in verify_all(store.as_ref()).await.unwrap() {
        assert!(report.is_intact(), "{report:?}");
    }
    let part = verify(store.as_ref(), "globex", 5..=9).await.unwrap();
    assert_eq!((part.verified, part.last_seq), (5, Some(9)));

    // Retention: purge everything before t(15); chains re-anchor and stay verifiable.
    let purged = purge(store.as_ref(), t(15)).await.unwrap();
    let acme_purged = purged.iter().find(|p| p.stream == "acme").unwrap();
    assert_eq!(acme_purged.removed, 5);
    assert_eq!(acme_purged.anchor.seq, 6);
    let globex_purged = purged.iter().find(|p| p.stream == "globex").unwrap();
    assert_eq!(globex_purged.removed, 10);
    assert!(
        purged.iter().all(|p| p.stream != GLOBAL_STREAM),
        "{purged:?}"
    );
    assert_eq!(
        count(
            AuditQuery::new()
                .tenant("acme")
                .action("audit.retention.purged")
        )
        .await,
        1
    );
    store
        .write(&[AuditEvent::new("after.purge", Outcome::Success).tenant("acme")])
        .await
        .unwrap();
    for report in verify_all(store.as_ref()).await.unwrap() {
        assert!(report.is_intact(), "{report:?}");
    }
    assert!(
        purge(store.as_ref(), t(15)).await.unwrap().is_empty(),
        "nothing left to purge"
    );

    // The durable recorder in front of the store: redacted, chained, in order.
    let recorder = DurableRecorder::builder()
        .shared_sink(store.clone())
        .start();
    for i in 0..200 {
        recorder.record(
            AuditEvent::new("recorded", Outcome::Success)
                .tenant("initech")
                .meta("password", "hunter2")
                .meta("i", i)
                .user_agent("evil\r\nInjected: yes"),
        );
    }
    recorder.shutdown(Duration::from_secs(30)).await.unwrap();
    let stats = recorder.stats();
    assert_eq!(
        (stats.recorded, stats.written, stats.spilled),
        (200, 200, 0)
    );
    let page = store
        .query(&AuditQuery::new().tenant("initech").limit(1000))
        .await
        .unwrap();
    assert_eq!(page.records.len(), 200);
    assert_eq!(page.records[0].event.metadata["i"], 199);
    assert_eq!(page.records[0].event.metadata["password"], REDACTED);
    assert_eq!(
        page.records[0].event.user_agent.as_deref(),
        Some("evil\\u{d}\\u{a}Injected: yes")
    );
    assert!(
        verify(store.as_ref(), "initech", ..)
            .await
            .unwrap()
            .is_intact()
    );

    // Concurrent writers on one stream never fork the chain.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for b in 0..10 {
                let batch: Vec<_> = (0..5)
                    .map(|i| {
                        AuditEvent::new("concurrent", Outcome::Success)
                            .tenant("race")
                            .meta("w", w)
                            .meta("n", b * 5 + i)
                    })
                    .collect();
                store.write(&batch).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let race = verify(store.as_ref(), "race", ..).await.unwrap();
    assert!(race.is_intact(), "{race:?}");
    assert_eq!(race.verified, 200);

    // The tamper drill, on a fresh stream of 10 records per case.
    let drill = |name: &'static str| {
        let store = store.clone();
        async move {
            let batch: Vec<_> = (0..10)
                .map(|i| {
                    AuditEvent::new("drill", Outcome::Success)
                        .tenant(name)
                        .meta("i", i)
                })
                .collect();
            store.write(&batch).await.unwrap();
            assert!(verify(store.as_ref(), name, ..).await.unwrap().is_intact());
        }
    };
    let found = |name: &'static str| {
        let store = store.clone();
        async move {
            verify(store.as_ref(), name, ..)
                .await
                .unwrap()
                .tamper
                .map(|t| (t.kind, t.seq))
        }
    };
    drill("edit").await;
    tamper.edit("edit", 4).await;
    assert_eq!(found("edit").await, Some((TamperKind::Altered, 4)));
    drill("forge").await;
    tamper.forge("forge", 4).await;
    assert_eq!(found("forge").await, Some((TamperKind::BrokenLink, 5)));
    drill("forge-last").await;
    tamper.forge("forge-last", 10).await;
    assert_eq!(
        found("forge-last").await,
        Some((TamperKind::BrokenLink, 10))
    );
    drill("delete").await;
    tamper.delete("delete", 4).await;
    assert_eq!(found("delete").await, Some((TamperKind::Removed, 4)));
    let bounded = verify(store.as_ref(), "delete", 1..=4).await.unwrap();
    assert_eq!(
        bounded.tamper.map(|t| (t.kind, t.seq)),
        Some((TamperKind::Removed, 4))
    );
    drill("reorder").await;
    tamper.swap("reorder", 4).await;
    assert_eq!(found("reorder").await, Some((TamperKind::Reordered, 4)));
    drill("truncate").await;
    tamper.delete("truncate", 10).await;
    assert_eq!(found("truncate").await, Some((TamperKind::Truncated, 10)));
    let bounded = verify(store.as_ref(), "truncate", 1..=10).await.unwrap();
    assert_eq!(
        bounded.tamper.map(|t| (t.kind, t.seq)),
        Some((TamperKind::Truncated, 10))
    );
    drill("first").await;
    tamper.delete("first", 1).await;
    assert_eq!(found("first").await, Some((TamperKind::Removed, 1)));
    // A range that ends before the damage still verifies.
    assert!(
        verify(store.as_ref(), "edit", 1..4)
            .await
            .unwrap()
            .is_intact()
    );
}

/// Re-hashes `record` after changing it, as a forger who knows the algorithm would.
fn forged(mut record: AuditRecord) -> AuditRecord {
    record.event.action = "forged".into();
    record.hash = record.compute_hash();
    record
}

mod memory {
    use super::*;

    struct MemTamper(Arc<MemoryStore>);

    impl MemTamper {
        fn pos(records: &[AuditRecord], stream: &str, seq: u64) -> usize {
            records
                .iter()
                .position(|r| r.stream == stream && r.seq == seq)
                .unwrap()
        }
    }

    impl Tamperer for MemTamper {
        fn edit<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            self.0.tamper(|rs| {
                let i = Self::pos(rs, stream, seq);
                rs[i].event.action = "edited".into();
            });
            Box::pin(async {})
        }
        fn forge<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            self.0.tamper(|rs| {
                let i = Self::pos(rs, stream, seq);
                rs[i] = forged(rs[i].clone());
            });
            Box::pin(async {})
        }
        fn delete<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            self.0.tamper(|rs| {
                let i = Self::pos(rs, stream, seq);
                rs.remove(i);
            });
            Box::pin(async {})
        }
        fn swap<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            self.0.tamper(|rs| {
                let (a, b) = (Self::pos(rs, stream, seq), Self::pos(rs, stream, seq + 1));
                let (ida, idb) = (rs[a].id, rs[b].id);
                rs.swap(a, b);
                rs[a].id = ida;
                rs[b].id = idb;
            });
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn memory_store() {
        let store = Arc::new(MemoryStore::new());
        conformance(store.clone(), &MemTamper(store)).await;
    }
}

mod jsonl {
    use std::path::PathBuf;

    use super::*;

    struct FileTamper(PathBuf);

    impl FileTamper {
        /// Rewrites the file's lines through `f` (records as JSON values).
        fn rewrite(&self, f: impl FnOnce(&mut Vec<serde_json::Value>)) {
            let text = std::fs::read_to_string(&self.0).unwrap();
            let mut lines: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            f(&mut lines);
            let out = lines
                .iter()
                .fold(String::new(), |out, l| out + &l.to_string() + "\n");
            std::fs::write(&self.0, out).unwrap();
        }

        fn pos(lines: &[serde_json::Value], stream: &str, seq: u64) -> usize {
            lines
                .iter()
                .position(|l| l["stream"] == stream && l["seq"] == seq)
                .unwrap()
        }
    }

    impl Tamperer for FileTamper {
        fn edit<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            self.rewrite(|ls| {
                let i = Self::pos(ls, stream, seq);
                ls[i]["event"]["action"] = json!("edited");
            });
            Box::pin(async {})
        }
        fn forge<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            self.rewrite(|ls| {
                let i = Self::pos(ls, stream, seq);
                let record: AuditRecord = serde_json::from_value(ls[i].clone()).unwrap();
                ls[i] = serde_json::to_value(forged(record)).unwrap();
            });
            Box::pin(async {})
        }
        fn delete<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            self.rewrite(|ls| {
                let i = Self::pos(ls, stream, seq);
                ls.remove(i);
            });
            Box::pin(async {})
        }
        fn swap<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            self.rewrite(|ls| {
                let (a, b) = (Self::pos(ls, stream, seq), Self::pos(ls, stream, seq + 1));
                ls.swap(a, b);
            });
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn json_lines_store() {
        let path = std::env::temp_dir().join(format!("{}.jsonl", mortar_testkit::unique_name()));
        let store = Arc::new(JsonLinesStore::open(&path).await.unwrap());
        conformance(store.clone(), &FileTamper(path.clone())).await;
        // Reopening finds the heads again: the chain continues where it was.
        drop(store);
        let reopened = JsonLinesStore::open(&path).await.unwrap();
        reopened
            .write(&[AuditEvent::new("reopened", Outcome::Success).tenant("acme")])
            .await
            .unwrap();
        assert!(verify(&reopened, "acme", ..).await.unwrap().is_intact());
        // A crash left half a line: the next open ends it, so the next record stays whole.
        drop(reopened);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut file, b"{\"id\":9999,\"stre").unwrap();
        drop(file);
        let after_crash = JsonLinesStore::open(&path).await.unwrap();
        after_crash
            .write(&[AuditEvent::new("after.crash", Outcome::Success).tenant("acme")])
            .await
            .unwrap();
        let page = after_crash
            .query(&AuditQuery::new().action("after.crash"))
            .await
            .unwrap();
        assert_eq!(page.records.len(), 1);
        assert!(verify(&after_crash, "acme", ..).await.unwrap().is_intact());
        std::fs::remove_file(&path).unwrap();
    }
}

#[cfg(feature = "sql")]
mod sql {
    use mortar_audit::sql::{Migrator, SeaOrmAuditStore};
    use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};

    use super::*;

    /// An attacker with SQL access who first removes the append-only protection.
    struct SqlTamper(DatabaseConnection);

    impl SqlTamper {
        async fn exec(&self, sql: &str, values: Vec<sea_orm::Value>) {
            let backend = self.0.get_database_backend();
            let sql = if backend == DbBackend::Postgres {
                let mut n = 0;
                sql.chars()
                    .map(|c| {
                        if c == '?' {
                            n += 1;
                            format!("${n}")
                        } else {
                            c.to_string()
                        }
                    })
                    .collect()
            } else {
                sql.to_owned()
            };
            self.0
                .execute_raw(Statement::from_sql_and_values(backend, sql, values))
                .await
                .unwrap();
        }

        async fn unprotect(&self) {
            let statements: &[&str] = match self.0.get_database_backend() {
                DbBackend::Postgres => &["ALTER TABLE mortar_audit_events DISABLE TRIGGER USER"],
                _ => &[
                    "DROP TRIGGER IF EXISTS mortar_audit_events_no_update",
                    "DROP TRIGGER IF EXISTS mortar_audit_events_no_delete",
                ],
            };
            for s in statements {
                self.0.execute_unprepared(s).await.unwrap();
            }
        }

        async fn id_of(&self, stream: &str, seq: u64) -> i64 {
            let row = self
                .0
                .query_one_raw(Statement::from_sql_and_values(
                    self.0.get_database_backend(),
                    match self.0.get_database_backend() {
                        DbBackend::Postgres => {
                            "SELECT id FROM mortar_audit_events WHERE stream = $1 AND seq = $2"
                        }
                        _ => "SELECT id FROM mortar_audit_events WHERE stream = ? AND seq = ?",
                    },
                    [stream.into(), seq.cast_signed().into()],
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get("", "id").unwrap()
        }
    }

    impl Tamperer for SqlTamper {
        fn edit<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            Box::pin(async move {
                self.unprotect().await;
                self.exec(
                    "UPDATE mortar_audit_events SET action = 'edited' WHERE stream = ? AND seq = ?",
                    vec![stream.into(), seq.cast_signed().into()],
                )
                .await;
            })
        }
        fn forge<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            Box::pin(async move {
                self.unprotect().await;
                let id = self.id_of(stream, seq).await;
                // Rebuild the record as the store reads it, forge it, write the forgery back.
                let store = SeaOrmAuditStore::new(self.0.clone());
                let record = store
                    .read_stream(stream, seq, None, 1)
                    .await
                    .unwrap()
                    .remove(0);
                let fake = forged(record);
                self.exec(
                    "UPDATE mortar_audit_events SET action = ?, hash = ? WHERE id = ?",
                    vec!["forged".into(), fake.hash.to_hex().into(), id.into()],
                )
                .await;
            })
        }
        fn delete<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            Box::pin(async move {
                self.unprotect().await;
                self.exec(
                    "DELETE FROM mortar_audit_events WHERE stream = ? AND seq = ?",
                    vec![stream.into(), seq.cast_signed().into()],
                )
                .await;
            })
        }
        fn swap<'a>(&'a self, stream: &'a str, seq: u64) -> BoxFut<'a> {
            Box::pin(async move {
                self.unprotect().await;
                let (a, b) = (
                    self.id_of(stream, seq).await,
                    self.id_of(stream, seq + 1).await,
                );
                self.exec(
                    "UPDATE mortar_audit_events SET id = ? WHERE id = ?",
                    vec![(-a).into(), a.into()],
                )
                .await;
                self.exec(
                    "UPDATE mortar_audit_events SET id = ? WHERE id = ?",
                    vec![a.into(), b.into()],
                )
                .await;
                self.exec(
                    "UPDATE mortar_audit_events SET id = ? WHERE id = ?",
                    vec![b.into(), (-a).into()],
                )
                .await;
            })
        }
    }

    /// UPDATE, DELETE (and on PostgreSQL TRUNCATE) are refused by the database itself.
    async fn append_only(db: &DatabaseConnection) {
        let store = SeaOrmAuditStore::new(db.clone());
        store
            .write(&[AuditEvent::new("kept", Outcome::Success).tenant("locked")])
            .await
            .unwrap();
        let mut refused = vec![
            "UPDATE mortar_audit_events SET action = 'x'",
            "DELETE FROM mortar_audit_events",
            "UPDATE mortar_audit_anchors SET seq = 1",
            "DELETE FROM mortar_audit_anchors",
        ];
        if db.get_database_backend() == DbBackend::Postgres {
            refused.extend([
                "TRUNCATE mortar_audit_events",
                "TRUNCATE mortar_audit_anchors",
            ]);
        }
        // Anchors must exist for their UPDATE/DELETE to reach the trigger.
        purge(&store, SystemTime::now() - Duration::from_hours(1))
            .await
            .unwrap();
        store
            .write(&[AuditEvent::new("old", Outcome::Success)
                .tenant("anchored")
                .at(t(0))])
            .await
            .unwrap();
        store
            .write(&[AuditEvent::new("new", Outcome::Success).tenant("anchored")])
            .await
            .unwrap();
        purge(&store, SystemTime::now() - Duration::from_hours(1))
            .await
            .unwrap();
        for sql in refused {
            let err = db.execute_unprepared(sql).await.expect_err(sql);
            assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        }
        assert_eq!(
            store
                .query(&AuditQuery::new().tenant("locked"))
                .await
                .unwrap()
                .records
                .len(),
            1
        );
        assert!(verify(&store, "anchored", ..).await.unwrap().is_intact());

        // The triggers let rows under an anchor go, and anyone who may insert may insert an
        // anchor: verification must not take an anchor no purge record vouches for.
        store
            .write(&[
                AuditEvent::new("a", Outcome::Success).tenant("forged"),
                AuditEvent::new("b", Outcome::Success).tenant("forged"),
            ])
            .await
            .unwrap();
        let state = store.chain_state("forged").await.unwrap();
        let (head_seq, head_hash) = state.head.unwrap();
        let backend = db.get_database_backend();
        let (insert, delete) = if backend == DbBackend::Postgres {
            (
                "INSERT INTO mortar_audit_anchors (stream, seq, prev_hash, created_at) VALUES ($1, $2, $3, 0)",
                "DELETE FROM mortar_audit_events WHERE stream = $1",
            )
        } else {
            (
                "INSERT INTO mortar_audit_anchors (stream, seq, prev_hash, created_at) VALUES (?, ?, ?, 0)",
                "DELETE FROM mortar_audit_events WHERE stream = ?",
            )
        };
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            insert,
            [
                "forged".into(),
                (head_seq.cast_signed() + 1).into(),
                head_hash.to_hex().into(),
            ],
        ))
        .await
        .unwrap();
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            delete,
            ["forged".into()],
        ))
        .await
        .unwrap();
        let report = verify(&store, "forged", ..).await.unwrap();
        assert_eq!(
            report.tamper.map(|t| (t.kind, t.seq)),
            Some((TamperKind::Removed, 2))
        );
    }

    async fn run(db: DatabaseConnection) {
        use sea_orm_migration::MigratorTrait as _;
        let store = Arc::new(SeaOrmAuditStore::new(db.clone()));
        conformance(store, &SqlTamper(db.clone())).await;
        // The drill removed the protection; start again from a clean schema.
        Migrator::down(&db, None).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        append_only(&db).await;
        last_seen(&db).await;
    }

    /// Last-seen times upsert: a later batch replaces the earlier time and tenant.
    async fn last_seen(db: &DatabaseConnection) {
        use mortar_audit::sql::SeaOrmLastSeen;
        use mortar_audit::{LastSeen, LastSeenStore as _};
        let store = SeaOrmLastSeen::new(db.clone());
        assert_eq!(store.get("u1").await.unwrap(), None);
        store
            .save(&[
                LastSeen::new("u1", Some("acme".into()), t(1)),
                LastSeen::new("u2", None, t(2)),
            ])
            .await
            .unwrap();
        store
            .save(&[LastSeen::new("u1", Some("globex".into()), t(3))])
            .await
            .unwrap();
        assert_eq!(
            store.get("u1").await.unwrap(),
            Some(LastSeen::new("u1", Some("globex".into()), t(3)))
        );
        assert_eq!(store.get("u2").await.unwrap().unwrap().at, t(2));
    }

    mortar_testkit::sql_suites!(mortar_audit::sql::Migrator, super::run);
}
