//! The catalog queries behind the overview (`Engine::overview`): a few
//! aggregates read in one transaction. Each reads an index seek or a short
//! range (migration 0014), never every backup: per target the newest runs
//! are found by `ORDER BY id DESC LIMIT 1` on `backups_by_database`, the
//! good backups around a moment by `backups_good_by_target`; the stored
//! total's history by day from `backups_by_status_finished` and
//! `backups_by_pruned`; what is held per tier from `backups_held`.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::FromRow;

use super::{
    backups_of, Backup, BackupRecord, Catalog, CatalogError, StoredBody, BACKUP_COLUMNS, GOOD,
};

/// One database known on a server (gone ones too), or a server's globals
/// (`kind = 'globals'`, `database = ''`), with the ids of its newest runs
/// and the good backups its size is compared with.
#[derive(Debug, Clone, FromRow)]
pub struct TargetIds {
    pub server_id: i64,
    pub kind: String,
    pub database: String,
    /// When it was first seen (databases) or the server was added (globals).
    pub since: DateTime<Utc>,
    pub gone_since: Option<DateTime<Utc>>,
    /// The newest finished run that is not cancelled (good or failed).
    pub finished_id: Option<i64>,
    /// The newest good backup.
    pub good_id: Option<i64>,
    /// The good backup before it.
    pub prev_id: Option<i64>,
    pub prev_at: Option<DateTime<Utc>>,
    pub prev_bytes: Option<i64>,
    /// The newest good backup finished at or before the compare moment.
    pub before_id: Option<i64>,
    pub before_at: Option<DateTime<Utc>>,
    pub before_bytes: Option<i64>,
    /// The oldest good backup finished after it.
    pub after_id: Option<i64>,
    pub after_at: Option<DateTime<Utc>>,
    pub after_bytes: Option<i64>,
}

/// The newest finished test-restore's status and the newest pass of a database.
#[derive(Debug, Clone, FromRow)]
pub struct ProofRow {
    pub server_id: i64,
    pub database: String,
    pub last_status: Option<String>,
    pub passed_at: Option<DateTime<Utc>>,
}

/// Good backups still stored holding one combination of tiers
/// (comma-separated; `None` or `''`: none).
#[derive(Debug, Clone, FromRow)]
pub struct HeldTiers {
    pub tiers: Option<String>,
    pub backups: i64,
    pub bytes: i64,
}

/// Bytes per UTC day (`YYYY-MM-DD`).
#[derive(Debug, Clone, FromRow)]
pub struct DayBytes {
    pub day: String,
    pub bytes: i64,
}

impl DayBytes {
    pub fn date(&self) -> Option<(NaiveDate, i64)> {
        NaiveDate::parse_from_str(&self.day, "%Y-%m-%d")
            .ok()
            .map(|d| (d, self.bytes))
    }
}

/// Everything the overview reads from the catalog, in one consistent read.
#[derive(Debug, Clone, Default)]
pub struct OverviewRows {
    pub targets: Vec<TargetIds>,
    /// The newest finished and newest good backups of the targets, by id.
    pub backups: Vec<Backup>,
    pub proofs: Vec<ProofRow>,
    /// Server-wide plans and policies (`database = ''`: the server default).
    pub plans: Vec<(i64, StoredBody)>,
    pub policies: Vec<(i64, String, StoredBody)>,
    pub problems: Vec<Backup>,
    pub active: Vec<Backup>,
    pub held: Vec<HeldTiers>,
    pub added: Vec<DayBytes>,
    pub removed: Vec<DayBytes>,
}

/// Where the overview's windows start.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    /// The moment sizes are compared with (30 days ago).
    pub compare_at: DateTime<Utc>,
    /// Failures and suspect backups since.
    pub problems_since: DateTime<Utc>,
    pub problems_limit: i64,
    /// Added and removed bytes per day since (the start of a UTC day).
    pub history_since: DateTime<Utc>,
}

