//! The decision index: a [`Policy`] compiled into hash maps, so a check is a handful of
//! lookups whatever the policy's size, and never waits on I/O.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use mortar_core::Principal;
use serde_json::{Map, Value};
use smallvec::SmallVec;

use crate::condition::{Condition, Vars};
use crate::decision::{Decision, Matched, Reason, Via};
use crate::error::Error;
use crate::model::{Assignment, Policy, ResourceId, Rule};
use crate::permission::{Permission, valid_name};
use crate::resource::Resource;

type Hasher = foldhash::fast::RandomState;
type FastMap<K, V> = HashMap<K, V, Hasher>;
/// Two string keys deep (kind → action, kind → id).
type Nested<V> = FastMap<Box<str>, FastMap<Box<str>, V>>;

/// Resource containment is followed this deep at most (cycles are refused when indexing; this
/// bounds the walk through parents the request adds).
const MAX_DEPTH: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Debug)]
pub(crate) struct CompiledRule {
    permission: Permission,
    text: Arc<str>,
    effect: Effect,
    condition: Option<Arc<Condition>>,
    /// The role that declares it.
    from: Arc<str>,
}

/// A role with every rule it has, its own and inherited, indexed by resource kind then action
/// (`*` keys for wildcards).
#[derive(Debug)]
pub(crate) struct RoleEntry {
    name: Arc<str>,
    rules: Vec<Arc<CompiledRule>>,
    by_kind: Nested<SmallVec<[u32; 2]>>,
}

impl RoleEntry {
    /// The rules matching `action` on `kind`, in at most four lookups.
    fn matching<'a>(&'a self, kind: &str, action: &str) -> impl Iterator<Item = &'a CompiledRule> {
        // The (at most four) rule lists found first, then walked: cheaper than nested
        // iterator adapters on every check.
        let mut found: [&[u32]; 4] = [&[]; 4];
        let mut n = 0;
        for k in [kind, "*"] {
            if let Some(actions) = self.by_kind.get(k) {
                for a in [action, "*"] {
                    if let Some(ids) = actions.get(a) {
                        found[n] = ids;
                        n += 1;
                    }
                }
            }
        }
        found
            .into_iter()
            .take(n)
            .flatten()
            .map(|&i| &*self.rules[i as usize])
    }
}

#[derive(Debug)]
pub(crate) struct Grant {
    role: u32,
    tenant: Option<Arc<str>>,
    resource: Option<Arc<ResourceId>>,
    condition: Option<Arc<Condition>>,
}

impl Grant {
    fn via(&self) -> Via {
        match (&self.resource, &self.tenant) {
            (Some(r), _) => Via::Resource(r.clone()),
            (None, Some(t)) => Via::Tenant(t.clone()),
            (None, None) => Via::Global,
        }
    }

    /// Holds in this tenant: a tenant-scoped grant only in its own tenant.
    fn in_tenant(&self, tenant: Option<&str>) -> bool {
        self.tenant.as_deref().is_none_or(|t| Some(t) == tenant)
    }
}

/// The compiled policy.
#[derive(Debug)]
pub(crate) struct Index {
    policy: Policy,
    roles: Vec<RoleEntry>,
    role_ids: FastMap<Box<str>, u32>,
    /// Subject → its global and tenant grants.
    grants: FastMap<Box<str>, Vec<Grant>>,
    /// Subject → resource kind → id → its grants on that resource.
    resource_grants: FastMap<Box<str>, Nested<Vec<Grant>>>,
    /// Resource kind → id → its containers.
    parents: Nested<Vec<ResourceId>>,
    /// Whether any rule or assignment has a condition (else nothing reads `context`); the
    /// HTTP edges build the request context only then.
    #[cfg(any(feature = "tower", feature = "actix"))]
    has_conditions: bool,
}

/// Whether an assignment counts within `tenant` for the admin queries: every assignment when
/// no tenant is asked for, else the tenant's own and the global ones.
fn counts_in(a: &Assignment, tenant: Option<&str>) -> bool {
    tenant.is_none() || a.tenant.is_none() || a.tenant.as_deref() == tenant
}

