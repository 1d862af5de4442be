//! `/servers` (and `/` before the first server): every server, with test / edit / delete, and the add-server form.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::servers::api::{list_servers, AddServer};
use crate::servers::server_form::{ServerForm, ServerFormAction};
use crate::servers::server_row::ServerRow;
use crate::ui::error_message::error_text;
use crate::ui::resource::page_resource;

/// The servers page.
#[component]
pub fn ServersPage() -> impl IntoView {
    let servers_changed = RwSignal::new(0u64);
    let add = ServerAction::<AddServer>::new();
    let servers = page_resource(
        move || (servers_changed.get(), add.version().get()),
        |_| list_servers(),
    );

    let rows = move || servers.get().and_then(Result::ok).unwrap_or_default();
    let loaded = move |pred: fn(usize) -> bool| {
        move || {
            servers.with(|s| {
                s.as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .is_some_and(|l| pred(l.len()))
            })
        }
    };
    let load_error = move || {
        servers
            .get()
            .and_then(Result::err)
            .map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })
    };

    view! {
        <Title text="Servers"/>
        <h1>"Servers"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading servers…"</p> }>
            {load_error}
            <Show when=loaded(|n| n == 0)>
                <p class="empty" data-testid="no-servers">"No servers yet. Add the first one below."</p>
            </Show>
            <table class="servers" class:hidden=move || !loaded(|n| n > 0)()>
                <thead>
                    <tr>
                        <th>"Name"</th>
                        <th>"Address"</th>
                        <th>"Connection"</th>
                        <th>"User"</th>
                        <th>"SSL mode"</th>
                        <th>"Password"</th>
                        <th></th>
                    </tr>
                </thead>
                <For each=rows key=|s| s.clone() let:server>
                    <ServerRow server servers_changed/>
                </For>
            </table>
        </Transition>
        <section class="card">
            <h2>"Add a server"</h2>
            <ServerForm action=ServerFormAction::Add(add)/>
        </section>
    }
}
