//! The policy editor: every field of a backup policy, a live preview of
//! what it would do (debounced on change, and on "Preview"), and Save.
//! Read-only when the policy is declared in pgshelf.toml.

use std::time::Duration;

use leptos::prelude::*;

use super::api::PolicyPage;
use super::policy_form::{policy_form, policy_from_form, PolicyForm};
use crate::policies::api::{ClearPolicy, PreviewPolicy, SavePolicy};
use crate::policies::policy_preview::PolicyPreviewPanel;
use crate::policies::storage_fields::StorageFields;
use crate::policies::tier_inputs::{TierInputs, TierSignals};
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::field_errors::{general_error, FieldError};
use crate::ui::timezones::COMMON_TIMEZONES;
use model::policy::{DumpCapabilities, PgDumpAlgorithm};
use model::server::PgDumpChoice;

/// How long after the last change the preview is asked for.
pub const PREVIEW_DEBOUNCE: Duration = Duration::from_millis(400);

/// Fields an error can be shown beside; anything else shows below the form.
const FIELDS: &[&str] = &[
    "schedule",
    "timezone",
    "format",
    "format.jobs",
    "compression",
    "compression.level",
    "selection*",
    "lock_wait_timeout_secs",
    "run_timeout_secs",
    "stall_timeout_secs",
    "retention*",
    "test_restore*",
    "destinations",
    "encryption*",
];

/// One signal per form field.
#[derive(Debug, Clone, Copy)]
struct Fields {
    enabled: RwSignal<bool>,
    schedule: RwSignal<String>,
    timezone: RwSignal<String>,
    format: RwSignal<String>,
    jobs: RwSignal<String>,
    compression: RwSignal<String>,
    level: RwSignal<String>,
    include_schemas: RwSignal<String>,
    exclude_schemas: RwSignal<String>,
    include_tables: RwSignal<String>,
    exclude_tables: RwSignal<String>,
    exclude_table_data: RwSignal<String>,
    serializable_deferrable: RwSignal<bool>,
    lock_wait_timeout_secs: RwSignal<String>,
    run_timeout_secs: RwSignal<String>,
    stall_timeout_secs: RwSignal<String>,
    retention: TierSignals,
    test_restore_enabled: RwSignal<bool>,
    test_restore_cron: RwSignal<String>,
    test_restore_server: RwSignal<String>,
    test_restore_globals: RwSignal<bool>,
    destinations: RwSignal<Vec<String>>,
    recipients: RwSignal<String>,
}

impl Fields {
    fn new(f: &PolicyForm) -> Self {
        let s = |v: &String| RwSignal::new(v.clone());
        Fields {
            enabled: RwSignal::new(f.enabled),
            schedule: s(&f.schedule),
            timezone: s(&f.timezone),
            format: s(&f.format),
            jobs: s(&f.jobs),
            compression: s(&f.compression),
            level: s(&f.level),
            include_schemas: s(&f.include_schemas),
            exclude_schemas: s(&f.exclude_schemas),
            include_tables: s(&f.include_tables),
            exclude_tables: s(&f.exclude_tables),
            exclude_table_data: s(&f.exclude_table_data),
            serializable_deferrable: RwSignal::new(f.serializable_deferrable),
            lock_wait_timeout_secs: s(&f.lock_wait_timeout_secs),
            run_timeout_secs: s(&f.run_timeout_secs),
            stall_timeout_secs: s(&f.stall_timeout_secs),
            retention: TierSignals::new(&f.retention),
            test_restore_enabled: RwSignal::new(f.test_restore_enabled),
            test_restore_cron: s(&f.test_restore_cron),
            test_restore_server: s(&f.test_restore_server),
            test_restore_globals: RwSignal::new(f.test_restore_globals),
            destinations: RwSignal::new(f.destinations.clone()),
            recipients: s(&f.recipients),
        }
    }

