//! JSON lines: [`JsonLinesStore`] (an append-only file that is also queryable) and
//! [`JsonLinesSink`] (chained records on standard output or any writer, for log shippers).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use mortar_core::AuditEvent;
use serde::{Deserialize, Serialize};
use tokio::fs::{File, OpenOptions};
use tokio::io::{
    AsyncBufReadExt as _, AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _, BufReader,
};
use tokio::sync::Mutex;

use crate::chain::{Heads, purge_point};
use crate::error::Error;
use crate::record::{AuditRecord, ChainHash};
use crate::store::{Anchor, AuditQuery, AuditSink, AuditStore, ChainState, Page, Purged, Streams};

/// One line of the file: a record, or the anchor a retention purge left.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Anchor { anchor: AnchorLine },
    Record(Box<AuditRecord>),
}

#[derive(Serialize, Deserialize)]
struct AnchorLine {
    stream: String,
    seq: u64,
    prev_hash: ChainHash,
}

/// An append-only file of JSON lines, one [`AuditRecord`] per line (escaped by JSON, so no value
/// can break a line), hash-chained per stream, synced to disk after each batch by default.
///
/// Opening reads the file once to find each stream's head. Queries and verification read the
/// file from the start, so this store suits modest trails and hand-offs to log shippers; large
/// trails belong in SQL. The chain is kept by this process: one writer per file.
///
/// ```no_run
/// # async fn run() -> Result<(), mortar_audit::Error> {
/// use mortar_audit::{JsonLinesStore, verify_all};
///
/// let store = JsonLinesStore::open("audit.jsonl").await?;
/// for report in verify_all(&store).await? {
///     assert!(report.is_intact(), "{:?}", report.tamper);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct JsonLinesStore {
    path: PathBuf,
    streams: Streams,
    sync: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    file: File,
    heads: Heads,
    next_id: u64,
}

impl JsonLinesStore {
    /// Opens (creating if needed) the file at `path`, one chain per tenant, syncing each batch.
    ///
    /// # Errors
    /// [`Error::Store`] when the file cannot be opened or read.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path, Streams::default(), true).await
    }

    /// Opens the file chaining as `streams` says; `sync` false skips the `fsync` after each
    /// batch (faster, but a power loss may lose the last batches).
    ///
    /// # Errors
    /// [`Error::Store`] when the file cannot be opened or read.
    pub async fn open_with(
        path: impl AsRef<Path>,
        streams: Streams,
        sync: bool,
    ) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .await
            .map_err(|e| Error::store("opening the audit file", e))?;
        // A line torn by a crash must not swallow the next record: end it first.
        let len = file
            .metadata()
            .await
            .map_err(|e| Error::store("reading the audit file", e))?
            .len();
        if len > 0 {
            let mut tail = File::open(&path)
                .await
                .map_err(|e| Error::store("reading the audit file", e))?;
            tail.seek(std::io::SeekFrom::Start(len - 1))
                .await
                .map_err(|e| Error::store("reading the audit file", e))?;
            let mut last = [0u8; 1];
            tail.read_exact(&mut last)
                .await
                .map_err(|e| Error::store("reading the audit file", e))?;
            if last[0] != b'\n' {
                file.write_all(b"\n")
                    .await
                    .map_err(|e| Error::store("ending a torn line in the audit file", e))?;
            }
        }
        let mut heads = Heads::default();
        let mut next_id = 0;
        scan(&path, |line| {
            match line {
                Line::Anchor { anchor } => heads.set_anchor(
                    &anchor.stream,
                    Anchor {
                        seq: anchor.seq,
                        prev_hash: anchor.prev_hash,
                    },
                ),
                Line::Record(r) => {
                    next_id = next_id.max(r.id);
                    heads.set_head(&r.stream, r.seq, r.hash);
                }
            }
            true
        })
        .await?;
        Ok(Self {
            path,
            streams,
            sync,
            state: Mutex::new(State {
                file,
                heads,
                next_id,
            }),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records of the file in order, as `keep` selects them, until `keep` says stop (`None`).
    async fn collect(
        &self,
        mut keep: impl FnMut(&AuditRecord) -> Option<bool> + Send,
    ) -> Result<Vec<AuditRecord>, Error> {
        let mut out = Vec::new();
        scan(&self.path, |line| {
            let Line::Record(r) = line else { return true };
            match keep(&r) {
                Some(true) => {
                    out.push(*r);
                    true
                }
                Some(false) => true,
                None => false,
            }
        })
        .await?;
        Ok(out)
    }
}

/// Calls `f` with each parseable line of the file until it returns false. Lines that do not
/// parse are skipped (verification then reports the record missing).
async fn scan(path: &Path, mut f: impl FnMut(Line) -> bool + Send) -> Result<(), Error> {
    let file = match File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::store("reading the audit file", e)),
    };
    let mut lines = BufReader::new(file).lines();
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| Error::store("reading the audit file", e))?
    {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(&line) {
            Ok(parsed) => {
                if !f(parsed) {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(target: "mortar::audit", error = %e, "unreadable line in the audit file");
            }
        }
    }
    Ok(())
}

