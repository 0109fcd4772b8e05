//! Mortar's built-in messages: problem titles and validation texts in a few languages. They sit
//! under an application's own catalog (which overrides any of them) and are added only to the
//! locales the application has.

use icu_locale_core::LanguageIdentifier;

/// The built-in catalog for a locale's language, if Mortar ships one.
pub(crate) fn source(locale: &LanguageIdentifier) -> Option<&'static str> {
    Some(match locale.language.as_str() {
        "en" => include_str!("../builtin/en.ftl"),
        "de" => include_str!("../builtin/de.ftl"),
        "fr" => include_str!("../builtin/fr.ftl"),
        "es" => include_str!("../builtin/es.ftl"),
        "ar" => include_str!("../builtin/ar.ftl"),
        _ => return None,
    })
}

/// The languages with built-in messages.
pub const BUILTIN_LANGUAGES: [&str; 5] = ["en", "de", "fr", "es", "ar"];
