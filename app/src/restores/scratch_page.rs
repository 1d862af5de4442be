//! `/scratch`: the scratch databases pgshelf made (restored tables and
//! running test-restores), with who made them from which backup, a
//! connection string to copy (never a password) and Drop; below, the record
//! of recent restores.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::restores::api::{list_restore_runs, list_scratch, DropScratch};
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::resource::page_resource;
use crate::ui::viewer_time::ViewerTime;

/// Drops one scratch database after a confirm step; bumps `dropped` when it
/// is gone.
#[component]
pub fn DropScratchButton(name: String, dropped: RwSignal<u64>) -> impl IntoView {
    let drop = ServerAction::<DropScratch>::new();
    Effect::new(move |_| {
        if drop.value().with(|v| matches!(v, Some(Ok(())))) {
            dropped.update(|n| *n += 1);
        }
    });
    let done = move || drop.value().with(|v| matches!(v, Some(Ok(()))));
    let error = move || {
        drop.value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };
    let n = name.clone();
    let name = StoredValue::new(name);
    view! {
        <Show when=move || !done() fallback=move || view! { <span class="ok" role="status" data-testid="scratch-dropped">"Dropped " {n.clone()}</span> }>
            <details class="confirm">
                <summary data-testid="scratch-drop">"Drop"</summary>
                <div class="confirm-box">
                    <p>"Drop the scratch database " <span class="mono">{name.get_value()}</span> "?"</p>
                    <ActionForm action=drop attr:class="inline">
                        <input type="hidden" name="name" value=name.get_value()/>
                        <button type="submit" class="danger" data-testid="scratch-drop-confirm"
                            disabled=move || drop.pending().get()>
                            "Yes, drop it"
                        </button>
                    </ActionForm>
                </div>
            </details>
        </Show>
        {error}
    }
}

/// The scratch databases page.
#[component]
pub fn ScratchPage() -> impl IntoView {
    let dropped = RwSignal::new(0u64);
    let list = page_resource(move || dropped.get(), |_| list_scratch());
    let rows = move || {
        list.get().map(|r| match r {
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
            Ok(l) if l.is_empty() => view! {
                <p class="empty" data-testid="no-scratch">"No scratch databases. Restore a table from a backup's page to make one."</p>
            }
            .into_any(),
            Ok(l) => view! {
                <table class="scratch">
                    <thead>
                        <tr><th>"Database"</th><th>"Server"</th><th>"From"</th><th>"Made"</th><th>"Connect"</th><th></th></tr>
                    </thead>
                    <tbody>
                        {l.into_iter().map(|s| view! {
                            <tr data-testid="scratch-row" data-name=s.name.clone()>
                                <td class="mono">{s.name.clone()}</td>
                                <td>{s.server_name.clone()}</td>
                                <td>
                                    <a href=format!("/backups/{}", s.backup_id)>"#" {s.backup_id}</a>
                                    " of " <span class="mono">{s.database.clone()}</span>
                                    <span class="muted small">" (" {s.purpose.clone()} ")"</span>
                                </td>
                                <td class="small"><ViewerTime at=s.created_at/> " by " {s.created_by.clone()}</td>
                                <td><code class="mono small" data-testid="scratch-connection">{s.connection.clone()}</code></td>
                                <td class="actions"><DropScratchButton name=s.name.clone() dropped/></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any(),
        })
    };
    let runs = page_resource(move || dropped.get(), |_| list_restore_runs());
    let history = move || {
        runs.get().map(|r| match r {
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
            Ok(l) if l.is_empty() => view! { <p class="empty">"No restores yet."</p> }.into_any(),
            Ok(l) => view! {
                <table class="restore-runs">
                    <thead>
                        <tr><th>"Started"</th><th>"What"</th><th>"From"</th><th>"Into"</th><th>"By"</th><th>"Status"</th></tr>
                    </thead>
                    <tbody>
                        {l.into_iter().map(|r| view! {
                            <tr data-testid="restore-run" data-status=r.status.clone()>
                                <td class="mono small"><ViewerTime at=r.started_at/></td>
                                <td>{r.kind.clone()}</td>
                                <td><a href=format!("/backups/{}", r.backup_id)>"#" {r.backup_id}</a></td>
                                <td class="mono small">{r.database.clone()}</td>
                                <td class="small">{r.who.clone()}</td>
                                <td>
                                    <span class=format!("badge badge-{}", r.status)>{r.status.clone()}</span>
                                    {r.error.clone().map(|e| view! { <p class="cause small">{e}</p> })}
                                </td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any(),
        })
    };
    view! {
        <Title text="Scratch databases"/>
        <nav class="crumbs"><a href="/servers">"Servers"</a> " /"</nav>
        <h1>"Scratch databases"</h1>
        <p class="subtitle">"Databases pgshelf restored tables into. They stay until you drop them."</p>
        <Transition fallback=|| ()>{rows}</Transition>
        <section data-testid="restore-runs">
            <h2>"Recent restores"</h2>
            <Transition fallback=|| ()>{history}</Transition>
        </section>
    }
}
