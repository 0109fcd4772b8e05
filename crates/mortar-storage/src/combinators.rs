//! Stores built from stores: [`Mirror`] (write to two, e.g. while moving between providers) and
//! [`ReadThrough`] (a cache in front of a slow store).

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Error;
use crate::key::ObjectKey;
use crate::store::{
    ByteRange, ByteStream, GetResult, ListPage, ObjectMeta, ObjectStore, PutOptions,
};

/// Writes every object to a primary and a secondary store; reads from the primary, falling back
/// to the secondary for objects the primary does not have yet — what moving between providers
/// needs (primary: the new store, secondary: the old one; backfill, then drop the mirror).
///
/// A put streams into the primary, then copies the stored object into the secondary (read back
/// as a stream: nothing is held in memory). A failure to write the secondary fails the put, so
/// the two never silently diverge; deletes remove from both.
#[derive(Clone, Debug)]
pub struct Mirror {
    primary: Arc<dyn ObjectStore>,
    secondary: Arc<dyn ObjectStore>,
}

impl Mirror {
    /// A mirror of `primary` and `secondary`.
    pub fn new(primary: impl ObjectStore, secondary: impl ObjectStore) -> Self {
        Self {
            primary: Arc::new(primary),
            secondary: Arc::new(secondary),
        }
    }

    /// Copies `key` from the primary into the secondary.
    async fn replicate(&self, key: &ObjectKey, meta: &ObjectMeta) -> Result<(), Error> {
        let got = self.primary.get(key, None).await?;
        let options = PutOptions::like(meta);
        self.secondary.put(key, got.body, options).await.map(drop)
    }
}

#[async_trait]
impl ObjectStore for Mirror {
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<ObjectMeta, Error> {
        let meta = self.primary.put(key, body, options).await?;
        self.replicate(key, &meta).await?;
        Ok(meta)
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<GetResult, Error> {
        match self.primary.get(key, range).await {
            Err(Error::NotFound(_)) => self.secondary.get(key, range).await,
            other => other,
        }
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, Error> {
        match self.primary.head(key).await {
            Err(Error::NotFound(_)) => self.secondary.head(key).await,
            other => other,
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<bool, Error> {
        let a = self.primary.delete(key).await?;
        let b = self.secondary.delete(key).await?;
        Ok(a || b)
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, Error> {
        self.primary.list(prefix, after, limit).await
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<ObjectMeta, Error> {
        let meta = match self.primary.copy(from, to).await {
            Err(Error::NotFound(_)) => {
                // Not moved yet: copy in the secondary, then bring it over.
                self.secondary.copy(from, to).await?;
                let got = self.secondary.get(to, None).await?;
                let options = PutOptions::like(&got.meta);
                return self.primary.put(to, got.body, options).await;
            }
            other => other?,
        };
        self.replicate(to, &meta).await?;
        Ok(meta)
    }
}

/// A read-through cache: reads are served from `cache` when it holds the object, else fetched
/// from `origin` into the cache (objects up to a size limit; larger ones stream straight from
/// the origin) and served from there. Writes and deletes go to the origin and evict the
/// object from the cache. Changes made to the origin behind the cache's back are not seen until
/// the object is evicted.
#[derive(Clone, Debug)]
pub struct ReadThrough {
    origin: Arc<dyn ObjectStore>,
    cache: Arc<dyn ObjectStore>,
    max_cached: u64,
}

impl ReadThrough {
    /// A cache (`cache`, e.g. a `LocalStore`) in front of `origin` (e.g. S3), caching objects up
    /// to 64 MiB until [`ReadThrough::max_cached`].
    pub fn new(origin: impl ObjectStore, cache: impl ObjectStore) -> Self {
        Self {
            origin: Arc::new(origin),
            cache: Arc::new(cache),
            max_cached: 64 << 20,
        }
    }

    /// The largest object cached.
    #[must_use]
    pub fn max_cached(mut self, bytes: u64) -> Self {
        self.max_cached = bytes;
        self
    }

    /// Evicts an object from the cache.
    ///
    /// # Errors
    ///
    /// The cache's failure.
    pub async fn evict(&self, key: &ObjectKey) -> Result<(), Error> {
        self.cache.delete(key).await.map(drop)
    }
}

#[async_trait]
impl ObjectStore for ReadThrough {
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<ObjectMeta, Error> {
        let meta = self.origin.put(key, body, options).await?;
        self.evict(key).await?;
        Ok(meta)
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<GetResult, Error> {
        match self.cache.get(key, range).await {
            Ok(hit) => return Ok(hit),
            Err(Error::NotFound(_)) => {}
            Err(e) => {
                tracing::warn!(error = %e, "mortar-storage: cache read failed; reading the origin");
            }
        }
        let meta = self.origin.head(key).await?;
        if meta.size > self.max_cached {
            return self.origin.get(key, range).await;
        }
        let whole = self.origin.get(key, None).await?;
        let options = PutOptions::like(&meta);
        self.cache.put(key, whole.body, options).await?;
        let mut got = self.cache.get(key, range).await?;
        // Answer with the origin's identity (entity tag, time), not the cache copy's.
        got.meta = meta;
        Ok(got)
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, Error> {
        self.origin.head(key).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<bool, Error> {
        let existed = self.origin.delete(key).await?;
        self.evict(key).await?;
        Ok(existed)
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage, Error> {
        self.origin.list(prefix, after, limit).await
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<ObjectMeta, Error> {
        let meta = self.origin.copy(from, to).await?;
        self.evict(to).await?;
        Ok(meta)
    }
}
