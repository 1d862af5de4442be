//! The overview: every database's health at a glance, the recent problems,
//! the work running now and storage with its projection
//! ([`model::overview::Overview`]).
//!
//! Built from one consistent catalog read ([`Catalog::overview_rows`]:
//! aggregates and index seeks, never a pass over every backup) plus the
//! rules the other pages use: the effective policy ([`plans::policy_of`]),
//! the schedule's next run and overdue flag ([`schedule::schedule_facts`]),
//! the proof flag ([`proof::test_restore_interval`], `model::proof::proof_flag`)
//! and what each destination stores ([`Engine::destinations`]). Nothing
//! here talks to PostgreSQL or storage.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use model::backup::{Backup, Target};
use model::overview::{
    daily_totals, nearest, project, sort_rows, DatabaseHealth, DestinationUsage, Health, Overview,
    SizeChange, Storage, TierUsage, COMPARE_DAYS, HISTORY_DAYS, PROBLEM_DAYS, PROBLEM_LIMIT,
    PROJECTION_DAYS,
};
use model::proof::{proof_flag, ProofFlag, TestRestoreStatus};
use model::retention::Tier;

use crate::catalog::overview::{OverviewRows, TargetIds, Windows};
use crate::catalog::StoredBody;
use crate::plans::{plan_of, policy_of};
use crate::policy::{Policy, ServerPlan};
use crate::proof::test_restore_interval;
use crate::schedule::schedule_facts;
use crate::{Engine, Error};

impl Engine {
    /// The overview at `now`: every database known on a server (and each
    /// server's globals) that is scheduled or has backups, worst health
    /// first; failures and suspect backups of the last 7 days; runs queued
    /// or running; storage per destination and tier with a 30-day projection.
    ///
    /// The result is reused for later calls while the catalog has not
    /// changed ([`crate::catalog::Catalog::data_version`]) and for at most [`CACHE_FOR`]
    /// (the schedule's "next run" and "overdue" move with the clock): a
    /// fleet's dashboards polling at once cost one read, not one each.
    /// Concurrent callers wait for the one read under way.
    pub async fn overview(&self, now: DateTime<Utc>) -> Result<Overview, Error> {
        let mut cache = self.inner.overview_cache.0.lock().await;
        let version = self.inner.catalog.data_version().await?;
        if let Some(c) = cache.as_ref() {
            let age = now - c.now;
            if c.version == version && age >= Duration::zero() && age < CACHE_FOR {
                return Ok(c.overview.clone());
            }
        }
        let fresh = self.read_overview(now).await?;
        *cache = Some(Cached {
            version,
            now,
            overview: fresh.clone(),
        });
        Ok(fresh)
    }

    async fn read_overview(&self, now: DateTime<Utc>) -> Result<Overview, Error> {
        let catalog = &self.inner.catalog;
        let servers = catalog.servers().await?;
        let today = now.date_naive();
        let history_start = today - Duration::days(HISTORY_DAYS - 1);
        let rows = catalog
            .overview_rows(Windows {
                compare_at: now - Duration::days(COMPARE_DAYS),
                problems_since: now - Duration::days(PROBLEM_DAYS),
                problems_limit: PROBLEM_LIMIT,
                history_since: history_start
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight")
                    .and_utc(),
            })
            .await?;
        let destinations = self.destinations().await?;

        let names: HashMap<i64, &str> = servers.iter().map(|s| (s.id, s.name.as_str())).collect();
        let databases = health_rows(&rows, &names, now)?;
        let storage = storage(&rows, destinations, now);
        Ok(Overview {
            generated_at: now,
            servers: servers.len(),
            total_databases: databases.len(),
            health_counts: model::overview::count_health(&databases),
            databases,
            problems: rows.problems,
            active: rows.active,
            storage,
        })
    }
}

/// How long an overview is reused while the catalog is unchanged.
pub const CACHE_FOR: Duration = Duration::seconds(5);

/// The last overview read ([`Engine::overview`]).
#[derive(Default)]
pub(crate) struct Cache(tokio::sync::Mutex<Option<Cached>>);

struct Cached {
    /// [`crate::catalog::Catalog::data_version`] before it was read.
    version: i64,
    now: DateTime<Utc>,
    overview: Overview,
}

