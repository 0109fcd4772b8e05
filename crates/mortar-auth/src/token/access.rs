//! Access tokens: short-lived JWTs (RFC 9068 `at+jwt`) issued for a [`Principal`] and verified
//! back into one.
//!
//! ```
//! use std::time::Duration;
//! use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
//! use mortar_core::{AuthMethod, Principal};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_auth::Error> {
//! let ring = KeyRing::new(SigningKey::generate_ed25519("2025-11")?);
//! let tokens = AccessTokens::builder(ring, "https://auth.example.com", "https://api.example.com")
//!     .ttl(Duration::from_mins(15))
//!     .build();
//! let principal = Principal::user("user-1").tenant("acme").role("admin")
//!     .method(AuthMethod::Password).session_id("sess-1").build();
//! let issued = tokens.issue(&principal)?;
//! let back = tokens.verify(issued.token()).await?;
//! assert_eq!(back.subject(), "user-1");
//! assert_eq!(back.tenant(), Some("acme"));
//! assert!(back.has_role("admin"));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use mortar_core::{AuthMethod, Principal, SharedClock, SystemClock};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::time::{from_secs, to_secs};

use super::claims::{Audience, TokenError, Validation, validate};
use super::keys::KeyRing;
use crate::error::Error;

/// The `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The claims of a Mortar access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct AccessClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    iat: u64,
    jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
    /// Space-separated, as in OAuth (RFC 9068 §2.2.3).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

/// An issued token: shown to the client once.
pub struct IssuedToken {
    token: SecretString,
    jti: String,
    expires_at: SystemTime,
}

impl IssuedToken {
    /// The compact JWT.
    pub fn token(&self) -> &str {
        self.token.expose_secret()
    }

    /// Its id (`jti`), for revocation.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// When it expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What revokes access tokens before they expire: a `jti` denylist, whole sessions, and a
/// per-subject cut-off ("tokens issued before T are invalid"). Checked on every verification,
/// cached or not, so it must answer from memory or one round trip.
#[async_trait]
pub trait Revocations: Send + Sync + fmt::Debug + 'static {
    /// Whether a token with these claims was revoked.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the backend cannot answer (verification then fails closed).
    async fn is_revoked(
        &self,
        jti: &str,
        subject: &str,
        session: Option<&str>,
        issued_at: SystemTime,
    ) -> Result<bool, Error>;

    /// Whether a token with these claims was revoked, answered without waiting when the store
    /// can (it holds the revocations in memory); `None` when the answer needs
    /// [`is_revoked`](Self::is_revoked) (a round trip). The default: `None`.
    ///
    /// [`AuthLayer`](crate::layer::AuthLayer) uses it to authenticate a request without boxing
    /// a future; an implementation answering `Some` must answer what `is_revoked` would.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the backend cannot answer (verification then fails closed).
    fn is_revoked_now(
        &self,
        jti: &str,
        subject: &str,
        session: Option<&str>,
        issued_at: SystemTime,
    ) -> Option<Result<bool, Error>> {
        let _ = (jti, subject, session, issued_at);
        None
    }

    /// Revokes one token until it would have expired anyway.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the backend fails.
    async fn revoke_token(&self, jti: &str, expires_at: SystemTime) -> Result<(), Error>;

    /// Revokes every token of a session.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the backend fails.
    async fn revoke_session(&self, session: &str, until: SystemTime) -> Result<(), Error>;

    /// Revokes every token of `subject` issued before `before`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the backend fails.
    async fn revoke_subject_before(&self, subject: &str, before: SystemTime) -> Result<(), Error>;
}

/// [`Revocations`] in the process: for one instance (a shared backend is needed beyond it).
#[derive(Debug, Default)]
pub struct MemoryRevocations {
    tokens: Mutex<HashMap<String, SystemTime>>,
    sessions: Mutex<HashMap<String, SystemTime>>,
    cutoffs: Mutex<HashMap<String, SystemTime>>,
}

impl MemoryRevocations {
    /// Nothing revoked.
    pub fn new() -> Self {
        Self::default()
    }

