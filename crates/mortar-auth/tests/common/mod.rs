//! Shared by the store suites.

/// Defines `mod sql` with one test per SQL backend the features enable (SQLite always, when
/// built with it; PostgreSQL and MariaDB through mortar-testkit, which skips or fails per
/// `MORTAR_REQUIRE_SERVICES`). Each test gets its own database, migrated twice (migrations must be
/// idempotent), and runs `$run(connection).await`, `$run` being a path from inside `mod sql`.
macro_rules! sql_suites {
    ($run:path) => {
        #[cfg(feature = "sql")]
        mod sql {
            async fn connected(db: mortar_testkit::TestDatabase) -> sea_orm::DatabaseConnection {
                use sea_orm_migration::MigratorTrait as _;
                let conn = db.connect().await;
                mortar_auth::sql::Migrator::up(&conn, None).await.unwrap();
                mortar_auth::sql::Migrator::up(&conn, None).await.unwrap();
                conn
            }

            #[cfg(feature = "sqlite")]
            #[tokio::test]
            async fn sqlite() {
                $run(connected(mortar_testkit::sqlite()).await).await;
            }

            #[cfg(feature = "postgres")]
            #[tokio::test]
            async fn postgres() {
                let Some(db) = mortar_testkit::postgres().await else {
                    return;
                };
                $run(connected(db).await).await;
            }

            #[cfg(feature = "mysql")]
            #[tokio::test]
            async fn mariadb() {
                let Some(db) = mortar_testkit::mysql().await else {
                    return;
                };
                $run(connected(db).await).await;
            }
        }
    };
}
