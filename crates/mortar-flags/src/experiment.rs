//! Experiments: exposure events ([`ExposureSink`]) and sticky assignments
//! ([`AssignmentStore`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

/// One subject exposed to one variant of an experiment ([`crate::FeatureFlags::assign`]):
/// what an analysis joins with outcomes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exposure {
    /// The experiment's flag key.
    pub flag: Arc<str>,
    /// The variant assigned.
    pub variant: Arc<str>,
    /// The variant's value.
    pub value: Value,
    /// The subject (targeting key).
    pub targeting_key: Option<String>,
    /// The tenant, when the context has one.
    pub tenant: Option<String>,
    /// When (serialized as unix milliseconds).
    #[serde(serialize_with = "unix_millis")]
    pub at: SystemTime,
}

fn unix_millis<S: serde::Serializer>(at: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    let ms = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    s.serialize_u64(ms)
}

/// Receives exposures. `record` must return promptly (queue, never wait on I/O): it runs on
/// the request path.
pub trait ExposureSink: Send + Sync + fmt::Debug + 'static {
    /// Takes one exposure.
    fn record(&self, exposure: Exposure);
}

impl<S: ExposureSink + ?Sized> ExposureSink for Arc<S> {
    fn record(&self, exposure: Exposure) {
        (**self).record(exposure);
    }
}

/// Keeps exposures in memory (tests, small apps); [`MemoryExposures::take`] drains them.
#[derive(Clone, Debug, Default)]
pub struct MemoryExposures {
    events: Arc<Mutex<Vec<Exposure>>>,
}

impl MemoryExposures {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every exposure recorded since the last call.
    pub fn take(&self) -> Vec<Exposure> {
        std::mem::take(
            &mut *self
                .events
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl ExposureSink for MemoryExposures {
    fn record(&self, exposure: Exposure) {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(exposure);
    }
}

/// Emits each exposure as a `tracing` event (target `mortar::flags::exposure`, INFO) with
/// fields `flag`, `variant`, `targeting_key`, `tenant` — for a log pipeline to collect.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingExposures;

impl ExposureSink for TracingExposures {
    fn record(&self, e: Exposure) {
        tracing::info!(
            target: "mortar::flags::exposure",
            flag = &*e.flag,
            variant = &*e.variant,
            targeting_key = e.targeting_key.as_deref(),
            tenant = e.tenant.as_deref(),
            "exposure"
        );
    }
}

/// Sends exposures into a bounded tokio channel for the app's own writer task; when the
/// channel is full the exposure is dropped and counted ([`ChannelExposures::dropped`]) rather
/// than slowing the request.
#[derive(Clone, Debug)]
pub struct ChannelExposures {
    tx: tokio::sync::mpsc::Sender<Exposure>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl ChannelExposures {
    /// A sink and the receiver to drain, holding at most `capacity` exposures.
    pub fn new(capacity: usize) -> (Self, tokio::sync::mpsc::Receiver<Exposure>) {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity.max(1));
        (
            Self {
                tx,
                dropped: Arc::default(),
            },
            rx,
        )
    }

    /// Exposures dropped because the channel was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl ExposureSink for ChannelExposures {
    fn record(&self, exposure: Exposure) {
        if self.tx.try_send(exposure).is_err() {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            metrics_dropped();
        }
    }
}

fn metrics_dropped() {
    tracing::debug!("mortar-flags: exposure dropped (channel full)");
}

/// Remembers the variant each subject was first assigned in each experiment.
#[async_trait]
pub trait AssignmentStore: Send + Sync + fmt::Debug + 'static {
    /// The variant `subject` was assigned in `flag`, if any.
    async fn get(&self, flag: &str, subject: &str) -> Result<Option<String>, Error>;
    /// Keeps an assignment (first write wins).
    async fn put(&self, flag: &str, subject: &str, variant: &str) -> Result<(), Error>;
}

/// Assignments in memory (one process).
#[derive(Clone, Debug, Default)]
pub struct MemoryAssignments {
    map: Arc<Mutex<HashMap<(String, String), String>>>,
}

impl MemoryAssignments {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl AssignmentStore for MemoryAssignments {
    async fn get(&self, flag: &str, subject: &str) -> Result<Option<String>, Error> {
        let map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(map.get(&(flag.to_owned(), subject.to_owned())).cloned())
    }

    async fn put(&self, flag: &str, subject: &str, variant: &str) -> Result<(), Error> {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry((flag.to_owned(), subject.to_owned()))
            .or_insert_with(|| variant.to_owned());
        Ok(())
    }
}
