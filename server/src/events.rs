//! `GET /api/events`: live updates as server-sent events, for any signed-in
//! user (viewer and up; the guard refuses anonymous callers with 401 like
//! every `/api/` path).
//!
//! Two event types (`model::live`): `progress`, a [`LiveSnapshot`] sampled
//! from the engine every [`SAMPLE`] and sent when it differs from the last
//! one sent (and once at the start), and `changed`, the notices of runs
//! queued, started, finished or cancelled (a lagging listener gets one
//! notice without a run: "refetch everything"), plus one when a restore,
//! test-restore or copy starts or ends. A comment every [`KEEP_ALIVE`]
//! keeps proxies from closing a quiet stream. The stream ends when the
//! server shuts down, so a graceful stop is not held up by open tabs.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::auth::Caller;
use engine::Engine;
use futures::StreamExt;
use model::live::{task_notices, LiveSnapshot, Notice, NoticeKind, CHANGED_EVENT, PROGRESS_EVENT};
use model::user::Role;
use tokio::sync::{broadcast, watch};

/// The path of the event stream.
pub const PATH: &str = "/api/events";
/// How often the engine's snapshot is sampled.
pub const SAMPLE: Duration = Duration::from_millis(500);
/// How often a comment is sent on a quiet stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What the handler needs: the engine and the server's stop signal.
#[derive(Clone)]
struct Live {
    engine: Engine,
    stop: watch::Receiver<bool>,
    /// A router made without a stop signal keeps its own sender here, so
    /// its streams end only when their clients go away.
    _sender: Option<std::sync::Arc<watch::Sender<bool>>>,
}

/// The `/api/events` route; every stream ends once `stop` turns true (or
/// its sender is dropped). Without `stop`, streams end only when their
/// clients go away.
pub fn routes(
    engine: Engine,
    stop: Option<watch::Receiver<bool>>,
) -> Router<leptos::config::LeptosOptions> {
    let (stop, sender) = match stop {
        Some(rx) => (rx, None),
        None => {
            let (tx, rx) = watch::channel(false);
            (rx, Some(std::sync::Arc::new(tx)))
        }
    };
    Router::new().route(PATH, get(events)).with_state(Live {
        engine,
        stop,
        _sender: sender,
    })
}

async fn events(State(live): State<Live>, req: Request) -> Response {
    let Some(caller) = req.extensions().get::<Caller>() else {
        return (
            StatusCode::UNAUTHORIZED,
            "not signed in. Fix: sign in at /login",
        )
            .into_response();
    };
    if let Err(e) = caller.require(Role::Viewer) {
        return (StatusCode::FORBIDDEN, e.to_string()).into_response();
    }
    let state = Stream {
        notices: live.engine.live_notices(),
        engine: live.engine,
        stop: live.stop,
        tick: tokio::time::interval(SAMPLE),
        last: None,
    };
    let stream = futures::stream::unfold(state, next_events).flat_map(|events| {
        futures::stream::iter(events.into_iter().map(Ok::<_, std::convert::Infallible>))
    });
    let mut resp = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // No buffering by a reverse proxy (nginx), no caching.
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    h.insert("x-accel-buffering", header::HeaderValue::from_static("no"));
    resp
}

struct Stream {
    engine: Engine,
    notices: broadcast::Receiver<Notice>,
    stop: watch::Receiver<bool>,
    tick: tokio::time::Interval,
    /// The snapshot sent last.
    last: Option<LiveSnapshot>,
}

fn changed(notices: &[Notice]) -> Event {
    Event::default()
        .event(CHANGED_EVENT)
        .json_data(notices)
        .unwrap_or_else(|_| Event::default().event(CHANGED_EVENT).data("[]"))
}

/// Resolves once `stop` is true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// The next events to send, or `None` when the server stops.
async fn next_events(mut s: Stream) -> Option<(Vec<Event>, Stream)> {
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut s.stop) => return None,
            n = s.notices.recv() => {
                let mut batch = match n {
                    Ok(n) => vec![n],
                    Err(broadcast::error::RecvError::Lagged(_)) => vec![Notice { kind: NoticeKind::Finished, backup_id: None }],
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                while let Ok(n) = s.notices.try_recv() {
                    batch.push(n);
                }
                return Some((vec![changed(&batch)], s));
            }
            _ = s.tick.tick() => {
                let snap = s.engine.live_snapshot();
                if s.last.as_ref() == Some(&snap) {
                    continue;
                }
                let mut out = Vec::new();
                if let Some(last) = &s.last {
                    let tasks = task_notices(last, &snap);
                    if !tasks.is_empty() {
                        out.push(changed(&tasks));
                    }
                }
                match Event::default().event(PROGRESS_EVENT).json_data(&snap) {
                    Ok(e) => out.push(e),
                    Err(e) => tracing::warn!("cannot encode live progress: {e}"),
                }
                s.last = Some(snap);
                return Some((out, s));
            }
        }
    }
}
