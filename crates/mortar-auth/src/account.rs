//! Account flows: registration, login, e-mail verification, password reset and change.
//!
//! [`Accounts`] ties the pieces together — a [`UserStore`], a [`CodeStore`], [`Passwords`], the
//! [`PasswordPolicy`], an [`AttemptLimiter`], a [`CodeSender`] and an [`AuditRecorder`] — and
//! holds the security decisions so applications do not have to:
//!
//! - **No account enumeration.** Login answers [`Error::InvalidCredentials`] alike for an unknown
//!   account, a wrong password, a locked and a disabled account, and spends the same Argon2 time
//!   in each case (a dummy hash for unknown accounts). Registration of a taken address answers
//!   [`Registered::AlreadyRegistered`], which the HTTP edge renders exactly like a new
//!   registration, and tells the owner by a message instead. Reset requests answer `Ok(())`
//!   whether or not the address exists.
//! - **Brute force.** Failures count per account and per client address in the
//!   [`AttemptLimiter`]; while either is locked, even the right password is refused with the same
//!   error; a success resets both. A limiter that cannot answer fails closed
//!   ([`Error::LimiterUnavailable`]).
//! - **Codes** are single-use, bound to their purpose, expiring, and stored as hashes.
//! - **A completed reset or password change** invalidates every token issued before it
//!   ([`UserChange::RevokeTokens`], which ends sessions at their next refresh, and, given
//!   [`AccountsBuilder::revocations`], every access token at once) and every outstanding reset
//!   link.
//! - **Audit.** Every outcome is reported: `auth.user.registered`, `auth.login` (success or
//!   failure with a reason), `auth.lockout`, `auth.email.verified`, `auth.password.reset`,
//!   `auth.password.changed`, `auth.user.disabled`, `auth.user.enabled`.
//! - **Disabling an account** ([`Accounts::disable_user`]) refuses its logins and ends its
//!   sessions, access tokens and API keys in one call.
//!
//! ```
//! use std::sync::Arc;
//! use mortar_auth::account::{Accounts, Client, LoginOutcome, Registration};
//! use mortar_auth::code::{DevConsoleSender, MemoryCodeStore};
//! use mortar_auth::user::MemoryUserStore;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_auth::Error> {
//! let accounts = Accounts::builder(Arc::new(MemoryUserStore::new()), Arc::new(MemoryCodeStore::new()))
//!     .sender(DevConsoleSender)
//!     .build();
//! let client = Client::default();
//! accounts
//!     .register(Registration::new("alice@example.com", "correct horse battery staple"), &client)
//!     .await?;
//! match accounts.login("alice@example.com", "correct horse battery staple", &client).await? {
//!     LoginOutcome::Authenticated { principal, .. } => assert!(!principal.subject().is_empty()),
//!     LoginOutcome::SecondFactorRequired { .. } => unreachable!("no second factor configured"),
//!     other => unreachable!("{other:?}"),
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use mortar_core::{
    AttemptKey, AttemptLimiter, AuditEvent, AuditRecorder, AuthMethod, Outcome, Principal,
    PrincipalKind, SharedClock, SharedRecorder, SystemClock, TracingRecorder,
};
use secrecy::{ExposeSecret as _, SecretString};

use crate::api_key::ApiKeys;
use crate::attempts::MemoryAttemptLimiter;
use crate::code::{
    CodeMessage, CodeRecord, CodeSender, CodeStore, DevConsoleSender, Purpose, hash_numeric,
    hash_token, new_numeric, new_token,
};
use crate::error::Error;
use crate::password::{PasswordPolicy, Passwords, Verification};
use crate::session::Sessions;
use crate::token::Revocations;
use crate::user::{NewUser, User, UserChange, UserId, UserStore, normalize_email};

/// Who is asking: the client's address, user agent and request id, for limits and audit.
#[derive(Clone, Debug, Default)]
pub struct Client {
    /// The client address (after trusted-proxy resolution).
    pub ip: Option<IpAddr>,
    /// The `User-Agent`.
    pub user_agent: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
}

impl Client {
    /// Adds the client's address, user agent and request id to an audit event.
    pub fn annotate(&self, mut event: AuditEvent) -> AuditEvent {
        if let Some(ip) = self.ip {
            event = event.ip(ip);
        }
        if let Some(ua) = &self.user_agent {
            event = event.user_agent(ua.clone());
        }
        if let Some(id) = &self.request_id {
            event = event.request_id(id.clone());
        }
        event
    }
}

/// A registration request.
#[derive(Clone)]
pub struct Registration {
    /// E-mail address.
    pub email: String,
    /// Chosen password.
    pub password: SecretString,
    /// Optional user name.
    pub username: Option<String>,
}

impl Registration {
    /// A registration with an e-mail address and password.
    pub fn new(email: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            email: email.into(),
            password: SecretString::from(password.into()),
            username: None,
        }
    }

    /// Sets a user name.
    #[must_use]
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// The outcome of a registration. Render both alike at the HTTP edge ("check your e-mail").
// Returned once per request and matched at once: boxing the user would only cost an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum Registered {
    /// A new account; a verification link was sent.
    Created(User),
    /// The address was taken; its owner was told by a message.
    AlreadyRegistered,
}

/// The outcome of a successful password check.
// Returned once per request and matched at once: boxing the user would only cost an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// Logged in.
    Authenticated {
        /// The account.
        user: User,
        /// The principal to issue tokens or a session for.
        principal: Principal,
    },
    /// The password was right, and the account needs a second factor: complete the login with
    /// this short-lived challenge and a factor.
    SecondFactorRequired {
        /// The account.
        user_id: UserId,
        /// The challenge, shown once.
        challenge: SecretString,
        /// When the challenge expires.
        expires_at: SystemTime,
    },
}

/// A second factor presented by the user to complete a login or step up.
#[derive(Clone)]
#[non_exhaustive]
pub enum Proof {
    /// A TOTP code.
    Totp(SecretString),
    /// A recovery code (case, spaces and dashes ignored).
    RecoveryCode(SecretString),
    /// A passkey assertion (feature `webauthn`): the ceremony value from the challenge and the
    /// authenticator's response (the `PublicKeyCredential` JSON).
    Passkey {
        /// The sealed ceremony the options came with.
        ceremony: SecretString,
        /// The browser's `PublicKeyCredential`, as JSON.
        credential: serde_json::Value,
    },
}

impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Totp(_) => "Proof::Totp([REDACTED])",
            Self::RecoveryCode(_) => "Proof::RecoveryCode([REDACTED])",
            Self::Passkey { .. } => "Proof::Passkey([REDACTED])",
        })
    }
}

impl Proof {
    /// A TOTP code.
    pub fn totp(code: impl Into<String>) -> Self {
        Self::Totp(SecretString::from(code.into()))
    }

    /// A recovery code.
    pub fn recovery_code(code: impl Into<String>) -> Self {
        Self::RecoveryCode(SecretString::from(code.into()))
    }

    /// A passkey assertion: the ceremony and the browser's `PublicKeyCredential` JSON.
    pub fn passkey(ceremony: impl Into<String>, credential: serde_json::Value) -> Self {
        Self::Passkey {
            ceremony: SecretString::from(ceremony.into()),
            credential,
        }
    }

    /// The method it proves.
    pub fn method(&self) -> AuthMethod {
        match self {
            Self::Totp(_) => AuthMethod::Totp,
            Self::RecoveryCode(_) => AuthMethod::RecoveryCode,
            Self::Passkey { .. } => AuthMethod::Passkey,
        }
    }
}

/// Decides whether an account needs a second factor after its password, and checks the proof
/// that completes such a login. `mfa::SecondFactors` (feature `totp`) implements it from the
/// enrolled factors; the default requires none.
#[async_trait]
pub trait SecondFactorPolicy: Send + Sync + fmt::Debug + 'static {
    /// Whether `user` must present a second factor.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the factors cannot be read.
    async fn required(&self, user: &User) -> Result<bool, Error>;

    /// Checks (and consumes) `proof` for `user`, answering the method it proved. The default
    /// refuses every proof.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] for a wrong or reused proof; [`Error::InvalidCredentials`] while
    /// the user's second factor is locked out; [`Error::Store`].
    async fn verify(&self, _user: &User, _proof: &Proof) -> Result<AuthMethod, Error> {
        Err(Error::InvalidCode)
    }

    /// Whether this policy checks proofs of this kind (default: every kind), so
    /// [`AnyFactor`] hands each proof to the policy that knows it.
    fn accepts(&self, _proof: &Proof) -> bool {
        true
    }
}

/// Several second factors at once (TOTP and passkeys, say): a user needs a second factor when
/// any policy says so, and a proof goes to the first policy that accepts its kind.
///
/// ```
/// use mortar_auth::account::{AnyFactor, NoSecondFactor};
///
/// let factors = AnyFactor::new().with(NoSecondFactor).with(NoSecondFactor);
/// # let _ = factors;
/// ```
#[derive(Debug, Default)]
pub struct AnyFactor(Vec<Arc<dyn SecondFactorPolicy>>);

impl AnyFactor {
    /// No policies yet (no second factor required).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a policy.
    #[must_use]
    pub fn with(mut self, policy: impl SecondFactorPolicy) -> Self {
        self.0.push(Arc::new(policy));
        self
    }
}

#[async_trait]
impl SecondFactorPolicy for AnyFactor {
    async fn required(&self, user: &User) -> Result<bool, Error> {
        for policy in &self.0 {
            if policy.required(user).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn verify(&self, user: &User, proof: &Proof) -> Result<AuthMethod, Error> {
        match self.0.iter().find(|p| p.accepts(proof)) {
            Some(policy) => policy.verify(user, proof).await,
            None => Err(Error::InvalidCode),
        }
    }

    fn accepts(&self, proof: &Proof) -> bool {
        self.0.iter().any(|p| p.accepts(proof))
    }
}

/// No account needs a second factor.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSecondFactor;

#[async_trait]
impl SecondFactorPolicy for NoSecondFactor {
    async fn required(&self, _user: &User) -> Result<bool, Error> {
        Ok(false)
    }
}

/// How long codes live.
#[derive(Clone, Copy, Debug)]
pub struct CodeLifetimes {
    /// E-mail verification links (default 24 hours).
    pub verify_email: Duration,
    /// Password reset links (default 30 minutes).
    pub reset_password: Duration,
    /// Login challenges after the first factor (default 5 minutes).
    pub login_challenge: Duration,
    /// Passwordless magic links and e-mailed login codes (default 15 minutes).
    pub passwordless: Duration,
}

impl Default for CodeLifetimes {
    fn default() -> Self {
        Self {
            verify_email: Duration::from_hours(24),
            reset_password: Duration::from_mins(30),
            login_challenge: Duration::from_mins(5),
            passwordless: Duration::from_mins(15),
        }
    }
}

struct Inner {
    users: Arc<dyn UserStore>,
    codes: Arc<dyn CodeStore>,
    passwords: Passwords,
    policy: PasswordPolicy,
    limiter: Arc<dyn AttemptLimiter>,
    sender: Arc<dyn CodeSender>,
    recorder: SharedRecorder,
    clock: SharedClock,
    second_factor: Arc<dyn SecondFactorPolicy>,
    lifetimes: CodeLifetimes,
    revocations: Option<Arc<dyn Revocations>>,
    sessions: Option<Sessions>,
    api_keys: Option<ApiKeys>,
}

/// The account flows; cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("users", &self.inner.users)
            .field("codes", &self.inner.codes)
            .field("passwords", &self.inner.passwords)
            .field("limiter", &self.inner.limiter)
            .field("lifetimes", &self.inner.lifetimes)
            .finish_non_exhaustive()
    }
}

/// Builds [`Accounts`]; see [`Accounts::builder`].
#[must_use]
pub struct AccountsBuilder {
    users: Arc<dyn UserStore>,
    codes: Arc<dyn CodeStore>,
    passwords: Option<Passwords>,
    policy: PasswordPolicy,
    limiter: Option<Arc<dyn AttemptLimiter>>,
    sender: Option<Arc<dyn CodeSender>>,
    recorder: SharedRecorder,
    clock: SharedClock,
    second_factor: Arc<dyn SecondFactorPolicy>,
    lifetimes: CodeLifetimes,
    revocations: Option<Arc<dyn Revocations>>,
    sessions: Option<Sessions>,
    api_keys: Option<ApiKeys>,
}

