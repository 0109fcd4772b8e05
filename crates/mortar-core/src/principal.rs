//! [`Principal`]: who is calling.
//!
//! An authenticator (mortar-auth's layer, or the application's own) builds a `Principal` and
//! inserts it into the request's `http::Extensions`; the authorization, rate-limit, audit, flags
//! and localization crates read it from there. Extractors for axum (feature `axum`) and actix-web
//! (feature `actix`) hand it to handlers, rejecting with a 401 problem when it is missing.
//!
//! ```
//! use mortar_core::{AuthMethod, Principal, PrincipalKind};
//!
//! let principal = Principal::user("user-42")
//!     .tenant("acme")
//!     .roles(["admin", "billing"])
//!     .scope("invoices:read")
//!     .method(AuthMethod::Password)
//!     .method(AuthMethod::Totp)
//!     .second_factor(true)
//!     .session_id("sess-9")
//!     .attribute("department", "finance")
//!     .build();
//!
//! assert_eq!(principal.subject(), "user-42");
//! assert_eq!(principal.kind(), PrincipalKind::User);
//! assert!(principal.has_role("billing") && principal.has_scope("invoices:read"));
//! assert!(principal.authentication().second_factor());
//! assert_eq!(principal.authentication().amr(), vec!["pwd", "otp", "mfa"]);
//!
//! let mut request = http::Request::new(());
//! request.extensions_mut().insert(principal);
//! assert!(request.extensions().get::<Principal>().is_some());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::problem::Problem;

/// What kind of party a [`Principal`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PrincipalKind {
    /// A person with an account.
    User,
    /// A machine identity (another service, a job runner) acting on its own behalf.
    ServiceAccount,
    /// A caller holding an API key.
    ApiKey,
    /// Nobody in particular. Extractors treat an anonymous principal as absent.
    Anonymous,
}

impl PrincipalKind {
    /// The kind's name as serialized and stored (`user`, `service_account`, `api_key`,
    /// `anonymous`).
    ///
    /// ```
    /// assert_eq!(mortar_core::PrincipalKind::ApiKey.as_str(), "api_key");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ServiceAccount => "service_account",
            Self::ApiKey => "api_key",
            Self::Anonymous => "anonymous",
        }
    }
}

/// How a principal proved who it is: one entry per factor or mechanism used.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// A password.
    Password,
    /// A bearer JWT access token.
    Jwt,
    /// An API key.
    ApiKey,
    /// A server-side session cookie.
    Session,
    /// A time-based one-time password (RFC 6238).
    Totp,
    /// A single-use recovery code.
    RecoveryCode,
    /// A passkey / WebAuthn credential.
    Passkey,
    /// A one-time code or magic link sent by e-mail.
    EmailCode,
    /// A one-time code sent by SMS.
    Sms,
    /// Login through an OAuth 2 / OpenID Connect provider, named.
    #[serde(rename = "oauth")]
    OAuth(String),
    /// Anything else, named.
    Other(String),
}

impl AuthMethod {
    /// The method an `amr` value names: the inverse of [`AuthMethod::amr`] (`fed` cannot name its
    /// provider and comes back as `Other("fed")`; unknown values too).
    ///
    /// ```
    /// use mortar_core::AuthMethod;
    ///
    /// for m in [AuthMethod::Password, AuthMethod::Totp, AuthMethod::Passkey, AuthMethod::ApiKey] {
    ///     assert_eq!(AuthMethod::from_amr(m.amr()), m);
    /// }
    /// assert_eq!(AuthMethod::from_amr("retina"), AuthMethod::Other("retina".into()));
    /// ```
    pub fn from_amr(amr: &str) -> Self {
        match amr {
            "pwd" => Self::Password,
            "otp" => Self::Totp,
            "hwk" => Self::Passkey,
            "sms" => Self::Sms,
            "kba" => Self::RecoveryCode,
            "email" => Self::EmailCode,
            "jwt" => Self::Jwt,
            "api_key" => Self::ApiKey,
            "session" => Self::Session,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The RFC 8176 "Authentication Method Reference" value for this method, used in the `amr`
    /// claim of tokens. Methods that RFC 8176 does not name use Mortar's own short names.
    pub fn amr(&self) -> &str {
        match self {
            Self::Password => "pwd",
            Self::Totp => "otp",
            Self::Passkey => "hwk",
            Self::Sms => "sms",
            Self::RecoveryCode => "kba",
            Self::EmailCode => "email",
            Self::Jwt => "jwt",
            Self::ApiKey => "api_key",
            Self::Session => "session",
            Self::OAuth(_) => "fed",
            Self::Other(name) => name,
        }
    }
}

/// How and when a principal authenticated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    #[serde(default)]
    methods: Vec<AuthMethod>,
    #[serde(default)]
    second_factor: bool,
    #[serde(
        default,
        with = "crate::time_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    at: Option<SystemTime>,
}

impl Authentication {
    /// The methods used, first factor first.
    pub fn methods(&self) -> &[AuthMethod] {
        &self.methods
    }

