//! The crate's error type.

/// What can go wrong in mortar-ratelimit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid (reported when it is built, never per request).
    #[error("invalid rate-limit configuration: {0}")]
    Config(String),
    /// The shared backend (Redis) failed or did not answer in time; each policy's failure mode
    /// decides what happens to the request.
    #[error("the rate-limit backend is unavailable")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The shared backend did not answer within the configured timeout.
    #[error("the rate-limit backend timed out")]
    Timeout,
}

impl Error {
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}
