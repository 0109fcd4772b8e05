//! [`SessionCookies`]: browser sessions in a `__Host-` cookie, as an authenticator, with the
//! cross-origin check that cookie authentication needs.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use cookie::{Cookie, SameSite};
use http::header::{COOKIE, HOST, ORIGIN};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Uri};
use secrecy::SecretString;
use sha2::Digest as _;

use super::{SessionId, Sessions};
use crate::error::Error;
use crate::layer::header;
use crate::layer::{AuthFuture, Authenticator};

/// The default cookie name. The `__Host-` prefix makes browsers accept the cookie only when it
/// is `Secure`, has `Path=/` and no `Domain`: no subdomain and no plain-HTTP page can set or
/// overwrite it (RFC 6265bis §4.1.3.2).
pub const DEFAULT_COOKIE_NAME: &str = "__Host-mortar_session";

/// The stored hash of a cookie secret. A domain tag keeps it apart from refresh-token hashes, so
/// one kind of secret can never be looked up as the other.
pub(crate) fn hash_cookie_secret(secret: &str) -> String {
    let mut hasher = sha2::Sha256::new();
    hasher.update(b"mortar-session-cookie\0");
    hasher.update(secret.as_bytes());
    hex::encode(hasher.finalize())
}

/// A browser session just started: its id and the secret for the cookie, shown once.
pub struct CookieSession {
    /// The session.
    pub session_id: SessionId,
    /// The cookie value: 256 random bits, stored only as a hash.
    pub secret: SecretString,
    /// When the session (and the cookie) ends regardless of use.
    pub expires_at: SystemTime,
}

