//! [`Error`]: what can be wrong with a policy or a store.

/// A policy that cannot be used, or a store that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A permission is not `resource:action` (each part a name or `*`).
    #[error("not a permission (resource:action, each part a name or `*`): {0:?}")]
    Permission(String),
    /// A resource reference is not `kind:id`.
    #[error("not a resource reference (kind:id): {0:?}")]
    Resource(String),
    /// A name (role, subject, tenant) is empty, too long or has control characters.
    #[error("invalid {what}: {value:?}")]
    Name {
        /// What the name names.
        what: &'static str,
        /// The name.
        value: String,
    },
    /// A role, an assignment or an inheritance names a role the policy does not define.
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    /// Role inheritance loops; the path is given (`a → b → a`).
    #[error("role inheritance has a cycle: {0}")]
    RoleCycle(String),
    /// Resource parents loop; the path is given.
    #[error("resource parents have a cycle: {0}")]
    ResourceCycle(String),
    /// A CEL condition does not parse.
    #[error("condition {source_text:?} does not parse: {message}")]
    Condition {
        /// The condition's text.
        source_text: String,
        /// The parser's message.
        message: String,
    },
    /// A policy file could not be read or parsed.
    #[error("policy file: {0}")]
    File(String),
    /// The policy store failed.
    #[error("policy store: {0}")]
    Store(String),
}
