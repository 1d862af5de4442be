//! Server side only: the engine from the request's context, engine values to
//! view types, and engine errors to `ServerFnError` with the HTTP status set.

use engine::catalog::{BackupRow, BackupStatus};
use engine::secrets::Secret;
use engine::servers::{Server, ServerInput};
use engine::workers::WorkerStatus;
use engine::{ConnectionReport, Engine};
use http::header::ACCEPT;
use http::request::Parts;
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use super::views::{
    BackupList, BackupState, BackupView, ConnectionView, DatabaseView, LiveBytes, PgDumpView,
    ServerView, WorkerView, WorkersView,
};
use super::API_PREFIX;

/// The engine the server put into this request's context.
pub fn engine() -> Result<Engine, ServerFnError> {
    use_context::<Engine>().ok_or_else(|| {
        set_status(500);
        ServerFnError::new(
            "the backup engine is not available to this request. Fix: the server must provide it \
             with leptos_routes_with_context and handle_server_fns_with_context",
        )
    })
}

/// Maps an engine failure once: its message (which names cause and fix) for
/// the UI, its status for the HTTP response.
pub fn engine_error(e: engine::Error) -> ServerFnError {
    set_status(e.status());
    ServerFnError::new(e.to_string())
}

/// A bad form field, worded like the engine's own validation errors
/// (`field: message`) so the form shows it beside that field.
pub fn field_error(field: &str, message: impl std::fmt::Display) -> ServerFnError {
    set_status(422);
    ServerFnError::new(format!("{field}: {message}"))
}

