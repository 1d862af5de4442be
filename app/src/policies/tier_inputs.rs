//! The five retention tier counts, shared by the policy editor and the
//! server plan (globals retention).

use leptos::prelude::*;

use super::policy_form::{TiersForm, TIER_NAMES};
use crate::ui::field_errors::FieldError;

/// One signal per tier, finest first (as [`TIER_NAMES`]).
#[derive(Debug, Clone, Copy)]
pub struct TierSignals(pub [RwSignal<String>; 5]);

impl TierSignals {
    pub fn new(f: &TiersForm) -> Self {
        TierSignals(TIER_NAMES.map(|t| RwSignal::new(f.get(t).to_owned())))
    }

    /// The counts as typed (tracked).
    pub fn get(&self) -> TiersForm {
        let mut f = TiersForm::default();
        for (name, sig) in TIER_NAMES.iter().zip(self.0) {
            f.set(name, sig.get());
        }
        f
    }

    pub fn set(&self, f: &TiersForm) {
        for (name, sig) in TIER_NAMES.iter().zip(self.0) {
            sig.set(f.get(name).to_owned());
        }
    }
}

/// Hints for each tier's count.
fn hint(tier: &str) -> &'static str {
    match tier {
        "hourly" => "newest N hours with a backup",
        "daily" => "newest N days with a backup",
        "weekly" => "newest N ISO weeks with a backup",
        "monthly" => "newest N months with a backup",
        _ => "newest N years with a backup",
    }
}

/// `Keep: [24] hourly [7] daily ...`; test ids `<prefix>-hourly` etc.
/// Errors about `error_field` (e.g. `retention*`) show beneath.
#[component]
pub fn TierInputs(
    tiers: TierSignals,
    testid_prefix: &'static str,
    #[prop(into)] error: Signal<Option<String>>,
    error_field: &'static str,
) -> impl IntoView {
    let invalid = move || {
        error
            .get()
            .is_some_and(|m| crate::ui::field_errors::is_about(&m, error_field))
    };
    view! {
        <div class="tiers-field">
            <span class="label">"Keep (0 turns a tier off)"</span>
            <div class="tiers">
                {TIER_NAMES
                    .iter()
                    .zip(tiers.0)
                    .map(|(name, sig)| {
                        let initial = sig.get_untracked();
                        view! {
                            <label class="tier-input">
                                <input type="number" min="0" inputmode="numeric" value=initial bind:value=sig
                                    data-testid=format!("{testid_prefix}-{name}")
                                    aria-invalid=move || if invalid() { "true" } else { "false" }/>
                                <span class="tier-name">{*name}</span>
                                <span class="hint">{hint(name)}</span>
                            </label>
                        }
                    })
                    .collect_view()}
            </div>
            <FieldError error field=error_field/>
        </div>
    }
}
