//! Runs started by hand ("Back up now"): one at a time per target.

use chrono::Utc;

use super::{target_columns, Backup, Catalog, CatalogError, NewBackup, ACTIVE};

impl Catalog {
    /// Inserts a run started by hand (`scheduled_for` empty) unless a run
    /// started by hand of the same server and target is queued or running:
    /// then `Ok(Err(id))` names that run and nothing is inserted. One
    /// statement, so two clicks arriving together cannot both insert.
    pub async fn insert_manual_once(
        &self,
        b: &NewBackup,
    ) -> Result<Result<Backup, i64>, CatalogError> {
        let (kind, database) = target_columns(&b.target);
        let now = Utc::now();
        let res = sqlx::query(&format!(
            "INSERT INTO backups (server_id, server_name, kind, database, scheduled_for, late, status, trigger,
                                  queued_at, destination, runner, lease_until, attempt, retry_of)
             SELECT ?, ?, ?, ?, NULL, 0, 'queued', ?, ?, ?, ?, ?, 1, NULL
              WHERE NOT EXISTS (SELECT 1 FROM backups
                                 WHERE server_id = ? AND kind = ? AND database = ?
                                   AND scheduled_for IS NULL AND {ACTIVE})"
        ))
        .bind(b.server_id)
        .bind(&b.server_name)
        .bind(kind)
        .bind(database)
        .bind(&b.trigger)
        .bind(now)
        .bind(&b.destination)
        .bind(&*self.instance)
        .bind(self.lease_deadline(now))
        .bind(b.server_id)
        .bind(kind)
        .bind(database)
        .execute(&self.pool)
        .await?;
        if res.rows_affected() == 1 {
            return Ok(Ok(self.backup(res.last_insert_rowid()).await?));
        }
        let id: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT id FROM backups
              WHERE server_id = ? AND kind = ? AND database = ?
                AND scheduled_for IS NULL AND {ACTIVE}
              ORDER BY id LIMIT 1"
        ))
        .bind(b.server_id)
        .bind(kind)
        .bind(database)
        .fetch_optional(&self.pool)
        .await?;
        // Ended between the two statements: insert again, once.
        match id {
            Some(id) => Ok(Err(id)),
            None => Ok(Ok(self.insert_backup(b).await?)),
        }
    }
}
