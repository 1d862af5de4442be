#![recursion_limit = "512"]
//! pgshelf's dashboard: Leptos pages and components, server-rendered by the
//! `pgshelf` binary and hydrated in the browser by the `frontend` crate.
//!
//! # Layout
//!
//! - [`shell`] is the HTML document; [`App`] holds the router, the header
//!   with the worker status bar, and the routes:
//!
//!   | path                         | page                                   |
//!   |------------------------------|----------------------------------------|
//!   | `/`                          | [`pages::servers`]: servers, add form  |
//!   | `/servers/:id`               | [`pages::server`]: connection, databases, recent backups |
//!   | `/servers/:id/databases/:db` | [`pages::database`]: backups, live while running |
//!   | `/servers/:id/policy`        | [`pages::policy`]: the server default policy, with preview |
//!   | `/servers/:id/databases/:db/policy` | [`pages::policy`]: a database's policy (override) |
//!   | anything else                | [`pages::not_found`] (HTTP 404)        |
//!
//!   Pages render with `SsrMode::Async`: the server sends finished HTML, so
//!   reading works without JavaScript.
//! - [`api`]: the server functions (thin: parse, call one engine method,
//!   return a view type), their view types, and the server-only conversion
//!   from engine values and errors (`api/convert.rs`, the only place with
//!   engine types).
//! - [`components`]: one component per file (forms, tables, rows, badges,
//!   the status bar) and shared helpers (`format`, `error_message`, `poll`).
//!
//! The server provides an `engine::Engine` as context to page rendering and
//! to server functions; server functions take it with `expect_context`.

pub mod api;
pub mod components;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use components::worker_status_bar::{WorkerStatusBar, WorkerStatusRefresh};
use pages::database::DatabasePage;
use pages::not_found::NotFoundPage;
use pages::policy::{DatabasePolicyPage, ServerPolicyPage};
use pages::server::ServerPage;
use pages::servers::ServersPage;

/// The HTML document around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <link rel="stylesheet" id="leptos" href="/pkg/pgshelf.css"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The dashboard: header, worker status, routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(WorkerStatusRefresh(RwSignal::new(0)));
    // Effects run only in the browser: `data-hydrated="true"` on <main>
    // tells people (and browser tests) that buttons work from here on.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Title formatter=|page: String| if page.is_empty() { "pgshelf".to_owned() } else { format!("{page} · pgshelf") }/>
        <Router>
            <header class="top">
                <a href="/" class="brand">"pgshelf"</a>
                <nav>
                    <a href="/">"Servers"</a>
                </nav>
                <WorkerStatusBar/>
            </header>
            <main data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=ServersPage ssr=SsrMode::Async/>
                    <Route path=path!("/servers/:id") view=ServerPage ssr=SsrMode::Async/>
                    <Route path=path!("/servers/:id/databases/:db") view=DatabasePage ssr=SsrMode::Async/>
                    <Route path=path!("/servers/:id/policy") view=ServerPolicyPage ssr=SsrMode::Async/>
                    <Route path=path!("/servers/:id/databases/:db/policy") view=DatabasePolicyPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
