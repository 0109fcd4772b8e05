//! The `RateLimit` and `RateLimit-Policy` headers (draft-ietf-httpapi-ratelimit-headers-09):
//! RFC 9651 structured-field lists, one member per applicable policy.
//!
//! `RateLimit-Policy: "burst";q=100;w=60, "daily";q=5000;w=86400` names each policy with its
//! quota (`q`) and window in seconds (`w`); `RateLimit: "burst";r=99;t=1, "daily";r=4999;t=18`
//! tells what remains (`r`) and the seconds until the allowance is whole again (`t`).

use http::HeaderValue;
use mortar_core::clock::ceil_secs;

use crate::limiter::PolicyDecision;

/// An sf-string: policy names are checked printable ASCII without `"` and `\` at construction,
/// so no escaping is ever needed; anything else is dropped rather than emitted invalid.
fn sf_string(out: &mut String, name: &str) {
    out.push('"');
    out.extend(
        name.chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .filter(|c| *c != '"' && *c != '\\'),
    );
    out.push('"');
}

/// A list with one member per decision: the policy's name and the parameters `params` writes.
fn list(
    decisions: &[PolicyDecision],
    params: impl Fn(&mut String, &PolicyDecision),
) -> Option<HeaderValue> {
    let mut out = String::with_capacity(decisions.len() * 40);
    for (i, d) in decisions.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        sf_string(&mut out, &d.policy);
        params(&mut out, d);
    }
    (!out.is_empty())
        .then(|| HeaderValue::try_from(out).ok())
        .flatten()
}

/// Two integer parameters, formatted without `fmt` (this runs on every response).
fn params(out: &mut String, a: (&str, u64), b: (&str, u64)) {
    let mut buffer = itoa::Buffer::new();
    out.push_str(a.0);
    out.push_str(buffer.format(a.1));
    out.push_str(b.0);
    out.push_str(buffer.format(b.1));
}

/// `RateLimit-Policy` for these decisions.
pub fn policy_header(decisions: &[PolicyDecision]) -> Option<HeaderValue> {
    list(decisions, |out, d| {
        params(
            out,
            (";q=", u64::from(d.quota.limit())),
            (";w=", ceil_secs(d.quota.period()).max(1)),
        );
    })
}

/// `RateLimit` for these decisions.
pub fn limit_header(decisions: &[PolicyDecision]) -> Option<HeaderValue> {
    list(decisions, |out, d| {
        params(
            out,
            (";r=", u64::from(d.decision.remaining())),
            (";t=", ceil_secs(d.decision.reset_after())),
        );
    })
}
