//! Mortar on actix-web 4: accounts, JWT access tokens, a permission-guarded route, a per-IP
//! rate limit and problem documents in English and German, in memory, with no configuration.
//!
//! Run it (`MORTAR_LISTEN` picks another address; Ctrl-C or SIGTERM stops it gracefully):
//!
//! ```sh
//! cargo run -p example-minimal-actix        # listens on 127.0.0.1:3001
//! ```
//!
//! Then, in another terminal (verification codes are printed on the server's stderr):
//!
//! ```sh
//! H='content-type: application/json'
//! # Register; `reader@example.com` is on the readers allowlist, so it becomes a reader once verified.
//! curl -i -H "$H" -d '{"email":"reader@example.com","password":"correct horse battery staple"}' \
//!   http://127.0.0.1:3001/auth/register                       # 202 {"status":"pending_verification"}
//! curl -i -H "$H" -d '{"token":"<code from stderr>"}' \
//!   http://127.0.0.1:3001/auth/verify-email                   # 200 {… "roles":["reader"]}
//! curl -i -H "$H" -d '{"email":"reader@example.com","password":"correct horse battery staple"}' \
//!   http://127.0.0.1:3001/auth/login                          # 200 {"access_token":"<token>", …}
//!
//! curl -i http://127.0.0.1:3001/reports                       # 401 problem: no token
//! curl -i -H 'authorization: Bearer <token>' http://127.0.0.1:3001/reports
//!                                                             # 200 {"title":"Quarterly reports", …}
//! curl -i -H 'authorization: Bearer <token>' -H 'accept-language: de' http://127.0.0.1:3001/reports
//!                                                             # 200 {"title":"Quartalsberichte", …}
//! # Another account (say ann@example.com, registered the same way) is not a reader:
//! curl -i -H 'authorization: Bearer <ann's token>' http://127.0.0.1:3001/reports
//!                                                             # 403 problem, permission "reports:read"
//!
//! # Problems in the request's language (Content-Language: de):
//! curl -i -H 'accept-language: de' http://127.0.0.1:3001/nowhere   # 404 "Nicht gefunden"
//! curl -i -H 'accept-language: de' -H "$H" -d '{"email":"nope","password":"correct horse battery staple"}' \
//!   http://127.0.0.1:3001/auth/register                       # 422 "Die Anfrage ist ungültig."
//!
//! # 60 requests a minute per address; then 429 with Retry-After and RateLimit headers:
//! for i in $(seq 61); do curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:3001/me; done | sort | uniq -c
//! curl -i http://127.0.0.1:3001/me       # 429, retry-after: …, ratelimit: "per-ip";r=0;t=…
//! ```

use std::process::ExitCode;

use example_minimal_actix::{AppState, Settings, shutdown_signal};
use tracing_subscriber::EnvFilter;

/// Where it listens unless `MORTAR_LISTEN` says otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:3001";

#[actix_web::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("MORTAR_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let listen = std::env::var("MORTAR_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_owned());
    let app = match AppState::new(Settings::default()) {
        Ok(app) => app,
        Err(error) => {
            let source = std::error::Error::source(&error).map(ToString::to_string);
            tracing::error!(%error, source, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let server = std::net::TcpListener::bind(&listen)
        .and_then(|listener| app.server(listener, shutdown_signal()));
    let served = match server {
        Ok(server) => server.await,
        Err(error) => {
            tracing::error!(%error, %listen, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "serving failed");
            ExitCode::FAILURE
        }
    }
}
