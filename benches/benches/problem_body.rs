//! A response through a guard layer that may answer early, built three ways on the same input:
//! with `ProblemBody` (the Mortar way), with a boxed body, and without either (the inner body
//! type unchanged, an empty 401) — plus the handler with no layer at all. Each iteration builds
//! the request, calls the stack with `oneshot` and reads the whole response body.
//!
//! Run: `cargo bench -p mortar-benches --bench problem_body`

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt as _, Full};
use mortar_benches::{ALLOW, Boxed, GuardLayer, Plain, Respond, WithProblemBody};
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

/// One round trip through the guard with strategy `R`.
async fn through<R>(allow: bool) -> Bytes
where
    R: Respond<Full<Bytes>>,
    R::Body: Body<Data = Bytes>,
    <R::Body as Body>::Error: std::fmt::Debug,
{
    let svc = GuardLayer::<R>::new().layer(service_fn(handler));
    let res = svc.oneshot(request(allow)).await.unwrap();
    res.into_body().collect().await.unwrap().to_bytes()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("problem_body");

    group.bench_function("no layer", |b| {
        b.to_async(&rt).iter(|| async {
            let res = service_fn(handler).oneshot(request(true)).await.unwrap();
            black_box(res.into_body().collect().await.unwrap().to_bytes())
        });
    });
    for (allow, outcome) in [(true, "passed"), (false, "rejected")] {
        group.bench_function(format!("plain layer, {outcome}"), |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(through::<Plain>(allow).await) });
        });
        group.bench_function(format!("ProblemBody layer, {outcome}"), |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(through::<WithProblemBody>(allow).await) });
        });
        group.bench_function(format!("boxed-body layer, {outcome}"), |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(through::<Boxed>(allow).await) });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
