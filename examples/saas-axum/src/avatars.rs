//! Avatars: a signed-in user uploads a picture, which is checked, thumbnailed and served by
//! presigned URL.
//!
//! - `PUT /me/avatar` (multipart, field `avatar`): the upload pipeline takes PNG, JPEG, WebP or
//!   GIF up to 5 MiB, with the type sniffed from the bytes and matching the file name's
//!   extension — a PNG named `.pdf`, or anything else, is refused with a 422 problem, a larger
//!   file with 413 before the rest is read. The picture waits under `quarantine/` while a
//!   256-pixel WebP thumbnail is made from it, behind decompression-bomb limits; then both are
//!   kept under `avatars/{user}/` and the answer carries a link to the thumbnail.
//! - `GET /me/avatar`: a fresh link (valid five minutes); 404 problem when there is none.
//! - `DELETE /me/avatar`: removes it.
//!
//! Files go to the S3 bucket when `MORTAR_S3_ENDPOINT` is set, and links are S3's own presigned
//! URLs; otherwise to local disk (`MORTAR_STORAGE_DIR`), and links are HMAC-signed URLs under
//! `/files/` that this app serves (a tampered or expired one answers 403).

// Handlers answer problem documents, built only on the error path.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, put};
use mortar::core::{
    AuditEvent, AuditRecorder as _, FieldError, Outcome, Principal, PrincipalKind, Problem,
};
use mortar::storage::images::{ImageLimits, OutputFormat, thumbnail};
use mortar::storage::presign::{Presigned, SignedUrls, UrlSigner};
use mortar::storage::s3::S3Store;
use mortar::storage::upload::{Allowed, Uploader};
use mortar::storage::{Error as StorageError, LocalStore, ObjectKey, ObjectStore, PutOptions};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use crate::StartError;
use crate::config::Config;
use crate::state::AppState;

/// The largest picture accepted.
pub const MAX_AVATAR: u64 = 5 << 20;
/// The thumbnail's longest side, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;
/// How long a link stays valid.
pub const LINK_TTL: Duration = Duration::from_mins(5);
/// The path under which signed links to local files are served.
pub const FILES_PATH: &str = "/files";

/// Where avatars are kept and how links to them are made.
#[derive(Clone, Debug)]
pub struct Avatars {
    uploader: Uploader,
    store: Arc<dyn ObjectStore>,
    links: Links,
    /// Thumbnails made at once: each may take the decoder's allocation limit.
    thumbnailing: Arc<tokio::sync::Semaphore>,
}

/// Thumbnails made at once, at most.
const THUMBNAILS_AT_ONCE: usize = 2;

#[derive(Clone, Debug)]
enum Links {
    /// S3's own presigned URLs.
    S3(S3Store),
    /// HMAC-signed URLs under [`FILES_PATH`], served by [`files`].
    Signed {
        signer: UrlSigner,
        base: String,
        files: Box<SignedUrls>,
    },
}

impl Avatars {
    /// The bucket when S3 is configured, else a local directory (created if needed).
    ///
    /// # Errors
    ///
    /// [`StartError::Storage`] when the directory cannot be created or the URL-signing key is
    /// shorter than 32 bytes.
    pub async fn new(config: &Config, s3: Option<&s3::Bucket>) -> Result<Self, StartError> {
        let (store, links): (Arc<dyn ObjectStore>, Links) = if let Some(bucket) = s3 {
            let store = S3Store::new(Box::new(bucket.clone()));
            (Arc::new(store.clone()), Links::S3(store))
        } else {
            let store: Arc<dyn ObjectStore> = Arc::new(
                LocalStore::new(&config.storage_dir)
                    .await
                    .map_err(|e| StartError::Storage(e.to_string()))?,
            );
            let key: Vec<u8> = match &config.url_signing_key {
                Some(key) => key.expose_secret().as_bytes().to_vec(),
                // Links then end at restart, and instances do not share them.
                None => rand::random::<[u8; 32]>().to_vec(),
            };
            let signer = UrlSigner::new(&key).ok_or_else(|| {
                StartError::Storage("MORTAR_URL_SIGNING_KEY must be at least 32 bytes".into())
            })?;
            let files = Box::new(SignedUrls::new(signer.clone(), store.clone(), FILES_PATH));
            let base = format!(
                "{}{FILES_PATH}",
                config
                    .public_url
                    .as_deref()
                    .unwrap_or("")
                    .trim_end_matches('/')
            );
            (
                store,
                Links::Signed {
                    signer,
                    base,
                    files,
                },
            )
        };
        let uploader = Uploader::shared(store.clone(), Allowed::images()).max_size(MAX_AVATAR);
        Ok(Self {
            uploader,
            store,
            links,
            thumbnailing: Arc::new(tokio::sync::Semaphore::new(THUMBNAILS_AT_ONCE)),
        })
    }

