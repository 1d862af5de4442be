//! The catalog: pgshelf's own SQLite database (`data/pgshelf.db`).
//!
//! Owns the schema (migrations in `engine/migrations`) and every query.
//! Nothing outside this module writes SQL against the catalog.

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, SqlitePool};

/// What can go wrong talking to the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot open the catalog at {path}: {source}. Fix: make the data directory writable, or point PGSHELF_DATA elsewhere")]
    Open {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot upgrade the catalog schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("catalog query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("no server named or numbered {0:?}. Fix: check `pgshelf server list`")]
    NoSuchServer(String),
    #[error("a server named {0:?} already exists. Fix: pick another name, or edit that server")]
    DuplicateServer(String),
    #[error("no backup with id {0}")]
    NoSuchBackup(i64),
}

impl CatalogError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            CatalogError::NoSuchServer(_) | CatalogError::NoSuchBackup(_) => 404,
            CatalogError::DuplicateServer(_) => 409,
            _ => 500,
        }
    }
}

/// A PostgreSQL server as stored: the password stays sealed.
#[derive(Debug, Clone, FromRow)]
pub struct ServerRow {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: i64,
    pub username: String,
    pub password_enc: Option<String>,
    pub sslmode: String,
    pub maintenance_db: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Fields of a server to insert or update (password already sealed).
#[derive(Debug, Clone)]
pub struct ServerFields {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password_enc: Option<String>,
    pub sslmode: String,
    pub maintenance_db: String,
}

/// Where a backup run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl BackupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupStatus::Queued => "queued",
            BackupStatus::Running => "running",
            BackupStatus::Succeeded => "succeeded",
            BackupStatus::Failed => "failed",
        }
    }
    /// True while the run has not ended.
    pub fn is_active(self) -> bool {
        matches!(self, BackupStatus::Queued | BackupStatus::Running)
    }
}

impl FromStr for BackupStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "queued" => BackupStatus::Queued,
            "running" => BackupStatus::Running,
            "succeeded" => BackupStatus::Succeeded,
            "failed" => BackupStatus::Failed,
            other => return Err(format!("unknown backup status {other:?}")),
        })
    }
}

impl std::fmt::Display for BackupStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One backup run as recorded.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct BackupRow {
    pub id: i64,
    pub server_id: Option<i64>,
    pub server_name: String,
    pub database: String,
    pub kind: String,
    #[sqlx(try_from = "String")]
    pub status: StatusText,
    pub trigger: String,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub raw_bytes: i64,
    pub stored_bytes: i64,
    pub format: String,
    pub destination: String,
    pub location: Option<String>,
    pub pg_dump_version: Option<String>,
    pub pg_dump_path: Option<String>,
    pub server_version: Option<String>,
    pub cause: Option<String>,
    pub stderr_tail: Option<String>,
    pub runner_pid: Option<i64>,
    #[serde(skip)]
    pub manifest: Option<String>,
}

impl BackupRow {
    pub fn status(&self) -> BackupStatus {
        self.status.0
    }
}

/// Adapter so sqlx can decode the status column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct StatusText(pub BackupStatus);

impl TryFrom<String> for StatusText {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse().map(StatusText)
    }
}

/// A new run to record.
#[derive(Debug, Clone)]
pub struct NewBackup {
    pub server_id: i64,
    pub server_name: String,
    pub database: String,
    pub trigger: String,
    pub destination: String,
    pub status: BackupStatus,
}

/// How a finished run ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub raw_bytes: i64,
    pub stored_bytes: i64,
    pub location: Option<String>,
    pub pg_dump_version: Option<String>,
    pub pg_dump_path: Option<String>,
    pub server_version: Option<String>,
    pub cause: Option<String>,
    pub stderr_tail: Option<String>,
    pub manifest: Option<String>,
}

/// Which backups to list.
#[derive(Debug, Clone, Default)]
pub struct BackupFilter {
    pub server_id: Option<i64>,
    pub database: Option<String>,
    pub limit: Option<i64>,
}

/// The catalog handle. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: SqlitePool,
}

const BACKUP_COLUMNS: &str = "id, server_id, server_name, database, kind, status, trigger, \
    queued_at, started_at, finished_at, duration_ms, raw_bytes, stored_bytes, format, \
    destination, location, pg_dump_version, pg_dump_path, server_version, cause, stderr_tail, \
    runner_pid, manifest";

