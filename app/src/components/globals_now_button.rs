//! "Back up globals now" for one server.

use leptos::prelude::*;

use super::error_message::{error_text, ErrorMessage};
use super::worker_status_bar::WorkerStatusRefresh;
use crate::api::schedules::StartGlobals;

/// Queues a globals backup and says so (or why not); bumps `changed`.
#[component]
pub fn GlobalsNowButton(server_id: i64, changed: RwSignal<u64>) -> impl IntoView {
    let start = ServerAction::<StartGlobals>::new();
    let workers = use_context::<WorkerStatusRefresh>();
    Effect::new(move |_| {
        if start.value().with(|v| matches!(v, Some(Ok(_)))) {
            changed.update(|n| *n += 1);
            WorkerStatusRefresh::bump(workers);
        }
    });
    let pending = start.pending();
    let outcome = move || {
        start.value().get().map(|r| match r {
            Ok(b) => {
                view! { <span class="ok" role="status">"Queued as #" {b.id}</span> }.into_any()
            }
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    };
    view! {
        <div class="backup-now">
            <ActionForm action=start attr:class="inline">
                <input type="hidden" name="server_id" value=server_id.to_string()/>
                <button type="submit" class="primary" data-testid="globals-now" disabled=move || pending.get()>
                    {move || if pending.get() { "Queuing…" } else { "Back up globals now" }}
                </button>
            </ActionForm>
            {outcome}
        </div>
    }
}
