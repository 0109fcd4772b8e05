//! The policy as data: [`Policy`], [`Role`], [`Rule`], [`Assignment`], [`ResourceId`] — what
//! stores keep and files hold (JSON, or YAML with feature `yaml`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::permission::valid_name;

/// A resource instance: `document:42`.
///
/// ```
/// use mortar_rbac::ResourceId;
///
/// let doc: ResourceId = "document:42".parse().unwrap();
/// assert_eq!((doc.kind(), doc.id()), ("document", "42"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    kind: String,
    id: String,
}

impl ResourceId {
    /// A resource of this kind with this id.
    ///
    /// # Errors
    ///
    /// [`Error::Resource`] when the kind is not a name (letters, digits, `_ - . /`) or the id is
    /// empty, longer than 256 bytes or has control characters.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Result<Self, Error> {
        let (kind, id) = (kind.into(), id.into());
        if !valid_name(&kind) || !valid_id(&id) {
            return Err(Error::Resource(format!("{kind}:{id}")));
        }
        Ok(Self { kind, id })
    }

    /// The kind (`document`).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The id (`42`).
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Ids are opaque (UUIDs, slugs, numbers): 1 to 256 bytes without control characters.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 256 && !id.chars().any(char::is_control)
}

impl FromStr for ResourceId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let (kind, id) = s
            .split_once(':')
            .ok_or_else(|| Error::Resource(s.to_owned()))?;
        Self::new(kind, id)
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

impl Serialize for ResourceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ResourceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One permission of a role, allowed or denied, with an optional CEL condition over `subject`,
/// `resource`, `context` and `now`.
///
/// In files a rule is either the permission alone (`"posts:read"`) or
/// `{ permission: "posts:*", when: "resource.owner_id == subject.id" }`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Rule {
    /// The permission, always.
    Always(String),
    /// The permission when the condition holds.
    When {
        /// `resource:action`.
        permission: String,
        /// A CEL expression that must evaluate to `true`.
        when: String,
    },
}

impl Rule {
    /// The permission text.
    pub fn permission(&self) -> &str {
        match self {
            Self::Always(permission) | Self::When { permission, .. } => permission,
        }
    }

    /// The condition, if any.
    pub fn condition(&self) -> Option<&str> {
        match self {
            Self::Always(_) => None,
            Self::When { when, .. } => Some(when),
        }
    }
}

impl From<&str> for Rule {
    fn from(permission: &str) -> Self {
        Self::Always(permission.to_owned())
    }
}

/// A role: the roles it inherits (their permissions and denials become its own), the
/// permissions it allows and those it denies. A denial wins over any allowance.
///
/// ```
/// use mortar_rbac::Role;
///
/// let editor = Role::new()
///     .inherits("viewer")
///     .allow("posts:write")
///     .allow_when("posts:delete", "resource.owner_id == subject.id")
///     .deny("billing:*");
/// assert_eq!(editor.allow.len(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Role {
    /// What the role is for (admin screens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Roles whose rules this one has too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherits: Vec<String>,
    /// Permissions allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<Rule>,
    /// Permissions denied (overriding any allowance, from any role).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<Rule>,
}

impl Role {
    /// A role with no rules.
    pub fn new() -> Self {
        Self::default()
    }

    /// Describes the role.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Inherits another role's rules.
    #[must_use]
    pub fn inherits(mut self, role: impl Into<String>) -> Self {
        self.inherits.push(role.into());
        self
    }

    /// Allows a permission.
    #[must_use]
    pub fn allow(mut self, permission: impl Into<String>) -> Self {
        self.allow.push(Rule::Always(permission.into()));
        self
    }

    /// Allows a permission when a CEL condition holds.
    #[must_use]
    pub fn allow_when(mut self, permission: impl Into<String>, when: impl Into<String>) -> Self {
        self.allow.push(Rule::When {
            permission: permission.into(),
            when: when.into(),
        });
        self
    }

    /// Denies a permission (whatever other roles allow).
    #[must_use]
    pub fn deny(mut self, permission: impl Into<String>) -> Self {
        self.deny.push(Rule::Always(permission.into()));
        self
    }

    /// Denies a permission when a CEL condition holds.
    #[must_use]
    pub fn deny_when(mut self, permission: impl Into<String>, when: impl Into<String>) -> Self {
        self.deny.push(Rule::When {
            permission: permission.into(),
            when: when.into(),
        });
        self
    }
}

