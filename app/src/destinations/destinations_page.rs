//! `/destinations`: where backups are stored. Everyone signed in reads the
//! table; admins add, test, edit and remove.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::destinations::api::list_destinations;
use crate::destinations::destination_form::DestinationForm;
use crate::destinations::destination_row::{host_key_unconfirmed, DestinationRow};
use crate::destinations::stored_identities_panel::StoredIdentitiesPanel;
use crate::ui::error_message::error_text;
use crate::ui::resource::page_resource;

/// The destinations page.
#[component]
pub fn DestinationsPage() -> impl IntoView {
    let changed = RwSignal::new(0u64);
    // Bumped after an add: a fresh, empty add form.
    let form_key = RwSignal::new(0u64);
    let added = RwSignal::new(None::<(String, bool)>);
    let page = page_resource(move || changed.get(), |_| list_destinations());

    let body = move || {
        page.get().map(|r| match r {
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            Ok(v) => {
                let admin = v.admin;
                let rows = v
                    .destinations
                    .into_iter()
                    .map(|d| view! { <DestinationRow destination=d admin changed/> }.into_any())
                    .collect_view();
                let add_form = admin.then(|| {
                    let form = move || {
                        form_key.get();
                        view! {
                            <DestinationForm on_saved=move |d: model::destination::Destination| {
                                added.set(Some((d.name.clone(), host_key_unconfirmed(&d))));
                                changed.update(|n| *n += 1);
                                form_key.update(|n| *n += 1);
                            }/>
                        }
                        .into_any()
                    };
                    view! {
                        <section class="card" data-testid="dest-add">
                            <h2>"Add a destination"</h2>
                            {move || added.get().map(|(name, sftp)| view! {
                                <p class="ok" role="status" data-testid="dest-added">
                                    "Added " {name} "."
                                    {sftp.then_some(" Check its host key in the table above before it is used.")}
                                    " Test it, then name it in a policy."
                                </p>
                            })}
                            {form}
                        </section>
                    }
                    .into_any()
                });
                view! {
                    <table class="destinations">
                        <thead>
                            <tr>
                                <th>"Name"</th>
                                <th>"Kind"</th>
                                <th>"Where"</th>
                                <th class="num">"Stored"</th>
                                <th>"Last test"</th>
                                <th></th>
                            </tr>
                        </thead>
                        {rows}
                    </table>
                    {(!admin).then(|| view! { <p class="muted" data-testid="dest-read-only">"Only admins add, test or change destinations."</p> })}
                    {add_form}
                    <StoredIdentitiesPanel admin/>
                }
                .into_any()
            }
        })
    };

    view! {
        <Title text="Destinations"/>
        <h1>"Destinations"</h1>
        <p class="subtitle">"Where backups are written. A policy names one or more (none: the built-in local directory); each backup has a copy on each."</p>
        <Transition fallback=|| view! { <p class="muted">"Loading destinations…"</p> }>{body}</Transition>
    }
}
