//! Real-service test support for the Mortar crates.
//!
//! Each function hands a test its own isolated piece of a real service, found through an
//! environment variable:
//!
//! | function | variable | isolation |
//! | --- | --- | --- |
//! | [`postgres`] | `MORTAR_TEST_POSTGRES_URL` | a fresh schema, set as the connection's `search_path` |
//! | [`mysql`] | `MORTAR_TEST_MYSQL_URL` | a fresh database |
//! | [`redis`] | `MORTAR_TEST_REDIS_URL` | a fresh key prefix |
//! | [`s3()`] | `MORTAR_TEST_S3_ENDPOINT`, `MORTAR_TEST_S3_ACCESS_KEY`, `MORTAR_TEST_S3_SECRET_KEY` (and optionally `MORTAR_TEST_S3_REGION`; `MORTAR_TEST_S3_DOMAIN` for [`TestS3::domain`]) | a fresh bucket |
//! | [`sqlite`] | none | a fresh database file in the temp directory |
//!
//! [`oidc::TestIssuer`] is an OpenID Connect provider started in-process on 127.0.0.1, for the
//! federated-login tests.
//!
//! When a variable is unset the function prints that the test skipped and why, and returns
//! `None`; with `MORTAR_REQUIRE_SERVICES=1` (set by `.ci/run`) it panics instead, so CI never
//! passes on a skipped real-service test.
//!
//! Isolation is by naming (a random suffix), never by dropping what another test may be using.
//! Names carry their creation time, and schemas, databases and buckets older than a day are
//! removed the next time one is created, so repeated runs do not pile them up.
//!
//! ```no_run
//! # async fn t() {
//! let Some(db) = mortar_testkit::postgres().await else { return };
//! let conn = db.connect().await;
//! // … run migrations and the test against `conn` …
//! # }
//! ```

pub mod oidc;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng as _;
use s3::creds::Credentials;
use s3::{Bucket, BucketConfiguration, Region};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

/// `MORTAR_REQUIRE_SERVICES`: when `1`, a missing service fails the test instead of skipping it.
pub const REQUIRE_SERVICES: &str = "MORTAR_REQUIRE_SERVICES";

/// The prefix of every schema, database, key prefix and bucket the testkit creates.
const PREFIX: &str = "mortar_t";

/// Schemas and databases older than this are garbage from earlier runs.
const STALE_AFTER: Duration = Duration::from_hours(24);

/// Whether real services are required (`MORTAR_REQUIRE_SERVICES=1`).
pub fn services_required() -> bool {
    std::env::var(REQUIRE_SERVICES).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Reads a service variable; prints the skip (or panics when services are required) if unset.
fn service_var(var: &str, service: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ => {
            let msg = format!("{service} test skipped: {var} is not set");
            assert!(
                !services_required(),
                "{msg}, and {REQUIRE_SERVICES}=1 forbids skipping"
            );
            eprintln!("SKIPPED: {msg}");
            None
        }
    }
}

/// A unique name: `mortar_t_<unix seconds>_<12 random hex digits>`, safe as a schema, database,
/// key prefix and (with `-` for `_`) bucket name.
pub fn unique_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let suffix: u64 = rand::rng().random::<u64>() & 0xffff_ffff_ffff;
    format!("{PREFIX}_{secs}_{suffix:012x}")
}

/// Whether a name made by [`unique_name`] is older than [`STALE_AFTER`].
fn is_stale(name: &str) -> bool {
    let Some(secs) = name
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|rest| rest.split('_').next())
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return false;
    };
    let created = UNIX_EPOCH + Duration::from_secs(secs);
    SystemTime::now()
        .duration_since(created)
        .is_ok_and(|age| age > STALE_AFTER)
}

/// The database backend of a [`TestDatabase`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// MariaDB / MySQL.
    MySql,
    /// SQLite.
    Sqlite,
}

/// An isolated database for one test: a PostgreSQL schema, a MariaDB database or a SQLite file.
pub struct TestDatabase {
    backend: Backend,
    url: String,
    name: String,
}

