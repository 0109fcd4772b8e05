//! Avatars: a signed-in user uploads a picture, which is checked, thumbnailed by a background
//! job and served by presigned URL.
//!
//! - `PUT /me/avatar` (multipart, field `avatar`): the upload pipeline takes PNG, JPEG, WebP or
//!   GIF up to 5 MiB, with the type sniffed from the bytes and matching the file name's
//!   extension — a PNG named `.pdf`, or anything else, is refused with a 422 problem, a larger
//!   file with 413 before the rest is read, and so is a picture whose header declares more
//!   pixels than the thumbnailer decodes (a decompression bomb). The picture waits under
//!   `quarantine/` and the answer is **202 Accepted** with a `Location` to poll: a
//!   [`MakeThumbnail`] job makes a 256-pixel WebP thumbnail from it (behind decompression-bomb
//!   limits, two at a time per instance), keeps both under `avatars/{user}/` and empties the
//!   quarantine.
//! - `GET /me/avatar/jobs/{id}`: the job's state — `pending`, `running`, `completed` (with a
//!   link to the thumbnail, or `"current": false` once a newer picture replaced it or the avatar
//!   was removed) or `failed` (with the problem: a damaged picture is a 422 `upload-refused`, an
//!   upload overtaken by a newer one or by a removal a 409). Another user's job is a 404.
//!   Uploads are ordered by their quarantine keys (UUIDv7): an older upload's job finishing
//!   late never replaces a newer avatar, nor brings back a removed one.
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
use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, put};
use mortar::core::{
    AuditEvent, AuditRecorder as _, FieldError, Outcome, Principal, PrincipalKind, Problem,
};
use mortar::jobs::{EnqueueOptions, Job, JobContext, JobError, JobId, JobState};
use mortar::storage::images::{ImageLimits, OutputFormat, check_dimensions, thumbnail};
use mortar::storage::presign::{Presigned, SignedUrls, UrlSigner};
use mortar::storage::s3::S3Store;
use mortar::storage::upload::{Allowed, Uploader};
use mortar::storage::{Error as StorageError, LocalStore, ObjectKey, ObjectStore, PutOptions};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::StartError;
use crate::config::Config;
use crate::jobs::{JobDeps, MEDIA_QUEUE};
use crate::state::AppState;

/// The largest picture accepted.
pub const MAX_AVATAR: u64 = 5 << 20;
/// The thumbnail's longest side, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;
/// How long a link stays valid.
pub const LINK_TTL: Duration = Duration::from_mins(5);
/// The path under which signed links to local files are served.
pub const FILES_PATH: &str = "/files";
/// Where uploads wait for their thumbnail.
pub const QUARANTINE: &str = "quarantine/";
/// Thumbnails made at once per instance, at most: each may take the decoder's allocation limit.
pub const THUMBNAILS_AT_ONCE: usize = 2;
/// The thumbnailer's limits: larger pictures are refused before any pixel is decoded.
pub const IMAGE_LIMITS: ImageLimits = ImageLimits {
    max_side: 8_000,
    max_pixels: 25_000_000,
    max_alloc: 128 << 20,
};

/// Where avatars are kept and how links to them are made.
#[derive(Clone, Debug)]
pub struct Avatars {
    uploader: Uploader,
    store: Arc<dyn ObjectStore>,
    links: Links,
}

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
        })
    }

    /// The object store avatars (and the quarantine) live in.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
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
    let router = Router::new()
        .route(
            "/me/avatar",
            put(upload)
                .get(show)
                .delete(remove)
                // A body declaring more than this is refused unread; under it, the pipeline
                // enforces the picture's own limit while reading (the route's limit is set
                // higher so that the pipeline's, which names its limit, speaks first).
                .layer(DefaultBodyLimit::max(
                    usize::try_from(MAX_AVATAR).unwrap_or(usize::MAX) + (1 << 20),
                )),
        )
        .route("/me/avatar/jobs/{id}", get(status));
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
    if principal.kind() != PrincipalKind::User {
        return Err(Problem::forbidden().with_detail("only users have avatars"));
    }
    user_folder(principal.subject())
}

