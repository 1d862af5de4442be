//! Server functions for backups: list, start ("Back up now"), delete.

use leptos::prelude::*;

use super::views::{BackupList, BackupView};

/// Most backups a list returns.
pub const MAX_LIST: i64 = 500;

/// A server's backups, newest first; only `database`'s when given. Running
/// ones carry live byte counters.
#[server(prefix = "/api", endpoint = "backups/list")]
pub async fn list_backups(
    server_id: i64,
    database: Option<String>,
    limit: Option<i64>,
) -> Result<BackupList, ServerFnError> {
    use super::convert::{backup_list, engine, engine_error};
    let engine = engine()?;
    let filter = engine::catalog::BackupFilter {
        server_id: Some(server_id),
        database,
        limit: Some(limit.unwrap_or(50).clamp(1, MAX_LIST)),
    };
    let rows = engine.backups(&filter).await.map_err(engine_error)?;
    let mut list = backup_list(&engine, rows);
    super::policy_convert::attach_globals(&engine, server_id, &mut list).await;
    Ok(list)
}

/// Queues a backup of one database and returns it (status `queued`) at once.
#[server(prefix = "/api", endpoint = "backups/start")]
pub async fn start_backup(server_id: i64, database: String) -> Result<BackupView, ServerFnError> {
    use super::convert::{backup_view, engine, engine_error};
    let row = engine()?
        .enqueue_backup(server_id, &database, "dashboard")
        .await
        .map_err(engine_error)?;
    Ok(backup_view(row, None))
}

/// Deletes a finished backup from storage and from the catalog.
#[server(prefix = "/api", endpoint = "backups/delete")]
pub async fn delete_backup(id: i64) -> Result<(), ServerFnError> {
    use super::convert::{engine, engine_error};
    engine()?.delete_backup(id).await.map_err(engine_error)
}
