//! Client-side polling: refetch something again after a while, for as long
//! as there is a reason to.

use std::time::Duration;

use leptos::prelude::*;

/// Whenever `period()` is `Some(d)`, calls `refetch` once after `d`.
/// `period` is tracked: when what it reads changes (typically the resource
/// that `refetch` reloads), the pending timer is dropped and `period` asked
/// again, so polling continues while it returns `Some` and stops when it
/// returns `None`. Runs in the browser only (effects do not run while the
/// server renders), and the timer is cleared when the component goes away.
pub fn poll_while(
    period: impl Fn() -> Option<Duration> + 'static,
    refetch: impl Fn() + Clone + 'static,
) {
    Effect::new(move |_| {
        if let Some(after) = period() {
            let refetch = refetch.clone();
            if let Ok(timer) = set_timeout_with_handle(refetch, after) {
                on_cleanup(move || timer.clear());
            }
        }
    });
}
