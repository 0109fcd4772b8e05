//! Load test over loopback: one JSON handler behind Mortar's whole middleware stack, against the
//! same handler on bare axum, in the same run, alternating.
//!
//! The stack, in the starter's order (outermost first): authentication (`AuthLayer` verifying
//! the default EdDSA bearer JWT; one token reused by every request, as a client reuses its
//! token), feature flags (`FlagsLayer`, the route gated by `RequireFlag` on a 50 % rollout that
//! includes the caller), request audit as the starter runs it globally (inside
//! authentication, so it sees the principal: every signed-in caller's last-seen time tracked;
//! the starter records mutating requests with a route layer on the routes that change things,
//! and a GET is no event; `MORTAR_LOAD_AUDIT=all` records every request as an event too, into
//! a JSON-lines sink on a null writer), localization (`LocaleLayer` negotiating
//! `Accept-Language`; the handler formats a Fluent message), rate limiting (`RateLimitLayer`,
//! in-process GCRA per address and per subject, limits high enough never to refuse) and
//! authorization (`RequirePermission`: `reports:read` in the organization named by the path,
//! `tenant_after("orgs")`). The bare server runs the same handler shape with constants where
//! the stack's values would be. The global layers are composed with `tower::ServiceBuilder`
//! and wrapped around the `Router`; the two guards go on the route in one `route_layer` call
//! (`MORTAR_LOAD_STACK=router`: the global layers in one `Router::layer` call instead, which
//! axum applies to every route, boxing it once more; `MORTAR_LOAD_STACK=layers`: one call per
//! layer, each boxed by axum).
//!
//! The server runs on core 0 and the load generator (`oha`) on core 1 (`taskset`), each server
//! on a one-thread Tokio runtime. Per round and mode: a warm-up, a closed-loop throughput run
//! (64 connections) with the server's CPU time read from `/proc` before and after, then an
//! open-loop run at a fixed rate with latency correction (p50 / p99). Modes alternate within
//! each round, so drift on the machine hits both.
//!
//! Run: `cargo bench -p mortar-benches --bench load` (needs `oha` on PATH — `cargo install oha
//! --locked` — and `taskset`). `MORTAR_LOAD_ROUNDS` (default 3), `MORTAR_LOAD_SECONDS`
//! (default 10) and `MORTAR_LOAD_RATE` (requests/s of the fixed-rate run, default 5000) tune it;
//! `MORTAR_LOAD_LAYERS` (e.g. `auth,rbac`) keeps only those of `audit`, `auth`, `flags`,
//! `i18n`, `ratelimit`, `rbac` in the stack, to measure what each costs.
//! Goals (issue 12): the stack at ≥ 0.7× bare throughput and ≤ 1.5× bare CPU per request.

use std::convert::Infallible;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::ServiceExt as AxumServiceExt;
use axum::extract::{Path, Request};
use axum::response::IntoResponse;
use axum::routing::get;
use mortar_audit::{
    ActivityTracker, AuditLayer, DurableRecorder, JsonLinesSink, MemoryLastSeen, RequestAudit,
};
use mortar_auth::layer::AuthLayer;
use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
use mortar_core::{AuthMethod, Principal};
use mortar_flags::{EvaluationContext, FeatureFlags, FlagSet, Flags, FlagsLayer, RequireFlag};
use mortar_i18n::{I18n, Locale, LocaleLayer, t};
use mortar_ratelimit::{ClientIp, KeyBy, Policy, Quota, RateLimitLayer, RateLimiter};
use mortar_rbac::{Assignment, Rbac, RequirePermission, Role};
use serde_json::{Value, json};
use tower::layer::util::{Identity, Stack};
use tower::{Service, ServiceBuilder};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";
const PATH: &str = "/orgs/acme/reports";

const FLAGS: &str = r#"{"flags": {"reports": {
    "state": "ENABLED",
    "variants": {"on": true, "off": false},
    "defaultVariant": "off",
    "targeting": {"fractional": [{"var": "targetingKey"}, ["on", 50], ["off", 50]]}
}}}"#;

const FTL: &str = "report-title = Reports of { $org }\n";

