//! mortar-storage: a 1 GiB object uploaded through the upload pipeline (`Uploader` sniffing,
//! size limit, SHA-256, into `S3Store`) and downloaded through the download handler
//! (`Download::respond`, body read to the end), beside rust-s3's `put_object_stream` /
//! `get_object_stream` used directly, against the same S3 server, with the same bytes, in the
//! same run. rust-s3's upload runs twice: as it comes (it sizes the parts in flight from the
//! free memory, up to 10) and with as many parts in flight as `S3Store` sends by default (3).
//!
//! Two figures for each:
//! - peak memory above the process baseline: each transfer runs once in a fresh child process of
//!   this benchmark, which resets the kernel's resident-set high-water mark
//!   (`/proc/self/clear_refs`) once the runtime and client are up, runs the transfer and reports
//!   `VmHWM` minus the resident set it started from (lines starting `MEMORY`);
//! - throughput (criterion, 10 samples of one whole object each).
//!
//! Needs an S3 server (`MORTAR_TEST_S3_ENDPOINT`, `MORTAR_TEST_S3_ACCESS_KEY`,
//! `MORTAR_TEST_S3_SECRET_KEY`; `.ci/run` starts SeaweedFS on 127.0.0.1:8333).
//! `MORTAR_BENCH_S3_BYTES` changes the object size (default 1 GiB). The uploads write ~35 GiB in
//! all; they delete what they wrote, but SeaweedFS keeps deleted data on disk until a vacuum:
//! `MORTAR_BENCH_S3_VACUUM` (e.g. `http://127.0.0.1:9333/vol/vacuum?garbageThreshold=0.01`, the
//! master's endpoint) is fetched after each upload, outside the timing, to reclaim it.
//! Run: `cargo bench -p mortar-benches --bench storage`

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    reason = "a benchmark: sizes far below the limits"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use futures_util::{StreamExt as _, TryStreamExt as _};
use http::{HeaderMap, Method};
use http_body_util::BodyExt as _;
use mortar_storage::download::Download;
use mortar_storage::s3::{DEFAULT_PARTS_IN_FLIGHT, S3Store};
use mortar_storage::upload::{Allowed, Uploader};
use mortar_storage::{ByteStream, ObjectKey};
use s3::Bucket;

/// Size of each chunk the client sends (what an HTTP body delivers, roughly).
const CHUNK: usize = 1 << 20;

