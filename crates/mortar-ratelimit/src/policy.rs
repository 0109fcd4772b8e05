//! [`Policy`]: what to limit, keyed by what, with which failure mode; [`ClientIp`] resolution.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::request::Parts;
use http::{Extensions, HeaderMap, HeaderValue, Request};
use ipnet::IpNet;
use mortar_core::{Principal, PrincipalKind};

use smallvec::SmallVec;

use crate::error::Error;
use crate::headers::{limit_prefix, policy_value};
use crate::quota::Quota;

/// A closure choosing a request's key.
pub type KeyFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

/// A closure choosing a principal's quota (its tier), or `None` for the policy's default.
pub type TierFn = Arc<dyn Fn(&Principal) -> Option<Quota> + Send + Sync>;

/// What a policy counts requests by. A request without that key (an anonymous request under a
/// per-user policy) is not limited by the policy.
#[derive(Clone)]
pub enum KeyBy {
    /// The client's address ([`ClientIp`]: the peer, or the forwarded address when the peer is
    /// a trusted proxy).
    Ip,
    /// The authenticated principal's subject (users, services, API keys alike).
    Subject,
    /// The API key's id (principals of kind API key only).
    ApiKey,
    /// The principal's tenant.
    Tenant,
    /// Anything else.
    Custom(KeyFn),
}

impl fmt::Debug for KeyBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ip => "Ip",
            Self::Subject => "Subject",
            Self::ApiKey => "ApiKey",
            Self::Tenant => "Tenant",
            Self::Custom(_) => "Custom",
        })
    }
}

/// What key resolution reads of a request: its headers and extensions, and for custom key
/// closures the whole head. Implemented by [`Parts`] and, so the tower layer need not take a
/// request apart, by [`Request`] (which has no `Parts` to lend: the layer takes a request apart
/// only when a policy has a custom key, see [`KeyBy::is_custom`]).
pub(crate) trait Head {
    fn headers(&self) -> &HeaderMap;
    fn extensions(&self) -> &Extensions;
    fn parts(&self) -> Option<&Parts>;
}

impl Head for Parts {
    fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    fn extensions(&self) -> &Extensions {
        &self.extensions
    }
    fn parts(&self) -> Option<&Parts> {
        Some(self)
    }
}

impl<B> Head for Request<B> {
    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
    fn extensions(&self) -> &Extensions {
        self.extensions()
    }
    fn parts(&self) -> Option<&Parts> {
        None
    }
}

/// A request's key as found, before it is written out: borrowed where the request holds it.
enum KeyPart<'a> {
    Ip(IpAddr),
    Borrowed(&'a str),
    Owned(String),
}

impl KeyPart<'_> {
    /// Appends the key to `out` (IPv4 digit by digit: no `fmt` on every request).
    fn push_to(&self, out: &mut Key) {
        match self {
            Self::Ip(IpAddr::V4(v4)) => {
                // Digit by digit into one stack buffer, then one copy.
                let mut text = [0_u8; 15];
                let mut len = 0;
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text[len] = b'.';
                        len += 1;
                    }
                    if octet >= 100 {
                        text[len] = b'0' + octet / 100;
                        len += 1;
                    }
                    if octet >= 10 {
                        text[len] = b'0' + octet / 10 % 10;
                        len += 1;
                    }
                    text[len] = b'0' + octet % 10;
                    len += 1;
                }
                out.0.extend_from_slice(&text[..len]);
            }
            Self::Ip(IpAddr::V6(v6)) => {
                use std::fmt::Write as _;
                let _ = write!(out, "{v6}");
            }
            Self::Borrowed(s) => out.push_str(s),
            Self::Owned(s) => out.push_str(s),
        }
    }
}

/// A `policy:key` string, on the stack when short (most are: a name and an address), so a
/// request that finds its key already counted allocates nothing for it.
#[derive(Default)]
pub(crate) struct Key(SmallVec<[u8; 64]>);

impl Key {
    fn push_str(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    /// The key. Only whole `str`s are ever pushed, so the bytes are always UTF-8 (the check is
    /// a few nanoseconds on such short strings; `unsafe` is forbidden in this crate).
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The key's bytes (for the in-process map, which needs no `str`).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Write for Key {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

impl KeyBy {
    /// Whether a closure chooses the key (it reads the whole request head).
    pub fn is_custom(&self) -> bool {
        matches!(self, Self::Custom(_))
    }

    /// The request's key, or `None` when the request has none of this kind.
    pub fn resolve(&self, parts: &Parts, ip: &ClientIp) -> Option<String> {
        let mut key = Key::default();
        self.part(parts, ip)?.push_to(&mut key);
        Some(key.as_str().to_owned())
    }

    fn part<'a, H: Head>(&self, head: &'a H, ip: &ClientIp) -> Option<KeyPart<'a>> {
        let principal = || head.extensions().get::<Principal>();
        Some(match self {
            Self::Ip => KeyPart::Ip(ip.resolve_head(head)?),
            Self::Subject => KeyPart::Borrowed(principal()?.subject()),
            Self::ApiKey => KeyPart::Borrowed(
                principal()
                    .filter(|p| p.kind() == PrincipalKind::ApiKey)?
                    .subject(),
            ),
            Self::Tenant => KeyPart::Borrowed(principal()?.tenant()?),
            Self::Custom(f) => KeyPart::Owned(f(head.parts()?)?),
        })
    }
}

