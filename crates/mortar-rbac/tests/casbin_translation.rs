//! casbin's classic example models (from casbin's `examples/` folder: basic ACL, RBAC with a
//! role hierarchy, RBAC with domains, RBAC with resource roles, ABAC, deny-override) written
//! as Mortar policies, and every request of a grid decided by both: the decisions must be the
//! same. The Mortar policies are what a team moving from casbin would write.
//!
//! How the models map:
//! - a casbin subject with its own `p` lines becomes a personal role (`own.alice`) assigned to it;
//! - `g` between roles is role inheritance; `g` from a user to a role is an assignment;
//! - casbin domains are tenants; a role whose permissions differ per domain becomes one role
//!   per domain (`admin.domain1`), assigned in that tenant;
//! - `g2` (resource roles) are containment parents (`data:data1` inside `data:data_group`);
//! - ABAC matchers are CEL conditions over `subject` / `resource` attributes;
//! - `p.eft == deny` lines are deny rules.

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use mortar_core::Principal;
use mortar_rbac::{Policy, Rbac, Resource};

async fn enforcer(model: &str, p: &[&[&str]], g: &[&[&str]], g2: &[&[&str]]) -> Enforcer {
    let model = DefaultModel::from_str(model).await.unwrap();
    let mut e = Enforcer::new(model, MemoryAdapter::default())
        .await
        .unwrap();
    let owned = |rows: &[&[&str]]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
            .collect()
    };
    if !p.is_empty() {
        e.add_policies(owned(p)).await.unwrap();
    }
    if !g.is_empty() {
        e.add_grouping_policies(owned(g)).await.unwrap();
    }
    if !g2.is_empty() {
        e.add_named_grouping_policies("g2", owned(g2))
            .await
            .unwrap();
    }
    e
}

/// Counts (allowed, denied) after asserting every pair agrees; both must be non-zero, so no
/// grid passes by denying everything.
fn tally(results: &[(String, bool, bool)]) {
    for (request, casbin, mortar) in results {
        assert_eq!(
            casbin, mortar,
            "{request}: casbin {casbin}, mortar {mortar}"
        );
    }
    let allowed = results.iter().filter(|r| r.1).count();
    assert!(
        allowed > 0 && allowed < results.len(),
        "{allowed} of {}",
        results.len()
    );
}

#[derive(serde::Serialize, Hash, Clone)]
#[allow(non_snake_case, reason = "casbin's example names the attribute Age")]
struct Subject {
    Age: i64,
}

#[derive(serde::Serialize, Hash, Clone)]
#[allow(non_snake_case, reason = "casbin's example names the attribute Owner")]
struct Object {
    Owner: String,
}

const USERS: [&str; 3] = ["alice", "bob", "cathy"];
const OBJECTS: [&str; 3] = ["data1", "data2", "data3"];
const ACTIONS: [&str; 3] = ["read", "write", "delete"];

/// Decides every (user, object, action) of the grid with both; `resource` maps casbin's object.
fn same_decisions(casbin: &Enforcer, mortar: &Rbac, resource: impl Fn(&str) -> Resource) {
    let mut results = Vec::new();
    for sub in USERS {
        for obj in OBJECTS {
            for act in ACTIONS {
                results.push((
                    format!("{sub} {obj} {act}"),
                    casbin.enforce((sub, obj, act)).unwrap(),
                    mortar
                        .check(&Principal::user(sub).build(), act, &resource(obj))
                        .allowed(),
                ));
            }
        }
    }
    tally(&results);
}

/// `basic_model.conf` + `basic_policy.csv`: an ACL.
#[tokio::test]
async fn basic_acl() {
    let casbin = enforcer(
        "[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub, obj, act\n\
         [policy_effect]\ne = some(where (p.eft == allow))\n\
         [matchers]\nm = r.sub == p.sub && r.obj == p.obj && r.act == p.act\n",
        &[&["alice", "data1", "read"], &["bob", "data2", "write"]],
        &[],
        &[],
    )
    .await;
    let mortar = Rbac::new(
        Policy::from_json(
            r#"{
              "roles": {
                "own.alice": { "allow": ["data1:read"] },
                "own.bob": { "allow": ["data2:write"] }
              },
              "assignments": [
                { "subject": "alice", "role": "own.alice" },
                { "subject": "bob", "role": "own.bob" }
              ]
            }"#,
        )
        .unwrap(),
    )
    .unwrap();
    same_decisions(&casbin, &mortar, |obj| Resource::kind(obj));
}

