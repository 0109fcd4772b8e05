//! The router: routes, fallbacks and the middleware stack.

mod health;

use axum::Router;
use axum::http::{HeaderName, Request, Uri};
use axum::routing::get;
use mortar::core::{Principal, Problem};
use mortar::i18n::{Locale, t};
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
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .merge(api)
        // The request's language (`?lang=`, the `lang` cookie, the user's `locale` attribute,
        // Accept-Language, then English): handlers take a `Locale`, and every problem document
        // (404s, 429s, validation errors) answers in it. Inside authentication, so it sees the
        // user's stored preference.
        .layer(locale)
        // Last-seen times of signed-in callers (written in batches).
        .layer(state_audit_activity)
        // Feature flags with the caller's context (subject, tenant, roles, IP, language):
        // handlers take `Flags`. Inside authentication, so it sees the principal.
        .layer(mortar::flags::FlagsLayer::new(flags))
        // Authenticates bearer tokens, API keys and session cookies; routes that need a user
        // take a `Principal`.
        .layer(auth.layer)
        // Outermost last: request id first, so the trace span and every response carry it.
        .layer(CatchPanicLayer::custom(panicked))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let request_id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
        })
        // One INFO line per response (status, latency); 5xx are also logged as errors.
        .on_response(DefaultOnResponse::new().level(Level::INFO)))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// The signed-in caller, greeted in their language: 401 problem without a valid bearer token.
async fn me(
    axum::extract::State(state): axum::extract::State<AppState>,
    locale: Locale,
    principal: Principal,
) -> axum::Json<serde_json::Value> {
    let orgs = crate::orgs::count_of(&state, principal.subject());
    axum::Json(serde_json::json!({
        "greeting": t!(locale, "me-greeting", orgs = orgs),
        "subject": principal.subject(),
        "session_id": principal.session_id(),
        "amr": principal.authentication().amr(),
    }))
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
