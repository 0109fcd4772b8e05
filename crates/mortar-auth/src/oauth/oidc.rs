//! OpenID Connect providers: discovery (cached), the authorization URL, the code exchange and
//! ID-token validation through the `openidconnect` crate.

use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse as _,
};
use secrecy::ExposeSecret as _;

use super::{FederatedIdentity, Kind, Provider};
use crate::error::{Error, FederationError};

/// How long discovered metadata is used before it is fetched again.
const METADATA_TTL: Duration = Duration::from_hours(1);
/// The least time between two JWKS fetches caused by unknown key ids (so forged `kid`s cannot
/// make us hammer the provider).
const JWKS_MIN_INTERVAL: Duration = Duration::from_mins(1);

struct Cached {
    metadata: CoreProviderMetadata,
    fetched_at: Instant,
    /// The last fetch caused by an unknown key id.
    keys_refreshed_at: Option<Instant>,
}

/// An OpenID Connect provider's issuer and what discovery found there.
pub(super) struct Discovered {
    issuer: String,
    any_microsoft_tenant: bool,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

fn unavailable(issuer: &str, what: &str, error: &dyn std::fmt::Display) -> Error {
    tracing::warn!(target: "mortar::auth", issuer, error = %error, "OpenID Connect {what} failed");
    Error::Federation(FederationError::Unavailable)
}

/// `https://login.microsoftonline.com/{tenant id}/v2.0`: the issuer of a Microsoft tenant.
fn is_microsoft_tenant_issuer(issuer: &str) -> bool {
    issuer
        .strip_prefix("https://login.microsoftonline.com/")
        .and_then(|rest| rest.strip_suffix("/v2.0"))
        .is_some_and(|tenant| uuid::Uuid::parse_str(tenant).is_ok() || tenant == "{tenantid}")
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

impl Discovered {
    pub(super) fn for_provider(provider: &Provider) -> Option<Self> {
        match &provider.kind {
            Kind::Oidc {
                issuer,
                any_microsoft_tenant,
            } => Some(Self {
                issuer: issuer.clone(),
                any_microsoft_tenant: *any_microsoft_tenant,
                cache: tokio::sync::Mutex::new(None),
            }),
            Kind::GitHub { .. } => None,
        }
    }

    /// Fetches the metadata and its JWKS. Not `discover_async`: Microsoft's multi-tenant
    /// metadata names a `{tenantid}` issuer that an exact comparison refuses.
    async fn fetch(&self, http: &reqwest::Client) -> Result<CoreProviderMetadata, Error> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let response = http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable(&self.issuer, "discovery", &e))?;
        let body = response
            .bytes()
            .await
            .map_err(|e| unavailable(&self.issuer, "discovery", &e))?;
        let metadata: CoreProviderMetadata = serde_json::from_slice(&body)
            .map_err(|e| unavailable(&self.issuer, "discovery", &e))?;
        let published = metadata.issuer().as_str().trim_end_matches('/');
        let expected = published == self.issuer
            || (self.any_microsoft_tenant && is_microsoft_tenant_issuer(published));
        if !expected {
            return Err(unavailable(
                &self.issuer,
                "discovery",
                &format!("the metadata names issuer {published:?}"),
            ));
        }
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), http)
            .await
            .map_err(|e| unavailable(&self.issuer, "JWKS fetch", &e))?;
        Ok(metadata.set_jwks(jwks))
    }

    /// The metadata, fetched when missing or older than an hour. With `unknown_key` (a token
    /// named a key we do not have) it is fetched again unless that already happened within the
    /// last minute; the flag answered says whether it was.
    async fn metadata(
        &self,
        http: &reqwest::Client,
        unknown_key: bool,
    ) -> Result<(CoreProviderMetadata, bool), Error> {
        let mut cache = self.cache.lock().await;
        let mut keys_refreshed_at = None;
        if let Some(cached) = cache.as_ref() {
            keys_refreshed_at = cached.keys_refreshed_at;
            let keep = if unknown_key {
                cached
                    .keys_refreshed_at
                    .is_some_and(|at| at.elapsed() < JWKS_MIN_INTERVAL)
            } else {
                cached.fetched_at.elapsed() < METADATA_TTL
            };
            if keep {
                return Ok((cached.metadata.clone(), false));
            }
        }
        let metadata = self.fetch(http).await?;
        let now = Instant::now();
        *cache = Some(Cached {
            metadata: metadata.clone(),
            fetched_at: now,
            keys_refreshed_at: if unknown_key {
                Some(now)
            } else {
                keys_refreshed_at
            },
        });
        Ok((metadata, true))
    }

    fn client(metadata: CoreProviderMetadata, provider: &Provider) -> Result<Client, Error> {
        let redirect = RedirectUrl::new(provider.redirect_url.clone())
            .map_err(|e| Error::Config(format!("redirect URL: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            provider
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose_secret().to_owned())),
        )
        .set_redirect_uri(redirect))
    }

    /// The authorization URL, its `state` and its `nonce`.
    pub(super) async fn authorize_url(
        &self,
        http: &reqwest::Client,
        provider: &Provider,
        challenge: PkceCodeChallenge,
    ) -> Result<(String, String, String), Error> {
        let (metadata, _) = self.metadata(http, false).await?;
        let client = Self::client(metadata, provider)?;
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        // `openid` is always sent.
        for scope in provider.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok((
            url.to_string(),
            state.secret().clone(),
            nonce.secret().clone(),
        ))
    }

    /// Exchanges the code and validates the ID token.
    pub(super) async fn identity(
        &self,
        http: &reqwest::Client,
        provider: &Provider,
        code: &str,
        verifier: PkceCodeVerifier,
        nonce: &str,
        clock: &mortar_core::SharedClock,
    ) -> Result<FederatedIdentity, Error> {
        let (metadata, _) = self.metadata(http, false).await?;
        let client = Self::client(metadata.clone(), provider)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| Error::Config(format!("token endpoint: {e}")))?
            .set_pkce_verifier(verifier)
            .request_async(http)
            .await
            .map_err(|e| super::token_error(&provider.id, &e))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| invalid("the token answer has no ID token"))?;
        let nonce = Nonce::new(nonce.to_owned());
        let verify = |metadata: &CoreProviderMetadata| {
            let client = Self::client(metadata.clone(), provider)?;
            let clock = clock.clone();
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(allowed_algs(metadata))
                .require_issuer_match(!self.any_microsoft_tenant)
                .set_time_fn(move || chrono::DateTime::<chrono::Utc>::from(clock.now()));
            Ok::<_, Error>(id_token.claims(&verifier, &nonce).cloned())
        };
        let claims = match verify(&metadata)? {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // A key we have not seen: the provider may have rotated. Fetch the keys again
                // (at most once a minute) and retry once.
                let (fresh, refetched) = self.metadata(http, true).await?;
                if refetched {
                    verify(&fresh)?
                } else {
                    return Err(invalid("no key matches the token's key id"));
                }
            }
            other => other,
        }
        .map_err(|e| invalid(&claims_error(&e)))?;
        if self.any_microsoft_tenant && !is_microsoft_tenant_issuer(claims.issuer().as_str()) {
            return Err(invalid("the issuer is not a Microsoft tenant"));
        }
        Ok(FederatedIdentity {
            provider: provider.id.clone(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
        })
    }
}

