//! The OpenFeature SDK over `MortarProvider` (its own test binary: the SDK's API is a
//! process-wide singleton).

use mortar_flags::openfeature::MortarProvider;
use mortar_flags::{FeatureFlags, FlagDefinition, FlagSet, FlagState};
use open_feature::{EvaluationContext, EvaluationErrorCode, EvaluationReason, OpenFeature, Value};
use serde_json::json;

#[tokio::test]
async fn the_sdk_resolves_through_the_provider() {
    let flags = FeatureFlags::from_set(
        FlagSet::new()
            .flag(
                "beta",
                FlagDefinition::boolean(false)
                    .targeting(json!({"if": [{"==": [{"var": "plan"}, "pro"]}, "on", null]}))
                    .meta("owner", "growth"),
            )
            .flag(
                "limit",
                FlagDefinition::new([("low", json!(10)), ("high", json!(100))], Some("low")),
            )
            .flag(
                "ratio",
                FlagDefinition::new([("a", json!(0.25))], Some("a")),
            )
            .flag(
                "copy",
                FlagDefinition::new([("a", json!("Buy"))], Some("a")),
            )
            .flag(
                "theme",
                FlagDefinition::new([("a", json!({"color": "teal", "size": 3}))], Some("a")),
            )
            .flag(
                "off",
                FlagDefinition::boolean(true).state(FlagState::Disabled),
            ),
    );
    let mut api = OpenFeature::singleton_mut().await;
    api.set_provider(MortarProvider::new(flags)).await;
    let client = api.create_client();
    drop(api);

    let pro = EvaluationContext::default()
        .with_targeting_key("ann")
        .with_custom_field("plan", "pro");
    let free = EvaluationContext::default().with_targeting_key("bob");
    let d = client
        .get_bool_details("beta", Some(&pro), None)
        .await
        .unwrap();
    assert!(d.value);
    assert_eq!(d.variant.as_deref(), Some("on"));
    assert_eq!(d.reason, Some(EvaluationReason::TargetingMatch));
    assert!(d.flag_metadata.values.contains_key("owner"));
    let d = client
        .get_bool_details("beta", Some(&free), None)
        .await
        .unwrap();
    assert_eq!(
        (d.value, d.reason),
        (false, Some(EvaluationReason::Default))
    );
    assert_eq!(client.get_int_value("limit", None, None).await.unwrap(), 10);
    assert!(
        (client.get_float_value("ratio", None, None).await.unwrap() - 0.25).abs() < f64::EPSILON
    );
    assert_eq!(
        client.get_string_value("copy", None, None).await.unwrap(),
        "Buy"
    );
    let theme = client
        .get_struct_value::<open_feature::StructValue>("theme", None, None)
        .await
        .unwrap();
    assert_eq!(
        theme.fields.get("color"),
        Some(&Value::String("teal".into()))
    );

    let err = client.get_bool_value("nope", None, None).await.unwrap_err();
    assert_eq!(err.code, EvaluationErrorCode::FlagNotFound);
    let err = client.get_int_value("copy", None, None).await.unwrap_err();
    assert_eq!(err.code, EvaluationErrorCode::TypeMismatch);
    // A disabled flag: the SDK falls back to the caller's default.
    assert!(client.get_bool_value("off", None, None).await.is_err());
}
