//! [`I18n`] (every locale's catalog) and [`Locale`] (one negotiated locale, per request).

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use icu_locale_core::LanguageIdentifier;

use crate::bundle::{Bundle, ResolveError};
use crate::catalog::{Catalog, Map, Pattern};
use crate::error::Error;
use crate::negotiate::{Matcher, parse_accept_language};
use crate::plural::PluralCategory;
use crate::value::{Args, Number};

/// What went wrong with a message, for reporting each kind once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Problem {
    /// Not in the locale: answered from a fallback or with its id.
    Missing,
    /// Formatting met an unknown variable, reference or function.
    Format,
}

/// Distinct missing messages reported in the log before reporting stops (bounds the memory an
/// attacker could make the set grow to through ids taken from requests).
const MAX_REPORTED: usize = 4096;
/// Distinct requested ranges remembered with their match (the same bound, for the same reason).
const MAX_CACHED_RANGES: usize = 1024;

/// Every locale's messages, with what negotiation and formatting need: build once, share
/// everywhere (cloning is an `Arc` clone).
///
/// ```
/// use mortar_i18n::{Args, I18n};
///
/// let i18n = I18n::builder()
///     .default_locale("en")
///     .add_ftl("en", "hello = Hello, { $name }!\nbye = Goodbye")
///     .add_ftl("de", "hello = Hallo, { $name }!")
///     .build()?;
///
/// let de = i18n.locale("de-AT");
/// assert_eq!(de.tag(), "de");
/// assert_eq!(de.format("hello", &Args::new().with("name", "Ada")), "Hallo, Ada!");
/// // Missing in German: falls back to English (and is reported in the log once).
/// assert_eq!(de.message("bye"), "Goodbye");
/// # Ok::<(), mortar_i18n::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct I18n {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bundles: Vec<Bundle>,
    /// Per locale: itself, its CLDR parents that are available, then the default.
    chains: Vec<Box<[usize]>>,
    default: usize,
    matcher: Matcher,
    /// Requested range (lower case) → its match. Read without a lock on every request; a new
    /// range copies the map (they are few and bounded).
    cache: ArcSwap<Map<Option<usize>>>,
    isolating: bool,
    /// (locale, message, kind of problem) already logged.
    reported: Mutex<HashSet<(usize, String, Problem)>>,
    problem_types: Map<Box<str>>,
}

/// Builds an [`I18n`]: the catalogs, the default locale and the formatting options.
#[derive(Debug, Default)]
#[must_use]
pub struct I18nBuilder {
    default: Option<String>,
    resources: Vec<(String, String, String)>,
    isolating: bool,
    without_builtin: bool,
    problem_types: Vec<(String, String)>,
    pseudo: Option<String>,
    errors: Vec<Error>,
}

impl I18n {
    /// Starts a builder.
    pub fn builder() -> I18nBuilder {
        I18nBuilder::default()
    }

    /// The best available locale for one tag (a user's stored preference, a `?lang=`
    /// parameter), or the default locale. Matching is described at
    /// [`I18n::negotiate`].
    pub fn locale(&self, tag: &str) -> Locale {
        let index = self.find(tag).unwrap_or(self.inner.default);
        self.locale_at(index)
    }

