//! [`Decision`]: allowed or not, and which rule decided.

use std::fmt;
use std::sync::Arc;

use crate::model::ResourceId;

/// How the deciding role was held.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// An assignment in every tenant.
    Global,
    /// An assignment within this tenant.
    Tenant(Arc<str>),
    /// An assignment on this resource (the checked one or a container of it).
    Resource(Arc<ResourceId>),
    /// A role carried by the principal itself (its token's roles).
    Principal,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Global => f.write_str("assigned globally"),
            Self::Tenant(t) => write!(f, "assigned in tenant {t:?}"),
            Self::Resource(r) => write!(f, "assigned on {r}"),
            Self::Principal => f.write_str("carried by the principal"),
        }
    }
}

/// The rule that decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched {
    /// The role held.
    pub role: Arc<str>,
    /// The role that holds the rule (the held role itself, or one it inherits).
    pub from: Arc<str>,
    /// The rule's permission (`posts:*`).
    pub permission: Arc<str>,
    /// The rule's condition, if it had one (it held).
    pub condition: Option<Arc<str>>,
    /// How the role was held.
    pub via: Via,
}

/// Why a check was decided as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// A rule allows it and no rule denies it.
    Allowed(Matched),
    /// A deny rule matched (deny overrides allow).
    Denied(Matched),
    /// No rule allows it (default deny). `conditional` names an allowing rule whose condition
    /// did not hold (or failed to evaluate), when there was one.
    NoRule {
        /// An allow rule that matched but whose condition did not hold, with the reason.
        conditional: Option<(Matched, String)>,
    },
    /// The resource belongs to another tenant than the principal's: refused whatever the
    /// roles (ASVS V8.4.1).
    CrossTenant,
}

/// The answer to a check: [`Decision::allowed`], and [`Decision::explain`] for logs, tests and
/// admin screens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub(crate) allowed: bool,
    pub(crate) reason: Reason,
}

impl Decision {
    pub(crate) fn new(reason: Reason) -> Self {
        Self {
            allowed: matches!(reason, Reason::Allowed(_)),
            reason,
        }
    }

    /// Whether the action is allowed.
    pub fn allowed(&self) -> bool {
        self.allowed
    }

    /// Why.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// The deciding rule in a sentence: `allowed by role "editor" (assigned in tenant "acme"):
    /// posts:*`.
    pub fn explain(&self) -> String {
        fn rule(m: &Matched) -> String {
            let from = if m.from == m.role {
                String::new()
            } else {
                format!(", inherited from {:?}", m.from)
            };
            let when = m
                .condition
                .as_ref()
                .map(|c| format!(" when {c}"))
                .unwrap_or_default();
            format!(
                "role {:?} ({}{from}): {}{when}",
                m.role, m.via, m.permission
            )
        }
        match &self.reason {
            Reason::Allowed(m) => format!("allowed by {}", rule(m)),
            Reason::Denied(m) => format!("denied by {}", rule(m)),
            Reason::NoRule { conditional: None } => "denied: no rule allows it".to_owned(),
            Reason::NoRule {
                conditional: Some((m, why)),
            } => format!("denied: the condition of {} did not hold ({why})", rule(m)),
            Reason::CrossTenant => "denied: the resource belongs to another tenant".to_owned(),
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.explain())
    }
}
