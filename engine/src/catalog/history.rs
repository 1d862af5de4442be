//! The catalog queries behind a database's history (its page's charts): the
//! good backups of a range with their sizes, the tables each backup holds
//! (`backup_tables`, kept from the manifests by triggers, migration 0015),
//! and the failed runs. Ranges go by when a backup was taken
//! (`COALESCE(started_at, queued_at)`, indexed as `backups_by_taken`).

use chrono::{DateTime, Utc};
use model::history::{FailedRun, SizePoint};
use sqlx::FromRow;

use super::{Catalog, CatalogError, GOOD};

/// When a backup was taken, as the index `backups_by_taken` has it.
const TAKEN: &str = "COALESCE(started_at, queued_at)";

#[derive(FromRow)]
struct SizeRow {
    id: i64,
    at: DateTime<Utc>,
    stored_bytes: i64,
    raw_bytes: i64,
}

#[derive(FromRow)]
struct FailedRow {
    id: i64,
    at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    trigger: String,
    attempt: i64,
    cause: Option<String>,
    stderr_tail: Option<String>,
}

/// A table in one backup, as `backup_tables` holds it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct BackupTableRow {
    pub backup_id: i64,
    pub schema_name: String,
    pub table_name: String,
    pub bytes: i64,
    pub rows: i64,
}

/// The lower bound of a range: `since`, or before any backup.
fn lower(since: Option<DateTime<Utc>>) -> DateTime<Utc> {
    since.unwrap_or(DateTime::UNIX_EPOCH)
}

/// The ids as a JSON array, for `IN (SELECT value FROM json_each(?))`.
fn id_list(ids: &[i64]) -> String {
    let parts: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("[{}]", parts.join(","))
}

impl Catalog {
    /// Every good backup of `database` on `server_id` taken at or after
    /// `since` (all when `None`), oldest first.
    pub async fn size_history(
        &self,
        server_id: i64,
        database: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<SizePoint>, CatalogError> {
        let rows = sqlx::query_as::<_, SizeRow>(&format!(
            "SELECT id, {TAKEN} AS at, stored_bytes, raw_bytes FROM backups
              WHERE server_id = ? AND kind = 'database' AND database = ? AND {TAKEN} >= ? AND {GOOD}
              ORDER BY {TAKEN}, id"
        ))
        .bind(server_id)
        .bind(database)
        .bind(lower(since))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| SizePoint {
                backup_id: r.id,
                at: r.at,
                stored_bytes: r.stored_bytes,
                raw_bytes: r.raw_bytes,
            })
            .collect())
    }

    /// The `limit` largest tables of the newest of `backup_ids` that has
    /// tables recorded, largest first (by bytes, then name).
    pub async fn largest_tables(
        &self,
        backup_ids: &[i64],
        limit: usize,
    ) -> Result<Vec<BackupTableRow>, CatalogError> {
        Ok(sqlx::query_as::<_, BackupTableRow>(
            "SELECT backup_id, schema_name, table_name, bytes, rows FROM backup_tables
              WHERE backup_id = (SELECT max(backup_id) FROM backup_tables
                                  WHERE backup_id IN (SELECT value FROM json_each(?1)))
              ORDER BY bytes DESC, schema_name, table_name LIMIT ?2",
        )
        .bind(id_list(backup_ids))
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?)
    }

    /// One table's rows in each of `backup_ids` that holds it, by backup id.
    pub async fn table_in_backups(
        &self,
        schema: &str,
        table: &str,
        backup_ids: &[i64],
    ) -> Result<Vec<BackupTableRow>, CatalogError> {
        Ok(sqlx::query_as::<_, BackupTableRow>(
            "SELECT backup_id, schema_name, table_name, bytes, rows FROM backup_tables
              WHERE backup_id IN (SELECT value FROM json_each(?1))
                AND schema_name = ?2 AND table_name = ?3
              ORDER BY backup_id",
        )
        .bind(id_list(backup_ids))
        .bind(schema)
        .bind(table)
        .fetch_all(self.pool())
        .await?)
    }

    /// The newest `limit` failed runs of `database` on `server_id` taken at
    /// or after `since`, newest first, and how many there are in all.
    pub async fn failed_runs(
        &self,
        server_id: i64,
        database: &str,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Result<(Vec<FailedRun>, usize), CatalogError> {
        let mut tx = self.pool().begin().await?;
        let rows = sqlx::query_as::<_, FailedRow>(&format!(
            "SELECT id, {TAKEN} AS at, finished_at, trigger, attempt, cause, stderr_tail FROM backups
              WHERE server_id = ? AND kind = 'database' AND database = ? AND {TAKEN} >= ?
                AND status = 'failed'
              ORDER BY {TAKEN} DESC, id DESC LIMIT ?"
        ))
        .bind(server_id)
        .bind(database)
        .bind(lower(since))
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM backups
              WHERE server_id = ? AND kind = 'database' AND database = ? AND {TAKEN} >= ?
                AND status = 'failed'"
        ))
        .bind(server_id)
        .bind(database)
        .bind(lower(since))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let runs = rows
            .into_iter()
            .map(|r| FailedRun {
                backup_id: r.id,
                at: r.at,
                finished_at: r.finished_at,
                trigger: r.trigger,
                attempt: r.attempt.clamp(1, u32::MAX as i64) as u32,
                cause: r.cause,
                stderr_tail: r.stderr_tail,
            })
            .collect();
        Ok((runs, total.max(0) as usize))
    }
}
