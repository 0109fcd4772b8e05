//! The routes: one `match` on method and path, handlers answering JSON, and every refusal an
//! RFC 9457 problem document.
//!
//! | route | body | answer |
//! | --- | --- | --- |
//! | `POST /auth/register` | `{"email", "password"}` | 202 `{"status": "pending_verification"}`, taken address or not; a code goes to the address |
//! | `POST /auth/verify-email` | `{"token"}` | 200 `{"user_id", "email_verified": true, "roles"}` |
//! | `POST /auth/login` | `{"email", "password"}` | 200 `{"token_type": "Bearer", "access_token", "expires_in"}` |
//! | `GET /me` | — (bearer token) | 200 `{"subject", "roles"}`; 401 without a token |
//! | `GET /reports` | — (bearer token) | 200 the reports in the request's language; 401 without a token, 403 without `reports:read` |

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use mortar::auth::account::{Client, LoginOutcome, Registration};
use mortar::core::{FieldError, MissingPrincipal, Principal, Problem};
use mortar::i18n::{Locale, t};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower::{Layer as _, Service, ServiceExt as _, service_fn};

use crate::AppState;

/// The largest JSON body accepted.
const MAX_BODY: usize = 16 * 1024;

/// The known paths and the methods they answer (the `Allow` header of a 405).
const ROUTES: [(&str, &str); 5] = [
    ("/auth/register", "POST"),
    ("/auth/verify-email", "POST"),
    ("/auth/login", "POST"),
    ("/me", "GET"),
    ("/reports", "GET"),
];

/// The hand-written router, a plain `tower::Service`: a `match` on method and path. Every
/// route answers `Full<Bytes>`, the body the rate-limit layer around it builds its 429 in.
#[derive(Clone, Debug)]
pub struct Router {
    state: AppState,
}

impl Router {
    /// The routes over this state.
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }

    async fn route<B>(self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let answer = match (req.method(), req.uri().path()) {
            (&Method::POST, "/auth/register") => self.register(req).await,
            (&Method::POST, "/auth/verify-email") => self.verify_email(req).await,
            (&Method::POST, "/auth/login") => self.login(req).await,
            (&Method::GET, "/me") => self.me(&req),
            (&Method::GET, "/reports") => return self.reports(req).await,
            (_, path) => Err(unrouted(path)),
        };
        answer.unwrap_or_else(problem_response)
    }

    async fn register<B>(&self, req: Request<B>) -> Result<Response<Full<Bytes>>, Problem>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (client, Credentials { email, password }) = read_json(req).await?;
        // Created or already registered: the same answer, so the address is not revealed (its
        // owner gets a message instead).
        self.state
            .accounts
            .register(Registration::new(email, password), &client)
            .await?;
        Ok(json(
            StatusCode::ACCEPTED,
            &json!({"status": "pending_verification"}),
        ))
    }

    async fn verify_email<B>(&self, req: Request<B>) -> Result<Response<Full<Bytes>>, Problem>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (client, TokenBody { token }) = read_json(req).await?;
        let user = self.state.accounts.verify_email(&token, &client).await?;
        let roles = self.state.on_verified(&user).await?;
        Ok(json(
            StatusCode::OK,
            &json!({"user_id": user.id.to_string(), "email_verified": true, "roles": roles}),
        ))
    }

    async fn login<B>(&self, req: Request<B>) -> Result<Response<Full<Bytes>>, Problem>
    where
        B: Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (client, Credentials { email, password }) = read_json(req).await?;
        match self
            .state
            .accounts
            .login(&email, &password, &client)
            .await?
        {
            LoginOutcome::Authenticated { principal, .. } => {
                let issued = self.state.tokens.issue(&principal)?;
                Ok(json(
                    StatusCode::OK,
                    &json!({
                        "token_type": "Bearer",
                        "access_token": issued.token(),
                        "expires_in": seconds_until(issued.expires_at()),
                    }),
                ))
            }
            // Only with a second factor configured (`Accounts::builder(…).second_factor(…)`),
            // which this example does not do.
            _ => Err(Problem::internal_error()),
        }
    }

    /// The caller: the `AuthLayer` put the principal of a valid bearer token in the extensions.
    #[allow(
        clippy::result_large_err,
        reason = "the problem document is the HTTP answer, built only on refusal"
    )]
    fn me<B>(&self, req: &Request<B>) -> Result<Response<Full<Bytes>>, Problem> {
        let principal = Principal::from_extensions(req.extensions()).ok_or(MissingPrincipal)?;
        Ok(json(
            StatusCode::OK,
            &json!({
                "subject": principal.subject(),
                "roles": self.state.roles_of(principal.subject()),
            }),
        ))
    }

    /// `GET /reports` behind mortar-rbac's `RequirePermission`, used as a tower layer around
    /// this one route: 401 without a principal, 403 without `reports:read`.
    async fn reports<B>(self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Send + 'static,
    {
        let state = self.state.clone();
        let page = service_fn(move |req: Request<B>| {
            let response = reports_page(&state, &req);
            async move { Ok::<_, Infallible>(response) }
        });
        let guarded = self.state.reports_guard.layer(page);
        match guarded.oneshot(req).await {
            Ok(response) => into_full(response).await,
            Err(never) => match never {},
        }
    }
}

