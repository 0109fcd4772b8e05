//! [`RequirePermission`] as a tower layer (feature `tower`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use mortar_core::ProblemBody;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::guard::{RequirePermission, Requirement};

impl<S> Layer<S> for RequirePermission {
    type Service = RequirePermissionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequirePermissionService {
            inner,
            requirement: self.requirement.clone(),
        }
    }
}

/// The service [`RequirePermission`] wraps around the inner one.
#[derive(Clone, Debug)]
pub struct RequirePermissionService<S> {
    inner: S,
    requirement: Requirement,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RequirePermissionService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
{
    type Response = Response<ProblemBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let (parts, body) = req.into_parts();
        match self.requirement.authorize(&parts) {
            Ok(_) => ResponseFuture {
                state: State::Inner {
                    future: self.inner.call(Request::from_parts(parts, body)),
                },
            },
            Err(problem) => ResponseFuture {
                state: State::Refused {
                    response: Some(problem.into_http_response()),
                },
            },
        }
    }
}

pin_project! {
    /// The response future of [`RequirePermissionService`]: the inner service's, or the
    /// refusal, ready at once.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = Proj]
    enum State<F, B> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response<ProblemBody<B>>> },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ProblemBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            Proj::Inner { future } => future
                .poll(cx)
                .map(|r| r.map(|res| res.map(ProblemBody::new))),
            Proj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled after completion: a contract breach by the caller; stay pending.
                None => Poll::Pending,
            },
        }
    }
}
