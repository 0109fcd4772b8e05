//! [`MemorySessionStore`]: sessions in the process.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;

use super::{Session, SessionId, SessionStore, TokenMatch};
use crate::error::Error;
use crate::user::UserId;

/// Sessions in a map in the process; for tests and single-instance development.
#[derive(Debug, Default)]
pub struct MemorySessionStore {
    sessions: Mutex<HashMap<SessionId, Session>>,
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, session: Session) -> Result<(), Error> {
        let mut sessions = self.lock();
        if sessions.contains_key(&session.id)
            || sessions
                .values()
                .any(|s| s.token_hash == session.token_hash)
        {
            return Err(Error::Conflict("session"));
        }
        sessions.insert(session.id.clone(), session);
        Ok(())
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, Error> {
        Ok(self.lock().get(id).cloned())
    }

    async fn find_by_token(&self, hash: &str) -> Result<Option<(Session, TokenMatch)>, Error> {
        let sessions = self.lock();
        for session in sessions.values() {
            if session.token_hash == hash {
                return Ok(Some((session.clone(), TokenMatch::Current)));
            }
            if session.previous_hash.as_deref() == Some(hash) {
                return Ok(Some((session.clone(), TokenMatch::Previous)));
            }
        }
        Ok(None)
    }

    async fn rotate(
        &self,
        id: &SessionId,
        expected: &str,
        new_hash: &str,
        now: SystemTime,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<bool, Error> {
        let mut sessions = self.lock();
        let Some(session) = sessions.get_mut(id) else {
            return Ok(false);
        };
        if session.token_hash != expected || session.revoked_at.is_some() {
            return Ok(false);
        }
        session.previous_hash = Some(std::mem::replace(
            &mut session.token_hash,
            new_hash.to_owned(),
        ));
        session.generation += 1;
        session.last_seen_at = now;
        session.ip = ip.map(str::to_owned);
        session.user_agent = user_agent.map(str::to_owned);
        Ok(true)
    }

    async fn touch(&self, id: &SessionId, now: SystemTime) -> Result<bool, Error> {
        let mut sessions = self.lock();
        match sessions.get_mut(id) {
            Some(session) if session.revoked_at.is_none() => {
                session.last_seen_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke(&self, id: &SessionId, now: SystemTime) -> Result<bool, Error> {
        let mut sessions = self.lock();
        match sessions.get_mut(id) {
            Some(session) if session.revoked_at.is_none() => {
                session.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn active_for_user(
        &self,
        user_id: UserId,
        now: SystemTime,
    ) -> Result<Vec<Session>, Error> {
        let mut active: Vec<Session> = self
            .lock()
            .values()
            .filter(|s| s.user_id == user_id && s.revoked_at.is_none() && s.expires_at > now)
            .cloned()
            .collect();
        active.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.id.cmp(&a.id))
        });
        Ok(active)
    }
}
