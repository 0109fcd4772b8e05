//! Compiled flags and their evaluation: the hot path.
//!
//! A [`FlagSet`] is compiled once per change into [`CompiledFlag`]s: targeting rules into
//! datalogic-rs programs (flagd's operators: `sem_ver` from datalogic-rs's `flagd` feature;
//! `fractional`, `starts_with` and `ends_with` here, because flagd's semantics differ from
//! datalogic-rs's — `fractional` buckets may be any value a nested expression gives, and
//! `starts_with` / `ends_with` answer `null`, not `false`, on bad arguments), and
//! the commonest rollout shape — a top-level `fractional` over literal buckets keyed by the
//! targeting key — into a native bucket table that gives the same answers without building a
//! JSON context (the equivalence is tested over thousands of keys).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use datalogic_rs::bumpalo::Bump;
use datalogic_rs::operator::EvalContext;
use datalogic_rs::{CustomOperator, DataValue, Engine, Logic};
use serde_json::{Map, Value};

use crate::context::EvaluationContext;
use crate::definition::{FlagDefinition, FlagSet, FlagState};
use crate::resolution::{ErrorCode, Reason};

/// How `fractional` maps a bucketing key to a bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bucketing {
    /// flagd's current algorithm: `(murmur3_x86_32(key) * total_weight) >> 32`, integer weights
    /// (sub-percent precision).
    #[default]
    Flagd,
    /// flagd's earlier float algorithm (`|int32(hash)| / i32::MAX * 100` against cumulative
    /// percentages), for apps whose running experiments were bucketed by an older flagd and
    /// must keep every user in the same bucket.
    FlagdLegacy,
}

/// The operator engines, built once.
#[derive(Clone)]
pub(crate) struct Engines {
    engine: Arc<Engine>,
    bucketing: Bucketing,
}

impl fmt::Debug for Engines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engines")
            .field("bucketing", &self.bucketing)
            .finish_non_exhaustive()
    }
}

impl Engines {
    pub(crate) fn new(bucketing: Bucketing) -> Self {
        let builder = Engine::builder()
            .add_operator("starts_with", StringEdge { prefix: true })
            .add_operator("ends_with", StringEdge { prefix: false });
        // Built-in operators win over custom ones of the same name, so `fractional` is
        // registered under names of its own and rules are rewritten to them when compiled.
        let engine = builder
            .add_operator(FRACTIONAL, Fractional)
            .add_operator(LEGACY_FRACTIONAL, LegacyFractional)
            .build();
        Self {
            engine: Arc::new(engine),
            bucketing,
        }
    }

    pub(crate) fn bucketing(&self) -> Bucketing {
        self.bucketing
    }
}

/// One compiled flag.
#[derive(Debug)]
pub(crate) struct CompiledFlag {
    pub(crate) key: Arc<str>,
    pub(crate) state: FlagState,
    /// Sorted by name.
    pub(crate) variants: Vec<(Arc<str>, Value)>,
    pub(crate) default: Option<usize>,
    rule: Rule,
    pub(crate) metadata: Arc<Map<String, Value>>,
    /// Why the flag cannot be evaluated (it resolves with `PARSE_ERROR`).
    pub(crate) broken: Option<String>,
    /// Whether its targeting splits traffic (uses `fractional`): an experiment.
    pub(crate) splits: bool,
}

enum Rule {
    None,
    Fast(FastFractional),
    Logic(Logic),
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Fast(_) => f.write_str("Fast"),
            Self::Logic(_) => f.write_str("Logic"),
        }
    }
}

/// `{"fractional": [ [variant, weight]… ]}` keyed by the targeting key, natively.
struct FastFractional {
    key: BucketKey,
    /// (variant index — `None` when the name is not a variant —, cumulative end).
    buckets: Vec<(Option<usize>, u64)>,
    total: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BucketKey {
    /// No bucketing expression: `$flagd.flagKey + targetingKey`; no targeting key → null.
    Implicit,
    /// `{"var": "targetingKey"}`: the targeting key as is; none → null.
    TargetingKey,
}

/// What evaluating a flag gave.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// This variant (index), for this reason.
    Variant(usize, Reason),
    /// The caller's default, for this reason.
    CallerDefault(Reason),
    /// An error: the caller's default.
    Error(ErrorCode, String),
}

