//! Ready-made JSON endpoints for axum (feature `axum`): nest [`router`] under a path of yours.
//!
//! | method and path | body | answer |
//! | --- | --- | --- |
//! | `POST /register` | `{"email", "password", "username"?}` | 202 `{"status": "pending_verification"}`, the same whether or not the address was taken |
//! | `POST /verify-email` | `{"token"}` | 200 `{"user_id", "email_verified": true}` |
//! | `POST /login` | `{"email", "password", "cookie"?}` | 200 tokens (below), or with `"cookie": true` a session cookie and 200 `{"session_id", "expires_in"}`; or 200 `{"second_factor_required": true, "challenge", "expires_in"}` |
//! | `POST /refresh` | `{"refresh_token"}` | 200 tokens |
//! | `POST /logout` | — (bearer token or session cookie) | 204; the session ends (and the cookie is cleared) |
//! | `POST /login/link` | `{"email"}` | 202: a magic link is e-mailed (passwordless), the same for unknown addresses |
//! | `POST /login/link/complete` | `{"token", "cookie"?}` | as `POST /login` |
//! | `POST /login/code` | `{"email"}` | 202: a 6-digit code is e-mailed (passwordless), the same for unknown addresses |
//! | `POST /login/code/complete` | `{"email", "code", "cookie"?}` | as `POST /login`; 400 `invalid-code` otherwise |
//! | `POST /password/forgot` | `{"email"}` | 202, the same for unknown addresses |
//! | `POST /password/reset` | `{"token", "password"}` | 204 |
//! | `GET /sessions` | — (bearer token) | 200 the caller's active sessions |
//! | `DELETE /sessions/{id}` | — (bearer token) | 204 |
//! | `POST /api-keys` | `{"name", "scopes"?, "expires_in_days"?}` (bearer token) | 201 `{"id", "key", …}`: the key, shown once |
//! | `GET /api-keys` | — (bearer token) | 200 the caller's keys (never their secrets) |
//! | `DELETE /api-keys/{id}` | — (bearer token) | 204 |
//!
//! With feature `oauth`, `oauth_router` adds sign-in with OAuth 2 / OpenID Connect providers and
//! tenants' SSO, and linked identities (`/oauth/…`).
//!
//! With feature `totp`, `second_factor_router` adds `POST /login/second-factor` (the challenge and
//! a TOTP or recovery code) and the `/2fa` routes (status, enrollment, confirmation, new recovery
//! codes and removal behind a step-up).
//!
//! With feature `openapi`, every endpoint describes itself in `OpenAPI` 3.1 (utoipa 6): the `openapi`
//! module has one document per router, to nest into the application's own.
//!
//! The API-key routes answer 404 unless [`AuthApi::api_keys`] is set; cookie logins answer 400
//! unless [`AuthApi::cookies`] is set. A cookie login checks the request's origin like every
//! cookie-authenticated unsafe request (no login CSRF), and ends the session of a cookie the
//! browser still held (a fresh session id and secret on every sign-in).
//!
//! Tokens: `{"token_type": "Bearer", "access_token", "expires_in", "refresh_token",
//! "session_id"}`. Every error is an RFC 9457 problem document, malformed JSON included. Routes
//! that need the caller expect [`AuthLayer`](crate::layer::AuthLayer) (optional mode is enough)
//! in front of them.

use std::net::SocketAddr;
use std::time::SystemTime;

use ::axum::extract::rejection::JsonRejection;
use ::axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request, State};
use ::axum::http::header::SET_COOKIE;
use ::axum::http::request::Parts;
use ::axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{delete, get, post};
use ::axum::{Json, Router};
use mortar_core::{FieldError, Principal, Problem};
use secrecy::ExposeSecret as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::account::{Accounts, Client, LoginOutcome, Registration};
use crate::api_key::{ApiKeys, NewApiKey};
use crate::error::Error;
use crate::session::{SessionCookies, SessionId, SessionTokens, Sessions};
use crate::time::to_secs;
use crate::user::UserId;

#[cfg(feature = "openapi")]
pub mod openapi;

/// What the endpoints work with; cheap to clone.
#[derive(Clone, Debug)]
pub struct AuthApi {
    /// The account flows.
    pub accounts: Accounts,
    /// Sessions and tokens.
    pub sessions: Sessions,
    /// API keys users manage for themselves; `None` turns the `/api-keys` routes off.
    pub api_keys: Option<ApiKeys>,
    /// Browser sessions in a cookie; `None` turns cookie logins off. Put the same value in the
    /// [`AuthLayer`](crate::layer::AuthLayer) chain so the cookie authenticates requests.
    pub cookies: Option<SessionCookies>,
}

/// The endpoints, to nest under a path: `app.nest("/auth", mortar_auth::axum::router(api))`.
pub fn router(api: AuthApi) -> Router {
    Router::new()
        .route("/register", post(register))
        .route("/verify-email", post(verify_email))
        .route("/login", post(login))
        .route("/login/link", post(request_link))
        .route("/login/link/complete", post(login_with_link))
        .route("/login/code", post(request_code))
        .route("/login/code/complete", post(login_with_code))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .route("/password/forgot", post(forgot))
        .route("/password/reset", post(reset))
        .route("/sessions", get(list_sessions))
        .route("/sessions/{id}", delete(revoke_session))
        .route("/api-keys", post(create_key).get(list_keys))
        .route("/api-keys/{id}", delete(revoke_key))
        .with_state(api)
}

/// A JSON body whose rejections are problem documents (400 malformed, 413 over the body limit,
/// 415 wrong type, 422 missing or mistyped fields, or a string holding a NUL character).
///
/// NUL (U+0000) is refused in every string and member name of the body, with a 422 pointing at
/// it: no address, name or token contains one, and PostgreSQL cannot store one (a lookup of it
/// would fail as a storage error instead of answering).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .with_detail("send application/json"));
        }
        let bytes = ::axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                Problem::new(rejection.status()).with_detail(rejection.body_text())
            })?;
        // A NUL can only come as the escape `\u0000`: parse twice only then.
        if memchr::memmem::find(&bytes, br"\u0000").is_some()
            && let Ok(value) = serde_json::from_slice::<Value>(&bytes)
            && let Some(pointer) = nul_at(&value, String::new())
        {
            return Err(Problem::validation([FieldError::new(
                pointer,
                "must not contain a NUL character",
            )
            .with_code("nul")]));
        }
        match Json::<T>::from_bytes(&bytes) {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => {
                    Problem::validation([FieldError::new("", e.body_text())])
                }
                other => Problem::bad_request().with_detail(other.body_text()),
            }),
        }
    }
}

/// Whether the request says its body is JSON (`application/json` or a `+json` type).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(::axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .is_some_and(|v| {
            // Compared without lower-casing a copy (`to_str` answered visible ASCII only).
            let has = |range: Option<&str>, text: &str| {
                range.is_some_and(|part| part.eq_ignore_ascii_case(text))
            };
            v.eq_ignore_ascii_case("application/json")
                || (has(v.get(..12), "application/")
                    && has(v.get(v.len().saturating_sub(5)..), "+json"))
        })
}

/// The JSON pointer (RFC 6901) of the first string or member name holding a NUL.
fn nul_at(value: &Value, at: String) -> Option<String> {
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    match value {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, format!("{at}/{i}"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(format!("{at}/{}", escape(k)))
            } else {
                nul_at(v, format!("{at}/{}", escape(k)))
            }
        }),
        _ => None,
    }
}

/// The caller's address (from `ConnectInfo`, when the server provides it), user agent and
/// request id.
impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| crate::layer::header(&parts.headers, name).map(str::to_owned);
        Ok(Client {
            ip: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
            user_agent: header("user-agent"),
            request_id: header("x-request-id"),
        })
    }
}

fn seconds_until(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::now())
        .map_or(0, |d| d.as_secs())
}

// The bodies below (requests and answers) are the endpoints' JSON. Answers declare their fields
// in alphabetical order, the order in which `serde_json` writes a map, so the JSON is byte for
// byte what the endpoints sent when they built it with `json!`. With feature `openapi` each is
// a schema named after the type, and its field docs are the properties' descriptions.

/// The tokens of a signed-in session.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct Tokens {
    /// The access token (a JWT), for `Authorization: Bearer`.
    access_token: String,
    /// Seconds until the access token expires.
    expires_in: u64,
    /// The refresh token: works exactly once, at `POST /refresh`.
    refresh_token: String,
    /// The session.
    session_id: String,
    /// Always `Bearer`.
    token_type: TokenType,
}

/// The type of an access token.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
enum TokenType {
    /// A bearer token (RFC 6750).
    Bearer,
}

impl From<&SessionTokens> for Tokens {
    fn from(tokens: &SessionTokens) -> Self {
        Self {
            access_token: tokens.access.token().to_owned(),
            expires_in: seconds_until(tokens.access.expires_at()),
            refresh_token: tokens.refresh.expose_secret().to_owned(),
            session_id: tokens.session_id.as_str().to_owned(),
            token_type: TokenType::Bearer,
        }
    }
}

/// A browser session started in a cookie (`Set-Cookie`); no token is sent.
// Closed (`additionalProperties: false`), so that `Tokens`, which has these members too, does
// not also match it in `LoginResponse`'s `oneOf`. Serializing ignores the attribute.
#[derive(Serialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct CookieSession {
    /// Seconds until the session ends regardless of use.
    expires_in: u64,
    /// The session.
    session_id: String,
}

