//! The minimal examples (`examples/minimal-actix`, `examples/minimal-hyper`) served for real on
//! 127.0.0.1 and driven over HTTP, the same journey for both: register, verify, log in, the
//! guarded route (401, 403, 200), problems in German, and the per-IP limit's 429.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mortar::auth::code::{CodeMessage, FnSender, Purpose, sender_fn};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

/// The password every account of the tests uses (the password policy accepts it).
const PASSWORD: &str = "correct horse battery staple";

/// Codes the app sends, kept instead of printed.
#[derive(Clone, Debug, Default)]
struct Outbox(Arc<Mutex<Vec<(Purpose, String, String)>>>);

impl Outbox {
    fn sender(&self) -> FnSender {
        let sent = self.0.clone();
        sender_fn(move |message: CodeMessage| {
            sent.lock().unwrap().push((
                message.purpose,
                message.user.email.clone(),
                message.secret.expose_secret().to_owned(),
            ));
            std::future::ready(Ok(()))
        })
    }

    /// Takes the code sent to `email` for `purpose` (registration sends it before answering).
    fn take(&self, email: &str, purpose: Purpose) -> String {
        let mut sent = self.0.lock().unwrap();
        let i = sent
            .iter()
            .position(|(p, to, _)| *p == purpose && to == email)
            .unwrap_or_else(|| panic!("no {purpose:?} code was sent to {email}"));
        sent.remove(i).2
    }
}

/// Which example.
#[derive(Clone, Copy, Debug)]
enum Framework {
    /// `examples/minimal-actix`, on its own actix runtime (a thread of its own).
    Actix,
    /// `examples/minimal-hyper`, on the test's Tokio runtime.
    Hyper,
}

/// How a running example is stopped.
enum Stop {
    Actix {
        handle: actix_web::dev::ServerHandle,
        thread: std::thread::JoinHandle<std::io::Result<()>>,
    },
    Hyper {
        stop: tokio::sync::oneshot::Sender<()>,
        served: tokio::task::JoinHandle<std::io::Result<()>>,
    },
}

/// The example listening on 127.0.0.1 (a port of its own), and a client for it.
struct Running {
    base: String,
    http: reqwest::Client,
    outbox: Outbox,
    stop: Stop,
}

/// An answer: status, headers and the JSON body (`Null` when there is none).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    /// Every value of a header that may repeat.
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }
}

impl Running {
    async fn start(framework: Framework, requests_per_minute: u32) -> Self {
        let outbox = Outbox::default();
        let rpm = NonZeroU32::new(requests_per_minute).unwrap();
        let (base, stop) = match framework {
            Framework::Actix => {
                let settings = example_minimal_actix::Settings {
                    requests_per_minute: rpm,
                    ..Default::default()
                };
                let app = example_minimal_actix::AppState::with_sender(settings, outbox.sender())
                    .unwrap();
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let base = format!("http://{}", listener.local_addr().unwrap());
                let (handle_tx, handle_rx) = std::sync::mpsc::channel();
                // actix-web runs on its own runtime; stopped through its handle.
                let thread = std::thread::spawn(move || {
                    actix_web::rt::System::new().block_on(async move {
                        let running = app.server(listener, std::future::pending())?;
                        handle_tx.send(running.handle()).unwrap();
                        running.await
                    })
                });
                let handle = handle_rx.recv().unwrap();
                (base, Stop::Actix { handle, thread })
            }
            Framework::Hyper => {
                let settings = example_minimal_hyper::Settings {
                    requests_per_minute: rpm,
                    ..Default::default()
                };
                let app = example_minimal_hyper::AppState::with_sender(settings, outbox.sender())
                    .unwrap();
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let base = format!("http://{}", listener.local_addr().unwrap());
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let served = tokio::spawn(example_minimal_hyper::serve(
                    listener,
                    app.service(),
                    async {
                        let _ = stopped.await;
                    },
                ));
                (base, Stop::Hyper { stop, served })
            }
        };
        Self {
            base,
            http: reqwest::Client::new(),
            outbox,
            stop,
        }
    }

