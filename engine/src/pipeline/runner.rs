//! Run orchestration: what happens around one backup run. [`run_queued`]
//! takes a queued catalog row to its end (server, plan and policy looked up,
//! the standby chosen, [`super::run`] called, failures recorded on the row),
//! [`after_success`] flags a version change and prunes by the policy, and
//! [`recover`] marks runs cut off by a dead process as failed and removes
//! their partial artifacts.

use std::sync::Arc;

use chrono::{DateTime, Utc};

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
/// Each run that ends here is one `backup finished` log line.
pub async fn run_queued(
    ctx: &RunContext,
    key: &InstanceKey,
    backup_id: i64,
    progress: Arc<Progress>,
) -> Result<Backup, Error> {
    let r = run_to_end(ctx, key, backup_id, progress).await;
    log_outcome(ctx, backup_id).await;
    r
}

/// One log line per finished run, with its outcome and figures (and the
/// recorded cause of a failure, which never holds a secret). Fields, not
/// prose, so `log_format = "json"` gives a log shipper something to count.
pub(crate) async fn log_outcome(ctx: &RunContext, backup_id: i64) {
    let Ok(b) = ctx.catalog.backup(backup_id).await else {
        return;
    };
    if b.status.is_active() {
        return;
    }
    let (server, target, status) = (&b.server_name, b.target.to_string(), b.status.as_str());
    let (raw_bytes, stored_bytes) = (b.raw_bytes, b.stored_bytes);
    let duration_ms = b.duration_ms.unwrap_or(0);
    if b.status.is_good() {
        tracing::info!(backup = b.id, server, target, status, raw_bytes, stored_bytes, duration_ms, trigger = %b.trigger, "backup finished");
    } else {
        let cause = b.cause.as_deref().unwrap_or("");
        tracing::warn!(backup = b.id, server, target, status, raw_bytes, stored_bytes, duration_ms, trigger = %b.trigger, cause, "backup finished");
    }
}

async fn run_to_end(
    ctx: &RunContext,
    key: &InstanceKey,
    backup_id: i64,
    progress: Arc<Progress>,
) -> Result<Backup, Error> {
    let row = ctx.catalog.backup(backup_id).await?;
    if !row.status.is_active() {
        // Cancelled (or recovered) while it waited in the queue: nothing to do.
        return Ok(row);
    }
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
    // A stored identity (opt-in) lets verification decrypt; without one an
    // encrypted artifact is checked by size and sha256 only.
    let verify_identity = match &kind {
        JobKind::Database { policy, .. } if policy.encryption.enabled() => {
            crate::crypt::stored_identity(&ctx.catalog, key, &policy.encryption.recipients)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(
                        backup = backup_id,
                        "cannot read the stored age identities: {e}"
                    );
                    None
                })
        }
        _ => None,
    };
    // The run's own context: its destinations, the first one primary.
    let names = match &kind {
        JobKind::Globals { .. } => plan.globals.destinations.clone(),
        JobKind::Database { policy, .. } => policy.destinations.clone(),
    };
    let dests = match ctx.registry.resolve(&names).await {
        Ok(d) => d,
        Err(e) => {
            fail(e.to_string()).await;
            return Err(e.into());
        }
    };
    let size_hint = ctx
        .catalog
        .last_good_size(server.id, &row.target)
        .await
        .unwrap_or(0);
    if let Some(raw) = ctx.catalog.previous_raw(server.id, &row.target).await {
        let _ = progress.previous_raw.set(raw);
    }
    let ctx = &RunContext {
        destination: dests[0].clone(),
        size_hint,
        copies: Arc::new(crate::storage::fanout::CopySet::new(dests)),
        ..ctx.clone()
    };
    let job = BackupJob {
        backup_id,
        server_name: server.name.clone(),
        spec,
        maintenance_db: server.maintenance_db.clone(),
        kind,
        via_standby,
        verify_identity,
    };
    // Cancelled while the run was being looked up: end it before it dumps.
    if let Some(cause) = progress.stop.get() {
        let e = super::PipelineError::Stopped(cause.clone());
        let _ = ctx
            .catalog
            .finish(
                backup_id,
                progress.status_for(&e),
                &catalog::Outcome {
                    cause: Some(cause.clone()),
                    ..Default::default()
                },
            )
            .await;
        return Err(e.into());
    }
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

