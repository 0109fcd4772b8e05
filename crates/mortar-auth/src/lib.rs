//! Authentication for Rust web services, to OWASP ASVS 5.0 (V6 authentication, V7 sessions,
//! V9 self-contained tokens) and RFC 8725.
//!
//! | module | what |
//! | --- | --- |
//! | [`password`] | Argon2id at OWASP parameters on a bounded pool, peppers, legacy bcrypt / scrypt / PBKDF2 / Django hashes upgraded at login, the password policy |
//! | [`user`] | [`user::UserStore`]: memory and SQL (SQLite, PostgreSQL, MariaDB) |
//! | [`account`] | registration, login without account enumeration, verification, reset, password change, disabling accounts |
//! | [`code`] | single-use, purpose-bound, hashed codes and links; [`code::CodeSender`] |
//! | [`token`] | keys, key rings and JWKS, strict JWS, RFC 9068 access tokens, revocations (memory, Redis) |
//! | [`session`] | sessions with rotating refresh tokens and `__Host-` cookie sessions (memory, SQL, Redis) |
//! | [`api_key`] | prefixed, checksummed API keys stored as hashes |
//! | `mfa` | TOTP and recovery codes: enrollment with QR code, sealed secrets, replay-proof codes, login challenges, step-up (feature `totp`) |
//! | `oauth` | sign-in with OAuth 2 / OpenID Connect providers (any issuer by discovery, Google, Microsoft, GitLab, GitHub), linked identities, per-tenant SSO (feature `oauth`) |
//! | `passkey` | passkeys (WebAuthn): registration, passwordless login, second factor (feature `webauthn`) |
//! | [`seal`] | AES-256-GCM sealing of stored secrets under rotating named keys |
//! | [`layer`] | the tower [`layer::AuthLayer`] and its authenticator chain; actix-web middleware in `actix` (feature `actix`) |
//! | `axum` | ready-made JSON endpoints (feature `axum`), described in `OpenAPI` 3.1 by `axum::openapi` (feature `openapi`) |
//!
//! Guide: `docs/auth.md` in the repository. Passwords first:
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
#[cfg(feature = "totp")]
pub mod mfa;
#[cfg(feature = "oauth")]
pub mod oauth;
#[cfg(feature = "webauthn")]
pub mod passkey;
pub mod password;
pub mod seal;
pub mod session;
#[cfg(feature = "sql")]
pub mod sql;
mod time;
pub mod token;
pub mod user;

pub use error::{Error, FederationError};

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
