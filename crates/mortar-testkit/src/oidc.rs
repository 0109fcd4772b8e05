//! An OpenID Connect provider the tests start in-process on 127.0.0.1: discovery, JWKS, an
//! authorization endpoint that signs in a chosen user at once, a token endpoint that checks the
//! client, the redirect URI and PKCE (S256 only), RS256-signed ID tokens, and GitHub's user API
//! (`/user`, `/user/emails`) for OAuth 2 clients that ask without `openid`.
//!
//! [`Faults`] make the next ID tokens wrong in one way each (audience, issuer, nonce, expiry,
//! signature, key id), so tests can show a relying party refuses them.
//!
//! ```no_run
//! # async fn run() {
//! use mortar_testkit::oidc::{TestIssuer, TestUser};
//!
//! let idp = TestIssuer::start().await;
//! idp.register_client("app", "app-secret", "http://127.0.0.1:3000/callback");
//! idp.sign_in_as(TestUser::new("user-1", "ada@example.com"));
//! // Send the relying party's authorization URL through `approve`, then give the callback
//! // URL's `code` and `state` back to the relying party.
//! let callback = idp.approve("…the authorization URL…").unwrap();
//! # let _ = callback; }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// The user the provider signs in at its authorization endpoint.
#[derive(Clone, Debug)]
pub struct TestUser {
    /// The `sub` claim (and, when numeric, GitHub's user id).
    pub sub: String,
    /// The `email` claim.
    pub email: Option<String>,
    /// The `email_verified` claim.
    pub email_verified: bool,
    /// The `name` claim.
    pub name: Option<String>,
}

impl TestUser {
    /// A user with a verified address.
    pub fn new(sub: impl Into<String>, email: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            email: Some(email.into()),
            email_verified: true,
            name: Some("Test User".into()),
        }
    }

    /// The address is not verified.
    #[must_use]
    pub fn unverified(mut self) -> Self {
        self.email_verified = false;
        self
    }
}

/// Ways the next ID tokens are wrong. All off by default.
#[derive(Clone, Copy, Debug, Default)]
#[allow(clippy::struct_excessive_bools, reason = "independent switches")]
pub struct Faults {
    /// `aud` names another client.
    pub wrong_audience: bool,
    /// `iss` names another issuer.
    pub wrong_issuer: bool,
    /// `nonce` is not the one the client sent.
    pub wrong_nonce: bool,
    /// `exp` lies an hour in the past.
    pub expired: bool,
    /// The signature is made by a key the JWKS does not list under that `kid`.
    pub bad_signature: bool,
    /// The token answer has no ID token.
    pub no_id_token: bool,
}

#[derive(Debug)]
struct Client {
    secret: String,
    redirect_uri: String,
}

#[derive(Debug)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    challenge: String,
    scope: String,
    user: TestUser,
    issued: SystemTime,
}

struct Key {
    kid: String,
    pair: KeyPair,
}

impl Key {
    fn generate(kid: String) -> Self {
        Self {
            kid,
            pair: KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"),
        }
    }

    fn jwk(&self) -> Value {
        let components: PublicKeyComponents<Vec<u8>> = self.pair.public_key().into();
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&components.n), "e": URL_SAFE_NO_PAD.encode(&components.e),
        })
    }

    fn sign(&self, kid: &str, claims: &Value) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
        let mut jwt = URL_SAFE_NO_PAD.encode(header.to_string());
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                jwt.as_bytes(),
                &mut signature,
            )
            .expect("RS256 signing");
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
        jwt
    }
}

