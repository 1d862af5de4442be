//! Small badges beside a backup's status: retention tiers it holds, late,
//! pruned, server version changed.

use leptos::prelude::*;

use crate::backups::views::BackupView;
use crate::ui::format::utc;
use crate::ui::tier_badges::TierBadges;

/// Tier badges and flags for one backup.
#[component]
pub fn BackupBadges(backup: BackupView) -> impl IntoView {
    let b = backup;
    let late = b.late.then(|| {
        let title = b
            .scheduled_for
            .map(|t| format!("started later than its slot {}", utc(t)))
            .unwrap_or_else(|| "started later than its slot".into());
        view! { <span class="flag flag-late" data-testid="backup-late" title=title>"late"</span> }
    });
    let pruned = b.pruned_at.map(|t| {
        view! { <span class="flag flag-pruned" data-testid="backup-pruned" title=format!("removed by retention {}", utc(t))>"pruned"</span> }
    });
    let changed = b.version_changed.then(|| {
        view! { <span class="flag flag-warn" data-testid="backup-version-changed" title="the server's version differs from the one at the previous successful backup">"version changed"</span> }
    });
    view! {
        <span class="badges">
            <TierBadges tiers=b.tiers.clone()/>
            {late}
            {pruned}
            {changed}
        </span>
    }
}
