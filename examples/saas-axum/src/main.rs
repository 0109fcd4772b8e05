//! The Mortar SaaS starter.
//!
//! Run it with no configuration (a SQLite file `mortar.db` is created in the working directory):
//!
//! ```sh
//! cargo run -p example-saas-axum
//! ```
//!
//! Then, in another terminal:
//!
//! ```sh
//! curl -i http://127.0.0.1:3000/health    # 200 {"status":"pass"}
//! curl -i http://127.0.0.1:3000/ready     # 200, each backend checked
//! curl -i http://127.0.0.1:3000/nowhere   # 404 application/problem+json
//!
//! # Accounts (the verification code is printed on the starter's stderr in development):
//! curl -X POST -H 'content-type: application/json' \
//!   -d '{"email":"dev@example.com","password":"correct horse battery staple"}' \
//!   http://127.0.0.1:3000/auth/register                                    # 202
//! curl -X POST -H 'content-type: application/json' -d '{"token":"<code>"}' \
//!   http://127.0.0.1:3000/auth/verify-email                                # 200
//! curl -X POST -H 'content-type: application/json' \
//!   -d '{"email":"dev@example.com","password":"correct horse battery staple"}' \
//!   http://127.0.0.1:3000/auth/login                  # {"access_token": …, "refresh_token": …}
//! curl -H 'authorization: Bearer <access_token>' http://127.0.0.1:3000/me  # 200
//! ```
//!
//! Real backends: `MORTAR_DATABASE_URL=postgres://…`, `MORTAR_REDIS_URL=redis://…`,
//! `MORTAR_S3_ENDPOINT=…` (see `.env.example`). Ctrl-C or SIGTERM stops it gracefully.
//!
//! The same binary is the admin CLI: `cargo run -p example-saas-axum -- --help` lists the
//! operator commands (migrations, users, roles, sessions, jobs, flags, the audit log, demo
//! data); see the `cli` module.

use std::process::ExitCode;

use clap::Parser as _;
use example_saas_axum::cli::{Cli, Command};
use example_saas_axum::{App, Config, shutdown_signal, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        None | Some(Command::Serve) => serve(config).await,
        Some(command) => {
            // Operator commands print their results; only warnings and errors are logged.
            let mut quiet = config.clone();
            if std::env::var_os("MORTAR_LOG").is_none() {
                quiet.log = "warn".into();
            }
            telemetry::init(&quiet);
            match example_saas_axum::cli::run(command, config).await {
                Ok(code) => code,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    telemetry::init(&config);
    let listen = config.listen;
    tracing::info!(?config, "starting");

    let result = async {
        // Bound first: a taken port stops the starter before its job worker claims anything.
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(example_saas_axum::StartError::Serve)?;
        let app = App::build(config).await?;
        app.serve(listener, shutdown_signal()).await
    }
    .await;

    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let source = std::error::Error::source(&error).map(ToString::to_string);
            tracing::error!(%error, source, "the starter stopped");
            ExitCode::FAILURE
        }
    }
}
