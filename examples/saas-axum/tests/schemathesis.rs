//! The OpenAPI document against the running binary: schemathesis (from `PyPI`) generates requests for
//! every documented operation — valid and invalid bodies, parameters and headers — and fails on
//! any 5xx, and on any answer the document does not describe (status, content type, schema). It runs signed in as a verified user who owns an organization, with the rate limits
//! raised so that it explores instead of meeting 429s.
//!
//! Needs `schemathesis` on PATH (`python3 -m pip install schemathesis`; `.ci/run` installs it);
//! without it the test prints that it skipped, and fails when `MORTAR_REQUIRE_SERVICES=1`.

mod common;

use std::process::Command;

use common::{Api, Starter, sign_up};
use serde_json::json;

/// No 5xx, and every answer as documented: its status, its content type, its body's schema.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance";

/// The operations that end the caller's session.
const SIGN_OUT: &str = r"^/auth/(logout|sessions/\{id\})$";

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_on_the_embedded_defaults() {
    fuzz("schemathesis-embedded", Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_on_postgres_and_redis() {
    let (Some(db), Some(redis)) = (
        mortar_testkit::postgres().await,
        mortar_testkit::redis().await,
    ) else {
        return;
    };
    let env = common::services_env(&db, &redis, None);
    fuzz("schemathesis-services", env).await;
}

/// Runs schemathesis against the starter started with `env`.
async fn fuzz(name: &str, mut env: Vec<(String, String)>) {
    let found = Command::new("schemathesis").arg("--version").output();
    if !found.as_ref().is_ok_and(|o| o.status.success()) {
        let message = "schemathesis test skipped: `schemathesis` is not on PATH \
                       (python3 -m pip install schemathesis)";
        assert!(
            !mortar_testkit::services_required(),
            "{message}, and MORTAR_REQUIRE_SERVICES=1 forbids skipping"
        );
        eprintln!("SKIPPED: {message}");
        return;
    }
    for limit in ["PER_IP", "PER_USER", "CREDENTIALS"] {
        env.push((format!("MORTAR_RATE_LIMIT_{limit}"), "1000000".into()));
    }
    let mut starter = Starter::start(name, env);
    let api = Api {
        http: reqwest::Client::new(),
        base: starter.base.clone(),
    };
    let tokens = sign_up(&mut starter, &api, "fuzz@example.com").await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, org) = api
        .post("/orgs", Some(&token), json!({"name": "Fuzz"}))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{org}");

    // Signing out, and ending a session (schemathesis reuses ids it read in earlier answers,
    // ours included), end the session the other operations use: they run last, alone.
    let schema = format!("{}/openapi.json", starter.base);
    for only_logout in [false, true] {
        let mut cmd = Command::new("schemathesis");
        cmd.args(["run", &schema])
            .args(["--checks", CHECKS])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--max-examples", "30", "--workers", "2", "--seed", "1"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args([
                "--request-timeout",
                "30",
                "--no-color",
                "--generation-database",
                "none",
            ]);
        if only_logout {
            cmd.args(["--include-path-regex", SIGN_OUT]);
        } else {
            cmd.args(["--exclude-path-regex", SIGN_OUT]);
        }
        let out = cmd
            .current_dir(std::env::temp_dir())
            .output()
            .expect("schemathesis runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("{stdout}\n{stderr}");
        assert!(
            out.status.success(),
            "schemathesis found failures (exit {}):\n{stdout}\n{stderr}\nstarter output:\n{}",
            out.status,
            starter.output()
        );
    }
    let (status, output) = starter.stop();
    assert!(status.success(), "{output}");
}
