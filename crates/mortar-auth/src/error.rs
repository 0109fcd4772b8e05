//! The crate's error type and its problem documents.

use std::time::Duration;

use http::StatusCode;
use mortar_core::{FieldError, Problem};

use crate::password::PolicyViolation;

/// Everything that can go wrong in mortar-auth.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Password hashing is saturated; try again shortly. A 503 with `Retry-After: 1`.
    #[error("password hashing is busy")]
    Busy,
    /// A new password does not meet the policy. A 422 listing each violation on `#/password`.
    #[error("the password does not meet the policy")]
    WeakPassword(Vec<PolicyViolation>),
    /// The login failed: unknown account, wrong password, locked or disabled account, all
    /// alike. A 401 whose body never says which.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A bearer token is invalid, expired, revoked or of another kind. A 401 with
    /// `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1); the reason is for logs.
    #[error("invalid token: {0}")]
    InvalidToken(crate::token::TokenError),
    /// A cookie-authenticated request with an unsafe method came from another origin (a
    /// possible cross-site request forgery). A 403.
    #[error("cross-origin request refused")]
    CrossOrigin,
    /// A code or link is unknown, used, expired or for another purpose. A 400.
    #[error("the code is invalid or has expired")]
    InvalidCode,
    /// The e-mail address is not plausible. A 422 on `#/email`.
    #[error("the e-mail address is not valid")]
    InvalidEmail,
    /// The attempt limiter cannot answer; login-type flows fail closed. A 503.
    #[error("the attempt limiter is unavailable")]
    LimiterUnavailable(#[source] mortar_core::AttemptError),
    /// A unique value is already taken; names the field (`"email"`, `"username"`). A 409.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The record does not exist. A 404.
    #[error("not found")]
    NotFound,
    /// The storage backend failed (database or Redis unreachable, a query failed). A 503
    /// without details.
    #[error("the storage backend failed")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The configuration is invalid (reported when it is built, never at request time).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A federated sign-in (OAuth 2 / OpenID Connect) failed; [`FederationError`] says how. A
    /// 400, a 403 for an address outside a tenant's domains, a 404 for an unknown provider, a
    /// 502 when the provider cannot be reached.
    #[error("federated sign-in failed: {0}")]
    Federation(FederationError),
    /// A provider's address belongs to an existing account, and the link policy does not let
    /// the identity join it by itself: sign in to that account, then link the provider. A 409.
    #[error("an account with this address exists: sign in and link the provider")]
    LinkRequired,
    /// Removing this way to sign in would leave the account with none. A 409.
    #[error("the account's last way to sign in")]
    LastLoginMethod,
    /// An unexpected failure inside a dependency. A 500 without details.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Why a federated sign-in failed. The reasons are for logs and tests; clients see a generic
/// problem document (no detail an attacker could probe).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FederationError {
    /// No provider, or no tenant connection, of that name.
    #[error("unknown provider")]
    UnknownProvider,
    /// The callback does not belong to a sign-in started here: no flow cookie, an expired or
    /// tampered one, another provider's, or a `state` that does not match (RFC 6749 §10.12).
    #[error("the callback does not match a sign-in started here")]
    FlowMismatch,
    /// The provider answered the callback with an error (`access_denied` when the user
    /// declined).
    #[error("the provider answered {0}")]
    Denied(String),
    /// The token endpoint refused the code: used, expired, issued to another client or
    /// redirect URI, or a PKCE verifier that does not match.
    #[error("the token endpoint refused the code")]
    TokenRefused,
    /// The ID token failed validation: signature, issuer, audience, expiry, nonce, or missing.
    #[error("invalid ID token: {0}")]
    InvalidIdToken(String),
    /// The identity has no usable (verified) e-mail address where one is needed.
    #[error("the provider gave no verified e-mail address")]
    NoVerifiedEmail,
    /// The address is outside the tenant's allowed domains.
    #[error("the address is outside the allowed domains")]
    DomainNotAllowed,
    /// The provider could not be reached or answered with nonsense.
    #[error("the provider is unavailable")]
    Unavailable,
}

impl Error {
    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(e))
    }

    #[cfg_attr(not(feature = "sql"), allow(dead_code))]
    pub(crate) fn store(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(e))
    }
}

