//! One locale's catalog with its CLDR data, and the resolver that formats its patterns.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::OnceLock;

use icu_datetime::FixedCalendarDateTimeFormatter;
use icu_datetime::fieldsets::{YMD, YMDT};
use icu_datetime::options::TimePrecision;
use icu_decimal::DecimalFormatter;
use icu_decimal::options::{DecimalFormatterOptions, GroupingStrategy};
use icu_locale_core::LanguageIdentifier;
use time::OffsetDateTime;
use writeable::Writeable as _;

use crate::catalog::{Catalog, Expr, Part, Pattern, VariantKey};
use crate::plural::{Operands, PluralCategory, Rules};
use crate::value::{Args, Number, Value};

/// Fluent's guard against exponential expansion ("billion laughs"): at most this many
/// placeables are resolved for one message.
const MAX_PLACEABLES: u16 = 100;
/// Message and term references nest at most this deep (a cycle ends here, as an error).
const MAX_DEPTH: u8 = 16;

const FSI: char = '\u{2068}';
const PDI: char = '\u{2069}';

type Calendar = icu_calendar::Gregorian;

/// The date styles `DATETIME()` knows; `full` is written as `long`.
#[derive(Clone, Copy)]
enum DateStyle {
    Short = 0,
    Medium = 1,
    Long = 2,
}

/// A locale's messages, plural rules, number and date formatters.
pub(crate) struct Bundle {
    pub(crate) tag: Box<str>,
    /// The tag as a `Content-Language` value, built once (the layers send it on every answer).
    pub(crate) content_language: Option<http::HeaderValue>,
    pub(crate) langid: LanguageIdentifier,
    pub(crate) catalog: Catalog,
    cardinal: Rules,
    ordinal: Rules,
    decimal: Option<DecimalFormatter>,
    decimal_ungrouped: Option<DecimalFormatter>,
    /// The locale's digits 0–9 as its formatter writes them (Latin, Arabic-Indic…).
    digits: Option<[String; 10]>,
    dates: [OnceLock<Option<FixedCalendarDateTimeFormatter<Calendar, YMD>>>; 3],
    date_times: [OnceLock<Option<FixedCalendarDateTimeFormatter<Calendar, YMDT>>>; 3],
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("tag", &self.tag)
            .field("messages", &self.catalog.messages.len())
            .finish_non_exhaustive()
    }
}

impl Bundle {
    pub(crate) fn new(langid: LanguageIdentifier, catalog: Catalog) -> Self {
        let tag = langid.to_string();
        let cardinal = Rules::for_locale(&tag, false);
        let ordinal = Rules::for_locale(&tag, true);
        // Compiled data has every locale (others resolve to their parent, at worst root), so
        // these succeed; if one did not, numbers are written plainly rather than panicking.
        let decimal =
            DecimalFormatter::try_new((&langid).into(), DecimalFormatterOptions::default()).ok();
        let ungrouped = DecimalFormatterOptions::from(GroupingStrategy::Never);
        let decimal_ungrouped = DecimalFormatter::try_new((&langid).into(), ungrouped).ok();
        let digits = decimal.as_ref().map(|f| {
            std::array::from_fn(|d| {
                let mut s = String::new();
                #[allow(clippy::cast_possible_wrap, reason = "d is 0..10")]
                let _ = f
                    .format(&fixed_decimal::Decimal::from(d as i64))
                    .write_to(&mut s);
                s
            })
        });
        Self {
            digits,
            content_language: http::HeaderValue::from_str(&tag).ok(),
            tag: tag.into_boxed_str(),
            langid,
            catalog,
            cardinal,
            ordinal,
            decimal,
            decimal_ungrouped,
            dates: Default::default(),
            date_times: Default::default(),
        }
    }

    /// The CLDR plural category of `number` (cardinal, or ordinal if the number says so).
    pub(crate) fn plural_category(&self, number: &Number) -> PluralCategory {
        let operands = Operands::of(number);
        let rules = if number.is_ordinal() {
            &self.ordinal
        } else {
            &self.cardinal
        };
        rules.category(&operands)
    }

