//! Comparing a table restored into scratch with the live table it came
//! from, and putting rows back: what the comparison found
//! ([`Comparison`]), what the user picks to put back ([`PutBack`]), what a
//! put-back script holds ([`PutBackSummary`]) and how an applied one was
//! recorded ([`PutBackRecord`]).
//!
//! Values travel as PostgreSQL's text form (what `::text` gives), `None`
//! for NULL: the comparison is of those texts, and the put-back script casts
//! them back to each column's type.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many rows of each kind a comparison keeps as examples.
pub const SAMPLE_ROWS: usize = 50;

/// One row's values in column order (`None` is NULL).
pub type Values = Vec<Option<String>>;

/// A table compared between a scratch copy (restored from a backup) and the
/// live database: counts of each kind of difference and a few examples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// `schema.table` (each part double-quoted when it needs to be).
    pub table: String,
    /// The key the rows were matched on (primary key, else a unique index
    /// over NOT NULL columns).
    pub key: Vec<String>,
    /// Every column compared, in the live table's order.
    pub columns: Vec<String>,
    /// The scratch database (the backup's copy).
    pub scratch_database: String,
    /// The live database the table is compared with.
    pub live_database: String,
    /// When the comparison ran.
    pub at: DateTime<Utc>,
    pub scratch_rows: u64,
    pub live_rows: u64,
    /// Rows equal on both sides.
    pub unchanged: u64,
    /// In the scratch copy (the backup) but not live: deleted since the backup.
    pub deleted: DiffSet,
    /// On both sides with different values.
    pub changed: DiffSet,
    /// Live only: added since the backup (a put-back leaves them alone).
    pub added: DiffSet,
}

impl Comparison {
    /// True when both sides hold the same rows.
    pub fn is_same(&self) -> bool {
        self.deleted.count == 0 && self.changed.count == 0 && self.added.count == 0
    }
}

/// Rows of one kind of difference: how many, and the first
/// [`SAMPLE_ROWS`] of them in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSet {
    pub count: u64,
    pub sample: Vec<RowDiff>,
}

/// One row that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDiff {
    /// The key's values, in [`Comparison::key`] order.
    pub key: Vec<String>,
    /// The row in the scratch copy (`None`: not there).
    pub scratch: Option<Values>,
    /// The live row (`None`: not there).
    pub live: Option<Values>,
    /// Columns whose values differ (changed rows only).
    pub changed_columns: Vec<String>,
}

/// What to put back into the live table, from the scratch copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutBack {
    /// Every row deleted since the backup.
    pub deleted: bool,
    /// Every row changed since the backup (back to its values in the backup).
    pub changed: bool,
    /// Rows picked one by one, by key values (in [`Comparison::key`] order).
    #[serde(default)]
    pub keys: Vec<Vec<String>>,
}

impl PutBack {
    /// All deleted and all changed rows.
    pub fn all() -> PutBack {
        PutBack {
            deleted: true,
            changed: true,
            keys: Vec::new(),
        }
    }

    /// True when nothing is picked.
    pub fn is_empty(&self) -> bool {
        !self.deleted && !self.changed && self.keys.is_empty()
    }

    /// What is picked, in words ("all deleted rows, 2 selected rows").
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.deleted {
            parts.push("all rows deleted since the backup".to_owned());
        }
        if self.changed {
            parts.push("all rows changed since the backup".to_owned());
        }
        if !self.keys.is_empty() {
            parts.push(format!("{} selected row(s)", self.keys.len()));
        }
        if parts.is_empty() {
            "nothing".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// What a put-back script holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutBackSummary {
    /// Statements for rows deleted since the backup (inserted again).
    pub deleted: u64,
    /// Statements for rows changed since the backup (updated back).
    pub changed: u64,
    /// Selected keys that have nothing to put back, each with why.
    pub skipped: Vec<SkippedKey>,
    /// Size of the script.
    pub bytes: u64,
    /// sha256 of the script, hex.
    pub sha256: String,
}

impl PutBackSummary {
    /// Rows the script puts back.
    pub fn rows(&self) -> u64 {
        self.deleted + self.changed
    }
}

/// A selected key with nothing to put back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedKey {
    pub key: Vec<String>,
    pub reason: String,
}

/// Where an applied put-back stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PutBackStatus {
    Running,
    Succeeded,
    Failed,
}

impl PutBackStatus {
    /// The word stored in the catalog and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            PutBackStatus::Running => "running",
            PutBackStatus::Succeeded => "succeeded",
            PutBackStatus::Failed => "failed",
        }
    }
}

impl FromStr for PutBackStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "running" => PutBackStatus::Running,
            "succeeded" => PutBackStatus::Succeeded,
            "failed" => PutBackStatus::Failed,
            other => return Err(format!("unknown put-back status {other:?}")),
        })
    }
}

impl fmt::Display for PutBackStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A put-back applied to a live database, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutBackRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The user who applied it.
    pub who: String,
    /// The live server.
    pub server_id: i64,
    /// The live database written to.
    pub database: String,
    /// The scratch database the rows came from.
    pub scratch: String,
    /// `schema.table`.
    pub table: String,
    pub rows_inserted: u64,
    pub rows_updated: u64,
    /// sha256 of the script that was run, hex.
    pub sha256: String,
    pub status: PutBackStatus,
    /// Why it failed (nothing was changed then: one transaction).
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_back_words() {
        assert_eq!(PutBack::default().describe(), "nothing");
        assert!(PutBack::default().is_empty());
        let p = PutBack {
            keys: vec![vec!["1".into()]],
            ..PutBack::all()
        };
        assert_eq!(
            p.describe(),
            "all rows deleted since the backup, all rows changed since the backup, 1 selected row(s)"
        );
    }

    #[test]
    fn status_round_trips() {
        for s in [
            PutBackStatus::Running,
            PutBackStatus::Succeeded,
            PutBackStatus::Failed,
        ] {
            assert_eq!(s.as_str().parse::<PutBackStatus>(), Ok(s));
        }
        assert!("x".parse::<PutBackStatus>().is_err());
    }
}
