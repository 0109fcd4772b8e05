//! actix-web integration (feature `actix`): [`Problem`] as a `ResponseError` and [`Principal`]
//! as an extractor.
//!
//! actix-web 4 uses `http` 0.2, so headers are converted here, at the edge, and nowhere else.
//! An authentication middleware inserts the principal with
//! `req.extensions_mut().insert(principal)`; `Option<Principal>` works through actix's own
//! blanket implementation.
//!
//! ```
//! use actix_web::{App, HttpMessage, test, web};
//! use mortar_core::{Principal, Problem};
//!
//! async fn me(principal: Principal) -> String {
//!     principal.subject().to_owned()
//! }
//!
//! async fn gone() -> Result<String, Problem> {
//!     Err(Problem::new(http::StatusCode::GONE))
//! }
//!
//! # #[actix_web::main] async fn main() {
//! let app = test::init_service(
//!     App::new().route("/me", web::get().to(me)).route("/gone", web::get().to(gone)),
//! )
//! .await;
//!
//! let res = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
//! assert_eq!(res.status().as_u16(), 401);
//! assert_eq!(res.headers().get("content-type").unwrap(), "application/problem+json");
//!
//! let req = test::TestRequest::get().uri("/me").to_request();
//! req.extensions_mut().insert(Principal::user("user-7").build());
//! let res = test::call_service(&app, req).await;
//! assert_eq!(res.status().as_u16(), 200);
//!
//! let res = test::call_service(&app, test::TestRequest::get().uri("/gone").to_request()).await;
//! assert_eq!(res.status().as_u16(), 410);
//! # }
//! ```

use std::future::{Ready, ready};

use actix_web::body::BoxBody;
use actix_web::dev::Payload;
use actix_web::http::StatusCode as ActixStatus;
use actix_web::http::header::{HeaderName as ActixName, HeaderValue as ActixValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::principal::{MissingPrincipal, Principal};
use crate::problem::Problem;

/// The `http` 1 head of an actix request — method, URI, headers, and as extensions the
/// [`Principal`] an earlier middleware inserted and the peer's [`std::net::SocketAddr`] — for
/// code written against `http` 1 (Mortar's authenticators and rate-limit policies).
///
/// ```
/// use actix_web::test::TestRequest;
///
/// let req = TestRequest::post()
///     .uri("/items?page=2")
///     .insert_header(("x-api-key", "k"))
///     .peer_addr("192.0.2.1:4000".parse().unwrap())
///     .to_http_request();
/// let head = mortar_core::actix::request_head(&req);
/// assert_eq!(head.method, http::Method::POST);
/// assert_eq!(head.uri, "/items?page=2");
/// assert_eq!(head.headers["x-api-key"], "k");
/// assert!(head.extensions.get::<std::net::SocketAddr>().is_some());
/// ```
pub fn request_head(req: &HttpRequest) -> http::request::Parts {
    let mut builder = http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string());
    for (name, value) in req.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    // Every http 0.2 method, URI and header is valid in http 1; an empty head is the fallback.
    let mut parts = builder.body(()).map_or_else(
        |_| http::Request::new(()).into_parts().0,
        |r| r.into_parts().0,
    );
    if let Some(principal) = req.extensions().get::<Principal>() {
        parts.extensions.insert(principal.clone());
    }
    if let Some(peer) = req.peer_addr() {
        parts.extensions.insert(peer);
    }
    parts
}

/// Appends `http` 1 headers to an actix header map (the other direction of
/// [`request_head`]).
pub fn append_headers(target: &mut actix_web::http::header::HeaderMap, headers: &http::HeaderMap) {
    for (name, value) in headers {
        // Every `http` 1 header name and value is valid in `http` 0.2; skip defensively.
        if let (Ok(name), Ok(value)) = (
            ActixName::from_bytes(name.as_str().as_bytes()),
            ActixValue::from_bytes(value.as_bytes()),
        ) {
            target.append(name, value);
        }
    }
}

/// Converts a problem into an actix response (status and headers carried across the `http` 0.2
/// boundary).
fn to_actix(problem: &Problem) -> HttpResponse<BoxBody> {
    let (parts, bytes) = problem.to_parts();
    let status =
        ActixStatus::from_u16(parts.status.as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::with_body(status, BoxBody::new(bytes));
    append_headers(response.headers_mut(), &parts.headers);
    response
}

impl ResponseError for Problem {
    fn status_code(&self) -> ActixStatus {
        ActixStatus::from_u16(self.status().as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        to_actix(self)
    }
}

impl ResponseError for MissingPrincipal {
    fn status_code(&self) -> ActixStatus {
        ActixStatus::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        to_actix(&Problem::from(*self))
    }
}

/// Extracts the authenticated principal; rejects with a 401 problem when there is none (or it is
/// the anonymous principal).
impl FromRequest for Principal {
    type Error = MissingPrincipal;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let found = req
            .extensions()
            .get::<Principal>()
            .filter(|p| !p.is_anonymous())
            .cloned();
        ready(found.ok_or(MissingPrincipal))
    }
}
