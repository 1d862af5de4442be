//! Server side only: policies, server plans and schedule status between the
//! engine's types and the form/view types in `views`. Numbers the user typed
//! are parsed here; a bad one is a field error worded like the engine's own
//! (`field: message. Fix: ...`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use engine::catalog::BackupFilter;
use engine::plans::PolicyPreview;
use engine::policy::{
    Compression, Coverage, DumpCapabilities, Format, GlobalsPolicy, PgDumpAlgorithm, Policy,
    Selection, ServerPlan, Standby,
};
use engine::retention::Tiers;
use engine::schedule::ScheduleStatus;
use engine::{Engine, PolicySource};
use leptos::prelude::*;

use super::convert::{backup_view, field_error};
use super::views::{
    BackupList, DumpCapsView, GlobalsRef, NextRunView, PolicyForm, PolicyPreviewView,
    PolicySourceView, RetainedView, ScheduleRowView, ServerPlanForm, TiersForm,
};

/// Most backups looked at to date the rows of a preview.
const PREVIEW_BACKUPS: i64 = 2000;

impl From<PolicySource> for PolicySourceView {
    fn from(s: PolicySource) -> Self {
        match s {
            PolicySource::Database { declared } => PolicySourceView::Override { declared },
            PolicySource::Server { declared } => PolicySourceView::ServerDefault { declared },
            PolicySource::Default => PolicySourceView::BuiltIn,
        }
    }
}

fn join_lines(list: &[String]) -> String {
    list.join("\n")
}

fn split_lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn opt_num(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// A whole number from a form field; blank gives `blank`.
fn parse_u32(field: &str, s: &str, blank: Option<u32>) -> Result<Option<u32>, ServerFnError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(blank);
    }
    s.parse::<u32>().map(Some).map_err(|_| {
        field_error(
            field,
            format!("{s:?} is not a whole number. Fix: enter digits only, e.g. 7"),
        )
    })
}

pub fn tiers_form(t: &Tiers) -> TiersForm {
    TiersForm {
        hourly: t.hourly.to_string(),
        daily: t.daily.to_string(),
        weekly: t.weekly.to_string(),
        monthly: t.monthly.to_string(),
        yearly: t.yearly.to_string(),
    }
}

fn tiers_from(prefix: &str, f: &TiersForm) -> Result<Tiers, ServerFnError> {
    let n = |tier: &str, s: &str| -> Result<u32, ServerFnError> {
        Ok(parse_u32(&format!("{prefix}.{tier}"), s, Some(0))?.unwrap_or(0))
    };
    Ok(Tiers {
        hourly: n("hourly", &f.hourly)?,
        daily: n("daily", &f.daily)?,
        weekly: n("weekly", &f.weekly)?,
        monthly: n("monthly", &f.monthly)?,
        yearly: n("yearly", &f.yearly)?,
    })
}

pub fn policy_form(p: &Policy) -> PolicyForm {
    let (format, jobs) = match p.format {
        Format::Custom => ("custom", String::new()),
        Format::Directory { jobs } => ("directory", jobs.to_string()),
    };
    let (compression, level) = match p.compression {
        Compression::Pgshelf { level } => ("pgshelf", level.to_string()),
        Compression::PgDump { algorithm, level } => (algorithm.as_str(), level.to_string()),
        Compression::None => ("none", String::new()),
    };
    let s = &p.selection;
    PolicyForm {
        enabled: p.enabled,
        schedule: p.schedule.clone(),
        timezone: p.timezone.clone(),
        format: format.into(),
        jobs,
        compression: compression.into(),
        level,
        include_schemas: join_lines(&s.include_schemas),
        exclude_schemas: join_lines(&s.exclude_schemas),
        include_tables: join_lines(&s.include_tables),
        exclude_tables: join_lines(&s.exclude_tables),
        exclude_table_data: join_lines(&s.exclude_table_data),
        serializable_deferrable: p.serializable_deferrable,
        lock_wait_timeout_secs: opt_num(p.lock_wait_timeout_secs),
        run_timeout_secs: opt_num(p.run_timeout_secs),
        stall_timeout_secs: p.stall_timeout_secs.to_string(),
        retention: tiers_form(&p.retention),
    }
}

