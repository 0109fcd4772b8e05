//! Password hashing and verification.
//!
//! [`Passwords`] hashes with Argon2id at OWASP's parameters (m = 19456 KiB, t = 2, p = 1) into
//! PHC strings, optionally with a pepper (Argon2's secret input), and verifies every format a user
//! may bring from another system — Argon2 (any variant or version), bcrypt, scrypt, PBKDF2 (PHC)
//! and Django's `pbkdf2_sha256`, `pbkdf2_sha1`, `bcrypt_sha256` and `argon2` strings. A
//! successful verification of anything weaker than the current policy (another algorithm, lower
//! cost, an old pepper) hands back a fresh Argon2id hash to store: users move to the current
//! policy at their next login, as in Django.
//!
//! Hashing is deliberately slow, so it never runs on the async runtime's threads: a bounded pool
//! runs it on blocking threads, at most one job per core at once plus a short queue; beyond that
//! calls fail fast with [`crate::Error::Busy`] (a 503 with `Retry-After`) instead
//! of queueing without bound.
//!
//! ```
//! use mortar_auth::password::{Passwords, Verification};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_auth::Error> {
//! let passwords = Passwords::new();
//! let stored = passwords.hash("correct horse battery staple").await?;
//! assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
//!
//! match passwords.verify("correct horse battery staple", &stored).await? {
//!     Verification::Valid { upgraded: None } => {}
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(passwords.verify("wrong", &stored).await?, Verification::Invalid);
//!
//! // A bcrypt hash imported from another system verifies and comes back upgraded.
//! let legacy = "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie";
//! match passwords.verify("correctbatteryhorsestapler", legacy).await? {
//!     Verification::Valid { upgraded: Some(new_hash) } => assert!(new_hash.starts_with("$argon2id$")),
//!     other => panic!("{other:?}"),
//! }
//! # Ok(()) }
//! ```

mod formats;
mod policy;
mod pool;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use argon2::{Algorithm, Argon2, KeyId, Params, Version};
use base64::Engine as _;
use password_hash::PasswordHasher as _;
use secrecy::{ExposeSecret as _, SecretBox};

pub use policy::{PasswordPolicy, PolicyViolation};

use crate::error::Error;
use formats::Stored;
use pool::BlockingPool;

/// Passwords longer than this many bytes are never hashed: they cannot verify and would only
/// cost memory. (The policy's own maximum, in characters, is far below it.)
const MAX_PASSWORD_BYTES: usize = 4096;

/// The outcome of [`Passwords::verify`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verification {
    /// The password matches. When the stored hash is weaker than the current policy, `upgraded`
    /// holds a fresh Argon2id hash of the same password: store it in place of the old one.
    Valid {
        /// The new hash to store, if the stored one should be replaced.
        upgraded: Option<String>,
    },
    /// The password does not match (or the stored hash is unusable).
    Invalid,
}

impl Verification {
    /// Whether the password matched.
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }
}

impl fmt::Debug for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A new hash is not a secret like a password, but it is not log material either.
        match self {
            Self::Valid { upgraded } => f
                .debug_struct("Valid")
                .field("upgraded", &upgraded.as_ref().map(|_| "[hash]"))
                .finish(),
            Self::Invalid => f.write_str("Invalid"),
        }
    }
}

/// Pepper secrets by key id (as it appears, base64-encoded, in the PHC `keyid` parameter).
#[derive(Default)]
pub(crate) struct Peppers {
    by_id: HashMap<String, SecretBox<[u8]>>,
}

impl Peppers {
    pub(crate) fn get(&self, encoded_id: &str) -> Option<&[u8]> {
        self.by_id
            .get(encoded_id)
            .map(secrecy::ExposeSecret::expose_secret)
    }
}

/// How [`Passwords`] hashes: Argon2id cost, pepper, and pool bounds.
///
/// ```
/// use mortar_auth::password::PasswordConfig;
///
/// let config = PasswordConfig::default()
///     .pepper("2025", b"a-32-byte-secret-from-your-vault".to_vec())
///     .old_pepper("2024", b"last-years-secret-still-verifies".to_vec())
///     .workers(4)
///     .queue(64);
/// # let _ = config;
/// ```
#[must_use]
pub struct PasswordConfig {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    current_pepper: Option<(String, SecretBox<[u8]>)>,
    old_peppers: Vec<(String, SecretBox<[u8]>)>,
    workers: usize,
    queue: usize,
}

impl Default for PasswordConfig {
    /// OWASP's Argon2id parameters, no pepper, one worker per core and a queue of 16 per worker.
    fn default() -> Self {
        let workers = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            current_pepper: None,
            old_peppers: Vec::new(),
            workers,
            queue: workers * 16,
        }
    }
}

impl fmt::Debug for PasswordConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordConfig")
            .field("memory_kib", &self.memory_kib)
            .field("iterations", &self.iterations)
            .field("parallelism", &self.parallelism)
            .field("pepper", &self.current_pepper.as_ref().map(|(id, _)| id))
            .field(
                "old_peppers",
                &self
                    .old_peppers
                    .iter()
                    .map(|(id, _)| id)
                    .collect::<Vec<_>>(),
            )
            .field("workers", &self.workers)
            .field("queue", &self.queue)
            .finish()
    }
}