impl fmt::Debug for CookieSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieSession")
            .field("session_id", &self.session_id)
            .field("secret", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Cookie sessions at the HTTP edge: reads the session cookie as an [`Authenticator`], writes
/// and clears it, and refuses cross-origin unsafe requests; cheap to clone.
///
/// The cookie is `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`, with a `Max-Age` ending with the
/// session, named [`DEFAULT_COOKIE_NAME`] unless set otherwise. Its value is an opaque secret,
/// never the session id (which access tokens carry as `sid`).
///
/// **Cross-origin requests.** A browser attaches the cookie to requests other sites trigger, so
/// a cookie-authenticated request with an unsafe method (anything but GET, HEAD, OPTIONS, TRACE)
/// must prove it comes from our own pages (ASVS 5.0 V3.5, OWASP CSRF cheat sheet):
///
/// 1. `Sec-Fetch-Site: same-origin` or `none` (typed in or bookmarked) passes; `same-site` and
///    `cross-site` pass only from a [trusted origin](Self::trusted_origin);
/// 2. without `Sec-Fetch-Site` (older browsers), the `Origin` must be a trusted origin or the
///    request's own host;
/// 3. with neither header, the request is refused: every current browser sends at least one,
///    and a non-browser client holding a session cookie can send `Origin` too.
///
/// A refused request answers 403 ([`Error::CrossOrigin`]). A cookie whose session is unknown,
/// expired or revoked counts as no cookie (browsers keep sending stale cookies; a signed-out
/// visitor must still reach the login page), so required routes answer 401 and optional ones see
/// an anonymous caller.
///
/// ```
/// use std::sync::Arc;
/// use mortar_auth::session::{MemorySessionStore, SessionCookies, Sessions};
/// use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
/// use mortar_auth::user::MemoryUserStore;
///
/// let tokens = AccessTokens::builder(
///     KeyRing::new(SigningKey::generate_ed25519("k1").unwrap()),
///     "https://auth.example.com",
///     "https://api.example.com",
/// )
/// .build();
/// let sessions = Sessions::new(
///     Arc::new(MemorySessionStore::new()),
///     Arc::new(MemoryUserStore::new()),
///     tokens,
/// );
/// let cookies = SessionCookies::new(sessions).trusted_origin("https://admin.example.com");
/// assert_eq!(
///     cookies.clear_cookie().to_str().unwrap(),
///     "__Host-mortar_session=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0"
/// );
/// // Then: AuthLayer::optional().with(tokens).with(cookies.clone())
/// ```
#[derive(Clone)]
pub struct SessionCookies {
    sessions: Sessions,
    name: Arc<str>,
    trusted: Arc<[String]>,
}

impl fmt::Debug for SessionCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCookies")
            .field("name", &self.name)
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

/// GET, HEAD, OPTIONS and TRACE (RFC 9110 §9.2.1).
fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

impl SessionCookies {
    /// Cookie sessions of `sessions`, in the cookie [`DEFAULT_COOKIE_NAME`].
    pub fn new(sessions: Sessions) -> Self {
        Self {
            sessions,
            name: Arc::from(DEFAULT_COOKIE_NAME),
            trusted: Arc::from(Vec::new()),
        }
    }

    /// Sets the cookie name. Keep the `__Host-` prefix unless a browser must send the cookie to
    /// another path or subdomain.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the name is not a valid cookie name (RFC 6265 token).
    pub fn name(mut self, name: &str) -> Result<Self, Error> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !valid {
            return Err(Error::Config(format!("invalid cookie name {name:?}")));
        }
        self.name = Arc::from(name);
        Ok(self)
    }

    /// Trusts unsafe requests from this origin (`https://admin.example.com`, scheme, host and
    /// port as browsers send them in `Origin`) in addition to the request's own.
    #[must_use]
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        let mut trusted = self.trusted.to_vec();
        trusted.push(origin.into().trim_end_matches('/').to_owned());
        self.trusted = Arc::from(trusted);
        self
    }

    /// The sessions behind the cookies.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// A `Set-Cookie` value with the session cookie's attributes.
    fn cookie(&self, value: &str, max_age_secs: u64) -> Option<HeaderValue> {
        let cookie = Cookie::build((&*self.name, value))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(true)
            .path("/")
            .max_age(cookie::time::Duration::seconds(
                i64::try_from(max_age_secs).unwrap_or(i64::MAX),
            ));
        HeaderValue::try_from(cookie.to_string()).ok()
    }

    /// The `Set-Cookie` value that hands a new session to the browser.
    pub fn set_cookie(&self, session: &CookieSession) -> HeaderValue {
        use secrecy::ExposeSecret as _;
        let left = session
            .expires_at
            .duration_since(self.sessions.now())
            .unwrap_or_default();
        // Rounded up: the cookie never ends before the session. The name is a checked token
        // and the secret base64url: always a valid header value.
        self.cookie(
            session.secret.expose_secret(),
            mortar_core::clock::ceil_secs(left),
        )
        .unwrap_or_else(|| self.clear_cookie())
    }

    /// The `Set-Cookie` value that removes the cookie (sign-out).
    pub fn clear_cookie(&self) -> HeaderValue {
        self.cookie("", 0)
            .unwrap_or_else(|| HeaderValue::from_static("invalid=; Max-Age=0"))
    }

    /// The session secret in a request's `Cookie` headers, if any.
    pub fn secret(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == &*self.name && !c.value().is_empty())
            .map(|c| c.value().to_owned())
    }

    /// Refuses a cross-origin request with an unsafe method (see the type's documentation).
    ///
    /// # Errors
    ///
    /// [`Error::CrossOrigin`].
    pub fn check_origin(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), Error> {
        if is_safe(method) {
            return Ok(());
        }
        let origin = header(headers, ORIGIN.as_str()).filter(|o| *o != "null");
        let trusted =
            origin.is_some_and(|o| self.trusted.iter().any(|t| t.eq_ignore_ascii_case(o)));
        let allowed = match header(headers, "sec-fetch-site") {
            Some(site) => site == "same-origin" || site == "none" || trusted,
            None => {
                trusted
                    || origin.is_some_and(|o| {
                        let authority = o
                            .strip_prefix("https://")
                            .or_else(|| o.strip_prefix("http://"));
                        // HTTP/1.1 names the host in `Host`, HTTP/2 in the URI's authority.
                        let host = header(headers, HOST.as_str())
                            .or_else(|| uri.authority().map(http::uri::Authority::as_str));
                        authority
                            .zip(host)
                            .is_some_and(|(a, h)| a.eq_ignore_ascii_case(h))
                    })
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(Error::CrossOrigin)
        }
    }
}

