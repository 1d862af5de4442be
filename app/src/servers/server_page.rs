//! `/servers/:id`: one server. On top a summary (address, Edit, the
//! connection, its schedules in figures), then a section nav (links to
//! `#databases`, `#schedules`, `#backups`, `#globals`, `#server-plan`, so a
//! link opens the page at a section) and the sections themselves.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::backups::backups_table::BackupsTable;
use crate::backups::run_now_button::RunNowButton;
use crate::not_found::NotFoundPage;
use crate::schedules::globals_table::GlobalsTable;
use crate::schedules::schedules_table::SchedulesTable;
use crate::schedules::server_plan_form::ServerPlanEditor;
use crate::servers::api::get_server;
use crate::servers::connection_status::ConnectionStatus;
use crate::servers::databases_table::DatabasesTable;
use crate::servers::server_edit::ServerEdit;
use crate::servers::server_summary::ServerSummary;
use crate::servers::version_warning::VersionChangeWarning;
use crate::ui::error_message::error_text;
use crate::ui::format::policy_href;
use crate::ui::resource::page_resource;
use model::backup::Target;

/// How many backups the server page lists.
pub const RECENT_BACKUPS: i64 = 20;
/// How many globals backups the server page lists.
pub const GLOBALS_BACKUPS: i64 = 10;

/// The page's sections: (id in the URL hash, title in the section nav).
pub const SECTIONS: &[(&str, &str)] = &[
    ("databases", "Databases"),
    ("schedules", "Schedules"),
    ("backups", "Recent backups"),
    ("globals", "Globals"),
    ("server-plan", "Server plan"),
];

/// The server page; a non-numeric id is a 404.
#[component]
pub fn ServerPage() -> impl IntoView {
    let params = use_params_map();
    let server_id = Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
    });
    move || match server_id.get() {
        None => view! { <NotFoundPage/> }.into_any(),
        Some(id) => server_sections(id).into_any(),
    }
}

/// The links to the page's sections. Plain fragment links (`rel=external`
/// leaves them to the browser): the browser scrolls, moves the keyboard
/// focus there, and the address says which section is open.
#[component]
fn SectionNav() -> impl IntoView {
    view! {
        <nav class="section-nav" aria-label="Sections of this page" data-testid="section-nav">
            {SECTIONS
                .iter()
                .map(|(id, title)| view! { <a href=format!("#{id}") rel="external" data-section=*id>{*title}</a> })
                .collect_view()}
        </nav>
    }
}

/// Summary, section nav, sections. The sections hide when the server does
/// not exist (the header says so).
fn server_sections(id: i64) -> impl IntoView {
    let saved = RwSignal::new(0u64);
    let server = page_resource(move || saved.get(), move |_| get_server(id));
    let backups_changed = RwSignal::new(0u64);
    let plan_saved = RwSignal::new(0u64);
    let globals_changed = RwSignal::new(0u64);
    let schedules_changed =
        Signal::derive(move || backups_changed.get() + plan_saved.get() + globals_changed.get());
    let missing = move || server.with(|s| matches!(s, Some(Err(_))));
    let header = move || {
        server.get().map(|r| match r {
            Ok(s) => view! {
                <Title text=s.name.clone()/>
                <div class="page-head">
                    <h1 data-testid="server-name-heading">{s.name.clone()}</h1>
                    <ServerEdit server=s.clone() saved/>
                </div>
                <p class="subtitle">
                    <span class="mono">{format!("{}@{}", s.user, s.address())}</span>
                    " · sslmode " {s.sslmode.clone()}
                    " · maintenance database " <span class="mono">{s.maintenance_db.clone()}</span>
                    " · " {if s.has_password { "password set" } else { "no password" }}
                </p>
            }
            .into_any(),
            Err(e) => view! {
                <Title text="Server"/>
                <h1>"Server " {id}</h1>
                <p class="error" role="alert">{error_text(&e)}</p>
            }
            .into_any(),
        })
    };
    // Tested again after an edit is saved.
    let connection = move || {
        saved.track();
        view! { <ConnectionStatus server_id=id/> }
    };
    view! {
        <nav class="crumbs"><a href="/servers">"Servers"</a> " /"</nav>
        <Transition fallback=move || view! { <h1>"Server " {id}</h1> }>{header}</Transition>
        <Transition fallback=|| ()>
            <div class:hidden=missing>
                <section class="summary card" data-testid="server-summary" aria-label="Summary">
                    {connection}
                    <VersionChangeWarning server_id=id changed=backups_changed/>
                    <ServerSummary server_id=id changed=schedules_changed/>
                </section>
                <SectionNav/>
                <section id="databases" tabindex="-1">
                    <h2>"Databases"</h2>
                    <DatabasesTable server_id=id backups_changed/>
                </section>
                <section id="schedules" tabindex="-1" data-testid="schedules">
                    <h2>"Schedules"</h2>
                    <p class="subtitle">
                        "Databases without an override use the "
                        <a href=policy_href(id, None) data-testid="server-policy-link">"server default policy"</a>
                        "."
                    </p>
                    <SchedulesTable server_id=id changed=schedules_changed/>
                </section>
                <section id="backups" tabindex="-1">
                    <h2>"Recent backups"</h2>
                    <BackupsTable server_id=id limit=RECENT_BACKUPS backups_changed show_database=true/>
                </section>
                <section id="globals" tabindex="-1" data-testid="globals">
                    <div class="section-head">
                        <h2>"Globals backups"</h2>
                        <RunNowButton server_id=id target=Target::Globals changed=globals_changed/>
                        <a href=format!("/servers/{id}/rebuild") data-testid="rebuild-link">"Rebuild from backups →"</a>
                    </div>
                    <GlobalsTable server_id=id limit=GLOBALS_BACKUPS changed=globals_changed/>
                </section>
                <section id="server-plan" tabindex="-1">
                    <h2>"Server plan"</h2>
                    <ServerPlanEditor server_id=id saved=plan_saved/>
                </section>
            </div>
        </Transition>
    }
}