/// The handler's answer: the same shape in both modes.
fn answer(org: &str, title: &str, subject: &str, beta: bool) -> Json<Value> {
    Json(json!({"org": org, "title": title, "for": subject, "beta": beta, "rows": [1, 2, 3]}))
}

async fn bare(Path(org): Path<String>) -> Json<Value> {
    let title = format!("Reports of {org}");
    answer(&org, &title, "user-1", true)
}

async fn full(Path(org): Path<String>, req: Request) -> Json<Value> {
    // From the extensions the layers filled (each one may be left out: MORTAR_LOAD_LAYERS).
    let ext = req.extensions();
    let title = ext.get::<Locale>().map_or_else(
        || format!("Reports of {org}"),
        |locale| t!(locale, "report-title", org = org.as_str()).into_owned(),
    );
    let beta = ext
        .get::<Flags>()
        .is_some_and(|flags| flags.bool("reports", false).value);
    let subject = ext
        .get::<Principal>()
        .map_or("anonymous", Principal::subject);
    answer(&org, &title, subject, beta)
}

/// What the stack is built from, and a token for it.
struct Parts {
    token: String,
    tokens: AccessTokens,
    flags: FeatureFlags,
    guard: RequirePermission,
    i18n: I18n,
    limiter: RateLimiter,
    audit: RequestAudit,
}

async fn parts() -> Parts {
    let ring = KeyRing::new(SigningKey::generate_ed25519("bench").expect("key"));
    let tokens = AccessTokens::builder(ring, ISS, AUD).build();
    let flags = FeatureFlags::builder()
        .source(FlagSet::from_json(FLAGS).expect("flags"))
        .build()
        .await
        .expect("flags");
    // A subject the 50 % rollout includes (the flag is on for it: the handler runs).
    let subject = (0..1000)
        .map(|i| format!("user-{i}"))
        .find(|s| {
            flags
                .bool(
                    "reports",
                    &EvaluationContext::with_targeting_key(s.as_str()),
                    false,
                )
                .value
        })
        .expect("one subject in 1000 is in a 50 % rollout");
    let principal = Principal::user(&subject)
        .method(AuthMethod::Password)
        .session_id("bench-session")
        .build();
    let token = tokens.issue(&principal).expect("token").token().to_owned();

    let rbac = Rbac::new(
        mortar_rbac::Policy::new()
            .role("analyst", Role::new().allow("reports:read"))
            .assign(Assignment::new(&subject, "analyst").in_tenant("acme")),
    )
    .expect("policy");
    let i18n = I18n::builder()
        .default_locale("en")
        .add_named_ftl("en", "en.ftl", FTL)
        .build()
        .expect("catalog");
    let per_minute = |n| Quota::per_minute(std::num::NonZeroU32::new(n).expect("non-zero"));
    let limiter = RateLimiter::memory()
        .client_ip(ClientIp::trusting(std::iter::empty::<&str>()).expect("no proxies"))
        .policy(Policy::new("ip", per_minute(1_000_000_000), KeyBy::Ip).expect("policy"))
        .policy(Policy::new("user", per_minute(1_000_000_000), KeyBy::Subject).expect("policy"));
    let recorder = DurableRecorder::builder()
        .sink(JsonLinesSink::new(tokio::io::sink()))
        .start();
    // As the starter runs it: every signed-in caller's last-seen time tracked, nothing recorded
    // by the global layer (the starter records mutating requests with a route layer on the
    // routes that change things; a GET is no audit event); MORTAR_LOAD_AUDIT=all records
    // every request as an event too.
    let mut audit = RequestAudit::new(Arc::new(recorder))
        .methods(|_| false)
        .activity(Arc::new(ActivityTracker::new(Arc::new(
            MemoryLastSeen::default(),
        ))));
    if std::env::var("MORTAR_LOAD_AUDIT").as_deref() == Ok("all") {
        audit = audit.methods(|_| true);
    }
    // `reports:read` in the organization the path names (the starter's organization routes).
    let guard = RequirePermission::new(&rbac, "reports:read")
        .expect("permission")
        .tenant_after("orgs");
    Parts {
        token,
        tokens,
        flags,
        guard,
        i18n,
        limiter,
        audit,
    }
}

