//! The state every handler shares.

use std::sync::Arc;

use s3::creds::Credentials;
use s3::{Bucket, Region};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;

use mortar::auth::code::CodeSender;
use mortar::auth::sql::SeaOrmUserStore;
use mortar::jobs::sql::SqlBackend;
use mortar::jobs::{Jobs, Worker};

use crate::StartError;
use crate::auth::Auth;
use crate::config::Config;

/// Connections and configuration, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    db: DatabaseConnection,
    redis: Option<deadpool_redis::Pool>,
    s3: Option<Box<Bucket>>,
    avatars: crate::avatars::Avatars,
    auth: Auth,
    rbac: mortar::rbac::Rbac,
    flags: crate::flags::AppFlags,
    rate_limit: mortar::ratelimit::RateLimitLayer,
    i18n: mortar::i18n::I18n,
    audit: crate::audit::Audit,
    jobs: Jobs,
    sql_jobs: SqlBackend,
    worker: Worker<crate::jobs::JobDeps>,
}

impl AppState {
    /// Builds the state from the configuration, an open database connection, the
    /// authorizer, the feature flags and the audit trail. Redis and S3
    /// clients are created (not contacted) when configured; without S3, the directory of
    /// uploaded files is created. Background jobs live in the same database; codes reach
    /// `sender` through a [`SendCode`](crate::jobs::SendCode) job each. The job worker is
    /// built, not started ([`crate::App::build`] starts it).
    ///
    /// # Errors
    ///
    /// [`StartError::Redis`] or [`StartError::S3`] when their settings are invalid;
    /// [`StartError::Storage`] when file storage cannot be set up;
    /// [`StartError::Auth`] when authentication cannot be set up.
    pub async fn new(
        config: Config,
        db: DatabaseConnection,
        rbac: mortar::rbac::Rbac,
        flags: crate::flags::AppFlags,
        audit: crate::audit::Audit,
        sender: Arc<dyn CodeSender>,
        mailer: Arc<dyn crate::mail::Mailer>,
    ) -> Result<Self, StartError> {
        let redis = config
            .redis_url
            .as_ref()
            .map(|url| {
                deadpool_redis::Config::from_url(url.expose_secret())
                    .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            })
            .transpose()
            .map_err(StartError::Redis)?;
        let s3 = config
            .s3_endpoint
            .as_ref()
            .map(|endpoint| s3_bucket(&config, endpoint))
            .transpose()?;
        let avatars = crate::avatars::Avatars::new(&config, s3.as_deref()).await?;
        let sql_jobs = SqlBackend::new(db.clone());
        let jobs = Jobs::new(sql_jobs.clone());
        // One application key seals TOTP secrets, SSO client secrets, OAuth flows and the codes
        // waiting in jobs, each under its own context.
        let sealer = crate::auth::app_sealer(&config)?;
        let queued = Arc::new(crate::jobs::QueuedSender::new(jobs.clone(), sealer.clone()));
        let auth = Auth::new(
            &config,
            &db,
            redis.as_ref(),
            &audit.recorder,
            queued,
            sealer.clone(),
        )?;
        let deps = crate::jobs::JobDeps {
            sender,
            sealer,
            users: Arc::new(SeaOrmUserStore::new(db.clone())),
            avatars: avatars.clone(),
            recorder: audit.recorder.clone(),
            jobs: jobs.clone(),
            mailer,
            db: db.clone(),
            base_url: config.base_url(),
        };
        let worker = crate::jobs::worker(&jobs, deps, config.jobs_concurrency.max(1));
        let rate_limit = crate::ratelimit::layer(&config, redis.as_ref())?;
        let i18n = crate::i18n::catalogs().map_err(StartError::I18n)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                db,
                redis,
                s3,
                avatars,
                auth,
                rbac,
                flags,
                rate_limit,
                i18n,
                audit,
                jobs,
                sql_jobs,
                worker,
            }),
        })
    }

    /// Authentication.
    pub fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// Authorization: organization roles and memberships.
    pub fn rbac(&self) -> &mortar::rbac::Rbac {
        &self.inner.rbac
    }

    /// Feature flags and their admin functions.
    pub fn flags(&self) -> &crate::flags::AppFlags {
        &self.inner.flags
    }

    /// The API's rate limits.
    pub fn rate_limit(&self) -> &mortar::ratelimit::RateLimitLayer {
        &self.inner.rate_limit
    }

    /// The message catalogs (English, German, Arabic).
    pub fn i18n(&self) -> &mortar::i18n::I18n {
        &self.inner.i18n
    }

    /// The audit trail.
    pub fn audit(&self) -> &crate::audit::Audit {
        &self.inner.audit
    }

    /// Background jobs: enqueue, inspect, retry, cancel.
    pub fn jobs(&self) -> &Jobs {
        &self.inner.jobs
    }

    /// The jobs' SQL backend itself, to enqueue inside one of the app's transactions
    /// ([`SqlBackend::enqueue_in`]).
    pub fn sql_jobs(&self) -> &SqlBackend {
        &self.inner.sql_jobs
    }

    /// The job worker (not running until started: [`crate::App::build`] does).
    pub fn worker(&self) -> &Worker<crate::jobs::JobDeps> {
        &self.inner.worker
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The database pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    /// The Redis pool, when configured.
    pub fn redis(&self) -> Option<&deadpool_redis::Pool> {
        self.inner.redis.as_ref()
    }

    /// Avatars: where they are kept, how links to them are made.
    pub fn avatars(&self) -> &crate::avatars::Avatars {
        &self.inner.avatars
    }

    /// The S3 bucket, when configured.
    pub fn s3(&self) -> Option<&Bucket> {
        self.inner.s3.as_deref()
    }
}

fn s3_bucket(config: &Config, endpoint: &str) -> Result<Box<Bucket>, StartError> {
    let region = Region::Custom {
        region: config
            .s3_region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_owned()),
        endpoint: endpoint.to_owned(),
    };
    let credentials = Credentials::new(
        config.s3_access_key.as_deref(),
        config
            .s3_secret_key
            .as_ref()
            .map(ExposeSecret::expose_secret),
        None,
        None,
        None,
    )
    .map_err(|e| StartError::S3(e.to_string()))?;
    let name = config.s3_bucket.as_deref().unwrap_or("mortar");
    Bucket::new(name, region, credentials)
        .map(|b| b.with_path_style())
        .map_err(|e| StartError::S3(e.to_string()))
}

/// The authorizer, for mortar-rbac's extractors (`Guard`, `Authorized`).
impl axum::extract::FromRef<AppState> for mortar::rbac::Rbac {
    fn from_ref(state: &AppState) -> Self {
        state.inner.rbac.clone()
    }
}
