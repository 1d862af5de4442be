//! Named background workers whose state the dashboard shows.
//!
//! Nothing runs as a detached, invisible task: each worker owns its tasks and
//! publishes a [`WorkerStatus`] (idle or running, what it is doing, progress,
//! last error). The backup runner takes queued runs, at most
//! `runs_per_server` at once per server and `max_runs` in all.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::pipeline::Progress;
use model::live::{Notice, NoticeKind};

/// How many live notices a slow listener may fall behind before it skips
/// some (it then refetches everything: see [`crate::live`]).
const NOTICES: usize = 256;

pub use model::format::human_bytes;
pub use model::worker::{WorkerState, WorkerStatus};

/// A run the runner is executing.
#[derive(Debug, Clone)]
pub struct ActiveRun {
    pub backup_id: i64,
    pub label: String,
    pub progress: Arc<Progress>,
}

#[derive(Debug, Default)]
struct RunnerState {
    active: Vec<ActiveRun>,
    queued: usize,
    last_error: Option<String>,
    last_finished_at: Option<DateTime<Utc>>,
}

/// A job handed to the runner.
#[derive(Debug, Clone)]
pub struct Queued {
    pub backup_id: i64,
    pub server_id: i64,
    pub label: String,
}

/// The function that performs one run; returns the error text on failure.
pub type RunFn = Arc<
    dyn Fn(Queued, Arc<Progress>) -> futures::future::BoxFuture<'static, Result<(), String>>
        + Send
        + Sync,
>;

/// Keeps a [`BackupRunner::track`]ed run listed until dropped.
pub struct Tracked {
    backup_id: i64,
    state: Arc<Mutex<RunnerState>>,
    notices: tokio::sync::broadcast::Sender<Notice>,
    progress: Arc<Progress>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.active.retain(|a| a.backup_id != self.backup_id);
        st.last_finished_at = Some(Utc::now());
        drop(st);
        let _ = self.notices.send(ended(self.backup_id, &self.progress));
    }
}

/// The notice of a run that ended: `cancelled` when a cancel stopped it.
fn ended(backup_id: i64, progress: &Progress) -> Notice {
    Notice {
        kind: if progress.cancel.get().is_some() {
            NoticeKind::Cancelled
        } else {
            NoticeKind::Finished
        },
        backup_id: Some(backup_id),
    }
}

/// A fresh [`Progress`] for run `id`, taken now, announcing to `notices`.
fn taken(notices: &tokio::sync::broadcast::Sender<Notice>) -> Arc<Progress> {
    let progress = Arc::new(Progress::default());
    let _ = progress.taken_at.set(std::time::Instant::now());
    let _ = progress.notices.set(notices.clone());
    progress
}

enum Msg {
    Job(Queued),
    /// Start nothing more: forget the pending jobs (their rows stay queued
    /// for the caller to end) and refuse later ones.
    Drain,
    /// Abort the running tasks (their children are killed on drop).
    Abort,
}

/// The `backup-runner` worker.
#[derive(Clone)]
pub struct BackupRunner {
    tx: mpsc::UnboundedSender<Msg>,
    state: Arc<Mutex<RunnerState>>,
    notices: tokio::sync::broadcast::Sender<Notice>,
}

