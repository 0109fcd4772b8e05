//! Organizations: a signed-in user creates one and becomes its owner; owners and admins add and
//! remove members; every route is guarded by a permission of the `owner` / `admin` / `member`
//! roles in `policy/roles.json`.
//!
//! Memberships are mortar-rbac assignments scoped to the organization (its id is the tenant);
//! the roles and assignments live in the app's database (`mortar_rbac_*` tables), and every
//! instance follows the others' changes (`Rbac::watch`). A request under `/orgs/{org}` acts in
//! that organization: the principal's tenant is set from the path before the guards run, so a
//! member of one organization holds nothing in another.
//!
//! | route | permission | roles |
//! | --- | --- | --- |
//! | `POST /orgs`, `GET /orgs` | signed in | anyone |
//! | `GET /orgs/{org}` | `orgs:read` | member, admin, owner |
//! | `PATCH /orgs/{org}` | `orgs:update` | admin, owner |
//! | `DELETE /orgs/{org}` | `orgs:delete` | owner |
//! | `GET /orgs/{org}/members` | `members:read` | member, admin, owner |
//! | `PUT /orgs/{org}/members/{user}` | `members:add` (+ `owners:manage` to add or demote an owner) | admin, owner |
//! | `DELETE /orgs/{org}/members/{user}` | `members:remove` (+ `owners:manage` for an owner) | admin, owner |
//! | `POST`, `GET /orgs/{org}/invitations`, `DELETE /orgs/{org}/invitations/{id}` (see [`crate::invitations`]) | `members:add` (+ `owners:manage` to invite an owner) | admin, owner |
//! | `GET /orgs/{org}/sso` | `orgs:read` | member, admin, owner |
//! | `PUT`, `DELETE /orgs/{org}/sso` (the organization's SSO, see [`crate::sso`]) | `orgs:update` | admin, owner |

// Handlers answer problem documents; `Problem` is large, but built only on the error path.
#![allow(clippy::result_large_err)]

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use mortar::auth::axum::JsonBody;
use mortar::core::{FieldError, Principal, Problem};
use mortar::rbac::axum::Guard;
use mortar::rbac::sql::SeaOrmPolicyStore;
use mortar::rbac::{Assignment, Policy, PolicyStore as _, Rbac, RequirePermission, Resource};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue, DatabaseConnection, QueryOrder as _};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StartError;
use crate::state::AppState;

/// The roles, kept in git beside the code (`policy/roles.json`).
const ROLES: &str = include_str!("../policy/roles.json");

/// The role names of `policy/roles.json`, most powerful first.
pub const ROLE_NAMES: [&str; 3] = ["owner", "admin", "member"];

