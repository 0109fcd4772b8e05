//! The documents of the axum endpoints (feature `openapi`): each is `OpenAPI` 3.1 and
//! self-contained (every `$ref` and security scheme resolves inside it); every documented
//! route exists in its router with that method, and no other method of a documented path is
//! routed; real answers, successes and problem documents alike, have a documented status,
//! content type and headers, and bodies that validate against the documented schemas.
#![cfg(feature = "openapi")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use mortar_auth::account::Accounts;
use mortar_auth::api_key::{ApiKeys, MemoryApiKeyStore};
use mortar_auth::axum::{AuthApi, openapi, router};
use mortar_auth::code::{CodeMessage, MemoryCodeStore, Purpose, sender_fn};
use mortar_auth::layer::AuthLayer;
use mortar_auth::password::{PasswordConfig, Passwords};
use mortar_auth::session::{MemorySessionStore, SessionCookies, Sessions};
use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
use mortar_auth::user::MemoryUserStore;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

type Outbox = Arc<std::sync::Mutex<Vec<(Purpose, String)>>>;

/// The endpoints' state and the layer in front of them (as an application wires them), and the
/// captured mail.
fn parts() -> (AuthApi, AuthLayer, Outbox) {
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
    let cookies = SessionCookies::new(sessions.clone());
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

/// One router and its document.
struct Documented {
    name: &'static str,
    doc: Value,
    app: Router,
}

/// Every router of the enabled features, each behind the layer, with its document as JSON.
#[cfg_attr(
    not(any(feature = "totp", feature = "oauth", feature = "webauthn")),
    allow(unused_mut)
)]
fn documented() -> Vec<Documented> {
    let (api, layer, _) = parts();
    let mut all = vec![("accounts", openapi::accounts(), router(api.clone()))];
    #[cfg(feature = "totp")]
    {
        use mortar_auth::mfa::{MemoryFactorStore, Sealer, TotpSettings};
        let factors = mortar_auth::mfa::SecondFactors::new(
            Arc::new(MemoryFactorStore::new()),
            Sealer::new("k1", &[3; 32]).unwrap(),
            TotpSettings::new("Acme"),
        );
        all.push((
            "second factors",
            openapi::second_factors(),
            mortar_auth::axum::second_factor_router(api.clone(), factors),
        ));
    }
    #[cfg(feature = "oauth")]
    {
        use mortar_auth::oauth::{Federation, MemoryIdentityStore, OAuth};
        use mortar_auth::seal::Sealer;
        let oauth = OAuth::builder(Sealer::new("flow", &[5; 32]).unwrap())
            .build()
            .unwrap();
        let federation =
            Federation::new(api.accounts.clone(), Arc::new(MemoryIdentityStore::new()));
        all.push((
            "federation",
            openapi::federation(),
            mortar_auth::axum::oauth_router(api.clone(), oauth, federation),
        ));
    }
    #[cfg(feature = "webauthn")]
    {
        use mortar_auth::passkey::{MemoryPasskeyStore, Passkeys};
        use mortar_auth::seal::Sealer;
        let passkeys = Passkeys::new(
            "example.com",
            "https://app.example.com",
            Arc::new(MemoryUserStore::new()),
            Arc::new(MemoryPasskeyStore::new()),
            Arc::new(MemoryCodeStore::new()),
            Sealer::new("k", &[4; 32]).unwrap(),
        )
        .unwrap();
        all.push((
            "passkeys",
            openapi::passkeys(),
            mortar_auth::axum::passkey_router(api.clone(), passkeys),
        ));
    }
    all.into_iter()
        .map(|(name, doc, app)| Documented {
            name,
            doc: serde_json::to_value(&doc).unwrap(),
            app: app.layer(layer.clone()),
        })
        .collect()
}

/// `(path, method, operation)` of every operation of `doc`.
fn operations(doc: &Value) -> Vec<(&str, &str, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{path}: {method}");
            out.push((path.as_str(), method.as_str(), operation));
        }
    }
    out
}

/// Every value of `"$ref"` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                match (key.as_str(), member) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(member, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, out)),
        _ => {}
    }
}

/// What a local `$ref` points at.
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

