//! CLDR plural rules, evaluated from CLDR's own rule syntax (UTS #35, Part 3, §5).
//!
//! ICU4X's compiled data carries the rules only for locales with enough CLDR coverage (some 70
//! locales of CLDR's 220 fall back to "other" for everything), and follows the newest CLDR
//! release; `intl_pluralrules` (fluent-bundle's) is several releases old. To classify every
//! locale CLDR has rules for, exactly as the CLDR release in `data/` says, the rules are read from
//! CLDR's JSON (`plurals.json`, `ordinals.json`) and evaluated here. The grammar is small:
//! `condition = and ('or' and)*`, `and = relation ('and' relation)*`,
//! `relation = operand ('%' value)? ('=' | '!=') ranges`.

use std::collections::HashMap;
use std::sync::OnceLock;

use fixed_decimal::Decimal;

/// A CLDR plural category: which form of a word a number takes in a language.
///
/// ```
/// use mortar_i18n::PluralCategory;
///
/// assert_eq!(PluralCategory::from_cldr("few"), Some(PluralCategory::Few));
/// assert_eq!(PluralCategory::Few.as_str(), "few");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PluralCategory {
    /// `zero` (Arabic 0, Latvian 10…).
    Zero,
    /// `one`.
    One,
    /// `two`.
    Two,
    /// `few`.
    Few,
    /// `many`.
    Many,
    /// `other`: every language has it.
    Other,
}

impl PluralCategory {
    /// The category named as in CLDR and in Fluent variant keys.
    pub fn from_cldr(name: &str) -> Option<Self> {
        Some(match name {
            "zero" => Self::Zero,
            "one" => Self::One,
            "two" => Self::Two,
            "few" => Self::Few,
            "many" => Self::Many,
            "other" => Self::Other,
            _ => return None,
        })
    }

    /// The CLDR name: `zero`, `one`, `two`, `few`, `many` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zero => "zero",
            Self::One => "one",
            Self::Two => "two",
            Self::Few => "few",
            Self::Many => "many",
            Self::Other => "other",
        }
    }
}

static CARDINAL_JSON: &str = include_str!("../data/cldr/plurals.json");
static ORDINAL_JSON: &str = include_str!("../data/cldr/ordinals.json");

/// CLDR plural operands (UTS #35 §5.1): the absolute value's integer digits `i`, visible
/// fraction digits `v` and their value `f`, the same without trailing zeros `w` and `t`, and
/// the compact exponent `c` (`e` is its synonym).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Operands {
    i: u64,
    v: u32,
    w: u32,
    f: u64,
    t: u64,
    c: u32,
}

impl Operands {
    /// A whole number without visible fraction digits.
    pub(crate) fn integer(i: u64) -> Self {
        Self {
            i,
            ..Self::default()
        }
    }

    /// The operands of a number as it is formatted (its fraction options applied).
    pub(crate) fn of(number: &crate::Number) -> Self {
        match number.small_integer() {
            Some(i) => Self::integer(u64::from(i)),
            None => Self::from_decimal(&number.to_decimal()),
        }
    }

    /// From a decimal as written: `1.50` has v = 2, f = 50, w = 1, t = 5.
    pub(crate) fn from_decimal(decimal: &Decimal) -> Self {
        // Written into a stack buffer: no allocation for any realistic number.
        let mut buf = StackString::default();
        let _ = writeable::Writeable::write_to(decimal, &mut buf);
        buf.as_str().map_or_else(
            || {
                let mut s = String::new();
                let _ = writeable::Writeable::write_to(decimal, &mut s);
                Self::parse(&s).unwrap_or_default()
            },
            |s| Self::parse(s).unwrap_or_default(),
        )
    }