fn user_folder(subject: &str) -> Result<String, Problem> {
    let plain = !subject.is_empty()
        && subject.len() <= 128
        && subject
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !plain {
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

/// The multipart form of `PUT /me/avatar`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct AvatarForm {
    /// The picture: a PNG, JPEG, WebP or GIF picture, at most 5 MiB, 8000 pixels a side and 25 megapixels.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    avatar: Vec<u8>,
}

/// The answer of `PUT /me/avatar`: the thumbnail job to poll.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AvatarAccepted {
    /// The job's id.
    job: String,
    /// `pending`.
    state: &'static str,
    /// Where to poll it (also in `Location`).
    status: String,
}

/// A link to the caller's thumbnail.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AvatarLink {
    /// A presigned URL (S3) or a signed `/files/…` link, valid for `expires_in` seconds.
    url: String,
    /// Seconds the link stays valid.
    expires_in: u64,
    /// `image/webp`.
    content_type: &'static str,
}

/// Where a thumbnail job is.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub(crate) struct AvatarJob {
    /// The job's id.
    job: String,
    /// `pending`, `running`, `completed` or `failed`.
    state: &'static str,
    /// Attempts made so far.
    attempt: u32,
    /// Completed and still the current avatar: a link to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// Seconds the link stays valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    /// The thumbnail's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<&'static str>,
    /// Completed, but replaced or removed since: `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<bool>,
    /// Why there is no link.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'static str>,
    /// Failed: the problem (e.g. a damaged picture, 422).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    problem: Option<Value>,
}

/// `PUT /me/avatar`: validates the picture, keeps it in quarantine and enqueues its thumbnail;
/// 202 with the job to poll.
#[utoipa::path(
    put,
    path = "/me/avatar",
    tag = "avatars",
    request_body(content = inline(AvatarForm), content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Accepted; the thumbnail is made by a job", body = AvatarAccepted, headers(("location" = String, description = "The job's status"))),
        (status = 400, description = "Not a multipart body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a user (API keys and services have no avatar)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 5 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a picture, or a type the name does not match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No `avatar` field, a damaged picture, or past the pixel limits", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The job could not be queued", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    mut form: Multipart,
) -> Result<Response, Problem> {
    let avatars = state.avatars();
    // Only users have avatars: refuse before reading the body.
    folder(&principal)?;
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
    let waiting = key(&format!("{QUARANTINE}{}", uuid::Uuid::now_v7()))?;
    let uploaded = mortar::storage::axum::accept_field(&avatars.uploader, field, &waiting).await?;
    let job = MakeThumbnail {
        user: principal.subject().to_owned(),
        upload: waiting.as_str().to_owned(),
        content_type: uploaded.mime.as_str().to_owned(),
        bytes: uploaded.meta.size,
        sha256: uploaded.meta.sha256.clone(),
    };
    // The header is read now, so a decompression bomb or a picture past the limits is refused
    // here; its pixels are decoded by the job. A client hanging up from here on leaves the
    // upload in quarantine, which the hourly clean-up empties.
    let enqueued = match check_header(avatars, &waiting).await {
        Ok(()) => state
            .jobs()
            .enqueue(&job, EnqueueOptions::new())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "enqueueing a thumbnail failed");
                Problem::service_unavailable().with_detail("the picture could not be queued")
            }),
        Err(problem) => Err(problem),
    };
    let enqueued = match enqueued {
        Ok(enqueued) => enqueued,
        Err(problem) => {
            discard_upload(avatars, &waiting).await;
            return Err(problem);
        }
    };
    let location = format!("/me/avatar/jobs/{}", enqueued.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location.clone())],
        Json(AvatarAccepted {
            job: enqueued.id.to_string(),
            state: "pending",
            status: location,
        }),
    )
        .into_response())
}

