//! [`S3Store`] (feature `s3`): objects in an S3 bucket through rust-s3 — AWS, MinIO, R2, Google Cloud Storage's
//! interoperability API, SeaweedFS; path-style or virtual-host addressing as the `Bucket` is
//! configured.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use futures_util::{StreamExt as _, TryStreamExt as _};
use s3::Bucket;
use s3::error::S3Error;

use crate::error::Error;
use crate::key::ObjectKey;
use crate::store::{
    BackgroundDigest, ByteRange, ByteStream, DEFAULT_CONTENT_TYPE, GetResult, ListPage, ObjectMeta,
    ObjectStore, PutOptions, heads_of,
};

/// Objects in an S3 bucket, optionally under a key prefix.
///
/// A put streams the body (multipart for large objects, by rust-s3) while computing its SHA-256
/// and enforcing the size limit; a body that fails, grows past the limit or does not match its
/// checksum ends the upload with an error before it completes, so — as on the other backends —
/// it never replaces the object in place. The SHA-256 is answered by `put`; S3 keeps no copy of
/// it (heads answer `sha256: None`; the entity tag is S3's).
///
/// ```no_run
/// use mortar_storage::s3::S3Store;
/// use s3::creds::Credentials;
/// use s3::{Bucket, Region};
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let region = Region::Custom { region: "us-east-1".into(), endpoint: "http://127.0.0.1:8333".into() };
/// let credentials = Credentials::new(Some("access"), Some("secret"), None, None, None)?;
/// let bucket = Bucket::new("uploads", region, credentials)?.with_path_style();
/// let store = S3Store::new(bucket).prefix("app/");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct S3Store {
    bucket: Arc<Bucket>,
    prefix: String,
    parts_in_flight: usize,
}

/// Parts of a multipart upload sent at once unless [`S3Store::parts_in_flight`] says otherwise.
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 3;

#[allow(clippy::needless_pass_by_value, reason = "the shape `map_err` takes")]
fn s3_err(err: S3Error) -> Error {
    Error::Backend(err.to_string())
}

/// A failure about `key`: [`Error::NotFound`] for S3's 404.
#[allow(clippy::needless_pass_by_value, reason = "the shape `map_err` takes")]
fn key_err(key: &ObjectKey, err: S3Error) -> Error {
    if matches!(err, S3Error::HttpFailWithBody(404, _)) {
        Error::NotFound(key.to_string())
    } else {
        s3_err(err)
    }
}

impl S3Store {
    /// A store on `bucket` (its region, credentials and addressing style as given).
    pub fn new(bucket: Box<Bucket>) -> Self {
        Self {
            bucket: Arc::from(bucket),
            prefix: String::new(),
            parts_in_flight: DEFAULT_PARTS_IN_FLIGHT,
        }
    }

    /// How many parts of a multipart upload (8 MiB each, rust-s3's part size) are read and sent
    /// at once: default [`DEFAULT_PARTS_IN_FLIGHT`], at least 1. Memory held by one upload grows
    /// with it, about 16 MiB per part in flight (rust-s3 keeps the part and a copy of it as the
    /// request body): a 1 GiB upload at the default peaks about 51 MiB above the process's
    /// baseline (`benches/storage.rs`). rust-s3 on its own sizes it from the machine's free
    /// memory, up to 10 parts — 163 MiB for the same upload — which a server taking many uploads
    /// at once cannot afford; the throughput gained is small (docs/benchmarks.md).
    #[must_use]
    pub fn parts_in_flight(mut self, parts: usize) -> Self {
        self.parts_in_flight = parts.max(1);
        self
    }

    /// Keeps every key under `prefix` (e.g. `app/`) in the bucket.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The bucket.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// A presigned URL (SigV4, S3's own) to download `key` for `ttl` (1 s to 7 days). It
    /// carries the access key id and a signature, never the secret.
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when the expiry is out of range or signing fails.
    pub async fn presign_get(
        &self,
        key: &ObjectKey,
        ttl: std::time::Duration,
    ) -> Result<String, Error> {
        self.bucket
            .presign_get(self.path(key.as_str()), expiry_secs(ttl), None)
            .await
            .map_err(s3_err)
    }

    /// A presigned URL to upload `key` for `ttl`; with `content_type`, the upload must send
    /// exactly that `Content-Type` (it is signed).
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when the expiry is out of range or signing fails;
    /// [`Error::InvalidMetadata`] for a content type that is no header value.
    pub async fn presign_put(
        &self,
        key: &ObjectKey,
        ttl: std::time::Duration,
        content_type: Option<&str>,
    ) -> Result<String, Error> {
        let headers = content_type
            .map(|ct| {
                let mut headers = http::HeaderMap::new();
                let value = http::HeaderValue::try_from(ct)
                    .map_err(|_| Error::InvalidMetadata("content-type".into()))?;
                headers.insert(http::header::CONTENT_TYPE, value);
                Ok::<_, Error>(headers)
            })
            .transpose()?;
        self.bucket
            .presign_put(self.path(key.as_str()), expiry_secs(ttl), headers, None)
            .await
            .map_err(s3_err)
    }

    fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn head_path(&self, key: &ObjectKey) -> Result<ObjectMeta, Error> {
        let (head, _) = self
            .bucket
            .head_object(self.path(key.as_str()))
            .await
            .map_err(|e| key_err(key, e))?;
        let metadata: BTreeMap<String, String> =
            head.metadata.unwrap_or_default().into_iter().collect();
        Ok(ObjectMeta {
            key: key.clone(),
            size: head
                .content_length
                .and_then(|l| u64::try_from(l).ok())
                .unwrap_or(0),
            content_type: head
                .content_type
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
            etag: head.e_tag.unwrap_or_default(),
            last_modified: head
                .last_modified
                .as_deref()
                .and_then(parse_http_date)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            sha256: None,
            metadata,
        })
    }
}

