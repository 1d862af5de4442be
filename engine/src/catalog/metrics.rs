//! The catalog queries behind `/metrics` and `/healthz`: a handful of
//! aggregates over `backups`, `test_restores`, `backup_copies` and
//! `alert_deliveries`, cheap
//! enough to run at every scrape. Only rows of servers that still exist
//! are counted (a deleted server's backups are no longer watched), under
//! the server's current name.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Catalog, CatalogError, GOOD};

/// One database (or one server's globals) that has at least one run.
#[derive(Debug, Clone, FromRow)]
pub struct TargetRow {
    pub server: String,
    /// `database` or `globals`.
    pub kind: String,
    /// `''` for globals.
    pub database: String,
    /// The newest good backup (succeeded, verified, suspect), if any.
    pub good_finished_at: Option<DateTime<Utc>>,
    pub good_stored_bytes: Option<i64>,
    pub good_duration_ms: Option<i64>,
    /// The newest finished run (good or failed), if any.
    pub last_status: Option<String>,
    pub last_duration_ms: Option<i64>,
}

/// Finished runs of one target with one status.
#[derive(Debug, Clone, FromRow)]
pub struct RunCount {
    pub server: String,
    pub kind: String,
    pub database: String,
    pub status: String,
    pub runs: i64,
}

/// A good, not yet pruned backup and the tiers it holds (comma-separated).
#[derive(Debug, Clone, FromRow)]
pub struct HeldRow {
    pub server: String,
    pub kind: String,
    pub database: String,
    pub tiers: Option<String>,
}

/// The newest finished test-restore of a database.
#[derive(Debug, Clone, FromRow)]
pub struct LastTestRestore {
    pub server: String,
    pub database: String,
    /// `passed` or `failed`.
    pub status: String,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Finished test-restores of a database with one status.
#[derive(Debug, Clone, FromRow)]
pub struct TestRestoreCount {
    pub server: String,
    pub database: String,
    pub status: String,
    pub runs: i64,
}

/// Copies on one destination with one status, and their bytes.
#[derive(Debug, Clone, FromRow)]
pub struct CopyCount {
    pub destination: String,
    pub status: String,
    pub copies: i64,
    pub bytes: i64,
}

/// Alert deliveries to one channel (by the name they were recorded under)
/// with one status (`pending`, `sent`, `failed`), and their attempts.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryCount {
    pub channel: String,
    pub status: String,
    pub deliveries: i64,
    pub attempts: i64,
}

/// Everything `/metrics` reads from the catalog, in one consistent read.
#[derive(Debug, Clone, Default)]
pub struct MetricsRows {
    pub targets: Vec<TargetRow>,
    pub runs: Vec<RunCount>,
    pub held: Vec<HeldRow>,
    pub test_restores: Vec<LastTestRestore>,
    pub test_restore_counts: Vec<TestRestoreCount>,
    pub copies: Vec<CopyCount>,
    pub deliveries: Vec<DeliveryCount>,
    /// The names of the alert channels that exist (listed with zeros
    /// before their first delivery).
    pub channels: Vec<String>,
}

impl Catalog {
    /// A trivial query, to tell whether the catalog answers (for
    /// `/healthz`); gives up after `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), CatalogError> {
        match tokio::time::timeout(
            timeout,
            // Reads a page of the file, not only the connection.
            sqlx::query_scalar::<_, i64>("SELECT EXISTS (SELECT 1 FROM servers)")
                .fetch_one(&self.pool),
        )
        .await
        {
            Ok(r) => r.map(|_| ()).map_err(CatalogError::from),
            Err(_) => Err(CatalogError::Query(sqlx::Error::PoolTimedOut)),
        }
    }

    /// The aggregates `/metrics` shows, read in one transaction.
    pub async fn metrics_rows(&self) -> Result<MetricsRows, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let targets = sqlx::query_as::<_, TargetRow>(&format!(
            "WITH t AS (
               SELECT b.server_id, b.kind, b.database,
                      MAX(CASE WHEN b.{GOOD} THEN b.id END) AS good_id,
                      MAX(CASE WHEN b.status NOT IN ('queued', 'running') THEN b.id END) AS last_id
                 FROM backups b
                WHERE b.server_id IS NOT NULL
                GROUP BY b.server_id, b.kind, b.database)
             SELECT s.name AS server, t.kind, t.database,
                    g.finished_at AS good_finished_at, g.stored_bytes AS good_stored_bytes,
                    g.duration_ms AS good_duration_ms,
                    d.status AS last_status, d.duration_ms AS last_duration_ms
               FROM t JOIN servers s ON s.id = t.server_id
               LEFT JOIN backups g ON g.id = t.good_id
               LEFT JOIN backups d ON d.id = t.last_id
              ORDER BY s.name, t.kind, t.database"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let runs = sqlx::query_as::<_, RunCount>(
            "SELECT s.name AS server, b.kind, b.database, b.status, COUNT(*) AS runs
               FROM backups b JOIN servers s ON s.id = b.server_id
              WHERE b.status NOT IN ('queued', 'running')
              GROUP BY s.id, b.kind, b.database, b.status
              ORDER BY s.name, b.kind, b.database, b.status",
        )
        .fetch_all(&mut *tx)
        .await?;
        let held = sqlx::query_as::<_, HeldRow>(&format!(
            "SELECT s.name AS server, b.kind, b.database, b.tiers
               FROM backups b JOIN servers s ON s.id = b.server_id
              WHERE b.{GOOD} AND b.pruned_at IS NULL"
        ))
        .fetch_all(&mut *tx)
        .await?;
        let test_restores = sqlx::query_as::<_, LastTestRestore>(
            "SELECT s.name AS server, t.database, t.status, t.finished_at
               FROM test_restores t JOIN servers s ON s.id = t.server_id
              WHERE t.id IN (SELECT MAX(id) FROM test_restores
                              WHERE status IN ('passed', 'failed') AND server_id IS NOT NULL
                              GROUP BY server_id, database)
              ORDER BY s.name, t.database",
        )
        .fetch_all(&mut *tx)
        .await?;
        let test_restore_counts = sqlx::query_as::<_, TestRestoreCount>(
            "SELECT s.name AS server, t.database, t.status, COUNT(*) AS runs
               FROM test_restores t JOIN servers s ON s.id = t.server_id
              WHERE t.status IN ('passed', 'failed')
              GROUP BY s.id, t.database, t.status
              ORDER BY s.name, t.database, t.status",
        )
        .fetch_all(&mut *tx)
        .await?;
        let copies = sqlx::query_as::<_, CopyCount>(
            "SELECT destination, status, COUNT(*) AS copies, COALESCE(SUM(bytes), 0) AS bytes
               FROM backup_copies
              GROUP BY destination, status
              ORDER BY destination, status",
        )
        .fetch_all(&mut *tx)
        .await?;
        let deliveries = sqlx::query_as::<_, DeliveryCount>(
            "SELECT channel_name AS channel, status, COUNT(*) AS deliveries,
                    COALESCE(SUM(attempts), 0) AS attempts
               FROM alert_deliveries
              GROUP BY channel_name, status
              ORDER BY channel_name, status",
        )
        .fetch_all(&mut *tx)
        .await?;
        let channels =
            sqlx::query_scalar::<_, String>("SELECT name FROM alert_channels ORDER BY name")
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(MetricsRows {
            deliveries,
            channels,
            targets,
            runs,
            held,
            test_restores,
            test_restore_counts,
            copies,
        })
    }
}
