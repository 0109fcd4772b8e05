//! [`Rbac`]: checks against an in-memory index, admin changes through a store.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(any(feature = "tower", feature = "actix"))]
use std::time::SystemTime;

use arc_swap::ArcSwap;
use mortar_core::audit::{AuditEvent, NoopRecorder, Outcome};
use mortar_core::{AuditRecorder, Principal, SharedClock, SystemClock};
use serde_json::{Map, Value};

use crate::Effective;
use crate::decision::Decision;
use crate::error::Error;
use crate::index::Index;
use crate::model::{Assignment, Parent, Policy, Role};
use crate::permission::Permission;
use crate::resource::Resource;
use crate::store::{MemoryStore, PolicyStore};

/// The authorizer: `check` reads an immutable index swapped atomically (no lock, no I/O); the
/// admin functions write through the [`PolicyStore`], rebuild the index, and report to the
/// [`AuditRecorder`]. Cheap to clone.
///
/// ```
/// use mortar_core::Principal;
/// use mortar_rbac::{Assignment, Policy, Rbac, Resource, Role};
///
/// let rbac = Rbac::new(
///     Policy::new()
///         .role("viewer", Role::new().allow("posts:read"))
///         .role("editor", Role::new().inherits("viewer").allow("posts:write"))
///         .assign(Assignment::new("alice", "editor").in_tenant("acme")),
/// )
/// .unwrap();
/// let alice = Principal::user("alice").tenant("acme").build();
/// let post = Resource::new("posts", "42").tenant("acme");
/// assert!(rbac.check(&alice, "read", &post).allowed());
/// let decision = rbac.check(&alice, "delete", &post);
/// assert!(!decision.allowed());
/// assert_eq!(decision.explain(), "denied: no rule allows it");
///
/// let elsewhere = Resource::new("posts", "7").tenant("globex");
/// assert!(!rbac.check(&alice, "read", &elsewhere).allowed(), "never across tenants");
/// ```
#[derive(Clone)]
pub struct Rbac {
    inner: Arc<Inner>,
}

struct Inner {
    index: ArcSwap<Index>,
    version: AtomicU64,
    store: Arc<dyn PolicyStore>,
    recorder: Arc<dyn AuditRecorder>,
    clock: SharedClock,
}

/// The background refresh [`Rbac::watch`] started; dropping it stops it.
#[derive(Debug)]
#[must_use = "dropping the Watch stops the refresh"]
pub struct Watch {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for Rbac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let index = self.inner.index.load();
        f.debug_struct("Rbac")
            .field("roles", &index.policy().roles.len())
            .field("assignments", &index.policy().assignments.len())
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

fn no_context() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

impl Rbac {
    /// An authorizer over a fixed policy, kept in a [`MemoryStore`].
    ///
    /// # Errors
    ///
    /// The policy's first problem: an unknown role, an inheritance or containment cycle, a
    /// malformed permission, name or condition.
    pub fn new(policy: Policy) -> Result<Self, Error> {
        let index = Index::build(policy.clone())?;
        Ok(Self::with_index(
            index,
            Arc::new(MemoryStore::new(policy)),
            1,
        ))
    }

    /// An authorizer over a store's policy.
    ///
    /// # Errors
    ///
    /// The store's failure, or the policy's first problem.
    pub async fn from_store(store: impl PolicyStore) -> Result<Self, Error> {
        let (policy, version) = store.load_versioned().await?;
        let index = Index::build(policy)?;
        Ok(Self::with_index(index, Arc::new(store), version))
    }

