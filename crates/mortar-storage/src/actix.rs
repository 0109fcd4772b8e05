//! actix-web integration (feature `actix`): [`accept_field`] runs an `actix-multipart` field
//! through the [`Uploader`].

use actix_multipart::Field;
use futures_util::StreamExt as _;

use crate::error::Error;
use crate::key::ObjectKey;
use crate::upload::{UploadError, Uploaded, Uploader};

/// Validates and stores one `actix-multipart` field at `key` (see [`Uploader::accept`]; the
/// field's file name from its `Content-Disposition` is the one checked against the content).
/// The field is read as the store takes it, through a small bounded channel: when the upload
/// is refused (type, size), the rest of the field is not read.
///
/// # Errors
///
/// As [`Uploader::accept`]; a field that cannot be read is [`Error::Body`].
pub async fn accept_field(
    uploader: &Uploader,
    mut field: Field,
    key: &ObjectKey,
) -> Result<Uploaded, UploadError> {
    let file_name = field
        .content_disposition()
        .and_then(|cd| cd.get_filename())
        .map(str::to_owned);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, Error>>(4);
    let pump = async move {
        while let Some(item) = field.next().await {
            let item = item.map_err(|e| Error::Body(e.to_string()));
            let failed = item.is_err();
            // The receiver is gone when the upload ended early: stop reading.
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    };
    let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed();
    let ((), result) =
        futures_util::future::join(pump, uploader.accept(key, file_name.as_deref(), body)).await;
    result
}
