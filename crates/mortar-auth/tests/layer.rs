//! `AuthLayer` over `oneshot`: required and optional modes, JWTs and API keys, invalid and
//! revoked credentials, disabled users, and the axum extractors behind it.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use mortar_auth::account::Client;
use mortar_auth::api_key::{ApiKeys, MemoryApiKeyStore, NewApiKey};
use mortar_auth::layer::AuthLayer;
use mortar_auth::session::{MemorySessionStore, Sessions};
use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
use mortar_auth::user::{MemoryUserStore, NewUser, UserChange, UserStore};
use mortar_core::{AuthMethod, Clock as _, ManualClock, Principal};
use tower::ServiceExt as _;

struct Setup {
    tokens: AccessTokens,
    keys: ApiKeys,
    clock: ManualClock,
}

fn setup() -> Setup {
    let clock = ManualClock::default();
    let ring = KeyRing::new(SigningKey::generate_ed25519("k1").unwrap());
    let tokens = AccessTokens::builder(ring, "iss", "aud")
        .clock(clock.clone())
        .build();
    let keys = ApiKeys::new(Arc::new(MemoryApiKeyStore::new()), "acme")
        .unwrap()
        .clock(clock.clone());
    Setup {
        tokens,
        keys,
        clock,
    }
}

fn app(layer: AuthLayer) -> Router {
    Router::new()
        .route(
            "/me",
            get(|p: Principal| async move { p.subject().to_owned() }),
        )
        .route(
            "/hello",
            get(|p: Option<Principal>| async move {
                p.map_or_else(|| "stranger".to_owned(), |p| p.subject().to_owned())
            }),
        )
        .layer(layer)
}

async fn call(
    app: &Router,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, String) {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn login(subject: &str) -> Principal {
    Principal::user(subject)
        .method(AuthMethod::Password)
        .build()
}

#[tokio::test]
async fn required_mode() {
    let s = setup();
    let app = app(AuthLayer::required()
        .with(s.tokens.clone())
        .with(s.keys.clone()));

    let (status, headers, body) = call(&app, "/me", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert!(body.contains("urn:mortar:problem:unauthenticated"));

    let token = s.tokens.issue(&login("user-1")).unwrap();
    let bearer = format!("Bearer {}", token.token());
    assert_eq!(
        call(&app, "/me", &[("authorization", &bearer)]).await.2,
        "user-1"
    );
    let lower = format!("bearer {}", token.token());
    assert_eq!(
        call(&app, "/me", &[("authorization", &lower)]).await.0,
        StatusCode::OK
    );

    let (_, key) = s.keys.create(NewApiKey::new("svc-1", "ci")).await.unwrap();
    assert_eq!(call(&app, "/me", &[("x-api-key", &key)]).await.2, "svc-1");
    let key_bearer = format!("Bearer {key}");
    assert_eq!(
        call(&app, "/me", &[("authorization", &key_bearer)]).await.2,
        "svc-1"
    );
}

/// The layer finds a token it verified before by the bytes sent, before checking them as text:
/// only the very same token is answered from the cache; anything else, non-ASCII bytes
/// included, is decided as before (here: not a bearer token, so a stranger).
#[tokio::test]
async fn a_cached_token_is_recognized_byte_for_byte_only() {
    let s = setup();
    let app = app(AuthLayer::optional().with(s.tokens.clone()));
    let token = s.tokens.issue(&login("user-1")).unwrap();
    let token = token.token();
    let as_header = |bytes: Vec<u8>| http::HeaderValue::from_bytes(&bytes).unwrap();
    let send = |value: http::HeaderValue| {
        let app = app.clone();
        async move {
            let mut req = Request::get("/hello").body(Body::empty()).unwrap();
            req.headers_mut().insert("authorization", value);
            let res = app.oneshot(req).await.unwrap();
            let status = res.status();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let genuine = as_header(format!("Bearer {token}").into_bytes());
    assert_eq!(send(genuine.clone()).await.1, "user-1"); // verified, now cached
    assert_eq!(send(genuine).await.1, "user-1"); // from the cache
    let spaced = as_header(format!("bearer \t {token} \t").into_bytes());
    assert_eq!(send(spaced).await.1, "user-1");
    let (signed, signature) = token.rsplit_once('.').unwrap();
    for forged in [
        [format!("Bearer {token}").as_bytes(), &b"\xff"[..]].concat(),
        [&b"Bearer \xe9"[..], token.as_bytes()].concat(),
        [
            &b"Bearer "[..],
            signed.as_bytes(),
            &b"\xc3\xa9."[..],
            signature.as_bytes(),
        ]
        .concat(),
    ] {
        let value = as_header(forged);
        assert_eq!(
            send(value.clone()).await,
            (StatusCode::OK, "stranger".to_owned()),
            "{value:?}"
        );
    }
}

#[tokio::test]
async fn optional_mode_still_refuses_bad_credentials() {
    let s = setup();
    let app = app(AuthLayer::optional()
        .with(s.tokens.clone())
        .with(s.keys.clone()));
    assert_eq!(call(&app, "/hello", &[]).await.2, "stranger");
    let (status, headers, _) = call(&app, "/hello", &[("authorization", "Bearer a.b.c")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let (status, _, _) = call(&app, "/hello", &[("x-api-key", "acme_typo")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A handler that requires a principal still gets 401 in optional mode.
    assert_eq!(call(&app, "/me", &[]).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_refused() {
    let s = setup();
    let app = app(AuthLayer::required().with(s.tokens.clone()));
    let token = s.tokens.issue(&login("user-1")).unwrap();
    let bearer = format!("Bearer {}", token.token());
    assert_eq!(
        call(&app, "/me", &[("authorization", &bearer)]).await.0,
        StatusCode::OK
    );
    s.clock.advance(Duration::from_mins(16));
    assert_eq!(
        call(&app, "/me", &[("authorization", &bearer)]).await.0,
        StatusCode::UNAUTHORIZED
    );

    let fresh = s.tokens.issue(&login("user-1")).unwrap();
    let bearer = format!("Bearer {}", fresh.token());
    s.tokens
        .revocations()
        .revoke_token(fresh.jti(), fresh.expires_at())
        .await
        .unwrap();
    assert_eq!(
        call(&app, "/me", &[("authorization", &bearer)]).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn disabling_a_user_signs_them_out_of_the_layer() {
    let s = setup();
    let users = Arc::new(MemoryUserStore::new());
    let sessions = Sessions::new(
        Arc::new(MemorySessionStore::new()),
        users.clone(),
        s.tokens.clone(),
    )
    .clock(s.clock.clone());
    let user = users
        .create(NewUser::new("a@example.com"), s.clock.now())
        .await
        .unwrap();
    let started = sessions
        .start(&user, &login(&user.id.to_string()), &Client::default())
        .await
        .unwrap();
    let app = app(AuthLayer::required().with(s.tokens.clone()));
    let bearer = format!("Bearer {}", started.access.token());
    assert_eq!(
        call(&app, "/me", &[("authorization", &bearer)]).await.0,
        StatusCode::OK
    );

    // Disabling: mark the account and sign it out everywhere.
    s.clock.advance(Duration::from_secs(1));
    users
        .update(user.id, UserChange::Disabled(true), s.clock.now())
        .await
        .unwrap();
    sessions
        .revoke_all(user.id, &Client::default())
        .await
        .unwrap();
    assert_eq!(
        call(&app, "/me", &[("authorization", &bearer)]).await.0,
        StatusCode::UNAUTHORIZED
    );
}
