//! Evaluation beyond the testbed: rollout distribution and stickiness, experiments (split
//! reason, exposures, sticky assignments), contexts from principals, typed errors, the
//! legacy bucketing, and reloading from a memory store and a file.

use std::time::Duration;

use mortar_core::Principal;
use mortar_flags::{
    Bucketing, ErrorCode, EvaluationContext, FeatureFlags, FileSource, FlagDefinition, FlagSet,
    FlagState, FlagStore as _, MemoryAssignments, MemoryExposures, MemoryFlagStore, Reason,
};
use serde_json::{Map, json};

fn rollout(percent: i64) -> FlagDefinition {
    FlagDefinition::boolean(false).targeting(json!({
        "fractional": [["on", percent], ["off", 100 - percent]]
    }))
}

/// Polls `check` for up to 5 s.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 5 s: {what}");
}

#[test]
fn a_fifty_fifty_split_lands_within_two_percent_and_is_stable_per_key() {
    let flags = FeatureFlags::from_set(FlagSet::new().flag("half", rollout(50)));
    let keys: Vec<String> = (0..10_000).map(|i| format!("user-{i}")).collect();
    let on: Vec<bool> = keys
        .iter()
        .map(|k| flags.is_enabled("half", &EvaluationContext::with_targeting_key(k.clone())))
        .collect();
    let count = on.iter().filter(|b| **b).count();
    assert!((4_800..=5_200).contains(&count), "{count} of 10000 on");
    // Stable: the same key, evaluated again (and by another evaluator), the same answer.
    let again = FeatureFlags::from_set(FlagSet::new().flag("half", rollout(50)));
    for (key, first) in keys.iter().zip(&on) {
        let ctx = EvaluationContext::with_targeting_key(key.clone());
        assert_eq!(again.is_enabled("half", &ctx), *first, "{key}");
    }
    // Growing a rollout only adds users: everyone in at 33% is in at 50%.
    let third = FeatureFlags::from_set(FlagSet::new().flag("half", rollout(33)));
    for (key, at_half) in keys.iter().zip(&on) {
        if third.is_enabled("half", &EvaluationContext::with_targeting_key(key.clone())) {
            assert!(*at_half, "{key} left the rollout when it grew");
        }
    }
}

#[test]
fn the_legacy_bucketing_also_splits_evenly() {
    let flags = FeatureFlags::from_set_with(
        FlagSet::new().flag("half", rollout(50)),
        Bucketing::FlagdLegacy,
    );
    let count = (0..10_000)
        .filter(|i| {
            flags.is_enabled(
                "half",
                &EvaluationContext::with_targeting_key(format!("user-{i}")),
            )
        })
        .count();
    assert!((4_800..=5_200).contains(&count), "{count}");
    assert_eq!(flags.bucketing(), Bucketing::FlagdLegacy);
}

#[test]
fn contexts_from_principals_drive_targeting() {
    let flags = FeatureFlags::from_set(
        FlagSet::new()
            .flag(
                "admins",
                FlagDefinition::boolean(false)
                    .targeting(json!({"if": [{"in": ["admin", {"var": "roles"}]}, "on", null]})),
            )
            .flag(
                "acme-only",
                FlagDefinition::boolean(false)
                    .targeting(json!({"if": [{"==": [{"var": "tenant"}, "acme"]}, "on", "off"]})),
            )
            .flag(
                "pro",
                FlagDefinition::boolean(false)
                    .targeting(json!({"if": [{"==": [{"var": "plan"}, "pro"]}, "on", "off"]})),
            ),
    );
    let ann = Principal::user("ann")
        .tenant("acme")
        .role("admin")
        .attribute("plan", "pro")
        .build();
    let bob = Principal::user("bob").tenant("globex").build();
    let (a, b) = (
        EvaluationContext::from_principal(&ann),
        EvaluationContext::from_principal(&bob),
    );
    assert!(flags.is_enabled("admins", &a));
    assert!(!flags.is_enabled("admins", &b));
    assert!(flags.is_enabled("acme-only", &a));
    assert!(!flags.is_enabled("acme-only", &b));
    assert!(flags.is_enabled("pro", &a));
    let r = flags.bool("admins", &b, true);
    assert_eq!(
        (r.value, r.reason, r.variant.as_deref()),
        (false, Reason::Default, Some("off"))
    );
}

