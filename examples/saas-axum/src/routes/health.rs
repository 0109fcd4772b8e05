//! `/health` (liveness) and `/ready` (readiness: every backend in use answers).
//!
//! Both answer `application/health+json` in the shape of the IETF "Health Check Response Format
//! for HTTP APIs" draft: `status` is `pass` or `fail`, `checks` has one entry per backend with its
//! status and the time it took. Failures name the backend, never the error text (it may hold
//! host names or credentials); the error goes to the log.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::state::AppState;

const HEALTH_JSON: &str = "application/health+json";

/// How long one backend may take to answer `/ready`.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A health answer (`application/health+json`).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// `pass` or `fail`.
    #[schema(value_type = String, example = "pass")]
    status: &'static str,
    /// One check per backend (`/ready` only): `database`, `redis`, `s3`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = BTreeMap<String, Check>)]
    checks: BTreeMap<&'static str, Check>,
}

/// One backend's check.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Check {
    /// `pass` or `fail`.
    #[schema(value_type = String)]
    status: &'static str,
    /// How long it took to answer.
    duration_ms: u64,
}

fn respond(status: StatusCode, body: &Health) -> Response {
    let json = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [
            (header::CONTENT_TYPE, HEALTH_JSON),
            (header::CACHE_CONTROL, "no-store"),
        ],
        json,
    )
        .into_response()
}

/// Liveness: the process is up and serving.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses((status = 200, description = "Serving", body = Health, content_type = "application/health+json"))
)]
pub(crate) async fn health() -> Response {
    respond(
        StatusCode::OK,
        &Health {
            status: "pass",
            checks: BTreeMap::new(),
        },
    )
}

/// Readiness: the database (and Redis and S3, when configured) answer within two seconds each;
/// 503 otherwise.
#[utoipa::path(
    get,
    path = "/ready",
    tag = "operations",
    responses(
        (status = 200, description = "Every backend answers", body = Health, content_type = "application/health+json"),
        (status = 503, description = "A backend does not answer (named in `checks`)", body = Health, content_type = "application/health+json"),
    )
)]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    let database = timed("database", async {
        state.db().ping().await.map_err(|e| e.to_string())
    });
    let redis = async {
        match state.redis() {
            Some(pool) => Some(
                timed("redis", async {
                    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
                    deadpool_redis::redis::cmd("PING")
                        .query_async::<String>(&mut conn)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                })
                .await,
            ),
            None => None,
        }
    };
    let s3 = async {
        match state.s3() {
            Some(bucket) => Some(
                timed("s3", async {
                    // Listing at most one key proves the endpoint, credentials and bucket.
                    bucket
                        .list_page(String::new(), None, None, None, Some(1))
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string())
                })
                .await,
            ),
            None => None,
        }
    };
    let (database, redis, s3) = tokio::join!(database, redis, s3);

    let checks: BTreeMap<_, _> = std::iter::once(database).chain(redis).chain(s3).collect();
    let healthy = checks.values().all(|c| c.status == "pass");
    let (code, status) = if healthy {
        (StatusCode::OK, "pass")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "fail")
    };
    respond(code, &Health { status, checks })
}

async fn timed(
    name: &'static str,
    check: impl Future<Output = Result<(), String>>,
) -> (&'static str, Check) {
    let start = Instant::now();
    let outcome = tokio::time::timeout(CHECK_TIMEOUT, check).await;
    let duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let status = match outcome {
        Ok(Ok(())) => "pass",
        Ok(Err(error)) => {
            tracing::warn!(backend = name, %error, "readiness check failed");
            "fail"
        }
        Err(_) => {
            tracing::warn!(
                backend = name,
                timeout_ms = 2000,
                "readiness check timed out"
            );
            "fail"
        }
    };
    (
        name,
        Check {
            status,
            duration_ms,
        },
    )
}
