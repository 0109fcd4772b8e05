//! Shared pieces of the Mortar benchmarks.
//!
//! [`Guard`] is the smallest realistic layer that may answer early: it lets a request through
//! when it carries an `x-allow` header and answers 401 otherwise. How it builds its response is
//! a [`Respond`] strategy, so the benchmark compares the strategies on one layer and one input:
//!
//! - [`WithProblemBody`]: the body is [`ProblemBody<B>`] (an enum, no allocation) and a rejection
//!   is a problem document;
//! - [`Boxed`]: the body is boxed, the usual alternative, and a rejection is the same document;
//! - [`Plain`]: the inner body type unchanged and a rejection is an empty 401 — the same stack
//!   without `ProblemBody` (and without a problem document).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use mortar_core::{Problem, ProblemBody};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// The header that lets a request through the guard.
pub const ALLOW: &str = "x-allow";

/// How the guard turns the inner response, or a rejection, into its own response.
pub trait Respond<B> {
    /// The guard's response body.
    type Body;

    /// The inner service's response, passed on.
    fn pass(response: Response<B>) -> Response<Self::Body>;

    /// The early answer.
    fn reject(problem: Problem) -> Response<Self::Body>;
}

/// Answers through [`ProblemBody`].
#[derive(Clone, Copy, Debug)]
pub enum WithProblemBody {}

impl<B> Respond<B> for WithProblemBody {
    type Body = ProblemBody<B>;

    fn pass(response: Response<B>) -> Response<Self::Body> {
        response.map(ProblemBody::new)
    }

    fn reject(problem: Problem) -> Response<Self::Body> {
        problem.into_http_response()
    }
}

/// Answers through a boxed body.
#[derive(Clone, Copy, Debug)]
pub enum Boxed {}

impl<B> Respond<B> for Boxed
where
    B: Body<Data = Bytes> + Send + 'static,
{
    type Body = UnsyncBoxBody<Bytes, B::Error>;

    fn pass(response: Response<B>) -> Response<Self::Body> {
        response.map(BodyExt::boxed_unsync)
    }

    fn reject(problem: Problem) -> Response<Self::Body> {
        let (parts, json) = problem.into_parts();
        let body = http_body_util::Full::new(json)
            .map_err(|never| match never {})
            .boxed_unsync();
        Response::from_parts(parts, body)
    }
}

/// Passes the inner body type unchanged; rejects with an empty body.
#[derive(Clone, Copy, Debug)]
pub enum Plain {}

impl<B: Default> Respond<B> for Plain {
    type Body = B;

    fn pass(response: Response<B>) -> Response<B> {
        response
    }

    fn reject(problem: Problem) -> Response<B> {
        let mut response = Response::new(B::default());
        *response.status_mut() =
            StatusCode::from_u16(problem.status().as_u16()).unwrap_or(StatusCode::UNAUTHORIZED);
        response
    }
}

/// Layer producing [`Guard`] with strategy `R`.
#[derive(Debug)]
pub struct GuardLayer<R> {
    _respond: PhantomData<fn() -> R>,
}

impl<R> GuardLayer<R> {
    /// The layer.
    pub fn new() -> Self {
        Self {
            _respond: PhantomData,
        }
    }
}

impl<R> Default for GuardLayer<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> Clone for GuardLayer<R> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<S, R> Layer<S> for GuardLayer<R> {
    type Service = Guard<S, R>;

    fn layer(&self, inner: S) -> Guard<S, R> {
        Guard {
            inner,
            _respond: PhantomData,
        }
    }
}

/// The guard service.
#[derive(Debug)]
pub struct Guard<S, R> {
    inner: S,
    _respond: PhantomData<fn() -> R>,
}

impl<S: Clone, R> Clone for Guard<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _respond: PhantomData,
        }
    }
}

impl<S, R, ReqB, ResB> Service<Request<ReqB>> for Guard<S, R>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    R: Respond<ResB>,
{
    type Response = Response<R::Body>;
    type Error = S::Error;
    type Future = GuardFuture<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let kind = if req.headers().contains_key(ALLOW) {
            Kind::Inner {
                future: self.inner.call(req),
            }
        } else {
            Kind::Denied {
                problem: Some(Problem::unauthorized()),
            }
        };
        GuardFuture {
            kind,
            _respond: PhantomData,
        }
    }
}

pin_project! {
    /// Future of [`Guard`].
    pub struct GuardFuture<F, R> {
        #[pin]
        kind: Kind<F>,
        _respond: PhantomData<fn() -> R>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] future: F },
        Denied { problem: Option<Problem> },
    }
}

impl<F, R> std::fmt::Debug for GuardFuture<F, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GuardFuture")
    }
}

impl<F, R, B, E> Future for GuardFuture<F, R>
where
    F: Future<Output = Result<Response<B>, E>>,
    R: Respond<B>,
{
    type Output = Result<Response<R::Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx).map(|r| r.map(R::pass)),
            KindProj::Denied { problem } => {
                let problem = problem.take().unwrap_or_else(Problem::internal_error);
                Poll::Ready(Ok(R::reject(problem)))
            }
        }
    }
}
