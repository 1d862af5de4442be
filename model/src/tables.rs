//! The tables a backup holds, as its manifest records them: size, row count,
//! and how that count was taken ([`RowsFrom`]), so an estimate is never
//! shown as if it were exact.

use serde::{Deserialize, Serialize};

/// How a table's row count was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowsFrom {
    /// Counted in the dump's own data as it streamed past (one COPY line
    /// per row): exact, and from the dump's snapshot by construction.
    Dump,
    /// `count(*)` in the snapshot the dump ran in, with the table locked
    /// (ACCESS SHARE) from before the snapshot until the count: exact.
    #[default]
    Snapshot,
    /// `pg_class.reltuples` (the planner's estimate, as of the last VACUUM
    /// or ANALYZE): the table was above the engine's exact-count size limit.
    Estimate,
}

impl RowsFrom {
    /// The word stored in manifests and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            RowsFrom::Dump => "dump",
            RowsFrom::Snapshot => "snapshot",
            RowsFrom::Estimate => "estimate",
        }
    }
}

/// A table in a dump's snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    /// `table` or `partitioned`.
    pub kind: String,
    pub bytes: i64,
    /// Rows in the dump. For a partitioned table, the sum of its dumped
    /// leaf partitions (each counted once).
    pub rows: i64,
    /// Structure dumped, data left out by the policy.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub data_excluded: bool,
    /// `rows` is an estimate (see [`RowsFrom::Estimate`]); show it as one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rows_estimated: bool,
    /// How `rows` was taken (manifests from before this field: `snapshot`).
    #[serde(default)]
    pub rows_from: RowsFrom,
}

impl TableInfo {
    /// The row count as shown to people: `1234`, or `~1234 (estimate)`.
    pub fn rows_text(&self) -> String {
        rows_text(self.rows, self.rows_estimated)
    }
}

/// A row count as shown to people: `1234`, or `~1234 (estimate)`.
pub fn rows_text(rows: i64, estimated: bool) -> String {
    if estimated {
        format!("~{rows} (estimate)")
    } else {
        rows.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_manifests_read_as_exact_snapshot_counts() {
        let t: TableInfo = serde_json::from_str(
            r#"{"schema":"s","name":"t","kind":"table","bytes":8192,"rows":3}"#,
        )
        .unwrap();
        assert!(!t.rows_estimated);
        assert_eq!(t.rows_from, RowsFrom::Snapshot);
        assert_eq!(t.rows_text(), "3");
        let e = TableInfo {
            rows_estimated: true,
            rows_from: RowsFrom::Estimate,
            ..t
        };
        assert_eq!(e.rows_text(), "~3 (estimate)");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["rows_from"], "estimate");
        assert_eq!(v["rows_estimated"], true);
        assert_eq!(serde_json::from_value::<TableInfo>(v).unwrap(), e);
    }
}
