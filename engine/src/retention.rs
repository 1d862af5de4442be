//! Retention tiers and the prune plan.
//!
//! A policy keeps the newest successful backup in each of the last N hours,
//! days, ISO weeks, months and years (N per tier, 0 turns a tier off). A
//! backup may hold several tiers; one that holds none is pruned. [`plan`] is a
//! pure function of (backups, tiers, now, time zone): it decides, the caller
//! deletes (plan, then act, like pg_back's purge jobs or pgBackRest's expire).
//!
//! # Semantics
//!
//! * **Buckets** are computed in the policy's time zone: the local hour, local
//!   date, ISO week (Monday start, ISO week-year, so 2024-12-30 is in
//!   2025-W01), local month and local year of the backup.
//! * **Windows are calendar windows.** "The last N days" is the N day buckets
//!   counting back from the bucket that contains `now` (inclusive), whether or
//!   not they hold a backup. A backup outside every window holds no tier.
//! * **Within a bucket** the newest successful backup holds the tier; equal
//!   timestamps are broken by the higher id (the newer row).
//! * **Hour buckets are real hours.** An hour bucket is a local clock hour
//!   *together with its UTC offset*. In the autumn fold the repeated hour is
//!   two buckets (02:00 CEST and 02:00 CET are one real hour apart and both
//!   count towards "the last N hours"), and the hour skipped in spring is no
//!   bucket at all. So "the last 24 hours" is always 24 real hours, and a day
//!   has 23, 24 or 25 hour buckets. Day, week, month and year buckets follow
//!   the local calendar and so are 23/25 hours long on DST days.
//! * **Failed backups** never hold a tier, never change which backup holds
//!   one, and are never in the prune list (they have no artifact): they are
//!   listed in [`Plan::failed`] for the caller.
//! * **The newest successful backup is always kept**, even when every tier is
//!   0 or it lies outside every window.
//! * **Backups dated after `now`** (a skewed clock, or a backup finishing
//!   while the plan is made) are always kept: the plan cannot judge them, and
//!   a wrong clock must never delete data. They still take part in the bucket
//!   that contains `now`.
//! * **All tiers 0** means "keep only the newest successful backup".
//! * The plan is **idempotent**: re-planning the kept set with the same `now`
//!   prunes nothing more. Growing a tier never prunes more; shrinking one
//!   never keeps more.
//!
//! Ids are expected to be unique (the catalog's primary key).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use model::retention::{
    RetentionError, Tier, Tiers, MAX_DAILY, MAX_HOURLY, MAX_MONTHLY, MAX_WEEKLY, MAX_YEARLY,
};

/// A backup the plan judges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Catalog id; among equal timestamps the higher id counts as newer.
    pub id: i64,
    /// When the backup was taken (its snapshot time).
    pub at: DateTime<Utc>,
    /// Whether the run succeeded; failed runs are ignored by the plan.
    pub succeeded: bool,
}

/// The verdict on one successful backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The backup's id.
    pub id: i64,
    /// The tiers it holds, finest first.
    pub tiers: Vec<Tier>,
    /// Whether it is kept.
    pub keep: bool,
    /// Why, in words for the UI.
    pub reason: String,
}

/// The outcome of [`plan`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// One decision per successful backup, newest first.
    pub decisions: Vec<Decision>,
    /// Ids of failed backups, newest first: not judged, never pruned here.
    pub failed: Vec<i64>,
}

impl Plan {
    /// Ids to prune, newest first.
    pub fn prune_ids(&self) -> Vec<i64> {
        self.decisions
            .iter()
            .filter(|d| !d.keep)
            .map(|d| d.id)
            .collect()
    }

    /// Ids kept, newest first.
    pub fn kept_ids(&self) -> Vec<i64> {
        self.kept().map(|d| d.id).collect()
    }

    /// Decisions of the kept backups, newest first.
    pub fn kept(&self) -> impl Iterator<Item = &Decision> + '_ {
        self.decisions.iter().filter(|d| d.keep)
    }

    /// The decision about one backup, if it was judged.
    pub fn decision(&self, id: i64) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.id == id)
    }
}

/// Orders newest first: later time, then higher id.
fn newest_first(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    b.at.cmp(&a.at).then(b.id.cmp(&a.id))
}

/// The bucket of `at` for `tier`, as a number that grows with time.
///
/// Hourly: the UTC timestamp of the start of the local clock hour at the
/// backup's own offset (so the two 02:00 hours of a fold differ). Daily:
/// days since the common era. Weekly: Monday-aligned week number. Monthly:
/// year * 12 + month. Yearly: the year.
fn bucket_key(tier: Tier, at: DateTime<Utc>, tz: Tz) -> i64 {
    let local = local_of(at, tz);
    match tier {
        Tier::Hourly => at.timestamp() - i64::from(local.minute()) * 60 - i64::from(local.second()),
        Tier::Daily => i64::from(local.date().num_days_from_ce()),
        Tier::Weekly => {
            let date = local.date();
            let monday = i64::from(date.num_days_from_ce())
                - i64::from(date.weekday().num_days_from_monday());
            // 0001-01-01 (day 1 from the common era) is a Monday.
            (monday - 1).div_euclid(7)
        }
        Tier::Monthly => i64::from(local.year()) * 12 + i64::from(local.month0()),
        Tier::Yearly => i64::from(local.year()),
    }
}

/// Local wall-clock time of `at` in `tz`; at the very limits of the calendar
/// (where adding the offset overflows) the UTC time stands in, so the plan
/// never panics.
fn local_of(at: DateTime<Utc>, tz: Tz) -> NaiveDateTime {
    let offset = tz.offset_from_utc_datetime(&at.naive_utc()).fix();
    at.naive_utc()
        .checked_add_offset(offset)
        .unwrap_or_else(|| at.naive_utc())
}

/// The bucket's name for the UI, e.g. `daily 2026-11-24`, `weekly 2026-W48`,
/// `hourly 2026-10-25 02:00 CEST` (the zone abbreviation tells the two hours
/// of a fold apart).
fn bucket_label(tier: Tier, at: DateTime<Utc>, tz: Tz) -> String {
    let local = local_of(at, tz);
    match tier {
        Tier::Hourly => {
            let zone = tz.offset_from_utc_datetime(&at.naive_utc());
            format!("{} {zone}", local.format("%Y-%m-%d %H:00"))
        }
        Tier::Daily => local.format("%Y-%m-%d").to_string(),
        Tier::Weekly => {
            let week = local.iso_week();
            format!("{}-W{:02}", week.year(), week.week())
        }
        Tier::Monthly => local.format("%Y-%m").to_string(),
        Tier::Yearly => local.format("%Y").to_string(),
    }
}

