//! What a new password must satisfy (OWASP ASVS 5.0 V6.2).
//!
//! - at least `min_length` characters (Unicode scalar values, counted after NFC is left to the
//!   client: we never transform a password), 8 by default and configurable from 8 up —
//!   NIST SP 800-63B-4 asks for 15 when the password is the only factor;
//! - at most `max_length` characters, never less than 64 (ASVS V6.2.9), and never truncated;
//! - not a common password: zxcvbn's list of the most used passwords, also reversed, in l33t
//!   speak or with changed case, and not trivially guessable (zxcvbn score 0);
//! - not built on the user's own e-mail address, name or user name.
//!
//! Composition rules ("one digit, one symbol") are deliberately absent (ASVS V6.2.5).

use std::fmt;

use zxcvbn::matching::patterns::{DictionaryPattern, MatchPattern};

use crate::error::Error;

/// One way a password failed the policy; its `code` is stable (for clients and translations).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Fewer than `min` characters.
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// More than `max` characters.
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// A commonly used password (or a trivial variation of one).
    Common,
    /// Too easy to guess (repeats, sequences, keyboard patterns).
    Guessable,
    /// Contains the user's own e-mail, name or user name.
    Personal,
}

impl PolicyViolation {
    /// The stable machine-readable name: `too_short`, `too_long`, `common`, `guessable`,
    /// `personal`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooShort { .. } => "too_short",
            Self::TooLong { .. } => "too_long",
            Self::Common => "common",
            Self::Guessable => "guessable",
            Self::Personal => "personal",
        }
    }

    /// Adds the violation's parameters (`min`, `max`) to its field error.
    pub(crate) fn with_params(&self, error: mortar_core::FieldError) -> mortar_core::FieldError {
        match self {
            Self::TooShort { min } => error.with_param("min", *min),
            Self::TooLong { max } => error.with_param("max", *max),
            _ => error,
        }
    }
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min } => write!(f, "must be at least {min} characters long"),
            Self::TooLong { max } => write!(f, "must be at most {max} characters long"),
            Self::Common => f.write_str("is too common; choose a less predictable password"),
            Self::Guessable => f.write_str("is too easy to guess"),
            Self::Personal => f.write_str("must not contain your name or e-mail address"),
        }
    }
}

/// The password rules for registration, password change and reset.
///
/// ```
/// use mortar_auth::password::{PasswordPolicy, PolicyViolation};
///
/// let policy = PasswordPolicy::default();
/// assert!(policy.check("correct horse battery staple", &[]).is_ok());
/// assert_eq!(policy.check("password1", &[]).unwrap_err(), vec![PolicyViolation::Common]);
/// assert_eq!(
///     policy.check("alice.smith!2024", &["alice.smith@example.com"]).unwrap_err(),
///     vec![PolicyViolation::Personal],
/// );
/// ```
#[derive(Clone, Debug)]
pub struct PasswordPolicy {
    min_length: usize,
    max_length: usize,
    reject_common: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            reject_common: true,
        }
    }
}

impl PasswordPolicy {
    /// Sets the minimum length in characters.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `min` is below 8 (ASVS V6.2.1) or above the maximum.
    pub fn with_min_length(mut self, min: usize) -> Result<Self, Error> {
        if min < 8 || min > self.max_length {
            return Err(Error::Config(format!(
                "minimum password length must be between 8 and {} (got {min})",
                self.max_length
            )));
        }
        self.min_length = min;
        Ok(self)
    }

    /// Sets the maximum length in characters.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `max` is below 64 (ASVS V6.2.9) or below the minimum.
    pub fn with_max_length(mut self, max: usize) -> Result<Self, Error> {
        if max < 64 || max < self.min_length {
            return Err(Error::Config(format!(
                "maximum password length must be at least 64 and the minimum (got {max})"
            )));
        }
        self.max_length = max;
        Ok(self)
    }

    /// Turns the common-password and guessability checks off. Weaker: ask for it by name only
    /// where another check of the same kind already runs.
    #[must_use]
    pub fn allow_common_passwords(mut self) -> Self {
        self.reject_common = false;
        self
    }

    /// The minimum length.
    pub fn min_length(&self) -> usize {
        self.min_length
    }

