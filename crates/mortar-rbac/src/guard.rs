//! [`Requirement`]: what a route requires, decided from a request head — shared by the tower
//! layer, the axum extractor and the actix middleware.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use http::request::Parts;
use mortar_core::{MissingPrincipal, Principal, Problem};
use serde_json::{Map, Value};

use crate::decision::Decision;
use crate::error::Error;
use crate::permission::Permission;
use crate::rbac::Rbac;
use crate::resource::Resource;

/// Finds the resource a request is about (the id in its path, usually); `None` answers 404.
pub type ResourceFn = Arc<dyn Fn(&Parts, &Principal) -> Option<Resource> + Send + Sync>;

/// Finds the tenant a request acts in (a path segment, usually); `None` answers 404.
pub type TenantFn = Arc<dyn for<'a> Fn(&'a Parts) -> Option<&'a str> + Send + Sync>;

/// A permission a route requires, and how to find the resource it is about.
///
/// Without [`Requirement::on`], the check is about the kind in general (`posts:write`: may the
/// principal write posts in its tenant?). With it, about the one resource the closure names, so
/// grants on that resource and its containers count, and deny rules on it apply.
///
/// The request's peer address (`SocketAddr` or axum's `ConnectInfo` in the extensions), method
/// and path are given to conditions as `context.ip`, `context.method` and `context.path`.
///
/// Answers: 401 problem without an authenticated principal, 404 when the closure finds no
/// resource, 403 problem (type `urn:mortar:problem:permission-denied`, with the permission)
/// when the policy does not allow it.
#[derive(Clone)]
pub struct Requirement {
    rbac: Rbac,
    permission: Arc<str>,
    action: Arc<str>,
    /// The kind in general (`Resource::kind`), checked when no `resource` closure is set; the
    /// kind of the resources [`Self::id_after`] names.
    general: Resource,
    resource: Option<ResourceFn>,
    tenant: Option<TenantFn>,
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requirement")
            .field("permission", &self.permission)
            .field("resource", &self.resource.as_ref().map(|_| "fn"))
            .field("tenant", &self.tenant.as_ref().map(|_| "fn"))
            .finish_non_exhaustive()
    }
}

impl Requirement {
    /// Requires `permission` (`resource:action`, no wildcards).
    ///
    /// # Errors
    ///
    /// [`Error::Permission`] when it is malformed or has a wildcard.
    pub fn new(rbac: Rbac, permission: &str) -> Result<Self, Error> {
        let (kind, action) = Permission::concrete(permission)?;
        Ok(Self {
            rbac,
            permission: Arc::from(permission),
            action: Arc::from(action),
            general: Resource::kind(kind),
            resource: None,
            tenant: None,
        })
    }

    /// Checks against the resource `find` names (`None`: 404).
    #[must_use]
    pub fn on(
        mut self,
        find: impl Fn(&Parts, &Principal) -> Option<Resource> + Send + Sync + 'static,
    ) -> Self {
        self.resource = Some(Arc::new(find));
        self
    }

    /// Checks against the resource of this requirement's kind whose id is the path segment
    /// after `after` (`/posts/{id}` → `id_after("posts")`), in the principal's tenant.
    #[must_use]
    pub fn id_after(self, after: &'static str) -> Self {
        let kind = self.general.kind.clone();
        self.on(move |parts, principal| {
            let id = segment_after(parts.uri.path(), after)?;
            Some(in_tenant_of(Resource::new(&*kind, id), principal))
        })
    }

