//! One conformance suite for every `PolicyStore` (memory, SQLite, PostgreSQL, MariaDB): the
//! store's own contract, then the authorizer's decisions on top of it — hierarchy, tenant
//! isolation, resource inheritance, deny-override, CEL conditions with missing attributes,
//! cycles refused before anything is written — and two instances sharing the store seeing
//! each other's changes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mortar_core::Principal;
use mortar_core::audit::{AuditEvent, FnRecorder};
use mortar_rbac::{
    Assignment, Error, MemoryStore, Parent, Policy, PolicyStore, Rbac, Resource, ResourceId, Role,
};

fn rid(kind: &str, id: &str) -> ResourceId {
    ResourceId::new(kind, id).unwrap()
}

/// The `PolicyStore` contract, then the authorizer over it. `second` is another handle on the
/// same storage (another instance's view).
async fn conformance<S: PolicyStore + Clone>(store: S, second: S) {
    store_contract(&store).await;
    decisions(store.clone()).await;
    two_instances(store, second).await;
}

async fn store_contract(store: &impl PolicyStore) {
    let empty = store.load().await.unwrap();
    assert!(empty.roles.is_empty() && empty.assignments.is_empty() && empty.parents.is_empty());
    let v0 = store.version().await.unwrap();

    let viewer = Role::new()
        .description("reads")
        .allow("docs:read")
        .allow_when("docs:comment", "context.ip != ''");
    store.put_role("viewer", &viewer).await.unwrap();
    store
        .put_role(
            "editor",
            &Role::new()
                .inherits("viewer")
                .allow("docs:write")
                .deny("docs:purge"),
        )
        .await
        .unwrap();
    let v1 = store.version().await.unwrap();
    assert!(v1 > v0, "a write bumps the version");

    // Replace keeps one row per name.
    let viewer2 = viewer.clone().allow("docs:list");
    store.put_role("viewer", &viewer2).await.unwrap();

    let global = Assignment::new("ann", "viewer");
    let in_acme = Assignment::new("ann", "editor").in_tenant("acme");
    let on_doc = Assignment::new("bob", "editor")
        .in_tenant("acme")
        .on(rid("docs", "42"))
        .when("context.ip != '10.0.0.1'");
    for a in [&global, &in_acme, &on_doc] {
        assert!(store.assign(a).await.unwrap(), "new assignment");
    }
    assert!(!store.assign(&in_acme).await.unwrap(), "duplicate refused");
    // Same subject and role in another tenant is another assignment.
    let in_globex = Assignment::new("ann", "editor").in_tenant("globex");
    assert!(store.assign(&in_globex).await.unwrap());

    let edge = Parent {
        child: rid("docs", "42"),
        parent: rid("folders", "7"),
    };
    assert!(store.add_parent(&edge).await.unwrap());
    assert!(!store.add_parent(&edge).await.unwrap());

    let (policy, version) = store.load_versioned().await.unwrap();
    assert_eq!(version, store.version().await.unwrap());
    assert_eq!(policy.roles.len(), 2);
    assert_eq!(
        policy.roles["viewer"], viewer2,
        "rules, conditions, description kept"
    );
    assert_eq!(
        policy.roles["editor"],
        Role::new()
            .inherits("viewer")
            .allow("docs:write")
            .deny("docs:purge")
    );
    assert_eq!(
        policy.assignments,
        vec![
            global.clone(),
            in_acme.clone(),
            on_doc.clone(),
            in_globex.clone()
        ],
        "in insertion order, every field kept"
    );
    assert_eq!(policy.parents, vec![edge.clone()]);

    assert!(store.unassign(&in_globex).await.unwrap());
    assert!(!store.unassign(&in_globex).await.unwrap());
    assert!(store.remove_parent(&edge).await.unwrap());
    assert!(!store.remove_parent(&edge).await.unwrap());

    // Deleting a role removes its assignments with it.
    assert!(store.delete_role("editor").await.unwrap());
    assert!(!store.delete_role("editor").await.unwrap());
    let after = store.load().await.unwrap();
    assert_eq!(after.assignments, vec![global.clone()]);
    assert!(after.parents.is_empty());
    assert!(!after.roles.contains_key("editor"));

    concurrent_writers(store).await;

    // Leave the store empty for the next section.
    assert!(store.delete_role("viewer").await.unwrap());
    let empty = store.load().await.unwrap();
    assert!(empty.roles.is_empty() && empty.assignments.is_empty());
}