struct Inner {
    issuer: String,
    clients: HashMap<String, Client>,
    user: Option<TestUser>,
    grants: HashMap<String, Grant>,
    access_tokens: HashMap<String, TestUser>,
    faults: Faults,
    key: Key,
    /// Signs [`Faults::bad_signature`] tokens under the published key's id.
    rogue: Key,
    key_serial: u32,
    token_requests: usize,
    issued: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// The provider; stops when dropped.
pub struct TestIssuer {
    addr: SocketAddr,
    inner: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn random(bytes: usize) -> String {
    let mut buf = vec![0; bytes];
    SystemRandom::new().fill(&mut buf).expect("random bytes");
    URL_SAFE_NO_PAD.encode(buf)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl TestIssuer {
    /// Binds 127.0.0.1 on a free port and serves until dropped.
    ///
    /// # Panics
    ///
    /// If the port cannot be bound.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let inner = Arc::new(Mutex::new(Inner {
            issuer: format!("http://{addr}"),
            clients: HashMap::new(),
            user: None,
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            faults: Faults::default(),
            key: Key::generate("key-1".into()),
            rogue: Key::generate("rogue".into()),
            key_serial: 1,
            token_requests: 0,
            issued: Vec::new(),
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/user", get(github_user))
            .route("/user/emails", get(github_emails))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, task }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The issuer URL (`http://127.0.0.1:{port}`), also the base of every endpoint.
    pub fn issuer(&self) -> String {
        self.lock().issuer.clone()
    }

    /// The authorization endpoint.
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.issuer())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer())
    }

    /// Registers a client with its secret and its one redirect URI.
    pub fn register_client(&self, id: &str, secret: &str, redirect_uri: &str) {
        self.lock().clients.insert(
            id.to_owned(),
            Client {
                secret: secret.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
            },
        );
    }

    /// The user the next authorizations sign in.
    pub fn sign_in_as(&self, user: TestUser) {
        self.lock().user = Some(user);
    }

    /// Makes the next ID tokens wrong (or right again with `Faults::default()`).
    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// Replaces the signing key by a new one with a new `kid`; the JWKS lists only the new one.
    pub fn rotate_key(&self) {
        let mut inner = self.lock();
        inner.key_serial += 1;
        let kid = format!("key-{}", inner.key_serial);
        inner.key = Key::generate(kid);
    }

    /// How many token requests were answered (with success or an error).
    pub fn token_requests(&self) -> usize {
        self.lock().token_requests
    }

    /// Every access token and ID token issued so far (to check they never reach a log).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    /// What a browser at the authorization URL ends with: the redirect to the client's
    /// callback (with `code` and `state`, or an `error`), as the full URL.
    ///
    /// # Errors
    ///
    /// A description when the request is refused without a redirect (unknown client, a
    /// redirect URI not registered), as a provider shows an error page.
    pub fn approve(&self, authorization_url: &str) -> Result<String, String> {
        let query = authorization_url
            .split_once('?')
            .map_or("", |(_, q)| q)
            .to_owned();
        let params = parse_form(&query);
        approve(&self.inner, &params)
    }
}

/// Form-decodes a query string.
fn parse_form(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn approve(inner: &Shared, params: &HashMap<String, String>) -> Result<String, String> {
    let mut inner = inner.lock().unwrap_or_else(PoisonError::into_inner);
    let param = |name: &str| params.get(name).cloned();
    let client_id = param("client_id").ok_or("no client_id")?;
    let client = inner.clients.get(&client_id).ok_or("unknown client")?;
    let redirect_uri = param("redirect_uri").ok_or("no redirect_uri")?;
    if redirect_uri != client.redirect_uri {
        return Err(format!("redirect_uri {redirect_uri} is not registered"));
    }
    let state = param("state")
        .map(|s| format!("&state={}", encode(&s)))
        .unwrap_or_default();
    let refuse = |error: &str| Ok(format!("{redirect_uri}?error={error}{state}"));
    if param("response_type").as_deref() != Some("code") {
        return refuse("unsupported_response_type");
    }
    let (Some(challenge), Some("S256")) = (
        param("code_challenge"),
        param("code_challenge_method").as_deref(),
    ) else {
        return refuse("invalid_request");
    };
    let Some(user) = inner.user.clone() else {
        return refuse("access_denied");
    };
    let code = random(24);
    inner.grants.insert(
        code.clone(),
        Grant {
            client_id,
            redirect_uri: redirect_uri.clone(),
            nonce: param("nonce"),
            challenge,
            scope: param("scope").unwrap_or_default(),
            user,
            issued: SystemTime::now(),
        },
    );
    Ok(format!("{redirect_uri}?code={code}{state}"))
}

async fn discovery(State(inner): State<Shared>) -> Response {
    let issuer = inner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .issuer
        .clone();
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "email_verified", "name"],
    }))
    .into_response()
}

async fn jwks(State(inner): State<Shared>) -> Response {
    let inner = inner.lock().unwrap_or_else(PoisonError::into_inner);
    axum::Json(json!({ "keys": [inner.key.jwk()] })).into_response()
}