    pub(crate) fn write_number(&self, number: &Number, out: &mut String) {
        // 0–999 need no grouping: written from the locale's own digits, looked up once.
        if let (Some(n), Some(digits)) = (number.small_integer(), &self.digits) {
            let n = usize::from(n);
            if n >= 100 {
                out.push_str(&digits[n / 100]);
            }
            if n >= 10 {
                out.push_str(&digits[n / 10 % 10]);
            }
            out.push_str(&digits[n % 10]);
            return;
        }
        let decimal = number.to_decimal();
        let formatter = if number.grouping() {
            &self.decimal
        } else {
            &self.decimal_ungrouped
        };
        let _ = match formatter {
            Some(formatter) => formatter.format(&decimal).write_to(out),
            None => decimal.write_to(out),
        };
    }

    fn write_datetime(
        &self,
        at: OffsetDateTime,
        style: DateStyle,
        with_time: bool,
        out: &mut String,
    ) {
        // Near the ends of `time`'s range the UTC date may not exist: ISO date, never a panic.
        let Some(at) = at.checked_to_offset(time::UtcOffset::UTC) else {
            let _ = write!(out, "{}", at.date());
            return;
        };
        let (Ok(date), Ok(time)) = (
            icu_calendar::Date::try_new_gregorian(at.year(), u8::from(at.month()), at.day()),
            icu_time::Time::try_new(at.hour(), at.minute(), at.second(), 0),
        ) else {
            let _ = write!(out, "{}", at.date());
            return;
        };
        let input = icu_time::DateTime { date, time };
        let prefs = (&self.langid).into();
        let ok = if with_time {
            let slot = &self.date_times[style as usize];
            let formatter = slot.get_or_init(|| {
                let set = match style {
                    DateStyle::Short => YMDT::short(),
                    DateStyle::Medium => YMDT::medium(),
                    DateStyle::Long => YMDT::long(),
                }
                .with_time_precision(TimePrecision::Minute);
                FixedCalendarDateTimeFormatter::try_new(prefs, set).ok()
            });
            formatter
                .as_ref()
                .is_some_and(|f| f.format(&input).write_to(out).is_ok())
        } else {
            let slot = &self.dates[style as usize];
            let formatter = slot.get_or_init(|| {
                let set = match style {
                    DateStyle::Short => YMD::short(),
                    DateStyle::Medium => YMD::medium(),
                    DateStyle::Long => YMD::long(),
                };
                FixedCalendarDateTimeFormatter::try_new(prefs, set).ok()
            });
            formatter
                .as_ref()
                .is_some_and(|f| f.format(&input.date).write_to(out).is_ok())
        };
        if !ok {
            // No data for this locale (cannot happen with compiled data): ISO 8601, never a panic.
            let _ = write!(out, "{}", at.date());
        }
    }

    /// Formats `pattern` with `args`; problems found on the way are added to `errors`.
    pub(crate) fn format<'p>(
        &'p self,
        pattern: &'p Pattern,
        args: Option<&Args<'_>>,
        isolating: bool,
        errors: &mut Vec<ResolveError>,
    ) -> Cow<'p, str> {
        match pattern {
            Pattern::Text(text) => Cow::Borrowed(text),
            Pattern::Parts(_) => {
                let mut scope = Scope {
                    bundle: self,
                    isolating,
                    placeables: 0,
                    depth: 0,
                    errors,
                };
                let mut out = String::with_capacity(64);
                scope.write_pattern(pattern, args, &mut out);
                Cow::Owned(out)
            }
        }
    }
}

