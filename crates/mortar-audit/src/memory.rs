//! [`MemoryStore`]: the trail in process memory, for tests and single-process tools.

use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use mortar_core::AuditEvent;

use crate::chain::{Heads, purge_point};
use crate::error::Error;
use crate::record::AuditRecord;
use crate::store::{AuditQuery, AuditSink, AuditStore, ChainState, Page, Purged, Streams};

/// Records in memory, hash-chained like every store; lost when the process ends.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use mortar_audit::{AuditQuery, AuditSink as _, AuditStore as _, MemoryStore};
/// use mortar_core::{AuditEvent, Outcome};
///
/// let store = MemoryStore::new();
/// store.write(&[AuditEvent::new("auth.login", Outcome::Success).tenant("acme")]).await.unwrap();
/// let page = store.query(&AuditQuery::new().tenant("acme")).await.unwrap();
/// assert_eq!(page.records[0].seq, 1);
/// # }
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    streams: Streams,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    records: Vec<AuditRecord>,
    heads: Heads,
    next_id: u64,
}

impl MemoryStore {
    /// An empty store with one chain per tenant.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store chaining as `streams` says.
    pub fn with_streams(streams: Streams) -> Self {
        Self {
            streams,
            inner: Mutex::default(),
        }
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of every record, in storage order.
    pub fn records(&self) -> Vec<AuditRecord> {
        self.lock().records.clone()
    }

    /// Lets `f` change the stored records directly, as an attacker with access to the storage
    /// could: for tamper drills and tests of [`crate::verify`].
    pub fn tamper(&self, f: impl FnOnce(&mut Vec<AuditRecord>)) {
        f(&mut self.lock().records);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written record (records are
        // pushed whole), so a poisoned lock is still consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl AuditSink for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn write(&self, events: &[AuditEvent]) -> Result<(), Error> {
        let mut inner = self.lock();
        for event in events {
            let stream = self.streams.of(event);
            let mut record = inner.heads.chain(stream, event.clone());
            inner.next_id += 1;
            record.id = inner.next_id;
            inner.records.push(record);
        }
        Ok(())
    }
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn query(&self, query: &AuditQuery) -> Result<Page, Error> {
        let limit = query.limit_or_default();
        let inner = self.lock();
        let found = inner
            .records
            .iter()
            .rev()
            .filter(|r| query.matches(r))
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(Page::from_overfetch(found, limit))
    }

    async fn streams(&self) -> Result<Vec<String>, Error> {
        Ok(self.lock().heads.streams())
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_seq: u64,
        after: Option<&AuditRecord>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, Error> {
        let inner = self.lock();
        Ok(inner
            .records
            .iter()
            .filter(|r| {
                r.stream == stream && r.seq >= from_seq && after.is_none_or(|a| r.id > a.id)
            })
            .take(limit)
            .cloned()
            .collect())
    }

    async fn chain_state(&self, stream: &str) -> Result<ChainState, Error> {
        Ok(self.lock().heads.state(stream))
    }

    async fn purge_stream(
        &self,
        stream: &str,
        cutoff: SystemTime,
    ) -> Result<Option<Purged>, Error> {
        let mut inner = self.lock();
        let head = inner.heads.state(stream).head;
        let (removed, anchor) = {
            let mine: Vec<&AuditRecord> = inner
                .records
                .iter()
                .filter(|r| r.stream == stream)
                .collect();
            let Some((keep_from, anchor)) = purge_point(&mine, head, cutoff) else {
                return Ok(None);
            };
            (keep_from, anchor)
        };
        inner.heads.set_anchor(stream, anchor);
        inner
            .records
            .retain(|r| r.stream != stream || r.seq >= anchor.seq);
        Ok(Some(Purged {
            stream: stream.to_owned(),
            removed: removed as u64,
            anchor,
        }))
    }
}
