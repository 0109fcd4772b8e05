//! Serving objects over HTTP: whole, ranged (206 / 416), conditional (304), HEAD, and the
//! `Content-Disposition`, on memory and local disk.
#![allow(
    clippy::too_many_lines,
    reason = "each test walks one scenario top to bottom"
)]

use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt as _;
use mortar_storage::download::{Disposition, Download};
use mortar_storage::{
    LocalStore, MemoryStore, ObjectKey, ObjectStore, PutOptions, body_from_bytes,
};

async fn body(res: http::Response<mortar_storage::download::DownloadBody>) -> Vec<u8> {
    res.into_body().collect().await.unwrap().to_bytes().to_vec()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
        .collect()
}

async fn serves(store: impl ObjectStore) {
    let key = ObjectKey::new("media/clip.mp4").unwrap();
    let content: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    store
        .put(
            &key,
            body_from_bytes(content.clone()),
            PutOptions::content_type("video/mp4"),
        )
        .await
        .unwrap();
    let download = Download::new(store).disposition(Disposition::Inline(None));
    let get = Method::GET;

    let res = download
        .respond(&get, &HeaderMap::new(), &key)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "video/mp4");
    assert_eq!(h["content-length"], "10000");
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline; filename=\"clip.mp4\"")
    );
    let etag = h["etag"].to_str().unwrap().to_owned();
    let modified = h["last-modified"].to_str().unwrap().to_owned();
    assert_eq!(body(res).await, content);

    // Seeking: a single range.
    let res = download
        .respond(&get, &headers(&[("range", "bytes=1000-1999")]), &key)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], "bytes 1000-1999/10000");
    assert_eq!(res.headers()["content-length"], "1000");
    assert_eq!(body(res).await, content[1000..2000]);
    let res = download
        .respond(&get, &headers(&[("range", "bytes=-10")]), &key)
        .await
        .unwrap();
    assert_eq!(body(res).await, content[9990..]);
    let res = download
        .respond(&get, &headers(&[("range", "bytes=20000-")]), &key)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(res.headers()["content-range"], "bytes */10000");
    // A stale If-Range: the whole object.
    let res = download
        .respond(
            &get,
            &headers(&[("range", "bytes=0-9"), ("if-range", "\"stale\"")]),
            &key,
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = download
        .respond(
            &get,
            &headers(&[("range", "bytes=0-9"), ("if-range", etag.as_str())]),
            &key,
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);

    // Conditional requests.
    let res = download
        .respond(&get, &headers(&[("if-none-match", etag.as_str())]), &key)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert!(body(res).await.is_empty());
    let res = download
        .respond(&get, &headers(&[("if-none-match", "\"other\", *")]), &key)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = download
        .respond(
            &get,
            &headers(&[("if-modified-since", modified.as_str())]),
            &key,
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    let res = download
        .respond(
            &get,
            &headers(&[("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT")]),
            &key,
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // HEAD: the headers, no body.
    let res = download
        .respond(&Method::HEAD, &HeaderMap::new(), &key)
        .await
        .unwrap();
    assert_eq!(res.headers()["content-length"], "10000");
    assert!(body(res).await.is_empty());

    let missing = ObjectKey::new("media/none").unwrap();
    assert!(matches!(
        download.respond(&get, &HeaderMap::new(), &missing).await,
        Err(mortar_storage::Error::NotFound(_))
    ));
}

#[tokio::test]
async fn from_memory() {
    serves(MemoryStore::new()).await;
}

#[tokio::test]
async fn from_local_disk() {
    let dir = std::env::temp_dir().join(format!("mortar-storage-dl-{}", uuid::Uuid::now_v7()));
    serves(LocalStore::new(&dir).await.unwrap()).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// From S3: the handler's head answers the conditions, and the body is read without a second
/// head (`S3Store::get_headed`).
#[cfg(feature = "s3")]
#[tokio::test]
async fn from_s3() {
    let Some(t) = mortar_testkit::s3().await else {
        return;
    };
    serves(mortar_storage::s3::S3Store::new(t.bucket()).prefix("download/")).await;
}

/// Presigned URLs of the memory and local backends, served by `SignedUrls`: valid ones work,
/// tampered and expired ones get 403, uploads keep their pinned content type and size limit.
#[tokio::test]
async fn hmac_presigned_urls_through_the_handler() {
    use std::sync::Arc;
    use std::time::Duration;

    use mortar_storage::presign::{Presigned, SignedUrls, UrlSigner};

    let store = Arc::new(MemoryStore::new());
    let signer = UrlSigner::new(b"0123456789abcdef0123456789abcdef").unwrap();
    let urls = SignedUrls::new(signer.clone(), store.clone(), "/files").max_upload(1024);
    let key = ObjectKey::new("docs/a b.txt").unwrap();
    store
        .put(
            &key,
            body_from_bytes("secret report"),
            PutOptions::content_type("text/plain"),
        )
        .await
        .unwrap();
    let request = |method: &str, uri: &str, content_type: Option<&str>, body: Vec<u8>| {
        let mut req = http::Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap()
    };
    let status = |r: Result<mortar_storage::presign::SignedResponse, mortar_core::Problem>| match r
    {
        Ok(res) => res.status(),
        Err(p) => p.status(),
    };

    let url = signer.url(
        "http://app.test/files",
        Presigned::Get,
        &key,
        Duration::from_mins(1),
        None,
    );
    let path = url.strip_prefix("http://app.test").unwrap();
    let res = urls
        .handle(request("GET", path, None, vec![]))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body(res).await, b"secret report");
    assert_eq!(
        status(
            urls.handle(request("GET", &path.replace("a%20b", "c"), None, vec![]))
                .await
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            urls.handle(request(
                "GET",
                &path.replace("signature=", "signature=0"),
                None,
                vec![]
            ))
            .await
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            urls.handle(request("GET", "/files/docs/a%20b.txt", None, vec![]))
                .await
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(urls.handle(request("PUT", path, None, b"x".to_vec())).await),
        StatusCode::FORBIDDEN,
        "a GET URL does not upload"
    );

    let short = signer.url("/files", Presigned::Get, &key, Duration::ZERO, None);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        status(urls.handle(request("GET", &short, None, vec![])).await),
        StatusCode::FORBIDDEN,
        "expired"
    );

    let up = ObjectKey::new("uploads/avatar.png").unwrap();
    let put = signer.url(
        "/files",
        Presigned::Put,
        &up,
        Duration::from_mins(1),
        Some("image/png"),
    );
    assert_eq!(
        status(
            urls.handle(request(
                "PUT",
                &put,
                Some("text/html"),
                b"<script>".to_vec()
            ))
            .await
        ),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            urls.handle(request("PUT", &put, Some("image/png"), vec![0; 2048]))
                .await
        ),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        status(
            urls.handle(request("PUT", &put, Some("image/png"), b"png".to_vec()))
                .await
        ),
        StatusCode::NO_CONTENT
    );
    assert_eq!(store.head(&up).await.unwrap().content_type, "image/png");
}