/// What went wrong while formatting; the message is still produced, with Fluent's fallback text
/// (`{$name}`, `{id}`) where a part could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ResolveError {
    UnknownVariable(String),
    UnknownMessage(String),
    UnknownTerm(String),
    UnknownFunction(String),
    NoValue(String),
    TooDeep,
    TooManyPlaceables,
    BadArgument(String),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownVariable(name) => write!(f, "unknown variable ${name}"),
            Self::UnknownMessage(id) => write!(f, "unknown message {id}"),
            Self::UnknownTerm(id) => write!(f, "unknown term -{id}"),
            Self::UnknownFunction(name) => write!(f, "unknown function {name}()"),
            Self::NoValue(id) => write!(f, "{id} has no value"),
            Self::TooDeep => f.write_str("references nest too deep (a cycle?)"),
            Self::TooManyPlaceables => f.write_str("too many placeables"),
            Self::BadArgument(function) => write!(f, "bad argument to {function}()"),
        }
    }
}

/// A resolved expression, before it is written.
enum Resolved<'x> {
    Str(Cow<'x, str>),
    Number(Number),
    DateTime(OffsetDateTime, DateStyle, bool),
    /// Could not be resolved: the fallback text is written instead.
    Fallback(Cow<'x, str>),
}

struct Scope<'b, 'e> {
    bundle: &'b Bundle,
    isolating: bool,
    placeables: u16,
    depth: u8,
    errors: &'e mut Vec<ResolveError>,
}

impl<'b> Scope<'b, '_> {
    fn write_pattern(&mut self, pattern: &Pattern, args: Option<&Args<'_>>, out: &mut String) {
        match pattern {
            Pattern::Text(text) => out.push_str(text),
            Pattern::Parts(parts) => {
                for part in parts {
                    match part {
                        Part::Text(text) => out.push_str(text),
                        Part::Expr { expr, isolate } => {
                            self.placeables += 1;
                            if self.placeables > MAX_PLACEABLES {
                                if self.placeables == MAX_PLACEABLES + 1 {
                                    self.errors.push(ResolveError::TooManyPlaceables);
                                }
                                return;
                            }
                            let isolate = *isolate && self.isolating;
                            if isolate {
                                out.push(FSI);
                            }
                            self.write_expr(expr, args, out);
                            if isolate {
                                out.push(PDI);
                            }
                        }
                    }
                }
            }
        }
    }

    fn write_expr(&mut self, expr: &Expr, args: Option<&Args<'_>>, out: &mut String) {
        match expr {
            // Select and references write straight into `out`: no intermediate strings.
            Expr::Select {
                selector,
                variants,
                default,
            } => {
                let selector = self.resolve(selector, args);
                let chosen = self.select(&selector, variants, *default);
                if let Some(variant) = variants.get(chosen) {
                    self.write_pattern(&variant.value, args, out);
                }
            }
            Expr::Message { id, attribute } => {
                self.write_message(id, attribute.as_deref(), args, out);
            }
            Expr::Term {
                id,
                attribute,
                args: term_args,
            } => self.write_term(id, attribute.as_deref(), term_args, args, out),
            Expr::Str(s) => out.push_str(s),
            Expr::Var(_) | Expr::Num(_) | Expr::Function { .. } => {
                let resolved = self.resolve(expr, args);
                self.write_resolved(resolved, out);
            }
        }
    }

    fn write_resolved(&self, resolved: Resolved<'_>, out: &mut String) {
        match resolved {
            Resolved::Str(s) | Resolved::Fallback(s) => out.push_str(&s),
            Resolved::Number(n) => self.bundle.write_number(&n, out),
            Resolved::DateTime(at, style, with_time) => {
                self.bundle.write_datetime(at, style, with_time, out);
            }
        }
    }

    fn enter(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            if !self.errors.contains(&ResolveError::TooDeep) {
                self.errors.push(ResolveError::TooDeep);
            }
            return false;
        }
        self.depth += 1;
        true
    }

    fn write_message(
        &mut self,
        id: &str,
        attribute: Option<&str>,
        args: Option<&Args<'_>>,
        out: &mut String,
    ) {
        let bundle = self.bundle;
        let pattern = bundle
            .catalog
            .messages
            .get(id)
            .and_then(|entry| entry.pattern(attribute));
        match pattern {
            Some(pattern) if self.enter() => {
                self.write_pattern(pattern, args, out);
                self.depth -= 1;
            }
            Some(_) => write_reference(out, "", id, attribute),
            None => {
                let full = match attribute {
                    Some(a) => format!("{id}.{a}"),
                    None => id.to_owned(),
                };
                self.errors
                    .push(if bundle.catalog.messages.contains_key(id) {
                        ResolveError::NoValue(full)
                    } else {
                        ResolveError::UnknownMessage(full)
                    });
                write_reference(out, "", id, attribute);
            }
        }
    }

    fn write_term(
        &mut self,
        id: &str,
        attribute: Option<&str>,
        term_args: &[(Box<str>, Expr)],
        args: Option<&Args<'_>>,
        out: &mut String,
    ) {
        let bundle = self.bundle;
        let pattern = bundle
            .catalog
            .terms
            .get(id)
            .and_then(|entry| entry.pattern(attribute));
        let Some(pattern) = pattern else {
            self.errors.push(ResolveError::UnknownTerm(id.to_owned()));
            write_reference(out, "-", id, attribute);
            return;
        };
        if !self.enter() {
            write_reference(out, "-", id, attribute);
            return;
        }
        // A term sees only the arguments it is called with, never the message's variables.
        let mut local = Args::new();
        for (name, expr) in term_args {
            match self.resolve(expr, args) {
                Resolved::Str(s) | Resolved::Fallback(s) => local.set(&**name, s.into_owned()),
                Resolved::Number(n) => local.set(&**name, n),
                Resolved::DateTime(at, ..) => local.set(&**name, at),
            }
        }
        self.write_pattern(pattern, Some(&local), out);
        self.depth -= 1;
    }

    /// Resolves an expression whose value is needed (a selector, a function argument).
    fn resolve<'x, 'a: 'x>(&mut self, expr: &'x Expr, args: Option<&'x Args<'a>>) -> Resolved<'x>
    where
        'b: 'x,
    {
        match expr {
            Expr::Str(s) => Resolved::Str(Cow::Borrowed(s)),
            Expr::Num(n) => Resolved::Number(*n),
            Expr::Var(name) => match args.and_then(|a| a.get(name)) {
                Some(Value::String(s)) => Resolved::Str(Cow::Borrowed(s)),
                Some(Value::Number(n)) => Resolved::Number(*n),
                Some(Value::DateTime(at)) => Resolved::DateTime(*at, DateStyle::Medium, false),
                None => {
                    self.errors
                        .push(ResolveError::UnknownVariable(name.to_string()));
                    Resolved::Fallback(Cow::Owned(format!("{{${name}}}")))
                }
            },
            Expr::Function {
                name,
                positional,
                named,
            } => self.call(name, positional, named, args),
            Expr::Message { .. } | Expr::Term { .. } | Expr::Select { .. } => {
                let mut out = String::new();
                self.write_expr(expr, args, &mut out);
                Resolved::Str(Cow::Owned(out))
            }
        }
    }

    fn call<'x, 'a: 'x>(
        &mut self,
        name: &'x str,
        positional: &'x [Expr],
        named: &'x [(Box<str>, Expr)],
        args: Option<&'x Args<'a>>,
    ) -> Resolved<'x>
    where
        'b: 'x,
    {
        let first = positional.first().map(|e| self.resolve(e, args));
        let option = |scope: &mut Self, key: &str| -> Option<Resolved<'x>> {
            named
                .iter()
                .find(|(n, _)| &**n == key)
                .map(|(_, e)| scope.resolve(e, args))
        };
        match name {
            "NUMBER" => {
                let mut number = match first {
                    Some(Resolved::Number(n)) => n,
                    Some(Resolved::Str(s)) => match s.parse::<f64>() {
                        Ok(v) => Number::from(v),
                        Err(_) => return self.bad_argument(name),
                    },
                    Some(fallback @ Resolved::Fallback(_)) => return fallback,
                    _ => return self.bad_argument(name),
                };
                if let Some(Resolved::Number(n)) = option(self, "minimumFractionDigits") {
                    number = number.with_min_fraction_digits(to_digits(n.value()));
                }
                if let Some(Resolved::Number(n)) = option(self, "maximumFractionDigits") {
                    number = number.with_max_fraction_digits(to_digits(n.value()));
                }
                match option(self, "useGrouping") {
                    Some(Resolved::Str(s)) if s == "false" => number = number.with_grouping(false),
                    Some(Resolved::Number(n)) if n.value() == 0.0 => {
                        number = number.with_grouping(false);
                    }
                    _ => {}
                }
                if let Some(Resolved::Str(s)) = option(self, "type")
                    && s == "ordinal"
                {
                    number = number.ordinal();
                }
                Resolved::Number(number)
            }
            "DATETIME" => {
                let at = match first {
                    Some(Resolved::DateTime(at, ..)) => at,
                    Some(Resolved::Number(n)) => {
                        #[allow(clippy::cast_possible_truncation, reason = "seconds since 1970")]
                        match OffsetDateTime::from_unix_timestamp(n.value() as i64) {
                            Ok(at) => at,
                            Err(_) => return self.bad_argument(name),
                        }
                    }
                    Some(fallback @ Resolved::Fallback(_)) => return fallback,
                    _ => return self.bad_argument(name),
                };
                let style = match option(self, "dateStyle") {
                    Some(Resolved::Str(s)) if s == "short" => DateStyle::Short,
                    Some(Resolved::Str(s)) if s == "long" || s == "full" => DateStyle::Long,
                    _ => DateStyle::Medium,
                };
                let with_time = matches!(
                    option(self, "timeStyle"),
                    Some(Resolved::Str(s)) if s != "none"
                );
                Resolved::DateTime(at, style, with_time)
            }
            _ => {
                self.errors
                    .push(ResolveError::UnknownFunction(name.to_owned()));
                Resolved::Fallback(Cow::Owned(format!("{{{name}()}}")))
            }
        }
    }

    fn bad_argument<'x>(&mut self, name: &str) -> Resolved<'x> {
        self.errors.push(ResolveError::BadArgument(name.to_owned()));
        Resolved::Fallback(Cow::Owned(format!("{{{name}()}}")))
    }

    /// Fluent's variant selection: for a number, the first variant whose numeric key equals it or
    /// whose name is its CLDR plural category; for a string, the variant of that name; otherwise
    /// the default variant.
    fn select(
        &self,
        selector: &Resolved<'_>,
        variants: &[crate::catalog::Variant],
        default: usize,
    ) -> usize {
        match selector {
            Resolved::Number(n) => {
                // The first variant in source order whose key matches, as fluent-bundle and
                // fluent.js choose: a numeric key by equality, a name by plural category.
                let category = self.bundle.plural_category(n).as_str();
                #[allow(clippy::float_cmp, reason = "Fluent matches numeric keys by equality")]
                variants
                    .iter()
                    .position(|v| match &v.key {
                        VariantKey::Number(k) => *k == n.value(),
                        VariantKey::Name(k) => &**k == category,
                    })
                    .unwrap_or(default)
            }
            Resolved::Str(s) => variants
                .iter()
                .position(|v| matches!(&v.key, VariantKey::Name(k) if **k == **s))
                .unwrap_or(default),
            Resolved::DateTime(..) | Resolved::Fallback(_) => default,
        }
    }
}

fn write_reference(out: &mut String, sigil: &str, id: &str, attribute: Option<&str>) {
    out.push('{');
    out.push_str(sigil);
    out.push_str(id);
    if let Some(attribute) = attribute {
        out.push('.');
        out.push_str(attribute);
    }
    out.push('}');
}

#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "clamped to 0..=20 first"
)]
fn to_digits(value: f64) -> u8 {
    value.clamp(0.0, 20.0) as u8
}