#[async_trait]
impl AuditSink for JsonLinesStore {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    async fn write(&self, events: &[AuditEvent]) -> Result<(), Error> {
        let mut state = self.state.lock().await;
        let mut buf = Vec::with_capacity(events.len() * 512);
        let mut next_id = state.next_id;
        let mut chained = Vec::with_capacity(events.len());
        let mut encoded = Ok(());
        for event in events {
            let stream = self.streams.of(event);
            let mut record = state.heads.chain(stream, event.clone());
            next_id += 1;
            record.id = next_id;
            let result = serde_json::to_writer(&mut buf, &record);
            chained.push(record);
            if let Err(e) = result {
                encoded = Err(Error::store("encoding", e));
                break;
            }
            buf.push(b'\n');
        }
        let written = match encoded {
            Ok(()) => {
                let state = &mut *state;
                append(&mut state.file, &buf, self.sync)
                    .await
                    .map_err(|e| Error::store("appending to the audit file", e))
            }
            Err(e) => Err(e),
        };
        if written.is_ok() {
            state.next_id = next_id;
        } else {
            // Roll the heads back to what the file holds (`append` cut the file back to its
            // length before the write), so the next batch links to the last stored record.
            for record in chained.iter().rev() {
                state
                    .heads
                    .set_head(&record.stream, record.seq - 1, record.prev_hash);
            }
        }
        written
    }
}

/// Appends `buf` (synced when `sync`); on failure cuts the file back to its length before, so no
/// partial line stays behind.
async fn append(file: &mut File, buf: &[u8], sync: bool) -> std::io::Result<()> {
    let before = file.metadata().await?.len();
    let result = async {
        file.write_all(buf).await?;
        file.flush().await?;
        if sync {
            file.sync_data().await?;
        }
        Ok::<_, std::io::Error>(())
    }
    .await;
    if result.is_err() {
        let _ = file.set_len(before).await;
    }
    result
}

#[async_trait]
impl AuditStore for JsonLinesStore {
    async fn query(&self, query: &AuditQuery) -> Result<Page, Error> {
        let limit = query.limit_or_default();
        let mut found = self.collect(|r| Some(query.matches(r))).await?;
        found.reverse();
        found.truncate(limit + 1);
        Ok(Page::from_overfetch(found, limit))
    }

