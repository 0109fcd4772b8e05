//! Sign-in with OAuth 2 / OpenID Connect providers (feature `oauth`), to OpenID Connect Core,
//! RFC 6749, RFC 7636 (PKCE) and OWASP ASVS 5.0 V10.
//!
//! Three parts, usable alone:
//!
//! - [`OAuth`] runs the authorization-code flow with the providers you configure
//!   ([`Provider`]: any OpenID Connect issuer by discovery, Google, Microsoft, GitLab, and GitHub
//!   through OAuth 2 and its user API). [`OAuth::start`] answers the provider's authorization URL
//!   and a sealed *flow* value to keep in a cookie; [`OAuth::finish`] takes the callback and
//!   that value and answers the verified [`FederatedIdentity`].
//! - [`Federation`] turns an identity into a login on your accounts: a known identity signs in
//!   its user, a new one may join the account with the same *verified* address (only when both
//!   sides verified it, and only when the [`LinkPolicy`] allows) or create one; signed-in users
//!   link and unlink providers. Identities live in an [`IdentityStore`] (memory, or SQL with
//!   the `sql` features).
//! - Enterprise SSO: an [`SsoDirectory`] holds each tenant's own OpenID Connect issuer, client
//!   and e-mail domains; [`OAuth::start_sso`] finds the tenant from the user's address.
//!
//! What is checked: `state` against the flow cookie (CSRF), PKCE with S256 only (the verifier
//! never leaves the server), the `nonce`, and the ID token's signature against the provider's
//! JWKS (fetched again when a token names an unknown key: rotation), issuer, audience and expiry,
//! with asymmetric algorithms only. The flow value is sealed (AES-256-GCM) and expires after
//! ten minutes; the HTTP client follows no redirects. Provider tokens are used once, to read the
//! identity, and never stored or logged.
//!
//! ```
//! use mortar_auth::oauth::{Intent, OAuth, Provider};
//! use mortar_auth::seal::Sealer;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_auth::Error> {
//! let oauth = OAuth::builder(Sealer::new("flow-1", &[7; 32])?)
//!     .provider(
//!         Provider::github("Iv1.0123", "https://app.example/auth/oauth/github/callback")?
//!             .client_secret("from-your-vault"),
//!     )
//!     .build()?;
//! let started = oauth.start("github", Intent::SignIn, None).await?;
//! assert!(started.url.starts_with("https://github.com/login/oauth/authorize?"));
//! assert!(started.url.contains("code_challenge_method=S256"));
//! // Redirect the browser to `started.url`, keeping `started.flow` in an HttpOnly cookie;
//! // the callback then goes to `oauth.finish("github", &callback, Some(flow))`.
//! # Ok(()) }
//! ```

mod flow;
mod github;
mod identity;
mod oidc;
mod sso;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mortar_core::{SharedClock, SystemClock};
use secrecy::{ExposeSecret as _, SecretString};

pub use identity::{Federation, Identity, IdentityStore, LinkPolicy, MemoryIdentityStore};
pub use sso::{MemorySsoDirectory, SsoConnection, SsoDirectory};

use crate::error::{Error, FederationError};
use crate::seal::Sealer;
use crate::user::UserId;
use flow::FlowState;

/// What a provider speaks.
#[derive(Clone, Debug)]
enum Kind {
    /// OpenID Connect, configured by discovery from the issuer.
    Oidc {
        issuer: String,
        /// Microsoft's multi-tenant endpoints publish `{tenantid}` in place of the issuer.
        any_microsoft_tenant: bool,
    },
    /// GitHub: OAuth 2 and the REST user API.
    GitHub {
        authorize: String,
        token: String,
        api: String,
    },
}

/// A provider users can sign in with: what it speaks, your client's registration with it, and
/// the callback URL registered there.
#[derive(Clone)]
pub struct Provider {
    id: String,
    kind: Kind,
    client_id: String,
    client_secret: Option<SecretString>,
    redirect_url: String,
    scopes: Vec<String>,
    trust_email: bool,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .field("trust_email", &self.trust_email)
            .finish()
    }
}

/// Provider ids name routes, identities and the `amr` of logins: short, lower-case, no dots.
fn check_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "provider id {id:?}: use 1 to 40 of a-z, 0-9, '-' and '_'"
        )))
    }
}

