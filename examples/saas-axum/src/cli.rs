//! The command line: `example-saas-axum` serves the API; its subcommands are the operator's
//! tools (migrations, users, roles, sessions, jobs, flags, the audit log, demo data, the OpenAPI
//! document). They read the same configuration as the server (`MORTAR_*`, `.env`) and act on the
//! same database, so run them beside a running instance or in a release step:
//!
//! ```sh
//! example-saas-axum migrate                      # apply pending migrations (status, down N)
//! example-saas-axum seed                         # demo organization and users, passwords printed once
//! printf '%s' "$PASSWORD" | example-saas-axum user create ops@example.com --password-stdin --verified
//! example-saas-axum user import users.jsonl      # bulk import with a progress bar
//! example-saas-axum role grant ops@example.com admin --org Acme
//! example-saas-axum user revoke-sessions ops@example.com
//! example-saas-axum jobs list --state discarded  # then: jobs retry <id>
//! example-saas-axum flag set beta-reports --variant on
//! example-saas-axum audit verify                 # exit status 3 when a chain is broken
//! example-saas-axum audit purge --older-than-days 365
//! example-saas-axum openapi > openapi.json       # the API's OpenAPI 3.1 document
//! ```
//!
//! Everything an operator changes is recorded on the audit trail as the service account
//! [`admin::ACTOR`](crate::admin::ACTOR). Progress bars are drawn on standard error only when it
//! is a terminal; results go to standard output.

