//! Single-use, purpose-bound, expiring codes: e-mail verification links, password-reset links,
//! one-time numeric codes, login challenges.
//!
//! A code's secret is shown once (sent by a [`CodeSender`]) and stored only as its SHA-256
//! hash, so a database leak reveals no usable code. Redeeming deletes the record atomically:
//! of two concurrent redemptions exactly one succeeds. Links carry 256 random bits; numeric
//! codes are short, so their hash also binds the user and purpose, and the account flows count
//! failed attempts in the `AttemptLimiter`.

mod memory;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Digest as _;

pub use memory::MemoryCodeStore;

use crate::error::Error;
use crate::user::{User, UserId};

/// What a code is for. A code redeems only for its own purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// Confirms an e-mail address.
    VerifyEmail,
    /// Confirms a phone number.
    VerifyPhone,
    /// Sets a new password without the old one.
    ResetPassword,
    /// Completes a login that needs a second factor.
    LoginChallenge,
    /// Logs in without a password: a magic link.
    Passwordless,
    /// Logs in without a password: a numeric code sent by e-mail.
    LoginCode,
    /// Tells the owner of an address that someone tried to register it again.
    AccountExists,
    /// A passkey ceremony in progress (never sent: it makes the ceremony single-use).
    PasskeyCeremony,
}

impl Purpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::VerifyPhone => "verify_phone",
            Self::ResetPassword => "reset_password",
            Self::LoginChallenge => "login_challenge",
            Self::Passwordless => "passwordless",
            Self::LoginCode => "login_code",
            Self::AccountExists => "account_exists",
            Self::PasskeyCeremony => "passkey_ceremony",
        }
    }

    /// The purpose of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::VerifyEmail,
            Self::VerifyPhone,
            Self::ResetPassword,
            Self::LoginChallenge,
            Self::Passwordless,
            Self::LoginCode,
            Self::AccountExists,
            Self::PasskeyCeremony,
        ]
        .into_iter()
        .find(|p| p.as_str() == name)
    }
}

/// A stored code: whose, for what, until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeRecord {
    /// The purpose.
    pub purpose: Purpose,
    /// The user it belongs to.
    pub user_id: UserId,
    /// When it stops working.
    pub expires_at: SystemTime,
    /// When it was issued.
    pub created_at: SystemTime,
}

/// Where code hashes live.
///
/// Contract (checked by the conformance suite): `take` returns the record of a stored, unexpired
/// hash with the given purpose and deletes it, at most once even under concurrency; an expired
/// hash, another purpose or an unknown hash take nothing (an expired record is deleted);
/// `revoke` deletes every code of a user for a purpose.
#[async_trait]
pub trait CodeStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a code hash (64 lower-case hex digits).
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when the hash exists (a collision of 256-bit hashes: never in
    /// practice); [`Error::Store`] when the backend fails.
    async fn put(&self, hash: &str, record: CodeRecord) -> Result<(), Error>;

    /// Redeems: removes and returns the record when the hash exists for `purpose` and has not
    /// expired at `now`.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the backend fails.
    async fn take(
        &self,
        hash: &str,
        purpose: Purpose,
        now: SystemTime,
    ) -> Result<Option<CodeRecord>, Error>;

    /// Deletes every code of `user_id` for `purpose`; returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the backend fails.
    async fn revoke(&self, user_id: UserId, purpose: Purpose) -> Result<u64, Error>;
}

