//! [`DurableRecorder`]: the non-blocking [`AuditRecorder`] in front of the sinks.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mortar_core::{AuditEvent, AuditRecorder, TracingRecorder};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::redact::Redactor;
use crate::store::AuditSink;

/// What `record` does when the queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Overflow {
    /// Hand the event to the [`Fallback`] at once (the default): the calling task never waits.
    Spill,
    /// Wait up to the bound for room (the calling thread sleeps in short steps; from async code
    /// prefer [`DurableRecorder::record_async`], which yields instead), then spill.
    WaitThenSpill(Duration),
}

/// Where events go that the sinks cannot take (queue full, a sink failing past its retries, the
/// recorder shut down). Every spill is counted (`mortar_audit_events_spilled_total`,
/// [`RecorderStats::spilled`]) and logged; nothing is dropped silently.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fallback {
    /// Each event is logged in full as an ERROR `tracing` event (target `mortar::audit`) by
    /// [`TracingRecorder`]'s field names (the default).
    Tracing,
    /// Each event is appended (and synced) as a JSON line to this file, and the file is replayed
    /// into the sinks the next time a recorder starts with it, then removed.
    File(PathBuf),
}

/// Counters of a [`DurableRecorder`] (also exported through the `metrics` facade).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecorderStats {
    /// Events handed to `record`.
    pub recorded: u64,
    /// Events a sink stored (counted once per sink).
    pub written: u64,
    /// Events that went to the fallback instead of a sink.
    pub spilled: u64,
    /// Failed sink writes (each retry counts).
    pub write_failures: u64,
    /// Events waiting in the queue now.
    pub queued: u64,
    /// Spilled events replayed into the sinks at start.
    pub replayed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    recorded: AtomicU64,
    written: AtomicU64,
    spilled: AtomicU64,
    write_failures: AtomicU64,
    replayed: AtomicU64,
}

/// One spilled event and, when one sink failed, the sink it is owed to.
#[derive(Serialize, Deserialize)]
struct SpillLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sink: Option<String>,
    reason: String,
    event: AuditEvent,
}

/// Builds a [`DurableRecorder`].
#[derive(Debug)]
pub struct RecorderBuilder {
    sinks: Vec<Arc<dyn AuditSink>>,
    capacity: usize,
    batch: usize,
    overflow: Overflow,
    fallback: Fallback,
    redactor: Redactor,
    retry_for: Duration,
}

impl RecorderBuilder {
    /// Adds a sink; every event goes to every sink.
    #[must_use]
    pub fn sink(mut self, sink: impl AuditSink) -> Self {
        self.sinks.push(Arc::new(sink));
        self
    }

