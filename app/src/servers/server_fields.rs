//! The inputs of the server form, shared by "Add a server" and "Edit".

use leptos::prelude::*;

use crate::ui::error_message::{split_field_error, ErrorMessage};
use model::server::{Server, SSLMODES};

/// Name, host, port, user, password, sslmode and maintenance database, with
/// the error of the last submission shown beside the field it is about (or
/// below the fields when it is about none). Prefilled from `server` when
/// editing; the password is never prefilled: blank keeps the stored one.
#[component]
pub fn ServerFields(
    /// The server being edited; `None` for a new one.
    #[prop(optional_no_strip)]
    server: Option<Server>,
    /// The last submission's error message.
    #[prop(into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    let editing = server.is_some();
    let s = server.unwrap_or_else(|| Server {
        id: 0,
        name: String::new(),
        host: String::new(),
        port: 5432,
        user: String::new(),
        has_password: false,
        sslmode: "prefer".into(),
        maintenance_db: "postgres".into(),
    });
    let password_hint = match (editing, s.has_password) {
        (false, _) => "optional",
        (true, true) => "leave blank to keep the stored password",
        (true, false) => "none stored; leave blank for none",
    };

    // The message for `field`, if the last error is about it.
    let about = move |field: &'static str| {
        move || {
            error.with(|e| {
                e.as_deref()
                    .and_then(split_field_error)
                    .filter(|(f, _)| *f == field)
                    .map(|(_, msg)| msg.to_owned())
            })
        }
    };
    let field_error = move |field: &'static str| {
        let msg = about(field);
        move || {
            msg().map(|m| view! { <span class="field-error" data-testid="form-error" role="alert">{m}</span> })
        }
    };
    let invalid = move |field: &'static str| {
        let msg = about(field);
        move || if msg().is_some() { "true" } else { "false" }
    };
    let general_error = move || {
        error
            .get()
            .filter(|m| split_field_error(m).is_none())
            .map(|m| view! { <ErrorMessage message=m/> })
    };

    let sslmode = s.sslmode.clone();
    view! {
        <div class="fields">
            <label class="field">
                <span class="label">"Name"</span>
                <input type="text" name="name" data-testid="server-name" value=s.name
                    placeholder="prod-main" autocomplete="off" spellcheck="false"
                    aria-invalid=invalid("name")/>
                <span class="hint">"letters, digits, - _ ."</span>
                {field_error("name")}
            </label>
            <label class="field">
                <span class="label">"Host"</span>
                <input type="text" name="host" data-testid="server-host" value=s.host
                    placeholder="db.internal" autocomplete="off" spellcheck="false"
                    aria-invalid=invalid("host")/>
                {field_error("host")}
            </label>
            <label class="field narrow">
                <span class="label">"Port"</span>
                <input type="text" inputmode="numeric" name="port" data-testid="server-port"
                    value=s.port.to_string() aria-invalid=invalid("port")/>
                {field_error("port")}
            </label>
            <label class="field">
                <span class="label">"User"</span>
                <input type="text" name="user" data-testid="server-user" value=s.user
                    placeholder="backup" autocomplete="off" spellcheck="false"
                    aria-invalid=invalid("user")/>
                {field_error("user")}
            </label>
            <label class="field">
                <span class="label">"Password"</span>
                <input type="password" name="password" data-testid="server-password" value=""
                    autocomplete="new-password" placeholder=password_hint
                    aria-invalid=invalid("password")/>
                <span class="hint">"stored encrypted, never shown again"</span>
                {field_error("password")}
            </label>
            <label class="field narrow">
                <span class="label">"SSL mode"</span>
                <select name="sslmode" data-testid="server-sslmode" aria-invalid=invalid("sslmode")>
                    {SSLMODES
                        .iter()
                        .map(|mode| view! { <option value=*mode selected=*mode == sslmode>{*mode}</option> })
                        .collect_view()}
                </select>
                {field_error("sslmode")}
            </label>
            <label class="field">
                <span class="label">"Maintenance database"</span>
                <input type="text" name="maintenance_db" data-testid="server-maintenance-db"
                    value=s.maintenance_db autocomplete="off" spellcheck="false"
                    aria-invalid=invalid("maintenance_db")/>
                <span class="hint">"where pgshelf connects to list databases"</span>
                {field_error("maintenance_db")}
            </label>
        </div>
        {general_error}
    }
}