/// The password (or link, code, provider) was right and a second factor is required: send the
/// challenge with the factor to `POST /login/second-factor` (or the passkey routes).
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct SecondFactorChallenge {
    /// The login's challenge, single-use.
    challenge: String,
    /// Seconds until the challenge expires.
    expires_in: u64,
    /// Always `true`.
    second_factor_required: bool,
}

/// A login's answer: tokens, a cookie session (a login with `"cookie": true`), or a
/// second-factor challenge.
#[derive(Serialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
enum LoginResponse {
    /// Signed in with tokens.
    Tokens(Tokens),
    /// Signed in with a session cookie.
    Cookie(CookieSession),
    /// A second factor is required.
    SecondFactor(SecondFactorChallenge),
}

/// The calling user and session; `None` for principals that are not users (API keys, services).
fn caller(principal: &Principal) -> Option<(UserId, Option<SessionId>)> {
    let user_id = principal.subject().parse::<UserId>().ok()?;
    Some((
        user_id,
        principal
            .session_id()
            .map(|s| SessionId::from(s.to_owned())),
    ))
}

fn not_a_user() -> Problem {
    Problem::forbidden().with_detail("only signed-in users can do this")
}

/// A new account.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct RegisterRequest {
    /// The e-mail address; a verification link is sent to it.
    email: String,
    /// The password, checked against the password policy.
    password: String,
    /// A public user name, unique (optional).
    #[serde(default)]
    username: Option<String>,
}

/// A registration was received.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct RegistrationAccepted {
    /// Always `pending_verification`, whether or not the address was taken.
    status: RegistrationStatus,
}

/// Where a registration stands.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
enum RegistrationStatus {
    /// The e-mail address is to be verified with the link sent to it.
    PendingVerification,
}

/// Register an account
///
/// Checks the address and the password policy, creates the account and e-mails a verification
/// link. A taken address gets the same answer (its owner is e-mailed a reset link instead), so
/// the answer reveals no address.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/register",
    operation_id = "register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 202, description = "Received; the address is to be verified.", body = RegistrationAccepted),
        (status = 400, description = "Malformed JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user name is taken (`conflict`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field, an implausible address (`validation`) or a password the policy refuses (`weak-password`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy hashing passwords (`busy`, with `Retry-After`) or the store is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
))]
async fn register(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<RegisterRequest>,
) -> Result<Response, Problem> {
    let mut registration = Registration::new(body.email, body.password);
    if let Some(username) = body.username {
        registration = registration.username(username);
    }
    // Created or already registered: the same answer, so the address is not revealed.
    api.accounts.register(registration, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RegistrationAccepted {
            status: RegistrationStatus::PendingVerification,
        }),
    )
        .into_response())
}

/// The token of an e-mailed link.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct VerifyEmailRequest {
    /// The token of the verification link.
    token: String,
}

/// The address is verified.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct EmailVerified {
    /// Always `true`.
    email_verified: bool,
    /// The account's id.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = "uuid"))]
    user_id: UserId,
}

/// Verify an e-mail address
///
/// With the token of the link e-mailed at registration.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/verify-email",
    operation_id = "verify_email",
    tag = "auth",
    request_body = VerifyEmailRequest,
    responses(
        (status = 200, description = "The address is verified.", body = EmailVerified),
        (status = 400, description = "Malformed JSON, or the token is unknown, used or expired (`invalid-code`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
))]
async fn verify_email(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<VerifyEmailRequest>,
) -> Result<Json<EmailVerified>, Problem> {
    let user = api.accounts.verify_email(&body.token, &client).await?;
    Ok(Json(EmailVerified {
        email_verified: true,
        user_id: user.id,
    }))
}

/// A password login.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct LoginRequest {
    /// The e-mail address (or the user name).
    email: String,
    /// The password.
    password: String,
    /// `true` for a browser session in a cookie instead of tokens (the request's origin is
    /// checked).
    #[serde(default)]
    cookie: bool,
}

/// Log in with a password
///
/// Answers tokens, a session cookie (with `"cookie": true`) or, for an account with a second
/// factor, a challenge. An unknown account, a wrong password and a locked or disabled account
/// get the same 401.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/login",
    operation_id = "login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in (tokens or a session cookie), or a second factor is required.", body = LoginResponse,
            headers(("Set-Cookie" = String, description = "The session cookie, for a login with `\"cookie\": true`."))),
        (status = 400, description = "Malformed JSON, or cookie sessions are not enabled.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The credentials are not valid (`invalid-credentials`).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A cookie login from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy hashing passwords (`busy`, with `Retry-After`), or the store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
))]
async fn login(
    State(api): State<AuthApi>,
    client: Client,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Response, Problem> {
    let cookies = cookie_login(&api, body.cookie, &method, &uri, &headers)?;
    let outcome = api
        .accounts
        .login(&body.email, &body.password, &client)
        .await?;
    signed_in(&api, cookies, &headers, &client, outcome).await
}

/// The session cookies, when a login asks for a cookie session (after the origin check that
/// prevents login CSRF); `None` for a token login.
#[allow(
    clippy::result_large_err,
    reason = "the problem document is the HTTP answer, built only on refusal"
)]
fn cookie_login<'a>(
    api: &'a AuthApi,
    wanted: bool,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<&'a SessionCookies>, Problem> {
    if !wanted {
        return Ok(None);
    }
    let cookies = api
        .cookies
        .as_ref()
        .ok_or_else(|| Problem::bad_request().with_detail("cookie sessions are not enabled"))?;
    cookies.check_origin(method, uri, headers)?;
    Ok(Some(cookies))
}

/// Request a magic link
///
/// E-mails a single-use sign-in link to the account at the address. The answer is the same for
/// unknown addresses; requests per address are limited (silently).
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/login/link",
    operation_id = "request_login_link",
    tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Received; a link is on its way if the address has an account."),
        (status = 400, description = "Malformed JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
))]
async fn request_link(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<EmailRequest>,
) -> Result<StatusCode, Problem> {
    api.accounts
        .request_login_link(&body.email, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Request a login code
///
/// E-mails a 6-digit sign-in code to the account at the address. The answer is the same for
/// unknown addresses; requests per address are limited (silently).
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/login/code",
    operation_id = "request_login_code",
    tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Received; a code is on its way if the address has an account."),
        (status = 400, description = "Malformed JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
))]
async fn request_code(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<EmailRequest>,
) -> Result<StatusCode, Problem> {
    api.accounts
        .request_login_code(&body.email, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// A login with a magic link.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct LinkLoginRequest {
    /// The token of the e-mailed link.
    token: String,
    /// `true` for a browser session in a cookie instead of tokens.
    #[serde(default)]
    cookie: bool,
}

/// Log in with a magic link
///
/// Opening the link proves the address, so an unverified one becomes verified. An account with
/// a second factor answers a challenge: the link is only the first factor.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/login/link/complete",
    operation_id = "login_with_link",
    tag = "auth",
    request_body = LinkLoginRequest,
    responses(
        (status = 200, description = "Signed in (tokens or a session cookie), or a second factor is required.", body = LoginResponse,
            headers(("Set-Cookie" = String, description = "The session cookie, for a login with `\"cookie\": true`."))),
        (status = 400, description = "Malformed JSON, the link is unknown, used or expired (`invalid-code`), or cookie sessions are not enabled.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A cookie login from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
))]
async fn login_with_link(
    State(api): State<AuthApi>,
    client: Client,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LinkLoginRequest>,
) -> Result<Response, Problem> {
    let cookies = cookie_login(&api, body.cookie, &method, &uri, &headers)?;
    let outcome = api.accounts.login_with_link(&body.token, &client).await?;
    signed_in(&api, cookies, &headers, &client, outcome).await
}

/// A login with an e-mailed code.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct CodeLoginRequest {
    /// The address the code was sent to.
    email: String,
    /// The 6-digit code.
    code: String,
    /// `true` for a browser session in a cookie instead of tokens.
    #[serde(default)]
    cookie: bool,
}

/// Log in with an e-mailed code
///
/// A wrong code counts against the address; a wrong, used or expired code, an unknown account
/// and a locked address get the same 400.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/login/code/complete",
    operation_id = "login_with_code",
    tag = "auth",
    request_body = CodeLoginRequest,
    responses(
        (status = 200, description = "Signed in (tokens or a session cookie), or a second factor is required.", body = LoginResponse,
            headers(("Set-Cookie" = String, description = "The session cookie, for a login with `\"cookie\": true`."))),
        (status = 400, description = "Malformed JSON, the code is wrong, used or expired (`invalid-code`), or cookie sessions are not enabled.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A cookie login from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
))]
async fn login_with_code(
    State(api): State<AuthApi>,
    client: Client,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CodeLoginRequest>,
) -> Result<Response, Problem> {
    let cookies = cookie_login(&api, body.cookie, &method, &uri, &headers)?;
    let outcome = api
        .accounts
        .login_with_code(&body.email, &body.code, &client)
        .await?;
    signed_in(&api, cookies, &headers, &client, outcome).await
}

/// The answer to a login (tokens, a cookie session, or the second-factor challenge), and the
/// session cookie to set with it.
async fn sign_in(
    api: &AuthApi,
    cookies: Option<&SessionCookies>,
    headers: &HeaderMap,
    client: &Client,
    outcome: LoginOutcome,
) -> Result<(Option<HeaderValue>, LoginResponse), Problem> {
    match outcome {
        LoginOutcome::Authenticated { user, principal } => {
            let Some(cookies) = cookies else {
                let tokens = api.sessions.start(&user, &principal, client).await?;
                return Ok((None, LoginResponse::Tokens(Tokens::from(&tokens))));
            };
            if let Some(old) = cookies.secret(headers) {
                api.sessions.end_cookie(&old, client).await?;
            }
            let session = api.sessions.start_cookie(&user, &principal, client).await?;
            Ok((
                Some(cookies.set_cookie(&session)),
                LoginResponse::Cookie(CookieSession {
                    expires_in: seconds_until(session.expires_at),
                    session_id: session.session_id.as_str().to_owned(),
                }),
            ))
        }
        LoginOutcome::SecondFactorRequired {
            challenge,
            expires_at,
            ..
        } => Ok((
            None,
            LoginResponse::SecondFactor(SecondFactorChallenge {
                challenge: challenge.expose_secret().to_owned(),
                expires_in: seconds_until(expires_at),
                second_factor_required: true,
            }),
        )),
    }
}

