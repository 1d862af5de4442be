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
    /// The schedule slot this run was for (scheduled runs only).
    pub scheduled_for: Option<DateTime<Utc>>,
    /// Started later than its slot (after downtime).
    pub late: bool,
    /// `host:port` the dump was read from.
    pub source_host: Option<String>,
    /// e.g. `zstd:3 (pgshelf)`.
    pub compression: Option<String>,
    /// Warnings of the run, one per entry.
    pub warnings: Vec<String>,
    /// The server's version differs from the one at the previous success.
    pub version_changed: bool,
    /// Retention tiers this backup holds.
    pub tiers: Vec<String>,
    /// Removed by retention at this time (kept listed, greyed).
    pub pruned_at: Option<DateTime<Utc>>,
    pub prune_error: Option<String>,
    /// For a database backup: the globals backup nearest before it.
    pub globals: Option<GlobalsRef>,
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

// ---- policies, schedules, server plans -------------------------------

/// The retention tiers, finest first (as the engine names them).
pub const TIER_NAMES: [&str; 5] = ["hourly", "daily", "weekly", "monthly", "yearly"];

/// Time zones the policy form suggests (any IANA name is accepted).
pub const COMMON_TIMEZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Amsterdam",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Zurich",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Helsinki",
    "Europe/Athens",
    "Europe/Istanbul",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "America/Toronto",
    "America/Vancouver",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "Pacific/Honolulu",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Africa/Cairo",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Auckland",
];

/// Retention tier counts as typed (blank means 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TiersForm {
    pub hourly: String,
    pub daily: String,
    pub weekly: String,
    pub monthly: String,
    pub yearly: String,
}

impl TiersForm {
    /// The count typed for a tier, by name (see [`TIER_NAMES`]).
    pub fn get(&self, tier: &str) -> &str {
        match tier {
            "hourly" => &self.hourly,
            "daily" => &self.daily,
            "weekly" => &self.weekly,
            "monthly" => &self.monthly,
            _ => &self.yearly,
        }
    }

    /// Sets the count of a tier, by name.
    pub fn set(&mut self, tier: &str, value: String) {
        match tier {
            "hourly" => self.hourly = value,
            "daily" => self.daily = value,
            "weekly" => self.weekly = value,
            "monthly" => self.monthly = value,
            _ => self.yearly = value,
        }
    }
}

/// A backup policy as the form edits it (the browser-side mirror of
/// `engine::policy::Policy`): numbers as typed, pattern lists one per line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PolicyForm {
    pub enabled: bool,
    /// Cron expression or preset such as `@daily`.
    pub schedule: String,
    pub timezone: String,
    /// `custom` or `directory`.
    pub format: String,
    /// Parallel jobs for directory format.
    pub jobs: String,
    /// `pgshelf` (zstd in pgshelf), `gzip`, `lz4`, `zstd` (pg_dump's own) or `none`.
    pub compression: String,
    /// Compression level; blank for the method's default.
    pub level: String,
    pub include_schemas: String,
    pub exclude_schemas: String,
    pub include_tables: String,
    pub exclude_tables: String,
    pub exclude_table_data: String,
    pub serializable_deferrable: bool,
    /// Seconds; blank to wait.
    pub lock_wait_timeout_secs: String,
    /// Seconds; blank for no limit.
    pub run_timeout_secs: String,
    /// Seconds without a byte moving before the run fails as stalled.
    pub stall_timeout_secs: String,
    pub retention: TiersForm,
}

/// Where the policy shown comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PolicySourceView {
    /// The database's own override.
    Override { declared: bool },
    /// The server's default policy.
    ServerDefault { declared: bool },
    /// Nothing saved: pgshelf's built-in default.
    BuiltIn,
}

