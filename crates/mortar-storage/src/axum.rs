//! axum integration (feature `axum`): [`accept_field`] runs a multipart field through the
//! [`Uploader`].

use axum::extract::multipart::Field;

use crate::key::ObjectKey;
use crate::upload::{UploadError, Uploaded, Uploader};

/// Validates and stores one field of an axum `Multipart` body at `key` (see
/// [`Uploader::accept`]; the field's file name is the one checked against the content). The
/// field is read as the store takes it, through a small bounded channel: when the upload is
/// refused (type, size), the rest of the field is not read.
///
/// ```no_run
/// use axum::extract::{Multipart, State};
/// use mortar_core::Problem;
/// use mortar_storage::ObjectKey;
/// use mortar_storage::upload::Uploader;
///
/// async fn upload(State(uploader): State<Uploader>, mut form: Multipart) -> Result<String, Problem> {
///     let field = form.next_field().await.map_err(|_| Problem::bad_request())?.ok_or_else(Problem::bad_request)?;
///     let key = ObjectKey::new(format!("uploads/{}", uuid::Uuid::now_v7())).map_err(Problem::from)?;
///     let done = mortar_storage::axum::accept_field(&uploader, field, &key).await?;
///     Ok(done.mime)
/// }
/// ```
///
/// # Errors
///
/// As [`Uploader::accept`]; a field that cannot be read is [`crate::Error::Body`].
pub async fn accept_field(
    uploader: &Uploader,
    field: Field<'_>,
    key: &ObjectKey,
) -> Result<Uploaded, UploadError> {
    let file_name = field.file_name().map(str::to_owned);
    crate::upload::accept_borrowed(uploader, field, file_name.as_deref(), key).await
}
