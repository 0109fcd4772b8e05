//! Enterprise SSO: each tenant's own OpenID Connect issuer, client and e-mail domains.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;

/// A tenant's SSO connection: "Sign in with your company" for the addresses in `domains`,
/// through the tenant's issuer.
#[derive(Clone)]
#[non_exhaustive]
pub struct SsoConnection {
    /// The tenant's id (`[a-z0-9_-]`, at most 36 characters); its provider id is
    /// `sso-{tenant}`.
    pub tenant: String,
    /// The tenant's OpenID Connect issuer (https).
    pub issuer: String,
    /// Your client's id at that issuer.
    pub client_id: String,
    /// Your client's secret there, if confidential.
    pub client_secret: Option<SecretString>,
    /// The e-mail domains (lower case) whose users sign in through this tenant. A domain
    /// belongs to one tenant.
    pub domains: Vec<String>,
}

impl PartialEq for SsoConnection {
    fn eq(&self, other: &Self) -> bool {
        self.tenant == other.tenant
            && self.issuer == other.issuer
            && self.client_id == other.client_id
            && self.domains == other.domains
            && self.client_secret.as_ref().map(ExposeSecret::expose_secret)
                == other
                    .client_secret
                    .as_ref()
                    .map(ExposeSecret::expose_secret)
    }
}

impl Eq for SsoConnection {}

impl fmt::Debug for SsoConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoConnection")
            .field("tenant", &self.tenant)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("domains", &self.domains)
            .finish()
    }
}

impl SsoConnection {
    /// A connection; the id, issuer and domains are checked.
    ///
    /// ```
    /// use mortar_auth::oauth::SsoConnection;
    ///
    /// let acme = SsoConnection::new("acme", "https://login.acme.example", "mortar-app", ["Acme.example"])
    ///     .unwrap()
    ///     .client_secret("s3cret");
    /// assert_eq!(acme.domains, ["acme.example"]);
    /// assert!(!format!("{acme:?}").contains("s3cret"));
    /// assert!(SsoConnection::new("acme", "http://login.acme.example", "app", ["acme.example"]).is_err());
    /// assert!(SsoConnection::new("a.b", "https://x.example", "app", ["acme.example"]).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a tenant id outside `[a-z0-9_-]{1,36}`, an issuer that is not
    /// https (http only on localhost), no domains, or a domain that is not a host name.
    pub fn new<I, S>(tenant: &str, issuer: &str, client_id: &str, domains: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if tenant.len() > 36 {
            return Err(Error::Config(format!(
                "tenant id {tenant:?}: at most 36 characters"
            )));
        }
        super::check_id(tenant)?;
        super::check_url("issuer", issuer)?;
        let mut normalized = Vec::new();
        for domain in domains {
            let domain = domain.as_ref().trim().to_ascii_lowercase();
            let ok = domain.contains('.')
                && domain.len() <= 253
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                return Err(Error::Config(format!(
                    "SSO domain {domain:?}: not a host name"
                )));
            }
            if !normalized.contains(&domain) {
                normalized.push(domain);
            }
        }
        if normalized.is_empty() {
            return Err(Error::Config(format!("tenant {tenant:?}: no domains")));
        }
        Ok(Self {
            tenant: tenant.to_owned(),
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: None,
            domains: normalized,
        })
    }

    /// With a client secret.
    #[must_use]
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(SecretString::from(secret.into()));
        self
    }
}

/// Where tenants' connections live.
///
/// Contract (the conformance suite checks it on every backend): `put` creates or replaces a
/// tenant's connection, domains included, and answers [`Error::Conflict`]`("domain")` —
/// changing nothing — when another tenant holds one of its domains; `by_domain` finds the
/// tenant holding a (lower-case) domain; `remove` frees the tenant's domains.
#[async_trait]
pub trait SsoDirectory: Send + Sync + fmt::Debug + 'static {
    /// The tenant's connection.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn by_tenant(&self, tenant: &str) -> Result<Option<SsoConnection>, Error>;

    /// The connection of the tenant holding `domain`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn by_domain(&self, domain: &str) -> Result<Option<SsoConnection>, Error>;

    /// Creates or replaces a tenant's connection.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`]`("domain")`; [`Error::Store`].
    async fn put(&self, connection: SsoConnection) -> Result<(), Error>;

    /// Removes a tenant's connection; `false` when there was none.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn remove(&self, tenant: &str) -> Result<bool, Error>;

    /// Every connection, by tenant id.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn list(&self) -> Result<Vec<SsoConnection>, Error>;
}

/// Connections in memory.
#[derive(Debug, Default)]
pub struct MemorySsoDirectory {
    tenants: Mutex<BTreeMap<String, SsoConnection>>,
}

impl MemorySsoDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SsoConnection>> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SsoDirectory for MemorySsoDirectory {
    async fn by_tenant(&self, tenant: &str) -> Result<Option<SsoConnection>, Error> {
        Ok(self.lock().get(tenant).cloned())
    }

    async fn by_domain(&self, domain: &str) -> Result<Option<SsoConnection>, Error> {
        let domain = domain.to_ascii_lowercase();
        Ok(self
            .lock()
            .values()
            .find(|c| c.domains.contains(&domain))
            .cloned())
    }

    async fn put(&self, connection: SsoConnection) -> Result<(), Error> {
        let mut tenants = self.lock();
        let taken = tenants.values().any(|other| {
            other.tenant != connection.tenant
                && other.domains.iter().any(|d| connection.domains.contains(d))
        });
        if taken {
            return Err(Error::Conflict("domain"));
        }
        tenants.insert(connection.tenant.clone(), connection);
        Ok(())
    }

    async fn remove(&self, tenant: &str) -> Result<bool, Error> {
        Ok(self.lock().remove(tenant).is_some())
    }

    async fn list(&self) -> Result<Vec<SsoConnection>, Error> {
        Ok(self.lock().values().cloned().collect())
    }
}
