//! [`SeaOrmAuditStore`]: the trail in the application's SQL database.

use std::collections::BTreeMap;
use std::time::SystemTime;

use async_trait::async_trait;
use mortar_core::{AuditEvent, Outcome};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait as _, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
    TransactionTrait as _,
};
use serde_json::Value;

use super::entity::{anchor, event, head};
use crate::error::Error;
use crate::record::{AuditRecord, ChainHash, from_micros, kind_from_name, micros};
use crate::store::{Anchor, AuditQuery, AuditSink, AuditStore, ChainState, Page, Purged, Streams};

/// Rows per INSERT statement (17 parameters each stays under every backend's limit).
const INSERT_CHUNK: usize = 1000;

/// The trail in `mortar_audit_*` tables (SQLite, PostgreSQL or MariaDB), shared safely by any
/// number of app instances.
///
/// A batch is written in one transaction: each stream's head row is locked (streams in sorted
/// order, so writers never deadlock), the batch is chained after it, inserted with multi-row
/// INSERTs and the head moved. Concurrent writers to one stream therefore queue and never fork
/// the chain. On PostgreSQL the rows go in with one `COPY` per batch. The migration makes the tables append-only with triggers: UPDATE is refused,
/// and DELETE too, except of records a retention anchor has already cut off.
#[derive(Clone, Debug)]
pub struct SeaOrmAuditStore {
    db: DatabaseConnection,
    streams: Streams,
}

