//! The backend contract, checked on every backend the enabled features bring.

mod common;

use std::sync::Arc;

use mortar_jobs::{MemoryBackend, SharedBackend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory() {
    common::suite(|| async { Arc::new(MemoryBackend::new()) as SharedBackend }).await;
}
