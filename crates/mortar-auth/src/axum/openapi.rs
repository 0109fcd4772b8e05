//! The endpoints as `OpenAPI` 3.1 documents (feature `openapi`, utoipa 6), generated from the
//! handlers themselves.
//!
//! One document per router, its paths relative to the router as `router`'s are: nest each under
//! the prefix you nest its router under, with utoipa's [`OpenApi::nest`], into your application's
//! own document.
//!
//! | document | router | tag |
//! | --- | --- | --- |
//! | [`accounts`] | [`router`](super::router) | `auth` |
//! | `second_factors` (feature `totp`) | `second_factor_router` | `second factors` |
//! | `federation` (feature `oauth`) | `oauth_router` | `federated sign-in` |
//! | `passkeys` (feature `webauthn`) | `passkey_router` | `passkeys` |
//!
//! Each document is complete on its own: the schemas its operations use are in its components,
//! among them `Problem` (mortar-core's, for every error, as `application/problem+json`), and so
//! are the security schemes its operations name, added by [`SecuritySchemes`]:
//!
//! | scheme | what the [`AuthLayer`](crate::layer::AuthLayer) reads |
//! | --- | --- |
//! | `bearer` | `Authorization: Bearer <access token>` (HTTP bearer, JWT) |
//! | `api_key` | `X-API-Key: <key>` (or the key as a bearer token) |
//! | `session_cookie` | the session cookie, [`DEFAULT_COOKIE_NAME`] unless renamed |
//!
//! Routes that need a caller accept any of the three; the others declare that they need none,
//! so a global `security` requirement of your document does not apply to them. Every route may
//! also answer 500 without details (an unexpected failure); that is not listed per route.
//!
//! [`OpenApi::nest`] keeps the nested document's schemas, security schemes and tags; where a
//! name is taken already, the document nested into keeps its own, so keep your own schemas'
//! names apart from these. With a renamed session cookie ([`SessionCookies::name`]), apply
//! [`SecuritySchemes`] with that name to the merged document.
//!
//! ```
//! use mortar_auth::axum::openapi;
//! use utoipa::openapi::path::HttpMethod;
//! use utoipa::openapi::{Info, OpenApi, Paths};
//!
//! // Your document (`#[derive(utoipa::OpenApi)]` on your own routes, say), with the auth
//! // endpoints nested where the application nests `mortar_auth::axum::router`.
//! let doc = OpenApi::new(Info::new("Acme", "1.0.0"), Paths::new())
//!     .nest("/auth", openapi::accounts());
//! // .nest("/auth", openapi::second_factors()) with feature `totp`, and so on.
//!
//! assert!(doc.paths.get_path_operation("/auth/login", HttpMethod::Post).is_some());
//! let components = doc.components.as_ref().unwrap();
//! assert!(components.schemas.contains_key("Problem"));
//! assert!(components.security_schemes.contains_key("bearer"));
//! let json: serde_json::Value = serde_json::from_str(&doc.to_json().unwrap()).unwrap();
//! assert_eq!(json["openapi"], "3.1.0");
//! ```
//!
//! [`OpenApi::nest`]: utoipa::openapi::OpenApi::nest
//! [`DEFAULT_COOKIE_NAME`]: crate::session::DEFAULT_COOKIE_NAME
//! [`SessionCookies::name`]: crate::session::SessionCookies::name

use utoipa::Modify;
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::session::DEFAULT_COOKIE_NAME;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "mortar-auth: accounts",
        description = "Registration, logins, sessions and API keys."
    ),
    paths(
        super::register,
        super::verify_email,
        super::login,
        super::request_link,
        super::login_with_link,
        super::request_code,
        super::login_with_code,
        super::refresh,
        super::logout,
        super::forgot,
        super::reset,
        super::list_sessions,
        super::revoke_session,
        super::create_key,
        super::list_keys,
        super::revoke_key,
    ),
    tags((name = "auth", description = "Registration, logins, sessions and API keys (mortar-auth).")),
)]
struct Accounts;

/// The endpoints of [`router`](super::router): registration, logins (password, magic link,
/// e-mailed code), tokens, sessions and API keys, tagged `auth`.
pub fn accounts() -> OpenApi {
    with_security_schemes(Accounts::openapi())
}

