//! The top of a server's page: its schedules in a few figures (what is
//! scheduled, what is not, what is overdue or failing, the next run, the last
//! success), read from the same schedule status the schedules table shows.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::schedules::api::schedule_status;
use crate::ui::error_message::error_text;
use crate::ui::format::{ago, utc};
use crate::ui::resource::page_resource;
use model::backup::{BackupStatus, Target};
use model::schedule::ScheduleStatus;

/// A server's schedules in figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Databases backed up on schedule (enabled and covered, not gone).
    pub scheduled: usize,
    /// Databases known but not backed up on schedule (left out, or disabled).
    pub not_scheduled: Vec<String>,
    /// Targets whose last success is too old.
    pub overdue: usize,
    /// Targets whose last run failed.
    pub failing: usize,
    /// The soonest next run and what it is of.
    pub next: Option<(DateTime<Utc>, Target)>,
    /// The newest success of any target.
    pub last_success: Option<DateTime<Utc>>,
}

/// Counts the schedule rows (globals included in overdue, failing, next
/// and last success; databases only in scheduled / not scheduled).
pub fn summarize(rows: &[ScheduleStatus]) -> Summary {
    let mut s = Summary::default();
    for r in rows.iter().filter(|r| r.gone_since.is_none()) {
        let on_schedule = r.covered && r.enabled;
        if let Target::Database(name) = &r.target {
            if on_schedule {
                s.scheduled += 1;
            } else {
                s.not_scheduled.push(name.clone());
            }
        }
        if r.overdue {
            s.overdue += 1;
        }
        if r.last_run
            .as_ref()
            .is_some_and(|b| b.status == BackupStatus::Failed)
        {
            s.failing += 1;
        }
        if let (true, Some(at)) = (on_schedule, r.next_run) {
            if s.next.as_ref().is_none_or(|(t, _)| at < *t) {
                s.next = Some((at, r.target.clone()));
            }
        }
        if let Some(b) = &r.last_success {
            let at = b.finished_at.or(b.started_at).unwrap_or(b.queued_at);
            if s.last_success.is_none_or(|t| at > t) {
                s.last_success = Some(at);
            }
        }
    }
    s
}

/// The figures as a row of labelled values; `changed` makes it look again.
#[component]
pub fn ServerSummary(server_id: i64, #[prop(into)] changed: Signal<u64>) -> impl IntoView {
    let status = page_resource(move || changed.get(), move |_| schedule_status(server_id));
    let body = move || {
        status.get().map(|r| match r {
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            Ok(v) => {
                let now = v.now;
                let s = summarize(&v.rows);
                let not_scheduled = if s.not_scheduled.is_empty() {
                    "none".to_owned()
                } else {
                    s.not_scheduled.join(", ")
                };
                let next = match &s.next {
                    Some((at, target)) => view! {
                        <span title=utc(*at)>{until(*at, now)} " · " {target.to_string()}</span>
                    }
                    .into_any(),
                    None => view! { <span class="muted">"nothing scheduled"</span> }.into_any(),
                };
                let last = match s.last_success {
                    Some(at) => view! { <span title=utc(at)>{ago(at, now)}</span> }.into_any(),
                    None => view! { <span class="muted">"never"</span> }.into_any(),
                };
                view! {
                    <dl class="figures">
                        <div data-testid="summary-scheduled"><dt>"On schedule"</dt><dd>{s.scheduled} " databases"</dd></div>
                        <div data-testid="summary-not-scheduled"><dt>"Not on schedule"</dt><dd>{not_scheduled}</dd></div>
                        <div data-testid="summary-next"><dt>"Next run"</dt><dd>{next}</dd></div>
                        <div data-testid="summary-last-success"><dt>"Last success"</dt><dd>{last}</dd></div>
                        <div data-testid="summary-overdue" class:bad={s.overdue > 0}><dt>"Overdue"</dt><dd>{s.overdue}</dd></div>
                        <div data-testid="summary-failing" class:bad={s.failing > 0}><dt>"Last run failed"</dt><dd>{s.failing}</dd></div>
                    </dl>
                }
                .into_any()
            }
        })
    };
    view! {
        <Transition fallback=|| view! { <p class="muted">"Reading the schedules…"</p> }>{body}</Transition>
    }
}

/// `in 5 min`, `in 3 h`, `in 2 days`.
fn until(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (t - now).num_seconds().max(0);
    match s {
        0..=59 => "in under a minute".into(),
        60..=3599 => format!("in {} min", s / 60),
        3600..=86_399 => format!("in {} h", s / 3600),
        _ => format!("in {} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(target: Target, covered: bool) -> ScheduleStatus {
        ScheduleStatus {
            target,
            covered,
            enabled: true,
            source: None,
            schedule: "30 3 * * *".into(),
            timezone: "UTC".into(),
            describe: String::new(),
            next_run: None,
            last_run: None,
            last_success: None,
            overdue: false,
            gone_since: None,
            error: None,
            last_proven_at: None,
            last_proof_ms: None,
            proof_flag: None,
        }
    }

    #[test]
    fn counts_what_is_scheduled_and_what_is_not() {
        let t = |h| Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap();
        let mut app = row(Target::Database("app".into()), true);
        app.next_run = Some(t(5));
        app.overdue = true;
        let postgres = row(Target::Database("postgres".into()), false);
        let mut off = row(Target::Database("off".into()), true);
        off.enabled = false;
        off.next_run = Some(t(1));
        let mut gone = row(Target::Database("gone".into()), true);
        gone.gone_since = Some(t(0));
        let mut globals = row(Target::Globals, true);
        globals.next_run = Some(t(4));
        let s = summarize(&[app, postgres, off, gone, globals]);
        assert_eq!(s.scheduled, 1);
        assert_eq!(s.not_scheduled, ["postgres", "off"]);
        assert_eq!(s.overdue, 1);
        assert_eq!(s.failing, 0);
        // A disabled schedule's next run is not the server's next run.
        assert_eq!(s.next, Some((t(4), Target::Globals)));
        assert_eq!(s.last_success, None);
        assert_eq!(summarize(&[]), Summary::default());
    }

    #[test]
    fn until_in_words() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert_eq!(until(now, now), "in under a minute");
        assert_eq!(until(now + chrono::Duration::minutes(5), now), "in 5 min");
        assert_eq!(until(now + chrono::Duration::hours(3), now), "in 3 h");
        assert_eq!(until(now + chrono::Duration::days(2), now), "in 2 days");
        assert_eq!(
            until(now - chrono::Duration::days(2), now),
            "in under a minute"
        );
    }
}
