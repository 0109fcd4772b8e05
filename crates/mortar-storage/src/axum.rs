//! axum integration (feature `axum`): [`accept_field`] runs a multipart field through the
//! [`Uploader`].

use axum::extract::multipart::Field;
use futures_util::StreamExt as _;

use crate::error::Error;
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
/// As [`Uploader::accept`]; a field that cannot be read is [`Error::Body`].
pub async fn accept_field(
    uploader: &Uploader,
    mut field: Field<'_>,
    key: &ObjectKey,
) -> Result<Uploaded, UploadError> {
    let file_name = field.file_name().map(str::to_owned);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, Error>>(4);
    let pump = async move {
        loop {
            let item = match field.chunk().await {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => return,
                Err(e) => Err(Error::Body(e.to_string())),
            };
            let failed = item.is_err();
            // The receiver is gone when the upload ended early: stop reading.
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    };
    let body = tokio_stream_from(rx);
    let ((), result) =
        futures_util::future::join(pump, uploader.accept(key, file_name.as_deref(), body)).await;
    result
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, Error>>,
) -> crate::ByteStream {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}