/// Sets the response status, where that is right:
/// - a server function called with fetch: always;
/// - a plain HTML form post (no JavaScript): never, because the response must
///   stay the redirect back to the page that carries the error in its URL;
/// - a page being server-rendered: only 404, so a missing server is a 404 page
///   while a failing sub-part (an unreachable database) leaves the page 200.
fn set_status(code: u16) {
    let Some(response) = use_context::<ResponseOptions>() else {
        return;
    };
    let Ok(status) = StatusCode::from_u16(code) else {
        return;
    };
    let (is_server_fn_call, is_plain_form_post) = match use_context::<Parts>() {
        Some(parts) => (
            parts.uri.path().starts_with(&format!("{API_PREFIX}/")),
            parts
                .headers
                .get(ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html")),
        ),
        None => (true, false),
    };
    let apply = if is_server_fn_call {
        !is_plain_form_post
    } else {
        status == StatusCode::NOT_FOUND
    };
    if apply {
        response.set_status(status);
    }
}

/// Sets the status of the page being server-rendered.
pub fn set_page_status(code: u16) {
    if let (Some(response), Ok(status)) =
        (use_context::<ResponseOptions>(), StatusCode::from_u16(code))
    {
        response.set_status(status);
    }
}

/// The port field: blank means 5432.
pub fn parse_port(port: &str) -> Result<u16, ServerFnError> {
    let port = port.trim();
    if port.is_empty() {
        return Ok(5432);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(field_error(
            "port",
            format!("{port:?} is not a port number. Fix: enter a number from 1 to 65535 (PostgreSQL's default is 5432)"),
        )),
    }
}

/// The server form as the engine takes it. `password` is `None` to keep the
/// stored one, `Some("")` to clear it.
#[allow(clippy::too_many_arguments)]
pub fn server_input(
    name: String,
    host: String,
    port: &str,
    user: String,
    password: Option<String>,
    sslmode: String,
    maintenance_db: String,
) -> Result<ServerInput, ServerFnError> {
    Ok(ServerInput {
        name,
        host,
        port: parse_port(port)?,
        user,
        password: password.map(Secret::new),
        sslmode,
        maintenance_db,
        // Not in the form yet: `None` keeps what is stored.
        ssl_root_cert: None,
        ssl_client_cert: None,
        ssl_client_key: None,
    })
}

impl From<Server> for ServerView {
    fn from(s: Server) -> Self {
        ServerView {
            id: s.id,
            name: s.name,
            host: s.host,
            port: s.port,
            user: s.user,
            has_password: s.has_password,
            sslmode: s.sslmode,
            maintenance_db: s.maintenance_db,
        }
    }
}

impl From<ConnectionReport> for ConnectionView {
    fn from(r: ConnectionReport) -> Self {
        ConnectionView {
            server_version: r.info.version,
            in_recovery: r.info.in_recovery,
            pg_dump: r.tools.map(|t| PgDumpView {
                path: t.pg_dump().display().to_string(),
                version: t.version,
            }),
        }
    }
}

impl From<engine::pg::DatabaseInfo> for DatabaseView {
    fn from(d: engine::pg::DatabaseInfo) -> Self {
        DatabaseView {
            name: d.name,
            size_bytes: d.size_bytes,
        }
    }
}

impl From<BackupStatus> for BackupState {
    fn from(s: BackupStatus) -> Self {
        match s {
            BackupStatus::Queued => BackupState::Queued,
            BackupStatus::Running => BackupState::Running,
            BackupStatus::Succeeded => BackupState::Succeeded,
            BackupStatus::Failed => BackupState::Failed,
        }
    }
}

/// A backup row, with the live byte counters of a run in progress.
pub fn backup_view(row: BackupRow, live: Option<(u64, u64)>) -> BackupView {
    let state = BackupState::from(row.status());
    BackupView {
        id: row.id,
        server_id: row.server_id,
        server_name: row.server_name,
        database: row.database,
        kind: row.kind,
        state,
        trigger: row.trigger,
        queued_at: row.queued_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        duration_ms: row.duration_ms,
        raw_bytes: row.raw_bytes,
        stored_bytes: row.stored_bytes,
        live: live
            .filter(|_| state.is_active())
            .map(|(raw, stored)| LiveBytes { raw, stored }),
        format: row.format,
        location: row.location,
        pg_dump_version: row.pg_dump_version,
        server_version: row.server_version,
        cause: row.cause,
        stderr_tail: row.stderr_tail,
        scheduled_for: row.scheduled_for,
        late: row.late,
        source_host: row.source_host,
        compression: row.compression,
        warnings: lines(row.warnings.as_deref(), '\n'),
        version_changed: row.version_changed,
        tiers: lines(row.tiers.as_deref(), ','),
        pruned_at: row.pruned_at,
        prune_error: row.prune_error,
        globals: None,
    }
}

/// Non-empty trimmed parts of a catalog list column.
fn lines(s: Option<&str>, sep: char) -> Vec<String> {
    s.unwrap_or_default()
        .split(sep)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Backup rows as listed now; running ones carry their live counters.
pub fn backup_list(engine: &Engine, rows: Vec<BackupRow>) -> BackupList {
    BackupList {
        backups: rows
            .into_iter()
            .map(|row| {
                let live = if row.status().is_active() {
                    engine.progress(row.id)
                } else {
                    None
                };
                backup_view(row, live)
            })
            .collect(),
        listed_at: chrono::Utc::now(),
    }
}

impl From<WorkerStatus> for WorkerView {
    fn from(w: WorkerStatus) -> Self {
        WorkerView {
            name: w.name,
            state: w.state,
            doing: w.doing,
            queued: w.queued,
            last_error: w.last_error,
            last_finished_at: w.last_finished_at,
        }
    }
}

/// Worker states and the destination, for the status bar.
pub fn workers_view(engine: &Engine) -> WorkersView {
    WorkersView {
        workers: engine.workers().into_iter().map(WorkerView::from).collect(),
        destination: engine.destination().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmodes_match_the_engine() {
        assert_eq!(super::super::views::SSLMODES, engine::pg::conn::SSLMODES);
    }

    #[test]
    fn parses_ports() {
        assert_eq!(parse_port("").unwrap(), 5432);
        assert_eq!(parse_port(" 6543 ").unwrap(), 6543);
        for bad in ["0", "65536", "abc", "-1"] {
            let msg = parse_port(bad).unwrap_err().to_string();
            assert!(msg.contains("port: "), "{msg}");
        }
    }

    #[test]
    fn maps_states() {
        for (s, v) in [
            (BackupStatus::Queued, "queued"),
            (BackupStatus::Running, "running"),
            (BackupStatus::Succeeded, "succeeded"),
            (BackupStatus::Failed, "failed"),
        ] {
            assert_eq!(BackupState::from(s).as_str(), v);
            assert_eq!(s.as_str(), v);
        }
    }
}