    /// Whether a second factor was verified.
    pub fn second_factor(&self) -> bool {
        self.second_factor
    }

    /// When the principal last proved a factor (for step-up freshness checks), if known.
    pub fn at(&self) -> Option<SystemTime> {
        self.at
    }

    /// Whether `method` was used.
    pub fn used(&self, method: &AuthMethod) -> bool {
        self.methods.contains(method)
    }

    /// The RFC 8176 `amr` values: one per method, plus `mfa` when a second factor was used.
    pub fn amr(&self) -> Vec<&str> {
        let mut amr: Vec<&str> = self.methods.iter().map(AuthMethod::amr).collect();
        if self.second_factor {
            amr.push("mfa");
        }
        amr
    }
}

/// Who is calling: subject, tenant, kind, roles, scopes, how they authenticated, session and free
/// attributes for attribute-based decisions.
///
/// Built with [`Principal::user`], [`Principal::builder`] and friends. Immutable and cheap to
/// clone (one reference count: every layer of a request can hold one); derive a changed one with
/// [`Principal::to_builder`]. Its `Debug` output holds identifiers only, never credentials (a
/// principal holds none).
#[derive(Clone)]
pub struct Principal {
    data: Arc<PrincipalData>,
}

/// What a [`Principal`] holds; shared by its clones.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
struct PrincipalData {
    subject: String,
    kind: PrincipalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    roles: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    scopes: BTreeSet<String>,
    #[serde(default)]
    authentication: Authentication,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, Value>,
}

impl PartialEq for Principal {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.data, &other.data) || self.data == other.data
    }
}

impl Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.data.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Principal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        PrincipalData::deserialize(deserializer).map(|data| Self {
            data: Arc::new(data),
        })
    }
}

impl Principal {
    /// Starts building a principal of the given kind.
    pub fn builder(kind: PrincipalKind, subject: impl Into<String>) -> PrincipalBuilder {
        PrincipalBuilder {
            inner: PrincipalData {
                subject: subject.into(),
                kind,
                tenant: None,
                roles: BTreeSet::new(),
                scopes: BTreeSet::new(),
                authentication: Authentication::default(),
                session_id: None,
                attributes: BTreeMap::new(),
            },
        }
    }

    /// Starts building a user principal.
    pub fn user(subject: impl Into<String>) -> PrincipalBuilder {
        Self::builder(PrincipalKind::User, subject)
    }

    /// Starts building a service-account principal.
    pub fn service_account(subject: impl Into<String>) -> PrincipalBuilder {
        Self::builder(PrincipalKind::ServiceAccount, subject)
    }

    /// Starts building an API-key principal (`subject` is the key's owner or the key id).
    pub fn api_key(subject: impl Into<String>) -> PrincipalBuilder {
        Self::builder(PrincipalKind::ApiKey, subject).method(AuthMethod::ApiKey)
    }

    /// The anonymous principal.
    pub fn anonymous() -> Self {
        Self::builder(PrincipalKind::Anonymous, "anonymous").build()
    }

    /// The subject: a stable identifier (user id, service name, key id).
    pub fn subject(&self) -> &str {
        &self.data.subject
    }

    /// The kind of party.
    pub fn kind(&self) -> PrincipalKind {
        self.data.kind
    }

    /// Whether this is the anonymous principal.
    pub fn is_anonymous(&self) -> bool {
        self.data.kind == PrincipalKind::Anonymous
    }

    /// The tenant (organization) the principal acts in, if any.
    pub fn tenant(&self) -> Option<&str> {
        self.data.tenant.as_deref()
    }

    /// Roles asserted by the authenticator (e.g. from a token's claims).
    pub fn roles(&self) -> impl ExactSizeIterator<Item = &str> {
        self.data.roles.iter().map(String::as_str)
    }

    /// Whether the authenticator asserted `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.data.roles.contains(role)
    }

    /// OAuth-style scopes granted to this credential.
    pub fn scopes(&self) -> impl ExactSizeIterator<Item = &str> {
        self.data.scopes.iter().map(String::as_str)
    }

    /// Whether the credential carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.data.scopes.contains(scope)
    }

    /// How the principal authenticated.
    pub fn authentication(&self) -> &Authentication {
        &self.data.authentication
    }

    /// The server-side session (or refresh-token family) behind this principal, if any.
    pub fn session_id(&self) -> Option<&str> {
        self.data.session_id.as_deref()
    }

    /// A free attribute for attribute-based decisions.
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        self.data.attributes.get(name)
    }

    /// Every free attribute.
    pub fn attributes(&self) -> &BTreeMap<String, Value> {
        &self.data.attributes
    }

    /// A builder holding a copy of this principal, to derive a changed one.
    pub fn to_builder(&self) -> PrincipalBuilder {
        PrincipalBuilder {
            inner: PrincipalData::clone(&self.data),
        }
    }
}

