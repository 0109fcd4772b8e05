//! [`FeatureFlags`]: the evaluator every edge hands out.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use serde_json::{Map, Value};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::context::EvaluationContext;
use crate::definition::FlagSet;
use crate::engine::{Bucketing, CompiledFlag, Engines, Outcome, Snapshot, compile_set};
use crate::error::Error;
use crate::experiment::{AssignmentStore, Exposure, ExposureSink};
use crate::resolution::{Ask, ErrorCode, FromVariant, Reason, Resolution};
use crate::source::FlagSource;

/// Feature flags: evaluates flags for a context against an immutable snapshot of every
/// source's flags, swapped atomically when a source changes (the hot path takes no lock and
/// does no I/O). Cheap to clone (one `Arc`).
///
/// Typed evaluations ([`FeatureFlags::bool`], [`string`](FeatureFlags::string),
/// [`int`](FeatureFlags::int), [`float`](FeatureFlags::float),
/// [`object`](FeatureFlags::object)) answer as flagd does: value, variant, [`Reason`] and
/// [`ErrorCode`]; they never fail — an unknown flag, a type mismatch or a broken rule serves
/// the caller's default with reason `ERROR`.
///
/// ```
/// use mortar_flags::{EvaluationContext, FeatureFlags, FlagDefinition, FlagSet, Reason};
/// use serde_json::json;
///
/// let flags = FeatureFlags::from_set(
///     FlagSet::new()
///         .flag("beta", FlagDefinition::boolean(false).targeting(json!({
///             "if": [{"in": ["beta-testers", {"var": "roles"}]}, "on", null]
///         })))
///         .flag("rollout", FlagDefinition::boolean(false).targeting(json!({
///             "fractional": [["on", 33], ["off", 67]]
///         }))),
/// );
/// let tester = EvaluationContext::with_targeting_key("ann").with("roles", json!(["beta-testers"]));
/// assert!(flags.is_enabled("beta", &tester));
/// let other = EvaluationContext::with_targeting_key("bob").with("roles", json!([]));
/// let r = flags.bool("beta", &other, true);
/// assert_eq!((r.value, r.reason), (false, Reason::Default));
/// assert_eq!(flags.bool("nope", &other, true).reason, Reason::Error);
/// ```
#[derive(Clone)]
pub struct FeatureFlags {
    inner: Arc<Inner>,
}

struct Inner {
    snapshot: ArcSwap<Snapshot>,
    engines: Engines,
    sources: Vec<Arc<dyn FlagSource>>,
    /// Each source's compiled flags, merged in order into the snapshot.
    layers: Mutex<Vec<Vec<Arc<CompiledFlag>>>>,
    revision: watch::Sender<u64>,
    exposures: Option<Arc<dyn ExposureSink>>,
    assignments: Option<Arc<dyn AssignmentStore>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Serializes reloads so layers and the snapshot change together.
    reload: tokio::sync::Mutex<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(tasks) = self.tasks.get_mut() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}

impl fmt::Debug for FeatureFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeatureFlags")
            .field("flags", &self.inner.snapshot.load().flags.len())
            .field("sources", &self.inner.sources)
            .field("revision", &*self.inner.revision.borrow())
            .finish_non_exhaustive()
    }
}

/// Builds a [`FeatureFlags`] over sources ([`FeatureFlags::builder`]).
pub struct FeatureFlagsBuilder {
    sources: Vec<Arc<dyn FlagSource>>,
    bucketing: Bucketing,
    exposures: Option<Arc<dyn ExposureSink>>,
    assignments: Option<Arc<dyn AssignmentStore>>,
    watch: bool,
}

impl Default for FeatureFlagsBuilder {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            bucketing: Bucketing::default(),
            exposures: None,
            assignments: None,
            watch: true,
        }
    }
}

impl fmt::Debug for FeatureFlagsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FeatureFlagsBuilder")
            .field("sources", &self.sources)
            .field("bucketing", &self.bucketing)
            .finish_non_exhaustive()
    }
}

impl FeatureFlagsBuilder {
    /// Adds a source. A flag defined by several sources is taken from the last one added
    /// (as flagd merges its sources); `$ref`s resolve within their own source.
    #[must_use]
    pub fn source(mut self, source: impl FlagSource) -> Self {
        self.sources.push(Arc::new(source));
        self
    }

    /// Adds a shared source.
    #[must_use]
    pub fn shared_source(mut self, source: Arc<dyn FlagSource>) -> Self {
        self.sources.push(source);
        self
    }