/// One row per target worth watching, in [`sort_rows`] order.
fn health_rows(
    rows: &OverviewRows,
    names: &HashMap<i64, &str>,
    now: DateTime<Utc>,
) -> Result<Vec<DatabaseHealth>, Error> {
    let backups: HashMap<i64, &Backup> = rows.backups.iter().map(|b| (b.id, b)).collect();
    let mut plans: HashMap<i64, ServerPlan> = HashMap::new();
    for (id, body) in &rows.plans {
        plans.insert(*id, plan_of(Some(body))?);
    }
    let default_plan = ServerPlan::default();
    // Each server's default policy is read once, not once per database.
    let mut server_policies: HashMap<i64, Policy> = HashMap::new();
    let policies: HashMap<(i64, &str), &StoredBody> = rows
        .policies
        .iter()
        .map(|(id, db, b)| ((*id, db.as_str()), b))
        .collect();
    let proofs: HashMap<(i64, &str), _> = rows
        .proofs
        .iter()
        .map(|p| ((p.server_id, p.database.as_str()), p))
        .collect();
    // Test-restore intervals are read off each schedule's slots: once per
    // distinct schedule, not once per database.
    let mut intervals: HashMap<(String, String, bool), Option<Duration>> = HashMap::new();
    let mut out = Vec::new();
    for t in &rows.targets {
        let Some(server) = names.get(&t.server_id) else {
            continue;
        };
        let plan = plans.get(&t.server_id).unwrap_or(&default_plan);
        let finished = t.finished_id.and_then(|id| backups.get(&id).copied());
        let good = t.good_id.and_then(|id| backups.get(&id).copied());
        let success_at = good.and_then(|g| g.finished_at);
        let (target, covered, enabled, expr, tz, policy) = if t.kind == "globals" {
            let g = &plan.globals;
            (
                Target::Globals,
                true,
                g.enabled,
                g.schedule.clone(),
                g.timezone.clone(),
                None,
            )
        } else {
            let policy = match policies.get(&(t.server_id, t.database.as_str())) {
                Some(own) => policy_of(Some(own), None)?.0,
                None => match server_policies.get(&t.server_id) {
                    Some(p) => p.clone(),
                    None => {
                        let p = policy_of(None, policies.get(&(t.server_id, "")).copied())?.0;
                        server_policies.insert(t.server_id, p.clone());
                        p
                    }
                },
            };
            (
                Target::Database(t.database.clone()),
                plan.covers(&t.database),
                policy.enabled,
                policy.schedule.clone(),
                policy.timezone.clone(),
                Some(policy),
            )
        };
        let active = covered && enabled && t.gone_since.is_none();
        // Not scheduled and never run: nothing to watch (e.g. template1).
        if !active && finished.is_none() && good.is_none() {
            continue;
        }
        let facts = schedule_facts(&expr, &tz, active, success_at, t.since, now);
        let (mut last_proven_at, mut flag) = (None, None);
        if let Some(policy) = &policy {
            let proof = proofs.get(&(t.server_id, t.database.as_str()));
            last_proven_at = proof.and_then(|p| p.passed_at);
            let key = (
                policy.test_restore.cron.clone(),
                policy.timezone.clone(),
                policy.test_restore.enabled,
            );
            let interval = *intervals
                .entry(key)
                .or_insert_with(|| test_restore_interval(policy, now));
            let last_status = proof
                .and_then(|p| p.last_status.as_deref())
                .and_then(|s| s.parse::<TestRestoreStatus>().ok());
            // Flag only what is backed up on schedule and still there.
            if covered && t.gone_since.is_none() {
                flag = proof_flag(last_status, last_proven_at, interval, now);
            }
        }
        out.push(row(
            t,
            server,
            target,
            finished,
            good,
            facts.next_run,
            facts.overdue,
            active,
            last_proven_at,
            flag,
            now - Duration::days(COMPARE_DAYS),
        ));
    }
    sort_rows(&mut out);
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn row(
    t: &TargetIds,
    server: &str,
    target: Target,
    finished: Option<&Backup>,
    good: Option<&Backup>,
    next_run: Option<DateTime<Utc>>,
    overdue: bool,
    scheduled: bool,
    last_proven_at: Option<DateTime<Utc>>,
    proof_flag: Option<ProofFlag>,
    compare_at: DateTime<Utc>,
) -> DatabaseHealth {
    let health = Health::judge(finished.map(|b| b.status), good.map(|b| b.status), overdue);
    let (problem_id, problem) = match health {
        Health::Failing => (
            finished.map(|b| b.id),
            finished.and_then(|b| b.cause.clone()),
        ),
        Health::Suspect => (good.map(|b| b.id), good.map(|b| b.verification.join("; "))),
        _ => (None, None),
    };
    let change =
        |id: Option<i64>, at: Option<DateTime<Utc>>, bytes: Option<i64>| Some((id?, at?, bytes?));
    let to_bytes = good.map(|g| g.stored_bytes);
    let size_change = |(from_id, from_at, from_bytes): (i64, DateTime<Utc>, i64)| {
        to_bytes.map(|to_bytes| SizeChange {
            from_id,
            from_at,
            from_bytes,
            to_bytes,
        })
    };
    let vs_previous = change(t.prev_id, t.prev_at, t.prev_bytes).and_then(size_change);
    let vs_month = good.and_then(|g| {
        let candidates: Vec<(i64, DateTime<Utc>)> =
            [(t.before_id, t.before_at), (t.after_id, t.after_at)]
                .into_iter()
                .filter_map(|(id, at)| Some((id?, at?)))
                .collect();
        let (id, when) = nearest(&candidates, compare_at, g.id)?;
        let bytes = if Some(id) == t.before_id {
            t.before_bytes
        } else {
            t.after_bytes
        };
        size_change((id, when, bytes?))
    });
    DatabaseHealth {
        server_id: t.server_id,
        server: server.to_owned(),
        target,
        health,
        last_success_id: good.map(|g| g.id),
        last_success_at: good.and_then(|g| g.finished_at),
        problem_id,
        problem,
        next_run,
        overdue,
        scheduled,
        gone_since: t.gone_since,
        last_proven_at,
        proof_flag,
        size_bytes: to_bytes,
        vs_previous,
        vs_month,
    }
}

/// Storage: per destination (from [`Engine::destinations`]), per tier and
/// the stored total's history and projection.
fn storage(
    rows: &OverviewRows,
    destinations: Vec<model::destination::Destination>,
    now: DateTime<Utc>,
) -> Storage {
    let mut tiers: Vec<TierUsage> = Tier::ALL
        .iter()
        .map(|t| TierUsage {
            tier: Some(*t),
            backups: 0,
            stored_bytes: 0,
        })
        .chain(std::iter::once(TierUsage {
            tier: None,
            backups: 0,
            stored_bytes: 0,
        }))
        .collect();
    let (mut total, mut count) = (0i64, 0i64);
    for h in &rows.held {
        total += h.bytes;
        count += h.backups;
        let named: Vec<Tier> = h
            .tiers
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter_map(|n| Tier::ALL.into_iter().find(|t| t.name() == n.trim()))
            .collect();
        let slots: Vec<Option<Tier>> = if named.is_empty() {
            vec![None]
        } else {
            named.into_iter().map(Some).collect()
        };
        for slot in slots {
            if let Some(u) = tiers.iter_mut().find(|u| u.tier == slot) {
                u.backups += h.backups.max(0) as u64;
                u.stored_bytes += h.bytes.max(0) as u64;
            }
        }
    }
    tiers.retain(|u| u.backups > 0);
    let added: Vec<_> = rows.added.iter().filter_map(|d| d.date()).collect();
    let removed: Vec<_> = rows.removed.iter().filter_map(|d| d.date()).collect();
    let history = daily_totals(total, now.date_naive(), HISTORY_DAYS, &added, &removed);
    let projection = project(&history, PROJECTION_DAYS);
    Storage {
        destinations: destinations
            .into_iter()
            .map(|d| DestinationUsage {
                name: d.name,
                describe: d.describe,
                copies: d.copies,
                stored_bytes: d.stored_bytes,
            })
            .collect(),
        tiers,
        total_bytes: total.max(0) as u64,
        backups: count.max(0) as u64,
        history,
        projection,
    }
}
