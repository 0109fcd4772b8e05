//! The tower layer: 429 problem documents, `Retry-After`, the `RateLimit` headers (valid
//! structured fields), policies keyed by address, principal and tier, and the inner service
//! never reached by a refused request.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use mortar_core::{ManualClock, Principal};
use mortar_ratelimit::{
    ClientIp, KeyBy, MemoryLimiter, PeerAddr, Policy, Quota, RateLimitLayer, RateLimiter,
};
use serde_json::Value;
use tower::ServiceExt as _;

fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

struct App {
    router: Router,
    calls: Arc<AtomicUsize>,
    clock: ManualClock,
}

fn app(policies: Vec<Policy>, client_ip: ClientIp) -> App {
    let clock = ManualClock::default();
    let mut limiter = RateLimiter::in_memory(Arc::new(MemoryLimiter::new().clock(clock.clone())))
        .client_ip(client_ip);
    for p in policies {
        limiter = limiter.policy(p);
    }
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = Router::new()
        .route(
            "/",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { "ok" }
            }),
        )
        .layer(RateLimitLayer::new(limiter));
    App {
        router,
        calls,
        clock,
    }
}

async fn call(
    app: &App,
    peer: &str,
    principal: Option<Principal>,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, Value) {
    let mut req = Request::get("/");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::empty()).unwrap();
    req.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    let res = app.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, json)
}

/// Parses a header as an RFC 9651 list with sfv, answering (name, params) per member.
fn parse_list(value: &str) -> Vec<(String, Vec<(String, i64)>)> {
    let list = sfv::Parser::new(value)
        .parse::<sfv::List>()
        .expect("a valid structured-field list");
    list.into_iter()
        .map(|entry| match entry {
            sfv::ListEntry::Item(item) => {
                let name = match item.bare_item {
                    sfv::BareItem::String(s) => s.as_str().to_owned(),
                    other => panic!("not a string: {other:?}"),
                };
                let params = item
                    .params
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            v.as_integer().map(i64::from).unwrap(),
                        )
                    })
                    .collect();
                (name, params)
            }
            sfv::ListEntry::InnerList(_) => panic!("an inner list"),
        })
        .collect()
}