    fn with_index(index: Index, store: Arc<dyn PolicyStore>, version: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                index: ArcSwap::from_pointee(index),
                version: AtomicU64::new(version),
                store,
                recorder: Arc::new(NoopRecorder),
                clock: Arc::new(SystemClock),
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut Inner {
        // Configured right after construction, before any clone.
        Arc::get_mut(&mut self.inner).expect("configure Rbac before cloning it")
    }

    /// Reports admin changes to this recorder.
    ///
    /// # Panics
    ///
    /// When called on a clone (configure before sharing).
    #[must_use]
    pub fn recorder(mut self, recorder: impl AuditRecorder) -> Self {
        self.inner_mut().recorder = Arc::new(recorder);
        self
    }

    /// Reads `now` for conditions from this clock.
    ///
    /// # Panics
    ///
    /// When called on a clone (configure before sharing).
    #[must_use]
    pub fn clock(mut self, clock: impl mortar_core::Clock) -> Self {
        self.inner_mut().clock = Arc::new(clock);
        self
    }

    /// May `principal` do `action` on `resource`? Checks `{resource kind}:{action}`.
    pub fn check(&self, principal: &Principal, action: &str, resource: &Resource) -> Decision {
        self.check_with(principal, action, resource, no_context())
    }

    /// [`Self::check`] with request attributes for conditions (`context.ip`, …).
    pub fn check_with(
        &self,
        principal: &Principal,
        action: &str,
        resource: &Resource,
        context: &Map<String, Value>,
    ) -> Decision {
        self.inner.index.load().check(
            principal,
            principal.tenant(),
            action,
            resource,
            context,
            self.inner.clock.now(),
        )
    }

    /// May `principal` do `permission` (`posts:write`) on resources of that kind in general?
    ///
    /// # Errors
    ///
    /// [`Error::Permission`] when the text is not `resource:action` without wildcards.
    pub fn check_permission(
        &self,
        principal: &Principal,
        permission: &str,
    ) -> Result<Decision, Error> {
        let (kind, action) = Permission::concrete(permission)?;
        Ok(self.check(principal, action, &Resource::kind(kind)))
    }

    /// [`Self::check_with`], building the context only when the policy has a condition to read
    /// it (the HTTP edges: no per-request allocation for policies without conditions).
    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn check_lazy(
        &self,
        principal: &Principal,
        tenant: Option<&str>,
        action: &str,
        resource: &Resource,
        context: impl FnOnce() -> Map<String, Value>,
    ) -> Decision {
        let index = self.inner.index.load();
        let now = self.inner.clock.now();
        if index.has_conditions() {
            index.check(principal, tenant, action, resource, &context(), now)
        } else {
            index.check(principal, tenant, action, resource, no_context(), now)
        }
    }

    /// Whether `principal` may `action` resources of `general`'s kind (a resource of the kind
    /// alone: no id, tenant or attributes) in `tenant`, answered without copying the resource,
    /// reading the clock or naming the deciding rule — a guard's every-request check. `None`
    /// when the policy has conditions, which may read the resource's tenant, the time and the
    /// request: [`Self::check_lazy`] decides then.
    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn allows_general(
        &self,
        principal: &Principal,
        tenant: Option<&str>,
        action: &str,
        general: &Resource,
    ) -> Option<bool> {
        let index = self.inner.index.load();
        // Without conditions nothing reads the time, and a resource's tenant matters only when
        // it is another than the request's; placed in the request's tenant, it is not.
        (!index.has_conditions()).then(|| {
            let now = SystemTime::UNIX_EPOCH;
            index
                .decide(
                    principal,
                    tenant,
                    action,
                    general,
                    no_context(),
                    now,
                    |_, _, _| (),
                )
                .allowed()
        })
    }

    /// Several checks on one snapshot of the policy.
    pub fn check_all(&self, principal: &Principal, checks: &[(&str, &Resource)]) -> Vec<Decision> {
        let index = self.inner.index.load();
        let now = self.inner.clock.now();
        checks
            .iter()
            .map(|(action, resource)| {
                index.check(
                    principal,
                    principal.tenant(),
                    action,
                    resource,
                    no_context(),
                    now,
                )
            })
            .collect()
    }

    /// What `principal` may (and may not) do on `resource`: every rule of the roles it holds
    /// there, conditions not evaluated (admin screens, UIs hiding buttons).
    pub fn permissions(&self, principal: &Principal, resource: &Resource) -> Vec<Effective> {
        self.inner.index.load().permissions(principal, resource)
    }

    /// Who holds `role` (within `tenant`, counting global assignments; every tenant for
    /// `None`).
    pub fn holders(&self, role: &str, tenant: Option<&str>) -> Vec<Assignment> {
        self.inner
            .index
            .load()
            .holders(role, tenant)
            .into_iter()
            .cloned()
            .collect()
    }

    /// What roles `subject` holds, and where (within `tenant`, counting global assignments;
    /// everywhere for `None`): "my organizations", a user's admin page.
    ///
    /// ```
    /// use mortar_rbac::{Assignment, Policy, Rbac, Role};
    ///
    /// let rbac = Rbac::new(
    ///     Policy::new()
    ///         .role("member", Role::new().allow("orgs:read"))
    ///         .assign(Assignment::new("ann", "member").in_tenant("acme"))
    ///         .assign(Assignment::new("ann", "member").in_tenant("globex")),
    /// )
    /// .unwrap();
    /// let orgs: Vec<_> = rbac.assignments_of("ann", None).into_iter().filter_map(|a| a.tenant).collect();
    /// assert_eq!(orgs, ["acme", "globex"]);
    /// assert_eq!(rbac.assignments_of("ann", Some("acme")).len(), 1);
    /// ```
    pub fn assignments_of(&self, subject: &str, tenant: Option<&str>) -> Vec<Assignment> {
        self.inner
            .index
            .load()
            .assignments_of(subject, tenant)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Who holds a role allowing `permission` (`posts:delete`).
    ///
    /// # Errors
    ///
    /// [`Error::Permission`] for a malformed permission.
    pub fn holders_of(
        &self,
        permission: &str,
        tenant: Option<&str>,
    ) -> Result<Vec<Assignment>, Error> {
        let p = Permission::parse(permission)?;
        Ok(self
            .inner
            .index
            .load()
            .holders_of(&p, tenant)
            .into_iter()
            .cloned()
            .collect())
    }

    /// The policy the checks use now.
    pub fn policy(&self) -> Policy {
        self.inner.index.load().policy().clone()
    }

    /// Rebuilds the index when the store's version changed (another instance wrote to it);
    /// answers whether it did. Call it on a timer or when notified.
    ///
    /// # Errors
    ///
    /// The store's failure or the stored policy's first problem (the current index stays).
    pub async fn refresh(&self) -> Result<bool, Error> {
        let version = self.inner.store.version().await?;
        if version == self.inner.version.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    async fn reload(&self) -> Result<(), Error> {
        let (policy, version) = self.inner.store.load_versioned().await?;
        self.install(Index::build(policy)?, version);
        Ok(())
    }

    fn install(&self, index: Index, version: u64) {
        self.inner.index.store(Arc::new(index));
        self.inner.version.store(version, Ordering::Release);
    }

    /// Keeps this instance current with changes other instances make to a shared store:
    /// every `interval` the store's version is read (one small query) and the index rebuilt
    /// when it moved. Stops when the returned [`Watch`] or every clone of this `Rbac` is
    /// dropped. Failures are logged (`tracing` warn) and the current index kept.
    ///
    /// Needs a Tokio runtime.
    pub fn watch(&self, interval: std::time::Duration) -> Watch {
        let inner = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(inner) = inner.upgrade() else { break };
                let rbac = Self { inner };
                if let Err(err) = rbac.refresh().await {
                    tracing::warn!(error = %err, "mortar-rbac: policy refresh failed; the current index stays");
                }
            }
        });
        Watch { task }
    }