    /// The index of the available locale matching the tag, if any.
    pub(crate) fn find(&self, tag: &str) -> Option<usize> {
        // Requested ranges repeat across requests: remember each one's match. The key is the
        // lower-cased range, built on the stack for ordinary lengths.
        let mut buf = [0u8; 32];
        let key: Cow<'_, str> = if tag.len() <= buf.len() {
            let bytes = &mut buf[..tag.len()];
            bytes.copy_from_slice(tag.as_bytes());
            bytes.make_ascii_lowercase();
            match std::str::from_utf8(bytes) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => return None,
            }
        } else {
            Cow::Owned(tag.to_ascii_lowercase())
        };
        if let Some(found) = self.inner.cache.load().get(&*key) {
            return *found;
        }
        let found = self.inner.matcher.lookup(tag);
        // Only ordinary tags are remembered (at most 32 bytes), so junk cannot fill the cache
        // with large keys; it stays bounded in entries and bytes.
        if tag.len() <= 32 && self.inner.cache.load().len() < MAX_CACHED_RANGES {
            let key: Box<str> = key.into();
            self.inner.cache.rcu(|cache| {
                let mut cache = Map::clone(cache);
                cache.insert(key.clone(), found);
                cache
            });
        }
        found
    }

    /// Negotiates an `Accept-Language` value (RFC 9110 §12.5.4): ranges by descending q-value,
    /// each matched as RFC 4647 lookup (the range, its CLDR parents, then shorter prefixes of it)
    /// helped by CLDR likely subtags (`pt` finds `pt-BR`, `zh-TW` finds `zh-Hant` and not
    /// Simplified `zh`). A range with `q=0` excludes the locales it covers (basic filtering);
    /// `*` accepts the default locale (or the first one not excluded). `None` when nothing
    /// matches or the header is malformed.
    ///
    /// ```
    /// # let i18n = mortar_i18n::I18n::builder().default_locale("en")
    /// #     .add_ftl("en", "a = A").add_ftl("de", "a = A").add_ftl("fr", "a = A").build()?;
    /// let de = i18n.negotiate("fr;q=0.5, de-CH, en;q=0.8").unwrap();
    /// assert_eq!(de.tag(), "de");
    /// assert!(i18n.negotiate("es, it").is_none());
    /// assert!(i18n.negotiate("de;q=1.5").is_none()); // malformed
    /// assert_eq!(i18n.negotiate("*, en;q=0").unwrap().tag(), "de");
    /// # Ok::<(), mortar_i18n::Error>(())
    /// ```
    pub fn negotiate(&self, accept_language: &str) -> Option<Locale> {
        let ranges = parse_accept_language(accept_language)?;
        // Exclusions first: `q=0` forbids what it matches, wherever it appears in the header.
        // RFC 4647 basic filtering: `de;q=0` excludes de and de-*, never a broader locale.
        let mut excluded = smallvec::SmallVec::<[usize; 4]>::new();
        for range in ranges.iter().filter(|r| r.quality == 0 && r.range != "*") {
            for (i, bundle) in self.inner.bundles.iter().enumerate() {
                let (tag, range) = (bundle.tag.as_bytes(), range.range.as_bytes());
                let covered = tag.len() >= range.len()
                    && tag[..range.len()].eq_ignore_ascii_case(range)
                    && (tag.len() == range.len() || tag[range.len()] == b'-');
                if covered {
                    excluded.push(i);
                }
            }
        }
        for range in ranges.iter().filter(|r| r.quality > 0) {
            if range.range == "*" {
                let any = std::iter::once(self.inner.default)
                    .chain(0..self.inner.bundles.len())
                    .find(|i| !excluded.contains(i));
                return any.map(|i| self.locale_at(i));
            }
            if let Some(i) = self.find(range.range)
                && !excluded.contains(&i)
            {
                return Some(self.locale_at(i));
            }
        }
        None
    }

    /// The default locale.
    pub fn default_locale(&self) -> Locale {
        self.locale_at(self.inner.default)
    }

    /// The tags of the available locales, in the order they were added.
    pub fn locales(&self) -> impl Iterator<Item = &str> {
        self.inner.bundles.iter().map(|b| &*b.tag)
    }

    pub(crate) fn locale_at(&self, index: usize) -> Locale {
        Locale {
            i18n: self.clone(),
            index,
        }
    }
}

impl I18nBuilder {
    /// The locale answered when nothing else matches; it must have a catalog. Without it, the
    /// first locale added is the default.
    pub fn default_locale(mut self, tag: impl Into<String>) -> Self {
        self.default = Some(tag.into());
        self
    }

    /// Adds Fluent source for a locale. Several resources per locale are merged; a message
    /// defined twice takes the later definition. Syntax errors are reported by [`build`](Self::build).
    pub fn add_ftl(self, tag: impl Into<String>, source: impl Into<String>) -> Self {
        let tag = tag.into();
        let name = format!("{tag} (inline)");
        self.add_named_ftl(tag, name, source)
    }

