//! The values a message's variables take: strings, numbers and date-times, and [`Args`].

use std::borrow::Cow;
use std::fmt;

use fixed_decimal::{Decimal, FloatPrecision, SignedRoundingMode, UnsignedRoundingMode};
use time::OffsetDateTime;

/// A number with the formatting options Fluent's `NUMBER()` takes.
///
/// The fraction digits matter beyond display: `1` and `1.0` are different plural operands
/// (CLDR's `v`), so English says "1 item" but "1.0 items".
///
/// ```
/// use mortar_i18n::Number;
///
/// let price = Number::from(3.5).with_min_fraction_digits(2);
/// assert_eq!(price.value(), 3.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Number {
    value: f64,
    min_fraction: Option<u8>,
    max_fraction: Option<u8>,
    grouping: bool,
    ordinal: bool,
}

impl Number {
    /// The numeric value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// At least `digits` digits after the decimal separator (`minimumFractionDigits`); at most 20.
    #[must_use]
    pub fn with_min_fraction_digits(mut self, digits: u8) -> Self {
        self.min_fraction = Some(digits.min(20));
        self
    }

    /// At most `digits` digits after the decimal separator, rounding half away from zero as
    /// `Intl.NumberFormat` does (`maximumFractionDigits`); at most 20.
    #[must_use]
    pub fn with_max_fraction_digits(mut self, digits: u8) -> Self {
        self.max_fraction = Some(digits.min(20));
        self
    }

    /// Whether to write grouping separators (`useGrouping`, on by default): `1,234` or `1234`.
    #[must_use]
    pub fn with_grouping(mut self, grouping: bool) -> Self {
        self.grouping = grouping;
        self
    }

    /// Selects variants by the ordinal rules (`1st`, `2nd`…) instead of the cardinal ones
    /// (`type: "ordinal"`).
    #[must_use]
    pub fn ordinal(mut self) -> Self {
        self.ordinal = true;
        self
    }

    pub(crate) fn is_ordinal(&self) -> bool {
        self.ordinal
    }

    pub(crate) fn grouping(&self) -> bool {
        self.grouping
    }

    /// The value as a small whole number (0–999, no fraction digits shown), when it is one:
    /// the common case, formatted and classified without building a decimal.
    pub(crate) fn small_integer(&self) -> Option<u16> {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::float_cmp,
            reason = "checked to be a whole number in 0..1000 first"
        )]
        let small = (self.min_fraction.unwrap_or(0) == 0
            && self.value.fract() == 0.0
            && (0.0..1000.0).contains(&self.value))
        .then_some(self.value as u16);
        small
    }

    /// The decimal as formatted: the options applied, so plural rules see what is shown.
    pub(crate) fn to_decimal(self) -> Decimal {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::float_cmp,
            reason = "an exact integer within i64 takes the exact, allocation-free path"
        )]
        let mut decimal = if self.value.fract() == 0.0 && self.value.abs() < 9.0e15 {
            Decimal::from(self.value as i64)
        } else {
            // Shortest round-trip digits: 0.1 is "0.1", not 0.1000000000000000055…
            Decimal::try_from_f64(self.value, FloatPrecision::RoundTrip)
                .unwrap_or_else(|_| Decimal::from(0))
        };
        if let Some(max) = self.max_fraction {
            // Intl.NumberFormat (and so Fluent's NUMBER) rounds half away from zero.
            decimal.round_with_mode(
                -i16::from(max),
                SignedRoundingMode::Unsigned(UnsignedRoundingMode::HalfExpand),
            );
            decimal.trim_end();
        }
        if let Some(min) = self.min_fraction {
            decimal.pad_end(-i16::from(min));
        }
        decimal
    }

    fn new(value: f64) -> Self {
        Self {
            value,
            min_fraction: None,
            max_fraction: None,
            grouping: true,
            ordinal: false,
        }
    }

    /// Parses a Fluent number literal (`-3`, `1.50`); its written fraction digits are kept.
    pub(crate) fn parse_literal(text: &str) -> Option<Self> {
        let value: f64 = text.parse().ok()?;
        let digits = text.split_once('.').map_or(0, |(_, f)| f.len());
        let mut number = Self::new(value);
        if digits > 0 {
            number.min_fraction = Some(u8::try_from(digits.min(20)).unwrap_or(20));
        }
        Some(number)
    }
}

