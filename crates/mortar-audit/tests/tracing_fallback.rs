//! The tracing fallback, in its own test binary: `tracing`'s per-callsite interest cache is
//! process-wide, so a scoped subscriber in one test races with other tests' events.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mortar_audit::{DurableRecorder, TracingSink};
use mortar_core::{AuditEvent, AuditRecorder as _, Outcome};

fn event(i: usize) -> AuditEvent {
    AuditEvent::new("test.event", Outcome::Success)
        .tenant("acme")
        .meta("i", i)
        .meta("token", "secret-token-value")
}

/// A `MakeWriter` collecting log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[test]
fn the_tracing_fallback_logs_every_spilled_event_redacted_and_on_one_line() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let recorder = DurableRecorder::builder()
            .sink(TracingSink)
            .capacity(1)
            .start();
        for i in 0..3 {
            recorder.record(event(i).meta("note", "line one\n{\"forged\":true}"));
        }
        assert_eq!(recorder.stats().spilled, 2);
        recorder.shutdown(Duration::from_secs(5)).await.unwrap();
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is one JSON object"))
        .collect();
    let audit: Vec<_> = lines
        .iter()
        .filter(|l| l["fields"]["action"] == "test.event")
        .collect();
    assert_eq!(
        audit.len(),
        3,
        "2 spilled and 1 through the tracing sink: {text}"
    );
    assert!(lines.iter().all(|l| l.get("forged").is_none()));
    assert!(!text.contains("secret-token-value"));
    assert!(text.contains("audit event not stored"));
}
