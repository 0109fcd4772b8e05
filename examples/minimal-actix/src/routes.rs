//! The routes: handlers answering JSON, and every refusal an RFC 9457 problem document
//! (mortar-core's `Problem` is an actix `ResponseError`).
//!
//! | route | body | answer |
//! | --- | --- | --- |
//! | `POST /auth/register` | `{"email", "password"}` | 202 `{"status": "pending_verification"}`, taken address or not; a code goes to the address |
//! | `POST /auth/verify-email` | `{"token"}` | 200 `{"user_id", "email_verified": true, "roles"}` |
//! | `POST /auth/login` | `{"email", "password"}` | 200 `{"token_type": "Bearer", "access_token", "expires_in"}` |
//! | `GET /me` | — (bearer token) | 200 `{"subject", "roles"}`; 401 without a token |
//! | `GET /reports` | — (bearer token) | 200 the reports in the request's language; 401 without a token, 403 without `reports:read` |

use std::time::SystemTime;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::JsonPayloadError;
use actix_web::http::header::USER_AGENT;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use http::StatusCode;
use mortar::auth::account::{Client, LoginOutcome, Registration};
use mortar::core::{FieldError, Principal, Problem};
use mortar::i18n::{Locale, t};
use mortar::rbac::actix::RequirePermission;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;

/// The largest JSON body accepted.
const MAX_BODY: usize = 16 * 1024;

/// Mounts the routes; `reports_guard` wraps `GET /reports`.
pub(crate) fn configure(config: &mut web::ServiceConfig, reports_guard: RequirePermission) {
    config
        .service(resource("/auth/register", "POST").route(web::post().to(register)))
        .service(resource("/auth/verify-email", "POST").route(web::post().to(verify_email)))
        .service(resource("/auth/login", "POST").route(web::post().to(login)))
        .service(resource("/me", "GET").route(web::get().to(me)))
        .service(
            resource("/reports", "GET")
                .route(web::get().to(reports))
                .wrap(reports_guard),
        );
}

/// A resource answering other methods than `allow` with a 405 problem.
fn resource(path: &'static str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(
            Problem::method_not_allowed()
                .with_header(http::header::ALLOW, http::HeaderValue::from_static(allow))
                .with_instance(path),
        )
    }))
}

/// Unknown paths: a 404 problem naming the path.
pub(crate) async fn not_found(req: HttpRequest) -> Result<HttpResponse, Problem> {
    Err(Problem::not_found().with_instance(req.path()))
}

/// JSON bodies of at most 16 KiB whose rejections are problem documents: 415 without
/// `Content-Type: application/json`, 413 when too large, 400 when malformed, 422 (a validation
/// problem) when a field is missing or mistyped.
pub(crate) fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY)
        .error_handler(|error, _req| {
            let problem = match &error {
                JsonPayloadError::ContentType => Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                    .with_detail("send application/json"),
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => Problem::payload_too_large(),
                JsonPayloadError::Deserialize(e) if e.is_data() => {
                    Problem::validation([FieldError::new("", e.to_string())])
                }
                JsonPayloadError::Deserialize(e) => {
                    Problem::bad_request().with_detail(format!("malformed JSON: {e}"))
                }
                _ => Problem::bad_request().with_detail("the request body could not be read"),
            };
            problem.into()
        })
}

/// Logs every 5xx answered from an error with its cause (which is never sent).
pub(crate) async fn log_server_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    if res.status().is_server_error() {
        let cause = res
            .response()
            .error()
            .and_then(|e| e.as_error::<Problem>())
            .and_then(Problem::source_error)
            .map(ToString::to_string);
        tracing::error!(status = res.status().as_u16(), cause, "request failed");
    }
    Ok(res)
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

/// Who is asking: the peer address (for failed-login counts per address) and user agent.
fn client(req: &HttpRequest) -> Client {
    Client {
        ip: req.peer_addr().map(|addr| addr.ip()),
        user_agent: req
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ..Client::default()
    }
}

async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    web::Json(body): web::Json<Credentials>,
) -> Result<HttpResponse, Problem> {
    // Created or already registered: the same answer, so the address is not revealed (its
    // owner gets a message instead).
    state
        .accounts
        .register(Registration::new(body.email, body.password), &client(&req))
        .await?;
    Ok(HttpResponse::Accepted().json(json!({"status": "pending_verification"})))
}

async fn verify_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    web::Json(body): web::Json<TokenBody>,
) -> Result<HttpResponse, Problem> {
    let user = state
        .accounts
        .verify_email(&body.token, &client(&req))
        .await?;
    let roles = state.on_verified(&user).await?;
    Ok(HttpResponse::Ok().json(json!({
        "user_id": user.id.to_string(),
        "email_verified": true,
        "roles": roles,
    })))
}

async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    web::Json(body): web::Json<Credentials>,
) -> Result<HttpResponse, Problem> {
    match state
        .accounts
        .login(&body.email, &body.password, &client(&req))
        .await?
    {
        LoginOutcome::Authenticated { principal, .. } => {
            let issued = state.tokens.issue(&principal)?;
            Ok(HttpResponse::Ok().json(json!({
                "token_type": "Bearer",
                "access_token": issued.token(),
                "expires_in": seconds_until(issued.expires_at()),
            })))
        }
        // Only with a second factor configured (`Accounts::builder(…).second_factor(…)`),
        // which this example does not do.
        _ => Err(Problem::internal_error()),
    }
}

/// The caller: `Authenticate` put the principal of a valid bearer token in the extensions; the
/// extractor answers 401 without one.
async fn me(state: web::Data<AppState>, principal: Principal) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "subject": principal.subject(),
        "roles": state.roles_of(principal.subject()),
    }))
}

/// The reports, titled in the request's language. Reached only with `reports:read`
/// (`RequirePermission` wraps the resource).
async fn reports(locale: Locale) -> HttpResponse {
    let reports = [
        json!({"id": "2026-q1", "revenue_eur": 1_204_000}),
        json!({"id": "2026-q2", "revenue_eur": 1_377_500}),
    ];
    HttpResponse::Ok().json(json!({
        "title": t!(locale, "reports-title"),
        "summary": t!(locale, "reports-summary", count = reports.len()),
        "reports": reports,
    }))
}

/// Whole seconds from now until `t` (0 when past).
fn seconds_until(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::now())
        .map_or(0, |d| d.as_secs())
}