impl fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password; the name is enough to find the schema.
        f.debug_struct("TestDatabase")
            .field("backend", &self.backend)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestDatabase {
    /// The backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection URL that lands in this test's schema / database / file, usable by sea-orm,
    /// sqlx or the starter's `MORTAR_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema, database or file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connects with sea-orm.
    ///
    /// # Panics
    ///
    /// When the database cannot be reached (this is test support: failing loudly is the point).
    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(self.url.as_str())
            .await
            .unwrap_or_else(|e| panic!("connecting to test database {}: {e}", self.name))
    }
}

/// Runs a query returning one row and reads its first column, named `v`: `SELECT count(*) AS v
/// FROM …`. For assertions in tests.
///
/// # Panics
///
/// When the query fails, returns no row, or `v` does not convert to `T`.
pub async fn scalar<T: sea_orm::TryGetable>(conn: &impl ConnectionTrait, sql: &str) -> T {
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    row.try_get::<T>("", "v")
        .unwrap_or_else(|e| panic!("{sql}: column v: {e}"))
}

/// Appends a query parameter to a URL.
fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// How one SQL server names, lists, drops and creates the namespace a test gets.
struct Namespace {
    /// The environment variable holding the server's URL.
    var: &'static str,
    /// Lists existing test namespaces, in a column named `name`.
    list: String,
    /// Drops one, given its name.
    drop: fn(&str) -> String,
    /// Creates one, given its name.
    create: fn(&str) -> String,
}

/// Creates a fresh namespace on the server at `base`, after dropping stale ones; returns its name.
async fn create_namespace(base: &str, ns: &Namespace) -> String {
    let name = unique_name();
    let conn = Database::connect(base)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", ns.var));
    let existing = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            ns.list.clone(),
        ))
        .await
        .unwrap_or_default();
    for row in existing {
        if let Ok(old) = row.try_get::<String>("", "name")
            && is_stale(&old)
        {
            let _ = conn.execute_unprepared(&(ns.drop)(&old)).await;
        }
    }
    conn.execute_unprepared(&(ns.create)(&name))
        .await
        .unwrap_or_else(|e| panic!("creating {name} on {}: {e}", ns.var));
    let _ = conn.close().await;
    name
}

/// A fresh PostgreSQL schema from `MORTAR_TEST_POSTGRES_URL`; its [`TestDatabase::url`] sets the
/// `search_path` to it, so unqualified tables land there.
///
/// # Panics
///
/// When the variable is unset and [`REQUIRE_SERVICES`] is on, or the server refuses.
pub async fn postgres() -> Option<TestDatabase> {
    let ns = Namespace {
        var: "MORTAR_TEST_POSTGRES_URL",
        list: format!("SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE '{PREFIX}\\_%'"),
        drop: |name| format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"),
        create: |name| format!("CREATE SCHEMA \"{name}\""),
    };
    let base = service_var(ns.var, "PostgreSQL")?;
    let name = create_namespace(&base, &ns).await;
    Some(TestDatabase {
        backend: Backend::Postgres,
        url: with_param(&base, &format!("options=-c%20search_path%3D{name}")),
        name,
    })
}

/// A fresh MariaDB / MySQL database from `MORTAR_TEST_MYSQL_URL` (whose own database is only
/// used to connect).
///
/// # Panics
///
/// When the variable is unset and [`REQUIRE_SERVICES`] is on, or the server refuses.
pub async fn mysql() -> Option<TestDatabase> {
    let ns = Namespace {
        var: "MORTAR_TEST_MYSQL_URL",
        list: format!(
            "SELECT CAST(SCHEMA_NAME AS CHAR) AS name FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME LIKE '{PREFIX}\\_%'"
        ),
        drop: |name| format!("DROP DATABASE IF EXISTS `{name}`"),
        create: |name| {
            format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        },
    };
    let base = service_var(ns.var, "MariaDB")?;
    let name = create_namespace(&base, &ns).await;
    Some(TestDatabase {
        backend: Backend::MySql,
        url: replace_database(&base, &name),
        name,
    })
}

