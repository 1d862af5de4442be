//! Live updates for the dashboard (`GET /api/events`): a cheap snapshot of
//! what runs in this process ([`crate::Engine::live_snapshot`]: in-memory
//! counters only, no catalog or PostgreSQL call, so the server can sample
//! it every half second) and the notices the backup runner sends when a
//! run is queued, started, finished or cancelled
//! ([`crate::Engine::live_notices`]). The types and the pure estimates are
//! `model::live`.
//!
//! No task of its own: the runner sends notices as things happen; whoever
//! listens samples the snapshot at its own pace and drops its receiver when
//! it goes away.

use std::sync::atomic::Ordering;

pub use model::live::{
    estimate_left, task_notices, throughput, LiveSnapshot, LiveTask, Notice, NoticeKind, RunPhase,
    RunProgress, TaskKind, TimeLeft,
};

use crate::pipeline::Progress;

/// The phase a run's counters show.
pub fn phase(p: &Progress) -> RunPhase {
    if p.checked.load(Ordering::Relaxed) > 0 {
        RunPhase::Verifying
    } else if p.running.load(Ordering::Relaxed) && p.raw.load(Ordering::Relaxed) > 0 {
        RunPhase::Dumping
    } else {
        RunPhase::Starting
    }
}

/// One run's progress from its live counters.
pub fn run_progress(backup_id: i64, label: &str, p: &Progress) -> RunProgress {
    let (raw, stored) = p.totals();
    let elapsed_ms = p
        .taken_at
        .get()
        .map(|t| t.elapsed().as_millis().min(u64::MAX as u128) as u64)
        .unwrap_or(0);
    RunProgress::new(
        backup_id,
        label.to_owned(),
        phase(p),
        raw,
        stored,
        elapsed_ms,
        p.previous_raw.get().copied(),
    )
}

/// The worker names whose "doing" lines are live tasks.
fn task_kind(worker: &str) -> Option<TaskKind> {
    match worker {
        "restorer" => Some(TaskKind::Restore),
        "test-restorer" => Some(TaskKind::TestRestore),
        "copier" => Some(TaskKind::Copy),
        _ => None,
    }
}

impl crate::Engine {
    /// What runs in this process now: every backup run's counters
    /// (throughput and time left derived), the restores, test-restores and
    /// copies going on, and how many runs wait. Memory only: cheap enough
    /// to sample twice a second.
    pub fn live_snapshot(&self) -> LiveSnapshot {
        let runner = &self.inner.runner;
        let runs = runner
            .active()
            .iter()
            .map(|a| run_progress(a.backup_id, &a.label, &a.progress))
            .collect();
        let tasks = self
            .workers()
            .into_iter()
            .filter_map(|w| {
                let kind = task_kind(&w.name)?;
                Some(
                    w.doing
                        .into_iter()
                        .map(move |doing| LiveTask { kind, doing })
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .collect();
        LiveSnapshot {
            runs,
            tasks,
            queued: runner.queued(),
        }
    }

    /// Notices from now on: a run queued, started (its row `running`),
    /// finished or cancelled in this process. A receiver that falls behind
    /// gets `Lagged` and should treat it as "everything changed".
    pub fn live_notices(&self) -> tokio::sync::broadcast::Receiver<Notice> {
        self.inner.runner.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn phases_follow_the_counters() {
        let p = Progress::default();
        assert_eq!(phase(&p), RunPhase::Starting);
        p.raw.store(10, Ordering::Relaxed);
        assert_eq!(phase(&p), RunPhase::Starting, "not running yet");
        p.mark_running(1);
        assert_eq!(phase(&p), RunPhase::Dumping);
        p.checked.store(1, Ordering::Relaxed);
        assert_eq!(phase(&p), RunPhase::Verifying);
    }

    #[test]
    fn a_run_without_a_previous_backup_has_no_estimate() {
        let p = Progress::default();
        let _ = p.taken_at.set(std::time::Instant::now());
        std::thread::sleep(std::time::Duration::from_millis(20));
        p.mark_running(3);
        p.raw.store(1000, Ordering::Relaxed);
        p.stored.store(100, Ordering::Relaxed);
        let r = run_progress(3, "s/db", &p);
        assert_eq!((r.raw, r.stored, r.previous_raw), (1000, 100, None));
        assert_eq!(r.time_left, TimeLeft::Unknown);
        let _ = p.previous_raw.set(2000);
        let r = run_progress(3, "s/db", &p);
        assert_eq!(r.previous_raw, Some(2000));
        assert_ne!(r.time_left, TimeLeft::Unknown, "{r:?}");
    }
}
