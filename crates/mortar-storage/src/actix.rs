//! actix-web integration (feature `actix`): [`accept_field`] runs an `actix-multipart` field
//! through the [`Uploader`].

use actix_multipart::Field;

use crate::key::ObjectKey;
use crate::upload::{UploadError, Uploaded, Uploader};

/// Validates and stores one `actix-multipart` field at `key` (see [`Uploader::accept`]; the
/// field's file name from its `Content-Disposition` is the one checked against the content).
/// The field is read as the store takes it, through a small bounded channel: when the upload
/// is refused (type, size), the rest of the field is not read.
///
/// # Errors
///
/// As [`Uploader::accept`]; a field that cannot be read is [`crate::Error::Body`].
pub async fn accept_field(
    uploader: &Uploader,
    field: Field,
    key: &ObjectKey,
) -> Result<Uploaded, UploadError> {
    let file_name = field
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .map(str::to_owned);
    crate::upload::accept_borrowed(uploader, field, file_name.as_deref(), key).await
}