/// `rbac_model.conf` + `rbac_with_hierarchy_policy.csv`: roles inheriting roles.
#[tokio::test]
async fn rbac_with_hierarchy() {
    let casbin = enforcer(
        "[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub, obj, act\n\
         [role_definition]\ng = _, _\n[policy_effect]\ne = some(where (p.eft == allow))\n\
         [matchers]\nm = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act\n",
        &[
            &["alice", "data1", "read"],
            &["bob", "data2", "write"],
            &["data1_admin", "data1", "read"],
            &["data1_admin", "data1", "write"],
            &["data2_admin", "data2", "read"],
            &["data2_admin", "data2", "write"],
        ],
        &[
            &["alice", "admin"],
            &["admin", "data1_admin"],
            &["admin", "data2_admin"],
        ],
        &[],
    )
    .await;
    let mortar = Rbac::new(
        Policy::from_json(
            r#"{
              "roles": {
                "own.alice": { "allow": ["data1:read"] },
                "own.bob": { "allow": ["data2:write"] },
                "data1_admin": { "allow": ["data1:read", "data1:write"] },
                "data2_admin": { "allow": ["data2:read", "data2:write"] },
                "admin": { "inherits": ["data1_admin", "data2_admin"] }
              },
              "assignments": [
                { "subject": "alice", "role": "own.alice" },
                { "subject": "alice", "role": "admin" },
                { "subject": "bob", "role": "own.bob" }
              ]
            }"#,
        )
        .unwrap(),
    )
    .unwrap();
    same_decisions(&casbin, &mortar, |obj| Resource::kind(obj));
}

/// `rbac_with_domains_model.conf` + `rbac_with_domains_policy.csv`: one role name, different
/// permissions per domain (tenant), held per domain.
#[tokio::test]
async fn rbac_with_domains() {
    let casbin = enforcer(
        "[request_definition]\nr = sub, dom, obj, act\n[policy_definition]\np = sub, dom, obj, act\n\
         [role_definition]\ng = _, _, _\n[policy_effect]\ne = some(where (p.eft == allow))\n\
         [matchers]\nm = g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act\n",
        &[
            &["admin", "domain1", "data1", "read"],
            &["admin", "domain1", "data1", "write"],
            &["admin", "domain2", "data2", "read"],
            &["admin", "domain2", "data2", "write"],
        ],
        &[&["alice", "admin", "domain1"], &["bob", "admin", "domain2"]],
        &[],
    )
    .await;
    let mortar = Rbac::new(
        Policy::from_json(
            r#"{
              "roles": {
                "admin.domain1": { "allow": ["data1:read", "data1:write"] },
                "admin.domain2": { "allow": ["data2:read", "data2:write"] }
              },
              "assignments": [
                { "subject": "alice", "role": "admin.domain1", "tenant": "domain1" },
                { "subject": "bob", "role": "admin.domain2", "tenant": "domain2" }
              ]
            }"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut results = Vec::new();
    for sub in USERS {
        for dom in ["domain1", "domain2"] {
            for obj in OBJECTS {
                for act in ACTIONS {
                    // The principal acts in a domain, on that domain's objects.
                    let principal = Principal::user(sub).tenant(dom).build();
                    results.push((
                        format!("{sub} {dom} {obj} {act}"),
                        casbin.enforce((sub, dom, obj, act)).unwrap(),
                        mortar
                            .check(&principal, act, &Resource::kind(obj).tenant(dom))
                            .allowed(),
                    ));
                }
            }
        }
    }
    tally(&results);
    // And what casbin cannot refuse by construction: an object of another domain.
    let alice = Principal::user("alice").tenant("domain1").build();
    assert!(
        !mortar
            .check(&alice, "read", &Resource::kind("data1").tenant("domain2"))
            .allowed()
    );
}

/// `rbac_with_resource_roles_model.conf` + its policy: users in roles, objects in groups.
#[tokio::test]
async fn rbac_with_resource_roles() {
    let casbin = enforcer(
        "[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub, obj, act\n\
         [role_definition]\ng = _, _\ng2 = _, _\n[policy_effect]\ne = some(where (p.eft == allow))\n\
         [matchers]\nm = g(r.sub, p.sub) && g2(r.obj, p.obj) && r.act == p.act\n",
        &[
            &["alice", "data1", "read"],
            &["bob", "data2", "write"],
            &["data_group_admin", "data_group", "write"],
        ],
        &[&["alice", "data_group_admin"]],
        &[&["data1", "data_group"], &["data2", "data_group"]],
    )
    .await;
    let mortar = Rbac::new(
        Policy::from_json(
            r#"{
              "roles": {
                "reader": { "allow": ["data:read"] },
                "writer": { "allow": ["data:write"] }
              },
              "assignments": [
                { "subject": "alice", "role": "reader", "resource": "data:data1" },
                { "subject": "bob", "role": "writer", "resource": "data:data2" },
                { "subject": "alice", "role": "writer", "resource": "data:data_group" }
              ],
              "parents": [
                { "child": "data:data1", "parent": "data:data_group" },
                { "child": "data:data2", "parent": "data:data_group" }
              ]
            }"#,
        )
        .unwrap(),
    )
    .unwrap();
    same_decisions(&casbin, &mortar, |obj| Resource::new("data", obj));
}

