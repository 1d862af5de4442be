//! A database's history for its page: the size of its good backups over a
//! range (7 days, 30 days, 1 year, all), how its largest tables grew (the
//! table sizes each backup's manifest records, kept per table in
//! `backup_tables`), and its failed runs with their causes.
//!
//! Stays fast with 100,000 backups: the range is read through an index on
//! when a backup was taken, only stored/raw sizes cross from SQLite, the
//! size line is cut to [`model::chart::MAX_POINTS`] by
//! [`model::chart::downsample`], and the per-table lines are read at those
//! same backups only (one indexed lookup per table and backup), never from
//! manifest JSON.

use chrono::{DateTime, Utc};
use model::chart::{downsample, MAX_POINTS};
use model::history::{
    DatabaseHistory, HistoryRange, SizePoint, TablePoint, TableSeries, MAX_FAILURES, TOP_TABLES,
};

use crate::Error;

impl crate::Engine {
    /// The history of `database` on server `server_id` over `range` ending
    /// at `now`: its good backups' sizes (at most
    /// [`model::chart::MAX_POINTS`], first, last and every peak and dip
    /// kept), its [`TOP_TABLES`] largest tables in the newest backup with
    /// their sizes at those same backups, and its failed runs (newest
    /// [`MAX_FAILURES`]). An unknown server is a 404; a database without
    /// backups has an empty history.
    pub async fn database_history(
        &self,
        server_id: i64,
        database: &str,
        range: HistoryRange,
        now: DateTime<Utc>,
    ) -> Result<DatabaseHistory, Error> {
        let catalog = &self.inner.catalog;
        catalog.server(server_id).await?;
        let since = range.since(now);
        let sizes = self.size_history(server_id, database, since).await?;
        let backups_in_range = sizes.1;
        let sizes = sizes.0;
        let tables = self.table_growth(&sizes).await?;
        let (failures, failures_in_range) = catalog
            .failed_runs(server_id, database, since, MAX_FAILURES)
            .await?;
        Ok(DatabaseHistory {
            range,
            since,
            until: now,
            backups_in_range,
            sizes,
            tables,
            failures,
            failures_in_range,
        })
    }

    /// The good backups of `database` taken at or after `since`, oldest
    /// first, cut to at most [`MAX_POINTS`] by their stored size; and how
    /// many there were before the cut.
    pub async fn size_history(
        &self,
        server_id: i64,
        database: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<(Vec<SizePoint>, usize), Error> {
        let all = self
            .inner
            .catalog
            .size_history(server_id, database, since)
            .await?;
        let total = all.len();
        if total <= MAX_POINTS {
            return Ok((all, total));
        }
        let values: Vec<f64> = all.iter().map(|p| p.stored_bytes as f64).collect();
        let keep = downsample(&values, MAX_POINTS);
        let mut all = all.into_iter().map(Some).collect::<Vec<_>>();
        let kept = keep.into_iter().filter_map(|i| all[i].take()).collect();
        Ok((kept, total))
    }

    /// The [`TOP_TABLES`] largest tables of the newest of `sizes` that
    /// recorded its tables, each with its size at every backup of `sizes`
    /// that holds it (oldest first). Empty when none recorded tables.
    pub async fn table_growth(&self, sizes: &[SizePoint]) -> Result<Vec<TableSeries>, Error> {
        let catalog = &self.inner.catalog;
        let ids: Vec<i64> = sizes.iter().map(|p| p.backup_id).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let at = |id: i64| sizes.iter().find(|p| p.backup_id == id).map(|p| p.at);
        let mut out = Vec::new();
        for top in catalog.largest_tables(&ids, TOP_TABLES).await? {
            let rows = catalog
                .table_in_backups(&top.schema_name, &top.table_name, &ids)
                .await?;
            let mut points: Vec<TablePoint> = rows
                .into_iter()
                .filter_map(|r| {
                    Some(TablePoint {
                        backup_id: r.backup_id,
                        at: at(r.backup_id)?,
                        bytes: r.bytes,
                        rows: r.rows,
                    })
                })
                .collect();
            points.sort_by_key(|p| (p.at, p.backup_id));
            out.push(TableSeries {
                first_bytes: points.first().map_or(top.bytes, |p| p.bytes),
                latest_bytes: top.bytes,
                schema: top.schema_name,
                name: top.table_name,
                points,
            });
        }
        Ok(out)
    }
}
