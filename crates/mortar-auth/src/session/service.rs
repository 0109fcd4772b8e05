//! [`Sessions`]: starting sessions, refreshing them with rotation and reuse detection, listing
//! and revoking them.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mortar_core::{
    AuditEvent, AuditRecorder, AuthMethod, Outcome, Principal, PrincipalKind, SharedClock,
    SharedRecorder, SystemClock, TracingRecorder,
};
use secrecy::{ExposeSecret as _, SecretString};

use super::cookie::hash_cookie_secret;
use super::{CookieSession, Session, SessionId, SessionKind, SessionStore, TokenMatch};
use crate::account::Client;
use crate::code::{hash_token, new_token};
use crate::error::Error;
use crate::token::{AccessTokens, IssuedToken, TokenError};
use crate::user::{User, UserId, UserStore};

/// What a client receives when a session starts or refreshes.
pub struct SessionTokens {
    /// The session.
    pub session_id: SessionId,
    /// A short-lived access token.
    pub access: IssuedToken,
    /// The refresh token, shown once; it works exactly once.
    pub refresh: SecretString,
    /// When the session ends regardless of use.
    pub session_expires_at: SystemTime,
}

impl fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTokens")
            .field("session_id", &self.session_id)
            .field("access", &self.access)
            .field("refresh", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// How long sessions live.
#[derive(Clone, Copy, Debug)]
pub struct SessionLifetimes {
    /// From sign-in, whatever the use (default 30 days).
    pub absolute: Duration,
    /// Without any refresh (default 7 days).
    pub idle: Duration,
    /// How soon after a rotation a second use of the old token counts as a race between two
    /// requests of the same client (refused, session kept) rather than theft (session revoked).
    /// Default 5 seconds; zero treats every second use as theft.
    pub reuse_grace: Duration,
    /// How often a cookie session's use is written (its last-seen time, for the idle lifetime)
    /// and its user re-checked (disabled, signed out everywhere): at most once per this interval
    /// per session, instead of a write on every request. Default 1 minute.
    pub touch_interval: Duration,
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            absolute: Duration::from_hours(30 * 24),
            idle: Duration::from_hours(7 * 24),
            reuse_grace: Duration::from_secs(5),
            touch_interval: Duration::from_mins(1),
        }
    }
}

/// Starts, refreshes, lists and revokes sessions; cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    users: Arc<dyn UserStore>,
    tokens: AccessTokens,
    clock: SharedClock,
    recorder: SharedRecorder,
    lifetimes: SessionLifetimes,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("store", &self.store)
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

fn invalid() -> Error {
    Error::InvalidToken(TokenError::Revoked)
}

/// The principal a session's access tokens carry.
fn principal_of(session: &Session) -> Principal {
    let mut builder = Principal::user(session.user_id.to_string())
        .session_id(session.id.as_str())
        .authenticated_at(session.created_at);
    for amr in session.methods.iter().filter(|m| *m != "mfa") {
        builder = builder.method(AuthMethod::from_amr(amr));
    }
    builder
        .second_factor(session.methods.iter().any(|m| m == "mfa"))
        .build()
}

impl Sessions {
    /// Sessions in `store` for the users of `users`, issuing access tokens with `tokens`.
    pub fn new(
        store: Arc<dyn SessionStore>,
        users: Arc<dyn UserStore>,
        tokens: AccessTokens,
    ) -> Self {
        Self {
            store,
            users,
            tokens,
            clock: SystemClock::shared(),
            recorder: Arc::new(TracingRecorder),
            lifetimes: SessionLifetimes::default(),
        }
    }

    /// The access tokens these sessions issue (and whose revocations they use).
    pub fn access_tokens(&self) -> &AccessTokens {
        &self.tokens
    }

