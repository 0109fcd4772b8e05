//! The PostgreSQL write path: one transaction per batch through sqlx (the driver under
//! sea-orm's pool), the rows sent with `COPY … FROM STDIN`.
//!
//! Written by hand because sea-orm has no `COPY`: measured with `psql` on the development
//! machine, PostgreSQL spent about 10 µs per row on a plain `INSERT … SELECT` and 23 µs on one
//! fed by `json_to_recordset` (the previous write path); `COPY` parses neither statements nor
//! JSON and took the recorder from 45–47k to 56–64k events/s over a Unix socket (docs/benchmarks.md).

use std::fmt::Write as _;

use mortar_core::AuditEvent;
use sqlx::PgPool;

use crate::error::Error;
use crate::record::{AuditRecord, ChainHash, micros};
use crate::store::Streams;

const COPY: &str = "COPY mortar_audit_events (stream, seq, action, outcome, actor_subject, \
    actor_kind, actor_session, tenant, target_kind, target_id, occurred_at, ip, user_agent, \
    request_id, metadata, prev_hash, hash) FROM STDIN";

fn db_err(what: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| Error::store(what, e)
}

/// Writes `events` (whose streams, sorted and deduplicated, are `streams`) in one transaction.
pub(super) async fn write(
    pool: &PgPool,
    streams: &[&str],
    events: &[AuditEvent],
    chain_by: Streams,
) -> Result<(), Error> {
    let mut tx = pool
        .begin()
        .await
        .map_err(db_err("beginning a transaction"))?;
    let mut heads = std::collections::BTreeMap::new();
    for stream in streams {
        sqlx::query(
            "INSERT INTO mortar_audit_heads (stream, seq, hash) VALUES ($1, 0, $2) \
             ON CONFLICT (stream) DO NOTHING",
        )
        .bind(*stream)
        .bind(ChainHash::GENESIS.to_hex())
        .execute(&mut *tx)
        .await
        .map_err(db_err("creating a stream head"))?;
        let (seq, hash): (i64, String) =
            sqlx::query_as("SELECT seq, hash FROM mortar_audit_heads WHERE stream = $1 FOR UPDATE")
                .bind(*stream)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err("locking a stream head"))?;
        let seq = u64::try_from(seq).map_err(|_| Error::Corrupt(format!("head seq {seq}")))?;
        heads.insert(*stream, (seq, ChainHash::parse(&hash)?));
    }
    let mut data = String::with_capacity(events.len() * 512);
    for (record, metadata) in super::store::chain_batch(&mut heads, events, chain_by) {
        push_row(&mut data, &record, &metadata);
    }
    let mut copy = tx
        .copy_in_raw(COPY)
        .await
        .map_err(db_err("starting COPY"))?;
    copy.send(data.into_bytes())
        .await
        .map_err(db_err("sending audit records"))?;
    copy.finish()
        .await
        .map_err(db_err("inserting audit records"))?;
    for (stream, (seq, hash)) in heads {
        sqlx::query("UPDATE mortar_audit_heads SET seq = $1, hash = $2 WHERE stream = $3")
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .bind(hash.to_hex())
            .bind(stream)
            .execute(&mut *tx)
            .await
            .map_err(db_err("moving a stream head"))?;
    }
    tx.commit()
        .await
        .map_err(db_err("committing audit records"))
}

/// One line of `COPY`'s text format: tab-separated, `\N` for NULL.
fn push_row(out: &mut String, r: &AuditRecord, metadata: &str) {
    let e = &r.event;
    let actor = e.actor.as_ref();
    let target = e.target.as_ref();
    field(out, Some(&r.stream));
    out.push('\t');
    let _ = write!(out, "{}", r.seq);
    out.push('\t');
    field(out, Some(&e.action));
    out.push('\t');
    field(out, Some(e.outcome.as_str()));
    for value in [
        actor.map(|a| a.subject.as_str()),
        actor.map(|a| a.kind.as_str()),
        actor.and_then(|a| a.session_id.as_deref()),
        e.tenant.as_deref(),
        target.map(|t| t.kind.as_str()),
        target.map(|t| t.id.as_str()),
    ] {
        out.push('\t');
        field(out, value);
    }
    out.push('\t');
    let _ = write!(out, "{}", micros(e.occurred_at));
    out.push('\t');
    field(out, e.ip.map(|ip| ip.to_string()).as_deref());
    out.push('\t');
    field(out, e.user_agent.as_deref());
    out.push('\t');
    field(out, e.request_id.as_deref());
    out.push('\t');
    field(out, Some(metadata));
    out.push('\t');
    out.push_str(&r.prev_hash.to_hex());
    out.push('\t');
    out.push_str(&r.hash.to_hex());
    out.push('\n');
}

/// A value in `COPY` text format: backslash, tab, newline and carriage return escaped.
fn field(out: &mut String, value: Option<&str>) {
    let Some(value) = value else {
        out.push_str("\\N");
        return;
    };
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes() {
        let mut out = String::new();
        field(&mut out, Some("a\\b\tc\nd\re"));
        field(&mut out, None);
        assert_eq!(out, "a\\\\b\\tc\\nd\\re\\N");
    }
}
