//! Run orchestration: what happens around one backup run. [`run_queued`]
//! takes a queued catalog row to its end (server, plan and policy looked up,
//! the standby chosen, [`super::run`] called, failures recorded on the row),
//! [`after_success`] flags a version change and prunes by the policy, and
//! [`recover`] marks runs cut off by a dead process as failed and removes
//! their partial artifacts.

use std::sync::Arc;

use super::{BackupJob, JobKind, Progress, RunContext};
use crate::catalog::{self, Backup, BackupStatus, CatalogError, ServerRow, Target};
use crate::pg::ConnSpec;
use crate::secrets::{InstanceKey, Secret};
use crate::{effective_policy, prune, server_plan, Error};

pub(crate) fn spec_of(row: &ServerRow, key: &InstanceKey) -> Result<ConnSpec, Error> {
    let open = |sealed: &Option<String>| -> Result<Option<Secret>, Error> {
        Ok(match sealed {
            Some(s) => Some(key.open(s)?),
            None => None,
        })
    };
    Ok(ConnSpec {
        host: row.host.clone(),
        port: row.port as u16,
        user: row.username.clone(),
        password: open(&row.password_enc)?,
        sslmode: row.sslmode.clone(),
        ssl_root_cert: row.ssl_root_cert.clone(),
        ssl_client_cert: row.ssl_client_cert.clone(),
        ssl_client_key: open(&row.ssl_client_key_enc)?,
    })
}

/// Runs a queued backup; failures are recorded on the row before returning.
pub async fn run_queued(
    ctx: &RunContext,
    key: &InstanceKey,
    backup_id: i64,
    progress: Arc<Progress>,
) -> Result<Backup, Error> {
    let row = ctx.catalog.backup(backup_id).await?;
    let fail = |cause: String| async move {
        let _ = ctx
            .catalog
            .finish(
                backup_id,
                BackupStatus::Failed,
                &catalog::Outcome {
                    cause: Some(cause),
                    ..Default::default()
                },
            )
            .await;
    };
    let server = match row.server_id {
        Some(sid) => match ctx.catalog.server(sid).await {
            Ok(s) => s,
            Err(e) => {
                fail(e.to_string()).await;
                return Err(e.into());
            }
        },
        None => {
            let e = CatalogError::NoSuchServer(row.server_name.clone());
            fail(e.to_string()).await;
            return Err(e.into());
        }
    };
    let spec = match spec_of(&server, key) {
        Ok(s) => s,
        Err(e) => {
            fail(e.to_string()).await;
            return Err(e);
        }
    };
    let plan = match server_plan(&ctx.catalog, server.id).await {
        Ok(p) => p,
        Err(e) => {
            fail(e.to_string()).await;
            return Err(e);
        }
    };
    let kind = match &row.target {
        Target::Globals => JobKind::Globals {
            no_role_passwords: plan.globals.no_role_passwords,
        },
        Target::Database(database) => {
            match effective_policy(&ctx.catalog, server.id, database).await {
                Ok((policy, _)) => JobKind::Database {
                    database: database.clone(),
                    policy: Box::new(policy),
                },
                Err(e) => {
                    fail(e.to_string()).await;
                    return Err(e);
                }
            }
        }
    };
    // Read from the standby when one is configured (not for globals: roles
    // are the same there, but a standby may lag behind a role change).
    let (spec, via_standby) = match (&plan.standby, &kind) {
        (Some(sb), JobKind::Database { .. }) => (
            ConnSpec {
                host: sb.host.clone(),
                port: sb.port,
                ..spec
            },
            true,
        ),
        _ => (spec, false),
    };
    let job = BackupJob {
        backup_id,
        server_name: server.name.clone(),
        spec,
        maintenance_db: server.maintenance_db.clone(),
        kind,
        via_standby,
    };
    let done = super::run(ctx, &job, progress).await?;
    after_success(ctx, &server, &done).await;
    Ok(done)
}

/// After a success: flag a server version change, then prune by the plan.
async fn after_success(ctx: &RunContext, server: &ServerRow, done: &Backup) {
    if let Some(v) = &done.server_version {
        match ctx.catalog.swap_seen_version(server.id, v).await {
            Ok(Some(old)) if &old != v => {
                let _ = ctx.catalog.mark_version_changed(done.id).await;
                tracing::warn!(server = %server.name, "server version changed from {old} to {v} since the last success");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot record the server version: {e}"),
        }
    }
    if let Err(e) = prune::after_success(ctx, server.id, done).await {
        tracing::warn!(backup = done.id, "retention prune did not run: {e}");
    }
}

/// Marks runs left behind by a dead process as failed and removes their
/// partial artifacts; returns how many there were.
pub async fn recover(ctx: &RunContext) -> Result<usize, Error> {
    let orphans = ctx.catalog.orphaned_runs().await?;
    for run in &orphans {
        if let Some(loc) = &run.location {
            if let Some(dir) = loc.strip_prefix(&format!("{}/", ctx.destination.describe)) {
                if let Err(e) = ctx.destination.remove_artifact(dir).await {
                    tracing::warn!(backup = run.id, "cannot remove partial artifact: {e}");
                }
            }
        }
        let cause = if run.status == BackupStatus::Running {
            "interrupted: pgshelf stopped (crash, kill or restart) while this backup ran; its partial artifact was removed. Fix: run the backup again"
        } else {
            "interrupted: pgshelf stopped before this queued backup started. Fix: run the backup again"
        };
        ctx.catalog
            .finish(
                run.id,
                BackupStatus::Failed,
                &catalog::Outcome {
                    cause: Some(cause.into()),
                    location: run.location.clone(),
                    ..Default::default()
                },
            )
            .await?;
        tracing::warn!(backup = run.id, "{cause}");
    }
    Ok(orphans.len())
}