/// A presign expiry in seconds: 1 s to 7 days (S3's bounds).
fn expiry_secs(ttl: std::time::Duration) -> u32 {
    u32::try_from(ttl.as_secs().clamp(1, 7 * 24 * 3600)).unwrap_or(604_800)
}

/// `Last-Modified` (RFC 7231 IMF-fixdate, as S3 sends it).
fn parse_http_date(text: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text, &format)
        .ok()
        .map(|t| SystemTime::from(t.assume_utc()))
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<ObjectMeta, Error> {
        options.validate()?;
        // The body as the reader rust-s3 uploads from: each chunk counted and hashed, and at the
        // end the checksum checked — a refused body ends in an error, never in EOF, so rust-s3
        // never completes the upload (a single PUT is not sent; a multipart upload is aborted)
        // and the object in place is left as it was.
        let failure: Arc<Mutex<Option<Error>>> = Arc::default();
        let done: Arc<Mutex<Option<String>>> = Arc::default();
        let expected = options.expected_sha256;
        let state = (
            body,
            Some(BackgroundDigest::new(options.max_size)),
            failure.clone(),
            done.clone(),
        );
        let checked = futures_util::stream::unfold(
            state,
            move |(mut body, mut digest, failure, done)| async move {
                let fail = |e: Error, failure: &Arc<Mutex<Option<Error>>>| {
                    let io = std::io::Error::other(e.to_string());
                    *failure
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                    io
                };
                let d = digest.as_mut()?;
                match body.next().await {
                    Some(Ok(chunk)) => match d.update(&chunk).await {
                        Ok(()) => Some((Ok(chunk), (body, digest, failure, done))),
                        Err(e) => {
                            let io = fail(e, &failure);
                            Some((Err(io), (body, None, failure, done)))
                        }
                    },
                    Some(Err(e)) => {
                        let io = fail(e, &failure);
                        Some((Err(io), (body, None, failure, done)))
                    }
                    None => match digest.take()?.finish(expected.as_ref()).await {
                        Ok((_, sha)) => {
                            *done
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sha);
                            None
                        }
                        Err(e) => {
                            let io = fail(e, &failure);
                            Some((Err(io), (body, None, failure, done)))
                        }
                    },
                }
            },
        );
        let mut reader = tokio_util::io::StreamReader::new(Box::pin(checked));
        let content_type = options
            .content_type
            .clone()
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
        let path = self.path(key.as_str());
        let mut request = self
            .bucket
            .put_object_stream_builder(&path)
            .with_content_type(&content_type)
            .with_max_concurrent_chunks(self.parts_in_flight);
        for (name, value) in &options.metadata {
            request = request
                .with_metadata(name, value)
                .map_err(|_| Error::InvalidMetadata(name.clone()))?;
        }
        let uploaded = request.execute_stream(&mut reader).await;
        let cause = failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(cause) = cause {
            return Err(cause);
        }
        uploaded.map_err(s3_err)?;
        let sha256 = done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let mut meta = self.head_path(key).await?;
        meta.sha256 = sha256;
        Ok(meta)
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<GetResult, Error> {
        let meta = self.head_path(key).await?;
        self.get_headed(&meta, range).await
    }

    async fn get_headed(
        &self,
        meta: &ObjectMeta,
        range: Option<ByteRange>,
    ) -> Result<GetResult, Error> {
        let key = &meta.key;
        let (offset, len) = match range {
            Some(range) => range.resolve(meta.size)?,
            None => (0, meta.size),
        };
        let path = self.path(key.as_str());
        let stream = if range.is_some() {
            let mut headers = http::HeaderMap::new();
            let value = format!("bytes={}-{}", offset, offset + len - 1);
            headers.insert(
                http::header::RANGE,
                http::HeaderValue::try_from(value).map_err(Error::backend)?,
            );
            let ranged = self.bucket.with_extra_headers(headers).map_err(s3_err)?;
            ranged.get_object_stream(&path).await
        } else {
            self.bucket.get_object_stream(&path).await
        }
        .map_err(|e| key_err(key, e))?;
        Ok(GetResult {
            meta: meta.clone(),
            range: (offset, len),
            body: stream.bytes.map_err(s3_err).boxed(),
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, Error> {
        self.head_path(key).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<bool, Error> {
        match self.head_path(key).await {
            Ok(_) => {}
            Err(Error::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        }
        self.bucket
            .delete_object(self.path(key.as_str()))
            .await
            .map_err(s3_err)?;
        Ok(true)
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, Error> {
        let limit = limit.clamp(1, 1000);
        let (page, _) = self
            .bucket
            .list_page(
                self.path(prefix),
                None,
                None,
                after.map(|a| self.path(a)),
                Some(limit + 1),
            )
            .await
            .map_err(s3_err)?;
        let mut keys: Vec<String> = page
            .contents
            .into_iter()
            .filter_map(|o| o.key.strip_prefix(&self.prefix).map(str::to_owned))
            .collect();
        let next = if keys.len() > limit {
            keys.truncate(limit);
            keys.last().cloned()
        } else {
            None
        };
        // Listings carry no content type or metadata: each object's head gives them.
        let objects = heads_of(keys, |key| async move { self.head_path(&key).await }).await?;
        Ok(ListPage { objects, next })
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<ObjectMeta, Error> {
        self.head_path(from).await?;
        self.bucket
            .copy_object_internal(self.path(from.as_str()), self.path(to.as_str()))
            .await
            .map_err(s3_err)?;
        self.head_path(to).await
    }
}
