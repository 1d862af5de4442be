//! Cron schedules: parsing standard 5-field expressions and evaluating them
//! in a time zone, plus the missed-run and overdue rules.
//!
//! # Syntax
//!
//! `minute hour day-of-month month day-of-week`, separated by blanks:
//!
//! | field        | values                                   |
//! |--------------|------------------------------------------|
//! | minute       | 0-59                                     |
//! | hour         | 0-23                                     |
//! | day-of-month | 1-31                                     |
//! | month        | 1-12 or JAN-DEC                          |
//! | day-of-week  | 0-7 or SUN-SAT (0 and 7 are both Sunday) |
//!
//! Each field is `*`, a value, a range `a-b`, a step `*/n` or `a-b/n`, or a
//! comma-separated list of those. Names are case-insensitive. The presets
//! `@hourly @daily @midnight @weekly @monthly @yearly @annually` are
//! accepted. There is no seconds or year field, and the Quartz extensions
//! `?`, `L`, `W` and `#` are refused with a message, as are reversed ranges
//! (`FRI-MON`) and `a/n` without an upper bound (write `a-59/n`).
//!
//! **Day matching follows Vixie cron** (and cronie): when both day-of-month
//! and day-of-week are restricted, a day matches if *either* matches. A field
//! counts as unrestricted when it starts with `*`, so `*/2` in day-of-month
//! with `MON` in day-of-week means "odd days that are Mondays", exactly as in
//! Vixie cron. A schedule that can never fire (`0 0 31 2 *`) is refused when
//! parsed.
//!
//! # Time zones and DST
//!
//! Slots are local wall-clock times in the policy's time zone.
//!
//! * **Spring gap**: a slot whose local time does not exist (02:30 on the
//!   night clocks jump from 02:00 to 03:00) runs at the first instant after
//!   the gap (03:00), once: several skipped slots, and a real slot at that
//!   instant, collapse into one run.
//! * **Autumn fold**: a local time that occurs twice runs once, at its first
//!   occurrence. This holds for every slot, so `0 * * * *` does not run a
//!   second time in the repeated hour.
//!
//! Searching skips whole months, days and hours that cannot match, so a
//! sparse schedule (`0 0 29 2 *`) is found without stepping minute by minute.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone,
    Timelike, Utc,
};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Serialize};

/// How many years a search looks ahead or back before giving up. Every
/// schedule accepted by [`Schedule::parse`] fires within 40 years.
const SEARCH_YEARS: i32 = 400;

/// [`Due::missed_slots`] stops counting here.
pub const MISSED_SLOTS_CAP: u32 = 10_000;

/// One of the five fields of a cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Minute, 0-59.
    Minute,
    /// Hour, 0-23.
    Hour,
    /// Day of month, 1-31.
    DayOfMonth,
    /// Month, 1-12 or JAN-DEC.
    Month,
    /// Day of week, 0-7 or SUN-SAT (0 and 7 are Sunday).
    DayOfWeek,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    fn min(self) -> u32 {
        match self {
            Field::Minute | Field::Hour | Field::DayOfWeek => 0,
            Field::DayOfMonth | Field::Month => 1,
        }
    }

    /// Largest value written (7 for day-of-week, an alias of Sunday).
    fn max(self) -> u32 {
        match self {
            Field::Minute => 59,
            Field::Hour => 23,
            Field::DayOfMonth => 31,
            Field::Month => 12,
            Field::DayOfWeek => 7,
        }
    }

    /// Largest value `*` stands for.
    fn star_max(self) -> u32 {
        match self {
            Field::DayOfWeek => 6,
            other => other.max(),
        }
    }

    fn range(self) -> &'static str {
        match self {
            Field::Minute => "0-59",
            Field::Hour => "0-23",
            Field::DayOfMonth => "1-31",
            Field::Month => "1-12",
            Field::DayOfWeek => "0-7 (0 and 7 are Sunday)",
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            Field::Minute => "0-59, *, lists (a,b), ranges (a-b) and steps (*/n, a-b/n)",
            Field::Hour => "0-23, *, lists (a,b), ranges (a-b) and steps (*/n, a-b/n)",
            Field::DayOfMonth => "1-31, *, lists (a,b), ranges (a-b) and steps (*/n, a-b/n)",
            Field::Month => {
                "1-12 or JAN-DEC, *, lists (a,b), ranges (a-b) and steps (*/n, a-b/n)"
            }
            Field::DayOfWeek => {
                "0-7 (0 and 7 are Sunday) or SUN-SAT, *, lists (a,b), ranges (a-b) and steps (*/n, a-b/n)"
            }
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Month => &[
                "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
            ],
            Field::DayOfWeek => &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
            _ => &[],
        }
    }

    /// Value of the first name (JAN = 1, SUN = 0).
    fn first_name_value(self) -> u32 {
        match self {
            Field::Month => 1,
            _ => 0,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        })
    }
}

/// Why a cron expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// Nothing but blanks.
    #[error(
        "empty schedule. Fix: write 5 fields (minute hour day-of-month month day-of-week), \
         e.g. \"30 3 * * *\", or a preset such as @daily"
    )]
    Empty,
    /// Not exactly five fields.
    #[error(
        "expected 5 fields (minute hour day-of-month month day-of-week) but found {found}{}. \
         Fix: write 5 fields separated by spaces, e.g. \"30 3 * * *\" (03:30 every day)",
        field_count_hint(*.found)
    )]
    FieldCount {
        /// How many fields were found.
        found: usize,
    },
    /// An `@name` that is not a known preset.
    #[error(
        "unknown preset {preset}. Fix: use one of @hourly, @daily, @midnight, @weekly, \
         @monthly, @yearly, @annually, or 5 fields"
    )]
    UnknownPreset {
        /// The preset as written.
        preset: String,
    },
    /// A number outside the field's range.
    #[error("{field} field: {token} is out of range {}. Fix: use a value in {}", .field.range(), .field.range())]
    OutOfRange {
        /// The field.
        field: Field,
        /// The number as written.
        token: String,
    },
    /// A Quartz-style extension (`?`, `L`, `W`, `#`).
    #[error("{field} field: {token} is not supported ({feature}); allowed: {}. Fix: write it with what the field allows, e.g. a list of days", .field.allowed())]
    Unsupported {
        /// The field.
        field: Field,
        /// The item as written.
        token: String,
        /// What the syntax means elsewhere.
        feature: &'static str,
    },
    /// Anything else that is not a value, name, range, step or list.
    #[error("{field} field: {token:?} is not valid; allowed: {}. Fix: write it with what the field allows", .field.allowed())]
    Invalid {
        /// The field.
        field: Field,
        /// The item (or the whole field, for an empty list item).
        token: String,
    },
    /// A step of 0 or larger than the field's span.
    #[error("{field} field: the step in {token} must be between 1 and {max}. Fix: use a step from 1 to {max}, e.g. */15")]
    BadStep {
        /// The field.
        field: Field,
        /// The item as written.
        token: String,
        /// Largest step accepted.
        max: u32,
    },
    /// `a-b` with `a > b`.
    #[error(
        "{field} field: range {token} goes backwards. Fix: write it low-high, or as a list of \
         two ranges to wrap around (e.g. 22-23,0-2)"
    )]
    ReversedRange {
        /// The field.
        field: Field,
        /// The item as written.
        token: String,
    },
    /// Valid fields that together never match a date.
    #[error("schedule {expr:?} never runs: {why}. Fix: pick days that exist in those months, or * for the day of month")]
    NeverRuns {
        /// The whole expression.
        expr: String,
        /// Which days are impossible.
        why: String,
    },
}

fn field_count_hint(found: usize) -> &'static str {
    match found {
        6 => "; a seconds or year field is not supported",
        7 => "; seconds and year fields are not supported",
        0..=4 => "; every field is required: write * for \"any\"",
        _ => "",
    }
}

/// A parsed cron schedule.
///
/// Serializes as its expression text; deserializing parses (and so refuses
/// what [`Schedule::parse`] refuses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Schedule {
    expr: String,
    minutes: u64,
    hours: u64,
    doms: u64,
    months: u64,
    /// Bits 0-6, Sunday = 0 (7 folded into 0).
    dows: u64,
    /// Day-of-month field starts with `*` (Vixie's DOM_STAR).
    dom_star: bool,
    /// Day-of-week field starts with `*` (Vixie's DOW_STAR).
    dow_star: bool,
}

const PRESETS_EXPANSION: &[(&str, &str)] = &[
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@weekly", "0 0 * * 0"),
    ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
];

/// Schedules offered in the UI, as (label, expression).
///
/// Off-peak and DST-safe: daily work runs at 03:30 local, after the 02:00-03:00
/// window in which European and North American clocks jump or repeat, and
/// before business hours; minutes avoid :00, where other cron jobs pile up
/// (hourly at :17, as Debian's `cron.hourly`).
pub fn presets() -> &'static [(&'static str, &'static str)] {
    &[
        ("Hourly", "17 * * * *"),
        ("Every 6 hours", "17 */6 * * *"),
        ("Daily", "30 3 * * *"),
        ("Weekly (Sunday)", "30 3 * * 0"),
        ("Monthly (1st)", "30 3 1 * *"),
    ]
}

