//! [`Uploader`]: the validated upload pipeline — size limit enforced while streaming, type
//! sniffed from the content's magic bytes (the `infer` crate) and checked against an allowlist
//! and against the file name's extension, file names sanitized, SHA-256 computed on the way,
//! an optional [`Scanner`] — for request bodies, and for objects uploaded straight to storage
//! under a quarantine prefix and promoted once validated.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;

use crate::error::Error;
use crate::key::ObjectKey;
use crate::store::{ByteRange, ByteStream, ObjectMeta, ObjectStore, PutOptions};

/// How many leading bytes are read to sniff the type.
const SNIFF_BYTES: usize = 8192;

/// A content type an upload may have, with the file extensions that may name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The MIME type, as `infer` names it (`image/png`, `application/pdf`…).
    pub mime: String,
    /// Extensions (lowercase, without the dot) a file of this type may carry.
    pub extensions: Vec<String>,
}

impl Allowed {
    /// A type and its extensions.
    pub fn new(mime: &str, extensions: &[&str]) -> Self {
        Self {
            mime: mime.to_owned(),
            extensions: extensions.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    /// PNG, JPEG, WebP and GIF images.
    pub fn images() -> Vec<Self> {
        vec![
            Self::new("image/png", &["png"]),
            Self::new("image/jpeg", &["jpg", "jpeg"]),
            Self::new("image/webp", &["webp"]),
            Self::new("image/gif", &["gif"]),
        ]
    }
}

/// What a scanner thinks of an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing found.
    Clean,
    /// Refused, with the finding (e.g. a virus signature's name).
    Infected(String),
}

/// Scans an uploaded object (ClamAV, a DLP service…) before it is promoted. The object is in
/// the store under its quarantine key while scanned.
#[async_trait]
pub trait Scanner: Send + Sync + fmt::Debug + 'static {
    /// Scans the object at `key`.
    async fn scan(&self, store: &dyn ObjectStore, key: &ObjectKey) -> Result<Verdict, Error>;
}

/// Why an upload was refused (besides storage errors).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The content's type could not be recognized, or is not allowed.
    #[error("the file's type ({0}) is not allowed")]
    TypeNotAllowed(String),
    /// The file name's extension does not fit the content's type (a PNG named `.pdf`).
    #[error("the file's name does not match its content ({0})")]
    ExtensionMismatch(String),
    /// The scanner refused it.
    #[error("the file was refused by the scanner")]
    Infected(String),
}

/// What an accepted upload became.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uploaded {
    /// The stored object (its SHA-256 included).
    pub meta: ObjectMeta,
    /// The sniffed content type.
    pub mime: String,
    /// The sanitized file name, when one was given.
    pub file_name: Option<String>,
}

/// The upload pipeline over a store.
///
/// ```
/// use mortar_storage::upload::{Allowed, Uploader};
/// use mortar_storage::{MemoryStore, ObjectKey, body_from_bytes};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let uploader = Uploader::new(MemoryStore::new(), Allowed::images()).max_size(5 << 20);
/// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
/// let key = ObjectKey::new("avatars/ann.png").unwrap();
/// let done = uploader.accept(&key, Some("me.png"), body_from_bytes(png.clone())).await.unwrap();
/// assert_eq!(done.mime, "image/png");
/// // The same bytes named .pdf are refused.
/// assert!(uploader.accept(&key, Some("cv.pdf"), body_from_bytes(png)).await.is_err());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Uploader {
    store: Arc<dyn ObjectStore>,
    allowed: Vec<Allowed>,
    max_size: u64,
    scanner: Option<Arc<dyn Scanner>>,
    quarantine: String,
}

/// An upload refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// Refused by policy.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Refused or failed by the store (too large, body failed, backend).
    #[error(transparent)]
    Storage(#[from] Error),
}

impl From<UploadError> for mortar_core::Problem {
    fn from(err: UploadError) -> Self {
        match err {
            UploadError::Refused(refusal) => mortar_core::Problem::mortar(
                http::StatusCode::UNPROCESSABLE_ENTITY,
                "upload-refused",
                "The file was refused",
            )
            .with_detail(refusal.to_string()),
            UploadError::Storage(e) => e.into(),
        }
    }
}

