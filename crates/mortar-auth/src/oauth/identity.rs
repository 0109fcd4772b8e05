//! Linked identities and how a federated identity becomes a login.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use mortar_core::{AuthMethod, Outcome};

use super::FederatedIdentity;
use crate::account::{Accounts, Client, LoginOutcome};
use crate::error::{Error, FederationError};
use crate::user::{NewUser, User, UserChange, UserId};

/// A provider identity linked to a user.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// The provider's id.
    pub provider: String,
    /// The provider's id of the account.
    pub subject: String,
    /// The user it signs in.
    pub user_id: UserId,
    /// The address the provider gave when it was linked (for display).
    pub email: Option<String>,
    /// When it was linked.
    pub linked_at: SystemTime,
    /// When it last signed in.
    pub last_used_at: Option<SystemTime>,
}

impl Identity {
    /// A new link of `identity` to `user_id`, at `now`.
    pub fn new(identity: &FederatedIdentity, user_id: UserId, now: SystemTime) -> Self {
        Self {
            provider: identity.provider.clone(),
            subject: identity.subject.clone(),
            user_id,
            email: identity.email.clone(),
            linked_at: now,
            last_used_at: None,
        }
    }
}

/// Where linked identities live.
///
/// Contract (checked by the conformance suite on every backend): `(provider, subject)` is
/// unique — `insert` answers [`Error::Conflict`]`("identity")` for a pair already linked, to
/// whichever user, and of two concurrent inserts exactly one succeeds; `for_user` lists a user's
/// identities oldest first; `remove` removes only the named user's link.
#[async_trait]
pub trait IdentityStore: Send + Sync + fmt::Debug + 'static {
    /// The identity linked for this provider account.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn find(&self, provider: &str, subject: &str) -> Result<Option<Identity>, Error>;

    /// Links an identity.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`]`("identity")` when the pair is linked already; [`Error::Store`].
    async fn insert(&self, identity: Identity) -> Result<(), Error>;

    /// A user's identities, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn for_user(&self, user_id: UserId) -> Result<Vec<Identity>, Error>;

    /// Unlinks `user_id`'s identity; `false` when it has none such.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn remove(&self, user_id: UserId, provider: &str, subject: &str) -> Result<bool, Error>;

    /// Notes a sign-in with the identity.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    async fn touch(&self, provider: &str, subject: &str, at: SystemTime) -> Result<(), Error>;
}

/// Identities in memory: for tests and single-process development.
#[derive(Debug, Default)]
pub struct MemoryIdentityStore {
    by_pair: Mutex<BTreeMap<(String, String), Identity>>,
}

impl MemoryIdentityStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Identity>> {
        self.by_pair.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl IdentityStore for MemoryIdentityStore {
    async fn find(&self, provider: &str, subject: &str) -> Result<Option<Identity>, Error> {
        Ok(self
            .lock()
            .get(&(provider.to_owned(), subject.to_owned()))
            .cloned())
    }

    async fn insert(&self, identity: Identity) -> Result<(), Error> {
        let mut map = self.lock();
        let key = (identity.provider.clone(), identity.subject.clone());
        if map.contains_key(&key) {
            return Err(Error::Conflict("identity"));
        }
        map.insert(key, identity);
        Ok(())
    }

    async fn for_user(&self, user_id: UserId) -> Result<Vec<Identity>, Error> {
        let mut list: Vec<Identity> = self
            .lock()
            .values()
            .filter(|i| i.user_id == user_id)
            .cloned()
            .collect();
        list.sort_by(|a, b| {
            (a.linked_at, &a.provider, &a.subject).cmp(&(b.linked_at, &b.provider, &b.subject))
        });
        Ok(list)
    }

    async fn remove(&self, user_id: UserId, provider: &str, subject: &str) -> Result<bool, Error> {
        let mut map = self.lock();
        let key = (provider.to_owned(), subject.to_owned());
        if map.get(&key).is_some_and(|i| i.user_id == user_id) {
            map.remove(&key);
            return Ok(true);
        }
        Ok(false)
    }

    async fn touch(&self, provider: &str, subject: &str, at: SystemTime) -> Result<(), Error> {
        if let Some(identity) = self
            .lock()
            .get_mut(&(provider.to_owned(), subject.to_owned()))
        {
            identity.last_used_at = Some(at);
        }
        Ok(())
    }
}

/// When a federated identity may join or create an account.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct LinkPolicy {
    /// A new identity joins the existing account with the same address when the provider
    /// verified the address *and* the account verified it too (default true). Otherwise the
    /// sign-in answers [`Error::LinkRequired`]: the user signs in the usual way and links.
    /// Requiring both sides stops pre-registration takeovers, where someone registers a victim's
    /// address with a password of theirs and waits for the victim's Google sign-in.
    pub link_by_verified_email: bool,
    /// A new identity with an unclaimed address creates an account (default true). An address
    /// the provider did not verify creates an unverified account and sends the verification
    /// link, as registration does.
    pub sign_up: bool,
}

