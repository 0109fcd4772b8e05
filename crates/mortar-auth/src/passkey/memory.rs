//! [`MemoryPasskeyStore`].

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use webauthn_rs::prelude::Passkey;

use super::{PasskeyCredential, PasskeyStore};
use crate::error::Error;
use crate::user::UserId;

/// Passkeys in memory: for tests and single-process development.
#[derive(Debug, Default)]
pub struct MemoryPasskeyStore {
    by_id: Mutex<BTreeMap<String, PasskeyCredential>>,
}

impl MemoryPasskeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PasskeyCredential>> {
        self.by_id.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl PasskeyStore for MemoryPasskeyStore {
    async fn insert(&self, credential: PasskeyCredential) -> Result<(), Error> {
        let mut map = self.lock();
        if map.contains_key(&credential.id) {
            return Err(Error::Conflict("passkey"));
        }
        map.insert(credential.id.clone(), credential);
        Ok(())
    }

    async fn for_user(&self, user_id: UserId) -> Result<Vec<PasskeyCredential>, Error> {
        let mut list: Vec<PasskeyCredential> = self
            .lock()
            .values()
            .filter(|c| c.user_id == user_id)
            .cloned()
            .collect();
        list.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(list)
    }

    async fn update(&self, id: &str, passkey: &Passkey, used_at: SystemTime) -> Result<(), Error> {
        let mut map = self.lock();
        let credential = map.get_mut(id).ok_or(Error::NotFound)?;
        credential.passkey = passkey.clone();
        credential.last_used_at = Some(used_at);
        Ok(())
    }

    async fn remove(&self, user_id: UserId, id: &str) -> Result<bool, Error> {
        let mut map = self.lock();
        if map.get(id).is_some_and(|c| c.user_id == user_id) {
            map.remove(id);
            return Ok(true);
        }
        Ok(false)
    }
}