/// The form as an engine policy; the engine validates the rest on save.
pub fn policy_from_form(f: &PolicyForm) -> Result<Policy, ServerFnError> {
    let format = match f.format.as_str() {
        "custom" | "" => Format::Custom,
        "directory" => Format::Directory {
            jobs: parse_u32("format.jobs", &f.jobs, Some(2))?.unwrap_or(2),
        },
        other => {
            return Err(field_error(
                "format",
                format!("{other:?} is not a format. Fix: choose custom or directory"),
            ))
        }
    };
    let level = |default: u32| parse_u32("compression.level", &f.level, Some(default));
    let compression = match f.compression.as_str() {
        "pgshelf" | "" => Compression::Pgshelf {
            level: level(3)?.unwrap_or(3).min(i32::MAX as u32) as i32,
        },
        "gzip" => Compression::PgDump {
            algorithm: PgDumpAlgorithm::Gzip,
            level: level(6)?.unwrap_or(6),
        },
        "lz4" => Compression::PgDump {
            algorithm: PgDumpAlgorithm::Lz4,
            level: level(1)?.unwrap_or(1),
        },
        "zstd" => Compression::PgDump {
            algorithm: PgDumpAlgorithm::Zstd,
            level: level(3)?.unwrap_or(3),
        },
        "none" => Compression::None,
        other => {
            return Err(field_error(
                "compression",
                format!("{other:?} is not a compression method. Fix: choose one from the list"),
            ))
        }
    };
    Ok(Policy {
        enabled: f.enabled,
        schedule: f.schedule.trim().to_owned(),
        timezone: f.timezone.trim().to_owned(),
        format,
        compression,
        selection: Selection {
            include_schemas: split_lines(&f.include_schemas),
            exclude_schemas: split_lines(&f.exclude_schemas),
            include_tables: split_lines(&f.include_tables),
            exclude_tables: split_lines(&f.exclude_tables),
            exclude_table_data: split_lines(&f.exclude_table_data),
        },
        serializable_deferrable: f.serializable_deferrable,
        lock_wait_timeout_secs: parse_u32(
            "lock_wait_timeout_secs",
            &f.lock_wait_timeout_secs,
            None,
        )?,
        run_timeout_secs: parse_u32("run_timeout_secs", &f.run_timeout_secs, None)?,
        stall_timeout_secs: parse_u32("stall_timeout_secs", &f.stall_timeout_secs, Some(900))?
            .unwrap_or(900),
        retention: tiers_from("retention", &f.retention)?,
    })
}

/// What the chosen pg_dump supports, after `DumpCapabilities::supports`.
pub fn caps_view(tools: &engine::pg::PgTools, caps: &DumpCapabilities) -> DumpCapsView {
    DumpCapsView {
        pg_dump_version: tools.version.clone(),
        pg_dump_path: tools.pg_dump().display().to_string(),
        gzip: caps.supports(PgDumpAlgorithm::Gzip),
        lz4: caps.supports(PgDumpAlgorithm::Lz4),
        zstd: caps.supports(PgDumpAlgorithm::Zstd),
    }
}

/// The preview, with each backup dated and the next runs in the policy's zone.
pub async fn preview_view(
    engine: &Engine,
    server_id: i64,
    database: Option<&str>,
    policy: &Policy,
    preview: PolicyPreview,
) -> PolicyPreviewView {
    let tz = engine::policy::parse_tz(&policy.timezone).ok();
    let next_runs = preview
        .next_runs
        .into_iter()
        .map(|utc| NextRunView {
            utc,
            local: match tz {
                Some(tz) => utc
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string(),
                None => String::new(),
            },
        })
        .collect();
    let rows = engine
        .backups(&BackupFilter {
            server_id: Some(server_id),
            database: database.map(str::to_owned),
            limit: Some(PREVIEW_BACKUPS),
        })
        .await
        .unwrap_or_default();
    let known: HashMap<i64, (String, DateTime<Utc>)> = rows
        .into_iter()
        .map(|r| (r.id, (r.database, r.started_at.unwrap_or(r.queued_at))))
        .collect();
    let row = |id: i64, tiers: Vec<String>, reason: String| {
        let (database, taken_at) = match known.get(&id) {
            Some((d, t)) => (d.clone(), Some(*t)),
            None => (database.unwrap_or_default().to_owned(), None),
        };
        RetainedView {
            id,
            database,
            taken_at,
            tiers,
            reason,
        }
    };
    PolicyPreviewView {
        describe: preview.describe,
        timezone: policy.timezone.clone(),
        next_runs,
        keep: preview
            .keep
            .into_iter()
            .map(|(id, tiers, reason)| row(id, tiers, reason))
            .collect(),
        prune: preview
            .prune
            .into_iter()
            .map(|(id, reason)| row(id, Vec::new(), reason))
            .collect(),
        held: preview.held,
    }
}

