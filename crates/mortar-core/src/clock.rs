//! [`Clock`]: where Mortar reads the time, so tokens, rate limits, rollouts and schedules are
//! testable without sleeping.
//!
//! Production code uses [`SystemClock`]; tests use a [`ManualClock`] and move it forward.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use mortar_core::{Clock, ManualClock};
//!
//! let clock = ManualClock::at_unix(1_700_000_000);
//! let issued = clock.now();
//! clock.advance(Duration::from_secs(900));
//! assert_eq!(clock.now().duration_since(issued).unwrap(), Duration::from_secs(900));
//! assert_eq!(clock.unix_seconds(), 1_700_000_900);
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// Whole seconds, rounded up: what HTTP fields that count seconds (`Retry-After`, `Max-Age`,
/// `RateLimit`) must carry so a client that waits them is never early.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(mortar_core::clock::ceil_secs(Duration::from_millis(1_001)), 2);
/// assert_eq!(mortar_core::clock::ceil_secs(Duration::from_secs(3)), 3);
/// ```
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;

    /// The current time in whole seconds since the Unix epoch (0 for times before it).
    fn unix_seconds(&self) -> u64 {
        self.now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock shared between components: `Arc<dyn Clock>`.
pub type SharedClock = Arc<dyn Clock>;

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock as a [`SharedClock`].
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until it is moved. Clones share the same time.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// A clock showing `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self::new(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// Sets the time (it may go backwards, to test clock skew).
    pub fn set(&self, to: SystemTime) {
        *self.lock() = to;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    /// Moves the time backward.
    pub fn rewind(&self, by: Duration) {
        let mut now = self.lock();
        *now -= by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SystemTime> {
        // The guarded value is a plain `SystemTime`; a panic elsewhere cannot leave it invalid.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for ManualClock {
    /// A clock at 2024-01-01T00:00:00Z.
    fn default() -> Self {
        Self::at_unix(1_704_067_200)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ManualClock").field(&*self.lock()).finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_time_and_can_go_back() {
        let a = ManualClock::default();
        let b = a.clone();
        a.advance(Duration::from_secs(10));
        assert_eq!(b.unix_seconds(), 1_704_067_210);
        b.rewind(Duration::from_secs(20));
        assert_eq!(a.unix_seconds(), 1_704_067_190);
        a.set(SystemTime::UNIX_EPOCH - Duration::from_secs(5));
        assert_eq!(a.unix_seconds(), 0);
    }

    #[test]
    fn shared_clocks() {
        let shared: SharedClock = Arc::new(ManualClock::at_unix(7));
        assert_eq!(shared.unix_seconds(), 7);
        assert!(SystemClock::shared().unix_seconds() > 1_700_000_000);
    }
}
