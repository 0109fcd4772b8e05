//! [`Download`]: serving an object over HTTP — `Content-Type`, `ETag`, `Last-Modified`,
//! conditional requests (304), single byte ranges (206, 416) so audio and video seek, and a
//! safe `Content-Disposition` (RFC 6266 / 8187).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, RANGE,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body::{Frame, SizeHint};

use crate::error::Error;
use crate::key::{ObjectKey, percent_encode};
use crate::store::{ByteRange, ByteStream, ObjectStore};

/// How the browser is told to present the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Shown in the page (images, audio, video), with this file name when saved.
    Inline(Option<String>),
    /// Saved as a file of this name (the key's last segment when `None`).
    Attachment(Option<String>),
}

/// The body of a download: the object's stream (empty for `HEAD`, 304 and 416).
pub struct DownloadBody {
    stream: Option<ByteStream>,
    remaining: u64,
}

impl fmt::Debug for DownloadBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadBody")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl DownloadBody {
    pub(crate) fn empty() -> Self {
        Self {
            stream: None,
            remaining: 0,
        }
    }
}

impl http_body::Body for DownloadBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(None);
        };
        match stream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => {
                self.stream = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Serves objects of a store over HTTP.
///
/// ```
/// use mortar_storage::download::{Disposition, Download};
/// use mortar_storage::{MemoryStore, ObjectKey, ObjectStore, PutOptions, body_from_bytes};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryStore::new();
/// let key = ObjectKey::new("media/song.mp3").unwrap();
/// store.put(&key, body_from_bytes(vec![7u8; 1000]), PutOptions::content_type("audio/mpeg")).await.unwrap();
/// let download = Download::new(store).disposition(Disposition::Inline(None));
/// let mut headers = http::HeaderMap::new();
/// headers.insert("range", "bytes=100-199".parse().unwrap());
/// let res = download.respond(&http::Method::GET, &headers, &key).await.unwrap();
/// assert_eq!(res.status(), 206);
/// assert_eq!(res.headers()["content-range"], "bytes 100-199/1000");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Download {
    store: Arc<dyn ObjectStore>,
    disposition: Disposition,
    cache_control: Option<HeaderValue>,
}

impl Download {
    /// Serves objects of `store`, as attachments named after the key until told otherwise.
    pub fn new(store: impl ObjectStore) -> Self {
        Self::shared(Arc::new(store))
    }

    /// Serves objects of a shared store.
    pub fn shared(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            disposition: Disposition::Attachment(None),
            cache_control: None,
        }
    }

    /// How objects are presented.
    #[must_use]
    pub fn disposition(mut self, disposition: Disposition) -> Self {
        self.disposition = disposition;
        self
    }

    /// A `Cache-Control` for every answer (e.g. `private, max-age=300`).
    #[must_use]
    pub fn cache_control(mut self, value: HeaderValue) -> Self {
        self.cache_control = Some(value);
        self
    }

    /// Answers `GET` / `HEAD` of `key` with `headers` (the request's): 200, 206 for a single
    /// satisfiable `Range` (a stale `If-Range` gets the whole object), 304 when `If-None-Match`
    /// / `If-Modified-Since` hold, 416 for a range past the end.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] (answer 404), [`Error::Backend`].
    pub async fn respond(
        &self,
        method: &Method,
        headers: &HeaderMap,
        key: &ObjectKey,
    ) -> Result<Response<DownloadBody>, Error> {
        let meta = self.store.head(key).await?;
        let mut common = HeaderMap::new();
        if let Ok(etag) = HeaderValue::try_from(meta.etag.as_str()) {
            common.insert(ETAG, etag);
        }
        if let Ok(date) = HeaderValue::try_from(httpdate::fmt_http_date(meta.last_modified)) {
            common.insert(LAST_MODIFIED, date);
        }
        common.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Some(cc) = &self.cache_control {
            common.insert(http::header::CACHE_CONTROL, cc.clone());
        }

        if not_modified(headers, &meta.etag, meta.last_modified) {
            return Ok(build(
                StatusCode::NOT_MODIFIED,
                common,
                DownloadBody::empty(),
            ));
        }

        common.insert(
            CONTENT_TYPE,
            HeaderValue::try_from(meta.content_type.as_str())
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        common.insert(
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        common.insert(
            CONTENT_DISPOSITION,
            content_disposition(&self.disposition, key),
        );

        let range = requested_range(headers, &meta.etag, meta.last_modified);
        let (status, range) = match range.map(|r| r.resolve(meta.size)) {
            Some(Ok((offset, len))) => (StatusCode::PARTIAL_CONTENT, Some((offset, len))),
            Some(Err(_)) => {
                let mut headers = common;
                if let Ok(v) = HeaderValue::try_from(format!("bytes */{}", meta.size)) {
                    headers.insert(CONTENT_RANGE, v);
                }
                return Ok(build(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    headers,
                    DownloadBody::empty(),
                ));
            }
            None => (StatusCode::OK, None),
        };
        let (offset, len) = range.unwrap_or((0, meta.size));
        if let Some((offset, len)) = range
            && let Ok(v) =
                HeaderValue::try_from(format!("bytes {offset}-{}/{}", offset + len - 1, meta.size))
        {
            common.insert(CONTENT_RANGE, v);
        }
        common.insert(CONTENT_LENGTH, HeaderValue::from(len));
        if method == Method::HEAD {
            return Ok(build(status, common, DownloadBody::empty()));
        }
        let got = self
            .store
            .get_headed(
                &meta,
                range.map(|(o, l)| ByteRange::Inclusive(o, o + l - 1)),
            )
            .await?;
        debug_assert_eq!(got.range, (offset, len));
        Ok(build(
            status,
            common,
            DownloadBody {
                stream: Some(got.body),
                remaining: len,
            },
        ))
    }
}

fn build(status: StatusCode, headers: HeaderMap, body: DownloadBody) -> Response<DownloadBody> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// Whether the client's copy is current: `If-None-Match` (weak comparison, `*`), else
/// `If-Modified-Since` (to the second).
fn not_modified(headers: &HeaderMap, etag: &str, last_modified: SystemTime) -> bool {
    if let Some(tags) = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        let ours = etag.trim_start_matches("W/");
        return tags
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.trim_start_matches("W/") == ours);
    }
    headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .is_some_and(|since| truncate_to_secs(last_modified) <= since)
}