async fn authorize(
    State(inner): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match approve(&inner, &params) {
        Ok(location) => Redirect::to(&location).into_response(),
        Err(error) => (StatusCode::BAD_REQUEST, error).into_response(),
    }
}

fn token_error(error: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": error })),
    )
        .into_response()
}

/// The client's credentials: HTTP Basic (RFC 6749 §2.3.1, form-encoded parts) or the body.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = String::from_utf8(STANDARD.decode(basic).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let id = parse_form(&format!("k={id}")).remove("k")?;
        let secret = parse_form(&format!("k={secret}")).remove("k")?;
        return Some((id, secret));
    }
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}

async fn token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut inner = shared.lock().unwrap_or_else(PoisonError::into_inner);
    inner.token_requests += 1;
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return token_error("unsupported_grant_type");
    }
    let Some((client_id, secret)) = client_credentials(&headers, &form) else {
        return token_error("invalid_client");
    };
    if inner
        .clients
        .get(&client_id)
        .is_none_or(|c| c.secret != secret)
    {
        return token_error("invalid_client");
    }
    let Some(grant) = form.get("code").and_then(|c| inner.grants.remove(c)) else {
        return token_error("invalid_grant");
    };
    if grant.client_id != client_id
        || form.get("redirect_uri") != Some(&grant.redirect_uri)
        || grant.issued.elapsed().unwrap_or_default() > Duration::from_mins(1)
    {
        return token_error("invalid_grant");
    }
    // RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge.
    let verified = form.get("code_verifier").is_some_and(|verifier| {
        URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes())) == grant.challenge
    });
    if !verified {
        return token_error("invalid_grant");
    }
    let access_token = random(32);
    inner
        .access_tokens
        .insert(access_token.clone(), grant.user.clone());
    let mut answer = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": grant.scope,
    });
    let openid = grant.scope.split(' ').any(|s| s == "openid");
    inner.issued.push(access_token);
    if openid && !inner.faults.no_id_token {
        let token = id_token(&inner, &grant, &client_id);
        inner.issued.push(token.clone());
        answer["id_token"] = Value::String(token);
    }
    axum::Json(answer).into_response()
}

fn id_token(inner: &Inner, grant: &Grant, client_id: &str) -> String {
    let faults = inner.faults;
    let now = unix(SystemTime::now());
    let mut claims = json!({
        "iss": if faults.wrong_issuer { "http://evil.example" } else { inner.issuer.as_str() },
        "sub": grant.user.sub,
        "aud": if faults.wrong_audience { "another-client" } else { client_id },
        "iat": now,
        "exp": if faults.expired { now - 3600 } else { now + 300 },
    });
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = Value::String(if faults.wrong_nonce {
            "not-the-nonce".into()
        } else {
            nonce.clone()
        });
    }
    if let Some(email) = &grant.user.email {
        claims["email"] = Value::String(email.clone());
        claims["email_verified"] = Value::Bool(grant.user.email_verified);
    }
    if let Some(name) = &grant.user.name {
        claims["name"] = Value::String(name.clone());
    }
    if faults.bad_signature {
        inner.rogue.sign(&inner.key.kid, &claims)
    } else {
        inner.key.sign(&inner.key.kid, &claims)
    }
}

fn bearer_user(inner: &Shared, headers: &HeaderMap) -> Option<TestUser> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .to_owned();
    let inner = inner.lock().unwrap_or_else(PoisonError::into_inner);
    inner.access_tokens.get(&token).cloned()
}

async fn userinfo(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&inner, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    axum::Json(json!({
        "sub": user.sub, "email": user.email, "email_verified": user.email_verified, "name": user.name,
    }))
    .into_response()
}

async fn github_user(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&inner, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let id: Value = user
        .sub
        .parse::<u64>()
        .map_or_else(|_| Value::String(user.sub.clone()), Value::from);
    axum::Json(json!({
        "id": id, "login": "octocat", "name": user.name, "email": Value::Null,
        "avatar_url": "https://avatars.example/u/1",
    }))
    .into_response()
}

async fn github_emails(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&inner, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let mut emails =
        vec![json!({ "email": "old@example.com", "primary": false, "verified": true })];
    if let Some(email) = user.email {
        emails.push(json!({ "email": email, "primary": true, "verified": user.email_verified }));
    }
    axum::Json(Value::Array(emails)).into_response()
}
