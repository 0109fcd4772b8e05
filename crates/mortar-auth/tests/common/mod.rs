//! Shared by the store suites.

/// `mortar_testkit::sql_suites!` with mortar-auth's migrator: one test per SQL backend, each
/// running `$run(connection).await` on its own migrated database.
macro_rules! sql_suites {
    ($run:path) => {
        mortar_testkit::sql_suites!(mortar_auth::sql::Migrator, $run);
    };
}
