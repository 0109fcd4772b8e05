//! actix-web 4 integration (feature `actix`): [`RequirePermission`] as middleware for scopes
//! and resources, and [`Guard`] as an extractor for checks inside handlers (the [`Rbac`] comes
//! from `app_data(web::Data<Rbac>)`). Same problem documents as the tower layer.
//!
//! ```
//! use actix_web::{App, HttpMessage as _, test, web};
//! use mortar_core::Principal;
//! use mortar_rbac::actix::RequirePermission;
//! use mortar_rbac::{Assignment, Policy, Rbac, Role};
//!
//! # #[actix_web::main] async fn main() {
//! let rbac = Rbac::new(
//!     Policy::new()
//!         .role("viewer", Role::new().allow("posts:read"))
//!         .assign(Assignment::new("vic", "viewer")),
//! ).unwrap();
//! let app = test::init_service(
//!     App::new()
//!         .service(web::resource("/posts").wrap(RequirePermission::new(&rbac, "posts:read").unwrap())
//!             .route(web::get().to(|| async { "list" })))
//!         .service(web::resource("/posts/{id}").wrap(RequirePermission::new(&rbac, "posts:write").unwrap().id_after("posts"))
//!             .route(web::put().to(|| async { "saved" }))),
//! ).await;
//! let as_vic = |req: test::TestRequest| {
//!     let req = req.to_request();
//!     req.extensions_mut().insert(Principal::user("vic").build());
//!     req
//! };
//! assert_eq!(test::call_service(&app, as_vic(test::TestRequest::get().uri("/posts"))).await.status().as_u16(), 200);
//! assert_eq!(test::call_service(&app, as_vic(test::TestRequest::put().uri("/posts/1"))).await.status().as_u16(), 403);
//! assert_eq!(test::call_service(&app, test::TestRequest::get().uri("/posts").to_request()).await.status().as_u16(), 401);
//! # }
//! ```

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{FromRequest, HttpRequest, ResponseError as _, web};
use mortar_core::actix::request_head;
use mortar_core::{MissingPrincipal, Principal, Problem};

use crate::guard::Requirement;
pub use crate::guard::{Guard, RequirePermission};
use crate::rbac::Rbac;

impl<S, B> Transform<S, ServiceRequest> for RequirePermission
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Transform = RequirePermissionMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequirePermissionMiddleware {
            service: Rc::new(service),
            requirement: Arc::clone(&self.requirement),
        }))
    }
}

/// The middleware; see [`RequirePermission`].
#[derive(Debug)]
pub struct RequirePermissionMiddleware<S> {
    service: Rc<S>,
    requirement: Arc<Requirement>,
}

impl<S, B> Service<ServiceRequest> for RequirePermissionMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let decided = self
            .requirement
            .authorize(&request_head(req.request()))
            .map(drop);
        match decided {
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

impl FromRequest for Guard {
    type Error = Problem;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let Some(rbac) = req.app_data::<web::Data<Rbac>>() else {
            tracing::error!("mortar-rbac: no web::Data<Rbac> registered for Guard");
            return ready(Err(Problem::internal_error()));
        };
        let head = request_head(req);
        let Some(principal) = Principal::from_extensions(&head.extensions).cloned() else {
            return ready(Err(MissingPrincipal.into()));
        };
        ready(Ok(Self::new(principal, Rbac::clone(rbac), &head)))
    }
}
