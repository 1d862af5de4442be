//! Catalog queries of destinations (`destinations`, migration 0011) and of
//! the copies each backup has on them (`backup_copies`).

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Catalog, CatalogError};
use model::destination::{BackupCopy, CopyStatus, DestinationSettings, ProbeReport};

/// A destination as stored: settings without the secret, the secret sealed.
#[derive(Debug, Clone)]
pub struct DestinationRow {
    pub id: i64,
    pub name: String,
    pub settings: DestinationSettings,
    pub root: String,
    pub concurrency: u32,
    pub secret_sealed: Option<String>,
    pub from_config: bool,
    pub last_test: Option<ProbeReport>,
}

#[derive(FromRow)]
struct RawDestination {
    id: i64,
    name: String,
    settings: String,
    root: String,
    concurrency: i64,
    secret_sealed: Option<String>,
    from_config: bool,
    last_test: Option<String>,
}

impl RawDestination {
    fn into_row(self) -> Result<DestinationRow, CatalogError> {
        let settings = serde_json::from_str(&self.settings).map_err(|e| CatalogError::Corrupt {
            id: self.id,
            detail: format!("destination {:?} settings: {e}", self.name),
        })?;
        Ok(DestinationRow {
            id: self.id,
            name: self.name,
            settings,
            root: self.root,
            concurrency: self.concurrency.clamp(1, 64) as u32,
            secret_sealed: self.secret_sealed,
            from_config: self.from_config,
            last_test: self.last_test.and_then(|t| serde_json::from_str(&t).ok()),
        })
    }
}

/// What is written when a destination is added or replaced.
#[derive(Debug, Clone)]
pub struct NewDestination {
    pub name: String,
    pub settings: DestinationSettings,
    pub root: String,
    pub concurrency: u32,
    pub secret_sealed: Option<String>,
    pub from_config: bool,
}

const DEST_COLS: &str =
    "id, name, settings, root, concurrency, secret_sealed, from_config, last_test";

#[derive(FromRow)]
struct RawCopy {
    backup_id: i64,
    destination: String,
    status: String,
    dir: String,
    bytes: i64,
    error: Option<String>,
    attempts: i64,
    updated_at: DateTime<Utc>,
}

impl RawCopy {
    fn into_copy(self) -> Result<BackupCopy, CatalogError> {
        let status = CopyStatus::parse(&self.status).ok_or_else(|| CatalogError::Corrupt {
            id: self.backup_id,
            detail: format!("copy status {:?}", self.status),
        })?;
        Ok(BackupCopy {
            backup_id: self.backup_id,
            destination: self.destination,
            status,
            dir: self.dir,
            bytes: self.bytes.max(0) as u64,
            error: self.error,
            attempts: self.attempts.clamp(0, u32::MAX as i64) as u32,
            updated_at: self.updated_at.to_rfc3339(),
        })
    }
}

const COPY_COLS: &str = "backup_id, destination, status, dir, bytes, error, attempts, updated_at";

