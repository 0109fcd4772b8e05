//! [`Redactor`]: secrets masked, personal data masked or hashed, and every value escaped before
//! an event is stored.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use hmac::{Hmac, KeyInit as _, Mac as _};
use mortar_core::AuditEvent;
use serde_json::Value;
use sha2::Sha256;

/// What replaces a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// The longest identifier kept (action, subject, tenant, target, request id, session id), in
/// characters; longer ones are cut and end in `…`.
pub const MAX_ID_CHARS: usize = 255;

/// Metadata keys treated as secret unless configured otherwise (compared case-insensitively,
/// `-` read as `_`); keys ending in `_password`, `_secret`, `_token` or `_key` are secret too.
pub const DEFAULT_SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "authorization",
    "cookie",
    "set_cookie",
    "api_key",
    "apikey",
    "private_key",
    "otp",
    "totp",
    "recovery_code",
    "credit_card",
    "card_number",
    "cvv",
];

/// Metadata keys treated as personal data unless configured otherwise.
pub const DEFAULT_PERSONAL_KEYS: &[&str] =
    &["email", "phone", "phone_number", "address", "birth_date"];

/// How personal values are stored.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Personal {
    /// Partly hidden: `a***@example.com` for an e-mail address, the first character and `***`
    /// otherwise (the default).
    #[default]
    Mask,
    /// Replaced by `hmac-sha256:` and the first 32 hex digits of an HMAC-SHA-256 under the given
    /// key: the same value always gives the same text, so records stay correlatable without
    /// holding the value, and without the key nobody can test guesses against it.
    Hash(Vec<u8>),
    /// Kept as is.
    Keep,
}

impl fmt::Debug for Personal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mask => f.write_str("Mask"),
            Self::Hash(_) => f.write_str("Hash(<key>)"),
            Self::Keep => f.write_str("Keep"),
        }
    }
}

/// How the client address is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IpMode {
    /// Kept whole (the default: a security log needs it, ASVS V16.2.1).
    #[default]
    Keep,
    /// The host part zeroed: IPv4 to its /24, IPv6 to its /48.
    Truncate,
    /// Removed.
    Drop,
}

/// Cleans events before storage:
///
/// - metadata entries whose key is **secret** (passwords, tokens, cookies, keys: see
///   [`DEFAULT_SECRET_KEYS`]) become [`REDACTED`], at any depth;
/// - entries whose key is **personal** ([`DEFAULT_PERSONAL_KEYS`]) are masked or hashed
///   ([`Personal`]);
/// - every text is **escaped**: control characters, line and paragraph separators and bidi
///   overrides become visible `\u{…}` text, so no value can start a forged log line or hide
///   characters in a viewer (ASVS V16.4.1);
/// - identifiers are cut to [`MAX_ID_CHARS`] and other texts to [`Redactor::max_text_chars`].
///
/// ```
/// use mortar_audit::Redactor;
/// use mortar_core::{AuditEvent, Outcome};
///
/// let event = AuditEvent::new("auth.login", Outcome::Failure)
///     .meta("password", "hunter2")
///     .meta("email", "alice@example.com")
///     .user_agent("curl\nFAKE LINE");
/// let clean = Redactor::default().redact(event);
/// assert_eq!(clean.metadata["password"], "[REDACTED]");
/// assert_eq!(clean.metadata["email"], "a***@example.com");
/// assert_eq!(clean.user_agent.as_deref(), Some("curl\\u{a}FAKE LINE"));
/// ```
#[derive(Clone, Debug)]
pub struct Redactor {
    secret: HashSet<String>,
    personal_keys: HashSet<String>,
    personal: Personal,
    ip: IpMode,
    max_text_chars: usize,
}

impl Default for Redactor {
    fn default() -> Self {
        Self {
            secret: DEFAULT_SECRET_KEYS
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
            personal_keys: DEFAULT_PERSONAL_KEYS
                .iter()
                .map(|k| (*k).to_owned())
                .collect(),
            personal: Personal::default(),
            ip: IpMode::default(),
            max_text_chars: 2048,
        }
    }
}

impl Redactor {
    /// Marks one more metadata key secret.
    #[must_use]
    pub fn secret(mut self, key: &str) -> Self {
        self.secret.insert(normalize_key(key).into_owned());
        self
    }

    /// Marks one more metadata key personal.
    #[must_use]
    pub fn personal(mut self, key: &str) -> Self {
        self.personal_keys.insert(normalize_key(key).into_owned());
        self
    }

    /// Sets how personal values are stored (default [`Personal::Mask`]).
    #[must_use]
    pub fn personal_mode(mut self, mode: Personal) -> Self {
        self.personal = mode;
        self
    }

