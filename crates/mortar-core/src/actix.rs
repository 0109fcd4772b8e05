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

/// Converts a problem into an actix response (status and headers carried across the `http` 0.2
/// boundary).
fn to_actix(problem: &Problem) -> HttpResponse<BoxBody> {
    let (parts, bytes) = problem.to_parts();
    let status =
        ActixStatus::from_u16(parts.status.as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::with_body(status, BoxBody::new(bytes));
    let headers = response.headers_mut();
    for (name, value) in &parts.headers {
        // Every `http` 1 header name and value is valid in `http` 0.2; skip defensively.
        if let (Ok(name), Ok(value)) = (
            ActixName::from_bytes(name.as_str().as_bytes()),
            ActixValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
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
