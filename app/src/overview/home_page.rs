//! `/`: the overview once a server exists; before that the servers page,
//! where the first one is added. Which of the two is decided when the page
//! loads, so adding the first server keeps the form and its list in view.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::overview::api::get_overview;
use crate::overview::overview_page::OverviewPage;
use crate::servers::servers_page::ServersPage;
use crate::ui::error_message::error_text;
use crate::ui::poll::poll_while;
use crate::ui::resource::page_resource;

/// How often the overview refreshes while work is queued or running.
pub const POLL_ACTIVE: Duration = Duration::from_secs(2);
/// And otherwise (runs start on schedule, backups come due).
pub const POLL_IDLE: Duration = Duration::from_secs(60);

/// The landing page.
#[component]
pub fn HomePage() -> impl IntoView {
    // `?all=1`: every row, not only the first ones.
    let query = use_query_map();
    let all = move || query.with(|q| q.get("all").is_some_and(|v| v == "1"));
    let overview = page_resource(all, get_overview);
    poll_while(
        move || match overview.get()? {
            // The servers page has a form: never reload it under the user.
            Ok(o) if o.servers == 0 => None,
            Ok(o) if !o.active.is_empty() => Some(POLL_ACTIVE),
            _ => Some(POLL_IDLE),
        },
        move || overview.refetch(),
    );
    // Shown: the servers page (no server yet) or the overview; the choice
    // is made once, the overview refreshes in place.
    let servers_page = Memo::new(move |was: Option<&Option<bool>>| {
        if let Some(Some(chosen)) = was {
            return Some(*chosen);
        }
        overview.get().and_then(Result::ok).map(|o| o.servers == 0)
    });
    view! {
        <Transition fallback=|| view! { <h1>"Overview"</h1> <p class="muted">"Loading…"</p> }>
            {move || match servers_page.get() {
                Some(true) => view! { <ServersPage/> }.into_any(),
                _ => view! {
                    {move || overview.get().map(|r| match r {
                        Ok(o) => view! { <OverviewPage overview=o/> }.into_any(),
                        Err(e) => view! {
                            <h1>"Overview"</h1>
                            <p class="error" role="alert">{error_text(&e)}</p>
                        }
                        .into_any(),
                    })}
                }
                .into_any(),
            }}
        </Transition>
    }
}