    /// A request with an optional bearer token, `Accept-Language` and JSON body.
    async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        lang: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(lang) = lang {
            req = req.header("accept-language", lang);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap();
        Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn get(&self, path: &str, bearer: Option<&str>, lang: Option<&str>) -> Answer {
        self.call(Method::GET, path, bearer, lang, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, None, None, Some(body)).await
    }

    /// Registers `email`, verifies it with the code sent, and logs in: the verification's
    /// answer and the access token.
    async fn sign_up(&self, email: &str) -> (Value, String) {
        let credentials = json!({"email": email, "password": PASSWORD});
        let registered = self.post("/auth/register", credentials.clone()).await;
        assert_eq!(
            registered.status,
            StatusCode::ACCEPTED,
            "{}",
            registered.body
        );
        assert_eq!(registered.body, json!({"status": "pending_verification"}));

        let code = self.outbox.take(email, Purpose::VerifyEmail);
        let verified = self
            .post("/auth/verify-email", json!({"token": code}))
            .await;
        assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
        assert_eq!(verified.body["email_verified"], true);
        // A code works once.
        let again = self
            .post("/auth/verify-email", json!({"token": code}))
            .await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert_eq!(again.body["type"], "urn:mortar:problem:invalid-code");

        let login = self.post("/auth/login", credentials).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
        assert_eq!(login.body["token_type"], "Bearer");
        let expires_in = login.body["expires_in"].as_u64().unwrap();
        assert!((800..=900).contains(&expires_in), "{expires_in}");
        let token = login.body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(token.split('.').count(), 3, "a compact JWS: {token}");
        (verified.body, token)
    }

    /// Stops the server and checks that it shut down cleanly.
    async fn stop(self) {
        drop(self.http);
        match self.stop {
            Stop::Actix { handle, thread } => {
                tokio::time::timeout(Duration::from_secs(10), handle.stop(true))
                    .await
                    .expect("the server stops within 10 s");
                tokio::task::spawn_blocking(move || thread.join())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
            }
            Stop::Hyper { stop, served } => {
                stop.send(()).unwrap();
                tokio::time::timeout(Duration::from_secs(10), served)
                    .await
                    .expect("the server stops within 10 s")
                    .unwrap()
                    .unwrap();
            }
        }
    }
}

#[tokio::test]
async fn actix_journey() {
    journey(Framework::Actix).await;
}

#[tokio::test]
async fn hyper_journey() {
    journey(Framework::Hyper).await;
}

#[allow(clippy::too_many_lines, reason = "one journey, step by step")]
async fn journey(framework: Framework) {
    let server = Running::start(framework, 30).await;

    // Two accounts: ann is not on the readers allowlist, reader@example.com is.
    let (ann, ann_token) = server.sign_up("ann@example.com").await;
    assert_eq!(ann["roles"], json!([]));
    let (reader, reader_token) = server.sign_up("reader@example.com").await;
    assert_eq!(reader["roles"], json!(["reader"]));
    assert_ne!(ann["user_id"], reader["user_id"]);

    // A wrong password: 401, the same problem whatever was wrong.
    let wrong = server
        .post(
            "/auth/login",
            json!({"email": "ann@example.com", "password": "not the password at all"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body["type"], "urn:mortar:problem:invalid-credentials");

    // The guarded route: 401 without a token…
    let anonymous = server.get("/reports", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.header("content-type"), "application/problem+json");
    assert_eq!(anonymous.header("www-authenticate"), "Bearer");
    assert_eq!(anonymous.header("content-language"), "en");
    assert_eq!(anonymous.body["type"], "urn:mortar:problem:unauthenticated");
    assert_eq!(anonymous.body["title"], "Authentication is required.");

    // …403 for ann, who lacks `reports:read`…
    let denied = server.get("/reports", Some(&ann_token), None).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.header("content-type"), "application/problem+json");
    assert_eq!(denied.body["type"], "urn:mortar:problem:permission-denied");
    assert_eq!(denied.body["permission"], "reports:read");

    // …and 200 for the reader.
    let reports = server.get("/reports", Some(&reader_token), None).await;
    assert_eq!(reports.status, StatusCode::OK, "{}", reports.body);
    assert_eq!(reports.header("content-type"), "application/json");
    assert_eq!(reports.body["title"], "Quarterly reports");
    assert_eq!(reports.body["summary"], "2 reports are available.");
    assert_eq!(reports.body["reports"][0]["id"], "2026-q1");

    // The token names the account.
    let me = server.get("/me", Some(&reader_token), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["subject"], reader["user_id"]);
    assert_eq!(me.body["roles"], json!(["reader"]));

    // German, chosen by Accept-Language: the app's own messages…
    let berichte = server
        .get(
            "/reports",
            Some(&reader_token),
            Some("de-DE,de;q=0.9,en;q=0.5"),
        )
        .await;
    assert_eq!(berichte.status, StatusCode::OK);
    assert_eq!(berichte.header("content-language"), "de");
    // The negotiation reads `?lang=`, a `lang` cookie, then Accept-Language (one field line
    // from the tower layer and the actix middleware alike).
    assert_eq!(berichte.header_values("vary"), ["cookie, accept-language"]);
    assert_eq!(berichte.body["title"], "Quartalsberichte");
    assert_eq!(berichte.body["summary"], "2 Berichte sind verfügbar.");

    // …and the problem documents: 401, 403, 404, a refused token, a validation error.
    let de = Some("de");
    let anonymous = server.get("/reports", None, de).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.header("content-language"), "de");
    assert_eq!(
        anonymous.body["title"],
        "Eine Authentifizierung ist erforderlich."
    );
    let denied = server.get("/reports", Some(&ann_token), de).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.header("content-language"), "de");
    assert_eq!(
        denied.body["title"],
        "Sie haben keine Berechtigung, dies zu tun."
    );
    assert_eq!(
        denied.body["detail"],
        "Die Berechtigung „reports:read“ ist erforderlich."
    );
    let missing = server.get("/nowhere", None, de).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("content-language"), "de");
    assert_eq!(missing.body["title"], "Nicht gefunden");
    assert_eq!(missing.body["instance"], "/nowhere");
    let forged = server.get("/reports", Some("not.a.token"), de).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(forged.body["type"], "urn:mortar:problem:invalid-token");
    assert_eq!(
        forged.body["title"],
        "Das Zugriffstoken ist ungültig oder abgelaufen."
    );
    let invalid = server
        .call(
            Method::POST,
            "/auth/register",
            None,
            de,
            Some(json!({"email": "not an address", "password": PASSWORD})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.header("content-type"), "application/problem+json");
    assert_eq!(invalid.header("content-language"), "de");
    assert_eq!(invalid.body["type"], "urn:mortar:problem:validation");
    assert_eq!(invalid.body["title"], "Die Anfrage ist ungültig.");
    assert_eq!(invalid.body["errors"][0]["pointer"], "#/email");
    assert_eq!(invalid.body["errors"][0]["code"], "email");
    assert_eq!(
        invalid.body["errors"][0]["detail"],
        "muss eine E-Mail-Adresse sein"
    );

    // The per-IP limit: 30 a minute, every route counted. Each answer tells what remains;
    // when nothing does, 429 with Retry-After and the RateLimit headers, in German.
    let mut remaining = u64::MAX;
    let mut requests = 0;
    let limited = loop {
        requests += 1;
        assert!(requests <= 31, "no 429 after 30 requests");
        let answer = server.get("/me", Some(&reader_token), de).await;
        assert_eq!(answer.header("ratelimit-policy"), "\"per-ip\";q=30;w=60");
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            break answer;
        }
        assert_eq!(answer.status, StatusCode::OK);
        let r = answer
            .header("ratelimit")
            .strip_prefix("\"per-ip\";r=")
            .and_then(|rest| rest.split(';').next())
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap();
        // One fewer each time (the same if the allowance grew back meanwhile: 1 per 2 s).
        assert!(r <= remaining, "{r} then {remaining}");
        remaining = r;
    };
    assert_eq!(remaining, 0, "refused only once none remained");
    let retry_after: u64 = limited.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(
        limited.header("ratelimit").starts_with("\"per-ip\";r=0;t="),
        "{}",
        limited.header("ratelimit")
    );
    assert_eq!(limited.header("content-type"), "application/problem+json");
    assert_eq!(limited.header("content-language"), "de");
    assert_eq!(limited.body["type"], "urn:mortar:problem:rate-limited");
    assert_eq!(limited.body["status"], 429);
    assert_eq!(
        limited.body["title"],
        "Zu viele Anfragen; bitte etwas langsamer."
    );
    assert_eq!(limited.body["retry_after"], retry_after);
    assert_eq!(limited.body["policies"], json!(["per-ip"]));
    let expected = if retry_after == 1 {
        "Versuchen Sie es in einer Sekunde erneut.".to_owned()
    } else {
        format!("Versuchen Sie es in {retry_after} Sekunden erneut.")
    };
    assert_eq!(limited.body["detail"], expected);
    // In English without the header.
    let limited = server.get("/reports", Some(&reader_token), None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["title"], "Too many requests; slow down.");

    server.stop().await;
}

