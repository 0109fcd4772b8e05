//! axum integration (feature `axum`): [`Locale`] as an extractor. [`LocaleLayer`](crate::LocaleLayer)
//! sets it on every request.
//!
//! ```
//! use axum::{Router, routing::get};
//! use http::Request;
//! use mortar_i18n::{I18n, Locale, LocaleLayer, t};
//! use tower::ServiceExt;
//!
//! async fn greet(locale: Locale) -> String {
//!     t!(locale, "greeting", count = 3).into_owned()
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let i18n = I18n::builder()
//!     .default_locale("en")
//!     .add_ftl("en", "greeting = { $count ->\n    [one] One new message\n   *[other] { $count } new messages\n}")
//!     .add_ftl("de", "greeting = { $count ->\n    [one] Eine neue Nachricht\n   *[other] { $count } neue Nachrichten\n}")
//!     .build()
//!     .unwrap();
//! let app = Router::new().route("/", get(greet)).layer(LocaleLayer::new(i18n));
//!
//! let req = Request::get("/").header("accept-language", "de-DE,de;q=0.9,en;q=0.5")
//!     .body(axum::body::Body::empty()).unwrap();
//! let res = app.oneshot(req).await.unwrap();
//! assert_eq!(res.headers()["content-language"], "de");
//! let vary: Vec<_> = res.headers().get_all("vary").iter().collect();
//! assert_eq!(vary, ["cookie, accept-language"]);
//! # }
//! ```

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;
use mortar_core::Problem;

use crate::i18n::Locale;

/// The request's locale. Without [`LocaleLayer`](crate::LocaleLayer) on the route the
/// extraction fails with a 500 problem (a wiring mistake, logged), never a panic.
impl<S: Send + Sync> FromRequestParts<S> for Locale {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Locale>().cloned().ok_or_else(|| {
            tracing::error!(target: "mortar_i18n", "no Locale on the request: is LocaleLayer installed on this route?");
            Problem::internal_error()
        })
    }
}

/// `Option<Locale>`: `None` where the layer is not installed; never rejects.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Locale {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Locale>().cloned())
    }
}
