//! RFC 9457 problem details: the one error shape every Mortar crate answers with.
//!
//! A [`Problem`] is an `application/problem+json` document (RFC 9457 §3) plus the response headers
//! that belong with it (`WWW-Authenticate` on a 401, `Retry-After` on a 429 or 503). Every Mortar
//! crate's error type converts into one, and the framework integrations turn it into a response:
//! `IntoResponse` with feature `axum`, `ResponseError` with feature `actix`, and
//! [`Problem::to_http_response`] for anything built on `http` (tower, hyper).
//!
//! # Server errors never leak internals
//!
//! A problem with a 5xx status is serialized with only `type`, `title`, `status`, `instance` and
//! `retry_after`: any `detail`, field `errors` or extension member set on it stays on the value (for
//! a logging layer) but is never sent. The underlying error can be attached with
//! [`Problem::with_source`] for the same purpose; it is never serialized.
//!
//! ```
//! use mortar_core::Problem;
//!
//! let io = std::io::Error::other("connection to db-primary:5432 refused");
//! let problem = Problem::internal_error().with_source(io).with_detail("db-primary is down");
//! let json = problem.to_json();
//! assert!(!String::from_utf8(json.to_vec()).unwrap().contains("db-primary"));
//! assert!(problem.source_error().is_some()); // still there for the log line
//! ```
//!
//! # Type URIs
//!
//! Mortar's own problem types use stable `urn:mortar:problem:<slug>` URIs, listed in
//! docs/problems.md; a problem built from a bare status uses `about:blank` with the status's
//! reason phrase as its title, as RFC 9457 §4.2.1 prescribes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::body::ProblemBody;

/// The media type of a problem document (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The prefix of Mortar's own problem type URIs.
pub const TYPE_PREFIX: &str = "urn:mortar:problem:";

/// The `type` of a problem that has no more specific type (RFC 9457 §4.2.1).
pub const ABOUT_BLANK: &str = "about:blank";

/// Member names defined by RFC 9457 §3.1 (and the ones Mortar defines itself); extension
/// members may not reuse them.
const RESERVED: [&str; 7] = [
    "type",
    "title",
    "status",
    "detail",
    "instance",
    "errors",
    "retry_after",
];