/// Refuses a quarantined upload whose header is unreadable or past [`IMAGE_LIMITS`].
async fn check_header(avatars: &Avatars, waiting: &ObjectKey) -> Result<(), Problem> {
    let got = avatars.store.get(waiting, None).await?;
    // At most MAX_AVATAR bytes (the pipeline's limit), so read whole: a JPEG's size may
    // follow a long EXIF block.
    let bytes = mortar::storage::collect(got.body).await?;
    check_dimensions(&bytes, IMAGE_LIMITS)?;
    Ok(())
}

async fn discard_upload(avatars: &Avatars, waiting: &ObjectKey) {
    if let Err(error) = avatars.store.delete(waiting).await {
        tracing::warn!(%error, "removing a quarantined avatar failed");
    }
}

/// Makes the thumbnail of a quarantined upload, keeps it and the original under the user's
/// folder, and empties the quarantine. A picture that does not decode is discarded at once
/// (its problem kept for `GET /me/avatar/jobs/{id}`); a failing store is retried.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MakeThumbnail {
    /// The user's id (the folder's name).
    pub user: String,
    /// The quarantined upload's key.
    pub upload: String,
    /// Its sniffed content type.
    pub content_type: String,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: Option<String>,
}

impl Job for MakeThumbnail {
    const NAME: &'static str = "starter.make_thumbnail";
    type State = JobDeps;

    /// On the `media` queue; three attempts of at most two minutes.
    fn options() -> EnqueueOptions {
        EnqueueOptions::new()
            .queue(MEDIA_QUEUE)
            .max_attempts(3)
            .timeout(Duration::from_mins(2))
    }

    async fn run(self, ctx: JobContext<JobDeps>) -> Result<(), JobError> {
        let avatars = &ctx.state().avatars;
        let waiting = ObjectKey::new(&self.upload)
            .ok()
            .filter(|k| k.as_str().starts_with(QUARANTINE))
            .ok_or_else(|| JobError::discard("not a quarantined upload"))?;
        let folder = user_folder(&self.user).map_err(|p| JobError::discard(problem_text(&p)))?;
        // Uploads are ordered by their quarantine keys (UUIDv7s): the thumbnail kept and the
        // removal marker name the newest upload they stand for.
        let latest = match latest_upload(avatars, &folder).await {
            Ok(latest) => latest,
            Err(problem) => return Err(transient(&ctx, avatars, &waiting, &problem).await),
        };
        if latest.as_deref() == Some(self.upload.as_str()) {
            // Run again after its work was done (its outcome was not stored): nothing to do.
            discard_upload(avatars, &waiting).await;
            return Ok(());
        }
        if latest.as_deref().is_some_and(|l| l > self.upload.as_str()) {
            discard_upload(avatars, &waiting).await;
            return Err(JobError::discard(problem_text(
                &Problem::conflict().with_detail(
                    "a newer picture was uploaded, or the avatar removed, since this one",
                ),
            )));
        }
        let result = match make_thumbnail(avatars, &waiting).await {
            Ok(small) => keep(avatars, &waiting, &folder, small).await,
            Err(problem) => Err(problem),
        };
        match result {
            Ok(()) => {
                discard_upload(avatars, &waiting).await;
                ctx.state().recorder.record(
                    AuditEvent::new("user.avatar.updated", Outcome::Success)
                        .actor_subject(&self.user, PrincipalKind::User)
                        .target("user", &self.user)
                        .meta("type", self.content_type.as_str())
                        .meta("bytes", self.bytes)
                        .meta("sha256", self.sha256.as_deref().unwrap_or_default()),
                );
                Ok(())
            }
            // The picture's fault (or it is gone): no retry helps.
            Err(problem) if problem.status().is_client_error() => {
                discard_upload(avatars, &waiting).await;
                Err(JobError::discard(problem_text(&problem)))
            }
            Err(problem) => Err(transient(&ctx, avatars, &waiting, &problem).await),
        }
    }
}

