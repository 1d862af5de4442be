//! Schedules as the dashboard shows them: the status of each database's (and
//! the globals') schedule, and what saving a policy would do.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backup::{Backup, Target};
use crate::policy::PolicySource;
use crate::proof::ProofFlag;
use crate::retention::Tier;

/// The schedule of one database, or of a server's globals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleStatus {
    pub target: Target,
    /// Backed up on schedule under the server plan's coverage.
    pub covered: bool,
    pub enabled: bool,
    /// Where the policy comes from (`None` for globals).
    pub source: Option<PolicySource>,
    pub schedule: String,
    pub timezone: String,
    /// The schedule in words.
    pub describe: String,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<Backup>,
    pub last_success: Option<Backup>,
    /// Last success older than two schedule intervals.
    pub overdue: bool,
    /// Gone from the server since this time (kept in view, not silently dropped).
    pub gone_since: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// When the newest passed test-restore of this database finished.
    #[serde(default)]
    pub last_proven_at: Option<DateTime<Utc>>,
    /// How long that test-restore took.
    #[serde(default)]
    pub last_proof_ms: Option<i64>,
    /// Why its backups are not (recently) proven, if so (`None` for globals).
    #[serde(default)]
    pub proof_flag: Option<ProofFlag>,
}

/// One upcoming run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextRun {
    pub utc: DateTime<Utc>,
    /// The same instant in the policy's time zone, e.g. `2026-11-25 04:17 CET`.
    pub local: String,
}

/// A backup a previewed retention keeps or prunes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedBackup {
    pub id: i64,
    pub target: Target,
    /// When the backup was taken.
    pub taken_at: Option<DateTime<Utc>>,
    /// Tiers it would hold (empty for pruned ones).
    pub tiers: Vec<Tier>,
    pub reason: String,
}

/// What saving a policy would do, shown before it is saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPreview {
    /// The schedule in words.
    pub describe: String,
    pub timezone: String,
    /// The next five runs.
    pub next_runs: Vec<NextRun>,
    /// Backups kept, with the tiers they would hold.
    pub keep: Vec<RetainedBackup>,
    /// Backups the new retention would prune, with the reason.
    pub prune: Vec<RetainedBackup>,
    /// Databases whose pruning is held (the clock reads earlier than their
    /// newest backup), as `database: reason`; nothing of theirs is pruned.
    pub held: Vec<String>,
}
