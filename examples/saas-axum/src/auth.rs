//! Authentication wired in: users, codes and sessions in the app's own database, access tokens
//! signed with Ed25519 (or the configured key), browser sessions in a `__Host-` cookie,
//! revocations in Redis when configured (shared by every instance) or in memory, and
//! mortar-auth's JSON endpoints under `/auth`, second factors (TOTP and recovery codes, secrets
//! sealed with `MORTAR_TOTP_KEY`) with theirs, passwordless links and codes, and sign-in with
//! Google, GitHub, any OpenID Connect issuer and organizations' own SSO (`/auth/oauth/…`,
//! identities and tenants' connections in the database); security events (logins, resets,
//! revocations) go to the audit trail.

use std::sync::Arc;

use mortar::auth::account::{Accounts, AnyFactor};
use mortar::auth::api_key::ApiKeys;
use mortar::auth::axum::AuthApi;
use mortar::auth::code::CodeSender;
use mortar::auth::layer::AuthLayer;
use mortar::auth::mfa::{SecondFactors, TotpSettings};
use mortar::auth::oauth::{Federation, OAuth, Provider};
use mortar::auth::passkey::Passkeys;
use mortar::auth::seal::Sealer;
use mortar::auth::session::{SessionCookies, Sessions};
use mortar::auth::sql::{
    SeaOrmApiKeyStore, SeaOrmCodeStore, SeaOrmFactorStore, SeaOrmIdentityStore, SeaOrmPasskeyStore,
    SeaOrmSessionStore, SeaOrmSsoDirectory, SeaOrmUserStore,
};
use mortar::auth::token::{
    AccessTokens, KeyRing, MemoryRevocations, RedisRevocations, Revocations, SigningKey,
};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret as _;

use crate::StartError;
use crate::config::Config;

/// Issuer and audience of the starter's access tokens.
const ISSUER: &str = "example-saas-axum";

/// The authentication parts the router needs.
#[derive(Clone, Debug)]
pub struct Auth {
    /// The endpoints' state.
    pub api: AuthApi,
    /// The layer that authenticates every request.
    pub layer: AuthLayer,
    /// API keys (their last-use times are flushed by [`crate::App::serve`]).
    pub api_keys: ApiKeys,
    /// Second factors: TOTP and recovery codes (`/auth/2fa`, `/auth/login/second-factor`).
    pub factors: SecondFactors,
    /// Sign-in with providers and organizations' SSO (`/auth/oauth/…`).
    pub oauth: OAuth,
    /// Identities linked to accounts.
    pub federation: Federation,
    /// Organizations' SSO connections (`PUT /orgs/{org}/sso`).
    pub sso: Arc<SeaOrmSsoDirectory>,
    /// Passkeys: passwordless login and a second factor (`/auth/passkeys`, `/auth/login/passkey`).
    pub passkeys: Passkeys,
}