    /// The bucketing algorithm of `fractional` (default: flagd's current one).
    #[must_use]
    pub fn bucketing(mut self, bucketing: Bucketing) -> Self {
        self.bucketing = bucketing;
        self
    }

    /// Where experiment exposures go ([`FeatureFlags::assign`]).
    #[must_use]
    pub fn exposures(mut self, sink: impl ExposureSink) -> Self {
        self.exposures = Some(Arc::new(sink));
        self
    }

    /// Keeps each subject's first experiment assignment, so changing an experiment's weights
    /// never moves someone already exposed.
    #[must_use]
    pub fn assignments(mut self, store: impl AssignmentStore) -> Self {
        self.assignments = Some(Arc::new(store));
        self
    }

    /// Whether to follow the sources' changes (default: yes, on the current tokio runtime).
    #[must_use]
    pub fn watch(mut self, watch: bool) -> Self {
        self.watch = watch;
        self
    }

    /// Loads every source and, unless told not to, starts following their changes.
    ///
    /// # Errors
    ///
    /// The first source that cannot be loaded.
    pub async fn build(self) -> Result<FeatureFlags, Error> {
        let engines = Engines::new(self.bucketing);
        let mut layers = Vec::with_capacity(self.sources.len());
        for source in &self.sources {
            layers.push(compile_set(&source.load().await?, &engines));
        }
        let watch = self.watch;
        let flags = self.assemble(engines, layers);
        if watch {
            flags.start_watching();
        }
        Ok(flags)
    }
}

impl FeatureFlagsBuilder {
    /// The evaluator over already compiled layers (one per source, in order).
    fn assemble(self, engines: Engines, layers: Vec<Vec<Arc<CompiledFlag>>>) -> FeatureFlags {
        FeatureFlags {
            inner: Arc::new(Inner {
                snapshot: ArcSwap::from_pointee(merge(&layers)),
                engines,
                sources: self.sources,
                layers: Mutex::new(layers),
                revision: watch::channel(0).0,
                exposures: self.exposures,
                assignments: self.assignments,
                tasks: Mutex::new(Vec::new()),
                reload: tokio::sync::Mutex::new(()),
            }),
        }
    }
}

fn merge(layers: &[Vec<Arc<CompiledFlag>>]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for layer in layers {
        for flag in layer {
            snapshot.flags.insert(flag.key.clone(), flag.clone());
        }
    }
    snapshot
}

impl FeatureFlags {
    /// A builder over sources.
    pub fn builder() -> FeatureFlagsBuilder {
        FeatureFlagsBuilder::default()
    }

    /// Flags from one fixed set (no source, nothing to follow).
    pub fn from_set(set: FlagSet) -> Self {
        Self::from_set_with(set, Bucketing::Flagd)
    }