fn bit(mask: u64, n: u32) -> bool {
    n < 64 && mask & (1u64 << n) != 0
}

/// Smallest set bit at or above `from`.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let m = mask & (u64::MAX << from);
    (m != 0).then(|| m.trailing_zeros())
}

/// Largest set bit at or below `from`.
fn prev_bit(mask: u64, from: u32) -> Option<u32> {
    let m = if from >= 63 {
        mask
    } else {
        mask & ((1u64 << (from + 1)) - 1)
    };
    (m != 0).then(|| 63 - m.leading_zeros())
}

fn bits(mask: u64) -> Vec<u32> {
    (0..64).filter(|n| bit(mask, *n)).collect()
}

fn range_mask(lo: u32, hi: u32) -> u64 {
    (lo..=hi).fold(0, |m, n| m | (1u64 << n))
}

fn days_in_month(year: i32, month: u32) -> Option<u32> {
    let (ny, nm) = if month == 12 {
        (year.checked_add(1)?, 1)
    } else {
        (year, month + 1)
    };
    Some(NaiveDate::from_ymd_opt(ny, nm, 1)?.pred_opt()?.day())
}

const MAX_DAYS: [u32; 13] = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const MONTH_NAMES: [&str; 13] = [
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Parses one numeric value or name. `Err(true)` = a number out of range,
/// `Err(false)` = not a value at all.
fn value(field: Field, tok: &str) -> Result<u32, bool> {
    if !tok.is_empty() && tok.bytes().all(|b| b.is_ascii_digit()) {
        let v: u32 = tok.parse().map_err(|_| true)?;
        if v < field.min() || v > field.max() {
            return Err(true);
        }
        return Ok(v);
    }
    field
        .names()
        .iter()
        .position(|n| n.eq_ignore_ascii_case(tok))
        .map(|i| i as u32 + field.first_name_value())
        .ok_or(false)
}

/// Recognizes Quartz extensions to refuse them with a pointed message.
fn unsupported_feature(item: &str) -> Option<&'static str> {
    let up = item.to_ascii_uppercase();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if up == "?" {
        Some("? means \"no specific value\" in Quartz; use *")
    } else if up.contains('#') {
        Some("# means \"nth weekday of the month\" in Quartz")
    } else if up == "L"
        || up.starts_with("L-")
        || up == "LW"
        || (up.ends_with('L') && digits(&up[..up.len() - 1]))
    {
        Some("L means \"last\" in Quartz")
    } else if up.ends_with('W') && digits(&up[..up.len() - 1]) {
        Some("W means \"nearest weekday\" in Quartz")
    } else {
        None
    }
}

fn parse_item(field: Field, item: &str, whole: &str) -> Result<u64, CronError> {
    if item.is_empty() {
        return Err(CronError::Invalid {
            field,
            token: whole.to_string(),
        });
    }
    if let Some(feature) = unsupported_feature(item) {
        return Err(CronError::Unsupported {
            field,
            token: item.to_string(),
            feature,
        });
    }
    let invalid = || CronError::Invalid {
        field,
        token: item.to_string(),
    };
    let one = |tok: &str| -> Result<u32, CronError> {
        value(field, tok).map_err(|out_of_range| {
            if out_of_range {
                CronError::OutOfRange {
                    field,
                    token: tok.to_string(),
                }
            } else {
                invalid()
            }
        })
    };
    let (base, step) = match item.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (item, None),
    };
    let (lo, hi) = if base == "*" {
        (field.min(), field.star_max())
    } else if let Some((a, b)) = base.split_once('-') {
        let (lo, hi) = (one(a)?, one(b)?);
        if lo > hi {
            return Err(CronError::ReversedRange {
                field,
                token: item.to_string(),
            });
        }
        (lo, hi)
    } else {
        if step.is_some() {
            // `5/15`: Vixie refuses it; other crons read 5-max/15.
            return Err(invalid());
        }
        let v = one(base)?;
        (v, v)
    };
    let step = match step {
        None => 1,
        Some(s) => {
            let span = field.star_max() - field.min() + 1;
            let bad = || CronError::BadStep {
                field,
                token: item.to_string(),
                max: span,
            };
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            let n: u32 = s.parse().map_err(|_| bad())?;
            if n == 0 || n > span {
                return Err(bad());
            }
            n
        }
    };
    let mut mask = 0u64;
    let mut v = lo;
    while v <= hi {
        mask |= 1u64 << v;
        v += step;
    }
    Ok(mask)
}

fn parse_field(field: Field, text: &str) -> Result<(u64, bool), CronError> {
    let mut mask = 0u64;
    for item in text.split(',') {
        mask |= parse_item(field, item, text)?;
    }
    if field == Field::DayOfWeek && bit(mask, 7) {
        mask = (mask & !(1u64 << 7)) | 1;
    }
    Ok((mask, text.starts_with('*')))
}

/// Joins words as "a", "a and b", "a, b and c" (or with "or").
fn join(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

/// Groups consecutive values (in the given order) into runs.
fn runs(values: &[u32], consecutive: impl Fn(u32, u32) -> bool) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &v in values {
        match out.last_mut() {
            Some((_, end)) if consecutive(*end, v) => *end = v,
            _ => out.push((v, v)),
        }
    }
    out
}

/// "0, 15 and 30", "1-5 and 10" (runs of three or more become ranges).
fn number_list(values: &[u32], last: &str) -> String {
    let mut parts = Vec::new();
    for (a, b) in runs(values, |x, y| y == x + 1) {
        if b >= a + 2 {
            parts.push(format!("{a}-{b}"));
        } else {
            parts.extend((a..=b).map(|v| v.to_string()));
        }
    }
    join(&parts, last)
}

/// Names with runs of three or more as "Monday through Friday".
fn name_list(
    values: &[u32],
    name: impl Fn(u32) -> &'static str,
    next: impl Fn(u32, u32) -> bool,
    last: &str,
) -> String {
    let mut parts = Vec::new();
    for (a, b) in runs(values, &next) {
        let mut members = vec![a];
        let mut v = a;
        while v != b {
            v = values.iter().copied().find(|w| next(v, *w)).unwrap_or(b);
            members.push(v);
        }
        if members.len() >= 3 {
            parts.push(format!("{} through {}", name(a), name(b)));
        } else {
            parts.extend(members.into_iter().map(|m| name(m).to_string()));
        }
    }
    join(&parts, last)
}

fn weekday_list(mask: u64, last: &str) -> String {
    // Monday first, Sunday last.
    let order: Vec<u32> = [1, 2, 3, 4, 5, 6, 0]
        .into_iter()
        .filter(|d| bit(mask, *d))
        .collect();
    name_list(
        &order,
        |d| DAY_NAMES[d as usize % 7],
        |a, b| (a + 1) % 7 == b && a != 0,
        last,
    )
}

fn month_list(mask: u64) -> String {
    name_list(
        &bits(mask),
        |m| MONTH_NAMES[m as usize % 13],
        |a, b| b == a + 1,
        "and",
    )
}

/// `Some(n)` when `values` is exactly 0, n, 2n, ... below `span`, n >= 2.
fn even_step(values: &[u32], span: u32) -> Option<u32> {
    let n = *values.get(1)?;
    if values[0] != 0 || n < 2 || !span.is_multiple_of(n) {
        return None;
    }
    let want: Vec<u32> = (0..span).step_by(n as usize).collect();
    (want == values).then_some(n)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        one.to_string()
    } else {
        many.to_string()
    }
}

enum TimePhrase {
    /// A few times of day, e.g. 02:30 and 14:30.
    At(String),
    /// Sub-daily repetition, e.g. "every 15 minutes".
    Recurring(String),
}

enum DayPhrase {
    Every,
    /// Only day-of-month restricts: "day 1", "days 1 and 15".
    DomOnly(String),
    Other(String),
}

/// The local instant a matching wall-clock time stands for: the first
/// occurrence in a fold, the first instant after the gap in a gap.
fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => {
            if let Some(end) = GapInfo::new(&local, &tz).and_then(|g| g.end) {
                return Some(end.with_timezone(&Utc));
            }
            // Fallback: first existing minute after the gap (at most a day).
            let mut l = local;
            for _ in 0..(26 * 60) {
                l = l.checked_add_signed(Duration::minutes(1))?;
                match tz.from_local_datetime(&l) {
                    LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
                    LocalResult::Ambiguous(a, b) => return Some(a.min(b).with_timezone(&Utc)),
                    LocalResult::None => {}
                }
            }
            None
        }
    }
}

/// Local wall-clock time of `t` in `tz`, without panicking at the limits.
fn local_of(t: DateTime<Utc>, tz: Tz) -> Option<NaiveDateTime> {
    let off = tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    t.naive_utc().checked_add_offset(off)
}