/// Replaces the database (path) of a `mysql://user@host:port/db?params` URL.
fn replace_database(url: &str, db: &str) -> String {
    let (head, query) = url
        .split_once('?')
        .map_or((url, None), |(h, q)| (h, Some(q)));
    let authority_start = head.find("://").map_or(0, |i| i + 3);
    let base = match head[authority_start..].find('/') {
        Some(slash) => &head[..authority_start + slash],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// A fresh SQLite database file in the temporary directory (always available).
pub fn sqlite() -> TestDatabase {
    let name = unique_name();
    let path = std::env::temp_dir().join(format!("{name}.db"));
    TestDatabase {
        backend: Backend::Sqlite,
        url: format!("sqlite://{}?mode=rwc", path.display()),
        name,
    }
}

/// An isolated Redis key space for one test: every key the test writes starts with
/// [`TestRedis::prefix`].
pub struct TestRedis {
    url: String,
    prefix: String,
    pool: deadpool_redis::Pool,
}

impl fmt::Debug for TestRedis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRedis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl TestRedis {
    /// The server URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix, ending in `:`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A connection pool to the server.
    pub fn pool(&self) -> deadpool_redis::Pool {
        self.pool.clone()
    }
}

/// A fresh Redis key prefix from `MORTAR_TEST_REDIS_URL`, after checking the server answers.
///
/// # Panics
///
/// When the variable is unset and [`REQUIRE_SERVICES`] is on, or the server does not answer.
pub async fn redis() -> Option<TestRedis> {
    let url = service_var("MORTAR_TEST_REDIS_URL", "Redis")?;
    let pool = deadpool_redis::Config::from_url(url.as_str())
        .create_pool(Some(deadpool_redis::Runtime::Tokio1))
        .unwrap_or_else(|e| panic!("MORTAR_TEST_REDIS_URL: {e}"));
    let mut conn = pool
        .get()
        .await
        .unwrap_or_else(|e| panic!("connecting to MORTAR_TEST_REDIS_URL: {e}"));
    let pong: String = deadpool_redis::redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("PING to MORTAR_TEST_REDIS_URL: {e}"));
    assert_eq!(pong, "PONG");
    drop(conn);
    Some(TestRedis {
        url,
        prefix: format!("{}:", unique_name()),
        pool,
    })
}

/// An isolated S3 bucket for one test.
pub struct TestS3 {
    endpoint: String,
    region: String,
    access_key: String,
    secret_key: String,
    bucket: Box<Bucket>,
}

impl fmt::Debug for TestS3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestS3")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket.name())
            .finish_non_exhaustive()
    }
}

impl TestS3 {
    /// The S3 endpoint URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The region name.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The access key id.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret key.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The bucket's name.
    pub fn bucket_name(&self) -> String {
        self.bucket.name()
    }

    /// A rust-s3 handle on the bucket (path-style addressing).
    pub fn bucket(&self) -> Box<Bucket> {
        self.bucket.clone()
    }

    /// The domain under which the server also answers virtual-host requests
    /// (`{bucket}.{domain}`), from `MORTAR_TEST_S3_DOMAIN` (`.ci/run` starts SeaweedFS with
    /// `-s3.domainName=s3.mortar.test`). The name need not resolve: tests reach it through a
    /// loopback proxy.
    ///
    /// # Panics
    ///
    /// When the variable is unset and [`REQUIRE_SERVICES`] is on.
    pub fn domain(&self) -> Option<String> {
        service_var("MORTAR_TEST_S3_DOMAIN", "S3 virtual-host")
    }
}

/// Empties and removes test buckets older than [`STALE_AFTER`]: on SeaweedFS each bucket holds
/// volumes of its own, so leftovers from earlier runs would eventually exhaust the server.
/// Best effort: a failure here never fails the test.
async fn remove_stale_buckets(region: &Region, credentials: &Credentials) {
    let Ok(listing) = Bucket::list_buckets(region.clone(), credentials.clone()).await else {
        return;
    };
    for name in listing.bucket_names() {
        if !is_stale(&name.replace('-', "_")) {
            continue;
        }
        let Ok(bucket) = Bucket::new(&name, region.clone(), credentials.clone()) else {
            continue;
        };
        let bucket = bucket.with_path_style();
        if let Ok(pages) = bucket.list(String::new(), None).await {
            for object in pages.iter().flat_map(|page| page.contents.iter()) {
                let _ = bucket.delete_object(&object.key).await;
            }
        }
        let _ = bucket.delete().await;
    }
}