/// A role given to a subject: everywhere (global), within one tenant, or on one resource
/// instance (and, through resource parents, on what it contains); optionally only while a CEL
/// condition holds.
///
/// ```
/// use mortar_rbac::Assignment;
///
/// let admin_in_acme = Assignment::new("alice", "admin").in_tenant("acme");
/// let editor_of_doc = Assignment::new("bob", "editor").on("document:42".parse().unwrap());
/// assert_eq!(admin_in_acme.tenant.as_deref(), Some("acme"));
/// assert_eq!(editor_of_doc.resource.unwrap().id(), "42");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Assignment {
    /// The principal's subject.
    pub subject: String,
    /// The role.
    pub role: String,
    /// The tenant it holds in (`None`: in every tenant the subject acts in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The resource it holds on (`None`: on every resource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<ResourceId>,
    /// A CEL condition under which it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

impl Assignment {
    /// `role` for `subject`, everywhere.
    pub fn new(subject: impl Into<String>, role: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            role: role.into(),
            tenant: None,
            resource: None,
            when: None,
        }
    }

    /// Only within this tenant.
    #[must_use]
    pub fn in_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Only on this resource (and what it contains).
    #[must_use]
    pub fn on(mut self, resource: ResourceId) -> Self {
        self.resource = Some(resource);
        self
    }

    /// Only while this CEL condition holds.
    #[must_use]
    pub fn when(mut self, condition: impl Into<String>) -> Self {
        self.when = Some(condition.into());
        self
    }
}

/// A containment edge: grants on `parent` hold on `child` too (folder → document).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parent {
    /// The contained resource.
    pub child: ResourceId,
    /// Its container.
    pub parent: ResourceId,
}

/// A whole policy: roles by name, assignments, resource parents. Build it in code, load it from
/// JSON or YAML (`Policy::from_json`, `Policy::from_yaml`), or keep it in a store.
///
/// ```
/// use mortar_rbac::{Assignment, Policy, Role};
///
/// let policy = Policy::from_json(r#"{
///   "roles": {
///     "viewer": { "allow": ["posts:read"] },
///     "editor": { "inherits": ["viewer"], "allow": ["posts:write"], "deny": ["posts:purge"] }
///   },
///   "assignments": [ { "subject": "alice", "role": "editor", "tenant": "acme" } ]
/// }"#).unwrap();
/// let same = Policy::new()
///     .role("viewer", Role::new().allow("posts:read"))
///     .role("editor", Role::new().inherits("viewer").allow("posts:write").deny("posts:purge"))
///     .assign(Assignment::new("alice", "editor").in_tenant("acme"));
/// assert_eq!(policy, same);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Policy {
    /// Roles by name.
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    /// Who holds which role where.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// Which resources contain which.
    #[serde(default)]
    pub parents: Vec<Parent>,
}

impl Policy {
    /// An empty policy (everything denied).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a role.
    #[must_use]
    pub fn role(mut self, name: impl Into<String>, role: Role) -> Self {
        self.roles.insert(name.into(), role);
        self
    }

    /// Adds an assignment.
    #[must_use]
    pub fn assign(mut self, assignment: Assignment) -> Self {
        self.assignments.push(assignment);
        self
    }

    /// Records that `child` is contained in `parent`.
    #[must_use]
    pub fn parent(mut self, child: ResourceId, parent: ResourceId) -> Self {
        self.parents.push(Parent { child, parent });
        self
    }

    /// Reads a policy from JSON.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] with the parser's message (line and column).
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error::Parse(e.to_string()))
    }

    /// Reads a policy from YAML (feature `yaml`).
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] with the parser's message.
    #[cfg(feature = "yaml")]
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        serde_yaml_ng::from_str(text).map_err(|e| Error::Parse(e.to_string()))
    }

    /// Reads a policy file: YAML for `.yaml` / `.yml` (feature `yaml`), JSON otherwise.
    ///
    /// # Errors
    ///
    /// [`Error::File`] when the file cannot be read or parsed.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::File(format!("{}: {e}", path.display())))?;
        let yaml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        // A file that does not parse is the server's configuration: `Error::File`, naming it.
        let in_file = |e: Error| match e {
            Error::Parse(message) => Error::File(format!("{}: {message}", path.display())),
            other => other,
        };
        if yaml {
            #[cfg(feature = "yaml")]
            return Self::from_yaml(&text).map_err(in_file);
            #[cfg(not(feature = "yaml"))]
            return Err(Error::File(format!(
                "{}: YAML policies need the `yaml` feature",
                path.display()
            )));
        }
        Self::from_json(&text).map_err(in_file)
    }
}