    /// Adds a shared sink (e.g. a store the application also queries).
    #[must_use]
    pub fn shared_sink(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// The queue's capacity in events (default 16 384).
    #[must_use]
    pub fn capacity(mut self, events: usize) -> Self {
        self.capacity = events.max(1);
        self
    }

    /// The most events written in one batch (default 10 000: each batch is one transaction with
    /// a fixed cost — up to 40 ms on PostgreSQL over TCP with sqlx 0.9.0, which leaves
    /// `TCP_NODELAY` off (docs/benchmarks.md) — so big batches matter under load; when the
    /// writer keeps up, batches are as small as what is waiting).
    #[must_use]
    pub fn batch_size(mut self, events: usize) -> Self {
        self.batch = events.max(1);
        self
    }

    /// What happens when the queue is full (default [`Overflow::Spill`]).
    #[must_use]
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Where spilled events go (default [`Fallback::Tracing`]).
    #[must_use]
    pub fn fallback(mut self, fallback: Fallback) -> Self {
        self.fallback = fallback;
        self
    }

    /// How events are cleaned before storage (default [`Redactor::default`]).
    #[must_use]
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// How long a failing sink is retried (with exponential back-off from 50 ms to 5 s) before
    /// the batch is spilled (default 30 s). Meanwhile the queue fills and overflow applies.
    #[must_use]
    pub fn retry_for(mut self, duration: Duration) -> Self {
        self.retry_for = duration;
        self
    }

    /// Starts the background writer on the current tokio runtime. When the fallback is a file
    /// holding events from an earlier run, they are written to the sinks first.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(self) -> DurableRecorder {
        // Set the earlier run's spill file aside now, before this run can spill into it.
        let replay = match &self.fallback {
            Fallback::File(path) => set_aside(path),
            Fallback::Tracing => None,
        };
        let (tx, rx) = mpsc::channel(self.capacity);
        let (stop_tx, stop_rx) = watch::channel(None);
        let shared = Arc::new(Shared {
            spill: Spill {
                fallback: self.fallback,
                file: Mutex::new(None),
                redactor: self.redactor.clone(),
            },
            counters: Counters::default(),
        });
        let inner = Arc::new(Inner {
            tx,
            overflow: self.overflow,
            shared: shared.clone(),
            stop: stop_tx,
            task: Mutex::new(None),
        });
        // The writer holds no sender: when every recorder handle is dropped the queue closes,
        // and the writer finishes what is queued and ends.
        let writer = Writer {
            shared,
            sinks: self.sinks,
            batch: self.batch,
            redactor: self.redactor,
            retry_for: self.retry_for,
        };
        let handle = tokio::spawn(writer.run(rx, stop_rx, replay));
        *lock(&inner.task) = Some(handle);
        DurableRecorder { inner }
    }
}

/// The durable, non-blocking [`AuditRecorder`]: `record` puts the event in a bounded queue and
/// returns; a background task redacts the queued events and writes them to every sink in
/// batches (as many as are waiting, up to the batch size), retrying a failing sink with
/// back-off. When the queue is full, [`Overflow`] applies; events a sink cannot take go to the
/// [`Fallback`]. Each such event is counted and logged: nothing is dropped silently.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use mortar_audit::{AuditStore as _, AuditQuery, DurableRecorder, MemoryStore};
/// use mortar_core::{AuditEvent, AuditRecorder as _, Outcome};
///
/// let store = Arc::new(MemoryStore::new());
/// let recorder = DurableRecorder::builder().shared_sink(store.clone()).start();
/// recorder.record(AuditEvent::new("auth.login", Outcome::Success).meta("password", "hunter2"));
/// recorder.shutdown(Duration::from_secs(5)).await.unwrap();
/// let page = store.query(&AuditQuery::new()).await.unwrap();
/// assert_eq!(page.records[0].event.metadata["password"], "[REDACTED]");
/// # }
/// ```
#[derive(Clone)]
pub struct DurableRecorder {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<AuditEvent>,
    overflow: Overflow,
    shared: Arc<Shared>,
    stop: watch::Sender<Option<Instant>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// What the recorder handles and the writer share.
struct Shared {
    spill: Spill,
    counters: Counters,
}

impl fmt::Debug for DurableRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DurableRecorder")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl DurableRecorder {
    /// A builder with no sink yet.
    pub fn builder() -> RecorderBuilder {
        RecorderBuilder {
            sinks: Vec::new(),
            capacity: 16_384,
            batch: 10_000,
            overflow: Overflow::Spill,
            fallback: Fallback::Tracing,
            redactor: Redactor::default(),
            retry_for: Duration::from_secs(30),
        }
    }

    /// The counters.
    pub fn stats(&self) -> RecorderStats {
        let c = &self.inner.shared.counters;
        let tx = &self.inner.tx;
        RecorderStats {
            recorded: c.recorded.load(Ordering::Relaxed),
            written: c.written.load(Ordering::Relaxed),
            spilled: c.spilled.load(Ordering::Relaxed),
            write_failures: c.write_failures.load(Ordering::Relaxed),
            queued: (tx.max_capacity() - tx.capacity()) as u64,
            replayed: c.replayed.load(Ordering::Relaxed),
        }
    }