/// The route with its guards: the flag gate and the permission, in one `route_layer` call.
fn guarded_route(p: &Parts) -> Router {
    let guards = ServiceBuilder::new()
        .layer(RequireFlag::new(&p.flags, "reports"))
        .layer(p.guard.clone());
    Router::new().route("/orgs/{org}/reports", get(full).route_layer(guards))
}

/// The global layers, outermost first, composed by `ServiceBuilder` (one type, named, so both
/// compositions below use the very same stack).
type Global = ServiceBuilder<
    Stack<
        RateLimitLayer,
        Stack<LocaleLayer, Stack<AuditLayer, Stack<FlagsLayer, Stack<AuthLayer, Identity>>>>,
    >,
>;

fn global(p: &Parts) -> Global {
    ServiceBuilder::new()
        .layer(AuthLayer::optional().with(p.tokens.clone()))
        .layer(FlagsLayer::new(p.flags.clone()))
        .layer(AuditLayer::new(p.audit.clone()))
        .layer(LocaleLayer::new(p.i18n.clone()))
        .layer(RateLimitLayer::new(p.limiter.clone()))
}

/// The whole stack around the router (the default): the global layers composed with
/// `ServiceBuilder` and wrapped around the `Router`, as axum's docs show for middleware that
/// runs before routing — one monomorphic service, no boxed route per layer call. None of these
/// layers reads the matched route (the audit layer records nothing here; a recording one goes
/// on the routes, as in the starter).
async fn full_service() -> (
    impl Service<
        Request,
        Response = axum::response::Response,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static,
    String,
) {
    let p = parts().await;
    let service = ServiceBuilder::new()
        // `axum::serve` takes `Response<Body>`, as a router answers.
        .map_response(IntoResponse::into_response)
        .layer(global(&p))
        .service(guarded_route(&p).with_state::<()>(()));
    (service, p.token)
}

/// The stack inside the router (`MORTAR_LOAD_STACK=router`: one `Router::layer` call, which axum
/// applies to every route, boxing it once more), or one call per layer
/// (`MORTAR_LOAD_STACK=layers`), or only the layers `MORTAR_LOAD_LAYERS` names.
async fn full_router() -> (Router, String) {
    let p = parts().await;
    let wanted = std::env::var("MORTAR_LOAD_LAYERS").ok();
    let on = |layer: &str| {
        wanted
            .as_deref()
            .is_none_or(|list| list.split(',').any(|l| l.trim() == layer))
    };
    if wanted.is_none() && std::env::var("MORTAR_LOAD_STACK").as_deref() != Ok("layers") {
        // One `Router::layer` / `route_layer` call each with the layers composed by
        // `ServiceBuilder` (outermost first), as axum recommends: axum boxes the service once per
        // call, so one call instead of one per layer saves a boxed service and future each.
        return (guarded_route(&p).layer(global(&p)), p.token);
    }
    let mut route = get(full);
    if on("rbac") {
        route = route.route_layer(p.guard);
    }
    if on("flags") {
        route = route.route_layer(RequireFlag::new(&p.flags, "reports"));
    }
    let mut router = Router::new().route("/orgs/{org}/reports", route);
    if on("ratelimit") {
        router = router.layer(RateLimitLayer::new(p.limiter));
    }
    if on("i18n") {
        router = router.layer(LocaleLayer::new(p.i18n));
    }
    if on("audit") {
        router = router.layer(AuditLayer::new(p.audit));
    }
    if on("flags") {
        router = router.layer(FlagsLayer::new(p.flags));
    }
    if on("auth") {
        router = router.layer(AuthLayer::optional().with(p.tokens));
    }
    (router, p.token)
}

/// Which composition `full` runs: around the router (default), or inside it.
fn outer() -> bool {
    std::env::var("MORTAR_LOAD_STACK").is_err() && std::env::var("MORTAR_LOAD_LAYERS").is_err()
}

