//! Recent deliveries: when, to which channel, which event and state, sent /
//! failed / pending, attempts, and for a failure the channel's answer (the
//! row highlighted).

use leptos::prelude::*;
use model::alert::{AlertState, Delivery, DeliveryStatus};

use crate::ui::format::{ago, utc};

/// A delivery's status as a badge.
#[component]
pub fn DeliveryStatusBadge(status: DeliveryStatus) -> impl IntoView {
    view! {
        <span class=format!("badge badge-delivery-{}", status.as_str())>{status.as_str()}</span>
    }
}

fn state_words(s: AlertState) -> &'static str {
    match s {
        AlertState::Opened => "opened",
        AlertState::Repeat => "still going on",
        AlertState::Recovered => "recovered",
        AlertState::Test => "test",
    }
}

/// The newest deliveries, newest first.
#[component]
pub fn DeliveriesTable(
    deliveries: Vec<Delivery>,
    now: chrono::DateTime<chrono::Utc>,
) -> impl IntoView {
    if deliveries.is_empty() {
        return view! { <p class="empty" data-testid="alert-deliveries-empty">"No alert has been sent yet. Send a test from a channel's row."</p> }.into_any();
    }
    let rows = deliveries
        .into_iter()
        .map(|d| {
            let failed = d.status == DeliveryStatus::Failed;
            let retrying = d.status == DeliveryStatus::Pending && d.attempts > 0;
            let event = d.kind.map(|k| k.words()).unwrap_or("Test message");
            let answer = d.answer.clone().unwrap_or_default();
            let next = d.next_attempt_at.filter(|_| retrying).map(|t| {
                view! { <span class="sub" title=utc(t)>"retry at " {utc(t)}</span> }
            });
            view! {
                <tr data-testid="alert-delivery" data-status=d.status.as_str() data-channel=d.channel.clone()
                    class=if failed { "delivery-failed" } else if retrying { "delivery-retrying" } else { "" }>
                    <td data-label="When" class="when"><span title=utc(d.created_at)>{ago(d.created_at, now)}</span></td>
                    <td data-label="Channel">{d.channel.clone()}</td>
                    <td data-label="Event">
                        {event}
                        <span class="sub">{d.title.clone()}</span>
                    </td>
                    <td data-label="State">{state_words(d.state)}</td>
                    <td data-label="Status"><DeliveryStatusBadge status=d.status/>{next}</td>
                    <td data-label="Attempts" class="num">{d.attempts}</td>
                    <td data-label="Answer" class="delivery-answer" data-testid="alert-delivery-answer">
                        {(!answer.is_empty()).then(|| view! { <span class="mono small">{answer}</span> })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="alerts-table deliveries" data-testid="alert-deliveries">
            <thead>
                <tr>
                    <th>"When"</th>
                    <th>"Channel"</th>
                    <th>"Event"</th>
                    <th>"State"</th>
                    <th>"Status"</th>
                    <th class="num">"Attempts"</th>
                    <th>"The channel's answer"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
