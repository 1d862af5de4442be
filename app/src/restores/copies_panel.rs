//! A backup's copies: one per destination it was written to, each with its
//! own status (a backup is good on a destination only where its copy is
//! complete there), size, upload attempts and, when it failed, the
//! destination's own words.

use leptos::prelude::*;

use model::destination::{BackupCopy, CopyStatus};
use model::format::human_size;

/// The "Copies" panel of the backup page. `copies` is `Err` with the reason
/// when they cannot be read.
#[component]
pub fn CopiesPanel(copies: Result<Vec<BackupCopy>, String>) -> impl IntoView {
    let body = match copies {
        Err(why) => view! { <p class="warn" data-testid="copies-error">{why}</p> }.into_any(),
        Ok(list) if list.is_empty() => view! {
            <p class="muted" data-testid="no-copies">"No copies recorded: this backup was stored in the local directory before copies were tracked, or it never got as far as storing anything."</p>
        }
        .into_any(),
        Ok(list) => {
            let complete = list
                .iter()
                .filter(|c| c.status == CopyStatus::Complete)
                .count();
            let rows = list
                .into_iter()
                .map(|c| {
                    let status = c.status.as_str();
                    let attempts = if c.attempts == 1 {
                        "1 attempt".to_owned()
                    } else {
                        format!("{} attempts", c.attempts)
                    };
                    view! {
                        <tr data-testid="copy-row" data-destination=c.destination.clone() data-status=status>
                            <td><a href="/destinations" class="strong">{c.destination.clone()}</a></td>
                            <td><span class=format!("badge badge-copy-{status}") data-testid="copy-status">{status}</span></td>
                            <td class="num" data-testid="copy-size">{human_size(c.bytes as i64)}</td>
                            <td class="num">{attempts}</td>
                            <td class="mono small">{c.dir.clone()}</td>
                            <td class="small">
                                {c.error.clone().map(|e| view! { <span class="cause" data-testid="copy-error">{e}</span> })}
                                " " <span class="muted">{c.updated_at.clone()}</span>
                            </td>
                        </tr>
                    }
                })
                .collect_view();
            view! {
                <p class="small" data-testid="copies-summary">
                    {complete} " complete " {if complete == 1 { "copy" } else { "copies" }}
                    {(complete == 0).then(|| view! { " — " <span class="warn">"not restorable from any destination yet"</span> })}
                </p>
                <table class="copies">
                    <thead><tr><th>"Destination"</th><th>"Status"</th><th class="num">"Size"</th><th class="num">"Attempts"</th><th>"Folder"</th><th>"Error / updated"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            }
            .into_any()
        }
    };
    view! {
        <section data-testid="backup-copies">
            <h2>"Copies"</h2>
            {body}
        </section>
    }
}
