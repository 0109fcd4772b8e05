//! actix-web 4 integration (feature `actix`): [`FlagsMiddleware`] inserts a [`Flags`] handle
//! into each request, [`RequireFlag`] gates a scope or resource (404 when the flag is off), and
//! [`Flags`] is an extractor (from the middleware, or built from `app_data(web::Data<FeatureFlags>)`).
//!
//! ```
//! use actix_web::{App, test, web};
//! use mortar_flags::actix::FlagsMiddleware;
//! use mortar_flags::{FeatureFlags, FlagDefinition, FlagSet, Flags, RequireFlag};
//!
//! # #[actix_web::main] async fn main() {
//! let flags = FeatureFlags::from_set(
//!     FlagSet::new()
//!         .flag("beta", FlagDefinition::boolean(false))
//!         .flag("banner", FlagDefinition::boolean(true)),
//! );
//! let app = test::init_service(
//!     App::new()
//!         .wrap(FlagsMiddleware::new(flags.clone()))
//!         .service(web::resource("/beta").wrap(RequireFlag::new(&flags, "beta")).to(|| async { "beta" }))
//!         .route("/", web::get().to(|flags: Flags| async move {
//!             if flags.is_enabled("banner") { "with banner" } else { "plain" }
//!         })),
//! ).await;
//! let res = test::call_service(&app, test::TestRequest::get().uri("/beta").to_request()).await;
//! assert_eq!(res.status().as_u16(), 404);
//! let body = test::call_and_read_body(&app, test::TestRequest::get().uri("/").to_request()).await;
//! assert_eq!(body, "with banner");
//! # }
//! ```

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, ResponseError as _, web};
use mortar_core::Problem;
use mortar_core::actix::request_head;

pub use crate::edge::{Flags, RequireFlag};
use crate::flags::FeatureFlags;

/// Inserts [`Flags`] with the request's context (see [`crate::context_from_parts`]) into each
/// request. Register it after (inside) the authentication middleware.
#[derive(Clone, Debug)]
pub struct FlagsMiddleware {
    flags: FeatureFlags,
}

impl FlagsMiddleware {
    /// The middleware for these flags.
    pub fn new(flags: FeatureFlags) -> Self {
        Self { flags }
    }
}

impl<S, B> Transform<S, ServiceRequest> for FlagsMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = FlagsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(FlagsService {
            service,
            flags: self.flags.clone(),
        }))
    }
}

/// The service of [`FlagsMiddleware`].
#[derive(Debug)]
pub struct FlagsService<S> {
    service: S,
    flags: FeatureFlags,
}

impl<S, B> Service<ServiceRequest> for FlagsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = S::Future;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let flags = Flags::for_request(self.flags.clone(), &request_head(req.request()));
        req.extensions_mut().insert(flags);
        self.service.call(req)
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequireFlag
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Transform = RequireFlagMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireFlagMiddleware {
            service: Rc::new(service),
            gate: self.clone(),
        }))
    }
}

/// The middleware of [`RequireFlag`].
#[derive(Debug)]
pub struct RequireFlagMiddleware<S> {
    service: Rc<S>,
    gate: RequireFlag,
}

impl<S, B> Service<ServiceRequest> for RequireFlagMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let mut head = request_head(req.request());
        if let Some(flags) = req.extensions().get::<Flags>() {
            head.extensions.insert(flags.clone());
        }
        match self.gate.check(&head) {
            Ok(()) => {
                let service = Rc::clone(&self.service);
                Box::pin(async move { Ok(service.call(req).await?.map_into_left_body()) })
            }
            Err(problem) => {
                let response = problem.error_response();
                Box::pin(async move { Ok(req.into_response(response).map_into_right_body()) })
            }
        }
    }
}

impl FromRequest for Flags {
    type Error = Problem;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        if let Some(flags) = req.extensions().get::<Flags>() {
            return ready(Ok(flags.clone()));
        }
        let Some(flags) = req.app_data::<web::Data<FeatureFlags>>() else {
            tracing::error!("mortar-flags: Flags needs FlagsMiddleware or web::Data<FeatureFlags>");
            return ready(Err(Problem::internal_error()));
        };
        ready(Ok(Flags::for_request(
            FeatureFlags::clone(flags),
            &request_head(req),
        )))
    }
}
