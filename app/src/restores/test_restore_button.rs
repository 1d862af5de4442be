//! "Test-restore now" and one test-restore as a line of text.

use leptos::prelude::*;
use model::proof::{TestRestore, TestRestoreStatus};

use crate::restores::api::TestRestoreNow;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::{duration_ms, utc};

/// One test-restore: passed or failed, when, how long, and each mismatch.
#[component]
pub fn TestRestoreLine(test: TestRestore) -> impl IntoView {
    let status = test.status.as_str();
    let took = test.duration_ms.map(duration_ms).unwrap_or_default();
    view! {
        <span class=format!("badge badge-{status}") data-testid="test-restore-status">{status}</span>
        " " {utc(test.started_at)} " · backup #" {test.backup_id} " · " {took}
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

/// Restores a backup (or the database's newest good one) into scratch,
/// checks every table and count, drops the scratch database, and shows the
/// result. Bumps `changed` when done.
#[component]
pub fn TestRestoreButton(
    server_id: i64,
    database: String,
    backup_id: Option<i64>,
    changed: RwSignal<u64>,
) -> impl IntoView {
    let run = ServerAction::<TestRestoreNow>::new();
    Effect::new(move |_| {
        if run.value().with(|v| matches!(v, Some(Ok(_)))) {
            changed.update(|n| *n += 1);
        }
    });
    let pending = run.pending();
    let outcome = move || {
        run.value().get().map(|r| match r {
            Ok(t) => {
                let passed = t.status == TestRestoreStatus::Passed;
                view! {
                    <span class=if passed { "ok" } else { "error" } role="status" data-testid="test-restore-outcome">
                        {if passed { "Passed" } else { "Failed" }}
                        " in " {t.duration_ms.map(duration_ms).unwrap_or_default()}
                    </span>
                }
                .into_any()
            }
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    };
    view! {
        <div class="backup-now">
            <button type="button" data-testid="test-restore-now" disabled=move || pending.get()
                on:click=move |_| {
                    run.dispatch(TestRestoreNow {
                        server_id,
                        database: database.clone(),
                        backup_id,
                        restore_server_id: None,
                    });
                }>
                {move || if pending.get() { "Test-restoring…" } else { "Test-restore now" }}
            </button>
            {outcome}
        </div>
    }
}
