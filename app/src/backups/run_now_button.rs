//! "Back up now" for one database, or "Back up globals now" for a server.

use leptos::prelude::*;
use model::backup::{BackupKind, Target};

use crate::backups::api::StartBackup;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::workers::worker_status_bar::WorkerStatusRefresh;

/// Queues a run of `target` and says so (or why not) beside the button.
/// Bumps `changed` so the page's list shows the new run. Works without
/// JavaScript too (a plain form post).
#[component]
pub fn RunNowButton(server_id: i64, target: Target, changed: RwSignal<u64>) -> impl IntoView {
    let start = ServerAction::<StartBackup>::new();
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
            Ok(b) => view! { <span class="ok" role="status">"Queued as #" {b.backup.id}</span> }
                .into_any(),
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    };
    let (testid, label) = match target.kind() {
        BackupKind::Database => ("backup-now", "Back up now"),
        BackupKind::Globals => ("globals-now", "Back up globals now"),
    };
    view! {
        <div class="backup-now">
            <ActionForm action=start attr:class="inline">
                <input type="hidden" name="server_id" value=server_id.to_string()/>
                <input type="hidden" name="kind" value=target.kind().as_str()/>
                {target.database().map(|db| view! { <input type="hidden" name="database" value=db.to_owned()/> })}
                <button type="submit" class="primary" data-testid=testid disabled=move || pending.get()>
                    {move || if pending.get() { "Queuing…" } else { label }}
                </button>
            </ActionForm>
            {outcome}
        </div>
    }
}
