//! Server functions for restores. Viewers read a backup's contents and the
//! scratch list; operators restore into scratch, test-restore, restore into
//! a new database and compare; only admins restore over an existing
//! database or put rows back into production.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use model::compare::{Comparison, PutBack, PutBackRecord};
use model::restore::{
    RebuildPlan, RebuildResult, RestoreJob, RestoreRequest, RestoreResult, ScratchDatabase,
    TableRestoreRequest,
};

use super::views::{BackupPage, ProofPanel};

/// `/backups/:id` in one round trip.
#[server(prefix = "/api", endpoint = "restores/backup")]
pub async fn get_backup_page(id: i64) -> Result<BackupPage, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    let engine = engine()?;
    let backup = engine.backup(id).await.map_err(engine_error)?;
    let server_id = backup.server_id.unwrap_or_default();
    let contents = match backup.target {
        model::backup::Target::Database(_) => {
            engine.archive_contents(id).await.map_err(|e| e.to_string())
        }
        model::backup::Target::Globals => {
            Err("a globals backup holds roles and grants, not tables".into())
        }
    };
    let files = engine.artifact_files(id).await.unwrap_or_default();
    let recipe = engine.restore_recipe(id).await.unwrap_or_default();
    let mut servers: Vec<(i64, String)> = engine
        .servers()
        .await
        .map_err(engine_error)?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    servers.sort_by_key(|(sid, _)| *sid != server_id);
    let server_name = servers
        .iter()
        .find(|(sid, _)| *sid == server_id)
        .map(|(_, n)| n.clone())
        .unwrap_or_default();
    let test_restores = engine
        .test_restores_of_backup(id)
        .await
        .map_err(engine_error)?;
    let copies = engine.backup_copies(id).await.map_err(|e| e.to_string());
    Ok(BackupPage {
        backup,
        server_name,
        contents,
        files,
        recipe,
        servers,
        test_restores,
        copies,
    })
}

/// A database's proof: its last passed test-restore, the latest ones, and
/// a flag when it was never proven or not within its interval.
#[server(prefix = "/api", endpoint = "restores/proof")]
pub async fn database_proof(server_id: i64, database: String) -> Result<ProofPanel, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    let engine = engine()?;
    let proof = engine
        .database_proof_now(server_id, &database)
        .await
        .map_err(engine_error)?;
    let recent = engine
        .test_restores(server_id, Some(&database), 5)
        .await
        .map_err(engine_error)?;
    Ok(ProofPanel { proof, recent })
}

/// Starts restoring tables into a new scratch database; returns the job to
/// poll with [`get_restore_job`]. `identity`: the age identity text of an
/// encrypted backup, used for this restore only and never kept.
#[server(prefix = "/api", endpoint = "restores/tables", input = Json)]
pub async fn start_table_restore(
    request: TableRestoreRequest,
    identity: Option<String>,
) -> Result<u64, ServerFnError> {
    let caller = crate::edge::require(model::user::Role::Operator)?;
    use crate::edge::{engine, engine_error};
    let identity = parse_identity(identity)?;
    engine()?
        .start_table_restore_with(request, &caller.name, identity)
        .await
        .map_err(engine_error)
}

/// The pasted identity, parsed (blank: none). Errors never echo it.
#[cfg(feature = "ssr")]
fn parse_identity(text: Option<String>) -> Result<Option<engine::crypt::Identity>, ServerFnError> {
    match text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => engine::crypt::Identity::parse(t)
            .map(Some)
            .map_err(|e| crate::edge::engine_error(e.into())),
    }
}

/// Where a restore job is: its step while it runs, then its result.
#[server(prefix = "/api", endpoint = "restores/job")]
pub async fn get_restore_job(id: u64) -> Result<RestoreJob, ServerFnError> {
    crate::edge::require(model::user::Role::Operator)?;
    use crate::edge::{engine, engine_error};
    engine()?.restore_job(id).map_err(engine_error)
}

