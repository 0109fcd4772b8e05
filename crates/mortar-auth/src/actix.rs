//! actix-web 4 middleware (feature `actix`): the [`AuthLayer`]'s
//! authenticator chain and modes on actix, inserting the [`Principal`](mortar_core::Principal) into the request
//! extensions where mortar-core's actix extractor finds it.
//!
//! actix-web 4 speaks `http` 0.2; the request head is converted to `http` 1 here, at the edge,
//! and nowhere else.
//!
//! ```
//! use actix_web::{App, test, web};
//! use mortar_auth::actix::Authenticate;
//! use mortar_auth::layer::AuthLayer;
//! use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
//! use mortar_core::{AuthMethod, Principal};
//!
//! # #[actix_web::main] async fn main() {
//! let tokens = AccessTokens::builder(
//!     KeyRing::new(SigningKey::generate_ed25519("k1").unwrap()),
//!     "https://auth.example.com",
//!     "https://api.example.com",
//! )
//! .build();
//! let app = test::init_service(
//!     App::new()
//!         .wrap(Authenticate::new(AuthLayer::required().with(tokens.clone())))
//!         .route("/me", web::get().to(|p: Principal| async move { p.subject().to_owned() })),
//! )
//! .await;
//! let token = tokens.issue(&Principal::user("user-1").method(AuthMethod::Password).build()).unwrap();
//! let req = test::TestRequest::get()
//!     .uri("/me")
//!     .insert_header(("authorization", format!("Bearer {}", token.token())))
//!     .to_request();
//! assert_eq!(test::call_and_read_body(&app, req).await, "user-1");
//! let res = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
//! assert_eq!(res.status().as_u16(), 401);
//! # }
//! ```

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{HttpMessage as _, ResponseError as _};
use mortar_core::Problem;

use crate::layer::{AuthLayer, Decision};

/// The middleware factory: `App::new().wrap(Authenticate::new(layer))`.
#[derive(Clone, Debug)]
pub struct Authenticate {
    layer: AuthLayer,
}

impl Authenticate {
    /// Authenticates with the layer's chain and mode.
    pub fn new(layer: AuthLayer) -> Self {
        Self { layer }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Authenticate
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Transform = AuthenticateMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthenticateMiddleware {
            service: Rc::new(service),
            layer: self.layer.clone(),
        }))
    }
}

/// The middleware; see [`Authenticate`].
#[derive(Debug)]
pub struct AuthenticateMiddleware<S> {
    service: Rc<S>,
    layer: AuthLayer,
}

fn problem_response<B>(
    req: ServiceRequest,
    problem: &Problem,
) -> ServiceResponse<EitherBody<B, BoxBody>> {
    req.into_response(problem.error_response())
        .map_into_right_body()
}

impl<S, B> Service<ServiceRequest> for AuthenticateMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let head = mortar_core::actix::request_head(req.request());
        // Decided from memory (a token verified before, an in-process revocation list): no
        // await before the inner service, and no clone of the layer.
        if let Some(decision) = self.layer.decide_now(&head) {
            if let Some(refused) = admit(&req, decision) {
                return Box::pin(ready(Ok(problem_response(req, &refused))));
            }
            let future = self.service.call(req);
            return Box::pin(async move { future.await.map(ServiceResponse::map_into_left_body) });
        }
        let service = Rc::clone(&self.service);
        let layer = self.layer.clone();
        Box::pin(async move {
            if let Some(refused) = admit(&req, layer.decide(&head).await) {
                return Ok(problem_response(req, &refused));
            }
            service
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        })
    }
}

/// Puts an authenticated principal into the request's extensions; the problem of a refusal.
fn admit(req: &ServiceRequest, decision: Decision) -> Option<Box<Problem>> {
    match decision {
        Decision::Authenticated(principal) => {
            req.extensions_mut().insert(principal);
            None
        }
        Decision::Anonymous => None,
        Decision::Refused(problem) => Some(problem),
    }
}
