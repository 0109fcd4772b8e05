//! End to end through the tower layer (axum) and the actix middleware: the request's locale,
//! Content-Language and Vary, problem documents and garde validation errors in that locale.

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use garde::Validate;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use mortar_core::Problem;
use mortar_i18n::{I18n, Locale, LocaleLayer, t};
use serde::Deserialize;
use tower::ServiceExt as _;

#[derive(Deserialize, Validate)]
struct SignUp {
    #[garde(length(min = 3))]
    name: String,
    #[garde(email)]
    email: String,
}

fn i18n() -> I18n {
    I18n::builder()
        .default_locale("en")
        .add_ftl("en", "greeting = Hello")
        .add_ftl("de", "greeting = Hallo")
        .add_ftl("ar", "greeting = مرحبا")
        .build()
        .unwrap()
}

#[allow(clippy::result_large_err, reason = "Problem is the handler's error")]
async fn sign_up(
    locale: Locale,
    axum::Json(body): axum::Json<SignUp>,
) -> Result<&'static str, Problem> {
    locale.validate(&body)?;
    Ok("ok")
}

fn app() -> Router {
    Router::new()
        .route(
            "/",
            get(|locale: Locale| async move { t!(locale, "greeting").into_owned() }),
        )
        .route("/sign-up", post(sign_up))
        .route(
            "/denied",
            get(|| async {
                Problem::forbidden()
                    .with_type("urn:mortar:problem:permission-denied")
                    .with_title("You do not have permission to do this.")
                    .with_extension("permission", "posts:write")
            }),
        )
        .route("/missing", get(|| async { Problem::not_found() }))
        .route(
            "/vary",
            get(|| async { ([(http::header::VARY, "origin")], "x") }),
        )
        .layer(LocaleLayer::new(i18n()))
}

async fn call(req: Request<Body>) -> (http::response::Parts, serde_json::Value, String) {
    let res = app().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    if let Some(len) = parts.headers.get("content-length") {
        assert_eq!(
            len.to_str().unwrap(),
            bytes.len().to_string(),
            "content-length matches"
        );
    }
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    (parts, serde_json::from_str(&text).unwrap_or_default(), text)
}

fn get_with(uri: &str, accept: &str) -> Request<Body> {
    Request::get(uri)
        .header("accept-language", accept)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn content_language_and_vary() {
    let (parts, _, text) = call(get_with("/", "de-CH, en;q=0.5")).await;
    assert_eq!(text, "Hallo");
    assert_eq!(parts.headers["content-language"], "de");
    let vary: Vec<_> = parts
        .headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        vary,
        ["cookie, accept-language"],
        "the lang cookie and the header decide, in one field line"
    );
    let (parts, _, text) = call(get_with("/?lang=ar", "de")).await;
    assert_eq!(text, "مرحبا");
    assert_eq!(parts.headers["content-language"], "ar");
    let (parts, _, text) = call(get_with("/", "de;q=2")).await;
    assert_eq!(
        (text.as_str(), &parts.headers["content-language"]),
        ("Hello", &"en".parse::<http::HeaderValue>().unwrap())
    );
    // An existing Vary is kept and extended.
    let (parts, _, _) = call(get_with("/vary", "de")).await;
    let vary: Vec<_> = parts
        .headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(vary, ["origin", "cookie", "accept-language"]);
}

#[tokio::test]
async fn problems_in_the_request_locale() {
    let (parts, doc, _) = call(get_with("/denied", "de")).await;
    assert_eq!(parts.status, StatusCode::FORBIDDEN);
    assert_eq!(parts.headers["content-type"], "application/problem+json");
    assert_eq!(
        doc["title"], "Sie haben keine Berechtigung, dies zu tun.",
        "{doc}"
    );
    assert!(
        doc["detail"].as_str().unwrap().contains("posts:write"),
        "{doc}"
    );
    assert_eq!(doc["permission"], "posts:write");
    let (_, doc, _) = call(get_with("/missing", "ar")).await;
    assert_eq!(doc["title"], "غير موجود", "{doc}");
    let (_, doc, _) = call(get_with("/missing", "en")).await;
    assert_eq!(doc["title"], "Not Found");
}

