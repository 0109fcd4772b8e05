//! API keys: `<prefix>_<id>_<secret><checksum>`.
//!
//! - The **prefix** (yours, e.g. `acme`) lets secret scanners recognise a leaked key.
//! - The **id** (12 base62 characters) finds the key; it is not secret and is shown in lists.
//! - The **secret** (32 base62 characters, about 190 bits) is shown once and stored only as its
//!   SHA-256 (a fast hash is right for a random secret of this size), compared in constant time.
//! - The **checksum** (6 base62 characters of CRC32 over the rest, as in GitHub's tokens)
//!   rejects a mistyped or truncated key without touching the store.
//!
//! Keys carry scopes, an optional expiry and a revocation time; their last use is recorded in
//! memory and written to the store in batches ([`ApiKeys::flush_usage`], or the background task
//! of [`ApiKeys::spawn_usage_flusher`]), never once per request.
//!
//! ```
//! use std::sync::Arc;
//! use mortar_auth::api_key::{ApiKeys, MemoryApiKeyStore, NewApiKey};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_auth::Error> {
//! let keys = ApiKeys::new(Arc::new(MemoryApiKeyStore::new()), "acme")?;
//! let (key, token) = keys.create(NewApiKey::new("user-1", "CI deploys").scope("deploy")).await?;
//! assert!(token.starts_with("acme_"));
//! let principal = keys.verify(&token).await?;
//! assert_eq!(principal.subject(), "user-1");
//! assert!(principal.has_scope("deploy"));
//! keys.revoke(&key.id).await?;
//! assert!(keys.verify(&token).await.is_err());
//! # Ok(()) }
//! ```

mod format;
mod memory;
mod service;

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;

pub use format::{ParsedKey, parse};
pub use memory::MemoryApiKeyStore;
pub use service::{ApiKeys, NewApiKey};

use crate::error::Error;

/// A stored API key (never its secret).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The public id (12 base62 characters).
    pub id: String,
    /// Who acts with it: the principal's subject.
    pub owner: String,
    /// The tenant it acts in, if any.
    pub tenant: Option<String>,
    /// A name for people ("CI deploys").
    pub name: String,
    /// SHA-256 of the secret, lower-case hex.
    pub secret_hash: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Creation time.
    pub created_at: SystemTime,
    /// When it stops working, if ever.
    pub expires_at: Option<SystemTime>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<SystemTime>,
    /// When it was last used (as of the last flush).
    pub last_used_at: Option<SystemTime>,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// Where API keys live.
///
/// Contract (checked by the conformance suite): ids are unique; `revoke` answers whether the key
/// was active; `record_usage` sets `last_used_at` for each id (later times win), ignoring unknown
/// ids; `list_for_owner` returns every key of an owner, newest first.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new key.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when the id exists; [`Error::Store`].
    async fn create(&self, key: ApiKey) -> Result<(), Error>;

    /// The key with this id.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn get(&self, id: &str) -> Result<Option<ApiKey>, Error>;

    /// Every key of `owner`, newest first.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn list_for_owner(&self, owner: &str) -> Result<Vec<ApiKey>, Error>;

    /// Revokes a key; answers whether it was active.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn revoke(&self, id: &str, now: SystemTime) -> Result<bool, Error>;

    /// Records last-use times, one write per batch.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn record_usage(&self, usage: &[(String, SystemTime)]) -> Result<(), Error>;
}
