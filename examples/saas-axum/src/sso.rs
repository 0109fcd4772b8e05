//! "Sign in with your company": an organization's owners and admins connect its own OpenID
//! Connect issuer and name its e-mail domains; users at those domains then start at
//! `POST /auth/oauth/sso {"email"}`. The organization's id is the SSO tenant, so its callback is
//! `{base URL}/auth/oauth/sso-{org}/callback` (register it with the issuer).
//!
//! | route | permission |
//! | --- | --- |
//! | `GET /orgs/{org}/sso` | `orgs:read` |
//! | `PUT /orgs/{org}/sso` `{"issuer", "client_id", "client_secret"?, "domains"}` | `orgs:update` |
//! | `DELETE /orgs/{org}/sso` | `orgs:update` |

// Handlers answer problem documents; `Problem` is large, but built only on the error path.
#![allow(clippy::result_large_err)]

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use mortar::auth::axum::JsonBody;
use mortar::auth::oauth::{SsoConnection, SsoDirectory as _};
use mortar::core::{FieldError, Problem};
use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// The body of `PUT /orgs/{org}/sso`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SsoForm {
    // Debug by hand below: the client secret stays out of logs.
    /// The organization's OpenID Connect issuer URL (discovery is read from it).
    issuer: String,
    /// The client id registered with the issuer.
    client_id: String,
    /// The client secret (kept sealed; never shown again). Omit it for a public client.
    #[serde(default)]
    client_secret: Option<String>,
    /// The e-mail domains whose users sign in through this issuer.
    domains: Vec<String>,
}

impl std::fmt::Debug for SsoForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoForm")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("domains", &self.domains)
            .finish_non_exhaustive()
    }
}

/// An organization's SSO connection, as shown (never its secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SsoView {
    /// The issuer URL.
    issuer: String,
    /// The client id.
    client_id: String,
    /// Whether a client secret is kept.
    has_client_secret: bool,
    /// The e-mail domains it serves.
    domains: Vec<String>,
    /// The redirect URL to register with the issuer.
    callback: String,
}

fn shown(connection: &SsoConnection, state: &AppState) -> SsoView {
    SsoView {
        issuer: connection.issuer.clone(),
        client_id: connection.client_id.clone(),
        has_client_secret: connection.client_secret.is_some(),
        domains: connection.domains.clone(),
        callback: format!(
            "{}/auth/oauth/sso-{}/callback",
            state.config().base_url(),
            connection.tenant
        ),
    }
}

/// `GET /orgs/{org}/sso` (`orgs:read`): the connection, without its secret.
#[utoipa::path(
    get,
    path = "/orgs/{org}/sso",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's id")),
    responses(
        (status = 200, description = "The connection", body = SsoView),
        (status = 403, description = "Not a member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No connection (or no such organization)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Json<SsoView>, Problem> {
    let connection = state
        .auth()
        .sso
        .by_tenant(&org)
        .await?
        .ok_or_else(Problem::not_found)?;
    Ok(Json(shown(&connection, &state)))
}

/// `PUT /orgs/{org}/sso` (`orgs:update`): sets the connection up or replaces it; 409 when
/// another organization holds one of the domains.
#[utoipa::path(
    put,
    path = "/orgs/{org}/sso",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's id")),
    request_body = SsoForm,
    responses(
        (status = 200, description = "The connection", body = SsoView),
        (status = 403, description = "Not an admin or owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another organization holds one of the domains", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid issuer, client id or domains", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    Path(org): Path<String>,
    JsonBody(form): JsonBody<SsoForm>,
) -> Result<Json<SsoView>, Problem> {
    crate::orgs::exists(&state, &org).await?;
    let mut connection = SsoConnection::new(&org, &form.issuer, &form.client_id, &form.domains)
        .map_err(|e| Problem::validation([FieldError::new("", e.to_string())]))?;
    if let Some(secret) = form.client_secret {
        connection = connection.client_secret(secret);
    }
    state.auth().sso.put(connection.clone()).await?;
    Ok(Json(shown(&connection, &state)))
}

/// `DELETE /orgs/{org}/sso` (`orgs:update`).
#[utoipa::path(
    delete,
    path = "/orgs/{org}/sso",
    tag = "organizations",
    params(("org" = String, Path, description = "The organization's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not an admin or owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No connection", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<StatusCode, Problem> {
    if state.auth().sso.remove(&org).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found())
    }
}
