//! actix-web 4 integration (feature `actix`): [`AuditMiddleware`], the request audit layer as
//! middleware (same events as the tower layer; see [`RequestAudit`]).
//!
//! ```
//! use std::sync::Arc;
//! use actix_web::{App, test, web};
//! use mortar_audit::{AuditQuery, AuditStore as _, DurableRecorder, MemoryStore, RequestAudit};
//! use mortar_audit::actix::AuditMiddleware;
//!
//! # #[actix_web::main] async fn main() {
//! let store = Arc::new(MemoryStore::new());
//! let recorder = DurableRecorder::builder().shared_sink(store.clone()).start();
//! let app = test::init_service(
//!     App::new()
//!         .wrap(AuditMiddleware::new(RequestAudit::new(Arc::new(recorder.clone()))))
//!         .route("/items", web::post().to(|| async { "created" })),
//! ).await;
//! test::call_service(&app, test::TestRequest::post().uri("/items").to_request()).await;
//! recorder.shutdown(std::time::Duration::from_secs(5)).await.unwrap();
//! let page = store.query(&AuditQuery::new().action("http.request")).await.unwrap();
//! assert_eq!(page.records[0].event.metadata["route"], "/items");
//! # }
//! ```

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use mortar_core::actix::request_head;

use crate::http::RequestAudit;

/// The request audit middleware.
#[derive(Clone, Debug)]
pub struct AuditMiddleware {
    audit: RequestAudit,
}

impl AuditMiddleware {
    /// Middleware recording as `audit` says. Register it inside (before, in actix's `wrap`
    /// order: after) the authentication middleware, so the `Principal` is present.
    pub fn new(audit: RequestAudit) -> Self {
        Self { audit }
    }
}

impl<S, B> Transform<S, ServiceRequest> for AuditMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = AuditMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuditMiddlewareService {
            service: Rc::new(service),
            audit: self.audit.clone(),
        }))
    }
}

/// The service [`AuditMiddleware`] wraps around the inner one.
#[derive(Debug)]
pub struct AuditMiddlewareService<S> {
    service: Rc<S>,
    audit: RequestAudit,
}

impl<S, B> Service<ServiceRequest> for AuditMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        // Converting the head copies every header: only for requests the audit wants.
        let method = http::Method::from_bytes(req.method().as_str().as_bytes());
        if !method.is_ok_and(|m| self.audit.wants(&m)) {
            return Box::pin(self.service.call(req));
        }
        let mut head = request_head(req.request());
        if let Some(pattern) = req.match_pattern() {
            head.extensions.insert(MatchedRoute(pattern));
        }
        let pending = self.audit.start(&head);
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let result = service.call(req).await;
            if let Some(pending) = pending {
                let status = match &result {
                    Ok(res) => res.status().as_u16(),
                    Err(e) => e.as_response_error().status_code().as_u16(),
                };
                pending.finish(
                    http::StatusCode::from_u16(status)
                        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                );
            }
            result
        })
    }
}

/// actix's matched route pattern, handed to [`RequestAudit::start`] in the head's extensions.
#[derive(Clone, Debug)]
pub(crate) struct MatchedRoute(pub(crate) String);