fn floor_minute(t: NaiveDateTime) -> NaiveDateTime {
    t.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

impl Schedule {
    /// Parses a 5-field expression or a preset (`@daily` ...).
    ///
    /// Leading and trailing blanks are ignored; fields are separated by any
    /// run of blanks. See the module documentation for the syntax.
    ///
    /// # Errors
    ///
    /// A [`CronError`] naming the field, the offending token and what is
    /// allowed; [`CronError::NeverRuns`] for dates that never occur
    /// (`0 0 31 2 *`).
    pub fn parse(expr: &str) -> Result<Schedule, CronError> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Err(CronError::Empty);
        }
        let body = if expr.starts_with('@') {
            PRESETS_EXPANSION
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(expr))
                .map(|(_, body)| *body)
                .ok_or_else(|| CronError::UnknownPreset {
                    preset: expr.to_string(),
                })?
        } else {
            expr
        };
        let fields: Vec<&str> = body.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(CronError::FieldCount {
                found: fields.len(),
            });
        }
        let mut masks = [0u64; 5];
        let mut stars = [false; 5];
        for (i, (field, text)) in Field::ALL.iter().zip(&fields).enumerate() {
            let (mask, star) = parse_field(*field, text)?;
            masks[i] = mask;
            stars[i] = star;
        }
        let schedule = Schedule {
            expr: expr.to_string(),
            minutes: masks[0],
            hours: masks[1],
            doms: masks[2],
            months: masks[3],
            dows: masks[4],
            dom_star: stars[2],
            dow_star: stars[4],
        };
        schedule.check_feasible()?;
        Ok(schedule)
    }

    /// The expression as written (trimmed), e.g. `30 3 * * *` or `@daily`.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Under the AND rule, some (day, month) must exist; every valid date
    /// falls on every weekday in some year, so weekdays cannot make it fail.
    fn check_feasible(&self) -> Result<(), CronError> {
        let and_rule = self.dom_star || self.dow_star;
        if !and_rule {
            return Ok(());
        }
        let min_dom = bits(self.doms).first().copied().unwrap_or(32);
        let possible = bits(self.months)
            .iter()
            .any(|m| min_dom <= MAX_DAYS[*m as usize]);
        if possible {
            return Ok(());
        }
        let months: Vec<u32> = bits(self.months);
        let names: Vec<String> = months
            .iter()
            .map(|m| MONTH_NAMES[*m as usize].to_string())
            .collect();
        let verb = if months.len() == 1 { "has" } else { "have" };
        let most = months
            .iter()
            .map(|m| MAX_DAYS[*m as usize])
            .max()
            .unwrap_or(0);
        let days = bits(self.doms);
        Err(CronError::NeverRuns {
            expr: self.expr.clone(),
            why: format!(
                "{} {verb} no day {} (at most {most} days)",
                join(&names, "and"),
                number_list(&days, "or"),
            ),
        })
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        let dom = bit(self.doms, date.day());
        let dow = bit(self.dows, date.weekday().num_days_from_sunday());
        if self.dom_star || self.dow_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    fn next_month_start(&self, date: NaiveDate) -> Option<NaiveDate> {
        match next_bit(self.months, date.month() + 1) {
            Some(m) if m <= 12 => NaiveDate::from_ymd_opt(date.year(), m, 1),
            _ => {
                let m = next_bit(self.months, 1)?;
                NaiveDate::from_ymd_opt(date.year().checked_add(1)?, m, 1)
            }
        }
    }

    fn prev_month_end(&self, date: NaiveDate) -> Option<NaiveDate> {
        let (y, m) = match prev_bit(self.months, date.month() - 1) {
            Some(m) if m >= 1 => (date.year(), m),
            _ => (date.year().checked_sub(1)?, prev_bit(self.months, 12)?),
        };
        NaiveDate::from_ymd_opt(y, m, days_in_month(y, m)?)
    }

    /// Smallest matching wall-clock minute at or after `from` (minute-aligned).
    fn next_local(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let limit = from.year().checked_add(SEARCH_YEARS)?;
        let mut date = from.date();
        let (mut h, mut m) = (from.hour(), from.minute());
        loop {
            if date.year() > limit {
                return None;
            }
            if !bit(self.months, date.month()) {
                date = self.next_month_start(date)?;
                (h, m) = (0, 0);
                continue;
            }
            if !self.day_matches(date) {
                date = date.succ_opt()?;
                (h, m) = (0, 0);
                continue;
            }
            let Some(nh) = next_bit(self.hours, h) else {
                date = date.succ_opt()?;
                (h, m) = (0, 0);
                continue;
            };
            if nh != h {
                (h, m) = (nh, 0);
            }
            let Some(nm) = next_bit(self.minutes, m) else {
                if h == 23 {
                    date = date.succ_opt()?;
                    (h, m) = (0, 0);
                } else {
                    (h, m) = (h + 1, 0);
                }
                continue;
            };
            return date.and_hms_opt(h, nm, 0);
        }
    }

    /// Largest matching wall-clock minute at or before `from`.
    fn prev_local(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let limit = from.year().checked_sub(SEARCH_YEARS)?;
        let mut date = from.date();
        let (mut h, mut m) = (from.hour(), from.minute());
        loop {
            if date.year() < limit {
                return None;
            }
            if !bit(self.months, date.month()) {
                date = self.prev_month_end(date)?;
                (h, m) = (23, 59);
                continue;
            }
            if !self.day_matches(date) {
                date = date.pred_opt()?;
                (h, m) = (23, 59);
                continue;
            }
            let Some(ph) = prev_bit(self.hours, h) else {
                date = date.pred_opt()?;
                (h, m) = (23, 59);
                continue;
            };
            if ph != h {
                (h, m) = (ph, 59);
            }
            let Some(pm) = prev_bit(self.minutes, m) else {
                if h == 0 {
                    date = date.pred_opt()?;
                    (h, m) = (23, 59);
                } else {
                    (h, m) = (h - 1, 59);
                }
                continue;
            };
            return date.and_hms_opt(h, pm, 0);
        }
    }

    /// The first slot strictly after `after`, evaluated in `tz`.
    ///
    /// `None` only when no slot exists within 400 years (or at the limits of
    /// the calendar); schedules accepted by [`Schedule::parse`] always fire
    /// sooner.
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // The slot instant grows with the wall-clock time, and no wall-clock
        // time before local(after) maps after `after`; so scan forward from
        // there, skipping slots that resolve to `after` or earlier (fold,
        // gap).
        let mut l = floor_minute(local_of(after, tz)?);
        loop {
            let cand = self.next_local(l)?;
            let at = resolve(tz, cand)?;
            if at > after {
                return Some(at);
            }
            l = cand.checked_add_signed(Duration::minutes(1))?;
        }
    }

    /// The latest slot at or before `t`, evaluated in `tz`.
    pub fn last_at_or_before(&self, t: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        // Wall-clock times up to the largest local time shown in the last
        // 26 hours can resolve to `t` or earlier (a fold shows a later local
        // time before an earlier one).
        let off = (0..=26)
            .filter_map(|h| t.checked_sub_signed(Duration::hours(h)))
            .map(|s| {
                tz.offset_from_utc_datetime(&s.naive_utc())
                    .fix()
                    .local_minus_utc()
            })
            .max()
            .unwrap_or(0);
        let upper = t
            .naive_utc()
            .checked_add_signed(Duration::seconds(i64::from(off)))?;
        let mut l = floor_minute(upper);
        loop {
            let cand = self.prev_local(l)?;
            let at = resolve(tz, cand)?;
            if at <= t {
                return Some(at);
            }
            l = cand.checked_sub_signed(Duration::minutes(1))?;
        }
    }

    /// The next `n` slots strictly after `after`, in order.
    pub fn upcoming(&self, after: DateTime<Utc>, tz: Tz, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = after;
        while out.len() < n {
            match self.next_after(t, tz) {
                Some(s) => {
                    out.push(s);
                    t = s;
                }
                None => break,
            }
        }
        out
    }

    fn time_phrase(&self) -> TimePhrase {
        let mins = bits(self.minutes);
        let hours = bits(self.hours);
        let all_hours = hours.len() == 24;
        if !all_hours && mins.len() * hours.len() <= 6 {
            let times: Vec<String> = hours
                .iter()
                .flat_map(|h| mins.iter().map(move |m| format!("{h:02}:{m:02}")))
                .collect();
            return TimePhrase::At(join(&times, "and"));
        }
        let every_n = even_step(&mins, 60);
        let minute_part = if mins.len() == 60 {
            "every minute".to_string()
        } else if let Some(n) = every_n {
            format!("every {n} minutes")
        } else {
            format!(
                "at {} {}",
                plural(mins.len(), "minute", "minutes"),
                number_list(&mins, "and")
            )
        };
        if all_hours {
            if mins.len() == 1 || (every_n.is_none() && mins.len() < 60) {
                return TimePhrase::Recurring(format!("every hour {minute_part}"));
            }
            return TimePhrase::Recurring(minute_part);
        }
        if mins.len() == 1 {
            if let Some(n) = even_step(&hours, 24) {
                return TimePhrase::Recurring(format!("every {n} hours {minute_part}"));
            }
        }
        let joiner = if minute_part.starts_with("at") {
            "past"
        } else {
            "during"
        };
        TimePhrase::Recurring(format!(
            "{minute_part} {joiner} {} {}",
            plural(hours.len(), "hour", "hours"),
            number_list(&hours, "and")
        ))
    }

    fn day_phrase(&self) -> DayPhrase {
        let doms = bits(self.doms);
        let dom_full = doms.len() == 31;
        let dow_full = self.dows == range_mask(0, 6);
        let dom_text = format!(
            "{} {}",
            plural(doms.len(), "day", "days"),
            number_list(&doms, "and")
        );
        if self.dom_star || self.dow_star {
            match (dom_full, dow_full) {
                (true, true) => DayPhrase::Every,
                (true, false) => DayPhrase::Other(format!("on {}", weekday_list(self.dows, "and"))),
                (false, true) => DayPhrase::DomOnly(dom_text),
                (false, false) => DayPhrase::Other(format!(
                    "on {} of the month that fall on a {}",
                    dom_text,
                    weekday_list(self.dows, "or")
                )),
            }
        } else if dom_full || dow_full {
            DayPhrase::Every
        } else {
            let dom_text = format!(
                "{} {}",
                plural(doms.len(), "day", "days"),
                number_list(&doms, "or")
            );
            DayPhrase::Other(format!(
                "on {} of the month or on {}",
                dom_text,
                weekday_list(self.dows, "or")
            ))
        }
    }

    /// The schedule in words (time zone not included), e.g. "every hour at
    /// minute 0", "every day at 02:30", "at 03:00 on Monday", "every 15
    /// minutes", "at 00:00 on day 1 of every month"; unusual combinations
    /// get a literal field-by-field description.
    pub fn describe(&self) -> String {
        let months = (self.months != range_mask(1, 12)).then(|| month_list(self.months));
        let day = self.day_phrase();
        let every_day = matches!(day, DayPhrase::Every);
        let day_month: Option<String> = match (day, months) {
            (DayPhrase::Every, None) => None,
            (DayPhrase::Every, Some(m)) => Some(format!("in {m}")),
            (DayPhrase::DomOnly(d), None) => Some(format!("on {d} of every month")),
            (DayPhrase::DomOnly(d), Some(m)) => Some(format!("on {d} of {m}")),
            (DayPhrase::Other(o), None) => Some(o),
            (DayPhrase::Other(o), Some(m)) => Some(format!("{o} in {m}")),
        };
        match (self.time_phrase(), day_month) {
            (TimePhrase::At(t), None) => format!("every day at {t}"),
            (TimePhrase::At(t), Some(dm)) if every_day => format!("every day at {t} {dm}"),
            (TimePhrase::At(t), Some(dm)) => format!("at {t} {dm}"),
            (TimePhrase::Recurring(p), None) => p,
            (TimePhrase::Recurring(p), Some(dm)) => format!("{p} {dm}"),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

impl FromStr for Schedule {
    type Err = CronError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

impl TryFrom<String> for Schedule {
    type Error = CronError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Schedule::parse(&s)
    }
}

impl From<Schedule> for String {
    fn from(s: Schedule) -> String {
        s.expr
    }
}

/// A run to start now: see [`due`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    /// The slot being run: the latest slot at or before now.
    pub slot: DateTime<Utc>,
    /// `now - slot` exceeds the grace period.
    pub late: bool,
    /// Slots after the last run and before `slot` that get no run of their
    /// own (saturates at [`MISSED_SLOTS_CAP`]).
    pub missed_slots: u32,
}

/// Missed-run rule: which slot, if any, to run now.
///
/// The candidate slots are those after `last_slot` (the last slot that ran),
/// or after `created` for a policy that never ran (a slot exactly at
/// `created` does not count), and at or before `now`. The LATEST of them is
/// run, once; the earlier ones are counted in `missed_slots` and not run.
/// When the clock went backwards (`now` before `last_slot`) nothing is due.
pub fn due(
    schedule: &Schedule,
    tz: Tz,
    last_slot: Option<DateTime<Utc>>,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Option<Due> {
    let base = last_slot.unwrap_or(created);
    let slot = schedule.last_at_or_before(now, tz)?;
    if slot <= base {
        return None;
    }
    let mut missed = 0u32;
    let mut t = base;
    while missed < MISSED_SLOTS_CAP {
        match schedule.next_after(t, tz) {
            Some(s) if s < slot => {
                missed += 1;
                t = s;
            }
            _ => break,
        }
    }
    Some(Due {
        slot,
        late: now - slot > grace,
        missed_slots: missed,
    })
}

/// Overdue: the last success (or, without one, the policy's creation; the
/// later of the two when both exist) is older than two intervals of the
/// schedule, the interval being the gap between the two latest slots at or
/// before `now`.
///
/// To spare irregular schedules false alarms (weekdays only: Sunday's gap
/// since Friday is more than twice Thursday-to-Friday), it also needs at
/// least two slots to have passed since that time. A success dated after
/// `now` is never overdue.
pub fn overdue(
    schedule: &Schedule,
    tz: Tz,
    last_success: Option<DateTime<Utc>>,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    let since = last_success.map_or(created, |s| s.max(created));
    if since >= now {
        return false;
    }
    let Some(s1) = schedule.last_at_or_before(now, tz) else {
        return false;
    };
    let Some(s0) = s1
        .checked_sub_signed(Duration::seconds(1))
        .and_then(|t| schedule.last_at_or_before(t, tz))
    else {
        return false;
    };
    if now - since <= (s1 - s0) * 2 {
        return false;
    }
    let Some(first) = schedule.next_after(since, tz) else {
        return false;
    };
    matches!(schedule.next_after(first, tz), Some(second) if second <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;
    use chrono_tz::Pacific::{Kiritimati, Pago_Pago};
    use chrono_tz::UTC;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn s(expr: &str) -> Schedule {
        Schedule::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    /// The error's cause, without its fix; every error must carry one.
    fn err(expr: &str) -> String {
        let e = Schedule::parse(expr).unwrap_err().to_string();
        let (cause, fix) = e
            .split_once(". Fix: ")
            .unwrap_or_else(|| panic!("no \". Fix: \" in {e:?}"));
        assert!(!fix.trim().is_empty(), "{e}");
        cause.to_owned()
    }

    fn fmt_local(t: DateTime<Utc>, tz: Tz) -> String {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
    }

    // ---- Parsing -------------------------------------------------------------

    #[test]
    fn parses_star_values_lists_ranges_steps() {
        let sc = s("*/15 1-3,5 1,15 */3 1-5");
        assert_eq!(bits(sc.minutes), vec![0, 15, 30, 45]);
        assert_eq!(bits(sc.hours), vec![1, 2, 3, 5]);
        assert_eq!(bits(sc.doms), vec![1, 15]);
        assert_eq!(bits(sc.months), vec![1, 4, 7, 10]);
        assert_eq!(bits(sc.dows), vec![1, 2, 3, 4, 5]);
        assert!(!sc.dom_star && !sc.dow_star);
        let sc = s("1-30/5 0-23/6 * * *");
        assert_eq!(bits(sc.minutes), vec![1, 6, 11, 16, 21, 26]);
        assert_eq!(bits(sc.hours), vec![0, 6, 12, 18]);
        assert!(sc.dom_star && sc.dow_star);
        assert_eq!(bits(s("* * * * *").minutes).len(), 60);
        assert_eq!(bits(s("59 23 31 12 6").minutes), vec![59]);
    }

    #[test]
    fn step_edge_cases() {
        assert_eq!(bits(s("*/59 * * * *").minutes), vec![0, 59]);
        assert_eq!(bits(s("*/60 * * * *").minutes), vec![0]);
        assert_eq!(bits(s("0 */24 * * *").hours), vec![0]);
        assert_eq!(bits(s("58-59/5 * * * *").minutes), vec![58]);
        assert_eq!(bits(s("5-5 * * * *").minutes), vec![5]);
        assert_eq!(bits(s("0 0 */31 * *").doms), vec![1]);
        assert_eq!(bits(s("0 0 * * */2").dows), vec![0, 2, 4, 6]);
        assert_eq!(bits(s("0 0 * * 1-7/2").dows), vec![0, 1, 3, 5]);
        assert_eq!(
            err("*/0 * * * *"),
            "minute field: the step in */0 must be between 1 and 60"
        );
        assert_eq!(
            err("*/61 * * * *"),
            "minute field: the step in */61 must be between 1 and 60"
        );
        assert_eq!(
            err("0 0 * * */8"),
            "day-of-week field: the step in */8 must be between 1 and 7"
        );
        assert!(err("*/ * * * *").contains("\"*/\" is not valid"));
        assert!(err("*/x * * * *").contains("\"*/x\" is not valid"));
        assert!(err("5/15 * * * *").contains("\"5/15\" is not valid"));
        assert!(err("*/99999999999 * * * *").contains("between 1 and 60"));
    }

    #[test]
    fn names_are_case_insensitive_and_sunday_is_0_or_7() {
        let a = s("0 0 * jan,Feb,MAR mon-FRI");
        assert_eq!(bits(a.months), vec![1, 2, 3]);
        assert_eq!(bits(a.dows), vec![1, 2, 3, 4, 5]);
        assert_eq!(bits(s("0 0 * * 7").dows), vec![0]);
        assert_eq!(bits(s("0 0 * * 0").dows), vec![0]);
        assert_eq!(bits(s("0 0 * * sun").dows), vec![0]);
        assert_eq!(bits(s("0 0 * * 5-7").dows), vec![0, 5, 6]);
        assert_eq!(bits(s("0 0 * JUL-dec *").months), vec![7, 8, 9, 10, 11, 12]);
        assert_eq!(bits(s("0 0 * * WED").dows), vec![3]);
        assert!(err("JAN * * * *").contains("minute field: \"JAN\" is not valid"));
        assert!(err("0 0 MON * *").contains("day-of-month field: \"MON\" is not valid"));
        assert!(err("0 0 * MONDAY *").contains("month field: \"MONDAY\" is not valid"));
    }

    #[test]
    fn out_of_range_messages_name_field_token_and_range() {
        assert_eq!(err("61 * * * *"), "minute field: 61 is out of range 0-59");
        assert_eq!(err("0 24 * * *"), "hour field: 24 is out of range 0-23");
        assert_eq!(
            err("0 0 0 * *"),
            "day-of-month field: 0 is out of range 1-31"
        );
        assert_eq!(
            err("0 0 32 * *"),
            "day-of-month field: 32 is out of range 1-31"
        );
        assert_eq!(err("0 0 * 13 *"), "month field: 13 is out of range 1-12");
        assert_eq!(err("0 0 * 0 *"), "month field: 0 is out of range 1-12");
        assert_eq!(
            err("0 0 * * 8"),
            "day-of-week field: 8 is out of range 0-7 (0 and 7 are Sunday)"
        );
        assert_eq!(
            err("50-61 * * * *"),
            "minute field: 61 is out of range 0-59"
        );
        assert_eq!(
            err("99999999999 * * * *"),
            "minute field: 99999999999 is out of range 0-59"
        );
    }

    #[test]
    fn quartz_extensions_are_refused_clearly() {
        let e = err("0 0 ? * MON");
        assert!(
            e.starts_with("day-of-month field: ? is not supported (? means"),
            "{e}"
        );
        assert!(e.contains("allowed: 1-31"), "{e}");
        assert!(err("0 0 L * *")
            .starts_with("day-of-month field: L is not supported (L means \"last\""));
        assert!(err("0 0 LW * *").contains("L means"));
        assert!(err("0 0 L-3 * *").contains("L means"));
        assert!(err("0 0 15W * *").starts_with("day-of-month field: 15W is not supported (W means"));
        assert!(err("0 0 * * 5L").starts_with("day-of-week field: 5L is not supported (L means"));
        assert!(
            err("0 0 * * MON#2").starts_with("day-of-week field: MON#2 is not supported (# means")
        );
        assert!(err("0 0 * * 1#1").contains("nth weekday"));
        // Names that contain L or W are still names.
        assert!(Schedule::parse("0 0 * JUL WED").is_ok());
    }

    #[test]
    fn malformed_fields() {
        assert!(err("1,,2 * * * *").contains("minute field: \"1,,2\" is not valid"));
        assert!(err("-5 * * * *").contains("\"-5\" is not valid"));
        assert!(err("5- * * * *").contains("\"5-\" is not valid"));
        assert!(err("1-2-3 * * * *").contains("\"1-2-3\" is not valid"));
        assert!(err("+5 * * * *").contains("\"+5\" is not valid"));
        assert!(err("0 0 * * 0x1").contains("\"0x1\" is not valid"));
        assert_eq!(
            err("30-10 * * * *"),
            "minute field: range 30-10 goes backwards"
        );
        assert!(err("0 0 * * FRI-MON").contains("range FRI-MON goes backwards"));
    }

    #[test]
    fn field_count_and_presets() {
        assert_eq!(err("   "), "empty schedule");
        assert_eq!(
            err("* * * *"),
            "expected 5 fields (minute hour day-of-month month day-of-week) but found 4; \
             every field is required: write * for \"any\""
        );
        assert!(err("0 0 3 * * *").ends_with("found 6; a seconds or year field is not supported"));
        assert!(err("0 0 3 * * * 2026").ends_with("seconds and year fields are not supported"));
        assert_eq!(err("@reboot"), "unknown preset @reboot");
        assert!(Schedule::parse("@reboot")
            .unwrap_err()
            .to_string()
            .contains("Fix: use one of @hourly"));
        assert!(err("@every 5m").starts_with("unknown preset @every 5m"));
        for (preset, body) in PRESETS_EXPANSION {
            let a = s(preset);
            let b = s(body);
            assert_eq!(a.expr(), *preset);
            assert_eq!(
                (a.minutes, a.hours, a.doms, a.months, a.dows),
                (b.minutes, b.hours, b.doms, b.months, b.dows)
            );
        }
        assert!(Schedule::parse("@DAILY").is_ok());
        assert_eq!(s("  30\t3  * *   * ").expr(), "30\t3  * *   *");
    }

    #[test]
    fn presets_parse_and_describe() {
        let described: Vec<(String, String)> = presets()
            .iter()
            .map(|(label, expr)| (label.to_string(), s(expr).describe()))
            .collect();
        assert_eq!(
            described,
            vec![
                ("Hourly".into(), "every hour at minute 17".into()),
                (
                    "Every 6 hours".into(),
                    "every day at 00:17, 06:17, 12:17 and 18:17".into()
                ),
                ("Daily".into(), "every day at 03:30".into()),
                ("Weekly (Sunday)".into(), "at 03:30 on Sunday".into()),
                (
                    "Monthly (1st)".into(),
                    "at 03:30 on day 1 of every month".into()
                ),
            ]
        );
    }

    #[test]
    fn impossible_dates_are_refused_at_parse_time() {
        assert_eq!(
            err("0 0 31 2 *"),
            "schedule \"0 0 31 2 *\" never runs: February has no day 31 (at most 29 days)"
        );
        assert_eq!(
            err("0 0 30,31 FEB *"),
            "schedule \"0 0 30,31 FEB *\" never runs: February has no day 30 or 31 (at most 29 days)"
        );
        assert_eq!(
            err("0 0 31 4,6,9,11 *"),
            "schedule \"0 0 31 4,6,9,11 *\" never runs: April, June, September and November have \
             no day 31 (at most 30 days)"
        );
        // A star-prefixed day-of-week keeps the AND rule, so still impossible.
        assert!(err("0 0 31 2 */2").contains("never runs"));
        // With both restricted the OR rule makes Mondays in February fire.
        assert!(Schedule::parse("0 0 31 2 MON").is_ok());
        // Feb 29 exists (in leap years).
        assert!(Schedule::parse("0 0 29 2 *").is_ok());
        assert!(Schedule::parse("0 0 31 1-2 *").is_ok());
    }

    #[test]
    fn display_fromstr_and_serde_string_form() {
        let a: Schedule = "30 3 * * *".parse().unwrap();
        assert_eq!(a.to_string(), "30 3 * * *");
        assert_eq!(String::from(a.clone()), "30 3 * * *");
        assert_eq!(Schedule::try_from("30 3 * * *".to_string()).unwrap(), a);
        assert!(Schedule::try_from("61 * * * *".to_string()).is_err());
        use serde::de::value::{Error as DeError, StringDeserializer};
        use serde::de::IntoDeserializer;
        let de: StringDeserializer<DeError> = "0 0 31 2 *".to_string().into_deserializer();
        assert!(Schedule::deserialize(de)
            .unwrap_err()
            .to_string()
            .contains("never runs"));
        let de: StringDeserializer<DeError> = "@weekly".to_string().into_deserializer();
        assert_eq!(Schedule::deserialize(de).unwrap().expr(), "@weekly");
    }

    // ---- next_after ----------------------------------------------------------

    #[test]
    fn next_after_is_strictly_after() {
        let sc = s("30 3 * * *");
        let at = utc(2026, 5, 5, 3, 30);
        assert_eq!(sc.next_after(at, UTC), Some(utc(2026, 5, 6, 3, 30)));
        assert_eq!(sc.next_after(at - Duration::nanoseconds(1), UTC), Some(at));
        assert_eq!(
            sc.next_after(at + Duration::seconds(1), UTC),
            Some(utc(2026, 5, 6, 3, 30))
        );
        let every = s("* * * * *");
        assert_eq!(
            every.next_after(utc(2026, 5, 5, 3, 30) + Duration::milliseconds(1), UTC),
            Some(utc(2026, 5, 5, 3, 31))
        );
        assert_eq!(
            every.next_after(utc(2026, 12, 31, 23, 59), UTC),
            Some(utc(2027, 1, 1, 0, 0))
        );
    }

    #[test]
    fn upcoming_lists_in_order() {
        let sc = s("*/15 * * * *");
        assert_eq!(
            sc.upcoming(utc(2026, 5, 5, 23, 40), UTC, 3),
            vec![
                utc(2026, 5, 5, 23, 45),
                utc(2026, 5, 6, 0, 0),
                utc(2026, 5, 6, 0, 15)
            ]
        );
        assert!(sc.upcoming(utc(2026, 5, 5, 23, 40), UTC, 0).is_empty());
        let sc = s("0 0 1 */3 *");
        assert_eq!(
            sc.upcoming(utc(2026, 5, 5, 0, 0), UTC, 4),
            vec![
                utc(2026, 7, 1, 0, 0),
                utc(2026, 10, 1, 0, 0),
                utc(2027, 1, 1, 0, 0),
                utc(2027, 4, 1, 0, 0)
            ]
        );
    }

    #[test]
    fn feb_29_schedules_wait_for_leap_years() {
        let sc = s("0 0 29 2 *");
        assert_eq!(
            sc.next_after(utc(2026, 3, 1, 0, 0), UTC),
            Some(utc(2028, 2, 29, 0, 0))
        );
        assert_eq!(
            sc.next_after(utc(2028, 2, 29, 0, 0), UTC),
            Some(utc(2032, 2, 29, 0, 0))
        );
        // 2100 is not a leap year.
        assert_eq!(
            sc.next_after(utc(2097, 1, 1, 0, 0), UTC),
            Some(utc(2104, 2, 29, 0, 0))
        );
        assert_eq!(
            sc.last_at_or_before(utc(2103, 1, 1, 0, 0), UTC),
            Some(utc(2096, 2, 29, 0, 0))
        );
        // Feb 29 that is a Sunday (AND rule: */7 starts with *).
        let sun = s("0 0 29 2 */7");
        let t = sun.next_after(utc(2026, 1, 1, 0, 0), UTC).unwrap();
        assert_eq!(t, utc(2032, 2, 29, 0, 0));
        assert_eq!(t.weekday(), Weekday::Sun);
        let t = sun.next_after(t, UTC).unwrap();
        assert_eq!(t, utc(2060, 2, 29, 0, 0));
        // Feb 29 in local time far from UTC.
        assert_eq!(
            sc.next_after(utc(2026, 3, 1, 0, 0), Kiritimati),
            Some(utc(2028, 2, 28, 10, 0))
        );
    }

    #[test]
    fn month_ends_and_31st() {
        let sc = s("0 12 31 * *");
        assert_eq!(
            sc.upcoming(utc(2026, 1, 31, 12, 0), UTC, 3),
            vec![
                utc(2026, 3, 31, 12, 0),
                utc(2026, 5, 31, 12, 0),
                utc(2026, 7, 31, 12, 0)
            ]
        );
    }

    #[test]
    fn vixie_or_rule_when_both_day_fields_restricted() {
        // Friday the 13th in Vixie cron means "the 13th, and every Friday".
        let sc = s("0 0 13 * FRI");
        let got = sc.upcoming(utc(2026, 3, 1, 0, 0), UTC, 5);
        let days: Vec<String> = got.iter().map(|t| t.format("%a %d").to_string()).collect();
        assert_eq!(days, ["Fri 06", "Fri 13", "Fri 20", "Fri 27", "Fri 03"]);
        let got = sc.upcoming(utc(2026, 4, 1, 0, 0), UTC, 3);
        let days: Vec<String> = got.iter().map(|t| t.format("%a %d").to_string()).collect();
        assert_eq!(days, ["Fri 03", "Fri 10", "Mon 13"]);
        // 1-31 is "restricted" too (it does not start with *): every day.
        let all = s("0 0 1-31 * MON");
        assert_eq!(all.upcoming(utc(2026, 3, 1, 0, 0), UTC, 3).len(), 3);
        assert_eq!(
            all.next_after(utc(2026, 3, 3, 0, 0), UTC),
            Some(utc(2026, 3, 4, 0, 0))
        );
    }

    #[test]
    fn vixie_star_prefixed_field_keeps_the_and_rule() {
        // Odd days that are Mondays.
        let sc = s("0 0 */2 * MON");
        let got = sc.upcoming(utc(2026, 3, 1, 0, 0), UTC, 4);
        for t in &got {
            assert_eq!(t.weekday(), Weekday::Mon);
            assert_eq!(t.day() % 2, 1);
        }
        assert_eq!(got[0], utc(2026, 3, 9, 0, 0));
        // Only day-of-week restricted: plain weekdays.
        let sc = s("0 3 * * 1-5");
        let got = sc.upcoming(utc(2026, 3, 6, 4, 0), UTC, 2); // Friday
        assert_eq!(got, vec![utc(2026, 3, 9, 3, 0), utc(2026, 3, 10, 3, 0)]);
    }

    #[test]
    fn next_after_is_efficient_for_sparse_schedules() {
        // 2000 calls each skipping years would take minutes minute-by-minute.
        let sc = s("0 0 29 2 */7");
        let mut t = utc(2000, 1, 1, 0, 0);
        for _ in 0..50 {
            t = sc.next_after(t, Berlin).unwrap();
        }
        assert!(t.year() > 3000);
        let sc = s("59 23 31 12 *");
        let mut t = utc(2000, 1, 1, 0, 0);
        for _ in 0..2000 {
            t = sc.next_after(t, New_York).unwrap();
        }
        // The first slot is 1999-12-31 23:59 New York time (04:59 UTC on
        // 2000-01-01), so the 2000th is in 3998.
        assert_eq!(t.with_timezone(&New_York).year(), 3998);
    }

    #[test]
    fn limits_of_the_calendar_do_not_panic() {
        let sc = s("0 0 1 1 *");
        assert_eq!(sc.next_after(DateTime::<Utc>::MAX_UTC, Kiritimati), None);
        assert_eq!(
            sc.last_at_or_before(DateTime::<Utc>::MIN_UTC, Pago_Pago),
            None
        );
        let far = DateTime::<Utc>::MAX_UTC - Duration::days(400);
        let _ = sc.upcoming(far, Kiritimati, 5);
        let _ = due(
            &sc,
            Kiritimati,
            None,
            far,
            DateTime::<Utc>::MAX_UTC,
            Duration::zero(),
        );
        let _ = overdue(
            &sc,
            Kiritimati,
            None,
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
        );
    }

    // ---- DST -----------------------------------------------------------------

    #[test]
    fn berlin_spring_gap_runs_once_after_the_gap() {
        // 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00 UTC.
        let sc = s("30 2 * * *");
        let got = sc.upcoming(utc(2026, 3, 27, 12, 0), Berlin, 4);
        let shown: Vec<String> = got.iter().map(|t| fmt_local(*t, Berlin)).collect();
        assert_eq!(
            shown,
            [
                "2026-03-28 02:30 CET",
                "2026-03-29 03:00 CEST",
                "2026-03-30 02:30 CEST",
                "2026-03-31 02:30 CEST"
            ]
        );
        assert_eq!(got[1], utc(2026, 3, 29, 1, 0));
        // Several slots in the gap and a real one at 03:00 collapse into one.
        let sc = s("*/15 * * * *");
        let got = sc.upcoming(utc(2026, 3, 29, 0, 30), Berlin, 4);
        let shown: Vec<String> = got.iter().map(|t| fmt_local(*t, Berlin)).collect();
        assert_eq!(
            shown,
            [
                "2026-03-29 01:45 CET",
                "2026-03-29 03:00 CEST",
                "2026-03-29 03:15 CEST",
                "2026-03-29 03:30 CEST"
            ]
        );
        let sc = s("0,30 2,3 * * *");
        let got = sc.upcoming(utc(2026, 3, 29, 0, 0), Berlin, 3);
        let shown: Vec<String> = got.iter().map(|t| fmt_local(*t, Berlin)).collect();
        assert_eq!(
            shown,
            [
                "2026-03-29 03:00 CEST",
                "2026-03-29 03:30 CEST",
                "2026-03-30 02:00 CEST"
            ]
        );
    }

    #[test]
    fn berlin_autumn_fold_runs_the_first_occurrence_only() {
        // 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00 UTC.
        let sc = s("30 2 * * *");
        let got = sc.upcoming(utc(2026, 10, 24, 12, 0), Berlin, 3);
        assert_eq!(got[0], utc(2026, 10, 25, 0, 30));
        let shown: Vec<String> = got.iter().map(|t| fmt_local(*t, Berlin)).collect();
        assert_eq!(
            shown,
            [
                "2026-10-25 02:30 CEST",
                "2026-10-26 02:30 CET",
                "2026-10-27 02:30 CET"
            ]
        );
        // Asked from inside the second 02:xx hour, the next run is tomorrow.
        assert_eq!(
            sc.next_after(utc(2026, 10, 25, 1, 10), Berlin),
            Some(utc(2026, 10, 26, 1, 30))
        );
        // Hourly: 02:00 runs once, so 03:00 CET follows 02:00 CEST.
        let sc = s("0 * * * *");
        let got = sc.upcoming(utc(2026, 10, 24, 23, 30), Berlin, 3);
        let shown: Vec<String> = got.iter().map(|t| fmt_local(*t, Berlin)).collect();
        assert_eq!(
            shown,
            [
                "2026-10-25 02:00 CEST",
                "2026-10-25 03:00 CET",
                "2026-10-25 04:00 CET"
            ]
        );
        // */15 from inside the second occurrence continues at 03:00 CET.
        let sc = s("*/15 * * * *");
        assert_eq!(
            sc.next_after(utc(2026, 10, 25, 1, 20), Berlin),
            Some(utc(2026, 10, 25, 2, 0))
        );
        assert_eq!(
            sc.last_at_or_before(utc(2026, 10, 25, 1, 50), Berlin),
            Some(utc(2026, 10, 25, 0, 45))
        );
    }

    #[test]
    fn new_york_spring_gap_and_autumn_fold() {
        // 2026-03-08: 02:00 EST -> 03:00 EDT (07:00 UTC).
        let sc = s("30 2 * * *");
        let got = sc.upcoming(utc(2026, 3, 7, 12, 0), New_York, 2);
        let shown: Vec<String> = got.iter().map(|t| fmt_local(*t, New_York)).collect();
        assert_eq!(shown, ["2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"]);
        assert_eq!(got[0], utc(2026, 3, 8, 7, 0));
        // 2026-11-01: 02:00 EDT -> 01:00 EST (06:00 UTC).
        let sc = s("30 1 * * *");
        let got = sc.upcoming(utc(2026, 10, 31, 12, 0), New_York, 2);
        assert_eq!(got, vec![utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]);
        let shown: Vec<String> = got.iter().map(|t| fmt_local(*t, New_York)).collect();
        assert_eq!(shown, ["2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"]);
        assert_eq!(
            sc.last_at_or_before(utc(2026, 11, 1, 6, 45), New_York),
            Some(utc(2026, 11, 1, 5, 30))
        );
    }

    /// Brute force: walk minute by minute in UTC and decide from the
    /// definition whether each instant is a slot.
    fn brute_slots(
        sc: &Schedule,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let matches = |l: NaiveDateTime| {
            bit(sc.minutes, l.minute())
                && bit(sc.hours, l.hour())
                && bit(sc.months, l.month())
                && sc.day_matches(l.date())
        };
        let mut out = Vec::new();
        let mut u = from;
        while u <= to {
            let cur = u.with_timezone(&tz).naive_local();
            let prev = (u - Duration::minutes(1)).with_timezone(&tz).naive_local();
            let first_occurrence = tz
                .from_local_datetime(&cur)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                == Some(u);
            let mut slot = matches(cur) && first_occurrence;
            // Local minutes skipped between prev and cur (a gap).
            let mut l = prev + Duration::minutes(1);
            while l < cur {
                if matches(l) {
                    slot = true;
                }
                l += Duration::minutes(1);
            }
            if slot {
                out.push(u);
            }
            u += Duration::minutes(1);
        }
        out
    }

    #[test]
    fn next_and_last_match_brute_force_around_dst() {
        let cases = [
            (Berlin, utc(2026, 3, 28, 20, 0)),
            (Berlin, utc(2026, 10, 24, 20, 0)),
            (New_York, utc(2026, 3, 8, 0, 0)),
            (New_York, utc(2026, 10, 31, 23, 0)),
            (Kiritimati, utc(2026, 6, 1, 0, 0)),
            (Pago_Pago, utc(2026, 12, 31, 0, 0)),
            (chrono_tz::Australia::Lord_Howe, utc(2026, 10, 3, 10, 0)),
            (chrono_tz::Australia::Lord_Howe, utc(2026, 4, 4, 10, 0)),
            (chrono_tz::Asia::Kolkata, utc(2026, 6, 1, 0, 0)),
        ];
        let exprs = [
            "*/15 * * * *",
            "30 2 * * *",
            "0 * * * *",
            "7,37 1-3 * * *",
            "0 0 * * *",
            "*/7 2 * * SUN",
            "45 1,2 * * *",
        ];
        for (tz, from) in cases {
            let to = from + Duration::hours(30);
            for e in exprs {
                let sc = s(e);
                let want = brute_slots(&sc, tz, from, to);
                let mut got = Vec::new();
                let mut t = from - Duration::seconds(1);
                while let Some(n) = sc.next_after(t, tz) {
                    if n > to {
                        break;
                    }
                    got.push(n);
                    t = n;
                }
                assert_eq!(got, want, "{e} in {tz} from {from}");
                // last_at_or_before agrees at every minute in the range.
                let mut u = from;
                while u <= to {
                    let expect = want.iter().rev().find(|w| **w <= u).copied();
                    if expect.is_some() {
                        assert_eq!(sc.last_at_or_before(u, tz), expect, "{e} {tz} at {u}");
                    }
                    u += Duration::minutes(7);
                }
            }
        }
    }

    #[test]
    fn kiritimati_and_pago_pago_local_midnight() {
        let sc = s("0 0 * * *");
        assert_eq!(
            sc.next_after(utc(2026, 6, 1, 0, 0), Kiritimati),
            Some(utc(2026, 6, 1, 10, 0))
        );
        assert_eq!(
            sc.next_after(utc(2026, 6, 1, 0, 0), Pago_Pago),
            Some(utc(2026, 6, 1, 11, 0))
        );
        // Monday in Kiritimati is still Sunday in UTC.
        let sc = s("0 3 * * MON");
        let t = sc.next_after(utc(2026, 6, 1, 0, 0), Kiritimati).unwrap();
        assert_eq!(fmt_local(t, Kiritimati), "2026-06-08 03:00 +14");
        assert_eq!(t.weekday(), Weekday::Sun);
    }

    // ---- describe ------------------------------------------------------------

    #[test]
    fn describes_common_schedules_in_words() {
        let cases = [
            ("0 * * * *", "every hour at minute 0"),
            ("@hourly", "every hour at minute 0"),
            ("30 2 * * *", "every day at 02:30"),
            ("@daily", "every day at 00:00"),
            ("0 3 * * MON", "at 03:00 on Monday"),
            ("0 3 * * 1", "at 03:00 on Monday"),
            ("*/15 * * * *", "every 15 minutes"),
            ("* * * * *", "every minute"),
            ("@weekly", "at 00:00 on Sunday"),
            ("@monthly", "at 00:00 on day 1 of every month"),
            ("@yearly", "at 00:00 on day 1 of January"),
            ("0 0 29 2 *", "at 00:00 on day 29 of February"),
            ("0 2 * * 1-5", "at 02:00 on Monday through Friday"),
            ("0 2 * * 6,0", "at 02:00 on Saturday and Sunday"),
            ("0 2 * * 5-7", "at 02:00 on Friday through Sunday"),
            ("30 2,14 * * *", "every day at 02:30 and 14:30"),
            ("0 */2 * * *", "every 2 hours at minute 0"),
            ("5,35 * * * *", "every hour at minutes 5 and 35"),
            (
                "*/15 9-17 * * 1-5",
                "every 15 minutes during hours 9-17 on Monday through Friday",
            ),
            ("0 0 1,15 * *", "at 00:00 on days 1 and 15 of every month"),
            ("0 0 1 1,7 *", "at 00:00 on day 1 of January and July"),
            ("0 4 * 1-3 *", "every day at 04:00 in January through March"),
            (
                "0 0 13 * FRI",
                "at 00:00 on day 13 of the month or on Friday",
            ),
            (
                "0 0 */2 * MON",
                "at 00:00 on days 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29 and 31 \
                 of the month that fall on a Monday",
            ),
            ("0 0 1-31 * MON", "every day at 00:00"),
            (
                "10 1-23/2 * * *",
                "at minute 10 past hours 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21 and 23",
            ),
            ("0,30 9 * * *", "every day at 09:00 and 09:30"),
            ("* 9 * * *", "every minute during hour 9"),
            ("0-9 * * * *", "every hour at minutes 0-9"),
            ("0 12 * * 1,3,5", "at 12:00 on Monday, Wednesday and Friday"),
        ];
        for (expr, want) in cases {
            assert_eq!(s(expr).describe(), want, "{expr}");
        }
    }

    // ---- due -------------------------------------------------------------------

    #[test]
    fn due_never_run_policy() {
        let sc = s("0 * * * *");
        let created = utc(2026, 5, 5, 10, 5);
        let grace = Duration::minutes(10);
        // Before the first slot after creation: nothing.
        assert_eq!(
            due(&sc, UTC, None, created, utc(2026, 5, 5, 10, 59), grace),
            None
        );
        // First slot reached.
        assert_eq!(
            due(&sc, UTC, None, created, utc(2026, 5, 5, 11, 0), grace),
            Some(Due {
                slot: utc(2026, 5, 5, 11, 0),
                late: false,
                missed_slots: 0
            })
        );
        // A slot exactly at creation does not count.
        let created = utc(2026, 5, 5, 10, 0);
        assert_eq!(
            due(&sc, UTC, None, created, utc(2026, 5, 5, 10, 30), grace),
            None
        );
    }

    #[test]
    fn due_on_time_and_already_ran() {
        let sc = s("30 3 * * *");
        let created = utc(2026, 1, 1, 0, 0);
        let grace = Duration::minutes(15);
        let last = Some(utc(2026, 5, 4, 3, 30));
        assert_eq!(
            due(&sc, UTC, last, created, utc(2026, 5, 5, 3, 29), grace),
            None
        );
        assert_eq!(
            due(&sc, UTC, last, created, utc(2026, 5, 5, 3, 30), grace),
            Some(Due {
                slot: utc(2026, 5, 5, 3, 30),
                late: false,
                missed_slots: 0
            })
        );
        // Exactly at the grace limit is not late; one second past is.
        let at = utc(2026, 5, 5, 3, 45);
        assert!(!due(&sc, UTC, last, created, at, grace).unwrap().late);
        assert!(
            due(&sc, UTC, last, created, at + Duration::seconds(1), grace)
                .unwrap()
                .late
        );
        // Once run, the same slot is not due again.
        let last = Some(utc(2026, 5, 5, 3, 30));
        assert_eq!(
            due(&sc, UTC, last, created, utc(2026, 5, 5, 9, 0), grace),
            None
        );
    }

    #[test]
    fn due_after_missing_three_slots_runs_once_late() {
        // Last ran 10:00; the scheduler was down until 14:30. Slots 11, 12
        // and 13 are missed; 14:00 runs once, 30 minutes late.
        let sc = s("0 * * * *");
        let d = due(
            &sc,
            UTC,
            Some(utc(2026, 5, 5, 10, 0)),
            utc(2026, 1, 1, 0, 0),
            utc(2026, 5, 5, 14, 30),
            Duration::minutes(10),
        );
        assert_eq!(
            d,
            Some(Due {
                slot: utc(2026, 5, 5, 14, 0),
                late: true,
                missed_slots: 3
            })
        );
        // After that run nothing more is due until 15:00.
        assert_eq!(
            due(
                &sc,
                UTC,
                Some(utc(2026, 5, 5, 14, 0)),
                utc(2026, 1, 1, 0, 0),
                utc(2026, 5, 5, 14, 31),
                Duration::minutes(10)
            ),
            None
        );
    }

    #[test]
    fn due_when_the_clock_went_backwards() {
        let sc = s("0 * * * *");
        let last = Some(utc(2026, 5, 5, 12, 0));
        let created = utc(2026, 1, 1, 0, 0);
        let grace = Duration::minutes(10);
        assert_eq!(
            due(&sc, UTC, last, created, utc(2026, 5, 5, 11, 40), grace),
            None
        );
        assert_eq!(
            due(&sc, UTC, last, created, utc(2026, 5, 5, 12, 0), grace),
            None
        );
        assert_eq!(
            due(&sc, UTC, last, created, utc(2026, 5, 4, 9, 0), grace),
            None
        );
        // New policy whose creation time is ahead of the clock.
        assert_eq!(
            due(
                &sc,
                UTC,
                None,
                utc(2026, 5, 6, 0, 0),
                utc(2026, 5, 5, 13, 0),
                grace
            ),
            None
        );
    }

    #[test]
    fn due_missed_slots_saturate() {
        let sc = s("* * * * *");
        let d = due(
            &sc,
            UTC,
            None,
            utc(2025, 1, 1, 0, 0),
            utc(2026, 1, 1, 0, 0),
            Duration::minutes(1),
        )
        .unwrap();
        assert_eq!(d.missed_slots, MISSED_SLOTS_CAP);
        assert_eq!(d.slot, utc(2026, 1, 1, 0, 0));
        assert!(!d.late);
    }

    #[test]
    fn due_across_dst() {
        let grace = Duration::minutes(10);
        let created = utc(2026, 1, 1, 0, 0);
        // Berlin spring: 02:30 runs at 03:00 CEST (01:00 UTC).
        let sc = s("30 2 * * *");
        let last = Some(utc(2026, 3, 28, 1, 30));
        assert_eq!(
            due(&sc, Berlin, last, created, utc(2026, 3, 29, 0, 59), grace),
            None
        );
        assert_eq!(
            due(&sc, Berlin, last, created, utc(2026, 3, 29, 1, 5), grace),
            Some(Due {
                slot: utc(2026, 3, 29, 1, 0),
                late: false,
                missed_slots: 0
            })
        );
        // Berlin autumn: ran at the first 02:30; the second is not due.
        let last = Some(utc(2026, 10, 25, 0, 30));
        assert_eq!(
            due(&sc, Berlin, last, created, utc(2026, 10, 25, 1, 35), grace),
            None
        );
        // New York autumn, 01:30: same.
        let sc = s("30 1 * * *");
        let last = Some(utc(2026, 11, 1, 5, 30));
        assert_eq!(
            due(&sc, New_York, last, created, utc(2026, 11, 1, 6, 35), grace),
            None
        );
        // New York spring: 02:30 runs at 03:00 EDT.
        let sc = s("30 2 * * *");
        let last = Some(utc(2026, 3, 7, 7, 30));
        assert_eq!(
            due(&sc, New_York, last, created, utc(2026, 3, 8, 7, 1), grace),
            Some(Due {
                slot: utc(2026, 3, 8, 7, 0),
                late: false,
                missed_slots: 0
            })
        );
    }

    // ---- overdue ---------------------------------------------------------------

    #[test]
    fn overdue_after_two_intervals() {
        let sc = s("30 3 * * *");
        let created = utc(2026, 1, 1, 0, 0);
        let last = Some(utc(2026, 5, 4, 3, 40)); // Monday's run succeeded
        assert!(!overdue(&sc, UTC, last, created, utc(2026, 5, 5, 12, 0)));
        assert!(!overdue(&sc, UTC, last, created, utc(2026, 5, 6, 3, 40)));
        assert!(overdue(&sc, UTC, last, created, utc(2026, 5, 6, 3, 41)));
        // Hourly: two hours.
        let sc = s("0 * * * *");
        let last = Some(utc(2026, 5, 5, 10, 0));
        assert!(!overdue(&sc, UTC, last, created, utc(2026, 5, 5, 12, 0)));
        assert!(overdue(&sc, UTC, last, created, utc(2026, 5, 5, 12, 1)));
    }

    #[test]
    fn overdue_never_succeeded_counts_from_creation() {
        let sc = s("30 3 * * *");
        let created = utc(2026, 5, 4, 12, 0);
        assert!(!overdue(&sc, UTC, None, created, utc(2026, 5, 5, 12, 0)));
        assert!(!overdue(&sc, UTC, None, created, utc(2026, 5, 6, 12, 0)));
        assert!(overdue(&sc, UTC, None, created, utc(2026, 5, 6, 12, 1)));
        // An old success before the policy was (re)created counts from creation.
        assert!(!overdue(
            &sc,
            UTC,
            Some(utc(2025, 1, 1, 0, 0)),
            created,
            utc(2026, 5, 5, 12, 0)
        ));
    }

    #[test]
    fn overdue_has_no_weekend_false_alarm() {
        // Weekdays at 02:00; Friday's run succeeded.
        let sc = s("0 2 * * 1-5");
        let created = utc(2026, 1, 1, 0, 0);
        let fri = Some(utc(2026, 5, 8, 2, 10));
        assert!(!overdue(&sc, UTC, fri, created, utc(2026, 5, 10, 12, 0))); // Sunday
        assert!(!overdue(&sc, UTC, fri, created, utc(2026, 5, 11, 12, 0))); // Monday
        assert!(overdue(&sc, UTC, fri, created, utc(2026, 5, 12, 12, 0))); // Tuesday
    }

    #[test]
    fn overdue_with_clock_skew_is_false() {
        let sc = s("0 * * * *");
        let created = utc(2026, 1, 1, 0, 0);
        assert!(!overdue(
            &sc,
            UTC,
            Some(utc(2026, 5, 5, 20, 0)),
            created,
            utc(2026, 5, 5, 12, 0)
        ));
        assert!(!overdue(
            &sc,
            UTC,
            None,
            utc(2026, 5, 6, 0, 0),
            utc(2026, 5, 5, 12, 0)
        ));
    }

    // ---- helpers -----------------------------------------------------------

    #[test]
    fn bit_helpers() {
        assert_eq!(next_bit(0b1010, 0), Some(1));
        assert_eq!(next_bit(0b1010, 2), Some(3));
        assert_eq!(next_bit(0b1010, 4), None);
        assert_eq!(next_bit(u64::MAX, 64), None);
        assert_eq!(prev_bit(0b1010, 2), Some(1));
        assert_eq!(prev_bit(0b1010, 0), None);
        assert_eq!(prev_bit(1 << 63, 100), Some(63));
        assert_eq!(days_in_month(2028, 2), Some(29));
        assert_eq!(days_in_month(2100, 2), Some(28));
        assert_eq!(days_in_month(2026, 12), Some(31));
    }
}
