//! The audit trail in the app's own database: security events from authentication and
//! organizations (mortar-auth and mortar-rbac report to the recorder), every mutating request
//! on an organization's routes, last-seen times, and the organization audit log for admins.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use mortar::audit::sql::{SeaOrmAuditStore, SeaOrmLastSeen};
use mortar::audit::{
    ActivityTracker, AuditLayer, AuditQuery, AuditRecord, AuditStore as _, Cursor, DurableRecorder,
    RequestAudit,
};
use mortar::core::{FieldError, Outcome, Problem};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// The recorder, the store it writes to, and last-seen tracking.
#[derive(Clone, Debug)]
pub struct Audit {
    /// What every component records to.
    pub recorder: DurableRecorder,
    /// Where the events are kept (queried by the audit-log endpoint).
    pub store: Arc<SeaOrmAuditStore>,
    /// Last-seen times, flushed by [`crate::App::serve`].
    pub activity: Arc<ActivityTracker>,
}

impl Audit {
    /// Starts the recorder on the app's database (run the migrations first). Events the
    /// database cannot take are logged in full (the default fallback), never dropped silently.
    pub fn start(db: &DatabaseConnection) -> Self {
        let store = Arc::new(SeaOrmAuditStore::new(db.clone()));
        let recorder = DurableRecorder::builder()
            .shared_sink(store.clone())
            .start();
        let activity = Arc::new(ActivityTracker::new(Arc::new(SeaOrmLastSeen::new(
            db.clone(),
        ))));
        Self {
            recorder,
            store,
            activity,
        }
    }

    /// Records each mutating request on the routes it wraps (inside `act_in_org`, so the
    /// event's tenant is the organization).
    pub fn requests(&self) -> AuditLayer {
        AuditLayer::new(RequestAudit::new(Arc::new(self.recorder.clone())))
    }

    /// Records nothing; notes every authenticated request's principal as active.
    pub fn activity_layer(&self) -> AuditLayer {
        AuditLayer::new(
            RequestAudit::new(Arc::new(self.recorder.clone()))
                .methods(|_| false)
                .activity(self.activity.clone()),
        )
    }

    /// Writes what is queued (events and last-seen times); called at shutdown.
    pub async fn flush(&self) {
        if let Err(error) = self.activity.flush().await {
            tracing::warn!(%error, "writing last-seen times failed");
        }
        if let Err(error) = self.recorder.shutdown(Duration::from_secs(10)).await {
            tracing::warn!(%error, "the audit recorder did not finish in time");
        }
    }
}

/// The query string of `GET /orgs/{org}/audit-log`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditLogParams {
    /// An action, or a prefix such as `http.*`.
    action: Option<String>,
    /// The actor's user id.
    actor: Option<String>,
    /// `success`, `failure`, `denied` or `error`.
    outcome: Option<String>,
    /// From the previous page's `next`.
    cursor: Option<String>,
    /// Page size (1 to 200, default 50).
    limit: Option<usize>,
}

/// One page of an organization's audit log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditLogPage {
    /// The events, newest first, each with its place in the organization's hash chain
    /// (`seq`, `prev_hash`, `hash`), who did what to what, when, from where, and its outcome.
    #[schema(value_type = Vec<Object>)]
    events: Vec<AuditRecord>,
    /// The cursor of the next page, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// `GET /orgs/{org}/audit-log`: the organization's events, newest first (permission
/// `audit:read`, held by admins and owners).
///
/// # Errors
///
/// 400 for an invalid outcome, cursor or limit; 500 when the store fails.
#[utoipa::path(
    get,
    path = "/orgs/{org}/audit-log",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's id"), AuditLogParams),
    responses(
        (status = 200, description = "One page of events, newest first", body = AuditLogPage),
        (status = 400, description = "Invalid cursor", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin or owner", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid outcome or limit", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub async fn audit_log(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(params): Query<AuditLogParams>,
) -> Result<Json<AuditLogPage>, Problem> {
    let mut query = AuditQuery::new().tenant(org);
    if let Some(action) = params.action {
        query = query.action(action);
    }
    if let Some(actor) = params.actor {
        query = query.actor(actor);
    }
    if let Some(outcome) = params.outcome {
        let outcome: Outcome = serde_json::from_value(serde_json::Value::String(outcome))
            .map_err(|_| invalid("outcome", "must be success, failure, denied or error"))?;
        query = query.outcome(outcome);
    }
    if let Some(cursor) = params.cursor {
        query = query.after(Cursor::decode(&cursor)?);
    }
    match params.limit {
        Some(limit) if !(1..=200).contains(&limit) => {
            return Err(invalid("limit", "must be 1 to 200"));
        }
        Some(limit) => query = query.limit(limit),
        None => {}
    }
    let page = state.audit().store.query(&query).await?;
    Ok(Json(AuditLogPage {
        events: page.records,
        next: page.next.map(|c| c.encode()),
    }))
}

fn invalid(field: &str, detail: &str) -> Problem {
    Problem::validation([FieldError::new(field, detail).with_code("invalid")])
}