/// All compiled flags: the immutable snapshot evaluations read.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) flags: HashMap<Arc<str>, Arc<CompiledFlag>, foldhash::fast::RandomState>,
}

impl Snapshot {
    pub(crate) fn get(&self, key: &str) -> Option<&Arc<CompiledFlag>> {
        self.flags.get(key)
    }
}

/// Compiles every flag of a set. Never fails: a flag that cannot be compiled is kept broken.
pub(crate) fn compile_set(set: &FlagSet, engines: &Engines) -> Vec<Arc<CompiledFlag>> {
    let unreadable = set.broken().iter().map(|(key, why)| {
        Arc::new(CompiledFlag {
            key: Arc::from(key.as_str()),
            state: FlagState::Enabled,
            variants: Vec::new(),
            default: None,
            rule: Rule::None,
            metadata: Arc::new(set.metadata.clone()),
            broken: Some(why.clone()),
            splits: false,
        })
    });
    set.flags
        .iter()
        .map(|(key, def)| Arc::new(compile_flag(key, def, set, engines, true)))
        .chain(unreadable)
        .collect()
}

pub(crate) fn compile_flag(
    key: &str,
    def: &FlagDefinition,
    set: &FlagSet,
    engines: &Engines,
    fast: bool,
) -> CompiledFlag {
    let mut metadata = set.metadata.clone();
    for (k, v) in &def.metadata {
        metadata.insert(k.clone(), v.clone());
    }
    let variants: Vec<(Arc<str>, Value)> = def
        .variants
        .iter()
        .map(|(k, v)| (Arc::from(k.as_str()), v.clone()))
        .collect();
    let default = def
        .default_variant
        .as_deref()
        .and_then(|d| variants.iter().position(|(name, _)| &**name == d));
    let mut flag = CompiledFlag {
        key: Arc::from(key),
        state: def.state,
        variants,
        default,
        rule: Rule::None,
        metadata: Arc::new(metadata),
        broken: None,
        splits: false,
    };
    if let Err(e) = def.validate(key) {
        flag.broken = Some(e.to_string());
        return flag;
    }
    let Some(targeting) = &def.targeting else {
        return flag;
    };
    if targeting.as_object().is_some_and(Map::is_empty) {
        return flag;
    }
    let rule = match set.resolved_targeting(key, targeting) {
        Ok(rule) => rule,
        Err(e) => {
            flag.broken = Some(e.to_string());
            return flag;
        }
    };
    flag.splits = mentions(&rule, "fractional");
    if fast
        && engines.bucketing == Bucketing::Flagd
        && let Some(native) = fast_fractional(&rule, &flag.variants)
    {
        flag.rule = Rule::Fast(native);
        return flag;
    }
    let rule = match engines.bucketing {
        Bucketing::Flagd => rename_operator(rule, "fractional", FRACTIONAL),
        Bucketing::FlagdLegacy => rename_operator(rule, "fractional", LEGACY_FRACTIONAL),
    };
    match engines.engine.compile(&rule) {
        Ok(logic) => flag.rule = Rule::Logic(logic),
        Err(e) => flag.broken = Some(format!("targeting does not compile: {e}")),
    }
    flag
}

/// The custom operator names of `fractional`.
const FRACTIONAL: &str = "mortar_fractional";
const LEGACY_FRACTIONAL: &str = "mortar_fractional_legacy";

fn rename_operator(rule: Value, from: &str, to: &str) -> Value {
    match rule {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = rename_operator(v, from, to);
                    if k == from {
                        (to.to_owned(), v)
                    } else {
                        (k, v)
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| rename_operator(v, from, to))
                .collect(),
        ),
        other => other,
    }
}