/// `abac_rule_model.conf` + `abac_rule_policy.csv`: rules over the subject's attributes.
#[tokio::test]
async fn abac_rules() {
    let casbin = enforcer(
        "[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub_rule, obj, act\n\
         [policy_effect]\ne = some(where (p.eft == allow))\n\
         [matchers]\nm = eval(p.sub_rule) && r.obj == p.obj && r.act == p.act\n",
        &[
            &["r.sub.Age > 18", "/data1", "read"],
            &["r.sub.Age < 60", "/data2", "write"],
        ],
        &[],
        &[],
    )
    .await;
    // Every principal holds the `everyone` role (from its token: `Principal::roles`).
    let mortar = Rbac::new(
        Policy::from_json(
            r#"{
              "roles": {
                "everyone": { "allow": [
                  { "permission": "/data1:read", "when": "subject.age > 18" },
                  { "permission": "/data2:write", "when": "subject.age < 60" }
                ] }
              }
            }"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut results = Vec::new();
    for age in [10_i64, 18, 19, 30, 59, 60, 70] {
        for obj in ["/data1", "/data2", "/data3"] {
            for act in ACTIONS {
                let principal = Principal::user(format!("age{age}"))
                    .role("everyone")
                    .attribute("age", age)
                    .build();
                results.push((
                    format!("age {age} {obj} {act}"),
                    casbin.enforce((Subject { Age: age }, obj, act)).unwrap(),
                    mortar
                        .check(&principal, act, &Resource::kind(obj))
                        .allowed(),
                ));
            }
        }
    }
    tally(&results);
    // A principal without the attribute is denied (the condition cannot be evaluated).
    let unknown = Principal::user("x").role("everyone").build();
    assert!(
        !mortar
            .check(&unknown, "read", &Resource::kind("/data1"))
            .allowed()
    );
}

/// `abac_model.conf`: the owner of an object may do anything with it.
#[tokio::test]
async fn abac_owner() {
    let casbin = enforcer(
        "[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub, obj, act\n\
         [policy_effect]\ne = some(where (p.eft == allow))\n\
         [matchers]\nm = r.sub == r.obj.Owner\n",
        &[],
        &[],
        &[],
    )
    .await;
    let mortar = Rbac::new(
        Policy::from_json(
            r#"{ "roles": { "everyone": { "allow": [
              { "permission": "*:*", "when": "resource.owner == subject.id" }
            ] } } }"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut results = Vec::new();
    for sub in USERS {
        for owner in USERS {
            for act in ACTIONS {
                let principal = Principal::user(sub).role("everyone").build();
                let object = Object {
                    Owner: owner.to_owned(),
                };
                results.push((
                    format!("{sub} on {owner}'s data {act}"),
                    casbin.enforce((sub, object, act)).unwrap(),
                    mortar
                        .check(
                            &principal,
                            act,
                            &Resource::new("data", "1").attr("owner", owner),
                        )
                        .allowed(),
                ));
            }
        }
    }
    tally(&results);
}

/// `rbac_with_deny_model.conf` + `rbac_with_deny_policy.csv`: an explicit deny beats the
/// allow a role gives.
#[tokio::test]
async fn deny_override() {
    let casbin = enforcer(
        "[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub, obj, act, eft\n\
         [role_definition]\ng = _, _\n\
         [policy_effect]\ne = some(where (p.eft == allow)) && !some(where (p.eft == deny))\n\
         [matchers]\nm = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act\n",
        &[
            &["alice", "data1", "read", "allow"],
            &["bob", "data2", "write", "allow"],
            &["data2_admin", "data2", "read", "allow"],
            &["data2_admin", "data2", "write", "allow"],
            &["alice", "data2", "write", "deny"],
        ],
        &[&["alice", "data2_admin"]],
        &[],
    )
    .await;
    let mortar = Rbac::new(
        Policy::from_json(
            r#"{
              "roles": {
                "own.alice": { "allow": ["data1:read"], "deny": ["data2:write"] },
                "own.bob": { "allow": ["data2:write"] },
                "data2_admin": { "allow": ["data2:read", "data2:write"] }
              },
              "assignments": [
                { "subject": "alice", "role": "own.alice" },
                { "subject": "alice", "role": "data2_admin" },
                { "subject": "bob", "role": "own.bob" }
              ]
            }"#,
        )
        .unwrap(),
    )
    .unwrap();
    same_decisions(&casbin, &mortar, |obj| Resource::kind(obj));
    let alice = Principal::user("alice").build();
    let denied = mortar.check(&alice, "write", &Resource::kind("data2"));
    assert!(
        denied.explain().contains("own.alice"),
        "{}",
        denied.explain()
    );
}
