//! The overview (the landing page once servers exist): every database's
//! health at a glance, the failures and suspect backups of the last days,
//! the work running now, and storage with a projection of where it goes.
//!
//! The rules here are pure, so the engine and the browser agree on them:
//! [`Health::judge`] (which state a database is in), [`sort_rows`] (failing
//! first), [`nearest`] (the backup nearest a moment), [`project`] (storage
//! in 30 days by least squares over daily totals).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::backup::{Backup, BackupStatus, Target};
use crate::proof::ProofFlag;
use crate::retention::Tier;

/// How far back the failures and suspect backups listed first reach.
pub const PROBLEM_DAYS: i64 = 7;
/// How many of them are listed at most (newest first).
pub const PROBLEM_LIMIT: i64 = 50;
/// The size change is also shown against the good backup nearest this
/// many days ago.
pub const COMPARE_DAYS: i64 = 30;
/// Daily stored totals of this many days feed the projection.
pub const HISTORY_DAYS: i64 = 30;
/// The projection looks this many days ahead.
pub const PROJECTION_DAYS: i64 = 30;

/// A database's (or a server's globals') state, worst first: the derived
/// order sorts failing before suspect before overdue before healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// The newest finished run failed.
    Failing,
    /// The newest finished run is good but suspect (size far off, a table gone).
    Suspect,
    /// Its schedule should have produced a success by now and has not.
    Overdue,
    /// Never backed up successfully (and not failing: nothing ran yet).
    NeverBackedUp,
    Healthy,
}

impl Health {
    /// Every state, worst first.
    pub const ALL: [Health; 5] = [
        Health::Failing,
        Health::Suspect,
        Health::Overdue,
        Health::NeverBackedUp,
        Health::Healthy,
    ];

    /// Words for badges and headings.
    pub fn label(self) -> &'static str {
        match self {
            Health::Failing => "failing",
            Health::Suspect => "suspect",
            Health::Overdue => "overdue",
            Health::NeverBackedUp => "never backed up",
            Health::Healthy => "healthy",
        }
    }

    /// The stable name (the serialized one; CSS classes use it).
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Failing => "failing",
            Health::Suspect => "suspect",
            Health::Overdue => "overdue",
            Health::NeverBackedUp => "never-backed-up",
            Health::Healthy => "healthy",
        }
    }

    /// The state from the newest finished run's status (cancelled runs
    /// left out: stopping a run on purpose is not a failure), the newest
    /// good backup's status and the schedule's overdue flag. The first that
    /// applies wins: failed, suspect, overdue, never backed up, healthy.
    pub fn judge(
        last_finished: Option<BackupStatus>,
        last_good: Option<BackupStatus>,
        overdue: bool,
    ) -> Health {
        if last_finished == Some(BackupStatus::Failed) {
            Health::Failing
        } else if last_good == Some(BackupStatus::Suspect) {
            Health::Suspect
        } else if overdue {
            Health::Overdue
        } else if last_good.is_none() {
            Health::NeverBackedUp
        } else {
            Health::Healthy
        }
    }
}

/// A size compared with an earlier good backup's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeChange {
    /// The earlier backup.
    pub from_id: i64,
    pub from_at: DateTime<Utc>,
    pub from_bytes: i64,
    /// The newest good backup's size.
    pub to_bytes: i64,
}

impl SizeChange {
    /// Bytes gained (negative: shrunk).
    pub fn delta(&self) -> i64 {
        self.to_bytes - self.from_bytes
    }

    /// The change in percent of the earlier size; `None` when that was 0.
    pub fn percent(&self) -> Option<f64> {
        (self.from_bytes > 0).then(|| self.delta() as f64 * 100.0 / self.from_bytes as f64)
    }

    /// e.g. `+1.5 MiB (+12%)`, `-512 B (-3%)`, `no change`.
    pub fn describe(&self) -> String {
        let d = self.delta();
        if d == 0 {
            return "no change".into();
        }
        let sign = if d > 0 { "+" } else { "-" };
        let size = crate::format::human_bytes(d.unsigned_abs());
        match self.percent() {
            Some(p) => format!("{sign}{size} ({p:+.0}%)"),
            None => format!("{sign}{size}"),
        }
    }
}

