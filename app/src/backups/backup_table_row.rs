//! One backup run in the backups table.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::backups::api::{CancelBackup, DeleteBackup};
use crate::backups::backup_badges::BackupBadges;
use crate::backups::backup_details::BackupDetails;
use crate::backups::views::BackupView;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::{ago, database_href, duration_ms, human_bytes, human_size};
use crate::ui::live::Live;
use crate::ui::progress_bar::ProgressBar;
use crate::ui::status_badge::StatusBadge;
use crate::ui::viewer_time::ViewerTime;
use model::backup::{BackupStatus, Target};

/// Columns of the backups table without the database column.
pub const BACKUP_COLUMNS: usize = 7;

/// A `<tbody>` per backup: the run, then the cause of a failure with
/// pg_dump's last output folded in a `<details>`. Queued and running runs
/// have Cancel and, while they run in the server's process, the live
/// progress bar; finished runs have Delete (with a confirm step); a
/// successful cancel or delete bumps `deleted`.
#[component]
pub fn BackupTableRow(
    backup: BackupView,
    /// When the list was made, by the server's clock ("5 min ago").
    #[prop(into)]
    listed_at: Signal<Option<DateTime<Utc>>>,
    show_database: bool,
    deleted: RwSignal<u64>,
) -> impl IntoView {
    let delete = ServerAction::<DeleteBackup>::new();
    Effect::new(move |_| {
        if delete.value().with(|v| matches!(v, Some(Ok(())))) {
            deleted.update(|n| *n += 1);
        }
    });
    let cancel = ServerAction::<CancelBackup>::new();
    Effect::new(move |_| {
        if cancel.value().with(|v| matches!(v, Some(Ok(_)))) {
            deleted.update(|n| *n += 1);
        }
    });

    let b = backup;
    let state = b.status;
    let id = b.id;
    let columns = BACKUP_COLUMNS + usize::from(show_database);

    let (when, when_prefix) = match b.started_at {
        Some(t) => (t, ""),
        None => (b.queued_at, "queued "),
    };
    let when_ago = move || {
        listed_at
            .get()
            .map(|now| format!("{when_prefix}{}", ago(when, now)))
    };

    // The live counters while it runs here (the listing's are a moment old).
    let live = Live::get().filter(|_| state.is_active()).map(|l| l.run(id));
    let (size, size_detail, size_title) = match (state, b.live) {
        (BackupStatus::Queued, _) | (BackupStatus::Running, None) => {
            ("—".to_owned(), String::new(), String::new())
        }
        (BackupStatus::Failed | BackupStatus::Cancelled, _)
            if b.stored_bytes == 0 && b.raw_bytes == 0 =>
        {
            ("—".to_owned(), String::new(), String::new())
        }
        (BackupStatus::Running, Some(live)) => (
            format!("{} so far", human_bytes(live.stored)),
            format!("{} read", human_bytes(live.raw)),
            format!(
                "{} bytes read from pg_dump, {} bytes stored so far",
                live.raw, live.stored
            ),
        ),
        (
            BackupStatus::Succeeded
            | BackupStatus::Verified
            | BackupStatus::Suspect
            | BackupStatus::Failed
            | BackupStatus::Cancelled,
            _,
        ) => (
            human_size(b.stored_bytes),
            format!("{} raw", human_size(b.raw_bytes)),
            format!(
                "{} bytes stored, {} bytes raw (pg_dump output)",
                b.stored_bytes, b.raw_bytes
            ),
        ),
    };

    let started_at = b.started_at;
    let took = b.duration_ms;
    let duration = move || match (took, started_at, state) {
        (Some(ms), _, _) => duration_ms(ms),
        (None, Some(start), BackupStatus::Running) => listed_at
            .get()
            .map(|now| duration_ms((now - start).num_milliseconds()))
            .unwrap_or_default(),
        _ => "—".into(),
    };

    let versions = match (&b.pg_dump_version, &b.server_version) {
        (Some(d), Some(s)) => format!("{d} → {s}"),
        (Some(d), None) => format!("{d} → ?"),
        (None, Some(s)) => format!("? → {s}"),
        (None, None) => "—".into(),
    };

    let database_cell = show_database.then(|| {
        let cell = match (&b.target, b.server_id) {
            (Target::Globals, _) => {
                view! { <span class="muted" data-testid="backup-globals-kind">"globals"</span> }
                    .into_any()
            }
            (Target::Database(db), Some(server_id)) => {
                view! { <a href=database_href(server_id, db)>{db.clone()}</a> }.into_any()
            }
            (Target::Database(db), None) => view! { <span>{db.clone()}</span> }.into_any(),
        };
        view! { <td>{cell}</td> }
    });

    let pruned = b.pruned_at.is_some();
    let delete_control = (!state.is_active() && !pruned).then(|| {
        view! {
            <details class="confirm">
                <summary data-testid="backup-delete">"Delete"</summary>
                <div class="confirm-box">
                    <p>"Delete backup #" {id} " from storage and from the list?"</p>
                    <ActionForm action=delete attr:class="inline">
                        <input type="hidden" name="id" value=id.to_string()/>
                        <button type="submit" class="danger" data-testid="backup-delete-confirm">
                            "Yes, delete #" {id}
                        </button>
                    </ActionForm>
                </div>
            </details>
        }
    });
    // Cancel (operator and up; the server refuses others): no confirm step,
    // the button is disabled while the cancel is on its way.
    let cancel_control = state.is_active().then(|| {
        let pending = cancel.pending();
        view! {
            <ActionForm action=cancel attr:class="inline">
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit" class="danger" data-testid="backup-cancel" disabled=move || pending.get()>
                    {move || if pending.get() { "Cancelling…" } else { "Cancel" }}
                </button>
            </ActionForm>
        }
    });
    let cancel_error = move || {
        cancel
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };
    let delete_error = move || {
        delete
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };

    let failure = (b.cause.is_some() || b.stderr_tail.is_some()).then(|| {
        let stderr = b
            .stderr_tail
            .clone()
            .filter(|t| !t.trim().is_empty())
            .map(|tail| {
                view! {
                    <details class="stderr">
                        <summary>"pg_dump output"</summary>
                        <pre>{tail}</pre>
                    </details>
                }
            });
        view! {
            <p class="cause" data-testid="backup-cause">{b.cause.clone()}</p>
            {stderr}
        }
    });

    view! {
        <tbody class=format!("backup state-{}", state.as_str()) class:pruned=pruned>
            <tr data-testid="backup-row" data-status=state.as_str() data-id=id.to_string()>
                <td class="when">
                    <a href=format!("/backups/{id}") class="mono" data-testid="backup-link"><ViewerTime at=when/></a>
                    <span class="sub">{when_ago}</span>
                </td>
                {database_cell}
                <td><StatusBadge state reasons=b.verification.clone()/> <BackupBadges backup=b.clone()/></td>
                <td class="num" data-testid="backup-size" title=size_title>
                    {move || match live.and_then(|p| p.get()) {
                        Some(p) => view! {
                            <span>{format!("{} so far", human_bytes(p.stored))}</span>
                            <span class="sub">{format!("{} read", human_bytes(p.raw))}</span>
                        }.into_any(),
                        None => view! {
                            <span>{size.clone()}</span>
                            <span class="sub">{size_detail.clone()}</span>
                        }.into_any(),
                    }}
                </td>
                <td class="num">{duration}</td>
                <td class="mono small">{versions}</td>
                <td class="location mono small">{b.location.clone().unwrap_or_else(|| "—".into())}</td>
                <td class="actions">{cancel_control}{delete_control}</td>
            </tr>
            <tr class="detail">
                <td colspan=columns.to_string()>
                    {live.map(|progress| view! { <ProgressBar progress/> })}
                    <BackupDetails backup=b.clone()/>
                    {failure}
                    {cancel_error}
                    {delete_error}
                </td>
            </tr>
        </tbody>
    }
}
