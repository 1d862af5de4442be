//! What a policy would do, before it is saved: the schedule in words, the
//! next five runs (UTC and in the policy's zone), and which existing backups
//! the retention keeps (with their tiers) or prunes, with reasons.

use leptos::prelude::*;

use crate::policies::api::PreviewPolicy;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::utc;
use crate::ui::tier_badges::TierBadges;
use crate::ui::viewer_time::ViewerTime;
use model::schedule::{PolicyPreview, RetainedBackup};

fn taken(b: &RetainedBackup) -> String {
    b.taken_at.map(utc).unwrap_or_else(|| "—".into())
}

fn preview_body(p: PolicyPreview) -> impl IntoView {
    let tz = p.timezone.clone();
    let show_local = tz != "UTC";
    let runs = p
        .next_runs
        .into_iter()
        .map(|r| {
            view! {
                <li data-testid="policy-next-run">
                    <span class="mono"><ViewerTime at=r.utc/></span>
                    {show_local.then(|| view! { <span class="sub mono">{r.local.clone()}</span> })}
                </li>
            }
        })
        .collect_view();
    let no_backups = p.keep.is_empty() && p.prune.is_empty();
    let keep_count = p.keep.len();
    let prune_count = p.prune.len();
    let held = (!p.held.is_empty()).then(|| {
        view! { <p class="warn small" data-testid="policy-held">"Pruning held: " {p.held.join("; ")}</p> }
    });
    let keep = p
        .keep
        .into_iter()
        .map(|b| {
            view! {
                <tr data-testid="policy-keep-row" data-id=b.id.to_string()>
                    <td class="mono small">"#" {b.id} " " {b.target.to_string()}</td>
                    <td class="mono small">{taken(&b)}</td>
                    <td><TierBadges tiers=b.tiers.clone()/></td>
                    <td class="small">{b.reason.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let prune = p
        .prune
        .into_iter()
        .map(|b| {
            view! {
                <tr data-testid="policy-prune-row" data-id=b.id.to_string()>
                    <td class="mono small">"#" {b.id} " " {b.target.to_string()}</td>
                    <td class="mono small">{taken(&b)}</td>
                    <td class="small">{b.reason.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p data-testid="policy-describe">
            "Runs " <strong>{p.describe}</strong> " (" {tz} ")."
        </p>
        <h4>"Next runs"</h4>
        <ol class="next-runs">{runs}</ol>
        <h4>"Retention"</h4>
        {held}
        {if no_backups {
            view! { <p class="muted" data-testid="policy-no-backups">"No successful backups yet: nothing to keep or prune."</p> }.into_any()
        } else {
            view! {
                <p class="small">
                    <span class="ok">{keep_count} " kept"</span> " · "
                    <span class:warn={prune_count > 0}>{prune_count} " would be pruned"</span>
                </p>
                <table class="preview-keep">
                    <thead><tr><th>"Backup"</th><th>"Taken"</th><th>"Tiers"</th><th>"Why"</th></tr></thead>
                    <tbody>{keep}</tbody>
                </table>
                {(prune_count > 0).then(|| view! {
                    <table class="preview-prune">
                        <thead><tr><th>"Would prune"</th><th>"Taken"</th><th>"Why"</th></tr></thead>
                        <tbody>{prune}</tbody>
                    </table>
                })}
            }
            .into_any()
        }}
    }
}

/// Where every backup goes and whether it is encrypted, as the form says now.
fn storage_summary(destinations: Vec<String>, recipients: usize) -> AnyView {
    let places = if destinations.is_empty() {
        "local (the built-in directory)".to_owned()
    } else {
        destinations.join(", ")
    };
    let copies = destinations.len().max(1);
    let encryption = match recipients {
        0 => "not encrypted".to_owned(),
        1 => "encrypted with age to 1 recipient".to_owned(),
        n => format!("encrypted with age to {n} recipients"),
    };
    view! {
        <p data-testid="policy-storage-summary" data-copies=copies.to_string() data-encrypted=(recipients > 0).to_string()>
            "Each backup: " <strong>{copies} {if copies == 1 { " copy" } else { " copies" }}</strong>
            " on " <span class="mono">{places}</span> ", "
            <strong class:warn=recipients == 0>{encryption}</strong> "."
        </p>
    }
    .into_any()
}

/// The preview panel beside the policy form; shows the newest answer, and
/// where backups go and whether they are encrypted (from the form as typed).
#[component]
pub fn PolicyPreviewPanel(
    preview: ServerAction<PreviewPolicy>,
    /// The destinations ticked (none: `local`).
    #[prop(into)]
    destinations: Signal<Vec<String>>,
    /// How many age recipients are entered.
    #[prop(into)]
    recipients: Signal<usize>,
) -> impl IntoView {
    let pending = preview.pending();
    let body = move || match preview.value().get() {
        None => view! { <p class="muted">"Working out the next runs…"</p> }.into_any(),
        Some(Err(e)) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        Some(Ok(p)) => preview_body(p).into_any(),
    };
    view! {
        <aside class="policy-preview card" data-testid="policy-preview" aria-busy=move || pending.get().to_string()>
            <h2>"Preview" {move || pending.get().then_some(" …")}</h2>
            <p class="hint-line muted">"What this policy would do if saved now."</p>
            {move || storage_summary(destinations.get(), recipients.get())}
            {body}
        </aside>
    }
}
