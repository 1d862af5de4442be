//! `/servers/:id/rebuild`: rebuild a server from its backups onto a server
//! (a fresh one, typically): the plan first — the newest good globals
//! backup, then each chosen database's newest good backup — and, once the
//! target's name is typed to confirm, every step's result.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use model::restore::RebuildPlan;

use crate::not_found::NotFoundPage;
use crate::restores::api::{MakeRebuildPlan, RunRebuild};
use crate::servers::api::list_servers;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::format::{duration_ms, human_size, server_href};
use crate::ui::resource::page_resource;
use crate::ui::viewer_time::ViewerTime;

/// The rebuild page; a non-numeric id is a 404.
#[component]
pub fn RebuildPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|v| v.parse::<i64>().ok()));
    move || match id.get() {
        None => view! { <NotFoundPage/> }.into_any(),
        Some(id) => rebuild_sections(id).into_any(),
    }
}

fn plan_table(plan: &RebuildPlan) -> impl IntoView {
    view! {
        <ol class="rebuild-plan" data-testid="rebuild-plan">
            {plan.steps.iter().map(|s| {
                let what = if s.kind == "globals" {
                    "roles, memberships, tablespaces and grants (roles that exist stay as they are)".to_owned()
                } else {
                    format!("database {}", s.database)
                };
                view! {
                    <li data-testid="rebuild-step">
                        {what} " from " <a href=format!("/backups/{}", s.backup_id)>"backup #" {s.backup_id}</a>
                        <span class="muted small">" (" <ViewerTime at=s.taken_at/> ", " {human_size(s.stored_bytes)} ")"</span>
                    </li>
                }
            }).collect_view()}
        </ol>
        {(!plan.missing.is_empty()).then(|| view! {
            <p class="warn" data-testid="rebuild-missing">
                "No usable backup, so left out: " {plan.missing.join(", ")}
            </p>
        })}
    }
}

fn rebuild_sections(id: i64) -> impl IntoView {
    let servers = page_resource(|| (), |_| list_servers());
    // A rebuild goes onto another (fresh) server; the same one is only the
    // fallback when no other is configured.
    let target = RwSignal::new(id);
    Effect::new(move |_| {
        if let Some(Ok(list)) = servers.get() {
            if let Some(other) = list.iter().find(|s| s.id != id) {
                if target.get_untracked() == id {
                    target.set(other.id);
                }
            }
        }
    });
    let databases = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let make = ServerAction::<MakeRebuildPlan>::new();
    let run = ServerAction::<RunRebuild>::new();
    let source_name = move || {
        servers
            .get()
            .and_then(Result::ok)
            .and_then(|l| l.into_iter().find(|s| s.id == id))
            .map(|s| s.name)
    };
    let show_plan = move |_| {
        let dbs: Vec<String> = databases
            .get()
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect();
        make.dispatch(MakeRebuildPlan {
            source_server_id: id,
            target_server_id: target.get(),
            databases: dbs,
        });
    };
    let plan_view = move || {
        make.value().get().map(|r| match r {
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
            Ok(plan) => {
                let target_name = plan.target_server.clone();
                let tn = target_name.clone();
                let confirmed = move || confirm.with(|c| *c == tn);
                let p2 = plan.clone();
                view! {
                    <h2>"The plan"</h2>
                    <p>"Onto " <span class="strong">{target_name.clone()}</span> ", in this order:"</p>
                    {plan_table(&plan)}
                    <div class="field">
                        <label>"Type " <span class="mono">{target_name.clone()}</span> " to confirm"
                            <input type="text" class="mono" autocomplete="off" data-testid="rebuild-confirm"
                                prop:value=move || confirm.get() on:input=move |ev| confirm.set(event_target_value(&ev))/>
                        </label>
                    </div>
                    <button type="button" class="danger" data-testid="rebuild-run"
                        disabled=move || !confirmed() || run.pending().get() || p2.steps.is_empty()
                        on:click=move |_| { run.dispatch(RunRebuild { plan: plan.clone(), confirm: confirm.get() }); }>
                        {move || if run.pending().get() { "Rebuilding…" } else { "Rebuild" }}
                    </button>
                }
                .into_any()
            }
        })
    };
    let result_view = move || {
        run.value().get().map(|r| match r {
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
            Ok(res) => view! {
                <h2>"Result"</h2>
                <p class=if res.ok() { "ok" } else { "error" } role="status" data-testid="rebuild-result">
                    {if res.ok() { "Rebuilt " } else { "Rebuilt with failures: " }} {res.target_server.clone()}
                    " in " {duration_ms(res.duration_ms)} "."
                </p>
                <ol class="rebuild-plan">
                    {res.steps.into_iter().map(|s| view! {
                        <li data-testid="rebuild-step-result" data-status=s.status.clone()>
                            <span class=format!("badge badge-{}", s.status)>{s.status.clone()}</span> " "
                            {if s.step.kind == "globals" { "globals".to_owned() } else { s.step.database.clone() }}
                            " (#" {s.step.backup_id} ", " {duration_ms(s.duration_ms)}
                            {(s.expected_errors > 0).then(|| format!(", {} existing roles left as they were", s.expected_errors))} ")"
                            {s.error.map(|e| view! { <p class="cause small">{e}</p> })}
                            {(!s.warnings.is_empty()).then(|| view! {
                                <ul class="warnings small">{s.warnings.iter().map(|w| view! { <li class="warn">{w.clone()}</li> }).collect_view()}</ul>
                            })}
                        </li>
                    }).collect_view()}
                </ol>
            }
            .into_any(),
        })
    };
    view! {
        <Title text="Rebuild"/>
        <nav class="crumbs">
            <a href="/servers">"Servers"</a> " / "
            <a href=server_href(id)><Transition fallback=|| ()>{move || source_name()}</Transition></a> " /"
        </nav>
        <h1>"Rebuild from backups"</h1>
        <p class="subtitle">
            "Restores this server's newest good globals backup first (so owners and grants find their roles), then each database's newest good backup into a new database of the same name on the target."
        </p>
        <div class="field">
            <label>"Target server"
                <Transition fallback=|| ()>
                    <select data-testid="rebuild-target" on:change=move |ev| { if let Ok(v) = event_target_value(&ev).parse() { target.set(v); } }>
                        {move || servers.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|s| {
                            let sid = s.id;
                            let selected = move || target.get() == sid;
                            view! { <option value=s.id.to_string() selected=selected>{s.name}</option> }
                        }).collect_view()}
                    </select>
                </Transition>
            </label>
        </div>
        <div class="field">
            <label>"Databases (blank: every database with a backup)"
                <input type="text" class="mono" data-testid="rebuild-databases" placeholder="app, billing"
                    prop:value=move || databases.get() on:input=move |ev| databases.set(event_target_value(&ev))/>
            </label>
        </div>
        <div class="form-actions">
            <button type="button" class="primary" data-testid="rebuild-show-plan" disabled=move || make.pending().get() on:click=show_plan>
                "Show the plan"
            </button>
        </div>
        {plan_view}
        {result_view}
    }
}
