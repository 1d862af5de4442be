//! Backup policies as users state them: what to dump, how, when, and how
//! long to keep it. A server has a default [`Policy`] that its databases
//! inherit; a database may override it whole. Server-wide settings (which
//! databases are covered, the globals dump, a standby to read from) live in
//! [`ServerPlan`]. Validation is here, so the browser and the engine apply
//! the same rules; the `pg_dump` arguments a policy implies are the engine's.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::cron::Schedule;
use crate::retention::Tiers;

/// A policy field that cannot be used, naming the field and the fix.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct PolicyError {
    pub field: String,
    pub message: String,
}

impl PolicyError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError {
            field: field.into(),
            message: message.into(),
        }
    }
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        422
    }

    /// Several problems as one error: the first one's field, and a message
    /// that goes on with one `field: message` line per further problem, so
    /// the whole text reads as one `field: message` line each (forms show
    /// each line beside its field). `Ok` when there are none.
    pub fn combine(errors: Vec<PolicyError>) -> Result<(), PolicyError> {
        let mut it = errors.into_iter();
        let Some(mut first) = it.next() else {
            return Ok(());
        };
        for e in it {
            first.message.push('\n');
            first.message.push_str(&e.to_string());
        }
        Err(first)
    }
}

/// Archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Format {
    /// `-Fc` streamed from standard output.
    Custom,
    /// `-Fd -j jobs`, spooled and uploaded file by file.
    Directory { jobs: u32 },
}

/// pg_dump's own compression methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PgDumpAlgorithm {
    Gzip,
    Lz4,
    Zstd,
}

impl PgDumpAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            PgDumpAlgorithm::Gzip => "gzip",
            PgDumpAlgorithm::Lz4 => "lz4",
            PgDumpAlgorithm::Zstd => "zstd",
        }
    }
    fn max_level(self) -> u32 {
        match self {
            PgDumpAlgorithm::Gzip => 9,
            PgDumpAlgorithm::Lz4 => 12,
            PgDumpAlgorithm::Zstd => 22,
        }
    }
}

/// Who compresses the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Compression {
    /// pgshelf's in-process multithreaded zstd (the default).
    Pgshelf { level: i32 },
    /// pg_dump's own `--compress=METHOD:LEVEL`.
    PgDump {
        algorithm: PgDumpAlgorithm,
        level: u32,
    },
    /// Stored as pg_dump writes it, uncompressed.
    None,
}

/// Which objects to dump. Patterns are pg_dump's (`*`, `?`, `schema.table`,
/// double quotes for exact names); each goes to pg_dump as one argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Selection {
    pub include_schemas: Vec<String>,
    pub exclude_schemas: Vec<String>,
    pub include_tables: Vec<String>,
    pub exclude_tables: Vec<String>,
    /// Tables whose data is skipped; their structure is still dumped.
    pub exclude_table_data: Vec<String>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self == &Selection::default()
    }
}

/// How one database is backed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Scheduled runs happen only when enabled; "Back up now" always works.
    pub enabled: bool,
    /// Five-field cron expression or a preset such as `@daily`.
    pub schedule: String,
    /// IANA time zone the schedule and the retention calendar are read in.
    pub timezone: String,
    pub format: Format,
    pub compression: Compression,
    pub selection: Selection,
    /// Take the snapshot in a SERIALIZABLE READ ONLY DEFERRABLE transaction.
    pub serializable_deferrable: bool,
    /// pg_dump's `--lock-wait-timeout`, in seconds.
    pub lock_wait_timeout_secs: Option<u32>,
    /// The whole run fails as timed out after this long.
    pub run_timeout_secs: Option<u32>,
    /// The run fails as stalled when no byte moves for this long.
    pub stall_timeout_secs: u32,
    pub retention: Tiers,
    /// Scheduled test-restores: the newest good backup restored into a
    /// scratch database and compared with its manifest.
    pub test_restore: TestRestorePolicy,
    /// Where every backup is written, by destination name (the 3-2-1
    /// habit: two or more). Empty: the built-in `local` destination.
    pub destinations: Vec<String>,
    /// age encryption of every stored file (after compression).
    pub encryption: EncryptionPolicy,
}

