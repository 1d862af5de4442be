//! Runs queued or running now (the page refreshes while there are any).

use leptos::prelude::*;

use crate::ui::format::{ago, database_href, human_size, server_href, utc};
use crate::ui::status_badge::StatusBadge;
use chrono::{DateTime, Utc};
use model::backup::{Backup, Target};

/// The "Running and queued" section (a line saying none when idle).
#[component]
pub fn ActiveList(active: Vec<Backup>, now: DateTime<Utc>) -> impl IntoView {
    if active.is_empty() {
        return view! { <p class="muted" data-testid="no-active">"Nothing running or queued."</p> }
            .into_any();
    }
    let items = active
        .into_iter()
        .map(|b| {
            let server_id = b.server_id.unwrap_or_default();
            let since = b.started_at.unwrap_or(b.queued_at);
            let what = match &b.target {
                Target::Database(db) => view! { <a href=database_href(server_id, db)>{db.clone()}</a> }.into_any(),
                Target::Globals => view! { <a href=server_href(server_id)>"globals"</a> }.into_any(),
            };
            let bytes = (b.raw_bytes > 0).then(|| format!(" · {} read", human_size(b.raw_bytes)));
            view! {
                <li data-testid="active-row" data-status=b.status.as_str()>
                    <StatusBadge state=b.status/>
                    <span class="strong">{b.server_name.clone()} " / " {what}</span>
                    <span class="muted" title=utc(since)>
                        {if b.started_at.is_some() { "started " } else { "queued " }} {ago(since, now)}
                    </span>
                    <span class="muted">{bytes}</span>
                    <a href=format!("/backups/{}", b.id)>"#" {b.id}</a>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="active-h">
            <h2 id="active-h">"Running and queued"</h2>
            <ul class="active-runs">{items}</ul>
        </section>
    }
    .into_any()
}
