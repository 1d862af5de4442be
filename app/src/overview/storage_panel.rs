//! Storage: what each destination holds, what each retention tier holds,
//! and where the stored total goes in the next 30 days from its trend.

use leptos::prelude::*;

use crate::ui::format::human_bytes;
use model::overview::{Projection, Storage, PROJECTION_DAYS};

fn projection_text(p: &Projection) -> String {
    match p {
        Projection::NotEnoughHistory { days } => format!(
            "Not enough history for a projection yet ({days} day{} of stored backups; 2 needed).",
            if *days == 1 { "" } else { "s" }
        ),
        Projection::Trend {
            days,
            bytes_per_day,
            day,
            bytes,
            ..
        } => {
            let per_day = if *bytes_per_day >= 0.0 {
                format!("+{}", human_bytes(bytes_per_day.round() as u64))
            } else {
                format!("-{}", human_bytes((-bytes_per_day).round() as u64))
            };
            format!(
                "In {PROJECTION_DAYS} days ({day}): about {} ({per_day} a day over the last {days} days).",
                human_bytes(*bytes)
            )
        }
    }
}

/// The storage section.
#[component]
pub fn StoragePanel(storage: Storage) -> impl IntoView {
    let destinations = storage
        .destinations
        .iter()
        .map(|d| {
            view! {
                <tr data-testid="storage-destination" data-name=d.name.clone()>
                    <td data-label="Destination"><span class="strong">{d.name.clone()}</span> <span class="sub">{d.describe.clone()}</span></td>
                    <td class="num" data-label="Copies">{d.copies}</td>
                    <td class="num" data-label="Stored">{human_bytes(d.stored_bytes)}</td>
                </tr>
            }
        })
        .collect_view();
    let tiers = storage
        .tiers
        .iter()
        .map(|t| {
            let name = t.tier.map(|t| t.name()).unwrap_or("no tier yet");
            view! {
                <tr data-testid="storage-tier" data-tier=name>
                    <td data-label="Tier">{name}</td>
                    <td class="num" data-label="Backups">{t.backups}</td>
                    <td class="num" data-label="Stored">{human_bytes(t.stored_bytes)}</td>
                </tr>
            }
        })
        .collect_view();
    let has_tiers = !storage.tiers.is_empty();
    view! {
        <section class="card" aria-labelledby="storage-h">
            <h2 id="storage-h">"Storage"</h2>
            <p data-testid="storage-total">
                <span class="strong">{human_bytes(storage.total_bytes)}</span>
                {format!(" in {} backup{} (each counted once)", storage.backups, if storage.backups == 1 { "" } else { "s" })}
            </p>
            <p data-testid="storage-projection" class="projection">{projection_text(&storage.projection)}</p>
            <div class="storage-tables">
                <table class="storage">
                    <caption>"Per destination"</caption>
                    <thead><tr><th>"Destination"</th><th class="num">"Copies"</th><th class="num">"Stored"</th></tr></thead>
                    <tbody>{destinations}</tbody>
                </table>
                <table class="storage" class:hidden=!has_tiers>
                    <caption>"Per retention tier"</caption>
                    <thead><tr><th>"Tier"</th><th class="num">"Backups"</th><th class="num">"Stored"</th></tr></thead>
                    <tbody>{tiers}</tbody>
                </table>
            </div>
            <p class="muted">"A backup holding several tiers counts in each."</p>
        </section>
    }
}
