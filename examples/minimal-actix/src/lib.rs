//! Mortar on actix-web 4: accounts and JWT access tokens (`mortar::auth`), a route guarded by a
//! permission (`mortar::rbac`), a per-IP rate limit (`mortar::ratelimit`) and problem documents
//! in English and German (`mortar::i18n`), all in memory, as actix middleware and extractors.
//!
//! | capability | wired as |
//! | --- | --- |
//! | register, verify, log in | [`Accounts`] called by the handlers; [`AccessTokens`] issue the bearer token |
//! | who is calling | [`Authenticate`] (the [`AuthLayer`]'s chain, optional mode) puts a valid bearer token's `Principal` in the request extensions; handlers take it as an extractor |
//! | `GET /reports` needs `reports:read` | [`RequirePermission`] wrapped around that resource; the `reader` role (`policy/roles.json`) holds it |
//! | 60 requests a minute per address | [`Limit`] (a [`RateLimitLayer`]'s policies) around every route |
//! | English and German | [`LocaleMiddleware`], outermost: every problem document (401, 403, 404, 429, validation) in the request's language; handlers take a `Locale` |
//!
//! `src/main.rs` has a curl walkthrough of the whole journey.
//!
//! ```no_run
//! use example_minimal_actix::{AppState, Settings, shutdown_signal};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let app = AppState::new(Settings::default())?;
//! let listener = std::net::TcpListener::bind("127.0.0.1:3001")?;
//! app.server(listener, shutdown_signal())?.await?;
//! # Ok(()) }
//! ```

mod routes;

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpServer, middleware, web};
use mortar::auth::account::Accounts;
use mortar::auth::actix::Authenticate;
use mortar::auth::code::{CodeSender, DevConsoleSender, MemoryCodeStore};
use mortar::auth::layer::AuthLayer;
use mortar::auth::token::{AccessTokens, KeyRing, SigningKey};
use mortar::auth::user::{MemoryUserStore, User, normalize_email};
use mortar::core::{Principal, Problem};
use mortar::i18n::I18n;
use mortar::i18n::actix::LocaleMiddleware;
use mortar::ratelimit::actix::Limit;
use mortar::ratelimit::{ClientIp, KeyBy, Policy, Quota, RateLimitLayer, RateLimiter};
use mortar::rbac::actix::RequirePermission;
use mortar::rbac::{Assignment, Rbac};

/// Issuer and audience of the access tokens.
const ISSUER: &str = "example-minimal-actix";

/// The roles and what they allow.
const ROLES: &str = include_str!("../policy/roles.json");

/// The message catalogs, compiled in: the example runs from its binary alone.
const CATALOGS: [(&str, &str, &str); 2] = [
    (
        "en",
        "locales/en/main.ftl",
        include_str!("../locales/en/main.ftl"),
    ),
    (
        "de",
        "locales/de/main.ftl",
        include_str!("../locales/de/main.ftl"),
    ),
];

/// Seconds the server waits for in-flight requests after the shutdown signal.
const SHUTDOWN_TIMEOUT_SECS: u64 = 30;

/// What can be set; [`Settings::default`] is what `main.rs` runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Addresses that get the `reader` role once verified (compared trimmed and lower-cased).
    pub readers: Vec<String>,
    /// Requests a minute allowed per client address, on every route.
    pub requests_per_minute: NonZeroU32,
}

