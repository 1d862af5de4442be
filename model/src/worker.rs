//! Background workers as the dashboard shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether a worker is doing something now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerState {
    Idle,
    Running,
}

impl WorkerState {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerState::Idle => "idle",
            WorkerState::Running => "running",
        }
    }
}

/// What a named worker is doing now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// e.g. `backup-runner`, `scheduler`.
    pub name: String,
    pub state: WorkerState,
    /// One line per thing in progress, e.g. `backup 12 of prod/app: 1.2 GiB read`.
    pub doing: Vec<String>,
    pub queued: usize,
    pub last_error: Option<String>,
    pub last_finished_at: Option<DateTime<Utc>>,
}

impl WorkerStatus {
    /// Running, or with queued work.
    pub fn busy(&self) -> bool {
        self.state != WorkerState::Idle || self.queued > 0
    }
}

/// Whether a worker's error message is about the server named `server`, as
/// the workers word them: `NAME: ...` and `NAME globals: ...` (scheduler,
/// discovery), `NAME/db ...` (test-restore slots), `... of NAME/target: ...`
/// (backup runs, test-restores). Used to forget errors about a server once
/// it is deleted.
pub fn mentions_server(error: &str, server: &str) -> bool {
    if server.is_empty() {
        return false;
    }
    error.starts_with(&format!("{server}: "))
        || error.starts_with(&format!("{server} globals: "))
        || error.starts_with(&format!("{server}/"))
        || error.contains(&format!(" of {server}/"))
}

#[cfg(test)]
mod tests {
    use super::mentions_server;

    #[test]
    fn finds_the_server_an_error_is_about() {
        for e in [
            "old: discovery failed, using the databases known so far: x",
            "old: password authentication failed. Fix: y",
            "old globals: x",
            "old/app test-restore: x",
            "backup 12 of old/app: password authentication failed",
            "backup 3 of old/globals: x",
            "test-restore #4 of old/app (backup #3) failed: x",
        ] {
            assert!(mentions_server(e, "old"), "{e}");
        }
        for e in [
            "older: discovery failed",
            "backup 12 of older/app: x",
            "backup 12 of bold/app: x",
            "gold/app test-restore: x",
            "test-restores: old",
            "delivery #3 to old: 500",
        ] {
            assert!(!mentions_server(e, "old"), "{e}");
        }
        assert!(!mentions_server("x", ""));
    }
}
