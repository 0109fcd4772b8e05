//! [`RetryPolicy`]: how long a failed job waits before its next attempt.

use std::fmt;
use std::time::Duration;

use rand::Rng as _;

/// Decides the wait before the next attempt of a failed job; [`ExponentialBackoff`] is the
/// default. Whether there is a next attempt is the job's `max_attempts`.
pub trait RetryPolicy: Send + Sync + fmt::Debug + 'static {
    /// The wait after attempt `attempt` (from 1) failed.
    fn backoff(&self, attempt: u32) -> Duration;
}

/// Exponential back-off with jitter: `base × 2^(attempt−1)`, at most `max`, each wait moved by
/// up to ±`jitter` of itself at random so retries of many jobs that failed together spread out.
///
/// The default (5 s base, 1 h cap, ±20 %) waits about 5 s, 10 s, 20 s … 21 min: with
/// [`DEFAULT_MAX_ATTEMPTS`](crate::DEFAULT_MAX_ATTEMPTS) a job keeps trying for about
/// 45 minutes, then is discarded.
///
/// ```
/// use std::time::Duration;
/// use mortar_jobs::{ExponentialBackoff, RetryPolicy as _};
///
/// let policy = ExponentialBackoff::new(Duration::from_secs(1), Duration::from_secs(60)).jitter(0.0);
/// assert_eq!(policy.backoff(1), Duration::from_secs(1));
/// assert_eq!(policy.backoff(4), Duration::from_secs(8));
/// assert_eq!(policy.backoff(30), Duration::from_secs(60));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ExponentialBackoff {
    base: Duration,
    max: Duration,
    jitter: f64,
}

impl ExponentialBackoff {
    /// `base × 2^(attempt−1)` capped at `max`, with ±20 % jitter.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            jitter: 0.2,
        }
    }

    /// The jitter, a fraction from 0 (none) to 1 (clamped).
    #[must_use]
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }
}

impl Default for ExponentialBackoff {
    fn default() -> Self {
        Self::new(Duration::from_secs(5), Duration::from_hours(1))
    }
}

impl RetryPolicy for ExponentialBackoff {
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(32);
        let wait = self
            .base
            .checked_mul(1u32 << exp.min(31))
            .unwrap_or(self.max)
            .min(self.max);
        if self.jitter == 0.0 {
            return wait;
        }
        let factor = 1.0 + rand::rng().random_range(-self.jitter..=self.jitter);
        wait.mul_f64(factor.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_bounds() {
        let p = ExponentialBackoff::default();
        for attempt in 1..40 {
            let plain = ExponentialBackoff::default().jitter(0.0).backoff(attempt);
            let w = p.backoff(attempt);
            assert!(
                w >= plain.mul_f64(0.79) && w <= plain.mul_f64(1.21),
                "{attempt}: {w:?}"
            );
        }
    }
}
