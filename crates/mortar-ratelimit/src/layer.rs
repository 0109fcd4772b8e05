//! [`RateLimitLayer`]: the tower edge. Refused requests never reach the inner service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use mortar_core::Problem;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::headers::{limit_header, limit_of, policy_header};
use crate::limiter::{Decided, Outcome, RateLimiter, Verdict, outcome, verdict};

/// Builds the problem document of a refused request.
pub type ProblemFn = Arc<dyn Fn(&Outcome) -> Problem + Send + Sync>;

/// The default 429: `urn:mortar:problem:rate-limited`, with the refusing policies named in a
/// `policies` extension (the layer adds `Retry-After` to whatever problem answers).
pub fn default_problem(outcome: &Outcome) -> Problem {
    let refusing: Vec<&str> = outcome
        .decisions
        .iter()
        .filter(|d| !d.decision.allowed())
        .map(|d| &*d.policy)
        .collect();
    Problem::mortar(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests; slow down.",
    )
    .with_extension("policies", refusing)
}

/// The answer while the shared backend is down for a fail-closed policy.
fn unavailable() -> Problem {
    Problem::mortar(
        StatusCode::SERVICE_UNAVAILABLE,
        "rate-limit-unavailable",
        "The service cannot check its limits right now; try again shortly.",
    )
    .with_retry_after(Duration::from_secs(1))
}

const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Sets the two header values that are present.
fn put_headers(headers: &mut HeaderMap, policy: Option<HeaderValue>, limit: Option<HeaderValue>) {
    if let Some(value) = policy {
        headers.insert(RATELIMIT_POLICY, value);
    }
    if let Some(value) = limit {
        headers.insert(RATELIMIT, value);
    }
}

/// Adds the `RateLimit` and `RateLimit-Policy` headers of an outcome.
pub fn insert_headers(headers: &mut HeaderMap, outcome: &Outcome) {
    put_headers(
        headers,
        policy_header(&outcome.decisions),
        limit_header(&outcome.decisions),
    );
}

/// The layer: checks every request against the limiter's policies; a refused request is
/// answered 429 (or 503 for a fail-closed policy whose backend is down) with a problem document,
/// `Retry-After` and the `RateLimit` headers; an allowed one goes on and its response gets the
/// headers too.
///
/// Put it inside (after) the authentication layer when policies key by principal, so the
/// `Principal` is in the request extensions. The response body type passes through unchanged
/// (problem documents are built in it, so it must be `From<Bytes>`, as axum's `Body`, `Full`,
/// and the bodies of mortar's own layers — `ProblemBody`, `LocaleBody` — are: the layer can
/// sit anywhere in one `ServiceBuilder`, outside authentication too; keep it inside
/// `LocaleLayer` for a 429 in the client's language).
///
/// ```
/// use std::num::NonZeroU32;
/// use axum::{Router, routing::get};
/// use http::{Request, StatusCode};
/// use mortar_ratelimit::{KeyBy, PeerAddr, Policy, Quota, RateLimitLayer, RateLimiter};
/// use tower::ServiceExt as _;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let limiter = RateLimiter::memory().policy(
///     Policy::new("api", Quota::per_minute(NonZeroU32::new(1).unwrap()), KeyBy::Ip).unwrap(),
/// );
/// let app = Router::new().route("/", get(|| async { "hi" })).layer(RateLimitLayer::new(limiter));
/// let req = || {
///     let mut req = Request::get("/").body(axum::body::Body::empty()).unwrap();
///     req.extensions_mut().insert(PeerAddr("203.0.113.7".parse().unwrap()));
///     req
/// };
/// let ok = app.clone().oneshot(req()).await.unwrap();
/// assert_eq!(ok.headers()["ratelimit"], "\"api\";r=0;t=60");
/// let refused = app.oneshot(req()).await.unwrap();
/// assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
/// assert_eq!(refused.headers()["retry-after"], "60");
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct RateLimitLayer {
    // One reference count per clone: axum clones the service stack for every request.
    inner: Arc<LayerInner>,
}

#[derive(Clone)]
struct LayerInner {
    limiter: RateLimiter,
    problem: ProblemFn,
}

impl fmt::Debug for RateLimitLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("limiter", &self.inner.limiter)
            .finish_non_exhaustive()
    }
}

impl RateLimitLayer {
    /// Limits with this limiter's policies.
    pub fn new(limiter: RateLimiter) -> Self {
        Self {
            inner: Arc::new(LayerInner {
                limiter,
                problem: Arc::new(default_problem),
            }),
        }
    }

    /// Replaces the 429 problem document (its status is kept at 429; `Retry-After` and the
    /// `RateLimit` headers are added regardless).
    pub fn on_limited(
        mut self,
        problem: impl Fn(&Outcome) -> Problem + Send + Sync + 'static,
    ) -> Self {
        Arc::make_mut(&mut self.inner).problem = Arc::new(problem);
        self
    }

