//! Catalog queries of restores: scratch databases (`scratch_databases`) and
//! the record of every restore (`restore_runs`), migration 0007.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Catalog, CatalogError};
use model::restore::RestoreRun;

/// A scratch database as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScratchRecord {
    pub id: i64,
    pub server_id: i64,
    /// The database's name on the server.
    pub name: String,
    /// The source database of the backup restored into it.
    pub database: String,
    pub backup_id: i64,
    /// `table` or `test`.
    pub purpose: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub dropped_at: Option<DateTime<Utc>>,
    /// `schema.table` of each table restored into it (empty: the whole backup).
    pub tables: Vec<String>,
}

#[derive(FromRow)]
struct ScratchRow {
    id: i64,
    server_id: i64,
    name: String,
    database: String,
    backup_id: i64,
    purpose: String,
    created_by: String,
    created_at: DateTime<Utc>,
    dropped_at: Option<DateTime<Utc>>,
    tables: String,
}

impl From<ScratchRow> for ScratchRecord {
    fn from(r: ScratchRow) -> Self {
        ScratchRecord {
            id: r.id,
            server_id: r.server_id,
            name: r.name,
            database: r.database,
            backup_id: r.backup_id,
            purpose: r.purpose,
            created_by: r.created_by,
            created_at: r.created_at,
            dropped_at: r.dropped_at,
            tables: serde_json::from_str(&r.tables).unwrap_or_default(),
        }
    }
}

/// A scratch database to record.
#[derive(Debug, Clone)]
pub struct NewScratch<'a> {
    pub server_id: i64,
    pub name: &'a str,
    pub database: &'a str,
    pub backup_id: i64,
    pub purpose: &'a str,
    pub created_by: &'a str,
    pub tables: &'a [String],
}

#[derive(FromRow)]
struct RunRow {
    id: i64,
    kind: String,
    backup_id: i64,
    server_id: i64,
    database: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    status: String,
    error: Option<String>,
    who: String,
}

const SCRATCH_COLUMNS: &str =
    "id, server_id, name, database, backup_id, purpose, created_by, created_at, dropped_at, tables";

impl Catalog {
    // ---- scratch databases --------------------------------------------

