//! The destination form: "Add a destination" or a destination's "Edit". A
//! kind selector shows that kind's fields; the secret is never filled from
//! the server (editing: leave it empty to keep the stored one). The input
//! is checked in the browser with the engine's own rules, so a bad field is
//! named beside it before anything is sent.

use leptos::prelude::*;

use crate::destinations::api::{AddDestination, UpdateDestination};
use crate::destinations::draft::{
    secret_is_multiline, secret_label, DestinationDraft, FIELDS, KINDS,
};
use crate::ui::draft_text_field::draft_text_field;
use crate::ui::error_message::{error_text, ErrorMessage};
use crate::ui::field_errors::{general_error, is_about, FieldError};
use model::destination::Destination;

type StrOf = fn(&DestinationDraft) -> &String;
type StrOfMut = fn(&mut DestinationDraft) -> &mut String;

/// A text input bound to one string of the draft, with its error.
#[allow(clippy::too_many_arguments)]
fn text_field(
    draft: RwSignal<DestinationDraft>,
    label: &'static str,
    field: &'static str,
    testid: &'static str,
    get: StrOf,
    set: StrOfMut,
    placeholder: &'static str,
    hint: &'static str,
    error: Signal<Option<String>>,
) -> AnyView {
    let bad = Signal::derive(move || error.get().is_some_and(|m| is_about(&m, field)));
    draft_text_field(
        draft,
        label,
        testid,
        get,
        set,
        placeholder,
        hint,
        bad,
        view! { <FieldError error field/> }.into_any(),
    )
}

/// A checkbox bound to one flag of the draft.
fn check_field(
    draft: RwSignal<DestinationDraft>,
    label: &'static str,
    testid: &'static str,
    get: fn(&DestinationDraft) -> bool,
    set: fn(&mut DestinationDraft) -> &mut bool,
) -> AnyView {
    let initial = draft.with_untracked(get);
    view! {
        <label class="check">
            <input type="checkbox" checked=initial data-testid=testid
                on:change=move |ev| {
                    let v = event_target_checked(&ev);
                    draft.update(|d| *set(d) = v);
                }/>
            " " {label}
        </label>
    }
    .into_any()
}

