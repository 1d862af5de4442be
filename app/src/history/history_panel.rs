//! The history sections of the database page: the size-trend chart with
//! its range selector, the largest tables' growth, the failure log. The
//! range lives in the URL (`?range=30d`): the selector is plain links, so
//! it works before hydration and a reload keeps it.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use model::history::{DatabaseHistory, HistoryRange, TOP_TABLES};

use crate::history::api::read_history;
use crate::history::failure_log::FailureLog;
use crate::history::views::{change_words, grew_most, size_chart, tables_chart};
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::{database_href, human_size};
use crate::ui::live::Live;
use crate::ui::resource::page_resource;
use crate::ui::size_chart::SizeChart;
use model::live::NoticeKind;

/// The links that pick a range; the current one is marked.
#[component]
fn RangeSelector(server_id: i64, database: String, range: Memo<HistoryRange>) -> impl IntoView {
    let base = database_href(server_id, &database);
    view! {
        <nav class="range-selector" aria-label="Time range" data-testid="range-selector">
            {HistoryRange::ALL.into_iter().map(|r| {
                let href = format!("{base}?range={}", r.as_str());
                view! {
                    <a href=href data-range=r.as_str() data-testid="range-link"
                        aria-current=move || (range.get() == r).then_some("page")>{r.label()}</a>
                }
            }).collect_view()}
        </nav>
    }
}

/// One sentence over the size chart: how many backups, and the change
/// from the first to the newest.
fn size_summary(h: &DatabaseHistory) -> String {
    let n = h.backups_in_range;
    let drawn = h.sizes.len();
    let mut s = match n {
        0 => return String::new(),
        1 => "1 good backup in this range".to_owned(),
        _ => format!("{n} good backups in this range"),
    };
    if drawn < n {
        s.push_str(&format!(
            " ({drawn} drawn: the first, the last and every peak and dip)"
        ));
    }
    if let (Some(a), Some(b)) = (h.sizes.first(), h.sizes.last()) {
        if n > 1 {
            s.push_str(&format!(
                "; stored size {} → {} ({})",
                human_size(a.stored_bytes),
                human_size(b.stored_bytes),
                change_words(a.stored_bytes, b.stored_bytes)
            ));
        }
    }
    s.push('.');
    s
}

/// The database page's history: size trend, largest tables, failure log.
#[component]
pub fn HistoryPanel(server_id: i64, database: String) -> impl IntoView {
    let query = use_query_map();
    let range = Memo::new(move |_| HistoryRange::from_query(query.read().get("range").as_deref()));
    let db = database.clone();
    let history = page_resource(
        move || range.get(),
        move |r| read_history(server_id, db.clone(), r.as_str().to_owned()),
    );
    // A run that ends adds a point (or a failure): read the history again
    // then, and only then (progress and queue notices change nothing here).
    if let Some(live) = Live::get() {
        Effect::new(move |seen: Option<u64>| {
            let n = live.changes.get();
            let ended = live.last_notices.with_untracked(|ns| {
                ns.iter()
                    .any(|x| matches!(x.kind, NoticeKind::Finished | NoticeKind::Cancelled))
            });
            if seen.is_some_and(|s| s != n) && ended {
                history.refetch();
            }
            n
        });
    }
    let body = move || {
        history.get().map(|r| match r {
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
            Ok(h) => {
                let summary = size_summary(&h);
                let sizes = size_chart(&h);
                let tables = tables_chart(&h);
                let grew = grew_most(&h).map(|(name, by)| view! {
                    <p data-testid="grew-most">"Grew the most: " <strong class="mono">{name}</strong> " (+" {human_size(by)} ")."</p>
                });
                let failures = h.failures.clone();
                let total = h.failures_in_range;
                let range_word = h.range.label();
                view! {
                    <section class="card history-card" data-testid="size-trend" data-range=h.range.as_str()>
                        <h3>"Size of each backup"</h3>
                        <p class="small muted" data-testid="size-summary">{summary}</p>
                        <SizeChart data=sizes testid="size-chart"
                            label=format!("Stored size of each good backup, {range_word}")/>
                    </section>
                    <section class="card history-card" data-testid="table-growth">
                        <h3>{format!("Largest tables (top {TOP_TABLES})")}</h3>
                        <p class="small muted">"Each table's size as the backup's manifest records it."</p>
                        {grew}
                        <SizeChart data=tables testid="table-chart"
                            label=format!("Size of the largest tables in each backup, {range_word}")/>
                    </section>
                    <section class="card history-card" data-testid="failures">
                        <h3>"Failure log"</h3>
                        <FailureLog failures total/>
                    </section>
                }
                .into_any()
            }
        })
    };
    view! {
        <section class="history" data-testid="database-history">
            <div class="section-head">
                <h2>"History"</h2>
                <RangeSelector server_id database=database.clone() range/>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Reading the history…"</p> }>{body}</Transition>
        </section>
    }
}
