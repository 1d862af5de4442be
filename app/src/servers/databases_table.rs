//! The databases of a server, each with "Back up now".

use leptos::prelude::*;

use crate::backups::run_now_button::RunNowButton;
use crate::servers::api::list_databases;
use crate::ui::error_message::error_text;
use crate::ui::format::{database_href, human_size};
use crate::ui::resource::page_resource;
use model::backup::Target;

/// Lists the server's databases with their sizes (asked of the server as the
/// page renders), a "Back up now" button and a link to each one's backups.
#[component]
pub fn DatabasesTable(server_id: i64, backups_changed: RwSignal<u64>) -> impl IntoView {
    let attempt = RwSignal::new(0u32);
    let databases = page_resource(move || attempt.get(), move |_| list_databases(server_id));
    let rows = move || {
        databases.get().map(|r| match r {
            Err(e) => view! {
                <p class="error" role="alert">{error_text(&e)}</p>
                <button type="button" on:click=move |_| attempt.update(|n| *n += 1)>"Try again"</button>
            }
            .into_any(),
            Ok(list) if list.is_empty() => {
                view! { <p class="muted">"No databases that pgshelf may connect to."</p> }.into_any()
            }
            Ok(list) => view! {
                <table class="databases">
                    <thead>
                        <tr>
                            <th>"Database"</th>
                            <th class="num">"Size"</th>
                            <th></th>
                            <th></th>
                        </tr>
                    </thead>
                    <tbody>
                        {list
                            .into_iter()
                            .map(|db| {
                                let href = database_href(server_id, &db.name);
                                view! {
                                    <tr data-testid="database-row" data-name=db.name.clone()>
                                        <td><a href=href.clone() class="strong">{db.name.clone()}</a></td>
                                        <td class="num">
                                            {db.size_bytes.map(human_size).unwrap_or_else(|| "no access".into())}
                                        </td>
                                        <td>
                                            <RunNowButton server_id target=Target::Database(db.name.clone()) changed=backups_changed/>
                                        </td>
                                        <td><a href=href data-testid="database-backups">"Backups →"</a></td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            }
            .into_any(),
        })
    };
    view! {
        <Transition fallback=|| view! { <p class="muted">"Listing databases…"</p> }>{rows}</Transition>
    }
}
