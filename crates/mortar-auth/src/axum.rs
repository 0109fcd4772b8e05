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
use ::axum::http::{HeaderMap, Method, StatusCode, Uri};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::{delete, get, post};
use ::axum::{Json, Router};
use mortar_core::{FieldError, Principal, Problem};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::account::{Accounts, Client, LoginOutcome, Registration};
use crate::api_key::{ApiKeys, NewApiKey};
use crate::error::Error;
use crate::session::{SessionCookies, SessionId, SessionTokens, Sessions};
use crate::time::to_secs;
use crate::user::UserId;

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

/// A JSON body whose rejections are problem documents (400 malformed, 415 wrong type, 422
/// missing or mistyped fields).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => {
                    Problem::validation([FieldError::new("", e.body_text())])
                }
                JsonRejection::MissingJsonContentType(_) => {
                    Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                        .with_detail("send application/json")
                }
                other => Problem::bad_request().with_detail(other.body_text()),
            }),
        }
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

fn tokens_json(tokens: &SessionTokens) -> Value {
    json!({
        "token_type": "Bearer",
        "access_token": tokens.access.token(),
        "expires_in": seconds_until(tokens.access.expires_at()),
        "refresh_token": tokens.refresh.expose_secret(),
        "session_id": tokens.session_id.as_str(),
    })
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

#[derive(Deserialize)]
struct RegisterBody {
    email: String,
    password: String,
    #[serde(default)]
    username: Option<String>,
}

async fn register(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<Response, Problem> {
    let mut registration = Registration::new(body.email, body.password);
    if let Some(username) = body.username {
        registration = registration.username(username);
    }
    // Created or already registered: the same answer, so the address is not revealed.
    api.accounts.register(registration, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "pending_verification"})),
    )
        .into_response())
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

