//! Proof that backups restore: test-restores as recorded ([`TestRestore`],
//! each [`Mismatch`] by table), the proof status of a database
//! ([`DatabaseProof`], [`ProofFlag`]) and alertable [`Event`]s. The flag rule
//! ([`proof_flag`]) and the test-restore interval ([`proof_interval`]) are
//! pure, so the engine and the pages agree on them.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::cron::Schedule;

/// Where a test-restore stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestRestoreStatus {
    Running,
    Passed,
    Failed,
}

impl TestRestoreStatus {
    /// The word stored in the catalog and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            TestRestoreStatus::Running => "running",
            TestRestoreStatus::Passed => "passed",
            TestRestoreStatus::Failed => "failed",
        }
    }
}

impl FromStr for TestRestoreStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "running" => TestRestoreStatus::Running,
            "passed" => TestRestoreStatus::Passed,
            "failed" => TestRestoreStatus::Failed,
            other => return Err(format!("unknown test-restore status {other:?}")),
        })
    }
}

impl fmt::Display for TestRestoreStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who started a test-restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestRestoreTrigger {
    /// A person: "Test-restore now" or `pgshelf test-restore`.
    Manual,
    /// The policy's test-restore schedule.
    Scheduled,
}

impl TestRestoreTrigger {
    /// The word stored in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            TestRestoreTrigger::Manual => "manual",
            TestRestoreTrigger::Scheduled => "scheduled",
        }
    }
}

impl FromStr for TestRestoreTrigger {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "manual" => Ok(TestRestoreTrigger::Manual),
            "scheduled" => Ok(TestRestoreTrigger::Scheduled),
            other => Err(format!("unknown test-restore trigger {other:?}")),
        }
    }
}

/// One thing a test-restore found wrong. `table` names the table (as
/// `schema.name`, quoted where needed) when the finding is about one; a
/// stored file whose checksum differs, or a restore error, has none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mismatch {
    pub table: Option<String>,
    /// Rows recorded at dump time (or a file's recorded size).
    pub expected: Option<i64>,
    /// Rows found after the restore (or the stored file's size).
    pub found: Option<i64>,
    pub note: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.table {
            Some(t) => write!(f, "{t}: {}", self.note),
            None => f.write_str(&self.note),
        }
    }
}

/// One table of a test-restore: rows restored next to rows recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableCheck {
    /// `schema.name`, quoted where needed.
    pub table: String,
    /// Rows recorded at dump time; `None` for a table the manifest does not list.
    pub recorded: Option<i64>,
    /// Rows counted after the restore; `None` when the table is missing.
    pub restored: Option<i64>,
    /// The recorded count is an estimate (`reltuples`): compared loosely, never failed on.
    #[serde(default)]
    pub estimated: bool,
    /// The policy left this table's data out: 0 rows expected.
    #[serde(default)]
    pub data_excluded: bool,
}

/// One test-restore as recorded: a backup restored into a scratch database
/// and compared with its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TestRestore {
    pub id: i64,
    /// `None` once the server was deleted (the record stays).
    pub server_id: Option<i64>,
    pub server_name: String,
    pub database: String,
    /// The backup restored (`None` when none could be chosen).
    pub backup_id: Option<i64>,
    /// Where the scratch database was made.
    pub restore_server_id: Option<i64>,
    pub restore_server_name: Option<String>,
    pub trigger: TestRestoreTrigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub status: TestRestoreStatus,
    pub mismatches: Vec<Mismatch>,
    /// What is worth knowing but fails nothing (an estimated count that
    /// differs, globals that would not apply).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Every table, restored rows next to recorded ones.
    pub tables: Vec<TableCheck>,
    /// Why it could not run to the end (a refusal, a restore that failed).
    pub error: Option<String>,
    /// The scratch database it restored into (dropped afterwards).
    pub scratch: Option<String>,
    /// Whether the scratch database was dropped again.
    pub scratch_dropped: bool,
    /// The user, `cli` or `schedule`.
    pub who: String,
}

