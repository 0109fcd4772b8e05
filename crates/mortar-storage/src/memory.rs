//! [`MemoryStore`]: objects in memory.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt as _;

use crate::error::Error;
use crate::key::ObjectKey;
use crate::store::{
    ByteRange, ByteStream, DEFAULT_CONTENT_TYPE, Digesting, GetResult, ListPage, ObjectMeta,
    ObjectStore, PutOptions, body_from_bytes, etag_of, page_of,
};

/// Objects in memory, for tests and small single-process apps. Clones share the objects.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    objects: Arc<RwLock<BTreeMap<String, (Bytes, ObjectMeta)>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, (Bytes, ObjectMeta)>> {
        self.objects
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, (Bytes, ObjectMeta)>> {
        self.objects
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn put(
        &self,
        key: &ObjectKey,
        mut body: ByteStream,
        options: PutOptions,
    ) -> Result<ObjectMeta, Error> {
        options.validate()?;
        let mut digest = Digesting::new(options.max_size);
        let mut content = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            digest.update(&chunk)?;
            content.extend_from_slice(&chunk);
        }
        let (size, sha256) = digest.finish(options.expected_sha256.as_ref())?;
        let meta = ObjectMeta {
            key: key.clone(),
            size,
            content_type: options
                .content_type
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
            etag: etag_of(&sha256),
            last_modified: SystemTime::now(),
            sha256: Some(sha256),
            metadata: options.metadata,
        };
        self.write()
            .insert(key.as_str().to_owned(), (content.into(), meta.clone()));
        Ok(meta)
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<GetResult, Error> {
        let (content, meta) = self
            .read()
            .get(key.as_str())
            .cloned()
            .ok_or_else(|| Error::NotFound(key.to_string()))?;
        let (offset, len) = match range {
            Some(range) => range.resolve(meta.size)?,
            None => (0, meta.size),
        };
        let start = usize::try_from(offset).map_err(Error::backend)?;
        let end = usize::try_from(offset + len).map_err(Error::backend)?;
        Ok(GetResult {
            meta,
            range: (offset, len),
            body: body_from_bytes(content.slice(start..end)),
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, Error> {
        self.read()
            .get(key.as_str())
            .map(|(_, meta)| meta.clone())
            .ok_or_else(|| Error::NotFound(key.to_string()))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<bool, Error> {
        Ok(self.write().remove(key.as_str()).is_some())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, Error> {
        let objects = self.read();
        let (keys, next) = page_of(objects.keys().map(String::as_str), prefix, after, limit);
        Ok(ListPage {
            objects: keys.into_iter().map(|k| objects[k].1.clone()).collect(),
            next,
        })
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<ObjectMeta, Error> {
        let mut objects = self.write();
        let (content, mut meta) = objects
            .get(from.as_str())
            .cloned()
            .ok_or_else(|| Error::NotFound(from.to_string()))?;
        meta.key = to.clone();
        meta.last_modified = SystemTime::now();
        objects.insert(to.as_str().to_owned(), (content, meta.clone()));
        Ok(meta)
    }
}
