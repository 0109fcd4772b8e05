//! Users and where they are stored.
//!
//! A [`User`] is an account: e-mail (unique, case-insensitively), optional user name (unique,
//! case-insensitively) and phone, an optional password hash (absent for passwordless and
//! federated accounts), verification, disabling and token cut-off times. [`UserStore`] is the
//! storage contract; [`MemoryUserStore`] keeps users in the process, and with features `sqlite`,
//! `postgres` or `mysql` the sea-orm store in `mortar_auth::sql` keeps them in the application's
//! own database. Every store passes the same conformance suite (`tests/user_store.rs`).
//!
//! ```
//! use std::time::SystemTime;
//! use mortar_auth::user::{MemoryUserStore, NewUser, UserStore};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_auth::Error> {
//! let store = MemoryUserStore::new();
//! let alice = store
//!     .create(NewUser::new("Alice@Example.com").username("alice"), SystemTime::now())
//!     .await?;
//! let found = store.by_email("  alice@example.COM ").await?.unwrap();
//! assert_eq!(found.id, alice.id);
//! assert_eq!(found.email, "Alice@Example.com"); // kept as entered
//! # Ok(()) }
//! ```

mod memory;

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use memory::MemoryUserStore;

use crate::error::Error;

/// A user's identifier: a UUID v7 (time-ordered, so indexes stay compact).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(Uuid);

impl UserId {
    /// A new, unique, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id as a UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for UserId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for UserId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({})", self.0)
    }
}

impl FromStr for UserId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// The form an e-mail address is compared in: trimmed and lower-cased (Unicode-aware).
///
/// ```
/// assert_eq!(mortar_auth::user::normalize_email("  Bob@Example.COM "), "bob@example.com");
/// ```
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The form a user name is compared in: trimmed and lower-cased.
pub fn normalize_username(username: &str) -> String {
    username.trim().to_lowercase()
}

/// An account.
///
/// `Debug` omits the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The id.
    pub id: UserId,
    /// The e-mail address as entered.
    pub email: String,
    /// The user name as entered, if any.
    pub username: Option<String>,
    /// The phone number, if any.
    pub phone: Option<String>,
    /// The password hash (PHC string or a legacy format), absent for accounts without one.
    pub password_hash: Option<String>,
    /// When the e-mail address was verified.
    pub email_verified_at: Option<SystemTime>,
    /// When the phone number was verified.
    pub phone_verified_at: Option<SystemTime>,
    /// When the account was disabled; a disabled account cannot log in.
    pub disabled_at: Option<SystemTime>,
    /// Tokens issued before this time are invalid ("sign out everywhere").
    pub tokens_valid_after: Option<SystemTime>,
    /// When the account was created.
    pub created_at: SystemTime,
    /// When the account last changed.
    pub updated_at: SystemTime,
}

impl User {
    /// Whether the account is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// Whether the e-mail address is verified.
    pub fn is_email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("username", &self.username)
            .field("has_password", &self.password_hash.is_some())
            .field("email_verified_at", &self.email_verified_at)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

/// What is needed to create a [`User`].
#[derive(Clone)]
#[must_use]
pub struct NewUser {
    /// E-mail address.
    pub email: String,
    /// User name.
    pub username: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Password hash (from [`crate::password::Passwords::hash`]).
    pub password_hash: Option<String>,
}

impl NewUser {
    /// A new user with this e-mail address and nothing else.
    pub fn new(email: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            username: None,
            phone: None,
            password_hash: None,
        }
    }

    /// Sets the user name.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// Sets the phone number.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    /// Sets the password hash.
    pub fn password_hash(mut self, hash: impl Into<String>) -> Self {
        self.password_hash = Some(hash.into());
        self
    }

    /// The user this creates, with a fresh id, at `now`.
    pub(crate) fn into_user(self, now: SystemTime) -> User {
        User {
            id: UserId::new(),
            email: self.email.trim().to_owned(),
            username: self.username.map(|u| u.trim().to_owned()),
            phone: self.phone,
            password_hash: self.password_hash,
            email_verified_at: None,
            phone_verified_at: None,
            disabled_at: None,
            tokens_valid_after: None,
            created_at: now,
            updated_at: now,
        }
    }
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("has_password", &self.password_hash.is_some())
            .finish_non_exhaustive()
    }
}

/// A change to one user, applied by [`UserStore::update`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum UserChange {
    /// Replaces the password hash.
    PasswordHash(String),
    /// Marks the e-mail address verified.
    EmailVerified,
    /// Marks the phone number verified.
    PhoneVerified,
    /// Disables (`true`) or re-enables (`false`) the account.
    Disabled(bool),
    /// Invalidates every token issued before the change's time.
    RevokeTokens,
}

/// Where users live. Implementations must be safe to share between tasks.
///
/// Contract (checked by the conformance suite):
/// - e-mail addresses are unique after [`normalize_email`]; user names after
///   [`normalize_username`]; a second account with either answers [`Error::Conflict`] naming the
///   field, and nothing is written;
/// - lookups by e-mail or user name normalize their argument;
/// - updates and deletes of an unknown id answer [`Error::NotFound`];
/// - timestamps round-trip with at least millisecond precision.
#[async_trait]
pub trait UserStore: Send + Sync + fmt::Debug + 'static {
    /// Creates a user.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] (`"email"` or `"username"`) when taken; [`Error::Store`] when the
    /// backend fails.
    async fn create(&self, new: NewUser, now: SystemTime) -> Result<User, Error>;

    /// The user with this id.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the backend fails.
    async fn by_id(&self, id: UserId) -> Result<Option<User>, Error>;

    /// The user with this e-mail address (compared normalized).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the backend fails.
    async fn by_email(&self, email: &str) -> Result<Option<User>, Error>;

    /// The user with this user name (compared normalized).
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the backend fails.
    async fn by_username(&self, username: &str) -> Result<Option<User>, Error>;

    /// Applies a change at `now` (which also becomes `updated_at`) and returns the user after it.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown id; [`Error::Store`] when the backend fails.
    async fn update(&self, id: UserId, change: UserChange, now: SystemTime) -> Result<User, Error>;

    /// Deletes a user.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown id; [`Error::Store`] when the backend fails.
    async fn delete(&self, id: UserId) -> Result<(), Error>;
}

/// Applies a change to a user in memory; stores that load, change and save share it.
pub(crate) fn apply(user: &mut User, change: UserChange, now: SystemTime) {
    match change {
        UserChange::PasswordHash(hash) => user.password_hash = Some(hash),
        UserChange::EmailVerified => user.email_verified_at = Some(now),
        UserChange::PhoneVerified => user.phone_verified_at = Some(now),
        UserChange::Disabled(true) => user.disabled_at = Some(now),
        UserChange::Disabled(false) => user.disabled_at = None,
        UserChange::RevokeTokens => user.tokens_valid_after = Some(now),
    }
    user.updated_at = now;
}