    /// Applies a change: checked on a copy of the current policy first (a change that would
    /// make it invalid is refused before anything is written), then written, then the index
    /// rebuilt from the store and the change reported.
    async fn change<F, Fut>(
        &self,
        actor: &Principal,
        action: &'static str,
        target: (&str, String),
        preview: impl FnOnce(&mut Policy),
        write: F,
    ) -> Result<bool, Error>
    where
        F: FnOnce(Arc<dyn PolicyStore>) -> Fut,
        Fut: Future<Output = Result<bool, Error>>,
    {
        let (mut candidate, before) = self.inner.store.load_versioned().await?;
        preview(&mut candidate);
        let index = Index::build(candidate)?;
        let changed = write(self.inner.store.clone()).await?;
        let after = self.inner.store.version().await?;
        if changed && after == before + 1 {
            // Nobody else wrote in between: the checked copy is the stored policy.
            self.install(index, after);
        } else {
            self.reload().await?;
        }
        let mut event = AuditEvent::new(action, Outcome::Success)
            .actor(actor)
            .target(target.0, target.1)
            .meta("changed", changed);
        if let Some(tenant) = actor.tenant() {
            event = event.tenant(tenant);
        }
        self.inner.recorder.record(event);
        Ok(changed)
    }

    /// Adds or replaces a role (audited as `rbac.role.put`).
    ///
    /// # Errors
    ///
    /// The policy's problem with the new role (unknown inherited role, cycle, bad rule), or
    /// the store's failure.
    pub async fn put_role(&self, actor: &Principal, name: &str, role: Role) -> Result<(), Error> {
        let (n, r) = (name.to_owned(), role.clone());
        self.change(
            actor,
            "rbac.role.put",
            ("role", name.to_owned()),
            move |p| {
                p.roles.insert(n, r);
            },
            |store| async move { store.put_role(name, &role).await.map(|()| true) },
        )
        .await
        .map(drop)
    }