fn mentions(rule: &Value, operator: &str) -> bool {
    match rule {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k == operator || mentions(v, operator)),
        Value::Array(items) => items.iter().any(|v| mentions(v, operator)),
        _ => false,
    }
}

/// The native form of `{"fractional": [key?, [name, weight]…]}` with literal buckets, when the
/// rule has that shape.
fn fast_fractional(rule: &Value, variants: &[(Arc<str>, Value)]) -> Option<FastFractional> {
    let map = rule.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let args = map.get("fractional")?.as_array()?;
    let (key, buckets) = match args.first()? {
        Value::Array(_) => (BucketKey::Implicit, &args[..]),
        Value::Object(var) if var.len() == 1 => {
            let path = match var.get("var")? {
                Value::String(s) => s.as_str(),
                Value::Array(a) if a.len() == 1 => a[0].as_str()?,
                _ => return None,
            };
            (path == "targetingKey").then_some(())?;
            (BucketKey::TargetingKey, &args[1..])
        }
        _ => return None,
    };
    if buckets.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(buckets.len());
    let mut total: u64 = 0;
    for bucket in buckets {
        let entry = bucket.as_array()?;
        let name = entry.first()?.as_str()?;
        let weight = match entry.get(1) {
            None => 1,
            Some(w) => w.as_i64()?,
        };
        if entry.len() > 2 {
            return None;
        }
        // As datalogic-rs does: negative weights count as 0.
        let weight = u64::try_from(weight.max(0)).unwrap_or(0);
        total += weight;
        // datalogic-rs multiplies in 64 bits; past 2^31 leave such rules to it.
        if total > u64::from(u32::MAX >> 1) {
            return None;
        }
        let index = variants.iter().position(|(v, _)| &**v == name);
        out.push((index, total));
    }
    Some(FastFractional {
        key,
        buckets: out,
        total,
    })
}

impl CompiledFlag {
    /// Evaluates the flag for a context.
    pub(crate) fn evaluate(&self, ctx: &EvaluationContext, engines: &Engines) -> Outcome {
        self.evaluate_untraced(ctx, engines)
    }

    /// Evaluates the flag, and says whether a `fractional` bucketed this context on the way
    /// (what makes an evaluation an experiment's split, not merely a rule that mentions one).
    pub(crate) fn evaluate_traced(
        &self,
        ctx: &EvaluationContext,
        engines: &Engines,
    ) -> (Outcome, bool) {
        if !self.splits {
            return (self.evaluate_untraced(ctx, engines), false);
        }
        BUCKETED.with(|b| b.set(false));
        let outcome = self.evaluate_untraced(ctx, engines);
        (outcome, BUCKETED.with(std::cell::Cell::get))
    }

    fn evaluate_untraced(&self, ctx: &EvaluationContext, engines: &Engines) -> Outcome {
        if let Some(why) = &self.broken {
            return Outcome::Error(ErrorCode::ParseError, why.clone());
        }
        if self.state == FlagState::Disabled {
            return Outcome::CallerDefault(Reason::Disabled);
        }
        match &self.rule {
            Rule::None => self.default_outcome(Reason::Static),
            Rule::Fast(native) => match native.pick(&self.key, ctx.targeting_key()) {
                None => self.default_outcome(Reason::Default),
                Some(Some(index)) => {
                    BUCKETED.with(|b| b.set(true));
                    Outcome::Variant(index, Reason::TargetingMatch)
                }
                Some(None) => Outcome::Error(
                    ErrorCode::General,
                    "the fractional rule names a variant the flag does not have".into(),
                ),
            },
            Rule::Logic(logic) => self.evaluate_logic(logic, ctx, engines),
        }
    }

