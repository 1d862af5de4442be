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