impl Catalog {
    /// The overview's rows (servers that still exist only, except storage,
    /// which counts every stored backup).
    pub async fn overview_rows(&self, w: Windows) -> Result<OverviewRows, CatalogError> {
        let mut tx = self.pool().begin().await?;
        // Same target: server, kind and database.
        let same = |a: &str| {
            format!(
                "{a}.server_id = t.server_id AND {a}.kind = t.kind AND {a}.database = t.database"
            )
        };
        let targets = sqlx::query_as::<_, TargetIds>(&format!(
            "WITH t(server_id, kind, database, since, gone_since) AS (
               SELECT server_id, 'database', name, first_seen, gone_since FROM known_databases
               UNION ALL SELECT id, 'globals', '', created_at, NULL FROM servers),
             r AS (
               SELECT t.*,
                 (SELECT b.id FROM backups b WHERE {b}
                    AND b.status IN ('succeeded', 'verified', 'suspect', 'failed')
                  ORDER BY b.id DESC LIMIT 1) AS finished_id,
                 (SELECT b.id FROM backups b WHERE {b} AND b.{GOOD}
                  ORDER BY b.id DESC LIMIT 1) AS good_id,
                 (SELECT b.id FROM backups b WHERE {b} AND b.{GOOD} AND b.finished_at <= ?1
                  ORDER BY b.finished_at DESC LIMIT 1) AS before_id,
                 (SELECT b.id FROM backups b WHERE {b} AND b.{GOOD} AND b.finished_at > ?1
                  ORDER BY b.finished_at ASC LIMIT 1) AS after_id
               FROM t)
             SELECT r.server_id, r.kind, r.database, r.since, r.gone_since,
                    r.finished_id, r.good_id,
                    p.id AS prev_id, p.finished_at AS prev_at, p.stored_bytes AS prev_bytes,
                    r.before_id, m.finished_at AS before_at, m.stored_bytes AS before_bytes,
                    r.after_id, n.finished_at AS after_at, n.stored_bytes AS after_bytes
               FROM r
               LEFT JOIN backups p ON p.id = (
                    SELECT b.id FROM backups b WHERE {rb} AND b.{GOOD} AND b.id < r.good_id
                     ORDER BY b.id DESC LIMIT 1)
               LEFT JOIN backups m ON m.id = r.before_id
               LEFT JOIN backups n ON n.id = r.after_id
              ORDER BY r.server_id, r.kind, r.database",
            b = same("b"),
            rb = same("b").replace("t.", "r."),
        ))
        .bind(w.compare_at)
        .fetch_all(&mut *tx)
        .await?;

        let ids: Vec<String> = targets
            .iter()
            .flat_map(|t| [t.finished_id, t.good_id])
            .flatten()
            .map(|id| id.to_string())
            .collect();
        let backups = if ids.is_empty() {
            Vec::new()
        } else {
            // Integers from the catalog itself, written in as literals.
            backups_of(
                sqlx::query_as::<_, BackupRecord>(&format!(
                    "SELECT {BACKUP_COLUMNS} FROM backups WHERE id IN ({})",
                    ids.join(",")
                ))
                .fetch_all(&mut *tx)
                .await?,
            )?
        };

        let proofs = sqlx::query_as::<_, ProofRow>(
            "SELECT k.server_id, k.name AS database,
                    (SELECT t.status FROM test_restores t
                      WHERE t.server_id = k.server_id AND t.database = k.name AND t.status <> 'running'
                      ORDER BY t.id DESC LIMIT 1) AS last_status,
                    (SELECT t.finished_at FROM test_restores t
                      WHERE t.server_id = k.server_id AND t.database = k.name AND t.status = 'passed'
                      ORDER BY t.id DESC LIMIT 1) AS passed_at
               FROM known_databases k",
        )
        .fetch_all(&mut *tx)
        .await?;

        let plans = sqlx::query_as::<_, (i64, String, bool, DateTime<Utc>)>(
            "SELECT server_id, body, declared, updated_at FROM server_plans",
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(id, body, declared, updated_at)| {
            (
                id,
                StoredBody {
                    body,
                    declared,
                    updated_at,
                },
            )
        })
        .collect();
        let policies = sqlx::query_as::<_, (i64, String, String, bool, DateTime<Utc>)>(
            "SELECT server_id, database, body, declared, updated_at FROM policies",
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(id, db, body, declared, updated_at)| {
            (
                id,
                db,
                StoredBody {
                    body,
                    declared,
                    updated_at,
                },
            )
        })
        .collect();

        let problems = backups_of(
            sqlx::query_as::<_, BackupRecord>(&format!(
                "SELECT {BACKUP_COLUMNS} FROM backups
                  WHERE status IN ('failed', 'suspect') AND finished_at >= ? AND server_id IS NOT NULL
                  ORDER BY finished_at DESC, id DESC LIMIT ?"
            ))
            .bind(w.problems_since)
            .bind(w.problems_limit)
            .fetch_all(&mut *tx)
            .await?,
        )?;
        let active = backups_of(
            sqlx::query_as::<_, BackupRecord>(&format!(
                "SELECT {BACKUP_COLUMNS} FROM backups WHERE status IN ('queued', 'running') ORDER BY id"
            ))
            .fetch_all(&mut *tx)
            .await?,
        )?;
        let held = sqlx::query_as::<_, HeldTiers>(&format!(
            "SELECT tiers, COUNT(*) AS backups, COALESCE(SUM(stored_bytes), 0) AS bytes
               FROM backups WHERE {GOOD} AND pruned_at IS NULL
              GROUP BY tiers"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let added = sqlx::query_as::<_, DayBytes>(&format!(
            "SELECT substr(finished_at, 1, 10) AS day, COALESCE(SUM(stored_bytes), 0) AS bytes
               FROM backups WHERE {GOOD} AND finished_at >= ?
              GROUP BY 1"
        ))
        .bind(w.history_since)
        .fetch_all(&mut *tx)
        .await?;
        let removed = sqlx::query_as::<_, DayBytes>(&format!(
            "SELECT substr(pruned_at, 1, 10) AS day, COALESCE(SUM(stored_bytes), 0) AS bytes
               FROM backups WHERE pruned_at >= ? AND {GOOD}
              GROUP BY 1"
        ))
        .bind(w.history_since)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(OverviewRows {
            targets,
            backups,
            proofs,
            plans,
            policies,
            problems,
            active,
            held,
            added,
            removed,
        })
    }
}
