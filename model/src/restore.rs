//! Restores as the dashboard and the CLI see them: what an archive holds,
//! a table restore into a scratch database and its result, a full restore,
//! a server rebuild plan and its result, scratch databases and restore jobs.
//!
//! Plain data (serde, no I/O): the engine fills these in `engine::restore`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One table in a backup, as the restore dialog lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveTable {
    pub schema: String,
    pub name: String,
    /// `table` or `partitioned`.
    pub kind: String,
    /// Size on the source server when dumped.
    pub bytes: Option<i64>,
    /// Rows recorded at dump time.
    pub rows: Option<i64>,
    /// `rows` is an estimate (`reltuples`), not an exact count.
    #[serde(default)]
    pub rows_estimated: bool,
    /// The policy left this table's data out (structure only).
    #[serde(default)]
    pub data_excluded: bool,
}

impl ArchiveTable {
    /// `schema.name` as typed in the CLI and the search box (unquoted).
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// What a backup holds, for the table picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveContents {
    pub backup_id: i64,
    pub database: String,
    pub server_id: Option<i64>,
    pub tables: Vec<ArchiveTable>,
    /// The age recipients an encrypted backup is encrypted to; empty when
    /// not encrypted (then no identity is asked for).
    #[serde(default)]
    pub recipients: Vec<String>,
}

/// Restore some tables of a backup into a scratch database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRestoreRequest {
    pub backup_id: i64,
    /// `schema.table` each (quote a part with `"` when it holds a dot).
    pub tables: Vec<String>,
    /// Where to restore; default: the backup's own server.
    #[serde(default)]
    pub server_id: Option<i64>,
    /// A scratch database name to create (or a recorded scratch database to
    /// add to); default `scratch_<db>_<yyyymmdd_hhmm>`.
    #[serde(default)]
    pub into: Option<String>,
    /// Also restore the tables the chosen ones reference by foreign key.
    #[serde(default)]
    pub with_referenced: bool,
}

/// Something of the archive that was not restored, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedObject {
    /// e.g. `FK CONSTRAINT public.orders orders_customer_fkey`.
    pub what: String,
    pub reason: String,
}

/// One restored table: rows restored next to rows recorded, and a sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoredTable {
    pub schema: String,
    pub name: String,
    /// Rows in the scratch copy.
    pub rows_restored: i64,
    /// Rows recorded at dump time (the manifest), when known.
    pub rows_recorded: Option<i64>,
    /// `rows_recorded` is an estimate.
    #[serde(default)]
    pub recorded_estimate: bool,
    pub columns: Vec<String>,
    /// The first rows (at most 20), every value as text, NULL as `None`.
    pub sample: Vec<Vec<Option<String>>>,
}

/// A scratch database pgshelf created (and may drop).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScratchDatabase {
    pub id: i64,
    pub server_id: i64,
    pub server_name: String,
    /// The scratch database's name on the server.
    pub name: String,
    /// The source database of the backup restored into it.
    pub database: String,
    pub backup_id: i64,
    /// `table` (restore-table) or `test` (test-restore).
    pub purpose: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub dropped_at: Option<DateTime<Utc>>,
    /// `postgres://user@host:port/name`, never with a password.
    pub connection: String,
}

/// The outcome of a table restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRestoreResult {
    pub scratch: ScratchDatabase,
    pub tables: Vec<RestoredTable>,
    pub skipped: Vec<SkippedObject>,
    /// Errors pg_restore reported and went past (e.g. a grant to a role the
    /// target server does not have); every chosen table arrived regardless.
    #[serde(default)]
    pub errors: Vec<String>,
    pub duration_ms: i64,
    /// Bytes read from storage (a custom archive's blocks by range, a
    /// directory archive's files: only what the tables need).
    #[serde(default)]
    pub bytes_read: u64,
}

/// Where a restore job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestoreJobState {
    Running,
    Done(Box<TableRestoreResult>),
    Failed(String),
}

/// A table restore running (or ended) in the `restorer` worker, for the
/// dashboard to poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreJob {
    pub id: u64,
    /// What it is doing now, e.g. `fetching`, `restoring`, `counting rows`.
    pub step: String,
    pub state: RestoreJobState,
}

/// Restore a whole backup into a new database, or over an existing one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRequest {
    pub backup_id: i64,
    /// Target server; default: the backup's own server.
    #[serde(default)]
    pub server_id: Option<i64>,
    /// The target database (created when missing).
    pub into: String,
    /// Replace an existing database's objects (`--clean --if-exists`).
    #[serde(default)]
    pub clean: bool,
    /// Must equal `into` exactly when the database exists.
    #[serde(default)]
    pub confirm: Option<String>,
    /// Parallel jobs (`pg_restore -j`); 0 or 1: one.
    #[serde(default)]
    pub jobs: u32,
}

