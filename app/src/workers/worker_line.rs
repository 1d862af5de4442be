//! One background worker in the status bar.

use leptos::prelude::*;

use model::worker::WorkerStatus;

/// One worker in the status bar.
#[component]
pub fn WorkerLine(worker: WorkerStatus) -> impl IntoView {
    let w = worker;
    let (name, state) = (w.name.clone(), w.state.as_str());
    let queued = if w.queued > 0 {
        format!(" · {} queued", w.queued)
    } else {
        " · nothing queued".into()
    };
    view! {
        <span class="worker" data-testid="worker" data-name=name data-state=state>
            <span class=format!("dot dot-{state}")></span>
            <strong>{w.name}</strong>
            ": "
            {state}
            {queued}
            {w.doing.into_iter().map(|d| view! { <span class="doing">" · " {d}</span> }).collect_view()}
            {w.last_error.map(|e| {
                let full = e.clone();
                view! {
                " · "
                <span class="warn last-error" title=full>"last error: " {e}</span>
                }
            })}
        </span>
    }
}
