//! Retention tiers and the prune plan.
//!
//! A policy keeps the newest successful backup of each of the last N hours,
//! days, ISO weeks, months and years *that hold a backup* (N per tier, 0
//! turns a tier off), plus the newest few successful backups whatever the
//! tiers say. A backup may hold several tiers; one that holds none and is not
//! among the newest few is pruned. [`plan`] is a pure function of (backups,
//! tiers, rules, now, time zone): it decides, the caller deletes (plan, then
//! act, like pg_back's purge jobs or pgBackRest's expire).
//!
//! # Semantics
//!
//! * **Buckets** are computed in the policy's time zone: the local hour, local
//!   date, ISO week (Monday start, ISO week-year, so 2024-12-30 is in
//!   2025-W01), local month and local year of the backup.
//! * **A tier counts buckets that hold a backup, not calendar time.** For a
//!   tier of N, walk the successful backups newest first; each bucket not
//!   seen before is counted, until N buckets have been counted. Each counted
//!   bucket is held by its newest backup; equal timestamps are broken by the
//!   higher id (the newer row). This is `restic forget --keep-daily N` and
//!   `borg prune --keep-daily N`. A bucket without a backup (an outage, a
//!   skipped schedule, a sparse history) is not counted, so downtime of any
//!   length never ages backups out: after it, one new success holds one
//!   bucket of each tier and the older holders move down by one. `now` plays
//!   no part in which backup holds what.
//! * **Hour buckets are real hours.** An hour bucket is a local clock hour
//!   *together with its UTC offset*. In the autumn fold the repeated hour is
//!   two buckets (02:00 CEST and 02:00 CET are one real hour apart and both
//!   count as buckets), and the hour skipped in spring is no bucket at all.
//!   So a day has 23, 24 or 25 hour buckets. Day, week, month and year
//!   buckets follow the local calendar and so are 23/25 hours long on DST
//!   days.
//! * **The newest [`Rules::min_keep`] successful backups are always kept**
//!   (newest first by time, then id), whatever the tiers; the default is 3
//!   ([`DEFAULT_MIN_KEEP`], the engine setting `min_backups_kept`).
//! * **The newest successful backup is always kept**, even when every tier
//!   and `min_keep` are 0.
//! * **Failed backups** never hold a tier, never change which backup holds
//!   one, never count towards `min_keep`, and are never in the prune list
//!   (they have no artifact): they are listed in [`Plan::failed`].
//! * **A clock behind the newest backup holds pruning.** When `now` is
//!   earlier than the newest successful backup (a clock set back, or a
//!   backup dated in the future by another host's clock), the plan prunes
//!   nothing and says why in [`Plan::held`]; every decision is kept, with the
//!   tiers it would hold. So backups dated after `now` are always kept. A
//!   clock set *forward* changes nothing, since tiers do not depend on `now`.
//! * **All tiers 0** means "keep only the newest `min_keep` (at least one)".
//! * The plan is **idempotent**: re-planning the kept set with the same
//!   rules prunes nothing more and gives every kept backup the same tiers.
//!   It is **monotone**: growing a tier or `min_keep` never prunes more;
//!   shrinking one never keeps more.
//!
//! Ids are expected to be unique (the catalog's primary key).

use std::collections::HashMap;

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
    /// Why nothing is pruned at all, when pruning is held (the clock reads
    /// earlier than the newest successful backup). Every decision is then
    /// kept.
    #[serde(default)]
    pub held: Option<String>,
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

/// The default for [`Rules::min_keep`].
pub const DEFAULT_MIN_KEEP: u32 = 3;

/// Rules that hold whatever a policy's tiers say: engine settings, the same
/// for every policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rules {
    /// The newest `min_keep` successful backups are never pruned (the
    /// engine's `min_backups_kept`). 0 and 1 both keep only the newest, which
    /// is always kept.
    pub min_keep: u32,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_keep: DEFAULT_MIN_KEEP,
        }
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

/// One tier being counted: the buckets counted so far, each with the index
/// (into the newest-first list) of the backup that holds it.
struct Counter {
    tier: Tier,
    count: u32,
    holders: HashMap<i64, usize>,
}

impl Counter {
    /// Feeds the next backup (newest first): counts its bucket if it is new
    /// and fewer than `count` buckets have been counted.
    fn see(&mut self, key: i64, index: usize) {
        if !self.holders.contains_key(&key) && (self.holders.len() as u64) < u64::from(self.count) {
            self.holders.insert(key, index);
        }
    }
}

/// Decides which successful backups to keep under `tiers` and `rules` at
/// `now` in `tz`.
///
/// See the module documentation for the rules. The result lists every
/// successful backup newest first; failed ones go to [`Plan::failed`].
pub fn plan(
    backups: &[Candidate],
    tiers: &Tiers,
    rules: &Rules,
    now: DateTime<Utc>,
    tz: Tz,
) -> Plan {
    let mut good: Vec<&Candidate> = backups.iter().filter(|c| c.succeeded).collect();
    good.sort_by(|a, b| newest_first(a, b));
    let mut failed: Vec<&Candidate> = backups.iter().filter(|c| !c.succeeded).collect();
    failed.sort_by(|a, b| newest_first(a, b));
    let failed: Vec<i64> = failed.iter().map(|c| c.id).collect();

    let Some(newest) = good.first() else {
        return Plan {
            decisions: Vec::new(),
            failed,
            held: None,
        };
    };
    let held = (newest.at > now).then(|| {
        format!(
            "nothing is pruned: the clock reads {}, earlier than the newest backup #{} taken {}; \
             the clock was set back or is wrong, and pruning resumes once it passes that time",
            now.format("%Y-%m-%d %H:%M:%S UTC"),
            newest.id,
            newest.at.format("%Y-%m-%d %H:%M:%S UTC"),
        )
    });

    // Bucket keys per backup and tier; walking newest first, each tier
    // counts its first `count` distinct buckets, held by the first (newest)
    // backup seen in each.
    let mut counters: Vec<Counter> = Tier::ALL
        .iter()
        .filter(|t| tiers.count(**t) > 0)
        .map(|t| Counter {
            tier: *t,
            count: tiers.count(*t),
            holders: HashMap::new(),
        })
        .collect();
    let keys: Vec<Vec<i64>> = good
        .iter()
        .map(|c| {
            counters
                .iter()
                .map(|k| bucket_key(k.tier, c.at, tz))
                .collect()
        })
        .collect();
    for (i, row) in keys.iter().enumerate() {
        for (counter, key) in counters.iter_mut().zip(row) {
            counter.see(*key, i);
        }
    }

    let min_keep = rules.min_keep.max(1);
    let decisions = good
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut holds: Vec<(Tier, String)> = Vec::new();
            let mut superseded: Vec<String> = Vec::new();
            let mut older: Vec<String> = Vec::new();
            for (counter, key) in counters.iter().zip(&keys[i]) {
                match counter.holders.get(key) {
                    Some(&h) if h == i => {
                        holds.push((counter.tier, bucket_label(counter.tier, c.at, tz)))
                    }
                    Some(&h) => superseded.push(format!(
                        "{} {} held by newer #{}",
                        counter.tier,
                        bucket_label(counter.tier, c.at, tz),
                        good[h].id
                    )),
                    None => older.push(format!("{} {}", counter.count, counter.tier)),
                }
            }
            let why = Why {
                holds: &holds,
                superseded: &superseded,
                older: &older,
                newest: i == 0,
                minimum: (i > 0 && (i as u64) < u64::from(min_keep)).then_some(min_keep),
                future: c.at > now,
                all_off: tiers.all_off(),
                min_keep,
                held: held.is_some(),
            };
            Decision {
                id: c.id,
                tiers: holds.iter().map(|(t, _)| *t).collect(),
                keep: why.keep(),
                reason: why.reason(),
            }
        })
        .collect();

    Plan {
        decisions,
        failed,
        held,
    }
}

