//! [`Authenticator`]: one way of recognising a caller from a request's head.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use http::header::AUTHORIZATION;
use http::request::Parts;
use mortar_core::Principal;

use crate::api_key::ApiKeys;
use crate::error::Error;
use crate::token::AccessTokens;

/// A boxed authentication future.
pub type AuthFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Principal>, Error>> + Send + 'a>>;

/// Recognises a caller from the request head.
///
/// Answers `Ok(None)` when the request carries no credential of this kind (the next
/// authenticator in the chain is asked), `Ok(Some(principal))` when it carries a valid one, and
/// an error when it carries one that is not valid (the request is refused; a bad credential is
/// never silently ignored).
pub trait Authenticator: Send + Sync + fmt::Debug + 'static {
    /// Authenticates the request head.
    fn authenticate<'a>(&'a self, parts: &'a Parts) -> AuthFuture<'a>;

    /// Authenticates the request head without waiting, when this authenticator can (what it
    /// needs is in memory); `None` when it needs [`authenticate`](Self::authenticate). An answer
    /// must be the one `authenticate` would give. The default: `None`.
    ///
    /// [`AuthLayer`](super::AuthLayer) asks it first: a request the whole chain answers this way
    /// is passed on without a boxed future or a clone of the inner service.
    fn authenticate_now(&self, parts: &Parts) -> Option<Result<Option<Principal>, Error>> {
        let _ = parts;
        None
    }
}

/// A header's value as trimmed text, if present and visible ASCII.
pub(crate) fn header<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The token of `Authorization: Bearer <token>`, if any (scheme case-insensitive, RFC 6750).
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    bearer_bytes(parts).and_then(as_text)
}

/// A bearer token's bytes as text: ASCII only, as `HeaderValue::to_str` would have it.
fn as_text(token: &[u8]) -> Option<&str> {
    // A header value holds no control character but tab (`http` checks that when it is made);
    // `HeaderValue::to_str` refuses bytes over 0x7f as well, which `is_ascii` checks a word at
    // a time (over some 300 bytes). Outside the token there are only the scheme and spaces,
    // which `bearer_bytes` matched as ASCII.
    if !token.is_ascii() {
        return None;
    }
    // ASCII is valid UTF-8 (checked again, word by word, rather than with `unsafe`).
    std::str::from_utf8(token).ok()
}

/// [`bearer`]'s token as the bytes sent, not yet checked to be text.
fn bearer_bytes(parts: &Parts) -> Option<&[u8]> {
    let value = trim_ows(parts.headers.get(AUTHORIZATION)?.as_bytes());
    let space = memchr::memchr(b' ', value)?;
    let token = trim_ows(&value[space + 1..]);
    if !value[..space].eq_ignore_ascii_case(b"bearer") || token.is_empty() {
        return None;
    }
    Some(token)
}

/// `bytes` without leading and trailing spaces and tabs (the only whitespace a header value can
/// hold).
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// Whether a bearer token has a compact JWS's two dots (counted with memchr's vectorized
/// search: this runs on every request, over a token of some 300 bytes).
fn is_jwt_shaped(token: &str) -> bool {
    memchr::memchr_iter(b'.', token.as_bytes()).count() == 2
}

/// Bearer JWT access tokens: `Authorization: Bearer <jwt>` (a value with two dots).
impl Authenticator for AccessTokens {
    fn authenticate<'a>(&'a self, parts: &'a Parts) -> AuthFuture<'a> {
        Box::pin(async move {
            match bearer(parts) {
                Some(token) if is_jwt_shaped(token) => self.verify(token).await.map(Some),
                _ => Ok(None),
            }
        })
    }

    fn authenticate_now(&self, parts: &Parts) -> Option<Result<Option<Principal>, Error>> {
        let Some(raw) = bearer_bytes(parts) else {
            return Some(Ok(None));
        };
        // A token verified before is found by its bytes: the very token checked as text then
        // (see `AccessTokens::cached`). Any other is checked as text first.
        let verified = match self.cached(raw) {
            Some(verified) => verified,
            None => match as_text(raw) {
                Some(token) if is_jwt_shaped(token) => self.verify_uncached(token),
                _ => return Some(Ok(None)),
            },
        };
        self.settle_now(verified).map(|r| r.map(Some))
    }
}

/// API keys: `X-API-Key: <key>`, or `Authorization: Bearer <key>` when it has the key prefix.
impl Authenticator for ApiKeys {
    fn authenticate<'a>(&'a self, parts: &'a Parts) -> AuthFuture<'a> {
        Box::pin(async move {
            let from_header = header(&parts.headers, "x-api-key");
            let from_bearer = bearer(parts).filter(|t| self.is_key_shaped(t));
            match from_header.or(from_bearer) {
                Some(key) => self.verify(key).await.map(Some),
                None => Ok(None),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parsing `bearer` replaced: `HeaderValue::to_str`, then `str` trimming.
    fn by_str(value: &http::HeaderValue) -> Option<&str> {
        let value = value.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }

    #[test]
    fn bearer_reads_the_header_as_to_str_and_trim_did() {
        let long = format!("Bearer {}", "a.b-c_d".repeat(60));
        let values: Vec<&[u8]> = vec![
            b"Bearer abc.def.ghi",
            b"bearer abc",
            b"BEARER    abc  ",
            b"  Bearer\tabc",
            b"Bearer \tabc\t ",
            b"Bearer",
            b"Bearer ",
            b"Bearer    ",
            b"Basic abc",
            b"Bearerabc",
            b"Bearer abc def",
            b"Bearer ab\x7fc",
            b"Bearer ab\x80c",
            b"Bearer ab\xc3\xa9c",
            b"\tBearer abc",
            b"",
            long.as_bytes(),
        ];
        for bytes in values {
            let Ok(value) = http::HeaderValue::from_bytes(bytes) else {
                continue;
            };
            let mut parts = http::Request::new(()).into_parts().0;
            parts.headers.insert(AUTHORIZATION, value.clone());
            assert_eq!(bearer(&parts), by_str(&value), "{value:?}");
        }
        let parts = http::Request::new(()).into_parts().0;
        assert_eq!(bearer(&parts), None, "no header");
    }
}