    fn default_outcome(&self, reason: Reason) -> Outcome {
        match self.default {
            Some(index) => Outcome::Variant(index, reason),
            // No default variant: the caller's default, reason DEFAULT (flagd).
            None => Outcome::CallerDefault(Reason::Default),
        }
    }

    fn variant_named(&self, name: &str) -> Outcome {
        match self.variants.binary_search_by(|(v, _)| (**v).cmp(name)) {
            Ok(index) => Outcome::Variant(index, Reason::TargetingMatch),
            Err(_) => Outcome::Error(
                ErrorCode::General,
                format!("the targeting rule gave {name:?}, which is not a variant"),
            ),
        }
    }

    fn evaluate_logic(&self, logic: &Logic, ctx: &EvaluationContext, engines: &Engines) -> Outcome {
        with_arena(|arena| {
            let root = root_value(ctx, &self.key, arena);
            match engines.engine.evaluate(logic, root, arena) {
                Err(e) => Outcome::Error(ErrorCode::ParseError, format!("targeting failed: {e}")),
                Ok(result) => match result {
                    DataValue::Null => self.default_outcome(Reason::Default),
                    DataValue::String(name) => self.variant_named(name),
                    DataValue::Bool(b) => self.variant_named(if *b { "true" } else { "false" }),
                    DataValue::Number(n) => {
                        let text = match n.as_i64() {
                            Some(i) => i.to_string(),
                            None => n.as_f64().to_string(),
                        };
                        self.variant_named(&text)
                    }
                    _ => Outcome::Error(
                        ErrorCode::General,
                        "the targeting rule gave an array or object, not a variant name".into(),
                    ),
                },
            }
        })
    }
}

impl FastFractional {
    /// `None`: null (no bucketing key, or no weight): the default. `Some(index)`: the bucket's
    /// variant (`None` inside when the name is not a variant).
    #[allow(
        clippy::option_option,
        reason = "null, a variant, or a name that is no variant"
    )]
    fn pick(&self, flag_key: &str, targeting_key: Option<&str>) -> Option<Option<usize>> {
        let hash = match (self.key, targeting_key) {
            (_, None) | (BucketKey::Implicit, Some("")) => return None,
            (BucketKey::Implicit, Some(tk)) => murmur3_32(&[flag_key.as_bytes(), tk.as_bytes()]),
            (BucketKey::TargetingKey, Some(tk)) => murmur3_32(&[tk.as_bytes()]),
        };
        if self.total == 0 {
            return None;
        }
        let bucket = (u64::from(hash) * self.total) >> 32;
        self.buckets
            .iter()
            .find(|(_, end)| bucket < *end)
            .map(|(index, _)| *index)
    }
}

thread_local! {
    /// Set when a `fractional` put the current evaluation into a bucket.
    static BUCKETED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Per-thread scratch arena for rule evaluation, reset before each use.
    static ARENA: RefCell<Bump> = RefCell::new(Bump::with_capacity(4096));
}

fn with_arena<R>(f: impl FnOnce(&Bump) -> R) -> R {
    ARENA.with(|cell| match cell.try_borrow_mut() {
        Ok(mut arena) => {
            arena.reset();
            f(&arena)
        }
        // Re-entered (a custom operator evaluating a flag): a fresh arena.
        Err(_) => f(&Bump::new()),
    })
}

static NULL: DataValue<'static> = DataValue::Null;