    /// Parses `-1.50`, `1c6`, `1.2c3` (CLDR's sample notation). `None` if malformed.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.strip_prefix('-').unwrap_or(text);
        let (mantissa, c) = match text.split_once(['c', 'e']) {
            // CLDR's compact exponents are small; a large one is not a number we classify.
            Some((m, e)) => (m, e.parse::<u32>().ok().filter(|c| *c <= 30)?),
            None => (text, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        if c > 0 {
            // Compact notation: the exponent shifts fraction digits into the integer.
            let shift = usize::try_from(c).ok()?;
            let mut digits = String::from(int);
            let moved = frac.len().min(shift);
            digits.push_str(&frac[..moved]);
            for _ in moved..shift {
                digits.push('0');
            }
            let rest = &frac[moved..];
            let mut ops = Self::parse(&if rest.is_empty() {
                digits
            } else {
                format!("{digits}.{rest}")
            })?;
            ops.c = c;
            return Some(ops);
        }
        let trimmed = frac.trim_end_matches('0');
        Some(Self {
            i: digits(int),
            v: u32::try_from(frac.len()).ok()?,
            w: u32::try_from(trimmed.len()).ok()?,
            f: digits(frac),
            t: digits(trimmed),
            c: 0,
        })
    }
}

/// A 32-byte stack buffer for writing a decimal; `as_str` is `None` if it overflowed.
#[derive(Default)]
struct StackString {
    buf: [u8; 32],
    len: usize,
    overflow: bool,
}

impl StackString {
    fn as_str(&self) -> Option<&str> {
        if self.overflow {
            return None;
        }
        std::str::from_utf8(&self.buf[..self.len]).ok()
    }
}

impl std::fmt::Write for StackString {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            self.overflow = true;
            return Ok(());
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The value of a digit string, for plural rules: exact up to 18 digits; beyond, the last 18
/// digits plus 10^18, which keeps every remainder a rule can take (`% 10` … `% 1000000`) and
/// keeps the value out of every range a rule lists (all far below 10^18).
fn digits(s: &str) -> u64 {
    const LIMIT: usize = 18;
    if s.is_empty() {
        return 0;
    }
    if s.len() <= LIMIT {
        return s.parse().unwrap_or(0);
    }
    s[s.len() - LIMIT..].parse::<u64>().unwrap_or(0) + 1_000_000_000_000_000_000
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operand {
    N,
    I,
    V,
    W,
    F,
    T,
    C,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Relation {
    operand: Operand,
    modulo: Option<u64>,
    negated: bool,
    ranges: Vec<(u64, u64)>,
}

impl Relation {
    fn matches(&self, ops: &Operands) -> bool {
        let value = match self.operand {
            // `n` is the absolute value; with visible non-zero fraction digits it is not an
            // integer and so equals no integer in any range (UTS #35 §5.1.1).
            Operand::N if ops.t != 0 => None,
            Operand::N | Operand::I => Some(ops.i),
            Operand::V => Some(u64::from(ops.v)),
            Operand::W => Some(u64::from(ops.w)),
            Operand::F => Some(ops.f),
            Operand::T => Some(ops.t),
            Operand::C => Some(u64::from(ops.c)),
        };
        let value = value.map(|v| match self.modulo {
            Some(m) if m > 0 => v % m,
            _ => v,
        });
        let within =
            value.is_some_and(|v| self.ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&v)));
        within != self.negated
    }
}

/// `or` of `and`s of relations.
type Condition = Vec<Vec<Relation>>;

/// One locale's rules: categories in CLDR order, `other` last and implicit.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rules {
    rules: Vec<(PluralCategory, Condition)>,
}

impl Rules {
    /// The category of a number.
    pub(crate) fn category(&self, ops: &Operands) -> PluralCategory {
        self.rules
            .iter()
            .find(|(_, condition)| {
                condition
                    .iter()
                    .any(|and| and.iter().all(|r| r.matches(ops)))
            })
            .map_or(PluralCategory::Other, |(category, _)| *category)
    }

