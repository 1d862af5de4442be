//! "Import catalog": reads every manifest under a destination and records
//! the backups this pgshelf does not know yet (a fresh pgshelf pointed at an
//! old bucket lists the old backups and restores from them).

use leptos::prelude::*;

use crate::destinations::api::ImportCatalog;
use crate::ui::error_message::{error_text, ErrorMessage};
use model::destination::ImportReport;

fn report_view(r: ImportReport) -> AnyView {
    let skipped = (!r.skipped.is_empty()).then(|| {
        view! {
            <ul class="warnings" data-testid="import-skipped">
                {r.skipped.iter().map(|s| view! { <li class="warn">{s.clone()}</li> }).collect_view()}
            </ul>
        }
    });
    view! {
        <div class=if r.skipped.is_empty() { "result ok" } else { "result warn" } data-testid="import-report"
            data-imported=r.imported.to_string() role="status">
            <p>
                {r.manifests} " manifests read on " {r.destination.clone()} ": "
                <strong>{r.imported} " backups imported"</strong> ", "
                {r.known} " already known"
                {(!r.skipped.is_empty()).then(|| format!(", {} skipped:", r.skipped.len()))}
            </p>
            {skipped}
        </div>
    }
    .into_any()
}

/// The button and, once it ran, what it found. Bumps `changed` after an
/// import so the stored totals are read again.
#[component]
pub fn ImportCatalogButton(name: String, changed: RwSignal<u64>) -> impl IntoView {
    let import = ServerAction::<ImportCatalog>::new();
    let result = move || {
        import.value().get().map(|r| match r {
            Ok(report) => report_view(report),
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
        })
    };
    Effect::new(move |_| {
        if import
            .value()
            .with(|v| matches!(v, Some(Ok(r)) if r.imported > 0))
        {
            changed.update(|n| *n += 1);
        }
    });
    view! {
        <span class="import-catalog">
            <button type="button" data-testid="dest-import" disabled=move || import.pending().get()
                title="read every manifest stored there and list the backups this pgshelf does not know"
                on:click=move |_| { import.dispatch(ImportCatalog { name: name.clone() }); }>
                {move || if import.pending().get() { "Importing…" } else { "Import catalog" }}
            </button>
            {result}
        </span>
    }
    .into_any()
}
