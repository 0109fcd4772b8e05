//! One conformance suite for mortar-core's `AttemptLimiter`: mortar-auth's in-process limiter
//! and the Redis one behave alike (free failures, doubling locks up to a cap, an identical answer
//! while locked, reset on success, independent keys).

use std::time::Duration;

use mortar_core::{AttemptKey, AttemptLimiter, AttemptStatus};

/// Locks of 100 ms doubling to 400 ms after 2 free failures; real time, so it runs unchanged on
/// both backends.
async fn conformance(limiter: &dyn AttemptLimiter, tag: &str) {
    let key = AttemptKey::account(format!("{tag}-alice@example.com"));
    let other = AttemptKey::client("192.0.2.44".parse().unwrap());
    assert_eq!(
        limiter.check(&key).await.unwrap(),
        AttemptStatus::Allowed { remaining: Some(2) }
    );
    for remaining in [1, 0] {
        assert_eq!(
            limiter.record_failure(&key).await.unwrap(),
            AttemptStatus::Allowed {
                remaining: Some(remaining)
            }
        );
    }
    let mut locks = Vec::new();
    for _ in 0..4 {
        let status = limiter.record_failure(&key).await.unwrap();
        let lock = status.retry_after().expect("locked");
        locks.push(lock);
        // While locked every check gives the same kind of answer.
        let check = limiter.check(&key).await.unwrap();
        assert!(!check.is_allowed());
        assert!(check.retry_after().unwrap() <= lock);
        tokio::time::sleep(lock + Duration::from_millis(20)).await;
        assert!(
            limiter.check(&key).await.unwrap().is_allowed(),
            "the lock lifts"
        );
    }
    let millis: Vec<u128> = locks
        .iter()
        .map(|d| (d.as_millis() + 50) / 100 * 100)
        .collect();
    assert_eq!(
        millis,
        [100, 200, 400, 400],
        "doubling up to the cap: {locks:?}"
    );
    assert!(
        limiter.check(&other).await.unwrap().is_allowed(),
        "keys are independent"
    );
    limiter.reset(&key).await.unwrap();
    assert_eq!(
        limiter.check(&key).await.unwrap(),
        AttemptStatus::Allowed { remaining: Some(2) }
    );
}

#[tokio::test]
async fn memory() {
    let limiter = mortar_auth::attempts::MemoryAttemptLimiter::new()
        .free_failures(2)
        .lockout(Duration::from_millis(100), Duration::from_millis(400));
    conformance(&limiter, "memory").await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis() {
    let Some(redis) = mortar_testkit::redis().await else {
        return;
    };
    let limiter = mortar_ratelimit::RedisAttemptLimiter::new(redis.pool())
        .prefix(redis.prefix())
        .free_failures(2)
        .lockout(Duration::from_millis(100), Duration::from_millis(400));
    conformance(&limiter, "redis").await;

    // Two instances share the count.
    let a = mortar_ratelimit::RedisAttemptLimiter::new(redis.pool())
        .prefix(redis.prefix())
        .free_failures(1);
    let b = mortar_ratelimit::RedisAttemptLimiter::new(redis.pool())
        .prefix(redis.prefix())
        .free_failures(1);
    let key = AttemptKey::account("shared@example.com");
    assert!(a.record_failure(&key).await.unwrap().is_allowed());
    assert!(!b.record_failure(&key).await.unwrap().is_allowed());
    assert!(!a.check(&key).await.unwrap().is_allowed());

    // Redis down: an error (the auth flows fail closed), not a panic.
    let down = mortar_ratelimit::RedisAttemptLimiter::new(
        deadpool_redis::Config::from_url("redis://127.0.0.1:1")
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .unwrap(),
    );
    assert!(down.check(&key).await.is_err());
}