/// An RFC 9457 problem details document, with the response headers that go with it.
///
/// Build one from a status ([`Problem::new`] or a shortcut such as [`Problem::not_found`]), then
/// refine it with the `with_*` methods. Every Mortar error type implements `Into<Problem>`.
///
/// ```
/// use http::StatusCode;
/// use mortar_core::{FieldError, Problem};
///
/// let problem = Problem::new(StatusCode::CONFLICT)
///     .with_type("https://example.com/problems/out-of-credit")
///     .with_title("You do not have enough credit.")
///     .with_detail("Your current balance is 30, but that costs 50.")
///     .with_instance("/account/12345/msgs/abc")
///     .with_extension("balance", 30);
///
/// let json: serde_json::Value = serde_json::from_slice(&problem.to_json()).unwrap();
/// assert_eq!(json["type"], "https://example.com/problems/out-of-credit");
/// assert_eq!(json["status"], 409);
/// assert_eq!(json["balance"], 30);
/// ```
#[derive(Clone)]
pub struct Problem {
    type_uri: Cow<'static, str>,
    title: Cow<'static, str>,
    status: StatusCode,
    detail: Option<Cow<'static, str>>,
    instance: Option<String>,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
    extensions: BTreeMap<String, Value>,
    headers: HeaderMap,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl Problem {
    /// A problem of type `about:blank` whose title is the status's reason phrase.
    ///
    /// A status outside 400–599 is not an error; it is accepted (problem documents describe
    /// errors, but RFC 9457 does not forbid other codes) and used as given.
    pub fn new(status: StatusCode) -> Self {
        Self {
            type_uri: Cow::Borrowed(ABOUT_BLANK),
            title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
            status,
            detail: None,
            instance: None,
            errors: Vec::new(),
            retry_after: None,
            extensions: BTreeMap::new(),
            headers: HeaderMap::new(),
            source: None,
        }
    }

    /// A problem of one of Mortar's own types: `urn:mortar:problem:<slug>`.
    ///
    /// ```
    /// use http::StatusCode;
    /// use mortar_core::Problem;
    ///
    /// let p = Problem::mortar(StatusCode::UNAUTHORIZED, "token-expired", "The token has expired.");
    /// assert_eq!(p.type_uri(), "urn:mortar:problem:token-expired");
    /// ```
    pub fn mortar(status: StatusCode, slug: &str, title: impl Into<Cow<'static, str>>) -> Self {
        Self::new(status)
            .with_type(format!("{TYPE_PREFIX}{slug}"))
            .with_title(title)
    }

    /// 400 Bad Request.
    pub fn bad_request() -> Self {
        Self::new(StatusCode::BAD_REQUEST)
    }

    /// 401 Unauthorized, with the `WWW-Authenticate: Bearer` challenge that RFC 9110 §15.5.2
    /// requires. Replace the challenge with [`Problem::with_header`] for other schemes.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED)
            .with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 403 Forbidden.
    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN)
    }

    /// 404 Not Found.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND)
    }

    /// 405 Method Not Allowed.
    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED)
    }

    /// 409 Conflict.
    pub fn conflict() -> Self {
        Self::new(StatusCode::CONFLICT)
    }

    /// 413 Content Too Large.
    pub fn payload_too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE)
    }

    /// 422 Unprocessable Content of type `urn:mortar:problem:validation`, listing what was wrong
    /// with each field.
    ///
    /// ```
    /// use mortar_core::{FieldError, Problem};
    ///
    /// let p = Problem::validation([FieldError::new("/email", "must be an e-mail address")]);
    /// assert_eq!(p.status(), 422);
    /// assert_eq!(p.errors()[0].pointer(), "#/email");
    /// ```
    pub fn validation(errors: impl IntoIterator<Item = FieldError>) -> Self {
        Self::mortar(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Your request is not valid.",
        )
        .with_errors(errors)
    }

    /// 429 Too Many Requests, with `Retry-After` (rounded up to whole seconds, never earlier than
    /// the given duration).
    pub fn too_many_requests(retry_after: Duration) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS).with_retry_after(retry_after)
    }

    /// 500 Internal Server Error. Attach the cause with [`Problem::with_source`]; it is never sent.
    pub fn internal_error() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// 503 Service Unavailable.
    pub fn service_unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE)
    }

    /// Sets the `type` URI (RFC 9457 §3.1.1).
    #[must_use]
    pub fn with_type(mut self, type_uri: impl Into<Cow<'static, str>>) -> Self {
        self.type_uri = type_uri.into();
        self
    }

    /// Sets the `title`, a short summary that does not change between occurrences (§3.1.3).
    #[must_use]
    pub fn with_title(mut self, title: impl Into<Cow<'static, str>>) -> Self {
        self.title = title.into();
        self
    }

    /// Sets the `status`.
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Sets the `detail`, an explanation of this occurrence meant for the client (§3.1.4).
    /// Not sent for a 5xx problem.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the `instance`, a URI reference naming this occurrence (§3.1.5).
    #[must_use]
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Adds field-level errors, sent as the `errors` extension member. Not sent for a 5xx problem.
    #[must_use]
    pub fn with_errors(mut self, errors: impl IntoIterator<Item = FieldError>) -> Self {
        self.errors.extend(errors);
        self
    }

    /// The field-level errors, to edit in place (localization rewrites their `detail`).
    pub fn errors_mut(&mut self) -> &mut [FieldError] {
        &mut self.errors
    }

    /// Sets how long the client should wait: the `retry_after` member (whole seconds, rounded
    /// up) and the `Retry-After` header.
    #[must_use]
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        let secs = crate::clock::ceil_secs(after);
        self.retry_after = Some(secs);
        self.headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        self
    }

    /// Adds an extension member (RFC 9457 §3.2). A name that is one of the standard members
    /// (`type`, `title`, `status`, `detail`, `instance`) or Mortar's (`errors`, `retry_after`) is
    /// ignored, so an extension can never overwrite them. Not sent for a 5xx problem.
    #[must_use]
    pub fn with_extension(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        let name = name.into();
        if !RESERVED.contains(&name.as_str()) {
            self.extensions.insert(name, value.into());
        }
        self
    }

    /// Adds a response header sent with the problem (`WWW-Authenticate`, `RateLimit`…). A
    /// header of the same name is replaced; `Content-Type` cannot be changed.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        if name != CONTENT_TYPE {
            self.headers.insert(name, value);
        }
        self
    }

    /// Attaches the error that caused this problem, for logging. It is never serialized.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The `type` URI.
    pub fn type_uri(&self) -> &str {
        &self.type_uri
    }

    /// The `title`.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `detail`, if any (also when it will not be sent because the status is 5xx).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The `instance`, if any.
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// The field-level errors.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// The `retry_after` member in seconds, if any.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// An extension member, if present.
    pub fn extension(&self, name: &str) -> Option<&Value> {
        self.extensions.get(name)
    }

    /// Every extension member.
    pub fn extensions(&self) -> &BTreeMap<String, Value> {
        &self.extensions
    }

    /// The response headers sent with the problem (besides `Content-Type`).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The attached cause, if any.
    pub fn source_error(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.source.as_deref()
    }

    /// Whether this is a server error (5xx), whose details are withheld from the client.
    pub fn is_server_error(&self) -> bool {
        self.status.is_server_error()
    }

    /// The document as `application/problem+json` bytes.
    pub fn to_json(&self) -> Bytes {
        // Sized for a typical document, so serializing does not reallocate on the way.
        let estimate = 64
            + self.type_uri.len()
            + self.title.len()
            + self.detail.as_ref().map_or(0, |d| d.len())
            + self.instance.as_ref().map_or(0, String::len)
            + if self.errors.is_empty() && self.extensions.is_empty() {
                0
            } else {
                128
            };
        let mut buf = Vec::with_capacity(estimate);
        // Serializing a map of strings and JSON values into memory cannot fail.
        match serde_json::to_writer(&mut buf, self) {
            Ok(()) => Bytes::from(buf),
            Err(_) => Bytes::new(),
        }
    }

    /// The document as an `http` response with the problem's status, `Content-Type:
    /// application/problem+json` and headers, whose body type fits any layer that may answer
    /// early (see [`ProblemBody`]).
    ///
    /// ```
    /// use http_body::Body as _;
    /// use mortar_core::Problem;
    ///
    /// let response = Problem::not_found().to_http_response::<String>();
    /// assert_eq!(response.status(), 404);
    /// assert!(response.body().is_problem());
    /// assert_eq!(response.body().size_hint().exact(), Some(response.headers()["content-length"].to_str().unwrap().parse().unwrap()));
    /// ```
    pub fn to_http_response<B>(&self) -> http::Response<ProblemBody<B>> {
        let (parts, bytes) = self.to_parts();
        http::Response::from_parts(parts, ProblemBody::from_json(bytes))
    }

    /// Like [`Problem::to_http_response`], consuming the problem so its headers are moved rather
    /// than copied: the cheaper call on a hot rejection path.
    pub fn into_http_response<B>(self) -> http::Response<ProblemBody<B>> {
        let (parts, bytes) = self.into_parts();
        http::Response::from_parts(parts, ProblemBody::from_json(bytes))
    }

    /// The response head (status, headers) and body bytes, for integrations that build their
    /// own response type.
    pub fn to_parts(&self) -> (http::response::Parts, Bytes) {
        self.head(self.headers.clone())
    }

    /// Like [`Problem::to_parts`], consuming the problem.
    pub fn into_parts(mut self) -> (http::response::Parts, Bytes) {
        let headers = std::mem::take(&mut self.headers);
        self.head(headers)
    }

    fn head(&self, mut headers: HeaderMap) -> (http::response::Parts, Bytes) {
        let bytes = self.to_json();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = self.status;
        parts.headers = headers;
        (parts, bytes)
    }
}

