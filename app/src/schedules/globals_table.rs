//! A server's globals backups (`pg_dumpall --globals-only`), newest first,
//! listed again when the live stream says a run changed.

use leptos::prelude::*;

use crate::backups::backup_badges::BackupBadges;
use crate::backups::backups_table::POLL_RETRY;
use crate::backups::views::BackupView;
use crate::schedules::api::list_globals;
use crate::ui::error_message::error_text;
use crate::ui::format::{ago, duration_ms, human_size};
use crate::ui::live::refetch_on_change;
use crate::ui::poll::poll_while;
use crate::ui::resource::page_resource;
use crate::ui::status_badge::StatusBadge;
use crate::ui::viewer_time::ViewerTime;

fn globals_row(b: BackupView, now: chrono::DateTime<chrono::Utc>) -> impl IntoView {
    let when = b.started_at.unwrap_or(b.queued_at);
    let pruned = b.pruned_at.is_some();
    let size = if b.status.is_active() || (b.stored_bytes == 0 && b.raw_bytes == 0) {
        "—".to_owned()
    } else {
        human_size(b.stored_bytes)
    };
    let detail = b
        .cause
        .clone()
        .map(|c| view! { <p class="cause small">{c}</p> });
    view! {
        <tr data-testid="globals-row" data-status=b.status.as_str() data-id=b.id.to_string() class:pruned=pruned>
            <td class="when">
                <span class="mono"><ViewerTime at=when/></span>
                <span class="sub">{ago(when, now)} " · " {b.trigger.clone()}</span>
            </td>
            <td><StatusBadge state=b.status reasons=b.verification.clone()/> " " <BackupBadges backup=b.clone()/></td>
            <td class="num">{size}</td>
            <td class="num">{b.duration_ms.map(duration_ms).unwrap_or_else(|| "—".into())}</td>
            <td class="location mono small">{b.location.clone().unwrap_or_else(|| "—".into())} {detail}</td>
        </tr>
    }
}

/// The newest `limit` globals backups of a server; lists again when
/// `changed` moves ("Back up globals now").
#[component]
pub fn GlobalsTable(server_id: i64, limit: i64, changed: RwSignal<u64>) -> impl IntoView {
    let list = page_resource(
        move || changed.get(),
        move |_| list_globals(server_id, limit),
    );
    refetch_on_change(move || list.refetch());
    poll_while(
        move || list.get()?.is_err().then_some(POLL_RETRY),
        move || list.refetch(),
    );
    let body = move || {
        list.get().map(|r| match r {
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            Ok(l) if l.backups.is_empty() => {
                view! { <p class="muted" data-testid="no-globals">"No globals backups yet."</p> }
                    .into_any()
            }
            Ok(l) => {
                let now = l.listed_at;
                view! {
                    <table class="globals">
                        <thead>
                            <tr>
                                <th>"Started"</th>
                                <th>"Status"</th>
                                <th class="num">"Size"</th>
                                <th class="num">"Duration"</th>
                                <th>"Location"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {l.backups.into_iter().map(|b| globals_row(b, now)).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }
        })
    };
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading globals backups…"</p> }>{body}</Transition>
    }
}