/// Server mode: serve `mode` on 127.0.0.1 (an ephemeral port) and print `READY addr token`.
fn serve(mode: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        match mode {
            "full" if outer() => {
                let (service, token) = full_service().await;
                serve_on(service, &token).await;
            }
            "full" => {
                let (router, token) = full_router().await;
                serve_on(router, &token).await;
            }
            _ => serve_on(bare_router(), "none").await,
        }
    });
}

/// The bare server: the handler alone.
fn bare_router() -> Router {
    Router::new().route("/orgs/{org}/reports", get(bare))
}

async fn serve_on<S>(service: S, token: &str)
where
    S: Service<Request, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    println!("READY {addr} {token}");
    let service =
        AxumServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(service);
    axum::serve(listener, service).await.expect("serve");
}

/// A running server process.
struct Server {
    child: Child,
    addr: String,
    token: String,
}

impl Server {
    fn start(mode: &str) -> Self {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new("taskset")
            .args(["-c", "0"])
            .arg(exe)
            .args(["--serve", mode])
            .stdout(Stdio::piped())
            .spawn()
            .expect("taskset (util-linux) starts the server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("READY line");
        let mut parts = line.split_whitespace().skip(1);
        let addr = parts.next().expect("address").to_owned();
        let token = parts.next().expect("token").to_owned();
        Self { child, addr, token }
    }

    /// User + system CPU time of the server so far, in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).expect("/proc stat");
        // Fields after the command name (which may hold spaces) start after the last ')'.
        let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 (1-based), here 11 and 12 (0-based from state).
        let ticks: f64 =
            fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
        // The kernel's USER_HZ is 100 on Linux.
        ticks / 100.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One oha run against `server`; `rate` set: open loop at that rate with latency correction.
fn oha(server: &Server, seconds: u64, rate: Option<u32>) -> Value {
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "1", "oha", "--no-tui", "--output-format", "json"])
        .args(["-z", &format!("{seconds}s"), "-c", "64"])
        .args(["-H", &format!("authorization: Bearer {}", server.token)])
        .args(["-H", "accept-language: en"]);
    if let Some(rate) = rate {
        cmd.args(["-q", &rate.to_string(), "--latency-correction"]);
    }
    let out = cmd
        .arg(format!("http://{}{PATH}", server.addr))
        .output()
        .expect("oha runs (cargo install oha --locked)");
    assert!(
        out.status.success(),
        "oha failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("oha's JSON")
}

/// Requests per second, and the share answered 200.
fn throughput(report: &Value) -> (f64, f64) {
    let rps = report["summary"]["requestsPerSec"]
        .as_f64()
        .expect("requestsPerSec");
    let codes = report["statusCodeDistribution"]
        .as_object()
        .expect("status codes");
    let total: f64 = codes.values().filter_map(Value::as_f64).sum();
    let ok = codes.get("200").and_then(Value::as_f64).unwrap_or(0.0);
    (rps, ok / total.max(1.0))
}

fn percentile_ms(report: &Value, p: &str) -> f64 {
    report["latencyPercentiles"][p]
        .as_f64()
        .expect("percentile")
        * 1000.0
}

fn total_requests(report: &Value, seconds: u64) -> f64 {
    let rps = report["summary"]["requestsPerSec"]
        .as_f64()
        .expect("requestsPerSec");
    rps * f64::from(u32::try_from(seconds).unwrap_or(u32::MAX))
}

#[derive(Default)]
struct Figures {
    rps: Vec<f64>,
    cpu_us_per_req: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// In-process mode: the service called `n` times through `oneshot` (no network), ns per call.
fn in_process(mode: &str, n: u32) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // As `axum::serve` runs a router: with its state, so handlers are routes already (a
        // bare `Router<()>` called as a service turns each handler into a route per request).
        match mode {
            "full" if outer() => {
                let (service, token) = full_service().await;
                calls(mode, service, &token, n).await;
            }
            "full" => {
                let (router, token) = full_router().await;
                calls(mode, router.with_state::<()>(()), &token, n).await;
            }
            _ => calls(mode, bare_router().with_state::<()>(()), "none", n).await,
        }
    });
}

