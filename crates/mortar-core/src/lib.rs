//! The shared vocabulary of the Mortar crates.
//!
//! Every Mortar capability crate (auth, rbac, ratelimit, storage, jobs, audit, flags, i18n) speaks
//! through the types in this crate and never through each other. It does no I/O and depends on
//! little beyond `http`, `http-body`, `bytes`, `serde` and `thiserror`.
//!
//! | type | what it is |
//! | --- | --- |
//! | [`Principal`] | who is calling: inserted into the request extensions by an authenticator, read by everyone else |
//! | [`Problem`] | an RFC 9457 `application/problem+json` document; every Mortar error converts into one |
//! | [`ProblemBody`] | a response body that is either the inner service's body or a problem document |
//! | [`Clock`] | [`SystemClock`] and the settable [`ManualClock`], so time-based logic is testable |
//! | [`AuditEvent`], [`AuditRecorder`] | security events, recorded without blocking the request |
//! | [`AttemptLimiter`] | brute-force protection that the auth crate uses and the rate-limit crate implements |
//!
//! # Quickstart
//!
//! ```
//! use http::StatusCode;
//! use mortar_core::{Principal, Problem};
//!
//! // An authenticator builds a principal and inserts it into the request extensions…
//! let principal = Principal::user("user-42").tenant("acme").role("admin").build();
//! assert!(principal.has_role("admin"));
//!
//! // …and any failure answers with an RFC 9457 problem document.
//! let problem = Problem::forbidden().with_detail("you may not edit this invoice");
//! let response = problem.to_http_response::<String>();
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert_eq!(response.headers()["content-type"], "application/problem+json");
//! ```
//!
//! # Cargo features
//!
//! | feature | brings |
//! | --- | --- |
//! | `axum` | `IntoResponse` for [`Problem`], axum extractors for [`Principal`] and `Option<Principal>` |
//! | `actix` | `ResponseError` for [`Problem`], actix-web extractors for [`Principal`] |
//! | `garde` | `From<garde::Report>` for [`Problem`], with one field error per failed rule |
//! | `openapi` | `utoipa::PartialSchema` and `utoipa::ToSchema` for [`Problem`] (schema `Problem`, `OpenAPI` 3.1) |
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod attempt;
pub mod audit;
pub mod body;
pub mod clock;
pub mod principal;
pub mod problem;
mod time_serde;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "garde")]
mod garde;
#[cfg(feature = "openapi")]
mod openapi;

pub use attempt::{AttemptError, AttemptKey, AttemptLimiter, AttemptStatus, NoAttemptLimit};
pub use audit::{
    Actor, AuditEvent, AuditRecorder, NoopRecorder, Outcome, SharedRecorder, Target,
    TracingRecorder,
};
pub use body::{GateFuture, ProblemBody};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use principal::{
    AuthMethod, Authentication, MissingPrincipal, Principal, PrincipalBuilder, PrincipalKind,
};
pub use problem::{FieldError, PROBLEM_JSON, Problem};