    /// Adds Fluent source under a name (a file name) that syntax errors mention.
    pub fn add_named_ftl(
        mut self,
        tag: impl Into<String>,
        name: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        self.resources
            .push((tag.into(), name.into(), source.into()));
        self
    }

    /// Loads a directory laid out as `<dir>/<locale>/*.ftl` (or `<dir>/<locale>.ftl`), as
    /// Fluent projects are: `locales/en/main.ftl`, `locales/de/main.ftl`. Files are read in
    /// name order so overrides are deterministic.
    pub fn load_dir(mut self, dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        match read_dir_sorted(dir) {
            Ok(entries) => {
                for path in entries {
                    let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned)
                    else {
                        continue;
                    };
                    if path.is_dir() {
                        match read_dir_sorted(&path) {
                            Ok(files) => {
                                for file in files.into_iter().filter(|f| is_ftl(f)) {
                                    self = self.add_file(&stem, &file);
                                }
                            }
                            Err(e) => self.errors.push(e),
                        }
                    } else if is_ftl(&path) {
                        self = self.add_file(&stem, &path);
                    }
                }
            }
            Err(e) => self.errors.push(e),
        }
        self
    }

    fn add_file(mut self, tag: &str, path: &Path) -> Self {
        match std::fs::read_to_string(path) {
            Ok(source) => self.add_named_ftl(tag, path.display().to_string(), source),
            Err(source) => {
                self.errors.push(Error::Io {
                    path: path.to_owned(),
                    source,
                });
                self
            }
        }
    }

    /// Adds catalogs embedded at compile time with [`include_dir::include_dir!`], laid out as
    /// for [`load_dir`](Self::load_dir) (feature `embed`).
    ///
    /// ```
    /// // In your crate: include_dir!("$CARGO_MANIFEST_DIR/locales").
    /// static LOCALES: include_dir::Dir<'_> =
    ///     include_dir::include_dir!("$CARGO_MANIFEST_DIR/tests/data/locales");
    /// let i18n = mortar_i18n::I18n::builder().embedded(&LOCALES).default_locale("en").build()?;
    /// assert_eq!(i18n.locale("de").message("bye"), "Bye");
    /// # Ok::<(), mortar_i18n::Error>(())
    /// ```
    #[cfg(feature = "embed")]
    pub fn embedded(mut self, dir: &include_dir::Dir<'_>) -> Self {
        fn stem(path: &Path) -> Option<String> {
            path.file_stem().and_then(|s| s.to_str()).map(str::to_owned)
        }
        let mut entries: Vec<_> = dir.entries().iter().collect();
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            match entry {
                include_dir::DirEntry::Dir(sub) => {
                    let Some(tag) = stem(sub.path()) else {
                        continue;
                    };
                    let mut files: Vec<_> = sub.files().filter(|f| is_ftl(f.path())).collect();
                    files.sort_by_key(|f| f.path());
                    for file in files {
                        self = self.add_embedded(&tag, file);
                    }
                }
                include_dir::DirEntry::File(file) if is_ftl(file.path()) => {
                    if let Some(tag) = stem(file.path()) {
                        self = self.add_embedded(&tag, file);
                    }
                }
                include_dir::DirEntry::File(_) => {}
            }
        }
        self
    }

    #[cfg(feature = "embed")]
    fn add_embedded(mut self, tag: &str, file: &include_dir::File<'_>) -> Self {
        if let Some(source) = file.contents_utf8() {
            self.add_named_ftl(tag, file.path().display().to_string(), source)
        } else {
            self.errors.push(Error::Io {
                path: file.path().to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"),
            });
            self
        }
    }

    /// Wraps placeables in Unicode bidi isolation marks (FSI … PDI), as Fluent does by default,
    /// so a Latin name inside Arabic text displays in the right order. Off by default: API
    /// responses are mostly read by programs and tests, where invisible marks surprise.
    pub fn use_isolating(mut self, on: bool) -> Self {
        self.isolating = on;
        self
    }

    /// Leaves out Mortar's built-in messages (problem titles and validation messages in
    /// English, German, French, Spanish and Arabic; an app's own messages always override them).
    pub fn without_builtin_messages(mut self) -> Self {
        self.without_builtin = true;
        self
    }

    /// Localizes problems of an app's own `type` URI with the message `message_id` (its value
    /// is the title, its `.detail` attribute the detail). Mortar's own types
    /// (`urn:mortar:problem:<slug>`) use `problem-<slug>` and `about:blank` problems
    /// `problem-status-<code>` without registration.
    pub fn problem_type(
        mut self,
        type_uri: impl Into<String>,
        message_id: impl Into<String>,
    ) -> Self {
        self.problem_types
            .push((type_uri.into(), message_id.into()));
        self
    }

    /// Adds a pseudo-locale (e.g. `en-XA`, CLDR's tag for it) generated from the default
    /// locale's catalog with [`pseudolocalize`](crate::pseudolocalize): select it (`?lang=en-XA`)
    /// to spot strings that bypass the catalog and layouts that clip longer text.
    pub fn pseudo_locale(mut self, tag: impl Into<String>) -> Self {
        self.pseudo = Some(tag.into());
        self
    }

    /// Builds, reporting every syntax error of every resource at once.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] for Fluent syntax errors, [`Error::InvalidLocale`] for a bad tag,
    /// [`Error::Io`] for an unreadable file, [`Error::MissingDefault`] when the default locale
    /// (or any locale at all) has no catalog.
    pub fn build(self) -> Result<I18n, Error> {
        if let Some(error) = self.errors.into_iter().next() {
            return Err(error);
        }
        let mut locales: Vec<(LanguageIdentifier, Catalog)> = Vec::new();
        let mut parse_errors = Vec::new();
        let default_tag = self
            .default
            .clone()
            .or_else(|| self.resources.first().map(|r| r.0.clone()));
        let pseudo: Vec<(String, String, String)> = match (&self.pseudo, &default_tag) {
            (Some(pseudo), Some(default)) => self
                .resources
                .iter()
                .filter(|(tag, _, _)| tag == default)
                .map(|(_, name, source)| (pseudo.clone(), name.clone(), source.clone()))
                .collect(),
            _ => Vec::new(),
        };
        let pseudo_count = pseudo.len();
        let all = self.resources.iter().chain(pseudo.iter());
        let total = self.resources.len() + pseudo_count;
        for (n, (tag, name, source)) in all.enumerate() {
            let is_pseudo = n >= total - pseudo_count;
            let langid = LanguageIdentifier::try_from_str(tag)
                .map_err(|_| Error::InvalidLocale(tag.clone()))?;
            let index = if let Some(i) = locales.iter().position(|(l, _)| *l == langid) {
                i
            } else {
                let mut catalog = Catalog::default();
                // The pseudo-locale pseudo-localizes the built-in messages too (they come from
                // the catalog, so they must not stand out as untranslated).
                let pseudo_transform: Option<&dyn Fn(&str) -> String> = if is_pseudo {
                    Some(&crate::check::pseudolocalize)
                } else {
                    None
                };
                if !self.without_builtin
                    && let Some(builtin) = crate::builtin::source(&langid)
                {
                    catalog.add_with("builtin", builtin, pseudo_transform)?;
                }
                locales.push((langid, catalog));
                locales.len() - 1
            };
            let transform: Option<&dyn Fn(&str) -> String> = if is_pseudo {
                Some(&crate::check::pseudolocalize)
            } else {
                None
            };
            if let Err(Error::Parse(errors)) = locales[index].1.add_with(name, source, transform) {
                parse_errors.extend(errors);
            }
        }
        if !parse_errors.is_empty() {
            return Err(Error::Parse(parse_errors));
        }
        let default = match &self.default {
            Some(tag) => {
                let langid = LanguageIdentifier::try_from_str(tag)
                    .map_err(|_| Error::InvalidLocale(tag.clone()))?;
                locales
                    .iter()
                    .position(|(l, _)| *l == langid)
                    .ok_or_else(|| Error::MissingDefault(tag.clone()))?
            }
            None if locales.is_empty() => return Err(Error::MissingDefault("(none)".into())),
            None => 0,
        };
        let ids: Vec<LanguageIdentifier> = locales.iter().map(|(l, _)| l.clone()).collect();
        let chains = fallback_chains(&ids, default);
        let bundles = locales
            .into_iter()
            .map(|(langid, catalog)| Bundle::new(langid, catalog))
            .collect();
        Ok(I18n {
            inner: Arc::new(Inner {
                bundles,
                chains,
                default,
                matcher: Matcher::new(&ids),
                cache: ArcSwap::from_pointee(
                    ids.iter()
                        .enumerate()
                        .map(|(i, id)| {
                            (
                                id.to_string().to_ascii_lowercase().into_boxed_str(),
                                Some(i),
                            )
                        })
                        .collect(),
                ),
                isolating: self.isolating,
                reported: Mutex::new(HashSet::new()),
                problem_types: self
                    .problem_types
                    .into_iter()
                    .map(|(t, m)| (t.into_boxed_str(), m.into_boxed_str()))
                    .collect(),
            }),
        })
    }
}

