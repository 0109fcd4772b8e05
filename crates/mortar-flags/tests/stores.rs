//! One conformance suite for every `FlagStore` (memory, SQLite, PostgreSQL, MariaDB, Redis):
//! the store's contract, the audited admin functions over it, and a change made through one
//! instance seen by another instance's evaluator; then the sticky-assignment stores (memory, SQL,
//! Redis) under one contract.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mortar_core::Principal;
use mortar_core::audit::{AuditEvent, FnRecorder};
use mortar_flags::{
    AssignmentStore, EvaluationContext, FeatureFlags, FlagDefinition, FlagSet, FlagState,
    FlagStore, FlagsAdmin, MemoryAssignments, MemoryFlagStore,
};
use serde_json::json;

async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 5 s: {what}");
}

fn beta() -> FlagDefinition {
    FlagDefinition::boolean(false)
        .targeting(json!({"if": [{"in": ["beta", {"var": "roles"}]}, "on", null]}))
        .meta("owner", "growth")
}

#[allow(clippy::too_many_lines, reason = "one contract, read top to bottom")]
/// The contract, then two instances: `store` is this instance's handle, `other` another
/// instance's handle on the same storage.
async fn conformance<S: FlagStore + Clone>(store: S, other: S) {
    assert!(store.load().await.unwrap().flags.is_empty());
    assert!(store.get("beta").await.unwrap().is_none());

    let events: Arc<Mutex<Vec<AuditEvent>>> = Arc::default();
    let sink = events.clone();
    let admin = FlagsAdmin::new(store.clone())
        .audit(FnRecorder::new(move |e| sink.lock().unwrap().push(e)));
    let ops = Principal::user("ops").tenant("acme").build();

    // Refused before anything is written.
    for bad in [
        FlagDefinition::new([("a", json!(1))], Some("b")),
        FlagDefinition::new([("a", json!(1)), ("b", json!("x"))], Some("a")),
        FlagDefinition::boolean(true).targeting(json!({"$ref": "shared"})),
        FlagDefinition::boolean(true).targeting(json!([1, 2])),
    ] {
        assert!(admin.upsert(&ops, "bad", bad).await.is_err());
    }
    assert!(
        admin
            .upsert(&ops, "", FlagDefinition::boolean(true))
            .await
            .is_err()
    );
    assert!(store.get("bad").await.unwrap().is_none());
    assert!(events.lock().unwrap().is_empty());

    admin.create(&ops, "beta", beta()).await.unwrap();
    assert!(
        admin.create(&ops, "beta", beta()).await.is_err(),
        "exists already"
    );
    assert_eq!(store.get("beta").await.unwrap(), Some(beta()));
    admin
        .upsert(&ops, "plain", FlagDefinition::boolean(true))
        .await
        .unwrap();
    assert_eq!(
        admin.list().await.unwrap().keys().collect::<Vec<_>>(),
        ["beta", "plain"]
    );

    // Two instances' evaluators.
    let here = FeatureFlags::builder()
        .source(store.clone())
        .build()
        .await
        .unwrap();
    let there = FeatureFlags::builder()
        .source(other.clone())
        .build()
        .await
        .unwrap();
    let tester = EvaluationContext::from_principal(&Principal::user("ann").role("beta").build());
    let plain = EvaluationContext::from_principal(&Principal::user("bob").build());
    for flags in [&here, &there] {
        assert!(flags.is_enabled("beta", &tester));
        assert!(!flags.is_enabled("beta", &plain));
        let r = flags.bool("beta", &tester, false);
        assert_eq!(r.metadata.get("owner"), Some(&json!("growth")));
    }

    // A change through this instance reaches the other.
    assert!(
        admin
            .set_state(&ops, "beta", FlagState::Disabled)
            .await
            .unwrap()
    );
    assert!(
        !admin
            .set_state(&ops, "nope", FlagState::Disabled)
            .await
            .unwrap()
    );
    eventually("the other instance sees the flag disabled", || {
        !there.is_enabled("beta", &tester)
    })
    .await;
    eventually("this instance too", || !here.is_enabled("beta", &tester)).await;
    admin
        .upsert(
            &ops,
            "beta",
            beta().targeting(json!({"if": [true, "on", null]})),
        )
        .await
        .unwrap();
    eventually("the other instance sees the new rule", || {
        there.is_enabled("beta", &plain)
    })
    .await;

    // Deleting.
    assert!(admin.delete(&ops, "beta").await.unwrap());
    assert!(!admin.delete(&ops, "beta").await.unwrap());
    assert!(store.get("beta").await.unwrap().is_none());
    eventually("the other instance sees the flag gone", || {
        there.bool("beta", &plain, false).error.is_some()
    })
    .await;
    assert_eq!(other.load().await.unwrap().flags.len(), 1);

    let events = events.lock().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| &*e.action).collect();
    assert_eq!(
        actions,
        [
            "flags.flag.created",
            "flags.flag.created",
            "flags.flag.updated",
            "flags.flag.updated",
            "flags.flag.deleted"
        ]
    );
    let first = &events[0];
    assert_eq!(
        first.actor.as_ref().map(|a| a.subject.as_str()),
        Some("ops")
    );
    assert_eq!(first.tenant.as_deref(), Some("acme"));
    assert_eq!(
        first
            .target
            .as_ref()
            .map(|t| (t.kind.as_str(), t.id.as_str())),
        Some(("flag", "beta"))
    );
    assert_eq!(events[2].metadata.get("state"), Some(&json!("DISABLED")));
}

