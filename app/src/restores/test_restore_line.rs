//! One test-restore as a line of text: passed or failed, when, how long,
//! and each mismatch.

use leptos::prelude::*;
use model::proof::TestRestore;

use crate::ui::format::duration_ms;
use crate::ui::viewer_time::ViewerTime;

/// One test-restore: passed or failed, when, how long, and each mismatch.
#[component]
pub fn TestRestoreLine(test: TestRestore) -> impl IntoView {
    let status = test.status.as_str();
    let took = test.duration_ms.map(duration_ms).unwrap_or_default();
    view! {
        <span class=format!("badge badge-{status}") data-testid="test-restore-status">{status}</span>
        " " <ViewerTime at=test.started_at/> " · backup #" {test.backup_id} " · " {took}
        {test.error.clone().map(|e| view! { <p class="cause small">{e}</p> })}
        {(!test.mismatches.is_empty()).then(|| view! {
            <ul class="warnings small" data-testid="test-restore-mismatches">
                {test.mismatches.iter().map(|m| view! {
                    <li class="warn">
                        {m.table.clone().map(|t| view! { <span class="mono">{t}</span> ": " })}
                        {m.note.clone()}
                    </li>
                }).collect_view()}
            </ul>
        })}
    }
}
