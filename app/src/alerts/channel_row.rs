//! One channel in the channels table: name and where it delivers, kind,
//! events, servers, its last delivery and that delivery's outcome; for
//! admins "Send test" (the outcome: sent, or the channel's answer) and
//! Remove (with a confirm step).

use leptos::prelude::*;
use model::alert::{Channel, ChannelKind, DeliveryStatus};

use crate::alerts::api::{RemoveChannel, TestChannel};
use crate::alerts::deliveries_table::DeliveryStatusBadge;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::{ago, utc};

/// Columns of the channels table.
pub const CHANNEL_COLUMNS: usize = 6;

/// The page's "Send test" and Remove, shared by every row so their
/// outcome outlives the rows (the page lists the channels again after
/// each, which makes new rows).
#[derive(Clone, Copy)]
pub struct RowActions {
    pub test: ServerAction<TestChannel>,
    /// The channel the last "Send test" was for.
    pub tested: RwSignal<Option<String>>,
    pub remove: ServerAction<RemoveChannel>,
    /// The channel the last Remove was for.
    pub removed: RwSignal<Option<String>>,
}

/// A channel kind in words.
pub fn kind_words(k: ChannelKind) -> &'static str {
    match k {
        ChannelKind::Slack => "Slack",
        ChannelKind::Webhook => "Webhook",
        ChannelKind::Email => "Email",
    }
}

/// The outcome of this row's "Send test", if it was the last one.
fn test_result(name: String, a: RowActions) -> impl IntoView {
    move || {
        if a.tested.get().as_deref() != Some(name.as_str()) {
            return None;
        }
        if a.test.pending().get() {
            return Some(
                view! { <p class="result pending" role="status" data-testid="alert-test-result" data-status="pending">"Sending a test message…"</p> }
                    .into_any(),
            );
        }
        a.test.value().get().map(|r| match r {
            Ok(d) if d.status == DeliveryStatus::Sent => view! {
                <p class="result ok" role="status" data-testid="alert-test-result" data-status="sent">
                    "Test message sent. The channel answered: " <span class="mono">{d.answer.unwrap_or_default()}</span>
                </p>
            }
            .into_any(),
            Ok(d) => view! {
                <p class="result error" role="alert" data-testid="alert-test-result" data-status=d.status.as_str()>
                    "The test message failed: " <span class="mono">{d.answer.unwrap_or_default()}</span>
                    ". Fix: check the channel's settings and that the receiver is reachable from pgshelf; remove and add the channel again if they are wrong."
                </p>
            }
            .into_any(),
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    }
}

/// A `<tbody>` per channel: the row, then the test result or a removal
/// error beneath it.
#[component]
pub fn ChannelRow(
    channel: Channel,
    admin: bool,
    now: chrono::DateTime<chrono::Utc>,
    actions: RowActions,
) -> impl IntoView {
    let name = channel.name.clone();
    let events = if channel.events.is_empty() {
        "all events".to_owned()
    } else {
        channel
            .events
            .iter()
            .map(|k| k.words())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let servers = if channel.servers.is_empty() {
        "all servers".to_owned()
    } else {
        channel.servers.join(", ")
    };
    let last = match &channel.last_delivery {
        None => view! { <span class="muted" data-testid="alert-last-delivery" data-status="">"nothing sent yet"</span> }.into_any(),
        Some(d) => {
            let failed = d.status == DeliveryStatus::Failed;
            view! {
                <span data-testid="alert-last-delivery" data-status=d.status.as_str()>
                    <DeliveryStatusBadge status=d.status/>
                    " " <span title=utc(d.updated_at)>{ago(d.updated_at, now)}</span>
                    <span class="sub">{d.title.clone()}</span>
                    {failed.then(|| view! { <span class="sub delivery-answer">{d.answer.clone().unwrap_or_default()}</span> })}
                </span>
            }
            .into_any()
        }
    };
    let remove_error = {
        let name = name.clone();
        move || {
            if actions.removed.get().as_deref() != Some(name.as_str()) {
                return None;
            }
            actions
                .remove
                .value()
                .get()
                .and_then(Result::err)
                .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
        }
    };
    let buttons = admin.then(|| {
        let test_name = name.clone();
        let remove_name = name.clone();
        let sending = move || actions.test.pending().get();
        view! {
            <button type="button" data-testid="alert-test" disabled=sending
                on:click=move |_| {
                    actions.tested.set(Some(test_name.clone()));
                    actions.test.dispatch(TestChannel { name: test_name.clone() });
                }>
                "Send test"
            </button>
            <details class="confirm">
                <summary data-testid="alert-remove">"Remove"</summary>
                <div class="confirm-box">
                    <p>"Remove the channel " <strong>{remove_name.clone()}</strong> "? Its deliveries stay listed; pending ones are not sent."</p>
                    <button type="button" class="danger" data-testid="alert-remove-confirm"
                        on:click={
                            let n = remove_name.clone();
                            move |_| {
                                actions.removed.set(Some(n.clone()));
                                actions.remove.dispatch(RemoveChannel { name: n.clone() });
                            }
                        }>
                        "Yes, remove " {remove_name.clone()}
                    </button>
                </div>
            </details>
        }
    });
    view! {
        <tbody class="channel">
            <tr data-testid="alert-channel-row" data-name=name.clone()>
                <td data-label="Channel">
                    <strong>{name.clone()}</strong>
                    <span class="sub mono" data-testid="alert-describe">{channel.describe.clone()}</span>
                </td>
                <td data-label="Kind">{kind_words(channel.settings.kind())}</td>
                <td data-label="Events" data-testid="alert-events">{events}</td>
                <td data-label="Servers" data-testid="alert-servers">{servers}</td>
                <td data-label="Last delivery">{last}</td>
                <td class="actions">{buttons}</td>
            </tr>
            <tr class="detail">
                <td colspan=CHANNEL_COLUMNS.to_string()>
                    {test_result(name.clone(), actions)}
                    {remove_error}
                </td>
            </tr>
        </tbody>
    }
}
