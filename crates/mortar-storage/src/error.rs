//! [`Error`]: what can go wrong storing or reading an object.

use mortar_core::Problem;

/// A storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key is not a valid object key ([`crate::ObjectKey`]).
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The key (its first 64 characters).
        key: String,
        /// Why.
        reason: String,
    },
    /// No object has this key.
    #[error("no object {0:?}")]
    NotFound(String),
    /// The requested byte range does not overlap the object.
    #[error("range not satisfiable: the object has {size} bytes")]
    RangeNotSatisfiable {
        /// The object's size.
        size: u64,
    },
    /// The body was larger than the limit given; nothing was stored.
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The body's SHA-256 is not the one expected; nothing was stored.
    #[error("checksum mismatch: expected SHA-256 {expected}, got {actual}")]
    ChecksumMismatch {
        /// Expected (hex).
        expected: String,
        /// Computed (hex).
        actual: String,
    },
    /// A metadata name is not lowercase ASCII letters, digits and `-`, or a value has control
    /// characters.
    #[error("invalid metadata {0:?}")]
    InvalidMetadata(String),
    /// The body's stream failed (the client went away, …); nothing was stored.
    #[error("reading the body failed: {0}")]
    Body(String),
    /// The backend (disk, S3) failed.
    #[error("storage backend: {0}")]
    Backend(String),
}

impl Error {
    pub(crate) fn backend(err: impl std::fmt::Display) -> Self {
        Self::Backend(err.to_string())
    }
}

impl From<Error> for Problem {
    fn from(err: Error) -> Self {
        use http::StatusCode;
        match err {
            Error::InvalidKey { .. } | Error::InvalidMetadata(_) => Problem::mortar(
                StatusCode::BAD_REQUEST,
                "invalid-object-key",
                "Invalid object key",
            )
            .with_detail(err.to_string()),
            Error::NotFound(_) => Problem::not_found(),
            Error::RangeNotSatisfiable { size } => Problem::mortar(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range-not-satisfiable",
                "Range not satisfiable",
            )
            .with_extension("size", size),
            Error::TooLarge { limit } => {
                Problem::payload_too_large().with_extension("limit", limit)
            }
            Error::ChecksumMismatch { .. } => Problem::mortar(
                StatusCode::UNPROCESSABLE_ENTITY,
                "checksum-mismatch",
                "The body does not match its checksum",
            ),
            Error::Body(_) => {
                Problem::bad_request().with_detail("the request body could not be read")
            }
            Error::Backend(_) => Problem::internal_error().with_source(err),
        }
    }
}
