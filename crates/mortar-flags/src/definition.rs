//! Flag definitions in flagd's format: [`FlagSet`] (a whole flag file) and [`FlagDefinition`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;

/// Whether a flag is served. A disabled flag resolves to the caller's default with reason
/// `DISABLED`, as flagd does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FlagState {
    /// Served.
    #[default]
    Enabled,
    /// Not served: every evaluation gets the caller's default.
    Disabled,
}

/// One flag, as flagd's flag-definition schema describes it: variants (name → value, all of one
/// type: boolean, string, number or object), the default variant, an optional JsonLogic
/// `targeting` rule that names a variant, and metadata.
///
/// ```
/// use mortar_flags::FlagDefinition;
///
/// let flag = FlagDefinition::boolean(false)
///     .targeting(serde_json::json!({"fractional": [["on", 33], ["off", 67]]}))
///     .meta("owner", "growth");
/// assert_eq!(flag.default_variant.as_deref(), Some("off"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagDefinition {
    /// `ENABLED` (the default when absent) or `DISABLED`.
    #[serde(default)]
    pub state: FlagState,
    /// Variant name → value.
    pub variants: BTreeMap<String, Value>,
    /// The variant served when targeting is absent or gives `null`. `None` (absent or `null`):
    /// the caller's default is served (reason `DEFAULT`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_variant: Option<String>,
    /// A JsonLogic rule evaluating to a variant name (or `null` for the default). `$ref`
    /// objects name shared rules of the flag set's `$evaluators`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targeting: Option<Value>,
    /// Free metadata (strings, numbers, booleans), returned with every resolution.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

impl FlagDefinition {
    /// A flag with the given variants and default variant.
    pub fn new(
        variants: impl IntoIterator<Item = (impl Into<String>, Value)>,
        default_variant: Option<&str>,
    ) -> Self {
        Self {
            state: FlagState::Enabled,
            variants: variants.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            default_variant: default_variant.map(str::to_owned),
            targeting: None,
            metadata: Map::new(),
        }
    }

    /// A boolean flag with variants `on` (true) and `off` (false), defaulting to `default`.
    pub fn boolean(default: bool) -> Self {
        Self::new(
            [("on", Value::Bool(true)), ("off", Value::Bool(false))],
            Some(if default { "on" } else { "off" }),
        )
    }

    /// Sets the targeting rule.
    #[must_use]
    pub fn targeting(mut self, rule: Value) -> Self {
        self.targeting = Some(rule);
        self
    }

