//! actix-web 4 middleware (feature `actix`): the [`RateLimitLayer`]'s policies on actix, with the
//! same problem documents and headers.
//!
//! ```
//! use std::num::NonZeroU32;
//! use actix_web::{App, test, web};
//! use mortar_ratelimit::actix::Limit;
//! use mortar_ratelimit::{KeyBy, Policy, Quota, RateLimitLayer, RateLimiter};
//!
//! # #[actix_web::main] async fn main() {
//! let limiter = RateLimiter::memory()
//!     .policy(Policy::new("api", Quota::per_minute(NonZeroU32::new(1).unwrap()), KeyBy::Ip).unwrap());
//! let app = test::init_service(
//!     App::new()
//!         .wrap(Limit::new(RateLimitLayer::new(limiter)))
//!         .route("/", web::get().to(|| async { "hi" })),
//! )
//! .await;
//! let req = || test::TestRequest::get().uri("/").peer_addr("192.0.2.1:4000".parse().unwrap()).to_request();
//! assert_eq!(test::call_service(&app, req()).await.status().as_u16(), 200);
//! let refused = test::call_service(&app, req()).await;
//! assert_eq!(refused.status().as_u16(), 429);
//! assert_eq!(refused.headers().get("retry-after").unwrap(), "60");
//! # }
//! ```

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::ResponseError as _;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use mortar_core::actix::{append_headers, request_head};

use crate::layer::{RateLimitLayer, insert_headers};
use crate::limiter::Outcome;

/// The middleware factory: `App::new().wrap(Limit::new(layer))`. Wrap it inside the
/// authentication middleware when policies key by principal.
#[derive(Clone, Debug)]
pub struct Limit {
    layer: RateLimitLayer,
}

impl Limit {
    /// Limits with this layer's limiter, policies and 429 body.
    pub fn new(layer: RateLimitLayer) -> Self {
        Self { layer }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Limit
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Transform = LimitMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(LimitMiddleware {
            service: Rc::new(service),
            layer: self.layer.clone(),
        }))
    }
}

/// The middleware; see [`Limit`].
#[derive(Debug)]
pub struct LimitMiddleware<S> {
    service: Rc<S>,
    layer: RateLimitLayer,
}

fn headers_of(outcome: &Outcome) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    insert_headers(&mut headers, outcome);
    headers
}

impl<S, B> Service<ServiceRequest> for LimitMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let layer = self.layer.clone();
        Box::pin(async move {
            let outcome = layer.limiter().check(&request_head(req.request())).await;
            let headers = headers_of(&outcome);
            if let Some(problem) = layer.refusal(&outcome) {
                let mut response = problem.error_response();
                append_headers(response.headers_mut(), &headers);
                return Ok(req.into_response(response).map_into_right_body());
            }
            let mut response = service.call(req).await?;
            append_headers(response.headers_mut(), &headers);
            Ok(response.map_into_left_body())
        })
    }
}