/// What a policy does when the shared backend (Redis) is unreachable or slow. The choice is
/// logged (`mortar::ratelimit`, warn) and counted ([`crate::RateLimiter::failures`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureMode {
    /// Let requests through, limited by an in-process fallback limiter (per instance).
    Open,
    /// Refuse requests (503 with `Retry-After`) until the backend answers again.
    Closed,
}

/// One limit: a name (shown in the `RateLimit` headers), a quota, what requests are counted by,
/// optional tiers, a cost, and a failure mode.
///
/// ```
/// use std::num::NonZeroU32;
/// use mortar_ratelimit::{FailureMode, KeyBy, Policy, Quota};
///
/// let n = |v| NonZeroU32::new(v).unwrap();
/// let api = Policy::new("api", Quota::per_minute(n(100)), KeyBy::Subject)
///     .unwrap()
///     .tiers(move |p| p.has_role("pro").then(|| Quota::per_minute(n(1000))));
/// let login = Policy::login("login", Quota::per_minute(n(10)), KeyBy::Ip).unwrap();
/// assert_eq!(login.failure_mode(), FailureMode::Closed);
/// assert_eq!(api.failure_mode(), FailureMode::Open);
/// ```
#[derive(Clone)]
pub struct Policy {
    pub(crate) name: Arc<str>,
    pub(crate) quota: Quota,
    pub(crate) key: KeyBy,
    pub(crate) tiers: Option<TierFn>,
    pub(crate) cost: u32,
    pub(crate) failure: FailureMode,
    /// The `RateLimit-Policy` member of the default quota, written once.
    pub(crate) header: Option<HeaderValue>,
    /// The start of its `RateLimit` member, `"name";r=`, written once.
    pub(crate) limit_prefix: Box<[u8]>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("quota", &self.quota)
            .field("key", &self.key)
            .field("tiers", &self.tiers.is_some())
            .field("cost", &self.cost)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// A policy that fails open (with an in-process fallback) when the backend is down.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the name is empty, longer than 64 bytes, or not printable ASCII
    /// (it is sent in headers).
    pub fn new(name: &str, quota: Quota, key: KeyBy) -> Result<Self, Error> {
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\');
        if !valid {
            return Err(Error::Config(format!(
                "policy names are 1 to 64 printable ASCII characters without quotes: {name:?}"
            )));
        }
        Ok(Self {
            name: Arc::from(name),
            quota,
            key,
            tiers: None,
            cost: 1,
            failure: FailureMode::Open,
            header: policy_value([(&quota, name)]),
            limit_prefix: limit_prefix(name),
        })
    }

    /// A policy guarding credentials (login, one-time codes, password reset): fails closed.
    ///
    /// # Errors
    ///
    /// As [`Self::new`].
    pub fn login(name: &str, quota: Quota, key: KeyBy) -> Result<Self, Error> {
        Ok(Self::new(name, quota, key)?.fail_closed())
    }

    /// Fails open when the backend is down.
    #[must_use]
    pub fn fail_open(mut self) -> Self {
        self.failure = FailureMode::Open;
        self
    }

    /// Fails closed when the backend is down.
    #[must_use]
    pub fn fail_closed(mut self) -> Self {
        self.failure = FailureMode::Closed;
        self
    }

    /// Chooses the quota from the principal (free / pro / internal tiers); `None` keeps the
    /// policy's own quota.
    #[must_use]
    pub fn tiers(
        mut self,
        tiers: impl Fn(&Principal) -> Option<Quota> + Send + Sync + 'static,
    ) -> Self {
        self.tiers = Some(Arc::new(tiers));
        self
    }