impl Uploader {
    /// A pipeline storing into `store`, accepting the `allowed` types, up to 10 MiB until
    /// [`Uploader::max_size`].
    pub fn new(store: impl ObjectStore, allowed: Vec<Allowed>) -> Self {
        Self::shared(Arc::new(store), allowed)
    }

    /// A pipeline over a shared store.
    pub fn shared(store: Arc<dyn ObjectStore>, allowed: Vec<Allowed>) -> Self {
        Self {
            store,
            allowed,
            max_size: 10 << 20,
            scanner: None,
            quarantine: "quarantine/".into(),
        }
    }

    /// The largest upload (enforced while streaming: the rest of a larger body is never read).
    #[must_use]
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// Scans each upload before it is promoted.
    #[must_use]
    pub fn scanner(mut self, scanner: impl Scanner) -> Self {
        self.scanner = Some(Arc::new(scanner));
        self
    }

    /// The prefix under which uploads wait for validation (default `quarantine/`); direct
    /// uploads (presigned PUT) should target keys under it.
    #[must_use]
    pub fn quarantine_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.quarantine);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Validates a body and stores it at `key`: reads the first bytes to sniff the type, checks
    /// it against the allowlist and `file_name`'s extension, then streams the whole body (size
    /// limit, SHA-256) — under the quarantine prefix first when a scanner is set, promoted to
    /// `key` once clean. Nothing is left under `key` or in quarantine when refused.
    ///
    /// # Errors
    ///
    /// [`UploadError::Refused`] (type, extension, scanner) or [`UploadError::Storage`] (too
    /// large, body failed, backend).
    pub async fn accept(
        &self,
        key: &ObjectKey,
        file_name: Option<&str>,
        mut body: ByteStream,
    ) -> Result<Uploaded, UploadError> {
        // Read until the sniffing window is full or the body ends.
        let mut head = BytesMut::new();
        while head.len() < SNIFF_BYTES {
            match body.next().await {
                Some(chunk) => head.extend_from_slice(&chunk?),
                None => break,
            }
            if head.len() as u64 > self.max_size {
                return Err(Error::TooLarge {
                    limit: self.max_size,
                }
                .into());
            }
        }
        let file_name = file_name.map(sanitize_file_name);
        let mime = self.check(&head, file_name.as_deref())?;
        let head: Bytes = head.freeze();
        let rest = futures_util::stream::once(futures_util::future::ready(Ok(head))).chain(body);
        let options = PutOptions {
            content_type: Some(mime.clone()),
            max_size: Some(self.max_size),
            ..PutOptions::default()
        };
        let meta = if self.scanner.is_some() {
            let waiting = self.quarantine_key(key)?;
            self.store.put(&waiting, rest.boxed(), options).await?;
            self.promote_checked(&waiting, key).await?
        } else {
            self.store.put(key, rest.boxed(), options).await?
        };
        Ok(Uploaded {
            meta,
            mime,
            file_name,
        })
    }

    /// Validates an object uploaded straight to storage (e.g. through a presigned PUT) under the
    /// quarantine prefix, and moves it to `to`: size, sniffed type (from its first bytes),
    /// `file_name`'s extension, the scanner. A refused object is deleted.
    ///
    /// # Errors
    ///
    /// As [`Uploader::accept`]; [`Error::NotFound`] when nothing was uploaded.
    pub async fn promote(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        file_name: Option<&str>,
    ) -> Result<Uploaded, UploadError> {
        let result = self.validate_stored(from, file_name).await;
        match result {
            Ok((mime, file_name)) => {
                let meta = self.promote_checked(from, to).await?;
                Ok(Uploaded {
                    meta,
                    mime,
                    file_name,
                })
            }
            Err(e) => {
                let _ = self.store.delete(from).await;
                Err(e)
            }
        }
    }

    async fn validate_stored(
        &self,
        key: &ObjectKey,
        file_name: Option<&str>,
    ) -> Result<(String, Option<String>), UploadError> {
        let meta = self.store.head(key).await?;
        if meta.size > self.max_size {
            return Err(Error::TooLarge {
                limit: self.max_size,
            }
            .into());
        }
        let head = if meta.size == 0 {
            Bytes::new()
        } else {
            let got = self
                .store
                .get(key, Some(ByteRange::Inclusive(0, SNIFF_BYTES as u64 - 1)))
                .await?;
            crate::store::collect(got.body).await?
        };
        let file_name = file_name.map(sanitize_file_name);
        let mime = self.check(&head, file_name.as_deref())?;
        Ok((mime, file_name))
    }

    /// Scans (when a scanner is set) and moves `from` to `to`; deletes `from` either way.
    async fn promote_checked(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
    ) -> Result<ObjectMeta, UploadError> {
        if let Some(scanner) = &self.scanner {
            let verdict = scanner.scan(self.store.as_ref(), from).await;
            match verdict {
                Ok(Verdict::Clean) => {}
                Ok(Verdict::Infected(finding)) => {
                    tracing::warn!(key = %from, finding, "mortar-storage: upload refused by the scanner");
                    let _ = self.store.delete(from).await;
                    return Err(Refusal::Infected(finding).into());
                }
                Err(e) => {
                    let _ = self.store.delete(from).await;
                    return Err(e.into());
                }
            }
        }
        let meta = self.store.copy(from, to).await;
        let _ = self.store.delete(from).await;
        Ok(meta?)
    }

    fn quarantine_key(&self, key: &ObjectKey) -> Result<ObjectKey, Error> {
        ObjectKey::new(format!(
            "{}{}/{}",
            self.quarantine,
            uuid::Uuid::now_v7(),
            key.file_name()
        ))
    }

    /// The sniffed type, when allowed and fitting the file name.
    fn check(&self, head: &[u8], file_name: Option<&str>) -> Result<String, Refusal> {
        let Some(kind) = infer::get(head) else {
            return Err(Refusal::TypeNotAllowed("unrecognized".into()));
        };
        let mime = kind.mime_type();
        let Some(allowed) = self.allowed.iter().find(|a| a.mime == mime) else {
            return Err(Refusal::TypeNotAllowed(mime.to_owned()));
        };
        if let Some(name) = file_name {
            let ext = name
                .rsplit_once('.')
                .map(|(_, e)| e.to_ascii_lowercase())
                .unwrap_or_default();
            if !allowed.extensions.contains(&ext) {
                return Err(Refusal::ExtensionMismatch(format!(
                    "content {mime}, extension {ext:?}"
                )));
            }
        }
        Ok(mime.to_owned())
    }
}

