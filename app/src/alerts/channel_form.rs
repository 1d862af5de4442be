//! "Add a channel" (admins): a kind selector showing that kind's fields
//! (Slack: the incoming-webhook URL; webhook: URL and signing secret;
//! email: SMTP host, port, TLS mode, user, password, from, to), the events
//! and the servers it hears about. Checked in the browser with the
//! engine's own rule, every bad field named beside it at once, before
//! anything is sent. The secret is sent once and never comes back.

use leptos::prelude::*;
use model::alert::{AlertKind, Channel};

use crate::alerts::api::AddChannel;
use crate::alerts::draft::{default_port, secret_label, ChannelDraft, FIELDS, KINDS, TLS_MODES};
use crate::servers::api::list_servers;
use crate::ui::draft_text_field::draft_text_field;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::field_errors::is_about;
use crate::ui::resource::page_resource;

type StrOf = fn(&ChannelDraft) -> &String;
type StrOfMut = fn(&mut ChannelDraft) -> &mut String;

/// Every message about `field`, beside it.
fn field_errors(errors: Signal<Vec<String>>, field: &'static str) -> impl IntoView {
    move || {
        errors
            .get()
            .into_iter()
            .filter(|m| is_about(m, field))
            .map(|m| view! { <span class="field-error" data-testid="form-error" role="alert">{m}</span> })
            .collect_view()
    }
}

fn invalid(errors: Signal<Vec<String>>, field: &'static str) -> impl Fn() -> &'static str + Copy {
    move || {
        if errors.with(|e| e.iter().any(|m| is_about(m, field))) {
            "true"
        } else {
            "false"
        }
    }
}

/// A text input bound to one string of the draft, with its errors.
#[allow(clippy::too_many_arguments)]
fn text_field(
    draft: RwSignal<ChannelDraft>,
    label: &'static str,
    field: &'static str,
    testid: &'static str,
    get: StrOf,
    set: StrOfMut,
    placeholder: &'static str,
    hint: &'static str,
    errors: Signal<Vec<String>>,
) -> AnyView {
    let bad = Signal::derive(move || errors.with(|e| e.iter().any(|m| is_about(m, field))));
    draft_text_field(
        draft,
        label,
        testid,
        get,
        set,
        placeholder,
        hint,
        bad,
        field_errors(errors, field).into_any(),
    )
}

/// The secret of the chosen kind: a password input, never filled.
fn secret_field(kind: &str, draft: RwSignal<ChannelDraft>, errors: Signal<Vec<String>>) -> AnyView {
    let initial = draft.with_untracked(|d| d.secret.clone());
    let (hint, placeholder) = match kind {
        "slack" => (
            "Slack: Apps › Incoming Webhooks › the channel's URL. Stored encrypted, never shown again.",
            "https://hooks.slack.com/services/…",
        ),
        "webhook" => (
            "At least 16 characters (e.g. openssl rand -hex 32); give the receiver the same. Each POST carries X-Pgshelf-Signature: sha256=HMAC-SHA256(secret, body). Stored encrypted, never shown again.",
            "",
        ),
        _ => (
            "Only with a user name. Stored encrypted, never shown again.",
            "",
        ),
    };
    view! {
        <label class="field wide">
            <span class="label">{secret_label(kind)}</span>
            <input type="password" value=initial data-testid="alert-secret" autocomplete="new-password"
                placeholder=placeholder aria-invalid=invalid(errors, "secret")
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    draft.update(|d| d.secret = v);
                }/>
            <span class="hint">{hint}</span>
            {field_errors(errors, "secret")}
        </label>
    }
    .into_any()
}

