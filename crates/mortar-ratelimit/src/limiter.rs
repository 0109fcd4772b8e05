//! [`RateLimiter`]: policies on a backend, with declared failure modes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::HeaderValue;
use http::request::Parts;
use smallvec::SmallVec;

use crate::headers::policy_value;
use crate::memory::MemoryLimiter;
#[cfg(feature = "redis")]
use crate::policy::FailureMode;
use crate::policy::{ClientIp, Head, Key, Policy};
use crate::quota::{Check, Decision, Quota};

/// Where the limits live.
#[derive(Clone, Debug)]
enum Backend {
    Memory(Arc<MemoryLimiter>),
    #[cfg(feature = "redis")]
    Redis(crate::redis::RedisLimiter),
}

/// One policy's decision for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDecision {
    /// The policy's name.
    pub policy: Arc<str>,
    /// The quota applied (the tier's, when tiers chose one).
    pub quota: Quota,
    /// The decision.
    pub decision: Decision,
}

/// The verdict on a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every applicable policy allows it (and it was counted by each).
    Allowed,
    /// A policy refuses it; retry after this long (nothing was counted).
    Limited {
        /// The longest wait among the refusing policies.
        retry_after: Duration,
    },
    /// The shared backend is down and a fail-closed policy applies.
    Unavailable,
}

/// Every applicable policy's decision and the verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The verdict.
    pub verdict: Verdict,
    /// The decisions, in policy order (empty when the backend was unavailable).
    pub decisions: Vec<PolicyDecision>,
}

impl Outcome {
    /// Whether the request may go on.
    pub fn is_allowed(&self) -> bool {
        self.verdict == Verdict::Allowed
    }
}

/// One applicable policy's decision, borrowed: the tower layer's hot path builds an owned
/// [`Outcome`] only to refuse.
pub(crate) struct Decided<'p> {
    pub(crate) policy: &'p Policy,
    pub(crate) quota: Quota,
    pub(crate) decision: Decision,
}

/// A request's decisions, on the stack (requests meet a handful of policies).
pub(crate) type Decisions<'p> = SmallVec<[Decided<'p>; 2]>;

/// The applicable policies with their keys and quotas.
type Resolved<'p> = SmallVec<[(&'p Policy, Key, Quota); 2]>;

/// One limit checked and taken in process (checking is taking when a request meets one).
fn take<'p>(memory: &MemoryLimiter, policy: &'p Policy, key: &Key, quota: Quota) -> Decided<'p> {
    Decided {
        policy,
        quota,
        decision: memory.check_bytes(key.as_bytes(), &quota, policy.cost),
    }
}