impl Catalog {
    /// Opens (creating if needed) the catalog file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, CatalogError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(|source| CatalogError::Open {
                path: path.display().to_string(),
                source,
            })?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Catalog { pool })
    }

    // ---- servers -------------------------------------------------------

    pub async fn insert_server(&self, f: &ServerFields) -> Result<ServerRow, CatalogError> {
        let now = Utc::now();
        let res = sqlx::query(
            "INSERT INTO servers (name, host, port, username, password_enc, sslmode, maintenance_db, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&f.name)
        .bind(&f.host)
        .bind(f.port as i64)
        .bind(&f.username)
        .bind(&f.password_enc)
        .bind(&f.sslmode)
        .bind(&f.maintenance_db)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_to_duplicate(e, &f.name))?;
        self.server(res.last_insert_rowid()).await
    }

    pub async fn update_server(&self, id: i64, f: &ServerFields) -> Result<ServerRow, CatalogError> {
        let res = sqlx::query(
            "UPDATE servers SET name = ?, host = ?, port = ?, username = ?, password_enc = ?,
                    sslmode = ?, maintenance_db = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&f.name)
        .bind(&f.host)
        .bind(f.port as i64)
        .bind(&f.username)
        .bind(&f.password_enc)
        .bind(&f.sslmode)
        .bind(&f.maintenance_db)
        .bind(Utc::now())
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_to_duplicate(e, &f.name))?;
        if res.rows_affected() == 0 {
            return Err(CatalogError::NoSuchServer(id.to_string()));
        }
        self.server(id).await
    }

    pub async fn delete_server(&self, id: i64) -> Result<(), CatalogError> {
        let res = sqlx::query("DELETE FROM servers WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(CatalogError::NoSuchServer(id.to_string()));
        }
        Ok(())
    }

    pub async fn server(&self, id: i64) -> Result<ServerRow, CatalogError> {
        sqlx::query_as::<_, ServerRow>("SELECT * FROM servers WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CatalogError::NoSuchServer(id.to_string()))
    }

    pub async fn server_by_name(&self, name: &str) -> Result<ServerRow, CatalogError> {
        sqlx::query_as::<_, ServerRow>("SELECT * FROM servers WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CatalogError::NoSuchServer(name.to_owned()))
    }

    pub async fn servers(&self) -> Result<Vec<ServerRow>, CatalogError> {
        Ok(
            sqlx::query_as::<_, ServerRow>("SELECT * FROM servers ORDER BY name")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    // ---- backups -------------------------------------------------------

    pub async fn insert_backup(&self, b: &NewBackup) -> Result<BackupRow, CatalogError> {
        let res = sqlx::query(
            "INSERT INTO backups (server_id, server_name, database, status, trigger, queued_at, destination, runner_pid)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(b.server_id)
        .bind(&b.server_name)
        .bind(&b.database)
        .bind(b.status.as_str())
        .bind(&b.trigger)
        .bind(Utc::now())
        .bind(&b.destination)
        .bind(std::process::id() as i64)
        .execute(&self.pool)
        .await?;
        self.backup(res.last_insert_rowid()).await
    }

    /// Marks a run as started, with the place its artifact will be written.
    pub async fn mark_running(&self, id: i64, location: &str) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE backups SET status = 'running', started_at = ?, location = ?, runner_pid = ? WHERE id = ?",
        )
        .bind(Utc::now())
        .bind(location)
        .bind(std::process::id() as i64)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records progress of a running backup.
    pub async fn record_progress(&self, id: i64, raw: u64, stored: u64) -> Result<(), CatalogError> {
        sqlx::query("UPDATE backups SET raw_bytes = ?, stored_bytes = ? WHERE id = ? AND status = 'running'")
            .bind(raw as i64)
            .bind(stored as i64)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a run: `succeeded` or `failed`, with what is known about it.
    pub async fn finish(&self, id: i64, status: BackupStatus, o: &Outcome) -> Result<BackupRow, CatalogError> {
        let now = Utc::now();
        sqlx::query(
            "UPDATE backups SET status = ?, finished_at = ?,
                 duration_ms = CAST((julianday(?) - julianday(COALESCE(started_at, queued_at))) * 86400000 AS INTEGER),
                 raw_bytes = ?, stored_bytes = ?, location = COALESCE(?, location),
                 pg_dump_version = ?, pg_dump_path = ?, server_version = ?, cause = ?, stderr_tail = ?,
                 manifest = ?, runner_pid = NULL
             WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(now)
        .bind(now)
        .bind(o.raw_bytes)
        .bind(o.stored_bytes)
        .bind(&o.location)
        .bind(&o.pg_dump_version)
        .bind(&o.pg_dump_path)
        .bind(&o.server_version)
        .bind(&o.cause)
        .bind(&o.stderr_tail)
        .bind(&o.manifest)
        .bind(id)
        .execute(&self.pool)
        .await?;
        self.backup(id).await
    }

    pub async fn backup(&self, id: i64) -> Result<BackupRow, CatalogError> {
        sqlx::query_as::<_, BackupRow>(&format!("SELECT {BACKUP_COLUMNS} FROM backups WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(CatalogError::NoSuchBackup(id))
    }

    pub async fn backups(&self, f: &BackupFilter) -> Result<Vec<BackupRow>, CatalogError> {
        let sql = format!(
            "SELECT {BACKUP_COLUMNS} FROM backups
             WHERE (?1 IS NULL OR server_id = ?1) AND (?2 IS NULL OR database = ?2)
             ORDER BY id DESC LIMIT ?3"
        );
        Ok(sqlx::query_as::<_, BackupRow>(&sql)
            .bind(f.server_id)
            .bind(&f.database)
            .bind(f.limit.unwrap_or(-1))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Runs left `queued` or `running` by a process that no longer exists.
    pub async fn orphaned_runs(&self) -> Result<Vec<BackupRow>, CatalogError> {
        let rows = sqlx::query_as::<_, BackupRow>(&format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE status IN ('queued', 'running')"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|r| !r.runner_pid.is_some_and(process_alive))
            .collect())
    }

    pub async fn delete_backup(&self, id: i64) -> Result<(), CatalogError> {
        let res = sqlx::query("DELETE FROM backups WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(CatalogError::NoSuchBackup(id));
        }
        Ok(())
    }
}

/// True if a process with this pid exists (and is not a zombie we own).
fn process_alive(pid: i64) -> bool {
    if pid <= 0 || pid > i32::MAX as i64 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid as i32, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn unique_to_duplicate(e: sqlx::Error, name: &str) -> CatalogError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => CatalogError::DuplicateServer(name.to_owned()),
        _ => CatalogError::Query(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(name: &str) -> ServerFields {
        ServerFields {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: 5432,
            username: "postgres".into(),
            password_enc: None,
            sslmode: "prefer".into(),
            maintenance_db: "postgres".into(),
        }
    }

    #[tokio::test]
    async fn servers_and_backups_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.db")).await.unwrap();
        let s = cat.insert_server(&fields("prod")).await.unwrap();
        assert!(matches!(
            cat.insert_server(&fields("prod")).await,
            Err(CatalogError::DuplicateServer(_))
        ));
        let b = cat
            .insert_backup(&NewBackup {
                server_id: s.id,
                server_name: s.name.clone(),
                database: "app".into(),
                trigger: "cli".into(),
                destination: "local".into(),
                status: BackupStatus::Queued,
            })
            .await
            .unwrap();
        assert_eq!(b.status(), BackupStatus::Queued);
        // Our own pid is alive: not orphaned.
        assert!(cat.orphaned_runs().await.unwrap().is_empty());
        cat.mark_running(b.id, "prod/app/x").await.unwrap();
        let done = cat
            .finish(
                b.id,
                BackupStatus::Succeeded,
                &Outcome {
                    raw_bytes: 10,
                    stored_bytes: 5,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(done.status(), BackupStatus::Succeeded);
        assert!(done.duration_ms.unwrap() >= 0);
        assert_eq!(done.location.as_deref(), Some("prod/app/x"));
        cat.delete_server(s.id).await.unwrap();
        let rows = cat.backups(&BackupFilter::default()).await.unwrap();
        assert_eq!(rows.len(), 1, "backups outlive their server");
        assert_eq!(rows[0].server_id, None);
    }

    #[test]
    fn dead_pid_is_not_alive() {
        assert!(process_alive(std::process::id() as i64));
        assert!(!process_alive(0));
        assert!(!process_alive(i32::MAX as i64));
    }
}