/// The `organizations` table (the app's own; see `crate::migration`).
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// A row of `organizations`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "organizations")]
    pub struct Model {
        /// UUID v7, as text.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Display name.
        pub name: String,
        /// Who created it.
        pub created_by: String,
        /// Creation time (ms since the epoch).
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The authorizer on the app's database, with the roles of `policy/roles.json` written to it
/// when they differ (the file is the source of truth for roles; assignments are data).
///
/// # Errors
///
/// [`StartError::Rbac`] when the roles file is invalid or the store fails.
pub async fn rbac(
    db: &DatabaseConnection,
    recorder: &mortar::audit::DurableRecorder,
) -> Result<Rbac, StartError> {
    let store = SeaOrmPolicyStore::new(db.clone());
    let roles = Policy::from_json(ROLES).map_err(StartError::Rbac)?;
    let stored = store.load().await.map_err(StartError::Rbac)?;
    for (name, role) in &roles.roles {
        if stored.roles.get(name) != Some(role) {
            store.put_role(name, role).await.map_err(StartError::Rbac)?;
        }
    }
    Rbac::from_store(store)
        .await
        .map(|rbac| rbac.recorder(recorder.clone()))
        .map_err(StartError::Rbac)
}

/// The organization routes (inside authentication).
///
/// # Panics
///
/// Never: the permissions named here are literals in the right form.
pub fn router(state: &AppState) -> Router<AppState> {
    let rbac = state.rbac();
    let guard = |permission: &str| {
        RequirePermission::new(rbac, permission).expect("the starter's permissions are valid")
    };
    // Read-only routes decide in the organization the path names (`tenant_after`: no
    // principal rebuilt per request). Routes with audited changes run `act_in_org` (route
    // layers run last-added first: it sets the tenant, the audit records it, then the guard
    // decides), so their audit events carry the organization.
    let read = |permission: &str| guard(permission).tenant_after("orgs");
    let in_org = axum::middleware::map_request(act_in_org);
    // Each method gets its own guard: a `route_layer` on a method router covers every method
    // added before it, so they are layered apart and merged.
    // Mutating requests on an organization's routes are recorded with the organization as
    // tenant (inside `act_in_org`), refused ones included (outside the guards).
    let audited = state.audit().requests();
    Router::new()
        .route("/orgs", get(list).post(create))
        .route(
            "/orgs/{org}",
            get(show)
                .route_layer(guard("orgs:read").id_after("orgs"))
                .merge(patch(rename).route_layer(guard("orgs:update").id_after("orgs")))
                .merge(delete(remove).route_layer(guard("orgs:delete").id_after("orgs")))
                .route_layer(audited.clone())
                .route_layer(in_org.clone()),
        )
        .route(
            "/orgs/{org}/members",
            get(members).route_layer(read("members:read")),
        )
        .route(
            "/orgs/{org}/members/{user}",
            put(add_member)
                .route_layer(guard("members:add"))
                .merge(delete(remove_member).route_layer(guard("members:remove")))
                .route_layer(audited.clone())
                .route_layer(in_org.clone()),
        )
        .route(
            "/orgs/{org}/sso",
            get(crate::sso::show)
                .route_layer(guard("orgs:read"))
                .merge(put(crate::sso::put).route_layer(guard("orgs:update")))
                .merge(delete(crate::sso::remove).route_layer(guard("orgs:update")))
                .route_layer(audited.clone())
                .route_layer(in_org.clone()),
        )
        .route(
            "/orgs/{org}/invitations",
            get(crate::invitations::list)
                .route_layer(guard("members:add"))
                .merge(post(crate::invitations::create).route_layer(guard("members:add")))
                .route_layer(audited.clone())
                .route_layer(in_org.clone()),
        )
        .route(
            "/orgs/{org}/invitations/{id}",
            delete(crate::invitations::withdraw)
                .route_layer(guard("members:add"))
                .route_layer(audited)
                .route_layer(in_org),
        )
        .route(
            "/orgs/{org}/audit-log",
            get(crate::audit::audit_log).route_layer(read("audit:read")),
        )
}

/// Makes the caller act in the organization named by the path: its roles there are the ones
/// assigned in that tenant, and nothing from another organization applies.
async fn act_in_org(Path(params): Path<Vec<(String, String)>>, mut req: Request) -> Request {
    let org = params.into_iter().find(|(k, _)| k == "org").map(|(_, v)| v);
    if let (Some(org), Some(principal)) = (org, Principal::from_extensions(req.extensions())) {
        let acting = principal.to_builder().tenant(org).build();
        req.extensions_mut().insert(acting);
    }
    req
}

/// An organization as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Org {
    /// Its id (a UUID).
    id: String,
    /// Its name.
    name: String,
    /// The caller's role in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

impl Org {
    /// `row` with `principal`'s role in it.
    fn seen_by(state: &AppState, principal: &Principal, row: entity::Model) -> Self {
        Self {
            role: role_in(state.rbac(), principal.subject(), &row.id),
            id: row.id,
            name: row.name,
        }
    }
}

/// The body of `POST /orgs` and `PATCH /orgs/{org}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OrgForm {
    /// 1 to 100 characters, without control characters.
    name: String,
}

fn valid_name(form: &OrgForm) -> Result<String, Problem> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Problem::validation([FieldError::new(
            "/name",
            "must be 1 to 100 characters, without control characters",
        )
        .with_code("org-name")
        .with_param("max", 100)]));
    }
    Ok(name.to_owned())
}

fn store_failed(error: &dyn std::fmt::Display) -> Problem {
    tracing::error!(%error, "organizations: storage failed");
    Problem::internal_error()
}

