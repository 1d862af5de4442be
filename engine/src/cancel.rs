//! Cancelling a backup run on purpose (an operator's Cancel button, `pgshelf
//! cancel --backup ID`).
//!
//! A queued run is ended at once (`cancelled`, "cancelled by WHO before it
//! started"); the runner skips it when its turn comes. A run going in this
//! process gets [`crate::pipeline::Progress::stop`] set: its watchdog kills
//! the dump program's process group, the failure path removes the partial
//! artifact from every destination and the spool, and the row is recorded
//! `cancelled` with the cause "cancelled by WHO". A run another pgshelf
//! process owns cannot be signalled from here and is refused with the fix.
//! A `cancelled` run is not retried by the scheduler.

use std::time::{Duration, Instant};

use crate::catalog::{Backup, BackupStatus};
use crate::servers::InvalidInput;
use crate::Error;

/// How long [`crate::Engine::cancel_backup`] waits for a running run to
/// stop and record itself before answering with its current row.
const SETTLE: Duration = Duration::from_secs(30);

/// The cause recorded on a run cancelled while it ran.
pub fn running_cause(who: &str) -> String {
    format!("cancelled by {who} while it ran; its programs were stopped and its partial artifact removed")
}

/// The cause recorded on a run cancelled before it started.
pub fn queued_cause(who: &str) -> String {
    format!("cancelled by {who} before it started")
}

impl crate::Engine {
    /// Cancels backup `id` on behalf of `who` (a user name, `token:ci`, or
    /// the CLI's user): see the module doc. Returns the run's row once it has
    /// ended (or, for a run slow to stop, as it is after 30 s, its stop
    /// asked for). Cancelling a cancelled run returns it unchanged; a run
    /// that already finished is refused (409), as is one running in another
    /// pgshelf process.
    pub async fn cancel_backup(&self, id: i64, who: &str) -> Result<Backup, Error> {
        let who = who.trim();
        if who.is_empty() {
            return Err(InvalidInput::new(
                "who",
                "is empty: a cancel records who asked for it. Fix: sign in, or pass a user name",
            )
            .into());
        }
        let catalog = &self.inner.catalog;
        // A queued row may be started by the runner between two reads: then
        // it is cancelled as a running one on the next turn.
        for _ in 0..3 {
            let row = catalog.backup(id).await?;
            match row.status {
                BackupStatus::Cancelled => return Ok(row),
                s if !s.is_active() => {
                    return Err(Error::Conflict(format!(
                        "backup {id} has already finished ({s}); there is nothing to cancel. Fix: none needed; delete the backup if it is unwanted"
                    )))
                }
                _ => {}
            }
            if let Some(progress) = self.inner.runner.progress(id) {
                let cause = running_cause(who);
                // A second cancel (or a shutdown) that got there first wins:
                // the run is stopping either way.
                if progress.cancel.set(cause.clone()).is_ok() {
                    let _ = progress.stop.set(cause);
                }
                tracing::info!(backup = id, "cancel asked for by {who}");
                return self.settle(id).await;
            }
            if row.status == BackupStatus::Queued {
                if self.cancel_queued(id, &queued_cause(who)).await? {
                    self.inner
                        .runner
                        .notify(model::live::NoticeKind::Cancelled, Some(id));
                    tracing::info!(backup = id, "cancelled by {who} before it started");
                    return Ok(catalog.backup(id).await?);
                }
                continue; // started meanwhile
            }
            // Running, but not in this process's runner.
            let owner = self.runner_of(id).await?;
            if owner.as_deref() != Some(catalog.instance()) {
                return Err(Error::Conflict(format!(
                    "backup {id} is running in another pgshelf process sharing this catalog (instance {}), which this one cannot stop. Fix: cancel it where it runs (that process's dashboard, or Ctrl-C in the terminal running `pgshelf backup`), or wait: if that process has died, its lease runs out within a minute and the run is recorded failed",
                    owner.as_deref().unwrap_or("unknown")
                )));
            }
            // Ours and running, but its runner entry is already gone: it is
            // ending right now.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let row = catalog.backup(id).await?;
        if row.status.is_active() {
            return Err(Error::Conflict(format!(
                "backup {id} is {} but could not be reached to cancel it. Fix: try again in a few seconds",
                row.status
            )));
        }
        Ok(row)
    }

    /// Waits for a stopped run to record its end; refuses when it finished
    /// well before the stop reached it.
    async fn settle(&self, id: i64) -> Result<Backup, Error> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let row = self.inner.catalog.backup(id).await?;
            if !row.status.is_active() {
                if row.status.is_good() {
                    return Err(Error::Conflict(format!(
                        "backup {id} finished ({}) before the cancel reached it, so it was kept. Fix: delete it if it is unwanted",
                        row.status
                    )));
                }
                return Ok(row);
            }
            if Instant::now() >= deadline {
                return Ok(row);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends a row that is still queued (by whichever process) as cancelled;
    /// false when it is no longer queued.
    async fn cancel_queued(&self, id: i64, cause: &str) -> Result<bool, Error> {
        Ok(self.inner.catalog.cancel_queued(id, cause).await?)
    }

    /// The instance id of the process that owns run `id`.
    async fn runner_of(&self, id: i64) -> Result<Option<String>, Error> {
        Ok(self.inner.catalog.runner_of(id).await?)
    }
}

impl crate::catalog::Catalog {
    /// Ends row `id` as cancelled with `cause` if it is still queued;
    /// false when it is no longer queued.
    pub async fn cancel_queued(
        &self,
        id: i64,
        cause: &str,
    ) -> Result<bool, crate::catalog::CatalogError> {
        let res = sqlx::query(
            "UPDATE backups SET status = 'cancelled', finished_at = ?, duration_ms = 0,
                 cause = ?, lease_until = NULL
              WHERE id = ? AND status = 'queued'",
        )
        .bind(chrono::Utc::now())
        .bind(cause)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// The instance id of the process that owns run `id`, if any.
    pub async fn runner_of(&self, id: i64) -> Result<Option<String>, crate::catalog::CatalogError> {
        let owner: Option<Option<String>> =
            sqlx::query_scalar("SELECT runner FROM backups WHERE id = ?")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        Ok(owner.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_name_who() {
        assert!(running_cause("alice").starts_with("cancelled by alice"));
        assert_eq!(queued_cause("bob"), "cancelled by bob before it started");
    }
}
