//! One destination in the destinations table: what it is, where it points,
//! what is stored there, its last test; for admins Test, Import catalog,
//! Edit, Remove (with a confirm step) and, for SFTP without a trusted key,
//! "Check host key".

use leptos::prelude::*;

use crate::destinations::api::{RemoveDestination, TestDestination};
use crate::destinations::destination_form::DestinationForm;
use crate::destinations::host_key_check::HostKeyCheck;
use crate::destinations::import_catalog_button::ImportCatalogButton;
use crate::destinations::probe_result::ProbeResult;
use crate::ui::error_message::{error_text, ErrorMessage};
use model::destination::{Destination, DestinationSettings};
use model::format::human_size;

/// Columns of the destinations table.
pub const DESTINATION_COLUMNS: usize = 6;

/// Whether an SFTP destination still waits for its host key to be trusted.
pub fn host_key_unconfirmed(d: &Destination) -> bool {
    matches!(&d.settings, DestinationSettings::Sftp { host_key, .. } if host_key.trim().is_empty())
}

/// A `<tbody>` per destination: the row, then the test result, the host key
/// check and the edit form beneath it. Bumps `changed` after an edit,
/// a removal or a trusted key so the page lists the destinations again.
#[component]
pub fn DestinationRow(
    destination: Destination,
    admin: bool,
    changed: RwSignal<u64>,
) -> impl IntoView {
    let test = ServerAction::<TestDestination>::new();
    let remove = ServerAction::<RemoveDestination>::new();
    let editing = RwSignal::new(false);
    Effect::new(move |_| {
        if remove.value().with(|v| matches!(v, Some(Ok(_)))) {
            changed.update(|n| *n += 1);
        }
    });

    let d = destination.clone();
    let name = d.name.clone();
    let builtin = d.id == 0;
    let manageable = admin && !d.from_config;
    let unconfirmed = host_key_unconfirmed(&d);
    let testing = test.pending();

    let last_test = match &d.last_test {
        None => view! { <span class="muted" data-testid="dest-last-test" data-ok="">"not tested"</span> }.into_any(),
        Some(r) => {
            let ok = r.ok();
            view! {
                <span class=if ok { "ok" } else { "error" } data-testid="dest-last-test" data-ok=ok.to_string()
                    title=r.at.clone()>
                    {r.summary()}
                </span>
            }
            .into_any()
        }
    };
    let test_result = move || {
        if testing.get() {
            return Some(
                view! { <p class="result pending" role="status">"Writing, reading back, listing and deleting a probe object…"</p> }
                    .into_any(),
            );
        }
        test.value().get().map(|r| match r {
            Ok(report) => view! { <ProbeResult report/> }.into_any(),
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    };
    let remove_error = move || {
        remove
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };
    let edit_form = {
        let d = d.clone();
        move || {
            editing.get().then(|| {
                view! {
                    <DestinationForm destination=Some(d.clone())
                        on_saved=move |_| { editing.set(false); changed.update(|n| *n += 1); }/>
                }
                .into_any()
            })
        }
    };
    let host_key = (admin && unconfirmed)
        .then(|| view! { <HostKeyCheck name=name.clone() changed/> }.into_any());

    let test_name = name.clone();
    let remove_name = name.clone();
    let import_name = name.clone();
    let actions = admin.then(|| {
        view! {
            <button type="button" data-testid="dest-test" disabled=move || testing.get()
                on:click=move |_| { test.dispatch(TestDestination { name: test_name.clone() }); }>
                "Test"
            </button>
            {(!unconfirmed).then(|| view! { <ImportCatalogButton name=import_name.clone() changed/> })}
            {manageable.then(|| view! {
                <button type="button" data-testid="dest-edit" on:click=move |_| editing.update(|e| *e = !*e)>
                    {move || if editing.get() { "Close edit" } else { "Edit" }}
                </button>
                <details class="confirm">
                    <summary data-testid="dest-remove">"Remove"</summary>
                    <div class="confirm-box">
                        <p>"Remove " <strong>{remove_name.clone()}</strong> "? Its stored files stay where they are; pgshelf stops using it."</p>
                        <button type="button" class="danger" data-testid="dest-remove-confirm"
                            on:click={
                                let n = remove_name.clone();
                                move |_| { remove.dispatch(RemoveDestination { name: n.clone() }); }
                            }>
                            "Yes, remove " {remove_name.clone()}
                        </button>
                    </div>
                </details>
            }.into_any())}
        }
        .into_any()
    });

    view! {
        <tbody class="destination">
            <tr data-testid="dest-row" data-name=name.clone()>
                <td>
                    <strong>{name.clone()}</strong>
                    {builtin.then(|| view! { " " <span class="tag" title="backup_dir">"built-in"</span> })}
                    {(d.from_config && !builtin).then(|| view! { " " <span class="tag" title="edit it in pgshelf.toml">"pgshelf.toml"</span> })}
                </td>
                <td>{d.settings.kind()}</td>
                <td class="mono small" data-testid="dest-describe">
                    {d.describe.clone()}
                    {unconfirmed.then(|| view! {
                        " " <span class="tag tag-warn" data-testid="dest-host-key-unconfirmed">"host key not confirmed: cannot connect yet"</span>
                    })}
                </td>
                <td class="num" data-testid="dest-usage">{d.copies} " copies · " {human_size(d.stored_bytes as i64)}</td>
                <td>{last_test}</td>
                <td class="actions">{actions}</td>
            </tr>
            <tr class="detail">
                <td colspan=DESTINATION_COLUMNS.to_string()>
                    {test_result}
                    {remove_error}
                    {host_key}
                    {edit_form}
                </td>
            </tr>
        </tbody>
    }
    .into_any()
}
