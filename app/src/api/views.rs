//! What the browser receives: serializable view types built from engine
//! values on the server (see `convert`). Nothing secret is ever in here; a
//! server's password shows up only as `has_password`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The sslmode values the server form offers, in libpq's order
/// (the same list as `engine::pg::conn::SSLMODES`; a test keeps them equal).
pub const SSLMODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// A configured PostgreSQL server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServerView {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// Whether a password is stored; the password itself never leaves the server.
    pub has_password: bool,
    pub sslmode: String,
    pub maintenance_db: String,
}

impl ServerView {
    /// `host:port`, with brackets around IPv6 addresses.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    /// e.g. `18.0` or `15.18`.
    pub server_version: String,
    /// The server is a standby.
    pub in_recovery: bool,
    /// The pg_dump backups of this server would use, or why there is none
    /// (the message names the fix).
    pub pg_dump: Result<PgDumpView, String>,
}

/// The pg_dump chosen for a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgDumpView {
    pub version: String,
    /// Full path of the pg_dump binary.
    pub path: String,
}

/// A database on a server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DatabaseView {
    pub name: String,
    /// `None` when pgshelf's role may not connect to it.
    pub size_bytes: Option<i64>,
}

/// Where a backup run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl BackupState {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupState::Queued => "queued",
            BackupState::Running => "running",
            BackupState::Succeeded => "succeeded",
            BackupState::Failed => "failed",
        }
    }

    /// True while the run has not ended (the page keeps polling).
    pub fn is_active(self) -> bool {
        matches!(self, BackupState::Queued | BackupState::Running)
    }
}

/// Byte counters of a run in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LiveBytes {
    /// Read from pg_dump so far.
    pub raw: u64,
    /// Written to the destination so far (compressed).
    pub stored: u64,
}

/// One backup run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BackupView {
    pub id: i64,
    /// `None` once the server was deleted (the backup stays listed).
    pub server_id: Option<i64>,
    pub server_name: String,
    pub database: String,
    pub kind: String,
    pub state: BackupState,
    /// Who started it, e.g. `dashboard`, `schedule`, `cli`.
    pub trigger: String,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub raw_bytes: i64,
    pub stored_bytes: i64,
    /// Live counters while running in this process.
    pub live: Option<LiveBytes>,
    pub format: String,
    pub location: Option<String>,
    pub pg_dump_version: Option<String>,
    pub server_version: Option<String>,
    /// Why a failed run failed, naming the fix.
    pub cause: Option<String>,
    /// The last lines pg_dump wrote to stderr.
    pub stderr_tail: Option<String>,
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
        self.backups.iter().any(|b| b.state.is_active())
    }
}

/// A background worker, e.g. the backup runner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerView {
    pub name: String,
    /// `idle` or `running`.
    pub state: String,
    /// One line per thing in progress.
    pub doing: Vec<String>,
    pub queued: usize,
    pub last_error: Option<String>,
    pub last_finished_at: Option<DateTime<Utc>>,
}

/// Every worker, and where backups go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkersView {
    pub workers: Vec<WorkerView>,
    /// The destination backups are written to, e.g. `file:///srv/pgshelf/backups`.
    pub destination: String,
}

impl WorkersView {
    /// True while any worker runs or has queued work (poll faster).
    pub fn busy(&self) -> bool {
        self.workers
            .iter()
            .any(|w| w.state != "idle" || w.queued > 0)
    }
}
