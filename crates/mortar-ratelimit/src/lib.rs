//! Rate limiting for Rust web services: GCRA in the process and across instances (Redis),
//! policies keyed by client address, principal, API key, tenant or your own function, tiers,
//! several limits per request checked before any is counted, declared failure modes, a tower
//! layer answering RFC 9457 problems with `Retry-After` and the IETF `RateLimit` headers, and a
//! Redis brute-force guard for mortar-core's `AttemptLimiter`.
//!
//! | type | what |
//! | --- | --- |
//! | [`Quota`] | `limit` per `period`, with a burst |
//! | [`Bucket`] | one limit, no key |
//! | [`MemoryLimiter`] | keyed GCRA in the process (lock-free per key, idle keys evicted) |
//! | `RedisLimiter` | keyed GCRA in Redis, one `EVALSHA` per request (feature `redis`) |
//! | [`Policy`], [`KeyBy`], [`ClientIp`] | what to limit, by what, failing open or closed |
//! | [`RateLimiter`] | policies on a backend: `check`, `peek` |
//! | [`RateLimitLayer`] | the tower middleware |
//! | [`ConcurrencyLimitLayer`] | at most N requests in flight per key (expensive routes) |
//! | `actix::Limit` | the same policies as actix-web middleware (feature `actix`) |
//! | `RedisAttemptLimiter` | login / OTP / reset brute-force guard across instances (feature `redis`) |
//!
//! ```
//! use std::num::NonZeroU32;
//! use mortar_ratelimit::{KeyBy, Policy, Quota, RateLimitLayer, RateLimiter};
//!
//! let n = |v| NonZeroU32::new(v).unwrap();
//! let layer = RateLimitLayer::new(
//!     RateLimiter::memory()
//!         .policy(Policy::new("per-ip", Quota::per_minute(n(300)), KeyBy::Ip).unwrap())
//!         .policy(Policy::new("per-user", Quota::per_minute(n(100)), KeyBy::Subject).unwrap()),
//! );
//! // app.layer(layer) — inside the AuthLayer, so per-user policies see the principal.
//! # let _ = layer;
//! ```

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "redis")]
mod attempts;
mod concurrency;
mod error;
mod headers;
mod layer;
mod limiter;
mod memory;
mod policy;
mod quota;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use attempts::RedisAttemptLimiter;
pub use concurrency::{ConcurrencyLimit, ConcurrencyLimitLayer};
pub use error::Error;
pub use headers::{limit_header, policy_header};
pub use layer::{
    ProblemFn, RateLimit, RateLimitLayer, ResponseFuture, default_problem, insert_headers,
};
pub use limiter::{Failures, Outcome, PolicyDecision, RateLimiter, Verdict};
pub use memory::{Bucket, MemoryLimiter};
pub use policy::{ClientIp, FailureMode, KeyBy, KeyFn, PeerAddr, Policy, TierFn};
pub use quota::{Check, Decision, Quota};
#[cfg(feature = "redis")]
pub use redis::RedisLimiter;
