//! The backend traits: [`AuditSink`] (takes batches) and [`AuditStore`] (also reads them back),
//! with [`Streams`], [`AuditQuery`] and [`Page`].

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mortar_core::{AuditEvent, Outcome};

use crate::error::Error;
use crate::record::{AuditRecord, ChainHash};

/// The stream of events without a tenant (and of every event under [`Streams::Single`]).
pub const GLOBAL_STREAM: &str = "";

/// Which hash chain an event joins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Streams {
    /// One chain per tenant, and [`GLOBAL_STREAM`] for events without one (the default): a
    /// tenant's trail verifies, exports and purges on its own.
    #[default]
    PerTenant,
    /// One chain for everything.
    Single,
}

impl Streams {
    /// The stream `event` joins.
    pub fn of<'e>(&self, event: &'e AuditEvent) -> &'e str {
        match self {
            Self::PerTenant => event.tenant.as_deref().unwrap_or(GLOBAL_STREAM),
            Self::Single => GLOBAL_STREAM,
        }
    }
}

/// Takes batches of (already redacted) events. Implementations store a batch in order, all or
/// nothing where the medium allows (one SQL transaction), and return only once it is durable.
#[async_trait]
pub trait AuditSink: Send + Sync + fmt::Debug + 'static {
    /// A short name for metrics and logs (`sql`, `jsonl`, `tracing`, `memory`).
    fn name(&self) -> &str;

    /// Stores `events` in order.
    ///
    /// # Errors
    /// [`Error::Store`] when the batch could not be stored; nothing of it is then stored where
    /// the medium allows (a retry must not duplicate it).
    async fn write(&self, events: &[AuditEvent]) -> Result<(), Error>;
}

#[async_trait]
impl<S: AuditSink + ?Sized> AuditSink for std::sync::Arc<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    async fn write(&self, events: &[AuditEvent]) -> Result<(), Error> {
        (**self).write(events).await
    }
}

/// Where a stream's chain starts: the first kept record's `seq` and the `prev_hash` it must
/// carry. A never-purged stream starts at `(1, GENESIS)`; a retention purge moves the anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The `seq` of the first kept record.
    pub seq: u64,
    /// The `prev_hash` that record carries.
    pub prev_hash: ChainHash,
}

impl Anchor {
    /// The anchor of a stream never purged.
    pub const GENESIS: Self = Self {
        seq: 1,
        prev_hash: ChainHash::GENESIS,
    };
}

/// A stream's anchor and head (its last record's `seq` and `hash`, as the store last wrote them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainState {
    /// Where the kept chain starts.
    pub anchor: Anchor,
    /// The last record written, if any.
    pub head: Option<(u64, ChainHash)>,
}

/// What a retention purge of one stream did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purged {
    /// The stream.
    pub stream: String,
    /// How many records were removed.
    pub removed: u64,
    /// The new anchor.
    pub anchor: Anchor,
}

/// A store that also reads its records back: queries, verification, export, retention.
///
/// Every implementation passes the same conformance suite (`tests/conformance.rs`).
#[async_trait]
pub trait AuditStore: AuditSink {
    /// Records matching `query`, newest first, one page at a time.
    ///
    /// # Errors
    /// [`Error::Query`] for an invalid cursor, [`Error::Store`] when the store fails.
    async fn query(&self, query: &AuditQuery) -> Result<Page, Error>;

    /// The streams that hold records or anchors.
    ///
    /// # Errors
    /// [`Error::Store`].
    async fn streams(&self) -> Result<Vec<String>, Error>;

    /// Up to `limit` records of `stream` with `seq >= from_seq`, continuing after `after` (the
    /// last record of the previous call; from the start when `None`). Stores that keep records
    /// in a sequence of their own (memory, files) return them in that order, so reordering
    /// shows as `seq` going back; SQL stores return them by `seq` (the unique index), and
    /// reordering shows as `id` going back.
    ///
    /// # Errors
    /// [`Error::Store`], [`Error::Corrupt`].
    async fn read_stream(
        &self,
        stream: &str,
        from_seq: u64,
        after: Option<&AuditRecord>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, Error>;

    /// The stream's anchor and head.
    ///
    /// # Errors
    /// [`Error::Store`].
    async fn chain_state(&self, stream: &str) -> Result<ChainState, Error>;

    /// Removes the records of `stream` before the first one that occurred at or after `cutoff`
    /// (all of them when none did), first recording the new anchor, in one transaction where
    /// the medium has them. `None` when nothing was old enough. Use [`crate::purge`], which
    /// also records that the purge happened.
    ///
    /// # Errors
    /// [`Error::Store`].
    async fn purge_stream(&self, stream: &str, cutoff: SystemTime)
    -> Result<Option<Purged>, Error>;
}

/// The largest page a query returns.
pub const MAX_PAGE: usize = 1000;

/// Filters for [`AuditStore::query`]: every set filter must match. Results are newest first
/// (by store position), `limit` at a time (default 50, at most [`MAX_PAGE`]), continued with the
/// returned cursor (keyset pagination: stable while new events arrive).
///
/// ```
/// use mortar_audit::AuditQuery;
/// use mortar_core::Outcome;
///
/// let q = AuditQuery::new().tenant("acme").action("auth.*").outcome(Outcome::Failure).limit(20);
/// assert_eq!(q.limit_or_default(), 20);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditQuery {
    /// The actor's subject.
    pub actor: Option<String>,
    /// The action, exactly, or every action under a prefix when it ends in `.*` (`auth.*`).
    pub action: Option<String>,
    /// The target's kind.
    pub target_kind: Option<String>,
    /// The target's id (with or without `target_kind`).
    pub target_id: Option<String>,
    /// The outcome.
    pub outcome: Option<Outcome>,
    /// The tenant.
    pub tenant: Option<String>,
    /// Occurred at or after.
    pub from: Option<SystemTime>,
    /// Occurred before.
    pub until: Option<SystemTime>,
    /// Page size.
    pub limit: Option<usize>,
    /// Continue after this cursor (from [`Page::next`]).
    pub cursor: Option<Cursor>,
}

