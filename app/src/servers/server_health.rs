//! A server's connection health in the servers list: tested from the
//! browser once the list is shown (so a dead port never holds up the page),
//! a word and a colour, the whole answer on hover.

use leptos::prelude::*;

use crate::servers::api::test_connection;
use crate::ui::error_message::error_text;

/// `connects` / `connects, cannot back up` / `cannot connect`, with the
/// version or the cause (and its fix) in the title.
#[component]
pub fn ServerHealth(server_id: i64) -> impl IntoView {
    let result = LocalResource::new(move || test_connection(server_id));
    move || {
        let (state, word, title) = match result.get() {
            None => ("checking", "checking…".to_owned(), String::new()),
            Some(Ok(r)) => match r.pg_dump {
                Ok(d) => (
                    "ok",
                    format!("connects · PostgreSQL {}", r.major),
                    format!("PostgreSQL {} — pg_dump {}", r.server_version, d.version),
                ),
                Err(why) => ("warn", "connects, cannot back up".to_owned(), why),
            },
            Some(Err(e)) => ("error", "cannot connect".to_owned(), error_text(&e)),
        };
        view! {
            <span class=format!("health health-{state}") data-testid="server-health" data-state=state title=title.clone()>
                {word}
            </span>
            {(state == "error").then(|| view! { <span class="sub health-cause">{title}</span> })}
        }
    }
}