    /// Sets how client addresses are stored (default [`IpMode::Keep`]).
    #[must_use]
    pub fn ip(mut self, mode: IpMode) -> Self {
        self.ip = mode;
        self
    }

    /// Sets the longest free text kept (user agent, metadata strings), default 2048 characters.
    #[must_use]
    pub fn max_text_chars(mut self, chars: usize) -> Self {
        self.max_text_chars = chars.max(16);
        self
    }

    /// The cleaned event. Its time is also clamped to the years 1 to 9999, which every store
    /// and RFC 3339 can represent.
    pub fn redact(&self, mut event: AuditEvent) -> AuditEvent {
        event.occurred_at = clamp_time(event.occurred_at);
        if let Cow::Owned(action) = clean(&event.action, MAX_ID_CHARS) {
            event.action = action.into();
        }
        if let Some(actor) = &mut event.actor {
            clean_in_place(&mut actor.subject, MAX_ID_CHARS);
            if let Some(s) = &mut actor.session_id {
                clean_in_place(s, MAX_ID_CHARS);
            }
        }
        for s in [&mut event.tenant, &mut event.request_id]
            .into_iter()
            .flatten()
        {
            clean_in_place(s, MAX_ID_CHARS);
        }
        if let Some(target) = &mut event.target {
            clean_in_place(&mut target.kind, MAX_ID_CHARS);
            clean_in_place(&mut target.id, MAX_ID_CHARS);
        }
        if let Some(ua) = &mut event.user_agent {
            clean_in_place(ua, self.max_text_chars);
        }
        event.ip = match (self.ip, event.ip) {
            (IpMode::Keep, ip) => ip,
            (IpMode::Drop, _) | (_, None) => None,
            (IpMode::Truncate, Some(ip)) => Some(truncate_ip(ip)),
        };
        if !event.metadata.is_empty() {
            let metadata = std::mem::take(&mut event.metadata);
            event.metadata = metadata
                .into_iter()
                .map(|(key, value)| {
                    let value = self.value_for(&key, value);
                    (clean(&key, MAX_ID_CHARS).into_owned(), value)
                })
                .collect();
        }
        event
    }

    fn value_for(&self, key: &str, value: Value) -> Value {
        let key = normalize_key(key);
        if self.is_secret(&key) {
            return Value::String(REDACTED.to_owned());
        }
        if self.personal_keys.contains(key.as_ref()) {
            return self.personal_value(value);
        }
        self.clean_value(value)
    }

    fn is_secret(&self, key: &str) -> bool {
        self.secret.contains(key)
            || ["_password", "_secret", "_token", "_key"]
                .iter()
                .any(|suffix| key.ends_with(suffix))
    }

    fn clean_value(&self, value: Value) -> Value {
        match value {
            Value::String(s) => Value::String(clean(&s, self.max_text_chars).into_owned()),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(|v| self.clean_value(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        let v = self.value_for(&k, v);
                        (clean(&k, MAX_ID_CHARS).into_owned(), v)
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    fn personal_value(&self, value: Value) -> Value {
        let text = match &value {
            Value::Null => return Value::Null,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match &self.personal {
            Personal::Keep => self.clean_value(value),
            Personal::Mask => Value::String(mask(&text)),
            Personal::Hash(key) => {
                // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
                    return Value::String(mask(&text));
                };
                mac.update(text.as_bytes());
                let digest = mac.finalize().into_bytes();
                Value::String(format!("hmac-sha256:{}", hex::encode(&digest[..16])))
            }
        }
    }
}

/// `0001-01-01T00:00:00Z` and `9999-12-31T23:59:59Z` as seconds from the Unix epoch.
const MIN_SECS: i64 = -62_135_596_800;
const MAX_SECS: i64 = 253_402_300_799;

pub(crate) fn clamp_time(t: std::time::SystemTime) -> std::time::SystemTime {
    let micros = crate::record::micros(t);
    let clamped = micros.clamp(MIN_SECS * 1_000_000, MAX_SECS * 1_000_000);
    if clamped == micros {
        t
    } else {
        crate::record::from_micros(clamped)
    }
}

/// Keys compared as snake case: `Refresh-Token`, `refreshToken` and `refresh_token` alike.
fn normalize_key(key: &str) -> Cow<'_, str> {
    if !key.bytes().any(|b| b.is_ascii_uppercase() || b == b'-') {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len() + 4);
    let mut prev_lower = false;
    for c in key.chars() {
        if c == '-' {
            out.push('_');
            prev_lower = false;
        } else if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    Cow::Owned(out)
}

fn mask(text: &str) -> String {
    let first = text.chars().next().map(String::from).unwrap_or_default();
    match text.rsplit_once('@') {
        Some((_, domain)) if !domain.is_empty() => {
            format!("{first}***@{}", clean(domain, MAX_ID_CHARS))
        }
        _ => format!("{}***", clean(&first, 8)),
    }
}

fn truncate_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::from([a, b, c, 0])
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::from([s[0], s[1], s[2], 0, 0, 0, 0, 0])
        }
    }
}

/// Characters shown as `\u{…}` text: controls, line/paragraph separators, bidi controls.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// `s` with the characters of [`needs_escape`] written as `\u{…}`, cut to `max` characters.
pub(crate) fn clean(s: &str, max: usize) -> Cow<'_, str> {
    let long = s.len() > max && s.chars().count() > max;
    if !long && !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(max * 4) + 8);
    let mut count = 0;
    for c in s.chars() {
        let piece = if needs_escape(c) {
            format!("\\u{{{:x}}}", u32::from(c))
        } else {
            c.to_string()
        };
        let len = piece.chars().count();
        if count + len > max.saturating_sub(1) && (long || count + len > max) {
            out.push('…');
            return Cow::Owned(out);
        }
        count += len;
        out.push_str(&piece);
    }
    Cow::Owned(out)
}

