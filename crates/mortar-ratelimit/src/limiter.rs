//! [`RateLimiter`]: policies on a backend, with declared failure modes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::request::Parts;
use smallvec::SmallVec;

use crate::memory::MemoryLimiter;
#[cfg(feature = "redis")]
use crate::policy::FailureMode;
use crate::policy::{ClientIp, Policy};
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
    fn resolve<'p>(&'p self, parts: &Parts) -> SmallVec<[(&'p Policy, String, Quota); 4]> {
        // Requests meet a handful of policies: these stay on the stack.
        self.policies
            .iter()
            .filter_map(|p| p.resolve(parts, &self.client_ip).map(|(k, q)| (p, k, q)))
            .collect()
    }

    /// Decides in the calling thread when the backend is in process (no future, no await);
    /// `None` for a shared backend, which [`Self::check`] must await.
    pub fn check_local(&self, parts: &Parts) -> Option<Outcome> {
        // Without the `redis` feature the pattern is irrefutable.
        #[cfg_attr(not(feature = "redis"), allow(irrefutable_let_patterns))]
        let Backend::Memory(memory) = &self.backend else {
            return None;
        };
        Some(Self::decide_in_process(memory, &self.resolve(parts), true))
    }

    fn checks<'k>(resolved: &'k [(&Policy, String, Quota)]) -> SmallVec<[Check<'k>; 4]> {
        resolved
            .iter()
            .map(|(p, key, quota)| Check {
                key,
                quota: *quota,
                cost: p.cost,
            })
            .collect()
    }

    /// The outcome when no policy applies: allowed, nothing counted.
    fn unlimited() -> Outcome {
        Outcome {
            verdict: Verdict::Allowed,
            decisions: Vec::new(),
        }
    }

    fn outcome(
        resolved: &[(&Policy, String, Quota)],
        decisions: SmallVec<[Decision; 4]>,
    ) -> Outcome {
        let retry_after = decisions
            .iter()
            .filter(|d| !d.allowed())
            .map(|d| d.retry_after().unwrap_or(Duration::MAX))
            .max();
        Outcome {
            verdict: retry_after.map_or(Verdict::Allowed, |retry_after| Verdict::Limited {
                retry_after,
            }),
            decisions: resolved
                .iter()
                .zip(decisions)
                .map(|((p, _, quota), decision)| PolicyDecision {
                    policy: p.name.clone(),
                    quota: *quota,
                    decision,
                })
                .collect(),
        }
    }

    /// Decides the resolved policies on an in-process limiter (the backend, or the fallback).
    fn decide_in_process(
        memory: &MemoryLimiter,
        resolved: &[(&Policy, String, Quota)],
        consume: bool,
    ) -> Outcome {
        if resolved.is_empty() {
            return Self::unlimited();
        }
        let checks = Self::checks(resolved);
        let decisions = if consume {
            memory.check_many(&checks)
        } else {
            checks
                .iter()
                .map(|c| memory.peek(c.key, &c.quota))
                .collect()
        };
        Self::outcome(resolved, decisions)
    }

    // Without the `redis` feature nothing here awaits; the signature stays the same.
    #[cfg_attr(not(feature = "redis"), allow(clippy::unused_async))]
    async fn run(&self, parts: &Parts, consume: bool) -> Outcome {
        let resolved = self.resolve(parts);
        match &self.backend {
            Backend::Memory(memory) => Self::decide_in_process(memory, &resolved, consume),
            #[cfg(feature = "redis")]
            Backend::Redis(redis) => {
                if resolved.is_empty() {
                    return Self::unlimited();
                }
                match redis.check_all(&Self::checks(&resolved), consume).await {
                    Ok(decisions) => Self::outcome(&resolved, decisions.into_iter().collect()),
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
                        Self::decide_in_process(&self.fallback, &resolved, consume)
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
