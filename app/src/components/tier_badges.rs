//! The retention tiers a backup holds, as small badges.

use leptos::prelude::*;

/// `hourly`, `daily`, ... one badge each; nothing when it holds none.
#[component]
pub fn TierBadges(tiers: Vec<String>) -> impl IntoView {
    tiers
        .into_iter()
        .map(|t| {
            view! { <span class=format!("tier tier-{t}") data-testid="tier-badge" title=format!("kept as a {t} backup")>{t.clone()}</span> }
        })
        .collect_view()
}
