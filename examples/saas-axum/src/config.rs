//! Configuration from environment variables (and an optional `.env` file), read with figment.
//!
//! Every variable is optional: with none set the starter runs on a SQLite file in the working
//! directory and listens on 127.0.0.1:3000. `.env.example` lists them all.

use std::fmt;
use std::net::SocketAddr;

use figment::Figment;
use figment::providers::{Env, Serialized};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The starter's configuration. Secrets (database and Redis URLs may hold passwords, the S3
/// secret key) are [`SecretString`]s: they print as `[REDACTED]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on (`MORTAR_LISTEN`, default `127.0.0.1:3000`).
    pub listen: SocketAddr,
    /// Database URL (`MORTAR_DATABASE_URL`, default `sqlite://mortar.db?mode=rwc`): `sqlite://`,
    /// `postgres://` or `mysql://`.
    pub database_url: SecretString,
    /// Database connection pool size (`MORTAR_DATABASE_MAX_CONNECTIONS`, default 10).
    pub database_max_connections: u32,
    /// Whether starting applies pending migrations (`MORTAR_MIGRATE_ON_START`, default `true`).
    /// `false` for deployments that migrate in a release step (`example-saas-axum migrate`):
    /// an instance then refuses to start on a schema that is behind.
    pub migrate_on_start: bool,
    /// Redis URL (`MORTAR_REDIS_URL`); unset: in-process backends.
    pub redis_url: Option<SecretString>,
    /// What every Redis key of this app starts with (`MORTAR_REDIS_PREFIX`, default `starter:`),
    /// so several apps (or environments) can share one Redis.
    pub redis_prefix: String,
    /// S3 endpoint URL (`MORTAR_S3_ENDPOINT`), e.g. `http://127.0.0.1:8333`; unset: local disk.
    pub s3_endpoint: Option<String>,
    /// S3 bucket (`MORTAR_S3_BUCKET`, default `mortar`).
    pub s3_bucket: Option<String>,
    /// S3 region (`MORTAR_S3_REGION`, default `us-east-1`).
    pub s3_region: Option<String>,
    /// S3 access key id (`MORTAR_S3_ACCESS_KEY`).
    pub s3_access_key: Option<String>,
    /// S3 secret key (`MORTAR_S3_SECRET_KEY`).
    pub s3_secret_key: Option<SecretString>,
    /// Directory of uploaded files when S3 is not configured (`MORTAR_STORAGE_DIR`, default
    /// `storage`).
    pub storage_dir: String,
    /// Key of the signed links to local files (`MORTAR_URL_SIGNING_KEY`, at least 32 bytes).
    /// Unset: a key generated at start-up, so links end at restart and instances do not share
    /// them.
    pub url_signing_key: Option<SecretString>,
    /// The app's public base URL (`MORTAR_PUBLIC_URL`, e.g. `https://app.example.com`), which
    /// links to local files start with. Unset: links are paths (`/files/…`).
    pub public_url: Option<String>,
    /// The access tokens' signing key (`MORTAR_SIGNING_KEY`): a PKCS#8 PEM private key,
    /// Ed25519, P-256 or RSA (`openssl genpkey -algorithm ed25519`); newlines may be written
    /// as `\n` in an environment variable. Unset: a key generated at start-up, so access tokens
    /// do not survive a restart (refresh tokens do) and instances do not share it.
    pub signing_key: Option<SecretString>,
    /// The key that seals TOTP secrets at rest (`MORTAR_TOTP_KEY`, 64 hex digits: 32 bytes).
    /// Unset: a key kept in `{storage dir}/keys/totp.key`, made on first start — losing it
    /// would lock every enrolled user out of their second factor, so it is never made afresh
    /// per start.
    pub totp_key: Option<SecretString>,
    /// The TOTP key's id (`MORTAR_TOTP_KEY_ID`, default `totp-1`); a new id with a new key
    /// rotates it (secrets sealed under the old one need it as an old key: see docs/auth.md).
    pub totp_key_id: String,
    /// Sign in with Google: the OAuth client id (`MORTAR_GOOGLE_CLIENT_ID`) and secret
    /// (`MORTAR_GOOGLE_CLIENT_SECRET`). The redirect URL to register is
    /// `{public URL}/auth/oauth/google/callback`.
    pub google_client_id: Option<String>,
    /// Google's client secret (`MORTAR_GOOGLE_CLIENT_SECRET`).
    pub google_client_secret: Option<SecretString>,
    /// Sign in with GitHub: the OAuth app's client id (`MORTAR_GITHUB_CLIENT_ID`); redirect URL
    /// `{public URL}/auth/oauth/github/callback`.
    pub github_client_id: Option<String>,
    /// GitHub's client secret (`MORTAR_GITHUB_CLIENT_SECRET`).
    pub github_client_secret: Option<SecretString>,
    /// Any OpenID Connect provider by discovery: its issuer URL (`MORTAR_OIDC_ISSUER`), shown
    /// as provider `oidc`; redirect URL `{public URL}/auth/oauth/oidc/callback`.
    pub oidc_issuer: Option<String>,
    /// The client id at `MORTAR_OIDC_ISSUER` (`MORTAR_OIDC_CLIENT_ID`).
    pub oidc_client_id: Option<String>,
    /// The client secret there (`MORTAR_OIDC_CLIENT_SECRET`).
    pub oidc_client_secret: Option<SecretString>,
    /// The signing key's id, the `kid` of the tokens and the JWKS (`MORTAR_SIGNING_KEY_ID`,
    /// default `starter`); change it when rotating the key.
    pub signing_key_id: String,
    /// Origins, besides the app's own, that may send cookie-authenticated unsafe requests
    /// (`MORTAR_TRUSTED_ORIGINS`, comma-separated, e.g. `https://admin.example.com`).
    pub trusted_origins: Option<String>,
    /// Requests per minute per client address on the API (`MORTAR_RATE_LIMIT_PER_IP`, default
    /// 300).
    pub rate_limit_per_ip: u32,
    /// Requests per minute per signed-in user (`MORTAR_RATE_LIMIT_PER_USER`, default 120; ten
    /// times that for users with the `pro` role).
    pub rate_limit_per_user: u32,
    /// Requests per minute per client address on login, registration and password reset
    /// (`MORTAR_RATE_LIMIT_CREDENTIALS`, default 10); refused while Redis is down.
    pub rate_limit_credentials: u32,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` headers are believed
    /// (`MORTAR_TRUSTED_PROXIES`, comma-separated addresses or networks, e.g. `10.0.0.0/8`).
    pub trusted_proxies: Option<String>,
    /// Messages sent at once by this instance's job worker (`MORTAR_JOBS_CONCURRENCY`, default
    /// 4; thumbnails are made two at a time besides). 0: this instance runs no worker and only
    /// enqueues (run the worker on other instances).
    pub jobs_concurrency: usize,
    /// How long a graceful shutdown waits for running jobs before aborting them, in seconds
    /// (`MORTAR_SHUTDOWN_TIMEOUT`, default 30); an aborted job runs again unless that was its last
    /// attempt.
    pub shutdown_timeout: u64,
    /// The bearer token Prometheus scrapes `/metrics` with (`MORTAR_METRICS_TOKEN`). Unset:
    /// only clients on the loopback interface may scrape.
    pub metrics_token: Option<SecretString>,
    /// Log output (`MORTAR_LOG_FORMAT`): `json` (default) or `pretty`.
    pub log_format: LogFormat,
    /// Log filter (`MORTAR_LOG`, `tracing_subscriber::EnvFilter` syntax, default `info`).
    pub log: String,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (for log shippers).
    #[default]
    Json,
    /// Human-readable lines (for a terminal).
    Pretty,
}

/// Every configuration key, as the lower-cased remainder of its `MORTAR_` variable.
const KEYS: [&str; 35] = [
    "listen",
    "database_url",
    "database_max_connections",
    "migrate_on_start",
    "redis_url",
    "redis_prefix",
    "s3_endpoint",
    "s3_bucket",
    "s3_region",
    "s3_access_key",
    "s3_secret_key",
    "storage_dir",
    "url_signing_key",
    "public_url",
    "totp_key",
    "totp_key_id",
    "signing_key",
    "signing_key_id",
    "google_client_id",
    "google_client_secret",
    "github_client_id",
    "github_client_secret",
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",
    "trusted_origins",
    "rate_limit_per_ip",
    "rate_limit_per_user",
    "rate_limit_credentials",
    "trusted_proxies",
    "jobs_concurrency",
    "shutdown_timeout",
    "metrics_token",
    "log_format",
    "log",
];

/// The defaults, as figment's base layer.
#[derive(Serialize)]
struct Defaults {
    listen: SocketAddr,
    database_url: &'static str,
    database_max_connections: u32,
    migrate_on_start: bool,
    redis_prefix: &'static str,
    storage_dir: &'static str,
    totp_key_id: &'static str,
    signing_key_id: &'static str,
    rate_limit_per_ip: u32,
    rate_limit_per_user: u32,
    rate_limit_credentials: u32,
    jobs_concurrency: usize,
    shutdown_timeout: u64,
    log_format: LogFormat,
    log: &'static str,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: "sqlite://mortar.db?mode=rwc",
            database_max_connections: 10,
            migrate_on_start: true,
            redis_prefix: "starter:",
            storage_dir: "storage",
            totp_key_id: "totp-1",
            signing_key_id: "starter",
            rate_limit_per_ip: 300,
            rate_limit_per_user: 120,
            rate_limit_credentials: 10,
            jobs_concurrency: 4,
            shutdown_timeout: 30,
            log_format: LogFormat::Json,
            log: "info",
        }
    }
}

/// The configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Config {
    /// Reads `.env` (if present, without overriding variables already set) and then the
    /// `MORTAR_*` environment variables over the defaults.
    ///
    /// # Errors
    ///
    /// When a variable does not parse (e.g. `MORTAR_LISTEN=nonsense`) or is unknown.
    pub fn load() -> Result<Self, ConfigError> {
        // A missing .env is the normal case; a malformed one is reported by figment below only
        // through the variables it did set, so report it here.
        if let Err(e) = dotenvy::dotenv()
            && !e.not_found()
        {
            eprintln!("warning: ignoring .env: {e}");
        }
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if let Some(name) = key.strip_prefix("MORTAR_") {
                let name = name.to_ascii_lowercase();
                let ours = KEYS.contains(&name.as_str());
                let tooling = name.starts_with("test_") || name == "require_services";
                if !ours && !tooling {
                    eprintln!("warning: unknown configuration variable {key} is ignored");
                }
            }
        }
        Self::from_figment(Figment::new().merge(Env::prefixed("MORTAR_").only(&KEYS)))
    }

    /// Reads the configuration from the given figment layered over the defaults (for tests and
    /// for applications that add their own providers).
    ///
    /// # Errors
    ///
    /// When a value does not parse or a key is unknown.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        Figment::from(Serialized::defaults(Defaults::default()))
            .merge(figment)
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))
    }

    /// The defaults with another database URL (tests use this).
    #[must_use]
    pub fn with_database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = SecretString::from(url.into());
        self
    }

    /// The defaults with another directory for uploaded files (tests use this).
    #[must_use]
    pub fn with_storage_dir(mut self, dir: impl Into<String>) -> Self {
        self.storage_dir = dir.into();
        self
    }

    /// The app's base URL as the browser sees it: `MORTAR_PUBLIC_URL`, else
    /// `http://{MORTAR_LISTEN}`.
    pub fn base_url(&self) -> String {
        self.public_url.as_deref().map_or_else(
            || format!("http://{}", self.listen),
            |url| url.trim_end_matches('/').to_owned(),
        )
    }

    /// The kind of database the URL selects, for logs: `sqlite`, `postgres`, `mysql`.
    pub fn database_kind(&self) -> &str {
        let url = self.database_url.expose_secret();
        url.split_once(':').map_or("unknown", |(scheme, _)| scheme)
    }
}

