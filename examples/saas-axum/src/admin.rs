//! Operator tasks behind the admin CLI (`example-saas-axum <command>`, see [`crate::cli`]):
//! users, roles, sessions, jobs, flags, the audit chain and demo data. Each takes an [`App`]
//! built without its job worker and acts as the service account `admin-cli`, so what it changes
//! is on the audit trail like any other change. They are plain async functions returning data,
//! so tests (and your own tooling) call them without the command line.

use std::io::BufRead;
use std::time::SystemTime;

use futures_util::StreamExt as _;
use mortar::audit::{AuditStore as _, Purged};
use mortar::auth::account::Client;
use mortar::auth::password::PasswordPolicy;
use mortar::auth::user::{NewUser, User, UserChange, UserId};
use mortar::core::{AuditEvent, AuditRecorder as _, Outcome, Principal};
use mortar::flags::{FlagDefinition, FlagState};
use mortar::jobs::{JobFilter, JobId, JobRecord, QueueStats};
use mortar::rbac::Assignment;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::App;

/// The subject operator actions are recorded under.
pub const ACTOR: &str = "admin-cli";

/// An operator task failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The input is not acceptable (unknown user, weak password, unknown role…).
    #[error("{0}")]
    Invalid(String),
    /// A backend failed.
    #[error("{what} failed: {source}")]
    Backend {
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl AdminError {
    fn backend(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Backend {
            what,
            source: source.into(),
        }
    }
}

/// Operator tasks on a built [`App`].
#[derive(Debug)]
pub struct Admin<'a> {
    app: &'a App,
    actor: Principal,
    client: Client,
}

/// One user of an import file (JSON lines): `email` and either `password` (hashed here, checked
/// against the password policy) or `password_hash` (taken as is from another system: Argon2,
/// bcrypt, scrypt, PBKDF2 or Django strings, upgraded to Argon2id at the user's next login).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    email: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    password_hash: Option<SecretString>,
    /// Whether the address is known to be the user's (default `false`: they verify it).
    #[serde(default)]
    verified: bool,
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Users created.
    pub created: u64,
    /// Lines whose address (or user name) has an account already: left alone.
    pub existing: u64,
    /// Lines refused, with their line number (from 1) and why; nothing was written for them.
    pub failed: Vec<(u64, String)>,
}

/// What [`Admin::seed`] made.
#[derive(Debug)]
#[non_exhaustive]
pub struct Seeded {
    /// The organization's id.
    pub org: String,
    /// The demo users (address, role in the organization, password), made verified.
    pub users: Vec<(String, &'static str, SecretString)>,
}

/// One audit stream's verification by [`Admin::verify_audit`]: mortar-audit's report.
pub use mortar::audit::Verification as ChainReport;

/// One flag as [`Admin::flags`] lists it.
#[derive(Debug)]
#[non_exhaustive]
pub struct FlagRow {
    /// The key.
    pub key: String,
    /// `database` when an admin stored it (it overrides the file), else `file`.
    pub source: &'static str,
    /// The definition in force.
    pub definition: FlagDefinition,
}

impl<'a> Admin<'a> {
    /// Tasks on `app`, recorded as the service account [`ACTOR`].
    pub fn new(app: &'a App) -> Self {
        Self {
            app,
            actor: Principal::service_account(ACTOR).build(),
            client: Client::default(),
        }
    }

    fn record(&self, event: AuditEvent) {
        self.app
            .state()
            .audit()
            .recorder
            .record(event.actor(&self.actor));
    }

    /// The user with this id or e-mail address.
    ///
    /// # Errors
    ///
    /// [`AdminError::Invalid`] when there is none; [`AdminError::Backend`].
    pub async fn user(&self, who: &str) -> Result<User, AdminError> {
        let users = self.app.state().auth().api.accounts.users();
        let found = match who.parse::<uuid::Uuid>() {
            Ok(id) => users.by_id(UserId::from(id)).await,
            Err(_) => users.by_email(who).await,
        }
        .map_err(|e| AdminError::backend("reading the user", e))?;
        found.ok_or_else(|| AdminError::Invalid(format!("no user {who:?}")))
    }

