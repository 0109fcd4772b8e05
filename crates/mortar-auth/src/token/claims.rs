//! JWT claim validation (RFC 7519 §7.2, RFC 8725 §3.8–3.11) over a verified JWS.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::time::to_secs;

use super::jws::{JwsError, VerifiedJws, verify_jws};
use super::keys::KeyRing;

/// Why a token was refused. Clients see one "invalid token" answer; this is for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The JWS layer refused it.
    Jws(JwsError),
    /// The payload is not a JSON object of well-typed claims.
    MalformedClaims,
    /// `typ` is not the one required (tokens of one kind cannot pass as another).
    WrongType,
    /// `iss` is not ours.
    WrongIssuer,
    /// `aud` does not name us.
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` is still ahead (beyond the leeway).
    NotYetValid,
    /// `iat` lies in the future (beyond the leeway).
    IssuedInFuture,
    /// A required claim is missing.
    MissingClaim(&'static str),
    /// The token, its session or every token of its subject was revoked.
    Revoked,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jws(e) => write!(f, "{e}"),
            Self::MalformedClaims => f.write_str("malformed claims"),
            Self::WrongType => f.write_str("wrong token type"),
            Self::WrongIssuer => f.write_str("wrong issuer"),
            Self::WrongAudience => f.write_str("wrong audience"),
            Self::Expired => f.write_str("expired"),
            Self::NotYetValid => f.write_str("not yet valid"),
            Self::IssuedInFuture => f.write_str("issued in the future"),
            Self::MissingClaim(name) => write!(f, "missing claim {name}"),
            Self::Revoked => f.write_str("revoked"),
        }
    }
}

impl std::error::Error for TokenError {}

impl From<JwsError> for TokenError {
    fn from(e: JwsError) -> Self {
        Self::Jws(e)
    }
}

/// `aud`: one audience or several (RFC 7519 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` names `audience`.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(a) => a == audience,
            Self::Many(list) => list.iter().any(|a| a == audience),
        }
    }
}

/// The registered claims every Mortar token validation reads; others stay in the payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredClaims {
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiry, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// Not before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// What a token must satisfy besides its signature.
#[derive(Clone, Debug)]
#[must_use]
pub struct Validation {
    /// Required `typ` header (compared case-insensitively, with or without `application/`).
    pub typ: Option<String>,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Required member of `aud`.
    pub audience: Option<String>,
    /// Tolerated clock skew for `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Claims that must be present (`exp` always is).
    pub required: Vec<&'static str>,
}

impl Default for Validation {
    /// `exp` required, 30 seconds of leeway, nothing else.
    fn default() -> Self {
        Self {
            typ: None,
            issuer: None,
            audience: None,
            leeway: Duration::from_secs(30),
            required: vec!["exp"],
        }
    }
}

/// Verifies the signature, then the claims, at `now`. Returns the verified JWS and its claims.
///
/// # Errors
///
/// The first [`TokenError`] found.
pub fn validate(
    ring: &KeyRing,
    token: &str,
    rules: &Validation,
    now: SystemTime,
) -> Result<
    (
        VerifiedJws,
        RegisteredClaims,
        serde_json::Map<String, Value>,
    ),
    TokenError,
> {
    let jws = verify_jws(ring, token)?;
    if let Some(typ) = &rules.typ {
        let found = jws.header.get("typ").and_then(Value::as_str).unwrap_or("");
        let found = found
            .strip_prefix("application/")
            .or_else(|| found.strip_prefix("Application/"))
            .unwrap_or(found);
        if !found.eq_ignore_ascii_case(typ) {
            return Err(TokenError::WrongType);
        }
    }
    let payload: Value =
        serde_json::from_slice(&jws.payload).map_err(|_| TokenError::MalformedClaims)?;
    // Read the registered claims through a reference: the payload is parsed once, never copied.
    let claims =
        RegisteredClaims::deserialize(&payload).map_err(|_| TokenError::MalformedClaims)?;
    let Value::Object(payload) = payload else {
        return Err(TokenError::MalformedClaims);
    };
    for name in &rules.required {
        let present = match *name {
            "iss" => claims.iss.is_some(),
            "sub" => claims.sub.is_some(),
            "aud" => claims.aud.is_some(),
            "exp" => claims.exp.is_some(),
            "nbf" => claims.nbf.is_some(),
            "iat" => claims.iat.is_some(),
            "jti" => claims.jti.is_some(),
            other => payload.contains_key(other),
        };
        if !present {
            return Err(TokenError::MissingClaim(name));
        }
    }
    let (now, leeway) = (to_secs(now), rules.leeway.as_secs());
    match claims.exp {
        Some(exp) if exp.saturating_add(leeway) <= now => return Err(TokenError::Expired),
        None => return Err(TokenError::MissingClaim("exp")),
        Some(_) => {}
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(leeway))
    {
        return Err(TokenError::NotYetValid);
    }
    if claims
        .iat
        .is_some_and(|iat| iat > now.saturating_add(leeway))
    {
        return Err(TokenError::IssuedInFuture);
    }
    if let Some(issuer) = &rules.issuer
        && claims.iss.as_deref() != Some(issuer.as_str())
    {
        return Err(TokenError::WrongIssuer);
    }
    if let Some(audience) = &rules.audience
        && !claims
            .aud
            .as_ref()
            .is_some_and(|aud| aud.contains(audience))
    {
        return Err(TokenError::WrongAudience);
    }
    Ok((jws, claims, payload))
}
