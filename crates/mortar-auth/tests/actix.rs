//! The actix-web middleware: the same chain and modes as the tower layer.
#![cfg(feature = "actix")]

use std::sync::Arc;

use actix_web::{App, test, web};
use mortar_auth::actix::Authenticate;
use mortar_auth::api_key::{ApiKeys, MemoryApiKeyStore, NewApiKey};
use mortar_auth::layer::AuthLayer;
use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
use mortar_core::Principal;

fn tokens() -> AccessTokens {
    AccessTokens::builder(
        KeyRing::new(SigningKey::generate_ed25519("k").unwrap()),
        "iss",
        "aud",
    )
    .build()
}

async fn hello(p: Option<Principal>) -> String {
    p.map_or_else(|| "stranger".to_owned(), |p| p.subject().to_owned())
}

#[actix_web::test]
async fn optional_mode_api_keys_and_bad_credentials() {
    let keys = ApiKeys::new(Arc::new(MemoryApiKeyStore::new()), "acme").unwrap();
    let (_, key) = keys.create(NewApiKey::new("svc-1", "ci")).await.unwrap();
    let app = test::init_service(
        App::new()
            .wrap(Authenticate::new(
                AuthLayer::optional().with(tokens()).with(keys),
            ))
            .route("/hello", web::get().to(hello)),
    )
    .await;

    let anonymous = test::TestRequest::get().uri("/hello").to_request();
    assert_eq!(test::call_and_read_body(&app, anonymous).await, "stranger");

    let with_key = test::TestRequest::get()
        .uri("/hello")
        .insert_header(("x-api-key", key.as_str()))
        .to_request();
    assert_eq!(test::call_and_read_body(&app, with_key).await, "svc-1");

    let bad = test::TestRequest::get()
        .uri("/hello")
        .insert_header(("authorization", "Bearer a.b.c"))
        .to_request();
    let res = test::call_service(&app, bad).await;
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(
        res.headers().get("www-authenticate").unwrap(),
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["type"], "urn:mortar:problem:invalid-token");
}

#[actix_web::test]
async fn session_cookies_and_the_origin_check() {
    use mortar_auth::account::Client;
    use mortar_auth::session::{MemorySessionStore, SessionCookies, Sessions};
    use mortar_auth::user::{MemoryUserStore, NewUser, UserStore as _};
    use secrecy::ExposeSecret as _;

    let users = Arc::new(MemoryUserStore::new());
    let user = users
        .create(
            NewUser::new("ann@example.com"),
            std::time::SystemTime::now(),
        )
        .await
        .unwrap();
    let sessions = Sessions::new(Arc::new(MemorySessionStore::new()), users, tokens());
    let browser = sessions
        .start_cookie(
            &user,
            &Principal::user(user.id.to_string()).build(),
            &Client::default(),
        )
        .await
        .unwrap();
    let cookie = format!("__Host-mortar_session={}", browser.secret.expose_secret());
    let app = test::init_service(
        App::new()
            .wrap(Authenticate::new(
                AuthLayer::required().with(SessionCookies::new(sessions)),
            ))
            .route("/hello", web::get().to(hello))
            .route("/hello", web::post().to(hello)),
    )
    .await;

    let get = test::TestRequest::get()
        .uri("/hello")
        .insert_header(("cookie", cookie.as_str()))
        .to_request();
    assert_eq!(
        test::call_and_read_body(&app, get).await,
        user.id.to_string()
    );
    let same_origin = test::TestRequest::post()
        .uri("/hello")
        .insert_header(("cookie", cookie.as_str()))
        .insert_header(("sec-fetch-site", "same-origin"))
        .to_request();
    assert_eq!(
        test::call_and_read_body(&app, same_origin).await,
        user.id.to_string()
    );
    let cross_site = test::TestRequest::post()
        .uri("/hello")
        .insert_header(("cookie", cookie.as_str()))
        .insert_header(("origin", "https://evil.example"))
        .insert_header(("host", "app.example"))
        .to_request();
    let res = test::call_service(&app, cross_site).await;
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
}
