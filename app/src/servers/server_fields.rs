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
        ssl_root_cert: None,
        ssl_client_cert: None,
        has_client_key: false,
    });
    let key_hint = match (editing, s.has_client_key) {
        (true, true) => "a key is stored: leave blank to keep it",
        _ => "-----BEGIN PRIVATE KEY----- … (unencrypted PEM)",
    };
    let tls_open = s.ssl_root_cert.is_some() || s.ssl_client_cert.is_some() || s.has_client_key;
    let password_hint = match (editing, s.has_password) {
        (false, _) => "optional",
        (true, true) => "leave blank to keep the stored password",
        (true, false) => "none stored; leave blank for none",
    };

    // The messages for `field`: the last error's lines about it (an error
    // may hold every field's problem, one line each).
    let about = move |field: &'static str| {
        move || {
            error.with(|e| {
                let lines: Vec<String> = e
                    .as_deref()
                    .unwrap_or_default()
                    .lines()
                    .filter_map(split_field_error)
                    .filter(|(f, _)| *f == field)
                    .map(|(_, msg)| msg.to_owned())
                    .collect();
                (!lines.is_empty()).then_some(lines)
            })
        }
    };
    let field_error = move |field: &'static str| {
        let msg = about(field);
        move || {
            msg().map(|lines| {
                lines
                    .into_iter()
                    .map(|m| view! { <span class="field-error" data-testid="form-error" role="alert">{m}</span> })
                    .collect_view()
            })
        }
    };
    let invalid = move |field: &'static str| {
        let msg = about(field);
        move || if msg().is_some() { "true" } else { "false" }
    };
    let general_error = move || {
        error.with(|e| {
            let rest: Vec<&str> = e
                .as_deref()
                .unwrap_or_default()
                .lines()
                .filter(|l| split_field_error(l).is_none())
                .collect();
            (!rest.is_empty()).then(|| view! { <ErrorMessage message=rest.join("\n")/> })
        })
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
        <details class="tls-fields" open=tls_open>
            <summary>"Certificates (for sslmode verify-ca / verify-full, or client-certificate sign-in)"</summary>
            <div class="fields">
                <label class="field wide">
                    <span class="label">"Root certificate (CA, PEM)"</span>
                    <textarea name="ssl_root_cert" rows="4" class="mono small" data-testid="server-ssl-root-cert"
                        spellcheck="false" placeholder="-----BEGIN CERTIFICATE----- …"
                        aria-invalid=invalid("ssl_root_cert")>{s.ssl_root_cert.clone().unwrap_or_default()}</textarea>
                    <span class="hint">"the CA that issued the server's certificate (for Amazon RDS, your region's bundle); pg_dump and pgshelf check the server against it"</span>
                    {field_error("ssl_root_cert")}
                </label>
                <label class="field wide">
                    <span class="label">"Client certificate (PEM)"</span>
                    <textarea name="ssl_client_cert" rows="3" class="mono small" data-testid="server-ssl-client-cert"
                        spellcheck="false" aria-invalid=invalid("ssl_client_cert")>{s.ssl_client_cert.clone().unwrap_or_default()}</textarea>
                    {field_error("ssl_client_cert")}
                </label>
                <label class="field wide">
                    <span class="label">"Client key (PEM)"</span>
                    <textarea name="ssl_client_key" rows="3" class="mono small" data-testid="server-ssl-client-key"
                        spellcheck="false" autocomplete="off" placeholder=key_hint
                        aria-invalid=invalid("ssl_client_key")></textarea>
                    <span class="hint">"stored encrypted, never shown again"</span>
                    {field_error("ssl_client_key")}
                </label>
            </div>
        </details>
        {general_error}
    }
}
