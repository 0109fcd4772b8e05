//! [`MemoryAttemptLimiter`]: mortar-core's [`AttemptLimiter`] in the process, with exponential
//! back-off. One instance only; mortar-ratelimit brings the Redis one for several instances.
//!
//! A key may fail `free_failures` times (default 5) within `window` (default 15 minutes); each
//! further failure locks it for `base_lockout` (default 1 s) doubled per failure past the free
//! ones, up to `max_lockout` (default 15 minutes). A success resets the key. Keys idle for a
//! window are forgotten, so memory stays bounded by the keys active in one window.
//!
//! ```
//! use std::time::Duration;
//! use mortar_auth::attempts::MemoryAttemptLimiter;
//! use mortar_core::{AttemptKey, AttemptLimiter, ManualClock};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_core::AttemptError> {
//! let clock = ManualClock::default();
//! let limiter = MemoryAttemptLimiter::new().free_failures(2).clock(clock.clone());
//! let key = AttemptKey::account("alice@example.com");
//! limiter.record_failure(&key).await?;
//! limiter.record_failure(&key).await?;
//! assert!(limiter.check(&key).await?.is_allowed());
//! let status = limiter.record_failure(&key).await?; // the third: locked for 1 s
//! assert_eq!(status.retry_after(), Some(Duration::from_secs(1)));
//! clock.advance(Duration::from_secs(1));
//! assert!(limiter.check(&key).await?.is_allowed());
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mortar_core::{
    AttemptError, AttemptKey, AttemptLimiter, AttemptStatus, SharedClock, SystemClock,
};

#[derive(Debug)]
struct Entry {
    failures: u32,
    last_failure: SystemTime,
    locked_until: Option<SystemTime>,
}

/// An in-process [`AttemptLimiter`] with exponential back-off per key.
#[derive(Debug)]
#[must_use]
pub struct MemoryAttemptLimiter {
    entries: Mutex<HashMap<AttemptKey, Entry>>,
    free_failures: u32,
    base_lockout: Duration,
    max_lockout: Duration,
    window: Duration,
    clock: SharedClock,
}

impl Default for MemoryAttemptLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryAttemptLimiter {
    /// 5 free failures per 15 minutes, then 1 s doubling up to 15 minutes.
    pub fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            free_failures: 5,
            base_lockout: Duration::from_secs(1),
            max_lockout: Duration::from_mins(15),
            window: Duration::from_mins(15),
            clock: SystemClock::shared(),
        }
    }

    /// How many failures are allowed before the first lock.
    pub fn free_failures(mut self, n: u32) -> Self {
        self.free_failures = n;
        self
    }

    /// The first lock's length (then doubled per failure) and the longest lock.
    pub fn lockout(mut self, base: Duration, max: Duration) -> Self {
        self.base_lockout = base;
        self.max_lockout = max.max(base);
        self
    }

    /// How long failures are remembered after the last one.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The clock (a `ManualClock` in tests).
    pub fn clock(mut self, clock: impl mortar_core::Clock) -> Self {
        self.clock = std::sync::Arc::new(clock);
        self
    }

    /// How many keys are remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AttemptKey, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn status(&self, entry: Option<&Entry>, now: SystemTime) -> AttemptStatus {
        match entry.and_then(|e| e.locked_until) {
            Some(until) if until > now => AttemptStatus::Locked {
                retry_after: until.duration_since(now).unwrap_or_default(),
            },
            _ => AttemptStatus::Allowed {
                remaining: Some(
                    self.free_failures
                        .saturating_sub(entry.map_or(0, |e| e.failures)),
                ),
            },
        }
    }

    fn expired(&self, entry: &Entry, now: SystemTime) -> bool {
        let locked = entry.locked_until.is_some_and(|until| until > now);
        !locked
            && now
                .duration_since(entry.last_failure)
                .is_ok_and(|idle| idle >= self.window)
    }
}

