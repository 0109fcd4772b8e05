//! Verifying, exporting and purging a stored trail: [`verify`], [`export`], [`purge`].

use std::collections::HashMap;
use std::fmt;
use std::ops::{Bound, RangeBounds};
use std::time::SystemTime;

use mortar_core::{AuditEvent, Outcome};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use crate::error::Error;
use crate::record::{AuditRecord, ChainHash};
use crate::store::{Anchor, AuditQuery, AuditStore, Purged};

/// The action of the record a retention purge appends; it vouches for the new anchor.
pub const PURGED: &str = "audit.retention.purged";

/// How many records verification reads at a time.
const CHUNK: usize = 1000;

/// What kind of tampering [`verify`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TamperKind {
    /// The record's content no longer matches its hash (edited in place).
    Altered,
    /// Records are missing: the sequence jumps past this `seq`.
    Removed,
    /// Records are out of order: this `seq` appears after a later one.
    Reordered,
    /// The record is intact but does not link to the one before it (that one was replaced by a
    /// re-hashed forgery, or records were removed and the rest renumbered).
    BrokenLink,
    /// The last records are gone: the store's head names a later record than the last one
    /// found.
    Truncated,
}

impl fmt::Display for TamperKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Altered => "altered",
            Self::Removed => "removed",
            Self::Reordered => "reordered",
            Self::BrokenLink => "broken link",
            Self::Truncated => "truncated",
        })
    }
}

/// The first point where a stream's chain is broken.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tamper {
    /// The `seq` where the chain breaks.
    pub seq: u64,
    /// The record id (store position) where it was seen, when a record was there.
    pub id: Option<u64>,
    /// What was found.
    pub kind: TamperKind,
}

impl fmt::Display for Tamper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at seq {}", self.kind, self.seq)
    }
}

/// The result of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verification {
    /// The stream verified.
    pub stream: String,
    /// How many records were checked and found intact.
    pub verified: u64,
    /// The last intact `seq`, if any.
    pub last_seq: Option<u64>,
    /// The first break, if any.
    pub tamper: Option<Tamper>,
}

impl Verification {
    /// Whether the checked part of the chain is intact.
    pub fn is_intact(&self) -> bool {
        self.tamper.is_none()
    }
}

/// Verifies the records of `stream` whose `seq` is in `range` (`..` for all): each record's hash
/// is recomputed, its `prev_hash` compared with the record before it, and the sequence checked
/// for gaps and reordering; records the range should hold up to the store's head must all be
/// there, and the last is compared with the head, so removing the newest records is found too.
/// A retention anchor (the chain starting after 1) must be vouched for by a chained
/// [`PURGED`] record naming it, or the records before it count as removed: deleting rows under
/// a forged anchor is found. Reading stops at the first break, which is reported.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use mortar_audit::{AuditSink as _, MemoryStore, verify};
/// use mortar_core::{AuditEvent, Outcome};
///
/// let store = MemoryStore::new();
/// store.write(&[AuditEvent::new("a", Outcome::Success), AuditEvent::new("b", Outcome::Success)]).await.unwrap();
/// assert!(verify(&store, "", ..).await.unwrap().is_intact());
///
/// store.tamper(|records| records[0].event.action = "c".into());
/// let report = verify(&store, "", ..).await.unwrap();
/// assert_eq!(report.tamper.unwrap().seq, 1);
/// # }
/// ```
///
/// # Errors
/// [`Error::Store`] or [`Error::Corrupt`] when the store cannot be read.
pub async fn verify<S: AuditStore + ?Sized>(
    store: &S,
    stream: &str,
    range: impl RangeBounds<u64> + Send,
) -> Result<Verification, Error> {
    verify_with_progress(store, stream, range, |_| {}).await
}