/// age encryption: to X25519 recipients only. pgshelf stores no private
/// key unless the user opts in for scheduled test-restores.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionPolicy {
    /// `age1...` public keys; empty: not encrypted.
    pub recipients: Vec<String>,
}

impl EncryptionPolicy {
    pub fn enabled(&self) -> bool {
        !self.recipients.is_empty()
    }
}

/// Whether `s` looks like an age X25519 recipient (`age1` + 58 bech32
/// characters). The engine parses it fully; this catches typos in the form.
pub fn looks_like_age_recipient(s: &str) -> bool {
    const BECH32: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let s = s.trim();
    s.len() == 62 && s.starts_with("age1") && s[4..].chars().all(|c| BECH32.contains(c))
}

/// When and where a database's backups are proven by a real restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TestRestorePolicy {
    /// Scheduled test-restores happen only when enabled; "Test-restore now" always works.
    pub enabled: bool,
    /// Five-field cron expression or preset, read in the policy's time zone.
    pub cron: String,
    /// The configured server (by name) to restore on; `None`: the backup's own server.
    pub restore_server: Option<String>,
    /// Apply the server's nearest globals backup first (roles created only if missing).
    pub with_globals: bool,
}

/// The default test-restore schedule: quarterly, 03:00 on the first day of
/// January, April, July and October.
pub const DEFAULT_TEST_RESTORE_CRON: &str = "0 3 1 1,4,7,10 *";

impl Default for TestRestorePolicy {
    fn default() -> Self {
        TestRestorePolicy {
            enabled: true,
            cron: DEFAULT_TEST_RESTORE_CRON.into(),
            restore_server: None,
            with_globals: true,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            enabled: true,
            schedule: "30 3 * * *".into(),
            timezone: "UTC".into(),
            format: Format::Custom,
            compression: Compression::Pgshelf { level: 3 },
            selection: Selection::default(),
            serializable_deferrable: false,
            lock_wait_timeout_secs: None,
            run_timeout_secs: None,
            stall_timeout_secs: 900,
            retention: Tiers::default(),
            test_restore: TestRestorePolicy::default(),
            destinations: Vec::new(),
            encryption: EncryptionPolicy::default(),
        }
    }
}

/// Largest `-j` accepted for directory format.
pub const MAX_JOBS: u32 = 64;

impl Policy {
    /// The parsed schedule and time zone, or the reason they are unusable.
    pub fn schedule(&self) -> Result<(Schedule, Tz), PolicyError> {
        let s = Schedule::parse(&self.schedule)
            .map_err(|e| PolicyError::new("schedule", e.to_string()))?;
        Ok((s, parse_tz(&self.timezone)?))
    }

    /// The parsed test-restore schedule and time zone, or the reason they are unusable.
    pub fn test_restore_schedule(&self) -> Result<(Schedule, Tz), PolicyError> {
        let s = Schedule::parse(&self.test_restore.cron)
            .map_err(|e| PolicyError::new("test_restore.cron", e.to_string()))?;
        Ok((s, parse_tz(&self.timezone)?))
    }

    /// Checks every field; every problem found is returned, as one error
    /// (see [`PolicyError::combine`]) so a form shows them all at once.
    pub fn validate(&self) -> Result<(), PolicyError> {
        PolicyError::combine(self.problems())
    }