#[test]
fn typed_errors_serve_the_callers_default() {
    let flags = FeatureFlags::from_set(
        FlagSet::new()
            .flag("text", FlagDefinition::new([("a", json!("x"))], Some("a")))
            .flag("ratio", FlagDefinition::new([("a", json!(0.5))], Some("a")))
            .flag(
                "bad-target",
                FlagDefinition::new([("a", json!(1)), ("b", json!(2))], Some("a"))
                    .targeting(json!({"if": [true, "c", "a"]})),
            )
            .flag(
                "invalid",
                FlagDefinition::new([("a", json!(1))], Some("zzz")),
            )
            .flag(
                "off",
                FlagDefinition::boolean(true).state(FlagState::Disabled),
            ),
    );
    let ctx = EvaluationContext::new();
    let r = flags.bool("text", &ctx, true);
    assert_eq!(
        (r.value, r.reason, r.error),
        (true, Reason::Error, Some(ErrorCode::TypeMismatch))
    );
    assert_eq!(
        flags.int("ratio", &ctx, 7).error,
        Some(ErrorCode::TypeMismatch)
    );
    assert!((flags.float("ratio", &ctx, 0.0).value - 0.5).abs() < f64::EPSILON);
    let r = flags.int("bad-target", &ctx, 9);
    assert_eq!((r.value, r.error), (9, Some(ErrorCode::General)));
    let r = flags.int("invalid", &ctx, 9);
    assert_eq!((r.value, r.error), (9, Some(ErrorCode::ParseError)));
    assert!(r.error_message.unwrap().contains("zzz"));
    let r = flags.bool("off", &ctx, false);
    assert_eq!(
        (r.value, r.reason, r.variant),
        (false, Reason::Disabled, None)
    );
    assert!(!flags.is_enabled("off", &ctx));
    assert_eq!(
        flags.object("text", &ctx, Map::new()).error,
        Some(ErrorCode::TypeMismatch)
    );
    assert_eq!(
        flags.keys(),
        ["bad-target", "invalid", "off", "ratio", "text"]
    );
    let all = flags.all_values(&ctx);
    assert_eq!(all.get("text"), Some(&json!("x")));
    assert!(!all.contains_key("off") && !all.contains_key("invalid"));
}

#[tokio::test]
async fn experiments_split_record_exposures_and_stick() {
    let store = MemoryFlagStore::with_set(
        FlagSet::new().flag(
            "checkout-button",
            FlagDefinition::new(
                [("green", json!("#0a0")), ("blue", json!("#00a"))],
                Some("green"),
            )
            .targeting(json!({"fractional": [["green", 50], ["blue", 50]]})),
        ),
    );
    let exposures = MemoryExposures::new();
    let flags = FeatureFlags::builder()
        .source(store.clone())
        .exposures(exposures.clone())
        .assignments(MemoryAssignments::new())
        .build()
        .await
        .unwrap();
    let mut seen = std::collections::HashMap::new();
    for i in 0..200 {
        let ctx = EvaluationContext::with_targeting_key(format!("u{i}")).with("tenant", "acme");
        let r = flags.assign("checkout-button", &ctx).await;
        assert_eq!(r.reason, Reason::Split);
        seen.insert(format!("u{i}"), r.variant.clone().unwrap().to_string());
    }
    let recorded = exposures.take();
    assert_eq!(recorded.len(), 200);
    assert_eq!(recorded[0].flag.as_ref(), "checkout-button");
    assert_eq!(recorded[0].tenant.as_deref(), Some("acme"));
    assert!(
        recorded.iter().any(|e| &*e.variant == "blue")
            && recorded.iter().any(|e| &*e.variant == "green")
    );
    let json = serde_json::to_value(&recorded[0]).unwrap();
    assert!(json["at"].as_u64().unwrap() > 0);

    // The weights change to 100% blue: those already assigned keep their variant.
    let mut changes = flags.changes();
    store
        .put(
            "checkout-button",
            &FlagDefinition::new(
                [("green", json!("#0a0")), ("blue", json!("#00a"))],
                Some("green"),
            )
            .targeting(json!({"fractional": [["green", 0], ["blue", 100]]})),
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), changes.changed())
        .await
        .unwrap()
        .unwrap();
    for (key, variant) in &seen {
        let r = flags
            .assign(
                "checkout-button",
                &EvaluationContext::with_targeting_key(key.clone()),
            )
            .await;
        assert_eq!(r.variant.as_deref(), Some(variant.as_str()), "{key} moved");
    }
    // Someone new gets the new weights.
    let r = flags
        .assign(
            "checkout-button",
            &EvaluationContext::with_targeting_key("newcomer"),
        )
        .await;
    assert_eq!(r.variant.as_deref(), Some("blue"));
    // No targeting key: nothing split, nothing recorded.
    exposures.take();
    let r = flags
        .assign("checkout-button", &EvaluationContext::new())
        .await;
    assert_eq!(
        (r.reason, r.variant.as_deref()),
        (Reason::Default, Some("green"))
    );
    assert_eq!(
        flags.assign("nope", &EvaluationContext::new()).await.error,
        Some(ErrorCode::FlagNotFound)
    );
    assert!(exposures.take().is_empty());
}