    /// Sets the state.
    #[must_use]
    pub fn state(mut self, state: FlagState) -> Self {
        self.state = state;
        self
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Checks what flagd's schema requires: at least one variant, all of one type, a default
    /// variant that exists, scalar metadata, and a targeting rule that is an object (or
    /// absent). The rule's operators are checked when the flag is compiled.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] saying what is wrong.
    pub fn validate(&self, key: &str) -> Result<(), Error> {
        validate_key(key)?;
        let invalid = |why: String| Error::Invalid {
            flag: key.to_owned(),
            reason: why,
        };
        if self.variants.is_empty() {
            return Err(invalid("a flag needs at least one variant".into()));
        }
        let mut kinds = self.variants.values().map(kind_of);
        let first = kinds.next().unwrap_or("null");
        if first == "null" || first == "array" {
            return Err(invalid(format!(
                "a variant's value is a boolean, string, number or object, not {first}"
            )));
        }
        if let Some(other) = kinds.find(|k| *k != first) {
            return Err(invalid(format!(
                "variants mix types ({first} and {other}); a flag's variants share one type"
            )));
        }
        if let Some(default) = &self.default_variant
            && !self.variants.contains_key(default)
        {
            return Err(invalid(format!(
                "default variant {default:?} is not one of the variants"
            )));
        }
        if let Some(bad) = self
            .metadata
            .iter()
            .find(|(_, v)| !matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
        {
            return Err(invalid(format!(
                "metadata {:?} must be a string, number or boolean",
                bad.0
            )));
        }
        if let Some(rule) = &self.targeting
            && !rule.is_object()
        {
            return Err(invalid("targeting must be a JsonLogic object".into()));
        }
        Ok(())
    }
}

/// A flag key: 1–256 characters, no control characters.
pub(crate) fn validate_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > 256 || key.chars().any(char::is_control) {
        return Err(Error::Invalid {
            flag: key.chars().take(64).collect(),
            reason: "a flag key is 1 to 256 characters without control characters".into(),
        });
    }
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A whole flag file in flagd's format: `flags`, shared `$evaluators` (named JsonLogic rules a
/// flag's targeting includes with `{"$ref": "name"}`) and set-level `metadata` (merged into each
/// flag's, the flag's own entries winning).
///
/// ```
/// use mortar_flags::FlagSet;
///
/// let set = FlagSet::from_json(r#"{
///   "$schema": "https://flagd.dev/schema/v0/flags.json",
///   "flags": {
///     "new-checkout": {
///       "state": "ENABLED",
///       "variants": {"on": true, "off": false},
///       "defaultVariant": "off",
///       "targeting": {"if": [{"$ref": "staff"}, "on", null]}
///     }
///   },
///   "$evaluators": {"staff": {"ends_with": [{"var": "email"}, "@example.com"]}}
/// }"#).unwrap();
/// assert_eq!(set.flags.len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawSet")]
pub struct FlagSet {
    /// Flag key → definition.
    #[serde(default)]
    pub flags: BTreeMap<String, FlagDefinition>,
    /// Shared rules by name.
    #[serde(
        default,
        rename = "$evaluators",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub evaluators: BTreeMap<String, Value>,
    /// Set-level metadata.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// Flags whose definition could not be read, with why: they resolve with `PARSE_ERROR`.
    #[serde(skip)]
    broken: BTreeMap<String, String>,
}

/// A flag file as read: each flag kept as JSON until it is read on its own, so one unreadable
/// flag does not make the whole file unreadable.
#[derive(Deserialize)]
struct RawSet {
    #[serde(default)]
    flags: BTreeMap<String, Value>,
    #[serde(default, rename = "$evaluators")]
    evaluators: BTreeMap<String, Value>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

impl From<RawSet> for FlagSet {
    fn from(raw: RawSet) -> Self {
        let mut set = FlagSet {
            evaluators: raw.evaluators,
            metadata: raw.metadata,
            ..FlagSet::default()
        };
        for (key, value) in raw.flags {
            match serde_json::from_value::<FlagDefinition>(value) {
                Ok(flag) => {
                    set.flags.insert(key, flag);
                }
                Err(e) => set.mark_broken(key, format!("not a flag definition: {e}")),
            }
        }
        set
    }
}

impl FlagSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a flag.
    #[must_use]
    pub fn flag(mut self, key: impl Into<String>, definition: FlagDefinition) -> Self {
        self.flags.insert(key.into(), definition);
        self
    }

    /// Adds a shared evaluator.
    #[must_use]
    pub fn evaluator(mut self, name: impl Into<String>, rule: Value) -> Self {
        self.evaluators.insert(name.into(), rule);
        self
    }

    /// Records a flag whose definition could not be read (a stored row that does not parse):
    /// it stays in the set and resolves with `PARSE_ERROR`, while the other flags work.
    pub fn mark_broken(&mut self, key: impl Into<String>, why: impl Into<String>) {
        let key = key.into();
        tracing::warn!(flag = %key, "mortar-flags: a flag definition could not be read");
        self.flags.remove(&key);
        self.broken.insert(key, why.into());
    }

    /// The flags that could not be read, with why.
    pub fn broken(&self) -> &BTreeMap<String, String> {
        &self.broken
    }

    /// Parses flagd JSON.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] when the text is not a flag file. A single flag that is invalid — or
    /// not even a flag definition — does not fail the set: it resolves with error
    /// `PARSE_ERROR`, as in flagd.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error::Parse(e.to_string()))
    }

    /// Parses flagd YAML (feature `yaml`).
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] when the text is not a flag file.
    #[cfg(feature = "yaml")]
    pub fn from_yaml(text: &str) -> Result<Self, Error> {
        serde_yaml_ng::from_str(text).map_err(|e| Error::Parse(e.to_string()))
    }

