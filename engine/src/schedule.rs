//! The scheduler: a named worker that, on every tick, starts every policy
//! whose schedule has a slot due — once, however many slots were missed
//! during downtime (marked late) — plus each server's globals schedule, and
//! retries a slot whose run failed or was interrupted (at most
//! [`MAX_ATTEMPTS`] runs per slot, waiting [`retry_backoff`] in between). A
//! tick reads the catalog only: the databases it knows come from the
//! discovery worker, which lists each server's databases (names only) on its
//! own, slower cadence. The lease keeper renews this process's run leases
//! and recovers expired ones. Each tick also starts due test-restores
//! ([`Engine::tick_test_restores`] in `proof`).
//!
//! Ticks take `now` as an argument, so tests drive the scheduler with a
//! controllable clock; the worker passes the wall clock. The last slot
//! started is stored in the catalog, so the memory survives restarts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::catalog::{Backup, BackupStatus, NewBackup, Target};
use crate::cron;
use crate::workers::{Queued, WorkerState, WorkerStatus};
use crate::{effective_policy, server_plan, Engine, Error, PolicySource};

/// A slot this far behind `now` counts as late.
pub const GRACE: chrono::Duration = chrono::Duration::minutes(5);

/// Runs per schedule slot: the first and at most two retries.
pub const MAX_ATTEMPTS: u32 = 3;

/// How long after attempt `attempt` of a slot failed its retry starts:
/// 2 minutes after the first, 10 after the second.
pub fn retry_backoff(attempt: u32) -> chrono::Duration {
    match attempt {
        0 | 1 => chrono::Duration::minutes(2),
        _ => chrono::Duration::minutes(10),
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// (backup id, server, target, slot, late)
    pub started: Vec<(i64, String, Target, DateTime<Utc>, bool)>,
    /// Retries of failed or interrupted slots: (backup id, server, target, slot, attempt).
    pub retried: Vec<(i64, String, Target, DateTime<Utc>, u32)>,
    /// Slots skipped because a run of the same target was still active.
    pub busy: Vec<(String, Target)>,
    /// (server, database) that appeared or disappeared since the last discovery.
    pub appeared: Vec<(String, String)>,
    pub disappeared: Vec<(String, String)>,
    /// Test-restores started: (server, database, slot, late).
    pub test_restores: Vec<(String, String, DateTime<Utc>, bool)>,
    /// Problems that did not stop the tick (a server down, a bad policy).
    pub errors: Vec<String>,
}

pub use model::schedule::ScheduleStatus;

#[derive(Debug, Default)]
pub(crate) struct SchedulerState {
    pub ticking: bool,
    pub last_tick: Option<DateTime<Utc>>,
    pub last_started: usize,
    pub last_error: Option<String>,
}

/// The scheduler worker's handle.
#[derive(Clone, Default)]
pub struct Scheduler {
    pub(crate) state: Arc<Mutex<SchedulerState>>,
}

impl Scheduler {
    pub fn status(&self) -> WorkerStatus {
        self.status_named("scheduler", "run(s) started")
    }

    pub(crate) fn status_named(&self, name: &str, what: &str) -> WorkerStatus {
        let st = self.state.lock().expect("scheduler state");
        WorkerStatus {
            name: name.into(),
            state: if st.ticking {
                WorkerState::Running
            } else {
                WorkerState::Idle
            },
            doing: st
                .last_tick
                .map(|t| {
                    vec![format!(
                        "last tick {} UTC, {} {what}",
                        t.format("%H:%M:%S"),
                        st.last_started
                    )]
                })
                .unwrap_or_default(),
            queued: 0,
            last_error: st.last_error.clone(),
            last_finished_at: st.last_tick,
        }
    }
}

/// Runs `step` every `interval` until the engine is dropped (or `step`
/// says to stop by returning `false`): the loop under each named worker.
pub(crate) fn every<F, Fut>(engine: std::sync::Weak<crate::Inner>, interval: Duration, step: F)
where
    F: Fn(Engine) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(inner) = engine.upgrade() else {
                return;
            };
            if !step(Engine { inner }).await {
                return;
            }
        }
    });
}

/// Runs ticks every `interval` until the engine is dropped.
pub(crate) fn start(engine: std::sync::Weak<crate::Inner>, interval: Duration) {
    every(engine, interval, |e| async move {
        if let Err(err) = e.tick_schedules(Utc::now()).await {
            tracing::warn!("scheduler tick failed: {err}");
        }
        true
    });
}