fn clean_in_place(s: &mut String, max: usize) {
    if let Cow::Owned(cleaned) = clean(s, max) {
        *s = cleaned;
    }
}

#[cfg(test)]
mod tests {
    use mortar_core::Outcome;
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_personal_data_and_escaping() {
        let e = AuditEvent::new("x\u{2028}y", Outcome::Success)
            .meta("Refresh-Token", "abc")
            .meta("stripe_key", "sk_live")
            .meta(
                "nested",
                json!({"password": "p", "list": ["a\rb"], "phone": "+4912345"}),
            )
            .meta("email", "bob@example.com")
            .meta("note", "fine")
            .ip("203.0.113.77".parse().unwrap());
        let r = Redactor::default().ip(IpMode::Truncate).redact(e.clone());
        assert_eq!(r.action, "x\\u{2028}y");
        assert_eq!(r.metadata["Refresh-Token"], REDACTED);
        for key in [
            "accessToken",
            "clientSecret",
            "newPassword",
            "privateKey",
            "APIKey",
        ] {
            let camel = AuditEvent::new("x", Outcome::Success).meta(key, "v");
            assert_eq!(
                Redactor::default().redact(camel).metadata[key],
                REDACTED,
                "{key}"
            );
        }
        let far = std::time::UNIX_EPOCH + std::time::Duration::from_secs(400_000_000_000);
        let clamped = Redactor::default().redact(AuditEvent::new("x", Outcome::Success).at(far));
        assert_eq!(
            crate::record::micros(clamped.occurred_at),
            MAX_SECS * 1_000_000
        );
        assert_eq!(r.metadata["stripe_key"], REDACTED);
        assert_eq!(
            r.metadata["nested"],
            json!({"password": REDACTED, "list": ["a\\u{d}b"], "phone": "+***"})
        );
        assert_eq!(r.metadata["email"], "b***@example.com");
        assert_eq!(r.metadata["note"], "fine");
        assert_eq!(r.ip, Some("203.0.113.0".parse().unwrap()));

        let hashed = Redactor::default()
            .personal_mode(Personal::Hash(b"k".to_vec()))
            .ip(IpMode::Drop)
            .redact(e.clone());
        let h = hashed.metadata["email"].as_str().unwrap();
        assert!(h.starts_with("hmac-sha256:") && h.len() == 12 + 32, "{h}");
        assert_eq!(
            Redactor::default()
                .personal_mode(Personal::Hash(b"k".to_vec()))
                .redact(e)
                .metadata["email"],
            h
        );
        assert_eq!(hashed.ip, None);
        assert_eq!(
            format!("{:?}", Personal::Hash(b"secret-key".to_vec())),
            "Hash(<key>)"
        );
    }

    #[test]
    fn long_values_are_cut() {
        let long = "a".repeat(300);
        assert_eq!(clean(&long, 255).chars().count(), 255);
        assert!(clean(&long, 255).ends_with('…'));
        assert!(matches!(clean("short", 255), Cow::Borrowed(_)));
        let escaped = "\n".repeat(100);
        let c = clean(&escaped, 50);
        assert!(c.chars().count() <= 50, "{c}");
        assert_eq!(clean("a\u{202e}b", 50), "a\\u{202e}b");
        assert_eq!(
            truncate_ip("2001:db8:1:2::9".parse().unwrap()),
            "2001:db8:1::".parse::<IpAddr>().unwrap()
        );
    }
}
