//! Security events: [`AuditEvent`] and the non-blocking [`AuditRecorder`].
//!
//! Every capability crate reports what matters for security (a login failed, a key was revoked, a
//! role was granted) to an `AuditRecorder` it is given, without depending on mortar-audit. This
//! crate ships a [`NoopRecorder`] and a [`TracingRecorder`]; mortar-audit brings the durable,
//! tamper-evident ones.
//!
//! `record` is synchronous and must not block: implementations hand the event to a queue and
//! return.
//!
//! ```
//! use mortar_core::{AuditEvent, AuditRecorder, Outcome, Principal, TracingRecorder};
//!
//! let admin = Principal::user("user-1").tenant("acme").build();
//! let recorder = TracingRecorder::default();
//! recorder.record(
//!     AuditEvent::new("rbac.role.granted", Outcome::Success)
//!         .actor(&admin)
//!         .target("user", "user-2")
//!         .meta("role", "billing"),
//! );
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::principal::{Principal, PrincipalKind};

/// How the audited action ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was attempted and failed (wrong password, invalid token).
    Failure,
    /// Authorization refused it.
    Denied,
    /// The system failed while doing it.
    Error,
}

impl Outcome {
    /// The outcome's name as stored (`success`, `failure`, `denied`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who did it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Actor {
    /// The principal's subject.
    pub subject: String,
    /// The principal's kind.
    pub kind: PrincipalKind,
    /// The session it acted through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// What it was done to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Target {
    /// The kind of object (`user`, `api_key`, `document`).
    pub kind: String,
    /// Its identifier.
    pub id: String,
}

/// One security-relevant event: who did what, to which target, with what outcome, when, from
/// where and in which request.
///
/// Actions are dotted names, crate first: `auth.login`, `auth.api_key.revoked`,
/// `rbac.role.granted`. Metadata must not hold secrets; mortar-audit additionally redacts fields
/// marked personal or secret before storage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEvent {
    /// What was done.
    pub action: Cow<'static, str>,
    /// How it ended.
    pub outcome: Outcome,
    /// Who did it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    /// The tenant it happened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// What it was done to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// When it happened.
    #[serde(with = "crate::time_serde")]
    pub occurred_at: SystemTime,
    /// The client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The request id (e.g. `x-request-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Anything else worth keeping (no secrets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, Value>,
}

impl AuditEvent {
    /// An event that happened now.
    pub fn new(action: impl Into<Cow<'static, str>>, outcome: Outcome) -> Self {
        Self {
            action: action.into(),
            outcome,
            actor: None,
            tenant: None,
            target: None,
            occurred_at: SystemTime::now(),
            ip: None,
            user_agent: None,
            request_id: None,
            metadata: BTreeMap::new(),
        }
    }

    /// Sets the actor (and the tenant, when the principal has one and none is set yet).
    #[must_use]
    pub fn actor(mut self, principal: &Principal) -> Self {
        self.actor = Some(Actor {
            subject: principal.subject().to_owned(),
            kind: principal.kind(),
            session_id: principal.session_id().map(str::to_owned),
        });
        if self.tenant.is_none() {
            self.tenant = principal.tenant().map(str::to_owned);
        }
        self
    }

    /// Sets the actor from a subject alone (e.g. the account a failed login named).
    #[must_use]
    pub fn actor_subject(mut self, subject: impl Into<String>, kind: PrincipalKind) -> Self {
        self.actor = Some(Actor {
            subject: subject.into(),
            kind,
            session_id: None,
        });
        self
    }

    /// Sets the tenant.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets the target.
    #[must_use]
    pub fn target(mut self, kind: impl Into<String>, id: impl Into<String>) -> Self {
        self.target = Some(Target {
            kind: kind.into(),
            id: id.into(),
        });
        self
    }

    /// Sets when it happened (default: when the event was created).
    #[must_use]
    pub fn at(mut self, occurred_at: SystemTime) -> Self {
        self.occurred_at = occurred_at;
        self
    }

    /// Sets the client address.
    #[must_use]
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// Sets the client's user agent.
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Sets the request id.
    #[must_use]
    pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = Some(request_id.into());
        self
    }

    /// Adds a metadata entry.
    #[must_use]
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// Receives audit events. `record` must return promptly: queue the event, never wait on I/O.
///
/// Implemented for `Arc<R>` and `Box<R>`, and for closures `Fn(AuditEvent)` wrapped in
/// [`FnRecorder`].
pub trait AuditRecorder: Send + Sync + fmt::Debug + 'static {
    /// Takes one event.
    fn record(&self, event: AuditEvent);
}

/// A recorder shared between components: `Arc<dyn AuditRecorder>`.
pub type SharedRecorder = Arc<dyn AuditRecorder>;

impl<R: AuditRecorder + ?Sized> AuditRecorder for Arc<R> {
    fn record(&self, event: AuditEvent) {
        (**self).record(event);
    }
}

