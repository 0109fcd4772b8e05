//! The tower layer: a [`Locale`] for every request, `Content-Language` and `Vary` on every
//! response, problem documents in the request's language.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use mortar_core::Principal;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::i18n::Locale;
use crate::request::Negotiation;

/// Sets each request's [`Locale`] (a request extension, read by the extractors) from the
/// [`Negotiation`] chain, adds `Content-Language` and `Vary: Accept-Language` to the response,
/// and renders `application/problem+json` responses in the request's locale.
///
/// Place it inside the authentication layer when the chain reads a principal attribute.
///
/// ```
/// use axum::{Router, routing::get};
/// use mortar_i18n::{I18n, Locale, LocaleLayer};
///
/// let i18n = I18n::builder().default_locale("en")
///     .add_ftl("en", "hello = Hello").add_ftl("de", "hello = Hallo").build()?;
/// let app: Router = Router::new()
///     .route("/", get(|locale: Locale| async move { locale.message("hello").into_owned() }))
///     .layer(LocaleLayer::new(i18n));
/// # Ok::<(), mortar_i18n::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LocaleLayer {
    negotiation: Negotiation,
}

impl LocaleLayer {
    /// A layer with the default source chain (see [`Negotiation::new`]).
    pub fn new(i18n: crate::I18n) -> Self {
        Self::with(Negotiation::new(i18n))
    }

    /// A layer with a configured negotiation.
    pub fn with(negotiation: Negotiation) -> Self {
        Self { negotiation }
    }
}

impl<S> Layer<S> for LocaleLayer {
    type Service = LocaleService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LocaleService {
            inner,
            negotiation: self.negotiation.clone(),
        }
    }
}

/// The service [`LocaleLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct LocaleService<S> {
    inner: S,
    negotiation: Negotiation,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for LocaleService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Send,
{
    type Response = Response<LocaleBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let locale = self.negotiation.resolve(
            req.uri(),
            req.headers(),
            req.extensions().get::<Principal>(),
        );
        req.extensions_mut().insert(locale.clone());
        ResponseFuture {
            state: State::Inner {
                future: self.inner.call(req),
            },
            finish: Some(Finish {
                locale,
                negotiation: self.negotiation.clone(),
            }),
        }
    }
}

#[derive(Debug)]
struct Finish {
    locale: Locale,
    negotiation: Negotiation,
}

type Collect<B> = Pin<Box<dyn Future<Output = Result<Bytes, <B as Body>::Error>> + Send + 'static>>;

pin_project! {
    /// The future of [`LocaleService`].
    pub struct ResponseFuture<F, B: Body> {
        #[pin]
        state: State<F, B>,
        finish: Option<Finish>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B: Body> {
        Inner { #[pin] future: F },
        Buffering { parts: Option<http::response::Parts>, collect: Collect<B> },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Send,
{
    type Output = Result<Response<LocaleBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Inner { future } => {
                    let mut response = ready!(future.poll(cx))?;
                    let Some(finish) = this.finish.as_ref() else {
                        return Poll::Ready(Ok(response.map(LocaleBody::inner)));
                    };
                    let config = finish.negotiation.config();
                    crate::response::set_headers(
                        response.headers_mut(),
                        &finish.locale,
                        &config.vary,
                    );
                    let small = response.body().size_hint().upper().is_some_and(|n| {
                        usize::try_from(n).is_ok_and(|n| n <= config.max_problem_body)
                    });
                    if !(config.localize_problems
                        && small
                        && crate::response::is_problem(response.headers()))
                    {
                        return Poll::Ready(Ok(response.map(LocaleBody::inner)));
                    }
                    let (parts, body) = response.into_parts();
                    let collect: Collect<B> = Box::pin(async move {
                        body.collect()
                            .await
                            .map(http_body_util::Collected::to_bytes)
                    });
                    this.state.set(State::Buffering {
                        parts: Some(parts),
                        collect,
                    });
                }
                StateProj::Buffering { parts, collect } => {
                    let collected = ready!(collect.as_mut().poll(cx));
                    let mut parts = parts.take().expect("polled after completion");
                    let finish = this.finish.take().expect("polled after completion");
                    let body = match collected {
                        Ok(bytes) => match finish.locale.localize_problem_body(&bytes) {
                            Some(localized) => {
                                parts.headers.remove(http::header::CONTENT_LENGTH);
                                Ok(Bytes::from(localized))
                            }
                            None => Ok(bytes),
                        },
                        // The error reaches the server through the body, as it would have.
                        Err(e) => Err(e),
                    };
                    return Poll::Ready(Ok(Response::from_parts(
                        parts,
                        LocaleBody::buffered(body),
                    )));
                }
            }
        }
    }
}

pin_project! {
    /// The response body of [`LocaleService`]: the inner body, or a problem document rewritten
    /// in the request's language.
    pub struct LocaleBody<B: Body> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B: Body> {
        Inner { #[pin] body: B },
        Buffered { body: Option<Result<Bytes, B::Error>> },
    }
}

impl<B: Body> LocaleBody<B> {
    fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    fn buffered(body: Result<Bytes, B::Error>) -> Self {
        Self {
            kind: Kind::Buffered { body: Some(body) },
        }
    }
}

/// A body of these bytes: what a layer outside this one (wrapping it) builds its own answers in,
/// so such a layer (the rate limiter, say) composes with `LocaleLayer` in one `ServiceBuilder`.
/// Those answers do not pass through `LocaleLayer` and are not localized: put the rate limiter
/// inside it for a 429 in the client's language.
impl<B: Body> From<Bytes> for LocaleBody<B> {
    fn from(bytes: Bytes) -> Self {
        Self::buffered(Ok(bytes))
    }
}

impl<B: Body<Data = Bytes>> Body for LocaleBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Buffered { body } => Poll::Ready(body.take().map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Buffered { body } => body.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Buffered {
                body: Some(Ok(bytes)),
            } => SizeHint::with_exact(bytes.len() as u64),
            Kind::Buffered { .. } => SizeHint::default(),
        }
    }
}