/// A failure worth retrying (the store failed): logged, the upload kept for the next attempt
/// unless this was the last.
async fn transient(
    ctx: &JobContext<JobDeps>,
    avatars: &Avatars,
    waiting: &ObjectKey,
    problem: &Problem,
) -> JobError {
    tracing::warn!(error = %problem, "making a thumbnail failed");
    if ctx.is_last_attempt() {
        discard_upload(avatars, waiting).await;
    }
    JobError::retry(problem_text(
        &Problem::internal_error().with_detail("the thumbnail could not be made"),
    ))
}

/// The metadata entry naming the upload an object stands for.
const UPLOAD_META: &str = "upload";

/// The marker `DELETE /me/avatar` leaves: uploads older than the one it names are void.
fn removed_key(folder: &str) -> Result<ObjectKey, Problem> {
    key(&format!("{folder}/removed"))
}

/// The newest upload the user's folder accounts for: the kept thumbnail's, or the removal
/// marker's, whichever is newer; `None` for a user who never had an avatar.
async fn latest_upload(avatars: &Avatars, folder: &str) -> Result<Option<String>, Problem> {
    let mut latest: Option<String> = None;
    for object in [key(&format!("{folder}/avatar.webp"))?, removed_key(folder)?] {
        match avatars.store.head(&object).await {
            Ok(meta) => {
                if let Some(upload) = meta.metadata.get(UPLOAD_META)
                    && latest.as_deref().is_none_or(|l| upload.as_str() > l)
                {
                    latest = Some(upload.clone());
                }
            }
            Err(StorageError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(latest)
}

/// A problem as kept in a job's error: its JSON document (no source, which may hold internals).
fn problem_text(problem: &Problem) -> String {
    String::from_utf8_lossy(&problem.to_json()).into_owned()
}

/// The thumbnail of the quarantined picture (at most [`MAX_AVATAR`] bytes, so read whole),
/// made on the blocking pool. A 410 problem when the upload is gone.
async fn make_thumbnail(avatars: &Avatars, waiting: &ObjectKey) -> Result<Vec<u8>, Problem> {
    let got = match avatars.store.get(waiting, None).await {
        Ok(got) => got,
        Err(StorageError::NotFound(_)) => {
            return Err(Problem::new(StatusCode::GONE)
                .with_detail("the upload is no longer available: send the picture again"));
        }
        Err(e) => return Err(e.into()),
    };
    let bytes = mortar::storage::collect(got.body).await?;
    tokio::task::spawn_blocking(move || {
        thumbnail(
            &bytes,
            THUMBNAIL_SIDE,
            THUMBNAIL_SIDE,
            OutputFormat::WebP,
            IMAGE_LIMITS,
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
    folder: &str,
    small: Vec<u8>,
) -> Result<(), Problem> {
    avatars
        .store
        .put(
            &key(&format!("{folder}/avatar.webp"))?,
            mortar::storage::body_from_bytes(small),
            PutOptions::content_type(OutputFormat::WebP.mime()).meta(UPLOAD_META, waiting.as_str()),
        )
        .await?;
    avatars
        .store
        .copy(waiting, &key(&format!("{folder}/original"))?)
        .await?;
    Ok(())
}

/// `GET /me/avatar/jobs/{id}`: where the caller's thumbnail job is; 404 for an unknown job or
/// another user's.
#[utoipa::path(
    get,
    path = "/me/avatar/jobs/{id}",
    tag = "avatars",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job's state; when completed, a link", body = AvatarJob),
        (status = 403, description = "Not a user", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job of the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The job store does not answer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn status(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AvatarJob>, Problem> {
    let unknown = || Problem::not_found().with_detail("no such avatar job");
    // Only users have avatars (as for the upload itself).
    let folder = folder(&principal)?;
    let id: JobId = id.parse().map_err(|_| unknown())?;
    let record = state
        .jobs()
        .get(id)
        .await
        .map_err(|e| Problem::service_unavailable().with_source(e))?
        .filter(|r| r.name == MakeThumbnail::NAME)
        .ok_or_else(unknown)?;
    let job: MakeThumbnail = serde_json::from_value(record.payload).map_err(|_| unknown())?;
    if job.user != principal.subject() {
        return Err(unknown());
    }
    let mut answer = AvatarJob {
        job: id.to_string(),
        attempt: record.attempt,
        ..AvatarJob::default()
    };
    match record.state {
        JobState::Pending => answer.state = "pending",
        JobState::Running => answer.state = "running",
        JobState::Completed => {
            let avatars = state.avatars();
            answer.state = "completed";
            // A link only while the avatar is still this upload's (the kept thumbnail names it;
            // a removal marker never does).
            if latest_upload(avatars, &folder).await?.as_deref() == Some(job.upload.as_str()) {
                answer.url = Some(avatars.link(&thumbnail_key(&principal)?).await?);
                answer.expires_in = Some(LINK_TTL.as_secs());
                answer.content_type = Some(OutputFormat::WebP.mime());
            } else {
                answer.current = Some(false);
                answer.detail = Some("a newer picture was uploaded, or the avatar removed, since");
            }
        }
        // Discarded or cancelled (and any state added later).
        _ => {
            // Our own problem documents; anything else (a timeout, a lost worker) is shown as a
            // plain server error.
            let problem = record
                .errors
                .last()
                .and_then(|e| serde_json::from_str::<Problem>(&e.error).ok())
                .unwrap_or_else(|| {
                    Problem::internal_error().with_detail("the thumbnail could not be made")
                });
            answer.state = "failed";
            answer.problem = serde_json::from_slice(&problem.to_json()).ok();
        }
    }
    Ok(Json(answer))
}

/// `GET /me/avatar`: a fresh link to the thumbnail.
#[utoipa::path(
    get,
    path = "/me/avatar",
    tag = "avatars",
    responses(
        (status = 200, description = "A link to the thumbnail", body = AvatarLink),
        (status = 403, description = "Not a user", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No avatar uploaded", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<AvatarLink>, Problem> {
    let avatars = state.avatars();
    let thumb = thumbnail_key(&principal)?;
    match avatars.store.head(&thumb).await {
        Ok(_) => Ok(Json(AvatarLink {
            url: avatars.link(&thumb).await?,
            expires_in: LINK_TTL.as_secs(),
            content_type: OutputFormat::WebP.mime(),
        })),
        Err(StorageError::NotFound(_)) => {
            Err(Problem::not_found().with_detail("no avatar uploaded"))
        }
        Err(e) => Err(e.into()),
    }
}

/// `DELETE /me/avatar`: 204, whether or not there was one.
#[utoipa::path(
    delete,
    path = "/me/avatar",
    tag = "avatars",
    responses(
        (status = 204, description = "No avatar now"),
        (status = 403, description = "Not a user", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("api_key" = []), ("session_cookie" = []))
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<StatusCode, Problem> {
    let avatars = state.avatars();
    // First the marker voiding every upload made until now, so a thumbnail job still waiting
    // does not bring the avatar back.
    let now = key(&format!("{QUARANTINE}{}", uuid::Uuid::now_v7()))?;
    avatars
        .store
        .put(
            &removed_key(&folder(&principal)?)?,
            mortar::storage::body_from_bytes(Vec::new()),
            PutOptions::content_type("application/octet-stream").meta(UPLOAD_META, now.as_str()),
        )
        .await?;
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
#[utoipa::path(
    get,
    path = "/files/{key}",
    tag = "avatars",
    description = "Served only when files are on local disk (without S3); the links come from the avatar routes.",
    params(
        ("key" = String, Path, description = "The file's key"),
        ("expires" = u64, Query, description = "Expiry (Unix seconds)"),
        ("signature" = String, Query, description = "The link's HMAC"),
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "A range of it"),
        (status = 304, description = "Not modified"),
        (status = 403, description = "Wrong or expired signature", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such file", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "Range not satisfiable", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn files(State(state): State<AppState>, req: Request) -> Response {
    let Links::Signed { files, .. } = &state.avatars().links else {
        return Problem::not_found().into_response();
    };
    match files.handle(req).await {
        Ok(res) => res.map(axum::body::Body::new),
        Err(problem) => problem.into_response(),
    }
}
