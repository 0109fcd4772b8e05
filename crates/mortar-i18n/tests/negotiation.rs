//! Locale negotiation: Accept-Language per RFC 9110 and RFC 4647 lookup with CLDR likely
//! subtags, the source chain, and fallback chains from CLDR parent locales.

use http::{HeaderMap, HeaderValue, Uri};
use mortar_core::Principal;
use mortar_i18n::{I18n, LocaleSource, Negotiation, parent_locales};

fn i18n(tags: &[&str]) -> I18n {
    let mut builder = I18n::builder().default_locale(tags[0]);
    for tag in tags {
        builder = builder.add_ftl(*tag, format!("who = {tag}"));
    }
    builder.build().unwrap()
}

fn negotiated(i18n: &I18n, header: &str) -> Option<String> {
    i18n.negotiate(header).map(|l| l.tag().to_owned())
}

#[test]
fn q_values_order_and_exclude() {
    let i18n = i18n(&["en", "de", "fr", "ar"]);
    assert_eq!(
        negotiated(&i18n, "fr;q=0.5, de;q=0.9, en;q=0.1").as_deref(),
        Some("de")
    );
    // Equal weights keep the client's order; no weight means 1.
    assert_eq!(
        negotiated(&i18n, "ar;q=0.8, fr;q=0.8").as_deref(),
        Some("ar")
    );
    assert_eq!(negotiated(&i18n, "fr;q=0.999, de").as_deref(), Some("de"));
    // q=0 means "not acceptable", even when another range would match it.
    assert_eq!(negotiated(&i18n, "de;q=0, de-AT").as_deref(), None);
    assert_eq!(negotiated(&i18n, "fr;q=0").as_deref(), None);
    // Case and whitespace do not matter; empty list elements are allowed.
    assert_eq!(
        negotiated(&i18n, " , DE-de ;Q=0.7 ,,").as_deref(),
        Some("de")
    );
}

#[test]
fn wildcards() {
    let i18n = i18n(&["en", "de", "fr"]);
    assert_eq!(negotiated(&i18n, "*").as_deref(), Some("en"));
    assert_eq!(negotiated(&i18n, "es, *;q=0.5").as_deref(), Some("en"));
    assert_eq!(
        negotiated(&i18n, "es, fr;q=0.4, *;q=0.5").as_deref(),
        Some("en")
    );
    // `*` with the default excluded takes the next available locale.
    assert_eq!(negotiated(&i18n, "*, en;q=0").as_deref(), Some("de"));
    assert_eq!(negotiated(&i18n, "*;q=0").as_deref(), None);
}

#[test]
fn script_and_region_fallback() {
    let i18n = i18n(&[
        "en", "de", "pt-BR", "pt-PT", "zh-Hans", "zh-Hant", "sr-Cyrl", "es-419", "es",
    ]);
    // Lookup truncates the range (RFC 4647 §3.4).
    assert_eq!(negotiated(&i18n, "de-CH-1996").as_deref(), Some("de"));
    assert_eq!(negotiated(&i18n, "de-x-phonebk").as_deref(), Some("de"));
    // Likely subtags: pt is Brazilian, pt-AO is closer to pt-PT only by script, so region
    // decides first; zh-TW and zh-HK are Traditional, zh-SG Simplified.
    assert_eq!(negotiated(&i18n, "pt").as_deref(), Some("pt-BR"));
    assert_eq!(negotiated(&i18n, "pt-PT").as_deref(), Some("pt-PT"));
    assert_eq!(negotiated(&i18n, "zh-TW").as_deref(), Some("zh-Hant"));
    assert_eq!(negotiated(&i18n, "zh-HK").as_deref(), Some("zh-Hant"));
    assert_eq!(negotiated(&i18n, "zh-SG").as_deref(), Some("zh-Hans"));
    assert_eq!(negotiated(&i18n, "zh").as_deref(), Some("zh-Hans"));
    assert_eq!(negotiated(&i18n, "sr").as_deref(), Some("sr-Cyrl"));
    // A Latin-script Serbian reader is not served Cyrillic.
    assert_eq!(negotiated(&i18n, "sr-Latn").as_deref(), None);
    assert_eq!(
        negotiated(&i18n, "es-MX").as_deref(),
        Some("es-419"),
        "CLDR parent"
    );
    assert_eq!(negotiated(&i18n, "es-ES").as_deref(), Some("es"));
    assert_eq!(negotiated(&i18n, "es-419").as_deref(), Some("es-419"));
}

#[test]
fn malformed_headers_mean_the_default() {
    let i18n = i18n(&["en", "de"]);
    for header in [
        "de;q=1.5",
        "de;q=0.1234",
        "de;q=",
        "de;level=1",
        "de;q=0.5;q=0.6",
        "d e",
        "toolonglanguage",
        "de-",
        "-de",
        "de_DE",
        "ünïcode",
        "de;;q=1",
        &"de,".repeat(40),
    ] {
        assert_eq!(negotiated(&i18n, header), None, "{header:?}");
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(header) {
            headers.insert("accept-language", value);
        }
        let locale = Negotiation::new(i18n.clone()).resolve(&Uri::from_static("/"), &headers, None);
        assert_eq!(locale.tag(), "en", "{header:?}");
    }
}