impl<B> Service<Request<B>> for Router
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let router = self.clone();
        Box::pin(async move { Ok(router.route(req).await) })
    }
}

/// The reports, titled in the request's language (the `LocaleLayer` put its `Locale` in the
/// extensions).
fn reports_page<B>(state: &AppState, req: &Request<B>) -> Response<Full<Bytes>> {
    let locale = req
        .extensions()
        .get::<Locale>()
        .cloned()
        .unwrap_or_else(|| state.i18n.default_locale());
    let reports = [
        json!({"id": "2026-q1", "revenue_eur": 1_204_000}),
        json!({"id": "2026-q2", "revenue_eur": 1_377_500}),
    ];
    json(
        StatusCode::OK,
        &json!({
            "title": t!(locale, "reports-title"),
            "summary": t!(locale, "reports-summary", count = reports.len()),
            "reports": reports,
        }),
    )
}

/// An unknown path (404) or a known one with another method (405 with `Allow`).
fn unrouted(path: &str) -> Problem {
    let problem = match ROUTES.iter().find(|(known, _)| *known == path) {
        Some((_, allow)) => {
            Problem::method_not_allowed().with_header(ALLOW, HeaderValue::from_static(allow))
        }
        None => Problem::not_found(),
    };
    problem.with_instance(path)
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

/// Reads a JSON body (at most [`MAX_BODY`] bytes) and who sent it: 415 without
/// `Content-Type: application/json`, 413 when too large, 400 when malformed, 422 (a validation
/// problem) when a field is missing or mistyped.
async fn read_json<T, B>(req: Request<B>) -> Result<(Client, T), Problem>
where
    T: DeserializeOwned,
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = req.into_parts();
    if !is_json(&parts.headers) {
        return Err(
            Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE).with_detail("send application/json")
        );
    }
    let bytes = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<LengthLimitError>() {
                Problem::payload_too_large()
            } else {
                Problem::bad_request().with_detail("the request body could not be read")
            }
        })?
        .to_bytes();
    let value = serde_json::from_slice(&bytes).map_err(|error| {
        if error.is_data() {
            Problem::validation([FieldError::new("", error.to_string())])
        } else {
            Problem::bad_request().with_detail(format!("malformed JSON: {error}"))
        }
    })?;
    let client = Client {
        ip: parts.extensions.get::<SocketAddr>().map(SocketAddr::ip),
        user_agent: parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ..Client::default()
    };
    Ok((client, value))
}

/// Whether the body is declared as JSON.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// A JSON response.
fn json(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A problem document as a response; a 5xx is logged with its cause, which is never sent.
fn problem_response(problem: Problem) -> Response<Full<Bytes>> {
    if problem.is_server_error() {
        tracing::error!(
            status = problem.status().as_u16(),
            cause = problem.source_error().map(ToString::to_string),
            "request failed"
        );
    }
    let (parts, bytes) = problem.into_parts();
    Response::from_parts(parts, Full::new(bytes))
}

/// `RequirePermission` answers in `ProblemBody<Full<Bytes>>`; the router's routes share
/// `Full<Bytes>`. Both are in memory, so collecting is immediate.
async fn into_full<B>(response: Response<B>) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes, Error = Infallible>,
{
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    Response::from_parts(parts, Full::new(bytes))
}

/// Whole seconds from now until `t` (0 when past).
fn seconds_until(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::now())
        .map_or(0, |d| d.as_secs())
}