    /// Records a scratch database just created.
    pub async fn insert_scratch(&self, s: &NewScratch<'_>) -> Result<ScratchRecord, CatalogError> {
        let res = sqlx::query(
            "INSERT INTO scratch_databases (server_id, name, database, backup_id, purpose, created_by, created_at, tables)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(s.server_id)
        .bind(s.name)
        .bind(s.database)
        .bind(s.backup_id)
        .bind(s.purpose)
        .bind(s.created_by)
        .bind(Utc::now())
        .bind(serde_json::to_string(s.tables).expect("strings serialize"))
        .execute(self.pool())
        .await?;
        self.scratch(res.last_insert_rowid()).await
    }

    /// One scratch database by id.
    pub async fn scratch(&self, id: i64) -> Result<ScratchRecord, CatalogError> {
        sqlx::query_as::<_, ScratchRow>(&format!(
            "SELECT {SCRATCH_COLUMNS} FROM scratch_databases WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .map(ScratchRecord::from)
        .ok_or_else(|| CatalogError::NoSuchScratch(id.to_string()))
    }

    /// The undropped scratch database of this name (the newest, should two
    /// servers each have one).
    pub async fn scratch_by_name(&self, name: &str) -> Result<ScratchRecord, CatalogError> {
        sqlx::query_as::<_, ScratchRow>(&format!(
            "SELECT {SCRATCH_COLUMNS} FROM scratch_databases
              WHERE name = ? AND dropped_at IS NULL ORDER BY id DESC LIMIT 1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .map(ScratchRecord::from)
        .ok_or_else(|| CatalogError::NoSuchScratch(name.to_owned()))
    }

    /// The undropped scratch database of this name on one server.
    pub async fn scratch_on(
        &self,
        server_id: i64,
        name: &str,
    ) -> Result<Option<ScratchRecord>, CatalogError> {
        Ok(sqlx::query_as::<_, ScratchRow>(&format!(
            "SELECT {SCRATCH_COLUMNS} FROM scratch_databases
              WHERE server_id = ? AND name = ? AND dropped_at IS NULL ORDER BY id DESC LIMIT 1"
        ))
        .bind(server_id)
        .bind(name)
        .fetch_optional(self.pool())
        .await?
        .map(ScratchRecord::from))
    }

    /// Scratch databases, newest first; dropped ones only when asked.
    pub async fn scratches(&self, with_dropped: bool) -> Result<Vec<ScratchRecord>, CatalogError> {
        Ok(sqlx::query_as::<_, ScratchRow>(&format!(
            "SELECT {SCRATCH_COLUMNS} FROM scratch_databases
              WHERE ? OR dropped_at IS NULL ORDER BY id DESC"
        ))
        .bind(with_dropped)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(ScratchRecord::from)
        .collect())
    }

    /// Adds restored tables to a scratch database's list.
    pub async fn add_scratch_tables(&self, id: i64, tables: &[String]) -> Result<(), CatalogError> {
        let mut now = self.scratch(id).await?.tables;
        for t in tables {
            if !now.contains(t) {
                now.push(t.clone());
            }
        }
        sqlx::query("UPDATE scratch_databases SET tables = ? WHERE id = ?")
            .bind(serde_json::to_string(&now).expect("strings serialize"))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Marks a scratch database dropped.
    pub async fn mark_scratch_dropped(&self, id: i64) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE scratch_databases SET dropped_at = ? WHERE id = ? AND dropped_at IS NULL",
        )
        .bind(Utc::now())
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    // ---- restore runs ---------------------------------------------------

    /// Opens a restore record (`running`); returns its id.
    pub async fn start_restore_run(
        &self,
        kind: &str,
        backup_id: i64,
        server_id: i64,
        database: &str,
        who: &str,
    ) -> Result<i64, CatalogError> {
        let now = Utc::now();
        let res = sqlx::query(
            "INSERT INTO restore_runs (kind, backup_id, server_id, database, started_at, status, who, runner, lease_until)
             VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
        )
        .bind(kind)
        .bind(backup_id)
        .bind(server_id)
        .bind(database)
        .bind(now)
        .bind(who)
        .bind(self.instance())
        .bind(self.lease_deadline(now))
        .execute(self.pool())
        .await?;
        Ok(res.last_insert_rowid())
    }

    /// Pushes the lease of every restore this process runs forward.
    pub async fn renew_restore_leases(&self, now: DateTime<Utc>) -> Result<u64, CatalogError> {
        let res = sqlx::query(
            "UPDATE restore_runs SET lease_until = ? WHERE runner = ? AND status = 'running'",
        )
        .bind(self.lease_deadline(now))
        .bind(self.instance())
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected())
    }

    /// Marks restores whose owner's lease expired before `now` failed (their
    /// process died); returns how many.
    pub async fn recover_restore_runs(&self, now: DateTime<Utc>) -> Result<u64, CatalogError> {
        let res = sqlx::query(
            "UPDATE restore_runs SET status = 'failed', finished_at = ?, lease_until = NULL,
                    error = 'interrupted: the pgshelf process running this restore stopped before it ended (killed, or the machine went down). Fix: look at the target database, drop what is left (scratch databases are on the Scratch page), and run the restore again'
              WHERE status = 'running' AND (lease_until IS NULL OR lease_until < ?)",
        )
        .bind(now)
        .bind(now.timestamp_millis())
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected())
    }

    /// Ends a restore record: `succeeded`, or `failed` with the error.
    pub async fn finish_restore_run(
        &self,
        id: i64,
        error: Option<&str>,
    ) -> Result<(), CatalogError> {
        sqlx::query("UPDATE restore_runs SET finished_at = ?, status = ?, error = ? WHERE id = ?")
            .bind(Utc::now())
            .bind(if error.is_some() {
                "failed"
            } else {
                "succeeded"
            })
            .bind(error)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Recorded restores, newest first.
    pub async fn restore_runs(&self, limit: i64) -> Result<Vec<RestoreRun>, CatalogError> {
        Ok(sqlx::query_as::<_, RunRow>(
            "SELECT id, kind, backup_id, server_id, database, started_at, finished_at, status, error, who
               FROM restore_runs ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(|r| RestoreRun {
            id: r.id,
            kind: r.kind,
            backup_id: r.backup_id,
            server_id: r.server_id,
            database: r.database,
            started_at: r.started_at,
            finished_at: r.finished_at,
            status: r.status,
            error: r.error,
            who: r.who,
        })
        .collect())
    }
}
