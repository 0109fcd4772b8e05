//! A response through a layer that may answer early with `ProblemBody`, vs the same service
//! without the layer, vs the same layer with a boxed body. Each iteration builds the request,
//! calls the stack with `oneshot` and reads the whole response body.
//!
//! Run: `cargo bench -p mortar-benches --bench problem_body`

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use mortar_benches::{ALLOW, BoxedGuardLayer, GuardLayer};
use tower::{Layer as _, ServiceExt as _, service_fn};

async fn handler(_req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"{\"hello\":\"world\"}",
    ))))
}

fn request(allow: bool) -> Request<Full<Bytes>> {
    let mut builder = Request::get("/resource");
    if allow {
        builder = builder.header(ALLOW, "1");
    }
    builder.body(Full::new(Bytes::new())).unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("problem_body");

    group.bench_function("baseline: no layer", |b| {
        b.to_async(&rt).iter(|| async {
            let res = service_fn(handler).oneshot(request(true)).await.unwrap();
            black_box(res.into_body().collect().await.unwrap().to_bytes())
        });
    });
    group.bench_function("ProblemBody layer, passed", |b| {
        b.to_async(&rt).iter(|| async {
            let svc = GuardLayer.layer(service_fn(handler));
            let res = svc.oneshot(request(true)).await.unwrap();
            black_box(res.into_body().collect().await.unwrap().to_bytes())
        });
    });
    group.bench_function("boxed-body layer, passed", |b| {
        b.to_async(&rt).iter(|| async {
            let svc = BoxedGuardLayer.layer(service_fn(handler));
            let res = svc.oneshot(request(true)).await.unwrap();
            black_box(res.into_body().collect().await.unwrap().to_bytes())
        });
    });
    group.bench_function("ProblemBody layer, rejected (401 problem)", |b| {
        b.to_async(&rt).iter(|| async {
            let svc = GuardLayer.layer(service_fn(handler));
            let res = svc.oneshot(request(false)).await.unwrap();
            black_box(res.into_body().collect().await.unwrap().to_bytes())
        });
    });
    group.bench_function("boxed-body layer, rejected (401 problem)", |b| {
        b.to_async(&rt).iter(|| async {
            let svc = BoxedGuardLayer.layer(service_fn(handler));
            let res = svc.oneshot(request(false)).await.unwrap();
            black_box(res.into_body().collect().await.unwrap().to_bytes())
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
