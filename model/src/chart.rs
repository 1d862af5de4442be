//! Charts, pure: which points of a long series to draw ([`downsample`]),
//! "nice" axis ticks for sizes ([`size_axis`], binary units like the rest of
//! pgshelf: B, KiB, MiB, GiB, TiB) and for time ([`time_axis`], hours, days,
//! months or years by range, in a given UTC offset), and mapping a value to
//! a position ([`scale`]). The same code runs on the server (the first
//! render) and in the browser (hydration), so both draw the same chart.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};

/// Most points one line of a chart draws: enough to show every bump on a
/// laptop-wide chart, few enough to stay fast with ten thousand backups.
pub const MAX_POINTS: usize = 240;

/// The indices (ascending) of the points of `values` (in time order) to
/// draw so that at most `max` remain.
///
/// Up to `max` points: all of them. Otherwise the first and the last are
/// kept, the points between are cut into `(max - 2) / 2` runs of equal
/// length, and each run keeps its lowest and its highest point (once if
/// they are the same point): every peak and dip of the series survives, so
/// the global minimum and maximum are always drawn. With room for one
/// point only between the ends, it is the one furthest from the straight
/// line between them. `max == 1` keeps the newest point, `max == 0` none.
pub fn downsample(values: &[f64], max: usize) -> Vec<usize> {
    let n = values.len();
    if n <= max {
        return (0..n).collect();
    }
    match max {
        0 => return Vec::new(),
        1 => return vec![n - 1],
        _ => {}
    }
    let mut keep = Vec::with_capacity(max);
    keep.push(0);
    let inner = n - 2; // >= max - 1 >= 1
    let buckets = (max - 2) / 2;
    if buckets == 0 {
        if max == 3 {
            let (a, b) = (values[0], values[n - 1]);
            let off_line = |i: usize| {
                let line = a + (b - a) * i as f64 / (n - 1) as f64;
                (values[i] - line).abs()
            };
            let far = (1..n - 1)
                .max_by(|&i, &j| off_line(i).total_cmp(&off_line(j)).then(j.cmp(&i)))
                .expect("at least one point between the ends");
            keep.push(far);
        }
    } else {
        for b in 0..buckets {
            let lo = 1 + b * inner / buckets;
            let hi = 1 + (b + 1) * inner / buckets;
            if lo >= hi {
                continue;
            }
            let mut low = lo;
            let mut high = lo;
            for i in lo..hi {
                if values[i].total_cmp(&values[low]).is_lt() {
                    low = i;
                }
                if values[i].total_cmp(&values[high]).is_gt() {
                    high = i;
                }
            }
            keep.push(low.min(high));
            if low != high {
                keep.push(low.max(high));
            }
        }
    }
    keep.push(n - 1);
    keep
}

/// Maps `v` in the domain `d0..d1` to `r0..r1` (a zero-width domain maps to
/// the middle of the range).
pub fn scale(v: f64, (d0, d1): (f64, f64), (r0, r1): (f64, f64)) -> f64 {
    if d1 == d0 {
        return (r0 + r1) / 2.0;
    }
    r0 + (v - d0) * (r1 - r0) / (d1 - d0)
}

/// A tick on an axis: where (in the axis's own unit: bytes, or
/// milliseconds since the epoch) and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub value: f64,
    pub label: String,
}

/// An axis: its domain (what the chart's edges stand for) and its ticks,
/// all inside the domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub min: f64,
    pub max: f64,
    pub ticks: Vec<Tick>,
}

/// Binary units, as [`crate::format::human_bytes`] writes them.
const SIZE_UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/// 1, 2, 2.5 or 5 times a power of ten: the smallest such step at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw.is_nan() || raw <= 0.0 || raw.is_infinite() {
        return 1.0;
    }
    let pow = 10f64.powf(raw.log10().floor());
    let f = raw / pow;
    let m = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * pow
}

