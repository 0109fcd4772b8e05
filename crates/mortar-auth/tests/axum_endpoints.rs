//! The ready-made axum endpoints, the whole journey over `oneshot`: register, verify, log in,
//! call a protected route, list sessions, refresh, log out; and problem documents for bad input.
#![cfg(feature = "axum")]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use mortar_auth::account::Accounts;
use mortar_auth::api_key::{ApiKeys, MemoryApiKeyStore};
use mortar_auth::axum::{AuthApi, router};
use mortar_auth::code::{CodeMessage, MemoryCodeStore, Purpose, sender_fn};
use mortar_auth::layer::AuthLayer;
use mortar_auth::password::{PasswordConfig, Passwords};
use mortar_auth::session::{MemorySessionStore, SessionCookies, Sessions};
use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
use mortar_auth::user::MemoryUserStore;
use mortar_core::Principal;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

type Outbox = Arc<Mutex<Vec<(Purpose, String)>>>;

#[cfg(feature = "totp")]
type Factors = mortar_auth::mfa::SecondFactors;
#[cfg(not(feature = "totp"))]
type Factors = ();

/// The second factors when given, none otherwise.
#[derive(Debug)]
#[cfg_attr(
    not(feature = "totp"),
    allow(dead_code, reason = "read only with second factors")
)]
struct SecondFactorsIf(Option<Factors>);

#[async_trait::async_trait]
impl mortar_auth::account::SecondFactorPolicy for SecondFactorsIf {
    async fn required(&self, user: &mortar_auth::user::User) -> Result<bool, mortar_auth::Error> {
        #[cfg(feature = "totp")]
        if let Some(f) = &self.0 {
            return mortar_auth::account::SecondFactorPolicy::required(f, user).await;
        }
        let _ = user;
        Ok(false)
    }

    async fn verify(
        &self,
        user: &mortar_auth::user::User,
        proof: &mortar_auth::account::Proof,
    ) -> Result<mortar_core::AuthMethod, mortar_auth::Error> {
        #[cfg(feature = "totp")]
        if let Some(f) = &self.0 {
            return mortar_auth::account::SecondFactorPolicy::verify(f, user, proof).await;
        }
        let _ = (user, proof);
        Err(mortar_auth::Error::InvalidCode)
    }
}

fn app() -> (Router, Outbox) {
    app_with(None)
}

/// The endpoints; with `factors`, second factors too (`second_factor_router`).
#[cfg_attr(
    not(feature = "totp"),
    allow(
        unused_mut,
        clippy::clone_on_copy,
        reason = "`Factors` is `()` without second factors"
    )
)]
fn app_with(factors: Option<Factors>) -> (Router, Outbox) {
    let (api, layer, outbox) = parts(factors.clone());
    let mut auth = router(api.clone());
    #[cfg(feature = "totp")]
    if let Some(factors) = factors {
        auth = auth.merge(mortar_auth::axum::second_factor_router(api, factors));
    }
    (with_me(auth, layer), outbox)
}

/// `/auth` and a `/me` route behind the layer.
fn with_me(auth: Router, layer: AuthLayer) -> Router {
    Router::new()
        .nest("/auth", auth)
        .route(
            "/me",
            get(|p: Principal| async move { p.subject().to_owned() }),
        )
        .layer(layer)
}

