//! The `RateLimit` and `RateLimit-Policy` headers (draft-ietf-httpapi-ratelimit-headers-09):
//! RFC 9651 structured-field lists, one member per applicable policy.
//!
//! `RateLimit-Policy: "burst";q=100;w=60, "daily";q=5000;w=86400` names each policy with its
//! quota (`q`) and window in seconds (`w`); `RateLimit: "burst";r=99;t=1, "daily";r=4999;t=18`
//! tells what remains (`r`) and the seconds until the allowance is whole again (`t`).

use http::HeaderValue;
use mortar_core::clock::ceil_secs;
use smallvec::SmallVec;

use crate::limiter::{Decided, PolicyDecision};
use crate::quota::{Decision, Quota};

/// A header value being written: on the stack for the usual handful of policies, so the only
/// allocation is the finished value's.
type Buf = SmallVec<[u8; 128]>;

/// An sf-string: policy names are checked printable ASCII without `"` and `\` at construction,
/// so no escaping is ever needed; anything else is dropped rather than emitted invalid.
fn sf_string(out: &mut Buf, name: &str) {
    out.push(b'"');
    out.extend(
        name.bytes()
            .filter(|b| (b.is_ascii_graphic() || *b == b' ') && *b != b'"' && *b != b'\\'),
    );
    out.push(b'"');
}

/// A list with one member per item: the policy's name, then the parameters `params` writes.
fn list<'a, T>(
    items: impl IntoIterator<Item = (T, &'a str)>,
    params: impl Fn(&mut Buf, T),
) -> Option<HeaderValue> {
    let mut out = Buf::new();
    for (i, (item, name)) in items.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        sf_string(&mut out, name);
        params(&mut out, item);
    }
    (!out.is_empty())
        .then(|| HeaderValue::from_bytes(&out).ok())
        .flatten()
}

/// Two integer parameters, formatted without `fmt` (this runs on every response).
fn params(out: &mut Buf, a: (&str, u64), b: (&str, u64)) {
    let mut buffer = itoa::Buffer::new();
    out.extend_from_slice(a.0.as_bytes());
    out.extend_from_slice(buffer.format(a.1).as_bytes());
    out.extend_from_slice(b.0.as_bytes());
    out.extend_from_slice(buffer.format(b.1).as_bytes());
}

/// `RateLimit-Policy` for these policies (name and the quota applied).
pub(crate) fn policy_value<'a>(
    items: impl IntoIterator<Item = (&'a Quota, &'a str)>,
) -> Option<HeaderValue> {
    list(items, |out, quota: &Quota| {
        params(
            out,
            (";q=", u64::from(quota.limit())),
            (";w=", ceil_secs(quota.period()).max(1)),
        );
    })
}

/// `RateLimit` for these decisions (with their policies' names).
pub(crate) fn limit_value<'a>(
    items: impl IntoIterator<Item = (&'a Decision, &'a str)>,
) -> Option<HeaderValue> {
    list(items, |out, decision: &Decision| {
        params(
            out,
            (";r=", u64::from(decision.remaining())),
            (";t=", ceil_secs(decision.reset_after())),
        );
    })
}

/// `RateLimit` for the layer's decisions, on its hot path: each policy's `"name";r=` was
/// written once when the policy was made, so only the numbers are written here, into a stack
/// buffer (the one allocation is the finished value's). Members that do not fit go the
/// general way.
pub(crate) fn limit_of(decided: &[Decided<'_>]) -> Option<HeaderValue> {
    // Per member at most ", " + prefix + 10 digits + ";t=" + 20 digits.
    const NUMBERS: usize = 2 + 10 + 3 + 20;
    let mut out = Stack {
        bytes: [0; 192],
        len: 0,
    };
    let mut buffer = itoa::Buffer::new();
    for (i, d) in decided.iter().enumerate() {
        let prefix = &d.policy.limit_prefix;
        if out.len + prefix.len() + NUMBERS > out.bytes.len() {
            return limit_value(decided.iter().map(|d| (&d.decision, d.policy.name())));
        }
        if i > 0 {
            out.put(b", ");
        }
        out.put(prefix);
        out.put(buffer.format(d.decision.remaining()).as_bytes());
        out.put(b";t=");
        out.put(
            buffer
                .format(ceil_secs(d.decision.reset_after()))
                .as_bytes(),
        );
    }
    (out.len > 0)
        .then(|| HeaderValue::from_bytes(&out.bytes[..out.len]).ok())
        .flatten()
}

/// A fixed stack buffer (the caller checks the room first).
struct Stack {
    bytes: [u8; 192],
    len: usize,
}

impl Stack {
    fn put(&mut self, bytes: &[u8]) {
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

/// A policy's `RateLimit` member up to its first number: `"name";r=`.
pub(crate) fn limit_prefix(name: &str) -> Box<[u8]> {
    let mut out = Buf::new();
    sf_string(&mut out, name);
    out.extend_from_slice(b";r=");
    Box::from(&*out)
}

/// `RateLimit-Policy` for these decisions.
pub fn policy_header(decisions: &[PolicyDecision]) -> Option<HeaderValue> {
    policy_value(decisions.iter().map(|d| (&d.quota, &*d.policy)))
}

/// `RateLimit` for these decisions.
pub fn limit_header(decisions: &[PolicyDecision]) -> Option<HeaderValue> {
    limit_value(decisions.iter().map(|d| (&d.decision, &*d.policy)))
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::Duration;

    use super::*;
    use crate::policy::{KeyBy, Policy};

    #[test]
    fn the_fast_limit_header_is_the_general_one() {
        let quota = Quota::per_minute(NonZeroU32::new(100).unwrap());
        let long = "n".repeat(64);
        let policies: Vec<Policy> = ["ip", "daily", &long, "x", &long]
            .iter()
            .map(|name| Policy::new(name, quota, KeyBy::Ip).unwrap())
            .collect();
        let decisions = [
            Decision::new(true, 100, 99, Duration::from_millis(600), None),
            Decision::new(true, 100, 0, Duration::from_hours(24), None),
            Decision::new(false, 100, u32::MAX, Duration::from_nanos(1), None),
            Decision::new(true, 100, 7, Duration::ZERO, None),
            Decision::new(true, 100, 1, Duration::from_secs(u64::MAX / 2), None),
        ];
        for n in 0..=policies.len() {
            let decided: Vec<Decided<'_>> = policies[..n]
                .iter()
                .zip(decisions)
                .map(|(policy, decision)| Decided {
                    policy,
                    quota,
                    decision,
                })
                .collect();
            let general = limit_value(decided.iter().map(|d| (&d.decision, d.policy.name())));
            assert_eq!(limit_of(&decided), general, "{n} members");
        }
        let one = [Decided {
            policy: &policies[0],
            quota,
            decision: decisions[0],
        }];
        assert_eq!(limit_of(&one).unwrap(), "\"ip\";r=99;t=1");
    }
}
