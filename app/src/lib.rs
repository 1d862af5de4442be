#![recursion_limit = "512"]
//! pgshelf's dashboard: Leptos pages and components, server-rendered by the
//! `pgshelf` binary and hydrated in the browser by the `frontend` crate.
//! Domain types come from `model` (the same types the engine uses); a
//! feature's folder holds its pages, its server functions (`api.rs`) and its
//! components, one component per file.
//!
//! # Layout
//!
//! | folder / file   | what                                                   |
//! |-----------------|--------------------------------------------------------|
//! | [`servers`]     | `/servers` the servers list and add form (also `/` before the first server) (what gets scheduled by default; the new server's connection tested); `/servers/:id` a server (summary with Edit and the connection, a section nav, then databases, schedules, recent backups, globals, plan) |
//! | [`overview`]    | `/` the overview once a server exists (health of every database, failing first; recent problems; running work; storage and its projection), else the servers page |
//! | [`backups`]     | `/servers/:id/databases/:db` a database's backups; the backups table, "Back up now" |
//! | [`history`]     | the database page's history: size-trend chart with a range selector (`?range=`), largest tables' growth, failure log |
//! | [`restores`]    | `/backups/:id` a backup (contents, tables into scratch, test-restore, full restore, files, recipe); `/servers/:id/rebuild` a server rebuilt from its backups (plan, typed confirmation, each step's result); `/scratch` scratch databases; `/scratch/:name/compare` a restored table against production, put rows back |
//! | [`alerts`]      | `/alerts` alert channels (add, send test, remove), recent deliveries, open incidents |
//! | [`destinations`] | `/destinations` where backups are stored (add, test, edit, remove, SFTP host keys) |
//! | [`schedules`]   | the schedules table, the server plan form, globals backups |
//! | [`policies`]    | `/servers/:id/policy` and `/servers/:id/databases/:db/policy`: the policy editor with its live preview |
//! | [`users`]       | `/login`, `/setup` (the first admin), `/users` (admins: users and API tokens); who is signed in, in the header |
//! | [`workers`]     | the worker status bar in the header                    |
//! | [`ui`]          | what every feature shares: formatting, errors, polling, live updates (`ui::live`) and the progress bar, badges, the size chart, times in the viewer's zone; browser-only calls live in `ui::live` and `ui::browser` alone |
//! | [`not_found`]   | the 404 page                                           |
//! | `edge` (server side only) | the engine from the request's context; engine errors mapped once to `ServerFnError` with their HTTP status |
//!
//! [`shell`] is the HTML document; [`App`] holds the router, the header and
//! the routes. Pages render with `SsrMode::Async`: the server sends finished
//! HTML, so reading works without JavaScript.
//!
//! Server functions are thin: parse, call one engine method, return a
//! `model` type (or a page-shaped view that says why it exists). They are
//! served under [`API_PREFIX`] with fixed endpoints, e.g.
//! `POST /api/servers/add`. The server provides an `engine::Engine` as
//! context to page rendering and to server functions.

pub mod alerts;
pub mod backups;
pub mod destinations;
#[cfg(feature = "ssr")]
mod edge;
pub mod history;
#[cfg(feature = "ssr")]
pub use edge::cookie_value;
pub mod not_found;
pub mod overview;
pub mod policies;
pub mod restores;
pub mod schedules;
pub mod servers;
pub mod ui;
pub mod users;
pub mod workers;

/// URL prefix of every server function.
pub const API_PREFIX: &str = "/api";

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pgshelf_session";

/// Sets the HTTP status of the page being server-rendered (e.g. 404); does
/// nothing in the browser.
pub fn set_page_status(code: u16) {
    #[cfg(feature = "ssr")]
    edge::set_page_status(code);
    #[cfg(not(feature = "ssr"))]
    let _ = code;
}

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use alerts::alerts_page::AlertsPage;
use backups::database_page::DatabasePage;
use destinations::destinations_page::DestinationsPage;
use not_found::NotFoundPage;
use overview::home_page::HomePage;
use policies::policy_page::{DatabasePolicyPage, ServerPolicyPage};
use restores::backup_page::BackupPage;
use restores::compare_page::ComparePage;
use restores::rebuild_page::RebuildPage;
use restores::scratch_page::ScratchPage;
use servers::server_page::ServerPage;
use servers::servers_page::ServersPage;
use ui::live::{Live, LiveNotice};
use users::login_page::LoginPage;
use users::setup_page::SetupPage;
use users::user_menu::UserMenu;
use users::users_page::UsersPage;
use workers::worker_status_bar::{WorkerStatusBar, WorkerStatusRefresh};

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

/// The worker status and the user menu: only on pages for signed-in users
/// (the sign-in and setup pages have nobody to show them to).
#[component]
fn SignedInHeader() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let signed_in_page = move || !matches!(location.pathname.get().as_str(), "/login" | "/setup");
    // The live event stream needs a session: open it on the first signed-in page.
    let live = Live::get();
    Effect::new(move |_| {
        if let (true, Some(live)) = (signed_in_page(), live) {
            live.connect();
        }
    });
    view! {
        <Show when=signed_in_page>
            <WorkerStatusBar/>
            <LiveNotice/>
            <UserMenu/>
        </Show>
    }
}

/// The dashboard: header, worker status, routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(WorkerStatusRefresh(RwSignal::new(0)));
    Live::provide();
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
                    <a href="/" data-testid="nav-overview">"Overview"</a>
                    <a href="/servers" data-testid="nav-servers">"Servers"</a>
                    <a href="/destinations" data-testid="nav-destinations">"Destinations"</a>
                    <a href="/scratch" data-testid="nav-scratch">"Scratch"</a>
                    <a href="/alerts" data-testid="nav-alerts">"Alerts"</a>
                </nav>
                <SignedInHeader/>
            </header>
            <main data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/servers") view=ServersPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async/>
                    <Route path=path!("/users") view=UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/servers/:id") view=ServerPage ssr=SsrMode::Async/>
                    <Route path=path!("/servers/:id/databases/:db") view=DatabasePage ssr=SsrMode::Async/>
                    <Route path=path!("/servers/:id/policy") view=ServerPolicyPage ssr=SsrMode::Async/>
                    <Route path=path!("/servers/:id/databases/:db/policy") view=DatabasePolicyPage ssr=SsrMode::Async/>
                    <Route path=path!("/backups/:id") view=BackupPage ssr=SsrMode::Async/>
                    <Route path=path!("/servers/:id/rebuild") view=RebuildPage ssr=SsrMode::Async/>
                    <Route path=path!("/destinations") view=DestinationsPage ssr=SsrMode::Async/>
                    <Route path=path!("/scratch") view=ScratchPage ssr=SsrMode::Async/>
                    <Route path=path!("/alerts") view=AlertsPage ssr=SsrMode::Async/>
                    <Route path=path!("/scratch/:name/compare") view=ComparePage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