    /// Flags from one fixed set with a bucketing algorithm.
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the set is given away, as to from_set"
    )]
    pub fn from_set_with(set: FlagSet, bucketing: Bucketing) -> Self {
        let engines = Engines::new(bucketing);
        let layers = vec![compile_set(&set, &engines)];
        FeatureFlagsBuilder::default().assemble(engines, layers)
    }

    fn start_watching(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("mortar-flags: no tokio runtime; sources are loaded once, not followed");
            return;
        };
        let mut tasks = Vec::new();
        for (index, source) in self.inner.sources.iter().enumerate() {
            let notify = Arc::new(Notify::new());
            let watcher = {
                let (source, notify) = (source.clone(), notify.clone());
                runtime.spawn(async move {
                    if let Err(e) = source.watch(notify).await {
                        tracing::warn!(source = ?source, error = %e, "mortar-flags: a source stopped following changes");
                    }
                })
            };
            let weak: Weak<Inner> = Arc::downgrade(&self.inner);
            let reloader = runtime.spawn(async move {
                loop {
                    notify.notified().await;
                    let Some(inner) = weak.upgrade() else { return };
                    let flags = FeatureFlags { inner };
                    if let Err(e) = flags.reload_source(index).await {
                        tracing::warn!(source = ?flags.inner.sources[index], error = %e, "mortar-flags: reloading a changed source failed; the previous flags stay in force");
                    }
                }
            });
            tasks.push(watcher);
            tasks.push(reloader);
        }
        if let Ok(mut held) = self.inner.tasks.lock() {
            held.extend(tasks);
        }
    }

    async fn reload_source(&self, index: usize) -> Result<(), Error> {
        let _serial = self.inner.reload.lock().await;
        let set = self.inner.sources[index].load().await?;
        let compiled = compile_set(&set, &self.inner.engines);
        self.swap(|layers| layers[index] = compiled);
        Ok(())
    }

    fn swap(&self, change: impl FnOnce(&mut Vec<Vec<Arc<CompiledFlag>>>)) {
        let mut layers = self
            .inner
            .layers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut layers);
        self.inner.snapshot.store(Arc::new(merge(&layers)));
        drop(layers);
        self.inner.revision.send_modify(|r| *r += 1);
        tracing::debug!("mortar-flags: flags reloaded");
    }

    /// Loads every source again now (without waiting for a change notification).
    ///
    /// # Errors
    ///
    /// The first source that cannot be loaded; the flags in force stay.
    pub async fn refresh(&self) -> Result<(), Error> {
        let _serial = self.inner.reload.lock().await;
        let mut fresh = Vec::with_capacity(self.inner.sources.len());
        for source in &self.inner.sources {
            fresh.push(compile_set(&source.load().await?, &self.inner.engines));
        }
        if self.inner.sources.is_empty() {
            return Ok(());
        }
        self.swap(|layers| *layers = fresh);
        Ok(())
    }

    /// Counts reloads: a receiver that changes each time the flags in force change.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.inner.revision.subscribe()
    }

    /// The keys of every flag in force, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .inner
            .snapshot
            .load()
            .flags
            .keys()
            .map(ToString::to_string)
            .collect();
        keys.sort();
        keys
    }

    /// The bucketing algorithm in use.
    pub fn bucketing(&self) -> Bucketing {
        self.inner.engines.bucketing()
    }

    /// `true` when the boolean flag `key` resolves to `true` for `ctx`; `false` when it resolves
    /// to `false`, is disabled, unknown, not boolean or broken.
    pub fn is_enabled(&self, key: &str, ctx: &EvaluationContext) -> bool {
        let snapshot = self.inner.snapshot.load();
        let Some(flag) = snapshot.get(key) else {
            return false;
        };
        match flag.evaluate(ctx, &self.inner.engines) {
            Outcome::Variant(index, _) => flag.variants[index].1.as_bool().unwrap_or(false),
            Outcome::CallerDefault(_) | Outcome::Error(..) => false,
        }
    }

    /// Evaluates a boolean flag.
    pub fn bool(&self, key: &str, ctx: &EvaluationContext, default: bool) -> Resolution<bool> {
        self.resolve(key, ctx, default)
    }

    /// Evaluates a string flag.
    pub fn string(&self, key: &str, ctx: &EvaluationContext, default: &str) -> Resolution<String> {
        self.resolve(key, ctx, default.to_owned())
    }

    /// Evaluates an integer flag (a number variant that is integral).
    pub fn int(&self, key: &str, ctx: &EvaluationContext, default: i64) -> Resolution<i64> {
        self.resolve(key, ctx, default)
    }

    /// Evaluates a number flag.
    pub fn float(&self, key: &str, ctx: &EvaluationContext, default: f64) -> Resolution<f64> {
        self.resolve(key, ctx, default)
    }

    /// Evaluates an object flag.
    pub fn object(
        &self,
        key: &str,
        ctx: &EvaluationContext,
        default: Map<String, Value>,
    ) -> Resolution<Map<String, Value>> {
        self.resolve(key, ctx, default)
    }

    /// Evaluates a flag of any type, its value as JSON.
    pub fn value(&self, key: &str, ctx: &EvaluationContext, default: Value) -> Resolution<Value> {
        self.resolve(key, ctx, default)
    }

    fn resolve<T: FromVariant>(
        &self,
        key: &str,
        ctx: &EvaluationContext,
        default: T,
    ) -> Resolution<T> {
        let snapshot = self.inner.snapshot.load();
        let Some(flag) = snapshot.get(key) else {
            return error(
                default,
                ErrorCode::FlagNotFound,
                format!("no flag {key:?}"),
                None,
            );
        };
        let outcome = flag.evaluate(ctx, &self.inner.engines);
        resolution(flag, outcome, default)
    }

    /// Assigns `ctx` a variant of the experiment `key` (a flag whose targeting splits traffic
    /// with `fractional`) and reports the exposure to the configured [`ExposureSink`].
    ///
    /// The assignment is sticky: the same targeting key gets the same variant while the
    /// weights stay (consistent hashing), and — with an [`AssignmentStore`] — even after they
    /// change. A split assignment has reason [`Reason::Split`]; a context no `fractional`
    /// bucketed on the way (no targeting key, an `if` that decided before reaching it) gets the
    /// rule's answer and no exposure is recorded. Nothing is recorded for disabled, unknown or
    /// broken flags either.
    pub async fn assign(&self, key: &str, ctx: &EvaluationContext) -> Resolution<Value> {
        let snapshot = self.inner.snapshot.load_full();
        let Some(flag) = snapshot.get(key) else {
            return error(
                Value::Null,
                ErrorCode::FlagNotFound,
                format!("no flag {key:?}"),
                None,
            );
        };
        let (mut outcome, bucketed) = flag.evaluate_traced(ctx, &self.inner.engines);
        let split = bucketed && matches!(outcome, Outcome::Variant(_, Reason::TargetingMatch));
        let subject = ctx.targeting_key().filter(|k| !k.is_empty());
        if split && let (Some(store), Some(subject)) = (&self.inner.assignments, subject) {
            match store.get(key, subject).await {
                Ok(Some(kept)) => {
                    if let Ok(index) = flag.variants.binary_search_by(|(v, _)| (**v).cmp(&*kept)) {
                        outcome = Outcome::Variant(index, Reason::TargetingMatch);
                    }
                }
                Ok(None) => {
                    if let Outcome::Variant(index, _) = outcome
                        && let Err(e) = store.put(key, subject, &flag.variants[index].0).await
                    {
                        tracing::warn!(flag = key, error = %e, "mortar-flags: could not keep an experiment assignment");
                    }
                }
                Err(e) => {
                    tracing::warn!(flag = key, error = %e, "mortar-flags: assignment store failed; hashing decides");
                }
            }
        }
        let mut resolved = resolution(flag, outcome, Value::Null);
        if split {
            resolved.reason = Reason::Split;
            if let (Some(sink), Some(variant)) = (&self.inner.exposures, &resolved.variant) {
                sink.record(Exposure {
                    flag: flag.key.clone(),
                    variant: variant.clone(),
                    value: resolved.value.clone(),
                    targeting_key: subject.map(str::to_owned),
                    tenant: ctx.get("tenant").and_then(Value::as_str).map(str::to_owned),
                    at: SystemTime::now(),
                });
            }
        }
        resolved
    }

    /// Every flag in force evaluated for `ctx` as JSON values (variant values; disabled flags
    /// and flags resolving to the caller's default are left out) — e.g. to bootstrap a
    /// client.
    pub fn all_values(&self, ctx: &EvaluationContext) -> BTreeMap<String, Value> {
        let snapshot = self.inner.snapshot.load();
        snapshot
            .flags
            .values()
            .filter_map(|flag| match flag.evaluate(ctx, &self.inner.engines) {
                Outcome::Variant(index, _) => {
                    Some((flag.key.to_string(), flag.variants[index].1.clone()))
                }
                _ => None,
            })
            .collect()
    }
}