fn check_url(what: &str, url: &str) -> Result<(), Error> {
    let parsed = url::Url::parse(url).map_err(|e| Error::Config(format!("{what} {url:?}: {e}")))?;
    let local = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if parsed.scheme() == "https" || (parsed.scheme() == "http" && local) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{what} {url:?}: must be https (http only on localhost)"
        )))
    }
}

impl Provider {
    fn new(id: &str, kind: Kind, client_id: &str, redirect_url: &str) -> Result<Self, Error> {
        check_id(id)?;
        check_url("redirect URL", redirect_url)?;
        let scopes = match kind {
            Kind::Oidc { .. } => vec!["openid".into(), "email".into(), "profile".into()],
            Kind::GitHub { .. } => vec!["read:user".into(), "user:email".into()],
        };
        Ok(Self {
            id: id.to_owned(),
            kind,
            client_id: client_id.to_owned(),
            client_secret: None,
            redirect_url: redirect_url.to_owned(),
            scopes,
            trust_email: true,
        })
    }

    /// Any OpenID Connect provider, configured by discovery from its issuer URL (https; http
    /// only on localhost). Scopes `openid email profile`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an id outside `[a-z0-9_-]{1,40}` or a URL that is not https.
    pub fn oidc(
        id: &str,
        issuer: &str,
        client_id: &str,
        redirect_url: &str,
    ) -> Result<Self, Error> {
        check_url("issuer", issuer)?;
        Self::new(
            id,
            Kind::Oidc {
                issuer: issuer.trim_end_matches('/').to_owned(),
                any_microsoft_tenant: false,
            },
            client_id,
            redirect_url,
        )
    }

    /// Google (`https://accounts.google.com`), id `google`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a redirect URL that is not https.
    pub fn google(client_id: &str, redirect_url: &str) -> Result<Self, Error> {
        Self::oidc(
            "google",
            "https://accounts.google.com",
            client_id,
            redirect_url,
        )
    }

    /// GitLab.com, id `gitlab`; [`Self::oidc`] with your instance's URL for a self-managed one.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a redirect URL that is not https.
    pub fn gitlab(client_id: &str, redirect_url: &str) -> Result<Self, Error> {
        Self::oidc("gitlab", "https://gitlab.com", client_id, redirect_url)
    }

    /// Microsoft Entra ID, id `microsoft`. `tenant` is a tenant id or domain, or `common`,
    /// `organizations` or `consumers` for the multi-tenant endpoints (whose ID tokens are then
    /// accepted from any tenant's issuer). Microsoft does not verify the `email` claim, so its
    /// addresses are treated as unverified: they never join an existing account by themselves.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a redirect URL that is not https.
    pub fn microsoft(tenant: &str, client_id: &str, redirect_url: &str) -> Result<Self, Error> {
        let mut provider = Self::oidc(
            "microsoft",
            &format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            client_id,
            redirect_url,
        )?;
        if let Kind::Oidc {
            any_microsoft_tenant,
            ..
        } = &mut provider.kind
        {
            *any_microsoft_tenant = matches!(tenant, "common" | "organizations" | "consumers");
        }
        provider.trust_email = false;
        Ok(provider)
    }

    /// GitHub, id `github`: OAuth 2 with PKCE, then the user API for the account id and the
    /// primary verified address. Needs [`Self::client_secret`].
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a redirect URL that is not https.
    pub fn github(client_id: &str, redirect_url: &str) -> Result<Self, Error> {
        Self::new(
            "github",
            Kind::GitHub {
                authorize: "https://github.com/login/oauth/authorize".into(),
                token: "https://github.com/login/oauth/access_token".into(),
                api: "https://api.github.com".into(),
            },
            client_id,
            redirect_url,
        )
    }

    /// GitHub's endpoints elsewhere (GitHub Enterprise Server, or a test double): the
    /// authorization and token URLs and the REST API's base.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when this is not a GitHub provider or a URL is not https.
    pub fn github_endpoints(
        mut self,
        authorize: &str,
        token: &str,
        api: &str,
    ) -> Result<Self, Error> {
        for (what, url) in [
            ("authorize URL", authorize),
            ("token URL", token),
            ("API URL", api),
        ] {
            check_url(what, url)?;
        }
        match &mut self.kind {
            Kind::GitHub {
                authorize: a,
                token: t,
                api: u,
            } => {
                authorize.clone_into(a);
                token.clone_into(t);
                api.trim_end_matches('/').clone_into(u);
                Ok(self)
            }
            Kind::Oidc { .. } => Err(Error::Config("not a GitHub provider".into())),
        }
    }

