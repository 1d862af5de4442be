//! Pick tables from a backup's contents, choose the server, press Restore:
//! the tables go whole into a new scratch database; the panel follows the
//! job's steps and then shows each table's rows and counts.

use std::time::Duration;

use leptos::prelude::*;
use model::restore::{ArchiveContents, RestoreJob, RestoreJobState, TableRestoreRequest};

use crate::restores::api::{get_restore_job, StartTableRestore};
use crate::restores::restored_table_card::RestoredTableCard;
use crate::restores::scratch_page::DropScratchButton;
use crate::restores::table_picker::TablePicker;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::duration_ms;
use crate::ui::live::{Link, Live};
use crate::ui::poll::poll_while;
use crate::ui::resource::page_resource;
use crate::workers::worker_status_bar::WorkerStatusRefresh;

/// How often a running restore is asked for its step while the live
/// stream is not up (with it, the job is fetched when the restorer's step
/// changes).
const POLL: Duration = Duration::from_millis(400);
/// How often it is asked anyway while the stream is up.
const POLL_LIVE: Duration = Duration::from_secs(3);

/// The picker, the target server, "bring referenced tables", Restore, and
/// the outcome.
#[component]
pub fn TableRestorePanel(contents: ArchiveContents, servers: Vec<(i64, String)>) -> impl IntoView {
    let backup_id = contents.backup_id;
    let selected = RwSignal::new(Vec::<String>::new());
    let server = RwSignal::new(servers.first().map(|(id, _)| *id).unwrap_or_default());
    let with_referenced = RwSignal::new(false);
    let recipients = contents.recipients.clone();
    let encrypted = !recipients.is_empty();
    let identity = RwSignal::new(String::new());
    let start = ServerAction::<StartTableRestore>::new();
    let workers = use_context::<WorkerStatusRefresh>();
    let job_id = move || start.value().get().and_then(Result::ok);
    let job = page_resource(job_id, |id| async move {
        match id {
            Some(id) => Some(get_restore_job(id).await),
            None => None,
        }
    });
    let running_in = move |j: &Option<Option<Result<RestoreJob, ServerFnError>>>| {
        matches!(
            j,
            Some(Some(Ok(RestoreJob {
                state: RestoreJobState::Running,
                ..
            })))
        )
    };
    let running = move || job.with(running_in);
    let live = Live::get();
    // The restorer's "doing" lines, as the live stream shows them: each
    // step of the job changes them.
    let steps = Memo::new(move |_| live.map(|l| l.snapshot.with(|s| s.tasks.clone())));
    Effect::new(move |seen: Option<()>| {
        steps.track();
        if seen.is_some() && job.with_untracked(running_in) {
            job.refetch();
        }
    });
    // A job quicker than one live sample leaves no trace in the stream:
    // a slow poll stays as a safety net.
    poll_while(
        move || {
            let stream_up = live.is_some_and(|l| l.link.get() == Link::Open);
            running().then_some(if stream_up { POLL_LIVE } else { POLL })
        },
        move || job.refetch(),
    );
    Effect::new(move |_| {
        if job.with(
            |j| matches!(j, Some(Some(Ok(j))) if !matches!(j.state, RestoreJobState::Running)),
        ) {
            WorkerStatusRefresh::bump(workers);
        }
    });
    let count = move || selected.with(Vec::len);
    let busy = move || {
        start.pending().get()
            || job.with(
                |j| matches!(j, Some(Some(Ok(j))) if matches!(j.state, RestoreJobState::Running)),
            )
    };
    let restore = move |_| {
        let tables = selected.get();
        if tables.is_empty() {
            return;
        }
        start.dispatch(StartTableRestore {
            request: TableRestoreRequest {
                backup_id,
                tables,
                server_id: Some(server.get()),
                into: None,
                with_referenced: with_referenced.get(),
            },
            identity: encrypted.then(|| identity.get()),
        });
        WorkerStatusRefresh::bump(workers);
    };
    let outcome = move || {
        if let Some(Err(e)) = start.value().get() {
            return Some(view! { <ErrorMessage message=error_text(&e)/> }.into_any());
        }
        job.get().flatten().map(|j| match j {
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
            Ok(j) => match j.state {
                RestoreJobState::Running => view! {
                    <p class="progress" role="status" data-testid="restore-step">
                        <span class="dot dot-running"></span> " " {j.step}
                    </p>
                }
                .into_any(),
                RestoreJobState::Failed(msg) => view! {
                    <div data-testid="restore-failed"><ErrorMessage message=msg/></div>
                }
                .into_any(),
                RestoreJobState::Done(r) => {
                    let scratch = r.scratch.name.clone();
                    view! {
                        <div class="restore-result" data-testid="restore-result">
                            <p class="ok" role="status">
                                "Restored into " <span class="mono strong" data-testid="scratch-name">{scratch.clone()}</span>
                                " on " {r.scratch.server_name.clone()} " in " {duration_ms(r.duration_ms)}
                                ", reading " <span data-testid="restore-bytes-read">{model::format::human_bytes(r.bytes_read)}</span> " from storage."
                            </p>
                            <p class="small">
                                "Connect: " <code class="mono" data-testid="scratch-connection">{r.scratch.connection.clone()}</code>
                            </p>
                            {(!r.skipped.is_empty()).then(|| view! {
                                <ul class="warnings" data-testid="restore-skipped">
                                    {r.skipped.iter().map(|s| view! {
                                        <li class="warn"><span class="mono">{s.what.clone()}</span> " skipped: " {s.reason.clone()}</li>
                                    }).collect_view()}
                                </ul>
                            })}
                            {r.tables.into_iter().map(|t| view! { <RestoredTableCard table=t scratch=scratch.clone()/> }).collect_view()}
                            <DropScratchButton name=scratch.clone() dropped=RwSignal::new(0)/>
                        </div>
                    }
                    .into_any()
                }
            },
        })
    };
    view! {
        <TablePicker contents selected/>
        <div class="restore-controls form-actions">
            <label>
                "Restore into a scratch database on "
                <select data-testid="restore-server" on:change=move |ev| {
                    if let Ok(id) = event_target_value(&ev).parse() { server.set(id); }
                }>
                    {servers.into_iter().map(|(id, name)| view! { <option value=id.to_string()>{name}</option> }).collect_view()}
                </select>
            </label>
            <label class="check" title="Foreign keys to tables you did not pick are skipped unless the referenced tables come along">
                <input type="checkbox" data-testid="with-referenced"
                    prop:checked=move || with_referenced.get()
                    on:change=move |ev| with_referenced.set(event_target_checked(&ev))/>
                " bring referenced tables"
            </label>
            {encrypted.then(|| view! {
                <label>"age identity (kept only for this restore)"
                    <textarea class="mono" rows="3" data-testid="restore-identity" autocomplete="off" spellcheck="false"
                        placeholder=format!("AGE-SECRET-KEY-1... of one of: {}", recipients.join(", "))
                        prop:value=move || identity.get() on:input=move |ev| identity.set(event_target_value(&ev))></textarea>
                </label>
            })}
            <button type="button" class="primary" data-testid="restore-tables"
                disabled=move || count() == 0 || busy()
                on:click=restore>
                {move || match count() {
                    0 => "Pick tables to restore".to_owned(),
                    1 => "Restore 1 table into scratch".to_owned(),
                    n => format!("Restore {n} tables into scratch"),
                }}
            </button>
        </div>
        {outcome}
    }
}
