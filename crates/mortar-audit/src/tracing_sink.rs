//! [`TracingSink`]: events as `tracing` events.

use async_trait::async_trait;
use mortar_core::{AuditEvent, AuditRecorder as _, TracingRecorder};

use crate::error::Error;
use crate::store::AuditSink;

/// Emits each event through `tracing` (target `mortar::audit`, stable field names, values as
/// fields so a JSON subscriber escapes them; see [`TracingRecorder`]), for log pipelines. Not
/// chained and not queryable.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink;

#[async_trait]
impl AuditSink for TracingSink {
    fn name(&self) -> &'static str {
        "tracing"
    }

    async fn write(&self, events: &[AuditEvent]) -> Result<(), Error> {
        for event in events {
            TracingRecorder.record(event.clone());
        }
        Ok(())
    }
}
