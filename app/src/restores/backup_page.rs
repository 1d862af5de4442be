//! `/backups/:id`: one backup: its copies on each destination, its schema
//! changes since the previous backup, what it holds (the stored table of contents,
//! searchable), one or more tables into scratch, test-restore, a full
//! restore, its files for download and the recipe to restore it without
//! pgshelf.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::backups::api::CancelBackup;
use crate::not_found::NotFoundPage;
use crate::restores::api::get_backup_page;
use crate::restores::copies_panel::CopiesPanel;
use crate::restores::full_restore_form::FullRestoreForm;
use crate::restores::schema_changes_panel::SchemaChangesPanel;
use crate::restores::table_restore_panel::TableRestorePanel;
use crate::restores::test_restore_line::TestRestoreLine;
use crate::restores::views::BackupPage as Page;
use crate::schedules::test_restore_button::TestRestoreButton;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::{database_href, duration_ms, human_size, server_href, utc};
use crate::ui::live::Live;
use crate::ui::progress_bar::ProgressBar;
use crate::ui::resource::page_resource;
use crate::ui::status_badge::StatusBadge;
use model::backup::Target;

/// The backup page; a non-numeric id is a 404.
#[component]
pub fn BackupPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|v| v.parse::<i64>().ok()));
    move || match id.get() {
        None => view! { <NotFoundPage/> }.into_any(),
        Some(id) => backup_sections(id).into_any(),
    }
}

fn backup_sections(id: i64) -> impl IntoView {
    let changed = RwSignal::new(0u64);
    let page = page_resource(move || changed.get(), move |_| get_backup_page(id));
    // While the backup is queued or running, the page follows it: loaded
    // again when the live stream says a run changed.
    if let Some(live) = Live::get() {
        Effect::new(move |seen: Option<u64>| {
            let n = live.changes.get();
            let active =
                page.with_untracked(|p| matches!(p, Some(Ok(p)) if p.backup.status.is_active()));
            if seen.is_some_and(|s| s != n) && active {
                changed.update(|c| *c += 1);
            }
            n
        });
    }
    view! {
        <Transition fallback=move || view! { <h1>"Backup #" {id}</h1> }>
            {move || page.get().map(|r| match r {
                Ok(p) => sections(p, changed).into_any(),
                Err(e) => {
                    crate::set_page_status(404);
                    view! {
                        <Title text=format!("Backup #{id}")/>
                        <nav class="crumbs"><a href="/servers">"Servers"</a> " /"</nav>
                        <h1>"Backup #" {id}</h1>
                        <p class="error" role="alert">{error_text(&e)}</p>
                    }
                    .into_any()
                }
            })}
        </Transition>
    }
}

/// A queued or running backup's live progress and its Cancel button
/// (operator and up; the server refuses others).
fn live_run(id: i64, changed: RwSignal<u64>) -> impl IntoView {
    let cancel = ServerAction::<CancelBackup>::new();
    Effect::new(move |_| {
        if cancel.value().with(|v| matches!(v, Some(Ok(_)))) {
            changed.update(|n| *n += 1);
        }
    });
    let pending = cancel.pending();
    let error = move || {
        cancel
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };
    view! {
        <section class="live-run" data-testid="backup-live">
            {Live::get().map(|l| view! { <ProgressBar progress=l.run(id)/> })}
            <ActionForm action=cancel attr:class="inline">
                <input type="hidden" name="id" value=id.to_string()/>
                <button type="submit" class="danger" data-testid="backup-cancel" disabled=move || pending.get()>
                    {move || if pending.get() { "Cancelling…" } else { "Cancel this backup" }}
                </button>
            </ActionForm>
            {error}
        </section>
    }
}

