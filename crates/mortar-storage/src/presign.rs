//! [`UrlSigner`]: presigned URLs for the backends that have none of their own (memory, local
//! disk), as HMAC-SHA-256 signatures with an expiry, verified by the serving handler.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac as _};
use sha2::Sha256;

use crate::key::{ObjectKey, percent_encode};

/// What a presigned URL allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presigned {
    /// Download the object.
    Get,
    /// Upload the object (with the content type pinned in the signature, when given).
    Put,
}

impl Presigned {
    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
        }
    }
}

/// Why a presigned URL is refused (the handler answers 403 for each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PresignError {
    /// A parameter is missing or malformed.
    #[error("the URL is not a presigned URL")]
    Malformed,
    /// The signature does not match (tampered key, method, expiry or content type).
    #[error("the URL's signature does not match")]
    BadSignature,
    /// The URL has expired.
    #[error("the URL has expired")]
    Expired,
}

/// Signs and verifies presigned URLs with a server-side key (at least 32 bytes). The signature
/// covers the method, the key, the expiry and (for uploads) the content type; the URL carries
/// only `expires` and `signature` — never the key or any other secret.
///
/// ```
/// use std::time::Duration;
/// use mortar_storage::{ObjectKey, presign::{Presigned, UrlSigner}};
///
/// let signer = UrlSigner::new(b"a server-side key of at least 32 bytes!!").unwrap();
/// let key = ObjectKey::new("avatars/ann.webp").unwrap();
/// let url = signer.url("https://app.example/files", Presigned::Get, &key, Duration::from_secs(300), None);
/// let query = url.split_once('?').unwrap().1;
/// assert!(signer.verify(Presigned::Get, &key, query, None).is_ok());
/// assert!(signer.verify(Presigned::Put, &key, query, None).is_err());
/// ```
#[derive(Clone)]
pub struct UrlSigner {
    /// The keyed MAC, cloned for each signature.
    mac: Hmac<Sha256>,
}

impl fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UrlSigner { key: [REDACTED] }")
    }
}

/// The longest validity a presigned URL may have (7 days, as S3's).
pub const MAX_EXPIRY: Duration = Duration::from_hours(7 * 24);

impl UrlSigner {
    /// A fresh MAC under the signer's key.
    fn mac(&self) -> Hmac<Sha256> {
        self.mac.clone()
    }

    /// A signer with this key; `None` when it is shorter than 32 bytes.
    pub fn new(key: &[u8]) -> Option<Self> {
        if key.len() < 32 {
            return None;
        }
        Some(Self {
            mac: <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?,
        })
    }