async fn verify_email(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<Json<Value>, Problem> {
    let user = api.accounts.verify_email(&body.token, &client).await?;
    Ok(Json(json!({"user_id": user.id, "email_verified": true})))
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
    #[serde(default)]
    cookie: bool,
}

async fn login(
    State(api): State<AuthApi>,
    client: Client,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginBody>,
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

async fn request_link(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<StatusCode, Problem> {
    api.accounts
        .request_login_link(&body.email, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

async fn request_code(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<StatusCode, Problem> {
    api.accounts
        .request_login_code(&body.email, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
struct LinkLoginBody {
    token: String,
    #[serde(default)]
    cookie: bool,
}

async fn login_with_link(
    State(api): State<AuthApi>,
    client: Client,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LinkLoginBody>,
) -> Result<Response, Problem> {
    let cookies = cookie_login(&api, body.cookie, &method, &uri, &headers)?;
    let outcome = api.accounts.login_with_link(&body.token, &client).await?;
    signed_in(&api, cookies, &headers, &client, outcome).await
}

#[derive(Deserialize)]
struct CodeLoginBody {
    email: String,
    code: String,
    #[serde(default)]
    cookie: bool,
}

async fn login_with_code(
    State(api): State<AuthApi>,
    client: Client,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CodeLoginBody>,
) -> Result<Response, Problem> {
    let cookies = cookie_login(&api, body.cookie, &method, &uri, &headers)?;
    let outcome = api
        .accounts
        .login_with_code(&body.email, &body.code, &client)
        .await?;
    signed_in(&api, cookies, &headers, &client, outcome).await
}

/// The answer to a login: tokens, a session cookie, or the second-factor challenge.
async fn signed_in(
    api: &AuthApi,
    cookies: Option<&SessionCookies>,
    headers: &HeaderMap,
    client: &Client,
    outcome: LoginOutcome,
) -> Result<Response, Problem> {
    match outcome {
        LoginOutcome::Authenticated { user, principal } => {
            let Some(cookies) = cookies else {
                let tokens = api.sessions.start(&user, &principal, client).await?;
                return Ok(Json(tokens_json(&tokens)).into_response());
            };
            if let Some(old) = cookies.secret(headers) {
                api.sessions.end_cookie(&old, client).await?;
            }
            let session = api.sessions.start_cookie(&user, &principal, client).await?;
            Ok((
                [(SET_COOKIE, cookies.set_cookie(&session))],
                Json(json!({
                    "session_id": session.session_id.as_str(),
                    "expires_in": seconds_until(session.expires_at),
                })),
            )
                .into_response())
        }
        LoginOutcome::SecondFactorRequired {
            challenge,
            expires_at,
            ..
        } => Ok(Json(json!({
            "second_factor_required": true,
            "challenge": challenge.expose_secret(),
            "expires_in": seconds_until(expires_at),
        }))
        .into_response()),
    }
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

async fn refresh(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Json<Value>, Problem> {
    let tokens = api.sessions.refresh(&body.refresh_token, &client).await?;
    Ok(Json(tokens_json(&tokens)))
}

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

#[derive(Deserialize)]
struct EmailBody {
    email: String,
}

async fn forgot(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<EmailBody>,
) -> Result<StatusCode, Problem> {
    api.accounts
        .request_password_reset(&body.email, &client)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize)]
struct ResetBody {
    token: String,
    password: String,
}

async fn reset(
    State(api): State<AuthApi>,
    client: Client,
    JsonBody(body): JsonBody<ResetBody>,
) -> Result<StatusCode, Problem> {
    api.accounts
        .reset_password(&body.token, &body.password, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_sessions(
    State(api): State<AuthApi>,
    principal: Principal,
) -> Result<Json<Value>, Problem> {
    let (user_id, current) = caller(&principal).ok_or_else(not_a_user)?;
    let sessions = api.sessions.list(user_id).await?;
    let list: Vec<Value> = sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.id.as_str(),
                "current": current.as_ref() == Some(&s.id),
                "created_at": to_secs(s.created_at),
                "last_seen_at": to_secs(s.last_seen_at),
                "ip": s.ip,
                "user_agent": s.user_agent,
            })
        })
        .collect();
    Ok(Json(json!({ "sessions": list })))
}

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

#[derive(Deserialize)]
struct NewKeyBody {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

async fn create_key(
    State(api): State<AuthApi>,
    principal: Principal,
    JsonBody(body): JsonBody<NewKeyBody>,
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
        Json(json!({
            "id": key.id,
            "key": token,
            "name": key.name,
            "scopes": key.scopes,
            "expires_at": key.expires_at.map(to_secs),
        })),
    )
        .into_response())
}

async fn list_keys(
    State(api): State<AuthApi>,
    principal: Principal,
) -> Result<Json<Value>, Problem> {
    let keys = api.api_keys.as_ref().ok_or_else(Problem::not_found)?;
    let (user_id, _) = caller(&principal).ok_or_else(not_a_user)?;
    let list: Vec<Value> = keys
        .list(&user_id.to_string())
        .await?
        .iter()
        .map(|k| {
            json!({
                "id": k.id,
                "name": k.name,
                "scopes": k.scopes,
                "created_at": to_secs(k.created_at),
                "expires_at": k.expires_at.map(to_secs),
                "revoked": k.revoked_at.is_some(),
                "last_used_at": k.last_used_at.map(to_secs),
            })
        })
        .collect();
    Ok(Json(json!({ "api_keys": list })))
}

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

    use super::{
        AuthApi, Client, FieldError, HeaderMap, IntoResponse as _, Json, JsonBody, Method,
        Principal, Problem, Response, Router, State, StatusCode, Uri, Value, caller, get, json,
        not_a_user, post, signed_in,
    };
    use crate::account::Proof;
    use crate::error::Error;
    use crate::mfa::SecondFactors;
    use serde::Deserialize;

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

    #[derive(Deserialize)]
    struct ProofBody {
        #[serde(default)]
        challenge: Option<String>,
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        recovery_code: Option<String>,
        #[serde(default)]
        cookie: bool,
    }

    impl ProofBody {
        #[allow(
            clippy::result_large_err,
            reason = "the problem document is the HTTP answer, built only on refusal"
        )]
        fn proof(&self) -> Result<Proof, Problem> {
            match (&self.code, &self.recovery_code) {
                (Some(code), None) => Ok(Proof::totp(code.clone())),
                (None, Some(code)) => Ok(Proof::recovery_code(code.clone())),
                _ => Err(Problem::validation([FieldError::new(
                    "/code",
                    "give `code` or `recovery_code`",
                )])),
            }
        }
    }

    async fn complete_login(
        State(state): State<FactorsApi>,
        client: Client,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        JsonBody(body): JsonBody<ProofBody>,
    ) -> Result<Response, Problem> {
        let challenge = body.challenge.as_deref().ok_or_else(|| {
            Problem::validation([FieldError::new("/challenge", "the login's challenge")])
        })?;
        let proof = body.proof()?;
        let cookies = super::cookie_login(&state.api, body.cookie, &method, &uri, &headers)?;
        let outcome = state
            .api
            .accounts
            .complete_login(challenge, &proof, &client)
            .await?;
        signed_in(&state.api, cookies, &headers, &client, outcome).await
    }

    async fn status(
        State(state): State<FactorsApi>,
        principal: Principal,
    ) -> Result<Json<Value>, Problem> {
        let (user, _) = caller(&principal).ok_or_else(not_a_user)?;
        Ok(Json(json!({
            "totp": state.factors.has_totp(user).await?,
            "recovery_codes_left": state.factors.recovery_codes_left(user).await?,
        })))
    }

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
            Json(json!({
                "secret": enrollment.secret_base32(),
                "uri": enrollment.uri(),
                "qr_png": base64::engine::general_purpose::STANDARD.encode(enrollment.qr_png()),
            })),
        )
            .into_response())
    }

    async fn confirm(
        State(state): State<FactorsApi>,
        principal: Principal,
        JsonBody(body): JsonBody<ProofBody>,
    ) -> Result<Json<Value>, Problem> {
        let (user, _) = caller(&principal).ok_or_else(not_a_user)?;
        let code = body
            .code
            .as_deref()
            .ok_or_else(|| Problem::validation([FieldError::new("/code", "the app's code")]))?;
        let codes = state.factors.confirm_totp(user, code).await?;
        Ok(Json(json!({ "recovery_codes": codes.codes() })))
    }

    /// A step-up proof for `principal`.
    async fn step_up(
        state: &FactorsApi,
        principal: &Principal,
        body: &ProofBody,
    ) -> Result<crate::user::UserId, Problem> {
        let (user, _) = caller(principal).ok_or_else(not_a_user)?;
        state.factors.step_up(principal, &body.proof()?).await?;
        Ok(user)
    }

    async fn regenerate(
        State(state): State<FactorsApi>,
        principal: Principal,
        JsonBody(body): JsonBody<ProofBody>,
    ) -> Result<Json<Value>, Problem> {
        let user = step_up(&state, &principal, &body).await?;
        let codes = state.factors.regenerate_recovery_codes(user).await?;
        Ok(Json(json!({ "recovery_codes": codes.codes() })))
    }

    async fn disable(
        State(state): State<FactorsApi>,
        principal: Principal,
        JsonBody(body): JsonBody<ProofBody>,
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
    use serde::Deserialize;

    use super::{
        AuthApi, Client, Error, HeaderMap, IntoResponse, Json, Method, Path, Principal, Problem,
        Response, Router, SET_COOKIE, State, StatusCode, Uri, caller, cookie_login, get,
        not_a_user, post, signed_in,
    };
    use crate::oauth::{Authorization, Callback, Federation, Intent, OAuth};
    use secrecy::ExposeSecret as _;
    use serde_json::json;

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
    /// | `GET /oauth/{provider}/callback?code&state[&cookie=true]` | — (the flow cookie) | as `POST /login`, plus `"return_to"`; or, for a link, 200 `{"linked": {…}}`. 400 `federated-login-failed`, 409 `link-required`, 403 `domain-not-allowed`, 502 `identity-provider-unavailable` otherwise. The flow cookie is cleared either way |
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

    async fn providers(State(state): State<OAuthApi>) -> Json<serde_json::Value> {
        Json(json!({ "providers": state.oauth.provider_ids() }))
    }

    #[derive(Deserialize)]
    struct StartQuery {
        #[serde(default)]
        return_to: Option<String>,
    }

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

    #[derive(Deserialize)]
    struct SsoBody {
        email: String,
        #[serde(default)]
        return_to: Option<String>,
    }

    async fn start_sso(
        State(state): State<OAuthApi>,
        super::JsonBody(body): super::JsonBody<SsoBody>,
    ) -> Result<Response, Problem> {
        let started = state
            .oauth
            .start_sso(&body.email, body.return_to.as_deref())
            .await?;
        Ok((
            [(SET_COOKIE, flow_cookie(&started))],
            Json(json!({ "url": started.url })),
        )
            .into_response())
    }

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
            Json(json!({ "url": started.url })),
        )
            .into_response())
    }

    // Not `#[serde(flatten)]` of `Callback`: flattened query values lose their types.
    #[derive(Deserialize)]
    struct CallbackQuery {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        cookie: bool,
    }

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
                let mut response = signed_in(&state.api, cookies, headers, client, outcome).await?;
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
                Ok(Json(json!({
                    "linked": {
                        "provider": linked.provider,
                        "subject": linked.subject,
                        "email": linked.email,
                    },
                    "return_to": finished.return_to,
                }))
                .into_response())
            }
        }
    }

    async fn identities(
        State(state): State<OAuthApi>,
        principal: Principal,
    ) -> Result<Json<serde_json::Value>, Problem> {
        let (user_id, _) = caller(&principal).ok_or_else(not_a_user)?;
        let list = state.federation.identities().for_user(user_id).await?;
        let list: Vec<serde_json::Value> = list
            .iter()
            .map(|i| {
                json!({
                    "provider": i.provider,
                    "subject": i.subject,
                    "email": i.email,
                    "linked_at": crate::time::to_secs(i.linked_at),
                    "last_used_at": i.last_used_at.map(crate::time::to_secs),
                })
            })
            .collect();
        Ok(Json(json!({ "identities": list })))
    }

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

    use serde::Deserialize;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    use super::{
        AuthApi, Client, Error, FieldError, HeaderMap, IntoResponse, Json, JsonBody, Method, Path,
        Principal, Problem, Response, Router, State, StatusCode, Uri, caller, cookie_login,
        not_a_user, post, seconds_until, signed_in,
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

    fn ceremony_json<T: serde::Serialize>(ceremony: &Ceremony<T>) -> Json<Value> {
        Json(json!({
            "options": ceremony.options,
            "ceremony": ceremony.ceremony.expose_secret(),
            "expires_in": seconds_until(ceremony.expires_at),
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

    async fn start_registration(
        State(state): State<PasskeyApi>,
        principal: Principal,
    ) -> Result<Json<Value>, Problem> {
        let user_id = me(&principal)?;
        let user = state
            .api
            .accounts
            .users()
            .by_id(user_id)
            .await?
            .ok_or_else(not_a_user)?;
        Ok(ceremony_json(
            &state.passkeys.start_registration(&user).await?,
        ))
    }

    #[derive(Deserialize)]
    struct RegistrationBody {
        ceremony: String,
        credential: Value,
        #[serde(default)]
        name: Option<String>,
    }

    async fn finish_registration(
        State(state): State<PasskeyApi>,
        client: Client,
        principal: Principal,
        JsonBody(body): JsonBody<RegistrationBody>,
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
            Json(json!({ "id": registered.id, "name": registered.name })),
        )
            .into_response())
    }

    async fn list(
        State(state): State<PasskeyApi>,
        principal: Principal,
    ) -> Result<Json<Value>, Problem> {
        let user_id = me(&principal)?;
        let list: Vec<Value> = state
            .passkeys
            .list(user_id)
            .await?
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "name": c.name,
                    "created_at": crate::time::to_secs(c.created_at),
                    "last_used_at": c.last_used_at.map(crate::time::to_secs),
                })
            })
            .collect();
        Ok(Json(json!({ "passkeys": list })))
    }

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

    #[derive(Deserialize)]
    struct EmailBody {
        email: String,
    }

    async fn start_login(
        State(state): State<PasskeyApi>,
        JsonBody(body): JsonBody<EmailBody>,
    ) -> Result<Json<Value>, Problem> {
        Ok(ceremony_json(
            &state.passkeys.start_login(&body.email).await?,
        ))
    }

    #[derive(Deserialize)]
    struct AssertionBody {
        #[serde(default)]
        challenge: Option<String>,
        ceremony: String,
        credential: Value,
        #[serde(default)]
        cookie: bool,
    }

    async fn finish_login(
        State(state): State<PasskeyApi>,
        client: Client,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        JsonBody(body): JsonBody<AssertionBody>,
    ) -> Result<Response, Problem> {
        let cookies = cookie_login(&state.api, body.cookie, &method, &uri, &headers)?;
        let response = credential(&body.credential)?;
        let outcome = state
            .passkeys
            .finish_login(&state.api.accounts, &body.ceremony, &response, &client)
            .await?;
        signed_in(&state.api, cookies, &headers, &client, outcome).await
    }

    #[derive(Deserialize)]
    struct ChallengeBody {
        challenge: String,
    }

    async fn start_second_factor(
        State(state): State<PasskeyApi>,
        JsonBody(body): JsonBody<ChallengeBody>,
    ) -> Result<Json<Value>, Problem> {
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
        Ok(ceremony_json(&started))
    }

    async fn finish_second_factor(
        State(state): State<PasskeyApi>,
        client: Client,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        JsonBody(body): JsonBody<AssertionBody>,
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