/// The JSON the rule sees: the context's attributes, `targetingKey`, and `$flagd` with
/// `flagKey` and `timestamp` (unix seconds), as flagd gives them.
fn root_value<'a>(
    ctx: &'a EvaluationContext,
    flag_key: &'a str,
    arena: &'a Bump,
) -> &'a DataValue<'a> {
    let attrs = ctx.attributes();
    let mut entries =
        datalogic_rs::bumpalo::collections::Vec::with_capacity_in(attrs.len() + 2, arena);
    for (name, value) in attrs {
        if name == "$flagd" || name == "targetingKey" {
            continue;
        }
        entries.push((name.as_str(), DataValue::from_serde_value_in(value, arena)));
    }
    if let Some(key) = ctx.targeting_key() {
        entries.push(("targetingKey", DataValue::String(key)));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let flagd = arena.alloc_slice_fill_iter([
        ("flagKey", DataValue::String(flag_key)),
        ("timestamp", DataValue::from_i64(now)),
    ]);
    entries.push(("$flagd", DataValue::Object(flagd)));
    arena.alloc(DataValue::Object(entries.into_bump_slice()))
}

/// MurmurHash3 (`x86_32`) with seed 0 over the concatenation of `parts`, as flagd's `fractional`
/// hashes `flagKey + targetingKey`. By hand (the algorithm is a few lines) because the hot path
/// hashes the two keys without first allocating their concatenation; the tests pin it against
/// the reference vectors and against datalogic-rs's `fractional`.
pub(crate) fn murmur3_32(parts: &[&[u8]]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h1: u32 = 0;
    let mut block = [0u8; 4];
    let mut filled = 0usize;
    let mut len: usize = 0;
    for part in parts {
        len += part.len();
        for &byte in *part {
            block[filled] = byte;
            filled += 1;
            if filled == 4 {
                let k1 = u32::from_le_bytes(block)
                    .wrapping_mul(C1)
                    .rotate_left(15)
                    .wrapping_mul(C2);
                h1 ^= k1;
                h1 = h1.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
                filled = 0;
            }
        }
    }
    if filled > 0 {
        let mut k1: u32 = 0;
        for i in (0..filled).rev() {
            k1 = (k1 << 8) | u32::from(block[i]);
        }
        h1 ^= k1.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    #[allow(
        clippy::cast_possible_truncation,
        reason = "MurmurHash3 mixes in the length modulo 2^32 by definition"
    )]
    let len32 = len as u32;
    h1 ^= len32;
    h1 ^= h1 >> 16;
    h1 = h1.wrapping_mul(0x85eb_ca6b);
    h1 ^= h1 >> 13;
    h1 = h1.wrapping_mul(0xc2b2_ae35);
    h1 ^ (h1 >> 16)
}

/// flagd's `starts_with` / `ends_with`: exactly two string arguments, else `null` (so the
/// default variant is served rather than a variant named "false").
struct StringEdge {
    prefix: bool,
}

impl CustomOperator for StringEdge {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        _ctx: &mut EvalContext<'_, 'a>,
        _arena: &'a Bump,
    ) -> datalogic_rs::Result<&'a DataValue<'a>> {
        static TRUE: DataValue<'static> = DataValue::Bool(true);
        static FALSE: DataValue<'static> = DataValue::Bool(false);
        let [DataValue::String(text), DataValue::String(edge)] = args else {
            return Ok(&NULL);
        };
        let hit = if self.prefix {
            text.starts_with(edge)
        } else {
            text.ends_with(edge)
        };
        Ok(if hit { &TRUE } else { &FALSE })
    }
}

/// The bucketing key and the bucket arguments of a `fractional` call, as flagd reads them: a
/// string first argument is the key; otherwise (`null`, or the first bucket) the key is
/// `$flagd.flagKey + targetingKey` — `None` when there is no targeting key.
fn bucketing_key<'a, 'b>(
    args: &'b [&'a DataValue<'a>],
    ctx: &EvalContext<'_, 'a>,
    arena: &'a Bump,
    empty_key_is_none: bool,
) -> Option<(&'a str, &'b [&'a DataValue<'a>])> {
    let first = args.first()?;
    if let DataValue::String(s) = first {
        return Some((s, &args[1..]));
    }
    let root = ctx.root_input();
    let tk = field(root, "targetingKey").and_then(DataValue::as_str)?;
    if empty_key_is_none && tk.is_empty() {
        return None;
    }
    let flag_key = field(root, "$flagd")
        .and_then(|f| field(f, "flagKey"))
        .and_then(DataValue::as_str)
        .unwrap_or("");
    let key: &str = arena.alloc_str(&format!("{flag_key}{tk}"));
    let rest = if matches!(first, DataValue::Null) {
        &args[1..]
    } else {
        args
    };
    Some((key, rest))
}

