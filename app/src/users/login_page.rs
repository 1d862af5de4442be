//! `/login`: user name and password. Works without JavaScript (a plain form
//! post); too many failures are refused for a while.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::api::Login;
use crate::ui::error_message::{error_text, ErrorMessage};

/// The sign-in page.
#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    let login = ServerAction::<Login>::new();
    let pending = login.pending();
    let error = move || {
        login
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };
    view! {
        <Title text="Sign in"/>
        <div class="auth-card card">
            <h1>"Sign in"</h1>
            <ActionForm action=login attr:class="auth-form" attr:data-testid="login-form">
                <input type="hidden" name="next" value=next/>
                <label class="field">
                    <span class="label">"User name"</span>
                    <input type="text" name="username" data-testid="login-username"
                        autocomplete="username" autocapitalize="off" spellcheck="false" required/>
                </label>
                <label class="field">
                    <span class="label">"Password"</span>
                    <input type="password" name="password" data-testid="login-password"
                        autocomplete="current-password" required/>
                </label>
                {error}
                <div class="form-actions">
                    <button type="submit" class="primary" data-testid="login-submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </div>
            </ActionForm>
        </div>
    }
}
