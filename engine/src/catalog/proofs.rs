//! Catalog queries of test-restores, their scheduler state and events
//! (tables from `0008_test_restores.sql`).

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{millis, Catalog, CatalogError};
use model::proof::{Event, Mismatch, Severity, TableCheck, TestRestore, TestRestoreStatus};

/// One row of `test_restores` as stored; mapped once by [`TestRestoreRecord::into_model`].
#[derive(Debug, Clone, FromRow)]
struct TestRestoreRecord {
    id: i64,
    server_id: Option<i64>,
    server_name: String,
    database: String,
    backup_id: Option<i64>,
    restore_server_id: Option<i64>,
    restore_server_name: Option<String>,
    trigger: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    status: String,
    mismatches: String,
    notes: String,
    tables: String,
    error: Option<String>,
    scratch: Option<String>,
    scratch_dropped: bool,
    who: String,
}

const COLUMNS: &str = "id, server_id, server_name, database, backup_id, restore_server_id, \
    restore_server_name, trigger, started_at, finished_at, duration_ms, status, mismatches, \
    notes, tables, error, scratch, scratch_dropped, who";

impl TestRestoreRecord {
    fn into_model(self) -> Result<TestRestore, CatalogError> {
        let corrupt = |what: String| CatalogError::Corrupt {
            id: self.id,
            detail: format!("test-restore: {what}"),
        };
        let mismatches: Vec<Mismatch> =
            serde_json::from_str(&self.mismatches).map_err(|e| corrupt(e.to_string()))?;
        let tables: Vec<TableCheck> =
            serde_json::from_str(&self.tables).map_err(|e| corrupt(e.to_string()))?;
        let notes: Vec<String> =
            serde_json::from_str(&self.notes).map_err(|e| corrupt(e.to_string()))?;
        Ok(TestRestore {
            id: self.id,
            server_id: self.server_id,
            server_name: self.server_name,
            database: self.database,
            backup_id: self.backup_id,
            restore_server_id: self.restore_server_id,
            restore_server_name: self.restore_server_name,
            trigger: self.trigger.parse().map_err(corrupt)?,
            started_at: self.started_at,
            finished_at: self.finished_at,
            duration_ms: self.duration_ms,
            status: self.status.parse().map_err(corrupt)?,
            mismatches,
            notes,
            tables,
            error: self.error,
            scratch: self.scratch,
            scratch_dropped: self.scratch_dropped,
            who: self.who,
        })
    }
}

/// A test-restore to record as started.
#[derive(Debug, Clone)]
pub struct NewTestRestore {
    pub server_id: i64,
    pub server_name: String,
    pub database: String,
    pub backup_id: Option<i64>,
    pub restore_server_id: Option<i64>,
    pub restore_server_name: Option<String>,
    pub trigger: model::proof::TestRestoreTrigger,
    pub who: String,
    pub scheduled_for: Option<DateTime<Utc>>,
}

/// How a test-restore ended.
#[derive(Debug, Clone)]
pub struct TestRestoreEnd {
    pub status: TestRestoreStatus,
    pub backup_id: Option<i64>,
    pub restore_server_id: Option<i64>,
    pub restore_server_name: Option<String>,
    pub mismatches: Vec<Mismatch>,
    pub notes: Vec<String>,
    pub tables: Vec<TableCheck>,
    pub error: Option<String>,
    pub scratch: Option<String>,
    pub scratch_dropped: bool,
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: String,
    pub severity: Severity,
    pub server_id: Option<i64>,
    pub database: Option<String>,
    pub backup_id: Option<i64>,
    pub message: String,
}

#[derive(Debug, Clone, FromRow)]
struct EventRecord {
    id: i64,
    at: DateTime<Utc>,
    kind: String,
    severity: String,
    server_id: Option<i64>,
    database: Option<String>,
    backup_id: Option<i64>,
    message: String,
}

impl Catalog {
    // ---- test-restores --------------------------------------------------