/// [`Index::decide`]'s answer, each deciding rule as its reporter made it.
pub(crate) enum Verdict<M> {
    CrossTenant,
    Denied(M),
    Allowed(M),
    /// No rule allows; an allowing rule whose condition did not hold, with why, if any.
    NoRule(Option<(M, Cow<'static, str>)>),
}

impl<M> Verdict<M> {
    /// Whether it allows.
    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn allowed(&self) -> bool {
        matches!(self, Self::Allowed(_))
    }
}

/// Whether `resource` belongs to another tenant than the one the principal acts in (refused
/// whatever the roles: ASVS V8.4.1).
fn other_tenant(tenant: Option<&str>, resource: &Resource) -> bool {
    resource
        .tenant
        .as_deref()
        .is_some_and(|owner| tenant != Some(owner))
}

fn check_name(what: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.len() > 256 || value.chars().any(char::is_control) {
        return Err(Error::Name {
            what,
            value: value.to_owned(),
        });
    }
    Ok(())
}

/// Compiles conditions once each (a text used by many rules shares one program).
#[derive(Default)]
struct Conditions(HashMap<String, Arc<Condition>>);

impl Conditions {
    fn get(&mut self, text: Option<&str>) -> Result<Option<Arc<Condition>>, Error> {
        let Some(text) = text else { return Ok(None) };
        if let Some(c) = self.0.get(text) {
            return Ok(Some(c.clone()));
        }
        let c = Arc::new(Condition::compile(text)?);
        self.0.insert(text.to_owned(), c.clone());
        Ok(Some(c))
    }
}

impl Index {
    /// Compiles a policy.
    pub(crate) fn build(policy: Policy) -> Result<Self, Error> {
        let names: Vec<&String> = policy.roles.keys().collect();
        let role_ids: FastMap<Box<str>, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (Box::from(n.as_str()), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let mut conditions = Conditions::default();
        // Each role's own rules, compiled.
        let mut own: Vec<Vec<Arc<CompiledRule>>> = Vec::with_capacity(names.len());
        for (name, role) in &policy.roles {
            if !valid_name(name) {
                return Err(Error::Name {
                    what: "role name",
                    value: name.clone(),
                });
            }
            for parent in &role.inherits {
                if !role_ids.contains_key(parent.as_str()) {
                    return Err(Error::UnknownRole(parent.clone()));
                }
            }
            let from: Arc<str> = Arc::from(name.as_str());
            let mut rules = Vec::new();
            for (effect, list) in [(Effect::Deny, &role.deny), (Effect::Allow, &role.allow)] {
                for rule in list {
                    rules.push(Arc::new(compile_rule(
                        rule,
                        effect,
                        &from,
                        &mut conditions,
                    )?));
                }
            }
            own.push(rules);
        }
        check_role_cycles(&policy, &role_ids)?;
        let roles = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut rules = Vec::new();
                let mut seen = HashSet::new();
                collect_rules(&policy, &names, &role_ids, &own, i, &mut seen, &mut rules);
                let mut by_kind: Nested<SmallVec<[u32; 2]>> = FastMap::default();
                for (j, rule) in rules.iter().enumerate() {
                    by_kind
                        .entry(Box::from(rule.permission.resource()))
                        .or_default()
                        .entry(Box::from(rule.permission.action()))
                        .or_default()
                        .push(u32::try_from(j).unwrap_or(u32::MAX));
                }
                RoleEntry {
                    name: Arc::from(name.as_str()),
                    rules,
                    by_kind,
                }
            })
            .collect();

        let (grants, resource_grants) = build_grants(&policy, &role_ids, &mut conditions)?;
        let mut parents: Nested<Vec<ResourceId>> = FastMap::default();
        for p in &policy.parents {
            parents
                .entry(Box::from(p.child.kind()))
                .or_default()
                .entry(Box::from(p.child.id()))
                .or_default()
                .push(p.parent.clone());
        }
        let index = Self {
            policy,
            roles,
            role_ids,
            grants,
            resource_grants,
            parents,
            #[cfg(any(feature = "tower", feature = "actix"))]
            has_conditions: !conditions.0.is_empty(),
        };
        index.check_resource_cycles()?;
        Ok(index)
    }

    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether any rule or assignment has a condition.
    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn has_conditions(&self) -> bool {
        self.has_conditions
    }

    fn parents_of(&self, r: &ResourceId) -> &[ResourceId] {
        self.parents
            .get(r.kind())
            .and_then(|ids| ids.get(r.id()))
            .map_or(&[], Vec::as_slice)
    }

    fn check_resource_cycles(&self) -> Result<(), Error> {
        // Depth-first from every child; a resource met again on the current path is a cycle.
        fn visit<'a>(
            index: &'a Index,
            r: &'a ResourceId,
            path: &mut Vec<&'a ResourceId>,
            done: &mut HashSet<&'a ResourceId>,
        ) -> Result<(), Error> {
            if let Some(pos) = path.iter().position(|p| *p == r) {
                let mut names: Vec<String> = path[pos..].iter().map(ToString::to_string).collect();
                names.push(r.to_string());
                return Err(Error::ResourceCycle(names.join(" → ")));
            }
            if !done.insert(r) {
                return Ok(());
            }
            path.push(r);
            for p in index.parents_of(r) {
                visit(index, p, path, done)?;
            }
            path.pop();
            Ok(())
        }
        let mut done = HashSet::new();
        for p in &self.policy.parents {
            visit(self, &p.child, &mut Vec::new(), &mut done)?;
        }
        Ok(())
    }

