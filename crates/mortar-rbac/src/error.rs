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
    /// A policy given as text ([`crate::Policy::from_json`], `from_yaml`) does not parse: the
    /// parser's message, with line and column.
    #[error("policy text does not parse: {0}")]
    Parse(String),
    /// The policy store failed.
    #[error("policy store: {0}")]
    Store(String),
}

/// At the HTTP edge (an admin API editing roles, say): a permission, resource, name, role,
/// condition or policy text that cannot be used is the caller's input, answered 422
/// `urn:mortar:problem:invalid-policy` with the reason as detail; a policy file or store that
/// fails is the server's, answered 500 without detail (and logged).
///
/// ```
/// use mortar_core::Problem;
///
/// let problem = Problem::from(mortar_rbac::Error::UnknownRole("auditor".into()));
/// assert_eq!(problem.status().as_u16(), 422);
/// assert_eq!(problem.type_uri(), "urn:mortar:problem:invalid-policy");
/// ```
impl From<Error> for mortar_core::Problem {
    fn from(err: Error) -> Self {
        use http::StatusCode;
        match &err {
            Error::File(_) | Error::Store(_) => {
                tracing::error!(target: "mortar::rbac", error = %err, "policy file or store failed");
                mortar_core::Problem::internal_error()
            }
            Error::Permission(_)
            | Error::Resource(_)
            | Error::Name { .. }
            | Error::UnknownRole(_)
            | Error::RoleCycle(_)
            | Error::ResourceCycle(_)
            | Error::Condition { .. }
            | Error::Parse(_) => mortar_core::Problem::mortar(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-policy",
                "The policy change cannot be used.",
            )
            .with_detail(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use mortar_core::Problem;

    use super::Error;

    #[test]
    fn input_errors_are_422_with_the_reason_and_backend_errors_500_without() {
        let input = Problem::from(Error::Permission("posts".into()));
        assert_eq!(input.status().as_u16(), 422);
        assert!(input.detail().is_some_and(|d| d.contains("posts")));
        let text = crate::Policy::from_json("{\"roles\": 3}").unwrap_err();
        assert!(matches!(text, Error::Parse(_)), "{text:?}");
        assert_eq!(Problem::from(text).status().as_u16(), 422);

        let store = Problem::from(Error::Store("connection refused to db-primary".into()));
        assert_eq!(store.status().as_u16(), 500);
        assert_eq!(
            store.detail(),
            None,
            "no internal detail reaches the client"
        );
        let file = Problem::from(Error::File("/etc/policy.yaml: permission denied".into()));
        assert_eq!(file.status().as_u16(), 500);
        assert_eq!(file.detail(), None);
    }
}
