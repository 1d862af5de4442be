//! One table restored into scratch: its rows next to the count recorded at
//! dump time, and its first rows.

use leptos::prelude::*;
use model::restore::RestoredTable;

use model::names::qualified;

/// Counts and the first rows of a restored table, with a link to compare it
/// with the live table.
#[component]
pub fn RestoredTableCard(table: RestoredTable, scratch: String) -> impl IntoView {
    let name = qualified(&table.schema, &table.name);
    let recorded = match table.rows_recorded {
        Some(n) if table.recorded_estimate => format!("≈{n} (estimate)"),
        Some(n) => n.to_string(),
        None => "not recorded".into(),
    };
    let agrees = table.rows_recorded.is_none()
        || table.recorded_estimate
        || table.rows_recorded == Some(table.rows_restored);
    let compare_href = format!(
        "/scratch/{}/compare?table={}",
        crate::ui::format::encode_segment(&scratch),
        crate::ui::format::encode_segment(&name)
    );
    let header = table.columns.clone();
    let rows = table.sample.clone();
    view! {
        <div class="card restored-table" data-testid="restored-table" data-table=name.clone()>
            <div class="section-head">
                <h3 class="mono">{name.clone()}</h3>
                <a href=compare_href data-testid="compare-link">"Compare with production →"</a>
            </div>
            <p class:warn=!agrees>
                <span data-testid="rows-restored">{table.rows_restored}</span> " rows restored · "
                <span data-testid="rows-recorded">{recorded}</span> " recorded at dump time"
            </p>
            <div class="scroll">
                <table class="sample" data-testid="sample-rows">
                    <thead><tr>{header.into_iter().map(|c| view! { <th class="mono">{c}</th> }).collect_view()}</tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| view! {
                            <tr data-testid="sample-row">
                                {r.into_iter().map(|v| match v {
                                    Some(v) => view! { <td class="mono small">{v}</td> }.into_any(),
                                    None => view! { <td class="muted small">"NULL"</td> }.into_any(),
                                }).collect_view()}
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </div>
    }
}