/// Every error is a problem document with a stable `type` (see docs/problems.md).
impl From<Error> for Problem {
    fn from(err: Error) -> Self {
        match err {
            Error::Busy => Problem::mortar(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "The service is busy; try again shortly.",
            )
            .with_retry_after(Duration::from_secs(1)),
            Error::WeakPassword(violations) => Problem::mortar(
                StatusCode::UNPROCESSABLE_ENTITY,
                "weak-password",
                "The password does not meet the password policy.",
            )
            .with_errors(violations.iter().map(|v| {
                v.with_params(FieldError::new("/password", v.to_string()).with_code(v.code()))
            })),
            Error::InvalidCredentials => Problem::unauthorized()
                .with_type(format!(
                    "{}invalid-credentials",
                    mortar_core::problem::TYPE_PREFIX
                ))
                .with_title("The credentials are not valid."),
            Error::InvalidToken(_) => Problem::unauthorized()
                .with_type(format!(
                    "{}invalid-token",
                    mortar_core::problem::TYPE_PREFIX
                ))
                .with_title("The access token is invalid or has expired.")
                .with_header(
                    http::header::WWW_AUTHENTICATE,
                    http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
                ),
            Error::CrossOrigin => Problem::mortar(
                StatusCode::FORBIDDEN,
                "cross-origin-request",
                "The request did not come from an allowed origin.",
            ),
            Error::InvalidCode => Problem::mortar(
                StatusCode::BAD_REQUEST,
                "invalid-code",
                "The code is invalid or has expired.",
            ),
            Error::InvalidEmail => {
                Problem::validation([
                    FieldError::new("/email", "must be an e-mail address").with_code("email")
                ])
            }
            Error::LimiterUnavailable(err) => Problem::from(err),
            Error::Conflict(field) => Problem::mortar(
                StatusCode::CONFLICT,
                "conflict",
                "The resource already exists.",
            )
            .with_detail(format!("{field} is already taken")),
            Error::NotFound => Problem::not_found(),
            err @ Error::Store(_) => Problem::mortar(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                "The service is temporarily unavailable.",
            )
            .with_source(err),
            Error::Federation(reason) => federation_problem(&reason),
            Error::LinkRequired => Problem::mortar(
                StatusCode::CONFLICT,
                "link-required",
                "An account with this e-mail address exists; sign in to it and link the provider.",
            ),
            Error::LastLoginMethod => Problem::mortar(
                StatusCode::CONFLICT,
                "last-login-method",
                "This is the account's last way to sign in.",
            ),
            err @ (Error::Config(_) | Error::Internal(_)) => {
                Problem::internal_error().with_source(err)
            }
        }
    }
}

fn federation_problem(reason: &FederationError) -> Problem {
    match reason {
        FederationError::UnknownProvider => Problem::not_found(),
        FederationError::DomainNotAllowed => Problem::mortar(
            StatusCode::FORBIDDEN,
            "domain-not-allowed",
            "This e-mail domain may not sign in here.",
        ),
        FederationError::Unavailable => Problem::mortar(
            StatusCode::BAD_GATEWAY,
            "identity-provider-unavailable",
            "The identity provider could not be reached; try again shortly.",
        ),
        FederationError::NoVerifiedEmail => Problem::mortar(
            StatusCode::BAD_REQUEST,
            "federated-login-failed",
            "The sign-in with the identity provider failed.",
        )
        .with_detail("the provider did not give a verified e-mail address"),
        _ => Problem::mortar(
            StatusCode::BAD_REQUEST,
            "federated-login-failed",
            "The sign-in with the identity provider failed.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems() {
        let busy = Problem::from(Error::Busy);
        assert_eq!(busy.status(), 503);
        assert_eq!(busy.retry_after(), Some(1));

        let weak = Problem::from(Error::WeakPassword(vec![PolicyViolation::Common]));
        assert_eq!(weak.status(), 422);
        assert_eq!(weak.type_uri(), "urn:mortar:problem:weak-password");
        assert_eq!(weak.errors()[0].pointer(), "#/password");
        assert_eq!(weak.errors()[0].code(), Some("common"));

        let internal = Problem::from(Error::Config("pepper id too long".into()));
        assert_eq!(internal.status(), 500);
        assert!(!String::from_utf8_lossy(&internal.to_json()).contains("pepper"));
    }
}