impl Default for Settings {
    /// `reader@example.com` is a reader; 60 requests a minute per address.
    fn default() -> Self {
        Self {
            readers: vec!["reader@example.com".to_owned()],
            requests_per_minute: NonZeroU32::new(60).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// The example could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The signing key could not be generated.
    #[error("setting up authentication failed")]
    Auth(#[source] mortar::auth::Error),
    /// `policy/roles.json` is not a valid policy.
    #[error("loading the roles failed")]
    Rbac(#[source] mortar::rbac::Error),
    /// A message catalog does not parse.
    #[error("loading the message catalogs failed")]
    I18n(#[source] mortar::i18n::Error),
    /// The rate-limit policy is invalid.
    #[error("setting up rate limits failed")]
    RateLimit(#[source] mortar::ratelimit::Error),
}

/// Everything the handlers share (as `web::Data<AppState>`) and the middleware is made of;
/// cheap to clone, shared by every worker.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) accounts: Accounts,
    pub(crate) tokens: AccessTokens,
    rbac: Rbac,
    /// The guard of `GET /reports`.
    reports_guard: RequirePermission,
    i18n: I18n,
    auth: AuthLayer,
    rate_limit: RateLimitLayer,
    readers: Arc<[String]>,
}

impl AppState {
    /// Builds the app on in-memory stores, printing verification codes to stderr (mortar-auth's
    /// development sender).
    ///
    /// # Errors
    ///
    /// [`StartError`] when a part cannot be set up.
    pub fn new(settings: Settings) -> Result<Self, StartError> {
        Self::with_sender(settings, DevConsoleSender)
    }

    /// Like [`AppState::new`], delivering verification codes through `sender` (your mailer; the
    /// tests keep them in memory).
    ///
    /// # Errors
    ///
    /// [`StartError`] when a part cannot be set up.
    pub fn with_sender(settings: Settings, sender: impl CodeSender) -> Result<Self, StartError> {
        // A key made at start-up: tokens end with the process, as the accounts do.
        let key = SigningKey::generate_ed25519("minimal-actix-1").map_err(StartError::Auth)?;
        let tokens = AccessTokens::builder(KeyRing::new(key), ISSUER, ISSUER).build();
        let accounts = Accounts::builder(
            Arc::new(MemoryUserStore::new()),
            Arc::new(MemoryCodeStore::new()),
        )
        .sender(sender)
        .build();
        let rbac = Rbac::new(mortar::rbac::Policy::from_json(ROLES).map_err(StartError::Rbac)?)
            .map_err(StartError::Rbac)?;
        let reports_guard =
            RequirePermission::new(&rbac, "reports:read").map_err(StartError::Rbac)?;
        let per_ip = Policy::new(
            "per-ip",
            Quota::per_minute(settings.requests_per_minute),
            KeyBy::Ip,
        )
        .map_err(StartError::RateLimit)?;
        // No proxy is trusted: the peer address is the client, `X-Forwarded-For` is ignored.
        let limiter = RateLimiter::memory()
            .client_ip(ClientIp::new())
            .policy(per_ip);
        Ok(Self {
            accounts,
            tokens: tokens.clone(),
            rbac,
            reports_guard,
            i18n: catalogs().map_err(StartError::I18n)?,
            auth: AuthLayer::optional().with(tokens),
            rate_limit: RateLimitLayer::new(limiter),
            readers: settings
                .readers
                .into_iter()
                .map(|address| normalize_email(&address))
                .collect(),
        })
    }

    /// The application: routes, middleware and shared state, for `HttpServer::new(move ||
    /// state.app())` ([`AppState::server`]) or `actix_web::test::init_service`.
    ///
    /// The middleware, outermost first (actix runs the last `wrap` first): the locale (so every
    /// problem document below is rendered in the request's language, authentication's 401s and
    /// the 429s included), 5xx logging, authentication (optional: anonymous requests go on,
    /// and the routes that need a caller answer 401 themselves), then the rate limit.
    pub fn app(
        &self,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody + use<>>,
            Error = actix_web::Error,
            InitError = (),
        > + use<>,
    > {
        App::new()
            .app_data(web::Data::new(self.clone()))
            .app_data(routes::json_config())
            .configure(|config| routes::configure(config, self.reports_guard.clone()))
            .default_service(web::to(routes::not_found))
            // Inside authentication, where per-user policies would see the principal.
            .wrap(Limit::new(self.rate_limit.clone()))
            .wrap(Authenticate::new(self.auth.clone()))
            .wrap(middleware::from_fn(routes::log_server_errors))
            .wrap(LocaleMiddleware::new(self.i18n.clone()))
    }

    /// The server on `listener` (as many workers as cores, sharing this state): it runs when
    /// awaited, until `shutdown` completes, then stops accepting and gives in-flight requests up
    /// to 30 s. Its handle (`Server::handle`) stops it too.
    ///
    /// # Errors
    ///
    /// When the listener cannot be used.
    pub fn server(
        &self,
        listener: std::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<Server> {
        let state = self.clone();
        tracing::info!(addr = %listener.local_addr()?, "listening");
        Ok(HttpServer::new(move || state.app())
            .listen(listener)?
            .shutdown_signal(shutdown)
            .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
            .run())
    }

    /// Grants the roles an account earns by verifying its address: `reader` when the address
    /// is on the allowlist. Only a verified address counts (anyone can register any address);
    /// returns the roles the account now holds.
    pub(crate) async fn on_verified(&self, user: &User) -> Result<Vec<String>, Problem> {
        let subject = user.id.to_string();
        if self.readers.contains(&normalize_email(&user.email)) {
            let app = Principal::service_account(ISSUER).build();
            self.rbac
                .grant(&app, Assignment::new(subject.as_str(), "reader"))
                .await
                .map_err(|e| Problem::internal_error().with_source(e))?;
        }
        Ok(self.roles_of(&subject))
    }

    /// The roles `subject` holds.
    pub(crate) fn roles_of(&self, subject: &str) -> Vec<String> {
        self.rbac
            .assignments_of(subject, None)
            .into_iter()
            .map(|assignment| assignment.role)
            .collect()
    }
}

/// The catalogs: English (the default) and German, over Mortar's built-in problem titles and
/// validation messages.
///
/// # Errors
///
/// A Fluent syntax error in one of the files.
pub fn catalogs() -> Result<I18n, mortar::i18n::Error> {
    let mut builder = I18n::builder().default_locale("en");
    for (tag, name, source) in CATALOGS {
        builder = builder.add_named_ftl(tag, name, source);
    }
    builder.build()
}

/// The catalog sources (language tag, Fluent source), for the completeness check in the tests.
pub fn catalog_sources() -> impl Iterator<Item = (&'static str, &'static str)> {
    CATALOGS.into_iter().map(|(tag, _, source)| (tag, source))
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM. (Left to itself, actix-server stops gracefully on
/// SIGTERM but at once on SIGINT; [`AppState::server`] takes this instead, so both are graceful.)
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