fn error<T>(
    default: T,
    code: ErrorCode,
    message: String,
    metadata: Option<&Arc<Map<String, Value>>>,
) -> Resolution<T> {
    Resolution {
        value: default,
        variant: None,
        reason: Reason::Error,
        error: Some(code),
        error_message: Some(message),
        metadata: metadata.cloned().unwrap_or_default(),
    }
}

fn resolution<T: FromVariant>(flag: &CompiledFlag, outcome: Outcome, default: T) -> Resolution<T> {
    match outcome {
        Outcome::Variant(index, reason) => {
            let (name, value) = &flag.variants[index];
            match T::from_variant(value) {
                Some(value) => Resolution {
                    value,
                    variant: Some(name.clone()),
                    reason,
                    error: None,
                    error_message: None,
                    metadata: flag.metadata.clone(),
                },
                None => error(
                    default,
                    ErrorCode::TypeMismatch,
                    format!(
                        "flag {:?} is not {}",
                        &*flag.key,
                        match T::ASK {
                            Ask::Bool => "boolean",
                            Ask::String => "a string",
                            Ask::Int => "an integer",
                            Ask::Float => "a number",
                            Ask::Object => "an object",
                            Ask::Any => "a value",
                        }
                    ),
                    Some(&flag.metadata),
                ),
            }
        }
        Outcome::CallerDefault(reason) => Resolution {
            value: default,
            variant: None,
            reason,
            error: None,
            error_message: None,
            metadata: flag.metadata.clone(),
        },
        Outcome::Error(code, message) => error(default, code, message, Some(&flag.metadata)),
    }
}
