//! A database's history as the database page charts it: the size of its
//! good backups over a range of time ([`SizePoint`]), how its largest tables
//! grew ([`TableSeries`], from the sizes each manifest records), and the
//! runs that failed ([`FailedRun`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How far back the database page looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum HistoryRange {
    #[serde(rename = "7d")]
    Week,
    #[default]
    #[serde(rename = "30d")]
    Month,
    #[serde(rename = "1y")]
    Year,
    #[serde(rename = "all")]
    All,
}

impl HistoryRange {
    /// Every range, shortest first (the selector's order).
    pub const ALL: [HistoryRange; 4] = [
        HistoryRange::Week,
        HistoryRange::Month,
        HistoryRange::Year,
        HistoryRange::All,
    ];

    /// The word in the page's URL (`?range=30d`).
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryRange::Week => "7d",
            HistoryRange::Month => "30d",
            HistoryRange::Year => "1y",
            HistoryRange::All => "all",
        }
    }

    /// As the selector shows it.
    pub fn label(self) -> &'static str {
        match self {
            HistoryRange::Week => "7 days",
            HistoryRange::Month => "30 days",
            HistoryRange::Year => "1 year",
            HistoryRange::All => "All",
        }
    }

    /// The start of the range ending at `now`; `None` for all of time.
    pub fn since(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            HistoryRange::Week => Some(now - Duration::days(7)),
            HistoryRange::Month => Some(now - Duration::days(30)),
            HistoryRange::Year => Some(now - Duration::days(365)),
            HistoryRange::All => None,
        }
    }

    /// The range a URL's `range=` names; anything else is the default
    /// (30 days), so an old or mistyped link still shows a chart.
    pub fn from_query(s: Option<&str>) -> HistoryRange {
        s.and_then(|s| s.parse().ok()).unwrap_or_default()
    }
}

impl FromStr for HistoryRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        HistoryRange::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown range {s:?}: use 7d, 30d, 1y or all"))
    }
}

impl fmt::Display for HistoryRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A good backup's size at the time it was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizePoint {
    pub backup_id: i64,
    /// When it was taken (started; queued if it never started).
    pub at: DateTime<Utc>,
    /// Written to storage (compressed, encrypted): what `pgshelf list` shows.
    pub stored_bytes: i64,
    /// Read from pg_dump.
    pub raw_bytes: i64,
}

/// One table's size in one backup, as its manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablePoint {
    pub backup_id: i64,
    pub at: DateTime<Utc>,
    pub bytes: i64,
    pub rows: i64,
}

/// One of the database's largest tables across the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSeries {
    pub schema: String,
    pub name: String,
    /// Its size in the newest backup of the range.
    pub latest_bytes: i64,
    /// Its size in the oldest backup of the range that has it.
    pub first_bytes: i64,
    /// Oldest first, at the backups the size line keeps.
    pub points: Vec<TablePoint>,
}

/// A run that failed, for the failure log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedRun {
    pub backup_id: i64,
    pub at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Who started it (`schedule`, `dashboard`, `cli`, ...).
    pub trigger: String,
    /// 1, or the retry number of a scheduled slot's run.
    pub attempt: u32,
    /// Why it failed, naming the fix.
    pub cause: Option<String>,
    /// The last lines pg_dump wrote to stderr.
    pub stderr_tail: Option<String>,
}

/// How many tables the per-table chart draws.
pub const TOP_TABLES: usize = 5;

/// Most failed runs the failure log lists (the newest).
pub const MAX_FAILURES: usize = 50;

/// A database's history over a range: what the database page charts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseHistory {
    pub range: HistoryRange,
    /// The range's start (`None`: all of time) and end (when it was read).
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
    /// Good backups in the range; `sizes` holds at most
    /// [`crate::chart::MAX_POINTS`] of them (see [`crate::chart::downsample`]).
    pub backups_in_range: usize,
    /// Oldest first.
    pub sizes: Vec<SizePoint>,
    /// The [`TOP_TABLES`] largest tables of the newest backup in the range,
    /// largest first.
    pub tables: Vec<TableSeries>,
    /// Failed runs in the range, newest first, at most [`MAX_FAILURES`].
    pub failures: Vec<FailedRun>,
    /// All failed runs in the range (more than listed when above the cap).
    pub failures_in_range: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ranges_round_trip_and_default_to_30_days() {
        for r in HistoryRange::ALL {
            assert_eq!(r.as_str().parse::<HistoryRange>().unwrap(), r);
            assert_eq!(HistoryRange::from_query(Some(r.as_str())), r);
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::Value::from(r.as_str())
            );
        }
        assert_eq!(HistoryRange::from_query(None), HistoryRange::Month);
        assert_eq!(HistoryRange::from_query(Some("5y")), HistoryRange::Month);
        assert!("5y"
            .parse::<HistoryRange>()
            .unwrap_err()
            .contains("7d, 30d, 1y or all"));
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert_eq!(
            HistoryRange::Week.since(now),
            Some(Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap())
        );
        assert_eq!(
            HistoryRange::Month.since(now),
            Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(
            HistoryRange::Year.since(now),
            Some(Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap())
        );
        assert_eq!(HistoryRange::All.since(now), None);
        assert_eq!(HistoryRange::Year.label(), "1 year");
    }
}
