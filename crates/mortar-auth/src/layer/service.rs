//! [`Auth`], the service, and its future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use mortar_core::{GateFuture, ProblemBody};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::{AuthLayer, Decision};

/// The authentication middleware; see [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct Auth<S> {
    pub(super) inner: S,
    pub(super) layer: AuthLayer,
}

/// The boxed future of a request whose authentication waits on a store.
type Waiting<B, E> = Pin<Box<dyn Future<Output = Result<Response<ProblemBody<B>>, E>> + Send>>;

pin_project! {
    /// The response future of [`Auth`]. A request the authenticators answer from memory (a
    /// bearer token seen before, revocations in memory) is decided before the inner service is
    /// called and costs no allocation here; one whose authentication awaits a store (API keys,
    /// sessions, revocations in Redis) is boxed.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Decided { #[pin] future: GateFuture<F, B> },
        Waiting { future: Waiting<B, E> },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ProblemBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Decided { future } => future.poll(cx),
            KindProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for Auth<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqB: Send + 'static,
    ResB: http_body::Body<Data = Bytes> + Send + 'static,
{
    type Response = Response<ProblemBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        if let Some(decision) = self.layer.decide_now(&parts) {
            let future = match decision {
                Decision::Authenticated(principal) => {
                    parts.extensions.insert(principal);
                    GateFuture::inner(self.inner.call(Request::from_parts(parts, body)))
                }
                Decision::Anonymous => {
                    GateFuture::inner(self.inner.call(Request::from_parts(parts, body)))
                }
                Decision::Refused(problem) => GateFuture::refused(*problem),
            };
            return ResponseFuture {
                kind: Kind::Decided { future },
            };
        }
        // The ready service goes into the future; a fresh clone stays for the next call
        // (tower-http's async authorization does the same).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        let future = Box::pin(async move {
            match layer.decide(&parts).await {
                Decision::Authenticated(principal) => {
                    parts.extensions.insert(principal);
                }
                Decision::Anonymous => {}
                Decision::Refused(problem) => return Ok(problem.into_http_response()),
            }
            let response = inner.call(Request::from_parts(parts, body)).await?;
            Ok(response.map(ProblemBody::new))
        });
        ResponseFuture {
            kind: Kind::Waiting { future },
        }
    }
}
