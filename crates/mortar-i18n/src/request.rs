//! Choosing a request's locale: an ordered chain of sources, then the default.

use std::sync::Arc;

use http::HeaderMap;
use http::header::{ACCEPT_LANGUAGE, COOKIE};
use mortar_core::Principal;

use crate::i18n::{I18n, Locale};

/// Where a request's locale may come from; [`Negotiation`] tries its sources in order and the
/// first that names an available locale wins.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocaleSource {
    /// A query parameter, e.g. `?lang=de` (`pt_BR` is read as `pt-BR`).
    Query(String),
    /// A cookie, e.g. `lang=de`, set when the user picks a language.
    Cookie(String),
    /// An attribute of the authenticated [`Principal`] (a stored user preference), e.g. `locale`.
    /// The locale layer must sit inside the authentication layer to see it.
    PrincipalAttribute(String),
    /// A request header holding one tag, e.g. a mobile app's `X-Locale`.
    Header(String),
    /// The `Accept-Language` header, negotiated per RFC 9110 / RFC 4647.
    AcceptLanguage,
}

/// How requests get their [`Locale`]: the catalogs, the source chain and what the layers do
/// with responses. Shared by the tower layer and the actix middleware.
///
/// ```
/// use http::Request;
/// use mortar_i18n::{I18n, LocaleSource, Negotiation};
///
/// let i18n = I18n::builder().default_locale("en")
///     .add_ftl("en", "a = A").add_ftl("de", "a = A").build()?;
/// let negotiation = Negotiation::new(i18n);
///
/// let req = Request::get("/?lang=de").header("accept-language", "en").body(()).unwrap();
/// let (parts, _) = req.into_parts();
/// assert_eq!(negotiation.resolve(&parts.uri, &parts.headers, None).tag(), "de");
/// # Ok::<(), mortar_i18n::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Negotiation {
    inner: Arc<Config>,
}

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) i18n: I18n,
    pub(crate) sources: Vec<LocaleSource>,
    pub(crate) localize_problems: bool,
    #[cfg_attr(
        not(any(feature = "tower", feature = "actix")),
        allow(dead_code, reason = "read by the layers")
    )]
    pub(crate) max_problem_body: usize,
    /// The `Vary` values of `sources`, built with them (the tower layer sends them on every
    /// response).
    #[cfg(feature = "tower")]
    pub(crate) vary: Vary<http::HeaderValue>,
}

/// The request headers a locale choice depends on, as `Vary` values of the framework's header
/// type `V` (`http`'s for the tower layer, actix's for its middleware), built once.
#[cfg(any(feature = "tower", feature = "actix"))]
#[derive(Clone, Debug)]
pub(crate) struct Vary<V> {
    /// Each name once (two cookies are one `cookie`): the layers append them unchecked.
    pub(crate) values: Vec<V>,
    /// `values` as one field line (`cookie, accept-language`), sent when the response has no
    /// `Vary` yet; `None` when there are none.
    pub(crate) joined: Option<V>,
}

/// The request headers a choice by `sources` depends on, each once (two cookies are one
/// `cookie`), in the order of the chain. A header source whose name is no field name (an RFC
/// 9110 token) is left out: no request carries such a header, and `Vary` could not name it.
#[cfg(any(feature = "tower", feature = "actix"))]
fn vary_names(sources: &[LocaleSource]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for source in sources {
        let name = match source {
            LocaleSource::AcceptLanguage => "accept-language",
            LocaleSource::Cookie(_) => "cookie",
            LocaleSource::Header(name) => name.as_str(),
            LocaleSource::Query(_) | LocaleSource::PrincipalAttribute(_) => continue,
        };
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if token && !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name);
        }
    }
    names
}

#[cfg(any(feature = "tower", feature = "actix"))]
impl<V: std::str::FromStr> Vary<V> {
    /// The values of a choice by `sources`, each made by `V::from_str`.
    pub(crate) fn of(sources: &[LocaleSource]) -> Self {
        let names = vary_names(sources);
        // Tokens are valid values, and so is their join with `, `.
        let values = names.iter().filter_map(|name| name.parse().ok()).collect();
        let joined = (!names.is_empty())
            .then(|| names.join(", ").parse().ok())
            .flatten();
        Self { values, joined }
    }
}

