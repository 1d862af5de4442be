//! The history as the charts draw it: `DatabaseHistory` turned into
//! `ChartData` (pure, so the server and the browser draw the same).

use model::format::human_size;
use model::history::{DatabaseHistory, TableSeries};
use model::names::qualified;

use crate::ui::size_chart::{group_digits, ChartColumn, ChartData, ChartSeries};

/// The x axis of a range: its start and end; all of time: the backups' own.
fn domain(
    h: &DatabaseHistory,
) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    h.since.map(|s| (s, h.until))
}

/// The size line: each backup's stored size, its raw size as a note.
pub fn size_chart(h: &DatabaseHistory) -> ChartData {
    ChartData {
        series: vec![ChartSeries {
            name: "stored".into(),
            note: String::new(),
        }],
        columns: h
            .sizes
            .iter()
            .map(|p| ChartColumn {
                at: p.at,
                backup_id: p.backup_id,
                values: vec![Some(p.stored_bytes)],
                notes: vec![format!("{} raw (pg_dump output)", human_size(p.raw_bytes))],
            })
            .collect(),
        domain: domain(h),
    }
}

/// `+12.0 MiB`, `-3.5 KiB`, `±0 B`.
pub fn change_words(from: i64, to: i64) -> String {
    let d = to - from;
    match d.signum() {
        1 => format!("+{}", human_size(d)),
        -1 => format!("-{}", human_size(-d)),
        _ => "±0 B".into(),
    }
}

/// A table's legend words: `1.0 MiB → 5.0 MiB (+4.0 MiB)`.
fn table_note(t: &TableSeries) -> String {
    format!(
        "{} → {} ({})",
        human_size(t.first_bytes),
        human_size(t.latest_bytes),
        change_words(t.first_bytes, t.latest_bytes)
    )
}

/// One line per large table, at the size line's backups; rows as notes.
pub fn tables_chart(h: &DatabaseHistory) -> ChartData {
    let columns = h
        .sizes
        .iter()
        .map(|p| {
            let cells: Vec<Option<(i64, i64)>> = h
                .tables
                .iter()
                .map(|t| {
                    t.points
                        .iter()
                        .find(|q| q.backup_id == p.backup_id)
                        .map(|q| (q.bytes, q.rows))
                })
                .collect();
            ChartColumn {
                at: p.at,
                backup_id: p.backup_id,
                values: cells.iter().map(|c| c.map(|(b, _)| b)).collect(),
                notes: cells
                    .iter()
                    .map(|c| {
                        c.map(|(_, r)| format!("{} rows", group_digits(r)))
                            .unwrap_or_default()
                    })
                    .collect(),
            }
        })
        .filter(|c| c.values.iter().any(Option::is_some))
        .collect();
    ChartData {
        series: h
            .tables
            .iter()
            .map(|t| ChartSeries {
                name: qualified(&t.schema, &t.name),
                note: table_note(t),
            })
            .collect(),
        columns,
        domain: domain(h),
    }
}

/// The table that grew the most over the range, and by how much.
pub fn grew_most(h: &DatabaseHistory) -> Option<(String, i64)> {
    h.tables
        .iter()
        .map(|t| {
            (
                qualified(&t.schema, &t.name),
                t.latest_bytes - t.first_bytes,
            )
        })
        .filter(|(_, d)| *d > 0)
        .max_by_key(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use model::history::{HistoryRange, SizePoint, TablePoint};

    fn history() -> DatabaseHistory {
        let at = |d| Utc.with_ymd_and_hms(2026, 11, d, 3, 0, 0).unwrap();
        let table = |name: &str, sizes: &[(i64, i64)]| TableSeries {
            schema: "public".into(),
            name: name.into(),
            first_bytes: sizes[0].1,
            latest_bytes: sizes.last().unwrap().1,
            points: sizes
                .iter()
                .map(|(id, b)| TablePoint {
                    backup_id: *id,
                    at: at(*id as u32),
                    bytes: *b,
                    rows: b / 10,
                })
                .collect(),
        };
        DatabaseHistory {
            range: HistoryRange::Month,
            since: Some(at(1) - chrono::Duration::days(1)),
            until: at(20),
            backups_in_range: 3,
            sizes: (1..=3)
                .map(|i| SizePoint {
                    backup_id: i,
                    at: at(i as u32),
                    stored_bytes: i * 1000,
                    raw_bytes: i * 4096,
                })
                .collect(),
            tables: vec![
                table("Big", &[(1, 5000), (2, 5000), (3, 5000)]),
                table("grows", &[(2, 1000), (3, 4000)]),
            ],
            failures: vec![],
            failures_in_range: 0,
        }
    }

    #[test]
    fn charts_from_a_history() {
        let h = history();
        let s = size_chart(&h);
        assert_eq!(s.columns.len(), 3);
        assert_eq!(s.columns[2].values, vec![Some(3000)]);
        assert_eq!(s.columns[0].notes[0], "4.0 KiB raw (pg_dump output)");
        assert_eq!(s.domain, Some((h.since.unwrap(), h.until)));

        let t = tables_chart(&h);
        assert_eq!(t.series[0].name, "public.\"Big\"");
        assert_eq!(t.series[1].name, "public.grows");
        assert_eq!(t.series[1].note, "1000 B → 3.9 KiB (+2.9 KiB)");
        assert_eq!(t.columns[0].values, vec![Some(5000), None]);
        assert_eq!(t.columns[2].values, vec![Some(5000), Some(4000)]);
        assert_eq!(t.columns[2].notes[1], "400 rows");
        assert_eq!(grew_most(&h), Some(("public.grows".into(), 3000)));

        let all = DatabaseHistory { since: None, ..h };
        assert_eq!(size_chart(&all).domain, None);
    }

    #[test]
    fn changes_in_words() {
        assert_eq!(change_words(1024, 3072), "+2.0 KiB");
        assert_eq!(change_words(3072, 1024), "-2.0 KiB");
        assert_eq!(change_words(5, 5), "±0 B");
    }
}
