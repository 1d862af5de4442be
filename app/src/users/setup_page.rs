//! `/setup?token=...`: creates the first admin. pgshelf prints this link to
//! its log at start while no user exists; without the token the page says
//! where to find it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::api::SetupAdmin;
use crate::ui::error_message::{error_text, ErrorMessage};

/// The first-admin page.
#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let setup = ServerAction::<SetupAdmin>::new();
    let pending = setup.pending();
    let error = move || {
        setup
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };
    view! {
        <Title text="Create the first admin"/>
        <div class="auth-card card">
            <h1>"Create the first admin"</h1>
            <Show
                when=move || !token().is_empty()
                fallback=|| view! {
                    <p data-testid="setup-needs-link">
                        "No one can sign in yet. pgshelf printed a one-time setup link to its log when it started "
                        "(a line with " <code>"/setup?token="</code> "); open that link to create the first admin."
                    </p>
                }
            >
                <p class="muted">"This admin can then add the other users, with their roles, on the Users page."</p>
                <ActionForm action=setup attr:class="auth-form" attr:data-testid="setup-form">
                    <input type="hidden" name="token" value=token/>
                    <label class="field">
                        <span class="label">"User name"</span>
                        <input type="text" name="username" data-testid="setup-username"
                            autocomplete="username" autocapitalize="off" spellcheck="false" required/>
                    </label>
                    <label class="field">
                        <span class="label">"Password"</span>
                        <input type="password" name="password" data-testid="setup-password"
                            autocomplete="new-password" minlength="10" required/>
                        <span class="hint">"at least 10 characters; a passphrase works well"</span>
                    </label>
                    {error}
                    <div class="form-actions">
                        <button type="submit" class="primary" data-testid="setup-submit" disabled=move || pending.get()>
                            "Create admin and sign in"
                        </button>
                    </div>
                </ActionForm>
            </Show>
        </div>
    }
}