impl Auth {
    /// Builds authentication on the app's database (and Redis, when configured), delivering
    /// codes through `sender` and sealing secrets at rest with `sealer` ([`app_sealer`]).
    ///
    /// The signing key is `MORTAR_SIGNING_KEY` when set; otherwise one is generated at
    /// start-up, so access tokens do not survive a restart (refresh tokens do: clients refresh).
    ///
    /// # Errors
    ///
    /// [`StartError::Auth`] when the configured key is not a usable PKCS#8 PEM key, or a key
    /// cannot be generated.
    pub fn new(
        config: &Config,
        db: &DatabaseConnection,
        redis: Option<&deadpool_redis::Pool>,
        recorder: &mortar::audit::DurableRecorder,
        sender: Arc<dyn CodeSender>,
        sealer: Sealer,
    ) -> Result<Self, StartError> {
        let kid = config.signing_key_id.as_str();
        let key = if let Some(pem) = &config.signing_key {
            // `\n` escapes let a PEM document live on one line of an environment variable.
            SigningKey::from_pkcs8_pem(kid, &pem.expose_secret().replace("\\n", "\n"))
        } else {
            tracing::warn!(
                "MORTAR_SIGNING_KEY is not set: using a key generated at start-up \
                 (access tokens end at restart)"
            );
            SigningKey::generate_ed25519(kid)
        }
        .map_err(StartError::Auth)?;
        let revocations: Arc<dyn Revocations> = match redis {
            Some(pool) => Arc::new(
                RedisRevocations::new(pool.clone()).prefix(format!("{}auth:", config.redis_prefix)),
            ),
            None => Arc::new(MemoryRevocations::new()),
        };
        let tokens = AccessTokens::builder(KeyRing::new(key), ISSUER, ISSUER)
            .revocations(revocations.clone())
            .build();
        let users = Arc::new(SeaOrmUserStore::new(db.clone()));
        let api_keys = ApiKeys::new(Arc::new(SeaOrmApiKeyStore::new(db.clone())), "saas")
            .map_err(StartError::Auth)?
            .recorder(recorder.clone());
        let sessions = Sessions::new(
            Arc::new(SeaOrmSessionStore::new(db.clone())),
            users.clone(),
            tokens.clone(),
        )
        .recorder(recorder.clone());
        // Failed logins (per account and client) and second-factor codes, counted in one
        // limiter: across every instance when Redis is configured.
        let attempts: Arc<dyn mortar::core::AttemptLimiter> = match redis {
            Some(pool) => Arc::new(
                mortar::ratelimit::RedisAttemptLimiter::new(pool.clone())
                    .prefix(format!("{}attempts:", config.redis_prefix)),
            ),
            None => Arc::new(mortar::auth::attempts::MemoryAttemptLimiter::new()),
        };
        let factors = SecondFactors::new(
            Arc::new(SeaOrmFactorStore::new(db.clone())),
            sealer.clone(),
            TotpSettings::new("Mortar starter"),
        )
        .limiter(attempts.clone());
        let codes = Arc::new(SeaOrmCodeStore::new(db.clone()));
        let passkeys = passkeys(config, users.clone(), codes.clone(), db, sealer.clone())?
            .recorder(recorder.clone());
        let accounts = Accounts::builder(users, codes)
            // A user with a TOTP factor or a passkey is asked for one after the password.
            .second_factor(
                AnyFactor::new()
                    .with(factors.clone())
                    .with(passkeys.clone()),
            )
            .limiter(attempts)
            .sender(SharedSender(sender))
            .recorder(recorder.clone())
            .revocations(revocations)
            .sessions(sessions.clone())
            .api_keys(api_keys.clone())
            .build();
        let sso = Arc::new(SeaOrmSsoDirectory::new(db.clone(), sealer.clone()));
        let oauth = oauth(config, sealer, sso.clone())?;
        let federation = Federation::new(
            accounts.clone(),
            Arc::new(SeaOrmIdentityStore::new(db.clone())),
        );
        let mut cookies = SessionCookies::new(sessions.clone());
        for origin in crate::config::comma_list(config.trusted_origins.as_deref()) {
            cookies = cookies.trusted_origin(origin);
        }
        Ok(Self {
            api: AuthApi {
                accounts,
                sessions,
                api_keys: Some(api_keys.clone()),
                cookies: Some(cookies.clone()),
            },
            layer: AuthLayer::optional()
                .with(tokens)
                .with(api_keys.clone())
                .with(cookies),
            api_keys,
            factors,
            oauth,
            federation,
            sso,
            passkeys,
        })
    }
}

/// Passkeys for the app's host: the relying party is `MORTAR_PUBLIC_URL`'s host; without it (or
/// on an IP address, which browsers refuse as a relying party) `localhost` at the listening
/// port, so browse the starter at `http://localhost:3000` to use them.
fn passkeys(
    config: &Config,
    users: Arc<SeaOrmUserStore>,
    codes: Arc<SeaOrmCodeStore>,
    db: &DatabaseConnection,
    sealer: Sealer,
) -> Result<Passkeys, StartError> {
    let base = config.base_url();
    let invalid = |e: String| StartError::Auth(mortar::auth::Error::Config(e));
    let url = url::Url::parse(&base).map_err(|e| invalid(format!("MORTAR_PUBLIC_URL: {e}")))?;
    let (rp_id, origin) = if let Some(url::Host::Domain(domain)) = url.host() {
        (domain.to_owned(), base.clone())
    } else {
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        (
            "localhost".to_owned(),
            format!("{}://localhost{port}", url.scheme()),
        )
    };
    Passkeys::new(
        &rp_id,
        &origin,
        users,
        Arc::new(SeaOrmPasskeyStore::new(db.clone())),
        codes,
        sealer,
    )
    .map_err(StartError::Auth)
}

