//! Response headers the layers set.

#[cfg(feature = "tower")]
use http::HeaderMap;
#[cfg(feature = "tower")]
use http::header::{CONTENT_LANGUAGE, CONTENT_TYPE, HeaderValue, VARY};

#[cfg(feature = "tower")]
use crate::i18n::Locale;

#[cfg(feature = "tower")]
/// `Content-Language: <tag>` unless the handler set one, and `Vary: Accept-Language` (added to
/// an existing `Vary`, not replacing it) when the locale was negotiated from that header.
pub(crate) fn set_headers(headers: &mut HeaderMap, locale: &Locale, vary: bool) {
    if !headers.contains_key(CONTENT_LANGUAGE)
        && let Ok(value) = HeaderValue::from_str(locale.tag())
    {
        headers.insert(CONTENT_LANGUAGE, value);
    }
    if vary && !varies_on(headers.get_all(VARY).iter().filter_map(|v| v.to_str().ok())) {
        headers.append(VARY, HeaderValue::from_static("accept-language"));
    }
}

/// Whether a `Vary` already covers `Accept-Language` (or everything).
pub(crate) fn varies_on<'a>(values: impl Iterator<Item = &'a str>) -> bool {
    values
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|v| v == "*" || v.eq_ignore_ascii_case("accept-language"))
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