    fn signature(
        &self,
        what: Presigned,
        key: &ObjectKey,
        expires: u64,
        content_type: Option<&str>,
    ) -> String {
        let mut mac = self.mac();
        // Length-prefixed fields: no two different requests sign the same bytes.
        for field in [
            what.as_str(),
            key.as_str(),
            &expires.to_string(),
            content_type.unwrap_or(""),
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// The query string (`expires=…&signature=…`) of a URL valid for `ttl` (at most
    /// [`MAX_EXPIRY`]).
    pub fn query(
        &self,
        what: Presigned,
        key: &ObjectKey,
        ttl: Duration,
        content_type: Option<&str>,
    ) -> String {
        let expires = SystemTime::now()
            .checked_add(ttl.min(MAX_EXPIRY))
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        format!(
            "expires={expires}&signature={}",
            self.signature(what, key, expires, content_type)
        )
    }

    /// A full URL: `{base}/{key}?expires=…&signature=…` (the key's segments percent-encoded).
    pub fn url(
        &self,
        base: &str,
        what: Presigned,
        key: &ObjectKey,
        ttl: Duration,
        content_type: Option<&str>,
    ) -> String {
        let path: Vec<String> = key
            .as_str()
            .split('/')
            .map(|segment| percent_encode(segment, b"-._~"))
            .collect();
        format!(
            "{}/{}?{}",
            base.trim_end_matches('/'),
            path.join("/"),
            self.query(what, key, ttl, content_type)
        )
    }

    /// Checks a request's query string for `what` on `key` (with the request's content type,
    /// for uploads).
    ///
    /// # Errors
    ///
    /// [`PresignError`]: malformed, bad signature (checked in constant time) or expired.
    pub fn verify(
        &self,
        what: Presigned,
        key: &ObjectKey,
        query: &str,
        content_type: Option<&str>,
    ) -> Result<(), PresignError> {
        let mut expires = None;
        let mut signature = None;
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse::<u64>().ok(),
                Some(("signature", v)) => signature = hex::decode(v).ok(),
                _ => {}
            }
        }
        let (Some(expires), Some(signature)) = (expires, signature) else {
            return Err(PresignError::Malformed);
        };
        let expected = hex::decode(self.signature(what, key, expires, content_type))
            .map_err(|_| PresignError::Malformed)?;
        let mut mac = self.mac();
        mac.update(&expected);
        let mut other = self.mac();
        other.update(&signature);
        // Compare MACs of both (constant time for equal lengths, and lengths leak nothing).
        if mac.verify_slice(&other.finalize().into_bytes()).is_err() {
            return Err(PresignError::BadSignature);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(u64::MAX, |d| d.as_secs());
        if now > expires {
            return Err(PresignError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner::new(&[7; 32]).unwrap()
    }

    #[test]
    fn tampering_and_expiry_are_refused() {
        let s = signer();
        let key = ObjectKey::new("a/b c.txt").unwrap();
        let url = s.url(
            "http://x/files/",
            Presigned::Put,
            &key,
            Duration::from_mins(1),
            Some("image/png"),
        );
        assert!(
            url.starts_with("http://x/files/a/b%20c.txt?expires="),
            "{url}"
        );
        let query = url.split_once('?').unwrap().1;
        assert_eq!(
            s.verify(Presigned::Put, &key, query, Some("image/png")),
            Ok(())
        );
        assert_eq!(
            s.verify(Presigned::Put, &key, query, Some("text/html")),
            Err(PresignError::BadSignature)
        );
        assert_eq!(
            s.verify(Presigned::Get, &key, query, None),
            Err(PresignError::BadSignature)
        );
        let other = ObjectKey::new("a/other.txt").unwrap();
        assert_eq!(
            s.verify(Presigned::Put, &other, query, Some("image/png")),
            Err(PresignError::BadSignature)
        );
        let later = query.replace("expires=", "expires=9");
        assert_eq!(
            s.verify(Presigned::Put, &key, &later, Some("image/png")),
            Err(PresignError::BadSignature)
        );
        assert_eq!(
            s.verify(Presigned::Put, &key, "expires=1", None),
            Err(PresignError::Malformed)
        );
        // Expired: signed for a time in the past.
        let past = format!(
            "expires=1&signature={}",
            s.signature(Presigned::Get, &key, 1, None)
        );
        assert_eq!(
            s.verify(Presigned::Get, &key, &past, None),
            Err(PresignError::Expired)
        );
        assert!(UrlSigner::new(&[1; 31]).is_none());
        assert_eq!(format!("{s:?}"), "UrlSigner { key: [REDACTED] }");
    }
}

/// Serves presigned URLs made by a [`UrlSigner`] for a store without URLs of its own: `GET`
/// (and `HEAD`) downloads through [`crate::download::Download`] (ranges, conditional requests),
/// `PUT` uploads (streamed, up to a size limit, with the content type the URL pinned). A
/// missing, tampered or expired signature answers 403; the answer never says which.
#[derive(Clone, Debug)]
pub struct SignedUrls {
    signer: UrlSigner,
    store: std::sync::Arc<dyn crate::ObjectStore>,
    download: crate::download::Download,
    base_path: String,
    max_upload: u64,
}

/// What [`SignedUrls::handle`] answers.
pub type SignedResponse = http::Response<crate::download::DownloadBody>;

impl SignedUrls {
    /// Serves URLs under `base_path` (the path part of the base given to [`UrlSigner::url`],
    /// e.g. `/files`) for `store`; uploads up to 100 MiB until [`SignedUrls::max_upload`].
    pub fn new(
        signer: UrlSigner,
        store: std::sync::Arc<dyn crate::ObjectStore>,
        base_path: &str,
    ) -> Self {
        Self {
            signer,
            download: crate::download::Download::shared(store.clone()),
            store,
            base_path: base_path.trim_end_matches('/').to_owned(),
            max_upload: 100 << 20,
        }
    }

    /// The largest upload accepted.
    #[must_use]
    pub fn max_upload(mut self, bytes: u64) -> Self {
        self.max_upload = bytes;
        self
    }

    /// How downloads are served (disposition, cache control).
    #[must_use]
    pub fn download(mut self, download: crate::download::Download) -> Self {
        self.download = download;
        self
    }

    /// Answers one request.
    ///
    /// # Errors
    ///
    /// A problem document: 403 (signature), 404, 405, 413, 400, 500.
    #[allow(
        clippy::result_large_err,
        reason = "the problem document is the HTTP answer itself, built only on refusal"
    )]
    pub async fn handle<B>(
        &self,
        req: http::Request<B>,
    ) -> Result<SignedResponse, mortar_core::Problem>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: fmt::Display,
    {
        use http::Method;
        let forbidden = || mortar_core::Problem::forbidden().with_detail("the URL is not valid");
        let path = req.uri().path();
        let raw_key = path
            .strip_prefix(&self.base_path)
            .and_then(|p| p.strip_prefix('/'))
            .ok_or_else(mortar_core::Problem::not_found)?;
        let key = percent_decode(raw_key)
            .and_then(|k| ObjectKey::new(k).ok())
            .ok_or_else(forbidden)?;
        let query = req.uri().query().unwrap_or("");
        let method = req.method().clone();
        match method {
            Method::GET | Method::HEAD => {
                self.signer
                    .verify(Presigned::Get, &key, query, None)
                    .map_err(|_| forbidden())?;
                Ok(self.download.respond(&method, req.headers(), &key).await?)
            }
            Method::PUT => {
                let content_type = req
                    .headers()
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                // Signed with the content type, or without one.
                let signed = self
                    .signer
                    .verify(Presigned::Put, &key, query, content_type.as_deref())
                    .is_ok()
                    || self
                        .signer
                        .verify(Presigned::Put, &key, query, None)
                        .is_ok();
                if !signed {
                    return Err(forbidden());
                }
                let options = crate::PutOptions {
                    content_type,
                    max_size: Some(self.max_upload),
                    ..crate::PutOptions::default()
                };
                self.store
                    .put(&key, crate::body_stream(req.into_body()), options)
                    .await?;
                let mut res = http::Response::new(crate::download::DownloadBody::empty());
                *res.status_mut() = http::StatusCode::NO_CONTENT;
                Ok(res)
            }
            _ => Err(mortar_core::Problem::method_not_allowed()),
        }
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
