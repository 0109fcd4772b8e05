//! Stored events: [`AuditRecord`], its canonical form and its [`ChainHash`].

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mortar_core::{AuditEvent, PrincipalKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The version of the canonical form, the first member of every hashed record. A future form
/// gets a new number, so old records stay verifiable.
pub const CANONICAL_VERSION: u32 = 1;

/// A SHA-256 hash in the chain, shown and stored as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The `prev_hash` of the first record of a stream that was never purged: 32 zero bytes.
    pub const GENESIS: Self = Self([0; 32]);

    /// Parses 64 hex digits.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`] when the text is not 64 hex digits.
    pub fn parse(hex_digits: &str) -> Result<Self, crate::Error> {
        let mut out = [0; 32];
        hex::decode_to_slice(hex_digits, &mut out)
            .map_err(|_| crate::Error::Corrupt(format!("not a SHA-256 hash: {hex_digits:.80}")))?;
        Ok(Self(out))
    }

    /// The hash as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl Serialize for ChainHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One stored event: the event itself, where it sits in its chain and the hashes that link it.
///
/// `hash` is the SHA-256 of the record's canonical form ([`AuditRecord::canonical`]), which
/// includes `stream`, `seq`, `prev_hash` and every field of the event; `prev_hash` is the `hash`
/// of the record before it in the same stream ([`ChainHash::GENESIS`] for the first). Changing,
/// removing or reordering a stored record therefore breaks the chain at that point, which
/// [`crate::verify`] reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditRecord {
    /// The store's position of the record, increasing in insertion order across all streams
    /// (pagination key). Not part of the hash.
    pub id: u64,
    /// The chain the record belongs to (see [`crate::Streams`]).
    pub stream: String,
    /// The record's number in its stream, from 1, without gaps.
    pub seq: u64,
    /// The hash of the previous record of the stream.
    pub prev_hash: ChainHash,
    /// The hash of this record's canonical form.
    pub hash: ChainHash,
    /// The event (its time truncated to microseconds, as every store keeps it).
    pub event: AuditEvent,
}

impl AuditRecord {
    /// Chains `event` after `prev` (the previous record's `seq` and `hash`) in `stream`: the
    /// time is truncated to microseconds and the hash computed. `id` is left 0 for the store to
    /// assign.
    pub fn chain(stream: &str, prev: (u64, ChainHash), event: AuditEvent) -> Self {
        Self::chain_with_metadata(stream, prev, event).0
    }

    /// [`AuditRecord::chain`], also returning the canonical metadata text the hash covered
    /// (what the SQL stores keep), so a writer does not build it a second time.
    pub(crate) fn chain_with_metadata(
        stream: &str,
        prev: (u64, ChainHash),
        mut event: AuditEvent,
    ) -> (Self, String) {
        event.occurred_at = from_micros(micros(event.occurred_at));
        let mut record = Self {
            id: 0,
            stream: stream.to_owned(),
            seq: prev.0 + 1,
            prev_hash: prev.1,
            hash: ChainHash::GENESIS,
            event,
        };
        let (canonical, metadata_at) = record.canonical_parts();
        record.hash = hash_of(&canonical);
        // The form ends with the metadata object and the closing brace of the whole.
        let metadata = canonical[metadata_at..canonical.len() - 1].to_owned();
        (record, metadata)
    }

    /// The canonical form the hash covers: compact JSON with a fixed member order and object keys
    /// sorted at every depth:
    ///
    /// `{"v":1,"stream":…,"seq":…,"prev":"<hex>","action":…,"outcome":…,"actor":{"subject":…,"kind":…,"session_id":…}|null,"tenant":…,"target":{"kind":…,"id":…}|null,"occurred_at_us":…,"ip":…,"user_agent":…,"request_id":…,"metadata":{…}}`
    ///
    /// ```
    /// use mortar_audit::{AuditRecord, ChainHash};
    /// use mortar_core::{AuditEvent, Outcome};
    /// use std::time::{Duration, UNIX_EPOCH};
    ///
    /// let event = AuditEvent::new("auth.login", Outcome::Success).at(UNIX_EPOCH + Duration::from_secs(1));
    /// let record = AuditRecord::chain("acme", (0, ChainHash::GENESIS), event);
    /// assert!(record.canonical().starts_with(r#"{"v":1,"stream":"acme","seq":1,"prev":"0000"#));
    /// assert_eq!(record.hash, record.compute_hash());
    /// ```
    pub fn canonical(&self) -> String {
        self.canonical_parts().0
    }