    /// Records a test-restore as running, owned by this process under a lease.
    pub async fn insert_test_restore(
        &self,
        t: &NewTestRestore,
    ) -> Result<TestRestore, CatalogError> {
        let now = Utc::now();
        let res = sqlx::query(
            "INSERT INTO test_restores (server_id, server_name, database, backup_id, restore_server_id,
                 restore_server_name, trigger, started_at, status, who, scheduled_for, runner, lease_until)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
        )
        .bind(t.server_id)
        .bind(&t.server_name)
        .bind(&t.database)
        .bind(t.backup_id)
        .bind(t.restore_server_id)
        .bind(&t.restore_server_name)
        .bind(t.trigger.as_str())
        .bind(now)
        .bind(&t.who)
        .bind(t.scheduled_for)
        .bind(self.instance())
        .bind(self.lease_deadline(now))
        .execute(self.pool())
        .await?;
        self.test_restore(res.last_insert_rowid()).await
    }

    /// Pushes the lease of this process's running test-restore forward.
    pub async fn renew_test_restore(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE test_restores SET lease_until = ? WHERE id = ? AND runner = ? AND status = 'running'",
        )
        .bind(self.lease_deadline(now))
        .bind(id)
        .bind(self.instance())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records how a test-restore ended (duration from its start). Only
    /// this process's running row is ended; a row recovered meanwhile by
    /// another process stays as that process recorded it.
    pub async fn finish_test_restore(
        &self,
        id: i64,
        end: &TestRestoreEnd,
    ) -> Result<TestRestore, CatalogError> {
        let now = Utc::now();
        let row = self.test_restore(id).await?;
        let duration = (now - row.started_at).num_milliseconds().max(0);
        let res = sqlx::query(
            "UPDATE test_restores SET status = ?, finished_at = ?, duration_ms = ?, backup_id = ?,
                 restore_server_id = ?, restore_server_name = ?, mismatches = ?, notes = ?, tables = ?,
                 error = ?, scratch = ?, scratch_dropped = ?, lease_until = NULL
              WHERE id = ? AND runner = ? AND status = 'running'",
        )
        .bind(end.status.as_str())
        .bind(now)
        .bind(duration)
        .bind(end.backup_id)
        .bind(end.restore_server_id)
        .bind(&end.restore_server_name)
        .bind(serde_json::to_string(&end.mismatches).expect("mismatches serialize"))
        .bind(serde_json::to_string(&end.notes).expect("notes serialize"))
        .bind(serde_json::to_string(&end.tables).expect("tables serialize"))
        .bind(&end.error)
        .bind(&end.scratch)
        .bind(end.scratch_dropped)
        .bind(id)
        .bind(self.instance())
        .execute(self.pool())
        .await?;
        if res.rows_affected() == 0 {
            return Err(CatalogError::TestRestoreLost(id));
        }
        self.test_restore(id).await
    }

    /// Marks running test-restores whose owner's lease expired as failed
    /// with `cause`; returns them as they now stand.
    pub async fn recover_test_restores(
        &self,
        now: DateTime<Utc>,
        cause: &str,
    ) -> Result<Vec<TestRestore>, CatalogError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM test_restores WHERE status = 'running' AND (lease_until IS NULL OR lease_until < ?)",
        )
        .bind(millis(now))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for id in ids {
            let res = sqlx::query(
                "UPDATE test_restores SET status = 'failed', finished_at = ?, error = ?, lease_until = NULL
                  WHERE id = ? AND status = 'running' AND (lease_until IS NULL OR lease_until < ?)",
            )
            .bind(now)
            .bind(cause)
            .bind(id)
            .bind(millis(now))
            .execute(self.pool())
            .await?;
            if res.rows_affected() == 1 {
                out.push(self.test_restore(id).await?);
            }
        }
        Ok(out)
    }

    pub async fn test_restore(&self, id: i64) -> Result<TestRestore, CatalogError> {
        sqlx::query_as::<_, TestRestoreRecord>(&format!(
            "SELECT {COLUMNS} FROM test_restores WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(CatalogError::NoSuchTestRestore(id))?
        .into_model()
    }

    /// Test-restores of a server (of one database when given), newest first.
    pub async fn test_restores(
        &self,
        server_id: i64,
        database: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TestRestore>, CatalogError> {
        let rows = sqlx::query_as::<_, TestRestoreRecord>(&format!(
            "SELECT {COLUMNS} FROM test_restores
              WHERE server_id = ? AND (? IS NULL OR database = ?)
              ORDER BY id DESC LIMIT ?"
        ))
        .bind(server_id)
        .bind(database)
        .bind(database)
        .bind(limit.max(1))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(TestRestoreRecord::into_model)
            .collect()
    }

    /// Test-restores of one backup, newest first.
    pub async fn test_restores_of_backup(
        &self,
        backup_id: i64,
    ) -> Result<Vec<TestRestore>, CatalogError> {
        let rows = sqlx::query_as::<_, TestRestoreRecord>(&format!(
            "SELECT {COLUMNS} FROM test_restores WHERE backup_id = ? ORDER BY id DESC"
        ))
        .bind(backup_id)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(TestRestoreRecord::into_model)
            .collect()
    }

    /// The newest finished test-restore and the newest passed one of a database.
    pub async fn last_test_restores(
        &self,
        server_id: i64,
        database: &str,
    ) -> Result<(Option<TestRestore>, Option<TestRestore>), CatalogError> {
        let q = |extra: &str| {
            format!(
                "SELECT {COLUMNS} FROM test_restores WHERE server_id = ? AND database = ? {extra}
                 ORDER BY id DESC LIMIT 1"
            )
        };
        let last = sqlx::query_as::<_, TestRestoreRecord>(&q("AND status <> 'running'"))
            .bind(server_id)
            .bind(database)
            .fetch_optional(self.pool())
            .await?;
        let passed = sqlx::query_as::<_, TestRestoreRecord>(&q("AND status = 'passed'"))
            .bind(server_id)
            .bind(database)
            .fetch_optional(self.pool())
            .await?;
        Ok((
            last.map(TestRestoreRecord::into_model).transpose()?,
            passed.map(TestRestoreRecord::into_model).transpose()?,
        ))
    }

    /// The last test-restore slot started for a database.
    pub async fn last_test_restore_slot(
        &self,
        server_id: i64,
        database: &str,
    ) -> Result<Option<DateTime<Utc>>, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT last_slot FROM test_restore_state WHERE server_id = ? AND database = ?",
        )
        .bind(server_id)
        .bind(database)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn set_last_test_restore_slot(
        &self,
        server_id: i64,
        database: &str,
        slot: DateTime<Utc>,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO test_restore_state (server_id, database, last_slot) VALUES (?, ?, ?)
             ON CONFLICT (server_id, database) DO UPDATE SET last_slot = excluded.last_slot",
        )
        .bind(server_id)
        .bind(database)
        .bind(slot)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    // ---- events -------------------------------------------------------

    /// Records an event for the alert channels.
    pub async fn record_event(&self, e: &NewEvent) -> Result<Event, CatalogError> {
        let at = Utc::now();
        let res = sqlx::query(
            "INSERT INTO events (at, kind, severity, server_id, database, backup_id, message)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(at)
        .bind(&e.kind)
        .bind(e.severity.as_str())
        .bind(e.server_id)
        .bind(&e.database)
        .bind(e.backup_id)
        .bind(&e.message)
        .execute(self.pool())
        .await?;
        Ok(Event {
            id: res.last_insert_rowid(),
            at,
            kind: e.kind.clone(),
            severity: e.severity,
            server_id: e.server_id,
            database: e.database.clone(),
            backup_id: e.backup_id,
            message: e.message.clone(),
        })
    }

    /// The newest events, newest first.
    pub async fn events(&self, limit: i64) -> Result<Vec<Event>, CatalogError> {
        let rows = sqlx::query_as::<_, EventRecord>(
            "SELECT id, at, kind, severity, server_id, database, backup_id, message
               FROM events ORDER BY id DESC LIMIT ?",
        )
        .bind(limit.max(1))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Event {
                    severity: r.severity.parse().map_err(|d| CatalogError::Corrupt {
                        id: r.id,
                        detail: format!("event: {d}"),
                    })?,
                    id: r.id,
                    at: r.at,
                    kind: r.kind,
                    server_id: r.server_id,
                    database: r.database,
                    backup_id: r.backup_id,
                    message: r.message,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::fields;
    use model::proof::TestRestoreTrigger;

    #[tokio::test]
    async fn test_restores_and_events_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cat = Catalog::open(&dir.path().join("c.db"))
            .await
            .unwrap()
            .with_lease(std::time::Duration::from_secs(60));
        let s = cat.insert_server(&fields("prod")).await.unwrap();
        let t = cat
            .insert_test_restore(&NewTestRestore {
                server_id: s.id,
                server_name: s.name.clone(),
                database: "app".into(),
                backup_id: Some(7),
                restore_server_id: Some(s.id),
                restore_server_name: Some(s.name.clone()),
                trigger: TestRestoreTrigger::Manual,
                who: "cli".into(),
                scheduled_for: None,
            })
            .await
            .unwrap();
        assert_eq!(t.status, TestRestoreStatus::Running);
        assert_eq!(
            cat.last_test_restores(s.id, "app").await.unwrap(),
            (None, None)
        );
        // Our own lease is current: nothing to recover.
        assert!(cat
            .recover_test_restores(Utc::now(), "x")
            .await
            .unwrap()
            .is_empty());
        let mismatch = Mismatch {
            table: Some("public.t".into()),
            expected: Some(3),
            found: Some(2),
            note: "2 rows restored, 3 recorded".into(),
        };
        let done = cat
            .finish_test_restore(
                t.id,
                &TestRestoreEnd {
                    status: TestRestoreStatus::Failed,
                    backup_id: Some(7),
                    restore_server_id: Some(s.id),
                    restore_server_name: Some(s.name.clone()),
                    mismatches: vec![mismatch.clone()],
                    notes: vec!["a note".into()],
                    tables: vec![],
                    error: None,
                    scratch: Some("scratch_app_x".into()),
                    scratch_dropped: true,
                },
            )
            .await
            .unwrap();
        assert_eq!(done.status, TestRestoreStatus::Failed);
        assert_eq!(done.mismatches, vec![mismatch]);
        assert_eq!(done.notes, vec!["a note".to_owned()]);
        assert!(done.duration_ms.is_some() && done.scratch_dropped);
        let (last, passed) = cat.last_test_restores(s.id, "app").await.unwrap();
        assert_eq!(last.unwrap().id, t.id);
        assert!(passed.is_none());
        // Ended rows are not ended twice.
        assert!(matches!(
            cat.finish_test_restore(
                t.id,
                &TestRestoreEnd {
                    status: TestRestoreStatus::Passed,
                    backup_id: None,
                    restore_server_id: None,
                    restore_server_name: None,
                    mismatches: vec![],
                    notes: vec![],
                    tables: vec![],
                    error: None,
                    scratch: None,
                    scratch_dropped: false,
                }
            )
            .await,
            Err(CatalogError::TestRestoreLost(_))
        ));

        // A running row of a process that died is recovered once.
        let orphan = cat
            .insert_test_restore(&NewTestRestore {
                server_id: s.id,
                server_name: s.name.clone(),
                database: "app".into(),
                backup_id: None,
                restore_server_id: None,
                restore_server_name: None,
                trigger: TestRestoreTrigger::Scheduled,
                who: "schedule".into(),
                scheduled_for: Some(Utc::now()),
            })
            .await
            .unwrap();
        let later = Utc::now() + chrono::Duration::seconds(61);
        let rec = cat
            .recover_test_restores(later, "interrupted")
            .await
            .unwrap();
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].id, orphan.id);
        assert_eq!(rec[0].error.as_deref(), Some("interrupted"));
        assert!(cat
            .recover_test_restores(later, "again")
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            cat.test_restores(s.id, Some("app"), 10)
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(cat.test_restores(s.id, None, 1).await.unwrap().len(), 1);

        // Slots and events.
        let slot = Utc::now();
        cat.set_last_test_restore_slot(s.id, "app", slot)
            .await
            .unwrap();
        assert_eq!(
            cat.last_test_restore_slot(s.id, "app").await.unwrap(),
            Some(slot)
        );
        let e = cat
            .record_event(&NewEvent {
                kind: model::proof::EVENT_TEST_RESTORE_FAILED.into(),
                severity: Severity::Error,
                server_id: Some(s.id),
                database: Some("app".into()),
                backup_id: Some(7),
                message: "failed".into(),
            })
            .await
            .unwrap();
        assert_eq!(cat.events(10).await.unwrap(), vec![e]);
    }
}
