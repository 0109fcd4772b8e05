//! Object storage for Rust web services: one streaming [`ObjectStore`] contract — put (content
//! type, metadata, SHA-256 computed on the way, size limit, expected checksum), get (whole or a
//! byte range), head, delete, list by prefix with pagination, copy — over memory
//! ([`MemoryStore`]), local disk ([`LocalStore`], atomic writes) and S3 (`s3::S3Store`, feature
//! `s3`), with keys
//! ([`ObjectKey`]) that cannot escape their store's root; presigned URLs — S3's own (SigV4), and
//! HMAC-signed ones with an expiry for the other backends ([`presign::UrlSigner`]).
//!
//! ```
//! use mortar_storage::{MemoryStore, ObjectKey, ObjectStore, PutOptions, body_from_bytes, collect};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = MemoryStore::new();
//! let key = ObjectKey::new("docs/hello.txt").unwrap();
//! let meta = store
//!     .put(&key, body_from_bytes("hello"), PutOptions::content_type("text/plain"))
//!     .await
//!     .unwrap();
//! assert_eq!(meta.size, 5);
//! let got = store.get(&key, None).await.unwrap();
//! assert_eq!(collect(got.body).await.unwrap(), "hello");
//! # }
//! ```

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "clamav")]
pub mod clamav;
mod combinators;
pub mod download;
mod error;
#[cfg(feature = "images")]
pub mod images;
mod key;
mod local;
mod memory;
pub mod presign;
mod store;
pub mod upload;

#[cfg(feature = "s3")]
pub mod s3;

pub use combinators::{Mirror, ReadThrough};
pub use error::Error;
pub use key::{MAX_KEY_BYTES, ObjectKey};
pub use local::LocalStore;
pub use memory::MemoryStore;
pub use store::{
    ByteRange, ByteStream, GetResult, ListPage, ObjectMeta, ObjectStore, PutOptions,
    body_from_bytes, body_stream, collect,
};