impl fmt::Debug for AccountsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountsBuilder").finish_non_exhaustive()
    }
}

impl AccountsBuilder {
    /// The password hasher (default: [`Passwords::new`], OWASP parameters).
    pub fn passwords(mut self, passwords: Passwords) -> Self {
        self.passwords = Some(passwords);
        self
    }

    /// The password policy (default: [`PasswordPolicy::default`]).
    pub fn policy(mut self, policy: PasswordPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The attempt limiter (default: a [`MemoryAttemptLimiter`] on the builder's clock).
    pub fn limiter(mut self, limiter: impl AttemptLimiter) -> Self {
        self.limiter = Some(Arc::new(limiter));
        self
    }

    /// Delivers codes (default: [`DevConsoleSender`], which prints them: development only).
    pub fn sender(mut self, sender: impl CodeSender) -> Self {
        self.sender = Some(Arc::new(sender));
        self
    }

    /// Receives security events (default: [`TracingRecorder`]).
    pub fn recorder(mut self, recorder: impl AuditRecorder) -> Self {
        self.recorder = Arc::new(recorder);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: impl mortar_core::Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Decides when a second factor is needed (default: never).
    pub fn second_factor(mut self, policy: impl SecondFactorPolicy) -> Self {
        self.second_factor = Arc::new(policy);
        self
    }

    /// How long codes live.
    pub fn lifetimes(mut self, lifetimes: CodeLifetimes) -> Self {
        self.lifetimes = lifetimes;
        self
    }

    /// The access tokens' revocations (`AccessTokens::revocations`): a password reset or
    /// change then also refuses every access token issued before it, at once. Without it they
    /// live out their (short) lifetime, while sessions end at their next refresh either way.
    pub fn revocations(mut self, revocations: Arc<dyn Revocations>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// The sessions: a password reset or change and [`Accounts::disable_user`] then end the
    /// user's sessions (refresh-token and cookie ones) in the store at once, and every access
    /// token through the sessions' revocations (which become [`Self::revocations`] unless set).
    pub fn sessions(mut self, sessions: Sessions) -> Self {
        if self.revocations.is_none() {
            self.revocations = Some(sessions.access_tokens().revocations().clone());
        }
        self.sessions = Some(sessions);
        self
    }

    /// The API keys: [`Accounts::disable_user`] then revokes the user's keys too.
    pub fn api_keys(mut self, api_keys: ApiKeys) -> Self {
        self.api_keys = Some(api_keys);
        self
    }

    /// Finishes.
    pub fn build(self) -> Accounts {
        let limiter = self
            .limiter
            .unwrap_or_else(|| Arc::new(MemoryAttemptLimiter::new().clock(self.clock.clone())));
        let sender = self.sender.unwrap_or_else(|| {
            tracing::warn!(
                target: "mortar::auth",
                "no CodeSender configured: codes are printed to stderr (development only)"
            );
            Arc::new(DevConsoleSender)
        });
        Accounts {
            inner: Arc::new(Inner {
                users: self.users,
                codes: self.codes,
                passwords: self.passwords.unwrap_or_default(),
                policy: self.policy,
                limiter,
                sender,
                recorder: self.recorder,
                clock: self.clock,
                second_factor: self.second_factor,
                lifetimes: self.lifetimes,
                revocations: self.revocations,
                sessions: self.sessions,
                api_keys: self.api_keys,
            }),
        }
    }
}

/// Why a login failed, for the audit log only (the client always sees the same error).
#[derive(Clone, Copy)]
enum Failure {
    UnknownAccount,
    WrongPassword,
    Locked,
    Disabled,
    NoPassword,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Self::UnknownAccount => "unknown_account",
            Self::WrongPassword => "wrong_password",
            Self::Locked => "locked",
            Self::Disabled => "disabled",
            Self::NoPassword => "no_password",
        }
    }
}

/// A login challenge: `{first method}.{256 random bits}`. The prefix names the factor already
/// passed, so completing the challenge can report both; it is not secret, and changing it
/// changes the hash, so it cannot be forged.
fn new_challenge(first: &AuthMethod) -> SecretString {
    let tag = match first {
        AuthMethod::OAuth(provider) => format!("oauth-{provider}"),
        other => other.amr().to_owned(),
    };
    SecretString::from(format!("{tag}.{}", new_token().expose_secret()))
}

/// The first method a challenge made by [`new_challenge`] names (a password for older ones).
fn challenge_method(challenge: &str) -> AuthMethod {
    match challenge.split_once('.') {
        Some((tag, _)) => match tag.strip_prefix("oauth-") {
            Some(provider) => AuthMethod::OAuth(provider.to_owned()),
            None => AuthMethod::from_amr(tag),
        },
        None => AuthMethod::Password,
    }
}

fn is_plausible_email(email: &str) -> bool {
    let email = email.trim();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && email.len() <= 320
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Accounts {
    /// Starts building the flows on these stores.
    pub fn builder(users: Arc<dyn UserStore>, codes: Arc<dyn CodeStore>) -> AccountsBuilder {
        AccountsBuilder {
            users,
            codes,
            passwords: None,
            policy: PasswordPolicy::default(),
            limiter: None,
            sender: None,
            recorder: Arc::new(TracingRecorder),
            clock: SystemClock::shared(),
            second_factor: Arc::new(NoSecondFactor),
            lifetimes: CodeLifetimes::default(),
            revocations: None,
            sessions: None,
            api_keys: None,
        }
    }

    /// The user store.
    pub fn users(&self) -> &Arc<dyn UserStore> {
        &self.inner.users
    }

    /// The password hasher.
    pub fn passwords(&self) -> &Passwords {
        &self.inner.passwords
    }

    fn event(&self, action: &'static str, outcome: Outcome, client: &Client) -> AuditEvent {
        client.annotate(AuditEvent::new(action, outcome).at(self.inner.clock.now()))
    }

    pub(crate) fn user_event(
        &self,
        action: &'static str,
        outcome: Outcome,
        user: &User,
        client: &Client,
    ) -> AuditEvent {
        self.event(action, outcome, client)
            .actor_subject(user.id.to_string(), PrincipalKind::User)
            .target("user", user.id.to_string())
    }

    /// Records a security event.
    #[cfg_attr(not(feature = "oauth"), allow(dead_code))]
    pub(crate) fn record(&self, event: AuditEvent) {
        self.inner.recorder.record(event);
    }

    /// The clock's now.
    #[cfg_attr(not(feature = "oauth"), allow(dead_code))]
    pub(crate) fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// Sends an e-mail verification link, as registration does.
    #[cfg_attr(not(feature = "oauth"), allow(dead_code))]
    pub(crate) async fn send_verification(&self, user: &User) -> Result<(), Error> {
        self.send_link(
            user,
            Purpose::VerifyEmail,
            Purpose::VerifyEmail,
            self.inner.lifetimes.verify_email,
        )
        .await
    }

    /// Issues a link token for `user` and hands it to the sender.
    async fn send_link(
        &self,
        user: &User,
        purpose: Purpose,
        stored_as: Purpose,
        ttl: Duration,
    ) -> Result<(), Error> {
        let now = self.inner.clock.now();
        let token = new_token();
        let expires_at = now + ttl;
        self.inner
            .codes
            .put(
                &hash_token(token.expose_secret()),
                CodeRecord {
                    purpose: stored_as,
                    user_id: user.id,
                    expires_at,
                    created_at: now,
                },
            )
            .await?;
        self.inner
            .sender
            .send(CodeMessage {
                purpose,
                user: user.clone(),
                secret: token,
                expires_at,
            })
            .await
    }

    /// Registers an account: checks the address and the password policy, hashes the password,
    /// creates the user and sends an e-mail verification link.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEmail`], [`Error::WeakPassword`], [`Error::Conflict`] for a taken user
    /// name (user names are public; addresses are not, see [`Registered::AlreadyRegistered`]),
    /// [`Error::Busy`], [`Error::Store`], or the sender's error.
    pub async fn register(
        &self,
        registration: Registration,
        client: &Client,
    ) -> Result<Registered, Error> {
        if !is_plausible_email(&registration.email) {
            return Err(Error::InvalidEmail);
        }
        let mut inputs = vec![registration.email.as_str()];
        inputs.extend(registration.username.as_deref());
        self.inner
            .policy
            .check(registration.password.expose_secret(), &inputs)
            .map_err(Error::WeakPassword)?;
        let hash = self
            .inner
            .passwords
            .hash(registration.password.expose_secret())
            .await?;
        let mut new = NewUser::new(registration.email.clone()).password_hash(hash);
        if let Some(username) = registration.username {
            new = new.username(username);
        }
        match self.inner.users.create(new, self.inner.clock.now()).await {
            Ok(user) => {
                self.inner.recorder.record(self.user_event(
                    "auth.user.registered",
                    Outcome::Success,
                    &user,
                    client,
                ));
                self.send_link(
                    &user,
                    Purpose::VerifyEmail,
                    Purpose::VerifyEmail,
                    self.inner.lifetimes.verify_email,
                )
                .await?;
                Ok(Registered::Created(user))
            }
            Err(Error::Conflict("email")) => {
                if let Some(owner) = self.inner.users.by_email(&registration.email).await? {
                    // The owner gets a reset link: "was this you? reset your password here".
                    self.send_link(
                        &owner,
                        Purpose::AccountExists,
                        Purpose::ResetPassword,
                        self.inner.lifetimes.reset_password,
                    )
                    .await?;
                }
                self.inner.recorder.record(
                    self.event("auth.user.registered", Outcome::Failure, client)
                        .meta("reason", "address_taken"),
                );
                Ok(Registered::AlreadyRegistered)
            }
            Err(other) => Err(other),
        }
    }

    /// Checks a password login by e-mail address (or user name, when `identifier` has no `@`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] for an unknown account, a wrong password, a locked or a
    /// disabled account, alike; [`Error::LimiterUnavailable`] when the attempt limiter cannot
    /// answer (fail closed); [`Error::Busy`]; [`Error::Store`].
    pub async fn login(
        &self,
        identifier: &str,
        password: &str,
        client: &Client,
    ) -> Result<LoginOutcome, Error> {
        let account_key = AttemptKey::account(normalize_email(identifier));
        let client_key = client.ip.map(AttemptKey::client);
        let keys: Vec<&AttemptKey> = std::iter::once(&account_key)
            .chain(client_key.as_ref())
            .collect();

        let mut locked = false;
        for key in &keys {
            if !self
                .inner
                .limiter
                .check(key)
                .await
                .map_err(Error::LimiterUnavailable)?
                .is_allowed()
            {
                locked = true;
            }
        }
        let user = if identifier.contains('@') {
            self.inner.users.by_email(identifier).await?
        } else {
            self.inner.users.by_username(identifier).await?
        };
        match (self.judge(user.as_ref(), locked, password).await?, user) {
            (None, Some(user)) => self.succeed(user, &keys, client).await,
            (failure, user) => Err(self
                .fail(
                    failure.unwrap_or(Failure::UnknownAccount),
                    user.as_ref(),
                    &keys,
                    client,
                )
                .await),
        }
    }

    /// Decides a login attempt, spending exactly one Argon2 verification on every path so timing
    /// does not tell them apart; stores an upgraded hash on success. `None` means success.
    async fn judge(
        &self,
        user: Option<&User>,
        locked: bool,
        password: &str,
    ) -> Result<Option<Failure>, Error> {
        let stored = user.and_then(|u| u.password_hash.as_deref());
        let (Some(user), Some(stored), false) = (user, stored, locked) else {
            self.inner.passwords.verify_dummy(password).await?;
            return Ok(Some(match (user, locked) {
                (_, true) => Failure::Locked,
                (None, false) => Failure::UnknownAccount,
                (Some(_), false) => Failure::NoPassword,
            }));
        };
        match self.inner.passwords.verify(password, stored).await? {
            Verification::Invalid => Ok(Some(Failure::WrongPassword)),
            Verification::Valid { .. } if user.is_disabled() => Ok(Some(Failure::Disabled)),
            Verification::Valid { upgraded } => {
                if let Some(new_hash) = upgraded {
                    self.inner
                        .users
                        .update(
                            user.id,
                            UserChange::PasswordHash(new_hash),
                            self.inner.clock.now(),
                        )
                        .await?;
                }
                Ok(None)
            }
        }
    }

    /// Counts a failed login, audits it (and a lockout it causes) and returns the one error every
    /// failure gets.
    async fn fail(
        &self,
        failure: Failure,
        user: Option<&User>,
        keys: &[&AttemptKey],
        client: &Client,
    ) -> Error {
        let mut newly_locked = false;
        if !matches!(failure, Failure::Locked | Failure::Disabled) {
            for key in keys {
                match self.inner.limiter.record_failure(key).await {
                    Ok(status) => newly_locked |= !status.is_allowed(),
                    Err(e) => return Error::LimiterUnavailable(e),
                }
            }
        }
        let mut event = self
            .event("auth.login", Outcome::Failure, client)
            .meta("reason", failure.as_str());
        if let Some(user) = user {
            event = event
                .actor_subject(user.id.to_string(), PrincipalKind::User)
                .target("user", user.id.to_string());
        }
        if newly_locked {
            let mut lockout = self.event("auth.lockout", Outcome::Denied, client);
            lockout.target.clone_from(&event.target);
            self.inner.recorder.record(event);
            self.inner.recorder.record(lockout);
        } else {
            self.inner.recorder.record(event);
        }
        Error::InvalidCredentials
    }

    /// Resets the failure counts and finishes the login: a principal, or a second-factor
    /// challenge.
    async fn succeed(
        &self,
        user: User,
        keys: &[&AttemptKey],
        client: &Client,
    ) -> Result<LoginOutcome, Error> {
        for key in keys {
            self.inner
                .limiter
                .reset(key)
                .await
                .map_err(Error::LimiterUnavailable)?;
        }
        self.first_factor_passed(user, AuthMethod::Password, client)
            .await
    }

    /// A login proven by one method that is multi-factor by itself (a passkey with user
    /// verification): a principal, no challenge.
    #[cfg_attr(not(feature = "webauthn"), allow(dead_code))]
    pub(crate) fn multi_factor_login(
        &self,
        user: User,
        method: AuthMethod,
        client: &Client,
    ) -> LoginOutcome {
        let now = self.inner.clock.now();
        self.inner.recorder.record(
            self.user_event("auth.login", Outcome::Success, &user, client)
                .meta("method", method.amr()),
        );
        let principal = Principal::user(user.id.to_string())
            .method(method)
            .second_factor(true)
            .authenticated_at(now)
            .build();
        LoginOutcome::Authenticated { user, principal }
    }

    /// The user a login challenge belongs to, leaving the challenge usable (to prepare the
    /// second factor, e.g. a passkey's options).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] for an unknown, used or expired challenge; [`Error::Store`].
    pub async fn challenge_user(&self, challenge: &str) -> Result<User, Error> {
        let hash = hash_token(challenge);
        let record = self
            .inner
            .codes
            .take(&hash, Purpose::LoginChallenge, self.inner.clock.now())
            .await?
            .ok_or(Error::InvalidCode)?;
        let user_id = record.user_id;
        self.inner.codes.put(&hash, record).await?;
        self.active_user(user_id).await
    }

    /// Finishes a login whose first factor (`method`: a password, an e-mailed link or code, a
    /// federated identity, a passkey) was right: a principal, or — when the account needs a
    /// second factor — a challenge that remembers the first method.
    pub(crate) async fn first_factor_passed(
        &self,
        user: User,
        method: AuthMethod,
        client: &Client,
    ) -> Result<LoginOutcome, Error> {
        let now = self.inner.clock.now();
        if self.inner.second_factor.required(&user).await? {
            let challenge = new_challenge(&method);
            let expires_at = now + self.inner.lifetimes.login_challenge;
            self.inner
                .codes
                .put(
                    &hash_token(challenge.expose_secret()),
                    CodeRecord {
                        purpose: Purpose::LoginChallenge,
                        user_id: user.id,
                        expires_at,
                        created_at: now,
                    },
                )
                .await?;
            self.inner.recorder.record(
                self.user_event("auth.login", Outcome::Success, &user, client)
                    .meta("method", method.amr())
                    .meta("second_factor", "required"),
            );
            return Ok(LoginOutcome::SecondFactorRequired {
                user_id: user.id,
                challenge,
                expires_at,
            });
        }
        self.inner.recorder.record(
            self.user_event("auth.login", Outcome::Success, &user, client)
                .meta("method", method.amr()),
        );
        let principal = Principal::user(user.id.to_string())
            .method(method)
            .authenticated_at(now)
            .build();
        Ok(LoginOutcome::Authenticated { user, principal })
    }

    /// Completes a login that answered [`LoginOutcome::SecondFactorRequired`]: the challenge and
    /// a second factor. The principal carries both methods (`amr` `["pwd", "otp", "mfa"]` for
    /// a password and TOTP, `["email", "otp", "mfa"]` after a magic link). A wrong code leaves the challenge usable until it expires — the second-factor
    /// limiter bounds the guesses — while a right one consumes it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] for an unknown, used or expired challenge or a wrong proof;
    /// [`Error::InvalidCredentials`] while the second factor is locked out;
    /// [`Error::LimiterUnavailable`]; [`Error::Store`].
    pub async fn complete_login(
        &self,
        challenge: &str,
        proof: &Proof,
        client: &Client,
    ) -> Result<LoginOutcome, Error> {
        let now = self.inner.clock.now();
        let hash = hash_token(challenge);
        let record = self
            .inner
            .codes
            .take(&hash, Purpose::LoginChallenge, now)
            .await?
            .ok_or(Error::InvalidCode)?;
        let user = self.active_user(record.user_id).await?;
        match self.inner.second_factor.verify(&user, proof).await {
            Ok(method) => {
                self.inner.recorder.record(
                    self.user_event("auth.login.second_factor", Outcome::Success, &user, client)
                        .meta("method", method.amr()),
                );
                let principal = Principal::user(user.id.to_string())
                    .method(challenge_method(challenge))
                    .method(method)
                    .second_factor(true)
                    .authenticated_at(now)
                    .build();
                Ok(LoginOutcome::Authenticated { user, principal })
            }
            Err(error) => {
                if matches!(error, Error::InvalidCode) {
                    self.inner.codes.put(&hash, record).await?;
                }
                self.inner.recorder.record(
                    self.user_event("auth.login.second_factor", Outcome::Failure, &user, client)
                        .meta("method", proof.method().amr()),
                );
                Err(error)
            }
        }
    }

    /// Counts a request to send mail to `email` under `scope`; `false` once the address has had
    /// its share (the attempt limiter's threshold), so a mailbox cannot be flooded.
    async fn may_send(&self, scope: &'static str, email: &str) -> Result<bool, Error> {
        let key = AttemptKey::new(scope, normalize_email(email));
        let status = self
            .inner
            .limiter
            .record_failure(&key)
            .await
            .map_err(Error::LimiterUnavailable)?;
        Ok(status.is_allowed())
    }

    /// Starts a passwordless login: e-mails a magic link (a single-use token living
    /// [`CodeLifetimes::passwordless`]) when the address belongs to an active account; an earlier
    /// link stops working. Answers `Ok(())` in every case, so it reveals nothing about the
    /// address; requests per address are limited (scope `passwordless`).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use mortar_auth::account::{Accounts, Client, LoginOutcome};
    /// use mortar_auth::code::{sender_fn, MemoryCodeStore};
    /// use mortar_auth::user::{MemoryUserStore, NewUser, UserStore as _};
    /// use secrecy::ExposeSecret as _;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_auth::Error> {
    /// let users = Arc::new(MemoryUserStore::new());
    /// users.create(NewUser::new("ada@example.com"), std::time::SystemTime::now()).await?;
    /// let inbox = Arc::new(Mutex::new(Vec::new()));
    /// let sent = inbox.clone();
    /// let accounts = Accounts::builder(users, Arc::new(MemoryCodeStore::new()))
    ///     .sender(sender_fn(move |message| {
    ///         sent.lock().unwrap().push(message.secret.expose_secret().to_owned());
    ///         async { Ok(()) }
    ///     }))
    ///     .build();
    ///
    /// accounts.request_login_link("ada@example.com", &Client::default()).await?;
    /// let token = inbox.lock().unwrap().pop().unwrap();
    /// let outcome = accounts.login_with_link(&token, &Client::default()).await?;
    /// assert!(matches!(outcome, LoginOutcome::Authenticated { .. }));
    /// // Single-use.
    /// assert!(accounts.login_with_link(&token, &Client::default()).await.is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::LimiterUnavailable`], [`Error::Store`] or the sender's error.
    pub async fn request_login_link(&self, email: &str, client: &Client) -> Result<(), Error> {
        let lifetime = self.inner.lifetimes.passwordless;
        if let Some(user) = self
            .send_fresh_link("passwordless", email, Purpose::Passwordless, lifetime)
            .await?
        {
            self.inner.recorder.record(
                self.user_event(
                    "auth.passwordless.requested",
                    Outcome::Success,
                    &user,
                    client,
                )
                .meta("via", "link"),
            );
        }
        Ok(())
    }

    /// Completes a passwordless login with the magic link's token. Opening the link proves the
    /// address, so an unverified one becomes verified. An account with a second factor answers
    /// [`LoginOutcome::SecondFactorRequired`]: the link is only the first factor.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] when the token is unknown, used, expired or for another purpose,
    /// or the account is disabled; [`Error::Store`].
    pub async fn login_with_link(
        &self,
        token: &str,
        client: &Client,
    ) -> Result<LoginOutcome, Error> {
        let now = self.inner.clock.now();
        let record = self
            .inner
            .codes
            .take(&hash_token(token), Purpose::Passwordless, now)
            .await?
            .ok_or(Error::InvalidCode)?;
        let user = self.active_user(record.user_id).await?;
        let user = if user.is_email_verified() {
            user
        } else {
            self.inner
                .users
                .update(user.id, UserChange::EmailVerified, now)
                .await?
        };
        self.first_factor_passed(user, AuthMethod::EmailCode, client)
            .await
    }

    /// Starts a passwordless login with a 6-digit code e-mailed to an active account (for apps
    /// where the user types the code in the same window). Like [`Self::request_login_link`]:
    /// `Ok(())` in every case, an earlier code stops working, requests per address limited.
    ///
    /// # Errors
    ///
    /// [`Error::LimiterUnavailable`], [`Error::Store`] or the sender's error.
    pub async fn request_login_code(&self, email: &str, client: &Client) -> Result<(), Error> {
        if !self.may_send("passwordless", email).await? {
            return Ok(());
        }
        let Some(user) = self.inner.users.by_email(email).await? else {
            return Ok(());
        };
        if user.is_disabled() {
            return Ok(());
        }
        self.inner.codes.revoke(user.id, Purpose::LoginCode).await?;
        let now = self.inner.clock.now();
        let code = new_numeric(6);
        let expires_at = now + self.inner.lifetimes.passwordless;
        self.inner
            .codes
            .put(
                &hash_numeric(user.id, Purpose::LoginCode, code.expose_secret()),
                CodeRecord {
                    purpose: Purpose::LoginCode,
                    user_id: user.id,
                    expires_at,
                    created_at: now,
                },
            )
            .await?;
        self.inner
            .sender
            .send(CodeMessage {
                purpose: Purpose::LoginCode,
                user: user.clone(),
                secret: code,
                expires_at,
            })
            .await?;
        self.inner.recorder.record(
            self.user_event(
                "auth.passwordless.requested",
                Outcome::Success,
                &user,
                client,
            )
            .meta("via", "code"),
        );
        Ok(())
    }

    /// Completes a passwordless login with the address and the e-mailed code. Wrong codes count
    /// in the attempt limiter (scope `login_code`, per address): once it locks, even the right
    /// code is refused until the lock ends, so 6 digits cannot be guessed. Like a magic link it
    /// verifies the address and may answer [`LoginOutcome::SecondFactorRequired`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] for a wrong, used or expired code, an unknown or disabled account
    /// or a locked address, alike; [`Error::LimiterUnavailable`]; [`Error::Store`].
    pub async fn login_with_code(
        &self,
        email: &str,
        code: &str,
        client: &Client,
    ) -> Result<LoginOutcome, Error> {
        let key = AttemptKey::new("login_code", normalize_email(email));
        let limiter = &self.inner.limiter;
        let allowed = limiter
            .check(&key)
            .await
            .map_err(Error::LimiterUnavailable)?
            .is_allowed();
        let user = self.inner.users.by_email(email).await?;
        let now = self.inner.clock.now();
        let record = match (&user, allowed) {
            (Some(user), true) => {
                let code = code.trim();
                self.inner
                    .codes
                    .take(
                        &hash_numeric(user.id, Purpose::LoginCode, code),
                        Purpose::LoginCode,
                        now,
                    )
                    .await?
            }
            _ => None,
        };
        let Some(user) = user.filter(|u| record.is_some() && !u.is_disabled()) else {
            if allowed {
                limiter
                    .record_failure(&key)
                    .await
                    .map_err(Error::LimiterUnavailable)?;
            }
            self.inner.recorder.record(
                self.event("auth.login", Outcome::Failure, client)
                    .meta("method", AuthMethod::EmailCode.amr())
                    .meta("reason", if allowed { "invalid_code" } else { "locked" }),
            );
            return Err(Error::InvalidCode);
        };
        limiter
            .reset(&key)
            .await
            .map_err(Error::LimiterUnavailable)?;
        let user = if user.is_email_verified() {
            user
        } else {
            self.inner
                .users
                .update(user.id, UserChange::EmailVerified, now)
                .await?
        };
        self.first_factor_passed(user, AuthMethod::EmailCode, client)
            .await
    }

    /// The user `id`, unless gone or disabled ([`Error::InvalidCode`]: the code that named it is
    /// spent either way).
    async fn active_user(&self, id: UserId) -> Result<User, Error> {
        self.inner
            .users
            .by_id(id)
            .await?
            .filter(|u| !u.is_disabled())
            .ok_or(Error::InvalidCode)
    }

    /// Confirms an e-mail address with the link token sent at registration.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] when the token is unknown, used, expired or for another purpose;
    /// [`Error::Store`].
    pub async fn verify_email(&self, token: &str, client: &Client) -> Result<User, Error> {
        let now = self.inner.clock.now();
        let record = self
            .inner
            .codes
            .take(&hash_token(token), Purpose::VerifyEmail, now)
            .await?
            .ok_or(Error::InvalidCode)?;
        let user = self
            .inner
            .users
            .update(record.user_id, UserChange::EmailVerified, now)
            .await
            .map_err(|e| {
                if matches!(e, Error::NotFound) {
                    Error::InvalidCode
                } else {
                    e
                }
            })?;
        self.inner.recorder.record(self.user_event(
            "auth.email.verified",
            Outcome::Success,
            &user,
            client,
        ));
        Ok(user)
    }

    /// Sends a new verification link, when the address belongs to an unverified account.
    /// Answers `Ok(())` in every case, so it reveals nothing about the address.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] or the sender's error.
    pub async fn resend_verification(&self, email: &str) -> Result<(), Error> {
        if let Some(user) = self.inner.users.by_email(email).await?
            && !user.is_email_verified()
            && !user.is_disabled()
        {
            self.inner
                .codes
                .revoke(user.id, Purpose::VerifyEmail)
                .await?;
            self.send_link(
                &user,
                Purpose::VerifyEmail,
                Purpose::VerifyEmail,
                self.inner.lifetimes.verify_email,
            )
            .await?;
        }
        Ok(())
    }

    /// Starts a password reset: sends a reset link when the address belongs to an active
    /// account. Answers `Ok(())` in every case. Requests per address are limited through the
    /// attempt limiter (scope `reset`), so the mailbox cannot be flooded.
    ///
    /// # Errors
    ///
    /// [`Error::LimiterUnavailable`], [`Error::Store`] or the sender's error.
    pub async fn request_password_reset(&self, email: &str, client: &Client) -> Result<(), Error> {
        let lifetime = self.inner.lifetimes.reset_password;
        if let Some(user) = self
            .send_fresh_link("reset", email, Purpose::ResetPassword, lifetime)
            .await?
        {
            self.inner.recorder.record(self.user_event(
                "auth.password.reset_requested",
                Outcome::Success,
                &user,
                client,
            ));
        }
        Ok(())
    }

    /// Sends the active account at `email` a fresh link for `purpose` (an earlier one stops
    /// working), within the address's share of mail under `scope`; answers the account it went
    /// to.
    async fn send_fresh_link(
        &self,
        scope: &'static str,
        email: &str,
        purpose: Purpose,
        lifetime: Duration,
    ) -> Result<Option<User>, Error> {
        if !self.may_send(scope, email).await? {
            return Ok(None);
        }
        let Some(user) = self
            .inner
            .users
            .by_email(email)
            .await?
            .filter(|u| !u.is_disabled())
        else {
            return Ok(None);
        };
        self.inner.codes.revoke(user.id, purpose).await?;
        self.send_link(&user, purpose, purpose, lifetime).await?;
        Ok(Some(user))
    }

    /// Completes a password reset with the link token: checks the policy, stores the new hash,
    /// invalidates every earlier token and every other reset link, and clears the account's
    /// login failures.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`], [`Error::WeakPassword`] (the token is then spent: request a new
    /// one), [`Error::Busy`], [`Error::Store`].
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        client: &Client,
    ) -> Result<User, Error> {
        let now = self.inner.clock.now();
        let record = self
            .inner
            .codes
            .take(&hash_token(token), Purpose::ResetPassword, now)
            .await?
            .ok_or(Error::InvalidCode)?;
        let user = self.active_user(record.user_id).await?;
        let user = self.set_password(&user, new_password, client).await?;
        self.inner
            .codes
            .revoke(user.id, Purpose::ResetPassword)
            .await?;
        self.inner
            .limiter
            .reset(&AttemptKey::account(normalize_email(&user.email)))
            .await
            .map_err(Error::LimiterUnavailable)?;
        self.inner.recorder.record(self.user_event(
            "auth.password.reset",
            Outcome::Success,
            &user,
            client,
        ));
        Ok(user)
    }

    /// Changes a password, given the current one; invalidates every earlier token.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCredentials`] when the current password is wrong (counted as a login
    /// failure), [`Error::WeakPassword`], [`Error::NotFound`], [`Error::Busy`], [`Error::Store`].
    pub async fn change_password(
        &self,
        user_id: UserId,
        current: &str,
        new_password: &str,
        client: &Client,
    ) -> Result<User, Error> {
        let user = self
            .inner
            .users
            .by_id(user_id)
            .await?
            .ok_or(Error::NotFound)?;
        let key = AttemptKey::account(normalize_email(&user.email));
        if !self
            .inner
            .limiter
            .check(&key)
            .await
            .map_err(Error::LimiterUnavailable)?
            .is_allowed()
        {
            return Err(Error::InvalidCredentials);
        }
        let valid = match &user.password_hash {
            Some(stored) => self
                .inner
                .passwords
                .verify(current, stored)
                .await?
                .is_valid(),
            None => false,
        };
        if !valid {
            self.inner
                .limiter
                .record_failure(&key)
                .await
                .map_err(Error::LimiterUnavailable)?;
            self.inner.recorder.record(
                self.user_event("auth.password.changed", Outcome::Failure, &user, client)
                    .meta("reason", "wrong_password"),
            );
            return Err(Error::InvalidCredentials);
        }
        let user = self.set_password(&user, new_password, client).await?;
        self.inner.recorder.record(self.user_event(
            "auth.password.changed",
            Outcome::Success,
            &user,
            client,
        ));
        Ok(user)
    }

    /// Policy, hash, store, and revoke earlier tokens.
    async fn set_password(
        &self,
        user: &User,
        new_password: &str,
        client: &Client,
    ) -> Result<User, Error> {
        let mut inputs = vec![user.email.as_str()];
        inputs.extend(user.username.as_deref());
        self.inner
            .policy
            .check(new_password, &inputs)
            .map_err(Error::WeakPassword)?;
        let hash = self.inner.passwords.hash(new_password).await?;
        let now = self.inner.clock.now();
        self.inner
            .users
            .update(user.id, UserChange::PasswordHash(hash), now)
            .await?;
        self.end_everything(user, now, client).await
    }

    /// Invalidates every token of the user issued until `now`: the user's cut-off, every session
    /// in the store (given [`AccountsBuilder::sessions`]) and every access token (given
    /// revocations).
    async fn end_everything(
        &self,
        user: &User,
        now: SystemTime,
        client: &Client,
    ) -> Result<User, Error> {
        let user = self
            .inner
            .users
            .update(user.id, UserChange::RevokeTokens, now)
            .await?;
        if let Some(sessions) = &self.inner.sessions {
            // Revokes each session and the subject's access tokens.
            sessions.revoke_all(user.id, client).await?;
        } else if let Some(revocations) = &self.inner.revocations {
            revocations
                .revoke_subject_before(&user.id.to_string(), now)
                .await?;
        }
        Ok(user)
    }

    /// Disables an account (an administrator's or a service's action, `by`): login is refused
    /// from now on (with the same error as a wrong password), every session ends, every access
    /// token issued until now is refused, and, given [`AccountsBuilder::api_keys`], the user's
    /// API keys are revoked. Reported as `auth.user.disabled`.
    ///
    /// Sessions end in the store only given [`AccountsBuilder::sessions`]; without it refresh
    /// tokens stop working at their next use and cookie sessions within
    /// [`SessionLifetimes::touch_interval`](crate::session::SessionLifetimes::touch_interval).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mortar_auth::account::{Accounts, Client, Registration};
    /// # use mortar_auth::code::{MemoryCodeStore, sender_fn};
    /// # use mortar_auth::user::MemoryUserStore;
    /// # use mortar_core::Principal;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), mortar_auth::Error> {
    /// # let accounts = Accounts::builder(Arc::new(MemoryUserStore::new()), Arc::new(MemoryCodeStore::new()))
    /// #     .sender(sender_fn(|_| async { Ok(()) })).build();
    /// # let client = Client::default();
    /// # accounts.register(Registration::new("eve@example.com", "a long enough passphrase"), &client).await?;
    /// let user = accounts.users().by_email("eve@example.com").await?.unwrap();
    /// let admin = Principal::user("admin-1").build();
    /// let user = accounts.disable_user(user.id, &admin, &client).await?;
    /// assert!(user.is_disabled());
    /// assert!(accounts.login("eve@example.com", "a long enough passphrase", &client).await.is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown user; [`Error::Store`].
    pub async fn disable_user(
        &self,
        user_id: UserId,
        by: &Principal,
        client: &Client,
    ) -> Result<User, Error> {
        let (user, now) = self.set_disabled(user_id, true, by, client).await?;
        let user = self.end_everything(&user, now, client).await?;
        if let Some(keys) = &self.inner.api_keys {
            for key in keys.list(&user.id.to_string()).await? {
                if key.revoked_at.is_none() {
                    keys.revoke(&key.id).await?;
                }
            }
        }
        Ok(user)
    }

    /// Re-enables a disabled account: the user can sign in again. Sessions, tokens and API keys
    /// ended by [`Self::disable_user`] stay ended. Reported as `auth.user.enabled`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown user; [`Error::Store`].
    pub async fn enable_user(
        &self,
        user_id: UserId,
        by: &Principal,
        client: &Client,
    ) -> Result<User, Error> {
        Ok(self.set_disabled(user_id, false, by, client).await?.0)
    }

    /// Marks the account disabled or enabled and reports it.
    async fn set_disabled(
        &self,
        user_id: UserId,
        disabled: bool,
        by: &Principal,
        client: &Client,
    ) -> Result<(User, SystemTime), Error> {
        let now = self.inner.clock.now();
        let user = self
            .inner
            .users
            .update(user_id, UserChange::Disabled(disabled), now)
            .await?;
        let action = if disabled {
            "auth.user.disabled"
        } else {
            "auth.user.enabled"
        };
        self.inner.recorder.record(
            self.event(action, Outcome::Success, client)
                .actor(by)
                .target("user", user.id.to_string()),
        );
        Ok((user, now))
    }
}
