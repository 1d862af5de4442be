//! "Test-restore now" for one database (or one backup of it): runs a test-restore and says how it
//! went beside the button (passed in N s, or the cause of the failure).

use leptos::prelude::*;
use model::proof::TestRestoreStatus;

use crate::schedules::api::TestRestoreNow;
use crate::ui::error_message::{error_text, ErrorMessage};

/// Runs a test-restore of `database` and bumps `changed` when it ends, so
/// the schedules table shows the new proof.
#[component]
pub fn TestRestoreButton(
    server_id: i64,
    database: String,
    /// Test this backup rather than the database's newest good one.
    #[prop(optional)]
    backup_id: Option<i64>,
    changed: RwSignal<u64>,
) -> impl IntoView {
    let run = ServerAction::<TestRestoreNow>::new();
    Effect::new(move |_| {
        if run.value().with(|v| v.is_some()) {
            changed.update(|n| *n += 1);
        }
    });
    let pending = run.pending();
    let outcome = move || {
        run.value().get().map(|r| match r {
            Ok(t) if t.status == TestRestoreStatus::Passed => view! {
                <span class="ok" role="status" data-testid="test-restore-result" data-status="passed">
                    "passed in " {model::format::duration_ms(t.duration_ms.unwrap_or(0))}
                </span>
            }
            .into_any(),
            Ok(t) => view! {
                <span class="error" role="alert" data-testid="test-restore-result" data-status="failed">
                    "FAILED: " {t.cause().unwrap_or_default()}
                </span>
            }
            .into_any(),
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    };
    view! {
        <ActionForm action=run attr:class="inline">
            <input type="hidden" name="server_id" value=server_id.to_string()/>
            <input type="hidden" name="database" value=database/>
            {backup_id.map(|id| view! { <input type="hidden" name="backup_id" value=id.to_string()/> })}
            <button type="submit" data-testid="test-restore-now" disabled=move || pending.get()>
                {move || if pending.get() { "Test-restoring…" } else { "Test-restore now" }}
            </button>
        </ActionForm>
        {outcome}
    }
}
