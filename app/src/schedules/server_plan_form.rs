//! The server plan: which databases are backed up on schedule, the globals
//! (`pg_dumpall --globals-only`) schedule and retention, and a standby to
//! read from. Read-only when declared in pgshelf.toml.

use leptos::prelude::*;

use crate::policies::destination_checks::DestinationChecks;
use crate::policies::policy_form::{plan_form, plan_from_form, ServerPlanForm};
use crate::policies::tier_inputs::{TierInputs, TierSignals};
use crate::schedules::api::{get_server_plan, SaveServerPlan};
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::field_errors::{general_error, is_about, FieldError};
use crate::ui::resource::page_resource;
use crate::ui::timezones::COMMON_TIMEZONES;
use model::policy::ServerPlan;

const FIELDS: &[&str] = &[
    "coverage",
    "exclude",
    "globals.schedule",
    "globals.timezone",
    "globals.retention*",
    "globals.destinations",
    "standby",
    "standby_password",
];

#[derive(Debug, Clone, Copy)]
struct Fields {
    coverage: RwSignal<String>,
    databases: RwSignal<String>,
    exclude: RwSignal<String>,
    globals_enabled: RwSignal<bool>,
    globals_schedule: RwSignal<String>,
    globals_timezone: RwSignal<String>,
    no_role_passwords: RwSignal<bool>,
    globals_retention: TierSignals,
    standby_host: RwSignal<String>,
    standby_port: RwSignal<String>,
    /// The server's password, asked when the standby changes.
    standby_password: RwSignal<String>,
    /// Where globals backups go (names; none: `local`).
    globals_destinations: RwSignal<Vec<String>>,
}

impl Fields {
    fn new(f: &ServerPlanForm) -> Self {
        Fields {
            coverage: RwSignal::new(f.coverage.clone()),
            databases: RwSignal::new(f.databases.clone()),
            exclude: RwSignal::new(f.exclude.clone()),
            globals_enabled: RwSignal::new(f.globals_enabled),
            globals_schedule: RwSignal::new(f.globals_schedule.clone()),
            globals_timezone: RwSignal::new(f.globals_timezone.clone()),
            no_role_passwords: RwSignal::new(f.no_role_passwords),
            globals_retention: TierSignals::new(&f.globals_retention),
            standby_host: RwSignal::new(f.standby_host.clone()),
            standby_port: RwSignal::new(f.standby_port.clone()),
            standby_password: RwSignal::new(String::new()),
            globals_destinations: RwSignal::new(f.globals_destinations.clone()),
        }
    }

    fn get_untracked(&self) -> ServerPlanForm {
        untrack(|| ServerPlanForm {
            coverage: self.coverage.get(),
            databases: self.databases.get(),
            exclude: self.exclude.get(),
            globals_enabled: self.globals_enabled.get(),
            globals_schedule: self.globals_schedule.get(),
            globals_timezone: self.globals_timezone.get(),
            no_role_passwords: self.no_role_passwords.get(),
            globals_retention: self.globals_retention.get(),
            standby_host: self.standby_host.get(),
            standby_port: self.standby_port.get(),
            globals_destinations: self.globals_destinations.get(),
        })
    }
}