impl Default for LinkPolicy {
    fn default() -> Self {
        Self {
            link_by_verified_email: true,
            sign_up: true,
        }
    }
}

impl LinkPolicy {
    /// Never join existing accounts by address.
    #[must_use]
    pub fn without_email_linking(mut self) -> Self {
        self.link_by_verified_email = false;
        self
    }

    /// Never create accounts from federated sign-ins.
    #[must_use]
    pub fn without_sign_up(mut self) -> Self {
        self.sign_up = false;
        self
    }
}

/// Federated identities on your accounts: sign-in, sign-up, link and unlink. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Federation {
    accounts: Accounts,
    identities: Arc<dyn IdentityStore>,
    policy: LinkPolicy,
}

impl Federation {
    /// Identities from `identities`, logins through `accounts` (its second-factor policy
    /// applies to federated logins too), [`LinkPolicy::default`].
    pub fn new(accounts: Accounts, identities: Arc<dyn IdentityStore>) -> Self {
        Self {
            accounts,
            identities,
            policy: LinkPolicy::default(),
        }
    }

    /// Sets the link policy.
    #[must_use]
    pub fn policy(mut self, policy: LinkPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The identity store.
    pub fn identities(&self) -> &Arc<dyn IdentityStore> {
        &self.identities
    }

    /// Signs in with a verified identity (from [`super::OAuth::finish`]): its linked user; or,
    /// new, the account with the same verified address (policy permitting) or a new account.
    /// The login's method is `OAuth(provider)`; an account with a second factor answers
    /// [`LoginOutcome::SecondFactorRequired`].
    ///
    /// # Errors
    ///
    /// [`Error::LinkRequired`] when the address belongs to an account the identity may not join
    /// by itself; [`Error::InvalidCredentials`] for a disabled account, or a new identity when
    /// sign-up is off; [`FederationError::NoVerifiedEmail`] for a new identity without an
    /// address; [`Error::Store`].
    pub async fn sign_in(
        &self,
        identity: &FederatedIdentity,
        client: &Client,
    ) -> Result<LoginOutcome, Error> {
        let method = AuthMethod::OAuth(identity.provider.clone());
        if let Some(linked) = self
            .identities
            .find(&identity.provider, &identity.subject)
            .await?
        {
            return self.linked(linked, method, client).await;
        }
        let existing = match &identity.email {
            Some(email) => self.accounts.users().by_email(email).await?,
            None => None,
        };
        let user = match existing {
            Some(user) => {
                let may_join = self.policy.link_by_verified_email
                    && identity.email_verified
                    && user.is_email_verified()
                    && !user.is_disabled();
                if !may_join {
                    self.accounts.record(
                        self.accounts
                            .user_event("auth.identity.linked", Outcome::Denied, &user, client)
                            .meta("provider", identity.provider.as_str())
                            .meta("reason", "link_required"),
                    );
                    return Err(Error::LinkRequired);
                }
                user
            }
            None => self.sign_up(identity, client).await?,
        };
        match self
            .identities
            .insert(Identity::new(identity, user.id, self.accounts.now()))
            .await
        {
            Ok(()) => {}
            // A concurrent sign-in with the same identity linked it first.
            Err(Error::Conflict(_)) => {
                let linked = self
                    .identities
                    .find(&identity.provider, &identity.subject)
                    .await?
                    .ok_or(Error::Conflict("identity"))?;
                return self.linked(linked, method, client).await;
            }
            Err(other) => return Err(other),
        }
        self.audit(
            "auth.identity.linked",
            Outcome::Success,
            &user,
            client,
            &identity.provider,
        );
        self.accounts
            .first_factor_passed(user, method, client)
            .await
    }

    async fn user(&self, id: UserId) -> Result<User, Error> {
        self.accounts
            .users()
            .by_id(id)
            .await?
            .ok_or(Error::NotFound)
    }

    fn audit(
        &self,
        action: &'static str,
        outcome: Outcome,
        user: &User,
        client: &Client,
        provider: &str,
    ) {
        self.accounts.record(
            self.accounts
                .user_event(action, outcome, user, client)
                .meta("provider", provider),
        );
    }

    async fn linked(
        &self,
        linked: Identity,
        method: AuthMethod,
        client: &Client,
    ) -> Result<LoginOutcome, Error> {
        let user = self
            .accounts
            .users()
            .by_id(linked.user_id)
            .await?
            .filter(|u| !u.is_disabled())
            .ok_or(Error::InvalidCredentials)?;
        self.identities
            .touch(&linked.provider, &linked.subject, self.accounts.now())
            .await?;
        self.accounts
            .first_factor_passed(user, method, client)
            .await
    }

    async fn sign_up(&self, identity: &FederatedIdentity, client: &Client) -> Result<User, Error> {
        if !self.policy.sign_up {
            return Err(Error::InvalidCredentials);
        }
        let email = identity
            .email
            .as_deref()
            .ok_or(Error::Federation(FederationError::NoVerifiedEmail))?;
        let now = self.accounts.now();
        let user = match self.accounts.users().create(NewUser::new(email), now).await {
            Ok(user) => user,
            Err(Error::Conflict(_)) => return Err(Error::LinkRequired),
            Err(other) => return Err(other),
        };
        let user = if identity.email_verified {
            self.accounts
                .users()
                .update(user.id, UserChange::EmailVerified, now)
                .await?
        } else {
            self.accounts.send_verification(&user).await?;
            user
        };
        self.audit(
            "auth.user.registered",
            Outcome::Success,
            &user,
            client,
            &identity.provider,
        );
        Ok(user)
    }

    /// Links an identity to a signed-in user (the flow was started with
    /// [`super::Intent::Link`]). Linking the same identity again is a no-op.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`]`("identity")` when the identity signs in another user;
    /// [`Error::NotFound`] for an unknown user; [`Error::Store`].
    pub async fn link(
        &self,
        user_id: UserId,
        identity: &FederatedIdentity,
        client: &Client,
    ) -> Result<Identity, Error> {
        let user = self.user(user_id).await?;
        if let Some(linked) = self
            .identities
            .find(&identity.provider, &identity.subject)
            .await?
        {
            return if linked.user_id == user_id {
                Ok(linked)
            } else {
                Err(Error::Conflict("identity"))
            };
        }
        let linked = Identity::new(identity, user_id, self.accounts.now());
        self.identities.insert(linked.clone()).await?;
        self.audit(
            "auth.identity.linked",
            Outcome::Success,
            &user,
            client,
            &identity.provider,
        );
        Ok(linked)
    }

    /// Unlinks one of the user's identities, unless it is the account's last way to sign in
    /// (no password and no other identity).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the user has no such identity; [`Error::LastLoginMethod`];
    /// [`Error::Store`].
    pub async fn unlink(
        &self,
        user_id: UserId,
        provider: &str,
        subject: &str,
        client: &Client,
    ) -> Result<(), Error> {
        let user = self.user(user_id).await?;
        let identities = self.identities.for_user(user_id).await?;
        if !identities
            .iter()
            .any(|i| i.provider == provider && i.subject == subject)
        {
            return Err(Error::NotFound);
        }
        if user.password_hash.is_none() && identities.len() == 1 {
            return Err(Error::LastLoginMethod);
        }
        if !self.identities.remove(user_id, provider, subject).await? {
            return Err(Error::NotFound);
        }
        self.audit(
            "auth.identity.unlinked",
            Outcome::Success,
            &user,
            client,
            provider,
        );
        Ok(())
    }
}