/// The outcome of a full restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreResult {
    pub server_name: String,
    pub database: String,
    pub duration_ms: i64,
    /// `(schema, table, rows)` in the restored database.
    pub tables: Vec<(String, String, i64)>,
    /// Errors pg_restore reported and went past (e.g. a missing role).
    pub warnings: Vec<String>,
    /// Bytes read from storage.
    #[serde(default)]
    pub bytes_read: u64,
}

/// One step of a server rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildStep {
    /// `globals` or `database`.
    pub kind: String,
    pub backup_id: i64,
    /// The database restored (empty for globals).
    pub database: String,
    pub taken_at: DateTime<Utc>,
    pub stored_bytes: i64,
}

/// What a rebuild will do, shown for confirmation: the globals first, then
/// each database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildPlan {
    pub source_server_id: i64,
    pub source_server: String,
    pub target_server_id: i64,
    pub target_server: String,
    pub steps: Vec<RebuildStep>,
    /// Chosen databases with no usable backup (the plan leaves them out).
    pub missing: Vec<String>,
}

/// How one rebuild step went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildStepResult {
    pub step: RebuildStep,
    /// `succeeded` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub warnings: Vec<String>,
    /// Errors that were expected and harmless (a role that exists already).
    pub expected_errors: i64,
    pub duration_ms: i64,
}

/// The outcome of a rebuild, step by step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildResult {
    pub target_server: String,
    pub steps: Vec<RebuildStepResult>,
    pub duration_ms: i64,
}

impl RebuildResult {
    /// Every step succeeded.
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.status == "succeeded")
    }
}

/// A file of a backup's artifact, for download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactFile {
    /// Path inside the artifact directory, e.g. `dump.zst`, `dump/toc.dat.zst`.
    pub path: String,
    pub size: u64,
    /// sha256 as the manifest records it (none for `manifest.json` itself).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Stored age-encrypted (`.age`): a download serves the encrypted
    /// bytes; decrypt with `age -d -i key.txt`.
    #[serde(default)]
    pub encrypted: bool,
}

/// A recorded restore (catalog `restore_runs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRun {
    pub id: i64,
    /// `full`, `rebuild-step`, `table` or `test`.
    pub kind: String,
    pub backup_id: i64,
    pub server_id: i64,
    pub database: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub who: String,
}

/// A scratch database name: `scratch_<db>_<yyyymmdd_hhmm>`, lowercase ASCII
/// letters, digits and `_` only (anything else becomes `_`), at most 63
/// bytes (the database part is shortened to fit).
pub fn scratch_name(database: &str, at: DateTime<Utc>) -> String {
    let stamp = at.format("%Y%m%d_%H%M").to_string();
    let db = safe_identifier(database);
    // scratch_ + db + _ + stamp
    let room = 63 - "scratch_".len() - 1 - stamp.len();
    let db: String = db.chars().take(room).collect();
    format!("scratch_{db}_{stamp}")
}

/// `name` with `_n` appended for the n-th candidate (n >= 2), shortened so
/// the whole stays within 63 bytes.
pub fn numbered(name: &str, n: u32) -> String {
    if n < 2 {
        return name.to_owned();
    }
    let suffix = format!("_{n}");
    let keep = 63usize.saturating_sub(suffix.len()).min(name.len());
    // ASCII only (see safe_identifier), so any byte index is a char boundary.
    format!("{}{suffix}", &name[..keep])
}

/// Lowercase ASCII letters, digits and `_`; anything else becomes `_`.
pub fn safe_identifier(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn scratch_names_are_safe_and_short() {
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
        assert_eq!(scratch_name("shop", at), "scratch_shop_20260304_0506");
        assert_eq!(
            scratch_name("My Shop-Ünï.x", at),
            "scratch_my_shop__n__x_20260304_0506"
        );
        let long = "x".repeat(100);
        let n = scratch_name(&long, at);
        assert_eq!(n.len(), 63);
        assert!(n.ends_with("_20260304_0506"));
        assert_eq!(numbered(&n, 1), n);
        let n2 = numbered(&n, 2);
        assert_eq!(n2.len(), 63);
        assert!(n2.ends_with("_2"));
        assert_eq!(numbered("scratch_a", 13), "scratch_a_13");
    }
}