impl PasswordConfig {
    /// Sets the Argon2id cost. Lower than OWASP's (19456 KiB, 2, 1) is refused by
    /// [`Passwords::with_config`] unless [`PasswordConfig::allow_weak_cost`] is also called.
    pub fn cost(mut self, memory_kib: u32, iterations: u32, parallelism: u32) -> Self {
        self.memory_kib = memory_kib;
        self.iterations = iterations;
        self.parallelism = parallelism;
        self
    }

    /// Accepts a cost below OWASP's minimum — for tests only, where hashing speed matters more.
    pub fn allow_weak_cost(self) -> WeakPasswordConfig {
        WeakPasswordConfig(self)
    }

    /// Sets the pepper new hashes use: a secret kept outside the database (ASVS V11.4.2), named
    /// by a short id (at most 8 bytes) stored in each hash so it can be rotated.
    pub fn pepper(mut self, id: impl Into<String>, secret: impl Into<Box<[u8]>>) -> Self {
        self.current_pepper = Some((id.into(), SecretBox::new(secret.into())));
        self
    }

    /// Adds a retired pepper: hashes made with it still verify, and are upgraded to the current
    /// pepper at the next login.
    pub fn old_pepper(mut self, id: impl Into<String>, secret: impl Into<Box<[u8]>>) -> Self {
        self.old_peppers
            .push((id.into(), SecretBox::new(secret.into())));
        self
    }

    /// How many hashes may run at once (default: one per core).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// How many more may wait before calls answer busy (default: 16 per worker).
    pub fn queue(mut self, queue: usize) -> Self {
        self.queue = queue;
        self
    }
}

/// A [`PasswordConfig`] whose cost may be below OWASP's minimum; for tests.
#[derive(Debug)]
#[must_use]
pub struct WeakPasswordConfig(PasswordConfig);

struct Inner {
    params: Params,
    current_key: Option<(String, SecretBox<[u8]>)>,
    peppers: Peppers,
    pool: BlockingPool,
    dummy: OnceLock<String>,
}