#[tokio::test]
async fn actix_unknown_routes_and_bad_requests_are_problems() {
    bad_requests(Framework::Actix).await;
}

#[tokio::test]
async fn hyper_unknown_routes_and_bad_requests_are_problems() {
    bad_requests(Framework::Hyper).await;
}

async fn bad_requests(framework: Framework) {
    let server = Running::start(framework, 100).await;

    let missing = server.get("/nowhere", None, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("content-type"), "application/problem+json");
    assert_eq!(missing.body["title"], "Not Found");
    assert_eq!(missing.body["instance"], "/nowhere");

    let wrong_method = server.get("/auth/login", None, None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.header("allow"), "POST");
    assert_eq!(wrong_method.body["title"], "Method Not Allowed");

    let url = format!("{}/auth/register", server.base);
    let not_json = server.http.post(&url).body("email=a").send().await.unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let malformed = server
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["type"], "about:blank");

    let incomplete = server
        .post("/auth/register", json!({"email": "a@example.com"}))
        .await;
    assert_eq!(incomplete.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(incomplete.body["type"], "urn:mortar:problem:validation");

    let huge = server
        .post(
            "/auth/register",
            json!({"email": "a@example.com", "password": "x".repeat(20_000)}),
        )
        .await;
    assert_eq!(huge.status, StatusCode::PAYLOAD_TOO_LARGE);

    let weak = server
        .call(
            Method::POST,
            "/auth/register",
            None,
            Some("de"),
            Some(json!({"email": "bo@example.com", "password": "password"})),
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(weak.body["type"], "urn:mortar:problem:weak-password");
    assert_eq!(
        weak.body["title"],
        "Das Passwort entspricht nicht der Passwortrichtlinie."
    );

    server.stop().await;
}

#[test]
fn catalogs_are_complete() {
    for sources in [
        example_minimal_actix::catalog_sources().collect::<Vec<_>>(),
        example_minimal_hyper::catalog_sources().collect::<Vec<_>>(),
    ] {
        let findings = mortar::i18n::check_sources("en", &sources);
        assert!(findings.is_empty(), "{findings:#?}");
    }
}