/// The verdict on these decisions: limited (for the longest wait among the refusing policies)
/// when any refuses.
pub(crate) fn verdict(decided: &[Decided<'_>]) -> Verdict {
    decided
        .iter()
        .filter(|d| !d.decision.allowed())
        .map(|d| d.decision.retry_after().unwrap_or(Duration::MAX))
        .max()
        .map_or(Verdict::Allowed, |retry_after| Verdict::Limited {
            retry_after,
        })
}

/// The owned outcome of these decisions.
pub(crate) fn outcome(decided: &[Decided<'_>]) -> Outcome {
    Outcome {
        verdict: verdict(decided),
        decisions: decided
            .iter()
            .map(|d| PolicyDecision {
                policy: d.policy.name.clone(),
                quota: d.quota,
                decision: d.decision,
            })
            .collect(),
    }
}

/// How often the backend failed, by what the policies then did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    /// Requests decided by the in-process fallback (fail open).
    pub opened: u64,
    /// Requests refused (fail closed).
    pub closed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    opened: AtomicU64,
    closed: AtomicU64,
}

/// Policies checked together on a backend: in process ([`RateLimiter::memory`]) or shared in
/// Redis ([`RateLimiter::redis`], feature `redis`); cheap to clone.
///
/// Every applicable policy is checked before any is counted: a request refused by its daily
/// quota does not spend its burst allowance. With Redis, all of a request's policies are one
/// atomic round trip.
///
/// ```
/// use std::num::NonZeroU32;
/// use mortar_ratelimit::{KeyBy, PeerAddr, Policy, Quota, RateLimiter};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let n = |v| NonZeroU32::new(v).unwrap();
/// let limiter = RateLimiter::memory()
///     .policy(Policy::new("burst", Quota::per_second(n(2)), KeyBy::Ip).unwrap())
///     .policy(Policy::new("daily", Quota::per_day(n(1000)), KeyBy::Ip).unwrap());
/// let (mut parts, ()) = http::Request::new(()).into_parts();
/// parts.extensions.insert(PeerAddr("203.0.113.7".parse().unwrap()));
/// assert!(limiter.check(&parts).await.is_allowed());
/// assert!(limiter.check(&parts).await.is_allowed());
/// let third = limiter.check(&parts).await;
/// assert!(!third.is_allowed());
/// assert_eq!(limiter.peek(&parts).await.decisions[1].decision.remaining(), 998, "not counted");
/// # }
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    backend: Backend,
    fallback: Arc<MemoryLimiter>,
    policies: Arc<[Policy]>,
    /// `RateLimit-Policy` for every policy at its default quota, written once.
    all_header: Option<HeaderValue>,
    needs_parts: bool,
    client_ip: ClientIp,
    counters: Arc<Counters>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("backend", &self.backend)
            .field("policies", &self.policies)
            .field("client_ip", &self.client_ip)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    fn with_backend(backend: Backend) -> Self {
        Self {
            backend,
            fallback: Arc::new(MemoryLimiter::new()),
            policies: Arc::from(Vec::new()),
            all_header: None,
            needs_parts: false,
            client_ip: ClientIp::new(),
            counters: Arc::default(),
        }
    }

    /// Policies in this process.
    pub fn memory() -> Self {
        Self::with_backend(Backend::Memory(Arc::new(MemoryLimiter::new())))
    }

    /// Policies in this in-process limiter (to share it, or to give it a clock).
    pub fn in_memory(limiter: Arc<MemoryLimiter>) -> Self {
        Self::with_backend(Backend::Memory(limiter))
    }

    /// Policies in Redis, shared by every instance (feature `redis`).
    #[cfg(feature = "redis")]
    pub fn redis(limiter: crate::redis::RedisLimiter) -> Self {
        Self::with_backend(Backend::Redis(limiter))
    }

    /// Sets the in-process limiter that decides for fail-open policies while Redis is down.
    #[must_use]
    pub fn fallback(mut self, fallback: Arc<MemoryLimiter>) -> Self {
        self.fallback = fallback;
        self
    }

    /// Adds a policy.
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        let mut policies = self.policies.to_vec();
        policies.push(policy);
        self.all_header = policy_value(policies.iter().map(|p| (&p.quota, p.name())));
        self.needs_parts = policies.iter().any(|p| p.key.is_custom());
        self.policies = Arc::from(policies);
        self
    }

    /// Sets how client addresses are found (trusted proxies).
    #[must_use]
    pub fn client_ip(mut self, client_ip: ClientIp) -> Self {
        self.client_ip = client_ip;
        self
    }

    /// The policies.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// How often the backend failed so far.
    pub fn failures(&self) -> Failures {
        Failures {
            opened: self.counters.opened.load(Ordering::Relaxed),
            closed: self.counters.closed.load(Ordering::Relaxed),
        }
    }

    /// Checks and counts a request against every applicable policy.
    pub async fn check(&self, parts: &Parts) -> Outcome {
        self.run(parts, true).await
    }

    /// What [`Self::check`] would answer, without counting anything (dashboards, pre-flight).
    pub async fn peek(&self, parts: &Parts) -> Outcome {
        self.run(parts, false).await
    }

    /// The request's applicable policies with their keys and quotas.
    fn resolve<H: Head>(&self, head: &H) -> Resolved<'_> {
        // Requests meet a handful of policies: these stay on the stack.
        self.policies
            .iter()
            .filter_map(|p| p.resolve(head, &self.client_ip).map(|(k, q)| (p, k, q)))
            .collect()
    }

    /// Decides in the calling thread when the backend is in process (no future, no await);
    /// `None` for a shared backend, which [`Self::check`] must await.
    pub fn check_local(&self, parts: &Parts) -> Option<Outcome> {
        self.decide_local(parts).map(|decided| outcome(&decided))
    }

    /// Whether a policy's key is chosen by a closure, which needs the request's [`Parts`].
    pub(crate) fn needs_parts(&self) -> bool {
        self.needs_parts
    }

    /// [`Self::check_local`] without the owned [`Outcome`]: the tower layer's hot path (which
    /// passes the request itself unless [`Self::needs_parts`]).
    pub(crate) fn decide_local<H: Head>(&self, head: &H) -> Option<Decisions<'_>> {
        // Without the `redis` feature the pattern is irrefutable.
        #[cfg_attr(not(feature = "redis"), allow(irrefutable_let_patterns))]
        let Backend::Memory(memory) = &self.backend else {
            return None;
        };
        Some(Self::decide_in_process(memory, &self.resolve(head), true))
    }

    /// The in-process backend and the policy, when there is exactly one (the usual layer,
    /// decided by [`Self::decide_one`] with nothing collected).
    pub(crate) fn single(&self) -> Option<(&MemoryLimiter, &Policy)> {
        // Without the `redis` feature the pattern is irrefutable.
        #[cfg_attr(not(feature = "redis"), allow(irrefutable_let_patterns))]
        let (Backend::Memory(memory), [policy]) = (&self.backend, &*self.policies) else {
            return None;
        };
        Some((memory, policy))
    }

    /// One policy's decision in process; `None` when the request has no key under it.
    pub(crate) fn decide_one<'p, H: Head>(
        &self,
        memory: &MemoryLimiter,
        policy: &'p Policy,
        head: &H,
    ) -> Option<Decided<'p>> {
        let (key, quota) = policy.resolve(head, &self.client_ip)?;
        Some(take(memory, policy, &key, quota))
    }

    /// The `RateLimit-Policy` value of these decisions: written once per policy (and once for
    /// all of them together) when the default quotas applied, as they usually do.
    pub(crate) fn policy_header(&self, decided: &[Decided<'_>]) -> Option<HeaderValue> {
        if decided.iter().all(|d| d.quota == d.policy.quota) {
            if let [only] = decided {
                return only.policy.header.clone();
            }
            if decided.len() == self.policies.len() {
                return self.all_header.clone();
            }
        }
        policy_value(decided.iter().map(|d| (&d.quota, d.policy.name())))
    }

    fn checks<'k>(resolved: &'k [(&Policy, Key, Quota)]) -> SmallVec<[Check<'k>; 4]> {
        resolved
            .iter()
            .map(|(p, key, quota)| Check {
                key: key.as_str(),
                quota: *quota,
                cost: p.cost,
            })
            .collect()
    }

    /// Pairs the resolved policies with their decisions.
    fn decided<'p>(
        resolved: &[(&'p Policy, Key, Quota)],
        decisions: impl IntoIterator<Item = Decision>,
    ) -> Decisions<'p> {
        resolved
            .iter()
            .zip(decisions)
            .map(|((policy, _, quota), decision)| Decided {
                policy,
                quota: *quota,
                decision,
            })
            .collect()
    }

    /// Decides the resolved policies on an in-process limiter (the backend, or the fallback).
    fn decide_in_process<'p>(
        memory: &MemoryLimiter,
        resolved: &[(&'p Policy, Key, Quota)],
        consume: bool,
    ) -> Decisions<'p> {
        match resolved {
            [] => return Decisions::new(),
            // One limit (the usual case): checking is taking, and nothing is collected twice.
            [(policy, key, quota)] if consume => {
                let mut decided = Decisions::new();
                decided.push(take(memory, policy, key, *quota));
                return decided;
            }
            _ => {}
        }
        if !consume {
            let checks = Self::checks(resolved);
            return Self::decided(
                resolved,
                checks.iter().map(|c| memory.peek(c.key, &c.quota)),
            );
        }
        // Written into the decisions directly (this runs on every request).
        let mut decided = Decisions::new();
        memory.take_all(
            resolved.len(),
            |i| {
                let (policy, key, quota) = &resolved[i];
                (key.as_bytes(), quota, policy.cost)
            },
            |i, decision| {
                decided.push(Decided {
                    policy: resolved[i].0,
                    quota: resolved[i].2,
                    decision,
                });
            },
        );
        decided
    }

    // Without the `redis` feature nothing here awaits; the signature stays the same.
    #[cfg_attr(not(feature = "redis"), allow(clippy::unused_async))]
    async fn run(&self, parts: &Parts, consume: bool) -> Outcome {
        let resolved = self.resolve(parts);
        match &self.backend {
            Backend::Memory(memory) => {
                outcome(&Self::decide_in_process(memory, &resolved, consume))
            }
            #[cfg(feature = "redis")]
            Backend::Redis(redis) => {
                if resolved.is_empty() {
                    return outcome(&[]);
                }
                match redis.check_all(&Self::checks(&resolved), consume).await {
                    Ok(decisions) => outcome(&Self::decided(&resolved, decisions)),
                    Err(error) => {
                        let closed = resolved
                            .iter()
                            .any(|(p, _, _)| p.failure == FailureMode::Closed);
                        self.backend_failed(&error, closed);
                        if closed {
                            return Outcome {
                                verdict: Verdict::Unavailable,
                                decisions: Vec::new(),
                            };
                        }
                        outcome(&Self::decide_in_process(&self.fallback, &resolved, consume))
                    }
                }
            }
        }
    }

    /// Counts and logs a backend failure (the first, then every 1000th, so an outage does not
    /// flood the logs).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn backend_failed(&self, error: &crate::Error, closed: bool) {
        let counter = if closed {
            &self.counters.closed
        } else {
            &self.counters.opened
        };
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 || n % 1000 == 0 {
            let mode = if closed {
                "failing closed: requests refused"
            } else {
                "failing open: in-process fallback limits"
            };
            tracing::warn!(target: "mortar::ratelimit", %error, failures = n, "rate-limit backend unavailable, {mode}");
        }
    }
}