/// Hashes and verifies passwords; cheap to clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passwords")
            .field("m_cost", &self.inner.params.m_cost())
            .field("t_cost", &self.inner.params.t_cost())
            .field("p_cost", &self.inner.params.p_cost())
            .field(
                "pepper",
                &self.inner.current_key.as_ref().map(|(id, _)| id.as_str()),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    /// OWASP parameters, no pepper.
    pub fn new() -> Self {
        // The default configuration is valid by construction.
        Self::build(PasswordConfig::default())
            .unwrap_or_else(|e| unreachable!("default password config: {e}"))
    }

    /// A hasher with the given configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the cost is below OWASP's minimum, a parameter is out of Argon2's
    /// range, or a pepper id is empty or longer than 8 bytes.
    pub fn with_config(config: PasswordConfig) -> Result<Self, Error> {
        if config.memory_kib < 19_456 || config.iterations < 2 || config.parallelism < 1 {
            return Err(Error::Config(
                "Argon2id cost below OWASP's minimum (m=19456 KiB, t=2, p=1); \
                 use PasswordConfig::allow_weak_cost for tests"
                    .into(),
            ));
        }
        Self::build(config)
    }

    /// A hasher with a cost that may be below OWASP's minimum; for tests.
    ///
    /// # Errors
    ///
    /// As [`Passwords::with_config`], except for the minimum cost.
    pub fn with_weak_config(config: WeakPasswordConfig) -> Result<Self, Error> {
        Self::build(config.0)
    }

    fn build(config: PasswordConfig) -> Result<Self, Error> {
        let mut peppers = Peppers::default();
        let encode = |id: &str| -> Result<String, Error> {
            if id.is_empty() || id.len() > KeyId::MAX_LEN {
                return Err(Error::Config(format!(
                    "pepper id {id:?} must be 1 to {} bytes",
                    KeyId::MAX_LEN
                )));
            }
            Ok(base64::engine::general_purpose::STANDARD_NO_PAD.encode(id))
        };
        let mut key_id = None;
        if let Some((id, secret)) = &config.current_pepper {
            key_id = Some(KeyId::new(id.as_bytes()).map_err(|e| Error::Config(e.to_string()))?);
            peppers
                .by_id
                .insert(encode(id)?, SecretBox::new(secret.expose_secret().into()));
        }
        for (id, secret) in &config.old_peppers {
            peppers
                .by_id
                .insert(encode(id)?, SecretBox::new(secret.expose_secret().into()));
        }
        let mut builder = argon2::ParamsBuilder::new();
        builder
            .m_cost(config.memory_kib)
            .t_cost(config.iterations)
            .p_cost(config.parallelism);
        if let Some(key_id) = key_id {
            builder.keyid(key_id);
        }
        let params = builder.build().map_err(|e| Error::Config(e.to_string()))?;
        let current_key = match config.current_pepper {
            Some((id, secret)) => Some((encode(&id)?, secret)),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                params,
                current_key,
                peppers,
                pool: BlockingPool::new(config.workers, config.queue),
                dummy: OnceLock::new(),
            }),
        })
    }

    /// Hashes a new password into an Argon2id PHC string.
    ///
    /// The password is not checked against a policy here; do that first with
    /// [`PasswordPolicy::check`].
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when the hashing pool is saturated; [`Error::Internal`] if hashing fails.
    pub async fn hash(&self, password: &str) -> Result<String, Error> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(Error::Config(format!(
                "passwords longer than {MAX_PASSWORD_BYTES} bytes are refused"
            )));
        }
        let inner = self.inner.clone();
        let password = zeroizing(password);
        self.inner
            .pool
            .run(move || inner.hash_now(password.expose_secret()))
            .await?
    }

    /// Verifies `password` against a stored hash of any supported format.
    ///
    /// An unrecognised or corrupt stored hash does not match (and is logged as a warning, without
    /// the hash); it is not an error, so a damaged row cannot be told apart from a wrong password.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when the hashing pool is saturated; [`Error::Internal`] if re-hashing a
    /// legacy password fails.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verification, Error> {
        let inner = self.inner.clone();
        let password = zeroizing(password);
        let stored = stored.to_owned();
        self.inner
            .pool
            .run(move || inner.verify_now(password.expose_secret(), &stored))
            .await?
    }

    /// Spends the time of a real verification without any account: call it when the user is
    /// unknown so the answer takes as long as for a wrong password (no account enumeration by
    /// timing).
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when the hashing pool is saturated.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), Error> {
        let inner = self.inner.clone();
        let password = zeroizing(password);
        self.inner
            .pool
            .run(move || {
                let dummy = inner.dummy_hash()?;
                inner.verify_now(password.expose_secret(), &dummy).map(drop)
            })
            .await?
    }

    /// Whether a stored hash should be replaced by a fresh one (another algorithm, a lower cost,
    /// or an old pepper). [`Passwords::verify`] already hands back the replacement; this is for
    /// reports ("how many users still have bcrypt hashes").
    pub fn needs_rehash(&self, stored: &str) -> bool {
        Stored::parse(stored).is_none_or(|s| !s.is_current(&self.inner.params, self.current_key()))
    }

    /// Whether `stored` is a hash in a format [`Passwords::verify`] reads (Argon2, bcrypt,
    /// scrypt, PBKDF2, Django's), checked without hashing anything: for imports of users from
    /// another system, so a mangled column is refused before it locks its users out.
    ///
    /// ```
    /// use mortar_auth::password::Passwords;
    ///
    /// let passwords = Passwords::new();
    /// assert!(passwords.recognizes("$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie"));
    /// assert!(!passwords.recognizes("5f4dcc3b5aa765d61d8327deb882cf99")); // bare MD5
    /// ```
    pub fn recognizes(&self, stored: &str) -> bool {
        Stored::parse(stored).is_some()
    }

    fn current_key(&self) -> Option<&str> {
        self.inner.current_key()
    }
}

impl Inner {
    fn current_key(&self) -> Option<&str> {
        self.current_key.as_ref().map(|(id, _)| id.as_str())
    }

    fn argon(&self) -> Result<Argon2<'_>, Error> {
        match &self.current_key {
            Some((_, secret)) => Argon2::new_with_secret(
                secret.expose_secret(),
                Algorithm::Argon2id,
                Version::V0x13,
                self.params.clone(),
            )
            .map_err(Error::internal),
            None => Ok(Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                self.params.clone(),
            )),
        }
    }

    fn hash_now(&self, password: &str) -> Result<String, Error> {
        let hash = self
            .argon()?
            .hash_password(password.as_bytes())
            .map_err(Error::internal)?;
        Ok(hash.to_string())
    }

    fn verify_now(&self, password: &str, stored: &str) -> Result<Verification, Error> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(Verification::Invalid);
        }
        let Some(parsed) = Stored::parse(stored) else {
            tracing::warn!(
                target: "mortar::auth",
                "stored password hash is in an unknown format; treating it as not matching"
            );
            return Ok(Verification::Invalid);
        };
        if !parsed.verify(password.as_bytes(), &self.peppers) {
            return Ok(Verification::Invalid);
        }
        let upgraded = if parsed.is_current(&self.params, self.current_key()) {
            None
        } else {
            Some(self.hash_now(password)?)
        };
        Ok(Verification::Valid { upgraded })
    }

    fn dummy_hash(&self) -> Result<String, Error> {
        if let Some(hash) = self.dummy.get() {
            return Ok(hash.clone());
        }
        let hash = self.hash_now("mortar dummy password for unknown accounts")?;
        Ok(self.dummy.get_or_init(|| hash).clone())
    }
}

/// A copy of the password that is wiped from memory when dropped.
fn zeroizing(password: &str) -> secrecy::SecretString {
    secrecy::SecretString::from(password.to_owned())
}
