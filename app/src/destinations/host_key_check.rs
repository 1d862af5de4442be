//! "Check host key" for an SFTP destination whose server key is not yet
//! trusted: asks the server for its key, shows the fingerprint to compare
//! with the server's own (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`),
//! and "Trust this key" stores it.

use leptos::prelude::*;

use crate::destinations::api::{ScanHostKey, TrustHostKey};
use crate::ui::error_message::{error_text, ErrorMessage};

/// The scan button, then the fingerprint with "Trust this key". Bumps
/// `changed` once the key is trusted.
#[component]
pub fn HostKeyCheck(name: String, changed: RwSignal<u64>) -> impl IntoView {
    let scan = ServerAction::<ScanHostKey>::new();
    let trust = ServerAction::<TrustHostKey>::new();
    Effect::new(move |_| {
        if trust.value().with(|v| matches!(v, Some(Ok(_)))) {
            changed.update(|n| *n += 1);
        }
    });
    let scan_name = name.clone();
    let seen = move || {
        let trust_name = name.clone();
        scan.value().get().map(|r| match r {
            Err(e) => view! { <ErrorMessage message=error_text(&e)/> }.into_any(),
            Ok(k) => {
                let key = k.key.clone();
                view! {
                    <div class="result warn" data-testid="host-key">
                        <p>"The server presents this key. Compare the fingerprint with the server's own before trusting it:"</p>
                        <p class="mono" data-testid="host-key-fingerprint">{k.fingerprint.clone()}</p>
                        <p class="mono small muted">{k.key.clone()}</p>
                        <button type="button" class="primary" data-testid="host-key-trust"
                            disabled=move || trust.pending().get()
                            on:click=move |_| {
                                trust.dispatch(TrustHostKey { name: trust_name.clone(), key: key.clone() });
                            }>
                            "Trust this key"
                        </button>
                    </div>
                }
                .into_any()
            }
        })
    };
    let trust_error = move || {
        trust
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <ErrorMessage message=error_text(&e)/> })
    };
    view! {
        <div class="host-key-check">
            <button type="button" data-testid="host-key-scan" disabled=move || scan.pending().get()
                on:click=move |_| {
                    scan.dispatch(ScanHostKey { name: scan_name.clone() });
                }>
                {move || if scan.pending().get() { "Asking the server…" } else { "Check host key" }}
            </button>
            {seen}
            {trust_error}
        </div>
    }
}
