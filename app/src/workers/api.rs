//! Server function for the status bar: background workers and the destination.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Every worker, and where backups go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkersView {
    pub workers: Vec<model::worker::WorkerStatus>,
    /// The destination backups are written to, e.g. `file:///srv/pgshelf/backups`.
    pub destination: String,
}

impl WorkersView {
    /// True while any worker runs or has queued work (poll faster).
    pub fn busy(&self) -> bool {
        self.workers.iter().any(model::worker::WorkerStatus::busy)
    }
}

/// Every background worker's state, and where backups are written.
#[server(prefix = "/api", endpoint = "workers/status")]
pub async fn worker_status() -> Result<WorkersView, ServerFnError> {
    use crate::edge::engine;
    let engine = engine()?;
    Ok(WorkersView {
        workers: engine.workers(),
        destination: engine.destination().to_owned(),
    })
}