    /// Renames the provider (two Google clients, say).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an id outside `[a-z0-9_-]{1,40}`.
    pub fn id(mut self, id: &str) -> Result<Self, Error> {
        check_id(id)?;
        id.clone_into(&mut self.id);
        Ok(self)
    }

    /// The client secret of a confidential client (sent with HTTP Basic authentication, in the
    /// body for GitHub). Without one the client is public and relies on PKCE alone.
    #[must_use]
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(SecretString::from(secret.into()));
        self
    }

    /// Replaces the requested scopes.
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the provider's `email_verified` is believed (default true; false for
    /// Microsoft). An untrusted address never joins an existing account by itself.
    #[must_use]
    pub fn trust_email(mut self, trust: bool) -> Self {
        self.trust_email = trust;
        self
    }

    /// The provider's id.
    pub fn provider_id(&self) -> &str {
        &self.id
    }
}

/// What a finished sign-in is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Sign in (or sign up).
    SignIn,
    /// Link the identity to this signed-in user.
    Link(UserId),
}

/// A started sign-in: where to send the browser, and the flow value to keep until the callback.
#[non_exhaustive]
pub struct Authorization {
    /// The provider's authorization URL, with `state`, `nonce` and the S256 PKCE challenge.
    pub url: String,
    /// The sealed flow (state, nonce, PKCE verifier, intent): keep it in an HttpOnly,
    /// `SameSite=Lax` cookie and give it back to [`OAuth::finish`].
    pub flow: SecretString,
    /// When the flow expires (ten minutes by default).
    pub expires_at: SystemTime,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &self.url)
            .field("flow", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The query of the callback request.
#[derive(Clone, Default, serde::Deserialize)]
#[non_exhaustive]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state` sent with the authorization request.
    pub state: Option<String>,
    /// An error code, when the provider refused (`access_denied`…).
    pub error: Option<String>,
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("code", &self.code.as_ref().map(|_| "[REDACTED]"))
            .field("state", &self.state)
            .field("error", &self.error)
            .finish()
    }
}

impl Callback {
    /// A callback with a code and a state.
    pub fn new(code: impl Into<String>, state: impl Into<String>) -> Self {
        Self {
            code: Some(code.into()),
            state: Some(state.into()),
            error: None,
        }
    }

    /// The callback a redirect URL carries (`…?code=…&state=…` or `…?error=…`).
    pub fn from_url(url: &str) -> Self {
        let mut callback = Self::default();
        if let Ok(url) = url::Url::parse(url) {
            for (name, value) in url.query_pairs() {
                match name.as_ref() {
                    "code" => callback.code = Some(value.into_owned()),
                    "state" => callback.state = Some(value.into_owned()),
                    "error" => callback.error = Some(value.into_owned()),
                    _ => {}
                }
            }
        }
        callback
    }
}

/// Who the provider says signed in.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FederatedIdentity {
    /// The provider's id (`google`, `github`, `sso-{tenant}`…).
    pub provider: String,
    /// The provider's stable id of the account (`sub`; GitHub's numeric id).
    pub subject: String,
    /// The e-mail address, when given.
    pub email: Option<String>,
    /// Whether the address is verified — by the provider, and trusted ([`Provider::trust_email`]).
    pub email_verified: bool,
    /// The display name, when given.
    pub name: Option<String>,
}

impl FederatedIdentity {
    /// An identity (for tests and custom providers).
    pub fn new(provider: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            subject: subject.into(),
            email: None,
            email_verified: false,
            name: None,
        }
    }

    /// With an address, verified or not.
    #[must_use]
    pub fn email(mut self, email: impl Into<String>, verified: bool) -> Self {
        self.email = Some(email.into());
        self.email_verified = verified;
        self
    }

    /// The address when it is verified.
    pub fn verified_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.email_verified)
    }
}

