//! Decisions: hierarchy, tenant isolation, resource inheritance, deny-override, CEL conditions
//! (missing attributes deny, never panic), cycles refused, audited admin changes.

use std::sync::{Arc, Mutex};

use mortar_core::audit::AuditEvent;
use mortar_core::{AuditRecorder, Principal};
use mortar_rbac::{Assignment, Error, Parent, Policy, Rbac, Reason, Resource, ResourceId, Role};
use serde_json::json;

fn rid(s: &str) -> ResourceId {
    s.parse().unwrap()
}

fn policy() -> Policy {
    Policy::new()
        .role("viewer", Role::new().allow("*:read"))
        .role("editor", Role::new().inherits("viewer").allow("docs:write"))
        .role(
            "admin",
            Role::new()
                .inherits("editor")
                .allow("docs:*")
                .deny("docs:purge"),
        )
        .role("owner", Role::new().inherits("admin").allow("billing:*"))
        .role(
            "author",
            Role::new().allow_when("docs:delete", "resource.owner_id == subject.id"),
        )
        .role("intern", Role::new().deny("docs:write"))
        .assign(Assignment::new("ann", "admin").in_tenant("acme"))
        .assign(Assignment::new("ann", "viewer").in_tenant("globex"))
        .assign(Assignment::new("bob", "editor").on(rid("folder:7")))
        .assign(Assignment::new("cid", "editor").in_tenant("acme"))
        .assign(Assignment::new("cid", "intern").in_tenant("acme"))
        .assign(Assignment::new("dee", "author"))
        .parent(rid("docs:42"), rid("folder:7"))
        .parent(rid("folder:7"), rid("drive:1"))
}

fn user(id: &str, tenant: &str) -> Principal {
    Principal::user(id).tenant(tenant).build()
}

#[test]
fn hierarchy_and_deny_override() {
    let rbac = Rbac::new(policy()).unwrap();
    let ann = user("ann", "acme");
    let doc = Resource::new("docs", "1").tenant("acme");
    for action in ["read", "write", "share"] {
        assert!(rbac.check(&ann, action, &doc).allowed(), "{action}");
    }
    let purge = rbac.check(&ann, "purge", &doc);
    assert!(!purge.allowed());
    assert!(matches!(purge.reason(), Reason::Denied(m) if &*m.role == "admin"));
    assert!(
        !rbac
            .check(&ann, "pay", &Resource::kind("billing").tenant("acme"))
            .allowed()
    );
    let read = rbac.check(&ann, "read", &doc);
    assert_eq!(
        read.explain(),
        "allowed by role \"admin\" (assigned in tenant \"acme\"): docs:*"
    );
    let billing = Resource::kind("reports").tenant("acme");
    assert_eq!(
        rbac.check(&ann, "read", &billing).explain(),
        "allowed by role \"admin\" (assigned in tenant \"acme\", inherited from \"viewer\"): *:read"
    );
    // A deny from another role held at the same time wins.
    let cid = user("cid", "acme");
    assert!(!rbac.check(&cid, "write", &doc).allowed());
    assert!(rbac.check(&cid, "read", &doc).allowed());
    assert_eq!(
        rbac.check(&user("zed", "acme"), "read", &doc).explain(),
        "denied: no rule allows it"
    );
}

#[test]
fn tenants_are_isolated() {
    let rbac = Rbac::new(policy()).unwrap();
    let in_globex = user("ann", "globex");
    let acme_doc = Resource::new("docs", "1").tenant("acme");
    // Admin in acme, but acting in globex: only globex's viewer role, and never acme's data.
    let d = rbac.check(&in_globex, "read", &acme_doc);
    assert_eq!(d.reason(), &Reason::CrossTenant);
    let globex_doc = Resource::new("docs", "9").tenant("globex");
    assert!(rbac.check(&in_globex, "read", &globex_doc).allowed());
    assert!(!rbac.check(&in_globex, "write", &globex_doc).allowed());
    // No tenant at all: tenant-scoped roles do not hold, tenant data is refused.
    let none = Principal::user("ann").build();
    assert!(!rbac.check(&none, "read", &Resource::kind("docs")).allowed());
    assert_eq!(
        rbac.check(&none, "read", &acme_doc).reason(),
        &Reason::CrossTenant
    );
}