fn is_ftl(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "ftl")
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<std::path::PathBuf>, Error> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    let mut paths = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    paths.sort();
    Ok(paths)
}

/// Each locale's lookup order: itself, then its CLDR parents that are available (`pt-AO` →
/// `pt-PT` → `pt`; `es-MX` → `es-419` → `es`), then the default locale.
fn fallback_chains(ids: &[LanguageIdentifier], default: usize) -> Vec<Box<[usize]>> {
    let tags: Vec<String> = ids.iter().map(ToString::to_string).collect();
    tags.iter()
        .enumerate()
        .map(|(index, tag)| {
            let mut chain = vec![index];
            for parent in crate::cldr::parent_chain(tag) {
                if let Some(i) = tags.iter().position(|t| *t == parent)
                    && !chain.contains(&i)
                {
                    chain.push(i);
                }
            }
            if !chain.contains(&default) {
                chain.push(default);
            }
            chain.into_boxed_slice()
        })
        .collect()
}

/// The CLDR parent chain of a locale, nearest first, as catalogs fall back along it:
/// `es-MX` → `es-419` → `es`.
///
/// ```
/// assert_eq!(mortar_i18n::parent_locales("pt-AO"), ["pt-PT", "pt"]);
/// assert_eq!(mortar_i18n::parent_locales("en-IN"), ["en-001", "en"]);
/// assert_eq!(mortar_i18n::parent_locales("de-AT"), ["de"]);
/// ```
pub fn parent_locales(tag: &str) -> Vec<String> {
    match LanguageIdentifier::try_from_str(tag) {
        Ok(id) => crate::cldr::parent_chain(&id.to_string()),
        Err(_) => Vec::new(),
    }
}