/// A finished sign-in.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Finished {
    /// The verified identity.
    pub identity: FederatedIdentity,
    /// What the sign-in was started for.
    pub intent: Intent,
    /// The local path given to [`OAuth::start`], to send the browser back to.
    pub return_to: Option<String>,
}

/// A configured provider and what discovery learned about it.
struct Configured {
    provider: Provider,
    oidc: Option<oidc::Discovered>,
    /// For SSO connections: the tenant's allowed domains.
    domains: Option<Vec<String>>,
}

struct Inner {
    providers: HashMap<String, Arc<Configured>>,
    http: reqwest::Client,
    sealer: Sealer,
    clock: SharedClock,
    flow_ttl: Duration,
    sso: Option<(Arc<dyn SsoDirectory>, String)>,
    sso_cache: tokio::sync::Mutex<HashMap<String, (SsoConnection, Arc<Configured>)>>,
}

/// The OAuth 2 / OpenID Connect client; cheap to clone.
#[derive(Clone)]
pub struct OAuth {
    inner: Arc<Inner>,
}

impl fmt::Debug for OAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&str> = self.inner.providers.keys().map(String::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("OAuth")
            .field("providers", &ids)
            .field("sso", &self.inner.sso.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds [`OAuth`]; see [`OAuth::builder`].
#[must_use]
pub struct OAuthBuilder {
    providers: Vec<Provider>,
    sealer: Sealer,
    clock: SharedClock,
    flow_ttl: Duration,
    http: Option<reqwest::Client>,
    sso: Option<(Arc<dyn SsoDirectory>, String)>,
}

impl fmt::Debug for OAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthBuilder").finish_non_exhaustive()
    }
}

impl OAuthBuilder {
    /// Adds a provider.
    pub fn provider(mut self, provider: Provider) -> Self {
        self.providers.push(provider);
        self
    }

    /// Enterprise SSO: tenants' connections come from `directory`, and each tenant's callback
    /// is `{callback_base}/sso-{tenant}/callback` (register that URL with the tenant's issuer).
    pub fn sso(
        mut self,
        directory: Arc<dyn SsoDirectory>,
        callback_base: impl Into<String>,
    ) -> Self {
        self.sso = Some((
            directory,
            callback_base.into().trim_end_matches('/').to_owned(),
        ));
        self
    }

    /// How long a started sign-in may take (default ten minutes).
    pub fn flow_ttl(mut self, ttl: Duration) -> Self {
        self.flow_ttl = ttl;
        self
    }