    /// Every problem with this policy, in the order of the form's fields.
    pub fn problems(&self) -> Vec<PolicyError> {
        let mut errs = Vec::new();
        if let Err(e) = Schedule::parse(&self.schedule) {
            errs.push(PolicyError::new("schedule", e.to_string()));
        }
        if let Err(e) = parse_tz(&self.timezone) {
            errs.push(e);
        }
        if let Err(e) = Schedule::parse(&self.test_restore.cron) {
            errs.push(PolicyError::new("test_restore.cron", e.to_string()));
        }
        if self
            .test_restore
            .restore_server
            .as_ref()
            .is_some_and(|s| s.trim().is_empty())
        {
            errs.push(PolicyError::new(
                "test_restore.restore_server",
                "is empty. Fix: name a configured server, or leave it unset to restore on the backup's own server",
            ));
        }
        for (i, r) in self.encryption.recipients.iter().enumerate() {
            if !looks_like_age_recipient(r) {
                errs.push(PolicyError::new(
                    format!("encryption.recipients[{i}]"),
                    format!("{r:?} is not an age public key. Fix: paste the line that starts with age1 (from `age-keygen -y key.txt`); never the AGE-SECRET-KEY line"),
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for d in &self.destinations {
            if !seen.insert(d.as_str()) {
                errs.push(PolicyError::new(
                    "destinations",
                    format!("{d:?} is named twice. Fix: name each destination once"),
                ));
            }
        }
        if let Format::Directory { jobs } = self.format {
            if jobs == 0 || jobs > MAX_JOBS {
                errs.push(PolicyError::new(
                    "format.jobs",
                    format!("{jobs} parallel jobs is outside 1..={MAX_JOBS}. Fix: use about as many jobs as the server has spare cores"),
                ));
            }
        }
        match self.compression {
            Compression::Pgshelf { level } if !(1..=19).contains(&level) => {
                errs.push(PolicyError::new(
                    "compression.level",
                    format!("zstd level {level} is outside 1..=19. Fix: 3 is fast, 19 is smallest"),
                ))
            }
            Compression::PgDump { algorithm, level } if level > algorithm.max_level() => {
                errs.push(PolicyError::new(
                    "compression.level",
                    format!(
                        "{} level {level} is above {}. Fix: choose 1 to {}",
                        algorithm.as_str(),
                        algorithm.max_level(),
                        algorithm.max_level()
                    ),
                ))
            }
            _ => {}
        }
        let s = &self.selection;
        for (field, list) in [
            ("selection.include_schemas", &s.include_schemas),
            ("selection.exclude_schemas", &s.exclude_schemas),
            ("selection.include_tables", &s.include_tables),
            ("selection.exclude_tables", &s.exclude_tables),
            ("selection.exclude_table_data", &s.exclude_table_data),
        ] {
            for p in list {
                if let Err(m) = check_pattern(p) {
                    errs.push(PolicyError::new(field, m));
                }
            }
        }
        if self.stall_timeout_secs < 10 {
            errs.push(PolicyError::new(
                "stall_timeout_secs",
                format!(
                    "{}s is too short to tell a stall from a pause. Fix: use at least 10",
                    self.stall_timeout_secs
                ),
            ));
        }
        if self.run_timeout_secs == Some(0) {
            errs.push(PolicyError::new(
                "run_timeout_secs",
                "0 would fail every run. Fix: leave it empty for no limit",
            ));
        }
        if self.lock_wait_timeout_secs == Some(0) {
            errs.push(PolicyError::new(
                "lock_wait_timeout_secs",
                "0 would fail on any lock. Fix: leave it empty to wait",
            ));
        }
        if let Err(e) = self.retention.validate() {
            errs.push(PolicyError::new("retention", e.to_string()));
        }
        errs
    }

    /// Whether pgshelf compresses the stream itself.
    pub fn pgshelf_zstd_level(&self) -> Option<i32> {
        match self.compression {
            Compression::Pgshelf { level } => Some(level),
            _ => None,
        }
    }

    /// File name of a custom-format artifact under this policy.
    pub fn custom_file_name(&self) -> &'static str {
        match self.compression {
            Compression::Pgshelf { .. } => "dump.zst",
            Compression::PgDump { .. } | Compression::None => "dump.custom",
        }
    }

    /// Short words for the compression, for manifests and the UI.
    pub fn compression_label(&self) -> String {
        match self.compression {
            Compression::Pgshelf { level } => format!("zstd:{level} (pgshelf)"),
            Compression::PgDump { algorithm, level } => {
                format!("{}:{level} (pg_dump)", algorithm.as_str())
            }
            Compression::None => "none".into(),
        }
    }
}

/// Parses an IANA time zone name.
pub fn parse_tz(name: &str) -> Result<Tz, PolicyError> {
    name.parse::<Tz>().map_err(|_| {
        PolicyError::new(
            "timezone",
            format!("{name:?} is not an IANA time zone. Fix: use a name such as UTC, Europe/Berlin or America/New_York"),
        )
    })
}

/// Which databases of a server are backed up on schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Coverage {
    /// Every database that accepts connections; templates skipped; new ones picked up.
    All,
    /// Only these.
    Only { databases: Vec<String> },
}

/// The per-server `pg_dumpall --globals-only` schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalsPolicy {
    pub enabled: bool,
    pub schedule: String,
    pub timezone: String,
    /// `--no-role-passwords`, for managed platforms that hide pg_authid.
    pub no_role_passwords: bool,
    pub retention: Tiers,
    /// Where the server's globals backups are written (names); empty: `local`.
    pub destinations: Vec<String>,
}

impl Default for GlobalsPolicy {
    fn default() -> Self {
        GlobalsPolicy {
            enabled: true,
            schedule: "15 3 * * *".into(),
            timezone: "UTC".into(),
            no_role_passwords: false,
            retention: Tiers::default(),
            destinations: Vec::new(),
        }
    }
}

/// A standby to dump from, taking read load off the primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standby {
    pub host: String,
    pub port: u16,
}

