//! A warning line on the server page when the newest successful backup saw
//! a different server version than the one before it.

use leptos::prelude::*;

use crate::backups::api::list_backups;
use crate::ui::format::utc;
use crate::ui::resource::page_resource;

/// How many recent backups are looked through for the newest success.
const LOOK_BACK: i64 = 20;

/// Nothing, or `PostgreSQL version changed to 18.1 (backup #12, ...)`.
#[component]
pub fn VersionChangeWarning(server_id: i64, #[prop(into)] changed: Signal<u64>) -> impl IntoView {
    let recent = page_resource(
        move || changed.get(),
        move |_| list_backups(server_id, None, Some(LOOK_BACK)),
    );
    let line = move || {
        let list = recent.get()?.ok()?;
        let newest = list.backups.into_iter().find(|b| b.status.is_good())?;
        newest.version_changed.then(|| {
            view! {
                <p class="result warn" data-testid="version-changed" role="status">
                    "The server's PostgreSQL version changed to "
                    {newest.server_version.clone().unwrap_or_else(|| "?".into())}
                    " since the previous successful backup (noticed by backup #" {newest.id} ", "
                    {newest.finished_at.map(utc).unwrap_or_default()}
                    "). Check that the pg_dump chosen still fits and that restores still work."
                </p>
            }
        })
    };
    view! { <Transition fallback=|| ()>{line}</Transition> }
}
