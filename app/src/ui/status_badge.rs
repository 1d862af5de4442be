//! The coloured status of a backup run.

use leptos::prelude::*;

use model::backup::BackupStatus;

/// `queued`, `running`, `succeeded` or `failed`, coloured.
#[component]
pub fn StatusBadge(state: BackupStatus) -> impl IntoView {
    let name = state.as_str();
    view! {
        <span class=format!("badge badge-{name}") data-testid="backup-status">
            {name}
        </span>
    }
}
