//! Mortar on bare hyper 1 and hyper-util, without axum: accounts and JWT access tokens
//! (`mortar::auth`), a route guarded by a permission (`mortar::rbac`), a per-IP rate limit
//! (`mortar::ratelimit`) and problem documents in English and German (`mortar::i18n`), all
//! in memory, composed as tower layers with [`tower::ServiceBuilder`] around a hand-written
//! [`Router`].
//!
//! | capability | wired as |
//! | --- | --- |
//! | register, verify, log in | [`Accounts`] called by the router's handlers; [`AccessTokens`] issue the bearer token |
//! | who is calling | [`AuthLayer`] in optional mode: a valid bearer token becomes the request's `Principal` |
//! | `GET /reports` needs `reports:read` | [`RequirePermission`] as a tower layer around that one route; the `reader` role (`policy/roles.json`) holds it |
//! | 60 requests a minute per address | [`RateLimitLayer`] on every route; [`serve`] puts each connection's peer address in the request extensions |
//! | English and German | [`LocaleLayer`], outermost: every problem document (401, 403, 404, 429, validation) in the request's language |
//!
//! `src/main.rs` has a curl walkthrough of the whole journey.
//!
//! ```no_run
//! use example_minimal_hyper::{AppState, Settings, serve, shutdown_signal};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let app = AppState::new(Settings::default())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3002").await?;
//! serve(listener, app.service(), shutdown_signal()).await?;
//! # Ok(()) }
//! ```

mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use mortar::auth::account::Accounts;
use mortar::auth::code::{CodeSender, DevConsoleSender, MemoryCodeStore};
use mortar::auth::layer::{Auth, AuthLayer};
use mortar::auth::token::{AccessTokens, KeyRing, SigningKey};
use mortar::auth::user::{MemoryUserStore, User, normalize_email};
use mortar::core::{Principal, Problem};
use mortar::i18n::{I18n, LocaleLayer, LocaleService};
use mortar::ratelimit::{ClientIp, KeyBy, Policy, Quota, RateLimit, RateLimitLayer, RateLimiter};
use mortar::rbac::{Assignment, Rbac, RequirePermission};
use tokio::net::TcpListener;
use tower::ServiceBuilder;

pub use routes::Router;

/// Issuer and audience of the access tokens.
const ISSUER: &str = "example-minimal-hyper";

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

/// How long [`serve`] waits for open connections after the shutdown signal.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The whole service: the layers around the [`Router`], outermost first.
pub type AppService = LocaleService<Auth<RateLimit<Router>>>;

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

/// Everything the routes share; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) accounts: Accounts,
    pub(crate) tokens: AccessTokens,
    pub(crate) rbac: Rbac,
    /// The guard of `GET /reports`.
    pub(crate) reports_guard: RequirePermission,
    pub(crate) i18n: I18n,
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
        let key = SigningKey::generate_ed25519("minimal-hyper-1").map_err(StartError::Auth)?;
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

    /// The router inside its layers, ready for [`serve`] (or for `tower::ServiceExt::oneshot`).
    ///
    /// Outermost first: the locale (so every problem document below is rendered in the
    /// request's language, the authentication layer's 401s and the 429s included), then
    /// authentication (optional: anonymous requests go on, and the routes that need a caller
    /// answer 401 themselves), then the rate limit, then the router.
    pub fn service(&self) -> AppService {
        ServiceBuilder::new()
            .layer(LocaleLayer::new(self.i18n.clone()))
            .layer(self.auth.clone())
            // Inside authentication, where per-user policies would see the principal. It also
            // must sit right around the router: it builds its 429 in the inner response's body
            // type, which must be `From<Bytes>` (`Full<Bytes>` is; Mortar's `ProblemBody` and
            // `LocaleBody` are not).
            .layer(self.rate_limit.clone())
            .service(Router::new(self.clone()))
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

/// Serves `service` on `listener` (HTTP/1.1 and HTTP/2) until `shutdown` completes, then stops
/// accepting and waits up to 30 s for open connections to finish their requests.
///
/// Each request carries its connection's peer address as a [`SocketAddr`] extension, where the
/// rate limit, the account flows (failed logins per address) and the RBAC conditions find it.
///
/// # Errors
///
/// When the listener's address cannot be read; failed accepts are logged and serving goes on.
pub async fn serve(
    listener: TcpListener,
    service: AppService,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, a connection reset before it was accepted: the
                    // listener itself is fine.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = ServiceBuilder::new()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert::<SocketAddr>(peer);
                req
            })
            .service(service.clone());
        let connection = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection closed with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: waiting for open connections");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("every connection closed"),
        () = tokio::time::sleep(SHUTDOWN_TIMEOUT) => {
            tracing::warn!("connections still open after {SHUTDOWN_TIMEOUT:?}: dropping them");
        }
    }
    Ok(())
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
