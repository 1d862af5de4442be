//! `/scratch/:name/compare?table=schema.table`: a table restored into
//! scratch against the live table: rows deleted, changed and added since
//! the backup; a script to put rows back (to review and download), and,
//! for admins, applying it in one transaction after typing the table name.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use model::compare::{Comparison, DiffSet, PutBack};

use crate::restores::api::{compare_table, ApplyPutBack};
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::{decode_segment, encode_segment};
use crate::ui::resource::page_resource;

/// The compare page.
#[component]
pub fn ComparePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let scratch =
        Memo::new(move |_| decode_segment(&params.read().get("name").unwrap_or_default()));
    let table = Memo::new(move |_| query.read().get("table").unwrap_or_default());
    let result = page_resource(
        move || (scratch.get(), table.get()),
        |(s, t)| compare_table(s, t),
    );
    view! {
        <Title text=move || format!("Compare {}", table.get())/>
        <nav class="crumbs"><a href="/servers">"Servers"</a> " / " <a href="/scratch">"Scratch databases"</a> " /"</nav>
        <h1>"Compare " <span class="mono">{move || table.get()}</span></h1>
        <p class="subtitle">
            "The copy in " <span class="mono">{move || scratch.get()}</span>
            " (as the backup had it) against the live table, row by row by key."
        </p>
        <Transition fallback=|| view! { <p class="muted">"Comparing…"</p> }>
            {move || result.get().map(|r| match r {
                Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
                Ok(c) => comparison(c, scratch.get(), table.get()).into_any(),
            })}
        </Transition>
    }
}

fn diff_section(
    title: &'static str,
    testid: &'static str,
    set: &DiffSet,
    columns: &[String],
    picked: Option<RwSignal<Vec<Vec<String>>>>,
) -> impl IntoView {
    let columns = columns.to_vec();
    let sample = set.sample.clone();
    let more = set.count.saturating_sub(sample.len() as u64);
    view! {
        <section data-testid=testid>
            <h2>{title} " " <span class="badge" data-testid=format!("{testid}-count")>{set.count}</span></h2>
            {(!sample.is_empty()).then(|| view! {
                <div class="scroll">
                    <table class="sample">
                        <thead><tr>
                            {picked.map(|_| view! { <th></th> })}
                            {columns.iter().map(|c| view! { <th class="mono">{c.clone()}</th> }).collect_view()}
                        </tr></thead>
                        <tbody>
                            {sample.into_iter().map(|d| {
                                let shown = d.scratch.clone().or(d.live.clone()).unwrap_or_default();
                                let live = d.live.clone();
                                let changed = d.changed_columns.clone();
                                let key = d.key.clone();
                                view! {
                                    <tr data-testid="diff-row">
                                        {picked.map(|p| {
                                            let k = key.clone();
                                            view! { <td><input type="checkbox" on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                let k = k.clone();
                                                p.update(|v| { v.retain(|x| *x != k); if on { v.push(k); } });
                                            }/></td> }
                                        })}
                                        {columns.iter().enumerate().map(|(i, c)| {
                                            let v = shown.get(i).cloned().flatten();
                                            let was_changed = changed.contains(c);
                                            let now = live.as_ref().and_then(|l| l.get(i).cloned().flatten());
                                            let now_line = was_changed.then(|| view! {
                                                <span class="now" data-testid="changed-now">"now: " {now.unwrap_or_else(|| "NULL".into())}</span>
                                            });
                                            view! {
                                                <td class="mono small" class:changed=was_changed>
                                                    <span class="was">{v.unwrap_or_else(|| "NULL".into())}</span>
                                                    {now_line}
                                                </td>
                                            }
                                        }).collect_view()}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
            {(more > 0).then(|| view! { <p class="muted small">"…and " {more} " more."</p> })}
        </section>
    }
}

fn comparison(c: Comparison, scratch: String, table: String) -> impl IntoView {
    let put_deleted = RwSignal::new(true);
    let put_changed = RwSignal::new(true);
    let picked = RwSignal::new(Vec::<Vec<String>>::new());
    let confirm = RwSignal::new(String::new());
    let apply = ServerAction::<ApplyPutBack>::new();
    let put_back = move || PutBack {
        deleted: put_deleted.get(),
        changed: put_changed.get(),
        keys: picked.get(),
    };
    let script_href = {
        let scratch = scratch.clone();
        let table = table.clone();
        move || {
            let p = put_back();
            let keys = serde_json::to_string(&p.keys).unwrap_or_default();
            format!(
                "/scratch/{}/put-back.sql?table={}&deleted={}&changed={}&keys={}",
                encode_segment(&scratch),
                encode_segment(&table),
                p.deleted,
                p.changed,
                encode_segment(&keys)
            )
        }
    };
    let t2 = table.clone();
    let confirmed = move || confirm.with(|v| *v == t2);
    let nothing = move || {
        let p = put_back();
        !p.deleted && !p.changed && p.keys.is_empty()
    };
    let applied = move || {
        apply.value().get().map(|r| match r {
            Ok(rec) => view! {
                <p class="ok" role="status" data-testid="put-back-applied">
                    "Put back in one transaction: " {rec.rows_inserted} " rows inserted, " {rec.rows_updated} " updated (recorded as #" {rec.id} ")."
                </p>
            }
            .into_any(),
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    };
    let (s2, t3) = (scratch.clone(), table.clone());
    view! {
        <p data-testid="compare-summary">
            "Key " <span class="mono">{c.key.join(", ")}</span> " · "
            {c.scratch_rows} " rows in the backup, " {c.live_rows} " live, " {c.unchanged} " unchanged."
        </p>
        {diff_section("Deleted since the backup", "diff-deleted", &c.deleted, &c.columns, Some(picked))}
        {diff_section("Changed since the backup", "diff-changed", &c.changed, &c.columns, Some(picked))}
        {diff_section("Added since the backup", "diff-added", &c.added, &c.columns, None)}
        <section data-testid="put-back">
            <h2>"Put rows back"</h2>
            <p class="subtitle">"The script inserts the chosen rows as the backup had them, and updates rows with the same key (INSERT … ON CONFLICT DO UPDATE), in one transaction. Rows added since the backup are left alone."</p>
            <label class="check"><input type="checkbox" prop:checked=move || put_deleted.get() on:change=move |ev| put_deleted.set(event_target_checked(&ev))/> " all deleted rows"</label>
            " "
            <label class="check"><input type="checkbox" prop:checked=move || put_changed.get() on:change=move |ev| put_changed.set(event_target_checked(&ev))/> " all changed rows"</label>
            <span class="muted small">" (plus the rows ticked above)"</span>
            <p><a href=script_href download data-testid="put-back-script">"Download the SQL script to review"</a></p>
            <details class="confirm">
                <summary data-testid="put-back-apply">"Apply to production…"</summary>
                <div class="confirm-box">
                    <p>"Admins only. Type " <span class="mono">{table.clone()}</span> " to put the chosen rows back into the live table."</p>
                    <input type="text" class="mono" autocomplete="off" data-testid="put-back-confirm"
                        prop:value=move || confirm.get() on:input=move |ev| confirm.set(event_target_value(&ev))/>
                    <button type="button" class="danger" data-testid="put-back-confirm-button"
                        disabled=move || !confirmed() || nothing() || apply.pending().get()
                        on:click=move |_| {
                            apply.dispatch(ApplyPutBack { scratch: s2.clone(), table: t3.clone(), put_back: put_back(), confirm: confirm.get() });
                        }>
                        "Put rows back"
                    </button>
                </div>
            </details>
            {applied}
        </section>
    }
}