/// The fields of one kind.
fn kind_fields(
    kind: &str,
    draft: RwSignal<DestinationDraft>,
    error: Signal<Option<String>>,
) -> AnyView {
    match kind {
        "s3" => view! {
            <div class="fields">
                {text_field(draft, "Endpoint", "endpoint", "dest-s3-endpoint", |d| &d.s3_endpoint, |d| &mut d.s3_endpoint,
                    "https://s3.eu-west-1.amazonaws.com", "blank: AWS for the region; R2, Spaces, B2, MinIO: their URL", error)}
                {text_field(draft, "Region", "region", "dest-s3-region", |d| &d.s3_region, |d| &mut d.s3_region,
                    "us-east-1", "us-east-1 where the service has none; auto for R2", error)}
                {text_field(draft, "Bucket", "bucket", "dest-s3-bucket", |d| &d.s3_bucket, |d| &mut d.s3_bucket,
                    "my-backups", "", error)}
                {text_field(draft, "Access key id", "access_key_id", "dest-s3-access-key-id", |d| &d.s3_access_key_id, |d| &mut d.s3_access_key_id,
                    "AKIA…", "", error)}
                {text_field(draft, "Storage class", "storage_class", "dest-s3-storage-class", |d| &d.s3_storage_class, |d| &mut d.s3_storage_class,
                    "STANDARD_IA", "blank: the bucket's default", error)}
            </div>
            {check_field(draft, "Path-style addressing (endpoint/bucket/key: MinIO and most self-hosted servers)", "dest-s3-path-style",
                |d| d.s3_path_style, |d| &mut d.s3_path_style)}
        }
        .into_any(),
        "webdav" => view! {
            <div class="fields">
                {text_field(draft, "WebDAV URL", "url", "dest-dav-url", |d| &d.dav_url, |d| &mut d.dav_url,
                    "https://cloud.example.com/remote.php/dav/files/alice/",
                    "paste the WebDAV URL from Nextcloud/ownCloud's Files settings, e.g. https://cloud.example.com/remote.php/dav/files/alice/", error)}
                {text_field(draft, "User", "username", "dest-dav-username", |d| &d.dav_username, |d| &mut d.dav_username,
                    "alice", "", error)}
            </div>
        }
        .into_any(),
        "sftp" => view! {
            <div class="fields">
                {text_field(draft, "Host", "host", "dest-sftp-host", |d| &d.sftp_host, |d| &mut d.sftp_host,
                    "backup.example.com", "", error)}
                {text_field(draft, "Port", "port", "dest-sftp-port", |d| &d.sftp_port, |d| &mut d.sftp_port,
                    "22", "", error)}
                {text_field(draft, "User", "username", "dest-sftp-username", |d| &d.sftp_username, |d| &mut d.sftp_username,
                    "pgshelf", "logs in with the private key below", error)}
            </div>
            <p class="hint-line muted">"After saving, check the server's host key and trust it: until then pgshelf refuses to connect."</p>
        }
        .into_any(),
        "gcs" => view! {
            <div class="fields">
                {text_field(draft, "Bucket", "bucket", "dest-gcs-bucket", |d| &d.gcs_bucket, |d| &mut d.gcs_bucket,
                    "my-backups", "", error)}
                {text_field(draft, "Endpoint", "endpoint", "dest-gcs-endpoint", |d| &d.gcs_endpoint, |d| &mut d.gcs_endpoint,
                    "", "blank: Google", error)}
            </div>
        }
        .into_any(),
        "azblob" => view! {
            <div class="fields">
                {text_field(draft, "Account", "account", "dest-az-account", |d| &d.az_account, |d| &mut d.az_account,
                    "mystorageaccount", "", error)}
                {text_field(draft, "Container", "container", "dest-az-container", |d| &d.az_container, |d| &mut d.az_container,
                    "backups", "", error)}
                {text_field(draft, "Endpoint", "endpoint", "dest-az-endpoint", |d| &d.az_endpoint, |d| &mut d.az_endpoint,
                    "", "blank: https://<account>.blob.core.windows.net", error)}
            </div>
            {check_field(draft, "SAS token instead of account key", "dest-az-sas", |d| d.az_sas, |d| &mut d.az_sas)}
        }
        .into_any(),
        _ => view! {
            <div class="fields">
                {text_field(draft, "Directory", "path", "dest-local-path", |d| &d.local_path, |d| &mut d.local_path,
                    "/var/backups/pgshelf", "an absolute path on pgshelf's own disk", error)}
            </div>
        }
        .into_any(),
    }
}