/// One database (or a server's globals) as the overview shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseHealth {
    pub server_id: i64,
    pub server: String,
    pub target: Target,
    pub health: Health,
    /// The newest good backup (its id links to the backup page).
    pub last_success_id: Option<i64>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// The failed run that makes it failing, or the suspect backup.
    pub problem_id: Option<i64>,
    /// Its cause (failed) or verification reasons (suspect), in words.
    pub problem: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// Backed up on schedule (covered by the server plan and enabled).
    pub scheduled: bool,
    /// Gone from the server since (kept in view while it has backups).
    pub gone_since: Option<DateTime<Utc>>,
    /// When the newest passed test-restore finished (`None` for globals).
    pub last_proven_at: Option<DateTime<Utc>>,
    pub proof_flag: Option<ProofFlag>,
    /// The newest good backup's stored size.
    pub size_bytes: Option<i64>,
    /// Against the good backup before it.
    pub vs_previous: Option<SizeChange>,
    /// Against the good backup nearest [`COMPARE_DAYS`] ago.
    pub vs_month: Option<SizeChange>,
}

/// Rows in the overview's order: worst health first, then server and
/// target (globals after the server's databases).
pub fn sort_rows(rows: &mut [DatabaseHealth]) {
    rows.sort_by(|a, b| {
        (a.health, &a.server, a.server_id, target_key(&a.target)).cmp(&(
            b.health,
            &b.server,
            b.server_id,
            target_key(&b.target),
        ))
    });
}

fn target_key(t: &Target) -> (bool, &str) {
    (t.is_globals(), t.database().unwrap_or(""))
}

/// Of the candidates `(id, finished_at)`, the one finished nearest `at`
/// (the earlier on a tie), leaving out `except` (the newest backup itself).
pub fn nearest(
    candidates: &[(i64, DateTime<Utc>)],
    at: DateTime<Utc>,
    except: i64,
) -> Option<(i64, DateTime<Utc>)> {
    candidates
        .iter()
        .filter(|(id, _)| *id != except)
        .min_by_key(|(_, t)| ((*t - at).abs(), *t))
        .copied()
}

/// Stored bytes on one destination (complete copies, from the catalog).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationUsage {
    pub name: String,
    /// Where it is, e.g. `s3://bucket/root (endpoint)`.
    pub describe: String,
    pub copies: u64,
    pub stored_bytes: u64,
}

/// Good backups still stored that hold one retention tier. A backup
/// holding several tiers counts in each; `tier: None` holds none yet
/// (no retention plan ran since it was taken).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierUsage {
    pub tier: Option<Tier>,
    pub backups: u64,
    pub stored_bytes: u64,
}

/// The stored total (good backups not pruned, each once) at the end of one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyTotal {
    pub day: NaiveDate,
    pub bytes: i64,
}

/// Where the stored total goes, from its trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Projection {
    /// Fewer than two days of history: no trend to draw.
    NotEnoughHistory { days: usize },
    Trend {
        /// Days of history the trend was fitted on.
        days: usize,
        /// The least-squares slope (may be negative).
        bytes_per_day: f64,
        /// The newest total and its day.
        from_day: NaiveDate,
        from_bytes: i64,
        /// The day projected to and the total then (never negative).
        day: NaiveDate,
        bytes: u64,
    },
}

/// The stored total `horizon_days` after the newest day: that day's total
/// plus the least-squares slope over all `history` points (days need not
/// be contiguous or sorted; a day given twice counts twice), never below 0.
/// Fewer than two distinct days give [`Projection::NotEnoughHistory`].
pub fn project(history: &[DailyTotal], horizon_days: i64) -> Projection {
    let mut days: Vec<NaiveDate> = history.iter().map(|p| p.day).collect();
    days.sort();
    days.dedup();
    if days.len() < 2 {
        return Projection::NotEnoughHistory { days: days.len() };
    }
    let first = days[0];
    let n = history.len() as f64;
    let xs: Vec<f64> = history
        .iter()
        .map(|p| (p.day - first).num_days() as f64)
        .collect();
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = history.iter().map(|p| p.bytes as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, p) in xs.iter().zip(history) {
        sxy += (x - mean_x) * (p.bytes as f64 - mean_y);
        sxx += (x - mean_x) * (x - mean_x);
    }
    let slope = sxy / sxx;
    let newest = history
        .iter()
        .max_by_key(|p| p.day)
        .expect("at least two days");
    // The newest day's total: the last one given for that day.
    let from = history
        .iter()
        .rev()
        .find(|p| p.day == newest.day)
        .expect("newest day present");
    let ahead = from.bytes as f64 + slope * horizon_days as f64;
    Projection::Trend {
        days: days.len(),
        bytes_per_day: slope,
        from_day: from.day,
        from_bytes: from.bytes,
        day: from.day + chrono::Duration::days(horizon_days),
        bytes: if ahead.is_finite() && ahead > 0.0 {
            ahead.round() as u64
        } else {
            0
        },
    }
}