/// The size axis for values between `lo` and `hi` bytes, with about
/// `target` ticks (at most `target + 2`).
///
/// The axis starts at 0 unless the values sit high above it (the lowest
/// more than half the highest), where a zero baseline would flatten the
/// line: then it starts at a round value just below the lowest. The unit
/// is the largest binary unit not above the highest value; ticks are 1, 2,
/// 2.5 or 5 times a power of ten of that unit (`0 MiB`, `250 MiB`,
/// `500 MiB`), with as many decimals as the step needs (`1.25 GiB`).
pub fn size_axis(lo: i64, hi: i64, target: usize) -> Axis {
    let (lo, hi) = (lo.min(hi).max(0) as f64, lo.max(hi).max(0) as f64);
    let base = if lo * 2.0 <= hi || lo == hi { 0.0 } else { lo };
    let mut k = 0;
    while k + 1 < SIZE_UNITS.len() && hi >= 1024f64.powi(k as i32 + 1) {
        k += 1;
    }
    let unit = 1024f64.powi(k as i32);
    let span = (hi - base) / unit;
    let mut step = nice_step(span / target.max(1) as f64);
    if k == 0 {
        // No fractions of a byte: 2.5 B becomes 5 B.
        step = if step < 1.0 {
            1.0
        } else if step.fract() != 0.0 {
            step * 2.0
        } else {
            step
        };
    }
    let min = (base / unit / step).floor() * step;
    let mut max = (hi / unit / step).ceil() * step;
    if max <= min {
        max = min + step;
    }
    // As many decimals as the step has (2.5 -> 1, 0.25 -> 2), at most 6.
    let decimals = (0..6)
        .find(|&d| {
            let x = step * 10f64.powi(d as i32);
            (x - x.round()).abs() < 1e-6
        })
        .unwrap_or(6);
    let count = ((max - min) / step).round() as usize;
    let ticks = (0..=count)
        .map(|i| {
            let v = min + i as f64 * step;
            Tick {
                value: v * unit,
                label: format!("{v:.decimals$} {}", SIZE_UNITS[k]),
            }
        })
        .collect();
    Axis {
        min: min * unit,
        max: max * unit,
        ticks,
    }
}

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// A step between time ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TimeStep {
    Hours(i64),
    Days(i64),
    Months(u32),
    Years(i32),
}

impl TimeStep {
    /// Roughly how long the step is, in milliseconds.
    fn approx_ms(self) -> i64 {
        match self {
            TimeStep::Hours(h) => h * HOUR,
            TimeStep::Days(d) => d * DAY,
            TimeStep::Months(m) => m as i64 * 30 * DAY,
            TimeStep::Years(y) => y as i64 * 365 * DAY,
        }
    }
}

const TIME_STEPS: [TimeStep; 16] = [
    TimeStep::Hours(1),
    TimeStep::Hours(2),
    TimeStep::Hours(3),
    TimeStep::Hours(6),
    TimeStep::Hours(12),
    TimeStep::Days(1),
    TimeStep::Days(2),
    TimeStep::Days(7),
    TimeStep::Days(14),
    TimeStep::Months(1),
    TimeStep::Months(3),
    TimeStep::Months(6),
    TimeStep::Years(1),
    TimeStep::Years(2),
    TimeStep::Years(5),
    TimeStep::Years(10),
];

/// The time domain of a series from `first` to `last` (milliseconds since
/// the epoch): as it is, or a day either side of a single moment, so one
/// point sits in the middle of a readable axis.
pub fn time_domain(first: i64, last: i64) -> (i64, i64) {
    if last > first {
        (first, last)
    } else {
        (first - DAY, first + DAY)
    }
}

