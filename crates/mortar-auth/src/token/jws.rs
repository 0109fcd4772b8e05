//! Strict verification of compact JWS (RFC 7515), the layer under access-token validation.
//!
//! RFC 8725's rules, applied before any claim is read:
//! - exactly three base64url parts (no padding, no stray characters, canonical trailing bits);
//!   JSON serialization and JWE are refused;
//! - the header is a JSON object without duplicate members, with a string `alg`; `none` in any
//!   spelling is refused; `crit` (extensions we do not implement) and `b64: false` are refused;
//! - the key is found only by `kid` in our own ring — `jwk`, `jku`, `x5u` and `x5c` in the header
//!   are never used — and its one algorithm must equal the header's `alg` exactly, so an HMAC
//!   header cannot be checked with a public key's bytes;
//! - the signature is checked over the exact bytes received.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::keys::{KeyRing, VerifyingKey};

/// Why a JWS was refused (for logs and metrics; clients only ever see "invalid token").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three well-formed base64url parts, or the header is not a JSON object.
    Malformed,
    /// A header member appears twice.
    DuplicateHeaderMember,
    /// `alg` is `none`.
    AlgNone,
    /// The header asks for extensions (`crit`, `b64`) we do not implement.
    UnsupportedHeader,
    /// No key in the ring has this `kid` (or there is no `kid` and the ring has several keys).
    UnknownKey,
    /// The header's `alg` is not the one the key is bound to.
    AlgorithmMismatch,
    /// The signature does not verify.
    BadSignature,
}

impl fmt::Display for JwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed token",
            Self::DuplicateHeaderMember => "duplicate header member",
            Self::AlgNone => "algorithm none",
            Self::UnsupportedHeader => "unsupported header extension",
            Self::UnknownKey => "unknown key",
            Self::AlgorithmMismatch => "algorithm does not match the key",
            Self::BadSignature => "bad signature",
        })
    }
}

impl std::error::Error for JwsError {}

/// A verified JWS: its header members, the key that verified it, and the payload bytes.
#[derive(Clone, Debug)]
pub struct VerifiedJws {
    /// Header members.
    pub header: BTreeMap<String, Value>,
    /// The `kid` of the verifying key.
    pub kid: Option<String>,
    /// The payload.
    pub payload: Vec<u8>,
}

/// A JSON object that refuses duplicate member names (`serde_json` keeps the last silently).
struct StrictObject(BTreeMap<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictObject, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if out.insert(k, v).is_some() {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                }
                Ok(StrictObject(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

fn b64(part: &str) -> Result<Vec<u8>, JwsError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwsError::Malformed)
}

/// Verifies a compact JWS against the ring.
///
/// # Errors
///
/// A [`JwsError`] naming the first rule the token broke.
pub fn verify_jws(ring: &KeyRing, token: &str) -> Result<VerifiedJws, JwsError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    if header_b64.is_empty() {
        return Err(JwsError::Malformed);
    }
    let header_bytes = b64(header_b64)?;
    let header = match serde_json::from_slice::<StrictObject>(&header_bytes) {
        Ok(StrictObject(header)) => header,
        Err(e) if e.to_string().contains("duplicate member") => {
            return Err(JwsError::DuplicateHeaderMember);
        }
        Err(_) => return Err(JwsError::Malformed),
    };
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JwsError::Malformed)?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(JwsError::AlgNone);
    }
    // Checked after `alg`, so an unsecured JWS (`none`, empty signature) is named as such.
    let payload = b64(payload_b64)?;
    if signature_b64.is_empty() || b64(signature_b64)?.is_empty() {
        return Err(JwsError::Malformed);
    }
    if header.contains_key("crit") || header.get("b64").is_some_and(|v| v != &Value::Bool(true)) {
        return Err(JwsError::UnsupportedHeader);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(JwsError::Malformed),
    };
    let key: &VerifyingKey = ring.find(kid).ok_or(JwsError::UnknownKey)?;
    if key.alg != alg {
        return Err(JwsError::AlgorithmMismatch);
    }
    let message_len = header_b64.len() + 1 + payload_b64.len();
    if !key.verify(&token.as_bytes()[..message_len], signature_b64) {
        return Err(JwsError::BadSignature);
    }
    Ok(VerifiedJws {
        kid: kid.map(str::to_owned),
        header,
        payload,
    })
}