    fn revoked(
        &self,
        jti: &str,
        subject: &str,
        session: Option<&str>,
        issued_at: SystemTime,
    ) -> bool {
        if lock(&self.tokens).contains_key(jti) {
            return true;
        }
        if let Some(session) = session
            && lock(&self.sessions).contains_key(session)
        {
            return true;
        }
        lock(&self.cutoffs)
            .get(subject)
            .is_some_and(|cutoff| issued_at < *cutoff)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl Revocations for MemoryRevocations {
    async fn is_revoked(
        &self,
        jti: &str,
        subject: &str,
        session: Option<&str>,
        issued_at: SystemTime,
    ) -> Result<bool, Error> {
        Ok(self.revoked(jti, subject, session, issued_at))
    }

    fn is_revoked_now(
        &self,
        jti: &str,
        subject: &str,
        session: Option<&str>,
        issued_at: SystemTime,
    ) -> Option<Result<bool, Error>> {
        Some(Ok(self.revoked(jti, subject, session, issued_at)))
    }

    async fn revoke_token(&self, jti: &str, expires_at: SystemTime) -> Result<(), Error> {
        let mut tokens = lock(&self.tokens);
        let now = SystemTime::now();
        tokens.retain(|_, exp| *exp > now);
        tokens.insert(jti.to_owned(), expires_at);
        Ok(())
    }

    async fn revoke_session(&self, session: &str, until: SystemTime) -> Result<(), Error> {
        let mut sessions = lock(&self.sessions);
        let now = SystemTime::now();
        sessions.retain(|_, exp| *exp > now);
        sessions.insert(session.to_owned(), until);
        Ok(())
    }

    async fn revoke_subject_before(&self, subject: &str, before: SystemTime) -> Result<(), Error> {
        lock(&self.cutoffs).insert(subject.to_owned(), before);
        Ok(())
    }
}

/// A new token id: a version-7 UUID (32 hex digits) whose timestamp is the issue time to the millisecond
/// and whose other 74 bits are random. `iat` counts whole seconds, so without it a "sign out
/// everywhere" cutoff could not tell a token issued just before it from one issued just after in
/// the same second: the user who resets a password and logs straight in would be refused.
fn new_jti(issued: SystemTime) -> String {
    let since = issued.duration_since(UNIX_EPOCH).unwrap_or_default();
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, since.as_secs(), since.subsec_nanos());
    uuid::Uuid::new_v7(ts).simple().to_string()
}

/// When the token was issued: to the millisecond from a version-7 UUID `jti` that agrees with `iat`
/// (ours), else `iat`'s whole second.
fn issued_at(claims: &AccessClaims) -> SystemTime {
    let whole = from_secs(claims.iat);
    uuid::Uuid::try_parse(&claims.jti)
        .ok()
        .filter(|id| id.get_version_num() == 7)
        .and_then(|id| id.get_timestamp())
        .map(|ts| {
            let (secs, nanos) = ts.to_unix();
            UNIX_EPOCH + Duration::new(secs, nanos)
        })
        .filter(|precise| {
            precise
                .duration_since(whole)
                .is_ok_and(|d| d < Duration::from_secs(1))
        })
        .unwrap_or(whole)
}

/// A verified token kept for its next presentation: the principal and what revocation needs.
#[derive(Clone)]
pub(crate) struct Cached {
    principal: Principal,
    jti: Arc<str>,
    issued_at: SystemTime,
    expires_at: SystemTime,
}

/// A bounded map of verified tokens, so a client reusing its token pays for the signature once.
/// Expiry and revocation are checked on every hit.
///
/// Keyed by SHA-256 of the token's signature segment (two blocks, where the whole token takes
/// some seven), the entry holding the signed part (`header.payload`) that a hit must equal: a hit
/// is the very token verified before (the same signature, by collision resistance, and the same
/// signed bytes). The signature, what makes the token a credential, is kept only as its digest;
/// the signed part is what any holder of the token reads in plain base64url.
struct VerifiedCache {
    entries: Mutex<HashMap<[u8; 32], Entry, DigestHash>>,
    capacity: usize,
}

/// A cached verification: the token's signed part (`header.payload`) and what it verified to.
type Entry = (Box<str>, Cached);

/// The map's hasher: foldhash, seeded per process, over the 32-byte digests (cheaper than the
/// standard library's default; seeded, so which digests share a bucket cannot be worked out
/// offline).
type DigestHash = foldhash::fast::RandomState;

impl VerifiedCache {
    /// The verification of the token whose signature digest is `key` and signed part `signed`.
    fn get(&self, key: &[u8; 32], signed: &[u8]) -> Option<Cached> {
        if self.capacity == 0 {
            return None;
        }
        lock(&self.entries)
            .get(key)
            .filter(|(known, _)| known.as_bytes() == signed)
            .map(|(_, cached)| cached.clone())
    }

