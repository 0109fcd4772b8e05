//! Second factors (feature `totp`): TOTP (RFC 6238) and single-use recovery codes, the login
//! challenge they complete ([`crate::account::Accounts::complete_login`]) and step-up.
//!
//! - **TOTP** through totp-rs: enrollment answers the secret, an `otpauth://` URI and a QR code
//!   (PNG); the factor is active only once a first valid code confirms it. Secrets are sealed at
//!   rest with AES-256-GCM ([`Sealer`], key rotation), bound to their user. A code is accepted
//!   within ±`skew` steps (default 1) and only once: the step it matched is stored, and no code
//!   of that step or an earlier one is taken again — on every instance, since the store checks
//!   and sets it in one operation. Failures count in the [`AttemptLimiter`] under the
//!   `second_factor` scope: locked accounts are refused before any code is checked.
//! - **Recovery codes**: 10 by default, shown once at generation, 80 random bits each
//!   (`xxxx-xxxx-xxxx-xxxx`, Crockford base32), stored as SHA-256 hashes bound to the user,
//!   single-use (consumed atomically), regenerated as a whole set.
//!
//! ```
//! use std::sync::Arc;
//! use mortar_auth::mfa::{MemoryFactorStore, Proof, Sealer, SecondFactors, TotpSettings};
//! use mortar_auth::user::UserId;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_auth::Error> {
//! let factors = SecondFactors::new(
//!     Arc::new(MemoryFactorStore::new()),
//!     Sealer::new("2026-11", &[7; 32])?,
//!     TotpSettings::new("Acme"),
//! );
//! let user = UserId::new();
//! let enrollment = factors.enroll_totp(user, "ann@example.com").await?;
//! assert!(enrollment.uri().starts_with("otpauth://totp/Acme:ann%40example.com?"));
//! // The app shows the QR code; the user's authenticator answers a code:
//! let code = factors.current_code(user).await?;
//! let recovery = factors.confirm_totp(user, &code).await?;
//! assert_eq!(recovery.codes().len(), 10);
//! // The same code is not taken twice.
//! assert!(factors.verify(user, &Proof::totp(code)).await.is_err());
//! # Ok(()) }
//! ```

mod memory;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mortar_core::{AttemptKey, AttemptLimiter, AuthMethod, Clock, Principal};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Digest as _;

pub use crate::seal::Sealer;
pub use memory::MemoryFactorStore;

pub use crate::account::Proof;
use crate::account::SecondFactorPolicy;
use crate::attempts::MemoryAttemptLimiter;
use crate::error::Error;
use crate::user::{User, UserId};

/// The hash algorithm of TOTP codes. Authenticator apps expect SHA-1 (the default); some
/// silently fall back to it when asked for another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1 (RFC 6238's default, what every app supports).
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl TotpAlgorithm {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
            Self::Sha512 => "SHA512",
        }
    }

    /// The algorithm a stored name names.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "SHA1" => Some(Self::Sha1),
            "SHA256" => Some(Self::Sha256),
            "SHA512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Self::Sha1 => totp_rs::Algorithm::SHA1,
            Self::Sha256 => totp_rs::Algorithm::SHA256,
            Self::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

/// How TOTP codes are made and checked.
#[derive(Clone, Debug)]
pub struct TotpSettings {
    issuer: String,
    algorithm: TotpAlgorithm,
    digits: u32,
    step: u64,
    skew: u8,
    secret_bytes: usize,
}

impl TotpSettings {
    /// SHA-1, 6 digits, 30-second steps, ±1 step accepted, 160-bit secrets (RFC 4226's
    /// recommendation), shown in authenticator apps under `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            algorithm: TotpAlgorithm::Sha1,
            digits: 6,
            step: 30,
            skew: 1,
            secret_bytes: 20,
        }
    }

    /// The algorithm of new enrollments.
    #[must_use]
    pub fn algorithm(mut self, algorithm: TotpAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Digits per code (6 to 8).
    #[must_use]
    pub fn digits(mut self, digits: u32) -> Self {
        self.digits = digits.clamp(6, 8);
        self
    }

    /// The step length in seconds (at least 1).
    #[must_use]
    pub fn step(mut self, seconds: u64) -> Self {
        self.step = seconds.max(1);
        self
    }

    /// Steps accepted either side of the current one (0 to 2; default 1).
    #[must_use]
    pub fn skew(mut self, steps: u8) -> Self {
        self.skew = steps.min(2);
        self
    }
}