/// The fields of one kind.
fn kind_fields(kind: &str, draft: RwSignal<ChannelDraft>, errors: Signal<Vec<String>>) -> AnyView {
    match kind {
        "slack" => view! { <div class="fields">{secret_field(kind, draft, errors)}</div> }.into_any(),
        "webhook" => view! {
            <div class="fields">
                {text_field(draft, "URL", "url", "alert-url", |d| &d.url, |d| &mut d.url,
                    "https://hooks.example.com/pgshelf", "where the signed JSON is POSTed (https; plain http to 127.0.0.1 only)", errors)}
                {secret_field(kind, draft, errors)}
            </div>
        }
        .into_any(),
        _ => {
            let tls_initial = draft.with_untracked(|d| d.tls.clone());
            let port_hint = move || format!("blank: {}", default_port(&draft.with(|d| d.tls.clone())));
            view! {
                <div class="fields">
                    {text_field(draft, "SMTP host", "host", "alert-host", |d| &d.host, |d| &mut d.host,
                        "smtp.example.com", "", errors)}
                    <label class="field">
                        <span class="label">"Security"</span>
                        <select data-testid="alert-tls" aria-invalid=invalid(errors, "tls")
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                draft.update(|d| d.tls = v);
                            }>
                            {TLS_MODES.iter().map(|(value, label)| view! {
                                <option value=*value selected=*value == tls_initial>{*label}</option>
                            }).collect_view()}
                        </select>
                        {field_errors(errors, "tls")}
                    </label>
                    <label class="field">
                        <span class="label">"Port"</span>
                        <input type="text" inputmode="numeric" data-testid="alert-port"
                            value=draft.with_untracked(|d| d.port.clone())
                            aria-invalid=invalid(errors, "port")
                            on:input=move |ev| {
                                let v = event_target_value(&ev);
                                draft.update(|d| d.port = v);
                            }/>
                        <span class="hint">{port_hint}</span>
                        {field_errors(errors, "port")}
                    </label>
                    {text_field(draft, "User", "username", "alert-username", |d| &d.username, |d| &mut d.username,
                        "", "blank: a relay that needs no sign-in", errors)}
                    {secret_field(kind, draft, errors)}
                    {text_field(draft, "From", "from", "alert-from", |d| &d.from, |d| &mut d.from,
                        "pgshelf@example.com", "", errors)}
                    {text_field(draft, "To", "to", "alert-to", |d| &d.to, |d| &mut d.to,
                        "oncall@example.com, dba@example.com", "one or more, separated by commas", errors)}
                </div>
            }
            .into_any()
        }
    }
}

/// The event checkboxes; "recovered" follows each ticked event.
fn event_checks(draft: RwSignal<ChannelDraft>, errors: Signal<Vec<String>>) -> impl IntoView {
    let checks = AlertKind::ALL
        .into_iter()
        .map(|k| {
            let on = draft.with_untracked(|d| d.events.contains(&k));
            view! {
                <label class="check">
                    <input type="checkbox" checked=on data-testid="alert-event" data-event=k.as_str()
                        on:change=move |ev| {
                            let v = event_target_checked(&ev);
                            draft.update(|d| d.set_event(k, v));
                        }/>
                    " " {k.words()}
                </label>
            }
        })
        .collect_view();
    view! {
        <fieldset class="alert-events" aria-invalid=invalid(errors, "events")>
            <legend>"Events"</legend>
            {checks}
            <label class="check" title="always sent for the events ticked above">
                <input type="checkbox" checked=true disabled=true data-testid="alert-event-recovered"/>
                " Recovered (when a ticked event ends; always on)"
            </label>
            {field_errors(errors, "events")}
        </fieldset>
    }
}

