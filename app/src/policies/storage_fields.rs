//! Where a policy's backups go and whether they are encrypted: the
//! destinations to tick and the age recipients, one per line (checked in
//! the browser; an error names `encryption.recipients`).

use leptos::prelude::*;

use crate::policies::destination_checks::DestinationChecks;
use crate::ui::field_errors::{is_about, FieldError};

/// The "Where backups go" and "Encryption" sections of the policy form.
#[component]
pub fn StorageFields(
    destinations: RwSignal<Vec<String>>,
    recipients: RwSignal<String>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let initial = recipients.get_untracked();
    let invalid = move || {
        if error.get().is_some_and(|m| is_about(&m, "encryption*")) {
            "true"
        } else {
            "false"
        }
    };
    view! {
        <h3>"Where backups go"</h3>
        <DestinationChecks selected=destinations testid="policy-destinations"/>
        <FieldError error field="destinations"/>

        <h3>"Encryption"</h3>
        <label class="field wide">
            <span class="label">"age recipients, one per line"</span>
            <textarea rows="3" class="mono small" bind:value=recipients spellcheck="false" autocomplete="off"
                data-testid="policy-recipients" placeholder="age1…" aria-invalid=invalid>
                {initial}
            </textarea>
            <span class="hint">"public keys only (age-keygen -y key.txt prints yours). Blank: not encrypted. Restores then need the matching identity, given at that moment; pgshelf stores no private key."</span>
            <FieldError error field="encryption*"/>
        </label>
    }
    .into_any()
}
