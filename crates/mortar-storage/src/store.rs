//! [`ObjectStore`]: the contract every backend keeps, and the types it speaks.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use sha2::{Digest as _, Sha256};

use crate::error::Error;
use crate::key::ObjectKey;

/// A body, streamed: never a whole object in memory (but on the memory backend).
pub type ByteStream = BoxStream<'static, Result<Bytes, Error>>;

/// A body from bytes already in memory.
pub fn body_from_bytes(bytes: impl Into<Bytes>) -> ByteStream {
    futures_util::stream::once(futures_util::future::ready(Ok(bytes.into()))).boxed()
}

/// An HTTP body (axum's, hyper's, any `http_body::Body`) as a [`ByteStream`], frame by frame
/// (trailers skipped).
pub fn body_stream<B>(body: B) -> ByteStream
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: fmt::Display,
{
    let body = Box::pin(body);
    futures_util::stream::unfold(body, |mut body| async move {
        loop {
            let frame = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await?;
            match frame {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some((Ok(data), body));
                    }
                }
                Err(e) => return Some((Err(Error::Body(e.to_string())), body)),
            }
        }
    })
    .boxed()
}

/// Reads a whole body into memory (tests, small objects).
///
/// # Errors
///
/// The stream's first error.
pub async fn collect(body: ByteStream) -> Result<Bytes, Error> {
    let chunks: Vec<Bytes> = body.try_collect().await?;
    Ok(chunks.concat().into())
}

/// How an object is written.
#[derive(Clone, Debug, Default)]
pub struct PutOptions {
    /// Its `Content-Type` (default `application/octet-stream`).
    pub content_type: Option<String>,
    /// Free metadata: names of lowercase ASCII letters, digits and `-`; values without control
    /// characters (S3's `x-amz-meta-*`).
    pub metadata: BTreeMap<String, String>,
    /// The SHA-256 the body must have; a mismatch stores nothing
    /// ([`Error::ChecksumMismatch`]).
    pub expected_sha256: Option<[u8; 32]>,
    /// The largest body accepted; past it the stream is dropped and nothing is stored
    /// ([`Error::TooLarge`]).
    pub max_size: Option<u64>,
    /// Flush to stable storage before answering (local disk: `fsync` of the file and its
    /// directory).
    pub fsync: bool,
}

impl PutOptions {
    /// Options with this content type.
    pub fn content_type(content_type: impl Into<String>) -> Self {
        Self {
            content_type: Some(content_type.into()),
            ..Self::default()
        }
    }

    /// Options writing an object as `meta` describes one (its content type and metadata).
    pub fn like(meta: &ObjectMeta) -> Self {
        Self {
            content_type: Some(meta.content_type.clone()),
            metadata: meta.metadata.clone(),
            ..Self::default()
        }
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn meta(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(name.into(), value.into());
        self
    }

    /// Checks the metadata's names and values.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (name, value) in &self.metadata {
            let name_ok = !name.is_empty()
                && name.len() <= 128
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !name_ok || value.len() > 1024 || value.chars().any(char::is_control) {
                return Err(Error::InvalidMetadata(name.chars().take(64).collect()));
            }
        }
        if let Some(ct) = &self.content_type
            && (ct.len() > 255 || ct.chars().any(char::is_control))
        {
            return Err(Error::InvalidMetadata("content-type".into()));
        }
        Ok(())
    }
}

/// What a store knows of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its key.
    pub key: ObjectKey,
    /// Its size in bytes.
    pub size: u64,
    /// Its `Content-Type`.
    pub content_type: String,
    /// An entity tag (quoted), changing whenever the content changes.
    pub etag: String,
    /// When it was last written.
    pub last_modified: SystemTime,
    /// Its SHA-256 (hex), when the store knows it (it does for objects it wrote).
    pub sha256: Option<String>,
    /// The metadata it was written with.
    pub metadata: BTreeMap<String, String>,
}

