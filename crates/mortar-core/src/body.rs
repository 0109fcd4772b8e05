//! [`ProblemBody`]: the body of a layer that may answer early with a problem document.
//!
//! A tower layer that rejects some requests (authentication, rate limiting, permissions) must
//! return one response type for both outcomes. Boxing the inner body would cost an allocation and
//! dynamic dispatch on every request; instead the layer's response body is
//! `ProblemBody<B>`, an enum of the inner service's body and a problem document, in the manner of
//! `tower_http::limit::ResponseBody`.
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::BodyExt;
//! use mortar_core::{Problem, ProblemBody};
//! use tower::{ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // A service that refuses requests without an `x-key` header and passes the others on.
//! let svc = service_fn(|req: Request<String>| async move {
//!     if req.headers().contains_key("x-key") {
//!         Ok::<_, std::convert::Infallible>(Response::new(ProblemBody::new(String::from("hello"))))
//!     } else {
//!         Ok(Problem::unauthorized().to_http_response())
//!     }
//! });
//!
//! let res = svc.oneshot(Request::new(String::new())).await.unwrap();
//! assert_eq!(res.status(), 401);
//! let body = res.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, Bytes::from_static(br#"{"type":"about:blank","title":"Unauthorized","status":401}"#));
//! # }
//! ```

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// A response body that is either the inner service's body `B` or a problem document.
    ///
    /// It forwards every frame, size hint and end-of-stream signal of the inner body unchanged;
    /// the problem variant yields its JSON in one data frame and reports its exact size.
    pub struct ProblemBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Problem { json: Option<Bytes> },
    }
}

impl<B> ProblemBody<B> {
    /// Wraps the inner service's body.
    pub fn new(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// A body holding a serialized problem document (see [`crate::Problem::to_http_response`],
    /// which also sets the matching headers).
    pub(crate) fn from_json(json: Bytes) -> Self {
        Self {
            kind: Kind::Problem { json: Some(json) },
        }
    }

    /// Whether this body is a problem document rather than the inner body.
    pub fn is_problem(&self) -> bool {
        matches!(self.kind, Kind::Problem { .. })
    }

    /// The inner body, or `None` for a problem document.
    pub fn into_inner(self) -> Option<B> {
        match self.kind {
            Kind::Inner { body } => Some(body),
            Kind::Problem { .. } => None,
        }
    }
}

/// A body of these bytes, in one data frame with its exact size: what a layer outside a gate
/// builds its own answers in (the rate limiter's 429, say), so such layers compose in one
/// `ServiceBuilder` around the gates that answer with a `ProblemBody`. Like a gate's refusal,
/// it is not the inner service's body: [`ProblemBody::is_problem`] answers `true`.
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::BodyExt as _;
/// use mortar_core::ProblemBody;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let body = ProblemBody::<http_body_util::Empty<Bytes>>::from(Bytes::from_static(b"{}"));
/// assert_eq!(body.collect().await.unwrap().to_bytes(), "{}");
/// # }
/// ```
impl<B> From<Bytes> for ProblemBody<B> {
    fn from(bytes: Bytes) -> Self {
        Self::from_json(bytes)
    }
}

impl<B: Default> Default for ProblemBody<B> {
    fn default() -> Self {
        Self::new(B::default())
    }
}

impl<B> fmt::Debug for ProblemBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("ProblemBody::Inner"),
            Kind::Problem { json } => f
                .debug_struct("ProblemBody::Problem")
                .field("remaining", &json.as_ref().map_or(0, Bytes::len))
                .finish(),
        }
    }
}

