//! Server functions for a server's schedules: status of every schedule, the
//! server plan (coverage, globals, standby), "Back up globals now" and the
//! list of globals backups.

use leptos::prelude::*;

use super::views::{BackupList, BackupView, SchedulesView, ServerPlanForm, ServerPlanView};

/// One row per known database and one for globals, at the server's clock.
#[server(prefix = "/api", endpoint = "schedules/status")]
pub async fn schedule_status(server_id: i64) -> Result<SchedulesView, ServerFnError> {
    use super::convert::{engine, engine_error};
    use super::views::ScheduleRowView;
    let now = chrono::Utc::now();
    let rows = engine()?
        .schedule_status(server_id, now)
        .await
        .map_err(engine_error)?;
    Ok(SchedulesView {
        rows: rows.into_iter().map(ScheduleRowView::from).collect(),
        now,
    })
}

/// The server plan and whether pgshelf.toml declares it.
#[server(prefix = "/api", endpoint = "schedules/plan")]
pub async fn get_server_plan(server_id: i64) -> Result<ServerPlanView, ServerFnError> {
    use super::convert::{engine, engine_error};
    use super::policy_convert::plan_form;
    let (plan, declared) = engine()?
        .server_plan(server_id)
        .await
        .map_err(engine_error)?;
    Ok(ServerPlanView {
        form: plan_form(&plan),
        declared,
    })
}

/// Saves the server plan (validated by the engine).
#[server(prefix = "/api", endpoint = "schedules/plan/save")]
pub async fn save_server_plan(server_id: i64, form: ServerPlanForm) -> Result<(), ServerFnError> {
    use super::convert::{engine, engine_error};
    use super::policy_convert::plan_from_form;
    let plan = plan_from_form(&form)?;
    engine()?
        .set_server_plan(server_id, &plan)
        .await
        .map_err(engine_error)
}

/// Queues a `pg_dumpall --globals-only` of the server and returns it at once.
#[server(prefix = "/api", endpoint = "schedules/globals-now")]
pub async fn start_globals(server_id: i64) -> Result<BackupView, ServerFnError> {
    use super::convert::{backup_view, engine, engine_error};
    let row = engine()?
        .enqueue_globals(server_id, "dashboard")
        .await
        .map_err(engine_error)?;
    Ok(backup_view(row, None))
}

/// A server's globals backups, newest first.
#[server(prefix = "/api", endpoint = "schedules/globals")]
pub async fn list_globals(server_id: i64, limit: i64) -> Result<BackupList, ServerFnError> {
    use super::convert::{backup_list, engine, engine_error};
    let engine = engine()?;
    let filter = engine::catalog::BackupFilter {
        server_id: Some(server_id),
        // Globals backups are recorded with an empty database name.
        database: Some(String::new()),
        limit: Some(limit.clamp(1, super::backups::MAX_LIST)),
    };
    let rows = engine.backups(&filter).await.map_err(engine_error)?;
    let rows = rows.into_iter().filter(|r| r.kind == "globals").collect();
    Ok(backup_list(&engine, rows))
}
