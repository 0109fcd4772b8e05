//! The durable recorder: a full queue handled by the declared policy, failing sinks spilled and
//! replayed, shutdown draining, redaction and escaping in every output — nothing lost silently.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mortar_audit::{
    AuditSink, DurableRecorder, Error, Fallback, MemoryStore, Overflow, Personal, Redactor,
};
use mortar_core::{AuditEvent, AuditRecorder as _, Outcome};
use tokio::sync::watch;

/// A sink that waits for its gate to open and fails while `failing` is set.
#[derive(Debug)]
struct Gated {
    name: &'static str,
    store: MemoryStore,
    gate: watch::Receiver<bool>,
    failing: AtomicBool,
}

impl Gated {
    fn new(name: &'static str, open: bool) -> (Arc<Self>, watch::Sender<bool>) {
        let (tx, rx) = watch::channel(open);
        let sink = Arc::new(Self {
            name,
            store: MemoryStore::new(),
            gate: rx,
            failing: AtomicBool::new(false),
        });
        (sink, tx)
    }
}

#[async_trait]
impl AuditSink for Gated {
    fn name(&self) -> &str {
        self.name
    }

    async fn write(&self, events: &[AuditEvent]) -> Result<(), Error> {
        let mut gate = self.gate.clone();
        let _ = gate.wait_for(|open| *open).await;
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::Store("down for the test".into()));
        }
        self.store.write(events).await
    }
}

fn event(i: usize) -> AuditEvent {
    AuditEvent::new("test.event", Outcome::Success)
        .tenant("acme")
        .meta("i", i)
        .meta("token", "secret-token-value")
}

fn spill_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{}.spill", mortar_testkit::unique_name()))
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_spills_to_the_file_and_the_next_start_replays_it() {
    let path = spill_path();
    let (sink, gate) = Gated::new("sql", false);
    let recorder = DurableRecorder::builder()
        .shared_sink(sink.clone())
        .capacity(4)
        .batch_size(2)
        .fallback(Fallback::File(path.clone()))
        .start();
    // On a current-thread runtime the writer has not run yet: 4 fit, 46 spill.
    for i in 0..50 {
        recorder.record(event(i));
    }
    let stats = recorder.stats();
    assert_eq!((stats.recorded, stats.queued, stats.spilled), (50, 4, 46));
    let spilled = std::fs::read_to_string(&path).unwrap();
    assert_eq!(spilled.lines().count(), 46);
    assert!(
        !spilled.contains("secret-token-value"),
        "spills are redacted too"
    );

    gate.send(true).unwrap();
    recorder.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(sink.store.len(), 4);
    assert_eq!(recorder.stats().written, 4);

    // The next start replays the spill file into the sink, then removes it.
    let (sink2, _gate2) = Gated::new("sql", true);
    let again = DurableRecorder::builder()
        .shared_sink(sink2.clone())
        .fallback(Fallback::File(path.clone()))
        .start();
    again.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(again.stats().replayed, 46);
    assert_eq!(sink2.store.len(), 46);
    assert!(!path.exists());
    // Every one of the 50 events is stored exactly once.
    let mut seen: Vec<u64> = sink
        .store
        .records()
        .into_iter()
        .chain(sink2.store.records())
        .map(|r| r.event.metadata["i"].as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..50).collect::<Vec<_>>());
}

