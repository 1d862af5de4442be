//! Server function for the status bar: background workers and the destination.

use leptos::prelude::*;

use super::views::WorkersView;

/// Every background worker's state, and where backups are written.
#[server(prefix = "/api", endpoint = "workers/status")]
pub async fn worker_status() -> Result<WorkersView, ServerFnError> {
    use super::convert::{engine, workers_view};
    Ok(workers_view(&engine()?))
}