/// Writers queue; none fails, none is lost, each change bumps the version once; a write that
/// changes nothing does not.
async fn concurrent_writers(store: &impl PolicyStore) {
    let before = store.version().await.unwrap();
    let writes = (0..8).map(|i| {
        let a = Assignment::new(format!("racer{i}"), "viewer");
        async move { store.assign(&a).await }
    });
    for written in futures_util::future::join_all(writes).await {
        assert!(written.unwrap());
    }
    assert_eq!(store.version().await.unwrap(), before + 8);
    assert_eq!(store.load().await.unwrap().assignments.len(), 9);
    let unchanged = store.version().await.unwrap();
    assert!(
        !store
            .assign(&Assignment::new("racer0", "viewer"))
            .await
            .unwrap()
    );
    assert_eq!(
        store.version().await.unwrap(),
        unchanged,
        "no change, no bump"
    );
}

type Events = Arc<Mutex<Vec<AuditEvent>>>;

#[allow(clippy::too_many_lines, reason = "one scenario, step by step")]
async fn decisions<S: PolicyStore>(store: S) {
    let events: Events = Arc::default();
    let sink = events.clone();
    let rbac = Rbac::from_store(store)
        .await
        .unwrap()
        .recorder(FnRecorder::new(move |e| sink.lock().unwrap().push(e)));
    let admin = Principal::user("root").tenant("acme").build();

    rbac.put_role(&admin, "viewer", Role::new().allow("docs:read"))
        .await
        .unwrap();
    rbac.put_role(
        &admin,
        "editor",
        Role::new()
            .inherits("viewer")
            .allow("docs:*")
            .deny("docs:purge")
            .allow_when("reports:publish", "resource.owner == subject.id"),
    )
    .await
    .unwrap();
    rbac.put_role(&admin, "owner", Role::new().inherits("editor").allow("*:*"))
        .await
        .unwrap();

    // Cycles are refused before anything is written.
    let err = rbac
        .put_role(&admin, "viewer", Role::new().inherits("owner"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RoleCycle(_)), "{err}");
    assert!(rbac.policy().roles["viewer"].inherits.is_empty());
    let unknown = rbac
        .grant(&admin, Assignment::new("x", "no-such-role"))
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::UnknownRole(_)));

    rbac.grant(&admin, Assignment::new("ann", "editor").in_tenant("acme"))
        .await
        .unwrap();
    rbac.grant(&admin, Assignment::new("ann", "viewer").in_tenant("globex"))
        .await
        .unwrap();
    rbac.grant(
        &admin,
        Assignment::new("bob", "editor")
            .in_tenant("acme")
            .on(rid("folders", "7")),
    )
    .await
    .unwrap();
    rbac.add_parent(
        &admin,
        Parent {
            child: rid("docs", "42"),
            parent: rid("folders", "7"),
        },
    )
    .await
    .unwrap();
    // Containment cycles are refused too.
    let err = rbac
        .add_parent(
            &admin,
            Parent {
                child: rid("folders", "7"),
                parent: rid("docs", "42"),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ResourceCycle(_)), "{err}");

    let ann_acme = Principal::user("ann").tenant("acme").build();
    let ann_globex = Principal::user("ann").tenant("globex").build();
    let bob = Principal::user("bob").tenant("acme").build();
    let doc = |id: &str, tenant: &str| Resource::new("docs", id).tenant(tenant);

    // Hierarchy: editor inherits viewer's read, adds write.
    assert!(rbac.check(&ann_acme, "read", &doc("1", "acme")).allowed());
    assert!(rbac.check(&ann_acme, "write", &doc("1", "acme")).allowed());
    // Deny overrides the wildcard allow.
    let purge = rbac.check(&ann_acme, "purge", &doc("1", "acme"));
    assert!(!purge.allowed());
    assert!(purge.explain().contains("editor"), "{}", purge.explain());
    // Tenant isolation: a viewer in globex, and nothing across tenants.
    assert!(
        rbac.check(&ann_globex, "read", &doc("1", "globex"))
            .allowed()
    );
    assert!(
        !rbac
            .check(&ann_globex, "write", &doc("1", "globex"))
            .allowed()
    );
    assert!(!rbac.check(&ann_acme, "read", &doc("1", "globex")).allowed());
    assert!(!rbac.check(&ann_globex, "read", &doc("1", "acme")).allowed());
    // Resource inheritance: bob edits what folder 7 contains, nothing else.
    assert!(rbac.check(&bob, "write", &doc("42", "acme")).allowed());
    assert!(!rbac.check(&bob, "write", &doc("43", "acme")).allowed());
    assert!(!rbac.check(&bob, "purge", &doc("42", "acme")).allowed());
    // Conditions: publish needs the owner attribute; missing, it denies (never panics).
    let report = |id: &str| Resource::new("reports", id).tenant("acme");
    let own = report("1").attr("owner", "ann");
    assert!(rbac.check(&ann_acme, "publish", &own).allowed());
    assert!(!rbac.check(&ann_acme, "publish", &report("1")).allowed());
    assert!(
        !rbac
            .check(&ann_acme, "publish", &report("2").attr("owner", "bob"))
            .allowed()
    );

    // Revoking and deleting take effect at once on this instance.
    assert!(
        rbac.revoke(
            &admin,
            &Assignment::new("ann", "viewer").in_tenant("globex")
        )
        .await
        .unwrap()
    );
    assert!(
        !rbac
            .check(&ann_globex, "read", &doc("1", "globex"))
            .allowed()
    );
    let refused = rbac.delete_role(&admin, "viewer").await.unwrap_err();
    assert!(
        matches!(refused, Error::UnknownRole(_)),
        "editor inherits it: {refused}"
    );

    let events = events.lock().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_ref()).collect();
    assert_eq!(
        actions,
        [
            "rbac.role.put",
            "rbac.role.put",
            "rbac.role.put",
            "rbac.grant",
            "rbac.grant",
            "rbac.grant",
            "rbac.parent.add",
            "rbac.revoke"
        ],
        "every successful change audited, refused ones not"
    );
    assert!(
        events
            .iter()
            .all(|e| e.actor.as_ref().map(|a| a.subject.as_str()) == Some("root"))
    );
}

