//! "Back up now" for one database.

use leptos::prelude::*;

use super::error_message::{error_text, ErrorMessage};
use super::worker_status_bar::WorkerStatusRefresh;
use crate::api::backups::StartBackup;

/// Queues a backup of `database` and says so (or why not) beside the button.
/// Bumps `backups_changed` so the page's backups table shows the new run.
#[component]
pub fn BackupNowButton(
    server_id: i64,
    database: String,
    backups_changed: RwSignal<u64>,
) -> impl IntoView {
    let start = ServerAction::<StartBackup>::new();
    let workers = use_context::<WorkerStatusRefresh>();
    Effect::new(move |_| {
        if start.value().with(|v| matches!(v, Some(Ok(_)))) {
            backups_changed.update(|n| *n += 1);
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
                <input type="hidden" name="database" value=database/>
                <button type="submit" class="primary" data-testid="backup-now" disabled=move || pending.get()>
                    {move || if pending.get() { "Queuing…" } else { "Back up now" }}
                </button>
            </ActionForm>
            {outcome}
        </div>
    }
}