    /// The rules of the locale whose CLDR tag is `tag` (`pt-PT`, `en`), else of its language,
    /// else none (everything `other`, CLDR's root).
    pub(crate) fn for_locale(tag: &str, ordinal: bool) -> Self {
        let table = if ordinal { ordinals() } else { cardinals() };
        // The tag, then its CLDR parents (pt-AO → pt-PT), then its language.
        let language = tag.split('-').next().unwrap_or(tag);
        table
            .get(tag)
            .or_else(|| {
                crate::cldr::parent_chain(tag)
                    .iter()
                    .find_map(|parent| table.get(parent.as_str()))
            })
            .or_else(|| table.get(language))
            .cloned()
            .unwrap_or_default()
    }

    fn parse(rules: &serde_json::Map<String, serde_json::Value>) -> Option<Self> {
        let mut out = Vec::new();
        for (key, value) in rules {
            let category = PluralCategory::from_cldr(key.strip_prefix("pluralRule-count-")?)?;
            if category == PluralCategory::Other {
                continue;
            }
            let rule = value.as_str()?;
            let condition = rule.split('@').next().unwrap_or("").trim();
            out.push((category, parse_condition(condition)?));
        }
        // Categories are tested in CLDR's order; the conditions are disjoint, but keep it fixed.
        out.sort_by_key(|(c, _)| *c);
        Some(Self { rules: out })
    }
}

fn parse_condition(text: &str) -> Option<Condition> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(" or ")
        .map(|and| and.split(" and ").map(parse_relation).collect())
        .collect()
}

fn parse_relation(text: &str) -> Option<Relation> {
    let (left, negated, right) = if let Some((l, r)) = text.split_once("!=") {
        (l, true, r)
    } else {
        let (l, r) = text.split_once('=')?;
        (l, false, r)
    };
    let (operand, modulo) = match left.split_once('%') {
        Some((o, m)) => (o.trim(), Some(m.trim().parse().ok()?)),
        None => (left.trim(), None),
    };
    let operand = match operand {
        "n" => Operand::N,
        "i" => Operand::I,
        "v" => Operand::V,
        "w" => Operand::W,
        "f" => Operand::F,
        "t" => Operand::T,
        "c" | "e" => Operand::C,
        _ => return None,
    };
    let ranges = right
        .split(',')
        .map(|item| {
            let item = item.trim();
            if let Some((lo, hi)) = item.split_once("..") {
                Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?))
            } else {
                let v = item.parse().ok()?;
                Some((v, v))
            }
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Relation {
        operand,
        modulo,
        negated,
        ranges,
    })
}

