//! axum integration (feature `axum`): [`Problem`] as a response and [`Principal`] as an extractor.
//!
//! ```
//! use axum::{Router, routing::get};
//! use http::Request;
//! use mortar_core::{Principal, Problem};
//! use tower::ServiceExt;
//!
//! async fn me(principal: Principal) -> String {
//!     principal.subject().to_owned()
//! }
//!
//! async fn hello(principal: Option<Principal>) -> String {
//!     principal.map_or("hello, stranger".into(), |p| format!("hello, {}", p.subject()))
//! }
//!
//! async fn teapot() -> Result<(), Problem> {
//!     Err(Problem::new(http::StatusCode::IM_A_TEAPOT))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .route("/hello", get(hello))
//!     .route("/teapot", get(teapot));
//!
//! // No authenticator ran, so there is no principal: 401 problem document.
//! let res = app.clone().oneshot(Request::get("/me").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 401);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//!
//! // An authenticator would insert the principal into the extensions.
//! let mut req = Request::get("/me").body(axum::body::Body::empty()).unwrap();
//! req.extensions_mut().insert(Principal::user("user-7").build());
//! assert_eq!(app.clone().oneshot(req).await.unwrap().status(), 200);
//!
//! let res = app.clone().oneshot(Request::get("/hello").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 200);
//!
//! let res = app.oneshot(Request::get("/teapot").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), 418);
//! # }
//! ```

use std::convert::Infallible;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::principal::{MissingPrincipal, Principal};
use crate::problem::Problem;

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let (parts, bytes) = self.into_parts();
        Response::from_parts(parts, Body::from(bytes))
    }
}

impl IntoResponse for MissingPrincipal {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// Extracts the authenticated principal; rejects with a 401 problem when there is none (or it is
/// the anonymous principal).
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = MissingPrincipal;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Principal::from_extensions(&parts.extensions)
            .cloned()
            .ok_or(MissingPrincipal)
    }
}

/// `Option<Principal>`: `None` for unauthenticated requests; never rejects.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(Principal::from_extensions(&parts.extensions).cloned())
    }
}
