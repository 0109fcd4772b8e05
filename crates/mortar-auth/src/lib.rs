//! Authentication for Rust web services.
//!
//! This release brings the password layer: [`password::Passwords`] (Argon2id at OWASP's
//! parameters, pepper with rotation, legacy bcrypt / scrypt / PBKDF2 / Django hashes upgraded at
//! login, hashing on a bounded blocking pool) and [`password::PasswordPolicy`] (ASVS 5.0 V6.2:
//! length, common passwords, personal information). Users, registration and login, tokens, API
//! keys and sessions follow.
//!
//! ```
//! use mortar_auth::password::{PasswordPolicy, Passwords};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_auth::Error> {
//! let policy = PasswordPolicy::default();
//! let new_password = "correct horse battery staple";
//! policy
//!     .check(new_password, &["alice@example.com"])
//!     .map_err(mortar_auth::Error::WeakPassword)?;
//!
//! let passwords = Passwords::new();
//! let stored = passwords.hash(new_password).await?;
//! assert!(passwords.verify(new_password, &stored).await?.is_valid());
//! # Ok(()) }
//! ```

pub mod account;
#[cfg(feature = "actix")]
pub mod actix;
pub mod api_key;
pub mod attempts;
#[cfg(feature = "axum")]
pub mod axum;
pub mod code;
mod error;
pub mod layer;
pub mod password;
pub mod session;
#[cfg(feature = "sql")]
pub mod sql;
mod time;
pub mod token;
pub mod user;

pub use error::Error;

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
