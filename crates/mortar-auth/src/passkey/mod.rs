//! Passkeys — WebAuthn (feature `webauthn`, through webauthn-rs): registration and
//! authentication ceremonies, passwordless login, and a second factor.
//!
//! A ceremony's state (the challenge and what it allows) is sealed (AES-256-GCM) into the
//! `ceremony` value handed to the client with the options, and its hash is kept in the
//! [`CodeStore`] until it is used: each ceremony completes once, within five minutes, for the
//! user it was started for. Credentials live in a [`PasskeyStore`] (memory, or SQL with the `sql`
//! features); the signature counter is kept, so a cloned authenticator is refused.
//!
//! Logins require user verification (a PIN or biometric on the device), so a passkey login is
//! multi-factor by itself: `amr` `["hwk", "mfa"]`, no second challenge. As a second factor after
//! a password (through [`crate::account::AnyFactor`] beside TOTP), a passkey completes the login
//! challenge with [`crate::account::Proof::Passkey`].
//!
//! A login by address answers options for an unknown address too — with credential ids derived
//! from the address by a keyed hash, as an existing account's would look — so the endpoint does
//! not reveal who has an account.

mod memory;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mortar_core::{
    AuditEvent, AuditRecorder, AuthMethod, Outcome, PrincipalKind, SharedClock, SharedRecorder,
    SystemClock, TracingRecorder,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use webauthn_rs::fake::{FakePasskeyDistribution, WebauthnFakeCredentialGenerator};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Webauthn,
    WebauthnBuilder,
};
use webauthn_rs_proto::{
    AllowCredentials, PublicKeyCredentialRequestOptions, UserVerificationPolicy,
};

pub use memory::MemoryPasskeyStore;

use crate::account::{Accounts, Client, LoginOutcome, Proof, SecondFactorPolicy};
use crate::code::{CodeRecord, CodeStore, Purpose, hash_token, new_token};
use crate::error::Error;
use crate::seal::Sealer;
use crate::user::{User, UserId, UserStore};

/// A registered passkey.
#[derive(Clone)]
#[non_exhaustive]
pub struct PasskeyCredential {
    /// The credential id, base64url.
    pub id: String,
    /// Its user.
    pub user_id: UserId,
    /// The name the user gave it (a laptop, a security key).
    pub name: String,
    /// The public key and counter (webauthn-rs's `Passkey`).
    pub passkey: Passkey,
    /// When it was registered.
    pub created_at: SystemTime,
    /// When it last signed in.
    pub last_used_at: Option<SystemTime>,
}

impl fmt::Debug for PasskeyCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasskeyCredential")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

/// The base64url id of a passkey's credential.
fn credential_id(passkey: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice())
}

impl PasskeyCredential {
    /// A credential just registered.
    pub fn new(
        user_id: UserId,
        name: impl Into<String>,
        passkey: Passkey,
        now: SystemTime,
    ) -> Self {
        Self {
            id: credential_id(&passkey),
            user_id,
            name: name.into(),
            passkey,
            created_at: now,
            last_used_at: None,
        }
    }
}

/// Where passkeys live.
///
/// Contract (the conformance suite checks it on every backend): credential ids are unique
/// (`insert` answers [`Error::Conflict`]`("passkey")` for a known one); `for_user` lists a user's
/// passkeys oldest first; `update` replaces the stored key material (its counter) and the last
/// use; `remove` removes only the named user's passkey.
#[async_trait]
pub trait PasskeyStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new passkey.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`]`("passkey")`; [`Error::Store`].
    async fn insert(&self, credential: PasskeyCredential) -> Result<(), Error>;

    /// A user's passkeys, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn for_user(&self, user_id: UserId) -> Result<Vec<PasskeyCredential>, Error>;

    /// Records a use: the updated key material (counter) and its time.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Store`].
    async fn update(&self, id: &str, passkey: &Passkey, used_at: SystemTime) -> Result<(), Error>;

    /// Removes a user's passkey; `false` when the user has none with that id.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn remove(&self, user_id: UserId, id: &str) -> Result<bool, Error>;
}

/// A started ceremony: the options for `navigator.credentials.create()` / `.get()` and the
/// sealed ceremony to send back with the authenticator's answer.
#[non_exhaustive]
pub struct Ceremony<T> {
    /// The options for the browser.
    pub options: T,
    /// The ceremony: give it back with the response.
    pub ceremony: SecretString,
    /// When it expires.
    pub expires_at: SystemTime,
}