#[tokio::test]
async fn validation_errors_end_to_end() {
    let sign_up = |accept: &str| {
        Request::post("/sign-up")
            .header("accept-language", accept)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"name":"x","email":"nope"}"#))
            .unwrap()
    };
    let (parts, doc, _) = call(sign_up("de")).await;
    assert_eq!(parts.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(doc["title"], "Die Anfrage ist ungültig.");
    let field = |doc: &serde_json::Value, pointer: &str| -> serde_json::Value {
        doc["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["pointer"] == pointer)
            .cloned()
            .unwrap()
    };
    let name = field(&doc, "#/name");
    assert_eq!(name["code"], "length-lower-than");
    assert_eq!(name["params"]["min"], 3);
    assert_eq!(name["detail"], "muss mindestens 3 Zeichen lang sein");
    let email = field(&doc, "#/email");
    assert_eq!(email["code"], "email");
    assert_eq!(email["detail"], "muss eine E-Mail-Adresse sein", "{email}");

    let (_, doc, _) = call(sign_up("ar")).await;
    let name = field(&doc, "#/name");
    assert_eq!(name["code"], "length-lower-than");
    let arabic = name["detail"].as_str().unwrap();
    assert!(arabic.contains('٣') || arabic.contains('3'), "{arabic}");
    assert_ne!(doc["title"], "The request is not valid.");

    let (_, doc, _) = call(sign_up("en")).await;
    assert_eq!(
        field(&doc, "#/name")["detail"],
        "must be at least 3 characters long"
    );
    assert_eq!(
        field(&doc, "#/email")["detail"],
        "must be an e-mail address"
    );
}

#[actix_web::test]
async fn actix_middleware() {
    use actix_web::{App, test, web};
    use mortar_i18n::actix::LocaleMiddleware;

    async fn denied() -> Result<String, Problem> {
        Err(Problem::forbidden()
            .with_type("urn:mortar:problem:permission-denied")
            .with_extension("permission", "x:y"))
    }
    let app = test::init_service(
        App::new()
            .wrap(LocaleMiddleware::new(i18n()))
            .route(
                "/",
                web::get().to(|locale: Locale| async move { t!(locale, "greeting").into_owned() }),
            )
            .route("/denied", web::get().to(denied))
            .route(
                "/vary",
                web::get().to(|| async {
                    actix_web::HttpResponse::Ok()
                        .insert_header(("vary", "origin, Cookie"))
                        .body("x")
                }),
            ),
    )
    .await;
    let req = test::TestRequest::get()
        .uri("/")
        .insert_header(("accept-language", "de"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.headers().get("content-language").unwrap(), "de");
    let vary: Vec<_> = res
        .headers()
        .get_all("vary")
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(vary, ["cookie, accept-language"]);
    assert_eq!(test::read_body(res).await, "Hallo");
    // An existing Vary is kept and extended by what it does not name yet.
    let req = test::TestRequest::get().uri("/vary").to_request();
    let res = test::call_service(&app, req).await;
    let vary: Vec<_> = res
        .headers()
        .get_all("vary")
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(vary, ["origin, Cookie", "accept-language"]);
    let req = test::TestRequest::get()
        .uri("/denied")
        .insert_header(("accept-language", "de"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status().as_u16(), 403);
    let doc: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
    assert_eq!(
        doc["title"], "Sie haben keine Berechtigung, dies zu tun.",
        "{doc}"
    );
}

/// A chain with two cookies and a header source: `Vary` names each header once, in the
/// chain's order, and leaves out a header source whose name is no field name.
#[actix_web::test]
async fn vary_names_each_header_once() {
    use mortar_i18n::{LocaleSource, Negotiation};

    let negotiation = Negotiation::new(i18n()).sources([
        LocaleSource::Cookie("lang".into()),
        LocaleSource::Header("X-Lang".into()),
        LocaleSource::Cookie("locale".into()),
        LocaleSource::Header("not a name".into()),
        LocaleSource::Header("x-lang".into()),
        LocaleSource::AcceptLanguage,
    ]);
    let app = Router::new()
        .route("/", get(|| async { "x" }))
        .layer(LocaleLayer::with(negotiation.clone()));
    let res = app.oneshot(get_with("/", "de")).await.unwrap();
    let vary: Vec<_> = res.headers().get_all("vary").iter().collect();
    assert_eq!(vary, ["cookie, X-Lang, accept-language"]);

    let app = actix_web::test::init_service(
        actix_web::App::new()
            .wrap(mortar_i18n::actix::LocaleMiddleware::with(negotiation))
            .route("/", actix_web::web::get().to(|| async { "x" })),
    )
    .await;
    let req = actix_web::test::TestRequest::get().uri("/").to_request();
    let res = actix_web::test::call_service(&app, req).await;
    let vary: Vec<_> = res
        .headers()
        .get_all("vary")
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(vary, ["cookie, X-Lang, accept-language"]);
}
