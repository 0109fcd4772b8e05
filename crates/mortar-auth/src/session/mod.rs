//! Sessions and refresh tokens, one model.
//!
//! A [`Session`] is one signed-in device: who, since when, last seen, from where, how they
//! authenticated, and until when (an absolute lifetime and an idle lifetime). It backs a
//! refresh-token family: an opaque 256-bit refresh token, stored only as its SHA-256 hash and
//! replaced on every use. Presenting an already-rotated token means it was copied: the whole
//! family (the session) is revoked. Two refreshes racing with the same token yield at most one
//! successor. Revoking a session invalidates its refresh token at once and its access tokens
//! through [`crate::token::Revocations::revoke_session`].
//!
//! The same record backs browser sessions ([`SessionKind::Cookie`]): an opaque 256-bit secret in
//! a `__Host-` cookie (Secure, HttpOnly, SameSite=Lax), stored only as a hash, a fresh one at
//! every sign-in; [`SessionCookies`] reads it as an authenticator of the
//! [`AuthLayer`](crate::layer::AuthLayer) chain and refuses cross-origin unsafe requests.

mod cookie;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod service;

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use rand::RngCore as _;

pub use cookie::{CookieSession, DEFAULT_COOKIE_NAME, SessionCookies};
pub use memory::MemorySessionStore;
#[cfg(feature = "redis")]
pub use redis::RedisSessionStore;
pub use service::{SessionLifetimes, SessionTokens, Sessions};

use crate::error::Error;
use crate::user::UserId;

/// A session id: 128 random bits, hex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    /// A new random id.
    pub fn new() -> Self {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        Self(hex::encode(bytes))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<String> for SessionId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.0)
    }
}

/// How a session's holder proves it: refresh tokens or a browser cookie.
///
/// A session is one or the other for its whole life; a refresh token never works as a cookie
/// and a cookie never refreshes (their secrets are also hashed in separate domains).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// Access tokens and a rotating refresh token (apps, SPAs keeping tokens, services).
    #[default]
    Tokens,
    /// An opaque secret in a cookie (server-rendered pages, SPAs on the same site).
    Cookie,
}

impl SessionKind {
    /// The stored name: `"tokens"` or `"cookie"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tokens => "tokens",
            Self::Cookie => "cookie",
        }
    }

    /// Reads a stored name; anything unknown is `Tokens` (the kind every earlier row has).
    pub fn parse(name: &str) -> Self {
        if name == "cookie" {
            Self::Cookie
        } else {
            Self::Tokens
        }
    }
}

/// One signed-in device.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The id (also the `sid` claim of its access tokens).
    pub id: SessionId,
    /// Refresh tokens or a cookie.
    pub kind: SessionKind,
    /// Whose.
    pub user_id: UserId,
    /// When it began.
    pub created_at: SystemTime,
    /// When its refresh token was last used (or the session created).
    pub last_seen_at: SystemTime,
    /// When it ends regardless of use.
    pub expires_at: SystemTime,
    /// The client address at the last use.
    pub ip: Option<String>,
    /// The client's `User-Agent` at the last use.
    pub user_agent: Option<String>,
    /// How the user authenticated (RFC 8176 `amr` values).
    pub methods: Vec<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<SystemTime>,
    /// SHA-256 (hex) of the current refresh token, or of the cookie secret.
    pub token_hash: String,
    /// SHA-256 (hex) of the refresh token it replaced, for reuse detection.
    pub previous_hash: Option<String>,
    /// How many times the refresh token was rotated.
    pub generation: u32,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Which refresh token of a session a hash matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenMatch {
    /// The current one.
    Current,
    /// One already rotated away: reuse.
    Previous,
}

/// Where sessions live.
///
/// Contract (checked by the conformance suite): `rotate` replaces the token hash only when the
/// expected current hash still matches (compare-and-swap), so of concurrent rotations exactly
/// one succeeds; `find_by_token` finds a session by its current or previous hash; revoked
/// sessions stay readable (for reuse detection and audit) but are not listed as active.
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new session.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when the id or token hash exists; [`Error::Store`].
    async fn create(&self, session: Session) -> Result<(), Error>;

    /// The session with this id.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn get(&self, id: &SessionId) -> Result<Option<Session>, Error>;

    /// The session whose current or previous refresh-token hash is `hash`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn find_by_token(&self, hash: &str) -> Result<Option<(Session, TokenMatch)>, Error>;

    /// Replaces the refresh token of `id` when its current hash is still `expected`, recording
    /// the use (`now`, address, user agent); answers whether it did.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn rotate(
        &self,
        id: &SessionId,
        expected: &str,
        new_hash: &str,
        now: SystemTime,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<bool, Error>;

    /// Records a use of a session that does not rotate its secret (a cookie session): sets
    /// `last_seen_at` unless the session is revoked; answers whether it did.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn touch(&self, id: &SessionId, now: SystemTime) -> Result<bool, Error>;

    /// Revokes a session; answers whether it was active.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn revoke(&self, id: &SessionId, now: SystemTime) -> Result<bool, Error>;

    /// The user's sessions that are neither revoked nor expired at `now`, newest first.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn active_for_user(
        &self,
        user_id: UserId,
        now: SystemTime,
    ) -> Result<Vec<Session>, Error>;
}
