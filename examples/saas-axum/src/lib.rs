//! The Mortar SaaS starter on axum: copy this crate and grow it.
//!
//! With no configuration at all it creates a SQLite database file, runs migrations and listens on
//! 127.0.0.1:3000; `MORTAR_DATABASE_URL`, `MORTAR_REDIS_URL` and `MORTAR_S3_*` select real
//! backends (see `.env.example`). The library half (this crate's `lib.rs`) builds the router so
//! tests drive it in process; `main.rs` only reads the configuration, sets up logging and serves.
//!
//! ```no_run
//! use example_saas_axum::{App, Config};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let app = App::build(Config::load()?).await?;
//! let router = app.router(); // mount it in your own server, or:
//! app.serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod audit;
pub mod auth;
pub mod avatars;
pub mod cli;
pub mod config;
pub mod flags;
pub mod i18n;
pub mod invitations;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod migration;
pub mod openapi;
pub mod orgs;
pub mod ratelimit;
pub mod routes;
pub mod sso;
pub mod state;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use mortar::auth::code::{CodeSender, DevConsoleSender};
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, Database};
use sea_orm_migration::MigratorTrait as _;
use secrecy::ExposeSecret as _;

pub use config::{Config, LogFormat};
pub use state::AppState;

/// The starter could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The database could not be reached.
    #[error("connecting to the database failed")]
    Database(#[source] sea_orm::DbErr),
    /// A migration failed.
    #[error("running database migrations failed")]
    Migration(#[source] sea_orm::DbErr),
    /// `MORTAR_MIGRATE_ON_START=false` and the schema is behind: run `migrate` first.
    #[error(
        "{0} database migration(s) pending and MORTAR_MIGRATE_ON_START is false: run \
         `example-saas-axum migrate` first"
    )]
    PendingMigrations(usize),
    /// The Redis configuration is invalid.
    #[error("the Redis configuration is invalid")]
    Redis(#[source] deadpool_redis::CreatePoolError),
    /// The S3 configuration is invalid.
    #[error("the S3 configuration is invalid: {0}")]
    S3(String),
    /// File storage could not be set up (directory, URL-signing key).
    #[error("setting up file storage failed: {0}")]
    Storage(String),
    /// Authentication could not be set up.
    #[error("setting up authentication failed")]
    Auth(#[source] mortar::auth::Error),
    /// Authorization could not be set up (invalid roles file, store failure).
    #[error("setting up authorization failed")]
    Rbac(#[source] mortar::rbac::Error),
    /// A message catalog does not parse.
    #[error("loading the message catalogs failed")]
    I18n(#[source] mortar::i18n::Error),
    /// The feature flags could not be loaded (invalid defaults, store failure).
    #[error("loading the feature flags failed")]
    Flags(#[source] mortar::flags::Error),
    /// A rate-limit setting is invalid.
    #[error("the rate-limit configuration is invalid: {0}")]
    RateLimit(String),
    /// The job schedule could not be set up.
    #[error("setting up background jobs failed")]
    Jobs(#[source] mortar::jobs::Error),
    /// Serving failed (e.g. the listener broke).
    #[error("serving failed")]
    Serve(#[source] std::io::Error),
}

/// The assembled application: configuration, connections, router and the background job
/// worker.
#[derive(Clone, Debug)]
pub struct App {
    state: AppState,
    background: Arc<std::sync::Mutex<Option<jobs::Running>>>,
}

impl App {
    /// Connects to the configured backends (creating the SQLite file if needed), runs the
    /// migrations and starts the background job worker and schedule (unless
    /// `MORTAR_JOBS_CONCURRENCY` is 0); [`App::serve`] or [`App::shutdown`] stops them.
    ///
    /// # Errors
    ///
    /// [`StartError`] when a backend cannot be reached or a migration fails. Redis and S3 are
    /// not contacted here: `/ready` reports whether they answer.
    pub async fn build(config: Config) -> Result<Self, StartError> {
        Self::build_with_sender(config, Arc::new(DevConsoleSender)).await
    }

    /// Like [`App::build`], delivering verification and reset codes through `sender` (your mailer;
    /// tests capture them). [`App::build`] prints them to stderr, for development; other mail
    /// (invitations) is printed there too.
    ///
    /// # Errors
    ///
    /// As [`App::build`].
    pub async fn build_with_sender(
        config: Config,
        sender: Arc<dyn CodeSender>,
    ) -> Result<Self, StartError> {
        Self::build_with(config, sender, Arc::new(mail::ConsoleMailer)).await
    }

    /// Like [`App::build`], delivering codes through `sender` and other mail (invitations)
    /// through `mailer`.
    ///
    /// # Errors
    ///
    /// As [`App::build`].
    pub async fn build_with(
        config: Config,
        sender: Arc<dyn CodeSender>,
        mailer: Arc<dyn mail::Mailer>,
    ) -> Result<Self, StartError> {
        // Installed before anything records: every metric reaches /metrics.
        metrics::handle();
        let db = connect(&config).await?;
        if config.migrate_on_start {
            migration::Migrator::up(&db, None)
                .await
                .map_err(StartError::Migration)?;
        } else {
            let pending = migration::Migrator::get_pending_migrations(&db)
                .await
                .map_err(StartError::Migration)?;
            if !pending.is_empty() {
                return Err(StartError::PendingMigrations(pending.len()));
            }
        }
        tracing::info!(database = config.database_kind(), "database ready");
        let audit = audit::Audit::start(&db);
        let rbac = orgs::rbac(&db, &audit.recorder).await?;
        let flags = flags::flags(&db, &audit.recorder).await?;
        let run_jobs = config.jobs_concurrency > 0;
        let state = AppState::new(config, db, rbac, flags, audit, sender, mailer).await?;
        let app = Self {
            state,
            background: Arc::default(),
        };
        if run_jobs {
            app.start_jobs()?;
        }
        Ok(app)
    }

    /// Starts the job worker and the cron schedule on the current Tokio runtime ([`App::build`]
    /// does, unless `MORTAR_JOBS_CONCURRENCY` is 0); does nothing when they already run.
    ///
    /// # Errors
    ///
    /// [`StartError::Jobs`] when the schedule does not parse.
    pub fn start_jobs(&self) -> Result<(), StartError> {
        let mut running = self
            .background
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if running.is_none() {
            let scheduler = jobs::scheduler(self.state.jobs()).map_err(StartError::Jobs)?;
            *running = Some(jobs::Running::start(self.state.worker(), scheduler));
            tracing::info!(
                concurrency = self.state.config().jobs_concurrency,
                "job worker started"
            );
        }
        Ok(())
    }

    /// Stops gracefully what runs in the background: the schedule, and the job worker, which
    /// stops fetching and waits up to `MORTAR_SHUTDOWN_TIMEOUT` for running jobs (the rest are
    /// aborted, and run again later unless that was their last attempt); then writes out the audit trail and API-key usage and closes
    /// the database pool. [`App::serve`] calls it once the server has stopped; call it yourself
    /// when you mount [`App::router`] in your own server. The app is not usable afterwards.
    pub async fn shutdown(&self) {
        let running = self
            .background
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(running) = running {
            running
                .stop(Duration::from_secs(self.state.config().shutdown_timeout))
                .await;
        }
        self.state.audit().flush().await;
        if let Err(error) = self.state.auth().api_keys.flush_usage().await {
            tracing::warn!(%error, "writing API key usage failed");
        }
        if let Err(error) = self.state.db().clone().close().await {
            tracing::warn!(%error, "closing the database pool failed");
        }
    }

    /// The shared state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The application's router with every route and middleware.
    pub fn router(&self) -> Router {
        routes::router(self.state.clone())
    }

    /// Serves the router on `listener` until `shutdown` completes, then lets in-flight requests
    /// finish and [shuts down](App::shutdown) the job worker and the connections.
    ///
    /// # Errors
    ///
    /// [`StartError::Serve`] when the listener fails.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(error) => {
                self.shutdown().await;
                return Err(StartError::Serve(error));
            }
        };
        tracing::info!(%addr, "listening");
        let api_keys = self.state.auth().api_keys.clone();
        let flusher = api_keys.spawn_usage_flusher(Duration::from_secs(30));
        let activity = self
            .state
            .audit()
            .activity
            .spawn_flusher(Duration::from_secs(30));
        // Memberships other instances change reach this one within a second.
        let _watch = self.state.rbac().watch(Duration::from_secs(1));
        // The peer address reaches the rate limits and the audit events.
        let service = self
            .router()
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(StartError::Serve);
        tracing::info!("shutting down");
        flusher.abort();
        activity.abort();
        // Also when serving failed: running jobs finish, claimed ones are released.
        self.shutdown().await;
        served
    }
}

/// Opens the configured database's connection pool (creating the SQLite file if needed),
/// without migrating it.
///
/// # Errors
///
/// [`StartError::Database`] when the database cannot be reached.
pub async fn connect(config: &Config) -> Result<sea_orm::DatabaseConnection, StartError> {
    let mut options = ConnectOptions::new(config.database_url.expose_secret().to_owned());
    options
        .max_connections(config.database_max_connections)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        // SQL statements are logged at DEBUG by sqlx; they carry no secrets, but keep them
        // out of the default INFO output.
        .sqlx_logging_level(log::LevelFilter::Debug)
        // SQLite in its default rollback journal makes every commit wait for all readers and
        // every reader wait for a commit; under load a request could give up after sqlx's 5 s
        // busy timeout (a 503). WAL lets readers and the one writer proceed side by side, and
        // a longer timeout rides out bursts of writers. `synchronous` stays FULL: a committed
        // transaction survives a power cut too.
        .map_sqlx_sqlite_opts(|options| {
            options
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(30))
        });
    Database::connect(options)
        .await
        .map_err(StartError::Database)
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutdown requested"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutdown requested"),
    }
}
