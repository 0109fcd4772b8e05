//! [`Error`]: what can go wrong when storing, reading or verifying the audit trail.

use mortar_core::{FieldError, Problem};

/// A store that failed, a query that cannot run, or stored data that does not read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sink or store failed (database, file system); the message names the operation.
    #[error("audit store: {0}")]
    Store(String),
    /// A stored record does not parse (a column holds something no writer wrote).
    #[error("audit store holds an unreadable record: {0}")]
    Corrupt(String),
    /// A query parameter is invalid (`field`, and why).
    #[error("invalid audit query: {field}: {message}")]
    Query {
        /// The parameter.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The recorder was shut down.
    #[error("the audit recorder is shut down")]
    Closed,
}

impl Error {
    pub(crate) fn store(what: &str, err: impl std::fmt::Display) -> Self {
        Self::Store(format!("{what}: {err}"))
    }

    pub(crate) fn query(field: &'static str, message: impl Into<String>) -> Self {
        Self::Query {
            field,
            message: message.into(),
        }
    }
}

/// `Query` is a 400 validation problem naming the parameter; everything else is a 500 (or 503
/// when shut down) without internal detail.
impl From<Error> for Problem {
    fn from(err: Error) -> Self {
        match &err {
            Error::Query { field, message } => {
                Problem::validation([FieldError::new(*field, message.clone()).with_code("invalid")])
            }
            Error::Closed => Problem::service_unavailable(),
            Error::Store(_) | Error::Corrupt(_) => {
                tracing::error!(target: "mortar::audit", error = %err, "audit store failed");
                Problem::internal_error()
            }
        }
    }
}