impl SeaOrmAuditStore {
    /// A store on this connection (pool), one chain per tenant. Run [`super::migrations`]
    /// first.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            streams: Streams::default(),
        }
    }

    /// Chains as `streams` says (every instance writing to the tables must agree).
    #[must_use]
    pub fn with_streams(mut self, streams: Streams) -> Self {
        self.streams = streams;
        self
    }

    /// The connection.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Locks (creating if needed) `stream`'s head row in `tx` and returns it.
    async fn lock_head(
        &self,
        tx: &DatabaseTransaction,
        stream: &str,
    ) -> Result<(u64, ChainHash), Error> {
        head::Entity::insert(head::ActiveModel {
            stream: Set(stream.to_owned()),
            seq: Set(0),
            hash: Set(ChainHash::GENESIS.to_hex()),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(tx)
        .await
        .map_err(|e| Error::store("creating a stream head", e))?;
        let mut select = head::Entity::find_by_id(stream.to_owned());
        // SQLite has no row locks; its write transaction is exclusive already.
        if tx.get_database_backend() != DbBackend::Sqlite {
            select = select.lock_exclusive();
        }
        let row = select
            .one(tx)
            .await
            .map_err(|e| Error::store("locking a stream head", e))?
            .ok_or_else(|| Error::Store(format!("stream head {stream:?} vanished")))?;
        Ok((to_u64(row.seq)?, ChainHash::parse(&row.hash)?))
    }
}

/// The smallest string greater than every string starting with `prefix` (its last character
/// incremented); `None` when there is none (empty prefix, or only `char::MAX`).
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn to_u64(n: i64) -> Result<u64, Error> {
    u64::try_from(n).map_err(|_| Error::Corrupt(format!("negative sequence number {n}")))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Chains `events` after the locked `heads` (moving them), with each record's canonical
/// metadata text.
pub(super) fn chain_batch(
    heads: &mut BTreeMap<&str, (u64, ChainHash)>,
    events: &[AuditEvent],
    streams: Streams,
) -> Vec<(AuditRecord, String)> {
    events
        .iter()
        .map(|event| {
            let stream = streams.of(event);
            let head = heads
                .get_mut(stream)
                .expect("every stream's head is locked first");
            let chained = AuditRecord::chain_with_metadata(stream, *head, event.clone());
            *head = (chained.0.seq, chained.0.hash);
            chained
        })
        .collect()
}

fn row_of(record: &AuditRecord, metadata: &str) -> event::ActiveModel {
    let e = &record.event;
    event::ActiveModel {
        id: NotSet,
        stream: Set(record.stream.clone()),
        seq: Set(to_i64(record.seq)),
        action: Set(e.action.to_string()),
        outcome: Set(e.outcome.as_str().to_owned()),
        actor_subject: Set(e.actor.as_ref().map(|a| a.subject.clone())),
        actor_kind: Set(e.actor.as_ref().map(|a| a.kind.as_str().to_owned())),
        actor_session: Set(e.actor.as_ref().and_then(|a| a.session_id.clone())),
        tenant: Set(e.tenant.clone()),
        target_kind: Set(e.target.as_ref().map(|t| t.kind.clone())),
        target_id: Set(e.target.as_ref().map(|t| t.id.clone())),
        occurred_at: Set(micros(e.occurred_at)),
        ip: Set(e.ip.map(|ip| ip.to_string())),
        user_agent: Set(e.user_agent.clone()),
        request_id: Set(e.request_id.clone()),
        metadata: Set(metadata.to_owned()),
        prev_hash: Set(record.prev_hash.to_hex()),
        hash: Set(record.hash.to_hex()),
    }
}

fn outcome_of(name: &str) -> Result<Outcome, Error> {
    serde_json::from_value(Value::String(name.to_owned()))
        .map_err(|_| Error::Corrupt(format!("unknown outcome {name:.40}")))
}

fn record_of(row: event::Model) -> Result<AuditRecord, Error> {
    let mut e =
        AuditEvent::new(row.action, outcome_of(&row.outcome)?).at(from_micros(row.occurred_at));
    if let Some(subject) = row.actor_subject {
        let kind = kind_from_name(row.actor_kind.as_deref().unwrap_or("anonymous"))?;
        e = e.actor_subject(subject, kind);
        if let Some(actor) = &mut e.actor {
            actor.session_id = row.actor_session;
        }
    }
    e.tenant = row.tenant;
    if let (Some(kind), Some(id)) = (row.target_kind, row.target_id) {
        e = e.target(kind, id);
    }
    if let Some(ip) = row.ip {
        e.ip = Some(
            ip.parse()
                .map_err(|_| Error::Corrupt(format!("not an IP address: {ip:.64}")))?,
        );
    }
    e.user_agent = row.user_agent;
    e.request_id = row.request_id;
    e.metadata = serde_json::from_str::<BTreeMap<String, Value>>(&row.metadata)
        .map_err(|err| Error::Corrupt(format!("metadata of record {}: {err}", row.id)))?;
    Ok(AuditRecord {
        id: to_u64(row.id)?,
        stream: row.stream,
        seq: to_u64(row.seq)?,
        prev_hash: ChainHash::parse(&row.prev_hash)?,
        hash: ChainHash::parse(&row.hash)?,
        event: e,
    })
}

#[async_trait]
impl AuditSink for SeaOrmAuditStore {
    fn name(&self) -> &'static str {
        "sql"
    }

    async fn write(&self, events: &[AuditEvent]) -> Result<(), Error> {
        if events.is_empty() {
            return Ok(());
        }
        let mut streams: Vec<&str> = events.iter().map(|e| self.streams.of(e)).collect();
        streams.sort_unstable();
        streams.dedup();
        #[cfg(feature = "postgres")]
        if self.db.get_database_backend() == DbBackend::Postgres {
            return super::pg_copy::write(
                self.db.get_postgres_connection_pool(),
                &streams,
                events,
                self.streams,
            )
            .await;
        }
        let tx = self
            .db
            .begin()
            .await
            .map_err(|e| Error::store("beginning a transaction", e))?;
        let mut heads = BTreeMap::new();
        for stream in &streams {
            heads.insert(*stream, self.lock_head(&tx, stream).await?);
        }
        let records = chain_batch(&mut heads, events, self.streams);
        for chunk in records.chunks(INSERT_CHUNK) {
            event::Entity::insert_many(chunk.iter().map(|(r, metadata)| row_of(r, metadata)))
                .exec_without_returning(&tx)
                .await
                .map_err(|e| Error::store("inserting audit records", e))?;
        }
        for (stream, (seq, hash)) in heads {
            head::Entity::update_many()
                .col_expr(head::Column::Seq, Expr::value(to_i64(seq)))
                .col_expr(head::Column::Hash, Expr::value(hash.to_hex()))
                .filter(head::Column::Stream.eq(stream))
                .exec(&tx)
                .await
                .map_err(|e| Error::store("moving a stream head", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| Error::store("committing audit records", e))
    }
}

#[async_trait]
impl AuditStore for SeaOrmAuditStore {
    async fn query(&self, query: &AuditQuery) -> Result<Page, Error> {
        let limit = query.limit_or_default();
        let mut select = event::Entity::find();
        if let Some(actor) = &query.actor {
            select = select.filter(event::Column::ActorSubject.eq(actor.as_str()));
        }
        if let Some((action, prefix)) = query.action_filter() {
            select = if prefix {
                // A range, not LIKE: `_` and `%` in the prefix stay literal, the comparison is
                // byte-wise (binary collation on MariaDB), and the action index serves it.
                let mut filtered = select.filter(event::Column::Action.gte(action));
                if let Some(next) = successor(action) {
                    filtered = filtered.filter(event::Column::Action.lt(next));
                }
                filtered
            } else {
                select.filter(event::Column::Action.eq(action))
            };
        }
        if let Some(kind) = &query.target_kind {
            select = select.filter(event::Column::TargetKind.eq(kind.as_str()));
        }
        if let Some(id) = &query.target_id {
            select = select.filter(event::Column::TargetId.eq(id.as_str()));
        }
        if let Some(outcome) = query.outcome {
            select = select.filter(event::Column::Outcome.eq(outcome.as_str()));
        }
        if let Some(tenant) = &query.tenant {
            select = select.filter(event::Column::Tenant.eq(tenant.as_str()));
        }
        if let Some(from) = query.from {
            select = select.filter(event::Column::OccurredAt.gte(micros(from)));
        }
        if let Some(until) = query.until {
            select = select.filter(event::Column::OccurredAt.lt(micros(until)));
        }
        if let Some(cursor) = query.cursor {
            select = select.filter(event::Column::Id.lt(to_i64(cursor.0)));
        }
        let rows = select
            .order_by_desc(event::Column::Id)
            .limit(limit as u64 + 1)
            .all(&self.db)
            .await
            .map_err(|e| Error::store("querying audit records", e))?;
        let records = rows.into_iter().map(record_of).collect::<Result<_, _>>()?;
        Ok(Page::from_overfetch(records, limit))
    }

    async fn streams(&self) -> Result<Vec<String>, Error> {
        let rows = head::Entity::find()
            .order_by_asc(head::Column::Stream)
            .all(&self.db)
            .await
            .map_err(|e| Error::store("listing streams", e))?;
        Ok(rows.into_iter().map(|r| r.stream).collect())
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_seq: u64,
        after: Option<&AuditRecord>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, Error> {
        // By `seq`, on the unique (stream, seq) index: no second index to maintain on insert.
        let from = after.map_or(from_seq, |a| from_seq.max(a.seq + 1));
        let rows = event::Entity::find()
            .filter(event::Column::Stream.eq(stream))
            .filter(event::Column::Seq.gte(to_i64(from)))
            .order_by_asc(event::Column::Seq)
            .limit(limit as u64)
            .all(&self.db)
            .await
            .map_err(|e| Error::store("reading a stream", e))?;
        rows.into_iter().map(record_of).collect()
    }

    async fn chain_state(&self, stream: &str) -> Result<ChainState, Error> {
        let head = head::Entity::find_by_id(stream.to_owned())
            .one(&self.db)
            .await
            .map_err(|e| Error::store("reading a stream head", e))?;
        let anchor = latest_anchor(&self.db, stream).await?;
        let head = match head {
            Some(h) if h.seq > 0 => Some((to_u64(h.seq)?, ChainHash::parse(&h.hash)?)),
            _ => None,
        };
        Ok(ChainState { anchor, head })
    }

    async fn purge_stream(
        &self,
        stream: &str,
        cutoff: SystemTime,
    ) -> Result<Option<Purged>, Error> {
        let tx = self
            .db
            .begin()
            .await
            .map_err(|e| Error::store("beginning a transaction", e))?;
        let head = self.lock_head(&tx, stream).await?;
        let first_kept = event::Entity::find()
            .filter(event::Column::Stream.eq(stream))
            .filter(event::Column::OccurredAt.gte(micros(cutoff)))
            .order_by_asc(event::Column::Seq)
            .one(&tx)
            .await
            .map_err(|e| Error::store("finding the purge point", e))?;
        let anchor = match first_kept {
            Some(row) => Anchor {
                seq: to_u64(row.seq)?,
                prev_hash: ChainHash::parse(&row.prev_hash)?,
            },
            None => Anchor {
                seq: head.0 + 1,
                prev_hash: head.1,
            },
        };
        let removed = event::Entity::find()
            .filter(event::Column::Stream.eq(stream))
            .filter(event::Column::Seq.lt(to_i64(anchor.seq)))
            .count(&tx)
            .await
            .map_err(|e| Error::store("counting purged records", e))?;
        if removed == 0 {
            return Ok(None);
        }
        // The anchor first: the append-only trigger lets only records below an anchor go.
        anchor::Entity::insert(anchor::ActiveModel {
            stream: Set(stream.to_owned()),
            seq: Set(to_i64(anchor.seq)),
            prev_hash: Set(anchor.prev_hash.to_hex()),
            created_at: Set(micros(SystemTime::now())),
        })
        .on_conflict_do_nothing()
        .exec_without_returning(&tx)
        .await
        .map_err(|e| Error::store("recording the anchor", e))?;
        event::Entity::delete_many()
            .filter(event::Column::Stream.eq(stream))
            .filter(event::Column::Seq.lt(to_i64(anchor.seq)))
            .exec(&tx)
            .await
            .map_err(|e| Error::store("purging records", e))?;
        tx.commit()
            .await
            .map_err(|e| Error::store("committing the purge", e))?;
        Ok(Some(Purged {
            stream: stream.to_owned(),
            removed,
            anchor,
        }))
    }
}

async fn latest_anchor(db: &impl ConnectionTrait, stream: &str) -> Result<Anchor, Error> {
    let row = anchor::Entity::find()
        .filter(anchor::Column::Stream.eq(stream))
        .order_by_desc(anchor::Column::Seq)
        .one(db)
        .await
        .map_err(|e| Error::store("reading a stream anchor", e))?;
    match row {
        Some(a) => Ok(Anchor {
            seq: to_u64(a.seq)?,
            prev_hash: ChainHash::parse(&a.prev_hash)?,
        }),
        None => Ok(Anchor::GENESIS),
    }
}
