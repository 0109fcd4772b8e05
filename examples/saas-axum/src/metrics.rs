//! Prometheus metrics at `GET /metrics` (text exposition format 0.0.4).
//!
//! Everything recorded through the [`metrics`] facade is exposed: the starter's HTTP metrics
//! (below) and the counters and histograms Mortar's crates keep (`mortar_jobs_*`,
//! `mortar_audit_*`, `mortar_ratelimit_*`…).
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `http_requests_total` | counter | `method`, `route` (the matched route pattern, e.g. `/orgs/{org}`; `unmatched` otherwise), `status` |
//! | `http_request_duration_seconds` | histogram | `method`, `route`, `status` |
//! | `http_requests_in_flight` | gauge | — |
//!
//! Routes are labelled by their pattern, never by the raw path, so ids in paths do not create
//! a time series each.
//!
//! Who may scrape: with `MORTAR_METRICS_TOKEN` set, requests bearing that token
//! (`Authorization: Bearer …`); without it, only clients on the loopback interface (a sidecar
//! or a node agent). Anything else gets a 404 problem, so the endpoint is not advertised.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use mortar::core::Problem;
use secrecy::ExposeSecret as _;
use subtle::ConstantTimeEq as _;

use crate::state::AppState;

/// The latency buckets, in seconds: 1 ms to 10 s.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed as the global `metrics` recorder on first use.
/// `None` when the application installed another recorder first (then export from that one).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
                .map(|b| b.upkeep_timeout(Duration::from_secs(5)));
            match builder.map(PrometheusBuilder::install_recorder) {
                Ok(Ok(handle)) => Some(handle),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "a metrics recorder is installed already: /metrics is empty");
                    None
                }
                Err(error) => {
                    tracing::warn!(%error, "the metrics buckets are invalid");
                    None
                }
            }
        })
        .as_ref()
}

/// A request being counted: `http_requests_in_flight` is up while it lives (also when the
/// client goes away and its future is dropped unanswered), and [`Tracked::finish`] records its
/// count and latency by method, route pattern and status.
#[derive(Debug)]
pub struct Tracked {
    start: Instant,
    method: axum::http::Method,
    route: Option<MatchedPath>,
}

impl Tracked {
    /// Starts counting `request` (read inside the router, where the route pattern is known).
    pub fn start(request: &Request) -> Self {
        metrics::gauge!("http_requests_in_flight").increment(1.0);
        Self {
            start: Instant::now(),
            method: request.method().clone(),
            route: request.extensions().get::<MatchedPath>().cloned(),
        }
    }

    /// Records the request's answer.
    pub fn finish(self, response: &Response) {
        let labels = [
            ("method", self.method.as_str().to_owned()),
            (
                "route",
                self.route
                    .as_ref()
                    .map_or("unmatched", MatchedPath::as_str)
                    .to_owned(),
            ),
            ("status", response.status().as_str().to_owned()),
        ];
        metrics::counter!("http_requests_total", &labels).increment(1);
        metrics::histogram!("http_request_duration_seconds", &labels)
            .record(self.start.elapsed().as_secs_f64());
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        metrics::gauge!("http_requests_in_flight").decrement(1.0);
    }
}

/// Whether the caller may scrape (see the module docs).
fn allowed(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    match &state.config().metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| {
                bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes()))
            }),
        None => peer.is_some_and(|addr| addr.ip().is_loopback()),
    }
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    description = "Prometheus text format. With `MORTAR_METRICS_TOKEN` set, only requests bearing it; otherwise only loopback clients. Anyone else gets a 404.",
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain; version=0.0.4", body = String),
        (status = 404, description = "Not for this caller", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("metrics_token" = []))
)]
pub(crate) async fn metrics(State(state): State<AppState>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    if !allowed(&state, peer, request.headers()) {
        return Problem::not_found().into_response();
    }
    let Some(handle) = handle() else {
        return Problem::not_found().into_response();
    };
    handle.run_upkeep();
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        handle.render(),
    )
        .into_response()
}
