//! `Accept-Language` (RFC 9110 §12.5.4) and matching a requested locale to an available one
//! (RFC 4647 §3.4 lookup, helped by CLDR likely subtags).

use icu_locale_core::LanguageIdentifier;
use smallvec::SmallVec;

/// Ranges beyond this many make the header malformed: no browser sends more, and the limit
/// bounds the work an attacker can ask for.
const MAX_RANGES: usize = 32;

/// One `language-range` with its weight in thousandths (`q=0.8` is 800).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LanguageRange<'a> {
    /// The range as written: `de-CH`, `en`, or `*`.
    pub range: &'a str,
    /// The quality value in thousandths, 0–1000.
    pub quality: u16,
}

/// Parses an `Accept-Language` value into ranges sorted by descending quality (stable, so
/// equal weights keep the client's order). Ranges with `q=0` are kept (they exclude a
/// language); the caller decides.
///
/// Returns `None` when the value is malformed anywhere — a bad range, a bad or out-of-range
/// q-value, an unknown parameter, more than 32 ranges — so the caller falls back to its default
/// rather than guessing from half a header. Empty list elements (`de, ,en`) are allowed, as
/// RFC 9110 §5.6.1 requires.
///
/// ```
/// use mortar_i18n::parse_accept_language;
///
/// let ranges = parse_accept_language("en;q=0.5, de-CH, de;q=0.9").unwrap();
/// let tags: Vec<_> = ranges.iter().map(|r| r.range).collect();
/// assert_eq!(tags, ["de-CH", "de", "en"]);
/// assert_eq!(parse_accept_language("en;q=2"), None);
/// ```
pub fn parse_accept_language(value: &str) -> Option<SmallVec<[LanguageRange<'_>; 8]>> {
    // One pass over the bytes: this runs on every request, and splitting on chars with
    // trimming closures cost several times more.
    let bytes = value.as_bytes();
    let mut ranges: SmallVec<[LanguageRange<'_>; 8]> = SmallVec::new();
    let mut i = 0;
    let skip_ows = |i: &mut usize| {
        while *i < bytes.len() && (bytes[*i] == b' ' || bytes[*i] == b'\t') {
            *i += 1;
        }
    };
    loop {
        // Empty list elements and the whitespace around them.
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b',') {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        if ranges.len() == MAX_RANGES {
            return None;
        }
        let start = i;
        while i < bytes.len()
            && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-' || bytes[i] == b'*')
        {
            i += 1;
        }
        let range = &value[start..i];
        if !is_language_range(range) {
            return None;
        }
        skip_ows(&mut i);
        let mut quality = 1000;
        if i < bytes.len() && bytes[i] == b';' {
            i += 1;
            skip_ows(&mut i);
            let start = i;
            while i < bytes.len() && !matches!(bytes[i], b',' | b' ' | b'\t') {
                i += 1;
            }
            quality = parse_weight(&value[start..i])?;
            skip_ows(&mut i);
        }
        if i < bytes.len() && bytes[i] != b',' {
            return None;
        }
        ranges.push(LanguageRange { range, quality });
    }
    // Stable: equal weights keep the order the client gave.
    ranges.sort_by_key(|r| std::cmp::Reverse(r.quality));
    Some(ranges)
}

/// `language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*"` (RFC 4647 §2.1).
fn is_language_range(range: &str) -> bool {
    if range == "*" {
        return true;
    }
    let mut first = true;
    for subtag in range.split('-') {
        let ok = (1..=8).contains(&subtag.len())
            && if first {
                subtag.bytes().all(|b| b.is_ascii_alphabetic())
            } else {
                subtag.bytes().all(|b| b.is_ascii_alphanumeric())
            };
        if !ok {
            return false;
        }
        first = false;
    }
    true
}

/// `weight = OWS ";" OWS "q=" qvalue`, `qvalue = ("0" ["." 0*3DIGIT]) / ("1" ["." 0*3("0")])`.
fn parse_weight(params: &str) -> Option<u16> {
    let value = params
        .strip_prefix("q=")
        .or_else(|| params.strip_prefix("Q="))?;
    let (int, frac) = match value.split_once('.') {
        Some((int, frac)) => (int, frac),
        None => (value, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The available locales, prepared for matching.
#[derive(Debug)]
pub(crate) struct Matcher {
    /// Lower-case tags, in the order the locales were added.
    tags: Vec<String>,
    /// Each tag maximized (`pt` → `pt-Latn-BR`), for likely-subtag matching.
    maximized: Vec<LanguageIdentifier>,
}

impl Matcher {
    pub(crate) fn new(locales: &[LanguageIdentifier]) -> Self {
        let maximized = locales.iter().map(crate::cldr::maximize).collect();
        Self {
            tags: locales
                .iter()
                .map(|l| l.to_string().to_ascii_lowercase())
                .collect(),
            maximized,
        }
    }

    /// The index of the available locale that best serves `range`, if any:
    /// 1. the same tag (case-insensitive);
    /// 2. RFC 4647 lookup: the range truncated subtag by subtag (`de-CH-1996` → `de-CH` → `de`),
    ///    taken only when likely subtags agree on the script (`zh-TW` is not served `zh`, which is
    ///    Simplified);
    /// 3. likely subtags: same language, script and region once both are maximized, then same
    ///    language and script (`pt` is served `pt-BR`, `zh-TW` is served `zh-Hant`,
    ///    `sr-Latn` is not served Cyrillic `sr`).
    pub(crate) fn lookup(&self, range: &str) -> Option<usize> {
        let lower = range.to_ascii_lowercase();
        if let Some(i) = self.tags.iter().position(|t| *t == lower) {
            return Some(i);
        }
        // Tags with extensions do not parse as language identifiers; they still truncate.
        let max = LanguageIdentifier::try_from_str(range)
            .ok()
            .map(|l| crate::cldr::maximize(&l));
        // CLDR parent locales first (es-MX → es-419, pt-AO → pt-PT): closer than truncation.
        let canonical = LanguageIdentifier::try_from_str(range)
            .map_or_else(|_| range.to_owned(), |l| l.to_string());
        if let Some(i) = crate::cldr::parent_chain(&canonical)
            .iter()
            .find_map(|p| self.tags.iter().position(|t| t.eq_ignore_ascii_case(p)))
        {
            return Some(i);
        }
        let mut truncated = lower.as_str();
        while let Some(cut) = truncated.rfind('-') {
            truncated = &truncated[..cut];
            // RFC 4647 §3.4: a range left ending in a singleton (`en-x`) loses it too.
            if truncated.len() > 2 && truncated.as_bytes()[truncated.len() - 2] == b'-' {
                truncated = &truncated[..truncated.len() - 2];
            }
            if let Some(i) = self.tags.iter().position(|t| t == truncated)
                && max
                    .as_ref()
                    .is_none_or(|m| self.maximized[i].script == m.script)
            {
                return Some(i);
            }
        }
        let max = max?;
        let same = |i: &usize, region: bool| {
            let a = &self.maximized[*i];
            // A language the likely-subtags data does not know keeps no script or region:
            // then the language alone decides.
            a.language == max.language
                && (max.script.is_none() || a.script == max.script)
                && (!region || max.region.is_none() || a.region == max.region)
        };
        (0..self.tags.len())
            .find(|i| same(i, true))
            .or_else(|| (0..self.tags.len()).find(|i| same(i, false)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(tags: &[&str]) -> Matcher {
        Matcher::new(
            &tags
                .iter()
                .map(|t| LanguageIdentifier::try_from_str(t).unwrap())
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn q_values() {
        assert_eq!(parse_weight("q=0"), Some(0));
        assert_eq!(parse_weight("q=0.5"), Some(500));
        assert_eq!(parse_weight("q=0.123"), Some(123));
        assert_eq!(parse_weight("Q=1.000"), Some(1000));
        assert_eq!(parse_weight("q=1.001"), None);
        assert_eq!(parse_weight("q=0.1234"), None);
        assert_eq!(parse_weight("q=.5"), None);
        assert_eq!(parse_weight("q=-1"), None);
        assert_eq!(parse_weight("level=1"), None);
    }

    #[test]
    fn lookup_order() {
        let m = matcher(&["en", "de", "zh-Hans", "zh-Hant", "pt-BR", "sr"]);
        assert_eq!(m.lookup("DE"), Some(1));
        assert_eq!(m.lookup("de-CH-1996"), Some(1));
        assert_eq!(m.lookup("zh-TW"), Some(3));
        assert_eq!(m.lookup("zh-CN"), Some(2));
        assert_eq!(m.lookup("zh"), Some(2));
        assert_eq!(m.lookup("pt"), Some(4));
        assert_eq!(m.lookup("pt-PT"), Some(4));
        assert_eq!(m.lookup("sr-Latn"), None);
        assert_eq!(m.lookup("fr"), None);
        assert_eq!(m.lookup("en-x-private"), Some(0));
    }
}
