//! Who is signed in, in the header, with "Users" for admins and "Sign out".

use leptos::prelude::*;
use model::user::Role;

use super::api::{current_user, Logout};

use crate::ui::resource::page_resource;

/// The signed-in user's name and role; nothing on the sign-in pages.
#[component]
pub fn UserMenu() -> impl IntoView {
    let me = page_resource(|| (), |_| current_user());
    let logout = ServerAction::<Logout>::new();
    let body = move || {
        me.get().and_then(Result::ok).flatten().map(|u| {
            let admin = u.role.allows(Role::Admin);
            view! {
                {admin.then(|| view! { <a href="/users" data-testid="nav-users">"Users"</a> })}
                <span class="whoami" data-testid="whoami" data-role=u.role.as_str()>
                    {u.username.clone()} " (" {u.role.as_str()} ")"
                </span>
                <ActionForm action=logout attr:class="inline">
                    <button type="submit" class="link" data-testid="logout">"Sign out"</button>
                </ActionForm>
            }
        })
    };
    view! { <span class="user-menu"><Transition fallback=|| ()>{body}</Transition></span> }
}
