//! The flagd-testbed evaluator suite (tests/data/flagd-testbed, see its SOURCE and LICENSE):
//! every Gherkin scenario of `evaluator/gherkin` against `evaluator/flags/testkit-flags.json`,
//! run through the cucumber crate.
//!
//! Rows tagged `@fractional-v1` expect flagd's earlier bucketing algorithm and contradict the
//! `@fractional-v2` rows for the same flags; they run against an evaluator built with
//! `Bucketing::FlagdLegacy`, every other row against the default (`Bucketing::Flagd`), so every
//! row of the suite runs and must pass.
#![allow(
    clippy::needless_pass_by_value,
    reason = "cucumber hands step captures over as owned strings"
)]

use std::path::{Path, PathBuf};

use cucumber::feature::Ext as _;
use cucumber::gherkin::{self, GherkinEnv, Step};
use cucumber::{World, given, then, when};
use mortar_flags::{Bucketing, EvaluationContext, FeatureFlags, FlagSet, Resolution};
use serde_json::{Map, Value, json};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/flagd-testbed");

#[derive(Debug, Default, World)]
struct Evaluator {
    legacy: bool,
    flags: Option<FeatureFlags>,
    ty: String,
    key: String,
    fallback: String,
    ctx: EvaluationContext,
    details: Option<Details>,
}

#[derive(Debug)]
struct Details {
    value: Value,
    reason: String,
    error: Option<String>,
    metadata: Map<String, Value>,
}

impl<T: Into<Value>> From<Resolution<T>> for Details {
    fn from(r: Resolution<T>) -> Self {
        Self {
            value: r.value.into(),
            reason: r.reason.to_string(),
            error: r.error.map(|e| e.to_string()),
            metadata: (*r.metadata).clone(),
        }
    }
}

fn testkit() -> FlagSet {
    let text = std::fs::read_to_string(Path::new(DATA).join("flags/testkit-flags.json")).unwrap();
    FlagSet::from_json(&text).unwrap()
}

/// Gherkin table cells keep `\"`; the JSON inside them does not want it.
fn unescape(text: &str) -> String {
    text.replace("\\\"", "\"")
}

#[given("an evaluator")]
fn an_evaluator(w: &mut Evaluator) {
    let bucketing = if w.legacy {
        Bucketing::FlagdLegacy
    } else {
        Bucketing::Flagd
    };
    w.flags = Some(FeatureFlags::from_set_with(testkit(), bucketing));
}

#[given(
    regex = r#"^a (Boolean|String|Integer|Float|Object)-flag with key "(.*)" and a fallback value "(.*)"$"#
)]
fn a_flag(w: &mut Evaluator, ty: String, key: String, fallback: String) {
    w.ty = ty;
    w.key = key;
    w.fallback = unescape(&fallback);
}

#[given(regex = r#"^a context containing a targeting key with value "(.*)"$"#)]
fn targeting_key(w: &mut Evaluator, key: String) {
    w.ctx.set("targetingKey", key);
}

fn typed(ty: &str, text: &str) -> Value {
    match ty {
        "String" => Value::String(text.to_owned()),
        "Integer" => json!(text.parse::<i64>().unwrap()),
        "Float" => json!(text.parse::<f64>().unwrap()),
        "Boolean" => json!(text.parse::<bool>().unwrap()),
        other => panic!("context type {other}"),
    }
}

#[given(regex = r#"^a context containing a key "(.*)", with type "(.*)" and with value "(.*)"$"#)]
fn context_key(w: &mut Evaluator, key: String, ty: String, value: String) {
    w.ctx.set(key, typed(&ty, &value));
}

#[given(
    regex = r#"^a context containing a nested property with outer key "(.*)" and inner key "(.*)", with value "(.*)"$"#
)]
fn nested(w: &mut Evaluator, outer: String, inner: String, value: String) {
    w.ctx.set(outer, json!({ inner: value }));
}

