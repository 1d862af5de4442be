//! `/users` (admins): every user with their role, add a user, change a
//! role, remove a user, and create API tokens for the CLI and scripts
//! (shown once).

use leptos::prelude::*;
use leptos_meta::Title;
use model::user::{Role, User};

use super::api::{list_users, AddUser, CreateApiToken, DeleteUser, SetUserRole};
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::resource::page_resource;
use crate::ui::viewer_time::ViewerTime;

fn role_options(selected: Role) -> impl IntoView {
    Role::ALL
        .iter()
        .rev()
        .map(|r| {
            view! {
                <option value=r.as_str() selected=*r == selected>
                    {r.as_str()} " — " {r.describe()}
                </option>
            }
        })
        .collect_view()
}

fn user_row(u: User, changed: RwSignal<u64>) -> impl IntoView {
    let set_role = ServerAction::<SetUserRole>::new();
    let delete = ServerAction::<DeleteUser>::new();
    Effect::new(move |_| {
        let done = set_role.value().with(|v| matches!(v, Some(Ok(_))))
            || delete.value().with(|v| matches!(v, Some(Ok(()))));
        if done {
            changed.update(|n| *n += 1);
        }
    });
    let error = move || {
        set_role
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| delete.value().get().and_then(Result::err))
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };
    let id = u.id.to_string();
    let id2 = id.clone();
    view! {
        <tr data-testid="user-row" data-username=u.username.clone() data-role=u.role.as_str()>
            <td class="strong">{u.username.clone()}</td>
            <td>
                <ActionForm action=set_role attr:class="inline">
                    <input type="hidden" name="id" value=id2/>
                    <select name="role" data-testid="user-role">{role_options(u.role)}</select>
                    <button type="submit" data-testid="user-role-save">"Change"</button>
                </ActionForm>
            </td>
            <td class="mono small"><ViewerTime at=u.created_at/></td>
            <td>
                <ActionForm action=delete attr:class="inline">
                    <input type="hidden" name="id" value=id/>
                    <button type="submit" class="danger" data-testid="user-delete">"Remove"</button>
                </ActionForm>
                {error}
            </td>
        </tr>
    }
}

/// The users page.
#[component]
pub fn UsersPage() -> impl IntoView {
    let changed = RwSignal::new(0u64);
    let add = ServerAction::<AddUser>::new();
    let token = ServerAction::<CreateApiToken>::new();
    let users = page_resource(
        move || (changed.get(), add.version().get()),
        |_| list_users(),
    );
    let body = move || {
        users.get().map(|r| match r {
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            Ok(list) => view! {
                <table class="users">
                    <thead><tr><th>"User"</th><th>"Role"</th><th>"Created"</th><th></th></tr></thead>
                    <tbody>{list.into_iter().map(|u| user_row(u, changed)).collect_view()}</tbody>
                </table>
            }
            .into_any(),
        })
    };
    let add_error = move || {
        add.value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };
    let token_result = move || {
        token.value().get().map(|r| match r {
            Ok(t) => view! {
                <p class="result ok" role="status">
                    "Copy this token now; it is not shown again: "
                    <code class="mono" data-testid="api-token">{t}</code>
                </p>
            }
            .into_any(),
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    };
    view! {
        <Title text="Users"/>
        <h1>"Users"</h1>
        <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>{body}</Transition>
        <section>
            <h2>"Add a user"</h2>
            <ActionForm action=add attr:class="server-form" attr:data-testid="user-form">
                <div class="fields">
                    <label class="field">
                        <span class="label">"User name"</span>
                        <input type="text" name="username" data-testid="user-username" autocomplete="off" spellcheck="false"/>
                    </label>
                    <label class="field">
                        <span class="label">"Password"</span>
                        <input type="password" name="password" data-testid="user-password" autocomplete="new-password"/>
                        <span class="hint">"at least 10 characters"</span>
                    </label>
                    <label class="field">
                        <span class="label">"Role"</span>
                        <select name="role" data-testid="user-new-role">{role_options(Role::Viewer)}</select>
                    </label>
                </div>
                {add_error}
                <div class="form-actions">
                    <button type="submit" class="primary" data-testid="user-submit">"Add user"</button>
                </div>
            </ActionForm>
        </section>
        <section>
            <h2>"API tokens"</h2>
            <p class="muted">"For scripts and the CLI: send " <code>"Authorization: Bearer TOKEN"</code> ". A token acts with its role."</p>
            <ActionForm action=token attr:class="server-form" attr:data-testid="token-form">
                <div class="fields">
                    <label class="field">
                        <span class="label">"Name"</span>
                        <input type="text" name="name" data-testid="token-name" placeholder="ci" autocomplete="off"/>
                    </label>
                    <label class="field">
                        <span class="label">"Role"</span>
                        <select name="role" data-testid="token-role">{role_options(Role::Viewer)}</select>
                    </label>
                </div>
                <div class="form-actions">
                    <button type="submit" class="primary" data-testid="token-submit">"Create token"</button>
                </div>
            </ActionForm>
            {token_result}
        </section>
    }
}
