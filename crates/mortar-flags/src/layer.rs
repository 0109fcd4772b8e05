//! The tower layers (feature `tower`): [`FlagsLayer`] and [`RequireFlag`].

use std::sync::Arc;
use std::task::{Context, Poll};

use http::request::Parts;
use http::{Request, Response};
use mortar_core::{GateFuture, ProblemBody};
use tower_layer::Layer;
use tower_service::Service;

use crate::context::EvaluationContext;
use crate::edge::{Flags, RequireFlag, context_from_head, context_from_parts};
use crate::flags::FeatureFlags;

type Enrich = Arc<dyn Fn(&Parts, &mut EvaluationContext) + Send + Sync>;

/// Inserts a [`Flags`] handle with the request's context into each request's extensions. Put
/// it inside the authentication layer, so the principal is there.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::{Router, routing::get};
/// use mortar_flags::{FeatureFlags, FlagDefinition, FlagSet, Flags, FlagsLayer};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let flags = FeatureFlags::from_set(FlagSet::new().flag("dark-mode", FlagDefinition::boolean(true)));
/// let app = Router::new()
///     .route("/", get(|flags: Flags| async move {
///         if flags.is_enabled("dark-mode") { "dark" } else { "light" }
///     }))
///     .layer(FlagsLayer::new(flags).context_with(|parts, ctx| {
///         ctx.set("path", parts.uri.path());
///     }));
/// let res = app.oneshot(http::Request::get("/").body(axum::body::Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(res.status(), 200);
/// # }
/// # }
/// ```
#[derive(Clone)]
pub struct FlagsLayer {
    flags: FeatureFlags,
    enrich: Option<Enrich>,
}

impl std::fmt::Debug for FlagsLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlagsLayer")
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl FlagsLayer {
    /// The layer for these flags.
    pub fn new(flags: FeatureFlags) -> Self {
        Self {
            flags,
            enrich: None,
        }
    }

    /// Adds the app's own facts to each request's context.
    #[must_use]
    pub fn context_with(
        mut self,
        enrich: impl Fn(&Parts, &mut EvaluationContext) + Send + Sync + 'static,
    ) -> Self {
        self.enrich = Some(Arc::new(enrich));
        self
    }
}

impl<S> Layer<S> for FlagsLayer {
    type Service = FlagsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        FlagsService {
            inner,
            flags: self.flags.clone(),
            enrich: self.enrich.clone(),
        }
    }
}

/// The service [`FlagsLayer`] wraps around the inner one.
#[derive(Clone)]
pub struct FlagsService<S> {
    inner: S,
    flags: FeatureFlags,
    enrich: Option<Enrich>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for FlagsService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlagsService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<Request<B>> for FlagsService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let Some(enrich) = &self.enrich else {
            // Read in place: the request is taken apart only for an `enrich` closure.
            let ctx = context_from_head(req.headers(), req.extensions());
            req.extensions_mut()
                .insert(Flags::new(self.flags.clone(), ctx));
            return self.inner.call(req);
        };
        let (mut parts, body) = req.into_parts();
        let mut ctx = context_from_parts(&parts);
        enrich(&parts, &mut ctx);
        parts.extensions.insert(Flags::new(self.flags.clone(), ctx));
        self.inner.call(Request::from_parts(parts, body))
    }
}

impl<S> Layer<S> for RequireFlag {
    type Service = RequireFlagService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireFlagService {
            inner,
            gate: self.clone(),
        }
    }
}

/// The service [`RequireFlag`] wraps around the inner one.
#[derive(Clone, Debug)]
pub struct RequireFlagService<S> {
    inner: S,
    gate: RequireFlag,
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RequireFlagService<S>
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
        match self.gate.check_head(req.headers(), req.extensions()) {
            Ok(()) => GateFuture::inner(self.inner.call(req)),
            Err(problem) => GateFuture::refused(problem),
        }
    }
}