impl fmt::Debug for PrincipalData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.subject)
            .field("kind", &self.kind)
            .field("tenant", &self.tenant)
            .field("roles", &self.roles)
            .field("scopes", &self.scopes)
            .field("authentication", &self.authentication)
            .field("session_id", &self.session_id)
            .field("attributes", &self.attributes.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.data.fmt(f)
    }
}

/// Builds a [`Principal`]; see [`Principal::user`].
#[derive(Clone, Debug)]
#[must_use]
pub struct PrincipalBuilder {
    inner: PrincipalData,
}

impl PrincipalBuilder {
    /// Sets the tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.inner.tenant = Some(tenant.into());
        self
    }

    /// Adds a role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.inner.roles.insert(role.into());
        self
    }

    /// Adds roles.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Adds a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.inner.scopes.insert(scope.into());
        self
    }

    /// Adds scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Records an authentication method (first factor first); duplicates are ignored.
    pub fn method(mut self, method: AuthMethod) -> Self {
        if !self.inner.authentication.methods.contains(&method) {
            self.inner.authentication.methods.push(method);
        }
        self
    }

    /// Records whether a second factor was verified.
    pub fn second_factor(mut self, verified: bool) -> Self {
        self.inner.authentication.second_factor = verified;
        self
    }

    /// Records when the principal last proved a factor.
    pub fn authenticated_at(mut self, at: SystemTime) -> Self {
        self.inner.authentication.at = Some(at);
        self
    }

    /// Sets the session id.
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.inner.session_id = Some(session_id.into());
        self
    }

    /// Sets a free attribute.
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.inner.attributes.insert(name.into(), value.into());
        self
    }

    /// Finishes the principal.
    pub fn build(self) -> Principal {
        Principal {
            data: Arc::new(self.inner),
        }
    }
}

/// The rejection of a required [`Principal`] extractor: no authenticated principal was found in
/// the request. Answers 401 with a problem document of type
/// `urn:mortar:problem:unauthenticated`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("the request is not authenticated")]
pub struct MissingPrincipal;

impl From<MissingPrincipal> for Problem {
    fn from(_: MissingPrincipal) -> Self {
        Problem::unauthorized()
            .with_type(format!("{}unauthenticated", crate::problem::TYPE_PREFIX))
            .with_title("Authentication is required.")
    }
}

impl Principal {
    /// The authenticated principal in `extensions`: `None` when there is none or it is the
    /// anonymous principal. The axum and actix extractors use this.
    pub fn from_extensions(extensions: &http::Extensions) -> Option<&Principal> {
        extensions.get::<Principal>().filter(|p| !p.is_anonymous())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn serde_round_trip() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let p = Principal::user("u1")
            .tenant("t1")
            .roles(["b", "a", "a"])
            .method(AuthMethod::OAuth("google".into()))
            .authenticated_at(at)
            .attribute("level", 3)
            .build();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["roles"], json!(["a", "b"]));
        assert_eq!(v["kind"], "user");
        assert_eq!(v["authentication"]["methods"], json!([{"oauth": "google"}]));
        assert_eq!(v["authentication"]["at"], "2023-11-14T22:13:20Z");
        let back: Principal = serde_json::from_value(v).unwrap();
        assert_eq!(back, p);

        let minimal: Principal =
            serde_json::from_value(json!({"subject": "s", "kind": "service_account"})).unwrap();
        assert_eq!(minimal.kind(), PrincipalKind::ServiceAccount);
        assert_eq!(minimal.roles().len(), 0);
    }

    #[test]
    fn anonymous_is_not_authenticated() {
        let mut ext = http::Extensions::new();
        assert!(Principal::from_extensions(&ext).is_none());
        ext.insert(Principal::anonymous());
        assert!(Principal::from_extensions(&ext).is_none());
        ext.insert(Principal::api_key("key-1").build());
        assert_eq!(Principal::from_extensions(&ext).unwrap().subject(), "key-1");
    }

    #[test]
    fn missing_principal_is_a_401_problem_with_a_challenge() {
        let p: Problem = MissingPrincipal.into();
        assert_eq!(p.status(), 401);
        assert_eq!(p.type_uri(), "urn:mortar:problem:unauthenticated");
        assert!(p.headers().contains_key(http::header::WWW_AUTHENTICATE));
    }

    #[test]
    fn debug_lists_attribute_names_only() {
        let p = Principal::user("u").attribute("ssn", "123-45-6789").build();
        let debug = format!("{p:?}");
        assert!(debug.contains("ssn") && !debug.contains("6789"));
    }

    #[test]
    fn to_builder_derives() {
        let p = Principal::user("u").role("a").build();
        let q = p.to_builder().role("b").build();
        assert!(q.has_role("a") && q.has_role("b") && !p.has_role("b"));
    }
}