    /// The time on the sessions' clock.
    pub(crate) fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// Sets the clock.
    #[must_use]
    pub fn clock(mut self, clock: impl mortar_core::Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets the audit recorder.
    #[must_use]
    pub fn recorder(mut self, recorder: impl AuditRecorder) -> Self {
        self.recorder = Arc::new(recorder);
        self
    }

    /// Sets the lifetimes.
    #[must_use]
    pub fn lifetimes(mut self, lifetimes: SessionLifetimes) -> Self {
        self.lifetimes = lifetimes;
        self
    }

    fn event(
        &self,
        action: &'static str,
        outcome: Outcome,
        session: &Session,
        client: &Client,
    ) -> AuditEvent {
        client.annotate(
            AuditEvent::new(action, outcome)
                .at(self.clock.now())
                .actor_subject(session.user_id.to_string(), PrincipalKind::User)
                .target("session", session.id.as_str()),
        )
    }

    /// Starts a session for a user who just authenticated (`principal` from the login: its
    /// methods are kept) and issues its first tokens. A fresh session id on every sign-in.
    ///
    /// # Errors
    ///
    /// [`Error::Store`], or signing errors.
    pub async fn start(
        &self,
        user: &User,
        principal: &Principal,
        client: &Client,
    ) -> Result<SessionTokens, Error> {
        let refresh = new_token();
        let session = self
            .create(
                SessionKind::Tokens,
                hash_token(refresh.expose_secret()),
                user,
                principal,
                client,
            )
            .await?;
        let access = self.tokens.issue(&principal_of(&session))?;
        Ok(SessionTokens {
            session_id: session.id,
            access,
            refresh,
            session_expires_at: session.expires_at,
        })
    }

    /// Stores a new session of `kind` whose secret hashes to `token_hash`, and reports it.
    async fn create(
        &self,
        kind: SessionKind,
        token_hash: String,
        user: &User,
        principal: &Principal,
        client: &Client,
    ) -> Result<Session, Error> {
        let now = self.clock.now();
        let session = Session {
            id: SessionId::new(),
            kind,
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
            expires_at: now + self.lifetimes.absolute,
            ip: client.ip.map(|ip| ip.to_string()),
            user_agent: client.user_agent.clone(),
            methods: principal
                .authentication()
                .amr()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            revoked_at: None,
            token_hash,
            previous_hash: None,
            generation: 0,
        };
        self.store.create(session.clone()).await?;
        self.recorder.record(
            self.event("auth.session.started", Outcome::Success, &session, client)
                .meta("kind", kind.as_str()),
        );
        Ok(session)
    }

    /// Starts a browser session for a user who just authenticated: a fresh session and a fresh
    /// cookie secret on every sign-in (a secret planted before sign-in never becomes valid).
    /// Hand the result to [`SessionCookies::set_cookie`](super::SessionCookies::set_cookie).
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn start_cookie(
        &self,
        user: &User,
        principal: &Principal,
        client: &Client,
    ) -> Result<CookieSession, Error> {
        let secret = new_token();
        let session = self
            .create(
                SessionKind::Cookie,
                hash_cookie_secret(secret.expose_secret()),
                user,
                principal,
                client,
            )
            .await?;
        Ok(CookieSession {
            session_id: session.id,
            secret,
            expires_at: session.expires_at,
        })
    }

    /// The live cookie session whose secret is `secret`.
    async fn cookie_session(&self, secret: &str, now: SystemTime) -> Result<Session, Error> {
        match self
            .store
            .find_by_token(&hash_cookie_secret(secret))
            .await?
        {
            Some((session, TokenMatch::Current))
                if session.kind == SessionKind::Cookie
                    && session.revoked_at.is_none()
                    && session.expires_at > now
                    && session.last_seen_at + self.lifetimes.idle > now =>
            {
                Ok(session)
            }
            _ => Err(invalid()),
        }
    }

    /// The principal of the browser session whose cookie holds `secret`.
    ///
    /// Checked on every call: the session exists, is a cookie session, is neither revoked nor
    /// past its absolute or idle lifetime, and the access-token revocations (session, user
    /// cut-off) do not cover it. At most once per [`SessionLifetimes::touch_interval`] the use
    /// is recorded and the user re-read: a disabled user, or one signed out everywhere since,
    /// ends the session.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidToken`] when the session is not valid; [`Error::Store`].
    pub async fn authenticate_cookie(&self, secret: &str) -> Result<Principal, Error> {
        let now = self.clock.now();
        let session = self.cookie_session(secret, now).await?;
        let principal = principal_of(&session);
        if self
            .tokens
            .revocations()
            .is_revoked(
                "",
                principal.subject(),
                Some(session.id.as_str()),
                session.created_at,
            )
            .await?
        {
            return Err(invalid());
        }
        let since = now.duration_since(session.last_seen_at).unwrap_or_default();
        if since >= self.lifetimes.touch_interval {
            if !self.user_allows(&session).await? {
                self.revoke_session(&session, now).await?;
                return Err(invalid());
            }
            self.store.touch(&session.id, now).await?;
        }
        Ok(principal)
    }

    /// Ends the browser session whose cookie holds `secret` (sign-out); answers whether there
    /// was a live one.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn end_cookie(&self, secret: &str, client: &Client) -> Result<bool, Error> {
        let now = self.clock.now();
        let session = match self.cookie_session(secret, now).await {
            Ok(session) => session,
            Err(Error::InvalidToken(_)) => return Ok(false),
            // A store that cannot answer is an error, not "no session": the session may live.
            Err(other) => return Err(other),
        };
        self.sign_out(&session, now, client).await?;
        Ok(true)
    }