    /// Decides in the tenant the request names rather than the principal's own: the principal
    /// holds the roles assigned to it in that tenant (its token's tenant, if any, does not
    /// count), and the resource belongs to that tenant. `find` returns the tenant from the
    /// request head; `None` answers 404.
    ///
    /// This is what a route under `/orgs/{org}/…` wants, without rebuilding the principal per
    /// request: see [`tenant_after`](Self::tenant_after).
    #[must_use]
    pub fn tenant_from(
        mut self,
        find: impl for<'a> Fn(&'a Parts) -> Option<&'a str> + Send + Sync + 'static,
    ) -> Self {
        self.tenant = Some(Arc::new(find));
        self
    }

    /// [`tenant_from`](Self::tenant_from) the path segment after `after` (`/orgs/{org}/reports`
    /// → `tenant_after("orgs")`); a path without one answers 404.
    #[must_use]
    pub fn tenant_after(self, after: &'static str) -> Self {
        self.tenant_from(move |parts| segment_after(parts.uri.path(), after))
    }

    /// The permission required.
    pub fn permission(&self) -> &str {
        &self.permission
    }

    /// The authorizer.
    pub fn rbac(&self) -> &Rbac {
        &self.rbac
    }

    /// Decides for a request head: the principal when allowed, else the problem to answer.
    ///
    /// # Errors
    ///
    /// The 401, 404 or 403 problem described on [`Requirement`].
    #[allow(
        clippy::result_large_err,
        reason = "the problem document is the HTTP answer itself, built only on refusal"
    )]
    pub fn authorize<'p>(&self, parts: &'p Parts) -> Result<&'p Principal, Problem> {
        let principal = Principal::from_extensions(&parts.extensions).ok_or(MissingPrincipal)?;
        let tenant = match &self.tenant {
            Some(find) => Some(find(parts).ok_or_else(Problem::not_found)?),
            None => principal.tenant(),
        };
        let resource = if let Some(find) = &self.resource {
            let mut resource = find(parts, principal).ok_or_else(Problem::not_found)?;
            // Placed in the principal's own tenant by default: it lives in the one the request
            // acts in.
            if self.tenant.is_some() && resource.tenant.as_deref() == principal.tenant() {
                resource.tenant = tenant.map(str::to_owned);
            }
            resource
        } else {
            // The kind in general, in the request's tenant: without conditions, decided without
            // building the resource (every request) and checked again below only to explain a
            // refusal; with conditions, decided below.
            if self
                .rbac
                .allows_general(principal, tenant, &self.action, &self.general)
                == Some(true)
            {
                return Ok(principal);
            }
            match tenant {
                Some(tenant) => self.general.clone().tenant(tenant),
                None => self.general.clone(),
            }
        };
        let decision = self
            .rbac
            .check_lazy(principal, tenant, &self.action, &resource, || {
                request_context(parts)
            });
        enforce(&decision, principal, &self.permission)?;
        Ok(principal)
    }
}

/// `resource` in the principal's tenant (when it has one): where a route's resource lives.
/// The path segment after the segment `after`, if any and not empty.
fn segment_after<'p>(path: &'p str, after: &str) -> Option<&'p str> {
    // Split as bytes (a byte loop, cheaper than `str::split`'s searcher on every request);
    // splitting at the ASCII `/` keeps each segment on a character boundary of `path`.
    let mut segments = path.as_bytes().split(|b| *b == b'/');
    segments.find(|s| *s == after.as_bytes())?;
    let segment = segments.next().filter(|s| !s.is_empty())?;
    let start = segment.as_ptr() as usize - path.as_ptr() as usize;
    path.get(start..start + segment.len())
}

pub(crate) fn in_tenant_of(resource: Resource, principal: &Principal) -> Resource {
    match principal.tenant() {
        Some(tenant) => resource.tenant(tenant),
        None => resource,
    }
}

/// `Ok` when `decision` allows; else logs why (at debug, for operators) and answers the 403
/// naming `permission` (never the rule, which stays out of the response).
#[allow(
    clippy::result_large_err,
    reason = "the problem document is the HTTP answer itself, built only on refusal"
)]
pub(crate) fn enforce(
    decision: &Decision,
    principal: &Principal,
    permission: &str,
) -> Result<(), Problem> {
    if decision.allowed() {
        return Ok(());
    }
    tracing::debug!(
        subject = principal.subject(),
        permission,
        reason = %decision.explain(),
        "mortar-rbac: permission denied"
    );
    Err(forbidden(permission))
}