use std::io::{BufRead as _, BufReader, IsTerminal as _, Read as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mortar::flags::FlagState;
use mortar::jobs::{JobFilter, JobState};
use sea_orm_migration::{MigrationStatus, MigratorTrait as _};
use secrecy::{ExposeSecret as _, SecretString};

use crate::admin::{Admin, AdminError};
use crate::{App, Config, StartError};

/// The Mortar SaaS starter: serves the API, or runs an operator task.
#[derive(Debug, Parser)]
#[command(name = "example-saas-axum", version, about, long_about = None)]
pub struct Cli {
    /// What to do; serving the API when none is given.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A subcommand.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Database migrations: apply pending ones (the default), show their status, or undo some.
    Migrate {
        /// What to do.
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Users: create one, import many, sign one out everywhere.
    #[command(subcommand)]
    User(UserCommand),
    /// Roles: grant or take one, globally or in an organization.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Background jobs: list, count, retry.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Feature flags: list them, change one for everyone.
    #[command(subcommand)]
    Flag(FlagCommand),
    /// The audit log: verify its hash chains, purge old records.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Demo data for a fresh installation: an organization "Acme" with an owner, an admin and a
    /// member (passwords printed once).
    Seed,
    /// Print the OpenAPI 3.1 document of the API (JSON) and exit.
    Openapi,
}

/// `migrate …`
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// List the migrations, applied or pending.
    Status,
    /// Undo the last `steps` applied migrations (their tables and data are dropped).
    Down {
        /// How many.
        #[arg(default_value_t = 1)]
        steps: u32,
    },
}

/// `user …`
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum UserCommand {
    /// Create a user. Without --password-stdin a random password is made and printed once.
    Create {
        /// The e-mail address.
        email: String,
        /// Read the password from standard input (one line; nothing is echoed).
        #[arg(long)]
        password_stdin: bool,
        /// Mark the address as verified (no verification code is sent).
        #[arg(long)]
        verified: bool,
    },
    /// Import users from a file of JSON lines, one user a line:
    /// `{"email": …, "password": …}` or `{"email": …, "password_hash": "$argon2id$…"}` (Argon2,
    /// bcrypt, scrypt, PBKDF2 or Django hashes, upgraded at the next login), optionally
    /// `"username"` and `"verified": true`. Existing users are left alone; bad lines are reported
    /// and skipped.
    Import {
        /// The file (`-` for standard input).
        file: PathBuf,
        /// Passwords hashed at once (each hash takes ~50 ms of one core and 19 MiB).
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Sign a user out everywhere: end every session, refuse the access tokens issued so far.
    RevokeSessions {
        /// The user's id or e-mail address.
        user: String,
    },
}

/// `role …`
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum RoleCommand {
    /// Grant a role.
    Grant(RoleArgs),
    /// Take a role away.
    Revoke(RoleArgs),
}

/// Who, which role, where.
#[derive(Debug, Args)]
pub struct RoleArgs {
    /// The user's id or e-mail address.
    pub user: String,
    /// The role: `owner`, `admin` or `member` in an organization; a global role of
    /// `policy/roles.json` (e.g. `pro`) without --org.
    pub role: String,
    /// The organization (id, or its name when unique).
    #[arg(long)]
    pub org: Option<String>,
}

/// `jobs …`
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// Only jobs in this state (may be repeated).
        #[arg(long, value_enum)]
        state: Vec<StateArg>,
        /// Only this queue (`mail`, `media`, `default`).
        #[arg(long)]
        queue: Option<String>,
        /// Only this job type (`SendCode`, `MakeThumbnail`, `Cleanup`).
        #[arg(long = "type")]
        name: Option<String>,
        /// At most this many (up to 1000).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Each queue's jobs by state.
    Stats,
    /// Run a discarded or cancelled job again.
    Retry {
        /// The job's id.
        id: String,
    },
}

/// A job state on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
#[non_exhaustive]
pub enum StateArg {
    /// Waiting to run.
    Pending,
    /// Running now.
    Running,
    /// Done.
    Completed,
    /// Failed for good.
    Discarded,
    /// Cancelled by an operator.
    Cancelled,
}

impl From<StateArg> for JobState {
    fn from(state: StateArg) -> Self {
        match state {
            StateArg::Pending => Self::Pending,
            StateArg::Running => Self::Running,
            StateArg::Completed => Self::Completed,
            StateArg::Discarded => Self::Discarded,
            StateArg::Cancelled => Self::Cancelled,
        }
    }
}

/// `flag …`
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum FlagCommand {
    /// Every flag with its state, default variant and where it comes from.
    List,
    /// Change a flag for everyone (every instance follows within a second).
    Set {
        /// The flag's key, e.g. `beta-reports`.
        key: String,
        /// The variant served by default, e.g. `on`.
        #[arg(long)]
        variant: Option<String>,
        /// Serve the flag.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Stop serving the flag: every caller gets its own default.
        #[arg(long)]
        disable: bool,
    },
}

/// `audit …`
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum AuditCommand {
    /// Verify the hash chain of every stream (exit status 3 when one is broken).
    Verify,
    /// Remove records older than a cut-off, keeping each chain verifiable.
    Purge {
        /// Records older than this many days.
        #[arg(long, required_unless_present = "before", conflicts_with = "before")]
        older_than_days: Option<u64>,
        /// Records before this time (RFC 3339, e.g. `2026-01-01T00:00:00Z`).
        #[arg(long)]
        before: Option<String>,
    },
}

/// What a subcommand returned: the process's exit status.
const BROKEN_CHAIN: u8 = 3;

/// Runs an operator command (anything but [`Command::Serve`], which `main` handles) with this
/// configuration, writing results to standard output.
///
/// # Errors
///
/// A message for the operator when the command fails.
pub async fn run(command: Command, config: Config) -> Result<ExitCode, String> {
    match command {
        Command::Serve => Err("`serve` is handled by main".into()),
        Command::Migrate { action } => migrate(action.unwrap_or(MigrateAction::Up), &config).await,
        Command::Openapi => {
            println!("{}", crate::openapi::json());
            Ok(ExitCode::SUCCESS)
        }
        command => {
            let app = operator_app(config).await?;
            let result = operate(&Admin::new(&app), command).await;
            app.shutdown().await;
            result
        }
    }
}

/// The app as operator commands use it: no job worker, migrations as configured.
async fn operator_app(mut config: Config) -> Result<App, String> {
    config.jobs_concurrency = 0;
    App::build(config).await.map_err(|e| start_failed(&e))
}

fn start_failed(error: &StartError) -> String {
    match std::error::Error::source(error) {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "used as `map_err(admin_failed)`"
)]
fn admin_failed(error: AdminError) -> String {
    error.to_string()
}

async fn migrate(action: MigrateAction, config: &Config) -> Result<ExitCode, String> {
    let db = crate::connect(config).await.map_err(|e| start_failed(&e))?;
    let failed = |e: sea_orm::DbErr| format!("migration failed: {e}");
    match action {
        MigrateAction::Up => {
            let pending = crate::migration::Migrator::get_pending_migrations(&db)
                .await
                .map_err(failed)?;
            crate::migration::Migrator::up(&db, None)
                .await
                .map_err(failed)?;
            for migration in &pending {
                println!("applied  {}", migration.name());
            }
            println!(
                "{} migration(s) applied; the schema is current",
                pending.len()
            );
        }
        MigrateAction::Status => {
            let all = crate::migration::Migrator::get_migration_with_status(&db)
                .await
                .map_err(failed)?;
            let mut pending = 0;
            for migration in &all {
                let status = match migration.status() {
                    MigrationStatus::Applied => "applied",
                    MigrationStatus::Pending => {
                        pending += 1;
                        "pending"
                    }
                };
                println!("{status:8} {}", migration.name());
            }
            println!("{} applied, {pending} pending", all.len() - pending);
        }
        MigrateAction::Down { steps } => {
            crate::migration::Migrator::down(&db, Some(steps))
                .await
                .map_err(failed)?;
            println!("{steps} migration(s) undone");
        }
    }
    drop(db.close().await);
    Ok(ExitCode::SUCCESS)
}

async fn operate(admin: &Admin<'_>, command: Command) -> Result<ExitCode, String> {
    match command {
        Command::User(command) => user(admin, command).await,
        Command::Role(command) => role(admin, command).await,
        Command::Jobs(command) => jobs(admin, command).await,
        Command::Flag(command) => flag(admin, command).await,
        Command::Audit(command) => audit(admin, command).await,
        Command::Seed => {
            let seeded = admin.seed().await.map_err(admin_failed)?;
            println!("organization Acme: {}", seeded.org);
            for (email, role, password) in &seeded.users {
                println!("{role:6} {email}  password: {}", password.expose_secret());
            }
            println!(
                "(the passwords are shown only now; the beta-reports flag is on for the owner)"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve | Command::Migrate { .. } | Command::Openapi => {
            Err("not an operator command".into())
        }
    }
}

/// A password from standard input (the first line, without its end), or a new random one.
fn password(from_stdin: bool) -> Result<(SecretString, bool), String> {
    if !from_stdin {
        return Ok((crate::admin::random_password(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok((SecretString::from(password), false))
}

async fn user(admin: &Admin<'_>, command: UserCommand) -> Result<ExitCode, String> {
    match command {
        UserCommand::Create {
            email,
            password_stdin,
            verified,
        } => {
            let (password, generated) = password(password_stdin)?;
            let user = admin
                .create_user(&email, &password, verified)
                .await
                .map_err(admin_failed)?;
            println!("created user {} <{}>", user.id, user.email);
            if generated {
                println!("password: {} (shown only now)", password.expose_secret());
            }
        }
        UserCommand::Import { file, concurrency } => {
            let input: Box<dyn std::io::Read> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin())
            } else {
                Box::new(
                    std::fs::File::open(&file)
                        .map_err(|e| format!("opening {}: {e}", file.display()))?,
                )
            };
            let mut text = String::new();
            BufReader::new(input)
                .read_to_string(&mut text)
                .map_err(|e| format!("reading {}: {e}", file.display()))?;
            let total = text.lines().filter(|l| !l.trim().is_empty()).count();
            let bar = bar(total as u64, "importing users");
            let report = admin
                .import_users(text.as_bytes(), concurrency, |done| bar.set_position(done))
                .await
                .map_err(admin_failed)?;
            bar.finish_and_clear();
            println!(
                "{} created, {} existing, {} refused",
                report.created,
                report.existing,
                report.failed.len()
            );
            for (line, why) in &report.failed {
                println!("line {line}: {why}");
            }
            if !report.failed.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
        UserCommand::RevokeSessions { user } => {
            let ended = admin.revoke_sessions(&user).await.map_err(admin_failed)?;
            println!("{user} is signed out everywhere ({ended} session(s) ended)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn role(admin: &Admin<'_>, command: RoleCommand) -> Result<ExitCode, String> {
    let (grant, args) = match command {
        RoleCommand::Grant(args) => (true, args),
        RoleCommand::Revoke(args) => (false, args),
    };
    let place = args
        .org
        .as_deref()
        .map_or_else(|| "globally".to_owned(), |org| format!("in {org}"));
    if grant {
        let changed = admin
            .grant_role(&args.user, &args.role, args.org.as_deref())
            .await
            .map_err(admin_failed)?;
        let how = if changed { "now holds" } else { "already held" };
        println!("{} {how} {} {place}", args.user, args.role);
    } else {
        let changed = admin
            .revoke_role(&args.user, &args.role, args.org.as_deref())
            .await
            .map_err(admin_failed)?;
        let how = if changed {
            "no longer holds"
        } else {
            "did not hold"
        };
        println!("{} {how} {} {place}", args.user, args.role);
    }
    Ok(ExitCode::SUCCESS)
}

/// A time for people: RFC 3339 in UTC, to the second.
fn when(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn jobs(admin: &Admin<'_>, command: JobsCommand) -> Result<ExitCode, String> {
    match command {
        JobsCommand::List {
            state,
            queue,
            name,
            limit,
        } => {
            let mut filter = JobFilter::new().limit(limit);
            for state in state {
                filter = filter.state(state.into());
            }
            if let Some(queue) = queue {
                filter = filter.queue(queue);
            }
            if let Some(name) = name {
                filter = filter.name(name);
            }
            let jobs = admin.jobs(&filter).await.map_err(admin_failed)?;
            println!(
                "{:36}  {:13}  {:7}  {:9}  {:>7}  {:20}  last error",
                "id", "type", "queue", "state", "attempt", "created"
            );
            for job in &jobs {
                let error = job.errors.last().map_or("", |e| e.error.as_str());
                println!(
                    "{:36}  {:13}  {:7}  {:9}  {:>3}/{:<3}  {:20}  {error}",
                    job.id.to_string(),
                    job.name,
                    job.queue,
                    job.state.as_str(),
                    job.attempt,
                    job.max_attempts,
                    when(job.created_at),
                );
            }
            println!("{} job(s)", jobs.len());
        }
        JobsCommand::Stats => {
            let stats = admin.job_stats().await.map_err(admin_failed)?;
            println!(
                "{:10} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9}  oldest available",
                "queue", "available", "scheduled", "running", "completed", "discarded", "cancelled"
            );
            for q in &stats {
                let oldest = q
                    .oldest_available
                    .map_or_else(String::new, |age| format!("{}s", age.as_secs()));
                println!(
                    "{:10} {:>9} {:>9} {:>7} {:>9} {:>9} {:>9}  {oldest}",
                    q.queue,
                    q.available,
                    q.scheduled,
                    q.running,
                    q.completed,
                    q.discarded,
                    q.cancelled
                );
            }
        }
        JobsCommand::Retry { id } => {
            if admin.retry_job(&id).await.map_err(admin_failed)? {
                println!("job {id} will run again");
            } else {
                return Err(format!(
                    "job {id} is not discarded or cancelled: nothing to retry"
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn flag(admin: &Admin<'_>, command: FlagCommand) -> Result<ExitCode, String> {
    match command {
        FlagCommand::List => {
            let flags = admin.flags().await.map_err(admin_failed)?;
            println!(
                "{:24} {:9} {:10} {:16} variants",
                "flag", "state", "source", "default"
            );
            for row in &flags {
                let state = match row.definition.state {
                    FlagState::Enabled => "enabled",
                    FlagState::Disabled => "disabled",
                };
                let variants: Vec<&str> =
                    row.definition.variants.keys().map(String::as_str).collect();
                println!(
                    "{:24} {:9} {:10} {:16} {}",
                    row.key,
                    state,
                    row.source,
                    row.definition.default_variant.as_deref().unwrap_or("-"),
                    variants.join(", "),
                );
            }
        }
        FlagCommand::Set {
            key,
            variant,
            enable,
            disable,
        } => {
            let state = match (enable, disable) {
                (true, _) => Some(FlagState::Enabled),
                (_, true) => Some(FlagState::Disabled),
                _ => None,
            };
            if variant.is_none() && state.is_none() {
                return Err("give --variant, --enable or --disable".into());
            }
            let flag = admin
                .set_flag(&key, variant.as_deref(), state)
                .await
                .map_err(admin_failed)?;
            let state = match flag.state {
                FlagState::Enabled => "enabled",
                FlagState::Disabled => "disabled",
            };
            println!(
                "{key}: {state}, default variant {}",
                flag.default_variant.as_deref().unwrap_or("-")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn audit(admin: &Admin<'_>, command: AuditCommand) -> Result<ExitCode, String> {
    match command {
        AuditCommand::Verify => {
            let total = admin.audit_size().await.map_err(admin_failed)?;
            let bar = bar(total, "verifying the audit log");
            let reports = admin
                .verify_audit(|read| bar.set_position(read))
                .await
                .map_err(admin_failed)?;
            bar.finish_and_clear();
            let mut broken = false;
            for report in &reports {
                let stream = if report.stream.is_empty() {
                    "global"
                } else {
                    report.stream.as_str()
                };
                match &report.tamper {
                    None => println!("{stream}: intact, {} record(s)", report.verified),
                    Some(tamper) => {
                        broken = true;
                        println!(
                            "{stream}: BROKEN after {} intact record(s): {tamper}",
                            report.verified
                        );
                    }
                }
            }
            if broken {
                return Ok(ExitCode::from(BROKEN_CHAIN));
            }
            println!("{} stream(s) verified", reports.len());
        }
        AuditCommand::Purge {
            older_than_days,
            before,
        } => {
            let cutoff = match (older_than_days, before) {
                (Some(days), _) => SystemTime::now()
                    .checked_sub(Duration::from_secs(days.saturating_mul(86_400)))
                    .ok_or("--older-than-days is too large")?,
                (None, Some(before)) => chrono::DateTime::parse_from_rfc3339(&before)
                    .map_err(|e| format!("--before {before:?} is not an RFC 3339 time: {e}"))?
                    .into(),
                (None, None) => return Err("give --older-than-days or --before".into()),
            };
            let streams = admin.audit_streams().await.map_err(admin_failed)?;
            let bar = bar(streams.len() as u64, "purging the audit log");
            let mut removed = 0;
            for stream in &streams {
                if let Some(purged) = admin
                    .purge_audit_stream(stream, cutoff)
                    .await
                    .map_err(admin_failed)?
                {
                    removed += purged.removed;
                }
                bar.inc(1);
            }
            bar.finish_and_clear();
            println!(
                "{removed} record(s) older than {} removed from {} stream(s)",
                when(cutoff),
                streams.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on standard error, drawn only when it is a terminal.
fn bar(total: u64, what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total).with_message(what);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
