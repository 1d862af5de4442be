//! An SVG chart of sizes over time, drawn on the server and hydrated: no
//! chart library, nothing downloaded.
//!
//! Axes with binary units (`model::chart::size_axis`) and dates
//! (`model::chart::time_axis`, in the viewer's zone once hydrated); one
//! line with points per series (colours from CSS variables, so dark and
//! light follow the system); a read-out of one backup (its time in the
//! viewer's zone, each line's size with its exact bytes, a link to the
//! backup). Each backup is a column of the plot: hovering anywhere above
//! or below its point, or focusing it with the keyboard (Tab into the
//! chart, then arrow keys, Home, End), reads it out. Without JavaScript
//! every column and point carries an SVG `<title>` with the same words.
//! The width follows its box (the `viewBox` is set to the measured width
//! after hydration, so text stays its size on a phone). No backups: a plain
//! "No backups in this range."; one backup: a point in the middle of a
//! two-day axis.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use model::chart::{scale, size_axis, time_axis, time_domain};

use crate::ui::browser;
use crate::ui::format::human_size;
use crate::ui::viewer_time::{short_utc, use_hydrated, ViewerTime};

/// Height of the drawing, in `viewBox` units (CSS pixels once measured).
const HEIGHT: f64 = 240.0;
/// The narrowest hover band (in chart units) before bands are shared out equally.
const MIN_BAND: f64 = 6.0;
const LEFT: f64 = 76.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;
/// Width drawn by the server (before the box is measured).
const DEFAULT_WIDTH: f64 = 720.0;
/// Narrowest drawing: a phone's width, less the page's margins.
const MIN_WIDTH: f64 = 280.0;

/// One line of a chart, as its legend names it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSeries {
    pub name: String,
    /// Beside the name in the legend (e.g. `10.0 MiB → 50.0 MiB`).
    pub note: String,
}

/// One backup of a chart: when, and each line's size then.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartColumn {
    pub at: DateTime<Utc>,
    pub backup_id: i64,
    /// Per series: bytes, or `None` where that line has no value.
    pub values: Vec<Option<i64>>,
    /// Per series: more to read beside the size (`80.1 MiB raw`, `12000 rows`).
    pub notes: Vec<String>,
}

/// What a chart draws. Columns in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub series: Vec<ChartSeries>,
    pub columns: Vec<ChartColumn>,
    /// The time the x axis spans (a range's start and end); `None`: from
    /// the first column to the last.
    pub domain: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// Where everything goes in a drawing `width` wide.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    pub width: f64,
    /// Per column.
    pub xs: Vec<f64>,
    /// Per series, per column.
    pub ys: Vec<Vec<Option<f64>>>,
    /// Per column: the band of the plot that reads it out (from, to).
    pub bands: Vec<(f64, f64)>,
    pub y_ticks: Vec<(f64, String)>,
    pub x_ticks: Vec<(f64, String)>,
}