/// Renews this process's leases and recovers expired runs every `interval`
/// until the engine is dropped.
pub(crate) fn start_lease_keeper(engine: std::sync::Weak<crate::Inner>, interval: Duration) {
    every(engine, interval, |e| async move {
        let now = Utc::now();
        if let Err(err) = e.inner.catalog.renew_leases(now).await {
            tracing::warn!("cannot renew the leases of this process's runs: {err}");
        }
        if let Err(err) = e.inner.catalog.renew_restore_leases(now).await {
            tracing::warn!("cannot renew the leases of this process's restores: {err}");
        }
        match e.inner.catalog.recover_restore_runs(now).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!("{n} restore(s) were cut off by a stopped pgshelf: recorded failed")
            }
            Err(err) => tracing::warn!("cannot recover interrupted restores: {err}"),
        }
        if let Err(err) = crate::pipeline::runner::recover(&e.inner.ctx, now).await {
            tracing::warn!("cannot recover interrupted runs: {err}");
        }
        if !e.is_stopping() {
            // The copier works beside the keeper (a long copy must not hold
            // up lease renewals); its status shows what it does, and a tick
            // that finds it busy starts nothing.
            let e = e.clone();
            tokio::spawn(async move {
                if let Err(err) = e.retry_copies(now).await {
                    tracing::warn!("cannot retry failed copies: {err}");
                }
            });
        }
        true
    });
}

/// Lists every server's databases every `interval` until the engine is
/// dropped or stopping.
pub(crate) fn start_discovery(engine: std::sync::Weak<crate::Inner>, interval: Duration) {
    every(engine, interval, |e| async move {
        if e.is_stopping() {
            return false;
        }
        let report = e.discover_all().await;
        let st = &mut *e.inner.discovery.state.lock().expect("discovery state");
        st.last_tick = Some(Utc::now());
        st.last_started = report.appeared.len() + report.disappeared.len();
        st.last_error = report.errors.last().cloned();
        true
    });
}

impl Engine {
    /// Lists the databases of every server (names only) and records what
    /// appeared or disappeared; the report's `started` is empty.
    pub async fn discover_all(&self) -> TickReport {
        let mut report = TickReport::default();
        let servers = match self.inner.catalog.servers().await {
            Ok(s) => s,
            Err(e) => {
                report.errors.push(e.to_string());
                return report;
            }
        };
        for server in servers {
            match self.discover(server.id).await {
                Ok((appeared, gone)) => {
                    report
                        .appeared
                        .extend(appeared.into_iter().map(|d| (server.name.clone(), d)));
                    report
                        .disappeared
                        .extend(gone.into_iter().map(|d| (server.name.clone(), d)));
                }
                Err(e) => report.errors.push(format!(
                    "{}: discovery failed, using the databases known so far: {e}",
                    server.name
                )),
            }
        }
        report
    }

    /// One scheduler tick at `now`.
    pub async fn tick_schedules(&self, now: DateTime<Utc>) -> Result<TickReport, Error> {
        let sched = self.inner.scheduler.clone();
        sched.state.lock().expect("scheduler state").ticking = true;
        let mut result = self.tick_inner(now).await;
        if let Ok(report) = &mut result {
            match self.tick_test_restores(now, &mut report.errors).await {
                Ok(started) => report.test_restores = started,
                Err(e) => report.errors.push(format!("test-restores: {e}")),
            }
        }
        let mut st = sched.state.lock().expect("scheduler state");
        st.ticking = false;
        st.last_tick = Some(now);
        match &result {
            Ok(r) => {
                st.last_started = r.started.len();
                st.last_error = r.errors.last().cloned();
            }
            Err(e) => st.last_error = Some(e.to_string()),
        }
        result
    }

