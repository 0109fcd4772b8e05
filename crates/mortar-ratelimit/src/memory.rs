//! [`MemoryLimiter`]: keyed GCRA in the process, lock-free per key.
//!
//! Written here rather than wrapped around governor's keyed limiter (whose algorithm it follows,
//! and which `tests/memory.rs` checks it against decision by decision): a request's several
//! policies must be tried on one instant before any is taken, which governor offers only within
//! one limiter; the layer needs each decision's remaining allowance and reset time for the
//! `RateLimit` header; tests need mortar-core's injected clock; and, measured in
//! docs/benchmarks.md, a foldhash-keyed map of bare TATs is 0.64× governor's keyed check at
//! 10 000 keys and 84 against 101 bytes per key.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use dashmap::DashMap;
use mortar_core::SharedClock;
use smallvec::SmallVec;

use crate::quota::{Check, Decision, Gcra, Quota};

/// Where the in-process limiters read the time: a TSC-backed monotonic clock (quanta, the clock
/// governor uses) by default, or an injected [`mortar_core::Clock`] (a `ManualClock` in tests).
#[derive(Clone)]
pub(crate) enum Time {
    Monotonic { clock: quanta::Clock, start: u64 },
    Injected(SharedClock),
}

impl Time {
    pub(crate) fn monotonic() -> Self {
        let clock = quanta::Clock::new();
        let start = clock.raw();
        Self::Monotonic { clock, start }
    }

    /// Nanoseconds on this time line, never 0 (0 marks a key without state).
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self {
            Self::Monotonic { clock, start } => clock.delta_as_nanos(*start, clock.raw()) + 1,
            Self::Injected(clock) => injected_now(clock),
        }
    }
}

/// An injected clock's reading (tests, simulations): kept out of line so the monotonic path
/// stays as short as governor's.
#[cold]
#[inline(never)]
fn injected_now(clock: &SharedClock) -> u64 {
    clock.now().duration_since(UNIX_EPOCH).map_or(1, |d| {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
    })
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Monotonic { .. } => f.write_str("Monotonic"),
            Self::Injected(_) => f.write_str("Injected"),
        }
    }
}

/// Applies a decision to a key's TAT with compare-and-swap: concurrent requests on one key never
/// lose an update and never block each other.
#[inline]
fn apply(cell: &AtomicU64, gcra: &Gcra, now: u64, cost: u32) -> Decision {
    let mut current = cell.load(Ordering::Acquire);
    loop {
        let (decision, next) = gcra.decide(current, now, cost);
        let Some(next) = next else {
            return decision;
        };
        match cell.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return decision,
            Err(actual) => current = actual,
        }
    }
}

/// One GCRA state, no key: a single global limit (for example, calls to a fragile upstream).
///
/// ```
/// use std::num::NonZeroU32;
/// use mortar_ratelimit::{Bucket, Quota};
///
/// let bucket = Bucket::new(Quota::per_second(NonZeroU32::new(2).unwrap()));
/// assert!(bucket.check().allowed());
/// assert!(bucket.check().allowed());
/// assert!(!bucket.check().allowed());
/// ```
#[derive(Debug)]
pub struct Bucket {
    tat: AtomicU64,
    gcra: Gcra,
    time: Time,
}

impl Bucket {
    /// A full bucket for `quota`.
    pub fn new(quota: Quota) -> Self {
        Self {
            tat: AtomicU64::new(0),
            gcra: quota.gcra(),
            time: Time::monotonic(),
        }
    }

    /// Reads the time from `clock` instead (a `ManualClock` in tests).
    #[must_use]
    pub fn clock(mut self, clock: impl mortar_core::Clock) -> Self {
        self.time = Time::Injected(Arc::new(clock));
        self
    }

    /// Takes one request.
    #[inline]
    pub fn check(&self) -> Decision {
        apply(&self.tat, &self.gcra, self.time.now(), 1)
    }

    /// What a request would get now, without taking it.
    pub fn peek(&self) -> Decision {
        self.gcra
            .peek(self.tat.load(Ordering::Acquire), self.time.now())
    }
}

/// A fast hasher for keys: the map is keyed by client addresses and ids, and foldhash's
/// per-map random seed keeps it resistant to chosen-key flooding.
type Hasher = foldhash::fast::RandomState;

/// Keyed GCRA in the process: one 8-byte state per key in a sharded concurrent map, updated by
/// compare-and-swap; idle keys (whose state equals a fresh one) are evicted as the map grows.
///
/// The quota is given per call, so one limiter serves any number of policies (keys are
/// namespaced by the caller).
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use mortar_core::ManualClock;
/// use mortar_ratelimit::{MemoryLimiter, Quota};
///
/// let clock = ManualClock::default();
/// let limiter = MemoryLimiter::new().clock(clock.clone());
/// let quota = Quota::per_second(NonZeroU32::new(1).unwrap());
/// assert!(limiter.check("203.0.113.7", &quota, 1).allowed());
/// let refused = limiter.check("203.0.113.7", &quota, 1);
/// assert_eq!(refused.retry_after(), Some(Duration::from_secs(1)));
/// assert!(limiter.check("198.51.100.1", &quota, 1).allowed(), "another key");
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(limiter.peek("203.0.113.7", &quota).remaining(), 1);
/// ```
pub struct MemoryLimiter {
    states: DashMap<Box<[u8]>, AtomicU64, Hasher>,
    time: Time,
    inserted: AtomicU64,
    sweep_every: u64,
}