impl fmt::Debug for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Problem")
            .field("type", &self.type_uri)
            .field("title", &self.title)
            .field("status", &self.status.as_u16())
            .field("detail", &self.detail)
            .field("instance", &self.instance)
            .field("errors", &self.errors)
            .field("retry_after", &self.retry_after)
            .field("extensions", &self.extensions)
            .field("source", &self.source.as_ref().map(ToString::to_string))
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl StdError for Problem {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl From<StatusCode> for Problem {
    fn from(status: StatusCode) -> Self {
        Self::new(status)
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let public = !self.is_server_error();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &self.type_uri)?;
        map.serialize_entry("title", &self.title)?;
        map.serialize_entry("status", &self.status.as_u16())?;
        if let (true, Some(detail)) = (public, &self.detail) {
            map.serialize_entry("detail", detail)?;
        }
        if let Some(instance) = &self.instance {
            map.serialize_entry("instance", instance)?;
        }
        if public && !self.errors.is_empty() {
            map.serialize_entry("errors", &self.errors)?;
        }
        if let Some(secs) = self.retry_after {
            map.serialize_entry("retry_after", &secs)?;
        }
        if public {
            for (name, value) in &self.extensions {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

/// Reads a problem document, e.g. from a response in a client or a test. Unknown members become
/// extensions; a missing `type` is `about:blank` and a missing `title` the status's reason phrase
/// (RFC 9457 §3.1); a missing or invalid `status` is an error.
impl<'de> Deserialize<'de> for Problem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type")]
            type_uri: Option<String>,
            title: Option<String>,
            status: u16,
            detail: Option<String>,
            instance: Option<String>,
            #[serde(default)]
            errors: Vec<FieldError>,
            retry_after: Option<u64>,
            #[serde(flatten)]
            extensions: BTreeMap<String, Value>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let status = StatusCode::from_u16(raw.status).map_err(D::Error::custom)?;
        let mut problem = Problem::new(status);
        if let Some(t) = raw.type_uri {
            problem.type_uri = Cow::Owned(t);
        }
        if let Some(t) = raw.title {
            problem.title = Cow::Owned(t);
        }
        problem.detail = raw.detail.map(Cow::Owned);
        problem.instance = raw.instance;
        problem.errors = raw.errors;
        if let Some(secs) = raw.retry_after {
            problem = problem.with_retry_after(Duration::from_secs(secs));
        }
        problem.extensions = raw.extensions;
        Ok(problem)
    }
}

/// What was wrong with one field of a request: an entry of a problem's `errors` member.
///
/// The field is named by a JSON pointer in URI-fragment form (`#/items/0/name`), as in the
/// RFC 9457 §3 example; `code` is a stable machine-readable name of the rule that failed
/// (`length`, `email`…), which localization uses to render `detail` in the client's language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pointer: String,
    detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    params: BTreeMap<String, Value>,
}

impl FieldError {
    /// A field error. `field` is a JSON pointer (`/email`, `#/items/0`) or a dotted path
    /// (`email`, `items[0].name`); either is normalized to `#/…` form.
    ///
    /// ```
    /// use mortar_core::FieldError;
    ///
    /// assert_eq!(FieldError::new("items[0].name", "too short").pointer(), "#/items/0/name");
    /// assert_eq!(FieldError::new("/a~1b", "bad").pointer(), "#/a~1b");
    /// assert_eq!(FieldError::new("", "bad").pointer(), "#");
    /// ```
    pub fn new(field: impl AsRef<str>, detail: impl Into<String>) -> Self {
        Self {
            pointer: to_pointer(field.as_ref()),
            detail: detail.into(),
            code: None,
            params: BTreeMap::new(),
        }
    }

    /// Sets the machine-readable rule name.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Adds a parameter of the rule (`min` of a length rule…), serialized in `params` so
    /// clients and localization can word the message themselves.
    ///
    /// ```
    /// use mortar_core::FieldError;
    ///
    /// let e = FieldError::new("/password", "must be at least 12 characters long")
    ///     .with_code("too_short")
    ///     .with_param("min", 12);
    /// assert_eq!(e.params()["min"], 12);
    /// ```
    #[must_use]
    pub fn with_param(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }

    /// Replaces the human-readable text (localization renders it in the client's language).
    pub fn set_detail(&mut self, detail: impl Into<String>) {
        self.detail = detail.into();
    }

    /// The rule's parameters.
    pub fn params(&self) -> &BTreeMap<String, Value> {
        &self.params
    }

    /// The JSON pointer to the field, in URI-fragment form.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }

    /// What is wrong, for a person.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The rule that failed, if named.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }
}

/// Normalizes a field name to a URI-fragment JSON pointer (RFC 6901 §6).
fn to_pointer(field: &str) -> String {
    if let Some(rest) = field.strip_prefix('#') {
        return format!("#{rest}");
    }
    if field.starts_with('/') {
        return format!("#{field}");
    }
    let mut out = String::from("#");
    // A dotted path with bracketed indices: `items[0].name`.
    for segment in field.split(['.', '[']).filter(|s| !s.is_empty()) {
        let segment = segment.strip_suffix(']').unwrap_or(segment);
        out.push('/');
        for c in segment.chars() {
            match c {
                '~' => out.push_str("~0"),
                '/' => out.push_str("~1"),
                c => out.push(c),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_of(p: &Problem) -> Value {
        serde_json::from_slice(&p.to_json()).unwrap()
    }

    #[test]
    fn rfc9457_members_and_defaults() {
        let p = Problem::new(StatusCode::NOT_FOUND);
        assert_eq!(
            json_of(&p),
            json!({"type": "about:blank", "title": "Not Found", "status": 404})
        );
    }

    #[test]
    fn rfc9457_section3_example_round_trips() {
        // The example of RFC 9457 §3 with its extension members.
        let doc = json!({
            "type": "https://example.com/probs/out-of-credit",
            "title": "You do not have enough credit.",
            "detail": "Your current balance is 30, but that costs 50.",
            "instance": "/account/12345/msgs/abc",
            "balance": 30,
            "accounts": ["/account/12345", "/account/67890"],
            "status": 403
        });
        let p: Problem = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(p.status(), StatusCode::FORBIDDEN);
        assert_eq!(p.extension("balance"), Some(&json!(30)));
        assert_eq!(json_of(&p), doc);
    }

    #[test]
    fn rfc9457_validation_example_shape() {
        let p = Problem::validation([
            FieldError::new("/age", "must be a positive integer"),
            FieldError::new("/profile/color", "must be 'green', 'red' or 'blue'"),
        ]);
        let v = json_of(&p);
        assert_eq!(v["status"], 422);
        assert_eq!(v["type"], "urn:mortar:problem:validation");
        assert_eq!(
            v["errors"],
            json!([
                {"pointer": "#/age", "detail": "must be a positive integer"},
                {"pointer": "#/profile/color", "detail": "must be 'green', 'red' or 'blue'"}
            ])
        );
    }

    #[test]
    fn server_errors_hide_everything_but_the_basics() {
        let p = Problem::internal_error()
            .with_detail("SELECT * FROM users failed: password=hunter2")
            .with_extension("query", "SELECT 1")
            .with_errors([FieldError::new("x", "y")])
            .with_instance("/req/1")
            .with_source(std::io::Error::other("secret internals"));
        let v = json_of(&p);
        assert_eq!(
            v,
            json!({"type": "about:blank", "title": "Internal Server Error", "status": 500, "instance": "/req/1"})
        );
        let body = String::from_utf8(p.to_json().to_vec()).unwrap();
        assert!(!body.contains("hunter2") && !body.contains("secret"));
        assert_eq!(p.source_error().unwrap().to_string(), "secret internals");

        let unavailable = Problem::service_unavailable().with_retry_after(Duration::from_secs(30));
        assert_eq!(json_of(&unavailable)["retry_after"], 30);
    }

    #[test]
    fn extensions_cannot_overwrite_standard_members() {
        let p = Problem::forbidden()
            .with_extension("status", 200)
            .with_extension("type", "x")
            .with_extension("errors", "x");
        let v = json_of(&p);
        assert_eq!(v["status"], 403);
        assert_eq!(v["type"], "about:blank");
        assert!(v.get("errors").is_none());
    }

    #[test]
    fn retry_after_rounds_up_and_sets_the_header() {
        let p = Problem::too_many_requests(Duration::from_millis(1_001));
        assert_eq!(p.retry_after(), Some(2));
        assert_eq!(p.headers()[RETRY_AFTER], "2");
        assert_eq!(json_of(&p)["retry_after"], 2);
    }

    #[test]
    fn unauthorized_carries_a_challenge_and_content_type_is_fixed() {
        let p = Problem::unauthorized()
            .with_header(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        let (parts, body) = p.to_parts();
        assert_eq!(parts.headers[WWW_AUTHENTICATE], "Bearer");
        assert_eq!(parts.headers[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(
            parts.headers[http::header::CONTENT_LENGTH],
            body.len().to_string().as_str()
        );
    }

    #[test]
    fn deserialize_rejects_bad_status_and_fills_defaults() {
        assert!(serde_json::from_value::<Problem>(json!({"status": 1000})).is_err());
        assert!(serde_json::from_value::<Problem>(json!({"title": "x"})).is_err());
        let p: Problem = serde_json::from_value(json!({"status": 429})).unwrap();
        assert_eq!(p.type_uri(), ABOUT_BLANK);
        assert_eq!(p.title(), "Too Many Requests");
    }

    #[test]
    fn display_and_debug() {
        let p = Problem::bad_request().with_detail("missing name");
        assert_eq!(p.to_string(), "400 Bad Request: missing name");
        assert!(format!("{p:?}").contains("missing name"));
    }

    #[test]
    fn pointers() {
        assert_eq!(to_pointer("email"), "#/email");
        assert_eq!(to_pointer("a.b[3].c"), "#/a/b/3/c");
        assert_eq!(to_pointer("[0]"), "#/0");
        assert_eq!(to_pointer("a/b~c"), "#/a~1b~0c");
        assert_eq!(to_pointer("#/x"), "#/x");
    }
}