    /// Like `record`, but waits for room asynchronously (up to the [`Overflow::WaitThenSpill`]
    /// bound) instead of sleeping the thread.
    pub async fn record_async(&self, event: AuditEvent) {
        self.inner
            .shared
            .counters
            .recorded
            .fetch_add(1, Ordering::Relaxed);
        let result = match self.inner.overflow {
            Overflow::Spill => self.inner.tx.try_send(event).map_err(|e| match e {
                mpsc::error::TrySendError::Full(e) => (e, "queue_full"),
                mpsc::error::TrySendError::Closed(e) => (e, "closed"),
            }),
            Overflow::WaitThenSpill(bound) => self
                .inner
                .tx
                .send_timeout(event, bound)
                .await
                .map_err(|e| match e {
                    mpsc::error::SendTimeoutError::Timeout(e) => (e, "queue_full"),
                    mpsc::error::SendTimeoutError::Closed(e) => (e, "closed"),
                }),
        };
        if let Err((event, reason)) = result {
            self.inner
                .shared
                .spill_events(None, reason, &[event], false);
        }
    }

    /// Stops taking events (later ones are spilled), writes what is queued, and waits for the
    /// writer up to `timeout`; events still unwritten at the deadline are spilled.
    ///
    /// # Errors
    /// [`Error::Closed`] when the writer did not finish in time (what it had not written by the
    /// deadline is spilled); [`Error::Store`] when the writer task panicked.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        self.inner.stop.send_replace(Some(deadline));
        let handle = lock(&self.inner.task).take();
        let Some(handle) = handle else {
            return Ok(());
        };
        match tokio::time::timeout(timeout + Duration::from_millis(100), handle).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::error!(target: "mortar::audit", error = %e, "the audit writer failed");
                Err(Error::Store(format!("the audit writer failed: {e}")))
            }
            Err(_) => Err(Error::Closed),
        }
    }
}

impl AuditRecorder for DurableRecorder {
    fn record(&self, event: AuditEvent) {
        self.inner
            .shared
            .counters
            .recorded
            .fetch_add(1, Ordering::Relaxed);
        let event = match self.inner.tx.try_send(event) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Closed(event)) => {
                self.inner
                    .shared
                    .spill_events(None, "closed", &[event], false);
                return;
            }
            Err(mpsc::error::TrySendError::Full(event)) => event,
        };
        let mut event = event;
        if let Overflow::WaitThenSpill(bound) = self.inner.overflow {
            let deadline = Instant::now() + bound;
            while Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
                match self.inner.tx.try_send(event) {
                    Ok(()) => return,
                    Err(mpsc::error::TrySendError::Full(e)) => event = e,
                    Err(mpsc::error::TrySendError::Closed(e)) => {
                        event = e;
                        break;
                    }
                }
            }
        }
        self.inner
            .shared
            .spill_events(None, "queue_full", &[event], false);
    }
}

impl Shared {
    /// Spills `events`; `redacted` says whether the writer already cleaned them (redacting
    /// twice would hash a hashed personal value again).
    fn spill_events(
        &self,
        sink: Option<&str>,
        reason: &'static str,
        events: &[AuditEvent],
        redacted: bool,
    ) {
        let n = events.len() as u64;
        self.counters.spilled.fetch_add(n, Ordering::Relaxed);
        metrics::counter!("mortar_audit_events_spilled_total", "reason" => reason).increment(n);
        self.spill.spill(sink, reason, events, redacted);
    }
}

struct Spill {
    fallback: Fallback,
    file: Mutex<Option<std::fs::File>>,
    redactor: Redactor,
}

