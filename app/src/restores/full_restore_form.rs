//! Restore a whole backup into a new database, or over an existing one
//! (`--clean --if-exists`) once its name is typed to confirm.

use leptos::prelude::*;
use model::restore::RestoreRequest;

use crate::restores::api::FullRestore;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::duration_ms;

/// The full-restore form and its outcome.
#[component]
pub fn FullRestoreForm(
    backup_id: i64,
    database: String,
    servers: Vec<(i64, String)>,
    /// The age recipients of an encrypted backup (empty: not encrypted).
    #[prop(optional)]
    recipients: Vec<String>,
) -> impl IntoView {
    let encrypted = !recipients.is_empty();
    let identity = RwSignal::new(String::new());
    let server = RwSignal::new(servers.first().map(|(id, _)| *id).unwrap_or_default());
    let into = RwSignal::new(format!("{database}_restored"));
    let clean = RwSignal::new(false);
    let confirm = RwSignal::new(String::new());
    let jobs = RwSignal::new("2".to_owned());
    let run = ServerAction::<FullRestore>::new();
    let confirmed = move || !clean.get() || confirm.with(|c| *c == into.get());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        run.dispatch(FullRestore {
            request: RestoreRequest {
                backup_id,
                server_id: Some(server.get()),
                into: into.get(),
                clean: clean.get(),
                confirm: clean.get().then(|| confirm.get()),
                jobs: jobs.get().trim().parse().unwrap_or(1),
            },
            identity: encrypted.then(|| identity.get()),
        });
    };
    let outcome = move || {
        run.value().get().map(|r| match r {
            Ok(r) => view! {
                <p class="ok" role="status" data-testid="full-restore-result">
                    "Restored into " <span class="mono">{r.database.clone()}</span> " on " {r.server_name.clone()}
                    " in " {duration_ms(r.duration_ms)} ": " {r.tables.len()} " tables."
                </p>
                {(!r.warnings.is_empty()).then(|| view! {
                    <ul class="warnings small">{r.warnings.iter().map(|w| view! { <li class="warn">{w.clone()}</li> }).collect_view()}</ul>
                })}
            }
            .into_any(),
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    };
    view! {
        <form class="full-restore" on:submit=submit>
            <div class="field">
                <label>"Server"
                    <select on:change=move |ev| { if let Ok(id) = event_target_value(&ev).parse() { server.set(id); } }>
                        {servers.into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                    </select>
                </label>
            </div>
            <div class="field">
                <label>"Database"
                    <input type="text" class="mono" data-testid="full-restore-into"
                        prop:value=move || into.get() on:input=move |ev| into.set(event_target_value(&ev))/>
                </label>
            </div>
            <div class="field">
                <label>"Parallel jobs (-j)"
                    <input type="number" min="1" max="64" prop:value=move || jobs.get() on:input=move |ev| jobs.set(event_target_value(&ev))/>
                </label>
            </div>
            {encrypted.then(|| view! {
                <div class="field">
                    <label>"age identity (kept only for this restore)"
                        <textarea class="mono" rows="3" data-testid="full-restore-identity" autocomplete="off" spellcheck="false"
                            placeholder=format!("AGE-SECRET-KEY-1... of one of: {}", recipients.join(", "))
                            prop:value=move || identity.get() on:input=move |ev| identity.set(event_target_value(&ev))></textarea>
                    </label>
                </div>
            })}
            <label class="check">
                <input type="checkbox" data-testid="full-restore-clean" prop:checked=move || clean.get()
                    on:change=move |ev| clean.set(event_target_checked(&ev))/>
                " over an existing database: drop its objects first (--clean --if-exists; admins only)"
            </label>
            <Show when=move || clean.get()>
                <div class="field">
                    <label>"Type " <span class="mono">{move || into.get()}</span> " to confirm"
                        <input type="text" class="mono" data-testid="full-restore-confirm" autocomplete="off"
                            prop:value=move || confirm.get() on:input=move |ev| confirm.set(event_target_value(&ev))/>
                    </label>
                </div>
            </Show>
            <div class="form-actions">
                <button type="submit" class=move || if clean.get() { "danger" } else { "primary" } data-testid="full-restore-submit"
                    disabled=move || run.pending().get() || !confirmed()>
                    {move || if run.pending().get() { "Restoring…" } else if clean.get() { "Restore over it" } else { "Restore into a new database" }}
                </button>
            </div>
        </form>
        {outcome}
    }
}