    /// A link to `key`, valid for [`LINK_TTL`].
    async fn link(&self, key: &ObjectKey) -> Result<String, Problem> {
        match &self.links {
            Links::S3(store) => Ok(store.presign_get(key, LINK_TTL).await?),
            Links::Signed { signer, base, .. } => {
                Ok(signer.url(base, Presigned::Get, key, LINK_TTL, None))
            }
        }
    }
}

/// The avatar routes; `/files/…` too when links are served by the app.
pub fn router(state: &AppState) -> Router<AppState> {
    let router = Router::new().route(
        "/me/avatar",
        put(upload)
            .get(show)
            .delete(remove)
            // A body declaring more than this is refused unread; under it, the pipeline
            // enforces the picture's own limit while reading (the route's limit is set higher
            // so that the pipeline's, which names its limit, speaks first).
            .layer(DefaultBodyLimit::max(
                usize::try_from(MAX_AVATAR).unwrap_or(usize::MAX) + (1 << 20),
            )),
    );
    if matches!(state.avatars().links, Links::Signed { .. }) {
        // Downloads only (GET and HEAD): the app never signs uploads.
        router.route(&format!("{FILES_PATH}/{{*key}}"), get(files))
    } else {
        router
    }
}

fn key(text: &str) -> Result<ObjectKey, Problem> {
    ObjectKey::new(text).map_err(|e| Problem::internal_error().with_source(e))
}

/// The caller's folder: users only (an API key acts for its owner, but does not change their
/// picture), and only subjects that are one plain key segment (the starter's are UUIDs).
fn folder(principal: &Principal) -> Result<String, Problem> {
    let subject = principal.subject();
    let plain = !subject.is_empty()
        && subject.len() <= 128
        && subject
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if principal.kind() != PrincipalKind::User || !plain {
        return Err(Problem::forbidden().with_detail("only users have avatars"));
    }
    Ok(format!("avatars/{subject}"))
}

fn thumbnail_key(principal: &Principal) -> Result<ObjectKey, Problem> {
    key(&format!("{}/avatar.webp", folder(principal)?))
}

fn original_key(principal: &Principal) -> Result<ObjectKey, Problem> {
    key(&format!("{}/original", folder(principal)?))
}

/// `PUT /me/avatar`: validates, thumbnails and keeps the picture; answers a link.
async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    mut form: Multipart,
) -> Result<Json<Value>, Problem> {
    let avatars = state.avatars();
    let thumb = thumbnail_key(&principal)?;
    let original = original_key(&principal)?;
    let field = loop {
        match form.next_field().await {
            Ok(Some(field)) if field.name() == Some("avatar") => break field,
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(Problem::validation([FieldError::new(
                    "avatar",
                    "a picture is required",
                )
                .with_code("required")]));
            }
            // 413 when the body is larger than the route allows (refused from its declared
            // length, unread), 400 when it is not multipart.
            Err(e) => return Err(Problem::new(e.status()).with_detail(e.body_text())),
        }
    };
    let waiting = key(&format!("quarantine/{}", uuid::Uuid::now_v7()))?;
    let uploaded = mortar::storage::axum::accept_field(&avatars.uploader, field, &waiting).await?;
    // From here on the work runs in its own task: a client that hangs up does not stop it
    // half-way, and the quarantine is always emptied.
    let task = {
        let (avatars, waiting, thumb) = (avatars.clone(), waiting.clone(), thumb.clone());
        tokio::spawn(async move {
            let result = match make_thumbnail(&avatars, &waiting).await {
                Ok(small) => keep(&avatars, &waiting, &thumb, &original, small).await,
                Err(problem) => Err(problem),
            };
            if let Err(error) = avatars.store.delete(&waiting).await {
                tracing::warn!(%error, "removing a quarantined avatar failed");
            }
            result
        })
    };
    task.await
        .map_err(|e| Problem::internal_error().with_source(e))??;
    state.audit().recorder.record(
        AuditEvent::new("user.avatar.updated", Outcome::Success)
            .actor(&principal)
            .target("user", principal.subject())
            .meta("type", uploaded.mime.as_str())
            .meta("bytes", uploaded.meta.size)
            .meta(
                "sha256",
                uploaded.meta.sha256.as_deref().unwrap_or_default(),
            ),
    );
    Ok(Json(json!({
        "url": avatars.link(&thumb).await?,
        "expires_in": LINK_TTL.as_secs(),
        "content_type": OutputFormat::WebP.mime(),
    })))
}