/// The last `count` buckets of one tier, counting back from `now`'s bucket.
struct Window {
    tier: Tier,
    count: u32,
    now_key: i64,
    /// Hour buckets are enumerated (their length varies at offset changes);
    /// calendar buckets are consecutive integers.
    hours: Option<HashSet<i64>>,
}

impl Window {
    fn new(tier: Tier, count: u32, now: DateTime<Utc>, tz: Tz, oldest: DateTime<Utc>) -> Self {
        let now_key = bucket_key(tier, now, tz);
        let hours = (tier == Tier::Hourly).then(|| {
            let mut set = HashSet::new();
            let mut key = now_key;
            let oldest = oldest.timestamp();
            for _ in 0..count {
                set.insert(key);
                // Buckets older than the oldest backup cannot hold anything.
                if key <= oldest {
                    break;
                }
                // The previous bucket holds the second before this one began.
                let Some(before) = DateTime::from_timestamp(key - 1, 0) else {
                    break;
                };
                key = bucket_key(Tier::Hourly, before, tz);
            }
            set
        });
        Window {
            tier,
            count,
            now_key,
            hours,
        }
    }

    fn contains(&self, key: i64) -> bool {
        match &self.hours {
            Some(set) => set.contains(&key),
            None => {
                let back = self.now_key - key;
                back >= 0 && back < i64::from(self.count)
            }
        }
    }
}

/// Decides which successful backups to keep under `tiers` at `now` in `tz`.
///
/// See the module documentation for the rules. The result lists every
/// successful backup newest first; failed ones go to [`Plan::failed`].
pub fn plan(backups: &[Candidate], tiers: &Tiers, now: DateTime<Utc>, tz: Tz) -> Plan {
    let mut good: Vec<&Candidate> = backups.iter().filter(|c| c.succeeded).collect();
    good.sort_by(|a, b| newest_first(a, b));
    let mut failed: Vec<&Candidate> = backups.iter().filter(|c| !c.succeeded).collect();
    failed.sort_by(|a, b| newest_first(a, b));
    let failed: Vec<i64> = failed.iter().map(|c| c.id).collect();

    let Some(oldest) = good.last().map(|c| c.at) else {
        return Plan {
            decisions: Vec::new(),
            failed,
        };
    };

    let windows: Vec<Window> = Tier::ALL
        .iter()
        .filter(|t| tiers.count(**t) > 0)
        .map(|t| Window::new(*t, tiers.count(*t), now, tz, oldest))
        .collect();

    // Bucket keys per backup and window; the first (newest) backup seen in a
    // bucket holds it. Holders are indexes into `good`.
    let keys: Vec<Vec<i64>> = good
        .iter()
        .map(|c| {
            windows
                .iter()
                .map(|w| bucket_key(w.tier, c.at, tz))
                .collect()
        })
        .collect();
    let mut holder: HashMap<(Tier, i64), usize> = HashMap::new();
    for (i, row) in keys.iter().enumerate() {
        for (w, key) in windows.iter().zip(row) {
            if w.contains(*key) {
                holder.entry((w.tier, *key)).or_insert(i);
            }
        }
    }

    let decisions = good
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut held: Vec<(Tier, String)> = Vec::new();
            let mut superseded: Vec<String> = Vec::new();
            let mut outside: Vec<String> = Vec::new();
            for (w, key) in windows.iter().zip(&keys[i]) {
                if !w.contains(*key) {
                    outside.push(format!("{} {}", w.count, w.tier));
                    continue;
                }
                let label = bucket_label(w.tier, c.at, tz);
                match holder.get(&(w.tier, *key)) {
                    Some(&h) if h == i => held.push((w.tier, label)),
                    Some(&h) => superseded.push(format!(
                        "{} {} held by newer #{}",
                        w.tier, label, good[h].id
                    )),
                    None => outside.push(format!("{} {}", w.count, w.tier)),
                }
            }
            let newest = i == 0;
            let future = c.at > now;
            let keep = newest || future || !held.is_empty();
            let reason = reason(
                &held,
                &superseded,
                &outside,
                newest,
                future,
                tiers.all_off(),
            );
            Decision {
                id: c.id,
                tiers: held.iter().map(|(t, _)| *t).collect(),
                keep,
                reason,
            }
        })
        .collect();

    Plan { decisions, failed }
}

