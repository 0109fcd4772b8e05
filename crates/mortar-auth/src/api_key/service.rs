//! [`ApiKeys`]: creating, verifying, listing and revoking keys.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use mortar_core::{
    AuditEvent, AuditRecorder, Outcome, Principal, SharedClock, SharedRecorder, SystemClock,
    TracingRecorder,
};
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::format::{ID_LEN, SECRET_LEN, checksum, parse, random_base62};
use super::{ApiKey, ApiKeyStore};
use crate::error::Error;
use crate::token::TokenError;

/// What a new key is for.
#[derive(Clone, Debug)]
#[must_use]
pub struct NewApiKey {
    owner: String,
    name: String,
    tenant: Option<String>,
    scopes: Vec<String>,
    expires_in: Option<Duration>,
}

impl NewApiKey {
    /// A key acting as `owner` (the principal subject), named for people.
    pub fn new(owner: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            name: name.into(),
            tenant: None,
            scopes: Vec::new(),
            expires_in: None,
        }
    }

    /// Adds a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Sets the tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Makes the key expire after `after`.
    pub fn expires_in(mut self, after: Duration) -> Self {
        self.expires_in = Some(after);
        self
    }
}

fn hash(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

fn invalid() -> Error {
    Error::InvalidToken(TokenError::Revoked)
}

/// Creates, verifies, lists and revokes API keys; cheap to clone.
#[derive(Clone)]
pub struct ApiKeys {
    store: Arc<dyn ApiKeyStore>,
    prefix: String,
    clock: SharedClock,
    recorder: SharedRecorder,
    usage: Arc<Mutex<HashMap<String, SystemTime>>>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("prefix", &self.prefix)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// Keys in `store` with the given prefix (2–16 lower-case letters or digits).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a prefix scanners could not match reliably.
    pub fn new(store: Arc<dyn ApiKeyStore>, prefix: impl Into<String>) -> Result<Self, Error> {
        let prefix = prefix.into();
        let valid = (2..=16).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(Error::Config(format!(
                "API key prefix {prefix:?} must be 2 to 16 lower-case letters or digits"
            )));
        }
        Ok(Self {
            store,
            prefix,
            clock: SystemClock::shared(),
            recorder: Arc::new(TracingRecorder),
            usage: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// Whether `token` has this service's key shape (prefix and length), without checking it.
    pub fn is_key_shaped(&self, token: &str) -> bool {
        token.len() == self.prefix.len() + 1 + ID_LEN + 1 + SECRET_LEN + 6
            && token.starts_with(&self.prefix)
            && token.as_bytes().get(self.prefix.len()) == Some(&b'_')
    }

    /// Sets the clock.
    #[must_use]
    pub fn clock(mut self, clock: impl mortar_core::Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets the audit recorder.
    #[must_use]
    pub fn recorder(mut self, recorder: impl AuditRecorder) -> Self {
        self.recorder = Arc::new(recorder);
        self
    }

    /// Creates a key. The returned token is the only time the secret is seen: show it to the
    /// user once.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn create(&self, new: NewApiKey) -> Result<(ApiKey, String), Error> {
        let now = self.clock.now();
        let id = random_base62(ID_LEN);
        let secret = random_base62(SECRET_LEN);
        let body = format!("{}_{id}_{secret}", self.prefix);
        let token = format!("{body}{}", checksum(&body));
        let key = ApiKey {
            id,
            owner: new.owner,
            tenant: new.tenant,
            name: new.name,
            secret_hash: hash(&secret),
            scopes: new.scopes,
            created_at: now,
            expires_at: new.expires_in.map(|d| now + d),
            revoked_at: None,
            last_used_at: None,
        };
        self.store.create(key.clone()).await?;
        self.recorder.record(
            AuditEvent::new("auth.api_key.created", Outcome::Success)
                .at(now)
                .actor_subject(key.owner.clone(), mortar_core::PrincipalKind::User)
                .target("api_key", key.id.clone())
                .meta("name", key.name.clone()),
        );
        Ok((key, token))
    }

    /// Verifies a presented key and returns its principal (kind API key, subject the owner,
    /// the key's scopes and tenant, attribute `api_key_id`). A malformed key or a wrong checksum
    /// is refused before any lookup.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidToken`] for a malformed, unknown, wrong, expired or revoked key, alike;
    /// [`Error::Store`].
    pub async fn verify(&self, token: &str) -> Result<Principal, Error> {
        let parsed = parse(&self.prefix, token).ok_or_else(invalid)?;
        let key = self.store.get(parsed.id).await?.ok_or_else(invalid)?;
        let matches: bool = hash(parsed.secret)
            .as_bytes()
            .ct_eq(key.secret_hash.as_bytes())
            .into();
        let now = self.clock.now();
        if !matches || key.revoked_at.is_some() || key.expires_at.is_some_and(|at| at <= now) {
            return Err(invalid());
        }
        self.usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.id.clone(), now);
        let mut principal = Principal::api_key(key.owner)
            .scopes(key.scopes)
            .attribute("api_key_id", key.id);
        if let Some(tenant) = key.tenant {
            principal = principal.tenant(tenant);
        }
        Ok(principal.build())
    }

    /// The keys of `owner`, newest first (secrets are never stored, so never shown).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn list(&self, owner: &str) -> Result<Vec<ApiKey>, Error> {
        self.store.list_for_owner(owner).await
    }

    /// Revokes a key at once.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when no active key has this id; [`Error::Store`].
    pub async fn revoke(&self, id: &str) -> Result<(), Error> {
        let now = self.clock.now();
        if !self.store.revoke(id, now).await? {
            return Err(Error::NotFound);
        }
        self.recorder.record(
            AuditEvent::new("auth.api_key.revoked", Outcome::Success)
                .at(now)
                .target("api_key", id),
        );
        Ok(())
    }

    /// Writes the last-use times gathered since the previous flush, in one batch.
    ///
    /// # Errors
    ///
    /// [`Error::Store`]; the batch is then kept for the next flush.
    pub async fn flush_usage(&self) -> Result<usize, Error> {
        let batch: Vec<(String, SystemTime)> =
            std::mem::take(&mut *self.usage.lock().unwrap_or_else(PoisonError::into_inner))
                .into_iter()
                .collect();
        if batch.is_empty() {
            return Ok(0);
        }
        if let Err(e) = self.store.record_usage(&batch).await {
            let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
            for (id, at) in batch {
                usage.entry(id).or_insert(at);
            }
            return Err(e);
        }
        Ok(batch.len())
    }

    /// Flushes last-use times every `every` on the current tokio runtime until the returned
    /// handle is aborted (or the runtime stops).
    pub fn spawn_usage_flusher(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let keys = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if let Err(error) = keys.flush_usage().await {
                    tracing::warn!(target: "mortar::auth", %error, "writing API key usage failed");
                }
            }
        })
    }
}