/// [`sign_in`] as a response.
async fn signed_in(
    api: &AuthApi,
    cookies: Option<&SessionCookies>,
    headers: &HeaderMap,
    client: &Client,
    outcome: LoginOutcome,
) -> Result<Response, Problem> {
    let (cookie, body) = sign_in(api, cookies, headers, client, outcome).await?;
    Ok(with_cookie(cookie, Json(body)))
}

/// `body` as a response, with `Set-Cookie: cookie` when there is one.
fn with_cookie(cookie: Option<HeaderValue>, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// A refresh token to exchange.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct RefreshRequest {
    /// The session's current refresh token.
    refresh_token: String,
}

/// Refresh the tokens
///
/// Exchanges the refresh token for new tokens; the old refresh token stops working (a reused
/// one ends the session).
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/refresh",
    operation_id = "refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens.", body = Tokens),
        (status = 400, description = "Malformed JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The refresh token is unknown, used, revoked or expired (`invalid-token`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
))]
async fn refresh(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Json<Tokens>, Problem> {
    let tokens = api.sessions.refresh(&body.refresh_token, &client).await?;
    Ok(Json(Tokens::from(&tokens)))
}

/// Log out
///
/// Ends the caller's session (its tokens stop working) and clears the session cookie.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/logout",
    operation_id = "logout",
    tag = "auth",
    responses(
        (status = 204, description = "The session ended.",
            headers(("Set-Cookie" = String, description = "Clears the session cookie (when cookie sessions are enabled)."))),
        (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The credential belongs to no session (an API key).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
))]
async fn logout(
    State(api): State<AuthApi>,
    client: Client,
    principal: Principal,
) -> Result<Response, Problem> {
    let (user_id, session) = caller(&principal).ok_or_else(not_a_user)?;
    let session = session.ok_or_else(|| Problem::from(Error::NotFound))?;
    api.sessions.revoke(user_id, &session, &client).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(cookies) = &api.cookies {
        response
            .headers_mut()
            .insert(SET_COOKIE, cookies.clear_cookie());
    }
    Ok(response)
}

/// An e-mail address.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct EmailRequest {
    /// The account's e-mail address.
    email: String,
}

/// Request a password reset
///
/// E-mails a reset link to the account at the address. The answer is the same for unknown
/// addresses; requests per address are limited (silently).
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/password/forgot",
    operation_id = "forgot_password",
    tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Received; a link is on its way if the address has an account."),
        (status = 400, description = "Malformed JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
))]
async fn forgot(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<EmailRequest>,
) -> Result<StatusCode, Problem> {
    api.accounts
        .request_password_reset(&body.email, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// A new password, with the token of the reset link.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct ResetPasswordRequest {
    /// The token of the e-mailed reset link.
    token: String,
    /// The new password, checked against the password policy.
    password: String,
}

/// Reset the password
///
/// Sets a new password with the token of the e-mailed link, and signs the account out
/// everywhere. The token is spent even when the password is refused.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/password/reset",
    operation_id = "reset_password",
    tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "The password is changed."),
        (status = 400, description = "Malformed JSON, or the token is unknown, used or expired (`invalid-code`).", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field (`validation`), or a password the policy refuses (`weak-password`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy hashing passwords (`busy`, with `Retry-After`), or the store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
))]
async fn reset(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<ResetPasswordRequest>,
) -> Result<StatusCode, Problem> {
    api.accounts
        .reset_password(&body.token, &body.password, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's active sessions.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct SessionList {
    /// The sessions.
    sessions: Vec<SessionInfo>,
}

/// One session.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct SessionInfo {
    /// When it began (Unix seconds).
    created_at: u64,
    /// Whether it is the session of this request.
    current: bool,
    /// The session's id.
    id: String,
    /// The client address at the last use, if known.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    ip: Option<String>,
    /// When it was last used (Unix seconds).
    last_seen_at: u64,
    /// The client's `User-Agent` at the last use, if known.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    user_agent: Option<String>,
}

/// List the caller's sessions
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/sessions",
    operation_id = "list_sessions",
    tag = "auth",
    responses(
        (status = 200, description = "The caller's active sessions.", body = SessionList),
        (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not a user.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
))]
async fn list_sessions(
    State(api): State<AuthApi>,
    principal: Principal,
) -> Result<Json<SessionList>, Problem> {
    let (user_id, current) = caller(&principal).ok_or_else(not_a_user)?;
    let sessions = api.sessions.list(user_id).await?;
    let sessions = sessions
        .into_iter()
        .map(|s| SessionInfo {
            created_at: to_secs(s.created_at),
            current: current.as_ref() == Some(&s.id),
            id: s.id.as_str().to_owned(),
            ip: s.ip,
            last_seen_at: to_secs(s.last_seen_at),
            user_agent: s.user_agent,
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// Sign a session out
///
/// Ends one of the caller's sessions.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = "/sessions/{id}",
    operation_id = "revoke_session",
    tag = "auth",
    params(("id" = String, Path, description = "The session's id.")),
    responses(
        (status = 204, description = "The session ended."),
        (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller has no such session.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
))]
async fn revoke_session(
    State(api): State<AuthApi>,
    client: Client,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let (user_id, _) = caller(&principal).ok_or_else(not_a_user)?;
    api.sessions
        .revoke(user_id, &SessionId::from(id), &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new API key.
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct NewApiKeyRequest {
    /// A name to recognise the key by, 1 to 255 characters.
    name: String,
    /// The scopes the key carries (none by default).
    #[serde(default)]
    scopes: Vec<String>,
    /// Days until the key expires (never by default).
    #[serde(default)]
    expires_in_days: Option<u32>,
}

/// A new API key, with its secret: shown once.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct CreatedApiKey {
    /// When the key expires (Unix seconds), or `null` for never.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    expires_at: Option<u64>,
    /// The key's id.
    id: String,
    /// The key itself, for `X-API-Key` (or `Authorization: Bearer`). Shown once: only its hash
    /// is stored.
    key: String,
    /// The key's name.
    name: String,
    /// The scopes the key carries.
    scopes: Vec<String>,
}

/// Create an API key
///
/// A key that acts as the caller, with the given scopes. The key is in the answer, once.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/api-keys",
    operation_id = "create_api_key",
    tag = "auth",
    request_body = NewApiKeyRequest,
    responses(
        (status = 201, description = "The key, shown once.", body = CreatedApiKey),
        (status = 400, description = "Malformed JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "API keys are not enabled.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or mistyped field, or a name that is empty or too long (`validation`).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
))]
async fn create_key(
    State(api): State<AuthApi>,
    principal: Principal,
    JsonBody(body): JsonBody<NewApiKeyRequest>,
) -> Result<Response, Problem> {
    let keys = api.api_keys.as_ref().ok_or_else(Problem::not_found)?;
    let (user_id, _) = caller(&principal).ok_or_else(not_a_user)?;
    if body.name.trim().is_empty() || body.name.len() > 255 {
        return Err(Problem::validation([FieldError::new(
            "/name",
            "must be 1 to 255 characters",
        )]));
    }
    let mut new = NewApiKey::new(user_id.to_string(), body.name);
    for scope in body.scopes {
        new = new.scope(scope);
    }
    if let Some(days) = body.expires_in_days {
        new = new.expires_in(std::time::Duration::from_hours(u64::from(days) * 24));
    }
    let (key, token) = keys.create(new).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            expires_at: key.expires_at.map(to_secs),
            id: key.id,
            key: token,
            name: key.name,
            scopes: key.scopes,
        }),
    )
        .into_response())
}

/// The caller's API keys.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct ApiKeyList {
    /// The keys, revoked ones included.
    api_keys: Vec<ApiKeyInfo>,
}

/// One API key, without its secret.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct ApiKeyInfo {
    /// When it was created (Unix seconds).
    created_at: u64,
    /// When it expires (Unix seconds), or `null` for never.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    expires_at: Option<u64>,
    /// The key's id.
    id: String,
    /// When it was last used (Unix seconds), if ever; updated in batches.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    last_used_at: Option<u64>,
    /// The key's name.
    name: String,
    /// Whether it was revoked.
    revoked: bool,
    /// The scopes it carries.
    scopes: Vec<String>,
}

/// List the caller's API keys
///
/// Never their secrets.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/api-keys",
    operation_id = "list_api_keys",
    tag = "auth",
    responses(
        (status = 200, description = "The caller's keys.", body = ApiKeyList),
        (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not a user.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "API keys are not enabled.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
))]
async fn list_keys(
    State(api): State<AuthApi>,
    principal: Principal,
) -> Result<Json<ApiKeyList>, Problem> {
    let keys = api.api_keys.as_ref().ok_or_else(Problem::not_found)?;
    let (user_id, _) = caller(&principal).ok_or_else(not_a_user)?;
    let api_keys = keys
        .list(&user_id.to_string())
        .await?
        .into_iter()
        .map(|k| ApiKeyInfo {
            created_at: to_secs(k.created_at),
            expires_at: k.expires_at.map(to_secs),
            id: k.id,
            last_used_at: k.last_used_at.map(to_secs),
            name: k.name,
            revoked: k.revoked_at.is_some(),
            scopes: k.scopes,
        })
        .collect();
    Ok(Json(ApiKeyList { api_keys }))
}