/// 422 unless `role` is one of [`ROLE_NAMES`] (the form's `/role`).
pub(crate) fn check_role(role: &str) -> Result<(), Problem> {
    if ROLE_NAMES.contains(&role) {
        return Ok(());
    }
    Err(Problem::validation([FieldError::new(
        "/role",
        "must be one of owner, admin, member",
    )
    .with_code("org-role")]))
}

/// The organization's own memberships, most powerful role first (global assignments are
/// not memberships).
fn memberships(rbac: &Rbac, org: &str) -> Vec<Assignment> {
    ROLE_NAMES
        .iter()
        .flat_map(|role| rbac.holders(role, Some(org)))
        .filter(|a| a.tenant.as_deref() == Some(org))
        .collect()
}

/// What `subject` holds in `org` itself.
fn held_in(rbac: &Rbac, subject: &str, org: &str) -> Vec<Assignment> {
    rbac.assignments_of(subject, Some(org))
        .into_iter()
        .filter(|a| a.tenant.as_deref() == Some(org))
        .collect()
}

/// The most powerful of the roles held.
fn top_role(held: &[Assignment]) -> Option<String> {
    ROLE_NAMES
        .iter()
        .find(|r| held.iter().any(|a| a.role == **r))
        .map(|r| (*r).to_owned())
}

/// The role `subject` holds in `org` (the most powerful, when several).
pub(crate) fn role_in(rbac: &Rbac, subject: &str, org: &str) -> Option<String> {
    top_role(&held_in(rbac, subject, org))
}

/// `POST /orgs`: creates an organization; the caller becomes its owner.
#[utoipa::path(
    post,
    path = "/orgs",
    tag = "organizations",
    request_body = OrgForm,
    responses(
        (status = 201, description = "Created; the caller is its owner", body = Org),
        (status = 422, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(form): JsonBody<OrgForm>,
) -> Result<(StatusCode, Json<Org>), Problem> {
    let name = valid_name(&form)?;
    let id = create_org(&state, &principal, principal.subject(), &name)
        .await
        .map_err(|e| store_failed(&e))?;
    Ok((
        StatusCode::CREATED,
        Json(Org {
            id,
            name,
            role: Some("owner".into()),
        }),
    ))
}

/// Creates an organization named `name` (already validated) owned by `owner`, on behalf of
/// `actor` (the owner itself through `POST /orgs`, an operator through the admin CLI); returns
/// its id. The grant is audited as `rbac.grant`.
///
/// # Errors
///
/// The database's or the authorizer's error, as text.
pub async fn create_org(
    state: &AppState,
    actor: &Principal,
    owner: &str,
    name: &str,
) -> Result<String, String> {
    let id = Uuid::now_v7().to_string();
    entity::Entity::insert(entity::ActiveModel {
        id: ActiveValue::Set(id.clone()),
        name: ActiveValue::Set(name.to_owned()),
        created_by: ActiveValue::Set(owner.to_owned()),
        created_at: ActiveValue::Set(crate::invitations::now_ms()),
    })
    .exec_without_returning(state.db())
    .await
    .map_err(|e| e.to_string())?;
    state
        .rbac()
        .grant(actor, Assignment::new(owner, "owner").in_tenant(id.clone()))
        .await
        .map_err(|e| e.to_string())?;
    Ok(id)
}

/// The organization with this id, or else the only one with this name.
///
/// # Errors
///
/// A message when there is none, several share the name, or the database fails.
pub async fn find_by_id_or_name(state: &AppState, org: &str) -> Result<entity::Model, String> {
    if let Some(row) = entity::Entity::find_by_id(org.to_owned())
        .one(state.db())
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(row);
    }
    let mut named = entity::Entity::find()
        .filter(entity::Column::Name.eq(org))
        .all(state.db())
        .await
        .map_err(|e| e.to_string())?;
    match named.len() {
        0 => Err(format!("no organization with id or name {org:?}")),
        1 => Ok(named.remove(0)),
        n => Err(format!("{n} organizations are named {org:?}: give the id")),
    }
}