/// Daily totals from the total now and, per day, what was added (good
/// backups finished that day) and removed (pruned that day), walking back
/// from `today`: the total at the end of day `d - 1` is the total at the
/// end of `d` minus what `d` added plus what it removed. Returns up to
/// `days` totals, oldest first, none below 0; leading days with nothing
/// stored are left out (no history yet: a trend from zero would be a
/// false one).
pub fn daily_totals(
    total_now: i64,
    today: NaiveDate,
    days: i64,
    added: &[(NaiveDate, i64)],
    removed: &[(NaiveDate, i64)],
) -> Vec<DailyTotal> {
    let on = |list: &[(NaiveDate, i64)], d: NaiveDate| -> i64 {
        list.iter().filter(|(x, _)| *x == d).map(|(_, b)| b).sum()
    };
    let mut out = Vec::new();
    let mut total = total_now;
    let mut day = today;
    for _ in 0..days.max(0) {
        out.push(DailyTotal {
            day,
            bytes: total.max(0),
        });
        total = total - on(added, day) + on(removed, day);
        day = day.pred_opt().expect("a date after year -262143");
    }
    out.reverse();
    let start = out.iter().position(|t| t.bytes > 0).unwrap_or(out.len());
    out.split_off(start)
}

/// Storage as the overview shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Storage {
    /// Every destination, the built-in `local` first.
    pub destinations: Vec<DestinationUsage>,
    /// Finest tier first, then backups holding none.
    pub tiers: Vec<TierUsage>,
    /// Good backups still stored, each counted once (copies not multiplied).
    pub total_bytes: u64,
    pub backups: u64,
    /// The daily totals the projection was fitted on, oldest first.
    pub history: Vec<DailyTotal>,
    pub projection: Projection,
}

/// The overview page, read at `generated_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub generated_at: DateTime<Utc>,
    pub servers: usize,
    /// Every database worth watching (scheduled, or with backups), and
    /// each server's globals, in [`sort_rows`] order; only the first of
    /// them after [`Overview::first`].
    pub databases: Vec<DatabaseHealth>,
    /// How many rows there are in all, and in each state (worst first,
    /// states with none left out), whether or not `databases` holds them all.
    #[serde(default)]
    pub total_databases: usize,
    #[serde(default)]
    pub health_counts: Vec<(Health, usize)>,
    /// Failed runs and suspect backups of the last [`PROBLEM_DAYS`] days,
    /// newest first (at most [`PROBLEM_LIMIT`]).
    pub problems: Vec<Backup>,
    /// Runs queued or running now, oldest first.
    pub active: Vec<Backup>,
    pub storage: Storage,
}