impl TestRestore {
    /// One line on why it failed: the error, else the mismatches.
    pub fn cause(&self) -> Option<String> {
        if self.status != TestRestoreStatus::Failed {
            return None;
        }
        if let Some(e) = &self.error {
            return Some(e.clone());
        }
        let parts: Vec<String> = self.mismatches.iter().map(|m| m.to_string()).collect();
        Some(if parts.is_empty() {
            "failed".into()
        } else {
            parts.join("; ")
        })
    }
}

/// Why a database's backups are not (recently) proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProofFlag {
    /// No test-restore of it ever passed.
    NeverProven,
    /// The last passed test-restore is older than the test-restore interval.
    NotProvenInInterval,
    /// The newest test-restore failed.
    LastTestFailed,
}

impl ProofFlag {
    /// Short words for badges.
    pub fn label(self) -> &'static str {
        match self {
            ProofFlag::NeverProven => "never proven",
            ProofFlag::NotProvenInInterval => "not proven recently",
            ProofFlag::LastTestFailed => "last test failed",
        }
    }

    /// The stable name (the serialized one).
    pub fn as_str(self) -> &'static str {
        match self {
            ProofFlag::NeverProven => "never-proven",
            ProofFlag::NotProvenInInterval => "not-proven-in-interval",
            ProofFlag::LastTestFailed => "last-test-failed",
        }
    }
}

/// A database's proof: its newest test-restore, its newest passed one, and
/// the flag that calls for attention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseProof {
    pub server_id: i64,
    pub database: String,
    pub last: Option<TestRestore>,
    pub last_passed: Option<TestRestore>,
    pub flag: Option<ProofFlag>,
    /// The test-restore interval (ms) the flag was judged by.
    pub interval_ms: Option<i64>,
}

/// Slack added to the largest gap of the test-restore schedule.
pub const PROOF_SLACK: Duration = Duration::days(1);

/// How long a database may go without a passed test-restore: the largest
/// gap between consecutive occurrences of its test-restore schedule (read in
/// its time zone, over the slots around `now`), plus [`PROOF_SLACK`]. For
/// the default quarterly schedule that is 92 days + 1. `None` when the
/// schedule has fewer than two occurrences.
pub fn proof_interval(schedule: &Schedule, tz: Tz, now: DateTime<Utc>) -> Option<Duration> {
    // Two years back and a year ahead see every gap of a yearly schedule;
    // a frequent schedule shows its pattern within the first thousand slots.
    let end = now + Duration::days(400);
    let mut t = now - Duration::days(800);
    let mut prev: Option<DateTime<Utc>> = None;
    let mut largest: Option<Duration> = None;
    for _ in 0..1000 {
        let Some(next) = schedule.next_after(t, tz) else {
            break;
        };
        if let Some(p) = prev {
            let gap = next - p;
            if largest.is_none_or(|l| gap > l) {
                largest = Some(gap);
            }
        }
        if next > end {
            break;
        }
        prev = Some(next);
        t = next;
    }
    largest.map(|g| g + PROOF_SLACK)
}

/// The flag of a database: the newest test-restore failed; else none ever
/// passed; else the last pass is older than `interval` (when one applies:
/// test-restores scheduled). A test still running judges by the one before.
pub fn proof_flag(
    last_finished: Option<TestRestoreStatus>,
    last_passed_at: Option<DateTime<Utc>>,
    interval: Option<Duration>,
    now: DateTime<Utc>,
) -> Option<ProofFlag> {
    if last_finished == Some(TestRestoreStatus::Failed) {
        return Some(ProofFlag::LastTestFailed);
    }
    let Some(at) = last_passed_at else {
        return Some(ProofFlag::NeverProven);
    };
    match interval {
        Some(i) if now - at > i => Some(ProofFlag::NotProvenInInterval),
        _ => None,
    }
}