/// The object size: `MORTAR_BENCH_S3_BYTES` or 1 GiB, a whole number of chunks.
fn object_size() -> u64 {
    let bytes = std::env::var("MORTAR_BENCH_S3_BYTES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1 << 30);
    bytes.div_ceil(CHUNK as u64).max(1) * CHUNK as u64
}

/// The body: an MP4 header (so the pipeline's sniffing accepts it as `video/mp4`), then
/// incompressible bytes, as 1 MiB chunks sharing one buffer — the source itself allocates
/// nothing per chunk.
fn body(size: u64) -> ByteStream {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = Vec::with_capacity(CHUNK);
    while noise.len() < CHUNK {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        noise.extend_from_slice(&state.to_le_bytes());
    }
    let mut first = noise.clone();
    first[..32].copy_from_slice(b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41");
    let (first, rest) = (Bytes::from(first), Bytes::from(noise));
    let chunks = size / CHUNK as u64;
    futures_util::stream::iter(
        (0..chunks).map(move |i| Ok(if i == 0 { first.clone() } else { rest.clone() })),
    )
    .boxed()
}

/// The same body as an `AsyncRead`, which rust-s3's streaming upload takes.
fn reader(size: u64) -> impl tokio::io::AsyncRead + Unpin {
    tokio_util::io::StreamReader::new(body(size).map_err(std::io::Error::other))
}

struct Setup {
    bucket: Box<Bucket>,
    uploader: Uploader,
    download: Download,
    size: u64,
    /// The test bucket, removed when it goes (the parent process's only).
    _server: Option<mortar_testkit::TestS3>,
}

/// The bucket the children share with the parent (`MORTAR_BENCH_S3_BUCKET`).
const BUCKET_VAR: &str = "MORTAR_BENCH_S3_BUCKET";

/// The parent's setup: a fresh test bucket. A child's: the parent's bucket, named by
/// [`BUCKET_VAR`], on the server the `MORTAR_TEST_S3_*` variables name.
async fn setup() -> Option<Setup> {
    let (bucket, server) = if let Ok(name) = std::env::var(BUCKET_VAR) {
        let var = |v: &str| std::env::var(v).unwrap_or_else(|_| panic!("{v} is not set"));
        let region = s3::Region::Custom {
            region: std::env::var("MORTAR_TEST_S3_REGION").unwrap_or_else(|_| "us-east-1".into()),
            endpoint: var("MORTAR_TEST_S3_ENDPOINT"),
        };
        let credentials = s3::creds::Credentials::new(
            Some(&var("MORTAR_TEST_S3_ACCESS_KEY")),
            Some(&var("MORTAR_TEST_S3_SECRET_KEY")),
            None,
            None,
            None,
        )
        .unwrap();
        let bucket = Bucket::new(&name, region, credentials)
            .unwrap()
            .with_path_style();
        (bucket, None)
    } else {
        let server = mortar_testkit::s3().await?;
        (server.bucket(), Some(server))
    };
    let size = object_size();
    let store = S3Store::new(bucket.clone());
    let uploader =
        Uploader::new(store.clone(), vec![Allowed::new("video/mp4", &["mp4"])]).max_size(size);
    let download = Download::new(store.clone());
    Some(Setup {
        bucket,
        uploader,
        download,
        size,
        _server: server,
    })
}

fn key(k: &str) -> ObjectKey {
    ObjectKey::new(k).unwrap()
}

const DOWNLOAD_KEY: &str = "bench/download.mp4";

impl Setup {
    async fn pipeline_upload(&self) {
        let done = self
            .uploader
            .accept(
                &key("bench/pipeline.mp4"),
                Some("clip.mp4"),
                body(self.size),
            )
            .await
            .unwrap();
        assert_eq!(done.meta.size, self.size);
    }

    /// rust-s3 as it comes: it sizes the parts in flight from the free memory (2 to 10).
    async fn rust_s3_upload(&self) {
        let mut reader = reader(self.size);
        let res = self
            .bucket
            .put_object_stream(&mut reader, "bench/rust-s3.mp4")
            .await
            .unwrap();
        assert_eq!(res.uploaded_bytes() as u64, self.size);
    }

    /// rust-s3 with as many parts in flight as `S3Store` sends by default.
    async fn rust_s3_upload_same_parts(&self) {
        let mut reader = reader(self.size);
        let res = self
            .bucket
            .put_object_stream_builder("bench/rust-s3-parts.mp4")
            .with_content_type("application/octet-stream")
            .with_max_concurrent_chunks(DEFAULT_PARTS_IN_FLIGHT)
            .execute_stream(&mut reader)
            .await
            .unwrap();
        assert_eq!(res.uploaded_bytes() as u64, self.size);
    }

    /// The object both downloads read, uploaded once.
    async fn prepare_download(&self) {
        let mut reader = reader(self.size);
        self.bucket
            .put_object_stream(&mut reader, DOWNLOAD_KEY)
            .await
            .unwrap();
    }

    async fn pipeline_download(&self) {
        let res = self
            .download
            .respond(&Method::GET, &HeaderMap::new(), &key(DOWNLOAD_KEY))
            .await
            .unwrap();
        let mut body = res.into_body();
        let mut read = 0u64;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                read += data.len() as u64;
                black_box(&data);
            }
        }
        assert_eq!(read, self.size);
    }

    async fn rust_s3_download(&self) {
        let mut stream = self.bucket.get_object_stream(DOWNLOAD_KEY).await.unwrap();
        let mut read = 0u64;
        while let Some(data) = stream.bytes.next().await {
            let data = data.unwrap();
            read += data.len() as u64;
            black_box(&data);
        }
        assert_eq!(read, self.size);
    }

    /// Removes the objects (SeaweedFS keeps each test bucket's volumes until they are gone).
    async fn clean(&self) {
        self.clean_uploads().await;
        let _ = self.bucket.delete_object(DOWNLOAD_KEY).await;
    }

    /// Removes what the uploads wrote (SeaweedFS reclaims the space of deleted objects; of
    /// objects overwritten 1 GiB at a time it would hold the old chunks until a vacuum).
    async fn clean_uploads(&self) {
        for k in [
            "bench/pipeline.mp4",
            "bench/rust-s3.mp4",
            "bench/rust-s3-parts.mp4",
        ] {
            let _ = self.bucket.delete_object(k).await;
        }
        if let Ok(url) = std::env::var("MORTAR_BENCH_S3_VACUUM") {
            let _ = reqwest::get(&url).await;
        }
    }

    async fn run(&self, which: &str) {
        match which {
            "upload/pipeline" => self.pipeline_upload().await,
            "upload/rust-s3" => self.rust_s3_upload().await,
            "upload/rust-s3-same-parts" => self.rust_s3_upload_same_parts().await,
            "download/pipeline" => self.pipeline_download().await,
            "download/rust-s3" => self.rust_s3_download().await,
            other => panic!("unknown transfer {other}"),
        }
    }
}