/// Everything the verdict on one backup rests on.
struct Why<'a> {
    /// Tiers it holds, with the bucket's label.
    holds: &'a [(Tier, String)],
    /// Counted buckets it is in but a newer backup holds.
    superseded: &'a [String],
    /// Tiers (as "N tier") whose counted buckets are all newer than it.
    older: &'a [String],
    newest: bool,
    /// `Some(min_keep)` when it is one of the newest `min_keep` (not the newest).
    minimum: Option<u32>,
    future: bool,
    all_off: bool,
    min_keep: u32,
    held: bool,
}

impl Why<'_> {
    fn keep_by_rules(&self) -> bool {
        self.newest || self.minimum.is_some() || !self.holds.is_empty()
    }

    fn keep(&self) -> bool {
        self.keep_by_rules() || self.held
    }

    fn reason(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.holds.is_empty() {
            let list: Vec<String> = self.holds.iter().map(|(t, l)| format!("{t} {l}")).collect();
            parts.push(format!("keeps {}", list.join(", ")));
        }
        if self.newest {
            if self.all_off {
                parts.push("newest successful backup: always kept (every tier is 0)".into());
            } else {
                parts.push("newest successful backup: always kept".into());
            }
        }
        if let Some(k) = self.minimum {
            parts.push(format!(
                "one of the {k} newest successful backups: always kept"
            ));
        }
        if self.future {
            parts.push("dated after now (clock skew?): kept until it can be judged".into());
        }
        if self.keep_by_rules() {
            return parts.join("; ");
        }
        // Pruned by the rules.
        let pruned = if self.all_off {
            if self.min_keep > 1 {
                format!(
                    "no tier: every tier is 0, so only the {} newest backups are kept",
                    self.min_keep
                )
            } else {
                "no tier: every tier is 0, so only the newest backup is kept".into()
            }
        } else {
            let mut why: Vec<String> = self.superseded.to_vec();
            if !self.older.is_empty() {
                why.push(format!(
                    "older than the newest {} buckets",
                    self.older.join(" / ")
                ));
            }
            format!("no tier: {}", why.join("; "))
        };
        if !self.held {
            return pruned;
        }
        parts.push(format!("kept while pruning is held; otherwise {pruned}"));
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate, TimeZone};
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;
    use chrono_tz::Pacific::{Kiritimati, Pago_Pago};
    use chrono_tz::UTC;
    use std::collections::HashSet;

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

    /// No minimum beyond the newest backup: the tiers alone decide.
    const TIERS_ONLY: Rules = Rules { min_keep: 0 };

    /// The plan under the tiers alone (see [`TIERS_ONLY`]).
    fn plan_tiers(b: &[Candidate], t: &Tiers, now: DateTime<Utc>, tz: Tz) -> Plan {
        plan(b, t, &TIERS_ONLY, now, tz)
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
        let p = plan_tiers(&[], &Tiers::default(), utc(2026, 1, 1, 0, 0, 0), UTC);
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
        let p = plan_tiers(&b, &Tiers::default(), utc(2026, 1, 3, 0, 0, 0), UTC);
        assert!(p.decisions.is_empty());
        assert_eq!(p.failed, vec![2, 1]);
        assert!(p.prune_ids().is_empty());
    }

    #[test]
    fn single_backup_all_tiers_off_is_kept_as_newest() {
        let b = [ok(7, utc(2020, 1, 1, 0, 0, 0))];
        let p = plan_tiers(&b, &Tiers::KEEP_ONLY_NEWEST, utc(2026, 1, 1, 0, 0, 0), UTC);
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
        let p = plan_tiers(&b, &Tiers::KEEP_ONLY_NEWEST, utc(2026, 1, 3, 2, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![50]);
        assert_eq!(p.prune_ids().len(), 49);
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: every tier is 0, so only the newest backup is kept"
        );
    }

    #[test]
    fn old_backups_do_not_age_out_while_nothing_newer_exists() {
        // Two backups a year before now, daily 7: a year of silence does not
        // make them "older than 7 days"; they are the 2 newest day buckets.
        let b = [
            ok(1, utc(2025, 1, 1, 0, 0, 0)),
            ok(2, utc(2025, 1, 2, 0, 0, 0)),
        ];
        let p = plan_tiers(&b, &tiers(0, 7, 0, 0, 0), utc(2026, 1, 1, 0, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![2, 1]);
        assert_eq!(p.held, None);
        assert_eq!(
            p.decision(2).unwrap().reason,
            "keeps daily 2025-01-02; newest successful backup: always kept"
        );
        assert_eq!(p.decision(1).unwrap().reason, "keeps daily 2025-01-01");
    }

    // ---- Counting buckets that hold backups -------------------------------

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
        let p = plan_tiers(&b, &tiers(0, 7, 0, 0, 0), now, UTC);
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
    fn empty_buckets_are_not_counted() {
        // Daily 7 but backups only today and 10 days ago: the 9 days between
        // hold nothing and are not counted, so the old one is the 2nd of 7.
        let b = [
            ok(1, utc(2026, 3, 1, 2, 0, 0)),
            ok(2, utc(2026, 3, 11, 2, 0, 0)),
        ];
        let p = plan_tiers(&b, &tiers(0, 7, 0, 0, 0), utc(2026, 3, 11, 3, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![2, 1]);
        assert!(p.prune_ids().is_empty());
        // Daily 1 counts only the newest bucket.
        let p = plan_tiers(&b, &tiers(0, 1, 0, 0, 0), utc(2026, 3, 11, 3, 0, 0), UTC);
        assert_eq!(p.prune_ids(), vec![1]);
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: older than the newest 1 daily buckets"
        );
    }

    #[test]
    fn counts_the_newest_n_buckets_that_hold_a_backup() {
        // daily 2, newest first: buckets 03-11 and 03-10 are counted, 03-09
        // is the third.
        let b = [
            ok(1, utc(2026, 3, 9, 23, 59, 59)),
            ok(2, utc(2026, 3, 10, 0, 0, 0)),
            ok(3, utc(2026, 3, 10, 23, 0, 0)),
            ok(4, utc(2026, 3, 11, 0, 10, 0)),
        ];
        let p = plan_tiers(&b, &tiers(0, 2, 0, 0, 0), utc(2026, 3, 11, 0, 30, 0), UTC);
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
        let p = plan_tiers(&b, &tiers(2, 0, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![3, 2]);
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: hourly 2026-05-05 09:00 UTC held by newer #2"
        );
        // With hourly 1 only the bucket of `now` (10:00) counts.
        let p = plan_tiers(&b, &tiers(1, 0, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![3]);
        // Midnight: 00:00:00 is the new day.
        let b = [
            ok(1, utc(2026, 5, 4, 23, 59, 59)),
            ok(2, utc(2026, 5, 5, 0, 0, 0)),
        ];
        let p = plan_tiers(&b, &tiers(0, 1, 0, 0, 0), utc(2026, 5, 5, 0, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![2]);
        assert_eq!(p.decision(2).unwrap().tiers, vec![Tier::Daily]);
    }

    #[test]
    fn one_backup_can_hold_several_tiers() {
        let b = [ok(1, utc(2026, 11, 24, 3, 0, 0))];
        let p = plan_tiers(
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
        let p = plan_tiers(&b, &tiers(0, 1, 4, 0, 0), utc(2026, 11, 24, 4, 0, 0), UTC);
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: weekly 2026-W48 held by newer #2; older than the newest 1 daily buckets"
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
        let p = plan_tiers(&b, &tiers(0, 7, 0, 0, 0), utc(2026, 3, 10, 6, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![3, 1]);
        assert!(p.prune_ids().is_empty());
        assert_eq!(p.failed, vec![4, 2]);
        assert!(p.decision(2).is_none());
        assert!(p.decision(3).unwrap().reason.contains("newest successful"));
        // Same plan as without the failed ones.
        let only_ok: Vec<Candidate> = b.iter().filter(|c| c.succeeded).cloned().collect();
        let q = plan_tiers(
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
        let p = plan_tiers(&b, &tiers(0, 7, 0, 0, 0), utc(2026, 3, 10, 6, 0, 0), UTC);
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
        let p1 = plan_tiers(&b, &t, now, Berlin);
        b.reverse();
        let p2 = plan_tiers(&b, &t, now, Berlin);
        b.sort_by_key(|c| c.id % 13);
        let p3 = plan_tiers(&b, &t, now, Berlin);
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
    fn future_backups_hold_pruning_and_are_explained() {
        let now = utc(2026, 3, 10, 12, 0, 0);
        let b = [
            ok(1, utc(2026, 3, 1, 2, 0, 0)),
            ok(2, utc(2026, 3, 10, 2, 0, 0)),
            ok(3, utc(2026, 3, 12, 2, 0, 0)), // two days ahead
            ok(4, utc(2026, 3, 13, 2, 0, 0)), // three days ahead, newest
        ];
        let p = plan_tiers(&b, &tiers(0, 1, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![4, 3, 2, 1]);
        assert!(p.prune_ids().is_empty());
        assert_eq!(
            p.held.as_deref(),
            Some(
                "nothing is pruned: the clock reads 2026-03-10 12:00:00 UTC, earlier than the \
                 newest backup #4 taken 2026-03-13 02:00:00 UTC; the clock was set back or is \
                 wrong, and pruning resumes once it passes that time"
            )
        );
        assert_eq!(
            p.decision(4).unwrap().reason,
            "keeps daily 2026-03-13; newest successful backup: always kept; \
             dated after now (clock skew?): kept until it can be judged"
        );
        assert_eq!(
            p.decision(3).unwrap().reason,
            "dated after now (clock skew?): kept until it can be judged; \
             kept while pruning is held; otherwise no tier: older than the newest 1 daily buckets"
        );
        // The tiers are what they would be with a right clock.
        assert!(p.decision(3).unwrap().tiers.is_empty());
        assert!(p.decision(2).unwrap().tiers.is_empty());
        assert_eq!(
            p.decision(1).unwrap().reason,
            "kept while pruning is held; otherwise no tier: older than the newest 1 daily buckets"
        );
        // Once the clock passes the newest backup, the plan prunes again.
        let later = plan_tiers(&b, &tiers(0, 1, 0, 0, 0), utc(2026, 3, 13, 2, 0, 0), UTC);
        assert_eq!(later.held, None);
        assert_eq!(later.kept_ids(), vec![4]);
        assert_eq!(later.prune_ids(), vec![3, 2, 1]);
    }

    #[test]
    fn clock_set_back_prunes_nothing_and_reports_held() {
        // Hourly backups for three days; then the clock is set back two hours
        // (NTP step, VM restored from a snapshot, wrong timezone on the host).
        let end = utc(2026, 6, 3, 23, 0, 0);
        let b = series(end - Duration::hours(71), Duration::hours(1), 72);
        let t = tiers(24, 2, 0, 0, 0);
        for rules in [TIERS_ONLY, Rules::default(), Rules { min_keep: 10 }] {
            let right = plan(&b, &t, &rules, end + Duration::minutes(5), Berlin);
            assert_eq!(right.held, None);
            assert!(!right.prune_ids().is_empty());
            for back in [
                Duration::seconds(1),
                Duration::hours(2),
                Duration::days(400),
            ] {
                let now = end - back;
                let p = plan(&b, &t, &rules, now, Berlin);
                assert!(p.prune_ids().is_empty(), "{back} {rules:?}");
                assert_eq!(p.kept_ids().len(), 72);
                let why = p.held.as_deref().unwrap();
                assert!(
                    why.starts_with("nothing is pruned: the clock reads "),
                    "{why}"
                );
                assert!(
                    why.contains("newest backup #72 taken 2026-06-03 23:00:00 UTC"),
                    "{why}"
                );
                // Same tiers as with the right clock, and the would-be
                // pruned ones say why they are still there.
                for (d, r) in p.decisions.iter().zip(&right.decisions) {
                    assert_eq!((d.id, &d.tiers), (r.id, &r.tiers));
                    if !r.keep && b[d.id as usize - 1].at <= now {
                        assert_eq!(
                            d.reason,
                            format!("kept while pruning is held; otherwise {}", r.reason)
                        );
                    }
                }
            }
            // The clock exactly at the newest backup is not behind it.
            let at = plan(&b, &t, &rules, end, Berlin);
            assert_eq!(at.held, None);
            assert_eq!(at.decisions, right.decisions);
        }
    }

    #[test]
    fn a_clock_set_forward_changes_nothing() {
        // Tiers do not look at `now`: a clock jumped forward by a day, a year
        // or a century prunes exactly what the right clock prunes.
        let now = utc(2026, 7, 1, 6, 0, 0);
        for seed in 30..34 {
            let b = random_backups(seed, 300, now, 24 * 200);
            for tz in [UTC, Berlin, New_York, Kiritimati] {
                for t in [
                    tiers(24, 7, 4, 12, 0),
                    tiers(0, 1, 0, 0, 0),
                    tiers(3, 0, 2, 0, 5),
                ] {
                    let right = plan(&b, &t, &Rules::default(), now, tz);
                    for ahead in [
                        Duration::hours(25),
                        Duration::days(365),
                        Duration::days(36_500),
                    ] {
                        let p = plan(&b, &t, &Rules::default(), now + ahead, tz);
                        assert_eq!(p, right, "{seed} {tz} {t:?} {ahead}");
                    }
                }
            }
        }
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
        let p = plan_tiers(&b, &tiers(0, 0, 2, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![3, 1]);
        assert!(p.decision(3).unwrap().reason.contains("weekly 2025-W01"));
        assert!(p.decision(1).unwrap().reason.contains("weekly 2024-W52"));
        assert_eq!(
            p.decision(2).unwrap().reason,
            "no tier: weekly 2025-W01 held by newer #3"
        );
        // Yearly sees calendar years: 2024-12-31 holds 2024.
        let p = plan_tiers(&b, &tiers(0, 0, 0, 0, 2), now, UTC);
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
        let p = plan_tiers(&b, &tiers(0, 0, 2, 0, 0), utc(2027, 1, 4, 13, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![3, 2]);
        assert!(p.decision(2).unwrap().reason.contains("weekly 2026-W53"));
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: weekly 2026-W53 held by newer #2"
        );
        // Monthly splits them the other way.
        let p = plan_tiers(&b, &tiers(0, 0, 0, 2, 0), utc(2027, 1, 4, 13, 0, 0), UTC);
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
        let p = plan_tiers(&b, &tiers(0, 0, 3, 0, 0), now, UTC);
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
        let p = plan_tiers(&b, &tiers(0, 0, 0, 3, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![5, 4, 1]);
        assert!(p.decision(4).unwrap().reason.contains("monthly 2028-02"));
        // Daily 2 at 2028-03-01: Mar 1 and Feb 29.
        let p = plan_tiers(&b, &tiers(0, 2, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![5, 4]);
        assert!(p.decision(4).unwrap().reason.contains("daily 2028-02-29"));
        // Daily 2 a year later (no Feb 29 in 2029): Mar 1 and Feb 28.
        let b = [
            ok(1, utc(2029, 2, 28, 12, 0, 0)),
            ok(2, utc(2029, 3, 1, 0, 0, 0)),
        ];
        let p = plan_tiers(&b, &tiers(0, 2, 0, 0, 0), utc(2029, 3, 1, 1, 0, 0), UTC);
        assert_eq!(p.kept_ids(), vec![2, 1]);
    }

    #[test]
    fn leap_year_has_366_daily_buckets() {
        let b = series(utc(2028, 1, 1, 12, 0, 0), Duration::days(1), 366);
        let now = utc(2028, 12, 31, 13, 0, 0);
        let p = plan_tiers(&b, &tiers(0, 366, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids().len(), 366);
        let p = plan_tiers(&b, &tiers(0, 365, 0, 0, 0), now, UTC);
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
        let p = plan_tiers(&b, &tiers(0, 7, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), vec![3]);
        let p = plan_tiers(&b, &tiers(0, 7, 0, 0, 0), now, Berlin);
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
        let p = plan_tiers(
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
        let p = plan_tiers(
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
        let p = plan_tiers(
            &b,
            &tiers(0, 1, 0, 0, 0),
            utc(2026, 6, 2, 12, 0, 0),
            Pago_Pago,
        );
        assert_eq!(p.kept_ids(), vec![2]);
        let p = plan_tiers(
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
        let p = plan_tiers(
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
        let p = plan_tiers(&b, &tiers(2, 0, 0, 0, 0), now, Berlin);
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
        let p = plan_tiers(&b, &tiers(1, 0, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![2]);
        // One local day: daily keeps only the later one.
        let p = plan_tiers(&b, &tiers(0, 1, 0, 0, 0), now, Berlin);
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
                let p = plan_tiers(&b, &tiers(100, 0, 0, 0, 0), now, tz);
                assert_eq!(p.kept_ids().len(), expected, "{tz} {day}");
                let p = plan_tiers(&b, &tiers(0, 1, 0, 0, 0), now, tz);
                assert_eq!(p.kept_ids().len(), 1, "{tz} {day}");
            }
        }
    }

    #[test]
    fn hourly_counts_real_hours_across_spring_gap() {
        // Berlin 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00 UTC.
        // now = 03:30 CEST (01:30 UTC). Hourly 3 counts 03:00 CEST, 01:00
        // CET and 00:00 CET, one real hour apart each.
        let b = [
            ok(1, utc(2026, 3, 28, 22, 30, 0)), // 23:30 CET
            ok(2, utc(2026, 3, 28, 23, 30, 0)), // 00:30 CET
            ok(3, utc(2026, 3, 29, 0, 30, 0)),  // 01:30 CET
            ok(4, utc(2026, 3, 29, 1, 10, 0)),  // 03:10 CEST
        ];
        let p = plan_tiers(
            &b,
            &tiers(3, 0, 0, 0, 0),
            utc(2026, 3, 29, 1, 30, 0),
            Berlin,
        );
        assert_eq!(p.kept_ids(), vec![4, 3, 2]);
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: older than the newest 3 hourly buckets"
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
        let p = plan_tiers(
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
        let p = plan_tiers(
            &b,
            &tiers(2, 0, 0, 0, 0),
            utc(2026, 3, 8, 7, 30, 0),
            New_York,
        );
        assert_eq!(p.kept_ids(), vec![3, 2]);
    }

    // ---- Policy changes and idempotence ---------------------------------------

    /// The rules the property loops try.
    const RULES: [Rules; 4] = [
        Rules { min_keep: 0 },
        Rules { min_keep: 1 },
        Rules { min_keep: 3 },
        Rules { min_keep: 20 },
    ];

    /// Zones with whole-hour, half-hour (Lord Howe's 30-minute DST) and
    /// 45-minute offsets, both sides of UTC.
    const ZONES: [Tz; 7] = [
        UTC,
        Berlin,
        New_York,
        Kiritimati,
        Pago_Pago,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Asia::Kathmandu,
    ];

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
            for rules in RULES {
                let mut previous: Option<HashSet<i64>> = None;
                for t in ladder {
                    let kept: HashSet<i64> = plan(&b, &t, &rules, now, tz)
                        .kept_ids()
                        .into_iter()
                        .collect();
                    if let Some(prev) = &previous {
                        assert!(prev.is_subset(&kept), "{tz} {t:?} {rules:?}");
                    }
                    previous = Some(kept);
                }
                // The largest policy keeps the newest backup of every hour
                // (600 backups hold far fewer than 8760 hour buckets; these
                // zones' hours are UTC hours).
                let kept = previous.unwrap();
                let mut newest_in_hour: HashMap<i64, &Candidate> = HashMap::new();
                for c in b.iter().filter(|c| c.succeeded) {
                    let e = newest_in_hour
                        .entry(c.at.timestamp().div_euclid(3600))
                        .or_insert(c);
                    if newest_first(c, e).is_lt() {
                        *e = c;
                    }
                }
                for c in newest_in_hour.values() {
                    assert!(kept.contains(&c.id), "{tz} {}", c.id);
                }
            }
            // Growing the minimum keeps more under every policy.
            for t in ladder {
                let mut previous: Option<HashSet<i64>> = None;
                for rules in RULES {
                    let kept: HashSet<i64> = plan(&b, &t, &rules, now, tz)
                        .kept_ids()
                        .into_iter()
                        .collect();
                    if let Some(prev) = &previous {
                        assert!(prev.is_subset(&kept), "{tz} {t:?} {rules:?}");
                    }
                    previous = Some(kept);
                }
            }
        }
    }

    #[test]
    fn growing_any_one_tier_or_the_minimum_never_prunes_more() {
        let now = utc(2026, 10, 25, 1, 30, 0);
        let mut rng = Lcg(99);
        for seed in 40..52 {
            // Some histories end after now (held), most before.
            let end = now + Duration::hours(if seed % 4 == 0 { 5 } else { 0 });
            let b = random_backups(seed, 250, end, 24 * 120);
            for tz in ZONES {
                let base = tiers(
                    (rng.next() % 30) as u32,
                    (rng.next() % 10) as u32,
                    (rng.next() % 6) as u32,
                    (rng.next() % 5) as u32,
                    (rng.next() % 3) as u32,
                );
                let rules = Rules {
                    min_keep: (rng.next() % 6) as u32,
                };
                let kept: HashSet<i64> = plan(&b, &base, &rules, now, tz)
                    .kept_ids()
                    .into_iter()
                    .collect();
                for tier in Tier::ALL {
                    for more in [1, 2, 7] {
                        let mut t = base;
                        match tier {
                            Tier::Hourly => t.hourly += more,
                            Tier::Daily => t.daily += more,
                            Tier::Weekly => t.weekly += more,
                            Tier::Monthly => t.monthly += more,
                            Tier::Yearly => t.yearly += more,
                        }
                        let grown: HashSet<i64> = plan(&b, &t, &rules, now, tz)
                            .kept_ids()
                            .into_iter()
                            .collect();
                        assert!(
                            kept.is_subset(&grown),
                            "{seed} {tz} {base:?} +{more} {tier}"
                        );
                    }
                }
                for more in [1, 2, 7] {
                    let grown = Rules {
                        min_keep: rules.min_keep + more,
                    };
                    let grown: HashSet<i64> = plan(&b, &base, &grown, now, tz)
                        .kept_ids()
                        .into_iter()
                        .collect();
                    assert!(kept.is_subset(&grown), "{seed} {tz} {base:?} min +{more}");
                }
            }
        }
    }

    #[test]
    fn replanning_the_kept_set_prunes_nothing() {
        let now = utc(2026, 10, 25, 2, 0, 0);
        for seed in 1..6 {
            // Histories ending before now, and one ending after it (held).
            for end in [now, now - Duration::days(40), now + Duration::hours(3)] {
                let b = random_backups(seed, 400, end, 24 * 400);
                for tz in ZONES {
                    for t in [
                        tiers(0, 0, 0, 0, 0),
                        tiers(24, 7, 4, 12, 0),
                        tiers(3, 0, 2, 0, 5),
                        tiers(100, 30, 0, 24, 0),
                    ] {
                        for rules in RULES {
                            let p = plan(&b, &t, &rules, now, tz);
                            let kept: Vec<Candidate> = b
                                .iter()
                                .filter(|c| p.kept_ids().contains(&c.id))
                                .cloned()
                                .collect();
                            // Again now, and again a week later.
                            for later in [now, now + Duration::days(7)] {
                                let again = plan(&kept, &t, &rules, later, tz);
                                let what = format!("{seed} {end} {tz} {t:?} {rules:?} {later}");
                                assert!(again.prune_ids().is_empty(), "{what}");
                                assert_eq!(again.kept_ids(), p.kept_ids(), "{what}");
                                // Every kept backup's tiers are unchanged.
                                for d in &again.decisions {
                                    assert_eq!(d.tiers, p.decision(d.id).unwrap().tiers, "{what}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn plans_match_a_naive_reference_model() {
        // Reference: label buckets by strings from chrono's own zone
        // conversion (the hour with its UTC offset), walk the successful
        // backups newest first and take the first N distinct labels.
        fn reference(
            b: &[Candidate],
            t: &Tiers,
            rules: &Rules,
            now: DateTime<Utc>,
            tz: Tz,
        ) -> Vec<i64> {
            let mut good: Vec<&Candidate> = b.iter().filter(|c| c.succeeded).collect();
            good.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
            let Some(first) = good.first() else {
                return Vec::new();
            };
            if first.at > now {
                return sorted(good.iter().map(|c| c.id).collect());
            }
            let mut keep: HashSet<i64> = HashSet::new();
            for c in good.iter().take(rules.min_keep.max(1) as usize) {
                keep.insert(c.id);
            }
            let label = |tier: Tier, at: DateTime<Utc>| -> String {
                let local = at.with_timezone(&tz);
                let d = local.date_naive();
                match tier {
                    Tier::Hourly => local.format("%Y-%m-%d %H %z").to_string(),
                    Tier::Daily => d.to_string(),
                    Tier::Weekly => format!("{:?}", d.iso_week()),
                    Tier::Monthly => format!("{}-{}", d.year(), d.month()),
                    Tier::Yearly => d.year().to_string(),
                }
            };
            for tier in Tier::ALL {
                let n = t.count(tier) as usize;
                let mut seen: Vec<String> = Vec::new();
                for c in &good {
                    let l = label(tier, c.at);
                    if seen.contains(&l) {
                        continue;
                    }
                    if seen.len() == n {
                        break;
                    }
                    seen.push(l);
                    keep.insert(c.id);
                }
            }
            sorted(keep.into_iter().collect())
        }
        let now = utc(2027, 1, 2, 12, 0, 0);
        for seed in 10..16 {
            for end in [now, now + Duration::hours(30)] {
                let b = random_backups(seed, 300, end, 24 * 800);
                for tz in ZONES {
                    for t in [
                        tiers(0, 7, 4, 12, 0),
                        tiers(0, 30, 0, 0, 3),
                        tiers(0, 0, 9, 0, 0),
                        tiers(0, 1, 1, 1, 1),
                        tiers(24, 0, 0, 0, 0),
                        tiers(500, 7, 0, 0, 0),
                    ] {
                        for rules in RULES {
                            let got = sorted(plan(&b, &t, &rules, now, tz).kept_ids());
                            assert_eq!(
                                got,
                                reference(&b, &t, &rules, now, tz),
                                "{seed} {end} {tz} {t:?} {rules:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn hourly_matches_a_real_hours_reference_for_whole_hour_offsets() {
        // For zones whose offsets are whole hours, hour buckets are exactly
        // the UTC hours: hourly N keeps the newest backup of each of the N
        // newest UTC hours that hold one.
        let now = utc(2026, 10, 25, 12, 20, 0);
        for seed in 20..24 {
            let b = random_backups(seed, 300, now, 24 * 10);
            for tz in [UTC, Berlin, New_York, Kiritimati, Pago_Pago] {
                for n in [1u32, 5, 24, 100, 1000] {
                    let t = tiers(n, 0, 0, 0, 0);
                    let got = sorted(plan_tiers(&b, &t, now, tz).kept_ids());
                    let mut good: Vec<&Candidate> = b.iter().filter(|c| c.succeeded).collect();
                    good.sort_by(|x, y| newest_first(x, y));
                    let mut taken = Vec::new();
                    let mut want: HashSet<i64> = HashSet::from([good[0].id]);
                    for c in &good {
                        let h = c.at.timestamp().div_euclid(3600);
                        if !taken.contains(&h) && taken.len() < n as usize {
                            taken.push(h);
                            want.insert(c.id);
                        }
                    }
                    assert_eq!(got, sorted(want.into_iter().collect()), "{seed} {tz} {n}");
                }
            }
        }
    }

    #[test]
    fn invariants_hold_on_random_histories() {
        let mut rng = Lcg(7);
        let base = utc(2026, 3, 29, 1, 0, 0);
        for seed in 60..90 {
            let end = base + Duration::hours((rng.next() % 48) as i64);
            let b = random_backups(seed, 1 + (rng.next() % 200) as usize, end, 24 * 60);
            let now = base + Duration::hours((rng.next() % 48) as i64);
            let t = tiers(
                (rng.next() % 50) as u32,
                (rng.next() % 12) as u32,
                (rng.next() % 6) as u32,
                (rng.next() % 4) as u32,
                (rng.next() % 2) as u32,
            );
            let rules = Rules {
                min_keep: (rng.next() % 8) as u32,
            };
            let tz = ZONES[seed as usize % ZONES.len()];
            let what = format!("{seed} {now} {tz} {t:?} {rules:?}");
            let p = plan(&b, &t, &rules, now, tz);
            let mut good: Vec<&Candidate> = b.iter().filter(|c| c.succeeded).collect();
            good.sort_by(|x, y| newest_first(x, y));
            // One decision per successful backup, newest first; failed ones
            // listed, never judged.
            let ids: Vec<i64> = good.iter().map(|c| c.id).collect();
            assert_eq!(
                p.decisions.iter().map(|d| d.id).collect::<Vec<_>>(),
                ids,
                "{what}"
            );
            assert_eq!(p.failed.len(), b.len() - good.len(), "{what}");
            assert!(
                p.failed.iter().all(|id| p.decision(*id).is_none()),
                "{what}"
            );
            let Some(newest) = good.first() else {
                assert_eq!(p.held, None);
                continue;
            };
            // Held exactly when the clock is behind the newest backup.
            assert_eq!(p.held.is_some(), newest.at > now, "{what}");
            if p.held.is_some() {
                assert!(p.prune_ids().is_empty(), "{what}");
            }
            // The newest min_keep (at least one) are kept.
            let k = rules.min_keep.max(1) as usize;
            for d in p.decisions.iter().take(k) {
                assert!(d.keep, "{what} #{}", d.id);
            }
            // Kept by the rules exactly when holding a tier or among the
            // newest min_keep; every pruned one says so.
            for (i, d) in p.decisions.iter().enumerate() {
                assert!(!d.reason.is_empty());
                if p.held.is_none() {
                    assert_eq!(d.keep, i < k || !d.tiers.is_empty(), "{what} #{}", d.id);
                }
                if !d.keep {
                    assert!(d.reason.starts_with("no tier: "), "{what} {}", d.reason);
                }
            }
            // Each tier is held by min(N, distinct buckets) backups.
            for tier in Tier::ALL {
                let buckets: HashSet<i64> =
                    good.iter().map(|c| bucket_key(tier, c.at, tz)).collect();
                let holding = p
                    .decisions
                    .iter()
                    .filter(|d| d.tiers.contains(&tier))
                    .count();
                assert_eq!(
                    holding,
                    buckets.len().min(t.count(tier) as usize),
                    "{what} {tier}"
                );
            }
        }
    }

    #[test]
    fn huge_unvalidated_counts_do_not_hang() {
        let now = utc(2026, 1, 1, 0, 0, 0);
        let b = series(utc(2025, 1, 1, 0, 0, 0), Duration::hours(7), 1250);
        let p = plan_tiers(
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
        let p = plan_tiers(&b, &t, now, UTC);

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
        // Oldest backup: older than every counted bucket.
        assert_eq!(
            p.decision(1).unwrap().reason,
            "no tier: older than the newest 24 hourly / 7 daily / 4 weekly / 12 monthly buckets"
        );

        // Idempotent.
        let kept_b: Vec<Candidate> = b.iter().filter(|c| kept.contains(&c.at)).cloned().collect();
        assert!(plan_tiers(&kept_b, &t, now, UTC).prune_ids().is_empty());

        // A day later (24 more hourly backups), the plan over the survivors
        // still keeps 42: the newest of the old daily set rolls off etc.
        let mut next = kept_b.clone();
        for h in 1..=24 {
            next.push(ok(10_000 + h, end + Duration::hours(h)));
        }
        let p2 = plan_tiers(&next, &t, now + Duration::days(1), UTC);
        assert_eq!(p2.kept_ids().len(), 42);
        // The default minimum (the 3 newest) adds nothing: they hold hourly.
        assert_eq!(
            plan(&b, &t, &Rules::default(), now, UTC).kept_ids(),
            p.kept_ids()
        );
    }

    // ---- Outages, sparse histories, the minimum kept -------------------------

    #[test]
    fn outage_of_25_hours_under_hourly_24_keeps_the_23_before_it() {
        // Hourly backups for 400 days ending Wed 2026-11-25 12:00 UTC, then
        // 25 missed hours (13:00 .. 13:00 the next day), then one success at
        // Thu 11-26 14:00 UTC. Calendar windows would have kept only the new
        // one under hourly 24; counting buckets keeps the 23 before the gap.
        let end = utc(2026, 11, 25, 12, 0, 0);
        let n = 400 * 24;
        let old = series(end - Duration::hours(n - 1), Duration::hours(1), n);
        let new = ok(100_000, end + Duration::hours(26));
        let mut b = old.clone();
        b.push(new.clone());
        let now = new.at + Duration::minutes(20);
        let at = |id: i64| {
            if id == new.id {
                new.at
            } else {
                b[id as usize - 1].at
            }
        };

        let p = plan_tiers(&b, &tiers(24, 0, 0, 0, 0), now, UTC);
        let kept: Vec<DateTime<Utc>> = p.kept_ids().into_iter().map(at).collect();
        let mut hourly = vec![new.at];
        hourly.extend((0..23).map(|h| end - Duration::hours(h)));
        assert_eq!(kept, hourly);
        assert_eq!(p.prune_ids().len(), b.len() - 24);
        assert_eq!(
            p.decisions[24].reason,
            "no tier: older than the newest 24 hourly buckets"
        );

        // The headline policy with the default minimum.
        let t = tiers(24, 7, 4, 12, 0);
        let p = plan(&b, &t, &Rules::default(), now, UTC);
        assert_eq!(p.held, None);
        let kept: HashSet<DateTime<Utc>> = p.kept_ids().into_iter().map(at).collect();
        let mut want: HashSet<DateTime<Utc>> = hourly.iter().copied().collect();
        // 7 daily: 11-26 (new), 11-25 (12:00), 11-24 23:00 (hourly), and
        // 11-20 .. 11-23 (4 new).
        for d in 20..=23 {
            want.insert(utc(2026, 11, d, 23, 0, 0));
        }
        // 4 weekly: W48 (new), W47 Sun 11-22 (daily), W46 and W45 (2 new).
        want.insert(utc(2026, 11, 15, 23, 0, 0));
        want.insert(utc(2026, 11, 8, 23, 0, 0));
        // 12 monthly: Nov 2026 (new) and the last hours of Dec 2025 .. Oct
        // 2026 (11 new).
        for (y, m) in [
            (2025, 12),
            (2026, 1),
            (2026, 2),
            (2026, 3),
            (2026, 4),
            (2026, 5),
        ]
        .into_iter()
        .chain((6..=10).map(|m| (2026, m)))
        {
            let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            want.insert(utc(next.0, next.1, 1, 0, 0, 0) - Duration::hours(1));
        }
        assert_eq!(want.len(), 24 + 4 + 2 + 11);
        assert_eq!(kept, want);
        let count = |tier: Tier| p.kept().filter(|d| d.tiers.contains(&tier)).count();
        assert_eq!(
            Tier::ALL.map(count),
            [24, 7, 4, 12, 0],
            "every tier full after the outage"
        );

        // Against the plan just before the outage, the new success moved
        // each tier down by one bucket: only the oldest hourly (11-24 13:00)
        // and the oldest daily (11-19 23:00) holders went; weekly and monthly
        // lost nothing because the backup of 11-25 12:00 still holds hourly.
        let before = plan(
            &old,
            &t,
            &Rules::default(),
            end + Duration::minutes(30),
            UTC,
        );
        let before: HashSet<DateTime<Utc>> = before.kept_ids().into_iter().map(at).collect();
        assert_eq!(before.len(), 42);
        let mut gone: Vec<DateTime<Utc>> = before.difference(&kept).copied().collect();
        gone.sort();
        assert_eq!(
            gone,
            [utc(2026, 11, 19, 23, 0, 0), utc(2026, 11, 24, 13, 0, 0)]
        );
    }

    #[test]
    fn outage_longer_than_every_window_then_one_success() {
        // Daily backups at 03:00 UTC for two years ending Sun 2024-06-30,
        // then nothing for three years (longer than 12 months), then one
        // success on 2027-06-30. Default tiers: 7 daily, 4 weekly, 12 monthly.
        let end = utc(2024, 6, 30, 3, 0, 0);
        assert_eq!(end.format("%a").to_string(), "Sun");
        let old = series(end - Duration::days(730), Duration::days(1), 731);
        let new = ok(10_000, utc(2027, 6, 30, 3, 0, 0));
        let mut b = old.clone();
        b.push(new.clone());
        let t = Tiers::default();
        let day = |p: &Plan| -> Vec<String> {
            p.kept_ids()
                .into_iter()
                .map(|id| b.iter().find(|c| c.id == id).unwrap().at)
                .map(|at| at.format("%Y-%m-%d").to_string())
                .collect()
        };
        let before = plan(&old, &t, &Rules::default(), end + Duration::hours(1), UTC);
        for rules in [TIERS_ONLY, Rules::default()] {
            let p = plan(&b, &t, &rules, new.at + Duration::hours(1), UTC);
            assert_eq!(
                day(&p),
                [
                    "2027-06-30", // everything
                    "2024-06-30", // daily, weekly W26, monthly 2024-06
                    "2024-06-29", // daily
                    "2024-06-28",
                    "2024-06-27",
                    "2024-06-26",
                    "2024-06-25", // the 7th daily
                    "2024-06-23", // weekly W25
                    "2024-06-16", // weekly W24, the 4th
                    "2024-05-31", // monthly
                    "2024-04-30",
                    "2024-03-31",
                    "2024-02-29",
                    "2024-01-31",
                    "2023-12-31",
                    "2023-11-30",
                    "2023-10-31",
                    "2023-09-30",
                    "2023-08-31", // the 12th monthly
                ],
                "{rules:?}"
            );
            // Before the new success 21 were kept; exactly one holder per
            // tier moved out: the 7th daily, the 4th weekly, the 12th monthly.
            let now: HashSet<String> = day(&p).into_iter().collect();
            let mut gone: Vec<String> = day(&before)
                .into_iter()
                .filter(|d| !now.contains(d))
                .collect();
            gone.sort();
            assert_eq!(gone, ["2023-07-31", "2024-06-09", "2024-06-24"]);
        }
        assert_eq!(before.kept_ids().len(), 21);
    }

    #[test]
    fn sparse_history_one_backup_a_week_under_daily_7() {
        // One backup a week (Mondays 03:00 UTC) for 20 weeks: each is alone in
        // its day, so daily 7 keeps 7 backups spanning 7 weeks.
        let b = series(utc(2026, 1, 5, 3, 0, 0), Duration::weeks(1), 20);
        let now = b[19].at + Duration::days(3);
        let p = plan_tiers(&b, &tiers(0, 7, 0, 0, 0), now, UTC);
        assert_eq!(p.kept_ids(), (14..=20).rev().collect::<Vec<i64>>());
        assert_eq!(b[19].at - b[13].at, Duration::weeks(6));
        assert_eq!(p.decision(14).unwrap().reason, "keeps daily 2026-04-06");
        assert_eq!(
            p.decision(13).unwrap().reason,
            "no tier: older than the newest 7 daily buckets"
        );
        // The default tiers: weekly 4 adds nothing (the 4 newest weeks are
        // daily already); monthly adds the last Monday of March, February and
        // January (April's last, 04-27, is daily).
        let p = plan(&b, &Tiers::default(), &Rules::default(), now, UTC);
        assert_eq!(
            sorted(p.kept_ids()),
            vec![4, 8, 13, 14, 15, 16, 17, 18, 19, 20]
        );
        assert_eq!(p.decision(13).unwrap().reason, "keeps monthly 2026-03");
    }

    #[test]
    fn min_keep_keeps_the_newest_k_even_with_all_tiers_0() {
        assert_eq!(Rules::default(), Rules { min_keep: 3 });
        assert_eq!(DEFAULT_MIN_KEEP, 3);
        let mut b = series(utc(2026, 1, 1, 0, 0, 0), Duration::hours(1), 10);
        // Newer failed runs count for nothing.
        b.push(failed(11, utc(2026, 1, 1, 10, 0, 0)));
        b.push(failed(12, utc(2026, 1, 1, 11, 0, 0)));
        let now = utc(2026, 1, 2, 0, 0, 0);
        let p = plan(
            &b,
            &Tiers::KEEP_ONLY_NEWEST,
            &Rules { min_keep: 3 },
            now,
            UTC,
        );
        assert_eq!(p.kept_ids(), vec![10, 9, 8]);
        assert_eq!(p.prune_ids(), (1..=7).rev().collect::<Vec<i64>>());
        assert_eq!(p.failed, vec![12, 11]);
        assert_eq!(
            p.decision(10).unwrap().reason,
            "newest successful backup: always kept (every tier is 0)"
        );
        for id in [9, 8] {
            let d = p.decision(id).unwrap();
            assert_eq!(
                d.reason,
                "one of the 3 newest successful backups: always kept"
            );
            assert!(d.tiers.is_empty());
        }
        assert_eq!(
            p.decision(7).unwrap().reason,
            "no tier: every tier is 0, so only the 3 newest backups are kept"
        );
        // 0 and 1 both keep only the newest.
        for min_keep in [0, 1] {
            let p = plan(&b, &Tiers::KEEP_ONLY_NEWEST, &Rules { min_keep }, now, UTC);
            assert_eq!(p.kept_ids(), vec![10]);
            assert_eq!(
                p.decision(9).unwrap().reason,
                "no tier: every tier is 0, so only the newest backup is kept"
            );
        }
        // More than there are: everything is kept.
        for min_keep in [10, 11, u32::MAX] {
            let p = plan(&b, &Tiers::KEEP_ONLY_NEWEST, &Rules { min_keep }, now, UTC);
            assert!(p.prune_ids().is_empty(), "{min_keep}");
        }
    }

    #[test]
    fn min_keep_adds_to_the_tiers_and_both_reasons_show() {
        let b = [
            ok(1, utc(2026, 5, 4, 10, 0, 0)),
            ok(2, utc(2026, 5, 4, 20, 0, 0)),
            ok(3, utc(2026, 5, 5, 1, 0, 0)),
            ok(4, utc(2026, 5, 5, 2, 0, 0)),
            ok(5, utc(2026, 5, 5, 3, 0, 0)),
            ok(6, utc(2026, 5, 5, 4, 0, 0)),
        ];
        let now = utc(2026, 5, 5, 5, 0, 0);
        let p = plan(&b, &tiers(0, 2, 0, 0, 0), &Rules { min_keep: 3 }, now, UTC);
        assert_eq!(p.kept_ids(), vec![6, 5, 4, 2]);
        let reasons: Vec<&str> = p.decisions.iter().map(|d| d.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "keeps daily 2026-05-05; newest successful backup: always kept",
                "one of the 3 newest successful backups: always kept",
                "one of the 3 newest successful backups: always kept",
                "no tier: daily 2026-05-05 held by newer #6",
                "keeps daily 2026-05-04",
                "no tier: daily 2026-05-04 held by newer #2",
            ]
        );
        // Holding a tier and among the newest: both reasons.
        let p = plan(&b, &tiers(0, 2, 0, 0, 0), &Rules { min_keep: 5 }, now, UTC);
        assert_eq!(p.kept_ids(), vec![6, 5, 4, 3, 2]);
        assert_eq!(
            p.decision(2).unwrap().reason,
            "keeps daily 2026-05-04; one of the 5 newest successful backups: always kept"
        );
        // Equal timestamps: the higher id is the newer.
        let at = utc(2026, 5, 5, 2, 0, 0);
        let b = [ok(5, at), ok(9, at), ok(7, at), ok(1, at)];
        let p = plan(
            &b,
            &Tiers::KEEP_ONLY_NEWEST,
            &Rules { min_keep: 2 },
            now,
            UTC,
        );
        assert_eq!(p.kept_ids(), vec![9, 7]);
        assert_eq!(p.prune_ids(), vec![5, 1]);
    }

    #[test]
    fn hourly_counts_both_hours_of_the_autumn_fold() {
        // Berlin 2026-10-25, 03:00 CEST -> 02:00 CET at 01:00 UTC. Backups at
        // :15 and :45 of each UTC hour from 22:15 UTC on 10-24 (00:15 CEST)
        // to 03:45 UTC (04:45 CET): six real hours, two of them 02:00.
        let b = series(utc(2026, 10, 24, 22, 15, 0), Duration::minutes(30), 12);
        let now = utc(2026, 10, 25, 4, 0, 0);
        let p = plan_tiers(&b, &tiers(24, 0, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![12, 10, 8, 6, 4, 2]);
        let labels: Vec<String> = p
            .kept()
            .map(|d| d.reason.split("; ").next().unwrap().to_owned())
            .collect();
        assert_eq!(
            labels,
            [
                "keeps hourly 2026-10-25 04:00 CET",
                "keeps hourly 2026-10-25 03:00 CET",
                "keeps hourly 2026-10-25 02:00 CET",
                "keeps hourly 2026-10-25 02:00 CEST",
                "keeps hourly 2026-10-25 01:00 CEST",
                "keeps hourly 2026-10-25 00:00 CEST",
            ]
        );
        assert_eq!(
            p.decision(7).unwrap().reason,
            "no tier: hourly 2026-10-25 02:00 CET held by newer #8"
        );
        // Hourly 4: the four newest real hours, both 02:00 among them;
        // hourly 3 leaves out the first 02:00 (CEST).
        let p = plan_tiers(&b, &tiers(4, 0, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![12, 10, 8, 6]);
        let p = plan_tiers(&b, &tiers(3, 0, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![12, 10, 8]);
        assert_eq!(
            p.decision(6).unwrap().reason,
            "no tier: older than the newest 3 hourly buckets"
        );
        // One local day of 25 hours: daily 1 keeps one.
        let p = plan_tiers(&b, &tiers(0, 1, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![12]);
        // A clock far ahead (or days without backups) changes nothing.
        let later = plan_tiers(&b, &tiers(3, 0, 0, 0, 0), now + Duration::days(9), Berlin);
        assert_eq!(later.kept_ids(), vec![12, 10, 8]);
    }

    #[test]
    fn hourly_skips_the_spring_gap() {
        // Berlin 2026-03-29, 02:00 CET -> 03:00 CEST at 01:00 UTC. Backups at
        // :30 of each UTC hour from 22:30 UTC on 03-28 (23:30 CET) to 02:30
        // UTC (04:30 CEST): no backup can be in a 02:00 bucket.
        let b = series(utc(2026, 3, 28, 22, 30, 0), Duration::hours(1), 5);
        let now = utc(2026, 3, 29, 3, 0, 0);
        let p = plan_tiers(&b, &tiers(4, 0, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![5, 4, 3, 2]);
        let labels: Vec<String> = p
            .kept()
            .map(|d| d.reason.split("; ").next().unwrap().to_owned())
            .collect();
        assert_eq!(
            labels,
            [
                "keeps hourly 2026-03-29 04:00 CEST",
                "keeps hourly 2026-03-29 03:00 CEST",
                "keeps hourly 2026-03-29 01:00 CET",
                "keeps hourly 2026-03-29 00:00 CET",
            ]
        );
        // Daily 2: the 23-hour day 03-29 and 03-28.
        let p = plan_tiers(&b, &tiers(0, 2, 0, 0, 0), now, Berlin);
        assert_eq!(p.kept_ids(), vec![5, 1]);
    }

    #[test]
    fn lord_howe_half_hour_fold_gives_three_hour_buckets() {
        // Lord Howe 2026-04-05: 02:00 +11 -> 01:30 +1030 at 15:00 UTC on
        // 04-04. 01:40 +11, 01:40 +1030 and 02:10 +1030 are three buckets.
        let tz = chrono_tz::Australia::Lord_Howe;
        let b = [
            ok(1, utc(2026, 4, 4, 14, 40, 0)),
            ok(2, utc(2026, 4, 4, 15, 10, 0)),
            ok(3, utc(2026, 4, 4, 15, 40, 0)),
        ];
        let local: Vec<String> = b
            .iter()
            .map(|c| c.at.with_timezone(&tz).format("%H:%M %z").to_string())
            .collect();
        assert_eq!(local, ["01:40 +1100", "01:40 +1030", "02:10 +1030"]);
        let now = utc(2026, 4, 4, 16, 0, 0);
        let p = plan_tiers(&b, &tiers(3, 0, 0, 0, 0), now, tz);
        assert_eq!(p.kept_ids(), vec![3, 2, 1]);
        let p = plan_tiers(&b, &tiers(2, 0, 0, 0, 0), now, tz);
        assert_eq!(p.kept_ids(), vec![3, 2]);
        let p = plan_tiers(&b, &tiers(0, 1, 0, 0, 0), now, tz);
        assert_eq!(p.kept_ids(), vec![3]);
    }
}