#[test]
fn grants_on_containers_reach_what_they_contain() {
    let rbac = Rbac::new(policy()).unwrap();
    let bob = Principal::user("bob").build();
    // Stored parents: docs:42 in folder:7.
    assert!(
        rbac.check(&bob, "write", &Resource::new("docs", "42"))
            .allowed()
    );
    assert!(
        !rbac
            .check(&bob, "write", &Resource::new("docs", "43"))
            .allowed()
    );
    // Parents given with the request.
    let in_folder = Resource::new("docs", "43").parent(rid("folder:7"));
    let d = rbac.check(&bob, "write", &in_folder);
    assert!(d.allowed(), "{d}");
    assert!(d.explain().contains("assigned on folder:7"));
    // Not upwards: the drive holds the folder, a grant on the folder says nothing of the drive.
    assert!(
        !rbac
            .check(&bob, "read", &Resource::new("drive", "1"))
            .allowed()
    );
}

#[test]
fn conditions_and_missing_attributes() {
    let rbac = Rbac::new(policy()).unwrap();
    let dee = Principal::user("dee").build();
    let own = Resource::new("docs", "5").attr("owner_id", "dee");
    let theirs = Resource::new("docs", "6").attr("owner_id", "eve");
    let unknown = Resource::new("docs", "7");
    assert!(rbac.check(&dee, "delete", &own).allowed());
    let no = rbac.check(&dee, "delete", &theirs);
    assert!(
        !no.allowed() && no.explain().contains("did not hold (it was false)"),
        "{no}"
    );
    let missing = rbac.check(&dee, "delete", &unknown);
    assert!(!missing.allowed(), "a missing attribute never allows");
    assert!(matches!(
        missing.reason(),
        Reason::NoRule {
            conditional: Some(_)
        }
    ));

    // Context, time and address ranges; a deny whose condition cannot be evaluated denies.
    let rbac = Rbac::new(
        Policy::new()
            .role(
                "ops",
                Role::new()
                    .allow_when("servers:restart", "ip_in(context.ip, '10.0.0.0/8')")
                    .allow_when("servers:read", "now > timestamp('2000-01-01T00:00:00Z')")
                    .deny_when("servers:read", "context.blocked == true"),
            )
            .assign(Assignment::new("op", "ops")),
    )
    .unwrap();
    let op = Principal::user("op").build();
    let servers = Resource::kind("servers");
    let ctx = |v: serde_json::Value| v.as_object().unwrap().clone();
    assert!(
        rbac.check_with(&op, "restart", &servers, &ctx(json!({"ip": "10.1.2.3"})))
            .allowed()
    );
    assert!(
        !rbac
            .check_with(&op, "restart", &servers, &ctx(json!({"ip": "192.0.2.1"})))
            .allowed()
    );
    assert!(
        !rbac
            .check_with(&op, "restart", &servers, &ctx(json!({"ip": "nonsense"})))
            .allowed()
    );
    assert!(
        rbac.check_with(&op, "read", &servers, &ctx(json!({"blocked": false})))
            .allowed()
    );
    let unknown_deny = rbac.check(&op, "read", &servers);
    assert!(
        matches!(unknown_deny.reason(), Reason::Denied(_)),
        "fail closed: {unknown_deny}"
    );

    // A condition that does not parse is refused when the policy is built.
    let bad = Policy::new().role("x", Role::new().allow_when("a:b", "subject.id ==="));
    assert!(matches!(Rbac::new(bad), Err(Error::Condition { .. })));
}

#[test]
fn cycles_and_unknown_roles_are_refused() {
    let cycle = Policy::new()
        .role("a", Role::new().inherits("b"))
        .role("b", Role::new().inherits("c"))
        .role("c", Role::new().inherits("a"));
    let err = Rbac::new(cycle).unwrap_err();
    assert!(
        matches!(&err, Error::RoleCycle(path) if path == "a → b → c → a"),
        "{err}"
    );
    assert!(matches!(
        Rbac::new(Policy::new().role("a", Role::new().inherits("ghost"))),
        Err(Error::UnknownRole(r)) if r == "ghost"
    ));
    assert!(matches!(
        Rbac::new(Policy::new().assign(Assignment::new("u", "ghost"))),
        Err(Error::UnknownRole(_))
    ));
    let loop_ = Policy::new()
        .parent(rid("a:1"), rid("b:1"))
        .parent(rid("b:1"), rid("a:1"));
    assert!(matches!(Rbac::new(loop_), Err(Error::ResourceCycle(_))));
    // Diamonds are fine.
    let diamond = Policy::new()
        .role("base", Role::new().allow("x:read"))
        .role("l", Role::new().inherits("base"))
        .role("r", Role::new().inherits("base"))
        .role("top", Role::new().inherits("l").inherits("r"));
    assert!(Rbac::new(diamond).is_ok());
    assert!(Rbac::new(Policy::new().role("a", Role::new().allow("nocolon"))).is_err());
}