/// The endpoints' state, the layer in front of them, and the captured mail.
fn parts(factors: Option<Factors>) -> (AuthApi, AuthLayer, Outbox) {
    let outbox: Outbox = Arc::default();
    let sink = outbox.clone();
    let users = Arc::new(MemoryUserStore::new());
    let tokens = AccessTokens::builder(
        KeyRing::new(SigningKey::generate_ed25519("k").unwrap()),
        "iss",
        "aud",
    )
    .build();
    let sessions = Sessions::new(
        Arc::new(MemorySessionStore::new()),
        users.clone(),
        tokens.clone(),
    );
    let cookies = SessionCookies::new(sessions.clone()).trusted_origin("https://admin.example");
    let keys = ApiKeys::new(Arc::new(MemoryApiKeyStore::new()), "acme").unwrap();
    let accounts = Accounts::builder(users, Arc::new(MemoryCodeStore::new()))
        .passwords(
            Passwords::with_weak_config(
                PasswordConfig::default().cost(256, 1, 1).allow_weak_cost(),
            )
            .unwrap(),
        )
        .sessions(sessions.clone())
        .api_keys(keys.clone())
        .second_factor(SecondFactorsIf(factors))
        .sender(sender_fn(move |m: CodeMessage| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push((m.purpose, m.secret.expose_secret().to_owned()));
                Ok(())
            }
        }))
        .build();
    let api = AuthApi {
        accounts,
        sessions,
        api_keys: Some(keys.clone()),
        cookies: Some(cookies.clone()),
    };
    let layer = AuthLayer::optional().with(tokens).with(keys).with(cookies);
    (api, layer, outbox)
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let authorization = bearer.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .as_deref()
        .map(|value| ("authorization", value))
        .into_iter()
        .collect();
    let (status, _, json) = call(app, method, uri, &headers, body).await;
    (status, json)
}

fn last(outbox: &Outbox, purpose: Purpose) -> String {
    outbox
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|(p, _)| *p == purpose)
        .unwrap()
        .1
        .clone()
}