impl Catalog {
    pub async fn destinations(&self) -> Result<Vec<DestinationRow>, CatalogError> {
        let rows: Vec<RawDestination> = sqlx::query_as(&format!(
            "SELECT {DEST_COLS} FROM destinations ORDER BY name"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(RawDestination::into_row).collect()
    }

    pub async fn destination(&self, name: &str) -> Result<DestinationRow, CatalogError> {
        let row: Option<RawDestination> = sqlx::query_as(&format!(
            "SELECT {DEST_COLS} FROM destinations WHERE name = ?"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        row.ok_or_else(|| CatalogError::NoSuchDestination(name.to_owned()))?
            .into_row()
    }

    pub async fn insert_destination(&self, d: &NewDestination) -> Result<(), CatalogError> {
        let now = Utc::now();
        let r = sqlx::query(
            "INSERT INTO destinations (name, kind, settings, root, concurrency, secret_sealed, from_config, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&d.name)
        .bind(d.settings.kind())
        .bind(serde_json::to_string(&d.settings).expect("settings serialize"))
        .bind(&d.root)
        .bind(i64::from(d.concurrency))
        .bind(&d.secret_sealed)
        .bind(d.from_config)
        .bind(now)
        .bind(now)
        .execute(self.pool())
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(CatalogError::DuplicateDestination(d.name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the destination `name` (which may be renamed to `d.name`).
    pub async fn update_destination(
        &self,
        name: &str,
        d: &NewDestination,
    ) -> Result<(), CatalogError> {
        let r = sqlx::query(
            "UPDATE destinations SET name = ?, kind = ?, settings = ?, root = ?, concurrency = ?, \
             secret_sealed = ?, from_config = ?, updated_at = ? WHERE name = ?",
        )
        .bind(&d.name)
        .bind(d.settings.kind())
        .bind(serde_json::to_string(&d.settings).expect("settings serialize"))
        .bind(&d.root)
        .bind(i64::from(d.concurrency))
        .bind(&d.secret_sealed)
        .bind(d.from_config)
        .bind(Utc::now())
        .bind(name)
        .execute(self.pool())
        .await;
        match r {
            Ok(done) if done.rows_affected() == 0 => {
                Err(CatalogError::NoSuchDestination(name.to_owned()))
            }
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(CatalogError::DuplicateDestination(d.name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Rows declared in pgshelf.toml whose name is not in `declared` any
    /// more become ordinary rows (editable, removable).
    pub async fn release_destinations(&self, declared: &[String]) -> Result<u64, CatalogError> {
        let list = serde_json::to_string(declared).expect("names serialize");
        Ok(sqlx::query(
            "UPDATE destinations SET from_config = 0 WHERE from_config = 1 \
             AND name NOT IN (SELECT value FROM json_each(?))",
        )
        .bind(list)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    pub async fn delete_destination(&self, name: &str) -> Result<(), CatalogError> {
        let done = sqlx::query("DELETE FROM destinations WHERE name = ?")
            .bind(name)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(CatalogError::NoSuchDestination(name.to_owned()));
        }
        Ok(())
    }

    pub async fn set_destination_test(
        &self,
        name: &str,
        report: &ProbeReport,
    ) -> Result<(), CatalogError> {
        sqlx::query("UPDATE destinations SET last_test = ? WHERE name = ?")
            .bind(serde_json::to_string(report).expect("report serializes"))
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    // ---- copies --------------------------------------------------------

    /// Records (or resets) a copy as `status`.
    pub async fn put_copy(
        &self,
        backup_id: i64,
        destination: &str,
        dir: &str,
        status: CopyStatus,
        bytes: u64,
        error: Option<&str>,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO backup_copies (backup_id, destination, status, dir, bytes, error, attempts, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, 1, ?) \
             ON CONFLICT (backup_id, destination) DO UPDATE SET status = excluded.status, \
             dir = excluded.dir, bytes = excluded.bytes, error = excluded.error, updated_at = excluded.updated_at",
        )
        .bind(backup_id)
        .bind(destination)
        .bind(status.as_str())
        .bind(dir)
        .bind(bytes as i64)
        .bind(error)
        .bind(Utc::now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A failed copy, with when to try it again from a complete copy
    /// (`None`: no further attempt).
    pub async fn fail_copy(
        &self,
        backup_id: i64,
        destination: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE backup_copies SET status = 'failed', error = ?, retry_at = ?, updated_at = ? \
             WHERE backup_id = ? AND destination = ?",
        )
        .bind(error)
        .bind(retry_at)
        .bind(Utc::now())
        .bind(backup_id)
        .bind(destination)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A retry of a failed copy begins: one more attempt, no retry due.
    pub async fn begin_copy_retry(
        &self,
        backup_id: i64,
        destination: &str,
    ) -> Result<u32, CatalogError> {
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE backup_copies SET status = 'uploading', attempts = attempts + 1, retry_at = NULL, \
             error = NULL, updated_at = ? WHERE backup_id = ? AND destination = ? AND status = 'failed' \
             RETURNING attempts",
        )
        .bind(Utc::now())
        .bind(backup_id)
        .bind(destination)
        .fetch_optional(self.pool())
        .await?;
        Ok(attempts.unwrap_or(0).max(0) as u32)
    }

    /// Failed copies whose retry is due at `now`: (backup id, destination).
    pub async fn due_copy_retries(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, String)>, CatalogError> {
        Ok(sqlx::query_as(
            "SELECT c.backup_id, c.destination FROM backup_copies c JOIN backups b ON b.id = c.backup_id \
             WHERE c.status = 'failed' AND c.retry_at IS NOT NULL AND c.retry_at <= ? \
             AND b.status IN ('succeeded', 'verified', 'suspect') ORDER BY c.retry_at LIMIT 20",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn copies(&self, backup_id: i64) -> Result<Vec<BackupCopy>, CatalogError> {
        let rows: Vec<RawCopy> = sqlx::query_as(&format!(
            "SELECT {COPY_COLS} FROM backup_copies WHERE backup_id = ? ORDER BY rowid"
        ))
        .bind(backup_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(RawCopy::into_copy).collect()
    }

    /// Complete copies and their bytes, per destination name.
    pub async fn copy_usage(&self) -> Result<Vec<(String, i64, i64)>, CatalogError> {
        Ok(sqlx::query_as(
            "SELECT destination, COUNT(*), COALESCE(SUM(bytes), 0) FROM backup_copies \
             WHERE status = 'complete' GROUP BY destination",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The backup already recorded for an artifact folder, if any: a copy
    /// in that folder, or a location ending in it (folders carry the UTC
    /// time and the backup id, so they do not collide).
    pub async fn backup_by_dir(&self, dir: &str) -> Result<Option<i64>, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT backup_id FROM backup_copies WHERE dir = ?1 \
             UNION SELECT id FROM backups WHERE location IS NOT NULL AND substr(location, -length(?1)) = ?1 \
             LIMIT 1",
        )
        .bind(dir)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Policies and server plans that name `destination`, in words
    /// (`prod/app`, `prod (globals)`, `prod (default policy)`).
    pub async fn destination_users(&self, destination: &str) -> Result<Vec<String>, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT s.name || CASE WHEN p.database = '' THEN ' (default policy)' ELSE '/' || p.database END \
             FROM policies p JOIN servers s ON s.id = p.server_id, json_each(p.body, '$.destinations') j \
             WHERE j.value = ?1 \
             UNION ALL \
             SELECT s.name || ' (globals)' FROM server_plans g JOIN servers s ON s.id = g.server_id, \
             json_each(g.body, '$.globals.destinations') j WHERE j.value = ?1",
        )
        .bind(destination)
        .fetch_all(self.pool())
        .await?)
    }

    /// Good backups whose only complete copy is on `destination`.
    pub async fn only_on(&self, destination: &str) -> Result<i64, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM backup_copies c JOIN backups b ON b.id = c.backup_id \
             WHERE c.destination = ?1 AND c.status = 'complete' \
             AND b.status IN ('succeeded', 'verified', 'suspect') \
             AND NOT EXISTS (SELECT 1 FROM backup_copies o WHERE o.backup_id = c.backup_id \
                             AND o.destination <> ?1 AND o.status = 'complete')",
        )
        .bind(destination)
        .fetch_one(self.pool())
        .await?)
    }

    /// Stored bytes of the newest good backup of a target (0: none).
    pub async fn last_good_size(
        &self,
        server_id: i64,
        target: &model::backup::Target,
    ) -> Result<u64, CatalogError> {
        let size = self
            .newest_good(super::NewestGood::StoredBytes, server_id, target)
            .await?;
        Ok(size.unwrap_or(0).max(0) as u64)
    }

    /// Records a backup found on a destination (catalog import): finished,
    /// `succeeded` (good, not verified by this pgshelf), its copy complete.
    pub async fn insert_imported(&self, b: &ImportedBackup) -> Result<i64, CatalogError> {
        let mut tx = self.pool().begin().await?;
        let duration = (b.finished_at - b.started_at).num_milliseconds().max(0);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO backups (server_id, server_name, kind, database, status, trigger, queued_at, \
             started_at, finished_at, duration_ms, raw_bytes, stored_bytes, format, destination, location, \
             pg_dump_version, server_version, manifest, compression, warnings, attempt) \
             VALUES (?, ?, ?, ?, 'succeeded', 'import', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id",
        )
        .bind(b.server_id)
        .bind(&b.server_name)
        .bind(&b.kind)
        .bind(&b.database)
        .bind(b.started_at)
        .bind(b.started_at)
        .bind(b.finished_at)
        .bind(duration)
        .bind(b.raw_bytes as i64)
        .bind(b.stored_bytes as i64)
        .bind(&b.format)
        .bind(&b.destination)
        .bind(&b.location)
        .bind(&b.pg_dump_version)
        .bind(&b.server_version)
        .bind(&b.manifest)
        .bind(&b.compression)
        .bind(&b.note)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO backup_copies (backup_id, destination, status, dir, bytes, attempts, updated_at) \
             VALUES (?, ?, 'complete', ?, ?, 1, ?)",
        )
        .bind(id)
        .bind(&b.destination)
        .bind(&b.dir)
        .bind(b.stored_bytes as i64)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}

/// A backup read from a manifest on a destination.
#[derive(Debug, Clone)]
pub struct ImportedBackup {
    pub server_id: Option<i64>,
    pub server_name: String,
    /// `database` or `globals`.
    pub kind: String,
    pub database: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub format: String,
    pub destination: String,
    pub dir: String,
    pub location: String,
    pub pg_dump_version: String,
    pub server_version: String,
    pub manifest: String,
    pub compression: String,
    pub note: String,
}
