//! `/servers/:id/policy` (the server default) and
//! `/servers/:id/databases/:db/policy` (a database's override): the policy
//! editor with its live preview.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::not_found::NotFoundPage;
use crate::policies::api::get_policy;
use crate::policies::policy_editor::PolicyEditor;
use crate::ui::error_message::error_text;
use crate::ui::format::{database_href, decode_segment, server_href};
use crate::ui::resource::page_resource;

/// The server default policy page; a non-numeric id is a 404.
#[component]
pub fn ServerPolicyPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id")?.parse::<i64>().ok());
    move || match id.get() {
        None => view! { <NotFoundPage/> }.into_any(),
        Some(id) => policy_sections(id, None).into_any(),
    }
}

/// A database's policy page; a non-numeric server id is a 404.
#[component]
pub fn DatabasePolicyPage() -> impl IntoView {
    let params = use_params_map();
    let target = Memo::new(move |_| {
        let p = params.read();
        let id = p.get("id")?.parse::<i64>().ok()?;
        Some((id, decode_segment(&p.get("db")?)))
    });
    move || match target.get() {
        None => view! { <NotFoundPage/> }.into_any(),
        Some((id, db)) => policy_sections(id, Some(db)).into_any(),
    }
}

fn policy_sections(id: i64, database: Option<String>) -> impl IntoView {
    let reload = RwSignal::new(0u64);
    let page = {
        let database = database.clone();
        page_resource(
            move || reload.get(),
            move |_| get_policy(id, database.clone()),
        )
    };
    let body = move || {
        page.get().map(|r| match r {
            Err(e) => view! {
                <Title text="Policy"/>
                <nav class="crumbs"><a href="/servers">"Servers"</a> " /"</nav>
                <h1>"Policy"</h1>
                <p class="error" role="alert">{error_text(&e)}</p>
            }
            .into_any(),
            Ok(p) => {
                let server_name = p.server_name.clone();
                let (title, heading, db_crumb) = match &p.database {
                    Some(db) => (
                        format!("Policy of {db} on {server_name}"),
                        format!("Backup policy of {db}"),
                        Some(view! { <a href=database_href(id, db)>{db.clone()}</a> " /" }),
                    ),
                    None => (
                        format!("Default policy of {server_name}"),
                        "Server default policy".to_owned(),
                        None,
                    ),
                };
                let hint = match &p.database {
                    Some(_) => view! {
                        <p class="subtitle">
                            "Saving makes this database's own override. "
                            <a href=format!("{}/policy", server_href(id))>"Server default policy →"</a>
                        </p>
                    }
                    .into_any(),
                    None => view! {
                        <p class="subtitle">"Every database of " {server_name.clone()} " without an override uses this policy."</p>
                    }
                    .into_any(),
                };
                view! {
                    <Title text=title/>
                    <nav class="crumbs">
                        <a href="/servers">"Servers"</a> " / "
                        <a href=server_href(id) data-testid="server-link">{server_name.clone()}</a> " / "
                        {db_crumb}
                    </nav>
                    <h1>{heading}</h1>
                    {hint}
                    <PolicyEditor server_id=id database=p.database.clone() page=p reload/>
                }
                .into_any()
            }
        })
    };
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the policy…"</p> }>{body}</Transition>
    }
}
