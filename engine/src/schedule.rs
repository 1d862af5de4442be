//! The scheduler: a named worker that, on every tick, discovers each
//! server's databases, and starts every policy whose schedule has a slot due
//! — once, however many slots were missed during downtime (marked late) —
//! plus each server's globals schedule.
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

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// (backup id, server, target, slot, late)
    pub started: Vec<(i64, String, Target, DateTime<Utc>, bool)>,
    /// Slots skipped because a run of the same target was still active.
    pub busy: Vec<(String, Target)>,
    /// (server, database) that appeared or disappeared since the last discovery.
    pub appeared: Vec<(String, String)>,
    pub disappeared: Vec<(String, String)>,
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
        let st = self.state.lock().expect("scheduler state");
        WorkerStatus {
            name: "scheduler".into(),
            state: if st.ticking {
                WorkerState::Running
            } else {
                WorkerState::Idle
            },
            doing: st
                .last_tick
                .map(|t| {
                    vec![format!(
                        "last tick {} UTC, {} run(s) started",
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

/// Runs ticks every `interval` until the engine is dropped.
pub(crate) fn start(engine: std::sync::Weak<crate::Inner>, interval: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(inner) = engine.upgrade() else {
                return;
            };
            let e = Engine { inner };
            if let Err(err) = e.tick_schedules(Utc::now()).await {
                tracing::warn!("scheduler tick failed: {err}");
            }
        }
    });
}

impl Engine {
    /// One scheduler tick at `now`.
    pub async fn tick_schedules(&self, now: DateTime<Utc>) -> Result<TickReport, Error> {
        let sched = self.inner.scheduler.clone();
        sched.state.lock().expect("scheduler state").ticking = true;
        let result = self.tick_inner(now).await;
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
        let catalog = &self.inner.catalog;
        for server in catalog.servers().await? {
            let plan = match server_plan(catalog, server.id).await {
                Ok(p) => p,
                Err(e) => {
                    report.errors.push(format!("{}: {e}", server.name));
                    continue;
                }
            };
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
                    continue;
                };
                if is_active(&target) {
                    report.busy.push((server.name.clone(), target));
                    continue;
                }
                let row = self
                    .enqueue_kind(server.id, &target, "schedule", Some(due.slot), due.late)
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
                        if let Some(due) =
                            cron::due(&schedule, tz, last, server.created_at, now, GRACE)
                        {
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

    /// Connects to a server, lists its databases and records what appeared
    /// or disappeared since the last look.
    pub async fn discover(&self, server_id: i64) -> Result<(Vec<String>, Vec<String>), Error> {
        let dbs = self.databases_live(server_id).await?;
        let found: Vec<(String, Option<i64>)> =
            dbs.into_iter().map(|d| (d.name, d.size_bytes)).collect();
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
    ) -> Result<Backup, Error> {
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
            out.push(
                self.status_of(
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
                .await?,
            );
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
        let parsed = cron::Schedule::parse(expr)
            .map_err(|e| e.to_string())
            .and_then(|s| {
                crate::policy::parse_tz(timezone)
                    .map(|tz| (s, tz))
                    .map_err(|e| e.to_string())
            });
        let (describe, next_run, overdue, error) = match parsed {
            Ok((s, tz)) => {
                let active = covered && enabled && gone_since.is_none();
                let success_at = last_success.as_ref().and_then(|r| r.finished_at);
                (
                    s.describe(),
                    if active { s.next_after(now, tz) } else { None },
                    active && cron::overdue(&s, tz, success_at, created, now),
                    None,
                )
            }
            Err(e) => (String::new(), None, false, Some(e)),
        };
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
        })
    }
}
