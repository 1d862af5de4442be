//! One server in the servers table: its settings and its actions (test the
//! connection, edit, delete with a confirm step).

use leptos::prelude::*;

use crate::servers::api::{DeleteServer, TestConnection, UpdateServer};
use crate::servers::connection_result::ConnectionResult;
use crate::servers::server_form::{ServerForm, ServerFormAction};
use crate::servers::server_health::ServerHealth;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::server_href;
use model::server::Server;

/// Columns of the servers table.
pub const SERVER_COLUMNS: usize = 7;

/// A `<tbody>` per server: the row, then (when asked for) the connection
/// result and the edit form beneath it. Bumps `servers_changed` after a
/// successful edit or delete so the page lists the servers again.
#[component]
pub fn ServerRow(server: Server, servers_changed: RwSignal<u64>) -> impl IntoView {
    let test = ServerAction::<TestConnection>::new();
    let update = ServerAction::<UpdateServer>::new();
    let delete = ServerAction::<DeleteServer>::new();
    let editing = RwSignal::new(false);

    Effect::new(move |_| {
        let saved = update.value().with(|v| matches!(v, Some(Ok(_))));
        let deleted = delete.value().with(|v| matches!(v, Some(Ok(_))));
        if saved {
            editing.set(false);
        }
        if saved || deleted {
            servers_changed.update(|n| *n += 1);
        }
    });

    let id = server.id;
    let name = server.name.clone();
    let row_name = name.clone();
    let confirm_name = name.clone();
    let testing = test.pending();
    let connection = move || {
        if testing.get() {
            return Some(
                view! { <p class="result pending" role="status">"Testing the connection…"</p> }
                    .into_any(),
            );
        }
        test.value()
            .get()
            .map(|r| view! { <ConnectionResult result=r.map_err(|e| error_text(&e))/> }.into_any())
    };
    let delete_error = move || {
        delete
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };
    let edit_form = {
        let server = server.clone();
        move || {
            editing
                .get()
                .then(|| view! { <ServerForm server=server.clone() action=ServerFormAction::Edit(update)/> })
        }
    };

    view! {
        <tbody class="server">
            <tr data-testid="server-row" data-name=row_name>
                <td>
                    <a href=server_href(id) data-testid="server-link" class="strong">{name.clone()}</a>
                </td>
                <td class="mono">{server.address()}</td>
                <td class="health-cell"><ServerHealth server_id=id/></td>
                <td class="mono">{server.user.clone()}</td>
                <td>{server.sslmode.clone()}</td>
                <td>
                    {if server.has_password {
                        view! { <span class="tag">"password set"</span> }.into_any()
                    } else {
                        view! { <span class="muted">"no password"</span> }.into_any()
                    }}
                </td>
                <td class="actions">
                    <ActionForm action=test attr:class="inline">
                        <input type="hidden" name="id" value=id.to_string()/>
                        <button type="submit" data-testid="test-connection" disabled=move || testing.get()>
                            "Test connection"
                        </button>
                    </ActionForm>
                    <button type="button" data-testid="server-edit" on:click=move |_| editing.update(|e| *e = !*e)>
                        {move || if editing.get() { "Close edit" } else { "Edit" }}
                    </button>
                    <details class="confirm">
                        <summary data-testid="server-delete">"Delete"</summary>
                        <div class="confirm-box">
                            <p>"Delete " <strong>{name.clone()}</strong> "? Its backups stay listed and on storage."</p>
                            <ActionForm action=delete attr:class="inline">
                                <input type="hidden" name="id" value=id.to_string()/>
                                <button type="submit" class="danger" data-testid="server-delete-confirm">
                                    "Yes, delete " {confirm_name}
                                </button>
                            </ActionForm>
                        </div>
                    </details>
                </td>
            </tr>
            <tr class="detail">
                <td colspan=SERVER_COLUMNS.to_string()>
                    {connection}
                    {delete_error}
                    {edit_form}
                </td>
            </tr>
        </tbody>
    }
}
