//! `Rbac::check` beside casbin-rs `enforce` on the same generated policy, in casbin's own
//! benchmark shapes: basic RBAC with `n` roles each allowed one permission and `10 × n` users
//! each in one role — 1.1k, 11k and 110k rules.

use std::hint::black_box;

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use criterion::{BenchmarkId, Criterion, criterion_group};
use mortar_core::Principal;
use mortar_rbac::{Assignment, Policy, Rbac, Resource, Role};

const MODEL: &str = "
[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act
";

fn ours(roles: usize) -> Rbac {
    let mut policy = Policy::new();
    for r in 0..roles {
        policy = policy.role(
            format!("group{r}"),
            Role::new().allow(format!("data{}:read", r / 10)),
        );
    }
    for u in 0..roles * 10 {
        policy = policy.assign(Assignment::new(
            format!("user{u}"),
            format!("group{}", u / 10),
        ));
    }
    Rbac::new(policy).unwrap()
}

async fn theirs(roles: usize) -> Enforcer {
    let model = DefaultModel::from_str(MODEL).await.unwrap();
    let mut e = Enforcer::new(model, MemoryAdapter::default())
        .await
        .unwrap();
    let p: Vec<Vec<String>> = (0..roles)
        .map(|r| {
            vec![
                format!("group{r}"),
                format!("data{}", r / 10),
                "read".to_owned(),
            ]
        })
        .collect();
    e.add_policies(p).await.unwrap();
    let g: Vec<Vec<String>> = (0..roles * 10)
        .map(|u| vec![format!("user{u}"), format!("group{}", u / 10)])
        .collect();
    e.add_grouping_policies(g).await.unwrap();
    e
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("rbac_check");
    for roles in [100_usize, 1_000, 10_000] {
        let rules = roles * 11;
        // A user in the middle, allowed; the same request to both.
        let u = roles * 5 + 1;
        let (user, data) = (format!("user{u}"), format!("data{}", u / 100));
        let rbac = ours(roles);
        let principal = Principal::user(user.clone()).build();
        let resource = Resource::kind(data.clone());
        assert!(rbac.check(&principal, "read", &resource).allowed());
        group.bench_with_input(
            BenchmarkId::new("mortar Rbac::check", rules),
            &rules,
            |b, _| {
                b.iter(|| black_box(rbac.check(&principal, "read", &resource).allowed()));
            },
        );
        let enforcer = rt.block_on(theirs(roles));
        assert!(enforcer.enforce((&user, &data, "read")).unwrap());
        group.bench_with_input(BenchmarkId::new("casbin enforce", rules), &rules, |b, _| {
            b.iter(|| black_box(enforcer.enforce((&user, &data, "read")).unwrap()));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