/// A route guard: passes a request on only when its principal holds a permission, answering
/// 401 / 404 / 403 problem documents otherwise (see [`Requirement`]). It is a tower `Layer`
/// (feature `tower`) and an actix-web `Transform` (feature `actix`). The decision reads the
/// in-memory index: no I/O; the tower future is not boxed.
///
/// Put it inside the authentication layer (so the principal is in the extensions); in axum,
/// use `route_layer` so unmatched paths still answer 404.
///
/// With axum (feature `axum`; actix-web: `web::resource(…).wrap(…)`, see [`crate::actix`]):
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use axum::{Router, routing::{get, put}};
/// use http::Request;
/// use mortar_core::Principal;
/// use mortar_rbac::{Assignment, Policy, Rbac, RequirePermission, Role};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let rbac = Rbac::new(
///     Policy::new()
///         .role("viewer", Role::new().allow("posts:read"))
///         .assign(Assignment::new("vic", "viewer").in_tenant("acme")),
/// ).unwrap();
/// let app = Router::new()
///     .route("/posts/{id}", put(|| async { "saved" })
///         .route_layer(RequirePermission::new(&rbac, "posts:write").unwrap().id_after("posts")))
///     .route("/posts", get(|| async { "list" })
///         .route_layer(RequirePermission::new(&rbac, "posts:read").unwrap()));
///
/// let as_vic = |req: http::request::Builder| {
///     let mut req = req.body(axum::body::Body::empty()).unwrap();
///     req.extensions_mut().insert(Principal::user("vic").tenant("acme").build());
///     req
/// };
/// let res = app.clone().oneshot(as_vic(Request::get("/posts"))).await.unwrap();
/// assert_eq!(res.status(), 200);
/// let res = app.clone().oneshot(as_vic(Request::put("/posts/42"))).await.unwrap();
/// assert_eq!(res.status(), 403);
/// assert_eq!(res.headers()["content-type"], "application/problem+json");
/// let anonymous = Request::get("/posts").body(axum::body::Body::empty()).unwrap();
/// assert_eq!(app.oneshot(anonymous).await.unwrap().status(), 401);
/// # }
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct RequirePermission {
    // Behind one reference count: axum clones a route's service (and so this) for every
    // request, and the requirement holds several shared parts of its own.
    pub(crate) requirement: Arc<Requirement>,
}

impl RequirePermission {
    /// This guard with its requirement changed by `change` (a builder step; the requirement is
    /// copied only when the guard was cloned before).
    fn map(self, change: impl FnOnce(Requirement) -> Requirement) -> Self {
        Self {
            requirement: Arc::new(change(Arc::unwrap_or_clone(self.requirement))),
        }
    }

    /// Requires `permission` (`posts:write`) of the kind in general.
    ///
    /// # Errors
    ///
    /// [`Error::Permission`] when it is malformed or has a wildcard.
    pub fn new(rbac: &Rbac, permission: &str) -> Result<Self, Error> {
        Ok(Self {
            requirement: Arc::new(Requirement::new(rbac.clone(), permission)?),
        })
    }

    /// Checks against the resource `find` names from the request head (`None`: 404).
    #[must_use]
    pub fn on(
        self,
        find: impl Fn(&Parts, &Principal) -> Option<Resource> + Send + Sync + 'static,
    ) -> Self {
        self.map(|r| r.on(find))
    }

    /// Checks against the resource whose id is the path segment after `after`.
    #[must_use]
    pub fn id_after(self, after: &'static str) -> Self {
        self.map(|r| r.id_after(after))
    }

    /// Decides in the tenant `find` names from the request head ([`Requirement::tenant_from`]).
    #[must_use]
    pub fn tenant_from(
        self,
        find: impl for<'a> Fn(&'a Parts) -> Option<&'a str> + Send + Sync + 'static,
    ) -> Self {
        self.map(|r| r.tenant_from(find))
    }

    /// Decides in the tenant named by the path segment after `after`, as it appears in the
    /// path (not percent-decoded): `/orgs/{org}/reports` → `tenant_after("orgs")`
    /// ([`Requirement::tenant_after`]). The principal's roles are those assigned to it in that
    /// tenant, without rebuilding the principal per request.
    ///
    /// ```
    /// # #[cfg(feature = "axum")] {
    /// use axum::{Router, routing::get};
    /// use http::Request;
    /// use mortar_core::Principal;
    /// use mortar_rbac::{Assignment, Policy, Rbac, RequirePermission, Role};
    /// use tower::ServiceExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let rbac = Rbac::new(
    ///     Policy::new()
    ///         .role("analyst", Role::new().allow("reports:read"))
    ///         .assign(Assignment::new("ann", "analyst").in_tenant("acme")),
    /// ).unwrap();
    /// let guard = RequirePermission::new(&rbac, "reports:read").unwrap().tenant_after("orgs");
    /// let app = Router::new()
    ///     .route("/orgs/{org}/reports", get(|| async { "reports" }).route_layer(guard));
    ///
    /// let get = |path: &str| {
    ///     let mut req = Request::get(path).body(axum::body::Body::empty()).unwrap();
    ///     req.extensions_mut().insert(Principal::user("ann").build());
    ///     req
    /// };
    /// assert_eq!(app.clone().oneshot(get("/orgs/acme/reports")).await.unwrap().status(), 200);
    /// assert_eq!(app.oneshot(get("/orgs/globex/reports")).await.unwrap().status(), 403);
    /// # }
    /// # }
    /// ```
    #[must_use]
    pub fn tenant_after(self, after: &'static str) -> Self {
        self.map(|r| r.tenant_after(after))
    }

    /// The requirement it enforces.
    pub fn requirement(&self) -> &Requirement {
        &self.requirement
    }
}