impl BackupRunner {
    /// Forgets the last error when `about` says it is about something gone.
    pub(crate) fn forget_error_if(&self, about: impl Fn(&str) -> bool) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.last_error.as_deref().is_some_and(&about) {
            st.last_error = None;
        }
    }

    /// Starts the worker loop on the current runtime.
    pub fn start(run: RunFn, runs_per_server: usize, max_runs: usize) -> BackupRunner {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(RunnerState::default()));
        let (notices, _) = tokio::sync::broadcast::channel(NOTICES);
        tokio::spawn(runner_loop(
            rx,
            state.clone(),
            run,
            runs_per_server.max(1),
            max_runs.max(1),
            notices.clone(),
        ));
        BackupRunner { tx, state, notices }
    }

    /// Queues a run. Fails only if the worker has stopped.
    pub fn enqueue(&self, job: Queued) -> Result<(), String> {
        let id = job.backup_id;
        self.tx
            .send(Msg::Job(job))
            .map_err(|_| "the backup runner has stopped; restart pgshelf".to_owned())?;
        self.notify(NoticeKind::Queued, Some(id));
        Ok(())
    }

    /// Tells live listeners that something changed (see [`crate::live`]).
    pub fn notify(&self, kind: NoticeKind, backup_id: Option<i64>) {
        let _ = self.notices.send(Notice { kind, backup_id });
    }

    /// Live notices from now on: runs queued, started, finished, cancelled.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Runs waiting for a slot.
    pub fn queued(&self) -> usize {
        self.state.lock().expect("runner state").queued
    }

    /// The live progress of a run, if it is running here.
    pub fn progress(&self, backup_id: i64) -> Option<Arc<Progress>> {
        let st = self.state.lock().expect("runner state");
        st.active
            .iter()
            .find(|a| a.backup_id == backup_id)
            .map(|a| a.progress.clone())
    }

    /// Starts no more runs (pending ones are dropped; their rows stay queued).
    pub fn drain(&self) {
        let _ = self.tx.send(Msg::Drain);
    }

    /// Aborts the runs still going; their programs are killed.
    pub fn abort(&self) {
        let _ = self.tx.send(Msg::Abort);
    }

    /// Shows a run taken outside the queue (the CLI's `backup_now`) as
    /// active, so the status lists it and a graceful stop reaches it; it
    /// leaves the list when the guard is dropped.
    pub fn track(&self, backup_id: i64, label: String) -> (Arc<Progress>, Tracked) {
        let progress = taken(&self.notices);
        self.state
            .lock()
            .expect("runner state")
            .active
            .push(ActiveRun {
                backup_id,
                label,
                progress: progress.clone(),
            });
        (
            progress.clone(),
            Tracked {
                backup_id,
                state: self.state.clone(),
                notices: self.notices.clone(),
                progress,
            },
        )
    }

    /// The runs executing now.
    pub fn active(&self) -> Vec<ActiveRun> {
        self.state.lock().expect("runner state").active.clone()
    }

    pub fn status(&self) -> WorkerStatus {
        let st = self.state.lock().expect("runner state");
        WorkerStatus {
            name: "backup-runner".into(),
            state: if st.active.is_empty() {
                WorkerState::Idle
            } else {
                WorkerState::Running
            },
            doing: st
                .active
                .iter()
                .map(|a| {
                    let raw = a.progress.raw.load(std::sync::atomic::Ordering::Relaxed);
                    format!(
                        "backup {} of {}: {} read",
                        a.backup_id,
                        a.label,
                        human_bytes(raw)
                    )
                })
                .collect(),
            queued: st.queued,
            last_error: st.last_error.clone(),
            last_finished_at: st.last_finished_at,
        }
    }
}