/// The asymmetric algorithms the provider says it signs ID tokens with (RS256 when it says
/// none); never `none` or a shared-secret HMAC.
fn allowed_algs(metadata: &CoreProviderMetadata) -> Vec<CoreJwsSigningAlgorithm> {
    use CoreJwsSigningAlgorithm as A;
    let algs: Vec<A> = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| {
            matches!(
                alg,
                A::RsaSsaPkcs1V15Sha256
                    | A::RsaSsaPkcs1V15Sha384
                    | A::RsaSsaPkcs1V15Sha512
                    | A::RsaSsaPssSha256
                    | A::RsaSsaPssSha384
                    | A::RsaSsaPssSha512
                    | A::EcdsaP256Sha256
                    | A::EcdsaP384Sha384
                    | A::EdDsa
            )
        })
        .cloned()
        .collect();
    if algs.is_empty() {
        vec![A::RsaSsaPkcs1V15Sha256]
    } else {
        algs
    }
}

fn invalid(reason: &str) -> Error {
    tracing::info!(target: "mortar::auth", reason, "ID token refused");
    Error::Federation(FederationError::InvalidIdToken(reason.to_owned()))
}

/// A short reason; the crate's messages can quote claim values, which stay out of our errors.
fn claims_error(error: &ClaimsVerificationError) -> String {
    match error {
        ClaimsVerificationError::Expired(_) => "expired".into(),
        ClaimsVerificationError::InvalidAudience(_) => "wrong audience".into(),
        ClaimsVerificationError::InvalidIssuer(_) => "wrong issuer".into(),
        ClaimsVerificationError::InvalidNonce(_) => "wrong nonce".into(),
        ClaimsVerificationError::InvalidSubject(_) => "no subject".into(),
        ClaimsVerificationError::SignatureVerification(e) => format!("signature: {e}"),
        ClaimsVerificationError::Unsupported(e) => format!("unsupported: {e}"),
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsoft_tenant_issuers() {
        assert!(is_microsoft_tenant_issuer(
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
        ));
        assert!(!is_microsoft_tenant_issuer(
            "https://login.microsoftonline.com.evil.example/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
        ));
        assert!(!is_microsoft_tenant_issuer(
            "https://login.microsoftonline.com/x/../v2.0"
        ));
    }
}
