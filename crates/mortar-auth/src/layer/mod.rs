//! [`AuthLayer`]: authenticate every request and insert its [`Principal`].
//!
//! The layer asks a chain of [`Authenticator`]s in order — bearer JWT access tokens
//! ([`AccessTokens`](crate::token::AccessTokens)), API keys ([`ApiKeys`](crate::api_key::ApiKeys)),
//! session cookies ([`SessionCookies`](crate::session::SessionCookies)),
//! or your own — and inserts the first principal found into the request extensions, where the
//! axum and actix extractors of mortar-core and every other Mortar crate find it.
//!
//! - **Required** mode ([`AuthLayer::required`]): a request without credentials is answered 401
//!   with a problem document and `WWW-Authenticate: Bearer`; the inner service is not called.
//! - **Optional** mode ([`AuthLayer::optional`]): such a request goes through without a principal.
//! - In both modes a request *with* a credential that is not valid (expired, revoked, mistyped) is
//!   refused with 401 — a bad credential is never treated as no credential.
//!
//! ```
//! use axum::{Router, routing::get};
//! use http::{Request, StatusCode};
//! use mortar_auth::layer::AuthLayer;
//! use mortar_auth::token::{AccessTokens, KeyRing, SigningKey};
//! use mortar_core::{AuthMethod, Principal};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let tokens = AccessTokens::builder(
//!     KeyRing::new(SigningKey::generate_ed25519("k1").unwrap()),
//!     "https://auth.example.com",
//!     "https://api.example.com",
//! )
//! .build();
//! let app = Router::new()
//!     .route("/me", get(|p: Principal| async move { p.subject().to_owned() }))
//!     .layer(AuthLayer::required().with(tokens.clone()));
//!
//! let token = tokens.issue(&Principal::user("user-1").method(AuthMethod::Password).build()).unwrap();
//! let req = Request::get("/me")
//!     .header("authorization", format!("Bearer {}", token.token()))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! assert_eq!(app.clone().oneshot(req).await.unwrap().status(), StatusCode::OK);
//!
//! let anonymous = Request::get("/me").body(axum::body::Body::empty()).unwrap();
//! let res = app.oneshot(anonymous).await.unwrap();
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! # }
//! ```

mod authenticator;
mod service;

use std::fmt;
use std::sync::Arc;

use http::request::Parts;
use mortar_core::{MissingPrincipal, Principal, Problem};
use tower_layer::Layer;

use crate::error::Error;

pub(crate) use authenticator::header;
pub use authenticator::{AuthFuture, Authenticator};
pub use service::{Auth, ResponseFuture};

/// Whether a request must be authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No credentials: 401.
    Required,
    /// No credentials: passed on without a principal.
    Optional,
}

/// Layer producing [`Auth`]; cheap to clone.
#[derive(Clone)]
#[must_use]
pub struct AuthLayer {
    pub(crate) chain: Arc<Vec<Arc<dyn Authenticator>>>,
    pub(crate) mode: Mode,
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("chain", &self.chain)
            .field("mode", &self.mode)
            .finish()
    }
}

impl AuthLayer {
    /// A layer that refuses unauthenticated requests.
    pub fn required() -> Self {
        Self {
            chain: Arc::new(Vec::new()),
            mode: Mode::Required,
        }
    }

    /// A layer that lets unauthenticated requests through without a principal.
    pub fn optional() -> Self {
        Self {
            chain: Arc::new(Vec::new()),
            mode: Mode::Optional,
        }
    }

    /// Adds an authenticator at the end of the chain.
    pub fn with(mut self, authenticator: impl Authenticator) -> Self {
        Arc::make_mut(&mut self.chain).push(Arc::new(authenticator));
        self
    }
}

/// What the chain and the mode decide for one request (shared by the tower and actix edges).
pub(crate) enum Decision {
    /// A credential was recognised.
    Authenticated(Principal),
    /// No credential, and the mode lets the request through.
    Anonymous,
    /// A bad credential, or none where one is required: answer this problem.
    Refused(Box<Problem>),
}

impl AuthLayer {
    /// Asks the chain in order; the first authenticator that recognises a credential decides.
    /// A refused credential is logged (the reason never reaches the client).
    pub(crate) async fn decide(&self, parts: &Parts) -> Decision {
        for authenticator in self.chain.iter() {
            match authenticator.authenticate(parts).await {
                Ok(None) => {}
                answer => return refuse_or_accept(answer),
            }
        }
        self.nobody()
    }

    /// [`decide`](Self::decide) without waiting, when every authenticator asked answers at once
    /// ([`Authenticator::authenticate_now`]); `None` when one needs to wait.
    pub(crate) fn decide_now(&self, parts: &Parts) -> Option<Decision> {
        for authenticator in self.chain.iter() {
            match authenticator.authenticate_now(parts)? {
                Ok(None) => {}
                answer => return Some(refuse_or_accept(answer)),
            }
        }
        Some(self.nobody())
    }

    /// The decision when no authenticator recognised a credential.
    fn nobody(&self) -> Decision {
        match self.mode {
            Mode::Required => Decision::Refused(Box::new(Problem::from(MissingPrincipal))),
            Mode::Optional => Decision::Anonymous,
        }
    }
}

/// An authenticator's answer (a principal or an error) as the decision.
fn refuse_or_accept(answer: Result<Option<Principal>, Error>) -> Decision {
    match answer {
        Ok(Some(principal)) => Decision::Authenticated(principal),
        Ok(None) => Decision::Anonymous,
        Err(error) => {
            match &error {
                Error::InvalidToken(reason) => {
                    tracing::info!(target: "mortar::auth", %reason, "credential refused");
                }
                other => tracing::warn!(
                    target: "mortar::auth", error = %other, "authentication failed"
                ),
            }
            Decision::Refused(Box::new(Problem::from(error)))
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}
