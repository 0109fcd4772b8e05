//! Access-token verification: `mortar_auth::token::AccessTokens::verify` on a cold token (cache
//! off: full JWS and claim checks, principal built, revocation checked) and on a reused token
//! (cache hit: SHA-256 of the token, expiry and revocation checks), against jsonwebtoken's
//! `decode` with the same EdDSA key, token and issuer/audience validation, in the same run.
//! The same token also goes through `AuthLayer` in front of a trivial handler (`oneshot`, in
//! process), next to the bare handler call.
//! Goals (issue): through the layer, cold ≤ 1.1× `decode` plus the bare call; reused ≤ 0.1×
//! `decode`.
//!
//! Run: `cargo bench -p mortar-benches --bench access_token`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use mortar_auth::layer::AuthLayer;
use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
use mortar_core::{AuthMethod, Principal};
use serde_json::Value;
use tower::{Layer as _, ServiceExt as _, service_fn};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";

async fn handler(
    _req: Request<Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ring = KeyRing::new(SigningKey::generate_ed25519("k1").unwrap());
    let x = ring.jwks()["keys"][0]["x"].as_str().unwrap().to_owned();
    let cold = AccessTokens::builder(ring.clone(), ISS, AUD)
        .cache_capacity(0)
        .build();
    let cached = AccessTokens::builder(ring, ISS, AUD).build();
    let principal = Principal::user("user-1")
        .tenant("acme")
        .roles(["admin", "billing"])
        .scope("invoices:read")
        .method(AuthMethod::Password)
        .session_id("sess-1")
        .build();
    let issued = cold.issue(&principal).unwrap();
    let token = issued.token().to_owned();

    let key = DecodingKey::from_ed_components(&x).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[ISS]);
    validation.set_audience(&[AUD]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    assert!(decode::<Value>(&token, &key, &validation).is_ok());
    rt.block_on(cached.verify(&token)).unwrap(); // fill the cache

    let mut group = c.benchmark_group("access_token_verify_eddsa");
    group.bench_function("jsonwebtoken decode (baseline)", |b| {
        b.iter(|| black_box(decode::<Value>(black_box(&token), &key, &validation).unwrap()));
    });
    group.bench_function("AccessTokens::verify, cold token", |b| {
        b.iter(|| black_box(rt.block_on(cold.verify(black_box(&token))).unwrap()));
    });
    group.bench_function("AccessTokens::verify, reused token", |b| {
        b.iter(|| black_box(rt.block_on(cached.verify(black_box(&token))).unwrap()));
    });

    let request = |token: &str| {
        Request::get("/me")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    group.bench_function("bare handler call (no layer)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let res = service_fn(handler).oneshot(request(&token)).await.unwrap();
                black_box(res.into_body().collect().await.unwrap().to_bytes())
            })
        });
    });
    let cold_layer = AuthLayer::required().with(cold.clone());
    let cached_layer = AuthLayer::required().with(cached.clone());
    group.bench_function("AuthLayer request, cold token", |b| {
        b.iter(|| {
            rt.block_on(async {
                let svc = cold_layer.layer(service_fn(handler));
                let res = svc.oneshot(request(&token)).await.unwrap();
                assert!(res.status().is_success());
                black_box(res.into_body().collect().await.unwrap().to_bytes())
            })
        });
    });
    group.bench_function("AuthLayer request, reused token", |b| {
        b.iter(|| {
            rt.block_on(async {
                let svc = cached_layer.layer(service_fn(handler));
                let res = svc.oneshot(request(&token)).await.unwrap();
                assert!(res.status().is_success());
                black_box(res.into_body().collect().await.unwrap().to_bytes())
            })
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
