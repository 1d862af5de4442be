//! The extra lines under a backup: where it was read from, compression,
//! why it is suspect, warnings, a server version change, prune problems, and
//! the globals backup that goes with it.

use leptos::prelude::*;

use crate::backups::views::BackupView;
use crate::ui::format::utc;

/// Details of one backup, shown in its detail row (nothing when none apply).
#[component]
pub fn BackupDetails(backup: BackupView) -> impl IntoView {
    let b = backup;
    let mut facts: Vec<AnyView> = Vec::new();
    if let Some(h) = b.source_host.clone() {
        facts.push(view! { <span data-testid="backup-source">"from " <span class="mono">{h}</span></span> }.into_any());
    }
    if let Some(c) = b.compression.clone() {
        facts.push(view! { <span data-testid="backup-compression">"compression " <span class="mono">{c}</span></span> }.into_any());
    }
    if !b.target.is_globals() && !b.status.is_active() {
        facts.push(match b.globals.clone() {
            Some(g) => view! {
                <span data-testid="backup-globals" title="restore roles and tablespaces from this globals backup first">
                    "globals: #" {g.id} " (" {utc(g.at)} ")"
                </span>
            }
            .into_any(),
            None => view! {
                <span class="warn" data-testid="backup-globals" title="no good globals backup of this server before this one">
                    "globals: none before this backup"
                </span>
            }
            .into_any(),
        });
    }
    let facts = (!facts.is_empty()).then(|| {
        let n = facts.len();
        view! {
            <p class="facts small muted">
                {facts
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| view! { {v} {(i + 1 < n).then_some(" · ")} })
                    .collect_view()}
            </p>
        }
    });
    let version = (b.version_changed).then(|| {
        view! {
            <p class="warn small" data-testid="backup-version-warning">
                "The server's version changed to " {b.server_version.clone().unwrap_or_else(|| "?".into())}
                " since the previous successful backup. Check that pg_dump and restores still fit."
            </p>
        }
    });
    // A verified backup's entries are notes (an encrypted artifact checked
    // by size and sha256 only); a suspect one's are the reasons.
    let label = if b.status == model::backup::BackupStatus::Suspect {
        "Suspect: "
    } else {
        "Note: "
    };
    let suspect = (!b.verification.is_empty()).then(|| {
        view! {
            <ul class="warnings small" data-testid="backup-suspect">
                {b.verification
                    .iter()
                    .map(|w| view! { <li class="warn">{label} {w.clone()}</li> })
                    .collect_view()}
            </ul>
        }
    });
    let warnings = (!b.warnings.is_empty()).then(|| {
        view! {
            <ul class="warnings small" data-testid="backup-warnings">
                {b.warnings.iter().map(|w| view! { <li class="warn">{w.clone()}</li> }).collect_view()}
            </ul>
        }
    });
    let prune_error = b.prune_error.clone().map(|e| {
        view! { <p class="cause small" data-testid="backup-prune-error">"Pruning failed: " {e}</p> }
    });
    view! { {facts} {suspect} {version} {warnings} {prune_error} }
}