    /// The form as typed now (tracked: an effect reading it reruns on change).
    fn get(&self) -> PolicyForm {
        PolicyForm {
            enabled: self.enabled.get(),
            schedule: self.schedule.get(),
            timezone: self.timezone.get(),
            format: self.format.get(),
            jobs: self.jobs.get(),
            compression: self.compression.get(),
            level: self.level.get(),
            include_schemas: self.include_schemas.get(),
            exclude_schemas: self.exclude_schemas.get(),
            include_tables: self.include_tables.get(),
            exclude_tables: self.exclude_tables.get(),
            exclude_table_data: self.exclude_table_data.get(),
            serializable_deferrable: self.serializable_deferrable.get(),
            lock_wait_timeout_secs: self.lock_wait_timeout_secs.get(),
            run_timeout_secs: self.run_timeout_secs.get(),
            stall_timeout_secs: self.stall_timeout_secs.get(),
            retention: self.retention.get(),
            test_restore_enabled: self.test_restore_enabled.get(),
            test_restore_cron: self.test_restore_cron.get(),
            test_restore_server: self.test_restore_server.get(),
            test_restore_globals: self.test_restore_globals.get(),
            destinations: self.destinations.get(),
            recipients: self.recipients.get(),
        }
    }

    fn get_untracked(&self) -> PolicyForm {
        untrack(|| self.get())
    }
}

/// The compression choices: pgshelf's zstd and none always; pg_dump's own
/// methods only when the chosen pg_dump supports them; the current value
/// always (marked when it cannot be checked or is not supported).
fn compression_options(
    caps: &Result<(PgDumpChoice, DumpCapabilities), String>,
    current: &str,
) -> Vec<(&'static str, String)> {
    let mut out = vec![(
        "pgshelf",
        "zstd by pgshelf (multithreaded, any server version)".to_owned(),
    )];
    if let Ok((pg_dump, c)) = caps {
        for (algorithm, label) in [
            (PgDumpAlgorithm::Gzip, "gzip by pg_dump"),
            (PgDumpAlgorithm::Lz4, "lz4 by pg_dump"),
            (PgDumpAlgorithm::Zstd, "zstd by pg_dump"),
        ] {
            if c.supports(algorithm) {
                out.push((algorithm.as_str(), format!("{label} {}", pg_dump.version)));
            }
        }
    }
    out.push(("none", "none (stored as pg_dump writes it)".to_owned()));
    if !out.iter().any(|(v, _)| *v == current) {
        for v in ["gzip", "lz4", "zstd"] {
            if v == current {
                let why = if caps.is_ok() {
                    "not supported by the chosen pg_dump"
                } else {
                    "cannot check now"
                };
                out.push((v, format!("{v} by pg_dump ({why})")));
            }
        }
    }
    out
}

/// The compression levels a method accepts, as a hint.
fn level_hint(method: &str) -> &'static str {
    match method {
        "pgshelf" => "1–19; blank for 3",
        "gzip" => "1–9; blank for 6",
        "lz4" => "1–12; blank for 1",
        "zstd" => "1–22; blank for 3",
        _ => "",
    }
}

/// A text input bound to `sig`, with its label, hint and error.
fn text_field(
    label: &'static str,
    field: &'static str,
    testid: &'static str,
    sig: RwSignal<String>,
    hint: &'static str,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let initial = sig.get_untracked();
    let invalid = move || {
        if error
            .get()
            .is_some_and(|m| crate::ui::field_errors::is_about(&m, field))
        {
            "true"
        } else {
            "false"
        }
    };
    view! {
        <label class="field">
            <span class="label">{label}</span>
            <input type="text" value=initial bind:value=sig data-testid=testid
                autocomplete="off" spellcheck="false" aria-invalid=invalid/>
            <span class="hint">{hint}</span>
            <FieldError error field/>
        </label>
    }
}

/// A textarea of patterns, one per line.
fn patterns_field(
    label: &'static str,
    field: &'static str,
    sig: RwSignal<String>,
    error: Signal<Option<String>>,
) -> impl IntoView {
    let initial = sig.get_untracked();
    view! {
        <label class="field">
            <span class="label">{label}</span>
            <textarea rows="3" bind:value=sig spellcheck="false" data-testid=format!("policy-{}", field.replace("selection.", ""))>
                {initial}
            </textarea>
            <FieldError error field/>
        </label>
    }
}