/// A user's TOTP factor as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpFactor {
    /// The secret, sealed by a [`Sealer`].
    pub sealed_secret: String,
    /// Its algorithm.
    pub algorithm: TotpAlgorithm,
    /// Digits per code.
    pub digits: u32,
    /// Step length in seconds.
    pub step: u64,
    /// Confirmed by a first valid code.
    pub active: bool,
    /// The last step a code was accepted for.
    pub last_step: Option<u64>,
    /// When it was enrolled.
    pub created_at: SystemTime,
}

impl fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpFactor")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("step", &self.step)
            .field("active", &self.active)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// Where second factors are kept. Implementations: [`MemoryFactorStore`] and, with a SQL
/// feature, `sql::SeaOrmFactorStore`; both pass the same conformance suite.
#[async_trait]
pub trait FactorStore: Send + Sync + fmt::Debug + 'static {
    /// The user's TOTP factor, pending or active.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn totp(&self, user: UserId) -> Result<Option<TotpFactor>, Error>;

    /// Stores a pending (not yet confirmed) factor, replacing a pending one; `false` (and nothing
    /// stored) when an active factor exists.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn put_pending_totp(&self, user: UserId, factor: TotpFactor) -> Result<bool, Error>;

    /// Records that a code of `step` was accepted, in one atomic operation: only when the
    /// factor is pending (`activate`, which also activates it) or active (`!activate`), and
    /// `step` is later than the last one accepted. `false` otherwise — the code is refused.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn use_totp_step(&self, user: UserId, step: u64, activate: bool) -> Result<bool, Error>;

    /// Replaces the sealed secret `old` by `new` (key rotation); `false` when it changed meanwhile.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn reseal_totp(&self, user: UserId, old: &str, new: String) -> Result<bool, Error>;

    /// Removes the user's TOTP factor; whether there was one.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn delete_totp(&self, user: UserId) -> Result<bool, Error>;

    /// Replaces the user's recovery codes by these hashes.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn set_recovery_codes(
        &self,
        user: UserId,
        hashes: Vec<String>,
        now: SystemTime,
    ) -> Result<(), Error>;

    /// Consumes an unused recovery code, atomically; `false` when unknown or used.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        now: SystemTime,
    ) -> Result<bool, Error>;

    /// How many unused recovery codes the user has.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn recovery_codes_left(&self, user: UserId) -> Result<usize, Error>;
}

/// What an enrollment shows the user, once: keep none of it.
pub struct TotpEnrollment {
    secret: SecretString,
    uri: SecretString,
    qr_png: Vec<u8>,
}

impl fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrollment([REDACTED])")
    }
}

impl TotpEnrollment {
    /// The secret in base32, for typing into an app by hand.
    pub fn secret_base32(&self) -> &str {
        self.secret.expose_secret()
    }

    /// The `otpauth://totp/…` URI.
    pub fn uri(&self) -> &str {
        self.uri.expose_secret()
    }

    /// The URI as a QR code, a PNG image.
    pub fn qr_png(&self) -> &[u8] {
        &self.qr_png
    }
}

/// Recovery codes, shown once.
pub struct RecoveryCodes(Vec<SecretString>);

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes([{} REDACTED])", self.0.len())
    }
}

impl RecoveryCodes {
    /// The codes.
    pub fn codes(&self) -> Vec<&str> {
        self.0.iter().map(ExposeSecret::expose_secret).collect()
    }
}

/// Crockford's base32 alphabet (no I, L, O, U).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A recovery code normalized for hashing: upper case, without spaces and dashes, with the
/// letters people confuse mapped as Crockford's base32 maps them.
fn normalize_recovery(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

/// The stored hash of a recovery code: SHA-256 over the user id and the normalized code. Each
/// code carries 80 random bits, so a fast hash leaves nothing to guess offline.
fn hash_recovery(user: UserId, code: &str) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(b"mortar-recovery-code\0");
    hasher.update(user.as_uuid().as_bytes());
    hasher.update([0]);
    hasher.update(normalize_recovery(code).as_bytes());
    hex::encode(hasher.finalize())
}

