//! Runs the flows that handle secrets with every log line captured at TRACE level (audit events
//! through the default `TracingRecorder` included), then checks that no password, code, refresh
//! token, access token or API key appears in the output.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use mortar_auth::account::{Accounts, Client, LoginOutcome, Registration};
use mortar_auth::api_key::{ApiKeys, MemoryApiKeyStore, NewApiKey};
use mortar_auth::code::{CodeMessage, MemoryCodeStore, sender_fn};
use mortar_auth::layer::AuthLayer;
use mortar_auth::password::{PasswordConfig, Passwords};
use mortar_auth::session::{MemorySessionStore, Sessions};
use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
use mortar_auth::user::MemoryUserStore;
use mortar_core::Principal;
use secrecy::ExposeSecret as _;
use tower::ServiceExt as _;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "wrong horse battery staple";
const NEW_PASSWORD: &str = "an entirely new passphrase";

#[tokio::test]
async fn secrets_never_reach_a_log_line() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut secrets: Vec<String> = vec![PASSWORD.into(), WRONG.into(), NEW_PASSWORD.into()];
    let sent = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = sent.clone();
    let users = Arc::new(MemoryUserStore::new());
    let accounts = Accounts::builder(users.clone(), Arc::new(MemoryCodeStore::new()))
        .passwords(
            Passwords::with_weak_config(
                PasswordConfig::default().cost(256, 1, 1).allow_weak_cost(),
            )
            .unwrap(),
        )
        .sender(sender_fn(move |m: CodeMessage| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(m.secret.expose_secret().to_owned());
                Ok(())
            }
        }))
        .build(); // default recorder: TracingRecorder
    let client = Client::default();
    accounts
        .register(Registration::new("olga@example.com", PASSWORD), &client)
        .await
        .unwrap();
    let _ = accounts.login("olga@example.com", WRONG, &client).await;
    let LoginOutcome::Authenticated { user, principal } = accounts
        .login("olga@example.com", PASSWORD, &client)
        .await
        .unwrap()
    else {
        panic!("login");
    };
    accounts
        .request_password_reset("olga@example.com", &client)
        .await
        .unwrap();
    let link = sent.lock().unwrap().last().unwrap().clone();
    accounts
        .reset_password(&link, NEW_PASSWORD, &client)
        .await
        .unwrap();
    let _ = accounts.reset_password(&link, NEW_PASSWORD, &client).await; // reused: refused

    let tokens = AccessTokens::builder(
        KeyRing::new(SigningKey::generate_ed25519("k").unwrap()),
        "iss",
        "aud",
    )
    .build();
    let sessions = Sessions::new(Arc::new(MemorySessionStore::new()), users, tokens.clone());
    let started = sessions.start(&user, &principal, &client).await.unwrap();
    let refreshed = sessions
        .refresh(started.refresh.expose_secret(), &client)
        .await
        .unwrap();
    let _ = sessions
        .refresh(started.refresh.expose_secret(), &client)
        .await; // reuse
    secrets.push(started.refresh.expose_secret().to_owned());
    secrets.push(refreshed.refresh.expose_secret().to_owned());
    secrets.push(started.access.token().to_owned());

    let keys = ApiKeys::new(Arc::new(MemoryApiKeyStore::new()), "acme").unwrap();
    let (_, api_key) = keys.create(NewApiKey::new("svc", "ci")).await.unwrap();
    keys.verify(&api_key).await.unwrap();
    secrets.push(api_key.clone());

    // Through the layer, with a good and a tampered token.
    let app = Router::new()
        .route(
            "/",
            get(|p: Principal| async move { p.subject().to_owned() }),
        )
        .layer(
            AuthLayer::required()
                .with(tokens.clone())
                .with(keys.clone()),
        );
    for credential in [
        started.access.token().to_owned(),
        format!("{}x", refreshed.access.token()),
    ] {
        let req = Request::get("/")
            .header("authorization", format!("Bearer {credential}"))
            .body(Body::empty())
            .unwrap();
        let _ = app.clone().oneshot(req).await.unwrap();
    }
    secrets.extend(sent.lock().unwrap().iter().cloned());

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("auth.login"), "the flows did log: {logs}");
    for secret in &secrets {
        // The secret itself, or any 16-character piece of it (a truncated token is still a leak).
        let probe: String = secret.chars().take(16).collect();
        assert!(!logs.contains(&probe), "a secret reached the log: {probe}");
    }
}