async fn two_instances<S: PolicyStore>(a: S, b: S) {
    let one = Rbac::from_store(a).await.unwrap();
    let two = Rbac::from_store(b).await.unwrap();
    let admin = Principal::user("root").build();
    let cy = Principal::user("cy").tenant("acme").build();
    let doc = Resource::new("docs", "9").tenant("acme");
    assert!(!two.check(&cy, "read", &doc).allowed());
    assert!(!two.refresh().await.unwrap(), "nothing changed yet");

    one.grant(&admin, Assignment::new("cy", "owner").in_tenant("acme"))
        .await
        .unwrap();
    assert!(one.check(&cy, "read", &doc).allowed());
    assert!(!two.check(&cy, "read", &doc).allowed(), "not refreshed yet");
    assert!(two.refresh().await.unwrap());
    assert!(two.check(&cy, "read", &doc).allowed());

    // The watcher picks up the next change by itself.
    let _watch = two.watch(Duration::from_millis(20));
    one.revoke(&admin, &Assignment::new("cy", "owner").in_tenant("acme"))
        .await
        .unwrap();
    let mut seen = false;
    for _ in 0..250 {
        if !two.check(&cy, "read", &doc).allowed() {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "the watcher applied the revocation");
}

#[tokio::test]
async fn memory() {
    let store = Arc::new(MemoryStore::new(Policy::new()));
    conformance(store.clone(), store).await;
}

/// Runs the suite on a migrated SQL database; the second handle is another store on the same
/// database (what a second app instance would have).
#[cfg(feature = "sql")]
async fn run_sql(conn: sea_orm::DatabaseConnection) {
    use mortar_rbac::sql::SeaOrmPolicyStore;
    conformance(
        SeaOrmPolicyStore::new(conn.clone()),
        SeaOrmPolicyStore::new(conn),
    )
    .await;
}

mortar_testkit::sql_suites!(mortar_rbac::sql::Migrator, super::run_sql);