/// flagd's `fractional`: `(murmur3(key) * total_weight) >> 32` against cumulative integer
/// weights. A bucket is `[value]` or `[value, weight]`; the value may be anything a nested
/// expression gives (a variant name, or `true` / `false` when the fractional is a condition);
/// a weight is truncated to an integer, negative counts as 0, absent or not a number as 1.
/// `null` when there is no key, no bucket, or no weight.
struct Fractional;

impl CustomOperator for Fractional {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        ctx: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> datalogic_rs::Result<&'a DataValue<'a>> {
        let Some((key, buckets)) = bucketing_key(args, ctx, arena, true) else {
            return Ok(&NULL);
        };
        let mut parsed = Vec::with_capacity(buckets.len());
        let mut total: u64 = 0;
        for bucket in buckets {
            let Some(entry) = bucket.as_array() else {
                return Ok(&NULL);
            };
            let Some(value) = entry.first() else {
                return Ok(&NULL);
            };
            let weight = match entry.get(1) {
                None => 1,
                Some(w) => match w.as_f64() {
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "flagd truncates weights to integers; clamped to 0..2^31 first"
                    )]
                    Some(w) => w.clamp(0.0, f64::from(i32::MAX)) as u64,
                    None => 1,
                },
            };
            total += weight;
            parsed.push((value, total));
        }
        if parsed.is_empty() || total == 0 {
            return Ok(&NULL);
        }
        let hash = murmur3_32(&[key.as_bytes()]);
        let bucket =
            u64::try_from((u128::from(hash) * u128::from(total)) >> 32).unwrap_or(u64::MAX);
        Ok(match parsed.into_iter().find(|(_, end)| bucket < *end) {
            Some((value, _)) => {
                BUCKETED.with(|b| b.set(true));
                value
            }
            None => &NULL,
        })
    }
}

/// flagd's earlier `fractional` (see [`Bucketing::FlagdLegacy`]).
struct LegacyFractional;

impl CustomOperator for LegacyFractional {
    fn evaluate<'a>(
        &self,
        args: &[&'a DataValue<'a>],
        ctx: &mut EvalContext<'_, 'a>,
        arena: &'a Bump,
    ) -> datalogic_rs::Result<&'a DataValue<'a>> {
        let Some((key, buckets)) = bucketing_key(args, ctx, arena, false) else {
            return Ok(&NULL);
        };
        let mut parsed = Vec::with_capacity(buckets.len());
        let mut total = 0.0_f64;
        for bucket in buckets {
            let Some(entry) = bucket.as_array() else {
                return Ok(&NULL);
            };
            let Some(name) = entry.first().and_then(DataValue::as_str) else {
                return Ok(&NULL);
            };
            let weight = entry
                .get(1)
                .and_then(DataValue::as_f64)
                .unwrap_or(1.0)
                .trunc();
            total += weight;
            parsed.push((name, weight));
        }
        if parsed.is_empty() || total <= 0.0 {
            return Ok(&NULL);
        }
        #[allow(
            clippy::cast_possible_wrap,
            reason = "the legacy algorithm reads the hash as a signed 32-bit integer"
        )]
        let hash = murmur3_32(&[key.as_bytes()]) as i32;
        let bucket = f64::from(hash).abs() / f64::from(i32::MAX) * 100.0;
        let mut end = 0.0;
        for (name, weight) in parsed {
            end += 100.0 * weight / total;
            if bucket < end {
                BUCKETED.with(|b| b.set(true));
                return Ok(arena.alloc(DataValue::String(name)));
            }
        }
        Ok(&NULL)
    }
}

