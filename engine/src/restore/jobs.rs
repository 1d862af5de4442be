//! The `restorer` worker: what each running restore is doing (shown with
//! the other workers), and the table-restore jobs the dashboard polls.
//!
//! A restore registers itself with [`Restorer::track`] and updates its
//! label and step as it goes; it leaves the status when the returned
//! [`Track`] is dropped (also when its task panics or is aborted). Job
//! results are kept in memory (the newest [`KEEP_JOBS`]); the catalog's
//! `restore_runs` is the durable record.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use model::restore::{RestoreJob, RestoreJobState};
use model::worker::{WorkerState, WorkerStatus};

/// Finished jobs kept for polling.
pub const KEEP_JOBS: usize = 100;

#[derive(Debug, Default)]
struct Active {
    label: String,
    step: String,
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    active: BTreeMap<u64, Active>,
    jobs: BTreeMap<u64, RestoreJob>,
    last_error: Option<String>,
    last_finished_at: Option<DateTime<Utc>>,
}

/// The restorer's shared state. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Restorer {
    state: Arc<Mutex<State>>,
}

impl Restorer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a restore; with `job`, it is also a job the dashboard polls.
    pub fn track(&self, label: impl Into<String>, job: bool) -> Track {
        let mut st = self.lock();
        st.next += 1;
        let id = st.next;
        st.active.insert(
            id,
            Active {
                label: label.into(),
                step: "starting".into(),
            },
        );
        if job {
            st.jobs.insert(
                id,
                RestoreJob {
                    id,
                    step: "starting".into(),
                    state: RestoreJobState::Running,
                },
            );
            while st.jobs.len() > KEEP_JOBS {
                let Some((&oldest, _)) = st
                    .jobs
                    .iter()
                    .find(|(_, j)| j.state != RestoreJobState::Running)
                else {
                    break;
                };
                st.jobs.remove(&oldest);
            }
        }
        Track {
            id,
            restorer: self.clone(),
            ended: false,
        }
    }

    /// A job by id.
    pub fn job(&self, id: u64) -> Option<RestoreJob> {
        self.lock().jobs.get(&id).cloned()
    }

    /// The worker's status line.
    pub fn status(&self) -> WorkerStatus {
        let st = self.lock();
        WorkerStatus {
            name: "restorer".into(),
            state: if st.active.is_empty() {
                WorkerState::Idle
            } else {
                WorkerState::Running
            },
            doing: st
                .active
                .values()
                .map(|a| format!("{}: {}", a.label, a.step))
                .collect(),
            queued: 0,
            last_error: st.last_error.clone(),
            last_finished_at: st.last_finished_at,
        }
    }
}

/// One running restore's handle: its label and step in the status.
#[derive(Debug)]
pub struct Track {
    id: u64,
    restorer: Restorer,
    ended: bool,
}

impl Track {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// What is being restored, e.g. `restoring 2 tables of backup #12 into scratch_x on prod`.
    pub fn label(&self, label: impl Into<String>) {
        if let Some(a) = self.restorer.lock().active.get_mut(&self.id) {
            a.label = label.into();
        }
    }

    /// Where it is, e.g. `fetching`.
    pub fn step(&self, step: impl Into<String>) {
        let step = step.into();
        let mut st = self.restorer.lock();
        if let Some(j) = st.jobs.get_mut(&self.id) {
            j.step = step.clone();
        }
        if let Some(a) = st.active.get_mut(&self.id) {
            a.step = step;
        }
    }

    /// Ends the restore: `Err` is the worker's last error and the job's failure.
    pub fn finish(mut self, result: Result<Option<model::restore::TableRestoreResult>, String>) {
        self.end(result);
    }

    fn end(&mut self, result: Result<Option<model::restore::TableRestoreResult>, String>) {
        if self.ended {
            return;
        }
        self.ended = true;
        let mut st = self.restorer.lock();
        let label = st
            .active
            .remove(&self.id)
            .map(|a| a.label)
            .unwrap_or_default();
        st.last_finished_at = Some(Utc::now());
        let state = match result {
            Ok(Some(r)) => RestoreJobState::Done(r),
            Ok(None) => RestoreJobState::Failed("ended without a result".into()),
            Err(e) => {
                st.last_error = Some(format!("{label}: {e}"));
                RestoreJobState::Failed(e)
            }
        };
        if let Some(j) = st.jobs.get_mut(&self.id) {
            j.step = match &state {
                RestoreJobState::Done(_) => "done".into(),
                _ => "failed".into(),
            };
            j.state = state;
        }
    }
}

impl Drop for Track {
    fn drop(&mut self) {
        if !self.ended {
            // A panic or an abort: the job must not stay "running".
            self.end(Err(
                "the restore stopped unexpectedly (pgshelf hit a bug or is stopping). Fix: start it again, and report the bug with pgshelf's log if it happens again".into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_and_jobs() {
        let r = Restorer::default();
        assert_eq!(r.status().state, WorkerState::Idle);
        let t = r.track("restoring 1 table of backup #3", true);
        t.step("fetching");
        let st = r.status();
        assert_eq!(st.state, WorkerState::Running);
        assert_eq!(st.doing, ["restoring 1 table of backup #3: fetching"]);
        let id = t.id();
        assert_eq!(r.job(id).unwrap().step, "fetching");
        t.finish(Err("boom. Fix: x".into()));
        let st = r.status();
        assert_eq!(st.state, WorkerState::Idle);
        assert!(st.last_error.unwrap().ends_with("boom. Fix: x"));
        assert_eq!(
            r.job(id).unwrap().state,
            RestoreJobState::Failed("boom. Fix: x".into())
        );
        // Dropped without finishing: failed, not running forever.
        let t = r.track("x", true);
        let id = t.id();
        drop(t);
        assert!(matches!(
            r.job(id).unwrap().state,
            RestoreJobState::Failed(_)
        ));
        // Not a job: status only.
        let t = r.track("full restore", false);
        assert!(r.job(t.id()).is_none());
        t.finish(Ok(None));
    }
}