/// Databases [`Coverage::All`] leaves out unless the plan says otherwise:
/// `postgres`, the maintenance database every server has and few people
/// keep data in. Nobody chose to back it up daily, so it is not.
pub const DEFAULT_LEFT_OUT: &[&str] = &["postgres"];

/// Databases never backed up under [`Coverage::All`]: the templates (list
/// one under [`Coverage::Only`] to back it up anyway).
pub const TEMPLATES: &[&str] = &["template0", "template1"];

/// Server-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerPlan {
    pub coverage: Coverage,
    /// With [`Coverage::All`]: databases left out (default
    /// [`DEFAULT_LEFT_OUT`]; the templates always are). Ignored with
    /// [`Coverage::Only`], which names what it backs up.
    pub exclude: Vec<String>,
    pub globals: GlobalsPolicy,
    pub standby: Option<Standby>,
}

impl Default for ServerPlan {
    fn default() -> Self {
        ServerPlan {
            coverage: Coverage::All,
            exclude: DEFAULT_LEFT_OUT.iter().map(|d| (*d).to_owned()).collect(),
            globals: GlobalsPolicy::default(),
            standby: None,
        }
    }
}

impl ServerPlan {
    /// Checks every field; every problem at once (see [`PolicyError::combine`]).
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut errs = Vec::new();
        if let Some(s) = &self.standby {
            if s.host.trim().is_empty() || s.port == 0 {
                errs.push(PolicyError::new(
                    "standby",
                    "needs a host and a port. Fix: enter both, or remove the standby",
                ));
            }
        }
        if let Coverage::Only { databases } = &self.coverage {
            if databases.iter().any(|d| d.trim().is_empty()) {
                errs.push(PolicyError::new(
                    "coverage",
                    "an empty database name is listed. Fix: remove the blank line",
                ));
            }
        }
        if self.exclude.iter().any(|d| d.trim().is_empty()) {
            errs.push(PolicyError::new(
                "exclude",
                "an empty database name is listed. Fix: remove the blank line",
            ));
        }
        if let Err(e) = Schedule::parse(&self.globals.schedule) {
            errs.push(PolicyError::new("globals.schedule", e.to_string()));
        }
        if let Err(e) = parse_tz(&self.globals.timezone) {
            errs.push(PolicyError::new("globals.timezone", e.message));
        }
        if let Err(e) = self.globals.retention.validate() {
            errs.push(PolicyError::new("globals.retention", e.to_string()));
        }
        PolicyError::combine(errs)
    }

    /// Whether `database` is backed up on schedule: under [`Coverage::All`]
    /// every database but the templates and those in `exclude`; under
    /// [`Coverage::Only`] exactly those listed.
    pub fn covers(&self, database: &str) -> bool {
        match &self.coverage {
            Coverage::All => {
                !TEMPLATES.contains(&database) && !self.exclude.iter().any(|d| d == database)
            }
            Coverage::Only { databases } => databases.iter().any(|d| d == database),
        }
    }

    /// In words, what this plan backs up on schedule, e.g. `every database
    /// except postgres and the templates (new ones picked up)`.
    pub fn coverage_words(&self) -> String {
        match &self.coverage {
            Coverage::All => {
                let mut left: Vec<&str> = self.exclude.iter().map(String::as_str).collect();
                left.push("the templates");
                format!(
                    "every database except {} (new ones picked up)",
                    join_and(&left)
                )
            }
            Coverage::Only { databases } if databases.is_empty() => "no database".into(),
            Coverage::Only { databases } => {
                let names: Vec<&str> = databases.iter().map(String::as_str).collect();
                format!("only {}", join_and(&names))
            }
        }
    }
}

