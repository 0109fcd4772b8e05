//! End to end: the real `example-saas-axum` binary started on 127.0.0.1, driven over HTTP
//! through the whole user journey, with its admin CLI run beside it — once on the embedded
//! defaults (SQLite, local disk, in-process limits) and once on PostgreSQL, Redis and S3
//! (SeaweedFS). Codes and invitation mail are read from the binary's stderr, where the
//! development sender and mailer print them.

mod common;

use std::time::{Duration, Instant};

use common::{Api, PASSWORD, Starter, app_code, png, sign_up};
use mortar_testkit::base32_decode;
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// Polls `path` until `done` accepts the answer (at most 30 s).
async fn poll(
    api: &Api,
    path: &str,
    token: &str,
    done: impl Fn(StatusCode, &Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = api.get(path, Some(token)).await;
        if done(status, &body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path}: still {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The whole journey on a running starter; `backends` are the /ready checks expected.
#[allow(clippy::too_many_lines)]
async fn journey(mut starter: Starter, backends: &[&str]) {
    let api = Api {
        http: Client::new(),
        base: starter.base.clone(),
    };

    // Probes.
    let (status, body) = api.get("/health", None).await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("pass")));
    let (status, ready) = api.get("/ready", None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    for backend in backends {
        assert_eq!(ready["checks"][backend]["status"], "pass", "{ready}");
    }

    // Accounts: the owner signs up (verification code by mail), reads /me.
    let ada = sign_up(&mut starter, &api, "ada@example.com").await;
    let ada_token = ada["access_token"].as_str().unwrap().to_owned();
    let (status, me) = api.get("/me", Some(&ada_token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["amr"], json!(["pwd"]), "{me}");
    let ada_id = me["subject"].as_str().unwrap().to_owned();

    // Refresh rotates: the new pair works, the old refresh token is refused.
    let (status, refreshed) = api
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": ada["refresh_token"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let (status, reused) = api
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": ada["refresh_token"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{reused}");
    let ada_token = refreshed["access_token"].as_str().unwrap().to_owned();

    // Localized answers: English, German and Arabic problem documents.
    for (lang, title) in [
        ("en", "Not Found"),
        ("de", "Nicht gefunden"),
        ("ar", "غير موجود"),
    ] {
        let (status, headers, body) = api
            .call(
                Method::GET,
                "/nowhere",
                None,
                None,
                &[("accept-language", lang)],
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(headers["content-language"], lang);
        assert_eq!(body["title"], title, "{lang}: {body}");
    }
    let (status, anonymous) = api.get("/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{anonymous}");

    // An organization, an invitation by mail, accepted by a new user.
    let (status, org) = api
        .post("/orgs", Some(&ada_token), json!({"name": "Acme"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org_id = org["id"].as_str().unwrap().to_owned();
    let (status, invitation) = api
        .post(
            &format!("/orgs/{org_id}/invitations"),
            Some(&ada_token),
            json!({"email": "Bob@Example.com", "role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");
    assert_eq!(invitation["email"], "bob@example.com");
    starter.wait_for(Duration::from_secs(30), |line| {
        line.starts_with("[starter development mailer] to bob@example.com: Join Acme")
            .then_some(())
    });
    let bob = sign_up(&mut starter, &api, "bob@example.com").await;
    let bob_token = bob["access_token"].as_str().unwrap().to_owned();
    let (status, mine) = api.get("/me/invitations", Some(&bob_token)).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine[0]["org_name"], "Acme", "{mine}");
    let (status, accepted) = api
        .post(
            &format!("/me/invitations/{}/accept", mine[0]["id"].as_str().unwrap()),
            Some(&bob_token),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["role"], "admin");
    let (status, members) = api
        .get(&format!("/orgs/{org_id}/members"), Some(&bob_token))
        .await;
    assert_eq!(status, StatusCode::OK, "{members}");
    assert_eq!(members.as_array().unwrap().len(), 2, "{members}");

    // Authorization: an outsider is refused; an admin reads the audit log, which holds the
    // invitation and its acceptance.
    let carol = sign_up(&mut starter, &api, "carol@example.com").await;
    let carol_token = carol["access_token"].as_str().unwrap().to_owned();
    let (status, outsider) = api
        .get(&format!("/orgs/{org_id}"), Some(&carol_token))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{outsider}");
    let log = poll(
        &api,
        &format!("/orgs/{org_id}/audit-log"),
        &bob_token,
        |status, body| {
            status == StatusCode::OK
                && body["events"].as_array().is_some_and(|e| {
                    e.iter()
                        .any(|e| e["event"]["action"] == "org.invitation.accepted")
                })
        },
    )
    .await;
    assert!(
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"]["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("http."))),
        "{log}"
    );

    // Sessions and API keys.
    let (status, sessions) = api.get("/auth/sessions", Some(&ada_token)).await;
    assert_eq!(status, StatusCode::OK, "{sessions}");
    assert!(!sessions["sessions"].as_array().unwrap().is_empty());
    let (status, key) = api
        .post("/auth/api-keys", Some(&ada_token), json!({"name": "ci"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let (status, _, me_by_key) = api
        .call(
            Method::GET,
            "/me",
            None,
            None,
            &[("x-api-key", key["key"].as_str().unwrap())],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{me_by_key}");
    assert_eq!(me_by_key["subject"], ada_id.as_str());

    // A second factor: TOTP enrolled, then the password meets a challenge.
    let (status, enrolled) = api
        .post("/auth/2fa/totp", Some(&bob_token), json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    let secret = base32_decode(enrolled["secret"].as_str().unwrap());
    let (status, confirmed) = api
        .post(
            "/auth/2fa/totp/confirm",
            Some(&bob_token),
            json!({"code": app_code(&secret, 0)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{confirmed}");
    let (status, challenged) = api
        .post(
            "/auth/login",
            None,
            json!({"email": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{challenged}");
    assert_eq!(challenged["second_factor_required"], true);
    let (status, signed) = api
        .post(
            "/auth/login/second-factor",
            None,
            json!({"challenge": challenged["challenge"], "code": app_code(&secret, 30)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let (_, me) = api
        .get("/me", Some(signed["access_token"].as_str().unwrap()))
        .await;
    assert_eq!(me["amr"], json!(["pwd", "otp", "mfa"]), "{me}");

    // An avatar: accepted (202), thumbnailed by a job, downloaded through its link.
    let form = reqwest::multipart::Form::new().part(
        "avatar",
        reqwest::multipart::Part::bytes(png(300, 200)).file_name("me.png"),
    );
    let res = api
        .http
        .put(format!("{}/me/avatar", api.base))
        .bearer_auth(&ada_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let accepted: Value = res.json().await.unwrap();
    let job = poll(
        &api,
        accepted["status"].as_str().unwrap(),
        &ada_token,
        |_, b| b["state"] == "completed" || b["state"] == "failed",
    )
    .await;
    assert_eq!(job["state"], "completed", "{job}");
    let url = job["url"].as_str().unwrap();
    let url = if url.starts_with('/') {
        format!("{}{url}", api.base)
    } else {
        url.to_owned()
    };
    let thumbnail = api.http.get(url).send().await.unwrap();
    assert_eq!(thumbnail.status(), StatusCode::OK);
    let bytes = thumbnail.bytes().await.unwrap();
    assert_eq!(&bytes[8..12], b"WEBP", "a WebP thumbnail");

    // Flags: the beta route is hidden until an operator turns it on with the admin CLI; the
    // pricing experiment assigns a variant.
    let (status, _) = api.get("/beta/reports", Some(&ada_token)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, out) = starter.cli(&["flag", "set", "beta-reports", "--variant", "on"]);
    assert!(
        out.contains("beta-reports: enabled, default variant on"),
        "{out}"
    );
    poll(&api, "/beta/reports", &ada_token, |status, _| {
        status == StatusCode::OK
    })
    .await;
    let (status, pricing) = api.get("/pricing", Some(&ada_token)).await;
    assert_eq!(status, StatusCode::OK, "{pricing}");
    assert!(pricing["variant"].is_string(), "{pricing}");

    // The admin CLI on the same database: a user, a role, the jobs, the audit chain.
    let (_, out) = starter.cli(&["user", "create", "dan@example.com", "--verified"]);
    assert!(out.contains("created user"), "{out}");
    let (_, out) = starter.cli(&[
        "role",
        "grant",
        "dan@example.com",
        "member",
        "--org",
        "Acme",
    ]);
    assert!(out.contains("now holds member in Acme"), "{out}");
    // The server follows the CLI's change within a second (it re-reads memberships).
    poll(
        &api,
        &format!("/orgs/{org_id}/members"),
        &ada_token,
        |status, body| status == StatusCode::OK && body.as_array().is_some_and(|m| m.len() == 3),
    )
    .await;
    let (_, out) = starter.cli(&[
        "jobs",
        "list",
        "--state",
        "completed",
        "--type",
        "starter.send_code",
    ]);
    assert!(out.contains("starter.send_code"), "{out}");
    let (status, out) = starter.cli(&["audit", "verify"]);
    assert!(status.success(), "{out}");
    assert!(out.contains("intact") && !out.contains("BROKEN"), "{out}");
    let (_, out) = starter.cli(&["user", "revoke-sessions", "carol@example.com"]);
    assert!(
        out.contains("signed out everywhere (1 session(s) ended)"),
        "{out}"
    );
    let (status, body) = api
        .post(
            "/auth/refresh",
            None,
            json!({"refresh_token": carol["refresh_token"]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "carol's session ended: {body}"
    );

    // Metrics: loopback may scrape; the HTTP and job metrics are there.
    let metrics = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("http_requests_total{"), "{text}");
    assert!(text.contains("route=\"/orgs/{org}/invitations\""), "{text}");
    assert!(text.contains("mortar_jobs_"), "{text}");

    // API documentation, served by the app itself.
    let (status, doc) = api.get("/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    assert!(doc["paths"]["/orgs/{org}/invitations"].is_object());
    let page = api
        .http
        .get(format!("{}/docs/", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("swagger"));

    // Rate limits on the credential endpoints: a guesser meets a 429 with its headers.
    let mut limited = None;
    for _ in 0..100 {
        let (status, headers, body) = api
            .call(
                Method::POST,
                "/auth/login",
                None,
                Some(json!({"email": "nobody@example.com", "password": "wrong password 1"})),
                &[],
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((headers, body));
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let (headers, body) = limited.expect("the credential limit answers 429");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["status"], 429);

    // A graceful stop: SIGTERM, in-flight work finished, exit status 0.
    let (status, output) = starter.stop();
    assert!(status.success(), "{status}\n{output}");
    assert!(output.contains("shutting down"), "{output}");
}

#[tokio::test(flavor = "multi_thread")]
async fn journey_on_the_embedded_defaults() {
    let starter = Starter::start(
        "e2e-embedded",
        vec![("MORTAR_RATE_LIMIT_CREDENTIALS".into(), "40".into())],
    );
    journey(starter, &["database"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn journey_on_postgres_redis_and_s3() {
    let (Some(db), Some(redis), Some(s3)) = (
        mortar_testkit::postgres().await,
        mortar_testkit::redis().await,
        mortar_testkit::s3().await,
    ) else {
        return;
    };
    let mut env = common::services_env(&db, &redis, Some(&s3));
    env.push(("MORTAR_RATE_LIMIT_CREDENTIALS".into(), "40".into()));
    let starter = Starter::start("e2e-services", env);
    journey(starter, &["database", "redis", "s3"]).await;
}
