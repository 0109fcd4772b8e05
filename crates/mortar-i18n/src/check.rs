//! Tooling for translation teams: the completeness check and the pseudo-locale.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::catalog::{Shape, shape};
use crate::error::{Error, ParseError};

/// One finding of [`check_sources`] / [`check_dir`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// The reference locale has the message (or attribute, `id.attr`; terms are `-id`), this
    /// locale does not.
    Missing {
        /// The locale lacking it.
        locale: String,
        /// The message id.
        id: String,
    },
    /// This locale has a message the reference does not (a leftover or a typo).
    Extra {
        /// The locale having it.
        locale: String,
        /// The message id.
        id: String,
    },
    /// The message uses other variables than the reference's.
    Variables {
        /// The locale.
        locale: String,
        /// The message id.
        id: String,
        /// The reference's variables.
        expected: Vec<String>,
        /// This locale's variables.
        found: Vec<String>,
    },
    /// A syntax error.
    Syntax(ParseError),
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { locale, id } => write!(f, "{locale}: missing {id}"),
            Self::Extra { locale, id } => {
                write!(f, "{locale}: {id} is not in the reference locale")
            }
            Self::Variables {
                locale,
                id,
                expected,
                found,
            } => write!(
                f,
                "{locale}: {id} uses variables [{}], the reference [{}]",
                found.join(", "),
                expected.join(", ")
            ),
            Self::Syntax(e) => write!(f, "syntax error: {e}"),
        }
    }
}

/// Compares every locale with the reference locale: each must have every message and
/// attribute the reference has, no others, and use the same variables in each (a variable a
/// translation drops or invents is a bug the formatter would only show at run time).
/// Run it in a test so a missing translation fails CI:
///
/// ```
/// use mortar_i18n::{Finding, check_sources};
///
/// let findings = check_sources("en", &[
///     ("en", "hello = Hello { $name }\nbye = Bye"),
///     ("de", "hello = Hallo { $nom }"),
/// ]);
/// assert!(findings.contains(&Finding::Missing { locale: "de".into(), id: "bye".into() }));
/// assert!(matches!(&findings[1], Finding::Variables { id, .. } if id == "hello"));
/// ```
pub fn check_sources(reference: &str, sources: &[(&str, &str)]) -> Vec<Finding> {
    let mut shapes: BTreeMap<&str, Shape> = BTreeMap::new();
    let mut findings = Vec::new();
    for (locale, source) in sources {
        match shape(locale, source) {
            Ok(s) => {
                shapes.entry(locale).or_default().entries.extend(s.entries);
            }
            Err(Error::Parse(errors)) => findings.extend(errors.into_iter().map(Finding::Syntax)),
            Err(_) => {}
        }
    }
    let Some(expected) = shapes.get(reference).cloned() else {
        return findings;
    };
    for (locale, shape) in &shapes {
        if *locale == reference {
            continue;
        }
        for (id, variables) in &expected.entries {
            match shape.entries.get(id) {
                None => findings.push(Finding::Missing {
                    locale: (*locale).to_owned(),
                    id: id.clone(),
                }),
                Some(found) if found != variables => findings.push(Finding::Variables {
                    locale: (*locale).to_owned(),
                    id: id.clone(),
                    expected: variables.iter().cloned().collect(),
                    found: found.iter().cloned().collect(),
                }),
                Some(_) => {}
            }
        }
        for id in shape
            .entries
            .keys()
            .filter(|id| !expected.entries.contains_key(*id))
        {
            findings.push(Finding::Extra {
                locale: (*locale).to_owned(),
                id: id.clone(),
            });
        }
    }
    findings
}

/// [`check_sources`] over a catalog directory laid out as `<dir>/<locale>/*.ftl` or
/// `<dir>/<locale>.ftl`.
///
/// # Errors
///
/// [`Error::Io`] when the directory or a file cannot be read.
pub fn check_dir(dir: impl AsRef<Path>, reference: &str) -> Result<Vec<Finding>, Error> {
    let dir = dir.as_ref();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let mut sources: Vec<(String, String)> = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let Some(locale) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        let files = if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(&path)
                .map_err(io(&path))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "ftl"))
                .collect();
            files.sort();
            files
        } else if path.extension().is_some_and(|e| e == "ftl") {
            vec![path]
        } else {
            continue;
        };
        for file in files {
            let source = std::fs::read_to_string(&file).map_err(io(&file))?;
            sources.push((locale.clone(), source));
        }
    }
    let borrowed: Vec<(&str, &str)> = sources
        .iter()
        .map(|(l, s)| (l.as_str(), s.as_str()))
        .collect();
    Ok(check_sources(reference, &borrowed))
}

/// Pseudo-localizes text: Latin letters get accents and the text grows by about a third, in
/// brackets — `Save changes` becomes `[Şȧṽḗ ƈħȧƞɠḗş ~~~~]`. Strings that come out plain are
/// untranslated (hard-coded, not from the catalog); clipped brackets show a layout that cannot
/// take longer languages. [`I18nBuilder::pseudo_locale`](crate::I18nBuilder::pseudo_locale)
/// builds a whole locale this way; placeables are left as they are.
///
/// ```
/// assert_eq!(mortar_i18n::pseudolocalize("Save"), "[Şȧṽḗ ~~]");
/// ```
pub fn pseudolocalize(text: &str) -> String {
    let core = text.trim();
    if core.is_empty() {
        return text.to_owned();
    }
    // Surrounding whitespace stays outside the brackets, where the placeables next to it are.
    let start = text.len() - text.trim_start().len();
    let end = start + core.len();
    let mut out = String::with_capacity(text.len() * 2 + 8);
    out.push_str(&text[..start]);
    out.push('[');
    let mut letters = 0usize;
    for c in core.chars() {
        let mapped = accent(c);
        if mapped != c {
            letters += 1;
        }
        out.push(mapped);
    }
    out.push(' ');
    for _ in 0..letters.div_ceil(3).max(1) {
        out.push('~');
    }
    out.push(']');
    out.push_str(&text[end..]);
    out
}

fn accent(c: char) -> char {
    const FROM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const TO: &str = "ȧƀƈḓḗƒɠħīĵķŀḿƞǿƥɋřşŧŭṽẇẋẏẑȦƁƇḒḖƑƓĦĪĴĶĿḾȠǾƤɊŘŞŦŬṼẆẊẎẐ";
    FROM.find(c).and_then(|i| TO.chars().nth(i)).unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_keeps_shape() {
        assert_eq!(pseudolocalize("Save changes"), "[Şȧṽḗ ƈħȧƞɠḗş ~~~~]");
        assert_eq!(pseudolocalize(" "), " ");
        assert_eq!(pseudolocalize("42"), "[42 ~]");
    }

    #[test]
    fn extra_and_syntax_findings() {
        let findings = check_sources(
            "en",
            &[("en", "a = A"), ("de", "a = A\nb = B"), ("fr", "a = {")],
        );
        assert!(findings.contains(&Finding::Extra {
            locale: "de".into(),
            id: "b".into()
        }));
        assert!(findings.iter().any(|f| matches!(f, Finding::Syntax(_))));
    }
}