/// Scratch databases pgshelf made and has not dropped, newest first.
#[server(prefix = "/api", endpoint = "scratch/list")]
pub async fn list_scratch() -> Result<Vec<ScratchDatabase>, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .scratch_databases(false)
        .await
        .map_err(engine_error)
}

/// Recorded restores (tables, test-restores, full restores, rebuild steps),
/// newest first.
#[server(prefix = "/api", endpoint = "restores/runs")]
pub async fn list_restore_runs() -> Result<Vec<model::restore::RestoreRun>, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    engine()?.restore_runs(50).await.map_err(engine_error)
}

/// Drops a scratch database (only ever one pgshelf made).
#[server(prefix = "/api", endpoint = "scratch/drop")]
pub async fn drop_scratch(name: String) -> Result<(), ServerFnError> {
    crate::edge::require(model::user::Role::Operator)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .drop_scratch(&name, None)
        .await
        .map(|_| ())
        .map_err(engine_error)
}

/// Restores a whole backup into a database: a new one (operators), or over
/// an existing one with `clean` and the typed name (admins only).
#[server(prefix = "/api", endpoint = "restores/full", input = Json)]
pub async fn full_restore(
    request: RestoreRequest,
    identity: Option<String>,
) -> Result<RestoreResult, ServerFnError> {
    let needed = if request.clean {
        model::user::Role::Admin
    } else {
        model::user::Role::Operator
    };
    let caller = crate::edge::require(needed)?;
    use crate::edge::{engine, engine_error};
    let identity = parse_identity(identity)?;
    engine()?
        .restore_with(&request, &caller.name, identity)
        .await
        .map_err(engine_error)
}

/// Compares a table restored into scratch with the live table.
#[server(prefix = "/api", endpoint = "compare/table")]
pub async fn compare_table(scratch: String, table: String) -> Result<Comparison, ServerFnError> {
    crate::edge::require(model::user::Role::Operator)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .compare(&scratch, &table)
        .await
        .map_err(engine_error)
}

/// Puts rows from scratch back into the live table, in one transaction,
/// after the table's name was typed to confirm (admins only; recorded).
#[server(prefix = "/api", endpoint = "compare/apply", input = Json)]
pub async fn apply_put_back(
    scratch: String,
    table: String,
    put_back: PutBack,
    confirm: String,
) -> Result<PutBackRecord, ServerFnError> {
    let caller = crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .apply_put_back(&scratch, &table, &put_back, &confirm, &caller.name)
        .await
        .map_err(engine_error)
}

/// What rebuilding a server from its backups would do (nothing runs).
#[server(prefix = "/api", endpoint = "restores/rebuild-plan", input = Json)]
pub async fn make_rebuild_plan(
    source_server_id: i64,
    target_server_id: i64,
    databases: Vec<String>,
) -> Result<RebuildPlan, ServerFnError> {
    crate::edge::require(model::user::Role::Operator)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .rebuild_plan(source_server_id, target_server_id, &databases)
        .await
        .map_err(engine_error)
}

/// Carries out a rebuild plan once the target server's name was typed to
/// confirm (admins only; every step recorded).
#[server(prefix = "/api", endpoint = "restores/rebuild", input = Json)]
pub async fn run_rebuild(
    plan: RebuildPlan,
    confirm: String,
) -> Result<RebuildResult, ServerFnError> {
    let caller = crate::edge::require(model::user::Role::Admin)?;
    use crate::edge::{engine, engine_error};
    engine()?
        .rebuild(&plan, &confirm, &caller.name)
        .await
        .map_err(engine_error)
}

/// What a backup's table of contents adds, drops or changes against the
/// previous good backup of the same database.
#[server(prefix = "/api", endpoint = "restores/schema-changes")]
pub async fn get_schema_changes(
    id: i64,
) -> Result<model::schema_diff::SchemaChanges, ServerFnError> {
    crate::edge::require(model::user::Role::Viewer)?;
    use crate::edge::{engine, engine_error};
    engine()?.schema_changes(id).await.map_err(engine_error)
}
