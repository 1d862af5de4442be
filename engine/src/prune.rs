//! Acting on a retention plan: the plan is [`crate::retention::plan`], a
//! pure function; this module only carries it out.
//!
//! Runs only after a successful backup of the same database (or globals),
//! never after a failure. Each pruned backup's artifact is removed from
//! storage first; only then is its row marked pruned. A removal that fails
//! is recorded on the row and retried at the next prune: the row is never
//! lost while its artifact may still exist.
//!
//! When the plan is held (the clock reads earlier than the newest backup),
//! nothing is removed: the reason is logged and returned in
//! [`PruneReport::held`].

use chrono::{DateTime, Utc};

use crate::catalog::{Backup, Target};
use crate::pipeline::RunContext;
use crate::retention::{self, Candidate, Plan, Tiers};
use crate::{effective_policy, server_plan, Error};

/// What a prune did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub pruned: Vec<i64>,
    /// (backup id, error) for removals that failed and will be retried.
    pub failed: Vec<(i64, String)>,
    pub kept: usize,
    /// Why nothing was pruned, when the plan held pruning (a clock behind
    /// the newest backup).
    pub held: Option<String>,
}

/// The retention plan for the retained backups of one database (or the
/// globals of a server), under the engine's retention rules (`ctx.retention`).
pub async fn plan_for(
    ctx: &RunContext,
    server_id: i64,
    target: &Target,
    tiers: &Tiers,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<(Plan, Vec<Backup>), Error> {
    let rows = ctx.catalog.retained(server_id, target).await?;
    let candidates: Vec<Candidate> = rows
        .iter()
        .map(|r| Candidate {
            id: r.id,
            at: r.taken_at(),
            succeeded: true,
        })
        .collect();
    Ok((
        retention::plan(&candidates, tiers, &ctx.retention, now, tz),
        rows,
    ))
}

/// Plans and prunes after `done` succeeded.
pub async fn after_success(
    ctx: &RunContext,
    server_id: i64,
    done: &Backup,
) -> Result<PruneReport, Error> {
    let (tiers, tz) = match &done.target {
        Target::Globals => {
            let plan = server_plan(&ctx.catalog, server_id).await?;
            let tz = crate::policy::parse_tz(&plan.globals.timezone)?;
            (plan.globals.retention, tz)
        }
        Target::Database(database) => {
            let (policy, _) = effective_policy(&ctx.catalog, server_id, database).await?;
            let (_, tz) = policy.schedule()?;
            (policy.retention, tz)
        }
    };
    prune(ctx, server_id, &done.target, &tiers, tz, Utc::now()).await
}

/// Plans, records each kept backup's tiers, and removes the rest.
pub async fn prune(
    ctx: &RunContext,
    server_id: i64,
    target: &Target,
    tiers: &Tiers,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<PruneReport, Error> {
    let (plan, rows) = plan_for(ctx, server_id, target, tiers, tz, now).await?;
    let mut report = PruneReport {
        held: plan.held.clone(),
        ..PruneReport::default()
    };
    if let Some(why) = &plan.held {
        tracing::warn!(server = server_id, target = %target, "retention held: {why}");
    }
    for d in &plan.decisions {
        // A held plan keeps everything; never act on it even if a decision
        // said otherwise.
        if d.keep || plan.held.is_some() {
            report.kept += 1;
            ctx.catalog.set_tiers(d.id, &d.tiers).await?;
            continue;
        }
        let Some(row) = rows.iter().find(|r| r.id == d.id) else {
            continue;
        };
        let removed = crate::destinations::remove_copies(ctx, row).await;
        match removed {
            Ok(()) => {
                ctx.catalog.mark_pruned(d.id).await?;
                tracing::info!(backup = d.id, "pruned: {}", d.reason);
                report.pruned.push(d.id);
            }
            Err(e) => {
                ctx.catalog.set_prune_error(d.id, &e).await?;
                tracing::warn!(backup = d.id, "prune failed, will retry: {e}");
                report.failed.push((d.id, e));
            }
        }
    }
    Ok(report)
}
