//! The upload pipeline: spoofed types and extensions refused, oversize bodies cut off without
//! reading the rest, the scanner hook, and direct uploads promoted out of quarantine.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt as _;
use mortar_storage::upload::{Allowed, Refusal, Scanner, UploadError, Uploader, Verdict};
use mortar_storage::{
    ByteStream, Error, MemoryStore, ObjectKey, ObjectStore, PutOptions, body_from_bytes, collect,
};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
/// The start of a Windows executable (MZ header).
const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0\xb8\0\0\0\0\0\0\0@\0\0\0";

/// A `multipart/form-data` body (boundary `XyZ`) with one file field.
#[cfg(any(feature = "axum", feature = "actix"))]
fn multipart_body(name: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    body
}

fn key(k: &str) -> ObjectKey {
    ObjectKey::new(k).unwrap()
}

fn uploader(store: &Arc<MemoryStore>) -> Uploader {
    let mut allowed = Allowed::images();
    allowed.push(Allowed::new("application/pdf", &["pdf"]));
    Uploader::shared(store.clone(), allowed).max_size(100_000)
}

fn refusal(result: Result<mortar_storage::upload::Uploaded, UploadError>) -> Refusal {
    match result {
        Err(UploadError::Refused(r)) => r,
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn types_are_sniffed_and_names_must_match() {
    let store = Arc::new(MemoryStore::new());
    let up = uploader(&store);
    let done = up
        .accept(&key("a/ok.png"), Some("../../me.PNG"), body_from_bytes(PNG))
        .await
        .unwrap();
    assert_eq!(done.mime, "image/png");
    assert_eq!(done.file_name.as_deref(), Some("me.PNG"));
    assert_eq!(done.meta.content_type, "image/png");
    assert!(done.meta.sha256.is_some());
    up.accept(&key("a/doc.pdf"), Some("cv.pdf"), body_from_bytes(PDF))
        .await
        .unwrap();

    // A PNG named .pdf, an executable named .jpg, unknown bytes.
    assert!(matches!(
        refusal(
            up.accept(&key("a/x"), Some("cv.pdf"), body_from_bytes(PNG))
                .await
        ),
        Refusal::ExtensionMismatch(_)
    ));
    assert!(matches!(
        refusal(
            up.accept(&key("a/y"), Some("cat.jpg"), body_from_bytes(EXE))
                .await
        ),
        Refusal::TypeNotAllowed(_)
    ));
    assert_eq!(
        refusal(
            up.accept(&key("a/z"), None, body_from_bytes("just text"))
                .await
        ),
        Refusal::TypeNotAllowed("unrecognized".into())
    );
    for k in ["a/x", "a/y", "a/z"] {
        assert!(store.head(&key(k)).await.is_err(), "{k} stored");
    }
    let problem: mortar_core::Problem = up
        .accept(&key("a/z"), None, body_from_bytes("text"))
        .await
        .unwrap_err()
        .into();
    assert_eq!(problem.status(), 422);
}

#[tokio::test]
async fn oversize_bodies_stop_being_read() {
    let store = Arc::new(MemoryStore::new());
    let up = uploader(&store);
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    // A PNG header, then a thousand 64 KiB chunks (64 MB) — far past the 100 kB limit.
    let body: ByteStream = futures_util::stream::once(async { Ok(Bytes::from_static(PNG)) })
        .chain(futures_util::stream::iter(0..1000).map(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Bytes::from(vec![0u8; 64 * 1024]))
        }))
        .boxed();
    let err = up
        .accept(&key("big.png"), Some("big.png"), body)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UploadError::Storage(Error::TooLarge { limit: 100_000 })
        ),
        "{err:?}"
    );
    assert!(
        pulled.load(Ordering::SeqCst) <= 3,
        "read {} chunks",
        pulled.load(Ordering::SeqCst)
    );
    assert!(store.head(&key("big.png")).await.is_err());
}

#[derive(Debug)]
struct Eicar;