/// The `AssignmentStore` contract, then two instances sharing it: an experiment's weights
/// change and a subject assigned before keeps its variant on the other instance.
async fn assignments_contract(store: impl AssignmentStore + Clone) {
    assert_eq!(store.get("exp", "ann").await.unwrap(), None);
    store.put("exp", "ann", "blue").await.unwrap();
    store.put("exp", "ann", "green").await.unwrap();
    assert_eq!(
        store.get("exp", "ann").await.unwrap().as_deref(),
        Some("blue"),
        "first wins"
    );
    assert_eq!(store.get("other", "ann").await.unwrap(), None);

    let experiment = |blue: i64| {
        FlagSet::new().flag(
            "button",
            FlagDefinition::new(
                [("blue", json!("#00a")), ("green", json!("#0a0"))],
                Some("green"),
            )
            .targeting(json!({"fractional": [["blue", blue], ["green", 100 - blue]]})),
        )
    };
    let before = FeatureFlags::builder()
        .source(experiment(100))
        .assignments(store.clone())
        .build()
        .await
        .unwrap();
    let bob = EvaluationContext::with_targeting_key("bob");
    assert_eq!(
        before.assign("button", &bob).await.variant.as_deref(),
        Some("blue")
    );
    let after = FeatureFlags::builder()
        .source(experiment(0))
        .assignments(store)
        .build()
        .await
        .unwrap();
    assert_eq!(
        after.assign("button", &bob).await.variant.as_deref(),
        Some("blue"),
        "sticky"
    );
    let cid = EvaluationContext::with_targeting_key("cid");
    assert_eq!(
        after.assign("button", &cid).await.variant.as_deref(),
        Some("green")
    );
}

#[tokio::test]
async fn memory() {
    let store = MemoryFlagStore::new();
    conformance(store.clone(), store).await;
    assignments_contract(MemoryAssignments::new()).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis() {
    use mortar_flags::redis::RedisFlagStore;
    let Some(t) = mortar_testkit::redis().await else {
        return;
    };
    let open =
        || RedisFlagStore::new(t.pool(), redis::Client::open(t.url()).unwrap()).prefix(t.prefix());
    conformance(open(), open()).await;

    // A row that does not parse stays a broken flag; the others keep working.
    let mut conn = t.pool().get().await.unwrap();
    let _: i64 = redis::cmd("HSET")
        .arg(format!("{}flags", t.prefix()))
        .arg("broken")
        .arg("{not json")
        .query_async(&mut *conn)
        .await
        .unwrap();
    unreadable_row_is_isolated(open()).await;
    assignments_contract(mortar_flags::redis::RedisAssignments::new(t.pool()).prefix(t.prefix()))
        .await;
}

async fn unreadable_row_is_isolated(store: impl FlagStore) {
    let flags = FeatureFlags::builder().source(store).build().await.unwrap();
    let ctx = EvaluationContext::new();
    assert!(flags.is_enabled("plain", &ctx));
    let r = flags.bool("broken", &ctx, false);
    assert_eq!(r.error, Some(mortar_flags::ErrorCode::ParseError));
}

#[cfg(feature = "sql")]
async fn run_sql(db: sea_orm::DatabaseConnection) {
    use mortar_flags::sql::SeaOrmFlagStore;
    use sea_orm::EntityTrait as _;
    let open = || SeaOrmFlagStore::new(db.clone()).poll_every(Duration::from_millis(50));
    conformance(open(), open()).await;

    // A row that does not parse stays a broken flag; the others keep working.
    let row = mortar_flags::sql::entity::flag::ActiveModel {
        key: sea_orm::ActiveValue::Set("broken".into()),
        definition: sea_orm::ActiveValue::Set(r#"{"state": "SOMETIMES"}"#.into()),
        updated_at: sea_orm::ActiveValue::Set(0),
    };
    mortar_flags::sql::entity::flag::Entity::insert(row)
        .exec_without_returning(&db)
        .await
        .unwrap();
    unreadable_row_is_isolated(open()).await;
    assignments_contract(mortar_flags::sql::SeaOrmAssignments::new(db)).await;
}

mortar_testkit::sql_suites!(mortar_flags::sql::Migrator, super::run_sql);
