//! The retention tiers a backup holds, as small badges.

use leptos::prelude::*;
use model::retention::Tier;

/// `hourly`, `daily`, ... one badge each; nothing when it holds none.
#[component]
pub fn TierBadges(tiers: Vec<Tier>) -> impl IntoView {
    tiers
        .into_iter()
        .map(|t| {
            let t = t.name();
            view! { <span class=format!("tier tier-{t}") data-testid="tier-badge" title=format!("kept as a {t} backup")>{t}</span> }
        })
        .collect_view()
}