    /// The clock (flows' expiry and ID tokens' `exp`).
    pub fn clock(mut self, clock: impl mortar_core::Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The HTTP client for discovery, JWKS, token and user-API requests. It must not follow
    /// redirects. Default: reqwest with rustls, no redirects, 10-second timeouts.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Finishes. Discovery happens on first use, so a provider that is down does not stop the
    /// application from starting.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for two providers with one id, an id starting with `sso-` (reserved
    /// for tenants), or an HTTP client that cannot be built.
    pub fn build(self) -> Result<OAuth, Error> {
        let mut providers = HashMap::new();
        for provider in self.providers {
            if provider.id.starts_with("sso-") {
                return Err(Error::Config(format!(
                    "provider id {:?}: `sso-` is reserved for tenants",
                    provider.id
                )));
            }
            let id = provider.id.clone();
            let configured = Arc::new(Configured {
                oidc: oidc::Discovered::for_provider(&provider),
                provider,
                domains: None,
            });
            if providers.insert(id.clone(), configured).is_some() {
                return Err(Error::Config(format!("two providers named {id:?}")));
            }
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .user_agent(concat!("mortar-auth/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?,
        };
        Ok(OAuth {
            inner: Arc::new(Inner {
                providers,
                http,
                sealer: self.sealer,
                clock: self.clock,
                flow_ttl: self.flow_ttl,
                sso: self.sso,
                sso_cache: tokio::sync::Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// A local path to return to after sign-in: one leading `/`, no scheme or host (no open
/// redirect).
fn safe_return_to(path: &str) -> Option<String> {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control)
        && path.len() <= 512;
    ok.then(|| path.to_owned())
}

impl OAuth {
    /// Starts building; `sealer` seals the flow values (any 32-byte key of yours; rotate with
    /// [`Sealer::old_key`]).
    pub fn builder(sealer: Sealer) -> OAuthBuilder {
        OAuthBuilder {
            providers: Vec::new(),
            sealer,
            clock: SystemClock::shared(),
            flow_ttl: Duration::from_mins(10),
            http: None,
            sso: None,
        }
    }

    /// The configured providers' ids, sorted.
    pub fn provider_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.inner.providers.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }

    async fn configured(&self, provider: &str) -> Result<Arc<Configured>, Error> {
        if let Some(configured) = self.inner.providers.get(provider) {
            return Ok(configured.clone());
        }
        match provider.strip_prefix("sso-") {
            Some(tenant) => self.tenant(tenant).await,
            None => Err(Error::Federation(FederationError::UnknownProvider)),
        }
    }

    /// Starts a sign-in with `provider`: the authorization URL to redirect to and the flow to
    /// keep. `return_to` is a local path (`/settings`) handed back by [`Self::finish`]; anything
    /// else is dropped.
    ///
    /// # Errors
    ///
    /// [`FederationError::UnknownProvider`]; [`FederationError::Unavailable`] when discovery
    /// fails; [`Error::Internal`].
    pub async fn start(
        &self,
        provider: &str,
        intent: Intent,
        return_to: Option<&str>,
    ) -> Result<Authorization, Error> {
        let configured = self.configured(provider).await?;
        self.start_with(&configured, intent, return_to).await
    }

    async fn start_with(
        &self,
        configured: &Configured,
        intent: Intent,
        return_to: Option<&str>,
    ) -> Result<Authorization, Error> {
        let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = if let Some(discovered) = &configured.oidc {
            let (url, state, nonce) = discovered
                .authorize_url(&self.inner.http, &configured.provider, challenge)
                .await?;
            (url, state, Some(nonce))
        } else {
            let (url, state) = github::authorize_url(&configured.provider, challenge)?;
            (url, state, None)
        };
        let expires_at = self.inner.clock.now() + self.inner.flow_ttl;
        let flow = FlowState {
            provider: configured.provider.id.clone(),
            state,
            nonce,
            verifier: verifier.secret().clone(),
            expires_at: crate::time::to_secs(expires_at),
            link: match intent {
                Intent::SignIn => None,
                Intent::Link(user) => Some(user),
            },
            return_to: return_to.and_then(safe_return_to),
        };
        Ok(Authorization {
            url,
            flow: flow.seal(&self.inner.sealer)?,
            expires_at,
        })
    }

    /// Starts an enterprise sign-in for `email`: the tenant whose allowed domains include the
    /// address's domain, through that tenant's own issuer.
    ///
    /// # Errors
    ///
    /// [`FederationError::UnknownProvider`] when no tenant claims the domain (or SSO is not
    /// configured); as [`Self::start`].
    pub async fn start_sso(
        &self,
        email: &str,
        return_to: Option<&str>,
    ) -> Result<Authorization, Error> {
        let (directory, _) = self
            .inner
            .sso
            .as_ref()
            .ok_or(Error::Federation(FederationError::UnknownProvider))?;
        let domain = email
            .rsplit_once('@')
            .map(|(_, d)| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .ok_or(Error::InvalidEmail)?;
        let connection = directory
            .by_domain(&domain)
            .await?
            .ok_or(Error::Federation(FederationError::UnknownProvider))?;
        let configured = self.tenant(&connection.tenant).await?;
        self.start_with(&configured, Intent::SignIn, return_to)
            .await
    }

    /// The configured provider of a tenant's connection, cached until the connection changes.
    async fn tenant(&self, tenant: &str) -> Result<Arc<Configured>, Error> {
        let unknown = || Error::Federation(FederationError::UnknownProvider);
        let (directory, base) = self.inner.sso.as_ref().ok_or_else(unknown)?;
        let connection = directory.by_tenant(tenant).await?.ok_or_else(unknown)?;
        let mut cache = self.inner.sso_cache.lock().await;
        if let Some((cached, configured)) = cache.get(tenant)
            && *cached == connection
        {
            return Ok(configured.clone());
        }
        let id = format!("sso-{tenant}");
        let mut provider = Provider::oidc(
            &id,
            &connection.issuer,
            &connection.client_id,
            &format!("{base}/{id}/callback"),
        )?;
        if let Some(secret) = &connection.client_secret {
            provider = provider.client_secret(secret.expose_secret());
        }
        let configured = Arc::new(Configured {
            oidc: oidc::Discovered::for_provider(&provider),
            provider,
            domains: Some(connection.domains.clone()),
        });
        cache.insert(tenant.to_owned(), (connection, configured.clone()));
        Ok(configured)
    }

    /// Finishes a sign-in at the callback: checks the flow and `state`, exchanges the code with
    /// the PKCE verifier, validates the ID token (or reads GitHub's user API) and answers the
    /// identity. For a tenant (`sso-{tenant}`) the address must be in the tenant's domains, and
    /// is then taken as verified: the tenant's issuer speaks for its own domains.
    ///
    /// # Errors
    ///
    /// [`Error::Federation`] with [`FederationError::FlowMismatch`] (no, expired, tampered or
    /// another provider's flow, or a `state` that differs), [`FederationError::Denied`],
    /// [`FederationError::TokenRefused`] (a used code, a PKCE mismatch…),
    /// [`FederationError::InvalidIdToken`], [`FederationError::DomainNotAllowed`],
    /// [`FederationError::Unavailable`].
    pub async fn finish(
        &self,
        provider: &str,
        callback: &Callback,
        flow: Option<&str>,
    ) -> Result<Finished, Error> {
        let mismatch = || Error::Federation(FederationError::FlowMismatch);
        let flow = FlowState::open(&self.inner.sealer, flow.ok_or_else(mismatch)?)?;
        let now = crate::time::to_secs(self.inner.clock.now());
        let state_matches = callback.state.as_deref().is_some_and(|s| {
            subtle::ConstantTimeEq::ct_eq(s.as_bytes(), flow.state.as_bytes()).into()
        });
        if flow.provider != provider || flow.expires_at < now || !state_matches {
            return Err(mismatch());
        }
        if let Some(error) = &callback.error {
            let code: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(64)
                .collect();
            return Err(Error::Federation(FederationError::Denied(code)));
        }
        let code = callback.code.as_deref().ok_or_else(mismatch)?;
        let configured = self.configured(provider).await?;
        let verifier = openidconnect::PkceCodeVerifier::new(flow.verifier.clone());
        let mut identity = match (&configured.oidc, &flow.nonce) {
            (Some(discovered), Some(nonce)) => {
                discovered
                    .identity(
                        &self.inner.http,
                        &configured.provider,
                        code,
                        verifier,
                        nonce,
                        &self.inner.clock,
                    )
                    .await?
            }
            (None, None) => {
                github::identity(&self.inner.http, &configured.provider, code, verifier).await?
            }
            _ => return Err(mismatch()),
        };
        if let Some(domains) = &configured.domains {
            let domain = identity
                .email
                .as_deref()
                .and_then(|e| e.rsplit_once('@'))
                .map(|(_, d)| d.to_ascii_lowercase());
            if !domain.is_some_and(|d| domains.contains(&d)) {
                return Err(Error::Federation(FederationError::DomainNotAllowed));
            }
            identity.email_verified = true;
        } else if !configured.provider.trust_email {
            identity.email_verified = false;
        }
        Ok(Finished {
            identity,
            intent: flow.link.map_or(Intent::SignIn, Intent::Link),
            return_to: flow.return_to,
        })
    }
}

/// The error for a failed code exchange: the provider's refusal (a used or expired code, a PKCE
/// verifier that does not match…) or an unreachable provider. Bodies are never logged: they
/// may carry tokens.
fn token_error<RE, T>(provider: &str, error: &oauth2::RequestTokenError<RE, T>) -> Error
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponse + 'static,
{
    match error {
        oauth2::RequestTokenError::ServerResponse(_) => {
            tracing::info!(target: "mortar::auth", provider, "the token endpoint refused the code");
            Error::Federation(FederationError::TokenRefused)
        }
        oauth2::RequestTokenError::Request(e) => {
            tracing::warn!(target: "mortar::auth", provider, error = %e, "token request failed");
            Error::Federation(FederationError::Unavailable)
        }
        oauth2::RequestTokenError::Parse(..) | oauth2::RequestTokenError::Other(_) => {
            tracing::warn!(target: "mortar::auth", provider, "the token endpoint answered nonsense");
            Error::Federation(FederationError::Unavailable)
        }
    }
}
