//! [`AttemptLimiter`]: brute-force protection for logins, one-time codes and resets.
//!
//! The auth crate asks an `AttemptLimiter` before checking a credential, records each failure
//! and resets the count on success; keys name both the account and the client, so an attacker is
//! slowed per target and per source. mortar-ratelimit implements it in memory and on Redis with
//! exponential back-off; mortar-auth ships a simple in-memory one. [`NoAttemptLimit`] turns the
//! protection off, and must be chosen by name.
//!
//! An implementation answers identically while a key is locked, whether or not the credential
//! would have been right, so a lockout reveals nothing.
//!
//! ```
//! use mortar_core::{AttemptKey, AttemptLimiter, AttemptStatus, NoAttemptLimit};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_core::AttemptError> {
//! let limiter = NoAttemptLimit;
//! let key = AttemptKey::account("alice@example.com");
//! assert!(limiter.check(&key).await?.is_allowed());
//! limiter.record_failure(&key).await?;
//! limiter.reset(&key).await?;
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use http::StatusCode;

use crate::problem::Problem;

/// What is being limited: a scope (`account`, `client`, or the application's own) and a value.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptKey {
    scope: Cow<'static, str>,
    value: String,
}

impl AttemptKey {
    /// A key in an arbitrary scope (`otp`, `reset`…).
    pub fn new(scope: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        Self {
            scope: scope.into(),
            value: value.into(),
        }
    }

    /// Failures against one account (normalized login name or user id).
    pub fn account(account: impl Into<String>) -> Self {
        Self::new("account", account)
    }

    /// Failures from one client address.
    pub fn client(ip: IpAddr) -> Self {
        Self::new("client", ip.to_string())
    }

    /// The scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for AttemptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttemptKey({}:{})", self.scope, self.value)
    }
}

impl fmt::Display for AttemptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scope, self.value)
    }
}

/// The limiter's answer for a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptStatus {
    /// Attempts may go on; `remaining` failures before a lock, when the limiter knows.
    Allowed {
        /// Failures left before the key is locked.
        remaining: Option<u32>,
    },
    /// The key is locked; try again after this long.
    Locked {
        /// How long until the next attempt is accepted.
        retry_after: Duration,
    },
}

impl AttemptStatus {
    /// Whether an attempt may go on.
    pub fn is_allowed(self) -> bool {
        matches!(self, Self::Allowed { .. })
    }

    /// How long to wait, when locked.
    pub fn retry_after(self) -> Option<Duration> {
        match self {
            Self::Locked { retry_after } => Some(retry_after),
            Self::Allowed { .. } => None,
        }
    }
}

/// The limiter's backend could not answer (e.g. Redis is unreachable). Callers of a login
/// limiter treat this as "locked" (fail closed) unless configured otherwise.
#[derive(Debug, thiserror::Error)]
#[error("the attempt limiter is unavailable")]
pub struct AttemptError {
    #[source]
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl AttemptError {
    /// Wraps the backend's error.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self {
            source: source.into(),
        }
    }
}

impl From<AttemptError> for Problem {
    fn from(err: AttemptError) -> Self {
        Problem::mortar(
            StatusCode::SERVICE_UNAVAILABLE,
            "attempt-limiter-unavailable",
            "The service is temporarily unavailable.",
        )
        .with_source(err)
    }
}

/// Counts failed attempts per key and locks keys that fail too often.
///
/// Implementations must be safe under concurrency (two failures recorded at once both count) and
/// must not let a locked key's answer depend on whether the credential was right.
#[async_trait]
pub trait AttemptLimiter: Send + Sync + fmt::Debug + 'static {
    /// Whether an attempt for `key` may go on now. Does not count anything.
    ///
    /// # Errors
    ///
    /// [`AttemptError`] when the backend cannot answer.
    async fn check(&self, key: &AttemptKey) -> Result<AttemptStatus, AttemptError>;

    /// Records a failed attempt and answers the status after it.
    ///
    /// # Errors
    ///
    /// [`AttemptError`] when the backend cannot record it.
    async fn record_failure(&self, key: &AttemptKey) -> Result<AttemptStatus, AttemptError>;

    /// Forgets the failures of `key` (after a success).
    ///
    /// # Errors
    ///
    /// [`AttemptError`] when the backend cannot reset it.
    async fn reset(&self, key: &AttemptKey) -> Result<(), AttemptError>;
}

#[async_trait]
impl<L: AttemptLimiter + ?Sized> AttemptLimiter for std::sync::Arc<L> {
    async fn check(&self, key: &AttemptKey) -> Result<AttemptStatus, AttemptError> {
        (**self).check(key).await
    }

    async fn record_failure(&self, key: &AttemptKey) -> Result<AttemptStatus, AttemptError> {
        (**self).record_failure(key).await
    }

    async fn reset(&self, key: &AttemptKey) -> Result<(), AttemptError> {
        (**self).reset(key).await
    }
}

/// An attempt limiter that allows everything: brute-force protection switched off. For tests and
/// for applications that limit attempts elsewhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAttemptLimit;

#[async_trait]
impl AttemptLimiter for NoAttemptLimit {
    async fn check(&self, _key: &AttemptKey) -> Result<AttemptStatus, AttemptError> {
        Ok(AttemptStatus::Allowed { remaining: None })
    }

    async fn record_failure(&self, _key: &AttemptKey) -> Result<AttemptStatus, AttemptError> {
        Ok(AttemptStatus::Allowed { remaining: None })
    }

    async fn reset(&self, _key: &AttemptKey) -> Result<(), AttemptError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let k = AttemptKey::client("192.0.2.1".parse().unwrap());
        assert_eq!(k.to_string(), "client:192.0.2.1");
        assert_eq!(k.scope(), "client");
        assert_eq!(
            format!("{:?}", AttemptKey::account("a")),
            "AttemptKey(account:a)"
        );
    }

    #[test]
    fn status_helpers() {
        let locked = AttemptStatus::Locked {
            retry_after: Duration::from_secs(3),
        };
        assert!(!locked.is_allowed());
        assert_eq!(locked.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn unavailable_is_a_503_without_internals() {
        let p: Problem = AttemptError::new("redis at 10.0.0.5 refused").into();
        assert_eq!(p.status(), 503);
        assert!(!String::from_utf8_lossy(&p.to_json()).contains("10.0.0.5"));
    }
}
