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

/// The `backup-runner` worker.
#[derive(Clone)]
pub struct BackupRunner {
    tx: mpsc::UnboundedSender<Queued>,
    state: Arc<Mutex<RunnerState>>,
}

impl BackupRunner {
    /// Starts the worker loop on the current runtime.
    pub fn start(run: RunFn, runs_per_server: usize, max_runs: usize) -> BackupRunner {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(RunnerState::default()));
        tokio::spawn(runner_loop(
            rx,
            state.clone(),
            run,
            runs_per_server.max(1),
            max_runs.max(1),
        ));
        BackupRunner { tx, state }
    }

    /// Queues a run. Fails only if the worker has stopped.
    pub fn enqueue(&self, job: Queued) -> Result<(), String> {
        self.tx
            .send(job)
            .map_err(|_| "the backup runner has stopped; restart pgshelf".to_owned())
    }

    /// The live progress of a run, if it is running here.
    pub fn progress(&self, backup_id: i64) -> Option<Arc<Progress>> {
        let st = self.state.lock().expect("runner state");
        st.active
            .iter()
            .find(|a| a.backup_id == backup_id)
            .map(|a| a.progress.clone())
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
    mut rx: mpsc::UnboundedReceiver<Queued>,
    state: Arc<Mutex<RunnerState>>,
    run: RunFn,
    per_server: usize,
    max_runs: usize,
) {
    let mut pending: VecDeque<Queued> = VecDeque::new();
    let mut per: HashMap<i64, usize> = HashMap::new();
    let mut tasks: JoinSet<(Queued, Result<(), String>)> = JoinSet::new();
    let mut open = true;
    loop {
        // Start whatever may start.
        let mut i = 0;
        while i < pending.len() && tasks.len() < max_runs {
            let sid = pending[i].server_id;
            if per.get(&sid).copied().unwrap_or(0) < per_server {
                let job = pending.remove(i).expect("index in range");
                *per.entry(sid).or_default() += 1;
                let progress = Arc::new(Progress::default());
                state.lock().expect("runner state").active.push(ActiveRun {
                    backup_id: job.backup_id,
                    label: job.label.clone(),
                    progress: progress.clone(),
                });
                let f = run.clone();
                tasks.spawn(async move {
                    let r = f(job.clone(), progress).await;
                    (job, r)
                });
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
                Some(job) => pending.push_back(job),
                None => open = false,
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let mut st = state.lock().expect("runner state");
                match done {
                    Ok((job, result)) => {
                        if let Some(n) = per.get_mut(&job.server_id) { *n = n.saturating_sub(1); }
                        st.active.retain(|a| a.backup_id != job.backup_id);
                        st.last_finished_at = Some(Utc::now());
                        if let Err(e) = result {
                            st.last_error = Some(format!("backup {} of {}: {e}", job.backup_id, job.label));
                        }
                    }
                    Err(join) => {
                        st.last_error = Some(format!("a backup task panicked: {join}"));
                    }
                }
            }
        }
    }
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
}
