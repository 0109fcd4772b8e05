//! A boolean flag rolled out to 33% of users, evaluated for a user: mortar-flags' direct
//! evaluation beside unleash-api-client's `is_enabled` on the equivalent `flexibleRollout`
//! strategy (33%, default stickiness on the user id; features memoized as its own benchmark
//! does, no HTTP), and beside the OpenFeature SDK resolving through `MortarProvider`. Each
//! iteration evaluates for the next of 1024 prebuilt users (contexts built outside the loop
//! for all three).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group};
use mortar_flags::openfeature::MortarProvider;
use mortar_flags::{EvaluationContext, FeatureFlags, FlagDefinition, FlagSet};
use serde_json::json;
use unleash_api_client::client::{ClientBuilder, FeatureKey};
use unleash_api_client::context::Context;
use unleash_api_client::http::{Request, Response, Transport};
use unleash_types::client_features::{ClientFeature, ClientFeatures, Strategy};

const USERS: usize = 1024;

#[derive(Clone, Copy, Debug)]
enum Features {
    Rollout,
}

impl FeatureKey for Features {
    fn name(self) -> &'static str {
        "rollout"
    }
}

/// unleash-api-client never calls it here: the features are memoized.
struct NoHttp;

#[async_trait::async_trait]
impl Transport for NoHttp {
    async fn execute(&self, _request: Request) -> Result<Response, anyhow::Error> {
        Err(anyhow::anyhow!("no HTTP in the benchmark"))
    }
}

fn unleash() -> unleash_api_client::client::Client<Features> {
    let client = ClientBuilder::default()
        .disable_metric_submission()
        .into_client_with_transport::<Features>("unused", "bench", "bench", None, Arc::new(NoHttp))
        .unwrap();
    let parameters: HashMap<String, String> = [
        ("stickiness", "default"),
        ("groupId", "rollout"),
        ("rollout", "33"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    client
        .memoize(ClientFeatures {
            version: 1,
            features: vec![ClientFeature {
                name: "rollout".into(),
                enabled: true,
                strategies: Some(vec![Strategy {
                    name: "flexibleRollout".into(),
                    sort_order: None,
                    segments: None,
                    constraints: None,
                    parameters: Some(parameters),
                    variants: None,
                }]),
                ..Default::default()
            }],
            segments: None,
            query: None,
            meta: None,
        })
        .unwrap();
    client
}

fn ours() -> FeatureFlags {
    FeatureFlags::from_set(FlagSet::new().flag(
        "rollout",
        FlagDefinition::boolean(false).targeting(json!({"fractional": [["on", 33], ["off", 67]]})),
    ))
}

fn user(i: usize) -> String {
    format!("user-{i:06}@example.com")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("flags/33% rollout");
    let flags = ours();
    let contexts: Vec<EvaluationContext> = (0..USERS)
        .map(|i| EvaluationContext::with_targeting_key(user(i)))
        .collect();
    let on = contexts
        .iter()
        .filter(|c| flags.is_enabled("rollout", c))
        .count();
    assert!((250..=420).contains(&on), "{on} of {USERS}");
    let mut i = 0;
    group.bench_function("mortar-flags is_enabled", |b| {
        b.iter(|| {
            i = (i + 1) % USERS;
            black_box(flags.is_enabled("rollout", &contexts[i]))
        });
    });
    group.bench_function("mortar-flags bool (details)", |b| {
        b.iter(|| {
            i = (i + 1) % USERS;
            black_box(flags.bool("rollout", &contexts[i], false).value)
        });
    });

    let client = unleash();
    let unleash_contexts: Vec<Context> = (0..USERS)
        .map(|i| Context {
            user_id: Some(user(i)),
            ..Default::default()
        })
        .collect();
    let theirs = unleash_contexts
        .iter()
        .filter(|c| client.is_enabled(Features::Rollout, Some(c), false))
        .count();
    assert!((250..=420).contains(&theirs), "{theirs} of {USERS}");
    group.bench_function("unleash-api-client is_enabled", |b| {
        b.iter(|| {
            i = (i + 1) % USERS;
            black_box(client.is_enabled(Features::Rollout, Some(&unleash_contexts[i]), false))
        });
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let of_client = rt.block_on(async {
        let mut api = open_feature::OpenFeature::singleton_mut().await;
        api.set_provider(MortarProvider::new(ours())).await;
        api.create_client()
    });
    let of_contexts: Vec<open_feature::EvaluationContext> = (0..USERS)
        .map(|i| open_feature::EvaluationContext::default().with_targeting_key(user(i)))
        .collect();
    group.bench_function("OpenFeature SDK via MortarProvider", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % USERS;
            let ctx = &of_contexts[i];
            let client = &of_client;
            async move {
                black_box(
                    client
                        .get_bool_value("rollout", Some(ctx), None)
                        .await
                        .unwrap_or(false),
                )
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