/// How bad an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!("unknown severity {other:?}")),
        }
    }
}

/// Event kind: a test-restore failed.
pub const EVENT_TEST_RESTORE_FAILED: &str = "test_restore_failed";

/// Something that happened that alert channels may fire on (a later issue
/// adds the channels; events are recorded from now on).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// e.g. [`EVENT_TEST_RESTORE_FAILED`].
    pub kind: String,
    pub severity: Severity,
    pub server_id: Option<i64>,
    pub database: Option<String>,
    pub backup_id: Option<i64>,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, 12, 0, 0).unwrap()
    }

    #[test]
    fn quarterly_interval_is_the_longest_quarter_plus_a_day() {
        let s = Schedule::parse("0 3 1 1,4,7,10 *").unwrap();
        let i = proof_interval(&s, chrono_tz::Europe::Berlin, utc(2026, 5, 10)).unwrap();
        // Jul 1 -> Oct 1 and Oct 1 -> Jan 1 are 92 days (DST moves an hour).
        assert!(
            i >= Duration::days(93) - Duration::hours(1)
                && i <= Duration::days(93) + Duration::hours(1),
            "{i}"
        );
        let daily = Schedule::parse("@daily").unwrap();
        assert_eq!(
            proof_interval(&daily, chrono_tz::UTC, utc(2026, 5, 10)),
            Some(Duration::days(2))
        );
        // Weekdays only: the weekend gap counts.
        let wd = Schedule::parse("0 3 * * 1-5").unwrap();
        assert_eq!(
            proof_interval(&wd, chrono_tz::UTC, utc(2026, 5, 10)),
            Some(Duration::days(4))
        );
        // Yearly: a leap year's gap.
        let y = Schedule::parse("0 3 1 3 *").unwrap();
        assert_eq!(
            proof_interval(&y, chrono_tz::UTC, utc(2026, 5, 10)),
            Some(Duration::days(367))
        );
    }

    #[test]
    fn flags_never_proven_overdue_and_failed() {
        let now = utc(2026, 6, 1);
        let q = Some(Duration::days(93));
        assert_eq!(proof_flag(None, None, q, now), Some(ProofFlag::NeverProven));
        assert_eq!(
            proof_flag(Some(TestRestoreStatus::Failed), None, q, now),
            Some(ProofFlag::LastTestFailed)
        );
        // Passed 10 days ago: fine; 100 days ago: overdue.
        let recent = now - Duration::days(10);
        assert_eq!(
            proof_flag(Some(TestRestoreStatus::Passed), Some(recent), q, now),
            None
        );
        let old = now - Duration::days(100);
        assert_eq!(
            proof_flag(Some(TestRestoreStatus::Passed), Some(old), q, now),
            Some(ProofFlag::NotProvenInInterval)
        );
        // A failure after an old pass says the failure.
        assert_eq!(
            proof_flag(Some(TestRestoreStatus::Failed), Some(recent), q, now),
            Some(ProofFlag::LastTestFailed)
        );
        // Test-restores off: no interval, no overdue flag; never proven still shows.
        assert_eq!(proof_flag(None, Some(old), None, now), None);
        assert_eq!(
            proof_flag(None, None, None, now),
            Some(ProofFlag::NeverProven)
        );
    }

    #[test]
    fn words_round_trip() {
        for s in [
            TestRestoreStatus::Running,
            TestRestoreStatus::Passed,
            TestRestoreStatus::Failed,
        ] {
            assert_eq!(s.as_str().parse::<TestRestoreStatus>(), Ok(s));
        }
        for s in [Severity::Info, Severity::Warning, Severity::Error] {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
        }
        assert_eq!(
            serde_json::to_string(&ProofFlag::NotProvenInInterval).unwrap(),
            format!("\"{}\"", ProofFlag::NotProvenInInterval.as_str())
        );
    }
}
