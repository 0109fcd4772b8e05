//! Missing messages reported once, without argument values.
//!
//! The only test of its binary: another test on another thread hitting the same `warn!`
//! callsite with no subscriber could leave its interest cached as "never" while this one installs
//! its subscriber (a flaky failure in CI), so catalogs compiled in (`embedded.rs`) are tested apart.

use std::sync::{Arc, Mutex};

use mortar_i18n::{I18n, t};

/// Captures what the log would print.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn missing_messages_are_reported_once_without_argument_values() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let i18n = I18n::builder()
        .default_locale("en")
        .add_ftl("en", "bye = Bye\nhi = Hi { $name } { $missing }")
        .add_ftl("de", "")
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        // An interest cached as "never" before this subscriber existed would hide the events
        // below; recompute it now (the test is alone in its binary for the same reason).
        tracing::callsite::rebuild_interest_cache();
        let de = i18n.locale("de");
        for _ in 0..5 {
            assert_eq!(t!(de, "bye"), "Bye");
            assert_eq!(t!(de, "nowhere"), "nowhere");
            assert_eq!(
                t!(de, "hi", name = "secret-value"),
                "Hi secret-value {$missing}"
            );
        }
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(log.matches("id=bye").count(), 1, "{log}");
    assert_eq!(log.matches("id=nowhere").count(), 1, "{log}");
    assert!(log.contains("unknown variable $missing"), "{log}");
    assert!(!log.contains("secret-value"), "{log}");
}