#[tokio::test(flavor = "current_thread")]
async fn a_failing_sink_is_retried_then_spilled_for_that_sink_only() {
    let path = spill_path();
    let (good, _g1) = Gated::new("good", true);
    let (bad, _g2) = Gated::new("bad", true);
    bad.failing.store(true, Ordering::SeqCst);
    let recorder = DurableRecorder::builder()
        .shared_sink(good.clone())
        .shared_sink(bad.clone())
        .retry_for(Duration::from_millis(300))
        .fallback(Fallback::File(path.clone()))
        .start();
    for i in 0..3 {
        recorder.record(event(i));
    }
    recorder.shutdown(Duration::from_secs(10)).await.unwrap();
    let stats = recorder.stats();
    assert_eq!(good.store.len(), 3);
    assert_eq!(bad.store.len(), 0);
    assert_eq!(stats.spilled, 3);
    assert!(stats.write_failures >= 2, "{stats:?}");
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("\"sink\":\"bad\"")
    );

    // Replayed only into the sink that missed them.
    let (good2, _g3) = Gated::new("good", true);
    let (bad2, _g4) = Gated::new("bad", true);
    let again = DurableRecorder::builder()
        .shared_sink(good2.clone())
        .shared_sink(bad2.clone())
        .fallback(Fallback::File(path.clone()))
        .start();
    again.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!((good2.store.len(), bad2.store.len()), (0, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_then_spill_waits_for_room() {
    let store = Arc::new(MemoryStore::new());
    let recorder = DurableRecorder::builder()
        .shared_sink(store.clone())
        .capacity(1)
        .batch_size(1)
        .overflow(Overflow::WaitThenSpill(Duration::from_secs(5)))
        .start();
    for i in 0..20 {
        recorder.record(event(i));
    }
    recorder.shutdown(Duration::from_secs(10)).await.unwrap();
    let stats = recorder.stats();
    assert_eq!((stats.written, stats.spilled), (20, 0), "{stats:?}");
    assert_eq!(store.len(), 20);
}

#[tokio::test(flavor = "current_thread")]
async fn record_async_yields_while_it_waits() {
    let store = Arc::new(MemoryStore::new());
    let recorder = DurableRecorder::builder()
        .shared_sink(store.clone())
        .capacity(1)
        .overflow(Overflow::WaitThenSpill(Duration::from_secs(5)))
        .start();
    for i in 0..20 {
        recorder.record_async(event(i)).await;
    }
    recorder.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!((recorder.stats().spilled, store.len()), (0, 20));
}

#[tokio::test(flavor = "current_thread")]
async fn after_shutdown_events_are_spilled_not_lost() {
    let store = Arc::new(MemoryStore::new());
    let path = spill_path();
    let recorder = DurableRecorder::builder()
        .shared_sink(store.clone())
        .fallback(Fallback::File(path.clone()))
        .start();
    for i in 0..1000 {
        recorder.record(event(i));
    }
    recorder.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(store.len(), 1000, "shutdown drains the queue");
    recorder.record(event(1000));
    assert_eq!(recorder.stats().spilled, 1);
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    std::fs::remove_file(&path).unwrap();
}

/// An `AsyncWrite` into a shared buffer.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl tokio::io::AsyncWrite for SharedBuf {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "current_thread")]
async fn json_lines_to_a_writer_are_chained_redacted_and_one_per_event() {
    let out = SharedBuf::default();
    let recorder = DurableRecorder::builder()
        .sink(mortar_audit::JsonLinesSink::new(out.clone()))
        .start();
    for i in 0..5 {
        recorder.record(event(i).meta("note", "two\nlines"));
    }
    recorder.shutdown(Duration::from_secs(5)).await.unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(!text.contains("secret-token-value"));
    let records: Vec<mortar_audit::AuditRecord> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 5);
    assert!(records.iter().all(mortar_audit::AuditRecord::is_intact));
    assert!(
        records
            .windows(2)
            .all(|w| w[1].prev_hash == w[0].hash && w[1].seq == w[0].seq + 1)
    );
    assert_eq!(records[0].event.metadata["note"], "two\\u{a}lines");
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_bounds_the_retries_of_a_failing_sink() {
    let (bad, _gate) = Gated::new("bad", true);
    bad.failing.store(true, Ordering::SeqCst);
    let recorder = DurableRecorder::builder()
        .shared_sink(bad.clone())
        .retry_for(Duration::from_mins(1))
        .start();
    for i in 0..3 {
        recorder.record(event(i));
    }
    // Let the writer start retrying, then shut down: the deadline, not the minute, ends it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    recorder.shutdown(Duration::from_millis(500)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(recorder.stats().spilled, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_the_queue_under_constant_load() {
    let store = Arc::new(MemoryStore::new());
    let recorder = DurableRecorder::builder()
        .shared_sink(store.clone())
        .start();
    let producer = {
        let recorder = recorder.clone();
        std::thread::spawn(move || {
            for i in 0..200_000 {
                recorder.record(event(i));
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    recorder.shutdown(Duration::from_secs(30)).await.unwrap();
    producer.join().unwrap();
    let stats = recorder.stats();
    // Every event is either stored or spilled (after the queue closed): none vanished.
    assert_eq!(stats.written + stats.spilled, 200_000, "{stats:?}");
    assert_eq!(store.len() as u64, stats.written);
}

#[tokio::test(flavor = "current_thread")]
async fn events_owed_to_a_sink_no_longer_configured_stay_in_the_spill_file() {
    let path = spill_path();
    let (bad, _g) = Gated::new("bad", true);
    bad.failing.store(true, Ordering::SeqCst);
    let redactor = || Redactor::default().personal_mode(Personal::Hash(b"key".to_vec()));
    let recorder = DurableRecorder::builder()
        .shared_sink(bad)
        .retry_for(Duration::from_millis(100))
        .redactor(redactor())
        .fallback(Fallback::File(path.clone()))
        .start();
    for i in 0..3 {
        recorder.record(event(i).meta("email", "alice@example.com"));
    }
    recorder.shutdown(Duration::from_secs(10)).await.unwrap();
    let first = std::fs::read_to_string(&path).unwrap();
    assert_eq!(first.lines().count(), 3);
    // Redacted once: the HMAC of the address, not an HMAC of the HMAC.
    let once = redactor().redact(event(0).meta("email", "alice@example.com"));
    let once = once.metadata["email"].as_str().unwrap();
    assert!(first.contains(once), "{first}");

    // Started without that sink: nothing is lost, the events are spilled again for it.
    let (good, _g2) = Gated::new("good", true);
    let again = DurableRecorder::builder()
        .shared_sink(good.clone())
        .fallback(Fallback::File(path.clone()))
        .start();
    again.shutdown(Duration::from_secs(10)).await.unwrap();
    assert_eq!(good.store.len(), 0);
    assert_eq!(again.stats().spilled, 3);
    let kept = std::fs::read_to_string(&path).unwrap();
    assert_eq!(kept.lines().count(), 3);
    assert!(kept.contains("\"sink\":\"bad\""));
    std::fs::remove_file(&path).unwrap();
}
