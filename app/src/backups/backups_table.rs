//! The backups table shared by the server and database pages. It lists
//! again when the server's live stream says a run was queued, started or
//! ended (`ui::live`), so a new run shows up and turns green (or red)
//! without reloading; running rows show their live progress.

use std::time::Duration;

use leptos::prelude::*;

use crate::backups::api::list_backups;
use crate::backups::backup_table_row::BackupTableRow;
use crate::ui::error_message::error_text;
use crate::ui::live::refetch_on_change;
use crate::ui::poll::poll_while;
use crate::ui::resource::page_resource;

/// How soon it retries after the list itself failed to load.
pub const POLL_RETRY: Duration = Duration::from_secs(5);

/// The newest `limit` backups of a server, or of one database when
/// `database` is given. `backups_changed` is bumped by others on the page
/// ("Back up now") to list again at once.
#[component]
pub fn BackupsTable(
    server_id: i64,
    #[prop(optional)] database: Option<String>,
    limit: i64,
    backups_changed: RwSignal<u64>,
    /// Show a database column (on the server page, where rows mix databases).
    #[prop(optional)]
    show_database: bool,
) -> impl IntoView {
    let deleted = RwSignal::new(0u64);
    let backups = page_resource(
        move || (backups_changed.get(), deleted.get()),
        move |_| list_backups(server_id, database.clone(), Some(limit)),
    );
    refetch_on_change(move || backups.refetch());
    poll_while(
        move || backups.get()?.is_err().then_some(POLL_RETRY),
        move || backups.refetch(),
    );
    let listed_at = Signal::derive(move || {
        backups.with(|b| {
            b.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|l| l.listed_at)
        })
    });
    let rows = move || {
        backups
            .get()
            .and_then(Result::ok)
            .map(|l| l.backups)
            .unwrap_or_default()
    };
    let has_rows = move || {
        backups.with(|b| {
            b.as_ref()
                .and_then(|r| r.as_ref().ok())
                .is_some_and(|l| !l.backups.is_empty())
        })
    };
    let is_empty = move || {
        backups.with(|b| {
            b.as_ref()
                .and_then(|r| r.as_ref().ok())
                .is_some_and(|l| l.backups.is_empty())
        })
    };
    let load_error = move || {
        backups
            .get()
            .and_then(Result::err)
            .map(|e| view! { <p class="error" role="alert">{error_text(&e)}</p> })
    };

    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading backups…"</p> }>
            {load_error}
            <Show when=is_empty>
                <p class="muted" data-testid="no-backups">"No backups yet."</p>
            </Show>
            <table class="backups" class:hidden=move || !has_rows()>
                <thead>
                    <tr>
                        <th>"Started"</th>
                        {show_database.then(|| view! { <th>"Database"</th> })}
                        <th>"Status"</th>
                        <th class="num">"Size"</th>
                        <th class="num">"Duration"</th>
                        <th>"pg_dump → server"</th>
                        <th>"Location"</th>
                        <th></th>
                    </tr>
                </thead>
                <For each=rows key=|b| b.clone() let:backup>
                    <BackupTableRow backup listed_at show_database deleted/>
                </For>
            </table>
        </Transition>
    }
}
