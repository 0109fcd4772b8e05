//! The HTTP edges: the tower layer, the axum extractors and the actix middleware / extractor,
//! with the problem documents they answer.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, put};
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use mortar_core::Principal;
use mortar_rbac::axum::{Authorized, Guard, Requires};
use mortar_rbac::{Assignment, Policy, Rbac, RequirePermission, Resource, ResourceId, Role};
use serde_json::Value;
use tower::ServiceExt as _;

fn rbac() -> Rbac {
    Rbac::new(
        Policy::new()
            .role("viewer", Role::new().allow("posts:read"))
            .role(
                "editor",
                Role::new().inherits("viewer").allow("posts:write"),
            )
            .role(
                "office",
                Role::new().allow_when("reports:read", "ip_in(context.ip, '10.0.0.0/8')"),
            )
            .assign(Assignment::new("vic", "viewer").in_tenant("acme"))
            .assign(
                Assignment::new("eda", "editor")
                    .in_tenant("acme")
                    .on(ResourceId::new("posts", "42").unwrap()),
            )
            .assign(Assignment::new("vic", "office").in_tenant("acme")),
    )
    .unwrap()
}

async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    who: Option<&str>,
    peer: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    if let Some(who) = who {
        req.extensions_mut()
            .insert(Principal::user(who).tenant("acme").build());
    }
    if let Some(peer) = peer {
        req.extensions_mut()
            .insert(peer.parse::<SocketAddr>().unwrap());
    }
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_layer_answers_401_403_404_and_passes_the_allowed() {
    let rbac = rbac();
    let app = Router::new()
        .route(
            "/posts/{id}",
            put(|| async { "saved" }).route_layer(
                RequirePermission::new(&rbac, "posts:write")
                    .unwrap()
                    .id_after("posts"),
            ),
        )
        .route(
            "/drafts/{id}",
            put(|| async { "saved" }).route_layer(
                RequirePermission::new(&rbac, "posts:write")
                    .unwrap()
                    .on(|parts, _| {
                        parts
                            .uri
                            .path()
                            .strip_prefix("/drafts/x")
                            .map(|id| Resource::new("posts", id).tenant("acme"))
                    }),
            ),
        )
        .route(
            "/reports",
            get(|| async { "report" })
                .route_layer(RequirePermission::new(&rbac, "reports:read").unwrap()),
        );

    // A grant on post 42 covers post 42 only.
    assert_eq!(
        send(&app, "PUT", "/posts/42", Some("eda"), None).await.0,
        StatusCode::OK
    );
    let (status, problem) = send(&app, "PUT", "/posts/43", Some("eda"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["type"], "urn:mortar:problem:permission-denied");
    assert_eq!(problem["status"], 403);
    assert_eq!(problem["permission"], "posts:write");
    assert!(
        problem.get("detail").is_none(),
        "the policy is not disclosed: {problem}"
    );
    let (status, problem) = send(&app, "PUT", "/posts/42", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["type"], "urn:mortar:problem:unauthenticated");
    // A closure naming no resource answers 404; one naming it decides on it.
    assert_eq!(
        send(&app, "PUT", "/drafts/42", Some("eda"), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, "PUT", "/drafts/x42", Some("eda"), None).await.0,
        StatusCode::OK
    );
    // The peer address reaches conditions as context.ip; without it the condition denies.
    assert_eq!(
        send(&app, "GET", "/reports", Some("vic"), Some("10.1.2.3:5000"))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, "GET", "/reports", Some("vic"), Some("192.0.2.1:5000"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, "GET", "/reports", Some("vic"), None).await.0,
        StatusCode::FORBIDDEN
    );
    // Wildcards are not requirements.
    assert!(RequirePermission::new(&rbac, "posts:*").is_err());
    assert!(RequirePermission::new(&rbac, "posts").is_err());
}

struct WritePost;
impl Requires for WritePost {
    const PERMISSION: &'static str = "posts:write";
    const ID_PARAM: Option<&'static str> = Some("id");
}

struct ReadPosts;
impl Requires for ReadPosts {
    const PERMISSION: &'static str = "posts:read";
}

struct Broken;
impl Requires for Broken {
    const PERMISSION: &'static str = "not a permission";
}

#[tokio::test]
async fn the_axum_extractors() {
    let app = Router::new()
        .route(
            "/posts",
            get(|who: Authorized<ReadPosts>| async move { who.principal().subject().to_owned() }),
        )
        .route(
            "/posts/{id}",
            put(|_: Authorized<WritePost>| async { "saved" }),
        )
        .route("/broken", get(|_: Authorized<Broken>| async { "never" }))
        .route(
            "/check/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<String>, guard: Guard| async move {
                    guard.require("write", &Resource::new("posts", id).tenant("acme"))?;
                    Ok::<_, mortar_core::Problem>("ok")
                },
            ),
        )
        .with_state(rbac());
    assert_eq!(
        send(&app, "GET", "/posts", Some("vic"), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, "GET", "/posts", Some("eda"), None).await.0,
        StatusCode::FORBIDDEN,
        "eda's grant is on post 42 only"
    );
    assert_eq!(
        send(&app, "GET", "/posts", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, "PUT", "/posts/42", Some("eda"), None).await.0,
        StatusCode::OK
    );
    let (status, problem) = send(&app, "PUT", "/posts/7", Some("eda"), None).await;
    assert_eq!(
        (status, problem["permission"].as_str()),
        (StatusCode::FORBIDDEN, Some("posts:write"))
    );
    assert_eq!(
        send(&app, "GET", "/broken", Some("vic"), None).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        send(&app, "GET", "/check/42", Some("eda"), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, "GET", "/check/41", Some("eda"), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, "GET", "/check/41", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn the_actix_middleware_and_guard() {
    use actix_web::{App, HttpMessage as _, test, web};
    use mortar_rbac::actix::{Guard as ActixGuard, RequirePermission as Require};

    let rbac = rbac();
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(rbac.clone()))
            .service(
                web::resource("/posts/{id}")
                    .wrap(
                        Require::new(&rbac, "posts:write")
                            .unwrap()
                            .id_after("posts"),
                    )
                    .route(web::put().to(|| async { "saved" })),
            )
            .service(
                web::resource("/reports")
                    .wrap(Require::new(&rbac, "reports:read").unwrap())
                    .route(web::get().to(|| async { "report" })),
            )
            .route(
                "/check/{id}",
                web::get().to(|id: web::Path<String>, guard: ActixGuard| async move {
                    guard.require(
                        "write",
                        &Resource::new("posts", id.into_inner()).tenant("acme"),
                    )?;
                    Ok::<_, mortar_core::Problem>("ok")
                }),
            ),
    )
    .await;
    let call = |req: test::TestRequest, who: Option<&str>| {
        let req = req.to_request();
        if let Some(who) = who {
            req.extensions_mut()
                .insert(Principal::user(who).tenant("acme").build());
        }
        test::call_service(&app, req)
    };
    assert_eq!(
        call(test::TestRequest::put().uri("/posts/42"), Some("eda"))
            .await
            .status()
            .as_u16(),
        200
    );
    let denied = call(test::TestRequest::put().uri("/posts/43"), Some("eda")).await;
    assert_eq!(denied.status().as_u16(), 403);
    assert_eq!(
        denied.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body: Value = serde_json::from_slice(&test::read_body(denied).await).unwrap();
    assert_eq!(body["permission"], "posts:write");
    assert_eq!(
        call(test::TestRequest::put().uri("/posts/42"), None)
            .await
            .status()
            .as_u16(),
        401
    );
    let office = test::TestRequest::get()
        .uri("/reports")
        .peer_addr("10.0.0.9:4000".parse().unwrap());
    assert_eq!(call(office, Some("vic")).await.status().as_u16(), 200);
    let outside = test::TestRequest::get()
        .uri("/reports")
        .peer_addr("192.0.2.9:4000".parse().unwrap());
    assert_eq!(call(outside, Some("vic")).await.status().as_u16(), 403);
    assert_eq!(
        call(test::TestRequest::get().uri("/check/42"), Some("eda"))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        call(test::TestRequest::get().uri("/check/41"), Some("eda"))
            .await
            .status()
            .as_u16(),
        403
    );
    assert_eq!(
        call(test::TestRequest::get().uri("/check/41"), None)
            .await
            .status()
            .as_u16(),
        401
    );
}

/// `tenant_after`: the guard decides in the tenant the path names, whatever tenant the
/// principal carries; an id found by `id_after` belongs to that tenant; conditions see it as
/// `subject.tenant`.
#[tokio::test]
async fn the_guard_acts_in_the_tenant_the_path_names() {
    let rbac = Rbac::new(
        Policy::new()
            .role("analyst", Role::new().allow("reports:read"))
            .role(
                "own-tenant",
                Role::new().allow_when("audit:read", "subject.tenant == 'globex'"),
            )
            .role("editor", Role::new().allow("posts:write"))
            .assign(Assignment::new("ann", "analyst").in_tenant("acme"))
            .assign(Assignment::new("ann", "own-tenant").in_tenant("globex"))
            .assign(Assignment::new("ann", "editor").in_tenant("globex")),
    )
    .unwrap();
    let guard = |p: &str| RequirePermission::new(&rbac, p).unwrap();
    let app = Router::new()
        .route(
            "/orgs/{org}/reports",
            get(|| async { "reports" }).route_layer(guard("reports:read").tenant_after("orgs")),
        )
        .route(
            "/orgs/{org}/audit",
            get(|| async { "audit" }).route_layer(guard("audit:read").tenant_after("orgs")),
        )
        .route(
            "/orgs/{org}/posts/{id}",
            put(|| async { "saved" })
                .route_layer(guard("posts:write").id_after("posts").tenant_after("orgs")),
        )
        .route(
            "/reports",
            get(|| async { "none" }).route_layer(guard("reports:read").tenant_after("orgs")),
        );
    let call = |method: &'static str, uri: &'static str, tenant: Option<&'static str>| {
        let app = app.clone();
        async move {
            let mut req = Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            let mut principal = Principal::user("ann");
            if let Some(tenant) = tenant {
                principal = principal.tenant(tenant);
            }
            req.extensions_mut().insert(principal.build());
            app.oneshot(req).await.unwrap().status()
        }
    };
    // Roles assigned in the tenant the path names count, whatever the token's tenant.
    assert_eq!(
        call("GET", "/orgs/acme/reports", None).await,
        StatusCode::OK
    );
    assert_eq!(
        call("GET", "/orgs/acme/reports", Some("globex")).await,
        StatusCode::OK
    );
    assert_eq!(
        call("GET", "/orgs/globex/reports", Some("acme")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call("GET", "/orgs/initech/reports", None).await,
        StatusCode::FORBIDDEN
    );
    // Conditions see the acting tenant.
    assert_eq!(
        call("GET", "/orgs/globex/audit", Some("acme")).await,
        StatusCode::OK
    );
    assert_eq!(
        call("GET", "/orgs/acme/audit", Some("globex")).await,
        StatusCode::FORBIDDEN
    );
    // The resource `id_after` names lives in the acting tenant.
    assert_eq!(
        call("PUT", "/orgs/globex/posts/7", Some("acme")).await,
        StatusCode::OK
    );
    assert_eq!(
        call("PUT", "/orgs/acme/posts/7", Some("globex")).await,
        StatusCode::FORBIDDEN
    );
    // No tenant in the path: 404, never a decision in some other tenant.
    assert_eq!(
        call("GET", "/reports", Some("acme")).await,
        StatusCode::NOT_FOUND
    );
}

/// A guard on a kind in general (no resource closure) places it in the acting tenant, so a
/// condition reading `resource.tenant` sees the organization the path names; the refusal
/// still names the permission.
#[tokio::test]
async fn a_kind_in_general_lives_in_the_acting_tenant() {
    let rbac = Rbac::new(
        Policy::new()
            .role(
                "globex-invoices",
                Role::new().allow_when("invoices:read", "resource.tenant == 'globex'"),
            )
            .assign(Assignment::new("ann", "globex-invoices")),
    )
    .unwrap();
    let app = Router::new().route(
        "/orgs/{org}/invoices",
        get(|| async { "invoices" }).route_layer(
            RequirePermission::new(&rbac, "invoices:read")
                .unwrap()
                .tenant_after("orgs"),
        ),
    );
    let call = |uri: &'static str| {
        let app = app.clone();
        async move {
            let mut req = Request::get(uri).body(Body::empty()).unwrap();
            req.extensions_mut()
                .insert(Principal::user("ann").tenant("acme").build());
            let res = app.oneshot(req).await.unwrap();
            let status = res.status();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    assert_eq!(
        call("/orgs/globex/invoices").await,
        (StatusCode::OK, "invoices".to_owned())
    );
    let (status, body) = call("/orgs/acme/invoices").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("invoices:read"), "{body}");
}