    /// Removes a role and its assignments (audited as `rbac.role.delete`).
    ///
    /// # Errors
    ///
    /// When other roles inherit it, or the store fails.
    pub async fn delete_role(&self, actor: &Principal, name: &str) -> Result<bool, Error> {
        let n = name.to_owned();
        self.change(
            actor,
            "rbac.role.delete",
            ("role", name.to_owned()),
            move |p| {
                p.assignments.retain(|a| a.role != n);
                p.roles.remove(&n);
            },
            |store| async move { store.delete_role(name).await },
        )
        .await
    }

    /// Grants a role (audited as `rbac.grant`).
    ///
    /// # Errors
    ///
    /// An unknown role, a malformed name or condition, or the store's failure.
    pub async fn grant(&self, actor: &Principal, assignment: Assignment) -> Result<bool, Error> {
        let target = format!("{}:{}", assignment.subject, assignment.role);
        let a = assignment.clone();
        self.change(
            actor,
            "rbac.grant",
            ("assignment", target),
            move |p| p.assignments.push(a),
            |store| async move { store.assign(&assignment).await },
        )
        .await
    }

    /// Revokes a role (audited as `rbac.revoke`).
    ///
    /// # Errors
    ///
    /// The store's failure.
    pub async fn revoke(&self, actor: &Principal, assignment: &Assignment) -> Result<bool, Error> {
        let target = format!("{}:{}", assignment.subject, assignment.role);
        let a = assignment.clone();
        self.change(
            actor,
            "rbac.revoke",
            ("assignment", target),
            move |p| p.assignments.retain(|x| *x != a),
            |store| async move { store.unassign(assignment).await },
        )
        .await
    }

    /// Records that `parent` contains `child` (audited as `rbac.parent.add`).
    ///
    /// # Errors
    ///
    /// A containment cycle, or the store's failure.
    pub async fn add_parent(&self, actor: &Principal, parent: Parent) -> Result<bool, Error> {
        let target = parent.child.to_string();
        let p2 = parent.clone();
        self.change(
            actor,
            "rbac.parent.add",
            ("resource", target),
            move |p| p.parents.push(p2),
            |store| async move { store.add_parent(&parent).await },
        )
        .await
    }

    /// Removes a containment edge (audited as `rbac.parent.remove`).
    ///
    /// # Errors
    ///
    /// The store's failure.
    pub async fn remove_parent(&self, actor: &Principal, parent: &Parent) -> Result<bool, Error> {
        let target = parent.child.to_string();
        let p2 = parent.clone();
        self.change(
            actor,
            "rbac.parent.remove",
            ("resource", target),
            move |p| p.parents.retain(|x| *x != p2),
            |store| async move { store.remove_parent(parent).await },
        )
        .await
    }
}
