//! Authorization for Rust web services: roles holding `resource:action` permissions (with
//! wildcards), role inheritance, assignments global, per tenant or on one resource (inherited
//! by what it contains), deny rules that override any allowance, CEL conditions over
//! `subject`, `resource`, `context` and `now`, and decisions that explain themselves — read
//! from an in-memory index, so a check costs about a microsecond whatever the policy's size.
//!
//! | type | what |
//! | --- | --- |
//! | [`Policy`], [`Role`], [`Rule`], [`Assignment`], [`ResourceId`], [`Parent`] | the policy as data (code, JSON, YAML with feature `yaml`) |
//! | [`Rbac`] | checks, queries for admin screens, audited admin changes |
//! | [`Resource`] | what a check is about |
//! | [`Decision`], [`Reason`], [`Via`] | the answer and the rule that gave it |
//! | `RequirePermission` (a tower layer with feature `tower`, actix middleware with `actix`), `Guard` and `axum::Authorized` (extractors) | the HTTP edges: 401 / 403 problem documents |
//! | [`PolicyStore`], [`MemoryStore`], `sql::SeaOrmPolicyStore` (features `sqlite`, `postgres`, `mysql`) | where a policy lives; [`Rbac::watch`] follows other instances' changes |
//!
//! Deny overrides allow; nothing is allowed unless a rule allows it; a resource of another
//! tenant than the principal's is refused whatever the roles; a condition that cannot be
//! evaluated (a missing attribute) never allows and never panics — and a deny rule whose
//! condition cannot be evaluated denies.
//!
//! ```
//! use mortar_core::Principal;
//! use mortar_rbac::{Assignment, Policy, Rbac, Resource, Role};
//!
//! let rbac = Rbac::new(
//!     Policy::new()
//!         .role("member", Role::new().allow("docs:read").allow_when("docs:write", "resource.owner == subject.id"))
//!         .role("admin", Role::new().inherits("member").allow("docs:*").deny("billing:*"))
//!         .assign(Assignment::new("ann", "member").in_tenant("acme")),
//! )
//! .unwrap();
//! let ann = Principal::user("ann").tenant("acme").build();
//! let own = Resource::new("docs", "1").tenant("acme").attr("owner", "ann");
//! let other = Resource::new("docs", "2").tenant("acme").attr("owner", "bob");
//! assert!(rbac.check(&ann, "write", &own).allowed());
//! let no = rbac.check(&ann, "write", &other);
//! assert!(!no.allowed());
//! assert!(no.explain().contains("did not hold"));
//! ```

mod condition;
mod decision;
mod error;
mod index;
mod model;
mod permission;
mod rbac;
mod resource;
mod store;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(any(feature = "tower", feature = "actix"))]
mod guard;
#[cfg(feature = "tower")]
mod layer;
#[cfg(feature = "sql")]
pub mod sql;

use std::sync::Arc;

pub use decision::{Decision, Matched, Reason, Via};
pub use error::Error;
pub use model::{Assignment, Parent, Policy, ResourceId, Role, Rule};
pub use permission::Permission;
pub use rbac::{Rbac, Watch};
pub use resource::Resource;
pub use store::{MemoryStore, PolicyStore};

#[cfg(any(feature = "tower", feature = "actix"))]
pub use guard::{Guard, RequirePermission, Requirement, ResourceFn, TenantFn, forbidden};
#[cfg(feature = "tower")]
pub use layer::{RequirePermissionService, ResponseFuture};

/// One rule a principal holds on a resource ([`Rbac::permissions`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    /// The permission.
    pub permission: Permission,
    /// Allowed (`true`) or denied.
    pub allowed: bool,
    /// The role that gives it.
    pub role: Arc<str>,
    /// The condition it depends on (the rule's or the assignment's), if any.
    pub condition: Option<Arc<str>>,
    /// How the role is held.
    pub via: Via,
}
