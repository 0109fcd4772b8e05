//! Invitations: an organization's owners and admins invite someone by e-mail address with a
//! role; the invitee, signed in with that address verified, sees the invitation and accepts or
//! declines it. Accepting grants the role in the organization.
//!
//! No secret travels by mail: the invitation is claimed by proving the address (its verified
//! account), so a forwarded or leaked e-mail lets nobody else in. The notice is sent by a
//! [`SendInvitation`] job through the app's [`Mailer`](crate::mail::Mailer); its payload holds
//! only the invitation's id.
//!
//! | route | who | answer |
//! | --- | --- | --- |
//! | `POST /orgs/{org}/invitations` `{"email", "role"}` | `members:add` (+ `owners:manage` to invite an owner) | 201 the invitation; inviting the same address again replaces it |
//! | `GET /orgs/{org}/invitations` | `members:add` | 200 the pending invitations |
//! | `DELETE /orgs/{org}/invitations/{id}` | `members:add` | 204, withdrawn |
//! | `GET /me/invitations` | signed in, address verified | 200 the invitations to the caller's address |
//! | `POST /me/invitations/{id}/accept` | the invitee | 200 `{"org", "role"}`; 410 once expired |
//! | `POST /me/invitations/{id}/decline` | the invitee | 204 |
//!
//! Invitations last [`INVITATION_LIFETIME`]; accepted, declined and withdrawn ones are deleted
//! (each is on the audit trail).

// Handlers answer problem documents; `Problem` is large, but built only on the error path.
#![allow(clippy::result_large_err)]

use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mortar::auth::axum::JsonBody;
use mortar::core::{AuditEvent, AuditRecorder as _, Outcome, Principal, Problem};
use mortar::jobs::{EnqueueOptions, Job, JobContext, JobError};
use mortar::rbac::Assignment;
use mortar::rbac::axum::Guard;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder as _, TransactionTrait as _};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::{JobDeps, MAIL_QUEUE};
use crate::mail::Mail;
use crate::orgs;
use crate::state::AppState;

/// How long an invitation can be accepted.
pub const INVITATION_LIFETIME: Duration = Duration::from_hours(7 * 24);

/// The problem type of an invitation accepted after it expired.
pub const INVITATION_EXPIRED: &str = "urn:saas:problem:invitation-expired";

/// The problem type of listing or claiming invitations before verifying one's address.
pub const EMAIL_UNVERIFIED: &str = "urn:saas:problem:email-unverified";

