//! A worker process for the reliability tests: `MORTAR_JOBS_DB=postgres://… cargo run -p
//! mortar-jobs --example jobs_worker --features postgres` (or `mysql`, `sqlite`; or
//! `redis://…` with `--features redis` and the key prefix in `MORTAR_JOBS_PREFIX`). Runs `hang`
//! jobs, whose first attempt never ends, with a 1-second lease, until it is killed.

use std::time::Duration;

use mortar_jobs::{Job, JobContext, JobError, Jobs, Worker};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Hang;

impl Job for Hang {
    const NAME: &'static str = "hang";
    type State = ();
    async fn run(self, ctx: JobContext<()>) -> Result<(), JobError> {
        if ctx.attempt() == 1 {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("MORTAR_JOBS_DB").expect("MORTAR_JOBS_DB");
    let jobs = connect(&url).await;
    let worker = Worker::builder(&jobs, ())
        .register::<Hang>()
        .lease(Duration::from_secs(1))
        .poll_interval(Duration::from_millis(50))
        .build();
    let _running = worker.start();
    std::future::pending::<()>().await;
}

async fn connect(url: &str) -> Jobs {
    #[cfg(feature = "redis")]
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        let prefix = std::env::var("MORTAR_JOBS_PREFIX").unwrap_or_else(|_| "mortar:jobs:".into());
        let backend = mortar_jobs::redis::RedisBackend::from_url(url)
            .expect("MORTAR_JOBS_DB")
            .prefix(&prefix);
        return Jobs::new(backend);
    }
    #[cfg(feature = "sql")]
    {
        let db = sea_orm::Database::connect(url).await.expect("connect");
        return Jobs::new(mortar_jobs::sql::SqlBackend::new(db));
    }
    #[allow(unreachable_code)]
    {
        panic!(
            "MORTAR_JOBS_DB={url:?}: build with the feature of this backend (postgres, mysql, sqlite or redis)"
        )
    }
}