/// A fresh bucket on the S3 server at `MORTAR_TEST_S3_ENDPOINT`, with
/// `MORTAR_TEST_S3_ACCESS_KEY` / `MORTAR_TEST_S3_SECRET_KEY` (region `MORTAR_TEST_S3_REGION`,
/// default `us-east-1`; path-style addressing).
///
/// # Panics
///
/// When a variable is unset and [`REQUIRE_SERVICES`] is on, or the bucket cannot be created.
pub async fn s3() -> Option<TestS3> {
    let endpoint = service_var("MORTAR_TEST_S3_ENDPOINT", "S3")?;
    let access_key = service_var("MORTAR_TEST_S3_ACCESS_KEY", "S3")?;
    let secret_key = service_var("MORTAR_TEST_S3_SECRET_KEY", "S3")?;
    let region_name =
        std::env::var("MORTAR_TEST_S3_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let region = Region::Custom {
        region: region_name.clone(),
        endpoint: endpoint.clone(),
    };
    let credentials = Credentials::new(Some(&access_key), Some(&secret_key), None, None, None)
        .unwrap_or_else(|e| panic!("S3 credentials: {e}"));
    remove_stale_buckets(&region, &credentials).await;
    let name = unique_name().replace('_', "-");
    let created =
        Bucket::create_with_path_style(&name, region, credentials, BucketConfiguration::private())
            .await
            .unwrap_or_else(|e| panic!("creating bucket {name} at {endpoint}: {e}"));
    assert!(
        created.success(),
        "creating bucket {name} at {endpoint}: status {}",
        created.response_code
    );
    Some(TestS3 {
        endpoint,
        region: region_name,
        access_key,
        secret_key,
        bucket: created.bucket,
    })
}

/// Defines `mod sql` with one test per SQL backend the calling crate's features enable
/// (`sqlite`, `postgres`, `mysql`, under its `sql` feature): each test gets its own database
/// (skipped or failed per `MORTAR_REQUIRE_SERVICES` when the server is down), migrated twice
/// with `$migrator` (migrations must be idempotent), and runs `$run(connection).await`.
/// Paths are written as seen from inside `mod sql` (`super::run_sql`). The caller needs
/// `sea-orm`, `sea-orm-migration` and `tokio` (macros) as dev-dependencies.
#[macro_export]
macro_rules! sql_suites {
    ($migrator:path, $run:path) => {
        #[cfg(feature = "sql")]
        mod sql {
            async fn connected(db: $crate::TestDatabase) -> sea_orm::DatabaseConnection {
                use sea_orm_migration::MigratorTrait as _;
                let conn = db.connect().await;
                <$migrator>::up(&conn, None).await.unwrap();
                <$migrator>::up(&conn, None).await.unwrap();
                conn
            }

            #[cfg(feature = "sqlite")]
            #[tokio::test]
            async fn sqlite() {
                $run(connected($crate::sqlite()).await).await;
            }

            #[cfg(feature = "postgres")]
            #[tokio::test]
            async fn postgres() {
                let Some(db) = $crate::postgres().await else {
                    return;
                };
                $run(connected(db).await).await;
            }

            #[cfg(feature = "mysql")]
            #[tokio::test]
            async fn mariadb() {
                let Some(db) = $crate::mysql().await else {
                    return;
                };
                $run(connected(db).await).await;
            }
        }
    };
}