    /// The roles held by a principal in its tenant for a resource, each with how it is held.
    fn held<'a>(
        &'a self,
        principal: &'a Principal,
        tenant: Option<&str>,
        resource: &'a Resource,
        mut f: impl FnMut(&'a Grant) -> bool,
    ) -> SmallVec<[(u32, Option<&'a Grant>); 8]> {
        let subject = principal.subject();
        let mut out: SmallVec<[(u32, Option<&'a Grant>); 8]> = SmallVec::new();
        for g in self.grants.get(subject).into_iter().flatten() {
            if g.in_tenant(tenant) && f(g) {
                out.push((g.role, Some(g)));
            }
        }
        for role in principal.roles() {
            if let Some(&id) = self.role_ids.get(role) {
                out.push((id, None));
            }
        }
        if let Some(by_kind) = self.resource_grants.get(subject) {
            // The resource, then its containers: breadth first, each visited once.
            let mut queue: SmallVec<[(&str, &str); 8]> = SmallVec::new();
            if let Some(id) = resource.id.as_deref() {
                queue.push((resource.kind.as_str(), id));
            }
            for p in &resource.parents {
                queue.push((p.kind(), p.id()));
            }
            let mut i = 0;
            while i < queue.len() && i < MAX_DEPTH * 4 {
                let (kind, id) = queue[i];
                i += 1;
                if let Some(gs) = by_kind.get(kind).and_then(|ids| ids.get(id)) {
                    for g in gs {
                        if g.in_tenant(tenant) && f(g) {
                            out.push((g.role, Some(g)));
                        }
                    }
                }
                if let Some(ps) = self.parents.get(kind).and_then(|ids| ids.get(id)) {
                    for p in ps {
                        let next = (p.kind(), p.id());
                        if !queue.contains(&next) {
                            queue.push(next);
                        }
                    }
                }
            }
        }
        out
    }

    /// Decides `action` on `resource` for `principal`: deny overrides allow, default deny.
    pub(crate) fn check(
        &self,
        principal: &Principal,
        tenant: Option<&str>,
        action: &str,
        resource: &Resource,
        context: &Map<String, Value>,
        now: SystemTime,
    ) -> Decision {
        let matched = |role: &RoleEntry, rule: &CompiledRule, grant: Option<&Grant>| Matched {
            role: role.name.clone(),
            from: rule.from.clone(),
            permission: rule.text.clone(),
            condition: rule.condition.as_ref().map(|c| c.text().clone()),
            via: grant.map_or(Via::Principal, Grant::via),
        };
        Decision::new(
            match self.decide(principal, tenant, action, resource, context, now, matched) {
                Verdict::CrossTenant => Reason::CrossTenant,
                Verdict::Denied(m) => Reason::Denied(m),
                Verdict::Allowed(m) => Reason::Allowed(m),
                Verdict::NoRule(conditional) => Reason::NoRule {
                    conditional: conditional.map(|(m, why)| (m, why.into_owned())),
                },
            },
        )
    }

    /// The decision, each deciding rule reported through `matched` ([`Self::check`] names
    /// them; a guard's every-request answer passes `|_, _, _| ()` and names none).
    #[allow(
        clippy::too_many_arguments,
        reason = "the check's inputs and its reporter"
    )]
    pub(crate) fn decide<M>(
        &self,
        principal: &Principal,
        tenant: Option<&str>,
        action: &str,
        resource: &Resource,
        context: &Map<String, Value>,
        now: SystemTime,
        matched: impl Fn(&RoleEntry, &CompiledRule, Option<&Grant>) -> M,
    ) -> Verdict<M> {
        if other_tenant(tenant, resource) {
            return Verdict::CrossTenant;
        }
        let vars = Vars::new(principal, tenant, resource, context, now);
        let holds = |c: &Option<Arc<Condition>>| c.as_ref().map(|c| c.holds(&vars));
        let held = self.held(principal, tenant, resource, |g| {
            // A conditional grant is held only while its condition holds.
            holds(&g.condition).is_none_or(|r| r == Ok(true))
        });
        let mut allow: Option<M> = None;
        let mut conditional: Option<(M, Cow<'static, str>)> = None;
        for &(role_id, grant) in &held {
            let role = &self.roles[role_id as usize];
            for rule in role.matching(&resource.kind, action) {
                match rule.effect {
                    Effect::Deny => match holds(&rule.condition) {
                        // A deny whose condition fails to evaluate still denies (fail closed).
                        None | Some(Ok(true) | Err(_)) => {
                            return Verdict::Denied(matched(role, rule, grant));
                        }
                        Some(Ok(false)) => {}
                    },
                    Effect::Allow if allow.is_none() => match holds(&rule.condition) {
                        None | Some(Ok(true)) => allow = Some(matched(role, rule, grant)),
                        Some(Ok(false)) => {
                            conditional.get_or_insert_with(|| {
                                (matched(role, rule, grant), Cow::Borrowed("it was false"))
                            });
                        }
                        Some(Err(e)) => {
                            conditional
                                .get_or_insert_with(|| (matched(role, rule, grant), e.into()));
                        }
                    },
                    Effect::Allow => {}
                }
            }
        }
        match allow {
            Some(m) => Verdict::Allowed(m),
            None => Verdict::NoRule(conditional),
        }
    }

    /// Every rule the principal's roles give it for a resource (conditions not evaluated).
    pub(crate) fn permissions(
        &self,
        principal: &Principal,
        resource: &Resource,
    ) -> Vec<crate::Effective> {
        let tenant = principal.tenant();
        if other_tenant(tenant, resource) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (role_id, grant) in self.held(principal, tenant, resource, |_| true) {
            let role = &self.roles[role_id as usize];
            for rule in &role.rules {
                // Rules for this kind of resource, or for any.
                let kind = rule.permission.resource();
                if kind != "*" && kind != resource.kind {
                    continue;
                }
                out.push(crate::Effective {
                    permission: rule.permission.clone(),
                    allowed: rule.effect == Effect::Allow,
                    role: role.name.clone(),
                    condition: rule
                        .condition
                        .as_ref()
                        .map(|c| c.text().clone())
                        .or_else(|| {
                            grant
                                .and_then(|g| g.condition.as_ref())
                                .map(|c| c.text().clone())
                        }),
                    via: grant.map_or(Via::Principal, Grant::via),
                });
            }
        }
        out
    }

    /// Assignments of a role (optionally within one tenant: global ones count there too).
    pub(crate) fn holders(&self, role: &str, tenant: Option<&str>) -> Vec<&Assignment> {
        self.policy
            .assignments
            .iter()
            .filter(|a| a.role == role)
            .filter(|a| counts_in(a, tenant))
            .collect()
    }

    /// A subject's assignments (optionally within one tenant: global ones count there too).
    pub(crate) fn assignments_of(&self, subject: &str, tenant: Option<&str>) -> Vec<&Assignment> {
        self.policy
            .assignments
            .iter()
            .filter(|a| a.subject == subject)
            .filter(|a| counts_in(a, tenant))
            .collect()
    }

    /// Assignments whose role (with what it inherits) allows `permission` unconditionally or
    /// conditionally, and does not deny it outright.
    pub(crate) fn holders_of(
        &self,
        permission: &Permission,
        tenant: Option<&str>,
    ) -> Vec<&Assignment> {
        let (kind, action) = (permission.resource(), permission.action());
        let roles: HashSet<&str> = self
            .roles
            .iter()
            .filter(|r| {
                let rules: Vec<&CompiledRule> = r.matching(kind, action).collect();
                rules.iter().any(|x| x.effect == Effect::Allow)
                    && !rules
                        .iter()
                        .any(|x| x.effect == Effect::Deny && x.condition.is_none())
            })
            .map(|r| &*r.name)
            .collect();
        self.policy
            .assignments
            .iter()
            .filter(|a| roles.contains(a.role.as_str()))
            .filter(|a| counts_in(a, tenant))
            .collect()
    }
}

/// Subject → global and tenant grants; subject → kind → id → resource grants.
type Grants = (
    FastMap<Box<str>, Vec<Grant>>,
    FastMap<Box<str>, Nested<Vec<Grant>>>,
);

fn build_grants(
    policy: &Policy,
    role_ids: &FastMap<Box<str>, u32>,
    conditions: &mut Conditions,
) -> Result<Grants, Error> {
    let mut grants: FastMap<Box<str>, Vec<Grant>> = FastMap::default();
    let mut resource_grants: FastMap<Box<str>, Nested<Vec<Grant>>> = FastMap::default();
    for a in &policy.assignments {
        check_name("subject", &a.subject)?;
        let role = *role_ids
            .get(a.role.as_str())
            .ok_or_else(|| Error::UnknownRole(a.role.clone()))?;
        if let Some(t) = &a.tenant {
            check_name("tenant", t)?;
        }
        let grant = Grant {
            role,
            tenant: a.tenant.as_deref().map(Arc::from),
            resource: a.resource.clone().map(Arc::new),
            condition: conditions.get(a.when.as_deref())?,
        };
        match &a.resource {
            None => grants
                .entry(Box::from(a.subject.as_str()))
                .or_default()
                .push(grant),
            Some(r) => resource_grants
                .entry(Box::from(a.subject.as_str()))
                .or_default()
                .entry(Box::from(r.kind()))
                .or_default()
                .entry(Box::from(r.id()))
                .or_default()
                .push(grant),
        }
    }

    Ok((grants, resource_grants))
}

fn compile_rule(
    rule: &Rule,
    effect: Effect,
    from: &Arc<str>,
    conditions: &mut Conditions,
) -> Result<CompiledRule, Error> {
    Ok(CompiledRule {
        permission: Permission::parse(rule.permission())?,
        text: Arc::from(rule.permission()),
        effect,
        condition: conditions.get(rule.condition())?,
        from: from.clone(),
    })
}

/// Refuses inheritance cycles, naming the path.
fn check_role_cycles(policy: &Policy, ids: &FastMap<Box<str>, u32>) -> Result<(), Error> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit<'a>(
        policy: &'a Policy,
        ids: &FastMap<Box<str>, u32>,
        name: &'a str,
        marks: &mut [Mark],
        path: &mut Vec<&'a str>,
    ) -> Result<(), Error> {
        let i = ids[name] as usize;
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::OnPath => {
                let start = path.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle: Vec<&str> = path[start..].to_vec();
                cycle.push(name);
                return Err(Error::RoleCycle(cycle.join(" → ")));
            }
            Mark::New => {}
        }
        marks[i] = Mark::OnPath;
        path.push(name);
        for parent in &policy.roles[name].inherits {
            visit(policy, ids, parent, marks, path)?;
        }
        path.pop();
        marks[i] = Mark::Done;
        Ok(())
    }
    let mut marks = vec![Mark::New; ids.len()];
    for name in policy.roles.keys() {
        visit(policy, ids, name, &mut marks, &mut Vec::new())?;
    }
    Ok(())
}

/// A role's rules and those of every role it inherits (each role once: diamonds are fine).
fn collect_rules(
    policy: &Policy,
    names: &[&String],
    ids: &FastMap<Box<str>, u32>,
    own: &[Vec<Arc<CompiledRule>>],
    role: usize,
    seen: &mut HashSet<usize>,
    out: &mut Vec<Arc<CompiledRule>>,
) {
    if !seen.insert(role) {
        return;
    }
    out.extend(own[role].iter().cloned());
    for parent in &policy.roles[names[role].as_str()].inherits {
        collect_rules(
            policy,
            names,
            ids,
            own,
            ids[parent.as_str()] as usize,
            seen,
            out,
        );
    }
}