/// What a `pg_dump` binary can do, probed by running it (not inferred from
/// its version: some builds lack lz4 or zstd, and pg_dump 14 silently
/// ignores `--compress=zstd`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpCapabilities {
    /// `--compress=METHOD[:LEVEL]` syntax (16+).
    pub method_syntax: bool,
    pub gzip: bool,
    pub lz4: bool,
    pub zstd: bool,
}

impl DumpCapabilities {
    pub fn supports(&self, a: PgDumpAlgorithm) -> bool {
        match a {
            PgDumpAlgorithm::Gzip => self.gzip,
            PgDumpAlgorithm::Lz4 => self.lz4 && self.method_syntax,
            PgDumpAlgorithm::Zstd => self.zstd && self.method_syntax,
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Refuses patterns pg_dump would misread or that are empty.
fn check_pattern(p: &str) -> Result<(), String> {
    if p.trim().is_empty() {
        return Err("an empty pattern is listed. Fix: remove it".into());
    }
    if p.starts_with('-') {
        return Err(format!(
            "{p:?} starts with '-'. Fix: quote the name, e.g. \"\\\"-name\\\"\""
        ));
    }
    if p.matches('"').count() % 2 == 1 {
        return Err(format!("{p:?} has an unbalanced double quote"));
    }
    if p.contains('\0') || p.contains('\n') {
        return Err(format!("{p:?} holds a control character"));
    }
    Ok(())
}

/// Where a database's effective policy comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "lowercase")]
pub enum PolicySource {
    /// The database's own override.
    Database { declared: bool },
    /// Inherited from the server's default policy.
    Server { declared: bool },
    /// Nothing set: pgshelf's built-in default.
    Default,
}

impl PolicySource {
    /// Words for the policy page: `for_database` is true on a database's
    /// policy page, false on the server default's.
    pub fn label(self, for_database: bool) -> &'static str {
        use PolicySource::*;
        match (self, for_database) {
            (Database { declared: false }, _) => "override for this database",
            (Database { declared: true }, true) => "override, declared in pgshelf.toml — read-only",
            (Database { declared: true }, false) => "declared in pgshelf.toml — read-only",
            (Server { declared: false }, true) => "inherited from server default",
            (Server { declared: true }, true) => {
                "inherited from server default (declared in pgshelf.toml)"
            }
            (Server { declared: false }, false) => "server default",
            (Server { declared: true }, false) => {
                "server default, declared in pgshelf.toml — read-only"
            }
            (Default, true) => {
                "inherited from server default (pgshelf's built-in default, not saved)"
            }
            (Default, false) => "pgshelf's built-in default (not saved yet)",
        }
    }

    /// Short words for the schedules table.
    pub fn short(self) -> &'static str {
        use PolicySource::*;
        match self {
            Database { declared: false } => "override",
            Database { declared: true } => "override (pgshelf.toml)",
            Server { declared: false } => "server default",
            Server { declared: true } => "server default (pgshelf.toml)",
            Default => "built-in default",
        }
    }

    /// Whether the policy page must not change it.
    pub fn read_only(self, for_database: bool) -> bool {
        match self {
            PolicySource::Database { declared } => declared && for_database,
            PolicySource::Server { declared } => declared && !for_database,
            PolicySource::Default => false,
        }
    }

    /// A database's own override that can be removed.
    pub fn is_removable_override(self) -> bool {
        matches!(self, PolicySource::Database { declared: false })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_policies_without_test_restore_keep_parsing() {
        let old = r#"{"enabled":true,"schedule":"@daily","timezone":"UTC"}"#;
        let p: Policy = serde_json::from_str(old).unwrap();
        assert_eq!(p.test_restore, TestRestorePolicy::default());
        assert_eq!(p.test_restore.cron, "0 3 1 1,4,7,10 *");
        assert!(p.test_restore.enabled && p.test_restore.with_globals);
        p.validate().unwrap();
    }

    #[test]
    fn test_restore_fields_are_validated() {
        let mut p = Policy::default();
        p.test_restore.cron = "61 * * * *".into();
        assert_eq!(p.validate().unwrap_err().field, "test_restore.cron");
        p.test_restore.cron = "@monthly".into();
        p.test_restore.restore_server = Some(" ".into());
        let e = p.validate().unwrap_err();
        assert_eq!(e.field, "test_restore.restore_server");
        assert!(e.message.contains("Fix:"));
        p.test_restore.restore_server = Some("scratch-host".into());
        p.validate().unwrap();
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = Policy {
            schedule: "61 * * * *".into(),
            timezone: "Mars/Base".into(),
            stall_timeout_secs: 1,
            run_timeout_secs: Some(0),
            ..Policy::default()
        };
        let fields: Vec<String> = p.problems().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "schedule",
                "timezone",
                "stall_timeout_secs",
                "run_timeout_secs"
            ]
        );
        let e = p.validate().unwrap_err();
        assert_eq!(e.field, "schedule");
        let text = e.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("schedule: minute field: 61 is out of range"));
        assert!(lines[1].starts_with("timezone: \"Mars/Base\" is not an IANA time zone"));
        assert!(lines[2].starts_with("stall_timeout_secs: 1s is too short"));
        assert!(lines[3].starts_with("run_timeout_secs: 0 would fail every run"));
        // Every line names its fix, the cron one too.
        assert!(lines.iter().all(|l| l.contains("Fix:")), "{text}");
        assert_eq!(PolicyError::combine(Vec::new()), Ok(()));
    }

    #[test]
    fn every_problem_of_a_server_plan_at_once() {
        let plan = ServerPlan {
            exclude: vec!["".into()],
            globals: GlobalsPolicy {
                schedule: "nope".into(),
                timezone: "Nowhere".into(),
                ..GlobalsPolicy::default()
            },
            ..ServerPlan::default()
        };
        let text = plan.validate().unwrap_err().to_string();
        let fields: Vec<&str> = text
            .lines()
            .map(|l| l.split_once(": ").unwrap().0)
            .collect();
        assert_eq!(fields, ["exclude", "globals.schedule", "globals.timezone"]);
    }
}
