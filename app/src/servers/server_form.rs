//! The server form: "Add a server" (posting to `add_server`) or a server's
//! "Edit" (prefilled, posting to `update_server`). One form, two actions.

use leptos::html::Form;
use leptos::prelude::*;
use model::server::Server;

use crate::servers::api::{test_connection, AddServer, UpdateServer};
use crate::servers::connection_result::ConnectionResult;
use crate::servers::default_plan_note::DefaultPlanNote;
use crate::servers::server_fields::ServerFields;
use crate::ui::error_message::error_text;
use crate::ui::format::server_href;
use crate::ui::resource::page_resource;

/// Which action the form posts to.
#[derive(Clone, Copy)]
pub enum ServerFormAction {
    Add(ServerAction<AddServer>),
    Edit(ServerAction<UpdateServer>),
}

/// The add form (empty; clears itself after a success) or the edit form of
/// `server` (a blank password keeps the stored one; a checkbox clears it).
/// Works without JavaScript (a plain form post).
#[component]
pub fn ServerForm(
    action: ServerFormAction,
    #[prop(optional)] server: Option<Server>,
) -> impl IntoView {
    let form = NodeRef::<Form>::new();
    let (error, pending) = match action {
        ServerFormAction::Add(a) => (
            Signal::derive(move || {
                a.value()
                    .with(|v| v.as_ref().and_then(|r| r.as_ref().err()).map(error_text))
            }),
            a.pending(),
        ),
        ServerFormAction::Edit(a) => (
            Signal::derive(move || {
                a.value()
                    .with(|v| v.as_ref().and_then(|r| r.as_ref().err()).map(error_text))
            }),
            a.pending(),
        ),
    };
    let fields = {
        let server = server.clone();
        move || view! { <ServerFields server=server.clone() error/> }
    };
    match action {
        ServerFormAction::Add(action) => {
            let added = move || {
                action.value().with(|v| {
                    v.as_ref()
                        .and_then(|r| r.as_ref().ok())
                        .map(|s| (s.id, s.name.clone()))
                })
            };
            // The new server's connection, tested at once: a wrong password
            // or a dead port is saved (that is fine) but flagged here.
            let added_id = Memo::new(move |_| added().map(|(id, _)| id));
            let check = page_resource(
                move || added_id.get(),
                |id| async move {
                    match id {
                        Some(id) => Some(test_connection(id).await),
                        None => None,
                    }
                },
            );
            let check_view = move || {
                check.get().flatten().map(|r| {
                    let failed = r.is_err();
                    view! {
                        <div class="added-check" data-testid="added-connection" data-ok=(!failed).to_string()>
                            <ConnectionResult result=r.map_err(|e| error_text(&e))/>
                            {failed.then(|| view! {
                                <p class="hint">"Saved anyway: its scheduled backups will fail until the connection works. Fix it with Edit on the server's page."</p>
                            })}
                        </div>
                    }
                })
            };
            Effect::new(move |_| {
                if added().is_some() {
                    if let Some(form) = form.get_untracked() {
                        form.reset();
                    }
                }
            });
            view! {
                <ActionForm action node_ref=form attr:class="server-form" attr:data-testid="server-form">
                    {fields()}
                    <div class="form-actions">
                        <button type="submit" class="primary" data-testid="server-submit" disabled=move || pending.get()>
                            {move || if pending.get() { "Adding…" } else { "Add server" }}
                        </button>
                        {move || added().map(|(id, name)| view! {
                            <span class="ok" role="status">"Added " <a href=server_href(id)>{name}</a> "."</span>
                        })}
                    </div>
                    <Transition fallback=|| view! { <p class="result pending" role="status">"Testing the new server's connection…"</p> }>
                        {check_view}
                    </Transition>
                    <DefaultPlanNote/>
                </ActionForm>
            }
            .into_any()
        }
        ServerFormAction::Edit(action) => {
            let id = server.as_ref().map(|s| s.id).unwrap_or_default();
            let has_password = server.as_ref().is_some_and(|s| s.has_password);
            view! {
                <ActionForm action attr:class="server-form edit" attr:data-testid="server-form">
                    <input type="hidden" name="id" value=id.to_string()/>
                    {fields()}
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
            .into_any()
        }
    }
}
