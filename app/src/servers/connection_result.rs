//! The outcome of a connection test, in one line a DBA can act on.

use leptos::prelude::*;

use model::server::ConnectionReport;

/// `PostgreSQL 18.0 — will dump with pg_dump 18.0 (/path/pg_dump)`; a warning
/// when the server answers but no suitable pg_dump is installed; the
/// connection error otherwise.
#[component]
pub fn ConnectionResult(result: Result<ConnectionReport, String>) -> impl IntoView {
    let (class, text) = match result {
        Ok(c) => {
            let standby = if c.in_recovery { " (standby)" } else { "" };
            match c.pg_dump {
                Ok(d) => (
                    "result ok",
                    format!(
                        "PostgreSQL {}{standby} — will dump with pg_dump {} ({})",
                        c.server_version, d.version, d.path
                    ),
                ),
                Err(why) => (
                    "result warn",
                    format!(
                        "PostgreSQL {}{standby} — connected, but backups cannot run: {why}",
                        c.server_version
                    ),
                ),
            }
        }
        Err(message) => ("result error", message),
    };
    view! {
        <p class=class data-testid="connection-result" role="status">
            {text}
        </p>
    }
}
