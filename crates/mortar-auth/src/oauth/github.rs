//! GitHub: OAuth 2 with PKCE (the `oauth2` crate), then the REST API for the account's id and
//! its primary verified address. GitHub issues no ID token.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _, TokenUrl,
};
use secrecy::ExposeSecret as _;
use serde::Deserialize;

use super::{FederatedIdentity, Kind, Provider};
use crate::error::{Error, FederationError};

type Client = BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn client(provider: &Provider) -> Result<(Client, &str), Error> {
    let Kind::GitHub {
        authorize,
        token,
        api,
    } = &provider.kind
    else {
        return Err(Error::Config("not a GitHub provider".into()));
    };
    let config = |e: url::ParseError| Error::Config(format!("GitHub endpoint: {e}"));
    let mut client = BasicClient::new(ClientId::new(provider.client_id.clone()))
        .set_auth_uri(AuthUrl::new(authorize.clone()).map_err(config)?)
        .set_token_uri(TokenUrl::new(token.clone()).map_err(config)?)
        .set_redirect_uri(RedirectUrl::new(provider.redirect_url.clone()).map_err(config)?)
        // GitHub documents the client credentials as body parameters.
        .set_auth_type(AuthType::RequestBody);
    if let Some(secret) = &provider.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
    }
    Ok((client, api))
}

/// The authorization URL and its `state`.
pub(super) fn authorize_url(
    provider: &Provider,
    challenge: PkceCodeChallenge,
) -> Result<(String, String), Error> {
    let (client, _) = client(provider)?;
    let mut request = client.authorize_url(CsrfToken::new_random);
    for scope in &provider.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state) = request.set_pkce_challenge(challenge).url();
    Ok((url.to_string(), state.secret().clone()))
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    name: Option<String>,
    login: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// Exchanges the code, then reads `/user` and `/user/emails` with the access token, which is
/// dropped afterwards.
pub(super) async fn identity(
    http: &reqwest::Client,
    provider: &Provider,
    code: &str,
    verifier: PkceCodeVerifier,
) -> Result<FederatedIdentity, Error> {
    let (client, api) = client(provider)?;
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .map_err(|e| super::token_error(&provider.id, &e))?;
    let token = response.access_token().secret();
    let get = |path: &str| {
        http.get(format!("{api}{path}"))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
    };
    let unavailable = |e: reqwest::Error| {
        tracing::warn!(target: "mortar::auth", provider = provider.id, error = %e, "GitHub user API failed");
        Error::Federation(FederationError::Unavailable)
    };
    let user: GitHubUser = get("/user")
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(unavailable)?
        .json()
        .await
        .map_err(unavailable)?;
    let emails: Vec<GitHubEmail> = get("/user/emails")
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(unavailable)?
        .json()
        .await
        .map_err(unavailable)?;
    let primary = emails.into_iter().find(|e| e.primary);
    Ok(FederatedIdentity {
        provider: provider.id.clone(),
        subject: user.id.to_string(),
        email_verified: primary.as_ref().is_some_and(|e| e.verified),
        email: primary.map(|e| e.email),
        name: user.name.or(user.login),
    })
}
