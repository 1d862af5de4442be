//! `/servers/:id/databases/:db`: one database's backups, with "Back up now";
//! its history (size trend, largest tables, failure log; `?range=`); the
//! table follows running backups live.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::backups::backups_table::BackupsTable;
use crate::backups::run_now_button::RunNowButton;
use crate::history::history_panel::HistoryPanel;
use crate::not_found::NotFoundPage;
use crate::restores::database_proof::DatabaseProofPanel;
use crate::servers::api::get_server;
use crate::ui::format::{decode_segment, policy_href, server_href};
use crate::ui::resource::page_resource;
use model::backup::Target;

/// How many backups the database page lists.
pub const DATABASE_BACKUPS: i64 = 100;

/// The database page; a non-numeric server id is a 404.
#[component]
pub fn DatabasePage() -> impl IntoView {
    let params = use_params_map();
    let target = Memo::new(move |_| {
        let p = params.read();
        let id = p.get("id")?.parse::<i64>().ok()?;
        let database = decode_segment(&p.get("db")?);
        Some((id, database))
    });
    move || match target.get() {
        None => view! { <NotFoundPage/> }.into_any(),
        Some((id, database)) => database_sections(id, database).into_any(),
    }
}

/// Breadcrumbs, title, "Back up now", proof, history and the backups table.
fn database_sections(id: i64, database: String) -> impl IntoView {
    let server = page_resource(|| (), move |_| get_server(id));
    let backups_changed = RwSignal::new(0u64);
    let crumbs = {
        let database = database.clone();
        move || {
            let server_name = match server.get() {
                Some(Ok(s)) => s.name,
                _ => format!("server {id}"),
            };
            let title = format!("{database} on {server_name}");
            view! {
                <Title text=title/>
                <nav class="crumbs">
                    <a href="/servers">"Servers"</a>
                    " / "
                    <a href=server_href(id) data-testid="server-link">{server_name}</a>
                    " /"
                </nav>
            }
        }
    };
    view! {
        <Transition fallback=|| ()>{crumbs}</Transition>
        <div class="page-head">
            <h1 data-testid="database-name">{database.clone()}</h1>
            <RunNowButton server_id=id target=Target::Database(database.clone()) changed=backups_changed/>
            <a href=policy_href(id, Some(&database)) data-testid="database-policy-link">"Backup policy →"</a>
        </div>
        <DatabaseProofPanel server_id=id database=database.clone()/>
        <HistoryPanel server_id=id database=database.clone()/>
        <BackupsTable server_id=id database=database limit=DATABASE_BACKUPS backups_changed/>
    }
}
