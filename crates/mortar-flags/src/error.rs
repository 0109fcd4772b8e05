//! [`Error`]: what can go wrong loading, changing or storing flags.

use mortar_core::Problem;

/// A flag source or store failed, or a definition was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A flag file (or a stored flag) is not flagd JSON / YAML.
    #[error("not a flag definition: {0}")]
    Parse(String),
    /// A flag definition breaks a rule of the format (see [`crate::FlagDefinition::validate`]),
    /// or its targeting does not compile.
    #[error("flag {flag:?}: {reason}")]
    Invalid {
        /// The flag's key.
        flag: String,
        /// What is wrong.
        reason: String,
    },
    /// A flag file could not be read.
    #[error("flag file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The database or Redis failed.
    #[error("flag store: {0}")]
    Store(String),
}

impl From<Error> for Problem {
    fn from(err: Error) -> Self {
        match err {
            Error::Parse(_) | Error::Invalid { .. } => Problem::mortar(
                http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-flag",
                "Invalid flag definition",
            )
            .with_detail(err.to_string()),
            // Internal: logged by the caller, never shown.
            Error::File { .. } | Error::Store(_) => Problem::internal_error().with_source(err),
        }
    }
}
