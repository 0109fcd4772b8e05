//! [`PolicyStore`]: where a policy lives between restarts; [`MemoryStore`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use crate::error::Error;
use crate::model::{Assignment, Parent, Policy, Role};

/// A place that keeps a policy. Every change bumps [`PolicyStore::version`] (a write that changes
/// nothing need not), which
/// [`crate::Rbac::refresh`] compares to decide whether to rebuild its index (how instances
/// sharing a store see each other's changes).
#[async_trait]
pub trait PolicyStore: Send + Sync + std::fmt::Debug + 'static {
    /// The whole policy.
    async fn load(&self) -> Result<Policy, Error>;
    /// The whole policy and the version it is at, read together (a store that can should
    /// read both from one snapshot; the default reads the version first, so at worst a
    /// change is loaded twice, never missed).
    async fn load_versioned(&self) -> Result<(Policy, u64), Error> {
        let version = self.version().await?;
        Ok((self.load().await?, version))
    }
    /// A number that changes whenever the policy does.
    async fn version(&self) -> Result<u64, Error>;
    /// Adds or replaces a role.
    async fn put_role(&self, name: &str, role: &Role) -> Result<(), Error>;
    /// Removes a role (and its assignments); `false` when there was none.
    async fn delete_role(&self, name: &str) -> Result<bool, Error>;
    /// Adds an assignment; `false` when it was there already.
    async fn assign(&self, assignment: &Assignment) -> Result<bool, Error>;
    /// Removes an assignment; `false` when there was none.
    async fn unassign(&self, assignment: &Assignment) -> Result<bool, Error>;
    /// Adds a containment edge; `false` when it was there already.
    async fn add_parent(&self, parent: &Parent) -> Result<bool, Error>;
    /// Removes a containment edge; `false` when there was none.
    async fn remove_parent(&self, parent: &Parent) -> Result<bool, Error>;
}

/// A policy in memory (tests, single-instance apps, policies from files).
#[derive(Debug, Default)]
pub struct MemoryStore {
    policy: Mutex<Policy>,
    version: AtomicU64,
}

impl MemoryStore {
    /// A store holding this policy.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy: Mutex::new(policy),
            version: AtomicU64::new(1),
        }
    }

    /// Applies `f`; the version moves when it reports a change.
    fn write(&self, f: impl FnOnce(&mut Policy) -> bool) -> bool {
        let mut policy = self
            .policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = f(&mut policy);
        if changed {
            self.version.fetch_add(1, Ordering::AcqRel);
        }
        changed
    }
}

#[async_trait]
impl PolicyStore for MemoryStore {
    async fn load(&self) -> Result<Policy, Error> {
        Ok(self
            .policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone())
    }

    async fn load_versioned(&self) -> Result<(Policy, u64), Error> {
        // Writers bump the version while holding the lock: both are read in one state.
        let policy = self
            .policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok((policy.clone(), self.version.load(Ordering::Acquire)))
    }

    async fn version(&self) -> Result<u64, Error> {
        Ok(self.version.load(Ordering::Acquire))
    }

    async fn put_role(&self, name: &str, role: &Role) -> Result<(), Error> {
        self.write(|p| {
            p.roles.insert(name.to_owned(), role.clone());
            true
        });
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<bool, Error> {
        Ok(self.write(|p| {
            p.assignments.retain(|a| a.role != name);
            p.roles.remove(name).is_some()
        }))
    }

    async fn assign(&self, assignment: &Assignment) -> Result<bool, Error> {
        Ok(self.write(|p| {
            if p.assignments.contains(assignment) {
                return false;
            }
            p.assignments.push(assignment.clone());
            true
        }))
    }

    async fn unassign(&self, assignment: &Assignment) -> Result<bool, Error> {
        Ok(self.write(|p| {
            let before = p.assignments.len();
            p.assignments.retain(|a| a != assignment);
            p.assignments.len() != before
        }))
    }

    async fn add_parent(&self, parent: &Parent) -> Result<bool, Error> {
        Ok(self.write(|p| {
            if p.parents.contains(parent) {
                return false;
            }
            p.parents.push(parent.clone());
            true
        }))
    }

    async fn remove_parent(&self, parent: &Parent) -> Result<bool, Error> {
        Ok(self.write(|p| {
            let before = p.parents.len();
            p.parents.retain(|x| x != parent);
            p.parents.len() != before
        }))
    }
}

/// A shared store is a store (two authorizers over one `Arc<MemoryStore>`, in tests).
#[async_trait]
impl<S: PolicyStore> PolicyStore for std::sync::Arc<S> {
    async fn load(&self) -> Result<Policy, Error> {
        (**self).load().await
    }
    async fn load_versioned(&self) -> Result<(Policy, u64), Error> {
        (**self).load_versioned().await
    }
    async fn version(&self) -> Result<u64, Error> {
        (**self).version().await
    }
    async fn put_role(&self, name: &str, role: &Role) -> Result<(), Error> {
        (**self).put_role(name, role).await
    }
    async fn delete_role(&self, name: &str) -> Result<bool, Error> {
        (**self).delete_role(name).await
    }
    async fn assign(&self, assignment: &Assignment) -> Result<bool, Error> {
        (**self).assign(assignment).await
    }
    async fn unassign(&self, assignment: &Assignment) -> Result<bool, Error> {
        (**self).unassign(assignment).await
    }
    async fn add_parent(&self, parent: &Parent) -> Result<bool, Error> {
        (**self).add_parent(parent).await
    }
    async fn remove_parent(&self, parent: &Parent) -> Result<bool, Error> {
        (**self).remove_parent(parent).await
    }
}
