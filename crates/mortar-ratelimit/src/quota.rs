//! [`Quota`] and the GCRA arithmetic every backend shares.
//!
//! The generic cell rate algorithm keeps one number per key, the *theoretical arrival time*
//! (TAT): when the bucket would be empty again if no request came. A quota of `limit` requests
//! per `period` with a burst of `burst` gives an emission interval `t = period / limit` and a
//! tolerance `tau = t × (burst − 1)`. A request of cost `n` at time `now` is allowed when
//! `now ≥ max(TAT, now) + t × (n − 1) − tau`, and then moves the TAT to `max(TAT, now) + t × n`.
//! These are governor's exact semantics (a differential test checks decision for decision);
//! the Redis script runs the same arithmetic in microseconds.

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::error::Error;

/// How many requests a key may make: `limit` per `period`, bursting up to `burst` at once.
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use mortar_ratelimit::Quota;
///
/// let api = Quota::per_minute(NonZeroU32::new(100).unwrap());
/// assert_eq!((api.limit(), api.burst(), api.period()), (100, 100, Duration::from_secs(60)));
/// // 10 per second on average, never more than 20 at once:
/// let smooth = Quota::per_second(NonZeroU32::new(10).unwrap()).with_burst(NonZeroU32::new(20).unwrap());
/// assert_eq!(smooth.burst(), 20);
/// assert!(Quota::new(0, Duration::from_secs(1)).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    period: Duration,
    /// The GCRA parameters (limit and burst among them), computed once — a 128-bit division —
    /// instead of on every check.
    gcra: Gcra,
}

impl fmt::Debug for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Quota({} per {:?}, burst {})",
            self.gcra.limit, self.period, self.gcra.burst
        )
    }
}

impl Quota {
    /// `limit` requests per `period`; the burst is `limit`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `limit` is zero or `period` shorter than `limit` nanoseconds.
    pub fn new(limit: u32, period: Duration) -> Result<Self, Error> {
        if limit == 0 || period.as_nanos() < u128::from(limit) {
            return Err(Error::Config(format!(
                "a quota needs at least one request per at least one nanosecond each, not {limit} per {period:?}"
            )));
        }
        Ok(Self::build(limit, period, limit))
    }

    fn build(limit: u32, period: Duration, burst: u32) -> Self {
        let t = u64::try_from(period.as_nanos() / u128::from(limit))
            .unwrap_or(u64::MAX)
            .max(1);
        Self {
            period,
            gcra: Gcra {
                t,
                tau: t.saturating_mul(u64::from(burst - 1)),
                burst,
                limit,
            },
        }
    }

    fn per(limit: NonZeroU32, period: Duration) -> Self {
        Self::build(limit.get(), period, limit.get())
    }

    /// `limit` per second.
    pub fn per_second(limit: NonZeroU32) -> Self {
        Self::per(limit, Duration::from_secs(1))
    }

    /// `limit` per minute.
    pub fn per_minute(limit: NonZeroU32) -> Self {
        Self::per(limit, Duration::from_mins(1))
    }

    /// `limit` per hour.
    pub fn per_hour(limit: NonZeroU32) -> Self {
        Self::per(limit, Duration::from_hours(1))
    }

    /// `limit` per day (a long-window quota: with the default burst the whole day's allowance
    /// may be spent at once, and comes back one request per `day / limit`).
    pub fn per_day(limit: NonZeroU32) -> Self {
        Self::per(limit, Duration::from_hours(24))
    }

    /// `limit` per 30 days (an API plan's monthly quota).
    pub fn per_month(limit: NonZeroU32) -> Self {
        Self::per(limit, Duration::from_hours(30 * 24))
    }

    /// Sets how many requests may arrive at once (default: the limit).
    #[must_use]
    pub fn with_burst(self, burst: NonZeroU32) -> Self {
        Self::build(self.gcra.limit, self.period, burst.get())
    }

    /// Requests per period.
    pub fn limit(&self) -> u32 {
        self.gcra.limit
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Requests allowed at once.
    pub fn burst(&self) -> u32 {
        self.gcra.burst
    }

    /// The GCRA parameters in nanoseconds.
    #[inline]
    pub(crate) fn gcra(&self) -> Gcra {
        self.gcra
    }
}

/// One limit to check: a key, its quota, and what the request costs.
#[derive(Clone, Copy, Debug)]
pub struct Check<'a> {
    /// The key (namespaced by the caller: `policy:client`).
    pub key: &'a str,
    /// The quota.
    pub quota: Quota,
    /// How many requests this one counts for.
    pub cost: u32,
}

impl<'a> Check<'a> {
    /// A check of cost 1.
    pub fn new(key: &'a str, quota: Quota) -> Self {
        Self {
            key,
            quota,
            cost: 1,
        }
    }
}

/// The answer for one key: allowed or not, and what is left.
///
/// Cheap to produce: what is left is kept as raw time and divided out only when asked for
/// ([`Decision::remaining`]), so a check that only needs the verdict pays no division.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    allowed: bool,
    limit: u32,
    burst: u32,
    /// Allowance left, in time: `remaining = min(spare / interval, burst)`.
    spare: u64,
    interval: u64,
    reset: u64,
    retry: Option<u64>,
}

