//! A database's proof: when its backups were last shown to restore, how
//! long that took, the latest test-restores, and "Test-restore now".

use leptos::prelude::*;

use crate::restores::api::database_proof;
use crate::restores::test_restore_line::TestRestoreLine;
use crate::schedules::test_restore_button::TestRestoreButton;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::duration_ms;
use crate::ui::resource::page_resource;
use crate::ui::viewer_time::ViewerTime;

/// The proof section of the database page.
#[component]
pub fn DatabaseProofPanel(server_id: i64, database: String) -> impl IntoView {
    let changed = RwSignal::new(0u64);
    let db = database.clone();
    let proof = page_resource(
        move || changed.get(),
        move |_| database_proof(server_id, db.clone()),
    );
    let body = move || {
        proof.get().map(|r| match r {
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
            Ok(panel) => {
                let p = panel.proof;
                let last = match p.last_passed.clone() {
                    Some(t) => view! {
                        <p data-testid="last-proven">
                            "Last proven by a real restore " <ViewerTime at=t.started_at/>
                            {t.duration_ms.map(|ms| format!(", in {}", duration_ms(ms)))}
                            " (backup #" {t.backup_id} ")."
                        </p>
                    }
                    .into_any(),
                    None => view! { <p data-testid="last-proven">"Never proven by a restore."</p> }.into_any(),
                };
                let flag = p.flag.map(|f| view! {
                    <p><span class=format!("flag flag-{}", f.as_str()) data-testid="proof-flag">{f.label()}</span></p>
                });
                let recent = panel.recent;
                view! {
                    {last}
                    {flag}
                    <ul class="test-restores">
                        {recent.into_iter().map(|t| view! { <li data-testid="test-restore-line"><TestRestoreLine test=t/></li> }).collect_view()}
                    </ul>
                }
                .into_any()
            }
        })
    };
    view! {
        <section data-testid="database-proof">
            <div class="section-head">
                <h2>"Proof"</h2>
                <TestRestoreButton server_id database=database.clone() changed/>
            </div>
            <Transition fallback=|| ()>{body}</Transition>
        </section>
    }
}