    async fn streams(&self) -> Result<Vec<String>, Error> {
        Ok(self.state.lock().await.heads.streams())
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_seq: u64,
        after: Option<&AuditRecord>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, Error> {
        let mut taken = 0;
        self.collect(|r| {
            if taken >= limit {
                return None;
            }
            let keep = r.stream == stream && r.seq >= from_seq && after.is_none_or(|a| r.id > a.id);
            taken += usize::from(keep);
            Some(keep)
        })
        .await
    }

    async fn chain_state(&self, stream: &str) -> Result<ChainState, Error> {
        Ok(self.state.lock().await.heads.state(stream))
    }

    /// Rewrites the file without the purged records (a temporary file renamed over it), with an
    /// anchor line in their place.
    async fn purge_stream(
        &self,
        stream: &str,
        cutoff: SystemTime,
    ) -> Result<Option<Purged>, Error> {
        let mut state = self.state.lock().await;
        let mine = self.collect(|r| Some(r.stream == stream)).await?;
        let refs: Vec<&AuditRecord> = mine.iter().collect();
        let head = state.heads.state(stream).head;
        let Some((removed, anchor)) = purge_point(&refs, head, cutoff) else {
            return Ok(None);
        };
        let tmp = self.path.with_extension("purge.tmp");
        let mut out = Vec::new();
        let mut anchor_written = false;
        let mut lines = Vec::new();
        scan(&self.path, |line| {
            lines.push(line);
            true
        })
        .await?;
        for line in lines {
            let keep = match &line {
                Line::Anchor { anchor } => anchor.stream != stream,
                Line::Record(r) => r.stream != stream || r.seq >= anchor.seq,
            };
            if !anchor_written {
                let line = Line::Anchor {
                    anchor: AnchorLine {
                        stream: stream.to_owned(),
                        seq: anchor.seq,
                        prev_hash: anchor.prev_hash,
                    },
                };
                serde_json::to_writer(&mut out, &line).map_err(|e| Error::store("encoding", e))?;
                out.push(b'\n');
                anchor_written = true;
            }
            if keep {
                serde_json::to_writer(&mut out, &line).map_err(|e| Error::store("encoding", e))?;
                out.push(b'\n');
            }
        }
        let replaced = async {
            tokio::fs::write(&tmp, &out).await?;
            File::open(&tmp).await?.sync_all().await?;
            tokio::fs::rename(&tmp, &self.path).await?;
            OpenOptions::new().append(true).open(&self.path).await
        }
        .await
        .map_err(|e| Error::store("rewriting the audit file", e))?;
        state.file = replaced;
        state.heads.set_anchor(stream, anchor);
        Ok(Some(Purged {
            stream: stream.to_owned(),
            removed: removed as u64,
            anchor,
        }))
    }
}

/// Writes each record as one JSON line to standard output ([`JsonLinesSink::stdout`], for
/// platforms that collect it: containers, systemd) or to any async writer (a socket, a pipe),
/// hash-chained in this process. Write-only: it is not an [`AuditStore`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use mortar_audit::{AuditSink as _, JsonLinesSink};
/// use mortar_core::{AuditEvent, Outcome};
///
/// let sink = JsonLinesSink::stdout();
/// sink.write(&[AuditEvent::new("app.started", Outcome::Success)]).await.unwrap();
/// # }
/// ```
pub struct JsonLinesSink {
    streams: Streams,
    state: Mutex<SinkState>,
}

struct SinkState {
    heads: Heads,
    next_id: u64,
    out: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

impl std::fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("streams", &self.streams)
            .finish_non_exhaustive()
    }
}

impl JsonLinesSink {
    /// Lines to standard output, one chain per tenant.
    pub fn stdout() -> Self {
        Self::new(tokio::io::stdout())
    }

    /// Lines to `writer`, one chain per tenant.
    pub fn new(writer: impl tokio::io::AsyncWrite + Send + 'static) -> Self {
        Self {
            streams: Streams::default(),
            state: Mutex::new(SinkState {
                heads: Heads::default(),
                next_id: 0,
                out: Box::pin(writer),
            }),
        }
    }
}

#[async_trait]
impl AuditSink for JsonLinesSink {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    async fn write(&self, events: &[AuditEvent]) -> Result<(), Error> {
        let mut guard = self.state.lock().await;
        let state = &mut *guard;
        let mut buf = Vec::with_capacity(events.len() * 512);
        for event in events {
            let mut record = state.heads.chain(self.streams.of(event), event.clone());
            state.next_id += 1;
            record.id = state.next_id;
            serde_json::to_writer(&mut buf, &record).map_err(|e| Error::store("encoding", e))?;
            buf.push(b'\n');
        }
        state
            .out
            .write_all(&buf)
            .await
            .map_err(|e| Error::store("writing JSON lines", e))?;
        state
            .out
            .flush()
            .await
            .map_err(|e| Error::store("writing JSON lines", e))
    }
}
