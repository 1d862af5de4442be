//! The status bar: what the background workers are doing and where backups go.

use std::time::Duration;

use leptos::prelude::*;

use crate::ui::error_message::error_text;
use crate::ui::live::{refetch_on_change, Live};
use crate::ui::poll::poll_while;
use crate::ui::resource::page_resource;
use crate::workers::api::worker_status;
use crate::workers::worker_line::WorkerLine;

/// How often the bar refreshes while a worker is busy (the scheduler,
/// discovery and notifier send no live notices); runs and restores
/// starting and ending come from the live stream.
pub const POLL_BUSY: Duration = Duration::from_secs(10);

/// Bumped by whatever just gave the workers work ("Back up now") so the bar
/// looks again at once instead of at its next idle poll. [`crate::App`]
/// provides it as context.
#[derive(Debug, Clone, Copy)]
pub struct WorkerStatusRefresh(pub RwSignal<u64>);

impl WorkerStatusRefresh {
    /// Asks the status bar to refresh, if there is one.
    pub fn bump(this: Option<Self>) {
        if let Some(r) = this {
            r.0.update(|n| *n += 1);
        }
    }
}

/// One line per worker (`backup-runner: idle · 0 queued`, what it is doing,
/// its last error) and the destination.
#[component]
pub fn WorkerStatusBar() -> impl IntoView {
    let refresh = use_context::<WorkerStatusRefresh>();
    let status = page_resource(move || refresh.map(|r| r.0.get()), |_| worker_status());
    refetch_on_change(move || status.refetch());
    // While a run goes, its "N read" figure follows the live progress.
    let live_runs = Live::get().map(|l| l.snapshot);
    let runs_moving = Memo::new(move |_| live_runs.is_some_and(|s| s.with(|s| !s.runs.is_empty())));
    poll_while(
        move || match status.get()? {
            Ok(s) if s.busy() || runs_moving.get() => Some(POLL_BUSY),
            Ok(_) => None,
            Err(_) => Some(POLL_BUSY),
        },
        move || status.refetch(),
    );
    let content = move || {
        status.get().map(|r| match r {
            Err(e) => {
                view! { <span class="warn">"Worker status unavailable: " {error_text(&e)}</span> }
                    .into_any()
            }
            Ok(s) => view! {
                {s.workers.into_iter().map(|w| view! { <WorkerLine worker=w/> }).collect_view()}
                <span class="destination" title="where backups are written">
                    "Destination: " <code data-testid="destination">{s.destination}</code>
                </span>
            }
            .into_any(),
        })
    };
    view! {
        <div class="status-bar" data-testid="worker-status">
            <Transition fallback=|| view! { <span class="muted">"Checking workers…"</span> }>{content}</Transition>
        </div>
    }
}
