//! Mortar: the features every serious Rust web backend needs, one crate per capability.
//!
//! This facade re-exports each Mortar crate as a module behind a cargo feature named for the
//! capability, so one dependency line brings what an application uses:
//!
//! ```toml
//! [dependencies]
//! mortar = { version = "0.1", features = ["axum"] }
//! ```
//!
//! | module | crate | feature |
//! | --- | --- | --- |
//! | [`core`] | `mortar-core`: `Principal`, `Problem`, `ProblemBody`, `Clock`, audit events, attempt limiting | always |
//! | `auth` | `mortar-auth`: passwords, users, account flows, access tokens, sessions (refresh tokens and cookies), API keys, the authentication layer; with `totp`, second factors (`auth::mfa`: TOTP with QR codes, recovery codes, login challenges, step-up) | `auth`, `totp` |
//! | `rbac` | `mortar-rbac`: roles with inheritance, tenants, resource grants, deny rules, CEL conditions, explained decisions, stores, route guards | `rbac` |
//! | `i18n` | `mortar-i18n`: Fluent catalogs, Accept-Language negotiation, CLDR plurals, numbers and dates, localized problems and validation messages, the locale layer | `i18n` |
//! | `audit` | `mortar-audit`: the durable non-blocking recorder, SQL / JSON-lines / tracing sinks, the SHA-256 hash chain and its verification, queries, export, retention, redaction, the request audit layer, last-seen tracking | `audit` |
//! | `flags` | `mortar-flags`: feature flags in flagd's format (JsonLogic targeting, fractional rollouts, `sem_ver`), experiments with exposure events, file / SQL / Redis sources, audited admin, the OpenFeature provider, the flags layer, extractor and route gate | `flags` |
//! | `storage` | `mortar-storage`: the streaming `ObjectStore` (memory, local disk, S3 with feature `s3`), keys that cannot escape their root, SHA-256 and size limits on the way, presigned URLs, the validated upload pipeline, downloads with ranges, thumbnails (`images`), a ClamAV scanner (`clamav`) | `storage`, `images`, `clamav` |
//! | `jobs` | `mortar-jobs`: typed background jobs on memory, SQLite, PostgreSQL (`SKIP LOCKED` claims, LISTEN/NOTIFY) and MariaDB — enqueue inside your own transaction, workers with leases, heartbeats and rescue, retries with back-off, unique jobs, admin, retention, metrics; cron schedules (`cron`) | `jobs`, `cron` |
//! | `ratelimit` | `mortar-ratelimit`: GCRA in process and on Redis, policies, tiers, failure modes, the rate-limit layer, a Redis brute-force guard | `ratelimit` |
//!
//! Backend features apply to every enabled crate that stores something: `sqlite`, `postgres`,
//! `mysql` (through sea-orm), `redis`, `s3`. Integration features apply to every enabled crate: `axum` (extractors, `IntoResponse`),
//! `actix` (middleware, extractors, `ResponseError`), `garde` (validation reports as problem
//! documents, localized with `i18n`). `full` turns everything on.
//!
//! The capability crates still to come (jobs…) join this
//! table as they are released; each can also be used on its own.
//!
//! ```
//! use mortar::core::{Principal, Problem};
//!
//! let principal = Principal::user("user-1").role("admin").build();
//! assert!(principal.has_role("admin"));
//! assert_eq!(Problem::not_found().status(), 404);
//! ```

#[doc(inline)]
pub use mortar_core as core;

#[doc(no_inline)]
pub use mortar_core::{Principal, Problem};

#[cfg(feature = "auth")]
#[doc(inline)]
pub use mortar_auth as auth;

#[cfg(feature = "ratelimit")]
#[doc(inline)]
pub use mortar_ratelimit as ratelimit;
#[cfg(feature = "rbac")]
#[doc(inline)]
pub use mortar_rbac as rbac;

#[cfg(feature = "i18n")]
#[doc(inline)]
pub use mortar_i18n as i18n;

#[cfg(feature = "audit")]
#[doc(inline)]
pub use mortar_audit as audit;

#[cfg(feature = "flags")]
#[doc(inline)]
pub use mortar_flags as flags;

#[cfg(feature = "storage")]
#[doc(inline)]
pub use mortar_storage as storage;

#[cfg(feature = "jobs")]
#[doc(inline)]
pub use mortar_jobs as jobs;
