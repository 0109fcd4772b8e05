//! Login verification at OWASP's Argon2id parameters (m = 19456 KiB, t = 2, p = 1):
//! `mortar_auth::password::Passwords::verify` — which parses the stored hash, runs on the bounded
//! blocking pool through `spawn_blocking` and checks whether a rehash is due — against the
//! argon2 crate's own `verify_password` on the same PHC string, called directly on the benchmark
//! thread. Goal: at most 1.05× raw argon2.
//!
//! Run: `cargo bench -p mortar-benches --bench password`

use std::hint::black_box;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{Criterion, criterion_group, criterion_main};
use mortar_auth::password::Passwords;
use password_hash::PasswordVerifier as _;
use password_hash::phc::PasswordHash;

const PASSWORD: &str = "correct horse battery staple";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let passwords = Passwords::new();
    let stored = rt.block_on(passwords.hash(PASSWORD)).unwrap();
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).unwrap(),
    );

    let mut group = c.benchmark_group("password_verify_owasp");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(12));
    group.bench_function("argon2 verify_password (raw)", |b| {
        b.iter(|| {
            let parsed = PasswordHash::new(&stored).unwrap();
            black_box(argon.verify_password(PASSWORD.as_bytes(), &parsed).is_ok())
        });
    });
    group.bench_function("mortar Passwords::verify", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                passwords
                    .verify(PASSWORD, &stored)
                    .await
                    .unwrap()
                    .is_valid(),
            )
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
