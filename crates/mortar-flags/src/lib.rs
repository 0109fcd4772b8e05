//! Feature flags for Rust web services, in flagd's flag-definition format: boolean, string,
//! number and object flags with variants, JsonLogic targeting with flagd's operators
//! (`fractional` consistent bucketing, `sem_ver`, `starts_with`, `ends_with`), `$ref` shared
//! rules and metadata — evaluated exactly as flagd evaluates them (the flagd-testbed evaluator
//! suite runs in this crate's tests), from an immutable snapshot swapped atomically when a
//! source changes.
//!
//! | type | what |
//! | --- | --- |
//! | [`FlagSet`], [`FlagDefinition`] | flags as data: flagd JSON, YAML (feature `yaml`) or code |
//! | [`FeatureFlags`] | evaluation ([`Resolution`], [`Reason`], [`ErrorCode`]), experiments ([`FeatureFlags::assign`]) |
//! | [`EvaluationContext`] | who a flag is evaluated for, built from a [`mortar_core::Principal`] and the request |
//! | [`FlagSource`], [`FlagStore`], [`FlagsAdmin`] | where flags live and how they change (audited) |
//! | [`MemoryFlagStore`], [`FileSource`], `sql::SeaOrmFlagStore` (features `sqlite`, `postgres`, `mysql`), `redis::RedisFlagStore` (feature `redis`) | the sources |
//! | [`ExposureSink`], [`AssignmentStore`] (`MemoryAssignments`, `sql::SeaOrmAssignments`, `redis::RedisAssignments`) | experiment exposures and sticky assignments |
//! | `FlagsLayer`, `RequireFlag` (tower, feature `tower`), `Flags` (extractor, features `axum` / `actix`), [`actix`] | the HTTP edges |
//! | `openfeature::MortarProvider` (feature `openfeature`) | the OpenFeature SDK on top |
//!
//! ```
//! use mortar_flags::{EvaluationContext, FeatureFlags, FlagSet};
//!
//! let flags = FeatureFlags::from_set(FlagSet::from_json(r#"{
//!   "flags": {
//!     "new-checkout": {
//!       "state": "ENABLED",
//!       "variants": {"on": true, "off": false},
//!       "defaultVariant": "off",
//!       "targeting": {"fractional": [["on", 33], ["off", 67]]}
//!     },
//!     "checkout-copy": {
//!       "variants": {"short": "Buy", "long": "Buy it now"},
//!       "defaultVariant": "short",
//!       "targeting": {"if": [{"sem_ver": [{"var": "appVersion"}, ">=", "2.1.0"]}, "long", null]}
//!     }
//!   }
//! }"#).unwrap());
//! let ctx = EvaluationContext::with_targeting_key("user-42").with("appVersion", "2.3.0");
//! let copy = flags.string("checkout-copy", &ctx, "Buy");
//! assert_eq!(copy.value, "Buy it now");
//! // The same user always lands in the same bucket.
//! assert_eq!(flags.is_enabled("new-checkout", &ctx), flags.is_enabled("new-checkout", &ctx));
//! ```

mod context;
mod definition;
mod engine;
mod error;
mod experiment;
mod flags;
mod resolution;
mod source;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
mod axum;
#[cfg(any(feature = "tower", feature = "actix"))]
mod edge;
#[cfg(feature = "tower")]
mod layer;
#[cfg(feature = "openfeature")]
pub mod openfeature;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sql")]
pub mod sql;

pub use context::EvaluationContext;
pub use definition::{FlagDefinition, FlagSet, FlagState};
pub use engine::Bucketing;
pub use error::Error;
pub use experiment::{
    AssignmentStore, ChannelExposures, Exposure, ExposureSink, MemoryAssignments, MemoryExposures,
    TracingExposures,
};
pub use flags::{FeatureFlags, FeatureFlagsBuilder};
pub use resolution::{ErrorCode, Reason, Resolution};
pub use source::{FileSource, FlagSource, FlagStore, FlagsAdmin, MemoryFlagStore};

#[cfg(any(feature = "tower", feature = "actix"))]
pub use edge::{Flags, RequireFlag, context_from_parts};
#[cfg(feature = "tower")]
pub use layer::{FlagsLayer, FlagsService, RequireFlagService};
