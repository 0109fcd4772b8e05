//! In-process rate limiting beside governor, same quota, same keys, same run:
//!
//! - one limit without a key: `Bucket::check` vs governor's direct `RateLimiter::check`;
//! - keyed at 10 000 and 1 000 000 keys: `MemoryLimiter::check` vs governor's keyed
//!   `RateLimiter::check_key` (its default `DashMap` store), keys visited round robin;
//! - bytes per key held by each: the resident-memory growth of a fresh process filling
//!   1 000 000 keys (each side in its own child process, so neither reuses the other's pages).
//!
//! Every check is allowed (the quota is far above the rate), so both sides run the full update
//! path. Run: `cargo bench -p mortar-benches --bench ratelimit`

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group};
use mortar_ratelimit::{Bucket, MemoryLimiter, Quota};

const RATE: u32 = 1_000_000_000;

fn keys(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("198.51.{}.{}", i / 256 % 65_536, i % 256))
        .collect()
}

/// Resident bytes of this process (`/proc/self/statm`, Linux).
fn resident() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// In a child process: fill `count` keys on one side and print the resident growth per key.
fn measure(side: &str, count: usize) {
    let keys = keys(count);
    let n = NonZeroU32::new(RATE).unwrap();
    let quota = Quota::per_second(n);
    let before = resident().unwrap_or(0);
    if side == "mortar" {
        let ours = MemoryLimiter::new().sweep_every(u64::MAX);
        for k in &keys {
            ours.check(k, &quota, 1);
        }
        let after = resident().unwrap_or(0);
        println!("{}", after.saturating_sub(before) / count as u64);
        black_box(ours);
    } else {
        let theirs = governor::RateLimiter::keyed(governor::Quota::per_second(n));
        for k in &keys {
            let _ = theirs.check_key(k);
        }
        let after = resident().unwrap_or(0);
        println!("{}", after.saturating_sub(before) / count as u64);
        black_box(theirs);
    }
}

fn bytes_per_key(count: usize) {
    let run = |side: &str| {
        std::process::Command::new(std::env::current_exe().ok()?)
            .env("MORTAR_BENCH_BYTES_PER_KEY", side)
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
    };
    println!(
        "bytes per key at {count} keys (15-byte keys, resident growth): mortar {}, governor {}",
        run("mortar").unwrap_or_default(),
        run("governor").unwrap_or_default()
    );
}

fn bench(c: &mut Criterion) {
    let n = NonZeroU32::new(RATE).unwrap();
    let quota = Quota::per_second(n);

    let mut direct = c.benchmark_group("ratelimit_direct");
    let bucket = Bucket::new(quota);
    let governor_direct = governor::RateLimiter::direct(governor::Quota::per_second(n));
    direct.bench_function("mortar Bucket::check", |b| {
        b.iter(|| black_box(bucket.check().allowed()));
    });
    direct.bench_function("governor direct check", |b| {
        b.iter(|| black_box(governor_direct.check().is_ok()));
    });
    direct.finish();

    let mut keyed = c.benchmark_group("ratelimit_keyed");
    keyed.measurement_time(Duration::from_secs(5));
    for count in [10_000usize, 1_000_000] {
        let keys = keys(count);
        let ours = MemoryLimiter::new().sweep_every(u64::MAX);
        let theirs = governor::RateLimiter::keyed(governor::Quota::per_second(n));
        for k in &keys {
            ours.check(k, &quota, 1);
            let _ = theirs.check_key(k);
        }
        let mut i = 0;
        keyed.bench_with_input(
            BenchmarkId::new("mortar MemoryLimiter::check", count),
            &keys,
            |b, keys| {
                b.iter(|| {
                    i = (i + 1) % keys.len();
                    black_box(ours.check(&keys[i], &quota, 1).allowed())
                });
            },
        );
        let mut j = 0;
        keyed.bench_with_input(
            BenchmarkId::new("governor check_key", count),
            &keys,
            |b, keys| {
                b.iter(|| {
                    j = (j + 1) % keys.len();
                    black_box(theirs.check_key(&keys[j]).is_ok())
                });
            },
        );
    }
    keyed.finish();
    layers(c);
}

/// One axum route, bare and behind each layer, called in process with the peer address
/// `ConnectInfo` would give; one client key, a quota that never refuses, headers on (`tower_governor`'s
/// `use_headers`, our `RateLimit` headers).
fn layers(c: &mut Criterion) {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use mortar_ratelimit::{KeyBy, Policy, RateLimitLayer, RateLimiter};
    use tower::ServiceExt as _;

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let route = || Router::new().route("/", get(|| async { "ok" }));
    let bare = route();
    let config = tower_governor::governor::GovernorConfigBuilder::default()
        .per_nanosecond(1)
        .burst_size(RATE)
        .use_headers()
        .finish()
        .unwrap();
    let theirs = route().layer(tower_governor::GovernorLayer::new(config));
    let ours = route().layer(RateLimitLayer::new(
        RateLimiter::memory().policy(
            Policy::new(
                "ip",
                Quota::per_second(NonZeroU32::new(RATE).unwrap()),
                KeyBy::Ip,
            )
            .unwrap(),
        ),
    ));
    // The layer's plumbing alone: a per-user policy that an anonymous request does not meet.
    let plumbing = route().layer(RateLimitLayer::new(
        RateLimiter::memory().policy(
            Policy::new(
                "user",
                Quota::per_second(NonZeroU32::new(RATE).unwrap()),
                KeyBy::Subject,
            )
            .unwrap(),
        ),
    ));
    // What axum charges any layer (it boxes the layered route again): the floor under both.
    let identity = route().layer(tower::layer::util::Identity::new());
    let request = || {
        let mut req = http::Request::get("/").body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from((
                [203, 0, 113, 7],
                40_000,
            ))));
        req
    };
    let mut group = c.benchmark_group("ratelimit_layer");
    for (name, router) in [
        ("bare route", &bare),
        ("identity layer", &identity),
        ("tower_governor", &theirs),
        ("mortar RateLimitLayer", &ours),
        ("mortar RateLimitLayer, no applicable policy", &plumbing),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let res = rt.block_on(router.clone().oneshot(request())).unwrap();
                assert_eq!(res.status(), 200);
                black_box(res)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(side) = std::env::var("MORTAR_BENCH_BYTES_PER_KEY") {
        measure(&side, 1_000_000);
        return;
    }
    bytes_per_key(1_000_000);
    benches();
    Criterion::default().configure_from_args().final_summary();
}