/// [`verify`], calling `progress` with the number of records found intact so far after each
/// chunk it reads (a few thousand records), for a progress bar over a large chain. One call
/// covers the range: the checks that need the whole chain (a forged retention anchor, the
/// newest records removed) run as in `verify`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use mortar_audit::{AuditSink as _, MemoryStore, verify_with_progress};
/// use mortar_core::{AuditEvent, Outcome};
///
/// let store = MemoryStore::new();
/// store.write(&[AuditEvent::new("a", Outcome::Success), AuditEvent::new("b", Outcome::Success)]).await.unwrap();
/// let mut seen = Vec::new();
/// let report = verify_with_progress(&store, "", .., |n| seen.push(n)).await.unwrap();
/// assert!(report.is_intact());
/// assert_eq!(seen.last(), Some(&2));
/// # }
/// ```
///
/// # Errors
/// As [`verify`].
#[allow(
    clippy::too_many_lines,
    reason = "one pass over the chain with its checks in order, read top to bottom"
)]
pub async fn verify_with_progress<S: AuditStore + ?Sized>(
    store: &S,
    stream: &str,
    range: impl RangeBounds<u64> + Send,
    mut progress: impl FnMut(u64),
) -> Result<Verification, Error> {
    let state = store.chain_state(stream).await?;
    let start = match range.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    }
    .max(state.anchor.seq);
    let end = match range.end_bound() {
        Bound::Included(e) => Some(*e),
        Bound::Excluded(e) => Some(e.saturating_sub(1)),
        Bound::Unbounded => None,
    };
    let mut report = Verification {
        stream: stream.to_owned(),
        verified: 0,
        last_seq: None,
        tamper: None,
    };
    // The hash the first record must link to: the anchor's, or that of the intact record just
    // before the range (when it is missing or altered, the first record's own link is taken).
    let mut prev: Option<ChainHash> = Some(state.anchor.prev_hash);
    if start > state.anchor.seq {
        prev = store
            .read_stream(stream, start - 1, None, 1)
            .await?
            .into_iter()
            .find(|r| r.seq == start - 1 && r.is_intact())
            .map(|r| r.hash);
    }
    let mut expected = start;
    let mut after: Option<AuditRecord> = None;
    let mut last_id = None;
    // Whether records after the range exist, and whether a chained purge record vouches for
    // the anchor.
    let mut beyond = false;
    let mut anchor_confirmed = state.anchor.seq <= 1;
    'chunks: loop {
        let chunk = store
            .read_stream(stream, start, after.as_ref(), CHUNK)
            .await?;
        let Some(last) = chunk.last() else { break };
        after = Some(last.clone());
        for (i, record) in chunk.iter().enumerate() {
            if end.is_some_and(|end| record.seq > end) && record.seq >= expected {
                beyond = true;
                break 'chunks;
            }
            let tamper = |kind, seq| Tamper {
                seq,
                id: Some(record.id),
                kind,
            };
            let found = if !record.is_intact() {
                Some(tamper(TamperKind::Altered, record.seq))
            } else if record.seq < expected {
                Some(tamper(TamperKind::Reordered, record.seq))
            } else if last_id.is_some_and(|id| record.id < id) {
                // Read by seq, stored earlier: the previous record was stored after this one.
                Some(tamper(TamperKind::Reordered, record.seq.saturating_sub(1)))
            } else if record.seq > expected {
                // The expected record later in storage order means reordering; never, removal.
                let later = chunk[i..].iter().any(|r| r.seq == expected);
                let kind = if later {
                    TamperKind::Reordered
                } else {
                    TamperKind::Removed
                };
                Some(tamper(kind, expected))
            } else if prev.is_some_and(|p| p != record.prev_hash) {
                Some(tamper(TamperKind::BrokenLink, record.seq))
            } else {
                None
            };
            if let Some(t) = found {
                report.tamper = Some(t);
                return Ok(report);
            }
            if record.event.action == PURGED
                && record
                    .event
                    .metadata
                    .get("anchor_seq")
                    .and_then(serde_json::Value::as_u64)
                    == Some(state.anchor.seq)
            {
                anchor_confirmed = true;
            }
            prev = Some(record.hash);
            last_id = Some(record.id);
            expected += 1;
            report.verified += 1;
            report.last_seq = Some(record.seq);
        }
        progress(report.verified);
        if chunk.len() < CHUNK {
            break;
        }
    }
    if beyond {
        // The last chunk ran past the range: its intact records were not reported yet.
        progress(report.verified);
    }
    if let Some((head_seq, head_hash)) = state.head {
        // Records the range should hold that the store did not return: removed when later ones
        // exist, truncated when the newest are gone.
        let limit = end.map_or(head_seq, |end| end.min(head_seq));
        if expected <= limit {
            report.tamper = Some(Tamper {
                seq: expected,
                id: None,
                kind: if beyond {
                    TamperKind::Removed
                } else {
                    TamperKind::Truncated
                },
            });
            return Ok(report);
        }
        if end.is_none_or(|end| end >= head_seq)
            && report.last_seq == Some(head_seq)
            && prev.is_some_and(|p| p != head_hash)
        {
            report.tamper = Some(Tamper {
                seq: head_seq,
                id: None,
                kind: TamperKind::BrokenLink,
            });
            return Ok(report);
        }
        // An anchor nobody recorded: rows were deleted under a forged anchor.
        if !anchor_confirmed && start == state.anchor.seq && limit == head_seq {
            report.tamper = Some(Tamper {
                seq: state.anchor.seq - 1,
                id: None,
                kind: TamperKind::Removed,
            });
        }
    }
    Ok(report)
}