impl Spill {
    fn spill(
        &self,
        sink: Option<&str>,
        reason: &'static str,
        events: &[AuditEvent],
        redacted: bool,
    ) {
        tracing::warn!(
            target: "mortar::audit",
            sink,
            reason,
            events = events.len(),
            "audit events spilled to the fallback"
        );
        if let Fallback::File(path) = &self.fallback {
            match self.append(path, sink, reason, events, redacted) {
                Ok(()) => return,
                Err(e) => tracing::error!(
                    target: "mortar::audit",
                    error = %e,
                    "audit spill file failed; logging the events instead"
                ),
            }
        }
        for event in events {
            // The log is the last resort: it must hold redacted values too.
            let event = self.clean(event, redacted);
            tracing::error!(target: "mortar::audit", reason, "audit event not stored; logged in full below");
            TracingRecorder.record(event);
        }
    }

    fn clean(&self, event: &AuditEvent, redacted: bool) -> AuditEvent {
        if redacted {
            event.clone()
        } else {
            self.redactor.redact(event.clone())
        }
    }

    fn append(
        &self,
        path: &Path,
        sink: Option<&str>,
        reason: &str,
        events: &[AuditEvent],
        redacted: bool,
    ) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(events.len() * 400);
        for event in events {
            let line = SpillLine {
                sink: sink.map(str::to_owned),
                reason: reason.to_owned(),
                event: self.clean(event, redacted),
            };
            serde_json::to_writer(&mut buf, &line)?;
            buf.push(b'\n');
        }
        let mut file = lock(&self.file);
        if file.is_none() {
            *file = Some(OpenOptions::new().create(true).append(true).open(path)?);
        }
        let f = file.as_mut().expect("opened above");
        f.write_all(&buf)?;
        f.sync_data()
    }
}

struct Writer {
    shared: Arc<Shared>,
    sinks: Vec<Arc<dyn AuditSink>>,
    batch: usize,
    redactor: Redactor,
    retry_for: Duration,
}

impl Writer {
    async fn run(
        self,
        mut rx: mpsc::Receiver<AuditEvent>,
        mut stop: watch::Receiver<Option<Instant>>,
        replay: Option<PathBuf>,
    ) {
        if let Some(source) = replay {
            self.replay(&source, &stop).await;
        }
        let mut buf = Vec::with_capacity(self.batch);
        let mut stopping = false;
        loop {
            let n = if stopping {
                rx.recv_many(&mut buf, self.batch).await
            } else {
                // The stop signal first: under constant load the queue is always ready, and
                // shutdown must still close it.
                tokio::select! {
                    biased;
                    _ = stop.changed() => {
                        stopping = true;
                        rx.close();
                        continue;
                    }
                    n = rx.recv_many(&mut buf, self.batch) => n,
                }
            };
            if n == 0 {
                break;
            }
            let events: Vec<AuditEvent> = buf.drain(..).map(|e| self.redactor.redact(e)).collect();
            if stopping && stop.borrow().is_some_and(|d| Instant::now() >= d) {
                // Past the shutdown deadline: what is still queued goes to the fallback.
                self.shared.spill_events(None, "shutdown", &events, true);
                continue;
            }
            metrics::gauge!("mortar_audit_queue_depth")
                .set(f64::from(u32::try_from(rx.len()).unwrap_or(u32::MAX)));
            for sink in &self.sinks {
                self.write(sink.as_ref(), &events, &stop).await;
            }
        }
    }

