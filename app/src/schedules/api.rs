//! Server functions for a server's schedules: status of every schedule, the
//! server plan (coverage, globals, standby) and the list of globals backups.
//! ("Back up globals now" is `backups::api::start_backup`.)

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use model::policy::ServerPlan;
use serde::{Deserialize, Serialize};

use crate::backups::views::BackupList;

/// A server's schedules with the server's clock (so "next run in 5 min"
/// renders the same on the server and in the browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulesView {
    pub rows: Vec<model::schedule::ScheduleStatus>,
    pub now: DateTime<Utc>,
}

impl SchedulesView {
    /// True while a last run is queued or running.
    pub fn any_active(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.last_run.as_ref().is_some_and(|b| b.status.is_active()))
    }
}

/// One row per known database and one for globals, at the server's clock.
#[server(prefix = "/api", endpoint = "schedules/status")]
pub async fn schedule_status(server_id: i64) -> Result<SchedulesView, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    let now = chrono::Utc::now();
    let rows = engine()?
        .schedule_status(server_id, now)
        .await
        .map_err(engine_error)?;
    Ok(SchedulesView { rows, now })
}

/// The server plan and whether pgshelf.toml declares it (read-only then).
#[server(prefix = "/api", endpoint = "schedules/plan")]
pub async fn get_server_plan(server_id: i64) -> Result<(ServerPlan, bool), ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    engine()?.server_plan(server_id).await.map_err(engine_error)
}

/// Saves the server plan (validated by the engine).
// JSON: a plan holds tagged enums, which URL encoding cannot carry.
#[server(prefix = "/api", endpoint = "schedules/plan/save", input = Json)]
pub async fn save_server_plan(
    server_id: i64,
    plan: ServerPlan,
    /// The server's password, needed when the standby changes.
    standby_password: Option<String>,
) -> Result<(), ServerFnError> {
    crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .set_server_plan(
            server_id,
            &plan,
            standby_password.map(engine::secrets::Secret::new).as_ref(),
        )
        .await
        .map_err(engine_error)
}

/// A server's globals backups, newest first.
#[server(prefix = "/api", endpoint = "schedules/globals")]
pub async fn list_globals(server_id: i64, limit: i64) -> Result<BackupList, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use model::backup::Target;
    crate::backups::api::listing::list(server_id, Some(Target::Globals), limit).await
}

/// "Test-restore now": proves a database's newest good backup, or the
/// backup given (restored
/// into scratch, compared with its manifest, scratch dropped) and returns
/// the recorded test-restore, passed or failed.
#[server(prefix = "/api", endpoint = "proof/test-restore")]
pub async fn test_restore_now(
    server_id: i64,
    database: String,
    backup_id: Option<i64>,
) -> Result<model::proof::TestRestore, ServerFnError> {
    let caller = crate::edge::require(model::user::Role::Operator)?;
    use crate::edge::{engine, engine_error};
    use engine::proof::{TestRestoreTarget, TestRestoreTrigger};
    engine()?
        .test_restore(
            match backup_id {
                Some(id) => TestRestoreTarget::Backup(id),
                None => TestRestoreTarget::Database {
                    server_id,
                    database,
                },
            },
            None,
            TestRestoreTrigger::Manual,
            &caller.name,
        )
        .await
        .map_err(engine_error)
}
