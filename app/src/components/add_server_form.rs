//! "Add a server": the server form posting to `add_server`.

use leptos::html::Form;
use leptos::prelude::*;

use super::error_message::error_text;
use super::server_fields::ServerFields;
use crate::api::servers::AddServer;

/// The add-server form. Works without JavaScript (a plain form post); with
/// it, the list refreshes in place and the form clears after a success.
#[component]
pub fn AddServerForm(action: ServerAction<AddServer>) -> impl IntoView {
    let form = NodeRef::<Form>::new();
    let error = Signal::derive(move || {
        action
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().err()).map(error_text))
    });
    let added = move || {
        action.value().with(|v| {
            v.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|s| s.name.clone())
        })
    };
    Effect::new(move |_| {
        if added().is_some() {
            if let Some(form) = form.get_untracked() {
                form.reset();
            }
        }
    });
    let pending = action.pending();

    view! {
        <ActionForm action node_ref=form attr:class="server-form" attr:data-testid="server-form">
            <ServerFields error/>
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="server-submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Adding…" } else { "Add server" }}
                </button>
                {move || added().map(|name| view! { <span class="ok" role="status">"Added " {name} "."</span> })}
            </div>
        </ActionForm>
    }
}