    /// Writes one batch to one sink, retrying with back-off; spills it when the retries or the
    /// shutdown deadline run out.
    async fn write(
        &self,
        sink: &dyn AuditSink,
        events: &[AuditEvent],
        stop: &watch::Receiver<Option<Instant>>,
    ) {
        let give_up = Instant::now() + self.retry_for;
        let mut delay = Duration::from_millis(50);
        loop {
            match sink.write(events).await {
                Ok(()) => {
                    let n = events.len() as u64;
                    self.shared.counters.written.fetch_add(n, Ordering::Relaxed);
                    metrics::counter!("mortar_audit_events_written_total", "sink" => sink.name().to_owned())
                        .increment(n);
                    return;
                }
                Err(e) => {
                    self.shared
                        .counters
                        .write_failures
                        .fetch_add(1, Ordering::Relaxed);
                    metrics::counter!("mortar_audit_write_failures_total", "sink" => sink.name().to_owned())
                        .increment(1);
                    tracing::warn!(target: "mortar::audit", sink = sink.name(), error = %e, "audit sink write failed");
                    let now = Instant::now();
                    // Read each time: a shutdown requested during the retries bounds them.
                    let deadline = *stop.borrow();
                    if now + delay > give_up || deadline.is_some_and(|d| now + delay > d) {
                        self.shared
                            .spill_events(Some(sink.name()), "sink_failed", events, true);
                        return;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Writes the events of an earlier run's spill file (set aside by [`set_aside`]) to the
    /// sinks they are owed to, then removes it.
    async fn replay(&self, source: &Path, stop: &watch::Receiver<Option<Instant>>) {
        let lines = match read_spill(source) {
            Ok(lines) => lines,
            Err(e) => {
                tracing::error!(target: "mortar::audit", error = %e, "cannot read the audit spill file");
                return;
            }
        };
        let orphaned: Vec<&SpillLine> = lines
            .iter()
            .filter(|l| {
                l.sink
                    .as_deref()
                    .is_some_and(|s| self.sinks.iter().all(|k| k.name() != s))
            })
            .collect();
        for line in &orphaned {
            // Owed to a sink this recorder does not have: kept for a later start, not dropped.
            self.shared.spill_events(
                line.sink.as_deref(),
                "no_such_sink",
                std::slice::from_ref(&line.event),
                true,
            );
        }
        if self.sinks.is_empty() {
            let all: Vec<AuditEvent> = lines
                .iter()
                .filter(|l| l.sink.is_none())
                .map(|l| l.event.clone())
                .collect();
            self.shared.spill_events(None, "no_sink", &all, true);
        }
        for sink in &self.sinks {
            let owed: Vec<AuditEvent> = lines
                .iter()
                .filter(|l| l.sink.as_deref().is_none_or(|s| s == sink.name()))
                .map(|l| l.event.clone())
                .collect();
            for chunk in owed.chunks(self.batch) {
                self.write(sink.as_ref(), chunk, stop).await;
            }
        }
        self.shared
            .counters
            .replayed
            .fetch_add(lines.len() as u64, Ordering::Relaxed);
        tracing::info!(target: "mortar::audit", events = lines.len(), "audit spill file replayed");
        if let Err(e) = std::fs::remove_file(source) {
            tracing::error!(target: "mortar::audit", error = %e, "cannot remove the replayed audit spill file");
        }
    }
}

/// Renames an earlier run's spill file to `<name>.replaying` (unless a cut-short replay left one
/// already) so spills of this run go to a fresh file; the path to replay, if any.
fn set_aside(path: &Path) -> Option<PathBuf> {
    let replaying = path.with_extension("replaying");
    if replaying.exists() {
        // An earlier replay was cut short; finish it (sinks may see some of those again).
        return Some(replaying);
    }
    if !path.exists() {
        return None;
    }
    match std::fs::rename(path, &replaying) {
        Ok(()) => Some(replaying),
        Err(e) => {
            tracing::error!(target: "mortar::audit", error = %e, "cannot replay the audit spill file");
            None
        }
    }
}

fn read_spill(path: &Path) -> std::io::Result<Vec<SpillLine>> {
    // Split on bytes: a line torn by a crash may end inside a UTF-8 sequence, and must not stop
    // the rest of the file from being read.
    let bytes = std::fs::read(path)?;
    let mut out = Vec::new();
    for line in bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice(line) {
            Ok(parsed) => out.push(parsed),
            // A line cut by a crash mid-write; the rest of the file still counts.
            Err(e) => {
                tracing::error!(target: "mortar::audit", error = %e, "unreadable line in the audit spill file");
            }
        }
    }
    Ok(out)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