    /// The canonical form and where its metadata object starts.
    fn canonical_parts(&self) -> (String, usize) {
        let e = &self.event;
        let mut out = String::with_capacity(256 + e.metadata.len() * 32);
        out.push_str("{\"v\":");
        push_display(&mut out, CANONICAL_VERSION);
        out.push_str(",\"stream\":");
        push_str(&mut out, &self.stream);
        out.push_str(",\"seq\":");
        push_display(&mut out, self.seq);
        out.push_str(",\"prev\":\"");
        out.push_str(&self.prev_hash.to_hex());
        out.push_str("\",\"action\":");
        push_str(&mut out, &e.action);
        out.push_str(",\"outcome\":");
        push_str(&mut out, e.outcome.as_str());
        out.push_str(",\"actor\":");
        match &e.actor {
            Some(actor) => {
                out.push_str("{\"subject\":");
                push_str(&mut out, &actor.subject);
                out.push_str(",\"kind\":");
                push_str(&mut out, actor.kind.as_str());
                out.push_str(",\"session_id\":");
                push_opt(&mut out, actor.session_id.as_deref());
                out.push('}');
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"tenant\":");
        push_opt(&mut out, e.tenant.as_deref());
        out.push_str(",\"target\":");
        match &e.target {
            Some(target) => {
                out.push_str("{\"kind\":");
                push_str(&mut out, &target.kind);
                out.push_str(",\"id\":");
                push_str(&mut out, &target.id);
                out.push('}');
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"occurred_at_us\":");
        push_display(&mut out, micros(e.occurred_at));
        out.push_str(",\"ip\":");
        match e.ip {
            Some(ip) => push_str(&mut out, &ip.to_string()),
            None => out.push_str("null"),
        }
        out.push_str(",\"user_agent\":");
        push_opt(&mut out, e.user_agent.as_deref());
        out.push_str(",\"request_id\":");
        push_opt(&mut out, e.request_id.as_deref());
        out.push_str(",\"metadata\":");
        let metadata_at = out.len();
        push_metadata(&mut out, &e.metadata);
        out.push('}');
        (out, metadata_at)
    }

    /// The SHA-256 of [`AuditRecord::canonical`].
    pub fn compute_hash(&self) -> ChainHash {
        hash_of(&self.canonical())
    }

    /// Whether `hash` matches the record's content.
    pub fn is_intact(&self) -> bool {
        self.hash == self.compute_hash()
    }
}

fn hash_of(canonical: &str) -> ChainHash {
    ChainHash(Sha256::digest(canonical.as_bytes()).into())
}

/// The principal kind of a stored name.
#[cfg_attr(
    not(feature = "sql"),
    allow(dead_code, reason = "read back by the SQL store")
)]
pub(crate) fn kind_from_name(name: &str) -> Result<PrincipalKind, crate::Error> {
    serde_json::from_value(Value::String(name.to_owned()))
        .map_err(|_| crate::Error::Corrupt(format!("unknown principal kind {name:.40}")))
}

/// Microseconds since the Unix epoch (negative before it), saturating.
pub(crate) fn micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |m| -m),
    }
}

/// The time `micros` microseconds after (or before) the Unix epoch.
pub(crate) fn from_micros(micros: i64) -> SystemTime {
    let d = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

fn push_display(out: &mut String, n: impl fmt::Display) {
    use fmt::Write as _;
    let _ = write!(out, "{n}");
}

fn push_str(out: &mut String, s: &str) {
    // serde_json's string escaping is deterministic (control characters as \uXXXX or the short
    // escapes, everything else verbatim); a `&str` cannot fail to serialize.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn push_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

/// JSON with object keys sorted at every depth, so the form does not depend on the order a map
/// kept its keys in (`serde_json`'s `preserve_order` may be on in the application's build).
fn canonical_value(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_str(out, key);
                out.push(':');
                canonical_value(out, value);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_value(out, item);
            }
            out.push(']');
        }
        Value::String(s) => push_str(out, s),
        other => push_display(out, other),
    }
}

/// The metadata object, keys in order (a `BTreeMap`) and values in canonical form.
fn push_metadata(out: &mut String, metadata: &std::collections::BTreeMap<String, Value>) {
    out.push('{');
    for (i, (key, value)) in metadata.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, key);
        out.push(':');
        canonical_value(out, value);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use mortar_core::{Outcome, Principal};
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_form_is_stable() {
        let p = Principal::user("u1").tenant("acme").session_id("s").build();
        let e = AuditEvent::new("auth.login", Outcome::Failure)
            .actor(&p)
            .target("user", "u1")
            .at(UNIX_EPOCH + Duration::from_nanos(1_500_001_999))
            .ip("203.0.113.9".parse().unwrap())
            .user_agent("curl/8\n")
            .meta("z", json!({"b": 1, "a": [true, null, 1.5]}))
            .meta("a", "x");
        let r = AuditRecord::chain("acme", (0, ChainHash::GENESIS), e);
        assert_eq!(
            r.canonical(),
            format!(
                "{{\"v\":1,\"stream\":\"acme\",\"seq\":1,\"prev\":\"{}\",\"action\":\"auth.login\",\
                 \"outcome\":\"failure\",\"actor\":{{\"subject\":\"u1\",\"kind\":\"user\",\"session_id\":\"s\"}},\
                 \"tenant\":\"acme\",\"target\":{{\"kind\":\"user\",\"id\":\"u1\"}},\"occurred_at_us\":1500001,\
                 \"ip\":\"203.0.113.9\",\"user_agent\":\"curl/8\\n\",\"request_id\":null,\
                 \"metadata\":{{\"a\":\"x\",\"z\":{{\"a\":[true,null,1.5],\"b\":1}}}}}}",
                "0".repeat(64)
            )
        );
        assert!(r.is_intact());
        assert_eq!(micros(r.event.occurred_at), 1_500_001);
        let next = AuditRecord::chain("acme", (r.seq, r.hash), r.event.clone());
        assert_eq!(next.seq, 2);
        assert_ne!(next.hash, r.hash);
        let back: AuditRecord = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(back.is_intact());
    }

    #[test]
    fn times_before_the_epoch() {
        let t = UNIX_EPOCH - Duration::from_micros(5);
        assert_eq!(micros(t), -5);
        assert_eq!(from_micros(-5), t);
        assert!(ChainHash::parse("xyz").is_err());
        assert_eq!(kind_from_name("api_key").unwrap(), PrincipalKind::ApiKey);
        assert!(kind_from_name("robot").is_err());
    }
}
