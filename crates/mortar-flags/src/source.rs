//! Where flags come from: [`FlagSource`] (read and follow), [`FlagStore`] (change), the
//! audited [`FlagsAdmin`], and the memory and file sources.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mortar_core::Principal;
use mortar_core::audit::{AuditEvent, AuditRecorder, NoopRecorder, Outcome};
use tokio::sync::Notify;

use crate::definition::{FlagDefinition, FlagSet, FlagState};
use crate::engine::{Bucketing, Engines, compile_flag};
use crate::error::Error;

/// A source of flags: loads its whole flag set, and follows its changes.
#[async_trait]
pub trait FlagSource: Send + Sync + fmt::Debug + 'static {
    /// The flags as they are now.
    async fn load(&self) -> Result<FlagSet, Error>;

    /// Runs for as long as the flags are in use, calling `changed.notify_one()` whenever the
    /// flags may have changed (a file written, a row updated, a pub/sub message); the caller
    /// then loads again. An implementation notifies once as soon as it is following, so a
    /// change made between the first load and that moment is not missed. Returns only on a
    /// failure it cannot recover from. The default never notifies (a fixed source).
    async fn watch(&self, changed: Arc<Notify>) -> Result<(), Error> {
        let _ = changed;
        std::future::pending::<()>().await;
        Ok(())
    }
}

/// A fixed set is a source that never changes.
#[async_trait]
impl FlagSource for FlagSet {
    async fn load(&self) -> Result<FlagSet, Error> {
        Ok(self.clone())
    }
}

/// A store whose flags can be changed (memory, SQL, Redis): the raw operations behind
/// [`FlagsAdmin`], which validates and audits. Each write reaches every instance watching the
/// store.
#[async_trait]
pub trait FlagStore: FlagSource {
    /// One flag.
    async fn get(&self, key: &str) -> Result<Option<FlagDefinition>, Error>;
    /// Writes a flag; answers the definition it replaced.
    async fn put(&self, key: &str, flag: &FlagDefinition) -> Result<Option<FlagDefinition>, Error>;
    /// Removes a flag; answers the definition removed.
    async fn delete(&self, key: &str) -> Result<Option<FlagDefinition>, Error>;
}

/// Changes flags in a [`FlagStore`] after validating them, and reports each change to an
/// [`AuditRecorder`] (`flags.flag.created`, `flags.flag.updated`, `flags.flag.deleted`, with
/// the flag as target `flag:<key>` and its state, default variant and whole definition as
/// metadata).
///
/// `create` and `set_state` read, then write: two admins changing the same flag at the same
/// moment are not serialized (the last write wins, each audited).
///
/// ```
/// use mortar_core::Principal;
/// use mortar_flags::{FlagDefinition, FlagsAdmin, FlagState, MemoryFlagStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryFlagStore::new();
/// let admin = FlagsAdmin::new(store.clone());
/// let ops = Principal::user("ops").build();
/// admin.upsert(&ops, "beta", FlagDefinition::boolean(false)).await.unwrap();
/// admin.set_state(&ops, "beta", FlagState::Disabled).await.unwrap();
/// assert_eq!(admin.get("beta").await.unwrap().unwrap().state, FlagState::Disabled);
/// # }
/// ```
#[derive(Clone)]
pub struct FlagsAdmin<S> {
    store: S,
    audit: Arc<dyn AuditRecorder>,
    engines: Engines,
}

impl<S: fmt::Debug> fmt::Debug for FlagsAdmin<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlagsAdmin")
            .field("store", &self.store)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

impl<S: FlagStore> FlagsAdmin<S> {
    /// Admin functions over `store` (audit events discarded until [`FlagsAdmin::audit`]).
    pub fn new(store: S) -> Self {
        Self {
            store,
            audit: Arc::new(NoopRecorder),
            engines: Engines::new(Bucketing::Flagd),
        }
    }

    /// Reports changes to `recorder`.
    #[must_use]
    pub fn audit(mut self, recorder: impl AuditRecorder) -> Self {
        self.audit = Arc::new(recorder);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Every flag, by key.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn list(&self) -> Result<BTreeMap<String, FlagDefinition>, Error> {
        Ok(self.store.load().await?.flags)
    }

    /// One flag.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn get(&self, key: &str) -> Result<Option<FlagDefinition>, Error> {
        self.store.get(key).await
    }