/// Revoke an API key
///
/// One of the caller's own keys; it stops working at once.
#[cfg_attr(feature = "openapi", utoipa::path(
    delete,
    path = "/api-keys/{id}",
    operation_id = "revoke_api_key",
    tag = "auth",
    params(("id" = String, Path, description = "The key's id.")),
    responses(
        (status = 204, description = "The key is revoked."),
        (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller has no such active key, or API keys are not enabled.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
))]
async fn revoke_key(
    State(api): State<AuthApi>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let keys = api.api_keys.as_ref().ok_or_else(Problem::not_found)?;
    let (user_id, _) = caller(&principal).ok_or_else(not_a_user)?;
    // Only one's own keys: anything else is "not found", revealing nothing.
    let owned = keys
        .list(&user_id.to_string())
        .await?
        .iter()
        .any(|k| k.id == id);
    if !owned {
        return Err(Problem::from(Error::NotFound));
    }
    keys.revoke(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(feature = "totp")]
pub use second_factor::second_factor_router;

#[cfg(feature = "totp")]
mod second_factor {
    //! The second-factor endpoints (features `axum` and `totp`).

    use base64::Engine as _;
    use serde::{Deserialize, Serialize};

    #[cfg(feature = "openapi")]
    use super::LoginResponse;
    use super::{
        AuthApi, Client, FieldError, HeaderMap, IntoResponse as _, Json, JsonBody, Method,
        Principal, Problem, Response, Router, State, StatusCode, Uri, caller, get, not_a_user,
        post, signed_in,
    };
    use crate::account::Proof;
    use crate::error::Error;
    use crate::mfa::SecondFactors;

    #[derive(Clone, Debug)]
    struct FactorsApi {
        api: AuthApi,
        factors: SecondFactors,
    }

    /// The second-factor endpoints, to nest beside [`super::router`] (the same `AuthApi`, with
    /// `factors` also given to the accounts' `AccountsBuilder::second_factor`):
    ///
    /// | method and path | body | answer |
    /// | --- | --- | --- |
    /// | `POST /login/second-factor` | `{"challenge", "code"` or `"recovery_code", "cookie"?}` | as `POST /login` once the factor is right; 400 `invalid-code` otherwise (the challenge stands until it expires) |
    /// | `GET /2fa` | — (bearer token) | 200 `{"totp": bool, "recovery_codes_left"}` |
    /// | `POST /2fa/totp` | — (bearer token) | 201 `{"secret", "uri", "qr_png"}` (base64 PNG): enrollment, pending until confirmed |
    /// | `POST /2fa/totp/confirm` | `{"code"}` (bearer token) | 200 `{"recovery_codes": […]}`, shown once |
    /// | `POST /2fa/recovery-codes` | `{"code"` or `"recovery_code"}` (bearer token, step-up) | 200 a new set |
    /// | `DELETE /2fa/totp` | `{"code"` or `"recovery_code"}` (bearer token, step-up) | 204 |
    pub fn second_factor_router(api: AuthApi, factors: SecondFactors) -> Router {
        Router::new()
            .route("/login/second-factor", post(complete_login))
            .route("/2fa", get(status))
            .route("/2fa/totp", post(enroll).delete(disable))
            .route("/2fa/totp/confirm", post(confirm))
            .route("/2fa/recovery-codes", post(regenerate))
            .with_state(FactorsApi { api, factors })
    }

    /// A TOTP code or a recovery code, exactly one of them.
    #[allow(
        clippy::result_large_err,
        reason = "the problem document is the HTTP answer, built only on refusal"
    )]
    fn proof(code: Option<&str>, recovery_code: Option<&str>) -> Result<Proof, Problem> {
        match (code, recovery_code) {
            (Some(code), None) => Ok(Proof::totp(code)),
            (None, Some(code)) => Ok(Proof::recovery_code(code)),
            _ => Err(Problem::validation([FieldError::new(
                "/code",
                "give `code` or `recovery_code`",
            )])),
        }
    }

    /// The second step of a login: the challenge and a TOTP code or a recovery code.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct SecondFactorLoginRequest {
        /// The challenge the first step answered.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = String, required = true))]
        challenge: Option<String>,
        /// The authenticator app's current code; or give `recovery_code`.
        #[serde(default)]
        code: Option<String>,
        /// One of the recovery codes (single-use); or give `code`.
        #[serde(default)]
        recovery_code: Option<String>,
        /// `true` for a browser session in a cookie instead of tokens.
        #[serde(default)]
        cookie: bool,
    }

    /// Complete a login with a second factor
    ///
    /// The login's challenge with a TOTP code or a recovery code. A wrong factor leaves the
    /// challenge standing until it expires; failures count towards a lockout.
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/login/second-factor",
        operation_id = "complete_second_factor_login",
        tag = "second factors",
        request_body = SecondFactorLoginRequest,
        responses(
            (status = 200, description = "Signed in (tokens or a session cookie).", body = LoginResponse,
                headers(("Set-Cookie" = String, description = "The session cookie, for a login with `\"cookie\": true`."))),
            (status = 400, description = "Malformed JSON, a wrong, used or expired factor or challenge (`invalid-code`), or cookie sessions are not enabled.", body = Problem, content_type = "application/problem+json"),
            (status = 401, description = "The second factor is locked after too many failures (`invalid-credentials`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "A cookie login from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
            (status = 422, description = "A missing or mistyped field, or not exactly one of `code` and `recovery_code` (`validation`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(()),
    ))]
    async fn complete_login(
        State(state): State<FactorsApi>,
        client: Client,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        JsonBody(body): JsonBody<SecondFactorLoginRequest>,
    ) -> Result<Response, Problem> {
        let challenge = body.challenge.as_deref().ok_or_else(|| {
            Problem::validation([FieldError::new("/challenge", "the login's challenge")])
        })?;
        let proof = proof(body.code.as_deref(), body.recovery_code.as_deref())?;
        let cookies = super::cookie_login(&state.api, body.cookie, &method, &uri, &headers)?;
        let outcome = state
            .api
            .accounts
            .complete_login(challenge, &proof, &client)
            .await?;
        signed_in(&state.api, cookies, &headers, &client, outcome).await
    }

    /// The caller's second factors.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct SecondFactorStatus {
        /// How many unused recovery codes are left.
        recovery_codes_left: usize,
        /// Whether an authenticator app (TOTP) is active.
        totp: bool,
    }

    /// The caller's second factors
    #[cfg_attr(feature = "openapi", utoipa::path(
        get,
        path = "/2fa",
        operation_id = "second_factor_status",
        tag = "second factors",
        responses(
            (status = 200, description = "The caller's second factors.", body = SecondFactorStatus),
            (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user.", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn status(
        State(state): State<FactorsApi>,
        principal: Principal,
    ) -> Result<Json<SecondFactorStatus>, Problem> {
        let (user, _) = caller(&principal).ok_or_else(not_a_user)?;
        let totp = state.factors.has_totp(user).await?;
        Ok(Json(SecondFactorStatus {
            recovery_codes_left: state.factors.recovery_codes_left(user).await?,
            totp,
        }))
    }

    /// A TOTP enrollment, pending until confirmed with a first code.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct TotpEnrollment {
        /// The `otpauth://` URI as a QR code: a PNG image, base64.
        #[cfg_attr(
            feature = "openapi",
            schema(content_encoding = "base64", content_media_type = "image/png")
        )]
        qr_png: String,
        /// The shared secret, base32, for typing into an authenticator app.
        secret: String,
        /// The `otpauth://totp/…` URI for authenticator apps.
        uri: String,
    }

    /// Start a TOTP enrollment
    ///
    /// A new authenticator-app secret, pending until `POST /2fa/totp/confirm` confirms it with a
    /// first code.
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/2fa/totp",
        operation_id = "enroll_totp",
        tag = "second factors",
        responses(
            (status = 201, description = "The secret, its URI and QR code.", body = TotpEnrollment),
            (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 404, description = "The caller's account is gone.", body = Problem, content_type = "application/problem+json"),
            (status = 409, description = "An authenticator app is active already (`conflict`): remove it first.", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn enroll(
        State(state): State<FactorsApi>,
        principal: Principal,
    ) -> Result<Response, Problem> {
        let (user, _) = caller(&principal).ok_or_else(not_a_user)?;
        let account = state
            .api
            .accounts
            .users()
            .by_id(user)
            .await?
            .ok_or(Error::NotFound)?;
        let enrollment = state.factors.enroll_totp(user, &account.email).await?;
        Ok((
            StatusCode::CREATED,
            Json(TotpEnrollment {
                qr_png: base64::engine::general_purpose::STANDARD.encode(enrollment.qr_png()),
                secret: enrollment.secret_base32().to_owned(),
                uri: enrollment.uri().to_owned(),
            }),
        )
            .into_response())
    }

    /// The first code of a pending TOTP enrollment.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct TotpConfirmRequest {
        /// The authenticator app's current code.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = String, required = true))]
        code: Option<String>,
    }

    /// A set of recovery codes, shown once.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct RecoveryCodes {
        /// Single-use codes that stand in for the authenticator app; any earlier set stops
        /// working.
        recovery_codes: Vec<String>,
    }

    /// Confirm the TOTP enrollment
    ///
    /// The authenticator app's first code activates it, and answers the recovery codes, once.
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/2fa/totp/confirm",
        operation_id = "confirm_totp",
        tag = "second factors",
        request_body = TotpConfirmRequest,
        responses(
            (status = 200, description = "Active; the recovery codes, shown once.", body = RecoveryCodes),
            (status = 400, description = "Malformed JSON, or a wrong or reused code, or nothing pending (`invalid-code`).", body = Problem, content_type = "application/problem+json"),
            (status = 401, description = "No credential or an invalid one (`unauthenticated`, `invalid-token`), or locked after too many failures (`invalid-credentials`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
            (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn confirm(
        State(state): State<FactorsApi>,
        principal: Principal,
        JsonBody(body): JsonBody<TotpConfirmRequest>,
    ) -> Result<Json<RecoveryCodes>, Problem> {
        let (user, _) = caller(&principal).ok_or_else(not_a_user)?;
        let code = body
            .code
            .as_deref()
            .ok_or_else(|| Problem::validation([FieldError::new("/code", "the app's code")]))?;
        let codes = state.factors.confirm_totp(user, code).await?;
        Ok(Json(RecoveryCodes {
            recovery_codes: codes.codes().into_iter().map(str::to_owned).collect(),
        }))
    }

    /// A step-up proof: a TOTP code or a recovery code.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct StepUpRequest {
        /// The authenticator app's current code; or give `recovery_code`.
        #[serde(default)]
        code: Option<String>,
        /// One of the recovery codes (single-use); or give `code`.
        #[serde(default)]
        recovery_code: Option<String>,
    }

    /// A step-up proof for `principal`.
    async fn step_up(
        state: &FactorsApi,
        principal: &Principal,
        body: &StepUpRequest,
    ) -> Result<crate::user::UserId, Problem> {
        let (user, _) = caller(principal).ok_or_else(not_a_user)?;
        let proof = proof(body.code.as_deref(), body.recovery_code.as_deref())?;
        state.factors.step_up(principal, &proof).await?;
        Ok(user)
    }

    /// Replace the recovery codes
    ///
    /// A new set, after a step-up proof; the earlier set stops working.
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/2fa/recovery-codes",
        operation_id = "regenerate_recovery_codes",
        tag = "second factors",
        request_body = StepUpRequest,
        responses(
            (status = 200, description = "The new recovery codes, shown once.", body = RecoveryCodes),
            (status = 400, description = "Malformed JSON, or a wrong, used or expired proof (`invalid-code`).", body = Problem, content_type = "application/problem+json"),
            (status = 401, description = "No credential or an invalid one (`unauthenticated`, `invalid-token`), or locked after too many failures (`invalid-credentials`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
            (status = 422, description = "A mistyped field, or not exactly one of `code` and `recovery_code` (`validation`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn regenerate(
        State(state): State<FactorsApi>,
        principal: Principal,
        JsonBody(body): JsonBody<StepUpRequest>,
    ) -> Result<Json<RecoveryCodes>, Problem> {
        let user = step_up(&state, &principal, &body).await?;
        let codes = state.factors.regenerate_recovery_codes(user).await?;
        Ok(Json(RecoveryCodes {
            recovery_codes: codes.codes().into_iter().map(str::to_owned).collect(),
        }))
    }

    /// Remove the authenticator app
    ///
    /// After a step-up proof; the recovery codes go with it.
    #[cfg_attr(feature = "openapi", utoipa::path(
        delete,
        path = "/2fa/totp",
        operation_id = "disable_totp",
        tag = "second factors",
        request_body = StepUpRequest,
        responses(
            (status = 204, description = "Removed."),
            (status = 400, description = "Malformed JSON, or a wrong, used or expired proof (`invalid-code`).", body = Problem, content_type = "application/problem+json"),
            (status = 401, description = "No credential or an invalid one (`unauthenticated`, `invalid-token`), or locked after too many failures (`invalid-credentials`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
            (status = 422, description = "A mistyped field, or not exactly one of `code` and `recovery_code` (`validation`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn disable(
        State(state): State<FactorsApi>,
        principal: Principal,
        JsonBody(body): JsonBody<StepUpRequest>,
    ) -> Result<StatusCode, Problem> {
        let user = step_up(&state, &principal, &body).await?;
        state.factors.disable(user).await?;
        Ok(StatusCode::NO_CONTENT)
    }
}

#[cfg(feature = "oauth")]
pub use federated::{FLOW_COOKIE, oauth_router};

#[cfg(feature = "oauth")]
mod federated {
    //! The federated sign-in endpoints (features `axum` and `oauth`).

    use ::axum::extract::Query;
    use ::axum::http::HeaderValue;
    use ::axum::http::header::{COOKIE, LOCATION};
    use serde::{Deserialize, Serialize};

    use super::{
        AuthApi, Client, Error, HeaderMap, IntoResponse, Json, JsonBody, LoginResponse, Method,
        Path, Principal, Problem, Response, Router, SET_COOKIE, State, StatusCode, Uri, caller,
        cookie_login, get, not_a_user, post, sign_in, with_cookie,
    };
    use crate::oauth::{Authorization, Callback, Federation, Intent, OAuth};
    use secrecy::ExposeSecret as _;

    /// The cookie holding a started sign-in's sealed flow (HttpOnly, Secure, `SameSite=Lax`
    /// so it comes back on the provider's top-level redirect).
    pub const FLOW_COOKIE: &str = "__Host-mortar-oauth";

    #[derive(Clone, Debug)]
    struct OAuthApi {
        api: AuthApi,
        oauth: OAuth,
        federation: Federation,
    }

    /// The federated sign-in endpoints, to nest beside [`super::router`] (the same `AuthApi`;
    /// `federation` built on its accounts):
    ///
    /// | method and path | body | answer |
    /// | --- | --- | --- |
    /// | `GET /oauth/providers` | — | 200 `{"providers": ["github", "google", …]}` |
    /// | `GET /oauth/{provider}/start?return_to=/path` | — | 303 to the provider, setting the flow cookie |
    /// | `POST /oauth/sso` | `{"email", "return_to"?}` | 200 `{"url"}` of the tenant's issuer for the address's domain, setting the flow cookie; 404 when no tenant holds the domain |
    /// | `GET /oauth/{provider}/callback?code&state[&cookie=true]` | — (the flow cookie) | as `POST /login`, with the `return_to` path in the `X-Mortar-Return-To` header; or, for a link, 200 `{"linked": {…}, "return_to"}`. 400 `federated-login-failed`, 409 `link-required`, 403 `domain-not-allowed`, 502 `identity-provider-unavailable` otherwise. The flow cookie is cleared either way |
    /// | `POST /oauth/{provider}/link` | — (bearer token) | 200 `{"url"}`, setting the flow cookie: the browser goes there, and the callback links the identity to the caller |
    /// | `GET /oauth/identities` | — (bearer token) | 200 the caller's linked identities |
    /// | `DELETE /oauth/identities/{provider}/{subject}` | — (bearer token) | 204; 409 `last-login-method` when it is the account's only way in |
    ///
    /// Register `{your prefix}/oauth/{provider}/callback` as the redirect URL with each
    /// provider (or point the provider at a page of your front end that calls it with the same
    /// query).
    pub fn oauth_router(api: AuthApi, oauth: OAuth, federation: Federation) -> Router {
        Router::new()
            .route("/oauth/providers", get(providers))
            .route("/oauth/sso", post(start_sso))
            .route("/oauth/identities", get(identities))
            .route(
                "/oauth/identities/{provider}/{subject}",
                ::axum::routing::delete(unlink),
            )
            .route("/oauth/{provider}/start", get(start))
            .route("/oauth/{provider}/link", post(start_link))
            .route("/oauth/{provider}/callback", get(callback))
            .with_state(OAuthApi {
                api,
                oauth,
                federation,
            })
    }

    fn flow_cookie(started: &Authorization) -> HeaderValue {
        let max_age = started
            .expires_at
            .duration_since(std::time::SystemTime::now())
            .map_or(0, |d| d.as_secs());
        HeaderValue::try_from(format!(
            "{FLOW_COOKIE}={}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax",
            started.flow.expose_secret()
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("__Host-mortar-oauth=; Path=/; Max-Age=0"))
    }

    fn clear_flow_cookie() -> HeaderValue {
        HeaderValue::from_static(
            "__Host-mortar-oauth=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
        )
    }

    fn read_flow_cookie(headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == FLOW_COOKIE)
            .map(|c| c.value().to_owned())
    }

    /// The providers one can sign in with.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct OAuthProviders {
        /// The providers' ids, sorted (tenants' SSO connections are not listed).
        providers: Vec<String>,
    }

    /// List the sign-in providers
    #[cfg_attr(feature = "openapi", utoipa::path(
        get,
        path = "/oauth/providers",
        operation_id = "list_oauth_providers",
        tag = "federated sign-in",
        responses(
            (status = 200, description = "The configured providers.", body = OAuthProviders),
        ),
        security(()),
    ))]
    async fn providers(State(state): State<OAuthApi>) -> Json<OAuthProviders> {
        Json(OAuthProviders {
            providers: state
                .oauth
                .provider_ids()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        })
    }

    /// Where a sign-in goes back to.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
    #[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
    struct StartQuery {
        /// A local path (`/settings`) to return to after the sign-in, handed back by the
        /// callback; anything else is dropped.
        #[serde(default)]
        return_to: Option<String>,
    }

    /// Start a sign-in with a provider
    ///
    /// Redirects the browser to the provider, with the sealed flow in a cookie. The provider
    /// sends the browser back to `/oauth/{provider}/callback`.
    #[cfg_attr(feature = "openapi", utoipa::path(
        get,
        path = "/oauth/{provider}/start",
        operation_id = "start_oauth_sign_in",
        tag = "federated sign-in",
        params(
            ("provider" = String, Path, description = "The provider's id (`google`, `github`…, or `sso-{tenant}`)."),
            StartQuery,
        ),
        responses(
            (status = 303, description = "To the provider's authorization page.",
                headers(
                    ("Location" = String, description = "The provider's authorization URL."),
                    ("Set-Cookie" = String, description = "The flow cookie (`__Host-mortar-oauth`), for the callback."),
                )),
            (status = 404, description = "No such provider.", body = Problem, content_type = "application/problem+json"),
            (status = 502, description = "The provider could not be reached (`identity-provider-unavailable`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The SSO directory is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(()),
    ))]
    async fn start(
        State(state): State<OAuthApi>,
        Path(provider): Path<String>,
        Query(query): Query<StartQuery>,
    ) -> Result<Response, Problem> {
        let started = state
            .oauth
            .start(&provider, Intent::SignIn, query.return_to.as_deref())
            .await?;
        let location = HeaderValue::try_from(started.url.as_str())
            .map_err(|_| Problem::from(Error::Internal("unusable authorization URL".into())))?;
        Ok((
            StatusCode::SEE_OTHER,
            [(LOCATION, location), (SET_COOKIE, flow_cookie(&started))],
        )
            .into_response())
    }

    /// An enterprise sign-in by e-mail address.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct SsoRequest {
        /// The address whose domain picks the tenant.
        email: String,
        /// A local path (`/settings`) to return to after the sign-in; anything else is dropped.
        #[serde(default)]
        return_to: Option<String>,
    }

    /// Where to send the browser.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct AuthorizationUrl {
        /// The provider's authorization URL.
        url: String,
    }

    /// Start an enterprise sign-in (SSO)
    ///
    /// Finds the tenant whose domains include the address's and answers its issuer's
    /// authorization URL, with the sealed flow in a cookie.
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/oauth/sso",
        operation_id = "start_sso",
        tag = "federated sign-in",
        request_body = SsoRequest,
        responses(
            (status = 200, description = "The tenant issuer's authorization URL.", body = AuthorizationUrl,
                headers(("Set-Cookie" = String, description = "The flow cookie (`__Host-mortar-oauth`), for the callback."))),
            (status = 400, description = "Malformed JSON.", body = Problem, content_type = "application/problem+json"),
            (status = 404, description = "No tenant holds the address's domain.", body = Problem, content_type = "application/problem+json"),
            (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
            (status = 422, description = "A missing or mistyped field, or an address without a domain (`validation`).", body = Problem, content_type = "application/problem+json"),
            (status = 502, description = "The tenant's issuer could not be reached (`identity-provider-unavailable`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The SSO directory is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(()),
    ))]
    async fn start_sso(
        State(state): State<OAuthApi>,
        JsonBody(body): JsonBody<SsoRequest>,
    ) -> Result<Response, Problem> {
        let started = state
            .oauth
            .start_sso(&body.email, body.return_to.as_deref())
            .await?;
        Ok((
            [(SET_COOKIE, flow_cookie(&started))],
            Json(AuthorizationUrl { url: started.url }),
        )
            .into_response())
    }

    /// Link a provider to the caller's account
    ///
    /// Answers the provider's authorization URL, with the sealed flow in a cookie: the browser
    /// goes there, and the callback links the identity to the caller.
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/oauth/{provider}/link",
        operation_id = "start_oauth_link",
        tag = "federated sign-in",
        params(("provider" = String, Path, description = "The provider's id.")),
        responses(
            (status = 200, description = "The provider's authorization URL.", body = AuthorizationUrl,
                headers(("Set-Cookie" = String, description = "The flow cookie (`__Host-mortar-oauth`), for the callback."))),
            (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 404, description = "No such provider.", body = Problem, content_type = "application/problem+json"),
            (status = 502, description = "The provider could not be reached (`identity-provider-unavailable`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The SSO directory is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn start_link(
        State(state): State<OAuthApi>,
        principal: Principal,
        Path(provider): Path<String>,
    ) -> Result<Response, Problem> {
        let (user_id, _) = caller(&principal).ok_or_else(not_a_user)?;
        let started = state
            .oauth
            .start(&provider, Intent::Link(user_id), None)
            .await?;
        Ok((
            [(SET_COOKIE, flow_cookie(&started))],
            Json(AuthorizationUrl { url: started.url }),
        )
            .into_response())
    }

    /// What the provider sends back.
    // Not `#[serde(flatten)]` of `Callback`: flattened query values lose their types.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
    #[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
    struct CallbackQuery {
        /// The authorization code.
        #[serde(default)]
        code: Option<String>,
        /// The `state` the sign-in started with.
        #[serde(default)]
        state: Option<String>,
        /// The provider's error (`access_denied` when the user declined).
        #[serde(default)]
        error: Option<String>,
        /// `true` for a browser session in a cookie instead of tokens.
        #[serde(default)]
        cookie: bool,
    }

    /// The answer to a callback: a sign-in's, or a link's.
    #[derive(Serialize)]
    #[serde(untagged)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    enum OAuthCallbackResponse {
        /// Signed in, as `POST /login`.
        SignedIn(LoginResponse),
        /// The identity is linked to the caller's account.
        Linked(IdentityLinked),
    }

    /// An identity linked to the account that started the link.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct IdentityLinked {
        /// The identity.
        linked: LinkedIdentityRef,
        /// The local path the link started with, if any.
        #[cfg_attr(feature = "openapi", schema(required = true))]
        return_to: Option<String>,
    }

    /// An identity at a provider.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct LinkedIdentityRef {
        /// The identity's e-mail address at the provider, if it gave one.
        #[cfg_attr(feature = "openapi", schema(required = true))]
        email: Option<String>,
        /// The provider's id.
        provider: String,
        /// The identity's subject (its id at the provider).
        subject: String,
    }

    /// The provider's callback
    ///
    /// Checks the flow cookie and `state`, exchanges the code and validates the identity, then
    /// signs in (the answer of `POST /login`, with the `return_to` path in `X-Mortar-Return-To`)
    /// or, for a link, links the identity. The flow cookie is cleared either way.
    #[cfg_attr(feature = "openapi", utoipa::path(
        get,
        path = "/oauth/{provider}/callback",
        operation_id = "oauth_callback",
        tag = "federated sign-in",
        params(
            ("provider" = String, Path, description = "The provider's id."),
            CallbackQuery,
        ),
        responses(
            (status = 200, description = "Signed in (tokens, a session cookie or a second-factor challenge), or the identity is linked.", body = OAuthCallbackResponse,
                headers(
                    ("Set-Cookie" = String, description = "Clears the flow cookie; and sets the session cookie, for a sign-in with `cookie=true`."),
                    ("X-Mortar-Return-To" = String, description = "The local path the sign-in started with, if any."),
                )),
            (status = 400, description = "The sign-in failed (`federated-login-failed`: no or another flow, a mismatched `state`, a refused code, an invalid ID token, no verified address, the user declined), or cookie sessions are not enabled.", body = Problem, content_type = "application/problem+json",
                headers(("Set-Cookie" = String, description = "Clears the flow cookie."))),
            (status = 401, description = "The account is disabled (`invalid-credentials`).", body = Problem, content_type = "application/problem+json",
                headers(("Set-Cookie" = String, description = "Clears the flow cookie."))),
            (status = 403, description = "The address is outside the tenant's domains (`domain-not-allowed`), or a cookie sign-in from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json",
                headers(("Set-Cookie" = String, description = "Clears the flow cookie."))),
            (status = 404, description = "No such provider, or the linking account is gone.", body = Problem, content_type = "application/problem+json",
                headers(("Set-Cookie" = String, description = "Clears the flow cookie."))),
            (status = 409, description = "The address belongs to an account the identity may not join by itself (`link-required`: sign in and link), or the identity is linked to another account (`conflict`).", body = Problem, content_type = "application/problem+json",
                headers(("Set-Cookie" = String, description = "Clears the flow cookie."))),
            (status = 502, description = "The provider could not be reached (`identity-provider-unavailable`).", body = Problem, content_type = "application/problem+json",
                headers(("Set-Cookie" = String, description = "Clears the flow cookie."))),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json",
                headers(("Set-Cookie" = String, description = "Clears the flow cookie."))),
        ),
        security(()),
    ))]
    async fn callback(
        State(state): State<OAuthApi>,
        client: Client,
        Path(provider): Path<String>,
        Query(query): Query<CallbackQuery>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
    ) -> Response {
        let answer = finish(&state, &client, &provider, &query, &method, &uri, &headers).await;
        let mut response = answer.unwrap_or_else(IntoResponse::into_response);
        response
            .headers_mut()
            .append(SET_COOKIE, clear_flow_cookie());
        response
    }

    async fn finish(
        state: &OAuthApi,
        client: &Client,
        provider: &str,
        query: &CallbackQuery,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Response, Problem> {
        let flow = read_flow_cookie(headers);
        let callback = Callback {
            code: query.code.clone(),
            state: query.state.clone(),
            error: query.error.clone(),
        };
        let finished = state
            .oauth
            .finish(provider, &callback, flow.as_deref())
            .await?;
        match finished.intent {
            Intent::SignIn => {
                let cookies = cookie_login(&state.api, query.cookie, method, uri, headers)?;
                let outcome = state.federation.sign_in(&finished.identity, client).await?;
                let (cookie, body) = sign_in(&state.api, cookies, headers, client, outcome).await?;
                let mut response = with_cookie(cookie, Json(OAuthCallbackResponse::SignedIn(body)));
                if let Some(path) = finished.return_to
                    && let Ok(value) = HeaderValue::try_from(path)
                {
                    // The path travels in a header too, so the body stays that of `POST /login`.
                    response.headers_mut().insert("x-mortar-return-to", value);
                }
                Ok(response)
            }
            Intent::Link(user_id) => {
                let linked = state
                    .federation
                    .link(user_id, &finished.identity, client)
                    .await?;
                Ok(Json(OAuthCallbackResponse::Linked(IdentityLinked {
                    linked: LinkedIdentityRef {
                        email: linked.email,
                        provider: linked.provider,
                        subject: linked.subject,
                    },
                    return_to: finished.return_to,
                }))
                .into_response())
            }
        }
    }

    /// The caller's linked identities.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct IdentityList {
        /// The identities.
        identities: Vec<LinkedIdentity>,
    }

    /// An identity at a provider, linked to the caller's account.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct LinkedIdentity {
        /// The identity's e-mail address at the provider, if it gave one.
        #[cfg_attr(feature = "openapi", schema(required = true))]
        email: Option<String>,
        /// When it was last used to sign in (Unix seconds), if ever.
        #[cfg_attr(feature = "openapi", schema(required = true))]
        last_used_at: Option<u64>,
        /// When it was linked (Unix seconds).
        linked_at: u64,
        /// The provider's id.
        provider: String,
        /// The identity's subject (its id at the provider).
        subject: String,
    }

    /// List the caller's linked identities
    #[cfg_attr(feature = "openapi", utoipa::path(
        get,
        path = "/oauth/identities",
        operation_id = "list_linked_identities",
        tag = "federated sign-in",
        responses(
            (status = 200, description = "The caller's linked identities.", body = IdentityList),
            (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user.", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn identities(
        State(state): State<OAuthApi>,
        principal: Principal,
    ) -> Result<Json<IdentityList>, Problem> {
        let (user_id, _) = caller(&principal).ok_or_else(not_a_user)?;
        let list = state.federation.identities().for_user(user_id).await?;
        let identities = list
            .into_iter()
            .map(|i| LinkedIdentity {
                email: i.email,
                last_used_at: i.last_used_at.map(crate::time::to_secs),
                linked_at: crate::time::to_secs(i.linked_at),
                provider: i.provider,
                subject: i.subject,
            })
            .collect();
        Ok(Json(IdentityList { identities }))
    }

    /// Unlink an identity
    ///
    /// Never the account's last way to sign in.
    #[cfg_attr(feature = "openapi", utoipa::path(
        delete,
        path = "/oauth/identities/{provider}/{subject}",
        operation_id = "unlink_identity",
        tag = "federated sign-in",
        params(
            ("provider" = String, Path, description = "The provider's id."),
            ("subject" = String, Path, description = "The identity's subject at the provider."),
        ),
        responses(
            (status = 204, description = "Unlinked."),
            (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 404, description = "The caller has no such identity.", body = Problem, content_type = "application/problem+json"),
            (status = 409, description = "It is the account's last way to sign in (`last-login-method`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn unlink(
        State(state): State<OAuthApi>,
        client: Client,
        principal: Principal,
        Path((provider, subject)): Path<(String, String)>,
    ) -> Result<StatusCode, Problem> {
        let (user_id, _) = caller(&principal).ok_or_else(not_a_user)?;
        state
            .federation
            .unlink(user_id, &provider, &subject, &client)
            .await?;
        Ok(StatusCode::NO_CONTENT)
    }
}

#[cfg(feature = "webauthn")]
pub use passkeys::passkey_router;

#[cfg(feature = "webauthn")]
mod passkeys {
    //! The passkey endpoints (features `axum` and `webauthn`).

    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    #[cfg(feature = "openapi")]
    use super::LoginResponse;
    use super::{
        AuthApi, Client, EmailRequest, Error, FieldError, HeaderMap, IntoResponse, Json, JsonBody,
        Method, Path, Principal, Problem, Response, Router, State, StatusCode, Uri, caller,
        cookie_login, not_a_user, post, seconds_until, signed_in,
    };
    use crate::account::Proof;
    use crate::passkey::{Ceremony, Passkeys};
    use crate::user::UserId;
    use secrecy::ExposeSecret as _;

    #[derive(Clone, Debug)]
    struct PasskeyApi {
        api: AuthApi,
        passkeys: Passkeys,
    }

    /// The passkey endpoints, to nest beside [`super::router`] (the same `AuthApi`, whose
    /// accounts have `passkeys` among their second factors, e.g. through `AnyFactor`):
    ///
    /// | method and path | body | answer |
    /// | --- | --- | --- |
    /// | `POST /passkeys` | — (bearer token) | 200 `{"options", "ceremony", "expires_in"}`: give `options` to `navigator.credentials.create()` |
    /// | `POST /passkeys/complete` | `{"ceremony", "credential", "name"?}` (bearer token) | 201 `{"id", "name"}` |
    /// | `GET /passkeys` | — (bearer token) | 200 the caller's passkeys |
    /// | `DELETE /passkeys/{id}` | — (bearer token) | 204 |
    /// | `POST /login/passkey` | `{"email"}` | 200 `{"options", "ceremony", "expires_in"}` for `navigator.credentials.get()` (alike for unknown addresses) |
    /// | `POST /login/passkey/complete` | `{"ceremony", "credential", "cookie"?}` | as `POST /login` (`amr` `["hwk", "mfa"]`); 400 `invalid-code` otherwise |
    /// | `POST /login/second-factor/passkey` | `{"challenge"}` | 200 the options for the challenge's user |
    /// | `POST /login/second-factor/passkey/complete` | `{"challenge", "ceremony", "credential", "cookie"?}` | as `POST /login` |
    pub fn passkey_router(api: AuthApi, passkeys: Passkeys) -> Router {
        Router::new()
            .route("/passkeys", post(start_registration).get(list))
            .route("/passkeys/complete", post(finish_registration))
            .route("/passkeys/{id}", ::axum::routing::delete(remove))
            .route("/login/passkey", post(start_login))
            .route("/login/passkey/complete", post(finish_login))
            .route("/login/second-factor/passkey", post(start_second_factor))
            .route(
                "/login/second-factor/passkey/complete",
                post(finish_second_factor),
            )
            .with_state(PasskeyApi { api, passkeys })
    }

    /// A WebAuthn ceremony started: its options for the browser, and the sealed ceremony to
    /// send back with the browser's answer.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct PasskeyCeremony {
        /// The sealed ceremony, single-use: send it back with the credential.
        ceremony: String,
        /// Seconds until the ceremony expires.
        expires_in: u64,
        /// The WebAuthn options (`{"publicKey": …}`) for `navigator.credentials.create()` or
        /// `.get()`, as JSON.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        options: Value,
    }

    #[allow(
        clippy::result_large_err,
        reason = "the problem document is the HTTP answer, built only on refusal"
    )]
    fn ceremony_json<T: Serialize>(
        ceremony: &Ceremony<T>,
    ) -> Result<Json<PasskeyCeremony>, Problem> {
        let options = serde_json::to_value(&ceremony.options)
            .map_err(|e| Problem::from(Error::internal(e)))?;
        Ok(Json(PasskeyCeremony {
            ceremony: ceremony.ceremony.expose_secret().to_owned(),
            expires_in: seconds_until(ceremony.expires_at),
            options,
        }))
    }

    #[allow(
        clippy::result_large_err,
        reason = "the problem document is the HTTP answer, built only on refusal"
    )]
    fn credential<T: DeserializeOwned>(value: &Value) -> Result<T, Problem> {
        serde_json::from_value(value.clone()).map_err(|e| {
            Problem::validation([FieldError::new(
                "/credential",
                format!("not a WebAuthn credential: {e}"),
            )])
        })
    }

    #[allow(
        clippy::result_large_err,
        reason = "the problem document is the HTTP answer, built only on refusal"
    )]
    fn me(principal: &Principal) -> Result<UserId, Problem> {
        caller(principal).map(|(id, _)| id).ok_or_else(not_a_user)
    }

    /// Start registering a passkey
    ///
    /// Answers the options for `navigator.credentials.create()`, excluding the caller's
    /// registered passkeys.
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/passkeys",
        operation_id = "start_passkey_registration",
        tag = "passkeys",
        responses(
            (status = 200, description = "The registration ceremony.", body = PasskeyCeremony),
            (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn start_registration(
        State(state): State<PasskeyApi>,
        principal: Principal,
    ) -> Result<Json<PasskeyCeremony>, Problem> {
        let user_id = me(&principal)?;
        let user = state
            .api
            .accounts
            .users()
            .by_id(user_id)
            .await?
            .ok_or_else(not_a_user)?;
        ceremony_json(&state.passkeys.start_registration(&user).await?)
    }

    /// The browser's answer to a registration ceremony.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct PasskeyRegistrationRequest {
        /// The sealed ceremony `POST /passkeys` answered.
        ceremony: String,
        /// The `PublicKeyCredential` `navigator.credentials.create()` answered, as JSON.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        credential: Value,
        /// A name to recognise the passkey by (optional).
        #[serde(default)]
        name: Option<String>,
    }

    /// A registered passkey.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct RegisteredPasskey {
        /// The passkey's id (its credential id, base64url).
        id: String,
        /// Its name.
        name: String,
    }

    /// Finish registering a passkey
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/passkeys/complete",
        operation_id = "finish_passkey_registration",
        tag = "passkeys",
        request_body = PasskeyRegistrationRequest,
        responses(
            (status = 201, description = "The passkey is registered.", body = RegisteredPasskey),
            (status = 400, description = "Malformed JSON, or a used, expired or another user's ceremony, or an answer that does not verify (`invalid-code`).", body = Problem, content_type = "application/problem+json"),
            (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 409, description = "The passkey is registered already (`conflict`).", body = Problem, content_type = "application/problem+json"),
            (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
            (status = 422, description = "A missing or mistyped field, or `credential` is not a WebAuthn credential (`validation`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn finish_registration(
        State(state): State<PasskeyApi>,
        client: Client,
        principal: Principal,
        JsonBody(body): JsonBody<PasskeyRegistrationRequest>,
    ) -> Result<Response, Problem> {
        let user_id = me(&principal)?;
        let response = credential(&body.credential)?;
        let registered = state
            .passkeys
            .finish_registration(
                user_id,
                &body.ceremony,
                &response,
                body.name.as_deref().unwrap_or(""),
                &client,
            )
            .await?;
        Ok((
            StatusCode::CREATED,
            Json(RegisteredPasskey {
                id: registered.id,
                name: registered.name,
            }),
        )
            .into_response())
    }

    /// The caller's passkeys.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct PasskeyList {
        /// The passkeys.
        passkeys: Vec<PasskeyInfo>,
    }

    /// One passkey.
    #[derive(Serialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct PasskeyInfo {
        /// When it was registered (Unix seconds).
        created_at: u64,
        /// The passkey's id (its credential id, base64url).
        id: String,
        /// When it was last used (Unix seconds), if ever.
        #[cfg_attr(feature = "openapi", schema(required = true))]
        last_used_at: Option<u64>,
        /// Its name.
        name: String,
    }

    /// List the caller's passkeys
    #[cfg_attr(feature = "openapi", utoipa::path(
        get,
        path = "/passkeys",
        operation_id = "list_passkeys",
        tag = "passkeys",
        responses(
            (status = 200, description = "The caller's passkeys.", body = PasskeyList),
            (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user.", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn list(
        State(state): State<PasskeyApi>,
        principal: Principal,
    ) -> Result<Json<PasskeyList>, Problem> {
        let user_id = me(&principal)?;
        let passkeys = state
            .passkeys
            .list(user_id)
            .await?
            .into_iter()
            .map(|c| PasskeyInfo {
                created_at: crate::time::to_secs(c.created_at),
                id: c.id,
                last_used_at: c.last_used_at.map(crate::time::to_secs),
                name: c.name,
            })
            .collect();
        Ok(Json(PasskeyList { passkeys }))
    }

    /// Remove a passkey
    #[cfg_attr(feature = "openapi", utoipa::path(
        delete,
        path = "/passkeys/{id}",
        operation_id = "remove_passkey",
        tag = "passkeys",
        params(("id" = String, Path, description = "The passkey's id.")),
        responses(
            (status = 204, description = "Removed."),
            (status = 401, description = "No credential, or an invalid one (`unauthenticated`, `invalid-token`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "The caller is not a user, or a cookie-authenticated request came from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 404, description = "The caller has no such passkey.", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(("bearer" = []), ("api_key" = []), ("session_cookie" = [])),
    ))]
    async fn remove(
        State(state): State<PasskeyApi>,
        client: Client,
        principal: Principal,
        Path(id): Path<String>,
    ) -> Result<StatusCode, Problem> {
        let user_id = me(&principal)?;
        state.passkeys.remove(user_id, &id, &client).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    /// Start a passkey login
    ///
    /// Answers the options for `navigator.credentials.get()`; an unknown address gets options
    /// that look alike.
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/login/passkey",
        operation_id = "start_passkey_login",
        tag = "passkeys",
        request_body = EmailRequest,
        responses(
            (status = 200, description = "The login ceremony.", body = PasskeyCeremony),
            (status = 400, description = "Malformed JSON.", body = Problem, content_type = "application/problem+json"),
            (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
            (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(()),
    ))]
    async fn start_login(
        State(state): State<PasskeyApi>,
        JsonBody(body): JsonBody<EmailRequest>,
    ) -> Result<Json<PasskeyCeremony>, Problem> {
        ceremony_json(&state.passkeys.start_login(&body.email).await?)
    }

    /// The browser's answer to a login ceremony.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct PasskeyLoginRequest {
        /// The sealed ceremony `POST /login/passkey` answered.
        ceremony: String,
        /// The `PublicKeyCredential` `navigator.credentials.get()` answered, as JSON.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        credential: Value,
        /// `true` for a browser session in a cookie instead of tokens.
        #[serde(default)]
        cookie: bool,
    }

    /// Finish a passkey login
    ///
    /// A passkey with user verification is multi-factor: `amr` `["hwk", "mfa"]`.
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/login/passkey/complete",
        operation_id = "finish_passkey_login",
        tag = "passkeys",
        request_body = PasskeyLoginRequest,
        responses(
            (status = 200, description = "Signed in (tokens or a session cookie).", body = LoginResponse,
                headers(("Set-Cookie" = String, description = "The session cookie, for a login with `\"cookie\": true`."))),
            (status = 400, description = "Malformed JSON, a used, expired or unknown ceremony or an answer that does not verify (`invalid-code`), or cookie sessions are not enabled.", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "A cookie login from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
            (status = 422, description = "A missing or mistyped field, or `credential` is not a WebAuthn credential (`validation`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(()),
    ))]
    async fn finish_login(
        State(state): State<PasskeyApi>,
        client: Client,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        JsonBody(body): JsonBody<PasskeyLoginRequest>,
    ) -> Result<Response, Problem> {
        let cookies = cookie_login(&state.api, body.cookie, &method, &uri, &headers)?;
        let response = credential(&body.credential)?;
        let outcome = state
            .passkeys
            .finish_login(&state.api.accounts, &body.ceremony, &response, &client)
            .await?;
        signed_in(&state.api, cookies, &headers, &client, outcome).await
    }

    /// A login's challenge.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct ChallengeRequest {
        /// The challenge the login's first step answered.
        challenge: String,
    }

    /// Start a passkey second factor
    ///
    /// Answers the options for `navigator.credentials.get()` for the challenge's user.
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/login/second-factor/passkey",
        operation_id = "start_passkey_second_factor",
        tag = "passkeys",
        request_body = ChallengeRequest,
        responses(
            (status = 200, description = "The ceremony for the challenge's user.", body = PasskeyCeremony),
            (status = 400, description = "Malformed JSON, or an unknown, used or expired challenge, or a user without passkeys (`invalid-code`).", body = Problem, content_type = "application/problem+json"),
            (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
            (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(()),
    ))]
    async fn start_second_factor(
        State(state): State<PasskeyApi>,
        JsonBody(body): JsonBody<ChallengeRequest>,
    ) -> Result<Json<PasskeyCeremony>, Problem> {
        let user = state.api.accounts.challenge_user(&body.challenge).await?;
        let started = state
            .passkeys
            .start_verification(user.id)
            .await
            .map_err(|e| match e {
                // No passkey: the challenge is for another factor.
                Error::NotFound => Problem::from(Error::InvalidCode),
                other => Problem::from(other),
            })?;
        ceremony_json(&started)
    }

    /// The browser's answer to a second-factor ceremony, with the login's challenge.
    #[derive(Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    struct PasskeySecondFactorRequest {
        /// The challenge the login's first step answered.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(value_type = String, required = true))]
        challenge: Option<String>,
        /// The sealed ceremony `POST /login/second-factor/passkey` answered.
        ceremony: String,
        /// The `PublicKeyCredential` `navigator.credentials.get()` answered, as JSON.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        credential: Value,
        /// `true` for a browser session in a cookie instead of tokens.
        #[serde(default)]
        cookie: bool,
    }

    /// Complete a login with a passkey as the second factor
    #[cfg_attr(feature = "openapi", utoipa::path(
        post,
        path = "/login/second-factor/passkey/complete",
        operation_id = "finish_passkey_second_factor",
        tag = "passkeys",
        request_body = PasskeySecondFactorRequest,
        responses(
            (status = 200, description = "Signed in (tokens or a session cookie).", body = LoginResponse,
                headers(("Set-Cookie" = String, description = "The session cookie, for a login with `\"cookie\": true`."))),
            (status = 400, description = "Malformed JSON, a wrong, used or expired ceremony or challenge (`invalid-code`), or cookie sessions are not enabled.", body = Problem, content_type = "application/problem+json"),
            (status = 401, description = "The second factor is locked after too many failures (`invalid-credentials`).", body = Problem, content_type = "application/problem+json"),
            (status = 403, description = "A cookie login from another origin (`cross-origin-request`).", body = Problem, content_type = "application/problem+json"),
            (status = 415, description = "The body is not `application/json`.", body = Problem, content_type = "application/problem+json"),
            (status = 422, description = "A missing or mistyped field (`validation`).", body = Problem, content_type = "application/problem+json"),
            (status = 503, description = "The store or the attempt limiter is unavailable.", body = Problem, content_type = "application/problem+json"),
        ),
        security(()),
    ))]
    async fn finish_second_factor(
        State(state): State<PasskeyApi>,
        client: Client,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        JsonBody(body): JsonBody<PasskeySecondFactorRequest>,
    ) -> Result<Response, Problem> {
        let challenge = body.challenge.as_deref().ok_or_else(|| {
            Problem::validation([FieldError::new("/challenge", "the login's challenge")])
        })?;
        let cookies = cookie_login(&state.api, body.cookie, &method, &uri, &headers)?;
        let proof = Proof::passkey(body.ceremony.clone(), body.credential.clone());
        let outcome = state
            .api
            .accounts
            .complete_login(challenge, &proof, &client)
            .await?;
        signed_in(&state.api, cookies, &headers, &client, outcome).await
    }
}