    /// Creates a user with this password (checked against the password policy), its address
    /// verified when `verified`. Audited as `admin.user.created`.
    ///
    /// # Errors
    ///
    /// [`AdminError::Invalid`] for an implausible address, a weak password or a taken address;
    /// [`AdminError::Backend`].
    pub async fn create_user(
        &self,
        email: &str,
        password: &SecretString,
        verified: bool,
    ) -> Result<User, AdminError> {
        let hash = self.hash_checked(email, None, password).await?;
        let user = self
            .insert_user(NewUser::new(email).password_hash(hash), verified)
            .await?
            .ok_or_else(|| AdminError::Invalid(format!("{email} has an account already")))?;
        self.record(
            AuditEvent::new("admin.user.created", Outcome::Success)
                .target("user", user.id.to_string()),
        );
        Ok(user)
    }

    /// Checks `password` against the policy (the starter's `Accounts` use the default one) and
    /// hashes it.
    async fn hash_checked(
        &self,
        email: &str,
        username: Option<&str>,
        password: &SecretString,
    ) -> Result<String, AdminError> {
        if !email.contains('@') || email.trim() != email || email.len() > 254 {
            return Err(AdminError::Invalid(format!(
                "{email:?} is not an e-mail address"
            )));
        }
        let mut inputs = vec![email];
        inputs.extend(username);
        PasswordPolicy::default()
            .check(password.expose_secret(), &inputs)
            .map_err(|violations| {
                let why: Vec<String> = violations.iter().map(ToString::to_string).collect();
                AdminError::Invalid(format!("weak password: {}", why.join(", ")))
            })?;
        self.app
            .state()
            .auth()
            .api
            .accounts
            .passwords()
            .hash(password.expose_secret())
            .await
            .map_err(|e| AdminError::backend("hashing the password", e))
    }

    /// Creates the user (verified when asked); `None` when the address or name is taken.
    async fn insert_user(&self, new: NewUser, verified: bool) -> Result<Option<User>, AdminError> {
        let users = self.app.state().auth().api.accounts.users();
        let now = SystemTime::now();
        let user = match users.create(new, now).await {
            Ok(user) => user,
            Err(mortar::auth::Error::Conflict(_)) => return Ok(None),
            Err(e) => return Err(AdminError::backend("creating the user", e)),
        };
        if !verified {
            return Ok(Some(user));
        }
        users
            .update(user.id, UserChange::EmailVerified, now)
            .await
            .map(Some)
            .map_err(|e| AdminError::backend("marking the address verified", e))
    }

    /// Imports users from JSON lines (see the CLI's `user import`), `concurrency` passwords
    /// hashed at once; `progress` is called with the number of lines handled so far. A bad line
    /// is reported and skipped, never half-written; users that exist are left alone. Audited
    /// as one `admin.users.imported` event with the counts.
    ///
    /// # Errors
    ///
    /// [`AdminError::Backend`] when the input cannot be read or the store fails (lines before
    /// stay imported).
    pub async fn import_users(
        &self,
        input: impl BufRead,
        concurrency: usize,
        mut progress: impl FnMut(u64),
    ) -> Result<ImportReport, AdminError> {
        let mut lines = Vec::new();
        for (n, line) in (1_u64..).zip(input.lines()) {
            let line = line.map_err(|e| AdminError::backend("reading the import file", e))?;
            if !line.trim().is_empty() {
                lines.push((n, line));
            }
        }
        let mut report = ImportReport::default();
        let mut results = futures_util::stream::iter(lines)
            .map(|(n, line)| async move { (n, self.import_line(&line).await) })
            .buffer_unordered(concurrency.max(1));
        let mut done = 0;
        while let Some((n, result)) = results.next().await {
            match result {
                Ok(true) => report.created += 1,
                Ok(false) => report.existing += 1,
                Err(AdminError::Invalid(why)) => report.failed.push((n, why)),
                Err(backend) => return Err(backend),
            }
            done += 1;
            progress(done);
        }
        report.failed.sort();
        self.record(
            AuditEvent::new("admin.users.imported", Outcome::Success)
                .meta("created", report.created)
                .meta("existing", report.existing)
                .meta("failed", report.failed.len()),
        );
        Ok(report)
    }