/// A byte range of an object (HTTP `Range` semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `first..=last` (a `last` past the end stops at the end).
    Inclusive(u64, u64),
    /// From `first` to the end.
    From(u64),
    /// The last `n` bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The `(offset, length)` this range covers in an object of `size` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::RangeNotSatisfiable`] when it covers no byte of it.
    pub fn resolve(self, size: u64) -> Result<(u64, u64), Error> {
        let unsatisfiable = Error::RangeNotSatisfiable { size };
        match self {
            Self::Inclusive(first, last) if first <= last && first < size => {
                Ok((first, last.min(size - 1) - first + 1))
            }
            Self::From(first) if first < size => Ok((first, size - first)),
            Self::Suffix(n) if n > 0 && size > 0 => {
                let n = n.min(size);
                Ok((size - n, n))
            }
            _ => Err(unsatisfiable),
        }
    }
}

/// An object being read.
pub struct GetResult {
    /// The object.
    pub meta: ObjectMeta,
    /// The bytes sent: `(offset, length)`; the whole object without a range.
    pub range: (u64, u64),
    /// The body.
    pub body: ByteStream,
}

impl fmt::Debug for GetResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetResult")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// One page of a listing, in key order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPage {
    /// The objects.
    pub objects: Vec<ObjectMeta>,
    /// Where the next page starts (pass it back as `after`), when there is one.
    pub next: Option<String>,
}

/// An object store: streaming put and get (whole or a byte range), head, delete, list by
/// prefix with pagination, copy. Every backend passes the same conformance suite.
#[async_trait]
pub trait ObjectStore: Send + Sync + fmt::Debug + 'static {
    /// Writes an object from a stream, computing its SHA-256 on the way; replaces any object of
    /// that key only once the whole body has arrived (and matched its checksum and size limit).
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<ObjectMeta, Error>;

    /// Reads an object, or a byte range of it.
    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<GetResult, Error>;

    /// Reads the object `meta` describes — metadata the caller has just read with
    /// [`ObjectStore::head`], as the download handler does to answer conditional and range
    /// requests before any body. Backends that would look the metadata up again skip it (S3:
    /// one request less per download). The default calls [`ObjectStore::get`].
    async fn get_headed(
        &self,
        meta: &ObjectMeta,
        range: Option<ByteRange>,
    ) -> Result<GetResult, Error> {
        self.get(&meta.key, range).await
    }

    /// An object's metadata.
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, Error>;

    /// Removes an object; `false` when there was none.
    async fn delete(&self, key: &ObjectKey) -> Result<bool, Error>;

    /// Up to `limit` objects whose keys start with `prefix`, in key order, after the key
    /// `after` (the previous page's `next`).
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, Error>;

    /// Copies an object within the store.
    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<ObjectMeta, Error>;
}

/// SHA-256 and size of a body as it streams, with the size limit enforced.
pub(crate) struct Digesting {
    hasher: Sha256,
    size: u64,
    limit: Option<u64>,
}

impl Digesting {
    pub(crate) fn new(limit: Option<u64>) -> Self {
        Self {
            hasher: Sha256::new(),
            size: 0,
            limit,
        }
    }

    /// Takes a chunk; [`Error::TooLarge`] once past the limit.
    pub(crate) fn update(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.size += chunk.len() as u64;
        if let Some(limit) = self.limit
            && self.size > limit
        {
            return Err(Error::TooLarge { limit });
        }
        self.hasher.update(chunk);
        Ok(())
    }

    /// The size and SHA-256, checked against the expected one.
    pub(crate) fn finish(self, expected: Option<&[u8; 32]>) -> Result<(u64, String), Error> {
        let digest: [u8; 32] = self.hasher.finalize().into();
        if let Some(expected) = expected
            && *expected != digest
        {
            return Err(Error::ChecksumMismatch {
                expected: hex::encode(expected),
                actual: hex::encode(digest),
            });
        }
        Ok((self.size, hex::encode(digest)))
    }
}

/// [`Digesting`] for long bodies: the first MiB is hashed inline, then the hasher moves to a
/// blocking thread that takes the chunks (shared `Bytes`, not copies) through a small channel,
/// so hashing runs beside the transfer instead of between its reads. Measured on S3 uploads
/// (`benches/storage.rs`): SHA-256 costs ~0.74 s of CPU per GiB here, and inline it held every
/// part's read back by that much.
#[cfg(feature = "s3")]
pub(crate) struct BackgroundDigest {
    inline: Option<Sha256>,
    tx: Option<tokio::sync::mpsc::Sender<Bytes>>,
    handle: Option<tokio::task::JoinHandle<Sha256>>,
    size: u64,
    limit: Option<u64>,
}