fn load(json: &str, key: &str) -> HashMap<String, Rules> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else {
        return HashMap::new();
    };
    doc["supplemental"][key]
        .as_object()
        .map(|locales| {
            locales
                .iter()
                .filter_map(|(tag, rules)| Some((tag.clone(), Rules::parse(rules.as_object()?)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn cardinals() -> &'static HashMap<String, Rules> {
    static TABLE: OnceLock<HashMap<String, Rules>> = OnceLock::new();
    TABLE.get_or_init(|| load(CARDINAL_JSON, "plurals-type-cardinal"))
}

fn ordinals() -> &'static HashMap<String, Rules> {
    static TABLE: OnceLock<HashMap<String, Rules>> = OnceLock::new();
    TABLE.get_or_init(|| load(ORDINAL_JSON, "plurals-type-ordinal"))
}

/// The CLDR locales with plural rules (cardinal), for the completeness tests.
pub(crate) fn cldr_locales(ordinal: bool) -> impl Iterator<Item = &'static str> {
    let table = if ordinal { ordinals() } else { cardinals() };
    table.keys().map(String::as_str)
}

/// Every rule in the embedded data parsed (a locale whose rule failed to parse would silently
/// say "other").
#[cfg(test)]
fn all_rules_parse() -> bool {
    for (json, key) in [
        (CARDINAL_JSON, "plurals-type-cardinal"),
        (ORDINAL_JSON, "plurals-type-ordinal"),
    ] {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else {
            return false;
        };
        let Some(locales) = doc["supplemental"][key].as_object() else {
            return false;
        };
        if locales
            .values()
            .any(|r| r.as_object().and_then(Rules::parse).is_none())
        {
            return false;
        }
    }
    true
}

/// A locale's CLDR plural rules, cardinal (`1 file`, `2 files`) or ordinal (`1st`, `2nd`), for
/// every locale CLDR has rules for (the release in this crate's `data/cldr`).
///
/// ```
/// use mortar_i18n::{PluralCategory, PluralRules};
///
/// let ru = PluralRules::cardinal("ru");
/// assert_eq!(ru.category(21), PluralCategory::One);
/// assert_eq!(ru.category(22), PluralCategory::Few);
/// assert_eq!(ru.category(25), PluralCategory::Many);
/// // Visible fraction digits count: "1.0" is not "one" in English.
/// assert_eq!(PluralRules::cardinal("en").category_of("1.0"), Some(PluralCategory::Other));
/// assert_eq!(PluralRules::ordinal("en").category(23), PluralCategory::Few); // 23rd
/// ```
#[derive(Clone, Debug)]
pub struct PluralRules {
    rules: Rules,
}

impl PluralRules {
    /// Cardinal rules of a locale (its own, else its language's, else CLDR root: all `other`).
    pub fn cardinal(tag: &str) -> Self {
        Self {
            rules: Rules::for_locale(tag, false),
        }
    }

    /// Ordinal rules of a locale.
    pub fn ordinal(tag: &str) -> Self {
        Self {
            rules: Rules::for_locale(tag, true),
        }
    }

    /// The category of a number (its fraction digits as [`Number`](crate::Number) formats them).
    pub fn category(&self, number: impl Into<crate::Number>) -> PluralCategory {
        self.rules.category(&Operands::of(&number.into()))
    }

    /// The category of a number written as a decimal string, trailing zeros significant
    /// (`1.50`), optionally in CLDR's compact form (`1.2c6`); `None` if it is not a number.
    pub fn category_of(&self, digits: &str) -> Option<PluralCategory> {
        Operands::parse(digits).map(|ops| self.rules.category(&ops))
    }

    /// The categories the locale uses, `other` last.
    pub fn categories(&self) -> Vec<PluralCategory> {
        let mut all: Vec<_> = self.rules.rules.iter().map(|(c, _)| *c).collect();
        all.push(PluralCategory::Other);
        all
    }

    /// The CLDR locales that have rules of this kind.
    pub fn locales(ordinal: bool) -> Vec<&'static str> {
        let mut all: Vec<_> = cldr_locales(ordinal).collect();
        all.sort_unstable();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_numbers_keep_their_category() {
        let fr = PluralRules::cardinal("fr");
        assert_eq!(
            fr.category_of("100000000000000000000"),
            Some(PluralCategory::Many)
        );
        assert_eq!(fr.category_of("1c4294967295"), None);
        let ops = Operands::parse("0.00000000000000000001").unwrap();
        assert_ne!(ops.f, 0);
        assert_eq!(
            PluralRules::cardinal("en").category_of("0.00000000000000000001"),
            Some(PluralCategory::Other)
        );
    }

    #[test]
    fn regional_variants_use_their_parents_rules() {
        // pt-AO inherits from pt-PT, where 0 is "other" (in Brazilian pt it is "one").
        assert_eq!(
            PluralRules::cardinal("pt-AO").category(0),
            PluralCategory::Other
        );
        assert_eq!(PluralRules::cardinal("pt").category(0), PluralCategory::One);
    }

    #[test]
    fn operands() {
        let o = Operands::parse("1.50").unwrap();
        assert_eq!((o.i, o.v, o.w, o.f, o.t), (1, 2, 1, 50, 5));
        let o = Operands::parse("1.2c3").unwrap();
        assert_eq!((o.i, o.v, o.c), (1200, 0, 3));
        assert_eq!(Operands::parse("x"), None);
    }

    #[test]
    fn data_parses() {
        assert!(all_rules_parse());
        assert!(cldr_locales(false).count() > 200);
        assert_eq!(
            PluralRules::cardinal("ar").categories().len(),
            6,
            "zero one two few many other"
        );
    }
}
