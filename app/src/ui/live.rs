//! Live updates pushed by the server (`GET /api/events`, server-sent
//! events; `model::live`): [`Live`] is provided once by [`crate::App`] and
//! holds the latest progress snapshot, a counter bumped by every "something
//! changed" notice, and whether the stream is up. Lists call
//! [`refetch_on_change`] instead of polling; running rows show a
//! [`crate::ui::progress_bar::ProgressBar`] fed from [`Live::run`].
//!
//! The `EventSource` itself is browser-only and lives in this module alone
//! (the `hydrate` feature); on the server the signals just keep their
//! initial values. While the stream is down, lists fall back to fetching
//! every [`FALLBACK`] and [`LiveNotice`] says so; whenever it opens (the
//! first time too), every list fetches once: notices may have been missed
//! meanwhile.

use std::time::Duration;

use leptos::prelude::*;
use model::live::{LiveSnapshot, Notice, RunProgress};

use crate::ui::poll::poll_while;

/// How often lists fetch again while the event stream is down.
pub const FALLBACK: Duration = Duration::from_secs(30);

/// The state of the event stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Not opened yet (also: while the server renders).
    Connecting,
    Open,
    /// Failed or lost; the browser retries on its own.
    Down,
}

/// The live state every page shares.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    /// The latest progress snapshot.
    pub snapshot: RwSignal<LiveSnapshot>,
    /// Bumped by every `changed` event (and when the stream comes back).
    pub changes: RwSignal<u64>,
    /// The notices of the latest `changed` event.
    pub last_notices: RwSignal<Vec<Notice>>,
    pub link: RwSignal<Link>,
    /// Set once the stream was opened.
    opened: RwSignal<bool>,
}

impl Live {
    /// Makes the live state and provides it as context; [`Live::connect`]
    /// opens the stream.
    pub fn provide() -> Live {
        let live = Live {
            snapshot: RwSignal::new(LiveSnapshot::default()),
            changes: RwSignal::new(0),
            last_notices: RwSignal::new(Vec::new()),
            link: RwSignal::new(Link::Connecting),
            opened: RwSignal::new(false),
        };
        provide_context(live);
        live
    }

    /// Opens the event stream, once for the page's lifetime (in the
    /// browser; nothing while the server renders). Called by the header of
    /// signed-in pages, since the stream needs a session.
    pub fn connect(self) {
        if !self.opened.get_untracked() {
            self.opened.set(true);
            browser::subscribe(self);
        }
    }

    /// The live state, when an [`crate::App`] provides it.
    pub fn get() -> Option<Live> {
        use_context::<Live>()
    }

    /// Backup `id`'s live progress while it runs in the server's process.
    pub fn run(self, id: i64) -> Signal<Option<RunProgress>> {
        let snapshot = self.snapshot;
        Memo::new(move |_| snapshot.with(|s| s.run(id).cloned())).into()
    }

    /// Whether the stream is down (lists poll slowly then).
    pub fn is_down(self) -> bool {
        self.link.get() == Link::Down
    }
}

/// Calls `refetch` whenever a `changed` event arrives, and every
/// [`FALLBACK`] while the event stream is down. Does nothing without a
/// provided [`Live`] (a component rendered on its own in a test).
pub fn refetch_on_change(refetch: impl Fn() + Clone + 'static) {
    let Some(live) = Live::get() else {
        return;
    };
    let on_change = refetch.clone();
    Effect::new(move |seen: Option<u64>| {
        let n = live.changes.get();
        if seen.is_some_and(|s| s != n) {
            on_change();
        }
        n
    });
    poll_while(move || live.is_down().then_some(FALLBACK), refetch);
}

/// "Live updates disconnected" while the event stream is down.
#[component]
pub fn LiveNotice() -> impl IntoView {
    let live = Live::get();
    let down = move || live.is_some_and(|l| l.is_down());
    view! {
        <Show when=down>
            <span class="live-down" role="status" data-testid="live-down" title="Lists refresh every 30 s until the connection is back">
                "Live updates disconnected"
            </span>
        </Show>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use model::live::{LiveSnapshot, Notice, CHANGED_EVENT, PROGRESS_EVENT};
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{Event, EventSource, MessageEvent};

    use super::{Link, Live};

    /// How soon a refused stream is opened again.
    const RETRY: std::time::Duration = std::time::Duration::from_secs(10);

    /// Adds a listener for `name` that lives as long as the page.
    fn listen(source: &EventSource, name: &str, f: impl FnMut(Event) + 'static) {
        let f = Closure::<dyn FnMut(Event)>::new(f);
        let _ = source.add_event_listener_with_callback(name, f.as_ref().unchecked_ref());
        f.forget();
    }

    fn data(e: &Event) -> Option<String> {
        e.dyn_ref::<MessageEvent>()?.data().as_string()
    }

    /// Opens `/api/events` and feeds `live` from it. The browser
    /// reconnects by itself after a lost connection.
    pub fn subscribe(live: Live) {
        let Ok(source) = EventSource::new(&format!("{}/events", crate::API_PREFIX)) else {
            live.link.set(Link::Down);
            return;
        };
        listen(&source, "open", move |_| {
            live.link.set(Link::Open);
            // Notices may have been missed: while the stream was down, or,
            // on the first open, between the server rendering this page
            // and the stream starting (a run that finished meanwhile).
            live.changes.update(|n| *n += 1);
        });
        let failed = source.clone();
        listen(&source, "error", move |_| {
            live.link.set(Link::Down);
            // Refused (a session that ended, a server that answered with
            // an error): the browser gives up, so try again a little later.
            if failed.ready_state() == EventSource::CLOSED {
                set_timeout(move || subscribe(live), RETRY);
            }
        });
        // `from_slice`, as server functions read their answers: one copy of
        // serde_json's parser in the wasm (see `ui::resource`).
        listen(&source, PROGRESS_EVENT, move |e| {
            if let Some(s) =
                data(&e).and_then(|d| serde_json::from_slice::<LiveSnapshot>(d.as_bytes()).ok())
            {
                live.snapshot.set(s);
            }
        });
        listen(&source, CHANGED_EVENT, move |e| {
            let notices = data(&e)
                .and_then(|d| serde_json::from_slice::<Vec<Notice>>(d.as_bytes()).ok())
                .unwrap_or_default();
            live.last_notices.set(notices);
            live.changes.update(|n| *n += 1);
        });
        // The source lives as long as the page.
        std::mem::forget(source);
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    /// No event stream while the server renders.
    pub fn subscribe(_: super::Live) {}
}
