#![recursion_limit = "512"]
//! The WebAssembly entry point: hydrates the pages the `pgshelf` binary
//! server-rendered (see the `app` crate).

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script that `<HydrationScripts>` puts in the page.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