#[cfg(feature = "totp")]
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "mortar-auth: second factors",
        description = "TOTP and recovery codes."
    ),
    paths(
        super::second_factor::complete_login,
        super::second_factor::status,
        super::second_factor::enroll,
        super::second_factor::confirm,
        super::second_factor::regenerate,
        super::second_factor::disable,
    ),
    tags((name = "second factors", description = "TOTP and recovery codes: the second step of a login, enrollment and step-up (mortar-auth).")),
)]
struct SecondFactors;

/// The endpoints of `second_factor_router` (feature `totp`): the second step of a login,
/// TOTP enrollment and recovery codes, tagged `second factors`.
#[cfg(feature = "totp")]
pub fn second_factors() -> OpenApi {
    with_security_schemes(SecondFactors::openapi())
}

#[cfg(feature = "oauth")]
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "mortar-auth: federated sign-in",
        description = "Sign-in with OAuth 2 / OpenID Connect providers and SSO; linked identities."
    ),
    paths(
        super::federated::providers,
        super::federated::start,
        super::federated::start_sso,
        super::federated::callback,
        super::federated::start_link,
        super::federated::identities,
        super::federated::unlink,
    ),
    tags((name = "federated sign-in", description = "Sign-in with OAuth 2 / OpenID Connect providers and tenants' SSO; linked identities (mortar-auth).")),
)]
struct Federation;

/// The endpoints of `oauth_router` (feature `oauth`): sign-in with providers and SSO, the
/// callback, linked identities, tagged `federated sign-in`.
#[cfg(feature = "oauth")]
pub fn federation() -> OpenApi {
    with_security_schemes(Federation::openapi())
}

#[cfg(feature = "webauthn")]
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "mortar-auth: passkeys",
        description = "Passkeys (WebAuthn): registration, passwordless login, second factor."
    ),
    paths(
        super::passkeys::start_registration,
        super::passkeys::finish_registration,
        super::passkeys::list,
        super::passkeys::remove,
        super::passkeys::start_login,
        super::passkeys::finish_login,
        super::passkeys::start_second_factor,
        super::passkeys::finish_second_factor,
    ),
    tags((name = "passkeys", description = "Passkeys (WebAuthn): registration, passwordless login and second factor (mortar-auth).")),
)]
struct Passkeys;

/// The endpoints of `passkey_router` (feature `webauthn`): registration, passwordless login and
/// second factor with passkeys, tagged `passkeys`.
#[cfg(feature = "webauthn")]
pub fn passkeys() -> OpenApi {
    with_security_schemes(Passkeys::openapi())
}

fn with_security_schemes(mut doc: OpenApi) -> OpenApi {
    SecuritySchemes::new().modify(&mut doc);
    doc
}

/// Adds (or replaces) the security schemes the documents' operations name: `bearer`, `api_key`
/// and `session_cookie`. Every document of this module has them already; apply this to a merged
/// document for a session cookie of another name.
///
/// ```
/// use mortar_auth::axum::openapi::{self, SecuritySchemes};
/// use utoipa::Modify as _;
///
/// let mut doc = openapi::accounts();
/// SecuritySchemes::new().cookie_name("__Host-acme").modify(&mut doc);
/// let json = serde_json::to_value(&doc).unwrap();
/// let cookie = &json["components"]["securitySchemes"]["session_cookie"];
/// assert_eq!(cookie["in"], "cookie");
/// assert_eq!(cookie["name"], "__Host-acme");
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct SecuritySchemes {
    cookie_name: String,
}

impl Default for SecuritySchemes {
    fn default() -> Self {
        Self::new()
    }
}

impl SecuritySchemes {
    /// The schemes, with the session cookie's default name ([`DEFAULT_COOKIE_NAME`]).
    pub fn new() -> Self {
        Self {
            cookie_name: DEFAULT_COOKIE_NAME.to_owned(),
        }
    }

    /// The session cookie's name, as given to
    /// [`SessionCookies::name`](crate::session::SessionCookies::name).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }
}

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token, from a login or `POST /refresh` \
                         (`Authorization: Bearer <token>`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "An API key (`POST /api-keys`); also accepted as `Authorization: Bearer <key>`.",
            ))),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                self.cookie_name.as_str(),
                "The browser session of a login with `\"cookie\": true`. Requests other than \
                 GET, HEAD, OPTIONS and TRACE must come from the application's own origin \
                 (`Sec-Fetch-Site` or `Origin`), or they are refused with 403.",
            ))),
        );
    }
}
