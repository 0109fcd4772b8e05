//! The OpenFeature provider (feature `openfeature`): [`MortarProvider`] lets an application use
//! the standard `open-feature` SDK API over [`FeatureFlags`].
//!
//! ```
//! use mortar_flags::openfeature::MortarProvider;
//! use mortar_flags::{FeatureFlags, FlagDefinition, FlagSet};
//! use open_feature::{EvaluationContext, OpenFeature};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let flags = FeatureFlags::from_set(FlagSet::new().flag("dark-mode", FlagDefinition::boolean(true)));
//! let mut api = OpenFeature::singleton_mut().await;
//! api.set_provider(MortarProvider::new(flags)).await;
//! let client = api.create_client();
//! let ctx = EvaluationContext::default().with_targeting_key("user-1");
//! assert!(client.get_bool_value("dark-mode", Some(&ctx), None).await.unwrap());
//! # }
//! ```
//!
//! Resolutions carry the variant, the reason and the flag metadata. Where Mortar serves the
//! caller's default (a disabled flag, a flag without a default variant whose targeting gave
//! `null`), the provider cannot — OpenFeature providers are not told the default — so it answers
//! an error (`GENERAL`, its message saying why), and the SDK returns the caller's default.

use std::collections::HashMap;

use async_trait::async_trait;
use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext as OfContext, EvaluationContextFieldValue, EvaluationError,
    EvaluationErrorCode, EvaluationReason, EvaluationResult, FlagMetadata, FlagMetadataValue,
    StructValue, Value as OfValue,
};
use serde_json::{Map, Value};

use crate::context::EvaluationContext;
use crate::flags::FeatureFlags;
use crate::resolution::{ErrorCode, Reason, Resolution};

/// An OpenFeature provider over [`FeatureFlags`] (see the module documentation).
#[derive(Clone, Debug)]
pub struct MortarProvider {
    flags: FeatureFlags,
    metadata: ProviderMetadata,
}

impl MortarProvider {
    /// The provider (named `mortar-flags`).
    pub fn new(flags: FeatureFlags) -> Self {
        Self {
            flags,
            metadata: ProviderMetadata::new("mortar-flags"),
        }
    }
}

/// An OpenFeature context as Mortar's: the targeting key and the custom fields (dates as RFC
/// 3339 text, structures when they hold a `serde_json::Value` or `Map`).
pub fn context_from_openfeature(ctx: &OfContext) -> EvaluationContext {
    let mut out = match &ctx.targeting_key {
        Some(key) => EvaluationContext::with_targeting_key(key.clone()),
        None => EvaluationContext::new(),
    };
    for (name, value) in &ctx.custom_fields {
        let json = match value {
            EvaluationContextFieldValue::Bool(b) => Value::Bool(*b),
            EvaluationContextFieldValue::Int(i) => Value::from(*i),
            EvaluationContextFieldValue::Float(f) => Value::from(*f),
            EvaluationContextFieldValue::String(s) => Value::String(s.clone()),
            EvaluationContextFieldValue::DateTime(t) => t
                .format(&time::format_description::well_known::Rfc3339)
                .map_or(Value::Null, Value::String),
            EvaluationContextFieldValue::Struct(any) => {
                if let Some(v) = any.downcast_ref::<Value>() {
                    v.clone()
                } else if let Some(m) = any.downcast_ref::<Map<String, Value>>() {
                    Value::Object(m.clone())
                } else {
                    continue;
                }
            }
        };
        out.set(name.clone(), json);
    }
    out
}

fn reason(r: Reason) -> EvaluationReason {
    match r {
        Reason::Static => EvaluationReason::Static,
        Reason::TargetingMatch => EvaluationReason::TargetingMatch,
        Reason::Split => EvaluationReason::Split,
        Reason::Default => EvaluationReason::Default,
        Reason::Disabled => EvaluationReason::Disabled,
        Reason::Error => EvaluationReason::Error,
    }
}

fn metadata(map: &Map<String, Value>) -> FlagMetadata {
    let mut out = FlagMetadata::default();
    for (k, v) in map {
        let value = match v {
            Value::Bool(b) => FlagMetadataValue::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => FlagMetadataValue::Int(i),
                None => FlagMetadataValue::Float(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => FlagMetadataValue::String(s.clone()),
            _ => continue,
        };
        out.values.insert(k.clone(), value);
    }
    out
}

fn to_openfeature_value(v: &Value) -> OfValue {
    match v {
        Value::Null => OfValue::String(String::new()),
        Value::Bool(b) => OfValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => OfValue::Int(i),
            None => OfValue::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => OfValue::String(s.clone()),
        Value::Array(items) => OfValue::Array(items.iter().map(to_openfeature_value).collect()),
        Value::Object(map) => OfValue::Struct(to_struct(map)),
    }
}

fn to_struct(map: &Map<String, Value>) -> StructValue {
    StructValue {
        fields: map
            .iter()
            .map(|(k, v)| (k.clone(), to_openfeature_value(v)))
            .collect::<HashMap<_, _>>(),
    }
}

/// Mortar's resolution as the SDK's; `None` for the caller's default.
fn details<T>(r: Resolution<T>) -> EvaluationResult<ResolutionDetails<T>> {
    if let Some(code) = r.error {
        return Err(EvaluationError {
            code: match code {
                ErrorCode::FlagNotFound => EvaluationErrorCode::FlagNotFound,
                ErrorCode::ParseError => EvaluationErrorCode::ParseError,
                ErrorCode::TypeMismatch => EvaluationErrorCode::TypeMismatch,
                ErrorCode::General => EvaluationErrorCode::General("GENERAL".into()),
            },
            message: r.error_message,
        });
    }
    let Some(variant) = r.variant else {
        return Err(EvaluationError {
            code: EvaluationErrorCode::General(format!(
                "{}: the caller's default applies",
                r.reason
            )),
            message: Some(format!(
                "resolved with reason {} and no variant: the caller's default applies",
                r.reason
            )),
        });
    };
    Ok(ResolutionDetails {
        value: r.value,
        variant: Some(variant.to_string()),
        reason: Some(reason(r.reason)),
        flag_metadata: (!r.metadata.is_empty()).then(|| metadata(&r.metadata)),
    })
}

#[async_trait]
impl FeatureProvider for MortarProvider {
    fn status(&self) -> ProviderStatus {
        ProviderStatus::Ready
    }

    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        key: &str,
        ctx: &OfContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        details(self.flags.bool(key, &context_from_openfeature(ctx), false))
    }

    async fn resolve_int_value(
        &self,
        key: &str,
        ctx: &OfContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        details(self.flags.int(key, &context_from_openfeature(ctx), 0))
    }

    async fn resolve_float_value(
        &self,
        key: &str,
        ctx: &OfContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        details(self.flags.float(key, &context_from_openfeature(ctx), 0.0))
    }

    async fn resolve_string_value(
        &self,
        key: &str,
        ctx: &OfContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        details(self.flags.string(key, &context_from_openfeature(ctx), ""))
    }

    async fn resolve_struct_value(
        &self,
        key: &str,
        ctx: &OfContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        let r = self
            .flags
            .object(key, &context_from_openfeature(ctx), Map::new());
        let Resolution {
            value,
            variant,
            reason,
            error,
            error_message,
            metadata,
        } = r;
        details(Resolution {
            value: to_struct(&value),
            variant,
            reason,
            error,
            error_message,
            metadata,
        })
    }
}
