//! [`MemoryUserStore`]: users in the process, for tests and single-instance development.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::SystemTime;

use async_trait::async_trait;

use super::{
    NewUser, User, UserChange, UserId, UserStore, apply, normalize_email, normalize_username,
};
use crate::error::Error;

#[derive(Debug, Default)]
struct State {
    users: HashMap<UserId, User>,
    by_email: HashMap<String, UserId>,
    by_username: HashMap<String, UserId>,
}

/// Users in a map in the process. Lost on restart and not shared between instances: use a SQL
/// store beyond development.
#[derive(Debug, Default)]
pub struct MemoryUserStore {
    state: RwLock<State>,
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // No code path panics while holding the lock with the maps half-updated.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl UserStore for MemoryUserStore {
    async fn create(&self, new: NewUser, now: SystemTime) -> Result<User, Error> {
        let user = new.into_user(now);
        let email = normalize_email(&user.email);
        let username = user.username.as_deref().map(normalize_username);
        let mut state = self.write();
        if state.by_email.contains_key(&email) {
            return Err(Error::Conflict("email"));
        }
        if let Some(name) = &username
            && state.by_username.contains_key(name)
        {
            return Err(Error::Conflict("username"));
        }
        state.by_email.insert(email, user.id);
        if let Some(name) = username {
            state.by_username.insert(name, user.id);
        }
        state.users.insert(user.id, user.clone());
        Ok(user)
    }

    async fn by_id(&self, id: UserId) -> Result<Option<User>, Error> {
        Ok(self.read().users.get(&id).cloned())
    }

    async fn by_email(&self, email: &str) -> Result<Option<User>, Error> {
        let state = self.read();
        Ok(state
            .by_email
            .get(&normalize_email(email))
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn by_username(&self, username: &str) -> Result<Option<User>, Error> {
        let state = self.read();
        Ok(state
            .by_username
            .get(&normalize_username(username))
            .and_then(|id| state.users.get(id))
            .cloned())
    }

    async fn update(&self, id: UserId, change: UserChange, now: SystemTime) -> Result<User, Error> {
        let mut state = self.write();
        let user = state.users.get_mut(&id).ok_or(Error::NotFound)?;
        apply(user, change, now);
        Ok(user.clone())
    }

    async fn delete(&self, id: UserId) -> Result<(), Error> {
        let mut state = self.write();
        let user = state.users.remove(&id).ok_or(Error::NotFound)?;
        state.by_email.remove(&normalize_email(&user.email));
        if let Some(name) = &user.username {
            state.by_username.remove(&normalize_username(name));
        }
        Ok(())
    }
}