const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn the_whole_journey() {
    let (app, outbox) = app();
    let creds = json!({"email": "pat@example.com", "password": PASSWORD});
    let (status, body) = send(
        &app,
        Method::POST,
        "/auth/register",
        None,
        Some(creds.clone()),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::ACCEPTED, Some("pending_verification"))
    );
    // The same answer for a taken address.
    let (again, body_again) = send(
        &app,
        Method::POST,
        "/auth/register",
        None,
        Some(creds.clone()),
    )
    .await;
    assert_eq!((again, body_again), (status, body));

    let token = last(&outbox, Purpose::VerifyEmail);
    let (status, body) = send(
        &app,
        Method::POST,
        "/auth/verify-email",
        None,
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email_verified"], true);

    let (status, tokens) = send(&app, Method::POST, "/auth/login", None, Some(creds.clone())).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, me) = send(&app, Method::GET, "/me", Some(&access), None).await;
    assert_eq!(
        (status, me.as_str().map(str::len)),
        (StatusCode::OK, Some(36)),
        "a user id"
    );

    let (status, list) = send(&app, Method::GET, "/auth/sessions", Some(&access), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["sessions"][0]["current"], true);

    let (status, refreshed) = send(
        &app,
        Method::POST,
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": tokens["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/refresh",
        None,
        Some(json!({"refresh_token": tokens["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a used refresh token");

    let new_access = refreshed["access_token"].as_str().unwrap().to_owned();
    let (status, _) = send(&app, Method::POST, "/auth/logout", Some(&new_access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, Method::GET, "/me", Some(&new_access), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "logged out");

    // Password reset, the same answer for unknown addresses.
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/password/forgot",
        None,
        Some(json!({"email": "nobody@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/password/forgot",
        None,
        Some(json!({"email": "pat@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let link = last(&outbox, Purpose::ResetPassword);
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/password/reset",
        None,
        Some(json!({"token": link, "password": "a whole new passphrase"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, Method::POST, "/auth/login", None, Some(creds)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password");
}

#[tokio::test]
async fn bad_input_answers_problem_documents() {
    let (app, _) = app();
    let wrong = json!({"email": "nobody@example.com", "password": "whatever it is"});
    let (status, body) = send(&app, Method::POST, "/auth/login", None, Some(wrong)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], "urn:mortar:problem:invalid-credentials");

    let (status, body) = send(
        &app,
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"email": "x@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["type"], "urn:mortar:problem:validation");

    let req = Request::post("/auth/login")
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");

    let req = Request::post("/auth/login")
        .body(Body::from("email=x"))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A NUL anywhere in the body's strings or member names is refused where it is, before any
    // store sees it (PostgreSQL cannot hold one); a `+json` type is JSON too.
    for (body, pointer) in [
        (
            r#"{"email": "a\u0000@example.com", "password": "x"}"#,
            "#/email",
        ),
        (
            r#"{"email": "a@example.com", "password": "x", "x": [1, {"a/b": "\u0000"}]}"#,
            "#/x/1/a~1b",
        ),
        (
            r#"{"email": "a@example.com", "password": "x", "k\u0000": 1}"#,
            "#/k\u{0}",
        ),
    ] {
        let req = Request::post("/auth/login")
            .header(
                "content-type",
                "application/merge-patch+json; charset=utf-8",
            )
            .body(Body::from(body))
            .unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let problem: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(problem["errors"][0]["pointer"], pointer, "{problem}");
        assert_eq!(problem["errors"][0]["code"], "nul", "{problem}");
    }
    // The text `\u0000` itself (an escaped backslash) is no NUL.
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"email": "a\\u0000@example.com", "password": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = send(
        &app,
        Method::POST,
        "/auth/register",
        None,
        Some(json!({"email": "q@example.com", "password": "password1"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["pointer"], "#/password");

    let (status, _) = send(&app, Method::GET, "/auth/sessions", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn users_manage_their_api_keys() {
    let (app, outbox) = app();
    let creds = json!({"email": "kim@example.com", "password": PASSWORD});
    send(
        &app,
        Method::POST,
        "/auth/register",
        None,
        Some(creds.clone()),
    )
    .await;
    let token = last(&outbox, Purpose::VerifyEmail);
    send(
        &app,
        Method::POST,
        "/auth/verify-email",
        None,
        Some(json!({"token": token})),
    )
    .await;
    let (_, tokens) = send(&app, Method::POST, "/auth/login", None, Some(creds)).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    let (status, created) = send(
        &app,
        Method::POST,
        "/auth/api-keys",
        Some(&access),
        Some(json!({"name": "ci", "scopes": ["deploy"], "expires_in_days": 30})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("acme_"));

    // The key authenticates as its owner.
    let (status, me) = send(&app, Method::GET, "/me", Some(&key), None).await;
    assert_eq!(status, StatusCode::OK);
    let (_, me_user) = send(&app, Method::GET, "/me", Some(&access), None).await;
    assert_eq!(me, me_user);

    let (status, list) = send(&app, Method::GET, "/auth/api-keys", Some(&access), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["api_keys"][0]["name"], "ci");
    assert!(!list.to_string().contains(&key), "secrets are never listed");

    let id = created["id"].as_str().unwrap();
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("/auth/api-keys/{id}"),
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        send(&app, Method::GET, "/me", Some(&key), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/auth/api-keys/AAAAAAAAAAAA",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/api-keys",
        Some(&access),
        Some(json!({"name": ""})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A request with arbitrary headers; answers the status, the headers and the JSON body.
async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (parts.status, parts.headers, json)
}

/// Registers and verifies an account.
async fn signed_up(app: &Router, outbox: &Outbox, email: &str) -> Value {
    let creds = json!({"email": email, "password": PASSWORD});
    send(
        app,
        Method::POST,
        "/auth/register",
        None,
        Some(creds.clone()),
    )
    .await;
    let token = last(outbox, Purpose::VerifyEmail);
    let (status, _) = send(
        app,
        Method::POST,
        "/auth/verify-email",
        None,
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    creds
}

/// The `name=value` part of a `Set-Cookie` header, and the header itself.
fn set_cookie(headers: &HeaderMap) -> (String, String) {
    let header = headers["set-cookie"].to_str().unwrap().to_owned();
    let pair = header.split(';').next().unwrap().to_owned();
    (pair, header)
}

const SAME_ORIGIN: (&str, &str) = ("sec-fetch-site", "same-origin");

#[tokio::test]
async fn browser_sessions_in_a_cookie() {
    let (app, outbox) = app();
    let mut creds = signed_up(&app, &outbox, "bo@example.com").await;
    creds["cookie"] = json!(true);

    // Login CSRF: a cookie login from another site is refused before the password is checked.
    let (status, _, problem) = call(
        &app,
        Method::POST,
        "/auth/login",
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        Some(creds.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["type"], "urn:mortar:problem:cross-origin-request");

    let (status, headers, body) = call(
        &app,
        Method::POST,
        "/auth/login",
        &[SAME_ORIGIN],
        Some(creds.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    let (cookie, header) = set_cookie(&headers);
    assert!(cookie.starts_with("__Host-mortar_session="), "{header}");
    assert_eq!(
        cookie.len(),
        "__Host-mortar_session=".len() + 43,
        "256 bits, base64url"
    );
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Path=/",
        "Max-Age=2592000",
    ] {
        assert!(header.contains(attribute), "{attribute} in {header}");
    }
    assert!(!header.contains("Domain"), "{header}");
    assert!(
        !cookie.contains(body["session_id"].as_str().unwrap()),
        "the secret is not the id"
    );

    // Safe methods need no origin proof.
    let (status, _, me) = call(&app, Method::GET, "/me", &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, _, list) = call(
        &app,
        Method::GET,
        "/auth/sessions",
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["sessions"][0]["current"], true);

    // Unsafe methods must prove their origin.
    for headers in [
        vec![],
        vec![("origin", "https://evil.example"), ("host", "app.example")],
        vec![("origin", "null"), ("host", "app.example")],
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://app.example"),
        ],
        vec![
            ("sec-fetch-site", "same-site"),
            ("origin", "https://sub.app.example"),
        ],
    ] {
        let mut headers = headers;
        headers.push(("cookie", &cookie));
        let (status, _, problem) = call(&app, Method::POST, "/auth/logout", &headers, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(problem["type"], "urn:mortar:problem:cross-origin-request");
    }
    let (status, _, _) = call(&app, Method::GET, "/me", &[("cookie", &cookie)], None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "refused requests did not end the session"
    );
}

#[tokio::test]
async fn cookie_logins_rotate_and_logout_clears() {
    let (app, outbox) = app();
    let mut creds = signed_up(&app, &outbox, "cy@example.com").await;
    creds["cookie"] = json!(true);
    let (status, headers, _) = call(
        &app,
        Method::POST,
        "/auth/login",
        &[SAME_ORIGIN],
        Some(creds.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (cookie, _) = set_cookie(&headers);

    // The cookie secret is not a refresh token.
    let secret = cookie.split_once('=').unwrap().1;
    let (status, _, _) = call(
        &app,
        Method::POST,
        "/auth/refresh",
        &[],
        Some(json!({"refresh_token": secret})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Signing in again (same origin by Origin and Host) replaces the session: new id, new secret.
    let (status, headers, _) = call(
        &app,
        Method::POST,
        "/auth/login",
        &[
            ("origin", "https://app.example"),
            ("host", "app.example"),
            ("cookie", &cookie),
        ],
        Some(creds.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (second, _) = set_cookie(&headers);
    assert_ne!(second, cookie);
    let (status, _, _) = call(&app, Method::GET, "/me", &[("cookie", &cookie)], None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the earlier cookie ended, and counts as none"
    );
    let (status, _, _) = call(&app, Method::GET, "/me", &[("cookie", &second)], None).await;
    assert_eq!(status, StatusCode::OK);

    // A trusted origin may send unsafe requests; logout clears the cookie and ends the session.
    let (status, headers, _) = call(
        &app,
        Method::POST,
        "/auth/logout",
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://admin.example"),
            ("cookie", &second),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (cleared, header) = set_cookie(&headers);
    assert_eq!(cleared, "__Host-mortar_session=");
    assert!(header.contains("Max-Age=0"), "{header}");
    let (status, _, _) = call(&app, Method::GET, "/me", &[("cookie", &second)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Second factors over HTTP: enroll, confirm, log in with a TOTP code and with a recovery code,
/// new recovery codes and removal behind a step-up.
#[cfg(feature = "totp")]
#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one journey, step by step")]
async fn second_factors_over_http() {
    use std::time::{Duration, SystemTime};

    use mortar_auth::mfa::{MemoryFactorStore, Sealer, SecondFactors, TotpSettings};
    use mortar_core::ManualClock;

    let clock = ManualClock::new(SystemTime::now());
    let factors = SecondFactors::new(
        Arc::new(MemoryFactorStore::new()),
        Sealer::new("k1", &[3; 32]).unwrap(),
        TotpSettings::new("Acme"),
    )
    .clock(clock.clone());
    let (app, outbox) = app_with(Some(factors.clone()));
    let creds = signed_up(&app, &outbox, "zoe@example.com").await;
    let (status, tokens) = send(&app, Method::POST, "/auth/login", None, Some(creds.clone())).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {access}");
    let (_, _, me) = call(
        &app,
        Method::GET,
        "/me",
        &[("authorization", &bearer)],
        None,
    )
    .await;
    let user: mortar_auth::user::UserId = me.as_str().unwrap().parse().unwrap();

    let (status, enrolled) = send(&app, Method::POST, "/auth/2fa/totp", Some(&access), None).await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    assert!(
        enrolled["uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert!(!enrolled["qr_png"].as_str().unwrap().is_empty());
    let (status, bad) = send(
        &app,
        Method::POST,
        "/auth/2fa/totp/confirm",
        Some(&access),
        Some(json!({"code": "000000"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let code = factors.current_code(user).await.unwrap();
    let (status, confirmed) = send(
        &app,
        Method::POST,
        "/auth/2fa/totp/confirm",
        Some(&access),
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let recovery: Vec<String> = confirmed["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let (_, state) = send(&app, Method::GET, "/auth/2fa", Some(&access), None).await;
    assert_eq!(state, json!({"totp": true, "recovery_codes_left": 10}));

    // The password now answers a challenge; a wrong code leaves it standing.
    let (status, challenged) =
        send(&app, Method::POST, "/auth/login", None, Some(creds.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(challenged["second_factor_required"], true);
    let challenge = challenged["challenge"].as_str().unwrap().to_owned();
    let (status, bad) = send(
        &app,
        Method::POST,
        "/auth/login/second-factor",
        None,
        Some(json!({"challenge": challenge, "code": "000000"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["type"], "urn:mortar:problem:invalid-code");
    clock.advance(Duration::from_secs(30));
    let code = factors.current_code(user).await.unwrap();
    let (status, signed) = send(
        &app,
        Method::POST,
        "/auth/login/second-factor",
        None,
        Some(json!({"challenge": challenge, "code": code})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    assert!(signed["access_token"].is_string());

    // A recovery code completes a login too.
    let (_, challenged) = send(&app, Method::POST, "/auth/login", None, Some(creds.clone())).await;
    let (status, signed) = send(
        &app,
        Method::POST,
        "/auth/login/second-factor",
        None,
        Some(json!({"challenge": challenged["challenge"], "recovery_code": recovery[0]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed}");

    // New recovery codes and removal need a step-up proof.
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/2fa/recovery-codes",
        Some(&access),
        Some(json!({"code": "000000"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, fresh) = send(
        &app,
        Method::POST,
        "/auth/2fa/recovery-codes",
        Some(&access),
        Some(json!({"recovery_code": recovery[1]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/auth/2fa/totp",
        Some(&access),
        Some(json!({"recovery_code": recovery[2]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the old set is gone");
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/auth/2fa/totp",
        Some(&access),
        Some(json!({"recovery_code": fresh["recovery_codes"][0]})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, state) = send(&app, Method::GET, "/auth/2fa", Some(&access), None).await;
    assert_eq!(state["totp"], false);
    let (status, tokens) = send(&app, Method::POST, "/auth/login", None, Some(creds)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(tokens["access_token"].is_string(), "{tokens}");
}

#[tokio::test]
async fn passwordless_over_http() {
    let (app, outbox) = app();
    signed_up(&app, &outbox, "pia@example.com").await;
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/login/link",
        None,
        Some(json!({"email": "pia@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Unknown addresses get the same answer.
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/login/link",
        None,
        Some(json!({"email": "nobody@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = last(&outbox, Purpose::Passwordless);
    let (status, tokens) = send(
        &app,
        Method::POST,
        "/auth/login/link/complete",
        None,
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["access_token"].is_string());
    let (status, problem) = send(
        &app,
        Method::POST,
        "/auth/login/link/complete",
        None,
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["type"], "urn:mortar:problem:invalid-code");

    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/login/code",
        None,
        Some(json!({"email": "pia@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let code = last(&outbox, Purpose::LoginCode);
    let (status, _) = send(
        &app,
        Method::POST,
        "/auth/login/code/complete",
        None,
        Some(json!({"email": "pia@example.com", "code": "12345x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, tokens) = send(
        &app,
        Method::POST,
        "/auth/login/code/complete",
        None,
        Some(json!({"email": "pia@example.com", "code": code})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, problem) = send(
        &app,
        Method::POST,
        "/auth/login/code/complete",
        None,
        Some(json!({"email": "pia@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
}

#[cfg(feature = "oauth")]
#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one journey, step by step")]
async fn federated_sign_in_over_http() {
    use mortar_auth::oauth::{Federation, MemoryIdentityStore, OAuth, Provider};
    use mortar_auth::seal::Sealer;
    use mortar_testkit::oidc::{TestIssuer, TestUser};

    const CALLBACK: &str = "http://127.0.0.1:3000/auth/oauth/corp/callback";
    let idp = TestIssuer::start().await;
    idp.register_client("app", "app-secret", CALLBACK);
    idp.sign_in_as(TestUser::new("u-1", "fed@example.com"));
    let oauth = OAuth::builder(Sealer::new("flow", &[5; 32]).unwrap())
        .provider(
            Provider::oidc("corp", &idp.issuer(), "app", CALLBACK)
                .unwrap()
                .client_secret("app-secret"),
        )
        .build()
        .unwrap();
    let (api, layer, _) = parts(None);
    let federation = Federation::new(api.accounts.clone(), Arc::new(MemoryIdentityStore::new()));
    let auth = router(api.clone()).merge(mortar_auth::axum::oauth_router(api, oauth, federation));
    let app = with_me(auth, layer);

    let (status, providers) = send(&app, Method::GET, "/auth/oauth/providers", None, None).await;
    assert_eq!(
        (status, providers),
        (StatusCode::OK, json!({"providers": ["corp"]}))
    );

    // Start: a redirect to the provider and the sealed flow in a cookie.
    let (status, headers, _) = call(
        &app,
        Method::GET,
        "/auth/oauth/corp/start?return_to=/home",
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = headers["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&idp.issuer()));
    let (flow, cookie) = set_cookie(&headers);
    assert!(flow.starts_with("__Host-mortar-oauth="));
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let back = idp.approve(&location).unwrap();
    let path = back.strip_prefix("http://127.0.0.1:3000").unwrap();

    // Without the flow cookie (a callback the browser did not start here): refused.
    let (status, _, problem) = call(&app, Method::GET, path, &[], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["type"], "urn:mortar:problem:federated-login-failed");
    // With it: signed in, tokens as from POST /login, the flow cookie cleared.
    let (status, headers, tokens) =
        call(&app, Method::GET, path, &[("cookie", flow.as_str())], None).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(headers["x-mortar-return-to"], "/home");
    let cleared = headers
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("__Host-mortar-oauth=;"));
    assert!(cleared);
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // Link a second identity from the signed-in account.
    idp.sign_in_as(TestUser::new("u-2", "fed-work@example.com"));
    let (status, headers, started) = call(
        &app,
        Method::POST,
        "/auth/oauth/corp/link",
        &[("authorization", &format!("Bearer {access}"))],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let (flow, _) = set_cookie(&headers);
    let back = idp.approve(started["url"].as_str().unwrap()).unwrap();
    let path = back.strip_prefix("http://127.0.0.1:3000").unwrap();
    let (status, _, linked) =
        call(&app, Method::GET, path, &[("cookie", flow.as_str())], None).await;
    assert_eq!(status, StatusCode::OK, "{linked}");
    assert_eq!(linked["linked"]["subject"], "u-2");

    let (status, list) = send(
        &app,
        Method::GET,
        "/auth/oauth/identities",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["identities"].as_array().unwrap().len(), 2);
    let (status, _) = send(
        &app,
        Method::DELETE,
        "/auth/oauth/identities/corp/u-1",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The account has no password: its last identity stays.
    let (status, problem) = send(
        &app,
        Method::DELETE,
        "/auth/oauth/identities/corp/u-2",
        Some(&access),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["type"], "urn:mortar:problem:last-login-method");
    let (status, _) = send(&app, Method::GET, "/auth/oauth/nope/start", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
