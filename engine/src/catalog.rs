//! The catalog: pgshelf's own SQLite database (`data/pgshelf.db`).
//!
//! Owns the schema (migrations in `engine/migrations`) and every query.
//! Nothing outside this module writes SQL against the catalog.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, SqlitePool};

mod destinations;
pub use destinations::{DestinationRow, ImportedBackup, NewDestination};
mod history;
pub use history::BackupTableRow;
mod proofs;
pub use proofs::{NewEvent, NewTestRestore, TestRestoreEnd};
mod identities;
mod manual;
pub mod metrics;
mod notify;
pub mod overview;
pub use notify::{ChannelRow, DeliveryRow, IncidentRow, NewDelivery, NewestCopy};
mod put_backs;
mod restores;
pub use identities::StoredIdentity;
pub use put_backs::{NewPutBack, PutBackRecord, PutBackStatus};
pub use restores::{NewScratch, ScratchRecord};

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
    #[error("no server named or numbered {0:?}. Fix: pick one from the Servers page or `pgshelf server list`")]
    NoSuchServer(String),
    #[error("a server named {0:?} already exists. Fix: pick another name, or edit that server")]
    DuplicateServer(String),
    #[error("no backup with id {0}")]
    NoSuchBackup(i64),
    #[error("no scratch database {0:?} recorded by pgshelf (or it was dropped already). Fix: pick one from `pgshelf scratch list`; pgshelf only drops scratch databases it created")]
    NoSuchScratch(String),
    #[error("backup {0} was recovered as failed by another pgshelf process: this one did not renew its lease in time (overloaded host, catalog locked, or clock jump). Fix: check the host's load and that one data directory is not shared over a network filesystem, then run the backup again")]
    LeaseLost(i64),
    #[error("backup {id} in the catalog cannot be read: {detail}. Fix: restore the catalog from a copy, or delete that row")]
    Corrupt { id: i64, detail: String },
    #[error("no destination named {0:?}. Fix: pick one from the Destinations page or `pgshelf destination list`")]
    NoSuchDestination(String),
    #[error("a destination named {0:?} already exists. Fix: pick another name, or edit that destination")]
    DuplicateDestination(String),
    #[error("an alert channel named {0:?} already exists. Fix: pick another name, or remove it first (`pgshelf alert remove {0}`)")]
    DuplicateChannel(String),
    #[error("no test-restore with id {0}")]
    NoSuchTestRestore(i64),
    #[error("test-restore {0} was recovered as failed by another pgshelf process: this one did not renew its lease in time (overloaded host, catalog locked, or clock jump). Fix: check the host's load, then run the test-restore again")]
    TestRestoreLost(i64),
}

impl CatalogError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            CatalogError::NoSuchServer(_)
            | CatalogError::NoSuchBackup(_)
            | CatalogError::NoSuchTestRestore(_)
            | CatalogError::NoSuchScratch(_)
            | CatalogError::NoSuchDestination(_) => 404,
            CatalogError::DuplicateServer(_)
            | CatalogError::DuplicateDestination(_)
            | CatalogError::DuplicateChannel(_)
            | CatalogError::LeaseLost(_)
            | CatalogError::TestRestoreLost(_) => 409,
            _ => 500,
        }
    }
}

/// A PostgreSQL server as stored: the password and client key stay sealed.
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
    /// PEM, plain (public).
    pub ssl_root_cert: Option<String>,
    /// PEM, plain (public).
    pub ssl_client_cert: Option<String>,
    /// PEM of the client key, sealed like `password_enc`.
    pub ssl_client_key_enc: Option<String>,
}

/// Fields of a server to insert or update (password and client key already sealed).
#[derive(Debug, Clone)]
pub struct ServerFields {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password_enc: Option<String>,
    pub sslmode: String,
    pub maintenance_db: String,
    pub ssl_root_cert: Option<String>,
    pub ssl_client_cert: Option<String>,
    pub ssl_client_key_enc: Option<String>,
}

pub use model::backup::{Backup, BackupKind, BackupStatus, Target};
use model::retention::Tier;

/// One row of `backups` as stored; mapped to [`Backup`] by [`BackupRecord::into_backup`],
/// the one place where the text columns become enums.
#[derive(Debug, Clone, FromRow)]
struct BackupRecord {
    id: i64,
    server_id: Option<i64>,
    server_name: String,
    database: String,
    kind: String,
    status: String,
    trigger: String,
    queued_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    raw_bytes: i64,
    stored_bytes: i64,
    format: String,
    destination: String,
    location: Option<String>,
    pg_dump_version: Option<String>,
    pg_dump_path: Option<String>,
    server_version: Option<String>,
    cause: Option<String>,
    stderr_tail: Option<String>,
    scheduled_for: Option<DateTime<Utc>>,
    late: bool,
    source_host: Option<String>,
    compression: Option<String>,
    /// One per line.
    warnings: Option<String>,
    version_changed: bool,
    /// Comma-separated tier names.
    tiers: Option<String>,
    pruned_at: Option<DateTime<Utc>>,
    prune_error: Option<String>,
    attempt: i64,
    retry_of: Option<i64>,
    /// Why a backup is suspect, one reason per line.
    verification: Option<String>,
}

/// The `kind` and `database` columns of a target (globals: `database = ''`).
/// Which size [`Catalog::newest_good`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NewestGood {
    RawBytes,
    StoredBytes,
}

