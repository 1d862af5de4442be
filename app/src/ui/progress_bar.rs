//! A running backup's live progress: a bar (read so far against the
//! previous good backup of the same database; moving stripes when there is
//! none) and its figures: bytes read from pg_dump and stored, throughput,
//! elapsed time, time left.

use leptos::prelude::*;
use model::live::{RunPhase, RunProgress};

use crate::ui::format::{duration_ms, human_bytes};

/// The figures in one line: `12.0 MB read · 3.1 MB stored · 4.0 MB/s ·
/// 3 s elapsed · time left about 5 s`.
pub fn figures(p: &RunProgress) -> String {
    let mut parts = vec![
        format!("{} read", human_bytes(p.raw)),
        format!("{} stored", human_bytes(p.stored)),
    ];
    if p.bytes_per_sec > 0 {
        parts.push(format!("{}/s", human_bytes(p.bytes_per_sec)));
    }
    parts.push(format!("{} elapsed", duration_ms(p.elapsed_ms as i64)));
    parts.push(format!("time left {}", p.time_left.text()));
    parts.join(" · ")
}

/// The bar and its figures while `progress` is `Some`; nothing otherwise.
#[component]
pub fn ProgressBar(
    /// The run's live progress.
    #[prop(into)]
    progress: Signal<Option<RunProgress>>,
) -> impl IntoView {
    move || {
        progress.get().map(|p| {
            let percent = p.percent();
            let label = format!("Backup #{} progress", p.backup_id);
            let phase = match p.phase {
                RunPhase::Starting => "Starting (connecting, locking tables)…",
                RunPhase::Dumping => "Dumping",
                RunPhase::Verifying => "Verifying the stored artifact",
            };
            let text = figures(&p);
            let value_text = format!("{phase}: {text}");
            let width = percent.map(|v| format!("width: {v}%")).unwrap_or_default();
            view! {
                <div class="progress" data-testid="progress" data-raw=p.raw.to_string() data-stored=p.stored.to_string() data-phase=p.phase.as_str()>
                    <div
                        class="progress-track"
                        class:indeterminate=percent.is_none()
                        role="progressbar"
                        aria-label=label
                        aria-valuemin="0"
                        aria-valuemax="100"
                        aria-valuenow=percent.map(|v| v.to_string())
                        aria-valuetext=value_text
                    >
                        <div class="progress-fill" style=width></div>
                    </div>
                    <p class="progress-figures small">
                        <span class="progress-phase">{phase}</span>
                        " "
                        <span data-testid="progress-figures">{text}</span>
                    </p>
                </div>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_say_everything_known() {
        let p = RunProgress::new(
            1,
            "s/db".into(),
            RunPhase::Dumping,
            2_000_000,
            500_000,
            2_000,
            Some(4_000_000),
        );
        let t = figures(&p);
        assert!(t.contains("read") && t.contains("stored"), "{t}");
        assert!(t.contains("/s"), "{t}");
        assert!(t.contains("elapsed"), "{t}");
        assert!(t.contains("time left about 2 s"), "{t}");
        let first = RunProgress::new(1, "s/db".into(), RunPhase::Starting, 0, 0, 0, None);
        let t = figures(&first);
        assert!(!t.contains("/s"), "no rate before anything was read: {t}");
        assert!(t.ends_with("time left unknown"), "{t}");
    }
}
