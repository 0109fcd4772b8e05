//! Time as stored and sent: epoch milliseconds (SQL columns, Redis fields) and epoch seconds
//! (JWT claims, JSON answers). One place, so every backend converts alike.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (negative before it).
#[cfg_attr(not(any(feature = "sql", feature = "redis")), allow(dead_code))]
pub(crate) fn to_millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `ms` milliseconds from the Unix epoch.
#[cfg_attr(not(any(feature = "sql", feature = "redis")), allow(dead_code))]
pub(crate) fn from_millis(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// Whole seconds since the Unix epoch (0 before it).
pub(crate) fn to_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The time `s` seconds after the Unix epoch.
pub(crate) fn from_secs(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for t in [
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
            UNIX_EPOCH - Duration::from_millis(5),
        ] {
            assert_eq!(from_millis(to_millis(t)), t);
        }
        assert_eq!(to_secs(from_secs(1_700_000_000)), 1_700_000_000);
        assert_eq!(to_secs(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