impl<R: AuditRecorder + ?Sized> AuditRecorder for Box<R> {
    fn record(&self, event: AuditEvent) {
        (**self).record(event);
    }
}

/// Discards every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopRecorder;

impl AuditRecorder for NoopRecorder {
    fn record(&self, _event: AuditEvent) {}
}

/// Emits each event as a `tracing` event with target `mortar::audit` at INFO level (WARN for
/// failures and denials, ERROR for errors), with stable field names: `action`, `outcome`,
/// `actor`, `actor_kind`, `tenant`, `target_kind`, `target_id`, `ip`, `user_agent`, `request_id`,
/// `metadata` (JSON).
///
/// Field values are recorded as values, never interpolated into the message, so a structured
/// (JSON) subscriber escapes them and no input can forge a log line.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingRecorder;

impl AuditRecorder for TracingRecorder {
    fn record(&self, event: AuditEvent) {
        let actor = event.actor.as_ref().map(|a| a.subject.as_str());
        let actor_kind = event.actor.as_ref().map(|a| format!("{:?}", a.kind));
        let target_kind = event.target.as_ref().map(|t| t.kind.as_str());
        let target_id = event.target.as_ref().map(|t| t.id.as_str());
        let ip = event.ip.map(|ip| ip.to_string());
        let metadata = (!event.metadata.is_empty())
            .then(|| serde_json::to_string(&event.metadata).unwrap_or_default());
        let occurred_at = crate::time_serde::format(event.occurred_at).ok();
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "mortar::audit",
                    $level,
                    action = %event.action,
                    outcome = event.outcome.as_str(),
                    actor,
                    actor_kind,
                    tenant = event.tenant.as_deref(),
                    target_kind,
                    target_id,
                    ip,
                    user_agent = event.user_agent.as_deref(),
                    request_id = event.request_id.as_deref(),
                    occurred_at,
                    metadata,
                    "audit event"
                )
            };
        }
        match event.outcome {
            Outcome::Success => emit!(tracing::Level::INFO),
            Outcome::Failure | Outcome::Denied => emit!(tracing::Level::WARN),
            Outcome::Error => emit!(tracing::Level::ERROR),
        }
    }
}

/// A recorder made of a closure.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use mortar_core::{AuditEvent, AuditRecorder, Outcome, audit::FnRecorder};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let recorder = FnRecorder::new(move |e: AuditEvent| sink.lock().unwrap().push(e.action));
/// recorder.record(AuditEvent::new("auth.login", Outcome::Success));
/// assert_eq!(seen.lock().unwrap().as_slice(), ["auth.login"]);
/// ```
#[derive(Clone)]
pub struct FnRecorder<F>(F);

impl<F> FnRecorder<F>
where
    F: Fn(AuditEvent) + Send + Sync + 'static,
{
    /// Wraps the closure.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F> fmt::Debug for FnRecorder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnRecorder")
    }
}

impl<F> AuditRecorder for FnRecorder<F>
where
    F: Fn(AuditEvent) + Send + Sync + 'static,
{
    fn record(&self, event: AuditEvent) {
        (self.0)(event);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn builder_and_serde() {
        let p = Principal::user("u1")
            .tenant("acme")
            .session_id("s1")
            .build();
        let e = AuditEvent::new("auth.login", Outcome::Failure)
            .actor(&p)
            .target("user", "u1")
            .at(SystemTime::UNIX_EPOCH + Duration::from_hours(24))
            .ip("203.0.113.9".parse().unwrap())
            .user_agent("curl/8")
            .request_id("req-1")
            .meta("reason", "bad_password");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            json!({
                "action": "auth.login", "outcome": "failure",
                "actor": {"subject": "u1", "kind": "user", "session_id": "s1"},
                "tenant": "acme", "target": {"kind": "user", "id": "u1"},
                "occurred_at": "1970-01-02T00:00:00Z", "ip": "203.0.113.9",
                "user_agent": "curl/8", "request_id": "req-1",
                "metadata": {"reason": "bad_password"}
            })
        );
        let back: AuditEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn explicit_tenant_wins_over_the_principals() {
        let p = Principal::user("u1").tenant("a").build();
        let e = AuditEvent::new("x", Outcome::Success).tenant("b").actor(&p);
        assert_eq!(e.tenant.as_deref(), Some("b"));
    }

    #[test]
    fn recorders_take_events() {
        let shared: SharedRecorder = Arc::new(NoopRecorder);
        shared.record(AuditEvent::new("x", Outcome::Success));
        for outcome in [
            Outcome::Success,
            Outcome::Failure,
            Outcome::Denied,
            Outcome::Error,
        ] {
            TracingRecorder.record(
                AuditEvent::new("x", outcome)
                    .meta("k", "v\nforged line")
                    .ip("::1".parse().unwrap()),
            );
        }
    }
}