fn new_recovery_code() -> SecretString {
    use rand::Rng as _;
    let mut rng = rand::rng();
    let chars: Vec<u8> = (0..16)
        .map(|_| CROCKFORD[rng.random_range(0..CROCKFORD.len())])
        .collect();
    let groups: Vec<&str> = chars
        .chunks(4)
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    SecretString::from(groups.join("-"))
}

/// TOTP and recovery codes over a [`FactorStore`]: enrollment, confirmation, verification,
/// step-up. As a [`SecondFactorPolicy`] (give it to `AccountsBuilder::second_factor`), it asks
/// for a second factor from every user with an active TOTP factor and checks the proofs that
/// complete a login.
#[derive(Clone, Debug)]
pub struct SecondFactors {
    store: Arc<dyn FactorStore>,
    sealer: Sealer,
    settings: TotpSettings,
    limiter: Arc<dyn AttemptLimiter>,
    clock: Arc<dyn Clock>,
    recovery_codes: usize,
}

impl SecondFactors {
    /// Factors in `store`, secrets sealed by `sealer`; failures counted by an in-process
    /// [`MemoryAttemptLimiter`] until [`SecondFactors::limiter`] (share the app's).
    pub fn new(store: Arc<dyn FactorStore>, sealer: Sealer, settings: TotpSettings) -> Self {
        Self {
            store,
            sealer,
            settings,
            limiter: Arc::new(MemoryAttemptLimiter::new()),
            clock: Arc::new(mortar_core::SystemClock),
            recovery_codes: 10,
        }
    }