#[tokio::test]
async fn a_file_source_reloads_on_change_and_keeps_the_last_good_flags() {
    let dir = std::env::temp_dir().join(format!("mortar-flags-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("flags.json");
    let write =
        |set: &FlagSet| std::fs::write(&path, serde_json::to_string_pretty(set).unwrap()).unwrap();
    write(&FlagSet::new().flag("dark", FlagDefinition::boolean(false)));
    let flags = FeatureFlags::builder()
        .source(FileSource::new(&path).poll_every(Duration::from_millis(20)))
        .build()
        .await
        .unwrap();
    let ctx = EvaluationContext::new();
    assert!(!flags.is_enabled("dark", &ctx));
    write(&FlagSet::new().flag("dark", FlagDefinition::boolean(true)));
    eventually("the file's change", || flags.is_enabled("dark", &ctx)).await;
    // A broken file: logged, the flags in force stay.
    std::fs::write(&path, "{ not json").unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(flags.is_enabled("dark", &ctx));
    // Removed, then back.
    std::fs::remove_file(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(flags.is_enabled("dark", &ctx));
    write(&FlagSet::new().flag("dark", FlagDefinition::boolean(false)));
    eventually("the file's return", || !flags.is_enabled("dark", &ctx)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn later_sources_win_and_refs_resolve_per_source() {
    let base = FlagSet::new()
        .evaluator(
            "staff",
            json!({"ends_with": [{"var": "email"}, "@acme.test"]}),
        )
        .flag(
            "a",
            FlagDefinition::boolean(false)
                .targeting(json!({"if": [{"$ref": "staff"}, "on", null]})),
        )
        .flag("b", FlagDefinition::boolean(false));
    let overlay =
        MemoryFlagStore::with_set(FlagSet::new().flag("b", FlagDefinition::boolean(true)));
    let flags = FeatureFlags::builder()
        .source(base)
        .source(overlay.clone())
        .build()
        .await
        .unwrap();
    let staff = EvaluationContext::new().with("email", "ann@acme.test");
    assert!(flags.is_enabled("a", &staff));
    assert!(flags.is_enabled("b", &staff), "the later source wins");
    overlay.delete("b").await.unwrap();
    eventually("the overlay's removal", || !flags.is_enabled("b", &staff)).await;
    flags.refresh().await.unwrap();
    assert!(!flags.is_enabled("b", &staff));
}

#[cfg(feature = "yaml")]
#[test]
fn yaml_files_parse_like_json() {
    let yaml = "flags:\n  beta:\n    state: ENABLED\n    variants: {on: true, off: false}\n    defaultVariant: 'on'\n";
    let set = FlagSet::from_yaml(yaml).unwrap();
    assert!(FeatureFlags::from_set(set).is_enabled("beta", &EvaluationContext::new()));
    assert!(FlagSet::from_json("{ nope").is_err());
    assert!(FlagSet::from_json("42").is_err());
}

#[tokio::test]
async fn only_contexts_a_fractional_bucketed_are_exposures() {
    let exposures = MemoryExposures::new();
    let flags = FeatureFlags::builder()
        .source(FlagSet::new().flag(
            "new-search",
            FlagDefinition::boolean(false).targeting(json!({
                "if": [{"ends_with": [{"var": "email"}, "@acme.test"]}, "on",
                       {"fractional": [["on", 50], ["off", 50]]}]
            })),
        ))
        .exposures(exposures.clone())
        .assignments(MemoryAssignments::new())
        .build()
        .await
        .unwrap();
    let staff = EvaluationContext::with_targeting_key("s1").with("email", "s1@acme.test");
    let r = flags.assign("new-search", &staff).await;
    assert_eq!((r.reason, r.value), (Reason::TargetingMatch, json!(true)));
    assert!(exposures.take().is_empty(), "staff were never split");
    let user = EvaluationContext::with_targeting_key("u1").with("email", "u1@example.com");
    assert_eq!(
        flags.assign("new-search", &user).await.reason,
        Reason::Split
    );
    assert_eq!(exposures.take().len(), 1);
}

#[test]
fn an_unreadable_flag_answers_parse_error_and_the_rest_work() {
    let set = FlagSet::from_json(
        r#"{"flags": {"ok": {"variants": {"on": true, "off": false}, "defaultVariant": "on"},
                       "bad": {"variants": {"on": true}, "defaultVariant": "on", "state": "SOMETIMES"}}}"#,
    )
    .unwrap();
    let flags = FeatureFlags::from_set(set);
    let ctx = EvaluationContext::new();
    assert!(flags.is_enabled("ok", &ctx));
    let r = flags.bool("bad", &ctx, false);
    assert_eq!(
        (r.reason, r.error),
        (Reason::Error, Some(ErrorCode::ParseError))
    );
}