/// The `invitations` table (the app's own; see `crate::migration`).
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// A row of `invitations`: one pending invitation of an address to an organization.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invitations")]
    pub struct Model {
        /// UUID v7, as text.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The organization.
        pub org_id: String,
        /// The invitee's address, lower-cased (unique per organization).
        pub email: String,
        /// The role granted on acceptance.
        pub role: String,
        /// Who invited.
        pub invited_by: String,
        /// Creation time (ms since the epoch).
        pub created_at: i64,
        /// Expiry (ms since the epoch).
        pub expires_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The body of `POST /orgs/{org}/invitations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InvitationForm {
    /// The invitee's e-mail address.
    email: String,
    /// `owner`, `admin` or `member`.
    role: String,
}

/// An invitation as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    /// Its id.
    id: String,
    /// The organization's id.
    org: String,
    /// The organization's name (on the invitee's list).
    #[serde(skip_serializing_if = "Option::is_none")]
    org_name: Option<String>,
    /// The invitee's address (lower-cased).
    email: String,
    /// The role granted on acceptance.
    role: String,
    /// Who invited (a user id).
    invited_by: String,
    /// When it expires (RFC 3339).
    expires_at: String,
    /// Whether it has expired.
    expired: bool,
}

impl Invitation {
    fn from_row(row: entity::Model, org_name: Option<String>) -> Self {
        Self {
            expired: row.expires_at <= now_ms(),
            expires_at: rfc3339(row.expires_at),
            id: row.id,
            org: row.org_id,
            org_name,
            email: row.email,
            role: row.role,
            invited_by: row.invited_by,
        }
    }
}

/// What accepting answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The organization joined.
    org: String,
    /// The caller's role there.
    role: String,
}

/// Now, in milliseconds since the Unix epoch, as stored.
pub(crate) fn now_ms() -> i64 {
    millis(SystemTime::now())
}

/// Milliseconds since the Unix epoch, as stored.
pub(crate) fn millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn store_failed(error: &dyn std::fmt::Display) -> Problem {
    tracing::error!(%error, "invitations: storage failed");
    Problem::internal_error()
}

/// A plausible address, in the form accounts compare it (trimmed, lower-cased): one `@` with
/// something on both sides, no spaces or control characters, at most 254 characters (RFC
/// 5321's path limit). Refused as mortar-auth refuses an address (422 at `/email`).
fn valid_email(email: &str) -> Result<String, Problem> {
    let email = email.trim();
    let plausible = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !plausible {
        return Err(mortar::auth::Error::InvalidEmail.into());
    }
    Ok(mortar::auth::user::normalize_email(email))
}

/// `POST /orgs/{org}/invitations` (`members:add`; `owners:manage` too for an owner).
#[utoipa::path(
    post,
    path = "/orgs/{org}/invitations",
    tag = "invitations",
    params(("org" = String, Path, description = "The organization's id")),
    request_body = InvitationForm,
    responses(
        (status = 201, description = "Invited; the notice is mailed", body = Invitation, headers(("location" = String, description = "The invitation"))),
        (status = 403, description = "Not an admin or owner (owners are invited by owners)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The address belongs to a member already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid address or role", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Path(org): Path<String>,
    guard: Guard,
    JsonBody(form): JsonBody<InvitationForm>,
) -> Result<Response, Problem> {
    orgs::check_role(&form.role)?;
    let email = valid_email(&form.email)?;
    orgs::exists(&state, &org).await?;
    orgs::owners_guard(&guard, &org, form.role == "owner")?;
    if let Some(user) = state
        .auth()
        .api
        .accounts
        .users()
        .by_email(&email)
        .await
        .map_err(|e| store_failed(&e))?
        && orgs::role_in(state.rbac(), &user.id.to_string(), &org).is_some()
    {
        return Err(Problem::conflict()
            .with_detail("this address belongs to a member already: change their role instead"));
    }
    let now = SystemTime::now();
    let row = entity::Model {
        id: Uuid::now_v7().to_string(),
        org_id: org.clone(),
        email,
        role: form.role,
        invited_by: guard.principal().subject().to_owned(),
        created_at: millis(now),
        expires_at: millis(now + INVITATION_LIFETIME),
    };
    // The invitation and its notice commit together: no invitation without its mail job, no
    // mail about an invitation that was rolled back.
    let txn = state.db().begin().await.map_err(|e| store_failed(&e))?;
    entity::Entity::delete_many()
        .filter(entity::Column::OrgId.eq(&org))
        .filter(entity::Column::Email.eq(&row.email))
        .exec(&txn)
        .await
        .map_err(|e| store_failed(&e))?;
    entity::Entity::insert(entity::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await
        .map_err(|e| store_failed(&e))?;
    state
        .sql_jobs()
        .enqueue_in(
            &txn,
            &SendInvitation {
                invitation: row.id.clone(),
            },
            EnqueueOptions::new(),
        )
        .await
        .map_err(|e| store_failed(&e))?;
    txn.commit().await.map_err(|e| store_failed(&e))?;
    let location = format!("/orgs/{org}/invitations/{}", row.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(Invitation::from_row(row, None)),
    )
        .into_response())
}

/// `GET /orgs/{org}/invitations` (`members:add`): pending invitations, newest first.
#[utoipa::path(
    get,
    path = "/orgs/{org}/invitations",
    tag = "invitations",
    params(("org" = String, Path, description = "The organization's id")),
    responses(
        (status = 200, description = "Pending (and recently expired) invitations", body = Vec<Invitation>),
        (status = 403, description = "Not an admin or owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Json<Vec<Invitation>>, Problem> {
    orgs::exists(&state, &org).await?;
    let rows = entity::Entity::find()
        .filter(entity::Column::OrgId.eq(&org))
        .order_by_desc(entity::Column::Id)
        .all(state.db())
        .await
        .map_err(|e| store_failed(&e))?;
    Ok(Json(
        rows.into_iter()
            .map(|row| Invitation::from_row(row, None))
            .collect(),
    ))
}

/// `DELETE /orgs/{org}/invitations/{id}` (`members:add`): withdraws it.
#[utoipa::path(
    delete,
    path = "/orgs/{org}/invitations/{id}",
    tag = "invitations",
    params(("org" = String, Path, description = "The organization's id"), ("id" = String, Path, description = "The invitation's id")),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 403, description = "Not an admin or owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invitation here", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn withdraw(
    State(state): State<AppState>,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    let deleted = entity::Entity::delete_many()
        .filter(entity::Column::Id.eq(&id))
        .filter(entity::Column::OrgId.eq(&org))
        .exec(state.db())
        .await
        .map_err(|e| store_failed(&e))?;
    if deleted.rows_affected == 0 {
        return Err(Problem::not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's verified address, lower-cased.
async fn verified_email(state: &AppState, principal: &Principal) -> Result<String, Problem> {
    let not_a_user = || Problem::forbidden().with_detail("only signed-in users have invitations");
    let id: Uuid = principal.subject().parse().map_err(|_| not_a_user())?;
    let user = state
        .auth()
        .api
        .accounts
        .users()
        .by_id(id.into())
        .await
        .map_err(|e| store_failed(&e))?
        .ok_or_else(not_a_user)?;
    if user.email_verified_at.is_none() {
        return Err(Problem::forbidden()
            .with_type(EMAIL_UNVERIFIED)
            .with_title("Verify your e-mail address first.")
            .with_detail("Invitations are addressed to verified addresses."));
    }
    Ok(user.email.to_lowercase())
}

/// `GET /me/invitations`: invitations to the caller's verified address, newest first.
#[utoipa::path(
    get,
    path = "/me/invitations",
    tag = "invitations",
    responses(
        (status = 200, description = "Invitations to the caller's address", body = Vec<Invitation>),
        (status = 403, description = "The caller's address is not verified (`urn:saas:problem:email-unverified`), or the caller is not a user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn mine(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<Invitation>>, Problem> {
    let email = verified_email(&state, &principal).await?;
    let rows = entity::Entity::find()
        .filter(entity::Column::Email.eq(&email))
        .order_by_desc(entity::Column::Id)
        .all(state.db())
        .await
        .map_err(|e| store_failed(&e))?;
    // Their organizations' names, in one query.
    let ids: Vec<String> = rows.iter().map(|row| row.org_id.clone()).collect();
    let names: std::collections::HashMap<String, String> = orgs::entity::Entity::find()
        .filter(orgs::entity::Column::Id.is_in(ids))
        .all(state.db())
        .await
        .map_err(|e| store_failed(&e))?
        .into_iter()
        .map(|org| (org.id, org.name))
        .collect();
    // An organization deleted since: its invitations are void.
    let out = rows
        .into_iter()
        .filter_map(|row| {
            let name = names.get(&row.org_id).cloned()?;
            Some(Invitation::from_row(row, Some(name)))
        })
        .collect();
    Ok(Json(out))
}

/// The caller's invitation `id`: 404 unless it is addressed to their verified address.
async fn claimed(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<entity::Model, Problem> {
    let email = verified_email(state, principal).await?;
    entity::Entity::find_by_id(id.to_owned())
        .one(state.db())
        .await
        .map_err(|e| store_failed(&e))?
        .filter(|row| row.email == email)
        .ok_or_else(Problem::not_found)
}

async fn delete_row(state: &AppState, id: &str) -> Result<(), Problem> {
    entity::Entity::delete_by_id(id.to_owned())
        .exec(state.db())
        .await
        .map(drop)
        .map_err(|e| store_failed(&e))
}

fn record(state: &AppState, principal: &Principal, action: &str, row: &entity::Model) {
    state.audit().recorder.record(
        AuditEvent::new(action.to_owned(), Outcome::Success)
            .actor(principal)
            .tenant(row.org_id.clone())
            .target("invitation", row.id.clone())
            .meta("role", row.role.clone()),
    );
}

/// `POST /me/invitations/{id}/accept`: joins the organization with the invited role (a member
/// already keeps their role).
#[utoipa::path(
    post,
    path = "/me/invitations/{id}/accept",
    tag = "invitations",
    params(("id" = String, Path, description = "The invitation's id")),
    responses(
        (status = 200, description = "Joined", body = Accepted),
        (status = 403, description = "The caller's address is not verified", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invitation to the caller", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Expired (`urn:saas:problem:invitation-expired`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn accept(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
) -> Result<Json<Accepted>, Problem> {
    let row = claimed(&state, &principal, &id).await?;
    if row.expires_at <= now_ms() {
        return Err(Problem::new(StatusCode::GONE)
            .with_type(INVITATION_EXPIRED)
            .with_title("This invitation has expired.")
            .with_detail("Ask for a new one."));
    }
    orgs::exists(&state, &row.org_id).await?;
    let subject = principal.subject().to_owned();
    let role = if let Some(current) = orgs::role_in(state.rbac(), &subject, &row.org_id) {
        current
    } else {
        state
            .rbac()
            .grant(
                &principal,
                Assignment::new(&subject, &row.role).in_tenant(&row.org_id),
            )
            .await
            .map_err(|e| store_failed(&e))?;
        row.role.clone()
    };
    delete_row(&state, &row.id).await?;
    record(&state, &principal, "org.invitation.accepted", &row);
    Ok(Json(Accepted {
        org: row.org_id,
        role,
    }))
}

/// `POST /me/invitations/{id}/decline`.
#[utoipa::path(
    post,
    path = "/me/invitations/{id}/decline",
    tag = "invitations",
    params(("id" = String, Path, description = "The invitation's id")),
    responses(
        (status = 204, description = "Declined"),
        (status = 403, description = "The caller's address is not verified", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invitation to the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn decline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
) -> Result<StatusCode, Problem> {
    let row = claimed(&state, &principal, &id).await?;
    delete_row(&state, &row.id).await?;
    record(&state, &principal, "org.invitation.declined", &row);
    Ok(StatusCode::NO_CONTENT)
}

/// Mails the notice of one invitation, read when sent: a withdrawn, expired or voided
/// invitation is not announced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SendInvitation {
    /// The invitation's id.
    pub invitation: String,
}

impl Job for SendInvitation {
    const NAME: &'static str = "starter.send_invitation";
    type State = JobDeps;

    /// On the `mail` queue; 12 attempts of at most 30 s (about two and a half hours of
    /// back-off), like the codes.
    fn options() -> EnqueueOptions {
        EnqueueOptions::new()
            .queue(MAIL_QUEUE)
            .max_attempts(12)
            .timeout(Duration::from_secs(30))
    }

    async fn run(self, ctx: JobContext<JobDeps>) -> Result<(), JobError> {
        let deps = ctx.state();
        let failed = |e: DbErr| JobError::retry(format!("reading failed: {e}"));
        let Some(row) = entity::Entity::find_by_id(self.invitation.clone())
            .one(&deps.db)
            .await
            .map_err(failed)?
        else {
            return Err(JobError::discard(
                "the invitation was withdrawn or answered",
            ));
        };
        if row.expires_at <= now_ms() {
            return Err(JobError::discard(
                "the invitation expired before it was sent",
            ));
        }
        let Some(org) = orgs::entity::Entity::find_by_id(row.org_id.clone())
            .one(&deps.db)
            .await
            .map_err(failed)?
        else {
            return Err(JobError::discard("the organization no longer exists"));
        };
        let text = format!(
            "You are invited to join {org} as {role} on Mortar SaaS.\n\n\
             Sign in at {base}/ with this address (or register with it and verify it), then \
             accept the invitation: POST {base}/me/invitations/{id}/accept\n\n\
             The invitation expires at {expires}. If you did not expect it, ignore this message.",
            org = org.name,
            role = row.role,
            base = deps.base_url,
            id = row.id,
            expires = rfc3339(row.expires_at),
        );
        deps.mailer
            .send(Mail::new(
                row.email,
                format!("Join {} on Mortar SaaS", org.name),
                text,
            ))
            .await
            .map_err(|e| JobError::retry(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(valid_email(" Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@localhost",
            "a b@example.com",
            "a@b@c.d",
        ] {
            assert!(valid_email(bad).is_err(), "{bad:?}");
        }
        assert!(valid_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
