//! [`EvaluationContext`]: who and what a flag is evaluated for.

use std::net::IpAddr;

use mortar_core::Principal;
use serde_json::{Map, Value};

/// The facts targeting rules read: a targeting key (the subject, for consistent bucketing) and
/// attributes (`{"var": "tenant"}`, `{"var": "user.plan"}`…).
///
/// Built from a [`Principal`] with [`EvaluationContext::from_principal`]: targeting key =
/// subject (none for the anonymous principal), `tenant`, `kind`, `roles`, `scopes`, `amr` (how
/// it authenticated) and the principal's attributes at the top level (a principal attribute
/// never replaces one of those names). The tower layer and actix middleware add the request's
/// `ip`, `userAgent` and `locale` (first `Accept-Language` tag).
///
/// ```
/// use mortar_core::Principal;
/// use mortar_flags::EvaluationContext;
///
/// let ann = Principal::user("ann").tenant("acme").role("admin").attribute("plan", "pro").build();
/// let ctx = EvaluationContext::from_principal(&ann).with("country", "DE");
/// assert_eq!(ctx.targeting_key(), Some("ann"));
/// assert_eq!(ctx.get("tenant").and_then(|v| v.as_str()), Some("acme"));
/// assert_eq!(ctx.get("plan").and_then(|v| v.as_str()), Some("pro"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvaluationContext {
    targeting_key: Option<String>,
    attributes: Map<String, Value>,
}

impl EvaluationContext {
    /// An empty context (no targeting key: fractional rules serve the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// A context with this targeting key.
    pub fn with_targeting_key(key: impl Into<String>) -> Self {
        Self {
            targeting_key: Some(key.into()),
            attributes: Map::new(),
        }
    }

    /// The context of a principal (see the type's documentation).
    pub fn from_principal(principal: &Principal) -> Self {
        let mut ctx = Self::new();
        if !principal.is_anonymous() {
            ctx.targeting_key = Some(principal.subject().to_owned());
        }
        for (name, value) in principal.attributes() {
            // The targeting key is the subject, never an attribute.
            if name != "targetingKey" {
                ctx.attributes.insert(name.clone(), value.clone());
            }
        }
        let attrs = &mut ctx.attributes;
        attrs.insert("kind".into(), principal.kind().as_str().into());
        if let Some(tenant) = principal.tenant() {
            attrs.insert("tenant".into(), tenant.into());
        } else {
            attrs.remove("tenant");
        }
        attrs.insert(
            "roles".into(),
            Value::Array(principal.roles().map(Value::from).collect()),
        );
        attrs.insert(
            "scopes".into(),
            Value::Array(principal.scopes().map(Value::from).collect()),
        );
        attrs.insert(
            "amr".into(),
            Value::Array(
                principal
                    .authentication()
                    .amr()
                    .into_iter()
                    .map(Value::from)
                    .collect(),
            ),
        );
        ctx
    }

    /// Sets the targeting key.
    #[must_use]
    pub fn targeting_key_of(mut self, key: impl Into<String>) -> Self {
        self.targeting_key = Some(key.into());
        self
    }

    /// Adds (or replaces) an attribute. `targetingKey` sets the targeting key when a string.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    /// Adds (or replaces) an attribute in place.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        if name == "targetingKey" {
            if let Value::String(key) = value {
                self.targeting_key = Some(key);
            } else {
                self.targeting_key = None;
            }
            return;
        }
        self.attributes.insert(name, value);
    }

    /// Adds the request's client address as `ip`.
    #[must_use]
    pub fn with_ip(self, ip: IpAddr) -> Self {
        self.with("ip", ip.to_string())
    }

    /// The targeting key.
    pub fn targeting_key(&self) -> Option<&str> {
        self.targeting_key.as_deref()
    }

    /// An attribute.
    pub fn get(&self, name: &str) -> Option<&Value> {
        if name == "targetingKey" {
            return None;
        }
        self.attributes.get(name)
    }

    /// Every attribute (the targeting key apart).
    pub fn attributes(&self) -> &Map<String, Value> {
        &self.attributes
    }

    /// This context with `other`'s targeting key (if it has one) and attributes laid over it.
    #[must_use]
    pub fn merged(mut self, other: &EvaluationContext) -> Self {
        if let Some(key) = &other.targeting_key {
            self.targeting_key = Some(key.clone());
        }
        for (k, v) in &other.attributes {
            self.attributes.insert(k.clone(), v.clone());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_names_win_over_attributes() {
        let p = Principal::user("u")
            .attribute("tenant", "forged")
            .attribute("roles", "forged")
            .build();
        let ctx = EvaluationContext::from_principal(&p);
        assert!(ctx.get("tenant").is_none());
        assert_eq!(ctx.get("roles"), Some(&Value::Array(vec![])));
        assert_eq!(ctx.get("kind").and_then(Value::as_str), Some("user"));
        let anon = EvaluationContext::from_principal(&Principal::anonymous());
        assert_eq!(anon.targeting_key(), None);
    }

    #[test]
    fn targeting_key_through_with() {
        let ctx = EvaluationContext::new().with("targetingKey", "k");
        assert_eq!(ctx.targeting_key(), Some("k"));
        assert!(ctx.get("targetingKey").is_none());
        let merged = EvaluationContext::with_targeting_key("a")
            .with("x", 1)
            .merged(&EvaluationContext::new().with("y", 2));
        assert_eq!(merged.targeting_key(), Some("a"));
        assert_eq!(merged.attributes().len(), 2);
    }
}
