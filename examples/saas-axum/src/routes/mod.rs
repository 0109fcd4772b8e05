//! The router: routes, fallbacks and the middleware stack.

pub(crate) mod health;

use axum::Router;
use axum::http::{HeaderName, Request, Uri};
use axum::routing::{get, post};
use mortar::core::{Principal, Problem};
use mortar::i18n::{Locale, t};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route of the starter with its middleware.
pub fn router(state: AppState) -> Router {
    let auth = state.auth().clone();
    // The API: rate-limited per address and per user (inside authentication, so the limits see
    // the principal); the probes below are not.
    let rate_limit = state.rate_limit().clone();
    let locale = mortar::i18n::LocaleLayer::new(state.i18n().clone());
    let state_audit_activity = state.audit().activity_layer();
    let flags = state.flags().flags.clone();
    let api = Router::new()
        .route("/me", get(me).with_state(state.clone()))
        // Invitations to the caller's verified address.
        .route(
            "/me/invitations",
            get(crate::invitations::mine).with_state(state.clone()),
        )
        .route(
            "/me/invitations/{id}/accept",
            post(crate::invitations::accept).with_state(state.clone()),
        )
        .route(
            "/me/invitations/{id}/decline",
            post(crate::invitations::decline).with_state(state.clone()),
        )
        // A beta endpoint: 404 unless the `beta-reports` flag is on for the caller.
        .route(
            "/beta/reports",
            get(crate::flags::beta_reports)
                .route_layer(mortar::flags::RequireFlag::new(&flags, "beta-reports")),
        )
        // An A/B test: the pricing page's layout.
        .route("/pricing", get(crate::flags::pricing))
        .merge(crate::orgs::router(&state).with_state(state.clone()))
        // Avatars: validated, thumbnailed, linked by presigned URL.
        .merge(crate::avatars::router(&state).with_state(state.clone()))
        .nest(
            "/auth",
            mortar::auth::axum::router(auth.api.clone())
                .merge(mortar::auth::axum::second_factor_router(
                    auth.api.clone(),
                    auth.factors,
                ))
                .merge(mortar::auth::axum::oauth_router(
                    auth.api.clone(),
                    auth.oauth,
                    auth.federation,
                ))
                .merge(mortar::auth::axum::passkey_router(auth.api, auth.passkeys)),
        )
        .layer(rate_limit);
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(crate::metrics::metrics))
        // The OpenAPI document and its interactive page (assets embedded: works offline).
        .merge(crate::openapi::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .merge(api)
        // The whole stack in one `layer` call, outermost first: axum boxes the service once per
        // call, so composing with `ServiceBuilder` saves a boxed service and future per layer on
        // every request.
        .layer(
            ServiceBuilder::new()
                // Request counts and latencies by route pattern for /metrics; no NUL in paths
                // or query strings (no id or filter holds one; PostgreSQL refuses it); every
                // error answer a problem document, also those of axum's own extractors.
                .layer(axum::middleware::from_fn(edge))
                // The request id first, so the trace span and every response carry it.
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &Request<_>| {
                            let request_id = req
                                .headers()
                                .get(&REQUEST_ID)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default();
                            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
                        })
                        // One INFO line per response (status, latency); 5xx are also logged as
                        // errors.
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(CatchPanicLayer::custom(panicked))
                // Authenticates bearer tokens, API keys and session cookies; routes that need a
                // user take a `Principal`.
                .layer(auth.layer)
                // Feature flags with the caller's context (subject, tenant, roles, IP,
                // language): handlers take `Flags`. Inside authentication: it sees the principal.
                .layer(mortar::flags::FlagsLayer::new(flags))
                // Last-seen times of signed-in callers (written in batches).
                .layer(state_audit_activity)
                // The request's language (`?lang=`, the `lang` cookie, the user's `locale`
                // attribute, Accept-Language, then English): handlers take a `Locale`, and
                // every problem document (404s, 429s, validation errors) answers in it. Inside
                // authentication, so it sees the user's stored preference.
                .layer(locale),
        )
}

