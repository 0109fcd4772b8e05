//! Catalogs compiled into the binary (feature `embed`).

#![cfg(feature = "embed")]

use mortar_i18n::{I18n, t};

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
