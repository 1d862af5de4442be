//! Server functions for a database's history.

use leptos::prelude::*;
use model::history::DatabaseHistory;

/// A database's history over `range` (`7d`, `30d`, `1y` or `all`; anything
/// else reads as 30 days): its good backups' sizes (downsampled), its
/// largest tables' growth, its failed runs.
#[server(prefix = "/api", endpoint = "backups/history")]
pub async fn read_history(
    server_id: i64,
    database: String,
    range: String,
) -> Result<DatabaseHistory, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    use model::history::HistoryRange;
    engine()?
        .database_history(
            server_id,
            &database,
            HistoryRange::from_query(Some(&range)),
            chrono::Utc::now(),
        )
        .await
        .map_err(engine_error)
}
