//! [`LocalStore`]: objects as files under a root directory.

use std::collections::BTreeMap;
use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

use crate::error::Error;
use crate::key::ObjectKey;
use crate::store::{
    ByteRange, ByteStream, DEFAULT_CONTENT_TYPE, Digesting, GetResult, ListPage, ObjectMeta,
    ObjectStore, PutOptions, etag_of, heads_of, page_of,
};

/// Chunk size of reads.
const CHUNK: usize = 64 * 1024;

/// Objects as files under a root directory: `objects/<key>` holds the content,
/// `meta/<key>.json` its content type, metadata and SHA-256, `tmp/` bodies being written.
///
/// Writes are atomic: the body streams into a temporary file on the same filesystem (its
/// SHA-256 and size computed on the way) and is renamed over the final path only once complete
/// and checked — a reader sees the old object or the new one, never half of one, and a failed
/// or refused upload leaves nothing. With [`PutOptions::fsync`] the file and its directory are
/// flushed to disk before the answer. Keys are validated ([`ObjectKey`]), so no key reaches
/// outside the root.
#[derive(Clone, Debug)]
pub struct LocalStore {
    root: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Sidecar {
    content_type: String,
    sha256: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[allow(clippy::needless_pass_by_value, reason = "the shape `map_err` takes")]
fn io_err(err: std::io::Error) -> Error {
    Error::Backend(err.to_string())
}

impl LocalStore {
    /// A store under `root` (created when missing).
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when the directories cannot be created.
    pub async fn new(root: impl AsRef<Path>) -> Result<Self, Error> {
        let root = root.as_ref().to_owned();
        for dir in ["objects", "meta", "tmp"] {
            tokio::fs::create_dir_all(root.join(dir))
                .await
                .map_err(io_err)?;
        }
        Ok(Self { root })
    }

    fn object_path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join("objects").join(key.as_str())
    }

    fn meta_path(&self, key: &ObjectKey) -> PathBuf {
        self.root
            .join("meta")
            .join(format!("{}.json", key.as_str()))
    }

    fn temp_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::now_v7().to_string())
    }

    async fn read_meta(&self, key: &ObjectKey) -> Result<ObjectMeta, Error> {
        let fs_meta = match tokio::fs::metadata(self.object_path(key)).await {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Err(Error::NotFound(key.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(key.to_string()));
            }
            Err(e) => return Err(io_err(e)),
        };
        let sidecar: Option<Sidecar> = tokio::fs::read(self.meta_path(key))
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let last_modified = fs_meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let (content_type, sha256, metadata) = match sidecar {
            Some(s) => (s.content_type, s.sha256, s.metadata),
            None => (DEFAULT_CONTENT_TYPE.to_owned(), None, BTreeMap::new()),
        };
        let etag = match &sha256 {
            Some(sha) => etag_of(sha),
            // A file put there by hand: size and time stand in for the content.
            None => format!(
                "\"{:x}-{:x}\"",
                fs_meta.len(),
                last_modified
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos())
            ),
        };
        Ok(ObjectMeta {
            key: key.clone(),
            size: fs_meta.len(),
            content_type,
            etag,
            last_modified,
            sha256,
            metadata,
        })
    }

    /// Writes `bytes` to `path` through a temporary file and a rename.
    async fn write_atomically(&self, path: &Path, bytes: &[u8], fsync: bool) -> Result<(), Error> {
        let temp = self.temp_path();
        let mut file = tokio::fs::File::create(&temp).await.map_err(io_err)?;
        file.write_all(bytes).await.map_err(io_err)?;
        if fsync {
            file.sync_all().await.map_err(io_err)?;
        }
        drop(file);
        self.install(&temp, path, fsync).await
    }

    /// Renames a finished temporary file into place (creating the parent directories).
    async fn install(&self, temp: &Path, path: &Path, fsync: bool) -> Result<(), Error> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io_err)?;
        }
        if let Err(e) = tokio::fs::rename(temp, path).await {
            let _ = tokio::fs::remove_file(temp).await;
            return Err(io_err(e));
        }
        if fsync && let Some(parent) = path.parent() {
            tokio::fs::File::open(parent)
                .await
                .map_err(io_err)?
                .sync_all()
                .await
                .map_err(io_err)?;
        }
        Ok(())
    }

    /// Streams `body` into a temporary file; removes it on any failure.
    async fn receive(
        &self,
        mut body: ByteStream,
        options: &PutOptions,
    ) -> Result<(PathBuf, u64, String), Error> {
        let temp = self.temp_path();
        let mut file = tokio::fs::File::create(&temp).await.map_err(io_err)?;
        let mut digest = Digesting::new(options.max_size);
        let written: Result<(), Error> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk?;
                digest.update(&chunk)?;
                file.write_all(&chunk).await.map_err(io_err)?;
            }
            file.flush().await.map_err(io_err)?;
            if options.fsync {
                file.sync_all().await.map_err(io_err)?;
            }
            Ok(())
        }
        .await;
        drop(file);
        let checked = written.and_then(|()| digest.finish(options.expected_sha256.as_ref()));
        match checked {
            Ok((size, sha)) => Ok((temp, size, sha)),
            Err(e) => {
                let _ = tokio::fs::remove_file(&temp).await;
                Err(e)
            }
        }
    }

    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                Self::walk(&path, base, out)?;
            } else if let Ok(rel) = path.strip_prefix(base)
                && let Some(text) = rel.to_str()
            {
                let key = text.replace(std::path::MAIN_SEPARATOR, "/");
                if ObjectKey::new(key.as_str()).is_ok() {
                    out.push(key);
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<ObjectMeta, Error> {
        options.validate()?;
        let (temp, _, sha256) = self.receive(body, &options).await?;
        let sidecar = Sidecar {
            content_type: options
                .content_type
                .clone()
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
            sha256: Some(sha256),
            metadata: options.metadata.clone(),
        };
        let sidecar = serde_json::to_vec(&sidecar).map_err(Error::backend)?;
        // The sidecar first: an object is never visible with another object's metadata for
        // longer than the rename that follows.
        if let Err(e) = self
            .write_atomically(&self.meta_path(key), &sidecar, options.fsync)
            .await
        {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e);
        }
        self.install(&temp, &self.object_path(key), options.fsync)
            .await?;
        self.read_meta(key).await
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<GetResult, Error> {
        let meta = self.read_meta(key).await?;
        let (offset, len) = match range {
            Some(range) => range.resolve(meta.size)?,
            None => (0, meta.size),
        };
        let mut file = tokio::fs::File::open(self.object_path(key))
            .await
            .map_err(io_err)?;
        if offset > 0 {
            file.seek(SeekFrom::Start(offset)).await.map_err(io_err)?;
        }
        let body = futures_util::stream::try_unfold((file, len), |(mut file, left)| async move {
            if left == 0 {
                return Ok(None);
            }
            let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
            let mut buf = BytesMut::zeroed(want);
            let n = file.read(&mut buf).await.map_err(io_err)?;
            if n == 0 {
                return Err(Error::Backend(
                    "the file ended early (changed while read)".into(),
                ));
            }
            buf.truncate(n);
            Ok(Some((Bytes::from(buf), (file, left - n as u64))))
        })
        .boxed();
        Ok(GetResult {
            meta,
            range: (offset, len),
            body,
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, Error> {
        self.read_meta(key).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<bool, Error> {
        let existed = match tokio::fs::remove_file(self.object_path(key)).await {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_err(e)),
        };
        let _ = tokio::fs::remove_file(self.meta_path(key)).await;
        Ok(existed)
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, Error> {
        let base = self.root.join("objects");
        // A directory walk: fine for the local backend's scale (development, single servers).
        let mut keys = tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            LocalStore::walk(&base, &base, &mut keys).map(|()| keys)
        })
        .await
        .map_err(Error::backend)?
        .map_err(io_err)?;
        keys.sort();
        let (page, next) = page_of(keys.iter().map(String::as_str), prefix, after, limit);
        let page: Vec<String> = page.into_iter().map(str::to_owned).collect();
        let objects = heads_of(page, |key| async move { self.read_meta(&key).await }).await?;
        Ok(ListPage { objects, next })
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<ObjectMeta, Error> {
        self.read_meta(from).await?;
        let temp = self.temp_path();
        tokio::fs::copy(self.object_path(from), &temp)
            .await
            .map_err(io_err)?;
        if let Ok(sidecar) = tokio::fs::read(self.meta_path(from)).await
            && let Err(e) = self
                .write_atomically(&self.meta_path(to), &sidecar, false)
                .await
        {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e);
        }
        self.install(&temp, &self.object_path(to), false).await?;
        self.read_meta(to).await
    }
}