    async fn tick_inner(&self, now: DateTime<Utc>) -> Result<TickReport, Error> {
        let mut report = TickReport::default();
        if self.is_stopping() {
            return Ok(report);
        }
        let catalog = &self.inner.catalog;
        for server in catalog.servers().await? {
            let plan = match server_plan(catalog, server.id).await {
                Ok(p) => p,
                Err(e) => {
                    report.errors.push(format!("{}: {e}", server.name));
                    continue;
                }
            };
            let active = catalog.active_runs(server.id).await?;
            let is_active = |target: &Target| active.iter().any(|r| &r.target == target);

            // Databases.
            for known in catalog.known_databases(server.id).await? {
                if known.gone_since.is_some() || !plan.covers(&known.name) {
                    continue;
                }
                let (policy, _) = match effective_policy(catalog, server.id, &known.name).await {
                    Ok(p) => p,
                    Err(e) => {
                        report
                            .errors
                            .push(format!("{}/{}: {e}", server.name, known.name));
                        continue;
                    }
                };
                if !policy.enabled {
                    continue;
                }
                let (schedule, tz) = match policy.schedule() {
                    Ok(s) => s,
                    Err(e) => {
                        report
                            .errors
                            .push(format!("{}/{}: {e}", server.name, known.name));
                        continue;
                    }
                };
                let target = Target::Database(known.name.clone());
                let last = catalog.last_slot(server.id, &target).await?;
                let Some(due) = cron::due(&schedule, tz, last, known.first_seen, now, GRACE) else {
                    if !is_active(&target) {
                        self.retry(server.id, &server.name, &target, last, now, &mut report)
                            .await?;
                    }
                    continue;
                };
                if is_active(&target) {
                    report.busy.push((server.name.clone(), target));
                    continue;
                }
                let row = self
                    .enqueue_kind(
                        server.id,
                        &target,
                        "schedule",
                        Some(due.slot),
                        due.late,
                        None,
                    )
                    .await?;
                catalog.set_last_slot(server.id, &target, due.slot).await?;
                report
                    .started
                    .push((row.id, server.name.clone(), target, due.slot, due.late));
            }

            // Globals.
            if plan.globals.enabled {
                let parsed = cron::Schedule::parse(&plan.globals.schedule)
                    .map_err(|e| e.to_string())
                    .and_then(|s| {
                        crate::policy::parse_tz(&plan.globals.timezone)
                            .map(|tz| (s, tz))
                            .map_err(|e| e.to_string())
                    });
                match parsed {
                    Ok((schedule, tz)) => {
                        let last = catalog.last_slot(server.id, &Target::Globals).await?;
                        let due = cron::due(&schedule, tz, last, server.created_at, now, GRACE);
                        if due.is_none() && !is_active(&Target::Globals) {
                            self.retry(
                                server.id,
                                &server.name,
                                &Target::Globals,
                                last,
                                now,
                                &mut report,
                            )
                            .await?;
                        }
                        if let Some(due) = due {
                            if is_active(&Target::Globals) {
                                report.busy.push((server.name.clone(), Target::Globals));
                            } else {
                                let row = self
                                    .enqueue_kind(
                                        server.id,
                                        &Target::Globals,
                                        "schedule",
                                        Some(due.slot),
                                        due.late,
                                        None,
                                    )
                                    .await?;
                                catalog
                                    .set_last_slot(server.id, &Target::Globals, due.slot)
                                    .await?;
                                report.started.push((
                                    row.id,
                                    server.name.clone(),
                                    Target::Globals,
                                    due.slot,
                                    due.late,
                                ));
                            }
                        }
                    }
                    Err(e) => report.errors.push(format!("{} globals: {e}", server.name)),
                }
            }
        }
        Ok(report)
    }

    /// Retries the last slot of a target when its newest run failed (or was
    /// interrupted; a `cancelled` run was stopped on purpose and is not
    /// retried), fewer than [`MAX_ATTEMPTS`] runs were made for it, and
    /// the backoff has passed. The retry keeps the slot and points at the
    /// run it retries.
    async fn retry(
        &self,
        server_id: i64,
        server_name: &str,
        target: &Target,
        last_slot: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), Error> {
        let Some(last_slot) = last_slot else {
            return Ok(());
        };
        let Some(prev) = self
            .inner
            .catalog
            .last_scheduled_run(server_id, target)
            .await?
        else {
            return Ok(());
        };
        if prev.status != BackupStatus::Failed
            || prev.scheduled_for != Some(last_slot)
            || prev.attempt >= MAX_ATTEMPTS
        {
            return Ok(());
        }
        let ended = prev.finished_at.unwrap_or(prev.queued_at);
        if now < ended + retry_backoff(prev.attempt) {
            return Ok(());
        }
        let attempt = prev.attempt + 1;
        let row = self
            .enqueue_kind(
                server_id,
                target,
                "retry",
                Some(last_slot),
                prev.late,
                Some((prev.id, attempt)),
            )
            .await?;
        tracing::info!(
            backup = row.id,
            "retrying {server_name}/{target} slot {last_slot} (attempt {attempt} of {MAX_ATTEMPTS}) after backup {} failed",
            prev.id
        );
        report.retried.push((
            row.id,
            server_name.to_owned(),
            target.clone(),
            last_slot,
            attempt,
        ));
        Ok(())
    }

    /// Connects to a server, lists its databases (names only: sizing every
    /// database is left to the pages that show sizes) and records what
    /// appeared or disappeared since the last look.
    pub async fn discover(&self, server_id: i64) -> Result<(Vec<String>, Vec<String>), Error> {
        let (row, spec) = self.spec(server_id).await?;
        let mut conn = spec.connect(&row.maintenance_db).await?;
        let names = crate::pg::conn::database_names(&spec, &mut conn).await?;
        let found: Vec<(String, Option<i64>)> = names.into_iter().map(|n| (n, None)).collect();
        Ok(self
            .inner
            .catalog
            .record_discovery(server_id, &found)
            .await?)
    }

