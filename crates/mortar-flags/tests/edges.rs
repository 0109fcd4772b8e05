//! The HTTP edges: the tower `FlagsLayer` and `RequireFlag` in axum, the axum and actix
//! extractors, and the actix middleware — contexts from the principal and the request, the
//! 404 gate, experiments from handlers.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use mortar_core::Principal;
use mortar_flags::{
    FeatureFlags, FlagDefinition, FlagSet, Flags, FlagsLayer, MemoryExposures, RequireFlag,
};
use serde_json::json;
use tower::ServiceExt as _;

fn flags() -> FlagSet {
    FlagSet::new()
        .flag(
            "beta",
            FlagDefinition::boolean(false)
                .targeting(json!({"if": [{"in": ["beta", {"var": "roles"}]}, "on", null]})),
        )
        .flag(
            "greeting",
            FlagDefinition::new([("en", json!("hello")), ("de", json!("hallo"))], Some("en"))
                .targeting(json!({"if": [{"starts_with": [{"var": "locale"}, "de"]}, "de", null]})),
        )
        .flag(
            "layout",
            FlagDefinition::new(
                [("a", json!("classic")), ("b", json!("compact"))],
                Some("a"),
            )
            .targeting(json!({"fractional": [["a", 50], ["b", 50]]})),
        )
}

fn app(flags: FeatureFlags) -> Router {
    Router::new()
        .route(
            "/beta",
            get(|| async { "beta" }).route_layer(RequireFlag::new(&flags, "beta")),
        )
        .route(
            "/hello",
            get(|flags: Flags| async move { flags.string("greeting", "hi").value }),
        )
        .route(
            "/layout",
            get(|flags: Flags| async move { flags.assign("layout").await.value.to_string() }),
        )
        .route(
            "/who",
            get(|flags: Flags| async move {
                format!(
                    "{:?} {:?}",
                    flags.context().targeting_key(),
                    flags.context().get("plan")
                )
            }),
        )
        .layer(FlagsLayer::new(flags).context_with(|parts, ctx| {
            if let Some(plan) = parts.headers.get("x-plan").and_then(|v| v.to_str().ok()) {
                ctx.set("plan", plan);
            }
        }))
}

async fn call(
    app: &Router,
    uri: &str,
    who: Option<Principal>,
    headers: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::empty()).unwrap();
    if let Some(p) = who {
        req.extensions_mut().insert(p);
    }
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (status, ct, body)
}

#[tokio::test]
async fn axum_gate_extractor_and_context() {
    let exposures = MemoryExposures::new();
    let flags = FeatureFlags::builder()
        .source(flags())
        .exposures(exposures.clone())
        .build()
        .await
        .unwrap();
    let app = app(flags);
    let tester = || Some(Principal::user("ann").role("beta").build());
    assert_eq!(call(&app, "/beta", tester(), &[]).await.0, StatusCode::OK);
    let (status, ct, body) = call(&app, "/beta", Some(Principal::user("bob").build()), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(ct, "application/problem+json");
    assert!(body.contains("\"status\":404"), "{body}");
    assert_eq!(
        call(&app, "/beta", None, &[]).await.0,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        call(
            &app,
            "/hello",
            None,
            &[("accept-language", "de-CH;q=0.9, en")]
        )
        .await
        .2,
        "hallo"
    );
    assert_eq!(
        call(&app, "/hello", None, &[("accept-language", "fr")])
            .await
            .2,
        "hello"
    );
    assert_eq!(
        call(&app, "/who", tester(), &[("x-plan", "pro")]).await.2,
        "Some(\"ann\") Some(String(\"pro\"))"
    );

    let first = call(&app, "/layout", tester(), &[]).await.2;
    for _ in 0..5 {
        assert_eq!(
            call(&app, "/layout", tester(), &[]).await.2,
            first,
            "sticky per subject"
        );
    }
    let seen = exposures.take();
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[0].targeting_key.as_deref(), Some("ann"));
}

#[tokio::test]
async fn axum_extractor_without_the_layer_is_a_500_problem() {
    let app: Router = Router::new().route(
        "/",
        get(|flags: Flags| async move { flags.is_enabled("x").to_string() }),
    );
    let res = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[actix_web::test]
async fn actix_middleware_gate_and_extractor() {
    use actix_web::{App, HttpMessage as _, test, web};
    use mortar_flags::actix::FlagsMiddleware;

    let flags = FeatureFlags::from_set(flags());
    let app = test::init_service(
        App::new()
            .service(
                web::resource("/beta")
                    .wrap(RequireFlag::new(&flags, "beta"))
                    .to(|| async { "beta" }),
            )
            .route(
                "/hello",
                web::get().to(|flags: Flags| async move { flags.string("greeting", "hi").value }),
            )
            .wrap(FlagsMiddleware::new(flags.clone())),
    )
    .await;
    let req = |uri: &str, who: Option<Principal>| {
        let req = test::TestRequest::get()
            .uri(uri)
            .insert_header(("accept-language", "de"))
            .to_request();
        if let Some(p) = who {
            req.extensions_mut().insert(p);
        }
        req
    };
    let res = test::call_service(
        &app,
        req("/beta", Some(Principal::user("ann").role("beta").build())),
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    let res = test::call_service(&app, req("/beta", Some(Principal::user("bob").build()))).await;
    assert_eq!(res.status().as_u16(), 404);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body = test::call_and_read_body(&app, req("/hello", None)).await;
    assert_eq!(body, "hallo");

    // Without the middleware the extractor builds the context from `web::Data<FeatureFlags>`.
    let bare = test::init_service(App::new().app_data(web::Data::new(flags.clone())).route(
        "/hello",
        web::get().to(|flags: Flags| async move { flags.string("greeting", "hi").value }),
    ))
    .await;
    assert_eq!(
        test::call_and_read_body(&bare, req("/hello", None)).await,
        "hallo"
    );
    let none = test::init_service(App::new().route(
        "/hello",
        web::get().to(|flags: Flags| async move { flags.string("greeting", "hi").value }),
    ))
    .await;
    assert_eq!(
        test::call_service(&none, req("/hello", None))
            .await
            .status()
            .as_u16(),
        500
    );
}
