//! [`MemoryFactorStore`]: second factors in the process.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;

use super::{FactorStore, TotpFactor};
use crate::error::Error;
use crate::user::UserId;

#[derive(Debug, Default)]
struct Factors {
    totp: HashMap<UserId, TotpFactor>,
    /// Per user: code hash → used.
    recovery: HashMap<UserId, HashMap<String, bool>>,
}

/// Second factors in maps in the process; for tests and single-instance development.
#[derive(Debug, Default)]
pub struct MemoryFactorStore {
    factors: Mutex<Factors>,
}

impl MemoryFactorStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Factors> {
        self.factors.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl FactorStore for MemoryFactorStore {
    async fn totp(&self, user: UserId) -> Result<Option<TotpFactor>, Error> {
        Ok(self.lock().totp.get(&user).cloned())
    }

    async fn put_pending_totp(&self, user: UserId, factor: TotpFactor) -> Result<bool, Error> {
        let mut factors = self.lock();
        if factors.totp.get(&user).is_some_and(|f| f.active) {
            return Ok(false);
        }
        factors.totp.insert(user, factor);
        Ok(true)
    }

    async fn use_totp_step(&self, user: UserId, step: u64, activate: bool) -> Result<bool, Error> {
        let mut factors = self.lock();
        let Some(factor) = factors.totp.get_mut(&user) else {
            return Ok(false);
        };
        if factor.active == activate || factor.last_step.is_some_and(|last| last >= step) {
            return Ok(false);
        }
        factor.last_step = Some(step);
        factor.active = true;
        Ok(true)
    }

    async fn reseal_totp(&self, user: UserId, old: &str, new: String) -> Result<bool, Error> {
        let mut factors = self.lock();
        match factors.totp.get_mut(&user) {
            Some(factor) if factor.sealed_secret == old => {
                factor.sealed_secret = new;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_totp(&self, user: UserId) -> Result<bool, Error> {
        Ok(self.lock().totp.remove(&user).is_some())
    }

    async fn set_recovery_codes(
        &self,
        user: UserId,
        hashes: Vec<String>,
        _now: SystemTime,
    ) -> Result<(), Error> {
        self.lock()
            .recovery
            .insert(user, hashes.into_iter().map(|h| (h, false)).collect());
        Ok(())
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        _now: SystemTime,
    ) -> Result<bool, Error> {
        let mut factors = self.lock();
        match factors
            .recovery
            .get_mut(&user)
            .and_then(|c| c.get_mut(hash))
        {
            Some(spent) if !*spent => {
                *spent = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn recovery_codes_left(&self, user: UserId) -> Result<usize, Error> {
        Ok(self
            .lock()
            .recovery
            .get(&user)
            .map_or(0, |codes| codes.values().filter(|used| !**used).count()))
    }
}