    /// Checks a definition as a write would: the format's rules and a targeting rule that
    /// compiles. Stored flags have no `$evaluators`, so a `$ref` is refused.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`].
    pub fn check(&self, key: &str, flag: &FlagDefinition) -> Result<(), Error> {
        flag.validate(key)?;
        let compiled = compile_flag(key, flag, &FlagSet::new(), &self.engines, false);
        match compiled.broken {
            Some(reason) => Err(Error::Invalid {
                flag: key.to_owned(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// Creates or replaces a flag (audited as created or updated).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] (nothing written), [`Error::Store`].
    pub async fn upsert(
        &self,
        actor: &Principal,
        key: &str,
        flag: FlagDefinition,
    ) -> Result<(), Error> {
        self.check(key, &flag)?;
        let previous = self.store.put(key, &flag).await?;
        let action = if previous.is_some() {
            "flags.flag.updated"
        } else {
            "flags.flag.created"
        };
        self.report(action, actor, key, Some(&flag));
        Ok(())
    }

    /// Creates a flag that does not exist yet.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when it exists already or is invalid, [`Error::Store`].
    pub async fn create(
        &self,
        actor: &Principal,
        key: &str,
        flag: FlagDefinition,
    ) -> Result<(), Error> {
        self.check(key, &flag)?;
        if self.store.get(key).await?.is_some() {
            return Err(Error::Invalid {
                flag: key.to_owned(),
                reason: "a flag with this key exists already".into(),
            });
        }
        self.upsert(actor, key, flag).await
    }

    /// Enables or disables a flag (audited as updated); `false` when there is no such flag.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn set_state(
        &self,
        actor: &Principal,
        key: &str,
        state: FlagState,
    ) -> Result<bool, Error> {
        let Some(mut flag) = self.store.get(key).await? else {
            return Ok(false);
        };
        flag.state = state;
        self.store.put(key, &flag).await?;
        self.report("flags.flag.updated", actor, key, Some(&flag));
        Ok(true)
    }

    /// Deletes a flag (audited); `false` when there was none.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn delete(&self, actor: &Principal, key: &str) -> Result<bool, Error> {
        let removed = self.store.delete(key).await?;
        if let Some(flag) = &removed {
            self.report("flags.flag.deleted", actor, key, Some(flag));
        }
        Ok(removed.is_some())
    }

    fn report(
        &self,
        action: &'static str,
        actor: &Principal,
        key: &str,
        flag: Option<&FlagDefinition>,
    ) {
        let mut event = AuditEvent::new(action, Outcome::Success)
            .actor(actor)
            .target("flag", key);
        if let Some(tenant) = actor.tenant() {
            event = event.tenant(tenant);
        }
        if let Some(flag) = flag {
            event = event
                .meta(
                    "state",
                    match flag.state {
                        FlagState::Enabled => "ENABLED",
                        FlagState::Disabled => "DISABLED",
                    },
                )
                .meta(
                    "default_variant",
                    flag.default_variant
                        .clone()
                        .map_or(serde_json::Value::Null, serde_json::Value::String),
                )
                .meta("targeted", flag.targeting.is_some())
                .meta(
                    "definition",
                    serde_json::to_value(flag).unwrap_or(serde_json::Value::Null),
                );
        }
        self.audit.record(event);
    }
}

/// Flags in memory: a [`FlagStore`] for tests and single-instance apps. Clones share the flags,
/// and every [`FeatureFlags`](crate::FeatureFlags) built on it sees a change at once.
#[derive(Clone, Debug, Default)]
pub struct MemoryFlagStore {
    set: Arc<Mutex<FlagSet>>,
    /// Every watching evaluator's notifier; dead ones (their evaluator dropped) are pruned.
    watchers: Arc<Mutex<Vec<std::sync::Weak<Notify>>>>,
}

impl MemoryFlagStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `set`.
    pub fn with_set(set: FlagSet) -> Self {
        let store = Self::default();
        *store.lock() = set;
        store
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FlagSet> {
        self.set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn notify(&self) {
        self.watchers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|w| match w.upgrade() {
                Some(notify) => {
                    notify.notify_one();
                    true
                }
                None => false,
            });
    }
}

#[async_trait]
impl FlagSource for MemoryFlagStore {
    async fn load(&self) -> Result<FlagSet, Error> {
        Ok(self.lock().clone())
    }

    async fn watch(&self, changed: Arc<Notify>) -> Result<(), Error> {
        self.watchers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Arc::downgrade(&changed));
        changed.notify_one();
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[async_trait]
impl FlagStore for MemoryFlagStore {
    async fn get(&self, key: &str) -> Result<Option<FlagDefinition>, Error> {
        Ok(self.lock().flags.get(key).cloned())
    }

    async fn put(&self, key: &str, flag: &FlagDefinition) -> Result<Option<FlagDefinition>, Error> {
        let previous = self.lock().flags.insert(key.to_owned(), flag.clone());
        self.notify();
        Ok(previous)
    }

    async fn delete(&self, key: &str) -> Result<Option<FlagDefinition>, Error> {
        let removed = self.lock().flags.remove(key);
        if removed.is_some() {
            self.notify();
        }
        Ok(removed)
    }
}

/// A flag file (flagd JSON, or YAML with feature `yaml` when the name ends in `.yaml` /
/// `.yml`), reloaded when it changes.
///
/// Changes are found by polling (every second by default) the file's size and modification
/// time — one `stat` per interval — rather than by inotify: polling sees a file replaced by
/// rename (editors, Kubernetes ConfigMap symlink swaps) and works on every filesystem. A file
/// that disappears, grows past the size limit (4 MiB by default) or stops parsing keeps the last
/// good flags in force (and is logged).
#[derive(Clone, Debug)]
pub struct FileSource {
    path: PathBuf,
    interval: Duration,
    max_bytes: u64,
}

impl FileSource {
    /// A source reading `path`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_owned(),
            interval: Duration::from_secs(1),
            max_bytes: 4 << 20,
        }
    }

    /// How often to look for changes (default 1 s, at least 10 ms).
    #[must_use]
    pub fn poll_every(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// The largest file read (default 4 MiB).
    #[must_use]
    pub fn max_bytes(mut self, max: u64) -> Self {
        self.max_bytes = max;
        self
    }

    fn file_err(&self, message: impl fmt::Display) -> Error {
        Error::File {
            path: self.path.display().to_string(),
            message: message.to_string(),
        }
    }

    async fn read(&self) -> Result<String, Error> {
        let meta = tokio::fs::metadata(&self.path)
            .await
            .map_err(|e| self.file_err(e))?;
        if !meta.is_file() || meta.len() > self.max_bytes {
            return Err(self.file_err(format_args!(
                "not a regular file of at most {} bytes",
                self.max_bytes
            )));
        }
        tokio::fs::read_to_string(&self.path)
            .await
            .map_err(|e| self.file_err(e))
    }

    fn parse(&self, text: &str) -> Result<FlagSet, Error> {
        let yaml = self
            .path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        if yaml {
            #[cfg(feature = "yaml")]
            return FlagSet::from_yaml(text);
            #[cfg(not(feature = "yaml"))]
            return Err(Error::Parse(
                "YAML flag files need mortar-flags' `yaml` feature".into(),
            ));
        }
        FlagSet::from_json(text)
    }

    /// Size and modification time (`None` when the file cannot be read).
    async fn stamp(&self) -> Option<(u64, Option<SystemTime>)> {
        let meta = tokio::fs::metadata(&self.path).await.ok()?;
        Some((meta.len(), meta.modified().ok()))
    }
}

#[async_trait]
impl FlagSource for FileSource {
    async fn load(&self) -> Result<FlagSet, Error> {
        let text = self.read().await?;
        self.parse(&text)
    }

    async fn watch(&self, changed: Arc<Notify>) -> Result<(), Error> {
        let mut last = self.stamp().await;
        changed.notify_one();
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let now = self.stamp().await;
            // A vanished file keeps the flags in force; its return is a change.
            if now.is_some() && now != last {
                changed.notify_one();
            }
            if now.is_some() {
                last = now;
            }
        }
    }
}