    /// Sets how many requests each matching request counts for (default 1).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the cost is zero or exceeds the quota's burst (such a request
    /// could never pass).
    pub fn cost(mut self, cost: u32) -> Result<Self, Error> {
        if cost == 0 || cost > self.quota.burst() {
            return Err(Error::Config(format!(
                "a cost of {cost} does not fit a burst of {}",
                self.quota.burst()
            )));
        }
        self.cost = cost;
        Ok(self)
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The default quota.
    pub fn quota(&self) -> Quota {
        self.quota
    }

    /// The failure mode.
    pub fn failure_mode(&self) -> FailureMode {
        self.failure
    }

    /// The request's key and quota under this policy, or `None` when the policy does not apply.
    pub(crate) fn resolve<H: Head>(&self, head: &H, ip: &ClientIp) -> Option<(Key, Quota)> {
        // One buffer for `policy:key`, made only when the request has the key.
        let part = self.key.part(head, ip)?;
        let mut key = Key::default();
        key.push_str(&self.name);
        key.push_str(":");
        part.push_to(&mut key);
        let quota = self
            .tiers
            .as_ref()
            .and_then(|tiers| head.extensions().get::<Principal>().and_then(|p| tiers(p)))
            .unwrap_or(self.quota);
        Some((key, quota))
    }
}

/// The client's address, as far as it can be trusted.
///
/// The peer address comes from the connection (axum's `ConnectInfo<SocketAddr>` with feature
/// `axum`, or a [`SocketAddr`] / [`PeerAddr`] request extension). `Forwarded` (RFC 7239) and
/// `X-Forwarded-For` are read **only** when the peer is one of the trusted proxies, and then from
/// the right, skipping further trusted proxies: the first address no trusted proxy vouches for
/// is the client. Without trusted proxies the headers are ignored, so a client cannot choose
/// its own key.
#[derive(Clone, Debug, Default)]
pub struct ClientIp {
    trusted: Arc<[IpNet]>,
}

/// The peer address of a connection, for servers that are not axum: insert it as a request
/// extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddr(pub IpAddr);

impl ClientIp {
    /// Trusts no proxy: the peer address is the client.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts these proxies (`"10.0.0.0/8"`, `"192.0.2.10"`, `"::1"`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when an entry is not an address or a network.
    pub fn trusting<I, S>(proxies: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let trusted = proxies
            .into_iter()
            .map(|p| {
                let p = p.as_ref().trim();
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| Error::Config(format!("not an address or network: {p:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            trusted: Arc::from(trusted),
        })
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    fn peer(extensions: &Extensions) -> Option<IpAddr> {
        #[cfg(feature = "axum")]
        if let Some(info) = extensions.get::<axum::extract::ConnectInfo<SocketAddr>>() {
            return Some(info.0.ip());
        }
        extensions
            .get::<PeerAddr>()
            .map(|p| p.0)
            .or_else(|| extensions.get::<SocketAddr>().map(SocketAddr::ip))
    }

    /// The client address of a request.
    pub fn resolve(&self, parts: &Parts) -> Option<IpAddr> {
        self.resolve_head(parts)
    }

    fn resolve_head<H: Head>(&self, head: &H) -> Option<IpAddr> {
        let peer = Self::peer(head.extensions())?;
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let mut hops = forwarded_for(head.headers());
        // Right to left: the nearest hop first.
        hops.reverse();
        let mut client = peer;
        for hop in hops {
            let Some(ip) = hop else {
                // An unparsable hop: stop at the last address we could vouch for.
                break;
            };
            client = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// The addresses a request passed through, left (client) to right (nearest proxy): `Forwarded`
/// `for=` values when present, else `X-Forwarded-For`. `None` for a hop that is not an address
/// (obfuscated identifiers, `unknown`).
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let forwarded: Vec<Option<IpAddr>> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_node(value.trim()))
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| parse_node(hop.trim()))
        .collect()
}

/// An RFC 7239 node (`192.0.2.1`, `"[2001:db8::1]:4711"`, `192.0.2.1:80`) or a bare address.
fn parse_node(value: &str) -> Option<IpAddr> {
    let value = value.trim_matches('"');
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    value.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, headers: &[(&str, &str)]) -> Parts {
        let mut req = Request::builder();
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        parts.extensions.insert(PeerAddr(peer.parse().unwrap()));
        parts
    }

    #[test]
    fn address_keys_are_the_usual_text() {
        let ip = ClientIp::new();
        for addr in [
            "0.0.0.0",
            "9.10.99.100",
            "203.0.113.7",
            "255.255.255.255",
            "10.0.200.1",
            "2001:db8::1",
            "::ffff:192.0.2.1",
        ] {
            let key = KeyBy::Ip.resolve(&parts(addr, &[]), &ip).unwrap();
            assert_eq!(key, addr.parse::<IpAddr>().unwrap().to_string());
        }
    }

    #[test]
    fn forwarded_headers_only_from_trusted_proxies() {
        let none = ClientIp::new();
        let spoofed = parts("203.0.113.9", &[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(none.resolve(&spoofed), Some("203.0.113.9".parse().unwrap()));

        let proxies = ClientIp::trusting(["10.0.0.0/8", "::1"]).unwrap();
        assert_eq!(
            proxies.resolve(&spoofed),
            Some("203.0.113.9".parse().unwrap()),
            "peer not trusted"
        );
        let chain = parts(
            "10.0.0.2",
            &[("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.5")],
        );
        assert_eq!(
            proxies.resolve(&chain),
            Some("198.51.100.7".parse().unwrap()),
            "first untrusted from the right"
        );
        let rfc7239 = parts(
            "::1",
            &[
                (
                    "forwarded",
                    "for=192.0.2.60;proto=http, for=\"[2001:db8:cafe::17]:4711\"",
                ),
                ("x-forwarded-for", "6.6.6.6"),
            ],
        );
        assert_eq!(
            proxies.resolve(&rfc7239),
            Some("2001:db8:cafe::17".parse().unwrap())
        );
        let obfuscated = parts("10.0.0.2", &[("forwarded", "for=_hidden, for=10.0.0.3")]);
        assert_eq!(
            proxies.resolve(&obfuscated),
            Some("10.0.0.3".parse().unwrap())
        );
        assert!(ClientIp::trusting(["nonsense"]).is_err());
    }
}
