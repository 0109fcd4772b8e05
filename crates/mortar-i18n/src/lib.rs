//! Localization for Rust web services, on Project Fluent and CLDR.
//!
//! - **Catalogs** in Fluent (`.ftl`), loaded from a directory at run time
//!   ([`I18nBuilder::load_dir`]), embedded at compile time ([`I18nBuilder::embedded`], feature
//!   `embed`) or added as strings; a message missing in `pt-BR` comes from `pt`, then from the
//!   default locale (CLDR parent locales), and is reported in the log once — never a panic.
//! - **Negotiation**: `Accept-Language` per RFC 9110 (q-values, `q=0` excludes, a malformed
//!   header means the default), matched per RFC 4647 lookup with CLDR likely subtags; a
//!   configurable chain of sources ([`Negotiation`]): query parameter, cookie, the user's stored
//!   preference, `Accept-Language`, default.
//! - **Plurals, numbers, dates** from ICU4X's CLDR data: cardinal and ordinal plural categories
//!   for every CLDR locale, numbers with the locale's separators and digits, `DATETIME()`.
//! - **Localized problems**: [`LocaleLayer`] (tower) and [`actix::LocaleMiddleware`] set the
//!   request's [`Locale`], add `Content-Language` and `Vary: Accept-Language`, and render
//!   `application/problem+json` titles, details and field errors in the request's language;
//!   [`Locale::validate`] runs garde with localized messages (feature `garde`). Mortar's own
//!   problem titles and validation messages ship in English, German, French, Spanish and Arabic.
//! - **Tooling**: [`check_dir`] / [`check_sources`] (every locale has every message with the same
//!   variables) for tests and the `mortar-i18n-check` command, and a pseudo-locale
//!   ([`I18nBuilder::pseudo_locale`]).
//!
//! ```
//! use mortar_i18n::{I18n, t};
//!
//! let i18n = I18n::builder()
//!     .default_locale("en")
//!     .add_ftl("en", "inbox = { $count ->\n    [one] You have one message\n   *[other] You have { $count } messages\n}")
//!     .add_ftl("ar", "inbox = { $count ->\n    [zero] ليس لديك رسائل\n    [one] لديك رسالة واحدة\n    [two] لديك رسالتان\n    [few] لديك { $count } رسائل\n    [many] لديك { $count } رسالة\n   *[other] لديك { $count } رسالة\n}")
//!     .build()?;
//!
//! let ar = i18n.negotiate("ar-EG, en;q=0.5").unwrap();
//! assert_eq!(t!(ar, "inbox", count = 2), "لديك رسالتان");
//! assert_eq!(t!(i18n.locale("en"), "inbox", count = 1), "You have one message");
//! # Ok::<(), mortar_i18n::Error>(())
//! ```
//!
//! # Features
//!
//! | feature | adds |
//! |---|---|
//! | `embed` | [`I18nBuilder::embedded`]: catalogs compiled into the binary with `include_dir!` |
//! | `tower` | [`LocaleLayer`] for any tower stack |
//! | `axum` | `tower`, and [`Locale`] as an axum extractor |
//! | `actix` | [`actix::LocaleMiddleware`] and [`Locale`] as an actix-web extractor |
//! | `garde` | [`Locale::validate`]: garde validation with messages in the locale |

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
mod axum;
mod builtin;
mod bundle;
mod catalog;
mod check;
mod cldr;
mod error;
mod i18n;
#[cfg(feature = "tower")]
mod layer;
mod negotiate;
mod plural;
mod problem;
mod request;
#[cfg(any(feature = "tower", feature = "actix"))]
mod response;
#[cfg(feature = "garde")]
mod validation;
mod value;

pub use builtin::BUILTIN_LANGUAGES;
pub use check::{Finding, check_dir, check_sources, pseudolocalize};
pub use error::{Error, ParseError};
pub use i18n::{I18n, I18nBuilder, Locale, parent_locales};
#[cfg(feature = "tower")]
pub use layer::{LocaleBody, LocaleLayer, LocaleService, ResponseFuture};
pub use negotiate::{LanguageRange, parse_accept_language};
pub use plural::{PluralCategory, PluralRules};
pub use request::{LocaleSource, Negotiation};
pub use value::{Args, Number, Value};
