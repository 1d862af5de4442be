//! The overview's sections, in the order an on-call engineer reads them:
//! what failed or looks wrong lately, what is running, every database
//! (worst first), storage.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::overview::active_list::ActiveList;
use crate::overview::health_table::HealthTable;
use crate::overview::problems_list::ProblemsList;
use crate::overview::storage_panel::StoragePanel;
use crate::ui::format::utc;
use model::overview::Overview;

/// The overview, read at `overview.generated_at`.
#[component]
pub fn OverviewPage(overview: Overview) -> impl IntoView {
    let counts = overview
        .health_counts
        .clone()
        .into_iter()
        .map(|(h, n)| {
            view! {
                <span class=format!("health health-{}", h.as_str()) data-testid="health-count" data-health=h.as_str()>
                    {n} " " {h.label()}
                </span>
            }
        })
        .collect_view();
    let now = overview.generated_at;
    view! {
        <Title text="Overview"/>
        <div class="overview-head">
            <h1>"Overview"</h1>
            <p class="overview-counts" aria-label="databases by health">{counts}</p>
            <p class="muted overview-at" title=utc(now)>
                {format!("{} server{} · as of {}", overview.servers, if overview.servers == 1 { "" } else { "s" }, now.format("%H:%M:%S UTC"))}
            </p>
        </div>
        <ProblemsList problems=overview.problems.clone() now/>
        <ActiveList active=overview.active.clone() now/>
        <HealthTable rows=overview.databases.clone() now left_out=overview.rows_left_out() total=overview.total_databases/>
        <StoragePanel storage=overview.storage.clone()/>
    }
}