/// The answer of `GET /me`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Me {
    /// A greeting in the caller's language, counting their organizations.
    greeting: String,
    /// The caller's user id.
    subject: String,
    /// The session, when signed in with a session's token or cookie.
    session_id: Option<String>,
    /// How the caller authenticated (RFC 8176 values: `pwd`, `otp`, `hwk`, `mfa`…).
    amr: Vec<String>,
}

/// The signed-in caller, greeted in their language.
#[utoipa::path(
    get,
    path = "/me",
    tag = "account",
    responses((status = 200, description = "The caller", body = Me)),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn me(
    axum::extract::State(state): axum::extract::State<AppState>,
    locale: Locale,
    principal: Principal,
) -> axum::Json<Me> {
    let orgs = crate::orgs::count_of(&state, principal.subject());
    axum::Json(Me {
        greeting: t!(locale, "me-greeting", orgs = orgs).into_owned(),
        subject: principal.subject().to_owned(),
        session_id: principal.session_id().map(str::to_owned),
        amr: principal
            .authentication()
            .amr()
            .into_iter()
            .map(str::to_owned)
            .collect(),
    })
}

/// The starter's own edge, in one middleware (one boxed future per request, not three): the
/// request counted for /metrics, refused if it holds an encoded NUL, and its error answer made
/// a problem document.
async fn edge(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let tracked = crate::metrics::Tracked::start(&request);
    let response = match nul_refusal(&request) {
        Some(refused) => refused,
        None => problems_only(next.run(request).await).await,
    };
    tracked.finish(&response);
    response
}

/// The error answers that are not problem documents (axum's extractor rejections: a query string
/// or a path parameter that does not parse, a body past its limit) become one, keeping the
/// status and headers such as `Allow`; the text of a 4xx is kept as its detail, a 5xx says
/// nothing. `/ready`'s 503 (`application/health+json`) is left alone.
async fn problems_only(response: axum::response::Response) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let status = response.status();
    let content_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !(status.is_client_error() || status.is_server_error())
        || content_type.starts_with("application/problem+json")
        || content_type.starts_with("application/health+json")
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let mut problem = Problem::new(status);
    if status.is_client_error()
        && let Ok(bytes) = axum::body::to_bytes(body, 4096).await
        && let Ok(text) = std::str::from_utf8(&bytes)
        && !text.trim().is_empty()
    {
        problem = problem.with_detail(text.trim().to_owned());
    }
    let mut answer = problem.into_response();
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            answer.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    answer
}

/// The refusal of an encoded NUL (`%00`) in the path (404: no resource is named so) or the
/// query string (400), before any handler reads it.
fn nul_refusal(request: &axum::extract::Request) -> Option<axum::response::Response> {
    use axum::response::IntoResponse as _;
    let has_nul = |text: &str| {
        text.as_bytes()
            .windows(3)
            .any(|w| w.eq_ignore_ascii_case(b"%00"))
    };
    if has_nul(request.uri().path()) {
        return Some(Problem::not_found().into_response());
    }
    if request.uri().query().is_some_and(has_nul) {
        return Some(
            Problem::bad_request()
                .with_detail("the query string must not contain a NUL character")
                .into_response(),
        );
    }
    None
}

/// Unknown routes answer a 404 problem document naming the path.
async fn not_found(uri: Uri) -> Problem {
    Problem::not_found().with_instance(uri.path().to_owned())
}

/// Known routes with the wrong method answer a 405 problem document.
async fn method_not_allowed(uri: Uri) -> Problem {
    Problem::method_not_allowed().with_instance(uri.path().to_owned())
}

/// A panicking handler answers a plain 500 problem; the panic is logged, never sent.
// The signature is fixed by `CatchPanicLayer::custom`.
#[allow(clippy::needless_pass_by_value)]
fn panicked(payload: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let message = payload
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| payload.downcast_ref::<String>().cloned());
    tracing::error!(panic = message, "handler panicked");
    Problem::internal_error().into_response()
}
