//! The Redis limiter on the real server: the same GCRA, one global limit for instances sharing
//! Redis, several limits taken atomically, peek, and a Redis outage behaving as each policy
//! declares — no panic, no hang past the timeout.
#![cfg(feature = "redis")]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use mortar_ratelimit::{
    Check, Error, KeyBy, MemoryLimiter, PeerAddr, Policy, Quota, RateLimiter, RedisLimiter, Verdict,
};

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

fn parts(peer: &str) -> http::request::Parts {
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.extensions.insert(PeerAddr(peer.parse().unwrap()));
    parts
}

#[tokio::test]
async fn gcra_on_redis() {
    let Some(redis) = mortar_testkit::redis().await else {
        return;
    };
    let limiter = RedisLimiter::new(redis.pool()).prefix(redis.prefix());
    // 3 per hour: a burst of 3, then one every 20 minutes.
    let quota = Quota::per_hour(n(3));
    for left in [2, 1, 0] {
        let d = limiter.check("k", &quota, 1).await.unwrap();
        assert!(d.allowed());
        assert_eq!(d.remaining(), left);
    }
    let refused = limiter.check("k", &quota, 1).await.unwrap();
    assert!(!refused.allowed());
    let retry = refused.retry_after().unwrap();
    assert!(
        retry <= Duration::from_mins(20) && retry > Duration::from_mins(19),
        "{retry:?}"
    );
    assert!(refused.reset_after() <= Duration::from_hours(1));
    let peek = limiter.peek("k", &quota).await.unwrap();
    assert_eq!((peek.allowed(), peek.remaining()), (false, 0));
    let too_big = limiter.check("other", &quota, 4).await.unwrap();
    assert!(!too_big.allowed() && too_big.retry_after().is_none());

    // Refill: one per 100 ms.
    let fast = Quota::new(1, Duration::from_millis(100)).unwrap();
    assert!(limiter.check("fast", &fast, 1).await.unwrap().allowed());
    assert!(!limiter.check("fast", &fast, 1).await.unwrap().allowed());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(limiter.check("fast", &fast, 1).await.unwrap().allowed());
}

#[tokio::test]
async fn instances_sharing_redis_enforce_one_limit() {
    let Some(redis) = mortar_testkit::redis().await else {
        return;
    };
    let policy = || Policy::new("api", Quota::per_hour(n(10)), KeyBy::Ip).unwrap();
    let a =
        RateLimiter::redis(RedisLimiter::new(redis.pool()).prefix(redis.prefix())).policy(policy());
    let b =
        RateLimiter::redis(RedisLimiter::new(redis.pool()).prefix(redis.prefix())).policy(policy());
    let mut tasks = Vec::new();
    for i in 0..40 {
        let limiter = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            limiter.check(&parts("203.0.113.5")).await.is_allowed()
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        allowed += usize::from(t.await.unwrap());
    }
    assert_eq!(allowed, 10, "one global limit across both instances");
    assert_eq!(a.failures().opened + b.failures().opened, 0);
}

#[tokio::test]
async fn several_limits_are_one_atomic_check() {
    let Some(redis) = mortar_testkit::redis().await else {
        return;
    };
    let limiter = RedisLimiter::new(redis.pool()).prefix(redis.prefix());
    let burst = Quota::per_second(n(100));
    let daily = Quota::per_day(n(2));
    let checks = [Check::new("burst:k", burst), Check::new("daily:k", daily)];
    for _ in 0..2 {
        let all = limiter.check_all(&checks, true).await.unwrap();
        assert!(all.iter().all(mortar_ratelimit::Decision::allowed));
    }
    let refused = limiter.check_all(&checks, true).await.unwrap();
    assert!(refused[0].allowed() && !refused[1].allowed());
    assert_eq!(refused[1].limit(), 2);
    let burst_left = limiter.peek("burst:k", &burst).await.unwrap().remaining();
    assert!(
        burst_left >= 98,
        "the refused request took nothing from the burst: {burst_left}"
    );
}

/// A server that accepts connections and never answers: a Redis that hangs.
async fn silent_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

fn pool(url: &str) -> deadpool_redis::Pool {
    let mut config = deadpool_redis::Config::from_url(url);
    config.pool = Some(deadpool_redis::PoolConfig {
        timeouts: deadpool_redis::Timeouts {
            wait: Some(Duration::from_millis(200)),
            create: Some(Duration::from_millis(200)),
            recycle: Some(Duration::from_millis(200)),
        },
        ..deadpool_redis::PoolConfig::default()
    });
    config
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap()
}

#[tokio::test]
async fn an_outage_behaves_as_each_policy_declares() {
    let hanging = silent_server().await;
    for url in [
        "redis://127.0.0.1:1".to_owned(),
        format!("redis://{hanging}"),
    ] {
        let backend = RedisLimiter::new(pool(&url)).timeout(Duration::from_millis(100));
        let error = backend
            .check("k", &Quota::per_second(n(1)), 1)
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::Backend(_) | Error::Timeout),
            "{error}"
        );

        let fallback = Arc::new(MemoryLimiter::new());
        let open = RateLimiter::redis(backend.clone())
            .fallback(fallback.clone())
            .policy(Policy::new("api", Quota::per_hour(n(2)), KeyBy::Ip).unwrap());
        let started = std::time::Instant::now();
        let verdicts: Vec<bool> = futures_like(&open, 3).await;
        assert_eq!(
            verdicts,
            [true, true, false],
            "limited by the in-process fallback ({url})"
        );
        assert_eq!(open.failures().opened, 3);
        assert_eq!(fallback.len(), 1);

        let closed = RateLimiter::redis(backend)
            .policy(Policy::new("api", Quota::per_hour(n(100)), KeyBy::Ip).unwrap())
            .policy(Policy::login("login", Quota::per_hour(n(100)), KeyBy::Ip).unwrap());
        let outcome = closed.check(&parts("192.0.2.1")).await;
        assert_eq!(
            outcome.verdict,
            Verdict::Unavailable,
            "a fail-closed policy refuses ({url})"
        );
        assert_eq!(closed.failures().closed, 1);
        // Bounded by the timeouts, never a hang (a generous bound: this is not a benchmark).
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

async fn futures_like(limiter: &RateLimiter, count: usize) -> Vec<bool> {
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(limiter.check(&parts("198.51.100.4")).await.is_allowed());
    }
    out
}
