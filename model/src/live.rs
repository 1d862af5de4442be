//! Live updates pushed from the server (`GET /api/events`, server-sent
//! events): the progress of the work running now ([`LiveSnapshot`]) and
//! notices that something changed ([`Notice`]), so lists refetch once
//! instead of polling. Throughput and the time left are pure functions of
//! the counters ([`throughput`], [`estimate_left`]).

use serde::{Deserialize, Serialize};

/// The SSE event name of a [`LiveSnapshot`].
pub const PROGRESS_EVENT: &str = "progress";
/// The SSE event name of a list of [`Notice`]s.
pub const CHANGED_EVENT: &str = "changed";

/// What is running in the pgshelf process now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveSnapshot {
    /// Backup runs (database dumps and globals), oldest first.
    pub runs: Vec<RunProgress>,
    /// Restores, test-restores and copies: what each is doing (the engine
    /// counts no bytes for these).
    pub tasks: Vec<LiveTask>,
    /// Runs waiting for a free slot in this process.
    pub queued: usize,
}

impl LiveSnapshot {
    /// The progress of backup `id`, if it is running.
    pub fn run(&self, id: i64) -> Option<&RunProgress> {
        self.runs.iter().find(|r| r.backup_id == id)
    }
}

/// Where a backup run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    /// Looking up the server, choosing pg_dump, locking tables.
    Starting,
    /// pg_dump's output streaming to storage.
    Dumping,
    /// The stored artifact read back and checked.
    Verifying,
}

impl RunPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RunPhase::Starting => "starting",
            RunPhase::Dumping => "dumping",
            RunPhase::Verifying => "verifying",
        }
    }
}

/// One backup run's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunProgress {
    pub backup_id: i64,
    /// `server/database` or `server/globals`.
    pub label: String,
    pub phase: RunPhase,
    /// Bytes read from pg_dump so far.
    pub raw: u64,
    /// Bytes written to storage so far (compressed, encrypted).
    pub stored: u64,
    /// Since the run started (or was taken from the queue).
    pub elapsed_ms: u64,
    /// Bytes read from pg_dump by the previous good backup of the same
    /// database, when there is one: what the estimate is based on.
    pub previous_raw: Option<u64>,
    /// Average bytes read per second so far (0 until something was read).
    pub bytes_per_sec: u64,
    pub time_left: TimeLeft,
}

impl RunProgress {
    /// Fills in the derived figures (throughput, time left) from the
    /// counters.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        backup_id: i64,
        label: String,
        phase: RunPhase,
        raw: u64,
        stored: u64,
        elapsed_ms: u64,
        previous_raw: Option<u64>,
    ) -> RunProgress {
        let bytes_per_sec = throughput(raw, elapsed_ms);
        let time_left = match phase {
            RunPhase::Dumping => estimate_left(previous_raw, raw, bytes_per_sec),
            RunPhase::Starting | RunPhase::Verifying => TimeLeft::Unknown,
        };
        RunProgress {
            backup_id,
            label,
            phase,
            raw,
            stored,
            elapsed_ms,
            previous_raw,
            bytes_per_sec,
            time_left,
        }
    }

    /// Read so far against the previous run's size, 0..=100, when known.
    pub fn percent(&self) -> Option<u8> {
        let prev = self.previous_raw.filter(|p| *p > 0)?;
        Some(((self.raw as u128 * 100 / prev as u128).min(100)) as u8)
    }
}

/// The estimated time left of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "secs")]
pub enum TimeLeft {
    /// No previous good backup of this database, nothing read yet, or not
    /// dumping.
    Unknown,
    /// About this many seconds at the rate so far.
    About(u64),
    /// More read than the previous backup held: the database grew, so the
    /// end cannot be told.
    Beyond,
}

impl TimeLeft {
    /// `about 3 min`, `unknown`, `past the previous size`.
    pub fn text(self) -> String {
        match self {
            TimeLeft::Unknown => "unknown".into(),
            TimeLeft::Beyond => "past the previous backup's size".into(),
            TimeLeft::About(s) => format!("about {}", seconds_text(s)),
        }
    }
}

