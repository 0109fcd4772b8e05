//! The request audit layer on axum (tower) and actix-web, and activity tracking.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::routing::{get, post};
use mortar_audit::{
    ActivityTracker, AuditLayer, AuditQuery, AuditStore as _, DurableRecorder, MemoryLastSeen,
    MemoryStore, RequestAudit,
};
use mortar_core::{Outcome, Principal};
use tower::ServiceExt as _;

fn alice() -> Principal {
    Principal::user("alice")
        .tenant("acme")
        .session_id("s-9")
        .build()
}

#[tokio::test]
async fn axum_records_mutating_requests_with_who_where_and_how_it_ended() {
    let store = Arc::new(MemoryStore::new());
    let recorder = DurableRecorder::builder()
        .shared_sink(store.clone())
        .start();
    let tracker = Arc::new(ActivityTracker::new(Arc::new(MemoryLastSeen::default())));
    let audit = RequestAudit::new(Arc::new(recorder.clone())).activity(tracker.clone());
    let app = Router::new()
        .route(
            "/orgs/{org}/items",
            post(|| async { StatusCode::CREATED }).get(|| async { "list" }),
        )
        .route("/forbidden", post(|| async { StatusCode::FORBIDDEN }))
        .route(
            "/broken",
            post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route("/ping", get(|| async { "pong" }))
        .layer(AuditLayer::new(audit));
    let send = |method: &str, uri: &str, signed_in: bool| {
        let mut req = http::Request::builder()
            .method(method)
            .uri(uri)
            .header("user-agent", "test-agent/1")
            .header("x-request-id", "req-42")
            .body(axum::body::Body::empty())
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(
            "203.0.113.5:4711".parse::<SocketAddr>().unwrap(),
        ));
        if signed_in {
            req.extensions_mut().insert(alice());
        }
        app.clone().oneshot(req)
    };
    assert_eq!(
        send("POST", "/orgs/7/items", true).await.unwrap().status(),
        201
    );
    assert_eq!(
        send("GET", "/orgs/7/items", true).await.unwrap().status(),
        200
    );
    assert_eq!(
        send("POST", "/forbidden", true).await.unwrap().status(),
        403
    );
    assert_eq!(send("POST", "/broken", false).await.unwrap().status(), 500);
    assert_eq!(send("GET", "/ping", false).await.unwrap().status(), 200);
    recorder.shutdown(Duration::from_secs(5)).await.unwrap();

    let page = store
        .query(&AuditQuery::new().action("http.request"))
        .await
        .unwrap();
    assert_eq!(
        page.records.len(),
        3,
        "GET requests are not recorded by default"
    );
    let by_route = |route: &str| {
        page.records
            .iter()
            .find(|r| r.event.metadata["route"] == route)
            .unwrap()
            .event
            .clone()
    };
    let created = by_route("/orgs/{org}/items");
    assert_eq!(created.outcome, Outcome::Success);
    assert_eq!(created.actor.as_ref().unwrap().subject, "alice");
    assert_eq!(
        created.actor.as_ref().unwrap().session_id.as_deref(),
        Some("s-9")
    );
    assert_eq!(created.tenant.as_deref(), Some("acme"));
    assert_eq!(created.ip, Some("203.0.113.5".parse().unwrap()));
    assert_eq!(created.user_agent.as_deref(), Some("test-agent/1"));
    assert_eq!(created.request_id.as_deref(), Some("req-42"));
    assert_eq!(created.metadata["method"], "POST");
    assert_eq!(created.metadata["status"], 201);
    assert!(created.metadata["latency_us"].is_u64());
    assert_eq!(by_route("/forbidden").outcome, Outcome::Denied);
    let broken = by_route("/broken");
    assert_eq!(broken.outcome, Outcome::Error);
    assert!(broken.actor.is_none());

    // Activity: alice was seen (on every request, GET included), written in one batch.
    assert_eq!(tracker.flush().await.unwrap(), 1);
    let seen = tracker.last_seen("alice").await.unwrap().unwrap();
    assert_eq!(seen.tenant.as_deref(), Some("acme"));
    assert_eq!(
        tracker.flush().await.unwrap(),
        0,
        "within the resolution nothing is rewritten"
    );
}

#[tokio::test]
async fn every_method_when_asked() {
    let store = Arc::new(MemoryStore::new());
    let recorder = DurableRecorder::builder()
        .shared_sink(store.clone())
        .start();
    let app = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .layer(AuditLayer::new(
            RequestAudit::new(Arc::new(recorder.clone())).methods(|_| true),
        ));
    let req = http::Request::get("/ping")
        .body(axum::body::Body::empty())
        .unwrap();
    app.oneshot(req).await.unwrap();
    recorder.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(store.len(), 1);
}

#[actix_web::test]
async fn actix_middleware_records_the_route_pattern_and_status() {
    use actix_web::{App, HttpMessage as _, HttpResponse, test, web};
    use mortar_audit::actix::AuditMiddleware;

    let store = Arc::new(MemoryStore::new());
    let recorder = DurableRecorder::builder()
        .shared_sink(store.clone())
        .start();
    let app = test::init_service(
        App::new()
            .wrap(AuditMiddleware::new(RequestAudit::new(Arc::new(
                recorder.clone(),
            ))))
            .route(
                "/orgs/{org}/items",
                web::post().to(|| async { HttpResponse::Created().finish() }),
            )
            .route(
                "/denied",
                web::delete().to(|| async { HttpResponse::Forbidden().finish() }),
            ),
    )
    .await;
    let req = test::TestRequest::post()
        .uri("/orgs/9/items")
        .peer_addr("192.0.2.1:1000".parse().unwrap())
        .insert_header(("x-request-id", "r-1"))
        .to_request();
    req.extensions_mut().insert(alice());
    assert_eq!(test::call_service(&app, req).await.status().as_u16(), 201);
    let req = test::TestRequest::delete().uri("/denied").to_request();
    assert_eq!(test::call_service(&app, req).await.status().as_u16(), 403);
    recorder.shutdown(Duration::from_secs(5)).await.unwrap();

    let page = store.query(&AuditQuery::new()).await.unwrap();
    assert_eq!(page.records.len(), 2);
    let denied = &page.records[0].event;
    assert_eq!(denied.outcome, Outcome::Denied);
    let created = &page.records[1].event;
    assert_eq!(created.metadata["route"], "/orgs/{org}/items");
    assert_eq!(created.metadata["status"], 201);
    assert_eq!(created.actor.as_ref().unwrap().subject, "alice");
    assert_eq!(created.ip, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(created.request_id.as_deref(), Some("r-1"));
}

#[tokio::test]
async fn a_request_dropped_before_its_response_is_recorded_as_cancelled() {
    let store = Arc::new(MemoryStore::new());
    let recorder = DurableRecorder::builder()
        .shared_sink(store.clone())
        .start();
    let app = Router::new()
        .route("/slow", post(std::future::pending::<StatusCode>))
        .layer(AuditLayer::new(RequestAudit::new(Arc::new(
            recorder.clone(),
        ))));
    let req = http::Request::post("/slow")
        .body(axum::body::Body::empty())
        .unwrap();
    // The client goes away: the server drops the request's future.
    let gone = tokio::time::timeout(Duration::from_millis(50), app.oneshot(req)).await;
    assert!(gone.is_err());
    recorder.shutdown(Duration::from_secs(5)).await.unwrap();
    let records = store.records();
    assert_eq!(records.len(), 1);
    let event = &records[0].event;
    assert_eq!(event.outcome, Outcome::Error);
    assert_eq!(event.metadata["cancelled"], true);
    assert!(!event.metadata.contains_key("status"));
}
