//! The connection test on a server's page: run when the page loads, again on
//! request.

use leptos::prelude::*;

use crate::servers::api::test_connection;
use crate::servers::connection_result::ConnectionResult;
use crate::ui::error_message::error_text;
use crate::ui::resource::page_resource;

/// Tests the connection as the page renders (so it shows without
/// JavaScript) and again with "Test again".
#[component]
pub fn ConnectionStatus(server_id: i64) -> impl IntoView {
    let attempt = RwSignal::new(0u32);
    let result = page_resource(move || attempt.get(), move |_| test_connection(server_id));
    let testing = RwSignal::new(false);
    view! {
        <div class="connection">
            <Transition
                fallback=|| view! { <p class="result pending" role="status">"Testing the connection…"</p> }
                set_pending=testing
            >
                {move || {
                    result
                        .get()
                        .map(|r| view! { <ConnectionResult result=r.map_err(|e| error_text(&e))/> })
                }}
            </Transition>
            <button
                type="button"
                data-testid="test-connection"
                disabled=move || testing.get()
                on:click=move |_| attempt.update(|n| *n += 1)
            >
                {move || if testing.get() { "Testing…" } else { "Test again" }}
            </button>
        </div>
    }
}
