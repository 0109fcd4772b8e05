//! CLDR likely subtags and parent locales, from the CLDR release in `data/cldr` (the same one the
//! plural rules come from, so negotiation, fallback and plurals agree on one CLDR version).
//! ICU4X's compiled data tracks the newest CLDR instead; mixing versions would make `zh-TW`
//! negotiate by one release and pluralize by another.

use std::collections::HashMap;
use std::sync::OnceLock;

use icu_locale_core::LanguageIdentifier;

static LIKELY_JSON: &str = include_str!("../data/cldr/likelySubtags.json");
static PARENTS_JSON: &str = include_str!("../data/cldr/parentLocales.json");

fn table(json: &str, path: &[&str]) -> HashMap<String, String> {
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(json) else {
        return HashMap::new();
    };
    for key in path {
        doc = doc[*key].take();
    }
    doc.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn likely() -> &'static HashMap<String, String> {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    TABLE.get_or_init(|| table(LIKELY_JSON, &["supplemental", "likelySubtags"]))
}

fn parents() -> &'static HashMap<String, String> {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        table(
            PARENTS_JSON,
            &["supplemental", "parentLocales", "parentLocale"],
        )
    })
}

/// Adds likely subtags (UTS #35 §4.3 "Add Likely Subtags"): `zh-TW` → `zh-Hant-TW`,
/// `pt` → `pt-Latn-BR`. The lookup tries language-script-region, language-region,
/// language-script, then language; missing fields are filled from the match. A language CLDR
/// does not know comes back unchanged.
pub(crate) fn maximize(id: &LanguageIdentifier) -> LanguageIdentifier {
    let language = id.language.as_str();
    let script = id
        .script
        .as_ref()
        .map(icu_locale_core::subtags::Script::as_str);
    let region = id
        .region
        .as_ref()
        .map(icu_locale_core::subtags::Region::as_str);
    let mut keys: Vec<String> = Vec::with_capacity(4);
    if let (Some(s), Some(r)) = (script, region) {
        keys.push(format!("{language}-{s}-{r}"));
    }
    if let Some(r) = region {
        keys.push(format!("{language}-{r}"));
    }
    if let Some(s) = script {
        keys.push(format!("{language}-{s}"));
    }
    keys.push(language.to_owned());
    let table = likely();
    let Some(found) = keys.iter().find_map(|k| table.get(k)) else {
        return id.clone();
    };
    let Ok(found) = LanguageIdentifier::try_from_str(found) else {
        return id.clone();
    };
    let mut out = id.clone();
    if out.language.as_str() == "und" {
        out.language = found.language;
    }
    if out.script.is_none() {
        out.script = found.script;
    }
    if out.region.is_none() {
        out.region = found.region;
    }
    out
}

/// The CLDR parent of a locale: the explicit `parentLocales` entry (`es-MX` → `es-419`,
/// `pt-AO` → `pt-PT`, `ht` → `fr-HT`), else the tag minus its last subtag (`de-AT` → `de`).
/// `None` at the root, or where CLDR says not to inherit from the language (`az-Arab`).
pub(crate) fn parent(tag: &str) -> Option<String> {
    if let Some(parent) = parents().get(tag) {
        return (parent != "root" && parent != "und").then(|| parent.clone());
    }
    tag.rfind('-').map(|cut| tag[..cut].to_owned())
}

/// The whole chain of parents, nearest first.
pub(crate) fn parent_chain(tag: &str) -> Vec<String> {
    let mut chain = Vec::new();
    let mut current = tag.to_owned();
    while let Some(parent) = parent(&current) {
        if chain.contains(&parent) || chain.len() > 8 {
            break;
        }
        chain.push(parent.clone());
        current = parent;
    }
    chain
}