/// The providers configured (`MORTAR_GOOGLE_*`, `MORTAR_GITHUB_*`, `MORTAR_OIDC_*`) and SSO
/// for every organization that sets a connection up. Callbacks are
/// `{base URL}/auth/oauth/{provider}/callback`.
fn oauth(
    config: &Config,
    sealer: Sealer,
    sso: Arc<SeaOrmSsoDirectory>,
) -> Result<OAuth, StartError> {
    let base = format!("{}/auth/oauth", config.base_url());
    let callback = |id: &str| format!("{base}/{id}/callback");
    let secret = |s: Option<&secrecy::SecretString>| s.map(|s| s.expose_secret().to_owned());
    let mut builder = OAuth::builder(sealer).sso(sso, base.clone());
    if let Some(id) = &config.google_client_id {
        let mut google = Provider::google(id, &callback("google")).map_err(StartError::Auth)?;
        if let Some(s) = secret(config.google_client_secret.as_ref()) {
            google = google.client_secret(s);
        }
        builder = builder.provider(google);
    }
    if let Some(id) = &config.github_client_id {
        let mut github = Provider::github(id, &callback("github")).map_err(StartError::Auth)?;
        if let Some(s) = secret(config.github_client_secret.as_ref()) {
            github = github.client_secret(s);
        }
        builder = builder.provider(github);
    }
    if let Some(issuer) = &config.oidc_issuer {
        let client_id = config.oidc_client_id.as_deref().ok_or_else(|| {
            StartError::Auth(mortar::auth::Error::Config(
                "MORTAR_OIDC_ISSUER needs MORTAR_OIDC_CLIENT_ID".into(),
            ))
        })?;
        let mut oidc = Provider::oidc("oidc", issuer, client_id, &callback("oidc"))
            .map_err(StartError::Auth)?;
        if let Some(s) = secret(config.oidc_client_secret.as_ref()) {
            oidc = oidc.client_secret(s);
        }
        builder = builder.provider(oidc);
    }
    builder.build().map_err(StartError::Auth)
}

/// The application key that seals TOTP secrets (and SSO client secrets, OAuth flows and codes
/// waiting in jobs, each under its own context): `MORTAR_TOTP_KEY`, else the key file under the
/// storage directory, made (owner-only) on first start.
///
/// # Errors
///
/// [`StartError::Auth`] when the configured key is not 64 hex digits; [`StartError::Storage`]
/// when the key file cannot be read or made.
pub fn app_sealer(config: &Config) -> Result<Sealer, StartError> {
    let invalid = |what: &str| {
        StartError::Auth(mortar::auth::Error::Config(format!(
            "MORTAR_TOTP_KEY: {what}"
        )))
    };
    let hex_key = match &config.totp_key {
        Some(key) => key.expose_secret().trim().to_owned(),
        None => totp_key_file(&std::path::Path::new(&config.storage_dir).join("keys/totp.key"))?,
    };
    let bytes = hex::decode(&hex_key).map_err(|_| invalid("not hex"))?;
    Sealer::new(&config.totp_key_id, &bytes)
        .map_err(|_| invalid("must be 32 bytes (64 hex digits)"))
}

/// Reads the key file, or makes it: 32 random bytes in hex, readable by the owner only.
fn totp_key_file(path: &std::path::Path) -> Result<String, StartError> {
    let failed = |e: std::io::Error| StartError::Storage(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(key) => return Ok(key.trim().to_owned()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(failed(e)),
        Err(_) => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let key = hex::encode(rand::random::<[u8; 32]>());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    std::io::Write::write_all(&mut file, key.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    tracing::warn!(
        path = %path.display(),
        "MORTAR_TOTP_KEY is not set: TOTP secrets are sealed with a key made in this file; \
         keep it (losing it locks users out of their second factor) or set the variable"
    );
    Ok(key)
}

/// Lets a shared sender be handed to the builder, which takes one by value.
#[derive(Debug)]
struct SharedSender(Arc<dyn CodeSender>);

#[async_trait::async_trait]
impl CodeSender for SharedSender {
    async fn send(
        &self,
        message: mortar::auth::code::CodeMessage,
    ) -> Result<(), mortar::auth::Error> {
        self.0.send(message).await
    }
}