    /// One line: `Ok(true)` created, `Ok(false)` exists already.
    async fn import_line(&self, line: &str) -> Result<bool, AdminError> {
        // serde's message may quote the input, passwords included: only its position is kept.
        let user: ImportLine = serde_json::from_str(line).map_err(|e| {
            AdminError::Invalid(format!(
                "not a user object (column {}; fields: email, username, password or \
                 password_hash, verified)",
                e.column()
            ))
        })?;
        let hash = match (&user.password, &user.password_hash) {
            (Some(password), None) => {
                self.hash_checked(&user.email, user.username.as_deref(), password)
                    .await?
            }
            (None, Some(hash)) => {
                let passwords = self.app.state().auth().api.accounts.passwords();
                if !passwords.recognizes(hash.expose_secret()) {
                    return Err(AdminError::Invalid(
                        "password_hash is in no known format".into(),
                    ));
                }
                hash.expose_secret().to_owned()
            }
            _ => {
                return Err(AdminError::Invalid(
                    "give exactly one of password and password_hash".into(),
                ));
            }
        };
        let mut new = NewUser::new(user.email).password_hash(hash);
        if let Some(username) = user.username {
            new = new.username(username);
        }
        Ok(self.insert_user(new, user.verified).await?.is_some())
    }

    /// Grants `role` to the user: in the organization `org` (id or name; `owner`, `admin` or
    /// `member`), or globally (a role of the policy, e.g. `pro`). `false` when already held.
    /// Audited as `rbac.grant`.
    ///
    /// # Errors
    ///
    /// [`AdminError::Invalid`] for an unknown user, organization or role; [`AdminError::Backend`].
    pub async fn grant_role(
        &self,
        who: &str,
        role: &str,
        org: Option<&str>,
    ) -> Result<bool, AdminError> {
        self.change_role(who, role, org, true).await
    }

    /// Takes `role` (in `org`, or global) from the user; `false` when not held.
    ///
    /// # Errors
    ///
    /// As [`Admin::grant_role`].
    pub async fn revoke_role(
        &self,
        who: &str,
        role: &str,
        org: Option<&str>,
    ) -> Result<bool, AdminError> {
        self.change_role(who, role, org, false).await
    }

    async fn change_role(
        &self,
        who: &str,
        role: &str,
        org: Option<&str>,
        grant: bool,
    ) -> Result<bool, AdminError> {
        let assignment = self.assignment(who, role, org).await?;
        let rbac = self.app.state().rbac();
        let changed = if grant {
            rbac.grant(&self.actor, assignment).await
        } else {
            rbac.revoke(&self.actor, &assignment).await
        };
        changed.map_err(|e| AdminError::Invalid(format!("changing the role failed: {e}")))
    }

    async fn assignment(
        &self,
        who: &str,
        role: &str,
        org: Option<&str>,
    ) -> Result<Assignment, AdminError> {
        let user = self.user(who).await?;
        let assignment = Assignment::new(user.id.to_string(), role);
        match org {
            Some(org) => {
                if !crate::orgs::ROLE_NAMES.contains(&role) {
                    return Err(AdminError::Invalid(format!(
                        "{role:?} is not an organization role (owner, admin, member)"
                    )));
                }
                let org = crate::orgs::find_by_id_or_name(self.app.state(), org)
                    .await
                    .map_err(AdminError::Invalid)?;
                Ok(assignment.in_tenant(org.id))
            }
            None => Ok(assignment),
        }
    }

    /// Signs the user out everywhere: every session ends (refresh tokens and cookies stop
    /// working at once) and access tokens issued until now are refused — at once on every
    /// instance with Redis; without Redis a running server learns of it only for sessions, and
    /// its access tokens last out their lifetime. Returns how many sessions ended. Audited as
    /// `admin.sessions.revoked` (and each session's sign-out).
    ///
    /// # Errors
    ///
    /// [`AdminError::Invalid`] for an unknown user; [`AdminError::Backend`].
    pub async fn revoke_sessions(&self, who: &str) -> Result<usize, AdminError> {
        let user = self.user(who).await?;
        let auth = self.app.state().auth();
        auth.api
            .accounts
            .users()
            .update(user.id, UserChange::RevokeTokens, SystemTime::now())
            .await
            .map_err(|e| AdminError::backend("revoking the user's tokens", e))?;
        let ended = auth
            .api
            .sessions
            .revoke_all(user.id, &self.client)
            .await
            .map_err(|e| AdminError::backend("ending the sessions", e))?;
        self.record(
            AuditEvent::new("admin.sessions.revoked", Outcome::Success)
                .target("user", user.id.to_string())
                .meta("sessions", ended),
        );
        Ok(ended)
    }

    /// Jobs matching `filter`, newest first.
    ///
    /// # Errors
    ///
    /// [`AdminError::Backend`].
    pub async fn jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, AdminError> {
        self.app
            .state()
            .jobs()
            .list(filter)
            .await
            .map_err(|e| AdminError::backend("listing jobs", e))
    }