async fn runner_loop(
    mut rx: mpsc::UnboundedReceiver<Msg>,
    state: Arc<Mutex<RunnerState>>,
    run: RunFn,
    per_server: usize,
    max_runs: usize,
    notices: tokio::sync::broadcast::Sender<Notice>,
) {
    let mut pending: VecDeque<Queued> = VecDeque::new();
    let mut per: HashMap<i64, usize> = HashMap::new();
    let mut tasks: JoinSet<Result<(), String>> = JoinSet::new();
    // Which job each task runs, so that a task that panicked or was aborted
    // still gives back its per-server and global slots.
    let mut jobs: HashMap<tokio::task::Id, (Queued, Arc<Progress>)> = HashMap::new();
    let mut open = true;
    let mut draining = false;
    loop {
        // Start whatever may start.
        let mut i = 0;
        while i < pending.len() && tasks.len() < max_runs {
            let sid = pending[i].server_id;
            if per.get(&sid).copied().unwrap_or(0) < per_server {
                let job = pending.remove(i).expect("index in range");
                *per.entry(sid).or_default() += 1;
                let progress = taken(&notices);
                state.lock().expect("runner state").active.push(ActiveRun {
                    backup_id: job.backup_id,
                    label: job.label.clone(),
                    progress: progress.clone(),
                });
                let f = run.clone();
                let task_job = job.clone();
                let task_progress = progress.clone();
                let handle = tasks.spawn(async move {
                    use futures::FutureExt;
                    std::panic::AssertUnwindSafe(f(task_job, task_progress))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|p| Err(format!("the run panicked: {}", panic_text(&p))))
                });
                jobs.insert(handle.id(), (job, progress));
            } else {
                i += 1;
            }
        }
        state.lock().expect("runner state").queued = pending.len();
        if !open && tasks.is_empty() && pending.is_empty() {
            return;
        }
        tokio::select! {
            msg = rx.recv(), if open => match msg {
                Some(Msg::Job(job)) if !draining => pending.push_back(job),
                Some(Msg::Job(_)) => {}
                Some(Msg::Drain) => {
                    draining = true;
                    pending.clear();
                }
                Some(Msg::Abort) => tasks.abort_all(),
                None => open = false,
            },
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (id, result) = match done {
                    Ok((id, r)) => (id, r),
                    Err(join) => (join.id(), Err(if join.is_cancelled() {
                        "the run was aborted".to_owned()
                    } else {
                        format!("the run panicked: {join}")
                    })),
                };
                let mut st = state.lock().expect("runner state");
                if let Some((job, progress)) = jobs.remove(&id) {
                    if let Some(n) = per.get_mut(&job.server_id) { *n = n.saturating_sub(1); }
                    st.active.retain(|a| a.backup_id != job.backup_id);
                    st.last_finished_at = Some(Utc::now());
                    if let Err(e) = result {
                        st.last_error = Some(format!("backup {} of {}: {e}", job.backup_id, job.label));
                    }
                    let _ = notices.send(ended(job.backup_id, &progress));
                }
            }
        }
    }
}

/// The message of a panic payload.
pub(crate) fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn respects_per_server_limit_and_reports_errors() {
        let live = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (l, p) = (live.clone(), peak.clone());
        let run: RunFn = Arc::new(move |job: Queued, _| {
            let (l, p) = (l.clone(), p.clone());
            Box::pin(async move {
                let now = l.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                l.fetch_sub(1, Ordering::SeqCst);
                if job.backup_id == 3 {
                    Err("boom".into())
                } else {
                    Ok(())
                }
            })
        });
        let r = BackupRunner::start(run, 1, 4);
        for id in 1..=4 {
            r.enqueue(Queued {
                backup_id: id,
                server_id: 7,
                label: "s/db".into(),
            })
            .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let st = r.status();
        assert_eq!(st.state, WorkerState::Running);
        assert_eq!(st.doing.len(), 1);
        assert_eq!(st.queued, 3);
        for _ in 0..100 {
            if r.status().state == WorkerState::Idle && r.status().queued == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let st = r.status();
        assert_eq!(st.state, WorkerState::Idle);
        assert_eq!(
            peak.load(Ordering::SeqCst),
            1,
            "one run per server at a time"
        );
        assert!(st.last_error.unwrap().contains("backup 3 of s/db: boom"));
    }

    /// A run that panics gives back its slots: the next run of the same
    /// server (one at a time) still starts, and the panic is reported.
    #[tokio::test]
    async fn a_panicking_run_releases_its_slots() {
        let run: RunFn = Arc::new(move |job: Queued, _| {
            Box::pin(async move {
                if job.backup_id == 1 {
                    panic!("bug in run 1");
                }
                Ok(())
            })
        });
        let r = BackupRunner::start(run, 1, 1);
        for id in 1..=2 {
            r.enqueue(Queued {
                backup_id: id,
                server_id: 7,
                label: "s/db".into(),
            })
            .unwrap();
        }
        for _ in 0..200 {
            let st = r.status();
            if st.state == WorkerState::Idle && st.queued == 0 && st.last_finished_at.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let st = r.status();
        assert_eq!((st.state, st.queued), (WorkerState::Idle, 0), "{st:?}");
        assert!(st
            .last_error
            .unwrap()
            .contains("backup 1 of s/db: the run panicked: bug in run 1"));
    }
}
