//! The in-process limiters: GCRA exactly (burst, reject, refill on a manual clock), decision for
//! decision the same as governor, several limits per request, peek, eviction, concurrency.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use mortar_core::ManualClock;
use mortar_ratelimit::{Bucket, Check, MemoryLimiter, Quota};

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

#[test]
fn burst_then_reject_then_refill_exactly() {
    let clock = ManualClock::default();
    let limiter = MemoryLimiter::new().clock(clock.clone());
    // 5 per 10 s: one every 2 s, bursting to 5.
    let quota = Quota::new(5, Duration::from_secs(10)).unwrap();
    for left in (0..5).rev() {
        let d = limiter.check("k", &quota, 1);
        assert!(d.allowed());
        assert_eq!(d.remaining(), left);
        assert_eq!(d.retry_after(), None);
    }
    let refused = limiter.check("k", &quota, 1);
    assert!(!refused.allowed());
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(refused.reset_after(), Duration::from_secs(10));
    // One nanosecond early is still too early; at 2 s exactly one cell is back.
    clock.advance(Duration::from_secs(2) - Duration::from_nanos(1));
    assert!(!limiter.check("k", &quota, 1).allowed());
    clock.advance(Duration::from_nanos(1));
    let again = limiter.check("k", &quota, 1);
    assert!(again.allowed() && again.remaining() == 0);
    // After the whole period the burst is whole again, and never more than the burst.
    clock.advance(Duration::from_mins(1));
    assert_eq!(limiter.peek("k", &quota).remaining(), 5);
    assert_eq!(limiter.peek("k", &quota).reset_after(), Duration::ZERO);
}

#[test]
fn costs_and_a_burst_different_from_the_limit() {
    let clock = ManualClock::default();
    let limiter = MemoryLimiter::new().clock(clock.clone());
    let quota = Quota::per_second(n(10)).with_burst(n(3));
    assert!(limiter.check("k", &quota, 3).allowed());
    assert!(!limiter.check("k", &quota, 1).allowed());
    let too_big = limiter.check("other", &quota, 4);
    assert!(
        !too_big.allowed() && too_big.retry_after().is_none(),
        "never fits"
    );
    clock.advance(Duration::from_millis(100));
    assert!(limiter.check("k", &quota, 1).allowed());
}

/// A small deterministic generator, so the differential test needs no dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn decides_exactly_as_governor() {
    let quotas = [
        (1, 1_000, 1),
        (10, 1_000, 10),
        (10, 1_000, 3),
        (7, 700, 7),
        (100, 60_000, 20),
    ];
    let mut rng = Lcg(42);
    for (limit, period_ms, burst) in quotas {
        let period = Duration::from_millis(period_ms);
        let ours_clock = ManualClock::default();
        let ours = MemoryLimiter::new().clock(ours_clock.clone());
        let quota = Quota::new(limit, period).unwrap().with_burst(n(burst));
        let fake = FakeRelativeClock::default();
        let theirs = governor::RateLimiter::direct_with_clock(
            governor::Quota::with_period(period / limit)
                .unwrap()
                .allow_burst(n(burst)),
            fake.clone(),
        );
        for step in 0..20_000 {
            let advance = Duration::from_micros(
                rng.next(u64::try_from(period.as_micros()).unwrap() / u64::from(limit) * 2),
            );
            ours_clock.advance(advance);
            fake.advance(advance);
            let cost = 1 + u32::try_from(rng.next(u64::from(burst).min(3))).unwrap();
            let mine = ours.check("k", &quota, cost);
            let reference = theirs.check_n(n(cost)).unwrap();
            assert_eq!(
                mine.allowed(),
                reference.is_ok(),
                "step {step} of {quota:?}"
            );
            if let Err(not_until) = reference {
                use governor::clock::Clock as _;
                assert_eq!(
                    mine.retry_after(),
                    Some(not_until.wait_time_from(fake.now())),
                    "step {step}"
                );
            }
        }
    }
}

#[test]
fn several_limits_are_all_checked_before_any_is_taken() {
    let clock = ManualClock::default();
    let limiter = MemoryLimiter::new().clock(clock.clone());
    let burst = Quota::per_second(n(10));
    let daily = Quota::per_day(n(3));
    let checks = [Check::new("burst:k", burst), Check::new("daily:k", daily)];
    for _ in 0..3 {
        assert!(
            limiter
                .check_all(&checks)
                .iter()
                .all(mortar_ratelimit::Decision::allowed)
        );
    }
    let refused = limiter.check_all(&checks);
    assert!(refused[0].allowed() && !refused[1].allowed());
    assert_eq!(
        limiter.peek("burst:k", &burst).remaining(),
        7,
        "the refused request took nothing"
    );
    assert_eq!(limiter.peek("daily:k", &daily).remaining(), 0);
    assert_eq!(
        limiter.check_all(&checks)[1].retry_after(),
        Some(Duration::from_hours(8))
    );

    // Three limits, the middle one refusing: the first gives back what it took, the last is
    // only tried; each answer tells its policy's state as if nothing had been taken.
    let minute = Quota::per_minute(n(5));
    let three = [
        Check::new("burst:k2", burst),
        Check::new("daily:k", daily),
        Check::new("minute:k2", minute),
    ];
    let refused = limiter.check_all(&three);
    assert_eq!(refused.len(), 3);
    assert!(refused[0].allowed() && !refused[1].allowed() && refused[2].allowed());
    assert_eq!((refused[0].remaining(), refused[2].remaining()), (9, 4));
    assert_eq!(limiter.peek("burst:k2", &burst).remaining(), 10);
    assert_eq!(limiter.peek("minute:k2", &minute).remaining(), 5);
}

#[test]
fn idle_keys_are_evicted() {
    let clock = ManualClock::default();
    let limiter = MemoryLimiter::new().clock(clock.clone()).sweep_every(1000);
    let quota = Quota::per_second(n(10));
    for i in 0..999 {
        limiter.check(&format!("client-{i}"), &quota, 1);
    }
    assert_eq!(limiter.len(), 999);
    clock.advance(Duration::from_secs(1));
    limiter.check("busy", &quota, 1); // the 1000th new key sweeps
    assert_eq!(limiter.len(), 1, "only the key still inside its window");
    clock.advance(Duration::from_secs(1));
    assert_eq!(limiter.evict_idle(), 1);
    assert!(limiter.is_empty());
}

#[test]
fn concurrent_checks_never_exceed_the_burst() {
    let limiter = Arc::new(MemoryLimiter::new());
    let quota = Quota::per_hour(n(1_000));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let limiter = limiter.clone();
            std::thread::spawn(move || {
                (0..1_000)
                    .filter(|_| limiter.check("shared", &quota, 1).allowed())
                    .count()
            })
        })
        .collect();
    let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(
        allowed, 1_000,
        "exactly the burst, whatever the interleaving"
    );
}

#[test]
fn a_single_bucket() {
    let clock = ManualClock::default();
    let bucket = Bucket::new(Quota::per_second(n(2))).clock(clock.clone());
    assert!(bucket.check().allowed());
    assert_eq!(bucket.peek().remaining(), 1);
    assert!(bucket.check().allowed());
    assert!(!bucket.check().allowed());
    clock.advance(Duration::from_millis(500));
    assert!(bucket.check().allowed());
}
