//! Stored age identities: which public keys pgshelf can decrypt for
//! scheduled test-restores of encrypted backups, storing one (admins, with
//! the risk stated and confirmed) and forgetting one. The secret key goes
//! one way, browser -> engine (sealed there); only recipients come back.

use leptos::prelude::*;

use crate::destinations::api::{list_identities, ForgetIdentity, StoreIdentity};
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::resource::page_resource;
use model::destination::STORED_IDENTITY_RISK;

/// The panel on `/destinations`.
#[component]
pub fn StoredIdentitiesPanel(admin: bool) -> impl IntoView {
    let store = ServerAction::<StoreIdentity>::new();
    let forget = ServerAction::<ForgetIdentity>::new();
    let list = page_resource(
        move || (store.version().get(), forget.version().get()),
        |_| list_identities(),
    );
    let rows = move || {
        list.get().map(|r| match r {
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
            Ok(ids) if ids.is_empty() => view! {
                <p class="muted" data-testid="identities-none">
                    "None stored: scheduled test-restores of encrypted backups are recorded as failed until one is, and restores ask for the identity each time."
                </p>
            }
            .into_any(),
            Ok(ids) => view! {
                <ul class="identities" data-testid="identities">
                    {ids.into_iter().map(|id| {
                        let recipient = id.recipient.clone();
                        view! {
                            <li>
                                <code>{id.recipient.clone()}</code>
                                " stored by " {id.stored_by.clone()} " on "
                                {id.stored_at.format("%Y-%m-%d %H:%M UTC").to_string()}
                                {admin.then(|| view! {
                                    <button type="button" class="danger" data-testid="identity-forget"
                                        on:click=move |_| { forget.dispatch(ForgetIdentity { recipient: recipient.clone() }); }>
                                        "Forget"
                                    </button>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }
            .into_any(),
        })
    };
    let stored_msg = move || {
        store.value().get().map(|r| match r {
            Ok(recipients) => view! {
                <p class="ok" role="status" data-testid="identity-stored">
                    "Stored for " {recipients.join(", ")} "."
                </p>
            }
            .into_any(),
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    };
    let form = admin.then(|| {
        view! {
            <ActionForm action=store attr:class="identity-form" attr:data-testid="identity-form">
                <label>
                    "age identity (the whole key file, AGE-SECRET-KEY-1…)"
                    <textarea name="identity" rows="3" autocomplete="off" spellcheck="false"
                        data-testid="identity-text"></textarea>
                </label>
                <p class="warn">{STORED_IDENTITY_RISK}</p>
                <label class="check">
                    <input type="checkbox" name="risk_accepted" value="yes" data-testid="identity-risk"/>
                    " I understand: store it sealed for scheduled test-restores"
                </label>
                <button type="submit" disabled=move || store.pending().get()>"Store identity"</button>
                {stored_msg}
            </ActionForm>
        }
    });
    view! {
        <section class="card" data-testid="stored-identities">
            <h2>"Identities for scheduled test-restores"</h2>
            <p class="muted">
                "Encrypted backups need an age identity to be restored. Restores ask for it each time and keep it only for that restore; scheduled test-restores can only use one stored here."
            </p>
            <Transition fallback=|| ()>{rows}</Transition>
            {move || forget.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorMessage message=error_text(&e)/> })}
            {form}
        </section>
    }
}
