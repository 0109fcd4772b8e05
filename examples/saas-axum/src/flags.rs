//! Feature flags: the defaults in `flags/flags.json` (kept in git beside the code), overridden
//! by flags stored in the app's database — which admins change at run time through
//! [`mortar::flags::FlagsAdmin`] (audited), and every instance sees within a second.
//!
//! Two flags ship: `beta-reports` gates `GET /beta/reports` (off for everyone until an admin
//! turns it on, for everyone or for chosen users), and `pricing-page` is an A/B test —
//! `GET /pricing` assigns each signed-in user one of two layouts, sticky per user (kept in the
//! database), and reports
//! the exposure (to the log, target `mortar::flags::exposure`, for the analytics pipeline).

use std::time::Duration;

use axum::Json;
use mortar::core::{Principal, Problem};
use mortar::flags::sql::{SeaOrmAssignments, SeaOrmFlagStore};
use mortar::flags::{FeatureFlags, FlagSet, Flags, FlagsAdmin, TracingExposures};
use sea_orm::DatabaseConnection;
use serde_json::Value;

use crate::StartError;

/// The default flags, kept in git beside the code (`flags/flags.json`).
const DEFAULTS: &str = include_str!("../flags/flags.json");

/// The default flags of `flags/flags.json`.
///
/// # Panics
///
/// Never: the file is compiled in and parsed by the tests (and at every start).
pub fn defaults() -> FlagSet {
    FlagSet::from_json(DEFAULTS).expect("flags/flags.json parses")
}

/// The flags and their admin functions.
#[derive(Clone, Debug)]
pub struct AppFlags {
    /// Evaluation (handlers use the `Flags` extractor instead).
    pub flags: FeatureFlags,
    /// Audited changes of the database's flags.
    pub admin: FlagsAdmin<SeaOrmFlagStore>,
}

/// The flags: the defaults, then the database's (changes followed every second).
///
/// # Errors
///
/// [`StartError::Flags`] when the defaults do not parse or the database cannot be read.
pub async fn flags(
    db: &DatabaseConnection,
    recorder: &mortar::audit::DurableRecorder,
) -> Result<AppFlags, StartError> {
    let defaults = FlagSet::from_json(DEFAULTS).map_err(StartError::Flags)?;
    let store = SeaOrmFlagStore::new(db.clone()).poll_every(Duration::from_secs(1));
    let flags = FeatureFlags::builder()
        .source(defaults)
        .source(store.clone())
        .exposures(TracingExposures)
        // First assignments kept in the database: a user keeps their layout when the
        // experiment's weights change, on every instance.
        .assignments(SeaOrmAssignments::new(db.clone()))
        .build()
        .await
        .map_err(StartError::Flags)?;
    let admin = FlagsAdmin::new(store).audit(recorder.clone());
    Ok(AppFlags { flags, admin })
}

/// The answer of `GET /beta/reports`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct BetaReport {
    /// Always `beta`.
    report: &'static str,
    /// The caller's id.
    #[serde(rename = "for")]
    for_subject: String,
}

/// `GET /beta/reports`: the beta endpoint, behind the `beta-reports` flag (404 when off).
#[utoipa::path(
    get,
    path = "/beta/reports",
    tag = "flags",
    responses(
        (status = 200, description = "The beta report", body = BetaReport),
        (status = 404, description = "The `beta-reports` flag is off for the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub async fn beta_reports(principal: Principal) -> Json<BetaReport> {
    Json(BetaReport {
        report: "beta",
        for_subject: principal.subject().to_owned(),
    })
}

/// The answer of `GET /pricing`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Pricing {
    /// Always `pricing-page`.
    experiment: &'static str,
    /// The variant assigned to the caller (kept across visits and instances).
    variant: Option<String>,
    /// Why (flagd's reasons: `TARGETING_MATCH`, `STATIC`…).
    reason: &'static str,
    /// The variant's layout.
    #[schema(value_type = Object)]
    layout: Value,
}

/// `GET /pricing`: the pricing page's layout, assigned by the `pricing-page` experiment.
#[utoipa::path(
    get,
    path = "/pricing",
    tag = "flags",
    responses((status = 200, description = "The caller's variant", body = Pricing)),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub async fn pricing(_principal: Principal, flags: Flags) -> Json<Pricing> {
    let assigned = flags.assign("pricing-page").await;
    Json(Pricing {
        experiment: "pricing-page",
        variant: assigned.variant.as_deref().map(str::to_owned),
        reason: assigned.reason.as_str(),
        layout: assigned.value,
    })
}