fn truncate_to_secs(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// The single byte range asked for, unless `If-Range` says the client's copy is stale (then
/// the whole object). Several ranges, other units or malformed values: the whole object (RFC
/// 9110 lets a server ignore `Range`).
fn requested_range(
    headers: &HeaderMap,
    etag: &str,
    last_modified: SystemTime,
) -> Option<ByteRange> {
    let spec = headers.get(RANGE)?.to_str().ok()?.trim();
    if let Some(if_range) = headers.get(IF_RANGE).and_then(|v| v.to_str().ok()) {
        let current = if if_range.starts_with('"') {
            // Strong comparison only.
            !etag.starts_with("W/") && if_range == etag
        } else {
            httpdate::parse_http_date(if_range).is_ok_and(|d| d == truncate_to_secs(last_modified))
        };
        if !current {
            return None;
        }
    }
    let ranges = spec.strip_prefix("bytes=")?;
    if ranges.contains(',') {
        return None;
    }
    let (first, last) = ranges.trim().split_once('-')?;
    match (first.trim(), last.trim()) {
        ("", n) => n.parse().ok().map(ByteRange::Suffix),
        (a, "") => a.parse().ok().map(ByteRange::From),
        (a, b) => Some(ByteRange::Inclusive(a.parse().ok()?, b.parse().ok()?)),
    }
}

/// `Content-Disposition` with an ASCII `filename` (anything unsafe replaced by `_`) and the
/// exact name as RFC 8187 `filename*`.
fn content_disposition(disposition: &Disposition, key: &ObjectKey) -> HeaderValue {
    let (kind, name) = match disposition {
        Disposition::Inline(name) => ("inline", name.as_deref()),
        Disposition::Attachment(name) => ("attachment", name.as_deref()),
    };
    let name = name.unwrap_or_else(|| key.file_name());
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // RFC 8187 attr-char.
    let encoded = percent_encode(name, b"!#$&+-.^_`|~");
    HeaderValue::try_from(format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_are_safe() {
        let key = ObjectKey::new("a/report.pdf").unwrap();
        let v = content_disposition(
            &Disposition::Attachment(Some("Bericht \"Q3\"; ä.pdf\r\nX: y".into())),
            &key,
        );
        let text = v.to_str().unwrap();
        assert!(text.starts_with("attachment; filename=\"Bericht _Q3__ _.pdf__X: y\"; filename*=UTF-8''Bericht%20%22Q3%22%3B%20%C3%A4.pdf%0D%0AX%3A%20y"), "{text}");
        let v = content_disposition(&Disposition::Inline(None), &key);
        assert_eq!(
            v.to_str().unwrap(),
            "inline; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
    }

    #[test]
    fn range_headers_parse() {
        let mut h = HeaderMap::new();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let cases = [
            ("bytes=0-99", Some(ByteRange::Inclusive(0, 99))),
            ("bytes=100-", Some(ByteRange::From(100))),
            ("bytes=-50", Some(ByteRange::Suffix(50))),
            ("bytes=0-1,5-6", None),
            ("items=0-1", None),
            ("bytes=x-1", None),
        ];
        for (spec, want) in cases {
            h.insert(RANGE, spec.parse().unwrap());
            assert_eq!(requested_range(&h, "\"e\"", t), want, "{spec}");
        }
        h.insert(RANGE, "bytes=0-9".parse().unwrap());
        h.insert(IF_RANGE, "\"other\"".parse().unwrap());
        assert_eq!(requested_range(&h, "\"e\"", t), None);
        h.insert(IF_RANGE, "\"e\"".parse().unwrap());
        assert_eq!(
            requested_range(&h, "\"e\"", t),
            Some(ByteRange::Inclusive(0, 9))
        );
    }
}
