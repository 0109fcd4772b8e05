//! Response headers the layers set.

#[cfg(feature = "tower")]
use http::HeaderMap;
#[cfg(feature = "tower")]
use http::header::{CONTENT_LANGUAGE, CONTENT_TYPE, HeaderValue, VARY};

#[cfg(feature = "tower")]
use crate::i18n::Locale;
#[cfg(feature = "tower")]
use crate::request::Vary;

#[cfg(feature = "tower")]
/// `Content-Language: <tag>` unless the handler set one, and each header the choice depended on
/// added to `Vary` (an existing `Vary` is extended, not replaced; a response without one gets
/// them in one field line).
pub(crate) fn set_headers(headers: &mut HeaderMap, locale: &Locale, vary: &Vary<HeaderValue>) {
    // One lookup for the check and the insert (this runs on every response).
    if let http::header::Entry::Vacant(entry) = headers.entry(CONTENT_LANGUAGE)
        && let Some(value) = locale.content_language()
    {
        entry.insert(value.clone());
    }
    let Some(joined) = &vary.joined else { return };
    match headers.entry(VARY) {
        // Nothing varies yet (the usual case): one field line, one entry. (Several lines of
        // one name are equivalent (RFC 9110, 5.3) but each extra line is another allocation,
        // and may grow the map past its first six entries, which is a large one.)
        http::header::Entry::Vacant(entry) => {
            entry.insert(joined.clone());
        }
        http::header::Entry::Occupied(mut entry) => {
            for value in &vary.values {
                let Ok(name) = value.to_str() else { continue };
                if !varies_on(entry.iter().filter_map(|v| v.to_str().ok()), name) {
                    entry.append(value.clone());
                }
            }
        }
    }
}

/// Whether the response is a problem document.
#[cfg(feature = "tower")]
pub(crate) fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_problem_type)
}

pub(crate) fn is_problem_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(mortar_core::PROBLEM_JSON))
}

/// Whether a `Vary` already covers `name` (or everything).
pub(crate) fn varies_on<'a>(values: impl Iterator<Item = &'a str>, name: &str) -> bool {
    values
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|v| v == "*" || v.eq_ignore_ascii_case(name))
}
