//! The Redis limiter on the real server, beside raw commands on the same server and client:
//! round-trip latency (p50 / p99 over 20 000 sequential calls), throughput with 16 concurrent
//! callers over 16 connections, round trips per check (`EVALSHA` calls counted by the server),
//! and `redis-benchmark`'s own `PING` and `EVALSHA` figures for reference.
//!
//! Needs Redis (`MORTAR_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).
//! Run: `cargo bench -p mortar-benches --bench ratelimit_redis`

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use deadpool_redis::redis;
use mortar_ratelimit::{Quota, RedisLimiter};

const CALLS: usize = 20_000;
const CONCURRENCY: usize = 16;
const WINDOW: Duration = Duration::from_secs(3);

#[derive(Clone, Copy)]
enum Case {
    Ping,
    EvalSha,
    Check,
}

impl Case {
    fn name(self) -> &'static str {
        match self {
            Self::Ping => "raw PING",
            Self::EvalSha => "raw EVALSHA (our script)",
            Self::Check => "RedisLimiter::check",
        }
    }
}

struct Ctx {
    pool: deadpool_redis::Pool,
    limiter: RedisLimiter,
    quota: Quota,
    sha: String,
}

async fn once(ctx: &Ctx, case: Case, key: &str) {
    match case {
        Case::Check => {
            ctx.limiter.check(key, &ctx.quota, 1).await.unwrap();
        }
        Case::Ping | Case::EvalSha => {
            let mut conn = ctx.pool.get().await.unwrap();
            if let Case::Ping = case {
                let () = redis::cmd("PING")
                    .query_async::<()>(&mut conn)
                    .await
                    .unwrap();
            } else {
                // The limiter's own script and arguments for one key (1 per nanosecond).
                let _: Vec<i64> = redis::cmd("EVALSHA")
                    .arg(&ctx.sha)
                    .arg(1)
                    .arg(format!("mortar-bench:{key}"))
                    .arg(1)
                    .arg(1)
                    .arg(999_999_999)
                    .arg(1_000_000_000)
                    .arg(1)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
            }
        }
    }
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    sorted[(sorted.len() - 1) * percent / 100]
}

async fn latency(ctx: &Ctx, case: Case) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let key = format!("bench:lat:{}", i % 1_000);
        let started = Instant::now();
        once(ctx, case, &key).await;
        samples.push(started.elapsed());
    }
    samples.sort();
    (percentile(&samples, 50), percentile(&samples, 99))
}

async fn throughput(ctx: std::sync::Arc<Ctx>, case: Case) -> f64 {
    let deadline = Instant::now() + WINDOW;
    let mut tasks = Vec::new();
    for t in 0..CONCURRENCY {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                once(&ctx, case, &format!("bench:tp:{t}:{}", n % 1_000)).await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    // Display only: counts far below 2^52.
    #[allow(clippy::cast_precision_loss)]
    let total = total as f64;
    total / WINDOW.as_secs_f64()
}

async fn evalsha_calls(pool: &deadpool_redis::Pool) -> u64 {
    let mut conn = pool.get().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    info.lines()
        .find(|l| l.starts_with("cmdstat_evalsha:"))
        .and_then(|l| l.split("calls=").nth(1))
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn redis_benchmark(url: &str, args: &[&str]) -> String {
    let (host, port) = url
        .trim_start_matches("redis://")
        .split_once(':')
        .map_or(("127.0.0.1", "6379"), |(h, p)| (h, p.trim_end_matches('/')));
    std::process::Command::new("redis-benchmark")
        .args(["-h", host, "-p", port, "-q", "-n", "200000", "-c", "16"])
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(
            || "redis-benchmark not available".into(),
            |s| {
                s.split(['\r', '\n'])
                    .filter(|l| l.contains("requests per second"))
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        )
}

fn main() {
    let url =
        std::env::var("MORTAR_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut config = deadpool_redis::Config::from_url(url.as_str());
        config.pool = Some(deadpool_redis::PoolConfig::new(CONCURRENCY));
        let pool = config
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .unwrap();
        let Ok(mut conn) = pool.get().await else {
            println!("Redis at {url} is not reachable: nothing measured");
            return;
        };
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(RedisLimiter::script())
            .query_async(&mut conn)
            .await
            .unwrap();
        drop(conn);
        let ctx = std::sync::Arc::new(Ctx {
            limiter: RedisLimiter::new(pool.clone())
                .prefix("mortar-bench:")
                .timeout(Duration::from_secs(5)),
            quota: Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap()),
            pool: pool.clone(),
            sha: sha.clone(),
        });
        // Warm: the script is loaded once (EVALSHA falls back to loading it only if missing).
        once(&ctx, Case::Check, "bench:warm").await;
        let before = evalsha_calls(&pool).await;
        for i in 0..1_000 {
            once(&ctx, Case::Check, &format!("bench:rt:{i}")).await;
        }
        let calls = evalsha_calls(&pool).await - before;
        println!("round trips per 1000 checks: {calls} EVALSHA (server's commandstats)");
        println!(
            "{:<28} {:>10} {:>10} {:>14}",
            "case", "p50", "p99", "ops/s (16)"
        );
        for case in [Case::Ping, Case::EvalSha, Case::Check] {
            let (p50, p99) = latency(&ctx, case).await;
            let ops = throughput(ctx.clone(), case).await;
            println!(
                "{:<28} {:>10.1?} {:>10.1?} {:>14.0}",
                case.name(),
                p50,
                p99,
                ops
            );
        }
        println!(
            "redis-benchmark PING_INLINE/PING_MBULK: {}",
            redis_benchmark(&url, &["-t", "ping"])
        );
        println!(
            "redis-benchmark EVALSHA (our script, one key): {}",
            redis_benchmark(
                &url,
                &[
                    "evalsha",
                    &sha,
                    "1",
                    "mortar-bench:rb",
                    "1",
                    "1",
                    "999999999",
                    "1000000000",
                    "1"
                ],
            )
        );
    });
}
