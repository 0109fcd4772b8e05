//! A bounded pool for CPU-heavy work (password hashing) off the async runtime.
//!
//! `tokio::task::spawn_blocking` alone would queue without limit under a login flood; here at
//! most `workers` jobs run at once and at most `queue` more wait, after which callers get
//! [`Error::Busy`](crate::Error::Busy) at once instead of a growing backlog.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use crate::error::Error;

#[derive(Debug)]
pub(crate) struct BlockingPool {
    permits: Arc<Semaphore>,
    /// Jobs admitted (running or waiting).
    admitted: AtomicUsize,
    limit: usize,
}

/// Releases an admission when dropped, also when the caller's future is cancelled.
struct Admission<'a>(&'a AtomicUsize);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl BlockingPool {
    pub(crate) fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        Self {
            permits: Arc::new(Semaphore::new(workers)),
            admitted: AtomicUsize::new(0),
            limit: workers + queue,
        }
    }

    /// Runs `job` on tokio's blocking threads once a worker slot is free.
    ///
    /// # Errors
    ///
    /// [`Error::Busy`] when `workers + queue` jobs are already admitted; [`Error::Internal`] when
    /// the job panicked.
    pub(crate) async fn run<R, F>(&self, job: F) -> Result<R, Error>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            metrics_busy();
            return Err(Error::Busy);
        }
        let _admission = Admission(&self.admitted);
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(Error::internal)
    }
}

fn metrics_busy() {
    tracing::warn!(
        target: "mortar::auth",
        "password hashing pool is saturated; answering busy"
    );
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overload_answers_busy_and_recovers() {
        let pool = Arc::new(BlockingPool::new(1, 1));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(std::sync::Mutex::new(release_rx));

        // One running, one queued.
        let mut running = Vec::new();
        for _ in 0..2 {
            let pool = pool.clone();
            let rx = release_rx.clone();
            running.push(tokio::spawn(async move {
                pool.run(move || {
                    rx.lock().unwrap().recv().unwrap();
                })
                .await
            }));
        }
        // Wait until both are admitted.
        while pool.admitted.load(Ordering::Acquire) < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(matches!(pool.run(|| ()).await, Err(Error::Busy)));

        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        for task in running {
            task.await.unwrap().unwrap();
        }
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        assert_eq!(pool.admitted.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_internal_error() {
        let pool = BlockingPool::new(1, 0);
        let result = pool.run(|| panic!("boom")).await;
        assert!(matches!(result, Err(Error::Internal(_))));
        assert_eq!(pool.run(|| 1).await.unwrap(), 1, "the slot was released");
    }
}