fn reason(
    held: &[(Tier, String)],
    superseded: &[String],
    outside: &[String],
    newest: bool,
    future: bool,
    all_off: bool,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !held.is_empty() {
        let list: Vec<String> = held.iter().map(|(t, l)| format!("{t} {l}")).collect();
        parts.push(format!("keeps {}", list.join(", ")));
    }
    if newest {
        if all_off {
            parts.push("newest successful backup: always kept (every tier is 0)".into());
        } else {
            parts.push("newest successful backup: always kept".into());
        }
    }
    if future {
        parts.push("dated after now (clock skew?): kept until it can be judged".into());
    }
    if !parts.is_empty() {
        return parts.join("; ");
    }
    // Pruned.
    if all_off {
        return "no tier: every tier is 0, so only the newest backup is kept".into();
    }
    let mut why: Vec<String> = superseded.to_vec();
    if !outside.is_empty() {
        why.push(format!("older than {} windows", outside.join(" / ")));
    }
    format!("no tier: {}", why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate, TimeZone};
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;
    use chrono_tz::Pacific::{Kiritimati, Pago_Pago};
    use chrono_tz::UTC;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn ok(id: i64, at: DateTime<Utc>) -> Candidate {
        Candidate {
            id,
            at,
            succeeded: true,
        }
    }

    fn failed(id: i64, at: DateTime<Utc>) -> Candidate {
        Candidate {
            id,
            at,
            succeeded: false,
        }
    }

    fn tiers(hourly: u32, daily: u32, weekly: u32, monthly: u32, yearly: u32) -> Tiers {
        Tiers {
            hourly,
            daily,
            weekly,
            monthly,
            yearly,
        }
    }

    fn sorted(mut v: Vec<i64>) -> Vec<i64> {
        v.sort_unstable();
        v
    }

    /// Backups every `step` from `start` for `n` steps, ids 1.. in time order.
    fn series(start: DateTime<Utc>, step: Duration, n: i64) -> Vec<Candidate> {
        (0..n).map(|i| ok(i + 1, start + step * i as i32)).collect()
    }

    /// Deterministic pseudo-random numbers (no dev-dependency needed).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    fn random_backups(seed: u64, n: usize, end: DateTime<Utc>, span_hours: u64) -> Vec<Candidate> {
        let mut rng = Lcg(seed);
        (0..n)
            .map(|i| {
                let back = rng.next() % (span_hours * 3600);
                Candidate {
                    id: i as i64 + 1,
                    at: end - Duration::seconds(back as i64),
                    succeeded: !rng.next().is_multiple_of(7),
                }
            })
            .collect()
    }

    // ---- Tiers: defaults, validation, serde ------------------------------

    #[test]
    fn default_tiers_are_7_daily_4_weekly_12_monthly() {
        assert_eq!(Tiers::default(), tiers(0, 7, 4, 12, 0));
        assert!(Tiers::default().validate().is_ok());
        assert!(!Tiers::default().all_off());
        assert!(Tiers::KEEP_ONLY_NEWEST.all_off());
    }

    #[test]
    fn validate_accepts_every_maximum_and_all_zero() {
        assert!(tiers(8760, 3660, 520, 1200, 100).validate().is_ok());
        assert!(Tiers::KEEP_ONLY_NEWEST.validate().is_ok());
    }

    #[test]
    fn validate_refuses_each_tier_one_above_max() {
        for tier in Tier::ALL {
            let mut t = Tiers::KEEP_ONLY_NEWEST;
            let v = tier.max() + 1;
            match tier {
                Tier::Hourly => t.hourly = v,
                Tier::Daily => t.daily = v,
                Tier::Weekly => t.weekly = v,
                Tier::Monthly => t.monthly = v,
                Tier::Yearly => t.yearly = v,
            }
            let err = t.validate().unwrap_err();
            assert_eq!(
                err,
                RetentionError::TooMany {
                    tier,
                    value: v,
                    max: tier.max()
                }
            );
            let msg = err.to_string();
            assert!(msg.contains(tier.name()), "{msg}");
            assert!(msg.contains(&v.to_string()), "{msg}");
            assert!(msg.contains("or less"), "{msg}");
        }
    }

    #[test]
    fn validate_message_names_tier_value_max_and_fix() {
        let err = tiers(10_000, 0, 0, 0, 0).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "hourly retention of 10000 is above the maximum of 8760 (one year of hours); \
             set hourly to 8760 or less and keep older backups with the daily tier"
        );
        let err = tiers(0, 0, 0, 0, 101).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "yearly retention of 101 is above the maximum of 100 (a hundred years); \
             set yearly to 100 or less"
        );
    }

    #[test]
    fn validate_reports_the_finest_bad_tier_first() {
        let err = tiers(0, 5000, 9999, 0, 0).validate().unwrap_err();
        assert!(matches!(
            err,
            RetentionError::TooMany {
                tier: Tier::Daily,
                ..
            }
        ));
    }

    // serde_json is not a dependency of this module; check the derive shape
    // through a tiny hand-rolled deserializer instead.
    #[test]
    fn serde_missing_fields_take_defaults_and_unknown_fields_are_refused() {
        use serde::de::value::{Error as DeError, MapDeserializer};
        use serde::de::IntoDeserializer;

        let from = |pairs: Vec<(&'static str, u32)>| -> Result<Tiers, DeError> {
            let de: MapDeserializer<'_, _, DeError> = MapDeserializer::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into_deserializer(), v.into_deserializer())),
            );
            Tiers::deserialize(de)
        };
        assert_eq!(from(vec![]).unwrap(), Tiers::default());
        assert_eq!(
            from(vec![("daily", 3), ("monthly", 0)]).unwrap(),
            tiers(0, 3, 4, 0, 0)
        );
        let err = from(vec![("dialy", 3)]).unwrap_err().to_string();
        assert!(err.contains("dialy"), "{err}");
    }

    #[test]
    fn tier_display_and_order() {
        let names: Vec<String> = Tier::ALL.iter().map(|t| t.to_string()).collect();
        assert_eq!(names, ["hourly", "daily", "weekly", "monthly", "yearly"]);
        assert!(Tier::Hourly < Tier::Yearly);
    }

    // ---- Trivial inputs ----------------------------------------------------

    #[test]
    fn empty_input_gives_empty_plan() {
        let p = plan(&[], &Tiers::default(), utc(2026, 1, 1, 0, 0, 0), UTC);
        assert_eq!(p, Plan::default());
        assert!(p.prune_ids().is_empty());
        assert!(p.kept_ids().is_empty());
    }

    #[test]
    fn only_failed_backups_are_listed_not_judged() {
        let b = [
            failed(1, utc(2026, 1, 1, 0, 0, 0)),
            failed(2, utc(2026, 1, 2, 0, 0, 0)),
        ];
        let p = plan(&b, &Tiers::default(), utc(2026, 1, 3, 0, 0, 0), UTC);
        assert!(p.decisions.is_empty());
        assert_eq!(p.failed, vec![2, 1]);
        assert!(p.prune_ids().is_empty());
    }

    #[test]
    fn single_backup_all_tiers_off_is_kept_as_newest() {
        let b = [ok(7, utc(2020, 1, 1, 0, 0, 0))];
        let p = plan(&b, &Tiers::KEEP_ONLY_NEWEST, utc(2026, 1, 1, 0, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![7]);
        let d = p.decision(7).unwrap();
        assert!(d.tiers.is_empty());
        assert_eq!(
            d.reason,
            "newest successful backup: always kept (every tier is 0)"
        );
    }

    #[test]
    fn all_zero_keeps_only_the_newest() {
        let b = series(utc(2026, 1, 1, 0, 0, 0), Duration::hours(1), 50);
        let p = plan(&b, &Tiers::KEEP_ONLY_NEWEST, utc(2026, 1, 3, 2, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![50]);
        assert_eq!(p.prune_ids().len(), 49);
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: every tier is 0, so only the newest backup is kept"
        );
    }

    #[test]
    fn newest_outside_every_window_is_kept() {
        // One old backup, daily 7: it is outside the window but the newest.
        let b = [
            ok(1, utc(2025, 1, 1, 0, 0, 0)),
            ok(2, utc(2025, 1, 2, 0, 0, 0)),
        ];
        let p = plan(&b, &tiers(0, 7, 0, 0, 0), utc(2026, 1, 1, 0, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![2]);
        assert_eq!(
            p.decision(2).unwrap().reason,
            "newest successful backup: always kept"
        );
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: older than 7 daily windows"
        );
    }

    // ---- Calendar windows ---------------------------------------------------

    #[test]
    fn daily_keeps_newest_of_each_of_the_last_n_days() {
        // Three backups a day (02:00, 10:00, 18:00) for 10 days.
        let mut b = Vec::new();
        for day in 0..10 {
            for (k, h) in [2, 10, 18].iter().enumerate() {
                let id = day * 3 + k as i64 + 1;
                b.push(ok(id, utc(2026, 3, 1 + day as u32, *h, 0, 0)));
            }
        }
        let now = utc(2026, 3, 10, 20, 0, 0);
        let p = plan(&b, &tiers(0, 7, 0, 0, 0), now, UTC);
        // Days 4..=10 March, each its 18:00 backup (ids 12, 15, ..., 30).
        assert_eq!(sorted(p.kept_ids()), vec![12, 15, 18, 21, 24, 27, 30]);
        for d in p.kept() {
            assert_eq!(d.tiers, vec![Tier::Daily]);
        }
        assert_eq!(p.prune_ids().len(), 30 - 7);
        assert_eq!(
            p.decision(29).unwrap().reason,
            "no tier: daily 2026-03-10 held by newer #30"
        );
    }

    #[test]
    fn windows_are_calendar_not_last_n_backups() {
        // Daily 7 but backups only today and 10 days ago: the old one is
        // outside the window even though only 2 backups exist.
        let b = [
            ok(1, utc(2026, 3, 1, 2, 0, 0)),
            ok(2, utc(2026, 3, 11, 2, 0, 0)),
        ];
        let p = plan(&b, &tiers(0, 7, 0, 0, 0), utc(2026, 3, 11, 3, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![2]);
        assert_eq!(p.prune_ids(), vec![1]);
    }

    #[test]
    fn window_includes_the_bucket_of_now_and_n_minus_one_before() {
        // daily 2 at now = 2026-03-11 00:30: buckets 03-11 and 03-10.
        let b = [
            ok(1, utc(2026, 3, 9, 23, 59, 59)),
            ok(2, utc(2026, 3, 10, 0, 0, 0)),
            ok(3, utc(2026, 3, 10, 23, 0, 0)),
            ok(4, utc(2026, 3, 11, 0, 10, 0)),
        ];
        let p = plan(&b, &tiers(0, 2, 0, 0, 0), utc(2026, 3, 11, 0, 30, 0), UTC);
        assert_eq!(p.kept_ids(), vec![4, 3]);
    }

    #[test]
    fn exact_bucket_boundaries_belong_to_the_new_bucket() {
        // 10:00:00.000 starts the 10:00 hour; 09:59:59.999 is in 09:00.
        let b = [
            ok(1, utc(2026, 5, 5, 9, 0, 0)),
            ok(2, utc(2026, 5, 5, 9, 59, 59) + Duration::milliseconds(999)),
            ok(3, utc(2026, 5, 5, 10, 0, 0)),
        ];
        let now = utc(2026, 5, 5, 10, 0, 0);
        let p = plan(&b, &tiers(2, 0, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![3, 2]);
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: hourly 2026-05-05 09:00 UTC held by newer #2"
        );
        // With hourly 1 only the bucket of `now` (10:00) counts.
        let p = plan(&b, &tiers(1, 0, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![3]);
        // Midnight: 00:00:00 is the new day.
        let b = [
            ok(1, utc(2026, 5, 4, 23, 59, 59)),
            ok(2, utc(2026, 5, 5, 0, 0, 0)),
        ];
        let p = plan(&b, &tiers(0, 1, 0, 0, 0), utc(2026, 5, 5, 0, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![2]);
        assert_eq!(p.decision(2).unwrap().tiers, vec![Tier::Daily]);
    }

    #[test]
    fn one_backup_can_hold_several_tiers() {
        let b = [ok(1, utc(2026, 11, 24, 3, 0, 0))];
        let p = plan(
            &b,
            &tiers(24, 7, 4, 12, 3),
            utc(2026, 11, 24, 4, 0, 0),
            Berlin,
        );
        let d = p.decision(1).unwrap();
        assert_eq!(d.tiers, Tier::ALL.to_vec());
        assert_eq!(
            d.reason,
            "keeps hourly 2026-11-24 04:00 CET, daily 2026-11-24, weekly 2026-W48, \
             monthly 2026-11, yearly 2026; newest successful backup: always kept"
        );
    }

    #[test]
    fn reason_lists_superseded_and_outside_tiers() {
        // weekly 2026-W48 runs Mon 23 Nov to Sun 29 Nov.
        let b = [
            ok(1, utc(2026, 11, 23, 3, 0, 0)),
            ok(2, utc(2026, 11, 24, 3, 0, 0)),
        ];
        let p = plan(&b, &tiers(0, 1, 4, 0, 0), utc(2026, 11, 24, 4, 0, 0), UTC);
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: weekly 2026-W48 held by newer #2; older than 1 daily windows"
        );
        assert_eq!(
            p.decision(2).unwrap().reason,
            "keeps daily 2026-11-24, weekly 2026-W48; newest successful backup: always kept"
        );
    }

    // ---- Failed backups, ties, ordering -------------------------------------

    #[test]
    fn failed_backups_do_not_hold_or_disturb_tiers() {
        let b = [
            ok(1, utc(2026, 3, 9, 2, 0, 0)),
            failed(2, utc(2026, 3, 9, 20, 0, 0)), // newer, same day, failed
            ok(3, utc(2026, 3, 10, 2, 0, 0)),
            failed(4, utc(2026, 3, 10, 5, 0, 0)), // newest overall, failed
        ];
        let p = plan(&b, &tiers(0, 7, 0, 0, 0), utc(2026, 3, 10, 6, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![3, 1]);
        assert!(p.prune_ids().is_empty());
        assert_eq!(p.failed, vec![4, 2]);
        assert!(p.decision(2).is_none());
        assert!(p.decision(3).unwrap().reason.contains("newest successful"));
        // Same plan as without the failed ones.
        let only_ok: Vec<Candidate> = b.iter().filter(|c| c.succeeded).cloned().collect();
        let q = plan(
            &only_ok,
            &tiers(0, 7, 0, 0, 0),
            utc(2026, 3, 10, 6, 0, 0),
            UTC,
        );
        assert_eq!(p.decisions, q.decisions);
    }

    #[test]
    fn equal_timestamps_break_ties_by_higher_id() {
        let at = utc(2026, 3, 10, 2, 0, 0);
        let b = [ok(5, at), ok(9, at), ok(7, at)];
        let p = plan(&b, &tiers(0, 7, 0, 0, 0), utc(2026, 3, 10, 6, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![9]);
        assert_eq!(p.prune_ids(), vec![7, 5]);
        assert_eq!(
            p.decision(5).unwrap().reason,
            "no tier: daily 2026-03-10 held by newer #9"
        );
    }

    #[test]
    fn unsorted_input_gives_the_same_plan_newest_first() {
        let mut b = random_backups(42, 200, utc(2026, 6, 1, 0, 0, 0), 24 * 90);
        let now = utc(2026, 6, 1, 0, 0, 0);
        let t = tiers(24, 7, 4, 3, 1);
        let p1 = plan(&b, &t, now, Berlin);
        b.reverse();
        let p2 = plan(&b, &t, now, Berlin);
        b.sort_by_key(|c| c.id % 13);
        let p3 = plan(&b, &t, now, Berlin);
        assert_eq!(p1, p2);
        assert_eq!(p1, p3);
        let times: HashMap<i64, (DateTime<Utc>, i64)> =
            b.iter().map(|c| (c.id, (c.at, c.id))).collect();
        for pair in p1.decisions.windows(2) {
            assert!(times[&pair[0].id] > times[&pair[1].id]);
        }
    }

    // ---- Clock skew ----------------------------------------------------------

    #[test]
    fn future_backups_are_kept_and_explained() {
        let now = utc(2026, 3, 10, 12, 0, 0);
        let b = [
            ok(1, utc(2026, 3, 1, 2, 0, 0)),
            ok(2, utc(2026, 3, 10, 2, 0, 0)),
            ok(3, utc(2026, 3, 12, 2, 0, 0)), // two days ahead
            ok(4, utc(2026, 3, 13, 2, 0, 0)), // three days ahead, newest
        ];
        let p = plan(&b, &tiers(0, 1, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![4, 3, 2]);
        assert_eq!(p.prune_ids(), vec![1]);
        assert_eq!(
            p.decision(4).unwrap().reason,
            "newest successful backup: always kept; dated after now (clock skew?): kept until it can be judged"
        );
        assert_eq!(
            p.decision(3).unwrap().reason,
            "dated after now (clock skew?): kept until it can be judged"
        );
        assert!(p.decision(3).unwrap().tiers.is_empty());
        assert_eq!(p.decision(2).unwrap().tiers, vec![Tier::Daily]);
    }

    #[test]
    fn future_backup_in_the_bucket_of_now_holds_it() {
        let now = utc(2026, 3, 10, 12, 0, 0);
        let b = [
            ok(1, utc(2026, 3, 10, 2, 0, 0)),
            ok(2, utc(2026, 3, 10, 13, 0, 0)),
        ];
        let p = plan(&b, &tiers(0, 1, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![2]);
        assert_eq!(p.decision(2).unwrap().tiers, vec![Tier::Daily]);
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: daily 2026-03-10 held by newer #2"
        );
    }

    // ---- Calendar edge cases ------------------------------------------------

    #[test]
    fn iso_week_one_can_start_in_the_previous_year() {
        // 2024-12-30 (Mon) and 2024-12-31 are in 2025-W01, with 2025-01-05.
        // 2024-12-29 (Sun) is 2024-W52.
        let b = [
            ok(1, utc(2024, 12, 29, 12, 0, 0)),
            ok(2, utc(2024, 12, 31, 12, 0, 0)),
            ok(3, utc(2025, 1, 5, 12, 0, 0)),
        ];
        let now = utc(2025, 1, 5, 13, 0, 0);
        let p = plan(&b, &tiers(0, 0, 2, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![3, 1]);
        assert!(p.decision(3).unwrap().reason.contains("weekly 2025-W01"));
        assert!(p.decision(1).unwrap().reason.contains("weekly 2024-W52"));
        assert_eq!(
            p.decision(2).unwrap().reason,
            "no tier: weekly 2025-W01 held by newer #3"
        );
        // Yearly sees calendar years: 2024-12-31 holds 2024.
        let p = plan(&b, &tiers(0, 0, 0, 0, 2), now, UTC);
        assert_eq!(p.kept_ids(), vec![3, 2]);
        assert!(p.decision(2).unwrap().reason.contains("yearly 2024"));
    }

    #[test]
    fn week_53_and_the_new_year() {
        // 2026 has 53 ISO weeks: Thu 2026-12-31 and Sat 2027-01-02 are
        // 2026-W53; Mon 2027-01-04 starts 2027-W01.
        let b = [
            ok(1, utc(2026, 12, 31, 12, 0, 0)),
            ok(2, utc(2027, 1, 2, 12, 0, 0)),
            ok(3, utc(2027, 1, 4, 12, 0, 0)),
        ];
        let p = plan(&b, &tiers(0, 0, 2, 0, 0), utc(2027, 1, 4, 13, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![3, 2]);
        assert!(p.decision(2).unwrap().reason.contains("weekly 2026-W53"));
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: weekly 2026-W53 held by newer #2"
        );
        // Monthly splits them the other way.
        let p = plan(&b, &tiers(0, 0, 0, 2, 0), utc(2027, 1, 4, 13, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![3, 1]);
    }

    #[test]
    fn weekly_window_counts_calendar_weeks_back() {
        // One backup every day for 8 weeks; weekly 3 keeps this week's newest
        // and the Sundays of the two weeks before.
        let start = utc(2026, 3, 2, 3, 0, 0); // Monday
        let b = series(start, Duration::days(1), 56);
        let now = utc(2026, 4, 22, 12, 0, 0); // Wednesday of week 8 (id 52)
        let b: Vec<Candidate> = b.into_iter().filter(|c| c.at <= now).collect();
        let p = plan(&b, &tiers(0, 0, 3, 0, 0), now, UTC);
        let kept: Vec<String> = p
            .kept_ids()
            .iter()
            .map(|id| b[*id as usize - 1].at.format("%a %Y-%m-%d").to_string())
            .collect();
        assert_eq!(kept, ["Wed 2026-04-22", "Sun 2026-04-19", "Sun 2026-04-12"]);
    }

    #[test]
    fn leap_day_and_month_ends() {
        let b = [
            ok(1, utc(2028, 1, 31, 23, 59, 59)),
            ok(2, utc(2028, 2, 1, 0, 0, 0)),
            ok(3, utc(2028, 2, 28, 12, 0, 0)),
            ok(4, utc(2028, 2, 29, 12, 0, 0)),
            ok(5, utc(2028, 3, 1, 0, 0, 0)),
        ];
        let now = utc(2028, 3, 1, 1, 0, 0);
        // Monthly 3: Jan 31 (last of Jan), Feb 29 (last of Feb), Mar 1.
        let p = plan(&b, &tiers(0, 0, 0, 3, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![5, 4, 1]);
        assert!(p.decision(4).unwrap().reason.contains("monthly 2028-02"));
        // Daily 2 at 2028-03-01: Mar 1 and Feb 29.
        let p = plan(&b, &tiers(0, 2, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![5, 4]);
        assert!(p.decision(4).unwrap().reason.contains("daily 2028-02-29"));
        // Daily 2 a year later (no Feb 29 in 2029): Mar 1 and Feb 28.
        let b = [
            ok(1, utc(2029, 2, 28, 12, 0, 0)),
            ok(2, utc(2029, 3, 1, 0, 0, 0)),
        ];
        let p = plan(&b, &tiers(0, 2, 0, 0, 0), utc(2029, 3, 1, 1, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![2, 1]);
    }

    #[test]
    fn leap_year_has_366_daily_buckets() {
        let b = series(utc(2028, 1, 1, 12, 0, 0), Duration::days(1), 366);
        let now = utc(2028, 12, 31, 13, 0, 0);
        let p = plan(&b, &tiers(0, 366, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids().len(), 366);
        let p = plan(&b, &tiers(0, 365, 0, 0, 0), now, UTC);
        assert_eq!(p.prune_ids(), vec![1]);
    }

    // ---- Time zones -----------------------------------------------------------

    #[test]
    fn buckets_follow_the_policy_time_zone() {
        // 22:30 and 23:30 UTC on 1 June are the same UTC day, but in Berlin
        // (CEST, +2) they are 00:30 and 01:30 on 2 June, and 22:00 UTC is
        // already 2 June while 21:30 UTC is 23:30 on 1 June.
        let b = [
            ok(1, utc(2026, 6, 1, 21, 30, 0)),
            ok(2, utc(2026, 6, 1, 22, 30, 0)),
            ok(3, utc(2026, 6, 1, 23, 30, 0)),
        ];
        let now = utc(2026, 6, 2, 6, 0, 0);
        let p = plan(&b, &tiers(0, 7, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![3]);
        let p = plan(&b, &tiers(0, 7, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![3, 1]);
        assert!(p.decision(1).unwrap().reason.contains("daily 2026-06-01"));
        assert!(p.decision(3).unwrap().reason.contains("daily 2026-06-02"));
    }

    #[test]
    fn kiritimati_plus_14_days_start_ten_hours_before_utc() {
        // Kiritimati is UTC+14: local midnight is 10:00 UTC the day before.
        let b = [
            ok(1, utc(2026, 6, 1, 9, 30, 0)),  // 2026-06-01 23:30 local
            ok(2, utc(2026, 6, 1, 10, 30, 0)), // 2026-06-02 00:30 local
            ok(3, utc(2026, 6, 1, 11, 30, 0)), // 2026-06-02 01:30 local
        ];
        let p = plan(
            &b,
            &tiers(0, 2, 0, 0, 0),
            utc(2026, 6, 1, 12, 0, 0),
            Kiritimati,
        );
        assert_eq!(p.kept_ids(), vec![3, 1]);
        assert!(p.decision(3).unwrap().reason.contains("daily 2026-06-02"));
        assert!(p.decision(1).unwrap().reason.contains("daily 2026-06-01"));
        // Year end: 2026-12-31 10:00 UTC is already 2027 there.
        let b = [
            ok(1, utc(2026, 12, 31, 9, 0, 0)),
            ok(2, utc(2026, 12, 31, 10, 0, 0)),
        ];
        let p = plan(
            &b,
            &tiers(0, 0, 0, 0, 2),
            utc(2026, 12, 31, 11, 0, 0),
            Kiritimati,
        );
        assert_eq!(p.kept_ids(), vec![2, 1]);
        assert!(p.decision(2).unwrap().reason.contains("yearly 2027"));
        assert!(p.decision(1).unwrap().reason.contains("yearly 2026"));
    }

    #[test]
    fn pago_pago_minus_11_days_end_eleven_hours_after_utc() {
        let b = [
            ok(1, utc(2026, 6, 2, 10, 30, 0)), // 2026-06-01 23:30 local
            ok(2, utc(2026, 6, 2, 11, 30, 0)), // 2026-06-02 00:30 local
        ];
        let p = plan(
            &b,
            &tiers(0, 1, 0, 0, 0),
            utc(2026, 6, 2, 12, 0, 0),
            Pago_Pago,
        );
        assert_eq!(p.kept_ids(), vec![2]);
        let p = plan(
            &b,
            &tiers(0, 2, 0, 0, 0),
            utc(2026, 6, 2, 12, 0, 0),
            Pago_Pago,
        );
        assert_eq!(p.kept_ids(), vec![2, 1]);
        // Month end: 2026-07-01 10:59 UTC is still June there.
        let b = [
            ok(1, utc(2026, 7, 1, 10, 59, 0)),
            ok(2, utc(2026, 7, 1, 11, 0, 0)),
        ];
        let p = plan(
            &b,
            &tiers(0, 0, 0, 2, 0),
            utc(2026, 7, 1, 12, 0, 0),
            Pago_Pago,
        );
        assert_eq!(p.kept_ids(), vec![2, 1]);
        assert!(p.decision(1).unwrap().reason.contains("monthly 2026-06"));
    }

    // ---- DST -----------------------------------------------------------------

    #[test]
    fn berlin_autumn_fold_two_0230_backups_are_distinct_hours() {
        // 2026-10-25: 03:00 CEST -> 02:00 CET. 02:30 CEST = 00:30 UTC and
        // 02:30 CET = 01:30 UTC.
        let b = [
            ok(1, utc(2026, 10, 25, 0, 30, 0)),
            ok(2, utc(2026, 10, 25, 1, 30, 0)),
        ];
        let now = utc(2026, 10, 25, 1, 45, 0);
        let p = plan(&b, &tiers(2, 0, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![2, 1]);
        assert!(p
            .decision(1)
            .unwrap()
            .reason
            .contains("hourly 2026-10-25 02:00 CEST"));
        assert!(p
            .decision(2)
            .unwrap()
            .reason
            .contains("hourly 2026-10-25 02:00 CET"));
        // Hourly 1 is only the real hour containing now (02:00 CET).
        let p = plan(&b, &tiers(1, 0, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![2]);
        // One local day: daily keeps only the later one.
        let p = plan(&b, &tiers(0, 1, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![2]);
    }

    #[test]
    fn autumn_day_has_25_hour_buckets_spring_day_23() {
        for (tz, fall, spring) in [
            (
                Berlin,
                NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
                NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(),
            ),
            (
                New_York,
                NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                NaiveDate::from_ymd_opt(2026, 3, 8).unwrap(),
            ),
        ] {
            for (day, expected) in [(fall, 25), (spring, 23)] {
                let start = tz
                    .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
                    .single()
                    .unwrap()
                    .with_timezone(&Utc);
                // Every 10 minutes for 30 hours starting at local midnight.
                let b = series(start, Duration::minutes(10), 6 * 30);
                let b: Vec<Candidate> = b
                    .into_iter()
                    .filter(|c| c.at.with_timezone(&tz).date_naive() == day)
                    .collect();
                let now = b.last().unwrap().at;
                let p = plan(&b, &tiers(100, 0, 0, 0, 0), now, tz);
                assert_eq!(p.kept_ids().len(), expected, "{tz} {day}");
                let p = plan(&b, &tiers(0, 1, 0, 0, 0), now, tz);
                assert_eq!(p.kept_ids().len(), 1, "{tz} {day}");
            }
        }
    }

    #[test]
    fn hourly_window_counts_real_hours_across_spring_gap() {
        // Berlin 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00 UTC.
        // now = 03:30 CEST (01:30 UTC). Hourly 3 = 03:00 CEST, 01:00 CET,
        // 00:00 CET (no phantom 02:00 bucket).
        let b = [
            ok(1, utc(2026, 3, 28, 22, 30, 0)), // 23:30 CET
            ok(2, utc(2026, 3, 28, 23, 30, 0)), // 00:30 CET
            ok(3, utc(2026, 3, 29, 0, 30, 0)),  // 01:30 CET
            ok(4, utc(2026, 3, 29, 1, 10, 0)),  // 03:10 CEST
        ];
        let p = plan(
            &b,
            &tiers(3, 0, 0, 0, 0),
            utc(2026, 3, 29, 1, 30, 0),
            Berlin,
        );
        assert_eq!(p.kept_ids(), vec![4, 3, 2]);
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: older than 3 hourly windows"
        );
    }

    #[test]
    fn new_york_fold_and_gap() {
        // 2026-11-01: 02:00 EDT -> 01:00 EST; 01:30 EDT = 05:30 UTC,
        // 01:30 EST = 06:30 UTC.
        let b = [
            ok(1, utc(2026, 11, 1, 5, 30, 0)),
            ok(2, utc(2026, 11, 1, 6, 30, 0)),
        ];
        let p = plan(
            &b,
            &tiers(24, 1, 0, 0, 0),
            utc(2026, 11, 1, 7, 0, 0),
            New_York,
        );
        assert_eq!(p.kept_ids(), vec![2, 1]);
        assert!(p
            .decision(1)
            .unwrap()
            .reason
            .contains("hourly 2026-11-01 01:00 EDT"));
        assert!(p
            .decision(2)
            .unwrap()
            .reason
            .contains("hourly 2026-11-01 01:00 EST, daily 2026-11-01"));
        // 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00 UTC. Hourly 2 at
        // 03:30 EDT covers 03:00 EDT and 01:00 EST.
        let b = [
            ok(1, utc(2026, 3, 8, 5, 30, 0)), // 00:30 EST
            ok(2, utc(2026, 3, 8, 6, 30, 0)), // 01:30 EST
            ok(3, utc(2026, 3, 8, 7, 10, 0)), // 03:10 EDT
        ];
        let p = plan(
            &b,
            &tiers(2, 0, 0, 0, 0),
            utc(2026, 3, 8, 7, 30, 0),
            New_York,
        );
        assert_eq!(p.kept_ids(), vec![3, 2]);
    }

    // ---- Policy changes and idempotence ---------------------------------------

    #[test]
    fn shrinking_prunes_more_growing_keeps_more() {
        let now = utc(2026, 9, 1, 0, 0, 0);
        let b = random_backups(7, 600, now, 24 * 500);
        let ladder = [
            tiers(0, 0, 0, 0, 0),
            tiers(0, 3, 0, 0, 0),
            tiers(6, 3, 2, 0, 0),
            tiers(24, 7, 4, 6, 0),
            tiers(24, 7, 4, 12, 1),
            tiers(48, 14, 8, 12, 2),
            tiers(8760, 3660, 520, 1200, 100),
        ];
        for tz in [UTC, Berlin, New_York, Kiritimati] {
            let mut previous: Option<HashSet<i64>> = None;
            for t in ladder {
                let kept: HashSet<i64> = plan(&b, &t, now, tz).kept_ids().into_iter().collect();
                if let Some(prev) = &previous {
                    assert!(prev.is_subset(&kept), "{tz} {t:?}");
                }
                previous = Some(kept);
            }
            // The largest policy keeps every successful backup of the last
            // year that is alone in its hour (the hourly window is 8760 h).
            let kept = previous.unwrap();
            let year_ago = now - Duration::hours(8759);
            let mut per_hour: HashMap<i64, usize> = HashMap::new();
            for c in b.iter().filter(|c| c.succeeded && c.at >= year_ago) {
                *per_hour
                    .entry(c.at.timestamp().div_euclid(3600))
                    .or_default() += 1;
            }
            for c in b.iter().filter(|c| c.succeeded && c.at >= year_ago) {
                if per_hour[&c.at.timestamp().div_euclid(3600)] == 1 {
                    assert!(kept.contains(&c.id), "{tz} {}", c.id);
                }
            }
        }
    }

    #[test]
    fn replanning_the_kept_set_prunes_nothing() {
        let now = utc(2026, 10, 25, 2, 0, 0);
        for seed in 1..6 {
            let b = random_backups(seed, 400, now + Duration::hours(3), 24 * 400);
            for tz in [UTC, Berlin, New_York, Kiritimati, Pago_Pago] {
                for t in [
                    tiers(0, 0, 0, 0, 0),
                    tiers(24, 7, 4, 12, 0),
                    tiers(3, 0, 2, 0, 5),
                ] {
                    let p = plan(&b, &t, now, tz);
                    let kept: Vec<Candidate> = b
                        .iter()
                        .filter(|c| p.kept_ids().contains(&c.id))
                        .cloned()
                        .collect();
                    let again = plan(&kept, &t, now, tz);
                    assert!(again.prune_ids().is_empty(), "{seed} {tz} {t:?}");
                    assert_eq!(again.kept_ids(), p.kept_ids());
                    // Every kept backup's tiers are unchanged.
                    for d in &again.decisions {
                        assert_eq!(d.tiers, p.decision(d.id).unwrap().tiers);
                    }
                }
            }
        }
    }

    #[test]
    fn plans_match_a_naive_reference_model() {
        // Reference: walk the calendar back from now with chrono's date
        // arithmetic, label buckets by strings, take the newest per label.
        fn reference(b: &[Candidate], t: &Tiers, now: DateTime<Utc>, tz: Tz) -> Vec<i64> {
            let mut good: Vec<&Candidate> = b.iter().filter(|c| c.succeeded).collect();
            good.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
            let mut keep: HashSet<i64> = HashSet::new();
            if let Some(first) = good.first() {
                keep.insert(first.id);
            }
            let today = now.with_timezone(&tz).date_naive();
            let label = |tier: Tier, at: DateTime<Utc>| -> String {
                let d = at.with_timezone(&tz).date_naive();
                match tier {
                    Tier::Daily => d.to_string(),
                    Tier::Weekly => format!("{:?}", d.iso_week()),
                    Tier::Monthly => format!("{}-{}", d.year(), d.month()),
                    Tier::Yearly => d.year().to_string(),
                    Tier::Hourly => unreachable!(),
                }
            };
            for tier in [Tier::Daily, Tier::Weekly, Tier::Monthly, Tier::Yearly] {
                let n = t.count(tier);
                let mut window: HashSet<String> = HashSet::new();
                let mut d = today;
                let mut seen = 0;
                // Step one day at a time and count distinct labels.
                let mut last = String::new();
                while seen <= n {
                    let at = tz
                        .from_local_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
                        .earliest()
                        .unwrap()
                        .with_timezone(&Utc);
                    let l = label(tier, at);
                    if l != last {
                        seen += 1;
                        if seen <= n {
                            window.insert(l.clone());
                        }
                        last = l;
                    }
                    d = d.pred_opt().unwrap();
                    if d.year() < 2000 {
                        break;
                    }
                }
                let mut taken: HashSet<String> = HashSet::new();
                for c in &good {
                    if c.at > now {
                        keep.insert(c.id);
                    }
                    let l = label(tier, c.at);
                    if window.contains(&l) && taken.insert(l) {
                        keep.insert(c.id);
                    }
                }
            }
            let mut v: Vec<i64> = keep.into_iter().collect();
            v.sort_unstable();
            v
        }
        let now = utc(2027, 1, 2, 12, 0, 0);
        for seed in 10..16 {
            let b = random_backups(seed, 300, now + Duration::hours(30), 24 * 800);
            for tz in [UTC, Berlin, New_York, Kiritimati, Pago_Pago] {
                for t in [
                    tiers(0, 7, 4, 12, 0),
                    tiers(0, 30, 0, 0, 3),
                    tiers(0, 0, 9, 0, 0),
                    tiers(0, 1, 1, 1, 1),
                ] {
                    let got = sorted(plan(&b, &t, now, tz).kept_ids());
                    assert_eq!(got, reference(&b, &t, now, tz), "{seed} {tz} {t:?}");
                }
            }
        }
    }

    #[test]
    fn hourly_matches_a_real_hours_reference_for_whole_hour_offsets() {
        // For zones whose offsets are whole hours, hour buckets are exactly
        // the UTC hours: the last N hourly buckets are N real hours.
        let now = utc(2026, 10, 25, 12, 20, 0);
        for seed in 20..24 {
            let b = random_backups(seed, 300, now, 24 * 10);
            for tz in [UTC, Berlin, New_York, Kiritimati, Pago_Pago] {
                for n in [1u32, 5, 24, 100] {
                    let t = tiers(n, 0, 0, 0, 0);
                    let got = sorted(plan(&b, &t, now, tz).kept_ids());
                    let now_hour = now.timestamp().div_euclid(3600);
                    let mut good: Vec<&Candidate> = b.iter().filter(|c| c.succeeded).collect();
                    good.sort_by(|x, y| newest_first(x, y));
                    let mut taken = HashSet::new();
                    let mut want: Vec<i64> = vec![good[0].id];
                    for c in &good {
                        let h = c.at.timestamp().div_euclid(3600);
                        if now_hour - h < i64::from(n) && taken.insert(h) {
                            want.push(c.id);
                        }
                    }
                    let want = sorted(
                        want.into_iter()
                            .collect::<HashSet<_>>()
                            .into_iter()
                            .collect(),
                    );
                    assert_eq!(got, want, "{seed} {tz} {n}");
                }
            }
        }
    }

    #[test]
    fn huge_unvalidated_counts_do_not_hang() {
        let now = utc(2026, 1, 1, 0, 0, 0);
        let b = series(utc(2025, 1, 1, 0, 0, 0), Duration::hours(7), 1250);
        let p = plan(
            &b,
            &tiers(u32::MAX, u32::MAX, u32::MAX, u32::MAX, u32::MAX),
            now,
            Berlin,
        );
        assert!(p.prune_ids().is_empty());
    }

    // ---- The headline policy -----------------------------------------

    #[test]
    fn headline_policy_hourly_backups_for_400_days() {
        // Hourly backups at hh:00 UTC for 400 days, ending Wed 2026-11-25
        // 12:00 UTC; now = 12:30. Policy: 24 hourly / 7 daily / 4 weekly /
        // 12 monthly, time zone UTC.
        let end = utc(2026, 11, 25, 12, 0, 0);
        assert_eq!(end.format("%a").to_string(), "Wed");
        let n = 400 * 24;
        let start = end - Duration::hours(n - 1);
        let b = series(start, Duration::hours(1), n);
        assert_eq!(b.len(), 9600);
        let now = end + Duration::minutes(30);
        let t = tiers(24, 7, 4, 12, 0);
        let p = plan(&b, &t, now, UTC);

        let at = |id: i64| b[id as usize - 1].at;
        let kept: HashSet<DateTime<Utc>> = p.kept_ids().into_iter().map(at).collect();

        let mut want: HashSet<DateTime<Utc>> = HashSet::new();
        // 24 hourly: 2026-11-24 13:00 .. 2026-11-25 12:00.
        for h in 0..24 {
            want.insert(end - Duration::hours(h));
        }
        // 7 daily: today (12:00, already hourly) and 23:00 of 11-24 (hourly)
        // and 11-19 .. 11-23 (5 new).
        for d in 19..=24 {
            want.insert(utc(2026, 11, d, 23, 0, 0));
        }
        // 4 weekly: W48 (today), W47 ends Sun 11-22 (daily), W46 Sun 11-15
        // and W45 Sun 11-08 (2 new).
        want.insert(utc(2026, 11, 15, 23, 0, 0));
        want.insert(utc(2026, 11, 8, 23, 0, 0));
        // 12 monthly: Nov 2026 (today) and the last hour of Dec 2025 .. Oct
        // 2026 (11 new).
        for (y, m) in [
            (2025, 12),
            (2026, 1),
            (2026, 2),
            (2026, 3),
            (2026, 4),
            (2026, 5),
            (2026, 6),
            (2026, 7),
            (2026, 8),
            (2026, 9),
            (2026, 10),
        ] {
            let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            want.insert(utc(next.0, next.1, 1, 0, 0, 0) - Duration::hours(1));
        }
        assert_eq!(want.len(), 24 + 5 + 2 + 11);
        assert_eq!(p.kept_ids().len(), 42);
        assert_eq!(kept, want);
        assert_eq!(p.prune_ids().len(), 9600 - 42);

        // Shape by tier.
        let count = |tier: Tier| p.kept().filter(|d| d.tiers.contains(&tier)).count();
        assert_eq!(count(Tier::Hourly), 24);
        assert_eq!(count(Tier::Daily), 7);
        assert_eq!(count(Tier::Weekly), 4);
        assert_eq!(count(Tier::Monthly), 12);
        assert_eq!(count(Tier::Yearly), 0);
        let newest = &p.decisions[0];
        assert_eq!(at(newest.id), end);
        assert_eq!(
            newest.reason,
            "keeps hourly 2026-11-25 12:00 UTC, daily 2026-11-25, weekly 2026-W48, \
             monthly 2026-11; newest successful backup: always kept"
        );
        // Oldest backup: outside every window.
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: older than 24 hourly / 7 daily / 4 weekly / 12 monthly windows"
        );

        // Idempotent.
        let kept_b: Vec<Candidate> = b.iter().filter(|c| kept.contains(&c.at)).cloned().collect();
        assert!(plan(&kept_b, &t, now, UTC).prune_ids().is_empty());

        // A day later (24 more hourly backups), the plan over the survivors
        // still keeps 42: the newest of the old daily set rolls off etc.
        let mut next = kept_b.clone();
        for h in 1..=24 {
            next.push(ok(10_000 + h, end + Duration::hours(h)));
        }
        let p2 = plan(&next, &t, now + Duration::days(1), UTC);
        assert_eq!(p2.kept_ids().len(), 42);
    }
}
