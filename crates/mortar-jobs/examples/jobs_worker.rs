//! A worker process for the reliability tests: `MORTAR_JOBS_DB=postgres://… cargo run -p
//! mortar-jobs --example jobs_worker --features postgres`. Runs `hang` jobs, whose first attempt
//! never ends, with a 1-second lease, until it is killed.

use std::time::Duration;

use mortar_jobs::sql::SqlBackend;
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
    let db = sea_orm::Database::connect(url.as_str())
        .await
        .expect("connect");
    let jobs = Jobs::new(SqlBackend::new(db));
    let worker = Worker::builder(&jobs, ())
        .register::<Hang>()
        .lease(Duration::from_secs(1))
        .poll_interval(Duration::from_millis(50))
        .build();
    let _running = worker.start();
    std::future::pending::<()>().await;
}