    /// The flag's targeting with every `$ref` replaced by the named evaluator, recursively.
    /// The result is bounded — at most 64 levels deep and 20 000 nodes — so a reference cycle
    /// or an evaluator included many times over cannot exhaust the stack or memory.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming an evaluator that does not exist, or a rule past the bounds.
    pub fn resolved_targeting(&self, key: &str, rule: &Value) -> Result<Value, Error> {
        let mut budget = MAX_RULE_NODES;
        resolve_refs(rule, &self.evaluators, 0, &mut budget).map_err(|reason| Error::Invalid {
            flag: key.to_owned(),
            reason,
        })
    }
}

/// Bounds of a targeting rule once its `$ref`s are expanded.
const MAX_RULE_DEPTH: usize = 64;
const MAX_RULE_NODES: usize = 20_000;

fn resolve_refs(
    rule: &Value,
    evaluators: &BTreeMap<String, Value>,
    depth: usize,
    budget: &mut usize,
) -> Result<Value, String> {
    if depth > MAX_RULE_DEPTH {
        return Err(format!(
            "the rule nests deeper than {MAX_RULE_DEPTH} levels (a $ref cycle?)"
        ));
    }
    *budget = budget.checked_sub(1).ok_or_else(|| {
        format!("the rule has more than {MAX_RULE_NODES} nodes once its $refs are expanded")
    })?;
    Ok(match rule {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(name)) = map.get("$ref")
            {
                let target = evaluators
                    .get(name)
                    .ok_or_else(|| format!("$ref to an evaluator that does not exist: {name:?}"))?;
                return resolve_refs(target, evaluators, depth + 1, budget);
            }
            Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), resolve_refs(v, evaluators, depth + 1, budget)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve_refs(v, evaluators, depth + 1, budget))
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn validation_rules() {
        assert!(FlagDefinition::boolean(true).validate("a").is_ok());
        let mixed = FlagDefinition::new([("a", json!(1)), ("b", json!("x"))], Some("a"));
        assert!(mixed.validate("k").unwrap_err().to_string().contains("mix"));
        let missing = FlagDefinition::new([("a", json!(1))], Some("b"));
        assert!(missing.validate("k").is_err());
        assert!(FlagDefinition::boolean(true).validate("").is_err());
        assert!(FlagDefinition::boolean(true).validate("a\nb").is_err());
        let meta = FlagDefinition::boolean(true).meta("x", json!({"a": 1}));
        assert!(meta.validate("k").is_err());
        let none: [(&str, Value); 0] = [];
        assert!(FlagDefinition::new(none, None).validate("k").is_err());
        assert!(
            FlagDefinition::new([("a", json!([1]))], Some("a"))
                .validate("k")
                .is_err()
        );
    }

    #[test]
    fn an_unreadable_flag_does_not_fail_the_file() {
        let set = FlagSet::from_json(
            r#"{"flags": {"ok": {"variants": {"on": true}, "defaultVariant": "on"},
                           "bad": {"state": "SOMETIMES", "variants": {"on": true}}}}"#,
        )
        .unwrap();
        assert_eq!(set.flags.len(), 1);
        assert!(
            set.broken()["bad"].contains("SOMETIMES"),
            "{:?}",
            set.broken()
        );
    }

    #[test]
    fn refs_resolve_recursively_and_cycles_stop() {
        let set = FlagSet::new()
            .evaluator("a", json!({"$ref": "b"}))
            .evaluator("b", json!({"==": [1, 1]}))
            .evaluator("loop", json!({"$ref": "loop"}));
        let rule = json!({"if": [{"$ref": "a"}, "on", "off"]});
        assert_eq!(
            set.resolved_targeting("k", &rule).unwrap(),
            json!({"if": [{"==": [1, 1]}, "on", "off"]})
        );
        assert!(
            set.resolved_targeting("k", &json!({"$ref": "loop"}))
                .is_err()
        );
        assert!(
            set.resolved_targeting("k", &json!({"$ref": "nope"}))
                .is_err()
        );
    }
}