#[test]
fn documents_are_openapi_3_1_and_self_contained() {
    let all = documented();
    let mut operation_ids = BTreeSet::new();
    let mut routes = BTreeSet::new();
    let mut schemas: BTreeMap<String, (&str, &Value)> = BTreeMap::new();
    for Documented { name, doc, .. } in &all {
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1."),
            "{name}: {}",
            doc["openapi"]
        );

        // Every reference resolves within the document.
        let mut found = Vec::new();
        refs(doc, &mut found);
        assert!(!found.is_empty(), "{name}");
        for reference in found {
            assert!(
                reference.starts_with("#/components/schemas/"),
                "{name}: {reference}"
            );
            assert!(
                resolve(doc, reference).is_some(),
                "{name}: dangling {reference}"
            );
        }

        let declared_tags: BTreeSet<&str> = doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        let security_schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        for (path, method, operation) in operations(doc) {
            let at = format!("{name}: {method} {path}");
            assert!(routes.insert((path, method)), "{at}: documented twice");
            let id = operation["operationId"].as_str().unwrap();
            assert!(operation_ids.insert(id), "{at}: operation id {id} twice");
            assert!(operation["summary"].is_string(), "{at}: no summary");
            for tag in operation["tags"].as_array().unwrap() {
                assert!(declared_tags.contains(tag.as_str().unwrap()), "{at}: {tag}");
            }

            // Security: named schemes exist; routes without a caller say so.
            let security = operation["security"].as_array().unwrap();
            assert!(!security.is_empty(), "{at}: no security requirement");
            for requirement in security {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(security_schemes.contains_key(scheme), "{at}: {scheme}");
                }
            }

            // Path parameters are declared.
            let params: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let in_path: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(params, in_path, "{at}");

            // A success, and every error a problem document.
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|s| s.starts_with('2') || s.starts_with('3')),
                "{at}"
            );
            for (status, response) in responses {
                assert!(response["description"].is_string(), "{at} {status}");
                if status.starts_with('4') || status.starts_with('5') {
                    let content = response["content"].as_object().unwrap();
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        ["application/problem+json"],
                        "{at} {status}"
                    );
                    assert_eq!(
                        content["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{at} {status}"
                    );
                }
            }
        }

        // A schema name means one schema across all documents (merging keeps only one).
        for (schema, definition) in doc["components"]["schemas"].as_object().unwrap() {
            if let Some((other, earlier)) = schemas.insert(schema.clone(), (name, definition)) {
                assert_eq!(
                    earlier, definition,
                    "{schema} differs in {other} and {name}"
                );
            }
        }
        assert!(schemas.contains_key("Problem"), "{name}");
        assert_eq!(schemas["Problem"].1["additionalProperties"], true);
    }
}

