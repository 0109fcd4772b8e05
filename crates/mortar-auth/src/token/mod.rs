//! Signed tokens: keys, key rings, JWKS and strict JWS verification (RFC 7515, RFC 8725).
//!
//! Only access tokens are JWTs. Refresh tokens, reset links and verification codes are opaque
//! random values kept (hashed) in their own stores with a purpose each, so no token of one kind
//! can ever be presented as another.

mod access;
mod claims;
mod jws;
mod keys;
#[cfg(feature = "redis")]
mod redis;

pub use access::{
    ACCESS_TOKEN_TYPE, AccessTokens, AccessTokensBuilder, IssuedToken, MemoryRevocations,
    Revocations,
};
pub use claims::{Audience, RegisteredClaims, TokenError, Validation, validate};
pub use jws::{JwsError, VerifiedJws, verify_jws};
pub use keys::{KeyRing, SigningKey, VerifyingKey};
#[cfg(feature = "redis")]
pub use redis::RedisRevocations;

#[cfg(test)]
mod tests;
