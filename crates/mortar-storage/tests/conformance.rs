//! One conformance suite for every `ObjectStore` backend.

use bytes::Bytes;
use futures_util::StreamExt as _;
use mortar_storage::{
    ByteRange, ByteStream, Error, LocalStore, MemoryStore, ObjectKey, ObjectStore, PutOptions,
    body_from_bytes, collect,
};
use sha2::{Digest as _, Sha256};

fn key(k: &str) -> ObjectKey {
    ObjectKey::new(k).unwrap()
}

/// A body of `chunks` chunks of 64 KiB, then an error when `fail` is set.
fn chunked(chunks: usize, fail: bool) -> ByteStream {
    let items = (0..chunks)
        .map(|i| Ok(Bytes::from(vec![u8::try_from(i % 251).unwrap(); 64 * 1024])))
        .chain(fail.then(|| Err(Error::Body("client went away".into()))));
    futures_util::stream::iter(items.collect::<Vec<_>>()).boxed()
}

#[allow(clippy::too_many_lines, reason = "one contract, read top to bottom")]
async fn conformance(store: impl ObjectStore) {
    let a = key("docs/a.txt");
    assert!(matches!(store.head(&a).await, Err(Error::NotFound(_))));
    assert!(matches!(store.get(&a, None).await, Err(Error::NotFound(_))));
    assert!(!store.delete(&a).await.unwrap());

    // Put with type and metadata; SHA-256 and size computed on the way.
    let meta = store
        .put(
            &a,
            body_from_bytes("hello world"),
            PutOptions::content_type("text/plain").meta("owner", "ann"),
        )
        .await
        .unwrap();
    assert_eq!(meta.size, 11);
    assert_eq!(meta.content_type, "text/plain");
    assert_eq!(
        meta.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(b"hello world")).as_str())
    );
    assert_eq!(meta.metadata.get("owner").map(String::as_str), Some("ann"));
    let head = store.head(&a).await.unwrap();
    assert_eq!(
        (head.size, head.etag.clone(), head.content_type.clone()),
        (11, meta.etag.clone(), meta.content_type.clone())
    );
    assert_eq!(head.metadata, meta.metadata);

    // Whole and ranged reads.
    let got = store.get(&a, None).await.unwrap();
    assert_eq!(got.range, (0, 11));
    assert_eq!(collect(got.body).await.unwrap(), "hello world");
    for (range, want) in [
        (ByteRange::Inclusive(0, 4), "hello"),
        (ByteRange::Inclusive(6, 100), "world"),
        (ByteRange::From(6), "world"),
        (ByteRange::Suffix(3), "rld"),
    ] {
        let got = store.get(&a, Some(range)).await.unwrap();
        assert_eq!(collect(got.body).await.unwrap(), want, "{range:?}");
    }
    assert!(matches!(
        store.get(&a, Some(ByteRange::From(11))).await,
        Err(Error::RangeNotSatisfiable { size: 11 })
    ));

    // A large body streams; replacing changes the etag.
    let big = store
        .put(
            &a,
            chunked(40, false),
            PutOptions::content_type("video/mp4"),
        )
        .await
        .unwrap();
    assert_eq!(big.size, 40 * 64 * 1024);
    assert_ne!(big.etag, meta.etag);
    // (Without a type, SeaweedFS sniffs one where the others say application/octet-stream.)
    assert_eq!(big.content_type, "video/mp4");
    let tail = store.get(&a, Some(ByteRange::Suffix(10))).await.unwrap();
    assert_eq!(
        collect(tail.body).await.unwrap(),
        Bytes::from(vec![39u8; 10])
    );

    // Refused bodies store nothing and leave the previous object alone.
    let limited = PutOptions {
        max_size: Some(100_000),
        ..PutOptions::default()
    };
    assert!(matches!(
        store
            .put(&key("docs/too-big"), chunked(3, false), limited)
            .await,
        Err(Error::TooLarge { limit: 100_000 })
    ));
    assert!(matches!(
        store.head(&key("docs/too-big")).await,
        Err(Error::NotFound(_))
    ));
    let wrong = PutOptions {
        expected_sha256: Some([0; 32]),
        ..PutOptions::default()
    };
    assert!(matches!(
        store.put(&a, body_from_bytes("tampered"), wrong).await,
        Err(Error::ChecksumMismatch { .. })
    ));
    assert!(
        store
            .put(&a, chunked(2, true), PutOptions::default())
            .await
            .is_err()
    );
    assert_eq!(store.head(&a).await.unwrap().etag, big.etag, "unchanged");
    let right = PutOptions {
        expected_sha256: Some(Sha256::digest(b"exact").into()),
        ..PutOptions::default()
    };
    store
        .put(&key("docs/exact"), body_from_bytes("exact"), right)
        .await
        .unwrap();
    assert!(
        store
            .put(
                &key("docs/bad-meta"),
                body_from_bytes("x"),
                PutOptions::default().meta("Bad Name", "x")
            )
            .await
            .is_err()
    );

    // Listing by prefix, paginated in key order.
    for i in 0..5 {
        store
            .put(
                &key(&format!("list/item-{i}")),
                body_from_bytes(format!("{i}")),
                PutOptions::default(),
            )
            .await
            .unwrap();
    }
    store
        .put(
            &key("listing-other"),
            body_from_bytes("x"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let first = store.list("list/", None, 2).await.unwrap();
    let names: Vec<&str> = first.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(names, ["list/item-0", "list/item-1"]);
    let second = store.list("list/", first.next.as_deref(), 2).await.unwrap();
    assert_eq!(second.objects[0].key.as_str(), "list/item-2");
    let third = store
        .list("list/", second.next.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(third.objects.len(), 1);
    assert!(third.next.is_none());
    assert_eq!(
        store
            .list("nothing/", None, 10)
            .await
            .unwrap()
            .objects
            .len(),
        0
    );

    // Copy, delete.
    let copied = store
        .copy(&key("docs/exact"), &key("copies/exact"))
        .await
        .unwrap();
    assert_eq!(copied.size, 5);
    assert_eq!(
        collect(store.get(&key("copies/exact"), None).await.unwrap().body)
            .await
            .unwrap(),
        "exact"
    );
    assert!(matches!(
        store.copy(&key("nope"), &key("x")).await,
        Err(Error::NotFound(_))
    ));
    assert!(store.delete(&a).await.unwrap());
    assert!(matches!(store.head(&a).await, Err(Error::NotFound(_))));
}

#[tokio::test]
async fn memory() {
    conformance(MemoryStore::new()).await;
}

#[tokio::test]
async fn mirror_and_read_through_cache() {
    use mortar_storage::{Mirror, ReadThrough};
    conformance(Mirror::new(MemoryStore::new(), MemoryStore::new())).await;
    let dir = std::env::temp_dir().join(format!("mortar-storage-cache-{}", uuid::Uuid::now_v7()));
    conformance(ReadThrough::new(
        MemoryStore::new(),
        LocalStore::new(&dir).await.unwrap(),
    ))
    .await;
    std::fs::remove_dir_all(&dir).unwrap();

    // The mirror writes both, and reads the old store for what the new one lacks.
    let (new, old) = (MemoryStore::new(), MemoryStore::new());
    let legacy = key("legacy/only-in-old.txt");
    old.put(&legacy, body_from_bytes("old"), PutOptions::default())
        .await
        .unwrap();
    let mirror = Mirror::new(new.clone(), old.clone());
    assert_eq!(
        collect(mirror.get(&legacy, None).await.unwrap().body)
            .await
            .unwrap(),
        "old"
    );
    mirror
        .put(
            &key("fresh.txt"),
            body_from_bytes("both"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    for store in [&new, &old] {
        assert_eq!(
            collect(store.get(&key("fresh.txt"), None).await.unwrap().body)
                .await
                .unwrap(),
            "both"
        );
    }
    mirror.copy(&legacy, &key("moved.txt")).await.unwrap();
    assert!(
        new.head(&key("moved.txt")).await.is_ok(),
        "brought over to the new store"
    );

    // The cache serves what it fetched even when the origin is slow to change behind it, and a
    // write through it evicts.
    let (origin, cache) = (MemoryStore::new(), MemoryStore::new());
    let through = ReadThrough::new(origin.clone(), cache.clone());
    let k = key("hot.txt");
    origin
        .put(&k, body_from_bytes("v1"), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(
        collect(
            through
                .get(&k, Some(ByteRange::Inclusive(0, 0)))
                .await
                .unwrap()
                .body
        )
        .await
        .unwrap(),
        "v"
    );
    assert!(cache.head(&k).await.is_ok(), "cached whole");
    origin
        .put(&k, body_from_bytes("v2"), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(
        collect(through.get(&k, None).await.unwrap().body)
            .await
            .unwrap(),
        "v1",
        "served from the cache"
    );
    through
        .put(&k, body_from_bytes("v3"), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(
        collect(through.get(&k, None).await.unwrap().body)
            .await
            .unwrap(),
        "v3"
    );
    let small = ReadThrough::new(origin.clone(), MemoryStore::new()).max_cached(1);
    assert_eq!(
        collect(small.get(&k, None).await.unwrap().body)
            .await
            .unwrap(),
        "v3"
    );
}

#[tokio::test]
async fn local_disk() {
    let dir = std::env::temp_dir().join(format!("mortar-storage-{}", uuid::Uuid::now_v7()));
    let store = LocalStore::new(&dir).await.unwrap();
    conformance(store).await;
    // Nothing left behind in the temporary directory by the refused uploads.
    assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn local_disk_fsync_and_keys_stay_inside_the_root() {
    let dir = std::env::temp_dir().join(format!("mortar-storage-{}", uuid::Uuid::now_v7()));
    let store = LocalStore::new(&dir).await.unwrap();
    let options = PutOptions {
        fsync: true,
        ..PutOptions::default()
    };
    store
        .put(
            &key("deep/ly/nested/file.bin"),
            body_from_bytes("x"),
            options,
        )
        .await
        .unwrap();
    assert!(dir.join("objects/deep/ly/nested/file.bin").is_file());
    for bad in [
        "../escape",
        "/abs",
        "a/../../b",
        "a\\..\\b",
        "a//b",
        "a/./b",
        "con\u{7}trol",
    ] {
        assert!(
            matches!(ObjectKey::new(bad), Err(Error::InvalidKey { .. })),
            "{bad:?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(feature = "s3")]
#[tokio::test]
async fn s3() {
    let Some(t) = mortar_testkit::s3().await else {
        return;
    };
    conformance(mortar_storage::s3::S3Store::new(t.bucket()).prefix("conformance/")).await;
}

/// S3's presigned URLs, fetched with a plain HTTP client: valid before expiry, refused (403)
/// when tampered or expired; an upload URL pins its content type.
#[cfg(feature = "s3")]
#[tokio::test]
async fn s3_presigned_urls() {
    use std::time::Duration;
    let Some(t) = mortar_testkit::s3().await else {
        return;
    };
    let store = mortar_storage::s3::S3Store::new(t.bucket());
    let k = key("shared/report.txt");
    store
        .put(
            &k,
            body_from_bytes("quarterly"),
            PutOptions::content_type("text/plain"),
        )
        .await
        .unwrap();
    let http = reqwest::Client::new();

    let url = store.presign_get(&k, Duration::from_mins(1)).await.unwrap();
    assert!(!url.contains(t.secret_key()), "no secret in the URL");
    let res = http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "quarterly");
    let tampered = url.replace("shared/report.txt", "shared/other.txt");
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);
    let pos = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut bad = url.clone();
    let flipped = if &url[pos..=pos] == "0" { "1" } else { "0" };
    bad.replace_range(pos..=pos, flipped);
    assert_eq!(http.get(&bad).send().await.unwrap().status(), 403);

    let short = store.presign_get(&k, Duration::from_secs(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(
        http.get(&short).send().await.unwrap().status(),
        403,
        "expired"
    );

    let up = key("uploads/avatar.png");
    let put_url = store
        .presign_put(&up, Duration::from_mins(1), Some("image/png"))
        .await
        .unwrap();
    let res = http
        .put(&put_url)
        .header("content-type", "image/png")
        .body("png bytes")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(store.head(&up).await.unwrap().content_type, "image/png");
    let res = http
        .put(&put_url)
        .header("content-type", "text/html")
        .body("<script>")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "the content type is pinned");
}

/// A multipart upload (past rust-s3's 8 MiB part size) whose body fails, or whose checksum does
/// not match, is aborted before it completes: the object in place stays.
#[cfg(feature = "s3")]
#[tokio::test]
async fn s3_multipart_refused_bodies_leave_the_object_in_place() {
    let Some(t) = mortar_testkit::s3().await else {
        return;
    };
    let store = mortar_storage::s3::S3Store::new(t.bucket());
    let k = key("big/video.mp4");
    let first = store
        .put(&k, chunked(200, false), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(first.size, 200 * 64 * 1024);
    assert!(
        store
            .put(&k, chunked(200, true), PutOptions::default())
            .await
            .is_err()
    );
    let wrong = PutOptions {
        expected_sha256: Some([1; 32]),
        ..PutOptions::default()
    };
    assert!(matches!(
        store.put(&k, chunked(200, false), wrong).await,
        Err(Error::ChecksumMismatch { .. })
    ));
    let now = store.head(&k).await.unwrap();
    assert_eq!((now.size, now.etag), (first.size, first.etag));
}

/// A loopback HTTP proxy for plain-HTTP requests, as a client behind a corporate proxy uses:
/// forwards each connection to `upstream` and records the head of its request (request line and
/// headers). It adds `Connection: close` to that head, so the server closes the connection after
/// answering and every request the client makes arrives on a connection of its own — and is
/// recorded. Answers the proxy URL and the recorded heads.
#[cfg(feature = "s3")]
async fn recording_proxy(
    upstream: String,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 8192];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match client.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                    return;
                };
                let text = String::from_utf8_lossy(&head[..end]).into_owned();
                log.lock().unwrap().push(text);
                let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let mut forwarded = head[..end].to_vec();
                forwarded.extend_from_slice(b"\r\nConnection: close");
                forwarded.extend_from_slice(&head[end..]);
                if server.write_all(&forwarded).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    (url, seen)
}

/// Virtual-host addressing (`{bucket}.{domain}`, AWS's default): the same conformance suite and
/// presigned URLs, against SeaweedFS started with `-s3.domainName`. The domain does not resolve,
/// so requests go through a loopback proxy, which shows they named the bucket in the host.
#[cfg(feature = "s3")]
#[tokio::test]
async fn s3_virtual_host_addressing() {
    use s3::creds::Credentials;
    use s3::{Bucket, Region};
    let Some(t) = mortar_testkit::s3().await else {
        return;
    };
    let Some(domain) = t.domain() else { return };
    let endpoint = reqwest::Url::parse(t.endpoint()).unwrap();
    let port = endpoint.port_or_known_default().unwrap();
    let upstream = format!("{}:{port}", endpoint.host_str().unwrap());
    let (proxy, seen) = recording_proxy(upstream).await;

    let region = Region::Custom {
        region: t.region().to_owned(),
        endpoint: format!("http://{domain}:{port}"),
    };
    let credentials =
        Credentials::new(Some(t.access_key()), Some(t.secret_key()), None, None, None).unwrap();
    let bucket = Bucket::new(&t.bucket_name(), region, credentials)
        .unwrap()
        .set_proxy(reqwest::Proxy::http(&proxy).unwrap())
        .unwrap();
    assert!(!bucket.is_path_style());
    let store = mortar_storage::s3::S3Store::new(Box::new(bucket)).prefix("vhost/");
    conformance(store.clone()).await;

    // Presigned URLs name the bucket in the host too, and work through the same proxy.
    let k = key("shared/notes.txt");
    store
        .put(&k, body_from_bytes("by host"), PutOptions::default())
        .await
        .unwrap();
    let url = store
        .presign_get(&k, std::time::Duration::from_mins(1))
        .await
        .unwrap();
    let host = format!("{}.{domain}:{port}", t.bucket_name());
    assert!(
        url.starts_with(&format!("http://{host}/vhost/shared/notes.txt?")),
        "{url}"
    );
    let http = reqwest::Client::builder()
        .proxy(reqwest::Proxy::http(&proxy).unwrap())
        .build()
        .unwrap();
    let res = http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "by host");

    // Every request (one per connection) carried the bucket in its host, none in its path:
    // dozens of them, the whole suite's.
    let seen = seen.lock().unwrap();
    assert!(seen.len() > 20, "{} requests seen", seen.len());
    for head in seen.iter() {
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains(&format!("\r\nhost: {host}")), "{head}");
        // The proxy's `Connection: close` is the only one, so no connection was reused.
        assert!(!lower.contains("\r\nconnection:"), "{head}");
        let target = head.split(' ').nth(1).unwrap_or_default();
        assert!(target.starts_with(&format!("http://{host}/")), "{head}");
        assert!(
            !target.contains(&format!("/{}/", t.bucket_name())),
            "{head}"
        );
    }
}
