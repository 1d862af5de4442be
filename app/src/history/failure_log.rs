//! The failure log of a database: each failed run of the range, newest
//! first, with its time, cause (which names the fix), pg_dump's stderr tail
//! and a link to the run.

use leptos::prelude::*;
use model::history::FailedRun;

use crate::ui::viewer_time::ViewerTime;

/// The failure log; `total` counts every failed run in the range (the list
/// holds the newest).
#[component]
pub fn FailureLog(failures: Vec<FailedRun>, total: usize) -> impl IntoView {
    if failures.is_empty() {
        return view! { <p class="muted" data-testid="failure-log-empty">"No failed runs in this range."</p> }
            .into_any();
    }
    let shown = failures.len();
    let count = if total > shown {
        format!("{total} failed runs in this range; the newest {shown} are listed.")
    } else if total == 1 {
        "1 failed run in this range.".to_owned()
    } else {
        format!("{total} failed runs in this range.")
    };
    view! {
        <p class="small muted" data-testid="failure-count">{count}</p>
        <ol class="failure-log" data-testid="failure-log">
            {failures.into_iter().map(|f| {
                let retry = (f.attempt > 1).then(|| format!(" · attempt {}", f.attempt));
                let cause = f.cause.clone().unwrap_or_else(|| "no cause was recorded".into());
                let tail = f.stderr_tail.clone().filter(|t| !t.trim().is_empty());
                view! {
                    <li class="failure" data-testid="failure-entry" data-backup=f.backup_id.to_string()>
                        <div class="failure-head">
                            <span class="badge badge-failed">"failed"</span>
                            " " <ViewerTime at=f.at/>
                            <span class="muted small">" · " {f.trigger.clone()} {retry}</span>
                            " " <a href=format!("/backups/{}", f.backup_id) data-testid="failure-link">"backup #" {f.backup_id} " →"</a>
                        </div>
                        <p class="failure-cause" data-testid="failure-cause">{cause}</p>
                        {tail.map(|t| view! {
                            <details class="failure-stderr">
                                <summary>"pg_dump's last words (stderr)"</summary>
                                <pre data-testid="failure-stderr">{t}</pre>
                            </details>
                        })}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
    .into_any()
}