    fn insert(&self, key: [u8; 32], signed: &str, value: Cached, now: SystemTime) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = lock(&self.entries);
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, c)| c.expires_at > now);
        }
        if entries.len() >= self.capacity {
            // Still full of live tokens: drop an arbitrary tenth rather than grow.
            let drop: Vec<[u8; 32]> = entries
                .keys()
                .take(self.capacity / 10 + 1)
                .copied()
                .collect();
            for k in drop {
                entries.remove(&k);
            }
        }
        entries.insert(key, (Box::from(signed), value));
    }
}

struct Inner {
    ring: KeyRing,
    issuer: String,
    audience: String,
    ttl: Duration,
    rules: Validation,
    clock: SharedClock,
    revocations: Arc<dyn Revocations>,
    cache: VerifiedCache,
}

/// Issues and verifies access tokens; cheap to clone.
#[derive(Clone)]
pub struct AccessTokens {
    inner: Arc<Inner>,
}

impl fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokens")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("ttl", &self.inner.ttl)
            .field("ring", &self.inner.ring)
            .finish_non_exhaustive()
    }
}

/// Builds [`AccessTokens`]; see [`AccessTokens::builder`].
#[must_use]
pub struct AccessTokensBuilder {
    ring: KeyRing,
    issuer: String,
    audience: String,
    ttl: Duration,
    leeway: Duration,
    clock: SharedClock,
    revocations: Arc<dyn Revocations>,
    cache_capacity: usize,
}

impl fmt::Debug for AccessTokensBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokensBuilder")
            .finish_non_exhaustive()
    }
}

