//! What an evaluation answers: [`Resolution`] with its [`Reason`] and [`ErrorCode`].

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// Why a flag resolved as it did — OpenFeature's reasons, used exactly as flagd uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The flag has no targeting: its default variant.
    Static,
    /// The targeting rule named a variant (fractional rules included, as in flagd).
    TargetingMatch,
    /// An experiment assigned the variant ([`crate::FeatureFlags::assign`]).
    Split,
    /// The targeting gave `null`, or the flag has no default variant.
    Default,
    /// The flag is disabled: the caller's default.
    Disabled,
    /// Evaluation failed ([`ErrorCode`] says why): the caller's default.
    Error,
}

impl Reason {
    /// The OpenFeature name (`STATIC`, `TARGETING_MATCH`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "STATIC",
            Self::TargetingMatch => "TARGETING_MATCH",
            Self::Split => "SPLIT",
            Self::Default => "DEFAULT",
            Self::Disabled => "DISABLED",
            Self::Error => "ERROR",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an evaluation failed — OpenFeature's error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// No flag has this key.
    FlagNotFound,
    /// The flag's definition or targeting is invalid (a `$ref` to nothing, an unknown
    /// operator…).
    ParseError,
    /// The variant's value is not of the type asked for.
    TypeMismatch,
    /// Anything else (the targeting named a variant that does not exist).
    General,
}

impl ErrorCode {
    /// The OpenFeature name (`FLAG_NOT_FOUND`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FlagNotFound => "FLAG_NOT_FOUND",
            Self::ParseError => "PARSE_ERROR",
            Self::TypeMismatch => "TYPE_MISMATCH",
            Self::General => "GENERAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer of one evaluation: the value, the variant it came from (none when the caller's
/// default was served), why, the error if any, and the flag's metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution<T> {
    /// The value served.
    pub value: T,
    /// The variant's name; `None` when the caller's default was served.
    pub variant: Option<Arc<str>>,
    /// Why.
    pub reason: Reason,
    /// What failed, when `reason` is [`Reason::Error`].
    pub error: Option<ErrorCode>,
    /// A human-readable explanation of the error (never shown to end users).
    pub error_message: Option<String>,
    /// The flag's metadata (the set's, overridden by the flag's own); empty for unknown flags.
    pub metadata: Arc<Map<String, Value>>,
}

/// The type a caller asks a flag for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ask {
    Bool,
    String,
    Int,
    Float,
    Object,
    Any,
}

/// Converts a variant's JSON value into the type asked for.
pub(crate) trait FromVariant: Sized {
    const ASK: Ask;
    fn from_variant(value: &Value) -> Option<Self>;
}

impl FromVariant for bool {
    const ASK: Ask = Ask::Bool;
    fn from_variant(value: &Value) -> Option<Self> {
        value.as_bool()
    }
}

impl FromVariant for String {
    const ASK: Ask = Ask::String;
    fn from_variant(value: &Value) -> Option<Self> {
        value.as_str().map(str::to_owned)
    }
}

impl FromVariant for i64 {
    const ASK: Ask = Ask::Int;
    fn from_variant(value: &Value) -> Option<Self> {
        // An integral float (`10.0`) is an integer; `0.5` is not.
        value.as_i64().or_else(|| {
            value.as_f64().and_then(|f| {
                #[allow(
                    clippy::cast_possible_truncation,
                    reason = "checked integral and in range just before"
                )]
                let i = f as i64;
                (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(i)
            })
        })
    }
}

impl FromVariant for f64 {
    const ASK: Ask = Ask::Float;
    fn from_variant(value: &Value) -> Option<Self> {
        value.as_f64()
    }
}

/// Object flags: the variant's JSON object.
impl FromVariant for Map<String, Value> {
    const ASK: Ask = Ask::Object;
    fn from_variant(value: &Value) -> Option<Self> {
        value.as_object().cloned()
    }
}

/// Any variant value, untyped.
impl FromVariant for Value {
    const ASK: Ask = Ask::Any;
    fn from_variant(value: &Value) -> Option<Self> {
        Some(value.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn integers_accept_integral_floats_only() {
        assert_eq!(i64::from_variant(&json!(10)), Some(10));
        assert_eq!(i64::from_variant(&json!(10.0)), Some(10));
        assert_eq!(i64::from_variant(&json!(0.5)), None);
        assert_eq!(i64::from_variant(&json!("1")), None);
        assert_eq!(f64::from_variant(&json!(1)), Some(1.0));
        assert_eq!(Reason::TargetingMatch.to_string(), "TARGETING_MATCH");
        assert_eq!(ErrorCode::FlagNotFound.as_str(), "FLAG_NOT_FOUND");
    }
}
