//! [`RequirePermission`] as a tower layer (feature `tower`).

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use mortar_core::{GateFuture, ProblemBody};
use tower_layer::Layer;
use tower_service::Service;

use crate::guard::{RequirePermission, Requirement};

impl<S> Layer<S> for RequirePermission {
    type Service = RequirePermissionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequirePermissionService {
            inner,
            requirement: Arc::clone(&self.requirement),
        }
    }
}

/// The service [`RequirePermission`] wraps around the inner one.
#[derive(Clone, Debug)]
pub struct RequirePermissionService<S> {
    inner: S,
    // Shared with the layer: one reference count per clone (axum clones per request).
    requirement: Arc<Requirement>,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RequirePermissionService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<ProblemBody<ResB>>;
    type Error = S::Error;
    type Future = GateFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let (parts, body) = req.into_parts();
        match self.requirement.authorize(&parts) {
            Ok(_) => GateFuture::inner(self.inner.call(Request::from_parts(parts, body))),
            Err(problem) => GateFuture::refused(problem),
        }
    }
}

/// The response future of [`RequirePermissionService`]: the inner service's, or the refusal,
/// ready at once (mortar-core's [`GateFuture`]).
pub type ResponseFuture<F, B> = GateFuture<F, B>;