#[when("the flag was evaluated with details")]
fn evaluate(w: &mut Evaluator) {
    let flags = w.flags.as_ref().expect("an evaluator");
    let (key, ctx, fallback) = (&w.key, &w.ctx, &w.fallback);
    w.details = Some(match w.ty.as_str() {
        "Boolean" => flags.bool(key, ctx, fallback.parse().unwrap()).into(),
        "String" => flags.string(key, ctx, fallback).into(),
        "Integer" => flags.int(key, ctx, fallback.parse().unwrap()).into(),
        "Float" => flags.float(key, ctx, fallback.parse().unwrap()).into(),
        "Object" => {
            let default: Map<String, Value> = serde_json::from_str(fallback).unwrap();
            flags.object(key, ctx, default).into()
        }
        other => panic!("flag type {other}"),
    });
}

fn details(w: &Evaluator) -> &Details {
    w.details.as_ref().expect("evaluated")
}

#[then(regex = r#"^the resolved details value should be "(.*)"$"#)]
fn value_is(w: &mut Evaluator, expected: String) {
    let got = &details(w).value;
    let expected = unescape(&expected);
    let want = match w.ty.as_str() {
        "Boolean" => json!(expected.parse::<bool>().unwrap()),
        "String" => json!(expected),
        "Integer" => json!(expected.parse::<i64>().unwrap()),
        "Float" => json!(expected.parse::<f64>().unwrap()),
        _ => serde_json::from_str(&expected).unwrap(),
    };
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) => assert!((a - b).abs() < 1e-12, "{} : got {got}, want {want}", w.key),
        _ => assert_eq!(got, &want, "{}", w.key),
    }
}

#[then(regex = r#"^the reason should be "(.*)"$"#)]
fn reason_is(w: &mut Evaluator, reason: String) {
    assert_eq!(details(w).reason, reason, "{}", w.key);
}

#[then(regex = r#"^the error-code should be "(.*)"$"#)]
fn error_is(w: &mut Evaluator, code: String) {
    assert_eq!(
        details(w).error.as_deref(),
        Some(code.as_str()),
        "{}",
        w.key
    );
}

#[then("the resolved metadata should contain")]
fn metadata_contains(w: &mut Evaluator, step: &Step) {
    let table = step.table.as_ref().expect("a table");
    let metadata = &details(w).metadata;
    for row in table.rows.iter().skip(1) {
        let (key, ty, value) = (&row[0], &row[1], &row[2]);
        assert_eq!(metadata.get(key), Some(&typed(ty, value)), "metadata {key}");
    }
}

#[then("the resolved metadata is empty")]
fn metadata_empty(w: &mut Evaluator) {
    assert!(details(w).metadata.is_empty(), "{:?}", details(w).metadata);
}

/// Reads the feature files as cucumber's own parser does, after one rewrite: the gherkin crate
/// refuses a backslash before any character but `n`, `|` and `\\` in a table cell, where
/// Gherkin keeps it literally (the testbed's JSON cells hold `\"`), so such a backslash is
/// doubled — the cell then reads exactly as Gherkin reads it.
struct Testbed;

impl cucumber::Parser<PathBuf> for Testbed {
    type Cli = cucumber::cli::Empty;
    type Output =
        futures_util::stream::Iter<std::vec::IntoIter<cucumber::parser::Result<gherkin::Feature>>>;

    fn parse(self, dir: PathBuf, _cli: Self::Cli) -> Self::Output {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "feature"))
            .collect();
        paths.sort();
        let features = paths
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path)
                    .unwrap()
                    .replace("\\\"", "\\\\\"");
                let mut feature = gherkin::Feature::parse(&text, GherkinEnv::default())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                feature.path = Some(path);
                Ok(feature.expand_examples().expect("examples expand"))
            })
            .collect::<Vec<_>>();
        futures_util::stream::iter(features)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let features = Path::new(DATA).join("gherkin");
    let writer = Evaluator::cucumber::<PathBuf>()
        .with_parser(Testbed)
        // Arguments are cargo test's, not cucumber's.
        .with_default_cli()
        .fail_on_skipped()
        .before(|_, _, scenario, world| {
            world.legacy = scenario.tags.iter().any(|t| t == "fractional-v1");
            Box::pin(async {})
        })
        .run(features)
        .await;
    assert!(
        !cucumber::writer::Stats::execution_has_failed(&writer)
            && cucumber::writer::Stats::parsing_errors(&writer) == 0,
        "the flagd-testbed suite failed"
    );
    let passed = cucumber::writer::Stats::passed_steps(&writer);
    assert!(passed > 300, "only {passed} steps ran");
    println!("flagd-testbed: {passed} steps passed");
}
