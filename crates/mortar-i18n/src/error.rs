//! Errors of building catalogs.

use std::fmt;
use std::path::PathBuf;

/// Why a catalog could not be built. Formatting a message never fails: a missing message or
/// variable falls back and is reported in the log once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A Fluent resource has syntax errors (all of them are listed, with file and line).
    #[error("Fluent syntax errors: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Parse(Vec<ParseError>),
    /// A locale tag is not a valid BCP 47 language identifier.
    #[error("`{0}` is not a valid locale tag")]
    InvalidLocale(String),
    /// No locale was added, or the default locale has no catalog.
    #[error("the default locale `{0}` has no catalog")]
    MissingDefault(String),
    /// A catalog directory or file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// One Fluent syntax error: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    file: String,
    line: usize,
    message: String,
}

impl ParseError {
    pub(crate) fn new(file: &str, source: &str, offset: usize, message: String) -> Self {
        let line = source
            .get(..offset)
            .map_or(1, |before| before.matches('\n').count() + 1);
        Self {
            file: file.to_owned(),
            line,
            message,
        }
    }

    /// The resource's name (its file name when loaded from disk).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The 1-based line of the error.
    pub fn line(&self) -> usize {
        self.line
    }

    /// What the parser expected.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}