/// All servers, or the chosen ones.
fn server_choice(draft: RwSignal<ChannelDraft>, errors: Signal<Vec<String>>) -> impl IntoView {
    let servers = page_resource(|| (), |_| list_servers());
    let all = Memo::new(move |_| draft.with(|d| d.all_servers));
    let all_initial = draft.with_untracked(|d| d.all_servers);
    let list = move || {
        servers.get().map(|r| match r {
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
            Ok(s) if s.is_empty() => view! { <p class="muted hint-line">"No servers yet: the channel hears about every server added later."</p> }.into_any(),
            Ok(s) => s
                .into_iter()
                .map(|s| {
                    let name = s.name.clone();
                    let on = draft.with_untracked(|d| d.servers.contains(&name));
                    view! {
                        <label class="check">
                            <input type="checkbox" checked=on disabled=move || all.get()
                                data-testid="alert-server" data-name=name.clone()
                                on:change={
                                    let name = name.clone();
                                    move |ev| {
                                        let v = event_target_checked(&ev);
                                        draft.update(|d| d.set_server(&name, v));
                                    }
                                }/>
                            " " {s.name}
                        </label>
                    }
                    .into_any()
                })
                .collect_view()
                .into_any(),
        })
    };
    view! {
        <fieldset class="alert-servers" aria-invalid=invalid(errors, "servers")>
            <legend>"Servers"</legend>
            <label class="check">
                <input type="radio" name="alert-servers" checked=all_initial prop:checked=move || all.get() data-testid="alert-servers-all"
                    on:change=move |_| draft.update(|d| d.all_servers = true)/>
                " All servers (also ones added later)"
            </label>
            <label class="check">
                <input type="radio" name="alert-servers" checked=!all_initial prop:checked=move || !all.get() data-testid="alert-servers-some"
                    on:change=move |_| draft.update(|d| d.all_servers = false)/>
                " Only these:"
            </label>
            <div class="alert-server-list">
                <Transition fallback=|| view! { <span class="muted">"Loading servers…"</span> }>{list}</Transition>
            </div>
            {field_errors(errors, "servers")}
        </fieldset>
    }
}

/// Adds a channel; calls `on_saved` with what the engine stored.
#[component]
pub fn ChannelForm(#[prop(into)] on_saved: Callback<Channel>) -> impl IntoView {
    let draft = RwSignal::new(ChannelDraft::initial());
    let kind = Memo::new(move |_| draft.with(|d| d.kind.clone()));
    let add = ServerAction::<AddChannel>::new();
    let local = RwSignal::new(Vec::<String>::new());
    let errors = Signal::derive(move || {
        let mut e = local.get();
        if e.is_empty() {
            if let Some(Err(err)) = add.value().get() {
                e.push(error_text(&err));
            }
        }
        e
    });
    let general = move || {
        errors
            .get()
            .into_iter()
            .filter(|m| !FIELDS.iter().any(|f| is_about(m, f)))
            .map(|m| view! { <ErrorMessage message=m/> })
            .collect_view()
    };
    let pending = add.pending();
    Effect::new(move |_| {
        if let Some(Ok(c)) = add.value().get() {
            on_saved.run(c);
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match draft.with_untracked(ChannelDraft::input) {
            Err(e) => local.set(e),
            Ok(input) => {
                local.set(Vec::new());
                add.dispatch(AddChannel { input });
            }
        }
    };
    let kind_initial = draft.with_untracked(|d| d.kind.clone());
    view! {
        <form class="channel-form" data-testid="channel-form" on:submit=on_submit novalidate=true>
            <div class="fields">
                {text_field(draft, "Name", "name", "alert-name", |d| &d.name, |d| &mut d.name,
                    "ops-slack", "letters, digits, '-', '_' or '.'", errors)}
                <label class="field">
                    <span class="label">"Kind"</span>
                    <select data-testid="alert-kind"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            draft.update(|d| d.kind = v);
                        }>
                        {KINDS.iter().map(|(value, label)| view! {
                            <option value=*value selected=*value == kind_initial>{*label}</option>
                        }).collect_view()}
                    </select>
                    {field_errors(errors, "kind")}
                </label>
            </div>
            {move || kind_fields(&kind.get(), draft, errors)}
            <div class="alert-filters">
                {event_checks(draft, errors)}
                {server_choice(draft, errors)}
            </div>
            {general}
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="alert-submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Adding…" } else { "Add channel" }}
                </button>
                <span class="muted small">"Then press Send test on its row."</span>
            </div>
        </form>
    }
}