/// `45 s`, `3 min`, `1 h 5 min`.
pub fn seconds_text(s: u64) -> String {
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s.div_ceil(60).clamp(1, 59)),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Average bytes per second of `bytes` over `elapsed_ms` (0 when nothing
/// was read or no time has passed).
pub fn throughput(bytes: u64, elapsed_ms: u64) -> u64 {
    if elapsed_ms == 0 {
        return 0;
    }
    (bytes as u128 * 1000 / elapsed_ms as u128).min(u64::MAX as u128) as u64
}

/// The time left of a dump that has read `raw` bytes at `bytes_per_sec`,
/// when the previous good backup of the same database read
/// `previous_raw` bytes: the rest of the previous size at the current
/// rate, rounded up to whole seconds. Unknown without a previous backup
/// (or an empty one) or before anything was read; `Beyond` once the dump
/// has read more than the previous one did.
pub fn estimate_left(previous_raw: Option<u64>, raw: u64, bytes_per_sec: u64) -> TimeLeft {
    let Some(prev) = previous_raw.filter(|p| *p > 0) else {
        return TimeLeft::Unknown;
    };
    if raw > prev {
        return TimeLeft::Beyond;
    }
    if bytes_per_sec == 0 || raw == 0 {
        return TimeLeft::Unknown;
    }
    let rest = (prev - raw) as u128;
    let rate = bytes_per_sec as u128;
    TimeLeft::About(rest.div_ceil(rate).min(u64::MAX as u128) as u64)
}

/// Restores, test-restores and copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Restore,
    TestRestore,
    Copy,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Restore => "restore",
            TaskKind::TestRestore => "test-restore",
            TaskKind::Copy => "copy",
        }
    }
}

/// A restore, test-restore or copy going on now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveTask {
    pub kind: TaskKind,
    /// What it is doing, as its worker says.
    pub doing: String,
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A run was queued.
    Queued,
    /// A run started (its row is `running`).
    Started,
    /// A run ended (whatever its outcome).
    Finished,
    /// A run was cancelled (queued or running).
    Cancelled,
    /// A restore, test-restore or copy started or ended.
    Task,
}

/// "Something changed": lists that show it fetch again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Notice {
    pub kind: NoticeKind,
    /// The backup run concerned, when there is one.
    pub backup_id: Option<i64>,
}

