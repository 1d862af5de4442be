//! The stored table of contents of a backup as a searchable list grouped by
//! schema, with sizes and row counts, to pick tables from.

use std::collections::BTreeMap;

use leptos::prelude::*;
use model::restore::{ArchiveContents, ArchiveTable};

use crate::ui::format::human_size;
use model::names::qualified;

/// Row count as shown: exact, an estimate ("≈"), or none (data excluded).
pub fn rows_text(rows: Option<i64>, estimated: bool, data_excluded: bool) -> String {
    match (rows, data_excluded) {
        (_, true) => "data excluded".into(),
        (None, _) => "—".into(),
        (Some(n), _) if estimated => format!("≈{n}"),
        (Some(n), _) => n.to_string(),
    }
}

/// Whether `t` matches the search text (case-insensitive, on `schema.name`).
fn matches(t: &ArchiveTable, query: &str) -> bool {
    let q = query.trim().to_lowercase();
    q.is_empty()
        || format!("{}.{}", t.schema, t.name)
            .to_lowercase()
            .contains(&q)
}

/// Checkboxes per table, grouped by schema; `selected` holds the chosen
/// tables as `schema.table` (quoted where needed).
#[component]
pub fn TablePicker(contents: ArchiveContents, selected: RwSignal<Vec<String>>) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let mut groups: BTreeMap<String, Vec<ArchiveTable>> = BTreeMap::new();
    for t in contents.tables.iter().filter(|t| t.kind != "partition") {
        groups.entry(t.schema.clone()).or_default().push(t.clone());
    }
    let partitions: Vec<ArchiveTable> = contents
        .tables
        .iter()
        .filter(|t| t.kind == "partition")
        .cloned()
        .collect();
    let total = contents.tables.len();
    let groups = StoredValue::new(groups);
    let shown = move || {
        let q = query.get();
        groups.with_value(|g| {
            g.iter()
                .filter_map(|(schema, tables)| {
                    let hits: Vec<ArchiveTable> =
                        tables.iter().filter(|t| matches(t, &q)).cloned().collect();
                    (!hits.is_empty()).then(|| (schema.clone(), hits))
                })
                .collect::<Vec<_>>()
        })
    };
    let empty = move || shown().is_empty();
    view! {
        <div class="table-picker">
            <input type="search" placeholder=format!("Search {total} tables…") data-testid="table-search"
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))/>
            <Show when=empty>
                <p class="muted" data-testid="no-table-match">"No table matches."</p>
            </Show>
            {move || shown().into_iter().map(|(schema, tables)| view! {
                <fieldset class="schema-group" data-testid="schema-group">
                    <legend class="mono">{schema.clone()}</legend>
                    <table class="toc">
                        <thead><tr><th>"Table"</th><th class="num">"Size"</th><th class="num">"Rows at dump"</th></tr></thead>
                        <tbody>
                            {tables.into_iter().map(|t| {
                                let key = qualified(&t.schema, &t.name);
                                let k1 = key.clone();
                                let k2 = key.clone();
                                let checked = move || selected.with(|s| s.contains(&k1));
                                let parts = partitions.iter().filter(|p| p.schema == t.schema && t.kind == "partitioned").count();
                                let kind = match t.kind.as_str() {
                                    "partitioned" => format!("partitioned ({parts} partitions)"),
                                    _ => String::new(),
                                };
                                view! {
                                    <tr data-testid="toc-table" data-table=key.clone()>
                                        <td>
                                            <label class="check">
                                                <input type="checkbox" prop:checked=checked
                                                    on:change=move |ev| {
                                                        let on = event_target_checked(&ev);
                                                        let k = k2.clone();
                                                        selected.update(|s| {
                                                            s.retain(|x| *x != k);
                                                            if on { s.push(k); }
                                                        });
                                                    }/>
                                                <span class="mono">{t.name.clone()}</span>
                                            </label>
                                            <span class="muted small">" " {kind}</span>
                                        </td>
                                        <td class="num small">{t.bytes.map(human_size).unwrap_or_default()}</td>
                                        <td class="num small" data-testid="toc-rows">{rows_text(t.rows, t.rows_estimated, t.data_excluded)}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </fieldset>
            }).collect_view()}
        </div>
    }
}
