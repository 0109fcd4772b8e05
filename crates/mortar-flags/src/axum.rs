//! The axum extractor (feature `axum`): [`Flags`] from the request's extensions, put there by
//! [`crate::FlagsLayer`]; without the layer it rejects with a 500 problem (and logs why).

use axum::extract::FromRequestParts;
use http::request::Parts;
use mortar_core::Problem;

use crate::edge::Flags;

impl<S: Send + Sync> FromRequestParts<S> for Flags {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Flags>().cloned().ok_or_else(|| {
            tracing::error!("mortar-flags: the Flags extractor needs FlagsLayer on the router");
            Problem::internal_error()
        })
    }
}