#[test]
fn queries_for_admin_screens() {
    let rbac = Rbac::new(policy()).unwrap();
    let admins = rbac.holders("admin", Some("acme"));
    assert_eq!(admins.len(), 1);
    assert_eq!(admins[0].subject, "ann");
    let writers: Vec<String> = rbac
        .holders_of("docs:write", Some("acme"))
        .unwrap()
        .into_iter()
        .map(|a| format!("{}:{}", a.subject, a.role))
        .collect();
    assert_eq!(writers, ["ann:admin", "bob:editor", "cid:editor"]);
    let perms = rbac.permissions(&user("cid", "acme"), &Resource::kind("docs"));
    assert!(
        perms
            .iter()
            .any(|p| p.allowed && p.permission.to_string() == "docs:write")
    );
    assert!(
        perms
            .iter()
            .any(|p| !p.allowed && p.permission.to_string() == "docs:write")
    );
    let batch = rbac.check_all(
        &user("ann", "acme"),
        &[
            ("read", &Resource::kind("docs")),
            ("purge", &Resource::kind("docs")),
        ],
    );
    assert_eq!(
        batch
            .iter()
            .map(mortar_rbac::Decision::allowed)
            .collect::<Vec<_>>(),
        [true, false]
    );
    assert!(
        rbac.check_permission(&user("ann", "acme"), "docs:write")
            .unwrap()
            .allowed()
    );
    assert!(
        rbac.check_permission(&user("ann", "acme"), "docs:*")
            .is_err()
    );
}

#[derive(Debug, Default, Clone)]
struct Recorded(Arc<Mutex<Vec<AuditEvent>>>);

impl AuditRecorder for Recorded {
    fn record(&self, event: AuditEvent) {
        self.0.lock().unwrap().push(event);
    }
}

#[tokio::test]
async fn admin_changes_are_checked_applied_and_audited() {
    let recorded = Recorded::default();
    let rbac = Rbac::new(policy()).unwrap().recorder(recorded.clone());
    let root = Principal::user("root").tenant("acme").build();
    let eve = user("eve", "acme");
    let doc = Resource::new("docs", "1").tenant("acme");
    assert!(!rbac.check(&eve, "write", &doc).allowed());
    let grant = Assignment::new("eve", "editor").in_tenant("acme");
    assert!(rbac.grant(&root, grant.clone()).await.unwrap());
    assert!(rbac.check(&eve, "write", &doc).allowed());
    assert!(
        !rbac.grant(&root, grant.clone()).await.unwrap(),
        "already there"
    );
    assert!(rbac.revoke(&root, &grant).await.unwrap());
    assert!(!rbac.check(&eve, "write", &doc).allowed());
    // A change that would break the policy is refused and nothing is written.
    let err = rbac
        .put_role(&root, "viewer", Role::new().inherits("owner"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RoleCycle(_)));
    assert!(rbac.policy().roles["viewer"].inherits.is_empty());
    assert!(
        rbac.add_parent(
            &root,
            Parent {
                child: rid("docs:1"),
                parent: rid("folder:7")
            }
        )
        .await
        .unwrap()
    );
    let events = recorded.0.lock().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_ref()).collect();
    assert_eq!(
        actions,
        ["rbac.grant", "rbac.grant", "rbac.revoke", "rbac.parent.add"]
    );
}

#[test]
fn policies_from_json_and_yaml_files() {
    let dir = std::env::temp_dir().join(format!("mortar-rbac-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json_path = dir.join("policy.json");
    std::fs::write(&json_path, serde_json::to_string(&policy()).unwrap()).unwrap();
    assert_eq!(Policy::from_file(&json_path).unwrap(), policy());
    let yaml = "roles:\n  viewer:\n    allow: ['*:read']\n  author:\n    allow:\n      - permission: docs:delete\n        when: resource.owner_id == subject.id\nassignments:\n  - subject: dee\n    role: author\n    resource: docs:5\n";
    let yaml_path = dir.join("policy.yaml");
    std::fs::write(&yaml_path, yaml).unwrap();
    #[cfg(feature = "yaml")]
    {
        let p = Policy::from_file(&yaml_path).unwrap();
        assert_eq!(p.assignments[0].resource, Some(rid("docs:5")));
        let rbac = Rbac::new(p).unwrap();
        let dee = Principal::user("dee").build();
        assert!(
            rbac.check(
                &dee,
                "delete",
                &Resource::new("docs", "5").attr("owner_id", "dee")
            )
            .allowed()
        );
    }
    #[cfg(not(feature = "yaml"))]
    assert!(Policy::from_file(&yaml_path).is_err());
    assert!(matches!(
        Policy::from_json("{\"roles\": 3}"),
        Err(Error::Parse(_))
    ));
    assert!(
        Policy::from_json("{\"unknown\": []}").is_err(),
        "unknown fields refused"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
