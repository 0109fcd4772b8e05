//! [`Permission`]: `resource:action`, either part a name or `*`.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// One part of a permission: a name, or `*` for any.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Part {
    Any,
    Name(Box<str>),
}

impl Part {
    fn parse(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Self::Any);
        }
        valid_name(text).then(|| Self::Name(Box::from(text)))
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Any => "*",
            Self::Name(name) => name,
        }
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Name(name) => **name == *value,
        }
    }
}

/// Letters, digits and `_ - .` (and `/` for nested resource kinds), 1 to 128 bytes.
pub(crate) fn valid_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
}

/// A permission: an action on a kind of resource, `posts:write`; either part may be `*`
/// (`posts:*`, `*:read`, `*:*`).
///
/// ```
/// use mortar_rbac::Permission;
///
/// let p: Permission = "posts:*".parse().unwrap();
/// assert!(p.matches("posts", "delete"));
/// assert!(!p.matches("comments", "delete"));
/// assert_eq!(p.to_string(), "posts:*");
/// assert!("posts".parse::<Permission>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    pub(crate) resource: Part,
    pub(crate) action: Part,
}

impl Permission {
    /// Parses `resource:action`.
    ///
    /// # Errors
    ///
    /// [`Error::Permission`] when the text is not two names (or `*`) joined by one `:`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = || Error::Permission(text.to_owned());
        let (resource, action) = text.split_once(':').ok_or_else(invalid)?;
        Ok(Self {
            resource: Part::parse(resource).ok_or_else(invalid)?,
            action: Part::parse(action).ok_or_else(invalid)?,
        })
    }

    /// The kind and action of a permission naming both (no `*`): what a check or a route
    /// requires. Borrowed from `text`; nothing is allocated.
    ///
    /// # Errors
    ///
    /// [`Error::Permission`] when the text is malformed or has a wildcard.
    pub(crate) fn concrete(text: &str) -> Result<(&str, &str), Error> {
        text.split_once(':')
            .filter(|(kind, action)| valid_name(kind) && valid_name(action))
            .ok_or_else(|| Error::Permission(text.to_owned()))
    }

    /// Whether this permission covers `action` on resources of kind `resource`.
    pub fn matches(&self, resource: &str, action: &str) -> bool {
        self.resource.matches(resource) && self.action.matches(action)
    }

    /// The resource part (`*` for any).
    pub fn resource(&self) -> &str {
        self.resource.as_str()
    }

    /// The action part (`*` for any).
    pub fn action(&self) -> &str {
        self.action.as_str()
    }
}

impl FromStr for Permission {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource.as_str(), self.action.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        for bad in [
            "",
            ":",
            "posts",
            "posts:",
            ":read",
            "a:b:c",
            "po sts:read",
            "posts:re*d",
        ] {
            assert!(Permission::parse(bad).is_err(), "{bad:?}");
            assert!(Permission::concrete(bad).is_err(), "{bad:?}");
        }
        for wildcard in ["posts:*", "*:read", "*:*"] {
            assert!(Permission::concrete(wildcard).is_err(), "{wildcard:?}");
        }
        assert_eq!(Permission::concrete("a/b:c").unwrap(), ("a/b", "c"));
        let any_read = Permission::parse("*:read").unwrap();
        assert!(any_read.matches("posts", "read") && !any_read.matches("posts", "write"));
        assert!(Permission::parse("*:*").unwrap().matches("x", "y"));
        assert_eq!(
            Permission::parse("billing/invoices:pay")
                .unwrap()
                .resource(),
            "billing/invoices"
        );
    }
}