    /// Counts failed codes in `limiter` (key scope `second_factor`, value the user id).
    #[must_use]
    pub fn limiter(mut self, limiter: Arc<dyn AttemptLimiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// The clock (tests move it).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Recovery codes per set (1 to 20; default 10).
    #[must_use]
    pub fn recovery_code_count(mut self, n: usize) -> Self {
        self.recovery_codes = n.clamp(1, 20);
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn FactorStore> {
        &self.store
    }

    fn unix_now(&self) -> u64 {
        self.clock
            .now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// The factor's secret, opened.
    fn secret_of(&self, user: UserId, factor: &TotpFactor) -> Result<SecretSlice<u8>, Error> {
        self.sealer
            .open(&factor.sealed_secret, user.as_uuid().as_bytes())
    }

    /// The factor's code at `unix_time`.
    fn code_of(
        factor: &TotpFactor,
        secret: &SecretSlice<u8>,
        unix_time: u64,
    ) -> Result<String, Error> {
        totp_code(
            factor.algorithm,
            factor.digits,
            factor.step,
            secret.expose_secret(),
            unix_time,
        )
    }

    /// Starts (or restarts) TOTP enrollment for `user`, shown in apps as `account` (the e-mail
    /// address): a new secret, pending until [`SecondFactors::confirm_totp`].
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when the user already has an active factor (delete it first, after a
    /// step-up); [`Error::Store`].
    pub async fn enroll_totp(&self, user: UserId, account: &str) -> Result<TotpEnrollment, Error> {
        use rand::RngCore as _;
        let mut secret = vec![0u8; self.settings.secret_bytes];
        rand::rng().fill_bytes(&mut secret);
        let factor = TotpFactor {
            sealed_secret: self.sealer.seal(&secret, user.as_uuid().as_bytes())?,
            algorithm: self.settings.algorithm,
            digits: self.settings.digits,
            step: self.settings.step,
            active: false,
            last_step: None,
            created_at: self.clock.now(),
        };
        // The URI and QR code, from the secret in hand (totp-rs checks its length and the
        // account name).
        let totp = totp_rs::TOTP::new(
            factor.algorithm.totp_rs(),
            usize::try_from(factor.digits).unwrap_or(6),
            self.settings.skew,
            factor.step,
            secret.clone(),
            Some(self.settings.issuer.clone()),
            account.to_owned(),
        )
        .map_err(|e| Error::Config(format!("TOTP: {e}")))?;
        secret.fill(0);
        if !self.store.put_pending_totp(user, factor).await? {
            return Err(Error::Conflict("second factor"));
        }
        let qr_png = totp
            .get_qr_png()
            .map_err(|e| Error::Internal(format!("QR code: {e}").into()))?;
        Ok(TotpEnrollment {
            secret: SecretString::from(totp.get_secret_base32()),
            uri: SecretString::from(totp.get_url()),
            qr_png,
        })
    }

    /// Confirms a pending enrollment with a first valid code, activating the factor, and
    /// answers a fresh set of recovery codes (shown once).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] for a wrong or reused code, or nothing pending;
    /// [`Error::InvalidCredentials`] while locked out; [`Error::LimiterUnavailable`];
    /// [`Error::Store`].
    pub async fn confirm_totp(&self, user: UserId, code: &str) -> Result<RecoveryCodes, Error> {
        self.check_totp(user, code, true).await?;
        self.regenerate_recovery_codes(user).await
    }

    /// Checks a proof for `user` (TOTP code or recovery code), consuming it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] for a wrong, reused or expired proof, or no active factor;
    /// [`Error::InvalidCredentials`] while locked out (too many failures);
    /// [`Error::LimiterUnavailable`] (fail closed); [`Error::Store`].
    pub async fn verify(&self, user: UserId, proof: &Proof) -> Result<AuthMethod, Error> {
        match proof {
            Proof::Totp(code) => self.check_totp(user, code.expose_secret(), false).await?,
            Proof::RecoveryCode(code) => {
                self.check_recovery(user, code.expose_secret()).await?;
            }
            Proof::Passkey { .. } => return Err(Error::InvalidCode),
        }
        Ok(proof.method())
    }

    /// Step-up: `principal` re-proves a second factor before a sensitive action. Answers the
    /// principal with the factor added, `second_factor` set and its authentication time now;
    /// check freshness with `principal.authentication().at()`.
    ///
    /// # Errors
    ///
    /// As [`SecondFactors::verify`]; [`Error::InvalidCredentials`] for a principal that is not a
    /// user.
    pub async fn step_up(&self, principal: &Principal, proof: &Proof) -> Result<Principal, Error> {
        let user: UserId = principal
            .subject()
            .parse()
            .map_err(|_| Error::InvalidCredentials)?;
        let method = self.verify(user, proof).await?;
        Ok(principal
            .to_builder()
            .method(method)
            .second_factor(true)
            .authenticated_at(self.clock.now())
            .build())
    }

    async fn guard(&self, user: UserId) -> Result<AttemptKey, Error> {
        let key = AttemptKey::new("second_factor", user.to_string());
        if !self
            .limiter
            .check(&key)
            .await
            .map_err(Error::LimiterUnavailable)?
            .is_allowed()
        {
            return Err(Error::InvalidCredentials);
        }
        Ok(key)
    }

    async fn failed(&self, key: &AttemptKey) -> Error {
        match self.limiter.record_failure(key).await {
            Ok(_) => Error::InvalidCode,
            Err(e) => Error::LimiterUnavailable(e),
        }
    }

    async fn check_totp(&self, user: UserId, code: &str, activate: bool) -> Result<(), Error> {
        let key = self.guard(user).await?;
        let Some(factor) = self.store.totp(user).await? else {
            return Err(self.failed(&key).await);
        };
        if factor.active == activate {
            return Err(self.failed(&key).await);
        }
        let secret = self.secret_of(user, &factor)?;
        let code = code.trim();
        // The step the code matches, if any, within the skew; the latest first.
        let current = self.unix_now() / factor.step;
        let skew = u64::from(self.settings.skew);
        let mut matched = None;
        for step in (current.saturating_sub(skew)..=current + skew).rev() {
            let expected = Self::code_of(&factor, &secret, step * factor.step)?;
            if constant_time_eq(expected.as_bytes(), code.as_bytes()) {
                matched = Some(step);
                break;
            }
        }
        let Some(step) = matched else {
            return Err(self.failed(&key).await);
        };
        if !self.store.use_totp_step(user, step, activate).await? {
            // Replayed (this step or an earlier one was used), or changed meanwhile.
            return Err(self.failed(&key).await);
        }
        self.limiter
            .reset(&key)
            .await
            .map_err(Error::LimiterUnavailable)?;
        if self.sealer.needs_reseal(&factor.sealed_secret) {
            let resealed = self
                .sealer
                .seal(secret.expose_secret(), user.as_uuid().as_bytes())?;
            self.store
                .reseal_totp(user, &factor.sealed_secret, resealed)
                .await?;
        }
        Ok(())
    }

    async fn check_recovery(&self, user: UserId, code: &str) -> Result<(), Error> {
        let key = self.guard(user).await?;
        let hash = hash_recovery(user, code);
        if !self
            .store
            .use_recovery_code(user, &hash, self.clock.now())
            .await?
        {
            return Err(self.failed(&key).await);
        }
        self.limiter
            .reset(&key)
            .await
            .map_err(Error::LimiterUnavailable)?;
        Ok(())
    }

    /// A new set of recovery codes, replacing the old set (shown once).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn regenerate_recovery_codes(&self, user: UserId) -> Result<RecoveryCodes, Error> {
        let codes: Vec<SecretString> = (0..self.recovery_codes)
            .map(|_| new_recovery_code())
            .collect();
        let hashes = codes
            .iter()
            .map(|c| hash_recovery(user, c.expose_secret()))
            .collect();
        self.store
            .set_recovery_codes(user, hashes, self.clock.now())
            .await?;
        Ok(RecoveryCodes(codes))
    }

    /// Unused recovery codes left.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn recovery_codes_left(&self, user: UserId) -> Result<usize, Error> {
        self.store.recovery_codes_left(user).await
    }

    /// Whether the user has an active TOTP factor.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn has_totp(&self, user: UserId) -> Result<bool, Error> {
        Ok(self.store.totp(user).await?.is_some_and(|f| f.active))
    }

    /// Removes the user's TOTP factor and recovery codes (after a step-up, or by an admin).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn disable(&self, user: UserId) -> Result<bool, Error> {
        let had = self.store.delete_totp(user).await?;
        self.store
            .set_recovery_codes(user, Vec::new(), self.clock.now())
            .await?;
        Ok(had)
    }

