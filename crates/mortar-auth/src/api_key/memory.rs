//! [`MemoryApiKeyStore`]: API keys in the process.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;

use super::{ApiKey, ApiKeyStore};
use crate::error::Error;

/// API keys in a map in the process; for tests and single-instance development.
#[derive(Debug, Default)]
pub struct MemoryApiKeyStore {
    keys: Mutex<HashMap<String, ApiKey>>,
}

impl MemoryApiKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ApiKey>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl ApiKeyStore for MemoryApiKeyStore {
    async fn create(&self, key: ApiKey) -> Result<(), Error> {
        let mut keys = self.lock();
        if keys.contains_key(&key.id) {
            return Err(Error::Conflict("api_key"));
        }
        keys.insert(key.id.clone(), key);
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<ApiKey>, Error> {
        Ok(self.lock().get(id).cloned())
    }

    async fn list_for_owner(&self, owner: &str) -> Result<Vec<ApiKey>, Error> {
        let mut keys: Vec<ApiKey> = self
            .lock()
            .values()
            .filter(|k| k.owner == owner)
            .cloned()
            .collect();
        keys.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(keys)
    }

    async fn revoke(&self, id: &str, now: SystemTime) -> Result<bool, Error> {
        match self.lock().get_mut(id) {
            Some(key) if key.revoked_at.is_none() => {
                key.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn record_usage(&self, usage: &[(String, SystemTime)]) -> Result<(), Error> {
        let mut keys = self.lock();
        for (id, at) in usage {
            if let Some(key) = keys.get_mut(id)
                && key.last_used_at.is_none_or(|prev| prev < *at)
            {
                key.last_used_at = Some(*at);
            }
        }
        Ok(())
    }
}
