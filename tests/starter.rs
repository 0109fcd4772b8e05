//! The starter's router, driven in process with `oneshot`: liveness, readiness on SQLite and on
//! PostgreSQL (and MariaDB, Redis and S3 when configured), and problem documents for unknown
//! routes and methods.

use axum::body::Body;
use example_saas_axum::{App, Config};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

async fn call(app: &App, method: &str, uri: &str) -> (StatusCode, http::HeaderMap, Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let res = app.router().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri}: body is not JSON ({e}): {bytes:?}"));
    (status, headers, json)
}

/// The defaults on `database_url`, with uploaded files in a fresh temporary directory.
fn test_config(database_url: &str) -> Config {
    let dir = std::env::temp_dir().join(mortar_testkit::unique_name());
    Config::default()
        .with_database_url(database_url)
        .with_storage_dir(dir.to_string_lossy())
}

async fn app_on(database_url: &str) -> App {
    App::build(test_config(database_url)).await.unwrap()
}

async fn sqlite_app() -> App {
    app_on(mortar_testkit::sqlite().url()).await
}

/// `/ready` answers 200 with the database check passing.
async fn assert_ready(app: &App) {
    let (status, _, body) = call(app, "GET", "/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "pass");
    assert_eq!(body["checks"]["database"]["status"], "pass");
}

#[tokio::test]
async fn health_is_200() {
    let app = sqlite_app().await;
    let (status, headers, body) = call(&app, "GET", "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/health+json");
    assert_eq!(body["status"], "pass");
    assert!(
        headers.contains_key("x-request-id"),
        "every response carries a request id"
    );
}

#[tokio::test]
async fn ready_is_200_on_sqlite() {
    assert_ready(&sqlite_app().await).await;
}

#[tokio::test]
async fn ready_is_200_on_postgres() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    assert_ready(&app_on(db.url()).await).await;
    // The migrations ran in the test's own schema.
    let n: i64 = mortar_testkit::scalar(
        &db.connect().await,
        "SELECT count(*) AS v FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = 'seaql_migrations'",
    )
    .await;
    assert_eq!(n, 1);
}

#[tokio::test]
async fn ready_is_200_on_mariadb() {
    let Some(db) = mortar_testkit::mysql().await else {
        return;
    };
    assert_ready(&app_on(db.url()).await).await;
}

