//! axum integration (feature `axum`): the [`Authorized`] extractor for handlers that state
//! their permission in their signature, and the [`Guard`] extractor for handlers that load the
//! resource first and check its attributes. The tower layer [`crate::RequirePermission`] works
//! with axum's `route_layer` too.
//!
//! Both read the [`Rbac`] from the router's state (`Rbac: FromRef<S>`).
//!
//! ```
//! use axum::{Router, extract::Path, routing::{get, put}};
//! use http::Request;
//! use mortar_core::{Principal, Problem};
//! use mortar_rbac::axum::{Authorized, Guard, Requires};
//! use mortar_rbac::{Assignment, Policy, Rbac, Resource, Role};
//! use tower::ServiceExt;
//!
//! struct ReadPosts;
//! impl Requires for ReadPosts {
//!     const PERMISSION: &'static str = "posts:read";
//!     const ID_PARAM: Option<&'static str> = Some("id");
//! }
//!
//! async fn show(Path(id): Path<String>, who: Authorized<ReadPosts>) -> String {
//!     format!("{} reads post {id}", who.principal().subject())
//! }
//!
//! async fn edit(Path(id): Path<String>, guard: Guard) -> Result<&'static str, Problem> {
//!     // Load the post, then check with its attributes.
//!     let post = Resource::new("posts", id).tenant("acme").attr("author", "ann");
//!     guard.require("write", &post)?;
//!     Ok("saved")
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let rbac = Rbac::new(
//!     Policy::new()
//!         .role("writer", Role::new().allow("posts:read").allow_when("posts:write", "resource.author == subject.id"))
//!         .assign(Assignment::new("ann", "writer").in_tenant("acme"))
//!         .assign(Assignment::new("bob", "writer").in_tenant("acme")),
//! ).unwrap();
//! let app = Router::new()
//!     .route("/posts/{id}", get(show).put(edit))
//!     .with_state(rbac);
//! let call = |method: &str, who: &str| {
//!     let mut req = Request::builder().method(method).uri("/posts/1").body(axum::body::Body::empty()).unwrap();
//!     req.extensions_mut().insert(Principal::user(who).tenant("acme").build());
//!     app.clone().oneshot(req)
//! };
//! assert_eq!(call("GET", "bob").await.unwrap().status(), 200);
//! assert_eq!(call("PUT", "ann").await.unwrap().status(), 200);
//! assert_eq!(call("PUT", "bob").await.unwrap().status(), 403, "not the author");
//! # }
//! ```

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use http::request::Parts;
use mortar_core::{MissingPrincipal, Principal, Problem};

pub use crate::guard::Guard;
use crate::guard::{enforce, in_tenant_of, request_context};
use crate::permission::Permission;
use crate::rbac::Rbac;
use crate::resource::Resource;

/// A permission named at the type level, for [`Authorized`].
pub trait Requires: Send + Sync + 'static {
    /// The permission (`posts:write`, no wildcards).
    const PERMISSION: &'static str;
    /// The path parameter holding the resource's id (`Some("id")` for `/posts/{id}`); `None`
    /// checks the kind in general.
    const ID_PARAM: Option<&'static str> = None;
}

/// Extracts the principal once it holds `R::PERMISSION` (on the resource whose id is the path
/// parameter `R::ID_PARAM`, in the principal's tenant). Rejects with the 401 / 404 / 403
/// problems of [`crate::Requirement`]; a malformed `PERMISSION` answers 500 (and logs).
pub struct Authorized<R> {
    principal: Principal,
    requires: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Authorized<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorized")
            .field("principal", &self.principal)
            .finish()
    }
}

impl<R> Authorized<R> {
    /// The authorized principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The authorized principal, owned.
    pub fn into_principal(self) -> Principal {
        self.principal
    }
}

impl<S, R> FromRequestParts<S> for Authorized<R>
where
    S: Send + Sync,
    R: Requires,
    Rbac: FromRef<S>,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_extensions(&parts.extensions)
            .cloned()
            .ok_or(MissingPrincipal)?;
        let (kind, action) = Permission::concrete(R::PERMISSION).map_err(|_| {
            tracing::error!(
                permission = R::PERMISSION,
                "mortar-rbac: Requires::PERMISSION is not resource:action"
            );
            Problem::internal_error()
        })?;
        let resource = match R::ID_PARAM {
            None => Resource::kind(kind),
            Some(name) => {
                let params = RawPathParams::from_request_parts(parts, state)
                    .await
                    .map_err(|_| Problem::not_found())?;
                let id = params
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_owned())
                    .ok_or_else(Problem::not_found)?;
                Resource::new(kind, id)
            }
        };
        let resource = in_tenant_of(resource, &principal);
        let decision = Rbac::from_ref(state).check_lazy(
            &principal,
            principal.tenant(),
            action,
            &resource,
            || request_context(parts),
        );
        enforce(&decision, &principal, R::PERMISSION)?;
        Ok(Self {
            principal,
            requires: PhantomData,
        })
    }
}

impl<S> FromRequestParts<S> for Guard
where
    S: Send + Sync,
    Rbac: FromRef<S>,
{
    type Rejection = MissingPrincipal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_extensions(&parts.extensions)
            .cloned()
            .ok_or(MissingPrincipal)?;
        Ok(Self::new(principal, Rbac::from_ref(state), parts))
    }
}
