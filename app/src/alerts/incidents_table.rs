//! Open incidents: what is wrong now (kind, server and database or
//! destination, cause), since when, and when it last alerted.

use leptos::prelude::*;
use model::alert::{AlertKind, Incident};

use crate::ui::format::{ago, utc};

/// The open ones among `incidents`, newest first.
#[component]
pub fn IncidentsTable(
    incidents: Vec<Incident>,
    now: chrono::DateTime<chrono::Utc>,
) -> impl IntoView {
    let open: Vec<Incident> = incidents
        .into_iter()
        .filter(|i| i.closed_at.is_none())
        .collect();
    if open.is_empty() {
        return view! { <p class="empty" data-testid="alert-incidents-empty">"Nothing is wrong: no open incident."</p> }.into_any();
    }
    let rows = open
        .into_iter()
        .map(|i| {
            let what = match (i.kind, i.server.is_empty()) {
                (AlertKind::DestinationUnreachable, _) | (_, true) => {
                    format!("destination {}", i.subject)
                }
                _ => format!("{} / {}", i.server, i.subject),
            };
            let what = match &i.link {
                Some(l) => view! { <a href=l.clone()>{what}</a> }.into_any(),
                None => view! { <span>{what}</span> }.into_any(),
            };
            view! {
                <tr data-testid="alert-incident" data-kind=i.kind.as_str()>
                    <td data-label="Kind"><span class="flag flag-error">{i.kind.words()}</span></td>
                    <td data-label="Where">
                        {what}
                        <span class="sub incident-cause">{i.cause.clone()}</span>
                    </td>
                    <td data-label="Since" class="when"><span title=utc(i.opened_at)>{ago(i.opened_at, now)}</span></td>
                    <td data-label="Last alerted" class="when"><span title=utc(i.last_alert_at)>{ago(i.last_alert_at, now)}</span></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="alerts-table incidents" data-testid="alert-incidents">
            <thead>
                <tr>
                    <th>"Kind"</th>
                    <th>"Server / database or destination"</th>
                    <th>"Since"</th>
                    <th>"Last alerted"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
