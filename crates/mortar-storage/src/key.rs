//! [`ObjectKey`]: a key that cannot escape its store's root.

use std::fmt;

use crate::error::Error;

/// The longest key, in bytes (S3's limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// An object's key: `/`-separated segments, none empty, `.` or `..`, no leading or trailing
/// `/`, no backslash, no control characters, at most 1024 bytes. So a key names a path under a
/// store's root on every backend and never outside it.
///
/// ```
/// use mortar_storage::ObjectKey;
///
/// assert!(ObjectKey::new("avatars/2026/ann.webp").is_ok());
/// for bad in ["", "/etc/passwd", "a/../../b", "a//b", "a\\b", "a/", "a\u{0}b", "./a"] {
///     assert!(ObjectKey::new(bad).is_err(), "{bad:?}");
/// }
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates a key.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] saying why.
    pub fn new(key: impl Into<String>) -> Result<Self, Error> {
        let key = key.into();
        let invalid = |why: &str| Error::InvalidKey {
            key: key.chars().take(64).collect(),
            reason: why.to_owned(),
        };
        if key.is_empty() {
            return Err(invalid("a key is not empty"));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(invalid("a key is at most 1024 bytes"));
        }
        if key.chars().any(|c| c.is_control() || c == '\\') {
            return Err(invalid("a key has no control characters or backslashes"));
        }
        if key
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        {
            return Err(invalid(
                "a key's segments are not empty, `.` or `..` (no leading, trailing or double `/`)",
            ));
        }
        Ok(Self(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment (the file name).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({:?})", self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for ObjectKey {
    type Error = Error;

    fn try_from(key: &str) -> Result<Self, Error> {
        Self::new(key)
    }
}

/// Percent-encodes every byte of `text` but ASCII letters, digits and those in `keep`.
pub(crate) fn percent_encode(text: &str, keep: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