/// The editor for one policy. `database` `None`: the server default.
/// `reload` is bumped after "Use the server default" so the page loads the
/// inherited policy.
#[component]
pub fn PolicyEditor(
    server_id: i64,
    database: Option<String>,
    page: PolicyPage,
    reload: RwSignal<u64>,
) -> impl IntoView {
    let for_database = database.is_some();
    let form = policy_form(&page.policy);
    let f = Fields::new(&form);
    let source = RwSignal::new(page.source);
    let read_only = Memo::new(move |_| source.get().read_only(for_database));
    let baseline = RwSignal::new(form.clone());
    // A field that does not parse (checked here, before asking the server).
    let local_error = RwSignal::new(None::<String>);
    // The form as a policy, or the first field that does not parse.
    let parsed = move |form: &PolicyForm| match policy_from_form(form) {
        Ok(p) => {
            local_error.set(None);
            Some(p)
        }
        Err(e) => {
            local_error.set(Some(e));
            None
        }
    };

    let preview = ServerAction::<PreviewPolicy>::new();
    let save = ServerAction::<SavePolicy>::new();
    let clear = ServerAction::<ClearPolicy>::new();
    let sent = RwSignal::new(None::<PolicyForm>);

    // Preview shortly after the last change (and once on load).
    {
        let database = database.clone();
        Effect::new(move |_| {
            let form = f.get();
            let database = database.clone();
            if let Ok(timer) = set_timeout_with_handle(
                move || {
                    if let Some(policy) = parsed(&form) {
                        preview.dispatch(PreviewPolicy {
                            server_id,
                            database,
                            policy,
                        });
                    }
                },
                PREVIEW_DEBOUNCE,
            ) {
                on_cleanup(move || timer.clear());
            }
        });
    }
    Effect::new(move |_| {
        if let Some(Ok(new_source)) = save.value().get() {
            source.set(new_source);
            if let Some(form) = sent.get_untracked() {
                baseline.set(form);
            }
        }
    });
    Effect::new(move |_| {
        if clear.value().with(|v| matches!(v, Some(Ok(())))) {
            reload.update(|n| *n += 1);
        }
    });

    let preview_now = {
        let database = database.clone();
        move |_| {
            if let Some(policy) = parsed(&f.get_untracked()) {
                preview.dispatch(PreviewPolicy {
                    server_id,
                    database: database.clone(),
                    policy,
                });
            }
        }
    };
    let on_submit = {
        let database = database.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            if read_only.get_untracked() {
                return;
            }
            let form = f.get_untracked();
            let Some(policy) = parsed(&form) else {
                return;
            };
            sent.set(Some(form));
            save.dispatch(SavePolicy {
                server_id,
                database: database.clone(),
                policy,
            });
        }
    };

    let save_error = Signal::derive(move || {
        local_error.get().or_else(|| {
            save.value()
                .with(|v| v.as_ref().and_then(|r| r.as_ref().err()).map(error_text))
        })
    });
    let general = general_error(save_error, FIELDS);
    let saving = save.pending();
    let dirty = move || f.get() != baseline.get();
    let status = move || {
        if saving.get() {
            return Some(view! { <span class="muted" role="status">"Saving…"</span> }.into_any());
        }
        let saved = save.value().with(|v| matches!(v, Some(Ok(_))));
        if dirty() {
            Some(view! { <span class="tag tag-warn" data-testid="policy-dirty">"unsaved changes"</span> }.into_any())
        } else if saved {
            Some(
                view! { <span class="ok" role="status" data-testid="policy-saved">"Saved."</span> }
                    .into_any(),
            )
        } else {
            None
        }
    };

    let caps = page.capabilities.clone();
    let caps_line = match &page.capabilities {
        Ok((pg_dump, _)) => view! {
            <p class="hint-line muted" data-testid="policy-pg-dump">
                "Compression offered by pg_dump " {pg_dump.version.clone()} " (" <span class="mono">{pg_dump.path.clone()}</span> ")."
            </p>
        }
        .into_any(),
        Err(why) => view! {
            <p class="result warn" data-testid="policy-caps-error">
                "Cannot ask this server's pg_dump what it supports: " {why.clone()}
                " Offering pgshelf's zstd or none until the server answers."
            </p>
        }
        .into_any(),
    };
    let compression_initial = form.compression.clone();
    let options = compression_options(&caps, &compression_initial);

    let presets = page
        .presets
        .iter()
        .map(|(label, expr)| {
            let expr = expr.clone();
            let active_expr = expr.clone();
            let set_expr = expr.clone();
            view! {
                <button type="button" class="preset" data-testid="policy-preset" data-expr=expr
                    class:active=move || f.schedule.get().trim() == active_expr
                    on:click=move |_| f.schedule.set(set_expr.clone())>
                    {label.clone()}
                </button>
            }
        })
        .collect_view();

    let clear_button = {
        let database = database.clone();
        move || {
            let db = database.clone()?;
            source.get().is_removable_override().then(|| {
                let db = db.clone();
                view! {
                    <button type="button" data-testid="policy-use-default"
                        disabled=move || clear.pending().get()
                        on:click=move |_| { clear.dispatch(ClearPolicy { server_id, database: db.clone() }); }>
                        "Use the server default"
                    </button>
                }
            })
        }
    };
    let clear_error = move || {
        clear
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };

    let format_initial = form.format.clone();
    let initial_enabled = form.enabled;
    let initial_serializable = form.serializable_deferrable;
    let initial_test_restore = form.test_restore_enabled;
    let initial_test_globals = form.test_restore_globals;
    let tz_initial = form.timezone.clone();
    let schedule_initial = form.schedule.clone();
    let level_hint_text = move || level_hint(&f.compression.get());
    let destinations = Signal::derive(move || f.destinations.get());
    let recipients = Signal::derive(move || {
        f.recipients
            .with(|r| r.lines().filter(|l| !l.trim().is_empty()).count())
    });

    view! {
        <p class="policy-source">
            "Where it comes from: "
            <span class="tag" data-testid="policy-source" data-read-only=move || read_only.get().to_string()>
                {move || source.get().label(for_database)}
            </span>
            " " {clear_button}
        </p>
        {clear_error}
        <div class="policy-layout">
            <form class="policy-form" data-testid="policy-form" on:submit=on_submit>
                <fieldset disabled=move || read_only.get()>
                    {view! {
                    <label class="check">
                        <input type="checkbox" checked=initial_enabled bind:checked=f.enabled data-testid="policy-enabled"/>
                        " Enabled (scheduled runs happen; “Back up now” always works)"
                    </label>
                    }.into_any()}

                    {view! {
                    <h3>"Schedule"</h3>
                    <div class="presets">{presets}</div>
                    <div class="fields">
                        <label class="field">
                            <span class="label">"Cron expression"</span>
                            <input type="text" value=schedule_initial bind:value=f.schedule data-testid="policy-schedule"
                                class="mono" autocomplete="off" spellcheck="false"
                                aria-invalid=move || if save_error.get().is_some_and(|m| crate::ui::field_errors::is_about(&m, "schedule")) { "true" } else { "false" }/>
                            <span class="hint">"minute hour day-of-month month day-of-week, or @daily, @hourly …"</span>
                            <FieldError error=save_error field="schedule"/>
                        </label>
                        <label class="field">
                            <span class="label">"Time zone"</span>
                            <input type="text" value=tz_initial bind:value=f.timezone list="policy-timezones"
                                data-testid="policy-timezone" autocomplete="off" spellcheck="false"
                                aria-invalid=move || if save_error.get().is_some_and(|m| crate::ui::field_errors::is_about(&m, "timezone")) { "true" } else { "false" }/>
                            <datalist id="policy-timezones">
                                {COMMON_TIMEZONES.iter().map(|z| view! { <option value=*z></option> }).collect_view()}
                            </datalist>
                            <span class="hint">"IANA name; the schedule and the retention calendar use it"</span>
                            <FieldError error=save_error field="timezone"/>
                        </label>
                    </div>
                    }.into_any()}

                    {view! {
                    <h3>"Archive"</h3>
                    <div class="fields">
                        <label class="field">
                            <span class="label">"Format"</span>
                            <select bind:value=f.format data-testid="policy-format">
                                <option value="custom" selected=format_initial == "custom">"custom (-Fc, streamed)"</option>
                                <option value="directory" selected=format_initial == "directory">"directory (-Fd, parallel)"</option>
                            </select>
                            <FieldError error=save_error field="format"/>
                        </label>
                        <Show when=move || f.format.get() == "directory">
                            {text_field("Parallel jobs", "format.jobs", "policy-jobs", f.jobs, "pg_dump -j; about the server's spare cores", save_error)}
                        </Show>
                        <label class="field">
                            <span class="label">"Compression"</span>
                            <select bind:value=f.compression data-testid="policy-compression">
                                {options
                                    .into_iter()
                                    .map(|(value, label)| view! { <option value=value selected=value == compression_initial>{label}</option> })
                                    .collect_view()}
                            </select>
                            <FieldError error=save_error field="compression"/>
                        </label>
                        <Show when=move || f.compression.get() != "none">
                            <label class="field narrow">
                                <span class="label">"Level"</span>
                                <input type="text" inputmode="numeric" value=f.level.get_untracked() bind:value=f.level data-testid="policy-level"/>
                                <span class="hint">{level_hint_text}</span>
                                <FieldError error=save_error field="compression.level"/>
                            </label>
                        </Show>
                    </div>
                    {caps_line}
                    }.into_any()}

                    {view! {
                    <h3>"What to dump"</h3>
                    <p class="hint-line muted">"pg_dump patterns, one per line (" <code>"*"</code> ", " <code>"schema.table"</code> ", double quotes for exact names). Empty: everything."</p>
                    <div class="fields">
                        {patterns_field("Include schemas", "selection.include_schemas", f.include_schemas, save_error)}
                        {patterns_field("Exclude schemas", "selection.exclude_schemas", f.exclude_schemas, save_error)}
                        {patterns_field("Include tables", "selection.include_tables", f.include_tables, save_error)}
                        {patterns_field("Exclude tables", "selection.exclude_tables", f.exclude_tables, save_error)}
                        {patterns_field("Skip data of tables", "selection.exclude_table_data", f.exclude_table_data, save_error)}
                    </div>
                    }.into_any()}

                    {view! {
                    <h3>"Run"</h3>
                    <label class="check">
                        <input type="checkbox" checked=initial_serializable bind:checked=f.serializable_deferrable data-testid="policy-serializable"/>
                        " Serializable deferrable snapshot (waits for a safe moment; for consistency on busy servers)"
                    </label>
                    <div class="fields">
                        {text_field("Lock wait timeout (s)", "lock_wait_timeout_secs", "policy-lock-wait", f.lock_wait_timeout_secs, "blank: wait for locks", save_error)}
                        {text_field("Run timeout (s)", "run_timeout_secs", "policy-run-timeout", f.run_timeout_secs, "blank: no limit", save_error)}
                        {text_field("Stall limit (s)", "stall_timeout_secs", "policy-stall", f.stall_timeout_secs, "fail when no byte moves this long (≥ 10)", save_error)}
                    </div>
                    }.into_any()}

                    {view! {
                    <h3>"Retention"</h3>
                    <TierInputs tiers=f.retention testid_prefix="policy-keep" error=save_error error_field="retention*"/>
                    }.into_any()}

                    {view! {
                    <h3>"Test-restores"</h3>
                    <label class="check">
                        <input type="checkbox" checked=initial_test_restore bind:checked=f.test_restore_enabled data-testid="policy-test-restore-enabled"/>
                        " Prove backups on schedule (the newest good backup restored into scratch and compared; “Test-restore now” always works)"
                    </label>
                    <div class="fields">
                        {text_field("Test-restore schedule", "test_restore.cron", "policy-test-restore-cron", f.test_restore_cron, "cron in the policy's time zone; default quarterly: 0 3 1 1,4,7,10 *", save_error)}
                        {text_field("Restore on server", "test_restore.restore_server", "policy-test-restore-server", f.test_restore_server, "a configured server's name; blank: the backup's own server", save_error)}
                    </div>
                    <label class="check">
                        <input type="checkbox" checked=initial_test_globals bind:checked=f.test_restore_globals data-testid="policy-test-restore-globals"/>
                        " Apply the globals backup first (roles created only if missing)"
                    </label>
                    }.into_any()}

                    <StorageFields destinations=f.destinations recipients=f.recipients error=save_error/>

                    {move || general().map(|m| view! { <ErrorMessage message=m/> })}
                    <div class="form-actions">
                        <button type="submit" class="primary" data-testid="policy-save" disabled=move || saving.get()>
                            "Save policy"
                        </button>
                        <button type="button" data-testid="policy-preview-button" on:click=preview_now>
                            "Preview"
                        </button>
                        {status}
                    </div>
                </fieldset>
            </form>
            <PolicyPreviewPanel preview destinations recipients/>
        </div>
    }
}