/// How many of `rows` are in each state, worst first (states with none
/// left out).
pub fn count_health(rows: &[DatabaseHealth]) -> Vec<(Health, usize)> {
    Health::ALL
        .iter()
        .map(|h| (*h, rows.iter().filter(|d| d.health == *h).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Rows the overview page shows unless asked for all: the ones that need
/// attention come first, so a fleet's healthy tail is what is left out.
pub const OVERVIEW_ROWS: usize = 100;

impl Overview {
    /// The same overview with only the first `n` rows of `databases` (the
    /// totals keep counting all of them).
    pub fn first(mut self, n: usize) -> Overview {
        self.databases.truncate(n);
        self
    }

    /// Rows left out by [`Overview::first`].
    pub fn rows_left_out(&self) -> usize {
        self.total_databases.saturating_sub(self.databases.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn pt(d: u32, bytes: i64) -> DailyTotal {
        DailyTotal { day: day(d), bytes }
    }

    fn trend(p: Projection) -> (usize, f64, i64, NaiveDate, u64) {
        match p {
            Projection::Trend {
                days,
                bytes_per_day,
                from_bytes,
                day,
                bytes,
                ..
            } => (days, bytes_per_day, from_bytes, day, bytes),
            other => panic!("expected a trend, got {other:?}"),
        }
    }

    #[test]
    fn no_history_is_not_enough() {
        assert_eq!(project(&[], 30), Projection::NotEnoughHistory { days: 0 });
    }

    #[test]
    fn one_point_is_not_enough() {
        assert_eq!(
            project(&[pt(1, 100)], 30),
            Projection::NotEnoughHistory { days: 1 }
        );
    }

    #[test]
    fn one_day_given_twice_is_still_one_day() {
        assert_eq!(
            project(&[pt(3, 100), pt(3, 200)], 30),
            Projection::NotEnoughHistory { days: 1 }
        );
    }

    #[test]
    fn two_points_give_their_line() {
        let (days, slope, from, at, bytes) = trend(project(&[pt(1, 100), pt(2, 150)], 30));
        assert_eq!(days, 2);
        assert!((slope - 50.0).abs() < 1e-9);
        assert_eq!(from, 150);
        assert_eq!(at, day(2) + chrono::Duration::days(30));
        assert_eq!(bytes, 150 + 50 * 30);
    }

    #[test]
    fn flat_history_stays_flat() {
        let h: Vec<_> = (1..=30).map(|d| pt(d, 1_000)).collect();
        let (days, slope, _, _, bytes) = trend(project(&h, 30));
        assert_eq!(days, 30);
        assert!(slope.abs() < 1e-9);
        assert_eq!(bytes, 1_000);
    }

    #[test]
    fn steady_growth_is_extended() {
        let h: Vec<_> = (1..=30).map(|d| pt(d, 10_000 + 250 * d as i64)).collect();
        let (_, slope, from, _, bytes) = trend(project(&h, 30));
        assert!((slope - 250.0).abs() < 1e-6);
        assert_eq!(from, 10_000 + 250 * 30);
        assert_eq!(bytes, (10_000 + 250 * 60) as u64);
    }

    #[test]
    fn shrinking_never_goes_below_zero() {
        let h = [pt(1, 1_000), pt(2, 500), pt(3, 0)];
        let (_, slope, _, _, bytes) = trend(project(&h, 30));
        assert!((slope + 500.0).abs() < 1e-9);
        assert_eq!(bytes, 0);
    }

    #[test]
    fn shrinking_slowly_ends_above_zero() {
        let h = [pt(1, 10_000), pt(11, 9_000)];
        let (_, _, _, _, bytes) = trend(project(&h, 30));
        assert_eq!(bytes, 9_000 - 3_000);
    }

    #[test]
    fn least_squares_over_noise() {
        // y = 9 + 2x plus noise (+1, -1, -1, +1) that the fit cancels out.
        let h = [pt(1, 11), pt(2, 11), pt(3, 13), pt(4, 17)];
        let (_, slope, from, _, bytes) = trend(project(&h, 10));
        assert!((slope - 2.0).abs() < 1e-9, "{slope}");
        assert_eq!(from, 17);
        assert_eq!(bytes, 37);
    }

    #[test]
    fn order_and_gaps_do_not_matter() {
        let sorted = [pt(1, 100), pt(5, 300), pt(20, 1_050)];
        let shuffled = [pt(20, 1_050), pt(1, 100), pt(5, 300)];
        let (a, b) = (trend(project(&sorted, 30)), trend(project(&shuffled, 30)));
        assert!((a.1 - b.1).abs() < 1e-9);
        assert_eq!((a.0, a.2, a.3, a.4), (b.0, b.2, b.3, b.4));
        let (days, _, from, at, _) = b;
        assert_eq!(days, 3);
        assert_eq!(from, 1_050);
        assert_eq!(at, day(20) + chrono::Duration::days(30));
    }

    #[test]
    fn large_totals_do_not_overflow() {
        let big = 1_i64 << 52; // 4 PiB
        let h = [pt(1, big), pt(2, big + (1 << 40))];
        let (_, _, _, _, bytes) = trend(project(&h, 30));
        assert_eq!(bytes, (big + 31 * (1 << 40)) as u64);
    }

    #[test]
    fn zero_horizon_is_today() {
        let h = [pt(1, 100), pt(2, 200)];
        let (_, _, _, at, bytes) = trend(project(&h, 0));
        assert_eq!(at, day(2));
        assert_eq!(bytes, 200);
    }

    #[test]
    fn daily_totals_walk_back() {
        // Now 1000; today added 300 and removed 100; yesterday added 200.
        let t = daily_totals(
            1_000,
            day(10),
            3,
            &[(day(10), 300), (day(9), 200)],
            &[(day(10), 100)],
        );
        assert_eq!(t, vec![pt(8, 600), pt(9, 800), pt(10, 1_000)]);
    }

    #[test]
    fn daily_totals_never_negative_and_sized() {
        // More added today than stored: the day before clamps to 0 and,
        // leading, is left out.
        let t = daily_totals(100, day(10), 2, &[(day(10), 500)], &[]);
        assert_eq!(t, vec![pt(10, 100)]);
        assert!(daily_totals(100, day(10), 0, &[], &[]).is_empty());
        assert_eq!(daily_totals(5, day(10), 60, &[], &[]).len(), 60);
        assert!(daily_totals(0, day(10), 60, &[], &[]).is_empty());
        // A zero in the middle (everything pruned, then backed up again) stays.
        let t = daily_totals(
            50,
            day(10),
            4,
            &[(day(10), 50), (day(8), 70)],
            &[(day(9), 70)],
        );
        assert_eq!(t, vec![pt(8, 70), pt(9, 0), pt(10, 50)]);
    }

    #[test]
    fn judge_worst_first() {
        use BackupStatus::*;
        assert_eq!(
            Health::judge(Some(Failed), Some(Verified), false),
            Health::Failing
        );
        assert_eq!(Health::judge(Some(Failed), None, true), Health::Failing);
        assert_eq!(
            Health::judge(Some(Suspect), Some(Suspect), true),
            Health::Suspect
        );
        assert_eq!(
            Health::judge(Some(Verified), Some(Verified), true),
            Health::Overdue
        );
        assert_eq!(Health::judge(None, None, true), Health::Overdue);
        assert_eq!(Health::judge(None, None, false), Health::NeverBackedUp);
        assert_eq!(
            Health::judge(Some(Verified), Some(Verified), false),
            Health::Healthy
        );
        assert_eq!(
            Health::judge(Some(Succeeded), Some(Succeeded), false),
            Health::Healthy
        );
    }

    fn row(server: &str, target: Target, health: Health) -> DatabaseHealth {
        DatabaseHealth {
            server_id: 1,
            server: server.into(),
            target,
            health,
            last_success_id: None,
            last_success_at: None,
            problem_id: None,
            problem: None,
            next_run: None,
            overdue: false,
            scheduled: true,
            gone_since: None,
            last_proven_at: None,
            proof_flag: None,
            size_bytes: None,
            vs_previous: None,
            vs_month: None,
        }
    }

    #[test]
    fn rows_sort_failing_first_then_by_name() {
        let db = |n: &str| Target::Database(n.into());
        let mut rows = vec![
            row("b", db("x"), Health::Healthy),
            row("a", Target::Globals, Health::Healthy),
            row("a", db("z"), Health::Healthy),
            row("z", db("y"), Health::Overdue),
            row("b", db("w"), Health::Suspect),
            row("c", db("v"), Health::Failing),
            row("a", db("n"), Health::NeverBackedUp),
        ];
        sort_rows(&mut rows);
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.server.as_str(), r.target.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("c", "v".to_string()),
                ("b", "w".into()),
                ("z", "y".into()),
                ("a", "n".into()),
                ("a", "z".into()),
                ("a", "globals".into()),
                ("b", "x".into()),
            ]
        );
    }

    #[test]
    fn nearest_picks_closest_and_skips_itself() {
        let t = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 3, 0, 0).unwrap();
        let at = t(10);
        assert_eq!(nearest(&[(1, t(8)), (2, t(11))], at, 99), Some((2, t(11))));
        assert_eq!(nearest(&[(1, t(9)), (2, t(11))], at, 99), Some((1, t(9))));
        assert_eq!(nearest(&[(1, t(9)), (2, t(11))], at, 1), Some((2, t(11))));
        assert_eq!(nearest(&[(5, t(20))], at, 5), None);
        assert_eq!(nearest(&[], at, 5), None);
    }

    #[test]
    fn size_change_in_words() {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let c = |from, to| SizeChange {
            from_id: 1,
            from_at: at,
            from_bytes: from,
            to_bytes: to,
        };
        assert_eq!(c(1024, 1024).describe(), "no change");
        assert_eq!(c(1024, 2048).describe(), "+1.0 KiB (+100%)");
        assert_eq!(c(2048, 1024).describe(), "-1.0 KiB (-50%)");
        assert_eq!(c(0, 10).describe(), "+10 B");
        assert_eq!(c(0, 10).percent(), None);
        assert_eq!(c(100, 90).delta(), -10);
    }
}
