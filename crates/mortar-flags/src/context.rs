//! [`EvaluationContext`]: who and what a flag is evaluated for.

use std::net::IpAddr;
use std::sync::OnceLock;

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
///
/// The attributes are built when a rule first reads one: a flag with no rule, or a plain
/// percentage rollout (a `fractional` on the targeting key alone), never builds them.
#[derive(Clone, Debug, Default)]
pub struct EvaluationContext {
    key: Key,
    /// The attributes, once built (from `source`, then changed by `set`).
    attributes: OnceLock<Map<String, Value>>,
    /// What the attributes are built from, until they are (inline: a request's context is built
    /// on every request, so it costs no allocation of its own).
    source: Option<Source>,
}

/// The targeting key: none, one of its own, or the subject of the source's principal (read
/// from it, not copied, until the source is dropped).
#[derive(Clone, Debug, Default)]
enum Key {
    #[default]
    None,
    Own(String),
    Subject,
}

/// The facts a context's attributes are built from, kept as they came (a principal is one
/// reference count to hold).
#[derive(Clone, Debug, Default)]
pub(crate) struct Source {
    pub(crate) principal: Option<Principal>,
    pub(crate) ip: Option<IpAddr>,
    /// `User-Agent` as it came (the attribute keeps its first 512 characters).
    pub(crate) user_agent: Option<http::HeaderValue>,
    /// `Accept-Language` as it came (the attribute is its first language tag).
    pub(crate) accept_language: Option<http::HeaderValue>,
}

impl Source {
    fn build(&self) -> Map<String, Value> {
        let mut attrs = Map::new();
        if let Some(principal) = &self.principal {
            principal_attributes(principal, &mut attrs);
        }
        if let Some(ip) = self.ip {
            attrs.insert("ip".into(), ip.to_string().into());
        }
        if let Some(agent) = self.user_agent.as_ref().and_then(|v| v.to_str().ok()) {
            let agent: String = agent.chars().take(512).collect();
            attrs.insert("userAgent".into(), agent.into());
        }
        if let Some(locale) = self
            .accept_language
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|tag| tag.split(';').next().unwrap_or("").trim())
            .filter(|tag| !tag.is_empty() && *tag != "*" && tag.len() <= 35)
        {
            attrs.insert("locale".into(), locale.into());
        }
        attrs
    }
}

/// A principal's attributes, then the names the principal's own attributes never replace.
fn principal_attributes(principal: &Principal, attrs: &mut Map<String, Value>) {
    for (name, value) in principal.attributes() {
        // The targeting key is the subject, never an attribute.
        if name != "targetingKey" {
            attrs.insert(name.clone(), value.clone());
        }
    }
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
}

impl PartialEq for EvaluationContext {
    fn eq(&self, other: &Self) -> bool {
        self.targeting_key() == other.targeting_key() && self.attributes() == other.attributes()
    }
}

impl EvaluationContext {
    /// An empty context (no targeting key: fractional rules serve the default).
    pub fn new() -> Self {
        Self::default()
    }

    /// A context with this targeting key.
    pub fn with_targeting_key(key: impl Into<String>) -> Self {
        Self {
            key: Key::Own(key.into()),
            ..Self::default()
        }
    }

    /// The context of a principal (see the type's documentation).
    pub fn from_principal(principal: &Principal) -> Self {
        Self::from_source(Source {
            principal: Some(principal.clone()),
            ..Source::default()
        })
    }

    /// A context built from `source` when read: the targeting key now (the principal's subject,
    /// unless anonymous), the attributes on first use.
    pub(crate) fn from_source(source: Source) -> Self {
        let signed_in = source.principal.as_ref().is_some_and(|p| !p.is_anonymous());
        Self {
            key: if signed_in { Key::Subject } else { Key::None },
            attributes: OnceLock::new(),
            source: Some(source),
        }
    }

    /// The attributes, built now if they were not yet, to change them.
    fn attributes_mut(&mut self) -> &mut Map<String, Value> {
        let _ = self.attributes();
        if matches!(self.key, Key::Subject) {
            // The source goes: the subject is copied first.
            self.key = self
                .targeting_key()
                .map_or(Key::None, |subject| Key::Own(subject.to_owned()));
        }
        self.source = None;
        self.attributes
            .get_mut()
            .unwrap_or_else(|| unreachable!("built just above"))
    }

    /// Sets the targeting key.
    #[must_use]
    pub fn targeting_key_of(mut self, key: impl Into<String>) -> Self {
        self.key = Key::Own(key.into());
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
            self.key = match value {
                Value::String(key) => Key::Own(key),
                _ => Key::None,
            };
            return;
        }
        self.attributes_mut().insert(name, value);
    }

    /// Adds the request's client address as `ip`.
    #[must_use]
    pub fn with_ip(self, ip: IpAddr) -> Self {
        self.with("ip", ip.to_string())
    }

    /// The targeting key.
    pub fn targeting_key(&self) -> Option<&str> {
        match &self.key {
            Key::None => None,
            Key::Own(key) => Some(key),
            Key::Subject => self
                .source
                .as_ref()
                .and_then(|source| source.principal.as_ref())
                .map(Principal::subject),
        }
    }

    /// An attribute.
    pub fn get(&self, name: &str) -> Option<&Value> {
        if name == "targetingKey" {
            return None;
        }
        self.attributes().get(name)
    }

    /// Every attribute (the targeting key apart).
    pub fn attributes(&self) -> &Map<String, Value> {
        self.attributes
            .get_or_init(|| self.source.as_ref().map(Source::build).unwrap_or_default())
    }

    /// This context with `other`'s targeting key (if it has one) and attributes laid over it.
    #[must_use]
    pub fn merged(mut self, other: &EvaluationContext) -> Self {
        if let Some(key) = other.targeting_key() {
            self.key = Key::Own(key.to_owned());
        }
        let attrs = self.attributes_mut();
        for (k, v) in other.attributes() {
            attrs.insert(k.clone(), v.clone());
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
    fn attributes_are_built_when_read() {
        let p = Principal::user("u")
            .tenant("acme")
            .attribute("plan", "pro")
            .build();
        let ctx = EvaluationContext::from_principal(&p);
        assert_eq!(ctx.targeting_key(), Some("u"));
        assert!(
            ctx.attributes.get().is_none(),
            "not built for the key alone"
        );
        assert_eq!(ctx.get("tenant").and_then(Value::as_str), Some("acme"));
        assert!(ctx.attributes.get().is_some());
        // Changing one keeps the rest; clones and comparisons see the same facts.
        let lazy = EvaluationContext::from_principal(&p);
        let changed = lazy.clone().with("country", "DE");
        assert_eq!(changed.get("plan").and_then(Value::as_str), Some("pro"));
        assert_eq!(changed.get("country").and_then(Value::as_str), Some("DE"));
        assert_eq!(lazy, ctx);
        assert_ne!(changed, ctx);
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