#[async_trait]
impl Scanner for Eicar {
    async fn scan(&self, store: &dyn ObjectStore, key: &ObjectKey) -> Result<Verdict, Error> {
        let content = collect(store.get(key, None).await?.body).await?;
        Ok(if content.windows(5).any(|w| w == b"EICAR") {
            Verdict::Infected("EICAR-Test-File".into())
        } else {
            Verdict::Clean
        })
    }
}

#[tokio::test]
async fn the_scanner_decides_before_promotion() {
    let store = Arc::new(MemoryStore::new());
    let up = uploader(&store).scanner(Eicar);
    up.accept(
        &key("docs/clean.pdf"),
        Some("clean.pdf"),
        body_from_bytes(PDF),
    )
    .await
    .unwrap();
    assert!(store.head(&key("docs/clean.pdf")).await.is_ok());
    let infected = [PDF, b"EICAR"].concat();
    assert_eq!(
        refusal(
            up.accept(
                &key("docs/bad.pdf"),
                Some("bad.pdf"),
                body_from_bytes(infected)
            )
            .await
        ),
        Refusal::Infected("EICAR-Test-File".into())
    );
    assert!(store.head(&key("docs/bad.pdf")).await.is_err());
    assert!(
        store
            .list("quarantine/", None, 10)
            .await
            .unwrap()
            .objects
            .is_empty(),
        "quarantine emptied"
    );
}

#[tokio::test]
async fn direct_uploads_are_promoted_out_of_quarantine() {
    let store = Arc::new(MemoryStore::new());
    let up = uploader(&store);
    // As a presigned PUT would have stored them.
    store
        .put(
            &key("quarantine/u1/avatar.png"),
            body_from_bytes(PNG),
            PutOptions::default(),
        )
        .await
        .unwrap();
    store
        .put(
            &key("quarantine/u2/avatar.png"),
            body_from_bytes(EXE),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let done = up
        .promote(
            &key("quarantine/u1/avatar.png"),
            &key("avatars/ann.png"),
            Some("avatar.png"),
        )
        .await
        .unwrap();
    assert_eq!(done.mime, "image/png");
    assert_eq!(
        collect(store.get(&key("avatars/ann.png"), None).await.unwrap().body)
            .await
            .unwrap(),
        PNG
    );
    assert!(matches!(
        refusal(
            up.promote(
                &key("quarantine/u2/avatar.png"),
                &key("avatars/bob.png"),
                Some("avatar.png")
            )
            .await
        ),
        Refusal::TypeNotAllowed(_)
    ));
    assert!(store.head(&key("avatars/bob.png")).await.is_err());
    assert!(
        store
            .list("quarantine/", None, 10)
            .await
            .unwrap()
            .objects
            .is_empty()
    );
    assert!(matches!(
        up.promote(&key("quarantine/none"), &key("x"), None).await,
        Err(UploadError::Storage(Error::NotFound(_)))
    ));
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn axum_multipart_fields_go_through_the_pipeline() {
    use axum::Router;
    use axum::extract::{Multipart, State};
    use axum::routing::post;
    use tower::ServiceExt as _;

    async fn handler(
        State(up): State<Uploader>,
        mut form: Multipart,
    ) -> Result<String, mortar_core::Problem> {
        let field = form.next_field().await.unwrap().unwrap();
        let done =
            mortar_storage::axum::accept_field(&up, field, &ObjectKey::new("uploads/f").unwrap())
                .await?;
        Ok(done.mime)
    }
    let store = Arc::new(MemoryStore::new());
    let app = Router::new()
        .route("/upload", post(handler))
        .with_state(uploader(&store));
    let send = |name: &str, content: &[u8]| {
        let body = multipart_body(name, content);
        let req = http::Request::post("/upload")
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(axum::body::Body::from(body))
            .unwrap();
        app.clone().oneshot(req)
    };
    assert_eq!(send("me.png", PNG).await.unwrap().status(), 200);
    assert_eq!(send("me.pdf", PNG).await.unwrap().status(), 422);
    let big = [PNG, &vec![0u8; 500_000]].concat();
    assert_eq!(send("big.png", &big).await.unwrap().status(), 413);
}

/// The ClamAV scanner against a stand-in clamd on loopback speaking its `INSTREAM` protocol.
#[cfg(feature = "clamav")]
#[tokio::test]
async fn clamd_scans_the_stream() {
    use mortar_storage::clamav::ClamdScanner;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut command = [0u8; 10];
            conn.read_exact(&mut command).await.unwrap();
            assert_eq!(&command, b"zINSTREAM\0");
            let mut data = Vec::new();
            loop {
                let mut len = [0u8; 4];
                conn.read_exact(&mut len).await.unwrap();
                let len = u32::from_be_bytes(len) as usize;
                if len == 0 {
                    break;
                }
                let mut chunk = vec![0u8; len];
                conn.read_exact(&mut chunk).await.unwrap();
                data.extend_from_slice(&chunk);
            }
            let reply: &[u8] = if data.windows(5).any(|w| w == b"EICAR") {
                b"stream: Eicar-Test-Signature FOUND\0"
            } else {
                b"stream: OK\0"
            };
            conn.write_all(reply).await.unwrap();
        }
    });
    let store = Arc::new(MemoryStore::new());
    let up = uploader(&store).scanner(ClamdScanner::new(address));
    up.accept(&key("docs/ok.pdf"), Some("ok.pdf"), body_from_bytes(PDF))
        .await
        .unwrap();
    let infected = [PDF, b"EICAR", &vec![b' '; 90_000]].concat();
    assert_eq!(
        refusal(
            up.accept(
                &key("docs/bad.pdf"),
                Some("bad.pdf"),
                body_from_bytes(infected)
            )
            .await
        ),
        Refusal::Infected("Eicar-Test-Signature".into())
    );
    assert!(store.head(&key("docs/bad.pdf")).await.is_err());
    // No clamd: the scan fails and the upload is refused, not let through.
    let down = uploader(&store).scanner(ClamdScanner::new("127.0.0.1:1"));
    assert!(
        down.accept(&key("docs/x.pdf"), Some("x.pdf"), body_from_bytes(PDF))
            .await
            .is_err()
    );
    assert!(store.head(&key("docs/x.pdf")).await.is_err());
}

