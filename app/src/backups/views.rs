//! What a backups list shows beyond the catalog's [`Backup`]: the live byte
//! counters of a run in progress and the globals backup that goes with it
//! (both only known at listing time, so not part of the domain type).

use chrono::{DateTime, Utc};
use model::backup::Backup;
use serde::{Deserialize, Serialize};

/// Byte counters of a run in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LiveBytes {
    /// Read from pg_dump so far.
    pub raw: u64,
    /// Written to the destination so far (compressed).
    pub stored: u64,
}

/// The globals backup that goes with a database backup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GlobalsRef {
    pub id: i64,
    pub at: DateTime<Utc>,
}

/// One backup as listed: the record, live counters while it runs in this
/// process, and the nearest globals backup before it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BackupView {
    pub backup: Backup,
    pub live: Option<LiveBytes>,
    pub globals: Option<GlobalsRef>,
}

impl std::ops::Deref for BackupView {
    type Target = Backup;
    fn deref(&self) -> &Backup {
        &self.backup
    }
}

/// A page of backups, newest first, with the server's clock at listing time
/// (so "5 min ago" renders the same on the server and in the browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupList {
    pub backups: Vec<BackupView>,
    pub listed_at: DateTime<Utc>,
}

impl BackupList {
    /// True while any listed backup is queued or running.
    pub fn any_active(&self) -> bool {
        self.backups.iter().any(|b| b.status.is_active())
    }
}
