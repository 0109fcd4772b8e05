//! [`RequestAudit`]: what the request audit layer records, framework-free (the tower layer and
//! the actix middleware share it).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use http::request::Parts;
use http::{HeaderName, Method, StatusCode};
use mortar_core::{AuditEvent, Outcome, Principal, SharedRecorder};

use crate::activity::ActivityTracker;

type IpFn = Arc<dyn Fn(&Parts) -> Option<IpAddr> + Send + Sync>;
type MethodFn = Arc<dyn Fn(&Method) -> bool + Send + Sync>;

/// The request audit configuration: which requests are recorded (by default the mutating
/// ones: POST, PUT, PATCH, DELETE), where the client address and request id come from, and an
/// optional [`ActivityTracker`] touched for every authenticated request.
///
/// Each recorded request becomes an `http.request` event with the principal as actor (and its
/// tenant), the client address, user agent and request id, the outcome from the status (2xx/3xx
/// success, 401 and other 4xx failure, 403 denied, 5xx error) and metadata `method`, `route`
/// (axum's matched route when available, else the path), `status` and `latency_us` (to the
/// response head).
#[derive(Clone)]
pub struct RequestAudit {
    recorder: SharedRecorder,
    methods: MethodFn,
    request_id: HeaderName,
    client_ip: IpFn,
    activity: Option<Arc<ActivityTracker>>,
}

impl fmt::Debug for RequestAudit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestAudit")
            .field("recorder", &self.recorder)
            .field("request_id", &self.request_id)
            .field("activity", &self.activity.is_some())
            .finish_non_exhaustive()
    }
}

/// Whether a method changes state (POST, PUT, PATCH, DELETE).
pub fn is_mutating(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

fn peer_ip(parts: &Parts) -> Option<IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(info.0.ip());
    }
    parts
        .extensions
        .get::<SocketAddr>()
        .map(SocketAddr::ip)
        .or_else(|| parts.extensions.get::<IpAddr>().copied())
}

impl RequestAudit {
    /// Records mutating requests to `recorder`.
    pub fn new(recorder: SharedRecorder) -> Self {
        Self {
            recorder,
            methods: Arc::new(is_mutating),
            request_id: HeaderName::from_static("x-request-id"),
            client_ip: Arc::new(peer_ip),
            activity: None,
        }
    }

    /// Chooses the recorded methods (e.g. `|_| true` for every request).
    #[must_use]
    pub fn methods(mut self, f: impl Fn(&Method) -> bool + Send + Sync + 'static) -> Self {
        self.methods = Arc::new(f);
        self
    }

    /// The request id header (default `x-request-id`).
    #[must_use]
    pub fn request_id_header(mut self, name: HeaderName) -> Self {
        self.request_id = name;
        self
    }

    /// How to find the client address (default: axum's `ConnectInfo<SocketAddr>`, else a
    /// `SocketAddr` or `IpAddr` in the request extensions). Behind a proxy, read the header
    /// your proxy sets, and only from addresses you trust.
    #[must_use]
    pub fn client_ip(
        mut self,
        f: impl Fn(&Parts) -> Option<IpAddr> + Send + Sync + 'static,
    ) -> Self {
        self.client_ip = Arc::new(f);
        self
    }

    /// Touches `tracker` for every request with an authenticated principal.
    #[must_use]
    pub fn activity(mut self, tracker: Arc<ActivityTracker>) -> Self {
        self.activity = Some(tracker);
        self
    }

    /// Whether a request with this method is recorded or tracked at all (edges that must
    /// convert the request head first skip it otherwise).
    pub fn wants(&self, method: &Method) -> bool {
        self.activity.is_some() || (self.methods)(method)
    }

    /// Touches the activity tracker for the request's principal; answers the principal.
    pub(crate) fn track<'e>(&self, extensions: &'e http::Extensions) -> Option<&'e Principal> {
        let principal = Principal::from_extensions(extensions);
        if let (Some(tracker), Some(p)) = (&self.activity, principal) {
            tracker.touch(p);
        }
        principal
    }

    /// Whether a request with this method is recorded as an event (not only tracked).
    pub(crate) fn records(&self, method: &Method) -> bool {
        (self.methods)(method)
    }

    /// Reads what the event needs from the request head; `None` when the request is not
    /// recorded.
    pub fn start(&self, parts: &Parts) -> Option<PendingRequest> {
        let principal = self.track(&parts.extensions);
        if !self.records(&parts.method) {
            return None;
        }
        let header = |name: &HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        #[allow(unused_mut, reason = "set only with the axum or actix feature")]
        let mut route: Option<String> = None;
        #[cfg(feature = "axum")]
        if let Some(m) = parts.extensions.get::<axum::extract::MatchedPath>() {
            route = Some(m.as_str().to_owned());
        }
        #[cfg(feature = "actix")]
        if let Some(m) = parts.extensions.get::<crate::actix::MatchedRoute>() {
            route = Some(m.0.clone());
        }
        Some(PendingRequest(Some(Pending {
            recorder: self.recorder.clone(),
            started: Instant::now(),
            method: parts.method.clone(),
            route: route.unwrap_or_else(|| parts.uri.path().to_owned()),
            principal: principal.cloned(),
            ip: (self.client_ip)(parts),
            user_agent: header(&http::header::USER_AGENT),
            request_id: header(&self.request_id),
        })))
    }
}

/// A recorded request waiting for its response status.
///
/// Dropped without [`PendingRequest::finish`] (the client went away and the server dropped the
/// request's future), it records the request as cancelled: outcome `error`, metadata
/// `cancelled: true`, no status — a mutating request whose handler may already have acted is
/// never left out.
#[derive(Debug)]
pub struct PendingRequest(Option<Pending>);

#[derive(Debug)]
struct Pending {
    recorder: SharedRecorder,
    started: Instant,
    method: Method,
    route: String,
    principal: Option<Principal>,
    ip: Option<IpAddr>,
    user_agent: Option<String>,
    request_id: Option<String>,
}

/// The outcome a response status stands for.
pub fn outcome_of(status: StatusCode) -> Outcome {
    match status.as_u16() {
        403 => Outcome::Denied,
        s if s >= 500 => Outcome::Error,
        s if s >= 400 => Outcome::Failure,
        _ => Outcome::Success,
    }
}

impl PendingRequest {
    /// Records the event with the response's status.
    pub fn finish(mut self, status: StatusCode) {
        if let Some(pending) = self.0.take() {
            pending.record(Some(status));
        }
    }
}

impl Drop for PendingRequest {
    fn drop(&mut self) {
        if let Some(pending) = self.0.take() {
            pending.record(None);
        }
    }
}

impl Pending {
    fn record(self, status: Option<StatusCode>) {
        let latency = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let mut event = AuditEvent::new("http.request", status.map_or(Outcome::Error, outcome_of))
            .meta("method", self.method.as_str())
            .meta("route", self.route)
            .meta("latency_us", latency);
        event = match status {
            Some(status) => event.meta("status", status.as_u16()),
            None => event.meta("cancelled", true),
        };
        if let Some(p) = &self.principal {
            event = event.actor(p);
        }
        event.ip = self.ip;
        event.user_agent = self.user_agent;
        event.request_id = self.request_id;
        self.recorder.record(event);
    }
}
