//! The RFC 9651 structured-field test suite (httpwg/structured-field-tests, tests/data/; its
//! 1 591 parsing cases — the serialisation-only cases are not copied) run
//! through sfv, the parser our header tests validate with; then every header the crate emits,
//! across policy shapes, parses as a list of strings with integer parameters.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mortar_ratelimit::{Decision, PolicyDecision, Quota, limit_header, policy_header};
use serde_json::Value;
use sfv::FieldType as _;

fn parses(header_type: &str, raw: &str) -> Option<String> {
    let parser = sfv::Parser::new(raw);
    match header_type {
        "list" => parser
            .parse::<sfv::List>()
            .ok()
            .map(|v| v.serialize().unwrap_or_default()),
        "dictionary" => parser
            .parse::<sfv::Dictionary>()
            .ok()
            .map(|v| v.serialize().unwrap_or_default()),
        _ => parser.parse::<sfv::Item>().ok().map(|v| v.serialize()),
    }
}

#[test]
fn the_structured_field_suite() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/structured-fields");
    let mut cases = 0;
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| {
            Path::new(f)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        })
        .collect();
    files.sort();
    for file in &files {
        let suite: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        for case in suite {
            let name = case["name"].as_str().unwrap();
            let raw: Vec<&str> = case["raw"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let header_type = case["header_type"].as_str().unwrap();
            let result = parses(header_type, &raw.join(", "));
            if case["must_fail"].as_bool() == Some(true) {
                assert!(result.is_none(), "{file}: {name} must fail");
            } else if case["can_fail"].as_bool() != Some(true) {
                let serialized = result.unwrap_or_else(|| panic!("{file}: {name} must parse"));
                if let Some(canonical) = case["canonical"].as_array() {
                    let expected: Vec<&str> =
                        canonical.iter().map(|v| v.as_str().unwrap()).collect();
                    assert_eq!(serialized, expected.join(", "), "{file}: {name}");
                }
            }
            cases += 1;
        }
    }
    assert_eq!(cases, 1_591, "every parsing case of the suite");
}

#[test]
fn every_header_we_emit_is_a_valid_list() {
    let shapes = [
        (1, Duration::from_millis(1)),
        (10, Duration::from_secs(1)),
        (100, Duration::from_secs(61)),
        (u32::MAX, Duration::from_hours(24 * 365)),
    ];
    for names in [
        vec!["a"],
        vec!["burst", "daily-quota"],
        vec!["x.y_z", "p:1", "~!#$%&'*+-^`|"],
    ] {
        for (limit, period) in shapes {
            let decisions: Vec<PolicyDecision> = names
                .iter()
                .map(|name| PolicyDecision {
                    policy: Arc::from(*name),
                    quota: Quota::new(limit, period).unwrap(),
                    decision: Decision::new(true, limit, limit / 2, period, None),
                })
                .collect();
            for header in [
                policy_header(&decisions).unwrap(),
                limit_header(&decisions).unwrap(),
            ] {
                let text = header.to_str().unwrap();
                let list = sfv::Parser::new(text)
                    .parse::<sfv::List>()
                    .unwrap_or_else(|e| panic!("{text}: {e}"));
                assert_eq!(list.len(), names.len());
                assert_eq!(list.serialize().unwrap(), text, "canonical");
            }
        }
    }
    let _ = NonZeroU32::MIN;
}