/// Runs a body that is not `Send` or `'static` — a framework's multipart field — through
/// [`Uploader::accept`]: the field is pumped through a small bounded channel as the store takes
/// it, in the same task, so a refused upload (type, size) stops the reading.
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) async fn accept_borrowed<S, E>(
    uploader: &Uploader,
    field: S,
    file_name: Option<&str>,
    key: &ObjectKey,
) -> Result<Uploaded, UploadError>
where
    S: futures_util::Stream<Item = Result<Bytes, E>>,
    E: fmt::Display,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, Error>>(4);
    let pump = async move {
        let mut field = std::pin::pin!(field);
        while let Some(item) = field.next().await {
            let item = item.map_err(|e| Error::Body(e.to_string()));
            let failed = item.is_err();
            // The receiver is gone when the upload ended early: stop reading.
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    };
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed();
    let ((), result) =
        futures_util::future::join(pump, uploader.accept(key, file_name, body)).await;
    result
}

/// A file name safe to store and to send back: the last path segment only, control,
/// bidirectional-override and reserved characters (`/ \ : * ? " < > |`) replaced by `_`, no
/// leading dots or spaces, at most 255 bytes (the extension kept), `file` when nothing is left.
///
/// ```
/// use mortar_storage::upload::sanitize_file_name;
///
/// assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
/// assert_eq!(sanitize_file_name("C:\\Users\\ann\\cv.pdf"), "cv.pdf");
/// assert_eq!(sanitize_file_name("in\u{202e}voice.pdf"), "in_voice.pdf");
/// assert_eq!(sanitize_file_name("..."), "file");
/// ```
pub fn sanitize_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .map(|c| {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
            if c.is_control() || bidi || matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches(['.', ' ']).trim_end();
    if trimmed.is_empty() {
        return "file".into();
    }
    if trimmed.len() <= 255 {
        return trimmed.to_owned();
    }
    // Too long: keep the extension, cut the stem on a character boundary.
    let (stem, ext) = match trimmed.rsplit_once('.') {
        Some((stem, ext)) if ext.len() <= 16 => (stem, format!(".{ext}")),
        _ => (trimmed, String::new()),
    };
    let mut cut = 255 - ext.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &stem[..cut])
}
