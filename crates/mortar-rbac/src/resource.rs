//! [`Resource`]: what a check is about.

use serde_json::{Map, Value};

use crate::model::ResourceId;

/// What a check is about: a kind of resource (`posts`), optionally one instance (`posts` `42`)
/// with its tenant, its attributes for conditions (`owner_id`), and the containers it is in
/// (beyond those the policy records).
///
/// ```
/// use mortar_rbac::Resource;
///
/// let doc = Resource::new("document", "42")
///     .tenant("acme")
///     .attr("owner_id", "u-1")
///     .parent("folder:7".parse().unwrap());
/// assert_eq!(doc.id(), Some("42"));
/// let any_post = Resource::kind("posts");
/// assert_eq!(any_post.id(), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    pub(crate) kind: String,
    pub(crate) id: Option<String>,
    pub(crate) tenant: Option<String>,
    pub(crate) attributes: Map<String, Value>,
    pub(crate) parents: Vec<ResourceId>,
}

impl Resource {
    /// Resources of a kind in general (`posts:create` is checked on `Resource::kind("posts")`).
    pub fn kind(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            ..Self::default()
        }
    }

    /// One resource instance.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            id: Some(id.into()),
            ..Self::default()
        }
    }

    /// The tenant the resource belongs to: a principal of another tenant is refused whatever
    /// its roles.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// An attribute conditions can read as `resource.<name>`.
    #[must_use]
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// A container of this resource (grants on it hold here too), in addition to the parents
    /// recorded in the policy.
    #[must_use]
    pub fn parent(mut self, parent: ResourceId) -> Self {
        self.parents.push(parent);
        self
    }

    /// The kind.
    pub fn kind_name(&self) -> &str {
        &self.kind
    }

    /// The instance id, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The owning tenant, if any.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant.as_deref()
    }
}