#[test]
#[cfg_attr(
    not(any(feature = "totp", feature = "oauth", feature = "webauthn")),
    allow(unused_mut)
)]
fn documents_nest_into_one() {
    use utoipa::openapi::{Info, OpenApi, Paths};

    let mut doc =
        OpenApi::new(Info::new("app", "1"), Paths::new()).nest("/auth", openapi::accounts());
    let mut expected = operations(&serde_json::to_value(openapi::accounts()).unwrap()).len();
    #[cfg(feature = "totp")]
    {
        expected += operations(&serde_json::to_value(openapi::second_factors()).unwrap()).len();
        doc = doc.nest("/auth", openapi::second_factors());
    }
    #[cfg(feature = "oauth")]
    {
        expected += operations(&serde_json::to_value(openapi::federation()).unwrap()).len();
        doc = doc.nest("/auth", openapi::federation());
    }
    #[cfg(feature = "webauthn")]
    {
        expected += operations(&serde_json::to_value(openapi::passkeys()).unwrap()).len();
        doc = doc.nest("/auth", openapi::passkeys());
    }
    let json = serde_json::to_value(&doc).unwrap();
    assert_eq!(operations(&json).len(), expected, "no operation lost");
    assert!(
        operations(&json)
            .iter()
            .all(|(p, ..)| p.starts_with("/auth/"))
    );
    let mut found = Vec::new();
    refs(&json, &mut found);
    for reference in found {
        assert!(resolve(&json, reference).is_some(), "dangling {reference}");
    }
    for scheme in ["bearer", "api_key", "session_cookie"] {
        assert!(json["components"]["securitySchemes"][scheme].is_object());
    }
    assert_eq!(
        json["components"]["securitySchemes"]["session_cookie"]["name"],
        "__Host-mortar_session"
    );
    assert_eq!(
        json["components"]["securitySchemes"]["api_key"]["name"],
        "X-API-Key"
    );
    assert_eq!(
        json["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// A request to `app` without credentials or body.
async fn bare(app: &Router, method: &str, uri: &str) -> (StatusCode, Vec<u8>) {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (
        status,
        res.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

#[tokio::test]
async fn documented_routes_exist_and_only_they() {
    for Documented { name, doc, app } in documented() {
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            // Path parameters filled with a dummy value.
            let uri: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            // Documented methods first: a missing route is reported as such.
            let (documented, others): (Vec<&str>, Vec<&str>) =
                METHODS.iter().partition(|m| item.get(**m).is_some());
            for method in documented {
                let (status, body) = bare(&app, method, &uri).await;
                let at = format!("{name}: {method} {path} → {status}");
                // Routed: the handler (or an extractor, or the layer) answered, not axum's
                // fallback (an empty 404) or its 405.
                assert_ne!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{at}: no such method"
                );
                assert!(
                    !(status == StatusCode::NOT_FOUND && body.is_empty()),
                    "{at}: no such route"
                );
                checked += 1;
            }
            for method in others {
                let (status, _) = bare(&app, method, &uri).await;
                let at = format!("{name}: {method} {path} → {status}");
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{at}: routed, undocumented"
                );
            }
        }
        assert!(checked > 0, "{name}");
    }
}

// The JSON Schema keywords utoipa writes, enough to validate answers: `$ref`, `allOf`, `anyOf`,
// `oneOf`, `type` (one or several), `enum`, `properties`, `required`, `additionalProperties`,
// `items`, `minimum`, `maximum`. An unknown keyword fails the test, so none is skipped unseen.

fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        other => panic!("unexpected type {other}"),
    }
}

/// Keywords that only annotate.
const ANNOTATIONS: [&str; 9] = [
    "description",
    "format",
    "title",
    "default",
    "example",
    "examples",
    "deprecated",
    "contentEncoding",
    "contentMediaType",
];

/// Keywords [`validate`] checks.
const CHECKED: [&str; 12] = [
    "$ref",
    "allOf",
    "anyOf",
    "oneOf",
    "type",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minimum",
    "maximum",
];

fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    for keyword in schema
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
    {
        assert!(
            CHECKED.contains(&keyword) || ANNOTATIONS.contains(&keyword),
            "{at}: keyword {keyword} not understood"
        );
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = resolve(doc, reference).ok_or_else(|| format!("dangling {reference}"))?;
        validate(doc, target, value, at)?;
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        validate(doc, part, value, at)?;
    }
    if let Some(choices) = schema.get("anyOf").and_then(Value::as_array)
        && !choices
            .iter()
            .any(|choice| validate(doc, choice, value, at).is_ok())
    {
        return Err(format!("{at}: none of anyOf matches {value}"));
    }
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = choices
            .iter()
            .filter(|choice| validate(doc, choice, value, at).is_ok())
            .count();
        if matching != 1 {
            return Err(format!("{at}: {matching} of oneOf match {value}"));
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
        return Err(format!("{at}: {value} is not {types:?}"));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(value)
    {
        return Err(format!("{at}: {value} not in {values:?}"));
    }
    if let Some(n) = value.as_f64() {
        let min = schema.get("minimum").and_then(Value::as_f64);
        let max = schema.get("maximum").and_then(Value::as_f64);
        if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
            return Err(format!("{at}: {n} out of range"));
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(doc, items, item, &format!("{at}/{i}"))?;
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                return Err(format!("{at}: `{name}` missing in {value}"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, member) in object {
            match (
                properties.and_then(|p| p.get(name)),
                schema.get("additionalProperties"),
            ) {
                (Some(property), _) => validate(doc, property, member, &format!("{at}/{name}"))?,
                (None, Some(Value::Bool(false))) => {
                    return Err(format!("{at}: `{name}` not allowed"));
                }
                (None, Some(extra @ Value::Object(_))) => {
                    validate(doc, extra, member, &format!("{at}/{name}"))?;
                }
                (None, _) => {}
            }
        }
    }
    Ok(())
}

/// Sends a request, and checks the answer against `doc`: a documented status, its content
/// type, its headers, and a body that validates against its schema. Answers the status and
/// the body.
async fn checked(
    doc: &Value,
    app: &Router,
    (method, path): (&str, &str),
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value, HeaderMap) {
    let mut req = Request::builder()
        .method(Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap())
        .uri(uri);
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
    let status = parts.status;
    let at = format!("{method} {path} → {status}");

    let response = &doc["paths"][path][method]["responses"][status.as_str()];
    assert!(response.is_object(), "{at}: undocumented status");
    for name in ["set-cookie", "location", "x-mortar-return-to"] {
        if parts.headers.contains_key(name) {
            let documented = response["headers"]
                .as_object()
                .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case(name)));
            assert!(documented, "{at}: undocumented header {name}");
        }
    }
    let json = if bytes.is_empty() {
        assert!(
            response.get("content").is_none(),
            "{at}: documented with a body"
        );
        Value::Null
    } else {
        let content_type = parts.headers["content-type"].to_str().unwrap();
        let media = &response["content"][content_type];
        assert!(
            media.is_object(),
            "{at}: undocumented content type {content_type}"
        );
        let json: Value = serde_json::from_slice(&bytes).unwrap();
        validate(doc, &media["schema"], &json, "#").unwrap_or_else(|e| panic!("{at}: {e}"));
        json
    };
    (status, json, parts.headers)
}