/// Add (empty `destination`) or edit a destination. Calls `on_saved` with
/// what the engine stored.
#[component]
pub fn DestinationForm(
    /// The destination being edited; `None` adds one.
    #[prop(optional_no_strip)]
    destination: Option<Destination>,
    #[prop(into)] on_saved: Callback<Destination>,
) -> impl IntoView {
    let adding = destination.is_none();
    let original_name = destination.as_ref().map(|d| d.name.clone());
    let has_secret = destination.as_ref().is_some_and(|d| d.has_secret);
    let draft = RwSignal::new(
        destination
            .as_ref()
            .map(DestinationDraft::of)
            .unwrap_or_else(DestinationDraft::initial),
    );
    let kind = Memo::new(move |_| draft.with(|d| d.kind.clone()));
    let sas = Memo::new(move |_| draft.with(|d| d.az_sas));

    let add = ServerAction::<AddDestination>::new();
    let update = ServerAction::<UpdateDestination>::new();
    let local_error = RwSignal::new(None::<String>);
    let error = Signal::derive(move || {
        local_error.get().or_else(|| {
            let failed = |v: &Option<Result<Destination, ServerFnError>>| {
                v.as_ref().and_then(|r| r.as_ref().err()).map(error_text)
            };
            if adding {
                add.value().with(failed)
            } else {
                update.value().with(failed)
            }
        })
    });
    let general = general_error(error, FIELDS);
    let pending = Signal::derive(move || add.pending().get() || update.pending().get());

    Effect::new(move |_| {
        let saved = if adding {
            add.value().get()
        } else {
            update.value().get()
        };
        if let Some(Ok(d)) = saved {
            on_saved.run(d);
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match draft.get_untracked().input(adding) {
            Err(e) => local_error.set(Some(e)),
            Ok(input) => {
                local_error.set(None);
                match &original_name {
                    None => {
                        add.dispatch(AddDestination { input });
                    }
                    Some(name) => {
                        update.dispatch(UpdateDestination {
                            name: name.clone(),
                            input,
                        });
                    }
                }
            }
        }
    };

    let kind_initial = draft.with_untracked(|d| d.kind.clone());
    let secret_hint = if adding {
        "stored encrypted, never shown again"
    } else if has_secret {
        "changing the endpoint, account or user needs it again"
    } else {
        "none stored"
    };
    let secret_placeholder = if !adding && has_secret {
        "stored — leave empty to keep"
    } else {
        ""
    };
    let secret_invalid = move || {
        if error.get().is_some_and(|m| is_about(&m, "secret")) {
            "true"
        } else {
            "false"
        }
    };
    let on_secret = move |ev: leptos::ev::Event| {
        let v = event_target_value(&ev);
        draft.update(|d| d.secret = v);
    };
    let secret_input = move || {
        let k = kind.get();
        let label = secret_label(&k, sas.get());
        if label.is_empty() {
            return None;
        }
        let input = if secret_is_multiline(&k) {
            view! {
                <textarea rows="5" class="mono small" data-testid="dest-secret" spellcheck="false"
                    autocomplete="off" placeholder=secret_placeholder aria-invalid=secret_invalid
                    on:input=on_secret></textarea>
            }
            .into_any()
        } else {
            view! {
                <input type="password" data-testid="dest-secret" value="" autocomplete="new-password"
                    placeholder=secret_placeholder aria-invalid=secret_invalid on:input=on_secret/>
            }
            .into_any()
        };
        Some(
            view! {
                <label class="field wide">
                    <span class="label">{label}</span>
                    {input}
                    <span class="hint">{secret_hint}</span>
                    <FieldError error field="secret"/>
                </label>
            }
            .into_any(),
        )
    };

    view! {
        <form class="destination-form" data-testid="destination-form" on:submit=on_submit>
            <div class="fields">
                {text_field(draft, "Name", "name", "dest-name", |d| &d.name, |d| &mut d.name,
                    "offsite-s3", "used by policies and the CLI", error)}
                <label class="field">
                    <span class="label">"Kind"</span>
                    <select data-testid="dest-kind" disabled=!adding
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            draft.update(|d| d.kind = v);
                        }>
                        {KINDS.iter().map(|(value, label)| view! {
                            <option value=*value selected=*value == kind_initial>{*label}</option>
                        }).collect_view()}
                    </select>
                    <FieldError error field="kind"/>
                </label>
            </div>
            {move || kind_fields(&kind.get(), draft, error)}
            <div class="fields">
                {text_field(draft, "Root prefix", "root", "dest-root", |d| &d.root, |d| &mut d.root,
                    "pgshelf/prod", "folder inside the bucket or share; blank: its top", error)}
                {text_field(draft, "Concurrency", "concurrency", "dest-concurrency", |d| &d.concurrency, |d| &mut d.concurrency,
                    "4", "parallel part uploads per file (1–16)", error)}
                {secret_input}
            </div>
            {move || general().map(|m| view! { <ErrorMessage message=m/> })}
            <div class="form-actions">
                <button type="submit" class="primary" data-testid="dest-submit" disabled=move || pending.get()>
                    {move || match (pending.get(), adding) {
                        (true, _) => "Saving…",
                        (false, true) => "Add destination",
                        (false, false) => "Save changes",
                    }}
                </button>
            </div>
        </form>
    }
    .into_any()
}
