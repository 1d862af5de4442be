//! A backup run as recorded: what it backed up ([`Target`]), where it stands
//! ([`BackupStatus`]) and what it produced ([`Backup`]). The catalog maps its
//! text columns to these once; nothing else compares status or kind strings.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::retention::Tier;

/// Where a backup run stands.
///
/// A run that ends well is checked after its upload (checksums re-read,
/// `pg_restore --list` over the stored artifact, size against the trailing
/// median, tables gone since the previous backup) and ends `verified`, or
/// `suspect` with the reasons in [`Backup::verification`]. `succeeded` is
/// what runs ended as before verification existed (and stays good).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupStatus {
    Queued,
    Running,
    Succeeded,
    /// Stored, re-read and readable, and nothing looks out of the ordinary.
    Verified,
    /// Stored, re-read and readable, but something looks wrong (a size far
    /// from the usual, a table gone): the reasons say what.
    Suspect,
    Failed,
    /// Stopped on purpose by someone (the cause says who) before it
    /// finished; its partial files were removed. Not a failure of the
    /// database: never retried, never alerted as one.
    Cancelled,
}

impl BackupStatus {
    /// The word stored in the catalog and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupStatus::Queued => "queued",
            BackupStatus::Running => "running",
            BackupStatus::Succeeded => "succeeded",
            BackupStatus::Verified => "verified",
            BackupStatus::Suspect => "suspect",
            BackupStatus::Failed => "failed",
            BackupStatus::Cancelled => "cancelled",
        }
    }

    /// A finished run whose artifact counts as a backup: succeeded (before
    /// verification existed), verified or suspect. Retention, pruning, the
    /// nearest globals and "last success" all go by this.
    pub fn is_good(self) -> bool {
        matches!(
            self,
            BackupStatus::Succeeded | BackupStatus::Verified | BackupStatus::Suspect
        )
    }

    /// Every status, in the order a run passes them.
    pub const ALL: [BackupStatus; 7] = [
        BackupStatus::Queued,
        BackupStatus::Running,
        BackupStatus::Succeeded,
        BackupStatus::Verified,
        BackupStatus::Suspect,
        BackupStatus::Failed,
        BackupStatus::Cancelled,
    ];

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
            "verified" => BackupStatus::Verified,
            "suspect" => BackupStatus::Suspect,
            "failed" => BackupStatus::Failed,
            "cancelled" => BackupStatus::Cancelled,
            other => return Err(format!("unknown backup status {other:?}")),
        })
    }
}

impl fmt::Display for BackupStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of artifact a run makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupKind {
    /// `pg_dump` of one database.
    Database,
    /// `pg_dumpall --globals-only` of a server: roles, tablespaces.
    Globals,
}

impl BackupKind {
    /// The word stored in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupKind::Database => "database",
            BackupKind::Globals => "globals",
        }
    }
}

impl FromStr for BackupKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "database" => Ok(BackupKind::Database),
            "globals" => Ok(BackupKind::Globals),
            other => Err(format!("unknown backup kind {other:?}")),
        }
    }
}

impl fmt::Display for BackupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one run backs up: a database of a server, or the server's globals.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "database", rename_all = "lowercase")]
pub enum Target {
    Database(String),
    Globals,
}

impl Target {
    pub fn kind(&self) -> BackupKind {
        match self {
            Target::Database(_) => BackupKind::Database,
            Target::Globals => BackupKind::Globals,
        }
    }

    /// The database's name; `None` for globals.
    pub fn database(&self) -> Option<&str> {
        match self {
            Target::Database(name) => Some(name),
            Target::Globals => None,
        }
    }

    pub fn is_globals(&self) -> bool {
        matches!(self, Target::Globals)
    }
}

impl fmt::Display for Target {
    /// The database's name, or `globals`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Database(name) => f.write_str(name),
            Target::Globals => f.write_str("globals"),
        }
    }
}

/// One backup run as recorded in the catalog (never a secret in here).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Backup {
    pub id: i64,
    /// `None` once the server was deleted (the backup stays listed).
    pub server_id: Option<i64>,
    pub server_name: String,
    /// Serialized flat, as `"kind": "database", "database": "app"` (or
    /// `"kind": "globals"`), the shape `pgshelf list --json` has always had.
    #[serde(flatten)]
    pub target: Target,
    pub status: BackupStatus,
    /// Who started it, e.g. `dashboard`, `schedule`, `cli`.
    pub trigger: String,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// Read from pg_dump.
    pub raw_bytes: i64,
    /// Written to the destination (compressed).
    pub stored_bytes: i64,
    /// `custom`, `directory` or `sql`.
    pub format: String,
    /// The destination it was written to, e.g. `file:///srv/pgshelf/backups`.
    pub destination: String,
    /// The artifact: `<destination>/<path>`.
    pub location: Option<String>,
    pub pg_dump_version: Option<String>,
    pub pg_dump_path: Option<String>,
    pub server_version: Option<String>,
    /// Why a failed run failed, naming the fix.
    pub cause: Option<String>,
    /// The last lines pg_dump wrote to stderr.
    pub stderr_tail: Option<String>,
    /// The schedule slot this run was for (scheduled runs only).
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Started later than its slot (after downtime).
    pub late: bool,
    /// `host:port` the dump was read from.
    pub source_host: Option<String>,
    /// e.g. `zstd:3 (pgshelf)`.
    pub compression: Option<String>,
    /// Warnings of the run, one per entry (e.g. a pattern that matched nothing).
    pub warnings: Vec<String>,
    /// The server's version differs from the one at the previous success.
    pub version_changed: bool,
    /// Retention tiers this backup held at the last plan, finest first.
    pub tiers: Vec<Tier>,
    /// Removed by retention at this time (kept listed).
    pub pruned_at: Option<DateTime<Utc>>,
    pub prune_error: Option<String>,
    /// 1 for a slot's first run; 2, 3... for retries of a failed or
    /// interrupted scheduled run.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// The run this one retries.
    #[serde(default)]
    pub retry_of: Option<i64>,
    /// What the check after the upload found: why a backup is `suspect`
    /// (one reason per entry); empty for a verified one.
    #[serde(default)]
    pub verification: Vec<String>,
}

