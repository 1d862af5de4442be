//! Every database (and each server's globals), worst health first: last
//! success and its age, next run, last proven restore, size and its change
//! against the previous backup and the one nearest 30 days ago. Each row
//! links to its database page, a failing or suspect one to the backup too.

use leptos::prelude::*;

use crate::ui::format::{ago, database_href, human_size, server_href, utc};
use chrono::{DateTime, Utc};
use model::backup::Target;
use model::overview::{DatabaseHealth, Health, SizeChange};
use model::proof::ProofFlag;

fn when(t: Option<DateTime<Utc>>, now: DateTime<Utc>, never: &'static str) -> AnyView {
    match t {
        Some(t) => view! { <span title=utc(t)>{ago(t, now)}</span> }.into_any(),
        None => view! { <span class="muted">{never}</span> }.into_any(),
    }
}

/// `in 5 min`, `in 3 h`, `in 2 days`.
fn until(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (t - now).num_seconds().max(0);
    match s {
        0..=59 => format!("in {s} s"),
        60..=3599 => format!("in {} min", s / 60),
        3600..=86_399 => format!("in {} h", s / 3600),
        86_400..=172_799 => "in 1 day".into(),
        _ => format!("in {} days", s / 86_400),
    }
}

fn change(label: &'static str, c: Option<SizeChange>) -> Option<impl IntoView> {
    c.map(|c| {
        let kind = match c.delta() {
            0 => "same",
            d if d > 0 => "up",
            _ => "down",
        };
        view! {
            <span class=format!("sub size-{kind}") title=format!("{label}: backup #{} of {}, {}", c.from_id, utc(c.from_at), human_size(c.from_bytes))>
                {c.describe()} " " <span class="muted">{label}</span>
            </span>
        }
    })
}

fn row(r: DatabaseHealth, now: DateTime<Utc>) -> impl IntoView {
    let name = r.target.to_string();
    let page = match &r.target {
        Target::Database(db) => database_href(r.server_id, db),
        Target::Globals => server_href(r.server_id),
    };
    let problem = r.problem_id.map(|id| {
        view! {
            <a href=format!("/backups/{id}") class="sub" data-testid="overview-problem-link"
                title=r.problem.clone().unwrap_or_default()>
                {match r.health { Health::Failing => "failed run #", _ => "suspect backup #" }} {id}
            </a>
        }
    });
    let proof = r.proof_flag.map(|f| {
        let kind = match f {
            ProofFlag::LastTestFailed => "error",
            _ => "warn",
        };
        view! { <span class=format!("flag flag-{kind}") data-flag=f.as_str()>{f.label()}</span> }
    });
    let next = match (r.next_run, r.scheduled) {
        (Some(t), _) => view! { <span title=utc(t)>{until(t, now)}</span> }.into_any(),
        (None, false) => view! { <span class="muted">"not scheduled"</span> }.into_any(),
        (None, true) => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let gone = r.gone_since.map(|t| {
        view! { <span class="flag flag-gone" title=format!("not on the server since {}", utc(t))>"gone"</span> }
    });
    let health = r.health;
    let data_database = name.clone();
    view! {
        <tr data-testid="overview-row" data-server=r.server.clone() data-database=data_database
            data-health=health.as_str() class=format!("row-{}", health.as_str())>
            <td class="health-cell" data-label="Health">
                <span class=format!("health health-{}", health.as_str())>{health.label()}</span>
                {r.overdue.then(|| view! { <span class="flag flag-overdue">"OVERDUE"</span> })}
            </td>
            <td data-label="Database">
                <a href=page class="strong" data-testid="overview-database-link">{name}</a>
                {gone}
                <span class="sub">{r.server.clone()}</span>
                {problem}
            </td>
            <td class="when" data-label="Last success">
                {when(r.last_success_at, now, "never")}
                {r.last_success_id.map(|id| view! { <a class="sub" href=format!("/backups/{id}")>"#" {id}</a> })}
            </td>
            <td class="when" data-label="Next run">{next}</td>
            <td class="when" data-label="Last proven">
                {if r.target.is_globals() { view! { <span class="muted">"—"</span> }.into_any() } else { when(r.last_proven_at, now, "never").into_any() }}
                {proof}
            </td>
            <td class="size" data-label="Size" data-testid="overview-size">
                {r.size_bytes.map(human_size).unwrap_or_else(|| "—".into())}
                {change("vs previous", r.vs_previous)}
                {change("vs 30 days ago", r.vs_month)}
            </td>
        </tr>
    }
}

/// The databases table (a line when there is none yet).
#[component]
pub fn HealthTable(
    rows: Vec<DatabaseHealth>,
    now: DateTime<Utc>,
    /// Rows not sent (the healthy tail of a large fleet), of `total`.
    left_out: usize,
    total: usize,
) -> impl IntoView {
    let empty = rows.is_empty();
    let shown = rows.len();
    let body = rows.into_iter().map(|r| row(r, now)).collect_view();
    view! {
        <section class="card" aria-labelledby="databases-h">
            <h2 id="databases-h">"Databases"</h2>
            {empty.then(|| view! {
                <p class="muted" data-testid="no-databases">"No database is scheduled or backed up yet. Open a server to choose what to back up."</p>
            })}
            <table class="overview" class:hidden=empty>
                <thead>
                    <tr>
                        <th>"Health"</th>
                        <th>"Database"</th>
                        <th>"Last success"</th>
                        <th>"Next run"</th>
                        <th>"Last proven"</th>
                        <th>"Size"</th>
                    </tr>
                </thead>
                <tbody>{body}</tbody>
            </table>
            {(left_out > 0).then(|| view! {
                <p class="muted" data-testid="overview-left-out">
                    {format!("Showing the {shown} of {total} that need attention first; the other {left_out} follow in the same order. ")}
                    <a href="/?all=1" data-testid="overview-show-all">"Show all"</a>
                </p>
            })}
        </section>
    }
}