/// RFC 4648 base32 (no padding, `=` ignored), as authenticator apps read a TOTP enrollment's
/// secret.
///
/// # Panics
///
/// On a character outside the base32 alphabet.
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u64, 0u32);
    for c in text.bytes().filter(|c| *c != b'=') {
        let value = ALPHABET
            .iter()
            .position(|a| *a == c)
            .unwrap_or_else(|| panic!("{:?} is not base32", char::from(c)));
        buffer = (buffer << 5) | u64::try_from(value).expect("below 32");
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits).to_le_bytes()[0]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_dated() {
        let a = unique_name();
        assert_ne!(a, unique_name());
        assert!(a.starts_with("mortar_t_"));
        assert!(!is_stale(&a));
        assert!(is_stale("mortar_t_1000_abcdef"));
        assert!(!is_stale("someone_elses_schema"));
    }

    #[test]
    fn mysql_urls() {
        assert_eq!(
            replace_database("mysql://root@127.0.0.1:3306/test", "x"),
            "mysql://root@127.0.0.1:3306/x"
        );
        assert_eq!(
            replace_database("mysql://root@127.0.0.1:3306", "x"),
            "mysql://root@127.0.0.1:3306/x"
        );
        assert_eq!(
            replace_database("mysql://u:p@h/test?ssl-mode=disabled", "x"),
            "mysql://u:p@h/x?ssl-mode=disabled"
        );
    }

    #[test]
    fn params() {
        assert_eq!(with_param("postgres://h/db", "a=b"), "postgres://h/db?a=b");
        assert_eq!(
            with_param("postgres://h/db?x=y", "a=b"),
            "postgres://h/db?x=y&a=b"
        );
    }

    #[tokio::test]
    async fn sqlite_is_always_there() {
        let db = sqlite();
        assert_eq!(db.backend(), Backend::Sqlite);
        let conn = db.connect().await;
        conn.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn postgres_schema_is_isolated() {
        let Some(db) = postgres().await else { return };
        let conn = db.connect().await;
        conn.execute_unprepared("CREATE TABLE isolated (id INT)")
            .await
            .unwrap();
        let schema: String = scalar(
            &conn,
            "SELECT table_schema AS v FROM information_schema.tables \
             WHERE table_name = 'isolated' AND table_schema = current_schema()",
        )
        .await;
        assert_eq!(schema, db.name());
    }

    #[tokio::test]
    async fn stale_postgres_schemas_are_removed() {
        let Some(url) = std::env::var("MORTAR_TEST_POSTGRES_URL").ok() else {
            let _ = service_var("MORTAR_TEST_POSTGRES_URL", "PostgreSQL");
            return;
        };
        let stale = format!(
            "{PREFIX}_1000_{:012x}",
            rand::rng().random::<u64>() & 0xffff_ffff_ffff
        );
        let conn = Database::connect(url.as_str()).await.unwrap();
        conn.execute_unprepared(&format!("CREATE SCHEMA \"{stale}\""))
            .await
            .unwrap();
        let _fresh = postgres().await.unwrap();
        let sql = format!("SELECT count(*) AS v FROM pg_namespace WHERE nspname = '{stale}'");
        assert_eq!(
            scalar::<i64>(&conn, &sql).await,
            0,
            "{stale} was not removed"
        );
    }

    #[tokio::test]
    async fn mysql_database_is_isolated() {
        let Some(db) = mysql().await else { return };
        let conn = db.connect().await;
        conn.execute_unprepared("CREATE TABLE isolated (id INT)")
            .await
            .unwrap();
        let current: String = scalar(&conn, "SELECT CAST(DATABASE() AS CHAR) AS v").await;
        assert_eq!(current, db.name());
    }

    #[tokio::test]
    async fn redis_answers() {
        let Some(redis) = redis().await else { return };
        let mut conn = redis.pool().get().await.unwrap();
        let key = format!("{}k", redis.prefix());
        let () = deadpool_redis::redis::cmd("SET")
            .arg(&key)
            .arg("v")
            .arg("EX")
            .arg(60)
            .query_async(&mut conn)
            .await
            .unwrap();
        let v: String = deadpool_redis::redis::cmd("GET")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(v, "v");
    }

    #[tokio::test]
    async fn s3_bucket_round_trip() {
        let Some(s3) = s3().await else { return };
        let bucket = s3.bucket();
        bucket.put_object("hello.txt", b"hi").await.unwrap();
        let got = bucket.get_object("hello.txt").await.unwrap();
        assert_eq!(got.bytes().as_ref(), b"hi");
        assert!(!format!("{s3:?}").contains(s3.secret_key()));
    }
}