    /// Queues a run of any kind, scheduled or not.
    pub(crate) async fn enqueue_kind(
        &self,
        server_id: i64,
        target: &Target,
        trigger: &str,
        scheduled_for: Option<DateTime<Utc>>,
        late: bool,
        retry: Option<(i64, u32)>,
    ) -> Result<Backup, Error> {
        self.refuse_when_stopping()?;
        let server = self.inner.catalog.server(server_id).await?;
        let row = self
            .inner
            .catalog
            .insert_backup(&NewBackup {
                server_id,
                server_name: server.name.clone(),
                target: target.clone(),
                scheduled_for,
                late,
                trigger: trigger.into(),
                destination: self.inner.ctx.destination.describe.clone(),
                status: BackupStatus::Queued,
                attempt: retry.map_or(1, |r| r.1),
                retry_of: retry.map(|r| r.0),
            })
            .await?;
        let label = format!("{}/{target}", server.name);
        self.inner
            .runner
            .enqueue(Queued {
                backup_id: row.id,
                server_id,
                label,
            })
            .map_err(Error::Conflict)?;
        Ok(row)
    }

    /// Schedules of every database known on a server, and its globals, at `now`.
    pub async fn schedule_status(
        &self,
        server_id: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<ScheduleStatus>, Error> {
        let catalog = &self.inner.catalog;
        let server = catalog.server(server_id).await?;
        let plan = server_plan(catalog, server_id).await?;
        let mut out = Vec::new();
        let g = &plan.globals;
        out.push(
            self.status_of(
                server_id,
                Target::Globals,
                true,
                g.enabled,
                None,
                &g.schedule,
                &g.timezone,
                server.created_at,
                None,
                now,
            )
            .await?,
        );
        for known in catalog.known_databases(server_id).await? {
            let (policy, source) = effective_policy(catalog, server_id, &known.name).await?;
            let mut status = self
                .status_of(
                    server_id,
                    Target::Database(known.name.clone()),
                    plan.covers(&known.name),
                    policy.enabled,
                    Some(source),
                    &policy.schedule,
                    &policy.timezone,
                    known.first_seen,
                    known.gone_since,
                    now,
                )
                .await?;
            let proof = self
                .database_proof(server_id, &known.name, &policy, now)
                .await?;
            status.last_proven_at = proof.last_passed.as_ref().and_then(|t| t.finished_at);
            status.last_proof_ms = proof.last_passed.as_ref().and_then(|t| t.duration_ms);
            // Flag only what is backed up on schedule and still there.
            if status.covered && status.gone_since.is_none() {
                status.proof_flag = proof.flag;
            }
            out.push(status);
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    async fn status_of(
        &self,
        server_id: i64,
        target: Target,
        covered: bool,
        enabled: bool,
        source: Option<PolicySource>,
        expr: &str,
        timezone: &str,
        created: DateTime<Utc>,
        gone_since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<ScheduleStatus, Error> {
        let (last_run, last_success) = self.inner.catalog.last_runs(server_id, &target).await?;
        let active = covered && enabled && gone_since.is_none();
        let success_at = last_success.as_ref().and_then(|r| r.finished_at);
        let ScheduleFacts {
            describe,
            next_run,
            overdue,
            error,
        } = schedule_facts(expr, timezone, active, success_at, created, now);
        Ok(ScheduleStatus {
            target,
            covered,
            enabled,
            source,
            schedule: expr.into(),
            timezone: timezone.into(),
            describe,
            next_run,
            last_run,
            last_success,
            overdue,
            gone_since,
            error,
            last_proven_at: None,
            last_proof_ms: None,
            proof_flag: None,
        })
    }
}

/// What a schedule says at `now` (pure): its words, the next run and the
/// overdue flag (both only while it is `active`: covered, enabled, the
/// database still there), or why it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleFacts {
    pub describe: String,
    pub next_run: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub error: Option<String>,
}

/// [`ScheduleFacts`] of a cron expression in a time zone, given the last
/// success and when the target appeared (see [`cron::overdue`]).
pub fn schedule_facts(
    expr: &str,
    timezone: &str,
    active: bool,
    last_success: Option<DateTime<Utc>>,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ScheduleFacts {
    let parsed = cron::Schedule::parse(expr)
        .map_err(|e| e.to_string())
        .and_then(|s| {
            crate::policy::parse_tz(timezone)
                .map(|tz| (s, tz))
                .map_err(|e| e.to_string())
        });
    match parsed {
        Ok((s, tz)) => ScheduleFacts {
            describe: s.describe(),
            next_run: if active { s.next_after(now, tz) } else { None },
            overdue: active && cron::overdue(&s, tz, last_success, created, now),
            error: None,
        },
        Err(e) => ScheduleFacts {
            describe: String::new(),
            next_run: None,
            overdue: false,
            error: Some(e),
        },
    }
}