    /// The limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// The answer to a refused outcome as a response of the inner service's body type (the body
    /// type passes through unchanged, so allowed responses are not re-wrapped), with the
    /// headers; `None` when the outcome allows the request.
    fn refused<B: From<Bytes>>(&self, outcome: &Outcome) -> Option<Response<B>> {
        let (head, bytes) = self.refusal(outcome)?.into_parts();
        let mut response = Response::from_parts(head, B::from(bytes));
        insert_headers(response.headers_mut(), outcome);
        Some(response)
    }

    /// The problem answering a refused outcome (shared by the tower and actix edges).
    pub(crate) fn refusal(&self, outcome: &Outcome) -> Option<Problem> {
        match outcome.verdict {
            Verdict::Allowed => None,
            Verdict::Unavailable => Some(unavailable()),
            Verdict::Limited { retry_after } => {
                let mut problem = (self.inner.problem)(outcome)
                    .with_retry_after(retry_after.min(Duration::from_secs(u64::from(u32::MAX))));
                if problem.status() != StatusCode::TOO_MANY_REQUESTS {
                    problem = problem.with_status(StatusCode::TOO_MANY_REQUESTS);
                }
                Some(problem)
            }
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            layer: self.clone(),
        }
    }
}

/// The middleware; see [`RateLimitLayer`].
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    layer: RateLimitLayer,
}

/// The boxed future of a request checked against a shared backend.
type SharedFuture<B, E> = Pin<Box<dyn Future<Output = Result<Response<B>, E>> + Send>>;

pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        // Allowed in process: the inner service's future, then the headers.
        Local {
            #[pin]
            future: F,
            policy: Option<HeaderValue>,
            limit: Option<HeaderValue>,
        },
        // Refused in process: the answer is ready.
        Ready { response: Option<Response<B>> },
        // Checked against a shared backend (boxed: it awaits the backend, then the service).
        Shared { future: SharedFuture<B, E> },
    }
}

pin_project! {
    /// The response future of [`RateLimit`]: no allocation of its own when the limits are in
    /// process.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Local {
                future,
                policy,
                limit,
            } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                put_headers(response.headers_mut(), policy.take(), limit.take());
                Poll::Ready(Ok(response))
            }
            KindProj::Ready { response } => match response.take() {
                Some(response) => Poll::Ready(Ok(response)),
                // Polled again after completion: a contract violation by the caller.
                None => Poll::Pending,
            },
            KindProj::Shared { future } => future.as_mut().poll(cx),
        }
    }
}

/// Answers a request decided in process: refused at once, or passed on with its headers to add.
#[inline]
fn local<S, ReqB, ResB>(
    layer: &RateLimitLayer,
    inner: &mut S,
    decided: &[Decided<'_>],
    req: Request<ReqB>,
) -> ResponseFuture<S::Future, ResB, S::Error>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: From<Bytes>,
{
    // The owned outcome is built only to refuse; an allowed request carries two header values
    // (the policy's written once) into its future.
    if verdict(decided) != Verdict::Allowed
        && let Some(response) = layer.refused(&outcome(decided))
    {
        return ResponseFuture {
            kind: Kind::Ready {
                response: Some(response),
            },
        };
    }
    ResponseFuture {
        kind: Kind::Local {
            policy: layer.inner.limiter.policy_header(decided),
            limit: limit_of(decided),
            future: inner.call(req),
        },
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RateLimit<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqB: Send + 'static,
    ResB: From<Bytes> + Send + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        // In-process limits are decided here, synchronously, without cloning the layer or the
        // inner service: the future below only waits for the inner service. The request is
        // taken apart only when a custom key closure needs its `Parts`.
        let limiter = &self.layer.inner.limiter;
        if !limiter.needs_parts() {
            if let Some((memory, policy)) = limiter.single() {
                let one = limiter.decide_one(memory, policy, &req);
                return local(&self.layer, &mut self.inner, one.as_slice(), req);
            }
            if let Some(decided) = limiter.decide_local(&req) {
                return local(&self.layer, &mut self.inner, &decided, req);
            }
        }
        let (parts, body) = req.into_parts();
        // Without a custom key the in-process case returned above: only a closure's policies
        // are decided here from the parts.
        if limiter.needs_parts()
            && let Some(decided) = limiter.decide_local(&parts)
        {
            return local(
                &self.layer,
                &mut self.inner,
                &decided,
                Request::from_parts(parts, body),
            );
        }
        // A shared backend is awaited: the ready service goes into the future and a fresh
        // clone stays for the next call (as tower-http's async authorization does).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        let future = Box::pin(async move {
            let outcome = layer.inner.limiter.check(&parts).await;
            if let Some(response) = layer.refused(&outcome) {
                return Ok(response);
            }
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            insert_headers(response.headers_mut(), &outcome);
            Ok(response)
        });
        ResponseFuture {
            kind: Kind::Shared { future },
        }
    }
}
