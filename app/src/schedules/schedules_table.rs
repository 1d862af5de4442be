//! A server's schedules: one row per database it knows and one for globals,
//! with the schedule in words, the next run, the last run and last success,
//! the last proven restore (when, how long, and a proof flag), and flags
//! (OVERDUE, late, disabled, not covered, gone since, error).

use std::time::Duration;

use leptos::prelude::*;

use crate::schedules::api::schedule_status;
use crate::schedules::test_restore_button::TestRestoreButton;
use crate::ui::error_message::error_text;
use crate::ui::format::{ago, database_href, policy_href, utc};
use crate::ui::live::refetch_on_change;
use crate::ui::poll::poll_while;
use crate::ui::resource::page_resource;
use crate::ui::status_badge::StatusBadge;
use crate::ui::viewer_time::ViewerTime;
use model::backup::{Backup, Target};
use model::proof::ProofFlag;
use model::schedule::ScheduleStatus;

/// How often the table refreshes as time passes (next runs come due, a
/// schedule turns overdue); runs starting and ending come from the live
/// stream.
pub const POLL_IDLE: Duration = Duration::from_secs(30);

fn flag(kind: &'static str, text: String, title: String) -> AnyView {
    view! { <span class=format!("flag flag-{kind}") data-testid="schedule-flag" data-flag=kind title=title>{text}</span> }
        .into_any()
}

fn flags(r: &ScheduleStatus) -> Vec<AnyView> {
    let mut out = Vec::new();
    if r.overdue {
        out.push(flag(
            "overdue",
            "OVERDUE".into(),
            "the last success is older than two schedule intervals".into(),
        ));
    }
    if r.last_run.as_ref().is_some_and(|b| b.late) {
        out.push(flag(
            "late",
            "late".into(),
            "the last run started later than its slot (after downtime)".into(),
        ));
    }
    if !r.enabled {
        out.push(flag(
            "disabled",
            "disabled".into(),
            "scheduled runs are off in its policy".into(),
        ));
    }
    if !r.covered {
        out.push(flag(
            "uncovered",
            "not covered".into(),
            "the server plan leaves it out (the maintenance database postgres is left out by default; change it under Server plan)".into(),
        ));
    }
    if let Some(t) = r.gone_since {
        out.push(flag(
            "gone",
            format!("gone since {}", t.format("%Y-%m-%d")),
            format!("not on the server since {}", utc(t)),
        ));
    }
    if let Some(e) = r.error.clone() {
        out.push(flag("error", "error".into(), e));
    }
    out
}

fn run_cell(b: Option<Backup>, now: chrono::DateTime<chrono::Utc>) -> AnyView {
    match b {
        None => view! { <span class="muted">"never"</span> }.into_any(),
        Some(b) => {
            let at = b.finished_at.or(b.started_at).unwrap_or(b.queued_at);
            view! {
                <StatusBadge state=b.status reasons=b.verification.clone()/>
                <span class="sub" title=utc(at)>{ago(at, now)} " · #" {b.id}</span>
            }
            .into_any()
        }
    }
}

/// The last passed test-restore (when, how long) and the proof flag as a badge.
fn proven_cell(
    server_id: i64,
    r: &ScheduleStatus,
    now: chrono::DateTime<chrono::Utc>,
    changed: RwSignal<u64>,
) -> AnyView {
    if r.target.is_globals() {
        return view! { <span class="muted">"—"</span> }.into_any();
    }
    let when = match r.last_proven_at {
        Some(at) => view! {
            <span title=utc(at)>{ago(at, now)}</span>
            <span class="sub">{r.last_proof_ms.map(|ms| format!("restored in {}", model::format::duration_ms(ms)))}</span>
        }
        .into_any(),
        None => view! { <span class="muted">"never"</span> }.into_any(),
    };
    let badge = r.proof_flag.map(|f| {
        let kind = match f {
            ProofFlag::LastTestFailed => "error",
            _ => "warn",
        };
        view! {
            <span class=format!("flag flag-{kind}") data-testid="proof-flag" data-flag=f.as_str()>{f.label()}</span>
        }
    });
    let database = r.target.database().unwrap_or_default().to_owned();
    view! {
        {when} {badge}
        <TestRestoreButton server_id database changed/>
    }
    .into_any()
}

fn row(
    server_id: i64,
    r: ScheduleStatus,
    now: chrono::DateTime<chrono::Utc>,
    changed: RwSignal<u64>,
) -> impl IntoView {
    let (what, policy) = match &r.target {
        Target::Globals => (
            view! { <a href="#server-plan" class="strong">"globals"</a> <span class="sub">"roles, tablespaces"</span> }.into_any(),
            view! { <a href="#server-plan" data-testid="schedule-policy-link">"server plan"</a> }
                .into_any(),
        ),
        Target::Database(db) => (
            view! { <a href=database_href(server_id, db) class="strong">{db.clone()}</a> }.into_any(),
            view! {
                <a href=policy_href(server_id, Some(db)) data-testid="schedule-policy-link">"policy"</a>
                <span class="sub">{r.source.map(|s| s.short()).unwrap_or_default()}</span>
            }
            .into_any(),
        ),
    };
    let tz = (r.timezone != "UTC").then(|| format!(" ({})", r.timezone));
    let next = match r.next_run {
        Some(t) => view! {
            <span class="mono"><ViewerTime at=t/></span>
            <span class="sub">{format!("in {}", until(t, now))}</span>
        }
        .into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let flags = flags(&r);
    let proven = proven_cell(server_id, &r, now, changed);
    view! {
        <tr data-testid="schedule-row" data-database=r.target.database().unwrap_or_default().to_owned()>
            <td>{what}</td>
            <td>{policy}</td>
            <td>
                <span>{if r.describe.is_empty() { r.schedule.clone() } else { r.describe.clone() }}{tz}</span>
                <span class="sub mono">{r.schedule.clone()}</span>
            </td>
            <td class="when" data-testid="schedule-next">{next}</td>
            <td class="when">{run_cell(r.last_run, now)}</td>
            <td class="when">{run_cell(r.last_success, now)}</td>
            <td class="when" data-testid="schedule-proven">{proven}</td>
            <td class="flags">{flags}</td>
        </tr>
    }
}

/// `5 min`, `3 h 10 min`, `2 days` until `t`.
fn until(t: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let s = (t - now).num_seconds().max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} days", s / 86_400),
    }
}

/// The schedules of a server. Lists again when `changed` moves (a plan was
/// saved, a backup queued), when the live stream says a run changed, and
/// every 30 s as time passes.
#[component]
pub fn SchedulesTable(server_id: i64, #[prop(into)] changed: Signal<u64>) -> impl IntoView {
    // Bumped when a test-restore started here ends.
    let proven = RwSignal::new(0u64);
    let status = page_resource(
        move || (changed.get(), proven.get()),
        move |_| schedule_status(server_id),
    );
    refetch_on_change(move || status.refetch());
    poll_while(
        move || status.get().map(|_| POLL_IDLE),
        move || status.refetch(),
    );
    let body = move || {
        status.get().map(|r| match r {
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            Ok(s) => {
                let now = s.now;
                view! {
                    <table class="schedules">
                        <thead>
                            <tr>
                                <th>"What"</th>
                                <th>"Policy"</th>
                                <th>"Schedule"</th>
                                <th>"Next run"</th>
                                <th>"Last run"</th>
                                <th>"Last success"</th>
                                <th>"Last proven"</th>
                                <th>"Flags"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {s.rows.into_iter().map(|r| row(server_id, r, now, proven)).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }
        })
    };
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading schedules…"</p> }>{body}</Transition>
    }
}
