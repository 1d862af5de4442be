//! A text input bound to one string of a form's draft (the form as typed),
//! with its label, hint and the errors about its field: the shape every
//! draft-backed form (destinations, alert channels) shares.

use leptos::prelude::*;

/// The input: filled from `get` once, writing through `set` on every
/// keystroke; `invalid` sets `aria-invalid`, `errors` shows beside it.
#[allow(clippy::too_many_arguments)]
pub fn draft_text_field<D: Send + Sync + 'static>(
    draft: RwSignal<D>,
    label: &'static str,
    testid: &'static str,
    get: fn(&D) -> &String,
    set: fn(&mut D) -> &mut String,
    placeholder: &'static str,
    hint: &'static str,
    invalid: Signal<bool>,
    errors: AnyView,
) -> AnyView {
    let initial = draft.with_untracked(|d| get(d).clone());
    let invalid = move || if invalid.get() { "true" } else { "false" };
    view! {
        <label class="field">
            <span class="label">{label}</span>
            <input type="text" value=initial data-testid=testid placeholder=placeholder
                autocomplete="off" spellcheck="false" aria-invalid=invalid
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    draft.update(|d| *set(d) = v);
                }/>
            {(!hint.is_empty()).then(|| view! { <span class="hint">{hint}</span> })}
            {errors}
        </label>
    }
    .into_any()
}
