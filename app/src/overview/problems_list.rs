//! Failed runs and suspect backups of the last 7 days, newest first: each
//! links to its backup and its database, with the cause in words.

use leptos::prelude::*;

use crate::ui::format::{ago, database_href, server_href, utc};
use crate::ui::status_badge::StatusBadge;
use chrono::{DateTime, Utc};
use model::backup::{Backup, Target};
use model::overview::PROBLEM_DAYS;

/// The "Needs attention" section (hidden when there is nothing).
#[component]
pub fn ProblemsList(problems: Vec<Backup>, now: DateTime<Utc>) -> impl IntoView {
    if problems.is_empty() {
        return view! {
            <p class="result ok overview-calm" data-testid="no-problems">
                {format!("No failed or suspect backups in the last {PROBLEM_DAYS} days.")}
            </p>
        }
        .into_any();
    }
    let items = problems
        .into_iter()
        .map(|b| {
            let server_id = b.server_id.unwrap_or_default();
            let at = b.finished_at.unwrap_or(b.queued_at);
            let what = match &b.target {
                Target::Database(db) => view! { <a href=database_href(server_id, db)>{db.clone()}</a> }.into_any(),
                Target::Globals => view! { <a href=server_href(server_id)>"globals"</a> }.into_any(),
            };
            let cause = b
                .cause
                .clone()
                .or_else(|| (!b.verification.is_empty()).then(|| b.verification.join("; ")))
                .unwrap_or_default();
            view! {
                <li class=format!("problem problem-{}", b.status.as_str()) data-testid="problem-row"
                    data-status=b.status.as_str() data-database=b.target.database().unwrap_or_default().to_owned()>
                    <div class="problem-head">
                        <StatusBadge state=b.status reasons=b.verification.clone()/>
                        <span class="strong"><a href=server_href(server_id)>{b.server_name.clone()}</a> " / " {what}</span>
                        <a href=format!("/backups/{}", b.id) data-testid="problem-backup-link">"backup #" {b.id}</a>
                        <span class="muted" title=utc(at)>{ago(at, now)}</span>
                    </div>
                    <p class="problem-cause">{cause}</p>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card overview-problems" aria-labelledby="problems-h">
            <h2 id="problems-h">"Needs attention"</h2>
            <p class="muted">{format!("Failed runs and suspect backups of the last {PROBLEM_DAYS} days, newest first.")}</p>
            <ul class="problems">{items}</ul>
        </section>
    }
    .into_any()
}