impl<B> Body for ProblemBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Problem { json } => Poll::Ready(json.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Problem { json } => json.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Problem { json } => {
                SizeHint::with_exact(json.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::{BodyExt, Empty, Full, StreamBody};

    use super::*;
    use crate::Problem;

    #[tokio::test]
    async fn problem_variant_is_one_exact_frame_then_ends() {
        let problem = Problem::not_found();
        let expected = problem.to_json();
        let mut body = problem.to_http_response::<Full<Bytes>>().into_body();
        assert!(body.is_problem());
        assert!(!body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(expected.len() as u64));

        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), expected);
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        assert!(body.frame().await.is_none());
        assert!(body.frame().await.is_none(), "stays ended");
    }

    #[tokio::test]
    async fn inner_variant_forwards_frames_hints_and_trailers() {
        let full = ProblemBody::new(Full::new(Bytes::from_static(b"hello")));
        assert!(!full.is_problem());
        assert_eq!(full.size_hint().exact(), Some(5));
        assert_eq!(full.collect().await.unwrap().to_bytes(), "hello");

        let empty = ProblemBody::new(Empty::<Bytes>::new());
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));

        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-checksum", "abc".parse().unwrap());
        let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
            Ok(Frame::data(Bytes::from_static(b"a"))),
            Ok(Frame::data(Bytes::from_static(b"b"))),
            Ok(Frame::trailers(trailers.clone())),
        ];
        let stream = ProblemBody::new(StreamBody::new(futures_util_stream(frames)));
        assert_eq!(stream.size_hint().exact(), None);
        let collected = stream.collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), "ab");
    }

    #[tokio::test]
    async fn inner_errors_pass_through() {
        #[derive(Debug)]
        struct Boom;
        let frames: Vec<Result<Frame<Bytes>, Boom>> = vec![Err(Boom)];
        let mut body = ProblemBody::new(StreamBody::new(futures_util_stream(frames)));
        assert!(matches!(body.frame().await, Some(Err(Boom))));
    }

    #[test]
    fn into_inner_and_debug() {
        assert_eq!(
            ProblemBody::new(String::from("x")).into_inner().unwrap(),
            "x"
        );
        let problem = Problem::not_found()
            .to_http_response::<String>()
            .into_body();
        assert!(format!("{problem:?}").starts_with("ProblemBody::Problem"));
        assert!(problem.into_inner().is_none());
    }

    fn futures_util_stream<T>(items: Vec<T>) -> futures_util::stream::Iter<std::vec::IntoIter<T>> {
        futures_util::stream::iter(items)
    }
}

pin_project! {
    /// The response future of a gate layer (a tower service that either passes the request on
    /// or answers a problem at once): the inner service's future, its body wrapped in
    /// [`ProblemBody`], or the refusal, ready on first poll. Not boxed.
    ///
    /// ```
    /// use mortar_core::{GateFuture, Problem};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let passed = GateFuture::inner(async { Ok::<_, ()>(http::Response::new("ok")) });
    /// assert_eq!(passed.await.unwrap().status(), 200);
    /// let refused: GateFuture<std::future::Ready<Result<http::Response<&str>, ()>>, &str> =
    ///     GateFuture::refused(Problem::not_found());
    /// assert_eq!(refused.await.unwrap().status(), 404);
    /// # }
    /// ```
    pub struct GateFuture<F, B> {
        #[pin]
        state: GateState<F, B>,
    }
}

pin_project! {
    #[project = GateProj]
    enum GateState<F, B> {
        Inner { #[pin] future: F },
        Refused { response: Option<http::Response<ProblemBody<B>>> },
    }
}

impl<F, B> GateFuture<F, B> {
    /// Passes: the inner service's future.
    pub fn inner(future: F) -> Self {
        Self {
            state: GateState::Inner { future },
        }
    }

    /// Refuses with `problem`.
    pub fn refused(problem: crate::Problem) -> Self {
        Self {
            state: GateState::Refused {
                response: Some(problem.into_http_response()),
            },
        }
    }
}

impl<F, B, E> Future for GateFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<ProblemBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            GateProj::Inner { future } => future
                .poll(cx)
                .map(|r| r.map(|res| res.map(ProblemBody::new))),
            GateProj::Refused { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled after completion: a contract breach by the caller; stay pending.
                None => Poll::Pending,
            },
        }
    }
}
