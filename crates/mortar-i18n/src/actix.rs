//! actix-web integration (feature `actix`): the [`LocaleMiddleware`] (set the request's
//! [`Locale`], `Content-Language`, `Vary`, localized problem documents) and [`Locale`] as an
//! extractor.
//!
//! ```
//! use actix_web::{App, test, web};
//! use mortar_i18n::{I18n, Locale, actix::LocaleMiddleware};
//!
//! async fn hello(locale: Locale) -> String {
//!     locale.message("hello").into_owned()
//! }
//!
//! # #[actix_web::main] async fn main() {
//! let i18n = I18n::builder().default_locale("en")
//!     .add_ftl("en", "hello = Hello").add_ftl("ar", "hello = مرحبا").build().unwrap();
//! let app = test::init_service(
//!     App::new().wrap(LocaleMiddleware::new(i18n)).route("/", web::get().to(hello)),
//! ).await;
//! let req = test::TestRequest::get().uri("/").insert_header(("accept-language", "ar-EG")).to_request();
//! let res = test::call_service(&app, req).await;
//! assert_eq!(res.headers().get("content-language").unwrap(), "ar");
//! assert_eq!(test::read_body(res).await, "مرحبا");
//! # }
//! ```

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError as _};
use mortar_core::Problem;

use crate::i18n::Locale;
use crate::request::{Negotiation, Vary};

/// The middleware factory: `App::new().wrap(LocaleMiddleware::new(i18n))`. Wrap it inside the
/// authentication middleware when the chain reads a principal attribute.
///
/// Handlers' errors reach it as responses and are localized. An error returned by a middleware
/// wrapped inside it (an `Err` from the inner service rather than an error response) passes
/// through untouched: actix renders it later, and holding the request to render it here would
/// break actix's ownership of the request head.
#[derive(Clone, Debug)]
pub struct LocaleMiddleware {
    negotiation: Negotiation,
}

impl LocaleMiddleware {
    /// The default source chain (see [`Negotiation::new`]).
    pub fn new(i18n: crate::I18n) -> Self {
        Self::with(Negotiation::new(i18n))
    }

    /// A configured negotiation.
    pub fn with(negotiation: Negotiation) -> Self {
        Self { negotiation }
    }
}

impl<S, B> Transform<S, ServiceRequest> for LocaleMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B, BoxBody>>;
    type Error = actix_web::Error;
    type Transform = LocaleService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(LocaleService {
            service: Rc::new(service),
            negotiation: self.negotiation.clone(),
            vary: Rc::new(self.negotiation.vary()),
        }))
    }
}

/// The middleware; see [`LocaleMiddleware`].
#[derive(Debug)]
pub struct LocaleService<S> {
    service: Rc<S>,
    negotiation: Negotiation,
    /// The `Vary` values, built once per worker.
    vary: Rc<Vary<HeaderValue>>,
}

impl<S, B> Service<ServiceRequest> for LocaleService<S>
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
        let negotiation = self.negotiation.clone();
        let vary = Rc::clone(&self.vary);
        Box::pin(async move {
            let head = mortar_core::actix::request_head(req.request());
            let locale = negotiation.resolve(
                &head.uri,
                &head.headers,
                head.extensions.get::<mortar_core::Principal>(),
            );
            req.extensions_mut().insert(locale.clone());
            let mut response = service.call(req).await?;
            let headers = response.headers_mut();
            if !headers.contains_key(header::CONTENT_LANGUAGE)
                && let Ok(value) = HeaderValue::from_str(locale.tag())
            {
                headers.insert(header::CONTENT_LANGUAGE, value);
            }
            if headers.contains_key(header::VARY) {
                for value in &vary.values {
                    let Ok(name) = value.to_str() else { continue };
                    if !crate::response::varies_on(
                        headers
                            .get_all(header::VARY)
                            .filter_map(|v| v.to_str().ok()),
                        name,
                    ) {
                        headers.append(header::VARY, value.clone());
                    }
                }
            } else if let Some(joined) = &vary.joined {
                // Nothing varies yet (the usual case): one field line, as the tower layer
                // sends it.
                headers.insert(header::VARY, joined.clone());
            }
            let config = negotiation.config();
            let is_problem = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(crate::response::is_problem_type);
            let small = match response.response().body().size() {
                actix_web::body::BodySize::Sized(n) => {
                    usize::try_from(n).is_ok_and(|n| n <= config.max_problem_body)
                }
                _ => false,
            };
            if !(config.localize_problems && is_problem && small) {
                return Ok(response.map_into_left_body());
            }
            let (request, response) = response.into_parts();
            let (head, body) = response.into_parts();
            let Ok(bytes) = actix_web::body::to_bytes(body).await else {
                let problem = Problem::internal_error();
                return Ok(
                    ServiceResponse::new(request, problem.error_response()).map_into_right_body()
                );
            };
            let body = locale
                .localize_problem_body(&bytes)
                .map_or(bytes, Into::into);
            let mut head = head.set_body(BoxBody::new(body));
            head.headers_mut().remove(header::CONTENT_LENGTH);
            Ok(ServiceResponse::new(request, head).map_into_right_body())
        })
    }
}

/// The request's locale. Without [`LocaleMiddleware`] the extraction fails with a 500 problem
/// (a wiring mistake, logged), never a panic.
impl FromRequest for Locale {
    type Error = Problem;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Locale>().cloned().ok_or_else(|| {
            tracing::error!(target: "mortar_i18n", "no Locale on the request: is LocaleMiddleware installed?");
            Problem::internal_error()
        }))
    }
}
