//! The coloured status of a backup run.

use leptos::prelude::*;

use model::backup::BackupStatus;

/// `queued`, `running`, `succeeded`, `verified`, `suspect`, `failed` or `cancelled`,
/// coloured; a suspect backup's reasons show on hover (and in its details).
#[component]
pub fn StatusBadge(
    state: BackupStatus,
    /// Why a backup is suspect, one reason each.
    #[prop(optional)]
    reasons: Vec<String>,
) -> impl IntoView {
    let name = state.as_str();
    let title = match state {
        BackupStatus::Verified => {
            "stored files re-read and matched their checksums; pg_restore reads the archive"
                .to_owned()
        }
        BackupStatus::Suspect => format!("readable, but: {}", reasons.join("; ")),
        _ => String::new(),
    };
    view! {
        <span class=format!("badge badge-{name}") data-testid="backup-status" title=title>
            {name}
        </span>
    }
}