pub fn plan_form(p: &ServerPlan) -> ServerPlanForm {
    let (coverage, databases) = match &p.coverage {
        Coverage::All => ("all", String::new()),
        Coverage::Only { databases } => ("only", join_lines(databases)),
    };
    let g = &p.globals;
    ServerPlanForm {
        coverage: coverage.into(),
        databases,
        globals_enabled: g.enabled,
        globals_schedule: g.schedule.clone(),
        globals_timezone: g.timezone.clone(),
        no_role_passwords: g.no_role_passwords,
        globals_retention: tiers_form(&g.retention),
        standby_host: p
            .standby
            .as_ref()
            .map(|s| s.host.clone())
            .unwrap_or_default(),
        standby_port: p
            .standby
            .as_ref()
            .map(|s| s.port.to_string())
            .unwrap_or_default(),
    }
}

pub fn plan_from_form(f: &ServerPlanForm) -> Result<ServerPlan, ServerFnError> {
    let coverage = match f.coverage.as_str() {
        "all" | "" => Coverage::All,
        "only" => Coverage::Only {
            databases: split_lines(&f.databases),
        },
        other => {
            return Err(field_error(
                "coverage",
                format!("{other:?} is not a coverage. Fix: choose all or only"),
            ))
        }
    };
    let host = f.standby_host.trim();
    let standby = if host.is_empty() && f.standby_port.trim().is_empty() {
        None
    } else {
        let port = match f.standby_port.trim() {
            "" => 5432,
            p => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                field_error(
                    "standby",
                    format!("port {p:?} is not a port number. Fix: enter a number from 1 to 65535"),
                )
            })?,
        };
        Some(Standby {
            host: host.to_owned(),
            port,
        })
    };
    Ok(ServerPlan {
        coverage,
        globals: GlobalsPolicy {
            enabled: f.globals_enabled,
            schedule: f.globals_schedule.trim().to_owned(),
            timezone: f.globals_timezone.trim().to_owned(),
            no_role_passwords: f.no_role_passwords,
            retention: tiers_from("globals.retention", &f.globals_retention)?,
        },
        standby,
    })
}

impl From<ScheduleStatus> for ScheduleRowView {
    fn from(s: ScheduleStatus) -> Self {
        ScheduleRowView {
            database: s.database,
            covered: s.covered,
            enabled: s.enabled,
            source: s.source.map(PolicySourceView::from),
            schedule: s.schedule,
            timezone: s.timezone,
            describe: s.describe,
            next_run: s.next_run,
            last_run: s.last_run.map(|r| backup_view(r, None)),
            last_success: s.last_success.map(|r| backup_view(r, None)),
            overdue: s.overdue,
            gone_since: s.gone_since,
            error: s.error,
        }
    }
}

/// Links each database backup to the globals backup nearest before it: one
/// catalog query for the server's globals, matched in memory (the same rule
/// as `Engine::globals_for`: succeeded, not pruned, started at or before).
pub async fn attach_globals(engine: &Engine, server_id: i64, list: &mut BackupList) {
    if !list.backups.iter().any(|b| b.kind == "database") {
        return;
    }
    let Ok(globals) = engine
        .backups(&BackupFilter {
            server_id: Some(server_id),
            database: Some(String::new()),
            limit: Some(super::backups::MAX_LIST),
        })
        .await
    else {
        return;
    };
    // Newest first, as listed.
    let globals: Vec<(i64, DateTime<Utc>)> = globals
        .into_iter()
        .filter(|g| {
            g.kind == "globals"
                && g.status() == engine::catalog::BackupStatus::Succeeded
                && g.pruned_at.is_none()
        })
        .map(|g| (g.id, g.started_at.unwrap_or(g.queued_at)))
        .collect();
    for b in list.backups.iter_mut().filter(|b| b.kind == "database") {
        let at = b.started_at.unwrap_or(b.queued_at);
        b.globals = globals
            .iter()
            .find(|(_, t)| *t <= at)
            .map(|(id, t)| GlobalsRef { id: *id, at: *t });
    }
}