/// Verifies every stream of the store (see [`verify`]).
///
/// # Errors
/// As [`verify`].
pub async fn verify_all<S: AuditStore + ?Sized>(store: &S) -> Result<Vec<Verification>, Error> {
    let mut out = Vec::new();
    for stream in store.streams().await? {
        out.push(verify(store, &stream, ..).await?);
    }
    Ok(out)
}

/// Writes every record matching `query` (all pages, newest first) to `out` as JSON lines, one
/// [`AuditRecord`] per line, and returns how many were written. The query's `limit` sets the
/// page size used while reading.
///
/// # Errors
/// As [`AuditStore::query`], and [`Error::Store`] when writing to `out` fails.
pub async fn export<S, W>(store: &S, query: &AuditQuery, out: &mut W) -> Result<u64, Error>
where
    S: AuditStore + ?Sized,
    W: AsyncWrite + Unpin + Send,
{
    let mut query = query.clone();
    if query.limit.is_none() {
        query.limit = Some(crate::store::MAX_PAGE);
    }
    let mut written = 0;
    let mut line = Vec::with_capacity(1024);
    loop {
        let page = store.query(&query).await?;
        for record in &page.records {
            line.clear();
            serde_json::to_writer(&mut line, record).map_err(|e| Error::store("export", e))?;
            line.push(b'\n');
            out.write_all(&line)
                .await
                .map_err(|e| Error::store("export", e))?;
            written += 1;
        }
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    out.flush().await.map_err(|e| Error::store("export", e))?;
    Ok(written)
}

/// Retention: removes, in every stream, the records before the first one that occurred at or
/// after `cutoff`, re-anchoring each chain at its first kept record, then appends an
/// `audit.retention.purged` event to each purged stream (with `removed`, `anchor_seq` and
/// `cutoff` in its metadata), so the purge itself is on the record and the rest still verifies.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::{Duration, SystemTime};
/// use mortar_audit::{AuditSink as _, MemoryStore, purge, verify};
/// use mortar_core::{AuditEvent, Outcome};
///
/// let store = MemoryStore::new();
/// let old = SystemTime::now() - Duration::from_secs(400 * 86_400);
/// store.write(&[AuditEvent::new("old", Outcome::Success).at(old), AuditEvent::new("new", Outcome::Success)]).await.unwrap();
/// let purged = purge(&store, SystemTime::now() - Duration::from_secs(365 * 86_400)).await.unwrap();
/// assert_eq!(purged[0].removed, 1);
/// assert!(verify(&store, "", ..).await.unwrap().is_intact());
/// # }
/// ```
///
/// # Errors
/// [`Error::Store`]; streams purged before the failure stay purged (and recorded).
pub async fn purge<S: AuditStore + ?Sized>(
    store: &S,
    cutoff: SystemTime,
) -> Result<Vec<Purged>, Error> {
    let mut out = Vec::new();
    for stream in store.streams().await? {
        out.extend(purge_one(store, &stream, cutoff).await?);
    }
    Ok(out)
}

/// [`purge`] for one stream (`""` is the global one): removes its records older than `cutoff`,
/// re-anchors the chain and records an `audit.retention.purged` event in it. `None` when nothing
/// was old enough. For tools that report progress stream by stream.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::{Duration, SystemTime};
/// use mortar_audit::{AuditSink as _, MemoryStore, purge_one};
/// use mortar_core::{AuditEvent, Outcome};
///
/// let store = MemoryStore::new();
/// let old = SystemTime::now() - Duration::from_secs(400 * 86_400);
/// store.write(&[AuditEvent::new("old", Outcome::Success).at(old).tenant("acme")]).await.unwrap();
/// let cutoff = SystemTime::now() - Duration::from_secs(365 * 86_400);
/// assert!(purge_one(&store, "", cutoff).await.unwrap().is_none());
/// assert_eq!(purge_one(&store, "acme", cutoff).await.unwrap().unwrap().removed, 1);
/// # }
/// ```
///
/// # Errors
/// [`Error::Store`].
pub async fn purge_one<S: AuditStore + ?Sized>(
    store: &S,
    stream: &str,
    cutoff: SystemTime,
) -> Result<Option<Purged>, Error> {
    let Some(purged) = store.purge_stream(stream, cutoff).await? else {
        return Ok(None);
    };
    let mut event = AuditEvent::new(PURGED, Outcome::Success)
        .meta("removed", purged.removed)
        .meta("anchor_seq", purged.anchor.seq)
        .meta("cutoff_us", crate::record::micros(cutoff));
    if stream != crate::store::GLOBAL_STREAM {
        event = event.tenant(stream.to_owned());
    }
    store.write(&[event]).await?;
    tracing::info!(
        target: "mortar::audit",
        stream = %stream,
        removed = purged.removed,
        anchor_seq = purged.anchor.seq,
        "audit retention purge"
    );
    Ok(Some(purged))
}

/// The in-process chain heads of a sink that hashes events itself (memory, JSON lines).
#[derive(Debug, Default)]
pub(crate) struct Heads {
    heads: HashMap<String, (u64, ChainHash)>,
    anchors: HashMap<String, Anchor>,
}

impl Heads {
    /// Chains `event` into `stream` and advances the head.
    pub(crate) fn chain(&mut self, stream: &str, event: AuditEvent) -> AuditRecord {
        let prev = self.head(stream);
        let record = AuditRecord::chain(stream, prev, event);
        self.set_head(stream, record.seq, record.hash);
        record
    }

    /// The head to chain after: the last record, or the anchor's predecessor.
    fn head(&self, stream: &str) -> (u64, ChainHash) {
        self.heads.get(stream).copied().unwrap_or_else(|| {
            let anchor = self.anchor(stream);
            (anchor.seq.saturating_sub(1), anchor.prev_hash)
        })
    }

    pub(crate) fn set_head(&mut self, stream: &str, seq: u64, hash: ChainHash) {
        match self.heads.get_mut(stream) {
            Some(head) => *head = (seq, hash),
            None => {
                self.heads.insert(stream.to_owned(), (seq, hash));
            }
        }
    }

    pub(crate) fn anchor(&self, stream: &str) -> Anchor {
        self.anchors.get(stream).copied().unwrap_or(Anchor::GENESIS)
    }

    pub(crate) fn set_anchor(&mut self, stream: &str, anchor: Anchor) {
        self.anchors.insert(stream.to_owned(), anchor);
    }

    pub(crate) fn state(&self, stream: &str) -> crate::store::ChainState {
        crate::store::ChainState {
            anchor: self.anchor(stream),
            head: self.heads.get(stream).copied(),
        }
    }

    pub(crate) fn streams(&self) -> Vec<String> {
        let mut s: Vec<String> = self
            .heads
            .keys()
            .chain(self.anchors.keys())
            .cloned()
            .collect();
        s.sort_unstable();
        s.dedup();
        s
    }
}

/// The anchor after removing `records` (the stream's, in seq order) older than `cutoff`: the
/// index of the first kept record and the anchor; `None` when nothing is old enough.
pub(crate) fn purge_point(
    records: &[&AuditRecord],
    head: Option<(u64, ChainHash)>,
    cutoff: SystemTime,
) -> Option<(usize, Anchor)> {
    let keep_from = records
        .iter()
        .position(|r| r.event.occurred_at >= cutoff)
        .unwrap_or(records.len());
    if keep_from == 0 {
        return None;
    }
    let anchor = if let Some(first_kept) = records.get(keep_from) {
        Anchor {
            seq: first_kept.seq,
            prev_hash: first_kept.prev_hash,
        }
    } else {
        let (seq, hash) = head?;
        Anchor {
            seq: seq + 1,
            prev_hash: hash,
        }
    };
    Some((keep_from, anchor))
}