#[test]
fn source_chain_precedence() {
    let i18n = i18n(&["en", "de", "fr", "ar"]);
    let negotiation = Negotiation::new(i18n.clone());
    let mut headers = HeaderMap::new();
    headers.insert("accept-language", HeaderValue::from_static("fr"));
    headers.insert("cookie", HeaderValue::from_static("theme=dark; lang=ar"));
    let principal = Principal::user("u").attribute("locale", "de").build();
    let uri: Uri = "/x?lang=de".parse().unwrap();
    let tag = |uri: &Uri, headers: &HeaderMap, p: Option<&Principal>| {
        negotiation.resolve(uri, headers, p).tag().to_owned()
    };
    assert_eq!(tag(&uri, &headers, Some(&principal)), "de", "query first");
    assert_eq!(
        tag(&Uri::from_static("/x"), &headers, Some(&principal)),
        "ar",
        "then the cookie"
    );
    headers.remove("cookie");
    let fr = Principal::user("u").attribute("locale", "fr").build();
    assert_eq!(
        tag(&Uri::from_static("/x"), &headers, Some(&fr)),
        "fr",
        "then the user's preference"
    );
    assert_eq!(
        tag(&Uri::from_static("/x"), &headers, None),
        "fr",
        "then Accept-Language"
    );
    headers.clear();
    assert_eq!(
        tag(&Uri::from_static("/x"), &headers, None),
        "en",
        "then the default"
    );
    // An unavailable or malformed explicit choice falls through to the next source.
    headers.insert("accept-language", HeaderValue::from_static("ar"));
    assert_eq!(tag(&"/x?lang=xx".parse().unwrap(), &headers, None), "ar");
    assert_eq!(tag(&"/x?lang=%00".parse().unwrap(), &headers, None), "ar");
    // A custom chain: a header only.
    let custom = Negotiation::new(i18n).sources([LocaleSource::Header("x-locale".into())]);
    headers.insert("x-locale", HeaderValue::from_static("de_DE"));
    assert_eq!(custom.resolve(&uri, &headers, None).tag(), "de");
}

fn cldr(file: &str) -> serde_json::Value {
    let path = format!("{}/tests/data/cldr/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn fallback_chains_follow_cldr_parent_locales() {
    let json = cldr("parentLocales.json");
    let parents = json["supplemental"]["parentLocales"]["parentLocale"]
        .as_object()
        .unwrap();
    let mut checked = 0;
    for (child, parent) in parents {
        let parent = parent.as_str().unwrap();
        if parent == "root" || parent == "und" {
            // "Do not inherit from the language" (az-Arab is not az): nothing to follow.
            continue;
        }
        let chain = parent_locales(child);
        assert_eq!(
            chain.first().map(String::as_str),
            Some(parent),
            "{child}: {chain:?}"
        );
        checked += 1;
    }
    assert!(checked > 100, "{checked}");

    // And catalogs follow it: es-MX → es-419 → es → default.
    let i18n = I18n::builder()
        .default_locale("en")
        .add_ftl("en", "a = en a\nb = en b\nc = en c")
        .add_ftl("es", "a = es a\nb = es b")
        .add_ftl("es-419", "a = es-419 a")
        .add_ftl("es-MX", "")
        .build()
        .unwrap();
    let mx = i18n.locale("es-MX");
    assert_eq!(mx.message("a"), "es-419 a");
    assert_eq!(mx.message("b"), "es b");
    assert_eq!(mx.message("c"), "en c");
    assert_eq!(mx.message("d"), "d");
}

#[test]
fn likely_subtags_match_cldr() {
    // Every plain language of CLDR's likely subtags, served the locale CLDR says it implies:
    // `aa` requested, `aa-Latn-ET` available.
    let json = cldr("likelySubtags.json");
    let likely = json["supplemental"]["likelySubtags"].as_object().unwrap();
    let pairs: Vec<(&str, &str)> = likely
        .iter()
        .filter(|(k, _)| k.len() <= 3 && !k.starts_with("und"))
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .step_by(7)
        .collect();
    assert!(pairs.len() > 100, "{}", pairs.len());
    let mut builder = I18n::builder().without_builtin_messages();
    for (_, full) in &pairs {
        builder = builder.add_ftl(*full, "x = x");
    }
    let i18n = builder.build().unwrap();
    let mut mismatches = Vec::new();
    for (short, full) in &pairs {
        let got = i18n.locale(short).tag().to_owned();
        if got != *full {
            mismatches.push(format!("{short}: {got}, CLDR says {full}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn review_cases() {
    // q=0 excludes the range and what it covers, never a broader locale the client accepts.
    let i18n = i18n(&["en", "de", "pt-BR", "es", "es-419"]);
    assert_eq!(negotiated(&i18n, "en-US;q=0, en").as_deref(), Some("en"));
    assert_eq!(negotiated(&i18n, "pt-PT;q=0, pt").as_deref(), Some("pt-BR"));
    assert_eq!(negotiated(&i18n, "pt;q=0, pt-BR").as_deref(), None);
    // CLDR parents before truncation: es-MX is served es-419, not es.
    assert_eq!(negotiated(&i18n, "es-MX").as_deref(), Some("es-419"));
    // Repeated Accept-Language lines form one list.
    let mut headers = HeaderMap::new();
    headers.append("accept-language", HeaderValue::from_static("fr;q=0.9"));
    headers.append("accept-language", HeaderValue::from_static("de"));
    let locale = Negotiation::new(i18n).resolve(&Uri::from_static("/"), &headers, None);
    assert_eq!(locale.tag(), "de");
}