const TRANSFERS: [&str; 5] = [
    "upload/pipeline",
    "upload/rust-s3",
    "upload/rust-s3-same-parts",
    "download/pipeline",
    "download/rust-s3",
];

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Runs in the child process: one transfer, then its peak resident set above the baseline.
fn measure_memory(which: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let setup = setup().await.expect("the parent's bucket");
        // The baseline: runtime, TLS and HTTP client up (one request made), the source's
        // buffers allocated once.
        let _ = setup.bucket.head_object(DOWNLOAD_KEY).await;
        drop(body(CHUNK as u64));
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        let baseline = status_kib("VmRSS:");
        let start = Instant::now();
        setup.run(which).await;
        let elapsed = start.elapsed();
        let peak = status_kib("VmHWM:");
        println!(
            "MEMORY {which}: baseline {:.1} MiB, peak {:.1} MiB, above baseline {:.1} MiB ({:.0} MiB/s)",
            baseline as f64 / 1024.0,
            peak as f64 / 1024.0,
            peak.saturating_sub(baseline) as f64 / 1024.0,
            setup.size as f64 / f64::from(1 << 20) / elapsed.as_secs_f64(),
        );
        setup.clean_uploads().await;
    });
}

/// Peak memory of each transfer, each in a fresh process (a process that ran the others, or
/// even uploaded the object it downloads, would reuse their freed memory and show less). The
/// children share the parent's bucket, where the object to download already is.
fn memory(setup: &Setup) {
    // Only the transfers a filter given on the command line selects (`-- download`).
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    for which in TRANSFERS
        .iter()
        .filter(|w| format!("storage/{w}").contains(&filter))
    {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .env("MORTAR_BENCH_STORAGE_MEMORY", which)
            .env(BUCKET_VAR, setup.bucket.name())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{which}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

fn throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(setup) = rt.block_on(setup()) else {
        eprintln!("storage benchmark skipped: no S3 server configured");
        return;
    };
    rt.block_on(setup.prepare_download());
    memory(&setup);
    // Downloads first, while the server is quiet: after the uploads it is still reclaiming the
    // space of the objects they deleted.
    for direction in ["download", "upload"] {
        let mut group = c.benchmark_group(format!("storage/{direction}"));
        group
            .throughput(Throughput::Bytes(setup.size))
            // One whole object per sample.
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(1))
            .measurement_time(Duration::from_secs(30));
        for which in TRANSFERS.iter().filter(|t| t.starts_with(direction)) {
            let name = match *which {
                "upload/pipeline" | "download/pipeline" => "mortar-pipeline",
                "upload/rust-s3" => "rust-s3-put_object_stream",
                "upload/rust-s3-same-parts" => "rust-s3-put_object_stream-3-parts",
                _ => "rust-s3-get_object_stream",
            };
            group.bench_function(name, |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let setup = &setup;
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let start = Instant::now();
                            setup.run(which).await;
                            total += start.elapsed();
                            setup.clean_uploads().await;
                        }
                        total
                    }
                });
            });
        }
        group.finish();
    }
    rt.block_on(setup.clean());
}

criterion_group!(benches, throughput);

fn main() {
    if let Ok(which) = std::env::var("MORTAR_BENCH_STORAGE_MEMORY") {
        measure_memory(&which);
        return;
    }
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        // `cargo test --benches` / listing: nothing heavy.
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
