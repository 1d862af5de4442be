//! "Back up now" for one database, or "Back up globals now" for a server.

use std::time::Duration;

use leptos::prelude::*;
use model::backup::{Backup, BackupKind, BackupStatus, Target};

use crate::backups::api::{get_backup, StartBackup};
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::poll::poll_while;
use crate::ui::resource::page_resource;
use crate::ui::status_badge::StatusBadge;
use crate::workers::worker_status_bar::WorkerStatusRefresh;

/// How often the line beside the button looks at the run it queued.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// Queues a run of `target` and follows it beside the button (queued,
/// running, then how it ended, linking to the backup), or says why not.
/// Bumps `changed` so the page's list shows the new run, and again when it
/// ends. Disabled while the request is on its way, and the engine refuses a
/// second run started by hand while one is queued or running, so a double
/// click makes one run. Works without JavaScript too (a plain form post).
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
    // The run this button queued last, looked at again while it is active.
    let queued = Memo::new(move |_| {
        start.value().with(|v| {
            v.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|b| b.backup.id)
        })
    });
    let run = page_resource(
        move || queued.get(),
        |id| async move {
            match id {
                Some(id) => Some(get_backup(id).await),
                None => None,
            }
        },
    );
    poll_while(
        move || match run.get() {
            Some(Some(Ok(b))) if b.status.is_active() => Some(FOLLOW_EVERY),
            _ => None,
        },
        move || run.refetch(),
    );
    // When the run ends, the page's lists look again.
    let ended = Memo::new(move |_| {
        run.with(|r| match r {
            Some(Some(Ok(b))) if !b.status.is_active() => Some(b.id),
            _ => None,
        })
    });
    Effect::new(move |prev: Option<Option<i64>>| {
        let now = ended.get();
        if now.is_some() && prev.is_some() && prev != Some(now) {
            changed.update(|n| *n += 1);
            WorkerStatusRefresh::bump(workers);
        }
        now
    });
    let outcome = move || {
        if pending.get() {
            return None;
        }
        start.value().get().map(|r| match r {
            // Followed from the row as last read (the answer of the start
            // call until the first look).
            Ok(b) => {
                let first = b.backup;
                view! {
                    <Transition fallback=|| ()>
                        {
                            let first = first.clone();
                            move || {
                                let now = match run.get() {
                                    Some(Some(Ok(b))) => b,
                                    _ => first.clone(),
                                };
                                view! { <RunLine backup=now/> }
                            }
                        }
                    </Transition>
                }
                .into_any()
            }
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

/// `#12 queued` / `#12 running` / `#12 verified`, the number linking to the
/// backup's page.
#[component]
fn RunLine(backup: Backup) -> impl IntoView {
    let id = backup.id;
    let state = backup.status;
    let words = match state {
        BackupStatus::Queued => "waiting for the runner",
        BackupStatus::Running => "running",
        BackupStatus::Failed => "failed: see the backup",
        BackupStatus::Cancelled => "cancelled",
        BackupStatus::Suspect => "done, but suspect: see the backup",
        BackupStatus::Succeeded | BackupStatus::Verified => "done",
    };
    view! {
        <span class="run-line" role="status" data-testid="run-now-status" data-status=state.as_str() data-backup=id.to_string()>
            <a href=format!("/backups/{id}")>"#" {id}</a>
            " "
            <StatusBadge state/>
            " "
            <span class="muted">{words}</span>
        </span>
    }
}