/// Why a recovered run failed.
pub const INTERRUPTED_RUNNING: &str = "interrupted: the pgshelf process running this backup stopped (crash, kill or restart) and its lease ran out; its partial artifact was removed. Fix: none needed for a scheduled backup (its slot is retried); otherwise run the backup again";
pub const INTERRUPTED_QUEUED: &str = "interrupted: the pgshelf process that queued this backup stopped before it started. Fix: none needed for a scheduled backup (its slot is retried); otherwise run the backup again";

/// Removes what a run left on storage and in the spool.
pub(crate) async fn remove_leftovers(ctx: &RunContext, run: &Backup) {
    let copies = ctx.catalog.copies(run.id).await.unwrap_or_default();
    for c in &copies {
        match ctx.registry.get(&c.destination).await {
            Ok(dest) => {
                if let Err(e) = dest.remove_artifact(&c.dir).await {
                    tracing::warn!(backup = run.id, destination = %c.destination, "cannot remove partial artifact: {e}");
                }
            }
            Err(e) => tracing::warn!(backup = run.id, "cannot remove partial artifact: {e}"),
        }
        let _ = ctx
            .catalog
            .fail_copy(
                run.id,
                &c.destination,
                "the run was interrupted; its partial files were removed",
                None,
            )
            .await;
    }
    // A run from before copies were recorded: its location on `local`.
    let legacy = copies
        .is_empty()
        .then(|| {
            run.location
                .as_deref()
                .and_then(|l| ctx.registry.local_dir(l))
        })
        .flatten();
    if let Some(dir) = legacy {
        if let Err(e) = ctx.registry.local().remove_artifact(dir).await {
            tracing::warn!(backup = run.id, "cannot remove partial artifact: {e}");
        }
    }
    let spool = ctx.spool_dir.join(run.id.to_string());
    if spool.exists() {
        if let Err(e) = std::fs::remove_dir_all(&spool) {
            tracing::warn!(
                backup = run.id,
                "cannot remove spool {}: {e}",
                spool.display()
            );
        }
    }
}

/// Recovers runs whose owner's lease expired before `now` (the process
/// died or hung): each is marked failed — by exactly one process, whichever
/// sees it first — and its partial artifact and spool are removed. Returns
/// how many this call recovered.
pub async fn recover(ctx: &RunContext, now: DateTime<Utc>) -> Result<usize, Error> {
    let mut n = 0;
    for run in ctx.catalog.expired_runs(now).await? {
        let cause = if run.status == BackupStatus::Running {
            INTERRUPTED_RUNNING
        } else {
            INTERRUPTED_QUEUED
        };
        if !ctx.catalog.recover_expired(run.id, now, cause).await? {
            continue; // renewed meanwhile, or another process got there first
        }
        remove_leftovers(ctx, &run).await;
        tracing::warn!(backup = run.id, "{cause}");
        n += 1;
    }
    Ok(n)
}

/// Ends one run this process owns as failed with `cause` (a panic, a stop),
/// removing its leftovers; logs what cannot be done.
pub(crate) async fn fail_one(ctx: &RunContext, id: i64, cause: &str) {
    let row = match ctx.catalog.backup(id).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(backup = id, "cannot read the run to fail it: {e}");
            return;
        }
    };
    if !row.status.is_active() {
        return;
    }
    let ended = ctx
        .catalog
        .finish(
            id,
            BackupStatus::Failed,
            &catalog::Outcome {
                cause: Some(cause.into()),
                location: row.location.clone(),
                ..Default::default()
            },
        )
        .await;
    match ended {
        Ok(_) => {
            log_outcome(ctx, id).await;
            remove_leftovers(ctx, &row).await;
            tracing::warn!(backup = id, "{cause}");
        }
        Err(e) => tracing::warn!(backup = id, "cannot record the failure: {e}"),
    }
}
