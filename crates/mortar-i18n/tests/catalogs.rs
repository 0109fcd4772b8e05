//! Catalogs compiled into the binary (feature `embed`), and missing messages reported once.

use std::sync::{Arc, Mutex};

use mortar_i18n::{I18n, t};

#[cfg(feature = "embed")]
#[test]
fn embedded_catalogs() {
    static LOCALES: include_dir::Dir<'_> =
        include_dir::include_dir!("$CARGO_MANIFEST_DIR/tests/data/locales");
    let i18n = I18n::builder()
        .default_locale("en")
        .embedded(&LOCALES)
        .build()
        .unwrap();
    assert_eq!(i18n.locales().collect::<Vec<_>>(), ["de", "en"]);
    assert_eq!(t!(i18n.locale("de"), "hello", name = "Ada"), "Hallo Ada");
    assert_eq!(t!(i18n.locale("de"), "bye"), "Bye");
}

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
        // The other test of this binary may hit the same `warn!` callsite on its thread, with no
        // subscriber, while this one is being installed; its interest ("never") could then stay
        // cached and the events below go unseen. Recompute it now that this subscriber exists.
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
