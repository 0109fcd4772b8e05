//! The starter's languages: English (the default), German and Arabic, compiled into the binary
//! from `locales/`, over Mortar's built-in problem and validation messages. `?lang=en-XA`
//! serves the pseudo-locale, for spotting strings that bypass the catalog.

use mortar::i18n::{Error, I18n};

/// The catalog files, embedded: the starter runs from its binary alone.
const CATALOGS: [(&str, &str, &str); 3] = [
    (
        "en",
        "locales/en/main.ftl",
        include_str!("../locales/en/main.ftl"),
    ),
    (
        "de",
        "locales/de/main.ftl",
        include_str!("../locales/de/main.ftl"),
    ),
    (
        "ar",
        "locales/ar/main.ftl",
        include_str!("../locales/ar/main.ftl"),
    ),
];

/// The problem type of refusing to remove or demote an organization's last owner.
pub const LAST_OWNER: &str = "urn:saas:problem:last-owner";

/// Builds the catalogs.
///
/// # Errors
///
/// A Fluent syntax error in one of the files (caught by the tests before it ships).
pub fn catalogs() -> Result<I18n, Error> {
    let mut builder = I18n::builder()
        .default_locale("en")
        .pseudo_locale("en-XA")
        .problem_type(LAST_OWNER, "problem-last-owner")
        .problem_type(
            crate::invitations::INVITATION_EXPIRED,
            "problem-invitation-expired",
        )
        .problem_type(
            crate::invitations::EMAIL_UNVERIFIED,
            "problem-email-unverified",
        );
    for (tag, name, source) in CATALOGS {
        builder = builder.add_named_ftl(tag, name, source);
    }
    builder.build()
}

/// The catalog sources, for the completeness check in the tests.
pub fn sources() -> impl Iterator<Item = (&'static str, &'static str)> {
    CATALOGS.into_iter().map(|(tag, _, source)| (tag, source))
}
