//! [`MemoryCodeStore`]: code hashes in the process.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;

use super::{CodeRecord, CodeStore, Purpose};
use crate::error::Error;
use crate::user::UserId;

/// Code hashes in a map in the process; for tests and single-instance development.
#[derive(Debug, Default)]
pub struct MemoryCodeStore {
    codes: Mutex<HashMap<String, CodeRecord>>,
}

impl MemoryCodeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CodeRecord>> {
        self.codes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl CodeStore for MemoryCodeStore {
    async fn put(&self, hash: &str, record: CodeRecord) -> Result<(), Error> {
        let mut codes = self.lock();
        // Drop expired codes while here, so the map does not grow with abandoned ones.
        let now = record.created_at;
        codes.retain(|_, r| r.expires_at > now);
        if codes.contains_key(hash) {
            return Err(Error::Conflict("code"));
        }
        codes.insert(hash.to_owned(), record);
        Ok(())
    }

    async fn take(
        &self,
        hash: &str,
        purpose: Purpose,
        now: SystemTime,
    ) -> Result<Option<CodeRecord>, Error> {
        let mut codes = self.lock();
        match codes.get(hash) {
            Some(r) if r.purpose != purpose => Ok(None),
            Some(_) => {
                let record = codes.remove(hash);
                Ok(record.filter(|r| r.expires_at > now))
            }
            None => Ok(None),
        }
    }

    async fn revoke(&self, user_id: UserId, purpose: Purpose) -> Result<u64, Error> {
        let mut codes = self.lock();
        let before = codes.len();
        codes.retain(|_, r| !(r.user_id == user_id && r.purpose == purpose));
        Ok((before - codes.len()) as u64)
    }
}