impl Negotiation {
    /// The default chain: query parameter `lang`, cookie `lang`, the principal's `locale`
    /// attribute, `Accept-Language`, then the default locale. Problem documents are localized.
    pub fn new(i18n: I18n) -> Self {
        let sources = vec![
            LocaleSource::Query("lang".into()),
            LocaleSource::Cookie("lang".into()),
            LocaleSource::PrincipalAttribute("locale".into()),
            LocaleSource::AcceptLanguage,
        ];
        Self {
            inner: Arc::new(Config {
                i18n,
                #[cfg(feature = "tower")]
                vary: Vary::of(&sources),
                sources,
                localize_problems: true,
                max_problem_body: 64 * 1024,
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.inner)
    }

    /// Replaces the source chain (the default locale always ends it).
    #[must_use]
    pub fn sources(mut self, sources: impl IntoIterator<Item = LocaleSource>) -> Self {
        let config = self.config_mut();
        config.sources = sources.into_iter().collect();
        #[cfg(feature = "tower")]
        {
            config.vary = Vary::of(&config.sources);
        }
        self
    }

    /// Whether the layers rewrite `application/problem+json` responses in the request's locale
    /// (on by default). Bodies larger than 64 KiB are passed through untouched.
    #[must_use]
    pub fn localize_problems(mut self, on: bool) -> Self {
        self.config_mut().localize_problems = on;
        self
    }

    /// The largest problem body the layers rewrite (64 KiB by default); larger ones pass
    /// through untouched rather than being buffered.
    #[must_use]
    pub fn max_problem_body(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.inner).max_problem_body = bytes;
        self
    }

    /// The catalogs.
    pub fn i18n(&self) -> &I18n {
        &self.inner.i18n
    }

    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn config(&self) -> &Config {
        &self.inner
    }

    /// The request headers the choice depends on, for `Vary`: `accept-language`, `cookie`, and
    /// any header source, so a shared cache never serves one user's language to another.
    #[cfg(feature = "actix")]
    pub(crate) fn vary<V: std::str::FromStr>(&self) -> Vary<V> {
        Vary::of(&self.inner.sources)
    }

    /// The locale for a request: the first source naming an available locale, else the
    /// default. Malformed values are skipped, never an error.
    pub fn resolve(
        &self,
        uri: &http::Uri,
        headers: &HeaderMap,
        principal: Option<&Principal>,
    ) -> Locale {
        let i18n = &self.inner.i18n;
        for source in &self.inner.sources {
            let found = match source {
                LocaleSource::Query(name) => uri
                    .query()
                    .and_then(|q| query_param(q, name))
                    .and_then(|tag| find_tag(i18n, tag)),
                LocaleSource::Cookie(name) => {
                    cookie(headers, name).and_then(|tag| find_tag(i18n, tag))
                }
                LocaleSource::PrincipalAttribute(name) => principal
                    .and_then(|p| p.attribute(name))
                    .and_then(serde_json::Value::as_str)
                    .and_then(|tag| find_tag(i18n, tag)),
                LocaleSource::Header(name) => headers
                    .get(name.as_str())
                    .and_then(|v| v.to_str().ok())
                    .and_then(|tag| find_tag(i18n, tag.trim())),
                LocaleSource::AcceptLanguage => {
                    // Repeated header lines form one list (RFC 9110 §5.3).
                    let mut lines = headers.get_all(ACCEPT_LANGUAGE).iter();
                    match (lines.next(), lines.next()) {
                        (Some(one), None) => one.to_str().ok().and_then(|v| i18n.negotiate(v)),
                        (Some(first), Some(second)) => {
                            let joined = [first, second]
                                .into_iter()
                                .chain(lines)
                                .map(|v| v.to_str().ok())
                                .collect::<Option<Vec<_>>>()
                                .map(|v| v.join(","));
                            joined.and_then(|v| i18n.negotiate(&v))
                        }
                        _ => None,
                    }
                }
            };
            if let Some(locale) = found {
                return locale;
            }
        }
        i18n.default_locale()
    }
}

fn find_tag(i18n: &I18n, tag: &str) -> Option<Locale> {
    if tag.is_empty() || tag.len() > 64 {
        return None;
    }
    let index = if tag.contains('_') {
        i18n.find(&tag.replace('_', "-"))
    } else {
        i18n.find(tag)
    }?;
    Some(i18n.locale_at(index))
}

/// A query parameter's raw value (locale tags need no percent-decoding: an encoded one simply
/// does not match).
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// A cookie's value from the `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v.trim_matches('"')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_and_query_parsing() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; lang=de; b=2".parse().unwrap());
        assert_eq!(cookie(&headers, "lang"), Some("de"));
        assert_eq!(cookie(&headers, "c"), None);
        assert_eq!(query_param("x=1&lang=pt_BR", "lang"), Some("pt_BR"));
        assert_eq!(query_param("language=de", "lang"), None);
    }
}