fn first_attempt() -> u32 {
    1
}

impl Backup {
    /// When the backup was taken: started, or queued if it never started.
    pub fn taken_at(&self) -> DateTime<Utc> {
        self.started_at.unwrap_or(self.queued_at)
    }

    /// The database's name; `None` for a globals backup.
    pub fn database(&self) -> Option<&str> {
        self.target.database()
    }

    /// A good backup (see [`BackupStatus::is_good`]) whose artifact is
    /// still on storage.
    pub fn is_usable(&self) -> bool {
        self.status.is_good() && self.pruned_at.is_none()
    }
}

/// The globals backup that goes with a database backup: the newest usable
/// one taken at or before it (restore roles from it before the database).
pub fn nearest_globals(globals: &[Backup], at: DateTime<Utc>) -> Option<&Backup> {
    globals
        .iter()
        .filter(|g| g.target.is_globals() && g.is_usable() && g.taken_at() <= at)
        .max_by_key(|g| (g.taken_at(), g.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn backup(id: i64, target: Target, status: BackupStatus, hour: u32) -> Backup {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, hour, 0, 0).unwrap();
        Backup {
            id,
            server_id: Some(1),
            server_name: "main".into(),
            target,
            status,
            trigger: "cli".into(),
            queued_at: at,
            started_at: Some(at),
            finished_at: None,
            duration_ms: None,
            raw_bytes: 0,
            stored_bytes: 0,
            format: "custom".into(),
            destination: "file:///b".into(),
            location: None,
            pg_dump_version: None,
            pg_dump_path: None,
            server_version: None,
            cause: None,
            stderr_tail: None,
            scheduled_for: None,
            late: false,
            source_host: None,
            compression: None,
            warnings: vec![],
            version_changed: false,
            tiers: vec![],
            pruned_at: None,
            prune_error: None,
            attempt: 1,
            retry_of: None,
            verification: vec![],
        }
    }

    #[test]
    fn words_round_trip() {
        for s in BackupStatus::ALL {
            assert_eq!(s.as_str().parse::<BackupStatus>().unwrap(), s);
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::from(s.as_str())
            );
        }
        let good: Vec<_> = BackupStatus::ALL
            .into_iter()
            .filter(|s| s.is_good())
            .collect();
        assert_eq!(
            good,
            [
                BackupStatus::Succeeded,
                BackupStatus::Verified,
                BackupStatus::Suspect
            ]
        );
        for k in [BackupKind::Database, BackupKind::Globals] {
            assert_eq!(k.as_str().parse::<BackupKind>().unwrap(), k);
        }
        assert!("done".parse::<BackupStatus>().is_err());
        assert!("table".parse::<BackupKind>().is_err());
    }

    #[test]
    fn targets() {
        let db = Target::Database("app".into());
        assert_eq!(db.kind(), BackupKind::Database);
        assert_eq!(db.database(), Some("app"));
        assert_eq!(Target::Globals.database(), None);
        assert_eq!(Target::Globals.to_string(), "globals");
        let json = serde_json::to_string(&db).unwrap();
        assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), db);
    }

    #[test]
    fn nearest_globals_is_the_newest_usable_one_before() {
        use BackupStatus::*;
        let mut pruned = backup(4, Target::Globals, Succeeded, 4);
        pruned.pruned_at = Some(pruned.queued_at);
        let list = vec![
            backup(1, Target::Globals, Succeeded, 1),
            backup(2, Target::Globals, Suspect, 2),
            backup(3, Target::Globals, Failed, 3),
            pruned,
            backup(5, Target::Database("app".into()), Succeeded, 4),
            backup(6, Target::Globals, Verified, 6),
        ];
        let at = |h| Utc.with_ymd_and_hms(2026, 11, 1, h, 0, 0).unwrap();
        assert_eq!(nearest_globals(&list, at(5)).map(|g| g.id), Some(2));
        assert_eq!(nearest_globals(&list, at(2)).map(|g| g.id), Some(2));
        assert_eq!(nearest_globals(&list, at(0)).map(|g| g.id), None);
        assert_eq!(nearest_globals(&list, at(7)).map(|g| g.id), Some(6));
    }

    #[test]
    fn backups_serialize_flat() {
        let b = backup(
            1,
            Target::Database("app".into()),
            BackupStatus::Succeeded,
            1,
        );
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["kind"], "database");
        assert_eq!(v["database"], "app");
        assert_eq!(v["status"], "succeeded");
        assert_eq!(serde_json::from_value::<Backup>(v).unwrap(), b);
        let g = backup(2, Target::Globals, BackupStatus::Failed, 1);
        let v = serde_json::to_value(&g).unwrap();
        assert_eq!(v["kind"], "globals");
        assert_eq!(serde_json::from_value::<Backup>(v).unwrap(), g);
    }
}
