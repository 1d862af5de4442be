//! The coloured status of a backup run.

use leptos::prelude::*;

use crate::api::views::BackupState;

/// `queued`, `running`, `succeeded` or `failed`, coloured.
#[component]
pub fn StatusBadge(state: BackupState) -> impl IntoView {
    let name = state.as_str();
    view! {
        <span class=format!("badge badge-{name}") data-testid="backup-status">
            {name}
        </span>
    }
}