impl Decision {
    /// A decision from its parts (for custom backends and tests).
    pub fn new(
        allowed: bool,
        limit: u32,
        remaining: u32,
        reset_after: Duration,
        retry_after: Option<Duration>,
    ) -> Self {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Self {
            allowed,
            limit,
            burst: remaining,
            spare: u64::from(remaining),
            interval: 1,
            reset: nanos(reset_after),
            retry: retry_after.map(nanos),
        }
    }

    /// Whether the request may go on.
    #[inline]
    pub fn allowed(&self) -> bool {
        self.allowed
    }

    /// The quota's limit (requests per period), for the `RateLimit-Policy` header.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Requests that would be allowed right now (after this one, when it was taken).
    pub fn remaining(&self) -> u32 {
        u32::try_from(self.spare / self.interval)
            .unwrap_or(u32::MAX)
            .min(self.burst)
    }

    /// Until the key's allowance is whole again.
    pub fn reset_after(&self) -> Duration {
        Duration::from_nanos(self.reset)
    }

    /// When refused: until a request of the same cost would be allowed (`None` when refused
    /// because the cost exceeds the burst, which no wait fixes; always `None` when allowed).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry.map(Duration::from_nanos)
    }
}

/// GCRA parameters in nanoseconds (the Redis limiter converts them to microseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Gcra {
    pub(crate) t: u64,
    pub(crate) tau: u64,
    pub(crate) burst: u32,
    pub(crate) limit: u32,
}

impl Gcra {
    fn decision(&self, allowed: bool, tat: u64, now: u64, retry: Option<u64>) -> Decision {
        Decision {
            allowed,
            limit: self.limit,
            burst: self.burst,
            spare: now
                .saturating_add(self.tau)
                .saturating_add(self.t)
                .saturating_sub(tat),
            interval: self.t,
            reset: tat - now,
            retry,
        }
    }

    /// Decides a request of `cost` at `now` against the stored TAT (0 for a key without state:
    /// `now` is never 0, so a missing state and an old one both count from `now`); answers the
    /// decision and, when allowed, the TAT to store.
    #[inline]
    pub(crate) fn decide(&self, stored: u64, now: u64, cost: u32) -> (Decision, Option<u64>) {
        let tat = stored.max(now);
        let weight = self.t.saturating_mul(u64::from(cost.max(1) - 1));
        let earliest = tat.saturating_add(weight).saturating_sub(self.tau);
        if cost > self.burst || now < earliest {
            // A cost above the burst never fits: no time to wait for.
            let retry = (cost <= self.burst).then(|| earliest - now);
            return (self.decision(false, tat, now, retry), None);
        }
        let next = tat.saturating_add(self.step(cost));
        (self.decision(true, next, now, None), Some(next))
    }

    /// How far an allowed request of `cost` moves the TAT.
    #[inline]
    pub(crate) fn step(&self, cost: u32) -> u64 {
        self.t
            .saturating_mul(u64::from(cost.max(1) - 1))
            .saturating_add(self.t)
    }

    /// What a request would get now, without consuming anything.
    pub(crate) fn peek(&self, stored: u64, now: u64) -> Decision {
        let tat = stored.max(now);
        let mut decision = self.decision(true, tat, now, None);
        if decision.remaining() == 0 {
            decision.allowed = false;
            decision.retry = Some(tat.saturating_sub(self.tau) - now);
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(limit: u32, secs: u64) -> Gcra {
        Quota::new(limit, Duration::from_secs(secs)).unwrap().gcra()
    }

    #[test]
    fn burst_reject_refill() {
        let g = q(3, 3); // one per second, burst 3
        let s = 1_000_000_000;
        let mut tat = 0;
        let now = 10 * s;
        for left in [2, 1, 0] {
            let (d, next) = g.decide(tat, now, 1);
            assert!(d.allowed());
            assert_eq!(d.remaining(), left);
            tat = next.unwrap();
        }
        let (d, next) = g.decide(tat, now, 1);
        assert!(!d.allowed() && next.is_none());
        assert_eq!(d.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(d.reset_after(), Duration::from_secs(3));
        assert_eq!(g.peek(tat, now + s).remaining(), 1);
        let (d, tat2) = g.decide(tat, now + s, 1);
        assert!(d.allowed() && d.remaining() == 0);
        assert_eq!(
            g.peek(tat2.unwrap(), now + 4 * s).remaining(),
            3,
            "refilled, capped at the burst"
        );
    }

    #[test]
    fn costs() {
        let g = q(10, 10);
        let (d, tat) = g.decide(0, 1, 10);
        assert!(d.allowed() && d.remaining() == 0);
        let (d, _) = g.decide(tat.unwrap(), 1, 1);
        assert!(!d.allowed());
        let (d, _) = g.decide(0, 1, 11);
        assert!(!d.allowed(), "more than the burst never fits");
    }
}
