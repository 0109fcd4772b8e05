//! API-key verification per request: `ApiKeys::verify` on the in-memory store (format and
//! checksum, lookup by id, SHA-256 of the secret, constant-time comparison, expiry and
//! revocation, last use recorded in memory), and a key with a typo (refused by the checksum
//! before any lookup).
//!
//! Run: `cargo bench -p mortar-benches --bench api_key`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use mortar_auth::api_key::{ApiKeys, MemoryApiKeyStore, NewApiKey};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let keys = ApiKeys::new(Arc::new(MemoryApiKeyStore::new()), "acme").unwrap();
    let (_, token) = rt
        .block_on(keys.create(NewApiKey::new("user-1", "bench").scope("read")))
        .unwrap();
    let mut typo = token.clone().into_bytes();
    typo[20] = if typo[20] == b'x' { b'y' } else { b'x' };
    let typo = String::from_utf8(typo).unwrap();

    let mut group = c.benchmark_group("api_key_verify");
    group.bench_function("valid key", |b| {
        b.iter(|| black_box(rt.block_on(keys.verify(black_box(&token))).unwrap()));
    });
    group.bench_function("mistyped key (checksum)", |b| {
        b.iter(|| black_box(rt.block_on(keys.verify(black_box(&typo))).is_err()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