    /// Each queue's counts by state.
    ///
    /// # Errors
    ///
    /// [`AdminError::Backend`].
    pub async fn job_stats(&self) -> Result<Vec<QueueStats>, AdminError> {
        self.app
            .state()
            .jobs()
            .stats()
            .await
            .map_err(|e| AdminError::backend("counting jobs", e))
    }

    /// Runs a discarded or cancelled job again (a fresh set of attempts, now). `false` when the
    /// job is not in such a state. Audited as `admin.job.retried`.
    ///
    /// # Errors
    ///
    /// [`AdminError::Invalid`] for a malformed or unknown id; [`AdminError::Backend`].
    pub async fn retry_job(&self, id: &str) -> Result<bool, AdminError> {
        let id: JobId = id
            .parse()
            .map_err(|_| AdminError::Invalid(format!("{id:?} is not a job id")))?;
        let jobs = self.app.state().jobs();
        if jobs
            .get(id)
            .await
            .map_err(|e| AdminError::backend("reading the job", e))?
            .is_none()
        {
            return Err(AdminError::Invalid(format!("no job {id}")));
        }
        let retried = jobs
            .retry(id)
            .await
            .map_err(|e| AdminError::backend("retrying the job", e))?;
        if retried {
            self.record(
                AuditEvent::new("admin.job.retried", Outcome::Success)
                    .target("job", id.to_string()),
            );
        }
        Ok(retried)
    }

    /// Every flag: the file's, each replaced by the database's when an admin stored one.
    ///
    /// # Errors
    ///
    /// [`AdminError::Backend`].
    pub async fn flags(&self) -> Result<Vec<FlagRow>, AdminError> {
        let stored = self
            .app
            .state()
            .flags()
            .admin
            .list()
            .await
            .map_err(|e| AdminError::backend("reading the flags", e))?;
        let from_file: Vec<_> = crate::flags::defaults()
            .flags
            .into_iter()
            .filter(|(key, _)| !stored.contains_key(key))
            .collect();
        let mut rows: Vec<FlagRow> = from_file
            .into_iter()
            .map(|(key, definition)| FlagRow {
                key,
                source: "file",
                definition,
            })
            .chain(stored.into_iter().map(|(key, definition)| FlagRow {
                key,
                source: "database",
                definition,
            }))
            .collect();
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(rows)
    }

    /// Changes a flag for everyone: its default variant (`variant`, e.g. `on`) and/or whether it
    /// is served (`state`). The change is stored in the database (starting from the file's
    /// definition the first time), so every instance follows it within a second. Audited as
    /// `flags.flag.created` / `updated`.
    ///
    /// # Errors
    ///
    /// [`AdminError::Invalid`] for an unknown flag or variant; [`AdminError::Backend`].
    pub async fn set_flag(
        &self,
        key: &str,
        variant: Option<&str>,
        state: Option<FlagState>,
    ) -> Result<FlagDefinition, AdminError> {
        let admin = &self.app.state().flags().admin;
        let current = admin
            .get(key)
            .await
            .map_err(|e| AdminError::backend("reading the flag", e))?
            .or_else(|| crate::flags::defaults().flags.remove(key));
        let Some(mut flag) = current else {
            return Err(AdminError::Invalid(format!("no flag {key:?}")));
        };
        if let Some(variant) = variant {
            if !flag.variants.contains_key(variant) {
                let known: Vec<&str> = flag.variants.keys().map(String::as_str).collect();
                return Err(AdminError::Invalid(format!(
                    "{key} has no variant {variant:?} (it has {})",
                    known.join(", ")
                )));
            }
            flag.default_variant = Some(variant.to_owned());
        }
        if let Some(state) = state {
            flag.state = state;
        }
        admin
            .upsert(&self.actor, key, flag.clone())
            .await
            .map_err(|e| match e {
                mortar::flags::Error::Invalid { reason, .. } => AdminError::Invalid(reason),
                other => AdminError::backend("storing the flag", other),
            })?;
        Ok(flag)
    }

    /// How many audit records [`Admin::verify_audit`] will read (for a progress bar).
    ///
    /// # Errors
    ///
    /// [`AdminError::Backend`].
    pub async fn audit_size(&self) -> Result<u64, AdminError> {
        let store = &self.app.state().audit().store;
        let mut total = 0;
        for stream in store
            .streams()
            .await
            .map_err(|e| AdminError::backend("reading the audit streams", e))?
        {
            let state = store
                .chain_state(&stream)
                .await
                .map_err(|e| AdminError::backend("reading the audit chain", e))?;
            if let Some((head, _)) = state.head {
                total += (head + 1).saturating_sub(state.anchor.seq);
            }
        }
        Ok(total)
    }