/// The thumbnail of the quarantined picture (at most [`MAX_AVATAR`] bytes, so read whole),
/// made on the blocking pool, [`THUMBNAILS_AT_ONCE`] at a time.
async fn make_thumbnail(avatars: &Avatars, waiting: &ObjectKey) -> Result<Vec<u8>, Problem> {
    let _turn = avatars
        .thumbnailing
        .acquire()
        .await
        .map_err(|e| Problem::internal_error().with_source(e))?;
    let got = avatars.store.get(waiting, None).await?;
    let bytes = mortar::storage::collect(got.body).await?;
    let limits = ImageLimits {
        max_side: 8_000,
        max_pixels: 25_000_000,
        max_alloc: 128 << 20,
    };
    tokio::task::spawn_blocking(move || {
        thumbnail(
            &bytes,
            THUMBNAIL_SIDE,
            THUMBNAIL_SIDE,
            OutputFormat::WebP,
            limits,
        )
    })
    .await
    .map_err(|e| Problem::internal_error().with_source(e))?
    .map_err(Problem::from)
}

/// Stores the thumbnail and copies the original out of quarantine.
async fn keep(
    avatars: &Avatars,
    waiting: &ObjectKey,
    thumb: &ObjectKey,
    original: &ObjectKey,
    small: Vec<u8>,
) -> Result<(), Problem> {
    avatars
        .store
        .put(
            thumb,
            mortar::storage::body_from_bytes(small),
            PutOptions::content_type(OutputFormat::WebP.mime()),
        )
        .await?;
    avatars.store.copy(waiting, original).await?;
    Ok(())
}

/// `GET /me/avatar`: a fresh link to the thumbnail.
async fn show(State(state): State<AppState>, principal: Principal) -> Result<Json<Value>, Problem> {
    let avatars = state.avatars();
    let thumb = thumbnail_key(&principal)?;
    match avatars.store.head(&thumb).await {
        Ok(_) => Ok(Json(json!({
            "url": avatars.link(&thumb).await?,
            "expires_in": LINK_TTL.as_secs(),
            "content_type": OutputFormat::WebP.mime(),
        }))),
        Err(StorageError::NotFound(_)) => {
            Err(Problem::not_found().with_detail("no avatar uploaded"))
        }
        Err(e) => Err(e.into()),
    }
}

/// `DELETE /me/avatar`: 204, whether or not there was one.
async fn remove(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode, Problem> {
    let avatars = state.avatars();
    let removed = avatars.store.delete(&thumbnail_key(&principal)?).await?;
    avatars.store.delete(&original_key(&principal)?).await?;
    if removed {
        state.audit().recorder.record(
            AuditEvent::new("user.avatar.removed", Outcome::Success)
                .actor(&principal)
                .target("user", principal.subject()),
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /files/…?expires=…&signature=…`: a signed link to a local file (ranges and conditional
/// requests answered); 403 when the signature is wrong or expired.
async fn files(State(state): State<AppState>, req: Request) -> Response {
    let Links::Signed { files, .. } = &state.avatars().links else {
        return Problem::not_found().into_response();
    };
    match files.handle(req).await {
        Ok(res) => res.map(axum::body::Body::new),
        Err(problem) => problem.into_response(),
    }
}