#[cfg(feature = "actix")]
#[actix_web::test]
async fn actix_multipart_fields_go_through_the_pipeline() {
    use actix_web::{App, HttpResponse, test, web};

    async fn handler(
        up: web::Data<Uploader>,
        mut form: actix_multipart::Multipart,
    ) -> Result<HttpResponse, mortar_core::Problem> {
        let field = form.next().await.unwrap().unwrap();
        let done =
            mortar_storage::actix::accept_field(&up, field, &ObjectKey::new("uploads/f").unwrap())
                .await?;
        Ok(HttpResponse::Ok().body(done.mime))
    }
    let store = Arc::new(MemoryStore::new());
    let app = test::init_service(
        App::new()
            .app_data(web::Data::new(uploader(&store)))
            .route("/upload", web::post().to(handler)),
    )
    .await;
    let send = |name: &str, content: &[u8]| {
        let body = multipart_body(name, content);
        test::TestRequest::post()
            .uri("/upload")
            .insert_header(("content-type", "multipart/form-data; boundary=XyZ"))
            .set_payload(body)
            .to_request()
    };
    assert_eq!(
        test::call_service(&app, send("me.png", PNG))
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        test::call_service(&app, send("me.pdf", PNG))
            .await
            .status()
            .as_u16(),
        422
    );
    let big = [PNG, &vec![0u8; 500_000]].concat();
    assert_eq!(
        test::call_service(&app, send("big.png", &big))
            .await
            .status()
            .as_u16(),
        413
    );
}
