//! [`AuditLayer`]: the request audit layer for tower stacks (feature `tower`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::http::{PendingRequest, RequestAudit};

/// Records requests (see [`RequestAudit`]) around the inner service. Place it inside the
/// authentication layer, so the `Principal` is in the request extensions when it runs.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::sync::Arc;
/// use axum::{Router, routing::post};
/// use mortar_audit::{AuditLayer, RequestAudit};
/// use mortar_core::audit::{AuditEvent, FnRecorder};
/// use tower::ServiceExt as _;
///
/// let (tx, rx) = std::sync::mpsc::channel::<AuditEvent>();
/// let tx = std::sync::Mutex::new(tx);
/// let recorder = Arc::new(FnRecorder::new(move |e| { tx.lock().unwrap().send(e).unwrap(); }));
/// let app = Router::new()
///     .route("/items/{id}", post(|| async { "ok" }))
///     .layer(AuditLayer::new(RequestAudit::new(recorder)));
/// let req = http::Request::post("/items/7").body(axum::body::Body::empty()).unwrap();
/// app.oneshot(req).await.unwrap();
/// let event = rx.recv().unwrap();
/// assert_eq!(event.metadata["route"], "/items/{id}");
/// assert_eq!(event.metadata["status"], 200);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct AuditLayer {
    // Behind one reference count: axum clones the service stack for every request, and the
    // configuration holds several shared parts of its own.
    audit: Arc<RequestAudit>,
}

impl AuditLayer {
    /// A layer recording as `audit` says.
    pub fn new(audit: RequestAudit) -> Self {
        Self {
            audit: Arc::new(audit),
        }
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = AuditService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuditService {
            inner,
            audit: Arc::clone(&self.audit),
        }
    }
}

/// The service [`AuditLayer`] wraps around the inner one.
#[derive(Clone, Debug)]
pub struct AuditService<S> {
    inner: S,
    audit: Arc<RequestAudit>,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for AuditService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = AuditFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        if !self.audit.records(req.method()) {
            // Not recorded (a GET, by default): tracked in place, the request not taken apart.
            self.audit.track(req.extensions());
            return AuditFuture {
                future: self.inner.call(req),
                pending: None,
            };
        }
        let (parts, body) = req.into_parts();
        let pending = self.audit.start(&parts);
        AuditFuture {
            future: self.inner.call(Request::from_parts(parts, body)),
            pending,
        }
    }
}

pin_project! {
    /// The response future of [`AuditService`].
    pub struct AuditFuture<F> {
        #[pin]
        future: F,
        pending: Option<PendingRequest>,
    }
}

impl<F: std::fmt::Debug> std::fmt::Debug for AuditFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditFuture").finish_non_exhaustive()
    }
}

impl<F, ResB, E> Future for AuditFuture<F>
where
    F: Future<Output = Result<Response<ResB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.future.poll(cx));
        if let Some(pending) = this.pending.take() {
            // An error from the inner service never became a response; it counts as a 500.
            let status = result
                .as_ref()
                .map_or(StatusCode::INTERNAL_SERVER_ERROR, Response::status);
            pending.finish(status);
        }
        Poll::Ready(result)
    }
}
