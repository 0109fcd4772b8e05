//! [`ActivityTracker`]: last-seen time per user, kept in memory and written in batches.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mortar_core::Principal;

use crate::error::Error;

/// When a subject was last active.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LastSeen {
    /// The subject.
    pub subject: String,
    /// The tenant it was active in.
    pub tenant: Option<String>,
    /// When (to the microsecond).
    pub at: SystemTime,
}

impl LastSeen {
    /// A last-seen entry.
    pub fn new(subject: impl Into<String>, tenant: Option<String>, at: SystemTime) -> Self {
        Self {
            subject: subject.into(),
            tenant,
            at,
        }
    }
}

/// Where last-seen times are kept.
#[async_trait]
pub trait LastSeenStore: Send + Sync + fmt::Debug + 'static {
    /// Saves a batch (one entry per subject), replacing older times.
    ///
    /// # Errors
    /// [`Error::Store`].
    async fn save(&self, batch: &[LastSeen]) -> Result<(), Error>;

    /// The stored entry of `subject`.
    ///
    /// # Errors
    /// [`Error::Store`].
    async fn get(&self, subject: &str) -> Result<Option<LastSeen>, Error>;
}

/// Last-seen times in memory.
#[derive(Debug, Default)]
pub struct MemoryLastSeen {
    map: Mutex<HashMap<String, LastSeen>>,
}

#[async_trait]
impl LastSeenStore for MemoryLastSeen {
    async fn save(&self, batch: &[LastSeen]) -> Result<(), Error> {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for entry in batch {
            map.insert(entry.subject.clone(), entry.clone());
        }
        Ok(())
    }

    async fn get(&self, subject: &str) -> Result<Option<LastSeen>, Error> {
        Ok(self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(subject)
            .cloned())
    }
}

/// Tracks when each user was last active: [`ActivityTracker::touch`] is a map update in
/// memory (called by the request audit layer for every authenticated request), and
/// [`ActivityTracker::flush`] — every `interval` when started with
/// [`ActivityTracker::spawn_flusher`] — writes what changed in one batch. A subject is written
/// at most once per `resolution` (default one minute), so a busy user costs one row write a
/// minute, not one per request.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use mortar_audit::{ActivityTracker, MemoryLastSeen};
/// use mortar_core::Principal;
///
/// let tracker = ActivityTracker::new(Arc::new(MemoryLastSeen::default()));
/// tracker.touch(&Principal::user("u1").tenant("acme").build());
/// assert_eq!(tracker.flush().await.unwrap(), 1);
/// assert!(tracker.last_seen("u1").await.unwrap().is_some());
/// # }
/// ```
#[derive(Debug)]
pub struct ActivityTracker {
    store: Arc<dyn LastSeenStore>,
    resolution: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    pending: HashMap<String, LastSeen, Hasher>,
    written: HashMap<String, SystemTime, Hasher>,
}

/// The maps' hasher: foldhash, seeded per process (a lookup on every signed-in request; the
/// standard library's `SipHash` costs several times more on a short subject).
type Hasher = foldhash::fast::RandomState;

/// At most this many subjects are remembered as recently written; beyond it the memory is
/// cleared (costing one extra write per active subject).
const MAX_REMEMBERED: usize = 100_000;

impl ActivityTracker {
    /// A tracker writing to `store`.
    pub fn new(store: Arc<dyn LastSeenStore>) -> Self {
        Self {
            store,
            resolution: Duration::from_mins(1),
            state: Mutex::default(),
        }
    }

    /// Sets how stale a stored time may be (default one minute).
    #[must_use]
    pub fn resolution(mut self, resolution: Duration) -> Self {
        self.resolution = resolution;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes that `principal` is active now (anonymous principals are ignored).
    pub fn touch(&self, principal: &Principal) {
        if principal.is_anonymous() {
            return;
        }
        let now = SystemTime::now();
        let mut state = self.lock();
        if let Some(written) = state.written.get(principal.subject())
            && now
                .duration_since(*written)
                .is_ok_and(|d| d < self.resolution)
        {
            return;
        }
        match state.pending.get_mut(principal.subject()) {
            Some(entry) => {
                entry.at = now;
                // Copied only when it changed (this runs on every signed-in request).
                if entry.tenant.as_deref() != principal.tenant() {
                    entry.tenant = principal.tenant().map(str::to_owned);
                }
            }
            None => {
                state.pending.insert(
                    principal.subject().to_owned(),
                    LastSeen::new(
                        principal.subject(),
                        principal.tenant().map(str::to_owned),
                        now,
                    ),
                );
            }
        }
    }

    /// Writes the pending entries in one batch and returns how many there were. On failure
    /// they stay pending for the next flush.
    ///
    /// # Errors
    /// The store's error.
    pub async fn flush(&self) -> Result<usize, Error> {
        let batch: Vec<LastSeen> = {
            let mut state = self.lock();
            state.pending.drain().map(|(_, v)| v).collect()
        };
        if batch.is_empty() {
            return Ok(0);
        }
        match self.store.save(&batch).await {
            Ok(()) => {
                let mut state = self.lock();
                if state.written.len() > MAX_REMEMBERED {
                    state.written.clear();
                }
                for entry in &batch {
                    state.written.insert(entry.subject.clone(), entry.at);
                }
                Ok(batch.len())
            }
            Err(e) => {
                let mut state = self.lock();
                for entry in batch {
                    state.pending.entry(entry.subject.clone()).or_insert(entry);
                }
                Err(e)
            }
        }
    }

    /// When `subject` was last seen: the pending time, else the stored one.
    ///
    /// # Errors
    /// The store's error.
    pub async fn last_seen(&self, subject: &str) -> Result<Option<LastSeen>, Error> {
        if let Some(pending) = self.lock().pending.get(subject).cloned() {
            return Ok(Some(pending));
        }
        self.store.get(subject).await
    }

    /// Flushes every `interval` on the current tokio runtime until the tracker is dropped
    /// everywhere else (then flushes one last time).
    pub fn spawn_flusher(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(tracker) = weak.upgrade() else { break };
                if let Err(e) = tracker.flush().await {
                    tracing::warn!(target: "mortar::audit", error = %e, "last-seen flush failed");
                }
                if Arc::strong_count(&tracker) == 1 {
                    break;
                }
            }
        })
    }
}