impl AccessTokensBuilder {
    /// Token lifetime (default 15 minutes; refresh tokens carry sessions beyond it).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Tolerated clock skew between issuer and verifier (default 30 seconds).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The clock (a `ManualClock` in tests).
    pub fn clock(mut self, clock: impl mortar_core::Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Where revocations are kept (default: [`MemoryRevocations`]).
    pub fn revocations(mut self, revocations: Arc<dyn Revocations>) -> Self {
        self.revocations = revocations;
        self
    }

    /// How many verified tokens to remember (default 10 000; 0 turns the cache off).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Finishes.
    pub fn build(self) -> AccessTokens {
        let rules = Validation {
            typ: Some(ACCESS_TOKEN_TYPE.to_owned()),
            issuer: Some(self.issuer.clone()),
            audience: Some(self.audience.clone()),
            leeway: self.leeway,
            required: vec!["iss", "sub", "aud", "exp", "iat", "jti"],
        };
        AccessTokens {
            inner: Arc::new(Inner {
                ring: self.ring,
                issuer: self.issuer,
                audience: self.audience,
                ttl: self.ttl,
                rules,
                clock: self.clock,
                revocations: self.revocations,
                cache: VerifiedCache {
                    entries: Mutex::new(HashMap::with_hasher(DigestHash::default())),
                    capacity: self.cache_capacity,
                },
            }),
        }
    }
}

impl AccessTokens {
    /// Starts building: tokens signed by `ring`'s signing key, naming `issuer` and `audience`.
    pub fn builder(
        ring: KeyRing,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> AccessTokensBuilder {
        AccessTokensBuilder {
            ring,
            issuer: issuer.into(),
            audience: audience.into(),
            ttl: Duration::from_mins(15),
            leeway: Duration::from_secs(30),
            clock: SystemClock::shared(),
            revocations: Arc::new(MemoryRevocations::new()),
            cache_capacity: 10_000,
        }
    }

    /// The key ring (for the JWKS endpoint).
    pub fn ring(&self) -> &KeyRing {
        &self.inner.ring
    }

    /// The revocations.
    pub fn revocations(&self) -> &Arc<dyn Revocations> {
        &self.inner.revocations
    }

    /// Issues a token for `principal`, valid from now for the configured lifetime.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the ring has no signing key; [`Error::Internal`] when signing fails.
    pub fn issue(&self, principal: &Principal) -> Result<IssuedToken, Error> {
        let issued = self.inner.clock.now();
        let now = to_secs(issued);
        let exp = now + self.inner.ttl.as_secs().max(1);
        let jti = new_jti(issued);
        let auth = principal.authentication();
        let mut amr: Vec<String> = auth.amr().into_iter().map(str::to_owned).collect();
        amr.dedup();
        let claims = AccessClaims {
            iss: self.inner.issuer.clone(),
            sub: principal.subject().to_owned(),
            aud: Audience::One(self.inner.audience.clone()),
            exp,
            nbf: Some(now),
            iat: now,
            jti: jti.clone(),
            tenant: principal.tenant().map(str::to_owned),
            roles: principal.roles().map(str::to_owned).collect(),
            scope: principal.scopes().collect::<Vec<_>>().join(" "),
            sid: principal.session_id().map(str::to_owned),
            amr,
            kind: match principal.kind() {
                mortar_core::PrincipalKind::User => None,
                other => Some(format!("{other:?}").to_lowercase()),
            },
        };
        let payload = serde_json::to_vec(&claims).map_err(Error::internal)?;
        let token = self.inner.ring.sign(ACCESS_TOKEN_TYPE, &payload)?;
        Ok(IssuedToken {
            token: SecretString::from(token),
            jti,
            expires_at: from_secs(exp),
        })
    }

    /// Verifies a token and returns its principal: signature, `typ`, `iss`, `aud`, `exp`, `nbf`,
    /// `iat`, `jti`, then revocation. A token seen before is answered from the cache after the
    /// expiry and revocation checks.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidToken`] naming the reason (the client sees one answer);
    /// [`Error::Store`] when revocations cannot be read (fail closed).
    pub async fn verify(&self, token: &str) -> Result<Principal, Error> {
        let verified = self.verified(token)?;
        let revoked = self
            .inner
            .revocations
            .is_revoked(
                &verified.jti,
                verified.principal.subject(),
                verified.principal.session_id(),
                verified.issued_at,
            )
            .await?;
        verified.unless(revoked)
    }

    /// [`verify`](Self::verify) without waiting, when the revocation store answers from memory
    /// ([`Revocations::is_revoked_now`]); `None` when it needs a round trip (call `verify`).
    /// With [`MemoryRevocations`], the default, it always answers.
    ///
    /// ```
    /// use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
    /// use mortar_core::{AuthMethod, Principal};
    ///
    /// let tokens = AccessTokens::builder(
    ///     KeyRing::new(SigningKey::generate_ed25519("k1").unwrap()),
    ///     "https://auth.example.com",
    ///     "https://api.example.com",
    /// )
    /// .build();
    /// let issued = tokens.issue(&Principal::user("user-1").method(AuthMethod::Password).build()).unwrap();
    /// let principal = tokens.verify_now(issued.token()).expect("answered from memory").unwrap();
    /// assert_eq!(principal.subject(), "user-1");
    /// ```
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    pub fn verify_now(&self, token: &str) -> Option<Result<Principal, Error>> {
        self.settle_now(self.verified(token))
    }

    /// A verification settled against the revocation store without waiting; `None` when the
    /// store needs a round trip.
    pub(crate) fn settle_now(
        &self,
        verified: Result<Cached, Error>,
    ) -> Option<Result<Principal, Error>> {
        let verified = match verified {
            Ok(verified) => verified,
            Err(error) => return Some(Err(error)),
        };
        let revoked = self.inner.revocations.is_revoked_now(
            &verified.jti,
            verified.principal.subject(),
            verified.principal.session_id(),
            verified.issued_at,
        )?;
        Some(revoked.and_then(|revoked| verified.unless(revoked)))
    }

    /// The cache's verification of `token`, as the client sent it (bytes, unchecked); `None`
    /// when the cache does not hold it. A hit is the very token verified before — its signed
    /// part equal, its signature's SHA-256 equal — so it is the ASCII text with two dots that
    /// was checked then, and the layer need not check the text again (this runs on every
    /// request). Its expiry is checked again.
    pub(crate) fn cached(&self, token: &[u8]) -> Option<Result<Cached, Error>> {
        let dot = memchr::memrchr(b'.', token)?;
        let (signed, signature) = (&token[..dot], &token[dot + 1..]);
        let key: [u8; 32] = sha2::Sha256::digest(signature).into();
        let hit = self.inner.cache.get(&key, signed)?;
        if hit.expires_at + self.inner.rules.leeway <= self.inner.clock.now() {
            return Some(Err(Error::InvalidToken(TokenError::Expired)));
        }
        Some(Ok(hit))
    }

    /// Everything [`verify`](Self::verify) checks but revocation: from the cache when the token
    /// was seen before (its expiry checked again), else validated and cached.
    fn verified(&self, token: &str) -> Result<Cached, Error> {
        match self.cached(token.as_bytes()) {
            Some(answer) => answer,
            None => self.verify_uncached(token),
        }
    }

    /// [`Self::verified`] of a token the cache does not hold: validated, then cached.
    pub(crate) fn verify_uncached(&self, token: &str) -> Result<Cached, Error> {
        let now = self.inner.clock.now();
        let (_, _, payload) = validate(&self.inner.ring, token, &self.inner.rules, now)
            .map_err(Error::InvalidToken)?;
        // Valid: a compact JWS, so it has its dots.
        let (signed, signature) = token.rsplit_once('.').unwrap_or(("", token));
        let key: [u8; 32] = sha2::Sha256::digest(signature.as_bytes()).into();
        let claims: AccessClaims = serde_json::from_value(serde_json::Value::Object(payload))
            .map_err(|_| Error::InvalidToken(TokenError::MalformedClaims))?;
        let kind = match claims.kind.as_deref() {
            None => mortar_core::PrincipalKind::User,
            Some("service_account") => mortar_core::PrincipalKind::ServiceAccount,
            Some("api_key") => mortar_core::PrincipalKind::ApiKey,
            Some(_) => return Err(Error::InvalidToken(TokenError::MalformedClaims)),
        };
        let mut builder = Principal::builder(kind, claims.sub.clone())
            .roles(claims.roles.iter().cloned())
            .scopes(claims.scope.split_whitespace())
            .authenticated_at(from_secs(claims.iat));
        for amr in claims.amr.iter().filter(|a| *a != "mfa") {
            builder = builder.method(AuthMethod::from_amr(amr));
        }
        builder = builder.second_factor(claims.amr.iter().any(|a| a == "mfa"));
        if let Some(tenant) = &claims.tenant {
            builder = builder.tenant(tenant.clone());
        }
        if let Some(sid) = &claims.sid {
            builder = builder.session_id(sid.clone());
        }
        let verified = Cached {
            principal: builder.build(),
            jti: Arc::from(claims.jti.as_str()),
            issued_at: issued_at(&claims),
            expires_at: from_secs(claims.exp),
        };
        self.inner.cache.insert(key, signed, verified.clone(), now);
        Ok(verified)
    }
}

impl Cached {
    /// Its principal, unless the token was revoked.
    fn unless(self, revoked: bool) -> Result<Principal, Error> {
        if revoked {
            return Err(Error::InvalidToken(TokenError::Revoked));
        }
        Ok(self.principal)
    }
}