impl From<Requirement> for RequirePermission {
    fn from(requirement: Requirement) -> Self {
        Self {
            requirement: Arc::new(requirement),
        }
    }
}

/// The principal, the authorizer and the request's context, for checks inside a handler
/// (after loading the resource, so conditions see its attributes). An extractor in axum
/// (feature `axum`, `Rbac: FromRef<S>`) and actix-web (feature `actix`,
/// `app_data(web::Data<Rbac>)`); rejects with 401 without an authenticated principal.
#[derive(Clone, Debug)]
pub struct Guard {
    principal: Principal,
    rbac: Rbac,
    context: Map<String, Value>,
}

impl Guard {
    /// A guard for `principal` with the context of the request head `parts`.
    pub fn new(principal: Principal, rbac: Rbac, parts: &Parts) -> Self {
        Self {
            principal,
            rbac,
            context: request_context(parts),
        }
    }

    /// The principal.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The decision on `action` over `resource` (with the request's `context`).
    pub fn check(&self, action: &str, resource: &Resource) -> Decision {
        self.rbac
            .check_with(&self.principal, action, resource, &self.context)
    }

    /// `Ok` when allowed.
    ///
    /// # Errors
    ///
    /// The 403 problem (naming `{kind}:{action}`) when not.
    #[allow(
        clippy::result_large_err,
        reason = "the problem document is the HTTP answer itself, built only on refusal"
    )]
    pub fn require(&self, action: &str, resource: &Resource) -> Result<(), Problem> {
        let decision = self.check(action, resource);
        if decision.allowed() {
            return Ok(());
        }
        let permission = format!("{}:{action}", resource.kind_name());
        enforce(&decision, &self.principal, &permission)
    }
}

/// The 403 answer: `urn:mortar:problem:permission-denied`, naming the permission required (the
/// route's, never the policy's rules).
pub fn forbidden(permission: &str) -> Problem {
    Problem::forbidden()
        .with_type("urn:mortar:problem:permission-denied")
        .with_title("You do not have permission to do this.")
        .with_extension("permission", permission)
}

/// `context.ip`, `context.method`, `context.path` from a request head.
pub(crate) fn request_context(parts: &Parts) -> Map<String, Value> {
    let mut context = Map::new();
    let peer = parts.extensions.get::<SocketAddr>().copied();
    #[cfg(feature = "axum")]
    let peer = peer.or_else(|| {
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0)
    });
    if let Some(peer) = peer {
        context.insert("ip".into(), Value::String(peer.ip().to_string()));
    }
    context.insert("method".into(), Value::String(parts.method.as_str().into()));
    context.insert("path".into(), Value::String(parts.uri.path().into()));
    context
}

#[cfg(test)]
mod tests {
    use super::segment_after;

    #[test]
    fn the_segment_after_a_name() {
        let cases = [
            ("/orgs/acme/reports", "orgs", Some("acme")),
            ("/orgs/acme", "orgs", Some("acme")),
            ("/orgs/", "orgs", None),
            ("/orgs", "orgs", None),
            ("/orgs//x", "orgs", None),
            ("/v1/orgs/é-ü/x", "orgs", Some("é-ü")),
            ("/orgsx/acme", "orgs", None),
            ("/a/orgs/b/orgs/c", "orgs", Some("b")),
            ("orgs/acme", "orgs", Some("acme")),
            ("", "orgs", None),
        ];
        for (path, after, want) in cases {
            assert_eq!(segment_after(path, after), want, "{path}");
        }
    }
}