/// `GET /orgs`: the organizations the caller belongs to, with its role in each.
#[utoipa::path(
    get,
    path = "/orgs",
    tag = "organizations",
    responses(
        (status = 200, description = "The caller's organizations", body = Vec<Org>),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<Org>>, Problem> {
    let ids = org_ids_of(state.rbac(), principal.subject());
    let rows = entity::Entity::find()
        .filter(entity::Column::Id.is_in(ids))
        .order_by_asc(entity::Column::Id)
        .all(state.db())
        .await
        .map_err(|e| store_failed(&e))?;
    Ok(Json(
        rows.into_iter()
            .map(|row| Org::seen_by(&state, &principal, row))
            .collect(),
    ))
}

/// The organizations `subject` belongs to, each once (from the in-memory policy: no query).
fn org_ids_of(rbac: &Rbac, subject: &str) -> Vec<String> {
    let mut orgs: Vec<String> = rbac
        .assignments_of(subject, None)
        .into_iter()
        .filter_map(|a| a.tenant)
        .collect();
    orgs.sort_unstable();
    orgs.dedup();
    orgs
}

/// How many organizations `subject` belongs to.
pub fn count_of(state: &AppState, subject: &str) -> usize {
    org_ids_of(state.rbac(), subject).len()
}

/// 404 unless the organization exists.
///
/// # Errors
///
/// The problem document: 404, or 500 when the database fails.
pub async fn exists(state: &AppState, org: &str) -> Result<(), Problem> {
    find(state, org).await.map(|_| ())
}

async fn find(state: &AppState, org: &str) -> Result<entity::Model, Problem> {
    entity::Entity::find_by_id(org.to_owned())
        .one(state.db())
        .await
        .map_err(|e| store_failed(&e))?
        .ok_or_else(Problem::not_found)
}

/// `GET /orgs/{org}` (`orgs:read`).
#[utoipa::path(
    get,
    path = "/orgs/{org}",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's id")),
    responses(
        (status = 200, description = "The organization", body = Org),
        (status = 403, description = "Not a member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(org): Path<String>,
    principal: Principal,
) -> Result<Json<Org>, Problem> {
    let row = find(&state, &org).await?;
    Ok(Json(Org::seen_by(&state, &principal, row)))
}

/// `PATCH /orgs/{org}` (`orgs:update`).
#[utoipa::path(
    patch,
    path = "/orgs/{org}",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's id")),
    request_body = OrgForm,
    responses(
        (status = 200, description = "Renamed", body = Org),
        (status = 403, description = "Not an admin or owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn rename(
    State(state): State<AppState>,
    Path(org): Path<String>,
    principal: Principal,
    JsonBody(form): JsonBody<OrgForm>,
) -> Result<Json<Org>, Problem> {
    let name = valid_name(&form)?;
    let row = find(&state, &org).await?;
    let mut active: entity::ActiveModel = row.into();
    active.name = ActiveValue::Set(name);
    // Deleted meanwhile (between the read and the update): gone.
    let row = active.update(state.db()).await.map_err(|e| match e {
        DbErr::RecordNotUpdated => Problem::not_found(),
        e => store_failed(&e),
    })?;
    Ok(Json(Org::seen_by(&state, &principal, row)))
}

/// `DELETE /orgs/{org}` (`orgs:delete`): the organization and every membership in it.
#[utoipa::path(
    delete,
    path = "/orgs/{org}",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's id")),
    responses(
        (status = 204, description = "Deleted, with its memberships"),
        (status = 403, description = "Not its owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(org): Path<String>,
    principal: Principal,
) -> Result<StatusCode, Problem> {
    find(&state, &org).await?;
    let rbac = state.rbac();
    for assignment in memberships(rbac, &org) {
        rbac.revoke(&principal, &assignment)
            .await
            .map_err(|e| store_failed(&e))?;
    }
    entity::Entity::delete_by_id(org)
        .exec(state.db())
        .await
        .map_err(|e| store_failed(&e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A member as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Member {
    /// The user's id.
    user: String,
    /// `owner`, `admin` or `member`.
    role: String,
}

/// `GET /orgs/{org}/members` (`members:read`).
#[utoipa::path(
    get,
    path = "/orgs/{org}/members",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's id")),
    responses(
        (status = 200, description = "The members, most powerful role first", body = Vec<Member>),
        (status = 403, description = "Not a member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn members(
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Json<Vec<Member>>, Problem> {
    find(&state, &org).await?;
    let out = memberships(state.rbac(), &org)
        .into_iter()
        .map(|a| Member {
            user: a.subject,
            role: a.role,
        })
        .collect();
    Ok(Json(out))
}

/// The body of `PUT /orgs/{org}/members/{user}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MemberForm {
    /// `owner`, `admin` or `member`.
    role: String,
}

/// Owners are managed only by owners: adding one, or changing or removing one's role.
pub(crate) fn owners_guard(guard: &Guard, org: &str, touches_owner: bool) -> Result<(), Problem> {
    if touches_owner {
        guard.require("manage", &Resource::kind("owners").tenant(org))?;
    }
    Ok(())
}

/// Refuses a change that would leave `org` without an owner (`owner_leaves`: the change removes
/// or demotes an owner): 409 `urn:saas:problem:last-owner`.
fn keep_an_owner(rbac: &Rbac, org: &str, owner_leaves: bool) -> Result<(), Problem> {
    let owners = memberships(rbac, org)
        .iter()
        .filter(|a| a.role == "owner")
        .count();
    if owner_leaves && owners <= 1 {
        return Err(Problem::conflict()
            .with_type(crate::i18n::LAST_OWNER)
            .with_title("An organization keeps at least one owner.")
            .with_detail("Add another owner first."));
    }
    Ok(())
}

/// `PUT /orgs/{org}/members/{user}` (`members:add`): gives `user` exactly `role` here. The last
/// owner cannot be demoted.
#[utoipa::path(
    put,
    path = "/orgs/{org}/members/{user}",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's id"), ("user" = String, Path, description = "The user's id")),
    request_body = MemberForm,
    responses(
        (status = 200, description = "The member's role now", body = Member),
        (status = 403, description = "Not an admin or owner (owners are managed by owners)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization or user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner cannot be demoted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown role", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn add_member(
    State(state): State<AppState>,
    Path((org, user)): Path<(String, String)>,
    guard: Guard,
    JsonBody(form): JsonBody<MemberForm>,
) -> Result<Json<Member>, Problem> {
    check_role(&form.role)?;
    find(&state, &org).await?;
    // Only accounts can be members: an id that names none is not found (and never reaches the
    // authorizer's store).
    let no_such_user = || Problem::not_found().with_detail("no such user");
    let user_id: Uuid = user.parse().map_err(|_| no_such_user())?;
    state
        .auth()
        .api
        .accounts
        .users()
        .by_id(user_id.into())
        .await
        .map_err(|e| store_failed(&e))?
        .ok_or_else(no_such_user)?;
    let rbac = state.rbac();
    let held = held_in(rbac, &user, &org);
    owners_guard(
        &guard,
        &org,
        form.role == "owner" || top_role(&held).as_deref() == Some("owner"),
    )?;
    keep_an_owner(
        rbac,
        &org,
        top_role(&held).as_deref() == Some("owner") && form.role != "owner",
    )?;
    // Granted first, so the member never has no role here; then the other roles go.
    let actor = guard.principal();
    if !held.iter().any(|a| a.role == form.role) {
        rbac.grant(actor, Assignment::new(&user, &form.role).in_tenant(&org))
            .await
            .map_err(|e| store_failed(&e))?;
    }
    for old in held.iter().filter(|a| a.role != form.role) {
        rbac.revoke(actor, old)
            .await
            .map_err(|e| store_failed(&e))?;
    }
    Ok(Json(Member {
        user,
        role: form.role,
    }))
}

/// `DELETE /orgs/{org}/members/{user}` (`members:remove`). The last owner cannot leave.
#[utoipa::path(
    delete,
    path = "/orgs/{org}/members/{user}",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's id"), ("user" = String, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not an admin or owner (owners are managed by owners)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member, or no such organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner cannot leave", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    Path((org, user)): Path<(String, String)>,
    guard: Guard,
) -> Result<StatusCode, Problem> {
    find(&state, &org).await?;
    let rbac = state.rbac();
    let held = held_in(rbac, &user, &org);
    let Some(current) = top_role(&held) else {
        return Err(Problem::not_found());
    };
    owners_guard(&guard, &org, current == "owner")?;
    keep_an_owner(rbac, &org, current == "owner")?;
    for assignment in &held {
        rbac.revoke(guard.principal(), assignment)
            .await
            .map_err(|e| store_failed(&e))?;
    }
    Ok(StatusCode::NO_CONTENT)
}