/// Lays `data` out in a drawing `width` wide, dates on the clock
/// `offset_minutes` east of UTC.
pub fn geometry(data: &ChartData, width: f64, offset_minutes: i32) -> Geometry {
    let width = width.max(MIN_WIDTH);
    let (x0, x1) = (LEFT, width - RIGHT);
    let (y0, y1) = (HEIGHT - BOTTOM, TOP);
    let ms: Vec<i64> = data
        .columns
        .iter()
        .map(|c| c.at.timestamp_millis())
        .collect();
    let first = ms.first().copied().unwrap_or_default();
    let last = ms.last().copied().unwrap_or_default();
    let (d0, d1) = match data.domain {
        Some((a, b)) => (
            a.timestamp_millis().min(first),
            b.timestamp_millis().max(last),
        ),
        None => time_domain(first, last),
    };
    let (d0, d1) = time_domain(d0, d1);
    let xs: Vec<f64> = ms
        .iter()
        .map(|&t| scale(t as f64, (d0 as f64, d1 as f64), (x0, x1)))
        .collect();
    let all = data.columns.iter().flat_map(|c| c.values.iter().flatten());
    let lo = all.clone().min().copied().unwrap_or(0);
    let hi = all.max().copied().unwrap_or(0);
    let axis = size_axis(lo, hi, 4);
    let y = |v: i64| scale(v as f64, (axis.min, axis.max), (y0, y1));
    let ys = (0..data.series.len())
        .map(|s| {
            data.columns
                .iter()
                .map(|c| c.values.get(s).copied().flatten().map(y))
                .collect()
        })
        .collect();
    let by_time: Vec<(f64, f64)> = (0..xs.len())
        .map(|i| {
            let from = if i == 0 {
                x0
            } else {
                (xs[i - 1] + xs[i]) / 2.0
            };
            let to = if i + 1 == xs.len() {
                x1
            } else {
                (xs[i] + xs[i + 1]) / 2.0
            };
            (from, to)
        })
        .collect();
    // Hover bands reach halfway to the neighbours; backups close together in
    // a long range (three taken in a minute, seen over 30 days) would get
    // bands too thin to point at, so then every backup gets an equal share
    // of the width, in order (the guide line still marks its real time).
    let n = xs.len();
    let bands = if n > 1 && by_time.iter().any(|(a, b)| b - a < MIN_BAND) {
        let w = (x1 - x0) / n as f64;
        (0..n)
            .map(|i| (x0 + w * i as f64, x0 + w * (i + 1) as f64))
            .collect()
    } else {
        by_time
    };
    let x_target = (((x1 - x0) / 110.0).floor() as usize).max(2);
    let x_ticks = time_axis(d0, d1, x_target, offset_minutes)
        .into_iter()
        .map(|t| (scale(t.value, (d0 as f64, d1 as f64), (x0, x1)), t.label))
        .collect();
    let y_ticks = axis
        .ticks
        .into_iter()
        .map(|t| (scale(t.value, (axis.min, axis.max), (y0, y1)), t.label))
        .collect();
    Geometry {
        width,
        xs,
        ys,
        bands,
        y_ticks,
        x_ticks,
    }
}