/// The session cookie: checks the origin of unsafe requests, then the session.
impl Authenticator for SessionCookies {
    fn authenticate<'a>(&'a self, parts: &'a Parts) -> AuthFuture<'a> {
        Box::pin(async move {
            let Some(secret) = self.secret(&parts.headers) else {
                return Ok(None);
            };
            self.check_origin(&parts.method, &parts.uri, &parts.headers)?;
            match self.sessions.authenticate_cookie(&secret).await {
                Ok(principal) => Ok(Some(principal)),
                Err(Error::InvalidToken(reason)) => {
                    tracing::debug!(target: "mortar::auth", %reason, "session cookie ignored");
                    Ok(None)
                }
                Err(other) => Err(other),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::{HeaderMap, Method, Uri};

    use super::SessionCookies;
    use crate::error::Error;
    use crate::session::{MemorySessionStore, Sessions};
    use crate::token::{AccessTokens, KeyRing, SigningKey};
    use crate::user::MemoryUserStore;

    fn cookies() -> SessionCookies {
        let tokens = AccessTokens::builder(
            KeyRing::new(SigningKey::hmac("k", jsonwebtoken::Algorithm::HS256, &[7; 32]).unwrap()),
            "iss",
            "aud",
        )
        .build();
        SessionCookies::new(Sessions::new(
            Arc::new(MemorySessionStore::new()),
            Arc::new(MemoryUserStore::new()),
            tokens,
        ))
        .trusted_origin("https://admin.example.com/")
    }

    fn check(method: &Method, uri: &str, headers: &[(&'static str, &'static str)]) -> bool {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, value.parse().unwrap());
        }
        match cookies().check_origin(method, &uri.parse::<Uri>().unwrap(), &map) {
            Ok(()) => true,
            Err(Error::CrossOrigin) => false,
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn the_origin_check() {
        // Safe methods are never checked.
        for method in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert!(check(&method, "/", &[]));
        }
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(!check(&method, "/", &[]), "neither header");
        }
        let post = |headers| check(&Method::POST, "/x", headers);
        assert!(post(&[("sec-fetch-site", "same-origin")]));
        assert!(post(&[("sec-fetch-site", "none")]));
        assert!(!post(&[("sec-fetch-site", "same-site")]));
        assert!(
            !post(&[
                ("sec-fetch-site", "cross-site"),
                ("host", "app.example.com"),
                ("origin", "https://app.example.com")
            ]),
            "Sec-Fetch-Site wins"
        );
        assert!(
            post(&[
                ("sec-fetch-site", "same-site"),
                ("origin", "https://ADMIN.example.com")
            ]),
            "trusted, trailing slash and case ignored"
        );
        // Older browsers: Origin against Host, or against the HTTP/2 authority.
        assert!(post(&[
            ("origin", "https://app.example.com:8443"),
            ("host", "app.example.com:8443")
        ]));
        assert!(!post(&[
            ("origin", "https://app.example.com:8443"),
            ("host", "app.example.com")
        ]));
        assert!(check(
            &Method::POST,
            "https://app.example.com/x",
            &[("origin", "https://app.example.com")]
        ));
        assert!(!post(&[("origin", "null"), ("host", "null")]));
        assert!(
            !post(&[("origin", "app.example.com"), ("host", "app.example.com")]),
            "no scheme"
        );
        assert!(!post(&[
            ("origin", "https://evil.example"),
            ("host", "app.example.com")
        ]));
    }

    #[test]
    fn cookie_names_and_values() {
        assert!(cookies().name("").is_err());
        assert!(cookies().name("a b").is_err());
        assert!(cookies().name("a;b").is_err());
        let named = cookies().name("__Host-app").unwrap();
        let mut headers = HeaderMap::new();
        headers.append("cookie", "other=1; __Host-app=s3cr3t".parse().unwrap());
        headers.append("cookie", "__Host-app=second".parse().unwrap());
        assert_eq!(named.secret(&headers).as_deref(), Some("s3cr3t"));
        let mut empty = HeaderMap::new();
        empty.append("cookie", "__Host-app=".parse().unwrap());
        assert_eq!(named.secret(&empty), None);
        assert_eq!(
            named.clear_cookie().to_str().unwrap(),
            "__Host-app=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0"
        );
    }
}
