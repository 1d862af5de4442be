//! The 404 page.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::set_page_status;

/// Shown for any address that is not a page; answers with HTTP 404.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    set_page_status(404);
    view! {
        <Title text="Not found"/>
        <h1>"Not found"</h1>
        <p data-testid="not-found">
            "There is no page at this address. " <a href="/servers">"Back to the servers"</a>
        </p>
    }
}