fn sections(p: Page, changed: RwSignal<u64>) -> impl IntoView {
    let b = p.backup.clone();
    let server_id = b.server_id.unwrap_or_default();
    let database = b.target.database().map(str::to_owned);
    let title = format!("Backup #{}", b.id);
    let crumbs = view! {
        <nav class="crumbs">
            <a href="/servers">"Servers"</a> " / "
            <a href=server_href(server_id)>{p.server_name.clone()}</a> " / "
            {database.clone().map(|db| view! { <a href=database_href(server_id, &db) data-testid="backup-database-link">{db.clone()}</a> " /" })}
        </nav>
    };
    let when = b.started_at.unwrap_or(b.queued_at);
    let facts = format!(
        "{} · {} stored ({} raw) · {} · pg_dump {}",
        utc(when),
        human_size(b.stored_bytes),
        human_size(b.raw_bytes),
        b.format.clone(),
        b.pg_dump_version.clone().unwrap_or_else(|| "?".into()),
    );
    let took = b
        .duration_ms
        .map(|ms| format!(" · took {}", duration_ms(ms)));
    let reasons = (!b.verification.is_empty()).then(|| {
        view! {
            <ul class="warnings" data-testid="backup-verification">
                {b.verification.iter().map(|r| view! { <li class="warn">{r.clone()}</li> }).collect_view()}
            </ul>
        }
    });
    let cause = b
        .cause
        .clone()
        .map(|c| view! { <p class="cause" data-testid="backup-cause">{c}</p> });
    let good = b.status.is_good();
    let is_database = matches!(b.target, Target::Database(_));

    let contents = match (&p.contents, good && is_database) {
        (Ok(c), true) => view! {
            <TableRestorePanel contents=c.clone() servers=p.servers.clone()/>
        }
        .into_any(),
        (Err(e), true) => view! { <p class="warn" data-testid="contents-error">{e.clone()}</p> }.into_any(),
        (_, false) if !is_database => view! {
            <p class="muted">"A globals backup holds roles, memberships, tablespaces and grants. Apply it with psql before restoring databases (see the recipe below)."</p>
        }
        .into_any(),
        _ => view! { <p class="muted">"Only a backup that succeeded can be restored."</p> }.into_any(),
    };
    let proof = (good && is_database).then(|| {
        let db = database.clone().unwrap_or_default();
        let lines = p.test_restores.clone();
        view! {
            <section data-testid="backup-proof">
                <div class="section-head">
                    <h2>"Test-restore"</h2>
                    <TestRestoreButton server_id database=db backup_id=b.id changed/>
                </div>
                {if lines.is_empty() {
                    view! { <p class="muted" data-testid="no-test-restores">"Not test-restored yet."</p> }.into_any()
                } else {
                    view! {
                        <ul class="test-restores">
                            {lines.into_iter().map(|t| view! { <li><TestRestoreLine test=t/></li> }).collect_view()}
                        </ul>
                    }
                    .into_any()
                }}
            </section>
        }
    });
    let full = (good && is_database).then(|| {
        view! {
            <section data-testid="full-restore">
                <h2>"Restore the whole backup"</h2>
                <FullRestoreForm backup_id=b.id database=database.clone().unwrap_or_default() servers=p.servers.clone()
                    recipients=p.contents.as_ref().map(|c| c.recipients.clone()).unwrap_or_default()/>
            </section>
        }
    });
    let files = (!p.files.is_empty()).then(|| {
        let id = b.id;
        view! {
            <section data-testid="backup-files">
                <h2>"Files"</h2>
                <table class="files">
                    <thead><tr><th>"File"</th><th class="num">"Size"</th><th>"sha256"</th></tr></thead>
                    <tbody>
                        {p.files.iter().map(|f| {
                            let href = format!("/backups/{id}/files/{}", f.path);
                            view! {
                                <tr>
                                    <td><a href=href.clone() download data-testid="backup-file">{f.path.clone()}</a>
                                        {f.encrypted.then(|| view! {
                                            <span class="muted small">" (age-encrypted: downloads as stored; decrypt with age -d -i key.txt)"</span>
                                            <details class="small">
                                                <summary>"Download decrypted"</summary>
                                                <form method="post" action=href.clone() data-testid="decrypt-download">
                                                    <label>"age identity (kept only for this download)"
                                                        <textarea name="identity" class="mono" rows="2" autocomplete="off" spellcheck="false" required></textarea>
                                                    </label>
                                                    <button type="submit">"Download decrypted"</button>
                                                </form>
                                            </details>
                                        })}</td>
                                    <td class="num">{human_size(f.size as i64)}</td>
                                    <td class="mono small">{f.sha256.clone()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        }
    });
    let recipe = (!p.recipe.is_empty()).then(|| {
        view! {
            <section data-testid="backup-recipe">
                <h2>"Restore without pgshelf"</h2>
                <p class="subtitle">"With the files above, zstd and a pg_restore at least as new as the pg_dump that made them:"</p>
                <pre class="recipe">{p.recipe.join("\n")}</pre>
            </section>
        }
    });
    view! {
        <Title text=title.clone()/>
        {crumbs}
        <div class="page-head">
            <h1 data-testid="backup-heading">{title}</h1>
            <StatusBadge state=b.status/>
        </div>
        <p class="subtitle">{facts}{took}</p>
        {b.status.is_active().then(|| live_run(b.id, changed))}
        {reasons}
        {cause}
        <CopiesPanel copies=p.copies.clone()/>
        {is_database.then(|| view! { <SchemaChangesPanel backup_id=b.id/> })}
        <section data-testid="backup-contents">
            <h2>"Contents"</h2>
            {contents}
        </section>
        {proof}
        {full}
        {files}
        {recipe}
    }
}
