//! "Edit": the server form prefilled, posting to `update_server`.

use leptos::prelude::*;

use super::error_message::error_text;
use super::server_fields::ServerFields;
use crate::api::servers::UpdateServer;
use crate::api::views::ServerView;

/// The edit form of one server. A blank password keeps the stored one; the
/// checkbox clears it.
#[component]
pub fn EditServerForm(server: ServerView, action: ServerAction<UpdateServer>) -> impl IntoView {
    let error = Signal::derive(move || {
        action
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().err()).map(error_text))
    });
    let pending = action.pending();
    let id = server.id;
    let has_password = server.has_password;
    view! {
        <ActionForm action attr:class="server-form edit" attr:data-testid="server-form">
            <input type="hidden" name="id" value=id.to_string()/>
            <ServerFields server error/>
            <div class="form-actions">
                {has_password.then(|| view! {
                    <label class="check">
                        <input type="checkbox" name="clear_password" value="on" data-testid="server-clear-password"/>
                        " Clear the stored password"
                    </label>
                })}
                <button type="submit" class="primary" data-testid="server-submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Saving…" } else { "Save changes" }}
                </button>
            </div>
        </ActionForm>
    }
}
