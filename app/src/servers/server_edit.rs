//! "Edit" on a server's page: the same form as on the servers list, opened
//! in place (the wrong-password message points here).

use leptos::prelude::*;
use model::server::Server;

use crate::servers::api::UpdateServer;
use crate::servers::server_form::{ServerForm, ServerFormAction};

/// An Edit button that opens the server form below it; bumps `saved` after
/// a successful save (the page reads the server and its connection again).
#[component]
pub fn ServerEdit(server: Server, saved: RwSignal<u64>) -> impl IntoView {
    let update = ServerAction::<UpdateServer>::new();
    let editing = RwSignal::new(false);
    Effect::new(move |_| {
        if update.value().with(|v| matches!(v, Some(Ok(_)))) {
            editing.set(false);
            saved.update(|n| *n += 1);
        }
    });
    let form = move || {
        editing.get().then(|| {
            view! {
                <div class="card edit-server" data-testid="server-edit-panel">
                    <ServerForm server=server.clone() action=ServerFormAction::Edit(update)/>
                </div>
            }
        })
    };
    view! {
        <button
            type="button"
            data-testid="server-edit"
            aria-expanded=move || editing.get().to_string()
            on:click=move |_| editing.update(|e| *e = !*e)
        >
            {move || if editing.get() { "Close edit" } else { "Edit" }}
        </button>
        {form}
    }
}