#[async_trait]
impl AttemptLimiter for MemoryAttemptLimiter {
    async fn check(&self, key: &AttemptKey) -> Result<AttemptStatus, AttemptError> {
        let now = self.clock.now();
        let mut entries = self.lock();
        if entries.get(key).is_some_and(|e| self.expired(e, now)) {
            entries.remove(key);
        }
        Ok(self.status(entries.get(key), now))
    }

    async fn record_failure(&self, key: &AttemptKey) -> Result<AttemptStatus, AttemptError> {
        let now = self.clock.now();
        let mut entries = self.lock();
        // Forget idle keys now and then, so memory follows the active keys only.
        if entries.len() > 1024 && entries.len().is_power_of_two() {
            entries.retain(|_, e| !self.expired(e, now));
        }
        if entries.get(key).is_some_and(|e| self.expired(e, now)) {
            entries.remove(key);
        }
        let entry = entries.entry(key.clone()).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked_until: None,
        });
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if entry.failures > self.free_failures {
            let doublings = (entry.failures - self.free_failures - 1).min(31);
            let lock = self
                .base_lockout
                .saturating_mul(1u32 << doublings)
                .min(self.max_lockout);
            entry.locked_until = Some(now + lock);
        }
        let status = self.status(Some(entry), now);
        Ok(status)
    }

    async fn reset(&self, key: &AttemptKey) -> Result<(), AttemptError> {
        self.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use mortar_core::ManualClock;

    use super::*;

    #[tokio::test]
    async fn backs_off_exponentially_up_to_the_cap() {
        let clock = ManualClock::default();
        let limiter = MemoryAttemptLimiter::new()
            .free_failures(3)
            .lockout(Duration::from_secs(2), Duration::from_secs(10))
            .clock(clock.clone());
        let key = AttemptKey::account("a");
        for remaining in [2, 1, 0] {
            assert_eq!(
                limiter.record_failure(&key).await.unwrap(),
                AttemptStatus::Allowed {
                    remaining: Some(remaining)
                }
            );
        }
        let mut locks = Vec::new();
        for _ in 0..4 {
            let status = limiter.record_failure(&key).await.unwrap();
            let lock = status.retry_after().unwrap();
            locks.push(lock.as_secs());
            assert_eq!(limiter.check(&key).await.unwrap().retry_after(), Some(lock));
            clock.advance(lock);
        }
        assert_eq!(locks, [2, 4, 8, 10]);
    }

    #[tokio::test]
    async fn keys_are_independent_reset_and_forgotten() {
        let clock = ManualClock::default();
        let limiter = MemoryAttemptLimiter::new()
            .free_failures(0)
            .window(Duration::from_mins(1))
            .clock(clock.clone());
        let a = AttemptKey::account("a");
        let b = AttemptKey::client("192.0.2.1".parse().unwrap());
        assert!(!limiter.record_failure(&a).await.unwrap().is_allowed());
        assert!(limiter.check(&b).await.unwrap().is_allowed());
        limiter.reset(&a).await.unwrap();
        assert!(limiter.check(&a).await.unwrap().is_allowed());

        limiter.record_failure(&b).await.unwrap();
        assert_eq!(limiter.len(), 1);
        clock.advance(Duration::from_secs(61));
        assert!(limiter.check(&b).await.unwrap().is_allowed());
        assert!(limiter.is_empty(), "idle keys are forgotten");
    }

    #[tokio::test]
    async fn concurrent_failures_all_count() {
        let limiter = std::sync::Arc::new(MemoryAttemptLimiter::new().free_failures(100));
        let key = AttemptKey::account("a");
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (limiter, key) = (limiter.clone(), key.clone());
            tasks.push(tokio::spawn(
                async move { limiter.record_failure(&key).await },
            ));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(
            limiter.check(&key).await.unwrap(),
            AttemptStatus::Allowed {
                remaining: Some(50)
            }
        );
    }
}