impl Default for Config {
    fn default() -> Self {
        // The defaults are valid by construction.
        Self::from_figment(Figment::new()).unwrap_or_else(|e| unreachable!("defaults: {e}"))
    }
}

/// The items of a comma-separated setting, trimmed, empty ones skipped.
pub(crate) fn comma_list(value: Option<&str>) -> impl Iterator<Item = &str> {
    value
        .into_iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database", &self.database_kind())
            .field("database_max_connections", &self.database_max_connections)
            .field("migrate_on_start", &self.migrate_on_start)
            .field("redis", &self.redis_url.as_ref().map(|_| "[REDACTED]"))
            .field("redis_prefix", &self.redis_prefix)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_bucket", &self.s3_bucket)
            .field("storage_dir", &self.storage_dir)
            .field(
                "url_signing_key",
                &self.url_signing_key.as_ref().map(|_| "[REDACTED]"),
            )
            .field("public_url", &self.public_url)
            .field("totp_key", &self.totp_key.as_ref().map(|_| "[REDACTED]"))
            .field("totp_key_id", &self.totp_key_id)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "[REDACTED]"),
            )
            .field("signing_key_id", &self.signing_key_id)
            .field("google_client_id", &self.google_client_id)
            .field("github_client_id", &self.github_client_id)
            .field("oidc_issuer", &self.oidc_issuer)
            .field("oidc_client_id", &self.oidc_client_id)
            .field("trusted_origins", &self.trusted_origins)
            .field("rate_limit_per_ip", &self.rate_limit_per_ip)
            .field("rate_limit_per_user", &self.rate_limit_per_user)
            .field("rate_limit_credentials", &self.rate_limit_credentials)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("jobs_concurrency", &self.jobs_concurrency)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("log_format", &self.log_format)
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use figment::providers::Serialized;

    use super::*;

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_kind(), "sqlite");
        assert!(c.redis_url.is_none());
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn overrides_and_errors() {
        let c = Config::from_figment(Figment::from(Serialized::defaults(serde_json::json!({
            "listen": "0.0.0.0:8080",
            "database_url": "postgres://app:hunter2@db/app",
            "redis_url": "redis://:s3cret@cache",
            "s3_endpoint": "http://127.0.0.1:8333",
            "s3_secret_key": "very-secret",
            "url_signing_key": "links-secret-0123456789abcdef0123456789",
            "totp_key": "totp-secret-aabbccddeeff",
            "google_client_secret": "google-secret-value",
            "signing_key": "-----BEGIN PRIVATE KEY-----\nprivate-key-bytes\n-----END PRIVATE KEY-----",
            "log_format": "pretty"
        }))))
        .unwrap();
        assert_eq!(c.listen.port(), 8080);
        assert_eq!(c.database_kind(), "postgres");
        let debug = format!("{c:?}");
        for secret in [
            "hunter2",
            "s3cret",
            "very-secret",
            "links-secret",
            "private-key-bytes",
            "google-secret-value",
        ] {
            assert!(!debug.contains(secret), "{debug}");
        }

        let bad = Config::from_figment(Figment::from(Serialized::defaults(
            serde_json::json!({"listen": "nonsense"}),
        )));
        assert!(bad.is_err());
        let unknown = Config::from_figment(Figment::from(Serialized::defaults(
            serde_json::json!({"databse_url": "typo"}),
        )));
        assert!(
            unknown.is_err(),
            "a misspelt variable is an error, not ignored"
        );
    }

    /// The deployment files beside the starter, read at test time (no Docker daemon needed).
    fn deployment_file(path: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Every whole `MORTAR_<NAME>` in `text` (a name ending in `_` is a prefix in prose).
    fn variables(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (at, _) in text.match_indices("MORTAR_") {
            let rest = &text[at + "MORTAR_".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            if !name.is_empty() && !name.ends_with('_') {
                found.push(name.to_ascii_lowercase());
            }
        }
        found
    }

    /// The Dockerfile, docker-compose.yml and the production and scaling guides name only
    /// variables the starter reads (a misspelt one would be warned about and ignored at start,
    /// far from the file that holds it).
    #[test]
    fn deployment_files_name_only_known_variables() {
        for file in [
            "Dockerfile",
            "docker-compose.yml",
            "docs/production.md",
            "docs/scaling.md",
        ] {
            let names = variables(&deployment_file(file));
            assert!(!names.is_empty(), "{file} names no variable");
            for name in names {
                let tooling = name.starts_with("test_") || name == "require_services";
                assert!(
                    tooling || KEYS.contains(&name.as_str()),
                    "{file} names MORTAR_{}, which the starter does not read",
                    name.to_ascii_uppercase()
                );
            }
        }
    }

    /// `NAME=value` / `NAME: value` pairs of the deployment files as the starter reads them:
    /// compose's `${X:-default}` gives its default; a `${X:?…}` value is the user's to set and
    /// is left out, as are values of variables that are no configuration keys.
    fn settings<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Figment {
        let mut figment = Figment::new();
        for (name, value) in pairs {
            let Some(key) = name.trim().strip_prefix("MORTAR_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            let value = value.trim().trim_matches('"');
            let value = match value.strip_prefix("${") {
                Some(reference) => match reference.split_once(":-") {
                    Some((_, default)) => default.trim_end_matches('}'),
                    None => continue,
                },
                None => value,
            };
            if KEYS.contains(&key.as_str()) {
                let value: figment::value::Value = value.parse().expect("infallible");
                figment = figment.merge((key, value));
            }
        }
        figment
    }

    /// The values the Dockerfile and docker-compose.yml set parse as the starter's configuration
    /// (a port, a number, a log format), and say what they are meant to.
    #[test]
    fn deployment_values_parse() {
        let dockerfile = deployment_file("Dockerfile");
        let env = dockerfile.split_once("\nENV ").expect("an ENV block").1;
        let env: Vec<&str> = env
            .lines()
            .map_while(|line| {
                let line = line.trim().trim_end_matches('\\').trim();
                (!line.is_empty() && line.contains('=')).then_some(line)
            })
            .collect();
        assert!(env.len() >= 4, "the Dockerfile's ENV block: {env:?}");
        let image =
            Config::from_figment(settings(env.iter().filter_map(|l| l.split_once('=')))).unwrap();
        assert_eq!(image.listen.to_string(), "0.0.0.0:3000");
        assert_eq!(image.database_kind(), "sqlite");
        assert_eq!(image.storage_dir, "/app/data/storage");
        assert_eq!(image.log_format, LogFormat::Json);

        let compose = deployment_file("docker-compose.yml");
        let app = compose.split_once("\n  app:\n").expect("the app service").1;
        let environment = app
            .split_once("    environment:\n")
            .expect("its environment")
            .1;
        let lines: Vec<&str> = environment
            .lines()
            .take_while(|l| l.starts_with("      "))
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .collect();
        let app =
            Config::from_figment(settings(lines.iter().filter_map(|l| l.split_once(':')))).unwrap();
        assert_eq!(app.database_kind(), "postgres");
        assert_eq!(app.database_max_connections, 10);
        assert!(app.redis_url.is_some());
        assert_eq!(app.s3_endpoint.as_deref(), Some("http://s3:8333"));
        assert_eq!(app.base_url(), "http://localhost:3000");
        assert_eq!(app.log_format, LogFormat::Json);
        // The Dockerfile builds and copies the binary this package makes.
        let package = env!("CARGO_PKG_NAME");
        assert!(dockerfile.contains(&format!("-p {package}")));
        assert!(dockerfile.contains(&format!("target/release/{package}")));
    }
}