    /// The code the user's authenticator shows now (pending or active factor): for tests and
    /// demos, never for an endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] without a factor; [`Error::Store`].
    pub async fn current_code(&self, user: UserId) -> Result<String, Error> {
        let factor = self.store.totp(user).await?.ok_or(Error::NotFound)?;
        Self::code_of(&factor, &self.secret_of(user, &factor)?, self.unix_now())
    }

    /// How long until the current step ends (for a countdown in the UI).
    pub fn step_remaining(&self) -> Duration {
        let step = self.settings.step;
        Duration::from_secs(step - self.unix_now() % step)
    }
}

/// The code of `secret` at `unix_time` (RFC 6238: the counter is `unix_time / step`; with a step
/// of 1 the time is the counter, which makes it RFC 4226's HOTP). What [`SecondFactors`] checks
/// codes with; the RFC vectors run through it.
///
/// ```
/// use mortar_auth::mfa::{TotpAlgorithm, totp_code};
///
/// // RFC 6238 Appendix B, SHA-1, T = 59.
/// let code = totp_code(TotpAlgorithm::Sha1, 8, 30, b"12345678901234567890", 59).unwrap();
/// assert_eq!(code, "94287082");
/// ```
///
/// # Errors
///
/// [`Error::Config`] for digits outside 6–8 or a step of 0.
pub fn totp_code(
    algorithm: TotpAlgorithm,
    digits: u32,
    step: u64,
    secret: &[u8],
    unix_time: u64,
) -> Result<String, Error> {
    if !(6..=8).contains(&digits) || step == 0 {
        return Err(Error::Config(format!("TOTP: {digits} digits, step {step}")));
    }
    // Unchecked: the RFC vectors' seeds are shorter than totp-rs's 128-bit minimum for new
    // secrets (ours are 160 bits, made by `enroll_totp`).
    let totp = totp_rs::TOTP::new_unchecked(
        algorithm.totp_rs(),
        usize::try_from(digits).unwrap_or(6),
        0,
        step,
        secret.to_vec(),
        None,
        String::new(),
    );
    Ok(totp.generate(unix_time))
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[async_trait]
impl SecondFactorPolicy for SecondFactors {
    async fn required(&self, user: &User) -> Result<bool, Error> {
        self.has_totp(user.id).await
    }

    async fn verify(&self, user: &User, proof: &Proof) -> Result<AuthMethod, Error> {
        SecondFactors::verify(self, user.id, proof).await
    }

    fn accepts(&self, proof: &Proof) -> bool {
        matches!(proof, Proof::Totp(_) | Proof::RecoveryCode(_))
    }
}
