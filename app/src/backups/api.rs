//! Server functions for backups: list, start ("Back up now", databases and
//! globals), cancel, delete.

use leptos::prelude::*;
use model::backup::BackupKind;

use super::views::{BackupList, BackupView};

/// Most backups a list returns.
pub const MAX_LIST: i64 = 500;

/// A server's backups, newest first; only `database`'s when given. Running
/// ones carry live byte counters, database backups their nearest globals.
#[server(prefix = "/api", endpoint = "backups/list")]
pub async fn list_backups(
    server_id: i64,
    database: Option<String>,
    limit: Option<i64>,
) -> Result<BackupList, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use model::backup::Target;
    listing::list(
        server_id,
        database.map(Target::Database),
        limit.unwrap_or(50),
    )
    .await
}

/// Queues a run (a database's `pg_dump`, or the server's globals) and
/// returns it (status `queued`) at once; refused (409) while a run started
/// by hand of the same target is queued or running.
#[server(prefix = "/api", endpoint = "backups/start")]
pub async fn start_backup(
    server_id: i64,
    kind: BackupKind,
    database: Option<String>,
) -> Result<BackupView, ServerFnError> {
    crate::edge::require(model::user::Role::Operator)?;
    use crate::edge::{engine, engine_error};
    use model::backup::Target;
    let target = match kind {
        BackupKind::Database => Target::Database(database.unwrap_or_default()),
        BackupKind::Globals => Target::Globals,
    };
    let backup = engine()?
        .run_now(server_id, &target, "dashboard")
        .await
        .map_err(engine_error)?;
    Ok(BackupView {
        backup,
        live: None,
        globals: None,
    })
}

/// One backup as recorded (its status, to follow a run "Back up now" queued).
#[server(prefix = "/api", endpoint = "backups/get")]
pub async fn get_backup(id: i64) -> Result<model::backup::Backup, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    engine()?.backup(id).await.map_err(engine_error)
}

/// Cancels a queued or running backup (operator and up): a queued one ends
/// at once, a running one has its programs stopped and its partial artifact
/// removed; either is recorded `cancelled` with the caller's name. Returns
/// the row as it ended.
#[server(prefix = "/api", endpoint = "backups/cancel")]
pub async fn cancel_backup(id: i64) -> Result<BackupView, ServerFnError> {
    let caller = crate::edge::require(model::user::Role::Operator)?;
    use crate::edge::{engine, engine_error};
    let backup = engine()?
        .cancel_backup(id, &caller.name)
        .await
        .map_err(engine_error)?;
    Ok(BackupView {
        backup,
        live: None,
        globals: None,
    })
}

/// Deletes a finished backup from storage and from the catalog.
#[server(prefix = "/api", endpoint = "backups/delete")]
pub async fn delete_backup(id: i64) -> Result<(), ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{engine, engine_error};
    engine()?.delete_backup(id).await.map_err(engine_error)
}

/// Server side only: a list of backups as the tables show them.
#[cfg(feature = "ssr")]
pub mod listing {
    use leptos::prelude::*;
    use model::backup::{nearest_globals, Target};

    use super::super::views::{BackupList, BackupView, GlobalsRef, LiveBytes};
    use super::MAX_LIST;
    use crate::edge::{engine, engine_error};

    /// The server's backups of `target` (all when `None`), newest first, with
    /// live counters and, for database backups, the nearest globals backup.
    pub async fn list(
        server_id: i64,
        target: Option<Target>,
        limit: i64,
    ) -> Result<BackupList, ServerFnError> {
        let engine = engine()?;
        let filter = engine::catalog::BackupFilter {
            server_id: Some(server_id),
            target: target.clone(),
            limit: Some(limit.clamp(1, MAX_LIST)),
        };
        let rows = engine.backups(&filter).await.map_err(engine_error)?;
        let globals =
            if target != Some(Target::Globals) && rows.iter().any(|b| !b.target.is_globals()) {
                engine
                    .backups(&engine::catalog::BackupFilter {
                        server_id: Some(server_id),
                        target: Some(Target::Globals),
                        limit: Some(MAX_LIST),
                    })
                    .await
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
        let backups = rows
            .into_iter()
            .map(|backup| {
                let live = if backup.status.is_active() {
                    engine
                        .progress(backup.id)
                        .map(|(raw, stored)| LiveBytes { raw, stored })
                } else {
                    None
                };
                let globals = match backup.target {
                    Target::Globals => None,
                    Target::Database(_) => {
                        nearest_globals(&globals, backup.taken_at()).map(|g| GlobalsRef {
                            id: g.id,
                            at: g.taken_at(),
                        })
                    }
                };
                BackupView {
                    backup,
                    live,
                    globals,
                }
            })
            .collect();
        Ok(BackupList {
            backups,
            listed_at: chrono::Utc::now(),
        })
    }
}