#[tokio::test]
async fn ready_checks_redis_and_s3_when_configured() {
    let (Some(redis), Some(s3)) = (mortar_testkit::redis().await, mortar_testkit::s3().await)
    else {
        return;
    };
    let mut config = test_config(mortar_testkit::sqlite().url());
    config.redis_url = Some(redis.url().to_owned().into());
    config.s3_endpoint = Some(s3.endpoint().to_owned());
    config.s3_bucket = Some(s3.bucket_name());
    config.s3_access_key = Some(s3.access_key().to_owned());
    config.s3_secret_key = Some(s3.secret_key().to_owned().into());
    let app = App::build(config.clone()).await.unwrap();
    let (status, _, body) = call(&app, "GET", "/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["redis"]["status"], "pass");
    assert_eq!(body["checks"]["s3"]["status"], "pass");

    // A wrong S3 secret makes the service unready, without the error text in the answer.
    config.s3_secret_key = Some("wrong-secret".to_owned().into());
    let app = App::build(config).await.unwrap();
    let (status, headers, body) = call(&app, "GET", "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["content-type"], "application/health+json");
    assert_eq!(body["status"], "fail");
    assert_eq!(body["checks"]["s3"]["status"], "fail");
    assert_eq!(body["checks"]["database"]["status"], "pass");
    assert!(!body.to_string().contains("Signature"), "{body}");
}

#[tokio::test]
async fn ready_is_503_when_redis_is_unreachable() {
    let mut config = test_config(mortar_testkit::sqlite().url());
    // Port 1 on loopback: nothing listens there.
    config.redis_url = Some("redis://127.0.0.1:1".to_owned().into());
    let app = App::build(config).await.unwrap();
    let (status, _, body) = call(&app, "GET", "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["checks"]["redis"]["status"], "fail");
}

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let app = sqlite_app().await;
    let (status, headers, body) = call(&app, "GET", "/no/such/route").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(
        body,
        serde_json::json!({
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "instance": "/no/such/route"
        })
    );
}

#[tokio::test]
async fn wrong_method_is_a_405_problem() {
    let app = sqlite_app().await;
    let (status, headers, body) = call(&app, "DELETE", "/health").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["status"], 405);
}

#[tokio::test]
async fn unreachable_database_fails_to_start_without_leaking_the_url() {
    let config = test_config("postgres://mortar:hunter2@127.0.0.1:1/nowhere");
    let err = App::build(config).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("database"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

/// Codes the starter sends (through its job worker), captured instead of printed.
#[derive(Debug, Default)]
struct Outbox(std::sync::Mutex<Vec<Sent>>);

/// One captured message.
#[derive(Debug, Clone)]
struct Sent {
    purpose: mortar::auth::code::Purpose,
    email: String,
    secret: String,
}

#[async_trait::async_trait]
impl mortar::auth::code::CodeSender for Outbox {
    async fn send(
        &self,
        message: mortar::auth::code::CodeMessage,
    ) -> Result<(), mortar::auth::Error> {
        use secrecy::ExposeSecret as _;
        self.0.lock().unwrap().push(Sent {
            purpose: message.purpose,
            email: message.user.email.clone(),
            secret: message.secret.expose_secret().to_owned(),
        });
        Ok(())
    }
}

impl Outbox {
    /// Takes the oldest code not taken yet that was sent to `email` for `purpose`, waiting for
    /// the job worker to send it (up to 20 s).
    async fn take(&self, email: &str, purpose: mortar::auth::code::Purpose) -> String {
        for _ in 0..2000 {
            {
                let mut sent = self.0.lock().unwrap();
                if let Some(i) = sent
                    .iter()
                    .position(|m| m.purpose == purpose && m.email == email)
                {
                    return sent.remove(i).secret;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("no {purpose:?} message was sent to {email} within 20 s");
    }

    /// Everything sent and not taken yet.
    fn pending(&self) -> Vec<Sent> {
        self.0.lock().unwrap().clone()
    }
}

/// A request with an optional bearer token and JSON body.
fn request(method: &str, uri: &str, bearer: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(v) => {
            req = req.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    req.body(body).unwrap()
}

async fn json_call(
    app: &App,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let res = app
        .router()
        .oneshot(request(method, uri, bearer, body))
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Register, verify, log in, call a protected route, refresh, and log out against the starter.
async fn auth_journey(database_url: &str) {
    let outbox = std::sync::Arc::new(Outbox::default());
    let app = App::build_with_sender(test_config(database_url), outbox.clone())
        .await
        .unwrap();
    let creds =
        serde_json::json!({"email": "sam@example.com", "password": "correct horse battery staple"});
    let (status, _) = json_call(&app, "POST", "/auth/register", None, Some(creds.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = outbox
        .take("sam@example.com", mortar::auth::code::Purpose::VerifyEmail)
        .await;
    let (status, _) = json_call(
        &app,
        "POST",
        "/auth/verify-email",
        None,
        Some(serde_json::json!({"token": token})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, anonymous) = json_call(&app, "GET", "/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous["status"], 401);

    let (status, tokens) = json_call(&app, "POST", "/auth/login", None, Some(creds)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, me) = json_call(&app, "GET", "/me", Some(&access), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["amr"], serde_json::json!(["pwd"]));

    let (status, refreshed) = json_call(
        &app,
        "POST",
        "/auth/refresh",
        None,
        Some(serde_json::json!({"refresh_token": tokens["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        json_call(&app, "GET", "/me", Some(&access), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        json_call(&app, "POST", "/auth/logout", Some(&access), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        json_call(&app, "GET", "/me", Some(&access), None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn auth_journey_on_sqlite() {
    auth_journey(mortar_testkit::sqlite().url()).await;
}

#[tokio::test]
async fn auth_journey_on_postgres() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    auth_journey(db.url()).await;
}

/// Registers and verifies `email` on the app; answers the login body.
async fn signed_up(app: &App, outbox: &Outbox, email: &str) -> Value {
    let creds = serde_json::json!({"email": email, "password": "correct horse battery staple"});
    json_call(app, "POST", "/auth/register", None, Some(creds.clone())).await;
    let token = outbox
        .take(email, mortar::auth::code::Purpose::VerifyEmail)
        .await;
    let (status, _) = json_call(
        app,
        "POST",
        "/auth/verify-email",
        None,
        Some(serde_json::json!({"token": token})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    creds
}

/// An Ed25519 PKCS#8 key (`openssl genpkey -algorithm ed25519`), one line with `\n` escapes as
/// an environment variable would hold it.
const PEM: &str = "-----BEGIN PRIVATE KEY-----\\nMC4CAQAwBQYDK2VwBCIEIEEG4+t7pEIYNIzt3Jgl9S9wE1oe0UEACPu8zmSaBPYT\\n-----END PRIVATE KEY-----";

#[tokio::test]
async fn a_configured_signing_key_outlives_a_restart() {
    use secrecy::SecretString;
    let db = mortar_testkit::sqlite();
    let mut config = test_config(db.url());
    config.signing_key = Some(SecretString::from(PEM));
    let outbox = std::sync::Arc::new(Outbox::default());
    let first = App::build_with_sender(config.clone(), outbox.clone())
        .await
        .unwrap();
    let creds = signed_up(&first, &outbox, "kim@example.com").await;
    let (status, tokens) = json_call(&first, "POST", "/auth/login", None, Some(creds)).await;
    assert_eq!(status, StatusCode::OK);
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // Another instance (or the same after a restart) with the same key accepts the token ...
    let second = App::build_with_sender(config.clone(), outbox.clone())
        .await
        .unwrap();
    assert_eq!(
        json_call(&second, "GET", "/me", Some(&access), None)
            .await
            .0,
        StatusCode::OK
    );
    // ... one with a generated key does not.
    let generated = App::build_with_sender(test_config(db.url()), outbox.clone())
        .await
        .unwrap();
    assert_eq!(
        json_call(&generated, "GET", "/me", Some(&access), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // A key that is not a key stops the start, without echoing it.
    config.signing_key = Some(SecretString::from(
        "-----BEGIN PRIVATE KEY-----\\nc2VjcmV0LWJ5dGVz\\n-----END PRIVATE KEY-----",
    ));
    let error = App::build_with_sender(config, outbox).await.unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("c2VjcmV0LWJ5dGVz"), "{shown}");
}

/// The starter on a fresh SQLite database, its e-mails captured.
async fn sqlite_app_with_outbox() -> (App, std::sync::Arc<Outbox>) {
    let outbox = std::sync::Arc::new(Outbox::default());
    let app = App::build_with_sender(test_config(mortar_testkit::sqlite().url()), outbox.clone())
        .await
        .unwrap();
    (app, outbox)
}

#[tokio::test]
async fn browser_login_with_a_session_cookie() {
    let (app, outbox) = sqlite_app_with_outbox().await;
    let mut creds = signed_up(&app, &outbox, "lee@example.com").await;
    creds["cookie"] = serde_json::json!(true);
    let login = Request::post("/auth/login")
        .header("content-type", "application/json")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(creds.to_string()))
        .unwrap();
    let res = app.router().oneshot(login).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("Secure"));
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let me = |method: &str, extra: Option<(&'static str, &'static str)>| {
        let mut req = Request::builder()
            .method(method)
            .uri("/me")
            .header("cookie", &cookie);
        if let Some((name, value)) = extra {
            req = req.header(name, value);
        }
        app.router().oneshot(req.body(Body::empty()).unwrap())
    };
    assert_eq!(me("GET", None).await.unwrap().status(), StatusCode::OK);
    let logout = Request::post("/auth/logout")
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .header("host", "app.example")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.router().oneshot(logout).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let logout = Request::post("/auth/logout")
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .body(Body::empty())
        .unwrap();
    let res = app.router().oneshot(logout).await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        me("GET", None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// A request to `router` from 203.0.113.7 (as the server's `ConnectInfo` would give it).
async fn from_client(
    router: &axum::Router,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, http::HeaderMap) {
    let mut req = request(method, uri, bearer, body);
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [203, 0, 113, 7],
            40_000,
        ))));
    let res = router.clone().oneshot(req).await.unwrap();
    (res.status(), res.headers().clone())
}

#[tokio::test]
async fn the_api_is_rate_limited_per_user_per_address_and_on_credentials() {
    let outbox = std::sync::Arc::new(Outbox::default());
    let mut config = test_config(mortar_testkit::sqlite().url());
    config.rate_limit_per_user = 3;
    config.rate_limit_credentials = 4;
    let app = App::build_with_sender(config, outbox.clone())
        .await
        .unwrap();
    let router = app.router();
    let creds =
        serde_json::json!({"email": "rae@example.com", "password": "correct horse battery staple"});
    // Credential requests: register (1), login (2, 3, 4), then refused — fail-closed policy.
    assert_eq!(
        from_client(&router, "POST", "/auth/register", None, Some(creds.clone()))
            .await
            .0,
        StatusCode::ACCEPTED
    );
    let token = outbox
        .take("rae@example.com", mortar::auth::code::Purpose::VerifyEmail)
        .await;
    let verify = serde_json::json!({"token": token});
    assert_eq!(
        from_client(&router, "POST", "/auth/verify-email", None, Some(verify))
            .await
            .0,
        StatusCode::OK
    );
    let login = || from_client(&router, "POST", "/auth/login", None, Some(creds.clone()));
    let (tokens, _) = json_call(&app, "POST", "/auth/login", None, Some(creds.clone())).await;
    assert_eq!(
        tokens,
        StatusCode::OK,
        "no ConnectInfo: the per-address policies do not apply"
    );
    for _ in 0..3 {
        assert_eq!(login().await.0, StatusCode::OK);
    }
    let (status, headers) = login().await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        headers["ratelimit-policy"]
            .to_str()
            .unwrap()
            .contains("\"credentials\";q=4;w=60")
    );
    assert!(headers.contains_key("retry-after"));

    // Per user: 3 a minute.
    let (_, body) = json_call(&app, "POST", "/auth/login", None, Some(creds)).await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(
            from_client(&router, "GET", "/me", Some(&access), None)
                .await
                .0,
            StatusCode::OK
        );
    }
    let (status, headers) = from_client(&router, "GET", "/me", Some(&access), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        headers["ratelimit"]
            .to_str()
            .unwrap()
            .contains("\"user\";r=0")
    );
    // The probes are not limited.
    assert_eq!(
        from_client(&router, "GET", "/health", None, None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_api_is_rate_limited_per_address() {
    let mut config = test_config(mortar_testkit::sqlite().url());
    config.rate_limit_per_ip = 2;
    let app = App::build(config).await.unwrap();
    let router = app.router();
    for _ in 0..2 {
        assert_eq!(
            from_client(&router, "GET", "/me", None, None).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, headers) = from_client(&router, "GET", "/me", None, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["content-type"], "application/problem+json");
    for _ in 0..3 {
        assert_eq!(
            from_client(&router, "GET", "/health", None, None).await.0,
            StatusCode::OK
        );
    }
}

/// Signs `email` up and in; answers (access token, user id).
async fn signed_in(app: &App, outbox: &Outbox, email: &str) -> (String, String) {
    let creds = signed_up(app, outbox, email).await;
    let (status, tokens) = json_call(app, "POST", "/auth/login", None, Some(creds)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (_, me) = json_call(app, "GET", "/me", Some(&access), None).await;
    (access, me["subject"].as_str().unwrap().to_owned())
}

/// The starter on `database_url` with each of `emails` signed up and logged in, as
/// (access token, user id).
async fn app_with_users<const N: usize>(
    database_url: &str,
    emails: [&str; N],
) -> (App, [(String, String); N]) {
    let outbox = std::sync::Arc::new(Outbox::default());
    let app = App::build_with_sender(test_config(database_url), outbox.clone())
        .await
        .unwrap();
    let mut users = Vec::with_capacity(N);
    for email in emails {
        users.push(signed_in(&app, &outbox, email).await);
    }
    let users = <[(String, String); N]>::try_from(users).unwrap();
    (app, users)
}

/// Organizations with owner / admin / member roles guarding every route, memberships scoped
/// to their organization.
#[allow(clippy::too_many_lines, reason = "one journey, step by step")]
async fn organizations(database_url: &str) {
    use serde_json::json;
    let (app, [(olga, _), (adam, adam_id), (mia, mia_id), (eve, eve_id)]) = app_with_users(
        database_url,
        [
            "olga@example.com",
            "adam@example.com",
            "mia@example.com",
            "eve@example.com",
        ],
    )
    .await;
    let call = |method: &'static str, uri: String, who: &str, body: Option<Value>| {
        let (app, who) = (&app, who.to_owned());
        async move { json_call(app, method, &uri, Some(&who), body).await }
    };

    let (status, bad) = call("POST", "/orgs".into(), &olga, Some(json!({"name": " "}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, org) = call("POST", "/orgs".into(), &olga, Some(json!({"name": "Acme"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    assert_eq!(org["role"], "owner");
    let acme = format!("/orgs/{}", org["id"].as_str().unwrap());

    // Outsiders and anonymous callers.
    let (status, denied) = call("GET", acme.clone(), &eve, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(denied["type"], "urn:mortar:problem:permission-denied");
    assert_eq!(denied["permission"], "orgs:read");
    assert_eq!(
        json_call(&app, "GET", &acme, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // The owner adds an admin and a member.
    let members = format!("{acme}/members");
    let (status, _) = call(
        "PUT",
        format!("{members}/{adam_id}"),
        &olga,
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        "PUT",
        format!("{members}/{mia_id}"),
        &olga,
        Some(json!({"role": "member"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, bad) = call(
        "PUT",
        format!("{members}/{eve_id}"),
        &olga,
        Some(json!({"role": "king"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");

    // A member reads, and nothing more.
    let (status, shown) = call("GET", acme.clone(), &mia, None).await;
    assert_eq!(
        (status, shown["role"].as_str()),
        (StatusCode::OK, Some("member"))
    );
    let (status, listed) = call("GET", members.clone(), &mia, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    for (method, uri, body) in [
        ("PATCH", acme.clone(), Some(json!({"name": "Mine"}))),
        (
            "PUT",
            format!("{members}/{eve_id}"),
            Some(json!({"role": "member"})),
        ),
        ("DELETE", format!("{members}/{adam_id}"), None),
        ("DELETE", acme.clone(), None),
    ] {
        let (status, problem) = call(method, uri.clone(), &mia, body).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "member {method} {uri}: {problem}"
        );
    }

    // An admin manages members and settings, but not owners nor the organization itself.
    let (status, renamed) = call(
        "PATCH",
        acme.clone(),
        &adam,
        Some(json!({"name": "Acme Inc"})),
    )
    .await;
    assert_eq!(
        (status, renamed["name"].as_str()),
        (StatusCode::OK, Some("Acme Inc"))
    );
    let (status, _) = call(
        "PUT",
        format!("{members}/{eve_id}"),
        &adam,
        Some(json!({"role": "member"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = call(
        "PUT",
        format!("{members}/{eve_id}"),
        &adam,
        Some(json!({"role": "owner"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["permission"], "owners:manage");
    let olga_id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "owner")
        .unwrap()["user"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        call("DELETE", format!("{members}/{olga_id}"), &adam, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call("DELETE", acme.clone(), &adam, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call("DELETE", format!("{members}/{eve_id}"), &adam, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call("GET", acme.clone(), &eve, None).await.0,
        StatusCode::FORBIDDEN
    );

    // The last owner stays: neither removed nor demoted.
    let (status, problem) = call("DELETE", format!("{members}/{olga_id}"), &olga, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["type"], "urn:saas:problem:last-owner");
    let (status, problem) = call(
        "PUT",
        format!("{members}/{olga_id}"),
        &olga,
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (_, listed) = call("GET", members.clone(), &olga, None).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "owner"),
        "{listed}"
    );

    // Memberships do not cross organizations.
    let (status, globex) = call(
        "POST",
        "/orgs".into(),
        &eve,
        Some(json!({"name": "Globex"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let globex = format!("/orgs/{}", globex["id"].as_str().unwrap());
    assert_eq!(
        call("GET", globex.clone(), &olga, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call("GET", format!("{globex}/members"), &adam, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (_, mine) = call("GET", "/orgs".into(), &eve, None).await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine[0]["name"], "Globex");
    let (_, mine) = call("GET", "/orgs".into(), &adam, None).await;
    assert_eq!(mine[0]["role"], "admin", "{mine}");

    // The owner deletes the organization; its memberships go with it.
    assert_eq!(
        call("DELETE", acme.clone(), &olga, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call("GET", acme.clone(), &mia, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call("GET", acme, &olga, None).await.0,
        StatusCode::FORBIDDEN
    );
    let (_, mine) = call("GET", "/orgs".into(), &mia, None).await;
    assert_eq!(mine, json!([]));
}

#[tokio::test]
async fn organizations_on_sqlite() {
    organizations(mortar_testkit::sqlite().url()).await;
}

#[tokio::test]
async fn organizations_on_mariadb() {
    let Some(db) = mortar_testkit::mysql().await else {
        return;
    };
    organizations(db.url()).await;
}

/// A call in a language: `Accept-Language: <lang>`; returns status, Content-Language and body.
async fn call_in(
    app: &App,
    lang: &str,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut req = request(method, uri, bearer, body);
    req.headers_mut()
        .insert("accept-language", lang.parse().unwrap());
    let res = app.router().oneshot(req).await.unwrap();
    let status = res.status();
    let language = res
        .headers()
        .get("content-language")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        language,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The starter answers in English, German and Arabic — greetings with Arabic's six plural
/// forms, problem documents and validation errors included — and its catalogs are complete.
#[tokio::test]
async fn answers_in_english_german_and_arabic() {
    use serde_json::json;
    let findings = mortar::i18n::check_sources(
        "en",
        &example_saas_axum::i18n::sources().collect::<Vec<_>>(),
    );
    assert!(findings.is_empty(), "{findings:#?}");

    let (app, outbox) = sqlite_app_with_outbox().await;

    // Problems for unknown routes, in each language.
    for (lang, title) in [
        ("en", "Not Found"),
        ("de-DE,de;q=0.9", "Nicht gefunden"),
        ("ar-EG", "غير موجود"),
    ] {
        let (status, language, problem) = call_in(&app, lang, "GET", "/nowhere", None, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(problem["title"], title, "{lang}: {problem}");
        assert_eq!(language, lang[..2], "{lang}");
    }

    let (token, _) = signed_in(&app, &outbox, "layla@example.com").await;
    let greeting = |lang: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            let (status, _, me) = call_in(app, lang, "GET", "/me", Some(&token), None).await;
            assert_eq!(status, StatusCode::OK, "{me}");
            me["greeting"].as_str().unwrap().to_owned()
        }
    };
    assert!(
        greeting("en")
            .await
            .ends_with("You are not in any organization yet.")
    );
    assert!(
        greeting("ar").await.ends_with("لست عضوًا في أي مؤسسة بعد."),
        "zero"
    );

    // Arabic validation errors: the title and the field error in Arabic, code and params kept.
    let (status, _, problem) = call_in(
        &app,
        "ar",
        "POST",
        "/orgs",
        Some(&token),
        Some(json!({"name": " "})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["title"], "الطلب غير صالح.", "{problem}");
    assert_eq!(problem["errors"][0]["code"], "org-name");
    let detail = problem["errors"][0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("يجب أن يتكون"), "{detail}");

    // One, two, few (3), many (11): each Arabic plural form, and German's.
    let mut created = 0;
    for (target, arabic) in [
        (1, "أنت عضو في مؤسسة واحدة."),
        (2, "أنت عضو في مؤسستين."),
        (3, "مؤسسات."),
        (11, "مؤسسةً."),
    ] {
        while created < target {
            created += 1;
            let (status, body) = json_call(
                &app,
                "POST",
                "/orgs",
                Some(&token),
                Some(json!({"name": format!("Org {created}")})),
            )
            .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let text = greeting("ar").await;
        assert!(text.ends_with(arabic), "{target}: {text}");
    }
    assert!(
        greeting("de")
            .await
            .ends_with("Sie gehören 11 Organisationen an.")
    );
    assert!(
        greeting("en")
            .await
            .ends_with("You belong to 11 organizations.")
    );
    // The pseudo-locale shows which strings come from the catalog.
    let pseudo = greeting("en-XA").await;
    assert!(pseudo.starts_with('[') && pseudo.contains("11"), "{pseudo}");
}

/// The organization audit log: every mutating request on the organization's routes (refused
/// ones too) and its membership changes, newest first, filtered and paged, readable by admins
/// only; the chain verifies; authentication events land in the global stream.
#[allow(clippy::too_many_lines, reason = "one journey, step by step")]
async fn org_audit_log(database_url: &str) {
    use serde_json::json;
    let (app, [(olga, olga_id), (adam, adam_id), (mia, mia_id)]) = app_with_users(
        database_url,
        ["olga@example.com", "adam@example.com", "mia@example.com"],
    )
    .await;
    let call = |method: &'static str, uri: String, who: &str, body: Option<Value>| {
        let (app, who) = (&app, who.to_owned());
        async move { json_call(app, method, &uri, Some(&who), body).await }
    };
    let (_, org) = call("POST", "/orgs".into(), &olga, Some(json!({"name": "Acme"}))).await;
    let org_id = org["id"].as_str().unwrap().to_owned();
    let acme = format!("/orgs/{org_id}");
    for (who, role) in [(&adam_id, "admin"), (&mia_id, "member")] {
        let (status, _) = call(
            "PUT",
            format!("{acme}/members/{who}"),
            &olga,
            Some(json!({"role": role})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = call("PATCH", acme.clone(), &mia, Some(json!({"name": "Mine"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        "PATCH",
        acme.clone(),
        &adam,
        Some(json!({"name": "Acme Inc"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Events are written in the background: wait until the last one is in.
    let log = format!("{acme}/audit-log");
    let mut events = Vec::new();
    for _ in 0..100 {
        let (status, page) = call("GET", log.clone(), &olga, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        events = page["events"].as_array().unwrap().clone();
        if events.iter().any(|e| {
            e["event"]["metadata"]["status"] == 200 && e["event"]["metadata"]["method"] == "PATCH"
        }) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let requests: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"]["action"] == "http.request")
        .collect();
    assert_eq!(requests.len(), 4, "{events:#?}");
    // Newest first: adam's rename, mia's refused one, the two memberships.
    assert_eq!(requests[0]["event"]["actor"]["subject"], adam_id.as_str());
    assert_eq!(requests[0]["event"]["metadata"]["route"], "/orgs/{org}");
    assert_eq!(requests[1]["event"]["outcome"], "denied");
    assert_eq!(requests[1]["event"]["actor"]["subject"], mia_id.as_str());
    assert_eq!(requests[3]["event"]["actor"]["subject"], olga_id.as_str());
    assert!(
        events
            .iter()
            .all(|e| e["event"]["tenant"] == org_id.as_str())
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"]["action"].as_str().unwrap().starts_with("rbac.")),
        "membership changes are on the log: {events:#?}"
    );

    // Filters and pages.
    let (_, denied) = call("GET", format!("{log}?outcome=denied"), &adam, None).await;
    assert_eq!(denied["events"].as_array().unwrap().len(), 1, "{denied}");
    let (_, first) = call("GET", format!("{log}?action=http.*&limit=3"), &olga, None).await;
    let next = first["next"].as_str().unwrap();
    let (_, second) = call(
        "GET",
        format!("{log}?action=http.*&limit=3&cursor={next}"),
        &olga,
        None,
    )
    .await;
    assert_eq!(second["events"].as_array().unwrap().len(), 1);
    assert!(second.get("next").is_none());
    let (status, bad) = call("GET", format!("{log}?outcome=maybe"), &olga, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, bad) = call("GET", format!("{log}?cursor=%21%21"), &olga, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");

    // Members may not read it; the chain verifies; logins are recorded outside any tenant.
    let (status, _) = call("GET", log.clone(), &mia, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let store = app.state().audit().store.clone();
    let report = mortar::audit::verify(store.as_ref(), &org_id, ..)
        .await
        .unwrap();
    assert!(report.is_intact(), "{report:?}");
    let logins = mortar::audit::AuditStore::query(
        store.as_ref(),
        &mortar::audit::AuditQuery::new().action("auth.login"),
    )
    .await
    .unwrap();
    assert!(logins.records.len() >= 3);
    assert!(logins.records.iter().all(|r| r.event.tenant.is_none()));
}

#[tokio::test]
async fn org_audit_log_on_sqlite() {
    org_audit_log(mortar_testkit::sqlite().url()).await;
}

#[tokio::test]
async fn org_audit_log_on_postgres() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    org_audit_log(db.url()).await;
}

/// The beta endpoint answers 404 until an admin turns its flag on (for one user here, audited),
/// and the pricing page's A/B test assigns each user a layout that sticks.
async fn flags_gate_and_experiment(database_url: &str) {
    let (app, [(ann, ann_id), (bob, _)]) =
        app_with_users(database_url, ["ann@example.com", "bob@example.com"]).await;
    let (status, problem) = json_call(&app, "GET", "/beta/reports", Some(&ann), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    assert_eq!(problem["status"], 404);

    let ops = mortar::core::Principal::user("ops").build();
    app.state()
        .flags()
        .admin
        .upsert(
            &ops,
            "beta-reports",
            mortar::flags::FlagDefinition::boolean(false).targeting(serde_json::json!({
                "if": [{"in": [{"var": "targetingKey"}, [ann_id.clone()]]}, "on", null]
            })),
        )
        .await
        .unwrap();
    app.state().flags().flags.refresh().await.unwrap();
    let (status, report) = json_call(&app, "GET", "/beta/reports", Some(&ann), None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["for"], ann_id.as_str());
    let (status, _) = json_call(&app, "GET", "/beta/reports", Some(&bob), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.state().audit().flush().await;
    let changes = mortar::audit::AuditStore::query(
        app.state().audit().store.as_ref(),
        &mortar::audit::AuditQuery::new().action("flags.*"),
    )
    .await
    .unwrap();
    assert_eq!(changes.records.len(), 1);
    assert_eq!(changes.records[0].event.action, "flags.flag.created");

    for user in [&ann, &bob] {
        let (status, first) = json_call(&app, "GET", "/pricing", Some(user), None).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(first["reason"], "SPLIT");
        let variant = first["variant"].as_str().unwrap().to_owned();
        assert!(["monthly-first", "annual-first"].contains(&variant.as_str()));
        assert_eq!(
            first["layout"]["highlight"],
            if variant == "monthly-first" {
                "monthly"
            } else {
                "annual"
            }
        );
        for _ in 0..3 {
            let (_, again) = json_call(&app, "GET", "/pricing", Some(user), None).await;
            assert_eq!(again["variant"], variant.as_str(), "sticky");
        }
    }
    let (status, _) = json_call(&app, "GET", "/pricing", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn flags_gate_and_experiment_on_sqlite() {
    flags_gate_and_experiment(mortar_testkit::sqlite().url()).await;
}

#[tokio::test]
async fn flags_gate_and_experiment_on_postgres() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    flags_gate_and_experiment(db.url()).await;
}

/// A picture of `width` × `height` pixels in `format`.
fn picture(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([x.to_le_bytes()[0], y.to_le_bytes()[0], 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    picture(width, height, image::ImageFormat::Png)
}

/// A PNG whose header claims 50 000 × 50 000 pixels (a decompression bomb).
fn bomb() -> Vec<u8> {
    let mut bomb = png(1, 1);
    bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    let crc = crc32fast::hash(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    bomb
}

/// `PUT /me/avatar` with one multipart field `avatar` holding `bytes` named `file_name`.
async fn put_avatar(app: &App, token: &str, file_name: &str, bytes: &[u8]) -> (StatusCode, Value) {
    put_multipart(app, token, "avatar", file_name, bytes, false).await
}

/// `PUT /me/avatar` with one multipart field; `streamed` sends the body in 64 KiB chunks with no
/// declared length, as a client streaming a file does.
async fn put_multipart(
    app: &App,
    token: &str,
    field: &str,
    file_name: &str,
    bytes: &[u8],
    streamed: bool,
) -> (StatusCode, Value) {
    const BOUNDARY: &str = "mortar-avatar-boundary";
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; \
         filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let body = if streamed {
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = body
            .chunks(64 << 10)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    } else {
        Body::from(body)
    };
    let req = Request::builder()
        .method("PUT")
        .uri("/me/avatar")
        .header("authorization", format!("Bearer {token}"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .unwrap();
    let res = app.router().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Polls the thumbnail job that a 202 from `PUT /me/avatar` named until it is done (up to 30 s);
/// answers its last status.
async fn avatar_job(app: &App, token: &str, accepted: &Value) -> Value {
    let location = accepted["status"].as_str().unwrap().to_owned();
    assert!(location.starts_with("/me/avatar/jobs/"), "{accepted}");
    // As a client would: a growing pause between polls, and the rate limit's Retry-After.
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(20);
    while started.elapsed() < std::time::Duration::from_secs(30) {
        let (status, body) = json_call(app, "GET", &location, Some(token), None).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            let after = body["retry_after"].as_u64().unwrap_or(1);
            tokio::time::sleep(std::time::Duration::from_secs(after)).await;
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["state"] != "pending" && body["state"] != "running" {
            return body;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(250));
    }
    panic!("the thumbnail job {location} did not finish within 30 s");
}

/// Uploads a picture and waits for its thumbnail; answers the completed job's status.
async fn avatar_uploaded(app: &App, token: &str, file_name: &str, bytes: &[u8]) -> Value {
    let (status, accepted) = put_avatar(app, token, file_name, bytes).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["state"], "pending", "{accepted}");
    let done = avatar_job(app, token, &accepted).await;
    assert_eq!(done["state"], "completed", "{done}");
    done
}

/// The files under `dir`, recursively (paths relative to it).
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out
}

/// Refused uploads: spoofed and unknown types, too large, decompression bombs, no field;
/// nothing of them is kept.
async fn avatar_refusals(app: &App, token: &str) {
    let refused = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["type"], "urn:mortar:problem:upload-refused", "{body}");
    };
    // A PNG named .pdf; an executable named .jpg; text named .png.
    refused(put_avatar(app, token, "cv.pdf", &png(10, 10)).await);
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(4096, 0);
    refused(put_avatar(app, token, "cat.jpg", &elf).await);
    refused(put_avatar(app, token, "notes.png", b"just some text, not a picture").await);
    // A header claiming 2.5 gigapixels is refused before any pixel is decoded.
    refused(put_avatar(app, token, "bomb.png", &bomb()).await);
    // Past 5 MiB: 413 — from the declared length, before reading anything; streamed with no
    // length, from the pipeline once 5 MiB have been read (its limit in the answer).
    let mut big = png(10, 10);
    big.resize(6 << 20, 0);
    let (status, body) = put_avatar(app, token, "big.png", &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    big.truncate((5 << 20) + (512 << 10));
    let (status, body) = put_multipart(app, token, "avatar", "big.png", &big, true).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["limit"], 5 << 20, "{body}");
    // A picture under another field name: the `avatar` field is required.
    let (status, body) = put_multipart(app, token, "photo", "me.png", &png(8, 8), false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "#/avatar", "{body}");
    // A damaged picture (its pixel data cut short) passes the header check; its job fails
    // with the refusal, not a server error, and is not retried.
    let whole = png(64, 64);
    let (status, accepted) = put_avatar(app, token, "cut.png", &whole[..whole.len() / 2]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let failed = avatar_job(app, token, &accepted).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(
        failed["attempt"], 1,
        "a damaged picture is not retried: {failed}"
    );
    assert_eq!(failed["problem"]["status"], 422, "{failed}");
    assert_eq!(
        failed["problem"]["type"], "urn:mortar:problem:upload-refused",
        "{failed}"
    );
}

/// The avatar journey on local disk: upload, thumbnail, a signed link served by the app
/// (tampered or forged links refused), refusals leaving nothing behind, removal.
#[tokio::test]
async fn avatars_on_local_disk() {
    let db = mortar_testkit::sqlite();
    let config = test_config(db.url());
    let dir = std::path::PathBuf::from(&config.storage_dir);
    let outbox = std::sync::Arc::new(Outbox::default());
    let app = App::build_with_sender(config, outbox.clone())
        .await
        .unwrap();
    let (token, id) = signed_in(&app, &outbox, "ann@example.com").await;

    let (status, none) = json_call(&app, "GET", "/me/avatar", Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{none}");
    let (status, _) = put_avatar(&app, "not-a-token", "me.png", &png(600, 300)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let body = avatar_uploaded(&app, &token, "me.png", &png(600, 300)).await;
    assert_eq!(body["content_type"], "image/webp");
    assert_eq!(body["expires_in"], 300);
    let url = body["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("/files/avatars/{id}/avatar.webp?expires=")),
        "{url}"
    );

    // The link works without credentials, and serves the 256 × 128 WebP thumbnail.
    let res = app
        .router()
        .oneshot(request("GET", &url, None, None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/webp");
    let thumb = res.into_body().collect().await.unwrap().to_bytes();
    let decoded = image::load_from_memory(&thumb).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (256, 128));

    // A tampered signature, another user's file with this signature, no signature: 403.
    let sig = url.find("signature=").unwrap() + "signature=".len();
    let mut tampered = url.clone();
    let flipped = if &url[sig..=sig] == "0" { "1" } else { "0" };
    tampered.replace_range(sig..=sig, flipped);
    let other = url.replace(&id, "someone-else");
    let bare = url.split('?').next().unwrap().to_owned();
    for bad in [tampered, other, bare] {
        let res = app
            .router()
            .oneshot(request("GET", &bad, None, None))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{bad}");
    }

    // `GET /me/avatar` hands out a fresh link.
    let (status, shown) = json_call(&app, "GET", "/me/avatar", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert!(
        shown["url"]
            .as_str()
            .unwrap()
            .starts_with("/files/avatars/")
    );

    avatar_refusals(&app, &token).await;
    let mut kept = files_under(&dir.join("objects"));
    kept.sort();
    assert_eq!(
        kept,
        [
            format!("avatars/{id}/avatar.webp"),
            format!("avatars/{id}/original")
        ],
        "only the accepted avatar is kept: nothing in quarantine"
    );
    assert!(files_under(&dir.join("tmp")).is_empty());

    let (status, _) = json_call(&app, "DELETE", "/me/avatar", Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = json_call(&app, "GET", "/me/avatar", Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = app
        .router()
        .oneshot(request("GET", &url, None, None))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "the link outlives no file"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// With S3 configured, avatars go to the bucket and links are S3's presigned URLs, fetched
/// here with a plain HTTP client.
#[tokio::test]
async fn avatars_on_s3() {
    let Some(s3) = mortar_testkit::s3().await else {
        return;
    };
    let db = mortar_testkit::sqlite();
    let mut config = test_config(db.url());
    config.s3_endpoint = Some(s3.endpoint().to_owned());
    config.s3_bucket = Some(s3.bucket_name());
    config.s3_region = Some(s3.region().to_owned());
    config.s3_access_key = Some(s3.access_key().to_owned());
    config.s3_secret_key = Some(secrecy::SecretString::from(s3.secret_key().to_owned()));
    let outbox = std::sync::Arc::new(Outbox::default());
    let app = App::build_with_sender(config, outbox.clone())
        .await
        .unwrap();
    let (token, id) = signed_in(&app, &outbox, "sam@example.com").await;

    let body = avatar_uploaded(
        &app,
        &token,
        "me.jpg",
        &picture(400, 400, image::ImageFormat::Jpeg),
    )
    .await;
    let url = body["url"].as_str().unwrap();
    assert!(url.starts_with(s3.endpoint()), "{url}");
    assert!(
        url.contains(&format!("/avatars/{id}/avatar.webp?")),
        "{url}"
    );
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(!url.contains(s3.secret_key()));

    let http = reqwest::Client::new();
    let res = http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let thumb = res.bytes().await.unwrap();
    let decoded = image::load_from_memory(&thumb).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (256, 256));
    let tampered = url.replace("avatar.webp", "original");
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);

    avatar_refusals(&app, &token).await;
    let (listed, _) = s3
        .bucket()
        .list_page("quarantine/".into(), None, None, None, None)
        .await
        .unwrap();
    assert!(listed.contents.is_empty(), "nothing left in quarantine");
}

use mortar_testkit::base32_decode;

/// The code an authenticator app shows `offset` seconds from now.
fn app_code(secret: &[u8], offset: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    mortar::auth::mfa::totp_code(
        mortar::auth::mfa::TotpAlgorithm::Sha1,
        6,
        30,
        secret,
        now + offset,
    )
    .unwrap()
}

/// Second factors in the starter: enroll with the app's secret, confirm, and from then on the
/// password meets a challenge that a TOTP code or a recovery code completes.
#[tokio::test]
async fn second_factor_journey() {
    let db = mortar_testkit::sqlite();
    let config = test_config(db.url());
    let dir = std::path::PathBuf::from(&config.storage_dir);
    let outbox = std::sync::Arc::new(Outbox::default());
    let app = App::build_with_sender(config, outbox.clone())
        .await
        .unwrap();
    let (token, _) = signed_in(&app, &outbox, "tia@example.com").await;
    // The sealing key was made once, owner-only, under the storage directory.
    let key_file = dir.join("keys/totp.key");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let (status, enrolled) = json_call(&app, "POST", "/auth/2fa/totp", Some(&token), None).await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    let secret = base32_decode(enrolled["secret"].as_str().unwrap());
    assert_eq!(secret.len(), 20);
    let (status, confirmed) = json_call(
        &app,
        "POST",
        "/auth/2fa/totp/confirm",
        Some(&token),
        Some(serde_json::json!({"code": app_code(&secret, 0)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let recovery = confirmed["recovery_codes"][0].as_str().unwrap().to_owned();

    let creds =
        serde_json::json!({"email": "tia@example.com", "password": "correct horse battery staple"});
    let (status, challenged) =
        json_call(&app, "POST", "/auth/login", None, Some(creds.clone())).await;
    assert_eq!(status, StatusCode::OK, "{challenged}");
    assert_eq!(challenged["second_factor_required"], true, "{challenged}");
    assert!(challenged.get("access_token").is_none());
    // The next step's code (within the ±1 step window; the confirming one is spent).
    let (status, signed) = json_call(
        &app,
        "POST",
        "/auth/login/second-factor",
        None,
        Some(serde_json::json!({"challenge": challenged["challenge"], "code": app_code(&secret, 30)})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let access = signed["access_token"].as_str().unwrap();
    let (_, me) = json_call(&app, "GET", "/me", Some(access), None).await;
    assert_eq!(me["amr"], serde_json::json!(["pwd", "otp", "mfa"]), "{me}");

    let (_, challenged) = json_call(&app, "POST", "/auth/login", None, Some(creds)).await;
    let (status, signed) = json_call(
        &app,
        "POST",
        "/auth/login/second-factor",
        None,
        Some(serde_json::json!({"challenge": challenged["challenge"], "recovery_code": recovery})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let (_, state) = json_call(&app, "GET", "/auth/2fa", Some(&token), None).await;
    assert_eq!(
        state,
        serde_json::json!({"totp": true, "recovery_codes_left": 9})
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A GET with a cookie; answers status, headers and the JSON body (or null).
async fn get_with_cookie(
    app: &App,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut req = request("GET", uri, None, None);
    if let Some(cookie) = cookie {
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
    }
    let res = app.router().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The `name=value` of the flow cookie a response sets.
fn flow_cookie(headers: &http::HeaderMap) -> String {
    headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Passwordless links, sign-in with an OpenID Connect provider (started in-process) and an
/// organization's own SSO, against the starter.
#[allow(clippy::too_many_lines, reason = "one journey, step by step")]
async fn passwordless_and_federated_sign_in(database_url: &str) {
    use mortar_testkit::oidc::{TestIssuer, TestUser};
    use serde_json::json;

    const BASE: &str = "http://127.0.0.1:3000";
    let idp = TestIssuer::start().await;
    idp.register_client(
        "starter",
        "starter-secret",
        &format!("{BASE}/auth/oauth/oidc/callback"),
    );
    let mut config = test_config(database_url);
    config.oidc_issuer = Some(idp.issuer());
    config.oidc_client_id = Some("starter".into());
    config.oidc_client_secret = Some(secrecy::SecretString::from("starter-secret"));
    let outbox = std::sync::Arc::new(Outbox::default());
    let app = App::build_with_sender(config, outbox.clone())
        .await
        .unwrap();

    // A magic link.
    let (owner_token, _) = signed_in(&app, &outbox, "olga@example.com").await;
    let (status, _) = json_call(
        &app,
        "POST",
        "/auth/login/link",
        None,
        Some(json!({"email": "olga@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let link = outbox
        .take(
            "olga@example.com",
            mortar::auth::code::Purpose::Passwordless,
        )
        .await;
    let (status, tokens) = json_call(
        &app,
        "POST",
        "/auth/login/link/complete",
        None,
        Some(json!({"token": link})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // The configured OpenID Connect provider.
    let (status, providers) = json_call(&app, "GET", "/auth/oauth/providers", None, None).await;
    assert_eq!(
        (status, providers),
        (StatusCode::OK, json!({"providers": ["oidc"]}))
    );
    idp.sign_in_as(TestUser::new("ext-1", "nia@example.com"));
    let (status, headers, _) = get_with_cookie(&app, "/auth/oauth/oidc/start", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let flow = flow_cookie(&headers);
    let back = idp.approve(headers["location"].to_str().unwrap()).unwrap();
    let (status, _, tokens) =
        get_with_cookie(&app, back.strip_prefix(BASE).unwrap(), Some(&flow)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let nia = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, me) = json_call(&app, "GET", "/me", Some(&nia), None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (_, identities) = json_call(&app, "GET", "/auth/oauth/identities", Some(&nia), None).await;
    assert_eq!(identities["identities"][0]["provider"], "oidc");

    // An organization connects its own issuer; its people sign in with their work address.
    let (status, org) = json_call(
        &app,
        "POST",
        "/orgs",
        Some(&owner_token),
        Some(json!({"name": "Acme"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org_id = org["id"].as_str().unwrap().to_owned();
    let (status, refused) = json_call(
        &app,
        "PUT",
        &format!("/orgs/{org_id}/sso"),
        Some(&nia),
        Some(json!({"issuer": idp.issuer(), "client_id": "acme", "domains": ["acme.example"]})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, bad) = json_call(
        &app,
        "PUT",
        &format!("/orgs/{org_id}/sso"),
        Some(&owner_token),
        Some(json!({"issuer": "ftp://nope", "client_id": "acme", "domains": ["acme.example"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, connection) = json_call(
        &app,
        "PUT",
        &format!("/orgs/{org_id}/sso"),
        Some(&owner_token),
        Some(json!({
            "issuer": idp.issuer(), "client_id": "acme", "client_secret": "acme-secret",
            "domains": ["Acme.example"],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{connection}");
    assert_eq!(connection["domains"], json!(["acme.example"]));
    assert_eq!(connection["has_client_secret"], true);
    assert!(connection.get("client_secret").is_none());
    let callback = connection["callback"].as_str().unwrap().to_owned();
    assert_eq!(callback, format!("{BASE}/auth/oauth/sso-{org_id}/callback"));
    idp.register_client("acme", "acme-secret", &callback);

    idp.sign_in_as(TestUser::new("emp-1", "kim@acme.example"));
    let res = app
        .router()
        .oneshot(request(
            "POST",
            "/auth/oauth/sso",
            None,
            Some(json!({"email": "kim@acme.example"})),
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let flow = flow_cookie(res.headers());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let started: Value = serde_json::from_slice(&bytes).unwrap();
    let back = idp.approve(started["url"].as_str().unwrap()).unwrap();
    assert!(back.starts_with(&callback), "{back}");
    let (status, _, tokens) =
        get_with_cookie(&app, back.strip_prefix(BASE).unwrap(), Some(&flow)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let kim = tokens["access_token"].as_str().unwrap().to_owned();
    let (_, identities) = json_call(&app, "GET", "/auth/oauth/identities", Some(&kim), None).await;
    assert_eq!(
        identities["identities"][0]["provider"],
        format!("sso-{org_id}")
    );
    let (status, _) = json_call(
        &app,
        "POST",
        "/auth/oauth/sso",
        None,
        Some(json!({"email": "someone@elsewhere.example"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = json_call(
        &app,
        "DELETE",
        &format!("/orgs/{org_id}/sso"),
        Some(&owner_token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn passwordless_and_federated_sign_in_on_sqlite() {
    passwordless_and_federated_sign_in(mortar_testkit::sqlite().url()).await;
}

#[tokio::test]
async fn passwordless_and_federated_sign_in_on_postgres() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    passwordless_and_federated_sign_in(db.url()).await;
}

/// Passkeys against the starter with webauthn-authenticator-rs's software authenticator:
/// registration, passwordless login, and the passkey as second factor after the password.
#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one journey, step by step")]
async fn passkey_journey() {
    use serde_json::json;
    use webauthn_authenticator_rs::WebauthnAuthenticator as _;
    use webauthn_authenticator_rs::softpasskey::SoftPasskey;

    // Without MORTAR_PUBLIC_URL the relying party is localhost at the listening port.
    let origin = url::Url::parse("http://localhost:3000").unwrap();
    let outbox = std::sync::Arc::new(Outbox::default());
    let app = App::build_with_sender(test_config(mortar_testkit::sqlite().url()), outbox.clone())
        .await
        .unwrap();
    let (token, _) = signed_in(&app, &outbox, "kai@example.com").await;
    let mut authenticator = SoftPasskey::new(true);

    let (status, started) = json_call(&app, "POST", "/auth/passkeys", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["options"]["publicKey"]["rp"]["id"], "localhost");
    let response = authenticator
        .do_registration(
            origin.clone(),
            serde_json::from_value(started["options"].clone()).unwrap(),
        )
        .unwrap();
    let (status, registered) = json_call(
        &app,
        "POST",
        "/auth/passkeys/complete",
        Some(&token),
        Some(json!({
            "ceremony": started["ceremony"],
            "credential": serde_json::to_value(&response).unwrap(),
            "name": "Laptop",
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let (status, bad) = json_call(
        &app,
        "POST",
        "/auth/passkeys/complete",
        Some(&token),
        Some(json!({"ceremony": started["ceremony"], "credential": {"nope": 1}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");

    // Passwordless.
    let (status, started) = json_call(
        &app,
        "POST",
        "/auth/login/passkey",
        None,
        Some(json!({"email": "kai@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let assertion = authenticator
        .do_authentication(
            origin.clone(),
            serde_json::from_value(started["options"].clone()).unwrap(),
        )
        .unwrap();
    let (status, tokens) = json_call(
        &app,
        "POST",
        "/auth/login/passkey/complete",
        None,
        Some(json!({
            "ceremony": started["ceremony"],
            "credential": serde_json::to_value(&assertion).unwrap(),
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["access_token"].is_string());

    // After the password, the passkey is the second factor.
    let creds = json!({"email": "kai@example.com", "password": "correct horse battery staple"});
    let (status, challenged) = json_call(&app, "POST", "/auth/login", None, Some(creds)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(challenged["second_factor_required"], true, "{challenged}");
    let (status, started) = json_call(
        &app,
        "POST",
        "/auth/login/second-factor/passkey",
        None,
        Some(json!({"challenge": challenged["challenge"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let assertion = authenticator
        .do_authentication(
            origin,
            serde_json::from_value(started["options"].clone()).unwrap(),
        )
        .unwrap();
    let (status, tokens) = json_call(
        &app,
        "POST",
        "/auth/login/second-factor/passkey/complete",
        None,
        Some(json!({
            "challenge": challenged["challenge"],
            "ceremony": started["ceremony"],
            "credential": serde_json::to_value(&assertion).unwrap(),
        })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    let (status, list) = json_call(&app, "GET", "/auth/passkeys", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["passkeys"][0]["name"], "Laptop");
    let id = list["passkeys"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = json_call(
        &app,
        "DELETE",
        &format!("/auth/passkeys/{id}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// Enqueues `job` on the app and waits for it: discarded at its first attempt, its error
/// naming `why`.
async fn discarded<J: mortar::jobs::Job>(app: &App, job: &J, why: &str) {
    let id = app
        .state()
        .jobs()
        .enqueue(job, mortar::jobs::EnqueueOptions::new())
        .await
        .unwrap()
        .id;
    let record = finished_job(app, id).await;
    assert_eq!(record.state, mortar::jobs::JobState::Discarded);
    assert_eq!(record.attempt, 1, "not retried");
    assert!(record.errors[0].error.contains(why), "{:?}", record.errors);
}

/// Waits (up to 20 s) until the job `id` has finished; answers its record.
async fn finished_job(app: &App, id: mortar::jobs::JobId) -> mortar::jobs::JobRecord {
    use mortar::jobs::JobState;
    for _ in 0..2000 {
        let record = app.state().jobs().get(id).await.unwrap().unwrap();
        if !matches!(record.state, JobState::Pending | JobState::Running) {
            return record;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("job {id} did not finish within 20 s");
}

/// Messages and thumbnails go through jobs in the app's own database: the verification and
/// reset codes reach the mailer from a `SendCode` job whose payload holds the code sealed, never
/// in the clear; a sealed code moved onto another user's job, or one that expired before it
/// could be sent, is discarded unsent; a thumbnail job's status is its owner's only.
async fn starter_jobs(database_url: &str) {
    let outbox = std::sync::Arc::new(Outbox::default());
    let config = test_config(database_url);
    let dir = std::path::PathBuf::from(&config.storage_dir);
    let app = App::build_with_sender(config, outbox.clone())
        .await
        .unwrap();
    let (_, joe) = signed_in(&app, &outbox, "joe@example.com").await;
    let (other_token, ivy) = signed_in(&app, &outbox, "ivy@example.com").await;
    let token = code_jobs(&app, &outbox, &joe, &ivy).await;
    thumbnail_jobs(&app, &dir, &token, &other_token, &joe).await;
    app.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Joe's password reset through a `SendCode` job, then the sealing checks; answers Joe's new
/// access token (the reset signed him out).
async fn code_jobs(app: &App, outbox: &Outbox, joe: &str, ivy: &str) -> String {
    use example_saas_axum::jobs::SendCode;
    use mortar::auth::code::Purpose;
    use mortar::jobs::{Job as _, JobFilter, JobState};

    let jobs = app.state().jobs();
    // A password reset: answered at once, the code sent by the job, and it works.
    let (status, _) = json_call(
        app,
        "POST",
        "/auth/password/forgot",
        None,
        Some(serde_json::json!({"email": "joe@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let code = outbox.take("joe@example.com", Purpose::ResetPassword).await;
    let (status, body) = json_call(
        app,
        "POST",
        "/auth/password/reset",
        None,
        Some(serde_json::json!({"token": code, "password": "a brand new passphrase here"})),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    // The reset signed Joe out everywhere: in again, with the new password.
    let (status, tokens) = json_call(
        app,
        "POST",
        "/auth/login",
        None,
        Some(serde_json::json!({"email": "joe@example.com", "password": "a brand new passphrase here"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let token = tokens["access_token"].as_str().unwrap().to_owned();

    // Every message went through a completed SendCode job; no payload holds its code.
    let sent = jobs
        .list(&JobFilter::new().name(SendCode::NAME))
        .await
        .unwrap();
    assert_eq!(sent.len(), 3, "two verifications and a reset");
    for record in &sent {
        // The message is out; the outcome is stored by the worker's next batch.
        let record = finished_job(app, record.id).await;
        assert_eq!(record.state, JobState::Completed);
        assert_eq!(record.queue, "mail");
        let text = record.payload.to_string();
        assert!(!text.contains(&code), "the reset code is sealed: {text}");
        assert!(!text.contains("@example.com"), "no address in the payload");
    }
    let reset = sent
        .iter()
        .find(|r| r.payload["purpose"] == "reset_password")
        .unwrap();
    assert_eq!(reset.payload["user"], joe);

    // The sealed code moved onto another user's job does not open: discarded, nothing sent.
    let mut moved: SendCode = serde_json::from_value(reset.payload.clone()).unwrap();
    moved.user = ivy.to_owned();
    discarded(app, &moved, "does not open").await;
    // A code that expired while waiting is not sent either.
    let mut expired: SendCode = serde_json::from_value(reset.payload.clone()).unwrap();
    expired.expires_at_ms = 1;
    discarded(app, &expired, "expired").await;
    assert!(outbox.pending().is_empty(), "{:?}", outbox.pending());

    token
}

/// A thumbnail through a `MakeThumbnail` job: 202, the status its uploader's alone, the files
/// kept, the quarantine empty, the change audited.
async fn thumbnail_jobs(
    app: &App,
    dir: &std::path::Path,
    token: &str,
    other_token: &str,
    joe: &str,
) {
    use example_saas_axum::avatars::MakeThumbnail;
    use example_saas_axum::jobs::SendCode;
    use mortar::audit::AuditStore as _;
    use mortar::jobs::{EnqueueOptions, Job as _, JobFilter, JobState};

    let jobs = app.state().jobs();
    let sent = jobs
        .list(&JobFilter::new().name(SendCode::NAME))
        .await
        .unwrap();
    // A thumbnail: 202, then its job makes it; its status is the uploader's alone.
    let (status, accepted) = put_avatar(app, token, "me.png", &png(300, 600)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let location = accepted["status"].as_str().unwrap().to_owned();
    let done = avatar_job(app, token, &accepted).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert!(
        done["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("/files/avatars/{joe}/avatar.webp?")),
        "{done}"
    );
    let (status, _) = json_call(app, "GET", &location, Some(other_token), None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another user's job is hidden"
    );
    let (status, _) = json_call(app, "GET", &location, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for bad in [
        "/me/avatar/jobs/not-a-job",
        &format!("/me/avatar/jobs/{}", sent[0].id),
    ] {
        let (status, body) = json_call(app, "GET", bad, Some(token), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{bad}: {body}");
        assert_eq!(body["status"], 404);
    }
    let thumbs = jobs
        .list(&JobFilter::new().queue("media").state(JobState::Completed))
        .await
        .unwrap();
    assert_eq!(thumbs.len(), 1);
    assert_eq!(thumbs[0].payload["user"], joe);

    // The same job run again (at-least-once: its outcome lost) finds its work done.
    let again: MakeThumbnail = serde_json::from_value(thumbs[0].payload.clone()).unwrap();
    let id = jobs
        .enqueue(&again, EnqueueOptions::new())
        .await
        .unwrap()
        .id;
    assert_eq!(finished_job(app, id).await.state, JobState::Completed);
    // An older upload's job, late, does not replace the newer avatar: discarded with a 409.
    let mut older = again.clone();
    older.upload = "quarantine/00000000-0000-7000-8000-000000000000".into();
    discarded(app, &older, "409").await;
    let mut kept = files_under(&dir.join("objects"));
    kept.sort();
    assert_eq!(
        kept,
        [
            format!("avatars/{joe}/avatar.webp"),
            format!("avatars/{joe}/original")
        ],
        "the quarantine is empty"
    );

    // The thumbnail job recorded the avatar change in the audit trail.
    app.state().audit().flush().await;
    let events = app
        .state()
        .audit()
        .store
        .query(&mortar::audit::AuditQuery::new().action("user.avatar.updated"))
        .await
        .unwrap();
    assert_eq!(events.records.len(), 1, "the rerun recorded nothing more");
    assert_eq!(events.records[0].event.actor.as_ref().unwrap().subject, joe);

    removal_beats_late_jobs(app, token, &location, &again).await;
}

/// `DELETE /me/avatar` after a thumbnail job completed: the job's status no longer links to it,
/// and the job run again (late) does not bring it back.
async fn removal_beats_late_jobs(
    app: &App,
    token: &str,
    location: &str,
    again: &example_saas_axum::avatars::MakeThumbnail,
) {
    use mortar::jobs::{EnqueueOptions, JobState};
    let jobs = app.state().jobs();
    let (status, _) = json_call(app, "DELETE", "/me/avatar", Some(token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, shown) = json_call(app, "GET", location, Some(token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["state"], "completed", "{shown}");
    assert_eq!(shown["current"], false, "{shown}");
    assert!(shown.get("url").is_none(), "{shown}");
    let id = jobs.enqueue(again, EnqueueOptions::new()).await.unwrap().id;
    assert_eq!(finished_job(app, id).await.state, JobState::Discarded);
    let (status, _) = json_call(app, "GET", "/me/avatar", Some(token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the avatar stays removed");
}

#[tokio::test]
async fn starter_jobs_on_sqlite() {
    starter_jobs(mortar_testkit::sqlite().url()).await;
}

#[tokio::test]
async fn starter_jobs_on_postgres() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    starter_jobs(db.url()).await;
}

#[tokio::test]
async fn starter_jobs_on_mariadb() {
    let Some(db) = mortar_testkit::mysql().await else {
        return;
    };
    starter_jobs(db.url()).await;
}

/// A mailer that takes its time, saying when it starts.
#[derive(Debug, Default)]
struct SlowMailer {
    started: tokio::sync::Notify,
    sent: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl mortar::auth::code::CodeSender for SlowMailer {
    async fn send(&self, _: mortar::auth::code::CodeMessage) -> Result<(), mortar::auth::Error> {
        self.started.notify_one();
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        self.sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// A graceful shutdown (SIGTERM) stops the server, then waits for the message being sent: serve
/// returns only once the job has finished and is marked done.
#[tokio::test]
async fn shutdown_waits_for_running_jobs() {
    use mortar::jobs::{JobFilter, JobState};
    let db = mortar_testkit::sqlite();
    let mailer = std::sync::Arc::new(SlowMailer::default());
    let app = App::build_with_sender(test_config(db.url()), mailer.clone())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));

    let res = reqwest::Client::new()
        .post(format!("http://{addr}/auth/register"))
        .header("content-type", "application/json")
        .body(r#"{"email":"max@example.com","password":"correct horse battery staple"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        mailer.started.notified(),
    )
    .await
    .expect("the worker started sending");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert_eq!(
        mailer.sent.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the running job finished before serve returned"
    );
    // The pool is closed by then: read the outcome through a fresh connection.
    let db = sea_orm::Database::connect(db.url()).await.unwrap();
    let fresh = mortar::jobs::Jobs::new(mortar::jobs::sql::SqlBackend::new(db));
    let sent = fresh
        .list(&JobFilter::new().name("starter.send_code"))
        .await
        .unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].state, JobState::Completed);
}

/// Invitations: only admins and owners invite (owners only owners), the invitee claims with a
/// verified address, expiry, withdrawal, declining, re-inviting, and the notice by mail.
#[allow(clippy::too_many_lines, reason = "one journey, step by step")]
async fn invitations(database_url: &str) {
    use example_saas_axum::mail::MemoryMailer;
    use serde_json::json;
    let outbox = std::sync::Arc::new(Outbox::default());
    let mailer = MemoryMailer::new();
    let app = App::build_with(
        test_config(database_url),
        outbox.clone(),
        std::sync::Arc::new(mailer.clone()),
    )
    .await
    .unwrap();
    let (owner, _) = signed_in(&app, &outbox, "owner@example.com").await;
    let (member, _) = signed_in(&app, &outbox, "member@example.com").await;
    let (_, org) = json_call(
        &app,
        "POST",
        "/orgs",
        Some(&owner),
        Some(json!({"name": "Acme"})),
    )
    .await;
    let org = org["id"].as_str().unwrap().to_owned();
    let path = format!("/orgs/{org}/invitations");
    let invite = |token: &str, email: &str, role: &str| {
        let (token, body) = (token.to_owned(), json!({"email": email, "role": role}));
        let (app, path) = (&app, &path);
        async move { json_call(app, "POST", path, Some(&token), Some(body)).await }
    };

    // Validation, and a member's address is refused (change their role instead).
    let (status, body) = invite(&owner, "not an address", "member").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["pointer"], "#/email", "{body}");
    let (status, body) = invite(&owner, "x@example.com", "emperor").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, invited) = invite(&owner, "Member@Example.com", "member").await;
    assert_eq!(status, StatusCode::CREATED, "{invited}");
    let id = invited["id"].as_str().unwrap().to_owned();
    // The notice is mailed by a job, which reads the invitation when it runs (an invitation
    // answered before is not announced): wait for it.
    let mut mails = mailer.sent();
    for _ in 0..200 {
        if !mails.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        mails = mailer.sent();
    }
    let (status, mine) = json_call(&app, "GET", "/me/invitations", Some(&member), None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let (status, body) = json_call(
        &app,
        "POST",
        &format!("/me/invitations/{id}/accept"),
        Some(&member),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["role"]),
        (StatusCode::OK, &json!("member")),
        "{body}"
    );
    let (status, body) = invite(&owner, "member@example.com", "admin").await;
    assert_eq!(status, StatusCode::CONFLICT, "a member already: {body}");
    // A member may not invite; the notice went out by mail, once.
    let (status, _) = invite(&member, "new@example.com", "member").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, "member@example.com");
    assert!(mails[0].subject.contains("Acme"), "{mails:?}");
    assert!(
        mails[0]
            .text
            .contains(&format!("/me/invitations/{id}/accept"))
    );

    // Only accounts become members: an unknown or malformed user id is not found.
    for who in [
        "01a24d51-0000-7000-8000-000000000000",
        "%C3%B0%7F",
        "not-a-user",
    ] {
        let (status, body) = json_call(
            &app,
            "PUT",
            &format!("/orgs/{org}/members/{who}"),
            Some(&owner),
            Some(json!({"role": "owner"})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who}: {body}");
    }

    // An admin invites an admin, but not an owner.
    let (admin, _) = signed_in(&app, &outbox, "admin@example.com").await;
    let (_, inv) = invite(&owner, "admin@example.com", "admin").await;
    let (status, _) = json_call(
        &app,
        "POST",
        &format!("/me/invitations/{}/accept", inv["id"].as_str().unwrap()),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = invite(&admin, "boss@example.com", "owner").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "owners invite owners: {body}"
    );
    let (status, _) = invite(&admin, "carol@example.com", "member").await;
    assert_eq!(status, StatusCode::CREATED);

    // Carol registers but has not verified her address: she cannot see or claim it.
    let creds = json!({"email": "carol@example.com", "password": "correct horse battery staple"});
    json_call(&app, "POST", "/auth/register", None, Some(creds.clone())).await;
    let (status, tokens) = json_call(&app, "POST", "/auth/login", None, Some(creds)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let carol = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, lang, body) =
        call_in(&app, "de", "GET", "/me/invitations", Some(&carol), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["type"], "urn:saas:problem:email-unverified");
    assert_eq!(
        (lang.as_str(), &body["title"]),
        ("de", &json!("Bestätigen Sie zuerst Ihre E-Mail-Adresse."))
    );

    // Someone else's invitation is not found; re-inviting replaces; the list shows one.
    let (_, listed) = json_call(
        &app,
        "GET",
        &format!("/orgs/{org}/invitations"),
        Some(&owner),
        None,
    )
    .await;
    let carols = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "carol@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = json_call(
        &app,
        "POST",
        &format!("/me/invitations/{carols}/accept"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not addressed to the admin");
    let (_, again) = invite(&owner, "carol@example.com", "admin").await;
    let (_, listed) = json_call(
        &app,
        "GET",
        &format!("/orgs/{org}/invitations"),
        Some(&owner),
        None,
    )
    .await;
    let to_carol: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["email"] == "carol@example.com")
        .collect();
    assert_eq!(to_carol.len(), 1, "{listed}");
    assert_eq!(to_carol[0]["role"], "admin");
    assert_ne!(to_carol[0]["id"], carols.as_str());

    // Withdrawn: gone for the invitee too. Declined: gone, nothing granted.
    let again = again["id"].as_str().unwrap().to_owned();
    let (status, _) = json_call(
        &app,
        "DELETE",
        &format!("/orgs/{org}/invitations/{again}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = json_call(
        &app,
        "DELETE",
        &format!("/orgs/{org}/invitations/{again}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (dora, _) = signed_in(&app, &outbox, "dora@example.com").await;
    let (_, inv) = invite(&owner, "dora@example.com", "member").await;
    let dora_inv = inv["id"].as_str().unwrap().to_owned();
    let (status, _) = json_call(
        &app,
        "POST",
        &format!("/me/invitations/{dora_inv}/decline"),
        Some(&dora),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, mine) = json_call(&app, "GET", "/me/invitations", Some(&dora), None).await;
    assert_eq!(mine, json!([]));
    let (status, _) = json_call(&app, "GET", &format!("/orgs/{org}"), Some(&dora), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Expired: 410 in the caller's language, nothing granted.
    let (_, inv) = invite(&owner, "dora@example.com", "member").await;
    let late = inv["id"].as_str().unwrap().to_owned();
    {
        use sea_orm::{ConnectionTrait as _, Statement};
        let db = app.state().db();
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            format!("UPDATE invitations SET expires_at = 1 WHERE id = '{late}'"),
        ))
        .await
        .unwrap();
    }
    let (status, lang, body) = call_in(
        &app,
        "ar",
        "POST",
        &format!("/me/invitations/{late}/accept"),
        Some(&dora),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["type"], "urn:saas:problem:invitation-expired");
    assert_eq!(
        (lang.as_str(), &body["title"]),
        ("ar", &json!("انتهت صلاحية هذه الدعوة."))
    );
    let (status, _) = json_call(&app, "GET", &format!("/orgs/{org}"), Some(&dora), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The invitations are on the organization's audit trail (written in batches: wait).
    let mut actions = Vec::new();
    for _ in 0..100 {
        let (_, log) = json_call(
            &app,
            "GET",
            &format!("/orgs/{org}/audit-log?action=org.invitation.*"),
            Some(&owner),
            None,
        )
        .await;
        actions = log["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"]["action"].as_str().unwrap().to_owned())
            .collect();
        if actions.iter().any(|a| a == "org.invitation.declined") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        actions.iter().any(|a| a == "org.invitation.accepted")
            && actions.iter().any(|a| a == "org.invitation.declined"),
        "{actions:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn invitations_on_sqlite() {
    invitations(mortar_testkit::sqlite().url()).await;
}

#[tokio::test]
async fn invitations_on_postgres() {
    let Some(db) = mortar_testkit::postgres().await else {
        return;
    };
    invitations(db.url()).await;
}

/// The admin CLI's tasks, called as functions: a user and a bulk import (passwords hashed and
/// hashes from another system kept, bad lines reported), roles, demo data, flags, jobs, the
/// audit chain verified and purged, sessions revoked.
#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one journey, step by step")]
async fn admin_tasks() {
    use example_saas_axum::admin::Admin;
    use secrecy::SecretString;
    let outbox = std::sync::Arc::new(Outbox::default());
    let mut config = test_config(mortar_testkit::sqlite().url());
    config.jobs_concurrency = 0;
    let app = App::build_with_sender(config, outbox.clone())
        .await
        .unwrap();
    let admin = Admin::new(&app);

    let weak = admin
        .create_user("ops@example.com", &SecretString::from("password"), true)
        .await
        .unwrap_err();
    assert!(weak.to_string().contains("weak password"), "{weak}");
    let ops = admin
        .create_user(
            "ops@example.com",
            &SecretString::from("correct horse battery staple"),
            true,
        )
        .await
        .unwrap();
    assert!(ops.email_verified_at.is_some());
    assert!(
        admin
            .create_user(
                "ops@example.com",
                &SecretString::from("another fine passphrase"),
                true
            )
            .await
            .is_err()
    );

    // bcrypt of "correct horse battery staple" made elsewhere, then kept and upgraded at login.
    let bcrypt = mortar::auth::password::Passwords::new();
    let legacy = bcrypt_hash("correct horse battery staple");
    assert!(bcrypt.recognizes(&legacy));
    let file = format!(
        "{}\n{}\n\n{}\n{}\n{}\n",
        serde_json::json!({"email": "a@example.com", "password": "a long enough passphrase", "verified": true}),
        serde_json::json!({"email": "b@example.com", "password_hash": legacy, "verified": true}),
        serde_json::json!({"email": "ops@example.com", "password": "another fine passphrase"}),
        "{not json",
        serde_json::json!({"email": "c@example.com", "password_hash": "5f4dcc3b5aa765d61d8327deb882cf99"}),
    );
    let mut seen = Vec::new();
    let report = admin
        .import_users(file.as_bytes(), 2, |n| seen.push(n))
        .await
        .unwrap();
    assert_eq!((report.created, report.existing), (2, 1), "{report:?}");
    assert_eq!(
        report
            .failed
            .iter()
            .map(|(line, _)| *line)
            .collect::<Vec<_>>(),
        [5, 6],
        "{report:?}"
    );
    assert!(!report.failed[0].1.contains("{not json"), "no input echoed");
    assert_eq!(seen.last(), Some(&5), "progress for each non-empty line");
    let (status, tokens) = json_call(
        &app,
        "POST",
        "/auth/login",
        None,
        Some(serde_json::json!({"email": "b@example.com", "password": "correct horse battery staple"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the imported bcrypt hash logs in: {tokens}"
    );

    // Demo data, roles in an organization by its name, flags.
    let seeded = admin.seed().await.unwrap();
    assert_eq!(seeded.users.len(), 3);
    assert!(admin.seed().await.is_err(), "seeded once");
    assert!(
        admin
            .grant_role("ops@example.com", "admin", Some("Acme"))
            .await
            .unwrap()
    );
    assert!(
        !admin
            .grant_role("ops@example.com", "admin", Some("Acme"))
            .await
            .unwrap()
    );
    assert!(
        admin
            .grant_role("ops@example.com", "emperor", Some("Acme"))
            .await
            .is_err()
    );
    assert!(
        admin
            .grant_role("nobody@example.com", "admin", Some("Acme"))
            .await
            .is_err()
    );
    assert!(
        admin
            .revoke_role("ops@example.com", "admin", Some(&seeded.org))
            .await
            .unwrap()
    );
    let flags = admin.flags().await.unwrap();
    let beta = flags.iter().find(|f| f.key == "beta-reports").unwrap();
    assert_eq!(beta.source, "database", "the seed stored it");
    assert!(
        admin
            .set_flag("beta-reports", Some("nope"), None)
            .await
            .is_err()
    );
    assert!(
        admin
            .set_flag("no-such-flag", Some("on"), None)
            .await
            .is_err()
    );
    let set = admin
        .set_flag("beta-reports", Some("on"), None)
        .await
        .unwrap();
    assert_eq!(set.default_variant.as_deref(), Some("on"));

    // Jobs: a verification code waits (no worker here); a pending job cannot be retried.
    let (status, _) = json_call(
        &app,
        "POST",
        "/auth/register",
        None,
        Some(serde_json::json!({"email": "new@example.com", "password": "correct horse battery staple"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let pending = admin
        .jobs(&mortar::jobs::JobFilter::new().state(mortar::jobs::JobState::Pending))
        .await
        .unwrap();
    assert!(!pending.is_empty());
    assert!(!admin.retry_job(&pending[0].id.to_string()).await.unwrap());
    assert!(admin.retry_job("not-a-job").await.is_err());
    assert!(
        admin
            .job_stats()
            .await
            .unwrap()
            .iter()
            .any(|q| q.queue == "mail")
    );

    // Sessions end; the audit chain verifies, then a purge keeps it verifiable.
    let (status, tokens) = json_call(
        &app,
        "POST",
        "/auth/login",
        None,
        Some(serde_json::json!({"email": "ops@example.com", "password": "correct horse battery staple"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(admin.revoke_sessions("ops@example.com").await.unwrap(), 1);
    let (status, _) = json_call(
        &app,
        "POST",
        "/auth/refresh",
        None,
        Some(serde_json::json!({"refresh_token": tokens["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The recorder writes in batches: wait until the count settles.
    let mut total = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = admin.audit_size().await.unwrap();
        if now == total && now > 0 {
            break;
        }
        total = now;
    }
    assert!(total > 5, "{total}");
    let mut read = Vec::new();
    let reports = admin.verify_audit(|n| read.push(n)).await.unwrap();
    assert!(reports.iter().all(|r| r.tamper.is_none()), "{reports:?}");
    assert_eq!(read.last(), Some(&total));
    let streams = admin.audit_streams().await.unwrap();
    let future = std::time::SystemTime::now() + std::time::Duration::from_mins(1);
    let mut removed = 0;
    for stream in &streams {
        removed += admin
            .purge_audit_stream(stream, future)
            .await
            .unwrap()
            .map_or(0, |p| p.removed);
    }
    assert!(removed > 0 && removed <= total, "{removed} of {total}");
    let reports = admin.verify_audit(|_| {}).await.unwrap();
    assert!(reports.iter().all(|r| r.tamper.is_none()), "{reports:?}");
    app.shutdown().await;
}

/// A bcrypt hash made by another system (the `bcrypt` crate, cost 4 to keep the test quick).
fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// `/metrics`: loopback peers (or the token's bearers) only; the request metrics by route.
#[tokio::test]
async fn metrics_for_loopback_or_the_token() {
    use axum::extract::ConnectInfo;
    let app = sqlite_app().await;
    let from = |ip: [u8; 4], bearer: Option<&'static str>| {
        let mut req = request("GET", "/metrics", bearer, None);
        req.extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from((ip, 4000))));
        req
    };
    call(&app, "GET", "/health").await;
    let res = app
        .router()
        .oneshot(from([127, 0, 0, 1], None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(
        text.contains("http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}"),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
    let res = app
        .router()
        .oneshot(from([10, 0, 0, 7], None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "not from elsewhere");

    let mut config = test_config(mortar_testkit::sqlite().url());
    config.metrics_token = Some(secrecy::SecretString::from("scrape-me-0123456789"));
    let app = App::build(config).await.unwrap();
    let res = app
        .router()
        .oneshot(from([10, 0, 0, 7], Some("scrape-me-0123456789")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .router()
        .oneshot(from([127, 0, 0, 1], Some("wrong")))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "with a token set, loopback needs it too"
    );
}

/// axum's own rejections (a query string that does not parse) answer problem documents too.
#[tokio::test]
async fn extractor_rejections_are_problems() {
    let (app, [(token, _)]) =
        app_with_users(mortar_testkit::sqlite().url(), ["q@example.com"]).await;
    let (_, org) = json_call(
        &app,
        "POST",
        "/orgs",
        Some(&token),
        Some(serde_json::json!({"name": "Q"})),
    )
    .await;
    let org = org["id"].as_str().unwrap();
    let res = app
        .router()
        .oneshot(request(
            "GET",
            &format!("/orgs/{org}/audit-log?limit=lots"),
            Some(&token),
            None,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["status"], 400);
    assert!(body["detail"].as_str().unwrap().contains("limit"), "{body}");
    // An encoded NUL: no such path; a query string refused.
    let (status, body) = json_call(&app, "GET", "/orgs/%00", Some(&token), None).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::NOT_FOUND, &serde_json::json!(404))
    );
    let (status, body) = json_call(
        &app,
        "GET",
        &format!("/orgs/{org}/audit-log?actor=a%00b"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::BAD_REQUEST, &serde_json::json!(400))
    );
    // A malformed JSON body on the starter's own routes: problem, not text.
    let mut req = request("POST", "/orgs", Some(&token), None);
    req.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    *req.body_mut() = Body::from("{\"name\":");
    let res = app.router().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}

/// The OpenAPI document: 3.1, every `$ref` resolves, and every documented operation is a route
/// of the router with that method (the router's matched path equals the documented one).
#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let doc: Value = serde_json::from_str(&example_saas_axum::openapi::json()).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for r in &refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
    // Files are served only on local disk: this app has them.
    let app = sqlite_app().await;
    let router = app.router().layer(axum::middleware::from_fn(
        |req: axum::extract::Request, next: axum::middleware::Next| async move {
            let matched = req
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map(|m| m.as_str().to_owned());
            let mut answer = next.run(req).await;
            if let Some(m) = matched {
                answer.headers_mut().insert("x-matched", m.parse().unwrap());
            }
            answer
        },
    ));
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            // Path parameters filled with a placeholder.
            let concrete: String = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .body(Body::empty())
                .unwrap();
            let answer = router.clone().oneshot(req).await.unwrap();
            let matched = answer
                .headers()
                .get("x-matched")
                .map(|v| v.to_str().unwrap().to_owned());
            let pattern = path.replace("{key}", "{*key}");
            assert_eq!(
                matched.as_deref(),
                Some(pattern.as_str()),
                "{} {path}: no such route ({})",
                method.to_uppercase(),
                answer.status()
            );
            assert_ne!(
                answer.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
        }
    }
    assert!(operations > 60, "{operations} operations documented");
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