    /// Whether the session's user still exists, is enabled, and has not invalidated the
    /// session's tokens since it began.
    async fn user_allows(&self, session: &Session) -> Result<bool, Error> {
        let user = self.users.by_id(session.user_id).await?;
        Ok(user.is_some_and(|u| {
            !u.is_disabled()
                && u.tokens_valid_after
                    .is_none_or(|cutoff| session.created_at >= cutoff)
        }))
    }

    /// Exchanges a refresh token for new tokens. The refresh token is replaced; presenting a
    /// replaced one later than the reuse grace revokes the session (and its access tokens).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidToken`] for an unknown, replaced, revoked or expired refresh token, or a
    /// user that is gone, disabled, or signed out everywhere since; [`Error::Store`].
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client: &Client,
    ) -> Result<SessionTokens, Error> {
        let now = self.clock.now();
        let hash = hash_token(refresh_token);
        let Some((session, matched)) = self.store.find_by_token(&hash).await? else {
            return Err(invalid());
        };
        if matched == TokenMatch::Previous {
            let since = now.duration_since(session.last_seen_at).unwrap_or_default();
            if session.revoked_at.is_none() && since > self.lifetimes.reuse_grace {
                self.revoke_session(&session, now).await?;
                self.recorder.record(self.event(
                    "auth.refresh.reuse_detected",
                    Outcome::Denied,
                    &session,
                    client,
                ));
            }
            return Err(invalid());
        }
        let idle_deadline = session.last_seen_at + self.lifetimes.idle;
        if session.kind != SessionKind::Tokens
            || session.revoked_at.is_some()
            || session.expires_at <= now
            || idle_deadline <= now
        {
            return Err(invalid());
        }
        if !self.user_allows(&session).await? {
            self.revoke_session(&session, now).await?;
            return Err(invalid());
        }
        let refresh = new_token();
        let ip = client.ip.map(|ip| ip.to_string());
        let rotated = self
            .store
            .rotate(
                &session.id,
                &hash,
                &hash_token(refresh.expose_secret()),
                now,
                ip.as_deref(),
                client.user_agent.as_deref(),
            )
            .await?;
        if !rotated {
            // Another request rotated it first: at most one successor.
            return Err(invalid());
        }
        let access = self.tokens.issue(&principal_of(&session))?;
        Ok(SessionTokens {
            session_id: session.id,
            access,
            refresh,
            session_expires_at: session.expires_at,
        })
    }

    /// Ends a session at the user's or an administrator's request, and reports it.
    async fn sign_out(
        &self,
        session: &Session,
        now: SystemTime,
        client: &Client,
    ) -> Result<(), Error> {
        self.revoke_session(session, now).await?;
        self.recorder
            .record(self.event("auth.session.revoked", Outcome::Success, session, client));
        Ok(())
    }

    async fn revoke_session(&self, session: &Session, now: SystemTime) -> Result<(), Error> {
        self.store.revoke(&session.id, now).await?;
        self.tokens
            .revocations()
            .revoke_session(session.id.as_str(), session.expires_at)
            .await
    }

    /// The user's active sessions, newest first ("where am I signed in").
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn list(&self, user_id: UserId) -> Result<Vec<Session>, Error> {
        self.store.active_for_user(user_id, self.clock.now()).await
    }

    /// Signs a user out of one of their sessions.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when the session is not the user's; [`Error::Store`].
    pub async fn revoke(
        &self,
        user_id: UserId,
        id: &SessionId,
        client: &Client,
    ) -> Result<(), Error> {
        let session = self
            .store
            .get(id)
            .await?
            .filter(|s| s.user_id == user_id)
            .ok_or(Error::NotFound)?;
        self.sign_out(&session, self.clock.now(), client).await?;
        Ok(())
    }

    /// Signs a user out everywhere except `keep` ("sign out other devices"); returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn revoke_others(
        &self,
        user_id: UserId,
        keep: &SessionId,
        client: &Client,
    ) -> Result<usize, Error> {
        let mut count = 0;
        for session in self.list(user_id).await? {
            if &session.id != keep {
                self.sign_out(&session, self.clock.now(), client).await?;
                count += 1;
            }
        }
        Ok(count)
    }

    /// Signs a user out everywhere: every session, and every access token issued until now.
    ///
    /// # Errors
    ///
    /// [`Error::Store`].
    pub async fn revoke_all(&self, user_id: UserId, client: &Client) -> Result<usize, Error> {
        let now = self.clock.now();
        let mut count = 0;
        for session in self.list(user_id).await? {
            self.sign_out(&session, now, client).await?;
            count += 1;
        }
        self.tokens
            .revocations()
            .revoke_subject_before(&user_id.to_string(), now)
            .await?;
        Ok(count)
    }
}