/// The stored hash of a link token.
pub fn hash_token(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// The stored hash of a numeric code: bound to its user and purpose, so the same digits for
/// another user or purpose never match.
pub fn hash_numeric(user_id: UserId, purpose: Purpose, code: &str) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(purpose.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(user_id.as_uuid().as_bytes());
    hasher.update([0]);
    hasher.update(code.as_bytes());
    hex::encode(hasher.finalize())
}

/// A new link token: 256 random bits, base64url without padding (43 characters).
pub fn new_token() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A new numeric code of `digits` digits (uniform, leading zeros kept).
pub fn new_numeric(digits: u32) -> SecretString {
    use rand::Rng as _;
    let digits = digits.clamp(4, 10);
    let bound = 10u64.pow(digits);
    let n = rand::rng().random_range(0..bound);
    SecretString::from(format!("{n:0width$}", width = digits as usize))
}

/// A code to deliver: to whom, for what, and the secret (a link token or digits).
#[non_exhaustive]
pub struct CodeMessage {
    /// The purpose.
    pub purpose: Purpose,
    /// The user (e-mail address, phone, name for the message).
    pub user: User,
    /// The secret to deliver, shown once.
    pub secret: SecretString,
    /// When it stops working.
    pub expires_at: SystemTime,
}

impl CodeMessage {
    /// A message to deliver: for flows that hand a code on to be sent later (a background
    /// job, an outbox) and rebuild the message there.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use mortar_auth::code::{CodeMessage, Purpose, new_token};
    /// use mortar_auth::user::{User, UserId};
    /// use secrecy::ExposeSecret as _;
    ///
    /// let now = SystemTime::now();
    /// let user = User {
    ///     id: UserId::new(),
    ///     email: "ada@example.com".into(),
    ///     username: None,
    ///     phone: None,
    ///     password_hash: None,
    ///     email_verified_at: None,
    ///     phone_verified_at: None,
    ///     disabled_at: None,
    ///     tokens_valid_after: None,
    ///     created_at: now,
    ///     updated_at: now,
    /// };
    /// let secret = new_token();
    /// let shown = secret.expose_secret().to_owned();
    /// let message = CodeMessage::new(Purpose::VerifyEmail, user, secret, now + Duration::from_secs(3600));
    /// assert_eq!(message.secret.expose_secret(), shown);
    /// assert!(!format!("{message:?}").contains(&shown), "Debug hides the secret");
    /// ```
    pub fn new(purpose: Purpose, user: User, secret: SecretString, expires_at: SystemTime) -> Self {
        Self {
            purpose,
            user,
            secret,
            expires_at,
        }
    }
}

impl fmt::Debug for CodeMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeMessage")
            .field("purpose", &self.purpose)
            .field("user", &self.user.id)
            .field("secret", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// Delivers codes (e-mail, SMS). Closures `Fn(CodeMessage) -> impl Future<Output = Result<(),
/// Error>>` implement it through [`sender_fn`].
#[async_trait]
pub trait CodeSender: Send + Sync + fmt::Debug + 'static {
    /// Delivers one message.
    ///
    /// # Errors
    ///
    /// Whatever delivery fails with; the flow that issued the code reports it.
    async fn send(&self, message: CodeMessage) -> Result<(), Error>;
}

type BoxedSend = Box<
    dyn Fn(CodeMessage) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send>> + Send + Sync,
>;

/// A [`CodeSender`] made of a closure.
pub struct FnSender(BoxedSend);

impl fmt::Debug for FnSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnSender")
    }
}

/// Wraps a closure as a [`CodeSender`].
///
/// ```
/// use mortar_auth::code::{CodeMessage, sender_fn};
///
/// let sender = sender_fn(|message: CodeMessage| async move {
///     // enqueue an e-mail to message.user.email with message.secret …
///     let _ = message;
///     Ok(())
/// });
/// # let _ = sender;
/// ```
pub fn sender_fn<F, Fut>(f: F) -> FnSender
where
    F: Fn(CodeMessage) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    FnSender(Box::new(move |m| Box::pin(f(m))))
}

#[async_trait]
impl CodeSender for FnSender {
    async fn send(&self, message: CodeMessage) -> Result<(), Error> {
        (self.0)(message).await
    }
}

/// For development only: prints each code to standard error (not to the log, which may be
/// shipped elsewhere), so a developer can click the link. Never use it in production.
#[derive(Clone, Copy, Debug, Default)]
pub struct DevConsoleSender;

#[async_trait]
impl CodeSender for DevConsoleSender {
    async fn send(&self, message: CodeMessage) -> Result<(), Error> {
        eprintln!(
            "[mortar-auth development sender] {} code for {}: {}",
            message.purpose.as_str(),
            message.user.email,
            message.secret.expose_secret()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_hashes() {
        let token = new_token();
        assert_eq!(token.expose_secret().len(), 43);
        assert_ne!(token.expose_secret(), new_token().expose_secret());
        let h = hash_token(token.expose_secret());
        assert_eq!(h.len(), 64);
        assert!(
            h.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );

        let code = new_numeric(6);
        assert_eq!(code.expose_secret().len(), 6);
        assert!(code.expose_secret().chars().all(|c| c.is_ascii_digit()));

        let user = UserId::new();
        let a = hash_numeric(user, Purpose::VerifyPhone, "123456");
        assert_ne!(
            a,
            hash_numeric(UserId::new(), Purpose::VerifyPhone, "123456")
        );
        assert_ne!(a, hash_numeric(user, Purpose::ResetPassword, "123456"));
        assert_eq!(a, hash_numeric(user, Purpose::VerifyPhone, "123456"));
    }

    #[test]
    fn purposes_round_trip() {
        for p in [
            Purpose::VerifyEmail,
            Purpose::VerifyPhone,
            Purpose::ResetPassword,
            Purpose::LoginChallenge,
            Purpose::Passwordless,
            Purpose::LoginCode,
            Purpose::AccountExists,
            Purpose::PasskeyCeremony,
        ] {
            assert_eq!(Purpose::parse(p.as_str()), Some(p));
        }
        assert_eq!(Purpose::parse("nope"), None);
    }
}
