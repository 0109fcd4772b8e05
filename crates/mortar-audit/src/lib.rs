//! Durable, tamper-evident audit trails for Rust web services.
//!
//! Every Mortar crate reports security events (`auth.login`, `rbac.role.granted`…) as
//! [`mortar_core::AuditEvent`]s to an [`mortar_core::AuditRecorder`]. This crate brings the
//! recorder that keeps them:
//!
//! - [`DurableRecorder`]: `record()` only queues (under 1 µs on the calling task); a background
//!   writer [redacts](Redactor) and writes batches to every [sink](AuditSink), retries failing
//!   sinks, and applies a declared [`Overflow`] policy and [`Fallback`] when it cannot keep up —
//!   counted in [`RecorderStats`] and the `metrics` facade, never dropped silently.
//! - Sinks and stores: [`sql::SeaOrmAuditStore`] (PostgreSQL, MariaDB, SQLite; append-only by
//!   database triggers), [`JsonLinesStore`] (a file), [`JsonLinesSink`], [`TracingSink`],
//!   [`MemoryStore`].
//! - Tamper evidence: each stored [`AuditRecord`] carries the SHA-256 of its canonical form,
//!   chained to the previous record of its [stream](Streams) (one per tenant by default);
//!   [`verify`] finds the first altered, removed or reordered record.
//! - Reading: [`AuditStore::query`] by actor, action, target, outcome, tenant and time with
//!   keyset pagination; [`export`] as JSON lines; [`purge`] for retention, re-anchoring the
//!   chain and recording that it happened.
//! - The request audit layer ([`AuditLayer`] for tower, [`actix::AuditMiddleware`]) and
//!   last-seen [activity tracking](ActivityTracker).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use mortar_audit::{AuditQuery, AuditStore as _, DurableRecorder, MemoryStore, verify};
//! use mortar_core::{AuditEvent, AuditRecorder as _, Outcome, Principal};
//!
//! let store = Arc::new(MemoryStore::new());
//! let recorder = DurableRecorder::builder().shared_sink(store.clone()).start();
//!
//! let admin = Principal::user("alice").tenant("acme").build();
//! recorder.record(AuditEvent::new("rbac.role.granted", Outcome::Success).actor(&admin).target("user", "bob"));
//! recorder.shutdown(Duration::from_secs(5)).await.unwrap();
//!
//! let page = store.query(&AuditQuery::new().tenant("acme").actor("alice")).await.unwrap();
//! assert_eq!(page.records.len(), 1);
//! assert!(verify(store.as_ref(), "acme", ..).await.unwrap().is_intact());
//! # }
//! ```
//!
//! # Features
//!
//! | feature | adds |
//! | --- | --- |
//! | `sqlite`, `postgres`, `mysql` | [`sql::SeaOrmAuditStore`], [`sql::SeaOrmLastSeen`], migrations |
//! | `tower` | [`AuditLayer`] |
//! | `axum` | `tower`, plus the matched route and `ConnectInfo` address in request events |
//! | `actix` | [`actix::AuditMiddleware`] |

mod activity;
mod chain;
mod error;
mod http;
mod jsonl;
mod memory;
mod record;
mod recorder;
mod redact;
mod store;
mod tracing_sink;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "tower")]
mod layer;
#[cfg(feature = "sql")]
pub mod sql;

pub use activity::{ActivityTracker, LastSeen, LastSeenStore, MemoryLastSeen};
pub use chain::{
    PURGED, Tamper, TamperKind, Verification, export, purge, purge_one, verify, verify_all,
    verify_with_progress,
};
pub use error::Error;
pub use http::{PendingRequest, RequestAudit, is_mutating, outcome_of};
pub use jsonl::{JsonLinesSink, JsonLinesStore};
#[cfg(feature = "tower")]
pub use layer::{AuditFuture, AuditLayer, AuditService};
pub use memory::MemoryStore;
pub use record::{AuditRecord, CANONICAL_VERSION, ChainHash};
pub use recorder::{DurableRecorder, Fallback, Overflow, RecorderBuilder, RecorderStats};
pub use redact::{
    DEFAULT_PERSONAL_KEYS, DEFAULT_SECRET_KEYS, IpMode, MAX_ID_CHARS, Personal, REDACTED, Redactor,
};
pub use store::{
    Anchor, AuditQuery, AuditSink, AuditStore, ChainState, Cursor, GLOBAL_STREAM, MAX_PAGE, Page,
    Purged, Streams,
};
pub use tracing_sink::TracingSink;