#[cfg(feature = "s3")]
impl BackgroundDigest {
    /// Bytes hashed inline before the hasher moves to its thread.
    const INLINE: u64 = 1 << 20;

    pub(crate) fn new(limit: Option<u64>) -> Self {
        Self {
            inline: Some(Sha256::new()),
            tx: None,
            handle: None,
            size: 0,
            limit,
        }
    }

    /// Takes a chunk; [`Error::TooLarge`] once past the limit.
    pub(crate) async fn update(&mut self, chunk: &Bytes) -> Result<(), Error> {
        self.size += chunk.len() as u64;
        if let Some(limit) = self.limit
            && self.size > limit
        {
            return Err(Error::TooLarge { limit });
        }
        if let Some(tx) = &self.tx {
            return tx
                .send(chunk.clone())
                .await
                .map_err(|_| Error::Backend("the hashing thread stopped".into()));
        }
        if let Some(hasher) = self.inline.as_mut() {
            hasher.update(chunk);
            if self.size >= Self::INLINE
                && let Some(mut hasher) = self.inline.take()
            {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
                self.handle = Some(tokio::task::spawn_blocking(move || {
                    while let Some(chunk) = rx.blocking_recv() {
                        hasher.update(&chunk);
                    }
                    hasher
                }));
                self.tx = Some(tx);
            }
        }
        Ok(())
    }

    /// The size and SHA-256, checked against the expected one.
    pub(crate) async fn finish(
        mut self,
        expected: Option<&[u8; 32]>,
    ) -> Result<(u64, String), Error> {
        drop(self.tx.take());
        let hasher = match (self.inline.take(), self.handle.take()) {
            (Some(hasher), _) => hasher,
            (None, Some(handle)) => handle.await.map_err(Error::backend)?,
            (None, None) => return Err(Error::Backend("no hasher".into())),
        };
        Digesting {
            hasher,
            size: self.size,
            limit: None,
        }
        .finish(expected)
    }
}

/// The entity tag of content with this SHA-256.
pub(crate) fn etag_of(sha256_hex: &str) -> String {
    format!("\"{}\"", &sha256_hex[..32.min(sha256_hex.len())])
}

pub(crate) const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Keys in `keys` (sorted) with `prefix`, after `after`, at most `limit`, and the next cursor.
pub(crate) fn page_of<'k>(
    keys: impl Iterator<Item = &'k str>,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> (Vec<&'k str>, Option<String>) {
    let limit = limit.clamp(1, 1000);
    let mut selected: Vec<&str> = keys
        .filter(|k| k.starts_with(prefix) && after.is_none_or(|a| *k > a))
        .take(limit + 1)
        .collect();
    let next = if selected.len() > limit {
        selected.truncate(limit);
        selected.last().map(|k| (*k).to_owned())
    } else {
        None
    };
    (selected, next)
}

/// The metadata of each listed key, in order, skipping keys that are invalid or whose object
/// was deleted since the listing.
pub(crate) async fn heads_of<F, Fut>(
    keys: impl IntoIterator<Item = String>,
    head: F,
) -> Result<Vec<ObjectMeta>, Error>
where
    F: Fn(ObjectKey) -> Fut,
    Fut: Future<Output = Result<ObjectMeta, Error>>,
{
    let mut objects = Vec::new();
    for key in keys {
        let Ok(key) = ObjectKey::new(key) else {
            continue;
        };
        match head(key).await {
            Ok(meta) => objects.push(meta),
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_http() {
        assert_eq!(ByteRange::Inclusive(0, 9).resolve(100).unwrap(), (0, 10));
        assert_eq!(
            ByteRange::Inclusive(90, 200).resolve(100).unwrap(),
            (90, 10)
        );
        assert_eq!(ByteRange::From(95).resolve(100).unwrap(), (95, 5));
        assert_eq!(ByteRange::Suffix(10).resolve(100).unwrap(), (90, 10));
        assert_eq!(ByteRange::Suffix(500).resolve(100).unwrap(), (0, 100));
        assert!(ByteRange::Inclusive(100, 120).resolve(100).is_err());
        assert!(ByteRange::Inclusive(5, 4).resolve(100).is_err());
        assert!(ByteRange::From(0).resolve(0).is_err());
        assert!(ByteRange::Suffix(0).resolve(100).is_err());
    }
}