impl AuditQuery {
    /// Matches everything.
    pub fn new() -> Self {
        Self::default()
    }
    /// Filters by actor subject.
    #[must_use]
    pub fn actor(mut self, subject: impl Into<String>) -> Self {
        self.actor = Some(subject.into());
        self
    }
    /// Filters by action (`auth.login`, or a prefix such as `auth.*`).
    #[must_use]
    pub fn action(mut self, action: impl Into<String>) -> Self {
        self.action = Some(action.into());
        self
    }
    /// Filters by target.
    #[must_use]
    pub fn target(mut self, kind: impl Into<String>, id: impl Into<String>) -> Self {
        self.target_kind = Some(kind.into());
        self.target_id = Some(id.into());
        self
    }
    /// Filters by outcome.
    #[must_use]
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = Some(outcome);
        self
    }
    /// Filters by tenant.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }
    /// Keeps events that occurred in `[from, until)`.
    #[must_use]
    pub fn between(mut self, from: Option<SystemTime>, until: Option<SystemTime>) -> Self {
        self.from = from;
        self.until = until;
        self
    }
    /// Sets the page size.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
    /// Continues after a cursor.
    #[must_use]
    pub fn after(mut self, cursor: Cursor) -> Self {
        self.cursor = Some(cursor);
        self
    }

    /// The page size in effect: `limit`, 50 when unset, clamped to 1..=[`MAX_PAGE`].
    pub fn limit_or_default(&self) -> usize {
        self.limit.unwrap_or(50).clamp(1, MAX_PAGE)
    }

    /// The action filter as (text, `is_prefix)`: `auth.*` → (`auth.`, true).
    pub(crate) fn action_filter(&self) -> Option<(&str, bool)> {
        self.action.as_deref().map(|a| match a.strip_suffix('*') {
            Some(prefix) => (prefix, true),
            None => (a, false),
        })
    }

    /// Whether `record` matches every filter except the cursor (for stores that filter in
    /// memory).
    pub(crate) fn matches(&self, record: &AuditRecord) -> bool {
        let e = &record.event;
        let actor = e.actor.as_ref().map(|a| a.subject.as_str());
        let within = |t: SystemTime| {
            self.from.is_none_or(|from| t >= from) && self.until.is_none_or(|until| t < until)
        };
        self.actor.as_deref().is_none_or(|a| actor == Some(a))
            && self.action_filter().is_none_or(|(a, prefix)| {
                if prefix {
                    e.action.starts_with(a)
                } else {
                    e.action == a
                }
            })
            && self
                .target_kind
                .as_deref()
                .is_none_or(|k| e.target.as_ref().is_some_and(|t| t.kind == k))
            && self
                .target_id
                .as_deref()
                .is_none_or(|i| e.target.as_ref().is_some_and(|t| t.id == i))
            && self.outcome.is_none_or(|o| e.outcome == o)
            && self
                .tenant
                .as_deref()
                .is_none_or(|t| e.tenant.as_deref() == Some(t))
            && within(e.occurred_at)
            && self.cursor.is_none_or(|c| record.id < c.0)
    }
}

/// Where a page ended; opaque to clients (URL-safe text), continue with [`AuditQuery::after`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(pub(crate) u64);

impl Cursor {
    /// The cursor as URL-safe text.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.to_be_bytes())
    }

    /// Parses [`Cursor::encode`]'s text.
    ///
    /// # Errors
    /// [`Error::Query`] naming `cursor` when the text was not made by `encode`.
    pub fn decode(text: &str) -> Result<Self, Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .ok_or_else(|| Error::query("cursor", "not a cursor returned by this API"))?;
        Ok(Self(u64::from_be_bytes(bytes)))
    }
}

/// One page of query results.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Page {
    /// The records, newest first.
    pub records: Vec<AuditRecord>,
    /// The cursor of the next page, when there may be one.
    pub next: Option<Cursor>,
}

impl Page {
    /// A page of `records` fetched with one extra row: the extra row (if any) means there is a
    /// next page.
    pub(crate) fn from_overfetch(mut records: Vec<AuditRecord>, limit: usize) -> Self {
        let next = if records.len() > limit {
            records.truncate(limit);
            records.last().map(|r| Cursor(r.id))
        } else {
            None
        };
        Self { records, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor(42);
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(matches!(
            Cursor::decode("not a cursor!"),
            Err(Error::Query {
                field: "cursor",
                ..
            })
        ));
        assert!(Cursor::decode("AAAA").is_err());
        assert_eq!(AuditQuery::new().limit(0).limit_or_default(), 1);
        assert_eq!(AuditQuery::new().limit(5000).limit_or_default(), MAX_PAGE);
        assert_eq!(
            AuditQuery::new().action("auth.*").action_filter(),
            Some(("auth.", true))
        );
    }
}