async fn calls<S>(mode: &str, service: S, token: &str, n: u32)
where
    S: Service<Request, Response = axum::response::Response, Error = Infallible> + Clone,
{
    use tower::ServiceExt as _;
    let peer = axum::extract::ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 5555)));
    let start = std::time::Instant::now();
    for _ in 0..n {
        let mut req = Request::get(PATH)
            .header("authorization", format!("Bearer {token}"))
            .header("accept-language", "en")
            .body(axum::body::Body::empty())
            .expect("request");
        req.extensions_mut().insert(peer);
        let res = service.clone().oneshot(req).await.expect("answer");
        assert_eq!(res.status(), 200);
        let _ = axum::body::to_bytes(res.into_body(), 1 << 16).await;
    }
    let ns = start.elapsed().as_nanos() / u128::from(n);
    println!("{mode}: {ns} ns per request in process");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--in-process") {
        in_process(
            args.get(i + 1).map_or("bare", String::as_str),
            env_or("MORTAR_LOAD_CALLS", 200_000),
        );
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        serve(args.get(i + 1).map_or("bare", String::as_str));
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing of ours: only a
    // real bench run measures.
    if !args.iter().any(|a| a == "--bench") {
        println!("load: run with `cargo bench -p mortar-benches --bench load`");
        return;
    }
    let rounds: usize = env_or("MORTAR_LOAD_ROUNDS", 3);
    let seconds: u64 = env_or("MORTAR_LOAD_SECONDS", 10);
    let rate: u32 = env_or("MORTAR_LOAD_RATE", 5000);
    let mut figures = [Figures::default(), Figures::default()];
    for round in 1..=rounds {
        for (i, mode) in ["bare", "full"].into_iter().enumerate() {
            let server = Server::start(mode);
            oha(&server, 2, None); // warm-up: connections, caches, allocator
            let cpu_before = server.cpu_seconds();
            let report = oha(&server, seconds, None);
            let cpu = server.cpu_seconds() - cpu_before;
            let (rps, ok) = throughput(&report);
            assert!(ok > 0.999, "{mode}: only {:.1}% answered 200", ok * 100.0);
            let cpu_us = cpu * 1e6 / total_requests(&report, seconds);
            let fixed = oha(&server, seconds, Some(rate));
            let (_, fixed_ok) = throughput(&fixed);
            assert!(fixed_ok > 0.999, "{mode} at {rate}/s: not all 200");
            let (p50, p99) = (percentile_ms(&fixed, "p50"), percentile_ms(&fixed, "p99"));
            println!(
                "round {round} {mode:4}: {rps:9.0} req/s, {cpu_us:6.1} µs CPU/req; at {rate}/s p50 {p50:.3} ms, p99 {p99:.3} ms"
            );
            let f = &mut figures[i];
            f.rps.push(rps);
            f.cpu_us_per_req.push(cpu_us);
            f.p50.push(p50);
            f.p99.push(p99);
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    let [b, f] = &figures;
    println!("\nmedians over {rounds} rounds ({seconds} s each, 64 connections):");
    println!(
        "bare axum:    {:9.0} req/s  {:6.1} µs CPU/req  p50 {:.3} ms  p99 {:.3} ms at {rate}/s",
        median(&b.rps),
        median(&b.cpu_us_per_req),
        median(&b.p50),
        median(&b.p99)
    );
    println!(
        "Mortar stack: {:9.0} req/s  {:6.1} µs CPU/req  p50 {:.3} ms  p99 {:.3} ms at {rate}/s",
        median(&f.rps),
        median(&f.cpu_us_per_req),
        median(&f.p50),
        median(&f.p99)
    );
    let ratios: Vec<String> = f
        .rps
        .iter()
        .zip(&b.rps)
        .map(|(f, b)| format!("{:.2}", f / b))
        .collect();
    let cpu_ratios: Vec<String> = f
        .cpu_us_per_req
        .iter()
        .zip(&b.cpu_us_per_req)
        .map(|(f, b)| format!("{:.2}", f / b))
        .collect();
    println!(
        "throughput ratio per round: {} (goal >= 0.7); CPU per request ratio per round: {} (goal <= 1.5)",
        ratios.join(", "),
        cpu_ratios.join(", ")
    );
}
