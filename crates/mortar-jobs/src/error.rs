//! [`Error`]: what can go wrong when enqueueing, claiming or administering jobs.

use mortar_core::{FieldError, Problem};

/// A backend that failed, a job that does not serialize, or an invalid option.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend failed (database, Redis); the message names the operation.
    #[error("job backend: {0}")]
    Backend(String),
    /// A job's payload does not serialize or a stored one does not read back.
    #[error("job payload: {0}")]
    Payload(String),
    /// An option is invalid (`field`, and why), e.g. a cron expression or an empty queue name.
    #[error("invalid job option: {field}: {message}")]
    Invalid {
        /// The option.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// No job has this id.
    #[error("no such job")]
    NotFound,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    #[cfg_attr(not(any(feature = "sql", feature = "redis")), allow(dead_code))]
    pub(crate) fn backend(what: &str, err: impl std::fmt::Display) -> Self {
        Self::Backend(format!("{what}: {err}"))
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// `Invalid` is a 400 validation problem naming the option, `NotFound` a 404; everything else is
/// a 500 without internal detail.
impl From<Error> for Problem {
    fn from(err: Error) -> Self {
        match &err {
            Error::Invalid { field, message } => {
                Problem::validation([FieldError::new(*field, message.clone()).with_code("invalid")])
            }
            Error::NotFound => Problem::not_found(),
            Error::Backend(_) | Error::Payload(_) => {
                tracing::error!(target: "mortar::jobs", error = %err, "job backend failed");
                Problem::internal_error()
            }
        }
    }
}
