//! Shared pieces of the Mortar benchmarks.
//!
//! [`Guard`] is the smallest realistic layer that may answer early: it lets a request through
//! when it carries an `x-allow` header and answers a 401 problem document otherwise. It comes in
//! two shapes so the benchmark can compare them on the same input:
//!
//! - [`GuardLayer`]: the response body is [`ProblemBody<B>`], an enum (no allocation);
//! - [`BoxedGuardLayer`]: the response body is boxed, the usual alternative.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use mortar_core::{Problem, ProblemBody};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// The header that lets a request through the guard.
pub const ALLOW: &str = "x-allow";

/// Layer producing [`Guard`].
#[derive(Clone, Copy, Debug, Default)]
pub struct GuardLayer;

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard { inner }
    }
}

/// A guard answering with [`ProblemBody`].
#[derive(Clone, Copy, Debug)]
pub struct Guard<S> {
    inner: S,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for Guard<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<ProblemBody<ResB>>;
    type Error = S::Error;
    type Future = GuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        if req.headers().contains_key(ALLOW) {
            GuardFuture {
                kind: GuardKind::Inner {
                    future: self.inner.call(req),
                },
            }
        } else {
            GuardFuture {
                kind: GuardKind::Denied {
                    problem: Some(Problem::unauthorized()),
                },
            }
        }
    }
}

pin_project! {
    /// Future of [`Guard`].
    #[derive(Debug)]
    pub struct GuardFuture<F> {
        #[pin]
        kind: GuardKind<F>,
    }
}

pin_project! {
    #[project = GuardProj]
    #[derive(Debug)]
    enum GuardKind<F> {
        Inner { #[pin] future: F },
        Denied { problem: Option<Problem> },
    }
}

impl<F, B, E> Future for GuardFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ProblemBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            GuardProj::Inner { future } => future
                .poll(cx)
                .map(|r| r.map(|res| res.map(ProblemBody::new))),
            GuardProj::Denied { problem } => {
                let problem = problem.take().unwrap_or_else(Problem::internal_error);
                Poll::Ready(Ok(problem.to_http_response()))
            }
        }
    }
}

/// Layer producing [`BoxedGuard`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BoxedGuardLayer;

impl<S> Layer<S> for BoxedGuardLayer {
    type Service = BoxedGuard<S>;

    fn layer(&self, inner: S) -> BoxedGuard<S> {
        BoxedGuard { inner }
    }
}

/// The same guard answering with a boxed body.
#[derive(Clone, Copy, Debug)]
pub struct BoxedGuard<S> {
    inner: S,
}

/// The boxed response body of [`BoxedGuard`].
pub type BoxedBody<E> = UnsyncBoxBody<Bytes, E>;

impl<S, ReqB, ResB> Service<Request<ReqB>> for BoxedGuard<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: Body<Data = Bytes> + Send + 'static,
{
    type Response = Response<BoxedBody<ResB::Error>>;
    type Error = S::Error;
    type Future = BoxedGuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        if req.headers().contains_key(ALLOW) {
            BoxedGuardFuture {
                kind: BoxedGuardKind::Inner {
                    future: self.inner.call(req),
                },
            }
        } else {
            BoxedGuardFuture {
                kind: BoxedGuardKind::Denied {
                    problem: Some(Problem::unauthorized()),
                },
            }
        }
    }
}

pin_project! {
    /// Future of [`BoxedGuard`].
    #[derive(Debug)]
    pub struct BoxedGuardFuture<F> {
        #[pin]
        kind: BoxedGuardKind<F>,
    }
}

pin_project! {
    #[project = BoxedGuardProj]
    #[derive(Debug)]
    enum BoxedGuardKind<F> {
        Inner { #[pin] future: F },
        Denied { problem: Option<Problem> },
    }
}

impl<F, B, E> Future for BoxedGuardFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes> + Send + 'static,
{
    type Output = Result<Response<BoxedBody<B::Error>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            BoxedGuardProj::Inner { future } => future
                .poll(cx)
                .map(|r| r.map(|res| res.map(BodyExt::boxed_unsync))),
            BoxedGuardProj::Denied { problem } => {
                let problem = problem.take().unwrap_or_else(Problem::internal_error);
                let (parts, json) = problem.to_parts();
                let body = http_body_util::Full::new(json)
                    .map_err(|never| match never {})
                    .boxed_unsync();
                Poll::Ready(Ok(Response::from_parts(parts, body)))
            }
        }
    }
}
