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
use mortar::auth::oauth::{SsoConnection, SsoDirectory as _};
use mortar::core::{FieldError, Problem};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::AppState;

/// The body of `PUT /orgs/{org}/sso`.
#[derive(Deserialize)]
pub(crate) struct SsoForm {
    // Debug by hand below: the client secret stays out of logs.
    issuer: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
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

fn shown(connection: &SsoConnection, state: &AppState) -> Value {
    json!({
        "issuer": connection.issuer,
        "client_id": connection.client_id,
        "has_client_secret": connection.client_secret.is_some(),
        "domains": connection.domains,
        "callback": format!(
            "{}/auth/oauth/sso-{}/callback",
            state.config().base_url(),
            connection.tenant
        ),
    })
}

/// `GET /orgs/{org}/sso` (`orgs:read`): the connection, without its secret.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(org): Path<String>,
) -> Result<Json<Value>, Problem> {
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
pub(crate) async fn put(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Json(form): Json<SsoForm>,
) -> Result<Json<Value>, Problem> {
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
