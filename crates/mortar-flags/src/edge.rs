//! What the HTTP edges share: the per-request [`Flags`] handle, the context of a request head,
//! and the [`RequireFlag`] route gate.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::{ACCEPT_LANGUAGE, USER_AGENT};
use http::request::Parts;
use mortar_core::{Principal, Problem};
use serde_json::{Map, Value};

use crate::context::{EvaluationContext, Source};
use crate::flags::FeatureFlags;
use crate::resolution::Resolution;

/// The flags with the request's context: what handlers use. Inserted into the request's
/// extensions by `FlagsLayer` (tower) or `actix::FlagsMiddleware`, and an extractor in axum
/// (feature `axum`) and actix-web (feature `actix`).
#[derive(Clone)]
pub struct Flags {
    flags: FeatureFlags,
    context: Arc<EvaluationContext>,
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flags")
            .field("targeting_key", &self.context.targeting_key())
            .finish_non_exhaustive()
    }
}

impl Flags {
    /// The flags for a context.
    pub fn new(flags: FeatureFlags, context: EvaluationContext) -> Self {
        Self {
            flags,
            context: Arc::new(context),
        }
    }

    /// The flags for a request head (see [`context_from_parts`]).
    pub fn for_request(flags: FeatureFlags, parts: &Parts) -> Self {
        Self::new(flags, context_from_parts(parts))
    }

    /// The request's context.
    pub fn context(&self) -> &EvaluationContext {
        &self.context
    }

    /// The evaluator.
    pub fn flags(&self) -> &FeatureFlags {
        &self.flags
    }

    /// Whether the boolean flag is on for this request.
    pub fn is_enabled(&self, key: &str) -> bool {
        self.flags.is_enabled(key, &self.context)
    }

    /// A boolean flag.
    pub fn bool(&self, key: &str, default: bool) -> Resolution<bool> {
        self.flags.bool(key, &self.context, default)
    }

    /// A string flag.
    pub fn string(&self, key: &str, default: &str) -> Resolution<String> {
        self.flags.string(key, &self.context, default)
    }

    /// An integer flag.
    pub fn int(&self, key: &str, default: i64) -> Resolution<i64> {
        self.flags.int(key, &self.context, default)
    }

    /// A number flag.
    pub fn float(&self, key: &str, default: f64) -> Resolution<f64> {
        self.flags.float(key, &self.context, default)
    }

    /// An object flag.
    pub fn object(&self, key: &str, default: Map<String, Value>) -> Resolution<Map<String, Value>> {
        self.flags.object(key, &self.context, default)
    }

    /// The variant of an experiment for this request, its exposure recorded
    /// ([`FeatureFlags::assign`]).
    pub async fn assign(&self, key: &str) -> Resolution<Value> {
        self.flags.assign(key, &self.context).await
    }
}

/// The context of a request head: the [`Principal`] in its extensions (see
/// [`EvaluationContext::from_principal`]; none: no targeting key), `ip` (the peer address, from
/// a `SocketAddr` or axum's `ConnectInfo` extension — behind a proxy, set it from the trusted
/// forwarded header with `FlagsLayer::context_with`), `userAgent` (at most 512 characters) and
/// `locale` (the first `Accept-Language` tag).
pub fn context_from_parts(parts: &Parts) -> EvaluationContext {
    context_from_head(&parts.headers, &parts.extensions)
}

/// [`context_from_parts`] from a request's headers and extensions (the tower layer reads them
/// without taking the request apart).
pub(crate) fn context_from_head(
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) -> EvaluationContext {
    let peer = extensions.get::<SocketAddr>().copied();
    #[cfg(feature = "axum")]
    let peer = peer.or_else(|| {
        extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
    });
    // Kept as they came; the attributes are built only if a rule reads one.
    EvaluationContext::from_source(Source {
        principal: Principal::from_extensions(extensions).cloned(),
        ip: peer.map(|peer| peer.ip()),
        // Header values are shared buffers: holding them costs no allocation; they are read
        // only if a rule asks for `userAgent` or `locale`.
        user_agent: headers.get(USER_AGENT).cloned(),
        accept_language: headers.get(ACCEPT_LANGUAGE).cloned(),
    })
}

/// A route gate: the request passes only when a boolean flag is on for it; otherwise 404 (a
/// problem document), as if the route did not exist. A tower `Layer` (feature `tower`; in
/// axum use `route_layer`) and an actix-web `Transform` (feature `actix`).
///
/// It evaluates with the [`Flags`] already in the request's extensions when a flags layer ran
/// before it, else with the context of the request head.
#[derive(Clone, Debug)]
pub struct RequireFlag {
    pub(crate) flags: FeatureFlags,
    pub(crate) key: Arc<str>,
}

impl RequireFlag {
    /// Gates on the boolean flag `key`.
    pub fn new(flags: &FeatureFlags, key: &str) -> Self {
        Self {
            flags: flags.clone(),
            key: Arc::from(key),
        }
    }

    /// Whether the request head passes; the 404 problem when not.
    ///
    /// # Errors
    ///
    /// The 404 problem.
    #[allow(
        clippy::result_large_err,
        reason = "the problem document is the HTTP answer itself, built only on refusal"
    )]
    pub fn check(&self, parts: &Parts) -> Result<(), Problem> {
        self.check_head(&parts.headers, &parts.extensions)
    }

    /// [`Self::check`] from a request's headers and extensions.
    #[allow(
        clippy::result_large_err,
        reason = "the problem document is the HTTP answer itself, built only on refusal"
    )]
    pub(crate) fn check_head(
        &self,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
    ) -> Result<(), Problem> {
        let on = match extensions.get::<Flags>() {
            Some(flags) => flags.is_enabled(&self.key),
            None => self
                .flags
                .is_enabled(&self.key, &context_from_head(headers, extensions)),
        };
        if on {
            Ok(())
        } else {
            tracing::debug!(flag = &*self.key, "mortar-flags: route gated off");
            Err(Problem::not_found())
        }
    }
}