impl PolicySourceView {
    /// Words for the policy page: `for_database` is true on a database's
    /// policy page, false on the server default's.
    pub fn label(self, for_database: bool) -> &'static str {
        match (self, for_database) {
            (PolicySourceView::Override { declared: false }, _) => "override for this database",
            (PolicySourceView::Override { declared: true }, true) => {
                "override, declared in pgshelf.toml — read-only"
            }
            (PolicySourceView::Override { declared: true }, false) => {
                "declared in pgshelf.toml — read-only"
            }
            (PolicySourceView::ServerDefault { declared: false }, true) => {
                "inherited from server default"
            }
            (PolicySourceView::ServerDefault { declared: true }, true) => {
                "inherited from server default (declared in pgshelf.toml)"
            }
            (PolicySourceView::ServerDefault { declared: false }, false) => "server default",
            (PolicySourceView::ServerDefault { declared: true }, false) => {
                "server default, declared in pgshelf.toml — read-only"
            }
            (PolicySourceView::BuiltIn, true) => {
                "inherited from server default (pgshelf's built-in default, not saved)"
            }
            (PolicySourceView::BuiltIn, false) => "pgshelf's built-in default (not saved yet)",
        }
    }

    /// Short words for the schedules table.
    pub fn short(self) -> &'static str {
        match self {
            PolicySourceView::Override { declared: false } => "override",
            PolicySourceView::Override { declared: true } => "override (pgshelf.toml)",
            PolicySourceView::ServerDefault { declared: false } => "server default",
            PolicySourceView::ServerDefault { declared: true } => "server default (pgshelf.toml)",
            PolicySourceView::BuiltIn => "built-in default",
        }
    }

    /// Whether the policy page must not change it.
    pub fn read_only(self, for_database: bool) -> bool {
        match self {
            PolicySourceView::Override { declared } => declared && for_database,
            PolicySourceView::ServerDefault { declared } => declared && !for_database,
            PolicySourceView::BuiltIn => false,
        }
    }

    /// A database's own override that can be removed.
    pub fn is_removable_override(self) -> bool {
        matches!(self, PolicySourceView::Override { declared: false })
    }
}

/// The pg_dump a server's backups use and the compression it supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpCapsView {
    pub pg_dump_version: String,
    pub pg_dump_path: String,
    pub gzip: bool,
    pub lz4: bool,
    pub zstd: bool,
}

/// Everything the policy page needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPage {
    pub server_name: String,
    /// `None`: the server's default policy.
    pub database: Option<String>,
    pub form: PolicyForm,
    pub source: PolicySourceView,
    /// What the chosen pg_dump can compress with, or why that is unknown.
    pub capabilities: Result<DumpCapsView, String>,
    /// Schedule presets as (label, cron expression).
    pub presets: Vec<(String, String)>,
}

/// One upcoming run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextRunView {
    pub utc: DateTime<Utc>,
    /// The same instant in the policy's time zone, e.g. `2026-11-25 04:17 CET`.
    pub local: String,
}

/// A backup the previewed retention keeps or prunes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedView {
    pub id: i64,
    pub database: String,
    /// When the backup was taken (started, or queued).
    pub taken_at: Option<DateTime<Utc>>,
    /// Tiers it would hold (empty for pruned ones).
    pub tiers: Vec<String>,
    pub reason: String,
}

/// What saving a policy would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyPreviewView {
    /// The schedule in words.
    pub describe: String,
    pub timezone: String,
    pub next_runs: Vec<NextRunView>,
    pub keep: Vec<RetainedView>,
    pub prune: Vec<RetainedView>,
    /// Databases whose pruning is held (clock behind their newest backup),
    /// as `database: reason`.
    pub held: Vec<String>,
}

/// The schedule of one database, or of the server's globals (`database` "").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRowView {
    pub database: String,
    pub covered: bool,
    pub enabled: bool,
    /// Where the policy comes from (`None` for globals).
    pub source: Option<PolicySourceView>,
    pub schedule: String,
    pub timezone: String,
    pub describe: String,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<BackupView>,
    pub last_success: Option<BackupView>,
    pub overdue: bool,
    pub gone_since: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

impl ScheduleRowView {
    pub fn is_globals(&self) -> bool {
        self.database.is_empty()
    }
}

/// A server's schedules, with the server's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulesView {
    pub rows: Vec<ScheduleRowView>,
    pub now: DateTime<Utc>,
}

impl SchedulesView {
    /// True while a last run is queued or running.
    pub fn any_active(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.last_run.as_ref().is_some_and(|b| b.state.is_active()))
    }
}

/// A server plan as the form edits it (mirror of `engine::policy::ServerPlan`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServerPlanForm {
    /// `all` or `only`.
    pub coverage: String,
    /// For `only`: one database per line.
    pub databases: String,
    pub globals_enabled: bool,
    pub globals_schedule: String,
    pub globals_timezone: String,
    pub no_role_passwords: bool,
    pub globals_retention: TiersForm,
    /// Blank: no standby.
    pub standby_host: String,
    pub standby_port: String,
}

/// A server plan and whether pgshelf.toml declares it (read-only then).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerPlanView {
    pub form: ServerPlanForm,
    pub declared: bool,
}

/// The globals backup that goes with a database backup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GlobalsRef {
    pub id: i64,
    pub at: DateTime<Utc>,
}