impl fmt::Debug for MemoryLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryLimiter")
            .field("keys", &self.states.len())
            .field("time", &self.time)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryLimiter {
    /// An empty limiter on the monotonic clock.
    pub fn new() -> Self {
        Self {
            states: DashMap::with_hasher(Hasher::default()),
            time: Time::monotonic(),
            inserted: AtomicU64::new(0),
            sweep_every: 1 << 16,
        }
    }

    /// Reads the time from `clock` instead (a `ManualClock` in tests).
    #[must_use]
    pub fn clock(mut self, clock: impl mortar_core::Clock) -> Self {
        self.time = Time::Injected(Arc::new(clock));
        self
    }

    /// Sweeps idle keys after every `n` new keys (default 65 536), so memory stays bounded by
    /// the keys active within their quotas' reset times.
    #[must_use]
    pub fn sweep_every(mut self, n: u64) -> Self {
        self.sweep_every = n.max(1);
        self
    }

    /// Takes `cost` requests from `key` under `quota`.
    #[inline]
    pub fn check(&self, key: &str, quota: &Quota, cost: u32) -> Decision {
        self.check_bytes(key.as_bytes(), quota, cost)
    }

    /// [`Self::check`] of a key as bytes (the layer writes keys into a stack buffer; reading
    /// them back as `str` would re-validate them on every request).
    #[inline]
    pub(crate) fn check_bytes(&self, key: &[u8], quota: &Quota, cost: u32) -> Decision {
        self.check_at(key, quota, cost, self.time.now())
    }

    /// What taking `cost` from `key` would answer at `now`, without taking it.
    #[inline]
    fn trial(&self, key: &[u8], quota: &Quota, cost: u32, now: u64) -> Decision {
        quota.gcra().decide(self.stored(key), now, cost).0
    }

    #[inline]
    fn check_at(&self, key: &[u8], quota: &Quota, cost: u32, now: u64) -> Decision {
        let gcra = quota.gcra();
        if let Some(cell) = self.states.get(key) {
            return apply(&cell, &gcra, now, cost);
        }
        let decision = {
            let cell = self.states.entry(Box::from(key)).or_default();
            apply(&cell, &gcra, now, cost)
        };
        if self.inserted.fetch_add(1, Ordering::Relaxed) % self.sweep_every == self.sweep_every - 1
        {
            self.evict_idle();
        }
        decision
    }

    /// What a request on `key` would get now, without taking it.
    pub fn peek(&self, key: &str, quota: &Quota) -> Decision {
        quota
            .gcra()
            .peek(self.stored(key.as_bytes()), self.time.now())
    }

    /// The key's TAT, 0 when it has none.
    fn stored(&self, key: &[u8]) -> u64 {
        self.states
            .get(key)
            .map_or(0, |cell| cell.load(Ordering::Acquire))
    }

    /// Several limits on one request (a burst limit and a daily quota, say): every one is
    /// checked before any is taken; the request is taken from all only when all allow it.
    pub fn check_all(&self, checks: &[Check<'_>]) -> Vec<Decision> {
        self.check_many(checks).into_vec()
    }

    pub(crate) fn check_many(&self, checks: &[Check<'_>]) -> SmallVec<[Decision; 4]> {
        if let [only] = checks {
            // One limit: checking is taking.
            return smallvec::smallvec![self.check(only.key, &only.quota, only.cost)];
        }
        let mut decisions = SmallVec::new();
        self.take_all(
            checks.len(),
            |i| (checks[i].key.as_bytes(), &checks[i].quota, checks[i].cost),
            |_, decision| decisions.push(decision),
        );
        decisions
    }

    /// `len` limits (`limit(i)`: key, quota, cost) taken in order on one instant, and only
    /// when all allow: one that refuses gives back what the ones before it took, and the ones
    /// after it are tried without taking. `decided(i, …)` gets each limit's decision once, in
    /// order (a refusing request's answer tells every policy's state, as if none was taken).
    /// The one place this rule lives (`check_all` and the layer's several policies both come
    /// here); each key is looked up once when all allow, as they usually do.
    pub(crate) fn take_all<'k>(
        &self,
        len: usize,
        limit: impl Fn(usize) -> (&'k [u8], &'k Quota, u32),
        mut decided: impl FnMut(usize, Decision),
    ) {
        let now = self.time.now();
        for i in 0..len {
            let (key, quota, cost) = limit(i);
            let decision = self.check_at(key, quota, cost, now);
            let allowed = decision.allowed();
            decided(i, decision);
            if !allowed {
                for j in 0..i {
                    let (key, quota, cost) = limit(j);
                    self.give_back(key, quota, cost);
                }
                for j in i + 1..len {
                    let (key, quota, cost) = limit(j);
                    decided(j, self.trial(key, quota, cost, now));
                }
                return;
            }
        }
    }

    /// Gives back what an allowed take of `cost` from `key` took (a later limit refused the
    /// request). A concurrent request on the key in between saw it taken: at worst it was
    /// refused a moment early, never let through over the limit.
    fn give_back(&self, key: &[u8], quota: &Quota, cost: u32) {
        let step = quota.gcra().step(cost);
        if let Some(cell) = self.states.get(key) {
            // `fetch_update` with a closure that always answers: it cannot fail.
            let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                Some(tat.saturating_sub(step))
            });
        }
    }

    /// Removes the keys whose state is indistinguishable from a fresh one; answers how many.
    pub fn evict_idle(&self) -> usize {
        let now = self.time.now();
        let before = self.states.len();
        self.states.retain(|_, tat| *tat.get_mut() > now);
        before.saturating_sub(self.states.len())
    }

    /// How many keys hold state.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether no key holds state.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}