/// One negotiated locale with the catalogs behind it: what a handler formats messages with.
/// Cheap to clone (an `Arc` and an index).
///
/// Formatting never fails and never panics: a message missing in this locale comes from its
/// parent locales and then the default locale; one missing everywhere is answered with its id;
/// a missing variable shows as `{$name}`. Each such problem is logged once per locale and
/// message (`tracing` target `mortar_i18n`, with the ids, never the argument values).
#[derive(Clone)]
pub struct Locale {
    i18n: I18n,
    index: usize,
}

impl std::fmt::Debug for Locale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Locale").field(&self.tag()).finish()
    }
}

impl Locale {
    /// The locale's BCP 47 tag, as `Content-Language` carries it.
    pub fn tag(&self) -> &str {
        &self.bundle().tag
    }

    /// The tag as a header value (built with the catalog: cloning it allocates nothing).
    #[cfg_attr(
        not(feature = "tower"),
        allow(dead_code, reason = "read by the tower layer")
    )]
    pub(crate) fn content_language(&self) -> Option<&http::HeaderValue> {
        self.bundle().content_language.as_ref()
    }

    /// The locale as an ICU4X language identifier.
    pub fn language_identifier(&self) -> &LanguageIdentifier {
        &self.bundle().langid
    }

    /// Whether text in this locale runs right to left (Arabic, Hebrew, Persian…).
    pub fn is_rtl(&self) -> bool {
        crate::cldr::maximize(&self.bundle().langid)
            .script
            .is_some_and(|s| {
                matches!(
                    s.as_str(),
                    "Arab" | "Hebr" | "Thaa" | "Syrc" | "Nkoo" | "Adlm" | "Rohg" | "Mand" | "Samr"
                )
            })
    }

    /// The [`I18n`] this locale belongs to.
    pub fn i18n(&self) -> &I18n {
        &self.i18n
    }

    fn bundle(&self) -> &Bundle {
        &self.i18n.inner.bundles[self.index]
    }

    /// A message without arguments.
    ///
    /// ```
    /// # let i18n = mortar_i18n::I18n::builder().add_ftl("en", "hi = Hello").build()?;
    /// assert_eq!(i18n.locale("en").message("hi"), "Hello");
    /// assert_eq!(i18n.locale("en").message("nope"), "nope");
    /// # Ok::<(), mortar_i18n::Error>(())
    /// ```
    pub fn message<'s>(&'s self, id: &'s str) -> Cow<'s, str> {
        // Plain text in this locale: one hash probe, nothing to format.
        if let Some(Pattern::Text(text)) = self
            .bundle()
            .catalog
            .messages
            .get(id)
            .and_then(|e| e.value.as_ref())
        {
            return Cow::Borrowed(text);
        }
        self.render(id, None, None).unwrap_or(Cow::Borrowed(id))
    }

    /// A message with arguments.
    ///
    /// ```
    /// use mortar_i18n::{Args, I18n};
    ///
    /// let i18n = I18n::builder()
    ///     .add_ftl("en", "files = { $count ->\n    [one] One file\n   *[other] { $count } files\n} in { $dir }")
    ///     .build()?;
    /// let en = i18n.locale("en");
    /// assert_eq!(en.format("files", &Args::new().with("count", 1).with("dir", "/tmp")), "One file in /tmp");
    /// assert_eq!(en.format("files", &Args::new().with("count", 1200).with("dir", "/tmp")), "1,200 files in /tmp");
    /// # Ok::<(), mortar_i18n::Error>(())
    /// ```
    pub fn format<'s>(&'s self, id: &'s str, args: &Args<'_>) -> Cow<'s, str> {
        self.render(id, None, Some(args))
            .unwrap_or(Cow::Borrowed(id))
    }

    /// An attribute of a message (`login.placeholder`), with optional arguments.
    pub fn attribute(&self, id: &str, attribute: &str, args: Option<&Args<'_>>) -> Cow<'_, str> {
        self.render(id, Some(attribute), args)
            .unwrap_or_else(|| Cow::Owned(format!("{id}.{attribute}")))
    }

    /// Like [`format`](Self::format) but `None` when no locale in the chain has the message
    /// (the miss is not logged): for optional messages.
    pub fn try_format(
        &self,
        id: &str,
        attribute: Option<&str>,
        args: Option<&Args<'_>>,
    ) -> Option<Cow<'_, str>> {
        let (bundle, pattern) = self.lookup(id, attribute)?;
        Some(self.format_pattern(bundle, pattern, id, args))
    }

    /// Whether some locale in the chain has the message (or its attribute).
    pub fn has_message(&self, id: &str, attribute: Option<&str>) -> bool {
        self.lookup(id, attribute).is_some()
    }

    /// The CLDR plural category of a number in this locale.
    ///
    /// ```
    /// use mortar_i18n::{I18n, Number, PluralCategory};
    ///
    /// let i18n = I18n::builder().add_ftl("ar", "x = x").build()?;
    /// assert_eq!(i18n.locale("ar").plural_category(Number::from(3)), PluralCategory::Few);
    /// assert_eq!(i18n.locale("ar").plural_category(Number::from(11)), PluralCategory::Many);
    /// # Ok::<(), mortar_i18n::Error>(())
    /// ```
    pub fn plural_category(&self, number: impl Into<Number>) -> PluralCategory {
        self.bundle().plural_category(&number.into())
    }

    /// A number formatted for this locale (grouping, decimal separator, digits).
    ///
    /// ```
    /// # let i18n = mortar_i18n::I18n::builder().add_ftl("de", "x = x").add_ftl("en", "x = x").build()?;
    /// assert_eq!(i18n.locale("de").format_number(1234.5), "1.234,5");
    /// assert_eq!(i18n.locale("en").format_number(1234.5), "1,234.5");
    /// # Ok::<(), mortar_i18n::Error>(())
    /// ```
    pub fn format_number(&self, number: impl Into<Number>) -> String {
        let mut out = String::new();
        self.bundle().write_number(&number.into(), &mut out);
        out
    }

    /// Finds the pattern along the fallback chain.
    fn lookup(&self, id: &str, attribute: Option<&str>) -> Option<(&Bundle, &Pattern)> {
        let inner = &*self.i18n.inner;
        inner.chains[self.index].iter().find_map(|&i| {
            let bundle = &inner.bundles[i];
            let entry = bundle.catalog.messages.get(id)?;
            let pattern = entry.pattern(attribute)?;
            Some((bundle, pattern))
        })
    }

    fn render(
        &self,
        id: &str,
        attribute: Option<&str>,
        args: Option<&Args<'_>>,
    ) -> Option<Cow<'_, str>> {
        let inner = &*self.i18n.inner;
        // The first link is this locale: the common case pays one hash probe and no more.
        let own = &inner.bundles[self.index];
        if let Some(pattern) = own
            .catalog
            .messages
            .get(id)
            .and_then(|e| e.pattern(attribute))
        {
            return Some(self.format_pattern(own, pattern, id, args));
        }
        let found = self.lookup(id, attribute);
        self.report_once(id, attribute, Problem::Missing, || match &found {
            Some((bundle, _)) => format!("missing; answered from {}", bundle.tag),
            None => "missing in every locale; answered with its id".to_owned(),
        });
        let (bundle, pattern) = found?;
        Some(self.format_pattern(bundle, pattern, id, args))
    }

    fn format_pattern<'s>(
        &'s self,
        bundle: &'s Bundle,
        pattern: &'s Pattern,
        id: &str,
        args: Option<&Args<'_>>,
    ) -> Cow<'s, str> {
        let mut errors: Vec<ResolveError> = Vec::new();
        let out = bundle.format(pattern, args, self.i18n.inner.isolating, &mut errors);
        if !errors.is_empty() {
            self.report_once(id, None, Problem::Format, || {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            });
        }
        out
    }

    fn report_once(
        &self,
        id: &str,
        attribute: Option<&str>,
        kind: Problem,
        what: impl FnOnce() -> String,
    ) {
        let full = match attribute {
            Some(a) => format!("{id}.{a}"),
            None => id.to_owned(),
        };
        let Ok(mut reported) = self.i18n.inner.reported.lock() else {
            return;
        };
        if reported.len() >= MAX_REPORTED || !reported.insert((self.index, full.clone(), kind)) {
            return;
        }
        drop(reported);
        tracing::warn!(
            target: "mortar_i18n",
            locale = self.tag(),
            id = %full,
            problem = %what(),
            "localization problem"
        );
    }

    pub(crate) fn problem_message(&self, type_uri: &str, status: u16) -> Option<Cow<'_, str>> {
        if let Some(id) = self.i18n.inner.problem_types.get(type_uri) {
            return Some(Cow::Borrowed(id));
        }
        if let Some(slug) = type_uri.strip_prefix(mortar_core::problem::TYPE_PREFIX) {
            return Some(Cow::Owned(format!("problem-{slug}")));
        }
        (type_uri == "about:blank").then(|| Cow::Owned(format!("problem-status-{status}")))
    }
}

/// Formats a message with named arguments: `t!(locale, "id")` or
/// `t!(locale, "id", name = value, count = 3)`.
///
/// ```
/// use mortar_i18n::{I18n, t};
///
/// let i18n = I18n::builder().add_ftl("en", "hi = Hi { $name }").build()?;
/// let en = i18n.locale("en");
/// assert_eq!(t!(en, "hi", name = "Ada"), "Hi Ada");
/// # Ok::<(), mortar_i18n::Error>(())
/// ```
#[macro_export]
macro_rules! t {
    ($locale:expr, $id:expr $(,)?) => {
        $locale.message($id)
    };
    ($locale:expr, $id:expr, $($name:ident = $value:expr),+ $(,)?) => {
        $locale.format($id, &$crate::Args::new()$(.with(stringify!($name), $value))+)
    };
}