fn plan_editor(
    server_id: i64,
    plan: ServerPlan,
    declared: bool,
    saved: RwSignal<u64>,
) -> impl IntoView {
    let form = plan_form(&plan);
    let f = Fields::new(&form);
    // A field that does not parse (checked here, before sending).
    let local_error = RwSignal::new(None::<String>);
    let save = ServerAction::<SaveServerPlan>::new();
    Effect::new(move |_| {
        if save.value().with(|v| matches!(v, Some(Ok(())))) {
            saved.update(|n| *n += 1);
        }
    });
    let error = Signal::derive(move || {
        local_error.get().or_else(|| {
            save.value()
                .with(|v| v.as_ref().and_then(|r| r.as_ref().err()).map(error_text))
        })
    });
    let general = general_error(error, FIELDS);
    let invalid = move |field: &'static str| {
        move || {
            if error.get().is_some_and(|m| is_about(&m, field)) {
                "true"
            } else {
                "false"
            }
        }
    };
    let pending = save.pending();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if declared {
            return;
        }
        match plan_from_form(&f.get_untracked()) {
            Ok(plan) => {
                local_error.set(None);
                let password = f.standby_password.get_untracked();
                save.dispatch(SaveServerPlan {
                    server_id,
                    plan,
                    standby_password: (!password.is_empty()).then_some(password),
                });
            }
            Err(e) => local_error.set(Some(e)),
        }
    };
    let (old_host, old_port) = (form.standby_host.clone(), form.standby_port.clone());
    let standby_changed = move || {
        let host = f.standby_host.get();
        !host.trim().is_empty()
            && (host.trim() != old_host.trim() || f.standby_port.get().trim() != old_port.trim())
    };
    let p = form;
    view! {
        {declared.then(|| view! { <p class="tag" data-testid="plan-declared">"declared in pgshelf.toml — read-only"</p> })}
        <form class="plan-form" data-testid="plan-form" on:submit=on_submit>
            <fieldset disabled=declared>
                <div class="fields">
                    <label class="field">
                        <span class="label">"Databases backed up on schedule"</span>
                        <select bind:value=f.coverage data-testid="plan-coverage" aria-invalid=invalid("coverage")>
                            <option value="all" selected=p.coverage == "all">"all (new ones picked up)"</option>
                            <option value="only" selected=p.coverage == "only">"only those listed"</option>
                        </select>
                        <FieldError error field="coverage"/>
                    </label>
                    <Show when=move || f.coverage.get() == "only">
                        <label class="field">
                            <span class="label">"Only these (one per line)"</span>
                            <textarea rows="3" bind:value=f.databases data-testid="plan-databases">{f.databases.get_untracked()}</textarea>
                        </label>
                    </Show>
                    <Show when=move || f.coverage.get() != "only">
                        <label class="field">
                            <span class="label">"Left out (one per line)"</span>
                            <textarea rows="2" bind:value=f.exclude data-testid="plan-exclude" aria-invalid=invalid("exclude")>{f.exclude.get_untracked()}</textarea>
                            <span class="hint">"the templates always are; empty the list to back up postgres too"</span>
                            <FieldError error field="exclude"/>
                        </label>
                    </Show>
                </div>
                <h3>"Globals (roles, tablespaces)"</h3>
                <label class="check">
                    <input type="checkbox" checked=p.globals_enabled bind:checked=f.globals_enabled data-testid="plan-globals-enabled"/>
                    " Back up globals on schedule"
                </label>
                <label class="check">
                    <input type="checkbox" checked=p.no_role_passwords bind:checked=f.no_role_passwords data-testid="plan-no-role-passwords"/>
                    " Without role passwords (" <code>"--no-role-passwords"</code> ", for managed platforms)"
                </label>
                <div class="fields">
                    <label class="field">
                        <span class="label">"Globals schedule"</span>
                        <input type="text" class="mono" value=p.globals_schedule.clone() bind:value=f.globals_schedule
                            data-testid="plan-globals-schedule" aria-invalid=invalid("globals.schedule")/>
                        <span class="hint">"cron expression, e.g. 15 3 * * * (daily 03:15)"</span>
                        <FieldError error field="globals.schedule"/>
                    </label>
                    <label class="field">
                        <span class="label">"Time zone"</span>
                        <input type="text" list="plan-timezones" value=p.globals_timezone.clone() bind:value=f.globals_timezone
                            data-testid="plan-globals-timezone" aria-invalid=invalid("globals.timezone")/>
                        <datalist id="plan-timezones">
                            {COMMON_TIMEZONES.iter().map(|z| view! { <option value=*z></option> }).collect_view()}
                        </datalist>
                        <FieldError error field="globals.timezone"/>
                    </label>
                </div>
                <TierInputs tiers=f.globals_retention testid_prefix="plan-keep" error error_field="globals.retention*"/>
                <h4>"Globals backups are written to"</h4>
                <DestinationChecks selected=f.globals_destinations testid="plan-globals-destinations"/>
                <FieldError error field="globals.destinations"/>
                <h3>"Standby"</h3>
                <div class="fields">
                    <label class="field">
                        <span class="label">"Read database dumps from host"</span>
                        <input type="text" value=p.standby_host.clone() bind:value=f.standby_host placeholder="blank: the primary"
                            data-testid="plan-standby-host" aria-invalid=invalid("standby")/>
                        <span class="hint">"same user and password as the server; globals always come from the primary"</span>
                    </label>
                    <label class="field narrow">
                        <span class="label">"Port"</span>
                        <input type="text" inputmode="numeric" value=p.standby_port.clone() bind:value=f.standby_port placeholder="5432"
                            data-testid="plan-standby-port" aria-invalid=invalid("standby")/>
                    </label>
                </div>
                <FieldError error field="standby"/>
                <Show when=standby_changed>
                    <label class="field">
                        <span class="label">"Server password, to confirm the new standby"</span>
                        <input type="password" bind:value=f.standby_password autocomplete="off"
                            data-testid="plan-standby-password" aria-invalid=invalid("standby_password")/>
                        <span class="hint">"dumps read from the standby with the server's stored password"</span>
                        <FieldError error field="standby_password"/>
                    </label>
                </Show>
                {move || general().map(|m| view! { <ErrorMessage message=m/> })}
                <div class="form-actions">
                    <button type="submit" class="primary" data-testid="plan-save" disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save server plan" }}
                    </button>
                    {move || save.value().with(|v| matches!(v, Some(Ok(())))).then(|| view! { <span class="ok" role="status" data-testid="plan-saved">"Saved."</span> })}
                </div>
            </fieldset>
        </form>
    }
}

/// Loads the plan and shows its form; bumps `saved` after a save.
#[component]
pub fn ServerPlanEditor(server_id: i64, saved: RwSignal<u64>) -> impl IntoView {
    let plan = page_resource(|| (), move |_| get_server_plan(server_id));
    let body = move || {
        plan.get().map(|r| match r {
            Err(e) => view! { <p class="error" role="alert">{error_text(&e)}</p> }.into_any(),
            Ok((p, declared)) => plan_editor(server_id, p, declared, saved).into_any(),
        })
    };
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the server plan…"</p> }>{body}</Transition>
    }
}