/// Ticks for the time axis from `start` to `end` (milliseconds since the
/// epoch), about `target` of them (never more), on the round hours, days,
/// months or years of the clock at `offset_minutes` east of UTC (the
/// viewer's zone; 0 for UTC). Labels by step: `14:00` (midnight shows the
/// date), `Nov 25`, `Nov` (`Jan 2027` when the year turns, and the first
/// tick names its year), `2026`.
pub fn time_axis(start: i64, end: i64, target: usize, offset_minutes: i32) -> Vec<Tick> {
    let (start, end) = (start.min(end), start.max(end));
    let target = target.max(1);
    let span = end - start;
    let zone = FixedOffset::east_opt(offset_minutes * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    // The first step short enough to guess, then longer ones until the
    // ticks (months and years are not all alike) fit in `target`.
    for step in TIME_STEPS {
        if span / step.approx_ms() >= target as i64 {
            continue;
        }
        let ticks = ticks_every(step, start, end, &zone);
        if ticks.len() <= target {
            return ticks;
        }
    }
    let mut years = 20;
    loop {
        let ticks = ticks_every(TimeStep::Years(years), start, end, &zone);
        if ticks.len() <= target {
            return ticks;
        }
        years *= 2;
    }
}

/// The ticks every `step` from `start` to `end` on the clock of `zone`.
fn ticks_every(step: TimeStep, start: i64, end: i64, zone: &FixedOffset) -> Vec<Tick> {
    let off = zone.local_minus_utc() as i64 * 1000;
    let at = |ms: i64| -> DateTime<FixedOffset> {
        Utc.timestamp_millis_opt(ms)
            .single()
            .unwrap_or_default()
            .with_timezone(zone)
    };
    let mut out = Vec::new();
    match step {
        TimeStep::Hours(_) | TimeStep::Days(_) => {
            let ms = step.approx_ms();
            // Local clock times are multiples of the step from the epoch.
            let mut t = (start + off).div_euclid(ms) * ms - off;
            if t < start {
                t += ms;
            }
            while t <= end {
                let local = at(t);
                let label = match step {
                    TimeStep::Hours(_) if local.hour() != 0 || local.minute() != 0 => {
                        local.format("%H:%M").to_string()
                    }
                    _ => local.format("%b %-d").to_string(),
                };
                out.push(Tick {
                    value: t as f64,
                    label,
                });
                t += ms;
            }
        }
        TimeStep::Months(k) => {
            let first = at(start);
            let (mut y, mut m) = (first.year(), first.month0());
            loop {
                let ms = month_start(y, m, zone);
                if ms > end {
                    break;
                }
                if ms >= start && m % k == 0 {
                    // January and the first tick name their year.
                    let label = if m == 0 || out.is_empty() {
                        at(ms).format("%b %Y").to_string()
                    } else {
                        at(ms).format("%b").to_string()
                    };
                    out.push(Tick {
                        value: ms as f64,
                        label,
                    });
                }
                m += 1;
                if m == 12 {
                    m = 0;
                    y += 1;
                }
            }
        }
        TimeStep::Years(k) => {
            let mut y = at(start).year();
            loop {
                let ms = month_start(y, 0, zone);
                if ms > end {
                    break;
                }
                if ms >= start && y.rem_euclid(k) == 0 {
                    out.push(Tick {
                        value: ms as f64,
                        label: y.to_string(),
                    });
                }
                y += 1;
            }
        }
    }
    out
}

/// Milliseconds since the epoch of the first day of month `m0` (0-based) of
/// `y`, 00:00 at `zone`.
fn month_start(y: i32, m0: u32, zone: &FixedOffset) -> i64 {
    let d = NaiveDate::from_ymd_opt(y, m0 + 1, 1).unwrap_or_default();
    zone.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_bounded(values: &[f64], max: usize) -> Vec<usize> {
        let keep = downsample(values, max);
        assert!(keep.len() <= max, "{} > {max}", keep.len());
        assert!(
            keep.windows(2).all(|w| w[0] < w[1]),
            "ascending, no repeats: {keep:?}"
        );
        assert!(keep.iter().all(|&i| i < values.len()));
        keep
    }

    #[test]
    fn short_series_are_drawn_whole() {
        assert_eq!(downsample(&[], 10), Vec::<usize>::new());
        assert_eq!(downsample(&[5.0], 10), vec![0]);
        assert_eq!(downsample(&[5.0], 1), vec![0]);
        assert_eq!(downsample(&[1.0, 2.0, 3.0], 3), vec![0, 1, 2]);
        assert_eq!(downsample(&[1.0, 2.0], 0), Vec::<usize>::new());
    }

    #[test]
    fn tiny_budgets() {
        let v = [1.0, 9.0, 2.0, 3.0];
        assert_eq!(downsample(&v, 1), vec![3], "the newest point");
        assert_eq!(downsample(&v, 2), vec![0, 3], "the ends");
        assert_eq!(
            downsample(&v, 3),
            vec![0, 1, 3],
            "the ends and the furthest off their line"
        );
        assert_eq!(downsample(&[0.0, 1.0, 2.0, -5.0, 4.0], 3), vec![0, 3, 4]);
        // 4: one run between the ends keeps its lowest and highest.
        assert_eq!(
            downsample(&[5.0, 1.0, 9.0, 4.0, 5.0, 6.0], 4),
            vec![0, 1, 2, 5]
        );
    }

    #[test]
    fn ten_thousand_points_keep_ends_and_extremes() {
        let n = 10_000;
        let mut v: Vec<f64> = (0..n)
            .map(|i| 1000.0 + (i as f64 / 50.0).sin() * 100.0)
            .collect();
        v[4321] = 99_999.0; // a spike
        v[777] = -3.0; // a dip
        for max in [2, 3, 4, 5, 10, 11, 100, MAX_POINTS, 9_999, 10_000, 20_000] {
            let keep = check_bounded(&v, max);
            assert_eq!(keep[0], 0, "first kept at {max}");
            assert_eq!(*keep.last().unwrap(), n - 1, "last kept at {max}");
            if max >= 4 {
                assert!(keep.contains(&4321), "spike kept at {max}");
                assert!(keep.contains(&777), "dip kept at {max}");
            }
        }
        assert_eq!(downsample(&v, MAX_POINTS).len(), MAX_POINTS);
        assert_eq!(downsample(&v, 10_000).len(), 10_000);
    }

    #[test]
    fn every_length_and_budget_stays_bounded() {
        for n in 0..60 {
            let v: Vec<f64> = (0..n).map(|i| ((i * 7919) % 13) as f64).collect();
            for max in 0..(n + 3) {
                let keep = check_bounded(&v, max);
                if n > 0 && max >= 2 {
                    assert_eq!(keep[0], 0);
                    assert_eq!(*keep.last().unwrap(), n - 1);
                }
                if max >= 4 && n > 0 {
                    let hi = v.iter().cloned().fold(f64::MIN, f64::max);
                    let lo = v.iter().cloned().fold(f64::MAX, f64::min);
                    assert!(keep.iter().any(|&i| v[i] == hi), "max kept n={n} max={max}");
                    assert!(keep.iter().any(|&i| v[i] == lo), "min kept n={n} max={max}");
                }
            }
        }
    }

    #[test]
    fn flat_and_monotonic_series() {
        let flat = vec![7.0; 1000];
        let keep = check_bounded(&flat, 10);
        assert_eq!(keep[0], 0);
        assert_eq!(*keep.last().unwrap(), 999);
        let rising: Vec<f64> = (0..1000).map(f64::from).collect();
        let keep = check_bounded(&rising, 10);
        assert_eq!(keep.len(), 10);
    }

    #[test]
    fn scales() {
        assert_eq!(scale(5.0, (0.0, 10.0), (0.0, 100.0)), 50.0);
        assert_eq!(scale(0.0, (0.0, 10.0), (200.0, 0.0)), 200.0);
        assert_eq!(scale(3.0, (3.0, 3.0), (0.0, 100.0)), 50.0);
    }

    fn labels(a: &Axis) -> Vec<&str> {
        a.ticks.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(2.2), 2.5);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(230.0), 250.0);
        assert_eq!(nice_step(0.03), 0.05);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
    }

    #[test]
    fn size_axes_in_binary_units() {
        let mib = 1024 * 1024;
        let a = size_axis(0, 900 * mib, 4);
        assert_eq!(
            labels(&a),
            ["0 MiB", "250 MiB", "500 MiB", "750 MiB", "1000 MiB"]
        );
        assert_eq!(a.min, 0.0);
        assert_eq!(a.max, 1000.0 * mib as f64);
        assert_eq!(a.ticks[1].value, 250.0 * mib as f64);

        let a = size_axis(0, 5 * 1024 * mib / 2, 5);
        assert_eq!(
            labels(&a),
            ["0.0 GiB", "0.5 GiB", "1.0 GiB", "1.5 GiB", "2.0 GiB", "2.5 GiB"]
        );

        // Bytes: whole numbers only.
        let a = size_axis(0, 3, 5);
        assert_eq!(labels(&a), ["0 B", "1 B", "2 B", "3 B"]);
        // Zero, and an all-zero series.
        let a = size_axis(0, 0, 4);
        assert_eq!(labels(&a), ["0 B", "1 B"]);
        assert_eq!((a.min, a.max), (0.0, 1.0));

        // High above zero: the axis starts near the lowest value.
        let a = size_axis(10 * 1024 * mib, 10 * 1024 * mib + 40 * mib, 4);
        assert!(a.min > 0.0 && a.min <= (10 * 1024 * mib) as f64);
        assert!(a.max >= (10 * 1024 * mib + 40 * mib) as f64);
        assert_eq!(labels(&a)[0], "10.00 GiB");
        // A single value: from zero.
        let a = size_axis(3 * mib, 3 * mib, 4);
        assert_eq!(a.min, 0.0);
        assert_eq!(labels(&a), ["0 MiB", "1 MiB", "2 MiB", "3 MiB"]);
        // Terabytes.
        let tib = 1024i64 * 1024 * mib;
        let a = size_axis(0, 3 * tib, 3);
        assert_eq!(labels(&a), ["0 TiB", "1 TiB", "2 TiB", "3 TiB"]);
        // Negative (never in a catalog) reads as zero.
        assert_eq!(size_axis(-5, -1, 4).min, 0.0);
    }

    #[test]
    fn size_axes_hold_the_data_and_few_ticks() {
        let mut x: i64 = 1;
        for _ in 0..2000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = (x >> 20).rem_euclid(1 << 43);
            let b = (x >> 3).rem_euclid(1 << 43);
            for target in [2, 4, 6] {
                let axis = size_axis(a, b, target);
                let (lo, hi) = (a.min(b) as f64, a.max(b) as f64);
                assert!(axis.min <= lo && axis.max >= hi, "{a} {b}: {axis:?}");
                assert!(
                    axis.ticks.len() >= 2 && axis.ticks.len() <= target + 2,
                    "{a} {b} {target}: {axis:?}"
                );
                assert!(axis
                    .ticks
                    .iter()
                    .all(|t| t.value >= axis.min - 1.0 && t.value <= axis.max + 1.0));
                let mut l: Vec<_> = labels(&axis);
                l.dedup();
                assert_eq!(l.len(), axis.ticks.len(), "distinct labels: {axis:?}");
            }
        }
    }

    fn ms(y: i32, m: u32, d: u32, h: u32) -> i64 {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .unwrap()
            .timestamp_millis()
    }

    fn tick_labels(t: &[Tick]) -> Vec<&str> {
        t.iter().map(|t| t.label.as_str()).collect()
    }

    #[test]
    fn time_axes_by_range() {
        // A week: days.
        let t = time_axis(ms(2026, 11, 1, 5), ms(2026, 11, 8, 5), 8, 0);
        assert_eq!(
            tick_labels(&t),
            ["Nov 2", "Nov 3", "Nov 4", "Nov 5", "Nov 6", "Nov 7", "Nov 8"]
        );
        assert_eq!(t[0].value, ms(2026, 11, 2, 0) as f64);
        // 30 days: every 7 days.
        let t = time_axis(ms(2026, 11, 1, 0), ms(2026, 12, 1, 0), 6, 0);
        assert!(t.len() <= 6 && t.len() >= 4, "{t:?}");
        // A year: months, the first and January naming the year.
        let t = time_axis(ms(2026, 1, 15, 0), ms(2027, 1, 15, 0), 6, 0);
        assert_eq!(tick_labels(&t), ["Apr 2026", "Jul", "Oct", "Jan 2027"]);
        // A day: hours, midnight as a date.
        let t = time_axis(ms(2026, 11, 1, 20), ms(2026, 11, 2, 8), 6, 0);
        assert_eq!(tick_labels(&t), ["21:00", "Nov 2", "03:00", "06:00"]);
        // Years.
        let t = time_axis(ms(2015, 3, 1, 0), ms(2026, 3, 1, 0), 6, 0);
        assert_eq!(
            tick_labels(&t),
            ["2016", "2018", "2020", "2022", "2024", "2026"]
        );
        // Single moment: a day either side.
        let (a, b) = time_domain(ms(2026, 11, 1, 0), ms(2026, 11, 1, 0));
        assert_eq!(b - a, 2 * DAY);
        let t = time_axis(a, b, 4, 0);
        assert_eq!(tick_labels(&t), ["Oct 31", "Nov 1", "Nov 2"]);
        assert_eq!(time_domain(1, 5), (1, 5));
    }

    #[test]
    fn time_axes_in_the_viewers_zone() {
        // UTC+02:00: local midnight is 22:00 UTC the day before.
        let t = time_axis(ms(2026, 11, 1, 5), ms(2026, 11, 4, 5), 4, 120);
        assert_eq!(tick_labels(&t), ["Nov 2", "Nov 3", "Nov 4"]);
        assert_eq!(t[0].value, ms(2026, 11, 1, 22) as f64);
        // UTC-05:00, months.
        let t = time_axis(ms(2026, 1, 15, 0), ms(2026, 7, 15, 0), 8, -300);
        assert_eq!(t[0].label, "Feb 2026");
        assert_eq!(t[0].value, ms(2026, 2, 1, 5) as f64);
    }

    #[test]
    fn time_axes_stay_within_bounds_and_count() {
        let start = ms(2020, 1, 1, 0);
        for span_h in [
            1i64,
            5,
            30,
            24 * 9,
            24 * 40,
            24 * 400,
            24 * 3000,
            24 * 40_000,
        ] {
            for target in [2usize, 4, 8] {
                for off in [-720, 0, 330, 840] {
                    let end = start + span_h * HOUR;
                    let t = time_axis(start, end, target, off);
                    assert!(t.len() <= target, "{span_h} h, {target}: {t:?}");
                    assert!(t
                        .iter()
                        .all(|x| x.value >= start as f64 && x.value <= end as f64));
                    assert!(t.windows(2).all(|w| w[0].value < w[1].value));
                }
            }
        }
    }
}