impl<T: fmt::Debug> fmt::Debug for Ceremony<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ceremony")
            .field("options", &self.options)
            .field("ceremony", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a ceremony value holds.
#[derive(Serialize, Deserialize)]
enum State {
    Registration(PasskeyRegistration),
    Authentication(PasskeyAuthentication),
    /// Options answered for an address without passkeys: nothing can complete it.
    Nobody,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    user: Option<UserId>,
    /// The random id whose hash is stored until the ceremony is used.
    #[serde(rename = "i")]
    id: String,
    #[serde(rename = "s")]
    state: State,
}

const CONTEXT: &[u8] = b"mortar-auth/passkey-ceremony/v1";

struct Inner {
    webauthn: Webauthn,
    rp_id: String,
    store: Arc<dyn PasskeyStore>,
    codes: Arc<dyn CodeStore>,
    sealer: Sealer,
    fakes: WebauthnFakeCredentialGenerator<FakePasskeyDistribution>,
    clock: SharedClock,
    ttl: Duration,
    users: Arc<dyn UserStore>,
    recorder: SharedRecorder,
}

/// Passkeys on your accounts; cheap to clone.
#[derive(Clone)]
pub struct Passkeys {
    inner: Arc<Inner>,
}

impl fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passkeys")
            .field("store", &self.inner.store)
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

fn webauthn_error(e: &webauthn_rs::prelude::WebauthnError) -> Error {
    tracing::info!(target: "mortar::auth", error = %e, "passkey ceremony refused");
    Error::InvalidCode
}

impl Passkeys {
    /// Passkeys for the relying party `rp_id` (your domain, e.g. `example.com`) at `origin`
    /// (the URL the browser shows, e.g. `https://app.example.com`), for the users in `users`,
    /// credentials in `store`, ceremonies sealed with `sealer` and spent in `codes`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the origin is not a URL or not within `rp_id`.
    pub fn new(
        rp_id: &str,
        origin: &str,
        users: Arc<dyn UserStore>,
        store: Arc<dyn PasskeyStore>,
        codes: Arc<dyn CodeStore>,
        sealer: Sealer,
    ) -> Result<Self, Error> {
        let origin = Url::parse(origin).map_err(|e| Error::Config(format!("origin: {e}")))?;
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .and_then(|b| b.rp_name(rp_id).build())
            .map_err(|e| Error::Config(format!("WebAuthn relying party: {e}")))?;
        let key = WebauthnFakeCredentialGenerator::<FakePasskeyDistribution>::new_hmac_key()
            .map_err(|e| Error::Config(format!("fake credential key: {e}")))?;
        let fakes = WebauthnFakeCredentialGenerator::new(key.as_ref())
            .map_err(|e| Error::Config(format!("fake credential key: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                webauthn,
                rp_id: rp_id.to_owned(),
                store,
                codes,
                sealer,
                fakes,
                clock: SystemClock::shared(),
                ttl: Duration::from_mins(5),
                users,
                recorder: Arc::new(TracingRecorder),
            }),
        })
    }

    /// Receives `auth.passkey.registered` and `auth.passkey.removed` (default: tracing).
    ///
    /// # Panics
    ///
    /// Never: the value is not shared yet while it is being built.
    #[must_use]
    pub fn recorder(mut self, recorder: impl AuditRecorder) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.recorder = Arc::new(recorder);
        }
        self
    }

    fn audit(&self, action: &'static str, user_id: UserId, passkey: &str, client: &Client) {
        self.inner.recorder.record(
            client
                .annotate(AuditEvent::new(action, Outcome::Success).at(self.inner.clock.now()))
                .actor_subject(user_id.to_string(), PrincipalKind::User)
                .target("user", user_id.to_string())
                .meta("passkey", passkey),
        );
    }

    /// Seals a ceremony and stores its hash until it is used.
    async fn seal(
        &self,
        user: Option<UserId>,
        state: State,
    ) -> Result<(SecretString, SystemTime), Error> {
        let now = self.inner.clock.now();
        let expires_at = now + self.inner.ttl;
        let id = new_token().expose_secret().to_owned();
        self.inner
            .codes
            .put(
                &hash_token(&id),
                CodeRecord {
                    purpose: Purpose::PasskeyCeremony,
                    user_id: user.unwrap_or_default(),
                    expires_at,
                    created_at: now,
                },
            )
            .await?;
        let json = serde_json::to_vec(&Sealed { user, id, state }).map_err(Error::internal)?;
        Ok((
            SecretString::from(self.inner.sealer.seal(&json, CONTEXT)?),
            expires_at,
        ))
    }

    /// Opens a ceremony and spends it: a second use, an expired or forged one is refused.
    async fn open(&self, ceremony: &str) -> Result<Sealed, Error> {
        let json = self
            .inner
            .sealer
            .open(ceremony, CONTEXT)
            .map_err(|_| Error::InvalidCode)?;
        let sealed: Sealed =
            serde_json::from_slice(json.expose_secret()).map_err(|_| Error::InvalidCode)?;
        self.inner
            .codes
            .take(
                &hash_token(&sealed.id),
                Purpose::PasskeyCeremony,
                self.inner.clock.now(),
            )
            .await?
            .ok_or(Error::InvalidCode)?;
        Ok(sealed)
    }

    /// A user's passkeys.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn list(&self, user_id: UserId) -> Result<Vec<PasskeyCredential>, Error> {
        self.inner.store.for_user(user_id).await
    }

    /// Removes one of a user's passkeys.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`]; [`Error::Store`].
    pub async fn remove(&self, user_id: UserId, id: &str, client: &Client) -> Result<(), Error> {
        if self.inner.store.remove(user_id, id).await? {
            self.audit("auth.passkey.removed", user_id, id, client);
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    /// Starts registering a passkey for a signed-in user (their existing passkeys are
    /// excluded, so one authenticator is not registered twice).
    ///
    /// # Errors
    ///
    /// [`Error::Store`]; [`Error::Internal`].
    pub async fn start_registration(
        &self,
        user: &User,
    ) -> Result<Ceremony<CreationChallengeResponse>, Error> {
        let existing = self.inner.store.for_user(user.id).await?;
        let exclude = existing
            .iter()
            .map(|c| c.passkey.cred_id().clone())
            .collect::<Vec<_>>();
        let name = user.username.as_deref().unwrap_or(&user.email);
        let (options, state) = self
            .inner
            .webauthn
            .start_passkey_registration(user.id.as_uuid(), name, name, Some(exclude))
            .map_err(|e| Error::Internal(Box::new(e)))?;
        let (ceremony, expires_at) = self.seal(Some(user.id), State::Registration(state)).await?;
        Ok(Ceremony {
            options,
            ceremony,
            expires_at,
        })
    }

    /// Finishes a registration: checks the authenticator's answer against the ceremony and
    /// stores the passkey under `name`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] for a used, expired or another user's ceremony, or an answer that
    /// does not verify (another origin, challenge or relying party); [`Error::Conflict`] for a
    /// credential registered already; [`Error::Store`].
    pub async fn finish_registration(
        &self,
        user_id: UserId,
        ceremony: &str,
        response: &RegisterPublicKeyCredential,
        name: &str,
        client: &Client,
    ) -> Result<PasskeyCredential, Error> {
        let sealed = self.open(ceremony).await?;
        let (Some(owner), State::Registration(state)) = (sealed.user, sealed.state) else {
            return Err(Error::InvalidCode);
        };
        if owner != user_id {
            return Err(Error::InvalidCode);
        }
        let passkey = self
            .inner
            .webauthn
            .finish_passkey_registration(response, &state)
            .map_err(|e| webauthn_error(&e))?;
        let name: String = name.trim().chars().take(64).collect();
        let name = if name.is_empty() {
            "Passkey".to_owned()
        } else {
            name
        };
        let credential = PasskeyCredential::new(user_id, name, passkey, self.inner.clock.now());
        self.inner
            .store
            .insert(credential.clone())
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict("passkey"),
                other => other,
            })?;
        self.audit("auth.passkey.registered", user_id, &credential.id, client);
        Ok(credential)
    }

    /// The options for the passkeys of `user_id` (a second factor, or a step-up).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the user has no passkey; [`Error::Store`].
    pub async fn start_verification(
        &self,
        user_id: UserId,
    ) -> Result<Ceremony<RequestChallengeResponse>, Error> {
        let passkeys: Vec<Passkey> = self
            .inner
            .store
            .for_user(user_id)
            .await?
            .into_iter()
            .map(|c| c.passkey)
            .collect();
        if passkeys.is_empty() {
            return Err(Error::NotFound);
        }
        let (options, state) = self
            .inner
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|e| Error::Internal(Box::new(e)))?;
        let (ceremony, expires_at) = self
            .seal(Some(user_id), State::Authentication(state))
            .await?;
        Ok(Ceremony {
            options,
            ceremony,
            expires_at,
        })
    }

    /// Starts a passwordless login by address. An address without passkeys (or without an
    /// account) gets options that look the same and can never complete.
    ///
    /// # Errors
    ///
    /// [`Error::Store`]; [`Error::Internal`].
    pub async fn start_login(
        &self,
        email: &str,
    ) -> Result<Ceremony<RequestChallengeResponse>, Error> {
        if let Some(user) = self.inner.users.by_email(email).await?
            && !user.is_disabled()
        {
            match self.start_verification(user.id).await {
                Err(Error::NotFound) => {}
                other => return other,
            }
        }
        // Options shaped like a real account's, with credential ids derived from the address.
        let fakes = self
            .inner
            .fakes
            .generate(crate::user::normalize_email(email).as_bytes())
            .map_err(|e| Error::Internal(Box::new(e)))?;
        let mut challenge = vec![0u8; 32];
        aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut challenge)
            .map_err(|_| Error::Internal("no randomness".into()))?;
        let options = RequestChallengeResponse {
            public_key: PublicKeyCredentialRequestOptions {
                challenge,
                timeout: Some(300_000),
                rp_id: self.inner.rp_id.clone(),
                allow_credentials: fakes
                    .into_iter()
                    .map(|id| AllowCredentials {
                        type_: "public-key".into(),
                        id,
                        transports: None,
                    })
                    .collect(),
                user_verification: UserVerificationPolicy::Required,
                hints: None,
                extensions: None,
            },
            mediation: None,
        };
        let (ceremony, expires_at) = self.seal(None, State::Nobody).await?;
        Ok(Ceremony {
            options,
            ceremony,
            expires_at,
        })
    }

    /// Checks a passkey assertion for the ceremony's user and records the use (the counter).
    async fn verify_assertion(
        &self,
        ceremony: &str,
        response: &PublicKeyCredential,
    ) -> Result<UserId, Error> {
        let sealed = self.open(ceremony).await?;
        let (Some(user_id), State::Authentication(state)) = (sealed.user, sealed.state) else {
            return Err(Error::InvalidCode);
        };
        let result = self
            .inner
            .webauthn
            .finish_passkey_authentication(response, &state)
            .map_err(|e| webauthn_error(&e))?;
        if !result.user_verified() {
            return Err(Error::InvalidCode);
        }
        let used = URL_SAFE_NO_PAD.encode(result.cred_id().as_slice());
        let mut credential = self
            .inner
            .store
            .for_user(user_id)
            .await?
            .into_iter()
            .find(|c| c.id == used)
            .ok_or(Error::InvalidCode)?;
        credential.passkey.update_credential(&result);
        self.inner
            .store
            .update(&credential.id, &credential.passkey, self.inner.clock.now())
            .await?;
        Ok(user_id)
    }

    /// Finishes a passwordless login through `accounts` (for its audit trail): the assertion
    /// verified with user verification is a multi-factor login by itself (`amr`
    /// `["hwk", "mfa"]`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCode`] for a used, expired or unknown ceremony, an answer that does not
    /// verify, or a disabled account; [`Error::Store`].
    pub async fn finish_login(
        &self,
        accounts: &Accounts,
        ceremony: &str,
        response: &PublicKeyCredential,
        client: &Client,
    ) -> Result<LoginOutcome, Error> {
        let user_id = self.verify_assertion(ceremony, response).await?;
        let user = self
            .inner
            .users
            .by_id(user_id)
            .await?
            .filter(|u| !u.is_disabled())
            .ok_or(Error::InvalidCode)?;
        Ok(accounts.multi_factor_login(user, AuthMethod::Passkey, client))
    }
}

/// Passkeys as a second factor: required once a user has one; a [`Proof::Passkey`] completes
/// the challenge.
#[async_trait]
impl SecondFactorPolicy for Passkeys {
    async fn required(&self, user: &User) -> Result<bool, Error> {
        Ok(!self.inner.store.for_user(user.id).await?.is_empty())
    }

    async fn verify(&self, user: &User, proof: &Proof) -> Result<AuthMethod, Error> {
        let Proof::Passkey {
            ceremony,
            credential,
        } = proof
        else {
            return Err(Error::InvalidCode);
        };
        let response: PublicKeyCredential =
            serde_json::from_value(credential.clone()).map_err(|_| Error::InvalidCode)?;
        let owner = self
            .verify_assertion(ceremony.expose_secret(), &response)
            .await?;
        if owner == user.id {
            Ok(AuthMethod::Passkey)
        } else {
            Err(Error::InvalidCode)
        }
    }

    fn accepts(&self, proof: &Proof) -> bool {
        matches!(proof, Proof::Passkey { .. })
    }
}