    /// The maximum length.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Checks a new password. `user_inputs` are the user's own identifiers (e-mail, user name,
    /// display name) that the password must not be built on.
    ///
    /// # Errors
    ///
    /// Every violation found (length violations first; the dictionary checks only run on a
    /// password of acceptable length).
    pub fn check(&self, password: &str, user_inputs: &[&str]) -> Result<(), Vec<PolicyViolation>> {
        let length = password.chars().count();
        if length < self.min_length {
            return Err(vec![PolicyViolation::TooShort {
                min: self.min_length,
            }]);
        }
        if length > self.max_length {
            return Err(vec![PolicyViolation::TooLong {
                max: self.max_length,
            }]);
        }
        let mut violations = Vec::new();
        // The local part of an e-mail address and its pieces are what people reuse.
        let mut inputs: Vec<&str> = Vec::new();
        for input in user_inputs {
            inputs.push(input);
            let local = input.split('@').next().unwrap_or(input);
            inputs.push(local);
            inputs.extend(
                local
                    .split(['.', '_', '-', '+'])
                    .filter(|p| p.chars().count() >= 3),
            );
        }
        let entropy = zxcvbn::zxcvbn(password, &inputs);
        let whole = |m: &zxcvbn::Match| m.i == 0 && m.j + 1 == length;
        let personal = entropy.sequence().iter().any(|m| {
            matches!(&m.pattern, MatchPattern::Dictionary(d)
                if from_dictionary(d, "UserInputs") && m.token.chars().count() >= 3)
        });
        if personal {
            violations.push(PolicyViolation::Personal);
        }
        if self.reject_common && !personal {
            let common = entropy.sequence().iter().any(|m| {
                matches!(&m.pattern, MatchPattern::Dictionary(d)
                    if from_dictionary(d, "Passwords"))
                    && whole(m)
            }) || is_common_with_suffix(&entropy, length);
            if common {
                violations.push(PolicyViolation::Common);
            } else if u8::from(entropy.score()) == 0 {
                violations.push(PolicyViolation::Guessable);
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }
}

/// Whether a dictionary match comes from the named zxcvbn dictionary. zxcvbn 3.1 declares its
/// `DictionaryType` in a private module, so the type cannot be named here; its `Debug` name
/// (the variant name) is the stable way to tell the dictionaries apart.
fn from_dictionary(d: &DictionaryPattern, name: &str) -> bool {
    format!("{:?}", d.dictionary_name) == name
}

/// A common password followed by a few digits or symbols (`password1`, `qwerty123!`): the
/// dictionary match covers all but a short tail that adds almost nothing.
fn is_common_with_suffix(entropy: &zxcvbn::Entropy, length: usize) -> bool {
    let sequence = entropy.sequence();
    let Some(first) = sequence.first() else {
        return false;
    };
    let common_head = first.i == 0
        && matches!(&first.pattern, MatchPattern::Dictionary(d)
            if from_dictionary(d, "Passwords") && d.rank <= 10_000);
    let tail = length.saturating_sub(first.j + 1);
    common_head && tail <= 4 && u8::from(entropy.score()) <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_characters_and_bounded() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check("Ab3$xyz", &[]).unwrap_err(),
            vec![PolicyViolation::TooShort { min: 8 }]
        );
        // Eight characters, sixteen bytes: long enough.
        assert!(p.check("ßøæ¥€ŧ→ħ", &[]).is_ok());
        let long = "x".repeat(129);
        assert_eq!(
            p.check(&long, &[]).unwrap_err(),
            vec![PolicyViolation::TooLong { max: 128 }]
        );
        let sixty_four = "correct horse battery staple ".repeat(3)[..64].to_owned();
        assert!(
            p.check(&sixty_four, &[]).is_ok(),
            "64 characters are always allowed"
        );
    }

    #[test]
    fn configuration_is_validated() {
        assert!(PasswordPolicy::default().with_min_length(7).is_err());
        assert!(PasswordPolicy::default().with_min_length(15).is_ok());
        assert!(PasswordPolicy::default().with_max_length(63).is_err());
        assert!(PasswordPolicy::default().with_max_length(1024).is_ok());
        let strict = PasswordPolicy::default().with_min_length(15).unwrap();
        assert_eq!(
            strict.check("Tr0ub4dor&3xyz", &[]).unwrap_err(),
            vec![PolicyViolation::TooShort { min: 15 }]
        );
    }

    #[test]
    fn common_and_guessable_passwords_are_rejected() {
        let p = PasswordPolicy::default();
        for common in [
            "password",
            "Password1",
            "qwerty123",
            "iloveyou",
            "drowssap",
            "p@ssw0rd",
            "123456789",
        ] {
            let err = p.check(common, &[]).unwrap_err();
            assert!(
                err == vec![PolicyViolation::Common] || err == vec![PolicyViolation::Guessable],
                "{common}: {err:?}"
            );
        }
        assert_eq!(
            p.check("aaaaaaaaaaaa", &[]).unwrap_err(),
            vec![PolicyViolation::Guessable]
        );
        for fine in [
            "correct horse battery staple",
            "Tr0ub4dor&3-zebra",
            "6p!Lk#9qRz@2",
        ] {
            assert!(p.check(fine, &[]).is_ok(), "{fine}");
        }
        assert!(
            p.clone()
                .allow_common_passwords()
                .check("password", &[])
                .is_ok()
        );
    }

    #[test]
    fn personal_information_is_rejected() {
        let p = PasswordPolicy::default();
        let err = p
            .check("jonathan.doe.1984", &["jonathan.doe@example.com"])
            .unwrap_err();
        assert_eq!(err, vec![PolicyViolation::Personal]);
        assert_eq!(PolicyViolation::Personal.code(), "personal");
    }
}