#[tokio::test]
async fn limited_requests_get_a_problem_retry_after_and_headers() {
    let app = app(
        vec![
            Policy::new("burst", Quota::per_second(n(2)), KeyBy::Ip).unwrap(),
            Policy::new("daily", Quota::per_day(n(100)), KeyBy::Ip).unwrap(),
        ],
        ClientIp::new(),
    );
    let (status, headers, _) = call(&app, "203.0.113.7", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let policy = headers["ratelimit-policy"].to_str().unwrap();
    assert_eq!(policy, "\"burst\";q=2;w=1, \"daily\";q=100;w=86400");
    let limit = headers["ratelimit"].to_str().unwrap();
    assert_eq!(limit, "\"burst\";r=1;t=1, \"daily\";r=99;t=864");
    assert_eq!(
        parse_list(policy),
        vec![
            (
                "burst".to_owned(),
                vec![("q".to_owned(), 2), ("w".to_owned(), 1)]
            ),
            (
                "daily".to_owned(),
                vec![("q".to_owned(), 100), ("w".to_owned(), 86_400)]
            ),
        ]
    );
    assert_eq!(parse_list(limit).len(), 2);

    call(&app, "203.0.113.7", None, &[]).await;
    let (status, headers, problem) = call(&app, "203.0.113.7", None, &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(problem["type"], "urn:mortar:problem:rate-limited");
    assert_eq!(problem["status"], 429);
    assert_eq!(problem["retry_after"], 1);
    assert_eq!(problem["policies"], serde_json::json!(["burst"]));
    assert!(
        headers["ratelimit"]
            .to_str()
            .unwrap()
            .starts_with("\"burst\";r=0;")
    );
    assert_eq!(
        app.calls.load(Ordering::SeqCst),
        2,
        "the refused request never reached the handler"
    );

    // Another address has its own allowance; time refills.
    assert_eq!(
        call(&app, "198.51.100.1", None, &[]).await.0,
        StatusCode::OK
    );
    app.clock.advance(Duration::from_millis(500));
    assert_eq!(call(&app, "203.0.113.7", None, &[]).await.0, StatusCode::OK);
}

#[tokio::test]
async fn retry_after_is_never_earlier_than_the_refill() {
    let app = app(
        vec![
            Policy::new(
                "slow",
                Quota::new(2, Duration::from_secs(3)).unwrap(),
                KeyBy::Ip,
            )
            .unwrap(),
        ],
        ClientIp::new(),
    );
    call(&app, "192.0.2.1", None, &[]).await;
    call(&app, "192.0.2.1", None, &[]).await;
    app.clock.advance(Duration::from_millis(100));
    let (_, headers, _) = call(&app, "192.0.2.1", None, &[]).await;
    // 1.4 s left: rounded up.
    assert_eq!(headers["retry-after"], "2");
}

#[tokio::test]
async fn principals_tiers_and_forwarded_addresses() {
    let pro = |p: &Principal| p.has_role("pro").then(|| Quota::per_minute(n(3)));
    let app = app(
        vec![
            Policy::new("user", Quota::per_minute(n(1)), KeyBy::Subject)
                .unwrap()
                .tiers(pro),
        ],
        ClientIp::trusting(["10.0.0.0/8"]).unwrap(),
    );
    // Anonymous requests are not under a per-user policy.
    for _ in 0..3 {
        assert_eq!(call(&app, "10.0.0.1", None, &[]).await.0, StatusCode::OK);
    }
    let free = Principal::user("u-free").build();
    assert_eq!(
        call(&app, "10.0.0.1", Some(free.clone()), &[]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, "10.0.0.1", Some(free), &[]).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    let paid = Principal::user("u-pro").role("pro").build();
    for _ in 0..3 {
        assert_eq!(
            call(&app, "10.0.0.1", Some(paid.clone()), &[]).await.0,
            StatusCode::OK
        );
    }
    let (status, headers, _) = call(&app, "10.0.0.1", Some(paid), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["ratelimit-policy"], "\"user\";q=3;w=60");

    // By address behind a trusted proxy: the forwarded client, not the proxy.
    let by_ip = self::app(
        vec![Policy::new("ip", Quota::per_minute(n(1)), KeyBy::Ip).unwrap()],
        ClientIp::trusting(["10.0.0.0/8"]).unwrap(),
    );
    let xff = |ip: &'static str| [("x-forwarded-for", ip)];
    assert_eq!(
        call(&by_ip, "10.0.0.1", None, &xff("203.0.113.1")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&by_ip, "10.0.0.2", None, &xff("203.0.113.2")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&by_ip, "10.0.0.3", None, &xff("203.0.113.1")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // An untrusted peer cannot pick its key with the header.
    assert_eq!(
        call(&by_ip, "198.51.100.9", None, &xff("203.0.113.3"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&by_ip, "198.51.100.9", None, &xff("203.0.113.4"))
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn custom_tenant_and_api_key_policies_and_their_headers() {
    // A custom key reads the whole request head (the layer takes the request apart for it).
    let by_agent = KeyBy::Custom(Arc::new(|parts: &http::request::Parts| {
        parts
            .headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }));
    let agents = app(
        vec![Policy::new("agent", Quota::per_minute(n(1)), by_agent).unwrap()],
        ClientIp::new(),
    );
    let ua = |agent: &'static str| [("user-agent", agent)];
    assert_eq!(
        call(&agents, "192.0.2.1", None, &ua("bot/1")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&agents, "192.0.2.2", None, &ua("curl/8")).await.0,
        StatusCode::OK
    );
    let (status, headers, _) = call(&agents, "192.0.2.3", None, &ua("bot/1")).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "keyed by agent, not address"
    );
    assert_eq!(headers["ratelimit"], "\"agent\";r=0;t=60");
    assert_eq!(
        call(&agents, "192.0.2.3", None, &[]).await.0,
        StatusCode::OK,
        "no key"
    );

    // Tenant and API-key policies together; tiers change one quota.
    let app = app(
        vec![
            Policy::new("tenant", Quota::per_minute(n(3)), KeyBy::Tenant)
                .unwrap()
                .tiers(|p| p.has_role("big").then(|| Quota::per_minute(n(5)))),
            Policy::new("key", Quota::per_minute(n(2)), KeyBy::ApiKey).unwrap(),
        ],
        ClientIp::new(),
    );
    let key = Principal::api_key("k-1").tenant("acme").build();
    let (status, headers, _) = call(&app, "192.0.2.1", Some(key.clone()), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["ratelimit-policy"],
        "\"tenant\";q=3;w=60, \"key\";q=2;w=60"
    );
    assert_eq!(
        headers["ratelimit"],
        "\"tenant\";r=2;t=20, \"key\";r=1;t=30"
    );
    // A user of the same tenant: the tenant policy only.
    let user = Principal::user("u-1").tenant("acme").build();
    let (_, headers, _) = call(&app, "192.0.2.1", Some(user), &[]).await;
    assert_eq!(headers["ratelimit-policy"], "\"tenant\";q=3;w=60");
    assert_eq!(headers["ratelimit"], "\"tenant\";r=1;t=40");
    // The key's second request spends both allowances; the third is refused by both.
    assert_eq!(
        call(&app, "192.0.2.1", Some(key.clone()), &[]).await.0,
        StatusCode::OK
    );
    let (status, headers, problem) = call(&app, "192.0.2.1", Some(key), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem["policies"], serde_json::json!(["tenant", "key"]));
    assert_eq!(
        headers["ratelimit"],
        "\"tenant\";r=0;t=60, \"key\";r=0;t=60"
    );
    // A bigger tenant's tier: its own quota in the policy header.
    let big = Principal::user("u-2").tenant("globex").role("big").build();
    let (_, headers, _) = call(&app, "192.0.2.1", Some(big), &[]).await;
    assert_eq!(headers["ratelimit-policy"], "\"tenant\";q=5;w=60");
    assert_eq!(
        app.calls.load(Ordering::SeqCst),
        4,
        "the refused one never got in"
    );
}

#[tokio::test]
async fn the_429_body_is_pluggable() {
    let limiter =
        RateLimiter::memory().policy(Policy::new("api", Quota::per_hour(n(1)), KeyBy::Ip).unwrap());
    let router = Router::new().route("/", get(|| async { "ok" })).layer(
        RateLimitLayer::new(limiter).on_limited(|outcome| {
            mortar_core::Problem::new(StatusCode::TOO_MANY_REQUESTS)
                .with_detail(format!("{} policies", outcome.decisions.len()))
        }),
    );
    let app = App {
        router,
        calls: Arc::default(),
        clock: ManualClock::default(),
    };
    call(&app, "192.0.2.9", None, &[]).await;
    let (status, headers, problem) = call(&app, "192.0.2.9", None, &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem["detail"], "1 policies");
    assert_eq!(headers["retry-after"], "3600");
}

#[tokio::test]
async fn concurrency_limits_per_key() {
    use mortar_ratelimit::ConcurrencyLimitLayer;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let entered = Arc::new(tokio::sync::Semaphore::new(0));
    let (g, e) = (gate.clone(), entered.clone());
    let layer = ConcurrencyLimitLayer::new(n(2), KeyBy::Ip);
    let router = Router::new()
        .route(
            "/",
            get(move || {
                let (g, e) = (g.clone(), e.clone());
                async move {
                    e.add_permits(1);
                    g.acquire().await.unwrap().forget();
                    "done"
                }
            }),
        )
        .layer(layer.clone());
    let app = App {
        router,
        calls: Arc::default(),
        clock: ManualClock::default(),
    };
    let app = Arc::new(app);
    let spawn = |peer: &'static str| {
        let app = app.clone();
        tokio::spawn(async move { call(&app, peer, None, &[]).await.0 })
    };
    let first = spawn("192.0.2.1");
    let second = spawn("192.0.2.1");
    entered.acquire_many(2).await.unwrap().forget();
    assert_eq!(layer.in_flight("192.0.2.1"), 2);
    let (status, headers, problem) = call(&app, "192.0.2.1", None, &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(
        problem["type"],
        "urn:mortar:problem:too-many-concurrent-requests"
    );
    // Another key is not affected.
    let other = spawn("192.0.2.2");
    entered.acquire().await.unwrap().forget();
    gate.add_permits(3);
    for task in [first, second, other] {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(layer.in_flight("192.0.2.1"), 0);
    assert!(
        format!("{layer:?}").contains("keys_in_flight: 0"),
        "no memory for idle keys"
    );
}

/// Outside authentication in one `ServiceBuilder` (a per-address limit in front of the token
/// check, so floods of guessed tokens are refused before any is checked): the inner body is
/// authentication's `ProblemBody`, which the 429 is built in.
#[tokio::test]
async fn composes_outside_authentication_in_one_service_builder() {
    let limiter = RateLimiter::memory()
        .policy(Policy::new("ip", Quota::per_minute(n(1)), KeyBy::Ip).unwrap());
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = handled.clone();
    let service = tower::ServiceBuilder::new()
        .layer(RateLimitLayer::new(limiter))
        .layer(mortar_auth::layer::AuthLayer::required())
        .service(tower::service_fn(move |_req: Request<Body>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(http::Response::new(Body::from("ok"))) }
        }));
    let req = || {
        let mut req = Request::get("/").body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(PeerAddr("203.0.113.9".parse().unwrap()));
        req
    };
    // The first request passes the limit and meets authentication: no credentials, 401.
    let first = service.clone().oneshot(req()).await.unwrap();
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    assert!(first.headers().contains_key("ratelimit"));
    // The second is refused by the limit before authentication runs.
    let second = service.oneshot(req()).await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(second.headers().contains_key("retry-after"));
    let body = second.into_body().collect().await.unwrap().to_bytes();
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["type"], "urn:mortar:problem:rate-limited");
    assert_eq!(handled.load(Ordering::SeqCst), 0, "the handler never ran");
}
