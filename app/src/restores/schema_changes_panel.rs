//! "Schema changes since #N" on the backup page: what this backup's table
//! of contents adds, drops or changes against the previous good backup of
//! the same database (tables with their columns, indexes, functions,
//! views, grants, ...), so the backup taken just before a bad migration is
//! easy to find. Definitions show old against new in a `<details>`.

use leptos::prelude::*;

use model::schema_diff::{Basis, SchemaChange, SchemaChanges};

use crate::restores::api::get_schema_changes;
use crate::ui::error_message::error_text;
use crate::ui::format::utc;
use crate::ui::resource::page_resource;

/// The panel; loads its own comparison (it reads two TOCs from the catalog).
#[component]
pub fn SchemaChangesPanel(backup_id: i64) -> impl IntoView {
    let changes = page_resource(|| (), move |_| get_schema_changes(backup_id));
    view! {
        <section data-testid="schema-changes" class="schema-changes" id="schema-changes">
            <Transition fallback=|| view! { <h2>"Schema changes"</h2><p class="muted">"Comparing with the previous backup…"</p> }>
                {move || changes.get().map(|r| match r {
                    Ok(c) => body(c).into_any(),
                    Err(e) => view! {
                        <h2>"Schema changes"</h2>
                        <p class="warn" data-testid="schema-changes-error">{error_text(&e)}</p>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn body(c: SchemaChanges) -> impl IntoView {
    let since = c.against.map(|id| {
        let when = c.against_at.map(utc).unwrap_or_default();
        view! {
            " since "
            <a href=format!("/backups/{id}#schema-changes") title=when data-testid="schema-against">"#" {id}</a>
        }
    });
    let heading = view! { <h2>"Schema changes" {since}</h2> };
    let content = match c.basis {
        Basis::First => view! {
            <p class="muted" data-testid="schema-first">"The first backup of this database: nothing before it to compare with."</p>
        }
        .into_any(),
        Basis::NoToc => view! {
            <p class="muted" data-testid="schema-no-toc">"This backup has no stored table of contents (a globals backup, a run that did not finish, one from before verification, or a TOC too large to keep parsed), so its schema cannot be compared."</p>
        }
        .into_any(),
        Basis::PreviousNoToc => view! {
            <p class="muted" data-testid="schema-no-toc">"The previous backup has no stored table of contents (taken before verification, or a TOC too large to keep parsed), so there is nothing to compare with."</p>
        }
        .into_any(),
        Basis::Previous if c.is_unchanged() => view! {
            <p data-testid="schema-unchanged">"No schema changes."</p>
        }
        .into_any(),
        Basis::Previous => {
            let (a, d, ch) = c.counts();
            let printed = c.pg_dump_changed.clone().map(|v| view! {
                <p class="muted small">"pg_dump changed (" {v} "): some definitions may differ only in how they are printed."</p>
            });
            view! {
                <p class="small" data-testid="schema-summary">{format!("{a} added · {d} dropped · {ch} changed")}</p>
                {printed}
                {group("Added", "added", c.added)}
                {group("Dropped", "dropped", c.dropped)}
                {group("Changed", "changed", c.changed)}
            }
            .into_any()
        }
    };
    view! { {heading} {content} }
}

fn group(title: &'static str, which: &'static str, list: Vec<SchemaChange>) -> impl IntoView {
    (!list.is_empty()).then(|| {
        view! {
            <h3 class=format!("schema-group schema-{which}")>{title}</h3>
            <ul class="schema-list" data-testid=format!("schema-{which}")>
                {list.into_iter().map(|c| view! { <li>{item(c, which)}</li> }).collect_view()}
            </ul>
        }
    })
}

fn item(c: SchemaChange, which: &'static str) -> impl IntoView {
    let label = c.kind_label();
    let name = c.qualified_name();
    let cols = &c.columns;
    let mut lines: Vec<(String, String)> = Vec::new();
    let verb = |added: &str| {
        if which == "changed" {
            added.to_owned()
        } else {
            String::new()
        }
    };
    for col in &cols.added {
        lines.push((
            format!("{} {}", verb("column added:"), col.name)
                .trim()
                .to_owned(),
            col.definition.clone(),
        ));
    }
    for col in &cols.dropped {
        lines.push((
            format!("{} {}", verb("column dropped:"), col.name)
                .trim()
                .to_owned(),
            col.type_name.clone(),
        ));
    }
    for r in &cols.retyped {
        lines.push((
            format!("column retyped: {}", r.name),
            format!("{} → {}", r.old_type, r.new_type),
        ));
    }
    for a in &cols.altered {
        lines.push((
            format!("column changed: {}", a.name),
            format!("{} → {}", a.old, a.new),
        ));
    }
    let columns = (!lines.is_empty()).then(|| {
        view! {
            <ul class="schema-columns small">
                {lines.into_iter().map(|(what, detail)| view! {
                    <li data-testid="schema-column"><span>{what}</span> " " <code>{detail}</code></li>
                }).collect_view()}
            </ul>
        }
    });
    let definition = definitions(c.old_defn, c.new_defn);
    view! {
        <span class="schema-kind">{label}</span> " "
        <span class="mono strong" data-testid="schema-object">{name}</span>
        {columns}
        {definition}
    }
}

fn definitions(old: Option<String>, new: Option<String>) -> impl IntoView {
    let pre = |text: String| view! { <pre class="schema-defn">{text.trim_end().to_owned()}</pre> };
    match (old, new) {
        (Some(o), Some(n)) => view! {
            <details class="small">
                <summary>"Definition: old and new"</summary>
                <div class="schema-defns">
                    <div><p class="muted">"Before"</p>{pre(o)}</div>
                    <div><p class="muted">"After"</p>{pre(n)}</div>
                </div>
            </details>
        }
        .into_any(),
        (Some(t), None) | (None, Some(t)) if !t.trim().is_empty() => view! {
            <details class="small">
                <summary>"Definition"</summary>
                {pre(t)}
            </details>
        }
        .into_any(),
        _ => ().into_any(),
    }
}