fn field<'a>(value: &'a DataValue<'a>, name: &str) -> Option<&'a DataValue<'a>> {
    value
        .as_object()?
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn murmur3_reference_vectors() {
        assert_eq!(murmur3_32(&[b""]), 0);
        assert_eq!(murmur3_32(&[b"hello"]), 0x248b_fa47);
        assert_eq!(murmur3_32(&[b"foo"]), 0xf6a5_c420);
        assert_eq!(
            murmur3_32(&[b"The quick brown fox ", b"jumps over the lazy dog"]),
            0x2e4f_f723
        );
        for (text, hash) in [
            ("a", 0x3c25_69b2),
            ("ab", 0x9bbf_d75f),
            ("abc", 0xb3dd_93fa),
            ("abcd", 0x43ed_676a),
        ] {
            assert_eq!(murmur3_32(&[text.as_bytes()]), hash);
            let (l, r) = text.split_at(1);
            assert_eq!(murmur3_32(&[l.as_bytes(), r.as_bytes()]), hash);
        }
    }

    /// The native bucket table answers exactly as datalogic-rs's `fractional` for every shape
    /// it takes over.
    #[test]
    fn fast_path_matches_datalogic() {
        let engines = Engines::new(Bucketing::Flagd);
        let rules = [
            json!({"fractional": [["on", 33], ["off", 67]]}),
            json!({"fractional": [{"var": "targetingKey"}, ["a", 10], ["b", 20], ["c", 70]]}),
            json!({"fractional": [["a"], ["b", 3], ["c", -5], ["missing", 2]]}),
            json!({"fractional": [["a", 0], ["b", 0]]}),
        ];
        for rule in rules {
            let def = FlagDefinition::new(
                [
                    ("a", json!("a")),
                    ("b", json!("b")),
                    ("c", json!("c")),
                    ("on", json!("on")),
                    ("off", json!("off")),
                ],
                Some("a"),
            )
            .targeting(rule.clone());
            let set = FlagSet::new();
            let fast = compile_flag("flag", &def, &set, &engines, true);
            let slow = compile_flag("flag", &def, &set, &engines, false);
            assert!(matches!(fast.rule, Rule::Fast(_)), "{rule}");
            assert!(matches!(slow.rule, Rule::Logic(_)), "{rule}");
            for i in 0..5_000 {
                let ctx = match i {
                    0 => EvaluationContext::new(),
                    1 => EvaluationContext::with_targeting_key(""),
                    _ => EvaluationContext::with_targeting_key(format!("user-{i}@example.com")),
                };
                let (a, b) = (fast.evaluate(&ctx, &engines), slow.evaluate(&ctx, &engines));
                assert_eq!(
                    format!("{a:?}").split('(').next(),
                    format!("{b:?}").split('(').next(),
                    "{rule} {i}"
                );
                match (a, b) {
                    (Outcome::Variant(x, r1), Outcome::Variant(y, r2)) => {
                        assert_eq!((x, r1), (y, r2), "{rule} {i}");
                    }
                    (Outcome::CallerDefault(r1), Outcome::CallerDefault(r2)) => assert_eq!(r1, r2),
                    (Outcome::Error(c1, _), Outcome::Error(c2, _)) => assert_eq!(c1, c2),
                    other => panic!("{rule} {i}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn shapes_left_to_datalogic() {
        let engines = Engines::new(Bucketing::Flagd);
        let variants = [("a", json!(true)), ("b", json!(false))];
        for rule in [
            json!({"fractional": [{"var": "email"}, ["a", 50], ["b", 50]]}),
            json!({"fractional": [["a", 50.5], ["b", 50]]}),
            json!({"if": [true, {"fractional": [["a", 50], ["b", 50]]}, null]}),
        ] {
            let def = FlagDefinition::new(variants.clone(), Some("a")).targeting(rule.clone());
            let flag = compile_flag("f", &def, &FlagSet::new(), &engines, true);
            assert!(matches!(flag.rule, Rule::Logic(_)), "{rule}");
            assert!(flag.splits);
        }
    }
}
