//! A moment in the viewer's time zone, with UTC on hover. The server knows
//! no viewer's zone: it renders UTC, and once the page is hydrated the
//! browser shows its own zone (the same text on both sides until then, so
//! hydration matches).

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;

use crate::ui::browser;
use crate::ui::format::utc;

/// `2026-11-25 04:04 Europe/Paris` (or `UTC+01:00` without a zone name):
/// `t` at `offset_minutes` east of UTC.
pub fn local_text(t: DateTime<Utc>, offset_minutes: i32, zone: Option<&str>) -> String {
    let Some(offset) = FixedOffset::east_opt(offset_minutes * 60) else {
        return short_utc(t);
    };
    let local = t.with_timezone(&offset).format("%Y-%m-%d %H:%M");
    match zone {
        Some(z) => format!("{local} {z}"),
        None => format!("{local} UTC{}", offset_text(offset_minutes)),
    }
}

/// `+01:00`, `-05:30`.
fn offset_text(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// `2026-11-25 03:04 UTC`: what the server renders.
pub fn short_utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// True once this component runs in the browser (never while the server
/// renders): then the viewer's zone is known.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set) = signal(false);
    Effect::new(move |_| set.set(true));
    hydrated
}

/// `t` as the viewer reads it: in their zone once hydrated (UTC before),
/// the full UTC time on hover.
pub fn viewer_text(t: DateTime<Utc>, hydrated: bool) -> String {
    if hydrated {
        local_text(
            t,
            browser::offset_minutes(t.timestamp_millis()),
            browser::zone_name().as_deref(),
        )
    } else {
        short_utc(t)
    }
}

/// A `<time>` in the viewer's zone with UTC in its title.
#[component]
pub fn ViewerTime(at: DateTime<Utc>) -> impl IntoView {
    let hydrated = use_hydrated();
    view! {
        <time datetime=at.to_rfc3339() title=utc(at)>{move || viewer_text(at, hydrated.get())}</time>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn local_times() {
        let t = Utc.with_ymd_and_hms(2026, 11, 25, 3, 4, 5).unwrap();
        assert_eq!(short_utc(t), "2026-11-25 03:04 UTC");
        assert_eq!(
            local_text(t, 60, Some("Europe/Paris")),
            "2026-11-25 04:04 Europe/Paris"
        );
        assert_eq!(local_text(t, -300, None), "2026-11-24 22:04 UTC-05:00");
        assert_eq!(local_text(t, 330, None), "2026-11-25 08:34 UTC+05:30");
        assert_eq!(local_text(t, 0, None), "2026-11-25 03:04 UTC+00:00");
        assert_eq!(local_text(t, 100_000, None), "2026-11-25 03:04 UTC");
    }
}