    /// Verifies the hash chain of every audit stream (the global one and each organization's);
    /// `progress` is called with the records read so far, a few thousand at a time. Each
    /// stream's report says where it is broken, if it is.
    ///
    /// # Errors
    ///
    /// [`AdminError::Backend`] when the store cannot be read.
    pub async fn verify_audit(
        &self,
        mut progress: impl FnMut(u64),
    ) -> Result<Vec<ChainReport>, AdminError> {
        let store = &*self.app.state().audit().store;
        let failed = |e| AdminError::backend("verifying the audit chain", e);
        let mut reports = Vec::new();
        let mut read = 0;
        for stream in store.streams().await.map_err(failed)? {
            let report =
                mortar::audit::verify_with_progress(store, &stream, .., |n| progress(read + n))
                    .await
                    .map_err(failed)?;
            read += report.verified + u64::from(report.tamper.is_some());
            progress(read);
            reports.push(report);
        }
        Ok(reports)
    }

    /// The audit streams: `""` for the global one, then each organization's id.
    ///
    /// # Errors
    ///
    /// [`AdminError::Backend`].
    pub async fn audit_streams(&self) -> Result<Vec<String>, AdminError> {
        self.app
            .state()
            .audit()
            .store
            .streams()
            .await
            .map_err(|e| AdminError::backend("reading the audit streams", e))
    }

    /// Retention for one stream (see [`Admin::audit_streams`]): removes its records older than
    /// `before`, keeping the chain verifiable (an `audit.retention.purged` event records the
    /// purge). `None` when nothing was that old.
    ///
    /// # Errors
    ///
    /// [`AdminError::Backend`].
    pub async fn purge_audit_stream(
        &self,
        stream: &str,
        before: SystemTime,
    ) -> Result<Option<Purged>, AdminError> {
        mortar::audit::purge_one(&*self.app.state().audit().store, stream, before)
            .await
            .map_err(|e| AdminError::backend("purging the audit log", e))
    }

    /// Demo data for a fresh installation: three verified users with random passwords
    /// (`owner@example.com`, `admin@example.com`, `member@example.com`), an organization "Acme"
    /// where they hold those roles, and the `beta-reports` flag turned on for its owner.
    ///
    /// # Errors
    ///
    /// [`AdminError::Invalid`] when a demo user exists already (seed once);
    /// [`AdminError::Backend`].
    pub async fn seed(&self) -> Result<Seeded, AdminError> {
        let roles = ["owner", "admin", "member"];
        let mut users = Vec::new();
        for role in roles {
            let email = format!("{role}@example.com");
            if self.user(&email).await.is_ok() {
                return Err(AdminError::Invalid(format!(
                    "{email} exists already: the demo data is seeded"
                )));
            }
            users.push((email, role, random_password()));
        }
        let mut ids = Vec::new();
        for (email, _, password) in &users {
            ids.push(
                self.create_user(email, password, true)
                    .await?
                    .id
                    .to_string(),
            );
        }
        let org = crate::orgs::create_org(self.app.state(), &self.actor, &ids[0], "Acme")
            .await
            .map_err(|e| AdminError::backend("creating the organization", e))?;
        for (id, role) in ids.iter().zip(roles).skip(1) {
            self.app
                .state()
                .rbac()
                .grant(&self.actor, Assignment::new(id, role).in_tenant(&org))
                .await
                .map_err(|e| AdminError::backend("granting a demo role", e))?;
        }
        let mut beta = crate::flags::defaults()
            .flags
            .remove("beta-reports")
            .ok_or_else(|| AdminError::Invalid("flags.json has no beta-reports".into()))?;
        beta.targeting = Some(serde_json::json!({
            "if": [{"in": [{"var": "targetingKey"}, [ids[0]]]}, "on", null]
        }));
        self.app
            .state()
            .flags()
            .admin
            .upsert(&self.actor, "beta-reports", beta)
            .await
            .map_err(|e| AdminError::backend("storing the beta flag", e))?;
        Ok(Seeded { org, users })
    }
}

/// A new random password: 20 characters from a 62-letter alphabet (119 bits).
pub fn random_password() -> SecretString {
    use rand::Rng as _;
    let mut rng = rand::rng();
    let password: String = (0..20)
        .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
        .collect();
    SecretString::from(password)
}
