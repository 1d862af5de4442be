//! `/alerts`: the channels alerts go to (admins add, test and remove;
//! everyone signed in reads), the recent deliveries with failures
//! highlighted, and what is wrong now (open incidents).

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use model::alert::DeliveryStatus;

use crate::alerts::api::{alerts_page, RemoveChannel, TestChannel};
use crate::alerts::channel_form::ChannelForm;
use crate::alerts::channel_row::{ChannelRow, RowActions};
use crate::alerts::deliveries_table::DeliveriesTable;
use crate::alerts::incidents_table::IncidentsTable;
use crate::ui::error_message::error_text;
use crate::ui::poll::poll_while;
use crate::ui::resource::page_resource;

/// How often the page reads again while a delivery waits for its retry.
const POLL: Duration = Duration::from_secs(10);

/// The alerts page.
#[component]
pub fn AlertsPage() -> impl IntoView {
    let changed = RwSignal::new(0u64);
    // Bumped after an add: a fresh, empty add form.
    let form_key = RwSignal::new(0u64);
    let added = RwSignal::new(None::<String>);
    let page = page_resource(move || changed.get(), |_| alerts_page());
    let actions = RowActions {
        test: ServerAction::<TestChannel>::new(),
        tested: RwSignal::new(None),
        remove: ServerAction::<RemoveChannel>::new(),
        removed: RwSignal::new(None),
    };
    // A finished test or removal changes the deliveries and the channels.
    Effect::new(move |_| {
        if actions.test.value().with(Option::is_some) {
            changed.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        if actions.remove.value().with(|v| matches!(v, Some(Ok(_)))) {
            changed.update(|n| *n += 1);
        }
    });
    poll_while(
        move || {
            page.with(|p| {
                p.as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .is_some_and(|v| {
                        v.overview
                            .deliveries
                            .iter()
                            .any(|d| d.status == DeliveryStatus::Pending)
                    })
                    .then_some(POLL)
            })
        },
        move || changed.update(|n| *n += 1),
    );

    // Whether the caller may change channels, apart from the rest of the
    // page: the add form stays as typed while the lists are read again.
    let admin = Memo::new(move |_| {
        page.with(|p| {
            p.as_ref()
                .and_then(|r| r.as_ref().ok())
                .is_some_and(|v| v.admin)
        })
    });

    let channels = move || {
        page.get().map(|r| match r {
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            Ok(v) if v.overview.channels.is_empty() => view! {
                <p class="empty" data-testid="alert-channels-empty">"No channel yet: alerts go nowhere."</p>
            }
            .into_any(),
            Ok(v) => {
                let (admin, now) = (v.admin, v.now);
                let rows = v
                    .overview
                    .channels
                    .into_iter()
                    .map(|c| view! { <ChannelRow channel=c admin now actions/> })
                    .collect_view();
                view! {
                    <table class="alerts-table channels" data-testid="alert-channels">
                        <thead>
                            <tr>
                                <th>"Channel"</th>
                                <th>"Kind"</th>
                                <th>"Events"</th>
                                <th>"Servers"</th>
                                <th>"Last delivery"</th>
                                <th></th>
                            </tr>
                        </thead>
                        {rows}
                    </table>
                }
                .into_any()
            }
        })
    };
    let add_form = move || {
        if !admin.get() {
            return view! { <p class="muted" data-testid="alert-read-only">"Only admins add, test or remove channels."</p> }.into_any();
        }
        let form = move || {
            form_key.get();
            view! {
                <ChannelForm on_saved=move |c: model::alert::Channel| {
                    added.set(Some(c.name));
                    changed.update(|n| *n += 1);
                    form_key.update(|n| *n += 1);
                }/>
            }
        };
        view! {
            <section class="card" data-testid="alert-add">
                <h2>"Add a channel"</h2>
                {move || added.get().map(|name| view! {
                    <p class="ok" role="status" data-testid="alert-added">
                        "Added " {name} ". Press Send test on its row to check it reaches you."
                    </p>
                })}
                {form}
            </section>
        }
        .into_any()
    };
    let lists = move || {
        page.get().and_then(Result::ok).map(|v| {
            let now = v.now;
            view! {
                <h2>"Open incidents"</h2>
                <IncidentsTable incidents=v.overview.incidents now/>
                <h2>"Recent deliveries"</h2>
                <DeliveriesTable deliveries=v.overview.deliveries now/>
            }
        })
    };

    view! {
        <Title text="Alerts"/>
        <h1>"Alerts"</h1>
        <p class="subtitle">"Who hears about failed, overdue and suspect backups, failed test-restores and unreachable destinations, and again when each recovers. An incident alerts once, again only after the repeat interval, and once when it ends."</p>
        <Transition fallback=|| view! { <p class="muted">"Loading alerts…"</p> }>
            <h2>"Channels"</h2>
            {channels}
            {add_form}
            {lists}
        </Transition>
    }
}