fn last(outbox: &Outbox, purpose: Purpose) -> String {
    let outbox = outbox.lock().unwrap();
    outbox
        .iter()
        .rev()
        .find(|(p, _)| *p == purpose)
        .unwrap()
        .1
        .clone()
}

const PASSWORD: &str = "correct horse battery staple";

/// The accounts router's answers, successes and problems, against its document.
#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one journey, step by step")]
async fn answers_match_the_accounts_document() {
    let doc = serde_json::to_value(openapi::accounts()).unwrap();
    let (api, layer, outbox) = parts();
    let app = router(api).layer(layer);
    let app = &app;
    let creds = json!({"email": "ada@example.com", "password": PASSWORD});

    let (status, body, _) = checked(
        &doc,
        app,
        ("post", "/register"),
        "/register",
        &[],
        Some(creds.clone()),
    )
    .await;
    assert_eq!(
        (status, &body),
        (
            StatusCode::ACCEPTED,
            &json!({"status": "pending_verification"})
        )
    );
    let token = last(&outbox, Purpose::VerifyEmail);
    let (status, body, _) = checked(
        &doc,
        app,
        ("post", "/verify-email"),
        "/verify-email",
        &[],
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email_verified"], true);

    let (status, tokens, _) = checked(
        &doc,
        app,
        ("post", "/login"),
        "/login",
        &[],
        Some(creds.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tokens["token_type"], "Bearer");
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let auth = [("authorization", bearer.as_str())];

    let mut cookie_creds = creds.clone();
    cookie_creds["cookie"] = json!(true);
    let (status, session, headers) = checked(
        &doc,
        app,
        ("post", "/login"),
        "/login",
        &[("sec-fetch-site", "same-origin")],
        Some(cookie_creds),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(session["session_id"].is_string() && headers.contains_key("set-cookie"));

    let (status, list, _) =
        checked(&doc, app, ("get", "/sessions"), "/sessions", &auth, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["sessions"].as_array().unwrap().len(), 2);

    let (status, key, _) = checked(
        &doc,
        app,
        ("post", "/api-keys"),
        "/api-keys",
        &auth,
        Some(json!({"name": "ci", "scopes": ["deploy"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(key["expires_at"].is_null());
    let (status, keys, _) =
        checked(&doc, app, ("get", "/api-keys"), "/api-keys", &auth, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys["api_keys"][0]["revoked"], false);

    let (status, refreshed, _) = checked(
        &doc,
        app,
        ("post", "/refresh"),
        "/refresh",
        &[],
        Some(json!({"refresh_token": tokens["refresh_token"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let bearer = format!("Bearer {}", refreshed["access_token"].as_str().unwrap());

    // Problem documents.
    let (status, problem, _) = checked(
        &doc,
        app,
        ("post", "/login"),
        "/login",
        &[],
        Some(json!({"email": "ada@example.com", "password": "wrong password"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["type"], "urn:mortar:problem:invalid-credentials");
    let (status, problem, _) = checked(
        &doc,
        app,
        ("post", "/register"),
        "/register",
        &[],
        Some(json!({"email": "bo@example.com", "password": "password1"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["pointer"], "#/password");
    let (status, ..) = checked(
        &doc,
        app,
        ("post", "/login"),
        "/login",
        &[],
        Some(json!({"email": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, ..) = checked(
        &doc,
        app,
        ("post", "/refresh"),
        "/refresh",
        &[("content-type", "text/plain")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, ..) = checked(&doc, app, ("get", "/sessions"), "/sessions", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, ..) = checked(
        &doc,
        app,
        ("delete", "/api-keys/{id}"),
        "/api-keys/nope",
        &auth,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, ..) = checked(
        &doc,
        app,
        ("post", "/verify-email"),
        "/verify-email",
        &[],
        Some(json!({"token": "used-or-never-issued"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Empty answers, documented without a body.
    let (status, ..) = checked(
        &doc,
        app,
        ("post", "/password/forgot"),
        "/password/forgot",
        &[],
        Some(json!({"email": "ada@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _, headers) = checked(
        &doc,
        app,
        ("post", "/logout"),
        "/logout",
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(headers.contains_key("set-cookie"));
}

/// A malformed body is a problem document of the documented shape (a 400 of `JsonBody`).
#[tokio::test]
async fn malformed_json_is_a_documented_problem() {
    let doc = serde_json::to_value(openapi::accounts()).unwrap();
    let (api, layer, _) = parts();
    let app = router(api).layer(layer);
    let req = Request::post("/login")
        .header("content-type", "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let media =
        &doc["paths"]["/login"]["post"]["responses"]["400"]["content"]["application/problem+json"];
    let body: Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    validate(&doc, &media["schema"], &body, "#").unwrap();
    assert_eq!(body["status"], 400);
    // And the validator does refuse what does not fit.
    assert!(validate(&doc, &media["schema"], &json!({"status": 400}), "#").is_err());
    let tokens = &doc["components"]["schemas"]["LoginResponse"];
    let both = json!({"session_id": "s", "expires_in": 1, "access_token": "a", "refresh_token": "r", "token_type": "Bearer"});
    assert!(
        validate(&doc, tokens, &both, "#").is_ok(),
        "tokens, and only tokens"
    );
    let neither = json!({"session_id": "s"});
    assert!(validate(&doc, tokens, &neither, "#").is_err());
}

/// The second-factor router's answers against its document.
#[cfg(feature = "totp")]
#[tokio::test]
async fn answers_match_the_second_factors_document() {
    use mortar_auth::mfa::{MemoryFactorStore, Sealer, SecondFactors, TotpSettings};

    let doc = serde_json::to_value(openapi::second_factors()).unwrap();
    let (api, layer, outbox) = parts();
    let factors = SecondFactors::new(
        Arc::new(MemoryFactorStore::new()),
        Sealer::new("k1", &[3; 32]).unwrap(),
        TotpSettings::new("Acme"),
    );
    let accounts = router(api.clone()).layer(layer.clone());
    let app = mortar_auth::axum::second_factor_router(api, factors).layer(layer);

    let creds = json!({"email": "cy@example.com", "password": PASSWORD});
    send_json(&accounts, "/register", creds.clone()).await;
    let token = last(&outbox, Purpose::VerifyEmail);
    send_json(&accounts, "/verify-email", json!({"token": token})).await;
    let tokens = send_json(&accounts, "/login", creds).await;
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let auth = [("authorization", bearer.as_str())];

    let (status, state, _) = checked(&doc, &app, ("get", "/2fa"), "/2fa", &auth, None).await;
    assert_eq!(
        (status, state),
        (
            StatusCode::OK,
            json!({"totp": false, "recovery_codes_left": 0})
        )
    );
    let (status, enrolled, _) =
        checked(&doc, &app, ("post", "/2fa/totp"), "/2fa/totp", &auth, None).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(enrolled["uri"].as_str().unwrap().starts_with("otpauth://"));
    let (status, problem, _) = checked(
        &doc,
        &app,
        ("post", "/2fa/totp/confirm"),
        "/2fa/totp/confirm",
        &auth,
        Some(json!({"code": "000000"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["type"], "urn:mortar:problem:invalid-code");
    let (status, ..) = checked(
        &doc,
        &app,
        ("post", "/login/second-factor"),
        "/login/second-factor",
        &[],
        Some(json!({"code": "000000"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no challenge");
}

/// The federated sign-in router's answers (those that need no provider) against its document.
#[cfg(feature = "oauth")]
#[tokio::test]
async fn answers_match_the_federation_document() {
    use mortar_auth::oauth::{Federation, MemoryIdentityStore, OAuth};
    use mortar_auth::seal::Sealer;

    let doc = serde_json::to_value(openapi::federation()).unwrap();
    let (api, layer, _) = parts();
    let oauth = OAuth::builder(Sealer::new("flow", &[5; 32]).unwrap())
        .build()
        .unwrap();
    let federation = Federation::new(api.accounts.clone(), Arc::new(MemoryIdentityStore::new()));
    let app = mortar_auth::axum::oauth_router(api, oauth, federation).layer(layer);

    let (status, providers, _) = checked(
        &doc,
        &app,
        ("get", "/oauth/providers"),
        "/oauth/providers",
        &[],
        None,
    )
    .await;
    assert_eq!(
        (status, providers),
        (StatusCode::OK, json!({"providers": []}))
    );
    let (status, ..) = checked(
        &doc,
        &app,
        ("get", "/oauth/{provider}/start"),
        "/oauth/nope/start?return_to=/home",
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem, headers) = checked(
        &doc,
        &app,
        ("get", "/oauth/{provider}/callback"),
        "/oauth/nope/callback?code=c&state=s",
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["type"], "urn:mortar:problem:federated-login-failed");
    assert!(
        headers.contains_key("set-cookie"),
        "the flow cookie is cleared"
    );
    let (status, ..) = checked(
        &doc,
        &app,
        ("post", "/oauth/sso"),
        "/oauth/sso",
        &[],
        Some(json!({"email": "a@corp.example"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no SSO directory");
    let (status, ..) = checked(
        &doc,
        &app,
        ("get", "/oauth/identities"),
        "/oauth/identities",
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The passkey router's answers (those that need no authenticator) against its document.
#[cfg(feature = "webauthn")]
#[tokio::test]
async fn answers_match_the_passkeys_document() {
    use mortar_auth::passkey::{MemoryPasskeyStore, Passkeys};
    use mortar_auth::seal::Sealer;

    let doc = serde_json::to_value(openapi::passkeys()).unwrap();
    let (api, layer, _) = parts();
    let passkeys = Passkeys::new(
        "example.com",
        "https://app.example.com",
        Arc::new(MemoryUserStore::new()),
        Arc::new(MemoryPasskeyStore::new()),
        Arc::new(MemoryCodeStore::new()),
        Sealer::new("k", &[4; 32]).unwrap(),
    )
    .unwrap();
    let app = mortar_auth::axum::passkey_router(api, passkeys).layer(layer);

    let (status, ceremony, _) = checked(
        &doc,
        &app,
        ("post", "/login/passkey"),
        "/login/passkey",
        &[],
        Some(json!({"email": "nobody@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ceremony["options"]["publicKey"].is_object());
    let (status, ..) = checked(
        &doc,
        &app,
        ("post", "/login/passkey/complete"),
        "/login/passkey/complete",
        &[],
        Some(json!({"ceremony": ceremony["ceremony"], "credential": {"id": "nope"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, ..) = checked(
        &doc,
        &app,
        ("post", "/login/second-factor/passkey"),
        "/login/second-factor/passkey",
        &[],
        Some(json!({"challenge": "unknown"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, ..) = checked(&doc, &app, ("get", "/passkeys"), "/passkeys", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// POSTs JSON and answers the JSON of a 2xx answer.
#[cfg(feature = "totp")]
async fn send_json(app: &Router, uri: &str, body: Value) -> Value {
    let req = Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert!(res.status().is_success(), "{uri}: {}", res.status());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}