macro_rules! number_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            #[allow(clippy::cast_precision_loss, clippy::cast_lossless, reason = "display values")]
            #[inline]
            fn from(value: $t) -> Self {
                Self::new(value as f64)
            }
        }
        impl From<$t> for Value<'_> {
            #[inline]
            fn from(value: $t) -> Self {
                Value::Number(Number::from(value))
            }
        }
    )*};
}
number_from!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64);

/// The value of a message variable.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// Text, shown as is (and matched against variant keys in a select expression).
    String(Cow<'a, str>),
    /// A number, formatted for the locale and selecting plural variants.
    Number(Number),
    /// A point in time, formatted for the locale by `DATETIME()` (in UTC).
    DateTime(OffsetDateTime),
}

impl<'a> From<&'a str> for Value<'a> {
    #[inline]
    fn from(value: &'a str) -> Self {
        Value::String(Cow::Borrowed(value))
    }
}

impl From<String> for Value<'_> {
    fn from(value: String) -> Self {
        Value::String(Cow::Owned(value))
    }
}

impl<'a> From<Cow<'a, str>> for Value<'a> {
    fn from(value: Cow<'a, str>) -> Self {
        Value::String(value)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(value: &'a String) -> Self {
        Value::String(Cow::Borrowed(value))
    }
}

impl From<Number> for Value<'_> {
    fn from(value: Number) -> Self {
        Value::Number(value)
    }
}

impl From<OffsetDateTime> for Value<'_> {
    fn from(value: OffsetDateTime) -> Self {
        Value::DateTime(value)
    }
}

/// The named arguments of one message: a small list, looked up by name.
///
/// Messages take a handful of variables, so a linear scan over an inline array beats a hash map
/// and costs no allocation up to four arguments.
///
/// ```
/// use mortar_i18n::Args;
///
/// let args = Args::new().with("name", "Ada").with("count", 3);
/// assert_eq!(args.len(), 2);
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Args<'a> {
    entries: smallvec::SmallVec<[(Cow<'a, str>, Value<'a>); 4]>,
}

impl<'a> Args<'a> {
    /// No arguments.
    #[inline]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) an argument.
    #[must_use]
    #[inline]
    pub fn with(mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) -> Self {
        self.set(name, value);
        self
    }

    /// Sets an argument, replacing one of the same name.
    #[inline]
    pub fn set(&mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) {
        let name = name.into();
        let value = value.into();
        if let Some(slot) = self.entries.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else {
            self.entries.push((name, value));
        }
    }

    /// The argument called `name`.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        self.entries
            .iter()
            .find_map(|(n, v)| (n == name).then_some(v))
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The arguments in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.entries.iter().map(|(n, v)| (n.as_ref(), v))
    }
}

/// Names only: argument values may be personal data, and they never reach a log line.
impl fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(n, _)| n))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_options_shape_the_decimal() {
        assert_eq!(Number::from(1).to_decimal().to_string(), "1");
        assert_eq!(
            Number::from(1)
                .with_min_fraction_digits(2)
                .to_decimal()
                .to_string(),
            "1.00"
        );
        assert_eq!(
            Number::from(2.345)
                .with_max_fraction_digits(2)
                .to_decimal()
                .to_string(),
            "2.35"
        );
        assert_eq!(Number::from(0.1).to_decimal().to_string(), "0.1");
        assert_eq!(
            Number::parse_literal("1.50")
                .unwrap()
                .to_decimal()
                .to_string(),
            "1.50"
        );
    }

    #[test]
    fn args_replace_and_hide_values() {
        let args = Args::new().with("a", 1).with("a", "x");
        assert_eq!(args.get("a"), Some(&Value::from("x")));
        assert_eq!(format!("{args:?}"), "[\"a\"]");
    }
}
