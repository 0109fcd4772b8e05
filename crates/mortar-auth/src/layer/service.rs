//! [`Auth`], the service, and its future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use mortar_core::ProblemBody;
use tower_service::Service;

use super::{AuthLayer, Decision};

/// The authentication middleware; see [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct Auth<S> {
    pub(super) inner: S,
    pub(super) layer: AuthLayer,
}

/// The response future of [`Auth`]. Authentication awaits stores (revocation, API keys), so the
/// future is boxed: one allocation per request, next to the stores' own work.
pub type ResponseFuture<B, E> =
    Pin<Box<dyn Future<Output = Result<Response<ProblemBody<B>>, E>> + Send>>;

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
    type Future = ResponseFuture<ResB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        // The ready service goes into the future; a fresh clone stays for the next call
        // (tower-http's async authorization does the same).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            match layer.decide(&parts).await {
                Decision::Authenticated(principal) => {
                    parts.extensions.insert(principal);
                }
                Decision::Anonymous => {}
                Decision::Refused(problem) => return Ok(problem.into_http_response()),
            }
            let response = inner.call(Request::from_parts(parts, body)).await?;
            Ok(response.map(ProblemBody::new))
        })
    }
}
