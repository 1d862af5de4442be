//! "Back up now" from the dashboard and the remote CLI: a run started by
//! hand, refused while another run started by hand of the same target is
//! queued or running (two clicks make one run); and forgetting what the
//! workers last said about a server once it is deleted.

use model::worker::mentions_server;

use crate::catalog::{Backup, BackupStatus, NewBackup, Target};
use crate::servers::InvalidInput;
use crate::workers::Queued;
use crate::{Engine, Error};

/// Words for a run that is already there.
fn already(id: i64, target: &Target, server: &str) -> String {
    format!(
        "a backup of {target} on {server} started by hand is already queued or running (#{id}). \
         Fix: wait for it to finish (it is listed on the page), or cancel it before starting another"
    )
}

impl Engine {
    /// Queues a run of `target` started by hand and returns its row at once;
    /// refused (409) while a run started by hand of the same server and
    /// target is queued or running, naming it. Scheduled runs and retries
    /// do not count.
    pub async fn run_now(
        &self,
        server_id: i64,
        target: &Target,
        trigger: &str,
    ) -> Result<Backup, Error> {
        self.refuse_when_stopping()?;
        let target = match target {
            Target::Database(d) if d.trim().is_empty() => {
                return Err(InvalidInput::new(
                    "database",
                    "is empty. Fix: pick a database from the server's list",
                )
                .into())
            }
            Target::Database(d) => Target::Database(d.trim().to_owned()),
            Target::Globals => Target::Globals,
        };
        let server = self.inner.catalog.server(server_id).await?;
        let row = self
            .inner
            .catalog
            .insert_manual_once(&NewBackup {
                server_id,
                server_name: server.name.clone(),
                target: target.clone(),
                scheduled_for: None,
                late: false,
                trigger: trigger.into(),
                destination: self.inner.ctx.destination.describe.clone(),
                status: BackupStatus::Queued,
                attempt: 1,
                retry_of: None,
            })
            .await?
            .map_err(|id| Error::Conflict(already(id, &target, &server.name)))?;
        self.inner
            .runner
            .enqueue(Queued {
                backup_id: row.id,
                server_id,
                label: format!("{}/{target}", server.name),
            })
            .map_err(Error::Conflict)?;
        Ok(row)
    }

    /// Forgets every worker's last error that is about the server `name`
    /// (called when it is deleted: nothing can be done about it any more).
    pub(crate) fn forget_errors_about(&self, name: &str) {
        let about = |e: &str| mentions_server(e, name);
        self.inner.runner.forget_error_if(about);
        self.inner.proof.forget_error_if(about);
        for sched in [&self.inner.scheduler, &self.inner.discovery] {
            let mut st = sched.state.lock().unwrap_or_else(|p| p.into_inner());
            if st.last_error.as_deref().is_some_and(about) {
                st.last_error = None;
            }
        }
    }
}