/// The notices that two snapshots taken one after the other imply for the
/// work that has no notice of its own (restores, test-restores, copies):
/// one `Task` notice when the set of tasks differs.
pub fn task_notices(before: &LiveSnapshot, after: &LiveSnapshot) -> Vec<Notice> {
    let kinds = |s: &LiveSnapshot| {
        let mut k: Vec<(TaskKind, String)> = s
            .tasks
            .iter()
            .map(|t| (t.kind, t.doing.split(':').next().unwrap_or("").to_owned()))
            .collect();
        k.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
        k
    };
    if kinds(before) == kinds(after) {
        Vec::new()
    } else {
        vec![Notice {
            kind: NoticeKind::Task,
            backup_id: None,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_is_bytes_per_second() {
        assert_eq!(throughput(0, 0), 0);
        assert_eq!(throughput(1000, 0), 0, "no time passed");
        assert_eq!(throughput(0, 1000), 0);
        assert_eq!(throughput(1000, 1000), 1000);
        assert_eq!(throughput(1000, 500), 2000);
        assert_eq!(throughput(3, 2000), 1);
        assert_eq!(throughput(u64::MAX, 1), u64::MAX, "saturates");
    }

    #[test]
    fn no_previous_backup_means_unknown() {
        assert_eq!(estimate_left(None, 100, 10), TimeLeft::Unknown);
        assert_eq!(estimate_left(Some(0), 100, 10), TimeLeft::Unknown);
        assert_eq!(estimate_left(None, 0, 0), TimeLeft::Unknown);
    }

    #[test]
    fn nothing_read_yet_means_unknown() {
        assert_eq!(estimate_left(Some(1000), 0, 0), TimeLeft::Unknown);
        assert_eq!(estimate_left(Some(1000), 0, 50), TimeLeft::Unknown);
        assert_eq!(estimate_left(Some(1000), 10, 0), TimeLeft::Unknown);
    }

    #[test]
    fn the_rest_of_the_previous_size_at_the_current_rate() {
        assert_eq!(estimate_left(Some(1000), 500, 100), TimeLeft::About(5));
        assert_eq!(
            estimate_left(Some(1000), 999, 100),
            TimeLeft::About(1),
            "rounded up"
        );
        assert_eq!(estimate_left(Some(1000), 1000, 100), TimeLeft::About(0));
        assert_eq!(estimate_left(Some(1001), 1, 1), TimeLeft::About(1000));
        // Terabytes at a slow rate do not overflow.
        assert_eq!(
            estimate_left(Some(u64::MAX), 1, 1),
            TimeLeft::About(u64::MAX - 1)
        );
    }

    #[test]
    fn past_the_previous_size_cannot_be_told() {
        assert_eq!(estimate_left(Some(1000), 1001, 100), TimeLeft::Beyond);
        assert_eq!(estimate_left(Some(1), u64::MAX, 0), TimeLeft::Beyond);
    }

    #[test]
    fn only_a_dump_has_an_estimate() {
        let r = |phase| RunProgress::new(1, "s/db".into(), phase, 500, 50, 5000, Some(1000));
        assert_eq!(r(RunPhase::Dumping).time_left, TimeLeft::About(5));
        assert_eq!(r(RunPhase::Dumping).bytes_per_sec, 100);
        assert_eq!(r(RunPhase::Dumping).percent(), Some(50));
        assert_eq!(r(RunPhase::Starting).time_left, TimeLeft::Unknown);
        assert_eq!(r(RunPhase::Verifying).time_left, TimeLeft::Unknown);
        let first = RunProgress::new(1, "s/db".into(), RunPhase::Dumping, 500, 50, 5000, None);
        assert_eq!(first.time_left, TimeLeft::Unknown);
        assert_eq!(first.percent(), None);
        let grown = RunProgress::new(
            1,
            "s/db".into(),
            RunPhase::Dumping,
            5000,
            50,
            5000,
            Some(1000),
        );
        assert_eq!(grown.percent(), Some(100));
    }

    #[test]
    fn time_left_in_words() {
        assert_eq!(TimeLeft::Unknown.text(), "unknown");
        assert_eq!(TimeLeft::About(0).text(), "about 0 s");
        assert_eq!(TimeLeft::About(59).text(), "about 59 s");
        assert_eq!(TimeLeft::About(60).text(), "about 1 min");
        assert_eq!(TimeLeft::About(61).text(), "about 2 min");
        assert_eq!(TimeLeft::About(3599).text(), "about 59 min");
        assert_eq!(TimeLeft::About(3600).text(), "about 1 h 0 min");
        assert_eq!(TimeLeft::About(3 * 3600 + 65).text(), "about 3 h 1 min");
        assert!(TimeLeft::Beyond.text().contains("previous"));
    }

    #[test]
    fn events_round_trip_as_json() {
        let s = LiveSnapshot {
            runs: vec![RunProgress::new(
                7,
                "a/b".into(),
                RunPhase::Dumping,
                10,
                5,
                1000,
                Some(20),
            )],
            tasks: vec![LiveTask {
                kind: TaskKind::TestRestore,
                doing: "backup 3: restoring".into(),
            }],
            queued: 2,
        };
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.contains(r#""time_left":{"kind":"about","secs":1}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<LiveSnapshot>(&json).unwrap(), s);
        let n = vec![Notice {
            kind: NoticeKind::Cancelled,
            backup_id: Some(7),
        }];
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, r#"[{"kind":"cancelled","backup_id":7}]"#);
        assert_eq!(serde_json::from_str::<Vec<Notice>>(&json).unwrap(), n);
        assert_eq!(
            serde_json::to_string(&TimeLeft::Unknown).unwrap(),
            r#"{"kind":"unknown"}"#
        );
    }

    #[test]
    fn a_task_starting_or_ending_is_a_notice_its_steps_are_not() {
        let with = |doing: &[&str]| LiveSnapshot {
            tasks: doing
                .iter()
                .map(|d| LiveTask {
                    kind: TaskKind::Restore,
                    doing: (*d).into(),
                })
                .collect(),
            ..LiveSnapshot::default()
        };
        let none = with(&[]);
        let fetching = with(&["tables of backup 3: fetching"]);
        let restoring = with(&["tables of backup 3: restoring"]);
        assert!(task_notices(&none, &none).is_empty());
        assert!(task_notices(&fetching, &restoring).is_empty(), "a step");
        assert_eq!(task_notices(&none, &fetching).len(), 1, "started");
        assert_eq!(task_notices(&restoring, &none).len(), 1, "ended");
    }
}