fn target_columns(t: &Target) -> (&'static str, &str) {
    (t.kind().as_str(), t.database().unwrap_or(""))
}

impl BackupRecord {
    fn into_backup(self) -> Result<Backup, CatalogError> {
        let corrupt = |what: String| CatalogError::Corrupt {
            id: self.id,
            detail: what,
        };
        let target = match self.kind.parse::<BackupKind>().map_err(corrupt)? {
            BackupKind::Database => Target::Database(self.database),
            BackupKind::Globals => Target::Globals,
        };
        let status = self.status.parse::<BackupStatus>().map_err(corrupt)?;
        let list = |s: Option<String>, sep: char| -> Vec<String> {
            s.unwrap_or_default()
                .split(sep)
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let tiers = list(self.tiers, ',')
            .iter()
            .filter_map(|t| Tier::ALL.into_iter().find(|x| x.name() == t))
            .collect();
        Ok(Backup {
            id: self.id,
            server_id: self.server_id,
            server_name: self.server_name,
            target,
            status,
            trigger: self.trigger,
            queued_at: self.queued_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            duration_ms: self.duration_ms,
            raw_bytes: self.raw_bytes,
            stored_bytes: self.stored_bytes,
            format: self.format,
            destination: self.destination,
            location: self.location,
            pg_dump_version: self.pg_dump_version,
            pg_dump_path: self.pg_dump_path,
            server_version: self.server_version,
            cause: self.cause,
            stderr_tail: self.stderr_tail,
            scheduled_for: self.scheduled_for,
            late: self.late,
            source_host: self.source_host,
            compression: self.compression,
            warnings: list(self.warnings, '\n'),
            version_changed: self.version_changed,
            tiers,
            pruned_at: self.pruned_at,
            prune_error: self.prune_error,
            attempt: self.attempt.clamp(1, u32::MAX as i64) as u32,
            retry_of: self.retry_of,
            verification: list(self.verification, '\n'),
        })
    }
}

fn backups_of(rows: Vec<BackupRecord>) -> Result<Vec<Backup>, CatalogError> {
    rows.into_iter().map(BackupRecord::into_backup).collect()
}

/// A new run to record.
#[derive(Debug, Clone)]
pub struct NewBackup {
    pub server_id: i64,
    pub server_name: String,
    pub target: Target,
    /// The schedule slot, for scheduled runs.
    pub scheduled_for: Option<DateTime<Utc>>,
    pub late: bool,
    pub trigger: String,
    pub destination: String,
    pub status: BackupStatus,
    /// 1, or the retry number of a scheduled slot's run.
    pub attempt: u32,
    /// The run this one retries.
    pub retry_of: Option<i64>,
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
    pub source_host: Option<String>,
    pub compression: Option<String>,
    pub warnings: Option<String>,
    /// `custom`, `directory` or `sql`.
    pub format: Option<String>,
    /// Why a backup is suspect, one reason per line.
    pub verification: Option<String>,
}

/// Which backups to list.
#[derive(Debug, Clone, Default)]
pub struct BackupFilter {
    pub server_id: Option<i64>,
    /// One database's backups, or the globals backups.
    pub target: Option<Target>,
    pub limit: Option<i64>,
}

/// How long a run's owner promises to stay alive without renewing.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The catalog handle. Cheap to clone.
///
/// Each handle carries the random id of this pgshelf process (its
/// *instance*): rows it queues or runs are stamped with that id and a lease
/// deadline, which [`Catalog::renew_leases`] pushes forward while the
/// process lives. Rows whose lease has expired belong to a process that
/// died (or hung) and are recovered by [`Catalog::recover_expired`],
/// whichever process calls it: this holds for several processes (the CLI
/// and the dashboard) sharing one catalog, and is immune to pid reuse.
#[derive(Debug, Clone)]
pub struct Catalog {
    pool: SqlitePool,
    /// One connection that never writes: its `PRAGMA data_version` changes
    /// whenever any other connection (this process's or another's)
    /// commits, which tells caches that the catalog changed.
    watch: SqlitePool,
    instance: Arc<str>,
    lease: Duration,
}

/// Milliseconds since the epoch (lease deadlines are stored as integers).
fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

const BACKUP_COLUMNS: &str = "id, server_id, server_name, database, kind, status, trigger, \
    queued_at, started_at, finished_at, duration_ms, raw_bytes, stored_bytes, format, \
    destination, location, pg_dump_version, pg_dump_path, server_version, cause, stderr_tail, \
    scheduled_for, late, source_host, compression, warnings, \
    version_changed, tiers, pruned_at, prune_error, attempt, retry_of, verification";

/// The statuses of a run that has not ended.
const ACTIVE: &str = "status IN ('queued', 'running')";

/// The statuses of a good backup ([`BackupStatus::is_good`]).
const GOOD: &str = "status IN ('succeeded', 'verified', 'suspect')";

impl Catalog {
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Opens (creating if needed) the catalog file and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Self, CatalogError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10))
            // 16 MiB of page cache per connection (SQLite's default is 2 MiB):
            // a fleet's dashboard reads the same indexes over and over.
            .pragma("cache_size", "-16384");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.clone())
            .await
            .map_err(|source| CatalogError::Open {
                path: path.display().to_string(),
                source,
            })?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let watch = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await
            .map_err(|source| CatalogError::Open {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Catalog {
            pool,
            watch,
            instance: crate::secrets::random_id().into(),
            lease: DEFAULT_LEASE,
        })
    }

    /// A number that changes whenever anything commits to the catalog (any
    /// connection, any process): equal values mean nothing changed between
    /// the two reads.
    pub async fn data_version(&self) -> Result<i64, CatalogError> {
        Ok(sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&self.watch)
            .await?)
    }

    /// The same catalog with another lease length (tests use seconds).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// This process's instance id, stamped on the rows it owns.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The lease length of this process's rows.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    pub(crate) fn lease_deadline(&self, now: DateTime<Utc>) -> i64 {
        millis(now) + self.lease.as_millis().min(i64::MAX as u128) as i64
    }

    // ---- servers -------------------------------------------------------

    pub async fn insert_server(&self, f: &ServerFields) -> Result<ServerRow, CatalogError> {
        let now = Utc::now();
        let res = sqlx::query(
            "INSERT INTO servers (name, host, port, username, password_enc, sslmode, maintenance_db,
                                  ssl_root_cert, ssl_client_cert, ssl_client_key_enc, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&f.name)
        .bind(&f.host)
        .bind(f.port as i64)
        .bind(&f.username)
        .bind(&f.password_enc)
        .bind(&f.sslmode)
        .bind(&f.maintenance_db)
        .bind(&f.ssl_root_cert)
        .bind(&f.ssl_client_cert)
        .bind(&f.ssl_client_key_enc)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_to_duplicate(e, &f.name))?;
        self.server(res.last_insert_rowid()).await
    }

    pub async fn update_server(
        &self,
        id: i64,
        f: &ServerFields,
    ) -> Result<ServerRow, CatalogError> {
        let res = sqlx::query(
            "UPDATE servers SET name = ?, host = ?, port = ?, username = ?, password_enc = ?,
                    sslmode = ?, maintenance_db = ?, ssl_root_cert = ?, ssl_client_cert = ?,
                    ssl_client_key_enc = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&f.name)
        .bind(&f.host)
        .bind(f.port as i64)
        .bind(&f.username)
        .bind(&f.password_enc)
        .bind(&f.sslmode)
        .bind(&f.maintenance_db)
        .bind(&f.ssl_root_cert)
        .bind(&f.ssl_client_cert)
        .bind(&f.ssl_client_key_enc)
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

    pub async fn insert_backup(&self, b: &NewBackup) -> Result<Backup, CatalogError> {
        let res = sqlx::query(
            "INSERT INTO backups (server_id, server_name, kind, database, scheduled_for, late, status, trigger,
                                  queued_at, destination, runner, lease_until, attempt, retry_of)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(b.server_id)
        .bind(&b.server_name)
        .bind(target_columns(&b.target).0)
        .bind(target_columns(&b.target).1)
        .bind(b.scheduled_for)
        .bind(b.late)
        .bind(b.status.as_str())
        .bind(&b.trigger)
        .bind(Utc::now())
        .bind(&b.destination)
        .bind(&*self.instance)
        .bind(self.lease_deadline(Utc::now()))
        .bind(i64::from(b.attempt.max(1)))
        .bind(b.retry_of)
        .execute(&self.pool)
        .await?;
        self.backup(res.last_insert_rowid()).await
    }

    /// Marks a run as started, with the place its artifact will be written.
    /// Fails with [`CatalogError::LeaseLost`] when the row is no longer this
    /// process's to run (recovered by another process).
    pub async fn mark_running(&self, id: i64, location: &str) -> Result<(), CatalogError> {
        let now = Utc::now();
        let res = sqlx::query(&format!(
            "UPDATE backups SET status = 'running', started_at = ?, location = ?, lease_until = ?
              WHERE id = ? AND runner = ? AND {ACTIVE}"
        ))
        .bind(now)
        .bind(location)
        .bind(self.lease_deadline(now))
        .bind(id)
        .bind(&*self.instance)
        .execute(&self.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(CatalogError::LeaseLost(id));
        }
        Ok(())
    }

    /// Pushes the lease of every run this process owns forward; returns how
    /// many rows it holds.
    pub async fn renew_leases(&self, now: DateTime<Utc>) -> Result<u64, CatalogError> {
        let res = sqlx::query(&format!(
            "UPDATE backups SET lease_until = ? WHERE runner = ? AND {ACTIVE}"
        ))
        .bind(self.lease_deadline(now))
        .bind(&*self.instance)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected())
    }

    /// Runs whose owner's lease expired before `now` (its process died or
    /// hung), and rows from before leases existed.
    pub async fn expired_runs(&self, now: DateTime<Utc>) -> Result<Vec<Backup>, CatalogError> {
        backups_of(
            sqlx::query_as::<_, BackupRecord>(&format!(
                "SELECT {BACKUP_COLUMNS} FROM backups
                  WHERE {ACTIVE} AND (lease_until IS NULL OR lease_until < ?) ORDER BY id"
            ))
            .bind(millis(now))
            .fetch_all(&self.pool)
            .await?,
        )
    }

    /// Queued or running rows owned by this process.
    pub async fn own_active_runs(&self) -> Result<Vec<Backup>, CatalogError> {
        backups_of(
            sqlx::query_as::<_, BackupRecord>(&format!(
                "SELECT {BACKUP_COLUMNS} FROM backups WHERE {ACTIVE} AND runner = ? ORDER BY id"
            ))
            .bind(&*self.instance)
            .fetch_all(&self.pool)
            .await?,
        )
    }

    /// Marks an expired run failed with `cause`, if it is still active and
    /// still expired at `now`: of several processes recovering at once,
    /// exactly one gets `true` (and removes the partial artifact).
    pub async fn recover_expired(
        &self,
        id: i64,
        now: DateTime<Utc>,
        cause: &str,
    ) -> Result<bool, CatalogError> {
        let res = sqlx::query(&format!(
            "UPDATE backups SET status = 'failed', finished_at = ?,
                 duration_ms = CAST((julianday(?) - julianday(COALESCE(started_at, queued_at))) * 86400000 AS INTEGER),
                 cause = ?, lease_until = NULL
              WHERE id = ? AND {ACTIVE} AND (lease_until IS NULL OR lease_until < ?)"
        ))
        .bind(now)
        .bind(now)
        .bind(cause)
        .bind(id)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// The newest scheduled run of one database (or the globals) of a server.
    pub async fn last_scheduled_run(
        &self,
        server_id: i64,
        target: &Target,
    ) -> Result<Option<Backup>, CatalogError> {
        let (kind, database) = target_columns(target);
        sqlx::query_as::<_, BackupRecord>(&format!(
            "SELECT {BACKUP_COLUMNS} FROM backups
              WHERE server_id = ? AND kind = ? AND database = ? AND scheduled_for IS NOT NULL
              ORDER BY id DESC LIMIT 1"
        ))
        .bind(server_id)
        .bind(kind)
        .bind(database)
        .fetch_optional(&self.pool)
        .await?
        .map(BackupRecord::into_backup)
        .transpose()
    }

    /// Records progress of a running backup.
    pub async fn record_progress(
        &self,
        id: i64,
        raw: u64,
        stored: u64,
    ) -> Result<(), CatalogError> {
        sqlx::query("UPDATE backups SET raw_bytes = ?, stored_bytes = ? WHERE id = ? AND status = 'running'")
            .bind(raw as i64)
            .bind(stored as i64)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a run: `verified`, `suspect` or `failed` (`succeeded` in tests
    /// and old rows), with what is known about it.
    /// Only the process that owns the row may end it: a row another process
    /// recovered (this one's lease expired) is left as it is and
    /// [`CatalogError::LeaseLost`] returned.
    pub async fn finish(
        &self,
        id: i64,
        status: BackupStatus,
        o: &Outcome,
    ) -> Result<Backup, CatalogError> {
        let now = Utc::now();
        let res = sqlx::query(&format!(
            "UPDATE backups SET status = ?, finished_at = ?,
                 duration_ms = CAST((julianday(?) - julianday(COALESCE(started_at, queued_at))) * 86400000 AS INTEGER),
                 raw_bytes = ?, stored_bytes = ?, location = COALESCE(?, location),
                 pg_dump_version = ?, pg_dump_path = ?, server_version = ?, cause = ?, stderr_tail = ?,
                 manifest = ?, lease_until = NULL, source_host = COALESCE(?, source_host),
                 compression = ?, warnings = ?, format = COALESCE(?, format), verification = ?
             WHERE id = ? AND {ACTIVE} AND runner = ?"
        ))
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
        .bind(&o.source_host)
        .bind(&o.compression)
        .bind(&o.warnings)
        .bind(&o.format)
        .bind(&o.verification)
        .bind(id)
        .bind(&*self.instance)
        .execute(&self.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(CatalogError::LeaseLost(id));
        }
        self.backup(id).await
    }

    /// Bytes the newest good backup of `target` read from its dump program
    /// (`raw_bytes`), when there is one with a size: what a running backup's
    /// time left is estimated from.
    pub async fn previous_raw(&self, server_id: i64, target: &Target) -> Option<u64> {
        let raw = self
            .newest_good(NewestGood::RawBytes, server_id, target)
            .await
            .ok()
            .flatten();
        raw.filter(|r| *r > 0).map(|r| r as u64)
    }

    /// One size of the newest good backup of `target`, if there is one.
    pub(crate) async fn newest_good(
        &self,
        column: NewestGood,
        server_id: i64,
        target: &Target,
    ) -> Result<Option<i64>, CatalogError> {
        let (kind, database) = target_columns(target);
        let column = match column {
            NewestGood::RawBytes => "raw_bytes",
            NewestGood::StoredBytes => "stored_bytes",
        };
        Ok(sqlx::query_scalar(&format!(
            "SELECT {column} FROM backups WHERE server_id = ? AND kind = ? AND database = ? \
             AND status IN ('succeeded', 'verified', 'suspect') ORDER BY id DESC LIMIT 1"
        ))
        .bind(server_id)
        .bind(kind)
        .bind(database)
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    pub async fn backup(&self, id: i64) -> Result<Backup, CatalogError> {
        sqlx::query_as::<_, BackupRecord>(&format!(
            "SELECT {BACKUP_COLUMNS} FROM backups WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(CatalogError::NoSuchBackup(id))?
        .into_backup()
    }

    pub async fn backups(&self, f: &BackupFilter) -> Result<Vec<Backup>, CatalogError> {
        // Only the conditions asked for, so SQLite walks an index
        // (`backups_by_database`) instead of the whole table newest first
        // ("?1 IS NULL OR ..." defeats every index).
        let target = f.target.as_ref().map(target_columns);
        let mut clauses = Vec::new();
        if f.server_id.is_some() {
            clauses.push("server_id = ?");
        }
        if target.is_some() {
            clauses.push("database = ? AND kind = ?");
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!("SELECT {BACKUP_COLUMNS} FROM backups {filter} ORDER BY id DESC LIMIT ?");
        let mut q = sqlx::query_as::<_, BackupRecord>(&sql);
        if let Some(id) = f.server_id {
            q = q.bind(id);
        }
        if let Some((kind, database)) = target {
            q = q.bind(database).bind(kind);
        }
        backups_of(q.bind(f.limit.unwrap_or(-1)).fetch_all(&self.pool).await?)
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

/// A stored policy or plan row.
#[derive(Debug, Clone, FromRow)]
pub struct StoredBody {
    pub body: String,
    pub declared: bool,
    pub updated_at: DateTime<Utc>,
}

/// A database as last discovered on a server.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct KnownDatabase {
    pub server_id: i64,
    pub name: String,
    pub size_bytes: Option<i64>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub gone_since: Option<DateTime<Utc>>,
}

impl Catalog {
    // ---- policies and plans -------------------------------------------

    /// The policy of a server (`database` = "") or a database override.
    pub async fn policy(
        &self,
        server_id: i64,
        database: &str,
    ) -> Result<Option<StoredBody>, CatalogError> {
        Ok(sqlx::query_as::<_, StoredBody>(
            "SELECT body, declared, updated_at FROM policies WHERE server_id = ? AND database = ?",
        )
        .bind(server_id)
        .bind(database)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every database override of a server, by database name.
    pub async fn policy_overrides(
        &self,
        server_id: i64,
    ) -> Result<Vec<(String, StoredBody)>, CatalogError> {
        let rows: Vec<(String, String, bool, DateTime<Utc>)> = sqlx::query_as(
            "SELECT database, body, declared, updated_at FROM policies WHERE server_id = ? AND database <> '' ORDER BY database",
        )
        .bind(server_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(d, body, declared, updated_at)| {
                (
                    d,
                    StoredBody {
                        body,
                        declared,
                        updated_at,
                    },
                )
            })
            .collect())
    }

    pub async fn put_policy(
        &self,
        server_id: i64,
        database: &str,
        body: &str,
        declared: bool,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO policies (server_id, database, body, declared, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (server_id, database) DO UPDATE SET body = excluded.body, declared = excluded.declared,
                 updated_at = excluded.updated_at",
        )
        .bind(server_id)
        .bind(database)
        .bind(body)
        .bind(declared)
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_policy(&self, server_id: i64, database: &str) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM policies WHERE server_id = ? AND database = ?")
            .bind(server_id)
            .bind(database)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn plan(&self, server_id: i64) -> Result<Option<StoredBody>, CatalogError> {
        Ok(sqlx::query_as::<_, StoredBody>(
            "SELECT body, declared, updated_at FROM server_plans WHERE server_id = ?",
        )
        .bind(server_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn put_plan(
        &self,
        server_id: i64,
        body: &str,
        declared: bool,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO server_plans (server_id, body, declared, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (server_id) DO UPDATE SET body = excluded.body, declared = excluded.declared,
                 updated_at = excluded.updated_at",
        )
        .bind(server_id)
        .bind(body)
        .bind(declared)
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ---- scheduler state ----------------------------------------------

    /// The last slot started for a database's (or the globals') schedule.
    pub async fn last_slot(
        &self,
        server_id: i64,
        target: &Target,
    ) -> Result<Option<DateTime<Utc>>, CatalogError> {
        // The globals schedule is stored as database ''.
        let database = target.database().unwrap_or("");
        Ok(sqlx::query_scalar(
            "SELECT last_slot FROM schedule_state WHERE server_id = ? AND database = ?",
        )
        .bind(server_id)
        .bind(database)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn set_last_slot(
        &self,
        server_id: i64,
        target: &Target,
        slot: DateTime<Utc>,
    ) -> Result<(), CatalogError> {
        let database = target.database().unwrap_or("");
        sqlx::query(
            "INSERT INTO schedule_state (server_id, database, last_slot) VALUES (?, ?, ?)
             ON CONFLICT (server_id, database) DO UPDATE SET last_slot = excluded.last_slot",
        )
        .bind(server_id)
        .bind(database)
        .bind(slot)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ---- discovered databases -----------------------------------------

    /// Records a discovery: new names are added, seen ones refreshed, missing
    /// ones marked gone (once). Returns (appeared, disappeared) names.
    pub async fn record_discovery(
        &self,
        server_id: i64,
        found: &[(String, Option<i64>)],
    ) -> Result<(Vec<String>, Vec<String>), CatalogError> {
        let now = Utc::now();
        let before = self.known_databases(server_id).await?;
        let mut appeared = Vec::new();
        for (name, size) in found {
            let prior = before.iter().find(|k| &k.name == name);
            if prior.is_none_or(|k| k.gone_since.is_some()) {
                appeared.push(name.clone());
            }
            sqlx::query(
                "INSERT INTO known_databases (server_id, name, size_bytes, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (server_id, name) DO UPDATE SET size_bytes = COALESCE(excluded.size_bytes, size_bytes),
                     last_seen = excluded.last_seen, gone_since = NULL",
            )
            .bind(server_id)
            .bind(name)
            .bind(size)
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await?;
        }
        let mut disappeared = Vec::new();
        for k in before.iter().filter(|k| k.gone_since.is_none()) {
            if !found.iter().any(|(n, _)| n == &k.name) {
                disappeared.push(k.name.clone());
                sqlx::query(
                    "UPDATE known_databases SET gone_since = ? WHERE server_id = ? AND name = ?",
                )
                .bind(now)
                .bind(server_id)
                .bind(&k.name)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok((appeared, disappeared))
    }

    pub async fn known_databases(
        &self,
        server_id: i64,
    ) -> Result<Vec<KnownDatabase>, CatalogError> {
        Ok(sqlx::query_as::<_, KnownDatabase>(
            "SELECT * FROM known_databases WHERE server_id = ? ORDER BY name",
        )
        .bind(server_id)
        .fetch_all(&self.pool)
        .await?)
    }

    // ---- versions, tiers, pruning -------------------------------------

    /// The server version seen at the last success, and records the new one.
    pub async fn swap_seen_version(
        &self,
        server_id: i64,
        version: &str,
    ) -> Result<Option<String>, CatalogError> {
        let old: Option<String> =
            sqlx::query_scalar("SELECT last_seen_version FROM servers WHERE id = ?")
                .bind(server_id)
                .fetch_optional(&self.pool)
                .await?
                .flatten();
        sqlx::query("UPDATE servers SET last_seen_version = ? WHERE id = ?")
            .bind(version)
            .bind(server_id)
            .execute(&self.pool)
            .await?;
        Ok(old)
    }

    pub async fn mark_version_changed(&self, id: i64) -> Result<(), CatalogError> {
        sqlx::query("UPDATE backups SET version_changed = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Good (succeeded, verified or suspect), not yet pruned backups of one
    /// database (or the globals of a server).
    pub async fn retained(
        &self,
        server_id: i64,
        target: &Target,
    ) -> Result<Vec<Backup>, CatalogError> {
        let (kind, database) = target_columns(target);
        backups_of(
            sqlx::query_as::<_, BackupRecord>(&format!(
                "SELECT {BACKUP_COLUMNS} FROM backups
                  WHERE server_id = ? AND kind = ? AND database = ? AND {GOOD} AND pruned_at IS NULL
                  ORDER BY id DESC"
            ))
            .bind(server_id)
            .bind(kind)
            .bind(database)
            .fetch_all(&self.pool)
            .await?,
        )
    }

    /// Records the tiers a backup holds after a retention plan.
    pub async fn set_tiers(&self, id: i64, tiers: &[Tier]) -> Result<(), CatalogError> {
        let tiers: Vec<&str> = tiers.iter().map(|t| t.name()).collect();
        sqlx::query("UPDATE backups SET tiers = ? WHERE id = ?")
            .bind(tiers.join(","))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a backup pruned (its artifact is gone; the row stays).
    pub async fn mark_pruned(&self, id: i64) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE backups SET pruned_at = ?, prune_error = NULL, tiers = NULL WHERE id = ?",
        )
        .bind(Utc::now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that pruning failed on storage; it is retried at the next prune.
    pub async fn set_prune_error(&self, id: i64, error: &str) -> Result<(), CatalogError> {
        sqlx::query("UPDATE backups SET prune_error = ? WHERE id = ?")
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The newest good globals backup of a server at or before `at`.
    pub async fn globals_before(
        &self,
        server_id: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<Backup>, CatalogError> {
        sqlx::query_as::<_, BackupRecord>(&format!(
            "SELECT {BACKUP_COLUMNS} FROM backups
              WHERE server_id = ? AND kind = 'globals' AND {GOOD} AND pruned_at IS NULL
                AND COALESCE(started_at, queued_at) <= ?
              ORDER BY id DESC LIMIT 1"
        ))
        .bind(server_id)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?
        .map(BackupRecord::into_backup)
        .transpose()
    }

    /// The newest run (any status) and newest good one (see
    /// [`BackupStatus::is_good`]) of one database or globals.
    pub async fn last_runs(
        &self,
        server_id: i64,
        target: &Target,
    ) -> Result<(Option<Backup>, Option<Backup>), CatalogError> {
        let (kind, database) = target_columns(target);
        let q = |extra: &str| {
            format!(
                "SELECT {BACKUP_COLUMNS} FROM backups WHERE server_id = ? AND kind = ? AND database = ? {extra}
                 ORDER BY id DESC LIMIT 1"
            )
        };
        let last = sqlx::query_as::<_, BackupRecord>(&q(""))
            .bind(server_id)
            .bind(kind)
            .bind(database)
            .fetch_optional(&self.pool)
            .await?;
        let ok = sqlx::query_as::<_, BackupRecord>(&q(&format!("AND {GOOD}")))
            .bind(server_id)
            .bind(kind)
            .bind(database)
            .fetch_optional(&self.pool)
            .await?;
        Ok((
            last.map(BackupRecord::into_backup).transpose()?,
            ok.map(BackupRecord::into_backup).transpose()?,
        ))
    }

    /// Runs of a server still queued or running (per kind and database).
    pub async fn active_runs(&self, server_id: i64) -> Result<Vec<Backup>, CatalogError> {
        backups_of(
            sqlx::query_as::<_, BackupRecord>(&format!(
                "SELECT {BACKUP_COLUMNS} FROM backups WHERE server_id = ? AND status IN ('queued', 'running')"
            ))
            .bind(server_id)
            .fetch_all(&self.pool)
            .await?,
        )
    }
}

/// A previous good backup as verification compares a new one against it.
#[derive(Debug, Clone, FromRow)]
pub struct PastBackup {
    pub id: i64,
    pub stored_bytes: i64,
    pub raw_bytes: i64,
    /// Its `manifest.json` as written (tables, policy).
    pub manifest: Option<String>,
}

/// A backup's table of contents as stored after verification.
#[derive(Debug, Clone, FromRow, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct StoredToc {
    pub backup_id: i64,
    /// `pg_restore --list` of the stored artifact.
    pub listing: String,
    /// The archive's header and entries as [`crate::toc::Archive`] JSON
    /// (`None` when it could not be parsed).
    pub archive: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl StoredToc {
    /// The parsed archive: header and TOC entries (dump IDs, kinds, names,
    /// dependencies, data files), for choosing what to restore.
    pub fn archive(&self) -> Option<crate::toc::Archive> {
        self.archive
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
    }
}

impl Catalog {
    // ---- verification -------------------------------------------------

    /// The good backups (succeeded, verified, suspect; pruned ones too: their
    /// sizes and tables are still known) of one database or the globals of a
    /// server, older than `before_id`, newest first, at most `limit`.
    pub async fn good_backups_before(
        &self,
        server_id: i64,
        target: &Target,
        before_id: i64,
        limit: i64,
    ) -> Result<Vec<PastBackup>, CatalogError> {
        let (kind, database) = target_columns(target);
        Ok(sqlx::query_as::<_, PastBackup>(&format!(
            "SELECT id, stored_bytes, raw_bytes, manifest FROM backups
              WHERE server_id = ? AND kind = ? AND database = ? AND {GOOD} AND id < ?
              ORDER BY id DESC LIMIT ?"
        ))
        .bind(server_id)
        .bind(kind)
        .bind(database)
        .bind(before_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The manifest a run wrote (`None` for a run that never wrote one).
    pub async fn manifest(&self, id: i64) -> Result<Option<String>, CatalogError> {
        let row: Option<Option<String>> =
            sqlx::query_scalar("SELECT manifest FROM backups WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.ok_or(CatalogError::NoSuchBackup(id))
    }

    /// Keeps (or replaces) a backup's table of contents.
    pub async fn put_backup_toc(
        &self,
        id: i64,
        listing: &str,
        archive: Option<&str>,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO backup_toc (backup_id, listing, archive, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (backup_id) DO UPDATE SET listing = excluded.listing,
                 archive = excluded.archive, created_at = excluded.created_at",
        )
        .bind(id)
        .bind(listing)
        .bind(archive)
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A backup's stored table of contents: `None` when it has none (a
    /// globals backup, a failed run, or one from before verification).
    pub async fn backup_toc(&self, id: i64) -> Result<Option<StoredToc>, CatalogError> {
        Ok(sqlx::query_as::<_, StoredToc>(
            "SELECT backup_id, listing, archive, created_at FROM backup_toc WHERE backup_id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

fn unique_to_duplicate(e: sqlx::Error, name: &str) -> CatalogError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            CatalogError::DuplicateServer(name.to_owned())
        }
        _ => CatalogError::Query(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn fields(name: &str) -> ServerFields {
        ServerFields {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: 5432,
            username: "postgres".into(),
            password_enc: None,
            sslmode: "prefer".into(),
            maintenance_db: "postgres".into(),
            ssl_root_cert: None,
            ssl_client_cert: None,
            ssl_client_key_enc: None,
        }
    }

    #[tokio::test]
    async fn servers_keep_their_tls_settings() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.db")).await.unwrap();
        let mut f = fields("tls");
        f.sslmode = "verify-full".into();
        f.ssl_root_cert = Some("ROOT PEM".into());
        f.ssl_client_cert = Some("CERT PEM".into());
        f.ssl_client_key_enc = Some("sealed".into());
        let s = cat.insert_server(&f).await.unwrap();
        assert_eq!(
            (
                s.ssl_root_cert.as_deref(),
                s.ssl_client_cert.as_deref(),
                s.ssl_client_key_enc.as_deref()
            ),
            (Some("ROOT PEM"), Some("CERT PEM"), Some("sealed"))
        );
        f.ssl_client_cert = None;
        f.ssl_client_key_enc = None;
        let u = cat.update_server(s.id, &f).await.unwrap();
        assert_eq!(u.ssl_root_cert.as_deref(), Some("ROOT PEM"));
        assert_eq!((u.ssl_client_cert, u.ssl_client_key_enc), (None, None));
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
                target: Target::Database("app".into()),
                scheduled_for: None,
                late: false,
                trigger: "cli".into(),
                destination: "local".into(),
                status: BackupStatus::Queued,
                attempt: 1,
                retry_of: None,
            })
            .await
            .unwrap();
        assert_eq!(b.status, BackupStatus::Queued);
        // Our own lease is current: not expired.
        assert!(cat.expired_runs(Utc::now()).await.unwrap().is_empty());
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
        assert_eq!(done.status, BackupStatus::Succeeded);
        assert!(done.duration_ms.unwrap() >= 0);
        assert_eq!(done.location.as_deref(), Some("prod/app/x"));
        cat.delete_server(s.id).await.unwrap();
        let rows = cat.backups(&BackupFilter::default()).await.unwrap();
        assert_eq!(rows.len(), 1, "backups outlive their server");
        assert_eq!(rows[0].server_id, None);
    }

    fn new_run(s: &ServerRow) -> NewBackup {
        NewBackup {
            server_id: s.id,
            server_name: s.name.clone(),
            target: Target::Database("app".into()),
            scheduled_for: None,
            late: false,
            trigger: "cli".into(),
            destination: "local".into(),
            status: BackupStatus::Queued,
            attempt: 1,
            retry_of: None,
        }
    }

    /// A restore run of a process that died is recovered as failed once its
    /// lease runs out; the live owner's renewals keep it running.
    #[tokio::test]
    async fn restore_runs_of_a_dead_process_are_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let lease = Duration::from_secs(60);
        let a = Catalog::open(&path).await.unwrap().with_lease(lease);
        let b = Catalog::open(&path).await.unwrap().with_lease(lease);
        let s = a.insert_server(&fields("prod")).await.unwrap();
        let id = a
            .start_restore_run("table", 1, s.id, "scratch_app", "alice")
            .await
            .unwrap();
        let now = Utc::now();
        assert_eq!(b.recover_restore_runs(now).await.unwrap(), 0);
        assert_eq!(
            a.renew_restore_leases(now + chrono::Duration::seconds(30))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            b.recover_restore_runs(now + chrono::Duration::seconds(61))
                .await
                .unwrap(),
            0,
            "renewed: still a's"
        );
        let gone = now + chrono::Duration::seconds(91);
        assert_eq!(b.recover_restore_runs(gone).await.unwrap(), 1);
        assert_eq!(a.recover_restore_runs(gone).await.unwrap(), 0, "once");
        let run = b.restore_runs(10).await.unwrap();
        let run = run.iter().find(|r| r.id == id).unwrap();
        assert_eq!(run.status, "failed");
        assert!(run.error.as_deref().unwrap().contains("interrupted"));
        assert_eq!(a.renew_restore_leases(gone).await.unwrap(), 0);
    }

    /// Two processes share one catalog: a's rows stay a's while a renews
    /// them; once a's lease has run out, b recovers them exactly once, and a
    /// (a zombie by then) can no longer end or renew them.
    #[tokio::test]
    async fn leases_expire_and_recover_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let lease = Duration::from_secs(60);
        let a = Catalog::open(&path).await.unwrap().with_lease(lease);
        let b = Catalog::open(&path).await.unwrap().with_lease(lease);
        assert_ne!(a.instance(), b.instance(), "each process its own id");
        let s = a.insert_server(&fields("prod")).await.unwrap();
        let run = a.insert_backup(&new_run(&s)).await.unwrap();
        let other = a.insert_backup(&new_run(&s)).await.unwrap();
        a.mark_running(run.id, "prod/app/x").await.unwrap();
        assert!(
            matches!(
                b.mark_running(run.id, "y").await,
                Err(CatalogError::LeaseLost(_))
            ),
            "only the owner starts its run"
        );
        let now = Utc::now();
        assert!(b.expired_runs(now).await.unwrap().is_empty());
        let later = now + chrono::Duration::seconds(61);
        assert_eq!(b.expired_runs(later).await.unwrap().len(), 2);
        // a renews at now + 30s: its rows are good until now + 90s.
        assert_eq!(
            a.renew_leases(now + chrono::Duration::seconds(30))
                .await
                .unwrap(),
            2
        );
        assert!(b.expired_runs(later).await.unwrap().is_empty());
        assert!(!b.recover_expired(run.id, later, "x").await.unwrap());
        // a stops renewing; at now + 91s they are b's to recover, once.
        let gone = now + chrono::Duration::seconds(91);
        let expired = b.expired_runs(gone).await.unwrap();
        assert_eq!(
            expired.iter().map(|r| r.id).collect::<Vec<_>>(),
            [run.id, other.id]
        );
        assert!(b
            .recover_expired(run.id, gone, "interrupted")
            .await
            .unwrap());
        assert!(!a.recover_expired(run.id, gone, "again").await.unwrap());
        let row = b.backup(run.id).await.unwrap();
        assert_eq!(row.status, BackupStatus::Failed);
        assert_eq!(row.cause.as_deref(), Some("interrupted"));
        // The zombie's success does not overwrite the recovered row.
        assert!(matches!(
            a.finish(run.id, BackupStatus::Succeeded, &Outcome::default())
                .await,
            Err(CatalogError::LeaseLost(id)) if id == run.id
        ));
        assert_eq!(b.backup(run.id).await.unwrap().status, BackupStatus::Failed);
        // Renewing never revives an ended row.
        assert_eq!(a.renew_leases(gone).await.unwrap(), 1);
        assert_eq!(a.own_active_runs().await.unwrap().len(), 1);
        assert!(b.own_active_runs().await.unwrap().is_empty());
        // Nor may another process finish a's live row.
        assert!(matches!(
            b.finish(other.id, BackupStatus::Failed, &Outcome::default())
                .await,
            Err(CatalogError::LeaseLost(_))
        ));
        a.finish(other.id, BackupStatus::Failed, &Outcome::default())
            .await
            .unwrap();
    }

    /// Rows written before leases existed (no lease) count as expired.
    #[tokio::test]
    async fn rows_without_a_lease_are_expired() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.db")).await.unwrap();
        let s = cat.insert_server(&fields("prod")).await.unwrap();
        let run = cat.insert_backup(&new_run(&s)).await.unwrap();
        sqlx::query("UPDATE backups SET lease_until = NULL, runner = NULL WHERE id = ?")
            .bind(run.id)
            .execute(&cat.pool)
            .await
            .unwrap();
        assert_eq!(cat.expired_runs(Utc::now()).await.unwrap().len(), 1);
        assert!(cat
            .recover_expired(run.id, Utc::now(), "old")
            .await
            .unwrap());
    }
}