/// `12893184` as `12,893,184`.
pub fn group_digits(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A size as the read-out and titles say it: `12.3 MiB (12,893,184 bytes)`.
pub fn size_words(bytes: i64) -> String {
    format!("{} ({} bytes)", human_size(bytes), group_digits(bytes))
}

/// The words of one column (its `<title>`, read without JavaScript).
fn column_words(data: &ChartData, i: usize) -> String {
    let c = &data.columns[i];
    let mut parts = vec![short_utc(c.at)];
    for (s, series) in data.series.iter().enumerate() {
        if let Some(v) = c.values.get(s).copied().flatten() {
            let note = c.notes.get(s).filter(|n| !n.is_empty());
            parts.push(match note {
                Some(n) => format!("{}: {}, {n}", series.name, size_words(v)),
                None => format!("{}: {}", series.name, size_words(v)),
            });
        }
    }
    parts.push(format!("backup #{}", c.backup_id));
    parts.join(" · ")
}

/// The path of one series: a line through its points, broken where it has
/// no value.
fn line_path(g: &Geometry, s: usize) -> String {
    let mut d = String::new();
    let mut pen_down = false;
    for (i, y) in g.ys[s].iter().enumerate() {
        match y {
            Some(y) => {
                d.push_str(&format!(
                    "{}{:.1} {:.1} ",
                    if pen_down { "L" } else { "M" },
                    g.xs[i],
                    y
                ));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    d.trim_end().to_owned()
}

/// The chart. `testid` names it for tests (`-readout`, `-empty`, `-col`);
/// `label` is what a screen reader announces for the whole drawing.
#[component]
pub fn SizeChart(
    data: ChartData,
    #[prop(into)] label: String,
    testid: &'static str,
) -> impl IntoView {
    if data.columns.is_empty() {
        return view! {
            <p class="chart-empty muted" data-testid=format!("{testid}-empty")>"No backups in this range."</p>
        }
        .into_any();
    }
    let data = StoredValue::new(data);
    let last = data.with_value(|d| d.columns.len() - 1);
    let width = RwSignal::new(DEFAULT_WIDTH);
    let active = RwSignal::new(None::<usize>);
    let hydrated = use_hydrated();
    let boxed = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if boxed.get().is_none() {
            return;
        }
        let measure = move || {
            if let Some(el) = boxed.get_untracked() {
                let w = browser::width_of(&el);
                if w > 0.0 {
                    width.set(w.max(MIN_WIDTH));
                }
            }
        };
        measure();
        let handle = window_event_listener(leptos::ev::resize, move |_| measure());
        on_cleanup(move || handle.remove());
    });
    let geo = Memo::new(move |_| {
        let w = width.get();
        let offset = if hydrated.get() {
            data.with_value(|d| {
                d.columns
                    .last()
                    .map(|c| browser::offset_minutes(c.at.timestamp_millis()))
                    .unwrap_or(0)
            })
        } else {
            0
        };
        data.with_value(|d| geometry(d, w, offset))
    });
    let col_id = move |i: usize| format!("{testid}-col-{i}");
    let current = move || active.get().unwrap_or(last);

    let grid = move || {
        let g = geo.get();
        let (x0, x1) = (LEFT, g.width - RIGHT);
        let base = HEIGHT - BOTTOM;
        view! {
            <g class="chart-axis" aria-hidden="true">
                {g.y_ticks.iter().map(|(y, label)| view! {
                    <line class="chart-gridline" x1=x0 x2=x1 y1=*y y2=*y/>
                    <text class="chart-label" x=x0 - 8.0 y=*y + 4.0 text-anchor="end">{label.clone()}</text>
                }).collect_view()}
                <line class="chart-baseline" x1=x0 x2=x1 y1=base y2=base/>
                {g.x_ticks.iter().map(|(x, label)| view! {
                    <line class="chart-tick" x1=*x x2=*x y1=base y2=base + 5.0/>
                    <text class="chart-label" x=*x y=base + 19.0 text-anchor="middle">{label.clone()}</text>
                }).collect_view()}
            </g>
        }
    };
    let lines = move || {
        let g = geo.get();
        data.with_value(|d| {
            (0..d.series.len())
                .map(|s| {
                    let name = d.series[s].name.clone();
                    let points = g.ys[s]
                        .iter()
                        .enumerate()
                        .filter_map(|(i, y)| {
                            let y = (*y)?;
                            let v = d.columns[i].values[s]?;
                            let title = format!("{name}: {} · {}", size_words(v), short_utc(d.columns[i].at));
                            let r = if g.xs.len() > 60 { "2" } else { "3.5" };
                            Some(view! {
                                <circle class=format!("chart-point series-{s}") cx=format!("{:.1}", g.xs[i]) cy=format!("{y:.1}") r=r>
                                    <title>{title}</title>
                                </circle>
                            })
                        })
                        .collect_view();
                    view! {
                        <g class=format!("chart-series series-{s}") data-series=name.clone()>
                            <path class=format!("chart-line series-{s}") d=line_path(&g, s)/>
                            {points}
                        </g>
                    }
                })
                .collect_view()
        })
    };
    let guide = move || {
        let g = geo.get();
        let i = active.get()?;
        let x = *g.xs.get(i)?;
        let dots = g
            .ys
            .iter()
            .enumerate()
            .filter_map(|(s, ys)| {
                let y = ys.get(i).copied().flatten()?;
                Some(view! { <circle class=format!("chart-focus series-{s}") cx=x cy=y r="5.5"/> })
            })
            .collect_view();
        Some(view! {
            <g aria-hidden="true">
                <line class="chart-guide" x1=x x2=x y1=TOP y2=HEIGHT - BOTTOM/>
                {dots}
            </g>
        })
    };
    let columns = move || {
        let g = geo.get();
        g.bands
            .iter()
            .enumerate()
            .map(|(i, (from, to))| {
                let words = data.with_value(|d| column_words(d, i));
                let on_key = move |ev: leptos::ev::KeyboardEvent| {
                    let n = last + 1;
                    let next = match ev.key().as_str() {
                        "ArrowRight" | "ArrowDown" => (i + 1).min(n - 1),
                        "ArrowLeft" | "ArrowUp" => i.saturating_sub(1),
                        "Home" => 0,
                        "End" => n - 1,
                        _ => return,
                    };
                    ev.prevent_default();
                    active.set(Some(next));
                    browser::focus_id(&col_id(next));
                };
                view! {
                    <rect class="chart-col" id=col_id(i) data-testid=format!("{testid}-col")
                        x=format!("{from:.1}") y=TOP width=format!("{:.1}", (to - from).max(0.5)) height=HEIGHT - TOP - BOTTOM
                        tabindex=move || if current() == i { "0" } else { "-1" }
                        aria-label=words.clone()
                        on:mouseenter=move |_| active.set(Some(i))
                        on:focus=move |_| active.set(Some(i))
                        on:keydown=on_key>
                        <title>{words.clone()}</title>
                    </rect>
                }
            })
            .collect_view()
    };
    let readout = move || {
        let i = current();
        data.with_value(|d| {
            let c = d.columns[i].clone();
            let values = d
                .series
                .iter()
                .enumerate()
                .filter_map(|(s, series)| {
                    let v = c.values.get(s).copied().flatten()?;
                    let note = c.notes.get(s).cloned().unwrap_or_default();
                    let named = d.series.len() > 1 || !note.is_empty();
                    Some(view! {
                        <span class="chart-readout-value" data-series=series.name.clone() data-bytes=v.to_string()>
                            <span class=format!("chart-swatch series-{s}") aria-hidden="true"></span>
                            {named.then(|| format!("{}: ", series.name))}
                            <strong>{human_size(v)}</strong>
                            " (" {group_digits(v)} " bytes)"
                            {(!note.is_empty()).then(|| format!(", {note}"))}
                        </span>
                    })
                })
                .collect_view();
            view! {
                <span class="chart-readout-when" data-backup=c.backup_id.to_string()>
                    {move || if active.get().is_none() { "Newest: " } else { "" }}
                    <ViewerTime at=c.at/>
                </span>
                {values}
                <a href=format!("/backups/{}", c.backup_id) data-testid=format!("{testid}-backup-link")>"backup #" {c.backup_id} " →"</a>
            }
        })
    };
    let legend = data.with_value(|d| {
        (d.series.len() > 1).then(|| {
            let items = d
                .series
                .iter()
                .enumerate()
                .map(|(s, series)| {
                    view! {
                        <li data-testid=format!("{testid}-legend-item")>
                            <span class=format!("chart-swatch series-{s}") aria-hidden="true"></span>
                            <span class="mono">{series.name.clone()}</span>
                            " " <span class="muted small">{series.note.clone()}</span>
                        </li>
                    }
                })
                .collect_view();
            view! { <ul class="chart-legend">{items}</ul> }
        })
    });
    view! {
        <div class="chart" data-testid=testid node_ref=boxed>
            <div class="chart-readout" aria-live="polite" data-testid=format!("{testid}-readout")>{readout}</div>
            <svg class="chart-svg" viewBox=move || format!("0 0 {:.0} {HEIGHT}", geo.get().width)
                role="group" aria-label=label on:mouseleave=move |_| active.set(None)>
                {grid}
                {lines}
                {guide}
                {columns}
            </svg>
            {legend}
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 3, 0, 0).unwrap()
    }

    fn data(values: &[(u32, Option<i64>)]) -> ChartData {
        ChartData {
            series: vec![ChartSeries {
                name: "stored".into(),
                note: String::new(),
            }],
            columns: values
                .iter()
                .enumerate()
                .map(|(i, (day, v))| ChartColumn {
                    at: at(*day),
                    backup_id: i as i64 + 1,
                    values: vec![*v],
                    notes: vec![String::new()],
                })
                .collect(),
            domain: None,
        }
    }

    #[test]
    fn digits_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
        assert_eq!(group_digits(12_893_184), "12,893,184");
        assert_eq!(group_digits(-1_234_567), "-1,234,567");
        assert_eq!(size_words(1536), "1.5 KiB (1,536 bytes)");
    }

    #[test]
    fn one_point_sits_in_the_middle() {
        let d = data(&[(5, Some(3 * 1024 * 1024))]);
        let g = geometry(&d, 720.0, 0);
        assert_eq!(g.xs.len(), 1);
        let mid = (LEFT + 720.0 - RIGHT) / 2.0;
        assert!((g.xs[0] - mid).abs() < 0.01, "{g:?}");
        let y = g.ys[0][0].unwrap();
        assert!((TOP..=HEIGHT - BOTTOM).contains(&y));
        assert_eq!(g.bands, vec![(LEFT, 720.0 - RIGHT)]);
        assert!(g.y_ticks.iter().any(|(_, l)| l == "3 MiB"));
        assert!(!g.x_ticks.is_empty());
        assert_eq!(line_path(&g, 0).matches('M').count(), 1);
    }

    #[test]
    fn points_fill_the_plot_and_bands_tile_it() {
        let d = data(&[(1, Some(100)), (2, Some(5000)), (3, None), (9, Some(2000))]);
        for w in [100.0, 390.0, 720.0, 1400.0] {
            let g = geometry(&d, w, 60);
            let (x0, x1) = (LEFT, g.width - RIGHT);
            assert!(g.width >= MIN_WIDTH);
            assert!(
                (g.xs[0] - x0).abs() < 0.01 && (g.xs[3] - x1).abs() < 0.01,
                "{g:?}"
            );
            assert!(g.xs.windows(2).all(|p| p[0] < p[1]));
            assert_eq!(g.bands[0].0, x0);
            assert_eq!(g.bands[3].1, x1);
            assert!(g.bands.windows(2).all(|b| b[0].1 == b[1].0));
            assert_eq!(g.ys[0][2], None);
            let top = g.ys[0][1].unwrap();
            assert!(
                top >= TOP - 0.01 && top < g.ys[0][3].unwrap(),
                "larger is higher"
            );
            assert!(g
                .y_ticks
                .iter()
                .all(|(y, _)| *y >= TOP - 0.01 && *y <= HEIGHT - BOTTOM + 0.01));
            assert!(g
                .x_ticks
                .iter()
                .all(|(x, _)| *x >= x0 - 0.01 && *x <= x1 + 0.01));
        }
        let g = geometry(&d, 720.0, 0);
        // A gap breaks the line.
        assert_eq!(line_path(&g, 0).matches('M').count(), 2);
        let words = column_words(&d, 1);
        assert!(words.contains("stored: 4.9 KiB (5,000 bytes)"), "{words}");
        assert!(words.contains("backup #2"));
    }

    #[test]
    fn a_range_domain_holds_its_points() {
        let mut d = data(&[(10, Some(1)), (12, Some(2))]);
        d.domain = Some((at(1), at(30)));
        let g = geometry(&d, 720.0, 0);
        assert!(
            g.xs[0] > LEFT + 100.0,
            "the range starts before the first backup"
        );
        assert!(g.xs[1] < 720.0 - RIGHT - 100.0);
    }

    #[test]
    fn close_backups_in_a_long_range_share_the_width_to_point_at() {
        let mut d = data(&[(29, Some(1)), (29, Some(2)), (29, Some(3))]);
        for (i, c) in d.columns.iter_mut().enumerate() {
            c.at += chrono::Duration::seconds(10 * i as i64);
        }
        d.domain = Some((at(1), at(30)));
        let g = geometry(&d, 720.0, 0);
        assert!(g.xs.windows(2).all(|p| p[1] - p[0] < 1.0), "{g:?}");
        let (x0, x1) = (LEFT, g.width - RIGHT);
        assert_eq!(g.bands[0].0, x0);
        assert!((g.bands[2].1 - x1).abs() < 0.01);
        for (a, b) in &g.bands {
            assert!((b - a - (x1 - x0) / 3.0).abs() < 0.01, "{g:?}");
        }
        assert!(g.bands.windows(2).all(|b| (b[0].1 - b[1].0).abs() < 0.01));
    }
}
